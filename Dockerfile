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
# STARLING_ADMIN_PASSWORD). compose.yaml runs it as one node with its volume;
# scripts/test-image builds this file with podman and checks the image end to end.

# The channel in rust-toolchain.toml (scripts/check-dockerfile checks it). That file is
# not copied in: the build uses the base image's toolchain as it is (the minimal
# profile), where the file would make rustup download the rustfmt and clippy it lists.
ARG RUST_VERSION=1.95.0
# The image's version label; the version in Cargo.toml (scripts/check-dockerfile checks
# it; scripts/test-image passes it).
ARG STARLING_VERSION=0.1.0

# --- build --------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-bookworm AS builder
# The slim Rust image already carries gcc and libc6-dev, all that ring's C and assembly
# parts need on Linux; nothing else is linked natively (no OpenSSL).
WORKDIR /build

# Dependencies first, against placeholder sources, so this layer is rebuilt only when
# the manifest, the lock file, the base image or the stub script change. cargo reads the
# manifest only when every target it declares has its source file, so docker/stubs.sh
# makes a placeholder for each target it finds in Cargo.toml ([lib], [[bin]],
# [[bench]], [[test]], …): there is no list here to keep up to date.
# scripts/check-dockerfile (run by scripts/test) carries out this step against the real
# manifest without a container engine.
COPY Cargo.toml Cargo.lock ./
COPY docker/stubs.sh docker/
RUN sh docker/stubs.sh \
    && cargo build --release --locked --bin starling

# The real sources of the binary. config/ and assets/ are compiled in
# (include_str!/include_bytes!). The placeholders of the other targets (benches, tests)
# stay, so the manifest still reads, and changing a bench or a test does not rebuild
# the image.
COPY src ./src
COPY config ./config
COPY assets ./assets
# COPY keeps the files' own modification times, which may be older than the placeholder
# build; touch the crate roots so cargo rebuilds starling instead of keeping the stub.
# The release profile keeps line tables (debug = "line-tables-only", for profiling); the
# image's copy drops them (113 MB down to 19 MB) and keeps the symbols, so a backtrace
# still names each function.
RUN touch src/lib.rs src/main.rs \
    && cargo build --release --locked --bin starling \
    && objcopy --strip-debug target/release/starling /usr/local/bin/starling

# --- runtime ------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
ARG STARLING_VERSION

LABEL org.opencontainers.image.title="starling" \
      org.opencontainers.image.description="A real-time microblogging server compatible with the Mastodon client API" \
      org.opencontainers.image.version="${STARLING_VERSION}" \
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

# The binary is its own probe (the slim image has no curl or wget): `starling health`
# sends GET /health to the configured port on the loopback address and exits 0 on 200.
# Docker keeps HEALTHCHECK in its image format only (`podman build --format docker`).
# Orchestrators can probe GET /health (liveness) and GET /ready (readiness: storage
# answers) over HTTP instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/starling", "health"]

# starling handles SIGTERM itself (it is PID 1 here and starts no child processes, so no
# init is needed): it stops accepting connections, waits up to
# server.shutdown_timeout_secs (5 s) for in-flight requests, then flushes storage, well
# inside `docker stop`'s default 10 s grace period before SIGKILL.
STOPSIGNAL SIGTERM

USER starling:starling
ENTRYPOINT ["/usr/local/bin/starling"]
