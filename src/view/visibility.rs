//! Who may see what: the one set of rules, used by HTTP handlers, stream sessions and the
//! fan-out router alike.
//!
//! - [`can_see`]: may a viewer see a status at all (visibility, blocks, suspensions).
//! - [`HomeFilter`]: is a home-timeline entry shown (Mastodon's home feed filter).
//! - [`Viewer::listed`]: is a status shown in public and hashtag timelines and streams,
//!   and among a thread's replies.
//! - [`Viewer::notification_shown`]: is a stored notification still shown.
//! - [`Viewer::action_target`]: the status a favourite, reblog or bookmark applies to.

use std::collections::{HashMap, HashSet};

use super::Viewer;
use crate::domain::{Id, Status, Visibility};
use crate::storage::{Notification, StorageError, Store};

/// Whether `viewer` (None: logged out) may see `status`: its author always; public and
/// unlisted posts anyone; private posts followers and the mentioned; direct posts only
/// the mentioned. A reblog is visible when its original is. Nobody else sees the posts of
/// a suspended account, and nobody sees the posts of someone who blocked them.
pub fn can_see(store: &Store, viewer: Option<Id>, status: &Status) -> Result<bool, StorageError> {
    if let Some(original) = status.reblog_of {
        return match store.status(original)? {
            Some(o) => can_see(store, viewer, &o),
            None => Ok(false),
        };
    }
    if viewer == Some(status.account_id) {
        return Ok(true);
    }
    if store.is_suspended(status.account_id)? {
        return Ok(false);
    }
    if let Some(v) = viewer
        && store.blocks(status.account_id, v)?
    {
        return Ok(false);
    }
    Ok(match (status.visibility, viewer) {
        (Visibility::Public | Visibility::Unlisted, _) => true,
        (_, None) => false,
        (Visibility::Private, Some(v)) => status.mentions_account(v) || store.follows(v, status.account_id)?,
        (Visibility::Direct, Some(v)) => status.mentions_account(v),
    })
}

impl Viewer<'_> {
    /// [`can_see`] for this viewer.
    pub fn can_see(&self, status: &Status) -> Result<bool, StorageError> {
        can_see(self.store(), self.me, status)
    }

    /// Status `id` if it exists and the viewer may see it. Anything else is "not there":
    /// a private post is indistinguishable from a missing one, as on Mastodon.
    pub fn visible_status(&self, id: Id) -> Result<Option<Status>, StorageError> {
        match self.store().status(id)? {
            Some(s) if self.can_see(&s)? => Ok(Some(s)),
            _ => Ok(None),
        }
    }

    /// The status an action (reblog, favourite, bookmark) applies to: a visible status,
    /// and for a reblog its original.
    pub fn action_target(&self, id: Id) -> Result<Option<Status>, StorageError> {
        let Some(status) = self.visible_status(id)? else { return Ok(None) };
        match status.reblog_of {
            Some(original) => self.store().status(original),
            None => Ok(Some(status)),
        }
    }

    /// Whether the viewer hides `author`'s content: a block either way, or a mute.
    pub fn hides(&self, author: Id) -> Result<bool, StorageError> {
        match self.me {
            Some(me) => self.store().hides(me, author),
            None => Ok(false),
        }
    }

    /// Whether a status is shown outside the viewer's home: in public and hashtag
    /// timelines and streams, among a thread's replies, in a conversation. The viewer
    /// may see it and does not hide its author.
    pub fn listed(&self, status: &Status) -> Result<bool, StorageError> {
        Ok(self.can_see(status)? && !self.hides(status.account_id)?)
    }

    /// [`Viewer::listed`] for a stored status (false when it is gone).
    pub fn listed_id(&self, id: Id) -> Result<bool, StorageError> {
        match self.store().status(id)? {
            Some(s) => self.listed(&s),
            None => Ok(false),
        }
    }

    /// Whether a stored notification is still shown: its sender exists and is not
    /// hidden, and its status (if any) exists and may be seen.
    pub fn notification_shown(&self, n: &Notification) -> Result<bool, StorageError> {
        let store = self.store();
        if self.hides(n.from_account)? || store.account(n.from_account)?.is_none() {
            return Ok(false);
        }
        match n.status_id {
            Some(id) => Ok(self.visible_status(id)?.is_some()),
            None => Ok(true),
        }
    }
}

