// The refresh policy under wrangler dev, in both store modes. The default,
// rotation never: 50 refreshes in a row and 16 at once all return the same
// refresh token and leave the persisted state (local KV and the Durable
// Objects' storage) byte for byte as it was. A client switched to always
// rotates, and a token reused after 2, 10 or 40 refreshes revokes the grant.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, admin, snapshot, changed, CLIENT_ID, link, refresh } from './harness.mjs';

for (const durable of [false, true]) {
  describe(durable ? 'Durable Object mode' : 'KV mode', () => {
    let worker;
    // Client records read every time, so a policy change applies at once.
    before(async () => { worker = await startWorker({ durable, vars: { CLIENT_CACHE_SECONDS: '0' } }); });
    after(() => worker?.stop());

    async function next(rt) {
      const r = await refresh(worker.base, rt);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return r.json.refresh_token;
    }
    const policy = (rotation) => admin(worker.state, ['client', 'update', '--id', CLIENT_ID, '--refresh-rotation', rotation]);

    test('rotation never: 50 refreshes in a row and 16 at once keep the token and write nothing', async () => {
      const rt = (await link(worker.base)).refresh_token;
      // Let the link's own writes settle on disk.
      await new Promise((r) => setTimeout(r, 500));
      const before = snapshot(worker.state);
      for (let i = 0; i < 50; i++) assert.equal(await next(rt), rt, `refresh ${i + 1}`);
      const answers = await Promise.all(Array.from({ length: 16 }, () => refresh(worker.base, rt)));
      assert.deepEqual(answers.map((a) => a.status), Array(16).fill(200), JSON.stringify(answers.map((a) => a.json)));
      assert.deepEqual(new Set(answers.map((a) => a.json.refresh_token)), new Set([rt]));
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(changed(before, snapshot(worker.state)), [], 'nothing persisted was rewritten');

      // The comparison sees a write: the same token under always rotates.
      assert.match(policy('always'), /rotation always/);
      await new Promise((r) => setTimeout(r, 500));
      const switched = snapshot(worker.state);
      const rotated = await next(rt);
      assert.notEqual(rotated, rt);
      await new Promise((r) => setTimeout(r, 500));
      assert.notDeepEqual(changed(switched, snapshot(worker.state)), [], 'a rotation is seen as a write');
      assert.equal(await next(rt), rotated, 'the previous token is a retry');
      assert.match(policy('never'), /rotation never/);
      assert.equal(await next(rotated), rotated, 'back to never: the current token stays');
    });

    test('rotation always: a token reused after 2, 10 or 40 refreshes revokes the grant for both chains', async () => {
      policy('always');
      try {
        for (const depth of [2, 10, 40]) {
          const holder = (await link(worker.base)).refresh_token;
          let thief = holder;
          for (let i = 0; i < depth; i++) thief = await next(thief);
          const reused = await refresh(worker.base, holder);
          assert.equal(reused.status, 400, `depth ${depth}`);
          assert.equal(reused.json.error, 'invalid_grant');
          assert.match(reused.json.error_description, /revoked/, `depth ${depth}`);
          assert.equal((await refresh(worker.base, thief)).status, 400, `depth ${depth}: the other chain ends too`);
        }
      } finally {
        policy('never');
      }
    });
  });
}
