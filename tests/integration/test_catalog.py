"""/v1/catalog and /v1/health against a real -dev agent: registrations
through Raft, Consul's JSON shapes, blocking queries that wake only for
the service they watch, deregistration, and payloads as python-consul and
Consul's Go client send them."""
import json
import threading
import time
import urllib.parse

import pytest

from conftest import wait_for

DOC_PAYLOAD = {
    "Datacenter": "dc1",
    "ID": "40e4a748-2192-161a-0510-9bf59fe950b5",
    "Node": "t2.320",
    "Address": "192.168.10.10",
    "TaggedAddresses": {"lan": "192.168.10.10", "wan": "10.0.10.10"},
    "NodeMeta": {"somekey": "somevalue"},
    "Service": {
        "ID": "redis1", "Service": "redis", "Tags": ["primary", "v1"],
        "Address": "127.0.0.1",
        "TaggedAddresses": {"lan": {"address": "127.0.0.1", "port": 8000},
                            "wan": {"address": "198.18.0.1", "port": 80}},
        "Meta": {"redis_version": "4.0"}, "Port": 8000,
        "Namespace": "default",
    },
    "Check": {
        "Node": "t2.320", "CheckID": "service:redis1",
        "Name": "Redis health check", "Notes": "Script based health check",
        "Status": "passing", "ServiceID": "redis1",
        "Definition": {"TCP": "localhost:8888", "Interval": "5s",
                       "Timeout": "1s",
                       "DeregisterCriticalServiceAfter": "30s"},
    },
    "SkipNodeUpdate": False,
}


@pytest.fixture
def agent(agents):
    """A -dev agent once the leader has reconciled it into the catalog (as
    Consul's testrpc.WaitForTestAgent): its node with serfHealth and the
    consul service are there from then on, and no write of the reconcile
    races with the test's own."""
    a = agents().start()
    wait_for(lambda: any(c["CheckID"] == "serfHealth" for c in a.get(
        "/v1/health/node/" + a.name).json()), 15, what="agent reconciled")
    return a


def others(a, path):
    """path's list without the agent's own node (or its checks)."""
    return [x for x in a.get(path).json() if x["Node"] != a.name]


def register(a, payload):
    r = a.put("/v1/catalog/register", body=json.dumps(payload).encode())
    assert r.status == 200 and r.body == b"true", (r.status, r.body)
    return r


def deregister(a, payload):
    r = a.put("/v1/catalog/deregister", body=json.dumps(payload).encode())
    assert r.status == 200 and r.body == b"true", (r.status, r.body)


def index_of(r):
    return int(r.headers["X-Consul-Index"])


def q(s):
    return urllib.parse.quote(s)


