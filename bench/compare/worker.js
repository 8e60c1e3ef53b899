// The comparison Worker: @cloudflare/workers-oauth-provider, what a Workers user
// would pick instead, set up for the same scenarios as ours. Its /authorize
// approves at once (no login page, no password hash): the benchmark reports our
// link figures against the PBKDF2 ceiling for that reason.
import { OAuthProvider } from '@cloudflare/workers-oauth-provider';

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

// The resource: what /userinfo is for ours.
const apiHandler = {
  async fetch(request, env, ctx) {
    return Response.json({ sub: ctx.props.userId });
  },
};

export default new OAuthProvider({
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
