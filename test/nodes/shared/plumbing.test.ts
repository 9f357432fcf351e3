import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { appendAudit, onClose, onInput } from '../../../nodes/shared/input';
import { StatusReporter } from '../../../nodes/shared/status';
import { NhsError } from '../../../lib/errors';
import { hasErrors, issue, operationOutcome } from '../../../lib/outcome';

/** A minimal stand-in for a Node-RED node: only the event surface the plumbing touches. */
function fakeNode() {
  const ee = new EventEmitter();
  const statuses: unknown[] = [];
  const warnings: string[] = [];
  return {
    ee, statuses, warnings,
    node: {
      on: (ev: string, cb: (...a: any[]) => void) => ee.on(ev, cb),
      status: (s: unknown) => statuses.push(s),
      warn: (m: string) => warnings.push(m),
    } as any,
  };
}

function runInput(n: ReturnType<typeof fakeNode>, msg: any) {
  return new Promise<{ sent: any[]; err: any; doneCalls: number }>((resolve) => {
    const sent: any[] = [];
    let doneCalls = 0;
    n.ee.emit('input', msg, (m: any) => sent.push(m), (err?: Error) => {
      doneCalls++;
      setTimeout(() => resolve({ sent, err, doneCalls }), 20);
    });
  });
}

describe('onInput', () => {
  it('sends the returned message and calls done() once', async () => {
    const n = fakeNode();
    onInput(n.node, async (msg) => ({ ...msg, payload: 2 }));
    const r = await runInput(n, { payload: 1 });
    assert.deepEqual(r.sent, [{ payload: 2 }]);
    assert.equal(r.err, undefined);
    assert.equal(r.doneCalls, 1);
  });

  it('a rejection becomes done(err) with an own code; nothing is sent', async () => {
    const n = fakeNode();
    onInput(n.node, async () => { throw new NhsError('X_FAIL', 'boom'); });
    const r = await runInput(n, {});
    assert.equal(r.sent.length, 0);
    assert.equal(r.err.code, 'X_FAIL');
    assert.equal(r.doneCalls, 1);
  });

  it('a synchronous throw or a plain Error gets the fallback code', async () => {
    const n = fakeNode();
    onInput(n.node, () => { throw new Error('sync'); }, 'MY_NODE_ERROR');
    const r = await runInput(n, {});
    assert.equal(r.err.code, 'MY_NODE_ERROR');
    assert.ok(Object.prototype.hasOwnProperty.call(r.err, 'code'), 'code is an own property');
  });

  it('returning null sends nothing but still completes', async () => {
    const n = fakeNode();
    onInput(n.node, async () => null);
    const r = await runInput(n, {});
    assert.equal(r.sent.length, 0);
    assert.equal(r.doneCalls, 1);
  });
});

describe('onClose', () => {
  it('always calls done, even when cleanup fails, and warns without throwing', async () => {
    const n = fakeNode();
    onClose(n.node, async () => { throw new Error('cleanup failed'); });
    await new Promise<void>((resolve) => n.ee.emit('close', false, resolve));
    assert.match(n.warnings[0]!, /cleanup failed/);
  });
});

describe('appendAudit', () => {
  it('appends to msg.audit, never rewrites earlier steps', () => {
    const msg: any = { audit: [{ at: 'x', node: 'a', action: 'receive', outcome: 'ok' }] };
    appendAudit(msg, { node: 'b', action: 'validate', outcome: 'invalid', ref: 'MSG0001' }, () => new Date('2026-01-01T00:00:00Z'));
    assert.equal(msg.audit.length, 2);
    assert.deepEqual(msg.audit[0], { at: 'x', node: 'a', action: 'receive', outcome: 'ok' });
    assert.deepEqual(msg.audit[1], { at: '2026-01-01T00:00:00.000Z', node: 'b', action: 'validate', outcome: 'invalid', ref: 'MSG0001' });
  });
});

describe('StatusReporter', () => {
  it('coalesces a burst into the first and the last status', async () => {
    const n = fakeNode();
    const s = new StatusReporter(n.node, 50);
    for (let i = 0; i < 1000; i++) s.ok(`${i} msgs`);
    assert.equal(n.statuses.length, 1);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(n.statuses.length, 2);
    assert.deepEqual(n.statuses[1], { fill: 'green', shape: 'dot', text: '999 msgs' });
    s.clear();
    assert.deepEqual(n.statuses.at(-1), {});
  });
});

describe('StatusReporter, lazy form', () => {
  it('builds only the statuses it shows: a coalesced burst calls the text function once more, not per message', async () => {
    const n = fakeNode();
    const s = new StatusReporter(n.node, 50);
    let built = 0;
    let count = 0;
    const text = (): string => { built++; return `${count} msgs`; };
    for (let i = 0; i < 1000; i++) { count++; s.ok(text); }
    assert.equal(built, 1, 'the first status is shown at once');
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(built, 2, 'the coalesced one is built when shown');
    assert.deepEqual(n.statuses.map((x: any) => x.text), ['1 msgs', '1000 msgs']);
    s.clear();
  });
});

describe('OperationOutcome builder', () => {
  it('a clean result gets one information issue; errors are detected', () => {
    assert.deepEqual(operationOutcome([]).issue.map((i) => i.severity), ['information']);
    const oo = operationOutcome([issue('warning', 'value', 'w'), issue('error', 'required', 'missing', 'Patient.name', 'Validation_VAL_Profile_Minimum')]);
    assert.equal(hasErrors(oo), true);
    assert.equal(hasErrors([issue('warning', 'value', 'w')]), false);
    assert.deepEqual(oo.issue[1]!.expression, ['Patient.name']);
    assert.equal(oo.issue[1]!.extension?.[0]?.valueString, 'Validation_VAL_Profile_Minimum');
  });
});
