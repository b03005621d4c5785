/*
 * The command line client end to end: cli_main() runs in the test process
 * against a fake agent (fixture.c) on 127.0.0.1, on a Unix socket, or
 * behind TLS, and the tests compare what a user would see: stdout,
 * stderr, the exit code, and what reached the agent.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netinet/in.h>
#include <yajl/yajl_tree.h>

#include "fixture.h"
#include "lib/base64.h"
#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/http_client.h"

/* Three members: a server, a live client and a failed client. */
static const char members_json[] =
    "[{\"Name\":\"node-b\",\"Addr\":\"127.0.0.12\",\"Port\":8301,"
    "\"Tags\":{\"build\":\"0.1.0:abcdef\",\"dc\":\"dc1\",\"role\":\"node\","
    "\"segment\":\"\",\"vsn\":\"2\"},\"Status\":1,\"ProtocolMin\":1,"
    "\"ProtocolMax\":5,\"ProtocolCur\":2,\"DelegateMin\":2,"
    "\"DelegateMax\":5,\"DelegateCur\":4},"
    "{\"Name\":\"srv-1\",\"Addr\":\"127.0.0.11\",\"Port\":8301,"
    "\"Tags\":{\"build\":\"0.1.0:muster\",\"dc\":\"dc1\",\"role\":\"consul\","
    "\"segment\":\"\",\"vsn\":\"2\",\"port\":\"8300\",\"bootstrap\":\"1\"},"
    "\"Status\":1},"
    "{\"Name\":\"node-a-long-name\",\"Addr\":\"127.0.0.13\",\"Port\":8301,"
    "\"Tags\":{\"role\":\"node\",\"dc\":\"dc1\",\"vsn\":\"2\","
    "\"build\":\"0.1.0:x\"},\"Status\":4}]";

/* WAN pool: an IPv4-mapped server and a member of an unknown role. */
static const char members_wan_json[] =
    "[{\"Name\":\"srv-1.dc1\",\"Addr\":\"::ffff:127.0.0.11\",\"Port\":8302,"
    "\"Tags\":{\"build\":\"0.1.0:muster\",\"dc\":\"dc1\",\"role\":\"consul\","
    "\"vsn\":\"2\"},\"Status\":1},"
    "{\"Name\":\"odd\",\"Addr\":\"fe80::1\",\"Port\":8302,"
    "\"Tags\":{\"role\":\"witness\"},\"Status\":2}]";

static const char self_json[] =
    "{\"Config\":{\"Datacenter\":\"dc1\",\"NodeName\":\"srv-1\"},"
    "\"Stats\":{\"raft\":{\"state\":\"Leader\",\"applied_index\":\"12\"},"
    "\"agent\":{\"services\":\"0\",\"checks\":\"0\"},"
    "\"runtime\":{\"goroutines\":\"1\"},"
    "\"build\":{\"version\":\"0.1.0\",\"revision\":\"x\","
    "\"prerelease\":\"\"}},\"Member\":{}}";

static const char info_out[] =
    "agent:\n\tchecks = 0\n\tservices = 0\n"
    "build:\n\tprerelease = \n\trevision = x\n\tversion = 0.1.0\n"
    "raft:\n\tapplied_index = 12\n\tstate = Leader\n"
    "runtime:\n\tgoroutines = 1\n";

static const struct fx_route agent_routes[] = {
	{ "GET", "/v1/agent/members", 200, members_json, FX_LENGTH },
	{ "GET", "/v1/agent/members?wan=1", 200, members_wan_json, FX_LENGTH },
	{ "GET", "/v1/agent/self", 200, self_json, FX_LENGTH },
	{ "PUT", "/v1/agent/reload", 200, "", FX_LENGTH },
	{ "PUT", "/v1/agent/leave", 200, "", FX_LENGTH },
};

static const char *const env_vars[] = {
	"MUSTER_HTTP_ADDR", "CONSUL_HTTP_ADDR", "MUSTER_CONTROL_SOCKET",
	"CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_SSL",
	"CONSUL_HTTP_SSL_VERIFY", "CONSUL_CACERT", "CONSUL_CAPATH",
	"CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_TLS_SERVER_NAME",
	"CONSUL_HTTP_AUTH",
};

static char tmpdir[64];

