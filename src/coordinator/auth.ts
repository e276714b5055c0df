/**
 * The coordinator's bearer token: generated at `up` (or given), kept in the data dir with
 * mode 0600, checked on the websocket upgrade in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';

export const TOKEN_FILE = 'token';

/** 32 random bytes, base64url: 43 characters. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time equality; hashing first makes the comparison independent of the lengths too. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

export function tokenPath(dataDir: string): string {
  return join(dataDir, TOKEN_FILE);
}

/** Writes the token readable by its owner only (0600, also when the file already existed). */
export function writeTokenFile(dataDir: string, token: string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = tokenPath(dataDir);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export function readTokenFile(dataDir: string): string | undefined {
  try {
    const t = readFileSync(tokenPath(dataDir), 'utf8').trim();
    return t.length > 0 ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, or (for browsers, which
 * cannot set headers on a websocket) the `token` query parameter.
 */
export function tokenFromRequest(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  return url.searchParams.get('token') ?? undefined;
}
