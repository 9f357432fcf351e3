/**
 * An MLLP server that is not ours: python3-hl7's asyncio `start_hl7_server`, run by the system
 * /usr/bin/python3. It ACKs every message and prints `PORT n` once, then `GOT <MSH-10>` per message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const PY_SERVER = `
import asyncio
from hl7.mllp import start_hl7_server

async def process(reader, writer):
    try:
        while not writer.is_closing():
            msg = await reader.readmessage()
            print('GOT', str(msg.segment('MSH')[10]), flush=True)
            writer.writemessage(msg.create_ack())
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass

async def main():
    async with await start_hl7_server(process, host='127.0.0.1', port=0) as server:
        print('PORT', server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

asyncio.run(main())
`;

export interface PythonHl7Server {
  proc: ChildProcess;
  port: number;
  /** MSH-10 of every message received, in arrival order (filled as they come). */
  got: string[];
}

/** Start the server; the process is pushed onto `children` at once, so the caller's `after` kills it even if it never listens. */
export async function startPythonHl7Server(children: ChildProcess[]): Promise<PythonHl7Server> {
  const proc = spawn('/usr/bin/python3', ['-c', PY_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const got: string[] = [];
  const port = await new Promise<number>((resolve) => createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    if (l.startsWith('PORT ')) resolve(Number(l.slice(5)));
    else if (l.startsWith('GOT ')) got.push(l.slice(4));
  }));
  return { proc, port, got };
}
