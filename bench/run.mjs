#!/usr/bin/env node
// `npm run bench`: builds the release Worker, starts it under `wrangler dev`
// with fresh local state (seeded by the admin command), starts the comparison
// Worker (@cloudflare/workers-oauth-provider, bench/compare/) beside it, and
// drives both at a bounded concurrency for a set time per scenario:
//
//   link      authorize, (login,) code exchange: one whole account link
//   provider  the same link through an upstream OpenID Connect provider (the
//             e2e stand-in on 127.0.0.1, RS256 ID tokens); ours only
//   refresh   refresh-token chains, one per concurrent client
//   validate  an access token checked by the resource (/userinfo; /api/ there)
//   floor     a trivial route of the same Worker: the runtime's ceiling here
//   refresh floor  a route in the comparison Worker that does only what a
//             rotating refresh must do on KV (one bulk read, one write, the
//             answer), with no checks and no crypto: KV's ceiling for refresh
//
// Prints ops/s, p50, p99 and errors per scenario, with ratios to the comparison
// and to the floor, and the KV reads and writes each operation makes (both
// Workers' bindings wrapped in a counter), and writes the same to
// target/bench.json. All traffic goes to
// 127.0.0.1 and stops by itself.
//
//   npm run bench -- [--seconds 10] [--concurrency 16] [--rounds 1] [--log]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { createHash, randomBytes, generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startWorker, admin, formOf, unescapeHtml, ROOT, CLIENT_ID, SECRET, USERNAME, PASSWORD, REDIRECTS } from '../tests/e2e/harness.mjs';
import { startProvider } from '../tests/e2e/provider.mjs';

const { values: opt } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    // Rounds of every scenario, alternating ours and theirs; each figure is the
    // median round's.
    rounds: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    // Keep our per-request log line on. Off by default: under wrangler dev each
    // console line goes through the dev server's pipe and halves a trivial
    // route's rate here, a cost the comparison Worker (which logs nothing) does
    // not pay and production's log collection does not have.
    log: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opt.seconds);
const CONCURRENCY = Number(opt.concurrency);
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

