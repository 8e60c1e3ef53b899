// How long `admin` takes over many keys, now that it reads and writes KV in
// bulk: a user with N grants is removed (two sweeps: list, bulk read of the
// tombstones, one bulk write), then the namespace is exported and imported.
// For scale, one single-key `wrangler kv key get`, what each key cost before.
//
//   node bench/admin-bulk.mjs [--grants 400]
//
// Locally wrangler lists at most 1,000 keys, so keep 2 × grants + 1 below it.
//
// Local state (what `wrangler dev` serves); `cargo build --bin admin` first.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

const ROOT = resolve(import.meta.dirname, '..');
const at = process.argv.indexOf('--grants');
const N = at > 0 ? Number(process.argv[at + 1]) : 400;
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG: 'log' };
const state = mkdtempSync(join(tmpdir(), 'alexa-oauth-bulk-'));
const wrangler = join(ROOT, 'node_modules/.bin/wrangler');
const where = ['--binding', 'OAUTH_KV', '--local', '--persist-to', state];

function admin(args, input) {
  return execFileSync(join(ROOT, 'target/debug/admin'), ['--local', '--persist-to', state, '--mode', 'kv', ...args], {
    cwd: ROOT, env, input, encoding: 'utf8',
  });
}

function timed(what, f) {
  const t = process.hrtime.bigint();
  f();
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  console.log(`${what.padEnd(52)} ${s.toFixed(1).padStart(6)} s`);
  return s;
}

try {
  admin(['user', 'add', '--username', 'many', '--password-stdin'], 'a passphrase for the bench');
  const sub = JSON.parse(execFileSync(wrangler, ['kv', 'key', 'get', 'user:many', ...where], { env, encoding: 'utf8' })).id;
  // N grants of the user: record and index entry each, written in one go.
  const id = () => randomBytes(16).toString('base64url');
  const entries = [];
  for (let i = 0; i < N; i++) {
    const g = id();
    entries.push({ key: `usergrant:${sub}:${g}`, value: '' });
    entries.push({
      key: `grant:${g}`,
      value: JSON.stringify({
        id: g, client_id: 'bench', user_id: sub, display_name: 'many', scope: 'smart_home', created_at: 1,
        refresh_hash: randomBytes(32).toString('base64url'), previous_refresh_hash: null, refreshed_at: 1,
      }),
    });
  }
  const file = join(state, 'seed.json');
  writeFileSync(file, JSON.stringify(entries));
  execFileSync(wrangler, ['kv', 'bulk', 'put', file, ...where], { env, stdio: 'ignore' });

  console.log(`admin over a user with ${N} grants (${2 * N + 1} keys), local state:`);
  const one = timed('one single-key `wrangler kv key get` (before: per key)', () => {
    execFileSync(wrangler, ['kv', 'key', 'get', 'user:many', ...where], { env, stdio: 'ignore' });
  });
  const exported = join(state, 'export.jsonl');
  timed(`admin export (${2 * N + 1} records)`, () => admin(['export', '--out', exported]));
  timed('admin stats', () => admin(['stats']));
  timed(`admin user remove (two sweeps over ${N} grants)`, () => admin(['user', 'remove', '--username', 'many']));
  console.log(`${'  the same sweeps, one call per key, would take about'.padEnd(52)} ${(one * 2 * 2 * N).toFixed(0).padStart(6)} s`);
  const fresh = mkdtempSync(join(tmpdir(), 'alexa-oauth-bulk-'));
  try {
    timed(`admin import into a fresh namespace`, () => execFileSync(join(ROOT, 'target/debug/admin'),
      ['--local', '--persist-to', fresh, '--mode', 'kv', 'import', exported], { cwd: ROOT, env, stdio: 'ignore' }));
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
} finally {
  rmSync(state, { recursive: true, force: true });
}
