/**
 * A strict reader of the Prometheus text exposition format 0.0.4 (Prometheus "Exposition
 * formats"): `# HELP` / `# TYPE` lines, then samples `name{label="value",...} value`. Throws on a
 * line that is not one of these, so a test using it also checks the format.
 */
export interface Sample { name: string; labels: Record<string, string>; value: number }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  const typed = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const where = `line ${i + 1}: ${line.slice(0, 80)}`;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      if (!NAME.test(m[2] as string)) throw new Error(`bad metric name, ${where}`);
      if (m[1] === 'TYPE') {
        if (!TYPES.has(m[3] ?? '')) throw new Error(`bad type, ${where}`);
        if (typed.has(m[2] as string)) throw new Error(`second TYPE, ${where}`);
        typed.set(m[2] as string, m[3] as string);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`not a sample, ${where}`);
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest) {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/.exec(rest);
      if (!l) throw new Error(`bad labels, ${where}`);
      labels[l[1] as string] = (l[2] as string).replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(l[0].length);
    }
    const v = m[4] as string;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') throw new Error(`bad value, ${where}`);
    const base = (m[1] as string).replace(/_(bucket|sum|count|total)$/, '');
    if (!typed.has(m[1] as string) && !typed.has(base)) throw new Error(`sample without TYPE, ${where}`);
    out.push({ name: m[1] as string, labels, value });
  }
  return out;
}
