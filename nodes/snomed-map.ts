/**
 * `nhs-snomed-map`: maps local codes to SNOMED CT, translates SNOMED CT to ICD-10 / OPCS-4,
 * validates SCTIDs or checks ValueSet membership for the code at an HL7 or FHIR path, and routes
 * the message to *mapped* or *unmapped or invalid* with `msg.outcome` and `msg.snomed`
 * (DESIGN.md §2). Behaviour lives in lib/terminology/snomed-map.
 */
import { NhsError } from '../lib/errors';
import { checkOptions, snomedMap, type SnomedMapMode, type SnomedMapOptions } from '../lib/terminology/snomed-map';
import { configText } from './shared/config';
import { appendAudit, onClose, onInput } from './shared/input';
import { StatusReporter } from './shared/status';
import type { TerminologyConfigNode } from './shared/terminology-access';
import { upgradeNode, VERSION_ADDED, type ConfigSteps } from './shared/config-version';
import { catalog } from './shared/i18n';
import type { Node, NodeDef, NodeMessage, RED } from './shared/types';

const MODES: SnomedMapMode[] = ['map', 'translate', 'validate', 'valueset'];

/** Config versions (nodes/shared/config-version.ts): v1 added `version`. */
const SNOMED_MAP_CONFIG: ConfigSteps = [VERSION_ADDED];

export = function (RED: RED) {
  const t = catalog(RED, 'snomed-map');

  RED.nodes.registerType('nhs-snomed-map', function (this: Node, raw: NodeDef) {
    RED.nodes.createNode(this, raw);
    const def = upgradeNode(this, raw, SNOMED_MAP_CONFIG);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- closures below need the node
    const node = this;
    const status = new StatusReporter(node);
    const cfgNode = configText(def.terminology) ? (RED.nodes.getNode(configText(def.terminology)) as TerminologyConfigNode | null) : null;
    const term = cfgNode?.terminology?.();
    const mode = (MODES as string[]).includes(configText(def.mode)) ? (configText(def.mode) as SnomedMapMode) : 'map';
    const target = configText(def.translateTo) === 'opcs-4' ? 'opcs-4' : 'icd-10';
    const opts: SnomedMapOptions = {
      mode,
      path: configText(def.path, 200) || 'OBX-3',
      maps: () => term?.maps.maps,
      translateMaps: () => (target === 'opcs-4' ? term?.opcs4.maps : term?.icd10.maps),
      translateTo: target === 'opcs-4' ? term?.opcs4System : term?.icd10System,
      write: def.write !== false && def.write !== 'false',
      candidates: def.candidates === 'unmapped' ? 'unmapped' : 'mapped',
      ...(configText(def.sourceSystem) ? { sourceSystem: configText(def.sourceSystem) } : {}),
      ...(configText(def.valueSet) ? { valueSet: configText(def.valueSet) } : {}),
      ...(term?.client ? { client: term.client } : {}),
      // Expressions / ECL are syntax-checked by lib/terminology (expressionSyntax) before the server.
    };
    let configError: NhsError | undefined;
    try {
      if (mode !== 'validate' && !term) throw new NhsError('SNOMED_MAP_CONFIG', t('snomed-map.errors.noConfig'));
      checkOptions(opts);
    } catch (e) {
      configError = e instanceof NhsError ? e : new NhsError('SNOMED_MAP_CONFIG', String(e));
      status.error(t('snomed-map.status.config'));
      node.error(configError.message);
    }
    let ok = 0;
    let bad = 0;
    if (!configError) status.idle(t('snomed-map.status.ready'));
    const ready = Promise.all([term?.maps.ready, term?.icd10.ready, term?.opcs4.ready]);

    onInput(node, async (msg: NodeMessage) => {
      if (configError) throw configError;
      await ready;
      const r = await snomedMap({ hl7: msg.hl7, payload: msg.payload, context: msg.snomedContext }, opts);
      if (r.hl7 !== undefined) msg.hl7 = r.hl7;
      if (r.payload !== undefined) msg.payload = r.payload;
      msg.snomed = r.snomed;
      msg.outcome = r.outcome;
      if (r.ok) ok++;
      else bad++;
      const ref = typeof (msg.hl7 as { controlId?: unknown } | undefined)?.controlId === 'string' ? (msg.hl7 as { controlId: string }).controlId : msg._msgid;
      appendAudit(msg, { node: node.id, action: `snomed.${mode}`, outcome: r.ok ? (mode === 'validate' || mode === 'valueset' ? 'valid' : 'mapped') : (mode === 'validate' || mode === 'valueset' ? 'invalid' : 'unmapped'), ...(ref ? { ref } : {}) });
      (bad ? status.warn.bind(status) : status.ok.bind(status))(t('snomed-map.status.counts', { ok, bad }));
      return r.ok ? [msg, null] : [null, msg];
    }, 'SNOMED_MAP_FAILED');

    onClose(node, () => status.clear());
  });
};
