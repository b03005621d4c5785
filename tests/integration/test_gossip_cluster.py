"""Gossip clusters of real agents on distinct 127.0.0.x addresses: a -dev
server and client agents with data dirs joining each other, failure
detection of a SIGKILLed agent, graceful leave, force-leave, user events
on every agent, encrypted pools and key rotation, -rejoin and the serf
snapshot, and interop with the real `serf` agent (skipped without it)."""
import base64
import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import MUSTER, next_loopback, wait_for

ALIVE, LEAVING, LEFT, FAILED = 1, 2, 3, 4

# memberlist's LAN defaults (gossip_lan), what a client without -dev runs.
PROBE_INTERVAL = 1.0
SUSPICION_MULT = 4
SUSPICION_MAX_MULT = 6


def members(agent, wan=False):
    r = agent.get("/v1/agent/members" + ("?wan" if wan else ""))
    assert r.status == 200, r.body
    return {m["Name"]: m for m in r.json()}


def statuses(agent, wan=False):
    return {n: m["Status"] for n, m in members(agent, wan).items()}


def wait_status(agent, name, status, timeout=20, wan=False):
    return wait_for(lambda: statuses(agent, wan).get(name) == status,
                    timeout, interval=0.05,
                    what="%s: %s status %s (now %r)" % (
                        agent.name, name, status, statuses(agent, wan)))


def wait_converged(agents, timeout=20):
    names = {a.name for a in agents}
    for a in agents:
        wait_for(lambda a=a: {n for n, s in statuses(a).items()
                              if s == ALIVE} >= names,
                 timeout, what="%s sees %s alive" % (a.name, sorted(names)))


def client(agents, *args, **kw):
    return agents(*args, dev=False, **kw)


def serf_addr(a):
    return "%s:8301" % a.ip


@pytest.fixture
def cluster(agents):
    """A -dev server and two clients joined to it (one by -join, one by
    -retry-join), converged."""
    srv = agents().start()
    c1 = client(agents, "-join", srv.ip).start()
    c2 = client(agents, "-retry-join", srv.ip, "-retry-interval",
                "1s").start()
    wait_converged([srv, c1, c2])
    return srv, c1, c2


def test_members_converge(agents):
    srv = agents().start()
    c1 = client(agents, "-join", srv.ip).start()
    c2 = client(agents, "-retry-join", srv.ip).start()
    c3 = client(agents).start()
    assert set(statuses(c3)) == {c3.name}
    # Joined through the HTTP API, by way of another client.
    assert c3.put("/v1/agent/join/" + serf_addr(c1)).status == 200
    everyone = [srv, c1, c2, c3]
    wait_converged(everyone)
    for a in everyone:
        ms = members(a)
        assert ms[srv.name]["Tags"]["role"] == "consul"
        assert ms[srv.name]["Tags"]["port"] == "8300"
        for c in (c1, c2, c3):
            m = ms[c.name]
            assert m["Tags"]["role"] == "node"
            assert m["Tags"]["dc"] == "dc1"
            assert m["Addr"] == c.ip and m["Port"] == 8301
            assert len(m["Tags"]["id"]) == 36
            assert (m["ProtocolCur"], m["DelegateCur"]) == (2, 4)
    # agent/self: the member record and the pool's stats.
    s = c1.get("/v1/agent/self").json()
    assert s["Member"]["Name"] == c1.name
    assert s["Stats"]["serf_lan"]["members"] == "4"
    assert s["Stats"]["serf_lan"]["encrypted"] == "false"
    assert s["Stats"]["serf_wan"] == {}
    assert srv.get("/v1/agent/self").json()["Stats"]["serf_wan"][
        "members"] == "1"
    # The WAN pool holds servers only, named node.dc.
    assert set(members(srv, wan=True)) == {srv.name + ".dc1"}
    assert members(c1, wan=True) == {}
    out = c2.cli("members", "-http-addr", c2.http_addr)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split()[:4] == [srv.name, serf_addr(srv), "alive",
                                    "server"]
    assert sum(" client " in l for l in lines) == 3
    out = srv.cli("members", "-wan", "-http-addr", srv.http_addr)
    assert out.returncode == 0 and srv.name + ".dc1" in out.stdout
    out = c1.cli("members", "-wan", "-http-addr", c1.http_addr)
    assert out.returncode == 2 and out.stdout == ""


