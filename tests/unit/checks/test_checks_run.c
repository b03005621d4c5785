/*
 * Runners on a real loop against loopback: TTL expiry, script exit codes
 * and timeouts, TCP and UDP probes, HTTP against a small forked server
 * (status mapping, redirects, chunked bodies, output cap, headers), and
 * alias checks following another service.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/proto.h"
#include "tests/unit/checks/chktest.h"

static struct buf err;
static pid_t server_pid;
static int server_port;

static void
setup(void)
{
	buf_init(&err);
	chk_setup();
}

static void
teardown(void)
{
	chk_teardown();
	buf_free(&err);
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
}

static char want[512];

static bool
wait_status(const char *id, const char *status, double secs)
{
	snprintf(want, sizeof(want), "%s=%s", id, status);
	return run_until(status_is, want, secs);
}

static const char *
output_of(const char *id)
{
	struct chk_check *c = chk_check_find(&T, id);
	return c ? c->output : "(none)";
}

static int
listen_on(int type, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (type == SOCK_STREAM)
		ck_assert_int_eq(listen(fd, 16), 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A port nothing listens on. */
static int
closed_port(int type)
{
	int port, fd = listen_on(type, &port);
	close(fd);
	return port;
}

START_TEST(ttl_expires)
{
	ck_assert_int_eq(reg_check("{\"Name\":\"t\",\"TTL\":\"150ms\","
	    "\"Status\":\"passing\"}", &err), 0);
	ck_assert_int_eq(status_of("t"), CHK_PASSING);
	ck_assert(wait_status("t", "critical", 3));
	ck_assert_str_eq(output_of("t"), "TTL expired");
	ck_assert_int_eq(chk_ttl_update(&T, "t", CHK_PASSING, "alive", &err), 0);
	ck_assert_int_eq(status_of("t"), CHK_PASSING);
	ck_assert(wait_status("t", "critical", 3));
	ck_assert_str_eq(output_of("t"),
	    "TTL expired (last output before timeout follows): alive");
}
END_TEST

START_TEST(script_exit_codes)
{
	ck_assert_int_eq(reg_check("{\"Name\":\"ok\",\"Args\":[\"sh\",\"-c\","
	    "\"echo fine; echo err >&2\"],\"Interval\":\"10s\"}", &err), 0);
	ck_assert_int_eq(reg_check("{\"Name\":\"warn\",\"Args\":[\"sh\",\"-c\","
	    "\"exit 1\"],\"Interval\":\"10s\",\"Status\":\"passing\"}", &err), 0);
	ck_assert_int_eq(reg_check("{\"Name\":\"crit\",\"Args\":[\"sh\",\"-c\","
	    "\"echo bad; exit 3\"],\"Interval\":\"10s\",\"Status\":\"passing\"}",
	    &err), 0);
	ck_assert_int_eq(reg_check("{\"Name\":\"missing\",\"Args\":"
	    "[\"no-such-program-xyz\"],\"Interval\":\"10s\",\"Status\":"
	    "\"passing\"}", &err), 0);
	ck_assert(wait_status("ok", "passing", 5));
	ck_assert_str_eq(output_of("ok"), "fine\nerr\n");
	ck_assert(wait_status("warn", "warning", 5));
	ck_assert(wait_status("crit", "critical", 5));
	ck_assert_str_eq(output_of("crit"), "bad\n");
	ck_assert(wait_status("missing", "critical", 5));
	ck_assert_str_eq(output_of("missing"), "exec: \"no-such-program-xyz\": "
	    "executable file not found in $PATH");
}
END_TEST

/* A script over its timeout is killed with its whole process group. */
START_TEST(script_timeout_kills_group)
{
	ck_assert_int_eq(reg_check("{\"Name\":\"slow\",\"Args\":[\"sh\",\"-c\","
	    "\"echo started; sleep 30 & sleep 30\"],\"Interval\":\"10s\","
	    "\"Timeout\":\"300ms\",\"Status\":\"passing\"}", &err), 0);
	ck_assert(wait_status("slow", "critical", 5));
	ck_assert_str_eq(output_of("slow"),
	    "Timed out (300ms) running check\n\nstarted\n");
}
END_TEST

