//! Grouped notifications (`/api/v2/notifications`): favourites and reblogs of one
//! status, and follows, are one group each; mentions stay alone; filters, paging with
//! the Link header, one group, its accounts, dismissing, the unread count, hidden
//! accounts and the errors.
//!
//! Groups are 12-hour windows: a run that straddles 00:00 or 12:00 UTC would split them.

use serde_json::{Value, json};

use crate::helpers::*;

async fn post(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client.post(app.url(path)).bearer_auth(token).send().await.unwrap()
}

/// The v1 list, once it holds `n` notifications (reblogs and mentions are written by
/// the fan-out router, after the request's answer).
async fn eventually_v1(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    let mut list = Vec::new();
    for _ in 0..100 {
        list = ok_json(app.get("/api/v1/notifications?limit=40", Some(token)).await).await.as_array().unwrap().clone();
        if list.len() >= n {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(list.len(), n, "{list:?}");
    list
}

fn groups(body: &Value) -> &Vec<Value> {
    body["notification_groups"].as_array().unwrap()
}

fn kinds(body: &Value) -> Vec<&str> {
    groups(body).iter().map(|g| g["type"].as_str().unwrap()).collect()
}

fn keys(body: &Value) -> Vec<String> {
    groups(body).iter().map(|g| g["group_key"].as_str().unwrap().to_owned()).collect()
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|v| v[field].as_str().unwrap().to_owned()).collect()
}

/// The path and query of the Link header's `rel` URL.
fn link(res: &reqwest::Response, rel: &str) -> Option<String> {
    let header = res.headers().get("link")?.to_str().unwrap().to_owned();
    let part = header.split(", ").find(|p| p.ends_with(&format!("rel=\"{rel}\"")))?;
    let url = part.trim_start_matches('<').split('>').next()?;
    Some(url[url.find("/api/").unwrap()..].to_owned())
}

struct Scene {
    app: TestApp,
    alice: String,
    alice_id: String,
    /// Bob, carol and dave: (token, id).
    others: Vec<(String, String)>,
    status: String,
    mentions: Vec<String>,
}

/// Bob, carol and dave follow alice, favourite her status and reblog it, in that order;
/// then bob mentions her twice.
async fn scene() -> Scene {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let mut others = Vec::new();
    for name in ["bob", "carol", "dave"] {
        others.push(app.user(name).await);
    }
    let status = app.say(&alice, "group me").await;
    for (token, _) in &others {
        app.follow(token, &alice_id).await;
    }
    for (token, _) in &others {
        ok_json(post(&app, &format!("/api/v1/statuses/{status}/favourite"), token).await).await;
    }
    for (i, (token, _)) in others.iter().enumerate() {
        ok_json(post(&app, &format!("/api/v1/statuses/{status}/reblog"), token).await).await;
        eventually_v1(&app, &alice, 7 + i).await;
    }
    let mut mentions = Vec::new();
    for (i, text) in ["@alice one", "@alice two"].into_iter().enumerate() {
        mentions.push(app.say(&others[0].0, text).await);
        eventually_v1(&app, &alice, 10 + i).await;
    }
    Scene { app, alice, alice_id, others, status, mentions }
}

#[actix_web::test]
async fn favourites_reblogs_and_follows_are_grouped_and_mentions_are_not() {
    let Scene { app, alice, alice_id, others, status, mentions } = scene().await;
    let v1 = eventually_v1(&app, &alice, 11).await;
    let body = ok_json(app.get("/api/v2/notifications", Some(&alice)).await).await;
    assert_eq!(kinds(&body), vec!["mention", "mention", "reblog", "favourite", "follow"]);
    let newest_first: Vec<String> = others.iter().rev().map(|(_, id)| id.clone()).collect();
    let [m2, m1, reblog, fav, follow] = &groups(&body)[..] else { panic!("{body}") };
    // Mentions: one group each, keyed by their notification, with their status.
    assert_eq!(m2["group_key"], format!("ungrouped-{}", v1[0]["id"].as_str().unwrap()));
    assert_eq!((m2["notifications_count"].as_u64(), m1["notifications_count"].as_u64()), (Some(1), Some(1)));
    assert_eq!((&m2["status_id"], &m1["status_id"]), (&json!(mentions[1]), &json!(mentions[0])));
    assert_eq!(m2["sample_account_ids"], json!([others[0].1]));
    // The grouped ones: every notification counted, the newest accounts first.
    for (g, kind, v1_newest, v1_oldest) in
        [(reblog, "reblog", 2, 4), (fav, "favourite", 5, 7), (follow, "follow", 8, 10)]
    {
        assert_eq!(g["notifications_count"], 3, "{g}");
        assert_eq!(g["sample_account_ids"], json!(newest_first), "{g}");
        assert_eq!(g["most_recent_notification_id"], v1[v1_newest]["id"], "{g}");
        assert_eq!(g["page_max_id"], v1[v1_newest]["id"], "{g}");
        assert_eq!(g["page_min_id"], v1[v1_oldest]["id"], "{g}");
        assert_eq!(g["latest_page_notification_at"], v1[v1_newest]["created_at"], "{g}");
        assert!(g["group_key"].as_str().unwrap().starts_with(&format!("{kind}-")), "{g}");
        // The v1 entity names the same group.
        assert_eq!(g["group_key"], v1[v1_newest]["group_key"], "{g}");
        assert_eq!(g["group_key"], v1[v1_oldest]["group_key"], "{g}");
    }
    assert_eq!((&reblog["status_id"], &fav["status_id"]), (&json!(status), &json!(status)));
    assert!(follow.get("status_id").is_none(), "{follow}");
    assert_ne!(reblog["group_key"], fav["group_key"]);
    // Every account and status named, once each.
    let mut accounts = ids(&body["accounts"], "id");
    accounts.sort();
    let mut expected: Vec<String> = others.iter().map(|(_, id)| id.clone()).chain([alice_id.clone()]).collect();
    expected.sort();
    assert_eq!(accounts, expected);
    let mut statuses = ids(&body["statuses"], "id");
    statuses.sort();
    let mut expected = vec![status.clone(), mentions[0].clone(), mentions[1].clone()];
    expected.sort();
    assert_eq!(statuses, expected);
    // Filters.
    let only = ok_json(app.get("/api/v2/notifications?types[]=favourite&types[]=follow", Some(&alice)).await).await;
    assert_eq!(kinds(&only), vec!["favourite", "follow"]);
    let without = ok_json(app.get("/api/v2/notifications?exclude_types[]=mention", Some(&alice)).await).await;
    assert_eq!(kinds(&without), vec!["reblog", "favourite", "follow"]);
    let from = ok_json(app.get(&format!("/api/v2/notifications?account_id={}", others[1].1), Some(&alice)).await).await;
    assert_eq!(kinds(&from), vec!["reblog", "favourite", "follow"]);
    for g in groups(&from) {
        assert_eq!((g["notifications_count"].as_u64(), &g["sample_account_ids"]), (Some(1), &json!([others[1].1])));
    }
    let follows_only = ok_json(app.get("/api/v2/notifications?grouped_types[]=follow", Some(&alice)).await).await;
    let kinds_now = kinds(&follows_only);
    assert_eq!(kinds_now.len(), 9, "{follows_only}");
    assert_eq!(kinds_now.iter().filter(|k| **k == "favourite").count(), 3);
    for g in groups(&follows_only) {
        let key = g["group_key"].as_str().unwrap();
        if g["type"] == "follow" {
            assert_eq!(g["notifications_count"], 3);
        } else {
            assert_eq!(
                (key.to_owned(), g["notifications_count"].as_u64()),
                (format!("ungrouped-{}", g["most_recent_notification_id"].as_str().unwrap()), Some(1))
            );
        }
    }
    // One group, alone and without page fields; its accounts.
    let fav_key = fav["group_key"].as_str().unwrap();
    let one = ok_json(app.get(&format!("/api/v2/notifications/{fav_key}"), Some(&alice)).await).await;
    assert_eq!(keys(&one), vec![fav_key.to_owned()]);
    assert_eq!(one["notification_groups"][0]["notifications_count"], 3);
    assert_eq!(one["notification_groups"][0]["sample_account_ids"], json!(newest_first));
    assert!(one["notification_groups"][0].get("page_min_id").is_none());
    assert_eq!(ids(&one["statuses"], "id"), vec![status.clone()]);
    let mention_key = m1["group_key"].as_str().unwrap();
    let one = ok_json(app.get(&format!("/api/v2/notifications/{mention_key}"), Some(&alice)).await).await;
    assert_eq!(one["notification_groups"][0]["status_id"], json!(mentions[0]));
    let who = ok_json(app.get(&format!("/api/v2/notifications/{fav_key}/accounts"), Some(&alice)).await).await;
    assert_eq!(ids(&who, "id"), newest_first);
    let res = app.get(&format!("/api/v2/notifications/{fav_key}/accounts?limit=2"), Some(&alice)).await;
    let next = link(&res, "next").unwrap();
    assert_eq!(ids(&ok_json(res).await, "id"), newest_first[..2].to_vec());
    assert_eq!(ids(&ok_json(app.get(&next, Some(&alice)).await).await, "id"), newest_first[2..].to_vec());
    // Unread count: groups, capped by the limit; the same filters.
    let count = |q: &'static str| {
        let (app, alice) = (&app, &alice);
        async move {
            ok_json(app.get(&format!("/api/v2/notifications/unread_count{q}"), Some(alice)).await).await["count"]
                .clone()
        }
    };
    assert_eq!(count("").await, 5);
    assert_eq!(count("?limit=2").await, 2);
    assert_eq!(count("?types[]=mention").await, 2);
    assert_eq!(count("?exclude_types[]=mention&exclude_types[]=follow").await, 2);
    assert_eq!(count("?grouped_types[]=follow").await, 9);
    // Someone else's group is not found.
    json_with(app.get(&format!("/api/v2/notifications/{fav_key}"), Some(&others[0].0)).await, 404).await;
}

