// Reads the local KV state for the admin command, in one process, through
// wrangler's own platform proxy (the state `wrangler dev --persist-to DIR`
// serves):
//   - `list [prefix]`: every key, following KV's cursor, where
//     `wrangler kv key list --local` stops at the first 1,000;
//   - `get`: the values of the keys given on stdin (a JSON array), in bulk
//     reads of 100, where each `wrangler kv bulk get` costs a process start.
//
// Compiled into the admin command and run as `node --input-type=module -e`
// with the arguments <DIR> <binding> list [prefix], or <DIR> <binding> get
// with the keys (a JSON array) on stdin. The wrangler package is found from
// ADMIN_WRANGLER_FROM, a path inside the project (the wrangler program admin
// runs), so admin works from any folder with a wrangler.toml.
//
// Prints one JSON line last: [{"name", "expiration"?}, ...] for list,
// [value or null, ...] for get.
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const { getPlatformProxy } = createRequire(process.env.ADMIN_WRANGLER_FROM)('wrangler');
// Never hang the admin command: a local runtime that does not come up is an error.
setTimeout(() => {
  process.stderr.write('the local KV state could not be read within 120 s\n');
  process.exit(1);
}, 120_000).unref();

const [dir, binding, op, prefix = ''] = process.argv.slice(1);
const chunks = [];
if (op === 'get') for await (const chunk of process.stdin) chunks.push(chunk);
const proxy = await getPlatformProxy({ configPath: 'wrangler.toml', persist: { path: join(resolve(dir), 'v3') } });
try {
  const kv = proxy.env[binding];
  if (!kv) throw new Error(`no KV namespace is bound as ${binding} in wrangler.toml`);
  let result;
  if (op === 'list') {
    result = [];
    let cursor;
    do {
      const page = await kv.list({ prefix, cursor });
      for (const k of page.keys) result.push(k.expiration ? { name: k.name, expiration: k.expiration } : { name: k.name });
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
  } else if (op === 'get') {
    const keys = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    result = [];
    for (let i = 0; i < keys.length; i += 100) {
      const found = await kv.get(keys.slice(i, i + 100));
      for (const key of keys.slice(i, i + 100)) result.push(found.get(key) ?? null);
    }
  } else {
    throw new Error(`unknown operation ${op}`);
  }
  process.stdout.write(`\n${JSON.stringify(result)}\n`);
} finally {
  await proxy.dispose();
}
