/**
 * SNOMED CT Expression Constraint Language (ECL 2.2, "SNOMED CT Expression Constraint Language
 * Specification and Guide", Appendix A ABNF) and SNOMED CT Compositional Grammar (SCG 2.4,
 * Appendix A ABNF) for post-coordinated expressions: recursive-descent recognisers that report
 * the first syntax error with its 1-based position, plus SCTIDs that cannot be concept ids
 * (length, partition, Verhoeff check digit). They judge syntax only: whether a concept exists or
 * an attribute applies needs a terminology server.
 *
 * Covered ECL: constraint operators (symbols and long forms: `<`, `<<`, `<!`, `<<!`, `>`, `>>`,
 * `>!`, `>>!`, `!!>`, `!!<`, `descendantOf`…), member-of `^` with `[fields]`, wildcard, concept
 * references with terms, alternate identifiers (`scheme#code`), compound constraints (AND / OR /
 * MINUS, `,`; mixing operators without brackets is an error, as the grammar requires), dotted
 * attributes, refinements with attribute sets and groups, cardinality `[m..n]`, reverse flag `R`,
 * expression / numeric (`#n`) / string / boolean comparisons, filter constraints `{{ … }}`
 * (description `D`, concept `C`, member `M` filters and `+HISTORY` supplements) and comments.
 */
import { issue, type Issue } from '../outcome';
import { plausibleSctId } from './sctid';

export interface EclResult { ok: boolean; issues: Issue[] }

class EclSyntax extends Error {
  constructor(message: string, readonly pos: number) { super(message); }
}

const CONSTRAINT_WORDS = ['childOrSelfOf', 'descendantOrSelfOf', 'parentOrSelfOf', 'ancestorOrSelfOf', 'childOf', 'descendantOf', 'parentOf', 'ancestorOf', 'memberOf'];
const SYMBOL_OPS = ['!!>', '!!<', '<<!', '>>!', '<<', '<!', '>>', '>!', '<', '>'];
const DESCRIPTION_FILTERS = new Set(['term', 'language', 'typeid', 'type', 'dialectid', 'dialect', 'moduleid', 'effectivetime', 'active', 'id', 'semantictag', 'preferredin', 'acceptablein', 'languagerefsetid']);
const CONCEPT_FILTERS = new Set(['definitionstatusid', 'definitionstatus', 'moduleid', 'effectivetime', 'active', 'semantictag']);
const MAX_DEPTH = 200;

/** Shared scanner for both grammars. */
class Scanner {
  i = 0;
  depth = 0;
  readonly ids: { id: string; pos: number }[] = [];
  constructor(readonly s: string) {}
  fail(msg: string, at = this.i): never { throw new EclSyntax(msg, at); }
  ws(): void {
    for (;;) {
      while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
      if (this.s.startsWith('/*', this.i)) {
        const end = this.s.indexOf('*/', this.i + 2);
        if (end < 0) this.fail('unterminated comment');
        this.i = end + 2;
        continue;
      }
      return;
    }
  }
  peek(n = 0): string { return this.s[this.i + n] ?? ''; }
  at(lit: string): boolean { return this.s.startsWith(lit, this.i); }
  eat(lit: string): boolean { if (this.at(lit)) { this.i += lit.length; return true; } return false; }
  expect(lit: string, what = `'${lit}'`): void { if (!this.eat(lit)) this.fail(`${what} expected${this.describeHere()}`); }
  describeHere(): string { return this.i >= this.s.length ? ' (end of text)' : ` (found '${this.s.slice(this.i, this.i + 12)}')`; }
  /** A case-insensitive keyword followed by a non-word character. */
  word(w: string): boolean {
    const cand = this.s.slice(this.i, this.i + w.length);
    if (cand.toLowerCase() !== w.toLowerCase()) return false;
    if (/[A-Za-z0-9_-]/.test(this.s[this.i + w.length] ?? '')) return false;
    this.i += w.length;
    return true;
  }
  enter(): void { if (++this.depth > MAX_DEPTH) this.fail('expression nested too deeply'); }
  leave(): void { this.depth--; }
  sctId(): void {
    const m = /^[0-9]+/.exec(this.s.slice(this.i));
    if (!m) this.fail(`concept id expected${this.describeHere()}`);
    const id = m[0];
    if (id.length < 6 || id.length > 18 || id.startsWith('0')) this.fail(`'${id}' is not an SCTID (6 to 18 digits, no leading zero)`);
    this.ids.push({ id, pos: this.i });
    this.i += id.length;
  }
  /** `|term|` after a concept id: any characters but `|`. */
  term(): void {
    const save = this.i;
    this.ws();
    if (!this.eat('|')) { this.i = save; return; }
    const end = this.s.indexOf('|', this.i);
    if (end < 0) this.fail("unterminated term: closing '|' missing");
    if (!this.s.slice(this.i, end).trim()) this.fail('empty term between pipes');
    this.i = end + 1;
  }
  quoted(): void {
    if (!this.eat('"')) this.fail(`'"' expected${this.describeHere()}`);
    while (this.i < this.s.length && this.s[this.i] !== '"') this.i += this.s[this.i] === '\\' ? 2 : 1;
    if (this.i >= this.s.length) this.fail('unterminated string: closing \'"\' missing');
    this.i++;
  }
  number(): void {
    const m = /^[+-]?(\d+(\.\d+)?)/.exec(this.s.slice(this.i));
    if (!m) this.fail(`number expected${this.describeHere()}`);
    this.i += m[0].length;
  }
}

