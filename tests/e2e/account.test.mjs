// The account pages end to end under wrangler dev, in both grant modes:
// `admin user invite` prints a link, the person sets a password there and
// links Alexa with it; /account lists that link and ending it makes the next
// refresh fail; a used or expired invitation shows its page; a reset link
// changes the password and existing links keep working; wrong passwords at
// /account count against the sign-in limits. Then the pages in Chromium at
// a phone and a desktop viewport (screenshots in target/screenshots/).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startProvider } from './provider.mjs';
import {
  startWorker, admin, authorizeQuery, login, oneLimiterWindow, Session, ROOT, USERNAME, PASSWORD, link, refresh,
} from './harness.mjs';

const workers = [];
after(() => workers.forEach((w) => w.stop()));

/** The pages are there only where ACCOUNT_PAGES is on, set as any variable is. */
const PAGES = { ACCOUNT_PAGES: 'on' };

async function start(durable) {
  const w = await startWorker({ durable, vars: PAGES });
  workers.push(w);
  return w;
}

/** admin on the Worker's state, for a deployment with the pages on. */
function ok(args, w) {
  return admin(w.state, args, undefined, { ACCOUNT_PAGES: 'on' });
}

/** The link `admin user invite` or `reset-link` printed. */
const linkIn = (out) => new URL(out.match(/https?:\/\/\S+\/(invite|reset)\/\S+/)[0]);

/**
 * The link's token is in none of the Worker's lines, which name the endpoint
 * with the token cut out (issue 36: whoever reads the logs could use it).
 * wrangler dev's own `[wrangler:info] GET <path>` lines are the local
 * counterpart of the platform's invocation logs, which keep whole URLs:
 * wrangler.toml turns those off for a deployment.
 */
