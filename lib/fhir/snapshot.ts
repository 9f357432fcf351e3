/**
 * Snapshot generation for differential-only profiles (FHIR R4 "Profiling FHIR", snapshot generation,
 * https://hl7.org/fhir/R4/profiling.html#snapshot and ElementDefinition slicing rules
 * https://hl7.org/fhir/R4/profiling.html#slicing). The differential is applied over the snapshot
 * of `baseDefinition`, which is itself generated first when it is a differential-only profile.
 *
 * The base snapshot becomes a tree keyed by element id (`name[:slice]` per step). Each
 * differential element is placed by its id: missing children are expanded from the element's
 * type (its type profile when it has one, e.g. an extension definition; or the content it
 * references), a new slice starts from the sliced element as constrained so far, and a type-specific
 * choice name (`valueQuantity`) becomes the slice `value[x]:valueQuantity` with `value[x]`
 * narrowed to the types so named, as the R4 publisher writes it. The tree is then flattened
 * (element, its children, then its slices) with paths and ids recomputed.
 */
import type { ElementConstraint, ElementDefinition, ElementSlicing, ElementType, StructureDefinition } from './snapshot-types';

/** Finds a StructureDefinition WITH snapshot by canonical url or core type name. */
export type SnapshotResolver = (urlOrType: string) => StructureDefinition | undefined;

export interface SnapshotResult {
  /** Undefined when the base could not be found: a profile cannot be built without it. */
  snapshot?: ElementDefinition[];
  /** Non-fatal problems (unmatched differential element, missing type profile); no patient data. */
  messages: string[];
}

interface SnapNode {
  /** Last path step, e.g. `value[x]`, `extension`. */
  name: string;
  el: ElementDefinition;
  /** The element as the base defined it, before this differential: new slices start from it. */
  orig: ElementDefinition;
  children: SnapNode[];
  slices: SnapNode[];
  /** Children are known (came with the base snapshot or were expanded from the type). */
  expanded: boolean;
  /** A slice this differential introduced (not inherited from the base). */
  added: boolean;
}

const EXTENSION_SLICING: ElementSlicing = { discriminator: [{ type: 'value', path: 'url' }], ordered: false, rules: 'open' };
const TYPE_SLICING: ElementSlicing = { discriminator: [{ type: 'type', path: '$this' }], ordered: false, rules: 'closed' };

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** `a.b:s.c` → [['a'], ['b','s'], ['c']]; a slice name may carry `/` for re-slicing. */
function idSteps(id: string): { name: string; slice?: string }[] {
  // A slice name never contains '.', but a reslice may ("a:b/c"), so split on '.' only.
  return id.split('.').map((s) => {
    const colon = s.indexOf(':');
    return colon < 0 ? { name: s } : { name: s.slice(0, colon), slice: s.slice(colon + 1) };
  });
}

function node(name: string, el: ElementDefinition, added = false): SnapNode {
  return { name, el, orig: clone(el), children: [], slices: [], expanded: false, added };
}

/** Ids for differential elements that have none: slice context is carried by path, as element ids define it. */
function diffIds(diff: ElementDefinition[]): string[] {
  const ctx = new Map<string, string>();
  return diff.map((d) => {
    if (d.id) return d.id;
    const parts = d.path.split('.');
    const steps: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts.slice(0, i + 1).join('.');
      const s = i === parts.length - 1 ? d.sliceName : ctx.get(p);
      steps.push(s ? `${parts[i]}:${s}` : parts[i]!);
    }
    for (const k of [...ctx.keys()]) if (k === d.path || k.startsWith(`${d.path}.`)) ctx.delete(k);
    if (d.sliceName) ctx.set(d.path, d.sliceName);
    return steps.join('.');
  });
}

