/**
 * SFTP source against a real OpenSSH sshd started for the test (test/helpers/sshd.ts), and the
 * ESR intake over it: host key pinning, a dropped download retried from scratch, archive after
 * commit, the samples read from ../shared.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EsrIntake, type EsrRecordMsg } from '../../../lib/esr/intake';
import { SftpSource } from '../../../lib/remote/sftp';
import { createStore, type Store } from '../../../lib/store';
import { cuttingProxy, skipWithoutSshd, startSshd, type Sshd } from '../../helpers/sshd';
import { sharedDir, skipWithoutShared } from '../../helpers/shared';
import { goFile, goName, personRow } from '../esr/fixtures';

const noop = { invalid: () => undefined, event: () => undefined, alert: () => undefined };

describe('SFTP source against a real OpenSSH server', { skip: skipWithoutSshd }, () => {
  let sshd: Sshd;
  let work: string;
  let n = 0;
  before(async () => { sshd = await startSshd(); work = mkdtempSync(join(tmpdir(), 'esr-sftp-')); });
  after(async () => { await sshd?.stop(); rmSync(work, { recursive: true, force: true }); });

  function folders(): { inbox: string; archive: string } {
    const base = join(sshd.root, `t${++n}`);
    mkdirSync(join(base, 'in'), { recursive: true });
    return { inbox: join(base, 'in'), archive: join(base, 'done') };
  }
  const source = (inbox: string, archive: string, extra: Partial<ConstructorParameters<typeof SftpSource>[0]> = {}): SftpSource =>
    new SftpSource({ host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: sshd.privateKey, hostKeys: [sshd.fingerprint], folder: inbox, archiveFolder: archive, ...extra });
  async function store(): Promise<Store> {
    const s = createStore({ backend: 'sqlite', file: join(work, `s${++n}.sqlite`) });
    await s.open();
    return s;
  }

  it('lists, downloads and archives with the pinned host key and a user key', async () => {
    const { inbox, archive } = folders();
    writeFileSync(join(inbox, 'a.DAT'), 'hello');
    const src = source(inbox, archive);
    try {
      assert.deepEqual((await src.list()).map((e) => [e.name, e.size]), [['a.DAT', 5]]);
      const to = join(work, 'a.local');
      assert.equal(await src.download('a.DAT', to), 5);
      assert.equal(readFileSync(to, 'utf8'), 'hello');
      await src.archive('a.DAT');
      assert.ok(existsSync(join(archive, 'a.DAT')) && !existsSync(join(inbox, 'a.DAT')));
    } finally {
      await src.close();
    }
  });

  it('refuses a wrong host key, and an unpinned one unless told otherwise', async () => {
    const { inbox, archive } = folders();
    const wrong = source(inbox, archive, { hostKeys: ['SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'] });
    await assert.rejects(wrong.list(), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'REMOTE_HOST_KEY_REFUSED');
      assert.ok(e.message.includes(sshd.fingerprint), 'names the key seen so it can be checked and pinned');
      return true;
    });
    await assert.rejects(source(inbox, archive, { hostKeys: [] }).list(), { code: 'REMOTE_HOST_KEY_REFUSED' });
    const trusting = source(inbox, archive, { hostKeys: [], allowUnknownHostKey: true });
    assert.deepEqual(await trusting.list(), []);
    await trusting.close();
  });

  it('a connection dropped mid-download is retried from scratch; the partial file is never processed', async () => {
    const { inbox, archive } = folders();
    const name = goName('GDR', 1);
    const rows = Array.from({ length: 6000 }, (_, i) => personRow({ id: `P${i}` }));
    writeFileSync(join(inbox, name), goFile(name, rows));
    const proxy = await cuttingProxy(sshd.port, 200_000, 1);
    const s = await store();
    try {
      const records: EsrRecordMsg[] = [];
      const intake = new EsrIntake({ source: 'sftp1', node: 'n1', store: s, tempDir: join(work, 'tmp'), pattern: 'GO_*.DAT' }, { ...noop, record: (m) => { records.push(m); } });
      const res = await intake.poll(source(inbox, archive, { port: proxy.port }));
      assert.deepEqual(res.map((r) => r.outcome), ['processed']);
      assert.ok(proxy.connections() >= 2, `reconnected (${proxy.connections()} connections)`);
      assert.equal(records.length, 6000);
      assert.equal(new Set(records.map((r) => r.esr.line)).size, 6000, 'each row once');
      assert.ok(existsSync(join(archive, name)), 'archived after commit');
      assert.equal((await s.queryAudit({ action: 'esr.file' })).length, 1, 'one file, processed once');
    } finally {
      await proxy.close();
      await s.close();
    }
  });

  it('a download that keeps failing leaves the file in place and processes nothing', async () => {
    const { inbox, archive } = folders();
    const name = goName('GDR', 1);
    writeFileSync(join(inbox, name), goFile(name, Array.from({ length: 6000 }, (_, i) => personRow({ id: `P${i}` }))));
    const proxy = await cuttingProxy(sshd.port, 200_000, 100);
    const s = await store();
    try {
      let records = 0;
      const intake = new EsrIntake({ source: 'sftp1', node: 'n1', store: s, tempDir: join(work, 'tmp2'), pattern: 'GO_*.DAT', downloadAttempts: 2 }, { ...noop, record: () => { records++; } });
      await assert.rejects(intake.poll(source(inbox, archive, { port: proxy.port })), (e: { code?: string }) => /^REMOTE_/.test(e.code ?? ''));
      assert.equal(records, 0);
      assert.ok(existsSync(join(inbox, name)));
      assert.equal((await s.esrState!().filesSince('sftp1', '2000')).length, 0, 'not in the ledger');
    } finally {
      await proxy.close();
      await s.close();
    }
  });

  it('runs the intake over SFTP on the samples: the mixed-record and ISO-8859-1 rows framed as a GO file', { skip: skipWithoutShared('data/esr-go-samples') }, async () => {
    const { inbox, archive } = folders();
    const fx = join(sharedDir, 'data', 'esr-go-samples', 'fixtures');
    const lines = (f: string): Buffer[] => readFileSync(join(fx, f)).toString('latin1').split('\n').filter((l) => l.trim() && !l.startsWith('HDR') && !l.startsWith('TRL')).map((l) => Buffer.from(l.replace(/\r$/, ''), 'latin1'));
    const rows = [...lines('good_imports-mixed_import-Out-mixed_import_20201015_00001157_DAT'), ...lines('good_imports-iso_8859_1-Out-iso_8859_1_encoding_20201015_00001157_DAT')];
    const name = goName('GOC', 1);
    const crlf = Buffer.from('\r\n');
    writeFileSync(join(inbox, name), Buffer.concat([Buffer.from(`HDR~${name}~20201015 010203`), crlf, ...rows.flatMap((r) => [r, crlf]), Buffer.from(`TRL~${rows.length}`), crlf]));
    const s = await store();
    try {
      const records: EsrRecordMsg[] = [];
      let invalid = 0;
      const intake = new EsrIntake({ source: 'sftp-samples', node: 'n1', store: s, tempDir: join(work, 'tmp3'), pattern: 'GO_*.DAT' },
        { ...noop, record: (m) => { records.push(m); }, invalid: () => { invalid++; } });
      const [r] = await intake.poll(source(inbox, archive));
      assert.equal(r!.outcome, 'processed');
      assert.equal(invalid, 0);
      assert.equal(records.length, 33);
      assert.deepEqual([...new Set(records.map((m) => m.topic))].sort(), ['ABA', 'ASA', 'CDA', 'CMA', 'COA', 'DTA', 'ELA', 'ETA', 'LCA', 'LOV', 'ORA', 'PIA', 'POA', 'PRA', 'QLA', 'STA', 'TRA']);
      assert.equal(records.at(-1)!.payload.fields[6], 'Town Wells Café', 'ISO-8859-1 decoded');
      // One assignment joins; the person row already carries its termination date: a leaver.
      assert.deepEqual(r!.counts, { rows: 33, valid: 33, invalid: 0, joiners: 1, movers: 0, leavers: 1 });
      assert.ok(existsSync(join(archive, name)));
    } finally {
      await s.close();
    }
  });

  it('takes the ISO-8859-1 sample over SFTP byte for byte', { skip: skipWithoutShared('data/esr-go-samples') }, async () => {
    const { inbox, archive } = folders();
    const sample = join(sharedDir, 'data', 'esr-go-samples', 'fixtures', 'good_imports-iso_8859_1-Out-iso_8859_1_encoding_20201015_00001157_DAT');
    copyFileSync(sample, join(inbox, 'iso.DAT'));
    const src = source(inbox, archive);
    try {
      const to = join(work, 'iso.local');
      await src.download('iso.DAT', to);
      assert.deepEqual(readFileSync(to), readFileSync(sample));
      assert.ok(readFileSync(to).includes(Buffer.from([0x43, 0x61, 0x66, 0xe9])), 'Caf\\xE9 kept as ISO-8859-1');
    } finally {
      await src.close();
    }
  });
});
