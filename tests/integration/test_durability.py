"""No acknowledged write is lost: kill -9 the store worker, and the whole
agent, under a write load; restart; every acknowledged write is there and
no transaction is half-applied."""
import base64
import json
import os
import signal
import threading

from conftest import wait_for


def txn_pair(agent, i):
    """Write a/i and b/i atomically; True only if acknowledged."""
    v = base64.b64encode(b"value-%d" % i).decode()
    ops = [{"KV": {"Verb": "set", "Key": "a/%06d" % i, "Value": v}},
           {"KV": {"Verb": "set", "Key": "b/%06d" % i, "Value": v}}]
    try:
        r = agent.put("/v1/txn", body=json.dumps(ops).encode(), timeout=5)
    except OSError:
        return False
    return r.status == 200


def load(agent, start, count, acked, stop):
    for i in range(start, start + count):
        if stop.is_set():
            return
        if txn_pair(agent, i):
            acked.append(i)


def check(agent, acked):
    a = {e["Key"][2:]: e["Value"] for e in agent.get("/v1/kv/a/?recurse").json()}
    b = {e["Key"][2:]: e["Value"] for e in agent.get("/v1/kv/b/?recurse").json()}
    assert set(a) == set(b), "half-applied transaction"
    print("acked %d, present %d" % (len(acked), len(a)))
    for i in acked:
        k = "%06d" % i
        assert k in a, "acknowledged write %d lost" % i
        assert base64.b64decode(a[k]) == b"value-%d" % i
    return len(a)


def start_server(agents, ip=None):
    a = agents("-server", "-bootstrap", dev=False, ip=ip)
    a.start()
    wait_for(lambda: a.get("/v1/status/leader").json() != "", what="leader")
    return a


def run_load_and_kill(a, kill):
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=load, args=(a, t * 100000, 400,
                                                    acked, stop))
               for t in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(acked) >= 100, timeout=30, what="100 writes")
    kill()
    stop.set()
    for t in threads:
        t.join(30)
    return acked


def test_store_worker_kill9_loses_nothing(agents):
    a = start_server(agents)
    old = a.worker_pids()["store"]
    acked = run_load_and_kill(a, lambda: os.kill(old, signal.SIGKILL))
    wait_for(lambda: a.worker_pids().get("store") not in (None, old),
             what="store restarted")
    wait_for(lambda: a.get("/v1/status/leader").json() != "",
             what="leader again")
    n = check(a, acked)
    assert n >= len(acked) >= 100
    # and it keeps taking writes
    assert txn_pair(a, 999999)


def test_agent_kill9_loses_nothing(agents):
    a = start_server(agents)
    acked = run_load_and_kill(a, a.kill)
    # same data dir, same address: a restart of the same agent
    b = agents("-server", "-bootstrap", dev=False, ip=a.ip)
    b.dir, b.data_dir, b.control = a.dir, a.data_dir, a.control
    b.name = a.name
    b.start()
    wait_for(lambda: b.get("/v1/status/leader").json() != "",
             what="leader after restart")
    n = check(b, acked)
    assert n >= len(acked) >= 100
