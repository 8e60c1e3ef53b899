// The login page in a real browser: headless Debian Chromium at a phone
// viewport, driven by playwright-core. Screenshots go to target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startWorker, authorizeQuery, admin, ROOT, REDIRECTS, USERNAME, PASSWORD } from './harness.mjs';
import { startProvider } from './provider.mjs';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const SHOTS = join(ROOT, 'target/screenshots');
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

let worker;
let browser;
let idp;
before(async () => {
  if (!CHROMIUM) return;
  mkdirSync(SHOTS, { recursive: true });
  // One provider (the stand-in of provider.mjs), so the page shows its button.
  idp = await startProvider();
  worker = await startWorker({
    vars: { SIGN_IN_PROVIDERS: 'corp', CORP_ISSUER: idp.base, CORP_CLIENT_ID: idp.clientId, CORP_CLIENT_SECRET: idp.clientSecret, CORP_LABEL: 'Corp SSO' },
  });
  admin(worker.state, ['user', 'update', '--username', USERNAME, '--add-identity', `corp:${idp.subject}`]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => { await browser?.close(); worker?.stop(); await idp?.stop(); });

const skip = CHROMIUM ? false : 'no Chromium on this machine (scripts/setup-browser.sh installs it on Debian)';
const STATE = 'phone state/ünïcode & more';

/** Opens the login page for a request that returns to `redirect`. */
/**
 * Clicks and returns the URL the browser is sent to on `host`. Amazon's hosts are
 * not reachable here (and Playwright cannot stub a redirect's target), so the
 * request the browser starts is read instead of the page it would load.
 */
async function landing(page, host, selector) {
  const [request] = await Promise.all([
    page.waitForRequest((r) => new URL(r.url()).hostname === host),
    page.click(selector),
  ]);
  return new URL(request.url());
}

async function open(context, redirect = REDIRECTS[0]) {
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(`${worker.base}/authorize?${authorizeQuery({ redirect, state: STATE, scope: 'smart_home profile' })}`);
  return { page, dialogs };
}

test('the login page at a phone viewport: content, layout, labels, focus', { skip }, async () => {
  const context = await browser.newContext(PHONE);
  const { page, dialogs } = await open(context);
  await page.screenshot({ path: join(SHOTS, 'login.png'), fullPage: true });
  const text = await page.textContent('body');
  assert.match(text, /E2E Skill/);
  assert.match(text, /smart_home/);
  assert.match(text, /profile/);
  const layout = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    fontSize: parseFloat(getComputedStyle(document.body).fontSize),
    unlabelled: [...document.querySelectorAll('input:not([type=hidden])')].filter((i) => !i.labels || i.labels.length === 0).map((i) => i.name),
  }));
  assert.ok(layout.scrollWidth <= layout.innerWidth, `no horizontal scroll (${layout.scrollWidth} > ${layout.innerWidth})`);
  assert.ok(layout.fontSize >= 16, `readable type (${layout.fontSize}px)`);
  assert.deepEqual(layout.unlabelled, [], 'every input has a label');
  await page.focus('#password');
  const outline = await page.$eval('#password', (el) => getComputedStyle(el).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  assert.deepEqual(dialogs, []);
  await context.close();
});

test('wrong password: inline error, no dialog; right password: lands with code and state', { skip }, async () => {
  const context = await browser.newContext(PHONE);
  const { page, dialogs } = await open(context, REDIRECTS[1]);
  await page.fill('#username', USERNAME);
  await page.fill('#password', 'not the password');
  await page.click('button[value=login]');
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /Incorrect username or password/);
  await page.screenshot({ path: join(SHOTS, 'login-error.png'), fullPage: true });
  assert.deepEqual(dialogs, [], 'no alert or pop-up');

  await page.fill('#password', PASSWORD);
  const landed = await landing(page, 'layla.amazon.com', 'button[value=login]');
  assert.equal(`${landed.origin}${landed.pathname}`, REDIRECTS[1]);
  assert.match(landed.searchParams.get('code'), /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  assert.equal(landed.searchParams.get('state'), STATE);
  await context.close();
});

test('Cancel lands with error=access_denied', { skip }, async () => {
  const context = await browser.newContext(PHONE);
  const { page } = await open(context, REDIRECTS[2]);
  const landed = await landing(page, 'alexa.amazon.co.jp', 'button[value=cancel]');
  assert.equal(landed.searchParams.get('error'), 'access_denied');
  assert.equal(landed.searchParams.get('state'), STATE);
  assert.equal(landed.searchParams.get('code'), null);
  await context.close();
});

test('the page works with JavaScript disabled', { skip }, async () => {
  const context = await browser.newContext({ ...PHONE, javaScriptEnabled: false });
  const { page } = await open(context);
  await page.fill('#username', USERNAME);
  await page.fill('#password', PASSWORD);
  const landed = await landing(page, 'pitangui.amazon.com', 'button[value=login]');
  assert.match(landed.searchParams.get('code'), /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  await context.close();
});

test('signing in through the provider button at phone size lands with code and state', { skip }, async () => {
  const context = await browser.newContext(PHONE);
  const { page, dialogs } = await open(context, REDIRECTS[2]);
  const button = page.getByRole('button', { name: 'Sign in with Corp SSO' });
  const box = await button.boundingBox();
  assert.ok(box.height >= 44 && box.width >= 300, `a thumb-sized button (${box.width}x${box.height})`);
  const url = await landing(page, 'alexa.amazon.co.jp', 'button.provider');
  assert.equal(url.searchParams.get('state'), STATE);
  assert.match(url.searchParams.get('code'), /^[\w-]+\.[\w-]+$/);
  assert.deepEqual(dialogs, []);
  await context.close();
});

test('a provider failure and a person who is not allowed get pages with a way back', { skip }, async () => {
  const context = await browser.newContext(PHONE);
  for (const [name, set, unset] of [
    ['provider-unavailable', () => { idp.mode = 'token_500'; }, () => { idp.mode = 'ok'; }],
    ['provider-not-allowed', () => { idp.subject = 'stranger'; }, () => { idp.subject = 'idp-subject-alice'; }],
  ]) {
    set();
    try {
      const { page } = await open(context);
      await page.click('button.provider');
      await page.waitForSelector('a.button');
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
      assert.match(await page.textContent('main'), /Please try again|not allowed to link here/);
      await page.click('a.button');
      await page.waitForSelector('button.provider');
      assert.match(page.url(), /\/authorize\?response_type=code/, 'back at the login form for the same request');
    } finally {
      unset();
    }
  }
  await context.close();
});
