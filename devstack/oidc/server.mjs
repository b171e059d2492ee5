// Development OpenID Provider for Bodhi services (`make run` and the tests). NOT for production:
// it logs in any username without a password.
//
// Environment:
//   OIDC_ISSUER              issuer identifier, e.g. http://127.0.0.1:8090 (no path, no trailing /);
//                            the listen address comes from it unless OIDC_HOST / OIDC_PORT are set
//   OIDC_DATA_DIR            required; the private signing keys live in <dir>/jwks.json (mode 0600),
//                            created on first start and reused afterwards
//   OIDC_REGISTRATION_TOKEN  optional; when set, dynamic client registration (RFC 7591) requires it
//                            as a bearer initial access token, otherwise registration is open
//   OIDC_CLIENTS             optional JSON array of pre-provisioned client metadata objects
//   OIDC_DEFAULT_RESOURCE    audience of JWT access tokens when a client names none (urn:bodhi:api)
//   OIDC_ACCESS_TOKEN_TTL, OIDC_ID_TOKEN_TTL, OIDC_REFRESH_TOKEN_TTL, OIDC_SESSION_TTL,
//   OIDC_GRANT_TTL, OIDC_AUTHORIZATION_CODE_TTL, OIDC_INTERACTION_TTL   lifetimes in seconds
//
// State: oidc-provider's in-memory adapter. Clients registered at run time, grants, sessions,
// codes and refresh tokens are lost on restart; the signing keys (and so JWKS kids) are not.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

import { Accounts, normalizeLogin, subFor } from './accounts.mjs';
import { escapeHtml, interactionRoutes } from './interactions.mjs';
import { loadOrCreateJwks } from './keys.mjs';

const log = {
  info: (msg) => console.log(`oidc-provider ${msg}`),
  error: (msg) => console.error(`oidc-provider ERROR ${msg}`),
};

function fail(message) {
  log.error(message);
  process.exit(2);
}

function seconds(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) fail(`${name} must be a positive integer (seconds)`);
  return value;
}

function readConfig() {
  const issuer = process.env.OIDC_ISSUER;
  if (!issuer) fail('OIDC_ISSUER is required, e.g. http://127.0.0.1:8090');
  let url;
  try {
    url = new URL(issuer);
  } catch {
    fail('OIDC_ISSUER is not a valid URL');
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash || issuer.endsWith('/')
      || url.pathname !== '/') {
    fail('OIDC_ISSUER must be an http(s) origin without path or trailing slash, e.g. http://127.0.0.1:8090');
  }
  const dataDir = process.env.OIDC_DATA_DIR;
  if (!dataDir) fail('OIDC_DATA_DIR is required (the signing keys are kept there)');

  let clients = [];
  if (process.env.OIDC_CLIENTS) {
    try {
      clients = JSON.parse(process.env.OIDC_CLIENTS);
    } catch {
      fail('OIDC_CLIENTS is not valid JSON');
    }
    if (!Array.isArray(clients)) fail('OIDC_CLIENTS must be a JSON array of client metadata objects');
  }

  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(process.env.OIDC_PORT || url.port || (url.protocol === 'https:' ? 443 : 80));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('OIDC_PORT must be a TCP port');
  let hosts = [hostname];
  if (process.env.OIDC_HOST) {
    hosts = [process.env.OIDC_HOST];
  } else if (hostname === 'localhost') {
    // Browsers may try either loopback address for "localhost": listen on both.
    hosts = ['127.0.0.1', '::1'];
  }

  const refreshTtl = seconds('OIDC_REFRESH_TOKEN_TTL', 24 * 3600);
  const sessionTtl = seconds('OIDC_SESSION_TTL', 24 * 3600);
  return {
    issuer,
    secure: url.protocol === 'https:',
    hosts,
    port,
    dataDir,
    clients,
    registrationToken: process.env.OIDC_REGISTRATION_TOKEN || undefined,
    defaultResource: process.env.OIDC_DEFAULT_RESOURCE || 'urn:bodhi:api',
    ttl: {
      accessToken: seconds('OIDC_ACCESS_TOKEN_TTL', 300),
      idToken: seconds('OIDC_ID_TOKEN_TTL', 300),
      refreshToken: refreshTtl,
      session: sessionTtl,
      grant: seconds('OIDC_GRANT_TTL', Math.max(refreshTtl, sessionTtl)),
      authorizationCode: seconds('OIDC_AUTHORIZATION_CODE_TTL', 60),
      interaction: seconds('OIDC_INTERACTION_TTL', 600),
    },
  };
}

