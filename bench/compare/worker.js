// The comparison Worker: @cloudflare/workers-oauth-provider, what a Workers user
// would pick instead, set up for the same scenarios as ours. Its /authorize
// approves at once (no login page, no password hash): the benchmark reports our
// link figures against the PBKDF2 ceiling for that reason.
import { OAuthProvider } from '@cloudflare/workers-oauth-provider';
import { countingKv, zero } from '../kv-counter.mjs';

const defaultHandler = {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/authorize') {
      const oauthRequest = await env.OAUTH_PROVIDER.parseAuthRequest(request);
      const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
        request: oauthRequest,
        userId: 'bench-user',
        metadata: {},
        scope: oauthRequest.scope,
        props: { userId: 'bench-user' },
        revokeExistingGrants: false,
      });
      return Response.redirect(redirectTo, 302);
    }
    if (url.pathname === '/floor') return new Response('ok');
    if (url.pathname === '/setup' && request.method === 'POST') {
      const client = await env.OAUTH_PROVIDER.createClient({
        redirectUris: ['https://layla.amazon.com/api/skill/link/BENCH'],
        clientName: 'bench',
        tokenEndpointAuthMethod: 'client_secret_basic',
      });
      return Response.json({ client_id: client.clientId, client_secret: client.clientSecret });
    }
    return new Response('not found', { status: 404 });
  },
};

// The storage floor of a refresh: what a refresh that rotates its token must do
// on KV at the least, with every check and all crypto left out. One bulk read
// of the grant and its tombstone, one write of the grant (the size of ours),
// and a token answer. `npm run bench` drives it like our refresh, so that
// ours ÷ this shows how much of a refresh is ours and how much is KV.
const GRANT = JSON.stringify({
  id: 'g'.repeat(22), client_id: 'alexa-skill', user_id: 'u'.repeat(22), display_name: 'alice', scope: 'smart_home profile',
  created_at: 1, refresh_hash: 'h'.repeat(43), previous_refresh_hash: 'p'.repeat(43), refreshed_at: 2,
  retired_refresh_hashes: Array(8).fill('r'.repeat(43)),
});
async function refreshFloor(request, env) {
  const form = new URLSearchParams(await request.text());
  const [grantId] = (form.get('refresh_token') ?? '').split('.');
  const keys = [`grant:${grantId}`, `revoked:${grantId}`];
  const found = await env.OAUTH_KV.get(keys);
  const grant = JSON.parse(found.get(keys[0]) ?? GRANT);
  grant.refreshed_at = Date.now();
  await env.OAUTH_KV.put(keys[0], JSON.stringify(grant));
  const answer = { access_token: 'a'.repeat(300), token_type: 'Bearer', expires_in: 3600, refresh_token: `${grantId}.${'s'.repeat(43)}`, scope: grant.scope };
  return Response.json(answer, { headers: { 'cache-control': 'no-store', pragma: 'no-cache' } });
}

// The resource: what /userinfo is for ours.
const apiHandler = {
  async fetch(request, env, ctx) {
    return Response.json({ sub: ctx.props.userId });
  },
};

const provider = new OAuthProvider({
  apiRoute: '/api/',
  apiHandler,
  defaultHandler,
  authorizeEndpoint: '/authorize',
  tokenEndpoint: '/token',
  scopesSupported: ['smart_home'],
  accessTokenTTL: 3600,
  // Required since 1.x, and tokens are only accepted at this exact origin, so
  // the benchmark passes the URL it serves on (`wrangler dev --define`).
  resourceMetadata: { resource: RESOURCE_URL },
});

// The refresh floor is served ahead of the provider, so that none of its work
// is counted.
// Its KV calls are counted as ours are (GET /__kv-counts answers and resets).
let counts = zero();
export default {
  fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path === '/__kv-counts') {
      const answer = Response.json(counts);
      counts = zero();
      return answer;
    }
    if (path === '/refresh-floor' && request.method === 'POST') return refreshFloor(request, env);
    return provider.fetch(request, { ...env, OAUTH_KV: countingKv(env.OAUTH_KV, counts) }, ctx);
  },
};
