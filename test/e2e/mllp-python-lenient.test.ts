/**
 * Lenient parsing end to end (issue 9 item 4): Debian's python3-hl7 `mllp_send` sends messages
 * whose MSH-2 is short (`^~&`, `^~\`, `^`), as several lab and public-health senders do, to a real
 * `nhs-mllp-in`, which must answer AA (it parses with lib/hl7's lenient default) and store each.
 *
 * `nhs-mllp-in` has no `strict` option on this branch (the channels work adds it), so the
 * strict → NAK case is proven at the parser level (test/lib/hl7/lenient.test.ts: strict gives an
 * error with the reason, and buildNak answers AR echoing MSH-10) rather than here.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { parseHl7 } from '../../lib/hl7';

const skip = existsSync('/usr/bin/mllp_send') ? false : '/usr/bin/mllp_send absent: apt-get install python3-hl7';
const dir = mkdtempSync(join(tmpdir(), 'mllp-py-lenient-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Synthetic ORU^R01 (test-range NHS number) with the given MSH-2. */
const oru = (enc: string, id: string): string => [
  `MSH|${enc}|LAB|RXX01|EPR|RXX01|20260101120000||ORU^R01|${id}|P|2.3`,
  'PID|1||9990000018^^^NHS^NH||TESTPATIENT^ALEX',
  'OBR|1||ACC1|CBC^Full blood count',
  'OBX|1|ST|NOTE^Note||see C:\\reports\\x & y',
].join('\r');

describe('MLLP interop with python3-hl7: short MSH-2 gets AA (lenient parsing)', { skip }, () => {
  const h = nodeRedHarness();

  it('mllp_send with MSH|^~&|, MSH|^~\\|, MSH|^| → nhs-mllp-in: AA for each, each stored', async () => {
    await h.load([require('../../nodes/mllp-in'), require('../../nodes/store')], [
      { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'in.sqlite') },
      { id: 'in', type: 'nhs-mllp-in', port: 0, host: '127.0.0.1', store: 'st', wires: [['ok'], ['bad']] },
      { id: 'ok', type: 'helper' },
      { id: 'bad', type: 'helper' },
    ]);
    const port = await h.node('in').mllpPort();
    const sent: [string, string][] = [['^~&', 'SHORT1'], ['^~&', 'SHORT2'], ['^~\\', 'SHORT3'], ['^', 'SHORT4']];
    const file = join(dir, 'short.hl7');
    // Without --loose (which only splits on `MSH|^~\&|`), mllp_send reads MLLP-framed messages.
    writeFileSync(file, sent.map(([enc, id]) => `\u000b${oru(enc, id)}\r\u001c\r`).join(''), 'latin1');
    const delivered = h.collect('ok', sent.length, 20000);
    const out = await new Promise<string>((resolve, reject) => {
      execFile('/usr/bin/python3', ['/usr/bin/mllp_send', '-f', file, '-p', String(port), '127.0.0.1'], { timeout: 20000 }, (err, stdout) => (err ? reject(new Error(`mllp_send failed: ${err.message}`)) : resolve(stdout)));
    });
    // Each ACK answers in the sender's own delimiters: MSH-2 echoed, MSA-1 AA, MSA-2 = MSH-10.
    // eslint-disable-next-line no-control-regex -- the ACKs are printed with their MLLP framing bytes
    const acks = [...out.matchAll(/MSH\|([^|]*)\|[^\u001c]*?MSA\|(\w+)\|([^|\r\n\u001c]*)/g)].map((m) => [m[1], m[2], m[3]]);
    assert.deepEqual(acks, sent.map(([enc, id]) => [enc, 'AA', id]));
    const msgs = await delivered;
    assert.deepEqual(msgs.map((m) => m.hl7?.controlId), sent.map(([, id]) => id));
    // nhs-mllp-in on this branch does not copy warnings to msg.outcome on its valid output; the
    // deviation it accepted is the parser's warning for the delivered text.
    for (const m of msgs) {
      const warnings = parseHl7(m.payload).issues.filter((i) => i.severity === 'warning' && /MSH-2/.test(i.diagnostics ?? ''));
      assert.equal(warnings.length, 1);
    }
    // `\` is data in a `^~&` message, `&` is data in a `^~\` one.
    assert.equal(msgs[0].payload.includes('C:\\reports\\x & y'), true);
    const store = await h.node('st').getStore();
    for (const [, id] of sent) assert.equal((await store.findMessages({ controlId: id })).length, 1);
  });
});
