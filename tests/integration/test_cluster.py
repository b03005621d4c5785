"""Clusters of real agents on loopback: servers discover each other through
gossip (the LAN pool's MEMBER_EVENTs), bootstrap with -bootstrap-expect,
replicate over the server port, forward from followers and client agents,
survive a leader's kill -9, shrink on a graceful leave and grow by a
nonvoter that autopilot promotes.

Each agent has its own 127.x.y.z and data dir.  Raft runs at
raft_multiplier 1 (as Consul advises for production) so that elections
take about a second; server_stabilization_time is short so promotions do
not make the suite slow.
"""
import json
import os
import threading
import time

import pytest

from conftest import wait_for

STABILIZATION_S = 2


@pytest.fixture
def cluster_cfg(tmp_path):
    p = tmp_path / "cluster.json"
    p.write_text(json.dumps({
        "performance": {"raft_multiplier": 1},
        "autopilot": {"server_stabilization_time":
                      "%ds" % STABILIZATION_S},
    }))
    return str(p)


def server(agents, cfg, join=None, expect=3):
    args = ["-server", "-config-file", cfg, "-retry-interval", "1s"]
    if expect:
        args += ["-bootstrap-expect", str(expect)]
    if join:
        args += ["-retry-join", join]
    return agents(*args, dev=False)


def client(agents, join):
    return agents("-retry-join", join, "-retry-interval", "1s", dev=False)


def start_client(agents, servers):
    """A client agent that has heard of the servers (and so of a leader)."""
    c = client(agents, servers[0].ip).start()
    wait_for(lambda: leader_of(c) == agreed_leader(servers), 15,
             what="client sees the leader")
    return c


def leader_of(a):
    try:
        return a.get("/v1/status/leader", timeout=2).json()
    except (OSError, ValueError):
        return None


def raft_conf(a, stale=False):
    r = a.get("/v1/operator/raft/configuration" + ("?stale" if stale
                                                    else ""), timeout=3)
    assert r.status == 200, r.body
    return r.json()


def agreed_leader(servers):
    """The leader's address when every server names the same one."""
    seen = {leader_of(s) for s in servers}
    if len(seen) == 1:
        (l,) = seen
        return l or None
    return None


def by_addr(servers, addr):
    for s in servers:
        if addr.startswith(s.ip + ":"):
            return s
    raise AssertionError("no agent at %s" % addr)


def form(agents, cfg, n=3):
    first = server(agents, cfg).start()
    rest = [server(agents, cfg, join=first.ip).start() for _ in range(n - 1)]
    servers = [first] + rest
    wait_for(lambda: agreed_leader(servers), 30, what="one leader")
    wait_for(lambda: len(raft_conf(servers[0])["Servers"]) == n, 10,
             what="%d servers in the Raft configuration" % n)
    return servers


class Answer:
    """Truthy when a write succeeded; shows the answer in assertions."""

    def __init__(self, r):
        self.r = r

    def __bool__(self):
        return self.r.status == 200 and self.r.body.strip() == b"true"

    def __repr__(self):
        return "HTTP %d %r" % (self.r.status, self.r.body)


def all_dead(pids):
    """Every process exited (gone, or a zombie: its sockets are closed)."""
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    return False
        except OSError:
            pass
    return True


def put(a, key, value, timeout=7):
    return Answer(a.put("/v1/kv/" + key, body=value.encode(),
                        timeout=timeout))


def get(a, key, query=""):
    r = a.get("/v1/kv/%s?raw%s" % (key, query), timeout=5)
    return r.body.decode() if r.status == 200 else None