def test_join_errors(agents):
    srv = agents().start()
    c1 = client(agents).start()
    dead = next_loopback()
    r = c1.put("/v1/agent/join/" + dead)
    assert r.status == 500
    assert r.body.decode().startswith("1 error occurred:\n\t* Failed to "
                                      "join %s:8301: " % dead)
    r = c1.put("/v1/agent/join/%s?wan" % srv.ip)
    assert r.status == 500
    assert b"Must be a server to join WAN cluster" in r.body
    out = c1.cli("join", "-http-addr", c1.http_addr, dead, srv.ip)
    assert out.returncode == 0, out.stderr
    assert "Error joining address '%s'" % dead in out.stderr
    assert "Successfully joined cluster by contacting 1 nodes." in out.stdout
    out = c1.cli("join", "-http-addr", c1.http_addr, dead)
    assert out.returncode == 1
    assert "Failed to join any nodes." in out.stderr
    out = c1.cli("join", "-http-addr", c1.http_addr)
    assert out.returncode == 1
    assert "At least one address to join must be specified." in out.stderr


def test_start_join_failure_stops_agent(agents):
    # consul: "If Consul is unable to join with any of the specified
    # addresses, agent startup will fail."
    a = client(agents, "-join", next_loopback()).start(wait=False)
    assert a.proc.wait(30) == 2
    assert "Failed to join any nodes" in a.read_log()


def test_retry_join_gives_up_after_retry_max(agents):
    a = client(agents, "-retry-join", next_loopback(), "-retry-max", "2",
               "-retry-interval", "200ms").start(wait=False)
    assert a.proc.wait(30) == 2
    log = a.read_log()
    assert log.count("LAN pool: joining the cluster (attempt") == 2
    assert "max join retry exhausted" in log
    # -retry-interval spaces the attempts (the default is 30 s).
    import datetime
    ts = [datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
          for l in log.splitlines()
          if "LAN pool: joining the cluster (attempt" in l]
    gap = (ts[1] - ts[0]).total_seconds()
    assert 0.15 <= gap < 2.0, gap


def test_join_by_host_name(agents):
    # Names are resolved when the gossip worker starts (before its
    # privilege drop).  "localhost" reaches a server bound to 127.0.0.1
    # on ports of its own (the usual ones may be other tests').
    port = 20000 + os.getpid() % 20000
    srv = agents("-bind", "127.0.0.1", "-serf-lan-port", str(port),
                 "-serf-wan-port", str(port + 1), "-server-port",
                 str(port + 2)).start()
    c1 = client(agents, "-retry-join", "localhost:%d" % port).start()
    wait_converged([srv, c1])
    assert members(c1)[srv.name]["Port"] == port
    # At run time the API takes addresses, or a name known from start.
    c2 = client(agents).start()
    r = c2.put("/v1/agent/join/localhost:%d" % port)
    assert r.status == 500
    assert b"resolves names only at start" in r.body
    r = c1.put("/v1/agent/join/localhost:%d" % port)
    assert r.status == 200, r.body


def test_wan_pool_and_datacenter_merge_check(agents):
    a = agents().start()
    b = agents("-datacenter", "dc2").start()
    c = client(agents, "-datacenter", "dc2", "-join", b.ip).start()
    # Servers of two datacenters meet on the WAN only.
    assert a.put("/v1/agent/join/%s?wan" % b.ip).status == 200
    for s in (a, b):
        wait_for(lambda s=s: set(statuses(s, wan=True)) ==
                 {a.name + ".dc1", b.name + ".dc2"}, 10,
                 what="WAN pool on " + s.name)
    assert members(a, wan=True)[b.name + ".dc2"]["Port"] == 8302
    assert "wan_join_port" not in members(a, wan=True)[
        a.name + ".dc1"]["Tags"]
    out = a.cli("members", "-wan", "-http-addr", a.http_addr)
    assert out.returncode == 0, out.stderr
    rows = [l.split() for l in out.stdout.splitlines()[1:]]
    assert sorted((r[0], r[2], r[3], r[6]) for r in rows) == sorted([
        (a.name + ".dc1", "alive", "server", "dc1"),
        (b.name + ".dc2", "alive", "server", "dc2")])
    # Catalog.ListDatacenters: this datacenter first; a client agent,
    # which has no WAN pool, learns them from its server.
    for s, local, other in ((a, "dc1", "dc2"), (b, "dc2", "dc1"),
                            (c, "dc2", "dc1")):
        wait_for(lambda s=s: s.get("/v1/catalog/datacenters").json() ==
                 [local, other], 10, what="datacenters on " + s.name)
    for s in (a, b):
        assert s.get("/v1/agent/self").json()["Stats"]["consul"][
            "known_datacenters"] == "2"
    r = c.get("/v1/kv/x?dc=dc9")
    assert r.status == 500 and r.body == b"No path to datacenter"
    # Consul's LAN merge check refuses another datacenter's members.
    r = a.put("/v1/agent/join/" + c.ip)
    assert r.status == 500
    assert b"part of wrong datacenter 'dc2'" in r.body
    assert set(statuses(a)) == {a.name}
    # Force-leave on the WAN names node.dc.
    b.kill()
    wait_status(a, b.name + ".dc2", FAILED, timeout=30, wan=True)
    assert a.put("/v1/agent/force-leave/%s?wan" %
                 (b.name + ".dc2")).status == 200
    wait_status(a, b.name + ".dc2", LEFT, timeout=10, wan=True)
    # Its last server gone, dc2 is no longer known.
    wait_for(lambda: a.get("/v1/catalog/datacenters").json() == ["dc1"],
             10, what="dc2 forgotten")
    r = c.put("/v1/agent/force-leave/x?wan")
    assert r.status == 500 and b"Must be a server" in r.body


