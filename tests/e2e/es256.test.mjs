// ES256 access tokens under wrangler dev (WebCrypto in the Worker): a skill
// verifies them offline with a stock JWT library (`jose`) against the served
// key set; the previous key still verifies after a rotation; HS256 tokens
// from before the move keep working; /userinfo answers a token 30 s past its
// expiry and refuses it past the minute of leeway. Each key is imported on
// its own: a bad one leaves the other working, and a token a missing key may
// have signed gets a 500, never the 401 that would unlink its user.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPublicKey, sign as nodeSign } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, calculateJwkThumbprint } from 'jose';
import {
  startWorker, authorizeQuery, login, token, signJwt, SIGNING_KEY, REDIRECTS, CLIENT_ID, link, userinfo, refresh,
} from './harness.mjs';

const pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
const OLD = pem();
const NEW = pem();
let first;
let rotated;
let badPrevious;
let badCurrent;
before(async () => {
  const es256 = (current, previous) => startWorker({
    vars: { ACCESS_TOKEN_ALG: 'ES256', ES256_PRIVATE_KEY: current, ...(previous ? { ES256_PRIVATE_KEY_PREVIOUS: previous } : {}) } });
  [first, rotated, badPrevious, badCurrent] = await Promise.all([
    es256(OLD), es256(NEW, OLD), es256(NEW, 'not a key'), es256('not a key', OLD)]);
});
after(() => { for (const w of [first, rotated, badPrevious, badCurrent]) w?.stop(); });

const publicJwk = (privatePem) => createPublicKey(privatePem).export({ format: 'jwk' });

/** An ES256 token signed outside the Worker with its key, as the Worker would sign it. */
async function es256Token(privatePem, claims) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const kid = await calculateJwkThumbprint(publicJwk(privatePem));
  const input = `${enc({ alg: 'ES256', typ: 'at+jwt', kid })}.${enc(claims)}`;
  const sig = nodeSign('sha256', Buffer.from(input), { key: privatePem, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

test('a skill verifies the access token offline with jose and the served key set', async () => {
  const t = await link(first.base);
  const meta = await (await fetch(`${first.base}/.well-known/oauth-authorization-server`)).json();
  assert.equal(meta.jwks_uri, `${first.base}/.well-known/jwks.json`);
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload, protectedHeader } = await jwtVerify(t.access_token, jwks, { issuer: first.base, typ: 'at+jwt' });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(payload.client_id, CLIENT_ID);
  const info = await userinfo(first.base, t.access_token);
  assert.equal(info.status, 200);
  assert.equal(payload.sub, info.body.sub);

  // The served key is the secret's public half, with its RFC 7638 thumbprint.
  const served = await fetch(meta.jwks_uri);
  assert.equal(served.headers.get('cache-control'), 'public, max-age=300');
  const { keys } = await served.json();
  const expected = publicJwk(OLD);
  assert.equal(keys.length, 1);
  assert.deepEqual([keys[0].x, keys[0].y, keys[0].kid], [expected.x, expected.y, await calculateJwkThumbprint(expected)]);
  assert.equal(keys[0].d, undefined);

  // A refreshed token too.
  const r = await refresh(first.base, t.refresh_token);
  assert.equal(r.status, 200);
  await jwtVerify(r.json.access_token, jwks, { issuer: first.base });
});

test('after a rotation the previous key still verifies, and HS256 tokens from before the move work', async () => {
  const before = await link(first.base);
  const { keys } = await (await fetch(`${rotated.base}/.well-known/jwks.json`)).json();
  assert.equal(keys.length, 2);
  assert.equal(keys[0].x, publicJwk(NEW).x, 'the current key first');
  // Verified by the rotated Worker itself, and by a skill against its set.
  assert.equal((await userinfo(rotated.base, before.access_token)).status, 200);
  await jwtVerify(before.access_token, createRemoteJWKSet(new URL(`${rotated.base}/.well-known/jwks.json`)));
  const after = await link(rotated.base);
  await jwtVerify(after.access_token, createRemoteJWKSet(new URL(`${rotated.base}/.well-known/jwks.json`)));
  await assert.rejects(jwtVerify(after.access_token, createRemoteJWKSet(new URL(`${first.base}/.well-known/jwks.json`))),
    'the old set does not know the new key');

  const now = Math.floor(Date.now() / 1000);
  const hs256 = signJwt({ iss: rotated.base, sub: 'someone', client_id: CLIENT_ID, scope: 'smart_home', iat: now, exp: now + 600, jti: 'x', gid: 'AAAAAAAAAAAAAAAAAAAAAA' }, SIGNING_KEY);
  assert.equal((await userinfo(rotated.base, hs256)).status, 200);
});

test('/userinfo answers 30 s past exp and refuses past the minute; a forged signature never', async () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = (exp) => ({ iss: first.base, sub: 'someone', client_id: CLIENT_ID, scope: 'smart_home', iat: exp - 3600, exp, jti: 'j', gid: 'BBBBBBBBBBBBBBBBBBBBBB' });
  assert.equal((await userinfo(first.base, await es256Token(OLD, claims(now - 30)))).status, 200, 'ES256, 30 s past');
  assert.equal((await userinfo(first.base, await es256Token(OLD, claims(now - 90)))).status, 401, 'ES256, 90 s past');
  assert.equal((await userinfo(first.base, signJwt(claims(now - 30), SIGNING_KEY))).status, 200, 'HS256, 30 s past');
  assert.equal((await userinfo(first.base, signJwt(claims(now - 90), SIGNING_KEY))).status, 401, 'HS256, 90 s past');
  // Signed by a key the Worker never had, under a kid it has.
  const forged = (await es256Token(pem(), claims(now + 600))).split('.');
  const genuine = (await es256Token(OLD, claims(now + 600))).split('.');
  assert.equal((await userinfo(first.base, [genuine[0], forged[1], forged[2]].join('.'))).status, 401);
});

