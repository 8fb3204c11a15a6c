#!/usr/bin/env python3
"""Signing in from a browser: the OAuth authorization code flow in headless Chromium.

Usage (scripts/test-browser sets this up and runs it):

    STARLING_BIN=target/release/starling tests/browser/.venv/bin/python tests/browser/oauth_authorize.py

Starts STARLING_BIN on a free loopback port with an empty temporary data directory, and
a small HTTP server on another port (so another origin) that plays the app's
redirect_uri and records what it receives. Through the API: registers an app with that
redirect_uri (POST /api/v1/apps), gets a client_credentials token and signs a user up
(POST /api/v1/accounts). Then, in Chromium (Debian's, CHROMIUM, through Playwright):

  1. opens /oauth/authorize?response_type=code&client_id=…&redirect_uri=…&scope=read+write
     with a state and a PKCE S256 challenge: the "Authorize <app>" page with its form;
  2. signs in with a wrong password: the same page again, with the error;
  3. signs in with the right one and clicks Authorize: the browser must arrive at the
     redirect_uri with `code` and the same `state`, and the redirect_uri's server must
     have received them;
  4. exchanges the code at POST /oauth/token (with the PKCE verifier) and reads
     GET /api/v1/accounts/verify_credentials with the token: the user who signed in;
  5. opens the page again and clicks Deny: the browser arrives at the redirect_uri with
     `error=access_denied` and the state;
  6. with a second app whose redirect_uri has the app's own scheme (as a native app's
     does), signs in and clicks Authorize: Chromium must follow the redirect to that
     scheme with a code (it then hands it to the system, which has no handler: the
     request is aborted and the page stays, as expected); that code works too.

A Content-Security-Policy with `form-action 'self'` on the authorize page makes Chromium
refuse the redirect that follows the form post (steps 3, 5 and 6): the person stays on
the page. This test then fails, printing where the browser is and what it logged
(Chromium's message names the form's own action, /oauth/authorize, not the redirect
target it refused).

Exits non-zero at the first failure, printing the tail of the server log.

Environment:
  STARLING_BIN      the server binary (default: target/release/starling)
  CHROMIUM          the browser (default: /usr/bin/chromium)
  KEEP_SERVER_LOG=1 keep the work directory (server log); its path is printed
"""

import base64
import hashlib
import http.client
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_BIN = os.environ.get("STARLING_BIN") or os.path.join(ROOT, "target", "release", "starling")
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
KEEP_SERVER_LOG = os.environ.get("KEEP_SERVER_LOG", "") not in ("", "0")
HEALTH_TIMEOUT_SECS = 30.0
HTTP_TIMEOUT_SECS = 10.0
# Every browser action and wait (milliseconds).
BROWSER_TIMEOUT_MS = 15_000
APP_NAME = "starling browser test"
# The redirect_uri of an app with its own scheme (step 6).
APP_SCHEME_REDIRECT = "org.starling.browsertest:/oauth-callback"
PASSWORD = "browser test passphrase 0123"


class CheckFailed(Exception):
    pass


