// The Worker's side: the built Worker under `wrangler dev` on a free port, with
// its own local state (seeded by admin.mjs), or one of the run's shared
// Workers; and what a test reads of its persisted state.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { seeded } from './admin.mjs';
import { ENV, PREVIOUS_KEY, ROOT, SIGNING_KEY } from './run.mjs';

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

/** Answers GET / with its status, accepting a self-signed certificate. */
export function probe(base) {
  return new Promise((resolve) => {
    const lib = base.startsWith('https') ? https : http;
    const req = lib.get(`${base}/`, { rejectUnauthorized: false }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', () => resolve(0));
  });
}

function workerLog(port) {
  const dir = join(ROOT, 'target/e2e-logs');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${basename(process.argv[1] ?? 'node', '.test.mjs')}-${port}.log`);
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
 * (no clients, no users), in `state` if given; `logTo` is the file that gets
 * the output too, as it comes (by default one in target/e2e-logs/).
 */
export async function startWorker({ https: useHttps = false, vars = {}, durable = false, envFile, main, rotation, seed = true, state: given, logTo } = {}) {
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
  ], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  // Every Worker's output is kept in a file (target/e2e-logs/ by default, named
  // by test file and port), so a test that failed under load can be read after.
  const log = createWriteStream(logTo ?? workerLog(port));
  const keep = (d) => { output += d; log.write(d); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // Closed once wrangler has written its last line, not when stop() asks it to.
  child.on('close', () => log.end());
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


/**
 * The run's shared Worker of a store mode (`durable`: Durable Object mode),
 * seeded and with no settings beyond the signing keys: started once per run by
 * `shared.mjs`, which `scripts/test.sh` runs the suite under, for the files
 * that neither change the seeded records nor count what the state holds.
 * When the suite runs without it (one file alone), the file starts its own,
 * as `startWorker` would. `stop()` stops only a Worker of this file's own, and
 * `logs()` of a shared one holds every file's requests.
 */
export async function sharedWorker({ durable = false } = {}) {
  const one = JSON.parse(process.env.E2E_SHARED || '{}')[durable ? 'do' : 'kv'];
  if (!one) return startWorker({ durable });
  return { base: one.base, state: one.state, shared: true, stop() {}, logs: () => readFileSync(one.log, 'utf8') };
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

