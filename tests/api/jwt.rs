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

#[actix_web::test]
async fn forged_and_invalid_tokens_are_rejected() {
    let app = spawn_app().await;
    let good = app.register("max").await;
    ok_json(app.me(&good).await).await;
    let parts: Vec<&str> = good.split('.').collect();
    let header = decode_part(parts[0]);
    let claims = decode_part(parts[1]);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let pem = std::fs::read(app.dir.path().join("jwt_ed25519.pem")).unwrap();
    let key = EncodingKey::from_ed_pem(&pem).unwrap();
    let sign = |claims: &Value, kid: Option<&str>| {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&h, claims, &key).unwrap()
    };
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&public)).unwrap();
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
