// Alexa's side: the login page as the Alexa app's browser goes through it, and
// /token as Alexa's servers call it; the skill's /userinfo and token checks.
import { createHmac, randomBytes } from 'node:crypto';
import { formOf, unescapeHtml } from './browser.mjs';
import { CLIENT_ID, PASSWORD, REDIRECTS, SECRET, SIGNING_KEY, USERNAME, seen } from './run.mjs';

export function authorizeQuery({ redirect = REDIRECTS[0], state = 'st ate/+&1', scope = 'smart_home', extra = {} } = {}) {
  const q = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: redirect, state, scope, ...extra });
  return q.toString();
}

/** A random address in 10.0.0.0/8, so each simulated person has their own attempt limits. */
export function someAddress() {
  const b = randomBytes(3);
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}

/**
 * GET /authorize, then posts the login form as a browser would; returns the
 * POST's response. `ip` is the browser's address (CF-Connecting-IP; default: a
 * new one per call), `cookie` cookies it already holds.
 */
export async function login(base, query, { username = USERNAME, password = PASSWORD, action = 'login', ip = someAddress(), cookie: held } = {}) {
  const from = { 'cf-connecting-ip': ip, ...(held ? { cookie: held } : {}) };
  const page = await fetch(`${base}/authorize?${query}`, { redirect: 'manual', headers: from });
  if (page.status !== 200) throw new Error(`authorize page: ${page.status} ${await page.text()}`);
  const cookie = page.headers.get('set-cookie').split(';')[0];
  const html = await page.text();
  seen(cookie.split('=')[1], password);
  const form = new URLSearchParams();
  for (const m of formOf(html, '/authorize').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    form.append(m[1], unescapeHtml(m[2]));
  }
  seen(form.get('csrf'));
  form.append('username', username);
  form.append('password', password);
  form.append('action', action);
  const r = await fetch(`${base}/authorize`, {
    method: 'POST', redirect: 'manual', body: form.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': ip, cookie: held ? `${cookie}; ${held}` : cookie },
  });
  const location = r.headers.get('location');
  if (location) seen(new URL(location).searchParams.get('code'));
  return r;
}

/** POST /token the way Alexa's Java client does; `auth` is 'basic' or 'body'. */
export async function token(base, params, { auth = 'body', id = CLIENT_ID, secret = SECRET, ip } = {}) {
  const body = new URLSearchParams(params);
  const headers = { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', ...(ip ? { 'cf-connecting-ip': ip } : {}) };
  if (auth === 'basic') {
    headers.authorization = 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
  } else if (auth === 'body') {
    body.append('client_id', id);
    body.append('client_secret', secret);
  }
  seen(secret, headers.authorization, body.get('code'), body.get('refresh_token'), body.get('code_verifier'));
  const r = await fetch(`${base}/token`, { method: 'POST', headers, body: body.toString() });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`/token answered ${r.status} with a non-JSON body: ${text.slice(0, 300)}`);
  }
  seen(json.access_token, json.refresh_token);
  return { status: r.status, headers: r.headers, json };
}

/**
 * Links as Alexa does: the login page through `redirect` (one of the three
 * regional URIs), then the code at /token; gives /token's JSON. The other
 * options go to `login` (username, password, ip) and `token` (auth).
 */
export async function link(base, { redirect = REDIRECTS[0], ...opts } = {}) {
  const r = await login(base, authorizeQuery({ redirect }), opts);
  if (r.status !== 303) throw new Error(`the login page answered ${r.status}: ${await r.text()}`);
  const code = new URL(r.headers.get('location')).searchParams.get('code');
  const t = await token(base, { grant_type: 'authorization_code', code, redirect_uri: redirect }, opts);
  if (t.status !== 200) throw new Error(`/token answered ${t.status}: ${JSON.stringify(t.json)}`);
  return t.json;
}

/** A refresh as Alexa sends it: { status, headers, json }. */
export function refresh(base, refreshToken, opts = {}) {
  return token(base, { grant_type: 'refresh_token', refresh_token: refreshToken }, opts);
}

/** GET /userinfo with a bearer token: { status, headers, body }, the body parsed when it is JSON. */
export async function userinfo(base, accessToken) {
  const r = await fetch(`${base}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
  const text = await r.text();
  let body = text;
  try { body = JSON.parse(text); } catch {}
  return { status: r.status, headers: r.headers, body };
}

/** Checks an HS256 JWT's signature with the test's key and returns its claims. */
export function verifyJwt(jwt, key = SIGNING_KEY) {
  const [h, p, s] = jwt.split('.');
  const mac = createHmac('sha256', key).update(`${h}.${p}`).digest('base64url');
  if (mac !== s) throw new Error('bad signature');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), claims: JSON.parse(Buffer.from(p, 'base64url')) };
}

/** The kid the server derives from a key (see src/jwt.rs). */
export function kidOf(key) {
  return createHmac('sha256', key).update('alexa-oauth key id').digest().subarray(0, 9).toString('base64url');
}

/** Signs claims as the server would, with any key: for rotation and expiry tests. */
export function signJwt(claims, key, header = { alg: 'HS256', typ: 'at+jwt', kid: kidOf(key) }) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc(header)}.${enc(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}


/**
 * Waits, when need be, until the attempt limiters' current window has at least
 * `seconds` left. Under wrangler dev the Rate Limiting binding counts in fixed
 * windows of its period from the epoch; a test that counts tries across a
 * window's end would see the count start again and fail for no fault of ours.
 */
export async function oneLimiterWindow(seconds = 20, period = 60) {
  const left = period - (Date.now() / 1000) % period;
  if (left < seconds) await new Promise((r) => setTimeout(r, left * 1000 + 100));
}
