//! Grouped notifications (Mastodon API v2): the NotificationGroup and
//! GroupedNotificationsResults entities, and how a page of groups is gathered.
//!
//! The group keys are [`super::notification::Grouping`]'s.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::account::{Account, AccountJson};
use super::notification::{Grouping, NotificationType, ungrouped_id};
use super::status::{Status, StatusView};
use super::{Viewer, id_string};
use crate::domain::Id;
use crate::domain::time::rfc3339_millis;
use crate::storage::{Notification as Record, PageQuery, StorageError};

/// How many of the accounts behind a group are named in `sample_account_ids` (Mastodon's
/// `SAMPLE_ACCOUNTS_SIZE`).
pub const SAMPLE_ACCOUNTS: usize = 8;

/// Mastodon's pagination range of a page: the notifications `begin..=end` (`None`: no
/// bound) are the page's share of each group.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRange {
    pub begin: Option<Id>,
    pub end: Option<Id>,
}

/// The NotificationGroup entity.
#[derive(Serialize, ToSchema)]
pub struct NotificationGroup {
    /// The group's key (opaque to clients).
    pub group_key: String,
    /// How many notifications the group holds (up to the page's newest one).
    pub notifications_count: u64,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub most_recent_notification_id: Id,
    /// The oldest notification of the group within the page (paged lists only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String)]
    pub page_min_id: Option<String>,
    /// The newest notification of the group within the page (paged lists only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String)]
    pub page_max_id: Option<String>,
    /// When the group's newest notification within the page was made (paged lists only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String, format = DateTime)]
    pub latest_page_notification_at: Option<String>,
    /// The accounts behind the group's most recent notifications, newest first (at most 8).
    pub sample_account_ids: Vec<String>,
    /// The status it is about (favourite, reblog, mention).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String)]
    pub status_id: Option<String>,
}

/// The GroupedNotificationsResults entity: groups, with the accounts and statuses they
/// name given once each.
#[derive(Serialize, ToSchema)]
pub struct GroupedNotificationsResults {
    #[schema(value_type = Vec<Account>)]
    pub accounts: Vec<AccountJson>,
    #[schema(value_type = Vec<Status>)]
    pub statuses: Vec<StatusView>,
    pub notification_groups: Vec<NotificationGroup>,
}

impl GroupedNotificationsResults {
    pub fn empty() -> Self {
        Self { accounts: Vec::new(), statuses: Vec::new(), notification_groups: Vec::new() }
    }
}

/// The answer of `GET /api/v2/notifications/unread_count`.
#[derive(Serialize, ToSchema)]
pub struct UnreadCount {
    /// How many notification groups are unread, at most the `limit` asked for.
    pub count: u64,
}

/// What one group holds up to the page's end, gathered in one pass, newest first.
#[derive(Default)]
struct Gathered {
    most_recent: Option<(Id, i64)>,
    samples: Vec<Id>,
    count: u64,
    page_min: Option<Id>,
}

impl Viewer<'_> {
    /// The groups of `firsts` (one notification per group, newest first, as a page walk
    /// met them) for user `me`. For a grouped key, the group's count, samples and most
    /// recent notification count every notification of it that `keep` accepts up to
    /// `range.end`; with a `range`, the page fields are filled in (`page_min_id`: the
    /// group's oldest at or after `range.begin`).
    pub fn notification_groups(
        &self,
        me: Id,
        firsts: &[Record],
        grouping: &Grouping,
        range: Option<PageRange>,
        mut keep: impl FnMut(&Record) -> Result<bool, StorageError>,
    ) -> Result<GroupedNotificationsResults, StorageError> {
        let keys: Vec<String> = firsts.iter().map(|n| grouping.key(n)).collect();
        let mut gathered: HashMap<&str, Gathered> =
            keys.iter().filter(|k| ungrouped_id(k).is_none()).map(|k| (k.as_str(), Gathered::default())).collect();
        let end = range.and_then(|r| r.end);
        let begin = range.and_then(|r| r.begin);
        if !gathered.is_empty() {
            let q = PageQuery {
                max_id: end.and_then(|e| e.0.checked_add(1)).map(Id),
                since_id: None,
                min_id: None,
                limit: usize::MAX,
            };
            self.store().notifications_page(me, &q, |n| {
                let key = grouping.key(n);
                let Some(g) = gathered.get_mut(key.as_str()) else { return Ok(false) };
                if !keep(n)? {
                    return Ok(false);
                }
                g.most_recent.get_or_insert((n.id, n.created_at_ms));
                g.count += 1;
                if g.samples.len() < SAMPLE_ACCOUNTS && !g.samples.contains(&n.from_account) {
                    g.samples.push(n.from_account);
                }
                if begin.is_none_or(|b| n.id >= b) {
                    g.page_min = Some(n.id);
                }
                Ok(false)
            })?;
        }
        let mut out = GroupedNotificationsResults::empty();
        let mut account_ids: Vec<Id> = Vec::new();
        let mut status_ids: Vec<Id> = Vec::new();
        for (n, key) in firsts.iter().zip(&keys) {
            let (most_recent, created_at_ms, samples, count, page_min) = match gathered.get(key.as_str()) {
                Some(Gathered { most_recent: Some((id, at)), samples, count, page_min }) => {
                    (*id, *at, samples.clone(), *count, page_min.unwrap_or(n.id))
                }
                _ => (n.id, n.created_at_ms, vec![n.from_account], 1, n.id),
            };
            account_ids.extend(&samples);
            if let Some(status) = n.status_id {
                status_ids.push(status);
                if let Some(s) = self.store().status(status)? {
                    account_ids.push(s.account_id);
                }
            }
            out.notification_groups.push(NotificationGroup {
                group_key: key.clone(),
                notifications_count: count,
                kind: n.kind.into(),
                most_recent_notification_id: most_recent,
                page_min_id: range.map(|_| page_min.to_string()),
                page_max_id: range.map(|_| most_recent.to_string()),
                latest_page_notification_at: range.map(|_| rfc3339_millis(created_at_ms)),
                sample_account_ids: samples.iter().map(Id::to_string).collect(),
                status_id: n.status_id.map(|s| s.to_string()),
            });
        }
        let mut seen = HashSet::new();
        for id in account_ids {
            if seen.insert(id)
                && let Some(a) = self.account_json(id)?
            {
                out.accounts.push(a);
            }
        }
        let mut seen = HashSet::new();
        for id in status_ids {
            if seen.insert(id)
                && let Some(s) = self.stored_status(id)?
            {
                out.statuses.push(s);
            }
        }
        Ok(out)
    }
}
