// A user's own claims and identities, end to end in both grant modes:
// `admin user update --claim/--remove-claim/--add-identity` on a Worker under
// wrangler dev, then the access tokens Alexa gets next, and /userinfo, carry
// them; registered names are refused and change nothing; `admin user show`
// prints them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startWorker, adminRun, REDIRECTS, link, userinfo, refresh } from './harness.mjs';

const ADMIN_TOKEN = randomBytes(32).toString('base64url');
const workers = [];
after(() => workers.forEach((w) => w.stop()));

/** Runs admin on a Worker's state, in its mode: { status, stdout, stderr }. */
function admin(w, mode, args) {
  const where = mode === 'do' ? ['--mode', 'do', '--worker', w.base] : ['--mode', 'kv'];
  return adminRun(w.state, [...where, ...args], { extraEnv: { ADMIN_TOKEN } });
}

function ok(r) {
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** /userinfo's answer, which must be a 200. */
async function body(base, accessToken) {
  const r = await userinfo(base, accessToken);
  assert.equal(r.status, 200);
  return r.body;
}

const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

for (const mode of ['kv', 'do']) {
  test(`${mode} mode: claims set by admin reach the tokens and /userinfo`, async () => {
    const w = await startWorker({ durable: mode === 'do', vars: { ADMIN_TOKEN } });
    workers.push(w);

    ok(admin(w, mode, ['user', 'update', '--username', 'alice',
      '--claim', 'bridge_url=https://bridge.example/alice', '--claim', 'tier=gold']));
    const linked = await link(w.base, { redirect: REDIRECTS[2] });
    assert.equal(payload(linked.access_token).bridge_url, 'https://bridge.example/alice');
    assert.deepEqual(await body(w.base, linked.access_token), {
      sub: payload(linked.access_token).sub, name: 'Alice', bridge_url: 'https://bridge.example/alice', tier: 'gold',
    });

    // A registered name is refused, and nothing changes.
    for (const name of ['sub', 'email', 'exp', 'identities']) {
      const refused = admin(w, mode, ['user', 'update', '--username', 'alice', '--claim', `${name}=x`, '--claim', 'tier=silver']);
      assert.notEqual(refused.status, 0, name);
      assert.match(refused.stderr, /registered JWT or OpenID Connect claim name/, name);
    }
    assert.match(ok(admin(w, mode, ['user', 'show', '--username', 'alice'])), /claim\ttier=gold/);

    // A change reaches the user's link: the next refresh's token carries it.
    const changed = ok(admin(w, mode, ['user', 'update', '--username', 'alice', '--display-name', 'Alice B',
      '--claim', 'bridge_url=https://bridge.example/new', '--remove-claim', 'tier', '--add-identity', 'google:42']));
    assert.match(changed, /1 link\(s\) carry the new values/);
    const shown = ok(admin(w, mode, ['user', 'show', '--username', 'alice']));
    assert.match(shown, /claim\tbridge_url=https:\/\/bridge.example\/new/);
    assert.doesNotMatch(shown, /tier/);

    // The token issued before keeps what it was signed with.
    assert.equal((await body(w.base, linked.access_token)).bridge_url, 'https://bridge.example/alice');
    const refreshed = await refresh(w.base, linked.refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    assert.deepEqual(await body(w.base, refreshed.json.access_token), {
      sub: payload(linked.access_token).sub, name: 'Alice B', identities: ['google:42'], bridge_url: 'https://bridge.example/new',
    });
    // And the link keeps refreshing.
    const again = await refresh(w.base, refreshed.json.refresh_token);
    assert.equal(again.status, 200, JSON.stringify(again.json));
  });
}
