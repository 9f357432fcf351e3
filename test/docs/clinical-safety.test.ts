/**
 * The DCB0129 hazard log (docs/clinical-safety/hazard-log.md) is checked against the code base:
 * every node and plugin in package.json `node-red` has a hazard row, every test it links exists,
 * every test title it names is a real (not todo) test in that file, every code file a control names
 * exists, every control is either proved by a test or says "no test yet", and every risk rating
 * agrees with the DCB0129 5 × 5 matrix.
 * The checks run on the real log and, on synthetic logs, are shown to fail.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = join(__dirname, '..', '..');
const logPath = join(root, 'docs', 'clinical-safety', 'hazard-log.md');

const SEVERITIES = ['Minor', 'Significant', 'Considerable', 'Major', 'Catastrophic'] as const;
const LIKELIHOODS = ['Very low', 'Low', 'Medium', 'High', 'Very high'] as const;
/** DCB0129 risk matrix: MATRIX[likelihood][severity], both in the order above. */
const MATRIX: readonly (readonly number[])[] = [
  [1, 1, 2, 2, 3],
  [1, 2, 2, 3, 4],
  [2, 2, 3, 3, 4],
  [2, 3, 3, 4, 5],
  [3, 4, 4, 5, 5],
];

interface TestRef { path: string; title: string }
interface Control { id: string; refs: TestRef[]; noTest: boolean; code: string[] }
interface Rating { severity: string; likelihood: string; risk: number }
interface Hazard { id: string; title: string; nodes: string[]; controls: Control[]; initial?: Rating; residual?: Rating }

