// The example skills (examples/skill-node, examples/skill-python) against the
// Worker under wrangler dev, with both token checks (offline against the key
// set, and /userinfo): a real link through the login page, then the
// directives Alexa sends carrying that token, and the error rule: a bad token
// is INVALID_AUTHORIZATION_CREDENTIAL, a Worker that does not answer is
// INTERNAL_ERROR, a token 30 s past its expiry is still served. AcceptGrant
// is forwarded to the Worker, whose Login with Amazon and event gateways are
// the stand-ins of amazon.mjs on 127.0.0.1; each example's device backend
// then sends a ChangeReport through the Worker to the Lambda's region.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync, createPublicKey, sign as nodeSign, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { startWorker, admin, CLIENT_ID, SECRET, ROOT, SECRETS_SEEN, link } from './harness.mjs';
import { startAmazon } from './amazon.mjs';

const BRIDGE = 'https://bridge.example/alice';
const KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
const PYTHON = execFileSync('bash', [join(ROOT, 'scripts/setup-python.sh')], { encoding: 'utf8' }).trim();
let worker;
let amazon;

before(async () => {
  amazon = await startAmazon();
  worker = await startWorker({ vars: { ACCESS_TOKEN_ALG: 'ES256', ES256_PRIVATE_KEY: KEY, ...amazon.vars } });
  // Alice's bridge, a claim of her own that her tokens carry.
  admin(worker.state, ['user', 'update', '--username', 'alice', '--claim', `bridge_url=${BRIDGE}`]);
  admin(worker.state, ['client', 'update', '--id', CLIENT_ID, '--lwa-client-id', amazon.clientId, '--lwa-client-secret-stdin'], amazon.clientSecret);
});
after(async () => {
  worker?.stop();
  await amazon?.stop();
  for (const s of amazon?.secrets ?? []) SECRETS_SEEN.add(s);
});

/** The Lambda's settings; the Node one runs in eu-west-1, the Python one in us-west-2. */
const env = (check, issuer = worker.base, language = 'node') => ({
  OAUTH_ISSUER: issuer,
  OAUTH_CLIENT_ID: CLIENT_ID,
  OAUTH_CLIENT_SECRET: SECRET,
  TOKEN_CHECK: check,
  AWS_REGION: language === 'node' ? 'eu-west-1' : 'us-west-2',
});
const REGION = { node: 'eu', python: 'fe' };
const BACKEND = {
  node: (args, settings) => run('node', [join(ROOT, 'examples/skill-node/report-change.mjs'), ...args], settings),
  python: (args, settings) => run(PYTHON, [join(ROOT, 'examples/skill-python/report_change.py'), ...args], settings),
};

/** Runs each example's handler on `directives` in one process (as one warm Lambda). */
function runNode(settings, directives) {
  const script = `
    const { handler } = await import(${JSON.stringify(join(ROOT, 'examples/skill-node/index.mjs'))});
    const out = [];
    for (const d of JSON.parse(process.argv[1])) out.push(await handler({ directive: d }, {}));
    console.log('\\n' + JSON.stringify(out));`;
  return run('node', ['--input-type=module', '-e', script, JSON.stringify(directives)], settings);
}

