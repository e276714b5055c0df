import { describe, expect, it } from 'vitest';
import { compiledModuleUrl } from '../../src/coordinator/module_url.js';
import { ensureBuilt } from './helpers.js';

describe('compiledModuleUrl', () => {
  it('finds the compiled sibling of a TypeScript source under dist/', () => {
    ensureBuilt();
    const url = compiledModuleUrl('../../src/worker/actor.js', import.meta.url);
    expect(url).toMatch(/^file:\/\/.*\/dist\/src\/worker\/actor\.js$/);
  });

  it('uses a JavaScript module where it is', () => {
    expect(compiledModuleUrl('./fixtures/device_functions.mjs', import.meta.url)).toMatch(/\/test\/coordinator\/fixtures\/device_functions\.mjs$/);
  });

  it('says where it looked when neither exists', () => {
    expect(() => compiledModuleUrl('./nowhere.js', import.meta.url)).toThrow(/neither .*test\/coordinator\/nowhere\.js nor .*dist\/test\/coordinator\/nowhere\.js exists; run `npm run build` first/);
  });
});
