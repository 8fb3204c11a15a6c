//! Auth sessions and what hangs off them: `sessionid_session`, `userid_sessionids`,
//! `refreshhash_refresh`, `codehash_authcode`.
//!
//! A session is one login (first-party or OAuth). Access tokens name it (`sid`), so
//! deleting the session revokes them. A refresh-token family is the session: each
//! rotation marks the presented token used and stores its successor; presenting a used
//! token again is theft or a race, and the caller revokes the whole session.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::{StorageError, Store, codec, keys};
use crate::domain::{Id, Scopes};

const SESSIONS: &str = "sessionid_session";
const REFRESH: &str = "refreshhash_refresh";
const CODES: &str = "codehash_authcode";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionKind {
    /// Issued through `/oauth/token` to a registered app.
    OAuth,
    /// Issued by `/api/v1/auth/login` to the first-party client.
    FirstParty,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthSession {
    pub id: Id,
    /// `None` for an app-only token (client_credentials grant).
    pub user_id: Option<Id>,
    pub app_id: Option<Id>,
    pub client_name: String,
    pub kind: SessionKind,
    pub scopes: Scopes,
    pub created_at_ms: i64,
    pub last_used_at_ms: i64,
    /// The session ends here unless a refresh extends it.
    pub expires_at_ms: i64,
    pub user_agent: String,
    pub ip: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub session_id: Id,
    pub used: bool,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthCode {
    pub app_id: Id,
    pub user_id: Id,
    pub scopes: Scopes,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub expires_at_ms: i64,
}

/// Why a refresh token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("unknown or expired refresh token")]
    Invalid,
    #[error("refresh token reused")]
    Reused(Id),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn tx_error<E>(e: TransactionError<E>) -> Result<E, StorageError> {
    match e {
        TransactionError::Abort(e) => Ok(e),
        TransactionError::Storage(e) => Err(StorageError::from(e)),
    }
}

fn abort<E>(e: E) -> ConflictableTransactionError<E> {
    ConflictableTransactionError::Abort(e)
}

impl Store {
    /// Stores a new session and, if given, its first refresh token; durable on return.
    pub async fn create_session(
        &self,
        session: &AuthSession,
        refresh: Option<([u8; 32], RefreshRecord)>,
    ) -> Result<(), StorageError> {
        let value = codec::encode(session)?;
        let refresh = match refresh {
            Some((hash, record)) => Some((hash, codec::encode(&record)?)),
            None => None,
        };
        let sid = keys::id_key(session.id);
        let t = &self.trees;
        (&t.sessionid_session, &t.userid_sessionids, &t.refreshhash_refresh)
            .transaction(|(sessions, by_user, refreshes)| {
                sessions.insert(&sid, value.as_slice())?;
                if let Some(user) = session.user_id {
                    by_user.insert(&keys::pair_key(user, session.id), &[])?;
                }
                if let Some((hash, record)) = &refresh {
                    refreshes.insert(hash, record.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(super::tx_storage)?;
        self.durable().await
    }

    pub fn session(&self, id: Id) -> Result<Option<AuthSession>, StorageError> {
        let key = keys::id_key(id);
        match self.trees.sessionid_session.get(key)? {
            Some(bytes) => Ok(Some(codec::decode(SESSIONS, &key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Every stored session, for loading the live set at start-up and for sweeping.
    /// Corrupt records are logged by the codec and skipped.
    pub fn all_sessions(&self) -> Result<Vec<AuthSession>, StorageError> {
        let mut out = Vec::new();
        for row in self.trees.sessionid_session.iter() {
            let (k, v) = row?;
            if let Ok(session) = codec::decode(SESSIONS, &k, &v) {
                out.push(session);
            }
        }
        Ok(out)
    }

    pub fn sessions_of_user(&self, user: Id) -> Result<Vec<AuthSession>, StorageError> {
        let mut out = Vec::new();
        for row in self.trees.userid_sessionids.scan_prefix(keys::id_key(user)) {
            let (k, _) = row?;
            if let Some((_, sid)) = keys::read_pair(&k)
                && let Some(session) = self.session(sid)?
            {
                out.push(session);
            }
        }
        Ok(out)
    }

    /// Deletes sessions (revocation); durable on return. Refresh tokens of a deleted
    /// session can no longer be used, since their session is gone; the sweep removes them.
    pub async fn delete_sessions(&self, sessions: &[AuthSession]) -> Result<(), StorageError> {
        let t = &self.trees;
        (&t.sessionid_session, &t.userid_sessionids)
            .transaction(|(by_id, by_user)| {
                for s in sessions {
                    by_id.remove(&keys::id_key(s.id))?;
                    if let Some(user) = s.user_id {
                        by_user.remove(&keys::pair_key(user, s.id))?;
                    }
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(super::tx_storage)?;
        self.durable().await
    }

    /// Rotates a refresh token: marks `old` used, stores `new`, and extends the session
    /// to `expires_at_ms`, atomically. A token already used yields `Reused` with its
    /// session id, whether the other use was long ago or a concurrent request: exactly
    /// one of two concurrent rotations succeeds.
    pub async fn rotate_refresh(
        &self,
        old: [u8; 32],
        new: [u8; 32],
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<AuthSession, RefreshError> {
        let t = &self.trees;
        let result = (&t.refreshhash_refresh, &t.sessionid_session).transaction(|(refreshes, sessions)| {
            let bytes = refreshes.get(old)?.ok_or(abort(RefreshError::Invalid))?;
            let mut record: RefreshRecord =
                codec::decode(REFRESH, &old, &bytes).map_err(|e| abort(RefreshError::Storage(e)))?;
            if record.used {
                return Err(abort(RefreshError::Reused(record.session_id)));
            }
            if record.expires_at_ms <= now_ms {
                return Err(abort(RefreshError::Invalid));
            }
            let sid = keys::id_key(record.session_id);
            let bytes = sessions.get(sid)?.ok_or(abort(RefreshError::Invalid))?;
            let mut session: AuthSession =
                codec::decode(SESSIONS, &sid, &bytes).map_err(|e| abort(RefreshError::Storage(e)))?;
            session.last_used_at_ms = now_ms;
            session.expires_at_ms = expires_at_ms;
            record.used = true;
            let successor = RefreshRecord { session_id: session.id, used: false, expires_at_ms };
            let storage = |e| abort(RefreshError::Storage(e));
            refreshes.insert(&old, codec::encode(&record).map_err(storage)?)?;
            refreshes.insert(&new, codec::encode(&successor).map_err(storage)?)?;
            sessions.insert(&sid, codec::encode(&session).map_err(storage)?)?;
            Ok(session)
        });
        let session = match result {
            Ok(session) => session,
            Err(e) => return Err(tx_error(e)?),
        };
        self.durable().await?;
        Ok(session)
    }

    /// Records when sessions were last used. Not flushed on its own: losing the last few
    /// seconds of this bookkeeping in a crash is harmless.
    pub fn touch_sessions(&self, updates: &[(Id, i64)]) -> Result<(), StorageError> {
        for &(id, at) in updates {
            let key = keys::id_key(id);
            let Some(old) = self.trees.sessionid_session.get(key)? else { continue };
            let mut session: AuthSession = codec::decode(SESSIONS, &key, &old)?;
            if session.last_used_at_ms >= at {
                continue;
            }
            session.last_used_at_ms = at;
            // A concurrent change (rotation, revocation) wins; the next touch retries.
            let _ = self.trees.sessionid_session.compare_and_swap(key, Some(old), Some(codec::encode(&session)?))?;
        }
        Ok(())
    }

    pub async fn store_auth_code(&self, hash: [u8; 32], code: &AuthCode) -> Result<(), StorageError> {
        self.trees.codehash_authcode.insert(hash, codec::encode(code)?)?;
        self.durable().await
    }

    /// Takes an authorization code: it is removed, so it works exactly once.
    pub fn take_auth_code(&self, hash: [u8; 32]) -> Result<Option<AuthCode>, StorageError> {
        match self.trees.codehash_authcode.remove(hash)? {
            Some(bytes) => Ok(Some(codec::decode(CODES, &hash, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Removes expired sessions, refresh records whose session is gone or expired, and
    /// expired authorization codes. Returns the sessions removed.
    pub async fn sweep_expired(&self, now_ms: i64) -> Result<Vec<AuthSession>, StorageError> {
        let expired: Vec<AuthSession> =
            self.all_sessions()?.into_iter().filter(|s| s.expires_at_ms <= now_ms).collect();
        for row in self.trees.refreshhash_refresh.iter() {
            let (k, v) = row?;
            let stale = match codec::decode::<RefreshRecord>(REFRESH, &k, &v) {
                Ok(r) => {
                    r.expires_at_ms <= now_ms || self.trees.sessionid_session.get(keys::id_key(r.session_id))?.is_none()
                }
                Err(_) => true,
            };
            if stale {
                self.trees.refreshhash_refresh.remove(k)?;
            }
        }
        for row in self.trees.codehash_authcode.iter() {
            let (k, v) = row?;
            if codec::decode::<AuthCode>(CODES, &k, &v).map(|c| c.expires_at_ms <= now_ms).unwrap_or(true) {
                self.trees.codehash_authcode.remove(k)?;
            }
        }
        if !expired.is_empty() {
            self.delete_sessions(&expired).await?;
        }
        Ok(expired)
    }
}
