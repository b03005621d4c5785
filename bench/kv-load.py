#!/usr/bin/env python3
"""Load N keys of SIZE bytes into muster (/v1/txn) or etcd (/v3/kv/txn),
64 puts per transaction.  Usage: kv-load.py muster|etcd URL N SIZE"""
import base64
import json
import sys
import urllib.request

target, url, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
val = base64.b64encode(b"x" * size).decode()
for start in range(0, n, 64):
    keys = ["mem/%08d" % i for i in range(start, min(n, start + 64))]
    if target == "muster":
        body = [{"KV": {"Verb": "set", "Key": k, "Value": val}} for k in keys]
        req = urllib.request.Request(url + "/v1/txn", method="PUT",
                                     data=json.dumps(body).encode())
    else:
        body = {"success": [{"requestPut": {
            "key": base64.b64encode(k.encode()).decode(), "value": val}}
            for k in keys]}
        req = urllib.request.Request(url + "/v3/kv/txn", method="POST",
                                     data=json.dumps(body).encode())
    with urllib.request.urlopen(req) as r:
        r.read()
