/**
 * The instance walker: follows a compiled profile tree over a resource's JSON (FHIR R4 §2.6.2
 * JSON representation; §2.27 ElementDefinition: cardinality, types, choice types, fixed/pattern,
 * bindings, constraints, slicing). One pass, collecting every issue into the run.
 */
import { checkPrimitive, jsonKind, PRIMITIVE_TYPES } from './primitives';
import type { InvariantContext } from './invariants';
import type { CompiledProfile, ENode } from './compile';
import type { Run } from './context';
import { checkBinding, checkCoding, checkQuantityUnit } from './binding';
import { assignSlices } from './slicing';
import { checkXhtml } from './xhtml';
import { checkIdentifier } from './nhs';
import { checkBundle } from './bundle';
import { deepMatches, deepEqual } from './match';
import { impliedProfiles } from './implied';
import { checkSpecial } from './special';
import { checkExpression } from './conformance-rules';
import { ABSOLUTE_URI, isObj, type Item, type Obj } from './json-value';

export interface WalkCtx extends InvariantContext {
  depth: number;
}

const EXAMPLE_URL = /^https?:\/\/([^/]*\.)?example\.(org|com|net)(\/|$)/;
const HTML_TAG = /<\/?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?\/?>/;
const upperFirst = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** Validate a resource by its resourceType, the given profiles and its meta.profile. */
export function validateResource(run: Run, value: unknown, path: string, ctx: WalkCtx | undefined, profiles: string[], profilesAreConfigured: boolean): void {
  const depth = (ctx?.depth ?? 0) + 1;
  if (depth > run.engine.opts.maxDepth) { run.add('error', 'structure', 'The resource is nested too deeply to validate', path, 'NHS_DEPTH_LIMIT'); return; }
  if (!isObj(value)) { run.add('error', 'structure', 'A resource must be a JSON object', path, 'Validation_VAL_Profile_WrongType'); return; }
  const rt = value.resourceType;
  if (typeof rt !== 'string') { run.add('error', 'structure', 'The JSON object has no resourceType property, so it is not a FHIR resource', path || 'Resource', 'Validation_VAL_Profile_NoType'); return; }
  const base = run.engine.profile(rt);
  if (!base || base.kind !== 'resource' || base.type !== rt) {
    run.add('error', 'structure', `Unknown resource type '${rt.slice(0, 64)}'`, path || rt, 'Validation_VAL_Unknown_Resource');
    return;
  }
  const here = path || rt;
  // %rootResource is the container only for contained resources; Bundle entries are their own roots.
  const isContained = /\.contained\[\d+\]$/.test(path);
  const rctx: WalkCtx = { resource: value, rootResource: isContained ? ctx?.rootResource ?? value : value, depth };
  const targets: CompiledProfile[] = [];
  const meta = isObj(value.meta) ? value.meta : undefined;
  const metaProfiles = Array.isArray(meta?.profile) ? meta.profile.filter((p): p is string => typeof p === 'string') : [];
  const wanted: [string, boolean, number][] = [...profiles.map((p): [string, boolean, number] => [p, profilesAreConfigured, -1]), ...metaProfiles.map((p, i): [string, boolean, number] => [p, false, i])];
  for (const [url, configured, i] of wanted) {
    if (url === base.url) continue;
    const p = run.engine.profile(url);
    const where = i >= 0 ? `${here}.meta.profile[${i}]` : here;
    if (!p) {
      run.add(configured ? 'error' : 'warning', configured ? 'not-found' : 'structure',
        `Profile reference '${url}' has not been checked because it could not be found`, where, 'VALIDATION_VAL_PROFILE_UNKNOWN_NOT_POLICY');
      continue;
    }
    if (p.type !== rt) {
      run.add('error', 'structure', `The profile ${url} is for the type ${p.type} and cannot be used for a ${rt}`, where, 'Validation_VAL_Profile_WrongType');
      continue;
    }
    if (!targets.includes(p)) targets.push(p);
  }
  for (const url of impliedProfiles(value)) {
    const p = run.engine.profile(url);
    if (p && p.type === rt && !targets.includes(p)) targets.push(p);
  }
  if (targets.length === 0) targets.push(base);
  if (targets.length === 1) {
    walkResource(run, targets[0]!, value, here, rctx);
  } else {
    // A profile's snapshot already carries the base rules: merge, dropping duplicates.
    const seen = new Set<string>();
    const start = run.issues.length;
    for (const t of targets) walkResource(run, t, value, here, rctx);
    const mine = run.issues.splice(start);
    for (const x of mine) {
      const k = `${x.severity}|${x.expression?.[0] ?? ''}|${x.diagnostics ?? ''}`;
      if (!seen.has(k)) { seen.add(k); run.issues.push(x); }
    }
  }
  if (Array.isArray(value.contained) && value.contained.length) checkDom3(run, value, here);
  if (rt === 'Bundle') checkBundle(run, value, here);
  checkSpecial(run, value, here, isContained);
}

