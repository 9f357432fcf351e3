/**
 * Safe JSON reading for the FHIR validator (FHIR R4 §2.6.2 "JSON Representation of Resources").
 * JSON.parse alone would accept duplicate keys (keeping the last silently), and its errors do
 * not say what a person did wrong (a comment, a trailing comma). So a single iterative scan
 * (explicit stack: 10,000-deep input cannot blow the call stack) checks size, depth, syntax and
 * duplicate keys first, naming the FHIRPath-ish location and the reference validator's wording;
 * only a clean text is then handed to JSON.parse.
 */

/** One syntax problem found by the scan. */
export interface JsonProblem {
  /** Reference validator message id where one exists (e.g. `JSON_COMMENTS_NOT_ALLOWED`). */
  messageId: string;
  message: string;
  /** Path like `Patient.name[0]` (best effort: resourceType is only known once seen). */
  path: string;
  line: number;
  /** fatal: the text cannot be read at all; error: it can be read but breaks the JSON rules. */
  severity: 'fatal' | 'error';
}

export interface JsonReadOptions {
  /** Largest accepted input in bytes (default 10 MiB). */
  maxBytes?: number;
  /** Deepest accepted nesting of objects/arrays (default 256). */
  maxDepth?: number;
  /** Accept `//` and block comments (the reference validator's allow-comments option). */
  allowComments?: boolean;
}

export type JsonReadResult =
  | { ok: true; value: unknown; problems: JsonProblem[] }
  | { ok: false; problems: JsonProblem[] };

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 256;

interface Frame { kind: 'obj' | 'arr'; keys?: Set<string>; name: string; index: number }

/** Read FHIR JSON text under size/depth limits; never throws for bad input. */
export function readJson(input: string | Buffer, opts: JsonReadOptions = {}): JsonReadResult {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const bytes = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (bytes > maxBytes) {
    return { ok: false, problems: [{ messageId: 'NHS_JSON_TOO_LARGE', message: `The JSON document is ${bytes} bytes, larger than the limit of ${maxBytes} bytes`, path: '', line: 0, severity: 'fatal' }] };
  }
  let text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const comments: [number, number][] = [];
  let problems = scan(text, maxDepth, comments);
  if (opts.allowComments && comments.length) {
    problems = problems.filter((p) => p.messageId !== 'JSON_COMMENTS_NOT_ALLOWED');
    // Blank the comments out (same length, newlines kept) so JSON.parse sees plain JSON.
    let out = ''; let from = 0;
    for (const [a, b] of comments) { out += text.slice(from, a) + text.slice(a, b).replace(/[^\n]/g, ' '); from = b; }
    text = out + text.slice(from);
  }
  if (problems.length) return { ok: false, problems };
  try {
    return { ok: true, value: JSON.parse(text) as unknown, problems };
  } catch (e) {
    // The scan accepted it, JSON.parse did not: report, never throw.
    return { ok: false, problems: [{ messageId: 'NHS_JSON_SYNTAX', message: `Error parsing JSON: ${(e as Error).message}`, path: '', line: 0, severity: 'fatal' }] };
  }
}

function isWs(c: number): boolean { return c === 32 || c === 10 || c === 13 || c === 9; }

/**
 * Iterative structural scan. Stops at the first fatal problem; collects non-fatal ones
 * (comments, extra commas, duplicate keys) so a person sees all of them at once.
 */