async function assertLinkNotLogged(w, link) {
  const secret = link.pathname.split('/').pop();
  const route = `/${link.pathname.split('/')[1]}/<token>`;
  const deadline = Date.now() + 5000;
  while (!w.logs().includes(`"endpoint":"${route}"`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(w.logs().includes(`"endpoint":"${route}"`), `a line for ${route}`);
  const ours = w.logs().split('\n').filter((l) => !/^\[wrangler:info\] [A-Z]+ \//.test(l)).join('\n');
  assert.ok(secret.length >= 32 && !ours.includes(secret), `the ${route} token appears in the Worker's output`);
  assert.match(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8'), /^\[observability\.logs\]\ninvocation_logs = false$/m);
}

async function signIn(s, username, password) {
  const page = await s.fetch('/account');
  assert.equal(page.status, 200);
  const r = await s.post(page, '/account', { username, password, action: 'signin' });
  assert.equal(r.status, 303, r.html);
  const signedIn = await s.fetch('/account');
  assert.match(signedIn.html, /Signed in as/);
  return signedIn;
}

for (const mode of ['kv', 'do']) {
  test(`${mode} mode: invite, set a password, link Alexa, see and end the link at /account`, async () => {
    const w = await start(mode === 'do');
    const out = ok(['user', 'invite', '--username', 'carol', '--display-name', 'Carol', '--base-url', w.base], w);
    const invite = linkIn(out);
    assert.equal(invite.origin, w.base);
    const s = new Session(w.base, '198.51.100.7');
    const page = await s.fetch(invite.pathname);
    assert.equal(page.status, 200, page.html);
    assert.match(page.html, /Welcome/);
    const set = await s.post(page, invite.pathname, { password: 'carols password', confirm: 'carols password' });
    assert.equal(set.status, 200, set.html);
    assert.match(set.html, /Password set/);
    // Used: its page says so.
    const used = await new Session(w.base, '198.51.100.8').fetch(invite.pathname);
    assert.equal(used.status, 410);
    assert.match(used.html, /already used/);
    await assertLinkNotLogged(w, invite);

    const linked = await link(w.base, { username: 'carol', password: 'carols password' });
    const gid = linked.refresh_token.split('.')[0];
    const account = await signIn(new Session(w.base, '198.51.100.9'), 'carol', 'carols password');
    assert.match(account.html, /E2E Skill/);
    assert.ok(account.html.includes(gid), 'the link is listed');

    const viewer = new Session(w.base, '198.51.100.10');
    const mine = await signIn(viewer, 'carol', 'carols password');
    const ended = await viewer.post(mine, '/account', { grant: gid, action: 'end' });
    assert.equal(ended.status, 200, ended.html);
    assert.match(ended.html, /Link ended/);
    const refused = await refresh(w.base, linked.refresh_token);
    assert.equal(refused.status, 400);
    assert.equal(refused.json.error, 'invalid_grant');
    // Its access token: refused at /userinfo by the instance that ended it
    // at once (elsewhere within 90 s, docs/account.md).
    const info = await fetch(`${w.base}/userinfo`, { headers: { authorization: `Bearer ${linked.access_token}` } });
    assert.equal(info.status, 401);
    assert.doesNotMatch((await viewer.fetch('/account')).html, new RegExp(gid));
    if (mode === 'kv') assert.match(ok(['grant', 'show', '--id', gid], w), /its user ended it at \/account/);
  });

  test(`${mode} mode: a reset link changes the password and existing links keep working`, async () => {
    const w = await start(mode === 'do');
    const linked = await link(w.base, { username: USERNAME, password: PASSWORD });
    const reset = linkIn(ok(['user', 'reset-link', '--username', USERNAME, '--valid-for', '1h', '--base-url', w.base], w));
    const s = new Session(w.base, '198.51.100.20');
    const page = await s.fetch(reset.pathname);
    assert.equal(page.status, 200, page.html);
    const short = await s.post(page, reset.pathname, { password: 'short', confirm: 'short' });
    assert.equal(short.status, 400);
    const set = await s.post(page, reset.pathname, { password: 'a new password', confirm: 'a new password' });
    assert.equal(set.status, 200, set.html);
    await assertLinkNotLogged(w, reset);
    const refreshed = await refresh(w.base, linked.refresh_token);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    await signIn(new Session(w.base, '198.51.100.21'), USERNAME, 'a new password');
    const old = await login(w.base, authorizeQuery(), { password: PASSWORD });
    assert.equal(old.status, 401, 'the old password no longer signs in');
  });
}

test('an expired invitation shows its page; wrong passwords at /account count against the limits', async () => {
  const w = await start(false);
  // An invitation past its expiry, as admin would have stored it a week ago.
  ok(['user', 'invite', '--username', 'dave', '--base-url', w.base], w);
  const tokenValue = 'E'.repeat(43);
  const hash = createHash('sha256').update(tokenValue).digest('base64url');
  const users = execFileSync(join(ROOT, 'node_modules/.bin/wrangler'),
    ['kv', 'key', 'get', 'user:dave', '--binding', 'OAUTH_KV', '--local', '--persist-to', w.state], { cwd: ROOT, encoding: 'utf8' });
  const dave = JSON.parse(users);
  const link = { purpose: 'invite', username: 'dave', user_id: dave.id, fingerprint: createHash('sha256').update('no password').digest('base64url').slice(0, 16), expires_at: Math.floor(Date.now() / 1000) - 60 };
  execFileSync(join(ROOT, 'node_modules/.bin/wrangler'),
    ['kv', 'key', 'put', `passwordlink:${hash}`, JSON.stringify(link), '--binding', 'OAUTH_KV', '--local', '--persist-to', w.state], { cwd: ROOT });
  const expired = await new Session(w.base, '198.51.100.30').fetch(`/invite/${tokenValue}`);
  assert.equal(expired.status, 410, expired.html);
  assert.match(expired.html, /expired/);
  const unknown = await new Session(w.base, '198.51.100.30').fetch(`/invite/${'F'.repeat(43)}`);
  assert.equal(unknown.status, 404);

  const s = new Session(w.base, '198.51.100.31');
  const page = await s.fetch('/account');
  await oneLimiterWindow();
  const statuses = [];
  for (let i = 0; i < 6; i++) {
    statuses.push((await s.post(page, '/account', { username: USERNAME, password: 'wrong', action: 'signin' })).status);
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
  // The same count as the login page's: the right password from here waits too.
  const right = await s.post(page, '/account', { username: USERNAME, password: PASSWORD, action: 'signin' });
  assert.equal(right.status, 429);
});

test('an invitation taken up through a provider, then /account signed in through it', async () => {
  const idp = await startProvider();
  try {
    const w = await startWorker({
      vars: { ...PAGES, SIGN_IN_PROVIDERS: 'idp', IDP_ISSUER: idp.base, IDP_CLIENT_ID: idp.clientId, IDP_CLIENT_SECRET: idp.clientSecret, IDP_LABEL: 'Stand-in IdP' },
    });
    workers.push(w);
    const invite = linkIn(ok(['user', 'invite', '--username', 'frank', '--base-url', w.base], w));
    idp.subject = 'idp-subject-frank';
    /** The page's provider button, the stand-in (which approves at once), our callback. */
    const viaProvider = async (s, page) => {
      const start = await s.post(page, '/account/signin/idp', {});
      assert.equal(start.status, 303, start.html);
      const atIdp = await fetch(start.location, { redirect: 'manual' });
      assert.equal(atIdp.status, 302);
      const back = new URL(atIdp.headers.get('location'));
      return s.fetch(`${back.pathname}${back.search}`);
    };
    const s = new Session(w.base, '198.51.100.40');
    const page = await s.fetch(invite.pathname);
    assert.match(page.html, /Sign in with Stand-in IdP/);
    const done = await viaProvider(s, page);
    assert.equal(done.status, 302, done.html);
    assert.equal(done.location, '/account');
    assert.match((await s.fetch('/account')).html, /Signed in as <strong>frank/);
    assert.equal((await s.fetch(invite.pathname)).status, 410, 'the invitation is spent');
    assert.match(ok(['user', 'show', '--username', 'frank'], w), /identity\tidp:idp-subject-frank/);

    // Later, in another browser: /account through the provider.
    const later = new Session(w.base, '198.51.100.41');
    const signInPage = await later.fetch('/account');
    const back = await viaProvider(later, signInPage);
    assert.equal(back.status, 302, back.html);
    assert.match((await later.fetch('/account')).html, /Signed in as <strong>frank/);
  } finally {
    await idp.stop();
  }
});

// ---- In a real browser ------------------------------------------------------

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const skip = CHROMIUM ? false : 'no Chromium on this machine (scripts/setup-browser.sh installs it on Debian)';
const SHOTS = join(ROOT, 'target/screenshots');
const VIEWPORTS = {
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  desktop: { viewport: { width: 1280, height: 800 } },
};

/** No horizontal scroll, readable type, a label on every input. */
async function checkLayout(page, what) {
  const layout = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    fontSize: parseFloat(getComputedStyle(document.body).fontSize),
    unlabelled: [...document.querySelectorAll('input:not([type=hidden])')].filter((i) => !i.labels || i.labels.length === 0).map((i) => i.name),
  }));
  assert.ok(layout.scrollWidth <= layout.innerWidth, `${what}: no horizontal scroll`);
  assert.ok(layout.fontSize >= 16, `${what}: readable type`);
  assert.deepEqual(layout.unlabelled, [], `${what}: every input has a label`);
}

test('the pages in Chromium, by keyboard, at a phone and a desktop viewport', { skip }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const w = await start(false);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    await link(w.base, { username: USERNAME, password: PASSWORD });
    for (const [name, device] of Object.entries(VIEWPORTS)) {
      const context = await browser.newContext(device);
      const page = await context.newPage();
      // The invitation, filled in by keyboard alone.
      const invite = linkIn(ok(['user', 'invite', '--username', `erin-${name}`, '--display-name', 'Erin', '--base-url', w.base], w));
      await page.goto(invite.href);
      await page.screenshot({ path: join(SHOTS, `invite-${name}.png`), fullPage: true });
      await checkLayout(page, `invite (${name})`);
      await page.keyboard.type('erins password'); // the new password field has the focus
      await page.keyboard.press('Tab');
      await page.keyboard.type('erins password');
      await page.keyboard.press('Enter');
      await page.waitForSelector('text=Password set');
      await page.screenshot({ path: join(SHOTS, `password-set-${name}.png`), fullPage: true });

      // A reset link for alice.
      const reset = linkIn(ok(['user', 'reset-link', '--username', USERNAME, '--base-url', w.base], w));
      await page.goto(reset.href);
      await checkLayout(page, `reset (${name})`);
      await page.screenshot({ path: join(SHOTS, `reset-${name}.png`), fullPage: true });

      // The account page: signed out, then alice's links.
      const context2 = await browser.newContext(device);
      const account = await context2.newPage();
      await account.goto(`${w.base}/account`);
      await checkLayout(account, `account sign-in (${name})`);
      await account.screenshot({ path: join(SHOTS, `account-signin-${name}.png`), fullPage: true });
      await account.fill('#username', USERNAME);
      await account.fill('#password', PASSWORD);
      await account.press('#password', 'Enter');
      await account.waitForSelector('text=Signed in as');
      await checkLayout(account, `account (${name})`);
      await account.screenshot({ path: join(SHOTS, `account-${name}.png`), fullPage: true });
      // Keyboard: Tab reaches the first "End the link" button, and its focus is visible.
      const endButton = account.locator('button[value=end]').first();
      await endButton.focus();
      assert.notEqual(await endButton.evaluate((el) => getComputedStyle(el).outlineStyle), 'none', 'focus is visible');
      await account.keyboard.press('Enter');
      await account.waitForSelector('text=Link ended');
      await checkLayout(account, `link ended (${name})`);
      await account.screenshot({ path: join(SHOTS, `link-ended-${name}.png`), fullPage: true });
      await context.close();
      await context2.close();
      if (name === 'phone') await link(w.base, { username: USERNAME, password: PASSWORD }); // a link for the desktop round
    }
  } finally {
    await browser.close();
  }
});

test('over https the session is a __Host- cookie: Secure, HttpOnly, SameSite=Lax, 15 minutes', { skip }, async () => {
  const w = await startWorker({ https: true, vars: PAGES });
  workers.push(w);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${w.base}/account`);
    await page.fill('#username', USERNAME);
    await page.fill('#password', PASSWORD);
    await page.press('#password', 'Enter');
    await page.waitForSelector('text=Signed in as');
    const session = (await context.cookies()).find((c) => c.name === '__Host-account');
    assert.ok(session, 'the session cookie carries the __Host- prefix');
    assert.equal(session.secure, true);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    const lifetime = session.expires - Date.now() / 1000;
    assert.ok(lifetime > 14 * 60 && lifetime <= 15 * 60 + 5, `15 minutes (${lifetime} s)`);
  } finally {
    await browser.close();
  }
});
