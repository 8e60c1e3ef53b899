// The link checker (scripts/check-link.mjs) against the local Worker: all green
// over http, and over https with wrangler's self-signed certificate every
// protocol step passes and the certificate is the one failure, with its fix.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import https from 'node:https';
import { join } from 'node:path';
import { sharedWorker, startWorker, ROOT, CLIENT_ID, VENDOR, USERNAME, SECRET, PASSWORD } from './harness.mjs';

const workers = [];
after(() => workers.forEach((w) => w.stop()));

function check(base) {
  const r = spawnSync('node', [join(ROOT, 'scripts/check-link.mjs'), '--base', base, '--client-id', CLIENT_ID,
    '--vendor-id', VENDOR, '--username', USERNAME], {
    encoding: 'utf8', env: { ...process.env, CLIENT_SECRET: SECRET, PASSWORD },
  });
  const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL|SKIP) /.test(l));
  return { status: r.status, out: r.stdout + r.stderr, lines };
}

const PROTOCOL_STEPS = [
  'metadata', 'redirect pitangui.amazon.com', 'redirect layla.amazon.com', 'redirect alexa.amazon.co.jp',
  'login', 'code exchange (HTTP Basic)', 'code exchange (body credentials)', 'PKCE S256', 'refresh',
  'retried refresh', 'userinfo',
];

function assertProtocolStepsPass(lines, out) {
  for (const step of PROTOCOL_STEPS) {
    assert.ok(lines.some((l) => l.startsWith(`PASS  ${step}`)), `${step} passes:\n${out}`);
  }
}

test('over http, every step passes and the exit code is 0', async () => {
  const worker = await sharedWorker();
  workers.push(worker);
  const r = check(worker.base);
  assert.equal(r.status, 0, r.out);
  assertProtocolStepsPass(r.lines, r.out);
  assert.ok(!r.lines.some((l) => l.startsWith('FAIL')), r.out);
});

test('over https with a self-signed certificate, the certificate is the one failure', async () => {
  const worker = await startWorker({ https: true });
  workers.push(worker);
  const r = check(worker.base);
  assert.equal(r.status, 1, r.out);
  assertProtocolStepsPass(r.lines, r.out);
  const failures = r.lines.filter((l) => l.startsWith('FAIL'));
  assert.equal(failures.length, 1, r.out);
  assert.match(failures[0], /^FAIL  certificate: .*(self[- ]signed|SELF_SIGNED)/i);
  assert.match(failures[0], /Fix: .*custom domain/);
  // Over https, HTML answers also carry HSTS.
  const hsts = await new Promise((resolve, reject) => {
    https.get(`${worker.base}/authorize?client_id=nobody`, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.headers['strict-transport-security']);
    }).on('error', reject);
  });
  assert.match(hsts, /max-age=\d+/);
});

test('a wrong secret or password fails with the reason and a fix', async () => {
  const worker = workers[0];
  const r = spawnSync('node', [join(ROOT, 'scripts/check-link.mjs'), '--base', worker.base, '--client-id', CLIENT_ID,
    '--vendor-id', 'M2WRONGVENDOR', '--username', USERNAME], {
    encoding: 'utf8', env: { ...process.env, CLIENT_SECRET: 'wrong', PASSWORD },
  });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /^FAIL  redirect layla\.amazon\.com: .*not registered.*Fix: register all three/m);
});
