"""Anti-entropy with real agents (reference/consul.md 6.4): the agent is
authoritative for its node.  Registrations through the agent API and
config files reach /v1/catalog and /v1/health; check flips (HTTP server
up/down, TTL expiry, script exit codes) reach ?passing within the check
interval plus a small bound; output-only changes wait for
check_update_interval; deregister_critical_service_after removes the
service from the catalog; a full sync (at start, and when a server joins)
restores what was deregistered behind the agent's back, removes what the
agent does not own (never serfHealth or the consul service), and keeps
catalog tags of EnableTagOverride services; without a leader the sync
pauses with a logged reason and resumes when one is elected.

Consul's full-sync interval (1-2 min) is not configurable, so full syncs
are brought about as Consul brings them about: an agent (re)starting, and
a server joining the LAN pool (ServerUp)."""
import json
import os
import pathlib
import shutil
import tempfile
import time

from conftest import wait_for
from test_checks import TinyHTTP, put_json

BOUND = 3.0     # what a flip may take beyond the check interval


def catalog_service(a, name):
    r = a.get("/v1/catalog/service/" + name)
    assert r.status == 200, r.body
    return r.json()


def health_service(a, name, passing=False):
    r = a.get("/v1/health/service/%s%s" % (name, "?passing" if passing
                                            else ""))
    assert r.status == 200, r.body
    return r.json()


def cat_check(a, node, cid):
    r = a.get("/v1/health/node/" + node)
    assert r.status == 200, r.body
    for c in r.json():
        if c["CheckID"] == cid:
            return c
    return None


def cat_status(a, node, cid):
    c = cat_check(a, node, cid)
    return c and c["Status"]


def node_services(a, node):
    r = a.get("/v1/catalog/node/" + node)
    if r.status != 200 or r.json() is None:
        return None
    return r.json()["Services"]


def passing_nodes(a, name):
    return sorted(e["Node"]["Node"] for e in health_service(a, name, True))


def timed_flip(pred, limit, what):
    t0 = time.monotonic()
    wait_for(pred, limit + 5, what=what)
    took = time.monotonic() - t0
    assert took <= limit, "%s took %.1f s (limit %.1f s)" % (what, took,
                                                             limit)


def test_local_state_reaches_the_catalog(agents, tmp_path):
    cfg = tmp_path / "svc.json"
    cfg.write_text(json.dumps({"service": {
        "name": "fromfile", "port": 7000, "tags": ["cfg"],
        "check": {"ttl": "1h", "status": "passing"}}}))
    # The script runs unprivileged: its exit code lives where it can read.
    rcdir = tempfile.mkdtemp(prefix="muster-ae-")
    os.chmod(rcdir, 0o755)
    script = pathlib.Path(rcdir) / "rc"
    script.write_text("0")
    os.chmod(script, 0o644)
    try:
        local_state_checks(agents, cfg, script)
    finally:
        shutil.rmtree(rcdir)


