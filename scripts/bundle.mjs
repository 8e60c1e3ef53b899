// `npm run bundle`: writes dist/, a folder that deploys and runs `admin` with
// Node alone (no Rust): the built Worker, a wrangler.toml without the build
// command, a package.json that pins wrangler (with the descriptions the
// "Deploy to Cloudflare" button shows), .dev.vars.example, a short README, and
// the admin command compiled to WebAssembly (scripts/admin-wasm.sh) with its
// Node runner. The release workflow (.github/workflows/release.yml) pushes
// this folder to the `deploy` branch.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, process.env.BUNDLE_DIR ?? 'dist');
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], ...opts });

run('bash', ['scripts/build.sh']);
run('bash', ['scripts/admin-wasm.sh']);

rmSync(DIST, { recursive: true, force: true });
mkdirSync(join(DIST, 'build'), { recursive: true });
for (const f of ['index.js', 'index_bg.wasm']) copyFileSync(join(ROOT, 'build', f), join(DIST, 'build', f));
mkdirSync(join(DIST, 'admin'), { recursive: true });
copyFileSync(join(ROOT, 'target/wasm32-wasip1/release/admin.wasm'), join(DIST, 'admin/admin.wasm'));
cpSync(join(ROOT, 'scripts/admin-node.mjs'), join(DIST, 'admin/run.mjs'));

// wrangler.toml as it is, without the [build] table (and the comment that
// introduces it): the Worker is built already.
const toml = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
  .replace(/(?:^#[^\n]*\n)*^\[build\]\n(?:^(?!\[)[^\n]*\n)*/m, '');
if (/^\[build\]/m.test(toml)) throw new Error('bundle: the [build] table is still in wrangler.toml');
writeFileSync(join(DIST, 'wrangler.toml'), toml);

const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const pkg = {
  name: root.name,
  private: true,
  description: root.description,
  scripts: {
    dev: 'wrangler dev',
    deploy: 'wrangler deploy',
    // Node calls WASI experimental on every run; admin's output is what counts.
    admin: 'node --disable-warning=ExperimentalWarning admin/run.mjs',
  },
  devDependencies: { wrangler: root.devDependencies.wrangler },
  // What the "Deploy to Cloudflare" button asks for, binding by binding.
  cloudflare: {
    bindings: {
      OAUTH_KV: { description: 'Clients, users, codes and grants (a new KV namespace is fine).' },
      SIGNING_KEY: { description: 'At least 32 random bytes, e.g. the output of `openssl rand -base64 48`. Signs access tokens; keep it secret.' },
      GRANT_STORE: { description: '"KV" (the default) or "DO" for one Durable Object per grant (uncomment the GRANTS binding in wrangler.toml first).' },
      SCOPES_SUPPORTED: { description: 'The scopes your skill asks for, space separated.' },
    },
  },
};
writeFileSync(join(DIST, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
writeFileSync(join(DIST, '.dev.vars.example'), [
  '# Copy to .dev.vars for `npx wrangler dev` (never deployed). In production:',
  '#   openssl rand -base64 48 | npx wrangler secret put SIGNING_KEY',
  'SIGNING_KEY=',
  '',
].join('\n'));
writeFileSync(join(DIST, '.gitignore'), 'node_modules/\n.wrangler/\n.dev.vars\n');
copyFileSync(join(ROOT, 'scripts/bundle-README.md'), join(DIST, 'README.md'));

writeFileSync(join(DIST, 'package-lock.json'), `${JSON.stringify(lockFor(pkg), null, 2)}\n`);
console.error(`bundle: ${DIST}`);

/**
 * The lockfile `npm ci` needs: the project's own, cut down to wrangler and
 * what it depends on, so the bundle gets the very versions `npm test` ran
 * with, and making it needs no registry.
 */
function lockFor(manifest) {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  const packages = lock.packages;
  const kept = {};
  // npm's lookup: a dependency of node_modules/a is node_modules/a/node_modules/b
  // if that exists, else the same one level up, up to node_modules/b.
  const find = (from, name) => {
    for (let dir = from; ; dir = dir.replace(/\/?node_modules\/(?:@[^/]+\/)?[^/]+$/, '')) {
      const path = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (packages[path]) return path;
      if (!dir) return undefined;
    }
  };
  const queue = Object.keys(manifest.devDependencies).map((name) => find('', name));
  while (queue.length) {
    const path = queue.pop();
    if (!path || kept[path]) continue;
    kept[path] = packages[path];
    const { dependencies = {}, optionalDependencies = {}, peerDependencies = {}, peerDependenciesMeta = {} } = packages[path];
    const names = [...Object.keys(dependencies), ...Object.keys(optionalDependencies),
      ...Object.keys(peerDependencies).filter((n) => !peerDependenciesMeta[n]?.optional)];
    for (const name of names) queue.push(find(path, name));
  }
  const sorted = Object.fromEntries(Object.keys(kept).sort().map((k) => [k, kept[k]]));
  return {
    name: manifest.name,
    lockfileVersion: lock.lockfileVersion,
    requires: true,
    packages: { '': { name: manifest.name, devDependencies: manifest.devDependencies }, ...sorted },
  };
}
