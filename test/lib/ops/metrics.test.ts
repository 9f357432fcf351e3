import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NhsMetrics, safeLabel } from '../../../lib/ops/metrics';
import { health, type OpsSnapshot } from '../../../lib/ops/snapshot';
import { parsePrometheus } from '../../helpers/prometheus';

describe('metrics labels and rendering', () => {
  for (const [v, want] of [
    ['nhs-fhir-validate', 'nhs-fhir-validate'], ['9000000009', 'redacted'], ['900 000 0009', 'redacted'], ['pid:943-476-5919', 'redacted'],
    ['1980-01-01', 'redacted'], ['19800101', 'redacted'], ['LS1 4AP', 'redacted'], ['sw1a1aa', 'redacted'],
    ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient', 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient'], ['AE', 'AE'], [7, '7'], [{}, ''],
  ] as [unknown, string][]) {
    it(`safeLabel(${JSON.stringify(v)}) → ${want}`, () => assert.equal(safeLabel(v), want));
  }

  it('node ids are kept even when they hold ten digits in a row (Node-RED hex ids)', async () => {
    const m = new NhsMetrics();
    m.step('a1234567890bcdef', 'nhs-hl7', 'parse', 'valid');
    const s = parsePrometheus(await m.render({ at: '', stores: [], listeners: [], endpoints: [] }));
    assert.equal(s.find((x) => x.name === 'nhs_node_steps_total')?.labels.node_id, 'a1234567890bcdef');
  });

  it('counters, gauges from a snapshot, valid exposition format; a gauge reset between scrapes', async () => {
    const m = new NhsMetrics();
    m.step('n1', 'nhs-hl7', 'parse', 'valid');
    m.step('n1', 'nhs-hl7', 'parse', 'valid');
    m.step('n1', 'nhs-hl7', 'parse', 'invalid');
    m.validation('v1', 'https://example.org/P', 'invalid');
    m.pdsLookup('p1', 'found', 0.2);
    m.retry('o1', 'ep1');
    m.retry('o1', 'ep1');
    const snap: OpsSnapshot = {
      at: '2026-01-01T00:00:00.000Z', listeners: [{ node: 'in1', listening: true }], endpoints: [],
      stores: [{ name: 'st', backend: 'sqlite', reachable: true, probeMs: 3, quarantine: [{ reason: 'X', owner: 'team', count: 2, oldestSeconds: 60 }], outbox: [{ destination: 'ep1', depth: 4, oldestSeconds: 30, parked: 1 }] }],
    };
    const s = parsePrometheus(await m.render(snap));
    const v = (name: string, l: Record<string, string>): number | undefined => s.find((x) => x.name === name && Object.entries(l).every(([k, y]) => x.labels[k] === y))?.value;
    assert.equal(v('nhs_node_steps_total', { node_id: 'n1', outcome: 'valid' }), 2);
    assert.equal(v('nhs_node_steps_total', { node_id: 'n1', outcome: 'invalid' }), 1);
    assert.equal(v('nhs_validations_total', { profile: 'https://example.org/P' }), 1);
    assert.equal(v('nhs_pds_lookup_seconds_count', { result: 'found' }), 1);
    assert.equal(v('nhs_quarantine_open_items', { reason: 'X', owner: 'team' }), 2);
    assert.equal(v('nhs_outbox_depth', { destination: 'ep1' }), 4);
    assert.equal(v('nhs_outbox_parked', { destination: 'ep1' }), 1);
    assert.equal(v('nhs_listener_up', { node_id: 'in1' }), 1);
    assert.equal(v('nhs_outbox_retries_total', { node_id: 'o1', destination: 'ep1' }), 2);
    const again = parsePrometheus(await m.render({ ...snap, stores: [] }));
    assert.equal(again.find((x) => x.name === 'nhs_quarantine_open_items'), undefined, 'a store gone from the snapshot is gone from the gauges');
  });

  it('health: unhealthy on an unreachable store, a listener down, a stopped sender or a backlog over threshold', () => {
    const base: OpsSnapshot = { at: 'x', stores: [{ name: 'st', backend: 'sqlite', reachable: true, quarantine: [], outbox: [] }], listeners: [{ node: 'in1', listening: true }], endpoints: [{ node: 'ep1', running: true, backlog: 5, threshold: 5 }] };
    assert.equal(health(base).status, 'ok');
    assert.deepEqual(health({ ...base, stores: [{ ...base.stores[0]!, reachable: false }] }).problems, ['store st unreachable']);
    assert.deepEqual(health({ ...base, listeners: [{ node: 'in1', listening: false }] }).problems, ['listener in1 not listening']);
    assert.deepEqual(health({ ...base, endpoints: [{ node: 'ep1', running: true, backlog: 6, threshold: 5 }] }).problems, ['endpoint ep1 backlog 6 over 5']);
    assert.deepEqual(health({ ...base, endpoints: [{ node: 'ep1', running: false, backlog: 0, threshold: 5 }] }).problems, ['endpoint ep1 sender not running']);
  });
});
