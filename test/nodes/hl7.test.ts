import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';
import { ADT_A01, ROUND_TRIP } from '../lib/hl7/fixtures/samples';
import { encodeHl7Text } from '../../lib/hl7';

const hl7Node = require('../../nodes/hl7');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const flow = (cfg: Record<string, unknown> = {}): Record<string, unknown>[] => [
  { id: 'n', type: 'nhs-hl7', action: 'parse', property: 'payload', batch: true, ...cfg, wires: [['ok'], ['bad']] },
  { id: 'ok', type: 'helper' },
  { id: 'bad', type: 'helper' },
];
const errors = (msg: any): any[] => msg.outcome.issue.filter((i: any) => i.severity === 'error' || i.severity === 'fatal');
const head = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5.1\r';

describe('nhs-hl7 node: parse', () => {
  const h = nodeRedHarness();

  it('ADT^A01 → output 1 with msg.hl7 JSON, msg.topic, audit ref = MSH-10', async () => {
    await h.load([hl7Node], flow());
    const got = h.next('ok');
    h.node('n').receive({ payload: ADT_A01, audit: [{ at: 'x', node: 'earlier', action: 'a', outcome: 'ok' }] });
    const msg = await got;
    assert.equal(msg.topic, 'ADT^A01');
    assert.equal(msg.hl7.type, 'ADT^A01');
    assert.equal(msg.hl7.controlId, 'MSG00001');
    assert.equal(msg.hl7.version, '2.5.1');
    assert.equal(msg.hl7.segments[2][0], 'PID');
    assert.equal(msg.payload, ADT_A01, 'payload untouched');
    assert.deepEqual(msg.outcome.issue.map((i: any) => i.diagnostics), ['All OK']);
    assert.equal(msg.audit.length, 2);
    assert.deepEqual({ ...msg.audit[1], at: undefined }, { at: undefined, node: 'n', action: 'parse', outcome: 'valid', ref: 'MSG00001' });
    assert.doesNotThrow(() => JSON.stringify(msg.hl7));
  });

  it('with "Check the message structure", an ADT^A01 without PID is invalid (HL7_SEGMENT_MISSING); without the option it passes (HAZ-008 C8)', async () => {
    const noPid = ADT_A01.split('\r').filter((s) => !s.startsWith('PID|')).join('\r');
    await h.load([hl7Node], flow({ structure: true }));
    const bad = h.next('bad');
    h.node('n').receive({ payload: noPid });
    const msg = await bad;
    assert.deepEqual(errors(msg).map((i: any) => [i.code, i.expression[0], i.extension?.[0]?.valueString]), [['required', 'PID', 'HL7_SEGMENT_MISSING']]);
    assert.equal(msg.hl7.type, 'ADT^A01', 'msg.hl7 is still there, for a NAK');
    const ok = h.next('ok');
    h.node('n').receive({ payload: ADT_A01 });
    assert.deepEqual((await ok).outcome.issue.map((i: any) => i.diagnostics), ['All OK']);
    await h.helper.unload();
    await h.load([hl7Node], flow());
    const old = h.next('ok');
    h.node('n').receive({ payload: noPid });
    assert.equal((await old).topic, 'ADT^A01', 'a flow from before the option keeps its behaviour');
  });

  it('with "Check required fields", an ADT^A01 with PID-3 empty is invalid (HL7_REQUIRED_FIELD at PID-3); without the option it passes (HAZ-008 C9)', async () => {
    const noId = ADT_A01.replace(/^PID\|1\|\|[^|]*\|/m, 'PID|1|||');
    assert.notEqual(noId, ADT_A01);
    await h.load([hl7Node], flow({ structure: true, fields: true }));
    const bad = h.next('bad');
    h.node('n').receive({ payload: noId });
    const msg = await bad;
    assert.deepEqual(errors(msg).map((i: any) => [i.code, i.expression[0], i.extension?.[0]?.valueString]), [['required', 'PID-3', 'HL7_REQUIRED_FIELD']]);
    assert.ok(!JSON.stringify(msg.outcome).includes('TESTPATIENT'), 'no patient data in the outcome');
    assert.equal(msg.hl7.type, 'ADT^A01', 'msg.hl7 is still there, for a NAK');
    assert.deepEqual(msg.audit.map((a: any) => a.outcome), ['invalid']);
    // Both checks report together: a missing segment and an empty field.
    const both = h.next('bad');
    h.node('n').receive({ payload: noId.split('\r').filter((s) => !s.startsWith('PV1|')).join('\r') });
    assert.deepEqual(errors(await both).map((i: any) => i.expression[0]), ['PV1', 'PID-3']);
    const ok = h.next('ok');
    h.node('n').receive({ payload: ADT_A01 });
    assert.deepEqual((await ok).outcome.issue.map((i: any) => i.diagnostics), ['All OK']);
    await h.helper.unload();
    await h.load([hl7Node], flow({ structure: true, fields: false }));
    const off = h.next('ok');
    h.node('n').receive({ payload: noId });
    assert.equal((await off).topic, 'ADT^A01', 'the option off: required fields are not checked');
  });

  it('a saved nhs-hl7 from before "Check required fields" (no fields property) keeps its meaning after the upgrade; the editor default for new nodes is on (HAZ-025)', async () => {
    // A v1 flow as saved by the previous release: structure checked, no `fields` key at all.
    const noId = ADT_A01.replace(/^PID\|1\|\|[^|]*\|/m, 'PID|1|||');
    await h.load([hl7Node], flow({ version: 1, structure: true }));
    const got = h.next('ok');
    h.node('n').receive({ payload: noId });
    const msg = await got;
    assert.equal(msg.topic, 'ADT^A01', 'an empty PID-3 still passes, as before the upgrade');
    assert.deepEqual(msg.outcome.issue.map((i: any) => i.diagnostics), ['All OK']);
    // New nodes: the editor's default is on (the same pattern as the structure check).
    const html = readFileSync(join(__dirname, '..', '..', 'nodes', 'hl7.html'), 'utf8');
    assert.match(html, /\n\s*fields: \{ value: true \},/);
    assert.match(html, /\n\s*structure: \{ value: true \},/);
    assert.match(html, /id="node-input-fields"/);
  });

  it('Buffer input is decoded by MSH-18 (ISO-8859-1)', async () => {
    await h.load([hl7Node], flow({ rules: [{ t: 'get', path: 'PID-5.1', p: 'family', pt: 'msg' }] }));
    const got = h.next('ok');
    const text = `${head.replace('2.5.1', '2.5.1|||||GBR|8859/1')}PID|1||9990000018^^^NHS^NH||MÜLLER^ZOË\r`;
    h.node('n').receive({ payload: encodeHl7Text(text, '8859/1') });
    const msg = await got;
    assert.equal(msg.family, 'MÜLLER');
    assert.equal(msg.hl7.charset, '8859/1');
  });

  it('get and set rules; set changes only that field and refreshes payload and msg.hl7', async () => {
    await h.load([hl7Node], flow({
      rules: [
        { t: 'get', path: 'PID-3[1].1', p: 'nhsNumber', pt: 'msg' },
        { t: 'get', path: 'PID-3[2].1', p: 'ids.local', pt: 'msg' },
        { t: 'get', path: 'AL1-5', p: 'reaction', pt: 'msg' },
        { t: 'get', path: 'PID-2', p: 'missing', pt: 'msg' },
        { t: 'set', path: 'MSH-5', p: 'NEWAPP', pt: 'str' },
        { t: 'set', path: 'PV1-3.1', p: 'ward', pt: 'msg' },
        { t: 'set', path: 'ZXY-1', p: '7', pt: 'num' },
        { t: 'set', path: 'PID-8', p: 'nothing.here', pt: 'msg' },
      ],
    }));
    const got = h.next('ok');
    h.node('n').receive({ payload: ADT_A01, ward: 'W^2' });
    const msg = await got;
    assert.equal(msg.nhsNumber, '9990000018');
    assert.equal(msg.ids.local, 'RXX1234567');
    assert.equal(msg.reaction, 'Rash & wheeze');
    assert.equal(msg.missing, undefined);
    const want = ADT_A01.replace('|EPR|RXX01|2024', '|NEWAPP|RXX01|2024').replace('|RXX01WARD1^', '|W\\S\\2^').replace('ZXY|1|', 'ZXY|7|');
    assert.equal(msg.payload, want);
    assert.equal(msg.hl7.segments[0][5], 'NEWAPP');
    assert.equal(msg.hl7.segments[2][8], 'F', 'unset source leaves the field alone');
  });

  const bad: [string, unknown, RegExp, boolean][] = [
    // [name, payload, diagnostics, msg.hl7 expected]
    ['empty string', '', /empty/, false],
    ['a number', 42, /not HL7/, false],
    ['an object', { a: 1 }, /not HL7/, false],
    ['missing payload', undefined, /empty/, false],
    ['no MSH', 'PID|1||X\r', /MSH/, false],
    ['lone MSH', 'MSH', /MSH-2/, false],
    ['MSH-10 missing', 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01||P|2.5\r', /MSH-10/, true],
    ['binary junk', Buffer.from([0x0b, 0x00, 0xff, 0xfe, 0x1c, 0x0d]), /MSH/, false],
    ['junk after MSH', `${head}\x00\x01\x02binary`, /control characters/, true],
  ];
  for (const [name, payload, re, hasHl7] of bad) {
    it(`bad input: ${name} → invalid with msg.outcome, no crash`, async () => {
      await h.load([hl7Node], flow());
      const got = h.next('bad');
      h.node('n').receive(payload === undefined ? {} : { payload });
      const msg = await got;
      assert.equal(msg.outcome.resourceType, 'OperationOutcome');
      assert.ok(errors(msg).length >= 1);
      assert.match(errors(msg).map((i: any) => `${i.diagnostics} ${(i.expression ?? []).join()}`).join('\n'), re);
      assert.equal(msg.hl7 !== undefined, hasHl7);
      assert.equal(msg.audit.at(-1).outcome, 'invalid');
    });
  }

  it('a nested input property whose parent is missing is invalid, not a node error', async () => {
    await h.load([hl7Node], flow({ property: 'data.hl7text' }));
    const got = h.next('bad');
    h.node('n').receive({ payload: ADT_A01 });
    assert.match(errors(await got)[0].diagnostics, /msg\.data\.hl7text is empty/);
  });

  it('oversized: over maxBytes → invalid too-long without parsing; node keeps working', async () => {
    await h.load([hl7Node], flow({ maxBytes: 1000 }));
    const got = h.next('bad');
    h.node('n').receive({ payload: ADT_A01 });
    const msg = await got;
    assert.equal(errors(msg)[0].code, 'too-long');
    assert.equal(msg.hl7, undefined);
  });

  it('hostile: 1 MB field and 100k segments pass through in time; status still counts', async () => {
    await h.load([hl7Node], flow());
    const got = h.collect('ok', 2, 20000);
    h.node('n').receive({ payload: `${head}OBX|1|ED|||${'A'.repeat(1024 * 1024)}\r` });
    h.node('n').receive({ payload: head + 'NTE|1|x\r'.repeat(100000) });
    const msgs = await got;
    assert.equal(msgs[0].hl7.segments[1][5].length, 1024 * 1024);
    assert.equal(msgs[1].hl7.segments.length, 100001);
  });

  it('batch: split into one message each with msg.parts; a count mismatch is reported once', async () => {
    await h.load([hl7Node], flow());
    const ok = h.collect('ok', 2);
    const bad = h.collect('bad', 2);
    const a = head;
    const b = head.replace('X1', 'X2');
    const c = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01||P|2.5.1\r';
    h.node('n').receive({ payload: `FHS|^~\\&\rBHS|^~\\&\r${a}${b}${c}BTS|4\rFTS|1\r` });
    const [o, x] = await Promise.all([ok, bad]);
    assert.deepEqual(o.map((m: any) => m.hl7.controlId), ['X1', 'X2']);
    assert.deepEqual(o.map((m: any) => m.parts.index), [0, 1]);
    assert.equal(o[0].parts.count, 3);
    assert.equal(o[1].payload, b);
    const codes = x.map((m: any) => errors(m)[0].expression?.[0]);
    assert.deepEqual(codes.sort(), ['BTS-1', 'MSH-10']);
  });

  it('batch splitting is on by default: concatenated messages without headers are split', async () => {
    await h.load([hl7Node], flow({ batch: undefined }));
    const ok = h.collect('ok', 2);
    h.node('n').receive({ payload: head + head.replace('X1', 'X2') });
    assert.deepEqual((await ok).map((m: any) => m.hl7.controlId), ['X1', 'X2']);
  });

  it('batch splitting off: a batch is invalid', async () => {
    await h.load([hl7Node], flow({ batch: false }));
    const got = h.next('bad');
    h.node('n').receive({ payload: `BHS|^~\\&\r${head}BTS|1\r` });
    assert.match(errors(await got)[0].diagnostics, /batch/);
  });

  it('status shows counts only, never patient data', async () => {
    await h.load([hl7Node], flow());
    const n = h.node('n');
    const texts: string[] = [];
    const orig = n.status.bind(n);
    n.status = (s: any) => { if (s?.text) texts.push(s.text); orig(s); };
    const ok = h.next('ok');
    const bad = h.next('bad');
    n.receive({ payload: ADT_A01 });
    await ok;
    n.receive({ payload: 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01||P|2.5\rPID|1||9990000018||TESTPATIENT\r' });
    await bad;
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(texts.some((t) => /valid 1 \/ invalid 1/.test(t)), texts.join(' | '));
    for (const t of texts) assert.doesNotMatch(t, /TESTPATIENT|9990000018/);
  });

  /** Parse ADT_A01 with `rules` and resolve the msg a Catch node receives. */
  const caught = async (rules: Record<string, unknown>[]): Promise<any> => {
    await h.load([hl7Node, catchNode], [
      ...flow({ rules }),
      { id: 'c', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);
    const got = h.next('caught');
    h.node('n').receive({ payload: ADT_A01 });
    return got;
  };

  it('invalid rule path → done(err) with code HL7_BAD_PATH (seen by a Catch node)', async () => {
    assert.equal((await caught([{ t: 'get', path: 'PID3', p: 'x', pt: 'msg' }])).error.code, 'HL7_BAD_PATH');
  });

  it('a set rule writing MSH-2 → done(err) HL7_READ_ONLY', async () => {
    assert.equal((await caught([{ t: 'set', path: 'MSH-2', p: '$*@%', pt: 'str' }])).error.code, 'HL7_READ_ONLY');
  });
});

describe('nhs-hl7 node: serialize and fields', () => {
  const h = nodeRedHarness();
  const chain = (second: Record<string, unknown>): Record<string, unknown>[] => [
    { id: 'p', type: 'nhs-hl7', action: 'parse', wires: [['n'], ['bad']] },
    { id: 'n', type: 'nhs-hl7', ...second, wires: [['ok'], ['bad']] },
    { id: 'ok', type: 'helper' },
    { id: 'bad', type: 'helper' },
  ];

  for (const [name, text] of Object.entries(ROUND_TRIP)) {
    it(`parse → serialize is byte-identical: ${name}`, async () => {
      await h.load([hl7Node], chain({ action: 'serialize' }));
      const got = h.next('ok');
      h.node('p').receive({ payload: text });
      const msg = await got;
      assert.equal(msg.payload, text);
    });
  }

  it('serialize with bytes output encodes in the MSH-18 charset (ISO-8859-1)', async () => {
    await h.load([hl7Node], chain({ action: 'serialize', output: 'bytes' }));
    const got = h.next('ok');
    const text = `${head.replace('2.5.1', '2.5.1|||||GBR|8859/1')}PID|1||9990000018^^^NHS^NH||DÖE^JANE\r`;
    h.node('p').receive({ payload: text });
    const msg = await got;
    assert.ok(Buffer.isBuffer(msg.payload));
    assert.equal(msg.payload.length, text.length, 'one byte per character');
    assert.equal(msg.payload.toString('latin1'), text);
  });

  it('serialize from msg.hl7 directly, with edits', async () => {
    await h.load([hl7Node], flow({ action: 'serialize' }));
    const got = h.next('ok');
    const hl7 = { segments: [['MSH', '|', '^~\\&', 'A', 'B', 'C', 'D', '20240101', '', 'ADT^A08', 'E1', 'P', '2.5.1'], ['PID', '1', '', '9990000026^^^NHS^NH', '', 'DOE^JOHN']], eol: '\r' };
    h.node('n').receive({ hl7 });
    const msg = await got;
    assert.equal(msg.payload, 'MSH|^~\\&|A|B|C|D|20240101||ADT^A08|E1|P|2.5.1\rPID|1||9990000026^^^NHS^NH||DOE^JOHN\r');
    assert.equal(msg.topic, 'ADT^A08');
  });

  it('serialize: broken msg.hl7 → invalid', async () => {
    await h.load([hl7Node], flow({ action: 'serialize' }));
    const got = h.next('bad');
    h.node('n').receive({ hl7: { segments: 'nope' } });
    assert.match(errors(await got)[0].diagnostics, /segments/);
  });

  it('fields: get only leaves payload alone; set refreshes it', async () => {
    await h.load([hl7Node], chain({ action: 'fields', rules: [{ t: 'get', path: 'MSH-10', p: 'ref', pt: 'msg' }, { t: 'set', path: 'PID-1', p: '2', pt: 'str' }] }));
    const got = h.next('ok');
    h.node('p').receive({ payload: ADT_A01 });
    const msg = await got;
    assert.equal(msg.ref, 'MSG00001');
    assert.equal(msg.payload, ADT_A01.replace('PID|1|', 'PID|2|'));
    assert.equal(msg.hl7.segments[2][1], '2');
  });
});

describe('example flow examples/HL7/01 - Parse and route ADT.json', () => {
  const h = nodeRedHarness();
  const injectNode = require('@node-red/nodes/core/common/20-inject.js');
  const switchNode = require('@node-red/nodes/core/function/10-switch.js');
  const example = require('../../examples/HL7/01 - Parse and route ADT.json') as Record<string, any>[];
  // Debug nodes become helpers so the test can see what each would print.
  // The editor puts imported nodes on a tab (z); do the same, as Node-RED skips placed nodes without one.
  const flowOf = (): Record<string, unknown>[] => [
    { id: 'tab', type: 'tab' },
    ...example.filter((n) => n.type !== 'comment').map((n) => (n.type === 'debug' ? { id: n.id, type: 'helper', name: n.name, z: 'tab' } : { ...n, z: 'tab' })),
  ];
  const byName = (name: string): string => example.find((n) => n.name === name)?.id as string;

  const cases: [string, string, (m: any) => void][] = [
    ['ADT^A01 admit', 'admissions', (m) => { assert.equal(m.topic, 'ADT^A01'); assert.equal(m.ward, 'RXX01WARD1'); }],
    ['ADT^A08 update', 'updates', (m) => { assert.equal(m.topic, 'ADT^A08'); assert.equal(m.controlId, 'MSG00002'); }],
    ['broken (no MSH-10)', 'invalid: msg.outcome', (m) => assert.equal(m.outcome.issue[0].expression[0], 'MSH-10')],
  ];
  for (const [inject, debug, check] of cases) {
    it(`${inject} → ${debug}`, async () => {
      await h.load([hl7Node, injectNode, switchNode, require('../../nodes/governance')], flowOf());
      const got = h.next(byName(debug));
      h.node(byName(inject)).receive({});
      check(await got);
    });
  }
});
