/**
 * Admin HTTP API for the at-least-once hand-off (DESIGN.md §4): an operator sees each instance's
 * watermark on a listener and hands the unreplayed messages of an instance that will never come
 * back to this one (`store.adoptHandoff`). Behind `RED.auth.needsPermission`; no message content.
 *
 *   GET  /nhs-interop/mllp-in/:id/handoff            { owner, handoffs: [{ owner, mark, updatedAt, pending }] }
 *   POST /nhs-interop/mllp-in/:id/adopt { from }      { adopted }  (replayed on the listener's next start)
 */
import { listenerNode } from './mllp';
import type { RED } from './types';

interface Req { params: Record<string, string>; body?: unknown }
interface Res { status(code: number): Res; json(body: unknown): void }

const registered = new WeakSet<object>();

function fail(res: Res, e: unknown): void {
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : 'INTERNAL';
  const status = code.endsWith('INVALID') ? 400 : code.endsWith('NOT_FOUND') ? 404 : code.startsWith('STORE_') ? 503 : 500;
  res.status(status).json({ code, message: e instanceof Error ? e.message : String(e) });
}

export function registerHandoffAdmin(RED: RED): void {
  if (registered.has(RED.httpAdmin)) return;
  registered.add(RED.httpAdmin);
  const find = (req: Req, res: Res): ReturnType<typeof listenerNode> => {
    const n = listenerNode(RED, String(req.params.id));
    if (!n?.mllpHandoffStore()) {
      res.status(404).json({ code: 'MLLP_LISTENER_NOT_FOUND', message: 'no deployed nhs-mllp-in with a store has this id' });
      return undefined;
    }
    return n;
  };
  RED.httpAdmin.get('/nhs-interop/mllp-in/:id/handoff', RED.auth.needsPermission('nhs-mllp-in.read'), (req: Req, res: Res) => {
    const n = find(req, res);
    if (!n) return;
    void (async () => {
      const store = await n.mllpHandoffStore()!;
      res.json({ owner: n.mllpOwner, handoffs: await store.listHandoffs(n.id) });
    })().catch((e: unknown) => fail(res, e));
  });
  RED.httpAdmin.post('/nhs-interop/mllp-in/:id/adopt', RED.auth.needsPermission('nhs-mllp-in.write'), (req: Req, res: Res) => {
    const n = find(req, res);
    if (!n) return;
    const from = (req.body as { from?: unknown } | undefined)?.from;
    if (typeof from !== 'string' || !from || from === n.mllpOwner) {
      res.status(400).json({ code: 'MLLP_ADOPT_INVALID', message: 'body { from } must name another instance\'s owner (see GET …/handoff)' });
      return;
    }
    void (async () => {
      const store = await n.mllpHandoffStore()!;
      res.json({ adopted: await store.adoptHandoff(n.id, from, n.mllpOwner) });
    })().catch((e: unknown) => fail(res, e));
  });
}
