//! The Notification entity, and the group key of a notification (grouped notifications,
//! API v2: `notification_group`).
//!
//! As on Mastodon, favourites and reblogs of one status, and follows, are grouped within
//! a span of 12 hours; every other notification (mentions, follow requests) is a group
//! of its own, `ungrouped-<notification id>`. Mastodon stores each notification's key
//! when it is made and starts a group's 12 hours at its first notification; here the key
//! is computed from the notification itself, in 12-hour windows counted from the time
//! of what it is about (ids carry their creation time): the status for favourites and
//! reblogs (`favourite-<status id>-<window>`, window 0 for the first 12 hours after the
//! post), the followed account for follows (`follow-<window>`). A key never changes and
//! needs no storage, and likes of one post in its first 12 hours are always one group.

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
        // Windows of GROUP_SPAN_HOURS counted from what the group is about (the status,
        // or for follows the followed account), whose id carries its creation time: a
        // burst of likes right after a post stays one group, whatever the clock says.
        let window = |anchor: Id| (n.created_at_ms - anchor.millis()).div_euclid(HOUR_MS * GROUP_SPAN_HOURS);
        match (n.kind, n.status_id) {
            (NotificationKind::Favourite | NotificationKind::Reblog, Some(status)) => {
                format!("{}-{status}-{}", n.kind.as_str(), window(status))
            }
            (NotificationKind::Follow, _) => format!("follow-{}", window(n.user_id)),
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

    /// An id made at `hours` after the epoch (ids carry their time in milliseconds).
    fn id_at(hours: i64, low: u64) -> Id {
        Id((((hours * HOUR_MS) as u64) << 16) | low)
    }

    /// Made at `hours`, about a status posted at hour 10 to a user who joined at hour 1.
    fn record(kind: NotificationKind, id: u64, hours: i64) -> Record {
        Record {
            id: Id(id),
            user_id: id_at(1, 1),
            kind,
            from_account: Id(2),
            status_id: Some(id_at(10, 77)),
            created_at_ms: hours * HOUR_MS + 5,
        }
    }

    #[test]
    fn keys_group_within_twelve_hour_windows() {
        let g = Grouping::default();
        let status = id_at(10, 77);
        // Hours 10 to 21 after a post at hour 10: window 0, across the epoch's 12:00.
        assert_eq!(g.key(&record(NotificationKind::Favourite, 3, 10)), format!("favourite-{status}-0"));
        assert_eq!(g.key(&record(NotificationKind::Favourite, 4, 21)), format!("favourite-{status}-0"));
        assert_eq!(g.key(&record(NotificationKind::Favourite, 5, 22)), format!("favourite-{status}-1"));
        assert_eq!(g.key(&record(NotificationKind::Reblog, 6, 11)), format!("reblog-{status}-0"));
        // Follows of a user who joined at hour 1: hours 1 to 12 are window 0.
        assert_eq!(g.key(&record(NotificationKind::Follow, 7, 12)), "follow-0");
        assert_eq!(g.key(&record(NotificationKind::Follow, 7, 13)), "follow-1");
        assert_eq!(g.key(&record(NotificationKind::Mention, 8, 11)), "ungrouped-8");
        assert_eq!(g.key(&record(NotificationKind::FollowRequest, 9, 11)), "ungrouped-9");
        let only_follows = Grouping::from_names(&["follow".into(), "mention".into(), "bogus".into()]);
        assert_eq!(only_follows.key(&record(NotificationKind::Favourite, 3, 11)), "ungrouped-3");
        assert_eq!(only_follows.key(&record(NotificationKind::Follow, 7, 12)), "follow-0");
        assert_eq!(ungrouped_id("ungrouped-8"), Some(Id(8)));
        assert_eq!(ungrouped_id("follow-12"), None);
    }
}