static void
setup(void)
{
	size_t i;

	for (i = 0; i < nitems(env_vars); i++)
		unsetenv(env_vars[i]);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/muster-cli-test-XXXXXX");
	ck_assert(mkdtemp(tmpdir) != NULL);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

struct run {
	int rc;
	char out[16384];
	char err[16384];
};

static void
slurp(int fd, char *out, size_t len)
{
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Run `muster args...` in this process, capturing stdout and stderr. */
static void
run_cli(struct run *r, ...)
{
	char *argv[32];
	int argc = 0, o, e, so, se;
	va_list ap;

	argv[argc++] = (char *)"muster";
	va_start(ap, r);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	o = memfd_create("out", MFD_CLOEXEC);
	e = memfd_create("err", MFD_CLOEXEC);
	so = dup(1);
	se = dup(2);
	dup2(o, 1);
	dup2(e, 2);
	r->rc = cli_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	slurp(o, r->out, sizeof(r->out));
	slurp(e, r->err, sizeof(r->err));
}

#define RUN(r, ...) run_cli((r), __VA_ARGS__, (char *)NULL)

static char *
flag(const char *name, const char *val)
{
	static char bufs[8][256];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 256, "-%s=%s", name, val);
	return b;
}

/* A TCP port on 127.0.0.1 with nothing listening. */
static int
closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* Members ------------------------------------------------------------ */

START_TEST(members_table)
{
	struct fx f;
	struct run r;

	fx_start(&f, agent_routes, nitems(agent_routes), NULL, NULL);
	RUN(&r, "members", flag("http-addr", f.addr));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out,
	    "Node              Address          Status  Type    Build  "
	    "Protocol  DC   Partition  Segment\n"
	    "srv-1             127.0.0.11:8301  alive   server  0.1.0  "
	    "2         dc1  default    <all>\n"
	    "node-a-long-name  127.0.0.13:8301  failed  client  0.1.0  "
	    "2         dc1  default    <default>\n"
	    "node-b            127.0.0.12:8301  alive   client  0.1.0  "
	    "2         dc1  default    <default>\n");
	ck_assert(strncmp(f.rec->head, "GET /v1/agent/members HTTP/1.1\r\n",
	    32) == 0);
	fx_stop(&f);
}
END_TEST

START_TEST(members_status_filter)
{
	struct fx f;
	struct run r;

	fx_start(&f, agent_routes, nitems(agent_routes), NULL, NULL);
	RUN(&r, "members", flag("http-addr", f.addr), "-status=fail");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out,
	    "Node              Address          Status  Type    Build  "
	    "Protocol  DC   Partition  Segment\n"
	    "node-a-long-name  127.0.0.13:8301  failed  client  0.1.0  "
	    "2         dc1  default    <default>\n");
	/* A regular expression, searched anywhere in the status. */
	RUN(&r, "members", flag("http-addr", f.addr), "-status", "^(left|ali)");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "srv-1 "));
	ck_assert_ptr_nonnull(strstr(r.out, "node-b "));
	ck_assert_ptr_null(strstr(r.out, "node-a-long-name"));
	/* Nothing matched: exit 2 and no output, as consul. */
	RUN(&r, "members", flag("http-addr", f.addr), "-status=^left$");
	ck_assert_int_eq(r.rc, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "");
	RUN(&r, "members", flag("http-addr", f.addr), "-status=(");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(strncmp(r.err, "Failed to compile status regexp: ",
	    33) == 0);
	fx_stop(&f);
}
END_TEST

START_TEST(members_detailed)
{
	struct fx f;
	struct run r;

	fx_start(&f, agent_routes, nitems(agent_routes), NULL, NULL);
	RUN(&r, "members", "-detailed", flag("http-addr", f.addr));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out,
	    "Node              Address          Status  Tags\n"
	    "srv-1             127.0.0.11:8301  alive   bootstrap=1,"
	    "build=0.1.0:muster,dc=dc1,partition=default,port=8300,"
	    "role=consul,segment=<all>,vsn=2\n"
	    "node-a-long-name  127.0.0.13:8301  failed  build=0.1.0:x,dc=dc1,"
	    "partition=default,role=node,segment=<default>,vsn=2\n"
	    "node-b            127.0.0.12:8301  alive   build=0.1.0:abcdef,"
	    "dc=dc1,partition=default,role=node,segment=<default>,vsn=2\n");
	fx_stop(&f);
}
END_TEST

START_TEST(members_wan_ipv6_unknown_role)
{
	struct fx f;
	struct run r;

	fx_start(&f, agent_routes, nitems(agent_routes), NULL, NULL);
	RUN(&r, "members", "-wan", flag("http-addr", f.addr));
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(f.rec->head, "GET /v1/agent/members?wan=1 ", 28) ==
	    0);
	/*
	 * An unknown role leaves the remaining columns empty, each still
	 * padded: 2 + (5+2) + (8+2) + (3+2) + (9+2) = 35 spaces.
	 */
	ck_assert_str_eq(r.out,
	    "Node       Address          Status   Type     Build  "
	    "Protocol  DC   Partition  Segment\n"
	    "srv-1.dc1  127.0.0.11:8302  alive    server   0.1.0  "
	    "2         dc1  default    <all>\n"
	    "odd        [fe80::1]:8302   leaving  unknown                  "
	    "                 \n");
	fx_stop(&f);
}
END_TEST

/* info, reload, leave ------------------------------------------------ */

START_TEST(info_format)
{
	struct fx f;
	struct run r;

	fx_start(&f, agent_routes, nitems(agent_routes), NULL, NULL);
	RUN(&r, "info", flag("http-addr", f.addr));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, info_out);
	fx_stop(&f);
}
END_TEST

