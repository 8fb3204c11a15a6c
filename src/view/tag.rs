//! The Tag entity: a hashtag with its id and the last seven days of its use (kept on
//! write by `storage::tags`).

use serde::Serialize;
use utoipa::ToSchema;

use super::{Viewer, id_string};
use crate::domain::Id;
use crate::domain::time::{DAY_MS, day_of, now_millis};
use crate::storage::StorageError;

/// Days of use a Tag carries, today first.
pub const HISTORY_DAYS: u32 = 7;

/// One day of a tag's use; numbers as strings, as Mastodon sends them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagHistory {
    /// The day's start (00:00 UTC) as a UNIX timestamp.
    #[schema(example = "1574553600")]
    pub day: String,
    /// Public statuses that used the tag that day.
    pub uses: String,
    /// Distinct accounts that wrote them.
    pub accounts: String,
}

/// The Tag entity.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tag {
    /// The tag's id.
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub id: Id,
    /// The tag, lower-case, without `#`.
    pub name: String,
    pub url: String,
    /// Its use on each of the last seven days, today (UTC) first.
    pub history: Vec<TagHistory>,
    /// Whether the viewer follows the tag (following tags is not supported yet).
    pub following: bool,
}

impl Viewer<'_> {
    /// The Tag entity of `name` (any case), or `None` if no public status has used it.
    pub fn tag(&self, name: &str) -> Result<Option<Tag>, StorageError> {
        let name = name.to_lowercase();
        let Some(id) = self.store().tag_id(&name)? else { return Ok(None) };
        let history = self
            .store()
            .tag_history(&name, day_of(now_millis()), HISTORY_DAYS)?
            .into_iter()
            .map(|d| TagHistory {
                day: (i64::from(d.day) * DAY_MS / 1000).to_string(),
                uses: d.uses.to_string(),
                accounts: d.accounts.to_string(),
            })
            .collect();
        let url = format!("{}/tags/{name}", self.base_url());
        Ok(Some(Tag { id, name, url, history, following: false }))
    }
}