def test_wan_join_flags_and_cli(agents):
    """-join-wan and -retry-join-wan at start, `muster join -wan` at run
    time; -retry-max-wan gives up like -retry-max."""
    a = agents().start()
    b = agents("-datacenter", "dc2", "-join-wan", a.ip).start()
    c = agents("-datacenter", "dc3", "-retry-join-wan", a.ip,
               "-retry-interval-wan", "200ms").start()
    d = agents("-datacenter", "dc4").start()
    out = d.cli("join", "-wan", "-http-addr", d.http_addr, b.ip)
    assert out.returncode == 0, out.stderr
    assert "Successfully joined cluster by contacting 1 nodes." in out.stdout
    want = {a.name + ".dc1", b.name + ".dc2", c.name + ".dc3",
            d.name + ".dc4"}
    for s in (a, b, c, d):
        wait_for(lambda s=s: {n for n, st in statuses(s, wan=True).items()
                              if st == ALIVE} == want, 15,
                 what="WAN pool on " + s.name)
    wait_for(lambda: d.get("/v1/catalog/datacenters").json() ==
             ["dc4", "dc1", "dc2", "dc3"], 10, what="four datacenters")
    # The LAN pools stay apart.
    assert set(statuses(a)) == {a.name}
    # force-leave -prune -wan from the CLI erases a dead server of the
    # WAN pool at once (node.dc, as members -wan names it).
    d.kill()
    wait_status(a, d.name + ".dc4", FAILED, timeout=30, wan=True)
    out = a.cli("force-leave", "-prune", "-wan", "-http-addr", a.http_addr,
                d.name + ".dc4")
    assert out.returncode == 0 and out.stdout == "", out.stderr
    for s in (a, b, c):
        wait_for(lambda s=s: d.name + ".dc4" not in statuses(s, wan=True),
                 10, what="dc4 pruned on " + s.name)
    e = agents("-datacenter", "dc5", "-retry-join-wan", next_loopback(),
               "-retry-interval-wan", "200ms", "-retry-max-wan",
               "2").start(wait=False)
    assert e.proc.wait(30) == 2
    assert "max join retry exhausted" in e.read_log()


