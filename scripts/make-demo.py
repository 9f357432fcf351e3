#!/usr/bin/env python3
"""Compose the `npm start` demo flow from the shipped example flows, one tab, stacked vertically.

The demo is built from the examples (not written separately) so the two never drift apart:
run `python3 scripts/make-demo.py` after changing an example. Ids are prefixed per example.
"""
import json, os

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
parts = [
    'MLLP/01 - Receive ADT and ACK.json',
    'Governance/01 - Quarantine and audit.json',
    'FHIR/01 - Validate UK Core Patient.json',
]
tab = 'd0000000000demo0'
out = [{'id': tab, 'type': 'tab', 'label': 'NHS interop demo', 'disabled': False,
        'info': 'The demo that `npm start` deploys: every section is one of the example flows '
                '(Import > Examples > node-red-contrib-nhs-interop). Synthetic patients only; runs offline. '
                'Open the NHS tab in the sidebar to see quarantined messages and the audit trail.'}]
# One nhs-governance for the demo tab (the parts each ship their own): a copy of the first part's,
# applied to the demo tab and named by every patient-data node instead of the part's own.
gov_id = 'd0000000000gov01'
governance = None
y_offset = 0
for i, rel in enumerate(parts):
    path = os.path.join(root, 'examples', rel)
    if not os.path.exists(path):
        continue
    nodes = json.load(open(path))
    prefix = f'd{i}'
    ids = {n['id'] for n in nodes}
    def rid(x):
        return (prefix + x)[:32] if x in ids else x
    tabs = {n['id'] for n in nodes if n['type'] == 'tab'}
    ys = [n.get('y', 0) for n in nodes if 'y' in n]
    top = min(ys) if ys else 0
    for n in nodes:
        if n['type'] == 'tab':
            continue
        if n['type'] == 'nhs-governance':
            if governance is None:
                governance = dict(n, id=gov_id, tabs=[tab])
            continue
        m = dict(n)
        m['id'] = rid(n['id'])
        if 'wires' in m:
            m['wires'] = [[rid(w) for w in port] for port in m['wires']]
        for k, v in list(m.items()):
            if k not in ('id', 'z', 'wires') and isinstance(v, str) and v in ids:
                m[k] = rid(v)  # config node references (store, endpoint, tls)
        if 'governance' in m:
            m['governance'] = gov_id
        is_config = 'x' not in n
        if not is_config:
            m['z'] = tab
            m['y'] = n['y'] - top + y_offset + 40
        elif n.get('z') in tabs:
            m['z'] = tab
        out.append(m)
    if ys:
        y_offset += max(ys) - top + 100
if governance is not None:
    out.append(governance)
dest = os.path.join(root, 'examples', 'Getting started', '01 - Demo.json')
json.dump(out, open(dest, 'w'), indent=2)
open(dest, 'a').write('\n')
print(f'wrote {dest} ({len(out)} nodes)')