def test_bootstrap_expect_one_leader_and_replication(agents, cluster_cfg):
    # Two of three expected: they see each other, and nobody is elected
    # (an election timeout is ~1 s at raft_multiplier 1).
    first = server(agents, cluster_cfg).start()
    second = server(agents, cluster_cfg, join=first.ip).start()
    wait_for(lambda: all(len([m for m in a.get("/v1/agent/members").json()
                              if m["Status"] == 1]) == 2
                         for a in (first, second)), 10,
             what="two servers in gossip")
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for a in (first, second):
            assert leader_of(a) == "", a.read_log()[-2000:]
        time.sleep(0.2)
    assert raft_conf(first, stale=True)["Servers"] == []
    third = server(agents, cluster_cfg, join=first.ip).start()
    servers = [first, second, third]
    wait_for(lambda: agreed_leader(servers), 30, what="one leader")
    wait_for(lambda: len(raft_conf(servers[0])["Servers"]) == 3, 10,
             what="3 servers in the Raft configuration")
    leader = agreed_leader(servers)
    conf = raft_conf(servers[1])
    assert sum(s["Leader"] for s in conf["Servers"]) == 1
    assert all(s["Voter"] for s in conf["Servers"])
    assert {s["Address"] for s in conf["Servers"]} == {
        "%s:8300" % s.ip for s in servers}
    assert [s for s in conf["Servers"] if s["Leader"]][0]["Address"] == leader
    assert sorted(servers[0].get("/v1/status/peers").json()) == sorted(
        "%s:8300" % s.ip for s in servers)

    c = start_client(agents, servers)
    everyone = servers + [c]
    for i, a in enumerate(everyone):
        assert put(a, "k/%d" % i, "from-%s" % a.name), a.read_log()
    for a in everyone:
        for i, b in enumerate(everyone):
            assert get(a, "k/%d" % i) == "from-%s" % b.name
            assert get(a, "k/%d" % i, "&consistent") == "from-%s" % b.name
    for a in servers:
        wait_for(lambda: get(a, "k/3", "&stale") == "from-%s" % c.name, 5,
                 what="stale read on %s" % a.name)

    # The catalog is replicated and forwarded the same way.
    reg = {"Node": "ext", "Address": "10.1.2.3",
           "Service": {"Service": "web", "Port": 80}}
    r = c.put("/v1/catalog/register", body=json.dumps(reg).encode())
    assert r.status == 200, r.body
    for a in everyone:
        svc = a.get("/v1/catalog/service/web").json()
        assert [(x["Node"], x["ServicePort"]) for x in svc] == [("ext", 80)]


def test_leader_killed_then_rejoins(agents, cluster_cfg):
    servers = form(agents, cluster_cfg)
    c = start_client(agents, servers)
    old = by_addr(servers, agreed_leader(servers))
    rest = [s for s in servers if s is not old]
    assert put(c, "before", "1")
    workers = list(old.worker_pids().values())
    old.kill()
    # Its workers die with it, a moment later; until they are gone a
    # request could still reach one, and its outcome would be unknown.
    wait_for(lambda: all_dead(workers), 10, what="old leader gone")
    # Asked during the election, a survivor holds the write until the new
    # leader is there (Consul's rpc_hold_timeout) rather than failing it.
    assert put(rest[0], "after", "2")
    new = wait_for(lambda: (lambda l: l if l and not l.startswith(
        old.ip + ":") else None)(agreed_leader(rest)), 30,
        what="a new leader")
    assert by_addr(rest, new) in rest
    assert put(c, "after-client", "3")
    assert get(rest[1], "before") == "1"
    assert get(c, "after") == "2"

    old.start()
    wait_for(lambda: leader_of(old) == new, 30,
             what="old leader follows the new one")
    wait_for(lambda: get(old, "after-client", "&stale") == "3", 15,
             what="old leader caught up")
    wait_for(lambda: any(s["Address"].startswith(old.ip + ":") and s["Voter"]
                         for s in raft_conf(rest[0])["Servers"]),
             30, what="old leader a voter again")
    assert len(raft_conf(rest[0])["Servers"]) == 3
    assert put(old, "via-old", "4")
    assert get(c, "via-old") == "4"


def test_graceful_leave_shrinks_configuration(agents, cluster_cfg):
    servers = form(agents, cluster_cfg)
    leaving = [s for s in servers
               if not agreed_leader(servers).startswith(s.ip + ":")][0]
    r = leaving.cli("leave", "-http-addr", leaving.http_addr)
    assert r.returncode == 0, r.stderr
    assert "Graceful leave complete" in r.stdout
    rest = [s for s in servers if s is not leaving]
    wait_for(lambda: len(raft_conf(rest[0])["Servers"]) == 2, 15,
             what="configuration of two")
    assert sorted(rest[1].get("/v1/status/peers").json()) == sorted(
        "%s:8300" % s.ip for s in rest)
    assert leaving.proc.wait(15) == 0
    assert put(rest[0], "two", "ok")

    # Of two, the leader leaving takes itself out first (Consul's
    # Server.Leave): the last server keeps a quorum of one.
    leader = by_addr(rest, agreed_leader(rest))
    last = [s for s in rest if s is not leader][0]
    r = leader.cli("leave", "-http-addr", leader.http_addr)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: leader_of(last) == "%s:8300" % last.ip, 15,
             what="the last server leads")
    assert [s["Address"] for s in raft_conf(last)["Servers"]] == [
        "%s:8300" % last.ip]
    assert put(last, "one", "ok") and get(last, "two") == "ok"


