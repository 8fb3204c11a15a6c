#!/usr/bin/env bash
# Builds powerloss-fs (release) and runs selftest.py against real FUSE mounts.
# Needs /dev/fuse and fusermount3 (Debian package fuse3, installed when missing and
# apt-get is there, as root or with sudo); fails, never skips, without them.
# Uses $CARGO_TARGET_DIR if set, else tests/powerloss-fs/target.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v fusermount3 >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    echo "selftest: installing Debian package fuse3 (fusermount3)" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fuse3
fi
if ! command -v fusermount3 >/dev/null 2>&1; then
    echo "selftest: fusermount3 not found; install the fuse3 package (apt-get install -y fuse3)" >&2
    exit 2
fi
if [ ! -c /dev/fuse ]; then
    echo "selftest: /dev/fuse is missing; FUSE is not available here (container needs --device /dev/fuse)" >&2
    exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "selftest: python3 not found" >&2
    exit 2
fi

target="${CARGO_TARGET_DIR:-$here/target}"
CARGO_TARGET_DIR="$target" cargo build --release --quiet --manifest-path "$here/Cargo.toml"
exec python3 "$here/selftest.py" --bin "$target/release/powerloss-fs" "$@"
