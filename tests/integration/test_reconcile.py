"""The leader reconciles gossip's LAN members into the catalog (Consul's
leader.go): every agent's node with a serfHealth check, the `consul`
service on servers, serfHealth critical for a killed agent (its services
leave ?passing but stay in the catalog), deregistration on a graceful
leave, force-leave and prune, a new leader catching up on what happened
while it was not leading, and the periodic pass repairing the catalog.

A -dev server probes with -dev's fast gossip timing, so a killed client
is failed within a few seconds; the 3-server cluster runs the LAN
defaults (raft_multiplier 1, as in test_cluster.py)."""
import json
import math

import pytest

from conftest import wait_for
from test_cluster import agreed_leader, all_dead, by_addr, form, leader_of

SERF = {"CheckID": "serfHealth", "Name": "Serf Health Status",
        "Notes": "", "ServiceID": "", "ServiceName": "", "ServiceTags": [],
        "Type": "", "Interval": "", "Timeout": "", "ExposedPort": 0,
        "Definition": {}}
ALIVE = dict(SERF, Status="passing", Output="Agent alive and reachable")
FAILED = dict(SERF, Status="critical",
              Output="Agent not live or unreachable")

# memberlist's LAN defaults with Lifeguard (see test_gossip_cluster.py):
# a round of probes, then at most 6x the minimum suspicion timeout.
PROBE_INTERVAL, SUSPICION_MULT, SUSPICION_MAX_MULT = 1.0, 4, 6


def failure_bound(n):
    susp = SUSPICION_MULT * max(1.0, math.log10(n)) * PROBE_INTERVAL
    return n * PROBE_INTERVAL + SUSPICION_MAX_MULT * susp + 5.0


@pytest.fixture
def cluster_cfg(tmp_path):
    p = tmp_path / "cluster.json"
    p.write_text(json.dumps({
        "performance": {"raft_multiplier": 1},
        "autopilot": {"server_stabilization_time": "2s"}}))
    return str(p)


def serf_check(a, node):
    """The node's serfHealth check as a agent reads it, or None."""
    r = a.get("/v1/health/node/" + node)
    assert r.status == 200, r.body
    for c in r.json():
        if c["CheckID"] == "serfHealth":
            return c
    return None


def serf_is(a, node, want):
    c = serf_check(a, node)
    return c is not None and all(c[k] == v for k, v in want.items()) and c


def nodes(a):
    return {n["Node"]: n for n in a.get("/v1/catalog/nodes").json()}


def start_client(agents, srv):
    c = agents("-retry-join", srv.ip, "-retry-interval", "1s",
               dev=False).start()
    wait_for(lambda: serf_is(srv, c.name, ALIVE), 20,
             what="%s registered alive" % c.name)
    # Its own store hears of the server through gossip too, maybe later.
    wait_for(lambda: leader_of(c), 10, what="%s knows a server" % c.name)
    return c


def register_service(agent, name, port):
    """A service registered on agent, as a user would: the agent owns it
    and anti-entropy puts it in the catalog (a catalog registration on the
    agent's node would be undone by its next full sync, as in Consul)."""
    body = {"ID": name + "1", "Name": name, "Port": port}
    r = agent.put("/v1/agent/service/register",
                  body=json.dumps(body).encode())
    assert r.status == 200, (r.status, r.body)
    wait_for(lambda: agent.name in instances(agent, name), 15,
             what="%s on %s in the catalog" % (name, agent.name))


def instances(a, service, passing=False):
    r = a.get("/v1/health/service/%s%s" % (service,
                                            "?passing" if passing else ""))
    assert r.status == 200, r.body
    return [e["Node"]["Node"] for e in r.json()]


