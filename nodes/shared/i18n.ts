/**
 * Message catalogs, the Node-RED way: `nodes/locales/<lang>/<file>.json` with one top-level key,
 * the file's base name. Node-RED registers the catalog beside each node file and binds `RED._` to
 * that node set's namespace. Where a host has no catalog for it (node-red-node-test-helper
 * answers every key with the key itself) the English catalog shipped beside this file is read
 * instead, so status and error texts are never raw keys.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RED } from './types';

export type Translate = (key: string, substitutions?: Record<string, unknown>) => string;

const english = new Map<string, Record<string, unknown>>();

function englishCatalog(base: string): Record<string, unknown> {
  let c = english.get(base);
  if (!c) {
    try {
      c = JSON.parse(readFileSync(join(__dirname, '..', 'locales', 'en-US', `${base}.json`), 'utf8')) as Record<string, unknown>;
    } catch {
      c = {};
    }
    english.set(base, c);
  }
  return c;
}

/** `a.b.c` in the English catalog, `__name__` placeholders filled as i18next does. */
function fromEnglish(base: string, key: string, subs: Record<string, unknown> | undefined): string {
  let v: unknown = englishCatalog(base);
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'string') return key;
  return v.replace(/__([A-Za-z0-9_]+)__/g, (m, name: string) => (subs && name in subs ? String(subs[name]) : m));
}

/** The catalog lookup for the node file `base` (keys include the base: `hl7.status.counts`). */
export function catalog(RED: RED, base: string): Translate {
  return (key, subs) => {
    const t = typeof RED._ === 'function' ? RED._(key, subs) : key;
    return t === key || typeof t !== 'string' ? fromEnglish(base, key, subs) : t;
  };
}
