use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::*;

#[actix_web::test]
async fn apps_accept_json_form_and_multipart_and_validate() {
    let app = spawn_app().await;
    let res = app
        .post_json("/api/v1/apps", None, &json!({"client_name": "j", "redirect_uris": ["https://app.example/cb", "urn:ietf:wg:oauth:2.0:oob"], "scopes": "read write:statuses"}))
        .await;
    let body = ok_json(res).await;
    assert_eq!(body["redirect_uris"], json!(["https://app.example/cb", "urn:ietf:wg:oauth:2.0:oob"]));
    assert_eq!(body["scopes"], json!(["read", "write:statuses"]));
    assert!(body["client_id"].is_string() && body["client_secret"].is_string());
    let form =
        reqwest::multipart::Form::new().text("client_name", "m").text("redirect_uris", "urn:ietf:wg:oauth:2.0:oob");
    let body = ok_json(app.client.post(app.url("/api/v1/apps")).multipart(form).send().await.unwrap()).await;
    assert_eq!(body["scopes"], json!(["read"]), "default scope is read");
    let body = json_with(app.post_form("/api/v1/apps", None, &[("client_name", "x")]).await, 422).await;
    assert!(body["details"]["redirect_uri"].is_array(), "{body}");
    let body = json_with(
        app.post_form(
            "/api/v1/apps",
            None,
            &[("client_name", "x"), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"), ("scopes", "read nonsense")],
        )
        .await,
        422,
    )
    .await;
    assert!(body["error"].as_str().unwrap().contains("nonsense"));
    json_with(app.post_form("/api/v1/apps", None, &[("client_name", "x"), ("redirect_uris", "not a uri")]).await, 422)
        .await;
    json_with(app.post_form("/api/v1/apps", None, &[("redirect_uris", "urn:ietf:wg:oauth:2.0:oob")]).await, 422).await;
}

#[actix_web::test]
async fn app_verify_credentials() {
    let app = spawn_app().await;
    let client = app.create_app("read write").await;
    let token = app.app_token(&client, "read").await;
    let body = ok_json(app.get("/api/v1/apps/verify_credentials", Some(&token)).await).await;
    assert_eq!(body["name"], "tests");
    assert!(body.get("client_secret").is_none());
    json_with(app.get("/api/v1/apps/verify_credentials", None).await, 401).await;
}

#[actix_web::test]
async fn metadata_lists_grants_and_absolute_endpoints() {
    let app = spawn_app().await;
    let meta = ok_json(app.get("/.well-known/oauth-authorization-server", None).await).await;
    let grants: Vec<&str> =
        meta["grant_types_supported"].as_array().unwrap().iter().map(|g| g.as_str().unwrap()).collect();
    for g in ["authorization_code", "password", "client_credentials", "refresh_token"] {
        assert!(grants.contains(&g), "{g}");
    }
    assert_eq!(meta["token_endpoint"], app.url("/oauth/token"));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
}

#[actix_web::test]
async fn password_grant_with_email_or_username_and_uniform_failures() {
    let app = spawn_app().await;
    app.register("ann").await;
    let client = app.create_app("read write follow push").await;
    let res = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &client.0),
                ("client_secret", &client.1),
                ("username", "ann@example.com"),
                ("password", PASSWORD),
                ("scope", "read write follow push"),
            ],
        )
        .await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = ok_json(res).await;
    assert_eq!(body["scope"], "read write follow push");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["created_at"].is_i64());
    ok_json(app.me(body["access_token"].as_str().unwrap()).await).await;
    app.password_token(&client, "ann", "read").await;

    // Unknown user and wrong password: identical answers.
    let attempt = |login: &'static str, password: &'static str| {
        let (app, client) = (&app, client.clone());
        async move {
            let res = app
                .post_form(
                    "/oauth/token",
                    None,
                    &[
                        ("grant_type", "password"),
                        ("client_id", &client.0),
                        ("client_secret", &client.1),
                        ("username", login),
                        ("password", password),
                    ],
                )
                .await;
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let wrong = attempt("ann", "wrong password").await;
    let unknown = attempt("nobody", "wrong password").await;
    assert_eq!(wrong.0, 400);
    assert_eq!(wrong, unknown);
    assert!(wrong.1.contains("invalid_grant"));

    // Client authentication and scope checks.
    let res = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &client.0),
                ("client_secret", "wrong"),
                ("username", "ann"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(json_with(res, 401).await["error"], "invalid_client");
    let res = app
        .post_form("/oauth/token", None, &[("grant_type", "password"), ("username", "ann"), ("password", PASSWORD)])
        .await;
    json_with(res, 401).await;
    let narrow = app.create_app("read").await;
    let res = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &narrow.0),
                ("client_secret", &narrow.1),
                ("username", "ann"),
                ("password", PASSWORD),
                ("scope", "read write"),
            ],
        )
        .await;
    assert_eq!(json_with(res, 400).await["error"], "invalid_scope");
    let res = app
        .post_form(
            "/oauth/token",
            None,
            &[("grant_type", "magic"), ("client_id", &client.0), ("client_secret", &client.1)],
        )
        .await;
    assert_eq!(json_with(res, 400).await["error"], "unsupported_grant_type");
    // HTTP Basic client authentication and a JSON body.
    let res = app
        .client
        .post(app.url("/oauth/token"))
        .header("authorization", format!("Basic {}", STANDARD.encode(format!("{}:{}", client.0, client.1))))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok_json(res).await["scope"], "read write follow push");
    // Multipart body, as masto.js sends it.
    let form = reqwest::multipart::Form::new()
        .text("grant_type", "password")
        .text("client_id", client.0.clone())
        .text("client_secret", client.1.clone())
        .text("username", "ann")
        .text("password", PASSWORD)
        .text("scope", "read");
    ok_json(app.client.post(app.url("/oauth/token")).multipart(form).send().await.unwrap()).await;
}

