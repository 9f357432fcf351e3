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
// Service tests read their server URLs from the environment; when unset, use the local default
// servers if they answer (so a developer's `npm test` runs them too), else those tests skip.
async function reachable(port) {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(500, () => done(false));
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}
if (process.env.NHS_TEST_PG_URL === undefined && (await reachable(5432))) process.env.NHS_TEST_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
if (process.env.NHS_TEST_MQTT_URL === undefined && (await reachable(1883))) process.env.NHS_TEST_MQTT_URL = 'mqtt://127.0.0.1:1883';
console.log(`PostgreSQL tests: ${process.env.NHS_TEST_PG_URL ? process.env.NHS_TEST_PG_URL.replace(/:[^:@/]*@/, ':***@') : 'skipped (no server)'}; MQTT tests: ${process.env.NHS_TEST_MQTT_URL ?? 'skipped (no broker)'}`);
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
// node:test's own "skipped" total leaves out a skipped describe() (its tests are never
// registered), e.g. the browser suite on a machine without Chromium. Count every result line
// marked SKIP or TODO at any depth instead, so a skipped suite can never read as "0 skipped".
const marked = (tap.match(/^\s*(?:not )?ok \d+ - .*# (?:SKIP|TODO)\b/gm) ?? []).length;
const skipped = Math.max(marked, count('skipped') + count('todo'));
console.log(`\n${pass} passed, ${fail} failed, ${skipped} skipped`);
process.exit(r.status ?? 1);
