// The admin command end to end: it changes the local state that the running
// Worker serves, and the Worker's answers show the change.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  startWorker, admin, authorizeQuery, login, token, ROOT,
  REDIRECTS, CLIENT_ID, SECRET, USERNAME, PASSWORD,
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

async function link(opts = {}) {
  const redirect = REDIRECTS[0];
  const r = await login(worker.base, authorizeQuery({ redirect }), opts);
  assert.equal(r.status, 303);
  const code = new URL(r.headers.get('location')).searchParams.get('code');
  const t = await token(worker.base, { grant_type: 'authorization_code', code, redirect_uri: redirect }, opts);
  assert.equal(t.status, 200, JSON.stringify(t.json));
  return t.json;
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
  assert.match(dup.stderr, /already exists \(use --force to replace it\)/);
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
  const t = await link({ username, password: pw1 });
  assert.match(run(['user', 'list']).stdout, /^bob$/m);

  const pw2 = 'bob ' + randomBytes(8).toString('hex');
  assert.equal(run(['user', 'passwd', '--username', username], pw2).status, 0);
  assert.equal((await login(worker.base, authorizeQuery(), { username, password: pw1 })).status, 401, 'old password');
  assert.equal((await login(worker.base, authorizeQuery(), { username, password: pw2 })).status, 303, 'new password');
  // Existing links survive a password change.
  assert.equal((await token(worker.base, { grant_type: 'refresh_token', refresh_token: t.refresh_token })).status, 200);

  const list = run(['grant', 'list', '--user', username]);
  assert.equal(list.status, 0, list.stderr);
  const gid = t.refresh_token.split('.')[0];
  assert.match(list.stdout, new RegExp(`^${gid}\\tclient=${CLIENT_ID}\\t.*\\tactive$`, 'm'));
  assert.equal(run(['grant', 'revoke', '--id', gid]).status, 0);
  assert.match(run(['grant', 'list', '--user', username]).stdout, new RegExp(`^${gid}\\t.*\\trevoked `, 'm'));
  const refused = await token(worker.base, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
  assert.equal(refused.json.error, 'invalid_grant');
});

test('user remove ends the user\'s grants', async () => {
  const username = 'carol';
  const pw = 'carol ' + randomBytes(8).toString('hex');
  admin(worker.state, ['user', 'add', '--username', username, '--password-stdin'], pw);
  const a = await link({ username, password: pw });
  const b = await link({ username, password: pw, auth: 'basic' });
  const r = run(['user', 'remove', '--username', username]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /2 grant\(s\) ended/);
  for (const t of [a, b]) {
    const res = await token(worker.base, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
    assert.equal(res.json.error, 'invalid_grant');
  }
  assert.equal((await login(worker.base, authorizeQuery(), { username, password: pw })).status, 401);
  assert.doesNotMatch(run(['user', 'list']).stdout, /carol/);
});

test('client remove: its tokens can no longer be refreshed', async () => {
  const t = await link({ username: USERNAME, password: PASSWORD });
  assert.equal(run(['client', 'remove', '--id', CLIENT_ID]).status, 0);
  const res = await token(worker.base, { grant_type: 'refresh_token', refresh_token: t.refresh_token });
  assert.equal(res.status, 401);
  assert.equal(res.json.error, 'invalid_client');
  assert.doesNotMatch(run(['client', 'list']).stdout, new RegExp(`^${CLIENT_ID}\\t`, 'm'));
});

test('in Durable Object mode, the grant commands say they cannot work', async () => {
  const { mkdtempSync, readFileSync, writeFileSync, mkdirSync, symlinkSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'admin-do-'));
  try {
    writeFileSync(join(dir, 'wrangler.toml'), readFileSync(join(ROOT, 'wrangler.toml'), 'utf8').replace(/^GRANT_STORE = .*$/m, 'GRANT_STORE = "DO"'));
    mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules/.bin/wrangler'), join(dir, 'node_modules/.bin/wrangler'));
    const r = spawnSync(join(ROOT, 'target/debug/admin'), ['--persist-to', join(dir, 'state'), 'grant', 'list', '--user', 'alice'], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not available: in Durable Object mode .*POST \/revoke/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
