// The demo `npm start` deploys: every example flow (examples/<Area>/NN - Title.json), each on its
// own tab, with the demo traffic simulator. Shared by scripts/start.mjs and test/e2e/demo.test.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const examplesDir = join(root, 'examples');

/**
 * Examples that share a listening port with an earlier one get their own in the demo (a file's
 * listener and the endpoint that sends to it move together). Keys are paths under examples/.
 */
const MOVED_PORTS = {
  'MLLP/01 - Receive ADT and ACK.json': { 2575: 2585 },
};

/** Every example file, in a stable order (Getting started first). */
export function exampleFiles() {
  const out = [];
  for (const area of readdirSync(examplesDir).sort((a, b) => (a === 'Getting started' ? -1 : b === 'Getting started' ? 1 : a.localeCompare(b)))) {
    const dir = join(examplesDir, area);
    if (!statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.json')) out.push(`${area}/${f}`);
  }
  return out;
}

/**
 * The demo flows. `url` is the editor's base URL (the flows' *_URL environment variables point
 * there); `port(n)` maps every MLLP port the examples use (after MOVED_PORTS), so a test can give
 * each a free one. Examples saved without a tab get one named after the file.
 */
export function demoFlows({ url = 'http://127.0.0.1:1880', port = (n) => n } = {}) {
  const flows = [];
  for (const rel of exampleFiles()) {
    const nodes = JSON.parse(readFileSync(join(examplesDir, rel), 'utf8'));
    const moved = MOVED_PORTS[rel] ?? {};
    let tab = nodes.find((n) => n.type === 'tab');
    if (!tab) {
      tab = { id: `demo-tab-${rel.replace(/[^A-Za-z0-9]/g, '').slice(0, 40)}`, type: 'tab', label: `${dirname(rel)}: ${basename(rel, '.json').replace(/^\d+ - /, '')}`, disabled: false, info: '' };
      flows.push(tab);
    }
    for (const n of nodes) {
      const copy = { ...n };
      // A flow node (it has wires) saved without a tab goes on the file's tab.
      if (copy.type !== 'tab' && Array.isArray(copy.wires) && !copy.z) copy.z = tab.id;
      if ((copy.type === 'nhs-mllp-in' || copy.type === 'nhs-mllp-endpoint') && copy.port) {
        const p = Number(copy.port);
        copy.port = String(port(moved[p] ?? p));
      }
      if (copy.type === 'tab' && Array.isArray(copy.env)) {
        copy.env = copy.env.map((e) => (typeof e.value === 'string' && e.value.startsWith('http://127.0.0.1:1880') ? { ...e, value: url + e.value.slice('http://127.0.0.1:1880'.length) } : e));
      }
      flows.push(copy);
    }
  }
  return flows;
}
