// Follows, posts, replies, reblogs, context, timelines and deletion through the real
// masto.js library.
//
// Usage: STARLING_URL=http://127.0.0.1:8080 node social_flow.mjs   (Node >= 22, see auth_flow.mjs)
//
// Scenario, with three fresh users (A the author, B a follower of A, C a stranger):
//   1. B follows A (v1.accounts.$select(id).follow(), a POST with no body); the
//      Relationship says following, v1.accounts.relationships.fetch agrees from both sides,
//      A's followers list and count show B.
//   2. A posts a public status with a unique hashtag, a plain public status and a private
//      (followers-only) status carrying the same hashtag; C may not read the private one.
//   3. B replies (v1.statuses.create with inReplyToId and an @acct mention).
//   4. B reblogs A's status ($select(id).reblog(), a POST with no body): the wrapper carries
//      the original, reblogged is true, reblogsCount counts it.
//   5. $select(id).context.fetch(): the reply is among the descendants of A's status, A's
//      status among the ancestors of the reply.
//   6. If the server has them: favourite/unfavourite (favourited, favouritesCount),
//      v1.favourites.list(); A has follow, mention, reblog and favourite notifications
//      (v1.notifications.list()), and a group for each in v2.notifications.list() (the
//      mention ungrouped). Otherwise both parts print "SKIP (server has no ...)".
//   7. $select(id).unreblog() undoes the reblog.
//   8. A posts 7 more statuses; once fan-out has delivered the newest to B's home timeline,
//      B reads the whole home timeline with `for await (const page of
//      v1.timelines.home.list({limit: 2}))`, which follows the Link rel="next" URLs: every
//      one of A's statuses exactly once, newest first, no duplicates. C's home has none.
//   9. v1.timelines.tag.$select(tag).list() has the public tagged status and not the
//      private one; v1.timelines.public.list() has A's public statuses and not the private one.
//  10. $select(id).remove() returns the deleted status with its source text; fetching it
//      is then a 404 and the hashtag timeline no longer lists it.
// Exits non-zero at the first failure.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < 22) {
  console.error(
    `[masto.js] FAILED: masto 8 needs Node >= 22, this is Node ${process.versions.node}; ` +
      "run it with tests/clients/node_modules/.bin/node (see scripts/test-clients)",
  );
  process.exit(2);
}

const { createOAuthAPIClient, createRestAPIClient, MastoHttpError } = await import("masto");

const SCOPES = "read write follow push";
const REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob";
const CLIENT_NAME = "starling masto.js social test";
const TIMEOUT_MS = 30_000;
// Fan-out to home timelines happens after the post is acknowledged: wait this long at
// most for a status to show up in a follower's home timeline.
const FANOUT_WAIT_MS = 5_000;
// Notifications are polled for as long (they should be there at once).
const NOTIFICATION_WAIT_MS = 5_000;
const PAGING_POSTS = 7;
const PAGE_LIMIT = 2;
const MAX_PAGES = 100;
// STARLING_CLIENT_DEBUG=1 makes masto log every request and response body.
const LOG = ["", "0", undefined].includes(process.env.STARLING_CLIENT_DEBUG) ? "warn" : "debug";

class CheckFailed extends Error {}