def test_sigkill_marked_failed_then_force_leave(agents):
    srv = agents().start()
    cs = [client(agents, "-join", srv.ip).start() for _ in range(3)]
    wait_converged([srv] + cs)
    victim, watchers = cs[0], cs[1:]
    n = len(cs) + 1
    # SWIM + Lifeguard with the clients' LAN timing: every member probes
    # the victim within one round (n - 1 probe intervals), then the
    # suspicion runs at most SuspicionMaxTimeoutMult x the minimum
    # suspicion timeout (mult * max(1, log10 n) * interval).
    susp_min = SUSPICION_MULT * max(1.0, math.log10(n)) * PROBE_INTERVAL
    bound = (n - 1) * PROBE_INTERVAL + PROBE_INTERVAL + \
        SUSPICION_MAX_MULT * susp_min + 2.0
    victim.kill()
    t0 = time.monotonic()
    for w in [srv] + watchers:
        wait_status(w, victim.name, FAILED, timeout=bound)
    took = time.monotonic() - t0
    assert took < bound, (took, bound)
    # Failed, not left: a crash is not a leave.
    assert statuses(srv)[victim.name] == FAILED
    r = srv.put("/v1/agent/force-leave/no-such-node")
    assert r.status == 500
    assert r.body == b"agent: No node found with name 'no-such-node'"
    out = watchers[0].cli("force-leave", "-http-addr", watchers[0].http_addr,
                          victim.name)
    assert out.returncode == 0, out.stderr
    for w in [srv] + watchers:
        wait_status(w, victim.name, LEFT, timeout=10)
    # -prune erases it at once.
    assert srv.put("/v1/agent/force-leave/%s?prune" %
                   victim.name).status == 200
    for w in [srv] + watchers:
        wait_for(lambda w=w: victim.name not in statuses(w), 10,
                 what="%s pruned on %s" % (victim.name, w.name))


def test_graceful_leave_shows_left(cluster):
    srv, c1, c2 = cluster
    out = c1.cli("leave", "-http-addr", c1.http_addr)
    assert out.returncode == 0, out.stderr
    assert "Graceful leave complete" in out.stdout
    # The leave intent went out before the agent stopped.
    assert c1.proc.wait(15) == 0
    assert statuses(srv)[c1.name] in (LEAVING, LEFT)
    wait_status(srv, c1.name, LEFT, timeout=10)
    wait_status(c2, c1.name, LEFT, timeout=10)
    # consul members: its columns, servers first; -status is a regex on
    # the status word; nothing left after it: exit 2, no output.
    def members_cli(*args):
        return c2.cli("members", "-http-addr", c2.http_addr, *args)
    out = members_cli()
    assert out.returncode == 0, out.stderr
    rows = [l.split() for l in out.stdout.splitlines()]
    assert rows[0] == ["Node", "Address", "Status", "Type", "Build",
                       "Protocol", "DC", "Partition", "Segment"]
    assert rows[1] == [srv.name, serf_addr(srv), "alive", "server",
                       "0.1.0", "2", "dc1", "default", "<all>"]
    assert sorted(r[:3] + r[6:] for r in rows[2:]) == sorted([
        [c1.name, serf_addr(c1), "left", "dc1", "default", "<default>"],
        [c2.name, serf_addr(c2), "alive", "dc1", "default", "<default>"]])
    out = members_cli("-status=left")
    assert out.returncode == 0, out.stderr
    assert [l.split()[0] for l in out.stdout.splitlines()[1:]] == [c1.name]
    out = members_cli("-status", "^(alive|failed)$")
    assert sorted(l.split()[0] for l in out.stdout.splitlines()[1:]) == \
        sorted([srv.name, c2.name])
    out = members_cli("-status=fail")
    assert (out.returncode, out.stdout) == (2, "")
    out = members_cli("-status=(")
    assert out.returncode == 1
    assert "Failed to compile status regexp" in out.stderr
    # -detailed: Node Address Status Tags, the tags as sorted k=v pairs.
    out = members_cli("-detailed", "-status=alive")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["Node", "Address", "Status", "Tags"]
    detail = {l.split()[0]: l.split()[3] for l in lines[1:]}
    assert set(detail) == {srv.name, c2.name}
    tags = dict(kv.split("=", 1) for kv in detail[c2.name].split(","))
    assert list(tags) == sorted(tags)
    assert tags["role"] == "node" and tags["dc"] == "dc1"
    assert tags["segment"] == "<default>" and tags["partition"] == "default"
    assert tags["id"] == members(c2)[c2.name]["Tags"]["id"]
    assert dict(kv.split("=", 1) for kv in detail[srv.name].split(","))[
        "role"] == "consul"


def test_sigterm_client_leaves_server_does_not(agents):
    # leave_on_terminate: true for clients, false for servers.
    srv = agents().start()
    srv2 = agents("-join", srv.ip).start()
    c1 = client(agents, "-join", srv.ip).start()
    wait_converged([srv, srv2, c1])
    assert c1.stop(signal.SIGTERM) == 0
    wait_status(srv, c1.name, LEFT, timeout=10)
    srv2.stop(signal.SIGTERM)
    wait_status(srv, srv2.name, FAILED, timeout=20)


