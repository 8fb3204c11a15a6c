use reqwest::multipart;
use serde_json::json;

use crate::helpers::*;

const ACCOUNT_FIELDS: &[&str] = &[
    "id",
    "username",
    "acct",
    "display_name",
    "locked",
    "bot",
    "discoverable",
    "group",
    "created_at",
    "note",
    "url",
    "uri",
    "avatar",
    "avatar_static",
    "header",
    "header_static",
    "followers_count",
    "following_count",
    "statuses_count",
    "last_status_at",
    "emojis",
    "fields",
    "noindex",
    "indexable",
    "roles",
    "hide_collections",
];

#[actix_web::test]
async fn registration_returns_a_token_and_a_complete_credential_account() {
    let app = spawn_app().await;
    let token = app.register("alice").await;
    let me = ok_json(app.me(&token).await).await;
    for field in ACCOUNT_FIELDS {
        assert!(me.get(field).is_some(), "missing {field}: {me}");
    }
    assert_eq!(me["username"], "alice");
    assert_eq!(me["acct"], "alice");
    assert!(me["id"].is_string());
    assert_eq!(me["source"]["privacy"], "public");
    assert_eq!(me["source"]["note"], "");
    assert_eq!(me["role"]["id"], "-99");
    let created = me["created_at"].as_str().unwrap();
    assert_eq!(created.len(), 24, "{created}");
    assert!(created.ends_with('Z') && created.as_bytes()[19] == b'.', "{created}");
    // The default avatar the entity points at is served.
    let avatar = app.client.get(me["avatar"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(avatar.status(), 200);
    assert_eq!(avatar.headers()["content-type"], "image/png");
    assert!(avatar.bytes().await.unwrap().starts_with(b"\x89PNG"));
}

#[actix_web::test]
async fn registration_validates_and_keeps_names_unique() {
    let app = spawn_app().await;
    app.register("alice").await;
    let client = app.create_app("read write").await;
    let token = app.app_token(&client, "read write").await;
    let register = |u: &'static str, e: &'static str, p: &'static str, agree: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.post_form(
                "/api/v1/accounts",
                Some(&token),
                &[("username", u), ("email", e), ("password", p), ("agreement", agree), ("locale", "en")],
            )
            .await
        }
    };
    let body = json_with(register("ALICE", "other@example.com", PASSWORD, "1").await, 422).await;
    assert_eq!(body["details"]["username"][0]["error"], "ERR_TAKEN");
    let body = json_with(register("bob", "Alice@Example.com", PASSWORD, "1").await, 422).await;
    assert_eq!(body["details"]["email"][0]["error"], "ERR_TAKEN");
    let body = json_with(register("bad-name", "x@example.com", "short", "0").await, 422).await;
    assert!(body["error"].as_str().unwrap().starts_with("Validation failed: "), "{body}");
    assert_eq!(body["details"]["username"][0]["error"], "ERR_INVALID");
    assert_eq!(body["details"]["password"][0]["error"], "ERR_TOO_SHORT");
    assert_eq!(body["details"]["agreement"][0]["error"], "ERR_ACCEPTED");
    let long = "a".repeat(31);
    let res = app
        .post_form(
            "/api/v1/accounts",
            Some(&token),
            &[("username", &long), ("email", "l@example.com"), ("password", PASSWORD), ("agreement", "1")],
        )
        .await;
    assert_eq!(json_with(res, 422).await["details"]["username"][0]["error"], "ERR_TOO_LONG");
    // No token at all: 401.
    let res = app.post_form("/api/v1/accounts", None, &[("username", "carol")]).await;
    json_with(res, 401).await;
    // A long passphrase is fine.
    let res = app
        .post_json(
            "/api/v1/accounts",
            Some(&token),
            &json!({"username": "carol", "email": "carol@example.com", "password": "x".repeat(200), "agreement": true}),
        )
        .await;
    ok_json(res).await;
}

#[actix_web::test]
async fn closed_registrations_are_refused() {
    let app = spawn_with(|s| s.instance.registrations_open = false).await;
    let client = app.create_app("read write").await;
    let token = app.app_token(&client, "read write").await;
    let res = app
        .post_form(
            "/api/v1/accounts",
            Some(&token),
            &[("username", "x"), ("email", "x@example.com"), ("password", PASSWORD), ("agreement", "1")],
        )
        .await;
    json_with(res, 403).await;
    let v2 = ok_json(app.get("/api/v2/instance", None).await).await;
    assert_eq!(v2["registrations"]["enabled"], false);
}

