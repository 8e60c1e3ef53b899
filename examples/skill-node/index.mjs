// An Alexa smart-home skill's Lambda handler (Node.js 20, no dependencies)
// that knows, for every directive, which of our users it is for.
//
// Settings (environment):
//   OAUTH_ISSUER       our Worker's origin, e.g. https://auth.example.com
//   OAUTH_CLIENT_ID    this skill's client id at the Worker (`admin client add
//                      --id`): a token issued to another client is refused
//   TOKEN_CHECK        "jwks" (the default): verify the ES256 access token offline
//                      against the Worker's key set, cached; "userinfo": ask the
//                      Worker's /userinfo, with a short cache
//   OAUTH_CLIENT_SECRET
//                      this skill's client secret at the Worker: AcceptGrant is
//                      forwarded to the Worker's /alexa/accept-grant, which
//                      keeps the event tokens (docs/skill.md §4)
//   ALEXA_REGION       NA, EU or FE: where this Lambda's directives come from;
//                      by default from AWS_REGION (us-east-1 NA, eu-west-1 EU,
//                      us-west-2 FE)
//
// The error rule (docs/skill.md): INVALID_AUTHORIZATION_CREDENTIAL only when
// the Worker said the token is bad (a 401, or a signature that fails), which
// makes Alexa unlink the user; INTERNAL_ERROR for anything else (a timeout, a
// 5xx, the Worker unreachable), which does not. A token up to LEEWAY seconds
// past its expiry is still served.
import { createPublicKey, verify as verifySignature, randomUUID } from 'node:crypto';

const LEEWAY = 60;
const KEYS_MAX_AGE_MS = 5 * 60 * 1000;
const USERINFO_CACHE_SECONDS = 60;
const TIMEOUT_MS = 3000;

const settings = () => ({
  issuer: (process.env.OAUTH_ISSUER ?? '').replace(/\/$/, ''),
  clientId: process.env.OAUTH_CLIENT_ID ?? '',
  check: process.env.TOKEN_CHECK ?? 'jwks',
  clientSecret: process.env.OAUTH_CLIENT_SECRET ?? '',
  region: process.env.ALEXA_REGION ?? regionOf(process.env.AWS_REGION),
});

/** The Alexa region whose directives reach a Lambda in this AWS region. */
function regionOf(awsRegion = '') {
  if (awsRegion.startsWith('eu-')) return 'EU';
  if (awsRegion === 'us-west-2' || awsRegion.startsWith('ap-')) return 'FE';
  return 'NA';
}

/** Why a directive cannot be served: the Alexa error type to answer with. */
class Refusal extends Error {
  constructor(type, message) {
    super(message);
    this.type = type;
  }
}
const invalid = (why) => new Refusal('INVALID_AUTHORIZATION_CREDENTIAL', why);
const expired = (why) => new Refusal('EXPIRED_AUTHORIZATION_CREDENTIAL', why);
const internal = (why) => new Refusal('INTERNAL_ERROR', why);

/** fetch with a timeout; any failure to get an answer is INTERNAL_ERROR. */
async function call(url, init = {}) {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    throw internal(`could not reach ${url}: ${e.cause?.code ?? e.name}`);
  }
}

// ---- Who is this directive for? -------------------------------------------

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/** The Worker's key set, kept KEYS_MAX_AGE_MS and fetched again for an unknown kid. */
const keySet = { keys: [], fetchedAt: 0 };
async function publicKey(issuer, kid) {
  const find = () => keySet.keys.find((k) => k.kid === kid);
  const fresh = Date.now() - keySet.fetchedAt < KEYS_MAX_AGE_MS;
  if (!find() || !fresh) {
    const r = await call(`${issuer}/.well-known/jwks.json`);
    if (r.status !== 200) throw internal(`the key set answered ${r.status}`);
    keySet.keys = (await r.json()).keys ?? [];
    keySet.fetchedAt = Date.now();
  }
  const jwk = find();
  // A kid the Worker does not publish: not one of its tokens.
  if (!jwk) throw invalid('the token names a key the authorization server does not have');
  return createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
}

/**
 * The token is for this skill: its audience (`aud`, RFC 9068), or, in a
 * token from before the Worker wrote `aud`, its `client_id`.
 */
function checkAudience(claims, clientId) {
  const audience = claims.aud ?? claims.client_id;
  if (audience !== clientId) throw invalid(`issued to ${audience}, not to this skill (${clientId})`);
}