// scope_user_*: the role scopes a third-party app asks for when it calls the Bodhi API with its own
// access token (as with BodhiApp's Keycloak). Any client may request them; the JWT access token
// carries the granted ones in `scope` and names the client in `azp` and `client_id`.
const USER_SCOPES = ['scope_user_user', 'scope_user_power_user', 'scope_user_manager', 'scope_user_admin'];
const SCOPES = ['openid', 'email', 'profile', 'offline_access', 'roles', ...USER_SCOPES];

function buildProvider(config, jwks, accounts) {
  // A login_hint naming someone other than the signed-in user asks for a new login, so one
  // cookie jar (or browser) can switch users by hint.
  const policy = interactionPolicy.base();
  policy.get('login').checks.add(new interactionPolicy.Check(
    'login_hint_mismatch',
    'login_hint names another End-User',
    (ctx) => {
      const hinted = normalizeLogin(ctx.oidc.params.login_hint);
      const current = ctx.oidc.session.accountId;
      return Boolean(hinted && current && current !== subFor(hinted));
    },
  ));

  const resourceServer = (indicator) => ({
    // The OIDC scopes double as the access token's scopes, like Keycloak's "openid email profile".
    scope: SCOPES.join(' '),
    audience: indicator,
    accessTokenTTL: config.ttl.accessToken,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  });

  const provider = new Provider(config.issuer, {
    clients: config.clients,
    jwks,
    // Cookies are signed with a per-start key: sessions do not survive a restart anyway.
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    findAccount: (_ctx, sub) => accounts.find(sub),
    interactions: { policy },
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name', 'given_name', 'family_name'],
      roles: [],
    },
    // Put the granted claims in the id_token (userinfo is off): the BFF reads them there.
    conformIdTokenClaims: false,
    responseTypes: ['code'], // authorization code flow only
    pkce: { required: () => true }, // oidc-provider 9 knows only S256
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    features: {
      devInteractions: { enabled: false },
      registration: {
        enabled: true,
        initialAccessToken: config.registrationToken ?? false,
      },
      revocation: { enabled: true },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      // Off: access tokens are JWTs for a resource server, which oidc-provider's userinfo endpoint
      // refuses; every granted claim is in the id_token instead (conformIdTokenClaims: false).
      userinfo: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Every authorization names a resource, so access tokens are RS256 JWTs (RFC 9068) that
        // a resource server verifies against our JWKS. Any absolute URI is accepted (dev).
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? config.defaultResource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => resourceServer(indicator),
      },
    },
    // Refresh tokens for every authorization_code grant of a client allowed to refresh: no
    // offline_access + consent dance. They rotate on every use (a reused one is refused).
    issueRefreshToken: async (_ctx, client, source) => source.kind === 'AuthorizationCode'
      && client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // Tokens outlive the provider session (the RP revokes them with RFC 7009 on logout).
    expiresWithSession: async () => false,
    // Consent is implied: grant whatever the client asks for (first-party dev clients).
    loadExistingGrant: async (ctx) => {
      const { oidc } = ctx;
      const accountId = oidc.account.accountId;
      const clientId = oidc.client.clientId;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== accountId || grant.clientId !== clientId) {
        grant = new oidc.provider.Grant({ accountId, clientId });
      }
      const oidcScopes = [...oidc.requestParamOIDCScopes];
      if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
      const claims = [...oidc.requestParamClaims];
      if (claims.length) grant.addOIDCClaims(claims);
      for (const [indicator, server] of Object.entries(oidc.resourceServers)) {
        const scopes = [...oidc.requestParamScopes].filter((s) => server.scopes.has(s));
        if (scopes.length) grant.addResourceScope(indicator, scopes.join(' '));
      }
      await grant.save();
      return grant;
    },
    // Keycloak-style extras in JWT access tokens: who it was issued to and for whom.
    extraTokenClaims: async (_ctx, token) => {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const account = accounts.find(token.accountId);
      const claims = account ? await account.claims() : {};
      return {
        azp: token.clientId,
        ...(claims.preferred_username ? { preferred_username: claims.preferred_username } : {}),
      };
    },
    ttl: {
      AccessToken: config.ttl.accessToken,
      AuthorizationCode: config.ttl.authorizationCode,
      ClientCredentials: config.ttl.accessToken,
      IdToken: config.ttl.idToken,
      RefreshToken: config.ttl.refreshToken,
      Session: config.ttl.session,
      Grant: config.ttl.grant,
      Interaction: config.ttl.interaction,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error</title></head><body><h1>Error</h1>${
        Object.entries(out).map(([k, v]) => `<p><b>${escapeHtml(k)}</b>: ${escapeHtml(v)}</p>`).join('')}</body></html>\n`;
    },
  });

  if (config.secure) provider.proxy = true; // https issuer: TLS is terminated in front of us

  provider.use(interactionRoutes(provider, accounts, log));

  // Errors are logged by name and description only: never a token, code or secret.
  const describe = (err) => `${err.error || err.name}${err.error_description ? `: ${err.error_description}` : ''}${err.error_detail ? ` (${err.error_detail})` : ''}`;
  provider.on('server_error', (ctx, err) => {
    log.error(`server_error ${ctx.method} ${ctx.path}: ${err.name}: ${err.message}`);
  });
  for (const event of [
    'authorization.error', 'grant.error', 'registration_create.error', 'revocation.error',
    'introspection.error', 'end_session.error', 'userinfo.error', 'backchannel.error',
    'jwks.error', 'discovery.error', 'registration_read.error', 'check_session_origin.error',
  ]) {
    provider.on(event, (ctx, err) => {
      if (err instanceof errors.OIDCProviderError && err.statusCode < 500) {
        log.info(`${event} ${ctx.method} ${ctx.path}: ${describe(err)}`);
      } else {
        log.error(`${event} ${ctx.method} ${ctx.path}: ${describe(err)}`);
      }
    });
  }
  return provider;
}

function listen(server, host, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

async function main() {
  const config = readConfig();
  let jwks;
  try {
    const loaded = loadOrCreateJwks(config.dataDir);
    jwks = loaded.jwks;
    if (loaded.created) log.info(`generated signing keys in ${loaded.file}`);
  } catch (err) {
    fail(`signing keys: ${err.message}`);
  }
  const accounts = new Accounts();
  const provider = buildProvider(config, jwks, accounts);
  // Static clients are validated lazily by oidc-provider: load each now to fail fast.
  for (const client of config.clients) {
    try {
      if (!await provider.Client.find(String(client?.client_id))) throw new Error('not loaded');
    } catch (err) {
      fail(`OIDC_CLIENTS: client ${JSON.stringify(client?.client_id)}: ${err.error_description || err.message}`);
    }
  }
  const handler = provider.callback();

  const servers = [];
  for (const [i, host] of config.hosts.entries()) {
    try {
      servers.push(await listen(http.createServer(handler), host, config.port));
    } catch (err) {
      if (i === 0) fail(`cannot listen on ${host}:${config.port}: ${err.code || err.message}`);
      log.info(`not listening on ${host}:${config.port} (${err.code || err.message})`);
    }
  }

  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    log.info(`stopping (${signal})`);
    setTimeout(() => process.exit(0), 2000).unref();
    let open = servers.length;
    for (const server of servers) {
      server.close(() => {
        open -= 1;
        if (open === 0) process.exit(0);
      });
      server.closeIdleConnections();
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log.info(`ready issuer=${config.issuer}`);
}

main().catch((err) => fail(`startup failed: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`));
