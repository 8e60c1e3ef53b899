// `npm run bench`'s way to count our KV calls: the built Worker
// (build/index.js) with its OAUTH_KV binding wrapped in a counter, and one
// route of its own, GET /__kv-counts, that answers the counts so far and
// starts them again. The comparison Worker counts its own the same way
// (bench/compare/worker.js). Never deployed: `wrangler.toml` runs build/
// itself, and this file exists only for the benchmark.
import { WorkerEntrypoint } from 'cloudflare:workers';
import Inner from '../build/index.js';

import { countingKv, zero } from './kv-counter.mjs';

let counts = zero();

export default class extends WorkerEntrypoint {
  fetch(request) {
    if (new URL(request.url).pathname === '/__kv-counts') {
      const answer = Response.json(counts);
      counts = zero();
      return answer;
    }
    const kv = countingKv(this.env.OAUTH_KV, counts);
    const env = new Proxy(this.env, { get: (target, name) => (name === 'OAUTH_KV' ? kv : Reflect.get(target, name)) });
    return new Inner(this.ctx, env).fetch(request);
  }
}