class Writer(threading.Thread):
    """A steady stream of KV writes through one agent, every outcome kept:
    (seq, started, ended, "ok" | "error" | "lost", detail).  "lost" is a
    request the agent never answered (timeout, connection dropped)."""

    def __init__(self, agent, prefix):
        super().__init__(daemon=True)
        self.agent, self.prefix = agent, prefix
        self.results = []
        self.halt = threading.Event()

    def key(self, i):
        return "%s/%05d" % (self.prefix, i)

    def run(self):
        i = 0
        while not self.halt.is_set():
            t0 = time.monotonic()
            try:
                r = self.agent.put("/v1/kv/" + self.key(i),
                                   body=str(i).encode(), timeout=10)
                ok = r.status == 200 and r.body.strip() == b"true"
                outcome, detail = ("ok" if ok else "error"), (r.status,
                                                              r.body)
            except Exception as e:  # noqa: BLE001 - that is the finding
                outcome, detail = "lost", repr(e)
            self.results.append((i, t0, time.monotonic(), outcome, detail))
            i += 1
            time.sleep(0.005)

    def first_ok_after(self, t):
        for (i, t0, t1, outcome, _) in list(self.results):
            if t0 >= t and outcome == "ok":
                return t1
        return None

    def finish(self):
        self.halt.set()
        self.join(15)
        assert not self.is_alive()


def voters(a):
    return {s["Address"] for s in raft_conf(a)["Servers"] if s["Voter"]}


def settled(servers):
    """One leader that every server names, and all of them voters."""
    leader = agreed_leader(servers)
    if not leader:
        return False
    return voters(by_addr(servers, leader)) == {
        "%s:8300" % s.ip for s in servers}


def test_fourth_server_promoted_then_any_one_may_fail(agents, cluster_cfg):
    servers = form(agents, cluster_cfg)
    c = start_client(agents, servers)
    w = Writer(c, "stream")
    w.start()
    fourth = server(agents, cluster_cfg, join=servers[0].ip, expect=0)
    fourth.start()
    roles = []

    def role():
        for s in raft_conf(servers[0])["Servers"]:
            if s["Address"].startswith(fourth.ip + ":"):
                if not roles or roles[-1] != s["Voter"]:
                    roles.append(s["Voter"])
                return s["Voter"]
        return None
    wait_for(lambda: role() is not None, 20, interval=0.05,
             what="fourth server in the configuration")
    wait_for(lambda: role() is True, 20, interval=0.05, what="promotion")
    assert roles == [False, True], roles
    servers.append(fourth)
    conf = raft_conf(fourth)
    assert len(conf["Servers"]) == 4 and all(s["Voter"]
                                             for s in conf["Servers"])
    wait_for(lambda: servers[0].get("/v1/operator/autopilot/health").status
             == 200, 10, what="healthy")
    h = servers[0].get("/v1/operator/autopilot/health").json()
    assert h["Healthy"] and h["FailureTolerance"] == 1
    assert len(h["Servers"]) == 4, h

    # Any one of the four may fail: kill -9 each in turn (the leader
    # among them), the client's stream of writes going on meanwhile.
    # The client spreads its requests over every server, so each kill
    # hits the server it is using.
    for victim in list(servers):
        rest = [s for s in servers if s is not victim]
        workers = list(victim.worker_pids().values())
        t_kill = time.monotonic()
        victim.kill()
        wait_for(lambda: all_dead(workers), 10, what="victim gone")
        wait_for(lambda: w.first_ok_after(t_kill + 0.001), 10,
                 what="a write through the client after killing %s" %
                 victim.name)
        assert w.first_ok_after(t_kill) - t_kill < 6.0
        assert put(rest[0], "after-kill/" + victim.name, "1")
        victim.start()
        wait_for(lambda: settled(servers), 45, interval=0.2,
                 what="%s back as a voter" % victim.name)
    w.finish()

    lost = [r for r in w.results if r[3] == "lost"]
    assert not lost, lost[:5]
    ok = [r[0] for r in w.results if r[3] == "ok"]
    assert len(ok) > 50, len(w.results)
    # Failures were explicit: a 500 saying why.
    for r in w.results:
        if r[3] == "error":
            assert r[4][0] == 500 and r[4][1], r
    # Every write the client acknowledged is there, on every server.
    for a in servers:
        keys = a.get("/v1/kv/stream/?keys&consistent", timeout=5).json()
        missing = {w.key(i) for i in ok} - set(keys)
        assert not missing, (a.name, sorted(missing)[:5])

    # Settled, Raft's peers and gossip's servers are the same nodes.
    want = {(s.name, "%s:8300" % s.ip) for s in servers}

    def peers():
        r = c.cli("operator", "raft", "list-peers", "-http-addr",
                  c.http_addr)
        assert r.returncode == 0, r.stderr
        return {(l.split()[0], l.split()[2])
                for l in r.stdout.splitlines()[1:]}

    def members():
        r = c.cli("members", "-http-addr", c.http_addr)
        assert r.returncode == 0, r.stderr
        return {(l.split()[0], l.split()[1].rsplit(":", 1)[0] + ":8300")
                for l in r.stdout.splitlines()[1:]
                if l.split()[2:4] == ["alive", "server"]}
    wait_for(lambda: peers() == members() == want, 15, interval=0.5,
             what="list-peers %r and members %r agree" % (peers(),
                                                          members()))


