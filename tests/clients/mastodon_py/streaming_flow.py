#!/usr/bin/env python3
"""The user stream over server-sent events (SSE), through the real Mastodon.py library.

Usage: STARLING_URL=http://127.0.0.1:8080 python streaming_flow.py

Scenario, with two fresh users (A the author, B a follower of A):
  1. B follows A.
  2. stream_healthy() (GET /api/v1/streaming/health on the streaming base URL, which
     Mastodon.py finds in the instance's urls.streaming_api) answers OK.
  3. B opens stream_user(listener, run_async=True): Mastodon.py sends
     GET /api/v1/streaming/user with Authorization: Bearer and reads the text/event-stream
     on a worker thread; the listener (a StreamListener subclass) collects on_update,
     on_delete and on_notification. The script waits until the response has arrived
     (the handle holds an open connection).
  4. A posts a public status: B's listener gets on_update with that status (id, account,
     content), exactly once.
  5. A deletes it: B's listener gets on_delete with its id, exactly once.
  6. The handle is closed. Its worker thread ends when its blocked read returns, at the
     latest with the server's next :thump heartbeat (every 15 s); that is waited for up to
     CLOSE_WAIT_SECS and only noted, not failed (the thread is a daemon).
Every wait is bounded (EVENT_WAIT_SECS). Exits non-zero with a message at the first
failure; on_abort (a malformed event or a lost connection) is a failure too.
"""

import os
import secrets
import sys
import threading
import time
import traceback
import warnings
from importlib.metadata import version as package_version

import requests
from mastodon import Mastodon, MastodonError, StreamListener

SCOPES = ["read", "write", "follow", "push"]
REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
CLIENT_NAME = "starling Mastodon.py streaming test"
TIMEOUT = 30
# Every wait for the stream (connection, an event) is bounded by this.
EVENT_WAIT_SECS = 15.0
# After close(), how long the worker thread gets to notice and end.
CLOSE_WAIT_SECS = 20.0
# The whole script is killed after this, whatever it is waiting for.
WATCHDOG_SECS = 180
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


def sid(obj):
    """The id of an entity (or an id) as a string; Mastodon ids are strings."""
    if isinstance(obj, dict):
        return str(get(obj, "id"))
    return str(obj)


