//! RELIABILITY 16 and 17: oversized bodies, wrong content types, malformed JSON, deep
//! nesting, invalid UTF-8 → clear 4xx JSON errors, never a 5xx.

use crate::helpers::*;

async fn raw(app: &TestApp, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    app.client.post(app.url(path)).header("content-type", content_type).body(body).send().await.unwrap()
}

#[actix_web::test]
async fn bad_bodies_get_clear_errors() {
    let app = spawn_with(|s| s.server.max_body_bytes = 32 * 1024).await;
    let big = vec![b'a'; 64 * 1024];
    let body = json_with(raw(&app, "/api/v1/apps", "application/x-www-form-urlencoded", big.clone()).await, 413).await;
    assert!(body["error"].as_str().unwrap().contains("larger than"));
    // Streamed without a Content-Length as well.
    let stream = futures_util::stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 1024])));
    let res = app
        .client
        .post(app.url("/oauth/token"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    json_with(res, 413).await;

    let body = json_with(raw(&app, "/api/v1/apps", "text/plain", b"client_name=x".to_vec()).await, 415).await;
    assert!(body["error"].as_str().unwrap().contains("Content-Type"));
    json_with(raw(&app, "/api/v1/apps", "application/json", b"{\"client_name\": ".to_vec()).await, 400).await;
    json_with(raw(&app, "/api/v1/apps", "application/json", b"[1,2]".to_vec()).await, 400).await;
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    json_with(raw(&app, "/api/v1/apps", "application/json", deep.into_bytes()).await, 400).await;
    json_with(raw(&app, "/api/v1/apps", "application/json", vec![b'{', 0xff, 0xfe, b'}']).await, 400).await;
    let body = json_with(
        raw(&app, "/api/v1/apps", "application/x-www-form-urlencoded", b"client_name=%ff%fe".to_vec()).await,
        400,
    )
    .await;
    assert!(body["error"].as_str().unwrap().contains("UTF-8"));
    json_with(raw(&app, "/api/v1/apps", "multipart/form-data; boundary=xyz", b"garbage".to_vec()).await, 400).await;
    // Wrong types for a field: 422 naming it.
    let body = json_with(
        raw(
            &app,
            "/api/v1/apps",
            "application/json",
            br#"{"client_name": {"a": 1}, "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}"#.to_vec(),
        )
        .await,
        422,
    )
    .await;
    assert!(body["error"].as_str().unwrap().contains("expected a string"), "{body}");
    let token = app.register("lou").await;
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"locked": "maybe"}"#)
        .send()
        .await
        .unwrap();
    assert!(json_with(res, 422).await["error"].as_str().unwrap().contains("boolean"));
}

#[actix_web::test]
async fn unknown_routes_and_methods_are_json() {
    let app = spawn_app().await;
    assert_eq!(json_with(app.get("/api/v1/nothing-here", None).await, 404).await["error"], "Record not found");
    // A known path with another method: 405 (`wrong_methods_are_405_with_allow_…`).
    json_with(app.client.put(app.url("/api/v1/instance")).send().await.unwrap(), 405).await;
    json_with(app.client.delete(app.url("/health")).send().await.unwrap(), 405).await;
}

#[actix_web::test]
async fn text_round_trips_exactly() {
    let app = spawn_app().await;
    let token = app.register("nia").await;
    let name = "a\u{200d}b\u{202e}c👩‍👩‍👧";
    let note = "nul:\u{0} rtl:\u{202e} zwj:\u{200d} <script>alert(1)</script> & \"q\"";
    let res = app
        .client
        .patch(app.url("/api/v1/accounts/update_credentials"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"display_name": name, "note": note}))
        .send()
        .await
        .unwrap();
    let me = ok_json(res).await;
    assert_eq!(me["display_name"], name);
    assert_eq!(me["source"]["note"], note);
    let html = me["note"].as_str().unwrap();
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
}

/// A known path asked with a method it does not take: 405 with `Allow` and a JSON body
/// (it used to fall through to the 404 of unknown paths); unknown paths stay 404.
#[actix_web::test]
async fn wrong_methods_are_405_with_allow_and_unknown_paths_stay_404() {
    let app = spawn_app().await;
    let token = app.register("meth").await;
    let status = app.say(&token, "hello").await;
    let cases: [(reqwest::Method, String, &str); 7] = [
        (reqwest::Method::DELETE, "/api/v1/timelines/home".into(), "GET"),
        (reqwest::Method::PUT, "/api/v1/statuses".into(), "POST"),
        (reqwest::Method::PATCH, format!("/api/v1/statuses/{status}"), "GET, PUT, DELETE"),
        (reqwest::Method::POST, "/api/v1/timelines/home/".into(), "GET"),
        (reqwest::Method::GET, "/api/v1/statuses/1/favourite".into(), "POST"),
        (reqwest::Method::DELETE, "/api/v1/accounts/verify_credentials".into(), "GET"),
        (reqwest::Method::HEAD, "/api/v1/instance".into(), "GET"),
    ];
    for (method, path, allow) in cases {
        let res = app.client.request(method.clone(), app.url(&path)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers().get("allow").map(|v| v.to_str().unwrap()), Some(allow), "{method} {path}");
        if method == reqwest::Method::HEAD {
            continue; // no body to read
        }
        let body = json_with(res, 405).await;
        assert_eq!(body, serde_json::json!({"error": "Method not allowed"}), "{method} {path}");
    }
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/nothing"),
        (reqwest::Method::DELETE, "/api/v1/nothing/here"),
        (reqwest::Method::PUT, "/nope"),
        (reqwest::Method::DELETE, "/api/v1/streaming/nonsense"),
    ] {
        let res = app.client.request(method.clone(), app.url(path)).bearer_auth(&token).send().await.unwrap();
        assert!(res.headers().get("allow").is_none(), "{method} {path}");
        assert_eq!(json_with(res, 404).await, serde_json::json!({"error": "Record not found"}), "{method} {path}");
    }
    // The right method still reaches its handler.
    ok_json(app.get("/api/v1/timelines/home", Some(&token)).await).await;
    ok_json(
        app.client.delete(app.url(&format!("/api/v1/statuses/{status}"))).bearer_auth(&token).send().await.unwrap(),
    )
    .await;
}