function walkResource(run: Run, prof: CompiledProfile, value: Obj, path: string, ctx: WalkCtx): void {
  walkObject(run, prof.root, prof, value, path, ctx, true, [prof.type, 'Resource', 'DomainResource']);
  runInvariants(run, prof.root, value, path, ctx);
}

/** Children definitions for an item of `type` at `node`: the profile's own, a contentReference, or the type's. */
function childrenOf(run: Run, node: ENode, prof: CompiledProfile, type: string): { owner: ENode; prof: CompiledProfile; typeRoot: boolean } | undefined {
  if (node.children.length) return { owner: node, prof, typeRoot: false };
  if (node.contentReference) {
    const target = prof.byPath.get(node.contentReference);
    // typeRoot: the referenced element's own invariants (que-*, ...) apply to the reused element too
    if (target) return { owner: target, prof, typeRoot: true };
  }
  const typeRef = node.types.find((t) => t.code === type);
  for (const p of typeRef?.profiles ?? []) {
    const tp = run.engine.profile(p);
    if (tp) return { owner: tp.root, prof: tp, typeRoot: true };
  }
  const tp = run.engine.profile(type);
  return tp ? { owner: tp.root, prof: tp, typeRoot: true } : undefined;
}

/** Walk a JSON object against the children of `owner`. `ctxNames` are the names extension contexts match. */
export function walkObject(run: Run, owner: ENode, prof: CompiledProfile, obj: Obj, path: string, ctx: WalkCtx, isResource: boolean, ctxNames: string[]): void {
  // Hot path: a short array searched linearly beats a Map per object (objects have few keys).
  const found: Entry[] = [];
  for (const key in obj) {
    if (isResource && key === 'resourceType') continue;
    if ((key === 'fhir_comments' || key === '_id') && legacyKey(run, owner, key, path)) continue;
    const isExt = key.charCodeAt(0) === 95; // '_'
    const name = isExt ? key.slice(1) : key;
    let c = owner.byName.get(name);
    let type: string | undefined;
    if (c?.choice) c = undefined;
    if (!c) {
      for (const ch of owner.children) {
        if (!ch.choice || !name.startsWith(ch.name)) continue;
        const t = choiceType(ch, name.slice(ch.name.length));
        if (t) { c = ch; type = t; break; }
      }
    }
    if (!c) {
      const choice = owner.children.some((ch) => ch.choice && ch.name === name);
      run.add('error', 'structure', choice ? `The property '${name}' is invalid` : `Unrecognized property '${name.slice(0, 64)}'`, `${path}.${name.slice(0, 64)}`, 'Validation_VAL_Profile_NoDefinition');
      continue;
    }
    let entry: Entry | undefined;
    for (const f of found) if (f.node === c) { entry = f; break; }
    if (entry && type !== undefined && entry.type !== undefined && entry.type !== type) {
      run.add('error', 'structure', `Only one of the ${c.name}[x] choices may be present`, `${path}.${name}`, 'Validation_VAL_Profile_MultipleChoice');
      continue;
    }
    if (!entry) { entry = { node: c, key: isExt ? name : key, type, v: undefined, e: undefined, hasV: false, hasE: false }; found.push(entry); }
    if (isExt) { entry.e = obj[key]; entry.hasE = true; } else { entry.v = obj[key]; entry.hasV = true; }
  }
  for (const ch of owner.required) {
    let present = false;
    for (const f of found) if (f.node === ch) { present = true; break; }
    if (present) continue;
    if (ch.min > 0) run.add('error', 'structure', `${ch.path}: minimum required = ${ch.min}, but only found 0 (from ${ch.sdUrl})`, path, 'Validation_VAL_Profile_Minimum');
    for (const sl of ch.slices) {
      if (sl.min > 0) run.add('error', 'structure', `Slice '${ch.path}:${sl.sliceName ?? ''}': a matching slice is required, but not found (from ${sl.sdUrl})`, path, 'Validation_VAL_Profile_Minimum_SLICE');
    }
  }
  for (const entry of found) {
    const ch = entry.node;
    // Resource.id is typed System.String in R4 snapshots, but the spec's rule for it is the id type.
    const type = isResource && ch.name === 'id' ? 'id' : entry.type ?? (ch.types.length === 1 ? ch.types[0]!.code : ch.types[0]?.code ?? 'Element');
    const items = collectItems(run, ch, entry, path);
    if (items.length < ch.min) run.add('error', 'structure', `${ch.path}: minimum required = ${ch.min}, but only found ${items.length} (from ${ch.sdUrl})`, path, 'Validation_VAL_Profile_Minimum');
    if (items.length > ch.max) run.add('error', 'structure', `${ch.path}: max allowed = ${ch.max}, but found ${items.length} (from ${ch.sdUrl})`, `${path}.${entry.key}`, 'Validation_VAL_Profile_Maximum');
    const base = ch.choice ? `${path}.${ch.name}` : `${path}.${entry.key}`;
    const childCtxNames = [ch.path, type];
    const assigned = ch.slices.length && ch.slicing ? assignSlices(run, ch, items, type, base) : undefined;
    for (let k = 0; k < items.length; k++) {
      const it = items[k]!;
      const itemPath = ch.choice ? `${base}.ofType(${type})` : ch.isArray ? `${base}[${it.i}]` : base;
      validateItem(run, assigned?.[k] ?? ch, prof, type, it, itemPath, ctx, childCtxNames, ctxNames);
    }
  }
}

