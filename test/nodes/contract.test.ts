/**
 * The message contract check itself (test/helpers/contract.ts): every node test runs it on every
 * output through the harness, so here it is shown to catch each kind of violation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { contractHooks, contractViolations, invalidOutput } from '../helpers/contract';

const hl7 = { id: 'n1', type: 'nhs-hl7' };
const error = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'structure', diagnostics: 'x' }] };
const allOk = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: 'All OK' }] };

describe('message contract check (DESIGN.md §2)', () => {
  it('finds the invalid output of the judging nodes by its label', () => {
    assert.equal(invalidOutput('nhs-hl7'), 1);
    assert.equal(invalidOutput('nhs-fhir-validate'), 1);
    assert.equal(invalidOutput('nhs-quarantine'), undefined);
  });

  it('passes a message that keeps the contract', () => {
    assert.deepEqual(contractViolations(hl7, 1, { outcome: error, audit: [{ node: 'n1', action: 'parse' }] }), []);
    assert.deepEqual(contractViolations(hl7, 0, { outcome: allOk }), []);
    assert.deepEqual(contractViolations({ id: 'r1', type: 'nhs-x' }, 0, { ack: { code: 'AA', controlId: 'C1', text: '', raw: 'MSH|…' } }), []);
  });

  it('catches each violation', () => {
    assert.match(contractViolations(hl7, 1, {}).join(), /invalid.*msg.outcome/);
    assert.match(contractViolations(hl7, 1, { outcome: allOk }).join(), /invalid.*msg.outcome/);
    assert.match(contractViolations(hl7, 0, { fhir: { profile: null, outcome: error } }).join(), /msg.fhir.outcome/);
    assert.match(contractViolations({ id: 'r1', type: 'nhs-x' }, 0, { ack: { code: 'AA', sent: true } }).join(), /msg.ack has keys \[code, sent\]/);
    assert.match(contractViolations(hl7, 0, { audit: [{ node: 'nhs-hl7', action: 'parse' }] }).join(), /names node "nhs-hl7", not its id/);
  });

  it('leaves audit steps the node received alone, and checks what it sends through the hook', () => {
    const upstream = { node: 'nhs-hl7', action: 'parse' };
    assert.deepEqual(contractViolations(hl7, 0, { audit: [upstream] }, new Set([JSON.stringify(upstream)])), []);
    const hooks = contractHooks();
    const sent: unknown[] = [];
    const node = { id: 'n1', type: 'nhs-hl7', send: (m: unknown) => { sent.push(m); }, receive: (_m: unknown) => undefined };
    hooks.watch([node]);
    node.receive({ audit: [upstream] });
    node.send([null, { outcome: error, audit: [upstream, { node: 'n1', action: 'parse' }] }]);
    hooks.assertClean();
    node.send([{ outcome: allOk, audit: [{ node: 'nhs-hl7', action: 'again' }] }, null]);
    assert.throws(() => hooks.assertClean(), /names node "nhs-hl7"/);
    assert.equal(sent.length, 2, 'the hook passes every message on');
  });
});