class EclParser extends Scanner {
  /** expressionConstraint = ws ( refined / compound / dotted / sub ) ws */
  expressionConstraint(): void {
    this.enter();
    this.ws();
    this.subExpressionConstraint();
    this.ws();
    if (this.eat(':')) {
      this.ws();
      this.refinement();
    } else {
      const op = this.binaryOp();
      if (op) {
        this.ws();
        this.subExpressionConstraint();
        this.ws();
        if (op === 'minus') {
          const at = this.i;
          if (this.binaryOp()) this.fail('MINUS takes exactly two operands: use brackets to combine it with other operators', at);
        } else {
          for (;;) {
            const save = this.i;
            const next = this.binaryOp();
            if (!next) break;
            if (next !== op) this.fail(`'${op.toUpperCase()}' and '${next.toUpperCase()}' cannot be mixed without brackets`, save);
            this.ws();
            this.subExpressionConstraint();
            this.ws();
          }
        }
      } else {
        while (this.eat('.')) {
          this.ws();
          this.subExpressionConstraint(); // dotted attribute name
          this.ws();
        }
      }
    }
    this.ws();
    this.leave();
  }

  binaryOp(): 'and' | 'or' | 'minus' | undefined {
    if (this.eat(',')) { this.ws(); return 'and'; }
    if (this.word('and')) return 'and';
    if (this.word('or')) return 'or';
    if (this.word('minus')) return 'minus';
    return undefined;
  }

  constraintOperator(): boolean {
    for (const op of SYMBOL_OPS) if (this.eat(op)) return true;
    for (const w of CONSTRAINT_WORDS) if (w !== 'memberOf' && this.word(w)) return true;
    return false;
  }

  subExpressionConstraint(): void {
    this.enter();
    if (this.constraintOperator()) this.ws();
    if (this.eat('^') || this.word('memberOf')) {
      this.ws();
      if (this.eat('[')) {
        this.ws();
        if (!this.eat('*')) {
          this.fieldName();
          this.ws();
          while (this.eat(',')) { this.ws(); this.fieldName(); this.ws(); }
        }
        this.ws();
        this.expect(']');
        this.ws();
      }
    }
    this.focus();
    for (;;) {
      const save = this.i;
      this.ws();
      if (this.at('{{')) this.filterConstraint();
      else { this.i = save; break; }
    }
    this.leave();
  }