#[actix_web::test]
async fn pages_follow_the_link_header_and_hold_each_group_once() {
    let Scene { app, alice, .. } = scene().await;
    let all = keys(&ok_json(app.get("/api/v2/notifications", Some(&alice)).await).await);
    assert_eq!(all.len(), 5);
    let mut seen = Vec::new();
    let mut path = "/api/v2/notifications?limit=2".to_owned();
    let mut pages = Vec::new();
    loop {
        let res = app.get(&path, Some(&alice)).await;
        let next = link(&res, "next");
        let prev = link(&res, "prev");
        let body = ok_json(res).await;
        if groups(&body).is_empty() {
            assert!(next.is_none() && prev.is_none());
            break;
        }
        assert!(groups(&body).len() <= 2);
        seen.extend(keys(&body));
        pages.push((body, prev));
        path = next.expect("a next link");
        assert!(pages.len() < 10);
    }
    assert_eq!(seen, all);
    assert_eq!(pages.len(), 3);
    // The second page (reblogs, favourites) takes in the whole of each group: the next
    // page starts below the oldest favourite. Its `prev` link goes back to the first
    // page's groups.
    let v1 = eventually_v1(&app, &alice, 11).await;
    let (second, prev) = &pages[1];
    assert_eq!(kinds(second), vec!["reblog", "favourite"]);
    assert_eq!(groups(second)[1]["notifications_count"], 3);
    assert_eq!((&groups(second)[1]["page_max_id"], &groups(second)[1]["page_min_id"]), (&v1[5]["id"], &v1[7]["id"]));
    assert_eq!((&groups(second)[0]["page_max_id"], &groups(second)[0]["page_min_id"]), (&v1[2]["id"], &v1[4]["id"]));
    assert_eq!(kinds(&pages[2].0), vec!["follow"]);
    assert_eq!(groups(&pages[2].0)[0]["notifications_count"], 3);
    let back = ok_json(app.get(prev.as_ref().unwrap(), Some(&alice)).await).await;
    assert_eq!(keys(&back), all[..2].to_vec());
    // since_id: only the groups newer than it.
    let newest_fav = groups(second)[1]["most_recent_notification_id"].as_str().unwrap().to_owned();
    let newer = ok_json(app.get(&format!("/api/v2/notifications?since_id={newest_fav}"), Some(&alice)).await).await;
    assert_eq!(keys(&newer), all[..3].to_vec());
    // A cursor that is not an id matches nothing.
    let none = ok_json(app.get("/api/v2/notifications?max_id=abc", Some(&alice)).await).await;
    assert_eq!(none, json!({"accounts": [], "statuses": [], "notification_groups": []}));
}

