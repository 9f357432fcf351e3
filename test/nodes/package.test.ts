/**
 * Loads the built package from dist/ exactly as Node-RED does — through package.json's
 * `node-red` section in a user directory — and checks every node set and plugin loads, that
 * icons and help text are found, on whichever Node-RED is installed (4.1.x, or 5.x in CI's
 * second run).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
const nodeSets: Record<string, string> = pkg['node-red'].nodes;
const plugins: Record<string, string> = pkg['node-red'].plugins ?? {};
const built = existsSync(join(repoRoot, 'dist', 'nodes'));
const nrVersion: string = require('node-red/package.json').version;

describe(`package loads in Node-RED ${nrVersion} from dist/`, { skip: built ? false : 'dist/ not built (npm test builds it first)' }, () => {
  let nr: NodeRedProcess;
  before(async () => { nr = await startNodeRed({ flows: [] }); });
  after(async () => { await nr?.stop(); });

  it('package.json declares the Node-RED metadata', () => {
    assert.ok(pkg.keywords.includes('node-red'));
    assert.equal(pkg['node-red'].version, '>=4.0.0');
    assert.equal(pkg.engines.node, '>=20.19');
    for (const [type, file] of Object.entries(nodeSets)) {
      assert.match(type, /^nhs-/, `${type} is prefixed nhs-`);
      assert.ok(existsSync(join(repoRoot, file)), `${file} is built`);
      assert.ok(existsSync(join(repoRoot, file.replace(/\.js$/, '.html'))), `${type} has editor HTML beside it`);
    }
  });

  it('every node set is loaded without error, one node set per node', async () => {
    const r = await nr.api('/nodes');
    assert.equal(r.status, 200);
    const sets: { module: string; name: string; types: string[]; enabled: boolean; err?: string }[] = r.json();
    const ours = sets.filter((s) => s.module === pkg.name);
    for (const type of Object.keys(nodeSets)) {
      const set = ours.find((s) => s.name === type);
      assert.ok(set, `node set ${type} listed`);
      assert.equal(set.err, undefined, `${type}: ${set.err}`);
      assert.equal(set.enabled, true, `${type} enabled`);
      assert.deepEqual(set.types, [type]);
    }
  });

  it('editor HTML registers every type in the NHS category, with help text', async () => {
    const r = await nr.api('/nodes?lang=en-US', { accept: 'text/html' });
    assert.equal(r.status, 200);
    for (const type of Object.keys(nodeSets)) {
      assert.ok(r.text.includes(`RED.nodes.registerType('${type}'`) || r.text.includes(`RED.nodes.registerType("${type}"`), `${type} registered in editor`);
      const help = new RegExp(`data-help-name=["']${type}["']>([\\s\\S]*?)</script>`).exec(r.text);
      assert.ok(help, `${type} has help`);
      assert.ok(help[1]!.replace(/<[^>]+>/g, '').trim().length > 80, `${type} help has real text`);
    }
    assert.match(r.text, /category:\s*['"]NHS['"]/);
  });

  it('icons named by the editor HTML are served', async () => {
    const r = await nr.api('/nodes?lang=en-US', { accept: 'text/html' });
    const icons = new Set([...r.text.matchAll(/icon:\s*["']([\w.-]+\.svg)["']/g)].map((m) => m[1]!));
    assert.ok(icons.size > 0, 'icons referenced');
    for (const icon of icons) {
      const res = await nr.api(`/icons/${pkg.name}/${icon}`, { accept: 'image/svg+xml' });
      assert.equal(res.status, 200, `icon ${icon} served`);
      assert.match(res.text, /<svg/);
    }
  });

  it('plugins are loaded', { skip: Object.keys(plugins).length ? false : 'no plugins declared' }, async () => {
    const r = await nr.api('/plugins');
    assert.equal(r.status, 200);
    const list: { module: string; name: string; plugins: { id: string }[]; err?: string }[] = r.json();
    for (const id of Object.keys(plugins)) {
      const p = list.find((x) => x.module === pkg.name && x.name === id);
      assert.ok(p, `plugin ${id} listed`);
      assert.equal(p.err, undefined);
    }
  });

  it('example flows are offered under Import > Examples', async () => {
    const files = exampleFiles();
    assert.ok(files.length > 0, 'the package ships example flows');
    for (const f of files) {
      const flow = JSON.parse(readFileSync(f, 'utf8'));
      assert.ok(Array.isArray(flow) && flow.length > 0, `${f} is a flow array`);
      const rel = f.slice(join(repoRoot, 'examples').length + 1).replace(/\.json$/, '');
      const res = await nr.api(`/library/examples/flows/${pkg.name}/${rel.split('/').map(encodeURIComponent).join('/')}`);
      assert.equal(res.status, 200, `example ${rel} served`);
      assert.deepEqual(JSON.parse(res.text), flow);
    }
  });
});

function exampleFiles(): string[] {
  const { readdirSync, statSync } = require('node:fs') as typeof import('node:fs');
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.json')) out.push(p);
    }
  };
  walk(join(repoRoot, 'examples'));
  return out;
}
