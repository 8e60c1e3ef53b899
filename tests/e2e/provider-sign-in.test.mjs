// Sign-in through providers under `wrangler dev`, against the stand-in
// provider of provider.mjs on 127.0.0.1: a generic OpenID Connect provider
// (`idp`, RS256 and ES256 ID tokens checked by WebCrypto) and the `amazon`
// preset pointed at the same stand-in, which answers in Login with Amazon's
// profile format. Every misbehaviour ends with no code and no crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, authorizeQuery, login, token, admin, someAddress, unescapeHtml, formOf, REDIRECTS, USERNAME,
  SECRETS_SEEN,
} from './harness.mjs';
import { startProvider } from './provider.mjs';

let worker;
let idp;
before(async () => {
  idp = await startProvider();
  idp.authMethods = ['client_secret_basic', 'client_secret_post'];
  worker = await startWorker({
    vars: {
      SIGN_IN_PROVIDERS: 'idp amazon down',
      // A provider nobody answers for: port 9 on this machine refuses connections.
      DOWN_ISSUER: 'http://127.0.0.1:9', DOWN_CLIENT_ID: 'x', DOWN_CLIENT_SECRET: 'y',
      IDP_ISSUER: idp.base, IDP_CLIENT_ID: idp.clientId, IDP_CLIENT_SECRET: idp.clientSecret, IDP_LABEL: 'Stand-in IdP',
      AMAZON_CLIENT_ID: idp.clientId, AMAZON_CLIENT_SECRET: idp.clientSecret,
      AMAZON_AUTHORIZE_URL: `${idp.base}/authorize`, AMAZON_TOKEN_URL: `${idp.base}/token`,
      AMAZON_USERINFO_URL: `${idp.base}/user/profile`,
    },
  });
  admin(worker.state, ['user', 'update', '--username', USERNAME,
    '--add-identity', 'idp:idp-subject-alice', '--add-identity', 'amazon:amzn1.account.idp-subject-alice']);
  admin(worker.state, ['user', 'add', '--username', 'bob', '--display-name', 'Bob', '--identity', 'idp:idp-subject-bob']);
});
after(async () => {
  worker?.stop();
  await idp?.stop();
});

/**
 * Authorize, the provider's button, the provider (which approves at once),
 * then our callback: its answer, and how long each of our two steps took.
 */
