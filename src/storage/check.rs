//! Offline consistency check (`starling admin check`, the crash test): scans every tree
//! and reports each place where an index, a count or a fan-out result disagrees with the
//! records it is derived from. Read-only; meant for a store no server is writing to.
//!
//! What holds after any crash, and what is checked:
//! - every status decodes and sits in its author's `userid_statusids`; a reply has its
//!   `statusid_replyids` entry, a reblog its `statusid_rebloggers` entry;
//! - `public_statusids` and `tag_statusids` hold exactly the public, non-reblog
//!   statuses (`public_statusids` without replies to others) and their tags;
//! - every index entry (`userid_statusids`, `statusid_replyids`, `statusid_rebloggers`,
//!   `public_statusids`, `tag_statusids`, `statusid_counters`) points at an existing
//!   status that matches it;
//! - `statusid_counters` equal the records: replies = `statusid_replyids` children,
//!   reblogs = `statusid_rebloggers`, favourites = `statusid_favouriters`;
//! - `userid_following` and `userid_followers` mirror each other, involve existing
//!   accounts, and every account's `followers_count`, `following_count` and
//!   `statuses_count` (statuses that are not reblogs) equal those records;
//! - `statusid_favouriters`/`userid_favourites` (and the bookmark pair) mirror each other;
//! - `statusid_edits` holds versions of existing statuses only (a delete takes the
//!   history along), and the instance's status count (`name_count`) is the number of
//!   statuses that are not reblogs;
//! - every tag in `tag_statusids` has its `tag_tagid` record, and each day's distinct
//!   `accounts` in `tagday_uses` equals its `tagdayuser_used` entries, at most its uses;
//! - every `userid_timeline` entry of an existing account points at an existing status
//!   of the account itself or of someone it follows,
//!   unless the status was deleted and its `Delete` fan-out job is still pending;
//! - fan-out finished: a status with no pending job is in its author's home timeline,
//!   and in every follower's when the author is not a celebrity, has at most
//!   [`MERGE_LIMIT`] statuses (so following merged all of them) and the status is not
//!   direct (those reach only the mentioned).
//!
//! Allowed, and counted rather than reported: replies whose parent is gone
//! (`delete_status` removes a status but leaves its replies, as on Mastodon;
//! `create_status` checks the parent inside its transaction, so a missing parent was
//! deleted), favourites or bookmarks of deleted statuses (kept, hidden when read), and
//! the home timeline entries of deleted accounts (left behind, never read again).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::statuses::{Counters, FanoutJob, STATUS_COUNT, read_u64};
use super::tags::{read_counts, read_day_key};
use super::timelines::MERGE_LIMIT;
use super::{StorageError, Store, codec, keys};
use crate::domain::{Account, Id, Status, Visibility};

/// At most this many violations are listed (all are counted).
pub const MAX_LISTED: usize = 1000;

/// The shipped default of `fanout.celebrity_followers`.
pub const DEFAULT_CELEBRITY_FOLLOWERS: u64 = 10_000;

/// What [`Store::check_invariants`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub accounts: u64,
    /// Statuses, reblog wrappers included.
    pub statuses: u64,
    pub reblogs: u64,
    pub replies: u64,
    pub follows: u64,
    pub favourites: u64,
    pub timeline_entries: u64,
    /// Earlier versions of edited statuses.
    pub edit_versions: u64,
    /// Hashtags with a record (`tag_tagid`).
    pub tags: u64,
    /// Fan-out jobs not finished yet (a stopped server leaves them for its next start).
    pub pending_fanout_jobs: u64,
    /// Allowed: replies whose parent was deleted.
    pub replies_to_deleted_statuses: u64,
    /// Allowed: favourites and bookmarks of deleted statuses.
    pub marks_of_deleted_statuses: u64,
    /// Allowed: home timeline entries of deleted statuses whose `Delete` job is pending.
    pub timeline_entries_awaiting_delete: u64,
    /// Allowed: home timeline entries of deleted accounts (left behind, never read).
    pub timeline_entries_of_deleted_accounts: u64,
    pub violation_count: u64,
    /// The first [`MAX_LISTED`] violations, one sentence each.
    pub violations: Vec<String>,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.violation_count == 0
    }

    fn violation(&mut self, message: String) {
        self.violation_count += 1;
        if self.violations.len() < MAX_LISTED {
            self.violations.push(message);
        }
    }
}

