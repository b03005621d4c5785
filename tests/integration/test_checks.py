"""Agent-local services and checks with real agents: registration through
the API and config files, the JSON Consul clients read, check runners
against servers started and stopped inside the test, TTL expiry, script
exit codes, /v1/agent/health/service following, maintenance, reload, and
registrations surviving a restart with a data dir."""
import http.server
import json
import os
import socket
import threading
import time

import pytest

from conftest import wait_for


def put_json(agent, path, obj):
    return agent.put(path, body=json.dumps(obj).encode())


def checks(agent):
    r = agent.get("/v1/agent/checks")
    assert r.status == 200
    return r.json()


def check_status(agent, cid):
    c = checks(agent).get(cid)
    return c and c["Status"]


def health(agent, kind, name, text=False):
    q = "?format=text" if text else ""
    return agent.get("/v1/agent/health/service/%s/%s%s" % (kind, name, q))


class TinyHTTP:
    """An HTTP server on ip:port answering 200 "up" until stopped; the
    port stays the same across stop/start so a check can follow it."""

    def __init__(self, ip, port=0):
        self.ip, self.port, self.srv, self.thread = ip, port, None, None

    def start(self):
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"up"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        http.server.HTTPServer.allow_reuse_address = True
        self.srv = http.server.HTTPServer((self.ip, self.port), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(5)


def test_register_service_shapes_and_deregister(agent):
    # Mixed-case and snake_case keys as python-consul and config files send.
    r = put_json(agent, "/v1/agent/service/register", {
        "name": "web", "ID": "web-1", "tags": ["v1"], "port": 8080,
        "Address": "127.0.0.1", "meta": {"env": "test"},
        "enable_tag_override": True,
        "Check": {"ttl": "30s", "CheckID": "web-ttl"}})
    assert r.status == 200, r.body
    svcs = agent.get("/v1/agent/services").json()
    assert list(svcs) == ["web-1"]
    s = svcs["web-1"]
    assert s["ID"] == "web-1" and s["Service"] == "web"
    assert s["Tags"] == ["v1"] and s["Meta"] == {"env": "test"}
    assert s["Port"] == 8080 and s["Address"] == "127.0.0.1"
    assert s["Weights"] == {"Passing": 1, "Warning": 1}
    assert s["EnableTagOverride"] is True
    assert s["TaggedAddresses"]["lan_ipv4"] == {"Address": "127.0.0.1",
                                                "Port": 8080}
    assert s["Datacenter"] == "dc1"
    one = agent.get("/v1/agent/service/web-1")
    assert one.status == 200
    assert one.json()["ContentHash"] == one.headers["X-Consul-Contenthash"]
    assert one.headers["X-Consul-Index"]
    c = checks(agent)["web-ttl"]
    assert c["Status"] == "critical" and c["Type"] == "ttl"
    assert c["ServiceID"] == "web-1" and c["ServiceName"] == "web"
    assert c["ServiceTags"] == ["v1"] and c["Node"] == agent.name
    # ?filter through the bexpr engine
    assert list(agent.get(
        "/v1/agent/services?filter=Meta.env%20%3D%3D%20%22test%22").json()) \
        == ["web-1"]
    assert agent.get("/v1/agent/services?filter=Port%20%3D%3D%2081").json() \
        == {}
    r = agent.put("/v1/agent/service/deregister/web-1")
    assert r.status == 200
    assert agent.get("/v1/agent/services").json() == {}
    assert checks(agent) == {}
    r = agent.get("/v1/agent/service/web-1")
    assert r.status == 404 and r.body == b"unknown service ID: web-1"
    r = agent.put("/v1/agent/service/deregister/web-1")
    assert r.status == 404
    assert r.body.startswith(b'Unknown service ID "web-1"')


def test_service_hash_blocking(agent):
    put_json(agent, "/v1/agent/service/register", {"Name": "web", "Port": 1})
    h = agent.get("/v1/agent/service/web").json()["ContentHash"]
    # A different hash answers at once; the same one waits for ?wait.
    r = agent.get("/v1/agent/service/web?hash=nothing&wait=10s", timeout=5)
    assert r.status == 200 and r.json()["ContentHash"] == h
    t = time.monotonic()
    r = agent.get("/v1/agent/service/web?hash=%s&wait=300ms" % h)
    assert r.status == 200 and time.monotonic() - t >= 0.25
    # A change wakes the waiter with the new definition.
    result = {}

    def waiter():
        result["r"] = agent.get("/v1/agent/service/web?hash=%s&wait=30s" % h,
                                timeout=35)
    th = threading.Thread(target=waiter)
    th.start()
    wait_for(lambda: th.is_alive(), what="waiter started")
    put_json(agent, "/v1/agent/service/register", {"Name": "web", "Port": 2})
    th.join(10)
    assert not th.is_alive(), "blocking query did not wake up"
    r = result["r"]
    assert r.status == 200 and r.json()["Port"] == 2
    assert r.json()["ContentHash"] != h
    assert r.headers["X-Consul-Contenthash"] == r.json()["ContentHash"]


def test_validation_errors_are_consuls(agent):
    cases = [
        ("/v1/agent/service/register", {"Port": 1}, 400,
         "Missing service name"),
        ("/v1/agent/service/register", {"Name": "a", "Port": "x"}, 400,
         "Request decode failed: json: cannot unmarshal string into Go "
         "struct field ServiceDefinition.Port of type int"),
        ("/v1/agent/service/register",
         {"Name": "a", "Check": {"HTTP": "http://x/"}}, 400,
         "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, "
         "TCP, UDP or OSService checks"),
        ("/v1/agent/service/register",
         {"Name": "a", "Meta": {"consul-x": "1"}}, 400,
         "Invalid Service Meta: Couldn't load metadata pair ('consul-x', "
         "'1'): Key prefix 'consul-' is reserved for internal use"),
        ("/v1/agent/check/register", {"TTL": "1s"}, 400,
         "Missing check name"),
        ("/v1/agent/check/register",
         {"Name": "c", "TTL": "1s", "ServiceID": "nope"}, 404,
         'ServiceID "nope" does not exist'),
        ("/v1/agent/check/register",
         {"Name": "s", "Args": ["true"], "Interval": "1s"}, 500,
         "Scripts are disabled on this agent from remote calls; to enable, "
         "configure 'enable_script_checks' to true"),
    ]
    for path, body, status, text in cases:
        r = put_json(agent, path, body)
        assert (r.status, r.body.decode()) == (status, text), body
        assert r.headers["Content-Type"].startswith("text/plain")
    r = agent.put("/v1/agent/service/register", body=b"")
    assert (r.status, r.body) == (400, b"Request decode failed: EOF")
    assert agent.get("/v1/agent/services").json() == {}


def test_http_check_follows_server_and_health_endpoint(agent):
    srv = TinyHTTP(agent.ip).start()
    url = "http://%s:%d/health" % (agent.ip, srv.port)
    r = put_json(agent, "/v1/agent/service/register", {
        "Name": "api", "Port": srv.port,
        "Check": {"HTTP": url, "Interval": "1s", "Timeout": "1s"}})
    assert r.status == 200
    wait_for(lambda: health(agent, "name", "api").status == 200,
             what="api passing")
    out = checks(agent)["service:api"]["Output"]
    assert out == "HTTP GET %s: 200 OK Output: up" % url
    r = health(agent, "id", "api")
    info = r.json()
    assert info["AggregatedStatus"] == "passing"
    assert info["Service"]["ID"] == "api"
    assert [c["CheckID"] for c in info["Checks"]] == ["service:api"]
    srv.stop()
    wait_for(lambda: health(agent, "name", "api", text=True).status == 503,
             what="api critical after the server stopped")
    assert health(agent, "name", "api", text=True).body == b"critical"
    assert "connection refused" in checks(agent)["service:api"]["Output"]
    srv = TinyHTTP(agent.ip, srv.port).start()
    wait_for(lambda: health(agent, "id", "api").status == 200,
             what="api passing again")
    srv.stop()
    r = health(agent, "name", "nothing", text=True)
    assert (r.status, r.body) == (404, b"ServiceName nothing Not Found")
    r = health(agent, "id", "nothing")
    assert r.status == 404
    assert r.json() == {"AggregatedStatus": "critical", "Service": None,
                        "Checks": None}


def test_ttl_check_pass_update_and_expiry(agent):
    r = put_json(agent, "/v1/agent/service/register",
                 {"Name": "worker", "Check": {"TTL": "2s"}})
    assert r.status == 200
    assert health(agent, "id", "worker").status == 503
    r = agent.put("/v1/agent/check/warn/service:worker?note=slow")
    assert r.status == 200
    assert health(agent, "id", "worker").status == 429
    r = put_json(agent, "/v1/agent/check/update/service:worker",
                 {"Status": "passing", "Output": "all good"})
    assert r.status == 200
    assert health(agent, "id", "worker", text=True).body == b"passing"
    assert checks(agent)["service:worker"]["Output"] == "all good"
    wait_for(lambda: check_status(agent, "service:worker") == "critical",
             timeout=10, what="TTL expiry")
    assert checks(agent)["service:worker"]["Output"] == \
        "TTL expired (last output before timeout follows): all good"
    r = put_json(agent, "/v1/agent/check/update/service:worker",
                 {"Status": "bogus"})
    assert (r.status, r.body) == (400, b"Invalid check status: 'bogus'")
    r = agent.put("/v1/agent/check/pass/nope")
    assert r.status == 404
    put_json(agent, "/v1/agent/check/register",
             {"Name": "tcp", "TCP": "%s:1" % agent.ip, "Interval": "10s"})
    r = agent.put("/v1/agent/check/pass/tcp")
    assert (r.status, r.body) == (
        500, b'CheckID "tcp" does not have associated TTL')


def test_script_check_exit_codes(agents):
    a = agents("-enable-script-checks").start()
    for name, code in (("zero", 0), ("one", 1), ("two", 2)):
        r = put_json(a, "/v1/agent/check/register", {
            "Name": name, "Interval": "1s",
            "Args": ["sh", "-c", "echo out-%s; exit %d" % (name, code)]})
        assert r.status == 200, r.body
    want = {"zero": "passing", "one": "warning", "two": "critical"}
    wait_for(lambda: {k: check_status(a, k) for k in want} == want and
             checks(a)["two"]["Output"] == "out-two\n",
             what="script statuses")
    assert checks(a)["zero"]["Output"] == "out-zero\n"
    assert checks(a)["one"]["Type"] == "script"
    # The scripts run without root's privileges.
    r = put_json(a, "/v1/agent/check/register", {
        "Name": "who", "Interval": "1s", "Args": ["id", "-u"]})
    assert r.status == 200
    wait_for(lambda: check_status(a, "who") == "passing", what="id -u")
    if os.geteuid() == 0:
        assert checks(a)["who"]["Output"].strip() != "0"


def test_maintenance_modes(agent):
    put_json(agent, "/v1/agent/service/register",
             {"Name": "web", "Check": {"TTL": "1m", "Status": "passing"}})
    assert health(agent, "id", "web").status == 200
    r = agent.put("/v1/agent/maintenance")
    assert (r.status, r.body) == (400, b"Missing value for enable")
    r = agent.put("/v1/agent/maintenance?enable=maybe")
    assert (r.status, r.body) == (400, b'Invalid value for enable: "maybe"')
    assert agent.put("/v1/agent/maintenance?enable=true&reason=patching") \
        .status == 200
    c = checks(agent)["_node_maintenance"]
    assert (c["Name"], c["Notes"], c["Status"], c["Type"]) == (
        "Node Maintenance Mode", "patching", "critical", "maintenance")
    r = health(agent, "id", "web", text=True)
    assert (r.status, r.body) == (503, b"maintenance")
    assert agent.put("/v1/agent/maintenance?enable=false").status == 200
    assert health(agent, "id", "web").status == 200
    assert agent.put("/v1/agent/service/maintenance/web?enable=true") \
        .status == 200
    c = checks(agent)["_service_maintenance:web"]
    assert c["ServiceID"] == "web" and c["Notes"].startswith(
        "Maintenance mode is enabled for this service")
    assert health(agent, "id", "web").status == 503
    r = agent.put("/v1/agent/service/maintenance/nope?enable=true")
    assert r.status == 404
    assert agent.put("/v1/agent/service/maintenance/web?enable=false") \
        .status == 200
    assert health(agent, "id", "web").status == 200


def test_config_file_services_and_reload(agents, tmp_path):
    cfg = tmp_path / "svc.json"
    cfg.write_text(json.dumps({
        "services": [{"name": "cfg-web", "port": 81, "tags": ["a"],
                      "checks": [{"id": "cfg-ttl", "ttl": "1m",
                                  "status": "passing"}]}],
        "check": {"id": "node-ttl", "name": "node ttl", "ttl": "1m"}}))
    a = agents("-config-file", str(cfg)).start()
    s = a.get("/v1/agent/services").json()
    assert s["cfg-web"]["Port"] == 81 and s["cfg-web"]["Tags"] == ["a"]
    assert check_status(a, "cfg-ttl") == "passing"
    assert check_status(a, "node-ttl") == "critical"
    put_json(a, "/v1/agent/service/register", {"Name": "api-svc"})
    put_json(a, "/v1/agent/check/register", {
        "Name": "api-on-cfg", "TTL": "1m", "ServiceID": "cfg-web"})
    assert a.put("/v1/agent/check/pass/node-ttl").status == 200
    cfg.write_text(json.dumps({
        "services": [{"name": "cfg-web", "port": 82, "tags": ["b"],
                      "checks": [{"id": "cfg-ttl", "ttl": "1m"}]}],
        "checks": [{"id": "node-ttl", "name": "node ttl", "ttl": "1m"},
                   {"id": "new-ttl", "name": "new", "ttl": "1m"}]}))
    r = a.put("/v1/agent/reload")
    assert r.status == 200, r.body
    s = a.get("/v1/agent/services").json()
    assert s["cfg-web"]["Port"] == 82 and s["cfg-web"]["Tags"] == ["b"]
    assert "api-svc" in s                       # API registrations stay
    c = checks(a)
    assert c["node-ttl"]["Status"] == "passing"  # status kept
    assert c["cfg-ttl"]["Status"] == "passing"
    assert c["api-on-cfg"]["ServiceTags"] == ["b"]
    assert "new-ttl" in c
    cfg.write_text(json.dumps({"services": [{"name": "cfg-web"}]}))
    assert a.put("/v1/agent/reload").status == 200
    c = checks(a)
    assert "node-ttl" not in c and "new-ttl" not in c
    assert "cfg-ttl" not in c                    # dropped from the file
    assert "api-on-cfg" in c
    # An invalid definition fails the reload and changes nothing.
    cfg.write_text(json.dumps({"services": [{"port": 1}]}))
    r = a.put("/v1/agent/reload")
    assert r.status == 500
    assert "cfg-web" in a.get("/v1/agent/services").json()


def test_registrations_survive_restart(agents):
    a = agents("-server", "-bootstrap", dev=False).start()
    r = put_json(a, "/v1/agent/service/register", {
        "Name": "keep", "Port": 9000, "Tags": ["x"],
        "Checks": [{"TTL": "10m", "CheckID": "keep-ttl"},
                   {"TCP": "%s:1" % a.ip, "Interval": "10s",
                    "CheckID": "keep-tcp"}]})
    assert r.status == 200
    assert put_json(a, "/v1/agent/check/update/keep-ttl",
                    {"Status": "warning", "Output": "degraded"}).status == 200
    assert a.put("/v1/agent/service/maintenance/keep?enable=true&reason=r") \
        .status == 200
    put_json(a, "/v1/agent/service/register", {"Name": "gone"})
    assert a.put("/v1/agent/service/deregister/gone").status == 200
    assert a.stop() == 0
    a.start()
    s = a.get("/v1/agent/services").json()
    assert list(s) == ["keep"]
    assert s["keep"]["Port"] == 9000 and s["keep"]["Tags"] == ["x"]
    c = checks(a)
    assert set(c) == {"keep-ttl", "keep-tcp", "_service_maintenance:keep"}
    assert (c["keep-ttl"]["Status"], c["keep-ttl"]["Output"]) == (
        "warning", "degraded")
    assert c["_service_maintenance:keep"]["Notes"] == "r"
    wait_for(lambda: "connection refused" in
             checks(a)["keep-tcp"]["Output"], what="TCP check running")


def test_dev_mode_writes_nothing(agent):
    put_json(agent, "/v1/agent/service/register", {"Name": "tmp"})
    assert not os.path.exists(agent.data_dir)


GO_SERVER = r'''
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// A gRPC health service as grpc-go speaks it on the wire (HTTP/2 over
// TLS, HPACK with Huffman strings, trailers), from Go's standard library.
func main() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject:   pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour),
		NotAfter:  time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP(os.Args[1])}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := net.Listen("tcp", os.Args[1]+":0")
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		svc := ""
		if len(body) > 7 {
			svc = string(body[7 : 7+int(body[6])])
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		if svc == "missing" {
			w.Header().Set("Grpc-Status", "5")
			w.Header().Set("Grpc-Message", "unknown service")
			return
		}
		st := byte(1)
		if svc == "down" {
			st = 2
		}
		w.Write([]byte{0, 0, 0, 0, 2, 0x08, st})
		w.Header().Set("Grpc-Status", "0")
	})
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}}
	srv.ServeTLS(ln, "", "")
}
'''


@pytest.fixture(scope="module")
def go_grpc_server(tmp_path_factory):
    import shutil
    import subprocess
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain to build a gRPC peer")
    d = tmp_path_factory.mktemp("gogrpc")
    (d / "srv.go").write_text(GO_SERVER)
    env = dict(os.environ, GOCACHE=str(d / "cache"), GOPATH=str(d / "gp"),
               GO111MODULE="off", GOFLAGS="")
    subprocess.run([go, "build", "-o", str(d / "srv"), str(d / "srv.go")],
                   check=True, env=env, timeout=300, capture_output=True)
    return str(d / "srv")


def test_grpc_and_h2ping_against_a_real_http2_stack(agents, go_grpc_server):
    import subprocess
    a = agents().start()
    srv = subprocess.Popen([go_grpc_server, a.ip], stdout=subprocess.PIPE,
                           text=True)
    try:
        port = int(srv.stdout.readline())
        target = "%s:%d" % (a.ip, port)
        for name, svc, extra in (("all", "", {"TLSSkipVerify": True}),
                                 ("down", "/down", {"TLSSkipVerify": True}),
                                 ("missing", "/missing",
                                  {"TLSSkipVerify": True}),
                                 ("verified", "", {})):
            # Initially warning, so every status below is a probe's.
            body = {"Name": name, "GRPC": target + svc, "GRPCUseTLS": True,
                    "Interval": "1s", "Status": "warning"}
            body.update(extra)
            assert put_json(a, "/v1/agent/check/register", body).status == 200
        assert put_json(a, "/v1/agent/check/register", {
            "Name": "ping", "H2PING": target, "TLSSkipVerify": True,
            "Interval": "1s", "Status": "warning"}).status == 200
        assert put_json(a, "/v1/agent/check/register", {
            "Name": "tls", "TCP": target, "TCPUseTLS": True,
            "TLSSkipVerify": True, "Interval": "1s",
            "Status": "warning"}).status == 200
        want = {"all": "passing", "down": "critical", "missing": "critical",
                "verified": "critical", "ping": "passing", "tls": "passing"}
        wait_for(lambda: {k: check_status(a, k) for k in want} == want and
                 checks(a)["missing"]["Output"].startswith("rpc error"),
                 what="gRPC check statuses")
        c = checks(a)
        assert c["all"]["Output"] == "gRPC check %s: success" % target
        assert c["all"]["Type"] == "grpc"
        assert c["down"]["Output"] == \
            "gRPC %s/down serving status: NOT_SERVING" % target
        assert c["missing"]["Output"] == \
            "rpc error: code = NotFound desc = unknown service"
        assert "tls: failed to verify certificate" in c["verified"]["Output"]
        assert c["ping"]["Output"] == "HTTP2 ping was successful"
        assert c["tls"]["Output"] == "TCP+TLS connect %s: Success" % target
    finally:
        srv.kill()
        srv.wait()


def test_bad_config_definition_stops_the_agent(agents, tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"service": {
        "name": "x", "check": {"args": ["true"], "interval": "10s"}}}))
    a = agents("-config-file", str(cfg))
    a.start(wait=False)
    assert a.proc.wait(20) == 2
    assert ('Failed to register service "x": Scripts are disabled on this '
            "agent; to enable, configure 'enable_script_checks' or "
            "'enable_local_script_checks' to true") in a.read_log()


