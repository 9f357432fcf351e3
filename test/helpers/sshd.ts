/**
 * A real OpenSSH server for the SFTP tests: `/usr/sbin/sshd -D -e -f <config>` on a free loopback
 * port with its own config, host key and user key in a temp folder (nothing of the machine's own
 * sshd is used). Runs as the current user (root here: `StrictModes no`, keys in the temp folder).
 * Also a TCP proxy that cuts the first connection(s) after some bytes, to drop a download midway.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { stopDaemon, untilListening } from './daemon';
import { freePort } from './node-red-process';

export const SSHD = '/usr/sbin/sshd';
export const skipWithoutSshd: false | string = existsSync(SSHD) && existsSync('/usr/bin/ssh-keygen') ? false : 'openssh-server (/usr/sbin/sshd) not installed';

export interface Sshd {
  port: number;
  user: string;
  /** The user's private key (OpenSSH format). */
  privateKey: string;
  /** `SHA256:…` of the server's host key. */
  fingerprint: string;
  /** A folder the tests may use (absolute path; SFTP paths are absolute too). */
  root: string;
  stop(): Promise<void>;
}

function keygen(file: string): void {
  execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'nhs-test', '-f', file]);
}

/** The fingerprint ssh-keygen prints for a public key file. */
export function fingerprintOf(pubFile: string): string {
  const out = execFileSync('/usr/bin/ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile]).toString();
  return /SHA256:[A-Za-z0-9+/]+/.exec(out)![0];
}

export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'nhs-sshd-'));
  // sshd insists on its privilege separation directory.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'user_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'user_ed25519.pub')));
  const root = join(dir, 'files');
  mkdirSync(root);
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_ed25519')}`, `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'StrictModes no', 'PubkeyAuthentication yes', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'UsePAM no', 'PermitRootLogin prohibit-password', 'Subsystem sftp internal-sftp', 'LogLevel ERROR', '',
  ].join('\n'));
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  await untilListening('sshd', child, port);
  return {
    port, user: userInfo().username, privateKey: readFileSync(join(dir, 'user_ed25519'), 'utf8'),
    fingerprint: fingerprintOf(join(dir, 'host_ed25519.pub')), root,
    stop: () => stopDaemon(child, dir),
  };
}

/**
 * A loopback TCP proxy to `target`. The first `cuts` connections are cut (both sockets destroyed)
 * once `afterBytes` bytes have flowed from the server to the client; later ones pass untouched.
 */
export async function cuttingProxy(target: number, afterBytes: number, cuts = 1): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const cut = n++ < cuts;
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let seen = 0;
    upstream.on('data', (d: Buffer) => {
      seen += d.length;
      if (cut && seen > afterBytes) {
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(d);
    });
    client.on('data', (d: Buffer) => upstream.write(d));
    const end = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    connections: () => n,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