fn code_from_page(html: &str) -> String {
    let start = html.find("<code id=\"code\">").expect("code element") + "<code id=\"code\">".len();
    let end = html[start..].find("</code>").unwrap();
    html[start..start + end].to_owned()
}

#[actix_web::test]
async fn authorization_code_with_pkce_and_out_of_band_page() {
    let app = spawn_app().await;
    app.register("bea").await;
    let client = app.create_app("read write").await;
    let verifier = "a-very-long-verifier-string-0123456789-abcdefghijklmnop";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let query = format!(
        "/oauth/authorize?client_id={}&redirect_uri=urn:ietf:wg:oauth:2.0:oob&response_type=code&scope=read&code_challenge={challenge}&code_challenge_method=S256",
        client.0
    );
    let page = app.get(&query, None).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_authorize_page_csp(&page);
    let html = page.text().await.unwrap();
    assert!(html.contains("<form") && html.contains("name=\"password\""));
    let authorize = |password: &'static str| {
        let (app, client, challenge) = (&app, client.clone(), challenge.clone());
        async move {
            app.post_form(
                "/oauth/authorize",
                None,
                &[
                    ("client_id", client.0.as_str()),
                    ("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
                    ("response_type", "code"),
                    ("scope", "read"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                    ("login", "bea@example.com"),
                    ("password", password),
                    ("decision", "approve"),
                ],
            )
            .await
        }
    };
    let again = authorize("wrong password").await;
    assert_eq!(again.status(), 401);
    assert_authorize_page_csp(&again);
    let code = code_from_page(&authorize(PASSWORD).await.text().await.unwrap());
    let exchange = |code: String, verifier: &'static str| {
        let (app, client) = (&app, client.clone());
        async move {
            app.post_form(
                "/oauth/token",
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &client.0),
                    ("client_secret", &client.1),
                    ("code", &code),
                    ("redirect_uri", "urn:ietf:wg:oauth:2.0:oob"),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    // A wrong verifier fails, and burns the code.
    json_with(exchange(code.clone(), "wrong-verifier").await, 400).await;
    json_with(exchange(code, verifier).await, 400).await;
    let code = code_from_page(&authorize(PASSWORD).await.text().await.unwrap());
    let body = ok_json(exchange(code.clone(), verifier).await).await;
    assert_eq!(body["scope"], "read");
    ok_json(app.me(body["access_token"].as_str().unwrap()).await).await;
    // A code works once.
    assert_eq!(json_with(exchange(code, verifier).await, 400).await["error"], "invalid_grant");
    // Unknown client: an HTML error page, not a form, still with form-action.
    let res = app.get("/oauth/authorize?client_id=nope&response_type=code", None).await;
    assert_eq!(res.status(), 400);
    assert_eq!(csp(&res), "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
}

fn csp(res: &reqwest::Response) -> &str {
    res.headers()["content-security-policy"].to_str().unwrap()
}

/// The login-and-consent page keeps its policy but for `form-action`: browsers apply it to
/// the redirect after the form post, which goes to the app's redirect URI (another origin
/// or scheme); with `form-action 'self'` the person would stay on the page
/// (tests/browser/oauth_authorize.py checks that in a browser).
fn assert_authorize_page_csp(res: &reqwest::Response) {
    assert_eq!(csp(res), "default-src 'none'; style-src 'unsafe-inline'");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

#[actix_web::test]
async fn authorization_code_redirects_with_state() {
    let app = spawn_app().await;
    app.register("cid").await;
    let body = ok_json(
        app.post_form(
            "/api/v1/apps",
            None,
            &[("client_name", "web"), ("redirect_uris", "https://client.example/cb"), ("scopes", "read")],
        )
        .await,
    )
    .await;
    let (id, secret) = (body["client_id"].as_str().unwrap(), body["client_secret"].as_str().unwrap());
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_redirects
        .post(app.url("/oauth/authorize"))
        .form(&[
            ("client_id", id),
            ("redirect_uri", "https://client.example/cb"),
            ("response_type", "code"),
            ("state", "xyz"),
            ("login", "cid"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with("https://client.example/cb?"));
    let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], "xyz");
    let res = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("client_secret", secret),
                ("code", &pairs["code"]),
                ("redirect_uri", "https://client.example/cb"),
            ],
        )
        .await;
    ok_json(res).await;
    // An unregistered redirect URI is refused.
    let res = no_redirects
        .get(app.url(&format!("/oauth/authorize?client_id={id}&redirect_uri=https://evil.example/&response_type=code")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[actix_web::test]
async fn refresh_grant_and_revoke() {
    let app = spawn_app().await;
    app.register("dan").await;
    let client = app.create_app("read write").await;
    let body = ok_json(
        app.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("client_id", &client.0),
                ("client_secret", &client.1),
                ("username", "dan"),
                ("password", PASSWORD),
                ("scope", "read"),
            ],
        )
        .await,
    )
    .await;
    let refresh = body["refresh_token"].as_str().unwrap();
    let access = body["access_token"].as_str().unwrap();
    assert!(body["expires_in"].as_i64().unwrap() > 24 * 3600, "OAuth tokens live long");
    let renewed = ok_json(
        app.post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client.0),
                ("client_secret", &client.1),
                ("refresh_token", refresh),
            ],
        )
        .await,
    )
    .await;
    let new_access = renewed["access_token"].as_str().unwrap();
    ok_json(app.me(new_access).await).await;
    // Another client cannot use this refresh token.
    let other = app.create_app("read").await;
    let res = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &other.0),
                ("client_secret", &other.1),
                ("refresh_token", renewed["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    json_with(res, 400).await;
    // Revoking needs the owning client; then the token is dead at once.
    ok_json(
        app.post_form(
            "/oauth/revoke",
            None,
            &[("client_id", &other.0), ("client_secret", &other.1), ("token", new_access)],
        )
        .await,
    )
    .await;
    ok_json(app.me(new_access).await).await;
    ok_json(
        app.post_form(
            "/oauth/revoke",
            None,
            &[("client_id", &client.0), ("client_secret", &client.1), ("token", new_access)],
        )
        .await,
    )
    .await;
    assert_eq!(json_with(app.me(new_access).await, 401).await["error"], "The access token is invalid");
    json_with(app.me(access).await, 401).await;
    // Revoking an unknown token is still 200; a bad client is 401.
    ok_json(
        app.post_form(
            "/oauth/revoke",
            None,
            &[("client_id", &client.0), ("client_secret", &client.1), ("token", "garbage")],
        )
        .await,
    )
    .await;
    json_with(
        app.post_form("/oauth/revoke", None, &[("client_id", &client.0), ("client_secret", "x"), ("token", "garbage")])
            .await,
        401,
    )
    .await;
}
