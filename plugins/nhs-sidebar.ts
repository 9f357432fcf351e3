/**
 * `nhs-sidebar` plugin: the editor's "NHS" sidebar tab (plugins/nhs-sidebar.html) and the admin
 * HTTP API it calls (plugins/admin-api.ts, under /nhs-interop/...). The API is registered
 * here so it exists even in a flow with no quarantine or audit node yet.
 */
import { registerAdminApi } from './admin-api';
import { registerOpsApi } from './ops-api';
import type { RED } from '../nodes/shared/types';

export = function (RED: RED) {
  registerAdminApi(RED);
  registerOpsApi(RED);
  RED.plugins?.registerPlugin('nhs-sidebar', { type: 'nhs-interop-sidebar' });
};
