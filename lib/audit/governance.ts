/**
 * Information-governance references carried on audit records (issue 16 item 4): the data-sharing
 * agreement and DPIA a flow runs under, its UK GDPR Article 6 lawful basis and Article 9
 * condition, and its purpose of use. Stored in the hash-chained `detail.governance` of each audit
 * record (so the chain covers them on both backends without a schema change), exported into the
 * FHIR AuditEvent (`purposeOfEvent`, `agent.policy`) and read by the disclosure report.
 * Pure data: the `nhs-governance` config node (nodes/governance.ts) supplies the values.
 */

/** UK GDPR Article 6(1) lawful bases (legislation.gov.uk, UK GDPR Art. 6). */
export const LAWFUL_BASES: readonly { code: string; display: string }[] = [
  { code: '6(1)(a)', display: 'Consent' },
  { code: '6(1)(b)', display: 'Contract' },
  { code: '6(1)(c)', display: 'Legal obligation' },
  { code: '6(1)(d)', display: 'Vital interests' },
  { code: '6(1)(e)', display: 'Public task' },
  { code: '6(1)(f)', display: 'Legitimate interests' },
];

/** UK GDPR Article 9(2) conditions for special category (health) data (UK GDPR Art. 9). */
export const SPECIAL_CONDITIONS: readonly { code: string; display: string }[] = [
  { code: '9(2)(a)', display: 'Explicit consent' },
  { code: '9(2)(b)', display: 'Employment, social security and social protection law' },
  { code: '9(2)(c)', display: 'Vital interests' },
  { code: '9(2)(d)', display: 'Not-for-profit bodies' },
  { code: '9(2)(e)', display: 'Made public by the data subject' },
  { code: '9(2)(f)', display: 'Legal claims or judicial acts' },
  { code: '9(2)(g)', display: 'Reasons of substantial public interest' },
  { code: '9(2)(h)', display: 'Health or social care' },
  { code: '9(2)(i)', display: 'Public health' },
  { code: '9(2)(j)', display: 'Archiving, research and statistics' },
];

/** HL7 v3 ActReason PurposeOfUse codes (the value set of FHIR R4 `AuditEvent.purposeOfEvent`). */
export const PURPOSE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const PURPOSES: readonly { code: string; display: string }[] = [
  { code: 'TREAT', display: 'Direct care (treatment)' },
  { code: 'ETREAT', display: 'Emergency treatment' },
  { code: 'COC', display: 'Coordination of care' },
  { code: 'HOPERAT', display: 'Healthcare operations (planning, service management)' },
  { code: 'HPAYMT', display: 'Healthcare payment (commissioning, invoicing)' },
  { code: 'PUBHLTH', display: 'Public health' },
  { code: 'HRESCH', display: 'Healthcare research' },
  { code: 'HSYSADMIN', display: 'Health system administration' },
  { code: 'HLEGAL', display: 'Legal' },
  { code: 'PATRQT', display: 'Patient requested' },
];

/** Policy URIs for `AuditEvent.agent.policy` (the references are local identifiers, so URNs). */
export const POLICY_URN = { agreement: 'urn:nhs-interop:dsa:', dpia: 'urn:nhs-interop:dpia:', lawfulBasis: 'urn:nhs-interop:uk-gdpr:article-', condition: 'urn:nhs-interop:uk-gdpr:article-' } as const;

/** What an audit record carries in `detail.governance` (only the fields that are set). */
export interface GovernanceRefs {
  /** Id of the `nhs-governance` config node. */
  ref?: string;
  /** Data-sharing agreement reference. */
  agreement?: string;
  /** DPIA reference. */
  dpia?: string;
  /** UK GDPR Art. 6 code, e.g. `6(1)(e)`. */
  lawfulBasis?: string;
  /** UK GDPR Art. 9 condition code, e.g. `9(2)(h)`. */
  condition?: string;
  /** PurposeOfUse code, e.g. `TREAT`. */
  purpose?: string;
}

const KEYS = ['ref', 'agreement', 'dpia', 'lawfulBasis', 'condition', 'purpose'] as const;

/** The governance references of an audit record's detail, or undefined (never throws on odd data). */
export function governanceOf(detail: Record<string, unknown> | null | undefined): GovernanceRefs | undefined {
  const g = detail?.governance;
  if (!g || typeof g !== 'object' || Array.isArray(g)) return undefined;
  const out: GovernanceRefs = {};
  for (const k of KEYS) {
    const v = (g as Record<string, unknown>)[k];
    if (typeof v === 'string' && v) out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

/** Refs from config values: trimmed, empty ones dropped, codes only from the lists above. */
export function governanceRefs(v: { ref?: unknown; agreement?: unknown; dpia?: unknown; lawfulBasis?: unknown; condition?: unknown; purpose?: unknown }): GovernanceRefs {
  const text = (x: unknown, max = 200): string | undefined => (typeof x === 'string' && x.trim() ? x.trim().slice(0, max) : undefined);
  const coded = (x: unknown, list: readonly { code: string }[]): string | undefined => {
    const t = text(x);
    return t && list.some((e) => e.code === t) ? t : undefined;
  };
  const out: GovernanceRefs = {};
  const set = (k: keyof GovernanceRefs, val: string | undefined): void => { if (val) out[k] = val; };
  set('ref', text(v.ref));
  set('agreement', text(v.agreement));
  set('dpia', text(v.dpia));
  set('lawfulBasis', coded(v.lawfulBasis, LAWFUL_BASES));
  set('condition', coded(v.condition, SPECIAL_CONDITIONS));
  set('purpose', coded(v.purpose, PURPOSES));
  return out;
}

/** Display text of a code from one of the lists (the code itself when unknown). */
export function displayOf(code: string | undefined, list: readonly { code: string; display: string }[]): string | undefined {
  if (!code) return undefined;
  return list.find((e) => e.code === code)?.display ?? code;
}
