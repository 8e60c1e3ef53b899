// Backups and moving between grant modes, end to end: `admin export` from a
// Worker under wrangler dev, `admin import` into a fresh namespace in the same
// mode and in the other, and Alexa's refresh token still refreshes there, with
// /userinfo naming the same sub. Also: a damaged file writes nothing, a
// namespace in use is not overwritten unasked, `admin stats` and `admin grant
// show` tell what is there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startWorker, authorizeQuery, login, adminRun, REDIRECTS, CLIENT_ID, SECRET, link, refresh } from './harness.mjs';

const ADMIN_TOKEN = randomBytes(32).toString('base64url');
const workers = [];
const dirs = [];
after(() => {
  workers.forEach((w) => w.stop());
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'alexa-oauth-export-'));
  dirs.push(d);
  return d;
}

async function start(opts) {
  const w = await startWorker({ ...opts, vars: { ADMIN_TOKEN, ...opts.vars } });
  workers.push(w);
  return w;
}

/** Runs admin on a state folder: { status, stdout, stderr }. */
function admin(state, args) {
  return adminRun(state, args, { extraEnv: { ADMIN_TOKEN } });
}

function ok(r) {
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function sub(base, accessToken) {
  const r = await fetch(`${base}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
  assert.equal(r.status, 200);
  return (await r.json()).sub;
}

/** The link works on `base`: the refresh token refreshes, /userinfo names `expected`. */
async function stillLinked(base, refreshToken, expected, what) {
  const r = await refresh(base, refreshToken);
  assert.equal(r.status, 200, `${what}: ${JSON.stringify(r.json)}`);
  assert.equal(await sub(base, r.json.access_token), expected, what);
}

/** Imports `file` into a fresh namespace of `mode`; resolves to the Worker serving it. */
async function importInto(mode, file) {
  if (mode === 'kv') {
    // KV mode: admin writes the state, then the Worker serves it.
    const state = tempDir();
    ok(admin(state, ['--mode', 'kv', 'import', file]));
    return start({ seed: false, state });
  }
  // Durable Object mode: the grants go through the running Worker.
  const w = await start({ seed: false, durable: true });
  ok(admin(w.state, ['--mode', 'do', '--worker', w.base, 'import', file]));
  return w;
}

test('a KV link survives export and import into KV mode and into Durable Object mode', async () => {
  const from = await start({ rotation: 'always' });
  const linked = await link(from.base, { redirect: REDIRECTS[1] });
  const expected = await sub(from.base, linked.access_token);
  // One rotation, so the grant carries a previous token too.
  const rotated = await refresh(from.base, linked.refresh_token);
  assert.equal(rotated.status, 200);
  const revoked = await link(from.base, { redirect: REDIRECTS[1] });
  assert.equal((await fetch(`${from.base}/revoke`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: revoked.refresh_token, client_id: CLIENT_ID, client_secret: SECRET }),
  })).status, 200);

  const file = join(tempDir(), 'backup.jsonl');
  ok(admin(from.state, ['--mode', 'kv', 'export', '--out', file]));
  assert.equal(statSync(file).mode & 0o777, 0o600, 'password hashes: owner only');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const header = JSON.parse(lines[0]);
  assert.deepEqual([header.format, header.version, header.mode, header.records], ['alexa-oauth-export', 1, 'kv', lines.length - 1]);
  assert.ok(!lines.some((l) => l.includes(rotated.json.refresh_token.split('.')[1])), 'no refresh token in the file');

  const stats = ok(admin(from.state, ['--mode', 'kv', 'stats']));
  assert.match(stats, /grants live\t1\n/);
  assert.match(stats, /grants revoked\t1\n/);
  const gid = revoked.refresh_token.split('.')[0];
  const shown = ok(admin(from.state, ['--mode', 'kv', 'grant', 'show', '--id', gid]));
  assert.match(shown, /user\talice \(sub /);
  assert.match(shown, /state\trevoked .*: its client revoked it/);
  const user = ok(admin(from.state, ['--mode', 'kv', 'user', 'show', '--username', 'alice']));
  assert.match(user, new RegExp(`sub\t${expected}\n`));
  assert.match(user, new RegExp(`grant\t${gid}\tclient=alexa-e2e\tcreated `));
  assert.ok(!/pbkdf2|\$/.test(user), 'no hash');

  for (const mode of ['kv', 'do']) {
    const to = await importInto(mode, file);
    await stillLinked(to.base, rotated.json.refresh_token, expected, `KV -> ${mode}`);
    const again = await refresh(to.base, revoked.refresh_token);
    assert.equal(again.status, 400, `KV -> ${mode}: the revoked link stays ended`);
  }
});

test('a Durable Object link survives export through the Worker and import into KV mode', async () => {
  const from = await start({ durable: true });
  const linked = await link(from.base, { redirect: REDIRECTS[1] });
  const expected = await sub(from.base, linked.access_token);
  const file = join(tempDir(), 'backup.jsonl');
  // Without the Worker's URL, or with the wrong token, there is no way to the grants.
  const noUrl = admin(from.state, ['--mode', 'do', 'export', '--out', file]);
  assert.notEqual(noUrl.status, 0);
  assert.match(noUrl.stderr, /--worker/);
  ok(admin(from.state, ['--mode', 'do', '--worker', from.base, 'export', '--out', file]));
  const text = readFileSync(file, 'utf8');
  assert.equal(JSON.parse(text.split('\n')[0]).mode, 'do');
  assert.ok(text.includes(`"key":"grant:${linked.refresh_token.split('.')[0]}"`), 'the grant, read from its object');
  const shown = ok(admin(from.state, ['--mode', 'do', '--worker', from.base, 'grant', 'show', '--id', linked.refresh_token.split('.')[0]]));
  assert.match(shown, /state\tactive/);
  assert.match(shown, /refresh policy\tnever/);
  const user = ok(admin(from.state, ['--mode', 'do', '--worker', from.base, 'user', 'show', '--username', 'alice']));
  assert.match(user, new RegExp(`grant\t${linked.refresh_token.split('.')[0]}\tclient=alexa-e2e`));

  const to = await importInto('kv', file);
  await stillLinked(to.base, linked.refresh_token, expected, 'DO -> KV');
  // A refresh under `never` returns the token it was given: the same one works again.
  await stillLinked(to.base, linked.refresh_token, expected, 'DO -> KV, again');
});

test('a damaged line is refused with its number and nothing is written; a namespace in use is left alone unasked', async () => {
  const from = await start({});
  await link(from.base, { redirect: REDIRECTS[1] });
  const file = join(tempDir(), 'backup.jsonl');
  ok(admin(from.state, ['--mode', 'kv', 'export', '--out', file]));
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const damaged = join(tempDir(), 'damaged.jsonl');
  const bad = [...lines];
  bad[4] = bad[4].slice(0, -7);
  writeFileSync(damaged, bad.join('\n') + '\n');

  const fresh = tempDir();
  const r = admin(fresh, ['--mode', 'kv', 'import', damaged]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /line 5: /);
  assert.match(r.stderr, /nothing was written/);
  const empty = ok(admin(fresh, ['--mode', 'kv', 'stats']));
  assert.match(empty, /^users\t0\nclients\t0\n/, 'nothing was written');

  // The source still holds its records: no import over them without --force.
  const refused = admin(from.state, ['--mode', 'kv', 'import', file]);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stdout, /0 to add, \d+ to overwrite/);
  assert.match(refused.stderr, /not empty/);
  ok(admin(from.state, ['--mode', 'kv', 'import', file, '--force']));

  // A password changed since the export: --force alone lists it and stops
  // (no terminal to ask at); --yes goes on, and the old password is back.
  ok(adminRun(from.state, ['user', 'passwd', '--username', 'alice'], { input: 'a password set since', extraEnv: { ADMIN_TOKEN } }));
  const unasked = admin(from.state, ['--mode', 'kv', 'import', file, '--force']);
  assert.notEqual(unasked.status, 0);
  assert.match(unasked.stdout, /! user alice: the password from the export replaces the one set since/);
  assert.match(unasked.stderr, /--yes/);
  assert.equal((await login(from.base, authorizeQuery(), { password: 'a password set since' })).status, 303, 'nothing was written');
  ok(admin(from.state, ['--mode', 'kv', 'import', file, '--force', '--yes']));
  assert.equal((await login(from.base, authorizeQuery(), { password: 'a password set since' })).status, 401);

  // An export goes to a file only its owner can read, even one that was there.
  const open = join(tempDir(), 'world-readable.jsonl');
  writeFileSync(open, 'old\n', { mode: 0o644 });
  ok(admin(from.state, ['--mode', 'kv', 'export', '--out', open]));
  assert.equal(statSync(open).mode & 0o777, 0o600);
  assert.match(readFileSync(open, 'utf8'), /^\{"format":"alexa-oauth-export"/);

  // ADMIN_TOKEN never goes to a --worker over plain http beyond this machine.
  const clear = admin(from.state, ['--mode', 'do', '--worker', 'http://auth.example.com', 'export', '--out', open]);
  assert.notEqual(clear.status, 0);
  assert.match(clear.stderr, /use https:\/\//);
});
