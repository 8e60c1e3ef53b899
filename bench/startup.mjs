// Startup of built Workers, side by side: `wrangler check startup` (its CPU
// profile of the Worker's first load) on each folder in turn, `--runs` times,
// alternating so that the machine's drift hits all alike; prints each one's
// median. A folder is a deployable one: a wrangler.toml with `main` built and
// no [build] table, as `npm run bundle` writes (dist/).
//   node bench/startup.mjs dist /tmp/older-dist [--runs 7]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const at = args.indexOf('--runs');
const runs = at >= 0 ? Number(args.splice(at, 2)[1]) : 7;
const dirs = args.map((d) => resolve(d));
const out = mkdtempSync(join(tmpdir(), 'startup-'));
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
const wrangler = join(resolve(import.meta.dirname, '..'), 'node_modules/.bin/wrangler');

/** The profile's span in milliseconds: from the Worker's first script to its load ending. */
function span(file) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  return (p.endTime - p.startTime) / 1000;
}

const times = dirs.map(() => []);
for (let i = 0; i < runs; i++) {
  dirs.forEach((dir, j) => {
    const file = join(out, `${j}-${i}.cpuprofile`);
    execFileSync(wrangler, ['check', 'startup', '--outfile', file], { cwd: dir, env, stdio: 'ignore' });
    times[j].push(span(file));
  });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
dirs.forEach((dir, j) => {
  console.log(`${dir}: median ${median(times[j]).toFixed(1)} ms over ${runs} (${times[j].map((t) => t.toFixed(1)).join(', ')})`);
});
