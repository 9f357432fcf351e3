/**
 * Bundle rules the reference validator applies beyond the bdl-* invariants (FHIR R4 §2.36
 * Bundle: fullUrl, resolving references in a bundle): absolute fullUrl, fullUrl consistent with
 * the resource id, unique link relations, search results with ids, and in document/message
 * bundles every relative or urn: reference must resolve to an entry.
 */
import type { Run } from './context';
import { ABSOLUTE_URI, isObj, type Obj } from './json-value';

const UNIQUE_LINKS = new Set(['self', 'first', 'previous', 'prev', 'next', 'last']);

export function checkBundle(run: Run, b: Obj, path: string): void {
  const type = b.type;
  if (Array.isArray(b.link)) {
    const seen = new Set<string>();
    b.link.forEach((l, i) => {
      if (!isObj(l) || typeof l.relation !== 'string') return;
      if (UNIQUE_LINKS.has(l.relation) && seen.has(l.relation)) run.add('error', 'invalid', `The link relationship type '${l.relation}' can only occur once`, `${path}.link[${i}]`, 'BUNDLE_LINK_UNIQUE');
      seen.add(l.relation);
    });
  }
  const entries = Array.isArray(b.entry) ? b.entry : [];
  const fullUrls = new Set<string>();
  entries.forEach((e, i) => {
    if (!isObj(e)) return;
    const where = `${path}.entry[${i}]`;
    const res = isObj(e.resource) ? e.resource : undefined;
    const fu = e.fullUrl;
    if (typeof fu === 'string') {
      fullUrls.add(fu);
      if (!ABSOLUTE_URI.test(fu)) run.add('error', 'invalid', `The fullUrl must be an absolute URL (not '${fu.slice(0, 100)}')`, where, 'BUNDLE_BUNDLE_ENTRY_FULLURL_ABSOLUTE');
      else if (res && typeof res.id === 'string' && typeof res.resourceType === 'string' && /^https?:/.test(fu)) {
        const tail = fu.replace(/\/_history\/[^/]+$/, '');
        // Only a RESTful-looking fullUrl ([base]/[Type]/[id]) is expected to carry the id.
        if (/\/[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(tail) && !tail.endsWith(`/${res.resourceType}/${res.id}`)) {
          run.add('error', 'invalid', "The fullUrl and the resource id do not agree (fullUrl must end with '<type>/<id>')", where, 'BUNDLE_BUNDLE_ENTRY_MISMATCHID');
        }
      }
    }
    if (type === 'searchset' && res && isObj(e.search) && e.search.mode === 'match' && typeof res.id !== 'string') {
      run.add('error', 'invalid', 'Search results must have ids', `${where}.resource`, 'BUNDLE_SEARCH_NOID');
    }
  });
  if (type === 'document' || type === 'message') checkReferences(run, entries, fullUrls, path);
}

/** Relative and urn: references inside document/message bundles must resolve to an entry. */
function checkReferences(run: Run, entries: unknown[], fullUrls: Set<string>, path: string): void {
  entries.forEach((e, i) => {
    if (!isObj(e) || !isObj(e.resource)) return;
    const base = typeof e.fullUrl === 'string' && /^https?:/.test(e.fullUrl) ? e.fullUrl.replace(/[A-Za-z]+\/[^/]+(\/_history\/[^/]+)?$/, '') : undefined;
    const refs: { ref: string; at: string }[] = [];
    collect(e.resource, `${path}.entry[${i}].resource`, refs, 0);
    for (const { ref, at } of refs) {
      if (ref.startsWith('#')) continue;
      if (ref.startsWith('urn:uuid:') || ref.startsWith('urn:oid:')) {
        if (!fullUrls.has(ref)) run.add('error', 'invalid', 'URN reference is not locally contained within the bundle', at, 'BUNDLE_BUNDLE_ENTRY_NOTFOUND');
        continue;
      }
      if (ABSOLUTE_URI.test(ref)) continue; // absolute references may point outside the bundle
      if (!/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/.test(ref)) continue;
      const target = base !== undefined ? base + ref.replace(/\/_history\/.*$/, '') : undefined;
      if (target !== undefined ? fullUrls.has(target) : false) continue;
      run.add('error', 'invalid', `Can't find '${ref.slice(0, 100)}' in the bundle`, at, 'BUNDLE_BUNDLE_ENTRY_NOTFOUND');
    }
  });
}

function collect(x: unknown, at: string, out: { ref: string; at: string }[], depth: number): void {
  if (depth > 64 || out.length > 1000) return;
  if (Array.isArray(x)) { x.forEach((y, i) => collect(y, `${at}[${i}]`, out, depth + 1)); return; }
  if (!isObj(x)) return;
  for (const k in x) {
    if (k === 'contained') continue; // contained resources resolve inside their container
    const v = x[k];
    if (k === 'reference' && typeof v === 'string') out.push({ ref: v, at });
    else if (typeof v === 'object' && v !== null) collect(v, `${at}.${k}`, out, depth + 1);
  }
}