START_TEST(script_output_capped)
{
	ck_assert_int_eq(reg_check("{\"Name\":\"big\",\"Args\":[\"sh\",\"-c\","
	    "\"head -c 5000 /dev/zero | tr '\\\\0' a\"],\"Interval\":\"10s\","
	    "\"OutputMaxSize\":100}", &err), 0);
	ck_assert(wait_status("big", "passing", 5));
	ck_assert(strncmp(output_of("big"), "Captured 100 of 5000 bytes\n...\n",
	    31) == 0);
	ck_assert_uint_eq(strlen(output_of("big")), 31 + 100);
}
END_TEST

START_TEST(tcp_probe)
{
	int port, fd = listen_on(SOCK_STREAM, &port), closed;
	char json[256], out[128];
	snprintf(json, sizeof(json), "{\"Name\":\"up\",\"TCP\":\"127.0.0.1:%d\","
	    "\"Interval\":\"10s\"}", port);
	ck_assert_int_eq(reg_check(json, &err), 0);
	closed = closed_port(SOCK_STREAM);
	snprintf(json, sizeof(json), "{\"Name\":\"down\",\"TCP\":"
	    "\"127.0.0.1:%d\",\"Interval\":\"10s\",\"Status\":\"passing\"}",
	    closed);
	ck_assert_int_eq(reg_check(json, &err), 0);
	ck_assert_int_eq(reg_check("{\"Name\":\"bad\",\"TCP\":\"127.0.0.1\","
	    "\"Interval\":\"10s\",\"Status\":\"passing\"}", &err), 0);
	ck_assert(wait_status("up", "passing", 5));
	snprintf(out, sizeof(out), "TCP connect 127.0.0.1:%d: Success", port);
	ck_assert_str_eq(output_of("up"), out);
	ck_assert(wait_status("down", "critical", 5));
	snprintf(out, sizeof(out), "dial tcp 127.0.0.1:%d: connect: connection "
	    "refused", closed);
	ck_assert_str_eq(output_of("down"), out);
	ck_assert(wait_status("bad", "critical", 5));
	ck_assert_str_eq(output_of("bad"),
	    "dial tcp: address 127.0.0.1: missing port in address");
	close(fd);
}
END_TEST

/* UDP: an ICMP port unreachable is critical, silence until the timeout
 * is passing (Consul's CheckUDP). */
START_TEST(udp_probe)
{
	int port, fd = listen_on(SOCK_DGRAM, &port), closed;
	char json[256];
	closed = closed_port(SOCK_DGRAM);
	snprintf(json, sizeof(json), "{\"Name\":\"quiet\",\"UDP\":"
	    "\"127.0.0.1:%d\",\"Interval\":\"10s\",\"Timeout\":\"200ms\"}", port);
	ck_assert_int_eq(reg_check(json, &err), 0);
	snprintf(json, sizeof(json), "{\"Name\":\"gone\",\"UDP\":"
	    "\"127.0.0.1:%d\",\"Interval\":\"10s\",\"Timeout\":\"2s\","
	    "\"Status\":\"passing\"}", closed);
	ck_assert_int_eq(reg_check(json, &err), 0);
	ck_assert(wait_status("quiet", "passing", 5));
	ck_assert(strstr(output_of("quiet"), ": Success") != NULL);
	ck_assert(wait_status("gone", "critical", 5));
	ck_assert(strstr(output_of("gone"), "read: connection refused") != NULL);
	close(fd);
}
END_TEST

/* ---- a small HTTP server in a child process ---- */

