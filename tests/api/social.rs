//! Favourites, bookmarks, notifications, blocks, mutes and follow requests, with the
//! stranger cases of RELIABILITY 13.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::statuses::eventually_home;

async fn post(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    // No body and no Content-Type, as masto.js sends these.
    app.client.post(app.url(path)).bearer_auth(token).send().await.unwrap()
}

fn types(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn favourites_and_bookmarks_are_idempotent_with_exact_counts() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let (carol, carol_id) = app.user("carol").await;
    let s = app.say(&alice, "like me").await;
    for _ in 0..2 {
        let body = ok_json(post(&app, &format!("/api/v1/statuses/{s}/favourite"), &bob).await).await;
        assert_eq!((body["favourites_count"].as_u64(), body["favourited"].as_bool()), (Some(1), Some(true)));
    }
    ok_json(post(&app, &format!("/api/v1/statuses/{s}/favourite"), &carol).await).await;
    let seen = ok_json(app.get(&format!("/api/v1/statuses/{s}"), Some(&alice)).await).await;
    assert_eq!((seen["favourites_count"].as_u64(), seen["favourited"].as_bool()), (Some(2), Some(false)));
    let by = ok_json(app.get(&format!("/api/v1/statuses/{s}/favourited_by"), None).await).await;
    let mut who: Vec<&str> = by.as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    who.sort();
    let mut expected = vec![bob_id.as_str(), carol_id.as_str()];
    expected.sort();
    assert_eq!(who, expected);
    let favs = app.page_ids("/api/v1/favourites", Some(&bob)).await;
    assert_eq!(favs, vec![s.clone()]);
    for _ in 0..2 {
        let body = ok_json(post(&app, &format!("/api/v1/statuses/{s}/unfavourite"), &bob).await).await;
        assert_eq!((body["favourites_count"].as_u64(), body["favourited"].as_bool()), (Some(1), Some(false)));
    }
    assert!(app.page_ids("/api/v1/favourites", Some(&bob)).await.is_empty());
    // Bookmarks.
    let body = ok_json(post(&app, &format!("/api/v1/statuses/{s}/bookmark"), &bob).await).await;
    assert_eq!(body["bookmarked"], true);
    ok_json(post(&app, &format!("/api/v1/statuses/{s}/bookmark"), &bob).await).await;
    assert_eq!(app.page_ids("/api/v1/bookmarks", Some(&bob)).await, vec![s.clone()]);
    assert!(app.page_ids("/api/v1/bookmarks", Some(&carol)).await.is_empty());
    ok_json(post(&app, &format!("/api/v1/statuses/{s}/unbookmark"), &bob).await).await;
    assert!(app.page_ids("/api/v1/bookmarks", Some(&bob)).await.is_empty());
    // Reblogged-by.
    ok_json(post(&app, &format!("/api/v1/statuses/{s}/reblog"), &carol).await).await;
    let by = ok_json(app.get(&format!("/api/v1/statuses/{s}/reblogged_by"), None).await).await;
    assert_eq!(by[0]["id"], carol_id);
    // A deleted status leaves favourites and bookmarks lists.
    ok_json(post(&app, &format!("/api/v1/statuses/{s}/favourite"), &bob).await).await;
    ok_json(app.client.delete(app.url(&format!("/api/v1/statuses/{s}"))).bearer_auth(&alice).send().await.unwrap())
        .await;
    assert!(app.page_ids("/api/v1/favourites", Some(&bob)).await.is_empty());
    json_with(post(&app, &format!("/api/v1/statuses/{s}/favourite"), &bob).await, 404).await;
}