def local_state_checks(agents, cfg, script):
    a = agents("-enable-script-checks", "-config-file", str(cfg),
               "-node-meta", "rack:r1").start()
    # deregister_critical_service_after: registered first, as it takes
    # Consul's minute plus a reaper round; the flips run meanwhile.
    assert put_json(a, "/v1/agent/service/register", {
        "Name": "doomed", "Check": {
            "TTL": "1h", "DeregisterCriticalServiceAfter": "1m"}}).status == 200
    doomed_at = time.monotonic()

    # Node info (syncNodeInfo) and the config-file service.
    def node():
        r = a.get("/v1/catalog/node/" + a.name)
        return r.status == 200 and r.json() and r.json()["Node"]
    n = wait_for(lambda: (lambda x: x if x and x["Meta"].get("rack")
                          else None)(node()), 10, what="node info synced")
    assert n["Address"] == a.ip
    assert n["TaggedAddresses"] == {"lan": a.ip, "lan_ipv4": a.ip,
                                    "wan": a.ip, "wan_ipv4": a.ip}
    assert n["Meta"] == {"rack": "r1", "consul-network-segment": ""}
    self_id = a.get("/v1/agent/self").json()["Config"]["NodeID"]
    assert n["ID"] == self_id
    wait_for(lambda: cat_status(a, a.name, "serfHealth") == "passing", 10,
             what="the leader's serfHealth")
    wait_for(lambda: passing_nodes(a, "fromfile") == [a.name], 10,
             what="config-file service in ?passing")
    e = catalog_service(a, "fromfile")[0]
    assert (e["ServiceTags"], e["ServicePort"]) == (["cfg"], 7000)

    # HTTP check against a server started and stopped here.
    web = TinyHTTP(a.ip).start()
    try:
        assert put_json(a, "/v1/agent/service/register", {
            "Name": "web", "Port": web.port, "Tags": ["v1"],
            "Check": {"HTTP": "http://%s:%d/" % (a.ip, web.port),
                      "Interval": "1s"}}).status == 200
        timed_flip(lambda: passing_nodes(a, "web") == [a.name],
                   1 + BOUND, "web passing")
        e = health_service(a, "web")[0]
        assert e["Service"]["Tags"] == ["v1"]
        assert e["Service"]["Port"] == web.port
        assert {c["CheckID"] for c in e["Checks"]} == {"serfHealth",
                                                       "service:web"}
        web.stop()
        timed_flip(lambda: passing_nodes(a, "web") == [],
                   1 + BOUND, "web critical")
        assert "connection refused" in cat_check(
            a, a.name, "service:web")["Output"]
        web.start()
        timed_flip(lambda: passing_nodes(a, "web") == [a.name],
                   1 + BOUND, "web passing again")
    finally:
        web.stop()

    # TTL: pass, expiry.
    assert put_json(a, "/v1/agent/check/register", {
        "Name": "beat", "TTL": "2s"}).status == 200
    wait_for(lambda: cat_status(a, a.name, "beat") == "critical", 5,
             what="ttl check in the catalog")
    assert a.put("/v1/agent/check/pass/beat?note=alive").status == 200
    timed_flip(lambda: cat_status(a, a.name, "beat") == "passing", BOUND,
               "ttl passing")
    timed_flip(lambda: cat_status(a, a.name, "beat") == "critical",
               2 + BOUND, "ttl expired")
    assert "TTL expired" in cat_check(a, a.name, "beat")["Output"]

    # Output-only changes wait for check_update_interval (5 m); the
    # agent's own view has them at once.
    assert put_json(a, "/v1/agent/check/register", {
        "Name": "steady", "TTL": "1h"}).status == 200
    assert a.put("/v1/agent/check/pass/steady?note=one").status == 200
    wait_for(lambda: (cat_check(a, a.name, "steady") or {}).get(
        "Output") == "one", 5, what="first output synced")
    assert a.put("/v1/agent/check/pass/steady?note=two").status == 200
    assert a.get("/v1/agent/checks").json()["steady"]["Output"] == "two"
    time.sleep(2)   # nothing may happen: the absence of a sync
    assert cat_check(a, a.name, "steady")["Output"] == "one"
    assert a.put("/v1/agent/check/warn/steady?note=two").status == 200
    timed_flip(lambda: cat_check(a, a.name, "steady")["Output"] == "two"
               and cat_status(a, a.name, "steady") == "warning", BOUND,
               "status change synced with its output")

    # Node-level checks fail every instance on the node: gone now.
    for cid in ("beat", "steady"):
        assert a.put("/v1/agent/check/deregister/" + cid).status == 200
    wait_for(lambda: cat_check(a, a.name, "beat") is None and
             cat_check(a, a.name, "steady") is None, 5,
             what="node checks deregistered")

    # Script exit codes.
    assert put_json(a, "/v1/agent/service/register", {
        "Name": "job", "Check": {"Args": ["/bin/sh", "-c",
                                          "exit $(cat %s)" % script],
                                 "Interval": "1s"}}).status == 200
    timed_flip(lambda: passing_nodes(a, "job") == [a.name], 1 + BOUND,
               "script passing")
    script.write_text("1")
    timed_flip(lambda: cat_status(a, a.name, "service:job") == "warning",
               1 + BOUND, "script warning")
    assert passing_nodes(a, "job") == []
    script.write_text("2")
    timed_flip(lambda: cat_status(a, a.name, "service:job") == "critical",
               1 + BOUND, "script critical")

    # Deregistration through the agent.
    assert a.put("/v1/agent/service/deregister/job").status == 200
    wait_for(lambda: catalog_service(a, "job") == [], 5,
             what="job deregistered")
    assert cat_check(a, a.name, "service:job") is None

    # deregister_critical_service_after: gone from the agent and the
    # catalog within its minute + the 30 s reaper + a bound.
    left = 60 + 30 + 5 - (time.monotonic() - doomed_at)
    wait_for(lambda: catalog_service(a, "doomed") == [], max(left, 1),
             interval=0.5, what="doomed reaped")
    assert "doomed" not in a.get("/v1/agent/services").json()


def start_server(agents, *args):
    return agents("-server", "-bootstrap-expect", "1", *args,
                  dev=False).start()


def start_client(agents, srv, *args, **kw):
    return agents("-retry-join", srv.ip, "-retry-interval", "1s", *args,
                  dev=False, **kw).start()