/** One HTTP request on a kept-alive connection; resolves to { status, headers, body }. */
function request(base, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' };
const basic = (id, secret) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/** Runs `op(worker)` from CONCURRENCY loops for SECONDS; ops throw on a wrong answer. */
async function drive(name, op, setup = async () => null) {
  const states = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => setup(i)));
  const latencies = [];
  let errors = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(states.map(async (state) => {
    while (Date.now() < deadline) {
      const t0 = performance.now();
      try {
        await op(state);
        latencies.push(performance.now() - t0);
      } catch {
        errors += 1;
      }
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : NaN;
  return { scenario: name, ops: latencies.length, ops_per_s: latencies.length / elapsed, p50_ms: pct(0.5), p99_ms: pct(0.99), errors };
}

function expect(r, status) {
  if (r.status !== status) throw new Error(`${r.status}: ${r.body.slice(0, 200)}`);
  return r;
}

// ---- ours
function oursScenarios(base) {
  const redirect = REDIRECTS[1];
  let device = null;
  let links = 0;
  async function link() {
    const { verifier, challenge } = pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: redirect, state: 's', scope: 'smart_home', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = expect(await request(base, 'GET', `/authorize?${q}`), 200);
    const form = new URLSearchParams();
    for (const m of formOf(page.body, '/authorize').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.append(m[1], m[2].replaceAll('&amp;', '&'));
    form.append('username', USERNAME);
    form.append('password', PASSWORD);
    form.append('action', 'login');
    const csrf = String(page.headers['set-cookie']).split(';')[0];
    // Each link comes from its own address, in a browser that has signed in
    // before (the device cookie): the attempt limits are for attackers.
    const cookie = device ? `${csrf}; ${device}` : csrf;
    const ip = `10.${(links >> 16) & 255}.${(links >> 8) & 255}.${links++ & 255}`;
    const t0 = performance.now();
    const login = expect(await request(base, 'POST', '/authorize', { headers: { ...FORM, cookie, 'cf-connecting-ip': ip }, body: form.toString() }), 303);
    device ??= String(login.headers['set-cookie'] || '').split(';')[0] || null;
    const loginMs = performance.now() - t0;
    return { ...await exchange(login, verifier), loginMs };
  }
  /** The code a redirect carries, exchanged as Alexa does: the token answer. */
  async function exchange(answer, verifier) {
    const code = new URL(answer.headers.location).searchParams.get('code');
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier });
    const t = expect(await request(base, 'POST', '/token', { headers: { ...FORM, authorization: basic(CLIENT_ID, SECRET) }, body: body.toString() }), 200);
    return JSON.parse(t.body);
  }
  /** A link through the stand-in provider `corp`; `signInMs` is the Worker's two steps. */
  async function viaProvider() {
    const { verifier, challenge } = pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: redirect, state: 's', scope: 'smart_home', code_challenge: challenge, code_challenge_method: 'S256' });
    const ip = { 'cf-connecting-ip': `10.${(links >> 16) & 255}.${(links >> 8) & 255}.${links++ & 255}` };
    const page = expect(await request(base, 'GET', `/authorize?${q}`, { headers: ip }), 200);
    // The provider button: a form of its own carrying the page's CSRF token.
    const csrf = String(page.headers['set-cookie']).split(';')[0];
    const form = new URLSearchParams();
    for (const m of formOf(page.body, '/signin/corp').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.append(m[1], unescapeHtml(m[2]));
    let t0 = performance.now();
    const start = expect(await request(base, 'POST', '/signin/corp', { headers: { ...ip, ...FORM, cookie: csrf }, body: form.toString() }), 303);
    let signInMs = performance.now() - t0;
    const cookie = `${csrf}; ${String(start.headers['set-cookie']).split(';')[0]}`;
    const atIdp = new URL(start.headers.location);
    const back = new URL(expect(await request(atIdp.origin, 'GET', atIdp.pathname + atIdp.search), 302).headers.location);
    t0 = performance.now();
    const cb = expect(await request(base, 'GET', back.pathname + back.search, { headers: { ...ip, cookie } }), 302);
    signInMs += performance.now() - t0;
    return { ...await exchange(cb, verifier), signInMs };
  }
  return {
    link,
    viaProvider,
    refresh: async (state) => {
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: state.rt });
      const t = expect(await request(base, 'POST', '/token', { headers: { ...FORM, authorization: basic(CLIENT_ID, SECRET) }, body: body.toString() }), 200);
      state.rt = JSON.parse(t.body).refresh_token;
    },
    validate: async (state) => { expect(await request(base, 'GET', '/userinfo', { headers: { authorization: `Bearer ${state.at}` } }), 200); },
    floor: async () => { expect(await request(base, 'GET', '/'), 200); },
  };
}

// ---- the comparison Worker
async function startCompare() {
  const state = mkdtempSync(join(tmpdir(), 'bench-compare-'));
  const port = 18000 + Math.floor(Math.random() * 2000);
  const child = spawn(join(ROOT, 'node_modules/.bin/wrangler'), ['dev', '-c', join(ROOT, 'bench/compare/wrangler.toml'),
    '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(port + 1), '--persist-to', state, '--show-interactive-dev-session=false',
    '--define', `RESOURCE_URL:"http://127.0.0.1:${port}/api"`],
  { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  const stop = () => { try { process.kill(-child.pid, 'SIGTERM'); } catch {} rmSync(state, { recursive: true, force: true }); };
  for (let i = 0; ; i++) {
    try { if ((await request(base, 'GET', '/floor')).status === 200) break; } catch {}
    if (i > 600 || child.exitCode !== null) { stop(); throw new Error(`comparison Worker did not start:\n${output}`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  const client = JSON.parse(expect(await request(base, 'POST', '/setup'), 200).body);
  return { base, stop, client };
}

function compareScenarios({ base, client }) {
  const redirect = 'https://layla.amazon.com/api/skill/link/BENCH';
  const auth = basic(encodeURIComponent(client.client_id), encodeURIComponent(client.client_secret));
  async function link() {
    const { verifier, challenge } = pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: redirect, state: 's', scope: 'smart_home', code_challenge: challenge, code_challenge_method: 'S256' });
    const approve = expect(await request(base, 'GET', `/authorize?${q}`), 302);
    const code = new URL(approve.headers.location).searchParams.get('code');
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier });
    const t = expect(await request(base, 'POST', '/token', { headers: { ...FORM, authorization: auth }, body: body.toString() }), 200);
    return JSON.parse(t.body);
  }
  return {
    link,
    refresh: async (state) => {
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: state.rt });
      const t = expect(await request(base, 'POST', '/token', { headers: { ...FORM, authorization: auth }, body: body.toString() }), 200);
      state.rt = JSON.parse(t.body).refresh_token;
    },
    validate: async (state) => { expect(await request(base, 'GET', '/api/me', { headers: { authorization: `Bearer ${state.at}` } }), 200); },
    floor: async () => { expect(await request(base, 'GET', '/floor'), 200); },
    refreshFloor: async (state) => {
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: state.rt });
      expect(await request(base, 'POST', '/refresh-floor', { headers: { ...FORM, authorization: auth }, body: body.toString() }), 200);
    },
  };
}