  fieldName(): void {
    const m = /^[A-Za-z][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (!m) this.fail(`refset field name expected${this.describeHere()}`);
    this.i += m[0].length;
  }

  focus(): void {
    if (this.eat('*')) return;
    if (this.eat('ANY')) return;
    if (this.eat('(')) {
      this.expressionConstraint();
      this.expect(')', "')'");
      return;
    }
    if (/[0-9]/.test(this.peek())) { this.sctId(); this.term(); return; }
    // alternate identifier: scheme#code (ECL 2.2)
    const m = /^([A-Za-z][A-Za-z0-9_.:/-]*)#([A-Za-z0-9_.-]+|"[^"]*")/.exec(this.s.slice(this.i));
    if (m) { this.i += m[0].length; this.term(); return; }
    this.fail(`concept reference, '*' or '(' expected${this.describeHere()}`);
  }

  /** eclRefinement = subRefinement ws [conjunction/disjunction refinement set] */
  refinement(): void {
    this.joined(() => this.subRefinement(), 'a refinement');
  }

  subRefinement(): void {
    this.ws();
    if (this.at('{') && !this.at('{{')) { this.attributeGroup(); return; }
    if (this.at('[') ) {
      // cardinality: either a group's or an attribute's
      const save = this.i;
      this.cardinality();
      this.ws();
      if (this.at('{')) { this.attributeGroup(); return; }
      this.i = save;
      this.attribute();
      return;
    }
    // either a bracketed refinement or an attribute whose name is a bracketed expression
    if (this.at('(') && this.bracketed(() => this.refinement())) return;
    this.attribute();
  }

  attributeGroup(): void {
    this.expect('{');
    this.ws();
    this.refinementInGroup();
    this.ws();
    this.expect('}', "'}'");
  }

  refinementInGroup(): void {
    this.joined(() => this.attributeOrBracket(), 'an attribute set');
  }

  attributeOrBracket(): void {
    if (this.at('(') && this.bracketed(() => { this.ws(); this.refinementInGroup(); })) return;
    this.attribute();
  }

  /** `item` joined by one of conjunction (`,`/AND) or disjunction (OR): ECL needs brackets to mix them. */
  joined(item: () => void, where: string): void {
    this.enter();
    item();
    this.ws();
    let op: string | undefined;
    for (;;) {
      const save = this.i;
      const next = this.eat(',') ? 'and' : this.word('and') ? 'and' : this.word('or') ? 'or' : undefined;
      if (!next) break;
      if (op && next !== op) this.fail(`'${op.toUpperCase()}' and '${next.toUpperCase()}' cannot be mixed without brackets in ${where}`, save);
      op = next;
      this.ws();
      item();
      this.ws();
    }
    this.leave();
  }

  /** At '(': parse `( inner )` and say true, or, when it is not that, go back to the '(' and say false. */
  bracketed(inner: () => void): boolean {
    const save = this.i;
    try {
      this.i++;
      inner();
      this.ws();
      this.expect(')');
      return true;
    } catch (e) {
      if (!(e instanceof EclSyntax)) throw e;
      this.i = save;
      return false;
    }
  }

  cardinality(): void {
    this.expect('[');
    this.ws();
    const m = /^(\d+)\s*\.\.\s*(\d+|\*)/.exec(this.s.slice(this.i));
    if (!m) this.fail(`cardinality 'min..max' expected${this.describeHere()}`);
    if (m[2] !== '*' && Number(m[2]) < Number(m[1])) this.fail(`cardinality maximum ${m[2]} is below its minimum ${m[1]}`);
    this.i += m[0].length;
    this.ws();
    this.expect(']', "']'");
  }

  attribute(): void {
    this.ws();
    if (this.at('[')) { this.cardinality(); this.ws(); }
    if (this.at('R') && /[\s<>(0-9*^]/.test(this.peek(1))) { this.i++; this.ws(); }
    this.subExpressionConstraint(); // attribute name
    this.ws();
    // comparison
    if (this.eat('!=') || this.eat('=')) {
      this.ws();
      if (this.eat('#')) { this.number(); return; }
      if (this.at('"') || /^(match|wild)\s*:/i.test(this.s.slice(this.i))) { this.typedSearchTerm(); return; }
      if (this.at('(') && /^\(\s*(("|match\s*:|wild\s*:))/i.test(this.s.slice(this.i))) { this.searchTermSet(); return; }
      if (this.word('true') || this.word('false')) return;
      this.subExpressionConstraint();
      return;
    }
    if (this.eat('<=') || this.eat('>=') || this.eat('<') || this.eat('>')) {
      this.ws();
      if (this.eat('#')) { this.number(); return; }
      this.fail(`'#' and a number expected after a numeric comparison${this.describeHere()}`);
    }
    this.fail(`comparison operator ('=', '!=', '<', '<=', '>', '>=') expected${this.describeHere()}`);
  }

  typedSearchTerm(): void {
    const m = /^(match|wild)\s*:\s*/i.exec(this.s.slice(this.i));
    if (m) this.i += m[0].length;
    this.quoted();
  }

  searchTermSet(): void {
    this.expect('(');
    this.ws();
    this.typedSearchTerm();
    this.ws();
    while (!this.at(')')) {
      if (this.i >= this.s.length) this.fail("')' expected (end of text)");
      this.typedSearchTerm();
      this.ws();
    }
    this.i++;
  }

  /** filterConstraint = "{{" ws [D|C|M|+HISTORY…] filters "}}" */
  filterConstraint(): void {
    const start = this.i;
    this.expect('{{');
    this.ws();
    if (this.eat('+')) {
      this.ws();
      const h = /^HISTORY(-(MIN|MOD|MAX))?(?![A-Za-z0-9_])/i.exec(this.s.slice(this.i));
      if (!h) this.fail(`'HISTORY', 'HISTORY-MIN', 'HISTORY-MOD' or 'HISTORY-MAX' expected after '+'${this.describeHere()}`);
      this.i += h[0].length;
      this.ws();
      if (this.at('(')) { this.i++; this.expressionConstraint(); this.expect(')'); this.ws(); }
      this.expect('}}', "'}}'");
      return;
    }
    let kind: 'd' | 'c' | 'm' = 'd';
    const k = this.peek().toLowerCase();
    if ((k === 'd' || k === 'c' || k === 'm') && /[\s]/.test(this.peek(1))) { kind = k; this.i++; this.ws(); }
    this.filter(kind);
    this.ws();
    while (this.eat(',')) { this.ws(); this.filter(kind); this.ws(); }
    if (!this.eat('}}')) this.fail(`'}}' expected to close the filter opened at position ${start + 1}${this.describeHere()}`);
  }

  filter(kind: 'd' | 'c' | 'm'): void {
    const nameAt = this.i;
    const m = /^[A-Za-z][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (!m) this.fail(`filter name expected${this.describeHere()}`);
    const name = m[0];
    const lower = name.toLowerCase();
    if (kind === 'd' && !DESCRIPTION_FILTERS.has(lower)) this.fail(`unknown description filter '${name}'`, nameAt);
    if (kind === 'c' && !CONCEPT_FILTERS.has(lower)) this.fail(`unknown concept filter '${name}'`, nameAt);
    this.i += name.length;
    this.ws();
    if (lower === 'effectivetime' || kind === 'm') {
      if (!(this.eat('!=') || this.eat('<=') || this.eat('>=') || this.eat('=') || this.eat('<') || this.eat('>'))) this.fail(`comparison operator expected${this.describeHere()}`);
    } else if (!(this.eat('!=') || this.eat('='))) this.fail(`'=' or '!=' expected after '${name}'${this.describeHere()}`);
    this.ws();
    if (lower === 'term') {
      if (this.at('(')) this.searchTermSet(); else this.typedSearchTerm();
      return;
    }
    if (lower === 'active') {
      if (!(this.word('true') || this.word('false') || this.eat('1') || this.eat('0'))) this.fail(`true, false, 1 or 0 expected${this.describeHere()}`);
      return;
    }
    if (lower === 'effectivetime') {
      if (this.at('(')) { this.i++; this.ws(); while (!this.at(')')) { this.date(); this.ws(); if (this.i >= this.s.length) this.fail("')' expected"); } this.i++; } else this.date();
      return;
    }
    if (kind === 'm' && (this.at('#') || this.at('"') || /^(true|false)\b/.test(this.s.slice(this.i)))) {
      if (this.eat('#')) this.number(); else if (this.at('"')) this.quoted(); else this.i += this.s.slice(this.i).startsWith('true') ? 4 : 5;
      return;
    }
    // a token, a set of tokens / concepts, or a subexpression constraint
    if (this.at('(')) {
      this.i++;
      this.ws();
      while (!this.at(')')) {
        if (this.i >= this.s.length) this.fail("')' expected (end of text)");
        this.tokenOrConcept();
        this.ws();
      }
      this.i++;
      return;
    }
    this.tokenOrConcept();
  }

  tokenOrConcept(): void {
    if (/[0-9<>^*(]/.test(this.peek()) || this.at('!!')) { this.subExpressionConstraint(); return; }
    const m = /^[A-Za-z][A-Za-z0-9_-]*/.exec(this.s.slice(this.i));
    if (!m) this.fail(`value expected${this.describeHere()}`);
    this.i += m[0].length;
  }

  date(): void {
    if (!this.eat('"')) this.fail(`'"' and a date (YYYYMMDD) expected${this.describeHere()}`);
    const m = /^(\d{4})(\d{2})(\d{2})"/.exec(this.s.slice(this.i));
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 12 || Number(m[3]) < 1 || Number(m[3]) > 31) this.fail('a date as "YYYYMMDD" expected');
    this.i += m[0].length;
  }
}

class ScgParser extends Scanner {
  /** expression = ws [definitionStatus ws] subExpression ws */
  expression(): void {
    this.ws();
    if (this.eat('===') || this.eat('<<<')) this.ws();
    this.subExpression();
    this.ws();
  }

  subExpression(): void {
    this.enter();
    this.conceptReference();
    this.ws();
    while (this.eat('+')) { this.ws(); this.conceptReference(); this.ws(); }
    if (this.eat(':')) { this.ws(); this.refinement(); }
    this.leave();
  }

  conceptReference(): void { this.sctId(); this.term(); }

  /** refinement = (attributeSet / attributeGroup) *(ws [',' ws] attributeGroup) */
  refinement(): void {
    if (this.at('{')) this.attributeGroup(); else this.attributeSet();
    for (;;) {
      const save = this.i;
      this.ws();
      if (this.eat(',')) this.ws();
      if (this.at('{')) this.attributeGroup();
      else { this.i = save; return; }
    }
  }

  attributeGroup(): void {
    this.expect('{');
    this.ws();
    this.attributeSet();
    this.ws();
    this.expect('}', "'}'");
  }

  attributeSet(): void {
    this.attribute();
    for (;;) {
      const save = this.i;
      this.ws();
      if (!this.eat(',')) { this.i = save; return; }
      this.ws();
      if (this.at('{')) { this.i = save; return; } // a group after the set
      this.attribute();
    }
  }

  attribute(): void {
    this.conceptReference();
    this.ws();
    this.expect('=', "'='");
    this.ws();
    if (this.eat('#')) { this.number(); return; }
    if (this.at('"')) { this.quoted(); return; }
    if (this.word('true') || this.word('false')) return;
    if (this.eat('(')) { this.ws(); this.subExpression(); this.ws(); this.expect(')', "')'"); return; }
    this.conceptReference();
  }
}

function run(p: Scanner, body: () => void, path: string | undefined, what: string, messageId: string): EclResult {
  const issues: Issue[] = [];
  if (!p.s.trim()) return { ok: false, issues: [issue('error', 'invalid', `Empty ${what}`, path, messageId)] };
  try {
    body();
    if (p.i < p.s.length) p.fail(`unexpected text '${p.s.slice(p.i, p.i + 12)}'`);
  } catch (e) {
    if (!(e instanceof EclSyntax)) throw e;
    issues.push(issue('error', 'invalid', `${what} syntax error at position ${e.pos + 1}: ${e.message}`, path, messageId));
    return { ok: false, issues };
  }
  for (const { id, pos } of p.ids) {
    if (!plausibleSctId(id)) issues.push(issue('error', 'code-invalid', `'${id}' at position ${pos + 1} is not a valid SNOMED CT identifier (partition or check digit)`, path, messageId));
  }
  return { ok: issues.length === 0, issues };
}

/**
 * Parse an ECL 2.x expression constraint. `path` (a FHIRPath, e.g.
 * `ValueSet.compose.include[0].filter[0].value`) is put on each issue.
 */
export function parseEcl(text: string, path?: string): EclResult {
  const p = new EclParser(text);
  return run(p, () => p.expressionConstraint(), path, 'ECL', 'SNOMED_ECL_SYNTAX');
}

/** Parse a SNOMED CT compositional grammar expression (post-coordinated; SCG 2.4). */
export function parseScg(text: string, path?: string): EclResult {
  const p = new ScgParser(text);
  return run(p, () => p.expression(), path, 'SNOMED CT expression', 'SNOMED_SCG_SYNTAX');
}
