use serde_json::{Value, json};

use crate::helpers::*;

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/refresh", None, &json!({"refresh_token": token})).await
}

#[actix_web::test]
async fn login_by_username_or_email_with_uniform_failures() {
    let app = spawn_app().await;
    app.register("eve").await;
    let by_name = app.login("eve").await;
    assert_eq!(by_name["expires_in"], 900);
    assert!(by_name["refresh_token"].is_string());
    ok_json(app.me(by_name["access_token"].as_str().unwrap()).await).await;
    let by_email = app.login("EVE@example.com").await;
    ok_json(app.me(by_email["access_token"].as_str().unwrap()).await).await;
    let wrong = app.post_json("/api/v1/auth/login", None, &json!({"username": "eve", "password": "nope nope"})).await;
    let unknown = app.post_json("/api/v1/auth/login", None, &json!({"username": "zed", "password": "nope nope"})).await;
    let (wrong, unknown) = (json_with(wrong, 401).await, json_with(unknown, 401).await);
    assert_eq!(wrong, unknown);
    json_with(app.post_json("/api/v1/auth/login", None, &json!({})).await, 401).await;
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    app.register("fay").await;
    let first = app.login("fay").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second = ok_json(refresh(&app, r1).await).await;
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    let access2 = second["access_token"].as_str().unwrap();
    ok_json(app.me(access2).await).await;
    assert_eq!(second["session_id"], first["session_id"]);
    // r1 again: theft detected, the whole family (session) dies.
    json_with(refresh(&app, r1).await, 401).await;
    json_with(app.me(access2).await, 401).await;
    json_with(refresh(&app, r2).await, 401).await;
    // Garbage and access tokens are not refresh tokens.
    json_with(refresh(&app, "garbage").await, 401).await;
    json_with(refresh(&app, access2).await, 401).await;
}

#[actix_web::test]
async fn two_concurrent_refreshes_exactly_one_wins() {
    let app = spawn_app().await;
    app.register("gus").await;
    for _ in 0..5 {
        let login = app.login("gus").await;
        let token = login["refresh_token"].as_str().unwrap();
        let (a, b) = futures_util::join!(refresh(&app, token), refresh(&app, token));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 401]);
    }
}

#[actix_web::test]
async fn sessions_are_listed_and_ended() {
    let app = spawn_app().await;
    let oauth_token = app.register("hub").await;
    let login = app.login("hub").await;
    let token = login["access_token"].as_str().unwrap();
    let res = app
        .client
        .get(app.url("/api/v1/auth/sessions"))
        .bearer_auth(token)
        .header("user-agent", "starling-tests/1")
        .send()
        .await
        .unwrap();
    let list: Vec<Value> = serde_json::from_value(ok_json(res).await).unwrap();
    assert_eq!(list.len(), 2);
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], login["session_id"]);
    for s in &list {
        for field in ["id", "created_at", "last_used_at", "client", "user_agent", "ip", "current"] {
            assert!(s.get(field).is_some(), "{field}: {s}");
        }
        assert_eq!(s["ip"], "127.0.0.1");
    }
    // Another user cannot end my session: 404, and it still works.
    let intruder = app.register("ivo").await;
    let mine = login["session_id"].as_str().unwrap();
    let res = app
        .client
        .delete(app.url(&format!("/api/v1/auth/sessions/{mine}")))
        .bearer_auth(&intruder)
        .send()
        .await
        .unwrap();
    json_with(res, 404).await;
    ok_json(app.me(token).await).await;
    json_with(
        app.client.delete(app.url("/api/v1/auth/sessions/notanid")).bearer_auth(token).send().await.unwrap(),
        404,
    )
    .await;
    // Ending the OAuth session from the first-party one.
    let other = list.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    ok_json(
        app.client.delete(app.url(&format!("/api/v1/auth/sessions/{other}"))).bearer_auth(token).send().await.unwrap(),
    )
    .await;
    json_with(app.me(&oauth_token).await, 401).await;
    ok_json(app.me(token).await).await;
}

#[actix_web::test]
async fn logout_and_logout_all() {
    let app = spawn_app().await;
    let oauth_token = app.register("jo").await;
    let a = app.login("jo").await;
    let b = app.login("jo").await;
    let a_token = a["access_token"].as_str().unwrap();
    ok_json(app.post_json("/api/v1/auth/logout", Some(a_token), &json!({})).await).await;
    json_with(app.me(a_token).await, 401).await;
    json_with(refresh(&app, a["refresh_token"].as_str().unwrap()).await, 401).await;
    let b_token = b["access_token"].as_str().unwrap();
    ok_json(app.me(&oauth_token).await).await;
    let body = ok_json(app.post_json("/api/v1/auth/logout_all", Some(b_token), &json!({})).await).await;
    assert_eq!(body["revoked"], 2);
    json_with(app.me(b_token).await, 401).await;
    json_with(app.me(&oauth_token).await, 401).await;
}

#[actix_web::test]
async fn expired_sessions_are_swept() {
    let app = spawn_with(|s| {
        s.auth.access_token_ttl_secs = 1;
        s.auth.refresh_token_ttl_secs = 1;
        s.auth.session_sweep_interval_secs = 1;
    })
    .await;
    app.register("kai").await;
    let login = app.login("kai").await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    ok_json(app.me(&token).await).await;
    // Wait (bounded) until the session has expired and the sweeper removed it.
    let oauth = app.create_app("read").await;
    let other = app.password_token(&oauth, "kai", "read").await;
    let mut swept = false;
    for _ in 0..50 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        let list = ok_json(app.get("/api/v1/auth/sessions", Some(&other)).await).await;
        if list.as_array().unwrap().iter().all(|s| s["id"] != login["session_id"]) {
            swept = true;
            break;
        }
    }
    assert!(swept, "expired session still listed");
    json_with(app.me(&token).await, 401).await;
    json_with(refresh(&app, login["refresh_token"].as_str().unwrap()).await, 401).await;
}
