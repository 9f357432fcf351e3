#!/usr/bin/env node
/**
 * `nhs-mllp-send <host:port> <file…>`: send every HL7 v2 message in the files (one message, a
 * batch with FHS/BHS, or messages one after another) over MLLP (HL7 v2.5.1 Appendix C), one at
 * a time, and print each ACK code. Exit status 1 when any message is not answered AA/CA.
 * Prints control ids and ACK codes only, never message content.
 */
import { readFileSync } from 'node:fs';
import { decodeHl7Bytes, encodeHl7Text, parseHl7, readAck, splitBatch } from '../lib/hl7';
import { MllpClient } from '../lib/mllp';

const USAGE = 'usage: nhs-mllp-send [--tls] [--insecure] [--timeout <s>] <host:port> <file…>';

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  let useTls = false;
  let insecure = false;
  let timeoutS = 30;
  while (args[0]?.startsWith('--')) {
    const a = args.shift();
    if (a === '--tls') useTls = true;
    else if (a === '--insecure') insecure = true;
    else if (a === '--timeout') timeoutS = Number(args.shift());
    else if (a === '--help') { console.log(USAGE); return 0; }
    else { console.error(`unknown option ${a}\n${USAGE}`); return 2; }
  }
  const target = args.shift();
  const m = /^(.+):(\d+)$/.exec(target ?? '');
  if (!m || args.length === 0 || !(timeoutS > 0)) {
    console.error(USAGE);
    return 2;
  }
  const host = (m[1] as string).replace(/^\[(.*)\]$/, '$1');
  const client = new MllpClient({
    host, port: Number(m[2]), ackTimeoutMs: timeoutS * 1000, connectTimeoutMs: Math.min(timeoutS, 10) * 1000,
    ...(useTls ? { tls: { rejectUnauthorized: !insecure, servername: host } } : {}),
  });
  let failed = 0;
  let sent = 0;
  try {
    for (const file of args) {
      const { text, charset } = decodeHl7Bytes(readFileSync(file));
      const { messages, issues } = splitBatch(text);
      for (const i of issues) if (i.severity === 'error') console.error(`${file}: ${i.diagnostics ?? i.code}`);
      if (messages.length === 0) failed++;
      for (const [n, msgText] of messages.entries()) {
        const controlId = parseHl7(msgText).message?.controlId;
        const label = `${file}#${n + 1} ${controlId ?? '(no MSH-10)'}`;
        try {
          // The ACK `accept` matched is the one resolved: keep what it read instead of reading it again.
          let ack: ReturnType<typeof readAck> | undefined;
          const frame = await client.send(encodeHl7Text(msgText, charset), (f) => {
            if (controlId === undefined) return true;
            ack = readAck(f);
            return ack.controlId === controlId;
          });
          ack ??= readAck(frame);
          sent++;
          console.log(`${label} ${ack.code || '??'}`);
          if (ack.code !== 'AA' && ack.code !== 'CA') failed++;
        } catch (e) {
          failed++;
          console.log(`${label} ERROR ${(e as { code?: string }).code ?? (e as Error).message}`);
        }
      }
    }
  } finally {
    await client.close();
  }
  console.error(`${sent} sent, ${failed} not accepted`);
  return failed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => { console.error(e instanceof Error ? e.message : String(e)); process.exitCode = 1; },
);
