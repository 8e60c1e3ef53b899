#!/usr/bin/env node
// The link checker: performs the whole Alexa account link against a running
// server, local or deployed, and prints one line per step: PASS, FAIL with the
// reason and the fix, or SKIP. Exits 1 if any step failed.
//
//   CLIENT_SECRET=… PASSWORD=… npm run check-link -- --base https://auth.example.com \
//       --client-id alexa-skill --vendor-id M2AAAAAAAAAAAA --username linktest
//
// Secrets come from the environment (CLIENT_SECRET, PASSWORD), never from argv.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const ALEXA_HOSTS = ['pitangui.amazon.com', 'layla.amazon.com', 'alexa.amazon.co.jp'];
const ALEXA_DEADLINE_MS = 4500;

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    'client-id': { type: 'string' },
    'vendor-id': { type: 'string' },
    username: { type: 'string' },
    scope: { type: 'string', default: 'smart_home' },
    help: { type: 'boolean', short: 'h' },
  },
});
const secret = process.env.CLIENT_SECRET;
const password = process.env.PASSWORD;
if (opt.help || !opt.base || !opt['client-id'] || !opt['vendor-id'] || !opt.username || !secret || !password) {
  console.log(`usage: CLIENT_SECRET=… PASSWORD=… npm run check-link -- --base URL --client-id ID \\
         --vendor-id VENDOR_ID --username USER [--scope "smart_home"]

Runs the Alexa account link against URL: metadata, each regional redirect URI,
login, code exchange with HTTP Basic and with body credentials, PKCE, a refresh
and a retried refresh, /userinfo, and for https the port and the certificate.`);
  process.exit(opt.help ? 0 : 2);
}

const base = new URL(opt.base.replace(/\/+$/, ''));
const clientId = opt['client-id'];
const redirects = ALEXA_HOSTS.map((h) => `https://${h}/api/skill/link/${opt['vendor-id']}`);
let failed = 0;

function report(status, step, detail = '', fix = '') {
  if (status === 'FAIL') failed += 1;
  const line = [`${status.padEnd(4)}  ${step}`, detail && `: ${detail}`, fix && `. Fix: ${fix}`].join('');
  console.log(line);
}

/** One HTTP request. Certificates are not checked here; the certificate step does that. */
function request(method, url, { headers = {}, body } = {}) {
  const u = new URL(url, base);
  const lib = u.protocol === 'https:' ? https : http;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = lib.request(u, { method, headers, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data, ms: Date.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const json = (r) => { try { return JSON.parse(r.body); } catch { return {}; } };
const FORM = { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' };
const isLoopback = ['localhost', '127.0.0.1', '[::1]'].includes(base.hostname);

/** Checks the certificate chain against Node's bundled public (Mozilla) roots. */
function checkCertificate() {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: base.hostname, port: Number(base.port || 443), servername: isLoopback ? undefined : base.hostname, rejectUnauthorized: false }, () => {
      const { authorized, authorizationError } = socket;
      socket.end();
      resolve(authorized ? null : String(authorizationError));
    });
    socket.on('error', (e) => resolve(e.message));
    socket.setTimeout(10_000, () => { socket.destroy(); resolve('no TLS answer within 10 s'); });
  });
}

async function transport() {
  if (base.protocol !== 'https:') {
    report(isLoopback ? 'SKIP' : 'FAIL', 'https', `${base.protocol}// URL`,
      isLoopback ? '' : 'Alexa calls only https:// on port 443; attach a custom domain to the Worker');
    return;
  }
  const port = Number(base.port || 443);
  if (port === 443) report('PASS', 'port 443');
  else if (isLoopback) report('SKIP', 'port 443', `local address on port ${port}; the deployed URL must use 443`);
  else report('FAIL', 'port 443', `the URL uses port ${port}`, 'Alexa calls only port 443: serve the Worker on a custom domain without a port');
  const problem = await checkCertificate();
  if (!problem) report('PASS', 'certificate', 'the chain verifies against public roots');
  else report('FAIL', 'certificate', `the chain does not verify against public roots (${problem})`,
    'serve the Worker through Cloudflare\'s edge on a custom domain, whose certificate comes from a public CA; Alexa refuses self-signed or private-CA certificates');
}

let endpoints = { authorization_endpoint: '/authorize', token_endpoint: '/token', userinfo_endpoint: '/userinfo' };

async function metadata() {
  const r = await request('GET', '/.well-known/oauth-authorization-server');
  const doc = json(r);
  if (r.status === 200 && doc.authorization_endpoint && doc.token_endpoint) {
    endpoints = { ...endpoints, ...doc };
    report('PASS', 'metadata', `authorize ${doc.authorization_endpoint}, token ${doc.token_endpoint}`);
  } else {
    report('FAIL', 'metadata', `GET /.well-known/oauth-authorization-server answered ${r.status}`, 'check the base URL, and that the latest Worker is deployed');
  }
}

function authorizeUrl(redirect, extra = {}) {
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirect, state: 'check ' + randomBytes(6).toString('hex'), scope: opt.scope, ...extra });
  return `${endpoints.authorization_endpoint}?${q}`;
}

async function redirectUris() {
  for (const redirect of redirects) {
    const step = `redirect ${new URL(redirect).hostname}`;
    const r = await request('GET', authorizeUrl(redirect));
    if (r.status === 200 && /name="password"/.test(r.body)) report('PASS', step);
    else if (r.status === 400) report('FAIL', step, `the login page was refused (${r.status}): ${redirect} is not registered for ${clientId}, or the client is unknown`, `register all three with: cargo run --bin admin -- --remote client update --id ${clientId} --alexa ${opt["vendor-id"]}`);
    else if (r.status === 302) report('FAIL', step, `redirected with ${new URL(r.headers.location).searchParams.get('error')}`, 'check the scope against the client\'s registered scopes');
    else report('FAIL', step, `answered ${r.status}`, 'check the authorization URI');
  }
}

