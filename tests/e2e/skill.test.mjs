// End to end, the skill's side: what a Lambda does with the token Alexa sends
// it (/userinfo), and what the operator does to cut access (/revoke,
// /introspect), plus discovery and key rotation, against wrangler dev.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  verifyJwt, signJwt, REDIRECTS, CLIENT_ID, MACHINE_ID, SECRET, SIGNING_KEY, PREVIOUS_KEY, link, refresh,
  sharedWorker,
} from './harness.mjs';

let worker;
before(async () => { worker = await sharedWorker(); });
after(() => worker?.stop());


const userinfoResponse = (bearer, init = {}) => fetch(`${worker.base}/userinfo`, {
  ...init, headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(init.headers || {}) },
});

async function expectInvalidToken(bearer, why) {
  const r = await userinfoResponse(bearer);
  assert.equal(r.status, 401, why);
  assert.match(r.headers.get('www-authenticate'), /^Bearer .*error="invalid_token"/, why);
}

const clientPost = (path, params, id = CLIENT_ID) => fetch(`${worker.base}${path}`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${id}:${SECRET}`).toString('base64') },
  body: new URLSearchParams(params).toString(),
});

test('/userinfo turns a valid access token into the user', async () => {
  const t = await link(worker.base, { redirect: REDIRECTS[1] });
  const r = await userinfoResponse(t.access_token);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const body = await r.json();
  assert.equal(body.sub, verifyJwt(t.access_token).claims.sub);
  assert.equal(body.name, 'Alice');
  const post = await fetch(`${worker.base}/userinfo`, {
    method: 'POST', headers: { authorization: `Bearer ${t.access_token}` },
  });
  assert.equal(post.status, 200);
});

test('/userinfo refuses missing, tampered, expired, foreign and refresh tokens', async () => {
  const t = await link(worker.base, { redirect: REDIRECTS[1] });
  const missing = await userinfoResponse(null);
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="userinfo"', 'RFC 6750 §3.1: no error details');

  const [h, p, s] = t.access_token.split('.');
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const cases = {
    'changed payload': `${h}.${enc({ ...claims, sub: 'someone-else' })}.${s}`,
    'alg none': `${enc({ ...header, alg: 'none' })}.${p}.`,
    'alg HS512': `${enc({ ...header, alg: 'HS512' })}.${p}.${s}`,
    'truncated signature': `${h}.${p}.${s.slice(0, 20)}`,
    'unknown key': signJwt(claims, randomBytes(48).toString('base64url')),
    'expired': signJwt({ ...claims, iat: claims.iat - 7200, exp: claims.iat - 3600 }, SIGNING_KEY),
    'refresh token as bearer': t.refresh_token,
    'garbage': 'not-a-token',
  };
  for (const [why, bearer] of Object.entries(cases)) await expectInvalidToken(bearer, why);
});

test('an access token is refused as a refresh token', async () => {
  const t = await link(worker.base, { redirect: REDIRECTS[1] });
  const r = await refresh(worker.base, t.access_token);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
});

test('key rotation: the previous key still verifies, a removed key does not', async () => {
  const t = await link(worker.base, { redirect: REDIRECTS[1] });
  const { header, claims } = verifyJwt(t.access_token);
  const old = signJwt(claims, PREVIOUS_KEY);
  assert.notEqual(JSON.parse(Buffer.from(old.split('.')[0], 'base64url')).kid, header.kid);
  assert.equal((await userinfoResponse(old)).status, 200, 'signed with SIGNING_KEY_PREVIOUS');
  await expectInvalidToken(signJwt(claims, randomBytes(48).toString('base64url')), 'signed with a key no longer configured');
});

test('/revoke of a refresh token ends the grant: refresh and access tokens', async () => {
  const t = await link(worker.base, { redirect: REDIRECTS[1] });
  // Another client cannot revoke it, and learns nothing.
  assert.equal((await clientPost('/revoke', { token: t.refresh_token }, MACHINE_ID)).status, 200);
  assert.equal((await userinfoResponse(t.access_token)).status, 200);

  const r = await clientPost('/revoke', { token: t.refresh_token, token_type_hint: 'refresh_token' });
  assert.equal(r.status, 200);
  await expectInvalidToken(t.access_token, 'access token of a revoked grant (same isolate: at once)');
  const refused = await refresh(worker.base, t.refresh_token);
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error, 'invalid_grant');
  assert.equal((await clientPost('/revoke', { token: 'never-issued' })).status, 200, 'unknown token');
  const bad = await fetch(`${worker.base}/revoke`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=x&client_id=${CLIENT_ID}&client_secret=wrong`,
  });
  assert.equal(bad.status, 401);
});

test('/introspect says active only for live tokens of the asking client', async () => {
  const t = await link(worker.base, { redirect: REDIRECTS[1] });
  const ask = async (tok, id) => {
    const r = await clientPost('/introspect', { token: tok }, id);
    assert.equal(r.status, 200);
    return r.json();
  };
  const a = await ask(t.access_token);
  assert.equal(a.active, true);
  assert.equal(a.client_id, CLIENT_ID);
  assert.equal(a.scope, 'smart_home');
  assert.equal(a.token_type, 'Bearer');
  for (const k of ['sub', 'exp', 'iat']) assert.ok(a[k], k);
  assert.equal((await ask(t.refresh_token)).active, true);
  assert.deepEqual(await ask(t.access_token, MACHINE_ID), { active: false });
  assert.deepEqual(await ask('garbage'), { active: false });
  await clientPost('/revoke', { token: t.access_token });
  assert.deepEqual(await ask(t.access_token), { active: false });
  assert.deepEqual(await ask(t.refresh_token), { active: false });
});

test('discovery document (RFC 8414)', async () => {
  const r = await fetch(`${worker.base}/.well-known/oauth-authorization-server`);
  assert.equal(r.status, 200);
  const d = await r.json();
  assert.equal(d.issuer, worker.base);
  for (const [k, path] of Object.entries({
    authorization_endpoint: '/authorize', token_endpoint: '/token', userinfo_endpoint: '/userinfo',
    introspection_endpoint: '/introspect', revocation_endpoint: '/revoke',
  })) assert.equal(d[k], worker.base + path);
  assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(d.response_types_supported, ['code']);
  assert.deepEqual(d.grant_types_supported, ['authorization_code', 'refresh_token', 'client_credentials']);
  assert.deepEqual(d.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post']);
  assert.deepEqual(d.scopes_supported, ['smart_home', 'profile']);
});

test('/revoke ends a grant with an access token past its expiry, signed by us and held by its client', async () => {
  const t = await link(worker.base, { redirect: REDIRECTS[1] });
  const { claims } = verifyJwt(t.access_token);
  // The same token as it will be a day later: signed with our key, expired.
  const expired = signJwt({ ...claims, iat: claims.iat - 86_400, exp: claims.exp - 86_400 }, SIGNING_KEY);
  assert.equal((await clientPost('/revoke', { token: expired }, MACHINE_ID)).status, 200);
  assert.equal((await refresh(worker.base, t.refresh_token)).status, 200,
    'another client cannot end it');
  assert.equal((await clientPost('/revoke', { token: expired })).status, 200);
  const after = await refresh(worker.base, t.refresh_token);
  assert.equal(after.status, 400, JSON.stringify(after.json));
});
