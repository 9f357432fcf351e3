import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MllpServer } from '../../lib/mllp/server';
import { adt, controlIdOf, peerAck } from '../helpers/mllp-peer';

const BIN = join(__dirname, '..', '..', 'bin', 'mllp-send.ts');
const dir = mkdtempSync(join(tmpdir(), 'mllp-send-'));
const servers: MllpServer[] = [];
after(async () => { await Promise.all(servers.map((s) => s.close())); rmSync(dir, { recursive: true, force: true }); });

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', BIN, ...args], { timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
async function server(code: (id: string) => string): Promise<number> {
  const s = new MllpServer({ port: 0, host: '127.0.0.1', onFrame: (f) => { const t = f.toString('latin1'); return peerAck(t, code(controlIdOf(t))); } });
  servers.push(s);
  return (await s.listen()).port;
}

describe('nhs-mllp-send CLI', () => {
  it('sends every message of a batch file and of a plain file, prints AA, exits 0', async () => {
    const port = await server(() => 'AA');
    const batch = join(dir, 'batch.hl7');
    writeFileSync(batch, ['FHS|^~\\&|A', 'BHS|^~\\&|A', adt('B1'), adt('B2'), 'BTS|2', 'FTS|1'].join('\r'));
    const single = join(dir, 'one.hl7');
    writeFileSync(single, adt('S1'));
    const r = await run([`127.0.0.1:${port}`, batch, single]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split(' ').slice(1).join(' ')), ['B1 AA', 'B2 AA', 'S1 AA']);
    assert.ok(!r.stdout.includes('9000000009'), 'no patient data printed');
  });

  it('exits 1 when any message is not accepted, and on a dead port', async () => {
    const port = await server((id) => (id === 'BAD' ? 'AE' : 'AA'));
    const f = join(dir, 'mixed.hl7');
    writeFileSync(f, [adt('OK'), adt('BAD')].join('\r'));
    const r = await run([`127.0.0.1:${port}`, f]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /BAD AE/);
    const dead = await run(['--timeout', '1', '127.0.0.1:1', f]);
    assert.equal(dead.code, 1);
    assert.match(dead.stdout, /ERROR MLLP_CONNECT_FAILED/);
  });

  it('exits 2 with usage on bad arguments', async () => {
    assert.equal((await run(['nohostport'])).code, 2);
  });
});
