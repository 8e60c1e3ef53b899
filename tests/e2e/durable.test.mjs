// Durable Object mode (GRANT_STORE = "DO") under wrangler dev, with local
// Durable Objects: code redemption and refresh rotation are atomic per grant.
// Concurrent refreshes in both modes are in grants.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { authorizeQuery, login, token, verifyJwt, REDIRECTS, refresh, sharedWorker } from './harness.mjs';

let worker;
before(async () => { worker = await sharedWorker({ durable: true }); });
after(() => worker?.stop());

async function code(redirect = REDIRECTS[0], extra = {}) {
  const r = await login(worker.base, authorizeQuery({ redirect, extra }));
  assert.equal(r.status, 303, await r.text());
  return new URL(r.headers.get('location')).searchParams.get('code');
}

test('the full Alexa link and refresh flow, as in KV mode', async () => {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  for (const [i, redirect] of REDIRECTS.entries()) {
    const c = await code(redirect, i === 1 ? { code_challenge: challenge, code_challenge_method: 'S256' } : {});
    const params = { grant_type: 'authorization_code', code: c, redirect_uri: redirect, ...(i === 1 ? { code_verifier: verifier } : {}) };
    const t = await token(worker.base, params, { auth: i % 2 ? 'basic' : 'body' });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(t.json.expires_in, 3600);
    const r1 = await refresh(worker.base, t.json.refresh_token);
    assert.equal(r1.status, 200, JSON.stringify(r1.json));
    // Alexa's retry with the previous token.
    const retry = await refresh(worker.base, t.json.refresh_token);
    assert.equal(retry.status, 200, JSON.stringify(retry.json));
    const u = await fetch(`${worker.base}/userinfo`, { headers: { authorization: `Bearer ${retry.json.access_token}` } });
    assert.equal(u.status, 200);
    assert.equal((await u.json()).sub, verifyJwt(t.json.access_token).claims.sub);
  }
});

test('50 concurrent redemptions of one code: exactly one succeeds, and the grant is revoked afterwards', async () => {
  const redirect = REDIRECTS[1];
  const c = await code(redirect);
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: redirect }, { auth: i % 2 ? 'basic' : 'body' })));
  const ok = answers.filter((a) => a.status === 200);
  assert.equal(ok.length, 1, `successes: ${ok.length}`);
  for (const a of answers.filter((x) => x.status !== 200)) {
    assert.equal(a.status, 400);
    assert.equal(a.json.error, 'invalid_grant');
  }
  // The replays revoked the grant (RFC 6749 §10.5): its refresh token is dead.
  const r = await refresh(worker.base, ok[0].json.refresh_token);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
});
