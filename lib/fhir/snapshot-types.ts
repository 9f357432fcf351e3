/**
 * The slice of the FHIR R4 conformance resources the loader, the snapshot generator and the
 * validator read: StructureDefinition (http://hl7.org/fhir/R4/structuredefinition.html) and
 * ElementDefinition (http://hl7.org/fhir/R4/elementdefinition.html). Other properties are kept
 * as they come (index signature) so nothing a profile says is lost on the way.
 */

/** ElementDefinition.type (R4). */
export interface ElementType {
  code: string;
  profile?: string[];
  targetProfile?: string[];
  aggregation?: string[];
  versioning?: string;
  extension?: unknown[];
}

/** ElementDefinition.slicing (R4). */
export interface ElementSlicing {
  discriminator?: { type: 'value' | 'exists' | 'pattern' | 'type' | 'profile'; path: string }[];
  description?: string;
  ordered?: boolean;
  rules?: 'closed' | 'open' | 'openAtEnd';
}

/** ElementDefinition.binding (R4). */
export interface ElementBinding {
  strength: 'required' | 'extensible' | 'preferred' | 'example';
  description?: string;
  valueSet?: string;
  extension?: unknown[];
}

/** ElementDefinition.constraint (R4). */
export interface ElementConstraint {
  key: string;
  requirements?: string;
  severity: 'error' | 'warning';
  human: string;
  expression?: string;
  xpath?: string;
  source?: string;
}

/**
 * ElementDefinition (R4). `fixed[x]` / `pattern[x]` / `defaultValue[x]` / `minValue[x]` /
 * `maxValue[x]` are read through the index signature (their names carry the type).
 */
export interface ElementDefinition {
  id?: string;
  path: string;
  sliceName?: string;
  sliceIsConstraining?: boolean;
  min?: number;
  max?: string;
  base?: { path: string; min: number; max: string };
  contentReference?: string;
  type?: ElementType[];
  slicing?: ElementSlicing;
  binding?: ElementBinding;
  constraint?: ElementConstraint[];
  condition?: string[];
  mustSupport?: boolean;
  isModifier?: boolean;
  isSummary?: boolean;
  maxLength?: number;
  short?: string;
  definition?: string;
  [key: string]: unknown;
}

/** StructureDefinition (R4), with `snapshot` always present once it went through the loader. */
export interface StructureDefinition {
  resourceType: 'StructureDefinition';
  id?: string;
  url: string;
  version?: string;
  name: string;
  title?: string;
  status?: string;
  kind: 'primitive-type' | 'complex-type' | 'resource' | 'logical';
  abstract?: boolean;
  type: string;
  baseDefinition?: string;
  derivation?: 'specialization' | 'constraint';
  fhirVersion?: string;
  context?: { type: string; expression: string }[];
  contextInvariant?: string[];
  snapshot?: { element: ElementDefinition[] };
  differential?: { element: ElementDefinition[] };
  [key: string]: unknown;
}

/** Any canonical resource as the loader indexes it. */
export interface CanonicalResource {
  resourceType: string;
  id?: string;
  url?: string;
  version?: string;
  name?: string;
  [key: string]: unknown;
}
