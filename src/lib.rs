//! starling: a real-time microblogging server speaking the Mastodon client API.
//!
//! Modules:
//! - [`config`]: typed, layered settings (`config/*.toml`, `STARLING__…` variables).
//! - [`startup`]: `Application::build` wires storage, auth, actors and the HTTP server.
//! - [`telemetry`]: tracing subscriber (pretty or JSON logs).
//! - [`error`]: start-up and command-line errors.
//! - [`domain`]: validated types (ids, usernames, scopes, accounts) and time helpers.
//! - [`storage`]: sled trees, key layout, the value codec, group-commit durability, one
//!   repository file per area.
//! - [`view`]: who may see what (one set of rules) and how each Mastodon entity looks
//!   to a viewer (typed entities, the render cache); used by `actors`, `http` and `admin`.
//! - [`auth`]: password hashing, the Ed25519 signing key, token issue and verification
//!   against the live session set.
//! - [`actors`]: actix actors for hot state and periodic work.
//! - [`http`]: actix-web handlers and extractors; nothing outside it imports it.
//! - [`admin`]: the `starling admin …` command-line tasks.
//! - [`metrics`]: the Prometheus recorder behind `/metrics`.
//! - [`probe`]: `starling health`, an HTTP GET of `/health` (the image's HEALTHCHECK).
//! - `fuzzing` (feature `fuzzing`, off by default): the fuzz targets run by `fuzz/` and
//!   `tests/fuzz_smoke.rs`, on the handlers' own request types.

pub mod actors;
pub mod admin;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
#[doc(hidden)]
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod http;
pub mod metrics;
pub mod probe;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod view;
