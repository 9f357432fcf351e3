/**
 * What `nhs-quarantine` parks for one msg, read from its config (typed inputs: `msg` property,
 * number or text) and the msg itself: reason code and text, owner, SLA, subject NHS number,
 * correlation (MSH-10, else the msg id) and the listener's stored record.
 */
import { asNhsNumber, findNhsNumber } from '../../lib/nhs/find-nhs-number';
import { detectContentType } from '../../lib/quarantine/service';
import type { NewQuarantineItem } from '../../lib/store/types';
import { configText } from './config';
import type { NodeDef, NodeMessage, RED } from './types';

/** A typed-input config value: `msg` reads the property, `num` a number, else the text. */
function value(RED: RED, type: unknown, v: unknown, msg: NodeMessage): unknown {
  if (type === 'msg') return typeof v === 'string' && v ? RED.util.getMessageProperty(msg, v) : undefined;
  return type === 'num' ? Number(v) : v;
}

/** The item fields (all but the original and the node), `owner` already decided by the caller. */
export function parkFields(RED: RED, def: NodeDef, msg: NodeMessage): Omit<NewQuarantineItem, 'original' | 'node' | 'flow' | 'owner'> {
  const reasonCode = configText(value(RED, def.reasonCodeType, def.reasonCode, msg), 64) || (msg.fhir ? 'FHIR_INVALID' : msg.error ? 'ERROR' : 'UNSPECIFIED');
  const slaHours = Number(value(RED, def.slaType ?? 'num', def.sla, msg));
  const subject = def.subjectType === 'msg' && typeof def.subject === 'string' && def.subject
    ? asNhsNumber(RED.util.getMessageProperty(msg, def.subject)) : findNhsNumber(msg);
  const controlId = (msg.hl7 as { controlId?: unknown } | undefined)?.controlId;
  const storeRecord = (msg._mllp as { storeId?: unknown } | undefined)?.storeId;
  return {
    reasonCode,
    correlationId: typeof controlId === 'string' ? controlId : typeof msg._msgid === 'string' ? msg._msgid : null,
    subject: subject ?? null,
    reason: configText(value(RED, def.reasonType, def.reason, msg), 500) || reasonCode,
    dueAt: Number.isFinite(slaHours) && slaHours > 0 ? new Date(Date.now() + slaHours * 3600_000).toISOString() : null,
    messageId: typeof storeRecord === 'string' ? storeRecord : null,
    contentType: detectContentType(msg.payload),
    detail: msg.outcome && typeof msg.outcome === 'object' ? { outcome: msg.outcome } : null,
  };
}

/** The owner for one msg (typed input); empty → `unassigned` (HAZ-015 C7). */
export function ownerOf(RED: RED, def: NodeDef, msg: NodeMessage): string {
  return configText(value(RED, def.ownerType, def.owner, msg), 200);
}
