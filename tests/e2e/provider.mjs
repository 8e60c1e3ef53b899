// A stand-in provider identity provider on 127.0.0.1: OpenID Connect discovery,
// JWKS, an authorization endpoint that approves one configurable subject at
// once, a token endpoint, userinfo, and Login with Amazon's profile. Its
// misbehaviours are switched with `provider.mode = '…'` (see MODES).
import http from 'node:http';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/** What the provider can do wrong. */
export const MODES = ['ok', 'bad_signature', 'wrong_aud', 'wrong_nonce', 'expired', 'unknown_kid',
  'token_500', 'slow', 'access_denied', 'tampered_state'];

const b64url = (b) => Buffer.from(b).toString('base64url');

function keyPair(kind, kid) {
  const { privateKey, publicKey } = kind === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { alg: kind, kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: kind, use: 'sig' } };
}

/**
 * Starts the provider; resolves to an object whose fields tests change:
 * `mode`, `subject`, `alg` ('RS256' or 'ES256'), `authMethods` (the token
 * endpoint's client authentication), plus `base`, `clientId`, `clientSecret`,
 * `secrets` (every code and token it issued, for the log scan), `calls`
 * (paths it served), `rotate()` (a new signing key) and `stop()`.
 */
export async function startProvider({ clientId = 'worker-at-idp', clientSecret = 'idp-secret-' + randomBytes(12).toString('base64url') } = {}) {
  const keys = [keyPair('RS256', 'rsa-1'), keyPair('ES256', 'ec-1')];
  const stray = keyPair('RS256', 'stray');
  const codes = new Map();
  const p = {
    mode: 'ok', subject: 'idp-subject-alice', alg: 'RS256', authMethods: ['client_secret_basic'],
    clientId, clientSecret, secrets: new Set([clientSecret]), calls: [],
    rotate() {
      const next = keyPair(p.alg, `${p.alg === 'RS256' ? 'rsa' : 'ec'}-${keys.length + 1}`);
      keys.unshift(next);
    },
  };
  const signer = () => (p.mode === 'unknown_kid' ? stray : keys.find((k) => k.alg === p.alg));

  const json = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const readBody = (req) => new Promise((ok) => {
    let data = '';
    req.on('data', (d) => { data += d; });
    req.on('end', () => ok(data));
  });

  function idToken(pending) {
    const now = Math.floor(Date.now() / 1000);
    const key = signer();
    const claims = {
      iss: p.base, sub: p.subject, name: 'Alice Upstream',
      aud: p.mode === 'wrong_aud' ? 'someone-else' : clientId,
      iat: p.mode === 'expired' ? now - 7200 : now,
      exp: p.mode === 'expired' ? now - 3600 : now + 600,
      nonce: p.mode === 'wrong_nonce' ? 'not-the-nonce' : pending.nonce,
    };
    const input = `${b64url(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    const sig = key.alg === 'RS256'
      ? sign('sha256', Buffer.from(input), key.privateKey)
      : sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    if (p.mode === 'bad_signature') sig[0] ^= 1;
    return `${input}.${b64url(sig)}`;
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, p.base);
    p.calls.push(url.pathname);
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer: p.base, authorization_endpoint: `${p.base}/authorize`, token_endpoint: `${p.base}/token`,
        userinfo_endpoint: `${p.base}/userinfo`, jwks_uri: `${p.base}/jwks`,
        response_types_supported: ['code'], subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        token_endpoint_auth_methods_supported: p.authMethods, code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') return json(res, 200, { keys: keys.map((k) => k.jwk) });
    if (url.pathname === '/authorize') {
      const q = url.searchParams;
      const back = new URL(q.get('redirect_uri'));
      const state = p.mode === 'tampered_state' ? q.get('state') + 'x' : q.get('state');
      if (q.get('client_id') !== clientId || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) {
        back.searchParams.set('error', 'invalid_request');
      } else if (p.mode === 'access_denied') {
        back.searchParams.set('error', 'access_denied');
      } else {
        const code = 'idp-code-' + randomBytes(16).toString('base64url');
        p.secrets.add(code);
        codes.set(code, { nonce: q.get('nonce'), challenge: q.get('code_challenge'), redirect: q.get('redirect_uri'), subject: p.subject });
        back.searchParams.set('code', code);
      }
      back.searchParams.set('state', state);
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      if (p.mode === 'slow') await new Promise((r) => setTimeout(r, 7000));
      if (p.mode === 'token_500') return json(res, 500, { error: 'server_error' });
      if (p.mode === 'endless') {
        // An answer that never ends: 64 KiB every 100 ms, until the Worker hangs up.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"padding":"');
        const timer = setInterval(() => res.write('x'.repeat(65536)), 100);
        res.on('close', () => clearInterval(timer));
        return undefined;
      }
      let id = form.get('client_id');
      let secret = form.get('client_secret');
      const basic = req.headers.authorization?.match(/^Basic (.+)$/);
      if (basic) [id, secret] = Buffer.from(basic[1], 'base64').toString().split(':').map(decodeURIComponent);
      const method = basic ? 'client_secret_basic' : 'client_secret_post';
      const pending = codes.get(form.get('code'));
      codes.delete(form.get('code'));
      const verifier = form.get('code_verifier') ?? '';
      if (id !== clientId || secret !== clientSecret || !p.authMethods.includes(method)) return json(res, 401, { error: 'invalid_client' });
      if (!pending || pending.redirect !== form.get('redirect_uri')
        || createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) {
        return json(res, 400, { error: 'invalid_grant' });
      }
      const access = 'idp-access-' + randomBytes(16).toString('base64url');
      const answer = { access_token: access, token_type: 'bearer', expires_in: 3600, refresh_token: 'idp-refresh-' + randomBytes(16).toString('base64url') };
      if (pending.nonce) answer.id_token = idToken(pending);
      Object.values(answer).forEach((v) => typeof v === 'string' && v.length > 8 && p.secrets.add(v));
      return json(res, 200, answer);
    }
    if (url.pathname === '/userinfo') return json(res, 200, { sub: p.subject, name: 'Alice Upstream' });
    // Login with Amazon's profile format.
    if (url.pathname === '/user/profile') {
      if (!req.headers.authorization?.startsWith('Bearer idp-access-')) return json(res, 401, { error: 'invalid_token' });
      return json(res, 200, { user_id: `amzn1.account.${p.subject}`, name: 'Alice Amazon', email: 'alice@example.com' });
    }
    json(res, 404, { error: 'not_found' });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  p.base = `http://127.0.0.1:${server.address().port}`;
  p.stop = () => new Promise((ok) => { server.closeAllConnections?.(); server.close(ok); });
  return p;
}
