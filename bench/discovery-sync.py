#!/usr/bin/env python3
"""Poll the catalog until a node lists COUNT services whose ID starts with
PREFIX; print the seconds from T0 (a Unix time: when the registrations
began) until then ("timeout N" with the count last seen when TIMEOUT
seconds pass first).  Polls every 100 ms
with GET /v1/catalog/node/NODE, the agent's own catalog entry, which
only anti-entropy fills from the agent's local services.
Usage: discovery-sync.py URL NODE PREFIX COUNT TIMEOUT T0"""
import json
import sys
import time
import urllib.parse
import urllib.request

url, node, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
count, timeout = int(sys.argv[4]), float(sys.argv[5])
t0 = float(sys.argv[6])
path = "%s/v1/catalog/node/%s" % (url, urllib.parse.quote(node))
seen = 0
while time.time() - t0 < timeout:
    try:
        with urllib.request.urlopen(path, timeout=10) as r:
            n = json.loads(r.read()) or {}
        svcs = n.get("Services") or {}
        seen = sum(1 for k in svcs if k.startswith(prefix))
    except OSError:
        pass
    if seen >= count:
        print("%.3f" % (time.time() - t0))
        sys.exit(0)
    time.sleep(0.1)
print("timeout %d" % seen)