/**
 * JSON properties R4 does not have although they look familiar: `fhir_comments` (DSTU2 only; the
 * reference parser reports it as unrecognised) and `_id` (Resource.id and Element.id are FHIRPath
 * System.String in R4: no `_id`, so no extensions on them, per the R4 JSON schema). Kept out of
 * walkObject so the hot loop stays small.
 */
function legacyKey(run: Run, owner: ENode, key: string, path: string): boolean {
  if (key === 'fhir_comments') {
    run.add('error', 'structure', "Unrecognized property 'fhir_comments' (JSON comments are not part of FHIR R4)", `${path}.fhir_comments`, 'UNRECOGNISED_PROPERTY_');
    return true;
  }
  if (!owner.byName.has('id')) return false;
  run.add('error', 'structure', "Unrecognized property '_id': Resource.id and Element.id cannot carry extensions", `${path}._id`, 'UNRECOGNISED_PROPERTY_');
  return true;
}

interface Entry { node: ENode; key: string; type: string | undefined; v: unknown; e: unknown; hasV: boolean; hasE: boolean }

function choiceType(ch: ENode, suffix: string): string | undefined {
  for (const t of ch.types) if (t.code.length === suffix.length && upperFirst(t.code) === suffix) return t.code;
  return undefined;
}

/** Turn a property (and its `_` sibling) into items, reporting JSON-shape problems. */
function collectItems(run: Run, ch: ENode, entry: Entry, path: string): Item[] {
  const where = `${path}.${entry.key}`;
  const out: Item[] = [];
  if (ch.isArray) {
    let vs: unknown[] | undefined;
    let es: unknown[] | undefined;
    if (entry.hasV) {
      if (Array.isArray(entry.v)) vs = entry.v;
      else { run.add('error', 'invalid', `The property ${entry.key} must be a JSON Array, not ${describe(entry.v)}`, where, 'Validation_VAL_Json_Array'); vs = [entry.v]; }
      if (vs.length === 0) run.add('error', 'invalid', 'Array cannot be empty - the property should not be present if it has no values', where, 'Validation_VAL_Json_Empty_Array');
    }
    if (entry.hasE) {
      if (Array.isArray(entry.e)) es = entry.e;
      else { run.add('error', 'invalid', `The property _${entry.key} must be a JSON Array, not ${describe(entry.e)}`, where, 'Validation_VAL_Json_Array'); es = [entry.e]; }
    }
    if (vs && es && vs.length !== es.length) {
      run.add('error', 'invalid', `The arrays ${entry.key} and _${entry.key} must have the same length`, where, 'Validation_VAL_Json_Array_Misaligned');
    }
    const n = Math.max(vs?.length ?? 0, es?.length ?? 0);
    for (let i = 0; i < n; i++) {
      const v = vs?.[i]; const e = es?.[i];
      if ((v === null || v === undefined) && (e === null || e === undefined)) {
        run.add('error', 'invalid', 'Null values are not allowed in arrays unless the matching _ entry carries extensions', `${where}[${i}]`, 'Validation_VAL_Json_Null');
        continue;
      }
      out.push({ v: v ?? undefined, e: e ?? undefined, i });
    }
    return out;
  }
  let v = entry.v; let e = entry.e;
  if (Array.isArray(v)) { run.add('error', 'invalid', `The property ${entry.key} must be ${ch.types.some((t) => PRIMITIVE_TYPES.has(t.code)) ? 'a primitive value' : 'an Object'}, not an Array`, where, 'Validation_VAL_Json_NotArray'); v = v[0]; }
  if (Array.isArray(e)) { run.add('error', 'invalid', `The property _${entry.key} must be an Object, not an Array`, where, 'Validation_VAL_Json_NotArray'); e = e[0]; }
  if (entry.hasV && v === null) { run.add('error', 'invalid', `The property ${entry.key} is null; null is not a valid FHIR value`, where, 'Validation_VAL_Json_Null'); v = undefined; }
  if (v === undefined && (e === undefined || e === null)) return out;
  out.push({ v, e: e ?? undefined, i: 0 });
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an Array';
  return typeof v === 'object' ? 'an Object' : 'a Primitive property';
}

