// The user stream over WebSocket, through the real masto.js streaming client.
//
// Usage: STARLING_URL=http://127.0.0.1:8080 node streaming_flow.mjs   (Node >= 22, see auth_flow.mjs)
//
// Scenario, with two fresh users (A the author, B a follower of A):
//   1. B follows A.
//   2. The streaming URL is the one the instance reports (v2.instance.fetch():
//      configuration.urls.streaming), as real apps do; if it reports none, ws:// (wss://)
//      of STARLING_URL.
//   3. createStreamingAPIClient({ streamingApiUrl, accessToken }) with B's token: masto
//      opens `new WebSocket(<streaming>/api/v1/streaming, [token])` with Node's global
//      WebSocket, so the token travels in Sec-WebSocket-Protocol and the server must echo
//      it. B subscribes to `user` (masto sends {"type":"subscribe","stream":"user"} and
//      keeps the frames whose `stream` includes "user") and iterates the events.
//   4. The protocol has no acknowledgement of a subscription, so A posts warm-up statuses
//      until one arrives on B's stream: from then on the subscription is known to be live.
//   5. A posts a public status      -> `update` with that status (id, account, content).
//      A posts a status mentioning B -> `notification` (type mention, account A, status
//      that status, the same id that GET /api/v1/notifications lists) and its `update`.
//      A deletes both                 -> a `delete` for each (payload: the bare id).
//      Each exactly once, all frames with stream ["user"], within EVENT_WAIT_MS each.
//   6. streaming.close(): the socket reaches CLOSED and the iteration ends.
// If the socket cannot be opened, the WebSocket handshake is repeated by hand with
// node:http, and the failure message shows what the server answered.
// Exits non-zero at the first failure.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { createRequire } from "node:module";

const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < 22) {
  console.error(
    `[masto.js] FAILED: masto 8 needs Node >= 22, this is Node ${process.versions.node}; ` +
      "run it with tests/clients/node_modules/.bin/node (see scripts/test-clients)",
  );
  process.exit(2);
}
if (typeof globalThis.WebSocket !== "function") {
  console.error(`[masto.js] FAILED: Node ${process.versions.node} has no global WebSocket, which masto's streaming client uses`);
  process.exit(2);
}

const { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient, MastoHttpError } = await import("masto");

const SCOPES = "read write follow push";
const REDIRECT_URI = "urn:ietf:wg:oauth:2.0:oob";
const CLIENT_NAME = "starling masto.js streaming test";
const TIMEOUT_MS = 30_000;
// Every wait for the stream (the socket, an event) is bounded by this.
const EVENT_WAIT_MS = 15_000;
// During the warm-up, how long to wait for one warm-up status before posting another.
const WARMUP_EACH_MS = 2_000;
// The whole script is killed after this, whatever it is waiting for.
const WATCHDOG_MS = 180_000;
// STARLING_CLIENT_DEBUG=1 makes masto log every request, response and WebSocket frame.
const LOG = ["", "0", undefined].includes(process.env.STARLING_CLIENT_DEBUG) ? "warn" : "debug";

class CheckFailed extends Error {}

const step = (message) => console.log(`[masto.js] ${message}`);
const hex = (n) => randomBytes(n).toString("hex");
const json = (value) => JSON.stringify(value);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function mastoVersion() {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve("masto/package.json"), "utf8")).version;
}

// Resolves with the promise's value, or rejects with CheckFailed after ms.
async function within(what, promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what}: not within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// The streaming URL as masto would turn it into the socket URL: new URL("/api/v1/streaming", base).
function socketUrl(streamingApiUrl) {
  return new URL("/api/v1/streaming", streamingApiUrl).href;
}