def step(message):
    print(f"[browser] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- starling --------------------------------------------------------------------------

class Starling:
    def __init__(self, workdir):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "server.log")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.update({
            "STARLING_CONFIG_DIR": os.path.join(ROOT, "config"),
            "STARLING__SERVER__HOST": "127.0.0.1",
            "STARLING__SERVER__PORT": str(self.port),
            "STARLING__STORAGE__PATH": os.path.join(self.workdir, "data"),
            "STARLING__INSTANCE__DOMAIN": f"127.0.0.1:{self.port}",
            "STARLING__RATE_LIMITS__ENABLED": "false",
            # The log goes to a file.
            "NO_COLOR": "1",
        })
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([SERVER_BIN], env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECS
        while True:
            if self.proc.poll() is not None:
                raise CheckFailed(f"starling exited with {self.proc.returncode} before answering GET /health")
            try:
                status, _ = self.request("GET", "/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise CheckFailed(f"GET {self.url}/health did not answer 200 within {HEALTH_TIMEOUT_SECS:.0f} s")
            time.sleep(0.1)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def request(self, method, path, token=None, form=None, timeout=HTTP_TIMEOUT_SECS):
        """Returns (status, parsed JSON or None)."""
        headers = {"Accept": "application/json"}
        body = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None

    def call(self, method, path, token=None, form=None):
        status, data = self.request(method, path, token, form)
        check(status == 200, f"{method} {path} answered {status}: {json.dumps(data)[:300]}")
        return data

    def log_tail(self, lines=80):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no server log)"


# --- the app's redirect_uri: another origin ----------------------------------------------

class Callback:
    """An HTTP server on another port that records every request's path and query."""

    def __init__(self):
        self.hits = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                body = b"<!doctype html><title>callback</title><h1>Back in the app</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# --- the test ----------------------------------------------------------------------------

def register_app(starling, redirect_uri):
    app = starling.call("POST", "/api/v1/apps", form={
        "client_name": APP_NAME, "redirect_uris": redirect_uri, "scopes": "read write"})
    check(app.get("redirect_uri") == redirect_uri, f"the app's redirect_uri is {app.get('redirect_uri')!r}")
    return app


def setup_app_and_user(starling, redirect_uri):
    app = register_app(starling, redirect_uri)
    grant = starling.call("POST", "/oauth/token", form={
        "grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"],
        "scope": "read write"})
    username = f"browser_{secrets.token_hex(3)}"
    starling.call("POST", "/api/v1/accounts", grant["access_token"], form={
        "username": username, "email": f"{username}@example.com", "password": PASSWORD,
        "agreement": "true", "locale": "en"})
    return app, username


def authorize_url(starling, app, redirect_uri, state, challenge):
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": redirect_uri,
        "scope": "read write", "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
    return f"{starling.url}/oauth/authorize?{query}"


def open_authorize_page(page, url):
    response = page.goto(url)
    check(response is not None and response.status == 200,
          f"GET /oauth/authorize answered {response.status if response else 'nothing'}")
    heading = page.locator("h1").inner_text()
    check(heading == f"Authorize {APP_NAME}", f"the page's heading is {heading!r}")
    step(f"the authorize page (Content-Security-Policy: {response.headers.get('content-security-policy')})")


def arrive_at_callback(page, callback, console, what):
    """Waits for the browser to load the redirect_uri; returns its query, as a dict."""
    try:
        page.wait_for_url(lambda url: url.startswith(callback.url + "?"), wait_until="load")
    except PlaywrightError as e:
        refused = [m for m in console if "Content Security Policy" in m or "form-action" in m]
        raise CheckFailed(
            f"after {what}, the browser did not arrive at the redirect_uri {callback.url}: it is at {page.url} "
            f"({type(e).__name__}); the redirect_uri's server received {callback.hits or 'nothing'}; "
            f"the browser logged: {refused or console or 'nothing'}") from None
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))
    check(any(hit.startswith("/callback?") and dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(hit).query)) == query
              for hit in callback.hits),
          f"the redirect_uri's server did not receive {query}: it received {callback.hits}")
    return query


