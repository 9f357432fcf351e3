import { parseHl7, fromJSON, type Hl7Message } from '../hl7';
import { NHS_NUMBER_SYSTEM, isValidNhsNumber, normaliseNhsNumber } from './nhs-number';

/**
 * Finding the audit subject (the patient's NHS number) in a message without logging it.
 * HL7 v2: PID-3 repetitions (CX) whose assigning authority (CX.4) or identifier type (CX.5)
 * says NHS (`NHS`, `NH`); FHIR: `identifier` with system https://fhir.nhs.uk/Id/nhs-number on a
 * Patient (also inside a Bundle) or `subject.identifier` of another resource.
 * Only numbers that pass the Modulus 11 check are returned.
 */

function valid(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const n = normaliseNhsNumber(v);
  return isValidNhsNumber(n) ? n : undefined;
}

/** NHS number from an HL7 v2 message (PID-3 repetitions), or undefined. */
export function nhsNumberFromHl7Message(m: Hl7Message): string | undefined {
  const ids = m.getAll('PID-3.1');
  const authorities = m.getAll('PID-3.4');
  const types = m.getAll('PID-3.5');
  for (let i = 0; i < ids.length; i++) {
    const authority = (authorities[i] ?? '').toUpperCase();
    const type = (types[i] ?? '').toUpperCase();
    if (authority.includes('NHS') || type === 'NH' || authority.includes('2.16.840.1.113883.2.1.4.1')) {
      const n = valid(ids[i]);
      if (n) return n;
    }
  }
  return undefined;
}

/** NHS number from raw HL7 v2 text (PID-3), or undefined. */
export function nhsNumberFromHl7(text: string): string | undefined {
  if (!text.startsWith('MSH')) return undefined;
  const { message } = parseHl7(text);
  return message ? nhsNumberFromHl7Message(message) : undefined;
}

interface Identifier { system?: unknown; value?: unknown }

function fromIdentifiers(ids: unknown): string | undefined {
  if (!Array.isArray(ids)) return undefined;
  for (const id of ids as Identifier[]) if (id && id.system === NHS_NUMBER_SYSTEM) { const n = valid(id.value); if (n) return n; }
  return undefined;
}

/** NHS number from a FHIR resource (Patient, Bundle, or a resource with `subject`). */
export function nhsNumberFromFhir(res: unknown, depth = 0): string | undefined {
  if (!res || typeof res !== 'object' || depth > 3) return undefined;
  const r = res as Record<string, unknown>;
  if (r.resourceType === 'Patient') return fromIdentifiers(r.identifier);
  if (r.resourceType === 'Bundle' && Array.isArray(r.entry)) {
    for (const e of r.entry as { resource?: unknown }[]) { const n = nhsNumberFromFhir(e?.resource, depth + 1); if (n) return n; }
    return undefined;
  }
  const subj = (r.subject ?? r.patient) as { identifier?: Identifier } | undefined;
  if (subj?.identifier && subj.identifier.system === NHS_NUMBER_SYSTEM) return valid(subj.identifier.value);
  return undefined;
}

/** Best effort: `msg.hl7` (plain-JSON HL7), else the payload as HL7 v2 text or FHIR. */
export function findNhsNumber(msg: Record<string, unknown>): string | undefined {
  if (msg.hl7 && typeof msg.hl7 === 'object') {
    const { message } = fromJSON(msg.hl7);
    const n = message ? nhsNumberFromHl7Message(message) : undefined;
    if (n) return n;
  }
  const p = msg.payload;
  if (typeof p === 'string') return nhsNumberFromHl7(p) ?? (p.trimStart().startsWith('{') ? safeJsonSubject(p) : undefined);
  if (Buffer.isBuffer(p)) return nhsNumberFromHl7(p.toString('latin1'));
  return nhsNumberFromFhir(p) ?? valid(p);
}

function safeJsonSubject(text: string): string | undefined {
  try { return nhsNumberFromFhir(JSON.parse(text)); } catch { return undefined; }
}

/** Validate a value found at a configured property: a valid NHS number or undefined. */
export function asNhsNumber(v: unknown): string | undefined {
  if (typeof v === 'number') return valid(String(v));
  return valid(v);
}
