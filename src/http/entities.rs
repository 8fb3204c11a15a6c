//! Mastodon entities built from stored records: Account, CredentialAccount, Role,
//! Application, Token. Field names and shapes follow Mastodon's documentation.

use serde_json::{Value, json};

use crate::auth::IssuedTokens;
use crate::domain::account::note_html;
use crate::domain::time::rfc3339_millis;
use crate::domain::{Account, Role, Status};
use crate::storage::App;
use crate::storage::rendered::Rendered;

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
///
/// What does not depend on the viewer or on counts (the status's own fields, the
/// author's Account) is rendered once and kept by the store beside the record
/// ([`Store::rendered_status`](crate::storage::Store::rendered_status)), so a page is
/// mostly copied text: counts and the viewer's flags are the only fields read per request.
pub struct StatusRenderer<'a> {
    pub store: &'a crate::storage::Store,
    pub base_url: String,
    pub domain: String,
    pub viewer: Option<crate::domain::Id>,
}

type RenderResult<T> = Result<T, crate::storage::StorageError>;

/// The viewer's own marks on a status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    reblogged: bool,
    favourited: bool,
    bookmarked: bool,
}

impl<'a> StatusRenderer<'a> {
    pub fn new(
        store: &'a crate::storage::Store,
        base_url: String,
        domain: String,
        viewer: Option<crate::domain::Id>,
    ) -> Self {
        Self { store, base_url, domain, viewer }
    }

    /// The author's Account entity as JSON text, or `None` when the account is gone.
    fn account_json(&self, id: crate::domain::Id) -> RenderResult<Option<std::sync::Arc<Rendered<Account>>>> {
        self.store.rendered_account(id, &self.base_url, |a| Ok(Some(to_json(&account(a, &self.base_url)))))
    }