def test_register_then_read_every_shape(agent):
    register(agent, DOC_PAYLOAD)
    r = agent.get("/v1/catalog/service/redis")
    assert r.status == 200
    assert r.headers["X-Consul-Knownleader"] == "true"
    assert r.headers["X-Consul-Lastcontact"] == "0"
    assert r.headers["X-Consul-Effective-Consistency"] == "leader"
    [e] = r.json()
    assert list(e) == [
        "ID", "Node", "Address", "Datacenter", "TaggedAddresses", "NodeMeta",
        "ServiceKind", "ServiceID", "ServiceName", "ServiceTags",
        "ServiceAddress", "ServiceTaggedAddresses", "ServiceWeights",
        "ServiceMeta", "ServicePort", "ServiceSocketPath",
        "ServiceEnableTagOverride", "ServiceProxy", "ServiceConnect",
        "CreateIndex", "ModifyIndex"]
    assert e["ID"] == DOC_PAYLOAD["ID"] and e["Node"] == "t2.320"
    assert e["Datacenter"] == "dc1" and e["NodeMeta"] == {"somekey": "somevalue"}
    assert e["ServiceID"] == "redis1" and e["ServiceName"] == "redis"
    assert e["ServiceTags"] == ["primary", "v1"]
    assert e["ServiceTaggedAddresses"]["wan"] == {"Address": "198.18.0.1",
                                                  "Port": 80}
    assert e["ServiceWeights"] == {"Passing": 1, "Warning": 1}
    assert e["ServicePort"] == 8000 and e["ServiceKind"] == ""
    assert e["ServiceProxy"] == {"MeshGateway": {}, "Expose": {}}
    assert e["ServiceConnect"] == {}
    assert e["CreateIndex"] == e["ModifyIndex"] <= index_of(r)

    [h] = agent.get("/v1/health/service/redis").json()
    assert list(h) == ["Node", "Service", "Checks"]
    assert list(h["Node"]) == ["ID", "Node", "Address", "Datacenter",
                               "TaggedAddresses", "Meta", "CreateIndex",
                               "ModifyIndex"]
    assert h["Service"]["Service"] == "redis" and "Name" not in h["Service"]
    assert h["Service"]["Address"] == "127.0.0.1"
    [c] = h["Checks"]
    assert c["CheckID"] == "service:redis1" and c["Status"] == "passing"
    assert c["ServiceName"] == "redis" and c["ServiceTags"] == ["primary", "v1"]
    assert c["Type"] == "tcp"
    assert c["Definition"] == {"Interval": "5s", "Timeout": "1s",
                               "DeregisterCriticalServiceAfter": "30s",
                               "TCP": "localhost:8888"}

    assert agent.get("/v1/catalog/datacenters").json() == ["dc1"]
    assert agent.get("/v1/catalog/services").json() == {
        "consul": [], "redis": ["primary", "v1"]}
    [n] = others(agent, "/v1/catalog/nodes")
    assert n["Node"] == "t2.320" and n["Meta"] == {"somekey": "somevalue"}
    node = agent.get("/v1/catalog/node/t2.320").json()
    assert list(node["Services"]) == ["redis1"]
    assert node["Services"]["redis1"]["Port"] == 8000
    ns = agent.get("/v1/catalog/node-services/t2.320").json()
    assert [s["ID"] for s in ns["Services"]] == ["redis1"]
    # node lookups also take a node ID prefix
    assert agent.get("/v1/catalog/node-services/40e4a748").json()[
        "Node"]["Node"] == "t2.320"
    assert agent.get("/v1/catalog/node/missing").body == b"null"
    assert agent.get("/v1/catalog/node-services/missing").json() == {
        "Node": None, "Services": None}
    assert [c["CheckID"] for c in agent.get(
        "/v1/health/node/t2.320").json()] == ["service:redis1"]
    assert len(agent.get("/v1/health/checks/redis").json()) == 1
    assert len(others(agent, "/v1/health/state/passing")) == 1
    assert agent.get("/v1/health/state/critical").json() == []


def test_python_consul_payloads(agent):
    # python-consul's Catalog.register: lower-case top-level keys, and a
    # check dict; Health.service(passing=True) sends passing=1.
    register(agent, {
        "node": "ext-db", "address": "10.0.0.50",
        "service": {"Service": "postgres", "ID": "pg1", "Tags": ["main"],
                    "Port": 5432},
        "check": {"Node": "ext-db", "CheckID": "service:pg1",
                  "Name": "pg check", "Notes": "external",
                  "Status": "passing", "ServiceID": "pg1"},
        "NodeMeta": {"env": "prod"}})
    [e] = agent.get("/v1/health/service/postgres?passing=1").json()
    assert e["Node"]["Meta"] == {"env": "prod"}
    assert e["Service"]["Tags"] == ["main"]
    assert agent.get("/v1/catalog/service/postgres?tag=main&dc=dc1&"
                     "node-meta=env:prod").json()[0]["ServiceID"] == "pg1"
    # deregister sends lower-case "node" and "serviceid"
    deregister(agent, {"node": "ext-db", "serviceid": "pg1"})
    assert agent.get("/v1/catalog/service/postgres").json() == []
    assert agent.get("/v1/health/node/ext-db").json() == []
    deregister(agent, {"node": "ext-db"})
    assert others(agent, "/v1/catalog/nodes") == []


