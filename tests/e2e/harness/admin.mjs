// The operator's side: the admin command on a Worker's state folder, and the
// seeded state every Worker starts with.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_ID, ENV, MACHINE_ID, PASSWORD, ROOT, RUN, SECRET, USERNAME, VENDOR } from './run.mjs';

const ADMIN = join(ROOT, 'target/debug/admin');

/** Runs the admin command on a state folder; `extraEnv` adds to its environment. */
export function admin(state, args, stdin, extraEnv = {}) {
  return execFileSync(ADMIN, ['--local', '--persist-to', state, ...args], {
    cwd: ROOT, input: stdin, env: { ...ENV, ...extraEnv }, encoding: 'utf8',
  });
}

/** The same, without throwing: { status, stdout, stderr }. */
export function adminRun(state, args, { input, extraEnv = {} } = {}) {
  const r = spawnSync(ADMIN, ['--local', '--persist-to', state, ...args], {
    cwd: ROOT, input, env: { ...ENV, ...extraEnv }, encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A state folder holding the two clients and the user every Worker starts
 * with, made by the admin command the first time a run asks for it (eight
 * wrangler calls, about 10 s) and copied after that. Made under a temporary
 * name and renamed, so a file running beside this one never copies half of one.
 */
let seeds;
export function seeded(rotation) {
  if (!seeds) {
    // Shared by the run's files under target/ (scripts/test.sh empties it), or
    // this process's own.
    seeds = process.env.E2E_RUN ? join(ROOT, 'target/e2e-seeds') : mkdtempSync(join(tmpdir(), 'alexa-oauth-e2e-seeds-'));
    mkdirSync(seeds, { recursive: true });
    if (!process.env.E2E_RUN) process.on('exit', () => rmSync(seeds, { recursive: true, force: true }));
  }
  const dir = join(seeds, createHash('sha256')
    .update(`${RUN} ${rotation ?? 'default'} ${readFileSync(import.meta.filename, 'utf8')}`).digest('hex').slice(0, 16));
  if (existsSync(dir)) return dir;
  const making = mkdtempSync(`${dir}.making-`);
  admin(making, ['client', 'add', '--id', CLIENT_ID, '--name', 'E2E Skill', '--alexa', VENDOR,
    '--scope', 'smart_home profile', '--secret-stdin', ...(rotation ? ['--refresh-rotation', rotation] : [])], SECRET);
  admin(making, ['client', 'add', '--id', MACHINE_ID, '--name', 'Machine', '--scope', 'metrics',
    '--grant-types', 'client_credentials,refresh_token', '--secret-stdin'], SECRET);
  admin(making, ['user', 'add', '--username', USERNAME, '--display-name', 'Alice', '--password-stdin'], PASSWORD);
  try {
    renameSync(making, dir);
  } catch (e) {
    // Another file made it first: theirs is as good.
    if (!existsSync(dir)) throw e;
    rmSync(making, { recursive: true, force: true });
  }
  return dir;
}
