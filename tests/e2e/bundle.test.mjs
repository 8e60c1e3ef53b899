// The bundle (`npm run bundle`, dist/) as an operator without Rust uses it:
// copied to a folder of its own, with cargo and rustc off the PATH, `npm ci`
// (from npm's cache: no test reaches the internet), `npm run admin` adds a
// client and a user with the same output as the native admin,
// `npx wrangler deploy --dry-run` passes, and `npx wrangler dev` serves a
// whole link: code, token, refresh, revoke.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  freePort, probe, authorizeQuery, login, token, ROOT, CLIENT_ID, SECRET, USERNAME, PASSWORD, VENDOR, SIGNING_KEY, REDIRECTS, refresh,
} from './harness.mjs';

const DIST = join(ROOT, 'dist');
let dir;
let worker;
let output = '';

// The PATH without any folder that holds cargo or rustc.
const PATH = process.env.PATH.split(delimiter)
  .filter((d) => !['cargo', 'rustc'].some((tool) => existsSync(join(d, tool)))).join(delimiter);
const env = { ...process.env, PATH, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
delete env.CARGO_HOME;
delete env.RUSTUP_HOME;

/** Runs a command in the bundle's folder without Rust; its result. */
function inBundle(cmd, args, input) {
  return spawnSync(cmd, args, { cwd: dir, env, input, encoding: 'utf8' });
}

/** `npm run admin -- <args>` in the bundle. */
const bundledAdmin = (args, input) => inBundle('npm', ['run', '--silent', 'admin', '--', ...args], input);

before(async () => {
  assert.ok(existsSync(join(DIST, 'package.json')), 'npm test runs `npm run bundle` before this test');
  dir = mkdtempSync(join(tmpdir(), 'alexa-oauth-bundle-'));
  cpSync(DIST, dir, { recursive: true });
  for (const tool of ['cargo', 'rustc']) {
    assert.notEqual(spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status, 0, `no ${tool} on the PATH`);
  }
  const ci = inBundle('npm', ['ci', '--offline', '--no-audit', '--no-fund']);
  assert.equal(ci.status, 0, ci.stderr);
});
after(() => {
  try { process.kill(-worker.pid, 'SIGTERM'); } catch {}
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
});

test('npm run admin adds a client and a user, with the native admin\'s output', () => {
  const client = bundledAdmin(['client', 'add', '--id', CLIENT_ID, '--name', 'Bundle Skill', '--alexa', VENDOR,
    '--scope', 'smart_home', '--secret-stdin'], SECRET);
  assert.equal(client.status, 0, client.stderr);
  assert.match(client.stdout, new RegExp(`Client "${CLIENT_ID}" added`));
  const user = bundledAdmin(['user', 'add', '--username', USERNAME, '--display-name', 'Alice', '--password-stdin'], PASSWORD);
  assert.equal(user.status, 0, user.stderr);
  // The same arguments give the same output as the native build, on the same state.
  const native = (args) => spawnSync(join(ROOT, 'target/debug/admin'), args, { cwd: dir, env: { ...env, PATH: process.env.PATH }, encoding: 'utf8' });
  for (const args of [['client', 'list'], ['user', 'list'], ['--help'], ['user', 'show', '--username', USERNAME]]) {
    const [wasm, ours] = [bundledAdmin(args), native(args)];
    assert.equal(wasm.status, ours.status, args.join(' '));
    assert.equal(wasm.stdout, ours.stdout, args.join(' '));
  }
  // A failure fails the same way.
  const bad = bundledAdmin(['client', 'add', '--id', 'x', '--name', 'X', '--scope', 'a', '--alexa', VENDOR, '--secret-stdin'], 'short');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /at least 32 characters/);
});

test('npx wrangler deploy --dry-run passes', () => {
  const r = inBundle('npx', ['wrangler', 'deploy', '--dry-run']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /--dry-run: exiting now/);
});

test('npx wrangler dev serves a whole link: code, token, refresh, revoke', async () => {
  const port = await freePort();
  const inspector = await freePort();
  worker = spawn('npx', ['wrangler', 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
    '--var', `SIGNING_KEY:${SIGNING_KEY}`, '--show-interactive-dev-session=false'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  worker.stdout.on('data', (d) => { output += d; });
  worker.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 120_000; await probe(base) !== 200;) {
    assert.ok(Date.now() < deadline && worker.exitCode === null, `wrangler dev did not answer:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const r = await login(base, authorizeQuery());
  assert.equal(r.status, 303, await r.text());
  const code = new URL(r.headers.get('location')).searchParams.get('code');
  const t = await token(base, { grant_type: 'authorization_code', code, redirect_uri: REDIRECTS[0] });
  assert.equal(t.status, 200, JSON.stringify(t.json));
  const refreshed = await refresh(base, t.json.refresh_token);
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
  const revoke = await fetch(`${base}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64')}` },
    body: new URLSearchParams({ token: t.json.refresh_token }),
  });
  assert.equal(revoke.status, 200);
  const after = await refresh(base, t.json.refresh_token);
  assert.equal(after.status, 400);
  assert.equal(after.json.error, 'invalid_grant');
});
