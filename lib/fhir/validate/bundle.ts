/**
 * Bundle rules the reference validator applies beyond the bdl-* invariants (FHIR R4 §2.36
 * Bundle; §3.3 Documents; §3.4 Messaging; §3.1.0.3 search results; §2.36.4 "Resolving references
 * in Bundles"): fullUrl required (except transaction/batch), absolute, consistent with the
 * resource id and a canonical `url`; link relations allowed per bundle type and unique; document
 * and message bundles start with a Composition / MessageHeader, their references resolve to an
 * entry (relative against the referring entry's base, absolute, urn:, versioned `/_history/n`;
 * more than one match is an error) and, in documents, every entry is reachable from the
 * Composition; search results have ids, a resource, and the mode's resource type.
 */
import type { Run } from './context';
import { ABSOLUTE_URI, isObj, type Obj } from './json-value';

const SEARCH_LINKS = ['first', 'previous', 'prev', 'next', 'last'];
const RESTFUL = /^(https?:\/\/([A-Za-z0-9\\.:%$-]*\/)*)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;
const LITERAL = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;
/** uri/url elements that are not links to other entries (BundleValidator.findReferences). */
const NOT_LINKS = new Set(['system', 'fullUrl', 'profile', 'endpoint', 'address', 'div']);

interface Entry { i: number; fullUrl?: string; res?: Obj; type?: string; id?: string; version?: string; targets: Set<number> }

export function checkBundle(run: Run, b: Obj, path: string): void {
  const type = typeof b.type === 'string' ? b.type : '';
  const entriesRaw: unknown[] = Array.isArray(b.entry) ? b.entry : [];
  checkLinks(run, b, type, path);
  const entries: Entry[] = entriesRaw.map((e, i) => {
    const out: Entry = { i, targets: new Set() };
    if (!isObj(e)) return out;
    if (typeof e.fullUrl === 'string') out.fullUrl = e.fullUrl;
    if (isObj(e.resource)) {
      out.res = e.resource;
      if (typeof e.resource.resourceType === 'string') out.type = e.resource.resourceType;
      if (typeof e.resource.id === 'string') out.id = e.resource.id;
      const meta = e.resource.meta;
      if (isObj(meta) && typeof meta.versionId === 'string') out.version = meta.versionId;
    }
    return out;
  });
  if ((type === 'document' || type === 'message') && entries.length === 0) {
    run.add('error', 'invalid', `A ${type} bundle must have at least one entry (the ${type === 'document' ? 'Composition' : 'MessageHeader'})`, path, 'BUNDLE_BUNDLE_ENTRY_NOFIRST');
  }
  const fullUrlOptional = ['transaction', 'transaction-response', 'batch', 'batch-response'].includes(type);
  entries.forEach((e, i) => {
    const where = `${path}.entry[${i}]`;
    const raw: unknown = entriesRaw[i];
    if (!isObj(raw)) return;
    const fu = e.fullUrl;
    if (fu === undefined) {
      if (!fullUrlOptional && e.res) run.add('error', 'invalid', 'Bundle entry missing fullUrl', where, 'BUNDLE_BUNDLE_ENTRY_FULLURL_REQUIRED');
    } else if (!ABSOLUTE_URI.test(fu)) {
      run.add('error', 'invalid', `The fullUrl must be an absolute URL (not '${fu.slice(0, 100)}')`, where, 'BUNDLE_BUNDLE_ENTRY_FULLURL_ABSOLUTE');
    } else if (e.type && /^https?:/.test(fu)) {
      const m = RESTFUL.exec(fu);
      if (m && m[3] === e.type) {
        if (e.id === undefined) run.add('error', 'invalid', `The fullUrl '${fu.slice(0, 100)}' looks like a RESTful server URL, so the resource must have an id`, where, 'BUNDLE_ENTRY_URL_MATCHES_NO_ID');
        else if (m[4] !== e.id) run.add('error', 'invalid', `The fullUrl '${fu.slice(0, 100)}' looks like a RESTful server URL, so it must end with the type and id (${e.type}/${e.id.slice(0, 64)})`, where, 'BUNDLE_ENTRY_URL_MATCHES_TYPE_ID');
      } else if (m && e.id !== undefined && m[4] !== e.id && /^[A-Z]/.test(m[3]!) && run.engine.profile(m[3]!)?.kind === 'resource') {
        run.add('error', 'invalid', "The fullUrl and the resource id do not agree (fullUrl must end with '<type>/<id>')", where, 'BUNDLE_BUNDLE_ENTRY_MISMATCHID');
      }
    }
    const canonical = e.res && typeof e.res.url === 'string' ? e.res.url : undefined;
    if (canonical !== undefined && fu !== undefined && canonical === fu && !/^http:\/\/hl7\.org\/fhir\/v[23]\//.test(canonical)) {
      const m = RESTFUL.exec(canonical);
      if (!(m && e.id !== undefined && canonical.endsWith(`/${e.id}`))) {
        run.add('error', 'invalid', `The canonical URL (${canonical.slice(0, 100)}) cannot match the fullUrl (${fu.slice(0, 100)}) unless the resource id (${(e.id ?? '').slice(0, 64)}) also matches`, where, 'BUNDLE_BUNDLE_ENTRY_MISMATCHIDURL');
      }
    }
  });
  if (type === 'searchset') checkSearchSet(run, b, entriesRaw, entries, path);
  if ((type === 'document' || type === 'message') && entries.length) {
    const first = entries[0]!;
    if (!first.res) run.add('error', 'invalid', `The first entry of a ${type} bundle must have a resource`, `${path}.entry[0]`, 'BUNDLE_BUNDLE_ENTRY_NOFIRSTRESOURCE');
    else if (type === 'document' && first.type !== 'Composition') run.add('error', 'invalid', 'The first entry in a document must be a composition', `${path}.entry[0].resource`, 'BUNDLE_BUNDLE_ENTRY_DOCUMENT');
    else if (type === 'message' && first.type !== 'MessageHeader') run.add('error', 'invalid', 'The first entry in a message must be a MessageHeader', `${path}.entry[0].resource`, 'VALIDATION_BUNDLE_MESSAGE');
  }
  checkReferences(run, entries, path, type);
}

