// `npm start`: build if needed, then run Node-RED (the devDependency) on 127.0.0.1:1880 with this
// package installed into a git-ignored user directory, every example flow deployed and a simulator
// feeding them synthetic traffic (scripts/demo-flows.mjs).
// Ctrl-C stops it cleanly (SIGINT is forwarded; Node-RED closes nodes and the store).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync, lstatSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoFlows } from './demo-flows.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const userDir = process.env.NHS_DEMO_USERDIR ?? join(root, '.node-red-data');
const port = Number(process.env.PORT ?? 1880);
const host = process.env.HOST ?? '127.0.0.1';

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

// 1. Build when dist/ is missing or older than any source.
const built = existsSync(join(root, 'dist', 'nodes')) ? newestMtime(join(root, 'dist')) : 0;
const sources = Math.max(...['lib', 'nodes', 'plugins', 'icons', 'bin'].map((d) => newestMtime(join(root, d))));
if (built === 0 || sources > built) {
  console.log('Building…');
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// 2. User directory with this package "installed" (a link, as `npm install <path>` makes).
mkdirSync(join(userDir, 'node_modules'), { recursive: true });
const link = join(userDir, 'node_modules', 'node-red-contrib-nhs-interop');
try {
  if (lstatSync(link).isSymbolicLink() || existsSync(link)) rmSync(link, { recursive: true, force: true });
} catch { /* not there yet */ }
symlinkSync(root, link, 'dir');
writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'nhs-interop-demo', private: true, dependencies: { 'node-red-contrib-nhs-interop': `file:${root}` } }, null, 2));

// 3. Settings: loopback only, fixed credential secret for the throwaway demo directory.
const settings = join(userDir, 'settings.js');
writeFileSync(settings, `module.exports = {
  uiHost: ${JSON.stringify(host)},
  uiPort: ${port},
  flowFile: 'flows.json',
  // Relative file paths (core file nodes, the ESR example's folder) are under the user directory.
  fileWorkingDirectory: ${JSON.stringify(userDir)},
  credentialSecret: 'nhs-interop-demo-only',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  // The demo runs offline: don't ask about update notifications on first open.
  telemetry: { enabled: false },
};
`);

// 4. Deploy every example flow (each on its own tab) and the demo traffic simulator on first
// start; the user's later edits are kept (delete the folder to start afresh).
const flows = join(userDir, 'flows.json');
mkdirSync(join(userDir, 'esr-example', 'in'), { recursive: true });
if (!existsSync(flows)) writeFileSync(flows, JSON.stringify(demoFlows({ url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}` }), null, 2));

// 5. UK Core for the validate nodes: the standard FHIR package cache, else (in a checkout that
// has it) the shared test copy beside the repo; otherwise say how to install it.
const env = { ...process.env };
const hasUkCore = (dir) => existsSync(dir) && readdirSync(dir).some((d) => d.startsWith('fhir.r4.ukcore.stu2#'));
if (!env.FHIR_PACKAGE_CACHE && !hasUkCore(join(homedir(), '.fhir', 'packages'))) {
  const shared = join(env.NHS_SHARED_DIR ?? join(root, '..', 'shared'), 'fhir-packages');
  if (hasUkCore(shared)) env.FHIR_PACKAGE_CACHE = shared;
  else console.log('UK Core is not in the FHIR package cache: FHIR messages will be quarantined as invalid until you run\n  npx nhs-fhir-validate install fhir.r4.ukcore.stu2#2.0.2\n');
}

// 6. Run Node-RED and forward Ctrl-C.
const redJs = join(root, 'node_modules', 'node-red', 'red.js');
const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settings], { stdio: ['ignore', 'pipe', 'inherit'], env });
let announced = false;
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && /Server now running at/.test(String(chunk))) {
    announced = true;
    console.log(`\n  NHS interop demo: open http://${host}:${port}/ — every example on its own tab, synthetic traffic every 3 s (tab "Demo traffic"), the NHS sidebar tab for quarantine and audit. Ctrl-C to stop.\n`);
  }
});
const stop = (sig) => { if (!child.killed) child.kill(sig); };
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
child.on('exit', (code, signal) => process.exit(signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : (code ?? 0)));
