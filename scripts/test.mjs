// One test command: every test/**/*.test.ts under node's own test runner (TypeScript via tsx),
// ending in node:test's summary. Extra args narrow the run: `npm run test:only -- test/lib/hl7`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
function find(dir, out = []) {
  let st;
  try { st = statSync(dir); } catch { return out; }
  if (st.isFile()) { if (dir.endsWith('.test.ts')) out.push(dir); return out; }
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name === 'artifacts') continue;
    find(join(dir, name), out);
  }
  return out;
}
const args = process.argv.slice(2);
const targets = args.length ? args.map((a) => join(root, a)) : [join(root, 'test')];
const files = targets.flatMap((t) => find(t)).map((f) => relative(root, f));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const concurrency = process.env.NHS_TEST_CONCURRENCY ?? '2';
const tapDir = mkdtempSync(join(tmpdir(), 'nhs-test-'));
const tapFile = join(tapDir, 'report.tap');
const r = spawnSync(
  process.execPath,
  [
    '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
// The spec reporter's totals are above; repeat them as one plain closing line.
let tap = '';
try { tap = readFileSync(tapFile, 'utf8'); } catch { /* runner died before writing */ }
rmSync(tapDir, { recursive: true, force: true });
const count = (k) => Number((tap.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
const pass = count('pass');
const fail = count('fail') + count('cancelled');
const skipped = count('skipped') + count('todo');
console.log(`\n${pass} passed, ${fail} failed, ${skipped} skipped`);
process.exit(r.status ?? 1);