function checkLinks(run: Run, b: Obj, type: string, path: string): void {
  if (!Array.isArray(b.link)) return;
  const seen = new Set<string>();
  const searchLike = type === 'searchset' || type === 'history';
  b.link.forEach((l, i) => {
    if (!isObj(l) || typeof l.relation !== 'string') return;
    const rel = l.relation;
    const at = `${path}.link[${i}]`;
    if (!searchLike && type && SEARCH_LINKS.includes(rel)) {
      run.add('error', 'invalid', `The link relationship type '${rel}' is not allowed in a ${type} bundle (only in search sets and histories)`, `${at}.relation`, 'BUNDLE_LINK_SEARCH_PROHIBITED');
    }
    if ((rel === 'self' || (searchLike && SEARCH_LINKS.includes(rel))) && seen.has(rel)) {
      run.add('error', 'invalid', `The link relationship type '${rel}' can only occur once`, at, 'BUNDLE_LINK_SEARCH_NO_DUPLICATES');
    }
    seen.add(rel);
  });
}

function searchTypes(b: Obj, run: Run): string[] {
  const self: unknown = Array.isArray(b.link) ? (b.link as unknown[]).find((l) => isObj(l) && l.relation === 'self') : undefined;
  const url = isObj(self) && typeof self.url === 'string' ? self.url : undefined;
  if (!url) return [];
  const q = url.indexOf('?');
  const head = (q < 0 ? url : url.slice(0, q)).split('/');
  const last = head[head.length - 1] ?? '';
  if (/^[A-Z]/.test(last) && run.engine.profile(last)?.kind === 'resource') return [last];
  if (q < 0) return [];
  const t = url.slice(q + 1).split('&').find((s) => s.startsWith('_type='));
  return t ? t.slice(6).split(',').filter(Boolean) : [];
}

function checkSearchSet(run: Run, b: Obj, raw: unknown[], entries: Entry[], path: string): void {
  const types = searchTypes(b, run);
  entries.forEach((e, i) => {
    const r = raw[i];
    if (!isObj(r)) return;
    const mode = isObj(r.search) && typeof r.search.mode === 'string' ? r.search.mode : undefined;
    const where = `${path}.entry[${i}]`;
    if (!e.res) {
      if (mode) run.add('error', 'invalid', 'Search results must have a resource', where, 'BUNDLE_SEARCH_ENTRY_NO_RESOURCE');
      return;
    }
    if (mode === 'match' || mode === 'include') {
      if (e.id === undefined) run.add('error', 'invalid', 'Search results must have ids', `${where}.resource`, 'BUNDLE_SEARCH_NOID');
      if (mode === 'match' && types.length && e.type && !types.includes(e.type)) {
        run.add('error', 'invalid', `This is not a matching resource type for the search (${e.type} is not in [${types.join(', ')}])`, `${where}.resource`, 'BUNDLE_SEARCH_ENTRY_WRONG_RESOURCE_TYPE_MODE');
      }
    } else if (mode === 'outcome' && e.type !== 'OperationOutcome') {
      run.add('error', 'invalid', `An entry with search mode 'outcome' must be an OperationOutcome, not ${e.type ?? 'nothing'}`, `${where}.resource`, 'BUNDLE_SEARCH_ENTRY_WRONG_RESOURCE_TYPE_OUTCOME');
    }
  });
}

