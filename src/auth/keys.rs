//! The Ed25519 key that signs access tokens. Created on first start (PKCS#8 PEM, mode
//! 0600) unless a path is configured; its public half is published as a JWK set.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
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
                crate::storage::files::write_new_durable(path, text.as_bytes(), 0o600).map_err(io)?;
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
        let keys = Self {
            encoding: EncodingKey::from_ed_der(parsed.contents()),
            decoding: DecodingKey::from_ed_components(&public_x).map_err(|e| e.to_string())?,
            kid,
            public_x,
        };
        keys.self_check()?;
        Ok(keys)
    }

    /// Signs and verifies a message with jsonwebtoken's crypto backend, so that a key
    /// `ring` parses but the backend cannot use fails at start-up, not at every sign-in.
    fn self_check(&self) -> Result<(), String> {
        let message = b"starling signing key check";
        let signature = jsonwebtoken::crypto::sign(message, &self.encoding, Algorithm::EdDSA)
            .map_err(|e| format!("cannot sign with it: {e}"))?;
        match jsonwebtoken::crypto::verify(&signature, message, &self.decoding, Algorithm::EdDSA) {
            Ok(true) => Ok(()),
            Ok(false) => Err("its signature does not verify against its public key".into()),
            Err(e) => Err(format!("cannot verify with it: {e}")),
        }
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

    /// Both PKCS#8 forms load and sign tokens that verify: v2 with the public key (what
    /// `generate_pem` writes) and v1 without it (`openssl genpkey -algorithm ed25519`, for
    /// a configured key; this one is a throwaway test key).
    #[test]
    fn v1_and_v2_keys_sign_verifiable_tokens() {
        const OPENSSL_V1: &str = "-----BEGIN PRIVATE KEY-----\n\
            MC4CAQAwBQYDK2VwBCIEIEYK5JrHWsCdrMvCPMFqsxZnAY9GMwkCpjsCmbj1Y993\n\
            -----END PRIVATE KEY-----\n";
        for pem_text in [generate_pem().unwrap(), OPENSSL_V1.to_owned()] {
            let keys = SigningKeys::from_pem(&pem_text).unwrap();
            let header = jsonwebtoken::Header::new(Algorithm::EdDSA);
            let claims = serde_json::json!({ "sub": "1", "exp": 4_000_000_000u64 });
            let token = jsonwebtoken::encode(&header, &claims, &keys.encoding).unwrap();
            let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
            validation.validate_aud = false;
            let got = jsonwebtoken::decode::<serde_json::Value>(&token, &keys.decoding, &validation).unwrap();
            assert_eq!(got.claims, claims);
        }
    }
}
