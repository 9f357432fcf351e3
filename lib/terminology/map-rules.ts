/**
 * SNOMED CT extended / complex map rule evaluation (SNOMED International "ICD-10 Mapping
 * Technical Guide": map groups, map priorities and `mapRule`s such as `TRUE`, `OTHERWISE TRUE`,
 * `IFA 248153007 | Male (finding) |`, `IFA 445518008 | Age at onset of clinical finding
 * (observable entity) | < 18.0 years`, joined by `AND`). Rules that need patient context the
 * message does not give (age, sex, or another finding) are not guessed: the rows from that point
 * on are returned as candidates with their advice.
 */
import type { Equivalence, MapTarget } from './maps';

/** Age (years, may be fractional) and sex, when the message provides them. */
export interface PatientContext { age?: number; sex?: 'male' | 'female' | 'other' | 'unknown' }

/** One active RF2 map row (strings shared through an interner). */
export interface Rf2Row {
  group: number;
  priority: number;
  rule: string;
  advice: string;
  target: string;
  correlation: string;
  category?: string;
  /** The row's target as chosen / as a candidate, built on first use and shared afterwards. */
  chosen?: MapTarget;
  cand?: MapTarget;
}

/** SNOMED CT map correlation (RF2 correlationId) → FHIR R4 ConceptMapEquivalence. */
const CORRELATION: Record<string, Equivalence> = {
  '447557004': 'equivalent', // exact match
  '447559001': 'narrower', // broad to narrow: the target is narrower than the source
  '447558009': 'wider', // narrow to broad
  '447560006': 'inexact', // partial overlap
  '447556008': 'unmatched', // not mappable
  '447561005': 'relatedto', // not specified
};

export function correlationToEquivalence(id: string): Equivalence {
  return CORRELATION[id] ?? 'relatedto';
}

const MALE = '248153007';
const FEMALE = '248152002';
/** Age at onset of clinical finding; current chronological age. */
const AGE = new Set(['445518008', '424144002']);
const UNIT_YEARS: Record<string, number> = { year: 1, years: 1, month: 1 / 12, months: 1 / 12, week: 7 / 365.25, weeks: 7 / 365.25, day: 1 / 365.25, days: 1 / 365.25 };

const CONDITION = /^IFA\s+(\d{6,18})\s*\|[^|]*\|\s*(?:(<=|>=|<|>|=)\s*(\d+(?:\.\d+)?)\s*([a-z]+))?$/i;

/** Split on AND outside `| term |` pipes. */
function conjuncts(rule: string): string[] {
  const out: string[] = [];
  let inTerm = false;
  let start = 0;
  for (let i = 0; i < rule.length; i++) {
    const c = rule[i];
    if (c === '|') inTerm = !inTerm;
    else if (!inTerm && rule.startsWith(' AND ', i)) { out.push(rule.slice(start, i).trim()); start = i + 5; i += 4; }
  }
  out.push(rule.slice(start).trim());
  return out;
}

type Check = (ctx: PatientContext) => boolean | undefined;
const ALWAYS: Check = () => true;
const UNKNOWN: Check = () => undefined;

/** Compile one conjunct (`IFA concept | term | [op value unit]`) into a check. */
function compileCondition(part: string): Check {
  const m = CONDITION.exec(part);
  if (!m) return UNKNOWN;
  const [, concept, op, value, unit] = m;
  if (concept === MALE || concept === FEMALE) {
    if (op) return UNKNOWN;
    const want = concept === MALE ? 'male' : 'female';
    return (ctx) => (ctx.sex === undefined || ctx.sex === 'unknown' ? undefined : ctx.sex === want);
  }
  if (AGE.has(concept!) && op && value && unit) {
    const factor = UNIT_YEARS[unit.toLowerCase()];
    if (factor === undefined) return UNKNOWN;
    const limit = Number(value) * factor;
    const cmp = op === '<' ? (a: number) => a < limit : op === '<=' ? (a: number) => a <= limit : op === '>' ? (a: number) => a > limit : op === '>=' ? (a: number) => a >= limit : (a: number) => a === limit;
    return (ctx) => (ctx.age === undefined || !Number.isFinite(ctx.age) ? undefined : cmp(ctx.age));
  }
  return UNKNOWN; // co-morbidity or other finding: needs the patient record
}

function compileRule(rule: string): Check {
  const r = rule.trim();
  if (r === '' || r === 'TRUE' || r === 'OTHERWISE TRUE') return ALWAYS;
  const checks = conjuncts(r).map(compileCondition);
  if (checks.length === 1) return checks[0]!;
  return (ctx) => {
    let result: boolean | undefined = true;
    for (const ch of checks) {
      const v = ch(ctx);
      if (v === false) return false;
      if (v === undefined) result = undefined;
    }
    return result;
  };
}

/** Rules are few and repeated across rows: compile each text once. */
const compiled = new Map<string, Check>();

/**
 * Evaluate one rule: true, false, or undefined when patient context is missing or the rule
 * names something we cannot judge from a message (another finding, an unknown form).
 */
export function evaluateRule(rule: string, ctx: PatientContext): boolean | undefined {
  let ch = compiled.get(rule);
  if (!ch) {
    ch = compileRule(rule);
    if (compiled.size < 50_000) compiled.set(rule, ch);
  }
  return ch(ctx);
}

function toTarget(row: Rf2Row, system: string, candidate: boolean): MapTarget {
  const hit = candidate ? row.cand : row.chosen;
  if (hit) return hit;
  const t: MapTarget = { system, code: row.target, equivalence: correlationToEquivalence(row.correlation), group: row.group, priority: row.priority };
  if (row.rule) t.rule = row.rule;
  if (row.advice) t.advice = row.advice;
  if (candidate) { t.candidate = true; row.cand = t; } else row.chosen = t;
  return t;
}

const NO_ADVICE: string[] = [];

/**
 * Walk each map group in priority order: the first row whose rule holds is the group's target.
 * A row whose rule cannot be judged makes it and every later row of its group candidates (an
 * earlier undecidable rule might have won). Rows with an empty target contribute their advice.
 */
export function evaluateGroups(rows: readonly Rf2Row[], system: string, ctx: PatientContext): { targets: MapTarget[]; advice: string[] } {
  const targets: MapTarget[] = [];
  let advice = NO_ADVICE;
  let i = 0;
  while (i < rows.length) {
    const group = rows[i]!.group;
    let undecided = false;
    let chosen = false;
    for (; i < rows.length && rows[i]!.group === group; i++) {
      if (chosen) continue;
      const row = rows[i]!;
      const v = evaluateRule(row.rule, ctx);
      if (v === false) continue;
      if (v === undefined || undecided) {
        undecided = true;
        if (row.target) targets.push(toTarget(row, system, true));
        else if (row.advice) (advice === NO_ADVICE ? (advice = []) : advice).push(row.advice);
        continue;
      }
      chosen = true;
      if (row.target) targets.push(toTarget(row, system, false));
      else if (row.advice) (advice === NO_ADVICE ? (advice = []) : advice).push(row.advice);
    }
  }
  return { targets, advice };
}
