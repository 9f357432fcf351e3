/**
 * The house's shape (DESIGN.md §1), checked on the source tree: thin node files, a store split
 * into files of a readable size, and the dependency rules between layers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = join(__dirname, '..');

function files(dir: string, ext = '.ts'): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith(ext)) out.push(relative(root, p));
    }
  };
  walk(join(root, dir));
  return out.sort();
}
const lines = (f: string): number => readFileSync(join(root, f), 'utf8').split('\n').length - 1;

/** Repository-relative targets of a file's relative imports (`import … from`, `require`, `import()`). */
function imports(f: string): string[] {
  const text = readFileSync(join(root, f), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) out.push(relative(root, resolve(dirname(join(root, f)), m[1]!)));
  return out;
}

describe('structure (DESIGN.md §1)', () => {
  it('every nodes/*.ts file is at most 150 lines of wiring', () => {
    const long = files('nodes').filter((f) => !f.startsWith('nodes/shared/') && lines(f) > 150);
    assert.deepEqual(long.map((f) => `${f}: ${lines(f)} lines`), []);
  });

  it('every lib/store/*.ts file is at most 400 lines', () => {
    const long = files('lib/store').filter((f) => lines(f) > 400);
    assert.deepEqual(long.map((f) => `${f}: ${lines(f)} lines`), []);
  });

  it('lib/ never imports nodes/ or plugins/', () => {
    const bad = files('lib').flatMap((f) => imports(f).filter((i) => /^(nodes|plugins)\//.test(i)).map((i) => `${f} → ${i}`));
    assert.deepEqual(bad, []);
  });

  it('lib/store never imports lib/audit (the store owns the chain hash; audit imports it), lib/hl7 or lib/fhir', () => {
    const bad = files('lib/store').flatMap((f) => imports(f).filter((i) => /^lib\/(audit|hl7|fhir)\//.test(i)).map((i) => `${f} → ${i}`));
    assert.deepEqual(bad, []);
    assert.ok(imports('lib/audit/verify.ts').includes('lib/store/chain'), 'lib/audit verifies with the store\'s hash');
  });

  it('the import scan sees imports (so the rules above can fail)', () => {
    assert.ok(imports('nodes/hl7.ts').includes('lib/hl7/rules'));
    assert.ok(imports('plugins/nhs-sidebar.ts').includes('plugins/admin-api'));
  });
});
