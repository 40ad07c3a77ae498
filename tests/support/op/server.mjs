// A real OpenID Provider for Portcullis end-to-end tests: panva/oidc-provider on loopback.
//
//   node server.mjs CONFIG.json
//
// CONFIG.json (written by tests/support/oidc_provider.py):
//   port           0 picks a free port; the issuer is http://127.0.0.1:<port>
//   cookieKeys     keys signing the OP's own cookies
//   clients        oidc-provider client metadata, used as given
//   users          { username: { claim: value } }; the username is the `sub`
//   resources      { indicator: resource server info (scope, accessTokenFormat, ...) }
//   appRoles       { client_id: [role] } put in client_credentials access tokens
//
// Interactions are automatic when the authorization request carries login_hint=<username>:
// the user is signed in and every requested scope/claim/resource is granted, page-less.
// Without login_hint a minimal form lists the users. An unknown login_hint ends the request
// with error=access_denied (its error_description echoes the hint, unescaped: handy for
// testing that the relying party escapes IdP errors). Consent is always granted.
//
// Prints "READY <issuer>" on stdout when listening; otherwise quiet (errors on stderr).

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const users = config.users ?? {};
const resources = config.resources ?? {};
const appRoles = config.appRoles ?? {};

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title, body) => `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;

function signingKeys() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }] };
}

// The base policy signs in again when login_hint names someone other than the session's user,
// so one cookie jar can sign in alice and then bob.
function policy() {
  const prompts = interactionPolicy.base();
  prompts.get('login').checks.add(new interactionPolicy.Check(
    'login_hint_other_user',
    'login_hint names another user than the signed-in one',
    ({ oidc }) => {
      const hint = oidc.params.login_hint;
      const current = oidc.session.accountId;
      return Boolean(hint && current && hint !== current);
    },
  ));
  return prompts;
}

function configuration() {
  return {
    clients: config.clients,
    jwks: signingKeys(),
    cookies: { keys: config.cookieKeys },
    claims: {
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
      roles: ['roles', 'groups'],
    },
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { methods: ['S256'], required: () => true },
    allowOmittingSingleRegisteredRedirectUri: false,
    async findAccount(ctx, sub) {
      const user = Object.hasOwn(users, sub) ? users[sub] : undefined;
      if (!user) return undefined;
      return { accountId: sub, claims: async () => ({ ...user, sub }) };
    },
    interactions: {
      policy: policy(),
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // The confirmation form says yes by itself: no button to press.
        logoutSource: async (ctx, form) => {
          const autoYes = form.replace(
            '</form>',
            '<input type="hidden" name="logout" value="yes"/></form>',
          );
          ctx.body = page('Sign out?', `${autoYes}
<button type="submit" form="op.logoutForm">Sign out</button>
<script>document.forms[0].submit()</script>`);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = page('Signed out', '<p>You are signed out.</p>');
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (ctx, indicator) => {
          if (!Object.hasOwn(resources, indicator)) throw new errors.InvalidTarget();
          return resources[indicator];
        },
      },
    },
    extraTokenClaims: async (ctx, token) => {
      if (token.kind === 'ClientCredentials' && Object.hasOwn(appRoles, token.clientId)) {
        return { roles: appRoles[token.clientId] };
      }
      return undefined;
    },
    clientBasedCORS: () => false,
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const details = Object.entries(out)
        .map(([key, value]) => `<p><b>${escapeHtml(key)}</b>: ${escapeHtml(value)}</p>`)
        .join('\n');
      ctx.body = page('OP error', details);
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  };
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 65536) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function loginForm(uid, hint) {
  const buttons = Object.entries(users)
    .map(([name, claims]) => `<button type="submit" name="login" value="${escapeHtml(name)}">`
      + `${escapeHtml(claims.name ?? name)} (${escapeHtml(name)})</button>`)
    .join('\n');
  const note = hint ? `<p>No user called ${escapeHtml(hint)}.</p>` : '';
  return page('Sign in', `${note}<form method="post" action="/interaction/${escapeHtml(uid)}/login">
${buttons}
</form>`);
}

async function grantConsent(provider, details) {
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return { consent: { grantId: await grant.save() } };
}

// GET  /interaction/<uid>        login (automatic with login_hint, else the form) or consent
// POST /interaction/<uid>/login  the form's answer
async function interaction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Bad interaction', ''));
  const { prompt, params } = details;

  if (prompt.name === 'consent') {
    const result = await grantConsent(provider, details);
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  }
  if (prompt.name !== 'login') {
    return send(res, 501, page('Unsupported prompt', `<p>${escapeHtml(prompt.name)}</p>`));
  }

  let username;
  if (req.method === 'POST' && action === 'login') {
    username = (await readForm(req)).get('login');
  } else if (req.method === 'GET' && !action) {
    username = params.login_hint;
  } else {
    return send(res, 405, page('Method not allowed', ''));
  }
  if (!username) return send(res, 200, loginForm(uid));
  if (!Object.hasOwn(users, username)) {
    const result = { error: 'access_denied', error_description: `unknown user ${username}` };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const result = { login: { accountId: username } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

function handler(provider) {
  const oidc = provider.callback();
  return async (req, res) => {
    const match = /^\/interaction\/([\w-]+)(?:\/(login))?\/?$/.exec(req.url.split('?')[0]);
    if (!match) return oidc(req, res);
    try {
      await interaction(provider, req, res, match[1], match[2]);
    } catch (err) {
      // oidc-provider's own errors (an expired or unknown interaction) are expected: one line.
      console.error(`interaction failed: ${err.expose ? `${err.name}: ${err.message}` : err.stack}`);
      if (!res.headersSent) {
        send(res, err.statusCode ?? 500, page('Interaction failed', `<p>${escapeHtml(err.message)}</p>`));
      }
    }
  };
}

const server = createServer();
server.listen(config.port ?? 0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  provider.on('server_error', (ctx, err) => console.error(`server_error: ${err.stack ?? err}`));
  server.on('request', handler(provider));
  process.stdout.write(`READY ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
