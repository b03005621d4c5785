"""`muster services`, `muster catalog` and `muster maint` against a real
-dev agent.

Each command runs as the real binary (agent.cli), pointed at the agent
with MUSTER_HTTP_ADDR or -http-addr; what it changed is checked through
the HTTP API, and what it printed against consul's exact formats.

Catalog listings use nodes registered through /v1/catalog/register under
names other than the agent's, so the agent's anti-entropy (which owns
only its own node) never touches them.
"""
import json

from conftest import wait_for


def run(agent, *args, env=None):
    """(exit code, stdout, stderr) of `muster ARGS` against agent."""
    e = {"MUSTER_HTTP_ADDR": agent.http_addr}
    e.update(env or {})
    p = agent.cli(*args, env=e)
    return p.returncode, p.stdout, p.stderr


def columnize(rows):
    """ryanuber/columnize as consul uses it: cells padded to the column's
    widest, joined by two spaces, the last column unpadded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ""
    for r in rows:
        cells = [c.ljust(widths[i]) for i, c in enumerate(r[:-1])]
        out += "  ".join(cells + [r[-1]]) + "\n"
    return out


def catalog_register(agent, body):
    r = agent.put("/v1/catalog/register", json.dumps(body).encode())
    assert r.status == 200 and r.json() is True, (r.status, r.body)


def agent_node(agent):
    """The agent's own node, once the leader has put it in the catalog."""
    def node():
        r = agent.get("/v1/catalog/node/" + agent.name)
        return r.status == 200 and r.json() and r.json()["Node"]
    return wait_for(node, what="the agent's node in the catalog")


EXT_ID = "0badc0de-2222-3333-4444-555555555555"


def seed_catalog(agent):
    catalog_register(agent, {
        "Node": "ext-1", "ID": EXT_ID, "Address": "10.1.0.1",
        "TaggedAddresses": {"wan": "198.51.100.1", "lan": "10.1.0.1"},
        "NodeMeta": {"rack": "r1", "env": "prod"},
        "Service": {"Service": "web", "ID": "web-a", "Tags": ["v2", "blue"],
                    "Port": 80}})
    catalog_register(agent, {
        "Node": "external-two", "Address": "10.1.0.2",
        "NodeMeta": {"rack": "r2"},
        "Service": {"Service": "web", "ID": "web-b", "Tags": ["v1"],
                    "Port": 81}})
    catalog_register(agent, {
        "Node": "external-two", "Address": "10.1.0.2",
        "NodeMeta": {"rack": "r2"},
        "Service": {"Service": "db", "ID": "db-1", "Port": 5432}})


# ---- services register / deregister ----

def test_services_register_flags(agent):
    rc, out, err = run(agent, "services", "register", "-name=web",
                       "-id", "web-1", "-port", "8080", "-address",
                       "10.0.0.7", "-tag", "v1", "-tag=blue", "-meta",
                       "team=core", "-meta", "tier=1", "-meta", "team=edge",
                       "-tagged-address", "lan=10.0.0.7:8080")
    assert (rc, out, err) == (0, "Registered service: web\n", "")
    s = agent.get("/v1/agent/service/web-1").json()
    assert s["Service"] == "web" and s["Port"] == 8080
    assert s["Address"] == "10.0.0.7"
    assert s["Tags"] == ["v1", "blue"]
    # A repeated -meta key keeps its last value, as Go's map flag does.
    assert s["Meta"] == {"team": "edge", "tier": "1"}
    assert s["TaggedAddresses"]["lan"] == {"Address": "10.0.0.7",
                                           "Port": 8080}

    # Without -id the agent names the service by -name.
    assert run(agent, "services", "register", "-name", "cache") == (
        0, "Registered service: cache\n", "")
    assert agent.get("/v1/agent/service/cache").status == 200

    assert run(agent, "services", "deregister", "-id", "web-1") == (
        0, "Deregistered service: web-1\n", "")
    assert agent.get("/v1/agent/service/web-1").status == 404
    rc, out, err = run(agent, "services", "deregister", "-id", "web-1")
    assert rc == 1 and out == ""
    assert err.startswith('Error deregistering service "": Unexpected '
                          'response code: 404 (')
    assert agent.get("/v1/agent/service/cache").status == 200


