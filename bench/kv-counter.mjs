// A KV binding wrapped in a counter, for `npm run bench`: what our Worker
// (bench/kv-count.mjs) and the comparison Worker (bench/compare/worker.js)
// ask of KV per operation.

/** A KV binding that counts what KV bills: a bulk get is a read per key. */
export function countingKv(kv, counts) {
  return {
    get(key, options) {
      counts.reads += Array.isArray(key) ? key.length : 1;
      return kv.get(key, options);
    },
    getWithMetadata(key, options) {
      counts.reads += Array.isArray(key) ? key.length : 1;
      return kv.getWithMetadata(key, options);
    },
    put(key, value, options) {
      counts.writes += 1;
      return kv.put(key, value, options);
    },
    delete(key) {
      counts.deletes += 1;
      return kv.delete(key);
    },
    list(options) {
      counts.lists += 1;
      return kv.list(options);
    },
  };
}

export const zero = () => ({ reads: 0, writes: 0, deletes: 0, lists: 0 });
