use crate::helpers::*;

#[actix_web::test]
async fn instance_v1_and_v2_with_and_without_trailing_slash() {
    let app = spawn_app().await;
    for path in ["/api/v1/instance", "/api/v1/instance/"] {
        let v1 = ok_json(app.get(path, None).await).await;
        assert_eq!(v1["uri"], "localhost:8080");
        assert!(v1["version"].as_str().unwrap().starts_with("4.3.0 (compatible; starling "), "{}", v1["version"]);
        assert_eq!(v1["urls"]["streaming_api"], app.base.replace("http://", "ws://"));
        assert_eq!(v1["configuration"]["statuses"]["max_characters"], 500);
        assert_eq!(v1["registrations"], true);
    }
    for path in ["/api/v2/instance", "/api/v2/instance/"] {
        let v2 = ok_json(app.get(path, None).await).await;
        assert_eq!(v2["domain"], "localhost:8080");
        assert_eq!(v2["title"], "starling");
        assert!(v2["version"].as_str().unwrap().contains("compatible; starling"));
        assert_eq!(v2["configuration"]["urls"]["streaming"], app.base.replace("http://", "ws://"));
        assert_eq!(v2["configuration"]["statuses"]["max_characters"], 500);
        assert_eq!(v2["registrations"]["enabled"], true);
        assert!(v2["api_versions"]["mastodon"].as_u64().unwrap() >= 2);
    }
}

#[actix_web::test]
async fn settings_reach_the_instance_document() {
    let app = spawn_with(|s| {
        s.instance.max_characters = 1000;
        s.instance.domain = "social.example".into();
        s.instance.public_url = "https://social.example".into();
    })
    .await;
    let v2 = ok_json(app.get("/api/v2/instance", None).await).await;
    assert_eq!(v2["configuration"]["statuses"]["max_characters"], 1000);
    assert_eq!(v2["configuration"]["urls"]["streaming"], "wss://social.example");
    let meta = ok_json(app.get("/.well-known/oauth-authorization-server", None).await).await;
    assert_eq!(meta["token_endpoint"], "https://social.example/oauth/token");
}

#[actix_web::test]
async fn health_ready_and_jwks() {
    let app = spawn_app().await;
    assert_eq!(ok_json(app.get("/health", None).await).await["status"], "ok");
    assert_eq!(ok_json(app.get("/ready", None).await).await["status"], "ready");
    let res = app.get("/health", None).await;
    assert!(res.headers().get("x-request-id").is_some());
    let jwks = ok_json(app.get("/.well-known/jwks.json", None).await).await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    // The key id in the JWK set is the one tokens are signed with.
    let token = app.register("kim").await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
}

#[actix_web::test]
async fn browsers_may_call_the_api_from_any_origin() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/accounts/verify_credentials"))
        .header("origin", "https://elk.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("access-control-allow-origin").is_some());
    let res = app.client.get(app.url("/api/v1/instance")).header("origin", "https://elk.example").send().await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_some());
    assert!(res.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase().contains("link"));
}

/// `stats.status_count` counts statuses (reblogs not, as the accounts' `statuses_count`),
/// kept on write: right after posts, deletes (a deleted account's statuses included) and
/// a restart.
#[actix_web::test]
async fn status_count_counts_statuses_and_follows_deletes() {
    let app = spawn_app().await;
    let count = |v: serde_json::Value| v["stats"]["status_count"].as_u64().unwrap();
    assert_eq!(count(ok_json(app.get("/api/v1/instance", None).await).await), 0);
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let mut posted = Vec::new();
    for n in 0..8 {
        posted.push(app.say(&alice, &format!("post {n}")).await);
    }
    for n in 0..3 {
        app.post_status(&bob, serde_json::json!({"status": format!("bob {n}"), "visibility": "private"})).await;
    }
    let reblog = format!("/api/v1/statuses/{}/reblog", posted[0]);
    ok_json(app.post_json(&reblog, Some(&bob), &serde_json::json!({})).await).await;
    let v1 = ok_json(app.get("/api/v1/instance", None).await).await;
    assert_eq!((count(v1.clone()), v1["stats"]["user_count"].as_u64()), (11, Some(2)), "{v1}");
    let del = |id: &str| app.client.delete(app.url(&format!("/api/v1/statuses/{id}"))).bearer_auth(&alice).send();
    ok_json(del(&posted[1]).await.unwrap()).await;
    ok_json(del(&posted[0]).await.unwrap()).await; // and bob's reblog of it
    assert_eq!(count(ok_json(app.get("/api/v1/instance", None).await).await), 9);
    let app = app.restart().await;
    assert_eq!(count(ok_json(app.get("/api/v1/instance", None).await).await), 9);
    let res = app
        .client
        .delete(app.url("/api/v1/accounts/me"))
        .bearer_auth(app.login("bob").await["access_token"].as_str().unwrap())
        .json(&serde_json::json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    assert_eq!(count(ok_json(app.get("/api/v1/instance", None).await).await), 6);
}
