/** Running a real server daemon (sshd, vsftpd) for a test: wait until it listens, stop it, remove its folder. */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';

/** Resolves once `child` accepts a connection on 127.0.0.1:`port`; throws with its output if it exits or is not listening within 10 s. */
export async function untilListening(name: string, child: ChildProcess, port: number): Promise<void> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM `child` and wait for it to exit, then remove its folder `dir`. */
export async function stopDaemon(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null) {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  }
  rmSync(dir, { recursive: true, force: true });
}
