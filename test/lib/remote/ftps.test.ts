/**
 * FTPS source against a real vsftpd with TLS (test/helpers/vsftpd.ts): the certificate is
 * checked, and the ESR intake runs over it with the samples from ../shared.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EsrIntake, type EsrRecordMsg } from '../../../lib/esr/intake';
import type { EsrAlert } from '../../../lib/esr/alerts';
import { FtpsSource } from '../../../lib/remote/ftps';
import { createStore } from '../../../lib/store';
import { sharedDir, skipWithoutShared } from '../../helpers/shared';
import { skipWithoutVsftpd, startVsftpd, type Vsftpd } from '../../helpers/vsftpd';
import { goFile, goName, personRow } from '../esr/fixtures';

describe('FTPS source against a real vsftpd (explicit TLS)', { skip: skipWithoutVsftpd }, () => {
  let ftpd: Vsftpd;
  let work: string;
  let n = 0;
  before(async () => { ftpd = await startVsftpd(); work = mkdtempSync(join(tmpdir(), 'esr-ftps-')); });
  after(async () => { await ftpd?.stop(); rmSync(work, { recursive: true, force: true }); });

  const source = (folder: string, archive: string, extra: Partial<ConstructorParameters<typeof FtpsSource>[0]> = {}): FtpsSource =>
    new FtpsSource({ host: '127.0.0.1', port: ftpd.port, username: 'anonymous', password: 'esr-test', ca: ftpd.cert, folder, archiveFolder: archive, ...extra });

  it('lists, downloads and archives over TLS with the server certificate checked', async () => {
    const inbox = ftpd.folder(`t${++n}-in`);
    const archive = ftpd.folder(`t${n}-done`);
    writeFileSync(join(inbox.local, 'a.DAT'), 'hello');
    const src = source(inbox.ftp, archive.ftp);
    try {
      assert.deepEqual((await src.list()).map((e) => [e.name, e.size]), [['a.DAT', 5]]);
      assert.equal(await src.download('a.DAT', join(work, 'a')), 5);
      assert.equal(readFileSync(join(work, 'a'), 'utf8'), 'hello');
      await src.archive('a.DAT');
      assert.ok(existsSync(join(archive.local, 'a.DAT')) && !existsSync(join(inbox.local, 'a.DAT')));
    } finally {
      await src.close();
    }
  });

  it('refuses a certificate it cannot verify (no CA) and one for another name', async () => {
    const inbox = ftpd.folder(`t${++n}-in`);
    await assert.rejects(source(inbox.ftp, '', { ca: undefined }).list(), { code: 'REMOTE_CERT_REFUSED' });
    await assert.rejects(source(inbox.ftp, '', { servername: 'esr.example.nhs.uk' }).list(), { code: 'REMOTE_CERT_REFUSED' });
  });

  it('runs the intake over FTPS: a good file processed and archived, a truncated one rejected and left in place', async () => {
    const inbox = ftpd.folder(`t${++n}-in`);
    const archive = ftpd.folder(`t${n}-done`);
    const good = goName('GOC', 1);
    writeFileSync(join(inbox.local, good), goFile(good, Array.from({ length: 300 }, (_, i) => personRow({ id: `P${i}` }))));
    const cut = goName('GOC', 2);
    writeFileSync(join(inbox.local, cut), goFile(cut, Array.from({ length: 300 }, (_, i) => personRow({ id: `Q${i}` }))).slice(0, 9000));
    const s = createStore({ backend: 'sqlite', file: join(work, 'ftps.sqlite') });
    await s.open();
    try {
      const records: EsrRecordMsg[] = [];
      const alerts: EsrAlert[] = [];
      const intake = new EsrIntake({ source: 'ftps1', node: 'n1', store: s, tempDir: join(work, 'tmp'), pattern: 'GO_*.DAT' },
        { record: (m) => { records.push(m); }, invalid: () => undefined, event: () => undefined, alert: (a) => { alerts.push(a); } });
      const res = await intake.poll(source(inbox.ftp, archive.ftp));
      assert.deepEqual(res.map((r) => r.outcome), ['processed', 'rejected']);
      assert.equal(records.length, 300);
      assert.deepEqual(alerts.map((a) => [a.type, a.file]), [['file-rejected', cut]]);
      assert.ok(existsSync(join(archive.local, good)));
      assert.ok(existsSync(join(inbox.local, cut)) && !existsSync(join(archive.local, cut)), 'rejected file untouched');
    } finally {
      await s.close();
    }
  });

  it('downloads the ISO-8859-1 sample byte for byte', { skip: skipWithoutShared('data/esr-go-samples') }, async () => {
    const inbox = ftpd.folder(`t${++n}-in`);
    const sample = join(sharedDir, 'data', 'esr-go-samples', 'fixtures', 'good_imports-iso_8859_1-Out-iso_8859_1_encoding_20201015_00001157_DAT');
    copyFileSync(sample, join(inbox.local, 'iso.DAT'));
    chownSync(join(inbox.local, 'iso.DAT'), 0, 0);
    const src = source(inbox.ftp, '');
    try {
      await src.download('iso.DAT', join(work, 'iso'));
      assert.deepEqual(readFileSync(join(work, 'iso')), readFileSync(sample));
    } finally {
      await src.close();
    }
  });
});
