// Signing keys of the development provider: generated once into OIDC_DATA_DIR, reused afterwards,
// so that tokens and cached JWKS stay valid across restarts and across `make run`s.
// The file holds private keys: it is written with mode 0600 and must never be committed.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const JWKS_FILE = 'jwks.json';

// RFC 7638 thumbprint of the public part, used as a stable `kid`.
function thumbprint(jwk) {
  const members = jwk.kty === 'RSA'
    ? { e: jwk.e, kty: 'RSA', n: jwk.n }
    : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return crypto.hash('sha256', JSON.stringify(members), 'base64url');
}

function privateJwk(keyPair, alg) {
  const jwk = keyPair.privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: thumbprint(jwk), alg, use: 'sig' };
}

function generate() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // RS256 first: it is the default for id_tokens and JWT access tokens.
  return { keys: [privateJwk(rsa, 'RS256'), privateJwk(ec, 'ES256')] };
}

function validate(jwks, file) {
  const ok = jwks && Array.isArray(jwks.keys)
    && jwks.keys.some((k) => k.kty === 'RSA' && typeof k.d === 'string');
  if (!ok) {
    throw new Error(`${file} holds no private RS256 key; delete it to generate new keys`);
  }
  return jwks;
}

// Load the private JWKS from dataDir, creating it (and the directory) on first use.
export function loadOrCreateJwks(dataDir) {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, JWKS_FILE);

  if (fs.existsSync(file)) {
    const { mode } = fs.statSync(file);
    if ((mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
    let parsed;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new Error(`${file} is not valid JSON; delete it to generate new keys`, { cause });
    }
    return { jwks: validate(parsed, file), created: false, file };
  }

  const jwks = generate();
  // Write to a private temporary file, then rename: a crash never leaves a half-written key file,
  // and the keys are never readable by others, not even for a moment.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file); // fails if another process created the file meanwhile
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    if (err.code === 'EEXIST') return loadOrCreateJwks(dataDir);
    throw err;
  }
  fs.rmSync(tmp, { force: true });
  return { jwks, created: true, file };
}
