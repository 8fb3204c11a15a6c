//! Moderation and analytics:
//! - `userid_suspension` (UserId → Suspension): suspended accounts;
//! - `reportid_report` (ReportId → Report): reports, open and resolved;
//! - `metricday_count` (metric name ++ 0xff ++ day (u32 BE, days since 1970-01-01) → u64
//!   BE): counters kept on write for the admin measures;
//! - `dayuser_active` (day ++ UserId → ()): who was active on a day (its count is the
//!   `active_users` measure; each user is written once a day, remembered in memory).

use serde::{Deserialize, Serialize};

use super::timelines::page_ids;
use super::{PageQuery, StorageError, Store, codec, keys};
use crate::domain::Id;
use crate::domain::time::now_millis;

const REPORTS: &str = "reportid_report";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspension {
    pub at_ms: i64,
    pub by: Id,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub id: Id,
    pub reporter: Id,
    pub target: Id,
    pub status_ids: Vec<Id>,
    pub comment: String,
    pub category: String,
    pub rule_ids: Vec<String>,
    pub forwarded: bool,
    pub created_at_ms: i64,
    /// When and by whom it was resolved.
    pub resolved: Option<(i64, Id)>,
}

/// The measures Mastodon's admin dashboard asks for, kept as daily counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    NewUsers,
    Interactions,
    OpenedReports,
    ResolvedReports,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Self::NewUsers => "new_users",
            Self::Interactions => "interactions",
            Self::OpenedReports => "opened_reports",
            Self::ResolvedReports => "resolved_reports",
        }
    }
}

pub use crate::domain::time::day_of;

fn metric_key(name: &str, day: u32) -> Vec<u8> {
    let mut key = name.as_bytes().to_vec();
    key.push(0xff);
    key.extend_from_slice(&day.to_be_bytes());
    key
}

fn add_u64(old: Option<&[u8]>, by: u64) -> Vec<u8> {
    let current = old.and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).unwrap_or(0);
    current.saturating_add(by).to_be_bytes().to_vec()
}

impl Store {
    pub fn suspension(&self, user: Id) -> Result<Option<Suspension>, StorageError> {
        let key = keys::id_key(user);
        match self.trees.userid_suspension.get(key)? {
            Some(v) => Ok(Some(codec::decode("userid_suspension", &key, &v)?)),
            None => Ok(None),
        }
    }

    pub fn is_suspended(&self, user: Id) -> Result<bool, StorageError> {
        Ok(self.trees.userid_suspension.contains_key(keys::id_key(user))?)
    }

    /// Suspends (`Some(moderator)`) or lifts a suspension (`None`). Durable on return.
    pub async fn set_suspended(&self, user: Id, by: Option<Id>) -> Result<(), StorageError> {
        let key = keys::id_key(user);
        match by {
            Some(by) => {
                self.trees.userid_suspension.insert(key, codec::encode(&Suspension { at_ms: now_millis(), by })?)?;
            }
            None => {
                self.trees.userid_suspension.remove(key)?;
            }
        }
        self.durable().await
    }

    /// Stores a new report and counts it. Durable on return.
    pub async fn create_report(&self, report: &Report) -> Result<(), StorageError> {
        self.trees.reportid_report.insert(keys::id_key(report.id), codec::encode(report)?)?;
        self.count(Metric::OpenedReports, 1)?;
        self.durable().await
    }

    pub fn report(&self, id: Id) -> Result<Option<Report>, StorageError> {
        let key = keys::id_key(id);
        match self.trees.reportid_report.get(key)? {
            Some(v) => Ok(Some(codec::decode(REPORTS, &key, &v)?)),
            None => Ok(None),
        }
    }

    /// A page of reports that `keep` accepts, newest first.
    pub fn reports_page(
        &self,
        q: &PageQuery,
        mut keep: impl FnMut(&Report) -> bool,
    ) -> Result<Vec<Report>, StorageError> {
        let ids = page_ids(&self.trees.reportid_report, &[], q, |id| Ok(self.report(id)?.is_some_and(|r| keep(&r))))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.report(id)?);
        }
        Ok(out)
    }

    /// Marks a report resolved (once; resolving again changes nothing). Durable.
    pub async fn resolve_report(&self, id: Id, by: Id) -> Result<Option<Report>, StorageError> {
        let Some(mut report) = self.report(id)? else { return Ok(None) };
        if report.resolved.is_none() {
            report.resolved = Some((now_millis(), by));
            self.trees.reportid_report.insert(keys::id_key(id), codec::encode(&report)?)?;
            self.count(Metric::ResolvedReports, 1)?;
            self.durable().await?;
        }
        Ok(Some(report))
    }

    /// Adds to today's counter of `metric` (covered by the caller's next flush).
    pub fn count(&self, metric: Metric, by: u64) -> Result<(), StorageError> {
        let key = metric_key(metric.name(), day_of(now_millis()));
        self.trees.metricday_count.fetch_and_update(key, |old| Some(add_u64(old, by)))?;
        Ok(())
    }

    /// Records that `user` was active today (one write per user per day).
    pub fn mark_active(&self, user: Id) -> Result<(), StorageError> {
        let today = day_of(now_millis());
        if self.active_days.get(&user).is_some_and(|d| *d == today) {
            return Ok(());
        }
        self.active_days.insert(user, today);
        let mut key = today.to_be_bytes().to_vec();
        key.extend_from_slice(&keys::id_key(user));
        self.trees.dayuser_active.insert(key, &[])?;
        Ok(())
    }

    /// Distinct users active on any day of `from..=to`.
    pub fn distinct_active(&self, from: u32, to: u32) -> Result<u64, StorageError> {
        let mut users = std::collections::HashSet::new();
        for row in self.trees.dayuser_active.range(from.to_be_bytes()..to.saturating_add(1).to_be_bytes()) {
            let (k, _) = row?;
            if let Some(user) = k.get(4..).and_then(keys::read_id) {
                users.insert(user);
            }
        }
        Ok(users.len() as u64)
    }

    /// Daily values of a measure (`active_users`, `new_users`, `interactions`,
    /// `opened_reports`, `resolved_reports`) for the days `from..=to`; `None` for an
    /// unknown key.
    pub fn measure(&self, key: &str, from: u32, to: u32) -> Result<Option<Vec<(u32, u64)>>, StorageError> {
        let mut out = Vec::new();
        if key == "active_users" {
            for day in from..=to.min(from.saturating_add(3660)) {
                out.push((day, self.trees.dayuser_active.scan_prefix(day.to_be_bytes()).count() as u64));
            }
            return Ok(Some(out));
        }
        let metric = [Metric::NewUsers, Metric::Interactions, Metric::OpenedReports, Metric::ResolvedReports]
            .into_iter()
            .find(|m| m.name() == key);
        let Some(metric) = metric else { return Ok(None) };
        let mut by_day = std::collections::HashMap::new();
        for row in self.trees.metricday_count.range(metric_key(metric.name(), from)..=metric_key(metric.name(), to)) {
            let (k, v) = row?;
            let day = k.get(k.len().saturating_sub(4)..).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
            let value = v.as_ref().try_into().ok().map(u64::from_be_bytes);
            if let (Some(day), Some(value)) = (day, value) {
                by_day.insert(day, value);
            }
        }
        for day in from..=to.min(from.saturating_add(3660)) {
            out.push((day, by_day.get(&day).copied().unwrap_or(0)));
        }
        Ok(Some(out))
    }
}