/// Splits a `tag ++ 0xff ++ StatusId` key.
fn read_tag_key(key: &[u8]) -> Option<(String, Id)> {
    let at = key.len().checked_sub(9)?;
    if key[at] != 0xff {
        return None;
    }
    let tag = std::str::from_utf8(&key[..at]).ok()?;
    Some((tag.to_owned(), keys::read_id(&key[at + 1..])?))
}

fn show(key: &[u8]) -> String {
    hex::encode(key)
}

impl Store {
    /// Checks every invariant with the shipped celebrity threshold.
    pub fn check_invariants(&self) -> Result<CheckReport, StorageError> {
        self.check_invariants_with(DEFAULT_CELEBRITY_FOLLOWERS)
    }

    /// Checks every invariant; authors with more than `celebrity_followers` followers
    /// are not fanned out on write, so their followers' timelines are not checked.
    /// Unreadable records are violations; only a failing storage engine is an error.
    pub fn check_invariants_with(&self, celebrity_followers: u64) -> Result<CheckReport, StorageError> {
        let t = &self.trees;
        let mut r = CheckReport::default();

        // Records: accounts, statuses, pending jobs.
        let mut accounts: HashMap<Id, Account> = HashMap::new();
        for row in t.userid_account.iter() {
            let (k, v) = row?;
            match codec::decode::<Account>("userid_account", &k, &v) {
                Ok(a) if keys::read_id(&k) == Some(a.id) && k.len() == 8 => {
                    accounts.insert(a.id, a);
                }
                Ok(a) => r.violation(format!("userid_account key {} holds account {}", show(&k), a.id)),
                Err(e) => r.violation(format!("userid_account {}: {e}", show(&k))),
            }
        }
        r.accounts = accounts.len() as u64;

        let mut statuses: HashMap<Id, Status> = HashMap::new();
        for row in t.statusid_status.iter() {
            let (k, v) = row?;
            match codec::decode::<Status>("statusid_status", &k, &v) {
                Ok(s) if keys::read_id(&k) == Some(s.id) && k.len() == 8 => {
                    statuses.insert(s.id, s);
                }
                Ok(s) => r.violation(format!("statusid_status key {} holds status {}", show(&k), s.id)),
                Err(e) => r.violation(format!("statusid_status {}: {e}", show(&k))),
            }
        }
        r.statuses = statuses.len() as u64;

        // Status id → whether its pending job is a Delete.
        let mut jobs: HashMap<Id, bool> = HashMap::new();
        for row in t.fanout_jobs.iter() {
            let (k, v) = row?;
            r.pending_fanout_jobs += 1;
            match codec::decode::<FanoutJob>("fanout_jobs", &k, &v) {
                Ok(job) => {
                    let s = job.status();
                    if k.as_ref() != job.key().as_slice() {
                        r.violation(format!("fanout_jobs key {} holds a job for status {}", show(&k), s.id));
                    }
                    // An edit changes no timeline: only publishes and deletes count here.
                    match job {
                        FanoutJob::Publish(_) => {
                            jobs.insert(s.id, false);
                        }
                        FanoutJob::Delete(_) => {
                            jobs.insert(s.id, true);
                        }
                        FanoutJob::Edit(_) => {}
                    }
                }
                Err(e) => r.violation(format!("fanout_jobs {}: {e}", show(&k))),
            }
        }

        let public_expected =
            |s: &Status| s.reblog_of.is_none() && s.visibility == Visibility::Public && !s.is_reply_to_other();
        let tags_expected = |s: &Status| s.reblog_of.is_none() && s.visibility == Visibility::Public;

        // Index trees, each entry against the records.
        let mut by_author: HashMap<Id, Vec<Id>> = HashMap::new();
        for row in t.userid_statusids.iter() {
            let (k, _) = row?;
            let Some((author, id)) = keys::read_pair(&k).filter(|_| k.len() == 16) else {
                r.violation(format!("userid_statusids: malformed key {}", show(&k)));
                continue;
            };
            match statuses.get(&id) {
                Some(s) if s.account_id == author => by_author.entry(author).or_default().push(id),
                Some(s) => r.violation(format!(
                    "userid_statusids lists status {id} under account {author}, but its author is {}",
                    s.account_id
                )),
                None => r.violation(format!("userid_statusids: account {author} lists missing status {id}")),
            }
        }

        let mut reply_counts: HashMap<Id, u64> = HashMap::new();
        for row in t.statusid_replyids.iter() {
            let (k, _) = row?;
            let Some((parent, reply)) = keys::read_pair(&k).filter(|_| k.len() == 16) else {
                r.violation(format!("statusid_replyids: malformed key {}", show(&k)));
                continue;
            };
            match statuses.get(&reply) {
                Some(s) if s.in_reply_to_id == Some(parent) => *reply_counts.entry(parent).or_default() += 1,
                Some(s) => r.violation(format!(
                    "statusid_replyids lists {reply} as a reply to {parent}, but it replies to {:?}",
                    s.in_reply_to_id.map(|p| p.0)
                )),
                None => r.violation(format!("statusid_replyids: status {parent} lists missing reply {reply}")),
            }
        }

        let mut reblog_counts: HashMap<Id, u64> = HashMap::new();
        for row in t.statusid_rebloggers.iter() {
            let (k, v) = row?;
            let Some((original, user)) = keys::read_pair(&k).filter(|_| k.len() == 16) else {
                r.violation(format!("statusid_rebloggers: malformed key {}", show(&k)));
                continue;
            };
            let wrapper = keys::read_id(&v).unwrap_or(Id(0));
            match statuses.get(&wrapper) {
                Some(w) if w.reblog_of == Some(original) && w.account_id == user => {
                    *reblog_counts.entry(original).or_default() += 1
                }
                _ => r.violation(format!(
                    "statusid_rebloggers: reblog of {original} by {user} points at {wrapper}, which is not that reblog"
                )),
            }
        }

        let mut favourite_counts: HashMap<Id, u64> = HashMap::new();
        let mark_pairs = [
            ("statusid_favouriters", "userid_favourites", &t.statusid_favouriters, &t.userid_favourites),
            ("statusid_bookmarkers", "userid_bookmarks", &t.statusid_bookmarkers, &t.userid_bookmarks),
        ];
        for (i, (by_status_name, by_user_name, by_status, by_user)) in mark_pairs.into_iter().enumerate() {
            let favourites = i == 0;
            for row in by_status.iter() {
                let (k, v) = row?;
                let (Some((status, user)), Some(mark)) =
                    (keys::read_pair(&k).filter(|_| k.len() == 16), keys::read_id(&v))
                else {
                    r.violation(format!("{by_status_name}: malformed entry {}", show(&k)));
                    continue;
                };
                let back = by_user.get(keys::pair_key(user, mark))?.and_then(|v| keys::read_id(&v));
                if back != Some(status) {
                    r.violation(format!(
                        "{by_status_name} has {user} on {status} (mark {mark}) but {by_user_name} has {:?}",
                        back.map(|b| b.0)
                    ));
                }
                if statuses.contains_key(&status) {
                    if favourites {
                        r.favourites += 1;
                        *favourite_counts.entry(status).or_default() += 1;
                    }
                } else {
                    r.marks_of_deleted_statuses += 1;
                }
            }
            for row in by_user.iter() {
                let (k, v) = row?;
                let (Some((user, mark)), Some(status)) =
                    (keys::read_pair(&k).filter(|_| k.len() == 16), keys::read_id(&v))
                else {
                    r.violation(format!("{by_user_name}: malformed entry {}", show(&k)));
                    continue;
                };
                let back = by_status.get(keys::pair_key(status, user))?.and_then(|v| keys::read_id(&v));
                if back != Some(mark) {
                    r.violation(format!(
                        "{by_user_name} has mark {mark} by {user} on {status} but {by_status_name} has {:?}",
                        back.map(|b| b.0)
                    ));
                }
            }
        }

        let mut public: HashSet<Id> = HashSet::new();
        for row in t.public_statusids.iter() {
            let (k, _) = row?;
            let Some(id) = keys::read_id(&k).filter(|_| k.len() == 8) else {
                r.violation(format!("public_statusids: malformed key {}", show(&k)));
                continue;
            };
            match statuses.get(&id) {
                Some(s) if public_expected(s) => {
                    public.insert(id);
                }
                Some(_) => r.violation(format!("public_statusids lists {id}, which is not a public top-level status")),
                None => r.violation(format!("public_statusids lists missing status {id}")),
            }
        }

        let mut tagged: HashSet<(String, Id)> = HashSet::new();
        for row in t.tag_statusids.iter() {
            let (k, _) = row?;
            let Some((tag, id)) = read_tag_key(&k) else {
                r.violation(format!("tag_statusids: malformed key {}", show(&k)));
                continue;
            };
            match statuses.get(&id) {
                Some(s) if tags_expected(s) && s.tags.iter().any(|x| x.to_lowercase() == tag) => {
                    tagged.insert((tag, id));
                }
                Some(_) => r.violation(format!("tag_statusids lists {id} under #{tag}, which it is not public with")),
                None => r.violation(format!("tag_statusids lists missing status {id} under #{tag}")),
            }
        }

        for row in t.statusid_counters.iter() {
            let (k, v) = row?;
            let Some(id) = keys::read_id(&k).filter(|_| k.len() == 8) else {
                r.violation(format!("statusid_counters: malformed key {}", show(&k)));
                continue;
            };
            if !statuses.contains_key(&id) {
                r.violation(format!("statusid_counters has counts for missing status {id}"));
            }
            if let Err(e) = codec::decode::<Counters>("statusid_counters", &k, &v) {
                r.violation(format!("statusid_counters {id}: {e}"));
            }
        }

        // Each status against its indexes and counts.
        let mut statuses_count: HashMap<Id, u64> = HashMap::new();
        for (&id, s) in &statuses {
            if !accounts.contains_key(&s.account_id) {
                r.violation(format!("status {id} belongs to missing account {}", s.account_id));
            }
            if t.userid_statusids.get(keys::pair_key(s.account_id, id))?.is_none() {
                r.violation(format!("status {id} is missing from its author's userid_statusids"));
            }
            if let Some(original) = s.reblog_of {
                r.reblogs += 1;
                let entry = t.statusid_rebloggers.get(keys::pair_key(original, s.account_id))?;
                if entry.as_ref().and_then(|v| keys::read_id(v)) != Some(id) {
                    r.violation(format!("reblog {id} of {original} has no statusid_rebloggers entry"));
                }
                if !statuses.contains_key(&original) {
                    r.violation(format!("reblog {id} wraps missing status {original}"));
                }
            } else {
                *statuses_count.entry(s.account_id).or_default() += 1;
            }
            if let Some(parent) = s.in_reply_to_id {
                r.replies += 1;
                if t.statusid_replyids.get(keys::pair_key(parent, id))?.is_none() {
                    r.violation(format!("reply {id} is missing from statusid_replyids of {parent}"));
                }
                if !statuses.contains_key(&parent) {
                    r.replies_to_deleted_statuses += 1;
                }
            }
            if public_expected(s) != public.contains(&id) {
                r.violation(format!(
                    "status {id}: public_statusids entry is {}",
                    if public.contains(&id) { "there but should not be" } else { "missing" }
                ));
            }
            if tags_expected(s) {
                for tag in &s.tags {
                    if !tagged.contains(&(tag.to_lowercase(), id)) {
                        r.violation(format!("status {id} is missing from tag_statusids under #{tag}"));
                    }
                }
            }
            let stored = self.counters(id).unwrap_or_default();
            let actual = Counters {
                replies: reply_counts.get(&id).copied().unwrap_or(0),
                reblogs: reblog_counts.get(&id).copied().unwrap_or(0),
                favourites: favourite_counts.get(&id).copied().unwrap_or(0),
            };
            if stored != actual {
                r.violation(format!(
                    "status {id}: counters say {}/{}/{} replies/reblogs/favourites, records {}/{}/{}",
                    stored.replies,
                    stored.reblogs,
                    stored.favourites,
                    actual.replies,
                    actual.reblogs,
                    actual.favourites
                ));
            }
        }

        // Edit history, the instance's status count.
        for row in t.statusid_edits.iter() {
            let (k, _) = row?;
            let Some((id, _)) = keys::read_pair(&k).filter(|_| k.len() == 16) else {
                r.violation(format!("statusid_edits: malformed key {}", show(&k)));
                continue;
            };
            r.edit_versions += 1;
            if !statuses.contains_key(&id) {
                r.violation(format!("statusid_edits holds a version of missing status {id}"));
            }
        }
        let stored = t.name_count.get(STATUS_COUNT.as_bytes())?.as_deref().and_then(read_u64).unwrap_or(0);
        let actual = r.statuses - r.reblogs;
        if stored != actual {
            r.violation(format!("the status count is {stored}, records {actual} (statuses that are not reblogs)"));
        }

        // Tags: records for every tag used, distinct accounts per day.
        let mut tag_ids: HashSet<String> = HashSet::new();
        for row in t.tag_tagid.iter() {
            let (k, v) = row?;
            match (std::str::from_utf8(&k), keys::read_id(&v).filter(|_| v.len() == 8)) {
                (Ok(tag), Some(_)) => {
                    tag_ids.insert(tag.to_owned());
                }
                _ => r.violation(format!("tag_tagid: malformed entry {}", show(&k))),
            }
        }
        r.tags = tag_ids.len() as u64;
        for tag in tagged.iter().map(|(tag, _)| tag).collect::<HashSet<_>>() {
            if !tag_ids.contains(tag) {
                r.violation(format!("#{tag} is in tag_statusids but has no tag_tagid record"));
            }
        }
        let mut day_accounts: HashMap<Vec<u8>, u64> = HashMap::new();
        for row in t.tagdayuser_used.iter() {
            let (k, _) = row?;
            let Some(day_key) = k.len().checked_sub(8).map(|at| k[..at].to_vec()).filter(|d| read_day_key(d).is_some())
            else {
                r.violation(format!("tagdayuser_used: malformed key {}", show(&k)));
                continue;
            };
            *day_accounts.entry(day_key).or_default() += 1;
        }
        for row in t.tagday_uses.iter() {
            let (k, v) = row?;
            let (Some((tag, day)), Some((uses, accounts))) = (read_day_key(&k), read_counts(&v)) else {
                r.violation(format!("tagday_uses: malformed entry {}", show(&k)));
                continue;
            };
            let entries = day_accounts.remove(k.as_ref()).unwrap_or(0);
            if accounts != entries || accounts > uses || !tag_ids.contains(&tag) {
                r.violation(format!(
                    "#{tag} on day {day}: {uses} uses by {accounts} accounts, {entries} tagdayuser_used entries{}",
                    if tag_ids.contains(&tag) { "" } else { ", no tag_tagid record" }
                ));
            }
        }
        for key in day_accounts.keys() {
            r.violation(format!("tagdayuser_used entries for {} without their tagday_uses count", show(key)));
        }

        // Follows mirror each other and match the account counts.
        let mut following: HashMap<Id, u64> = HashMap::new();
        let mut followers: HashMap<Id, u64> = HashMap::new();
        let mut follow_pairs: Vec<(Id, Id)> = Vec::new();
        for row in t.userid_following.iter() {
            let (k, _) = row?;
            let Some((follower, followee)) = keys::read_pair(&k).filter(|_| k.len() == 16) else {
                r.violation(format!("userid_following: malformed key {}", show(&k)));
                continue;
            };
            r.follows += 1;
            *following.entry(follower).or_default() += 1;
            follow_pairs.push((follower, followee));
            if t.userid_followers.get(keys::pair_key(followee, follower))?.is_none() {
                r.violation(format!("{follower} follows {followee} but is not among their userid_followers"));
            }
            for who in [follower, followee] {
                if !accounts.contains_key(&who) {
                    r.violation(format!("the follow {follower} → {followee} involves missing account {who}"));
                }
            }
        }
        for row in t.userid_followers.iter() {
            let (k, _) = row?;
            let Some((followee, follower)) = keys::read_pair(&k).filter(|_| k.len() == 16) else {
                r.violation(format!("userid_followers: malformed key {}", show(&k)));
                continue;
            };
            *followers.entry(followee).or_default() += 1;
            if t.userid_following.get(keys::pair_key(follower, followee))?.is_none() {
                r.violation(format!("{follower} is among {followee}'s userid_followers but not in userid_following"));
            }
        }
        for (id, a) in &accounts {
            let counts = [
                ("followers_count", a.followers_count, followers.get(id).copied().unwrap_or(0)),
                ("following_count", a.following_count, following.get(id).copied().unwrap_or(0)),
                ("statuses_count", a.statuses_count, statuses_count.get(id).copied().unwrap_or(0)),
            ];
            for (name, stored, actual) in counts {
                if stored != actual {
                    r.violation(format!("account {id} ({}): {name} is {stored}, records {actual}", a.username));
                }
            }
        }

        // Home timelines: entries point at statuses; finished fan-out reached its audience.
        for row in t.userid_timeline.iter() {
            let (k, _) = row?;
            let Some((user, id)) = keys::read_pair(&k).filter(|_| k.len() == 16) else {
                r.violation(format!("userid_timeline: malformed key {}", show(&k)));
                continue;
            };
            r.timeline_entries += 1;
            if !accounts.contains_key(&user) {
                r.timeline_entries_of_deleted_accounts += 1;
            } else if let Some(s) = statuses.get(&id) {
                // Unfollowing takes the author's statuses out in the same transaction,
                // and a fan-out holds the author's lock: nobody holds a stranger's post.
                if s.account_id != user && t.userid_following.get(keys::pair_key(user, s.account_id))?.is_none() {
                    r.violation(format!(
                        "home timeline of {user} holds status {id} of {}, whom they do not follow",
                        s.account_id
                    ));
                }
            } else if jobs.get(&id) == Some(&true) {
                r.timeline_entries_awaiting_delete += 1;
            } else {
                r.violation(format!("home timeline of {user} lists missing status {id} (no delete pending)"));
            }
        }
        let fanned_out = |id: Id| !jobs.contains_key(&id);
        for (&id, s) in &statuses {
            if fanned_out(id) && t.userid_timeline.get(keys::pair_key(s.account_id, id))?.is_none() {
                r.violation(format!("status {id}: fan-out finished but it is not in its author's home timeline"));
            }
        }
        for (follower, author) in follow_pairs {
            let celebrity = accounts.get(&author).is_some_and(|a| a.followers_count > celebrity_followers);
            let Some(ids) = by_author.get(&author) else { continue };
            if celebrity || ids.len() > MERGE_LIMIT {
                continue;
            }
            let (mut expected, mut missing) = (0, Vec::new());
            for id in ids {
                let Some(s) = statuses.get(id) else { continue };
                if s.visibility == Visibility::Direct || !fanned_out(*id) {
                    continue;
                }
                // A reblog is left out of a home that already shows its original
                // (`REBLOG_FALLOFF`): checked loosely, as the original being there.
                if let Some(original) = s.reblog_of {
                    let mut shown = t.userid_timeline.get(keys::pair_key(follower, original))?.is_some();
                    for row in t.statusid_rebloggers.scan_prefix(keys::id_key(original)) {
                        let (_, wrapper) = row?;
                        shown |= keys::read_id(&wrapper).is_some_and(|w| {
                            w != *id && t.userid_timeline.get(keys::pair_key(follower, w)).ok().flatten().is_some()
                        });
                    }
                    if shown {
                        continue;
                    }
                }
                expected += 1;
                if t.userid_timeline.get(keys::pair_key(follower, *id))?.is_none() {
                    missing.push(*id);
                }
            }
            if let Some(first) = missing.first() {
                r.violation(format!(
                    "{follower} follows {author}, but {} of the {expected} statuses of theirs that are fanned out are \
                     not in {follower}'s home timeline (e.g. {first})",
                    missing.len()
                ));
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::accounts::tests::account;

    fn status(store: &Store, author: Id, text: &str, parent: Option<&Status>) -> Status {
        Status {
            in_reply_to_id: parent.map(|p| p.id),
            in_reply_to_account_id: parent.map(|p| p.account_id),
            ..Status::new(store.next_id(), author, text.into(), Visibility::Public)
        }
    }

    /// A fresh store where bob (id 2) follows alice (id 1).
    async fn alice_followed_by_bob() -> (tempfile::TempDir, Store, Id, Id) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let (alice, bob) = (Id(1), Id(2));
        store.create_account(&account(1, "alice")).await.unwrap();
        store.create_account(&account(2, "bob")).await.unwrap();
        assert!(store.follow(bob, alice).await.unwrap());
        (dir, store, alice, bob)
    }

    /// What the fan-out router does for a published status.
    fn fan_out(store: &Store, s: &Status) {
        let mut audience = store.follower_ids(s.account_id).unwrap();
        audience.push(s.account_id);
        store.add_to_timelines(s.id, &audience).unwrap();
        store.finish_fanout_job(&FanoutJob::Publish(s.clone())).unwrap();
    }

    /// An unfollow racing a fan-out: the fan-out holds the author's lock from reading the
    /// followers to writing their timelines (as the router does), and the unfollow takes
    /// the same lock, so it waits and then takes the status out. Without the lock the
    /// unfollow runs in the gap and the fan-out leaves an entry the check flags.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unfollow_during_a_fanout_leaves_no_entry_behind() {
        let (_dir, store, alice, bob) = alice_followed_by_bob().await;
        let post = status(&store, alice, "racing", None);
        store.create_status(&post, None).await.unwrap();

        let (read_tx, read_rx) = std::sync::mpsc::channel();
        let fanout = {
            let (store, post) = (store.clone(), post.clone());
            std::thread::spawn(move || {
                let guard = store.lock_authors([post.account_id]);
                let mut audience = store.follower_ids(post.account_id).unwrap();
                audience.push(post.account_id);
                read_tx.send(()).unwrap();
                // The gap an unfollow would fall into without the lock.
                std::thread::sleep(std::time::Duration::from_millis(200));
                store.add_to_timelines(post.id, &audience).unwrap();
                drop(guard);
                store.finish_fanout_job(&FanoutJob::Publish(post.clone())).unwrap();
            })
        };
        read_rx.recv().unwrap();
        assert!(store.unfollow(bob, alice).await.unwrap());
        fanout.join().unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violations, Vec::<String>::new());
    }

