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

/// Renders statuses for one viewer: author accounts, counts, the viewer's own flags,
/// mentions and tags, and the reblogged original nested in a reblog.
pub struct StatusRenderer<'a> {
    pub store: &'a crate::storage::Store,
    pub base_url: String,
    pub domain: String,
    pub viewer: Option<crate::domain::Id>,
    accounts: std::cell::RefCell<std::collections::HashMap<crate::domain::Id, Option<Value>>>,
}

impl<'a> StatusRenderer<'a> {
    pub fn new(
        store: &'a crate::storage::Store,
        base_url: String,
        domain: String,
        viewer: Option<crate::domain::Id>,
    ) -> Self {
        Self { store, base_url, domain, viewer, accounts: Default::default() }
    }

    fn account(&self, id: crate::domain::Id) -> Result<Option<Value>, crate::storage::StorageError> {
        if let Some(cached) = self.accounts.borrow().get(&id) {
            return Ok(cached.clone());
        }
        let value = self.store.account(id)?.map(|a| account(&a, &self.base_url));
        self.accounts.borrow_mut().insert(id, value.clone());
        Ok(value)
    }

    /// The Status entity, or `None` when its author (or reblogged original) is gone.
    pub fn status(&self, s: &crate::domain::Status) -> Result<Option<Value>, crate::storage::StorageError> {
        use crate::domain::status::render_html;
        let Some(author) = self.account(s.account_id)? else { return Ok(None) };
        let reblog = match s.reblog_of {
            Some(original) => match self.store.status(original)? {
                Some(o) => match self.status(&o)? {
                    Some(v) => Some(v),
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
            None => None,
        };
        let counters = self.store.counters(s.id)?;
        let (reblogged, favourited, bookmarked) = match self.viewer {
            Some(v) if s.reblog_of.is_none() => (
                self.store.reblog_by(s.id, v)?.is_some(),
                self.store.has_mark(crate::storage::Mark::Favourite, v, s.id)?,
                self.store.has_mark(crate::storage::Mark::Bookmark, v, s.id)?,
            ),
            _ => (false, false, false),
        };
        let username = author["username"].as_str().unwrap_or_default().to_owned();
        let domain = self.domain.clone();
        let content = if s.reblog_of.is_some() {
            String::new()
        } else {
            render_html(&s.text, &self.base_url, &s.mentions, |d| d.eq_ignore_ascii_case(&domain))
        };
        let mentions: Vec<Value> = s
            .mentions
            .iter()
            .map(|m| {
                json!({
                    "id": m.account_id.to_string(),
                    "username": m.username,
                    "acct": m.username,
                    "url": format!("{}/@{}", self.base_url, m.username),
                })
            })
            .collect();
        let tags: Vec<Value> =
            s.tags.iter().map(|t| json!({ "name": t, "url": format!("{}/tags/{t}", self.base_url) })).collect();
        let (favourited, reblogged, bookmarked) = match &reblog {
            Some(r) => (r["favourited"].clone(), r["reblogged"].clone(), r["bookmarked"].clone()),
            None => (json!(favourited), json!(reblogged), json!(bookmarked)),
        };
        Ok(Some(json!({
            "id": s.id.to_string(),
            "uri": format!("{}/users/{username}/statuses/{}", self.base_url, s.id),
            "url": if s.reblog_of.is_some() { Value::Null } else { json!(format!("{}/@{username}/{}", self.base_url, s.id)) },
            "created_at": rfc3339_millis(s.created_at_ms),
            "edited_at": s.edited_at_ms.map(rfc3339_millis),
            "account": author,
            "content": content,
            "visibility": s.visibility.as_str(),
            "sensitive": s.sensitive,
            "spoiler_text": s.spoiler_text,
            "media_attachments": [],
            "application": Value::Null,
            "mentions": mentions,
            "tags": tags,
            "emojis": [],
            "reblogs_count": counters.reblogs,
            "favourites_count": counters.favourites,
            "replies_count": counters.replies,
            "in_reply_to_id": s.in_reply_to_id.map(|i| i.to_string()),
            "in_reply_to_account_id": s.in_reply_to_account_id.map(|i| i.to_string()),
            "reblog": reblog,
            "poll": Value::Null,
            "card": Value::Null,
            "language": s.language,
            "text": Value::Null,
            "favourited": favourited,
            "reblogged": reblogged,
            "muted": false,
            "bookmarked": bookmarked,
            "pinned": false,
            "filtered": [],
        })))
    }

    /// Renders the statuses that still exist, in the given order.
    pub fn statuses(&self, ids: &[crate::domain::Id]) -> Result<Vec<Value>, crate::storage::StorageError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.store.status(*id)?
                && let Some(v) = self.status(&s)?
            {
                out.push(v);
            }
        }
        Ok(out)
    }
}
