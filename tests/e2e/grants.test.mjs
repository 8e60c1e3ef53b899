// Grants that never strand a user, in both store modes under wrangler dev,
// for a client that rotates refresh tokens (--refresh-rotation always; the
// default policy is in refresh.test.mjs): concurrent and repeated refreshes,
// raced codes, copies of the previous token, and revocations racing refreshes.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  startWorker, authorizeQuery, login, token, REDIRECTS, CLIENT_ID, SECRET, ROOT, link, refresh, userinfo,
} from './harness.mjs';

for (const durable of [false, true]) {
  describe(durable ? 'Durable Object mode' : 'KV mode', () => {
    let worker;
    before(async () => { worker = await startWorker({ durable, rotation: 'always' }); });
    after(() => worker?.stop());

    async function code(redirect = REDIRECTS[0]) {
      const r = await login(worker.base, authorizeQuery({ redirect }));
      assert.equal(r.status, 303, await r.text());
      return new URL(r.headers.get('location')).searchParams.get('code');
    }
    async function next(rt) {
      const r = await refresh(worker.base, rt);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json.refresh_token;
    }
    async function revoke(tok) {
      const body = new URLSearchParams({ token: tok, client_id: CLIENT_ID, client_secret: SECRET });
      const r = await fetch(`${worker.base}/revoke`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString(),
      });
      return r.status;
    }

    test('16 concurrent refreshes with one token all get one and the same token, and the chain goes on 20 times', async () => {
      const { refresh_token: rt } = await link(worker.base);
      const answers = await Promise.all(Array.from({ length: 16 }, () => refresh(worker.base, rt)));
      assert.deepEqual(answers.map((a) => a.status), Array(16).fill(200), JSON.stringify(answers.map((a) => a.json)));
      const tokens = new Set(answers.map((a) => a.json.refresh_token));
      assert.equal(tokens.size, 1, `${tokens.size} different refresh tokens`);
      let current = [...tokens][0];
      for (let i = 0; i < 20; i++) current = await next(current);
    });

    test('a code raced 50 times never yields two different refresh tokens', async () => {
      const c = await code(REDIRECTS[1]);
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
        token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: REDIRECTS[1] }, { auth: i % 2 ? 'basic' : 'body' })));
      const ok = answers.filter((a) => a.status === 200);
      assert.ok(ok.length >= 1);
      assert.equal(new Set(ok.map((a) => a.json.refresh_token)).size, 1);
      if (durable) assert.equal(ok.length, 1, 'one redemption in Durable Object mode');
      for (const a of answers.filter((x) => x.status !== 200)) {
        assert.equal(a.status, 400);
        assert.equal(a.json.error, 'invalid_grant');
      }
      assert.ok(answers.every((a) => a.status < 500));
    });

    test('keeping either answer of a repeated refresh stays linked', async () => {
      const { refresh_token: rt } = await link(worker.base);
      // The first answer was late; the client asked again. Both carry one token.
      const [first, second] = [await next(rt), await next(rt)];
      assert.equal(first, second);
      await next(await next(second));
    });

    test('the holder stays linked after a copy of the previous token is presented', async () => {
      const { refresh_token: rt1 } = await link(worker.base);
      const rt2 = await next(rt1);
      // A copy of rt1 (leaked or a confused retry) gets the current token back...
      assert.equal(await next(rt1), rt2);
      // ...and the holder's rt2 keeps working.
      const rt3 = await next(rt2);
      await next(rt3);
      // rt1 is now two generations old: presenting it ends the family.
      const reused = await refresh(worker.base, rt1);
      assert.equal(reused.status, 400);
      assert.equal(reused.json.error, 'invalid_grant');
    });

    test('a revocation racing a refresh stays revoked', async () => {
      for (let i = 0; i < 5; i++) {
        const linked = await link(worker.base);
        const [r, revoked] = await Promise.all([refresh(worker.base, linked.refresh_token), revoke(linked.refresh_token)]);
        assert.equal(revoked, 200);
        const tokens = [linked.refresh_token];
        const accesses = [linked.access_token];
        if (r.status === 200) {
          tokens.push(r.json.refresh_token);
          accesses.push(r.json.access_token);
        } else {
          assert.equal(r.json.error, 'invalid_grant');
        }
        for (const t of tokens) assert.equal((await refresh(worker.base, t)).status, 400, `round ${i}: revoked stays revoked`);
        for (const a of accesses) assert.equal((await userinfo(worker.base, a)).status, 401, `round ${i}`);
      }
    });

    test('admin grant revoke ends a link, in this mode too', async () => {
      const linked = await link(worker.base);
      const gid = linked.refresh_token.split('.')[0];
      // Run where the Worker's own wrangler.toml is, so admin sees its GRANT_STORE.
      const admin = (id) => spawnSync(join(ROOT, 'target/debug/admin'), ['--local', '--persist-to', worker.state, 'grant', 'revoke', '--id', id], {
        cwd: worker.configDir, encoding: 'utf8',
        env: { ...process.env, WRANGLER: join(ROOT, 'node_modules/.bin/wrangler'), WRANGLER_SEND_METRICS: 'false' },
      });
      // Grant ids may start with '-': that is a value, not an option.
      if (!durable) assert.match(admin('-AAAAAAAAAAAAAAAAAAAAA').stderr, /no grant with id/);
      const out = admin(gid);
      assert.equal(out.status, 0, out.stderr);
      assert.match(out.stdout, /ended/);
      const r = await refresh(worker.base, linked.refresh_token);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal((await userinfo(worker.base, linked.access_token)).status, 401);
    });

    test('admin user remove ends the user\'s links, in this mode too', async () => {
      const username = durable ? 'erin-do' : 'erin-kv';
      const password = 'erin ' + Math.random().toString(36).slice(2);
      const env = { ...process.env, WRANGLER: join(ROOT, 'node_modules/.bin/wrangler'), WRANGLER_SEND_METRICS: 'false' };
      const admin = (args, input) => spawnSync(join(ROOT, 'target/debug/admin'), ['--local', '--persist-to', worker.state, ...args], { cwd: worker.configDir, encoding: 'utf8', input, env });
      assert.equal(admin(['user', 'add', '--username', username, '--password-stdin'], password).status, 0);
      const r = await login(worker.base, authorizeQuery(), { username, password });
      assert.equal(r.status, 303);
      const c = new URL(r.headers.get('location')).searchParams.get('code');
      const t = await token(worker.base, { grant_type: 'authorization_code', code: c, redirect_uri: REDIRECTS[0] });
      assert.equal(t.status, 200);
      const removed = admin(['user', 'remove', '--username', username]);
      assert.equal(removed.status, 0, removed.stderr);
      assert.match(removed.stdout, /1 grant\(s\) ended/);
      assert.equal((await refresh(worker.base, t.json.refresh_token)).status, 400);
    });
  });
}
