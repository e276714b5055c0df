// Assembles the hand-written WAT under wasm/ into dist/wasm/ with wabt (a devDependency).
// For each module it writes NAME.wasm (f32x4 mul+add) and NAME-relaxed.wasm, where every
// `;; madd`-marked `f32x4.mul / local.get $c / f32x4.add` becomes `local.get $c /
// f32x4.relaxed_madd`; the loader picks the relaxed one only where the host validates it.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'wasm');
const outDir = join(root, 'dist', 'wasm');

const MADD = /f32x4\.mul\n(\s*)local\.get (\$\w+)\n\s*f32x4\.add ;; madd/g;

/** The relaxed-SIMD variant of a module's text; throws if it has no madd sites. */
function relaxedVariant(text) {
  const out = text.replace(MADD, (_all, indent, acc) => `local.get ${acc}\n${indent}f32x4.relaxed_madd`);
  if (out === text) throw new Error('no ";; madd" sites to relax');
  return out;
}

function assemble(wabt, name, text) {
  const module = wabt.parseWat(name, text, { simd: true, relaxed_simd: true });
  try {
    module.resolveNames();
    module.validate();
    return module.toBinary({ log: false, write_debug_names: true }).buffer;
  } finally {
    module.destroy();
  }
}

const wabt = await wabtInit();
mkdirSync(outDir, { recursive: true });
for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.wat'))) {
  const base = file.slice(0, -'.wat'.length);
  const text = readFileSync(join(srcDir, file), 'utf8');
  writeFileSync(join(outDir, `${base}.wasm`), assemble(wabt, file, text));
  writeFileSync(join(outDir, `${base}-relaxed.wasm`), assemble(wabt, `${base}-relaxed.wat`, relaxedVariant(text)));
  console.log(`tpusim: assembled wasm/${file} -> dist/wasm/${base}.wasm, ${base}-relaxed.wasm`);
}
