#!/usr/bin/env python3
"""Registration, login and token lifecycle through the real Mastodon.py library.

Usage: STARLING_URL=http://127.0.0.1:8080 python auth_flow.py

Scenario: register an app, sign up with an app token (client_credentials), log in
with the password grant, read the account and the instance, look the account up,
update the profile, check the app, refuse a wrong password, revoke the token and
check that the revoked token is refused. Exits non-zero at the first failure.
"""

import os
import secrets
import sys
import traceback
import warnings
from importlib.metadata import version as package_version

from mastodon import (
    Mastodon,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonUnauthorizedError,
)

SCOPES = ["read", "write", "follow", "push"]
REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
CLIENT_NAME = "starling Mastodon.py client test"
TIMEOUT = 30
DEFAULT_MAX_CHARACTERS = 500
# STARLING_CLIENT_DEBUG=1 makes Mastodon.py print every request and response.
DEBUG = os.environ.get("STARLING_CLIENT_DEBUG", "") not in ("", "0")


class CheckFailed(Exception):
    pass


def step(message):
    print(f"[mastodon.py] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def get(obj, *path):
    """Walks nested dicts (Mastodon.py returns dict subclasses)."""
    for key in path:
        if obj is None or key not in obj:
            raise CheckFailed(f"missing field {'.'.join(path)} (stopped at {key!r})")
        obj = obj[key]
    return obj


def expect_error(kind, func, what):
    try:
        result = func()
    except kind as exc:
        return exc
    except MastodonError as exc:
        raise CheckFailed(
            f"{what}: expected {kind.__name__}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise CheckFailed(f"{what}: expected {kind.__name__}, but the call succeeded: {result!r}")


def main():
    base_url = os.environ.get("STARLING_URL")
    if not base_url:
        print("STARLING_URL is not set (e.g. http://127.0.0.1:8080)", file=sys.stderr)
        return 2
    base_url = base_url.rstrip("/")
    # The test server speaks plain HTTP; Mastodon.py refuses http:// OAuth endpoints
    # (from /.well-known/oauth-authorization-server) unless allow_http is passed.
    allow_http = base_url.startswith("http://")

    step(f"Mastodon.py {package_version('Mastodon.py')} against {base_url}")

    username = f"py_{secrets.token_hex(5)}"
    email = f"{username}@example.com"
    password = f"pw-{secrets.token_urlsafe(18)}"

    step("create_app")
    try:
        client_id, client_secret = Mastodon.create_app(
            CLIENT_NAME,
            scopes=SCOPES,
            redirect_uris=REDIRECT_URI,
            website="https://example.com/starling-tests",
            api_base_url=base_url,
            request_timeout=TIMEOUT,
        )
    except (KeyError, TypeError) as exc:
        # create_app reads the JSON answer without looking at the status code.
        raise CheckFailed(f"create_app: the answer to POST /api/v1/apps has no client_id/client_secret ({exc!r})") from exc
    check(isinstance(client_id, str) and client_id, f"client_id is empty: {client_id!r}")
    check(isinstance(client_secret, str) and client_secret, f"client_secret is empty: {client_secret!r}")
    step(f"  client_id={client_id}")

    # version_check_mode="created" makes Mastodon.py gate every call on the version the
    # server reports, as it does for applications that opt in: a version string it
    # cannot read as >= the endpoint's Mastodon version makes the call raise.
    def new_api(access_token=None):
        return Mastodon(
            client_id=client_id,
            client_secret=client_secret,
            access_token=access_token,
            api_base_url=base_url,
            request_timeout=TIMEOUT,
            version_check_mode="created",
            debug_requests=DEBUG,
        )

    api = new_api()

    step(f"create_account username={username} email={email}")
    reg_token = api.create_account(
        username, password, email, agreement=True, locale="en", scopes=SCOPES
    )
    check(isinstance(reg_token, str) and reg_token, f"create_account returned no token: {reg_token!r}")

    step("log_in with the password grant (email as username)")
    user = new_api()
    access_token = user.log_in(email, password, scopes=SCOPES, allow_http=allow_http)
    check(isinstance(access_token, str) and access_token, f"log_in returned no token: {access_token!r}")

    step("log_in with a wrong password must fail")
    bad = new_api()
    exc = expect_error(
        MastodonIllegalArgumentError,
        lambda: bad.log_in(email, password + "-wrong", scopes=SCOPES, allow_http=allow_http),
        "log_in with a wrong password",
    )
    # log_in wraps the token endpoint's error as "Invalid user name, password, or
    # redirect_uris: <error>"; any other MastodonIllegalArgumentError (e.g. "Password flow
    # is not supported") is a different failure.
    check(str(exc).startswith("Invalid user name, password"), f"wrong password refused for another reason: {exc}")
    check(bad.access_token is None, "a token was set despite the wrong password")
    step(f"  refused: {exc}")

    step("account_verify_credentials")
    me = user.account_verify_credentials()
    check(get(me, "username") == username, f"verify_credentials username {me.get('username')!r} != {username!r}")
    check(get(me, "acct") == username, f"verify_credentials acct {me.get('acct')!r} != {username!r}")
    check("source" in me and me["source"] is not None, "verify_credentials has no 'source' (CredentialAccount)")
    account_id = str(get(me, "id"))
    check(account_id, "verify_credentials has an empty id")
    step(f"  id={account_id} acct={me['acct']}")

    step("instance() and instance_v2()")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        version = user.retrieve_mastodon_version(fail_hard=True)
    for warning in caught:
        # e.g. "Mastodon version is detected as >= 4.3.0, but no API version found"
        raise CheckFailed(f"Mastodon.py warned while reading the instance: {warning.message}")
    step(f"  version as Mastodon.py parses it: {version}")
    check(user.verify_minimum_version("4.0.0", cached=True),
          f"server version {version} is below 4.0.0, Mastodon.py will gate out v2 endpoints")

    inst = user.instance()
    check("compatible; starling" in get(inst, "version"),
          f"instance() version {inst.get('version')!r} lacks 'compatible; starling'")
    inst2 = user.instance_v2()
    check("compatible; starling" in get(inst2, "version"),
          f"instance_v2() version {inst2.get('version')!r} lacks 'compatible; starling'")
    max_chars = get(inst2, "configuration", "statuses", "max_characters")
    check(max_chars == DEFAULT_MAX_CHARACTERS,
          f"instance_v2 configuration.statuses.max_characters is {max_chars!r}, expected {DEFAULT_MAX_CHARACTERS}")
    api_versions = get(inst2, "api_versions")
    check("mastodon" in api_versions, f"instance_v2 api_versions lacks 'mastodon': {api_versions!r}")
    step(f"  version={inst2['version']!r} max_characters={max_chars} api_versions={dict(api_versions)}")

    step(f"account_lookup({username!r}) and account({account_id})")
    looked_up = user.account_lookup(username)
    check(str(get(looked_up, "id")) == account_id, f"account_lookup id {looked_up.get('id')!r} != {account_id!r}")
    check(get(looked_up, "username") == username, f"account_lookup username {looked_up.get('username')!r}")
    fetched = user.account(account_id)
    check(str(get(fetched, "id")) == account_id, f"account() id {fetched.get('id')!r} != {account_id!r}")
    check(get(fetched, "username") == username, f"account() username {fetched.get('username')!r}")

    step("account_update_credentials(display_name, note)")
    display_name = f"Py Tester {secrets.token_hex(3)}"
    note = f"Testing starling with Mastodon.py {secrets.token_hex(3)}"
    updated = user.account_update_credentials(display_name=display_name, note=note)
    check(get(updated, "display_name") == display_name,
          f"update_credentials display_name {updated.get('display_name')!r} != {display_name!r}")
    check(note in get(updated, "note"), f"update_credentials note {updated.get('note')!r} lacks {note!r}")
    again = user.account_verify_credentials()
    check(get(again, "display_name") == display_name,
          f"display_name did not persist: {again.get('display_name')!r} != {display_name!r}")
    check(note in get(again, "note"), f"note did not persist: {again.get('note')!r}")
    check(get(again, "source", "note") == note,
          f"source.note {again['source'].get('note')!r} != {note!r}")

    step("app_verify_credentials")
    app = user.app_verify_credentials()
    check(get(app, "name") == CLIENT_NAME, f"app_verify_credentials name {app.get('name')!r} != {CLIENT_NAME!r}")

    step("revoke_access_token")
    user.revoke_access_token(allow_http=allow_http)

    step("account_verify_credentials with the revoked token must fail with 401")
    revoked = new_api(access_token=access_token)
    exc = expect_error(
        MastodonUnauthorizedError,
        revoked.account_verify_credentials,
        "verify_credentials after revoke",
    )
    step(f"  refused: {exc}")

    step("OK")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as exc:
        print(f"[mastodon.py] FAILED: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as exc:  # a library error is a failure too; show where it came from
        traceback.print_exc()
        print(f"[mastodon.py] FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