static void
serve_one(int c)
{
	char req[8192], body[12000];
	size_t n = 0;
	ssize_t r;
	const char *status = "200 OK", *extra = "";
	bool chunked = false;

	while (n < sizeof(req) - 1 && (r = read(c, req + n, sizeof(req) - 1 -
	    n)) > 0) {
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[n] = '\0';
	snprintf(body, sizeof(body), "fine");
	if (strncmp(req, "GET /busy ", 10) == 0)
		status = "429 Too Many Requests";
	else if (strncmp(req, "GET /down ", 10) == 0)
		status = "503 Service Unavailable";
	else if (strncmp(req, "GET /moved ", 11) == 0) {
		status = "302 Found";
		extra = "Location: /ok\r\n";
	} else if (strncmp(req, "GET /loop ", 10) == 0) {
		status = "302 Found";
		extra = "Location: /loop\r\n";
	} else if (strncmp(req, "GET /chunked ", 13) == 0)
		chunked = true;
	else if (strncmp(req, "GET /big ", 9) == 0) {
		memset(body, 'b', 9999);
		body[9999] = 'E';
		body[10000] = '\0';
	} else if (strncmp(req, "GET /echo ", 10) == 0 ||
	    strncmp(req, "POST /echo ", 11) == 0)
		snprintf(body, sizeof(body), "%s", req);
	if (chunked)
		dprintf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n");
	else
		dprintf(c, "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n%s",
		    status, extra, strlen(body), body);
	close(c);
}

static void
start_server(void)
{
	int fd = listen_on(SOCK_STREAM, &server_port);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0) {
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c >= 0)
				serve_one(c);
		}
	}
	close(fd);
}

static void
add_http(const char *id, const char *path, const char *extra)
{
	char json[512];
	snprintf(json, sizeof(json), "{\"Name\":\"%s\",\"HTTP\":"
	    "\"http://127.0.0.1:%d%s\",\"Interval\":\"10s\"%s}", id, server_port,
	    path, extra);
	ck_assert_int_eq(reg_check(json, &err), 0);
}

START_TEST(http_status_mapping)
{
	char out[256];
	start_server();
	add_http("ok", "/ok", "");
	add_http("busy", "/busy", "");
	add_http("down", "/down", ",\"Status\":\"passing\"");
	ck_assert(wait_status("ok", "passing", 5));
	snprintf(out, sizeof(out), "HTTP GET http://127.0.0.1:%d/ok: 200 OK "
	    "Output: fine", server_port);
	ck_assert_str_eq(output_of("ok"), out);
	ck_assert(wait_status("busy", "warning", 5));
	ck_assert(wait_status("down", "critical", 5));
	snprintf(out, sizeof(out), "HTTP GET http://127.0.0.1:%d/down: 503 "
	    "Service Unavailable Output: fine", server_port);
	ck_assert_str_eq(output_of("down"), out);
}
END_TEST

START_TEST(http_redirects_and_bodies)
{
	char out[256];
	start_server();
	add_http("moved", "/moved", "");
	add_http("stay", "/moved", ",\"DisableRedirects\":true,"
	    "\"Status\":\"passing\"");
	add_http("loop", "/loop", ",\"Status\":\"passing\"");
	add_http("chunked", "/chunked", "");
	add_http("big", "/big", "");
	ck_assert(wait_status("moved", "passing", 5));
	snprintf(out, sizeof(out), "HTTP GET http://127.0.0.1:%d/moved: 200 OK "
	    "Output: fine", server_port);
	ck_assert_str_eq(output_of("moved"), out);
	ck_assert(wait_status("stay", "critical", 5));
	ck_assert(strstr(output_of("stay"), ": 302 Found Output: ") != NULL);
	ck_assert(wait_status("loop", "critical", 5));
	snprintf(out, sizeof(out), "Get \"http://127.0.0.1:%d/loop\": stopped "
	    "after 10 redirects", server_port);
	ck_assert_str_eq(output_of("loop"), out);
	ck_assert(wait_status("chunked", "passing", 5));
	ck_assert(strstr(output_of("chunked"), "Output: hello, world") != NULL);
	ck_assert(wait_status("big", "passing", 5));
	const char *o = strstr(output_of("big"), "Output: ") + 8;
	ck_assert_uint_eq(strlen(o), 4096);	/* the last 4 KiB */
	ck_assert_int_eq(o[4095], 'E');
}
END_TEST

START_TEST(http_request_shape)
{
	start_server();
	add_http("echo", "/echo", ",\"Method\":\"POST\",\"Body\":\"ping\","
	    "\"Header\":{\"X-Test\":[\"a\",\"b\"],\"Host\":[\"example.test\"]}");
	ck_assert(wait_status("echo", "passing", 5));
	const char *o = output_of("echo");
	ck_assert(strstr(o, "HTTP POST http://127.0.0.1:") == o);
	ck_assert(strstr(o, "POST /echo HTTP/1.1\r\n") != NULL);
	ck_assert(strstr(o, "Host: example.test\r\n") != NULL);
	ck_assert(strstr(o, "User-Agent: Consul Health Check\r\n") != NULL);
	ck_assert(strstr(o, "Accept: text/plain, text/*, */*\r\n") != NULL);
	ck_assert(strstr(o, "X-Test: a\r\nX-Test: b\r\n") != NULL);
	ck_assert(strstr(o, "Content-Length: 4\r\n") != NULL);
	ck_assert(strstr(o, "Connection: close\r\n") != NULL);
}
END_TEST

