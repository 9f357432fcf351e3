/**
 * Start a real Node-RED (the installed `node-red` package, 4.x or 5.x) in a child process with
 * this package installed the way `npm install <path>` does it: a link in <userDir>/node_modules.
 * Used by the packaging test and the end-to-end tests; it loads the BUILT package (dist/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(__dirname, '..', '..');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface NodeRedProcess {
  url: string;
  port: number;
  userDir: string;
  child: ChildProcess;
  output: () => string;
  /** Admin API call (JSON unless `accept` says otherwise). */
  api(path: string, init?: { method?: string; body?: unknown; accept?: string; headers?: Record<string, string> }): Promise<{ status: number; text: string; json: () => any }>;
  deploy(flows: unknown[]): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartOptions {
  flows?: unknown[];
  userDir?: string;
  /** Extra settings.js properties (JSON-serialisable). */
  settings?: Record<string, unknown>;
  /** Keep the userDir after stop (e.g. to restart on the same store). */
  keepUserDir?: boolean;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Install this package into the user directory (default true; false gives a bare Node-RED to compare with). */
  linkPackage?: boolean;
}

export async function startNodeRed(opts: StartOptions = {}): Promise<NodeRedProcess> {
  const userDir = opts.userDir ?? mkdtempSync(join(tmpdir(), 'nhs-nr-'));
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  const link = opts.linkPackage !== false;
  if (link) try { symlinkSync(repoRoot, join(userDir, 'node_modules', 'node-red-contrib-nhs-interop'), 'dir'); } catch { /* exists */ }
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'nr-test', private: true, dependencies: link ? { 'node-red-contrib-nhs-interop': '*' } : {} }));
  if (opts.flows) writeFileSync(join(userDir, 'flows.json'), JSON.stringify(opts.flows));
  const port = await freePort();
  const settings = {
    uiHost: '127.0.0.1', uiPort: port, flowFile: 'flows.json', credentialSecret: 'test-secret',
    logging: { console: { level: 'info', metrics: false, audit: false } },
    editorTheme: { tours: false, projects: { enabled: false } },
    telemetry: { enabled: false },
    ...opts.settings,
  };
  writeFileSync(join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  const redJs = require.resolve('node-red/red.js');
  const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', join(userDir, 'settings.js')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr?.on('data', (c: Buffer) => { out += c.toString(); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 30000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Node-RED exited early (${child.exitCode}):\n${out}`);
    if (/Started flows|Server now running/.test(out)) {
      // 401: up, with adminAuth on (the caller brings its own token).
      try { const r = await fetch(`${url}/settings`); if (r.ok || r.status === 401) break; } catch { /* not yet */ }
    }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`Node-RED did not start in time:\n${out}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  const api: NodeRedProcess['api'] = async (path, init = {}) => {
    const r = await fetch(`${url}${path}`, {
      method: init.method ?? 'GET',
      headers: { accept: init.accept ?? 'application/json', ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, text, json: () => JSON.parse(text) };
  };
  return {
    url, port, userDir, child, api,
    output: () => out,
    async deploy(flows) {
      const r = await api('/flows', { method: 'POST', body: flows, headers: { 'Node-RED-Deployment-Type': 'full' } });
      if (r.status !== 200 && r.status !== 204) throw new Error(`deploy failed ${r.status}: ${r.text}`);
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      if (!opts.keepUserDir && !opts.userDir) rmSync(userDir, { recursive: true, force: true });
    },
  };
}
