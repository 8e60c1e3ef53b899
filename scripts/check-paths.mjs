#!/usr/bin/env node
// Every path under src/, docs/, scripts/, tests/ or bench/ that the README,
// docs/ and the module map (src/lib.rs) name must exist, so the map cannot go
// stale. A path is a run of path characters after one of those folder names;
// one with a placeholder (`<name>`, `…`, `*`) names a kind of file, not a file.
// Exit 1 with the list of missing ones. The same for routes, settings and
// admin commands (below).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const sources = ['README.md', 'src/lib.rs', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const missing = [];
let checked = 0;
for (const source of sources) {
  const text = readFileSync(join(ROOT, source), 'utf8');
  for (const m of text.matchAll(/(?<![\w./-])((?:src|docs|scripts|tests|bench)\/[\w./-]*)/g)) {
    let path = m[1].replace(/[.,:;)]+$/, '');
    if (/[<…*]/.test(text.slice(m.index, m.index + m[0].length + 1))) continue;
    checked += 1;
    if (!existsSync(join(ROOT, path))) missing.push(`${source}: ${path}`);
  }
}

// The routes, settings and admin commands the docs name must be the code's:
// a route is a string literal of the router (one ending in `/` is a prefix,
// as `/signin/<provider>`), a setting an upper-case name found in the code,
// the examples or wrangler.toml, a command a subcommand of admin's cli.rs.
const walk = (dir) => readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]);
const router = readFileSync(join(ROOT, 'src/endpoint/mod.rs'), 'utf8');
const literals = [...router.matchAll(/"(\/[^"\s]*)"/g)].map((m) => m[1]);
const exact = new Set(literals.filter((r) => !r.endsWith('/') || r === '/'));
const prefixes = literals.filter((r) => r.endsWith('/') && r !== '/');
const code = ['src', 'scripts', 'examples', 'tests', 'bench'].flatMap(walk)
  .filter((f) => /\.(rs|mjs|js|py|sh|toml)$/.test(f)).concat(['wrangler.toml', 'Cargo.toml'])
  .map((f) => readFileSync(join(ROOT, f), 'utf8')).join('\n');
const cli = readFileSync(join(ROOT, 'src/bin/admin/cli.rs'), 'utf8').toLowerCase();
// Names that are Alexa's, not ours (its error types a skill may answer).
const ALEXAS = new Set(['BRIDGE_UNREACHABLE']);
const stale = [];
for (const source of sources.filter((s) => s !== 'src/lib.rs')) {
  const text = readFileSync(join(ROOT, source), 'utf8');
  for (const m of text.matchAll(/\b(?:GET|POST|HEAD|PUT|DELETE) (\/[\w./<>…-]*)/g)) {
    const path = m[1].replace(/[.,:;)]+$/, '');
    const fixed = path.split(/[<…]/)[0];
    const known = exact.has(path) || prefixes.some((p) => fixed.startsWith(p) && (path.length > p.length || fixed === p));
    checked += 1;
    if (!known) stale.push(`${source}: route ${path}`);
  }
  for (const m of text.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\b/g)) {
    checked += 1;
    if (!ALEXAS.has(m[1]) && !code.includes(m[1])) stale.push(`${source}: setting ${m[1]}`);
  }
  for (const m of text.matchAll(/`admin (?:--[\w-]+ (?:\S+ )?)*([a-z][\w-]*)(?: ([a-z][\w-]*))?/g)) {
    for (const word of [m[1], m[2]].filter(Boolean)) {
      checked += 1;
      if (!cli.includes(word.replaceAll('-', ''))) stale.push(`${source}: admin command ${word}`);
    }
  }
}
if (stale.length) {
  console.error(`named in the docs but not in the code:\n  ${stale.join('\n  ')}`);
  process.exit(1);
}
if (missing.length) {
  console.error(`paths named but missing:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`paths, routes, settings and commands: ${checked} named in ${sources.length} files, all exist`);
