#!/usr/bin/env node
// `node bench/profile.mjs [refresh|validate|floor] [--seconds 10] [--names]`:
// where a scenario's time goes inside the Worker's isolate under `wrangler dev`.
// Starts the built Worker (build/, or with --names a build that keeps the wasm's
// function names, in target/profile-build/), drives the scenario at
// concurrency 16 on 127.0.0.1, samples the isolate with the inspector's CPU
// profiler meanwhile, and prints the share of samples per kind (our wasm, the
// KV binding, JavaScript glue and runtime, garbage collection, idle) and the
// functions with the most self time. Run `npm run bench` first (or
// `bash scripts/build.sh`) so that build/ is current.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startWorker, login, token, authorizeQuery, ROOT, REDIRECTS, CLIENT_ID, SECRET } from '../tests/e2e/harness.mjs';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { seconds: { type: 'string', default: '10' }, names: { type: 'boolean', default: false } },
});
const scenario = positionals[0] ?? 'refresh';
if (!['refresh', 'validate', 'floor'].includes(scenario)) throw new Error(`unknown scenario ${scenario}`);
const SECONDS = Number(opt.seconds);
const CONCURRENCY = 16;

let main;
if (opt.names) {
  console.log('building the Worker with its function names (target/profile-build/)…');
  execFileSync('bash', ['-c', 'eval "$(bash scripts/setup.sh)"; "$WORKER_BUILD" --release --out-dir target/profile-build .'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  main = 'target/profile-build/index.js';
}
const worker = await startWorker({ vars: { LOG_REQUESTS: 'false' }, main });
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64')}`;

function send(path, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(worker.base + path);
    const req = http.request({ host: url.hostname, port: url.port, path, method: body ? 'POST' : 'GET', agent, headers }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// One linked grant per concurrent client: its refresh token and access token.
const chains = [];
for (let i = 0; i < CONCURRENCY; i++) {
  const answer = await login(worker.base, authorizeQuery());
  const code = new URL(answer.headers.get('location')).searchParams.get('code');
  const t = await token(worker.base, { grant_type: 'authorization_code', code, redirect_uri: REDIRECTS[0] }, { auth: 'basic' });
  chains.push({ rt: t.json.refresh_token, at: t.json.access_token });
}
const step = {
  async refresh(c) {
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.rt }).toString();
    const answer = await send('/token', { body, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } });
    c.rt = JSON.parse(answer).refresh_token;
  },
  validate: (c) => send('/userinfo', { headers: { authorization: `Bearer ${c.at}` } }),
  floor: () => send('/'),
}[scenario];

// The inspector of wrangler dev: one target, the Worker's isolate.
const [target] = await (await fetch(`http://127.0.0.1:${worker.inspector}/json`)).json();
const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: 'http://127.0.0.1' } });
await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
const pending = new Map();
let nextId = 0;
ws.on('message', (data) => {
  const m = JSON.parse(data);
  pending.get(m.id)?.(m.result);
  pending.delete(m.id);
});
const call = (method, params = {}) => new Promise((resolve) => {
  const id = ++nextId;
  pending.set(id, resolve);
  ws.send(JSON.stringify({ id, method, params }));
});

try {
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 100 });
  await call('Profiler.start');
  let done = 0;
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(chains.map(async (c) => {
    while (Date.now() < end) {
      await step(c);
      done++;
    }
  }));
  const { profile } = await call('Profiler.stop');
  console.log(`${scenario}: ${(done / SECONDS).toFixed(0)} ops/s while profiled (the profiler slows it)`);

  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (const id of profile.samples) {
    const { functionName, url } = nodes.get(id).callFrame;
    const name = functionName || `(anonymous) ${url.split('/').pop()}`;
    const isWasm = url.includes('.wasm') || /^(wasm-function|wasm-to-js|js-to-wasm)/.test(functionName);
    const key = `${isWasm ? 'wasm' : 'js'}\t${name}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const kinds = { 'our wasm': 0, 'KV get/put': 0, 'JS glue and runtime': 0, 'garbage collection': 0, idle: 0 };
  let hashing = 0;
  for (const [key, n] of self) {
    const [kind, name] = key.split('\t');
    if (kind === 'wasm') kinds['our wasm'] += n;
    else if (name === '(idle)') kinds.idle += n;
    else if (name === '(garbage collector)') kinds['garbage collection'] += n;
    else if (name === 'get' || name === 'put') kinds['KV get/put'] += n;
    else kinds['JS glue and runtime'] += n;
    if (/sha2::|hmac::|digest::/.test(name)) hashing += n;
  }
  const pct = (n) => `${((100 * n) / total).toFixed(1)}%`;
  console.log(`\n${total} samples: ${Object.entries(kinds).map(([k, n]) => `${k} ${pct(n)}`).join(', ')}`);
  if (opt.names) console.log(`of which SHA-256 and HMAC in wasm: ${pct(hashing)}`);
  console.log('\nmost self time:');
  for (const [key, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${pct(n).padStart(6)}  ${key.replace('\t', '  ').slice(0, 140)}`);
  }
} finally {
  ws.close();
  worker.stop();
  agent.destroy();
}
