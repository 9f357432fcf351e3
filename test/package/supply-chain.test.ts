/**
 * Supply chain (issue 17 item 5), in `npm test` so a new dependency cannot slip in unreviewed:
 * every runtime licence is compatible with Apache-2.0 (scripts/licences.mjs, checked here against
 * the installed tree and against fabricated trees that must fail), every package that runs an
 * install script is reviewed in package.json `allowScripts`, and the SBOM ships in the package.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/node-red-process';

const script = join(repoRoot, 'scripts', 'licences.mjs');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
const licences = (root: string): { status: number | null; rows: { name: string; version: string; licence: string; category: string | null }[]; problems: string[] } => {
  const r = spawnSync(process.execPath, [script, '--root', root, '--json'], { encoding: 'utf8' });
  const parsed = JSON.parse(r.stdout) as { rows: []; problems: string[] };
  return { status: r.status, ...parsed };
};

/** A package tree on disk: root depends on `a`, which depends on `b` with the licence under test. */
function fakeTree(licence: unknown, extra: Record<string, unknown> = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'nhs-lic-'));
  const write = (dir: string, json: Record<string, unknown>): void => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify(json));
  };
  write(d, { name: 'root', version: '1.0.0', license: 'Apache-2.0', dependencies: { a: '1' }, devDependencies: { devonly: '1' } });
  write(join(d, 'node_modules', 'a'), { name: 'a', version: '1.0.0', license: 'MIT', dependencies: { b: '1' } });
  // b nested under a (not hoisted): the walk must resolve the way Node does.
  write(join(d, 'node_modules', 'a', 'node_modules', 'b'), { name: 'b', version: '2.0.0', ...(licence === undefined ? {} : { license: licence }), ...extra });
  // A GPL dev-only package is never shipped, so it must not fail the check.
  write(join(d, 'node_modules', 'devonly'), { name: 'devonly', version: '1.0.0', license: 'GPL-3.0-only' });
  return d;
}

describe('supply chain', () => {
  const dirs: string[] = [];
  after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  const tree = (licence: unknown, extra?: Record<string, unknown>): string => { const d = fakeTree(licence, extra); dirs.push(d); return d; };

  it('every runtime dependency (transitive) has a licence compatible with Apache-2.0', () => {
    const r = licences(repoRoot);
    assert.deepEqual(r.problems, []);
    assert.equal(r.status, 0);
    const names = new Set(r.rows.map((x) => x.name));
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(names.has(dep), `${dep} is in the licence table`);
    // Transitive ones too (pg → pg-protocol), and no devDependency (node-red) is counted.
    assert.ok(names.has('pg-protocol'));
    assert.ok(!names.has('node-red') && !names.has('typescript'));
    assert.ok(r.rows.every((x) => x.category === 'A' || x.category === 'B'));
  });

  it('fails on an incompatible, missing or unknown licence of a transitive dependency; passes the compatible ones', () => {
    for (const bad of ['GPL-3.0-only', 'AGPL-3.0-or-later', 'SSPL-1.0', 'MIT AND GPL-2.0-only', 'UNLICENSED', 'SEE LICENSE IN LICENSE.txt', undefined]) {
      const r = licences(tree(bad));
      assert.equal(r.status, 1, `licence ${String(bad)} fails`);
      assert.equal(r.problems.length, 1);
      assert.match(r.problems[0] ?? '', /^b@2\.0\.0: licence/);
    }
    for (const good of ['MIT', 'ISC', '(MIT OR GPL-3.0-only)', 'Apache-2.0 WITH LLVM-exception', 'BSD-3-Clause', 'MPL-2.0']) {
      const r = licences(tree(good));
      assert.deepEqual(r.problems, [], `licence ${good} passes`);
      assert.equal(r.status, 0);
    }
    // The old `licenses: [{ type }]` form is read too.
    assert.equal(licences(tree(undefined, { licenses: [{ type: 'MIT' }] })).status, 0);
    // A required dependency that is not installed is a failure, not a silent skip.
    const d = tree('MIT');
    rmSync(join(d, 'node_modules', 'a', 'node_modules', 'b'), { recursive: true });
    const gone = licences(d);
    assert.equal(gone.status, 1);
    assert.match(gone.problems[0] ?? '', /b \(needed by a@1\.0\.0\) is not installed/);
  });

  it('every package that runs an install script is reviewed in allowScripts', () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages).filter(([, v]) => v.hasInstallScript).map(([k]) => k.slice(k.lastIndexOf('node_modules/') + 'node_modules/'.length));
    assert.ok(withScripts.length > 0);
    for (const name of withScripts) assert.equal(typeof pkg.allowScripts?.[name], 'boolean', `${name} runs an install script: review it in package.json allowScripts (docs/assurance.md)`);
  });

  it('the package ships the CycloneDX SBOM that CI writes (scripts/sbom.mjs)', () => {
    assert.ok(pkg.files.includes('sbom.cdx.json'));
    assert.match(readFileSync(join(repoRoot, '.ci', 'run'), 'utf8'), /node scripts\/sbom\.mjs/);
  });
});
