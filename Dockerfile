# syntax=docker/dockerfile:1
#
# starling container image.
#
#   docker build -t starling .
#   docker run -d --name starling -p 8080:8080 -v starling-data:/var/lib/starling \
#     -e STARLING__INSTANCE__DOMAIN=social.example \
#     -e STARLING__INSTANCE__PUBLIC_URL=https://social.example \
#     starling
#
# The image runs `starling` (serve) with STARLING_ENV=production: config/production.toml
# listens on 0.0.0.0:8080, keeps its data (sled database and the token signing key) in
# /var/lib/starling and logs JSON to stdout. Any setting can be overridden with a
# STARLING__<SECTION>__<KEY> variable. Admin tasks run in the same image while the
# server is stopped, e.g. `docker run --rm -v starling-data:/var/lib/starling starling
# admin create-user --username … --email … --role admin` (password via
# STARLING_ADMIN_PASSWORD).

# Must match the channel in rust-toolchain.toml, or rustup would download that toolchain
# during the build.
ARG RUST_VERSION=1.95.0

# --- build --------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-bookworm AS builder
# The slim Rust image already carries gcc and libc6-dev, all that ring's C and assembly
# parts need on Linux; nothing else is linked natively (no OpenSSL).
WORKDIR /build

# Dependencies first, against placeholder sources, so this layer is rebuilt only when
# the manifest, the lock file or the toolchain change. The [[bench]] target declared in
# Cargo.toml must exist for cargo to read the manifest at all.
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/token_verify.rs \
    && cargo build --release --locked --bin starling \
    && rm -rf src benches

# The real sources. config/ and assets/ are compiled in (include_str!/include_bytes!).
COPY src ./src
COPY config ./config
COPY assets ./assets
COPY benches ./benches
# COPY keeps the files' own modification times, which may be older than the placeholder
# build; touch the crate roots so cargo rebuilds starling instead of keeping the stub.
RUN touch src/lib.rs src/main.rs \
    && cargo build --release --locked --bin starling \
    && cp target/release/starling /usr/local/bin/starling

# --- runtime ------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime

LABEL org.opencontainers.image.title="starling" \
      org.opencontainers.image.description="A real-time microblogging server compatible with the Mastodon client API" \
      org.opencontainers.image.licenses="AGPL-3.0-only"

# ca-certificates for outgoing HTTPS; the binary itself needs only glibc and libgcc_s,
# which the base image has.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid/gid so volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 starling \
    && useradd --system --uid 10001 --gid starling --no-create-home \
       --home-dir /var/lib/starling --shell /usr/sbin/nologin starling \
    && mkdir -p /var/lib/starling \
    && chown starling:starling /var/lib/starling \
    && chmod 0750 /var/lib/starling

WORKDIR /app
COPY --from=builder /usr/local/bin/starling /usr/local/bin/starling
COPY config /app/config

ENV STARLING_ENV=production \
    STARLING_CONFIG_DIR=/app/config

# Declared after the directory is created and chowned: changes made to a volume path
# after VOLUME are discarded.
VOLUME /var/lib/starling
EXPOSE 8080

# No HEALTHCHECK: the slim image has no curl or wget and starling has no probe
# subcommand. Orchestrators should probe GET /health (liveness) and GET /ready
# (readiness: storage answers) over HTTP instead.
#
# starling handles SIGTERM itself (it is PID 1 here and starts no child processes, so no
# init is needed): it stops accepting connections, waits up to
# server.shutdown_timeout_secs (5 s) for in-flight requests, then flushes storage, well
# inside `docker stop`'s default 10 s grace period before SIGKILL.
STOPSIGNAL SIGTERM

USER starling:starling
ENTRYPOINT ["/usr/local/bin/starling"]
