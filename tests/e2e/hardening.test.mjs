// Hardening over HTTP: brute-force limits, input limits and browser security
// headers, against wrangler dev.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startWorker, admin, authorizeQuery, login, token, CLIENT_ID, REDIRECTS } from './harness.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(() => worker?.stop());

test('five wrong passwords lock the username: 429 with Retry-After, even for the right one', async () => {
  const username = 'victim';
  const password = 'victim ' + randomBytes(8).toString('hex');
  admin(worker.state, ['user', 'add', '--username', username, '--password-stdin'], password);
  for (let i = 1; i < 5; i++) {
    assert.equal((await login(worker.base, authorizeQuery(), { username, password: 'nope' })).status, 401);
  }
  const locked = await login(worker.base, authorizeQuery(), { username, password: 'nope' });
  assert.equal(locked.status, 429);
  assert.equal(locked.headers.get('retry-after'), '300');
  assert.match(await locked.text(), /Too many failed sign-ins/);
  const right = await login(worker.base, authorizeQuery(), { username, password });
  assert.equal(right.status, 429);
  assert.equal(right.headers.get('location'), null);
});

test('failed client authentications from one address: 429 with an RFC error body', async () => {
  let last;
  for (let i = 0; i < 10; i++) {
    last = await token(worker.base, { grant_type: 'refresh_token', refresh_token: 'x' }, { secret: 'wrong' });
  }
  assert.equal(last.status, 429);
  assert.equal(last.json.error, 'invalid_client');
  assert.ok(Number(last.headers.get('retry-after')) > 0);
  assert.equal(last.headers.get('cache-control'), 'no-store');
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
