// End to end: the real Worker under `wrangler dev`, driven over HTTP the way
// the Alexa app and Alexa's token client drive it. Every answer is checked for
// its exact status and error code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  authorizeQuery, login, token, verifyJwt, admin, REDIRECTS, VENDOR, CLIENT_ID, MACHINE_ID, SECRET, refresh,
  sharedWorker,
} from './harness.mjs';

let worker;
before(async () => { worker = await sharedWorker(); });
after(() => worker?.stop());

/** A whole login; returns the code from the redirect. */
async function code(redirect, extra = {}) {
  const state = 'st ate/+&1';
  const r = await login(worker.base, authorizeQuery({ redirect, state, extra }));
  assert.equal(r.status, 303, await r.text());
  const loc = new URL(r.headers.get('location'));
  assert.equal(`${loc.origin}${loc.pathname}`, redirect);
  assert.equal(loc.searchParams.get('state'), state, 'state comes back unchanged');
  const c = loc.searchParams.get('code');
  assert.match(c, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/, 'a code names its grant and carries 256 random bits');
  return c;
}

function expectError(res, status, error) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json.error, error, JSON.stringify(res.json));
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

for (const [i, redirect] of REDIRECTS.entries()) {
  const auth = i % 2 === 0 ? 'body' : 'basic';
  test(`link through ${new URL(redirect).host} with ${auth} credentials`, async () => {
    const c = await code(redirect);
    const res = await token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: redirect }, { auth });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('pragma'), 'no-cache');
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.equal(res.json.token_type, 'Bearer');
    assert.equal(res.json.expires_in, 3600);
    assert.ok(Number.isInteger(res.json.expires_in));
    assert.equal(res.json.scope, 'smart_home');
    assert.ok(res.json.refresh_token);
    assert.ok(res.json.access_token.length < 1024);
    const { header, claims } = verifyJwt(res.json.access_token);
    assert.equal(header.alg, 'HS256');
    assert.ok(header.kid);
    assert.equal(claims.client_id, CLIENT_ID);
    assert.equal(claims.scope, 'smart_home');
    assert.equal(claims.exp - claims.iat, 3600);
    assert.equal(claims.iss, worker.base);
    assert.notEqual(claims.sub, 'alice', 'sub is a stable id, not the username');
    assert.ok(claims.jti);
  });
}

test('PKCE S256: the right verifier links, a wrong or missing one does not', async () => {
  const verifier = randomBytes(48).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const extra = { code_challenge: challenge, code_challenge_method: 'S256' };
  const redirect = REDIRECTS[1];

  let c = await code(redirect, extra);
  expectError(await token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: redirect, code_verifier: verifier + 'x' }), 400, 'invalid_grant');
  c = await code(redirect, extra);
  expectError(await token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: redirect }), 400, 'invalid_grant');
  c = await code(redirect, extra);
  const ok = await token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: redirect, code_verifier: verifier }, { auth: 'basic' });
  assert.equal(ok.status, 200, JSON.stringify(ok.json));

  // plain is refused at /authorize, back at the client with the state.
  const r = await fetch(`${worker.base}/authorize?${authorizeQuery({ redirect, extra: { code_challenge: challenge, code_challenge_method: 'plain' } })}`, { redirect: 'manual' });
  assert.equal(r.status, 302);
  const loc = new URL(r.headers.get('location'));
  assert.equal(loc.searchParams.get('error'), 'invalid_request');
  assert.equal(loc.searchParams.get('state'), 'st ate/+&1');
});

