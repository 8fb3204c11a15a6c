//! The Notification entity, and the group key of a notification (grouped notifications,
//! API v2: `notification_group`).
//!
//! As on Mastodon, favourites and reblogs of one status, and follows, are grouped within
//! a span of 12 hours; every other notification (mentions, follow requests) is a group
//! of its own, `ungrouped-<notification id>`. Mastodon stores each notification's key
//! when it is made and starts a group's 12 hours at its first notification; here the key
//! is computed from the notification itself, and the 12 hours are fixed windows counted
//! from the Unix epoch (`favourite-<status id>-<first hour of the window>`), so a key
//! never changes and needs no storage.

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

/// The kinds Mastodon groups.
pub const GROUPABLE: [NotificationKind; 3] =
    [NotificationKind::Favourite, NotificationKind::Reblog, NotificationKind::Follow];

const HOUR_MS: i64 = 3_600_000;
const GROUP_SPAN_HOURS: i64 = 12;

/// Which kinds are grouped: all of [`GROUPABLE`], or those of them a client names in
/// `grouped_types[]` (naming none of them groups nothing).
#[derive(Debug, Clone)]
pub struct Grouping {
    kinds: Vec<NotificationKind>,
}

impl Default for Grouping {
    fn default() -> Self {
        Self { kinds: GROUPABLE.to_vec() }
    }
}

impl Grouping {
    /// From `grouped_types[]`: empty means every groupable kind; unknown names are ignored.
    pub fn from_names(names: &[String]) -> Self {
        if names.is_empty() {
            return Self::default();
        }
        let named: Vec<NotificationKind> = names.iter().filter_map(|n| NotificationKind::parse(n)).collect();
        Self { kinds: GROUPABLE.into_iter().filter(|k| named.contains(k)).collect() }
    }

    /// The group key of `n` under this grouping.
    pub fn key(&self, n: &Record) -> String {
        if !self.kinds.contains(&n.kind) {
            return ungrouped_key(n.id);
        }
        let hour = n.created_at_ms.div_euclid(HOUR_MS);
        let window = hour - hour.rem_euclid(GROUP_SPAN_HOURS);
        match (n.kind, n.status_id) {
            (NotificationKind::Favourite | NotificationKind::Reblog, Some(status)) => {
                format!("{}-{status}-{window}", n.kind.as_str())
            }
            (NotificationKind::Follow, _) => format!("follow-{window}"),
            _ => ungrouped_key(n.id),
        }
    }
}

/// A notification's own group key, as the v1 API and the streams show it (every
/// groupable kind grouped).
pub fn group_key(n: &Record) -> String {
    Grouping::default().key(n)
}

pub fn ungrouped_key(id: Id) -> String {
    format!("ungrouped-{id}")
}

/// The notification an `ungrouped-<id>` key names; `None` for any other key.
pub fn ungrouped_id(key: &str) -> Option<Id> {
    key.strip_prefix("ungrouped-")?.parse().ok()
}

/// The Notification entity.
#[derive(Serialize, ToSchema)]
pub struct Notification {
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub id: Id,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// The group it belongs to in grouped notifications (`ungrouped-<id>` when alone).
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
            group_key: group_key(n),
            created_at: rfc3339_millis(n.created_at_ms),
            account,
            status,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: NotificationKind, id: u64, hours: i64) -> Record {
        Record {
            id: Id(id),
            user_id: Id(1),
            kind,
            from_account: Id(2),
            status_id: Some(Id(77)),
            created_at_ms: hours * HOUR_MS + 5,
        }
    }

    #[test]
    fn keys_group_within_twelve_hour_windows() {
        let g = Grouping::default();
        assert_eq!(g.key(&record(NotificationKind::Favourite, 3, 25)), "favourite-77-24");
        assert_eq!(g.key(&record(NotificationKind::Favourite, 4, 35)), "favourite-77-24");
        assert_eq!(g.key(&record(NotificationKind::Favourite, 5, 36)), "favourite-77-36");
        assert_eq!(g.key(&record(NotificationKind::Reblog, 6, 1)), "reblog-77-0");
        assert_eq!(g.key(&record(NotificationKind::Follow, 7, 13)), "follow-12");
        assert_eq!(g.key(&record(NotificationKind::Mention, 8, 1)), "ungrouped-8");
        assert_eq!(g.key(&record(NotificationKind::FollowRequest, 9, 1)), "ungrouped-9");
        let only_follows = Grouping::from_names(&["follow".into(), "mention".into(), "bogus".into()]);
        assert_eq!(only_follows.key(&record(NotificationKind::Favourite, 3, 25)), "ungrouped-3");
        assert_eq!(only_follows.key(&record(NotificationKind::Follow, 7, 13)), "follow-12");
        assert_eq!(ungrouped_id("ungrouped-8"), Some(Id(8)));
        assert_eq!(ungrouped_id("follow-12"), None);
    }
}