def test_go_client_payloads(agent):
    # api.CatalogRegistration as encoding/json marshals it: every field,
    # nulls and zero weights included.
    register(agent, {
        "ID": "", "Node": "go-node", "Address": "10.1.1.1",
        "TaggedAddresses": None, "NodeMeta": None, "Datacenter": "",
        "Service": {"Kind": "", "ID": "", "Service": "api", "Tags": None,
                    "Meta": None, "Port": 9000, "Address": "",
                    "SocketPath": "", "TaggedAddresses": None,
                    "Weights": {"Passing": 0, "Warning": 0},
                    "EnableTagOverride": False, "CreateIndex": 0,
                    "ModifyIndex": 0, "ContentHash": "", "Proxy": None,
                    "Connect": None, "PeerName": "", "Namespace": "",
                    "Partition": "", "Datacenter": ""},
        "Check": None, "Checks": [
            {"Node": "go-node", "CheckID": "api-ttl", "Name": "api ttl",
             "Status": "warning", "Notes": "", "Output": "slow",
             "ServiceID": "api", "ServiceName": "", "ServiceTags": None,
             "Type": "ttl", "Namespace": "", "Partition": "",
             "ExposedPort": 0, "Interval": "", "Timeout": "",
             "Definition": {"HTTP": "", "Header": None, "Method": "",
                            "Body": "", "TLSServerName": "",
                            "TLSSkipVerify": False, "TCP": "",
                            "TCPUseTLS": False, "UDP": "", "GRPC": "",
                            "OSService": "", "GRPCUseTLS": False,
                            "Interval": "0s", "Timeout": "0s",
                            "DeregisterCriticalServiceAfter": "0s"},
             "CreateIndex": 0, "ModifyIndex": 0}],
        "SkipNodeUpdate": False, "Partition": "", "Locality": None})
    # the Go client's query encoding: wait in ms, bare stale
    r = agent.get("/v1/health/service/api?stale=&wait=5000ms")
    assert r.status == 200
    assert r.headers["X-Consul-Effective-Consistency"] == "stale"
    [e] = r.json()
    assert e["Node"]["TaggedAddresses"] is None and e["Node"]["Meta"] is None
    assert e["Service"]["ID"] == "api"                  # defaulted
    assert e["Service"]["Weights"] == {"Passing": 1, "Warning": 1}
    assert e["Service"]["Tags"] == []
    [c] = e["Checks"]
    assert c["Type"] == "ttl" and c["Definition"] == {}
    assert c["Output"] == "slow" and c["ServiceName"] == "api"
    assert agent.get("/v1/health/service/api?passing").json() == []
    # api.CatalogDeregistration
    deregister(agent, {"Node": "go-node", "Address": "", "Datacenter": "",
                       "ServiceID": "", "CheckID": "api-ttl",
                       "Namespace": "", "Partition": ""})
    assert agent.get("/v1/health/service/api?passing").json()[0][
        "Checks"] == []


def blocking(agent, path, idx, out, wait="20s"):
    def run():
        t0 = time.monotonic()
        out["r"] = agent.get("%s%sindex=%d&wait=%s" % (
            path, "&" if "?" in path else "?", idx, wait), timeout=30)
        out["dt"] = time.monotonic() - t0
    t = threading.Thread(target=run)
    t.start()
    return t


def test_blocking_wakes_only_for_its_service(agent):
    register(agent, {"Node": "n1", "Address": "10.0.0.1",
                     "Service": {"Service": "web", "Port": 80}})
    register(agent, {"Node": "n2", "Address": "10.0.0.2",
                     "Service": {"Service": "db", "Port": 5432}})
    idx = index_of(agent.get("/v1/health/service/web"))
    out = {}
    t = blocking(agent, "/v1/health/service/web", idx, out)
    # unrelated writes: another service, a check on another node, KV
    register(agent, {"Node": "n3", "Address": "10.0.0.3",
                     "Service": {"Service": "db", "ID": "db2"}})
    register(agent, {"Node": "n2", "Address": "10.0.0.2",
                     "Check": {"Name": "disk", "Status": "critical"}})
    assert agent.put("/v1/kv/x", body=b"1").status == 200
    t.join(0.5)
    assert t.is_alive(), "woken by a write to another service"
    assert index_of(agent.get("/v1/health/service/web")) == idx
    # a node-level check on web's node is web's health: it wakes
    register(agent, {"Node": "n1", "Address": "10.0.0.1",
                     "Check": {"Name": "mem", "Status": "warning"}})
    t.join(10)
    assert not t.is_alive()
    r = out["r"]
    assert index_of(r) > idx and out["dt"] < 10
    [e] = r.json()
    assert [c["CheckID"] for c in e["Checks"]] == ["mem"]

    # the catalog view of web blocks the same way
    idx = index_of(agent.get("/v1/catalog/service/web"))
    out = {}
    t = blocking(agent, "/v1/catalog/service/web", idx, out)
    register(agent, {"Node": "n2", "Address": "10.0.0.2",
                     "Service": {"Service": "db", "Tags": ["x"]}})
    t.join(0.5)
    assert t.is_alive()
    register(agent, {"Node": "n1", "Address": "10.0.0.1",
                     "Service": {"Service": "web", "Port": 8080}})
    t.join(10)
    assert not t.is_alive() and out["r"].json()[0]["ServicePort"] == 8080

    # a missing service: the index never 0; registering it wakes the query
    r = agent.get("/v1/health/service/cache")
    assert r.json() == [] and index_of(r) >= 1
    out = {}
    t = blocking(agent, "/v1/health/service/cache", index_of(r), out)
    register(agent, {"Node": "n2", "Address": "10.0.0.2",
                     "Service": {"Service": "cache", "Port": 6379}})
    t.join(10)
    assert not t.is_alive() and len(out["r"].json()) == 1
    # deregistering the last instance wakes it too
    idx = index_of(out["r"])
    out = {}
    t = blocking(agent, "/v1/health/service/cache", idx, out)
    deregister(agent, {"Node": "n2", "ServiceID": "cache"})
    t.join(10)
    assert not t.is_alive() and out["r"].json() == []
    assert index_of(out["r"]) > idx
    # an elapsed wait answers with the current result
    t0 = time.monotonic()
    cur = index_of(agent.get("/v1/catalog/nodes"))
    r = agent.get("/v1/catalog/nodes?index=%d&wait=300ms" % cur)
    assert r.status == 200 and len(r.json()) == 4
    assert 0.25 < time.monotonic() - t0 < 5


