// Starts the built Worker under `wrangler dev` on a free port with fresh local
// KV, seeded through the admin command, and speaks HTTP to it as Alexa does.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { randomBytes, createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

// wrangler dev closes idle keep-alive connections after a few seconds, and Node's
// fetch can pick such a socket and fail before anything is sent ("other side
// closed"). Tests that pause (the admin ones, whose synchronous `admin` calls
// block the event loop) would flake on that. Several pooled sockets can have
// been closed meanwhile, and the pool learns of it only once the event loop
// runs: so wait a moment and retry, a few times.
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await realFetch(url, init);
    } catch (e) {
      if (e?.cause?.code !== 'UND_ERR_SOCKET' || attempt === 4) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
};

export const ROOT = resolve(import.meta.dirname, '../..');
export const VENDOR = 'M2E2ETESTVENDOR';
export const REDIRECTS = ['pitangui.amazon.com', 'layla.amazon.com', 'alexa.amazon.co.jp']
  .map((host) => `https://${host}/api/skill/link/${VENDOR}`);
export const CLIENT_ID = 'alexa-e2e';
export const MACHINE_ID = 'machine-e2e';
// E2E_RUN (scripts/test.sh sets one per run) makes the seeded secrets the same
// in every test file of a run, so that the seeded state is made once per run
// and copied (see `seeded`); without it each file has its own.
const RUN = process.env.E2E_RUN || randomBytes(16).toString('hex');
const derived = (what, bytes) => createHmac('sha256', RUN).update(what).digest().subarray(0, bytes).toString('base64url');
export const SECRET = derived('client secret', 32);
export const USERNAME = 'alice';
export const PASSWORD = 'e2e ' + derived('password', 12);
export const SIGNING_KEY = randomBytes(48).toString('base64url');
/** Every secret value the helpers below send or receive, for the log check. */
export const SECRETS_SEEN = new Set();
const seen = (...values) => values.filter((v) => v && v.length >= 8).forEach((v) => SECRETS_SEEN.add(v));
/** Configured as SIGNING_KEY_PREVIOUS: verifies, never signs. */
export const PREVIOUS_KEY = randomBytes(48).toString('base64url');

// No config watching: no test edits a Worker's wrangler.toml while it runs, and
// a reload under load answers the requests in flight with a 503 ("Your worker
// restarted mid-request").
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_CI_DISABLE_CONFIG_WATCHING: 'true' };

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
    srv.on('error', fail);
  });
}

/** Runs the admin command on a state folder; `extraEnv` adds to its environment. */
export function admin(state, args, stdin, extraEnv = {}) {
  return execFileSync(join(ROOT, 'target/debug/admin'), ['--local', '--persist-to', state, ...args], {
    cwd: ROOT, input: stdin, env: { ...env, ...extraEnv }, encoding: 'utf8',
  });
}

