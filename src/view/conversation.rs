//! The Conversation entity (direct messages).

use serde::Serialize;
use utoipa::ToSchema;

use super::Viewer;
use super::account::{Account, AccountJson};
use super::status::{Status, StatusView};
use crate::domain::{self, Id};
use crate::storage::StorageError;

/// The Conversation entity: the participants of a direct thread and its last status.
#[derive(Serialize, ToSchema)]
pub struct Conversation {
    /// The conversation (here: its last status's id).
    pub id: String,
    pub unread: bool,
    /// The other participants.
    #[schema(value_type = Vec<Account>)]
    pub accounts: Vec<AccountJson>,
    #[schema(required = true, value_type = Option<Status>)]
    pub last_status: Option<StatusView>,
}

impl Viewer<'_> {
    /// The Conversation a direct status belongs to, for the viewer (`None` when the
    /// status's author is gone).
    pub fn conversation(&self, status: &domain::Status) -> Result<Option<Conversation>, StorageError> {
        let Some(last) = self.status(status)? else { return Ok(None) };
        let mut others: Vec<Id> = status.mentions.iter().map(|m| m.account_id).collect();
        others.push(status.account_id);
        others.sort();
        others.dedup();
        others.retain(|id| Some(*id) != self.me);
        Ok(Some(Conversation {
            id: status.id.to_string(),
            unread: Some(status.account_id) != self.me,
            accounts: self.accounts(&others)?,
            last_status: Some(last),
        }))
    }
}