async function runAll(s) {
  const fresh = async () => { const t = await s.link(); return { rt: t.refresh_token, at: t.access_token }; };
  return [
    await drive('link', s.link),
    await drive('refresh', s.refresh, fresh),
    await drive('validate', s.validate, fresh),
    await drive('floor', s.floor),
  ];
}

/**
 * KV calls per operation, as the Worker's wrapped binding counted them
 * (bench/kv-count.mjs, bench/compare/worker.js): `n` of each, one at a time,
 * after one warm-up, so a per-isolate cache (our client records) is warm as it
 * is in production between Alexa's requests.
 */
async function kvPerOp(base, s, n = 10) {
  const counts = async () => JSON.parse(expect(await request(base, 'GET', '/__kv-counts'), 200).body);
  const t = await s.link();
  const state = { rt: t.refresh_token, at: t.access_token };
  const per = async (op) => {
    await op();
    await counts();
    for (let i = 0; i < n; i++) await op();
    const c = await counts();
    return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v / n]));
  };
  return { link: await per(() => s.link()), refresh: await per(() => s.refresh(state)), validate: await per(() => s.validate(state)) };
}

/** The median time of an unloaded login POST: PBKDF2 is nearly all of it. */
async function loginMs(s) {
  const times = [];
  for (let i = 0; i < 7; i++) times.push((await s.link()).loginMs);
  times.sort((a, b) => a - b);
  return times[3];
}

