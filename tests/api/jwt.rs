//! RELIABILITY 9: every forged, expired, misaddressed or revoked token is a 401.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::*;

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// The claims and key id of `token`, and a signer using the server's real signing key
/// (read from its data directory), so a rejection can only come from the claims.
fn real_signer(app: &TestApp, token: &str) -> (Value, String, impl Fn(&Value, Option<&str>) -> String) {
    let parts: Vec<&str> = token.split('.').collect();
    let kid = decode_part(parts[0])["kid"].as_str().unwrap().to_owned();
    let pem = std::fs::read(app.settings.signing_key_path()).unwrap();
    let key = EncodingKey::from_ed_pem(&pem).unwrap();
    let sign = move |claims: &Value, kid: Option<&str>| {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&h, claims, &key).unwrap()
    };
    (decode_part(parts[1]), kid, sign)
}

async fn assert_invalid_token(app: &TestApp, name: &str, token: &str) {
    let res = app
        .client
        .get(app.url("/api/v1/accounts/verify_credentials"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let body = json_with(res, 401).await;
    assert_eq!(body["error"], "The access token is invalid", "{name}");
}

#[actix_web::test]
async fn forged_and_invalid_tokens_are_rejected() {
    let app = spawn_app().await;
    let good = app.register("max").await;
    ok_json(app.me(&good).await).await;
    let parts: Vec<&str> = good.split('.').collect();
    let (claims, kid, sign) = real_signer(&app, &good);
    // Sanity: our own signing of the same claims is accepted, so rejections below are real.
    ok_json(app.me(&sign(&claims, Some(&kid))).await).await;

    let now = chrono::Utc::now().timestamp();
    let with = |k: &str, v: Value| {
        let mut c = claims.clone();
        c[k] = v;
        c
    };
    let mut without_exp = claims.clone();
    without_exp.as_object_mut().unwrap().remove("exp");
    let jwks = ok_json(app.get("/.well-known/jwks.json", None).await).await;
    let public = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    let hs256 =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&public).unwrap())
            .unwrap();
    let none = format!("{}.{}.", encode_part(&json!({"alg": "none", "typ": "JWT", "kid": kid})), parts[1]);
    let tampered = format!("{}.{}.{}", parts[0], encode_part(&with("sub", json!("1"))), parts[2]);
    let cases: Vec<(&str, String)> = vec![
        ("alg none", none),
        ("HS256 with the public key", hs256),
        ("unknown kid", sign(&claims, Some("0000000000000000"))),
        ("no kid", sign(&claims, None)),
        ("expired", sign(&with("exp", json!(now - 120)), Some(&kid))),
        ("not yet valid", sign(&with("nbf", json!(now + 3600)), Some(&kid))),
        ("issued in the future", sign(&with("iat", json!(now + 3600)), Some(&kid))),
        ("missing exp", sign(&without_exp, Some(&kid))),
        ("wrong aud", sign(&with("aud", json!("someone-else")), Some(&kid))),
        ("wrong iss", sign(&with("iss", json!("https://evil.example")), Some(&kid))),
        ("unknown session", sign(&with("sid", json!("12345")), Some(&kid))),
        ("other subject", sign(&with("sub", json!("12345")), Some(&kid))),
        ("tampered payload", tampered),
        ("truncated", good[..good.len() - 3].to_owned()),
        ("garbage", "not-a-token".to_owned()),
        ("empty", String::new()),
    ];
    for (name, token) in &cases {
        assert_invalid_token(&app, name, token).await;
    }
    // A refresh token is not an access token.
    let login = app.login("max").await;
    json_with(app.me(login["refresh_token"].as_str().unwrap()).await, 401).await;
    // A revoked session's token.
    let access = login["access_token"].as_str().unwrap();
    ok_json(app.post_json("/api/v1/auth/logout", Some(access), &json!({})).await).await;
    json_with(app.me(access).await, 401).await;
    // The token also works from the access_token query parameter, and fails there too.
    ok_json(app.get(&format!("/api/v1/accounts/verify_credentials?access_token={good}"), None).await).await;
    json_with(app.get(&format!("/api/v1/accounts/verify_credentials?access_token={access}"), None).await, 401).await;
}

/// GHSA-h395-gr6q-cpjc (CVE-2026-25537): a time claim of the wrong JSON type must not
/// count as absent. Each token is otherwise valid and signed with the real key.
#[actix_web::test]
async fn wrongly_typed_time_claims_are_rejected() {
    let app = spawn_app().await;
    let good = app.register("max").await;
    let (claims, kid, sign) = real_signer(&app, &good);
    ok_json(app.me(&sign(&claims, Some(&kid))).await).await;
    let now = chrono::Utc::now().timestamp();
    // A numeric nbf in the past is fine, so only the type can make the typed cases fail.
    let mut with_nbf = claims.clone();
    with_nbf["nbf"] = json!(now - 60);
    ok_json(app.me(&sign(&with_nbf, Some(&kid))).await).await;

    let cases = [
        ("exp", json!("never")),
        ("exp", json!((now + 3600).to_string())),
        ("exp", json!({"never": true})),
        ("exp", json!({})),
        ("nbf", json!("never")),
        ("nbf", json!((now + 3600).to_string())),
        ("nbf", json!({"after": now + 3600})),
        ("nbf", json!({})),
        ("iat", json!("never")),
        ("iat", json!((now - 60).to_string())),
        ("iat", json!({"at": now - 60})),
        ("iat", json!({})),
    ];
    for (claim, value) in cases {
        let mut c = claims.clone();
        c[claim] = value.clone();
        assert_invalid_token(&app, &format!("{claim}: {value}"), &sign(&c, Some(&kid))).await;
    }
}
