/** examples/PDS/01 - Verify NHS number.json loads and works offline against the in-process stand-in. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nodeRedHarness } from '../helpers/node-red';

const coreDir = join(dirname(require.resolve('@node-red/nodes/package.json', { paths: [dirname(require.resolve('node-red'))] })), 'core');
const core = (p: string): unknown => require(join(coreDir, p));
const file = join(__dirname, '..', '..', 'examples', 'PDS', '01 - Verify NHS number.json');

describe('PDS example flows', () => {
  const h = nodeRedHarness();

  it('01 - Verify NHS number: matched, differs, restricted, superseded, invalid — offline', async () => {
    const flow = JSON.parse(readFileSync(file, 'utf8')) as any[];
    await h.load([core('common/20-inject.js'), core('common/21-debug.js'), core('common/90-comment.js'), require('../../nodes/hl7'), require('../../nodes/pds-config'), require('../../nodes/pds-lookup'), require('../../nodes/governance')], flow);
    const run = async (inject: string, out: string): Promise<any> => {
      const got = h.next(out, 15_000);
      h.node(inject).receive({});
      return got;
    };
    const ok = await run('pds01inj1', 'pds01ok');
    assert.equal(ok.pds.nhsNumber, '9990000018');
    assert.equal(ok.pds.environment, 'stand-in');
    assert.deepEqual(ok.pds.differences, []);
    const differs = await run('pds01inj2', 'pds01no');
    assert.deepEqual(differs.pds.differences, ['birthDate']);
    const restricted = await run('pds01inj3', 'pds01ok');
    assert.equal(restricted.pds.restricted, true);
    assert.equal(restricted.pds.patient.address, undefined);
    const superseded = await run('pds01inj4', 'pds01ok');
    assert.equal(superseded.pds.supersededFrom, '9990000042');
    assert.equal(superseded.pds.nhsNumber, '9990000018');
    const invalid = await run('pds01inj5', 'pds01no');
    assert.equal(invalid.outcome.issue[0].extension[0].valueString, 'PDS_INVALID_NHS_NUMBER');
  });
});
