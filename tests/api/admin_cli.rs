//! `starling admin create-user` and `set-role`, run as the real binary.

use std::process::Command;

use crate::helpers::*;

fn admin(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_starling"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STARLING__STORAGE__PATH", dir)
        .env("STARLING__LOG__FILTER", "warn")
        .arg("admin")
        .args(args)
        .output()
        .unwrap()
}

#[actix_web::test]
async fn admin_commands_create_users_and_set_roles() {
    let dir = tempfile::tempdir().unwrap();
    let out = admin(
        dir.path(),
        &[
            "create-user",
            "--username",
            "root_user",
            "--email",
            "root@example.com",
            "--password",
            PASSWORD,
            "--role",
            "admin",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        admin(dir.path(), &["create-user", "--username", "mod", "--email", "mod@example.com", "--password", PASSWORD]);
    assert!(out.status.success());
    let out = admin(dir.path(), &["set-role", "mod", "moderator"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Bad input is a clear error and a failure exit.
    let out =
        admin(dir.path(), &["create-user", "--username", "mod", "--email", "x@example.com", "--password", PASSWORD]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already taken"));
    let out = admin(dir.path(), &["set-role", "mod", "emperor"]);
    assert!(!out.status.success());
    let out = admin(dir.path(), &["set-role", "ghost", "admin"]);
    assert!(!out.status.success());

    let mut settings = test_settings(dir.path());
    settings.server.port = 0;
    let app = spawn_with(|s| *s = settings.clone()).await;
    let root = app.login("root_user").await;
    let me = ok_json(app.me(root["access_token"].as_str().unwrap()).await).await;
    assert_eq!(me["role"]["name"], "Admin");
    let moderator = app.login("mod").await;
    let me = ok_json(app.me(moderator["access_token"].as_str().unwrap()).await).await;
    assert_eq!(me["role"]["name"], "Moderator");
    assert_eq!(me["roles"][0]["name"], "Moderator");
}