function runPython(settings, directives) {
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(ROOT, 'examples/skill-python'))})
from lambda_function import lambda_handler
print()
print(json.dumps([lambda_handler({"directive": d}, None) for d in json.loads(sys.argv[1])]))`;
  return run(PYTHON, ['-c', script, JSON.stringify(directives)], settings);
}

/** Runs an example's process without blocking this one: the LWA stand-in answers from here. */
function run(program, args, settings) {
  return new Promise((resolve, reject) => {
    execFile(program, args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...settings }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${program}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

const EXAMPLES = { node: runNode, python: runPython };

const header = (namespace, name, extra = {}) => ({ namespace, name, payloadVersion: '3', messageId: randomUUID(), ...extra });
const discover = (t) => ({ header: header('Alexa.Discovery', 'Discover'), payload: { scope: { type: 'BearerToken', token: t } } });
const power = (t, endpointId, name = 'TurnOn') => ({
  header: header('Alexa.PowerController', name, { correlationToken: `corr-${randomUUID()}` }),
  endpoint: { scope: { type: 'BearerToken', token: t }, endpointId, cookie: {} },
  payload: {},
});
const reportState = (t, endpointId) => ({ ...power(t, endpointId), header: header('Alexa', 'ReportState', { correlationToken: 'corr-state' }) });
const acceptGrant = (t, code) => ({
  header: header('Alexa.Authorization', 'AcceptGrant'),
  payload: { grant: { type: 'OAuth2.AuthorizationCode', code }, grantee: { type: 'BearerToken', token: t } },
});

/**
 * An ES256 token signed with the Worker's key outside it, for the cases a
 * link does not give: as the Worker signed them before it wrote `aud`, with
 * `changes` applied (`undefined` drops a claim).
 */
async function signedToken(sub, exp, changes = {}) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const kid = await calculateJwkThumbprint(createPublicKey(KEY).export({ format: 'jwk' }));
  const claims = { iss: worker.base, sub, client_id: CLIENT_ID, scope: 'smart_home', iat: exp - 3600, exp, jti: 'j', gid: 'CCCCCCCCCCCCCCCCCCCCCC', ...changes };
  const input = `${enc({ alg: 'ES256', typ: 'at+jwt', kid })}.${enc(claims)}`;
  return `${input}.${nodeSign('sha256', Buffer.from(input), { key: KEY, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}
const tokenWithExp = (sub, exp) => signedToken(sub, exp);

const errorType = (answer) => (answer.event.header.name === 'ErrorResponse' ? answer.event.payload.type : 'none');

for (const [language, runExample] of Object.entries(EXAMPLES)) {
  for (const check of ['jwks', 'userinfo']) {
    test(`${language} example, ${check} check: discovery, power, state and AcceptGrant for the linked user`, async () => {
      const t = await link(worker.base);
      const claims = JSON.parse(Buffer.from(t.access_token.split('.')[1], 'base64url'));
      assert.equal(claims.aud, CLIENT_ID, 'RFC 9068: the audience is the client');
      const sub = claims.sub;
      const lamp = `${sub}:lamp`;
      const on = power(t.access_token, lamp);
      const settings = env(check, worker.base, language);
      const [found, turnedOn, state, granted, refused] = await runExample(settings, [
        discover(t.access_token), on, reportState(t.access_token, lamp),
        acceptGrant(t.access_token, amazon.grantCode()), acceptGrant(t.access_token, 'ANspent'),
      ]);
      assert.equal(found.event.header.name, 'Discover.Response', JSON.stringify(found));
      assert.deepEqual(found.event.payload.endpoints.map((e) => e.endpointId), [lamp, `${sub}:fan`]);
      assert.deepEqual(found.event.payload.endpoints[0].cookie, { bridge_url: BRIDGE }, 'the claim reached the skill');
      assert.equal(turnedOn.event.header.name, 'Response', JSON.stringify(turnedOn));
      assert.equal(turnedOn.event.header.correlationToken, on.header.correlationToken);
      assert.equal(turnedOn.event.endpoint.endpointId, lamp);
      assert.equal(turnedOn.context.properties[0].value, 'ON');
      assert.equal(state.event.header.name, 'StateReport');
      assert.equal(state.context.properties[0].value, 'ON');
      assert.equal(granted.event.header.name, 'AcceptGrant.Response', JSON.stringify(granted));
      assert.equal(refused.event.payload.type, 'ACCEPT_GRANT_FAILED');
      assert.match(refused.event.payload.message, /invalid_grant/);
      // The device backend: a ChangeReport for the user, to the Lambda's region.
      const sent = amazon.delivered.length;
      const reported = await BACKEND[language]([sub, lamp, 'OFF'], settings);
      assert.equal(reported.status, 202, JSON.stringify(reported));
      assert.equal(amazon.delivered.length, sent + 1);
      const event = amazon.delivered.at(-1);
      assert.equal(event.region, REGION[language]);
      assert.equal(event.message.event.endpoint.endpointId, lamp);
      assert.equal(event.message.event.payload.change.properties[0].value, 'OFF');
      assert.equal(event.authorization, `Bearer ${event.message.event.endpoint.scope.token}`);
      // A user with no event tokens: the backend hears 404, not a crash.
      const nobody = await BACKEND[language](['nobody', lamp, 'ON'], settings).catch((e) => e.message);
      assert.match(JSON.stringify(nobody), /404/);
      // Another user's device is not this user's.
      const [other] = await runExample(env(check), [power(t.access_token, 'someone-else:lamp')]);
      assert.equal(errorType(other), 'NO_SUCH_ENDPOINT');
    });

    test(`${language} example, ${check} check: the error rule`, async () => {
      const t = await link(worker.base);
      const sub = JSON.parse(Buffer.from(t.access_token.split('.')[1], 'base64url')).sub;
      const now = Math.floor(Date.now() / 1000);
      const [signed, sig] = [t.access_token.slice(0, t.access_token.lastIndexOf('.')), t.access_token.split('.')[2]];
      const bad = Buffer.from(sig, 'base64url');
      bad[5] ^= 1;
      const [forged, late, tooLate] = await runExample(env(check), [
        discover(`${signed}.${bad.toString('base64url')}`),
        discover(await tokenWithExp(sub, now - 30)),
        discover(await tokenWithExp(sub, now - 120)),
      ]);
      assert.equal(errorType(forged), 'INVALID_AUTHORIZATION_CREDENTIAL', 'a signature that fails');
      assert.equal(errorType(late), 'none', 'a token 30 s past exp is served');
      assert.notEqual(errorType(tooLate), 'none', 'two minutes past exp is not');
      assert.notEqual(errorType(tooLate), 'INTERNAL_ERROR');

      // A token for another skill of this Worker, or with no expiry, is not
      // this skill's; one from before `aud` names its client (served above).
      const [otherAud, otherClient, noExp] = await runExample(env(check), [
        discover(await signedToken(sub, now + 600, { aud: 'another-skill' })),
        discover(await signedToken(sub, now + 600, { client_id: 'another-skill' })),
        discover(await signedToken(sub, now + 600, { exp: undefined })),
      ]);
      assert.equal(errorType(otherAud), 'INVALID_AUTHORIZATION_CREDENTIAL', 'aud of another skill');
      assert.equal(errorType(otherClient), 'INVALID_AUTHORIZATION_CREDENTIAL', 'client_id of another skill');
      assert.equal(errorType(noExp), 'INVALID_AUTHORIZATION_CREDENTIAL', 'no exp');
      // Its own client id unset is the skill's mistake: no unlink.
      const [unset] = await runExample({ ...env(check), OAUTH_CLIENT_ID: '' }, [discover(t.access_token)]);
      assert.equal(errorType(unset), 'INTERNAL_ERROR');

      // The Worker does not answer: not the user's fault, so no unlink.
      const [unreachable] = await runExample(env(check, 'http://127.0.0.1:9'), [discover(t.access_token)]);
      assert.equal(errorType(unreachable), 'INTERNAL_ERROR');

      // A revoked grant: /userinfo says so at once; an offline check cannot
      // know before the token expires (docs/skill.md).
      const revoked = await fetch(`${worker.base}/revoke`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: t.refresh_token, client_id: CLIENT_ID, client_secret: SECRET }),
      });
      assert.equal(revoked.status, 200);
      const [afterRevoke] = await runExample(env(check), [discover(t.access_token)]);
      assert.equal(errorType(afterRevoke), check === 'userinfo' ? 'INVALID_AUTHORIZATION_CREDENTIAL' : 'none');
    });
  }
}