/** Attach the snapshot elements after the first under `root`, by id. */
function attach(root: SnapNode, elements: ElementDefinition[], messages: string[]): void {
  root.expanded = true;
  const ids = diffIds(elements);
  for (let i = 1; i < elements.length; i++) {
    const steps = idSteps(ids[i]!).slice(1);
    let parent = root;
    let ok = true;
    for (let j = 0; j < steps.length - 1 && ok; j++) {
      const st = steps[j]!;
      const c = parent.children.find((n) => n.name === st.name);
      const target = st.slice ? findSlice(c, st.slice) : c;
      if (!target) ok = false;
      else parent = target;
    }
    const last = steps[steps.length - 1];
    if (!ok || !last) {
      messages.push(`snapshot element ${ids[i]} has no parent element`);
      continue;
    }
    const n = node(last.name, clone(elements[i]!));
    if (last.slice) {
      const owner = last.slice.includes('/') ? findSlice(parent.children.find((c) => c.name === last.name), last.slice.slice(0, last.slice.lastIndexOf('/'))) : parent.children.find((c) => c.name === last.name);
      if (!owner) { messages.push(`snapshot slice ${ids[i]} has no sliced element`); continue; }
      owner.slices.push(n);
    } else {
      parent.children.push(n);
    }
  }
}

function findSlice(n: SnapNode | undefined, slice: string): SnapNode | undefined {
  if (!n) return undefined;
  const parts = slice.split('/');
  let cur: SnapNode | undefined = n;
  let name = '';
  for (const p of parts) {
    name = name ? `${name}/${p}` : p;
    cur = cur?.slices.find((s) => s.el.sliceName === name);
  }
  return cur;
}

/**
 * A copy of `n` as it stands, the starting point of a new slice: constraints a profile puts on
 * the sliced element and its children hold for every slice of it (R4 profiling, slicing), e.g.
 * UK Core BloodPressure's `component.code.coding:loinc.system` for `component:SystolicBP`.
 */
function copyNode(n: SnapNode): SnapNode {
  return {
    name: n.name,
    el: clone(n.el),
    orig: clone(n.el),
    children: n.children.map(copyNode),
    slices: n.slices.map(copyNode),
    expanded: n.expanded,
    added: false,
  };
}

/** Type code for a choice suffix: `Quantity` → Quantity, `String` → string (primitives are lower case). */
function choiceType(el: ElementDefinition, suffix: string): ElementType | undefined {
  return el.type?.find((t) => t.code.toLowerCase() === suffix.toLowerCase());
}

class Generator {
  readonly messages: string[] = [];
  /** Choice elements narrowed by a type-specific name in this differential (`value[x]` → types named). */
  private readonly narrowed = new Map<SnapNode, ElementType[]>();
  /** Elements whose types the differential itself set: their type list is not narrowed again. */
  private readonly explicitType = new Set<SnapNode>();
  /** Choice elements a type-specific name constrained in place rather than by a type slice. */
  private readonly inPlace = new Map<SnapNode, boolean>();

  constructor(private readonly resolve: SnapshotResolver, private readonly rootType: string) {}

