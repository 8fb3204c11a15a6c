//! Mastodon entities built from stored records: Account, CredentialAccount, Role,
//! Application, Token. Field names and shapes follow Mastodon's documentation.

use serde_json::{Value, json};

use crate::auth::IssuedTokens;
use crate::domain::account::note_html;
use crate::domain::time::rfc3339_millis;
use crate::domain::{Account, Role};
use crate::storage::App;

pub const DEFAULT_AVATAR_PATH: &str = "/avatars/original/missing.png";
pub const DEFAULT_HEADER_PATH: &str = "/headers/original/missing.png";

/// The Role entity (Mastodon's defaults: everyone -99, moderator 1, admin 2).
pub fn role(role: Role) -> Value {
    match role {
        Role::User => json!({"id": "-99", "name": "", "color": "", "permissions": "65536", "highlighted": false}),
        Role::Moderator => {
            json!({"id": "1", "name": "Moderator", "color": "", "permissions": "1308", "highlighted": true})
        }
        Role::Admin => json!({"id": "2", "name": "Admin", "color": "", "permissions": "1", "highlighted": true}),
    }
}

/// The public Account entity.
pub fn account(a: &Account, base_url: &str) -> Value {
    let avatar = format!("{base_url}{DEFAULT_AVATAR_PATH}");
    let header = format!("{base_url}{DEFAULT_HEADER_PATH}");
    let roles: Vec<Value> = match a.role {
        Role::User => vec![],
        r => vec![json!({"id": role(r)["id"], "name": role(r)["name"], "color": ""})],
    };
    json!({
        "id": a.id.to_string(),
        "username": a.username,
        "acct": a.username,
        "display_name": a.display_name,
        "locked": a.locked,
        "bot": a.bot,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
        "group": false,
        "noindex": !a.discoverable,
        "hide_collections": false,
        "created_at": rfc3339_millis(a.created_at_ms),
        "note": note_html(&a.note),
        "url": format!("{base_url}/@{}", a.username),
        "uri": format!("{base_url}/users/{}", a.username),
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": a.followers_count,
        "following_count": a.following_count,
        "statuses_count": a.statuses_count,
        "last_status_at": Value::Null,
        "emojis": [],
        "fields": [],
        "roles": roles,
    })
}

/// The CredentialAccount entity: the account plus `source` and `role`, for its owner.
pub fn credential_account(a: &Account, base_url: &str) -> Value {
    let mut value = account(a, base_url);
    value["source"] = json!({
        "privacy": "public",
        "sensitive": false,
        "language": a.locale,
        "note": a.note,
        "fields": [],
        "follow_requests_count": 0,
        "hide_collections": false,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
        "attribution_domains": [],
    });
    value["role"] = role(a.role);
    value
}

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