/** Validate one item of a child element against its node (or the matched slice). */
export function validateItem(run: Run, node0: ENode, prof: CompiledProfile, type: string, it: Item, path: string, ctx: WalkCtx, ctxNames: string[], parentCtxNames: string[]): void {
  const node = node0.typeSlices?.get(type) ?? node0;
  if (PRIMITIVE_TYPES.has(type)) { validatePrimitive(run, node, prof, type, it, path, ctx); return; }
  const v = it.v;
  // The type's own definition (one lookup): a resource type, or the datatype whose root invariants apply below.
  const tp = run.engine.profile(type);
  if (type === 'Resource' || tp?.kind === 'resource') {
    const profiles = node.types.find((t) => t.code === type)?.profiles ?? [];
    validateResource(run, v, path, ctx, profiles, false);
    return;
  }
  if (!isObj(v)) { run.add('error', 'structure', `The property must be an Object, not ${describe(v)}`, path, 'Validation_VAL_Json_Object'); return; }
  if (run.level > run.engine.opts.maxDepth) { run.add('error', 'structure', 'Element nested too deeply to validate', path, 'NHS_DEPTH_LIMIT'); return; }
  let empty = true;
  for (const k in v) { if (k !== 'id' && k !== 'fhir_comments') { empty = false; break; } }
  if (empty) run.add('error', 'invalid', 'Object must have some content', path, 'Validation_VAL_Profile_ObjectEmpty', 'ele-1');
  if (type === 'Extension') { validateExtension(run, node, prof, v, path, ctx, parentCtxNames); return; }
  const kids = childrenOf(run, node, prof, type);
  if (!kids) { run.add('error', 'structure', `Unknown type '${type}'`, path, 'Validation_VAL_Unknown_Type'); return; }
  run.level++;
  walkObject(run, kids.owner, kids.prof, v, path, ctx, false, ctxNames);
  run.level--;
  if (kids.typeRoot) runInvariants(run, kids.owner, v, path, ctx);
  else if (!node.contentReference) {
    // A profile that constrains inside a datatype lists its children, but the datatype's own
    // invariants (cpt-2, per-1, …) live on the type's root element: they still apply.
    if (tp && tp.kind !== 'resource' && tp.root !== kids.owner) runInvariants(run, tp.root, v, path, ctx);
  }
  runInvariants(run, node, v, path, ctx);
  checkFixedPattern(run, node, v, path);
  switch (type) {
    case 'Identifier': checkIdentifier(run, v, path); break;
    case 'Coding': checkCoding(run, v, path); break;
    case 'Attachment': checkAttachment(run, v, path); break;
    case 'Reference': checkReferenceTarget(run, node, v, path); break;
    case 'Expression': checkExpression(run, v, path); break;
    case 'Quantity': case 'Age': case 'Duration': case 'Distance': case 'Count': case 'SimpleQuantity': case 'MoneyQuantity':
      if (typeof v.value === 'number' && (node.minValue !== undefined || node.maxValue !== undefined)) checkRange(run, node, v.value, path, true);
      checkQuantityUnit(run, v, path);
      break;
    default: break;
  }
  if (node.binding) checkBinding(run, node, type, v, path);
}