#[actix_web::test]
async fn dismissing_a_group_removes_all_of_it() {
    let Scene { app, alice, .. } = scene().await;
    let body = ok_json(app.get("/api/v2/notifications", Some(&alice)).await).await;
    let (mention_key, fav_key) = (keys(&body)[1].clone(), keys(&body)[3].clone());
    assert_eq!(ok_json(post(&app, &format!("/api/v2/notifications/{fav_key}/dismiss"), &alice).await).await, json!({}));
    assert_eq!(
        ok_json(post(&app, &format!("/api/v2/notifications/{mention_key}/dismiss"), &alice).await).await,
        json!({})
    );
    let body = ok_json(app.get("/api/v2/notifications", Some(&alice)).await).await;
    assert_eq!(kinds(&body), vec!["mention", "reblog", "follow"]);
    let v1 = ok_json(app.get("/api/v1/notifications", Some(&alice)).await).await;
    assert!(v1.as_array().unwrap().iter().all(|n| n["type"] != "favourite"), "{v1}");
    assert_eq!(v1.as_array().unwrap().len(), 7);
    json_with(app.get(&format!("/api/v2/notifications/{fav_key}"), Some(&alice)).await, 404).await;
    json_with(app.get(&format!("/api/v2/notifications/{mention_key}"), Some(&alice)).await, 404).await;
    assert_eq!(
        ok_json(app.get(&format!("/api/v2/notifications/{fav_key}/accounts"), Some(&alice)).await).await,
        json!([])
    );
    // Someone else's dismiss touches nothing of alice's.
    let reblog_key = &keys(&body)[1];
    ok_json(post(&app, &format!("/api/v2/notifications/{reblog_key}/dismiss"), &app_user(&app).await).await).await;
    assert_eq!(
        ok_json(app.get(&format!("/api/v2/notifications/{reblog_key}"), Some(&alice)).await).await["notification_groups"]
            [0]["notifications_count"],
        3
    );
}

