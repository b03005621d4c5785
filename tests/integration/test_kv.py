"""/v1/kv and /v1/txn against a real -dev agent (writes through Raft)."""
import base64
import json
import os
import threading
import time

from conftest import http, wait_for


def put(a, key, body=b"", **params):
    q = "&".join("%s=%s" % kv for kv in params.items())
    return a.put("/v1/kv/%s%s" % (key, "?" + q if q else ""), body=body)


def test_put_get_and_shapes(agent):
    r = put(agent, "app/db", b"postgres")
    assert r.status == 200 and r.body == b"true"
    r = agent.get("/v1/kv/app/db")
    assert r.status == 200
    [e] = r.json()
    assert e["Key"] == "app/db" and e["Flags"] == 0 and e["LockIndex"] == 0
    assert base64.b64decode(e["Value"]) == b"postgres"
    assert e["CreateIndex"] == e["ModifyIndex"] >= 1
    assert "Session" not in e
    assert int(r.headers["X-Consul-Index"]) >= e["ModifyIndex"]
    assert r.headers["X-Consul-Effective-Consistency"] == "leader"
    # empty value is null; flags kept; body stored verbatim
    put(agent, "app/empty", b"")
    assert agent.get("/v1/kv/app/empty").json()[0]["Value"] is None
    put(agent, "app/bin", bytes(range(256)), flags=42)
    e = agent.get("/v1/kv/app/bin").json()[0]
    assert e["Flags"] == 42 and base64.b64decode(e["Value"]) == bytes(range(256))
    r = agent.get("/v1/kv/app/bin?raw")
    assert r.body == bytes(range(256))
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_missing_key_is_404_with_index(agent):
    put(agent, "x", b"1")
    r = agent.get("/v1/kv/does/not/exist")
    assert r.status == 404 and r.body == b""
    assert int(r.headers["X-Consul-Index"]) >= 1
    assert agent.get("/v1/kv/nothing/?recurse").status == 404


def test_recurse_keys_separator_order(agent):
    for k in ("b", "a/2", "a/10", "a/1", "a/sub/x", "a/sub/y", "c"):
        put(agent, k, b"v")
    keys = [e["Key"] for e in agent.get("/v1/kv/a/?recurse").json()]
    assert keys == ["a/1", "a/10", "a/2", "a/sub/x", "a/sub/y"]
    assert agent.get("/v1/kv/a/?keys").json() == keys
    assert agent.get("/v1/kv/a/?keys&separator=/").json() == [
        "a/1", "a/10", "a/2", "a/sub/"]
    assert agent.get("/v1/kv/?keys&separator=/").json() == ["a/", "b", "c"]


def test_cas_and_delete(agent):
    assert put(agent, "c", b"1", cas=0).body == b"true"
    assert put(agent, "c", b"2", cas=0).body == b"false"   # create-only
    idx = agent.get("/v1/kv/c").json()[0]["ModifyIndex"]
    assert put(agent, "c", b"3", cas=idx - 1).body == b"false"
    assert put(agent, "c", b"3", cas=idx).body == b"true"
    idx2 = agent.get("/v1/kv/c").json()[0]["ModifyIndex"]
    assert http("DELETE", agent.http_addr + "/v1/kv/c?cas=%d" % idx).body == b"false"
    assert http("DELETE", agent.http_addr + "/v1/kv/c?cas=%d" % idx2).body == b"true"
    # As Consul: a CAS delete of a missing key succeeds (nothing to lose).
    assert http("DELETE", agent.http_addr + "/v1/kv/c?cas=%d" % idx2).body == b"true"
    assert agent.get("/v1/kv/c").status == 404
    for k in ("t/a", "t/b", "tt"):
        put(agent, k, b"v")
    assert http("DELETE", agent.http_addr + "/v1/kv/t/?recurse").body == b"true"
    assert agent.get("/v1/kv/t/?recurse").status == 404
    assert agent.get("/v1/kv/tt").status == 200


def test_bad_requests(agent):
    assert agent.get("/v1/kv/").status == 400
    r = put(agent, "k", b"v", cas="abc")
    assert r.status == 500 and b"invalid syntax" in r.body
    r = agent.put("/v1/kv/k?cas=1&acquire=s")
    # Consul's conflictingFlags: the query as Go's url.Values.Encode
    assert r.status == 400 and r.body == b"Conflicting flags: acquire=s&cas=1"
    big = b"x" * (512 * 1024 + 1)
    r = put(agent, "big", big)
    assert r.status == 413 and b"too large" in r.body
    assert agent.get("/v1/kv/big").status == 404   # nothing changed
    r = agent.get("/v1/kv/k?stale&consistent")
    assert r.status == 400
    r = agent.get("/v1/kv/k?index=abc")
    assert r.status == 400