/** Logs in and returns the code, or reports why not. */
async function login(step, redirect, extra = {}) {
  const url = authorizeUrl(redirect, extra);
  const state = new URL(url, base).searchParams.get('state');
  const page = await request('GET', url);
  if (page.status !== 200) { report('FAIL', step, `login page answered ${page.status}`); return null; }
  const cookie = String(page.headers['set-cookie'] || '').split(';')[0];
  const fields = new URLSearchParams();
  const login = page.body.slice(page.body.indexOf('action="/authorize"'));
  for (const m of login.slice(0, login.indexOf('</form>')).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.append(m[1], m[2].replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&'));
  }
  fields.append('username', opt.username);
  fields.append('password', password);
  fields.append('action', 'login');
  const r = await request('POST', endpoints.authorization_endpoint, { headers: { ...FORM, cookie }, body: fields.toString() });
  if (r.status === 401) { report('FAIL', step, 'the username or password was refused', `set it with: printf '%s' "$PASSWORD" | cargo run --bin admin -- --remote user passwd --username ${opt.username}`); return null; }
  if (r.status !== 303 && r.status !== 302) { report('FAIL', step, `the login answered ${r.status}`); return null; }
  const loc = new URL(r.headers.location);
  if (`${loc.origin}${loc.pathname}` !== redirect) { report('FAIL', step, `redirected to ${loc.origin}${loc.pathname}, not ${redirect}`); return null; }
  if (loc.searchParams.get('state') !== state) { report('FAIL', step, 'state did not come back unchanged', 'Alexa rejects a changed state'); return null; }
  const code = loc.searchParams.get('code');
  if (!code) { report('FAIL', step, `no code, error=${loc.searchParams.get('error')}`); return null; }
  return code;
}

/** Posts to the token endpoint as Alexa does, and checks the answer's shape. */
async function tokenRequest(step, params, auth) {
  const headers = { ...FORM };
  const body = new URLSearchParams(params);
  if (auth === 'basic') headers.authorization = 'Basic ' + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
  else { body.append('client_id', clientId); body.append('client_secret', secret); }
  const r = await request('POST', endpoints.token_endpoint, { headers, body: body.toString() });
  const t = json(r);
  const fixes = {
    invalid_client: `the client secret was refused: check it, and the console's Authentication Scheme (${auth === 'basic' ? 'HTTP Basic' : 'Credentials in request body'})`,
    invalid_grant: 'the code or refresh token was refused: see the Worker\'s logs (wrangler tail) for the reason',
  };
  if (r.status !== 200) { report('FAIL', step, `${r.status} ${t.error || ''} ${t.error_description || ''}`.trim(), fixes[t.error] || 'see the Worker\'s logs (wrangler tail)'); return null; }
  const problems = [];
  if (t.token_type !== 'Bearer') problems.push('token_type is not Bearer');
  if (!Number.isInteger(t.expires_in)) problems.push('expires_in is not an integer');
  if (!t.access_token) problems.push('no access_token');
  if (!t.refresh_token) problems.push('no refresh_token');
  if (r.ms > ALEXA_DEADLINE_MS) problems.push(`answered in ${r.ms} ms; Alexa gives up after 4.5 s`);
  if (problems.length) { report('FAIL', step, problems.join(', ')); return null; }
  report('PASS', step, `${r.ms} ms, expires_in ${t.expires_in}`);
  return t;
}

async function main() {
  console.log(`Checking the Alexa account link at ${base.origin} for client ${clientId}`);
  await transport();
  await metadata();
  await redirectUris();

  const [pitangui, layla, jp] = redirects;
  let code = await login('login', layla);
  if (code) report('PASS', 'login', 'redirected with a code and the unchanged state');
  const basic = code && await tokenRequest('code exchange (HTTP Basic)', { grant_type: 'authorization_code', code, redirect_uri: layla }, 'basic');

  code = await login('code exchange (body credentials)', pitangui);
  if (code) await tokenRequest('code exchange (body credentials)', { grant_type: 'authorization_code', code, redirect_uri: pitangui }, 'body');

  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  code = await login('PKCE S256', jp, { code_challenge: challenge, code_challenge_method: 'S256' });
  if (code) await tokenRequest('PKCE S256', { grant_type: 'authorization_code', code, redirect_uri: jp, code_verifier: verifier }, 'body');

  if (basic) {
    const refreshed = await tokenRequest('refresh', { grant_type: 'refresh_token', refresh_token: basic.refresh_token }, 'basic');
    // Alexa retries with the same refresh token when an answer is lost.
    if (refreshed) await tokenRequest('retried refresh', { grant_type: 'refresh_token', refresh_token: basic.refresh_token }, 'basic');
    const r = await request('GET', endpoints.userinfo_endpoint, { headers: { authorization: `Bearer ${(refreshed || basic).access_token}` } });
    if (r.status === 404) report('SKIP', 'userinfo', 'this server has no /userinfo');
    else if (r.status === 200 && json(r).sub) report('PASS', 'userinfo', `sub ${json(r).sub}`);
    else report('FAIL', 'userinfo', `answered ${r.status}`, 'check SIGNING_KEY and the Worker\'s logs');
  } else {
    report('FAIL', 'refresh', 'skipped: no tokens from the code exchange');
  }
  console.log(failed ? `${failed} step(s) failed` : 'all steps passed');
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  report('FAIL', 'connection', e.message, 'check the base URL and that the Worker is running');
  process.exit(1);
});