function scan(s: string, maxDepth: number, comments: [number, number][]): JsonProblem[] {
  const out: JsonProblem[] = [];
  const stack: Frame[] = [];
  let i = 0;
  let line = 1;
  let rootType = '';
  let lastKey = '';
  const n = s.length;
  const path = (): string => {
    let p = rootType;
    for (let k = 1; k < stack.length; k++) {
      const f = stack[k]!;
      if (stack[k - 1]!.kind === 'arr') continue; // an array item: the index is already written
      p += (p ? '.' : '') + f.name;
      if (f.kind === 'arr') p += `[${Math.max(0, f.index)}]`;
    }
    return p;
  };
  const add = (messageId: string, message: string, severity: 'fatal' | 'error' = 'error'): void => {
    if (out.length < 50) out.push({ messageId, message, path: path(), line, severity });
  };
  const fatal = (msg: string): JsonProblem[] => { add('NHS_JSON_SYNTAX', `Error parsing JSON: ${msg} at line ${line}`, 'fatal'); return out; };

  /** Skip whitespace and comments (reporting comments). False on an unterminated comment. */
  const skip = (): boolean => {
    for (;;) {
      while (i < n && isWs(s.charCodeAt(i))) { if (s.charCodeAt(i) === 10) line++; i++; }
      if (s.charCodeAt(i) === 47 /* / */ && (s.charCodeAt(i + 1) === 47 || s.charCodeAt(i + 1) === 42)) {
        add('JSON_COMMENTS_NOT_ALLOWED', 'Comments are not allowed in JSON');
        const start = i;
        if (s.charCodeAt(i + 1) === 47) { while (i < n && s.charCodeAt(i) !== 10) i++; }
        else {
          const end = s.indexOf('*/', i + 2);
          if (end < 0) return false;
          for (let k = i; k < end; k++) if (s.charCodeAt(k) === 10) line++;
          i = end + 2;
        }
        comments.push([start, i]);
        continue;
      }
      return true;
    }
  };
  /** Read a string starting at the quote; returns its raw content or undefined when bad. */
  const str = (): string | undefined => {
    const start = ++i;
    let escaped = false;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 92) { escaped = true; i += 2; continue; }
      if (c === 34) { const raw = s.slice(start, i); i++; return escaped ? safeUnescape(raw) : raw; }
      if (c < 32) return undefined;
      i++;
    }
    return undefined;
  };
  const scalar = (): boolean => {
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(s.slice(i, i + 400));
    if (!m) return false;
    i += m[0].length;
    return true;
  };

  if (!skip()) return fatal('unterminated comment');
  // value := object | array | string | scalar ; driven by an explicit stack.
  let expectValue = true;
  for (;;) {
    if (expectValue) {
      if (!skip()) return fatal('unterminated comment');
      if (i >= n) return fatal('Unexpected end of file');
      const c = s.charCodeAt(i);
      if (c === 123 /* { */ || c === 91 /* [ */) {
        if (stack.length >= maxDepth) {
          add('NHS_JSON_TOO_DEEP', `The JSON is nested more than ${maxDepth} levels deep`, 'fatal');
          return out;
        }
        const parent = stack[stack.length - 1];
        const name = parent?.kind === 'obj' ? lastKey : '';
        stack.push(c === 123 ? { kind: 'obj', keys: new Set(), name, index: -1 } : { kind: 'arr', name, index: -1 });
        i++;
        if (!skip()) return fatal('unterminated comment');
        if (c === 123) {
          if (s.charCodeAt(i) === 125) { i++; stack.pop(); expectValue = false; continue; }
          if (!readKey()) return out;
          continue;
        }
        if (s.charCodeAt(i) === 93) { i++; stack.pop(); expectValue = false; continue; }
        stack[stack.length - 1]!.index = 0;
        continue;
      }
      if (c === 34) {
        const v = str();
        if (v === undefined) return fatal('bad string');
        if (stack.length === 1 && lastKey === 'resourceType' && !rootType) rootType = v;
      } else if (!scalar()) {
        return fatal(`Unexpected content '${s[i]}'`);
      }
      expectValue = false;
      continue;
    }
    // after a value: a separator or a close
    if (!skip()) return fatal('unterminated comment');
    const top = stack[stack.length - 1];
    if (!top) {
      if (i < n) return fatal(`Unexpected content '${s[i]}' after the end of the document`);
      return out;
    }
    if (i >= n) return fatal('Unexpected end of file (the document was cut short)');
    const c = s.charCodeAt(i);
    const close = top.kind === 'obj' ? 125 : 93;
    if (c === close) { i++; stack.pop(); continue; }
    if (c === 125 || c === 93) return fatal(`Unexpected close marker '${s[i]}'. Expected '${top.kind === 'obj' ? '}' : ']'}'`);
    if (c === 44 /* , */) {
      i++;
      if (!skip()) return fatal('unterminated comment');
      if (s.charCodeAt(i) === close) {
        add('JSON_COMMA_EXTRA', `There is an extra comma at the end of the ${top.kind === 'obj' ? 'Object' : 'Array'} in the JSON`);
        i++; stack.pop(); continue;
      }
      if (top.kind === 'obj') { if (!readKey()) return out; } else { top.index++; expectValue = true; }
      continue;
    }
    // JSON5-style missing comma: the next token starts a member/value straight away.
    if (c === 34 || c === 123 || c === 91 || (c >= 48 && c <= 57) || c === 45 || c === 116 || c === 102 || c === 110) {
      add('JSON_COMMA_MISSING', 'A Comma is missing in the JSON');
      if (top.kind === 'obj') { if (!readKey()) return out; } else { top.index++; expectValue = true; }
      continue;
    }
    return fatal(`Unexpected content '${s[i]}'`);
  }

  // Reads `"key" :` inside the current object; sets expectValue. Declared after use (hoisted).
  function readKey(): boolean {
    const top = stack[stack.length - 1]!;
    if (s.charCodeAt(i) !== 34) { fatal(`Expected a property name but found '${s[i] ?? 'end of file'}'`); return false; }
    const k = str();
    if (k === undefined) { fatal('bad string'); return false; }
    if (top.keys!.has(k)) add('NHS_JSON_DUPLICATE_KEY', `Duplicated property name: ${k}`);
    top.keys!.add(k);
    lastKey = k;
    if (!skip()) { fatal('unterminated comment'); return false; }
    if (s.charCodeAt(i) !== 58) { fatal(`Expected ':' after property '${k}'`); return false; }
    i++;
    expectValue = true;
    return true;
  }
}

function safeUnescape(raw: string): string {
  try { return JSON.parse(`"${raw}"`) as string; } catch { return raw; }
}