def test_autopilot_removes_dead_server_never_below_min_quorum(agents,
                                                             tmp_path):
    """raft-autopilot's pruneDeadServers: a server gossip marks failed
    leaves the Raft configuration, unless that would leave fewer voters
    than min_quorum; list-peers and members agree once it is gone."""
    cfg = tmp_path / "minq.json"
    cfg.write_text(json.dumps({
        "performance": {"raft_multiplier": 1},
        "autopilot": {"server_stabilization_time": "%ds" % STABILIZATION_S,
                      "min_quorum": 3}}))
    servers = form(agents, str(cfg))
    leader = by_addr(servers, agreed_leader(servers))
    dead = [s for s in servers if s is not leader][0]
    rest = [s for s in servers if s is not dead]
    pids = list(dead.worker_pids().values())
    dead.kill()
    wait_for(lambda: all_dead(pids), 10, what="server gone")

    def status_of(a, name):
        for m in a.get("/v1/agent/members").json():
            if m["Name"] == name:
                return m["Status"]
    wait_for(lambda: status_of(leader, dead.name) == 4, 40, interval=0.2,
             what="dead server failed in gossip")
    # Three voters, min_quorum 3: it stays (autopilot ticks every 0.5 s).
    time.sleep(3)
    assert len(raft_conf(leader)["Servers"]) == 3
    r = leader.cli("operator", "autopilot", "set-config", "-min-quorum",
                   "2", "-http-addr", leader.http_addr)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: {s["Address"] for s in raft_conf(leader)["Servers"]}
             == {"%s:8300" % s.ip for s in rest}, 10,
             what="dead server removed")
    assert put(rest[1], "after-removal", "1")
    r = rest[1].cli("operator", "raft", "list-peers", "-http-addr",
                    rest[1].http_addr)
    assert r.returncode == 0, r.stderr
    assert {l.split()[0] for l in r.stdout.splitlines()[1:]} == {
        s.name for s in rest}
    r = rest[1].cli("members", "-http-addr", rest[1].http_addr)
    rows = {l.split()[0]: l.split()[2] for l in r.stdout.splitlines()[1:]}
    assert rows == {rest[0].name: "alive", rest[1].name: "alive",
                    dead.name: "failed"}


