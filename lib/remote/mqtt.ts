import { connectAsync, type MqttClient } from 'mqtt';
import { NhsError } from '../errors';

/**
 * A small QoS 1 publisher (MQTT 3.1.1 §4.3.2: at-least-once, the promise resolves on PUBACK)
 * used by the audit export and quarantine notifications. One connection per publisher; the mqtt
 * package reconnects by itself and queues while offline.
 */
export class MqttPublisher {
  private client: MqttClient | null = null;
  private connecting: Promise<MqttClient> | null = null;

  constructor(private readonly url: string, private readonly opts: { username?: string; password?: string; clientId?: string; timeoutMs?: number } = {}) {}

  private async connect(): Promise<MqttClient> {
    if (this.client) return this.client;
    this.connecting ??= connectAsync(this.url, {
      connectTimeout: this.opts.timeoutMs ?? 5000,
      reconnectPeriod: 2000,
      ...(this.opts.username ? { username: this.opts.username } : {}),
      ...(this.opts.password ? { password: this.opts.password } : {}),
      ...(this.opts.clientId ? { clientId: this.opts.clientId } : {}),
    }).then((c) => { this.client = c; return c; }, (e: unknown) => {
      this.connecting = null;
      throw new NhsError('MQTT_UNAVAILABLE', `MQTT broker unreachable: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    });
    return this.connecting;
  }

  /** Publish JSON at QoS 1; resolves after the broker's PUBACK. */
  async publish(topic: string, body: unknown, retain = false): Promise<void> {
    const c = await this.connect();
    const timeoutMs = this.opts.timeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.publishAsync(topic, JSON.stringify(body), { qos: 1, retain }),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new NhsError('MQTT_UNAVAILABLE', 'MQTT publish timed out')), timeoutMs); }),
      ]);
    } catch (e) {
      if (e instanceof NhsError) throw e;
      throw new NhsError('MQTT_UNAVAILABLE', `MQTT publish failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const c = this.client ?? (this.connecting ? await this.connecting.catch(() => null) : null);
    this.client = null;
    this.connecting = null;
    if (c) await c.endAsync(true).catch(() => undefined);
  }
}