def test_every_agent_registered_and_server_has_consul_service(agents):
    srv = agents().start()
    c = start_client(agents, srv)
    for a in (srv, c):
        ns = nodes(a)
        assert set(ns) == {srv.name, c.name}, ns
        assert ns[c.name]["Address"] == c.ip
        assert ns[srv.name]["Address"] == srv.ip
        assert ns[c.name]["Datacenter"] == "dc1"
        for n in (srv, c):
            got = serf_check(a, n.name)
            assert {k: got[k] for k in ALIVE} == ALIVE, got
            assert got["Node"] == n.name
    # The node ID is gossip's id tag, the agent's own node ID.
    self_id = c.get("/v1/agent/self").json()["Config"]["NodeID"]
    assert nodes(srv)[c.name]["ID"] == self_id

    # Only servers carry the consul service, on the server RPC port.
    assert srv.get("/v1/catalog/services").json() == {"consul": []}
    [e] = srv.get("/v1/health/service/consul").json()
    assert e["Node"]["Node"] == srv.name
    s = e["Service"]
    assert (s["ID"], s["Service"], s["Port"]) == ("consul", "consul", 8300)
    assert s["Weights"] == {"Passing": 1, "Warning": 1}
    assert s["Meta"]["raft_version"] == "3"
    assert s["Meta"]["non_voter"] == "false"
    assert s["Meta"]["read_replica"] == "false"
    assert set(s["Meta"]) >= {"serf_protocol_current", "serf_protocol_min",
                              "serf_protocol_max", "version"}
    assert [x["CheckID"] for x in e["Checks"]] == ["serfHealth"]
    assert instances(c, "consul", passing=True) == [srv.name]
    assert srv.get("/v1/catalog/node/" + c.name).json()["Services"] == {}


def test_killed_client_goes_critical_and_leaves_passing(agents):
    srv = agents().start()
    c = start_client(agents, srv)
    other = start_client(agents, srv)
    register_service(c, "web", 80)
    register_service(other, "web", 81)
    assert sorted(instances(srv, "web", passing=True)) == sorted(
        [c.name, other.name])
    workers = list(c.worker_pids().values())
    c.kill()
    wait_for(lambda: all_dead(workers), 10, what="client gone")
    got = wait_for(lambda: serf_is(srv, c.name, FAILED), failure_bound(3),
                   what="serfHealth critical")
    assert {k: got[k] for k in FAILED} == FAILED
    # Out of ?passing, still in the catalog: a failure is not a leave.
    assert instances(srv, "web", passing=True) == [other.name]
    assert sorted(instances(srv, "web")) == sorted([c.name, other.name])
    assert c.name in nodes(other)
    # The survivor is untouched.
    assert serf_is(other, other.name, ALIVE)

    # Back again under the same name: passing again.
    c.start()
    wait_for(lambda: serf_is(srv, c.name, ALIVE), 20, what="alive again")
    assert sorted(instances(srv, "web", passing=True)) == sorted(
        [c.name, other.name])


def test_graceful_leave_deregisters_node(agents):
    srv = agents().start()
    c = start_client(agents, srv)
    register_service(c, "api", 9000)
    assert instances(srv, "api") == [c.name]
    r = c.cli("leave", "-http-addr", c.http_addr)
    assert r.returncode == 0, r.stderr
    assert c.proc.wait(15) == 0
    try:
        wait_for(lambda: c.name not in nodes(srv), 10,
                 what="node deregistered")
    except AssertionError as e:
        seen = [(m["Name"], m["Status"]) for m in
                srv.get("/v1/agent/members").json()]
        raise AssertionError("%s; server's members %r; log:\n%s\n"
                             "client's log:\n%s" % (
                                 e, seen, srv.read_log()[-4000:],
                                 c.read_log()[-6000:]))
    # With everything on it.
    assert instances(srv, "api") == []
    assert srv.get("/v1/catalog/services").json() == {"consul": []}
    assert serf_check(srv, c.name) is None


def test_force_leave_and_prune_deregister(agents):
    srv = agents().start()
    gone = start_client(agents, srv)
    pruned = start_client(agents, srv)
    for victim in (gone, pruned):
        register_service(victim, "db", 5432)
        victim.kill()
    for victim in (gone, pruned):
        wait_for(lambda v=victim: serf_is(srv, v.name, FAILED),
                 failure_bound(3), what="%s critical" % victim.name)
    assert instances(srv, "db", passing=True) == []

    # force-leave: failed -> left, and a left member is deregistered.
    r = srv.put("/v1/agent/force-leave/" + gone.name)
    assert r.status == 200, r.body
    wait_for(lambda: gone.name not in nodes(srv), 10,
             what="force-left node deregistered")
    assert pruned.name in nodes(srv)
    # -prune reaps it at once.
    r = srv.put("/v1/agent/force-leave/%s?prune" % pruned.name)
    assert r.status == 200, r.body
    wait_for(lambda: pruned.name not in nodes(srv), 10,
             what="pruned node deregistered")
    assert set(nodes(srv)) == {srv.name}
    assert instances(srv, "db") == []


