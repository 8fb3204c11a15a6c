//! The Relationship entity.

use serde::Serialize;
use utoipa::ToSchema;

use super::{Viewer, id_string};
use crate::domain::Id;
use crate::storage::StorageError;

/// The Relationship entity: how the viewer and another account are connected.
#[derive(Serialize, ToSchema)]
pub struct Relationship {
    /// The other account.
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub id: Id,
    pub following: bool,
    pub showing_reblogs: bool,
    pub notifying: bool,
    #[schema(required = true)]
    pub languages: Option<Vec<String>>,
    pub followed_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
    pub requested: bool,
    pub requested_by: bool,
    pub domain_blocking: bool,
    pub endorsed: bool,
    pub note: String,
}

/// The relationship between `me` and `other`.
pub fn relationship(store: &crate::storage::Store, me: Id, other: Id) -> Result<Relationship, StorageError> {
    let following = store.follows(me, other)?;
    let muting = store.mutes(me, other)?;
    Ok(Relationship {
        id: other,
        following,
        showing_reblogs: following,
        notifying: false,
        languages: None,
        followed_by: store.follows(other, me)?,
        blocking: store.blocks(me, other)?,
        blocked_by: store.blocks(other, me)?,
        muting,
        muting_notifications: muting,
        requested: store.follow_requested(me, other)?,
        requested_by: store.follow_requested(other, me)?,
        domain_blocking: false,
        endorsed: false,
        note: String::new(),
    })
}

impl Viewer<'_> {
    /// The viewer's relationship with `other` (a logged-out viewer has none: all false).
    pub fn relationship(&self, other: Id) -> Result<Relationship, StorageError> {
        relationship(self.store(), self.me.unwrap_or(Id(0)), other)
    }
}