START_TEST(reload_leave_and_errors)
{
	static const struct fx_route bad[] = {
		{ "PUT", "/v1/agent/reload", 500,
		    "Failed reloading: log_level: not a string\n", FX_LENGTH },
		{ "GET", "/v1/agent/self", 200, "{\"Config\":{}}", FX_LENGTH },
		{ "GET", "/v1/agent/members", 200, "{\"x\":", FX_LENGTH },
	};
	struct fx f, g;
	struct run r;

	fx_start(&f, agent_routes, nitems(agent_routes), NULL, NULL);
	RUN(&r, "reload", flag("http-addr", f.addr));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Configuration reload triggered\n");
	ck_assert(strncmp(f.rec->head, "PUT /v1/agent/reload HTTP/1.1\r\n",
	    31) == 0);
	ck_assert_ptr_nonnull(strstr(f.rec->head, "\r\nContent-Length: 0"));
	RUN(&r, "leave", flag("http-addr", f.addr));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Graceful leave complete\n");
	RUN(&r, "leave", flag("http-addr", f.addr), "extra", "args");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error found unexpected args: [extra args]\n");
	fx_stop(&f);

	fx_start(&g, bad, nitems(bad), NULL, NULL);
	RUN(&r, "reload", flag("http-addr", g.addr));
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "Error reloading: Unexpected response code: "
	    "500 (Failed reloading: log_level: not a string)\n");
	RUN(&r, "info", flag("http-addr", g.addr));
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Agent response did not contain 'Stats' "
	    "key\n");
	RUN(&r, "members", flag("http-addr", g.addr));
	ck_assert_int_eq(r.rc, 1);
	ck_assert(strncmp(r.err, "Error retrieving members: invalid JSON",
	    38) == 0);
	fx_stop(&g);
}
END_TEST

/* Where the agent is -------------------------------------------------- */

static const char *
who_json(char c)
{
	static char b[4][64];

	snprintf(b[c - 'A'], sizeof(b[0]),
	    "{\"Stats\":{\"agent\":{\"who\":\"%c\"}}}", c);
	return b[c - 'A'];
}

START_TEST(address_precedence)
{
	struct fx fa, fb, fc, fd;
	struct fx_route ra = { "GET", "/v1/agent/self", 200, who_json('A'),
		FX_LENGTH }, rb = ra, rc = ra, rd = ra;
	char sock[128], bare[64];
	struct run r;

	rb.body = who_json('B');
	rc.body = who_json('C');
	rd.body = who_json('D');
	snprintf(sock, sizeof(sock), "%s/control.sock", tmpdir);
	fx_start(&fa, &ra, 1, NULL, NULL);
	fx_start(&fb, &rb, 1, NULL, NULL);
	fx_start(&fc, &rc, 1, NULL, NULL);
	fx_start(&fd, &rd, 1, sock, NULL);
	/* CONSUL_HTTP_ADDR as a bare host:port, the form consul documents. */
	snprintf(bare, sizeof(bare), "127.0.0.1:%d", fc.port);
	setenv("MUSTER_HTTP_ADDR", fb.addr, 1);
	setenv("CONSUL_HTTP_ADDR", bare, 1);
	setenv("MUSTER_CONTROL_SOCKET", sock, 1);

	RUN(&r, "info", flag("http-addr", fa.addr));
	ck_assert_str_eq(r.out, "agent:\n\twho = A\n");
	RUN(&r, "info");
	ck_assert_str_eq(r.out, "agent:\n\twho = B\n");
	unsetenv("MUSTER_HTTP_ADDR");
	RUN(&r, "info");
	ck_assert_str_eq(r.out, "agent:\n\twho = C\n");
	unsetenv("CONSUL_HTTP_ADDR");
	RUN(&r, "info");
	ck_assert_str_eq(r.out, "agent:\n\twho = D\n");
	/* The -control-socket flag beats the environment variable. */
	setenv("MUSTER_CONTROL_SOCKET", "/nonexistent/muster.sock", 1);
	RUN(&r, "info", flag("control-socket", sock));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "agent:\n\twho = D\n");
	/* A named socket that is absent is reported, not skipped. */
	RUN(&r, "info");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error querying agent: Get "
	    "\"http://unix/v1/agent/self\": dial unix /nonexistent/muster.sock:"
	    " connect: no such file or directory\n");
	fx_stop(&fa);
	fx_stop(&fb);
	fx_stop(&fc);
	fx_stop(&fd);
}
END_TEST