async function viaProvider(name, { query = authorizeQuery(), tamper } = {}) {
  const ip = someAddress();
  const page = await fetch(`${worker.base}/authorize?${query}`, { headers: { 'cf-connecting-ip': ip } });
  assert.equal(page.status, 200);
  const html = await page.text();
  const csrf = page.headers.get('set-cookie').split(';')[0];
  // The button: a form of its own, with the page's hidden fields and CSRF token.
  const form = new URLSearchParams();
  for (const m of formOf(html, `/signin/${name}`).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.append(m[1], unescapeHtml(m[2]));
  SECRETS_SEEN.add(csrf.split('=')[1]);
  SECRETS_SEEN.add(form.get('csrf'));
  const start = await fetch(`${worker.base}/signin/${name}`, {
    method: 'POST', redirect: 'manual', body: form.toString(),
    headers: { 'cf-connecting-ip': ip, 'content-type': 'application/x-www-form-urlencoded', cookie: csrf },
  });
  if (start.status !== 303) return start;
  const cookie = `${csrf}; ${start.headers.get('set-cookie').split(';')[0]}`;
  SECRETS_SEEN.add(start.headers.get('set-cookie').split(';')[0].split('=')[1]);
  const atIdp = await fetch(start.headers.get('location'), { redirect: 'manual' });
  assert.equal(atIdp.status, 302);
  let back = atIdp.headers.get('location');
  assert.ok(back.startsWith(`${worker.base}/callback/${name}?`), back);
  if (tamper) back = tamper(back);
  return fetch(back, { redirect: 'manual', headers: { cookie, 'cf-connecting-ip': ip } });
}

test('a sign-in through a provider starts only from our login page: another site\'s link or form reaches no provider', async () => {
  const before = idp.calls.length;
  // A fresh browser: no cookie of ours. A link another site shows...
  const link = await fetch(`${worker.base}/signin/idp?${authorizeQuery()}`, { redirect: 'manual', headers: { 'cf-connecting-ip': someAddress() } });
  assert.equal(link.status, 200);
  assert.match(await link.text(), /name="csrf"/, 'our login page for the same request');
  // ...and a form another site posts, with the Alexa request and no token.
  const form = new URLSearchParams(authorizeQuery());
  const post = await fetch(`${worker.base}/signin/idp`, {
    method: 'POST', redirect: 'manual', body: form.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': someAddress() },
  });
  assert.equal(post.status, 403);
  assert.match(await post.text(), /This form has expired/);
  assert.equal(post.headers.get('location'), null);
  assert.deepEqual(idp.calls.slice(before), [], 'the provider was never reached');
});

/** The code an answer carries to Alexa, if any. */
function codeOf(r) {
  const loc = r.headers.get('location');
  if (!loc?.startsWith(REDIRECTS[0])) return undefined;
  const code = new URL(loc).searchParams.get('code');
  SECRETS_SEEN.add(code);
  return code;
}

/** Exchanges the code as Alexa does and asks /userinfo who it is. */
async function whoIs(r) {
  assert.ok([302, 303].includes(r.status), await r.clone().text());
  assert.equal(new URL(r.headers.get('location')).searchParams.get('state'), 'st ate/+&1');
  const t = await token(worker.base, { grant_type: 'authorization_code', code: codeOf(r), redirect_uri: REDIRECTS[0] }, { auth: 'basic' });
  assert.equal(t.status, 200, JSON.stringify(t.json));
  const info = await fetch(`${worker.base}/userinfo`, { headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(info.status, 200);
  return info.json();
}

let aliceSub;
test('a whole Alexa link through an OpenID Connect provider names the allowed local user', async () => {
  const byPassword = await login(worker.base, authorizeQuery());
  aliceSub = (await whoIs(byPassword)).sub;
  const alice = await whoIs(await viaProvider('idp'));
  assert.equal(alice.sub, aliceSub, 'our own sub, never the upstream one');
  assert.equal(alice.name, 'Alice');
  assert.ok(idp.calls.includes('/jwks') && idp.calls.includes('/.well-known/openid-configuration'));

  idp.alg = 'ES256';
  assert.equal((await whoIs(await viaProvider('idp'))).sub, aliceSub, 'ES256 too');
  idp.alg = 'RS256';
  const jwksBefore = idp.calls.filter((c) => c === '/jwks').length;
  idp.rotate();
  assert.equal((await whoIs(await viaProvider('idp'))).sub, aliceSub, 'a rotated key is fetched');
  assert.equal(idp.calls.filter((c) => c === '/jwks').length, jwksBefore + 1);
});

test('the amazon preset speaks Login with Amazon through the URL overrides', async () => {
  const before = idp.calls.length;
  const r = await viaProvider('amazon');
  assert.equal((await whoIs(r)).sub, aliceSub);
  assert.deepEqual(idp.calls.slice(before), ['/authorize', '/token', '/user/profile']);
});

test('a user with identities and no password links through the provider only', async () => {
  idp.subject = 'idp-subject-bob';
  try {
    const bob = await whoIs(await viaProvider('idp'));
    assert.equal(bob.name, 'Bob');
    assert.notEqual(bob.sub, aliceSub);
    assert.equal((await login(worker.base, authorizeQuery(), { username: 'bob', password: 'any password' })).status, 401);
  } finally {
    idp.subject = 'idp-subject-alice';
  }
});

test('an identity not on the allow-list gets a clear page and no code', async () => {
  idp.subject = 'a-stranger';
  try {
    const r = await viaProvider('amazon');
    assert.equal(r.status, 403);
    assert.equal(codeOf(r), undefined);
    assert.match(await r.text(), /This Amazon account is not allowed to link here/);
  } finally {
    idp.subject = 'idp-subject-alice';
  }
});

test('admin: one identity signs in as one user, and a removed identity stops signing in', async () => {
  assert.throws(() => admin(worker.state, ['user', 'add', '--username', 'carol', '--identity', 'IDP:idp-subject-alice'], ''),
    (e) => /idp:idp-subject-alice already signs in as "alice"/.test(e.stderr));
  assert.throws(() => admin(worker.state, ['user', 'add', '--username', 'carol', '--identity', 'no-colon'], ''),
    (e) => /<provider>:<subject>/.test(e.stderr));
  const amazon = 'amazon:amzn1.account.idp-subject-alice';
  admin(worker.state, ['user', 'update', '--username', USERNAME, '--remove-identity', amazon]);
  const refused = await viaProvider('amazon');
  assert.equal(refused.status, 403);
  assert.equal(codeOf(refused), undefined);
  admin(worker.state, ['user', 'update', '--username', USERNAME, '--add-identity', amazon]);
  assert.equal((await whoIs(await viaProvider('amazon'))).sub, aliceSub);
});

test('in Durable Object mode a link through the provider works the same', async () => {
  const w = await startWorker({
    durable: true,
    vars: { SIGN_IN_PROVIDERS: 'idp', IDP_ISSUER: idp.base, IDP_CLIENT_ID: idp.clientId, IDP_CLIENT_SECRET: idp.clientSecret },
  });
  const main = worker;
  try {
    admin(w.state, ['user', 'update', '--username', USERNAME, '--add-identity', 'idp:idp-subject-alice']);
    worker = w;
    const first = await whoIs(await viaProvider('idp'));
    assert.equal(first.name, 'Alice');
    const again = await whoIs(await viaProvider('idp'));
    assert.equal(again.sub, first.sub);
  } finally {
    worker = main;
    w.stop();
  }
});

for (const [mode, status] of [
  ['bad_signature', 401], ['wrong_aud', 401], ['wrong_nonce', 401], ['expired', 401], ['unknown_kid', 401],
  ['token_500', 503], ['slow', 503], ['access_denied', 403], ['tampered_state', 400],
]) {
  test(`a provider that answers ${mode} ends with no code and no crash`, async () => {
    idp.mode = mode;
    try {
      const started = Date.now();
      const r = await viaProvider('idp');
      const body = await r.text();
      assert.equal(r.status, status, body);
      assert.equal(codeOf(r), undefined);
      if (mode === 'slow') assert.ok(Date.now() - started < 6500, 'given up after 5 s');
      if (status !== 400) assert.match(body, /href="\/authorize\?|name="csrf"/, 'a way back that keeps the Alexa request');
    } finally {
      idp.mode = 'ok';
    }
    // The same Alexa request works at once after the failure.
    assert.ok(codeOf(await viaProvider('idp')));
  });
}

test('an answer that never ends is given up at 256 KiB, long before the timeout', async () => {
  idp.mode = 'endless';
  try {
    const started = Date.now();
    const r = await viaProvider('idp');
    assert.equal(r.status, 503, await r.text());
    assert.ok(Date.now() - started < 3000, `given up after ${Date.now() - started} ms, not at the 5 s timeout`);
  } finally {
    idp.mode = 'ok';
  }
});

test('a provider that cannot be reached gets the try-again page, not a crash', async () => {
  const r = await viaProvider('down');
  assert.equal(r.status, 503);
  assert.match(await r.text(), /Please try again[\s\S]*href="\/authorize\?response_type=code/);
});

test('each sign-in logs its provider and outcome, and no upstream secret', async () => {
  // Log lines reach wrangler's output a little after their answers: wait for
  // the line of the last request before this test (the unreachable provider's).
  const deadline = Date.now() + 10_000;
  while (!/"endpoint":"\/signin\/down"/.test(worker.logs()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const lines = worker.logs().split('\n').filter((l) => l.includes('"endpoint":"/callback/'))
    .map((l) => JSON.parse(l.slice(l.indexOf('{'))));
  const seen = (want) => lines.some((l) => Object.entries(want).every(([k, v]) => l[k] === v));
  assert.ok(lines.length >= 10, JSON.stringify(lines));
  assert.ok(seen({ provider: 'idp', identity: 'idp:idp-subject-alice', reason: 'signed in through the provider', status: 302 }));
  assert.ok(seen({ provider: 'idp', reason: "the ID token's signature is wrong", status: 401 }));
  assert.ok(seen({ provider: 'idp', reason: 'the provider did not answer in time', status: 503 }));
  const starts = worker.logs().split('\n').filter((l) => l.includes('"endpoint":"/signin/down"'));
  assert.match(starts.join('\n'), /"reason":"the provider could not be reached"/);
  assert.ok(seen({ provider: 'amazon', identity: 'amazon:amzn1.account.a-stranger', reason: 'the identity is not on the allow-list' }),
    'what the operator needs to allow someone');
  for (const secret of [...idp.secrets, ...SECRETS_SEEN]) {
    assert.ok(!worker.logs().includes(secret), `a secret in the logs: ${secret.slice(0, 12)}…`);
  }
});

test('the same build without SIGN_IN_PROVIDERS shows no provider and keeps password sign-in', async () => {
  // One wasm for every deployment: a provider's settings do nothing until
  // SIGN_IN_PROVIDERS names it (here --var; in production the dashboard).
  const w = await startWorker({
    vars: { IDP_ISSUER: idp.base, IDP_CLIENT_ID: idp.clientId, IDP_CLIENT_SECRET: idp.clientSecret },
  });
  const main = worker;
  try {
    worker = w;
    const page = await fetch(`${w.base}/authorize?${authorizeQuery()}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /name="password"/);
    assert.doesNotMatch(html, /\/signin\//, 'no provider button');
    const start = await fetch(`${w.base}/signin/idp?${authorizeQuery()}`, { redirect: 'manual' });
    assert.equal(start.status, 404);
    const callsBefore = idp.calls.length;
    assert.ok((await whoIs(await login(w.base, authorizeQuery()))).sub, 'a password link works');
    assert.equal(idp.calls.length, callsBefore, 'the provider is never called');
    assert.doesNotMatch(w.logs(), /"config":/, 'nothing to fix');
  } finally {
    worker = main;
    w.stop();
  }
});
