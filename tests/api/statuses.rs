use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn post_read_and_delete_a_status() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let status = app
        .post_status(&alice, json!({"status": "Hello <world> @bob #Rust https://example.com/x\nline two", "language": "en", "spoiler_text": ""}))
        .await;
    for field in [
        "id",
        "uri",
        "url",
        "created_at",
        "account",
        "content",
        "visibility",
        "sensitive",
        "spoiler_text",
        "media_attachments",
        "mentions",
        "tags",
        "emojis",
        "reblogs_count",
        "favourites_count",
        "replies_count",
        "in_reply_to_id",
        "in_reply_to_account_id",
        "reblog",
        "language",
        "edited_at",
        "favourited",
        "reblogged",
        "bookmarked",
        "muted",
        "poll",
        "card",
    ] {
        assert!(status.get(field).is_some(), "missing {field}");
    }
    assert_eq!(status["account"]["id"], alice_id);
    assert_eq!(status["visibility"], "public");
    assert_eq!(status["language"], "en");
    let content = status["content"].as_str().unwrap();
    assert!(content.starts_with("<p>Hello &lt;world&gt; <span class=\"h-card\""), "{content}");
    assert!(content.contains("class=\"mention hashtag\"") && content.contains("<br />line two"), "{content}");
    assert_eq!(status["mentions"][0]["username"], "bob");
    assert_eq!(status["tags"][0]["name"], "rust");
    let id = status["id"].as_str().unwrap();
    assert_eq!(ok_json(app.get(&format!("/api/v1/statuses/{id}"), None).await).await["id"], id);
    assert_eq!(ok_json(app.me(&alice).await).await["statuses_count"], 1);
    // Only the author deletes; a stranger gets 404 and nothing changes.
    json_with(
        app.client.delete(app.url(&format!("/api/v1/statuses/{id}"))).bearer_auth(&bob).send().await.unwrap(),
        404,
    )
    .await;
    let deleted = ok_json(
        app.client.delete(app.url(&format!("/api/v1/statuses/{id}"))).bearer_auth(&alice).send().await.unwrap(),
    )
    .await;
    assert!(deleted["text"].as_str().unwrap().starts_with("Hello <world>"));
    json_with(app.get(&format!("/api/v1/statuses/{id}"), None).await, 404).await;
    assert_eq!(ok_json(app.me(&alice).await).await["statuses_count"], 0);
    json_with(app.get("/api/v1/statuses/notanumber", None).await, 404).await;
}

#[actix_web::test]
async fn status_validation() {
    let app = spawn_with(|s| s.instance.max_characters = 30).await;
    let (alice, _) = app.user("alice").await;
    let post = |body: serde_json::Value| {
        let (app, alice) = (&app, alice.clone());
        async move { app.post_json("/api/v1/statuses", Some(&alice), &body).await }
    };
    assert_eq!(json_with(post(json!({"status": "   "})).await, 422).await["details"]["text"][0]["error"], "ERR_BLANK");
    let body = json_with(post(json!({"status": "x".repeat(31)})).await, 422).await;
    assert_eq!(body["details"]["text"][0]["error"], "ERR_TOO_LONG");
    // A URL counts 23 characters whatever its length.
    let url = format!("https://example.com/{}", "a".repeat(200));
    ok_json(post(json!({"status": format!("see {url}")})).await).await;
    json_with(post(json!({"status": "x", "visibility": "secret"})).await, 422).await;
    json_with(post(json!({"status": "x", "in_reply_to_id": "12345"})).await, 404).await;
    json_with(app.post_json("/api/v1/statuses", None, &json!({"status": "x"})).await, 401).await;
    // NUL, RTL marks, joiners and emoji round-trip.
    let text = "a\u{0}b\u{202e}c\u{200d}d 👩‍👩‍👧";
    let s = ok_json(post(json!({"status": text})).await).await;
    let id = s["id"].as_str().unwrap();
    let deleted = ok_json(
        app.client.delete(app.url(&format!("/api/v1/statuses/{id}"))).bearer_auth(&alice).send().await.unwrap(),
    )
    .await;
    assert_eq!(deleted["text"], text);
}

#[actix_web::test]
async fn idempotency_key_returns_the_same_status() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let send = |key: &'static str| {
        app.client
            .post(app.url("/api/v1/statuses"))
            .bearer_auth(&alice)
            .header("Idempotency-Key", key)
            .json(&json!({"status": "once"}))
            .send()
    };
    let a = ok_json(send("k1").await.unwrap()).await;
    let b = ok_json(send("k1").await.unwrap()).await;
    let c = ok_json(send("k2").await.unwrap()).await;
    assert_eq!(a["id"], b["id"]);
    assert_ne!(a["id"], c["id"]);
    assert_eq!(ok_json(app.me(&alice).await).await["statuses_count"], 2);
}

