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

#[actix_web::test]
async fn statuses_follows_timelines_and_notifications_survive_a_restart() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;
    let post = app.say(&alice, "durable #words").await;
    let reply = app.post_status(&bob, json!({"status": "@alice yes", "in_reply_to_id": post})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok_json(app.post_json(&format!("/api/v1/statuses/{post}/favourite"), Some(&bob), &json!({})).await).await;
    crate::statuses::eventually_home(&app, &bob, &[&post, &reply]).await;
    let home_before = app.page_ids("/api/v1/timelines/home", Some(&bob)).await;
    let notes = |v: serde_json::Value| -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| (n["id"].as_str().unwrap().to_owned(), n["type"].as_str().unwrap().to_owned()))
            .collect()
    };
    let notes_before = notes(ok_json(app.get("/api/v1/notifications", Some(&alice)).await).await);
    assert_eq!(notes_before.len(), 3);

    let app = app.restart().await;

    assert_eq!(app.page_ids("/api/v1/timelines/home", Some(&bob)).await, home_before);
    assert_eq!(notes(ok_json(app.get("/api/v1/notifications", Some(&alice)).await).await), notes_before);
    let status = ok_json(app.get(&format!("/api/v1/statuses/{post}"), Some(&bob)).await).await;
    assert_eq!(
        (status["replies_count"].as_u64(), status["favourites_count"].as_u64(), status["favourited"].as_bool()),
        (Some(1), Some(1), Some(true))
    );
    assert_eq!(app.page_ids("/api/v1/timelines/tag/words", None).await, vec![post.clone()]);
    let rel = ok_json(app.get(&format!("/api/v1/accounts/relationships?id[]={alice_id}"), Some(&bob)).await).await;
    assert_eq!(rel[0]["following"], true);
    assert_eq!(ok_json(app.get(&format!("/api/v1/accounts/{bob_id}"), None).await).await["following_count"], 1);
    // Fan-out still works after the restart.
    let later = app.say(&alice, "after the restart").await;
    crate::statuses::eventually_home(&app, &bob, &[&later]).await;
}
