#!/bin/sh
# Makes a placeholder source file for every target Cargo.toml declares, so that cargo can
# read the manifest and build the dependencies before the real sources are there (the
# Dockerfile's dependency layer). The list comes from the manifest itself: [lib],
# [[bin]], [[bench]], [[test]] and [[example]] tables (their `path`, or cargo's default
# path for their `name`), and [package] `build`; src/main.rs and src/lib.rs are always
# made. Existing files are left alone. POSIX sh and awk only: it runs in the builder
# image, and in scripts/check-dockerfile outside it.
#
#   sh docker/stubs.sh [MANIFEST_DIR]     (default: the working directory)
#
# Prints each file it makes. Exits non-zero on a manifest it cannot follow (a workspace
# with members), rather than leaving a target out.
set -eu

cd "${1:-.}"
[ -f Cargo.toml ] || { echo "stubs.sh: no Cargo.toml in $(pwd)" >&2; exit 1; }

targets=$(awk '
    function unquote(v) {
        sub(/^[ \t]*/, "", v); sub(/[ \t]*(#.*)?$/, "", v)
        if (v ~ /^".*"$/ || v ~ /^\047.*\047$/) return substr(v, 2, length(v) - 2)
        return v
    }
    function flush() {
        if (kind == "") return
        if (path == "") {
            if (kind == "lib") path = "src/lib.rs"
            else if (name == "") { print "stubs.sh: a [[" kind "]] table without name or path" > "/dev/stderr"; bad = 1 }
            else if (kind == "bin") path = (name == pkg ? "src/main.rs" : "src/bin/" name ".rs")
            else if (kind == "bench") path = "benches/" name ".rs"
            else if (kind == "test") path = "tests/" name ".rs"
            else if (kind == "example") path = "examples/" name ".rs"
        }
        if (path != "") print (kind == "lib" ? "lib" : "main") " " path
        kind = ""; name = ""; path = ""
    }
    /^[ \t]*\[/ {
        flush()
        section = $0
        gsub(/^[ \t]*\[+[ \t]*|[ \t]*\]+[ \t]*(#.*)?$/, "", section)
        if (section == "lib" || section == "bin" || section == "bench" || section == "test" || section == "example") kind = section
        next
    }
    /^[ \t]*[A-Za-z0-9_-]+[ \t]*=/ {
        key = $0; sub(/[ \t]*=.*/, "", key); sub(/^[ \t]*/, "", key)
        value = $0; sub(/^[^=]*=/, "", value)
        if (section == "package" && key == "name") pkg = unquote(value)
        if (section == "package" && key == "build" && unquote(value) !~ /^(true|false)$/) print "main " unquote(value)
        if (section == "workspace" && key == "members") { print "stubs.sh: Cargo.toml is a workspace with members; stubs.sh handles a single package" > "/dev/stderr"; bad = 1 }
        if (kind != "" && key == "name") name = unquote(value)
        if (kind != "" && key == "path") path = unquote(value)
    }
    END { flush(); if (bad) exit 1 }
' Cargo.toml)

printf 'lib src/lib.rs\nmain src/main.rs\n%s\n' "$targets" | while read -r kind file; do
    [ -n "$file" ] || continue
    [ -e "$file" ] && continue
    mkdir -p "$(dirname "$file")"
    if [ "$kind" = lib ]; then
        : > "$file"
    else
        echo 'fn main() {}' > "$file"
    fi
    echo "$file"
done