  /** Make the children of `n` known, from its content reference or its (profiled) type. */
  expand(n: SnapNode, id: string): boolean {
    if (n.expanded || n.children.length > 0) {
      n.expanded = true;
      return true;
    }
    let source: ElementDefinition[] | undefined;
    if (n.el.contentReference) {
      const ref = n.el.contentReference.replace(/^.*#/, '');
      const typeSd = this.resolve(ref.split('.')[0] ?? this.rootType);
      const all = typeSd?.snapshot?.element ?? [];
      const start = all.findIndex((e) => e.path === ref && !e.sliceName);
      if (start >= 0) {
        // Ids rebased so `attach` sees the referenced element as the root of the copy.
        source = [all[start]!];
        for (const e of all.slice(start + 1)) {
          if (!e.path.startsWith(`${ref}.`)) break;
          source.push({ ...e, id: `X${e.path.slice(ref.length)}` });
        }
      }
    } else {
      const types = n.el.type ?? [];
      if (types.length !== 1) {
        this.messages.push(`cannot expand ${id}: ${types.length} types`);
        return false;
      }
      const t = types[0]!;
      const url = t.profile?.[0] ?? t.code;
      const sd = this.resolve(url) ?? (t.profile?.[0] ? this.resolve(t.code) : undefined);
      if (!sd) {
        this.messages.push(`cannot expand ${id}: StructureDefinition ${url} not found`);
        return false;
      }
      if (url !== t.code && sd.url !== url) this.messages.push(`type profile ${url} not found; ${id} expanded from ${t.code}`);
      source = sd.snapshot?.element;
    }
    if (!source?.length) {
      this.messages.push(`cannot expand ${id}: no definition of its children`);
      return false;
    }
    attach(n, source, this.messages);
    return true;
  }

  /**
   * Find or create the node a differential element id names. A type-specific choice name inside
   * a slice constrains the choice element in place; elsewhere it becomes a type slice (both as
   * the R4 publisher wrote them, e.g. core `bp`).
   */
  locate(root: SnapNode, id: string): SnapNode | undefined {
    const steps = idSteps(id);
    let cur = root;
    let curId = steps[0]!.name;
    for (let i = 1; i < steps.length; i++) {
      const st = steps[i]!;
      if (!this.expand(cur, curId)) return undefined;
      let child = cur.children.find((c) => c.name === st.name);
      let slice = st.slice;
      if (!child) {
        // A type-specific name for a choice element (R4 profiling, choice types: valueQuantity).
        child = cur.children.find((c) => c.name.endsWith('[x]') && st.name.startsWith(c.name.slice(0, -3)) && choiceType(c.el, st.name.slice(c.name.length - 3)));
        if (!child || slice) {
          this.messages.push(`differential element ${id} matches no element of the base`);
          return undefined;
        }
        const t = choiceType(child.el, st.name.slice(child.name.length - 3))!;
        const inPlace = this.inPlace.get(child) ?? steps.slice(1, i).some((x) => x.slice !== undefined);
        this.inPlace.set(child, inPlace);
        if (inPlace) {
          child.el.type = [clone(t)];
          curId = `${curId}.${child.name}`;
          cur = child;
          continue;
        }
        slice = st.name;
        const list = this.narrowed.get(child) ?? [];
        if (!list.some((x) => x.code === t.code)) list.push(t);
        this.narrowed.set(child, list);
      }
      curId = `${curId}.${child.name}`;
      if (slice) {
        curId = `${curId}:${slice}`;
        cur = findSlice(child, slice) ?? this.newSlice(child, slice);
      } else {
        cur = child;
      }
    }
    return cur;
  }

  private newSlice(owner: SnapNode, sliceName: string): SnapNode {
    const parentSlice = sliceName.includes('/') ? findSlice(owner, sliceName.slice(0, sliceName.lastIndexOf('/'))) : undefined;
    const from = parentSlice ?? owner;
    const s = copyNode(from);
    s.slices = [];
    s.added = true;
    delete s.el.slicing;
    s.el.sliceName = sliceName;
    // A slice's own minimum is not the sliced element's total (R4 profiling: slice cardinality).
    s.el.min = 0;
    if (owner.name.endsWith('[x]')) {
      const t = choiceType(owner.el, sliceName.slice(owner.name.length - 3));
      if (t) s.el.type = [clone(t)];
      owner.el.slicing ??= clone(TYPE_SLICING);
    } else if (!from.el.slicing && !owner.el.slicing) {
      if (owner.name === 'extension' || owner.name === 'modifierExtension') owner.el.slicing = clone(EXTENSION_SLICING);
      else this.messages.push(`slice ${sliceName} on ${owner.el.path} without slicing`);
    }
    s.orig = clone(s.el);
    (parentSlice ?? owner).slices.push(s);
    return s;
  }

  /**
   * A differential that profiles an element's type brings the profile's root constraints with it
   * (they hold wherever the profile is used, e.g. SimpleQuantity's sqty-1).
   */
  private fromTypeProfile(el: ElementDefinition, d: ElementDefinition): void {
    const profile = d.type?.length === 1 ? d.type[0]!.profile : undefined;
    if (profile?.length !== 1) return;
    const rootEl = this.resolve(profile[0]!)?.snapshot?.element[0];
    if (!rootEl) return;
    const list = [...(el.constraint ?? [])];
    for (const c of rootEl.constraint ?? []) if (!list.some((x) => x.key === c.key)) list.push(clone(c));
    el.constraint = list;
    if (d.short === undefined && rootEl.short !== undefined) el.short = rootEl.short;
    if (d.definition === undefined && rootEl.definition !== undefined) el.definition = rootEl.definition;
  }

  /** Constrain `n` with differential element `d` (ElementDefinition constraint rules). */
  apply(n: SnapNode, d: ElementDefinition, isRoot: boolean): void {
    if (d.type) this.explicitType.add(n);
    const el = n.el;
    if (!isRoot) this.fromTypeProfile(el, d);
    for (const [k, v] of Object.entries(d)) {
      if (v === undefined) continue;
      switch (k) {
        case 'id': case 'path': case 'base':
          break;
        case 'sliceName':
          if (!isRoot) el.sliceName = v as string;
          break;
        case 'constraint': {
          const list = [...(el.constraint ?? [])];
          for (const c of v as ElementConstraint[]) {
            const i = list.findIndex((x) => x.key === c.key);
            if (i >= 0) list[i] = clone(c);
            else list.push(clone(c));
          }
          el.constraint = list;
          break;
        }
        case 'condition':
          el.condition = [...new Set([...(el.condition ?? []), ...(v as string[])])];
          break;
        case 'mapping':
          el.mapping = [...((el.mapping as unknown[] | undefined) ?? []), ...clone(v as unknown[])];
          break;
        case 'slicing':
          el.slicing = { ...el.slicing, ...clone(v as ElementSlicing) };
          break;
        case 'binding':
          el.binding = { ...el.binding, ...clone(v as NonNullable<ElementDefinition['binding']>) };
          break;
        default:
          if (/^(fixed|pattern)[A-Z]/.test(k)) {
            for (const old of Object.keys(el)) if (/^(fixed|pattern)[A-Z]/.test(old)) delete el[old];
          }
          el[k] = clone(v);
      }
    }
  }

  /** Narrow choice elements to the types their type-specific names selected. */
  finishChoices(): void {
    for (const [n, types] of this.narrowed) {
      if (this.inPlace.get(n) || this.explicitType.has(n)) continue;
      n.el.type = types.map((t) => clone(n.el.type?.find((x) => x.code === t.code) ?? t));
    }
  }
}

/** Flatten the tree: element, its children, then its slices; paths and ids from the tree. */
function flatten(n: SnapNode, path: string, id: string, out: ElementDefinition[]): void {
  n.el.path = path;
  n.el.id = id;
  out.push(n.el);
  for (const c of n.children) flatten(c, `${path}.${c.name}`, `${id}.${c.name}`, out);
  for (const s of n.slices) flatten(s, path, `${id.slice(0, id.length - (n.el.sliceName ? n.el.sliceName.length + 1 : 0))}:${s.el.sliceName ?? ''}`, out);
}

/**
 * Generate the snapshot of a constraint profile from its differential over the base snapshot.
 * `resolve` returns base and type-profile definitions WITH snapshot (the loader generates them
 * recursively and guards against cycles).
 */
export function generateSnapshot(sd: StructureDefinition, resolve: SnapshotResolver): SnapshotResult {
  const messages: string[] = [];
  if (!sd.baseDefinition) return { messages: [`${sd.url} has no baseDefinition`] };
  const base = resolve(sd.baseDefinition);
  const baseEls = base?.snapshot?.element;
  if (!baseEls?.length) return { messages: [`base ${sd.baseDefinition} of ${sd.url} not found or has no snapshot`] };
  const rootName = baseEls[0]!.path;
  const root = node(rootName, clone(baseEls[0]!));
  attach(root, baseEls, messages);
  const g = new Generator(resolve, sd.type);
  const diff = sd.differential?.element ?? [];
  const ids = diffIds(diff);
  for (let i = 0; i < diff.length; i++) {
    const d = diff[i]!;
    const id = ids[i]!;
    const steps = idSteps(id);
    if (steps.length === 1) {
      g.apply(root, d, true);
      continue;
    }
    const target = g.locate(root, id);
    if (target) g.apply(target, d, false);
  }
  g.finishChoices();
  const out: ElementDefinition[] = [];
  flatten(root, rootName, rootName, out);
  return { snapshot: out, messages: [...messages, ...g.messages] };
}
