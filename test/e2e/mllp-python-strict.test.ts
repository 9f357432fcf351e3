/**
 * `strict` on nhs-mllp-in (issue 9 item 4): Debian's python3-hl7 `mllp_send` sends messages whose
 * MSH-2 is short (`MSH|^~&|`), which the lenient parser accepts with a warning (AA) and which
 * `strict` rejects: NAK with the reason (an ERR segment), kept in the store as errored.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';

const oru = (id: string): string => [
  `MSH|^~&|LAB|RXX01|EPR|RXX01|20260101120000||ORU^R01|${id}|P|2.3`,
  'PID|1||9990000018^^^NHS^NH||TESTPATIENT^ALEX',
  'OBX|1|ST|NOTE^Note||synthetic',
].join('\r');
const skip = !existsSync('/usr/bin/mllp_send') ? '/usr/bin/mllp_send absent: apt-get install python3-hl7' : false;
const dir = mkdtempSync(join(tmpdir(), 'mllp-py-strict-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function mllpSend(port: number, ids: string[]): Promise<string> {
  const file = join(dir, `${ids[0]}.hl7`);
  writeFileSync(file, ids.map((id) => `\u000b${oru(id)}\r\u001c\r`).join(''), 'latin1');
  return new Promise<string>((resolve, reject) => {
    execFile('/usr/bin/python3', ['/usr/bin/mllp_send', '-f', file, '-p', String(port), '127.0.0.1'], { timeout: 20000 }, (err, stdout) => (err ? reject(new Error(`mllp_send failed: ${err.message}`)) : resolve(stdout)));
  });
}

describe('nhs-mllp-in strict with python3-hl7', { skip }, () => {
  const h = nodeRedHarness();
  for (const strict of [false, true]) {
    it(`MSH|^~&| with strict ${strict ? 'on: NAKed with the reason' : 'off: AA, with a warning in msg.outcome'}`, async () => {
      await h.load([require('../../nodes/mllp-in'), require('../../nodes/store')], [
        { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, `s-${strict}.sqlite`) },
        { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', strict, wires: [['ok'], ['bad']] },
        { id: 'ok', type: 'helper' }, { id: 'bad', type: 'helper' },
      ]);
      const out = h.next(strict ? 'bad' : 'ok', 20000);
      const ids = [strict ? 'STRICT1' : 'LENIENT1'];
      const printed = await mllpSend(await h.node('in').mllpPort(), ids);
      const code = /MSA\|(\w+)/.exec(printed)?.[1];
      const msg = await out;
      if (strict) {
        assert.ok(code === 'AR' || code === 'AE', printed);
        assert.match(printed, /ERR\|/, 'the NAK carries the reason');
        assert.ok(msg.outcome.issue.some((i: any) => i.severity === 'error' && /MSH-2/.test(JSON.stringify(i))));
        assert.equal((await (await h.node('st').getStore()).findMessages({ channel: 'in' }))[0].status, 'errored');
      } else {
        assert.equal(code, 'AA', printed);
        assert.ok(msg.outcome.issue.some((i: any) => i.severity === 'warning' && /MSH-2/.test(JSON.stringify(i))));
      }
    });
  }
});