function validatePrimitive(run: Run, node: ENode, prof: CompiledProfile, type: string, it: Item, path: string, ctx: WalkCtx): void {
  const v = it.v;
  if (v !== undefined) {
    const kind = jsonKind(type);
    if (typeof v !== kind) {
      run.add('error', 'invalid', `The property must be a JSON ${kind}, not ${describe(v)} (the value of a FHIR ${type})`, path, 'Type_Specific_Checks_DT_JSON_Type');
    } else {
      const problem = checkPrimitive(type, v as string | number | boolean);
      if (problem) {
        const resourceId = node.path.endsWith('.id') && node.path.split('.').length === 2 && type === 'id';
        run.add(problem.severity, 'invalid', resourceId ? problem.message.replace('Invalid id', 'Invalid Resource id') : problem.message, path, problem.messageId);
      } else if (!run.engine.opts.allowExampleUrls && (type === 'uri' || type === 'url' || type === 'canonical') && EXAMPLE_URL.test(v as string)) {
        run.add('error', 'invalid', 'Example URLs are not allowed in this context', path, 'Type_Specific_Checks_DT_URL_Example');
      } else if (run.engine.opts.securityChecks && (type === 'string' || type === 'markdown') && HTML_TAG.test(v as string)) {
        run.add('error', 'invalid', 'The string value contains text that looks like embedded HTML tags, which are not allowed for security reasons in this context', path, 'Security_STRING_CONTENT_ERROR');
      } else if (type === 'xhtml') {
        for (const x of checkXhtml(v as string)) run.add('error', 'invalid', x.message, path, x.messageId, x.key);
      }
      if (node.maxLength !== undefined && typeof v === 'string' && v.length > node.maxLength) {
        run.add('error', 'too-long', `value is longer than permitted maximum length of ${node.maxLength}`, path, 'Type_Specific_Checks_DT_Primitive_Length');
      }
      if (node.fixed !== undefined && node.fixed !== v) {
        run.add('error', 'value', `Value is '${JSON.stringify(v).slice(0, 100)}' but is fixed to '${JSON.stringify(node.fixed).slice(0, 100)}' in the profile ${node.sdUrl}`, path, 'Profile_VAL_FixedValue');
      } else if (node.pattern !== undefined && node.pattern !== v) {
        run.add('error', 'value', `Value does not match the pattern '${JSON.stringify(node.pattern).slice(0, 100)}' in the profile ${node.sdUrl}`, path, 'Profile_VAL_PatternValue');
      }
      if (node.binding && type === 'code' && typeof v === 'string') checkBinding(run, node, type, v, path);
      if (type === 'canonical' && typeof v === 'string') checkCanonicalTarget(run, node, v, path, ctx);
      if (node.minValue !== undefined || node.maxValue !== undefined) checkRange(run, node, v, path);
      for (const inv of node.invariants) evaluate(run, inv, v, path, ctx);
    }
  }
  if (it.e !== undefined) {
    if (!isObj(it.e)) { run.add('error', 'invalid', 'The _ property of a primitive must be an Object', path, 'Validation_VAL_Json_Object'); return; }
    const tp = run.engine.profile(type);
    if (tp) {
      // `_x` carries only id and extension; value lives on the primitive itself.
      if ('value' in it.e) run.add('error', 'structure', "Unrecognized property 'value'", `${path}.value`, 'Validation_VAL_Profile_NoDefinition');
      walkObject(run, tp.root, tp, it.e, path, ctx, false, [node.path, type]);
    }
    if (v === undefined && !(Array.isArray(it.e.extension) && it.e.extension.length)) {
      run.add('error', 'invalid', 'Primitive types must have a value or must have child extensions', path, 'Type_Specific_Checks_DT_Primitive_ValueExt', 'ele-1');
    }
  }
  void prof;
}

function validateExtension(run: Run, node: ENode, prof: CompiledProfile, v: Obj, path: string, ctx: WalkCtx, ctxNames: string[]): void {
  const url = v.url;
  if (typeof url !== 'string') {
    run.add('error', 'invalid', 'Extension.url is required in order to identify, use and validate the extension', path, 'Extension_EXT_URL_Absent');
  }
  let target: CompiledProfile | undefined;
  for (const p of node.types.find((t) => t.code === 'Extension')?.profiles ?? []) { target = run.engine.profile(p); if (target) break; }
  // A complex extension's children use relative urls that only mean something inside their parent.
  const nested = ctxNames[0] === 'Extension';
  if (!target && typeof url === 'string' && !(nested && !ABSOLUTE_URI.test(url))) {
    if (url.includes('|')) run.add('error', 'invalid', 'The extension URL must not contain a version', path, 'Extension_EXT_Version_Internal');
    if (!ABSOLUTE_URI.test(url)) {
      run.add('error', 'invalid', 'Extension.url must be an absolute URL', `${path}.url`, 'Extension_EXT_URL_NotAbsolute');
    }
    target = run.engine.profile(url.split('|')[0]!);
    if (!target) {
      // Example domains, and HL7's own extension space (the R5 extensions pack, cross-version
      // extensions, tooling extensions the reference validator loads itself), are not rejected.
      const lenient = (EXAMPLE_URL.test(url) && run.engine.opts.allowExampleUrls) || url.startsWith('http://hl7.org/fhir/');
      run.add(lenient ? 'warning' : 'error', 'structure', `The extension ${url.slice(0, 200)} could not be found so is not allowed here`, path, 'Extension_EXT_Unknown_NotHere');
    } else if (!contextAllows(target, ctxNames)) {
      run.add('error', 'structure', `The extension ${url.slice(0, 200)} is not allowed to be used at this point (this element is [${ctxNames.join(', ')}])`, path, 'Extension_EXT_Context_Wrong');
    }
    if (target) checkModifier(run, target, node, url, path);
  }
  if (target && Array.isArray(v.extension)) checkSubExtensions(target, v.extension as unknown[], path, run);
  const kids = target ? { owner: target.root, prof: target } : childrenOf(run, node, prof, 'Extension');
  if (kids) {
    run.level++;
    walkObject(run, kids.owner, kids.prof, v, path, ctx, false, ['Extension', `${kids.owner.path}`]);
    run.level--;
    runInvariants(run, kids.owner, v, path, ctx);
  }
  if (node !== kids?.owner) runInvariants(run, node, v, path, ctx);
}

