"""`muster kv get|put|delete|export|import` against a real -dev agent.

Every command runs as the real binary, pointed at the agent with
MUSTER_HTTP_ADDR; what it wrote is checked through the HTTP API as well as
through the command's own output.
"""
import base64
import json
import os
import subprocess

from conftest import MUSTER, http


def kv(agent, *args, stdin=b"", env=None):
    """Run `muster kv ...`; (exit code, stdout bytes, stderr text)."""
    e = dict(os.environ)
    e.pop("CONSUL_HTTP_ADDR", None)
    e["MUSTER_HTTP_ADDR"] = agent.http_addr
    e.update(env or {})
    p = subprocess.run([MUSTER, "kv", *args], input=stdin,
                       capture_output=True, env=e, timeout=20)
    return p.returncode, p.stdout, p.stderr.decode()


def entry(agent, key):
    r = agent.get("/v1/kv/" + key)
    assert r.status == 200, (key, r.status)
    return r.json()[0]


def raw(agent, key):
    r = agent.get("/v1/kv/%s?raw" % key)
    return r.body if r.status == 200 else None


def test_put_get_detailed(agent):
    assert kv(agent, "put", "app/db", "postgres") == (
        0, b"Success! Data written to: app/db\n", "")
    assert raw(agent, "app/db") == b"postgres"
    assert kv(agent, "get", "app/db") == (0, b"postgres\n", "")
    assert kv(agent, "get", "/app/db")[1] == b"postgres\n"
    assert kv(agent, "put", "-flags=42", "app/flagged")[0] == 0
    assert kv(agent, "put", "app/empty")[0] == 0
    assert raw(agent, "app/empty") == b""
    assert kv(agent, "get", "app/empty") == (0, b"\n", "")

    e = entry(agent, "app/flagged")
    rc, out, _ = kv(agent, "get", "-detailed", "app/flagged")
    assert rc == 0
    assert out.decode() == (
        "CreateIndex      %d\n"
        "Flags            42\n"
        "Key              app/flagged\n"
        "LockIndex        0\n"
        "ModifyIndex      %d\n"
        "Session          -\n"
        "Value\n") % (e["CreateIndex"], e["ModifyIndex"])
    e = entry(agent, "app/db")
    rc, out, _ = kv(agent, "get", "-detailed", "app/db")
    assert out.decode().endswith(
        "ModifyIndex      %d\nSession          -\nValue            postgres\n"
        % e["ModifyIndex"])

    assert kv(agent, "get", "app/nope") == (
        1, b"", "Error! No key exists at: app/nope\n")
    assert kv(agent, "get") == (1, b"", "Error! Missing KEY argument\n")
    # A datacenter the agent cannot reach is the agent's error.
    rc, out, err = kv(agent, "get", "-datacenter=elsewhere", "app/db")
    assert rc == 1 and out == b""
    assert err == ("Error querying agent: Unexpected response code: 500 "
                   "(No path to datacenter)\n")


def test_stdin_file_and_binary(agent, tmp_path):
    assert kv(agent, "put", "in/stdin", "-", stdin=b"line 1\nline 2\n")[0] == 0
    assert raw(agent, "in/stdin") == b"line 1\nline 2\n"
    blob = bytes(range(256)) * 3
    f = tmp_path / "blob.bin"
    f.write_bytes(blob)
    assert kv(agent, "put", "in/file", "@%s" % f)[0] == 0
    assert raw(agent, "in/file") == blob
    # Values come back byte for byte, and as base64 on request.
    assert kv(agent, "get", "in/file")[1] == blob + b"\n"
    assert kv(agent, "get", "-base64", "in/file")[1] == (
        base64.b64encode(blob) + b"\n")

    b64 = base64.b64encode(b"\x00\xff\x10binary\x00")
    assert kv(agent, "put", "-base64", "in/b64", b64.decode())[0] == 0
    assert raw(agent, "in/b64") == b"\x00\xff\x10binary\x00"
    assert kv(agent, "put", "-base64", "in/b64stdin", "-",
              stdin=b64 + b"\n")[0] == 0
    assert raw(agent, "in/b64stdin") == b"\x00\xff\x10binary\x00"

    rc, _, err = kv(agent, "put", "-base64", "in/bad", "not base64!")
    assert rc == 1
    assert err == ("Error! Cannot base 64 decode data: illegal base64 data "
                   "at input byte 3\n")
    assert raw(agent, "in/bad") is None
    rc, _, err = kv(agent, "put", "in/x", "@%s" % (tmp_path / "absent"))
    assert rc == 1 and err == (
        "Error! Failed to read file: open %s: no such file or directory\n"
        % (tmp_path / "absent"))


