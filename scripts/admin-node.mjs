// Runs the admin command compiled to WebAssembly (wasm32-wasip1) under Node's
// WASI: `npm run admin -- <arguments>` in the bundle (scripts/bundle.mjs),
// with the same arguments and output as `cargo run --bin admin --`. WASI has
// files, stdio, the environment, clocks and randomness; what it lacks, running
// wrangler or node and making a file private, this runner does for it through
// the imports `admin_host.call` and `admin_host.answer` (src/bin/admin/host.rs).
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WASI } from 'node:wasi';

const wasm = process.env.ADMIN_WASM ?? join(import.meta.dirname, 'admin.wasm');
// Files admin creates (records on their way to wrangler, exports) are its
// owner's alone, as natively, before the chmod that follows.
process.umask(0o077);
const wasi = new WASI({
  version: 'preview1',
  args: ['admin', ...process.argv.slice(2)],
  // PWD: where admin resolves wrangler.toml and node_modules/.bin/wrangler.
  env: { ...process.env, PWD: process.cwd() },
  preopens: { '/': '/' },
  returnOnExit: true,
});

let memory;
let pending = Buffer.alloc(0);

/** One request from admin, answered as JSON. */
function handle(request) {
  if (request.private !== undefined) {
    try {
      chmodSync(request.private, 0o600);
      return {};
    } catch (e) {
      return { error: e.message };
    }
  }
  // `node` is this Node; anything else is run as named, from the working folder.
  const program = request.run === 'node' ? process.execPath : request.run;
  const r = spawnSync(program, request.args, {
    input: request.stdin ?? undefined,
    stdio: [request.stdin == null ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...request.env },
    maxBuffer: 1 << 30,
  });
  if (r.error) return { error: r.error.message };
  return { success: r.status === 0, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

const host = {
  call(ptr, len) {
    const request = JSON.parse(Buffer.from(memory.buffer, ptr, len).toString('utf8'));
    pending = Buffer.from(JSON.stringify(handle(request)), 'utf8');
    return pending.length;
  },
  answer(ptr) {
    new Uint8Array(memory.buffer, ptr, pending.length).set(pending);
  },
};

const module = await WebAssembly.compile(readFileSync(wasm));
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.wasiImport, admin_host: host });
memory = instance.exports.memory;
process.exitCode = wasi.start(instance);
