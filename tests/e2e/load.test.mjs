// Load with nothing lost: 500 complete links and 5,000 refreshes from 16
// concurrent clients against wrangler dev. Zero 5xx, no grant lost or
// duplicated, every code works exactly once, every final refresh token works.
// Bounded in count; all traffic stays on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, authorizeQuery, login, token, REDIRECTS, refresh } from './harness.mjs';

const LINKS = 500;
const REFRESHES_PER_LINK = 10;
const CONCURRENCY = 16;

/** Runs `job(i)` for i in [0, n) with at most CONCURRENCY at once. */
async function pool(n, job) {
  let next = 0;
  const results = new Array(n);
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) {
      const i = next++;
      results[i] = await job(i);
    }
  }));
  return results;
}

for (const mode of (process.env.LOAD_MODES || 'KV,DO').split(',')) test(`${mode} mode: ${LINKS} links and ${LINKS * REFRESHES_PER_LINK} refreshes at concurrency ${CONCURRENCY}, nothing lost`, { timeout: 600_000 }, async () => {
  // One Worker at a time: each is stopped before the next mode starts.
  const worker = await startWorker({ durable: mode === 'DO' });
  try {
    await load(mode, worker);
  } catch (e) {
    // What wrangler dev said, so that a failure here explains itself.
    e.message += `\n--- wrangler dev's output, last 3,000 characters:\n${worker.logs().slice(-3000)}`;
    throw e;
  } finally {
    worker.stop();
  }
});

/**
 * wrangler dev's own answer when it restarted its runtime under a request
 * (seen under this load on a busy 2-core machine): plain text from the dev
 * server, never an answer of this Worker, whose errors are JSON. A request
 * it met is sent again; a link whose code exchange it met is made again from
 * the start, since the code may have been spent. Counted and printed.
 */
const RESTARTED = /Your worker restarted mid-request/;

async function load(mode, worker) {
  let restarts = 0;
  const again = async (what) => {
    for (let tries = 1; ; tries++) {
      try {
        return await what();
      } catch (e) {
        if (tries > 3 || !RESTARTED.test(e.message)) throw e;
        restarts++;
      }
    }
  };
  const statuses = new Map();
  const count = (s) => statuses.set(s, (statuses.get(s) || 0) + 1);
  const started = Date.now();

  // Every link is alice's, as in the other tests: from a browser that signed in
  // before (its device cookie), each from an address of its own, so the attempt
  // limits (meant for attackers) do not apply.
  const first = await login(worker.base, authorizeQuery());
  assert.equal(first.status, 303);
  const device = first.headers.get('set-cookie').split(';')[0];
  const links = await pool(LINKS, (i) => again(async () => {
    const redirect = REDIRECTS[i % 3];
    const r = await login(worker.base, authorizeQuery({ redirect, state: `s${i}` }), { cookie: device });
    if (r.status === 503) {
      const text = await r.text();
      if (RESTARTED.test(text)) throw new Error(text);
    }
    count(r.status);
    assert.equal(r.status, 303);
    const code = new URL(r.headers.get('location')).searchParams.get('code');
    const t = await token(worker.base, { grant_type: 'authorization_code', code, redirect_uri: redirect }, { auth: i % 2 ? 'basic' : 'body' });
    count(t.status);
    assert.equal(t.status, 200, JSON.stringify(t.json));
    return { code, redirect, refresh: t.json.refresh_token };
  }));
  const linked = Date.now();

  // Refresh chains: each link refreshes REFRESHES_PER_LINK times in a row.
  await pool(LINKS, async (i) => {
    for (let n = 0; n < REFRESHES_PER_LINK; n++) {
      // Rotation `never`: sending a refresh again is harmless.
      const t = await again(() => refresh(worker.base, links[i].refresh));
      count(t.status);
      assert.equal(t.status, 200, JSON.stringify(t.json));
      links[i].refresh = t.json.refresh_token;
    }
  });
  const refreshed = Date.now();

  // One grant per link, none shared, each final refresh token alive.
  const grants = new Set(links.map((l) => l.refresh.split('.')[0]));
  assert.equal(grants.size, LINKS, 'no grant duplicated or shared');
  await pool(LINKS, async (i) => {
    const t = await again(() => refresh(worker.base, links[i].refresh));
    count(t.status);
    assert.equal(t.status, 200, `final refresh token of link ${i} works`);
  });
  // Every code worked once; a second time it is refused.
  await pool(LINKS, async (i) => {
    const t = await again(() => token(worker.base, { grant_type: 'authorization_code', code: links[i].code, redirect_uri: links[i].redirect }));
    assert.equal(t.status, 400);
    assert.equal(t.json.error, 'invalid_grant');
  });

  const fivexx = [...statuses].filter(([s]) => s >= 500);
  assert.deepEqual(fivexx, [], 'no 5xx');
  const secs = (ms) => (ms / 1000).toFixed(1);
  console.log(`# load (${mode}): ${LINKS} links in ${secs(linked - started)} s (${(LINKS / ((linked - started) / 1000)).toFixed(0)}/s), `
    + `${LINKS * REFRESHES_PER_LINK} refreshes in ${secs(refreshed - linked)} s (${(LINKS * REFRESHES_PER_LINK / ((refreshed - linked) / 1000)).toFixed(0)}/s)`
    + (restarts ? `; wrangler dev restarted its runtime under ${restarts} request(s), sent again` : ''));
}
