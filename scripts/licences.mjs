// Licences of every runtime dependency (transitive), read from the installed node_modules
// package.json files, checked for compatibility with this package's Apache-2.0 licence.
//
//   node scripts/licences.mjs [--root <dir>] [--markdown] [--json]
//
// Walks `dependencies` and `optionalDependencies` from <root>/package.json the way Node resolves
// them (nearest node_modules up the tree); devDependencies are not shipped and not walked. Prints
// one row per package@version and exits 1 when a licence is missing, unreadable or not in the
// allowed sets below, or when a required dependency is not installed. The SPDX expression is
// evaluated: `A OR B` passes when either side passes, `A AND B` when both do.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Permissive licences (Apache Software Foundation "Category A": may be combined with and
 * distributed alongside Apache-2.0 code). https://www.apache.org/legal/resolved.html
 */
export const CATEGORY_A = new Set([
  'Apache-2.0', 'MIT', 'MIT-0', 'ISC', 'BSD-2-Clause', 'BSD-3-Clause', '0BSD', 'BlueOak-1.0.0', 'CC0-1.0',
  'Unlicense', 'Zlib', 'Python-2.0', 'PSF-2.0', 'X11', 'W3C', 'UPL-1.0', 'BSL-1.0', 'NCSA', 'PostgreSQL',
]);
/**
 * Weak copyleft / attribution licences (ASF "Category B"): fine as an unmodified dependency of an
 * Apache-2.0 package; modifications to those files would have to be published under their licence.
 */
export const CATEGORY_B = new Set(['MPL-2.0', 'MPL-1.1', 'EPL-1.0', 'EPL-2.0', 'CDDL-1.0', 'CDDL-1.1', 'CC-BY-3.0', 'CC-BY-4.0']);

/**
 * Packages whose package.json gives no SPDX identifier, each read by hand and pinned to the
 * version read: a new version must be read again before it passes.
 */
export const REVIEWED = {
  'fhirpath@4.11.0': { licence: 'LicenseRef-NLM-BSD (LICENSE.md)', category: 'A', why: 'BSD-style NLM/LHNCBC licence: redistribution with the licence file kept, no endorsement' },
  '@lhncbc/ucum-lhc@5.0.4': { licence: 'LicenseRef-NLM-BSD + UCUM terms (LICENSE.md)', category: 'A', why: 'BSD-style NLM/LHNCBC licence; the bundled UCUM table is free to use under the UCUM terms of use (keep the copyright notice, do not alter the table)' },
  'emitter-component@1.1.2': { licence: 'MIT (component.json, bower.json)', category: 'A', why: 'package.json has no licence field; the same release declares MIT in component.json and bower.json' },
};

/** Evaluate an SPDX licence expression: 'A' (permissive), 'B' (weak copyleft) or null (not allowed). */
export function classify(expr) {
  const tokens = String(expr).replace(/[()]/g, (p) => ` ${p} `).trim().split(/\s+/).filter(Boolean);
  let i = 0;
  const rank = { A: 2, B: 1, null: 0 };
  const best = (a, b) => (rank[a] >= rank[b] ? a : b);
  const worst = (a, b) => (rank[a] <= rank[b] ? a : b);
  const atom = () => {
    const t = tokens[i++];
    if (t === '(') { const v = or(); i++; return v; }
    if (t === undefined) return null;
    // "Apache-2.0 WITH LLVM-exception": an exception only ever adds permissions.
    if (tokens[i] === 'WITH') i += 2;
    const id = t.replace(/\+$/, '');
    return CATEGORY_A.has(id) ? 'A' : CATEGORY_B.has(id) ? 'B' : null;
  };
  const and = () => { let v = atom(); while (tokens[i] === 'AND') { i++; v = worst(v, atom()); } return v; };
  const or = () => { let v = and(); while (tokens[i] === 'OR') { i++; v = best(v, and()); } return v; };
  const v = or();
  return i === tokens.length ? v : null;
}

/** The licence as an SPDX expression, from `license` (string or {type}) or the old `licenses` array. */
function licenceOf(pkg) {
  const l = pkg.license ?? pkg.licenses;
  if (typeof l === 'string') return l;
  if (Array.isArray(l)) return l.map((x) => (typeof x === 'string' ? x : x?.type)).filter(Boolean).join(' OR ') || undefined;
  if (l && typeof l === 'object' && typeof l.type === 'string') return l.type;
  return undefined;
}

/** Directory of `name` as Node would resolve it from `fromDir` (nearest node_modules upwards, not above `root`). */
function resolveDir(name, fromDir, root) {
  for (let d = fromDir; ; d = dirname(d)) {
    const cand = join(d, 'node_modules', name);
    if (existsSync(join(cand, 'package.json'))) return cand;
    if (d === root || dirname(d) === d) return undefined;
  }
}

export function collect(root) {
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const rows = new Map();
  const problems = [];
  const queue = [];
  const push = (deps, optional, fromDir, parent) => {
    for (const name of Object.keys(deps ?? {})) queue.push({ name, optional, fromDir, parent });
  };
  push(rootPkg.dependencies, false, root, rootPkg.name);
  push(rootPkg.optionalDependencies, true, root, rootPkg.name);
  const seenDirs = new Set();
  while (queue.length) {
    const { name, optional, fromDir, parent } = queue.shift();
    const dir = resolveDir(name, fromDir, root);
    if (!dir) {
      // Optional dependencies (e.g. ssh2's cpu-features) may be absent on this platform.
      if (!optional) problems.push(`${name} (needed by ${parent}) is not installed`);
      continue;
    }
    if (seenDirs.has(dir)) continue;
    seenDirs.add(dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const key = `${pkg.name}@${pkg.version}`;
    const reviewed = REVIEWED[key];
    const licence = reviewed?.licence ?? licenceOf(pkg);
    const category = reviewed?.category ?? (licence ? classify(licence) : null);
    if (!rows.has(key)) {
      rows.set(key, { name: pkg.name, version: pkg.version, licence: licence ?? '(none)', category, installScript: Boolean(pkg.scripts?.install || pkg.scripts?.preinstall || pkg.scripts?.postinstall), path: relative(root, dir) });
      if (!category) problems.push(`${key}: licence ${licence ? `"${licence}"` : 'missing'} is not known to be compatible with Apache-2.0`);
    }
    push(pkg.dependencies, false, dir, key);
    push(pkg.optionalDependencies, true, dir, key);
  }
  return { rows: [...rows.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version)), problems };
}

const isMain = process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--root');
  const root = resolve(at >= 0 ? args[at + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
  const { rows, problems } = collect(root);
  if (args.includes('--json')) {
    console.log(JSON.stringify({ rows, problems }, null, 2));
  } else if (args.includes('--markdown')) {
    console.log('| package | version | licence | category |');
    console.log('|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.name} | ${r.version} | ${r.licence} | ${r.category ?? '**not allowed**'} |`);
  } else {
    const w = Math.max(...rows.map((r) => `${r.name}@${r.version}`.length), 10);
    for (const r of rows) console.log(`${`${r.name}@${r.version}`.padEnd(w)}  ${r.category ?? '!'}  ${r.licence}`);
    console.log(`\n${rows.length} runtime packages; A = permissive (ASF category A), B = weak copyleft (ASF category B, unmodified use)`);
  }
  for (const p of problems) console.error(`licence check: ${p}`);
  process.exit(problems.length ? 1 : 0);
}
