"""Prepares a fresh starling for scripts/schemathesis, through the API only.

Registers the test user the way a client does (an app, a client-credentials token,
POST /api/v1/accounts; scopes `read write follow push`), gives it something to look at
(statuses, a reply thread, an edit, favourites, a reblog, follows, follow requests from
four accounts, notifications, a report), takes a token for the moderator that
scripts/schemathesis created with `starling admin create-user`, and writes a schemathesis
config whose dictionaries feed these real ids to the path, query and body parameters
that need them, so that generated requests reach the handlers' success paths too and the
answers there are checked against the document as well.

Usage: seed.py BASE_URL PASSWORD MODERATOR CONFIG_OUT
Prints a JSON object: {"token": ..., "moderator_token": ...}.
Standard library only (it runs before and outside the schemathesis venv).
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

BASE, PASSWORD, MODERATOR, CONFIG_OUT = sys.argv[1:5]
USER_SCOPES = "read write follow push"
STAFF_SCOPES = "read write follow admin:read admin:write"
OOB = "urn:ietf:wg:oauth:2.0:oob"


def call(method, path, form=None, token=None):
    data = urllib.parse.urlencode(form or {}, doseq=True).encode() if form is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        sys.exit(f"seed: {method} {path} answered {e.code}: {e.read()[:500]!r}")


def app(scopes):
    return call("POST", "/api/v1/apps", {"client_name": "schemathesis", "redirect_uris": OOB, "scopes": scopes})


def register(username):
    """A user through the API, as a client signs up: their token has the app's scopes."""
    client = app(USER_SCOPES)
    app_token = call("POST", "/oauth/token", {
        "grant_type": "client_credentials", "client_id": client["client_id"],
        "client_secret": client["client_secret"], "scope": USER_SCOPES,
    })["access_token"]
    token = call("POST", "/api/v1/accounts", {
        "username": username, "email": f"{username}@example.com", "password": PASSWORD,
        "agreement": "true", "locale": "en",
    }, token=app_token)
    if set(token["scope"].split()) != set(USER_SCOPES.split()):
        sys.exit(f"seed: {username}'s token has scopes {token['scope']!r}")
    me = call("GET", "/api/v1/accounts/verify_credentials", token=token["access_token"])
    return token["access_token"], me["id"]


def post(token, text, **extra):
    return call("POST", "/api/v1/statuses", {"status": text, **extra}, token=token)["id"]


me_token, me = register("fuzzer")
friend_token, friend = register("friend")
shy_token, shy = register("shy")
quiet_token, quiet = register("quiet")
askers = [register(f"asker{i}") for i in range(4)]

# The test user's statuses: public with a hashtag and a mention, unlisted, private, one
# with a content warning, one edited, and two to be deleted.
s_public = post(me_token, "Hello #starling, says @friend")
s_unlisted = post(me_token, "Quietly #fuzz", visibility="unlisted")
s_private = post(me_token, "Followers only", visibility="private")
s_warned = post(me_token, "Behind a warning", spoiler_text="cw", sensitive="true")
s_edited = post(me_token, "First draft #starling")
call("PUT", f"/api/v1/statuses/{s_edited}", {"status": "Second draft #starling"}, token=me_token)
disposable = [post(me_token, f"Disposable {i}") for i in range(3)]

# Someone else talks to and about the test user: mentions, a reply thread, a favourite, a
# reblog, a follow (each a notification).
f_mention = post(friend_token, "@fuzzer hello from #starling")
f_reply = post(friend_token, "@fuzzer a reply", in_reply_to_id=s_public)
my_reply = post(me_token, "@friend a reply to the reply", in_reply_to_id=f_reply)
call("POST", f"/api/v1/statuses/{s_public}/favourite", {}, token=friend_token)
reblog = call("POST", f"/api/v1/statuses/{s_public}/reblog", {}, token=friend_token)["id"]
call("POST", f"/api/v1/accounts/{me}/follow", {}, token=friend_token)
call("POST", f"/api/v1/accounts/{friend}/follow", {}, token=me_token)
call("POST", f"/api/v1/statuses/{f_mention}/bookmark", {}, token=me_token)

# A locked test user with four follow requests waiting: two to authorize, two to reject.
call("PATCH", "/api/v1/accounts/update_credentials", {"locked": "true"}, token=me_token)
for asker_token, _ in askers:
    call("POST", f"/api/v1/accounts/{me}/follow", {}, token=asker_token)

report = call("POST", "/api/v1/reports", {"account_id": friend, "status_ids[]": [f_mention], "comment": "seed"},
              token=me_token)["id"]
notifications = [n["id"] for n in call("GET", "/api/v1/notifications?limit=40", token=me_token)]
if len(notifications) < 4:
    sys.exit(f"seed: expected notifications for the test user, got {notifications}")

# For the OAuth and login operations: a client of their own, and a login of `friend` (its
# refresh token rotates on first use; reusing it then only ends that one session).
oauth_client = app(USER_SCOPES)
friend_login = call("POST", "/api/v1/auth/login", {"username": "friend", "password": PASSWORD})

staff_client = app(STAFF_SCOPES)
moderator_token = call("POST", "/oauth/token", {
    "grant_type": "password", "client_id": staff_client["client_id"], "client_secret": staff_client["client_secret"],
    "username": MODERATOR, "password": PASSWORD, "scope": STAFF_SCOPES,
})["access_token"]