def test_locks(agent):
    s1, s2 = "11111111-1111-1111-1111-111111111111", \
        "22222222-2222-2222-2222-222222222222"
    assert put(agent, "lock", b"a", acquire=s1).body == b"true"
    e = agent.get("/v1/kv/lock").json()[0]
    assert e["Session"] == s1 and e["LockIndex"] == 1
    assert put(agent, "lock", b"b", acquire=s2).body == b"false"
    assert put(agent, "lock", b"b", release=s2).body == b"false"
    assert put(agent, "lock", b"c", release=s1).body == b"true"
    e = agent.get("/v1/kv/lock").json()[0]
    assert "Session" not in e and e["LockIndex"] == 1
    assert put(agent, "lock", b"d", acquire=s2).body == b"true"
    assert agent.get("/v1/kv/lock").json()[0]["LockIndex"] == 2


def test_blocking_query_wakes_on_change_only(agent):
    put(agent, "watched", b"1")
    put(agent, "other", b"1")
    idx = int(agent.get("/v1/kv/watched").headers["X-Consul-Index"])
    out = {}

    def block():
        t0 = time.monotonic()
        r = agent.get("/v1/kv/watched?index=%d&wait=20s" % idx, timeout=30)
        out["dt"] = time.monotonic() - t0
        out["r"] = r
    t = threading.Thread(target=block)
    t.start()
    time.sleep(0.3)
    put(agent, "other", b"2")           # unrelated: must not wake it
    time.sleep(0.3)
    assert t.is_alive()
    put(agent, "watched", b"2")
    t.join(10)
    assert not t.is_alive()
    assert base64.b64decode(out["r"].json()[0]["Value"]) == b"2"
    assert int(out["r"].headers["X-Consul-Index"]) > idx
    # an elapsed wait returns the current result
    t0 = time.monotonic()
    cur = int(agent.get("/v1/kv/watched").headers["X-Consul-Index"])
    r = agent.get("/v1/kv/watched?index=%d&wait=300ms" % cur)
    assert r.status == 200 and 0.25 < time.monotonic() - t0 < 3


def test_prefix_blocking(agent):
    put(agent, "svc/a", b"1")
    idx = int(agent.get("/v1/kv/svc/?recurse").headers["X-Consul-Index"])
    res = {}
    t = threading.Thread(target=lambda: res.update(r=agent.get(
        "/v1/kv/svc/?recurse&index=%d&wait=20s" % idx, timeout=30)))
    t.start()
    time.sleep(0.2)
    http("DELETE", agent.http_addr + "/v1/kv/svc/a")   # a delete wakes it
    t.join(10)
    assert not t.is_alive()
    assert res["r"].status == 404
    assert int(res["r"].headers["X-Consul-Index"]) > idx


def test_txn(agent):
    ops = [{"KV": {"Verb": "set", "Key": "tx/a", "Value": "YQ=="}},
           {"KV": {"Verb": "cas", "Key": "tx/b", "Value": "Yg==", "Index": 0}},
           {"KV": {"Verb": "get", "Key": "tx/a"}}]
    r = agent.put("/v1/txn", body=json.dumps(ops).encode())
    assert r.status == 200, r.body
    j = r.json()
    assert j["Errors"] is None and len(j["Results"]) == 3
    assert j["Results"][2]["KV"]["Key"] == "tx/a"
    # one failing op rolls the whole transaction back
    ops = [{"KV": {"Verb": "set", "Key": "tx/c", "Value": "Yw=="}},
           {"KV": {"Verb": "delete", "Key": "tx/a"}},
           {"KV": {"Verb": "check-not-exists", "Key": "tx/b"}}]
    r = agent.put("/v1/txn", body=json.dumps(ops).encode())
    assert r.status == 409
    j = r.json()
    assert j["Results"] is None
    assert j["Errors"] == [{"OpIndex": 2, "What": 'key "tx/b" exists'}]
    assert agent.get("/v1/kv/tx/c").status == 404
    assert agent.get("/v1/kv/tx/a").status == 200
    r = agent.put("/v1/txn", body=b"not json")
    assert r.status == 400
    r = agent.put("/v1/txn", body=json.dumps(
        [{"KV": {"Verb": "frobnicate", "Key": "x"}}]).encode())
    assert r.status == 400


def test_consistency_modes(agent):
    put(agent, "m", b"1")
    for q, mode in (("", "leader"), ("?stale", "stale"),
                    ("?consistent", "consistent")):
        r = agent.get("/v1/kv/m" + q)
        assert r.status == 200
        assert r.headers["X-Consul-Effective-Consistency"] == mode
        assert r.headers["X-Consul-Knownleader"] == "true"


