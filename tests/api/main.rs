//! Integration tests: the real server on port 0 with a temporary sled directory,
//! driven over HTTP. One test binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod accounts;
mod admin_cli;
mod bad_input;
mod grouped_notifications;
mod health_cli;
mod instance;
mod jwt;
mod layers;
mod metrics;
mod model;
mod moderation;
mod oauth;
mod openapi;
mod rate_limits;
mod restart;
mod sessions;
mod social;
mod statuses;
mod streaming;
mod timelines;
