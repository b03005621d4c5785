#!/usr/bin/env python3
"""Driver of bench/gossip: 50 muster client agents against 50 serf agents
with the same LAN timing, then Raft leader failover in a 3-server muster
cluster.  Everything listens on 127.250.0.0/16 (the integration harness
uses 127.1-200.x.y, the other benchmarks 127.0.0.x).

Usage: gossip.py MUSTER WORKDIR [agents] [failover runs]
"""
import http.client
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import uuid

MUSTER, WORK = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 50
RUNS = int(sys.argv[4]) if len(sys.argv) > 4 else 7
KILLS = int(os.environ.get("KILLS", "5"))
PROCS = []  # every Popen we started, killed at exit


def spawn(cmd, log, **kw):
    p = subprocess.Popen(cmd, stdout=open(log, "ab"),
                         stderr=subprocess.STDOUT, start_new_session=True,
                         **kw)
    PROCS.append(p)
    return p


def kill_tree(p, sig=signal.SIGKILL):
    """The agent and its workers: each agent is a session leader."""
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass


def cleanup():
    for p in PROCS:
        kill_tree(p, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for p in PROCS:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill_tree(p)
            p.wait()


def wait_for(pred, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except OSError:
            pass
        time.sleep(interval)
    sys.exit("timed out waiting for " + what)


# --- a minimal MessagePack codec for serf's RPC protocol ------------------

def mp_enc(v):
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        return struct.pack(">BQ", 0xcf, v) if v > 127 else bytes([v])
    if isinstance(v, str):
        b = v.encode()
        return struct.pack(">BI", 0xdb, len(b)) + b
    if isinstance(v, list):
        return struct.pack(">BI", 0xdd, len(v)) + b"".join(
            mp_enc(x) for x in v)
    if isinstance(v, dict):
        return struct.pack(">BI", 0xdf, len(v)) + b"".join(
            mp_enc(k) + mp_enc(x) for k, x in v.items())
    raise TypeError(v)


_FIX = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b",
        0xd1: ">h", 0xd2: ">i", 0xd3: ">q", 0xca: ">f", 0xcb: ">d"}


def mp_dec(b, i):
    """(value, next offset); IndexError/struct.error when b is short."""
    t = b[i]
    i += 1
    if t <= 0x7f:
        return t, i
    if t >= 0xe0:
        return t - 0x100, i
    if 0x80 <= t <= 0x8f:
        return mp_map(b, i, t & 0x0f)
    if 0x90 <= t <= 0x9f:
        return mp_arr(b, i, t & 0x0f)
    if 0xa0 <= t <= 0xbf:
        return mp_raw(b, i, t & 0x1f, True)
    if t == 0xc0:
        return None, i
    if t in (0xc2, 0xc3):
        return t == 0xc3, i
    if t in _FIX:
        f = _FIX[t]
        return struct.unpack_from(f, b, i)[0], i + struct.calcsize(f)
    for lo, fmt, kind in ((0xc4, ">B", "bin"), (0xd9, ">B", "str"),
                          (0xdc, ">H", "arr"), (0xde, ">H", "map")):
        for k, f in enumerate((fmt, ">H", ">I")):
            if kind in ("arr", "map") and k == 2:
                break
            if t == lo + k:
                n = struct.unpack_from(f, b, i)[0]
                i += struct.calcsize(f)
                if kind == "arr":
                    return mp_arr(b, i, n)
                if kind == "map":
                    return mp_map(b, i, n)
                return mp_raw(b, i, n, kind == "str")
    if t in (0xdd, 0xdf):
        n = struct.unpack_from(">I", b, i)[0]
        return (mp_arr if t == 0xdd else mp_map)(b, i + 4, n)
    raise ValueError("msgpack type 0x%02x" % t)


def mp_raw(b, i, n, text):
    if i + n > len(b):
        raise IndexError
    v = bytes(b[i:i + n])
    return (v.decode(errors="replace") if text else v), i + n


def mp_arr(b, i, n):
    out = []
    for _ in range(n):
        v, i = mp_dec(b, i)
        out.append(v)
    return out, i


def mp_map(b, i, n):
    out = {}
    for _ in range(n):
        k, i = mp_dec(b, i)
        v, i = mp_dec(b, i)
        out[k] = v
    return out, i


class SerfRPC:
    """serf's agent RPC (handshake, then request/response pairs)."""

    def __init__(self, addr):
        self.s = socket.create_connection(addr, timeout=2)
        self.buf = b""
        self.seq = 0
        self.call("handshake", {"Version": 1}, body=False)

    def _read(self):
        while True:
            try:
                v, i = mp_dec(self.buf, 0)
                self.buf = self.buf[i:]
                return v
            except (IndexError, struct.error):
                c = self.s.recv(65536)
                if not c:
                    raise ConnectionError("serf rpc closed")
                self.buf += c

    def call(self, cmd, args=None, body=True):
        self.send(cmd, args)
        return self.recv(body)

    def send(self, cmd, args=None):
        self.seq += 1
        msg = mp_enc({"Command": cmd, "Seq": self.seq})
        if args is not None:
            msg += mp_enc(args)
        self.s.sendall(msg)

    def recv(self, body=True):
        hdr = self._read()
        if hdr.get("Error"):
            raise OSError(hdr["Error"])
        return self._read() if body else None

    def close(self):
        self.s.close()


# --- the two kinds of agents ------------------------------------------------

class SerfAgent:
    kind = "serf"

    def __init__(self, ip):
        self.ip, self.name, self.rpc = ip, "serf-" + ip, None

    def start(self, join):
        cmd = ["serf", "agent", "-node", self.name, "-bind",
               self.ip + ":7946", "-rpc-addr", self.ip + ":7373",
               "-profile", "lan", "-log-level", "warn"]
        # The node meta a Consul (and muster) LAN member gossips in every
        # alive message: without it serf's alive messages are ~130 bytes
        # smaller, ~4x as many fit in a 1400-byte packet, and the join
        # race would compare payload sizes, not gossip implementations.
        for kv in ("role=node", "dc=dc1", "segment=",
                   "id=%s" % uuid.uuid4(), "vsn=2", "vsn_min=2",
                   "vsn_max=3", "build=0.1.0:muster"):
            cmd += ["-tag", kv]
        if join:
            cmd += ["-retry-join", join + ":7946"]
        self.proc = spawn(cmd, os.path.join(WORK, self.name + ".log"))

    def ready(self):
        return self.statuses() is not None

    def statuses(self):
        """{name: 'alive'|'failed'|...}, None while unreachable."""
        try:
            if self.rpc is None:
                self.rpc = SerfRPC((self.ip, 7373))
            ms = self.rpc.call("members")["Members"]
        except OSError:
            if self.rpc:
                self.rpc.close()
            self.rpc = None
            return None
        return {m["Name"]: m["Status"] for m in ms}

    def join_send(self, ip):
        self.rpc.send("join", {"Existing": [ip + ":7946"], "Replay": False})

    def join_wait(self):
        self.rpc.recv()

    def pids(self):
        return [self.proc.pid]


class MusterAgent:
    kind = "muster"
    STATUS = {1: "alive", 2: "leaving", 3: "left", 4: "failed"}

    def __init__(self, ip, extra=()):
        self.ip, self.name, self.conn = ip, "muster-" + ip, None
        self.extra = list(extra)
        self.dir = os.path.join(WORK, self.name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)

    def start(self, join):
        cmd = [MUSTER, "agent", "-node", self.name, "-bind", self.ip,
               "-client", self.ip, "-data-dir",
               os.path.join(self.dir, "data"), "-control-socket",
               os.path.join(self.dir, "ctl.sock"), "-log-level", "warn"]
        cmd += self.extra
        if join:
            cmd += ["-retry-join", join]
        self.proc = spawn(cmd, os.path.join(self.dir, "agent.log"))

    def request(self, method, path, body=None, timeout=2):
        """(status, body), or (None, None) while unreachable."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.ip, 8500, timeout=timeout)
            self.conn.timeout = timeout
            if self.conn.sock:
                self.conn.sock.settimeout(timeout)
            self.conn.request(method, path, body=body)
            r = self.conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            if self.conn:
                self.conn.close()
            self.conn = None
            return None, None

    def ready(self):
        return self.request("GET", "/v1/agent/self")[0] == 200

    def join_send(self, ip):
        self.conn.request("PUT", "/v1/agent/join/" + ip)

    def join_wait(self):
        r = self.conn.getresponse()
        if r.status != 200:
            sys.exit("join: %d %s" % (r.status, r.read()))
        r.read()

    def statuses(self):
        st, body = self.request("GET", "/v1/agent/members")
        if st != 200:
            return None
        return {m["Name"]: self.STATUS.get(m["Status"], "?")
                for m in json.loads(body)}

    def pids(self):
        return [self.proc.pid] + children(self.proc.pid)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def smaps_kb(pids, field):
    t = 0
    for p in pids:
        with open("/proc/%d/smaps_rollup" % p) as f:
            for line in f:
                if line.startswith(field + ":"):
                    t += int(line.split()[1])
    return t


# --- measurements -----------------------------------------------------------

def converge(agents, pred, t0, timeout=180, interval=0.05, first=None):
    """Seconds from t0 at which each agent first satisfied pred(its member
    statuses).  One polling thread per agent, so an agent that is slow to
    answer delays nobody else's figure; first(agent) runs in that thread
    before it polls."""
    times = []

    def poll(a):
        if first:
            first(a)
        while time.monotonic() < t0 + timeout:
            st = a.statuses()
            if st is not None and pred(st):
                times.append(time.monotonic() - t0)
                return
            time.sleep(interval)
    ts = [threading.Thread(target=poll, args=(a,)) for a in agents]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if len(times) < len(agents):
        sys.exit("%d %s agents never converged" % (
            len(agents) - len(times), agents[0].kind))
    return times


def memory(agents):
    """Per-agent (PSS, RSS) in kB over all of each agent's processes."""
    return [(smaps_kb(a.pids(), "Pss"), smaps_kb(a.pids(), "Rss"))
            for a in agents]


def cpu_s(agents):
    """CPU seconds (user + system) used so far by the agents' processes."""
    t = 0
    for a in agents:
        for p in a.pids():
            with open("/proc/%d/stat" % p) as f:
                v = f.read().rsplit(")", 1)[1].split()
            t += int(v[11]) + int(v[12])
    return t / os.sysconf("SC_CLK_TCK")


def launch(cls, net, retry_join):
    """N agents, the first one up before the others start; returns them
    and the seconds from the others' launch until each one answers."""
    agents = [cls("127.250.%d.%d" % (net, i + 1)) for i in range(N)]
    seed = agents[0]
    seed.start(None)
    wait_for(seed.ready, 20, seed.kind + " seed")
    t0 = time.monotonic()
    for a in agents[1:]:
        a.start(seed.ip if retry_join else None)
    return agents, t0, converge(agents, lambda st: True, t0)


def stop_all(agents):
    for a in agents:
        kill_tree(a.proc)
    for a in agents:
        a.proc.wait()


def all_alive(agents):
    names = {a.name for a in agents}
    return lambda st: all(st.get(n) == "alive" for n in names)


def membership(cls, net):
    r = {}
    # 1. -retry-join at launch: process start-up included.
    agents, t0, up = launch(cls, net, True)
    join = converge(agents, all_alive(agents), t0)
    r["up"], r["launch_join"] = max(up), max(join)
    r["cpu_launch"] = cpu_s(agents) / N
    time.sleep(3)
    mem = memory(agents)
    r["pss"], r["rss"] = [m[0] for m in mem], [m[1] for m in mem]
    # 2. SIGKILL members one at a time (the seed stays).
    r["fail"], r["fail_first"] = [], []
    alive = list(agents)
    for k in range(KILLS):
        victim = alive[1 + (k * 7) % (len(alive) - 1)]
        alive.remove(victim)
        t1 = time.monotonic()
        kill_tree(victim.proc)
        f = converge(alive, lambda st: st.get(victim.name) == "failed", t1)
        r["fail"].append(max(f))
        r["fail_first"].append(min(f))
        time.sleep(1)
    stop_all(agents)
    # 3. Everyone up first, then every agent joins the first at once:
    # gossip dissemination alone.  Fresh addresses and data dirs: a muster
    # agent killed above would rejoin from its serf snapshot, as Consul's.
    agents, _, _ = launch(cls, net + 10, False)
    time.sleep(1)
    seed = agents[0]

    def join(a):
        if a is not seed:
            a.join_send(seed.ip)
            a.join_wait()
    r["join"] = converge(agents, all_alive(agents), time.monotonic(),
                         first=join)
    stop_all(agents)
    return r


def report_membership(s, m):
    print("%d agents each, LAN timing (probe 1 s / 500 ms, gossip 200 ms, "
          "suspicion mult 4); %d kills" % (N, KILLS))
    print("%-46s %10s %10s %7s" % ("", "muster", "serf", "ratio"))

    def row(label, a, b, unit="s"):
        print("%-46s %10s %10s %7.2f" % (label, "%.2f %s" % (a, unit),
                                         "%.2f %s" % (b, unit), a / b))
    med = statistics.median
    row("-retry-join: all answering (from launch)", m["up"], s["up"])
    row("-retry-join: every agent sees all alive", m["launch_join"],
        s["launch_join"])
    row("  CPU per agent until then", m["cpu_launch"], s["cpu_launch"])
    row("join at once: every agent sees all alive", max(m["join"]),
        max(s["join"]))
    row("  median agent", med(m["join"]), med(s["join"]))
    row("kill -9: every agent marks it failed, median", med(m["fail"]),
        med(s["fail"]))
    row("  best kill", min(m["fail"]), min(s["fail"]))
    row("  worst kill", max(m["fail"]), max(s["fail"]))
    row("  first agent to mark it, median", med(m["fail_first"]),
        med(s["fail_first"]))
    mb = lambda v: v / 1024.0
    row("memory per agent, PSS mean", mb(statistics.mean(m["pss"])),
        mb(statistics.mean(s["pss"])), "MB")
    row("memory per agent, PSS max", mb(max(m["pss"])), mb(max(s["pss"])),
        "MB")
    row("memory per agent, RSS (summed over processes)",
        mb(statistics.mean(m["rss"])), mb(statistics.mean(s["rss"])), "MB")
    ok_t = max(m["join"]) <= max(s["join"]) and med(m["fail"]) <= med(
        s["fail"])
    ok_m = max(m["pss"]) <= 10240 and max(m["pss"]) < min(s["rss"])
    print("targets: join and failure detection <= serf's: %s; muster PSS "
          "<= 10 MB and < one serf's RSS (%.1f MB): %s" % (
              "met" if ok_t else "MISSED", mb(min(s["rss"])),
              "met" if ok_m else "MISSED"))


def leader_of(a):
    st, body = a.request("GET", "/v1/status/leader")
    return json.loads(body) if st == 200 else None


def agreed(servers):
    seen = {leader_of(s) for s in servers}
    return seen.pop() if len(seen) == 1 and None not in seen else None


def settle(servers, run):
    """Every server follows one leader and holds the latest write."""
    lead = wait_for(lambda: agreed(servers), 60, "an agreed leader")
    ldr = next(s for s in servers if lead.startswith(s.ip + ":"))
    key = "/v1/kv/bench/sync-%d" % run
    wait_for(lambda: ldr.request("PUT", key, b"x")[1] == b"true", 20,
             "a write through the leader")
    for s in servers:
        wait_for(lambda s=s: s.request("GET", key + "?stale")[0] == 200,
                 20, "replication")
    time.sleep(1.5)  # a whole heartbeat timeout of steady state
    return ldr


def failover():
    cfg = os.path.join(WORK, "raft.json")
    with open(cfg, "w") as f:
        json.dump({"performance": {"raft_multiplier": 1}}, f)
    ips = ["127.250.3.%d" % (i + 1) for i in range(3)]
    servers = [MusterAgent(ip, ["-server", "-bootstrap-expect", "3",
                                "-config-file", cfg, "-retry-interval",
                                "1s"]) for ip in ips]
    for i, s in enumerate(servers):
        s.start(ips[(i + 1) % 3])
    times = []
    for run in range(RUNS):
        ldr = settle(servers, run)
        rest = [s for s in servers if s is not ldr]
        t0 = time.monotonic()
        kill_tree(ldr.proc)
        while True:
            st, body = rest[run % 2].request(
                "PUT", "/v1/kv/bench/failover", b"%d" % run, timeout=10)
            if st == 200 and body == b"true":
                break
            time.sleep(0.005)
        times.append(time.monotonic() - t0)
        print("failover run %d: %.3f s" % (run + 1, times[-1]))
        ldr.proc.wait()
        ldr.request("GET", "/")  # drop the dead keep-alive connection
        ldr.start(rest[0].ip)
        wait_for(ldr.ready, 20, "the restarted server")
    for s in servers:
        kill_tree(s.proc)
    med = statistics.median(times)
    print("leader failover (raft_multiplier 1, %d runs): median %.3f s, "
          "min %.3f, max %.3f (target <= 1.0 s: %s)" % (
              RUNS, med, min(times), max(times),
              "met" if med <= 1.0 else "MISSED"))


def main():
    try:
        if N > 1:
            s = membership(SerfAgent, 2)
            m = membership(MusterAgent, 1)
            report_membership(s, m)
        if RUNS > 0:
            failover()
    finally:
        cleanup()


if __name__ == "__main__":
    main()
