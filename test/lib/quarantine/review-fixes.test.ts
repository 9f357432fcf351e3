/**
 * Review fixes: shared references survive serialisation, Buffer payloads round-trip as bytes,
 * masking past a BOM and of more FHIR/HL7 places, forced release is a real compare-and-set.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { detectContentType, park, payloadText, release, releasedMessage, saveEdit, serialiseMessage } from '../../../lib/quarantine/service';
import { MASKED_NARRATIVE, maskFhir, maskHl7, maskPayload } from '../../../lib/quarantine/mask';
import { backends, openBackend } from '../audit/stores';
import { ADT, PATIENT } from './fixtures';

describe('serialiseMessage keeps shared references, drops only cycles', () => {
  it('an object referenced twice is stored in both places', () => {
    const coding = { system: 'http://snomed.info/sct', code: '123', display: 'x' };
    const payload = { resourceType: 'Observation', code: { coding: [coding] }, category: [{ coding: [coding] }] };
    const msg = { payload, original: payload };
    const back = JSON.parse(serialiseMessage(msg)) as typeof msg;
    assert.deepEqual(back.original, payload);
    assert.deepEqual(back.payload.category[0]!.coding[0], coding);
  });
  it('a true cycle is dropped but its siblings are kept', () => {
    const a: Record<string, unknown> = { name: 'a' };
    const b: Record<string, unknown> = { name: 'b', parent: a };
    a.child = b;
    const msg = { payload: a, also: b };
    assert.deepEqual(JSON.parse(serialiseMessage(msg)), {
      payload: { name: 'a', child: { name: 'b' } },
      also: { name: 'b', parent: { name: 'a' } },
    });
  });
  it('req/res are dropped only at the top level of msg', () => {
    const msg = { payload: { req: 'kept', res: 1 }, req: { socket: {} }, res: {} };
    assert.deepEqual(JSON.parse(serialiseMessage(msg)), { payload: { req: 'kept', res: 1 } });
  });
  it('a BigInt still rejects (cannot be stored)', () => {
    assert.throws(() => serialiseMessage({ payload: 1n }));
  });
});

describe('Buffer payloads', () => {
  it('are sniffed by their decoded text', () => {
    assert.equal(detectContentType(Buffer.from(ADT)), 'hl7v2');
    assert.equal(detectContentType(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`\r\n${ADT}`)])), 'hl7v2');
    assert.equal(detectContentType(Buffer.from('hello')), 'text');
    assert.equal(detectContentType(Buffer.from('{"a":1}')), 'text');
    assert.equal(detectContentType(Buffer.alloc(0)), 'text');
    assert.equal(detectContentType({ type: 'Buffer', data: [...Buffer.from(ADT)] }), 'hl7v2');
  });
  it('editable text is decoded by MSH-18 (8859/1)', () => {
    const hl7 = ADT.replace('|P|2.4', '|P|2.4|||||8859/1').replace('SMITH', 'MÜLLER');
    const original = serialiseMessage({ payload: iconv.encode(hl7, 'latin1') });
    const t = payloadText(original);
    assert.equal(t.text, hl7);
    assert.equal(t.isObject, false);
  });
  it('a string whose text starts with a BOM and whitespace is HL7', () => {
    assert.equal(detectContentType(`\uFEFF \r\n${ADT}`), 'hl7v2');
  });

  for (const b of backends) {
    describe(`on ${b.name}`, { skip: b.skip }, () => {
      it('released unedited as the same bytes, edited as bytes in the same charset', async () => {
        const t = await openBackend(b.name);
        try {
          const hl7 = ADT.replace('|P|2.4', '|P|2.4|||||8859/1').replace('SMITH', 'MÜLLER');
          const bytes = iconv.encode(hl7, 'latin1');
          const base = { reasonCode: 'X', reason: 'x', owner: 'o', dueAt: null, node: 'q1', flow: null, correlationId: null, subject: null, messageId: null };
          const one = await park(t.store, { ...base, msg: { payload: bytes }, contentType: detectContentType(bytes) });
          assert.equal(one.contentType, 'hl7v2');
          const r1 = await release(t.store, one.id, { actor: 'alice' });
          assert.ok(Buffer.isBuffer(r1.msg.payload));
          assert.ok(bytes.equals(r1.msg.payload));

          const two = await park(t.store, { ...base, msg: { payload: bytes }, contentType: 'hl7v2' });
          await saveEdit(t.store, two.id, hl7.replace('WARD1', 'WARD2'), 'bob');
          const r2 = await release(t.store, two.id, { actor: 'bob' });
          assert.ok(Buffer.isBuffer(r2.msg.payload));
          assert.equal(iconv.decode(r2.msg.payload, 'latin1'), hl7.replace('WARD1', 'WARD2'));
          assert.ok((r2.msg.payload).includes(0xdc), 'Ü encoded as one 8859-1 byte');
          // releasedMessage of the stored item is the same bytes again (idempotent).
          assert.ok((releasedMessage(r2.item).payload as Buffer).equals(r2.msg.payload));
        } finally {
          await t.close();
        }
      });

      it('two concurrent forced releases: exactly one wins', async () => {
        const t = await openBackend(b.name);
        try {
          const item = await park(t.store, { msg: { payload: ADT }, reasonCode: 'X', reason: 'x', owner: 'o', dueAt: null, node: 'q1', flow: null, correlationId: null, subject: null, messageId: null, contentType: 'hl7v2' });
          await release(t.store, item.id, { actor: 'alice' });
          // Both editors must read the item before either writes (else the second is a later,
          // legitimate forced release): a barrier on the read makes the race deterministic.
          let reads = 0;
          let open!: () => void;
          const bothRead = new Promise<void>((r) => { open = r; });
          const racing = Object.assign(Object.create(t.store) as typeof t.store, {
            getQuarantine: async (id: string) => {
              const got = await t.store.getQuarantine(id);
              if (++reads === 2) open();
              await bothRead;
              return got;
            },
          });
          const results = await Promise.allSettled([
            release(racing, item.id, { actor: 'bob', force: true }),
            release(racing, item.id, { actor: 'carol', force: true }),
          ]);
          assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
          const lost = results.find((r) => r.status === 'rejected');
          assert.equal((lost?.reason as { code?: string }).code, 'QUARANTINE_CONFLICT');
          assert.equal((await t.store.getQuarantine(item.id))!.releaseCount, 2);
          assert.equal((await t.store.queryAudit({ action: 'quarantine.release' })).length, 2);
        } finally {
          await t.close();
        }
      });
    });
  }
});

describe('masking', () => {
  it('HL7 with a BOM or leading whitespace masks names, dates and addresses, not only NHS numbers', () => {
    for (const prefix of ['\uFEFF', '  \r\n', '\uFEFF\n']) {
      const m = maskHl7(prefix + ADT);
      assert.ok(!m.includes('SMITH'), JSON.stringify(prefix));
      assert.ok(!m.includes('19800101'));
      assert.ok(!m.includes('HIGH STREET'));
      assert.ok(!m.includes('9000000009'));
      assert.ok(m.includes('S. J. A.'));
      assert.equal(maskPayload(prefix + ADT, detectContentType(prefix + ADT)), m);
    }
  });
  it('HL7 guarantor and insured names and addresses (GT1-3/5, IN1-16/19)', () => {
    const msg = [
      ADT,
      'GT1|1||BROWN^PAT||3 LANE END^^YORK^^YO1 1AA',
      'IN1|1|PLAN|INS1|||||||||||||GREEN^SAM|SEL|19700101|4 HILL TOP^^HULL^^HU1 1AA',
    ].join('\r');
    const m = maskHl7(msg);
    for (const s of ['BROWN', 'LANE END', 'GREEN', 'HILL TOP']) assert.ok(!m.includes(s), s);
    assert.ok(m.includes('GT1|1||B. P.||***'));
    assert.equal(m.split('\r')[5]!.split('|')[16], 'G. S.');
    assert.equal(m.split('\r')[5]!.split('|')[19], '***');
    assert.equal(m.split('\r')[5]!.split('|').length, msg.split('\r')[5]!.split('|').length, 'field count kept');
  });
  it('FHIR: single-object contact name, narrative div, reference display; coding display kept', () => {
    const p = {
      ...PATIENT,
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Alex Jones 9990000018</div>' },
      contact: [{ name: { family: 'Jones', given: ['Robin'] }, telecom: [{ value: '0113' }] }],
      generalPractitioner: [{ reference: 'Practitioner/1', display: 'Dr Kim Lee' }],
      managingOrganization: { identifier: { value: 'X1' }, display: 'Leeds Practice' },
      maritalStatus: { coding: [{ system: 's', code: 'M', display: 'Married' }] },
    };
    const m = maskFhir(p) as any;
    assert.deepEqual(m.contact[0].name, { text: 'R. J.' });
    assert.equal(m.contact[0].telecom, '***');
    assert.equal(m.text.div, MASKED_NARRATIVE);
    assert.equal(m.text.status, 'generated');
    assert.equal(m.generalPractitioner[0].display, 'D. K. L.');
    assert.equal(m.generalPractitioner[0].reference, 'Practitioner/1');
    assert.equal(m.managingOrganization.display, 'L. P.');
    assert.equal(m.maritalStatus.coding[0].display, 'Married');
    const s = JSON.stringify(m);
    for (const x of ['Robin', 'Jones', 'Kim', '9990000018']) assert.ok(!s.includes(x), x);
  });
  it('hostile shapes do not throw', () => {
    assert.doesNotThrow(() => maskFhir({ name: null, text: { div: 5 }, contact: [{ name: 'plain' }], display: 3, reference: {} }));
    assert.deepEqual((maskFhir({ name: { text: 'Ann Bee' } }) as any).name, { text: 'A. B.' });
    assert.equal(maskHl7('\uFEFF'), '\uFEFF');
  });
});
