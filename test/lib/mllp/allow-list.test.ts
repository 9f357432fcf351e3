import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllowList } from '../../../lib/mllp/allow-list';
import { hasCode } from '../../../lib/errors';

describe('parseAllowList (RFC 4632 / RFC 4291 CIDR)', () => {
  const cases: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.20.30.40', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['192.168.1.7', '192.168.1.7', true],
    ['192.168.1.7', '192.168.1.8', false],
    ['::ffff:172.16.0.0/108', '172.16.5.5', true],
    ['2001:db8::/32', '2001:db8:1::5', true],
    ['2001:db8::/32', '2001:db9::5', false],
    ['::1', '::1', true],
    ['::1', '127.0.0.1', false],
    ['fe80::/10', 'fe80::1%eth0', true],
  ];
  for (const [rule, addr, ok] of cases) {
    it(`${rule} ${ok ? 'allows' : 'refuses'} ${addr}`, () => assert.equal(parseAllowList(rule).allows(addr), ok));
  }
  it('an empty list allows everyone; a non-empty list refuses unknown addresses', () => {
    assert.equal(parseAllowList('').allows('203.0.113.9'), true);
    assert.equal(parseAllowList(['127.0.0.1']).allows(undefined), false);
    assert.equal(parseAllowList(['127.0.0.1']).allows('not-an-ip'), false);
  });
  for (const bad of ['10.0.0.0/33', 'example.org', '10.0.0.0/8/1', '::/129', '1.2.3.4/x']) {
    it(`rejects the rule ${bad}`, () => assert.throws(() => parseAllowList(bad), (e: unknown) => hasCode(e, 'MLLP_BAD_ALLOW_LIST')));
  }
});
