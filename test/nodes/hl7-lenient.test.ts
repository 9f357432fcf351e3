/**
 * `nhs-hl7` lenient parsing (default) and its `strict` checkbox (issue 9 item 4). Synthetic data.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nodeRedHarness } from '../helpers/node-red';

const hl7Node = require('../../nodes/hl7');

const SHORT = 'MSH|^~&|LAB|RXX01|EPR|RXX01|20240315143000||ORU^R01|LAB1|P|2.3\rPID|1||9990000018^^^NHS^NH||TESTPATIENT^JANE\rOBX|1|ST|CODE^Text||C:\\data\\F\\x\r';
const FRAMED = `\ufeff\u000b${SHORT.replace('LAB1', 'LAB2')}\r\u001c\r  \n`;

const chain = (strict: boolean | undefined): Record<string, unknown>[] => [
  { id: 'p', type: 'nhs-hl7', action: 'parse', ...(strict === undefined ? {} : { strict }), wires: [['s'], ['bad']] },
  { id: 's', type: 'nhs-hl7', action: 'serialize', ...(strict === undefined ? {} : { strict }), wires: [['ok'], ['bad']] },
  { id: 'ok', type: 'helper' },
  { id: 'bad', type: 'helper' },
];

describe('nhs-hl7 node: lenient parsing and strict', () => {
  const h = nodeRedHarness();

  for (const [name, text] of [['short MSH-2 ^~&', SHORT], ['BOM, MLLP bytes, blank line, trailing whitespace', FRAMED]] as const) {
    it(`default (no strict in the config): ${name} → valid with warnings, parse → serialize byte-identical`, async () => {
      await h.load([hl7Node], chain(undefined));
      const got = h.next('ok');
      h.node('p').receive({ payload: text });
      const msg = await got;
      assert.equal(msg.payload, text);
      assert.equal(msg.topic, 'ORU^R01');
      const warnings = msg.outcome.issue.filter((i: any) => i.severity === 'warning');
      assert.ok(warnings.length >= 1, JSON.stringify(msg.outcome));
      assert.ok(msg.outcome.issue.every((i: any) => i.severity === 'warning'), JSON.stringify(msg.outcome));
      assert.ok(!JSON.stringify(msg.outcome).includes('TESTPATIENT'));
      assert.equal(msg.audit.at(-1).outcome, 'valid');
    });

    it(`strict: ${name} → invalid with the reason`, async () => {
      await h.load([hl7Node], chain(true));
      const got = h.next('bad');
      h.node('p').receive({ payload: text });
      const msg = await got;
      const errors = msg.outcome.issue.filter((i: any) => i.severity === 'error');
      assert.ok(errors.length >= 1);
      assert.match(errors.map((i: any) => i.diagnostics).join('\n'), /MSH-2|strict/);
      assert.equal(msg.audit.at(-1).outcome, 'invalid');
    });
  }

  it('strict serialize of a lenient msg.hl7 is invalid; lenient serialize gives the bytes back', async () => {
    await h.load([hl7Node], [
      { id: 'p', type: 'nhs-hl7', action: 'parse', wires: [['s', 'l'], []] },
      { id: 's', type: 'nhs-hl7', action: 'serialize', strict: true, wires: [[], ['bad']] },
      { id: 'l', type: 'nhs-hl7', action: 'serialize', strict: false, wires: [['ok'], []] },
      { id: 'ok', type: 'helper' },
      { id: 'bad', type: 'helper' },
    ]);
    const bad = h.next('bad');
    const ok = h.next('ok');
    h.node('p').receive({ payload: FRAMED });
    const b = await bad;
    assert.ok(b.outcome.issue.some((i: any) => i.severity === "error" && /strict/.test(i.diagnostics)), JSON.stringify(b.outcome));
    assert.equal((await ok).payload, FRAMED);
  });
});