test('refresh keeps the refresh token (rotation never, the default), and a retry works', async () => {
  const redirect = REDIRECTS[0];
  const linked = await token(worker.base, { grant_type: 'authorization_code', code: await code(redirect), redirect_uri: redirect });
  const rt1 = linked.json.refresh_token;
  const r2 = await refresh(worker.base, rt1, { auth: 'basic' });
  assert.equal(r2.status, 200, JSON.stringify(r2.json));
  assert.equal(r2.json.expires_in, 3600);
  assert.equal(r2.json.refresh_token, rt1);
  assert.notEqual(r2.json.access_token, linked.json.access_token);
  assert.equal(verifyJwt(r2.json.access_token).claims.sub, verifyJwt(linked.json.access_token).claims.sub);
  // The answer to that refresh was lost: Alexa retries with the same token.
  const r3 = await refresh(worker.base, rt1);
  assert.equal(r3.status, 200, JSON.stringify(r3.json));
  assert.equal(r3.json.refresh_token, rt1);
  // Narrowing the scope on refresh is allowed; widening it is not.
  const narrow = await token(worker.base, { grant_type: 'refresh_token', refresh_token: rt1, scope: 'smart_home' });
  assert.equal(narrow.status, 200, JSON.stringify(narrow.json));
  expectError(await token(worker.base, { grant_type: 'refresh_token', refresh_token: rt1, scope: 'smart_home admin' }), 400, 'invalid_scope');
  // A refresh token of this client is refused for another client.
  expectError(await refresh(worker.base, rt1, { id: MACHINE_ID }), 400, 'invalid_grant');
  // And still works for its own.
  assert.equal((await refresh(worker.base, rt1)).status, 200);
});

test('client_credentials for a client allowed that grant, with no refresh token', async () => {
  const res = await token(worker.base, { grant_type: 'client_credentials', scope: 'metrics' }, { id: MACHINE_ID });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.equal(res.json.token_type, 'Bearer');
  assert.equal(res.json.expires_in, 3600);
  assert.equal(res.json.scope, 'metrics');
  assert.equal(res.json.refresh_token, undefined);
  assert.equal(verifyJwt(res.json.access_token).claims.sub, MACHINE_ID);
  expectError(await token(worker.base, { grant_type: 'client_credentials' }), 400, 'unauthorized_client');
  expectError(await token(worker.base, { grant_type: 'authorization_code', code: 'x' }, { id: MACHINE_ID }), 400, 'unauthorized_client');
  expectError(await token(worker.base, { grant_type: 'client_credentials', scope: 'smart_home' }, { id: MACHINE_ID }), 400, 'invalid_scope');
});

test('a replayed code fails and revokes the refresh token issued from it', async () => {
  const redirect = REDIRECTS[2];
  const c = await code(redirect);
  const first = await token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: redirect });
  assert.equal(first.status, 200);
  expectError(await token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: redirect }), 400, 'invalid_grant');
  expectError(await refresh(worker.base, first.json.refresh_token), 400, 'invalid_grant');
});

test('wrong or missing client credentials are invalid_client with 401 and WWW-Authenticate', async () => {
  const params = { grant_type: 'refresh_token', refresh_token: 'x.y' };
  for (const opts of [
    { auth: 'basic', secret: 'wrong' }, { auth: 'body', secret: 'wrong' },
    { auth: 'basic', id: 'nobody' }, { auth: 'none' },
  ]) {
    const res = await token(worker.base, params, opts);
    expectError(res, 401, 'invalid_client');
    assert.match(res.headers.get('www-authenticate'), /^Basic /);
  }
  // A secret both in the header and in the body.
  const body = new URLSearchParams({ ...params, client_secret: SECRET });
  const r = await fetch(`${worker.base}/token`, {
    method: 'POST', body: body.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64') },
  });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error, 'invalid_client');
  // A client_id in the body next to Basic naming the same client is fine.
  const c = await code(REDIRECTS[0]);
  const same = await token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: REDIRECTS[0], client_id: CLIENT_ID }, { auth: 'basic' });
  assert.equal(same.status, 200, JSON.stringify(same.json));
});

test('redirect-URI near misses get a 400 page, never a redirect', async () => {
  const good = REDIRECTS[0];
  for (const redirect of [
    `${good}/`, good.replace(VENDOR, 'M2OTHERVENDOR'), good.replace('https:', 'http:'), `${good}?extra=1`,
    good.replace('pitangui', 'PITANGUI'), good.replace('.com/', '.com:443/'), 'https://evil.example/cb',
  ]) {
    const r = await fetch(`${worker.base}/authorize?${authorizeQuery({ redirect })}`, { redirect: 'manual' });
    assert.equal(r.status, 400, redirect);
    assert.equal(r.headers.get('location'), null, redirect);
    assert.match(r.headers.get('content-type'), /^text\/html/);
  }
  const unknown = authorizeQuery().replace(`client_id=${CLIENT_ID}`, 'client_id=nobody');
  const r = await fetch(`${worker.base}/authorize?${unknown}`, { redirect: 'manual' });
  assert.equal(r.status, 400);
  assert.equal(r.headers.get('location'), null);
});

