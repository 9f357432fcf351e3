/**
 * `nhs-governance` config node (issue 16 item 4): the information-governance references a flow
 * runs under — data-sharing agreement, DPIA, UK GDPR Article 6 lawful basis and Article 9
 * condition, purpose of use (HL7 v3 PurposeOfUse), Caldicott Guardian contact. Nodes handling
 * patient data reference it through their `governance` property, or it applies to whole flow tabs
 * ("applies to tabs"). Its references go on every audit record those nodes write and into the
 * exported AuditEvent (nodes/shared/governance.ts, lib/audit/governance.ts).
 */
import { governanceRefs } from '../lib/audit/governance';
import { configText } from './shared/config';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { registerGovernance, tabsOf } from './shared/governance';
import { catalog } from './shared/i18n';
import { onClose } from './shared/input';
import type { Node, NodeDef, RED } from './shared/types';

/** Config versions (nodes/shared/config-version.ts): v1 is the first release of this node. */
const GOVERNANCE_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  const t = catalog(RED, 'governance');
  RED.nodes.registerType('nhs-governance', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    const def = upgradeNode(this, raw, GOVERNANCE_CONFIG);
    const refs = governanceRefs({ agreement: def.agreement, dpia: def.dpia, lawfulBasis: def.lawfulBasis, condition: def.condition, purpose: def.purpose });
    // A coded value outside the lists (hand-edited flow JSON) is dropped, and said so.
    for (const k of ['lawfulBasis', 'condition', 'purpose'] as const) {
      if (configText(def[k]) && !refs[k]) this.warn(t('governance.warn.unknownCode', { field: k }));
    }
    if (!refs.agreement) this.warn(t('governance.warn.noAgreement'));
    const unregister = registerGovernance(this.id, refs, tabsOf(def.tabs));
    onClose(this, unregister);
  });
};