    /// Follows racing an author's new statuses: each status either is in the list the
    /// follow merges or reaches the new follower through its fan-out (the crash test found
    /// statuses that fell between the two, when the follow read the author's statuses
    /// before its transaction without holding off the author's writes).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn follows_racing_new_statuses_miss_none() {
        const FOLLOWERS: u64 = 200;
        const POSTERS: usize = 3;
        const POSTS_EACH: usize = 150;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let author = Id(1);
        store.create_account(&account(1, "author")).await.unwrap();
        for n in 0..FOLLOWERS {
            store.create_account(&account(100 + n, &format!("f{n}"))).await.unwrap();
        }
        // Flushing holds sled's writers off, so transactions queue up behind each flush
        // and a follow's transaction can start well after its read of the statuses.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flusher = {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    store.flush_blocking().unwrap();
                }
            })
        };
        let mut tasks = Vec::new();
        for _ in 0..POSTERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..POSTS_EACH {
                    let post = status(&store, author, "post", None);
                    store.create_status(&post, None).await.unwrap();
                    // What the fan-out router does, with the cached follower list it uses.
                    let mut audience = store.cached_follower_ids(author).unwrap().to_vec();
                    audience.push(author);
                    store.add_to_timelines(post.id, &audience).unwrap();
                    store.finish_fanout_job(&FanoutJob::Publish(post)).unwrap();
                }
            }));
        }
        for chunk in 0..4u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for n in (chunk..FOLLOWERS).step_by(4) {
                    assert!(store.follow(Id(100 + n), author).await.unwrap());
                    tokio::task::yield_now().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        flusher.join().unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violations, Vec::<String>::new());
        assert_eq!((report.follows, report.statuses), (FOLLOWERS, (POSTERS * POSTS_EACH) as u64));
    }

    #[tokio::test]
    async fn a_consistent_store_is_clean_and_each_corruption_is_one_violation() {
        let (_dir, store, alice, bob) = alice_followed_by_bob().await;
        store.merge_author_into(bob, alice).unwrap();
        let post = status(&store, alice, "hello #world", None);
        store.create_status(&post, None).await.unwrap();
        let reply = status(&store, bob, "hi", Some(&post));
        store.create_status(&reply, None).await.unwrap();
        assert!(store.set_mark(crate::storage::Mark::Favourite, bob, post.id, true).await.unwrap());

        // Before fan-out the jobs are pending, and that is no violation.
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violations, Vec::<String>::new());
        assert_eq!((report.pending_fanout_jobs, report.statuses, report.replies), (2, 2, 1));

        fan_out(&store, &post);
        fan_out(&store, &reply);
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violations, Vec::<String>::new());
        assert_eq!((report.pending_fanout_jobs, report.follows, report.favourites), (0, 1, 1));
        assert!(report.is_clean());

        // A home timeline entry for a status that does not exist.
        let missing = store.next_id();
        store.trees.userid_timeline.insert(keys::pair_key(bob, missing), &[]).unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violation_count, 1, "{:?}", report.violations);
        assert!(report.violations[0].contains(&format!("missing status {missing}")), "{:?}", report.violations);
        store.trees.userid_timeline.remove(keys::pair_key(bob, missing)).unwrap();

        // A favourites counter that disagrees with the favourite records.
        let counters = Counters { replies: 1, reblogs: 0, favourites: 2 };
        store.trees.statusid_counters.insert(keys::id_key(post.id), codec::encode(&counters).unwrap()).unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violation_count, 1, "{:?}", report.violations);
        assert!(report.violations[0].contains("counters say 1/0/2"), "{:?}", report.violations);
        let counters = Counters { replies: 1, reblogs: 0, favourites: 1 };
        store.trees.statusid_counters.insert(keys::id_key(post.id), codec::encode(&counters).unwrap()).unwrap();

        // Half a follow: the follower side without the following side.
        store.trees.userid_followers.insert(keys::pair_key(bob, alice), &[]).unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violation_count, 2, "{:?}", report.violations);
        assert!(report.violations.iter().any(|v| v.contains("not in userid_following")));
        assert!(report.violations.iter().any(|v| v.contains("followers_count is 0, records 1")));
        store.trees.userid_followers.remove(keys::pair_key(bob, alice)).unwrap();

        // A follow whose merge into the home timeline is missing (what a crash between the
        // two used to leave, as `starling admin check` found after kill -9; they are one
        // transaction now, so the entry is taken out by hand).
        let carol = Id(3);
        store.create_account(&account(3, "carol")).await.unwrap();
        assert!(store.follow(carol, alice).await.unwrap());
        assert!(store.check_invariants().unwrap().is_clean(), "follow and merge are one write");
        store.trees.userid_timeline.remove(keys::pair_key(carol, post.id)).unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violation_count, 1, "{:?}", report.violations);
        assert!(report.violations[0].contains("1 of the 1 statuses"), "{:?}", report.violations);
        store.merge_author_into(carol, alice).unwrap();
        assert!(store.check_invariants().unwrap().is_clean());

        // Deleting the parent leaves the reply, which is allowed; the delete job is
        // pending, so the timeline entries that still point at it are too.
        store.delete_status(&post).await.unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violations, Vec::<String>::new());
        assert_eq!((report.replies_to_deleted_statuses, report.marks_of_deleted_statuses), (1, 1));
        assert_eq!(report.timeline_entries_awaiting_delete, 3, "alice's, bob's and carol's");
        // Once the delete job is gone, entries left behind are violations.
        store.finish_fanout_job(&FanoutJob::Delete(post.clone())).unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!(report.violation_count, 3, "{:?}", report.violations);
        // Entries of a deleted account are left behind, and allowed.
        store.delete_account(&account(3, "carol")).await.unwrap();
        store.unfollow(carol, alice).await.unwrap();
        let report = store.check_invariants().unwrap();
        assert_eq!((report.violation_count, report.timeline_entries_of_deleted_accounts), (2, 1));
    }
}