#[actix_web::test]
async fn replies_and_context() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    let root = app.say(&alice, "root").await;
    let r1 = app.post_status(&bob, json!({"status": "@alice reply one", "in_reply_to_id": root})).await;
    assert_eq!(r1["in_reply_to_id"], root);
    assert_eq!(r1["in_reply_to_account_id"], alice_id);
    let r1 = r1["id"].as_str().unwrap().to_owned();
    let r11 = app.post_status(&alice, json!({"status": "nested", "in_reply_to_id": r1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r2 = app.post_status(&carol, json!({"status": "reply two", "in_reply_to_id": root})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = app
        .post_status(&carol, json!({"status": "@bob direct reply", "in_reply_to_id": root, "visibility": "direct"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root_status = ok_json(app.get(&format!("/api/v1/statuses/{root}"), None).await).await;
    assert_eq!(root_status["replies_count"], 3);
    let ctx = ok_json(app.get(&format!("/api/v1/statuses/{root}/context"), None).await).await;
    let ids: Vec<&str> = ctx["descendants"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![r1.as_str(), r11.as_str(), r2.as_str()], "logged out: no direct reply");
    let ctx = ok_json(app.get(&format!("/api/v1/statuses/{root}/context"), Some(&bob)).await).await;
    assert_eq!(ctx["descendants"].as_array().unwrap().len(), 4, "bob is mentioned in the direct reply");
    let ctx = ok_json(app.get(&format!("/api/v1/statuses/{r11}/context"), None).await).await;
    let ancestors: Vec<&str> = ctx["ancestors"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ancestors, vec![root.as_str(), r1.as_str()]);
    // A stranger cannot see the direct reply or its context.
    json_with(app.get(&format!("/api/v1/statuses/{secret}"), Some(&alice)).await, 404).await;
    json_with(app.get(&format!("/api/v1/statuses/{secret}/context"), None).await, 404).await;
    // Deleting a reply keeps replies_count exact.
    ok_json(app.client.delete(app.url(&format!("/api/v1/statuses/{r2}"))).bearer_auth(&carol).send().await.unwrap())
        .await;
    assert_eq!(ok_json(app.get(&format!("/api/v1/statuses/{root}"), None).await).await["replies_count"], 2);
}

#[actix_web::test]
async fn private_and_direct_posts_reach_only_their_audience() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (follower, _) = app.user("follower").await;
    let (mentioned, _) = app.user("mentioned").await;
    let (stranger, _) = app.user("stranger").await;
    app.follow(&follower, &alice_id).await;
    let private = app.post_status(&alice, json!({"status": "for followers @mentioned", "visibility": "private"})).await
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let direct = app.post_status(&alice, json!({"status": "@mentioned only you", "visibility": "direct"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = |id: &str| format!("/api/v1/statuses/{id}");
    ok_json(app.get(&path(&private), Some(&follower)).await).await;
    ok_json(app.get(&path(&private), Some(&mentioned)).await).await;
    json_with(app.get(&path(&private), Some(&stranger)).await, 404).await;
    json_with(app.get(&path(&private), None).await, 404).await;
    ok_json(app.get(&path(&direct), Some(&mentioned)).await).await;
    json_with(app.get(&path(&direct), Some(&follower)).await, 404).await;
    json_with(app.get(&path(&direct), None).await, 404).await;
    // Strangers cannot reblog, delete or reply to what they cannot see.
    json_with(app.post_json(&format!("{}/reblog", path(&private)), Some(&stranger), &json!({})).await, 404).await;
    json_with(
        app.post_json("/api/v1/statuses", Some(&stranger), &json!({"status": "x", "in_reply_to_id": direct})).await,
        404,
    )
    .await;
    json_with(app.client.delete(app.url(&path(&private))).bearer_auth(&follower).send().await.unwrap(), 404).await;
    // Followers may not reblog a private post either.
    json_with(app.post_json(&format!("{}/reblog", path(&private)), Some(&follower), &json!({})).await, 403).await;
    // Account timelines show each viewer only what they may see.
    let account = format!("/api/v1/accounts/{alice_id}/statuses");
    assert_eq!(app.page_ids(&account, None).await, Vec::<String>::new());
    assert_eq!(app.page_ids(&account, Some(&follower)).await, vec![private.clone()]);
    assert_eq!(app.page_ids(&account, Some(&mentioned)).await, vec![direct.clone(), private.clone()]);
    assert_eq!(app.page_ids(&account, Some(&alice)).await, vec![direct, private]);
}

#[actix_web::test]
async fn reblogs_are_idempotent_and_counted() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let (carol, _) = app.user("carol").await;
    app.follow(&carol, &bob_id).await;
    let original = app.say(&alice, "reblog me").await;
    let wrapper =
        ok_json(app.post_json(&format!("/api/v1/statuses/{original}/reblog"), Some(&bob), &json!({})).await).await;
    assert_eq!(wrapper["reblog"]["id"], original);
    assert_eq!(wrapper["reblogged"], true);
    let again =
        ok_json(app.post_json(&format!("/api/v1/statuses/{original}/reblog"), Some(&bob), &json!({})).await).await;
    assert_eq!(again["id"], wrapper["id"]);
    // masto.js sends these with no body and no Content-Type.
    let res = app
        .client
        .post(app.url(&format!("/api/v1/statuses/{original}/reblog")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(res).await["id"], wrapper["id"]);
    let seen = ok_json(app.get(&format!("/api/v1/statuses/{original}"), Some(&bob)).await).await;
    assert_eq!((seen["reblogs_count"].as_u64(), seen["reblogged"].as_bool()), (Some(1), Some(true)));
    // The reblog reaches bob's follower.
    let wrapper_id = wrapper["id"].as_str().unwrap().to_owned();
    assert_eq!(eventually_home(&app, &carol, &[&wrapper_id]).await, vec![wrapper_id.clone()]);
    let undone =
        ok_json(app.post_json(&format!("/api/v1/statuses/{original}/unreblog"), Some(&bob), &json!({})).await).await;
    assert_eq!((undone["reblogs_count"].as_u64(), undone["reblogged"].as_bool()), (Some(0), Some(false)));
    ok_json(app.post_json(&format!("/api/v1/statuses/{original}/unreblog"), Some(&bob), &json!({})).await).await;
    json_with(app.get(&format!("/api/v1/statuses/{wrapper_id}"), None).await, 404).await;
    assert_eq!(app.page_ids("/api/v1/timelines/home", Some(&carol)).await, Vec::<String>::new());
}

/// Home timeline ids once the expected ones arrived (fan-out runs after the
/// acknowledgement); bounded wait, never a timing assertion.
pub async fn eventually_home(app: &TestApp, token: &str, expected: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids = app.page_ids("/api/v1/timelines/home?limit=40", Some(token)).await;
        if expected.iter().all(|e| ids.iter().any(|i| i == e)) {
            return ids;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    ids
}

#[actix_web::test]
async fn edits_keep_history_and_source() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let id = app.say(&alice, "first #draft").await;
    let put = |token: &str, body: serde_json::Value| {
        app.client.put(app.url(&format!("/api/v1/statuses/{id}"))).bearer_auth(token.to_owned()).json(&body).send()
    };
    json_with(put(&bob, json!({"status": "hijacked"})).await.unwrap(), 404).await;
    json_with(put(&alice, json!({"status": ""})).await.unwrap(), 422).await;
    let edited = ok_json(put(&alice, json!({"status": "second #final", "spoiler_text": "cw"})).await.unwrap()).await;
    assert!(edited["content"].as_str().unwrap().contains("second"));
    assert!(edited["edited_at"].is_string());
    assert_eq!((edited["spoiler_text"].as_str(), edited["sensitive"].as_bool()), (Some("cw"), Some(true)));
    ok_json(put(&alice, json!({"status": "third"})).await.unwrap()).await;
    let history = ok_json(app.get(&format!("/api/v1/statuses/{id}/history"), None).await).await;
    let contents: Vec<&str> = history.as_array().unwrap().iter().map(|v| v["content"].as_str().unwrap()).collect();
    assert_eq!(contents.len(), 3);
    assert!(contents[0].contains("first") && contents[1].contains("second") && contents[2].contains("third"));
    let source = ok_json(app.get(&format!("/api/v1/statuses/{id}/source"), Some(&alice)).await).await;
    assert_eq!((source["text"].as_str(), source["spoiler_text"].as_str()), (Some("third"), Some("cw")));
    json_with(app.get(&format!("/api/v1/statuses/{id}/source"), Some(&bob)).await, 404).await;
    // The tag index follows the edits.
    assert!(app.page_ids("/api/v1/timelines/tag/draft", None).await.is_empty());
    assert!(app.page_ids("/api/v1/timelines/tag/final", None).await.is_empty());
}

/// Deleting an edited status takes its edit history along: the history is 404, and the
/// offline check (`starling admin check`) finds the versions of the status that is left
/// and none of the deleted one (they used to stay in `statusid_edits` for good).
#[actix_web::test]
async fn deleting_an_edited_status_deletes_its_history() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let put = |id: &str, text: &str| {
        app.client
            .put(app.url(&format!("/api/v1/statuses/{id}")))
            .bearer_auth(&alice)
            .json(&json!({ "status": text }))
            .send()
    };
    let gone = app.say(&alice, "draft one").await;
    ok_json(put(&gone, "draft two").await.unwrap()).await;
    ok_json(put(&gone, "draft three").await.unwrap()).await;
    let kept = app.say(&alice, "keep one").await;
    ok_json(put(&kept, "keep two").await.unwrap()).await;
    let history = |id: &str| app.client.get(app.url(&format!("/api/v1/statuses/{id}/history"))).send();
    assert_eq!(ok_json(history(&gone).await.unwrap()).await.as_array().unwrap().len(), 3);
    ok_json(app.client.delete(app.url(&format!("/api/v1/statuses/{gone}"))).bearer_auth(&alice).send().await.unwrap())
        .await;
    json_with(history(&gone).await.unwrap(), 404).await;
    assert_eq!(ok_json(history(&kept).await.unwrap()).await.as_array().unwrap().len(), 2);

    let (settings, _dir) = app.stop().await;
    // The stopped server's flusher may hold the sled lock a moment longer.
    let mut report = starling::admin::check(&settings);
    for _ in 0..100 {
        if report.is_ok() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        report = starling::admin::check(&settings);
    }
    let report = report.unwrap();
    assert_eq!(report.violations, Vec::<String>::new());
    assert_eq!((report.statuses, report.edit_versions), (1, 1), "only the kept status's first version");
}

/// Pages render statuses from a cache kept beside the records: an edit, a new count, a
/// changed profile and a delete all show on the next read, and the viewer's own flags
/// never leak to another viewer.
#[actix_web::test]
async fn pages_show_each_status_as_it_is_now() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let id = app.say(&alice, "first").await;
    let first_of = |page: Value| page.as_array().unwrap().iter().find(|s| s["id"] == id.as_str()).cloned().unwrap();
    let public = || app.get("/api/v1/timelines/public", None);
    let before = first_of(ok_json(public().await).await);
    assert!(before["content"].as_str().unwrap().contains("first"));
    assert_eq!((before["favourites_count"].as_u64(), before["account"]["display_name"].as_str()), (Some(0), Some("")));

    let edit = app.client.put(app.url(&format!("/api/v1/statuses/{id}"))).bearer_auth(&alice);
    ok_json(edit.json(&json!({"status": "second"})).send().await.unwrap()).await;
    ok_json(app.post_form(&format!("/api/v1/statuses/{id}/favourite"), Some(&bob), &[]).await).await;
    let profile = app.client.patch(app.url("/api/v1/accounts/update_credentials")).bearer_auth(&alice);
    ok_json(profile.json(&json!({"display_name": "Alice A."})).send().await.unwrap()).await;

    let for_bob = first_of(ok_json(app.get("/api/v1/timelines/public", Some(&bob)).await).await);
    assert!(for_bob["content"].as_str().unwrap().contains("second"), "{for_bob}");
    assert!(for_bob["edited_at"].is_string());
    assert_eq!((for_bob["favourites_count"].as_u64(), for_bob["favourited"].as_bool()), (Some(1), Some(true)));
    assert_eq!(for_bob["account"]["display_name"], "Alice A.");
    let anonymous = first_of(ok_json(public().await).await);
    assert_eq!((anonymous["favourites_count"].as_u64(), anonymous["favourited"].as_bool()), (Some(1), Some(false)));
    assert_eq!(anonymous["content"], for_bob["content"]);

    // A reblog nests the original as it is now, with the reblogger's flags.
    ok_json(app.post_form(&format!("/api/v1/statuses/{id}/reblog"), Some(&bob), &[]).await).await;
    let page = ok_json(app.get(&format!("/api/v1/accounts/{bob_id}/statuses"), Some(&bob)).await).await;
    let wrapper = &page.as_array().unwrap()[0];
    assert_eq!(wrapper["reblog"]["id"], id.as_str());
    assert_eq!((wrapper["reblogged"].as_bool(), wrapper["reblog"]["reblogs_count"].as_u64()), (Some(true), Some(1)));
    assert!(wrapper["reblog"]["content"].as_str().unwrap().contains("second"));

    json_with(
        app.client.delete(app.url(&format!("/api/v1/statuses/{id}"))).bearer_auth(&alice).send().await.unwrap(),
        200,
    )
    .await;
    let after = ok_json(public().await).await;
    assert!(after.as_array().unwrap().iter().all(|s| s["id"] != id.as_str()), "{after}");
}
