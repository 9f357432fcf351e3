/**
 * Operations endpoints on Node-RED's admin HTTP server, off by default:
 *
 *   GET /nhs-interop/metrics  Prometheus text format (permission `nhs.metrics.read`)
 *   GET /nhs-interop/health   200 / 503 with a JSON body (permission `nhs.health.read`)
 *   GET /nhs-interop/overview open alerts and a feed summary for the sidebar (`nhs.overview.read`, always on)
 *
 * Turned on in settings.js: `nhsInterop: { operations: { metrics: true, health: true, token,
 * backlogThreshold } }` (backlogThreshold: outbox items per endpoint above which health is 503).
 * A request is let in with `Authorization: Bearer <token>` (a Prometheus scrape job or a load
 * balancer's check, no Node-RED user) or as a Node-RED admin user holding the permission. When a
 * token is set, a caller that is neither gets 401 even with adminAuth off. A route that is off
 * answers 404 — after the permission check, so the lock-down test still sees its guard.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { health } from '../lib/ops/snapshot';
import { metrics, overview, setBacklogThreshold, snapshot, useRuntime } from '../nodes/shared/ops';
import type { RED } from '../nodes/shared/types';

interface Req { headers: Record<string, string | string[] | undefined>; user?: unknown }
interface Res {
  status(code: number): Res;
  json(body: unknown): void;
  set(name: string, value: string): Res;
  send(body: string): void;
}

interface OpsSettings { metrics: boolean; health: boolean; token?: string; backlogThreshold?: number }

/** `settings.nhsInterop.operations` (read per request: a settings change needs a restart anyway). */
export function opsSettings(RED: RED): OpsSettings {
  const o = ((RED.settings.nhsInterop as { operations?: Record<string, unknown> } | undefined)?.operations ?? {});
  const token = typeof o.token === 'string' && o.token.length > 0 ? o.token : undefined;
  const b = Number(o.backlogThreshold);
  return { metrics: o.metrics === true, health: o.health === true, ...(token ? { token } : {}), ...(b > 0 ? { backlogThreshold: b } : {}) };
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function bearerMatches(req: Req, token: string): boolean {
  const h = req.headers.authorization;
  const v = Array.isArray(h) ? h[0] : h;
  const m = typeof v === 'string' ? /^Bearer\s+(.+)$/i.exec(v) : null;
  return m ? timingSafeEqual(digest(m[1] as string), digest(token)) : false;
}

const registered = new WeakSet<object>();

/** Register the operations routes (called once, from the plugin). */
export function registerOpsApi(RED: RED): void {
  const admin = RED.httpAdmin as unknown as object;
  if (!admin || registered.has(admin)) return;
  registered.add(admin);
  useRuntime(RED);
  const b = opsSettings(RED).backlogThreshold;
  if (b) setBacklogThreshold(b);
  const perm = RED.auth.needsPermission;
  const guard = (permission: string) => (req: Req, res: Res, next: () => void): void => {
    const { token } = opsSettings(RED);
    if (token && bearerMatches(req, token)) { next(); return; }
    perm(permission)(req, res, () => {
      // adminAuth off lets everyone through needsPermission; a configured token still applies.
      if (token && !req.user) { res.status(401).json({ code: 'UNAUTHORIZED', message: 'bearer token required' }); return; }
      next();
    });
  };
  const off = (res: Res, what: string): void => res.status(404).json({ code: 'NOT_ENABLED', message: `${what} is off (settings.js nhsInterop.operations.${what})` });

  RED.httpAdmin.get('/nhs-interop/metrics', guard('nhs.metrics.read'), (_req: Req, res: Res) => {
    if (!opsSettings(RED).metrics) { off(res, 'metrics'); return; }
    snapshot(RED).then((s) => metrics.render(s)).then(
      (text) => { res.set('Content-Type', metrics.contentType).send(text); },
      (e: unknown) => res.status(500).json({ code: 'METRICS_FAILED', message: e instanceof Error ? e.message : String(e) }),
    );
  });

  RED.httpAdmin.get('/nhs-interop/health', guard('nhs.health.read'), (_req: Req, res: Res) => {
    if (!opsSettings(RED).health) { off(res, 'health'); return; }
    snapshot(RED).then((s) => {
      const h = health(s);
      res.status(h.status === 'ok' ? 200 : 503).json(h);
    }, (e: unknown) => res.status(503).json({ status: 'unhealthy', problems: [e instanceof Error ? e.message : String(e)] }));
  });

  // The sidebar's top panel: open alerts and a feed summary (not behind the operations switch:
  // it is the editor's own view, for users holding the permission).
  RED.httpAdmin.get('/nhs-interop/overview', perm('nhs.overview.read'), (_req: Req, res: Res) => {
    overview(RED).then((o) => res.json(o), (e: unknown) => res.status(503).json({ code: 'STORE_UNAVAILABLE', message: e instanceof Error ? e.message : String(e) }));
  });
}