START_TEST(address_default)
{
	struct cli_http_opts o = { 0 };
	struct cli_client c;
	struct buf err;
	struct stat st;
	bool explicit;
	char *sock = cli_control_socket_path(&o, &explicit), want[64];

	if (geteuid() == 0)
		snprintf(want, sizeof(want), "/run/muster/control.sock");
	else
		snprintf(want, sizeof(want), "/tmp/muster-%u/control.sock",
		    (unsigned)getuid());
	ck_assert_str_eq(sock, want);
	ck_assert(!explicit);
	buf_init(&err);
	ck_assert_int_eq(cli_client_init(&c, &o, &err), 0);
	/* A local agent may own the default socket; then it is chosen. */
	if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
		ck_assert_int_eq(c.src, CLI_ADDR_CONTROL);
		ck_assert(c.t.unix_sock);
		ck_assert_str_eq(c.t.sock_path, sock);
	} else {
		ck_assert_int_eq(c.src, CLI_ADDR_DEFAULT);
		ck_assert_str_eq(c.addr, "http://127.0.0.1:8500");
		ck_assert(!c.t.unix_sock && !c.t.tls);
		ck_assert_str_eq(c.t.host, "127.0.0.1");
		ck_assert_str_eq(c.t.port, "8500");
	}
	cli_client_free(&c);
	free(sock);
	buf_free(&err);
}
END_TEST

START_TEST(address_forms)
{
	struct cli_http_target t = { 0 };
	struct buf err;

	buf_init(&err);
	ck_assert_int_eq(cli_addr_parse("127.0.0.1:8500", false, &t, &err), 0);
	ck_assert(!t.tls && !t.unix_sock);
	ck_assert_str_eq(t.host, "127.0.0.1");
	ck_assert_str_eq(t.port, "8500");
	ck_assert_str_eq(t.prefix, "");
	cli_http_target_free(&t);
	/* CONSUL_HTTP_SSL=true: bare and http:// addresses become https. */
	ck_assert_int_eq(cli_addr_parse("localhost", true, &t, &err), 0);
	ck_assert(t.tls);
	ck_assert_str_eq(t.port, "443");
	cli_http_target_free(&t);
	ck_assert_int_eq(cli_addr_parse("http://h:1", true, &t, &err), 0);
	ck_assert(t.tls);
	cli_http_target_free(&t);
	ck_assert_int_eq(cli_addr_parse("https://[::1]:8501/consul/", false,
	    &t, &err), 0);
	ck_assert(t.tls);
	ck_assert_str_eq(t.host, "::1");
	ck_assert_str_eq(t.port, "8501");
	ck_assert_str_eq(t.prefix, "/consul");
	cli_http_target_free(&t);
	ck_assert_int_eq(cli_addr_parse("http://example.test", false, &t,
	    &err), 0);
	ck_assert_str_eq(t.port, "80");
	cli_http_target_free(&t);
	ck_assert_int_eq(cli_addr_parse("unix:///run/x.sock", true, &t, &err),
	    0);
	ck_assert(t.unix_sock && !t.tls);
	ck_assert_str_eq(t.sock_path, "/run/x.sock");
	cli_http_target_free(&t);
	ck_assert_int_eq(cli_addr_parse("ftp://h:1", false, &t, &err),
	    -EINVAL);
	ck_assert_str_eq((char *)err.data, "Unknown protocol scheme: ftp");
	cli_http_target_free(&t);
	buf_reset(&err);
	ck_assert_int_eq(cli_addr_parse("h:99999", false, &t, &err), -EINVAL);
	ck_assert_str_eq((char *)err.data, "invalid port \"99999\" after host");
	cli_http_target_free(&t);
	buf_free(&err);
}
END_TEST

START_TEST(unix_socket)
{
	struct fx f;
	struct run r;
	char sock[128], addr[160];

	snprintf(sock, sizeof(sock), "%s/agent.sock", tmpdir);
	fx_start(&f, agent_routes, nitems(agent_routes), sock, NULL);
	snprintf(addr, sizeof(addr), "unix://%s", sock);
	setenv("CONSUL_HTTP_ADDR", addr, 1);
	RUN(&r, "members", "-status=alive");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\nsrv-1 "));
	ck_assert_ptr_nonnull(strstr(r.out, "\nnode-b "));
	ck_assert(strncmp(f.rec->head, "GET /v1/agent/members HTTP/1.1\r\n",
	    32) == 0);
	fx_stop(&f);
}
END_TEST

START_TEST(agent_down)
{
	struct run r;
	char addr[64], want[256], sock[160];
	int port = closed_port();

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	setenv("MUSTER_HTTP_ADDR", addr, 1);
	RUN(&r, "members");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	snprintf(want, sizeof(want), "Error retrieving members: Get "
	    "\"http://127.0.0.1:%d/v1/agent/members\": dial tcp "
	    "127.0.0.1:%d: connect: connection refused\n", port, port);
	ck_assert_str_eq(r.err, want);
	RUN(&r, "reload");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(strncmp(r.err, "Error reloading: Put \"http://", 29) == 0);
	RUN(&r, "leave");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(strncmp(r.err, "Error leaving: Put \"http://", 27) == 0);

	snprintf(sock, sizeof(sock), "unix://%s/gone.sock", tmpdir);
	RUN(&r, "info", flag("http-addr", sock));
	ck_assert_int_eq(r.rc, 1);
	snprintf(want, sizeof(want), "Error querying agent: Get "
	    "\"http://unix/v1/agent/self\": dial unix %s/gone.sock: connect: "
	    "no such file or directory\n", tmpdir);
	ck_assert_str_eq(r.err, want);
	/* An address that cannot be used at all. */
	RUN(&r, "info", "-http-addr=gopher://127.0.0.1:70");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error connecting to agent: Unknown protocol "
	    "scheme: gopher\n");
}
END_TEST