def test_deregister_cascades(agent):
    register(agent, {"Node": "n1", "Address": "10.0.0.1",
                     "Service": {"Service": "web", "ID": "web1"},
                     "Checks": [{"Name": "web1 up", "ServiceID": "web1",
                                 "Status": "passing"},
                                {"Name": "node up", "Status": "passing"}]})
    register(agent, {"Node": "n1", "Address": "10.0.0.1",
                     "Service": {"Service": "web", "ID": "web2"}})
    deregister(agent, {"Node": "n1", "ServiceID": "web1"})
    assert [c["CheckID"] for c in agent.get(
        "/v1/health/node/n1").json()] == ["node up"]
    [e] = agent.get("/v1/health/service/web").json()
    assert e["Service"]["ID"] == "web2"
    assert [c["CheckID"] for c in e["Checks"]] == ["node up"]
    deregister(agent, {"Node": "n1", "CheckID": "node up"})
    assert agent.get("/v1/health/service/web").json()[0]["Checks"] == []
    deregister(agent, {"Node": "n1"})
    assert agent.get("/v1/catalog/services").json() == {"consul": []}
    assert others(agent, "/v1/health/state/any") == []
    # what is not there: still true
    deregister(agent, {"Node": "ghost", "ServiceID": "nothing"})


def test_errors_as_consul(agent):
    def put(path, body):
        return agent.put(path, body=body if isinstance(body, bytes)
                         else json.dumps(body).encode())
    r = put("/v1/catalog/register", {"Node": "n"})
    assert r.status == 500
    assert r.body == b"Must provide address if SkipNodeUpdate is not set"
    r = put("/v1/catalog/register", {"Address": "1.2.3.4"})
    assert (r.status, r.body) == (500, b"Must provide node")
    r = put("/v1/catalog/register", {"Node": "n", "Address": "1.2.3.4",
                                      "Check": {"Name": "c",
                                                "ServiceID": "nope"}})
    assert r.status == 500 and r.body == (
        b'failed inserting check on node "n": Missing service registration')
    assert others(agent, "/v1/catalog/nodes") == []   # nothing written
    r = put("/v1/catalog/register", {"Node": "n", "Address": "1.2.3.4",
                                      "Service": {"Service": "s",
                                                  "Port": "80"}})
    assert r.status == 400 and r.body == (
        b"Request decode failed: json: cannot unmarshal string into Go "
        b"struct field RegisterRequest.Service.Port of type int")
    r = put("/v1/catalog/register", b"{nope")
    assert r.status == 400 and r.body.startswith(b"Request decode failed")
    r = put("/v1/catalog/register", {"Node": "n", "Address": "1.2.3.4",
                                      "ID": "not-a-uuid"})
    assert (r.status, r.body) == (
        500, b"Bad node ID: uuid string is wrong length")
    r = put("/v1/catalog/register", {"Node": "n", "Address": "1.2.3.4",
                                      "Datacenter": "dc2"})
    assert (r.status, r.body) == (500, b"No path to datacenter")
    r = put("/v1/catalog/deregister", {"ServiceID": "x"})
    assert (r.status, r.body) == (500, b"Must provide node")
    assert agent.get("/v1/catalog/service/").body == b"Missing service name"
    assert agent.get("/v1/health/node/").status == 400
    assert agent.get("/v1/health/state/").body == b"Missing check state"
    r = agent.get("/v1/health/service/web?passing=maybe")
    assert (r.status, r.body) == (400, b"Invalid value for ?passing")
    r = agent.get("/v1/catalog/nodes?filter=" + q("Nope == 1"))
    assert r.status == 500 and r.body.startswith(
        b"Failed to create boolean expression evaluator")
    r = agent.get("/v1/catalog/nodes?stale&consistent")
    assert r.status == 400
    assert agent.get("/v1/catalog/nodes?dc=other").status == 500
    assert agent.get("/v1/catalog/register").status == 405