def pkce():
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def sign_in(starling, app, code, redirect_uri, verifier, username):
    """Exchanges the code at POST /oauth/token; the token must be the user's. Returns its scope."""
    tokens = starling.call("POST", "/oauth/token", form={
        "grant_type": "authorization_code", "client_id": app["client_id"], "client_secret": app["client_secret"],
        "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier})
    check(tokens.get("access_token"), f"POST /oauth/token gave no access_token: {tokens}")
    check(set(tokens.get("scope", "").split()) == {"read", "write"}, f"the token's scope is {tokens.get('scope')!r}")
    me = starling.call("GET", "/api/v1/accounts/verify_credentials", tokens["access_token"])
    check(me.get("username") == username, f"verify_credentials is {me.get('username')!r}, not {username!r}")
    return tokens["scope"]


def run(starling, callback, browser):
    app, username = setup_app_and_user(starling, callback.url)
    step(f"app {app['client_id']} with redirect_uri {callback.url}, user {username}")

    context = browser.new_context()
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))

    # 1-2. The page, then a wrong password: the page again, with the error.
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(12)
    open_authorize_page(page, authorize_url(starling, app, callback.url, state, challenge))
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", "not the password")
    with page.expect_navigation():
        page.get_by_role("button", name="Authorize").click()
    alert = page.get_by_role("alert").inner_text()
    check("Invalid login or password" in alert, f"a wrong password shows {alert!r}")
    check(page.url.startswith(f"{starling.url}/oauth/authorize"), f"a wrong password leads to {page.url}")
    step("a wrong password: the page again, with the error")

    # 3. The right password and Authorize: back at the app with a code and the state.
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Authorize").click()
    query = arrive_at_callback(page, callback, console, "Authorize")
    check(query.get("code"), f"the redirect_uri got no code: {query}")
    check(query.get("state") == state, f"the redirect_uri got state {query.get('state')!r}, not {state!r}")
    step(f"Authorize: the browser is at {callback.url}?code=…&state=…")

    # 4. The code for a token; the token is the user's.
    scope = sign_in(starling, app, query["code"], callback.url, verifier, username)
    step(f"the code for a token (scope {scope}); verify_credentials: {username}")

    # 5. Deny: back at the app with error=access_denied and the state.
    state = secrets.token_urlsafe(12)
    open_authorize_page(page, authorize_url(starling, app, callback.url, state, challenge))
    page.get_by_role("button", name="Deny").click()
    query = arrive_at_callback(page, callback, console, "Deny")
    check(query == {"error": "access_denied", "state": state}, f"Deny brought the browser back with {query}")
    step(f"Deny: the browser is at {callback.url}?error=access_denied&state=…")

    # 6. An app with its own scheme: Chromium follows the redirect to it, with a code.
    native = register_app(starling, APP_SCHEME_REDIRECT)
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(12)
    open_authorize_page(page, authorize_url(starling, native, APP_SCHEME_REDIRECT, state, challenge))
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    try:
        with page.expect_request(lambda request: request.url.startswith(APP_SCHEME_REDIRECT + "?")) as redirect:
            page.get_by_role("button", name="Authorize").click()
    except PlaywrightError as e:
        refused = [m for m in console if "Content Security Policy" in m or "form-action" in m]
        raise CheckFailed(
            f"after Authorize, the browser did not follow the redirect to {APP_SCHEME_REDIRECT}: it is at {page.url} "
            f"({type(e).__name__}); the browser logged: {refused or console or 'nothing'}") from None
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(redirect.value.url).query))
    check(query.get("code") and query.get("state") == state, f"the redirect to the app's scheme carried {query}")
    scope = sign_in(starling, native, query["code"], APP_SCHEME_REDIRECT, verifier, username)
    step(f"the app's own scheme: the browser was sent to {APP_SCHEME_REDIRECT}?code=…&state=…; "
         f"the code for a token (scope {scope})")
    context.close()


def main():
    for path, what in ((SERVER_BIN, "set STARLING_BIN"), (CHROMIUM, "apt-get install chromium, or set CHROMIUM")):
        if not os.access(path, os.X_OK):
            print(f"[browser] FAILED: {path} is not an executable ({what})", file=sys.stderr)
            sys.exit(1)
    workdir = tempfile.mkdtemp(prefix="starling-browser.")
    starling = Starling(workdir)
    callback = Callback()
    ok = False
    try:
        starling.start()
        step(f"starling is up at {starling.url}")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                step(f"Chromium {browser.version} ({CHROMIUM})")
                run(starling, callback, browser)
            finally:
                browser.close()
        check(starling.proc.poll() is None, "starling exited during the test")
        ok = True
    except CheckFailed as e:
        print(f"[browser] FAILED: {e}", file=sys.stderr, flush=True)
    except Exception:
        print("[browser] FAILED with an unexpected error:", file=sys.stderr, flush=True)
        traceback.print_exc()
    finally:
        starling.stop()
        callback.stop()
        if not ok:
            print("---- last 80 lines of the server log ----", file=sys.stderr)
            print(starling.log_tail(), file=sys.stderr, end="")
            print("-----------------------------------------", file=sys.stderr, flush=True)
        if KEEP_SERVER_LOG:
            step(f"work directory kept at {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not ok:
        sys.exit(1)
    step("signing in from a browser works")


if __name__ == "__main__":
    main()