/* Transport ----------------------------------------------------------- */

static int
collect(void *arg, const void *p, size_t n)
{
	buf_add(arg, p, n);
	return 0;
}

START_TEST(chunked_bodies)
{
	static const struct fx_route routes[] = {
		{ "GET", "/v1/agent/self", 200, self_json, FX_CHUNKED },
		{ "GET", "/raw/eof", 200, "HTTP/1.1 200 OK\r\n"
		    "Content-Type: application/json\r\n\r\n[1,2,3]", FX_RAW },
		{ "GET", "/raw/badchunk", 200, "HTTP/1.1 200 OK\r\n"
		    "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n", FX_RAW },
		{ "GET", "/raw/short", 200, "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 50\r\n\r\n{\"a\":", FX_RAW },
		{ "GET", "/raw/cut", 200, "HTTP/1.1 200 OK\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n5\r\nab", FX_RAW },
		{ "GET", "/raw/garbage", 200, "SSH-2.0-OpenSSH\r\n\r\n",
		    FX_RAW },
		{ "GET", "/raw/interim", 200, "HTTP/1.1 100 Continue\r\n\r\n"
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", FX_RAW },
	};
	struct cli_http_opts o = { 0 };
	struct cli_http_resp resp;
	struct cli_client c;
	struct buf err;
	char want[128];
	struct fx f;
	struct run r;

	fx_start(&f, routes, nitems(routes), NULL, NULL);
	RUN(&r, "info", flag("http-addr", f.addr));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, info_out);

	o.http_addr = f.addr;
	buf_init(&err);
	cli_http_resp_init(&resp);
	ck_assert_int_eq(cli_client_init(&c, &o, &err), 0);
	ck_assert_int_eq(cli_request(&c, "GET", "/v1/agent/self", NULL, 0,
	    &resp, &err), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_uint_eq(resp.body.len, strlen(self_json));
	ck_assert_str_eq((char *)resp.body.data, self_json);
	ck_assert_str_eq(cli_http_resp_header(&resp, "content-type"),
	    "application/json");
	/* Streamed to a reader, with an extra header; or capped. */
	{
		const char *const hdrs[] = { "Accept: application/json",
			NULL };
		struct cli_http_req req = { .method = "GET",
			.path = "/v1/agent/self", .headers = hdrs,
			.on_body = collect };
		struct buf got;

		buf_init(&got);
		req.arg = &got;
		ck_assert_int_eq(cli_request_req(&c, &req, &resp, &err), 0);
		ck_assert_str_eq((char *)got.data, self_json);
		ck_assert_uint_eq(resp.body.len, 0);
		ck_assert_str_eq(fx_header(&f, "Accept", want, sizeof(want)),
		    "application/json");
		req.on_body = NULL;
		req.max_body = 16;
		ck_assert_int_eq(cli_request_req(&c, &req, &resp, &err),
		    -EFBIG);
		ck_assert_ptr_nonnull(strstr((char *)err.data,
		    "response body larger than 16 bytes"));
		buf_reset(&err);
		buf_free(&got);
	}
	/* Framed by the end of the connection. */
	ck_assert_int_eq(cli_request(&c, "GET", "/raw/eof", NULL, 0, &resp,
	    &err), 0);
	ck_assert_str_eq((char *)resp.body.data, "[1,2,3]");
	ck_assert_int_eq(cli_request(&c, "GET", "/raw/interim", NULL, 0,
	    &resp, &err), 0);
	ck_assert_int_eq(resp.status, 200);
	ck_assert_str_eq((char *)resp.body.data, "ok");
	ck_assert_int_lt(cli_request(&c, "GET", "/raw/badchunk", NULL, 0,
	    &resp, &err), 0);
	ck_assert_ptr_nonnull(strstr((char *)err.data,
	    "malformed chunked encoding"));
	buf_reset(&err);
	ck_assert_int_lt(cli_request(&c, "GET", "/raw/short", NULL, 0, &resp,
	    &err), 0);
	snprintf(want, sizeof(want), "Get \"http://127.0.0.1:%d/raw/short\": "
	    "unexpected EOF", f.port);
	ck_assert_str_eq((char *)err.data, want);
	buf_reset(&err);
	ck_assert_int_lt(cli_request(&c, "GET", "/raw/cut", NULL, 0, &resp,
	    &err), 0);
	ck_assert_ptr_nonnull(strstr((char *)err.data, "\": unexpected EOF"));
	buf_reset(&err);
	ck_assert_int_lt(cli_request(&c, "GET", "/raw/garbage", NULL, 0,
	    &resp, &err), 0);
	ck_assert_ptr_nonnull(strstr((char *)err.data,
	    "\": malformed HTTP response \"SSH-2.0-OpenSSH\""));
	buf_free(&err);
	cli_client_free(&c);
	cli_http_resp_free(&resp);
	fx_stop(&f);
}
END_TEST

START_TEST(token_header)
{
	static const struct fx_route reload[] = {
		{ "PUT", "/v1/agent/reload", 200, "", FX_LENGTH },
	};
	char tf[128], tf2[128], v[256], missing[160];
	struct fx f;
	struct run r;
	FILE *fp;

	fx_start(&f, reload, 1, NULL, NULL);
	setenv("MUSTER_HTTP_ADDR", f.addr, 1);
	RUN(&r, "reload");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_null(fx_header(&f, "X-Consul-Token", v, sizeof(v)));

	RUN(&r, "reload", "-token=flag-secret");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(fx_header(&f, "X-Consul-Token", v, sizeof(v)),
	    "flag-secret");

	setenv("CONSUL_HTTP_TOKEN", "env-secret", 1);
	RUN(&r, "reload");
	ck_assert_str_eq(fx_header(&f, "X-Consul-Token", v, sizeof(v)),
	    "env-secret");
	RUN(&r, "reload", "-token", "flag-secret");
	ck_assert_str_eq(fx_header(&f, "X-Consul-Token", v, sizeof(v)),
	    "flag-secret");

	/* Token files are trimmed; a file beats a token at the same level. */
	snprintf(tf, sizeof(tf), "%s/token", tmpdir);
	ck_assert((fp = fopen(tf, "w")) != NULL);
	fputs("  file-secret\n", fp);
	fclose(fp);
	snprintf(tf2, sizeof(tf2), "%s/token2", tmpdir);
	ck_assert((fp = fopen(tf2, "w")) != NULL);
	fputs("env-file-secret\n", fp);
	fclose(fp);
	setenv("CONSUL_HTTP_TOKEN_FILE", tf2, 1);
	RUN(&r, "reload");
	ck_assert_str_eq(fx_header(&f, "X-Consul-Token", v, sizeof(v)),
	    "env-file-secret");
	RUN(&r, "reload", flag("token-file", tf), "-token=flag-secret");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(fx_header(&f, "X-Consul-Token", v, sizeof(v)),
	    "file-secret");
	RUN(&r, "reload", "-token=flag-secret");
	ck_assert_str_eq(fx_header(&f, "X-Consul-Token", v, sizeof(v)),
	    "flag-secret");

	snprintf(missing, sizeof(missing), "%s/none", tmpdir);
	ck_assert_int_eq(f.rec->nreq, 7);
	RUN(&r, "reload", flag("token-file", missing));
	ck_assert_int_eq(r.rc, 1);
	snprintf(v, sizeof(v), "Error connecting to agent: Error loading "
	    "token file: open %s: no such file or directory\n", missing);
	ck_assert_str_eq(r.err, v);
	ck_assert_int_eq(f.rec->nreq, 7);

	/* CONSUL_HTTP_AUTH: basic authentication. */
	setenv("CONSUL_HTTP_AUTH", "user:pass", 1);
	RUN(&r, "reload");
	ck_assert_str_eq(fx_header(&f, "Authorization", v, sizeof(v)),
	    "Basic dXNlcjpwYXNz");
	fx_stop(&f);
}
END_TEST

START_TEST(io_timeout)
{
	static const struct fx_route hang[] = {
		{ "GET", "/v1/agent/self", 200, "", FX_HANG },
	};
	struct cli_http_opts o = { 0 };
	struct cli_http_resp resp;
	struct cli_client c;
	struct buf err;
	struct fx f;
	char want[128];
	uint64_t t0;

	fx_start(&f, hang, 1, NULL, NULL);
	o.http_addr = f.addr;
	buf_init(&err);
	cli_http_resp_init(&resp);
	ck_assert_int_eq(cli_client_init(&c, &o, &err), 0);
	ck_assert_int_eq(c.t.io_timeout_ms, 60000);
	c.t.io_timeout_ms = 300;
	t0 = mono_ms();
	ck_assert_int_eq(cli_request(&c, "GET", "/v1/agent/self", NULL, 0,
	    &resp, &err), -ETIMEDOUT);
	ck_assert_uint_ge(mono_ms() - t0, 250);
	snprintf(want, sizeof(want), "Get \"http://127.0.0.1:%d/v1/agent/"
	    "self\": read tcp 127.0.0.1:%d: i/o timeout", f.port, f.port);
	ck_assert_str_eq((char *)err.data, want);
	cli_client_free(&c);
	cli_http_resp_free(&resp);
	buf_free(&err);
	fx_stop(&f);
}
END_TEST

START_TEST(tls)
{
	char cert[128], key[128], addr[64], bare[64];
	struct fx_tls tl;
	struct fx f, m;
	struct run r;

	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	fx_make_cert(cert, key);
	tl = (struct fx_tls){ cert, key, NULL };
	fx_start(&f, agent_routes, nitems(agent_routes), NULL, &tl);
	snprintf(addr, sizeof(addr), "https://127.0.0.1:%d", f.port);

	RUN(&r, "info", flag("http-addr", addr), flag("ca-file", cert));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, info_out);
	/* Not trusted: the certificate is refused. */
	RUN(&r, "info", flag("http-addr", addr));
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "tls: failed to verify "
	    "certificate: "));
	ck_assert_int_eq(f.rec->nreq, 1);
	setenv("CONSUL_HTTP_SSL_VERIFY", "false", 1);
	RUN(&r, "info", flag("http-addr", addr));
	ck_assert_int_eq(r.rc, 0);
	unsetenv("CONSUL_HTTP_SSL_VERIFY");
	/* The name verified is -tls-server-name when given. */
	RUN(&r, "info", flag("http-addr", addr), flag("ca-file", cert),
	    "-tls-server-name=muster.test");
	ck_assert_int_eq(r.rc, 0);
	RUN(&r, "info", flag("http-addr", addr), flag("ca-file", cert),
	    "-tls-server-name=other.test:8501");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "tls: failed to verify "));
	/* CONSUL_HTTP_SSL turns a bare address into https; CONSUL_CACERT. */
	snprintf(bare, sizeof(bare), "127.0.0.1:%d", f.port);
	setenv("CONSUL_HTTP_ADDR", bare, 1);
	setenv("CONSUL_HTTP_SSL", "true", 1);
	setenv("CONSUL_CACERT", cert, 1);
	RUN(&r, "members");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\nsrv-1 "));
	fx_stop(&f);

	/* Mutual TLS: the agent asks for a client certificate. */
	tl.client_ca = cert;
	fx_start(&m, agent_routes, nitems(agent_routes), NULL, &tl);
	snprintf(bare, sizeof(bare), "127.0.0.1:%d", m.port);
	setenv("CONSUL_HTTP_ADDR", bare, 1);
	RUN(&r, "info");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_int_eq(m.rec->nreq, 0);
	RUN(&r, "info", flag("client-cert", cert), flag("client-key", key));
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, info_out);
	RUN(&r, "info", flag("client-cert", cert));
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error connecting to agent: both client cert "
	    "and client key must be provided\n");
	fx_stop(&m);
}
END_TEST