START_TEST(http_errors)
{
	char json[256], out[256];
	int closed = closed_port(SOCK_STREAM);
	snprintf(json, sizeof(json), "{\"Name\":\"refused\",\"HTTP\":"
	    "\"http://127.0.0.1:%d/x\",\"Interval\":\"10s\",\"Status\":"
	    "\"passing\"}", closed);
	ck_assert_int_eq(reg_check(json, &err), 0);
	ck_assert_int_eq(reg_check("{\"Name\":\"scheme\",\"HTTP\":\"ftp://a/\","
	    "\"Interval\":\"10s\",\"Status\":\"passing\"}", &err), 0);
	ck_assert(wait_status("refused", "critical", 5));
	snprintf(out, sizeof(out), "Get \"http://127.0.0.1:%d/x\": dial tcp "
	    "127.0.0.1:%d: connect: connection refused", closed, closed);
	ck_assert_str_eq(output_of("refused"), out);
	ck_assert(wait_status("scheme", "critical", 5));
	ck_assert_str_eq(output_of("scheme"),
	    "Get \"ftp://a/\": unsupported protocol scheme \"ftp\"");
}
END_TEST

/* A server that accepts and never answers: the client timeout. */
START_TEST(http_timeout)
{
	int port, fd = listen_on(SOCK_STREAM, &port);
	char json[256], out[256];
	snprintf(json, sizeof(json), "{\"Name\":\"hang\",\"HTTP\":"
	    "\"http://127.0.0.1:%d/\",\"Interval\":\"10s\",\"Timeout\":\"200ms\","
	    "\"Status\":\"passing\"}", port);
	ck_assert_int_eq(reg_check(json, &err), 0);
	ck_assert(wait_status("hang", "critical", 5));
	snprintf(out, sizeof(out), "Get \"http://127.0.0.1:%d/\": context "
	    "deadline exceeded (Client.Timeout exceeded while awaiting headers)",
	    port);
	ck_assert_str_eq(output_of("hang"), out);
	close(fd);
}
END_TEST

START_TEST(alias_follows_service)
{
	ck_assert_int_eq(reg_service("{\"Name\":\"web\",\"Check\":{\"CheckID\":"
	    "\"web-ttl\",\"Name\":\"web ttl\",\"TTL\":\"1h\"}}", &err), 0);
	ck_assert_int_eq(reg_service("{\"Name\":\"proxy\",\"Check\":{\"CheckID\":"
	    "\"alias\",\"AliasService\":\"web\"}}", &err), 0);
	ck_assert_int_eq(reg_check("{\"Name\":\"lost\",\"AliasService\":"
	    "\"nope\",\"ServiceID\":\"proxy\"}", &err), 0);
	ck_assert(wait_status("alias", "critical", 3));
	ck_assert_str_eq(output_of("alias"),
	    "Aliased check \"web ttl\" failing: ");
	ck_assert_int_eq(chk_ttl_update(&T, "web-ttl", CHK_PASSING, "", &err), 0);
	ck_assert(wait_status("alias", "passing", 3));
	ck_assert_str_eq(output_of("alias"), "All checks passing.");
	ck_assert_int_eq(chk_ttl_update(&T, "web-ttl", CHK_WARNING, "hmm", &err),
	    0);
	ck_assert(wait_status("alias", "warning", 3));
	ck_assert(wait_status("lost", "critical", 3));
	ck_assert_str_eq(output_of("lost"),
	    "Service nope could not be found on node ");
}
END_TEST


/* ---- gRPC / H2PING against a small h2c server in a child ---- */

