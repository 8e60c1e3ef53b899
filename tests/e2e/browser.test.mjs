// The login page in a real browser: headless Debian Chromium at a phone
// viewport, driven by playwright-core. Screenshots go to target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startWorker, authorizeQuery, ROOT, REDIRECTS, USERNAME, PASSWORD } from './harness.mjs';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const SHOTS = join(ROOT, 'target/screenshots');
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

let worker;
let browser;
before(async () => {
  if (!CHROMIUM) return;
  mkdirSync(SHOTS, { recursive: true });
  worker = await startWorker();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
after(async () => { await browser?.close(); worker?.stop(); });

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