/* Local commands and usage -------------------------------------------- */

START_TEST(usage_and_exit_codes)
{
	struct run r;

	RUN(&r, "-h");
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(r.out, "Usage: muster [--version] [--help] "
	    "<command> [<args>]\n\nAvailable commands are:\n", 72) == 0);
	/* Names padded to the longest one: every synopsis in one column. */
	const char *mem = strstr(r.out, "\n    members ");
	const char *agt = strstr(r.out, "\n    agent ");
	ck_assert_ptr_nonnull(mem);
	ck_assert_ptr_nonnull(agt);
	const char *mdesc = strstr(mem, "Lists the members of a Muster cluster\n");
	const char *adesc = strstr(agt, "Runs a ");
	ck_assert_ptr_nonnull(mdesc);
	ck_assert_ptr_nonnull(adesc);
	ck_assert_int_eq(mdesc - mem, adesc - agt);
	ck_assert_ptr_eq(mdesc, mem + strspn(mem + 13, " ") + 13);
	RUN(&r, "help");
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(r.out, "Usage: muster [--version]", 25) == 0);
	run_cli(&r, (char *)NULL);
	ck_assert_int_eq(r.rc, 127);
	RUN(&r, "frobnicate");
	ck_assert_int_eq(r.rc, 127);
	ck_assert(strncmp(r.out, "Usage: muster", 13) == 0);

	RUN(&r, "members", "-h");
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(r.out, "Usage: muster members [options]\n", 32) ==
	    0);
	ck_assert_ptr_nonnull(strstr(r.out, "\nHTTP API Options\n\n"
	    "  -http-addr=<address>\n     The `address` and port"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nCommand Options\n\n  -detailed\n"
	    "     Provides detailed information about nodes.\n"));
	RUN(&r, "help", "info");
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(r.out, "Usage: muster info [options]\n", 29) == 0);

	RUN(&r, "members", "-bogus");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(strncmp(r.err, "flag provided but not defined: -bogus\n"
	    "Usage: muster members", 59) == 0);
	RUN(&r, "members", "-status");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(strncmp(r.err, "flag needs an argument: -status\n", 32) ==
	    0);
	RUN(&r, "members", "-detailed=maybe");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(strncmp(r.err, "invalid boolean value \"maybe\" for "
	    "-detailed: parse error\n", 56) == 0);
	RUN(&r, "-x", "members");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(strncmp(r.out, "Invalid flags before the subcommand.", 36) ==
	    0);
}
END_TEST