/** The base URL of a RESTful fullUrl (`http://x/fhir/` of `http://x/fhir/Patient/1`). */
function baseOf(fullUrl: string | undefined): string | undefined {
  if (!fullUrl || !/^https?:/.test(fullUrl)) return undefined;
  const m = RESTFUL.exec(fullUrl);
  return m ? (m[1] ?? '') : undefined;
}

interface Resolution { hits: Entry[]; refType?: string; problem?: { severity: 'error' | 'warning'; message: string; id: string } }

/**
 * Entries a reference resolves to (R4 §2.36.4 "Resolving references in Bundles", as the reference
 * validator reads it): absolute references by fullUrl; relative `Type/id[/_history/v]` against the
 * referring entry's fullUrl (its RESTful base, or its `urn:` prefix); a versioned reference
 * needs the entry's meta.versionId to agree. `undefined`: not resolvable inside a bundle.
 */
function resolve(ref: string, from: Entry, entries: Entry[], bundleType: string): Resolution | undefined {
  const hist = /^(.*)\/_history\/([^/]+)$/.exec(ref);
  const unversioned = hist ? hist[1]! : ref;
  const version = hist ? hist[2] : undefined;
  const agree = (e: Entry): boolean => version === undefined || e.version === version;
  if (ABSOLUTE_URI.test(ref)) {
    return { hits: entries.filter((e) => e.fullUrl !== undefined && e.fullUrl === unversioned && agree(e)) };
  }
  if (ref.includes('?')) return undefined; // a conditional (search) reference, resolved by a server
  if (from.fullUrl === undefined) {
    // transactions and batches address the server: relative references there are the server's to resolve
    if (['transaction', 'batch', 'transaction-response', 'batch-response'].includes(bundleType)) return undefined;
    return { hits: [], problem: { severity: 'error', message: 'Relative Reference appears inside Bundle whose entry is missing a fullUrl', id: 'BUNDLE_BUNDLE_FULLURL_MISSING' } };
  }
  const m = LITERAL.exec(ref);
  if (!m) {
    const slashes = ref.split('/').length - 1;
    if (slashes === 1 || slashes === 3) return undefined; // well-formed shape, just not a FHIR id: other rules judge the id
    return { hits: [], problem: { severity: 'error', message: `Relative URLs must be of the format [ResourceName]/[id]. Encountered ${ref.slice(0, 100)}`, id: 'REFERENCE_REF_FORMAT2' } };
  }
  const [, type, id] = m as unknown as [string, string, string];
  let target: string;
  if (from.fullUrl.startsWith('urn:')) target = from.fullUrl.slice(0, from.fullUrl.lastIndexOf(':') + 1) + id;
  else {
    const base = baseOf(from.fullUrl) ?? from.fullUrl.split('/').slice(0, -2).join('/') + '/';
    target = `${base}${type}/${id}`;
  }
  const hits = entries.filter((e) => e.fullUrl === target && agree(e));
  return { hits, refType: type };
}

/** Same entry found by resource type and id, whatever its fullUrl (used only to link, never to fail). */
function looseMatch(ref: string, entries: Entry[]): Entry[] {
  const m = LITERAL.exec(ref) ?? /\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/.exec(ref);
  const version = /\/_history\/([^/]+)$/.exec(ref)?.[1];
  return m ? entries.filter((e) => e.type === m[1] && e.id === m[2] && (version === undefined || e.version === version)) : [];
}

/** Elements of the first entry whose references must resolve (reference BundleValidator.validateDocument / validateMessage). */
const DOC_REQUIRED = /^\.entry\[0\]\.resource\.(subject|author\[\d+\]|encounter|custodian|attester\[\d+\]\.party|event\[\d+\]\.detail\[\d+\]|(section\[\d+\]\.)+(author\[\d+\]|focus|entry\[\d+\]))$/;
const MSG_REQUIRED = /^\.entry\[0\]\.resource\.focus\[\d+\]$/;

/**
 * References inside any Bundle resolve sensibly (format, fullUrl present, one match, right
 * type); in document/message bundles the Composition / MessageHeader references must resolve,
 * others should, and document entries must all be reachable from the Composition.
 */
