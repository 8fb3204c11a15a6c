//! Moderation: reports, the admin API (staff only), suspension, and the measures.

use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn every_admin_route_refuses_users_without_the_role() {
    let (app, admin) = spawn_with_admin("root").await;
    let client = app.create_app("read write follow admin:read admin:write").await;
    app.register("plain").await;
    // A user holding the admin scopes but not the role.
    let user = app.password_token(&client, "plain", "read write follow admin:read admin:write").await;
    let me = ok_json(app.me(&user).await).await["id"].as_str().unwrap().to_owned();
    let routes: Vec<(&str, String)> = vec![
        ("GET", "/api/v1/admin/accounts".into()),
        ("GET", format!("/api/v1/admin/accounts/{me}")),
        ("POST", format!("/api/v1/admin/accounts/{me}/action")),
        ("POST", format!("/api/v1/admin/accounts/{me}/unsuspend")),
        ("GET", "/api/v1/admin/reports".into()),
        ("GET", "/api/v1/admin/reports/1".into()),
        ("POST", "/api/v1/admin/reports/1/resolve".into()),
        ("POST", "/api/v1/admin/measures".into()),
    ];
    for (method, path) in &routes {
        let res = match *method {
            "GET" => app.get(path, Some(&user)).await,
            _ => app.post_json(path, Some(&user), &json!({})).await,
        };
        assert_eq!(res.status(), 403, "{method} {path}");
        assert!(res.json::<Value>().await.unwrap()["error"].is_string());
        let anonymous = match *method {
            "GET" => app.get(path, None).await,
            _ => app.post_json(path, None, &json!({})).await,
        };
        assert_eq!(anonymous.status(), 401, "{method} {path} without a token");
    }
    // Staff without the admin scopes: 403 too.
    let narrow = app.password_token(&client, "root", "read write").await;
    assert_eq!(app.get("/api/v1/admin/accounts", Some(&narrow)).await.status(), 403);
    // And the admin gets through.
    let list = ok_json(app.get("/api/v1/admin/accounts", Some(&admin)).await).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0]["account"]["username"].is_string());
}

#[actix_web::test]
async fn reports_are_filed_listed_and_resolved_and_suspension_hides_everything() {
    let (app, admin) = spawn_with_admin("root").await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    app.follow(&bob, &alice_id).await;
    let bad = app.say(&alice, "something reportable").await;

    // Bad input is a clear 4xx.
    let res = app.post_json("/api/v1/reports", Some(&bob), &json!({ "comment": "no target" })).await;
    assert_eq!(res.status(), 422);
    let res =
        app.post_json("/api/v1/reports", Some(&bob), &json!({ "account_id": alice_id, "category": "nonsense" })).await;
    assert_eq!(res.status(), 422);

    let report = ok_json(
        app.post_json(
            "/api/v1/reports",
            Some(&bob),
            &json!({ "account_id": alice_id, "status_ids": [bad], "comment": "spam", "category": "spam" }),
        )
        .await,
    )
    .await;
    assert_eq!(report["action_taken"], false);
    assert_eq!(report["target_account"]["id"], alice_id);
    let report_id = report["id"].as_str().unwrap().to_owned();

    let open = ok_json(app.get("/api/v1/admin/reports", Some(&admin)).await).await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["statuses"][0]["id"], bad);
    assert_eq!(open[0]["target_account"]["username"], "alice");

    // Suspend through the report: it is resolved, alice is locked out and hidden.
    let res = app
        .post_json(
            &format!("/api/v1/admin/accounts/{alice_id}/action"),
            Some(&admin),
            &json!({ "type": "suspend", "report_id": report_id }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.me(&alice).await.status(), 401, "her tokens stop working");
    let client = app.create_app("read write").await;
    let res = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &client.0),
                ("client_secret", &client.1),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(res.status().is_client_error(), "a suspended account cannot log in");
    assert_eq!(app.get(&format!("/api/v1/statuses/{bad}"), Some(&bob)).await.status(), 404);
    assert!(!app.page_ids("/api/v1/timelines/home", Some(&bob)).await.contains(&bad));
    assert!(!app.page_ids("/api/v1/timelines/public", None).await.contains(&bad));
    let shown = ok_json(app.get(&format!("/api/v1/admin/accounts/{alice_id}"), Some(&admin)).await).await;
    assert_eq!(shown["suspended"], true);
    let suspended = ok_json(app.get("/api/v1/admin/accounts?suspended=true", Some(&admin)).await).await;
    assert_eq!(suspended.as_array().unwrap().len(), 1);

    let resolved = ok_json(app.get("/api/v1/admin/reports?resolved=true", Some(&admin)).await).await;
    assert_eq!(resolved[0]["action_taken"], true);
    assert!(resolved[0]["action_taken_by_account"]["username"] == "root");
    assert!(ok_json(app.get("/api/v1/admin/reports", Some(&admin)).await).await.as_array().unwrap().is_empty());

    // Lifting the suspension shows her posts again.
    let res = app.post_json(&format!("/api/v1/admin/accounts/{alice_id}/unsuspend"), Some(&admin), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/statuses/{bad}"), Some(&bob)).await.status(), 200);
}

#[actix_web::test]
async fn measures_count_users_interactions_and_reports_by_day() {
    let (app, admin) = spawn_with_admin("root").await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let post = app.say(&alice, "hello").await;
    assert_eq!(
        app.post_json(&format!("/api/v1/statuses/{post}/favourite"), Some(&bob), &json!({})).await.status(),
        200
    );
    app.post_status(&bob, json!({ "status": "a reply", "in_reply_to_id": post })).await;
    let report = json!({ "account_id": alice_id, "comment": "x" });
    ok_json(app.post_json("/api/v1/reports", Some(&bob), &report).await).await;

    let today = &chrono_today();
    let body = json!({
        "keys": ["active_users", "new_users", "interactions", "opened_reports", "resolved_reports", "unknown_key"],
        "start_at": today, "end_at": today,
    });
    let measures = ok_json(app.post_json("/api/v1/admin/measures", Some(&admin), &body).await).await;
    let total = |key: &str| -> String {
        measures.as_array().unwrap().iter().find(|m| m["key"] == key).unwrap()["total"].as_str().unwrap().to_owned()
    };
    assert_eq!(total("new_users"), "3", "root, alice, bob");
    assert_eq!(total("interactions"), "2", "a favourite and a reply");
    assert_eq!(total("opened_reports"), "1");
    assert_eq!(total("resolved_reports"), "0");
    assert_eq!(total("active_users"), "3");
    assert_eq!(measures.as_array().unwrap().len(), 5, "unknown keys are left out");
    let data = &measures[0]["data"];
    assert_eq!(data.as_array().unwrap().len(), 1);
    assert!(data[0]["date"].as_str().unwrap().starts_with(today.as_str()));
    // Bad dates are a 400.
    let res = app
        .post_json("/api/v1/admin/measures", Some(&admin), &json!({ "keys": ["new_users"], "start_at": "soon" }))
        .await;
    assert_eq!(res.status(), 400);
}

fn chrono_today() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let days = secs.div_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
