"""The whole service-discovery flow with real processes, as a user lives
it: a server and a client agent joined to it; services registered on the
client through its agent API and through a -config-dir file; HTTP, TTL
and script checks flipping; the server's `?passing` and the DNS answers
of both agents following within the check interval plus a small bound; a
critical service deregistered after deregister_critical_service_after; the
client restarted (SIGTERM, then kill -9) with its services and checks
back; and the client killed for good, its services leaving DNS once the
leader marks serfHealth critical.  The server's DNS runs with
dns_config.only_passing, the client's without.

The server runs -dev (fast gossip probes, so a dead client is failed
within seconds); the client keeps a data dir so its registrations survive
its restarts."""
import json
import os
import shutil
import signal
import tempfile
import time

import pytest

from conftest import wait_for
from test_checks import TinyHTTP
from test_cluster import all_dead, leader_of
from test_dns import T_A, T_SRV, query
from test_reconcile import ALIVE, FAILED, failure_bound, serf_is

# A check's status reaches the catalog at once (anti-entropy's partial
# sync) and the DNS models within a blocking-query round trip: interval +
# timeout + this bound.
BOUND = 6.0


class ExitCode:
    """A file the script check reads its exit code from, readable by the
    unprivileged user the checks run as."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="muster-flow-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "code")
        self.set(0)

    def set(self, code):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % code)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.path)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def exit_code():
    e = ExitCode()
    yield e
    e.remove()


def start_pair(agents, tmp_path, exit_code):
    conf = tmp_path / "client.d"
    conf.mkdir()
    (conf / "batch.json").write_text(json.dumps({"service": {
        "name": "batch", "port": 7000, "tags": ["nightly"],
        "check": {"id": "batch-script", "name": "batch script",
                  "args": ["sh", "-c", "echo code $(cat %s); exit $(cat %s)"
                           % (exit_code.path, exit_code.path)],
                  "interval": "1s", "timeout": "2s"}}}))
    # The server's DNS answers only passing instances; the client's keeps
    # Consul's default (warning instances stay in its answers).
    srv_conf = tmp_path / "server.json"
    srv_conf.write_text(json.dumps({"dns_config": {"only_passing": True}}))
    srv = agents("-server", "-config-file", str(srv_conf)).start()
    wait_for(lambda: leader_of(srv), 15, what="a leader")
    cl = agents("-retry-join", srv.ip, "-retry-interval", "1s",
                "-enable-script-checks", "-config-dir", str(conf),
                dev=False).start()
    wait_for(lambda: serf_is(srv, cl.name, ALIVE), 20,
             what="client registered alive")
    wait_for(lambda: leader_of(cl), 10, what="client knows a server")
    return srv, cl


def register(agent, body):
    r = agent.put("/v1/agent/service/register", json.dumps(body).encode())
    assert r.status == 200, (r.status, r.body)


def passing(a, service):
    r = a.get("/v1/health/service/%s?passing" % service)
    assert r.status == 200, r.body
    return sorted(e["Node"]["Node"] for e in r.json())


def dns_a(a, name):
    return query(a, name, T_A).data(T_A)


def dns_follows(agents_, name, want, timeout, what):
    """Every agent's DNS answers `want` for name's A records."""
    wait_for(lambda: all(dns_a(a, name) == want for a in agents_), timeout,
             what="%s: %s -> %s" % (what, name, want))


def catalog_status(a, node, check_id):
    for c in a.get("/v1/health/node/" + node).json():
        if c["CheckID"] == check_id:
            return c
    return None


def test_discovery_flow(agents, tmp_path, exit_code):
    srv, cl = start_pair(agents, tmp_path, exit_code)
    both = (srv, cl)
    http = TinyHTTP(cl.ip).start()
    try:
        flow(srv, cl, both, http, exit_code)
    finally:
        http.stop()


def flow(srv, cl, both, http, exit_code):
    url = "http://%s:%d/health" % (cl.ip, http.port)
    register(cl, {"Name": "web", "Port": http.port, "Tags": ["v1"],
                  "Check": {"HTTP": url, "Interval": "1s",
                            "Timeout": "1s"}})
    register(cl, {"Name": "worker", "Port": 9000,
                  "Check": {"CheckID": "worker-ttl", "TTL": "3s"}})
    # Critical from the start (a TTL check begins critical) and reaped
    # after Consul's minimum of one minute, by a reaper running every 30 s.
    doomed_at = time.monotonic()
    register(cl, {"Name": "doomed", "Port": 9999,
                  "Check": {"CheckID": "doomed-ttl", "TTL": "10m",
                            "DeregisterCriticalServiceAfter": "1m"}})

    # HTTP check: up -> passing everywhere.
    wait_for(lambda: passing(srv, "web") == [cl.name], 1 + 1 + BOUND,
             what="web passing on the server")
    dns_follows(both, "web.service.consul", [cl.ip], BOUND, "web up")
    for a in both:
        r = query(a, "web.service.consul", T_SRV)
        assert [(s[2], s[3]) for s in r.data(T_SRV)] == [
            (http.port, "%s.node.dc1.consul." % cl.name)], r
        assert ("%s.node.dc1.consul." % cl.name, T_A, cl.ip) in [
            (x[0], x[1], x[3]) for x in r.additional], r
        assert dns_a(a, "v1.web.service.consul") == [cl.ip]
    entry = srv.get("/v1/health/service/web?passing").json()[0]
    assert entry["Service"]["Service"] == "web"
    assert entry["Service"]["Address"] == ""      # the node's address
    assert entry["Node"]["Address"] == cl.ip
    assert sorted(c["CheckID"] for c in entry["Checks"]) == [
        "serfHealth", "service:web"]

    # ... server down -> critical: out of ?passing and DNS on both.
    http.stop()
    wait_for(lambda: passing(srv, "web") == [], 1 + 1 + BOUND,
             what="web out of ?passing")
    dns_follows(both, "web.service.consul", [], BOUND, "web down")
    c = catalog_status(srv, cl.name, "service:web")
    assert c["Status"] == "critical"
    assert url in c["Output"]
    # A probe caught in the listener's backlog as it closed reads "reset
    # by peer"; the next one, on a closed port, is refused.  The agent
    # shows it at once; the catalog may keep the first output while the
    # status holds (Consul defers output-only changes by
    # check_update_interval).
    wait_for(lambda: "connection refused" in cl.get(
        "/v1/agent/checks").json()["service:web"]["Output"], 1 + 1 + BOUND,
        what="the check's output names the refused connection")
    http.start()
    dns_follows(both, "web.service.consul", [cl.ip], 1 + 1 + BOUND,
                "web up again")
    assert passing(srv, "web") == [cl.name]

    # TTL check: critical until a pass, then expiry puts it back.
    assert dns_a(srv, "worker.service.consul") == []
    assert cl.put("/v1/agent/check/pass/worker-ttl?note=alive").status == 200
    dns_follows(both, "worker.service.consul", [cl.ip], BOUND, "TTL pass")
    assert passing(srv, "worker") == [cl.name]
    dns_follows(both, "worker.service.consul", [], 3 + BOUND, "TTL expiry")
    c = catalog_status(srv, cl.name, "worker-ttl")
    assert c["Status"] == "critical"
    assert c["Output"].startswith("TTL expired")

    # Script check from the config file: 0 passing, 1 warning (not in
    # ?passing; still in the client's DNS, not in the only_passing
    # server's), 2 critical (out of all).
    wait_for(lambda: passing(srv, "batch") == [cl.name], 2 + BOUND,
             what="batch passing")
    dns_follows(both, "nightly.batch.service.consul", [cl.ip], BOUND,
                "script exit 0")
    assert catalog_status(srv, cl.name, "batch-script")["Output"] == \
        "code 0\n"
    exit_code.set(1)
    wait_for(lambda: catalog_status(srv, cl.name, "batch-script")[
        "Status"] == "warning", 2 + BOUND, what="script exit 1: warning")
    assert passing(srv, "batch") == []
    assert [(c["Node"], c["CheckID"]) for c in
            srv.get("/v1/health/state/warning").json()] == [
                (cl.name, "batch-script")]
    dns_follows((cl,), "batch.service.consul", [cl.ip], BOUND,
                "a warning instance stays in DNS")
    dns_follows((srv,), "batch.service.consul", [], BOUND,
                "only_passing drops a warning instance")
    exit_code.set(2)
    dns_follows(both, "batch.service.consul", [], 2 + BOUND,
                "script exit 2")
    assert catalog_status(srv, cl.name, "batch-script")["Status"] == \
        "critical"
    exit_code.set(0)
    dns_follows(both, "batch.service.consul", [cl.ip], 2 + BOUND,
                "script exit 0 again")

    # deregister_critical_service_after: gone from the agent and the
    # catalog once critical for a minute (plus up to a reaper period).
    wait_for(lambda: "doomed" not in cl.get("/v1/agent/services").json(),
             60 + 30 + BOUND, interval=0.5, what="doomed reaped")
    assert time.monotonic() - doomed_at >= 60, "reaped before the minute"
    wait_for(lambda: "doomed" not in srv.get(
        "/v1/catalog/services").json(), BOUND, what="doomed deregistered")
    assert "doomed-ttl" not in cl.get("/v1/agent/checks").json()
    assert dns_a(srv, "doomed.service.consul") == []

    # Restarts, graceful and not: services and checks come back from the
    # data dir (the config file's too) and answer again.
    for how in (signal.SIGTERM, signal.SIGKILL):
        if how == signal.SIGTERM:
            assert cl.stop(signal.SIGTERM) == 0
        else:
            workers = list(cl.worker_pids().values())
            cl.kill()
            wait_for(lambda: all_dead(workers), 10, what="client gone")
        cl.start()
        svcs = cl.get("/v1/agent/services").json()
        assert sorted(svcs) == ["batch", "web", "worker"], (how, svcs)
        assert svcs["web"]["Port"] == http.port
        assert svcs["web"]["Tags"] == ["v1"]
        assert sorted(cl.get("/v1/agent/checks").json()) == [
            "batch-script", "service:web", "worker-ttl"]
        wait_for(lambda: passing(srv, "web") == [cl.name], 2 + BOUND,
                 what="web passing after %s" % how)
        dns_follows(both, "web.service.consul", [cl.ip], BOUND,
                    "DNS after %s" % how)
        dns_follows(both, "batch.service.consul", [cl.ip], 2 + BOUND,
                    "batch after %s" % how)

    # The client dies: the leader fails its serfHealth, and its services
    # leave ?passing and the server's DNS (they stay in the catalog).
    workers = list(cl.worker_pids().values())
    cl.kill()
    wait_for(lambda: all_dead(workers), 10, what="client gone")
    got = wait_for(lambda: serf_is(srv, cl.name, FAILED), failure_bound(2),
                   what="serfHealth critical")
    assert {k: got[k] for k in FAILED} == FAILED
    assert passing(srv, "web") == []
    dns_follows((srv,), "web.service.consul", [], BOUND, "client dead")
    dns_follows((srv,), "batch.service.consul", [], BOUND, "client dead")
    names = [e["Node"]["Node"] for e in
             srv.get("/v1/health/service/web").json()]
    assert names == [cl.name]
