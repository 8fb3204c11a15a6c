//! Validated types shared by storage and HTTP: ids, usernames, roles, scopes, time.
//! Values are parsed once at the edge (`Username::parse`, `Scopes::parse`); inside the
//! server these types cannot hold invalid data.

pub mod account;
pub mod id;
pub mod scope;
pub mod status;
pub mod time;

pub use account::{Account, Email, Password, Role, Username};
pub use id::{Id, IdGenerator};
pub use scope::Scopes;
pub use status::{Mention, Status, Visibility};

/// A validation failure: which field, a machine code (Mastodon's `ERR_*`) and a
/// human description. Rendered as a 422 with `details`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {description}")]
pub struct ValidationError {
    pub field: &'static str,
    pub code: &'static str,
    pub description: String,
}

impl ValidationError {
    pub fn new(field: &'static str, code: &'static str, description: impl Into<String>) -> Self {
        Self { field, code, description: description.into() }
    }
}
