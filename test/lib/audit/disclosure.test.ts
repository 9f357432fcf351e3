/**
 * Disclosure report builder (issue 16 item 6): parameters (bad input → BAD_REQUEST), rows from the
 * audit trail on both backends (subject, period, governance, source/destination), CSV per RFC 4180
 * with spreadsheet formula injection neutralised, and the CSV matching the rows.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, DISCLOSURE_COLUMNS, disclosureCsv, disclosureParams, disclosureReport, MAX_ROWS, type DisclosureRow } from '../../../lib/audit/disclosure';
import { verifyStore } from '../../../lib/audit/verify';
import { backends, openBackend } from './stores';
import { parseCsv } from '../../helpers/csv';

const P = '9000000009';
const OTHER = '9990000026';

describe('disclosure report parameters', () => {
  const ok = { nhsNumber: '900 000 0009', from: '2026-01-01', to: '2026-12-31' };
  it('normalises the NHS number and takes a date-only `to` as the end of that day', () => {
    assert.deepEqual(disclosureParams(ok), { subject: P, from: '2026-01-01T00:00:00.000Z', to: '2026-12-31T23:59:59.999Z' });
    assert.equal(disclosureParams({ ...ok, to: '2026-06-30T12:00:00Z' }).to, '2026-06-30T12:00:00.000Z');
  });
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['missing NHS number', { ...ok, nhsNumber: undefined }, /nhsNumber is required/],
    ['check digit wrong', { ...ok, nhsNumber: '9000000008' }, /Modulus 11/],
    ['letters', { ...ok, nhsNumber: '90000000AB' }, /Modulus 11/],
    ['an array', { ...ok, nhsNumber: ['9000000009'] }, /nhsNumber is required/],
    ['missing from', { ...ok, from: '' }, /from is required/],
    ['bad from', { ...ok, from: '2026-13-45' }, /from is not a date/],
    ['bad to', { ...ok, to: 'yesterday' }, /to is not a date/],
    ['oversized to', { ...ok, to: '2'.repeat(5000) }, /to is not a date/],
    ['from after to', { ...ok, from: '2026-12-31', to: '2026-01-01' }, /from is after to/],
    ['period over two years', { ...ok, from: '2020-01-01', to: '2026-01-01' }, /longer than 731 days/],
  ];
  for (const [name, q, msg] of bad) {
    it(`rejects ${name} with BAD_REQUEST`, () => {
      assert.throws(() => disclosureParams(q as never), (e: any) => e.code === 'BAD_REQUEST' && msg.test(e.message) && !e.message.includes('9000000009'));
    });
  }
});

describe('disclosure CSV (RFC 4180, formula injection)', () => {
  it('quotes commas, quotes and line breaks, and prefixes cells a spreadsheet would run', () => {
    assert.equal(csvCell(null), '');
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\r\nlines'), '"two\r\nlines"');
    assert.equal(csvCell('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell('-2+3'), "'-2+3");
    assert.equal(csvCell('@SUM(A1)'), "'@SUM(A1)");
    assert.equal(csvCell('\tcmd'), "'\tcmd");
  });
  it('has the header row and one CRLF line per row, every cell back as written', () => {
    const row = Object.fromEntries(DISCLOSURE_COLUMNS.map((c) => [c, null])) as unknown as DisclosureRow;
    const r1: DisclosureRow = { ...row, seq: 1, at: '2026-01-01T00:00:00.000Z', action: 'receive', nodeName: 'PAS, "main"', agreement: '=cmd|x' };
    const text = disclosureCsv([r1]);
    assert.ok(text.endsWith('\r\n'));
    const parsed = parseCsv(text);
    assert.deepEqual(parsed[0], [...DISCLOSURE_COLUMNS]);
    assert.equal(parsed.length, 2);
    assert.equal(parsed[1]![DISCLOSURE_COLUMNS.indexOf('nodeName')], 'PAS, "main"');
    assert.equal(parsed[1]![DISCLOSURE_COLUMNS.indexOf('agreement')], "'=cmd|x");
    assert.equal(parsed[1]![DISCLOSURE_COLUMNS.indexOf('flow')], '');
  });
});

for (const b of backends) {
  describe(`disclosure report on ${b.name}`, { skip: b.skip }, () => {
    it('lists one patient\'s records in the period by time, with names, route and governance; nothing of other patients or outside the period', async () => {
      const t = await openBackend(b.name);
      try {
        const gov = { ref: 'g1', agreement: 'DSA-2026-014', lawfulBasis: '6(1)(e)', condition: '9(2)(h)', purpose: 'TREAT', dpia: 'DPIA-7' };
        await t.store.appendAudit({ at: '2025-12-31T23:59:59.999Z', node: 'n1', action: 'receive', outcome: 'accepted', subject: P });
        await t.store.appendAudit({ at: '2026-03-02T10:15:00.000Z', node: 'n1', flow: 'tab1', action: 'receive', outcome: 'accepted', subject: P, correlationId: 'MSG1', messageId: 'm1', detail: { source: '10.0.0.5:40122', governance: gov } });
        await t.store.appendAudit({ at: '2026-03-02T10:15:01.000Z', node: 'n1', flow: 'tab1', action: 'receive', outcome: 'accepted', subject: OTHER });
        await t.store.appendAudit({ at: '2026-05-01T09:00:00.000Z', node: 'o1', flow: 'tab1', action: 'deliver', outcome: 'AA', subject: P, detail: { destination: 'ris.example:2575', governance: gov } });
        // Appended later but happened earlier (a trail step's own time): still ordered by time.
        await t.store.appendAudit({ at: '2026-02-01T08:00:00.000Z', node: 'p1', action: 'pds.retrieve', outcome: 'found', subject: P, detail: { environment: 'int' } });
        await t.store.appendAudit({ at: '2026-04-01T08:00:00.000Z', node: 'nhs-sidebar', action: 'quarantine.reveal', outcome: 'success', subject: P, actor: 'alice' });
        await t.store.appendAudit({ at: '2027-01-01T00:00:00.000Z', node: 'n1', action: 'receive', outcome: 'accepted', subject: P });
        const names: Record<string, { name: string; type: string }> = { n1: { name: 'PAS listener', type: 'nhs-mllp-in' }, tab1: { name: 'ADT feed', type: 'tab' } };
        const r = await disclosureReport(t.store, { nhsNumber: P, from: '2026-01-01', to: '2026-12-31' }, (id) => names[id]);
        assert.equal(r.subject, '900 000 0009');
        assert.equal(r.truncated, false);
        assert.equal(r.total, 4);
        assert.deepEqual(r.rows.map((x) => x.action), ['pds.retrieve', 'receive', 'quarantine.reveal', 'deliver']);
        const recv = r.rows[1]!;
        assert.deepEqual({ ...recv, seq: 0 }, {
          seq: 0, at: '2026-03-02T10:15:00.000Z', flow: 'tab1', flowName: 'ADT feed', node: 'n1', nodeName: 'PAS listener', nodeType: 'nhs-mllp-in',
          action: 'receive', outcome: 'accepted', actor: null, source: '10.0.0.5:40122', destination: null,
          agreement: 'DSA-2026-014', purpose: 'Direct care (treatment)', lawfulBasis: '6(1)(e)', condition: '9(2)(h)', correlationId: 'MSG1', messageId: 'm1',
        });
        assert.equal(r.rows[0]!.destination, 'PDS int');
        assert.equal(r.rows[2]!.destination, 'editor user alice');
        assert.equal(r.rows[3]!.destination, 'ris.example:2575');
        assert.equal(r.rows[3]!.nodeName, null, 'a node not deployed now has no name');
        // The governance references are inside the hash chain: the chain still verifies.
        assert.equal((await verifyStore(t.store)).ok, true);
        // CSV rows are the JSON rows.
        const csv = parseCsv(disclosureCsv(r.rows));
        assert.equal(csv.length, r.rows.length + 1);
        r.rows.forEach((row, i) => assert.deepEqual(csv[i + 1], DISCLOSURE_COLUMNS.map((c) => row[c] ?? '')));
      } finally {
        await t.close();
      }
    });

    it('caps the rows at MAX_ROWS and says truncated', { timeout: 120_000 }, async () => {
      const t = await openBackend(b.name);
      try {
        const writes: Promise<unknown>[] = [];
        for (let i = 0; i <= MAX_ROWS; i++) writes.push(t.store.appendAudit({ at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), node: 'n1', action: 'receive', outcome: 'accepted', subject: P }));
        await Promise.all(writes);
        const r = await disclosureReport(t.store, { nhsNumber: P, from: '2026-01-01', to: '2026-01-02' }, () => undefined);
        assert.equal(r.truncated, true);
        assert.equal(r.total, MAX_ROWS);
        assert.equal(r.rows.at(-1)!.at, new Date(Date.UTC(2026, 0, 1) + (MAX_ROWS - 1) * 1000).toISOString());
      } finally {
        await t.close();
      }
    });
  });
}
