// The Worker's log output (what `wrangler tail` shows) for a full link, a
// refresh, a retried refresh and the usual failures: one JSON line per request
// with the fields an operator needs, and never a secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  startWorker, authorizeQuery, login, token, REDIRECTS, SECRET, PASSWORD, SIGNING_KEY, PREVIOUS_KEY, SECRETS_SEEN,
  refresh,
} from './harness.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(() => worker?.stop());

test('a SIGNING_KEY_PREVIOUS too short to use is logged at the first request, with the fix', async () => {
  const w = await startWorker({ vars: { SIGNING_KEY_PREVIOUS: 'too-short' } });
  try {
    await fetch(`${w.base}/.well-known/oauth-authorization-server`);
    const deadline = Date.now() + 5000;
    while (!/SIGNING_KEY_PREVIOUS is shorter than 32 bytes/.test(w.logs()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(w.logs(), /SIGNING_KEY_PREVIOUS is shorter than 32 bytes.*wrangler secret put SIGNING_KEY_PREVIOUS/);
    assert.doesNotMatch(w.logs(), /too-short/, 'the value itself is never logged');
  } finally {
    w.stop();
  }
});

test('a link, refreshes and failures leave useful logs with no secret in them', async () => {
  const redirect = REDIRECTS[2];
  const verifier = randomBytes(40).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  SECRETS_SEEN.add(verifier);

  // Failures first: a wrong password, then a link, a replay, wrong secrets.
  const wrong = 'wrong-' + randomBytes(8).toString('hex');
  assert.equal((await login(worker.base, authorizeQuery({ redirect }), { password: wrong })).status, 401);
  const r = await login(worker.base, authorizeQuery({ redirect, extra: { code_challenge: challenge, code_challenge_method: 'S256' } }));
  const code = new URL(r.headers.get('location')).searchParams.get('code');
  const linked = await token(worker.base, { grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier }, { auth: 'basic' });
  assert.equal(linked.status, 200);
  // A second link whose code is replayed (which revokes that grant).
  const r2 = await login(worker.base, authorizeQuery({ redirect }));
  const code2 = new URL(r2.headers.get('location')).searchParams.get('code');
  assert.equal((await token(worker.base, { grant_type: 'authorization_code', code: code2, redirect_uri: redirect })).status, 200);
  assert.equal((await token(worker.base, { grant_type: 'authorization_code', code: code2, redirect_uri: redirect })).status, 400);
  const badSecret = 'bad-' + randomBytes(16).toString('hex');
  assert.equal((await refresh(worker.base, linked.json.refresh_token, { secret: badSecret })).status, 401);
  assert.equal((await refresh(worker.base, linked.json.refresh_token, { auth: 'basic', secret: badSecret })).status, 401);
  // A refresh and a retried refresh.
  const r1 = await refresh(worker.base, linked.json.refresh_token);
  assert.equal(r1.status, 200);
  assert.equal((await refresh(worker.base, linked.json.refresh_token)).status, 200);
  const bogusRefresh = linked.json.refresh_token.split('.')[0] + '.' + randomBytes(32).toString('base64url');
  assert.equal((await refresh(worker.base, bogusRefresh)).status, 400);
  assert.equal((await fetch(`${worker.base}/userinfo`, { headers: { authorization: `Bearer ${r1.json.access_token}x` } })).status, 401);
  assert.equal((await fetch(`${worker.base}/userinfo`, { headers: { authorization: `Bearer ${r1.json.access_token}` } })).status, 200);

  await new Promise((ok) => setTimeout(ok, 500)); // let the last lines arrive
  const logs = worker.logs();
  const secrets = [...SECRETS_SEEN, SECRET, PASSWORD, SIGNING_KEY, PREVIOUS_KEY, wrong, badSecret, bogusRefresh, verifier];
  assert.ok(secrets.length > 20, `collected ${secrets.length} secrets`);
  for (const secret of secrets) {
    assert.ok(!logs.includes(secret), `a secret (${secret.slice(0, 4)}…) appears in the Worker's logs`);
  }

  // One JSON line per request, with what an operator needs to debug linking.
  const lines = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const tokenLines = lines.filter((l) => l.endpoint === '/token');
  assert.equal(tokenLines.length, 8);
  for (const l of lines) {
    for (const field of ['request_id', 'endpoint', 'status', 'outcome', 'duration_ms', 'client_id', 'grant_type', 'error', 'reason']) {
      assert.ok(field in l, `${field} in ${JSON.stringify(l)}`);
    }
  }
  // The trail of one link: its refresh and /userinfo lines name the grant and
  // the user (identifiers; the tokens themselves are checked absent above).
  const gid = linked.json.refresh_token.split('.')[0];
  const refreshed = tokenLines.find((l) => l.grant_type === 'refresh_token' && l.status === 200);
  assert.equal(refreshed.grant_id, gid);
  assert.match(refreshed.sub, /^[\w-]{22}$/);
  const info = lines.find((l) => l.endpoint === '/userinfo' && l.status === 200);
  assert.deepEqual([info.grant_id, info.sub], [gid, refreshed.sub]);
  const replay = tokenLines.find((l) => l.status === 400 && l.grant_type === 'authorization_code');
  assert.equal(replay.error, 'invalid_grant');
  assert.match(replay.reason, /already used/);
  assert.equal(tokenLines.filter((l) => l.error === 'invalid_client').length, 2);
  assert.ok(lines.some((l) => l.endpoint === '/authorize' && l.reason === 'wrong username or password'));
});