/** R4 §2.5.3 "Modifier Extensions": a modifier extension goes in modifierExtension, and only there. */
function checkModifier(run: Run, target: CompiledProfile, node: ENode, url: string, path: string): void {
  if (target.type !== 'Extension') return;
  const isModifier = target.sd.snapshot?.element?.[0]?.isModifier === true;
  const inModifier = node.name === 'modifierExtension';
  if (isModifier && !inModifier) run.add('error', 'structure', `The Extension '${url.slice(0, 200)}' must be used as a modifierExtension`, path, 'Extension_EXT_Modifier_Y');
  else if (!isModifier && inModifier) run.add('error', 'structure', `The Extension '${url.slice(0, 200)}' must not be used as a modifierExtension (it is not a modifier)`, path, 'Extension_EXT_Modifier_N');
}

/**
 * A complex extension's relative sub-extension urls must be ones its definition slices
 * (reference Extension_EXT_SubExtension_Invalid); absolute urls are extensions in their own right.
 */
const subExtensionUrls = new WeakMap<CompiledProfile, Set<string> | null>();

function checkSubExtensions(target: CompiledProfile, subs: unknown[], path: string, run: Run): void {
  let urls = subExtensionUrls.get(target);
  if (urls === undefined) {
    const slot = target.root.byName.get('extension');
    urls = null;
    if (slot && slot.max !== 0 && slot.slices.length) {
      const set = new Set<string>();
      for (const sl of slot.slices) {
        const u = sl.byName.get('url')?.fixed;
        if (typeof u === 'string') set.add(u);
      }
      if (set.size) urls = set;
    }
    subExtensionUrls.set(target, urls);
  }
  if (!urls) return;
  const known = urls;
  subs.forEach((x, i) => {
    if (!isObj(x) || typeof x.url !== 'string' || known.has(x.url) || ABSOLUTE_URI.test(x.url)) return;
    run.add('error', 'structure', `Sub-extension url '${x.url.slice(0, 100)}' is not defined by the Extension ${target.url}`, `${path}.extension[${i}]`, 'Extension_EXT_SubExtension_Invalid');
  });
}

/** StructureDefinition.context (R4: type element/extension/fhirpath). */
function contextAllows(sd: CompiledProfile, ctxNames: string[]): boolean {
  const contexts = sd.sd.context;
  if (!contexts?.length) return true;
  for (const c of contexts) {
    if (c.type !== 'element') return true; // fhirpath/extension contexts are not judged here
    const e = c.expression;
    if (e === 'Element' || e === 'Base') return true;
    if (ctxNames.includes(e)) return true;
    if (e === 'Resource' || e === 'DomainResource') { if (ctxNames.includes('Resource')) return true; continue; }
    if (e === 'BackboneElement' && ctxNames.some((n) => n.includes('.'))) return true;
    // A context on a profile-free path of another type (e.g. "Extension") is not ours to reject.
    if (e.startsWith('Extension')) return true;
  }
  return false;
}

function checkFixedPattern(run: Run, node: ENode, v: Obj, path: string): void {
  if (node.fixed !== undefined && !deepEqual(node.fixed, v)) {
    run.add('error', 'value', `The value does not equal the fixed value in the profile ${node.sdUrl}`, path, 'Profile_VAL_FixedValue');
  }
  if (node.pattern !== undefined && !deepMatches(v, node.pattern)) {
    run.add('error', 'value', `The value does not match the pattern in the profile ${node.sdUrl}`, path, 'Profile_VAL_PatternValue');
  }
}

