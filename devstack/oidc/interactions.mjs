// Our own interactions (the provider's devInteractions are off):
//   GET  /interaction/:uid        login prompt with login_hint -> log that user in, no page (headless)
//                                 login prompt otherwise       -> a tiny username-only form
//                                 consent prompt               -> granted automatically
//   POST /interaction/:uid/login  username from the form -> log that user in
// Consent is normally never prompted: loadExistingGrant (server.mjs) grants what is requested.

import { normalizeLogin } from './accounts.mjs';

const ROUTE = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/;
const MAX_BODY = 8 * 1024;

export function escapeHtml(value) {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>${body}</body></html>
`;
}

function loginForm(uid, clientLabel, message) {
  return page('Sign in', `
<h1>Sign in</h1>
<p>Development provider: any username, no password.${clientLabel ? ` Client: ${escapeHtml(clientLabel)}.` : ''}</p>
${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label>Username <input name="username" autofocus required maxlength="200"></label>
<button type="submit">Sign in</button>
</form>`);
}

async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) {
      const err = new Error('request body too large');
      err.status = 413;
      throw err;
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function html(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  ctx.body = body;
}

async function finish(ctx, provider, result, merge) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: merge,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

async function login(ctx, provider, accounts, interaction, loginName) {
  const accountId = accounts.remember(loginName);
  const previous = interaction.session;
  if (previous?.uid && previous.accountId !== accountId) {
    // Switching user: end the old provider session here. oidc-provider would otherwise answer
    // the resume with an auto-submitting logout form, which a headless client cannot follow.
    // (Its grants and tokens stay valid: tokens do not expire with the session.)
    delete interaction.session;
    await interaction.persist();
    const old = await provider.Session.findByUid(previous.uid);
    if (old) await old.destroy();
  }
  await finish(ctx, provider, { login: { accountId } }, false);
}

async function consent(ctx, provider, interaction) {
  const {
    prompt: { details }, params, session, grantId,
  } = interaction;
  const grant = (grantId && await provider.Grant.find(grantId))
    || new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  await finish(ctx, provider, { consent: { grantId: await grant.save() } }, true);
}

async function clientLabel(provider, clientId) {
  const client = clientId ? await provider.Client.find(String(clientId)) : undefined;
  return client?.clientName || client?.clientId || '';
}

// Koa middleware for provider.use(); everything else falls through to the provider.
export function interactionRoutes(provider, accounts, log) {
  return async function interactions(ctx, next) {
    const match = ROUTE.exec(ctx.path);
    if (!match) return next();
    const [, uid, submit] = match;
    ctx.set('Cache-Control', 'no-store');

    try {
      if (!(submit ? ctx.method === 'POST' : ctx.method === 'GET')) {
        ctx.set('Allow', submit ? 'POST' : 'GET');
        html(ctx, 405, page('Method not allowed', '<p>Method not allowed.</p>'));
        return undefined;
      }

      const interaction = await provider.interactionDetails(ctx.req, ctx.res);
      if (interaction.uid !== uid) {
        html(ctx, 400, page('Bad request', '<p>This sign-in page does not belong to your browser session.</p>'));
        return undefined;
      }
      const { prompt, params } = interaction;

      if (prompt.name === 'consent') {
        await consent(ctx, provider, interaction);
        return undefined;
      }
      if (prompt.name !== 'login') {
        html(ctx, 501, page('Not implemented', `<p>Prompt ${escapeHtml(prompt.name)} is not supported.</p>`));
        return undefined;
      }

      if (submit) {
        const form = await readForm(ctx.req);
        const loginName = normalizeLogin(form.get('username'));
        if (!loginName) {
          html(ctx, 400, loginForm(uid, await clientLabel(provider, params.client_id), 'Enter a username.'));
          return undefined;
        }
        await login(ctx, provider, accounts, interaction, loginName);
        return undefined;
      }

      const hinted = normalizeLogin(params.login_hint);
      if (hinted) {
        await login(ctx, provider, accounts, interaction, hinted); // headless: no page at all
        return undefined;
      }
      html(ctx, 200, loginForm(uid, await clientLabel(provider, params.client_id)));
      return undefined;
    } catch (err) {
      const status = Number.isInteger(err.status) && err.status >= 400 && err.status < 600
        ? err.status : 500;
      const text = err.error_description || (status < 500 ? err.message : 'internal error');
      (status < 500 ? log.info : log.error)(`interaction failed status=${status} error=${err.error || err.name}: ${err.error_description || err.message}`);
      html(ctx, status, page('Sign-in failed', `<h1>Sign-in failed</h1><p>${escapeHtml(text)}</p>`));
      return undefined;
    }
  };
}