def fire(agent, name, payload=b"", **filters):
    q = "&".join("%s=%s" % kv for kv in filters.items())
    r = agent.put("/v1/event/fire/%s%s" % (name, "?" + q if q else ""),
                  body=payload)
    assert r.status == 200, r.body
    return r.json()


def events(agent, name=None):
    r = agent.get("/v1/event/list" + ("?name=" + name if name else ""))
    assert r.status == 200
    return r.json(), int(r.headers["X-Consul-Index"])


def test_events_reach_every_agent(cluster):
    srv, c1, c2 = cluster
    ev = fire(c1, "deploy", b"v1.2.3")
    assert ev["Name"] == "deploy" and ev["Version"] == 1
    assert ev["LTime"] == 0 and len(ev["ID"]) == 36
    assert base64.b64decode(ev["Payload"]) == b"v1.2.3"
    for a in cluster:
        got = wait_for(lambda a=a: [e for e in events(a)[0]
                                    if e["ID"] == ev["ID"]], 10,
                       what="event on " + a.name)[0]
        assert got["Name"] == "deploy"
        assert base64.b64decode(got["Payload"]) == b"v1.2.3"
        assert got["LTime"] > 0
    # The index is the newest event's ID folded to 64 bits.
    h = ev["ID"].replace("-", "")
    assert events(c2)[1] == int(h[:16], 16) ^ int(h[16:], 16)
    # A node filter: only the matching agent keeps the event.
    ev2 = fire(srv, "only-c2", node="^" + c2.name + "$")
    wait_for(lambda: any(e["ID"] == ev2["ID"] for e in events(c2)[0]), 10,
             what="filtered event on c2")
    ev3 = fire(srv, "after")
    for a in (srv, c1):
        wait_for(lambda a=a: any(e["ID"] == ev3["ID"]
                                 for e in events(a)[0]), 10)
        assert not any(e["ID"] == ev2["ID"] for e in events(a)[0])
    # ?name and the empty answer's index 1.
    evs, _ = events(c1, "deploy")
    assert [e["Name"] for e in evs] == ["deploy"]
    evs, idx = events(c1, "never-fired")
    assert evs == [] and idx == 1
    # Bad filters are refused before anything is sent.
    r = c1.put("/v1/event/fire/x?node=a[")
    assert r.status == 500 and r.body.startswith(b"Invalid node filter: ")
    r = c1.put("/v1/event/fire/x?tag=a")
    assert r.status == 500
    assert r.body == b"Cannot provide tag filter without service filter"


def test_event_service_and_tag_filters(cluster):
    srv, c1, c2 = cluster
    body = json.dumps({"Name": "web", "ID": "web-1", "Tags": ["blue"],
                       "Port": 80}).encode()
    assert c1.put("/v1/agent/service/register", body=body).status == 200
    body = json.dumps({"Name": "db", "Tags": ["green"]}).encode()
    assert c2.put("/v1/agent/service/register", body=body).status == 200
    body = json.dumps({"Name": "x"}).encode()
    assert srv.put("/v1/agent/service/register", body=body).status == 200
    # The service filter matches service IDs (Consul's local state map).
    web = fire(srv, "svc", service="^web")
    green = fire(srv, "tag", service=".", tag="^green$")
    # Each agent asks its checks worker in order, so once this one (which
    # every agent keeps) is listed, the earlier ones were decided.
    done = fire(srv, "done", service=".")
    for a in cluster:
        wait_for(lambda a=a: any(e["ID"] == done["ID"]
                                 for e in events(a)[0]), 10,
                 what="service-filtered event on " + a.name)
    ids = {a.name: {e["ID"] for e in events(a)[0]} for a in cluster}
    assert web["ID"] in ids[c1.name]
    assert web["ID"] not in ids[c2.name] | ids[srv.name]
    assert green["ID"] in ids[c2.name]
    assert green["ID"] not in ids[c1.name] | ids[srv.name]


