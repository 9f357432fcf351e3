/**
 * Compiles a StructureDefinition snapshot (FHIR R4 ElementDefinition, §2.27) once into a tree of
 * element nodes the walker follows by JSON property name. Slices hang off the element that
 * defines the slicing; R4 "type slices" (`value[x]:valueQuantity`) are keyed by type code.
 */
import type { ElementDefinition, StructureDefinition } from './source';
import { compileInvariants, type Invariant } from './invariants';

export interface TypeRef { code: string; profiles: string[]; targetProfiles: string[] }

export interface ENode {
  id: string;
  path: string;
  /** JSON property base name (`value` for `value[x]`). */
  name: string;
  choice: boolean;
  min: number;
  /** Profile max (Infinity for `*`). */
  max: number;
  /** True when the JSON form is an array (from the base definition's max, not the profile's). */
  isArray: boolean;
  types: TypeRef[];
  children: ENode[];
  /** Children with min > 0 or a required slice (checked for absence on every object). */
  required: ENode[];
  byName: Map<string, ENode>;
  sliceName?: string;
  slicing?: { discriminator: { type: string; path: string }[]; rules: string; ordered: boolean };
  slices: ENode[];
  typeSlices?: Map<string, ENode>;
  fixed?: unknown;
  pattern?: unknown;
  binding?: { strength: string; valueSet: string };
  /** ElementDefinition.minValue[x] / maxValue[x]. */
  minValue?: unknown;
  maxValue?: unknown;
  invariants: Invariant[];
  contentReference?: string;
  maxLength?: number;
  /** The SD this node came from (for messages: "(from url|version)"). */
  sdUrl: string;
}

export interface CompiledProfile {
  url: string;
  version?: string;
  type: string;
  kind: string;
  root: ENode;
  /** Non-slice nodes by path, for contentReference (`#Questionnaire.item`). */
  byPath: Map<string, ENode>;
  sd: StructureDefinition;
}

const FHIRPATH_SYSTEM: Record<string, string> = {
  'http://hl7.org/fhirpath/System.String': 'string',
  'http://hl7.org/fhirpath/System.Boolean': 'boolean',
  'http://hl7.org/fhirpath/System.Integer': 'integer',
  'http://hl7.org/fhirpath/System.Decimal': 'decimal',
  'http://hl7.org/fhirpath/System.Date': 'date',
  'http://hl7.org/fhirpath/System.DateTime': 'dateTime',
  'http://hl7.org/fhirpath/System.Time': 'time',
};

function typeCode(t: NonNullable<ElementDefinition['type']>[number]): string {
  if (!t.code.startsWith('http://hl7.org/fhirpath/')) return t.code;
  const ext = t.extension?.find((e) => e.url === 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type');
  return (ext?.valueUrl as string | undefined) ?? FHIRPATH_SYSTEM[t.code] ?? 'string';
}

function lastSegment(id: string): string {
  // ids may contain '.' inside slice names only rarely; split on the last '.' outside a slice.
  const dot = id.lastIndexOf('.');
  return dot < 0 ? id : id.slice(dot + 1);
}

function parentId(id: string): string | undefined {
  const dot = id.lastIndexOf('.');
  return dot < 0 ? undefined : id.slice(0, dot);
}

function maxOf(m: string | undefined): number {
  return m === undefined || m === '*' ? Infinity : Number(m);
}

function firstKey(e: ElementDefinition, prefix: string): { key: string; value: unknown } | undefined {
  for (const k of Object.keys(e)) if (k.startsWith(prefix) && k.length > prefix.length) return { key: k, value: e[k] };
  return undefined;
}

/** Compile one SD snapshot into an element tree. Throws NhsError-free plain Error on no snapshot. */
export function compileProfile(sd: StructureDefinition): CompiledProfile {
  const elements = sd.snapshot?.element;
  if (!elements?.length) throw new Error(`StructureDefinition ${sd.url} has no snapshot`);
  const byId = new Map<string, ENode>();
  const byPath = new Map<string, ENode>();
  let root: ENode | undefined;
  for (const e of elements) {
    const id = e.id ?? e.path;
    const seg = lastSegment(id);
    const colon = seg.indexOf(':');
    const rawName = colon < 0 ? seg : seg.slice(0, colon);
    const choice = rawName.endsWith('[x]');
    const node: ENode = {
      id, path: e.path, name: choice ? rawName.slice(0, -3) : rawName, choice,
      min: e.min ?? 0, max: maxOf(e.max),
      isArray: maxOf(e.base?.max ?? e.max) > 1,
      types: (e.type ?? []).map((t) => ({ code: typeCode(t), profiles: t.profile ?? [], targetProfiles: t.targetProfile ?? [] })),
      children: [], required: [], byName: new Map(), slices: [], invariants: compileInvariants(e), sdUrl: sd.version ? `${sd.url}|${sd.version}` : sd.url,
    };
    if (e.sliceName) node.sliceName = e.sliceName;
    if (e.slicing) node.slicing = { discriminator: e.slicing.discriminator ?? [], rules: e.slicing.rules ?? 'open', ordered: !!e.slicing.ordered };
    const fixed = firstKey(e, 'fixed');
    if (fixed) node.fixed = fixed.value;
    const pattern = firstKey(e, 'pattern');
    if (pattern) node.pattern = pattern.value;
    const minV = firstKey(e, 'minValue');
    if (minV) node.minValue = minV.value;
    const maxV = firstKey(e, 'maxValue');
    if (maxV) node.maxValue = maxV.value;
    if (e.binding?.valueSet) node.binding = { strength: e.binding.strength, valueSet: e.binding.valueSet.split('|')[0]! };
    if (e.contentReference) node.contentReference = e.contentReference.slice(e.contentReference.indexOf('#') + 1);
    if (e.maxLength) node.maxLength = e.maxLength;
    byId.set(id, node);
    const pid = parentId(id);
    if (pid === undefined) { root = node; byPath.set(e.path, node); continue; }
    const parent = byId.get(pid);
    if (!parent) continue; // malformed snapshot: orphan element, ignored rather than crashing
    if (colon >= 0) {
      const sliced = parent.byName.get(node.name);
      if (!sliced) continue;
      if (sliced.choice && node.sliceName && node.types.length === 1) {
        (sliced.typeSlices ??= new Map()).set(node.types[0]!.code, node);
      } else {
        sliced.slices.push(node);
        // a required slice makes its sliced element worth checking even when absent
        if (node.min > 0 && !parent.required.includes(sliced)) parent.required.push(sliced);
      }
      continue;
    }
    // R4 renamed choice (`Observation.valueQuantity`): attach as a type slice of value[x].
    if (!parent.byName.has(node.name)) {
      const choiceParent = parent.children.find((c) => c.choice && node.name.startsWith(c.name) && node.types.length === 1);
      if (choiceParent) { (choiceParent.typeSlices ??= new Map()).set(node.types[0]!.code, node); continue; }
    }
    parent.children.push(node);
    if (node.min > 0) parent.required.push(node);
    parent.byName.set(node.name, node);
    if (!e.sliceName && !id.includes(':')) byPath.set(e.path, node);
  }
  if (!root) throw new Error(`StructureDefinition ${sd.url} has no root element`);
  const out: CompiledProfile = { url: sd.url, type: sd.type, kind: sd.kind, root, byPath, sd };
  if (sd.version) out.version = sd.version;
  return out;
}