export function runInvariants(run: Run, node: ENode, v: unknown, path: string, ctx: WalkCtx): void {
  for (const inv of node.invariants) evaluate(run, inv, v, path, ctx);
}

function evaluate(run: Run, inv: ENode['invariants'][number], v: unknown, path: string, ctx: WalkCtx): void {
  if (!inv.evaluate) return;
  const r = inv.evaluate(v, ctx);
  if (r === true) return;
  if (r === false) { run.add(inv.severity, 'invariant', `Constraint failed: ${inv.key}: '${inv.human}'`, path, 'Validation_VAL_Profile_Constraint', inv.key); return; }
  run.add('warning', 'invariant', `Constraint ${inv.key} could not be evaluated: ${r.error}`, path, 'Validation_VAL_Profile_Constraint_Error', inv.key);
}

/** dom-3: every contained resource is referenced from elsewhere, or refers to the container (`#`). */
function checkDom3(run: Run, res: Obj, path: string): void {
  const refs = new Set<string>();
  const stack: unknown[] = [];
  for (const k in res) if (k !== 'contained') stack.push(res[k]);
  let guard = 0;
  while (stack.length && guard++ < 200000) {
    const x = stack.pop();
    if (typeof x === 'string') { if (x.startsWith('#')) refs.add(x.slice(1)); }
    else if (Array.isArray(x)) stack.push(...(x as unknown[]));
    else if (isObj(x)) for (const k in x) stack.push(x[k]);
  }
  // contained resources may reference each other, and the container (`#`)
  const contained = res.contained as unknown[];
  const refersToContainer = contained.map((c) => isObj(c) && collectHashRefs(c, refs));
  contained.forEach((c, i) => {
    if (!isObj(c) || typeof c.id !== 'string') return;
    if (refs.has(c.id) || refersToContainer[i]) return;
    run.add('error', 'invariant', `The contained resource '${c.id.slice(0, 64)}' is not referenced to from elsewhere in the containing resource nor does it refer to the containing resource (dom-3)`, `${path}.contained[${i}]`, 'Validation_VAL_Profile_Constraint', 'dom-3');
  });
}

/** Add the `#id` references inside contained resource `c` (other than to itself) to `refs`; true when it refers to the container (`#`). */
function collectHashRefs(c: Obj, refs: Set<string>): boolean {
  const own = typeof c.id === 'string' ? c.id : undefined;
  let toContainer = false;
  const walk = (x: unknown): void => {
    if (typeof x === 'string') {
      if (x === '#') toContainer = true;
      if (x.startsWith('#') && x.slice(1) !== own) refs.add(x.slice(1));
    } else if (Array.isArray(x)) x.forEach(walk);
    else if (isObj(x)) for (const k in x) walk(x[k]);
  };
  walk(c);
  return toContainer;
}

/** Attachment.size must equal the decoded length of Attachment.data (reference validator rule). */
function checkAttachment(run: Run, v: Obj, path: string): void {
  if (typeof v.data !== 'string' || typeof v.size !== 'number') return;
  const b64 = v.data.replace(/\s+/g, '');
  const pad = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  const actual = Math.floor((b64.length * 3) / 4) - pad;
  if (actual !== v.size) run.add('error', 'structure', `Stated Attachment Size ${v.size} does not match actual attachment size ${actual}`, path, 'TYPE_SPECIFIC_CHECKS_DT_ATT_SIZE_CORRECT');
}

/** ElementDefinition.minValue[x]/maxValue[x]: numbers numerically, dates and times on their text (same format). */
function checkRange(run: Run, node: ENode, v: unknown, path: string, quantity = false): void {
  const limit = (x: unknown): number | string | undefined => {
    if (quantity) return isObj(x) && typeof x.value === 'number' ? x.value : undefined;
    return typeof x === 'number' || typeof x === 'string' ? x : undefined;
  };
  const lo = limit(node.minValue); const hi = limit(node.maxValue);
  if (typeof v !== 'number' && typeof v !== 'string') return;
  const cmp = (a: number | string, b: number | string): number => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);
  if (lo !== undefined && typeof lo === typeof v && cmp(v, lo) < 0) run.add('error', 'invalid', `The value is less than the permitted minimum value of ${lo}`, path, quantity ? 'Type_Specific_Checks_DT_Quantity_MinValue' : 'Type_Specific_Checks_DT_Integer_GT');
  if (hi !== undefined && typeof hi === typeof v && cmp(v, hi) > 0) run.add('error', 'invalid', `The value is greater than the permitted maximum value of ${hi}`, path, quantity ? 'Type_Specific_Checks_DT_Quantity_MaxValue' : 'Type_Specific_Checks_DT_Integer_LT');
}