/// Whether home-timeline entries are shown to `me` (Mastodon's home filter): the status
/// exists and `me` may see it; its author is `me`, or someone `me` follows and does not
/// hide; a reblog's original author is not hidden; a reply to someone else is shown only
/// if `me` is that someone or follows them.
///
/// For many entries of one viewer, whom the viewer hides is read once (three range
/// scans) and whether they follow an author once per author; [`HomeFilter::single`]
/// does point reads instead, cheaper for one check.
pub struct HomeFilter<'a> {
    store: &'a Store,
    me: Id,
    /// Everyone `me` hides; `None` for a single check.
    hidden: Option<HashSet<Id>>,
    follows: HashMap<Id, bool>,
}

impl<'a> HomeFilter<'a> {
    pub fn new(store: &'a Store, me: Id) -> Result<Self, StorageError> {
        Ok(Self { store, me, hidden: Some(store.hidden_accounts(me)?), follows: HashMap::new() })
    }

    /// A filter for one or two checks.
    pub fn single(store: &'a Store, me: Id) -> Self {
        Self { store, me, hidden: None, follows: HashMap::new() }
    }

    fn hides(&self, other: Id) -> Result<bool, StorageError> {
        match &self.hidden {
            Some(hidden) => Ok(hidden.contains(&other)),
            None => self.store.hides(self.me, other),
        }
    }

    fn follows(&mut self, author: Id) -> Result<bool, StorageError> {
        if let Some(known) = self.follows.get(&author) {
            return Ok(*known);
        }
        let known = self.store.follows(self.me, author)?;
        self.follows.insert(author, known);
        Ok(known)
    }

    /// Whether stored status `id` is shown (false when it is gone).
    pub fn visible(&mut self, id: Id) -> Result<bool, StorageError> {
        match self.store.status(id)? {
            Some(status) => self.visible_status(&status),
            None => Ok(false),
        }
    }

    /// [`HomeFilter::visible`] for a status already read.
    pub fn visible_status(&mut self, status: &Status) -> Result<bool, StorageError> {
        let (store, me) = (self.store, self.me);
        if !can_see(store, Some(me), status)? {
            return Ok(false);
        }
        if status.account_id == me {
            return Ok(true);
        }
        if self.hides(status.account_id)? || !self.follows(status.account_id)? {
            return Ok(false);
        }
        if let Some(original) = status.reblog_of
            && let Some(o) = store.status(original)?
            && self.hides(o.account_id)?
        {
            return Ok(false);
        }
        if status.reblog_of.is_none()
            && let Some(replied) = status.in_reply_to_account_id
            && replied != status.account_id
            && replied != me
            && !self.follows(replied)?
        {
            return Ok(false);
        }
        Ok(true)
    }
}

/// [`HomeFilter`] from the status's side: whether one status is shown in the homes of
/// many viewers (its fan-out audience: the author and their followers), the same rules
/// evaluated set-wise, so the fan-out decides for 10,000 streams with a handful of range
/// scans instead of reads per viewer. The test `home_audience_agrees_with_home_filter`
/// holds the two to the same answers.
pub struct HomeAudience {
    author: Id,
    /// The status `can_see` judges: the original, for a reblog; `None` if it is gone.
    seen: Option<Seen>,
    /// Viewers who hide the author (a block either way, a mute).
    hide_author: HashSet<Id>,
    /// For a reblog: viewers who hide the original's author.
    hide_original: HashSet<Id>,
    /// A reply to someone else: that someone and their followers.
    reply_to: Option<(Id, HashSet<Id>)>,
}

struct Seen {
    author: Id,
    visibility: Visibility,
    suspended: bool,
    /// Whom its author blocks.
    blocked: HashSet<Id>,
    mentioned: HashSet<Id>,
    /// A private original of someone else's reblog: its author's followers.
    followers: Option<HashSet<Id>>,
}

impl HomeAudience {
    pub fn new(store: &Store, status: &Status) -> Result<Self, StorageError> {
        let author = status.account_id;
        let original = match status.reblog_of {
            Some(id) => store.status(id)?,
            None => None,
        };
        let seen_status = match (status.reblog_of, &original) {
            (None, _) => Some(status),
            (Some(_), Some(o)) => Some(o),
            (Some(_), None) => None,
        };
        let seen = match seen_status {
            Some(s) => Some(Seen {
                author: s.account_id,
                visibility: s.visibility,
                suspended: store.is_suspended(s.account_id)?,
                blocked: store.blocked_by_user(s.account_id)?,
                mentioned: s.mentions.iter().map(|m| m.account_id).collect(),
                followers: match (status.reblog_of, s.visibility) {
                    (Some(_), Visibility::Private) => Some(store.follower_ids(s.account_id)?.into_iter().collect()),
                    _ => None,
                },
            }),
            None => None,
        };
        let hide_original = match &original {
            Some(o) => store.hidden_from(o.account_id)?,
            None => HashSet::new(),
        };
        let reply_to = match (status.reblog_of, status.in_reply_to_account_id) {
            (None, Some(replied)) if replied != author => {
                Some((replied, store.follower_ids(replied)?.into_iter().collect()))
            }
            _ => None,
        };
        Ok(Self { author, seen, hide_author: store.hidden_from(author)?, hide_original, reply_to })
    }