/* A nested command as later ones ("kv get") are built: cli_dispatch(). */
static char nested_seen[64];

static int
nested_get(int argc, char **argv)
{
	snprintf(nested_seen, sizeof(nested_seen), "%s %d %s", argv[0], argc,
	    argc > 1 ? argv[1] : "-");
	return 42;
}

static int
nested_main(int argc, char **argv)
{
	static const struct cli_cmd tab[] = {
		{ "put", nested_get, "Sets or updates data in the KV store" },
		{ "get", nested_get, "Retrieves or lists data from the KV "
		    "store" },
	};

	return cli_dispatch("Usage: muster kv <subcommand> [options] "
	    "[args]", tab, nitems(tab), argc, argv);
}

static void
run_nested(struct run *r, int argc, char **argv)
{
	int o = memfd_create("out", MFD_CLOEXEC), so = dup(1);

	fflush(stdout);
	dup2(o, 1);
	r->rc = nested_main(argc, argv);
	fflush(stdout);
	dup2(so, 1);
	close(so);
	slurp(o, r->out, sizeof(r->out));
}

START_TEST(nested_dispatch)
{
	char *get[] = { (char *)"kv", (char *)"get", (char *)"a/b", NULL };
	char *none[] = { (char *)"kv", NULL };
	char *help[] = { (char *)"kv", (char *)"-h", NULL };
	char *bogus[] = { (char *)"kv", (char *)"bogus", NULL };
	struct run r;

	run_nested(&r, 3, get);
	ck_assert_int_eq(r.rc, 42);
	ck_assert_str_eq(nested_seen, "get 2 a/b");
	run_nested(&r, 1, none);
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "Usage: muster kv <subcommand> [options] "
	    "[args]\n\nSubcommands:\n"
	    "    get    Retrieves or lists data from the KV store\n"
	    "    put    Sets or updates data in the KV store\n");
	run_nested(&r, 2, help);
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(r.out, "Usage: muster kv", 16) == 0);
	run_nested(&r, 2, bogus);
	ck_assert_int_eq(r.rc, 1);
}
END_TEST

