//! Accounts: the stored record and the validated inputs that build it.

use serde::{Deserialize, Serialize};

use super::{Id, ValidationError};

pub const MAX_DISPLAY_NAME_CHARS: usize = 30;
pub const MAX_NOTE_CHARS: usize = 500;
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Long passphrases are welcome; the cap only bounds hashing work per request.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A local username: ASCII letters, digits and `_`, 1 to 30 characters. Stored as typed;
/// uniqueness and look-ups use [`Username::canonical`] (lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::new("username", "ERR_BLANK", "can't be blank"));
        }
        if raw.chars().count() > 30 {
            return Err(ValidationError::new("username", "ERR_TOO_LONG", "is too long (maximum is 30 characters)"));
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ValidationError::new(
                "username",
                "ERR_INVALID",
                "must contain only letters, numbers and underscores",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used as the uniqueness key.
    pub fn canonical(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// An e-mail address, checked for shape only (one `@`, a dotted domain, no spaces);
/// compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let raw = raw.trim();
        let invalid = || ValidationError::new("email", "ERR_INVALID", "is invalid");
        if raw.is_empty() {
            return Err(ValidationError::new("email", "ERR_BLANK", "can't be blank"));
        }
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(invalid());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn canonical(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A new password: at least 8 characters, at most 1 KiB.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(ValidationError::new("password", "ERR_TOO_SHORT", "is too short (minimum is 8 characters)"));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(ValidationError::new("password", "ERR_TOO_LONG", "is too long (maximum is 1024 bytes)"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Moderator,
    Admin,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "user" => Some(Self::User),
            "moderator" => Some(Self::Moderator),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
        }
    }
}

/// The stored account record (`userid_account`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: Id,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    /// The bio as the user wrote it (plain text); rendered to HTML on the way out.
    pub note: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub role: Role,
    pub locale: String,
    pub created_at_ms: i64,
    pub followers_count: u64,
    pub following_count: u64,
    pub statuses_count: u64,
}

impl Account {
    /// A new local account with Mastodon's defaults: no display name or bio, unlocked,
    /// discoverable, the `user` role, English, no counts, created at its id's time.
    pub fn new(id: Id, username: String, email: String, password_hash: String) -> Self {
        Self {
            id,
            username,
            email,
            password_hash,
            display_name: String::new(),
            note: String::new(),
            locked: false,
            bot: false,
            discoverable: true,
            role: Role::User,
            locale: "en".into(),
            created_at_ms: id.millis(),
            followers_count: 0,
            following_count: 0,
            statuses_count: 0,
        }
    }
}

pub fn validate_display_name(raw: &str) -> Result<String, ValidationError> {
    if raw.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(ValidationError::new("display_name", "ERR_TOO_LONG", "is too long (maximum is 30 characters)"));
    }
    Ok(raw.to_owned())
}

pub fn validate_note(raw: &str) -> Result<String, ValidationError> {
    if raw.chars().count() > MAX_NOTE_CHARS {
        return Err(ValidationError::new("note", "ERR_TOO_LONG", "is too long (maximum is 500 characters)"));
    }
    Ok(raw.to_owned())
}

/// A bio as Mastodon renders it: HTML-escaped, paragraphs on blank lines, `<br />` on
/// single line breaks.
pub fn note_html(note: &str) -> String {
    if note.trim().is_empty() {
        return String::new();
    }
    let normalized = note.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let escaped = html_escape::encode_safe(p.trim_matches('\n')).replace('\n', "<br />");
            format!("<p>{escaped}</p>")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("alice_01").is_ok());
        assert_eq!(Username::parse("Alice").unwrap().canonical(), "alice");
        assert_eq!(Username::parse("").unwrap_err().code, "ERR_BLANK");
        assert_eq!(Username::parse("a-b").unwrap_err().code, "ERR_INVALID");
        assert_eq!(Username::parse("é").unwrap_err().code, "ERR_INVALID");
        assert_eq!(Username::parse(&"a".repeat(31)).unwrap_err().code, "ERR_TOO_LONG");
        assert!(Username::parse(&"a".repeat(30)).is_ok());
    }

    #[test]
    fn emails_and_passwords() {
        assert!(Email::parse("a@b.co").is_ok());
        assert_eq!(Email::parse("A@B.co").unwrap().canonical(), "a@b.co");
        for bad in ["ab.co", "a@b", "@b.co", "a b@c.d", "a@b@c.d", "a@.b"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Password::parse("1234567").err().unwrap().code, "ERR_TOO_SHORT");
        assert!(Password::parse("correct horse battery staple, a long passphrase").is_ok());
    }

    #[test]
    fn note_rendering_escapes_html() {
        assert_eq!(note_html("<b>hi</b>\nthere\n\nnext"), "<p>&lt;b&gt;hi&lt;&#x2F;b&gt;<br />there</p><p>next</p>");
        assert_eq!(note_html(""), "");
    }
}
