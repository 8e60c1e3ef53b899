// Alexa's side of the link under wrangler dev, in both store modes, against the
// stand-in LWA and gateways of amazon.mjs on 127.0.0.1: an AcceptGrant
// forwarded by the skill keeps the event tokens (one KV write), events go to
// the gateway of the region recorded there and write nothing, a gateway 401
// gets one fresh token, LWA refusing the refresh token answers
// reauthorization_required, every refusal is what the skill needs to answer
// Alexa with, and ending a link forgets the tokens.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  startWorker, link, token, admin, snapshot, changed, Session, CLIENT_ID, MACHINE_ID,
  SECRET, ROOT, SECRETS_SEEN, USERNAME, PASSWORD,
} from './harness.mjs';
import { startAmazon } from './amazon.mjs';

const changeReport = (id = 'lamp-1') => ({
  event: {
    header: { namespace: 'Alexa', name: 'ChangeReport', payloadVersion: '3', messageId: `m-${id}` },
    endpoint: { endpointId: id },
    payload: { change: { cause: { type: 'PHYSICAL_INTERACTION' }, properties: [] } },
  },
  context: { properties: [{ namespace: 'Alexa.PowerController', name: 'powerState', value: 'ON' }] },
});
const settle = () => new Promise((r) => setTimeout(r, 500));