def test_snapshot_save_and_restore(agent):
    import io
    import tarfile
    put(agent, "snap/a", b"1")
    put(agent, "snap/b", b"2")
    r = agent.get("/v1/snapshot")
    assert r.status == 200 and int(r.headers["X-Consul-Index"]) >= 1
    archive = r.body
    with tarfile.open(fileobj=io.BytesIO(archive)) as t:
        names = t.getnames()
        sums = t.extractfile("SHA256SUMS").read().decode()
        meta = json.loads(t.extractfile("meta.json").read())
    assert names == ["meta.json", "state.bin", "SHA256SUMS"]
    assert "meta.json" in sums and "state.bin" in sums
    assert meta["Version"] == 1 and meta["Index"] >= 1
    http("DELETE", agent.http_addr + "/v1/kv/snap/?recurse")
    put(agent, "later", b"x")
    r = agent.put("/v1/snapshot", body=archive)
    assert r.status == 200, r.body
    assert [e["Key"] for e in agent.get("/v1/kv/?recurse").json()] == [
        "snap/a", "snap/b"]
    # a corrupted archive is refused and changes nothing
    bad = bytearray(archive)
    bad[520] ^= 0x01   # inside meta.json's content
    r = agent.put("/v1/snapshot", body=bytes(bad))
    assert r.status == 400
    assert agent.get("/v1/kv/snap/a").status == 200


def test_snapshot_cli(agent, tmp_path):
    env = {"MUSTER_HTTP_ADDR": agent.http_addr}
    put(agent, "cli/k", b"before")
    f = str(tmp_path / "backup.snap")
    r = agent.cli("snapshot", "save", f, env=env)
    assert r.returncode == 0 and "Saved and verified snapshot" in r.stdout
    r = agent.cli("snapshot", "inspect", f)
    assert r.returncode == 0 and " Index " in r.stdout and "Version" in r.stdout
    put(agent, "cli/k", b"after")
    r = agent.cli("snapshot", "restore", f, env=env)
    assert r.returncode == 0 and "Restored snapshot" in r.stdout
    assert agent.get("/v1/kv/cli/k?raw").body == b"before"
    (tmp_path / "junk").write_bytes(b"junk")
    r = agent.cli("snapshot", "restore", str(tmp_path / "junk"), env=env)
    assert r.returncode == 1 and "Error restoring snapshot" in r.stderr


def autopilot(a, **body):
    if body:
        r = a.put("/v1/operator/autopilot/configuration",
                  body=json.dumps(body).encode())
        assert r.status == 200 and r.body == b"true", r.body
    r = a.get("/v1/operator/autopilot/configuration")
    assert r.status == 200
    return r.json()


def test_snapshot_carries_autopilot_configuration(agent):
    # Consul's snapshot holds the whole state store, the autopilot
    # configuration included: a restore brings the saved one back.
    autopilot(agent, CleanupDeadServers=False, MaxTrailingLogs=333)
    archive = agent.get("/v1/snapshot").body
    conf = autopilot(agent, CleanupDeadServers=True, MaxTrailingLogs=444)
    assert conf["MaxTrailingLogs"] == 444
    assert agent.put("/v1/snapshot", body=archive).status == 200
    conf = autopilot(agent)
    assert conf["MaxTrailingLogs"] == 333
    assert conf["CleanupDeadServers"] is False


def test_autopilot_configuration_survives_compaction(agents, tmp_path):
    # The set is compacted out of the log: only the Raft snapshot can
    # bring it back after a restart.
    cfg = tmp_path / "snap.json"
    cfg.write_text(json.dumps({"raft_snapshot_threshold": 8,
                               "raft_trailing_logs": 2}))
    a = agents("-server", "-bootstrap", "-config-file", str(cfg), dev=False)
    a.start()
    autopilot(a, MaxTrailingLogs=321, ServerStabilizationTime="7s")
    for i in range(30):
        assert put(a, "fill/%d" % i, b"v").body == b"true"
    snaps = os.path.join(a.data_dir, "raft", "snapshots")
    wait_for(lambda: any(n.endswith(".snap") for n in os.listdir(snaps)),
             what="a Raft snapshot")
    a.stop()
    a.start()
    wait_for(lambda: a.get("/v1/kv/fill/29").status == 200,
             what="leader after restart")
    conf = autopilot(a)
    assert conf["MaxTrailingLogs"] == 321
    assert conf["ServerStabilizationTime"] == "7s"


def test_dev_snapshots_and_compacts_in_memory(agents, tmp_path):
    # -dev keeps its log in memory (as Consul's dev mode keeps an in-memory
    # snapshot store); without snapshots it would grow with every write.
    # It snapshots at raft_snapshot_threshold like any server, and every
    # key is still there afterwards.
    cfg = tmp_path / "snap.json"
    cfg.write_text(json.dumps({"raft_snapshot_threshold": 8,
                               "raft_snapshot_interval": "100ms",
                               "raft_trailing_logs": 2}))
    a = agents("-config-file", str(cfg)).start()

    def raft_stats():
        return a.get("/v1/agent/self").json()["Stats"]["raft"]
    for i in range(40):
        r = a.put("/v1/kv/dev/%02d" % i, body=b"v%d" % i)
        assert r.status == 200 and r.body == b"true"
    wait_for(lambda: int(raft_stats()["last_snapshot_index"]) >= 32,
             what="in-memory snapshots as the log grows")
    assert len(a.get("/v1/kv/dev/?keys").json()) == 40
    assert a.get("/v1/kv/dev/39?raw").body == b"v39"
