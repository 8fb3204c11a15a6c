//! Authentication: password hashing, the token signing key, and the [`AuthService`] that
//! issues and verifies access tokens against the live session set.
//!
//! Access tokens are EdDSA JWTs naming their auth session (`sid`). Verification pins the
//! algorithm and key id, checks `exp`, `iss` and `aud`, then looks the session up in an
//! in-memory map loaded from sled at start-up and kept in step with every write, so
//! revoking a session rejects its tokens at once without a storage read per request.

pub mod keys;
pub mod password;
pub mod registration;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dashmap::DashMap;
use jsonwebtoken::{Algorithm, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Settings;
use crate::domain::time::{now_millis, now_secs};
use crate::domain::{Account, Id, Scopes};
use crate::storage::sessions::RefreshError;
use crate::storage::{AuthSession, RefreshRecord, SessionKind, StorageError, Store};

pub use keys::SigningKeys;

/// The JWT claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id, or `app:<app id>` for an app-only token.
    pub sub: String,
    /// The auth session this token belongs to.
    pub sid: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    /// Never issued; typed so that a present `nbf` of the wrong JSON type fails to decode
    /// here too, not only in jsonwebtoken's validation (GHSA-h395-gr6q-cpjc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
}

/// Who is calling: the result of a verified access token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub session_id: Id,
    pub user_id: Option<Id>,
    pub app_id: Option<Id>,
    pub scopes: Arc<Scopes>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("The access token is invalid")]
    InvalidToken,
    #[error("Invalid credentials")]
    InvalidCredentials,
    #[error("The refresh token is invalid")]
    InvalidRefresh,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

struct LiveSession {
    user_id: Option<Id>,
    app_id: Option<Id>,
    scopes: Arc<Scopes>,
    expires_at_ms: i64,
    last_used_ms: AtomicI64,
    persisted_last_used_ms: AtomicI64,
}

impl LiveSession {
    fn from_stored(s: &AuthSession) -> Self {
        Self {
            user_id: s.user_id,
            app_id: s.app_id,
            scopes: Arc::new(s.scopes.clone()),
            expires_at_ms: s.expires_at_ms,
            last_used_ms: AtomicI64::new(s.last_used_at_ms),
            persisted_last_used_ms: AtomicI64::new(s.last_used_at_ms),
        }
    }
}

/// What a new session is for.
pub struct NewSession {
    pub user_id: Option<Id>,
    pub app_id: Option<Id>,
    pub client_name: String,
    pub kind: SessionKind,
    pub scopes: Scopes,
    pub user_agent: String,
    pub ip: String,
    pub with_refresh: bool,
}

/// Tokens handed to a client.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
    pub scope: String,
    pub created_at: i64,
    pub session_id: Id,
}

pub struct AuthService {
    store: Store,
    keys: SigningKeys,
    issuer: String,
    audience: String,
    oauth_ttl_secs: i64,
    access_ttl_secs: i64,
    refresh_ttl_secs: i64,
    validation: Validation,
    live: DashMap<Id, LiveSession>,
    /// Tokens whose signature and claims were already checked: SHA-256 of the token →
    /// (session, subject, expiry in ms). Skips the ~50 µs Ed25519 check on repeat use;
    /// the live-session check still runs on every request, so revocation is immediate.
    verified: DashMap<[u8; 32], VerifiedToken>,
    /// Sessions ended so far (revoked, or deleted with their account or when expired):
    /// the stream sweep checks its connections' sessions at once when this moved (an
    /// expiry it finds on its once-a-second round).
    ended: AtomicU64,
}

#[derive(Clone)]
struct VerifiedToken {
    sid: Id,
    sub: String,
    exp_ms: i64,
}

/// Bound on the verified-token cache; past it the cache starts over.
const VERIFIED_CACHE_MAX: usize = 100_000;

/// A random token: 32 bytes from the OS, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

