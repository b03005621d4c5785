"""The DNS interface over the catalog (reference/consul.md section 5):
names registered through the HTTP API are answered by the dns worker from
its own read model, which the store keeps current (servers: pushed
deltas; client agents: blocking reads from a server) and which comes back
after the dns worker is killed.

Queries are raw UDP/TCP packets parsed here, so every header bit and
section is checked; nothing leaves 127.0.0.0/8.
"""
import ipaddress
import json
import os
import signal
import socket
import struct
import time

import pytest

from conftest import wait_for

T_A, T_NS, T_SOA, T_PTR, T_MX, T_TXT, T_AAAA, T_SRV, T_ANY = \
    1, 2, 6, 12, 15, 16, 28, 33, 255
NOERROR, NXDOMAIN = 0, 3


def _name(msg, off):
    labels, jumped, end = [], False, off
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            jumped = True
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode())
        off += n
    return ".".join(labels) + ".", end if jumped else off


def _rdata(msg, t, off, ln):
    if t == T_A or t == T_AAAA:
        return str(ipaddress.ip_address(msg[off:off + ln]))
    if t in (T_NS, T_PTR, 5):
        return _name(msg, off)[0]
    if t == T_SRV:
        prio, weight, port = struct.unpack(">HHH", msg[off:off + 6])
        return (prio, weight, port, _name(msg, off + 6)[0])
    if t == T_TXT:
        out, p = [], off
        while p < off + ln:
            out.append(msg[p + 1:p + 1 + msg[p]].decode())
            p += 1 + msg[p]
        return tuple(out)
    if t == T_SOA:
        mname, p = _name(msg, off)
        rname, p = _name(msg, p)
        return (mname, rname) + struct.unpack(">IIIII", msg[p:p + 20])
    return msg[off:off + ln]


class Reply:
    """A parsed response: rcode, flags, and (name, type, ttl, data)
    tuples per section."""

    def __init__(self, raw):
        qid, self.flags, qd, an, ns, ar = struct.unpack(">HHHHHH", raw[:12])
        self.rcode = self.flags & 0xF
        off = 12
        for _ in range(qd):
            off = _name(raw, off)[1] + 4
        self.sections = []
        for count in (an, ns, ar):
            recs = []
            for _ in range(count):
                name, off = _name(raw, off)
                t, _c, ttl, ln = struct.unpack(">HHIH", raw[off:off + 10])
                off += 10
                recs.append((name, t, ttl, _rdata(raw, t, off, ln)))
                off += ln
            self.sections.append(recs)
        self.answer, self.authority, self.additional = self.sections

    def data(self, t, section=None):
        recs = self.answer if section is None else section
        return sorted(r[3] for r in recs if r[1] == t)

    def __repr__(self):
        return "rcode %d %r" % (self.rcode, self.sections)


def query(agent, name, qtype=T_A, tcp=False):
    qid = int.from_bytes(os.urandom(2), "big")
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", qtype, 1)
    if tcp:
        with socket.create_connection((agent.ip, agent.dns_port), 3) as s:
            s.sendall(struct.pack(">H", len(q)) + q)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack(
                    ">H", buf[:2])[0]:
                chunk = s.recv(65536)
                assert chunk, "connection closed"
                buf += chunk
            raw = buf[2:]
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(3)
            s.sendto(q, (agent.ip, agent.dns_port))
            raw = s.recvfrom(65535)[0]
    assert raw[:2] == q[:2]
    return Reply(raw)


def register(agent, node, address, service=None, checks=None, meta=None):
    body = {"Node": node, "Address": address}
    if meta:
        body["NodeMeta"] = meta
    if service:
        body["Service"] = service
    if checks:
        body["Checks"] = checks
    r = agent.put("/v1/catalog/register", json.dumps(body).encode())
    assert r.status == 200 and r.body.strip() == b"true", r.body