const step = (message) => console.log(`[masto.js] ${message}`);
const hex = (n) => randomBytes(n).toString("hex");
const json = (value) => JSON.stringify(value);
const idsOf = (items) => items.map((item) => item.id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

async function expectHttpError(what, promiseFactory, statuses) {
  let result;
  try {
    result = await promiseFactory();
  } catch (error) {
    if (!(error instanceof MastoHttpError)) {
      throw new CheckFailed(
        `${what}: expected an HTTP error (${statuses.join(" or ")}), got ${error?.name}: ${error?.message}`,
        { cause: error },
      );
    }
    check(
      statuses.includes(error.statusCode),
      `${what}: expected status ${statuses.join(" or ")}, got ${error.statusCode} (${error.message})`,
    );
    return error;
  }
  throw new CheckFailed(`${what}: expected status ${statuses.join(" or ")}, but the call succeeded: ${json(result)}`);
}

// Calls fn until it returns a truthy value or the timeout passes.
async function poll(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() >= deadline) throw new CheckFailed(`${what}: not true after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

function mastoVersion() {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve("masto/package.json"), "utf8")).version;
}

async function main() {
  let baseUrl = process.env.STARLING_URL;
  if (!baseUrl) {
    console.error("STARLING_URL is not set (e.g. http://127.0.0.1:8080)");
    return 2;
  }
  baseUrl = baseUrl.replace(/\/+$/, "");
  step(`masto ${mastoVersion()} on Node ${process.versions.node} against ${baseUrl}`);

  const rest = (accessToken) => createRestAPIClient({ url: baseUrl, accessToken, timeout: TIMEOUT_MS, log: LOG });
  const oauth = createOAuthAPIClient({ url: baseUrl, timeout: TIMEOUT_MS, log: LOG });

  // --- users ---------------------------------------------------------------------------
  step("v1.apps.create and an app token (client_credentials)");
  const app = await rest().v1.apps.create({
    clientName: CLIENT_NAME,
    redirectUris: REDIRECT_URI,
    scopes: SCOPES,
    website: "https://example.com/starling-tests",
  });
  const appCredentials = { clientId: app.clientId, clientSecret: app.clientSecret, redirectUri: REDIRECT_URI };
  const appToken = await oauth.token.create({ grantType: "client_credentials", ...appCredentials, scope: SCOPES });

  async function register(label) {
    const username = `js${label.toLowerCase()}_${hex(4)}`;
    const email = `${username}@example.com`;
    const password = `pw-${randomBytes(18).toString("base64url")}`;
    step(`v1.accounts.create + password grant: user ${label} = ${username}`);
    await rest(appToken.accessToken).v1.accounts.create({ username, email, password, agreement: true, locale: "en" });
    const token = await oauth.token.create({ grantType: "password", ...appCredentials, username: email, password, scope: SCOPES });
    const client = rest(token.accessToken);
    const me = await client.v1.accounts.verifyCredentials();
    check(me.username === username, `${label}: verifyCredentials username ${json(me.username)} != ${username}`);
    return { label, client, token: token.accessToken, id: me.id, acct: me.acct };
  }

  const a = await register("A");
  const b = await register("B");
  const c = await register("C");

  // --- which optional features the server has -----------------------------------------
  // Probed with plain HTTP on a status that certainly exists (C's own), so a 404 can only
  // mean that the route is missing.
  const raw = async (user, method, path) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${user.token}` },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return response.status;
  };
  step("probe: POST /api/v1/statuses/:id/favourite and GET /api/v1/notifications");
  const probe = await c.client.v1.statuses.create({ status: `probe ${hex(4)}` });
  const favCode = await raw(c, "POST", `/api/v1/statuses/${probe.id}/favourite`);
  const notifCode = await raw(c, "GET", "/api/v1/notifications");
  await c.client.v1.statuses.$select(probe.id).remove();
  const hasFavourites = favCode === 200;
  const hasNotifications = notifCode === 200;
  step(`  favourite: HTTP ${favCode}; notifications: HTTP ${notifCode}`);
  for (const [name, code] of [["favourite", favCode], ["notifications", notifCode]]) {
    check([200, 404].includes(code), `probe ${name}: unexpected HTTP ${code} (expected 200, or 404 if not implemented)`);
  }

  // --- 1. follow ------------------------------------------------------------------------
  step(`1. v1.accounts.$select(A).follow() as ${b.label}`);
  const rel = await b.client.v1.accounts.$select(a.id).follow();
  check(rel.id === a.id, `follow: Relationship id ${json(rel.id)} != ${a.id}`);
  check(rel.following === true, `follow: Relationship following is ${json(rel.following)}, expected true`);
  check(rel.requested === false, `follow: Relationship requested is ${json(rel.requested)} for an unlocked account`);

  let rels = await b.client.v1.accounts.relationships.fetch({ id: [a.id] });
  check(rels.length === 1 && rels[0].id === a.id && rels[0].following === true,
    `relationships.fetch([A]) as B: ${json(rels)}, expected one with following=true`);
  rels = await a.client.v1.accounts.relationships.fetch({ id: [b.id, c.id] });
  const relById = Object.fromEntries(rels.map((r) => [r.id, r]));
  check(relById[b.id] && relById[c.id], `relationships.fetch([B, C]) as A returned ids ${json(idsOf(rels))}`);
  check(relById[b.id].followedBy === true, `A's relationship to B: followedBy is ${json(relById[b.id].followedBy)}`);
  check(relById[b.id].following === false, `A's relationship to B: following is ${json(relById[b.id].following)}`);
  check(relById[c.id].followedBy === false, `A's relationship to C: followedBy is ${json(relById[c.id].followedBy)}`);

  const followers = await a.client.v1.accounts.$select(a.id).followers.list();
  check(idsOf(followers).includes(b.id), `followers of A ${json(idsOf(followers))} lack B ${b.id}`);
  check((await a.client.v1.accounts.$select(a.id).fetch()).followersCount === 1, "A's followersCount is not 1");
  check((await b.client.v1.accounts.$select(b.id).fetch()).followingCount === 1, "B's followingCount is not 1");

  // --- 2. A posts -------------------------------------------------------------------------
  const tag = `starlingtest${hex(4)}`;
  step(`2. v1.statuses.create as A: public with #${tag}, public, private with #${tag}`);
  const taggedText = `Hello from masto.js #${tag}`;
  const tagged = await a.client.v1.statuses.create({ status: taggedText });
  check(tagged.visibility === "public", `tagged status visibility ${json(tagged.visibility)}`);
  check(tagged.tags.map((t) => t.name).includes(tag), `tagged status tags ${json(tagged.tags)} lack ${tag}`);
  check(tagged.content.includes(tag), `tagged status content ${json(tagged.content)} lacks the tag`);
  check(tagged.account.id === a.id, "tagged status account is not A");

  const plain = await a.client.v1.statuses.create({ status: `A plain public status ${hex(3)}` });
  const priv = await a.client.v1.statuses.create({ status: `Followers only #${tag}`, visibility: "private" });
  check(priv.visibility === "private", `private status visibility ${json(priv.visibility)}`);
  step(`  tagged=${tagged.id} plain=${plain.id} private=${priv.id}`);

  step("  B (follower) reads the private status, C (stranger) gets 404");
  check((await b.client.v1.statuses.$select(priv.id).fetch()).id === priv.id, "B could not read A's private status");
  await expectHttpError("C reading A's private status", () => c.client.v1.statuses.$select(priv.id).fetch(), [404]);

  // --- 3. reply ---------------------------------------------------------------------------
  step("3. v1.statuses.create as B with inReplyToId = A's public status");
  const reply = await b.client.v1.statuses.create({ status: `@${a.acct} Nice one!`, inReplyToId: tagged.id });
  check(reply.inReplyToId === tagged.id, `reply inReplyToId ${json(reply.inReplyToId)} != ${tagged.id}`);
  check(reply.inReplyToAccountId === a.id, `reply inReplyToAccountId ${json(reply.inReplyToAccountId)} != ${a.id}`);
  check(idsOf(reply.mentions).includes(a.id), `reply mentions ${json(idsOf(reply.mentions))} lack A ${a.id}`);

  // --- 4. reblog --------------------------------------------------------------------------
  step("4. $select(A's status).reblog() as B");
  const reblog = await b.client.v1.statuses.$select(tagged.id).reblog();
  check(reblog.reblog != null, `reblog answer has reblog=null: ${json(reblog)}`);
  check(reblog.reblog.id === tagged.id, `reblog.reblog.id ${json(reblog.reblog.id)} != ${tagged.id}`);
  check(reblog.id !== tagged.id, "the reblog wrapper has the original's id");
  check(reblog.account.id === b.id, "the reblog wrapper's account is not B");
  check(reblog.reblog.reblogged === true, `reblog.reblog.reblogged is ${json(reblog.reblog.reblogged)}`);
  const seenByB = await b.client.v1.statuses.$select(tagged.id).fetch();
  check(seenByB.reblogged === true, `fetch as B after reblog: reblogged is ${json(seenByB.reblogged)}`);
  check(seenByB.reblogsCount === 1, `reblogsCount after reblog is ${json(seenByB.reblogsCount)}`);
  check((await a.client.v1.statuses.$select(tagged.id).fetch()).reblogged === false,
    "fetch as A: reblogged is true, but A did not reblog");
  const rebloggedBy = await a.client.v1.statuses.$select(tagged.id).rebloggedBy.list();
  check(json(idsOf(rebloggedBy)) === json([b.id]), `rebloggedBy ${json(idsOf(rebloggedBy))} != [B]`);

  // --- 5. context -------------------------------------------------------------------------
  step("5. context.fetch(): reply among A's status descendants, A's status among the reply's ancestors");
  let ctx = await a.client.v1.statuses.$select(tagged.id).context.fetch();
  check(idsOf(ctx.descendants).includes(reply.id),
    `context(A's status).descendants ${json(idsOf(ctx.descendants))} lacks the reply ${reply.id}`);
  check(ctx.ancestors.length === 0, `context(A's status).ancestors is not empty: ${json(idsOf(ctx.ancestors))}`);
  ctx = await b.client.v1.statuses.$select(reply.id).context.fetch();
  check(json(idsOf(ctx.ancestors)) === json([tagged.id]), `context(reply).ancestors ${json(idsOf(ctx.ancestors))} != [${tagged.id}]`);

  // --- 6. favourites and notifications ------------------------------------------------------
  if (hasFavourites) {
    step("6. $select(A's status).favourite() as B");
    const fav = await b.client.v1.statuses.$select(tagged.id).favourite();
    check(fav.id === tagged.id, `favourite returned status ${json(fav.id)}, expected ${tagged.id}`);
    check(fav.favourited === true, `favourite: favourited is ${json(fav.favourited)}`);
    check(fav.favouritesCount === 1, `favourite: favouritesCount is ${json(fav.favouritesCount)}`);
    const favs = await b.client.v1.favourites.list();
    check(idsOf(favs).includes(tagged.id), `favourites.list() ${json(idsOf(favs))} lacks ${tagged.id}`);
    check((await a.client.v1.statuses.$select(tagged.id).fetch()).favourited === false,
      "fetch as A: favourited is true, but A did not favourite");
  } else {
    step(`6. SKIP (server has no POST /api/v1/statuses/:id/favourite: HTTP ${favCode}): favourite, unfavourite, favourites.list()`);
  }

  if (hasNotifications) {
    const wanted = ["follow", "mention", "reblog", ...(hasFavourites ? ["favourite"] : [])];
    step(`   v1.notifications.list() as A: ${wanted.join(", ")} from B`);
    const kindOf = (n) => {
      if (n.account?.id !== b.id) return null;
      if (n.type === "follow" && n.status == null) return "follow";
      if (n.type === "mention" && n.status?.id === reply.id) return "mention";
      if ((n.type === "reblog" || n.type === "favourite") && n.status?.id === tagged.id) return n.type;
      return null;
    };
    let notes = [];
    try {
      await poll("A's notifications", async () => {
        notes = await a.client.v1.notifications.list();
        const kinds = new Set(notes.map(kindOf));
        return wanted.every((k) => kinds.has(k));
      }, NOTIFICATION_WAIT_MS);
    } catch (error) {
      if (!(error instanceof CheckFailed)) throw error;
      throw new CheckFailed(
        `A's notifications lack some of ${json(wanted)}: got ${json(notes.map((n) => [n.type, n.account?.id, n.status?.id ?? null]))}`,
      );
    }
    check(new Set(idsOf(notes)).size === notes.length, "notifications.list() has duplicate ids");
    const mentions = await a.client.v1.notifications.list({ types: ["mention"] });
    check(mentions.length > 0 && mentions.every((n) => n.type === "mention"),
      `notifications.list({types: ["mention"]}) returned ${json(mentions.map((n) => n.type))}`);
    check(mentions.some((n) => n.status?.id === reply.id), `notifications.list({types: ["mention"]}) lacks the reply`);
    const fromA = (await b.client.v1.notifications.list()).filter((n) => n.account?.id === a.id);
    check(fromA.length === 0, `B has notifications from A, who did nothing to B: ${json(fromA.map((n) => n.type))}`);
    step(`   v2.notifications.list() as A: a group for each of ${wanted.join(", ")}, each group once`);
    const grouped = await a.client.v2.notifications.list();
    const notificationGroups = grouped.notificationGroups ?? [];
    const summary = json(notificationGroups.map((g) => [g.type, g.groupKey, g.sampleAccountIds]));
    for (const kind of wanted) {
      const group = notificationGroups.find((g) => g.type === kind && (g.sampleAccountIds ?? []).includes(b.id));
      check(group != null, `v2.notifications.list() has no ${kind} group with B: ${summary}`);
      check(group.notificationsCount >= 1, `v2.notifications.list(): the ${kind} group counts ${json(group.notificationsCount)}`);
    }
    const mentionGroup = notificationGroups.find((g) => g.type === "mention" && g.statusId === reply.id);
    check(mentionGroup?.groupKey?.startsWith("ungrouped-"), `v2.notifications.list(): the reply's mention is not ungrouped: ${summary}`);
    check(new Set(notificationGroups.map((g) => g.groupKey)).size === notificationGroups.length,
      `v2.notifications.list() repeats a group: ${summary}`);
    check((grouped.accounts ?? []).some((acc) => acc.id === b.id), "v2.notifications.list(): accounts lack B");
    check((grouped.statuses ?? []).some((st) => st.id === reply.id), "v2.notifications.list(): statuses lack the reply");
  } else {
    step(`   SKIP (server has no GET /api/v1/notifications: HTTP ${notifCode}): follow, mention, reblog and favourite notifications`);
  }

  if (hasFavourites) {
    step("   $select(A's status).unfavourite() as B");
    const unfav = await b.client.v1.statuses.$select(tagged.id).unfavourite();
    check(unfav.favourited === false, `unfavourite: favourited is ${json(unfav.favourited)}`);
    check(unfav.favouritesCount === 0, `unfavourite: favouritesCount is ${json(unfav.favouritesCount)}`);
    check(!idsOf(await b.client.v1.favourites.list()).includes(tagged.id), "favourites.list() still lists the unfavourited status");
  }

  // --- 7. unreblog --------------------------------------------------------------------------
  step("7. $select(A's status).unreblog() as B");
  const unreblogged = await b.client.v1.statuses.$select(tagged.id).unreblog();
  check(unreblogged.id === tagged.id, `unreblog returned ${json(unreblogged.id)}, expected ${tagged.id}`);
  check(unreblogged.reblogged === false, `unreblog: reblogged is ${json(unreblogged.reblogged)}`);
  const after = await b.client.v1.statuses.$select(tagged.id).fetch();
  check(after.reblogged === false && after.reblogsCount === 0,
    `after unreblog: reblogged=${json(after.reblogged)} reblogsCount=${json(after.reblogsCount)}`);
  await expectHttpError("fetching the undone reblog wrapper", () => b.client.v1.statuses.$select(reblog.id).fetch(), [404]);

  // --- 8. home timeline paging --------------------------------------------------------------
  step(`8. A posts ${PAGING_POSTS} more statuses; B iterates the home timeline with limit=${PAGE_LIMIT}`);
  const paging = [];
  for (let i = 0; i < PAGING_POSTS; i++) {
    paging.push(await a.client.v1.statuses.create({ status: `Paging post ${i + 1} of ${PAGING_POSTS} ${hex(3)}` }));
  }
  const newest = paging.at(-1).id;
  const started = Date.now();
  await poll(`A's newest status ${newest} at the top of B's home timeline`, async () => {
    const top = await b.client.v1.timelines.home.list({ limit: 1 });
    return top.length > 0 && top[0].id === newest;
  }, FANOUT_WAIT_MS);
  step(`  fan-out reached B's home after ${((Date.now() - started) / 1000).toFixed(2)} s`);

  const entries = [];
  let pages = 0;
  for await (const page of b.client.v1.timelines.home.list({ limit: PAGE_LIMIT })) {
    pages += 1;
    check(pages <= MAX_PAGES, `more than ${MAX_PAGES} pages of ${PAGE_LIMIT}: the Link header does not advance`);
    check(page.length <= PAGE_LIMIT, `page ${pages} has ${page.length} statuses, limit was ${PAGE_LIMIT}`);
    entries.push(...page);
  }
  step(`  ${entries.length} statuses on ${pages} pages`);
  const homeIds = idsOf(entries);
  const dupes = [...new Set(homeIds.filter((id, i) => homeIds.indexOf(id) !== i))];
  check(dupes.length === 0, `home timeline has duplicates: ${json(dupes)}`);
  const byIdDesc = (x, y) => (BigInt(y) > BigInt(x) ? 1 : BigInt(y) < BigInt(x) ? -1 : 0);
  check(json(homeIds) === json([...homeIds].sort(byIdDesc)), `home timeline is not newest first: ${json(homeIds)}`);
  const aPosts = [tagged, plain, priv, ...paging].map((s) => s.id);
  const expected = [...aPosts].sort(byIdDesc);
  const aInHome = entries.filter((s) => s.account.id === a.id && s.reblog == null).map((s) => s.id);
  check(json(aInHome) === json(expected), `A's statuses in B's home timeline ${json(aInHome)} != ${json(expected)} (each once, newest first)`);
  check(homeIds.includes(reply.id), `B's own reply ${reply.id} is not in B's home timeline`);
  check(!homeIds.includes(reblog.id), "the undone reblog is still in B's home timeline");

  const cHome = idsOf(await c.client.v1.timelines.home.list({ limit: 40 }));
  check(!cHome.some((id) => aPosts.includes(id)), `C's home timeline has A's statuses although C follows nobody: ${json(cHome)}`);

  // --- 9. hashtag and public timelines ----------------------------------------------------------
  step(`9. v1.timelines.tag.$select(${json(tag)}).list() and v1.timelines.public.list()`);
  const tagIds = idsOf(await b.client.v1.timelines.tag.$select(tag).list());
  check(tagIds.includes(tagged.id), `hashtag timeline ${json(tagIds)} lacks the public tagged status ${tagged.id}`);
  check(!tagIds.includes(priv.id), `hashtag timeline ${json(tagIds)} lists the private status ${priv.id}`);

  // The public timeline is shared with every other test: iterate it (limit 40) down to A's
  // oldest status.
  const publicIds = [];
  for await (const page of b.client.v1.timelines.public.list({ limit: 40 })) {
    publicIds.push(...idsOf(page));
    if (publicIds.includes(tagged.id) || (publicIds.length > 0 && BigInt(publicIds.at(-1)) < BigInt(tagged.id))) break;
  }
  // B's reply is public too, but like Mastodon the public timeline leaves out replies to
  // other people, so it is not expected there.
  for (const status of [tagged, plain, paging[0], paging.at(-1)]) {
    check(publicIds.includes(status.id), `public timeline lacks public status ${status.id}`);
  }
  check(!publicIds.includes(priv.id), `public timeline lists the private status ${priv.id}`);

  // --- 10. delete -------------------------------------------------------------------------------
  step(`10. $select(${tagged.id}).remove() as A`);
  const deleted = await a.client.v1.statuses.$select(tagged.id).remove();
  check(deleted.id === tagged.id, `remove returned ${json(deleted.id)}, expected ${tagged.id}`);
  check(deleted.text === taggedText, `remove: text ${json(deleted.text)} != ${json(taggedText)} (delete and redraft)`);
  await expectHttpError("fetching the deleted status as A", () => a.client.v1.statuses.$select(tagged.id).fetch(), [404]);
  await expectHttpError("fetching the deleted status as B", () => b.client.v1.statuses.$select(tagged.id).fetch(), [404]);
  check(!idsOf(await b.client.v1.timelines.tag.$select(tag).list()).includes(tagged.id),
    "the hashtag timeline still lists the deleted status");
  check((await b.client.v1.statuses.$select(reply.id).fetch()).id === reply.id, "B's reply to the deleted status is gone too");

  step("OK");
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  if (!(error instanceof CheckFailed)) console.error(error);
  let detail = "";
  if (error instanceof MastoHttpError) {
    detail = ` (HTTP ${error.statusCode}${error.description ? `, ${error.description}` : ""}${error.details ? `, details ${JSON.stringify(error.details)}` : ""})`;
  }
  console.error(`[masto.js] FAILED: ${error?.name ?? "Error"}: ${error?.message}${detail}`);
  process.exitCode = 1;
}