class Collector(StreamListener):
    """Records every event the stream delivers; called on the stream's worker thread."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.updates = []
        self.deletes = []
        self.notifications = []
        self.others = []
        self.aborts = []
        self.heartbeats = 0

    def on_update(self, status):
        with self.lock:
            self.updates.append(status)

    def on_delete(self, status_id):
        with self.lock:
            self.deletes.append(status_id)

    def on_notification(self, notification):
        with self.lock:
            self.notifications.append(notification)

    def on_status_update(self, status):
        with self.lock:
            self.others.append(("status.update", sid(status)))

    def on_unknown_event(self, name, unknown_event=None):
        with self.lock:
            self.others.append((name, unknown_event))

    def on_abort(self, err):
        with self.lock:
            self.aborts.append(f"{type(err).__name__}: {err}")

    def handle_heartbeat(self):
        with self.lock:
            self.heartbeats += 1

    def snapshot(self):
        with self.lock:
            return {
                "updates": [sid(s) for s in self.updates],
                "deletes": [sid(d) for d in self.deletes],
                "notifications": [(n.get("type"), sid(n)) for n in self.notifications],
                "other events": list(self.others),
                "aborts": list(self.aborts),
                "heartbeats": self.heartbeats,
            }


def wait_for(what, func, timeout, listener=None, handle=None):
    """Calls func until it returns a true value; fails after timeout seconds, or at once
    if the stream aborted or its worker thread died."""
    deadline = time.monotonic() + timeout
    while True:
        value = func()
        if value:
            return value
        if listener is not None and listener.aborts:
            raise CheckFailed(f"{what}: the stream aborted: {listener.aborts}; events so far: {listener.snapshot()}")
        if handle is not None and not handle.is_alive():
            raise CheckFailed(f"{what}: the stream's worker thread ended; events so far: {listener.snapshot()}")
        if time.monotonic() >= deadline:
            detail = f"; events so far: {listener.snapshot()}" if listener is not None else ""
            raise CheckFailed(f"{what}: not within {timeout:.0f} s{detail}")
        time.sleep(0.05)


def main():
    base_url = os.environ.get("STARLING_URL")
    if not base_url:
        print("STARLING_URL is not set (e.g. http://127.0.0.1:8080)", file=sys.stderr)
        return 2
    base_url = base_url.rstrip("/")
    allow_http = base_url.startswith("http://")

    step(f"Mastodon.py {package_version('Mastodon.py')} against {base_url}")

    # --- users ----------------------------------------------------------------------
    step("create_app")
    client_id, client_secret = Mastodon.create_app(
        CLIENT_NAME,
        scopes=SCOPES,
        redirect_uris=REDIRECT_URI,
        website="https://example.com/starling-tests",
        api_base_url=base_url,
        request_timeout=TIMEOUT,
    )

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

    def register(label):
        username = f"py{label.lower()}_{secrets.token_hex(4)}"
        email = f"{username}@example.com"
        password = f"pw-{secrets.token_urlsafe(18)}"
        step(f"create_account + log_in: user {label} = {username}")
        new_api().create_account(username, password, email, agreement=True, locale="en", scopes=SCOPES)
        api = new_api()
        api.log_in(email, password, scopes=SCOPES, allow_http=allow_http)
        me = api.account_verify_credentials()
        check(get(me, "username") == username, f"{label}: verify_credentials username {me.get('username')!r} != {username!r}")
        return api, sid(me)

    a_api, a_id = register("A")
    b_api, b_id = register("B")

    # --- 1. follow -----------------------------------------------------------------------
    step("1. account_follow: B follows A")
    rel = b_api.account_follow(a_id)
    check(get(rel, "following") is True, f"follow: Relationship following is {rel.get('following')!r}, expected True")

    # --- 2. streaming base URL and health ---------------------------------------------------
    # Mastodon.py takes the streaming base URL from the v1 instance's urls.streaming_api
    # (ws:// becomes http://), falling back to the v2 configuration.urls.streaming.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v1_urls = b_api.instance_v1().get("urls") or {}
    v2_urls = (b_api.instance_v2().get("configuration") or {}).get("urls") or {}
    step(f"2. instance v1 urls.streaming_api = {v1_urls.get('streaming_api')!r}, "
         f"v2 configuration.urls.streaming = {v2_urls.get('streaming')!r}; stream_healthy()")
    try:
        healthy = b_api.stream_healthy()
    except MastodonError as exc:
        raise CheckFailed(f"stream_healthy(): GET /api/v1/streaming/health failed: {type(exc).__name__}: {exc}") from None
    check(healthy is True, f"stream_healthy(): GET /api/v1/streaming/health did not answer OK (got {healthy!r})")

    # --- 3. open the user stream ---------------------------------------------------------------
    step("3. stream_user(listener, run_async=True) as B (SSE, GET /api/v1/streaming/user)")
    listener = Collector()
    handle = b_api.stream_user(listener, run_async=True)
    try:
        # run_async connects on the worker thread, and a failed connect (non-200) is retried
        # there every few seconds without telling the listener: the handle has a connection
        # once a 200 response has arrived.
        try:
            wait_for(
                "the SSE connection to GET /api/v1/streaming/user",
                lambda: handle.connection is not None and handle.is_receiving(),
                EVENT_WAIT_SECS,
                listener,
            )
        except CheckFailed as exc:
            # Ask the server directly what it answers, for the failure message.
            try:
                probe = requests.get(
                    f"{base_url}/api/v1/streaming/user",
                    headers={"Authorization": f"Bearer {b_api.access_token}"},
                    stream=True,
                    timeout=5,
                )
                body = probe.raw.read(300, decode_content=True) if probe.status_code != 200 else b""
                answer = f"HTTP {probe.status_code}, Content-Type {probe.headers.get('Content-Type')!r}, body {body!r}"
                probe.close()
            except Exception as probe_exc:  # noqa: BLE001 - diagnostics only
                answer = f"{type(probe_exc).__name__}: {probe_exc}"
            raise CheckFailed(f"{exc}; a direct GET /api/v1/streaming/user with the same token got: {answer}") from None
        response = handle.connection
        content_type = response.headers.get("Content-Type", "")
        step(f"  connected: HTTP {response.status_code}, Content-Type {content_type!r}")
        check(content_type.split(";")[0].strip() == "text/event-stream",
              f"GET /api/v1/streaming/user: Content-Type {content_type!r}, expected text/event-stream")

        # --- 4. A posts ------------------------------------------------------------------------
        text = f"Streaming hello from Mastodon.py {secrets.token_hex(4)}"
        step("4. status_post as A; B's listener should get on_update")
        started = time.monotonic()
        status = a_api.status_post(text)
        status_id = sid(status)

        def update_seen():
            with listener.lock:
                return [s for s in listener.updates if sid(s) == status_id]

        seen = wait_for(f"on_update for A's status {status_id}", update_seen, EVENT_WAIT_SECS, listener, handle)
        step(f"  on_update({status_id}) after {time.monotonic() - started:.2f} s")
        streamed = seen[0]
        check(sid(get(streamed, "account")) == a_id,
              f"streamed update: account id {sid(get(streamed, 'account'))} != A {a_id}")
        check(text in get(streamed, "content"), f"streamed update: content {streamed.get('content')!r} lacks {text!r}")
        check(get(streamed, "visibility") == "public", f"streamed update: visibility {streamed.get('visibility')!r}")

        # --- 5. A deletes ----------------------------------------------------------------------
        step(f"5. status_delete({status_id}) as A; B's listener should get on_delete")
        started = time.monotonic()
        a_api.status_delete(status_id)

        def delete_seen():
            with listener.lock:
                return [d for d in listener.deletes if sid(d) == status_id]

        wait_for(f"on_delete for A's status {status_id}", delete_seen, EVENT_WAIT_SECS, listener, handle)
        step(f"  on_delete({status_id}) after {time.monotonic() - started:.2f} s")

        # A short pause so that a duplicate sent right behind would be seen too.
        time.sleep(0.5)
        snap = listener.snapshot()
        check(snap["updates"].count(status_id) == 1, f"on_update for {status_id} arrived {snap['updates'].count(status_id)} times: {snap}")
        check(snap["deletes"].count(status_id) == 1, f"on_delete for {status_id} arrived {snap['deletes'].count(status_id)} times: {snap}")
        check(not snap["aborts"], f"the stream aborted: {snap['aborts']}")
        step(f"  events: {snap}")
    finally:
        # --- 6. close ------------------------------------------------------------------------
        step("6. close() the stream handle")
        handle.close()

    closed_at = time.monotonic()
    handle.join(CLOSE_WAIT_SECS)
    if handle.is_alive():
        # Closing the response from another thread does not wake a read that is blocked in
        # the kernel; the worker only notices at the next bytes (the server's :thump
        # heartbeat comes every 15 s). It is a daemon thread, so it does not keep the
        # process alive.
        step(f"  note: the worker thread is still blocked in a read {CLOSE_WAIT_SECS:.0f} s after close()")
    else:
        step(f"  worker thread ended {time.monotonic() - closed_at:.2f} s after close()")
    check(handle.closed, "handle.closed is false after close()")
    check(not handle.is_receiving(), "handle.is_receiving() is still true after close()")

    step("OK")
    return 0


def watchdog():
    print(f"[mastodon.py] FAILED: still running after {WATCHDOG_SECS} s (watchdog)", file=sys.stderr, flush=True)
    os._exit(1)


if __name__ == "__main__":
    timer = threading.Timer(WATCHDOG_SECS, watchdog)
    timer.daemon = True
    timer.start()
    try:
        sys.exit(main())
    except CheckFailed as exc:
        print(f"[mastodon.py] FAILED: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception as exc:  # a library error is a failure too; show where it came from
        traceback.print_exc()
        print(f"[mastodon.py] FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