statuses = [s_public, s_unlisted, s_private, s_warned, s_edited, f_mention, f_reply, my_reply, reblog]
dictionaries = {
    "accounts": [me, friend, shy, quiet],
    # Blocking or muting `friend` would hide the seeded notifications: not offered.
    "quiet_accounts": [shy, quiet],
    "to_authorize": [askers[0][1], askers[1][1]],
    "to_reject": [askers[2][1], askers[3][1]],
    "statuses": statuses,
    "own_statuses": [s_public, s_unlisted, s_private, s_warned, s_edited, my_reply],
    "disposable_statuses": disposable,
    "notifications": notifications,
    "reports": [report],
    "usernames": ["fuzzer", "friend", "friend@" + BASE.split("://", 1)[1], "@shy"],
    "hashtags": ["starling", "fuzz", "Starling"],
    "client_ids": [oauth_client["client_id"]],
    "client_secrets": [oauth_client["client_secret"]],
    "redirect_uris": [OOB, "https://app.example/callback"],
    "websites": ["https://app.example"],
    "response_types": ["code"],
    "scopes": ["read", "read write", "write:statuses follow"],
    "challenge_methods": ["S256"],
    "grant_types": ["password", "client_credentials", "authorization_code", "refresh_token"],
    "logins": ["friend", "friend@example.com"],
    "passwords": [PASSWORD],
    "refresh_tokens": [friend_login["refresh_token"]],
    "visibilities": ["public", "unlisted", "private", "direct"],
    "measure_keys": ["active_users", "new_users", "interactions", "opened_reports", "resolved_reports"],
    "days": ["2026-11-01", "2026-11-21", "2026-11-21T12:00:00Z"],
}

# Which parameters take values from which dictionary:
# (path regex, methods or None, {parameter: dictionary}[, probability]).
P = 0.5
bindings = [
    (r"^/api/v1/statuses/\{id\}$", "DELETE", {"path.id": "disposable_statuses"}),
    (r"^/api/v1/statuses/\{id\}(/source)?$", "PUT|GET", {"path.id": "own_statuses"}),
    (r"^/api/v1/statuses/\{id\}/", None, {"path.id": "statuses"}),
    (r"^/api/v1/accounts/\{id\}/(block|mute|unblock|unmute)$", None, {"path.id": "quiet_accounts"}),
    (r"^/api/v1/accounts/\{id\}", None, {"path.id": "accounts"}),
    (r"^/api/v1/follow_requests/\{id\}/authorize$", None, {"path.id": "to_authorize"}),
    (r"^/api/v1/follow_requests/\{id\}/reject$", None, {"path.id": "to_reject"}),
    (r"^/api/v1/apps$", None, {"body.redirect_uris[*]": "redirect_uris", "body.scopes": "scopes",
                               "body.website": "websites"}),
    (r"^/api/v1/notifications/\{id\}", None, {"path.id": "notifications"}),
    (r"^/api/v1/notifications$", None, {"query.account_id": "accounts"}),
    (r"^/api/v1/accounts/lookup$", None, {"query.acct": "usernames"}),
    (r"^/api/v1/(tags|timelines/tag)/", None, {"path.name": "hashtags", "path.hashtag": "hashtags"}),
    (r"^/api/v1/statuses$", None, {"body.in_reply_to_id": "statuses", "body.visibility": "visibilities"}),
    (r"^/api/v1/reports$", None, {"body.account_id": "accounts"}),
    (r"^/oauth/authorize$", None, {
        "query.client_id": "client_ids", "query.redirect_uri": "redirect_uris", "query.response_type": "response_types",
        "query.scope": "scopes", "query.code_challenge_method": "challenge_methods",
        "body.client_id": "client_ids", "body.redirect_uri": "redirect_uris", "body.response_type": "response_types",
        "body.scope": "scopes", "body.code_challenge_method": "challenge_methods",
        "body.login": "logins", "body.password": "passwords",
    }, 0.8),
    (r"^/oauth/token$", None, {
        "body.client_id": "client_ids", "body.client_secret": "client_secrets", "body.grant_type": "grant_types",
        "body.scope": "scopes", "body.username": "logins", "body.password": "passwords",
        "body.refresh_token": "refresh_tokens",
    }, 0.8),
    (r"^/api/v1/auth/login$", None, {"body.username": "logins", "body.password": "passwords"}, 0.8),
    (r"^/api/v1/auth/refresh$", None, {"body.refresh_token": "refresh_tokens"}),
    (r"^/api/v1/admin/accounts/\{id\}", None, {"path.id": "accounts"}),
    (r"^/api/v1/admin/reports/\{id\}", None, {"path.id": "reports"}),
    (r"^/api/v1/admin/reports$", None, {"query.account_id": "accounts", "query.target_account_id": "accounts"}),
    (r"^/api/v1/admin/measures$", None, {
        "body.start_at": "days", "body.end_at": "days", "body.keys[*]": "measure_keys",
    }, 0.8),
]


def toml_string(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


lines = ["# Written by tests/schemathesis/seed.py for one run of scripts/schemathesis.", ""]
for name, values in dictionaries.items():
    lines.append(f"[dictionaries.{name}]")
    lines.append("values = [" + ", ".join(toml_string(str(v)) for v in values) + "]")
    lines.append("")
for regex, methods, params, *probability in bindings:
    p = probability[0] if probability else P
    lines.append("[[operations]]")
    lines.append(f"include-path-regex = {toml_string(regex)}")
    if methods:
        lines.append(f"include-method-regex = {toml_string('^(' + methods + ')$')}")
    binding = ", ".join(f"{toml_string(k)} = {{ dictionary = {toml_string(v)}, probability = {p} }}"
                        for k, v in params.items())
    lines.append(f"parameters = {{ {binding} }}")
    lines.append("")
with open(CONFIG_OUT, "w") as f:
    f.write("\n".join(lines))

print(json.dumps({"token": me_token, "moderator_token": moderator_token}))
