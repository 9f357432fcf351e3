/**
 * Source-address allow-list for MLLP listeners: IPv4 and IPv6 addresses and CIDR ranges
 * (RFC 4632, RFC 4291 §2.3). IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, RFC 4291 §2.5.5.2),
 * which a dual-stack listener reports for IPv4 peers, are matched against the IPv4 rules.
 */
import { BlockList, isIP } from 'node:net';
import { NhsError } from '../errors';

export interface AllowList {
  /** True when `address` may connect (always true for an empty list). */
  allows(address: string | undefined): boolean;
  readonly size: number;
}

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** Strip the IPv4-mapped prefix and any zone id so a peer address compares as its family. */
export function normaliseAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const bare = address.replace(/%.*$/, '');
  const m = MAPPED.exec(bare);
  if (m?.[1]) return { address: m[1], family: 'ipv4' };
  const v = isIP(bare);
  if (v === 4) return { address: bare, family: 'ipv4' };
  if (v === 6) return { address: bare, family: 'ipv6' };
  return undefined;
}

/**
 * Parse rules like `10.0.0.0/8`, `192.168.1.7`, `2001:db8::/32`, `::1`, `::ffff:10.1.2.0/120`.
 * Accepts an array or a comma/whitespace separated string. Throws `MLLP_BAD_ALLOW_LIST` naming
 * the rule that does not parse (configuration error, not data).
 */
export function parseAllowList(rules: string | readonly string[] | undefined): AllowList {
  const list = (typeof rules === 'string' ? rules.split(/[\s,;]+/) : [...(rules ?? [])]).map((r) => r.trim()).filter(Boolean);
  const block = new BlockList();
  for (const rule of list) {
    const [addrPart, prefixPart, extra] = rule.split('/');
    const n = addrPart !== undefined ? normaliseAddress(addrPart) : undefined;
    if (!n || extra !== undefined) throw new NhsError('MLLP_BAD_ALLOW_LIST', `allow-list rule not an IP address or CIDR: ${rule}`);
    const max = n.family === 'ipv4' ? 32 : 128;
    let prefix = prefixPart === undefined ? max : Number(prefixPart);
    // `::ffff:a.b.c.d/120` was written against the mapped space: shift it to the IPv4 prefix.
    if (prefixPart !== undefined && n.family === 'ipv4' && MAPPED.test(addrPart ?? '')) prefix -= 96;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixPart !== undefined && !/^\d+$/.test(prefixPart))) {
      throw new NhsError('MLLP_BAD_ALLOW_LIST', `allow-list rule has a bad prefix length: ${rule}`);
    }
    block.addSubnet(n.address, prefix, n.family);
  }
  return {
    size: list.length,
    allows(address) {
      if (list.length === 0) return true;
      if (!address) return false;
      const n = normaliseAddress(address);
      return n !== undefined && block.check(n.address, n.family);
    },
  };
}
