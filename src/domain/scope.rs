//! OAuth scopes as Mastodon defines them: `read`, `write`, `follow`, `push`, `profile`,
//! `admin:read`, `admin:write`, and the granular `read:…`, `write:…`, `admin:…:…` forms.
//! A token's scopes satisfy a required scope when they hold it, its parent (`read` covers
//! `read:accounts`), or, for the legacy `follow`, one of the scopes it stood for.

use std::collections::BTreeSet;
use std::fmt;

const TOP: &[&str] = &["read", "write", "follow", "push", "profile", "admin:read", "admin:write"];
const READ: &[&str] = &[
    "accounts",
    "blocks",
    "bookmarks",
    "favourites",
    "filters",
    "follows",
    "lists",
    "mutes",
    "notifications",
    "search",
    "statuses",
];
const WRITE: &[&str] = &[
    "accounts",
    "blocks",
    "bookmarks",
    "conversations",
    "favourites",
    "filters",
    "follows",
    "lists",
    "media",
    "mutes",
    "notifications",
    "reports",
    "statuses",
];
const ADMIN: &[&str] = &[
    "accounts",
    "reports",
    "domain_allows",
    "domain_blocks",
    "ip_blocks",
    "email_domain_blocks",
    "canonical_email_blocks",
];
const FOLLOW_COVERS: &[&str] =
    &["read:blocks", "write:blocks", "read:follows", "write:follows", "read:mutes", "write:mutes"];

fn is_known(scope: &str) -> bool {
    if TOP.contains(&scope) {
        return true;
    }
    if let Some(rest) = scope.strip_prefix("read:") {
        return READ.contains(&rest);
    }
    if let Some(rest) = scope.strip_prefix("write:") {
        return WRITE.contains(&rest);
    }
    if let Some(rest) = scope.strip_prefix("admin:read:").or_else(|| scope.strip_prefix("admin:write:")) {
        return ADMIN.contains(&rest);
    }
    false
}

/// A validated, de-duplicated set of scopes.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// Parses a space-separated list (`+` also separates, as some clients encode it).
    /// An empty list is `None`; an unknown scope is an error naming it.
    pub fn parse(raw: &str) -> Result<Option<Self>, String> {
        let mut set = BTreeSet::new();
        for part in raw.split([' ', '+', ',']).filter(|s| !s.is_empty()) {
            if !is_known(part) {
                return Err(part.to_owned());
            }
            set.insert(part.to_owned());
        }
        Ok(if set.is_empty() { None } else { Some(Self(set)) })
    }

    pub fn default_read() -> Self {
        Self(BTreeSet::from(["read".to_owned()]))
    }

    pub fn all_user() -> Self {
        Self(["read", "write", "follow", "push"].iter().map(|s| (*s).to_owned()).collect())
    }

    /// True when holding these scopes grants `required`.
    pub fn grants(&self, required: &str) -> bool {
        if self.0.contains(required) {
            return true;
        }
        let parent = match required.rsplit_once(':') {
            Some((parent, _)) => parent,
            None => return false,
        };
        if parent != required && self.0.contains(parent) {
            return true;
        }
        self.0.contains("follow") && FOLLOW_COVERS.contains(&required)
    }

    /// True when every scope in `other` is granted by these (used when a client asks a
    /// token for a subset of its app's scopes).
    pub fn covers(&self, other: &Scopes) -> bool {
        other.0.iter().all(|s| self.grants(s))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        // Mastodon lists the four classic scopes in this order; keep it familiar.
        let order = |s: &str| TOP.iter().position(|t| *t == s).unwrap_or(TOP.len());
        let mut items: Vec<&String> = self.0.iter().collect();
        items.sort_by_key(|s| (order(s), (*s).clone()));
        for s in items {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

/// Every scope this server knows, for the OAuth metadata document.
pub fn all_known() -> Vec<String> {
    let mut v: Vec<String> = TOP.iter().map(|s| (*s).to_owned()).collect();
    v.extend(READ.iter().map(|s| format!("read:{s}")));
    v.extend(WRITE.iter().map(|s| format!("write:{s}")));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: &str) -> Scopes {
        Scopes::parse(raw).unwrap().unwrap()
    }

    #[test]
    fn parent_scopes_grant_children() {
        let scopes = s("read write:statuses follow");
        assert!(scopes.grants("read:accounts"));
        assert!(scopes.grants("write:statuses"));
        assert!(!scopes.grants("write:accounts"));
        assert!(scopes.grants("write:follows"));
        assert!(!scopes.grants("push"));
        assert!(!s("admin:read").grants("admin:write:accounts"));
        assert!(s("admin:read").grants("admin:read:accounts"));
    }

    #[test]
    fn parse_rejects_unknown_and_orders_output() {
        assert_eq!(Scopes::parse("read bogus"), Err("bogus".to_owned()));
        assert_eq!(Scopes::parse("  "), Ok(None));
        assert_eq!(s("push follow write read").to_string(), "read write follow push");
        assert!(s("read write").covers(&s("read:accounts write")));
        assert!(!s("read").covers(&s("read write")));
    }
}