def test_filters_tags_meta_and_consistency(agent):
    for i, (name, tags, rack) in enumerate([("web", ["v1", "Canary"], "a"),
                                            ("web", ["v2"], "b"),
                                            ("db", [], "a")]):
        register(agent, {"Node": "n%d" % i, "Address": "10.0.0.%d" % i,
                         "NodeMeta": {"rack": rack},
                         "Service": {"Service": name, "Tags": tags,
                                     "Port": 80 + i,
                                     "Meta": {"ver": str(i)}}})
    ids = lambda p: [e["Node"] for e in agent.get(p).json()]  # noqa: E731
    assert ids("/v1/catalog/service/web?tag=canary") == ["n0"]
    assert ids("/v1/catalog/service/web?tag=v1&tag=v2") == []
    assert ids("/v1/catalog/service/web?node-meta=rack:b") == ["n1"]
    assert ids("/v1/catalog/service/web?filter=" +
               q('ServiceMeta.ver == "1"')) == ["n1"]
    assert ids("/v1/catalog/service/web?filter=" +
               q('"v1" in ServiceTags')) == ["n0"]
    assert ids("/v1/catalog/nodes?node-meta=rack:a") == ["n0", "n2"]
    assert ids("/v1/catalog/nodes?filter=" + q('Meta.rack == "b"')) == ["n1"]
    assert agent.get("/v1/catalog/services?node-meta=rack:a").json() == {
        "db": [], "web": ["Canary", "v1"]}
    assert agent.get("/v1/catalog/services?filter=" +
                     q("ServicePort == 81")).json() == {"web": ["v2"]}
    r = agent.get("/v1/health/service/web?filter=" +
                  q('Node.Meta.rack == "a" and Service.Port == 80'))
    assert [e["Node"]["Node"] for e in r.json()] == ["n0"]
    node = agent.get("/v1/catalog/node/n0?filter=" + q("Port == 1")).json()
    assert node["Services"] == {}
    for mode, want in (("stale", "stale"), ("consistent", "consistent"),
                       ("near=_agent", "leader")):
        r = agent.get("/v1/health/service/web?" + mode)
        assert r.status == 200 and len(r.json()) == 2
        assert r.headers["X-Consul-Effective-Consistency"] == want
    # ?consistent reads are ordered by the log: they see every write
    register(agent, {"Node": "n9", "Address": "10.0.0.9",
                     "Service": {"Service": "web"}})
    assert len(agent.get("/v1/health/service/web?consistent").json()) == 3


def test_snapshot_keeps_the_catalog(agent):
    register(agent, DOC_PAYLOAD)
    register(agent, {"Node": "n2", "Address": "10.0.0.2",
                     "Service": {"Service": "web", "Port": 80}})
    before = {p: agent.get(p).json() for p in (
        "/v1/catalog/services", "/v1/catalog/nodes",
        "/v1/health/service/redis", "/v1/health/state/any")}
    r = agent.get("/v1/snapshot")
    assert r.status == 200
    archive = r.body
    deregister(agent, {"Node": "t2.320"})
    register(agent, {"Node": "n3", "Address": "10.0.0.3",
                     "Service": {"Service": "db"}})
    assert agent.get("/v1/catalog/services").json() == {
        "consul": [], "db": [], "web": []}
    # a query blocked on web is woken by the restore
    out = {}
    t = blocking(agent, "/v1/catalog/service/web",
                 index_of(agent.get("/v1/catalog/service/web")), out)
    # nothing observable says it is parked: give it the time to get there
    t.join(0.3)
    assert t.is_alive()
    r = agent.put("/v1/snapshot", body=archive)
    assert r.status == 200, r.body
    t.join(10)
    assert not t.is_alive() and out["r"].status == 200
    for p, want in before.items():
        assert agent.get(p).json() == want, p
    # and it goes on from there
    register(agent, {"Node": "n3", "Address": "10.0.0.3",
                     "Service": {"Service": "db"}})
    assert sorted(agent.get("/v1/catalog/services").json()) == [
        "consul", "db", "redis", "web"]
