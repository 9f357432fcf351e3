/**
 * Questionnaire and QuestionnaireResponse rules that need no server (FHIR R4 Questionnaire
 * §"enableWhen", Questionnaire.item.type → answer[x] types; QuestionnaireResponse §"Validation"
 * against the Questionnaire it answers; reference QuestionnaireValidator): enableWhen targets
 * exist, are not the item itself nor inside it, come before it (warning), and their answer type
 * fits the target question; a QuestionnaireResponse whose questionnaire is contained (`#id`) is
 * checked against it: known linkIds in order, matching text, required answers, one answer unless
 * `repeats`, no answers on groups, answer types and answer options.
 */
import type { Run } from './context';
import { isObj, type Obj } from './json-value';

/** Answer[x] types allowed per item type (R4 item-type, answer value[x] choices). */
const ANSWER_TYPES: Record<string, string[]> = {
  boolean: ['Boolean'], decimal: ['Decimal'], integer: ['Integer'], date: ['Date'], dateTime: ['DateTime'], time: ['Time'],
  string: ['String'], text: ['String'], url: ['Uri'], choice: ['Coding', 'String', 'Integer', 'Date', 'Time'],
  'open-choice': ['Coding', 'String', 'Integer', 'Date', 'Time'], attachment: ['Attachment'], reference: ['Reference'], quantity: ['Quantity'],
};

/** enableWhen.answer[x] types that fit a question type (R4 enableWhen.answer[x] has no uri/Attachment). */
const ENABLE_TYPES: Record<string, string[]> = { ...ANSWER_TYPES, url: ['String', 'Uri'], attachment: [] };

const items = (x: Obj): Obj[] => (Array.isArray(x.item) ? x.item.filter(isObj) : []);

function valueKey(o: Obj, prefix: string): string | undefined {
  for (const k of Object.keys(o)) if (k.startsWith(prefix) && k.length > prefix.length && /[A-Z]/.test(k.charAt(prefix.length))) return k;
  return undefined;
}

function index(q: Obj): Map<string, { item: Obj; path: Obj[] }> {
  const out = new Map<string, { item: Obj; path: Obj[] }>();
  const walk = (parent: Obj, chain: Obj[]): void => {
    for (const it of items(parent)) {
      if (typeof it.linkId === 'string' && !out.has(it.linkId)) out.set(it.linkId, { item: it, path: chain });
      walk(it, [...chain, it]);
    }
  };
  walk(q, []);
  return out;
}

/** Document order of items, for "enableWhen refers to a later question". */
function order(q: Obj): Map<Obj, number> {
  const out = new Map<Obj, number>();
  let n = 0;
  const walk = (p: Obj): void => { for (const it of items(p)) { out.set(it, n++); walk(it); } };
  walk(q);
  return out;
}

export function checkQuestionnaire(run: Run, q: Obj, path: string): void {
  const byId = index(q);
  const pos = order(q);
  const walk = (parent: Obj, at: string): void => {
    items(parent).forEach((it, i) => {
      const here = `${at}.item[${i}]`;
      (Array.isArray(it.enableWhen) ? it.enableWhen : []).forEach((ew, k) => {
        if (!isObj(ew) || typeof ew.question !== 'string') return;
        const ewAt = `${here}.enableWhen[${k}]`;
        const inner = index(it).get(ew.question);
        if (inner) { run.add('error', 'business-rule', `Questions with an enableWhen cannot refer to an inner question for its enableWhen condition (question '${ew.question.slice(0, 64)}')`, ewAt, 'QUESTIONNAIRE_Q_ENABLEWHEN_ISINNER'); return; }
        const target = byId.get(ew.question);
        if (!target) { run.add('error', 'business-rule', `No target for this question reference ('${ew.question.slice(0, 64)}') in the questionnaire`, ewAt, 'QUESTIONNAIRE_Q_ENABLEWHEN_NOTARGET'); return; }
        if (target.item === it) { run.add('error', 'business-rule', 'Target for this question reference refers to the question itself', ewAt, 'QUESTIONNAIRE_Q_ENABLEWHEN_SELF'); return; }
        if (!target.path.includes(it) && (pos.get(target.item) ?? 0) > (pos.get(it) ?? 0) && !index(target.item).has(String(it.linkId))) {
          run.add('warning', 'business-rule', `The target of this enableWhen rule (${ew.question.slice(0, 64)}) comes after the question itself`, ewAt, 'QUESTIONNAIRE_Q_ENABLEWHEN_AFTER');
        }
        const ak = valueKey(ew, 'answer');
        const tType = typeof target.item.type === 'string' ? target.item.type : undefined;
        if (!ak || !tType) return;
        const got = ak.slice('answer'.length);
        if (ew.operator === 'exists') return; // que-7: exists takes a boolean, whatever the question
        const allowed = tType === 'group' || tType === 'display' ? [] : ENABLE_TYPES[tType];
        if (allowed && allowed.length && !allowed.includes(got)) {
          run.add('error', 'business-rule', `The enableWhen answer type ${got} does not fit the type '${tType}' of question '${ew.question.slice(0, 64)}'`, `${ewAt}.${ak}`, 'QUESTIONNAIRE_Q_ENABLEWHEN_TYPE');
        }
      });
      walk(it, here);
    });
  };
  walk(q, path);
}

