"""The agent skeleton, end to end: processes, privileges, lifecycle,
reload, the first endpoints and the CLI, with real muster processes."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import MUSTER, Agent, http, wait_for

WORKERS = {"gossip", "store", "http", "dns", "checks"}


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def test_process_titles_and_banner(agent):
    pids = agent.worker_pids()
    assert set(pids) == WORKERS
    with open("/proc/%d/cmdline" % agent.proc.pid, "rb") as f:
        assert f.read().split(b"\0")[0] == b"muster: supervisor"
    log = wait_for(lambda: "Control socket" in agent.read_log() and
                   agent.read_log(), what="banner")
    assert "HTTP API: http://%s:8500" % agent.ip in log
    assert "DNS: %s:8600" % agent.ip in log
    assert "unix://" + agent.control in log


def test_workers_are_sandboxed(agent):
    for name, pid in agent.worker_pids().items():
        st = proc_status(pid)
        assert st["NoNewPrivs"] == "1", name
        assert st["Seccomp"] == "2", name
        if os.geteuid() == 0:
            uids = st["Uid"].split()
            assert all(u != "0" for u in uids), (name, uids)
            assert st["CapEff"] == "0000000000000000", name
        root = os.readlink("/proc/%d/root" % pid)
        if os.geteuid() == 0 and name in ("gossip", "http", "dns"):
            assert root.endswith("/empty"), (name, root)


def test_agent_self_shape_and_headers(agent):
    r = agent.get("/v1/agent/self")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/json")
    j = r.json()
    cfg = j["Config"]
    assert cfg["NodeName"] == agent.name
    assert cfg["Datacenter"] == "dc1"
    assert cfg["Server"] is True
    assert len(cfg["NodeID"]) == 36
    assert cfg["Version"]
    member = j["Member"]
    assert member["Name"] == agent.name
    assert member["Addr"] == agent.ip
    assert member["Port"] == 8301
    assert member["Status"] == 1
    assert member["Tags"]["role"] == "consul"
    assert member["Tags"]["dc"] == "dc1"
    stats = j["Stats"]
    for section in ("agent", "build", "consul", "raft", "runtime",
                    "serf_lan", "serf_wan"):
        assert section in stats, section
        for k, v in stats[section].items():
            assert isinstance(v, str), (section, k, v)
    assert stats["serf_lan"]["members"] == "1"
    assert stats["raft"]["state"] == "Leader"
    for h in ("X-Consul-Index", "X-Consul-Knownleader",
              "X-Consul-Lastcontact"):
        assert h in r.headers, h


def test_status_and_version(agent):
    r = agent.get("/v1/status/leader")
    assert r.status == 200
    assert r.json() == "%s:8300" % agent.ip
    assert r.headers["X-Consul-Knownleader"] == "true"
    assert int(r.headers["X-Consul-Index"]) >= 1
    assert r.json() in agent.get("/v1/status/peers").json()
    v = agent.get("/v1/agent/version").json()
    assert v["HumanVersion"]
    pretty = agent.get("/v1/agent/self?pretty").body.decode()
    assert "\n    " in pretty


def test_http_conventions(agent):
    assert agent.get("/v1/no/such/endpoint").status == 404
    r = http("DELETE", agent.http_addr + "/v1/status/leader")
    assert r.status == 405
    assert r.headers["Content-Type"].startswith("text/plain")
    big = b"x" * (4 * 1024 * 1024)
    r = agent.put("/v1/agent/reload", body=big)
    assert r.status == 413


def test_keepalive_and_pipelining(agent):
    with socket.create_connection((agent.ip, 8500), timeout=5) as s:
        reqs = b"".join(
            b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p
            for p in (b"/v1/status/leader", b"/v1/agent/version",
                      b"/v1/status/peers"))
        s.sendall(reqs)
        data = b""
        deadline = time.monotonic() + 5
        while data.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
            data += s.recv(65536)
        assert data.count(b"HTTP/1.1 200") == 3
        first = data.index(b'"%s:8300"' % agent.ip.encode())
        assert first < data.index(b"HumanVersion")


def test_dns_soa_and_nxdomain(agent):
    rcode, flags, an, ns, _ = agent.dns("consul", qtype=6)
    assert rcode == 0 and an == 1 and flags & 0x0400  # AA
    rcode, _, an, ns, _ = agent.dns("nothing.here.consul")
    assert rcode == 3 and an == 0 and ns == 1
    rcode, _, an, _, _ = agent.dns("consul", qtype=6, tcp=True)
    assert rcode == 0 and an == 1


def test_http_worker_killed_under_load_dns_keeps_answering(agent):
    stop = threading.Event()
    dns_failures = []

    def dns_loop():
        while not stop.is_set():
            try:
                rcode, _, an, _, _ = agent.dns("consul", qtype=6)
                if rcode != 0 or an != 1:
                    dns_failures.append(rcode)
            except Exception as e:  # noqa: BLE001
                dns_failures.append(repr(e))
    t = threading.Thread(target=dns_loop)
    t.start()
    try:
        old = agent.worker_pids()["http"]
        killed_at = time.monotonic()
        os.kill(old, signal.SIGKILL)

        def answering():
            return agent.get("/v1/status/leader", timeout=0.5).status == 200
        wait_for(lambda: agent.worker_pids().get("http") not in (None, old),
                 what="new http worker")
        wait_for(answering, timeout=2, interval=0.01, what="http back")
        assert time.monotonic() - killed_at < 1.0
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    assert dns_failures == []
    # the store channel of the new http worker works
    assert agent.get("/v1/status/peers").status == 200


@pytest.mark.parametrize("name", ["store", "gossip", "dns", "checks"])
def test_any_worker_restarted(agent, name):
    old = agent.worker_pids()[name]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: agent.worker_pids().get(name) not in (None, old),
             what="restart of " + name)
    wait_for(lambda: agent.get("/v1/status/leader").status == 200 and
             agent.get("/v1/agent/self").status == 200, what="serving")
    rcode, _, an, _, _ = wait_for(lambda: agent.dns("consul", qtype=6),
                                  what="dns")
    assert rcode == 0


def test_supervisor_death_takes_workers(agent):
    pids = list(agent.worker_pids().values())
    os.kill(agent.proc.pid, signal.SIGKILL)
    agent.proc.wait()
    wait_for(lambda: not any(os.path.exists("/proc/%d" % p) and
                             proc_status(p)["State"][0] != "Z"
                             for p in pids), what="workers gone")


def test_sigterm_stops_cleanly(agent):
    pids = list(agent.worker_pids().values())
    assert os.path.exists(agent.control)
    assert agent.stop(signal.SIGTERM) == 0
    assert not os.path.exists(agent.control)
    for p in pids:
        assert not os.path.exists("/proc/%d" % p)


def test_bad_flags_and_config_exit_2(tmp_path):
    r = subprocess.run([MUSTER, "agent", "-no-such-flag"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "no-such-flag" in r.stderr + r.stdout
    r = subprocess.run([MUSTER, "agent", "-dev", "-bootstrap",
                        "-bootstrap-expect=3"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"ports": {"http": "eighty"}}')
    r = subprocess.run([MUSTER, "validate", str(bad)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 2
    out = r.stdout + r.stderr
    assert "bad.json" in out and "ports.http" in out
    good = tmp_path / "good.json"
    good.write_text('{"datacenter": "east", "server": true, '
                    '"data_dir": "/tmp/x"}')
    r = subprocess.run([MUSTER, "validate", str(good)], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr


def test_reload_is_a_transaction(agents, tmp_path):
    conf = tmp_path / "c.json"
    conf.write_text('{"log_level": "info"}')
    a = agents("-config-file", str(conf)).start()
    env = {"MUSTER_HTTP_ADDR": "unix://" + a.control}
    # invalid: rejected, reported, nothing changes
    conf.write_text('{"log_level": 17}')
    r = a.cli("reload", env=env)
    assert r.returncode != 0
    assert "log_level" in r.stdout + r.stderr
    assert a.get("/v1/agent/self").status == 200
    # SIGHUP with the same invalid file: agent keeps running
    os.kill(a.proc.pid, signal.SIGHUP)
    wait_for(lambda: "not reloading" in a.read_log(), what="reload error")
    assert a.get("/v1/status/leader").status == 200
    # valid: applied by every worker
    conf.write_text('{"log_level": "debug"}')
    r = a.cli("reload", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    dbg = a.get("/v1/agent/self").json()["DebugConfig"]
    assert dbg["log_level"].lower() == "debug"


def test_cli_through_control_socket_only(agents):
    a = agents("-http-port=-1").start(wait=False)
    wait_for(lambda: os.path.exists(a.control), what="control socket")
    env = {"MUSTER_CONTROL_SOCKET": a.control}
    r = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
        a.cli("members", "-control-socket", a.control)), what="members")
    assert a.name in r.stdout and "alive" in r.stdout
    assert "server" in r.stdout
    r = a.cli("info", "-control-socket", a.control)
    assert r.returncode == 0 and "raft:" in r.stdout
    r = a.cli("version")
    assert r.returncode == 0 and "muster" in r.stdout.lower()
    assert os.stat(a.control).st_mode & 0o777 == 0o600
    r = a.cli("leave", "-control-socket", a.control, env=env)
    assert r.returncode == 0, r.stderr
    assert a.proc.wait(15) == 0


def test_leave_endpoint_stops_agent(agent):
    r = agent.put("/v1/agent/leave")
    assert r.status == 200
    assert agent.proc.wait(15) == 0


def test_worker_rejecting_config_is_not_restarted(agents):
    if os.geteuid() != 0:
        pytest.skip("needs root: an unknown -user only matters when "
                    "switching users")
    a = agents("-user", "no-such-user-here").start(wait=False)
    assert a.proc.wait(20) == 2
    assert "not restarting" in a.read_log()
