use std::collections::HashSet;

use serde_json::json;

use crate::helpers::*;
use crate::statuses::eventually_home;

/// Follows `rel="next"` links from `path` and returns every id, checking that each
/// `next` URL is absolute and carries `max_id`.
pub async fn all_pages(app: &TestApp, path: &str, token: Option<&str>) -> Vec<String> {
    let mut url = app.url(path);
    let mut ids = Vec::new();
    for _ in 0..200 {
        let mut req = app.client.get(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let link = res.headers().get("link").map(|v| v.to_str().unwrap().to_owned());
        let body = ok_json(res).await;
        let page: Vec<String> = body.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
        if page.is_empty() {
            assert!(link.is_none(), "an empty page has no Link header");
            return ids;
        }
        let link = link.expect("a non-empty page has a Link header");
        let next = link.split(", ").find(|p| p.ends_with("rel=\"next\"")).expect("rel=next");
        let next = next.trim_start_matches('<').split('>').next().unwrap().to_owned();
        assert!(next.starts_with("http://") && next.contains("max_id="), "{next}");
        assert!(link.contains("rel=\"prev\"") && link.contains("min_id="), "{link}");
        ids.extend(page);
        url = next;
    }
    panic!("too many pages");
}

#[actix_web::test]
async fn home_timeline_fans_out_and_pages_without_gaps() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    app.follow(&alice, &bob_id).await;
    let mut posted = Vec::new();
    for i in 0..7 {
        posted.push(app.say(&bob, &format!("post {i}")).await);
    }
    posted.reverse();
    let refs: Vec<&str> = posted.iter().map(String::as_str).collect();
    eventually_home(&app, &alice, &refs).await;
    assert_eq!(all_pages(&app, "/api/v1/timelines/home?limit=3", Some(&alice)).await, posted);
    // Newer posts arriving while paging never cause duplicates or gaps below the first page.
    let first = app.page_ids("/api/v1/timelines/home?limit=3", Some(&alice)).await;
    for i in 0..5 {
        app.say(&bob, &format!("late {i}")).await;
    }
    let rest =
        all_pages(&app, &format!("/api/v1/timelines/home?limit=2&max_id={}", first.last().unwrap()), Some(&alice))
            .await;
    let mut seen: Vec<String> = first.clone();
    seen.extend(rest);
    assert_eq!(seen, posted);
    // min_id: the page just above a cursor, newest first.
    let above = app.page_ids(&format!("/api/v1/timelines/home?min_id={}&limit=2", posted[3]), Some(&alice)).await;
    assert_eq!(above, vec![posted[1].clone(), posted[2].clone()]);
    let since = app.page_ids(&format!("/api/v1/timelines/home?since_id={}&limit=40", posted[1]), Some(&alice)).await;
    assert_eq!(since.len(), 6, "5 late posts and posted[0]");
    // Limits are clamped; forged cursors match nothing (`non_numeric_cursors_give_empty_pages`).
    for (q, n) in [("limit=-1", 1), ("limit=0", 1), ("limit=1000000000", 12), ("limit=x", 12)] {
        assert_eq!(app.page_ids(&format!("/api/v1/timelines/home?{q}"), Some(&alice)).await.len(), n.min(20), "{q}");
    }
    assert_eq!(app.page_ids("/api/v1/timelines/home?max_id=abc", Some(&alice)).await, Vec::<String>::new());
    json_with(app.get("/api/v1/timelines/home", None).await, 401).await;
}

