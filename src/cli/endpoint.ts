/**
 * Where the CLI finds the coordinator: its data dir (`--data-dir`, $TPUSIM_DATA_DIR, or
 * ~/.tpusim), the URL `up` wrote to coordinator.json there (or `--url`, $TPUSIM_URL), and
 * the token file beside it (or `--token`, $TPUSIM_TOKEN).
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { readTokenFile } from '../coordinator/auth.js';
import { JobClient } from '../coordinator/client.js';
import { readCoordinatorInfo } from '../coordinator/coordinator.js';
import { JobStore } from '../coordinator/store.js';

export const DEFAULT_PORT = 8470;
export const DEFAULT_TOPOLOGY = 'v4-8';

/** The options every client command takes. */
export const endpointOptions = {
  'data-dir': { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

export const ENDPOINT_HELP = [
  '  --data-dir DIR   the coordinator\'s data dir (default $TPUSIM_DATA_DIR or ~/.tpusim)',
  '  --url URL        the job API (default: from DIR/coordinator.json, or $TPUSIM_URL)',
  '  --token TOKEN    the API token (default: DIR/token, or $TPUSIM_TOKEN)',
].join('\n');

export function defaultDataDir(): string {
  return resolve(process.env.TPUSIM_DATA_DIR ?? resolve(homedir(), '.tpusim'));
}

export function dataDirOf(values: { 'data-dir'?: string | undefined }): string {
  return values['data-dir'] ? resolve(values['data-dir']) : defaultDataDir();
}

export async function connectClient(values: { 'data-dir'?: string | undefined; url?: string | undefined; token?: string | undefined }): Promise<JobClient> {
  const dataDir = dataDirOf(values);
  const url = values.url ?? process.env.TPUSIM_URL ?? readCoordinatorInfo(dataDir)?.url;
  if (!url) throw new Error(`no coordinator found in ${dataDir} (no coordinator.json): start one with 'tpusim up', or pass --url`);
  const token = values.token ?? process.env.TPUSIM_TOKEN ?? readTokenFile(dataDir);
  if (!token) throw new Error(`no token: none in ${dataDir}/token; pass --token`);
  return JobClient.connect(url, { token });
}

export function openStore(values: { 'data-dir'?: string | undefined }): JobStore {
  return JobStore.open(dataDirOf(values), { readonly: true });
}