const REF = /\[[^\]]*\]\(([^)\s]+)\)\s*›\s*`([^`]+)`/g;

function rating(row: string | undefined): Rating | undefined {
  const m = row && /Severity ([A-Za-z ]+?) · Likelihood ([A-Za-z ]+?) · Risk (\d)/.exec(row);
  return m ? { severity: m[1]!, likelihood: m[2]!, risk: Number(m[3]) } : undefined;
}

/** Hazards of a log: `### HAZ-nnn title` sections with a field table and a controls table. */
export function parseHazardLog(text: string): { hazards: Hazard[]; summary: Map<string, [number, number]> } {
  const hazards: Hazard[] = [];
  const parts = text.split(/^### (?=HAZ-\d{3} )/m).slice(1);
  for (const part of parts) {
    const body = part.split(/^(?:## |---$)/m)[0]!;
    const head = /^(HAZ-\d{3}) (.*)$/m.exec(body)!;
    const field = (name: string): string | undefined => new RegExp(`^\\| ${name} \\|(.*)\\|\\s*$`, 'm').exec(body)?.[1];
    const nodes = [...(field('Nodes') ?? '').matchAll(/`(nhs-[a-z0-9-]+)`/g)].map((m) => m[1]!);
    const controls: Control[] = [];
    for (const line of body.split('\n')) {
      const c = /^\| (C\d+) \|(.*)\|\s*$/.exec(line);
      if (!c) continue;
      const proof = c[2]!.split(' | ').pop() ?? '';
      controls.push({
        id: c[1]!,
        refs: [...proof.matchAll(REF)].map((m) => ({ path: m[1]!, title: m[2]! })),
        noTest: /\bno (?:passing )?test yet\b/.test(proof),
        code: [...c[2]!.matchAll(/`((?:lib|nodes|plugins|bin)\/[\w./-]+\.(?:ts|html))`/g)].map((m) => m[1]!),
      });
    }
    hazards.push({ id: head[1]!, title: head[2]!.trim(), nodes, controls, initial: rating(field('Initial risk')), residual: rating(field('Residual risk')) });
  }
  const summary = new Map<string, [number, number]>();
  for (const m of text.matchAll(/^\| (HAZ-\d{3}) \|[^|]*\| (\d) \| (\d) \|\s*$/gm)) summary.set(m[1]!, [Number(m[2]), Number(m[3])]);
  return { hazards, summary };
}

/**
 * The titles of the tests in a test file, string escapes undone: the first argument of
 * it/test/describe, and `name:` entries of a table when the file runs `it(t.name, …)`.
 * A test marked `todo` is listed apart: it runs but does not yet pass, so it proves nothing.
 */
export function testTitles(source: string): { titles: Set<string>; todo: Set<string> } {
  const titles = new Set<string>();
  const todo = new Set<string>();
  const unescape = (s: string): string => s.replace(/\\(.)/g, '$1');
  const call = /\b(?:it|test|describe)(?:\.(?:only|skip|todo))?\(\s*(['"`])((?:\\[\s\S]|(?!\1)[^\\])*)\1(\s*,\s*\{[^}]*\})?/g;
  for (const m of source.matchAll(call)) {
    const title = unescape(m[2]!);
    if ((m[3] && /\btodo\s*:/.test(m[3])) || m[0].includes('.todo(')) todo.add(title);
    else titles.add(title);
  }
  if (/\b(?:it|test)\(\s*\w+\.name\b/.test(source)) {
    for (const m of source.matchAll(/\bname:\s*(['"`])((?:\\[\s\S]|(?!\1)[^\\])*)\1/g)) titles.add(unescape(m[2]!));
  }
  return { titles, todo };
}

interface CheckContext { logDir: string; nodeTypes: readonly string[]; read: (absPath: string) => string | undefined }

/** Every problem with a hazard log, as one line each; empty when the log holds. */
export function checkHazardLog(text: string, ctx: CheckContext): string[] {
  const problems: string[] = [];
  const { hazards, summary } = parseHazardLog(text);
  if (hazards.length === 0) problems.push('no hazards found');
  const covered = new Set(hazards.flatMap((h) => h.nodes));
  for (const t of ctx.nodeTypes) if (!covered.has(t)) problems.push(`node ${t} has no hazard row`);
  const titlesCache = new Map<string, ReturnType<typeof testTitles> | undefined>();
  for (const h of hazards) {
    if (h.nodes.length === 0) problems.push(`${h.id}: no Nodes row`);
    if (h.controls.length === 0) problems.push(`${h.id}: no controls`);
    for (const [label, r] of [['initial', h.initial], ['residual', h.residual]] as const) {
      if (!r) { problems.push(`${h.id}: no ${label} risk`); continue; }
      const s = SEVERITIES.indexOf(r.severity as (typeof SEVERITIES)[number]);
      const l = LIKELIHOODS.indexOf(r.likelihood as (typeof LIKELIHOODS)[number]);
      if (s < 0 || l < 0) problems.push(`${h.id}: ${label} risk has an unknown severity or likelihood (${r.severity} / ${r.likelihood})`);
      else if (MATRIX[l]![s] !== r.risk) problems.push(`${h.id}: ${label} risk ${r.risk} is not the matrix value ${MATRIX[l]![s]} for ${r.severity} × ${r.likelihood}`);
    }
    const sum = summary.get(h.id);
    if (!sum) problems.push(`${h.id}: missing from the summary table`);
    else if (sum[0] !== h.initial?.risk || sum[1] !== h.residual?.risk) problems.push(`${h.id}: summary says ${sum[0]} → ${sum[1]}, the entry ${h.initial?.risk} → ${h.residual?.risk}`);
    for (const c of h.controls) {
      if (c.refs.length === 0 && !c.noTest) problems.push(`${h.id} ${c.id}: neither a linked test nor "no test yet"`);
      for (const f of c.code) if (ctx.read(join(root, f)) === undefined) problems.push(`${h.id} ${c.id}: names ${f}, which does not exist`);
      for (const ref of c.refs) {
        const abs = resolve(ctx.logDir, ref.path);
        const rel = relative(root, abs);
        if (!/^test\/.+\.test\.ts$/.test(rel)) { problems.push(`${h.id} ${c.id}: ${ref.path} is not a test file under test/`); continue; }
        if (!titlesCache.has(abs)) { const src = ctx.read(abs); titlesCache.set(abs, src === undefined ? undefined : testTitles(src)); }
        const t = titlesCache.get(abs);
        if (!t) { problems.push(`${h.id} ${c.id}: linked test file ${rel} does not exist`); continue; }
        if (t.todo.has(ref.title)) problems.push(`${h.id} ${c.id}: "${ref.title}" in ${rel} is a todo test (it does not pass yet)`);
        else if (!t.titles.has(ref.title)) problems.push(`${h.id} ${c.id}: no test named "${ref.title}" in ${rel}`);
      }
    }
  }
  return problems;
}

function packageNodeTypes(): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string>; plugins?: Record<string, string> } };
  return [...Object.keys(pkg['node-red'].nodes), ...Object.keys(pkg['node-red'].plugins ?? {})];
}

const readIfExists = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);

describe('clinical safety hazard log (DCB0129)', () => {
  it('covers every node and plugin, links only real tests by their exact titles, rates by the matrix', () => {
    const text = readFileSync(logPath, 'utf8');
    const problems = checkHazardLog(text, { logDir: dirname(logPath), nodeTypes: packageNodeTypes(), read: readIfExists });
    assert.deepEqual(problems, []);
    const { hazards } = parseHazardLog(text);
    assert.ok(hazards.length >= 20, `${hazards.length} hazards`);
    assert.ok(packageNodeTypes().length >= 16, 'package.json lists the nodes');
  });

  it('lists every "no test yet" control among the open actions', () => {
    const text = readFileSync(logPath, 'utf8');
    const open = text.slice(text.indexOf('## Open actions'));
    const { hazards } = parseHazardLog(text);
    const untested = hazards.flatMap((h) => h.controls.filter((c) => c.noTest).map((c) => ({ h: h.id, c: c.id, row: text.split('\n').find((l) => l.startsWith(`| ${c.id} |`) && text.indexOf(l) > text.indexOf(`### ${h.id} `)) ?? '' })));
    for (const u of untested) {
      const action = /open action (A-\d{2})/.exec(u.row)?.[1];
      assert.ok(action, `${u.h} ${u.c} names its open action`);
      assert.match(open, new RegExp(`^\\| ${action} \\| ${u.h} \\|`, 'm'), `${action} is listed for ${u.h}`);
    }
  });

  it('lists no open action that no "no test yet" control still needs (a fixed one moves to Closed actions)', () => {
    const text = readFileSync(logPath, 'utf8');
    const open = text.slice(text.indexOf('## Open actions')).split(/^## (?!Open actions)/m)[0]!;
    const listed = [...open.matchAll(/^\| (A-\d{2}) \| (HAZ-\d{3}) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    // The table may be empty (every control tested); its header must still be there to be parsed.
    assert.match(open, /^\| action \| hazard \| what is missing \|$/m, 'the open actions table is found');
    const { hazards } = parseHazardLog(text);
    const needed = new Set<string>();
    for (const h of hazards) {
      const body = text.slice(text.indexOf(`### ${h.id} `)).split(/^### /m)[1] ?? '';
      for (const line of body.split('\n')) {
        const m = /^\| C\d+ \|.*\bno (?:passing )?test yet\b.*open action (A-\d{2})/.exec(line);
        if (m) needed.add(`${m[1]} ${h.id}`);
      }
    }
    assert.deepEqual(listed.filter((a) => !needed.has(a)), [], 'open actions whose controls now have tests');
  });

  it('every relative link in docs/clinical-safety/*.md points to a file that exists', () => {
    const dir = dirname(logPath);
    const broken: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.md'))) {
      for (const m of readFileSync(join(dir, f), 'utf8').replace(/`[^`\n]*`/g, '').matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(m[1]!)) continue;
        if (!existsSync(resolve(dir, m[1]!))) broken.push(`${f}: ${m[1]!}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  describe('each check can fail (synthetic logs)', () => {
    const dir = join(root, 'docs', 'clinical-safety');
    const files: Record<string, string> = {
      [join(root, 'lib', 'x.ts')]: 'export function f(): void {}',
      [join(root, 'test', 'x', 'a.test.ts')]: [
        "it('proves the control', () => {});",
        "it('escaped \\'quote\\' title', () => {});",
        "it('still open', { todo: 'open bug' }, () => {});",
        '// proves a comment',
      ].join('\n'),
    };
    const read = (p: string): string | undefined => files[p];
    const log = (nodes: string, proof: string, risk = 'Severity Major · Likelihood Low · Risk 3', sum = '3 | 2'): string => [
      '| id | hazard | initial | residual |', '|---|---|---|---|', `| HAZ-001 | x | ${sum} |`, '',
      '### HAZ-001 Something', '', '| field | entry |', '|---|---|',
      `| Nodes | ${nodes} |`, `| Initial risk | ${risk} |`, '| Residual risk | Severity Major · Likelihood Very low · Risk 2 |', '',
      '| id | control in the code | proved by |', '|---|---|---|', `| C1 | something (\`lib/x.ts\`, \`f\`). | ${proof} |`, '',
    ].join('\n');
    const good = '[a](../../test/x/a.test.ts) › `proves the control`';
    const ctx = { logDir: dir, nodeTypes: ['nhs-a', 'nhs-b'], read };

    it('a synthetic log that holds gives no problems (so the failures below are the checks)', () => {
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', good), ctx), []);
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', '[a](../../test/x/a.test.ts) › `escaped \'quote\' title`'), ctx), []);
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', '**no test yet** (open action A-01)'), ctx), []);
    });

    it('(a) fails when a node in package.json has no hazard row', () => {
      assert.deepEqual(checkHazardLog(log('`nhs-a`', good), ctx), ['node nhs-b has no hazard row']);
    });

    it('(b) fails when a linked test file does not exist', () => {
      const p = checkHazardLog(log('`nhs-a`, `nhs-b`', '[a](../../test/x/gone.test.ts) › `proves the control`'), ctx);
      assert.deepEqual(p, ['HAZ-001 C1: linked test file test/x/gone.test.ts does not exist']);
      assert.match(checkHazardLog(log('`nhs-a`, `nhs-b`', '[a](../../lib/x.ts) › `proves the control`'), ctx)[0]!, /is not a test file under test\//);
    });

    it('(c) fails when a named test title does not occur in that file, is only a comment, or is a todo', () => {
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', '[a](../../test/x/a.test.ts) › `proves the contro`'), ctx), ['HAZ-001 C1: no test named "proves the contro" in test/x/a.test.ts']);
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', '[a](../../test/x/a.test.ts) › `proves a comment`'), ctx), ['HAZ-001 C1: no test named "proves a comment" in test/x/a.test.ts']);
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', '[a](../../test/x/a.test.ts) › `still open`'), ctx), ['HAZ-001 C1: "still open" in test/x/a.test.ts is a todo test (it does not pass yet)']);
    });

    it('fails when a control has neither a test nor "no test yet", names a code file that does not exist, or a rating disagrees with the matrix or the summary', () => {
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', 'trust us'), ctx), ['HAZ-001 C1: neither a linked test nor "no test yet"']);
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', good).replace('`lib/x.ts`', '`lib/gone.ts`'), ctx), ['HAZ-001 C1: names lib/gone.ts, which does not exist']);
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', good, 'Severity Major · Likelihood Low · Risk 2', '2 | 2'), ctx), ['HAZ-001: initial risk 2 is not the matrix value 3 for Major × Low']);
      assert.deepEqual(checkHazardLog(log('`nhs-a`, `nhs-b`', good, undefined, '4 | 2'), ctx), ['HAZ-001: summary says 4 → 2, the entry 3 → 2']);
    });
  });
});