test('the login page: inline error on bad credentials, cancel denies, framing forbidden', async () => {
  const page = await fetch(`${worker.base}/authorize?${authorizeQuery()}`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.match(page.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  const html = await page.text();
  assert.match(html, /E2E Skill/);
  assert.match(html, /<code>smart_home<\/code>/);
  assert.match(html, /name="username"/);
  assert.match(html, /name="password"/);
  assert.doesNotMatch(html, /<script/i);

  const bad = await login(worker.base, authorizeQuery(), { password: 'wrong password' });
  assert.equal(bad.status, 401);
  assert.equal(bad.headers.get('location'), null);
  assert.match(await bad.text(), /Incorrect username or password/);

  const cancel = await login(worker.base, authorizeQuery(), { action: 'cancel' });
  assert.equal(cancel.status, 303);
  const loc = new URL(cancel.headers.get('location'));
  assert.equal(loc.searchParams.get('error'), 'access_denied');
  assert.equal(loc.searchParams.get('state'), 'st ate/+&1');
  assert.equal(loc.searchParams.get('code'), null);
});

test('a non-ASCII username matches in any case, as admin stored it', async () => {
  // admin lowercases with Rust's tables, the Worker with the runtime's: the same
  // Unicode mapping, final sigma included.
  const password = 'a long passphrase';
  admin(worker.state, ['user', 'add', '--username', 'Ärger-ΟΔΥΣΣΕΥΣ', '--password-stdin'], password);
  for (const typed of ['ärger-οδυσσευς', 'ÄRGER-ΟΔΥΣΣΕΥΣ', '  Ärger-Οδυσσευς ']) {
    const r = await login(worker.base, authorizeQuery(), { username: typed, password });
    assert.equal(r.status, 303, `${typed}: ${r.status}`);
  }
  assert.equal((await login(worker.base, authorizeQuery(), { username: 'arger-οδυσσευς', password })).status, 401);
});

test('malformed token requests: missing, repeated, oversized, wrong method or type', async () => {
  const post = (body, headers = { 'content-type': 'application/x-www-form-urlencoded' }, method = 'POST') =>
    fetch(`${worker.base}/token`, { method, headers, body }).then(async (r) => ({ status: r.status, headers: r.headers, json: await r.json() }));
  const creds = `client_id=${CLIENT_ID}&client_secret=${SECRET}`;
  expectError(await post(`grant_type=authorization_code&${creds}`), 400, 'invalid_request');
  expectError(await post(creds), 400, 'invalid_request');
  expectError(await post(`grant_type=authorization_code&code=a&code=b&${creds}`), 400, 'invalid_request');
  expectError(await post(`grant_type=authorization_code&code=${'a'.repeat(3000)}&${creds}`), 400, 'invalid_request');
  expectError(await post(`grant_type=password&username=a&password=b&${creds}`), 400, 'unsupported_grant_type');
  expectError(await post(`grant_type=authorization_code&code=nope&${creds}`), 400, 'invalid_grant');
  expectError(await post(`grant_type=authorization_code&code=x&${creds}`, { 'content-type': 'application/json' }), 400, 'invalid_request');
  expectError(await post(`grant_type=authorization_code&code=x&${creds}&pad=${'x'.repeat(20000)}`), 413, 'invalid_request');
  const get = await fetch(`${worker.base}/token`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
  assert.equal((await get.json()).error, 'invalid_request');
  // Non-UTF-8 bytes are a client error, never a 5xx.
  const raw = await fetch(`${worker.base}/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: Buffer.from([0x67, 0x72, 0x61, 0x6e, 0x74, 0x5f, 0x74, 0x79, 0x70, 0x65, 0x3d, 0xff, 0xfe]),
  });
  assert.equal(raw.status, 400);
});
