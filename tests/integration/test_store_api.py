"""Store APIs on agents that are not the leader: read-only transactions
served as reads (Consul's Txn.Read: ?stale answered by any server,
default and ?consistent by the leader, KnownLeader/LastContact headers,
?stale with ?consistent refused), on followers and client agents; and
/v1/snapshot save and restore through any agent (Consul forwards both to
the leader; a save with ?stale is a follower's own state)."""
import base64
import json
import os

from conftest import wait_for
from test_cluster import (agreed_leader, by_addr, cluster_cfg,  # noqa: F401
                          form, get, put, start_client)

READ_OPS = [{"KV": {"Verb": "get", "Key": "cfg/a"}},
            {"KV": {"Verb": "get-tree", "Key": "cfg/"}},
            {"KV": {"Verb": "check-not-exists", "Key": "cfg/none"}}]


def txn(a, ops, query="", timeout=8):
    return a.put("/v1/txn" + query, body=json.dumps(ops).encode(),
                 timeout=timeout)


def values(r):
    assert r.status == 200, (r.status, r.body)
    res = r.json()["Results"]
    return [(x["KV"]["Key"], base64.b64decode(x["KV"]["Value"]).decode())
            for x in res]


def test_read_only_txn_on_followers_and_clients(agents, cluster_cfg):
    servers = form(agents, cluster_cfg)
    leader = by_addr(servers, agreed_leader(servers))
    followers = [s for s in servers if s is not leader]
    c = start_client(agents, servers)
    assert put(leader, "cfg/a", "1") and put(leader, "cfg/b", "2")
    want = [("cfg/a", "1"), ("cfg/a", "1"), ("cfg/b", "2")]
    for a in followers + [c]:
        for q, mode in (("", "leader"), ("?stale", "stale"),
                        ("?consistent", "consistent")):
            r = wait_for(lambda: (lambda r: r.status == 200 and
                                  values(r) == want and r)(
                txn(a, READ_OPS, q)), 10, what="txn read %s on %s" % (
                    q, a.name))
            assert r.headers["X-Consul-KnownLeader"] == "true", q
            assert int(r.headers["X-Consul-LastContact"]) >= 0
            assert r.headers["X-Consul-Effective-Consistency"] == mode
            assert r.json()["Errors"] is None
        r = txn(a, READ_OPS, "?stale&consistent")
        assert r.status == 400, r.body
        assert b"Cannot specify ?stale with ?consistent" in r.body
        # A failing check answers 409 with its op, as a write would.
        r = txn(a, [{"KV": {"Verb": "check-not-exists", "Key": "cfg/a"}}],
                "?stale")
        assert r.status == 409, r.body
        assert r.json() == {"Results": None, "Errors": [
            {"OpIndex": 0, "What": 'key "cfg/a" exists'}]}
    # A transaction with a write is no read: it takes no ?stale shortcut
    # and is applied through the leader.
    r = txn(followers[0], [{"KV": {"Verb": "set", "Key": "cfg/c",
                                   "Value": "Mw=="}}], "?stale")
    assert r.status == 200, r.body
    assert "X-Consul-KnownLeader" not in r.headers
    wait_for(lambda: values(txn(leader, [{"KV": {
        "Verb": "get", "Key": "cfg/c"}}])) == [("cfg/c", "3")], 5,
        what="the write applied")

    # Without a quorum, a follower still serves ?stale from its own
    # state, and says it knows no leader; a default read cannot be.
    survivor = followers[0]
    for s in servers:
        if s is not survivor:
            s.kill()
    r = wait_for(lambda: (lambda r: r.status == 200 and
                          r.headers["X-Consul-KnownLeader"] == "false" and
                          r)(txn(survivor, READ_OPS, "?stale")), 20,
                 what="stale txn read without a leader")
    assert values(r) == want
    assert int(r.headers["X-Consul-LastContact"]) > 0
    r = txn(survivor, READ_OPS, "", timeout=30)
    assert r.status == 500, (r.status, r.body)


def test_snapshot_save_and_restore_through_any_agent(agents, cluster_cfg,
                                                     tmp_path):
    servers = form(agents, cluster_cfg)
    leader = by_addr(servers, agreed_leader(servers))
    follower = [s for s in servers if s is not leader][0]
    c = start_client(agents, servers)
    assert put(leader, "snap/a", "before")
    assert put(leader, "snap/b", "kept")
    wait_for(lambda: get(follower, "snap/a", "&stale") == "before", 5,
             what="the follower applied the writes")
    saved = {}
    for a, q in ((follower, ""), (follower, "?stale"), (c, ""),
                 (c, "?stale"), (follower, "?consistent")):
        r = a.get("/v1/snapshot" + q, timeout=30)
        assert r.status == 200, (a.name, q, r.status, r.body)
        assert r.body[257:262] == b"ustar", "not a tar archive"
        assert int(r.headers["X-Consul-Index"]) > 0
        saved[(a.name, q)] = r.body
    r = follower.get("/v1/snapshot?stale&consistent")
    assert r.status == 400, r.body

    # The CLI against a client agent, then the data changes.
    path = str(tmp_path / "backup.snap")
    p = c.cli("snapshot", "save", "-http-addr", c.http_addr, path)
    assert p.returncode == 0, p.stderr
    assert os.path.getsize(path) > 0
    assert put(leader, "snap/a", "after")
    assert put(leader, "snap/c", "new")
    wait_for(lambda: all(get(s, "snap/c", "&stale") == "new"
                         for s in servers), 5, what="the later writes")

    # Restored through a follower: every server has the saved state.
    p = follower.cli("snapshot", "restore", "-http-addr",
                     follower.http_addr, path)
    assert p.returncode == 0, (p.stdout, p.stderr)
    for s in servers:
        wait_for(lambda: get(s, "snap/a", "&stale") == "before" and
                 get(s, "snap/c", "&stale") is None, 10,
                 what="restored on %s" % s.name)
        assert get(s, "snap/b", "&stale") == "kept"
    assert get(c, "snap/a") == "before"

    # A restore through the client agent, from an HTTP save taken on the
    # follower with ?stale, also reaches every server.
    assert put(leader, "snap/a", "again")
    r = c.put("/v1/snapshot", body=saved[(follower.name, "?stale")],
              timeout=30)
    assert r.status == 200, (r.status, r.body)
    for s in servers:
        wait_for(lambda: get(s, "snap/a", "&stale") == "before", 10,
                 what="second restore on %s" % s.name)
    # A damaged archive is refused by the agent asked, and changes nothing.
    bad = bytearray(saved[(c.name, "")])
    bad[bad.index(b"kept")] ^= 0x20     # in state.bin: its sum is wrong
    r = follower.put("/v1/snapshot", body=bytes(bad), timeout=30)
    assert r.status == 400, (r.status, r.body)
    assert get(leader, "snap/a") == "before"