impl AuthService {
    /// Loads or creates the signing key and loads the live sessions from storage.
    pub fn new(settings: &Settings, store: Store) -> anyhow::Result<Self> {
        let keys = SigningKeys::load_or_create(&settings.signing_key_path())?;
        Ok(Self::with_keys(settings, store, keys)?)
    }

    pub fn with_keys(settings: &Settings, store: Store, keys: SigningKeys) -> Result<Self, StorageError> {
        let issuer = if !settings.auth.issuer.is_empty() {
            settings.auth.issuer.clone()
        } else if !settings.instance.public_url.is_empty() {
            settings.instance.public_url.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", settings.instance.domain)
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&settings.auth.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        let service = Self {
            store,
            keys,
            issuer,
            audience: settings.auth.audience.clone(),
            oauth_ttl_secs: settings.auth.oauth_token_ttl_secs,
            access_ttl_secs: settings.auth.access_token_ttl_secs,
            refresh_ttl_secs: settings.auth.refresh_token_ttl_secs,
            validation,
            live: DashMap::new(),
            verified: DashMap::new(),
            ended: AtomicU64::new(0),
        };
        let now = now_millis();
        for session in service.store.all_sessions()? {
            if session.expires_at_ms > now {
                service.live.insert(session.id, LiveSession::from_stored(&session));
            }
        }
        Ok(service)
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether an auth session is still live (not revoked, not expired).
    pub fn session_is_live(&self, id: Id) -> bool {
        self.live.get(&id).is_some_and(|l| l.expires_at_ms > now_millis())
    }

    /// How many times a session was ended since start-up (see [`AuthService::session_is_live`]):
    /// while it stays the same, a session that was live is live until it expires.
    pub fn sessions_ended(&self) -> u64 {
        self.ended.load(Ordering::SeqCst)
    }

    fn end_live(&self, id: Id) {
        self.live.remove(&id);
        self.ended.fetch_add(1, Ordering::SeqCst);
    }

    pub fn live_session_count(&self) -> usize {
        self.live.len()
    }

    /// Verifies an access token: signature (EdDSA, our key id), `exp`, `iss`, `aud`,
    /// and that its session is live. Cheap: no storage access.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let now_ms = now_millis();
        let digest = sha256(token);
        let cached = self.verified.get(&digest).map(|v| v.clone());
        let checked = match cached {
            Some(v) if v.exp_ms > now_ms => v,
            _ => {
                let v = self.verify_signature_and_claims(token, now_ms)?;
                if self.verified.len() >= VERIFIED_CACHE_MAX {
                    self.verified.clear();
                }
                self.verified.insert(digest, v.clone());
                v
            }
        };
        let live = self.live.get(&checked.sid).ok_or(AuthError::InvalidToken)?;
        if live.expires_at_ms <= now_ms || checked.sub != subject(live.user_id, live.app_id) {
            return Err(AuthError::InvalidToken);
        }
        live.last_used_ms.fetch_max(now_ms, Ordering::Relaxed);
        Ok(Principal {
            session_id: checked.sid,
            user_id: live.user_id,
            app_id: live.app_id,
            scopes: live.scopes.clone(),
        })
    }

    fn verify_signature_and_claims(&self, token: &str, now_ms: i64) -> Result<VerifiedToken, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(self.keys.kid.as_str()) {
            return Err(AuthError::InvalidToken);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.keys.decoding, &self.validation)
            .map_err(|_| AuthError::InvalidToken)?;
        let claims = data.claims;
        if claims.iat > now_ms / 1000 + 5 {
            return Err(AuthError::InvalidToken);
        }
        let sid: Id = claims.sid.parse().map_err(|_| AuthError::InvalidToken)?;
        Ok(VerifiedToken { sid, sub: claims.sub, exp_ms: claims.exp.saturating_mul(1000) })
    }

