"""Harness for integration tests: real `muster` processes on 127.0.0.0/8.

Every agent gets its own loopback address (127.0.0.N, so the default ports
never collide), its own data dir and control socket.  Nothing here talks to
any address outside 127.0.0.0/8.  Waiting is polling with a deadline, never
a bare sleep.
"""
import itertools
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

MUSTER = os.environ.get("MUSTER_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "muster")

_next_ip = itertools.count(10)


def next_loopback():
    """A fresh 127.0.0.N for each agent of the session (pid-salted so two
    sessions on one machine do not collide)."""
    n = next(_next_ip)
    return "127.%d.%d.%d" % (1 + os.getpid() % 200, n // 250, 1 + n % 250)


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class HTTPResult:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def http(method, url, body=None, headers=None, timeout=5):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return HTTPResult(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return HTTPResult(e.code, e.headers, e.read())


def dns_query(server, port, name, qtype=1, tcp=False, timeout=2.0):
    """Minimal DNS client: returns (rcode, flags, ancount, nscount, raw)."""
    qid = os.getpid() & 0xFFFF
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", qtype, 1)
    if tcp:
        with socket.create_connection((server, port), timeout=timeout) as s:
            s.sendall(struct.pack(">H", len(q)) + q)
            n = struct.unpack(">H", _recv_exact(s, 2))[0]
            resp = _recv_exact(s, n)
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(q, (server, port))
            resp, _ = s.recvfrom(65535)
    rid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", resp[:12])
    assert rid == qid
    return flags & 0xF, flags, an, ns, resp


def _recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


class Agent:
    """One `muster agent` process tree."""

    def __init__(self, tmp, *args, ip=None, dev=True, name=None):
        self.ip = ip or next_loopback()
        self.dir = tempfile.mkdtemp(prefix="agent-", dir=tmp)
        self.data_dir = os.path.join(self.dir, "data")
        self.control = os.path.join(self.dir, "control.sock")
        self.name = name or "node-" + self.ip.replace(".", "-")
        self.args = list(args)
        self.dev = dev
        self.proc = None
        self.log_path = os.path.join(self.dir, "agent.log")
        self.http_port = 8500
        self.dns_port = 8600

    @property
    def http_addr(self):
        return "http://%s:%d" % (self.ip, self.http_port)

    def cmdline(self):
        cmd = [MUSTER, "agent", "-bind", self.ip, "-client", self.ip,
               "-node", self.name, "-control-socket", self.control]
        if self.dev:
            cmd.append("-dev")
        else:
            cmd += ["-data-dir", self.data_dir]
        return cmd + self.args

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmdline(), stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("agent exited %s:\n%s" % (
                    self.proc.returncode, self.read_log()))
            return self.get("/v1/agent/self").status == 200
        wait_for(ready, timeout, what="agent ready")
        wait_for(lambda: len(self.worker_pids()) == 5, timeout,
                 what="five workers")

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def get(self, path, **kw):
        return http("GET", self.http_addr + path, **kw)

    def put(self, path, body=None, **kw):
        return http("PUT", self.http_addr + path, body=body, **kw)

    def dns(self, name, qtype=1, tcp=False):
        return dns_query(self.ip, self.dns_port, name, qtype, tcp)

    def cli(self, *args, env=None, timeout=20):
        e = dict(os.environ)
        e.pop("CONSUL_HTTP_ADDR", None)
        e.pop("MUSTER_HTTP_ADDR", None)
        e.update(env or {})
        return subprocess.run([MUSTER, *args], capture_output=True,
                              text=True, env=e, timeout=timeout)

    def worker_pids(self):
        """{name: pid} of the supervisor's live children, from /proc."""
        out = {}
        if self.proc is None:
            return out
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    stat = f.read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid != self.proc.pid:
                    continue
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().split(b"\0")[0].decode()
            except (OSError, ValueError, IndexError):
                continue
            if cmd.startswith("muster: "):
                out[cmd[len("muster: "):]] = int(pid)
        return out

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("agent did not stop on %s" % sig)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def agents(tmp_path):
    started = []

    def make(*args, **kw):
        a = Agent(str(tmp_path), *args, **kw)
        started.append(a)
        return a
    yield make
    for a in started:
        try:
            a.stop()
        except AssertionError:
            pass
        finally:
            a.kill()
            if getattr(a, "log", None):
                a.log.close()


@pytest.fixture
def agent(agents):
    return agents().start()