def test_event_list_blocks_until_next_event(cluster):
    srv, c1, c2 = cluster
    fire(srv, "first")
    wait_for(lambda: events(c2)[0], 10)
    _, idx = events(c2)
    t0 = time.monotonic()
    r = c2.get("/v1/event/list?index=%d&wait=1s" % idx, timeout=10)
    assert 0.9 < time.monotonic() - t0 < 5
    assert int(r.headers["X-Consul-Index"]) == idx
    # CLI fires, the blocked query returns with it.
    import threading
    res = {}

    def block():
        res["r"] = c2.get("/v1/event/list?index=%d&wait=30s" % idx,
                          timeout=40)
    t = threading.Thread(target=block)
    t.start()
    time.sleep(0.5)
    out = c1.cli("event", "-http-addr", c1.http_addr, "-name", "second",
                 "hello")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Event ID: ")
    t.join(35)
    evs = res["r"].json()
    assert evs[-1]["Name"] == "second"
    assert evs[-1]["ID"] == out.stdout.split()[-1]
    assert base64.b64decode(evs[-1]["Payload"]) == b"hello"
    out = c1.cli("event", "-http-addr", c1.http_addr)
    assert out.returncode == 1 and "Event name must be specified" in \
        out.stderr


def keygen():
    return subprocess.run([MUSTER, "keygen"], capture_output=True,
                          text=True, check=True).stdout.strip()


def keyring(agent, method="GET", key=None):
    body = json.dumps({"Key": key}).encode() if key else None
    from conftest import http
    return http(method, agent.http_addr + "/v1/operator/keyring", body=body)


def test_encrypted_pool_and_key_rotation(agents):
    k1, k2 = keygen(), keygen()
    srv = agents("-encrypt", k1).start()
    c1 = client(agents, "-encrypt", k1, "-join", srv.ip).start()
    wait_converged([srv, c1])
    assert c1.get("/v1/agent/self").json()["Stats"]["serf_lan"][
        "encrypted"] == "true"
    # -encrypt seeded the client's keyring file.
    ring = os.path.join(c1.data_dir, "serf", "local.keyring")
    assert json.load(open(ring)) == [k1]
    # A wrong key cannot join, and says why.
    bad = client(agents, "-encrypt", k2).start()
    out = bad.cli("join", "-http-addr", bad.http_addr, srv.ip)
    assert out.returncode == 1
    assert "Failed to join %s:8301" % srv.ip in out.stderr
    assert "no installed keys could decrypt the message" in out.stderr
    # No key at all: memberlist's own words, either way round.
    plain = client(agents).start()
    out = plain.cli("join", "-http-addr", plain.http_addr, srv.ip)
    assert out.returncode == 1
    assert "Remote state is encrypted and encryption is not configured" \
        in out.stderr
    out = c1.cli("join", "-http-addr", c1.http_addr, plain.ip)
    assert out.returncode == 1
    assert "Encryption is configured but remote state is not encrypted" \
        in out.stderr
    assert set(statuses(srv)) == {srv.name, c1.name}
    assert set(statuses(plain)) == {plain.name}
    # Cluster-wide listing, per pool, WAN first on a server.
    r = keyring(srv)
    assert r.status == 200, r.body
    lst = r.json()
    assert [x["WAN"] for x in lst] == [True, False]
    assert lst[1]["Keys"] == {k1: 2} and lst[1]["NumNodes"] == 2
    assert lst[1]["PrimaryKeys"] == {k1: 2}
    # A client answers for its LAN pool (Consul would forward to a
    # server, which adds the WAN pool; muster has no forwarding yet).
    assert [x["WAN"] for x in keyring(c1).json()] == [False]
    # Rotation: install k2, use it, remove k1; the files follow.
    def ring_is(keys):
        wait_for(lambda: json.load(open(ring)) == keys, 5,
                 what="keyring file %r" % keys)
    assert keyring(srv, "POST", k2).status == 200
    ring_is([k1, k2])
    out = srv.cli("keyring", "-http-addr", srv.http_addr, "-use", k2)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "==> Changing primary gossip encryption key...\n"
    ring_is([k2, k1])
    r = keyring(srv, "DELETE", k2)
    assert r.status == 500 and b"removing the primary key is not allowed" \
        in r.body
    r = keyring(srv, "DELETE", k1)
    assert r.status == 200, r.body
    ring_is([k2])
    # Now the agent with k2 gets in.
    out = bad.cli("join", "-http-addr", bad.http_addr, srv.ip)
    assert out.returncode == 0, out.stderr
    wait_converged([srv, c1, bad])
    out = srv.cli("keyring", "-http-addr", srv.http_addr, "-list")
    assert out.returncode == 0, out.stderr
    assert "WAN:\n  %s [1/1]" % k2 in out.stdout
    assert "dc1 (LAN):\n  %s [3/3]" % k2 in out.stdout
    # Restarted, the keyring file wins over -encrypt.
    c1.stop()
    c1b = restart(agents, c1, "-encrypt", k1, "-join", srv.ip)
    wait_status(srv, c1.name, ALIVE)
    wait_status(c1b, srv.name, ALIVE)
    assert "does not include the key given with -encrypt" in c1b.read_log()