def test_services_register_files(agent, tmp_path):
    f = tmp_path / "svc.json"
    f.write_text(json.dumps({
        "services": [
            {"name": "db", "port": 5432, "tags": ["primary"],
             "check": {"ttl": "30s"}},
            {"id": "cache-1", "name": "cache"}],
        "service": {"Name": "api", "ID": "api-1",
                    "enable_tag_override": True}}))
    g = tmp_path / "other.json"
    g.write_text('{"service": {"name": "solo", "meta": {"k": "v"}}}')
    rc, out, err = run(agent, "services", "register", str(f), str(g))
    assert (rc, err) == (0, "")
    # A file's "services" list comes before its single "service".
    assert out == ("Registered service: db\nRegistered service: cache\n"
                   "Registered service: api\nRegistered service: solo\n")
    svcs = agent.get("/v1/agent/services").json()
    assert set(svcs) == {"db", "cache-1", "api-1", "solo"}
    assert svcs["db"]["Tags"] == ["primary"] and svcs["db"]["Port"] == 5432
    assert svcs["api-1"]["EnableTagOverride"] is True
    assert svcs["solo"]["Meta"] == {"k": "v"}
    checks = agent.get("/v1/agent/checks").json()
    assert any(c["ServiceID"] == "db" for c in checks.values())

    # Deregistration by file: each definition's ID, else its name.
    rc, out, err = run(agent, "services", "deregister", str(f))
    assert (rc, err) == (0, "")
    assert out == ("Deregistered service: db\nDeregistered service: cache-1"
                   "\nDeregistered service: api-1\n")
    assert set(agent.get("/v1/agent/services").json()) == {"solo"}


def test_services_errors(agent, tmp_path):
    def err_of(*a):
        rc, out, err = run(agent, "services", *a)
        assert rc == 1 and out == "", (a, rc, out, err)
        return err

    assert err_of("register") == (
        "Service registration requires at least one argument or flags.\n")
    assert err_of("register", "-name", "x", "f.json") == (
        "Service registration requires arguments or -id, not both.\n")
    assert err_of("deregister") == (
        "Service deregistration requires at least one argument or -id.\n")
    assert err_of("deregister", "-id", "x", "f.json") == (
        "Service deregistration requires arguments or -id, not both.\n")
    e = err_of("register", "-name", "x", "-meta", "novalue")
    assert e.startswith('invalid value "novalue" for flag -meta: Missing '
                        '"=" value in argument: novalue\nUsage: muster '
                        'services register')
    assert err_of("register", "-name", "x", "-tagged-address",
                  "lan=10.0.0.1") == (
        "Invalid Tagged Address: address 10.0.0.1: missing port in "
        "address\n")
    # The agent's own validation comes back as consul's StatusError.
    nameless = tmp_path / "nameless.json"
    nameless.write_text('{"service": {"port": 1}}')
    assert err_of("register", str(nameless)).startswith(
        'Error registering service "": Unexpected response code: 400 (')
    bad = tmp_path / "bad.json"
    bad.write_text('{"service": ')
    assert err_of("register", str(bad)).startswith("Error: ")
    assert err_of("register", str(tmp_path / "absent.json")).startswith(
        "Error: ")
    assert agent.get("/v1/agent/services").json() == {}


# ---- catalog ----

def test_catalog_datacenters(agent):
    assert run(agent, "catalog", "datacenters") == (0, "dc1\n", "")
    # Consul's own variable, with a bare host:port, works as well.
    p = agent.cli("catalog", "datacenters",
                  env={"CONSUL_HTTP_ADDR": "%s:8500" % agent.ip})
    assert (p.returncode, p.stdout, p.stderr) == (0, "dc1\n", "")
    rc, out, err = run(agent, "catalog", "datacenters", "extra")
    assert (rc, out) == (1, "")
    assert err == "Too many arguments (expected 0, got 1)\n"
    # Nothing listens on port 1: the transport error, exit 1.
    rc, out, err = run(agent, "catalog", "datacenters", "-http-addr",
                       "%s:1" % agent.ip)
    assert (rc, out) == (1, "")
    assert err.startswith('Error listing datacenters: Get "http://%s:1/v1/'
                          'catalog/datacenters": dial tcp' % agent.ip)


