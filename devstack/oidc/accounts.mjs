// Development accounts: any login name is accepted, with no password.
//
// The subject is derived from the login, so it is the same across logins and restarts:
//   login = the name as typed, trimmed and lower-cased (like Keycloak usernames)
//   sub   = "user-" + the first 16 hex digits of sha256(login)
// Claims: preferred_username = login; email = login when it contains "@", else login@example.test;
// given_name / family_name from the part before "@" split on "." (best effort); name from both.

import * as crypto from 'node:crypto';

const MAX_LOGIN = 200;

export function normalizeLogin(value) {
  if (typeof value !== 'string') return '';
  const login = value.trim().toLowerCase();
  return login.length > MAX_LOGIN ? '' : login;
}

export function subFor(login) {
  return `user-${crypto.hash('sha256', login, 'hex').slice(0, 16)}`;
}

const capitalize = (word) => (word ? word[0].toUpperCase() + word.slice(1) : '');

export function claimsFor(login) {
  const local = login.split('@')[0];
  const parts = local.split('.').filter(Boolean);
  const given = capitalize(parts[0] ?? local);
  const family = parts.length > 1 ? parts.slice(1).map(capitalize).join(' ') : '';
  return {
    sub: subFor(login),
    preferred_username: login,
    email: login.includes('@') ? login : `${login}@example.test`,
    email_verified: true,
    given_name: given,
    ...(family ? { family_name: family } : {}),
    name: [given, family].filter(Boolean).join(' '),
  };
}

// sub -> login of everyone who logged in since start. Kept in memory only: every artifact that
// refers to an account (sessions, grants, codes, refresh tokens) is in memory too and dies with
// the process, while the sub of a login never changes.
export class Accounts {
  #logins = new Map();

  // Register a login and return its account id (the sub).
  remember(login) {
    const sub = subFor(login);
    this.#logins.set(sub, login);
    return sub;
  }

  // oidc-provider's findAccount(ctx, sub).
  find(sub) {
    const login = this.#logins.get(sub);
    if (login === undefined) return undefined;
    const claims = claimsFor(login);
    return {
      accountId: sub,
      // The provider filters these by the granted scopes and claims.
      async claims() {
        return claims;
      },
    };
  }
}
