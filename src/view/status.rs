//! The Status entity and its parts: StatusMention, StatusTag, Context, StatusEdit,
//! StatusSource.
//!
//! A Status is written from three sources: its [`StatusParts`] (own fields that depend
//! neither on the viewer nor on counts, from the render cache), its author's cached
//! Account JSON, and what is read per request: counts and the viewer's own flags.
//! [`StatusView`] holds those, and serialises through the typed [`Status`] entity.

use serde::Serialize;
use utoipa::ToSchema;

use super::account::{Account, AccountJson, CustomEmoji};
use super::cache::Rendered;
use super::{Json, StatusVisibility, Viewer, id_string, opt_id_string};
use crate::domain::status::render_html;
use crate::domain::time::rfc3339_millis;
use crate::domain::{self, Id};
use crate::storage::{Counters, Mark, StorageError};

/// A mentioned account, as listed in a status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusMention {
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub id: Id,
    pub username: String,
    pub acct: String,
    pub url: String,
}

/// A hashtag used in a status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusTag {
    /// Lowercase, without `#`.
    pub name: String,
    pub url: String,
}

/// Nothing in a list that is always empty here (media, emojis, filters come later).
type Nothing = [serde_json::Value; 0];

/// The Status entity, as the viewer may see it.
#[derive(Serialize, ToSchema)]
pub struct Status<'a> {
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub id: Id,
    pub uri: &'a str,
    /// `null` for a reblog.
    #[schema(required = true)]
    pub url: Option<&'a str>,
    #[schema(format = DateTime)]
    pub created_at: &'a str,
    #[schema(required = true)]
    pub edited_at: Option<&'a str>,
    #[schema(value_type = Account)]
    pub account: Json<'a, Account>,
    /// HTML; empty for a reblog.
    pub content: &'a str,
    pub visibility: StatusVisibility,
    pub sensitive: bool,
    pub spoiler_text: &'a str,
    #[schema(value_type = Vec<Object>)]
    pub media_attachments: Nothing,
    #[schema(required = true, value_type = Option<Object>)]
    pub application: Option<()>,
    pub mentions: &'a [StatusMention],
    pub tags: &'a [StatusTag],
    #[schema(value_type = Vec<CustomEmoji>)]
    pub emojis: Nothing,
    pub reblogs_count: u64,
    pub favourites_count: u64,
    pub replies_count: u64,
    #[serde(serialize_with = "opt_id_string")]
    #[schema(required = true, value_type = Option<String>)]
    pub in_reply_to_id: Option<Id>,
    #[serde(serialize_with = "opt_id_string")]
    #[schema(required = true, value_type = Option<String>)]
    pub in_reply_to_account_id: Option<Id>,
    /// The reblogged status, for a reblog.
    #[schema(required = true, no_recursion)]
    pub reblog: Option<Box<Status<'a>>>,
    #[schema(required = true, value_type = Option<Object>)]
    pub poll: Option<()>,
    #[schema(required = true, value_type = Option<Object>)]
    pub card: Option<()>,
    #[schema(required = true)]
    pub language: Option<&'a str>,
    /// The source text: only in the answer to a delete (for "delete and redraft").
    #[schema(required = true)]
    pub text: Option<&'a str>,
    pub favourited: bool,
    pub reblogged: bool,
    pub muted: bool,
    pub bookmarked: bool,
    pub pinned: bool,
    #[schema(value_type = Vec<Object>)]
    pub filtered: Nothing,
}

/// What the render cache keeps of a status: its fields that depend neither on the
/// viewer nor on counts.
#[derive(Debug)]
pub struct StatusParts {
    pub uri: String,
    pub url: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    pub content: String,
    pub mentions: Vec<StatusMention>,
    pub tags: Vec<StatusTag>,
}

