//! `/metrics`: Prometheus text for the holder of `metrics.token`, off otherwise.

use crate::helpers::*;

#[actix_web::test]
async fn metrics_are_served_only_with_the_token_and_count_requests_by_route() {
    let off = spawn_app().await;
    assert_eq!(off.get("/metrics", None).await.status(), 404, "no token configured: off");

    let app = spawn_with(|s| s.metrics.token = "scrape-secret".into()).await;
    let (alice, _) = app.user("alice").await;
    let id = app.say(&alice, "counted").await;
    assert_eq!(app.get(&format!("/api/v1/statuses/{id}"), Some(&alice)).await.status(), 200);
    assert_eq!(app.get("/metrics", None).await.status(), 404, "no token: looks like nothing is there");
    assert_eq!(app.get("/metrics", Some("wrong")).await.status(), 404);

    let res = app.get("/metrics", Some("scrape-secret")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    // By route pattern, never by id: one series for every status.
    assert!(
        text.lines().any(|l| l.starts_with("starling_http_requests_total")
            && l.contains(r#"route="/api/v1/statuses/{id}""#)
            && l.contains(r#"status="200""#)),
        "{text}"
    );
    assert!(!text.contains(&id), "ids must not become label values");
    for name in [
        "starling_http_request_duration_seconds_bucket",
        "starling_storage_flush_seconds_bucket",
        "starling_fanout_pending_jobs",
        "starling_timeline_actors",
        "starling_stream_connections",
        "starling_storage_size_bytes",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
}