static void
h2_frame(int c, uint8_t type, uint8_t flags, uint32_t sid, const void *p,
    size_t n)
{
	uint8_t hd[9] = { (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
		type, flags, (uint8_t)(sid >> 24), (uint8_t)(sid >> 16),
		(uint8_t)(sid >> 8), (uint8_t)sid };
	if (write(c, hd, 9) != 9 || (n && write(c, p, n) != (ssize_t)n))
		_exit(1);
}

static bool
read_full(int c, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(c, p, n);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

/* Serve one connection: answer PINGs, and one Health/Check call whose
 * request names the service: "" or "up" SERVING, "down" NOT_SERVING,
 * anything else a trailers-only NotFound. */
static void
h2_serve_one(int c)
{
	uint8_t pre[24], hd[9], p[16384];
	char service[256] = "";
	h2_frame(c, 0x4, 0, 0, NULL, 0);
	if (!read_full(c, pre, sizeof(pre)))
		return;
	while (read_full(c, hd, 9)) {
		size_t n = (size_t)hd[0] << 16 | (size_t)hd[1] << 8 | hd[2];
		if (n > sizeof(p) || !read_full(c, p, n))
			return;
		if (hd[3] == 0x6 && !(hd[4] & 1))
			h2_frame(c, 0x6, 1, 0, p, n);	/* PING ACK */
		if (hd[3] != 0x0 || !(hd[4] & 1))
			continue;
		/* DATA with END_STREAM: the request; field 1 is the name */
		if (n > 7)
			snprintf(service, sizeof(service), "%.*s", (int)p[6],
			    (char *)p + 7);
		static const uint8_t head[] = { 0x88, 0x5f, 0x10,
			'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/',
			'g', 'r', 'p', 'c' };
		/* trailers: grpc-status (literal name) [+ grpc-message] */
		uint8_t tr[128];
		size_t tl = 0;
		int code = 0, st = 1;
		if (strcmp(service, "down") == 0)
			st = 2;
		else if (service[0] && strcmp(service, "up") != 0)
			code = 5;
		tr[tl++] = 0x00;
		tr[tl++] = 11;
		memcpy(tr + tl, "grpc-status", 11);
		tl += 11;
		tr[tl++] = 1;
		tr[tl++] = (uint8_t)('0' + code);
		if (code) {
			const char *m = "unknown%20service";
			tr[tl++] = 0x00;
			tr[tl++] = 12;
			memcpy(tr + tl, "grpc-message", 12);
			tl += 12;
			tr[tl++] = (uint8_t)strlen(m);
			memcpy(tr + tl, m, strlen(m));
			tl += strlen(m);
			uint8_t both[256];
			memcpy(both, head, sizeof(head));
			memcpy(both + sizeof(head), tr, tl);
			h2_frame(c, 0x1, 0x5, 1, both, sizeof(head) + tl);
			continue;
		}
		uint8_t msg[7] = { 0, 0, 0, 0, 2, 0x08, (uint8_t)st };
		h2_frame(c, 0x1, 0x4, 1, head, sizeof(head));
		h2_frame(c, 0x0, 0, 1, msg, sizeof(msg));
		h2_frame(c, 0x1, 0x5, 1, tr, tl);
	}
}

static void
start_h2_server(void)
{
	int fd = listen_on(SOCK_STREAM, &server_port);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0) {
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c >= 0) {
				h2_serve_one(c);
				close(c);
			}
		}
	}
	close(fd);
}

static void
add_grpc(const char *id, const char *svc)
{
	char json[256];
	snprintf(json, sizeof(json), "{\"Name\":\"%s\",\"GRPC\":"
	    "\"127.0.0.1:%d%s\",\"Interval\":\"10s\",\"Status\":\"warning\"}",
	    id, server_port, svc);
	ck_assert_int_eq(reg_check(json, &err), 0);
}

START_TEST(grpc_health)
{
	char out[256];
	start_h2_server();
	add_grpc("all", "");
	add_grpc("up", "/up");
	add_grpc("down", "/down");
	add_grpc("what", "/what");
	ck_assert(wait_status("all", "passing", 5));
	snprintf(out, sizeof(out), "gRPC check 127.0.0.1:%d: success",
	    server_port);
	ck_assert_str_eq(output_of("all"), out);
	ck_assert(wait_status("up", "passing", 5));
	ck_assert(wait_status("down", "critical", 5));
	snprintf(out, sizeof(out), "gRPC 127.0.0.1:%d/down serving status: "
	    "NOT_SERVING", server_port);
	ck_assert_str_eq(output_of("down"), out);
	ck_assert(wait_status("what", "critical", 5));
	ck_assert_str_eq(output_of("what"),
	    "rpc error: code = NotFound desc = unknown service");
}
END_TEST

