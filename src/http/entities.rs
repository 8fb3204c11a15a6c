//! The Application and Token entities (the OAuth side; the social entities are in
//! `crate::view`).

use serde_json::{Value, json};

use crate::auth::IssuedTokens;
use crate::storage::App;

/// The Application entity; `with_secret` adds the client credentials (creation only).
pub fn application(app: &App, client_secret: Option<&str>) -> Value {
    let scopes: Vec<&str> = app.scopes.iter().collect();
    let mut value = json!({
        "id": app.id.to_string(),
        "name": app.name,
        "website": app.website,
        "scopes": scopes,
        "redirect_uri": app.redirect_uris.join("\n"),
        "redirect_uris": app.redirect_uris,
        "vapid_key": "",
    });
    if let Some(secret) = client_secret {
        value["client_id"] = json!(app.client_id);
        value["client_secret"] = json!(secret);
        value["client_secret_expires_at"] = json!(0);
    }
    value
}

/// The Token entity, with `refresh_token` and `expires_in` when the session has them.
pub fn token(t: &IssuedTokens) -> Value {
    let mut value = json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "scope": t.scope,
        "created_at": t.created_at,
        "expires_in": t.expires_in,
    });
    if let Some(refresh) = &t.refresh_token {
        value["refresh_token"] = json!(refresh);
    }
    value
}