async function main() {
  console.log(`building the release Worker…`);
  // One build; each Worker below picks its store and capabilities by variables.
  execFileSync('bash', [join(ROOT, 'scripts/build.sh')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('cargo', ['build', '--quiet', '--bin', 'admin'], { cwd: ROOT, stdio: 'inherit' });
  const vars = opt.log ? {} : { LOG_REQUESTS: 'false' };
  const idp = await startProvider();
  const ours = await startWorker({ vars });
  const oursUp = await startWorker({
    vars: { ...vars, SIGN_IN_PROVIDERS: 'corp', CORP_ISSUER: idp.base, CORP_CLIENT_ID: idp.clientId, CORP_CLIENT_SECRET: idp.clientSecret },
  });
  admin(oursUp.state, ['user', 'update', '--username', USERNAME, '--add-identity', `corp:${idp.subject}`]);
  const oursDo = await startWorker({ vars, durable: true });
  // ES256 access tokens (WebCrypto).
  const es256Key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const oursEs = await startWorker({ vars: { ...vars, ACCESS_TOKEN_ALG: 'ES256', ES256_PRIVATE_KEY: es256Key } });
  const oursCounted = await startWorker({ vars, main: 'bench/kv-count.mjs' });
  const theirs = await startCompare();
  try {
    // KV calls per operation first, on quiet Workers.
    const kv = { ours: await kvPerOp(oursCounted.base, oursScenarios(oursCounted.base)), theirs: await kvPerOp(theirs.base, compareScenarios(theirs)) };
    oursCounted.stop();
    const s = oursScenarios(ours.base);
    const su = oursScenarios(oursUp.base);
    // One login at a time, unloaded: its time is nearly all PBKDF2.
    const pbkdf2 = await loginMs(s);
    // The same for a federated sign-in: our /signin and /callback steps, the
    // latter with its code exchange at the stand-in and the ID token check.
    const federated = [];
    for (let i = 0; i < 9; i++) federated.push((await su.viaProvider()).signInMs);
    federated.sort((x, y) => x - y);
    const federatedMs = federated[4];
    const rounds = Math.max(1, Number(opt.rounds));
    console.log(`driving each scenario for ${SECONDS} s at concurrency ${CONCURRENCY} (127.0.0.1 only), ${rounds} round(s)…`);
    const as = [];
    const bs = [];
    const floors = [];
    for (let i = 0; i < rounds; i++) {
      as.push(await runAll(s));
      const t = compareScenarios(theirs);
      bs.push(await runAll(t));
      floors.push([await drive('refresh floor', t.refreshFloor, async (k) => ({ rt: `floor${k}.x` }))]);
    }
    // Per scenario, the round with the median rate.
    const median = (runs) => runs[0].map((_, k) => {
      const sorted = runs.map((run) => run[k]).sort((x, y) => x.ops_per_s - y.ops_per_s);
      return sorted[Math.floor(sorted.length / 2)];
    });
    const a = median(as);
    const b = median(bs);
    const [refreshFloor] = median(floors);
    // Durable Object mode: the scenarios that touch grant state.
    const sd = oursScenarios(oursDo.base);
    const fresh = async () => { const t = await sd.link(); return { rt: t.refresh_token, at: t.access_token }; };
    const d = [await drive('link', sd.link), await drive('refresh', sd.refresh, fresh)];
    const viaProvider = await drive('provider', su.viaProvider);
    // The same refresh and validation with ES256 tokens: what signing and
    // verifying with WebCrypto costs per token.
    const se = oursScenarios(oursEs.base);
    const freshEs = async () => { const t = await se.link(); return { rt: t.refresh_token, at: t.access_token }; };
    const es = [await drive('refresh', se.refresh, freshEs), await drive('validate', se.validate, freshEs)];
    const cores = cpus().length;
    const ceiling = cores / (pbkdf2 / 1000);
    const floorA = a.find((r) => r.scenario === 'floor').ops_per_s;
    const floorB = b.find((r) => r.scenario === 'floor').ops_per_s;
    const f = (n, d = 0) => Number.isFinite(n) ? n.toFixed(d) : '-';
    const rows = a.map((r, i) => ({
      scenario: r.scenario,
      ours: r,
      workers_oauth_provider: b[i],
      ratio_to_workers_oauth_provider: r.ops_per_s / b[i].ops_per_s,
      ratio_to_floor: r.ops_per_s / floorA,
      theirs_ratio_to_floor: b[i].ops_per_s / floorB,
    }));
    console.log('\nscenario  | ours ops/s   p50 ms   p99 ms  err | workers-oauth-provider ops/s   p50 ms   p99 ms  err | ours÷theirs  ours÷floor  theirs÷floor');
    for (const r of rows) {
      const o = r.ours, t = r.workers_oauth_provider;
      console.log(`${r.scenario.padEnd(9)} | ${f(o.ops_per_s).padStart(10)} ${f(o.p50_ms, 1).padStart(8)} ${f(o.p99_ms, 1).padStart(8)} ${String(o.errors).padStart(4)} | ${f(t.ops_per_s).padStart(28)} ${f(t.p50_ms, 1).padStart(8)} ${f(t.p99_ms, 1).padStart(8)} ${String(t.errors).padStart(4)} | ${f(r.ratio_to_workers_oauth_provider, 2).padStart(11)} ${f(r.ratio_to_floor, 2).padStart(11)} ${f(r.theirs_ratio_to_floor, 2).padStart(13)}`);
    }
    const link = a.find((r) => r.scenario === 'link').ops_per_s;
    const refreshA = a.find((r) => r.scenario === 'refresh').ops_per_s;
    const refreshB = b.find((r) => r.scenario === 'refresh').ops_per_s;
    console.log(`\nrefresh floor (JavaScript, one bulk KV read + one KV write + the answer; no checks, no crypto) | `
      + `${f(refreshFloor.ops_per_s)} ops/s, p50 ${f(refreshFloor.p50_ms, 1)} ms, ${refreshFloor.errors} errors; `
      + `our refresh is ${f(refreshA / refreshFloor.ops_per_s, 2)}× it, workers-oauth-provider's ${f(refreshB / refreshFloor.ops_per_s, 2)}×; `
      + `the floor itself is ${f(refreshFloor.ops_per_s / refreshB, 2)}× workers-oauth-provider`);
    console.log('\nmode            | link ops/s   p50 ms   p99 ms  err | refresh ops/s   p50 ms   p99 ms  err');
    for (const [mode, rs] of [['KV (default)', a], ['Durable Object', d]]) {
      const l = rs.find((r) => r.scenario === 'link');
      const r = rs.find((x) => x.scenario === 'refresh');
      console.log(`${mode.padEnd(15)} | ${f(l.ops_per_s).padStart(10)} ${f(l.p50_ms, 1).padStart(8)} ${f(l.p99_ms, 1).padStart(8)} ${String(l.errors).padStart(4)} | ${f(r.ops_per_s).padStart(13)} ${f(r.p50_ms, 1).padStart(8)} ${f(r.p99_ms, 1).padStart(8)} ${String(r.errors).padStart(4)}`);
    }
    console.log(`\nlink via provider (ours only) | ${f(viaProvider.ops_per_s)} ops/s, p50 ${f(viaProvider.p50_ms, 1)} ms, p99 ${f(viaProvider.p99_ms, 1)} ms, `
      + `${viaProvider.errors} errors; ${f(viaProvider.ops_per_s / link, 2)}× the password link`);
    for (const r of es) {
      const hs = a.find((x) => x.scenario === r.scenario);
      console.log(`ES256 ${r.scenario.padEnd(8)} | ${f(r.ops_per_s)} ops/s, p50 ${f(r.p50_ms, 2)} ms, ${r.errors} errors; `
        + `${f(r.ops_per_s / hs.ops_per_s, 2)}× HS256 (${f(hs.ops_per_s)} ops/s, p50 ${f(hs.p50_ms, 2)} ms): `
        + `${f(1000 / r.ops_per_s - 1000 / hs.ops_per_s, 3)} ms more per token at this concurrency`);
    }
    console.log(`federated sign-in in the Worker (/signin + /callback, unloaded, stand-in on 127.0.0.1): ${f(federatedMs, 1)} ms`);
    const single = 1000 / pbkdf2;
    console.log(`\nlogin (PBKDF2) in the Worker: ${f(pbkdf2, 1)} ms unloaded; ceiling ${cores} cores ÷ that = ${f(ceiling, 1)} links/s, `
      + `one isolate's ceiling (wrangler dev runs the Worker on one thread) 1 ÷ that = ${f(single, 1)} links/s; `
      + `link reaches ${f(100 * link / ceiling)}% of the first, ${f(100 * link / single)}% of the second`);
    console.log('\nKV per operation (counted at the binding; a bulk get counts a read per key) | ours reads writes | workers-oauth-provider reads writes');
    for (const op of ['link', 'refresh', 'validate']) {
      const o = kv.ours[op], t = kv.theirs[op];
      console.log(`${op.padEnd(9)} | ${f(o.reads, 1).padStart(10)} ${f(o.writes, 1).padStart(6)} | ${f(t.reads, 1).padStart(27)} ${f(t.writes, 1).padStart(6)}`);
    }
    console.log(`request log lines: ${opt.log ? 'on' : 'off (--log turns them on)'}`);
    const report = { kv_per_operation: kv, seconds: SECONDS, concurrency: CONCURRENCY, cores, log_lines: opt.log, pbkdf2_ms: pbkdf2, federated_sign_in_ms: federatedMs, link_via_provider: viaProvider, es256: es, link_ceiling_per_s: ceiling, link_single_isolate_ceiling_per_s: single, refresh_floor: refreshFloor, rows, durable_object_mode: d };
    mkdirSync(join(ROOT, 'target'), { recursive: true });
    writeFileSync(join(ROOT, 'target/bench.json'), JSON.stringify(report, null, 2));
    console.log('written to target/bench.json');
  } finally {
    oursCounted.stop();
    ours.stop();
    oursUp.stop();
    oursDo.stop();
    oursEs.stop();
    theirs.stop();
    await idp.stop();
    agent.destroy();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