const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';
const LITERAL_REF = /^(?:https?:\/\/\S+\/)?([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * Resource types an element's Reference may target (from its targetProfiles), worked out once per
 * compiled node rather than per reference; undefined when any target cannot be judged (no target
 * profiles, `Resource`, or a profile this validator does not hold).
 */
const targetTypesCache = new WeakMap<ENode, string[] | undefined>();

function targetTypes(run: Run, node: ENode, code = 'Reference'): string[] | undefined {
  const cache = code === 'Reference' ? targetTypesCache : canonicalTypesCache;
  if (cache.has(node)) return cache.get(node);
  const targets = node.types.find((t) => t.code === code)?.targetProfiles ?? [];
  let out: string[] | undefined = targets.length ? [] : undefined;
  for (const t of targets) {
    const url = t.split('|')[0]!;
    const type = url.startsWith(CORE_SD) && !url.slice(CORE_SD.length).includes('-') && /^[A-Z]/.test(url.slice(CORE_SD.length)) ? url.slice(CORE_SD.length) : run.engine.profile(url)?.type;
    if (type === undefined || type === 'Resource') { out = undefined; break; } // unknown profile: cannot judge
    out!.push(type);
  }
  cache.set(node, out);
  return out;
}

const canonicalTypesCache = new WeakMap<ENode, string[] | undefined>();

/**
 * A canonical that resolves (a contained `#id`, or a definition the packages hold) must be a
 * resource of a type its element allows (ElementDefinition.type.targetProfile on canonical).
 */
function checkCanonicalTarget(run: Run, node: ENode, v: string, path: string, ctx: WalkCtx): void {
  const allowed = targetTypes(run, node, 'canonical');
  if (!allowed?.length) return;
  let found: string | undefined;
  if (v.startsWith('#')) {
    const root = ctx.rootResource;
    const c = isObj(root) && Array.isArray(root.contained) ? (root.contained as unknown[]).find((x) => isObj(x) && x.id === v.slice(1)) : undefined;
    found = isObj(c) && typeof c.resourceType === 'string' ? c.resourceType : undefined;
  } else if (/^https?:/.test(v)) {
    found = definitionType(run, v.split('|')[0]!);
  }
  if (found && !allowed.includes(found)) {
    run.add('error', 'invalid', `Canonical URL '${v.slice(0, 200)}' refers to a resource that has the wrong type. Found ${found} expecting one of [${allowed.join(', ')}]`, path, 'TYPE_SPECIFIC_CHECKS_DT_CANONICAL_TYPE');
  }
}

/** The type of the definition a canonical names in the packages (cached per validator: every meta.profile asks). */
function definitionType(run: Run, url: string): string | undefined {
  const cache = run.engine.definitionTypes;
  let t = cache.get(url);
  if (t === undefined) {
    const src = run.engine.src;
    t = src.valueSet(url) ? 'ValueSet' : src.codeSystem(url) ? 'CodeSystem' : src.structureDefinition(url) && !/^[A-Za-z]+$/.test(url) ? 'StructureDefinition' : null;
    if (cache.size < 10_000) cache.set(url, t);
  }
  return t ?? undefined;
}

/**
 * The resource type named by a literal reference must be one the element allows
 * (ElementDefinition.type.targetProfile), and agree with Reference.type when both are given.
 */
function checkReferenceTarget(run: Run, node: ENode, v: Obj, path: string): void {
  const ref = v.reference;
  if (typeof ref !== 'string' || ref.length > 4096) return;
  const m = LITERAL_REF.exec(ref);
  if (!m) return;
  const refType = m[1]!;
  if (!run.engine.profile(refType)) return; // not a resource type name: not ours to judge
  if (typeof v.type === 'string' && v.type !== refType) {
    run.add('error', 'structure', `The type '${refType}' implied by the reference URL does not match the type '${v.type.slice(0, 64)}' in Reference.type`, path, 'Reference_REF_BadTargetType2');
    return;
  }
  const allowed = targetTypes(run, node);
  if (!allowed || allowed.includes(refType)) return;
  run.add('error', 'structure', `The type '${refType}' implied by the reference URL is not a valid target for this element (must be one of [${allowed.join(', ')}])`, path, 'Reference_REF_BadTargetType');
}