def test_operator_cli_through_a_client(agents, cluster_cfg):
    servers = form(agents, cluster_cfg)
    c = start_client(agents, servers)
    r = c.cli("operator", "raft", "list-peers", "-http-addr", c.http_addr)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:5] == ["Node", "ID", "Address", "State", "Voter"]
    assert len(lines) == 4
    assert sum(" leader " in l for l in lines) == 1
    for s in servers:
        assert any(l.startswith(s.name + " ") for l in lines[1:])

    r = c.cli("operator", "autopilot", "set-config", "-max-trailing-logs",
              "99", "-http-addr", c.http_addr)
    assert r.returncode == 0 and "Configuration updated!" in r.stdout, r.stderr
    r = servers[2].cli("operator", "autopilot", "get-config", "-http-addr",
                       servers[2].http_addr)
    assert "MaxTrailingLogs = 99" in r.stdout
    assert "ServerStabilizationTime = %ds" % STABILIZATION_S in r.stdout

    leader = agreed_leader(servers)
    r = c.cli("operator", "raft", "transfer-leader", "-http-addr", c.http_addr)
    assert r.returncode == 0 and r.stdout.strip() == "Success", r.stderr
    wait_for(lambda: agreed_leader(servers) not in (None, leader), 15,
             what="leadership moved")
    r = c.cli("operator", "autopilot", "state", "-http-addr", c.http_addr)
    assert r.returncode == 0 and "Healthy:" in r.stdout

    r = c.cli("operator", "raft", "remove-peer", "-address", "10.9.9.9:8300",
              "-http-addr", c.http_addr)
    assert r.returncode == 1
    assert 'address "10.9.9.9:8300" was not found' in r.stderr


def test_lagging_server_catches_up_by_snapshot(agents, tmp_path):
    cfg = tmp_path / "snap.json"
    cfg.write_text(json.dumps({
        "performance": {"raft_multiplier": 1},
        "autopilot": {"server_stabilization_time": "1s"},
        "raft_snapshot_threshold": 8, "raft_trailing_logs": 2}))
    servers = form(agents, str(cfg))
    lag = [s for s in servers
           if not agreed_leader(servers).startswith(s.ip + ":")][0]
    rest = [s for s in servers if s is not lag]
    lag.stop()
    for i in range(40):
        assert put(rest[i % 2], "snap/%02d" % i, "v%d" % i)
    lag.start()
    # Its log ends long before the leader's first one: only the snapshot
    # (InstallSnapshot over the Raft transport) can bring it up to date.
    wait_for(lambda: get(lag, "snap/39", "&stale") == "v39", 30,
             what="lagging server caught up")
    keys = lag.get("/v1/kv/snap/?keys&stale").json()
    assert len(keys) == 40
    assert put(lag, "snap/after", "x") and get(rest[0], "snap/after") == "x"
    snaps = os.listdir(os.path.join(lag.data_dir, "raft", "snapshots"))
    assert any(n.endswith(".snap") for n in snaps), snaps


def test_client_without_servers_says_so(agents):
    c = agents(dev=False).start()
    r = c.put("/v1/kv/x", body=b"1")
    assert r.status == 500 and b"No known Consul servers" in r.body
    r = c.get("/v1/kv/x")
    assert r.status == 500 and b"No known Consul servers" in r.body


def list_peers(a, stale=False):
    """list-peers' rows as (node, address, voter) through agent a."""
    args = ["operator", "raft", "list-peers", "-http-addr", a.http_addr]
    r = a.cli(*(args + (["-stale"] if stale else [])))
    if r.returncode != 0:
        return None
    return {(l.split()[0], l.split()[2], l.split()[4])
            for l in r.stdout.splitlines()[1:]}


def test_restarts_keep_list_peers_names(agents, cluster_cfg):
    """kill -9 and restart of servers, one at a time and two at once:
    once settled, every server's list-peers (its own view with -stale,
    and the leader's) names each peer as gossip does, never
    "(unknown)", as Consul's does."""
    servers = form(agents, cluster_cfg, n=4)
    want = {(s.name, "%s:8300" % s.ip, "true") for s in servers}
    rounds = [[s] for s in servers] + [[servers[0], servers[2]]]
    for victims in rounds:
        for v in victims:
            pids = list(v.worker_pids().values())
            v.kill()
            wait_for(lambda: all_dead(pids), 10, what="victim gone")
        for v in victims:
            v.start()
        wait_for(lambda: settled(servers), 45, interval=0.2,
                 what="%s back" % [v.name for v in victims])
        for s in servers:
            wait_for(lambda: list_peers(s) == want and
                     list_peers(s, stale=True) == want, 15, interval=0.3,
                     what="%s: list-peers %r, -stale %r" % (
                         s.name, list_peers(s), list_peers(s, True)))