async fn app_user(app: &TestApp) -> String {
    app.user("erin").await.0
}

#[actix_web::test]
async fn blocked_and_muted_accounts_are_left_out_of_groups() {
    let Scene { app, alice, others, .. } = scene().await;
    let before = ok_json(app.get("/api/v2/notifications?exclude_types[]=mention", Some(&alice)).await).await;
    assert!(groups(&before).iter().all(|g| g["notifications_count"] == 3), "{before}");
    ok_json(app.post_json(&format!("/api/v1/accounts/{}/mute", others[1].1), Some(&alice), &json!({})).await).await;
    ok_json(app.post_json(&format!("/api/v1/accounts/{}/block", others[2].1), Some(&alice), &json!({})).await).await;
    let body = ok_json(app.get("/api/v2/notifications?exclude_types[]=mention", Some(&alice)).await).await;
    assert_eq!(kinds(&body), vec!["reblog", "favourite", "follow"]);
    for g in groups(&body) {
        assert_eq!(
            (g["notifications_count"].as_u64(), &g["sample_account_ids"]),
            (Some(1), &json!([others[0].1])),
            "{g}"
        );
    }
    let accounts = ids(&body["accounts"], "id");
    assert!(!accounts.contains(&others[1].1) && !accounts.contains(&others[2].1), "{accounts:?}");
    let key = keys(&body)[1].clone();
    let who = ok_json(app.get(&format!("/api/v2/notifications/{key}/accounts"), Some(&alice)).await).await;
    assert_eq!(ids(&who, "id"), vec![others[0].1.clone()]);
    let count = ok_json(app.get("/api/v2/notifications/unread_count?types[]=favourite", Some(&alice)).await).await;
    assert_eq!(count, json!({"count": 1}));
    // Only the hidden account's: nothing to show.
    let from = ok_json(app.get(&format!("/api/v2/notifications?account_id={}", others[2].1), Some(&alice)).await).await;
    assert!(groups(&from).is_empty(), "{from}");
}

#[actix_web::test]
async fn tokens_unknown_groups_and_bad_parameters_are_errors() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    for path in [
        "/api/v2/notifications",
        "/api/v2/notifications/unread_count",
        "/api/v2/notifications/follow-12",
        "/api/v2/notifications/follow-12/accounts",
    ] {
        assert!(json_with(app.get(path, None).await, 401).await["error"].is_string(), "{path}");
    }
    json_with(app.client.post(app.url("/api/v2/notifications/follow-12/dismiss")).send().await.unwrap(), 401).await;
    for key in ["bogus", "follow-12", "ungrouped-12345", "ungrouped-x", "unread_count-1"] {
        assert!(
            json_with(app.get(&format!("/api/v2/notifications/{key}"), Some(&alice)).await, 404).await["error"]
                .is_string()
        );
    }
    let bad = json_with(app.get("/api/v2/notifications?expand_accounts=everything", Some(&alice)).await, 400).await;
    assert!(bad["error"].as_str().unwrap().contains("expand_accounts"), "{bad}");
    json_with(app.get("/api/v2/notifications?account_id=x", Some(&alice)).await, 400).await;
    json_with(app.get("/api/v2/notifications/unread_count?account_id=x", Some(&alice)).await, 400).await;
    let fine =
        ok_json(app.get("/api/v2/notifications?expand_accounts=partial_avatars&limit=1000", Some(&alice)).await).await;
    assert_eq!(fine, json!({"accounts": [], "statuses": [], "notification_groups": []}));
    assert_eq!(ok_json(app.get("/api/v2/notifications/unread_count", Some(&alice)).await).await, json!({"count": 0}));
    // A token without the notifications scope.
    let client = app.create_app("read:statuses write:notifications").await;
    let narrow = app.password_token(&client, "alice", "read:statuses").await;
    json_with(app.get("/api/v2/notifications", Some(&narrow)).await, 403).await;
}