    /// The fields of a status that depend neither on the viewer nor on counts, as the
    /// inside of a JSON object (no braces).
    fn own_fields(&self, s: &Status, username: &str) -> String {
        use crate::domain::status::render_html;
        let content = if s.reblog_of.is_some() {
            String::new()
        } else {
            render_html(&s.text, &self.base_url, &s.mentions, |d| d.eq_ignore_ascii_case(&self.domain))
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
        let fields = json!({
            "id": s.id.to_string(),
            "uri": format!("{}/users/{username}/statuses/{}", self.base_url, s.id),
            "url": if s.reblog_of.is_some() { Value::Null } else { json!(format!("{}/@{username}/{}", self.base_url, s.id)) },
            "created_at": rfc3339_millis(s.created_at_ms),
            "edited_at": s.edited_at_ms.map(rfc3339_millis),
            "content": content,
            "visibility": s.visibility.as_str(),
            "sensitive": s.sensitive,
            "spoiler_text": s.spoiler_text,
            "media_attachments": [],
            "application": Value::Null,
            "mentions": mentions,
            "tags": tags,
            "emojis": [],
            "in_reply_to_id": s.in_reply_to_id.map(|i| i.to_string()),
            "in_reply_to_account_id": s.in_reply_to_account_id.map(|i| i.to_string()),
            "poll": Value::Null,
            "card": Value::Null,
            "language": s.language,
            "text": Value::Null,
            "muted": false,
            "pinned": false,
            "filtered": [],
        });
        let text = to_json(&fields);
        text[1..text.len() - 1].to_owned()
    }

    /// Appends the Status entity of `s` (its own fields already rendered) to `out` and
    /// returns the viewer's flags on it; `None`, with `out` unchanged, when its author or
    /// reblogged original is gone.
    fn write_entity(&self, out: &mut String, s: &Status, own_fields: &str) -> RenderResult<Option<Flags>> {
        let Some(author) = self.account_json(s.account_id)? else { return Ok(None) };
        // A reblog carries its original's flags, as on Mastodon: read once, for the original.
        let (reblog, flags) = match s.reblog_of {
            Some(original) => {
                let mut text = String::new();
                let Some(flags) = self.write_stored(&mut text, original)? else { return Ok(None) };
                (Some(text), flags)
            }
            None => (None, self.flags(s.id)?),
        };
        let counters = self.store.counters(s.id)?;
        let Flags { reblogged, favourited, bookmarked } = flags;
        use std::fmt::Write;
        out.reserve(own_fields.len() + author.text.len() + reblog.as_ref().map_or(0, String::len) + 200);
        out.push('{');
        out.push_str(own_fields);
        out.push_str(",\"account\":");
        out.push_str(&author.text);
        let _ = write!(
            out,
            ",\"reblogs_count\":{},\"favourites_count\":{},\"replies_count\":{},\"favourited\":{favourited},\"reblogged\":{reblogged},\"bookmarked\":{bookmarked},\"reblog\":",
            counters.reblogs, counters.favourites, counters.replies
        );
        out.push_str(reblog.as_deref().unwrap_or("null"));
        out.push('}');
        Ok(Some(flags))
    }

    /// The viewer's own marks on status `id` (none for a logged-out viewer).
    fn flags(&self, id: crate::domain::Id) -> RenderResult<Flags> {
        let Some(v) = self.viewer else { return Ok(Flags::default()) };
        Ok(Flags {
            reblogged: self.store.reblog_by(id, v)?.is_some(),
            favourited: self.store.has_mark(crate::storage::Mark::Favourite, v, id)?,
            bookmarked: self.store.has_mark(crate::storage::Mark::Bookmark, v, id)?,
        })
    }

    /// Whether the viewer reblogged, favourited or bookmarked status `id` (then their
    /// rendering differs from a logged-out one).
    pub fn viewer_marked(&self, id: crate::domain::Id) -> RenderResult<bool> {
        Ok(self.flags(id)? != Flags::default())
    }

    /// Appends the stored status `id`, its own fields from the store's render cache.
    fn write_stored(&self, out: &mut String, id: crate::domain::Id) -> RenderResult<Option<Flags>> {
        let rendered = self.store.rendered_status(id, &self.base_url, |s| {
            Ok(self.account_json(s.account_id)?.map(|a| self.own_fields(s, &a.record.username)))
        })?;
        match rendered {
            Some(r) => self.write_entity(out, &r.record, &r.text),
            None => Ok(None),
        }
    }

    /// The Status entity as JSON text, or `None` when its author (or reblogged original)
    /// is gone. `s` may differ from what is stored (a status just deleted, say).
    pub fn status_json(&self, s: &Status) -> RenderResult<Option<String>> {
        let Some(author) = self.account_json(s.account_id)? else { return Ok(None) };
        let own = self.own_fields(s, &author.record.username);
        let mut out = String::new();
        Ok(self.write_entity(&mut out, s, &own)?.map(|_| out))
    }

    /// The Status entity, or `None` when its author (or reblogged original) is gone.
    pub fn status(&self, s: &Status) -> RenderResult<Option<Value>> {
        Ok(self.status_json(s)?.map(|text| serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A JSON array of the statuses that still exist, in the given order.
    pub fn statuses_json(&self, ids: &[crate::domain::Id]) -> RenderResult<String> {
        let mut out = String::with_capacity(ids.len() * 2048);
        out.push('[');
        for id in ids {
            let before = out.len();
            if before > 1 {
                out.push(',');
            }
            if self.write_stored(&mut out, *id)?.is_none() {
                out.truncate(before);
            }
        }
        out.push(']');
        Ok(out)
    }

    /// Renders the statuses that still exist, in the given order.
    pub fn statuses(&self, ids: &[crate::domain::Id]) -> RenderResult<Vec<Value>> {
        Ok(serde_json::from_str(&self.statuses_json(ids)?).unwrap_or_default())
    }
}

/// JSON text of a value built here (serialising a `Value` cannot fail).
fn to_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