def test_recurse_keys_separator(agent):
    for k, v in (("web/a", "1"), ("web/b", "x:y"), ("web/sub/c", "2"),
                 ("web/sub/d", "3"), ("webby", "4")):
        assert kv(agent, "put", k, v)[0] == 0
    assert kv(agent, "get", "-recurse", "web/") == (
        0, b"web/a:1\nweb/b:x:y\nweb/sub/c:2\nweb/sub/d:3\n", "")
    assert kv(agent, "get", "-recurse", "-base64", "web/sub")[1] == (
        b"web/sub/c:Mg==\nweb/sub/d:Mw==\n")
    assert kv(agent, "get", "-keys", "web/")[1] == (
        b"web/a\nweb/b\nweb/sub/\n")
    assert kv(agent, "get", "-keys")[1] == b"web/\nwebby\n"
    assert kv(agent, "get", "-keys", "-separator=", "web")[1] == (
        b"web/a\nweb/b\nweb/sub/c\nweb/sub/d\nwebby\n")
    assert kv(agent, "get", "-keys", "-recurse", "web/sub/")[1] == (
        b"web/sub/c\nweb/sub/d\n")
    # Two detailed tables separated by one empty line.
    out = kv(agent, "get", "-recurse", "-detailed", "web/sub/")[1].decode()
    blocks = out.split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].startswith("CreateIndex      ")
    assert "Key              web/sub/c\n" in blocks[0]
    assert blocks[1].endswith("Value            3\n")
    assert kv(agent, "get", "-recurse", "nothing/") == (0, b"", "")


def test_cas(agent):
    assert kv(agent, "put", "-cas", "c", "one") == (
        0, b"Success! Data written to: c\n", "")
    assert kv(agent, "put", "-cas", "c", "two") == (
        1, b"", "Error! Did not write to c: CAS performed with index=0 and "
        "key already exists.\n")
    idx = entry(agent, "c")["ModifyIndex"]
    assert kv(agent, "put", "-cas", "-modify-index=%d" % (idx + 100), "c",
              "two") == (1, b"", "Error! Did not write to c: CAS failed\n")
    assert raw(agent, "c") == b"one"
    assert kv(agent, "put", "-cas", "-modify-index=%d" % idx, "c",
              "two")[0] == 0
    assert raw(agent, "c") == b"two"

    idx = entry(agent, "c")["ModifyIndex"]
    assert kv(agent, "delete", "-cas", "-modify-index=%d" % (idx - 1),
              "c") == (1, b"", "Error! Did not delete key c: CAS failed\n")
    assert raw(agent, "c") == b"two"
    assert kv(agent, "delete", "-cas", "-modify-index=%d" % idx, "c") == (
        0, b"Success! Deleted key: c\n", "")
    assert raw(agent, "c") is None


def test_locks(agent):
    assert kv(agent, "put", "-acquire", "-session=s1", "lock", "held") == (
        0, b"Success! Lock acquired on: lock\n", "")
    assert kv(agent, "put", "-acquire", "-session=s2", "lock", "x") == (
        1, b"", "Error! Did not acquire lock\n")
    out = kv(agent, "get", "-detailed", "lock")[1].decode()
    assert "\nLockIndex        1\n" in out
    assert "\nSession          s1\n" in out
    assert kv(agent, "put", "-release", "-session=s2", "lock") == (
        1, b"", "Error! Did not release lock\n")
    assert kv(agent, "put", "-release", "-session=s1", "lock") == (
        0, b"Success! Lock released on: lock\n", "")
    assert "Session" not in entry(agent, "lock")
    assert kv(agent, "put", "-acquire", "lock") == (
        1, b"", "Error! Missing -session (required with -acquire and "
        "-release)\n")


def test_delete(agent):
    for k in ("d/a", "d/b", "d/c/e", "dd"):
        assert kv(agent, "put", k, "v")[0] == 0
    assert kv(agent, "delete", "d/a") == (0, b"Success! Deleted key: d/a\n",
                                          "")
    assert raw(agent, "d/a") is None
    # Deleting what is not there succeeds, as in consul.
    assert kv(agent, "delete", "d/a")[0] == 0
    assert kv(agent, "delete", "-recurse", "d/") == (
        0, b"Success! Deleted keys with prefix: d/\n", "")
    assert agent.get("/v1/kv/d/?recurse").status == 404
    assert raw(agent, "dd") == b"v"
    assert kv(agent, "delete") == (1, b"", "Error! Missing KEY argument\n")
    assert kv(agent, "delete", "-recurse", "-cas", "-modify-index=1",
              "dd")[2] == "Cannot specify both -cas and -recurse!\n"
    assert raw(agent, "dd") == b"v"