// Repeats masto's WebSocket handshake by hand (GET with Upgrade: websocket and the token as
// Sec-WebSocket-Protocol) and describes what the server answered: for a failure message.
function probeHandshake(streamingApiUrl, token) {
  return new Promise((resolve) => {
    const url = new URL("/api/v1/streaming", streamingApiUrl);
    const secure = url.protocol === "wss:" || url.protocol === "https:";
    const request = (secure ? https : http).request({
      host: url.hostname,
      port: url.port || (secure ? 443 : 80),
      path: url.pathname + url.search,
      method: "GET",
      timeout: 5_000,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        "Sec-WebSocket-Protocol": token,
      },
    });
    request.on("upgrade", (response, socket) => {
      const echoed = response.headers["sec-websocket-protocol"];
      socket.destroy();
      resolve(
        `HTTP ${response.statusCode} (upgrade), Sec-WebSocket-Protocol ` +
          (echoed === undefined ? "missing" : echoed === token ? "echoes the token" : json(echoed)),
      );
    });
    request.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => {
        if (body.length < 300) body += chunk;
      });
      response.on("end", () =>
        resolve(`HTTP ${response.statusCode} (no upgrade), Content-Type ${json(response.headers["content-type"])}, body ${json(body.slice(0, 300))}`),
      );
    });
    request.on("timeout", () => {
      request.destroy();
      resolve("no answer within 5 s");
    });
    request.on("error", (error) => resolve(`${error.name}: ${error.message}`));
    request.end();
  });
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

  // --- 1. follow ------------------------------------------------------------------------
  step("1. v1.accounts.$select(A).follow() as B");
  const rel = await b.client.v1.accounts.$select(a.id).follow();
  check(rel.following === true, `follow: Relationship following is ${json(rel.following)}, expected true`);

  // --- 2. streaming URL -------------------------------------------------------------------
  const instance = await b.client.v2.instance.fetch();
  const reported = instance.configuration?.urls?.streaming;
  const fallback = baseUrl.replace(/^http/, "ws");
  const streamingApiUrl = reported || fallback;
  step(
    `2. v2 instance configuration.urls.streaming = ${json(reported)}; ` +
      (reported ? "using it" : `using ${fallback} (derived from STARLING_URL)`),
  );
  check(/^wss?:\/\//.test(streamingApiUrl), `streaming URL ${json(streamingApiUrl)} is not ws:// or wss://`);

  // --- 3. connect and subscribe --------------------------------------------------------------
  step(`3. createStreamingAPIClient: new WebSocket(${json(socketUrl(streamingApiUrl))}, [B's token]); user.subscribe()`);
  const streaming = createStreamingAPIClient({ streamingApiUrl, accessToken: b.token, log: LOG });
  const events = [];
  const closes = []; // close events of sockets masto opened, as { code, reason, expected }
  let closing = false;
  let streamError = null;
  let iterationEnded = false;
  let socket = null;

  const fail = async (message) => {
    const detail = [];
    if (streamError) detail.push(`the event iteration threw ${streamError.name}: ${streamError.message}`);
    if (closes.length) detail.push(`socket closes: ${json(closes)}`);
    detail.push(`events so far: ${json(events.map((e) => [e.event, e.event === "delete" ? e.payload : e.payload?.id, e.stream]))}`);
    return new CheckFailed(`${message}; ${detail.join("; ")}`);
  };

  // Waits until pred(events) is truthy; fails on timeout, or at once if the iteration died.
  const waitForEvent = async (what, pred) => {
    const deadline = Date.now() + EVENT_WAIT_MS;
    for (;;) {
      const found = pred(events);
      if (found) return found;
      if (streamError || iterationEnded) throw await fail(`${what}: the subscription's iteration ended`);
      if (closes.some((c) => !c.expected)) throw await fail(`${what}: the server closed the socket`);
      if (Date.now() >= deadline) throw await fail(`${what}: not within ${EVENT_WAIT_MS / 1000} s`);
      await sleep(25);
    }
  };

  const subscription = streaming.user.subscribe();
  // Iterating runs masto's subscription: it waits for the socket, sends the subscribe
  // message and yields every frame for the `user` stream.
  const pump = (async () => {
    try {
      for await (const event of subscription) events.push({ ...event, at: Date.now() });
    } catch (error) {
      if (!closing) streamError = error;
    } finally {
      iterationEnded = true;
    }
  })();

  try {
    // prepare() resolves with the socket once it is open (masto retries a failed
    // handshake forever, with backoff, so this wait is what bounds it).
    try {
      socket = await within("opening the WebSocket", streaming.prepare(), EVENT_WAIT_MS);
    } catch (error) {
      if (!(error instanceof CheckFailed)) throw error;
      const answer = await probeHandshake(streamingApiUrl, b.token);
      throw new CheckFailed(`${error.message}; the same handshake made by hand got: ${answer}`);
    }
    socket.addEventListener("close", (e) => closes.push({ code: e.code, reason: e.reason, expected: closing }));
    step(`  open: readyState ${socket.readyState}, protocol ${socket.protocol === b.token ? "= the token (echoed)" : json(socket.protocol)}`);
    check(socket.protocol === b.token,
      `the server accepted the socket with Sec-WebSocket-Protocol ${json(socket.protocol)}, not the token masto offered`);

    // --- 4. warm-up -------------------------------------------------------------------------
    // The subscribe message was sent when the socket opened, but the server does not
    // acknowledge it: post until a status shows up, then the subscription is live.
    step("4. warm-up: A posts until one status arrives on B's user stream");
    const warmupStarted = Date.now();
    let warm = null;
    const warmups = [];
    while (!warm) {
      if (Date.now() - warmupStarted > EVENT_WAIT_MS) {
        throw await fail(`warm-up: none of A's statuses ${json(warmups)} arrived as an update on B's user stream within ${EVENT_WAIT_MS / 1000} s`);
      }
      const s = await a.client.v1.statuses.create({ status: `warm-up ${warmups.length + 1} ${hex(3)}` });
      warmups.push(s.id);
      const until = Date.now() + WARMUP_EACH_MS;
      while (!warm && Date.now() < until) {
        if (streamError || iterationEnded) throw await fail("warm-up: the subscription's iteration ended");
        warm = events.find((e) => e.event === "update" && warmups.includes(e.payload?.id));
        if (!warm) await sleep(25);
      }
    }
    step(`  live after ${warmups.length} warm-up status(es), ${((Date.now() - warmupStarted) / 1000).toFixed(2)} s`);

    // --- 5. post, mention, delete -------------------------------------------------------------
    const text = `Streaming hello from masto.js ${hex(4)}`;
    step("5. A posts a public status -> update");
    let started = Date.now();
    const post = await a.client.v1.statuses.create({ status: text });
    const update = await waitForEvent(`update for A's status ${post.id}`,
      (evs) => evs.find((e) => e.event === "update" && e.payload?.id === post.id));
    step(`  update(${post.id}) after ${((update.at - started) / 1000).toFixed(2)} s`);
    check(update.payload.account?.id === a.id, `update: account id ${json(update.payload.account?.id)} != A ${a.id}`);
    check(update.payload.content?.includes(text), `update: content ${json(update.payload.content)} lacks ${json(text)}`);

    step(`   A posts a status mentioning @${b.acct} -> notification (mention) and update`);
    started = Date.now();
    const mention = await a.client.v1.statuses.create({ status: `@${b.acct} are you there? ${hex(3)}` });
    check(mention.mentions.some((m) => m.id === b.id), `A's mention status mentions ${json(mention.mentions.map((m) => m.id))}, not B ${b.id}`);
    const note = await waitForEvent(`notification for A's mention ${mention.id}`,
      (evs) => evs.find((e) => e.event === "notification" && e.payload?.status?.id === mention.id));
    step(`  notification(${note.payload.id}, ${note.payload.type}) after ${((note.at - started) / 1000).toFixed(2)} s`);
    check(note.payload.type === "mention", `notification type ${json(note.payload.type)}, expected mention`);
    check(note.payload.account?.id === a.id, `notification account ${json(note.payload.account?.id)} != A ${a.id}`);
    const restNotes = await b.client.v1.notifications.list({ types: ["mention"] });
    check(restNotes.some((n) => n.id === note.payload.id && n.status?.id === mention.id),
      `the streamed notification ${note.payload.id} is not among B's mention notifications from REST: ` +
        json(restNotes.map((n) => [n.id, n.type, n.status?.id])));
    await waitForEvent(`update for A's mention ${mention.id}`,
      (evs) => evs.find((e) => e.event === "update" && e.payload?.id === mention.id));

    step(`   A deletes ${post.id} and ${mention.id} -> delete, delete`);
    started = Date.now();
    await a.client.v1.statuses.$select(post.id).remove();
    await a.client.v1.statuses.$select(mention.id).remove();
    for (const id of [post.id, mention.id]) {
      const del = await waitForEvent(`delete for ${id}`, (evs) => evs.find((e) => e.event === "delete" && e.payload === id));
      step(`  delete(${id}) after ${((del.at - started) / 1000).toFixed(2)} s`);
    }

    // A short pause so that a duplicate sent right behind would be seen too.
    await sleep(500);
    const count = (name, id) =>
      events.filter((e) => e.event === name && (name === "delete" ? e.payload === id : e.payload?.id === id)).length;
    for (const [name, id] of [["update", post.id], ["update", mention.id], ["delete", post.id], ["delete", mention.id]]) {
      check(count(name, id) === 1, `${name} for ${id} arrived ${count(name, id)} times`);
    }
    const notes = events.filter((e) => e.event === "notification" && e.payload?.status?.id === mention.id);
    check(notes.length === 1, `the mention notification arrived ${notes.length} times`);
    const foreign = events.filter((e) => json(e.stream) !== json(["user"]));
    check(foreign.length === 0, `frames with a stream other than ["user"]: ${json(foreign.map((e) => [e.event, e.stream]))}`);
    check(!closes.some((c) => !c.expected), `the server closed the socket: ${json(closes)}`);
    step(`  ${events.length} events: ${json(events.map((e) => e.event))}`);
  } finally {
    // --- 6. close -------------------------------------------------------------------------------
    step("6. streaming.close()");
    closing = true;
    streaming.close();
  }

  await within("the socket reaching CLOSED after close()", (async () => {
    while (socket.readyState !== WebSocket.CLOSED) await sleep(25);
  })(), 5_000);
  await within("the subscription's iteration ending after close()", pump, 5_000);
  step(`  closed (${json(closes.at(-1) ?? null)})`);

  step("OK");
  return 0;
}

const watchdog = setTimeout(() => {
  console.error(`[masto.js] FAILED: still running after ${WATCHDOG_MS / 1000} s (watchdog)`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

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
// A failure can leave masto's connector retrying a socket; do not wait for it.
if (process.exitCode) process.exit(process.exitCode);
