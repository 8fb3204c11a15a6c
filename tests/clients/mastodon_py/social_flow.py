#!/usr/bin/env python3
"""Follows, posts, replies, reblogs, context, timelines and deletion through the real
Mastodon.py library.

Usage: STARLING_URL=http://127.0.0.1:8080 python social_flow.py

Scenario, with three fresh users (A the author, B a follower of A, C a stranger):
  1. B follows A (account_follow); the Relationship says following, account_relationships
     agrees from both sides, A's followers list and count show B.
  2. A posts a public status with a unique hashtag, a plain public status and a private
     (followers-only) status carrying the same hashtag; C may not read the private one.
  3. B replies with status_reply (which copies the parent's visibility and spoiler and
     prefixes @acct) to the public and to the private status.
  4. B reblogs A's status (status_reblog): the wrapper carries the original, reblogged
     is true, reblogs_count counts it.
  5. status_context: the reply is among the descendants of A's status, A's status among
     the ancestors of the reply.
  6. If the server has them: status_favourite (favourited, favourites_count), favourites()
     lists it; A has follow, mention, reblog and favourite notifications (also grouped,
     grouped_notifications(), the mention ungrouped); then
     status_unfavourite. Otherwise both parts print "SKIP (server has no ...)".
  7. status_unreblog undoes the reblog.
  8. A posts 7 more statuses; once fan-out has delivered the newest to B's home timeline,
     B reads the whole home timeline with limit=2 and fetch_next (Link rel="next"): every
     one of A's statuses exactly once, newest first, no duplicates. C's home has none.
  9. timeline_hashtag has the public tagged status and not the private one;
     timeline_public has A's public statuses and not the private one.
 10. status_delete returns the deleted status with its source text; status() is then a
     404 and the hashtag timeline no longer lists it.
Exits non-zero at the first failure.
"""

import os
import secrets
import sys
import time
import traceback
from importlib.metadata import version as package_version

import requests
from mastodon import Mastodon, MastodonError, MastodonNotFoundError

SCOPES = ["read", "write", "follow", "push"]
REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob"
CLIENT_NAME = "starling Mastodon.py social test"
TIMEOUT = 30
# Fan-out to home timelines happens after the post is acknowledged: wait this long at
# most for a status to show up in a follower's home timeline.
FANOUT_WAIT_SECS = 5.0
# Notifications are polled for as long (they should be there at once).
NOTIFICATION_WAIT_SECS = 5.0
PAGING_POSTS = 7
PAGE_LIMIT = 2
MAX_PAGES = 100
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


def ids_of(items):
    return [sid(item) for item in items]


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


