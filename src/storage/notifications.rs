//! Notifications: `userid_notifications` (`UserId ++ NotificationId` → Notification).

use serde::{Deserialize, Serialize};

use super::timelines::page_ids;
use super::{PageQuery, StorageError, Store, codec, keys};
use crate::domain::Id;

const TREE: &str = "userid_notifications";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationKind {
    Follow,
    FollowRequest,
    Mention,
    Favourite,
    Reblog,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Follow => "follow",
            Self::FollowRequest => "follow_request",
            Self::Mention => "mention",
            Self::Favourite => "favourite",
            Self::Reblog => "reblog",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Follow, Self::FollowRequest, Self::Mention, Self::Favourite, Self::Reblog]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Id,
    pub user_id: Id,
    pub kind: NotificationKind,
    pub from_account: Id,
    pub status_id: Option<Id>,
    pub created_at_ms: i64,
}

impl Store {
    /// Stores notifications (not yet flushed: the caller's next `durable` covers them).
    /// Writes notifications, one insert each: every sled batch or transaction, even an
    /// empty one, seals and writes sled's log buffer twice (`pin_log`), so a batch here
    /// cost every post two disk writes. Each record stands alone (keyed by user and
    /// id; a replay rewrites the same ones).
    pub fn add_notifications(&self, items: &[Notification]) -> Result<(), StorageError> {
        for n in items {
            self.trees.userid_notifications.insert(keys::pair_key(n.user_id, n.id), codec::encode(n)?)?;
        }
        Ok(())
    }

    pub fn notification(&self, user: Id, id: Id) -> Result<Option<Notification>, StorageError> {
        let key = keys::pair_key(user, id);
        match self.trees.userid_notifications.get(key)? {
            Some(bytes) => Ok(Some(codec::decode(TREE, &key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// A page of a user's notifications that `keep` accepts, newest first.
    pub fn notifications_page(
        &self,
        user: Id,
        q: &PageQuery,
        mut keep: impl FnMut(&Notification) -> Result<bool, StorageError>,
    ) -> Result<Vec<Notification>, StorageError> {
        let ids = page_ids(&self.trees.userid_notifications, &keys::id_key(user), q, |id| {
            match self.notification(user, id)? {
                Some(n) => keep(&n),
                None => Ok(false),
            }
        })?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(n) = self.notification(user, id)? {
                out.push(n);
            }
        }
        Ok(out)
    }

    pub async fn dismiss_notification(&self, user: Id, id: Id) -> Result<bool, StorageError> {
        let removed = self.trees.userid_notifications.remove(keys::pair_key(user, id))?.is_some();
        self.durable().await?;
        Ok(removed)
    }

    /// Removes some of a user's notifications at once (a dismissed group); how many were
    /// there.
    pub async fn dismiss_notifications(&self, user: Id, ids: &[Id]) -> Result<usize, StorageError> {
        let mut removed = 0;
        for &id in ids {
            removed += usize::from(self.trees.userid_notifications.remove(keys::pair_key(user, id))?.is_some());
        }
        self.durable().await?;
        Ok(removed)
    }

    pub async fn clear_notifications(&self, user: Id) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for row in self.trees.userid_notifications.scan_prefix(keys::id_key(user)) {
            let (k, _) = row?;
            batch.remove(k);
        }
        self.trees.userid_notifications.apply_batch(batch)?;
        self.durable().await
    }
}
