// Hardening over HTTP: brute-force limits, input limits and browser security
// headers, against wrangler dev.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startWorker, admin, authorizeQuery, login, token, someAddress, oneLimiterWindow, MACHINE_ID, REDIRECTS, ROOT } from './harness.mjs';

/** Every key in the Worker's local KV. */
function kvKeys() {
  const out = execFileSync(join(ROOT, 'node_modules/.bin/wrangler'), ['kv', 'key', 'list', '--binding', 'OAUTH_KV', '--local', '--persist-to', worker.state], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG: 'log' },
  });
  return JSON.parse(out).map((k) => k.name).sort();
}

let worker;
before(async () => { worker = await startWorker(); });
after(() => worker?.stop());

test('five tries a minute at one username from one address, then 429 even for the right password; other addresses unaffected', async () => {
  const username = 'victim';
  const password = 'victim ' + randomBytes(8).toString('hex');
  admin(worker.state, ['user', 'add', '--username', username, '--password-stdin'], password);
  const ip = someAddress();
  await oneLimiterWindow();
  for (let i = 1; i <= 5; i++) {
    assert.equal((await login(worker.base, authorizeQuery(), { username, password: 'nope', ip })).status, 401, `try ${i}`);
  }
  const locked = await login(worker.base, authorizeQuery(), { username, password, ip });
  assert.equal(locked.status, 429);
  assert.equal(locked.headers.get('retry-after'), '60');
  assert.match(await locked.text(), /Too many failed sign-ins/);
  assert.equal(locked.headers.get('location'), null);
  const owner = await login(worker.base, authorizeQuery(), { username, password });
  assert.equal(owner.status, 303, 'the owner, from another address, links');
});

// Under wrangler dev the Rate Limiting binding is a local, exact counter;
// deployed, Cloudflare's is approximate (docs/security.md, "Attempt limits").
test('a burst of twelve wrong passwords at once is counted try by try by the local limiter, and costs no KV write', async () => {
  const username = 'burst';
  admin(worker.state, ['user', 'add', '--username', username, '--password-stdin'], 'burst ' + randomBytes(8).toString('hex'));
  const keysBefore = kvKeys();
  const ip = someAddress();
  await oneLimiterWindow();
  const answers = await Promise.all(Array.from({ length: 12 }, () =>
    login(worker.base, authorizeQuery(), { username, password: 'wrong', ip })));
  const statuses = answers.map((r) => r.status).sort();
  assert.equal(statuses.filter((s) => s === 401).length, 5, statuses.join());
  assert.equal(statuses.filter((s) => s === 429).length, 7, statuses.join());
  assert.deepEqual(kvKeys(), keysBefore, 'no counter in KV');
});

test('failed client authentications from one address: 429 with an RFC error body; the right secret still passes', async () => {
  const ip = someAddress();
  const bad = () => token(worker.base, { grant_type: 'client_credentials' }, { id: MACHINE_ID, secret: 'wrong', ip });
  await oneLimiterWindow();
  for (let i = 0; i < 10; i++) assert.equal((await bad()).status, 401);
  const last = await bad();
  assert.equal(last.status, 429);
  assert.equal(last.json.error, 'invalid_client');
  assert.equal(last.headers.get('retry-after'), '60');
  assert.equal(last.headers.get('cache-control'), 'no-store');
  const good = await token(worker.base, { grant_type: 'client_credentials' }, { id: MACHINE_ID, ip });
  assert.equal(good.status, 200, JSON.stringify(good.json));
});

test('odd input gets a clear 4xx: oversized ids, another auth scheme at /userinfo, an endless body', async () => {
  const long = 'c'.repeat(600);
  const t = await token(worker.base, { grant_type: 'client_credentials' }, { id: long });
  assert.equal(t.status, 401);
  const page = await fetch(`${worker.base}/authorize?response_type=code&client_id=${long}`, { redirect: 'manual' });
  assert.equal(page.status, 400);
  const longUser = await login(worker.base, authorizeQuery(), { username: 'u'.repeat(600), password: 'x' });
  assert.equal(longUser.status, 401);
  const basic = await fetch(`${worker.base}/userinfo`, { headers: { authorization: 'Basic YTpi' } });
  assert.equal(basic.status, 401);
  assert.match(basic.headers.get('www-authenticate'), /^Bearer/);
  // A chunked body with no Content-Length is read up to 16 KiB and no further.
  const status = await new Promise((resolve, reject) => {
    const req = http.request(`${worker.base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    for (let i = 0; i < 40; i++) req.write('x'.repeat(1024));
    req.end();
  });
  assert.equal(status, 413);
});

test('oversized bodies and parameters are refused before any work', async () => {
  const big = await fetch(`${worker.base}/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x='.padEnd(17 * 1024, 'a'),
  });
  assert.equal(big.status, 413);
  assert.equal((await big.json()).error, 'invalid_request');
  const longState = await fetch(`${worker.base}/authorize?${authorizeQuery({ state: 's'.repeat(3000) })}`, { redirect: 'manual' });
  assert.equal(longState.status, 400);
  const dup = await fetch(`${worker.base}/authorize?${authorizeQuery()}&state=again`, { redirect: 'manual' });
  assert.equal(dup.status, 400);
  assert.equal(dup.headers.get('location'), null);
});

test('every HTML answer carries the security headers; echoed values are escaped', async () => {
  const pages = [
    await fetch(`${worker.base}/authorize?${authorizeQuery({ state: '"><script>alert(1)</script>' })}`),
    await fetch(`${worker.base}/authorize?client_id=nobody`),
    await login(worker.base, authorizeQuery(), { password: 'wrong-' + randomBytes(4).toString('hex') }),
  ];
  for (const r of pages) {
    assert.match(r.headers.get('content-type'), /^text\/html/);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const html = await r.text();
    assert.doesNotMatch(html, /<script/i);
  }
});

test('a CSRF token does not work in another browser session or for another request', async () => {
  const page = await fetch(`${worker.base}/authorize?${authorizeQuery({ redirect: REDIRECTS[0] })}`);
  const html = await page.text();
  const csrf = html.match(/name="csrf" value="([^"]+)"/)[1];
  const other = await fetch(`${worker.base}/authorize?${authorizeQuery({ redirect: REDIRECTS[1] })}`);
  const otherCookie = other.headers.get('set-cookie').split(';')[0];
  const form = new URLSearchParams(authorizeQuery({ redirect: REDIRECTS[0] }));
  form.append('csrf', csrf);
  form.append('username', 'alice');
  form.append('password', 'irrelevant');
  const post = (cookie, body) => fetch(`${worker.base}/authorize`, {
    method: 'POST', redirect: 'manual', body: body.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
  });
  assert.equal((await post(otherCookie, form)).status, 403, 'another session');
  const ownCookie = page.headers.get('set-cookie').split(';')[0];
  form.set('redirect_uri', REDIRECTS[1]);
  assert.equal((await post(ownCookie, form)).status, 403, 'another request');
});
