//! Rate limits: headers on every API answer, 429 with a JSON body past the limit, fine
//! again after the period; sign-up and token grants have their own, stricter limit.

use std::time::Duration;

use crate::helpers::*;

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers().get(name).unwrap_or_else(|| panic!("{name} missing")).to_str().unwrap().to_owned()
}

#[actix_web::test]
async fn api_requests_are_limited_per_address_with_headers() {
    let app = spawn_with(|s| {
        s.rate_limits.enabled = true;
        s.rate_limits.api_requests = 5;
        s.rate_limits.api_period_secs = 1;
    })
    .await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let res = app.get("/api/v1/instance", None).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "x-ratelimit-limit"), "5");
        chrono_like(&header(&res, "x-ratelimit-reset"));
        remaining.push(header(&res, "x-ratelimit-remaining").parse::<u32>().unwrap());
    }
    assert_eq!(remaining, vec![4, 3, 2, 1, 0]);
    let res = app.get("/api/v1/instance", None).await;
    assert_eq!(res.status(), 429);
    assert_eq!(header(&res, "x-ratelimit-remaining"), "0");
    assert!(res.headers().contains_key("x-ratelimit-reset"));
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["error"], "Too many requests");
    // Health is not part of the API: never limited.
    assert_eq!(app.get("/health", None).await.status(), 200);
    // After the period the client is whole again.
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    let res = app.get("/api/v1/instance", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-ratelimit-remaining"), "4");
}

#[actix_web::test]
async fn sign_up_and_token_grants_have_a_stricter_limit() {
    let app = spawn_with(|s| {
        s.rate_limits.enabled = true;
        s.rate_limits.api_requests = 1000;
        s.rate_limits.auth_requests = 2;
        s.rate_limits.auth_period_secs = 60;
    })
    .await;
    let client = app.create_app("read write").await;
    let form = [("grant_type", "client_credentials"), ("client_id", &client.0), ("client_secret", &client.1)];
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = app.post_form("/oauth/token", None, &form).await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            assert_eq!(header(&res, "x-ratelimit-limit"), "2");
        }
    }
    assert_eq!(statuses, vec![200, 200, 429]);
    // Other API calls from the same address still pass (their limit is separate).
    assert_eq!(app.get("/api/v1/instance", None).await.status(), 200);
}

/// `2026-11-21T20:25:00.000Z`-shaped.
fn chrono_like(value: &str) {
    assert!(value.len() == 24 && value.ends_with('Z') && value.as_bytes()[10] == b'T', "reset {value}");
}