    fn mint(&self, session: &AuthSession, ttl_secs: i64) -> Result<(String, i64), AuthError> {
        let now = now_secs();
        let exp = (now + ttl_secs).min(session.expires_at_ms / 1000);
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: subject(session.user_id, session.app_id),
            sid: session.id.to_string(),
            scope: session.scopes.to_string(),
            iat: now,
            exp,
            nbf: None,
            jti: random_token(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.keys.encoding).map_err(|e| {
            tracing::error!(error = %e, "could not sign an access token");
            AuthError::InvalidToken
        })?;
        Ok((token, exp - now))
    }

    fn access_ttl(&self, kind: SessionKind) -> i64 {
        match kind {
            SessionKind::OAuth => self.oauth_ttl_secs,
            SessionKind::FirstParty => self.access_ttl_secs,
        }
    }

    /// Starts a session and issues its first tokens; durable before it returns.
    pub async fn start_session(&self, new: NewSession) -> Result<IssuedTokens, AuthError> {
        if let Some(user) = new.user_id
            && self.store.is_suspended(user)?
        {
            return Err(AuthError::InvalidCredentials);
        }
        let now = now_millis();
        let lifetime_secs = if new.with_refresh {
            self.refresh_ttl_secs.max(self.access_ttl(new.kind))
        } else {
            self.access_ttl(new.kind)
        };
        let session = AuthSession {
            id: self.store.next_id(),
            user_id: new.user_id,
            app_id: new.app_id,
            client_name: new.client_name,
            kind: new.kind,
            scopes: new.scopes,
            created_at_ms: now,
            last_used_at_ms: now,
            expires_at_ms: now + lifetime_secs * 1000,
            user_agent: new.user_agent.chars().take(512).collect(),
            ip: new.ip,
        };
        let refresh = new.with_refresh.then(random_token);
        let record = refresh.as_ref().map(|token| {
            (sha256(token), RefreshRecord { session_id: session.id, used: false, expires_at_ms: session.expires_at_ms })
        });
        self.store.create_session(&session, record).await?;
        self.live.insert(session.id, LiveSession::from_stored(&session));
        let (access_token, expires_in) = self.mint(&session, self.access_ttl(session.kind))?;
        Ok(IssuedTokens {
            access_token,
            refresh_token: refresh,
            expires_in,
            scope: session.scopes.to_string(),
            created_at: now / 1000,
            session_id: session.id,
        })
    }

    /// Rotates a refresh token. A token presented a second time revokes its whole
    /// session (the token family) and fails.
    pub async fn refresh(&self, refresh_token: &str, app_id: Option<Id>) -> Result<IssuedTokens, AuthError> {
        let now = now_millis();
        let old = sha256(refresh_token);
        // The family must belong to the presenting app (OAuth) or to none (first party).
        let record = self.store.trees.refreshhash_refresh.get(old).map_err(StorageError::from)?;
        let Some(bytes) = record else { return Err(AuthError::InvalidRefresh) };
        let record: RefreshRecord = crate::storage::codec::decode("refreshhash_refresh", &old, &bytes)?;
        match self.store.session(record.session_id)? {
            Some(s) if s.app_id == app_id => {}
            _ => return Err(AuthError::InvalidRefresh),
        }
        let new_token = random_token();
        let expires_at = now + self.refresh_ttl_secs * 1000;
        match self.store.rotate_refresh(old, sha256(&new_token), now, expires_at).await {
            Ok(session) => {
                if let Some(mut live) = self.live.get_mut(&session.id) {
                    live.expires_at_ms = session.expires_at_ms;
                }
                let (access_token, expires_in) = self.mint(&session, self.access_ttl(session.kind))?;
                Ok(IssuedTokens {
                    access_token,
                    refresh_token: Some(new_token),
                    expires_in,
                    scope: session.scopes.to_string(),
                    created_at: now / 1000,
                    session_id: session.id,
                })
            }
            Err(RefreshError::Reused(sid)) => {
                tracing::warn!(session_id = %sid, "refresh token reused; revoking its session");
                self.revoke_session(sid).await?;
                Err(AuthError::InvalidRefresh)
            }
            Err(RefreshError::Invalid) => Err(AuthError::InvalidRefresh),
            Err(RefreshError::Storage(e)) => Err(e.into()),
        }
    }

