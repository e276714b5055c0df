/**
 * Worker threads load compiled JavaScript. Run from the compiled tree (dist/), a module's
 * sibling `.js` file is beside it; run from the TypeScript sources (vitest, tsx), it is the
 * same path under the build's outDir. `compiledModuleUrl` finds whichever exists.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** tsconfig.json's outDir, relative to the package root (rootDir is the package root). */
const OUT_DIR = 'dist';

function packageRoot(from: string): string | undefined {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * The file URL of the compiled module `specifier` (e.g. './device.js') relative to the
 * module at `baseUrl` (pass import.meta.url). Throws naming both places if neither exists.
 */
export function compiledModuleUrl(specifier: string, baseUrl: string): string {
  const target = fileURLToPath(new URL(specifier, baseUrl));
  if (existsSync(target)) return pathToFileURL(target).href;
  const root = packageRoot(target);
  if (root) {
    const rel = relative(root, target);
    if (!rel.startsWith(`${OUT_DIR}${sep}`)) {
      const built = join(root, OUT_DIR, rel);
      if (existsSync(built)) return pathToFileURL(built).href;
      throw new Error(`module ${specifier}: neither ${target} nor ${built} exists; run \`npm run build\` first`);
    }
  }
  throw new Error(`module ${specifier}: ${target} does not exist; run \`npm run build\` first`);
}