/** The same, without throwing: { status, stdout, stderr }. */
export function adminRun(state, args, { input, extraEnv = {} } = {}) {
  const r = spawnSync(join(ROOT, 'target/debug/admin'), ['--local', '--persist-to', state, ...args], {
    cwd: ROOT, input, env: { ...env, ...extraEnv }, encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A state folder holding the two clients and the user every Worker starts
 * with, made by the admin command the first time a run asks for it (eight
 * wrangler calls, about 10 s) and copied after that. Made under a temporary
 * name and renamed, so a file running beside this one never copies half of one.
 */
let seeds;
function seeded(rotation) {
  if (!seeds) {
    // Shared by the run's files under target/ (scripts/test.sh empties it), or
    // this process's own.
    seeds = process.env.E2E_RUN ? join(ROOT, 'target/e2e-seeds') : mkdtempSync(join(tmpdir(), 'alexa-oauth-e2e-seeds-'));
    mkdirSync(seeds, { recursive: true });
    if (!process.env.E2E_RUN) process.on('exit', () => rmSync(seeds, { recursive: true, force: true }));
  }
  const dir = join(seeds, createHash('sha256')
    .update(`${RUN} ${rotation ?? 'default'} ${readFileSync(import.meta.filename, 'utf8')}`).digest('hex').slice(0, 16));
  if (existsSync(dir)) return dir;
  const making = mkdtempSync(`${dir}.making-`);
  admin(making, ['client', 'add', '--id', CLIENT_ID, '--name', 'E2E Skill', '--alexa', VENDOR,
    '--scope', 'smart_home profile', '--secret-stdin', ...(rotation ? ['--refresh-rotation', rotation] : [])], SECRET);
  admin(making, ['client', 'add', '--id', MACHINE_ID, '--name', 'Machine', '--scope', 'metrics',
    '--grant-types', 'client_credentials,refresh_token', '--secret-stdin'], SECRET);
  admin(making, ['user', 'add', '--username', USERNAME, '--display-name', 'Alice', '--password-stdin'], PASSWORD);
  try {
    renameSync(making, dir);
  } catch (e) {
    // Another file made it first: theirs is as good.
    if (!existsSync(dir)) throw e;
    rmSync(making, { recursive: true, force: true });
  }
  return dir;
}

/** Answers GET / with its status, accepting a self-signed certificate. */
export function probe(base) {
  return new Promise((resolve) => {
    const lib = base.startsWith('https') ? https : http;
    const req = lib.get(`${base}/`, { rejectUnauthorized: false }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', () => resolve(0));
  });
}

/**
 * Starts the Worker; resolves to { base, state, logs(), stop() } once it answers.
 * `https: true` serves it with wrangler's self-signed certificate; `vars` are
 * passed as `--var NAME:VALUE`; `durable: true` keeps grants in Durable Objects
 * (the same build, with GRANT_STORE = "DO" and the binding wrangler.toml
 * has commented out); `envFile` ({ NAME: value }) is written to a file
 * passed with `--env-file`, as an operator's .env is; `main` runs another build's `index.js` (bench/profile.mjs); `rotation`
 * ('never' or 'always') is the Alexa client's refresh policy, left to
 * admin's default when unset; `seed: false` starts on an empty namespace
 * (no clients, no users), in `state` if given.
 */
export async function startWorker({ https: useHttps = false, vars = {}, durable = false, envFile, main, rotation, seed = true, state: given } = {}) {
  const state = given ?? mkdtempSync(join(tmpdir(), 'alexa-oauth-e2e-'));
  if (seed) cpSync(seeded(rotation), state, { recursive: true });

  // The project's wrangler.toml without its [build] table: `npm test` has built
  // the Worker already, and wrangler's file watcher could otherwise rebuild and
  // reload it in the middle of a test.
  // In a folder of its own: wrangler watches the config's folder (for .dev.vars),
  // and KV writes in the state folder next to it made it restart the Worker
  // mid-request under load.
  const configDir = mkdtempSync(join(tmpdir(), 'alexa-oauth-e2e-config-'));
  const config = join(configDir, 'wrangler.toml');
  writeFileSync(config, readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
    .replace(/^\[build\][\s\S]*?(?=^\[)/m, '')
    .replace(/^main = .*$/m, `main = ${JSON.stringify(join(ROOT, main ?? 'build/index.js'))}`)
    // Durable Object mode: the binding and migration wrangler.toml has
    // commented out (a binding cannot be a variable), and GRANT_STORE there,
    // where admin reads it too (tests/e2e/one-build.test.mjs sets it by an
    // env file instead).
    .replace(/^GRANT_STORE = .*$/m, `GRANT_STORE = "${durable && !envFile?.GRANT_STORE ? 'DO' : 'KV'}"`)
    .replace(/^# (\[\[durable_objects\.bindings\]\]|name = "GRANTS"|class_name = "GrantObject"|\[\[migrations\]\]|tag = "v1"|new_sqlite_classes = .*)$/gm, durable ? '$1' : '# $1'));

  const envArgs = [];
  if (envFile) {
    // Double-quoted, so that a PEM key's line breaks survive as \n.
    const path = join(configDir, 'settings.env');
    writeFileSync(path, Object.entries(envFile).map(([k, v]) => `${k}="${v.replaceAll('\n', '\\n')}"\n`).join(''));
    envArgs.push('--env-file', path);
  }
  const port = await freePort();
  const inspector = await freePort();
  const child = spawn(join(ROOT, 'node_modules/.bin/wrangler'), [
    'dev', '--config', config, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
    '--persist-to', state, '--var', `SIGNING_KEY:${SIGNING_KEY}`, '--var', `SIGNING_KEY_PREVIOUS:${PREVIOUS_KEY}`, '--show-interactive-dev-session=false',
    ...(useHttps ? ['--local-protocol', 'https'] : []),
    ...envArgs,
    ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
  ], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `${useHttps ? 'https' : 'http'}://127.0.0.1:${port}`;
  const stop = () => {
    try { process.kill(-child.pid, 'SIGTERM'); } catch {}
    // The runtime may still be writing its state for a moment after the
    // signal: retry, and never let a leftover folder fail (or hide the real
    // failure of) a test.
    for (const dir of [state, configDir]) {
      try { rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 }); } catch {}
    }
  };
  const deadline = Date.now() + 240_000; // the first start may build the wasm
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    if (await probe(base) === 200) break;
    if (Date.now() > deadline) { stop(); throw new Error(`wrangler dev did not answer:\n${output}`); }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { base, state, configDir, inspector, stop, logs: () => output };
}

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

/** The part of a page that is the form posting to `action` (each provider button is a form of its own). */
export function formOf(html, action) {
  const at = html.indexOf(`action="${action}"`);
  if (at < 0) throw new Error(`no form posting to ${action}`);
  const form = html.slice(at);
  return form.slice(0, form.indexOf('</form>'));
}

export function unescapeHtml(s) {
  const named = { quot: '"', lt: '<', gt: '>', amp: '&', apos: "'" };
  return s.replace(/&(#(\d+)|[a-z]+);/g, (m, name, code) => (code ? String.fromCharCode(Number(code)) : named[name] ?? m));
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

/** GET /userinfo with a bearer token: { status, body }. */
export async function userinfo(base, accessToken) {
  const r = await fetch(`${base}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: r.status, body: await r.json() };
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
 * Every persisted file under the state folder and a hash of its bytes. SQLite's
 * shared-memory index (`-shm`) changes on reads, so it is left out; its
 * write-ahead log (`-wal`) and databases, and KV's value blobs, are in.
 */
export function snapshot(dir) {
  const files = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (!name.endsWith('-shm')) files.set(relative(dir, path), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(dir);
  return files;
}

/** The files whose bytes differ between two snapshots. */
export function changed(before, after) {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].filter((n) => before.get(n) !== after.get(n));
}

/** A browser's cookies, kept across fetches. */
export class Session {
  constructor(base, ip) { this.base = base; this.ip = ip; this.cookies = new Map(); }
  async fetch(path, init = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(`${this.base}${path}`, {
      redirect: 'manual', ...init,
      headers: { 'cf-connecting-ip': this.ip, ...(cookie ? { cookie } : {}), ...(init.headers ?? {}) },
    });
    for (const set of r.headers.getSetCookie()) {
      const [pair] = set.split(';');
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      if (value) this.cookies.set(name, value); else this.cookies.delete(name);
    }
    return { status: r.status, location: r.headers.get('location'), html: await r.text() };
  }
  /** Posts the first form of `page` that posts to `action`: its hidden fields, then `fields`. */
  post(page, action, fields) {
    const form = new URLSearchParams();
    for (const m of formOf(page.html, action).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      if (!(m[1] in fields)) form.append(m[1], unescapeHtml(m[2]));
    }
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    return this.fetch(action, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }
}