#[actix_web::test]
async fn lookup_and_get_by_id() {
    let app = spawn_app().await;
    let token = app.register("Dora").await;
    let me = ok_json(app.me(&token).await).await;
    let id = me["id"].as_str().unwrap();
    for acct in ["dora", "@Dora", "dora@localhost:8080"] {
        let found = ok_json(app.get(&format!("/api/v1/accounts/lookup?acct={}", urlencode(acct)), None).await).await;
        assert_eq!(found["id"], id, "{acct}");
        assert!(found.get("source").is_none(), "public entity must not carry source");
    }
    for acct in ["nobody", "dora@elsewhere.example", "", "bad name"] {
        let res = app.get(&format!("/api/v1/accounts/lookup?acct={}", urlencode(acct)), None).await;
        assert_eq!(json_with(res, 404).await["error"], "Record not found");
    }
    let found = ok_json(app.get(&format!("/api/v1/accounts/{id}"), None).await).await;
    assert_eq!(found["username"], "Dora");
    for bad in ["123", "abc", "-1", "99999999999999999999999"] {
        json_with(app.get(&format!("/api/v1/accounts/{bad}"), None).await, 404).await;
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'_' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[actix_web::test]
async fn update_credentials_from_form_json_and_multipart() {
    let app = spawn_app().await;
    let token = app.register("erin").await;
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .form(&[("display_name", "Erin E."), ("note", "<b>hi</b>\nthere"), ("locked", "1"), ("bot", "0")])
        .send()
        .await
        .unwrap();
    let me = ok_json(res).await;
    assert_eq!(me["display_name"], "Erin E.");
    assert_eq!(me["locked"], true);
    assert_eq!(me["bot"], false);
    assert_eq!(me["source"]["note"], "<b>hi</b>\nthere");
    assert!(me["note"].as_str().unwrap().starts_with("<p>&lt;b&gt;hi"), "{}", me["note"]);
    assert!(me["note"].as_str().unwrap().contains("<br />"));

    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .json(&json!({"display_name": "E", "discoverable": false, "bot": true}))
        .send()
        .await
        .unwrap();
    let me = ok_json(res).await;
    assert_eq!(
        (me["display_name"].as_str(), me["discoverable"].as_bool(), me["bot"].as_bool()),
        (Some("E"), Some(false), Some(true))
    );

    // Multipart, as masto.js sends it, with fields we do not support yet (ignored).
    let form = multipart::Form::new()
        .text("display_name", "Multi")
        .text("fields_attributes[0][name]", "site")
        .text("fields_attributes[0][value]", "example.com")
        .text("source[privacy]", "unlisted")
        .part("avatar", multipart::Part::bytes(vec![0u8, 1, 2, 3]).file_name("a.png").mime_str("image/png").unwrap());
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(res).await["display_name"], "Multi");

    // Too long → 422 with details; nothing changes.
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .json(&json!({"display_name": "x".repeat(31), "note": "y".repeat(501)}))
        .send()
        .await
        .unwrap();
    let body = json_with(res, 422).await;
    assert_eq!(body["details"]["display_name"][0]["error"], "ERR_TOO_LONG");
    assert_eq!(body["details"]["note"][0]["error"], "ERR_TOO_LONG");
    assert_eq!(ok_json(app.me(&token).await).await["display_name"], "Multi");
}

/// RELIABILITY 14: extra fields never change stored values.
#[actix_web::test]
async fn mass_assignment_is_ignored() {
    let app = spawn_app().await;
    let token = app.register("frank").await;
    let before = ok_json(app.me(&token).await).await;
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .json(&json!({
            "id": "1", "account_id": "1", "username": "root", "role": "admin", "followers_count": 1000,
            "created_at": "2000-01-01T00:00:00.000Z", "email": "evil@example.com", "display_name": "F"
        }))
        .send()
        .await
        .unwrap();
    let after = ok_json(res).await;
    for field in ["id", "username", "followers_count", "created_at", "role"] {
        assert_eq!(after[field], before[field], "{field} changed");
    }
    assert_eq!(after["display_name"], "F");
    // The e-mail did not move either: logging in with the old one still works.
    let client = app.create_app("read").await;
    app.password_token(&client, "frank@example.com", "read").await;
}

#[actix_web::test]
async fn users_delete_their_own_account() {
    let app = spawn_app().await;
    let token = app.register("gina").await;
    let (fan, _) = app.user("fan").await;
    let other = app.login("gina").await["access_token"].as_str().unwrap().to_owned();
    let gina_id = ok_json(app.me(&token).await).await["id"].as_str().unwrap().to_owned();
    app.follow(&fan, &gina_id).await;
    let post = app.say(&token, "soon gone").await;
    crate::statuses::eventually_home(&app, &fan, &[&post]).await;
    let id = ok_json(app.me(&token).await).await["id"].as_str().unwrap().to_owned();
    let res = app
        .client
        .delete(app.url("/api/v1/accounts/me"))
        .bearer_auth(&token)
        .json(&json!({"password": "wrong password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_with(res, 422).await["details"]["password"][0]["error"], "ERR_INVALID");
    json_with(app.client.delete(app.url("/api/v1/accounts/me")).send().await.unwrap(), 401).await;
    let res = app
        .client
        .delete(app.url("/api/v1/accounts/me"))
        .bearer_auth(&token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    ok_json(res).await;
    // Every session ended, the account is gone, the name stays reserved, the e-mail is free.
    json_with(app.me(&token).await, 401).await;
    json_with(app.me(&other).await, 401).await;
    json_with(app.get(&format!("/api/v1/accounts/{id}"), None).await, 404).await;
    json_with(app.get("/api/v1/accounts/lookup?acct=gina", None).await, 404).await;
    // Their posts and follows went with them.
    json_with(app.get(&format!("/api/v1/statuses/{post}"), None).await, 404).await;
    assert!(app.page_ids("/api/v1/timelines/public", None).await.is_empty());
    assert!(app.page_ids("/api/v1/timelines/home", Some(&fan)).await.is_empty());
    assert_eq!(ok_json(app.me(&fan).await).await["following_count"], 0);
    let client = app.create_app("read write").await;
    let app_token = app.app_token(&client, "read write").await;
    let res = app
        .post_form(
            "/api/v1/accounts",
            Some(&app_token),
            &[("username", "gina"), ("email", "new@example.com"), ("password", PASSWORD), ("agreement", "1")],
        )
        .await;
    assert_eq!(json_with(res, 422).await["details"]["username"][0]["error"], "ERR_TAKEN");
    let res = app
        .post_form(
            "/api/v1/accounts",
            Some(&app_token),
            &[("username", "gina2"), ("email", "gina@example.com"), ("password", PASSWORD), ("agreement", "1")],
        )
        .await;
    ok_json(res).await;
}

#[actix_web::test]
async fn scopes_are_enforced() {
    let app = spawn_app().await;
    app.register("hal").await;
    let client = app.create_app("read write profile").await;
    let read_only = app.password_token(&client, "hal", "read").await;
    ok_json(app.me(&read_only).await).await;
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&read_only)
        .form(&[("note", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(json_with(res, 403).await["error"], "This action is outside the authorized scopes");
    let profile = app.password_token(&client, "hal", "profile").await;
    ok_json(app.me(&profile).await).await;
    let granular = app.password_token(&client, "hal", "write:accounts").await;
    json_with(app.me(&granular).await, 403).await;
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&granular)
        .form(&[("note", "x")])
        .send()
        .await
        .unwrap();
    ok_json(res).await;
    // An app-only token cannot act as a user.
    let app_only = app.app_token(&client, "read").await;
    let body = json_with(app.me(&app_only).await, 422).await;
    assert_eq!(body["error"], "This method requires an authenticated user");
    // Registration needs write:accounts.
    let res = app
        .post_form(
            "/api/v1/accounts",
            Some(&app_only),
            &[("username", "ivy"), ("email", "ivy@example.com"), ("password", PASSWORD), ("agreement", "1")],
        )
        .await;
    json_with(res, 403).await;
}
