// What every test file of a run shares: the repository, the seeded names and
// secrets, the environment wrangler runs in, and a fetch that survives a
// keep-alive socket wrangler closed.
import { createHmac, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const VENDOR = 'M2E2ETESTVENDOR';
export const REDIRECTS = ['pitangui.amazon.com', 'layla.amazon.com', 'alexa.amazon.co.jp']
  .map((host) => `https://${host}/api/skill/link/${VENDOR}`);
export const CLIENT_ID = 'alexa-e2e';
export const MACHINE_ID = 'machine-e2e';
// E2E_RUN (scripts/test.sh sets one per run) makes the seeded secrets and the
// signing keys the same in every test file of a run, so that the seeded state
// is made once per run and copied (see `seeded`), and the run's shared Workers
// (worker.mjs) sign with the keys every file checks against; without it each
// file has its own.
export const RUN = process.env.E2E_RUN || randomBytes(16).toString('hex');
const derived = (what, bytes) => createHmac('sha256', RUN).update(what).digest().subarray(0, bytes).toString('base64url');
export const SECRET = derived('client secret', 32);
export const USERNAME = 'alice';
export const PASSWORD = 'e2e ' + derived('password', 12);
export const SIGNING_KEY = derived('signing key', 32) + derived('signing key, more', 16);
/** Configured as SIGNING_KEY_PREVIOUS: verifies, never signs. */
export const PREVIOUS_KEY = derived('previous key', 32) + derived('previous key, more', 16);

/** Every secret value the helpers send or receive, for the log checks. */
export const SECRETS_SEEN = new Set();
export const seen = (...values) => values.filter((v) => v && v.length >= 8).forEach((v) => SECRETS_SEEN.add(v));

// No config watching: no test edits a Worker's wrangler.toml while it runs, and
// a reload under load answers the requests in flight with a 503 ("Your worker
// restarted mid-request").
export const ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_CI_DISABLE_CONFIG_WATCHING: 'true' };

// wrangler dev closes idle keep-alive connections after a few seconds, and Node's
// fetch can pick such a socket and fail before anything is sent ("other side
// closed"). Tests that pause (the admin ones, whose synchronous `admin` calls
// block the event loop) would flake on that. Several pooled sockets can have
// been closed meanwhile, and the pool learns of it only once the event loop
// runs: so wait a moment and retry, a few times.
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await realFetch(url, init);
    } catch (e) {
      if (e?.cause?.code !== 'UND_ERR_SOCKET' || attempt === 4) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
};