def web_cluster(agent):
    """web on three nodes (v1 on two), db on one, rack meta on web-1."""
    for i in (1, 2, 3):
        register(agent, "web-%d" % i, "10.0.0.%d" % i,
                 {"Service": "web", "Port": 8000 + i,
                  "Tags": ["v1"] if i < 3 else ["v2"]},
                 meta={"rack": "r%d" % i} if i == 1 else None)
    register(agent, "db-1", "10.0.1.1",
             {"Service": "db", "Port": 5432, "Address": "10.0.1.100"})


def a_records(agent, name, **kw):
    return query(agent, name, T_A, **kw).data(T_A)


def settled(agent, name, want, qtype=T_A, timeout=5):
    def ok():
        r = query(agent, name, qtype)
        return r.data(qtype) == sorted(want) and r
    return wait_for(ok, timeout, what="%s -> %s" % (name, want))


def test_service_node_and_addr_names(agent):
    web_cluster(agent)
    settled(agent, "web.service.consul", ["10.0.0.1", "10.0.0.2",
                                          "10.0.0.3"])
    r = query(agent, "web.service.consul")
    assert r.rcode == NOERROR and r.flags & 0x0400    # authoritative
    assert all(rec[0] == "web.service.consul." for rec in r.answer)
    # A service address wins over its node's.
    assert a_records(agent, "db.service.consul") == ["10.0.1.100"]
    assert a_records(agent, "db.service.dc1.consul") == ["10.0.1.100"]
    # Tag filter (legacy form), case-insensitive names.
    assert a_records(agent, "v1.web.service.consul") == ["10.0.0.1",
                                                         "10.0.0.2"]
    assert a_records(agent, "V2.WeB.SeRvIcE.CoNsUl") == ["10.0.0.3"]

    # SRV: port, node target, its A record in Additional.
    r = query(agent, "web.service.consul", T_SRV)
    assert sorted((s[2], s[3]) for s in r.data(T_SRV)) == [
        (8001, "web-1.node.dc1.consul."), (8002, "web-2.node.dc1.consul."),
        (8003, "web-3.node.dc1.consul.")]
    assert ("web-2.node.dc1.consul.", T_A) in [(a[0], a[1])
                                                for a in r.additional]
    # RFC 2782: _service._tag; _tcp means no tag filter.
    r = query(agent, "_web._v1.service.consul", T_SRV)
    assert sorted(s[2] for s in r.data(T_SRV)) == [8001, 8002]
    r = query(agent, "_web._tcp.service.consul", T_SRV)
    assert len(r.data(T_SRV)) == 3
    r = query(agent, "v2.web.service.consul", T_SRV)
    assert [s[2] for s in r.data(T_SRV)] == [8003]

    # Nodes: A, TXT from node meta; addr; PTR for a node.
    assert a_records(agent, "web-1.node.consul") == ["10.0.0.1"]
    assert a_records(agent, "WEB-1.node.dc1.consul") == ["10.0.0.1"]
    r = query(agent, "web-1.node.consul", T_TXT)
    assert r.data(T_TXT) == [("rack=r1",)]
    assert a_records(agent, "0a000002.addr.consul") == ["10.0.0.2"]
    r = query(agent, "3.0.0.10.in-addr.arpa", T_PTR)
    assert r.data(T_PTR) == ["web-3.node.dc1.consul."]
    r = query(agent, "100.1.0.10.in-addr.arpa", T_PTR)
    assert r.data(T_PTR) == ["db.service.dc1.consul."]

    # Over TCP too.
    assert a_records(agent, "web.service.consul", tcp=True) == [
        "10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_apex_nxdomain_and_nodata(agent):
    web_cluster(agent)
    settled(agent, "db.service.consul", ["10.0.1.100"])
    r = query(agent, "consul", T_SOA)
    assert r.rcode == NOERROR and len(r.data(T_SOA)) == 1
    assert r.data(T_SOA)[0][0].endswith("consul.")
    r = query(agent, "consul", T_NS)
    assert r.rcode == NOERROR and r.data(T_NS)
    for name in ("nope.service.consul", "nope.node.consul",
                 "v9.web.service.consul", "web.service.dc9.consul"):
        r = query(agent, name)
        assert r.rcode == NXDOMAIN and not r.answer, (name, r)
        assert r.data(T_SOA, r.authority), (name, r)
    # NODATA: the name exists, the type does not.
    r = query(agent, "web-1.node.consul", T_MX)
    assert r.rcode == NOERROR and not r.answer
    assert r.data(T_SOA, r.authority)
    r = query(agent, "web.service.consul", T_AAAA)
    assert r.rcode == NOERROR and not r.answer
    assert r.data(T_SOA, r.authority)


def test_health_filtering_follows_checks(agent):
    web_cluster(agent)
    settled(agent, "web.service.consul", ["10.0.0.1", "10.0.0.2",
                                          "10.0.0.3"])
    # A critical service check removes that instance, a critical node
    # check every instance on the node; warning stays (only_passing off).
    register(agent, "web-1", "10.0.0.1", checks=[
        {"CheckID": "svc", "Name": "svc", "Status": "critical",
         "ServiceID": "web"}])
    register(agent, "web-2", "10.0.0.2", checks=[
        {"CheckID": "svc", "Name": "svc", "Status": "warning",
         "ServiceID": "web"}])
    settled(agent, "web.service.consul", ["10.0.0.2", "10.0.0.3"])
    register(agent, "web-3", "10.0.0.3", checks=[
        {"CheckID": "serfHealth", "Name": "Serf Health Status",
         "Status": "critical"}])
    settled(agent, "web.service.consul", ["10.0.0.2"])
    # Maintenance mode is a critical check.
    register(agent, "web-2", "10.0.0.2", checks=[
        {"CheckID": "_node_maintenance", "Name": "Node Maintenance Mode",
         "Status": "critical"}])
    r = settled(agent, "web.service.consul", [])
    assert r.rcode == NXDOMAIN or not r.answer
    # Passing again: back within a second of the write.
    register(agent, "web-1", "10.0.0.1", checks=[
        {"CheckID": "svc", "Name": "svc", "Status": "passing",
         "ServiceID": "web"}])
    t0 = time.monotonic()
    settled(agent, "web.service.consul", ["10.0.0.1"], timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    # Deregistering the node takes its names away.
    r = agent.put("/v1/catalog/deregister",
                  json.dumps({"Node": "web-1"}).encode())
    assert r.status == 200
    wait_for(lambda: query(agent, "web-1.node.consul").rcode == NXDOMAIN,
             2, what="web-1 gone")


def test_only_passing_and_alt_domain(agents, tmp_path):
    cfg = tmp_path / "dns.json"
    cfg.write_text(json.dumps({"dns_config": {"only_passing": True},
                               "alt_domain": "example."}))
    a = agents("-config-file", str(cfg)).start()
    register(a, "w1", "10.0.0.1", {"Service": "web", "Port": 80})
    register(a, "w2", "10.0.0.2", {"Service": "web", "Port": 80}, checks=[
        {"CheckID": "c", "Name": "c", "Status": "warning",
         "ServiceID": "web"}])
    settled(a, "web.service.consul", ["10.0.0.1"])
    r = query(a, "web.service.example")
    assert r.data(T_A) == ["10.0.0.1"]
    assert r.answer[0][0] == "web.service.example."
    r = query(a, "w2.node.example")
    assert r.data(T_A) == ["10.0.0.2"]
    assert r.answer[0][0] == "w2.node.example."


def test_agent_service_registration_reaches_dns(agent):
    r = agent.put("/v1/agent/service/register", json.dumps({
        "Name": "api", "Port": 9000, "Address": "127.0.0.9",
        "Tags": ["blue"]}).encode())
    assert r.status == 200, r.body
    try:
        wait_for(lambda: agent.get("/v1/catalog/service/api").json(), 10,
                 what="the agent's sync")
    except AssertionError:
        pytest.skip("agent services do not reach the catalog in this build "
                    "(anti-entropy)")
    settled(agent, "api.service.consul", ["127.0.0.9"], timeout=2)
    r = query(agent, "_api._blue.service.consul", T_SRV)
    assert [s[2] for s in r.data(T_SRV)] == [9000]


def test_dns_worker_killed_serves_the_same_again(agent):
    web_cluster(agent)
    names = {"web.service.consul": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
             "db.service.consul": ["10.0.1.100"],
             "web-1.node.consul": ["10.0.0.1"]}
    for n, want in names.items():
        settled(agent, n, want)
    old = agent.worker_pids()["dns"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: agent.worker_pids().get("dns") not in (None, old), 10,
             what="dns respawned")
    for n, want in names.items():
        settled(agent, n, want, timeout=5)
    # And it follows new writes.
    register(agent, "web-4", "10.0.0.4", {"Service": "web", "Port": 8004,
                                          "Tags": ["v4"]})
    settled(agent, "v4.web.service.consul", ["10.0.0.4"], timeout=1)


def test_client_agent_serves_the_servers_catalog(agents, tmp_path):
    cfg = tmp_path / "server.json"
    cfg.write_text(json.dumps({"performance": {"raft_multiplier": 1}}))
    srv = agents("-server", "-bootstrap-expect", "1", "-config-file",
                 str(cfg), dev=False).start()
    wait_for(lambda: srv.get("/v1/status/leader").json(), 15,
             what="a leader")
    cli = agents("-retry-join", srv.ip, "-retry-interval", "1s",
                 dev=False).start()
    wait_for(lambda: cli.get("/v1/status/leader").json(), 15,
             what="the client knows the leader")
    register(srv, "web-1", "10.0.0.1", {"Service": "web", "Port": 80})
    settled(cli, "web.service.consul", ["10.0.0.1"], timeout=5)
    # A write through the client, then a critical check, reach its DNS.
    register(cli, "web-2", "10.0.0.2", {"Service": "web", "Port": 80})
    settled(cli, "web.service.consul", ["10.0.0.1", "10.0.0.2"], timeout=2)
    register(srv, "web-1", "10.0.0.1", checks=[
        {"CheckID": "c", "Name": "c", "Status": "critical",
         "ServiceID": "web"}])
    settled(cli, "web.service.consul", ["10.0.0.2"], timeout=2)
    # The client's dns worker comes back with the same view.
    old = cli.worker_pids()["dns"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: cli.worker_pids().get("dns") not in (None, old), 10,
             what="dns respawned")
    settled(cli, "web.service.consul", ["10.0.0.2"], timeout=5)


def test_store_killed_dns_catches_up(agents):
    """A durable server's store killed with -9: DNS keeps serving what it
    had, then re-syncs from the recovered store and follows new writes."""
    a = agents("-server", "-bootstrap-expect", "1", dev=False).start()
    wait_for(lambda: a.get("/v1/status/leader").json(), 15, what="a leader")
    register(a, "web-1", "10.0.0.1", {"Service": "web", "Port": 80})
    settled(a, "web.service.consul", ["10.0.0.1"])
    old = a.worker_pids()["store"]
    os.kill(old, signal.SIGKILL)
    assert a_records(a, "web.service.consul") == ["10.0.0.1"]
    wait_for(lambda: a.worker_pids().get("store") not in (None, old), 10,
             what="store respawned")
    wait_for(lambda: a.get("/v1/status/leader").json(), 15, what="a leader")
    wait_for(lambda: a.put("/v1/catalog/deregister", json.dumps(
        {"Node": "web-1"}).encode()).status == 200, 10, what="a write")
    register(a, "web-2", "10.0.0.2", {"Service": "web", "Port": 80})
    settled(a, "web.service.consul", ["10.0.0.2"], timeout=2)
    assert query(a, "web-1.node.consul").rcode == NXDOMAIN
