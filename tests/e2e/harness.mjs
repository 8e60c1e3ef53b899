// The end-to-end harness, one import for every test file, by concern:
// - harness/run.mjs: what a run shares (the seeded names and secrets, the
//   signing keys, wrangler's environment);
// - harness/worker.mjs: the built Worker under `wrangler dev` (`startWorker`,
//   the run's shared Workers, `sharedWorker`), and its persisted state;
// - harness/alexa.mjs: Alexa's side (the login page, /token, `link`,
//   `refresh`, `userinfo`, access-token checks);
// - harness/browser.mjs: forms and cookies, as a browser keeps them;
// - harness/admin.mjs: the operator's admin command, and the seeded state.
// The stand-ins for outside services are amazon.mjs and provider.mjs.
export * from './harness/run.mjs';
export * from './harness/worker.mjs';
export * from './harness/alexa.mjs';
export * from './harness/browser.mjs';
export * from './harness/admin.mjs';