    /// Checks a login (username or e-mail) and password. Unknown users and wrong
    /// passwords take the same time and give the same error.
    pub async fn check_password(&self, identifier: &str, password: &str) -> Result<Account, AuthError> {
        let identifier = identifier.trim();
        let account = if identifier.contains('@') {
            self.store.account_by_email(identifier)?
        } else {
            self.store.account_by_username(identifier)?
        };
        let stored = account.as_ref().map(|a| a.password_hash.clone());
        if password::verify_async(stored, password.to_owned()).await {
            let account = account.ok_or(AuthError::InvalidCredentials)?;
            if self.store.is_suspended(account.id)? {
                return Err(AuthError::InvalidCredentials);
            }
            Ok(account)
        } else {
            Err(AuthError::InvalidCredentials)
        }
    }

    /// The session an access token (valid signature, even if expired) or a refresh token
    /// belongs to, for revocation.
    pub fn session_of_token(&self, token: &str) -> Result<Option<Id>, StorageError> {
        let mut lenient = self.validation.clone();
        lenient.validate_exp = false;
        if let Ok(data) = jsonwebtoken::decode::<Claims>(token, &self.keys.decoding, &lenient) {
            return Ok(data.claims.sid.parse().ok());
        }
        let hash = sha256(token);
        match self.store.trees.refreshhash_refresh.get(hash)? {
            Some(bytes) => {
                let record: RefreshRecord = crate::storage::codec::decode("refreshhash_refresh", &hash, &bytes)?;
                Ok(Some(record.session_id))
            }
            None => Ok(None),
        }
    }

    /// Ends one session: its access and refresh tokens stop working at once.
    pub async fn revoke_session(&self, id: Id) -> Result<bool, AuthError> {
        let Some(session) = self.store.session(id)? else {
            self.end_live(id);
            return Ok(false);
        };
        self.end_live(id);
        self.store.delete_sessions(&[session]).await?;
        Ok(true)
    }

    /// Ends every session of a user (log out everywhere, account deletion).
    pub async fn revoke_user_sessions(&self, user: Id) -> Result<usize, AuthError> {
        let sessions = self.store.sessions_of_user(user)?;
        for s in &sessions {
            self.end_live(s.id);
        }
        self.store.delete_sessions(&sessions).await?;
        Ok(sessions.len())
    }

    /// The stored sessions of a user, with the last use seen in memory.
    pub fn sessions_of_user(&self, user: Id) -> Result<Vec<AuthSession>, AuthError> {
        let mut sessions = self.store.sessions_of_user(user)?;
        for s in &mut sessions {
            if let Some(live) = self.live.get(&s.id) {
                s.last_used_at_ms = s.last_used_at_ms.max(live.last_used_ms.load(Ordering::Relaxed));
            }
        }
        Ok(sessions)
    }

    /// Periodic upkeep: drops expired sessions and stale refresh tokens and codes, and
    /// writes back last-use times seen since the previous run.
    pub async fn sweep(&self) -> Result<usize, AuthError> {
        let now = now_millis();
        let removed = self.store.sweep_expired(now).await?;
        for s in &removed {
            self.end_live(s.id);
        }
        self.live.retain(|_, live| live.expires_at_ms > now);
        let touched: Vec<(Id, i64)> = self
            .live
            .iter()
            .filter_map(|entry| {
                let seen = entry.last_used_ms.load(Ordering::Relaxed);
                let saved = entry.persisted_last_used_ms.swap(seen, Ordering::Relaxed);
                (seen > saved).then_some((*entry.key(), seen))
            })
            .collect();
        self.store.touch_sessions(&touched)?;
        Ok(removed.len())
    }
}

fn subject(user: Option<Id>, app: Option<Id>) -> String {
    match (user, app) {
        (Some(user), _) => user.to_string(),
        (None, Some(app)) => format!("app:{app}"),
        (None, None) => String::new(),
    }
}