def test_keyring_without_encryption_fails(cluster):
    srv, c1, c2 = cluster
    r = keyring(c1)
    assert r.status == 500
    text = r.body.decode()
    assert text.startswith("4 errors occurred:\n\t* dc1 (LAN) error: 3/3 "
                           "nodes reported failure")
    assert "%s: Keyring is empty (encryption not enabled)" % c2.name in text
    r = keyring(c1, "POST")
    assert r.status == 400 and r.body == b"Request decode failed: EOF"


def restart(agents, old, *args):
    """The same node (name, address, data dir) started again."""
    a = client(agents, *args, name=old.name, ip=old.ip)
    shutil.rmtree(a.dir)
    a.dir, a.data_dir, a.control = old.dir, old.data_dir, old.control
    a.log_path = old.log_path
    return a.start()


def test_rejoin_after_leave(agents):
    srv = agents().start()
    c1 = client(agents, "-rejoin", "-join", srv.ip).start()
    c2 = client(agents, "-join", srv.ip).start()
    wait_converged([srv, c1, c2])
    for c in (c1, c2):
        assert c.put("/v1/agent/leave").status == 200
        assert c.proc.wait(15) == 0
        wait_status(srv, c.name, LEFT)
    snap = open(os.path.join(c1.data_dir, "serf", "local.snapshot")).read()
    assert "alive: %s %s" % (srv.name, serf_addr(srv)) in snap
    assert snap.rstrip().endswith("leave")
    # -rejoin: back from the snapshot, without -join.
    c1b = restart(agents, c1, "-rejoin")
    wait_status(srv, c1.name, ALIVE)
    wait_status(c1b, srv.name, ALIVE)
    # Without -rejoin a graceful leave is final: it stays alone.
    c2b = restart(agents, c2)
    time.sleep(2)
    assert set(statuses(c2b)) == {c2.name}
    assert statuses(srv)[c2.name] == LEFT


def test_crashed_agent_rejoins_from_snapshot(agents):
    # serf rejoins the previous members after a crash, -rejoin or not.
    srv = agents().start()
    c1 = client(agents, "-join", srv.ip).start()
    wait_converged([srv, c1])
    wait_for(lambda: "alive: " + srv.name in open(os.path.join(
        c1.data_dir, "serf", "local.snapshot")).read(), 10,
        what="snapshot written")
    c1.kill()
    wait_status(srv, c1.name, FAILED, timeout=30)
    c1b = restart(agents, c1)
    wait_status(srv, c1.name, ALIVE)
    wait_status(c1b, srv.name, ALIVE)


# ---- interop with the serf agent ------------------------------------

SERF = shutil.which("serf")


class Serf:
    def __init__(self, tmp, name, key=None, join=None):
        self.ip = next_loopback()
        self.name = name
        self.rpc = "%s:7373" % self.ip
        self.dir = tempfile.mkdtemp(prefix="serf-", dir=tmp)
        self.events = os.path.join(self.dir, "events.log")
        handler = os.path.join(self.dir, "handler.sh")
        with open(handler, "w") as f:
            f.write('#!/bin/sh\n{ echo "$SERF_EVENT $SERF_USER_EVENT '
                    '$(base64 -w0)"; } >> %s\n' % self.events)
        os.chmod(handler, 0o755)
        cmd = [SERF, "agent", "-node=" + name, "-bind=%s:7946" % self.ip,
               "-rpc-addr=" + self.rpc, "-event-handler=" + handler,
               "-log-level=debug"]
        if key:
            cmd.append("-encrypt=" + key)
        if join:
            cmd.append("-join=" + join)
        self.log = open(os.path.join(self.dir, "serf.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_for(lambda: self.run("members").returncode == 0, 10,
                 what="serf agent up")

    @property
    def addr(self):
        return "%s:7946" % self.ip

    def run(self, *args):
        return subprocess.run([SERF, args[0], "-rpc-addr=" + self.rpc,
                               *args[1:]], capture_output=True, timeout=20)

    def members(self):
        out = self.run("members").stdout.decode()
        return {l.split()[0]: l.split()[2] for l in out.splitlines() if l}

    def user_events(self):
        try:
            lines = open(self.events).read().splitlines()
        except FileNotFoundError:
            return []
        return [l.split(" ", 2) for l in lines if l.startswith("user ")]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


@pytest.fixture
def serfs(tmp_path):
    started = []

    def make(*a, **kw):
        s = Serf(str(tmp_path), *a, **kw)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


def consul_event_payload(eid, name, payload):
    """Consul's msgpack UserEvent {ID, n, p, v} (str8 / bin8 as Go's
    codec with WriteExt writes them)."""
    def s(b):
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else
                b"\xd9" + bytes([len(b)])) + b
    return (b"\x84" + s(b"ID") + s(eid.encode()) + s(b"n") +
            s(name.encode()) + s(b"p") + b"\xc4" + bytes([len(payload)]) +
            payload + s(b"v") + b"\x01")