def snapshot(agent):
    """Every pair as (key, flags, value bytes), from the HTTP API."""
    r = agent.get("/v1/kv/?recurse")
    if r.status == 404:
        return []
    return [(e["Key"], e["Flags"], base64.b64decode(e["Value"] or ""))
            for e in r.json()]


def test_export_delete_import_round_trip(agent, tmp_path):
    data = {
        "cfg/db/url": (0, b"postgres://db:5432"),
        "cfg/db/pool": (7, b"16"),
        "cfg/bin": (18446744073709551615, bytes(range(256))),
        "cfg/empty": (0, b""),
        "cfg/dir/": (0, b""),
        "cfg/quote\"<&>": (3, "ünïcode €".encode()),
        "other": (1, b"outside the prefix"),
    }
    for k, (flags, v) in data.items():
        r = http("PUT", agent.http_addr + "/v1/kv/%s?flags=%d" % (
            k.replace("\"", "%22").replace("<", "%3C").replace(
                "&", "%26").replace(">", "%3E"), flags), body=v)
        assert r.body == b"true", k
    before = snapshot(agent)
    assert len(before) == len(data)

    rc, out, err = kv(agent, "export")
    assert rc == 0 and err == ""
    text = out.decode()
    assert text.startswith("[\n\t{\n\t\t\"key\": \"cfg/bin\",\n")
    assert "\"cfg/quote\\\"\\u003c\\u0026\\u003e\"" in text
    assert text.endswith("\t}\n]\n")
    exported = json.loads(text)
    assert [e["key"] for e in exported] == [k for k, _, _ in before]
    assert {e["key"]: (e["flags"], base64.b64decode(e["value"]))
            for e in exported} == data
    dump = tmp_path / "dump.json"
    dump.write_bytes(out)

    assert kv(agent, "delete", "-recurse")[0] == 0
    assert snapshot(agent) == []
    assert kv(agent, "export") == (0, b"[]\n", "")

    rc, out, err = kv(agent, "import", "@%s" % dump)
    assert rc == 0 and err == ""
    assert out.decode() == "".join("Imported: %s\n" % k for k, _, _ in before)
    assert snapshot(agent) == before
    assert kv(agent, "export")[1] == dump.read_bytes()

    # From stdin, under a prefix; only what export gave is written.
    rc, out, err = kv(agent, "export", "cfg/db")
    assert rc == 0
    rc, imported, err = kv(agent, "import", "-prefix=copy", "-", stdin=out)
    assert rc == 0 and err == ""
    assert imported == (b"Imported: copy/cfg/db/pool\n"
                        b"Imported: copy/cfg/db/url\n")
    assert raw(agent, "copy/cfg/db/url") == b"postgres://db:5432"
    assert entry(agent, "copy/cfg/db/pool")["Flags"] == 7


def test_import_stops_at_first_bad_entry(agent):
    doc = json.dumps([{"key": "imp/a", "flags": 0, "value": "YQ=="},
                      {"key": "imp/b", "flags": 0, "value": "!!"},
                      {"key": "imp/c", "flags": 0, "value": "Yw=="}])
    rc, out, err = kv(agent, "import", doc)
    assert rc == 1
    assert out == b"Imported: imp/a\n"
    assert err == ("Error base 64 decoding value for key imp/b: illegal "
                   "base64 data at input byte 0\n")
    assert raw(agent, "imp/a") == b"a" and raw(agent, "imp/c") is None
    # A type error anywhere writes nothing at all.
    rc, out, err = kv(agent, "import", json.dumps(
        [{"key": "imp/d", "value": "ZA=="}, {"key": "imp/e", "flags": "1"}]))
    assert rc == 1 and out == b""
    assert err == ("Cannot unmarshal data: json: cannot unmarshal string "
                   "into Go struct field Entry.flags of type uint64\n")
    assert raw(agent, "imp/d") is None


def test_agent_unreachable(agent):
    # An address on which nothing listens (the agent is elsewhere).
    addr = "http://%s:1" % agent.ip
    rc, out, err = kv(agent, "get", "k", env={"MUSTER_HTTP_ADDR": addr})
    assert rc == 1 and out == b""
    assert err == ('Error querying agent: Get "%s/v1/kv/k": dial tcp %s:1: '
                   'connect: connection refused\n' % (addr, agent.ip))
    # -http-addr wins over the environment.
    rc, _, err = kv(agent, "put", "-http-addr=%s" % addr, "k", "v")
    assert rc == 1
    assert err.startswith('Error! Failed writing data: Put "%s/v1/kv/k": '
                          % addr)
    assert raw(agent, "k") is None
