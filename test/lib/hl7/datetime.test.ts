import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { hl7DateTimeToIso } from '../../../lib/hl7';
import { DTM_TABLE, checkDtmTable } from './fixtures/dtm-table';

describe('hl7DateTimeToIso (HL7 v2.5.1 2A.22 DTM)', () => {
  for (const [input, want, zone] of DTM_TABLE) {
    it(`${JSON.stringify(input)}${zone ? ` in ${zone}` : ''} → ${String(want)}`, () => {
      assert.equal(hl7DateTimeToIso(input, zone ? { assumeZone: zone } : undefined), want);
    });
  }
  it('non-string input is undefined, not a throw', () => {
    assert.equal(hl7DateTimeToIso(20240101 as unknown as string), undefined);
  });
});

describe('DTM results do not depend on the host time zone', () => {
  const script = join(__dirname, 'fixtures', 'dtm-table.ts');
  for (const tz of ['UTC', 'Europe/London', 'America/New_York', 'Asia/Kolkata']) {
    it(`whole table under TZ=${tz}`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, TZ: tz }, encoding: 'utf8', timeout: 30000 });
      const out = JSON.parse(r.stdout || '{}') as { tz?: string; rows?: number; bad?: string[] };
      assert.equal(out.tz, tz, `child did not run: ${r.stderr}`);
      assert.deepEqual(out.bad, []);
      assert.ok((out.rows ?? 0) > 40);
      assert.equal(r.status, 0);
    });
  }
  it('in-process table holds too', () => assert.deepEqual(checkDtmTable(), []));
});