def poll(what, func, timeout):
    """Calls func until it returns a true value or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = func()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise CheckFailed(f"{what}: not true after {timeout:.0f} s")
        time.sleep(0.1)


class User:
    def __init__(self, label, api, account):
        self.label = label
        self.api = api
        self.account = account
        self.id = sid(account)
        self.acct = get(account, "acct")
        self.token = api.access_token

    def __str__(self):
        return f"{self.label} (@{self.acct}, id {self.id})"


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
        return User(label, api, me)

    a = register("A")
    b = register("B")
    c = register("C")

    # --- which optional features the server has ----------------------------------------
    # Probed with plain HTTP on a status that certainly exists (C's own), so a 404 can only
    # mean that the route is missing.
    def raw(user, method, path):
        response = requests.request(
            method, f"{base_url}{path}", headers={"Authorization": f"Bearer {user.token}"}, timeout=TIMEOUT
        )
        return response.status_code

    step("probe: POST /api/v1/statuses/:id/favourite and GET /api/v1/notifications")
    probe = c.api.status_post(f"probe {secrets.token_hex(4)}")
    fav_code = raw(c, "POST", f"/api/v1/statuses/{sid(probe)}/favourite")
    notif_code = raw(c, "GET", "/api/v1/notifications")
    c.api.status_delete(probe)
    has_favourites = fav_code == 200
    has_notifications = notif_code == 200
    step(f"  favourite: HTTP {fav_code}; notifications: HTTP {notif_code}")
    for name, code in (("favourite", fav_code), ("notifications", notif_code)):
        check(code in (200, 404), f"probe {name}: unexpected HTTP {code} (expected 200, or 404 if not implemented)")

    # --- 1. follow ---------------------------------------------------------------------
    step(f"1. account_follow: {b.label} follows {a.label}")
    rel = b.api.account_follow(a.id)
    check(sid(rel) == a.id, f"follow: Relationship id {rel.get('id')!r} != {a.id}")
    check(get(rel, "following") is True, f"follow: Relationship following is {rel.get('following')!r}, expected True")
    check(get(rel, "requested") is False, f"follow: Relationship requested is {rel.get('requested')!r} for an unlocked account")

    rels = b.api.account_relationships(a.id)
    check(len(rels) == 1, f"account_relationships([A]) as B returned {len(rels)} entries")
    check(sid(rels[0]) == a.id and get(rels[0], "following") is True,
          f"account_relationships as B: {dict(rels[0])!r}, expected following=True for {a.id}")
    rels = a.api.account_relationships([b.id, c.id])
    by_id = {sid(r): r for r in rels}
    check(set(by_id) == {b.id, c.id}, f"account_relationships([B, C]) as A returned ids {sorted(by_id)}")
    check(get(by_id[b.id], "followed_by") is True, f"A's relationship to B: followed_by is {by_id[b.id].get('followed_by')!r}")
    check(get(by_id[b.id], "following") is False, f"A's relationship to B: following is {by_id[b.id].get('following')!r}")
    check(get(by_id[c.id], "followed_by") is False, f"A's relationship to C: followed_by is {by_id[c.id].get('followed_by')!r}")

    followers = a.api.account_followers(a.id)
    check(b.id in ids_of(followers), f"account_followers(A) {ids_of(followers)} lacks B {b.id}")
    check(get(a.api.account(a.id), "followers_count") == 1, "A's followers_count is not 1")
    check(get(b.api.account(b.id), "following_count") == 1, "B's following_count is not 1")

    # --- 2. A posts -----------------------------------------------------------------------
    tag = f"starlingtest{secrets.token_hex(4)}"
    step(f"2. status_post as A: public with #{tag}, public, private with #{tag}")
    tagged_text = f"Hello from Mastodon.py #{tag}"
    tagged = a.api.status_post(tagged_text)
    check(get(tagged, "visibility") == "public", f"tagged status visibility {tagged.get('visibility')!r}")
    check(tag in [get(t, "name") for t in get(tagged, "tags")], f"tagged status tags {tagged.get('tags')!r} lack {tag}")
    check(f"#{tag}" in get(tagged, "content") or tag in get(tagged, "content"),
          f"tagged status content {tagged.get('content')!r} lacks the tag")
    check(sid(get(tagged, "account")) == a.id, "tagged status account is not A")

    plain = a.api.status_post(f"A plain public status {secrets.token_hex(3)}")
    private = a.api.status_post(f"Followers only #{tag}", visibility="private")
    check(get(private, "visibility") == "private", f"private status visibility {private.get('visibility')!r}")
    step(f"  tagged={sid(tagged)} plain={sid(plain)} private={sid(private)}")

    step("  B (follower) reads the private status, C (stranger) gets 404")
    check(sid(b.api.status(sid(private))) == sid(private), "B could not read A's private status")
    expect_error(MastodonNotFoundError, lambda: c.api.status(sid(private)), "C reading A's private status")

    # --- 3. replies -------------------------------------------------------------------------
    step("3. status_reply as B to A's public status")
    reply = b.api.status_reply(tagged, "Nice one!")
    check(str(get(reply, "in_reply_to_id")) == sid(tagged),
          f"reply in_reply_to_id {reply.get('in_reply_to_id')!r} != {sid(tagged)}")
    check(str(get(reply, "in_reply_to_account_id")) == a.id,
          f"reply in_reply_to_account_id {reply.get('in_reply_to_account_id')!r} != {a.id}")
    check(get(reply, "visibility") == "public", f"reply visibility {reply.get('visibility')!r}, expected public (copied)")
    check(a.id in ids_of(get(reply, "mentions")), f"reply mentions {ids_of(reply['mentions'])} lack A {a.id}")
    check(f"@{a.acct}" in get(reply, "content") or f"@<span>{a.acct}</span>" in reply["content"],
          f"reply content {reply.get('content')!r} lacks the @{a.acct} mention")

    step("   status_reply as B to A's private status keeps it private")
    private_reply = b.api.status_reply(private, "Seen it.")
    check(str(get(private_reply, "in_reply_to_id")) == sid(private), "private reply in_reply_to_id is wrong")
    check(get(private_reply, "visibility") == "private",
          f"reply to a private status has visibility {private_reply.get('visibility')!r}, expected private (copied)")

    # --- 4. reblog ----------------------------------------------------------------------------
    step("4. status_reblog as B of A's public status")
    reblog = b.api.status_reblog(tagged)
    check(get(reblog, "reblog") is not None, f"reblog answer has reblog=null: {dict(reblog)!r}")
    check(sid(get(reblog, "reblog")) == sid(tagged), f"reblog.reblog.id {sid(reblog['reblog'])} != {sid(tagged)}")
    check(sid(reblog) != sid(tagged), "the reblog wrapper has the original's id")
    check(sid(get(reblog, "account")) == b.id, "the reblog wrapper's account is not B")
    check(get(reblog, "reblog", "reblogged") is True, f"reblog.reblog.reblogged is {reblog['reblog'].get('reblogged')!r}")
    seen_by_b = b.api.status(sid(tagged))
    check(get(seen_by_b, "reblogged") is True, f"status() as B after reblog: reblogged is {seen_by_b.get('reblogged')!r}")
    check(get(seen_by_b, "reblogs_count") == 1, f"reblogs_count after reblog is {seen_by_b.get('reblogs_count')!r}")
    check(get(a.api.status(sid(tagged)), "reblogged") is False, "status() as A: reblogged is true, but A did not reblog")
    reblogged_by = a.api.status_reblogged_by(sid(tagged))
    check(ids_of(reblogged_by) == [b.id], f"status_reblogged_by {ids_of(reblogged_by)} != [B]")

    # --- 5. context ---------------------------------------------------------------------------
    step("5. status_context: reply among A's status descendants, A's status among the reply's ancestors")
    ctx = a.api.status_context(sid(tagged))
    check(sid(reply) in ids_of(get(ctx, "descendants")),
          f"context(A's status).descendants {ids_of(ctx['descendants'])} lacks the reply {sid(reply)}")
    check(ids_of(get(ctx, "ancestors")) == [], f"context(A's status).ancestors is not empty: {ids_of(ctx['ancestors'])}")
    ctx = b.api.status_context(sid(reply))
    check(ids_of(get(ctx, "ancestors")) == [sid(tagged)],
          f"context(reply).ancestors {ids_of(ctx['ancestors'])} != [{sid(tagged)}]")

    # --- 6. favourites and notifications --------------------------------------------------------
    if has_favourites:
        step("6. status_favourite as B of A's public status")
        fav = b.api.status_favourite(sid(tagged))
        check(sid(fav) == sid(tagged), f"status_favourite returned status {sid(fav)}, expected {sid(tagged)}")
        check(get(fav, "favourited") is True, f"status_favourite: favourited is {fav.get('favourited')!r}")
        check(get(fav, "favourites_count") == 1, f"status_favourite: favourites_count is {fav.get('favourites_count')!r}")
        favs = b.api.favourites()
        check(sid(tagged) in ids_of(favs), f"favourites() {ids_of(favs)} lacks {sid(tagged)}")
        check(get(a.api.status(sid(tagged)), "favourited") is False, "status() as A: favourited is true, but A did not favourite")
    else:
        step(f"6. SKIP (server has no POST /api/v1/statuses/:id/favourite: HTTP {fav_code}): "
             "status_favourite, status_unfavourite, favourites()")

    if has_notifications:
        wanted = ["follow", "mention", "reblog"] + (["favourite"] if has_favourites else [])
        step(f"   notifications() as A: {', '.join(wanted)} from B")

        def matches(n):
            kind = get(n, "type")
            if sid(get(n, "account")) != b.id:
                return None
            status = n.get("status")
            status_id = sid(status) if status else None
            if kind == "follow" and status is None:
                return kind
            if kind == "mention" and status_id in (sid(reply), sid(private_reply)):
                return kind
            if kind in ("reblog", "favourite") and status_id == sid(tagged):
                return kind
            return None

        def found():
            notes = a.api.notifications()
            kinds = {matches(n) for n in notes} - {None}
            return notes if all(k in kinds for k in wanted) else None

        try:
            notes = poll("A's notifications", found, NOTIFICATION_WAIT_SECS)
        except CheckFailed:
            notes = a.api.notifications()
            raise CheckFailed(
                f"A's notifications lack some of {wanted}: got "
                f"{[(n.get('type'), sid(n['account']) if n.get('account') else None, sid(n['status']) if n.get('status') else None) for n in notes]}"
            ) from None
        check(len(set(ids_of(notes))) == len(notes), "notifications() has duplicate ids")
        mentions = a.api.notifications(types=["mention"])
        check(mentions and all(get(n, "type") == "mention" for n in mentions),
              f"notifications(types=['mention']) returned {[n.get('type') for n in mentions]}")
        check(sid(reply) in [sid(n["status"]) for n in mentions], "notifications(types=['mention']) lacks the reply")
        from_a = [get(n, "type") for n in b.api.notifications() if sid(get(n, "account")) == a.id]
        check(not from_a, f"B has notifications from A, who did nothing to B: {from_a}")
        step(f"   grouped_notifications() as A: a group for each of {', '.join(wanted)}, each group once")
        grouped = a.api.grouped_notifications()
        groups = get(grouped, "notification_groups")
        summary = [(g.get("type"), g.get("group_key"), g.get("sample_account_ids")) for g in groups]
        for kind in wanted:
            group = next((g for g in groups if g.get("type") == kind
                          and b.id in [sid(i) for i in g.get("sample_account_ids", [])]), None)
            check(group is not None, f"grouped_notifications() has no {kind} group with B: {summary}")
            check(get(group, "notifications_count") >= 1, f"grouped_notifications(): the {kind} group counts nothing")
        mention = next((g for g in groups if g.get("type") == "mention" and sid(g.get("status_id")) == sid(reply)), None)
        check(mention is not None and str(mention["group_key"]).startswith("ungrouped-"),
              f"grouped_notifications(): the reply's mention is not ungrouped: {summary}")
        check(len({g.get("group_key") for g in groups}) == len(groups), f"grouped_notifications() repeats a group: {summary}")
        check(b.id in ids_of(get(grouped, "accounts")), "grouped_notifications(): accounts lack B")
        check(sid(reply) in ids_of(get(grouped, "statuses")), "grouped_notifications(): statuses lack the reply")
        unread = a.api.unread_grouped_notifications_count()
        check(unread >= len(wanted), f"unread_grouped_notifications_count() is {unread}, fewer than {len(wanted)} groups")
    else:
        step(f"   SKIP (server has no GET /api/v1/notifications: HTTP {notif_code}): follow, mention, "
             "reblog and favourite notifications")

    if has_favourites:
        step("   status_unfavourite as B")
        unfav = b.api.status_unfavourite(sid(tagged))
        check(get(unfav, "favourited") is False, f"status_unfavourite: favourited is {unfav.get('favourited')!r}")
        check(get(unfav, "favourites_count") == 0, f"status_unfavourite: favourites_count is {unfav.get('favourites_count')!r}")
        check(sid(tagged) not in ids_of(b.api.favourites()), "favourites() still lists the unfavourited status")

    # --- 7. unreblog ---------------------------------------------------------------------------
    step("7. status_unreblog as B")
    unreblogged = b.api.status_unreblog(sid(tagged))
    check(sid(unreblogged) == sid(tagged), f"status_unreblog returned {sid(unreblogged)}, expected {sid(tagged)}")
    check(get(unreblogged, "reblogged") is False, f"status_unreblog: reblogged is {unreblogged.get('reblogged')!r}")
    after = b.api.status(sid(tagged))
    check(get(after, "reblogged") is False and get(after, "reblogs_count") == 0,
          f"after unreblog: reblogged={after.get('reblogged')!r} reblogs_count={after.get('reblogs_count')!r}")
    expect_error(MastodonNotFoundError, lambda: b.api.status(sid(reblog)), "reading the undone reblog wrapper")

    # --- 8. home timeline paging --------------------------------------------------------------
    step(f"8. A posts {PAGING_POSTS} more statuses; B pages the home timeline with limit={PAGE_LIMIT}")
    paging = [a.api.status_post(f"Paging post {i + 1} of {PAGING_POSTS} {secrets.token_hex(3)}") for i in range(PAGING_POSTS)]
    newest = sid(paging[-1])
    started = time.monotonic()

    def newest_in_home():
        top = b.api.timeline_home(limit=1)
        return top and sid(top[0]) == newest

    poll(f"A's newest status {newest} at the top of B's home timeline", newest_in_home, FANOUT_WAIT_SECS)
    step(f"  fan-out reached B's home after {time.monotonic() - started:.2f} s")

    page = b.api.timeline_home(limit=PAGE_LIMIT)
    entries, pages = [], 0
    while page:
        pages += 1
        check(pages <= MAX_PAGES, f"more than {MAX_PAGES} pages of {PAGE_LIMIT}: the Link header does not advance")
        check(len(page) <= PAGE_LIMIT, f"page {pages} has {len(page)} statuses, limit was {PAGE_LIMIT}")
        entries.extend(page)
        if getattr(page, "_pagination_next", None) is None:
            # Mastodon.py found no rel="next" URL with max_id=; a full page must have one.
            check(len(page) < PAGE_LIMIT, f"page {pages} is full but has no Link rel=\"next\" with max_id=")
            break
        page = b.api.fetch_next(page)
    step(f"  {len(entries)} statuses on {pages} pages")
    home_ids = ids_of(entries)
    dupes = sorted({i for i in home_ids if home_ids.count(i) > 1})
    check(not dupes, f"home timeline has duplicates: {dupes}")
    check([int(i) for i in home_ids] == sorted((int(i) for i in home_ids), reverse=True),
          f"home timeline is not newest first: {home_ids}")
    a_posts = [sid(s) for s in [tagged, plain, private] + paging]
    expected = sorted(a_posts, key=int, reverse=True)
    a_in_home = [sid(s) for s in entries if sid(get(s, "account")) == a.id and s.get("reblog") is None]
    check(a_in_home == expected, f"A's statuses in B's home timeline {a_in_home} != {expected} (each once, newest first)")
    for own in (reply, private_reply):
        check(sid(own) in home_ids, f"B's own reply {sid(own)} is not in B's home timeline")
    check(sid(reblog) not in home_ids, "the undone reblog is still in B's home timeline")

    c_home = ids_of(c.api.timeline_home(limit=40))
    check(not set(c_home) & set(a_posts), f"C's home timeline has A's statuses although C follows nobody: {c_home}")

    # --- 9. hashtag and public timelines -----------------------------------------------------------
    step(f"9. timeline_hashtag({tag!r}) and timeline_public")
    tag_ids = ids_of(b.api.timeline_hashtag(tag))
    check(sid(tagged) in tag_ids, f"hashtag timeline {tag_ids} lacks the public tagged status {sid(tagged)}")
    check(sid(private) not in tag_ids, f"hashtag timeline {tag_ids} lists the private status {sid(private)}")
    tag_ids_upper = ids_of(b.api.timeline_hashtag(tag.upper()))
    check(tag_ids_upper == tag_ids, f"hashtag timeline for {tag.upper()!r} {tag_ids_upper} differs from {tag!r} {tag_ids}")

    # The public timeline is shared with every other test: page through it (limit 40)
    # down to A's oldest status.
    public_ids = []
    page = b.api.timeline_public(limit=40)
    while page:
        public_ids.extend(ids_of(page))
        if sid(tagged) in public_ids or int(public_ids[-1]) < int(sid(tagged)):
            break
        if getattr(page, "_pagination_next", None) is None:
            break
        page = b.api.fetch_next(page)
    # B's reply is public too, but like Mastodon the public timeline leaves out replies to
    # other people, so it is not expected there.
    for status in (tagged, plain, paging[0], paging[-1]):
        check(sid(status) in public_ids, f"public timeline lacks public status {sid(status)}")
    for status in (private, private_reply):
        check(sid(status) not in public_ids, f"public timeline lists private status {sid(status)}")

    # --- 10. delete -----------------------------------------------------------------------------
    step(f"10. status_delete as A of the tagged status {sid(tagged)}")
    deleted = a.api.status_delete(sid(tagged))
    check(sid(deleted) == sid(tagged), f"status_delete returned {sid(deleted)}, expected {sid(tagged)}")
    check(deleted.get("text") == tagged_text, f"status_delete: text {deleted.get('text')!r} != {tagged_text!r} (delete and redraft)")
    expect_error(MastodonNotFoundError, lambda: a.api.status(sid(tagged)), "status() of the deleted status as A")
    expect_error(MastodonNotFoundError, lambda: b.api.status(sid(tagged)), "status() of the deleted status as B")
    check(sid(tagged) not in ids_of(b.api.timeline_hashtag(tag)), "the hashtag timeline still lists the deleted status")
    check(sid(b.api.status(sid(reply))) == sid(reply), "B's reply to the deleted status is gone too")

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
