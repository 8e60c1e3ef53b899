// A stand-in for Amazon's side of events on 127.0.0.1: Login with Amazon's
// token endpoint (AcceptGrant codes and refresh tokens, form-encoded with the
// credentials in the body, as LWA takes them) and the three event gateways at
// /na, /eu and /fe (`<gateway>/v3/events`), which take an event only with a
// live access token both in `Authorization` and in the message's scope.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

/**
 * Starts the stand-in; resolves to an object whose fields tests use:
 * `base`, `lwaTokenUrl`, `gateway(region)`, `clientId`, `clientSecret`,
 * `grantCode()` (a code as AcceptGrant carries it), `delivered` (events the
 * gateways took: { region, authorization, message }), `lwaCalls` (grant
 * types), `secrets` (every token it issued, for the log scan),
 * `expireAccessTokens()`, `forgetEverything()` (the user disabled the skill),
 * `lwaDown` and `stop()`.
 */
export async function startAmazon() {
  const codes = new Set();
  const refreshTokens = new Set();
  const accessTokens = new Set();
  let issued = 0;
  const a = {
    clientId: 'amzn1.application-oa2-client.e2e-events',
    clientSecret: 'lwa-secret-' + randomBytes(12).toString('base64url'),
    delivered: [], lwaCalls: [], secrets: new Set(), lwaDown: false,
    grantCode() {
      const code = `ANcode${randomBytes(9).toString('base64url')}`;
      codes.add(code);
      a.secrets.add(code);
      return code;
    },
    expireAccessTokens() { accessTokens.clear(); },
    forgetEverything() { accessTokens.clear(); refreshTokens.clear(); },
  };
  a.secrets.add(a.clientSecret);
  const json = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const tokens = (res, refresh) => {
    issued += 1;
    const access = `Atza|e2e-access-${issued}-${randomBytes(6).toString('base64url')}`;
    accessTokens.add(access);
    refreshTokens.add(refresh);
    a.secrets.add(access);
    a.secrets.add(refresh);
    json(res, 200, { access_token: access, refresh_token: refresh, token_type: 'bearer', expires_in: 3600 });
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/auth/o2/token') {
        const form = new URLSearchParams(body);
        a.lwaCalls.push(form.get('grant_type'));
        if (a.lwaDown) return json(res, 503, {});
        const formEncoded = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
        if (!formEncoded || form.get('client_id') !== a.clientId || form.get('client_secret') !== a.clientSecret) {
          return json(res, 401, { error: 'invalid_client' });
        }
        const invalid = () => json(res, 400, { error: 'invalid_grant', error_description: 'The request has an invalid grant parameter : code' });
        if (form.get('grant_type') === 'authorization_code') {
          if (!codes.delete(form.get('code'))) return invalid();
          return tokens(res, `Atzr|e2e-refresh-${randomBytes(9).toString('base64url')}`);
        }
        if (form.get('grant_type') === 'refresh_token') {
          if (!refreshTokens.has(form.get('refresh_token'))) return invalid();
          return tokens(res, form.get('refresh_token'));
        }
        return json(res, 400, { error: 'unsupported_grant_type' });
      }
      const gateway = /^\/(na|eu|fe)\/v3\/events$/.exec(req.url);
      if (req.method === 'POST' && gateway) {
        const authorization = req.headers.authorization ?? '';
        const token = authorization.replace(/^Bearer /, '');
        let message = null;
        try { message = JSON.parse(body); } catch {}
        const event = message?.event ?? {};
        const scoped = event.endpoint?.scope?.token ?? event.payload?.scope?.token;
        if (!accessTokens.has(token) || scoped !== token) {
          return json(res, 401, { header: { name: 'ErrorResponse' }, payload: { code: 'INVALID_ACCESS_TOKEN_EXCEPTION' } });
        }
        a.delivered.push({ region: gateway[1], authorization, message });
        return json(res, 202);
      }
      json(res, 404, {});
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  a.base = `http://127.0.0.1:${server.address().port}`;
  a.lwaTokenUrl = `${a.base}/auth/o2/token`;
  a.gateway = (region) => `${a.base}/${region}`;
  a.vars = {
    LWA_TOKEN_URL: a.lwaTokenUrl,
    ALEXA_GATEWAY_NA: a.gateway('na'), ALEXA_GATEWAY_EU: a.gateway('eu'), ALEXA_GATEWAY_FE: a.gateway('fe'),
  };
  a.stop = () => new Promise((r) => server.close(r));
  return a;
}
