//! The Notification entity.

use serde::Serialize;
use utoipa::ToSchema;

use super::account::{Account, AccountJson};
use super::status::{Status, StatusView};
use super::{Viewer, id_string};
use crate::domain::Id;
use crate::domain::time::rfc3339_millis;
use crate::storage::{Notification as Record, NotificationKind, StorageError};

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationType {
    Follow,
    FollowRequest,
    Mention,
    Favourite,
    Reblog,
}

impl From<NotificationKind> for NotificationType {
    fn from(kind: NotificationKind) -> Self {
        match kind {
            NotificationKind::Follow => Self::Follow,
            NotificationKind::FollowRequest => Self::FollowRequest,
            NotificationKind::Mention => Self::Mention,
            NotificationKind::Favourite => Self::Favourite,
            NotificationKind::Reblog => Self::Reblog,
        }
    }
}

/// The Notification entity.
#[derive(Serialize, ToSchema)]
pub struct Notification {
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub id: Id,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub group_key: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(value_type = Account)]
    pub account: AccountJson,
    /// The status it is about (mention, favourite, reblog).
    #[schema(required = true, value_type = Option<Status>)]
    pub status: Option<StatusView>,
}

impl Viewer<'_> {
    /// The Notification entity, or `None` when its sender or status is gone. Whether it
    /// is shown is [`Viewer::notification_shown`]'s to say.
    pub fn notification(&self, n: &Record) -> Result<Option<Notification>, StorageError> {
        let Some(account) = self.account_json(n.from_account)? else { return Ok(None) };
        let status = match n.status_id {
            Some(id) => match self.stored_status(id)? {
                Some(s) => Some(s),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(Some(Notification {
            id: n.id,
            kind: n.kind.into(),
            group_key: format!("ungrouped-{}", n.id),
            created_at: rfc3339_millis(n.created_at_ms),
            account,
            status,
        }))
    }
}
