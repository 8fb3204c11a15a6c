//! The Account, CredentialAccount and Role entities.

use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::cache::Rendered;
use super::{Json, StatusVisibility, Viewer, id_string};
use crate::domain::account::note_html;
use crate::domain::time::rfc3339_millis;
use crate::domain::{self, Id};
use crate::storage::StorageError;

pub const DEFAULT_AVATAR_PATH: &str = "/avatars/original/missing.png";
pub const DEFAULT_HEADER_PATH: &str = "/headers/original/missing.png";

/// A custom emoji (none are defined yet, so these lists are empty).
#[derive(Serialize, ToSchema)]
pub struct CustomEmoji {
    pub shortcode: String,
    pub url: String,
    pub static_url: String,
    pub visible_in_picker: bool,
    #[schema(required = false)]
    pub category: Option<String>,
}

/// A profile field (not supported yet, so these lists are empty).
#[derive(Serialize, ToSchema)]
pub struct Field {
    pub name: String,
    pub value: String,
    #[schema(required = true)]
    pub verified_at: Option<String>,
}

/// A role as shown on a public profile (staff only).
#[derive(Serialize, ToSchema)]
pub struct AccountRole {
    pub id: &'static str,
    pub name: &'static str,
    pub color: &'static str,
}

/// The Role entity (Mastodon's defaults: everyone `-99`, moderator `1`, admin `2`).
#[derive(Serialize, ToSchema)]
pub struct Role {
    pub id: &'static str,
    pub name: &'static str,
    pub color: &'static str,
    /// A bit field, as a decimal string.
    pub permissions: &'static str,
    pub highlighted: bool,
}

impl Role {
    pub fn of(role: domain::Role) -> Self {
        let (id, name, permissions, highlighted) = match role {
            domain::Role::User => ("-99", "", "65536", false),
            domain::Role::Moderator => ("1", "Moderator", "1308", true),
            domain::Role::Admin => ("2", "Admin", "1", true),
        };
        Self { id, name, color: "", permissions, highlighted }
    }
}

/// The Account entity.
#[derive(Serialize, ToSchema)]
pub struct Account {
    #[serde(serialize_with = "id_string")]
    #[schema(value_type = String)]
    pub id: Id,
    pub username: String,
    /// The username (every account is local).
    pub acct: String,
    pub display_name: String,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub group: bool,
    pub noindex: bool,
    pub hide_collections: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// HTML.
    pub note: String,
    pub url: String,
    pub uri: String,
    pub avatar: String,
    pub avatar_static: String,
    pub header: String,
    pub header_static: String,
    pub followers_count: u64,
    pub following_count: u64,
    pub statuses_count: u64,
    #[schema(required = true)]
    pub last_status_at: Option<String>,
    pub emojis: Vec<CustomEmoji>,
    pub fields: Vec<Field>,
    pub roles: Vec<AccountRole>,
}

impl Account {
    pub fn new(a: &domain::Account, base_url: &str) -> Self {
        let avatar = format!("{base_url}{DEFAULT_AVATAR_PATH}");
        let header = format!("{base_url}{DEFAULT_HEADER_PATH}");
        let roles = match a.role {
            domain::Role::User => vec![],
            r => {
                let role = Role::of(r);
                vec![AccountRole { id: role.id, name: role.name, color: "" }]
            }
        };
        Self {
            id: a.id,
            username: a.username.clone(),
            acct: a.username.clone(),
            display_name: a.display_name.clone(),
            locked: a.locked,
            bot: a.bot,
            discoverable: a.discoverable,
            indexable: a.discoverable,
            group: false,
            noindex: !a.discoverable,
            hide_collections: false,
            created_at: rfc3339_millis(a.created_at_ms),
            note: note_html(&a.note),
            url: format!("{base_url}/@{}", a.username),
            uri: format!("{base_url}/users/{}", a.username),
            avatar_static: avatar.clone(),
            avatar,
            header_static: header.clone(),
            header,
            followers_count: a.followers_count,
            following_count: a.following_count,
            statuses_count: a.statuses_count,
            last_status_at: None,
            emojis: vec![],
            fields: vec![],
            roles,
        }
    }
}

/// The owner's view of their profile settings.
#[derive(Serialize, ToSchema)]
pub struct AccountSource {
    pub privacy: StatusVisibility,
    pub sensitive: bool,
    pub language: String,
    /// The bio as written (plain text).
    pub note: String,
    pub fields: Vec<Field>,
    /// Pending follow requests to this account.
    pub follow_requests_count: u64,
    pub hide_collections: bool,
    pub discoverable: bool,
    pub indexable: bool,
    pub attribution_domains: Vec<String>,
}

/// The CredentialAccount entity: the caller's own Account with `source` and `role`.
#[derive(Serialize, ToSchema)]
pub struct CredentialAccount {
    #[serde(flatten)]
    pub account: Account,
    pub source: AccountSource,
    pub role: Role,
}

/// What the render cache keeps of an account: its Account entity as JSON.
#[derive(Debug)]
pub struct AccountParts {
    pub json: Box<RawValue>,
}

impl AccountParts {
    pub fn render(a: &domain::Account, base_url: &str) -> Self {
        let json = serde_json::value::to_raw_value(&Account::new(a, base_url))
            .unwrap_or_else(|_| RawValue::from_string("null".into()).unwrap_or_default());
        Self { json }
    }
}

/// An account's cached Account JSON, embeddable in other entities.
pub struct AccountJson(pub Arc<Rendered<domain::Account, AccountParts>>);

impl AccountJson {
    pub fn json(&self) -> Json<'_, Account> {
        Json::new(&self.0.parts.json)
    }

    pub fn record(&self) -> &domain::Account {
        &self.0.record
    }
}

impl Serialize for AccountJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.parts.json.serialize(serializer)
    }
}

impl Viewer<'_> {
    /// Account `id`'s entity from the render cache, or `None` when the account is gone.
    pub fn account_json(&self, id: Id) -> Result<Option<AccountJson>, StorageError> {
        let base = self.base_url();
        let store = self.store();
        let rendered = self.view.accounts.get(
            id,
            store.account_bytes(id)?,
            base,
            |raw| store.decode_account(id, raw),
            |a| Ok(Some(AccountParts::render(a, base))),
        )?;
        Ok(rendered.map(AccountJson))
    }

    /// The Account entity of a record at hand.
    pub fn account(&self, a: &domain::Account) -> Account {
        Account::new(a, self.base_url())
    }

    /// The CredentialAccount entity: the viewer's own account, with its settings.
    pub fn credential_account(&self, a: &domain::Account) -> Result<CredentialAccount, StorageError> {
        Ok(CredentialAccount {
            account: Account::new(a, self.base_url()),
            source: AccountSource {
                privacy: StatusVisibility::Public,
                sensitive: false,
                language: a.locale.clone(),
                note: a.note.clone(),
                fields: vec![],
                follow_requests_count: self.store().follow_request_count(a.id)?,
                hide_collections: false,
                discoverable: a.discoverable,
                indexable: a.discoverable,
                attribution_domains: vec![],
            },
            role: Role::of(a.role),
        })
    }

    /// Account entities of the accounts that still exist, in order.
    pub fn accounts(&self, ids: &[Id]) -> Result<Vec<AccountJson>, StorageError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.account_json(*id)?);
        }
        Ok(out)
    }
}