def test_catalog_nodes(agent):
    seed_catalog(agent)
    me = agent_node(agent)
    short = me["ID"].split("-")[0]
    rc, out, err = run(agent, "catalog", "nodes")
    assert (rc, err) == (0, "")
    mine = [agent.name, short, agent.ip, "dc1"]
    ext1 = ["ext-1", "0badc0de", "10.1.0.1", "dc1"]
    ext2 = ["external-two", "", "10.1.0.2", "dc1"]
    assert out == columnize([["Node", "ID", "Address", "DC"],
                             *sorted([mine, ext1, ext2])])

    def kv(m):
        return ", ".join("%s=%s" % (k, m[k]) for k in sorted(m))
    rc, out, err = run(agent, "catalog", "nodes", "-detailed")
    assert (rc, err) == (0, "")
    rows = sorted([
        [agent.name, me["ID"], agent.ip, "dc1",
         kv(me.get("TaggedAddresses") or {}), kv(me.get("Meta") or {})],
        ["ext-1", EXT_ID, "10.1.0.1", "dc1",
         "lan=10.1.0.1, wan=198.51.100.1", "env=prod, rack=r1"],
        ["external-two", "", "10.1.0.2", "dc1", "", "rack=r2"]])
    assert out == columnize([["Node", "ID", "Address", "DC",
                              "TaggedAddresses", "Meta"], *rows])

    hdr = ["Node", "ID", "Address", "DC"]
    assert run(agent, "catalog", "nodes", "-service=web") == (
        0, columnize([hdr, ext1, ext2]), "")
    assert run(agent, "catalog", "nodes", "-service", "db", "-detailed") == (
        0, columnize([hdr + ["TaggedAddresses", "Meta"],
                      ["external-two", "", "10.1.0.2", "dc1", "",
                       "rack=r2"]]), "")
    # The last -node-meta for a key wins; different keys must all match.
    assert run(agent, "catalog", "nodes", "-node-meta", "rack=r2",
               "-node-meta", "rack=r1") == (0, columnize([hdr, ext1]), "")
    assert run(agent, "catalog", "nodes", "-node-meta", "rack=r1",
               "-node-meta", "env=dev")[1:] == (
        "", "No nodes match the given query - try expanding your search.\n")
    assert run(agent, "catalog", "nodes", "-filter",
               'Meta.rack == "r2"') == (0, columnize([hdr, ext2]), "")
    assert run(agent, "catalog", "nodes", "-near", "_agent")[0] == 0
    rc, out, err = run(agent, "catalog", "nodes", "-filter", "Meta.rack ==")
    assert (rc, out) == (1, "")
    assert err.startswith("Error listing nodes: Unexpected response code: "
                          "500 (")
    assert run(agent, "catalog", "nodes", "-service", "nope") == (
        0, "", "No nodes match the given query - try expanding your "
        "search.\n")


def test_catalog_nodes_filter_from_file(agent, tmp_path):
    seed_catalog(agent)
    f = tmp_path / "filter.txt"
    f.write_text('Node == "ext-1"')
    assert run(agent, "catalog", "nodes", "-filter", "@" + str(f)) == (
        0, columnize([["Node", "ID", "Address", "DC"],
                      ["ext-1", "0badc0de", "10.1.0.1", "dc1"]]), "")
    rc, out, err = run(agent, "catalog", "nodes", "-filter",
                       "@" + str(tmp_path / "none"))
    assert (rc, out) == (1, "")
    assert err.startswith("Could not process filter argument: ")


def test_catalog_services(agent):
    seed_catalog(agent)
    wait_for(lambda: "consul" in agent.get("/v1/catalog/services").json(),
             what="the consul service")
    assert run(agent, "catalog", "services") == (
        0, "consul\ndb\nweb\n", "")
    # Go's tabwriter (padding 6) then TrimSpace: the trailing blanks of
    # the last line go, the others' stay.
    assert run(agent, "catalog", "services", "-tags") == (
        0, "consul      \ndb          \nweb         blue,v1,v2\n", "")
    assert run(agent, "catalog", "services", "-node", "external-two",
               "-tags") == (0, "db       \nweb      v1\n", "")
    assert run(agent, "catalog", "services", "-node=ext-1") == (
        0, "web\n", "")
    assert run(agent, "catalog", "services", "-node-meta", "rack=r2") == (
        0, "db\nweb\n", "")
    assert run(agent, "catalog", "services", "-filter",
               'ServiceName == "db"') == (0, "db\n", "")
    nomatch = "No services match the given query - try expanding your " \
        "search.\n"
    assert run(agent, "catalog", "services", "-node", "nobody") == (
        0, "", nomatch)
    assert run(agent, "catalog", "services", "-node-meta", "rack=r9") == (
        0, "", nomatch)
    rc, out, err = run(agent, "catalog", "services", "-node-meta", "bad")
    assert (rc, out) == (1, "")
    assert err.startswith('invalid value "bad" for flag -node-meta: '
                          'Missing "=" value in argument: bad\n')


