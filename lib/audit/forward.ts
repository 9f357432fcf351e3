/**
 * Forwarding stored audit records as FHIR AuditEvents (IHE BALP shape, lib/audit/fhir.ts) over
 * RFC 5425 syslog/TLS (IHE ATNA) and/or MQTT QoS 1. A forwarding failure is reported after the
 * records are stored, never instead of storing them.
 */
import type { ConnectionOptions } from 'node:tls';
import { NhsError } from '../errors';
import { MqttPublisher } from '../remote/mqtt';
import type { AuditRecord } from '../store/types';
import { toAuditEvent } from './fhir';
import { formatSyslog, SyslogTlsClient } from './syslog';

export interface ForwardOptions {
  syslog?: ConnectionOptions & { host: string; port: number };
  mqtt?: { url: string; topic: string };
  /** AuditEvent.source.observer (the host name by default). */
  observer: string;
  site?: string;
}

export class AuditForwarder {
  private readonly syslog: SyslogTlsClient | null;
  private readonly mqtt: MqttPublisher | null;

  constructor(private readonly o: ForwardOptions) {
    this.syslog = o.syslog ? new SyslogTlsClient(o.syslog) : null;
    this.mqtt = o.mqtt ? new MqttPublisher(o.mqtt.url) : null;
  }

  /** Whether any destination is configured. */
  get active(): boolean { return this.syslog !== null || this.mqtt !== null; }

  /** Send every record to every destination; rejects `AUDIT_EXPORT_FAILED` if one failed. */
  async forward(records: AuditRecord[]): Promise<void> {
    const events = records.map((r) => toAuditEvent(r, { observer: this.o.observer, ...(this.o.site ? { site: this.o.site } : {}) }));
    const jobs: Promise<void>[] = [];
    if (this.syslog) jobs.push(this.syslog.send(events.map((e) => formatSyslog({ time: e.recorded, msg: JSON.stringify(e), appName: 'node-red-nhs', host: this.o.observer }))));
    if (this.mqtt) for (const e of events) jobs.push(this.mqtt.publish(this.o.mqtt!.topic, e));
    const res = await Promise.allSettled(jobs);
    const failed = res.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      const code = (failed.reason as { code?: unknown })?.code;
      throw new NhsError('AUDIT_EXPORT_FAILED', `audit recorded, export failed (${typeof code === 'string' ? code : 'error'})`, { cause: failed.reason });
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.syslog?.close(), this.mqtt?.close()]);
  }
}
