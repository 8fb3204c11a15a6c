//! The view layer: who may see what, and how each Mastodon entity looks to a viewer.
//! It sits on `domain` and `storage` and nothing else; `actors` (streams, fan-out),
//! `http` (handlers) and `admin` all use it, so a rule or an entity shape has one home.
//!
//! - [`visibility`]: the rules — can a viewer see a status, the home filter, what is
//!   listed in public and hashtag timelines, which notifications are shown, what an
//!   action (favourite, reblog, bookmark) applies to.
//! - [`status`], [`account`], [`notification`], [`notification_group`], [`conversation`],
//!   [`relationship`], [`tag`]: the
//!   Mastodon entities as typed `Serialize` + `ToSchema` structs. The OpenAPI document is
//!   generated from these very types, so it cannot drift from what is sent.
//! - [`cache`]: the one render cache. What does not depend on the viewer or on counts (a
//!   status's own fields, an author's Account JSON) is computed once per record version
//!   and checked against the record's current bytes on every use.
//!
//! [`View`] is the layer's handle (the store, the cache, the instance's domain), cloned
//! into whoever renders; [`Viewer`] is one viewer's view through it, for one base URL.

pub mod account;
pub mod cache;
pub mod conversation;
pub mod notification;
pub mod notification_group;
pub mod relationship;
pub mod status;
pub mod tag;
pub mod visibility;

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::domain::Id;
use crate::storage::Store;

pub use visibility::HomeFilter;

/// The layer's handle: cheap to clone, shared by HTTP workers, stream sessions and the
/// fan-out router.
#[derive(Clone)]
pub struct View {
    store: Store,
    statuses: Arc<cache::RenderCache<crate::domain::Status, status::StatusParts>>,
    accounts: Arc<cache::RenderCache<crate::domain::Account, account::AccountParts>>,
    /// The instance's domain: a mention `@name@domain` with it is local.
    domain: Arc<str>,
}

impl View {
    pub fn new(store: Store, domain: &str) -> Self {
        Self { store, statuses: Arc::default(), accounts: Arc::default(), domain: Arc::from(domain) }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// What `me` (`None`: logged out) sees, with links under `base_url`.
    pub fn viewer(&self, me: Option<Id>, base_url: &str) -> Viewer<'_> {
        Viewer { view: self, me, base_url: base_url.trim_end_matches('/').to_owned() }
    }
}

/// One viewer, one base URL: every rule and every entity is asked through it.
pub struct Viewer<'a> {
    view: &'a View,
    /// The viewing account; `None` for a logged-out request.
    pub me: Option<Id>,
    base_url: String,
}

impl<'a> Viewer<'a> {
    pub fn store(&self) -> &'a Store {
        &self.view.store
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The same base URL, seen by nobody in particular (shared renderings).
    pub fn anonymous(&self) -> Viewer<'a> {
        Viewer { view: self.view, me: None, base_url: self.base_url.clone() }
    }

    /// The same base URL, seen by `me`.
    pub fn as_user(&self, me: Id) -> Viewer<'a> {
        Viewer { view: self.view, me: Some(me), base_url: self.base_url.clone() }
    }
}

/// The JSON text of a `T` rendered earlier (kept in the render cache) and embedded as is
/// where an entity holds a `T`. Fields of this type carry `#[schema(value_type = T)]`.
pub struct Json<'a, T> {
    raw: &'a RawValue,
    _of: PhantomData<fn() -> T>,
}

impl<'a, T> Json<'a, T> {
    fn new(raw: &'a RawValue) -> Self {
        Self { raw, _of: PhantomData }
    }
}

impl<T> Serialize for Json<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

/// A status's visibility, as entities name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Visibility)]
pub enum StatusVisibility {
    Public,
    Unlisted,
    Private,
    Direct,
}

impl From<crate::domain::Visibility> for StatusVisibility {
    fn from(v: crate::domain::Visibility) -> Self {
        use crate::domain::Visibility;
        match v {
            Visibility::Public => Self::Public,
            Visibility::Unlisted => Self::Unlisted,
            Visibility::Private => Self::Private,
            Visibility::Direct => Self::Direct,
        }
    }
}

/// Serialises an id as Mastodon sends them: a decimal string.
pub(crate) fn id_string<S: serde::Serializer>(id: &Id, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(id)
}

/// [`id_string`] for an optional id (`null` when absent).
pub(crate) fn opt_id_string<S: serde::Serializer>(id: &Option<Id>, serializer: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => serializer.collect_str(id),
        None => serializer.serialize_none(),
    }
}

/// JSON text of an entity built here (serialising these types cannot fail: string keys,
/// no maps with non-string keys).
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