test('a bad key leaves the other one working, and a token it may have signed is a 500, not a 401', async () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: 'someone', client_id: CLIENT_ID, scope: 'smart_home', iat: now, exp: now + 600, jti: 'k', gid: 'CCCCCCCCCCCCCCCCCCCCCC' };

  // A bad previous key: the current one is served, signs and verifies.
  let { keys } = await (await fetch(`${badPrevious.base}/.well-known/jwks.json`)).json();
  assert.deepEqual(keys.map((k) => k.x), [publicJwk(NEW).x]);
  const linked = await link(badPrevious.base);
  await jwtVerify(linked.access_token, createRemoteJWKSet(new URL(`${badPrevious.base}/.well-known/jwks.json`)));
  assert.equal((await userinfo(badPrevious.base, linked.access_token)).status, 200);
  let info = await userinfo(badPrevious.base, await es256Token(OLD, { iss: badPrevious.base, ...claims }));
  assert.equal(info.status, 500, JSON.stringify(info.body));
  assert.equal(info.body.error, 'server_error');
  assert.match(info.body.error_description, /ES256_PRIVATE_KEY_PREVIOUS/);
  assert.match(badPrevious.logs(), /ES256_PRIVATE_KEY_PREVIOUS is not a usable P-256 private key/);

  // A bad current key: nothing is signed, the previous key still verifies.
  ({ keys } = await (await fetch(`${badCurrent.base}/.well-known/jwks.json`)).json());
  assert.deepEqual(keys.map((k) => k.x), [publicJwk(OLD).x]);
  assert.equal((await userinfo(badCurrent.base, await es256Token(OLD, { iss: badCurrent.base, ...claims }))).status, 200);
  info = await userinfo(badCurrent.base, await es256Token(NEW, { iss: badCurrent.base, ...claims }));
  assert.equal(info.status, 500, JSON.stringify(info.body));
  const r = await login(badCurrent.base, authorizeQuery({ redirect: REDIRECTS[0] }));
  const code = new URL(r.headers.get('location')).searchParams.get('code');
  const t = await token(badCurrent.base, { grant_type: 'authorization_code', code, redirect_uri: REDIRECTS[0] });
  assert.equal(t.status, 500, JSON.stringify(t.json));
  assert.equal(t.json.error, 'server_error');
  assert.match(badCurrent.logs(), /ES256_PRIVATE_KEY is not a usable P-256 private key/);
  assert.doesNotMatch(badCurrent.logs() + badPrevious.logs(), /BEGIN PRIVATE KEY/, 'no key in the logs');
});
