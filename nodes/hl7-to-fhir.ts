/**
 * `nhs-hl7-to-fhir`: HL7 v2 (raw text in the configured property, or `msg.hl7`) → a FHIR R4 UK
 * Core transaction Bundle (lib/transform), or with direction `fhir-to-hl7` a UK Core Patient →
 * ADT^A28 / A31. Output 1 "valid": the result in `msg.payload`, `msg.outcome` with warnings or
 * "All OK"; output 2 "invalid": `msg.outcome` with the errors and the message otherwise as it
 * came (never a partial Bundle). Only an unusable mapping-table configuration is a `done(err)`.
 */
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { decodeHl7Bytes, fromJSON, parseHl7, type Hl7Message } from '../lib/hl7';
import { hasErrors, issue, operationOutcome, type OperationOutcome } from '../lib/outcome';
import { hl7ToFhir, loadTables, mergeTables, patientToAdt, type MappingTables } from '../lib/transform';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

const BUNDLE_PROFILE = 'http://hl7.org/fhir/StructureDefinition/Bundle';
/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const HL7_TO_FHIR_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  RED.nodes.registerType('nhs-hl7-to-fhir', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    setup(RED, this, upgradeNode(this, raw, HL7_TO_FHIR_CONFIG));
  });
};

/** Mapping tables: defaults, then the file, then the editor JSON (each may override the last). */
function tablesFrom(RED: RED, def: NodeDef): MappingTables {
  let tables = mergeTables(undefined);
  const file = typeof def.tablesFile === 'string' ? def.tablesFile.trim() : '';
  if (file) tables = loadTables(isAbsolute(file) ? file : resolvePath(RED.settings.userDir ?? process.cwd(), file));
  const json = typeof def.tables === 'string' ? def.tables.trim() : '';
  if (json) {
    let parsed: unknown;
    try { parsed = JSON.parse(json); } catch { parsed = Symbol('bad'); }
    tables = mergeTables(typeof parsed === 'symbol' ? 'not JSON' : parsed, tables);
  }
  return tables;
}

/** Raw HL7 text (a Buffer decoded by its MSH-18) from the property, else the parsed `msg.hl7`. */
function hl7Input(msg: NodeMessage, property: string, RED: RED): { input?: string | Hl7Message; outcome?: OperationOutcome } {
  let value = RED.util.getMessageProperty(msg, property);
  if (Buffer.isBuffer(value)) value = decodeHl7Bytes(value).text;
  if (typeof value === 'string') return value ? { input: value } : { outcome: operationOutcome([issue('error', 'required', 'Input is empty')]) };
  if (msg.hl7 && typeof msg.hl7 === 'object') {
    const r = fromJSON(msg.hl7);
    if (r.message && !hasErrors(r.issues)) return { input: r.message };
    return { outcome: operationOutcome(r.issues.length ? r.issues : [issue('error', 'structure', 'msg.hl7 is not a parsed HL7 message')]) };
  }
  return { outcome: operationOutcome([issue('error', 'structure', `Input is ${value === undefined ? 'missing' : `a ${typeof value}`}, not HL7 v2 text (msg.${property}) or msg.hl7`)]) };
}

function patientInput(value: unknown): unknown {
  let v = value;
  if (Buffer.isBuffer(v)) v = v.toString('utf8');
  if (typeof v === 'string') { try { v = JSON.parse(v); } catch { return undefined; } }
  const r = v as { resourceType?: string; entry?: { resource?: { resourceType?: string } }[] } | null;
  if (r?.resourceType === 'Bundle' && Array.isArray(r.entry)) return r.entry.find((e) => e?.resource?.resourceType === 'Patient')?.resource;
  return v;
}

function setup(RED: RED, node: Node, def: NodeDef): void {
  const tr = catalog(RED, 'hl7-to-fhir');
  const t = (key: string, subs?: Record<string, unknown>): string => tr(`hl7-to-fhir.${key}`, subs);
  const property = typeof def.property === 'string' && def.property ? def.property : 'payload';
  const toHl7 = def.direction === 'fhir-to-hl7';
  const event = def.event === 'A31' ? 'A31' : 'A28';
  const zone = typeof def.zone === 'string' && def.zone ? def.zone : undefined;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
  const status = new StatusReporter(node);
  let tables: MappingTables | undefined;
  let configError: Error | undefined;
  try { tables = tablesFrom(RED, def); } catch (e) {
    configError = e as Error;
    status.error(t('status.tables'));
    node.error(t('errors.tables', { message: configError.message }));
  }
  let valid = 0;
  let invalid = 0;

  onInput(node, async (msg: NodeMessage) => {
    if (configError || !tables) throw configError ?? new Error('mapping tables not loaded');
    let outcome: OperationOutcome;
    let result: unknown;
    let ref: string | undefined;
    if (toHl7) {
      const r = patientToAdt(patientInput(RED.util.getMessageProperty(msg, property)), {
        event, tables, sendingApplication: str(def.sendingApplication), sendingFacility: str(def.sendingFacility),
        receivingApplication: str(def.receivingApplication), receivingFacility: str(def.receivingFacility),
      });
      outcome = r.outcome;
      result = r.message;
    } else {
      const { input, outcome: early } = hl7Input(msg, property, RED);
      if (early || input === undefined) outcome = early ?? operationOutcome([issue('error', 'structure', 'No HL7 input')]);
      else {
        const r = hl7ToFhir(input, { tables, zone });
        outcome = r.outcome;
        result = r.bundle;
        ref = r.controlId;
      }
    }
    const bad = hasErrors(outcome) || result === undefined;
    msg.outcome = outcome;
    if (!bad) {
      if (toHl7) {
        const parsed = parseHl7(result as string).message!;
        msg.hl7 = parsed.toJSON();
        msg.topic = parsed.type;
        ref = parsed.controlId;
      } else msg.fhir = { profile: BUNDLE_PROFILE, resourceType: 'Bundle' };
      RED.util.setMessageProperty(msg, property, result, true);
      valid++;
    } else invalid++;
    appendAudit(msg, { node: node.id, action: toHl7 ? 'fhir-to-hl7' : 'hl7-to-fhir', outcome: bad ? 'invalid' : 'valid', ...(ref || msg._msgid ? { ref: ref ?? msg._msgid } : {}) });
    // A function: the status text is built only when the throttle shows it, not per message.
    const text = (): string => t('status.counts', { valid, invalid });
    if (bad) status.warn(text);
    else status.ok(text);
    return bad ? [null, msg] : [msg, null];
  }, 'TRANSFORM_FAILED');

  onClose(node, () => status.clear());
}
