//! Typed settings, layered: the built-in `config/default.toml`, then
//! `config/<STARLING_ENV>.toml` (`local` unless set), then environment variables named
//! `STARLING__<SECTION>__<KEY>` (for example `STARLING__SERVER__PORT=9000`).
//! Unknown keys anywhere are an error, so a typo never passes silently.

use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

/// The shipped defaults, compiled in so the binary starts from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub instance: InstanceSettings,
    pub auth: AuthSettings,
    pub fanout: FanoutSettings,
    pub timelines: TimelineSettings,
    pub streaming: StreamingSettings,
    pub metrics: MetricsSettings,
    pub rate_limits: RateLimitSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub api_requests: u32,
    pub api_period_secs: u64,
    pub auth_requests: u32,
    pub auth_period_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub token: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamingSettings {
    pub max_connections_per_user: usize,
    pub max_connections_per_ip: usize,
    pub ping_interval_secs: u64,
    pub idle_timeout_secs: u64,
    pub max_frame_bytes: usize,
    pub queue_frames: usize,
    pub max_messages_per_10s: u32,
    pub sse_heartbeat_secs: u64,
    pub retention_events: u64,
    pub retention_hours: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanoutSettings {
    pub replay_interval_secs: u64,
    pub paused: bool,
    pub celebrity_followers: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineSettings {
    pub idle_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub client_request_timeout_secs: u64,
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub path: PathBuf,
    pub node_id: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSettings {
    pub domain: String,
    pub public_url: String,
    pub title: String,
    pub description: String,
    pub contact_email: String,
    pub max_characters: usize,
    pub registrations_open: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub signing_key_path: String,
    pub issuer: String,
    pub audience: String,
    pub oauth_token_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub authorization_code_ttl_secs: i64,
    pub session_sweep_interval_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

impl Settings {
    /// Loads settings from `config/` in the working directory (or `STARLING_CONFIG_DIR`),
    /// the environment name in `STARLING_ENV`, and `STARLING__…` variables.
    pub fn load() -> Result<Self, config::ConfigError> {
        let dir = std::env::var("STARLING_CONFIG_DIR").unwrap_or_else(|_| "config".into());
        let env = std::env::var("STARLING_ENV").unwrap_or_else(|_| "local".into());
        Self::load_from(Path::new(&dir), &env, true)
    }

    /// Loads the built-in defaults, then `<dir>/<env>.toml` if present, then (when
    /// `with_env_vars`) the environment.
    pub fn load_from(dir: &Path, env: &str, with_env_vars: bool) -> Result<Self, config::ConfigError> {
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from(dir.join(format!("{env}.toml"))).required(false));
        if with_env_vars {
            builder = builder.add_source(
                Environment::with_prefix("STARLING").prefix_separator("__").separator("__").try_parsing(true),
            );
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), config::ConfigError> {
        let bad = |m: &str| Err(config::ConfigError::Message(m.to_owned()));
        if self.storage.node_id > 63 {
            return bad("storage.node_id must be between 0 and 63");
        }
        if self.instance.max_characters == 0 {
            return bad("instance.max_characters must be positive");
        }
        if self.auth.access_token_ttl_secs <= 0
            || self.auth.oauth_token_ttl_secs <= 0
            || self.auth.refresh_token_ttl_secs <= 0
            || self.auth.authorization_code_ttl_secs <= 0
        {
            return bad("auth token lifetimes must be positive");
        }
        if self.fanout.replay_interval_secs == 0 || self.timelines.idle_secs == 0 {
            return bad("fanout.replay_interval_secs and timelines.idle_secs must be positive");
        }
        if self.auth.session_sweep_interval_secs == 0 {
            return bad("auth.session_sweep_interval_secs must be positive");
        }
        if !self.instance.public_url.is_empty() && url::Url::parse(&self.instance.public_url).is_err() {
            return bad("instance.public_url must be an absolute URL or empty");
        }
        Ok(())
    }

    /// Where the JWT signing key lives.
    pub fn signing_key_path(&self) -> PathBuf {
        if self.auth.signing_key_path.is_empty() {
            self.storage.path.join("jwt_ed25519.pem")
        } else {
            PathBuf::from(&self.auth.signing_key_path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn shipped_config_files_parse() {
        for env in ["default", "local", "production"] {
            let s =
                Settings::load_from(&shipped_dir(), env, false).unwrap_or_else(|e| panic!("config/{env}.toml: {e}"));
            assert_eq!(s.instance.max_characters, 500);
        }
        let prod = Settings::load_from(&shipped_dir(), "production", false).unwrap();
        assert_eq!(prod.log.format, LogFormat::Json);
        assert_eq!(prod.server.host, "0.0.0.0");
        let local = Settings::load_from(&shipped_dir(), "local", false).unwrap();
        assert_eq!(local.server.port, 8080);
        assert_eq!(local.storage.path, PathBuf::from("./data"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("typo.toml"), "[server]\nprot = 1\n").unwrap();
        let err = Settings::load_from(dir.path(), "typo", false).unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
        std::fs::write(dir.path().join("sect.toml"), "[nope]\na = 1\n").unwrap();
        assert!(Settings::load_from(dir.path(), "sect", false).is_err());
    }
}