function containedQuestionnaire(qr: Obj): Obj | undefined | null {
  const ref = qr.questionnaire;
  if (typeof ref !== 'string' || !ref.startsWith('#')) return null;
  const c: unknown = (Array.isArray(qr.contained) ? (qr.contained as unknown[]) : []).find((x) => isObj(x) && x.id === ref.slice(1));
  return isObj(c) ? c : undefined;
}

export function checkQuestionnaireResponse(run: Run, qr: Obj, path: string): void {
  const q = containedQuestionnaire(qr);
  if (q === null) return; // a canonical we cannot fetch here: the reference validator only warns
  if (!q) { run.add('warning', 'not-found', `The questionnaire '${String(qr.questionnaire).slice(0, 100)}' could not be resolved`, `${path}.questionnaire`, 'QUESTIONNAIRE_QR_Q_NOTFOUND'); return; }
  if (q.resourceType !== 'Questionnaire') {
    run.add('error', 'invalid', `The questionnaire reference '${String(qr.questionnaire).slice(0, 100)}' resolves to a ${String(q.resourceType)}, not a Questionnaire`, `${path}.questionnaire`, 'QUESTIONNAIRE_QR_Q_WRONG_TYPE');
    return;
  }
  const inProgress = qr.status === 'in-progress';
  checkItems(run, items(q), items(qr), path, inProgress);
}

function checkItems(run: Run, qItems: Obj[], rItems: Obj[], path: string, inProgress: boolean): void {
  let last = -1;
  rItems.forEach((ri, i) => {
    const at = `${path}.item[${i}]`;
    if (typeof ri.linkId !== 'string') return;
    const idx = qItems.findIndex((x) => x.linkId === ri.linkId);
    if (idx < 0) { run.add('error', 'structure', `LinkId '${ri.linkId.slice(0, 64)}' not found in questionnaire`, at, 'QUESTIONNAIRE_QR_ITEM_NOTFOUND'); return; }
    if (idx < last) run.add('error', 'structure', 'Structural Error: items are out of order', at, 'QUESTIONNAIRE_QR_ITEM_ORDER');
    last = Math.max(last, idx);
    const qi = qItems[idx]!;
    if (typeof ri.text === 'string' && ri.text !== qi.text) {
      run.add('error', 'invalid', `If text exists, it must match the questionnaire definition for linkId ${ri.linkId.slice(0, 64)}`, at, 'QUESTIONNAIRE_QR_ITEM_TEXT');
    }
    const answers = Array.isArray(ri.answer) ? ri.answer.filter(isObj) : [];
    if (answers.length > 1 && qi.repeats !== true) run.add('error', 'invalid', 'Only one response answer item with a value is allowed', at, 'QUESTIONNAIRE_QR_ITEM_ONLYONEA');
    const t = typeof qi.type === 'string' ? qi.type : undefined;
    answers.forEach((a, k) => {
      const aAt = `${at}.answer[${k}]`;
      if (t === 'group') { run.add('error', 'structure', 'Items of type group should not have answers', aAt, 'QUESTIONNAIRE_QR_ITEM_GROUP'); return; }
      const vk = valueKey(a, 'value');
      const allowed = t ? ANSWER_TYPES[t] : undefined;
      if (vk && allowed && !allowed.includes(vk.slice(5))) {
        run.add('error', 'structure', `Answer value must be of type ${allowed.map((x) => x.charAt(0).toLowerCase() + x.slice(1)).join(' or ')}, not ${vk.slice(5)}`, aAt, 'QUESTIONNAIRE_QR_ITEM_WRONGTYPE');
      } else if (vk && t === 'choice' && Array.isArray(qi.answerOption) && qi.answerOption.length) {
        const v = a[vk];
        const ok = qi.answerOption.some((o) => isObj(o) && Object.keys(o).some((ok2) => ok2.startsWith('value') && sameAnswer(o[ok2], v)));
        if (!ok) run.add('error', 'code-invalid', 'The value provided is not in the list of answer options for this question', aAt, 'QUESTIONNAIRE_QR_ITEM_NOOPTIONS');
      }
      const nested = Array.isArray(a.item) ? a.item.filter(isObj) : [];
      if (nested.length) checkItems(run, items(qi), nested, aAt, inProgress);
    });
    checkItems(run, items(qi), items(ri), at, inProgress);
  });
  // required questions without enableWhen must be answered (or present, for groups)
  for (const qi of qItems) {
    if (qi.required !== true || Array.isArray(qi.enableWhen) || typeof qi.linkId !== 'string') continue;
    const r = rItems.find((x) => x.linkId === qi.linkId);
    const answered = r !== undefined && (qi.type === 'group' || qi.type === 'display' || (Array.isArray(r.answer) && r.answer.length > 0));
    if (!answered) run.add(inProgress ? 'warning' : 'error', 'required', `No response answer found for required item '${qi.linkId.slice(0, 64)}'`, path, 'QUESTIONNAIRE_QR_ITEM_MISSING');
  }
}

function sameAnswer(a: unknown, b: unknown): boolean {
  if (isObj(a) && isObj(b)) return a.code === b.code && (a.system === undefined || b.system === undefined || a.system === b.system);
  return a === b;
}
