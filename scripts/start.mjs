// `npm start`: build if needed, then run Node-RED (the devDependency) on 127.0.0.1:1880 with this
// package installed into a git-ignored user directory and the demo flow deployed.
// Ctrl-C stops it cleanly (SIGINT is forwarded; Node-RED closes nodes and the store).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync, lstatSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  credentialSecret: 'nhs-interop-demo-only',
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  // The demo runs offline: don't ask about update notifications on first open.
  telemetry: { enabled: false },
};
`);

// 4. Deploy the demo flow on first start (the user's later edits are kept).
const flows = join(userDir, 'flows.json');
if (!existsSync(flows)) {
  const demo = join(root, 'examples', 'Getting started', '01 - Demo.json');
  if (existsSync(demo)) copyFileSync(demo, flows);
  else writeFileSync(flows, '[]');
}

// 5. Run Node-RED and forward Ctrl-C.
const redJs = join(root, 'node_modules', 'node-red', 'red.js');
const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settings], { stdio: ['ignore', 'pipe', 'inherit'] });
let announced = false;
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && /Server now running at/.test(String(chunk))) {
    announced = true;
    console.log(`\n  NHS interop demo: open http://${host}:${port}/ (palette category "NHS"). Ctrl-C to stop.\n`);
  }
});
const stop = (sig) => { if (!child.killed) child.kill(sig); };
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
child.on('exit', (code, signal) => process.exit(signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : (code ?? 0)));
