/**
 * FHIR R4 primitive data types (https://hl7.org/fhir/R4/datatypes.html#primitive): JSON kind,
 * lexical regex, ranges and lengths. Each check returns undefined when the value is fine, else
 * the problem with the reference validator's message id, so the walker can report it verbatim.
 */

export interface PrimitiveProblem {
  messageId: string;
  message: string;
  /** Most problems are errors; whitespace around strings is only a warning in the spec. */
  severity: 'error' | 'warning';
}

/** The JSON kind each primitive is carried as (FHIR R4 §2.6.2: numbers and booleans are bare). */
export function jsonKind(type: string): 'boolean' | 'number' | 'string' {
  switch (type) {
    case 'boolean': return 'boolean';
    case 'integer': case 'positiveInt': case 'unsignedInt': case 'decimal': case 'integer64': return 'number';
    default: return 'string';
  }
}

/** Primitive type names of FHIR R4 (lower-case first letter is the spec's own convention). */
export const PRIMITIVE_TYPES = new Set([
  'boolean', 'integer', 'string', 'decimal', 'uri', 'url', 'canonical', 'base64Binary', 'instant', 'date',
  'dateTime', 'time', 'code', 'oid', 'id', 'markdown', 'unsignedInt', 'positiveInt', 'uuid', 'xhtml',
]);

/** String max length in the R4 spec: 1 MB (1048576 bytes). */
export const MAX_STRING_BYTES = 1024 * 1024;

const RE = {
  date: /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$/,
  dateTime: /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$/,
  instant: /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$/,
  time: /^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?$/,
  code: /^[^\s]+( [^\s]+)*$/,
  id: /^[A-Za-z0-9\-.]{1,64}$/,
  oid: /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/,
  uuid: /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  uri: /^\S*$/,
};

const p = (messageId: string, message: string, severity: 'error' | 'warning' = 'error'): PrimitiveProblem => ({ messageId, message, severity });

/** Calendar check the regexes cannot do (30 February). */
function realDate(v: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(v);
  if (!m) return true;
  const y = Number(m[1]); const mo = Number(m[2]); const d = Number(m[3]);
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  return d <= days;
}

/**
 * Check a primitive's JSON value (the JSON kind has already been checked). `value` is a string,
 * number or boolean matching jsonKind(type).
 */
export function checkPrimitive(type: string, value: string | number | boolean): PrimitiveProblem | undefined {
  if (typeof value === 'number') return checkNumber(type, value);
  if (typeof value === 'boolean') return undefined;
  const v = value;
  if (v.length === 0) return p('Type_Specific_Checks_DT_Primitive_NotEmpty', '@value cannot be empty');
  switch (type) {
    case 'string': case 'markdown': {
      if (v.length > MAX_STRING_BYTES / 4 && Buffer.byteLength(v, 'utf8') > MAX_STRING_BYTES) {
        return p('Type_Specific_Checks_DT_String_Length', 'value is longer than permitted maximum length of 1 MB (1048576 bytes)');
      }
      if (type === 'string' && v.trim().length === 0) return p('Type_Specific_Checks_DT_String_WS_ALL', 'value should not be all whitespace', 'warning');
      if (type === 'string' && (isWsChar(v.charCodeAt(0)) || isWsChar(v.charCodeAt(v.length - 1)))) {
        return p('Type_Specific_Checks_DT_String_WS', 'value should not start or finish with whitespace', 'warning');
      }
      return undefined;
    }
    case 'id':
      if (v.length > 64) return p('Type_Specific_Checks_DT_ID_Valid', `Invalid id: Too long (${v.length} chars)`);
      return RE.id.test(v) ? undefined : p('Type_Specific_Checks_DT_ID_Valid', 'Invalid id: Invalid Characters');
    case 'code':
      return RE.code.test(v) ? undefined : p('Type_Specific_Checks_DT_Code_WS', 'The code has illegal whitespace');
    case 'date':
      return RE.date.test(v) && realDate(v) ? undefined : p('Type_Specific_Checks_DT_Date_Valid', `Not a valid date`);
    case 'dateTime':
      if (RE.dateTime.test(v) && realDate(v)) return undefined;
      if (/T\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(v)) return p('Type_Specific_Checks_DT_DateTime_TZ', 'If a date has a time, it must have a timezone');
      return p('Type_Specific_Checks_DT_DateTime_Valid', `Not a valid date/time`);
    case 'instant':
      return RE.instant.test(v) && realDate(v) ? undefined : p('Type_Specific_Checks_DT_Instant_Valid', `Not a valid instant`);
    case 'time':
      return RE.time.test(v) ? undefined : p('Type_Specific_Checks_DT_Time_Valid', `Not a valid time`);
    case 'oid':
      return RE.oid.test(v) ? undefined : p('Type_Specific_Checks_DT_OID_Start', 'OIDs must start with urn:oid: and be valid');
    case 'uuid':
      return RE.uuid.test(v) ? undefined : p('Type_Specific_Checks_DT_UUID_Valid', 'UUIDs must be valid and lowercase');
    case 'uri': case 'url': case 'canonical':
      return checkUri(v);
    case 'base64Binary':
      return validBase64(v) ? undefined : p('Type_Specific_Checks_DT_Base64_Valid', 'The value is not a valid Base64 value');
    case 'xhtml':
      return undefined; // checked by the XHTML rules in validate/xhtml.ts
    default:
      return undefined;
  }
}