#[actix_web::test]
async fn strangers_cannot_touch_private_posts() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (stranger, _) = app.user("stranger").await;
    let private = app.post_status(&alice, json!({"status": "secret", "visibility": "private"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for action in ["favourite", "unfavourite", "bookmark", "unbookmark", "reblog", "unreblog"] {
        json_with(post(&app, &format!("/api/v1/statuses/{private}/{action}"), &stranger).await, 404).await;
    }
    for read in ["favourited_by", "reblogged_by", "context"] {
        json_with(app.get(&format!("/api/v1/statuses/{private}/{read}"), Some(&stranger)).await, 404).await;
    }
    let seen = ok_json(app.get(&format!("/api/v1/statuses/{private}"), Some(&alice)).await).await;
    assert_eq!(seen["favourites_count"], 0);
}

#[actix_web::test]
async fn notifications_for_follow_mention_favourite_and_reblog() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let (stranger, _) = app.user("stranger").await;
    app.follow(&bob, &alice_id).await;
    let s = app.say(&alice, "hello").await;
    ok_json(post(&app, &format!("/api/v1/statuses/{s}/favourite"), &bob).await).await;
    ok_json(post(&app, &format!("/api/v1/statuses/{s}/reblog"), &bob).await).await;
    let reply = app.post_status(&bob, json!({"status": "@alice hi", "in_reply_to_id": s})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = ok_json(app.get("/api/v1/notifications", Some(&alice)).await).await;
    assert_eq!(types(&list), vec!["mention", "reblog", "favourite", "follow"]);
    for n in list.as_array().unwrap() {
        assert_eq!(n["account"]["id"], bob_id);
        assert!(n["id"].is_string() && n["created_at"].is_string());
    }
    assert_eq!(list[0]["status"]["id"], reply);
    assert!(list[3]["status"].is_null());
    // Filters and paging.
    let only = ok_json(app.get("/api/v1/notifications?types[]=follow&types[]=mention", Some(&alice)).await).await;
    assert_eq!(types(&only), vec!["mention", "follow"]);
    let without = ok_json(app.get("/api/v1/notifications?exclude_types[]=favourite", Some(&alice)).await).await;
    assert_eq!(types(&without), vec!["mention", "reblog", "follow"]);
    let from = ok_json(app.get(&format!("/api/v1/notifications?account_id={alice_id}"), Some(&alice)).await).await;
    assert!(from.as_array().unwrap().is_empty());
    let res = app.get("/api/v1/notifications?limit=2", Some(&alice)).await;
    assert!(res.headers()["link"].to_str().unwrap().contains("max_id="));
    assert_eq!(ok_json(res).await.as_array().unwrap().len(), 2);
    // One by one; strangers see nothing of it.
    let id = list[1]["id"].as_str().unwrap();
    assert_eq!(ok_json(app.get(&format!("/api/v1/notifications/{id}"), Some(&alice)).await).await["type"], "reblog");
    json_with(app.get(&format!("/api/v1/notifications/{id}"), Some(&stranger)).await, 404).await;
    json_with(post(&app, &format!("/api/v1/notifications/{id}/dismiss"), &stranger).await, 404).await;
    ok_json(post(&app, &format!("/api/v1/notifications/{id}/dismiss"), &alice).await).await;
    json_with(app.get(&format!("/api/v1/notifications/{id}"), Some(&alice)).await, 404).await;
    // Deleting the reply takes its mention notification away.
    ok_json(app.client.delete(app.url(&format!("/api/v1/statuses/{reply}"))).bearer_auth(&bob).send().await.unwrap())
        .await;
    let list = ok_json(app.get("/api/v1/notifications", Some(&alice)).await).await;
    assert_eq!(types(&list), vec!["favourite", "follow"]);
    ok_json(post(&app, "/api/v1/notifications/clear", &alice).await).await;
    assert!(ok_json(app.get("/api/v1/notifications", Some(&alice)).await).await.as_array().unwrap().is_empty());
    json_with(app.get("/api/v1/notifications", None).await, 401).await;
}

#[actix_web::test]
async fn blocks_and_mutes_hide_posts_and_notifications() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let (carol, carol_id) = app.user("carol").await;
    app.follow(&alice, &bob_id).await;
    app.follow(&bob, &alice_id).await;
    app.follow(&alice, &carol_id).await;
    let b1 = app.say(&bob, "bob one").await;
    let c1 = app.say(&carol, "carol one").await;
    eventually_home(&app, &alice, &[&b1, &c1]).await;
    // Alice blocks bob: follows end both ways, his posts leave her timelines.
    let rel = ok_json(post(&app, &format!("/api/v1/accounts/{bob_id}/block"), &alice).await).await;
    assert_eq!(
        (rel["blocking"].as_bool(), rel["following"].as_bool(), rel["followed_by"].as_bool()),
        (Some(true), Some(false), Some(false))
    );
    let seen_by_bob =
        ok_json(app.get(&format!("/api/v1/accounts/relationships?id[]={alice_id}"), Some(&bob)).await).await;
    assert_eq!(seen_by_bob[0]["blocked_by"], true);
    assert_eq!(app.page_ids("/api/v1/timelines/home", Some(&alice)).await, vec![c1.clone()]);
    assert_eq!(app.page_ids("/api/v1/timelines/public", Some(&alice)).await, vec![c1.clone()]);
    let a1 = app.say(&alice, "@bob can you see this").await;
    json_with(app.get(&format!("/api/v1/statuses/{a1}"), Some(&bob)).await, 404).await;
    json_with(post(&app, &format!("/api/v1/accounts/{alice_id}/follow"), &bob).await, 403).await;
    let notes = ok_json(app.get("/api/v1/notifications", Some(&bob)).await).await;
    assert!(types(&notes).iter().all(|t| t != "mention"), "no mention from a blocker");
    let blocks = ok_json(app.get("/api/v1/blocks", Some(&alice)).await).await;
    assert_eq!(blocks[0]["id"], bob_id);
    ok_json(post(&app, &format!("/api/v1/accounts/{bob_id}/unblock"), &alice).await).await;
    assert!(ok_json(app.get("/api/v1/blocks", Some(&alice)).await).await.as_array().unwrap().is_empty());
    // Muting carol hides her posts and notifications from alice, but she still follows.
    let rel = ok_json(post(&app, &format!("/api/v1/accounts/{carol_id}/mute"), &alice).await).await;
    assert_eq!((rel["muting"].as_bool(), rel["following"].as_bool()), (Some(true), Some(true)));
    assert!(app.page_ids("/api/v1/timelines/home", Some(&alice)).await.iter().all(|id| *id != c1));
    app.post_status(&carol, json!({"status": "@alice hey"})).await;
    let notes = ok_json(app.get("/api/v1/notifications", Some(&alice)).await).await;
    assert!(notes.as_array().unwrap().iter().all(|n| n["account"]["id"] != carol_id));
    assert_eq!(ok_json(app.get("/api/v1/mutes", Some(&alice)).await).await[0]["id"], carol_id);
    ok_json(post(&app, &format!("/api/v1/accounts/{carol_id}/unmute"), &alice).await).await;
    let ids = eventually_home(&app, &alice, &[&c1]).await;
    assert!(ids.contains(&c1));
}

#[actix_web::test]
async fn locked_accounts_get_follow_requests() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let (carol, carol_id) = app.user("carol").await;
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&alice)
        .json(&json!({"locked": true}))
        .send()
        .await
        .unwrap();
    ok_json(res).await;
    let secret = app.post_status(&alice, json!({"status": "followers only", "visibility": "private"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rel = app.follow(&bob, &alice_id).await;
    assert_eq!((rel["following"].as_bool(), rel["requested"].as_bool()), (Some(false), Some(true)));
    app.follow(&carol, &alice_id).await;
    let requests = ok_json(app.get("/api/v1/follow_requests", Some(&alice)).await).await;
    assert_eq!(requests.as_array().unwrap().len(), 2);
    let notes = ok_json(app.get("/api/v1/notifications", Some(&alice)).await).await;
    assert_eq!(types(&notes), vec!["follow_request", "follow_request"]);
    json_with(app.get(&format!("/api/v1/statuses/{secret}"), Some(&bob)).await, 404).await;
    // Only alice can answer her requests.
    json_with(post(&app, &format!("/api/v1/follow_requests/{bob_id}/authorize"), &carol).await, 404).await;
    let rel = ok_json(post(&app, &format!("/api/v1/follow_requests/{bob_id}/authorize"), &alice).await).await;
    assert_eq!(rel["followed_by"], true);
    ok_json(post(&app, &format!("/api/v1/follow_requests/{carol_id}/reject"), &alice).await).await;
    json_with(post(&app, &format!("/api/v1/follow_requests/{carol_id}/reject"), &alice).await, 404).await;
    ok_json(app.get(&format!("/api/v1/statuses/{secret}"), Some(&bob)).await).await;
    json_with(app.get(&format!("/api/v1/statuses/{secret}"), Some(&carol)).await, 404).await;
    assert_eq!(eventually_home(&app, &bob, &[&secret]).await, vec![secret]);
    let rel = ok_json(app.get(&format!("/api/v1/accounts/relationships?id[]={alice_id}"), Some(&carol)).await).await;
    assert_eq!((rel[0]["following"].as_bool(), rel[0]["requested"].as_bool()), (Some(false), Some(false)));
}

/// An unfollow racing a fan-out: the fan-out holds the author's lock while it reads the
/// followers and writes their timelines, so the former follower's timeline never keeps
/// a status of the author (`starling admin check` flags such an entry).
#[actix_web::test]
async fn an_unfollow_racing_fanouts_leaves_no_entry_behind() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    app.follow(&carol, &alice_id).await;
    let mut expected = Vec::new();
    for round in 0..5 {
        app.follow(&bob, &alice_id).await;
        let texts: Vec<String> = (0..8).map(|i| format!("round {round} post {i}")).collect();
        let posts = texts.iter().map(|text| app.say(&alice, text));
        let unfollow = async {
            post(&app, &format!("/api/v1/accounts/{alice_id}/unfollow"), &bob).await;
        };
        let (ids, ()) = futures_util::future::join(futures_util::future::join_all(posts), unfollow).await;
        expected = ids;
        // Every fan-out of the round is done once carol has all of them.
        let want: Vec<&str> = expected.iter().map(String::as_str).collect();
        let home = eventually_home(&app, &carol, &want).await;
        assert!(want.iter().all(|w| home.iter().any(|h| h == w)), "carol's home misses posts");
    }
    assert_eq!(expected.len(), 8);
    assert!(app.page_ids("/api/v1/timelines/home", Some(&bob)).await.is_empty());
    let (store, _dir) = app.stop_and_open().await;
    let report = store.check_invariants().unwrap();
    assert!(report.is_clean(), "{:?}", report.violations);
}

/// A boost of a post already among the newest 40 entries of a home timeline is left
/// out of that timeline (Mastodon's `REBLOG_FALLOFF`); others still get it.
#[actix_web::test]
async fn a_reblog_of_a_recent_post_is_not_added_twice() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let (dave, dave_id) = app.user("dave").await;
    app.follow(&carol, &alice_id).await;
    app.follow(&carol, &bob_id).await;
    app.follow(&dave, &bob_id).await;
    let original = app.say(&alice, "worth a boost").await;
    assert_eq!(eventually_home(&app, &carol, &[&original]).await, vec![original.clone()]);
    let wrapper = ok_json(post(&app, &format!("/api/v1/statuses/{original}/reblog"), &bob).await).await;
    let wrapper_id = wrapper["id"].as_str().unwrap().to_owned();
    // dave, who never saw the original, gets the boost; the job is done once he has it.
    assert_eq!(eventually_home(&app, &dave, &[&wrapper_id]).await, vec![wrapper_id.clone()]);
    assert_eq!(app.page_ids("/api/v1/timelines/home", Some(&carol)).await, vec![original.clone()]);
    // A second boost (by someone else) of the same post is left out as well.
    app.follow(&carol, &dave_id).await;
    let again = ok_json(post(&app, &format!("/api/v1/statuses/{original}/reblog"), &dave).await).await;
    let again_id = again["id"].as_str().unwrap().to_owned();
    assert_eq!(eventually_home(&app, &dave, &[&again_id]).await.first(), Some(&again_id));
    assert_eq!(app.page_ids("/api/v1/timelines/home", Some(&carol)).await, vec![original]);
}
