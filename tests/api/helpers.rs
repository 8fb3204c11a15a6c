//! `spawn_app()` starts the real server (port 0, temporary data directory) and returns
//! a `TestApp` with typed request helpers.

use std::path::Path;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use starling::config::Settings;
use starling::startup::Application;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub settings: Settings,
    pub dir: tempfile::TempDir,
    handle: ServerHandle,
    join: Option<actix_web::rt::task::JoinHandle<Result<(), starling::error::Error>>>,
}

pub fn test_settings(dir: &Path) -> Settings {
    let mut s = Settings::load_from(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config"), "local", false).unwrap();
    s.storage.path = dir.to_path_buf();
    s.server.port = 0;
    s.server.workers = 1;
    s.log.filter = "error".into();
    s.rate_limits.enabled = false;
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// A server whose data directory already holds an admin account (`starling admin
/// create-user --role admin`, run before the start as an operator would); returns the
/// admin's password-grant token with every scope.
pub async fn spawn_with_admin(username: &str) -> (TestApp, String) {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(dir.path());
    let email = format!("{username}@example.com");
    starling::admin::create_user(&settings, username, &email, PASSWORD, "admin").await.unwrap();
    let app = start(settings, dir).await;
    let client = app.create_app("read write follow admin:read admin:write").await;
    let token = app.password_token(&client, username, "read write follow admin:read admin:write").await;
    (app, token)
}

pub async fn spawn_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    change(&mut settings);
    start(settings, dir).await
}

async fn start(settings: Settings, dir: tempfile::TempDir) -> TestApp {
    starling::telemetry::init(&settings.log);
    // A just-stopped server may still be releasing the sled lock; retry briefly.
    let mut attempts = 0;
    let app = loop {
        match Application::build(settings.clone()).await {
            Ok(app) => break app,
            Err(e) if attempts < 100 => {
                attempts += 1;
                let _ = e;
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("server did not start: {e}"),
        }
    };
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = actix_web::rt::spawn(app.run_until_stopped());
    TestApp { base, client: Client::new(), settings, dir, handle, join: Some(join) }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server gracefully and starts a new one on the same data directory.
    pub async fn restart(mut self) -> TestApp {
        self.handle.stop(true).await;
        if let Some(join) = self.join.take() {
            join.await.unwrap().unwrap();
        }
        let TestApp { settings, dir, .. } = self;
        start(settings, dir).await
    }

    /// Stops the server gracefully; returns its settings and data directory (for the
    /// offline `starling admin` tools).
    pub async fn stop(mut self) -> (Settings, tempfile::TempDir) {
        self.handle.stop(true).await;
        if let Some(join) = self.join.take() {
            join.await.unwrap().unwrap();
        }
        let TestApp { settings, dir, .. } = self;
        (settings, dir)
    }

    /// Stops the server gracefully and opens its store, as `starling admin check` does.
    pub async fn stop_and_open(self) -> (starling::storage::Store, tempfile::TempDir) {
        let (settings, dir) = self.stop().await;
        for _ in 0..100 {
            if let Ok(store) = starling::storage::Store::open(&settings.storage.path, settings.storage.node_id) {
                return (store, dir);
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the stopped server's store did not open");
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, token: Option<&str>, form: &[(&str, &str)]) -> Response {
        let mut req = self.client.post(self.url(path)).form(form);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Registers an OAuth app; returns (client_id, client_secret).
    pub async fn create_app(&self, scopes: &str) -> (String, String) {
        let body = ok_json(
            self.post_form(
                "/api/v1/apps",
                None,
                &[("client_name", "tests"), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"), ("scopes", scopes)],
            )
            .await,
        )
        .await;
        (body["client_id"].as_str().unwrap().into(), body["client_secret"].as_str().unwrap().into())
    }

    pub async fn app_token(&self, app: &(String, String), scope: &str) -> String {
        let body = ok_json(
            self.post_form(
                "/oauth/token",
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &app.0),
                    ("client_secret", &app.1),
                    ("scope", scope),
                ],
            )
            .await,
        )
        .await;
        body["access_token"].as_str().unwrap().into()
    }

    /// Registers `username` (e-mail `<username>@example.com`, password [`PASSWORD`])
    /// through a fresh app; returns the user's access token.
    pub async fn register(&self, username: &str) -> String {
        let app = self.create_app("read write follow push").await;
        let app_token = self.app_token(&app, "read write follow push").await;
        let email = format!("{username}@example.com");
        let body = ok_json(
            self.post_form(
                "/api/v1/accounts",
                Some(&app_token),
                &[
                    ("username", username),
                    ("email", &email),
                    ("password", PASSWORD),
                    ("agreement", "true"),
                    ("locale", "en"),
                ],
            )
            .await,
        )
        .await;
        body["access_token"].as_str().unwrap().into()
    }

    /// A password-grant token for an existing user.
    pub async fn password_token(&self, app: &(String, String), login: &str, scope: &str) -> String {
        let body = ok_json(
            self.post_form(
                "/oauth/token",
                None,
                &[
                    ("grant_type", "password"),
                    ("client_id", &app.0),
                    ("client_secret", &app.1),
                    ("username", login),
                    ("password", PASSWORD),
                    ("scope", scope),
                ],
            )
            .await,
        )
        .await;
        body["access_token"].as_str().unwrap().into()
    }

    /// First-party login; returns the whole token response.
    pub async fn login(&self, login: &str) -> Value {
        ok_json(self.post_json("/api/v1/auth/login", None, &json!({"username": login, "password": PASSWORD})).await)
            .await
    }

    pub async fn me(&self, token: &str) -> Response {
        self.get("/api/v1/accounts/verify_credentials", Some(token)).await
    }
}

/// Asserts a 200 with a JSON body and returns the body.
pub async fn ok_json(res: Response) -> Value {
    let status = res.status();
    let url = res.url().clone();
    let text = res.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{url}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Asserts the status, that the body is JSON (`Content-Type` included), and returns it.
pub async fn json_with(res: Response, status: u16) -> Value {
    let url = res.url().clone();
    assert_eq!(
        res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()),
        Some("application/json".to_owned()),
        "{url}"
    );
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{url}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}"))
}

impl TestApp {
    /// Registers a user and returns (token, account id).
    pub async fn user(&self, username: &str) -> (String, String) {
        let token = self.register(username).await;
        let id = ok_json(self.me(&token).await).await["id"].as_str().unwrap().to_owned();
        (token, id)
    }

    pub async fn post_status(&self, token: &str, body: Value) -> Value {
        ok_json(self.post_json("/api/v1/statuses", Some(token), &body).await).await
    }

    pub async fn say(&self, token: &str, text: &str) -> String {
        self.post_status(token, json!({ "status": text })).await["id"].as_str().unwrap().to_owned()
    }

    pub async fn follow(&self, token: &str, account_id: &str) -> Value {
        ok_json(self.post_json(&format!("/api/v1/accounts/{account_id}/follow"), Some(token), &json!({})).await).await
    }

    /// Status ids of a timeline page, newest first.
    pub async fn page_ids(&self, path: &str, token: Option<&str>) -> Vec<String> {
        let body = ok_json(self.get(path, token).await).await;
        body.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    }
}
