//! Creating an account from validated input: the sign-up route and
//! `starling admin create-user` share it.

use crate::auth::password;
use crate::domain::time::now_millis;
use crate::domain::{Account, Email, Password, Role, Username, ValidationError};
use crate::storage::{CreateAccountError, StorageError, Store};

/// Why an account was not created.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Input that fails validation, or a username or e-mail already taken.
    #[error("validation failed")]
    Invalid(Vec<ValidationError>),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A new account built from validated input.
pub struct NewAccount {
    pub username: Username,
    pub email: Email,
    pub password: Password,
    pub locale: String,
    pub role: Role,
}

impl NewAccount {
    /// Validates every field and reports all problems at once.
    pub fn parse(
        username: &str,
        email: &str,
        password: &str,
        locale: &str,
        role: Role,
    ) -> Result<Self, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let username = Username::parse(username).map_err(|e| errors.push(e)).ok();
        let email = Email::parse(email).map_err(|e| errors.push(e)).ok();
        let password = Password::parse(password).map_err(|e| errors.push(e)).ok();
        let locale = if locale.trim().is_empty() { "en".to_owned() } else { locale.trim().chars().take(16).collect() };
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) if errors.is_empty() => {
                Ok(Self { username, email, password, locale, role })
            }
            _ => Err(errors),
        }
    }

    /// Hashes the password and stores the account; durable on return.
    pub async fn create(self, store: &Store) -> Result<Account, RegisterError> {
        let hash = password::hash_async(self.password.expose().to_owned())
            .await
            .map_err(|e| RegisterError::Hashing(e.to_string()))?;
        let account = Account {
            role: self.role,
            locale: self.locale,
            created_at_ms: now_millis(),
            ..Account::new(store.next_id(), self.username.as_str().to_owned(), self.email.as_str().to_owned(), hash)
        };
        let taken = |field| RegisterError::Invalid(vec![ValidationError::new(field, "ERR_TAKEN", "is already taken")]);
        match store.create_account(&account).await {
            Ok(()) => Ok(account),
            Err(CreateAccountError::UsernameTaken) => Err(taken("username")),
            Err(CreateAccountError::EmailTaken) => Err(taken("email")),
            Err(CreateAccountError::Storage(e)) => Err(e.into()),
        }
    }
}
