// CycloneDX SBOM of what this package ships and needs at run time, written to sbom.cdx.json at
// the package root (listed in package.json `files`, so it goes into the published tarball; not in
// dist/, which every build wipes, including the one `npm pack` runs through `prepare`).
//
//   node scripts/sbom.mjs [--out <file>]
//
// Why not plain `npm sbom --omit dev`: npm (10.x–11.x, npm/cli#7909) drops a production
// dependency from the SBOM when a devDependency also uses it; here that lost 62 of 134 runtime
// packages, iconv-lite among them. So this takes npm's full SBOM and keeps exactly the packages
// `npm ls --omit dev --all` lists, then checks the result against the licence walk
// (scripts/licences.mjs) and fails if any runtime package is missing.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collect } from './licences.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const at = args.indexOf('--out');
const out = resolve(root, at >= 0 ? args[at + 1] : 'sbom.cdx.json');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (a) => execFileSync(npm, a, { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bom = JSON.parse(run(['sbom', '--sbom-format', 'cyclonedx']));
const tree = JSON.parse(run(['ls', '--omit', 'dev', '--all', '--json']));

const runtime = new Set();
const walk = (deps) => {
  for (const [name, d] of Object.entries(deps ?? {})) {
    if (!d || !d.version || d.missing) continue;
    const ref = `${name}@${d.version}`;
    if (runtime.has(ref) && !d.dependencies) continue;
    runtime.add(ref);
    walk(d.dependencies);
  }
};
walk(tree.dependencies);

const rootRef = bom.metadata?.component?.['bom-ref'];
const keep = (c) => runtime.has(`${c.name}@${c.version}`);
bom.components = (bom.components ?? []).filter(keep);
const kept = new Set(bom.components.map((c) => c['bom-ref']));
if (rootRef) kept.add(rootRef);
bom.dependencies = (bom.dependencies ?? [])
  .filter((d) => kept.has(d.ref))
  .map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter((r) => kept.has(r)) }));
// npm names the root component after the directory it runs in (e.g. a CI checkout folder).
if (bom.metadata?.component) bom.metadata.component.name = pkg.name;

const { rows } = collect(root);
const inBom = new Set(bom.components.map((c) => `${c.name}@${c.version}`));
const missing = rows.map((r) => `${r.name}@${r.version}`).filter((r) => !inBom.has(r));
writeFileSync(out, `${JSON.stringify(bom, null, 2)}\n`);
console.log(`SBOM: ${bom.components.length} runtime components (CycloneDX ${bom.specVersion}) -> ${out}`);
if (missing.length) {
  console.error(`SBOM is missing runtime packages: ${missing.join(', ')}`);
  process.exit(1);
}
// It must be inside the tarball npm would publish (package.json `files`). --ignore-scripts: no
// `prepare` rebuild just to list the files.
if (out === join(root, 'sbom.cdx.json')) {
  const packed = JSON.parse(run(['pack', '--dry-run', '--json', '--ignore-scripts']));
  if (!packed[0]?.files?.some((f) => f.path === 'sbom.cdx.json')) {
    console.error('sbom.cdx.json is not in the package: add it to package.json "files"');
    process.exit(1);
  }
}