def test_new_leader_reconciles(agents, cluster_cfg):
    servers = form(agents, cluster_cfg)
    c = agents("-retry-join", servers[0].ip, "-retry-interval", "1s",
               dev=False).start()
    everyone = servers + [c]
    for a in everyone:
        wait_for(lambda a=a: serf_is(servers[0], a.name, ALIVE), 30,
                 what="%s registered" % a.name)
    wait_for(lambda: len(instances(c, "consul", passing=True)) == 3, 10,
             what="three consul instances")

    # A node that gossip never knew, with a serfHealth check (a member
    # reaped while no leader listened), and an external node without one.
    for node, checks in (("ghost", [{"CheckID": "serfHealth",
                                    "Name": "Serf Health Status",
                                    "Status": "passing"}]),
                         ("ext", [])):
        body = {"Node": node, "Address": "10.0.0.9", "Checks": checks,
                "Service": {"Service": "legacy", "Port": 1}}
        r = c.put("/v1/catalog/register", body=json.dumps(body).encode())
        assert r.status == 200 and r.body == b"true", r.body
    assert {"ghost", "ext"} <= set(nodes(c))

    old = by_addr(servers, agreed_leader(servers))
    rest = [s for s in servers if s is not old]
    workers = list(old.worker_pids().values())
    old.kill()
    wait_for(lambda: all_dead(workers), 10, what="old leader gone")
    new = wait_for(lambda: (lambda l: l if l and not l.startswith(
        old.ip + ":") else None)(agreed_leader(rest)), 30,
        what="a new leader")
    assert by_addr(rest, new) in rest

    # The new leader's first pass reaps what gossip does not know and
    # leaves external nodes alone; the old leader's failure, seen by
    # gossip around the election, is caught either way.
    wait_for(lambda: "ghost" not in nodes(rest[0]), 15,
             what="ghost reaped by the new leader")
    assert "ext" in nodes(rest[0])
    got = wait_for(lambda: serf_is(rest[0], old.name, FAILED),
                   failure_bound(4), what="old leader critical")
    assert {k: got[k] for k in FAILED} == FAILED
    assert sorted(instances(c, "consul", passing=True)) == sorted(
        s.name for s in rest)
    assert sorted(instances(c, "consul")) == sorted(s.name for s in servers)

    # The new leader keeps reconciling events: the client leaves.
    r = c.cli("leave", "-http-addr", c.http_addr)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: c.name not in nodes(rest[1]), 15,
             what="client deregistered by the new leader")
    assert leader_of(rest[1]) == new


def test_periodic_pass_repairs_the_catalog(agents):
    """Every reconcile_interval (60 s) the leader walks every member again:
    what was changed behind its back is put right, and a node gossip does
    not know (with a serfHealth check) is reaped."""
    srv = agents().start()
    wait_for(lambda: serf_is(srv, srv.name, ALIVE), 15, what="reconciled")
    for body in ({"Node": "ghost", "Address": "10.0.0.8",
                  "Check": {"CheckID": "serfHealth", "Status": "passing"}},
                 {"Node": srv.name, "SkipNodeUpdate": True,
                  "Check": {"CheckID": "serfHealth", "Status": "critical",
                            "Output": "tampered"}}):
        r = srv.put("/v1/catalog/register", body=json.dumps(body).encode())
        assert r.status == 200 and r.body == b"true", r.body
    assert "ghost" in nodes(srv)
    assert serf_is(srv, srv.name, {"Output": "tampered"})
    # No member event comes: only the periodic pass can do it.
    wait_for(lambda: "ghost" not in nodes(srv), 75, interval=0.5,
             what="ghost reaped by the periodic pass")
    got = wait_for(lambda: serf_is(srv, srv.name, ALIVE), 5,
                   what="serfHealth repaired")
    assert {k: got[k] for k in ALIVE} == ALIVE