@pytest.mark.skipif(SERF is None, reason="serf binary not installed")
@pytest.mark.parametrize("encrypted", [False, True])
def test_serf_interop(agents, serfs, encrypted):
    key = keygen() if encrypted else None
    kargs = ["-encrypt", key] if key else []
    s1 = serfs("serf-1", key=key)
    srv = agents(*kargs).start()
    c1 = client(agents, "-join", s1.addr, *kargs).start()
    s2 = serfs("serf-2", key=key, join=serf_addr(srv))
    assert srv.put("/v1/agent/join/" + s1.addr).status == 200
    # muster alive in `serf members`, serf in `muster members`.
    for s in (s1, s2):
        wait_for(lambda s=s: s.members().get(srv.name) == "alive" and
                 s.members().get(c1.name) == "alive", 15,
                 what="muster agents alive in serf members")
    for a in (srv, c1):
        wait_for(lambda a=a: statuses(a).get("serf-1") == ALIVE and
                 statuses(a).get("serf-2") == ALIVE, 15,
                 what="serf agents alive in muster members")
    out = c1.cli("members", "-http-addr", c1.http_addr)
    assert "serf-1" in out.stdout and "unknown" in out.stdout
    if encrypted:
        lst = keyring(srv).json()
        assert lst[-1]["Keys"] == {key: 4}
    # muster -> serf: a Consul user event, as Consul sends it.
    ev = fire(c1, "deploy", b"from-muster")
    for s in (s1, s2):
        got = wait_for(lambda s=s: [e for e in s.user_events()
                                    if e[1] == "consul:event:deploy"], 15,
                       what="event on " + s.name)
        raw = base64.b64decode(got[0][2])
        assert ev["ID"].encode() in raw and b"from-muster" in raw
    # serf -> muster: Consul's event format is listed, serf's own user
    # events are not Consul's and are ignored (as Consul does).
    eid = "5b2c6b4a-1d2e-4f60-8a9b-0c1d2e3f4a5b"
    out = s2.run("event", "-coalesce=false", "consul:event:from-serf",
                 consul_event_payload(eid, "from-serf", b"hi"))
    assert out.returncode == 0, out.stderr
    assert s2.run("event", "-coalesce=false", "plain", "x").returncode == 0
    for a in (srv, c1):
        got = wait_for(lambda a=a: [e for e in events(a)[0]
                                    if e["ID"] == eid], 15,
                       what="serf's event on " + a.name)[0]
        assert got["Name"] == "from-serf"
        assert base64.b64decode(got["Payload"]) == b"hi"
    fire(srv, "marker")
    wait_for(lambda: any(e["Name"] == "marker" for e in events(c1)[0]), 10)
    assert not any(e["Name"] == "plain" for e in events(c1)[0])
    # `serf query`: every muster agent acks it (Consul registers no
    # query handlers, so an ack and no response is its whole answer).
    out = s1.run("query", "-timeout=5s", "ping", "x")
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    for a in (srv, c1):
        assert "Ack from '%s'" % a.name in text, text
    assert "Total Acks: 4" in text, text
    # A serf agent that dies is failed in muster and a SIGKILLed muster
    # agent in serf (both at once: one SWIM bound); one that leaves, left.
    c1.kill()
    s1.stop()
    wait_status(srv, "serf-1", FAILED, timeout=30)
    wait_for(lambda: s2.members().get(c1.name) == "failed", 30,
             what="killed muster agent failed in serf members")
    assert s2.run("leave").returncode == 0
    wait_status(srv, "serf-2", LEFT, timeout=15)
