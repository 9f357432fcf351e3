/**
 * A real FTPS server for the tests: Debian's vsftpd, started on a free loopback port with its own
 * config, a self-signed certificate (CN and SAN localhost / 127.0.0.1) made with openssl, TLS
 * required for login and data (explicit `AUTH TLS`). The login is vsftpd's anonymous user (the
 * `ftp` account), so no system account or password is added to the machine; its folders under
 * the temp root are owned by `ftp`. Nothing of a system vsftpd is used.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopDaemon, untilListening } from './daemon';
import { freePort } from './node-red-process';

export const VSFTPD = '/usr/sbin/vsftpd';
function ftpIds(): { uid: number; gid: number } | undefined {
  try {
    const line = execFileSync('getent', ['passwd', 'ftp']).toString().split(':');
    return { uid: Number(line[2]), gid: Number(line[3]) };
  } catch {
    return undefined;
  }
}
export const skipWithoutVsftpd: false | string = !existsSync(VSFTPD) ? 'vsftpd not installed'
  : !ftpIds() ? 'no ftp account for vsftpd' : process.getuid?.() !== 0 ? 'vsftpd tests need root (vsftpd drops to the ftp user)' : false;

export interface Vsftpd {
  port: number;
  /** PEM of the server's self-signed certificate (the CA to trust). */
  cert: string;
  /** Root of the anonymous area: write test files under `${root}/…` (folders made by `folder()`). */
  root: string;
  /** Make a folder the ftp user may write in; returns its FTP path (`/name`) and local path. */
  folder(name: string): { ftp: string; local: string };
  stop(): Promise<void>;
}

export async function startVsftpd(): Promise<Vsftpd> {
  const ids = ftpIds()!;
  const dir = mkdtempSync(join(tmpdir(), 'nhs-vsftpd-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  chmodSync(root, 0o755);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const port = await freePort();
  const pasv = await freePort();
  const config = join(dir, 'vsftpd.conf');
  writeFileSync(config, [
    'listen=YES', 'listen_ipv6=NO', 'background=NO', `listen_address=127.0.0.1`, `listen_port=${port}`,
    'anonymous_enable=YES', 'local_enable=NO', 'no_anon_password=YES', `anon_root=${root}`,
    'write_enable=YES', 'anon_upload_enable=YES', 'anon_mkdir_write_enable=YES', 'anon_other_write_enable=YES', 'anon_umask=022',
    'ssl_enable=YES', 'allow_anon_ssl=YES', 'force_anon_logins_ssl=YES', 'force_anon_data_ssl=YES', 'require_ssl_reuse=NO',
    'ssl_sslv2=NO', 'ssl_sslv3=NO', 'ssl_tlsv1=YES', `rsa_cert_file=${join(dir, 'cert.pem')}`, `rsa_private_key_file=${join(dir, 'key.pem')}`,
    'pasv_enable=YES', 'pasv_address=127.0.0.1', `pasv_min_port=${pasv}`, `pasv_max_port=${pasv + 10}`, 'connect_from_port_20=NO',
    'seccomp_sandbox=NO', 'xferlog_enable=NO', 'secure_chroot_dir=/var/run/vsftpd/empty', '',
  ].join('\n'));
  const child: ChildProcess = spawn(VSFTPD, [config], { stdio: ['ignore', 'pipe', 'pipe'] });
  await untilListening('vsftpd', child, port);
  return {
    port, root, cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    folder(name) {
      const local = join(root, name);
      mkdirSync(local, { recursive: true });
      chownSync(local, ids.uid, ids.gid);
      return { ftp: `/${name}`, local };
    },
    stop: () => stopDaemon(child, dir),
  };
}
