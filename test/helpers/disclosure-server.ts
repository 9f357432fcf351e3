/**
 * A real Node-RED (this package linked in) with `adminAuth` and one `nhs-store` on a given SQLite
 * file, for the disclosure report e2e test and `bench:audit`: the report is asked for through
 * the admin endpoint exactly as the sidebar asks, with a bearer token.
 */
import { startNodeRed, type NodeRedProcess } from './node-red-process';

export const PASSWORD = 'disclosure-test-password';
// bcryptjs ships with Node-RED (its adminAuth uses it); resolved from node-red so it is the same one.
const bcrypt = require(require.resolve('bcryptjs', { paths: [require.resolve('node-red')] })) as { hashSync(p: string, rounds: number): string };

/** Users: `auditor` may reveal audit data; `reader` has Node-RED's read scope; `searcher` only nhs.audit.read. */
export const USERS = [
  { username: 'auditor', permissions: ['read', 'nhs.audit.read', 'nhs.audit.reveal'] },
  { username: 'reader', permissions: 'read' },
  { username: 'searcher', permissions: ['nhs.audit.read'] },
];

export async function startDisclosureServer(storeFile: string, flows: unknown[] = []): Promise<NodeRedProcess> {
  const hash = bcrypt.hashSync(PASSWORD, 4);
  return startNodeRed({
    flows: [{ id: 's1', type: 'nhs-store', name: 'bench store', backend: 'sqlite', file: storeFile, durability: 'normal', retentionDays: 0, sizeWarnMB: 0 }, ...flows],
    settings: { adminAuth: { type: 'credentials', users: USERS.map((u) => ({ ...u, password: hash })) } },
  });
}

export async function tokenFor(nr: NodeRedProcess, username: string): Promise<string> {
  const r = await fetch(`${nr.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: '', username, password: PASSWORD }),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`token for ${username}: ${r.status} ${text}`);
  return (JSON.parse(text) as { access_token: string }).access_token;
}

/** GET an admin path with an optional bearer token. */
export async function adminGet(nr: NodeRedProcess, path: string, token?: string): Promise<{ status: number; text: string; headers: Headers }> {
  const r = await fetch(`${nr.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(60_000) });
  return { status: r.status, text: await r.text(), headers: r.headers };
}