START_TEST(h2ping)
{
	char json[256];
	int closed = closed_port(SOCK_STREAM);
	start_h2_server();
	snprintf(json, sizeof(json), "{\"Name\":\"p\",\"H2PING\":"
	    "\"127.0.0.1:%d\",\"H2PingUseTLS\":false,\"Interval\":\"10s\"}",
	    server_port);
	ck_assert_int_eq(reg_check(json, &err), 0);
	snprintf(json, sizeof(json), "{\"Name\":\"q\",\"H2PING\":"
	    "\"127.0.0.1:%d\",\"Interval\":\"10s\",\"Status\":\"passing\"}",
	    closed);
	ck_assert_int_eq(reg_check(json, &err), 0);
	ck_assert(wait_status("p", "passing", 5));
	ck_assert_str_eq(output_of("p"), "HTTP2 ping was successful");
	ck_assert(wait_status("q", "critical", 5));
	ck_assert(strstr(output_of("q"), "Failed to dial to 127.0.0.1:") ==
	    output_of("q"));
}
END_TEST

struct hfield {
	char text[512];
};

static void
collect(void *arg, const char *n, size_t nl, const char *v, size_t vl)
{
	struct hfield *f = arg;
	size_t at = strlen(f->text);
	snprintf(f->text + at, sizeof(f->text) - at, "%.*s=%.*s;", (int)nl, n,
	    (int)vl, v);
}

/* RFC 7541 C.4.1: a request with a Huffman-coded :authority. */
START_TEST(hpack_rfc_vectors)
{
	static const uint8_t block[] = { 0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1,
		0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4,
		0xff };
	struct hfield f = { "" };
	struct buf b;
	ck_assert_int_eq(chk_hpack_decode(block, sizeof(block), collect, &f), 0);
	ck_assert_str_eq(f.text, ":method=GET;:scheme=http;:path=/;"
	    ":authority=www.example.com;");
	/* a reference to the dynamic table, which the client keeps empty */
	static const uint8_t dyn[] = { 0xbe };
	ck_assert_int_lt(chk_hpack_decode(dyn, 1, collect, &f), 0);
	/* bad Huffman padding */
	static const uint8_t bad[] = { 0xf1, 0x00 };
	buf_init(&b);
	ck_assert_int_lt(chk_huffman_decode(bad, 2, &b), 0);
	buf_free(&b);
}
END_TEST


/* ---- alias of another node: a fake catalog ---- */

static struct {
	void (*cb)(void *, uint16_t, const void *, size_t, int);
	void *arg;
	unsigned what;
	uint64_t min_index;
	int calls, cancels;
	char name[64];
} fake;

static int64_t
fake_read(struct chk_state *st, unsigned what, const char *name,
    uint64_t min_index, uint64_t wait_ms,
    void (*cb)(void *, uint16_t, const void *, size_t, int), void *arg)
{
	fake.cb = cb;
	fake.arg = arg;
	fake.what = what;
	fake.min_index = min_index;
	snprintf(fake.name, sizeof(fake.name), "%s", name);
	return ++fake.calls;
}

static void
fake_cancel(struct chk_state *st, int64_t h)
{
	fake.cancels++;
}

/* Answer the pending read with these (node, service_id, name, status,
 * output) checks at index. */
static void
fake_answer(uint64_t index, const char *const (*rows)[5], size_t n)
{
	struct buf items[8], out;
	struct proto_str views[8];
	for (size_t i = 0; i < n; i++) {
		struct proto_cat_check c = { .node = proto_str_c(rows[i][0]),
			.service_id = proto_str_c(rows[i][1]),
			.name = proto_str_c(rows[i][2]),
			.status = proto_str_c(rows[i][3]),
			.output = proto_str_c(rows[i][4]) };
		buf_init(&items[i]);
		proto_enc_cat_check(&items[i], &c);
		views[i].p = (const char *)items[i].data;
		views[i].len = (uint32_t)items[i].len;
	}
	struct proto_cat_read rd = { .index = index,
		.items = { .n = (uint32_t)n, .strs = views } };
	buf_init(&out);
	proto_enc_cat_read(&out, &rd);
	void (*cb)(void *, uint16_t, const void *, size_t, int) = fake.cb;
	fake.cb = NULL;
	cb(fake.arg, PROTO_CAT_READ, out.data, out.len, 0);
	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		buf_free(&items[i]);
}

