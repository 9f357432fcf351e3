import type { AuditRecord } from '../store/types';
import { NHS_NUMBER_SYSTEM, isValidNhsNumber } from '../nhs/nhs-number';
import { displayOf, governanceOf, POLICY_URN, PURPOSE_SYSTEM, PURPOSES } from './governance';

/**
 * Export of audit records as FHIR R4 AuditEvent resources shaped like IHE Basic Audit Log
 * Patterns (BALP, https://profiles.ihe.net/ITI/BALP/): `type` + `subtype` say what happened,
 * `agent` carries the requestor (editor user or `system`) and the source/destination roles,
 * `source.observer` is this Node-RED instance, `entity` carries the patient (identified by NHS
 * number only, never by name) and the message the record is about. The governance references a
 * record carries (lib/audit/governance.ts) become `purposeOfEvent` (v3 PurposeOfUse) and the
 * requesting agent's `policy` (agreement, DPIA, UK GDPR Art. 6 basis and Art. 9 condition).
 */

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
const EXTRA_ROLE = 'http://hl7.org/fhir/extra-security-role-type';
/** Code system for this suite's own action names (the record's `action`). */
export const ACTION_SYSTEM = 'https://github.com/nhs-interop/node-red-contrib-nhs-interop/audit-action';
/** Identifier system for the suite's message-store ids and MSH-10 correlation ids. */
export const MESSAGE_ID_SYSTEM = 'urn:nhs-interop:message-id';
export const CORRELATION_ID_SYSTEM = 'urn:nhs-interop:correlation-id';

interface Coding { system: string; code: string; display?: string }

export interface AuditEventResource {
  resourceType: 'AuditEvent';
  id: string;
  meta?: { profile: string[] };
  type: Coding;
  subtype: Coding[];
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  recorded: string;
  outcome: '0' | '4' | '8' | '12';
  outcomeDesc?: string;
  agent: { type: { coding: Coding[] }; who: { identifier?: { value: string }; display?: string }; requestor: boolean; policy?: string[] }[];
  purposeOfEvent?: { coding: Coding[]; text?: string }[];
  source: { site?: string; observer: { display: string }; type: Coding[] };
  entity: { what: { identifier: { system: string; value: string }; type?: string }; type: Coding; role: Coding; detail?: { type: string; valueString: string }[] }[];
}

/** How a suite action maps onto the BALP/DICOM event vocabulary. */
function classify(action: string): { type: Coding; subtype?: Coding; act: AuditEventResource['action'] } {
  const a = action.toLowerCase();
  // A disclosure report is a query of one patient's records: a search, like the audit search.
  if (/(view|reveal|read|search|query|verify|report)/.test(a)) {
    const search = /(search|query|report)/.test(a);
    return { type: { system: EVENT_TYPE, code: 'rest', display: 'Restful Operation' }, subtype: { system: RESTFUL, code: search ? 'search-type' : 'read' }, act: search ? 'E' : 'R' };
  }
  if (/(receive|import|in$)/.test(a)) return { type: { system: DCM, code: '110107', display: 'Import' }, act: 'C' };
  if (/(send|export|out$)/.test(a)) return { type: { system: DCM, code: '110106', display: 'Export' }, act: 'R' };
  if (/(discard|delete|prune)/.test(a)) return { type: { system: DCM, code: '110100', display: 'Application Activity' }, act: 'D' };
  if (/(edit|release|update)/.test(a)) return { type: { system: DCM, code: '110100', display: 'Application Activity' }, act: 'U' };
  return { type: { system: DCM, code: '110100', display: 'Application Activity' }, act: 'E' };
}

/** AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure (FHIR R4 audit-event-outcome). */
function outcomeCode(outcome: string): AuditEventResource['outcome'] {
  const o = outcome.toLowerCase();
  if (/(fail|error|reject)/.test(o)) return '8';
  if (/(invalid|quarantin|warn|refus|discard)/.test(o)) return '4';
  return '0';
}

export interface ExportOptions {
  /** Observer name (this Node-RED instance / host). */
  observer?: string;
  /** Enterprise site, e.g. an ODS code. */
  site?: string;
}

/**
 * One audit record as a FHIR R4 AuditEvent (BALP-shaped). The id is the record's chain hash, so
 * an export is idempotent and a receiver can check it against the local chain.
 */
export function toAuditEvent(r: AuditRecord, opts: ExportOptions = {}): AuditEventResource {
  const c = classify(r.action);
  const actor = r.actor ?? 'system';
  const human = actor !== 'system';
  const ev: AuditEventResource = {
    resourceType: 'AuditEvent',
    id: r.hash,
    type: c.type,
    subtype: [{ system: ACTION_SYSTEM, code: r.action }, ...(c.subtype ? [c.subtype] : [])],
    action: c.act,
    recorded: r.at,
    outcome: outcomeCode(r.outcome),
    outcomeDesc: r.outcome,
    agent: [
      {
        type: { coding: human ? [{ system: EXTRA_ROLE, code: 'humanuser', display: 'human user' }] : [{ system: DCM, code: '110153', display: 'Source Role ID' }] },
        who: { identifier: { value: actor }, display: actor },
        requestor: human,
      },
      {
        type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
        who: { identifier: { value: r.node }, display: `node-red node ${r.node}${r.flow ? ` in flow ${r.flow}` : ''}` },
        requestor: false,
      },
    ],
    source: {
      ...(opts.site ? { site: opts.site } : {}),
      observer: { display: opts.observer ?? 'node-red' },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
    entity: [],
  };
  if (r.subject && isValidNhsNumber(r.subject)) {
    ev.entity.push({
      what: { identifier: { system: NHS_NUMBER_SYSTEM, value: r.subject }, type: 'Patient' },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  if (r.messageId || r.correlationId) {
    const detail = r.correlationId && r.messageId ? [{ type: 'correlationId', valueString: r.correlationId }] : undefined;
    ev.entity.push({
      what: r.messageId ? { identifier: { system: MESSAGE_ID_SYSTEM, value: r.messageId } } : { identifier: { system: CORRELATION_ID_SYSTEM, value: r.correlationId ?? '' } },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
      ...(detail ? { detail } : {}),
    });
  }
  const gov = governanceOf(r.detail);
  if (gov) {
    if (gov.purpose) ev.purposeOfEvent = [{ coding: [{ system: PURPOSE_SYSTEM, code: gov.purpose, display: displayOf(gov.purpose, PURPOSES) ?? gov.purpose }] }];
    const policy = [
      gov.agreement && POLICY_URN.agreement + encodeURIComponent(gov.agreement),
      gov.dpia && POLICY_URN.dpia + encodeURIComponent(gov.dpia),
      gov.lawfulBasis && POLICY_URN.lawfulBasis + gov.lawfulBasis,
      gov.condition && POLICY_URN.condition + gov.condition,
    ].filter((p): p is string => typeof p === 'string');
    if (policy.length && ev.agent[0]) ev.agent[0].policy = policy;
  }
  // Only a RESTful read/search matches a BALP profile exactly; other actions are BALP-shaped only.
  if (c.subtype?.code === 'read') {
    ev.meta = { profile: [`https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.${ev.entity.some((e) => e.role.code === '1') ? 'PatientRead' : 'Read'}`] };
  }
  return ev;
}
