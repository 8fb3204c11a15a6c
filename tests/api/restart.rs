//! Accounts, sessions and the signing key survive a restart; revoked stays revoked.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn state_survives_a_restart() {
    let app = spawn_app().await;
    let oauth_token = app.register("oli").await;
    let client = app.create_app("read write").await;
    let login = app.login("oli").await;
    let revoked = app.login("oli").await;
    let revoked_token = revoked["access_token"].as_str().unwrap().to_owned();
    ok_json(app.post_json("/api/v1/auth/logout", Some(&revoked_token), &json!({})).await).await;
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&oauth_token)
        .form(&[("display_name", "Oli")])
        .send()
        .await
        .unwrap();
    ok_json(res).await;
    let jwks_before = ok_json(app.get("/.well-known/jwks.json", None).await).await;

    let app = app.restart().await;

    assert_eq!(ok_json(app.get("/.well-known/jwks.json", None).await).await, jwks_before);
    let me = ok_json(app.me(&oauth_token).await).await;
    assert_eq!(me["display_name"], "Oli");
    ok_json(app.me(login["access_token"].as_str().unwrap()).await).await;
    json_with(app.me(&revoked_token).await, 401).await;
    json_with(
        app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": revoked["refresh_token"]})).await,
        401,
    )
    .await;
    let renewed =
        ok_json(app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": login["refresh_token"]})).await)
            .await;
    ok_json(app.me(renewed["access_token"].as_str().unwrap()).await).await;
    // The app's credentials still work, and the username is still taken.
    app.password_token(&client, "oli", "read").await;
    let app_token = app.app_token(&client, "read write").await;
    let res = app
        .post_form(
            "/api/v1/accounts",
            Some(&app_token),
            &[("username", "OLI"), ("email", "o2@example.com"), ("password", PASSWORD), ("agreement", "1")],
        )
        .await;
    json_with(res, 422).await;
    // New ids stay above the old ones.
    let new_token = app.register("pat").await;
    let new_id: u64 = ok_json(app.me(&new_token).await).await["id"].as_str().unwrap().parse().unwrap();
    assert!(new_id > me["id"].as_str().unwrap().parse::<u64>().unwrap());
}