impl StatusParts {
    pub fn render(s: &domain::Status, author: &str, base_url: &str, domain: &str) -> Self {
        let content = if s.reblog_of.is_some() {
            String::new()
        } else {
            render_html(&s.text, base_url, &s.mentions, |d| d.eq_ignore_ascii_case(domain))
        };
        Self {
            uri: format!("{base_url}/users/{author}/statuses/{}", s.id),
            url: s.reblog_of.is_none().then(|| format!("{base_url}/@{author}/{}", s.id)),
            created_at: rfc3339_millis(s.created_at_ms),
            edited_at: s.edited_at_ms.map(rfc3339_millis),
            content,
            mentions: s
                .mentions
                .iter()
                .map(|m| StatusMention {
                    id: m.account_id,
                    username: m.username.clone(),
                    acct: m.username.clone(),
                    url: format!("{base_url}/@{}", m.username),
                })
                .collect(),
            tags: s.tags.iter().map(|t| StatusTag { name: t.clone(), url: format!("{base_url}/tags/{t}") }).collect(),
        }
    }
}

/// The viewer's own marks on a status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub reblogged: bool,
    pub favourited: bool,
    pub bookmarked: bool,
}

/// A status ready to be written for one viewer: everything its entity needs, owned.
pub struct StatusView {
    status: Source,
    author: AccountJson,
    counters: Counters,
    flags: Flags,
    reblog: Option<Box<StatusView>>,
    /// Whether to include the source text (the answer to a delete).
    with_text: bool,
}

/// A status's record and parts: from the cache, or rendered for a record at hand (one
/// that may differ from what is stored, such as a status just deleted).
enum Source {
    Cached(std::sync::Arc<Rendered<domain::Status, StatusParts>>),
    Owned(Box<(domain::Status, StatusParts)>),
}

impl Source {
    fn get(&self) -> (&domain::Status, &StatusParts) {
        match self {
            Self::Cached(r) => (&r.record, &r.parts),
            Self::Owned(b) => (&b.0, &b.1),
        }
    }
}

impl StatusView {
    pub fn record(&self) -> &domain::Status {
        self.status.get().0
    }

    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// Adds the source text (for the answer to a delete).
    pub fn with_text(mut self) -> Self {
        self.with_text = true;
        self
    }

    /// The typed entity, borrowing from this view.
    pub fn entity(&self) -> Status<'_> {
        let (s, p) = self.status.get();
        let Flags { reblogged, favourited, bookmarked } = self.flags;
        Status {
            id: s.id,
            uri: &p.uri,
            url: p.url.as_deref(),
            created_at: &p.created_at,
            edited_at: p.edited_at.as_deref(),
            account: self.author.json(),
            content: &p.content,
            visibility: s.visibility.into(),
            sensitive: s.sensitive,
            spoiler_text: &s.spoiler_text,
            media_attachments: [],
            application: None,
            mentions: &p.mentions,
            tags: &p.tags,
            emojis: [],
            reblogs_count: self.counters.reblogs,
            favourites_count: self.counters.favourites,
            replies_count: self.counters.replies,
            in_reply_to_id: s.in_reply_to_id,
            in_reply_to_account_id: s.in_reply_to_account_id,
            reblog: self.reblog.as_ref().map(|r| Box::new(r.entity())),
            poll: None,
            card: None,
            language: s.language.as_deref(),
            text: self.with_text.then_some(s.text.as_str()),
            favourited,
            reblogged,
            muted: false,
            bookmarked,
            pinned: false,
            filtered: [],
        }
    }

    pub fn to_json(&self) -> String {
        super::to_json(&self.entity())
    }
}

impl Serialize for StatusView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.entity().serialize(serializer)
    }
}

/// The Context entity: a status's thread around it.
#[derive(Serialize, ToSchema)]
pub struct Context {
    #[schema(value_type = Vec<Status>)]
    pub ancestors: Vec<StatusView>,
    #[schema(value_type = Vec<Status>)]
    pub descendants: Vec<StatusView>,
}

