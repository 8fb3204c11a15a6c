//! The Ed25519 key that signs access tokens. Created on first start (PKCS#8 PEM, mode
//! 0600) unless a path is configured; its public half is published as a JWK set.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::signature::{Ed25519KeyPair, KeyPair};
use sha2::{Digest, Sha256};

pub struct SigningKeys {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// Key id: the first 16 hex digits of the SHA-256 of the public key.
    pub kid: String,
    /// The public key, base64url (the JWK `x`).
    pub public_x: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("signing key {path} is not an Ed25519 PKCS#8 PEM key: {reason}")]
    Invalid { path: String, reason: String },
}

impl SigningKeys {
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let io = |source| KeyError::Io { path: shown.clone(), source };
        let pem_text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = generate_pem().map_err(|reason| KeyError::Invalid { path: shown.clone(), reason })?;
                write_private(path, &text).map_err(io)?;
                tracing::info!(path = %shown, "created a new token signing key");
                text
            }
            Err(e) => return Err(io(e)),
        };
        Self::from_pem(&pem_text).map_err(|reason| KeyError::Invalid { path: shown, reason })
    }

    pub fn from_pem(text: &str) -> Result<Self, String> {
        let parsed = pem::parse(text).map_err(|e| e.to_string())?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(parsed.contents()).map_err(|e| e.to_string())?;
        let public = pair.public_key().as_ref();
        let public_x = URL_SAFE_NO_PAD.encode(public);
        let kid = hex::encode(&Sha256::digest(public)[..8]);
        Ok(Self {
            encoding: EncodingKey::from_ed_der(parsed.contents()),
            decoding: DecodingKey::from_ed_components(&public_x).map_err(|e| e.to_string())?,
            kid,
            public_x,
        })
    }

    /// The public key as a JWK set (`/.well-known/jwks.json`).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": self.public_x,
                "kid": self.kid,
                "alg": "EdDSA",
                "use": "sig",
            }]
        })
    }
}

fn generate_pem() -> Result<String, String> {
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| e.to_string())?;
    Ok(pem::encode(&pem::Pem::new("PRIVATE KEY", doc.as_ref().to_vec())))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_once_with_private_mode_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/key.pem");
        let first = SigningKeys::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = SigningKeys::load_or_create(&path).unwrap();
        assert_eq!(first.kid, again.kid);
        assert_eq!(first.public_x, again.public_x);
        std::fs::write(dir.path().join("bad.pem"), "nonsense").unwrap();
        assert!(SigningKeys::load_or_create(&dir.path().join("bad.pem")).is_err());
    }
}
