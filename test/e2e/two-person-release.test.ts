/**
 * The two-person release rule (HAZ-014 C7) in a real Node-RED with `adminAuth` and two users who
 * both hold `nhs.quarantine.write`: the identity is the one Node-RED's auth puts on the request
 * (`req.user.username`, from the bearer token), never anything the caller sends.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { repoRoot, startNodeRed, type NodeRedProcess } from '../helpers/node-red-process';
import { ADT } from '../lib/quarantine/fixtures';

const built = existsSync(join(repoRoot, 'dist', 'plugins'));
const PASSWORD = 'two-person-test-password';
// bcryptjs ships with Node-RED (its adminAuth uses it); resolved from node-red so it is the same one.
const bcrypt = require(require.resolve('bcryptjs', { paths: [require.resolve('node-red')] })) as { hashSync(p: string, rounds: number): string };
const WRITE = ['read', 'nhs.quarantine.read', 'nhs.quarantine.write', 'nhs.quarantine.reveal', 'nhs.audit.read'];

describe('two-person release (real Node-RED with adminAuth, two users with nhs.quarantine.write)', { skip: built ? false : 'dist/ not built (npm test builds it first)', timeout: 120_000 }, () => {
  let nr: NodeRedProcess;
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nhs-2p-'));
    const hash = bcrypt.hashSync(PASSWORD, 4);
    nr = await startNodeRed({
      settings: { adminAuth: { type: 'credentials', users: [{ username: 'alice', password: hash, permissions: WRITE }, { username: 'bob', password: hash, permissions: WRITE }] } },
      flows: [
        { id: 'f1', type: 'tab', label: 'two-person' },
        { id: 'st', type: 'nhs-store', backend: 'sqlite', file: join(dir, 'two.sqlite'), durability: 'normal' },
        { id: 'inj', type: 'inject', z: 'f1', once: true, onceDelay: 0.1, repeat: '', topic: '', payload: ADT, payloadType: 'str', props: [{ p: 'payload' }], wires: [['q1']] },
        { id: 'q1', type: 'nhs-quarantine', z: 'f1', store: 'st', reasonCode: 'HL7_STRUCTURE', reasonCodeType: 'str', owner: 'PAS team', ownerType: 'str', twoPersonRelease: true, wires: [[], []] },
      ],
    });
  });
  after(async () => {
    await nr?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tokenFor = async (username: string): Promise<string> => {
    const r = await fetch(`${nr.url}/auth/token`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: '', username, password: PASSWORD }),
    });
    assert.equal(r.status, 200, `token for ${username}`);
    return ((await r.json()) as { access_token: string }).access_token;
  };
  const as = (token: string) => (path: string, body?: unknown) => nr.api(path, { method: body === undefined ? 'GET' : 'POST', ...(body !== undefined ? { body } : {}), headers: { authorization: `Bearer ${token}` } });

  it('alice edits and may not release her own edit (403, said before she tries, audited, nothing changes); bob releases it; a username in the body changes nothing', async () => {
    const alice = as(await tokenFor('alice'));
    const bob = as(await tokenFor('bob'));
    let items: { id: string; correlationId: string }[] = [];
    for (let i = 0; i < 100 && items.length === 0; i++) {
      items = (await alice('/nhs-interop/quarantine?store=st&state=open')).json().items ?? [];
      if (!items.length) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(items.length, 1, nr.output());
    const id = items[0]!.id;
    const edited = ADT.replace('PV1|1|I|WARD1', 'PV1|1|I|WARD2');

    const saved = await alice(`/nhs-interop/quarantine/${id}/edit`, { store: 'st', payload: edited });
    assert.equal(saved.status, 200, saved.text);
    assert.equal(saved.json().item.editedBy, 'alice', 'the editor is the token\'s user');
    const seen = (await alice(`/nhs-interop/quarantine/${id}?store=st`)).json();
    assert.deepEqual([seen.editedBy, seen.release.twoPerson, seen.release.allowed], ['alice', true, false]);
    assert.match(seen.release.reason, /this edit was made by you; a second person with nhs\.quarantine\.write must release it/);
    const refused = await alice(`/nhs-interop/quarantine/${id}/release`, { store: 'st', editToken: seen.editToken, user: { username: 'bob' }, actor: 'bob', username: 'bob' });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json().code, 'QUARANTINE_SECOND_PERSON_REQUIRED');
    const still = (await bob(`/nhs-interop/quarantine/${id}?store=st`)).json();
    assert.deepEqual([still.state, still.editedBy, still.release.allowed], ['open', 'alice', true], 'bob is told he may release');
    const ok = await bob(`/nhs-interop/quarantine/${id}/release`, { store: 'st', editToken: still.editToken });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual([ok.json().item.state, ok.json().item.resolvedBy, ok.json().item.editedBy], ['released', 'bob', 'alice']);
    const trail = (await bob(`/nhs-interop/audit/trail?store=st&correlationId=${encodeURIComponent(items[0]!.correlationId)}`)).json().records
      .filter((r: any) => r.action === 'quarantine.edit' || r.action === 'quarantine.release').map((r: any) => [r.action, r.outcome, r.actor]);
    assert.deepEqual(trail, [['quarantine.edit', 'edited', 'alice'], ['quarantine.release', 'refused', 'alice'], ['quarantine.release', 'released', 'bob']]);
  });
});