START_TEST(version_output)
{
	yajl_val v, rpc;
	struct run r, r2;
	char err[128];
	const char *rev;

	RUN(&r, "version");
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(r.out, "Muster v" MUSTER_VERSION "\n", 9 +
	    strlen(MUSTER_VERSION)) == 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\nProtocol 2 spoken by default, "
	    "understands 2 to 3 (agent will automatically use protocol >2 "
	    "when speaking to compatible agents)\n"));
	RUN(&r2, "--version");
	ck_assert_int_eq(r2.rc, 0);
	ck_assert_str_eq(r2.out, r.out);

	RUN(&r, "version", "-format=json");
	ck_assert_int_eq(r.rc, 0);
	ck_assert(strncmp(r.out, "{\n   \"Version\": ", 16) == 0);
	ck_assert((v = yajl_tree_parse(r.out, err, sizeof(err))) != NULL);
	ck_assert_str_eq(cli_json_str(cli_json_get(v, "Version")),
	    MUSTER_VERSION);
	rev = cli_json_str(cli_json_get(v, "Revision"));
	ck_assert_ptr_nonnull(rev);
	if (*rev) {
		char line[96];
		snprintf(line, sizeof(line), "\nRevision %s\n", rev);
		ck_assert_ptr_nonnull(strstr(r2.out, line));
	}
	rpc = cli_json_get(v, "RPC");
	ck_assert_int_eq(YAJL_GET_INTEGER(cli_json_get(rpc, "Default")), 2);
	ck_assert_int_eq(YAJL_GET_INTEGER(cli_json_get(rpc, "Min")), 2);
	ck_assert_int_eq(YAJL_GET_INTEGER(cli_json_get(rpc, "Max")), 3);
	yajl_tree_free(v);
	RUN(&r, "version", "-format=xml");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Unknown format: xml\n");
}
END_TEST

START_TEST(keygen)
{
	struct run r, r2;
	struct buf key;

	RUN(&r, "keygen");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(strlen(r.out), 45);	/* 44 characters and \n */
	buf_init(&key);
	ck_assert_int_eq(base64_decode(r.out, 44, &key), 0);
	ck_assert_uint_eq(key.len, 32);
	RUN(&r2, "keygen");
	ck_assert_str_ne(r.out, r2.out);
	buf_free(&key);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, members_table);
	tcase_add_test(tc, members_status_filter);
	tcase_add_test(tc, members_detailed);
	tcase_add_test(tc, members_wan_ipv6_unknown_role);
	tcase_add_test(tc, info_format);
	tcase_add_test(tc, reload_leave_and_errors);
	tcase_add_test(tc, address_precedence);
	tcase_add_test(tc, address_default);
	tcase_add_test(tc, address_forms);
	tcase_add_test(tc, unix_socket);
	tcase_add_test(tc, agent_down);
	tcase_add_test(tc, chunked_bodies);
	tcase_add_test(tc, token_header);
	tcase_add_test(tc, io_timeout);
	tcase_add_test(tc, tls);
	tcase_add_test(tc, usage_and_exit_codes);
	tcase_add_test(tc, nested_dispatch);
	tcase_add_test(tc, version_output);
	tcase_add_test(tc, keygen);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
