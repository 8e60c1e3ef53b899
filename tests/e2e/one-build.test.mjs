// One build, configured at run time: the wasm `npm test` built once serves
// every capability when its settings come only from an env file
// (`wrangler dev --env-file`) or `--var`, as an operator sets them (the
// dashboard is the same runtime variables). Nothing is rebuilt between the
// Workers: they all run build/index_bg.wasm, the same bytes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startProvider } from './provider.mjs';
import {
  sharedWorker, startWorker, admin, authorizeQuery, login, token, formOf, unescapeHtml, ROOT, REDIRECTS, USERNAME, link, refresh,
} from './harness.mjs';

const WASM = join(ROOT, 'build/index_bg.wasm');
const digest = () => createHash('sha256').update(readFileSync(WASM)).digest('hex');
const ADMIN_TOKEN = randomBytes(32).toString('base64url');
const KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });

let idp;
let plain;
let configured;
let built;
before(async () => {
  built = digest();
  idp = await startProvider();
  const everything = {
    GRANT_STORE: 'DO',
    ADMIN_TOKEN,
    ACCESS_TOKEN_ALG: 'ES256',
    ES256_PRIVATE_KEY: KEY,
    ACCOUNT_PAGES: 'on',
    SIGN_IN_PROVIDERS: 'idp',
    IDP_ISSUER: idp.base,
    IDP_CLIENT_ID: idp.clientId,
    IDP_CLIENT_SECRET: idp.clientSecret,
  };
  // `durable` only uncomments the binding (a binding is not a variable);
  // GRANT_STORE itself comes from the env file.
  [plain, configured] = await Promise.all([sharedWorker(), startWorker({ durable: true, envFile: everything })]);
  admin(configured.state, ['user', 'update', '--username', USERNAME, '--add-identity', `idp:${idp.subject}`]);
});
after(async () => { plain?.stop(); configured?.stop(); await idp?.stop(); });

/** The login page's provider button, the stand-in (which approves at once), our callback, then /token. */
async function linkThroughProvider(base) {
  const page = await fetch(`${base}/authorize?${authorizeQuery()}`);
  const html = await page.text();
  const csrf = page.headers.get('set-cookie').split(';')[0];
  const form = new URLSearchParams();
  for (const m of formOf(html, '/signin/idp').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.append(m[1], unescapeHtml(m[2]));
  const start = await fetch(`${base}/signin/idp`, {
    method: 'POST', redirect: 'manual', body: form.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrf },
  });
  assert.equal(start.status, 303, await start.text());
  assert.ok(start.headers.get('location').startsWith(`${idp.base}/`));
  const cookie = `${csrf}; ${start.headers.get('set-cookie').split(';')[0]}`;
  const atIdp = await fetch(start.headers.get('location'), { redirect: 'manual' });
  const back = await fetch(atIdp.headers.get('location'), { redirect: 'manual', headers: { cookie } });
  assert.equal(back.status, 302, await back.text());
  const code = new URL(back.headers.get('location')).searchParams.get('code');
  return token(base, { grant_type: 'authorization_code', code, redirect_uri: REDIRECTS[0] });
}

const adminGrants = (base) => fetch(`${base}/admin/grants`, {
  method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{"get": []}',
});

test('with nothing set, the build is the plain KV server: HS256, no pages, no provider, no admin route', async () => {
  const t = await link(plain.base);
  const header = JSON.parse(Buffer.from(t.access_token.split('.')[0], 'base64url'));
  assert.equal(header.alg, 'HS256');
  assert.deepEqual(await (await fetch(`${plain.base}/.well-known/jwks.json`)).json(), { keys: [] });
  assert.equal((await fetch(`${plain.base}/account`)).status, 404);
  assert.equal((await fetch(`${plain.base}/signin/idp?${authorizeQuery()}`, { redirect: 'manual' })).status, 404);
  assert.equal((await adminGrants(plain.base)).status, 404);
});

test('the same wasm, set only by an env file: ES256, the account pages, a provider and Durable Object mode', async () => {
  // ES256: a skill checks the token offline against the served key set.
  const t = await link(configured.base);
  const { protectedHeader } = await jwtVerify(t.access_token,
    createRemoteJWKSet(new URL(`${configured.base}/.well-known/jwks.json`)), { issuer: configured.base });
  assert.equal(protectedHeader.alg, 'ES256');
  // The account pages.
  const account = await fetch(`${configured.base}/account`);
  assert.equal(account.status, 200);
  assert.match(await account.text(), /name="password"/);
  // The provider: its button, then a whole link through it.
  const viaIdp = await linkThroughProvider(configured.base);
  assert.equal(viaIdp.status, 200, JSON.stringify(viaIdp.json));
  // Durable Object mode: the grant is in its object, which only this route reads.
  const gid = t.refresh_token.split('.')[0];
  const grants = await fetch(`${configured.base}/admin/grants`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ get: [gid] }),
  });
  assert.equal(grants.status, 200);
  assert.equal((await grants.json()).grants.length, 1, 'the grant, from its object');
  // And a refresh on it, as Alexa makes one.
  const r = await refresh(configured.base, t.refresh_token);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(digest(), built, 'nothing rebuilt the wasm');
});

test('ES256 without its key fails closed at /token with the reason in the log', async () => {
  const w = await startWorker({ vars: { ACCESS_TOKEN_ALG: 'ES256' } });
  try {
    const r = await login(w.base, authorizeQuery());
    const code = new URL(r.headers.get('location')).searchParams.get('code');
    const t = await token(w.base, { grant_type: 'authorization_code', code, redirect_uri: REDIRECTS[0] });
    assert.equal(t.status, 500);
    assert.equal(t.json.error, 'server_error');
    // The runtime's output reaches us a moment after the answer.
    const said = /"config":"ACCESS_TOKEN_ALG is ES256 but ES256_PRIVATE_KEY is not set/;
    for (let i = 0; i < 100 && !said.test(w.logs()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(w.logs(), said);
  } finally {
    w.stop();
  }
});