/** uri/url/canonical: no whitespace; urn:uuid and urn:oid forms must be well-formed (R4 datatypes §2.24.0.x). */
export function checkUri(v: string): PrimitiveProblem | undefined {
  if (!RE.uri.test(v)) return p('Type_Specific_Checks_DT_URI_WS', 'URI values cannot have whitespace');
  if (v.startsWith('urn:uuid:') && !RE.uuid.test(v)) return p('Type_Specific_Checks_DT_UUID_Valid', 'UUIDs must be valid and lowercase');
  if (v.startsWith('urn:oid:') && !RE.oid.test(v)) return p('Type_Specific_Checks_DT_OID_Valid', 'OIDs must be valid');
  return undefined;
}

function checkNumber(type: string, v: number): PrimitiveProblem | undefined {
  if (!Number.isFinite(v)) return p('Type_Specific_Checks_DT_Decimal_Valid', 'The value is not a valid number');
  switch (type) {
    case 'integer':
      if (!Number.isInteger(v)) return p('Type_Specific_Checks_DT_Integer_Valid', 'The value is not a valid integer');
      if (v > 2147483647 || v < -2147483648) return p('Type_Specific_Checks_DT_Integer_Range', 'The value is outside the range of a 32-bit integer');
      return undefined;
    case 'positiveInt':
      if (!Number.isInteger(v)) return p('Type_Specific_Checks_DT_Integer_Valid', 'The value is not a valid integer');
      if (v < 1) return p('Type_Specific_Checks_DT_Integer_GT', 'value is less than permitted minimum value of 1');
      if (v > 2147483647) return p('Type_Specific_Checks_DT_Integer_LT', 'value is greater than permitted maximum value of 2147483647');
      return undefined;
    case 'unsignedInt':
      if (!Number.isInteger(v)) return p('Type_Specific_Checks_DT_Integer_Valid', 'The value is not a valid integer');
      if (v < 0) return p('Type_Specific_Checks_DT_Integer_GT', 'value is less than permitted minimum value of 0');
      if (v > 2147483647) return p('Type_Specific_Checks_DT_Integer_LT', 'value is greater than permitted maximum value of 2147483647');
      return undefined;
    default:
      return undefined;
  }
}

/**
 * The R4 regex `(\s*([0-9a-zA-Z\+\=]){4}\s*)+` backtracks exponentially on long invalid input
 * with whitespace runs; this linear check accepts the same language (whitespace anywhere between
 * quads, 4-character groups, `=` padding).
 */
function validBase64(v: string): boolean {
  const compact = v.replace(/\s+/g, '');
  return compact.length > 0 && compact.length % 4 === 0 && /^[0-9a-zA-Z+/=]*$/.test(compact);
}

function isWsChar(c: number): boolean { return c === 32 || c === 9 || c === 10 || c === 13; }
