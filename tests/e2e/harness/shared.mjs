// node tests/e2e/harness/shared.mjs <command> [arguments…]
//
// Starts the run's shared Workers (one per store mode, see `sharedWorker`),
// runs the command with E2E_SHARED naming them, then stops them and exits as
// the command did. Each Worker's output goes to a file under target/, and is
// printed when the command failed: a Worker that crashed shows there.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './run.mjs';
import { startWorker } from './worker.mjs';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node tests/e2e/harness/shared.mjs <command> [arguments…]');
  process.exit(2);
}

const dir = join(ROOT, 'target/e2e-shared');
mkdirSync(dir, { recursive: true });
const logOf = (name) => join(dir, `${name}.log`);
const started = Date.now();
const modes = [['kv', {}], ['do', { durable: true }]];
const starts = await Promise.allSettled(modes.map(([name, opts]) => startWorker({ ...opts, logTo: logOf(name) })));
const failed = starts.find((s) => s.status === 'rejected');
if (failed) {
  // Detached: a Worker that did start would outlive this process.
  starts.forEach((s) => s.value?.stop());
  throw failed.reason;
}
const workers = Object.fromEntries(modes.map(([name], i) => [name, starts[i].value]));
console.log(`shared Workers ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.entries(workers).map(([n, w]) => `${n} ${w.base}`).join(', ')}`);

const shared = Object.fromEntries(Object.entries(workers).map(([name, w]) => [name, { base: w.base, state: w.state, log: logOf(name) }]));
const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, E2E_SHARED: JSON.stringify(shared) } });
const stopAll = () => Object.values(workers).forEach((w) => w.stop());
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const code = await new Promise((ok) => child.on('exit', (c, signal) => ok(c ?? (signal ? 1 : 0))));
stopAll();
if (code !== 0) {
  for (const name of Object.keys(workers)) {
    const lines = readFileSync(logOf(name), 'utf8').trimEnd().split('\n');
    console.log(`\n== the shared ${name} Worker's last output (${logOf(name)})\n${lines.slice(-40).join('\n')}`);
  }
  console.log(`\n== every other Worker's output: ${join(ROOT, 'target/e2e-logs')}/<test file>-<port>.log`);
}
process.exit(code);