for (const durable of [false, true]) {
  describe(durable ? 'Durable Object mode' : 'KV mode', () => {
    let worker;
    let amazon;
    before(async () => {
      amazon = await startAmazon();
      worker = await startWorker({ durable, vars: { ...amazon.vars, ACCOUNT_PAGES: 'on' } });
      admin(worker.state, ['client', 'update', '--id', CLIENT_ID, '--lwa-client-id', amazon.clientId, '--lwa-client-secret-stdin'], amazon.clientSecret);
    });
    after(async () => {
      worker?.stop();
      await amazon?.stop();
      for (const s of amazon?.secrets ?? []) SECRETS_SEEN.add(s);
    });

    /** A JSON POST, with the skill's credentials in Basic unless `auth` says otherwise. */
    async function post(path, body, { id = CLIENT_ID, secret = SECRET, auth = 'basic' } = {}) {
      const headers = { 'content-type': 'application/json' };
      if (auth === 'basic') headers.authorization = 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
      else body = { ...body, client_id: id, client_secret: secret };
      const r = await fetch(`${worker.base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      const text = await r.text();
      return { status: r.status, json: text ? JSON.parse(text) : null };
    }
    const acceptGrant = (accessToken, region, opts) =>
      post('/alexa/accept-grant', { code: amazon.grantCode(), grantee_token: accessToken, region }, opts);
    const sendEvent = (sub, message = changeReport(), opts) => post('/alexa/events', { sub, message }, opts);

    /** A new link through the harness: its access token, refresh token and sub. */
    async function linked() {
      const t = await link(worker.base);
      const sub = JSON.parse(Buffer.from(t.access_token.split('.')[1], 'base64url')).sub;
      return { at: t.access_token, rt: t.refresh_token, sub };
    }

    /** The stored event tokens of `sub`, through wrangler (null when none). */
    function stored(sub) {
      const out = execFileSync(join(ROOT, 'node_modules/.bin/wrangler'),
        ['kv', 'key', 'get', `alexaevents:${sub}:${CLIENT_ID}`, '--binding', 'OAUTH_KV', '--local', '--persist-to', worker.state],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } }).trim();
      return out.startsWith('{') ? JSON.parse(out) : null;
    }

    test('AcceptGrant, then events to the recorded region: one write for the grant, none per event', async () => {
      const { at, sub } = await linked();
      await settle();
      const beforeAccept = snapshot(worker.state);
      const accepted = await acceptGrant(at, 'EU', { auth: 'body' });
      assert.deepEqual(accepted, { status: 200, json: { accepted: true } });
      await settle();
      assert.notDeepEqual(changed(beforeAccept, snapshot(worker.state)), [], 'the AcceptGrant wrote its record');
      const record = stored(sub);
      assert.equal(record.region, 'EU');
      assert.ok(!JSON.stringify(record).includes(amazon.clientSecret));

      const beforeEvents = snapshot(worker.state);
      for (let i = 0; i < 5; i++) assert.equal((await sendEvent(sub, changeReport(`lamp-${i}`))).status, 202);
      await settle();
      assert.deepEqual(changed(beforeEvents, snapshot(worker.state)), [], '0 writes for 5 events');
      const sent = amazon.delivered.at(-1);
      assert.equal(sent.region, 'eu');
      assert.equal(sent.message.event.endpoint.scope.type, 'BearerToken');
      assert.equal(sent.authorization, `Bearer ${sent.message.event.endpoint.scope.token}`);
      assert.deepEqual(sent.message.context, changeReport().context);

      // A Discovery report carries its token in the payload.
      const discovery = { event: { header: { namespace: 'Alexa.Discovery', name: 'AddOrUpdateReport', payloadVersion: '3', messageId: 'd' }, payload: { endpoints: [] } } };
      assert.equal((await sendEvent(sub, discovery)).status, 202);
      assert.ok(amazon.delivered.at(-1).message.event.payload.scope.token);

      // The skill re-enabled in another region: a new AcceptGrant replaces the record.
      assert.equal((await acceptGrant(at, 'FE')).status, 200);
      assert.equal((await sendEvent(sub)).status, 202);
      assert.equal(amazon.delivered.at(-1).region, 'fe');
    });

    test('a gateway 401 gets one fresh token; LWA refusing the refresh token answers reauthorization_required', async () => {
      const { at, sub } = await linked();
      assert.equal((await acceptGrant(at, 'NA')).status, 200);
      amazon.expireAccessTokens();
      const refreshes = amazon.lwaCalls.filter((g) => g === 'refresh_token').length;
      assert.equal((await sendEvent(sub)).status, 202);
      assert.equal(amazon.lwaCalls.filter((g) => g === 'refresh_token').length, refreshes + 1);
      assert.equal(amazon.delivered.at(-1).region, 'na');

      amazon.forgetEverything();
      const ended = await sendEvent(sub);
      assert.equal(ended.status, 409);
      assert.equal(ended.json.error, 'reauthorization_required');
      assert.equal(stored(sub), null, 'the tokens are forgotten');
      assert.equal((await sendEvent(sub)).status, 404);
    });

    test('every refusal: bad credentials, a foreign or false grantee token, a spent code, LWA down, another client', async () => {
      const { at, sub } = await linked();
      await settle();
      const quiet = snapshot(worker.state);
      const wrong = await acceptGrant(at, 'NA', { secret: 'wrong' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error, 'invalid_client');
      assert.equal((await acceptGrant('not.a.token', 'NA')).json.error, 'invalid_grant');
      const machine = await token(worker.base, { grant_type: 'client_credentials' }, { id: MACHINE_ID });
      assert.equal((await acceptGrant(machine.json.access_token, 'NA')).json.error, 'invalid_grant', 'a token with no user');
      assert.equal((await acceptGrant(at, 'NA', { id: MACHINE_ID })).json.error, 'invalid_grant', 'another client\'s token');
      assert.equal((await acceptGrant(at, 'SA')).json.error, 'invalid_request');
      const spent = await post('/alexa/accept-grant', { code: 'ANspent', grantee_token: at, region: 'NA' });
      assert.equal(spent.status, 400);
      assert.equal(spent.json.error, 'accept_grant_failed');
      assert.match(spent.json.error_description, /invalid_grant/);
      amazon.lwaDown = true;
      assert.equal((await acceptGrant(at, 'NA')).status, 503);
      amazon.lwaDown = false;
      assert.equal((await sendEvent(sub)).status, 404, 'no AcceptGrant yet');
      await settle();
      assert.deepEqual(changed(quiet, snapshot(worker.state)), [], 'no refusal wrote anything');

      assert.equal((await acceptGrant(at, 'NA')).status, 200);
      const other = await sendEvent(sub, changeReport(), { id: MACHINE_ID });
      assert.equal(other.status, 404, 'another client never sends with these tokens');
      assert.equal((await sendEvent(sub, { event: { header: { namespace: 'Alexa' } } })).status, 400);
      const form = await fetch(`${worker.base}/alexa/events`, { method: 'POST', body: 'sub=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(form.status, 400);
      const get = await fetch(`${worker.base}/alexa/events`);
      assert.equal(get.status, 405);
    });

    test('ending a link forgets its event tokens: /revoke, the account page, admin grant revoke, admin user remove', async () => {
      const revoked = await linked();
      assert.equal((await acceptGrant(revoked.at, 'NA')).status, 200);
      const answer = await fetch(`${worker.base}/revoke`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: revoked.rt, client_id: CLIENT_ID, client_secret: SECRET }).toString(),
      });
      assert.equal(answer.status, 200);
      assert.equal((await sendEvent(revoked.sub)).status, 404);
      assert.equal(stored(revoked.sub), null);

      // "End link" at /account.
      const ended = await linked();
      assert.equal((await acceptGrant(ended.at, 'NA')).status, 200);
      const browser = new Session(worker.base, '198.51.100.77');
      const signIn = await browser.post(await browser.fetch('/account'), '/account', { username: USERNAME, password: PASSWORD, action: 'signin' });
      assert.equal(signIn.status, 303, signIn.html);
      const gidOf = (at) => JSON.parse(Buffer.from(at.split('.')[1], 'base64url')).gid;
      const page = await browser.fetch('/account');
      const end = await browser.post(page, '/account', { grant: gidOf(ended.at), action: 'end' });
      assert.equal(end.status, 200, end.html);
      assert.equal(stored(ended.sub), null);
      assert.equal((await sendEvent(ended.sub)).status, 404);

      // admin reaches KV, not the Worker's isolate: the record goes at once
      // (in Durable Object mode found by its grant among the event records).
      const byAdmin = await linked();
      assert.equal((await acceptGrant(byAdmin.at, 'NA')).status, 200);
      admin(worker.state, ['--mode', durable ? 'do' : 'kv', 'grant', 'revoke', '--id', gidOf(byAdmin.at)]);
      assert.equal(stored(byAdmin.sub), null);
      // Last, since it removes the test's user.
      const removed = await linked();
      assert.equal((await acceptGrant(removed.at, 'NA')).status, 200);
      assert.ok(stored(removed.sub));
      admin(worker.state, ['user', 'remove', '--username', USERNAME]);
      assert.equal(stored(removed.sub), null);
    });
  });
}