    /// Whether `viewer`, the author or one of the author's followers, has it in home.
    pub fn shows(&self, viewer: Id) -> bool {
        // `can_see`, for the status or the reblogged original.
        let Some(seen) = &self.seen else { return false };
        if viewer != seen.author {
            if seen.suspended || seen.blocked.contains(&viewer) {
                return false;
            }
            let allowed = match seen.visibility {
                Visibility::Public | Visibility::Unlisted => true,
                // The viewer follows the status's author; for a reblog, the original's
                // author must be followed (or have mentioned them).
                Visibility::Private => {
                    seen.mentioned.contains(&viewer) || seen.followers.as_ref().is_none_or(|f| f.contains(&viewer))
                }
                Visibility::Direct => seen.mentioned.contains(&viewer),
            };
            if !allowed {
                return false;
            }
        }
        if viewer == self.author {
            return true;
        }
        if self.hide_author.contains(&viewer) || self.hide_original.contains(&viewer) {
            return false;
        }
        match &self.reply_to {
            Some((replied, followers)) => viewer == *replied || followers.contains(&viewer),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Mention;

    /// A small pseudo-random generator (the test must not depend on the clock).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[tokio::test]
    async fn home_audience_agrees_with_home_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let users: Vec<Id> = (1..=8).map(Id).collect();
        for u in &users {
            let account = crate::storage::accounts::tests::account(u.0, &format!("u{}", u.0));
            store.create_account(&account).await.unwrap();
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for a in &users {
            for b in &users {
                if a == b {
                    continue;
                }
                match rng.next(10) {
                    0..=4 => {
                        store.follow(*a, *b).await.unwrap();
                    }
                    5 => {
                        store.set_block(*a, *b, true).await.unwrap();
                    }
                    6 => {
                        store.set_mute(*a, *b, true).await.unwrap();
                    }
                    _ => {}
                }
            }
        }
        store.set_suspended(users[7], Some(Id(1))).await.unwrap();
        let visibilities = [Visibility::Public, Visibility::Unlisted, Visibility::Private, Visibility::Direct];
        let mut statuses: Vec<Status> = Vec::new();
        let mut checked = 0;
        for i in 0..200u64 {
            let author = users[rng.next(8) as usize];
            let mut s = Status::new(Id(1000 + i), author, String::new(), visibilities[rng.next(4) as usize]);
            s.mentions = (0..rng.next(3))
                .map(|_| {
                    let m = users[rng.next(8) as usize];
                    Mention { account_id: m, username: format!("u{}", m.0) }
                })
                .collect();
            if !statuses.is_empty() && rng.next(3) == 0 {
                let parent = &statuses[rng.next(statuses.len() as u64) as usize];
                s.in_reply_to_id = Some(parent.id);
                s.in_reply_to_account_id = Some(parent.account_id);
            } else if !statuses.is_empty() && rng.next(3) == 0 {
                // A reblog stands for its original (a reblog of a reblog is never made).
                let original = &statuses[rng.next(statuses.len() as u64) as usize];
                s.reblog_of = Some(original.reblog_of.unwrap_or(original.id));
                s.mentions.clear();
            }
            if rng.next(20) == 0 {
                s.reblog_of = Some(Id(999_999)); // a reblog of something gone
            }
            store.create_status(&s, None).await.ok();
            let audience = HomeAudience::new(&store, &s).unwrap();
            let mut viewers = store.follower_ids(author).unwrap();
            viewers.push(author);
            for v in viewers {
                let expected = HomeFilter::single(&store, v).visible_status(&s).unwrap();
                assert_eq!(audience.shows(v), expected, "viewer {v}, status {s:?}");
                checked += 1;
            }
            statuses.push(s);
        }
        assert!(checked > 300, "too few pairs checked: {checked}");
    }
}