def test_full_sync_repairs_the_catalog(agents, tmp_path):
    srv = start_server(agents)
    wait_for(lambda: node_services(srv, srv.name), 20,
             what="server registered")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"services": [
        {"name": "cfgsvc", "port": 1}]}))
    c = agents("-retry-join", srv.ip, "-retry-interval", "1s",
               "-config-file", str(cfg), dev=False)
    # Catalog-only entries on the client's node before it starts: its
    # first full sync removes the ones it does not own.
    r = put_json(srv, "/v1/catalog/register", {
        "Node": c.name, "Address": c.ip,
        "Service": {"ID": "intruder", "Service": "intruder", "Port": 9},
        "Checks": [{"CheckID": "stray", "Name": "stray",
                    "Status": "passing"}]})
    assert r.status == 200, r.body
    c.start()
    wait_for(lambda: set(node_services(srv, c.name) or {}) == {"cfgsvc"},
             20, what="intruder removed, cfgsvc registered")
    wait_for(lambda: cat_status(srv, c.name, "serfHealth") == "passing", 20,
             what="serfHealth kept")
    assert cat_check(srv, c.name, "stray") is None

    # Agent-API registrations (persisted under the data dir).
    assert put_json(c, "/v1/agent/service/register", {
        "Name": "api", "Port": 8080, "Tags": ["a"],
        "Check": {"TTL": "1h", "Status": "passing"}}).status == 200
    assert put_json(c, "/v1/agent/service/register", {
        "Name": "tagged", "Tags": ["agent"],
        "EnableTagOverride": True}).status == 200
    wait_for(lambda: set(node_services(srv, c.name)) == {
        "cfgsvc", "api", "tagged"}, 10, what="registrations synced")
    wait_for(lambda: passing_nodes(srv, "api") == [c.name], 10,
             what="api passing")

    # Behind the agent's back while it is down (killed: no leave).
    c.kill()
    r = put_json(srv, "/v1/catalog/deregister", {"Node": c.name,
                                                 "ServiceID": "api"})
    assert r.status == 200, r.body
    for svc in ({"ID": "tagged", "Service": "tagged",
                 "EnableTagOverride": True},
                {"ID": "cfgsvc", "Service": "cfgsvc", "Port": 1}):
        r = put_json(srv, "/v1/catalog/register", {
            "Node": c.name, "SkipNodeUpdate": True,
            "Service": dict(svc, Tags=["external"])})
        assert r.status == 200, r.body
    r = put_json(srv, "/v1/catalog/register", {
        "Node": c.name, "SkipNodeUpdate": True,
        "Service": {"Service": "intruder2", "Port": 9}})
    assert r.status == 200, r.body
    assert catalog_service(srv, "api") == []

    # Restarted, the agent keeps its services and its first full sync
    # restores the catalog: api back with its check, intruder2 gone,
    # cfgsvc's tags reverted, tagged's external tags kept (and taken).
    c.start()
    wait_for(lambda: set(node_services(srv, c.name) or {}) == {
        "cfgsvc", "api", "tagged"}, 20, what="catalog restored")
    svcs = node_services(srv, c.name)
    assert svcs["api"]["Tags"] == ["a"] and svcs["api"]["Port"] == 8080
    assert svcs["cfgsvc"]["Tags"] == []
    assert svcs["tagged"]["Tags"] == ["external"]
    assert c.get("/v1/agent/service/tagged").json()["Tags"] == ["external"]
    # Its check with it, as the agent has it (a restarted TTL check is
    # critical until the next pass, as Consul's loadChecks leaves it).
    wait_for(lambda: cat_status(srv, c.name, "service:api") == "critical",
             10, what="api check restored")
    assert c.put("/v1/agent/check/pass/service:api").status == 200
    wait_for(lambda: passing_nodes(srv, "api") == [c.name], BOUND,
             what="api passing after restart")

    # Behind its back while it runs: undone by the full sync a server
    # joining the pool brings about (ServerUp), within a few seconds.
    r = put_json(srv, "/v1/catalog/deregister", {"Node": c.name,
                                                 "ServiceID": "api"})
    assert r.status == 200, r.body
    r = put_json(srv, "/v1/catalog/register", {
        "Node": c.name, "SkipNodeUpdate": True,
        "Service": {"Service": "intruder3", "Port": 9}})
    assert r.status == 200, r.body
    agents("-server", "-retry-join", srv.ip, "-retry-interval", "1s",
           dev=False).start()
    wait_for(lambda: set(node_services(srv, c.name) or {}) == {
        "cfgsvc", "api", "tagged"}, 20, what="repaired after a server join")
    # The leader's own entries on the server's node are never touched.
    assert "consul" in node_services(srv, srv.name)


def test_sync_pauses_without_leader_and_resumes(agents, tmp_path):
    cfg = tmp_path / "cluster.json"
    cfg.write_text(json.dumps({"performance": {"raft_multiplier": 1}}))
    a = agents("-server", "-bootstrap-expect", "2", "-config-file",
               str(cfg), dev=False).start()
    assert put_json(a, "/v1/agent/service/register", {
        "Name": "early", "Port": 1}).status == 200
    wait_for(lambda: "No cluster leader" in a.read_log(), 20,
             what="the pause logged with its reason")
    assert "anti-entropy paused" in a.read_log()
    b = agents("-server", "-bootstrap-expect", "2", "-config-file",
               str(cfg), "-retry-join", a.ip, "-retry-interval", "1s",
               dev=False).start()
    wait_for(lambda: [e["Node"] for e in catalog_service(b, "early")] ==
             [a.name], 45, interval=0.2, what="synced once a leader is there")
    wait_for(lambda: "anti-entropy resumed" in a.read_log(), 5,
             what="the resume logged")
