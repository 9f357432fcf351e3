/** A TCP proxy to a server, which a test can stop like the server going down (every connection cut). */
import { connect, createServer, type Server, type Socket } from 'node:net';

export async function tcpProxy(target: URL): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((c) => {
    const up = connect(Number(target.port || 5432), target.hostname);
    sockets.add(c); sockets.add(up);
    c.pipe(up); up.pipe(c);
    const end = (): void => { c.destroy(); up.destroy(); sockets.delete(c); sockets.delete(up); };
    c.on('error', end); up.on('error', end); c.on('close', end); up.on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  let stopped: Promise<void> | undefined;
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    stop: () => (stopped ??= new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); })),
  };
}
