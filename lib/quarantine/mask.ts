import { formatNhsNumber, isValidNhsNumber } from '../nhs/nhs-number';

/**
 * Masking for the editor sidebar: patient data is hidden by default and revealed per item on
 * demand (and every reveal is audited by the caller). NHS numbers become `900 *** **09`
 * (formatNhsNumber masked form), person names become initials, birth dates, addresses and
 * telecoms are blanked. HL7 v2: PID-5/6/9 names, PID-7 birth date, PID-11 address, PID-13/14
 * telecom, NK1-2 name, NK1-4 address, NK1-5 telecom, GT1-3 guarantor name, GT1-5 guarantor
 * address, IN1-16 insured's name, IN1-19 insured's address. FHIR: `name` (a HumanName list or a
 * single HumanName, as Patient.contact.name), `birthDate`, `address`, `telecom` anywhere in the
 * resource tree; the narrative `text.div` (it repeats the data) and Reference `display`.
 */

const NHS_LIKE = /\b(\d{3})[ -]?(\d{3})[ -]?(\d{4})\b/g;

/** Mask every 10-digit run that is a valid NHS number (spaced or not). */
export function maskNhsNumbers(text: string): string {
  return text.replace(NHS_LIKE, (m, a: string, b: string, c: string) => {
    const n = `${a}${b}${c}`;
    return isValidNhsNumber(n) ? formatNhsNumber(n, true) : m;
  });
}

function initials(parts: string[]): string {
  return parts.filter((p) => p.trim()).map((p) => `${p.trim()[0]?.toUpperCase() ?? ''}.`).join(' ');
}

const HL7_MASK: Record<string, Record<number, 'name' | 'blank'>> = {
  PID: { 5: 'name', 6: 'name', 9: 'name', 7: 'blank', 11: 'blank', 13: 'blank', 14: 'blank' },
  NK1: { 2: 'name', 4: 'blank', 5: 'blank' },
  GT1: { 3: 'name', 5: 'blank' },
  IN1: { 16: 'name', 19: 'blank' },
};

/** Mask an HL7 v2 message's patient data, keeping its structure (segments, field counts). */
export function maskHl7(input: string): string {
  // detectContentType sniffs past a BOM and leading whitespace, so the masking must too.
  const text = input.replace(/^\uFEFF/, '').trimStart();
  if (!text.startsWith('MSH') || text.length < 8) return maskNhsNumbers(input);
  const fs = text[3] ?? '|';
  const cs = text[4] ?? '^';
  const rs = text[5] ?? '~';
  const segs = text.split(/(\r\n|\r|\n)/);
  const out = segs.map((seg) => {
    const rules = HL7_MASK[seg.slice(0, 3)];
    if (!rules || seg[3] !== fs) return seg;
    const fields = seg.split(fs);
    for (const [k, how] of Object.entries(rules)) {
      const i = Number(k);
      const f = fields[i];
      if (!f) continue;
      fields[i] = how === 'blank' ? '***' : f.split(rs).map((rep) => initials(rep.split(cs).slice(0, 3))).join(rs);
    }
    return fields.join(fs);
  });
  return maskNhsNumbers(out.join(''));
}

type HumanNameLike = { family?: unknown; given?: unknown; text?: unknown } | null | undefined;

function maskHumanName(n: HumanNameLike): { text: string } {
  const parts = [...(Array.isArray(n?.given) ? (n.given as unknown[]) : []), n?.family].filter((x): x is string => typeof x === 'string');
  return { text: parts.length ? initials(parts) : typeof n?.text === 'string' ? initials(n.text.split(/\s+/)) : '***' };
}

/** Placeholder for a masked narrative: still XHTML, so a viewer renders it. */
export const MASKED_NARRATIVE = '<div xmlns="http://www.w3.org/1999/xhtml">***</div>';

/** Mask a FHIR (or any JSON) value's person data. */
export function maskFhir(value: unknown, depth = 0): unknown {
  if (depth > 64 || value === null || typeof value !== 'object') return typeof value === 'string' ? maskNhsNumbers(value) : value;
  if (Array.isArray(value)) return value.map((v) => maskFhir(v, depth + 1));
  const out: Record<string, unknown> = {};
  // A Reference (literal or logical); a Coding also has `display` but that is a term, not a person.
  const isReference = ('reference' in value || 'identifier' in value) && !('code' in value);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === 'name' && Array.isArray(v)) {
      out[k] = v.map((n: HumanNameLike) => maskHumanName(n));
    } else if (k === 'name' && v && typeof v === 'object') {
      out[k] = maskHumanName(v);
    } else if (k === 'birthDate' || k === 'address' || k === 'telecom' || k === 'deceasedDateTime') {
      out[k] = '***';
    } else if (k === 'text' && v && typeof v === 'object' && typeof (v as { div?: unknown }).div === 'string') {
      out[k] = { ...(maskFhir(v, depth + 1) as Record<string, unknown>), div: MASKED_NARRATIVE };
    } else if (k === 'display' && isReference && typeof v === 'string') {
      // A Reference's display is usually the patient's or practitioner's name.
      out[k] = initials(v.split(/\s+/));
    } else {
      out[k] = maskFhir(v, depth + 1);
    }
  }
  return out;
}

/** Mask a payload text of a given content type (`hl7v2`, `fhir+json`, `json`, `text`). */
export function maskPayload(text: string, contentType: string): string {
  if (contentType === 'hl7v2') return maskHl7(text);
  if (contentType === 'fhir+json' || contentType === 'json') {
    try { return JSON.stringify(maskFhir(JSON.parse(text)), null, 2); } catch { return maskNhsNumbers(text); }
  }
  return maskNhsNumbers(text);
}

/**
 * Structural masking of a stored detail object (a quarantine item's `detail`): NHS numbers held
 * as JSON numbers are masked as well as those in strings (a text round trip would turn them into
 * non-JSON), then the FHIR person fields by maskFhir.
 */
export function maskDetail(v: unknown, depth = 0): unknown {
  if (typeof v === 'number') return Number.isInteger(v) && isValidNhsNumber(String(v)) ? formatNhsNumber(String(v), true) : v;
  if (typeof v === 'string') return maskNhsNumbers(v);
  if (depth > 64 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => maskDetail(x, depth + 1));
  return maskFhir(Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, maskDetail(x, depth + 1)])));
}