def test_alias_of_another_node_follows_the_catalog(agent):
    def far(status, output):
        r = put_json(agent, "/v1/catalog/register", {
            "Node": "far", "Address": "10.0.0.7",
            "Service": {"ID": "db", "Service": "db"},
            "Check": {"CheckID": "db-check", "Name": "db check",
                      "ServiceID": "db", "Status": status,
                      "Output": output}})
        assert r.status == 200, r.body
    far("critical", "down")
    assert put_json(agent, "/v1/agent/check/register", {
        "Name": "far-db", "AliasNode": "far", "AliasService": "db",
        "Status": "warning"}).status == 200
    assert put_json(agent, "/v1/agent/check/register", {
        "Name": "far-web", "AliasNode": "far", "AliasService": "web",
        "Status": "warning"}).status == 200
    wait_for(lambda: check_status(agent, "far-db") == "critical",
             what="alias critical")
    assert checks(agent)["far-db"]["Output"] == \
        'Aliased check "db check" failing: down'
    far("passing", "")            # the blocking query wakes on the change
    wait_for(lambda: check_status(agent, "far-db") == "passing",
             what="alias passing")
    assert checks(agent)["far-db"]["Output"] == "All checks passing."
    wait_for(lambda: check_status(agent, "far-web") == "critical",
             what="missing service")
    assert checks(agent)["far-web"]["Output"] == \
        "Service web could not be found on node far"
