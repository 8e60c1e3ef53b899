// The admin command end to end: it changes the local state that the running
// Worker serves, and the Worker's answers show the change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  startWorker, admin, authorizeQuery, login, token, ROOT, CLIENT_ID, SECRET, USERNAME, PASSWORD, VENDOR, link,
  refresh,
} from './harness.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(() => { if (process.env.E2E_LOGS) console.log(worker?.logs()); worker?.stop(); });

/** Runs admin and returns { status, stdout, stderr } instead of throwing. */
function run(args, input = '', env = {}) {
  const r = spawnSync(join(ROOT, 'target/debug/admin'), ['--persist-to', worker.state, ...args], {
    cwd: ROOT, input, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('client list and show, never the secret', () => {
  const list = run(['client', 'list']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${CLIENT_ID}\\tE2E Skill\\t`, 'm'));
  const show = run(['client', 'show', '--id', CLIENT_ID]);
  assert.equal(show.status, 0);
  assert.match(show.stdout, /redirect_uri: https:\/\/layla\.amazon\.com\/api\/skill\/link\//);
  assert.doesNotMatch(show.stdout + list.stdout, /sha256\$/);
  assert.doesNotMatch(show.stdout, new RegExp(SECRET));
});

test('duplicate ids, unknown ids and a missing wrangler are clear errors', () => {
  const dup = run(['client', 'add', '--id', CLIENT_ID, '--name', 'x', '--redirect-uri', 'https://a.example/cb', '--scope', 'a']);
  assert.equal(dup.status, 1);
  assert.match(dup.stderr, /already exists: change it with `client update`, or replace it with --force/);
  const unknown = run(['client', 'show', '--id', 'nobody']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no client with id "nobody"/);
  const nowrangler = run(['client', 'list'], '', { WRANGLER: '/nonexistent/wrangler' });
  assert.equal(nowrangler.status, 1);
  assert.match(nowrangler.stderr, /could not run \/nonexistent\/wrangler/);
  const help = run(['--help']);
  assert.match(help.stdout, /Examples:/);
});

test('rotate-secret: the new secret works, the old one only during its grace', async () => {
  const id = 'rotating';
  const first = randomBytes(32).toString('base64url');
  admin(worker.state, ['client', 'add', '--id', id, '--name', 'Rotating', '--scope', 'metrics', '--grant-types', 'client_credentials', '--secret-stdin'], first);
  const cc = (secret) => token(worker.base, { grant_type: 'client_credentials' }, { id, secret });
  assert.equal((await cc(first)).status, 200);

  const second = randomBytes(32).toString('base64url');
  const r = run(['client', 'rotate-secret', '--id', id, '--grace', '3600', '--secret-stdin'], second);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /old secret is accepted until/);
  assert.equal((await cc(second)).status, 200, 'new secret');
  assert.equal((await cc(first)).status, 200, 'old secret, within its grace');

  const third = run(['client', 'rotate-secret', '--id', id, '--grace', '0']);
  assert.equal(third.status, 0, third.stderr);
  const printed = third.stdout.match(/client_secret: (\S+)/)[1];
  assert.equal((await cc(printed)).status, 200, 'generated secret, printed once');
  const old = await cc(second);
  assert.equal(old.status, 401, 'grace 0 ends the old secret at once');
  assert.equal(old.json.error, 'invalid_client');
});

test('user passwd, grant list and grant revoke', async () => {
  const username = 'bob';
  const pw1 = 'bob ' + randomBytes(8).toString('hex');
  admin(worker.state, ['user', 'add', '--username', username, '--display-name', 'Bob', '--password-stdin'], pw1);
  const t = await link(worker.base, { username, password: pw1 });
  assert.match(run(['user', 'list']).stdout, /^bob$/m);

  const pw2 = 'bob ' + randomBytes(8).toString('hex');
  assert.equal(run(['user', 'passwd', '--username', username], pw2).status, 0);
  assert.equal((await login(worker.base, authorizeQuery(), { username, password: pw1 })).status, 401, 'old password');
  assert.equal((await login(worker.base, authorizeQuery(), { username, password: pw2 })).status, 303, 'new password');
  // Existing links survive a password change.
  assert.equal((await refresh(worker.base, t.refresh_token)).status, 200);

  const list = run(['grant', 'list', '--user', username]);
  assert.equal(list.status, 0, list.stderr);
  const gid = t.refresh_token.split('.')[0];
  assert.match(list.stdout, new RegExp(`^${gid}\\tclient=${CLIENT_ID}\\t.*\\tactive$`, 'm'));
  assert.equal(run(['grant', 'revoke', '--id', gid]).status, 0);
  assert.match(run(['grant', 'list', '--user', username]).stdout, new RegExp(`^${gid}\\t.*\\trevoked `, 'm'));
  const refused = await refresh(worker.base, t.refresh_token);
  assert.equal(refused.json.error, 'invalid_grant');
});

test('user remove ends the user\'s grants', async () => {
  const username = 'carol';
  const pw = 'carol ' + randomBytes(8).toString('hex');
  admin(worker.state, ['user', 'add', '--username', username, '--password-stdin'], pw);
  const a = await link(worker.base, { username, password: pw });
  const b = await link(worker.base, { username, password: pw, auth: 'basic' });
  const r = run(['user', 'remove', '--username', username]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /2 grant\(s\) ended/);
  for (const t of [a, b]) {
    const res = await refresh(worker.base, t.refresh_token);
    assert.equal(res.json.error, 'invalid_grant');
  }
  assert.equal((await login(worker.base, authorizeQuery(), { username, password: pw })).status, 401);
  assert.doesNotMatch(run(['user', 'list']).stdout, /carol/);
});

test('client update and add --force keep the secret, so a live skill stays linked', async () => {
  const t = await link(worker.base, { username: USERNAME, password: PASSWORD });
  // A new vendor id, say after a skill was recreated: three more redirect URLs.
  const up = run(['client', 'update', '--id', CLIENT_ID, '--alexa', 'M2NEWVENDOR', '--name', 'E2E Skill 2']);
  assert.equal(up.status, 0, up.stderr);
  assert.match(up.stdout, /secret is unchanged/);
  assert.match(up.stdout, /layla\.amazon\.com\/api\/skill\/link\/M2NEWVENDOR/);
  const r1 = await refresh(worker.base, t.refresh_token);
  assert.equal(r1.status, 200, JSON.stringify(r1.json));
  const page = await fetch(`${worker.base}/authorize?${authorizeQuery({ redirect: 'https://layla.amazon.com/api/skill/link/M2NEWVENDOR' })}`);
  assert.equal(page.status, 200, 'the new redirect URL is registered');
  const removed = run(['client', 'update', '--id', CLIENT_ID, '--remove-redirect-uri', 'https://layla.amazon.com/api/skill/link/M2NEWVENDOR']);
  assert.equal(removed.status, 0, removed.stderr);
  // The README's old fix, add --force, no longer changes the secret either.
  const force = run(['client', 'add', '--id', CLIENT_ID, '--name', 'E2E Skill', '--alexa', VENDOR, '--scope', 'smart_home profile', '--force']);
  assert.equal(force.status, 0, force.stderr);
  assert.match(force.stdout, /client_secret: unchanged/);
  const r2 = await refresh(worker.base, r1.json.refresh_token);
  assert.equal(r2.status, 200, JSON.stringify(r2.json));
});

test('client remove ends its grants, and adding the id again does not bring them back', async () => {
  const t = await link(worker.base, { username: USERNAME, password: PASSWORD });
  const r = run(['client', 'remove', '--id', CLIENT_ID]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /[1-9]\d* grant\(s\) ended/);
  assert.doesNotMatch(run(['client', 'list']).stdout, new RegExp(`^${CLIENT_ID}\\t`, 'm'));
  const gone = await refresh(worker.base, t.refresh_token);
  // invalid_client once the isolate's copy of the client expires; invalid_grant
  // (the grant's tombstone) before that.
  assert.ok(['invalid_client', 'invalid_grant'].includes(gone.json.error), JSON.stringify(gone.json));
  // The same id and the same secret again: the old link stays dead.
  admin(worker.state, ['client', 'add', '--id', CLIENT_ID, '--name', 'E2E Skill', '--alexa', VENDOR, '--scope', 'smart_home profile', '--secret-stdin'], SECRET);
  const again = await refresh(worker.base, t.refresh_token);
  assert.equal(again.status, 400, JSON.stringify(again.json));
  assert.equal(again.json.error, 'invalid_grant');
  const u = await fetch(`${worker.base}/userinfo`, { headers: { authorization: `Bearer ${t.access_token}` } });
  assert.equal(u.status, 401, 'its access tokens are ended too');
  // New links work.
  const fresh = await link(worker.base, { username: USERNAME, password: PASSWORD });
  assert.equal((await refresh(worker.base, fresh.refresh_token)).status, 200);
});

test('no record goes on wrangler\'s command line', async () => {
  const { mkdtempSync, readFileSync, writeFileSync, chmodSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'admin-argv-'));
  try {
    // A wrangler that logs its argv, then runs the real one.
    const spy = join(dir, 'wrangler');
    writeFileSync(spy, `#!/bin/sh\nprintf '%s\\n' "$@" >> ${join(dir, 'argv')}\nexec ${join(ROOT, 'node_modules/.bin/wrangler')} "$@"\n`);
    chmodSync(spy, 0o755);
    const pw = 'argv ' + randomBytes(8).toString('hex');
    const r = run(['user', 'add', '--username', 'dave', '--password-stdin'], pw, { WRANGLER: spy });
    assert.equal(r.status, 0, r.stderr);
    const argv = readFileSync(join(dir, 'argv'), 'utf8');
    assert.match(argv, /^--path$/m);
    assert.doesNotMatch(argv, /pbkdf2|password_hash/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A wrangler that fails the first $FAILS times it is called, each time by
 * running `fail` (shell), and otherwise runs the real one; `calls()` counts
 * the calls since `reset()`. Its folder goes with `remove()`.
 */
async function flakyWrangler(name, fail) {
  const { mkdtempSync, readFileSync, writeFileSync, chmodSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), `admin-${name}-`));
  const count = join(dir, 'calls');
  const path = join(dir, 'wrangler');
  writeFileSync(path, `#!/bin/sh
n=$(cat ${count} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > ${count}
if [ "$n" -le "$FAILS" ]; then ${fail}; fi
if [ -n "$ANSWER" ]; then echo "✘ [ERROR] $ANSWER" >&2; exit 1; fi
exec ${join(ROOT, 'node_modules/.bin/wrangler')} "$@"
`);
  chmodSync(path, 0o755);
  return {
    path,
    calls: () => Number(readFileSync(count, 'utf8')),
    reset: () => writeFileSync(count, '0'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

test('a wrangler that crashes (an internal assertion) is tried again and says so; an error it answers is not', async () => {
  // Crashes as wrangler was seen to in CI.
  const w = await flakyWrangler('crash', 'echo "✘ [ERROR] false == true" >&2; exit 1');
  try {
    const ok = run(['client', 'show', '--id', CLIENT_ID], '', { WRANGLER: w.path, FAILS: '2' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(w.calls(), 3, 'two crashes, then the answer');
    assert.equal((ok.stderr.match(/wrangler crashed; trying again/g) ?? []).length, 2, ok.stderr);
    w.reset();
    const answered = run(['client', 'show', '--id', CLIENT_ID], '', { WRANGLER: w.path, FAILS: '0', ANSWER: 'A request to the Cloudflare API failed' });
    assert.notEqual(answered.status, 0);
    assert.equal(w.calls(), 1, 'an error wrangler answers is not tried again');
  } finally {
    w.remove();
  }
});

test('a local store locked by the running Worker (SQLITE_BUSY) is tried again, a few times', async () => {
  // Fails as a locked SQLite file makes it fail.
  const w = await flakyWrangler('busy', 'echo "workerd/util/sqlite.c++: SQLite failed; database is locked: SQLITE_BUSY" >&2; exit 1');
  try {
    const ok = run(['user', 'add', '--username', 'erin', '--password-stdin'], 'busy ' + randomBytes(8).toString('hex'), { WRANGLER: w.path, FAILS: '2' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(w.calls() > 3, 'the two busy answers were tried again');
    w.reset();
    const gone = run(['client', 'show', '--id', CLIENT_ID], '', { WRANGLER: w.path, FAILS: '99' });
    assert.notEqual(gone.status, 0, 'a lock that stays is an error');
    assert.match(gone.stderr, /SQLITE_BUSY/);
    assert.equal(w.calls(), 5, 'five tries, then the error');
  } finally {
    w.remove();
  }
});

test('admin reads Durable Object mode from wrangler.toml by the Worker\'s rule', async () => {
  const { mkdtempSync, writeFileSync, mkdirSync, symlinkSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'admin-do-'));
  try {
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules/.bin/wrangler'), join(dir, 'node_modules/.bin/wrangler'));
    for (const [line, mode] of [['GRANT_STORE = "DO"', 'DO'], ['GRANT_STORE="do"', 'DO'], ["  GRANT_STORE = 'Do'  # strict", 'DO'], ['GRANT_STORE = "KV"', 'KV'], ['# GRANT_STORE = "DO"', 'KV']]) {
      writeFileSync(join(dir, 'wrangler.toml'), `name = "x"\n[vars]\n${line}\n`);
      const byAdmin = spawnSync(join(ROOT, 'target/debug/admin'), ['grant-store'], { cwd: dir, encoding: 'utf8' }).stdout.trim();
      assert.equal(byAdmin, mode, line);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
