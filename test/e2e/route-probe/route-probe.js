// Test fixture for test/e2e/admin-lockdown.test.ts, loaded by Node-RED from `nodesDir`. Once the
// flows have started (every node module and plugin has registered its routes by then) it writes
// every layer of the admin and node express routers to $NHS_ROUTE_PROBE_OUT, so the test can
// enumerate routes without knowing which file registered them. With $NHS_ROUTE_PROBE_UNGUARDED=1
// it registers one admin route with no permission check: the meta-test shows the check catches it.
'use strict';
const fs = require('node:fs'); // eslint-disable-line @typescript-eslint/no-require-imports

function layers(app) {
  // Express 4 keeps the router in app._router (its app.router getter throws); Express 5 in app.router.
  let router = app && app._router;
  if (!router && app) { try { router = app.router; } catch { router = undefined; } }
  return (router ? router.stack : []).map((l) => (l.route
    ? { path: typeof l.route.path === 'string' ? l.route.path : String(l.route.path), pathType: typeof l.route.path, methods: Object.keys(l.route.methods).filter((m) => l.route.methods[m] && m !== '_all'), handlers: l.route.stack.length }
    : { use: l.name, regexp: String(l.regexp) }));
}

module.exports = function (RED) {
  if (process.env.NHS_ROUTE_PROBE_UNGUARDED === '1') {
    RED.httpAdmin.get('/nhs-interop/probe/unguarded/:id', (req, res) => res.json({ id: req.params.id }));
  }
  RED.events.on('flows:started', () => {
    if (!process.env.NHS_ROUTE_PROBE_OUT) return;
    fs.writeFileSync(process.env.NHS_ROUTE_PROBE_OUT, JSON.stringify({ admin: layers(RED.httpAdmin), node: layers(RED.httpNode) }));
  });
  RED.nodes.registerType('test-route-probe', function (def) { RED.nodes.createNode(this, def); });
};