#[actix_web::test]
async fn follow_merges_and_unfollow_removes() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let (carol, carol_id) = app.user("carol").await;
    let b1 = app.say(&bob, "before the follow").await;
    let rel = app.follow(&alice, &bob_id).await;
    assert_eq!((rel["following"].as_bool(), rel["followed_by"].as_bool()), (Some(true), Some(false)));
    assert_eq!(app.page_ids("/api/v1/timelines/home", Some(&alice)).await, vec![b1.clone()]);
    // A reply from bob to carol shows only once alice follows carol too.
    let c1 = app.say(&carol, "carol speaks").await;
    let reply = app.post_status(&bob, json!({"status": "@carol yes", "in_reply_to_id": c1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let self_reply = app.post_status(&bob, json!({"status": "thread", "in_reply_to_id": b1})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ids = eventually_home(&app, &alice, &[&self_reply]).await;
    assert_eq!(ids, vec![self_reply.clone(), b1.clone()]);
    app.follow(&alice, &carol_id).await;
    let ids = eventually_home(&app, &alice, &[&reply, &c1]).await;
    assert_eq!(ids, vec![self_reply.clone(), reply.clone(), c1.clone(), b1.clone()]);
    // Own posts are in one's own home; counts are exact.
    let mine = app.say(&alice, "mine").await;
    eventually_home(&app, &alice, &[&mine]).await;
    assert_eq!(ok_json(app.me(&alice).await).await["following_count"], 2);
    assert_eq!(ok_json(app.get(&format!("/api/v1/accounts/{bob_id}"), None).await).await["followers_count"], 1);
    let rels =
        ok_json(app.get(&format!("/api/v1/accounts/relationships?id[]={alice_id}&id[]=999"), Some(&bob)).await).await;
    assert_eq!(rels.as_array().unwrap().len(), 1, "unknown ids are left out");
    assert_eq!((rels[0]["followed_by"].as_bool(), rels[0]["following"].as_bool()), (Some(true), Some(false)));
    let followers = ok_json(app.get(&format!("/api/v1/accounts/{bob_id}/followers"), None).await).await;
    assert_eq!(followers[0]["id"], alice_id);
    let following = ok_json(app.get(&format!("/api/v1/accounts/{alice_id}/following"), None).await).await;
    assert_eq!(following.as_array().unwrap().len(), 2);
    // Following twice is harmless.
    app.follow(&alice, &bob_id).await;
    assert_eq!(ok_json(app.me(&alice).await).await["following_count"], 2);
    let rel =
        ok_json(app.post_json(&format!("/api/v1/accounts/{bob_id}/unfollow"), Some(&alice), &json!({})).await).await;
    assert_eq!(rel["following"], false);
    let ids = app.page_ids("/api/v1/timelines/home", Some(&alice)).await;
    assert_eq!(ids, vec![mine, c1], "bob's posts left, and so did his reply to carol");
    json_with(app.post_json(&format!("/api/v1/accounts/{alice_id}/follow"), Some(&alice), &json!({})).await, 403).await;
    json_with(app.post_json("/api/v1/accounts/123/follow", Some(&alice), &json!({})).await, 404).await;
}

#[actix_web::test]
async fn public_and_tag_timelines_and_deletes() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;
    let public = app.say(&alice, "hello #Birds").await;
    let unlisted = app.post_status(&alice, json!({"status": "quiet #birds", "visibility": "unlisted"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let private = app.post_status(&alice, json!({"status": "private #birds", "visibility": "private"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app.post_status(&bob, json!({"status": "@alice #birds reply", "in_reply_to_id": public})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let expected_public = vec![public.clone()];
    assert_eq!(app.page_ids("/api/v1/timelines/public", None).await, expected_public);
    assert_eq!(app.page_ids("/api/v1/timelines/public?local=true", Some(&bob)).await, expected_public);
    assert_eq!(app.page_ids("/api/v1/timelines/public?remote=true", None).await, Vec::<String>::new());
    let tagged = app.page_ids("/api/v1/timelines/tag/BIRDS", None).await;
    assert_eq!(tagged, vec![reply.clone(), public.clone()], "tag timelines hold public posts only");
    let tag = ok_json(app.get("/api/v1/tags/Birds", None).await).await;
    assert_eq!(tag["name"], "birds");
    json_with(app.get("/api/v1/tags/bad%20tag", None).await, 404).await;
    let home = eventually_home(&app, &bob, &[&public, &unlisted, &private, &reply]).await;
    assert_eq!(home, vec![reply.clone(), private.clone(), unlisted.clone(), public.clone()]);
    // A deleted status leaves every timeline and context.
    ok_json(
        app.client.delete(app.url(&format!("/api/v1/statuses/{public}"))).bearer_auth(&alice).send().await.unwrap(),
    )
    .await;
    assert_eq!(app.page_ids("/api/v1/timelines/public", None).await, Vec::<String>::new());
    assert_eq!(app.page_ids("/api/v1/timelines/tag/birds", None).await, vec![reply.clone()]);
    let mut home = app.page_ids("/api/v1/timelines/home", Some(&bob)).await;
    for _ in 0..50 {
        if !home.contains(&public) {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        home = app.page_ids("/api/v1/timelines/home", Some(&bob)).await;
    }
    assert_eq!(home, vec![reply.clone(), private, unlisted]);
    let ctx = ok_json(app.get(&format!("/api/v1/statuses/{reply}/context"), None).await).await;
    assert_eq!(ctx["ancestors"].as_array().unwrap().len(), 0);
    // Account timeline filters.
    let path = format!("/api/v1/accounts/{alice_id}/statuses");
    let ids: HashSet<String> = app.page_ids(&path, Some(&bob)).await.into_iter().collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(app.page_ids(&format!("{path}?only_media=true"), None).await, Vec::<String>::new());
}

#[actix_web::test]
async fn fan_out_interrupted_before_it_ran_completes_after_restart() {
    // The router is paused: posts are acknowledged (durable, with their fan-out job)
    // but not delivered. Then the server stops and starts normally.
    let app = spawn_with(|s| s.fanout.paused = true).await;
    let (author, author_id) = app.user("author").await;
    let mut followers = Vec::new();
    for i in 0..5 {
        let (token, _) = app.user(&format!("f{i}")).await;
        app.follow(&token, &author_id).await;
        followers.push(token);
    }
    let post = app.say(&author, "did everyone get this?").await;
    for f in &followers {
        assert!(app.page_ids("/api/v1/timelines/home", Some(f)).await.is_empty(), "fan-out should be paused");
    }
    let mut app = app;
    app.settings.fanout.paused = false;
    let app = app.restart().await;
    for f in &followers {
        assert_eq!(eventually_home(&app, f, &[&post]).await, vec![post.clone()]);
    }
}

#[actix_web::test]
async fn celebrities_are_merged_at_read_time() {
    // Above one follower, an author counts as a celebrity: no fan-out on write.
    let app = spawn_with(|s| s.fanout.celebrity_followers = 1).await;
    let (star, star_id) = app.user("star").await;
    let (friend, friend_id) = app.user("friend").await;
    let (fan1, _) = app.user("fan1").await;
    let (fan2, _) = app.user("fan2").await;
    let early = app.say(&star, "before I was famous").await;
    app.follow(&fan1, &star_id).await;
    app.follow(&fan2, &star_id).await;
    app.follow(&fan1, &friend_id).await;
    let mut expected = Vec::new();
    for i in 0..4 {
        expected.push(app.say(&star, &format!("star {i}")).await);
        expected.push(app.say(&friend, &format!("friend {i}")).await);
    }
    let direct = app.post_status(&star, json!({"status": "@fan1 psst", "visibility": "direct"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expected.push(direct.clone());
    expected.push(early.clone());
    expected.sort_by_key(|id| std::cmp::Reverse(id.parse::<u64>().unwrap()));
    // The friend's posts are fanned out (asynchronously); the star's are merged on read.
    eventually_home(&app, &fan1, &[&expected[1]]).await;
    assert_eq!(all_pages(&app, "/api/v1/timelines/home?limit=3", Some(&fan1)).await, expected);
    let fan2_home = app.page_ids("/api/v1/timelines/home?limit=40", Some(&fan2)).await;
    assert!(fan2_home.contains(&early) && !fan2_home.contains(&direct), "{fan2_home:?}");
    assert_eq!(fan2_home.len(), 5);
    // Unfollowing the star takes their posts away at once.
    ok_json(app.post_json(&format!("/api/v1/accounts/{star_id}/unfollow"), Some(&fan2), &json!({})).await).await;
    assert!(app.page_ids("/api/v1/timelines/home", Some(&fan2)).await.is_empty());
    // With one follower left the star is no longer a celebrity: the posts made as one,
    // never fanned out, were merged into fan1's timeline on the way down.
    assert_eq!(all_pages(&app, "/api/v1/timelines/home?limit=3", Some(&fan1)).await, expected);
    let after = app.say(&star, "ordinary again").await;
    let home = eventually_home(&app, &fan1, &[&after]).await;
    assert_eq!(home.len(), expected.len() + 1);
}

/// Ids are strings to clients: a cursor that is not one of ours (`max_id=abc`) matches
/// nothing, so every paged list answers 200 with an empty page and no `Link`, as
/// Mastodon does (it was a 400).
#[actix_web::test]
async fn non_numeric_cursors_give_empty_pages() {
    let (app, admin) = spawn_with_admin("root").await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;
    let post = app.say(&alice, "hello #cursors").await;
    for action in ["favourite", "bookmark", "reblog"] {
        ok_json(app.post_json(&format!("/api/v1/statuses/{post}/{action}"), Some(&bob), &json!({})).await).await;
    }
    let paths = [
        "/api/v1/timelines/home".to_owned(),
        "/api/v1/timelines/public".to_owned(),
        "/api/v1/timelines/tag/cursors".to_owned(),
        format!("/api/v1/accounts/{alice_id}/statuses"),
        format!("/api/v1/accounts/{alice_id}/followers"),
        format!("/api/v1/accounts/{bob_id}/following"),
        format!("/api/v1/statuses/{post}/favourited_by"),
        format!("/api/v1/statuses/{post}/reblogged_by"),
        "/api/v1/favourites".to_owned(),
        "/api/v1/bookmarks".to_owned(),
        "/api/v1/notifications".to_owned(),
        "/api/v1/follow_requests".to_owned(),
        "/api/v1/blocks".to_owned(),
        "/api/v1/mutes".to_owned(),
        "/api/v1/admin/accounts".to_owned(),
        "/api/v1/admin/reports".to_owned(),
    ];
    for path in &paths {
        let token = if path.starts_with("/api/v1/admin/") {
            &admin
        } else if path.contains("notif") {
            &alice
        } else {
            &bob
        };
        // Not empty without the cursor (where there is something to list)...
        let whole = ok_json(app.get(path, Some(token)).await).await;
        for cursor in ["max_id", "since_id", "min_id"] {
            for value in ["abc", "12x", "-5", "1e3"] {
                let url = format!("{path}?{cursor}={value}&limit=5");
                let res = app.get(&url, Some(token)).await;
                assert!(res.headers().get("link").is_none(), "{url}: a Link for an empty page");
                assert_eq!(ok_json(res).await, json!([]), "{url} (without the cursor: {whole})");
            }
        }
    }
    // ...which most of them are.
    for path in ["/api/v1/timelines/home", "/api/v1/favourites", "/api/v1/notifications"] {
        let token = if path.contains("notif") { &alice } else { &bob };
        assert!(!ok_json(app.get(path, Some(token)).await).await.as_array().unwrap().is_empty(), "{path}");
    }
    // A good cursor with a bad one is still nothing; a blank one is no cursor.
    let url = "/api/v1/timelines/home?min_id=1&max_id=zz";
    assert_eq!(app.page_ids(url, Some(&bob)).await, Vec::<String>::new());
    assert!(!app.page_ids("/api/v1/timelines/home?max_id=", Some(&bob)).await.is_empty());
    // Scopes and ids are still checked first.
    json_with(app.get("/api/v1/timelines/home?max_id=abc", None).await, 401).await;
    json_with(app.get("/api/v1/accounts/999/statuses?max_id=abc", None).await, 404).await;
}

/// The Tag entity carries the tag's id and seven days of use counted on write: uses
/// are public statuses, accounts distinct authors; private posts and reblogs do not
/// count, an edit that adds a tag does. Never-used tags are 404, as on Mastodon.
#[actix_web::test]
async fn tags_carry_their_id_and_seven_days_of_history() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    json_with(app.get("/api/v1/tags/rust", None).await, 404).await;
    let first = app.say(&alice, "learning #rust").await;
    app.say(&alice, "more #Rust and #RUST again").await;
    app.say(&bob, "#rust too").await;
    app.post_status(&alice, json!({"status": "secret #rust", "visibility": "private"})).await;
    ok_json(app.post_json(&format!("/api/v1/statuses/{first}/reblog"), Some(&bob), &json!({})).await).await;
    json_with(app.get("/api/v1/tags/secretonly", None).await, 404).await;

    let today = |secs: u64| (secs / 86_400 * 86_400) as i64;
    let before = today(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    let tag = ok_json(app.get("/api/v1/tags/Rust", None).await).await;
    let after = today(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    assert_eq!(tag["name"], "rust");
    assert_eq!(tag["url"], app.url("/tags/rust"));
    assert_eq!(tag["following"], false);
    let id = tag["id"].as_str().expect("the id is a string");
    assert!(!id.is_empty() && id.parse::<u64>().is_ok(), "{id}");
    let history = tag["history"].as_array().unwrap();
    assert_eq!(history.len(), 7, "{tag}");
    assert_eq!((history[0]["uses"].as_str(), history[0]["accounts"].as_str()), (Some("3"), Some("2")), "{tag}");
    let day0: i64 = history[0]["day"].as_str().unwrap().parse().unwrap();
    assert!(day0 == before || day0 == after, "{day0}: not the start of today (UTC)");
    for (n, entry) in history.iter().enumerate().skip(1) {
        assert_eq!(entry["day"].as_str().unwrap().parse::<i64>().unwrap(), day0 - 86_400 * n as i64, "{tag}");
        assert_eq!((entry["uses"].as_str(), entry["accounts"].as_str()), (Some("0"), Some("0")), "{tag}");
    }
    // The id stays; a new use moves the count; an edit adding a tag counts it.
    let again = ok_json(app.get("/api/v1/tags/rust", None).await).await;
    assert_eq!(again["id"], tag["id"]);
    let res = app
        .client
        .put(app.url(&format!("/api/v1/statuses/{first}")))
        .bearer_auth(&alice)
        .json(&json!({"status": "learning #rust and #ferris"}))
        .send()
        .await
        .unwrap();
    ok_json(res).await;
    let ferris = ok_json(app.get("/api/v1/tags/ferris", None).await).await;
    assert_eq!(
        (ferris["history"][0]["uses"].as_str(), ferris["history"][0]["accounts"].as_str()),
        (Some("1"), Some("1"))
    );
    assert_ne!(ferris["id"], tag["id"]);
    let rust = ok_json(app.get("/api/v1/tags/rust", None).await).await;
    assert_eq!(rust["history"][0]["uses"], "3", "keeping a tag in an edit is no new use");
    // Counts and ids survive a restart.
    let app = app.restart().await;
    let rust = ok_json(app.get("/api/v1/tags/rust", None).await).await;
    assert_eq!((rust["id"].clone(), rust["history"][0]["uses"].clone()), (tag["id"].clone(), json!("3")));
}
