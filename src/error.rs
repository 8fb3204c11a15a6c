//! Errors of start-up and the command line. Request-time errors are `http::error::ApiError`;
//! storage has `storage::StorageError`; validation has `domain::ValidationError`.

use crate::domain::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid settings: {0}")]
    Config(#[from] config::ConfigError),
    #[error("cannot open storage: {0} (is another starling using the same data directory?)")]
    Storage(#[from] crate::storage::StorageError),
    #[error(transparent)]
    SigningKey(#[from] crate::auth::keys::KeyError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Invalid(Vec<ValidationError>),
    #[error("{0}")]
    Other(String),
}
