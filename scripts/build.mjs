// Build: compile TypeScript to CommonJS in dist/, then copy what Node-RED reads beside the
// built node files (editor HTML, locales/<lang>/<node>.html help, icons). Node-RED only looks
// for these next to the .js file it loads, so dist/ must be self-contained.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, chmodSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

/** Copy every non-TypeScript asset under `dir` into the same relative place in dist/. */
function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const src = join(dir, name);
    if (statSync(src).isDirectory()) copyAssets(src);
    else if (!/\.(ts|mts|cts)$/.test(name)) {
      const dest = join(dist, relative(root, src));
      mkdirSync(dirname(dest), { recursive: true });
      cpSync(src, dest);
    }
  }
}
copyAssets(join(root, 'nodes'));
if (existsSync(join(root, 'plugins'))) copyAssets(join(root, 'plugins'));
cpSync(join(root, 'icons'), join(dist, 'nodes', 'icons'), { recursive: true });
const binDir = join(dist, 'bin');
if (existsSync(binDir)) for (const f of readdirSync(binDir)) if (f.endsWith('.js')) chmodSync(join(binDir, f), 0o755);
console.log('built dist/');