/// The StatusEdit entity: one version of a status.
#[derive(Serialize, ToSchema)]
pub struct StatusEdit<'a> {
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(value_type = Account)]
    pub account: Json<'a, Account>,
    #[schema(required = true, value_type = Option<Object>)]
    pub poll: Option<()>,
    #[schema(value_type = Vec<Object>)]
    pub media_attachments: Nothing,
    #[schema(value_type = Vec<CustomEmoji>)]
    pub emojis: Nothing,
}

/// The StatusSource entity: the text as written, for editing.
#[derive(Serialize, ToSchema)]
pub struct StatusSource<'a> {
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub id: Id,
    pub text: &'a str,
    pub spoiler_text: &'a str,
}

type RenderResult<T> = Result<T, StorageError>;

impl Viewer<'_> {
    fn parts(&self, s: &domain::Status, author: &str) -> StatusParts {
        StatusParts::render(s, author, self.base_url(), &self.view.domain)
    }

    /// The viewer's own marks on status `id` (none for a logged-out viewer).
    pub fn flags(&self, id: Id) -> RenderResult<Flags> {
        let Some(v) = self.me else { return Ok(Flags::default()) };
        let store = self.store();
        Ok(Flags {
            reblogged: store.reblog_by(id, v)?.is_some(),
            favourited: store.has_mark(Mark::Favourite, v, id)?,
            bookmarked: store.has_mark(Mark::Bookmark, v, id)?,
        })
    }

    /// Stored status `id`, for this viewer; `None` when it, its author or its
    /// reblogged original is gone. Visibility is the caller's to check.
    pub fn stored_status(&self, id: Id) -> RenderResult<Option<StatusView>> {
        let base = self.base_url();
        let store = self.store();
        let rendered = self.view.statuses.get(
            id,
            store.status_bytes(id)?,
            base,
            |raw| store.decode_status(id, raw),
            |s| Ok(self.account_json(s.account_id)?.map(|a| self.parts(s, &a.record().username))),
        )?;
        match rendered {
            Some(r) => self.complete(Source::Cached(r)),
            None => Ok(None),
        }
    }

    /// The view of a status record at hand (which may differ from what is stored).
    pub fn status(&self, s: &domain::Status) -> RenderResult<Option<StatusView>> {
        let Some(author) = self.account_json(s.account_id)? else { return Ok(None) };
        let parts = self.parts(s, &author.record().username);
        self.complete(Source::Owned(Box::new((s.clone(), parts))))
    }

    /// Adds the author, counts, flags and the reblogged original to a status's parts.
    fn complete(&self, source: Source) -> RenderResult<Option<StatusView>> {
        let (s, _) = source.get();
        let Some(author) = self.account_json(s.account_id)? else { return Ok(None) };
        // A reblog carries its original's flags, as on Mastodon: read once, for the original.
        let (reblog, flags) = match s.reblog_of {
            Some(original) => {
                let Some(original) = self.stored_status(original)? else { return Ok(None) };
                let flags = original.flags;
                (Some(Box::new(original)), flags)
            }
            None => (None, self.flags(s.id)?),
        };
        let counters = self.store().counters(s.id)?;
        Ok(Some(StatusView { status: source, author, counters, flags, reblog, with_text: false }))
    }

    /// The statuses that still exist, in the given order.
    pub fn statuses(&self, ids: &[Id]) -> RenderResult<Vec<StatusView>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.stored_status(*id)?);
        }
        Ok(out)
    }

    /// A JSON array of the statuses that still exist, in the given order.
    pub fn statuses_json(&self, ids: &[Id]) -> RenderResult<String> {
        let views = self.statuses(ids)?;
        let mut out = Vec::with_capacity(views.len() * 2048 + 2);
        let _ = serde_json::to_writer(&mut out, &views);
        Ok(String::from_utf8(out).unwrap_or_default())
    }

    /// The Status entity of `s` as JSON text (`None` when its author is gone).
    pub fn status_json(&self, s: &domain::Status) -> RenderResult<Option<String>> {
        Ok(self.status(s)?.map(|v| v.to_json()))
    }

    /// The versions of a status, oldest first, the current one last.
    pub fn status_history(&self, status: &domain::Status) -> RenderResult<Option<String>> {
        let Some(current) = self.status(status)? else { return Ok(None) };
        let (s, p) = current.status.get();
        let domain = self.view.domain.clone();
        let mut versions: Vec<StatusEdit<'_>> = self
            .store()
            .status_versions(s.id)?
            .into_iter()
            .map(|v| StatusEdit {
                content: render_html(&v.text, self.base_url(), &v.mentions, |d| d.eq_ignore_ascii_case(&domain)),
                spoiler_text: v.spoiler_text,
                sensitive: v.sensitive,
                created_at: rfc3339_millis(v.created_at_ms),
                account: current.author.json(),
                poll: None,
                media_attachments: [],
                emojis: [],
            })
            .collect();
        versions.push(StatusEdit {
            content: p.content.clone(),
            spoiler_text: s.spoiler_text.clone(),
            sensitive: s.sensitive,
            created_at: p.edited_at.clone().unwrap_or_else(|| p.created_at.clone()),
            account: current.author.json(),
            poll: None,
            media_attachments: [],
            emojis: [],
        });
        Ok(Some(super::to_json(&versions)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_serialises_with_every_field_mastodon_sends() {
        let status = domain::Status {
            id: Id(5),
            account_id: Id(1),
            text: "hi @bob #Rust".into(),
            spoiler_text: String::new(),
            visibility: domain::Visibility::Unlisted,
            sensitive: false,
            language: Some("en".into()),
            in_reply_to_id: Some(Id(3)),
            in_reply_to_account_id: Some(Id(2)),
            reblog_of: None,
            mentions: vec![domain::Mention { account_id: Id(2), username: "bob".into() }],
            tags: vec!["rust".into()],
            created_at_ms: 0,
            edited_at_ms: None,
        };
        let parts = StatusParts::render(&status, "ann", "http://x", "x");
        let account = serde_json::value::RawValue::from_string("{\"id\":\"1\"}".into()).unwrap();
        let entity = Status {
            id: status.id,
            uri: &parts.uri,
            url: parts.url.as_deref(),
            created_at: &parts.created_at,
            edited_at: None,
            account: Json::new(&account),
            content: &parts.content,
            visibility: status.visibility.into(),
            sensitive: false,
            spoiler_text: "",
            media_attachments: [],
            application: None,
            mentions: &parts.mentions,
            tags: &parts.tags,
            emojis: [],
            reblogs_count: 1,
            favourites_count: 2,
            replies_count: 3,
            in_reply_to_id: status.in_reply_to_id,
            in_reply_to_account_id: status.in_reply_to_account_id,
            reblog: None,
            poll: None,
            card: None,
            language: Some("en"),
            text: None,
            favourited: true,
            reblogged: false,
            muted: false,
            bookmarked: false,
            pinned: false,
            filtered: [],
        };
        let v: serde_json::Value = serde_json::from_str(&super::super::to_json(&entity)).unwrap();
        assert_eq!(v["id"], "5");
        assert_eq!(v["account"]["id"], "1");
        assert_eq!(v["in_reply_to_id"], "3");
        assert_eq!(v["visibility"], "unlisted");
        assert_eq!(v["mentions"][0]["id"], "2");
        assert_eq!(v["tags"][0]["url"], "http://x/tags/rust");
        assert_eq!(v["url"], "http://x/@ann/5");
        assert_eq!(v["media_attachments"], serde_json::json!([]));
        assert!(v["poll"].is_null() && v["application"].is_null() && v["reblog"].is_null());
        assert_eq!(v.as_object().unwrap().len(), 31);
    }
}
