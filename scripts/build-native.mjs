// Builds the N-API fast kernels in native/ with the node-gyp that ships inside npm.
// `--quiet-failure` (the package's install script) turns any failure into a one-line note
// and exit 0: the portable WASM path then serves, so `npm install` never fails on this.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quietFailure = process.argv.includes('--quiet-failure');

function fail(reason) {
  if (quietFailure) {
    console.log(`tpusim: native kernels not built (${reason}); the WASM SIMD kernels will be used.`);
    process.exit(0);
  }
  console.error(`tpusim: native build failed: ${reason}`);
  process.exit(1);
}

/** node-gyp's CLI: npm's bundled copy first, then one installed next to the project. */
function findNodeGyp() {
  const candidates = [];
  const npmPrefix = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['prefix', '-g'], {
    encoding: 'utf8',
  });
  if (npmPrefix.status === 0) {
    const prefix = npmPrefix.stdout.trim();
    candidates.push(join(prefix, 'lib', 'node_modules', 'npm'), join(prefix, 'node_modules', 'npm'));
  }
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm'), root);
  for (const base of candidates) {
    try {
      return createRequire(join(base, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
    } catch {
      // not here; try the next place
    }
  }
  return null;
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) fail('node-gyp not found');

const args = [nodeGyp, 'rebuild', '--release'];
// Offline hosts: build against the installed headers rather than downloading them.
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const result = spawnSync(process.execPath, args, {
  cwd: join(root, 'native'),
  stdio: quietFailure ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  encoding: 'utf8',
});
if (result.error) fail(result.error.message);
if (result.status !== 0) {
  const lastError = `${result.stderr ?? ''}`.split('\n').find((line) => /error/i.test(line));
  fail(lastError ? lastError.trim().slice(0, 200) : `node-gyp exited with ${result.status}`);
}
console.log(`tpusim: native kernels built (${join('native', 'build', 'Release', 'tpusim_fast.node')})`);
