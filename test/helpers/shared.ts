import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** `../shared` beside the repo: read-only test data (DESIGN.md §7). Never copied in. */
export const sharedDir = process.env.NHS_SHARED_DIR ?? join(__dirname, '..', '..', '..', 'shared');

/**
 * For `it(name, { skip: skipWithoutShared('fhir-packages') }, …)`: false when the data exists,
 * else the reason string node:test reports as the skip reason (never counted as passed).
 */
export function skipWithoutShared(sub: string): false | string {
  return existsSync(join(sharedDir, sub)) ? false : `../shared/${sub} not present beside the repo`;
}

/** PostgreSQL URL for service tests, or a skip reason. */
export const pgUrl = process.env.NHS_TEST_PG_URL;
export const skipWithoutPg: false | string = pgUrl ? false : 'NHS_TEST_PG_URL not set: PostgreSQL tests skipped';
export const mqttUrl = process.env.NHS_TEST_MQTT_URL;
export const skipWithoutMqtt: false | string = mqttUrl ? false : 'NHS_TEST_MQTT_URL not set: MQTT tests skipped';
