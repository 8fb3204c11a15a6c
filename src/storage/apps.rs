//! OAuth applications: `appid_app`, `clientid_appid`.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{StorageError, Store, codec, keys};
use crate::domain::{Id, Scopes};

const TREE: &str = "appid_app";

/// A registered client application. The secret is kept only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    pub id: Id,
    pub name: String,
    pub website: Option<String>,
    pub redirect_uris: Vec<String>,
    pub scopes: Scopes,
    pub client_id: String,
    pub client_secret_sha256: Vec<u8>,
    pub created_at_ms: i64,
}

impl Store {
    pub async fn create_app(&self, app: &App) -> Result<(), StorageError> {
        let value = codec::encode(app)?;
        let id = keys::id_key(app.id);
        let t = &self.trees;
        (&t.appid_app, &t.clientid_appid)
            .transaction(|(apps, clients)| {
                apps.insert(&id, value.as_slice())?;
                clients.insert(app.client_id.as_bytes(), &id)?;
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(super::tx_storage)?;
        self.durable().await
    }

    pub fn app(&self, id: Id) -> Result<Option<App>, StorageError> {
        let key = keys::id_key(id);
        match self.trees.appid_app.get(key)? {
            Some(bytes) => Ok(Some(codec::decode(TREE, &key, &bytes)?)),
            None => Ok(None),
        }
    }

    pub fn app_by_client_id(&self, client_id: &str) -> Result<Option<App>, StorageError> {
        match self.trees.clientid_appid.get(client_id.as_bytes())? {
            Some(id) => match keys::read_id(&id) {
                Some(id) => self.app(id),
                None => Err(StorageError::Corrupt { tree: "clientid_appid", reason: "short id".into() }),
            },
            None => Ok(None),
        }
    }
}
