#!/usr/bin/env node
// Every path under src/, docs/, scripts/, tests/ or bench/ that the README,
// docs/ and the module map (src/lib.rs) name must exist, so the map cannot go
// stale. A path is a run of path characters after one of those folder names;
// one with a placeholder (`<name>`, `…`, `*`) names a kind of file, not a file.
// Exit 1 with the list of missing ones.
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
if (missing.length) {
  console.error(`paths named but missing:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`paths: ${checked} named in ${sources.length} files, all exist`);