static bool
fake_called_6(void *arg)
{
	return fake.calls == 6;
}

START_TEST(alias_of_another_node)
{
	static const char *const bad[][5] = {
		{ "other", "", "Serf Health Status", "passing", "" },
		{ "other", "db", "db check", "critical", "down" },
	};
	static const char *const good[][5] = {
		{ "other", "", "Serf Health Status", "passing", "" },
		{ "other", "db", "db check", "passing", "" },
	};
	memset(&fake, 0, sizeof(fake));
	chk_teardown();
	chk_setup();
	T.catalog_read = fake_read;
	T.catalog_cancel = fake_cancel;
	ck_assert_int_eq(reg_check("{\"Name\":\"a\",\"AliasNode\":\"other\","
	    "\"AliasService\":\"db\",\"Status\":\"warning\"}", &err), 0);
	ck_assert_int_eq(fake.calls, 1);
	ck_assert_int_eq(fake.what, CAT_Q_HEALTH_NODE);
	ck_assert_str_eq(fake.name, "other");
	ck_assert_uint_eq(fake.min_index, 0);
	fake_answer(7, bad, 2);
	ck_assert_int_eq(status_of("a"), CHK_CRITICAL);
	ck_assert_str_eq(output_of("a"), "Aliased check \"db check\" failing: "
	    "down");
	ck_assert_int_eq(fake.calls, 2);	/* blocking on the index now */
	ck_assert_uint_eq(fake.min_index, 7);
	fake_answer(8, good, 2);
	ck_assert_int_eq(status_of("a"), CHK_PASSING);
	ck_assert_str_eq(output_of("a"), "All checks passing.");
	/* No check of the service: its existence decides. */
	fake_answer(9, good, 1);
	ck_assert_int_eq(fake.what, CAT_Q_NODE_SERVICES);
	fake_answer(9, NULL, 0);
	ck_assert_int_eq(status_of("a"), CHK_CRITICAL);
	ck_assert_str_eq(output_of("a"),
	    "Service db could not be found on node other");
	/* Transport failures: retried at once; the second in a row turns
	 * the check critical. */
	ck_assert_int_eq(fake.calls, 5);
	ck_assert_int_eq(chk_ttl_update(&T, "a", CHK_PASSING, "", &err),
	    -EIO);
	buf_reset(&err);
	fake.cb(fake.arg, 0, NULL, 0, -ETIMEDOUT);
	ck_assert_int_eq(status_of("a"), CHK_CRITICAL);
	ck_assert(run_until(fake_called_6, NULL, 3));
	fake.cb(fake.arg, 0, NULL, 0, -ETIMEDOUT);
	ck_assert_str_eq(output_of("a"), "Failure checking aliased node or "
	    "service: timed out waiting for the agent's store process");
	ck_assert_int_eq(chk_remove_check(&T, "a", true, &err), 0);
	ck_assert_int_eq(fake.cancels, 0);	/* retry timer, not a query */
}
END_TEST

Suite *
run_suite(void)
{
	Suite *s = suite_create("runners");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ttl_expires);
	tcase_add_test(tc, script_exit_codes);
	tcase_add_test(tc, script_timeout_kills_group);
	tcase_add_test(tc, script_output_capped);
	tcase_add_test(tc, tcp_probe);
	tcase_add_test(tc, udp_probe);
	tcase_add_test(tc, http_status_mapping);
	tcase_add_test(tc, http_redirects_and_bodies);
	tcase_add_test(tc, http_request_shape);
	tcase_add_test(tc, http_errors);
	tcase_add_test(tc, http_timeout);
	tcase_add_test(tc, alias_follows_service);
	tcase_add_test(tc, grpc_health);
	tcase_add_test(tc, h2ping);
	tcase_add_test(tc, hpack_rfc_vectors);
	tcase_add_test(tc, alias_of_another_node);
	suite_add_tcase(s, tc);
	return s;
}
