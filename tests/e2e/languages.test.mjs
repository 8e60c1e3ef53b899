// The pages in Alexa's languages (docs/languages.md), over HTTP and in
// Chromium at a phone's and a laptop's viewport: the language by
// `Accept-Language` and by `ui_locales`, kept across a form post, the
// headers that say it, the operator's own texts, and a layout that fits.
// Screenshots go to target/screenshots/lang-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import { startWorker, authorizeQuery, admin, adminRun, Session, ROOT, USERNAME, PASSWORD } from './harness.mjs';

const LANGS = ['en', 'ar', 'de', 'es', 'fr', 'hi', 'it', 'ja', 'nl', 'pt-BR'];
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const SHOTS = join(ROOT, 'target/screenshots');

/** A catalogue's texts, as static/lang/<tag>.txt writes them. */
function catalogue(tag) {
  const texts = {};
  for (const line of readFileSync(join(ROOT, `static/lang/${tag}.txt`), 'utf8').split('\n')) {
    const m = line.match(/^([a-z_]+) = (.*)$/);
    if (m) texts[m[1]] = m[2];
  }
  return texts;
}
/** A text as the page shows it: askama escapes these five. */
const escaped = (s) => s.replace(/&/g, '&#38;').replace(/</g, '&#60;').replace(/>/g, '&#62;').replace(/"/g, '&#34;').replace(/'/g, '&#39;');
const TEXTS = Object.fromEntries(LANGS.map((l) => [l, catalogue(l)]));

let worker;
before(async () => {
  worker = await startWorker({ vars: { ACCOUNT_PAGES: 'on' } });
  // The operator's texts, before any page has been asked for: a German text
  // of their own, and Swedish, which is not built in.
  const dir = join(tmpdir(), `lang-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'de.txt'), 'login_scopes = Beispiel GmbH erlaubt damit:\n');
  writeFileSync(join(dir, 'sv.txt'), 'sign_in = Logga in\nlogin_submit = Logga in och länka\n');
  writeFileSync(join(dir, 'bad.txt'), 'login_title = Anmelden\n');
  admin(worker.state, ['texts', 'set', 'de', join(dir, 'de.txt')]);
  admin(worker.state, ['texts', 'set', 'sv', join(dir, 'sv.txt')]);
  // A placeholder left out is refused, and nothing is stored.
  const bad = adminRun(worker.state, ['texts', 'set', 'fr', join(dir, 'bad.txt')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /login_title must hold \["client"\]/);
  assert.match(admin(worker.state, ['texts', 'list']), /^de {2}\(with your texts\)$[\s\S]*^sv {2}\(yours\)$/m);
});
after(() => worker?.stop());

/** GET /authorize with these headers and extra query parameters. */
async function loginPage(headers = {}, extra = {}) {
  const r = await fetch(`${worker.base}/authorize?${authorizeQuery({ extra })}`, { headers: { 'cf-connecting-ip': '198.51.100.90', ...headers } });
  return { status: r.status, headers: r.headers, html: await r.text() };
}

const langOf = (html) => html.match(/<html lang="([^"]+)" dir="(ltr|rtl)">/).slice(1);

test('each language, by Accept-Language and by ui_locales: the page, <html lang dir>, Content-Language, Vary', async () => {
  for (const tag of LANGS) {
    const byHeader = await loginPage({ 'accept-language': tag });
    assert.equal(byHeader.status, 200);
    assert.deepEqual(langOf(byHeader.html), [tag, tag === 'ar' ? 'rtl' : 'ltr']);
    assert.equal(byHeader.headers.get('content-language'), tag);
    assert.equal(byHeader.headers.get('vary'), 'Accept-Language');
    assert.ok(byHeader.html.includes(escaped(TEXTS[tag].login_submit)), `${tag}: ${TEXTS[tag].login_submit}`);
    assert.ok(byHeader.html.includes(escaped(TEXTS[tag].cancel)), tag);
    assert.ok(byHeader.html.includes(`<input type="hidden" name="lang" value="${tag}">`), tag);

    // ui_locales comes before the header, and then the header does not decide.
    const byParam = await loginPage({ 'accept-language': 'nl' }, { ui_locales: `xx ${tag}` });
    assert.deepEqual(langOf(byParam.html)[0], tag);
    assert.equal(byParam.headers.get('content-language'), tag);
    assert.equal(byParam.headers.get('vary'), null);
  }
});

test('q-values and prefixes choose; what matches nothing is English', async () => {
  for (const [header, want] of [
    ['en;q=0.5, ja;q=0.8', 'ja'],
    ['fr;q=0, it;q=0.3', 'it'],
    ['pt', 'pt-BR'],
    ['pt-PT,pt;q=0.9', 'pt-BR'],
    ['de-AT', 'de'],
    ['zh-CN, ko;q=0.9', 'en'],
    ['*', 'en'],
  ]) {
    const page = await loginPage({ 'accept-language': header });
    assert.equal(langOf(page.html)[0], want, header);
    assert.equal(page.headers.get('content-language'), want, header);
  }
  const none = await loginPage();
  assert.equal(langOf(none.html)[0], 'en');
  assert.equal(none.headers.get('vary'), 'Accept-Language');
});

test('a wrong password is answered in the language of the GET, whatever the POST says', async () => {
  const browser = new Session(worker.base, '198.51.100.91');
  const page = await browser.fetch(`/authorize?${authorizeQuery({ extra: { ui_locales: 'ja' } })}`, { headers: { 'accept-language': 'de' } });
  assert.equal(langOf(page.html)[0], 'ja');
  const wrong = await browser.post(page, '/authorize', { username: USERNAME, password: 'not the password', action: 'login' });
  assert.equal(wrong.status, 401);
  assert.equal(langOf(wrong.html)[0], 'ja');
  assert.ok(wrong.html.includes(escaped(TEXTS.ja.wrong_password)), wrong.html);
  // And then the right one links.
  const right = await browser.post(wrong, '/authorize', { username: USERNAME, password: PASSWORD, action: 'login' });
  assert.equal(right.status, 303);
  assert.ok(new URL(right.location).searchParams.get('code'));
});

test('the account page in German, signed in, and the message pages', async () => {
  const browser = new Session(worker.base, '198.51.100.92');
  const de = { headers: { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' } };
  const page = await browser.fetch('/account', de);
  assert.equal(langOf(page.html)[0], 'de');
  assert.ok(page.html.includes(escaped(TEXTS.de.account_intro)));
  const wrong = await browser.post(page, '/account', { username: USERNAME, password: 'nope', action: 'signin' });
  assert.equal(wrong.status, 401);
  assert.ok(wrong.html.includes(escaped(TEXTS.de.wrong_password)));
  const signedIn = await browser.post(wrong, '/account', { username: USERNAME, password: PASSWORD, action: 'signin' });
  assert.equal(signedIn.status, 303);
  const mine = await browser.fetch('/account', de);
  assert.match(mine.html, /Angemeldet als <strong>[^<]+<\/strong> \(alice\)\./);
  assert.ok(mine.html.includes(escaped(TEXTS.de.sign_out)));

  // A page for an unknown client, in Japanese; an unknown invitation in Arabic.
  const unknown = await fetch(`${worker.base}/authorize?response_type=code&client_id=nobody&ui_locales=ja`);
  assert.equal(unknown.status, 400);
  assert.ok((await unknown.text()).includes(escaped(TEXTS.ja.unknown_client)));
  const invite = await fetch(`${worker.base}/invite/${'A'.repeat(43)}`, { headers: { 'accept-language': 'ar' } });
  assert.equal(invite.status, 404);
  const html = await invite.text();
  assert.deepEqual(langOf(html), ['ar', 'rtl']);
  assert.ok(html.includes(escaped(TEXTS.ar.link_broken)));
});

test("the operator's texts: one German text replaced, Swedish added, the rest built in or English", async () => {
  const de = await loginPage({ 'accept-language': 'de' });
  assert.ok(de.html.includes('Beispiel GmbH erlaubt damit:'));
  assert.ok(de.html.includes(escaped(TEXTS.de.login_submit)));
  const sv = await loginPage({ 'accept-language': 'sv-SE, en;q=0.5' });
  assert.equal(langOf(sv.html)[0], 'sv');
  assert.ok(sv.html.includes('Logga in och länka'));
  assert.ok(sv.html.includes(escaped(TEXTS.en.cancel)), 'a text Swedish lacks is English');
  // OAuth's JSON errors stay English.
  const token = await fetch(`${worker.base}/token`, { method: 'POST', headers: { 'accept-language': 'de', 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password' });
  assert.match((await token.json()).error, /^[a-z_]+$/);
  assert.equal(token.headers.get('content-language'), null);
});

const skip = CHROMIUM ? false : 'no Chromium on this machine (scripts/setup-browser.sh installs it on Debian)';

test('in Chromium at 390×844 and 1280×800: German, Japanese, Hindi and Arabic fit, Arabic reads right to left', { skip }, async () => {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    for (const viewport of [{ width: 390, height: 844 }, { width: 1280, height: 800 }]) {
      for (const tag of ['de', 'ja', 'hi', 'ar', 'account-de']) {
        const lang = tag.replace('account-', '');
        const context = await browser.newContext({ viewport, locale: lang, extraHTTPHeaders: { 'accept-language': lang } });
        const page = await context.newPage();
        const path = tag.startsWith('account') ? '/account' : `/authorize?${authorizeQuery({ scope: 'smart_home profile' })}`;
        await page.goto(`${worker.base}${path}`);
        const seen = await page.evaluate(() => ({
          lang: document.documentElement.lang,
          direction: getComputedStyle(document.documentElement).direction,
          scrollWidth: document.documentElement.scrollWidth,
          widest: Math.max(...[...document.querySelectorAll('main *')].map((e) => e.getBoundingClientRect().right)),
          cardLeft: document.querySelector('main').getBoundingClientRect().left,
          label: document.querySelector('label[for=username]')?.getBoundingClientRect(),
          input: document.querySelector('#username')?.getBoundingClientRect(),
        }));
        assert.equal(seen.lang, lang, tag);
        assert.ok(seen.scrollWidth <= viewport.width, `${tag} at ${viewport.width}: scrollWidth ${seen.scrollWidth}`);
        assert.ok(seen.widest <= viewport.width, `${tag} at ${viewport.width}: an element ends at ${seen.widest}`);
        assert.equal(seen.direction, lang === 'ar' ? 'rtl' : 'ltr', tag);
        if (lang === 'ar') {
          // Right to left: the label starts at the input's right edge.
          assert.ok(Math.abs(seen.label.right - seen.input.right) < 2, JSON.stringify(seen));
        }
        await page.screenshot({ path: join(SHOTS, `lang-${tag}-${viewport.width}.png`), fullPage: true });
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }
});