def test_catalog_help_and_unknown(agent):
    p = agent.cli("catalog")
    assert p.returncode == 1
    assert "Subcommands:\n    datacenters" in p.stdout
    p = agent.cli("catalog", "nodes", "-h")
    assert p.returncode == 0 and "-node-meta=<key=value>" in p.stdout
    rc, out, err = run(agent, "catalog", "nodes", "-bogus")
    assert (rc, out) == (1, "")
    assert err.startswith("flag provided but not defined: -bogus\n")


# ---- maint ----

def maint_checks(agent):
    return {k: v for k, v in agent.get("/v1/agent/checks").json().items()
            if "maintenance" in k}


def test_maint(agent):
    assert run(agent, "maint") == (0, "", "")
    assert run(agent, "services", "register", "-name", "web")[0] == 0

    assert run(agent, "maint", "-enable", "-reason", "disk swap") == (
        0, "Node maintenance is now enabled\n", "")
    assert run(agent, "maint", "-enable", "-service=web") == (
        0, 'Service maintenance is now enabled for "web"\n', "")
    checks = maint_checks(agent)
    assert checks["_node_maintenance"]["Status"] == "critical"
    assert checks["_node_maintenance"]["Notes"] == "disk swap"
    svc = checks["_service_maintenance:web"]
    assert svc["Status"] == "critical" and svc["ServiceID"] == "web"

    rc, out, err = run(agent, "maint")
    assert (rc, err) == (0, "")
    assert out == ("Node:\n  Name:   %s\n  Reason: disk swap\n\n"
                   "Service:\n  ID:     web\n  Reason: %s\n\n"
                   % (agent.name, svc["Notes"]))

    assert run(agent, "maint", "-disable", "-service", "web") == (
        0, 'Service maintenance is now disabled for "web"\n', "")
    assert run(agent, "maint", "-disable") == (
        0, "Node maintenance is now disabled\n", "")
    assert maint_checks(agent) == {}
    assert run(agent, "maint") == (0, "", "")


def test_maint_errors(agent):
    def err_of(*a):
        rc, out, err = run(agent, "maint", *a)
        assert rc == 1 and out == "", (a, rc, out, err)
        return err

    assert err_of("-enable", "-disable") == (
        "Only one of -enable or -disable may be provided\n")
    assert err_of("-reason", "x") == (
        "Reason may only be provided with -enable\n")
    assert err_of("-service", "web") == (
        "Service requires either -enable or -disable\n")
    assert err_of("-enable", "-service", "nope").startswith(
        "Error enabling service maintenance: Unexpected response code: "
        "404 (")
    assert maint_checks(agent) == {}


def test_registered_service_reaches_catalog(agent):
    """End to end: `services register` on the agent, anti-entropy puts it
    in the catalog, `catalog services` / `catalog nodes -service` show it,
    and `services deregister` takes it out again."""
    me = agent_node(agent)
    wait_for(lambda: "consul" in agent.get("/v1/catalog/services").json(),
             what="the consul service")
    assert run(agent, "services", "register", "-name", "api", "-tag",
               "v2", "-tag", "edge", "-port", "9000")[0] == 0

    def listed():
        rc, out, _ = run(agent, "catalog", "services", "-tags")
        return rc == 0 and "api" in out.split() and out
    out = wait_for(listed, timeout=15, what="api in catalog services")
    assert [ln for ln in out.splitlines() if ln.startswith("api ")] == [
        "api         edge,v2"]
    assert run(agent, "catalog", "nodes", "-service", "api") == (
        0, columnize([["Node", "ID", "Address", "DC"],
                      [agent.name, me["ID"].split("-")[0], agent.ip,
                       "dc1"]]), "")
    assert run(agent, "catalog", "services", "-node", agent.name) == (
        0, "api\nconsul\n", "")

    assert run(agent, "services", "deregister", "-id", "api")[0] == 0
    wait_for(lambda: run(agent, "catalog", "services")[1] == "consul\n",
             timeout=15, what="api gone from the catalog")
