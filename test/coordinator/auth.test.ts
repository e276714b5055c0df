import { mkdtempSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateToken, readTokenFile, tokenFromRequest, tokensEqual, writeTokenFile } from '../../src/coordinator/auth.js';

const req = (url: string, authorization?: string) => ({ url, headers: authorization ? { authorization } : {} }) as unknown as IncomingMessage;

describe('auth', () => {
  it('generates distinct 43-character tokens and compares them exactly', () => {
    const a = generateToken();
    const b = generateToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(tokensEqual(a, a)).toBe(true);
    expect(tokensEqual(a, b)).toBe(false);
    expect(tokensEqual(a.slice(0, -1), a)).toBe(false);
    expect(tokensEqual('', a)).toBe(false);
  });

  it('writes the token file with mode 0600, also over a looser existing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tpusim-auth-'));
    const path = writeTokenFile(dir, 'first-token-0123456789');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readTokenFile(dir)).toBe('first-token-0123456789');
    writeTokenFile(dir, 'second-token-0123456789');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readTokenFile(dir)).toBe('second-token-0123456789');
    expect(readTokenFile(join(dir, 'none'))).toBeUndefined();
  });

  it('reads the token from a Bearer header or the token query parameter', () => {
    expect(tokenFromRequest(req('/v1/jobs', 'Bearer abc'))).toBe('abc');
    expect(tokenFromRequest(req('/v1/jobs', 'bearer  abc '))).toBe('abc');
    expect(tokenFromRequest(req('/v1/jobs?token=xyz'))).toBe('xyz');
    expect(tokenFromRequest(req('/v1/jobs', 'Basic abc'))).toBeUndefined();
    expect(tokenFromRequest(req('/v1/jobs'))).toBeUndefined();
  });
});