function checkReferences(run: Run, entries: Entry[], path: string, type: string): void {
  const docOrMsg = type === 'document' || type === 'message';
  for (const e of entries) {
    if (!e.res) continue;
    const refs: { ref: string; at: string; link: boolean }[] = [];
    collect(e.res, `${path}.entry[${e.i}].resource`, refs, 0, '');
    const done = new Set<string>();
    for (const { ref, at, link } of refs) {
      if (ref === '' || ref.startsWith('#')) continue;
      const r = link ? undefined : resolve(ref, e, entries, type);
      if (r?.problem && !done.has(`${at}|p`)) { run.add(r.problem.severity, 'invalid', r.problem.message, at, r.problem.id); done.add(`${at}|p`); }
      if (r && !r.problem) {
        if (r.hits.length > 1) run.add('error', 'invalid', `Multiple matches in bundle for reference ${ref.slice(0, 100)}`, at, 'BUNDLE_BUNDLE_MULTIPLEMATCHES');
        const hit = r.hits[0];
        if (hit && r.refType && hit.type && hit.type !== r.refType) run.add('error', 'invalid', `Matching reference for reference ${ref.slice(0, 100)} has resourceType ${hit.type}`, at, 'REFERENCE_REF_RESOURCETYPE');
        if (!hit) {
          const loose = docOrMsg ? looseMatch(ref, entries) : [];
          if (docOrMsg && !loose.length) {
            const required = (type === 'document' ? DOC_REQUIRED : MSG_REQUIRED).test(at.slice(path.length)) && e.i === 0;
            run.add(required ? 'error' : 'warning', 'invalid', ref.startsWith('urn:') ? `URN reference is not locally contained within the bundle ${ref.slice(0, 100)}` : `Can't find '${ref.slice(0, 100)}' in the bundle`, at, 'BUNDLE_BUNDLE_ENTRY_NOTFOUND');
          } else if (!docOrMsg && ref.startsWith('urn:')) {
            run.add('warning', 'invalid', `URN reference is not locally contained within the bundle ${ref.slice(0, 100)}`, at, 'BUNDLE_BUNDLE_NOT_LOCAL');
          }
          for (const h of loose) if (h !== e) e.targets.add(h.i);
        }
      }
      if (!docOrMsg) continue;
      const hits = r?.hits.length ? r.hits : link ? entries.filter((x) => x.fullUrl === ref) : looseMatch(ref, entries);
      for (const h of hits) if (h !== e) e.targets.add(h.i);
    }
  }
  if (!docOrMsg) return;
  // Reachability from the first entry, then entries that point into what is reachable (reverse links).
  const visited = new Set<number>();
  const visit = (i: number): void => {
    if (visited.has(i)) return;
    visited.add(i);
    for (const t of entries[i]!.targets) visit(t);
  };
  if (entries[0]?.res) visit(0);
  for (let grew = true; grew;) {
    grew = false;
    for (const e of entries) {
      if (!e.res || visited.has(e.i)) continue;
      if ([...e.targets].some((t) => visited.has(t))) { visit(e.i); grew = true; }
    }
  }
  for (const e of entries) {
    if (!e.res || visited.has(e.i)) continue;
    const label = e.fullUrl ? `'${e.fullUrl.slice(0, 100)}'` : '';
    if (type === 'document') run.add('error', 'informational', `Entry ${label} isn't reachable by traversing forwards from the Composition`, `${path}.entry[${e.i}]`, 'BUNDLE_BUNDLE_ENTRY_ORPHAN_DOCUMENT');
    else run.add('warning', 'informational', `Entry ${label} isn't reachable by traversing links (forward or backward) from the MessageHeader`, `${path}.entry[${e.i}]`, 'BUNDLE_BUNDLE_ENTRY_ORPHAN_MESSAGE');
  }
}

/**
 * Reference.reference values, and uri/url values that may link entries (these never fail
 * resolution). References inside contained resources count as links only (they resolve in
 * their container first).
 */
function collect(x: unknown, at: string, out: { ref: string; at: string; link: boolean }[], depth: number, key: string, inContained = false): void {
  if (depth > 64 || out.length > 2000) return;
  if (Array.isArray(x)) { x.forEach((y, i) => collect(y, `${at}[${i}]`, out, depth + 1, key, inContained)); return; }
  if (!isObj(x)) return;
  if (typeof x.resourceType === 'string' && depth > 0 && x.resourceType === 'Bundle') return; // not into a sub-bundle
  const isExtension = Object.keys(x).some((k) => k.startsWith('value') || k === 'extension') && typeof x.url === 'string' && !('resourceType' in x);
  for (const k in x) {
    const v = x[k];
    if (k === 'reference' && typeof v === 'string') out.push({ ref: v, at, link: inContained });
    else if (typeof v === 'string') {
      if (NOT_LINKS.has(k) || (k === 'url' && isExtension)) continue;
      if (/^(https?:|urn:uuid:|urn:oid:)/.test(v) || LITERAL.test(v)) out.push({ ref: v, at: `${at}.${k}`, link: true });
    } else if (typeof v === 'object' && v !== null) collect(v, `${at}.${k}`, out, depth + 1, k, inContained || k === 'contained');
  }
  void key;
}