/** Offline: the ES256 signature against the served key set, then iss, aud and exp. */
async function checkOffline(token, issuer, clientId) {
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid('not a JWT');
  let header;
  let claims;
  try {
    [header, claims] = [b64json(parts[0]), b64json(parts[1])];
  } catch {
    throw invalid('not a JWT');
  }
  if (header.alg !== 'ES256') throw invalid(`alg ${header.alg}: this skill accepts ES256 only (set ACCESS_TOKEN_ALG = "ES256" on the Worker)`);
  const key = await publicKey(issuer, header.kid);
  const ok = verifySignature('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2], 'base64url'));
  if (!ok) throw invalid('the signature does not verify');
  if (claims.iss !== issuer) throw invalid(`issued by ${claims.iss}, not ${issuer}`);
  checkAudience(claims, clientId);
  if (!Number.isInteger(claims.exp)) throw invalid('the token has no expiry');
  if (claims.exp + LEEWAY <= Date.now() / 1000) throw expired('the token expired');
  if (!claims.gid) throw invalid('not a token issued for a user');
  return { sub: claims.sub, name: claims.name ?? '', bridgeUrl: claims.bridge_url };
}

/** Online: the Worker's /userinfo, remembered until the token expires (at most a minute). */
const answers = new Map();
async function checkOnline(token, issuer, clientId) {
  const now = Date.now() / 1000;
  const cached = answers.get(token);
  if (cached && cached.until > now) return cached.user;
  const r = await call(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  if (r.status === 401) throw invalid((await r.json().catch(() => ({}))).error_description ?? 'the authorization server refused the token');
  if (r.status !== 200) throw internal(`/userinfo answered ${r.status}`);
  const body = await r.json();
  const user = { sub: body.sub, name: body.name ?? '', bridgeUrl: body.bridge_url };
  // The Worker vouched for the token, so its payload is the one it signed.
  let claims = {};
  try {
    claims = b64json(token.split('.')[1]);
  } catch {}
  checkAudience(claims, clientId);
  const exp = Number.isInteger(claims.exp) ? claims.exp : now;
  answers.set(token, { user, until: Math.min(exp, now + USERINFO_CACHE_SECONDS) });
  if (answers.size > 1000) answers.delete(answers.keys().next().value);
  return user;
}

export async function userOf(token) {
  const { issuer, clientId, check } = settings();
  if (!token) throw invalid('no token in the directive');
  if (!issuer) throw internal('OAUTH_ISSUER is not set');
  if (!clientId) throw internal('OAUTH_CLIENT_ID is not set');
  return check === 'userinfo' ? checkOnline(token, issuer, clientId) : checkOffline(token, issuer, clientId);
}

// ---- The user's devices ------------------------------------------------------

// A demo list per user. A real skill asks the user's bridge for its
// accessories: its URL is the user's `bridge_url` claim, which the operator
// sets with `admin user update --claim bridge_url=…` and every token carries.
// Here it only travels in each endpoint's cookie, which Alexa sends back.
const powered = new Map();
function devicesOf(user) {
  return [
    { id: `${user.sub}:lamp`, name: 'Lamp', category: 'LIGHT' },
    { id: `${user.sub}:fan`, name: 'Fan', category: 'FAN' },
  ];
}

function powerProperty(endpointId) {
  return {
    namespace: 'Alexa.PowerController',
    name: 'powerState',
    value: powered.get(endpointId) ? 'ON' : 'OFF',
    timeOfSample: new Date().toISOString(),
    uncertaintyInMilliseconds: 500,
  };
}

// ---- AcceptGrant and events, through the Worker ---------------------------

/** A JSON POST to the Worker with this skill's credentials (HTTP Basic). */
async function toWorker(path, body) {
  const { issuer, clientId, clientSecret } = settings();
  if (!issuer || !clientId || !clientSecret) throw internal('OAUTH_ISSUER, OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET must be set');
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  const r = await call(`${issuer}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Basic ${basic}` }, body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

/**
 * The Worker exchanges the code at Login with Amazon and keeps the tokens
 * for the user our access token names; the skill keeps nothing.
 */
async function acceptGrant(code, granteeToken) {
  const r = await toWorker('/alexa/accept-grant', { code, grantee_token: granteeToken, region: settings().region });
  if (r.status !== 200) throw new Refusal('ACCEPT_GRANT_FAILED', r.body?.error_description ?? `the Worker answered ${r.status}`);
}

/**
 * What a device backend calls when a device changes: a ChangeReport for
 * one of `sub`'s endpoints, which the Worker sends to the user's region.
 * The status is the gateway's (202 when Alexa took it); 404 means the user
 * has no event tokens (no AcceptGrant, or the link ended), 409 that Alexa
 * no longer accepts them until the user links again.
 */
export async function sendChangeReport(sub, endpointId, properties, cause = 'PHYSICAL_INTERACTION') {
  const message = {
    event: {
      header: { namespace: 'Alexa', name: 'ChangeReport', payloadVersion: '3', messageId: randomUUID() },
      endpoint: { endpointId },
      payload: { change: { cause: { type: cause }, properties } },
    },
    context: { properties: [] },
  };
  return toWorker('/alexa/events', { sub, message });
}

// ---- The handler -------------------------------------------------------------

const header = (namespace, name, directive) => ({
  namespace,
  name,
  payloadVersion: '3',
  messageId: randomUUID(),
  ...(directive.header.correlationToken ? { correlationToken: directive.header.correlationToken } : {}),
});

function errorResponse(directive, refusal) {
  return {
    event: {
      header: header(directive.header.namespace === 'Alexa.Authorization' ? 'Alexa.Authorization' : 'Alexa', 'ErrorResponse', directive),
      ...(directive.endpoint ? { endpoint: { endpointId: directive.endpoint.endpointId } } : {}),
      payload: { type: refusal.type, message: refusal.message },
    },
  };
}

export async function handler(event, context) {
  const directive = event.directive;
  const { namespace, name } = directive.header;
  try {
    if (namespace === 'Alexa.Discovery' && name === 'Discover') {
      const user = await userOf(directive.payload.scope?.token);
      const endpoints = devicesOf(user).map((d) => ({
        endpointId: d.id,
        manufacturerName: 'alexa-oauth example',
        friendlyName: d.name,
        description: `${d.name} of ${user.name || user.sub}`,
        displayCategories: [d.category],
        cookie: user.bridgeUrl ? { bridge_url: user.bridgeUrl } : {},
        capabilities: [
          { type: 'AlexaInterface', interface: 'Alexa', version: '3' },
          { type: 'AlexaInterface', interface: 'Alexa.PowerController', version: '3', properties: { supported: [{ name: 'powerState' }], retrievable: true, proactivelyReported: false } },
        ],
      }));
      return { event: { header: header('Alexa.Discovery', 'Discover.Response', directive), payload: { endpoints } } };
    }
    if (namespace === 'Alexa.Authorization' && name === 'AcceptGrant') {
      await acceptGrant(directive.payload.grant?.code, directive.payload.grantee?.token);
      return { event: { header: header('Alexa.Authorization', 'AcceptGrant.Response', directive), payload: {} } };
    }
    const endpoint = directive.endpoint;
    const user = await userOf(endpoint?.scope?.token);
    if (!devicesOf(user).some((d) => d.id === endpoint.endpointId)) {
      throw new Refusal('NO_SUCH_ENDPOINT', 'not one of this user\'s devices');
    }
    if (namespace === 'Alexa.PowerController' && (name === 'TurnOn' || name === 'TurnOff')) {
      powered.set(endpoint.endpointId, name === 'TurnOn');
    } else if (!(namespace === 'Alexa' && name === 'ReportState')) {
      throw new Refusal('INVALID_DIRECTIVE', `${namespace}.${name} is not supported`);
    }
    return {
      event: {
        header: header('Alexa', name === 'ReportState' ? 'StateReport' : 'Response', directive),
        endpoint: { scope: endpoint.scope, endpointId: endpoint.endpointId },
        payload: {},
      },
      context: { properties: [powerProperty(endpoint.endpointId)] },
    };
  } catch (e) {
    if (!(e instanceof Refusal)) {
      console.error(e);
      return errorResponse(directive, internal('unexpected error'));
    }
    console.log(JSON.stringify({ directive: `${namespace}.${name}`, error: e.type, reason: e.message }));
    if (e.type === 'ACCEPT_GRANT_FAILED') {
      return { event: { header: header('Alexa.Authorization', 'ErrorResponse', directive), payload: { type: e.type, message: e.message } } };
    }
    return errorResponse(directive, e);
  }
}
