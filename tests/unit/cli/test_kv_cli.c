/*
 * muster kv against a fake agent (fixture.c): what a user sees (stdout,
 * stderr, exit code) and what reached the agent (request line, body,
 * headers), for every consul kv subcommand and its argument checks;
 * then the Go library behaviour the commands reproduce, against tables
 * recorded from Go 1.19's standard library.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "fixture.h"
#include "lib/base64.h"
#include "lib/util.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_kv.h"

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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/muster-kvcli-test-XXXXXX");
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
	size_t outlen;
	char out[16384];
	char err[16384];
};

static size_t
slurp(int fd, char *out, size_t len)
{
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return n > 0 ? (size_t)n : 0;
}

/*
 * Run `muster args...` in this process with stdin holding in[0..inlen),
 * capturing stdout and stderr.
 */
static void
run_in(struct run *r, const char *in, size_t inlen, ...)
{
	char *argv[32];
	int argc = 0, i, o, e, so, se, si;
	va_list ap;

	argv[argc++] = (char *)"muster";
	va_start(ap, inlen);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	i = memfd_create("in", MFD_CLOEXEC);
	ck_assert_int_eq(write(i, in, inlen), (ssize_t)inlen);
	lseek(i, 0, SEEK_SET);
	o = memfd_create("out", MFD_CLOEXEC);
	e = memfd_create("err", MFD_CLOEXEC);
	si = dup(0);
	so = dup(1);
	se = dup(2);
	dup2(i, 0);
	dup2(o, 1);
	dup2(e, 2);
	r->rc = cli_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(si, 0);
	dup2(so, 1);
	dup2(se, 2);
	close(si);
	close(so);
	close(se);
	close(i);
	r->outlen = slurp(o, r->out, sizeof(r->out));
	slurp(e, r->err, sizeof(r->err));
}

#define RUN(r, ...) run_in((r), "", 0, __VA_ARGS__, (char *)NULL)
#define RUN_IN(r, in, ...) \
	run_in((r), (in), sizeof(in) - 1, __VA_ARGS__, (char *)NULL)

static bool
starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The request line of the agent's last request, without " HTTP/1.1". */
static const char *
req_line(const struct fx *f)
{
	static char line[1024];
	size_t n = strcspn(f->rec->head, "\r");

	snprintf(line, sizeof(line), "%.*s", (int)n, f->rec->head);
	if (n > 9 && strcmp(line + n - 9, " HTTP/1.1") == 0)
		line[n - 9] = '\0';
	return line;
}

/* A TCP port on 127.0.0.1 with nothing listening. */
static int
closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static void
start(struct fx *f, const struct fx_route *routes, size_t n)
{
	fx_start(f, routes, n, NULL, NULL);
	setenv("MUSTER_HTTP_ADDR", f->addr, 1);
}

/* kv get ------------------------------------------------------------- */

static const struct fx_route get_routes[] = {
	{ "GET", "/v1/kv/app/db", 200,
	    "[{\"LockIndex\":0,\"Key\":\"app/db\",\"Flags\":42,"
	    "\"Value\":\"cG9zdGdyZXM=\",\"CreateIndex\":12,"
	    "\"ModifyIndex\":15}]", FX_LENGTH },
	{ "GET", "/v1/kv/app/empty", 200,
	    "[{\"LockIndex\":0,\"Key\":\"app/empty\",\"Flags\":0,"
	    "\"Value\":null,\"CreateIndex\":3,\"ModifyIndex\":3}]",
	    FX_LENGTH },
	{ "GET", "/v1/kv/app/lock", 200,
	    "[{\"LockIndex\":2,\"Key\":\"app/lock\",\"Flags\":0,"
	    "\"Value\":\"AQL/\",\"Session\":\"adf4238a-882b-9ddc-4a9d-"
	    "5b6758e4159e\",\"CreateIndex\":4,\"ModifyIndex\":9}]",
	    FX_LENGTH },
	{ "GET", "/v1/kv/app/?recurse", 200,
	    "[{\"LockIndex\":0,\"Key\":\"app/db\",\"Flags\":0,"
	    "\"Value\":\"cG9zdGdyZXM=\",\"CreateIndex\":12,"
	    "\"ModifyIndex\":15},"
	    "{\"LockIndex\":0,\"Key\":\"app/multi\",\"Flags\":7,"
	    "\"Value\":\"YQpi\",\"CreateIndex\":20,\"ModifyIndex\":21}]",
	    FX_LENGTH },
	{ "GET", "/v1/kv/app/?keys&separator=%2F", 200,
	    "[\"app/db\",\"app/sub/\"]", FX_LENGTH },
	{ "GET", "/v1/kv/app/?keys&separator=-", 200, "[\"app/db-\"]",
	    FX_LENGTH },
	{ "GET", "/v1/kv/app/?keys", 200,
	    "[\"app/db\",\"app/sub/x\"]", FX_LENGTH },
	{ "GET", "/v1/kv/?recurse", 404, "", FX_LENGTH },
	{ "GET", "/v1/kv/broken", 500, "  rpc error: no leader\n",
	    FX_LENGTH },
	{ "GET", "/v1/kv/badb64", 200, "[{\"Key\":\"badb64\","
	    "\"Value\":\"QQ=x\"}]", FX_LENGTH },
	{ "GET", "/v1/kv/app/db?dc=dc2&stale", 200, "[{\"Key\":\"app/db\","
	    "\"Value\":\"c3RhbGU=\"}]", FX_LENGTH },
	{ "GET", "/v1/kv/we%20ird%3Fkey%23", 200, "[{\"Key\":\"we ird?key#\","
	    "\"Value\":\"eA==\"}]", FX_LENGTH },
};

START_TEST(get_value)
{
	struct fx f;
	struct run r;

	start(&f, get_routes, nitems(get_routes));
	RUN(&r, "kv", "get", "app/db");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "postgres\n");
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(req_line(&f), "GET /v1/kv/app/db");
	/* One leading slash is the user's habit, not part of the key. */
	RUN(&r, "kv", "get", "/app/db");
	ck_assert_str_eq(r.out, "postgres\n");
	RUN(&r, "kv", "get", "-base64", "app/db");
	ck_assert_str_eq(r.out, "cG9zdGdyZXM=\n");
	/* An empty value prints an empty line, exit 0. */
	RUN(&r, "kv", "get", "app/empty");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "\n");
	/* Binary values are written as they are. */
	RUN(&r, "kv", "get", "app/lock");
	ck_assert_uint_eq(r.outlen, 4);
	ck_assert(memcmp(r.out, "\001\002\377\n", 4) == 0);
	/* Keys are percent-encoded in the path. */
	RUN(&r, "kv", "get", "we ird?key#");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "x\n");
	/* -datacenter and -stale reach the agent on reads. */
	RUN(&r, "kv", "get", "-datacenter=dc2", "-stale", "app/db");
	ck_assert_str_eq(r.out, "stale\n");
	ck_assert_str_eq(req_line(&f), "GET /v1/kv/app/db?dc=dc2&stale");
	fx_stop(&f);
}
END_TEST

START_TEST(get_errors)
{
	struct fx f;
	struct run r;

	start(&f, get_routes, nitems(get_routes));
	RUN(&r, "kv", "get", "missing/key");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "Error! No key exists at: missing/key\n");
	RUN(&r, "kv", "get", "broken");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error querying agent: Unexpected response "
	    "code: 500 (rpc error: no leader)\n");
	RUN(&r, "kv", "get", "badb64");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error querying agent: illegal base64 data "
	    "at input byte 2\n");
	ck_assert_int_eq(f.rec->nreq, 3);

	/* Argument checks happen before any request. */
	RUN(&r, "kv", "get");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Missing KEY argument\n");
	RUN(&r, "kv", "get", "/");
	ck_assert_str_eq(r.err, "Error! Missing KEY argument\n");
	RUN(&r, "kv", "get", "a", "b");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Too many arguments (expected 1, got 2)\n");
	RUN(&r, "kv", "get", "-nope", "a");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(starts(r.err, "flag provided but not defined: -nope\n"
	    "Usage: muster kv get [options] [KEY_OR_PREFIX]\n"));
	ck_assert_int_eq(f.rec->nreq, 3);
	fx_stop(&f);
}
END_TEST

START_TEST(get_detailed)
{
	struct fx f;
	struct run r;

	start(&f, get_routes, nitems(get_routes));
	RUN(&r, "kv", "get", "-detailed", "app/db");
	ck_assert_int_eq(r.rc, 0);
	/* text/tabwriter: the widest name (11) plus 6 spaces of padding. */
	ck_assert_str_eq(r.out,
	    "CreateIndex      12\n"
	    "Flags            42\n"
	    "Key              app/db\n"
	    "LockIndex        0\n"
	    "ModifyIndex      15\n"
	    "Session          -\n"
	    "Value            postgres\n");
	RUN(&r, "kv", "get", "-detailed", "-base64", "app/lock");
	ck_assert_str_eq(r.out,
	    "CreateIndex      4\n"
	    "Flags            0\n"
	    "Key              app/lock\n"
	    "LockIndex        2\n"
	    "ModifyIndex      9\n"
	    "Session          adf4238a-882b-9ddc-4a9d-5b6758e4159e\n"
	    "Value            AQL/\n");
	/* An empty value ends the column block: "Value", no padding. */
	RUN(&r, "kv", "get", "-detailed", "app/empty");
	ck_assert_str_eq(r.out,
	    "CreateIndex      3\n"
	    "Flags            0\n"
	    "Key              app/empty\n"
	    "LockIndex        0\n"
	    "ModifyIndex      3\n"
	    "Session          -\n"
	    "Value\n");
	fx_stop(&f);
}
END_TEST

START_TEST(get_recurse_and_keys)
{
	struct fx f;
	struct run r;

	start(&f, get_routes, nitems(get_routes));
	RUN(&r, "kv", "get", "-recurse", "app/");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "GET /v1/kv/app/?recurse");
	ck_assert_str_eq(r.out, "app/db:postgres\napp/multi:a\nb\n");
	RUN(&r, "kv", "get", "-recurse", "-base64", "app/");
	ck_assert_str_eq(r.out, "app/db:cG9zdGdyZXM=\napp/multi:YQpi\n");
	/* One table per pair, an empty line between them. */
	RUN(&r, "kv", "get", "-recurse", "-detailed", "app/");
	ck_assert_str_eq(r.out,
	    "CreateIndex      12\nFlags            0\n"
	    "Key              app/db\nLockIndex        0\n"
	    "ModifyIndex      15\nSession          -\n"
	    "Value            postgres\n"
	    "\n"
	    "CreateIndex      20\nFlags            7\n"
	    "Key              app/multi\nLockIndex        0\n"
	    "ModifyIndex      21\nSession          -\n"
	    "Value            a\nb\n");
	/* Nothing under the prefix: no output, success. */
	RUN(&r, "kv", "get", "-recurse");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(req_line(&f), "GET /v1/kv/?recurse");

	RUN(&r, "kv", "get", "-keys", "app/");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "GET /v1/kv/app/?keys&separator=%2F");
	ck_assert_str_eq(r.out, "app/db\napp/sub/\n");
	RUN(&r, "kv", "get", "-keys", "-separator=-", "app/");
	ck_assert_str_eq(r.out, "app/db-\n");
	RUN(&r, "kv", "get", "-keys", "-separator=", "app/");
	ck_assert_str_eq(req_line(&f), "GET /v1/kv/app/?keys");
	ck_assert_str_eq(r.out, "app/db\napp/sub/x\n");
	/* -keys with -recurse: every key, from the recursive read. */
	RUN(&r, "kv", "get", "-keys", "-recurse", "app/");
	ck_assert_str_eq(req_line(&f), "GET /v1/kv/app/?recurse");
	ck_assert_str_eq(r.out, "app/db\napp/multi\n");
	RUN(&r, "kv", "get", "-keys", "-recurse", "-detailed", "app/");
	ck_assert_str_eq(r.out,
	    "CreateIndex      12\nFlags            0\n"
	    "Key              app/db\nLockIndex        0\n"
	    "ModifyIndex      15\nSession          -\n\n"
	    "\n"
	    "CreateIndex      20\nFlags            7\n"
	    "Key              app/multi\nLockIndex        0\n"
	    "ModifyIndex      21\nSession          -\n\n");
	fx_stop(&f);
}
END_TEST

/* kv put ------------------------------------------------------------- */

static const struct fx_route put_routes[] = {
	{ "PUT", "/v1/kv/app/db", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/app/db?flags=42", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/app/db?dc=dc2", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/app/db?cas=15", 200, "false", FX_LENGTH },
	{ "PUT", "/v1/kv/app/db?cas=16&flags=1", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/app/db?cas=0", 200, "false", FX_LENGTH },
	{ "PUT", "/v1/kv/new?cas=0", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/lk?acquire=s1&flags=3", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/lk?acquire=s2", 200, "false", FX_LENGTH },
	{ "PUT", "/v1/kv/lk?release=s1", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/lk?release=s2", 200, "false", FX_LENGTH },
	{ "PUT", "/v1/kv/rel?release=s1", 500, "boom", FX_LENGTH },
	/* Put ignores the answer's true/false, as the Go client's Put. */
	{ "PUT", "/v1/kv/ignored", 200, "false", FX_LENGTH },
	{ "PUT", "/v1/kv/big", 413, "Request body(600000 bytes) too large, "
	    "max size: 524288 bytes.", FX_LENGTH },
};

START_TEST(put_writes)
{
	struct fx f;
	struct run r;
	char v[256], path[128];
	FILE *fp;

	start(&f, put_routes, nitems(put_routes));
	RUN(&r, "kv", "put", "app/db", "postgres");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Success! Data written to: app/db\n");
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(req_line(&f), "PUT /v1/kv/app/db");
	ck_assert_str_eq(f.rec->body, "postgres");
	ck_assert_str_eq(fx_header(&f, "Content-Type", v, sizeof(v)),
	    "application/octet-stream");
	/* No DATA, or an empty one: an empty value. */
	RUN(&r, "kv", "put", "app/db");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(fx_header(&f, "Content-Length", v, sizeof(v)), "0");
	RUN(&r, "kv", "put", "app/db", "");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(fx_header(&f, "Content-Length", v, sizeof(v)), "0");
	RUN(&r, "kv", "put", "-flags=42", "app/db", "x");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "PUT /v1/kv/app/db?flags=42");
	/* Stdin, a file, and "-x" which is data, not stdin. */
	RUN_IN(&r, "from\nstdin\n", "kv", "put", "app/db", "-");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(f.rec->body, "from\nstdin\n");
	snprintf(path, sizeof(path), "%s/value", tmpdir);
	ck_assert((fp = fopen(path, "w")) != NULL);
	fputs("file \001\377 bytes", fp);
	fclose(fp);
	snprintf(v, sizeof(v), "@%s", path);
	RUN(&r, "kv", "put", "app/db", v);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(f.rec->body, "file \001\377 bytes");
	RUN(&r, "kv", "put", "app/db", "-x");
	ck_assert_str_eq(f.rec->body, "-x");
	RUN(&r, "kv", "put", "-base64", "app/db", "AQL/");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(f.rec->body, "\001\002\377");
	RUN_IN(&r, "cG9zdGdy\nZXM=\n", "kv", "put", "-base64", "app/db", "-");
	ck_assert_str_eq(f.rec->body, "postgres");
	/* -stale is for reads; -datacenter goes everywhere. */
	RUN(&r, "kv", "put", "-stale", "-datacenter=dc2", "app/db", "x");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "PUT /v1/kv/app/db?dc=dc2");
	RUN(&r, "kv", "put", "ignored", "x");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Success! Data written to: ignored\n");
	RUN(&r, "kv", "put", "big", "x");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "Error! Failed writing data: Unexpected "
	    "response code: 413 (Request body(600000 bytes) too large, max "
	    "size: 524288 bytes.)\n");
	fx_stop(&f);
}
END_TEST

START_TEST(put_cas_and_locks)
{
	struct fx f;
	struct run r;

	start(&f, put_routes, nitems(put_routes));
	RUN(&r, "kv", "put", "-cas", "-modify-index=15", "app/db", "x");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "Error! Did not write to app/db: CAS "
	    "failed\n");
	RUN(&r, "kv", "put", "-cas", "-modify-index", "16", "-flags=1",
	    "app/db", "x");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "PUT /v1/kv/app/db?cas=16&flags=1");
	ck_assert_str_eq(r.out, "Success! Data written to: app/db\n");
	/* Index 0: create only. */
	RUN(&r, "kv", "put", "-cas", "app/db", "x");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Did not write to app/db: CAS "
	    "performed with index=0 and key already exists.\n");
	RUN(&r, "kv", "put", "-cas", "new", "x");
	ck_assert_int_eq(r.rc, 0);

	RUN(&r, "kv", "put", "-acquire", "-session=s1", "-flags=3", "lk",
	    "v");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "PUT /v1/kv/lk?acquire=s1&flags=3");
	ck_assert_str_eq(r.out, "Success! Lock acquired on: lk\n");
	RUN(&r, "kv", "put", "-acquire", "-session=s2", "lk");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Did not acquire lock\n");
	RUN(&r, "kv", "put", "-release", "-session=s1", "lk");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Success! Lock released on: lk\n");
	RUN(&r, "kv", "put", "-release", "-session=s2", "lk");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Did not release lock\n");
	/* consul names the key, not the reason, when a release fails. */
	RUN(&r, "kv", "put", "-release", "-session=s1", "rel");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Failed writing data: rel\n");
	fx_stop(&f);
}
END_TEST

START_TEST(put_argument_errors)
{
	struct fx f;
	struct run r;
	char want[256];

	start(&f, put_routes, nitems(put_routes));
	RUN(&r, "kv", "put");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Missing KEY argument\n");
	RUN(&r, "kv", "put", "a", "b", "c");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Too many arguments (expected 1 or 2, "
	    "got 3)\n");
	RUN(&r, "kv", "put", "a", "@/nonexistent/file");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Failed to read file: open "
	    "/nonexistent/file: no such file or directory\n");
	snprintf(want, sizeof(want), "@%s", tmpdir);
	RUN(&r, "kv", "put", "a", want);
	ck_assert_int_eq(r.rc, 1);
	snprintf(want, sizeof(want), "Error! Failed to read file: read %s: "
	    "is a directory\n", tmpdir);
	ck_assert_str_eq(r.err, want);
	RUN(&r, "kv", "put", "-base64", "a", "QQ=x");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Cannot base 64 decode data: illegal "
	    "base64 data at input byte 2\n");
	RUN(&r, "kv", "put", "-acquire", "a", "b");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Missing -session (required with "
	    "-acquire and -release)\n");
	RUN(&r, "kv", "put", "-release", "-session=", "a");
	ck_assert_int_eq(r.rc, 1);
	RUN(&r, "kv", "put", "-flags=-1", "a");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(starts(r.err, "invalid value \"-1\" for flag -flags: "
	    "parse error\nUsage: muster kv put "));
	/* The Go client refuses a key starting with '/' itself. */
	RUN(&r, "kv", "put", "/abs", "x");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Failed writing data: Invalid key. "
	    "Key must not begin with a '/': /abs\n");
	RUN(&r, "kv", "put", "-cas", "-modify-index=3", "/abs", "x");
	ck_assert_str_eq(r.err, "Error! Did not write to /abs: Invalid key. "
	    "Key must not begin with a '/': /abs\n");
	ck_assert_int_eq(f.rec->nreq, 0);
	fx_stop(&f);
}
END_TEST

/* kv delete ----------------------------------------------------------- */

static const struct fx_route delete_routes[] = {
	{ "DELETE", "/v1/kv/app/db", 200, "true", FX_LENGTH },
	{ "DELETE", "/v1/kv/app/?recurse", 200, "true", FX_LENGTH },
	{ "DELETE", "/v1/kv/?recurse", 200, "true", FX_LENGTH },
	{ "DELETE", "/v1/kv/app/db?cas=15", 200, "false", FX_LENGTH },
	{ "DELETE", "/v1/kv/app/db?cas=16", 200, "true", FX_LENGTH },
	{ "DELETE", "/v1/kv/broken", 500, "rpc error\n", FX_LENGTH },
	{ "DELETE", "/v1/kv/broken?recurse", 500, "rpc error\n", FX_LENGTH },
	{ "DELETE", "/v1/kv/broken?cas=1", 500, "rpc error\n", FX_LENGTH },
};

START_TEST(delete_forms)
{
	struct fx f;
	struct run r;

	start(&f, delete_routes, nitems(delete_routes));
	RUN(&r, "kv", "delete", "/app/db");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "DELETE /v1/kv/app/db");
	ck_assert_str_eq(r.out, "Success! Deleted key: app/db\n");
	RUN(&r, "kv", "delete", "-recurse", "app/");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Success! Deleted keys with prefix: app/\n");
	RUN(&r, "kv", "delete", "-recurse");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "DELETE /v1/kv/?recurse");
	ck_assert_str_eq(r.out, "Success! Deleted keys with prefix: \n");
	RUN(&r, "kv", "delete", "-cas", "-modify-index=15", "app/db");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "Error! Did not delete key app/db: CAS "
	    "failed\n");
	RUN(&r, "kv", "delete", "-cas", "-modify-index=16", "app/db");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Success! Deleted key: app/db\n");
	RUN(&r, "kv", "delete", "-stale", "broken");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(req_line(&f), "DELETE /v1/kv/broken");
	ck_assert_str_eq(r.err, "Error deleting key broken: Unexpected "
	    "response code: 500 (rpc error)\n");
	RUN(&r, "kv", "delete", "-recurse", "broken");
	ck_assert_str_eq(r.err, "Error! Did not delete prefix broken: "
	    "Unexpected response code: 500 (rpc error)\n");
	RUN(&r, "kv", "delete", "-cas", "-modify-index=1", "broken");
	ck_assert_str_eq(r.err, "Error! Did not delete key broken: "
	    "Unexpected response code: 500 (rpc error)\n");
	ck_assert_int_eq(f.rec->nreq, 8);

	RUN(&r, "kv", "delete");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Missing KEY argument\n");
	RUN(&r, "kv", "delete", "a", "b");
	ck_assert_str_eq(r.err, "Too many arguments (expected 1, got 2)\n");
	RUN(&r, "kv", "delete", "-cas", "a");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Cannot delete a key that does not exist. "
	    "Provide a -modify-index greater than than 0.\n");
	RUN(&r, "kv", "delete", "-modify-index=4", "a");
	ck_assert_str_eq(r.err, "Cannot specify -modify-index without "
	    "-cas!\n");
	RUN(&r, "kv", "delete", "-recurse", "-cas", "-modify-index=4", "a");
	ck_assert_str_eq(r.err, "Cannot specify both -cas and -recurse!\n");
	ck_assert_int_eq(f.rec->nreq, 8);
	fx_stop(&f);
}
END_TEST

/* kv export / import --------------------------------------------------- */

static const struct fx_route export_routes[] = {
	{ "GET", "/v1/kv/app?recurse", 200,
	    "[{\"LockIndex\":0,\"Key\":\"app/db\",\"Flags\":42,"
	    "\"Value\":\"cG9zdGdyZXM=\",\"CreateIndex\":12,"
	    "\"ModifyIndex\":15},"
	    "{\"Key\":\"app/<&>\\\"\\n\\u2028\",\"Flags\":0,"
	    "\"Value\":null,\"CreateIndex\":3,\"ModifyIndex\":3}]",
	    FX_LENGTH },
	{ "GET", "/v1/kv/none?recurse", 404, "", FX_LENGTH },
	{ "GET", "/v1/kv/?recurse", 500, "no leader", FX_LENGTH },
};

START_TEST(export_format)
{
	struct fx f;
	struct run r;

	start(&f, export_routes, nitems(export_routes));
	RUN(&r, "kv", "export", "/app");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(req_line(&f), "GET /v1/kv/app?recurse");
	/* json.MarshalIndent(entries, "", "\t"), HTML characters escaped. */
	ck_assert_str_eq(r.out,
	    "[\n"
	    "\t{\n"
	    "\t\t\"key\": \"app/db\",\n"
	    "\t\t\"flags\": 42,\n"
	    "\t\t\"value\": \"cG9zdGdyZXM=\"\n"
	    "\t},\n"
	    "\t{\n"
	    "\t\t\"key\": \"app/\\u003c\\u0026\\u003e\\\"\\n\\u2028\",\n"
	    "\t\t\"flags\": 0,\n"
	    "\t\t\"value\": \"\"\n"
	    "\t}\n"
	    "]\n");
	RUN(&r, "kv", "export", "none");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "[]\n");
	RUN(&r, "kv", "export");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "Error querying agent: Unexpected response "
	    "code: 500 (no leader)\n");
	RUN(&r, "kv", "export", "a", "b");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Too many arguments (expected 1, got 2)\n");
	fx_stop(&f);
}
END_TEST

static const struct fx_route import_routes[] = {
	{ "PUT", "/v1/kv/app/db?flags=42", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/app/empty", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/app/dir/", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/new/app/db?flags=42", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/new/x", 200, "true", FX_LENGTH },
	{ "PUT", "/v1/kv/new/dir/", 200, "true", FX_LENGTH },
};

static const char import_doc[] =
    "[{\"key\": \"app/db\", \"flags\": 42, \"value\": \"cG9zdGdyZXM=\"},"
    " {\"Key\": \"app//empty\", \"Value\": null, \"other\": [1]},"
    " {\"KEY\": \"app/dir/\", \"value\": \"\"}]";

START_TEST(import_writes)
{
	struct fx f;
	struct run r;
	char path[128], arg[160];
	FILE *fp;

	start(&f, import_routes, nitems(import_routes));
	RUN(&r, "kv", "import", import_doc);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.err, "");
	/* Keys pass through path.Join; a trailing '/' is kept. */
	ck_assert_str_eq(r.out, "Imported: app/db\nImported: app/empty\n"
	    "Imported: app/dir/\n");
	ck_assert_int_eq(f.rec->nreq, 3);
	ck_assert_str_eq(req_line(&f), "PUT /v1/kv/app/dir/");

	RUN_IN(&r, "[{\"key\":\"app/db\",\"flags\":42,"
	    "\"value\":\"cG9zdGdyZXM=\"}]",
	    "kv", "import", "-");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Imported: app/db\n");
	ck_assert_str_eq(f.rec->body, "postgres");

	snprintf(path, sizeof(path), "%s/dump.json", tmpdir);
	ck_assert((fp = fopen(path, "w")) != NULL);
	fputs("[{\"key\":\"app/db\",\"flags\":42,\"value\":\"cG9zdGdyZXM=\"},"
	    "{\"key\":\"a/.././x\",\"value\":\"eA==\"},"
	    "{\"key\":\"dir/\",\"value\":\"\"}]\n", fp);
	fclose(fp);
	snprintf(arg, sizeof(arg), "@%s", path);
	RUN(&r, "kv", "import", "-prefix=new/", arg);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "Imported: new/app/db\nImported: new/x\n"
	    "Imported: new/dir/\n");
	/* null and an empty array import nothing. */
	RUN(&r, "kv", "import", "null");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.out, "");
	RUN(&r, "kv", "import", " [ ] ");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(f.rec->nreq, 7);
	fx_stop(&f);
}
END_TEST

START_TEST(import_errors)
{
	struct fx f;
	struct run r;

	start(&f, import_routes, nitems(import_routes));
	RUN(&r, "kv", "import");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.err, "Error! Missing DATA argument\n");
	RUN(&r, "kv", "import", "");
	ck_assert_str_eq(r.err, "Error! Empty DATA argument\n");
	RUN(&r, "kv", "import", "a", "b");
	ck_assert_str_eq(r.err, "Error! Too many arguments (expected 1, got "
	    "2)\n");
	RUN(&r, "kv", "import", "@/nonexistent");
	ck_assert_str_eq(r.err, "Error! Failed to read file: open "
	    "/nonexistent: no such file or directory\n");
	/* A malformed document writes nothing, whatever comes first. */
	RUN(&r, "kv", "import", "[{\"key\":\"app/db\",\"flags\":42,"
	    "\"value\":\"cG9zdGdyZXM=\"},{\"key\":\"k\",\"flags\":-1}]");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, "Cannot unmarshal data: json: cannot "
	    "unmarshal number -1 into Go struct field Entry.flags of type "
	    "uint64\n");
	RUN(&r, "kv", "import", "[{\"key\":5}]");
	ck_assert_str_eq(r.err, "Cannot unmarshal data: json: cannot "
	    "unmarshal number into Go struct field Entry.key of type "
	    "string\n");
	RUN(&r, "kv", "import", "[{\"key\":\"a\",\"flags\":\"1\"}]");
	ck_assert_str_eq(r.err, "Cannot unmarshal data: json: cannot "
	    "unmarshal string into Go struct field Entry.flags of type "
	    "uint64\n");
	RUN(&r, "kv", "import", "{\"key\":\"a\"}");
	ck_assert_str_eq(r.err, "Cannot unmarshal data: json: cannot "
	    "unmarshal object into Go value of type []*impexp.Entry\n");
	RUN(&r, "kv", "import", "[\"a\"]");
	ck_assert_str_eq(r.err, "Cannot unmarshal data: json: cannot "
	    "unmarshal string into Go value of type impexp.Entry\n");
	RUN(&r, "kv", "import", "   ");
	ck_assert_str_eq(r.err, "Cannot unmarshal data: unexpected end of "
	    "JSON input\n");
	RUN(&r, "kv", "import", "[{\"key\":");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(starts(r.err, "Cannot unmarshal data: "));
	ck_assert_int_eq(f.rec->nreq, 0);

	/* Entries before a bad one are written, as consul does. */
	RUN(&r, "kv", "import", "[{\"key\":\"app/empty\"},"
	    "{\"key\":\"bad\",\"value\":\"QQ=x\"}]");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "Imported: app/empty\n");
	ck_assert_str_eq(r.err, "Error base 64 decoding value for key bad: "
	    "illegal base64 data at input byte 2\n");
	ck_assert_int_eq(f.rec->nreq, 1);
	RUN(&r, "kv", "import", "[{\"key\":\"app/empty\"},{\"key\":\"nope\"}]");
	ck_assert_int_eq(r.rc, 1);
	ck_assert_str_eq(r.out, "Imported: app/empty\n");
	ck_assert_str_eq(r.err, "Error! Failed writing data for key nope: "
	    "Unexpected response code: 404 (not found)\n");
	RUN(&r, "kv", "import", "[{\"key\":\"/abs\"}]");
	ck_assert_str_eq(r.err, "Error! Failed writing data for key /abs: "
	    "Invalid key. Key must not begin with a '/': /abs\n");
	ck_assert_int_eq(f.rec->nreq, 3);
	fx_stop(&f);
}
END_TEST

/* Dispatch, help, an agent that is not there ------------------------- */

START_TEST(dispatch_and_help)
{
	struct run r;
	char addr[64], want[256];
	int port;

	RUN(&r, "kv");
	ck_assert_int_eq(r.rc, 1);
	ck_assert(starts(r.out, "Usage: muster kv <subcommand> [options] "
	    "[args]\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "\n\nSubcommands:\n"
	    "    delete    Removes data from the KV store\n"
	    "    export    Exports a tree from the KV store as JSON\n"
	    "    get       Retrieves or lists data from the KV store\n"
	    "    import    Imports a tree stored as JSON to the KV store\n"
	    "    put       Sets or updates data in the KV store\n"));
	RUN(&r, "kv", "-h");
	ck_assert_int_eq(r.rc, 0);
	RUN(&r, "kv", "frobnicate");
	ck_assert_int_eq(r.rc, 1);
	RUN(&r, "kv", "put", "-h");
	ck_assert_int_eq(r.rc, 0);
	ck_assert(starts(r.out, "Usage: muster kv put [options] KEY "
	    "[DATA]\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "\n  -modify-index=<uint>\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "\n  -stale\n"));
	RUN(&r, "kv", "import", "--help");
	ck_assert_int_eq(r.rc, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\n  -prefix=<string>\n"));
	RUN(&r, "-h");
	const char *kv = strstr(r.out, "\n    kv ");
	ck_assert_ptr_nonnull(kv);
	ck_assert_ptr_eq(strstr(kv, "Interact with the key-value store\n"),
	    kv + 8 + strspn(kv + 8, " "));

	/* Nothing listening: Go's error, with the method and URL. */
	port = closed_port();
	snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", port);
	setenv("MUSTER_HTTP_ADDR", addr, 1);
	RUN(&r, "kv", "get", "k");
	ck_assert_int_eq(r.rc, 1);
	snprintf(want, sizeof(want), "Error querying agent: Get "
	    "\"%s/v1/kv/k\": dial tcp 127.0.0.1:%d: connect: connection "
	    "refused\n", addr, port);
	ck_assert_str_eq(r.err, want);
	RUN(&r, "kv", "put", "k", "v");
	ck_assert_int_eq(r.rc, 1);
	snprintf(want, sizeof(want), "Error! Failed writing data: Put "
	    "\"%s/v1/kv/k\": dial tcp 127.0.0.1:%d: connect: connection "
	    "refused\n", addr, port);
	ck_assert_str_eq(r.err, want);
}
END_TEST

/* Go's behaviour, recorded from Go -------------------------------------- */

#define S(x) x, sizeof(x) - 1

struct kv_oracle {
	const char *in;
	size_t inlen;
	const char *want;
	size_t wantlen;
};

struct kv_join_oracle {
	const char *in, *with_prefix, *alone;
};

/* Go 1.19 text/tabwriter.NewWriter(w, 0, 2, 6, ' ', 0), Write, Flush. */
static const struct kv_oracle tab_cases[] = {
	{ S("CreateIndex\t5\nFlags\t0\nKey\tk\nLockIndex\t0\nModifyIn"
	    "dex\t5\nSession\t-\nValue\t"),
	    S("CreateIndex      5\nFlags            0\nKey             "
	    " k\nLockIndex        0\nModifyIndex      5\nSession     "
	    "     -\nValue") },
	{ S("Key\tk\nValue\tv\tw\nx\ty"),
	    S("Key        k\nValue      v      w\nx          y") },
	{ S("a\tb\377\tc\n\377d\te"),
	    S("a      b\377\tc\n\377d      e") },
	{ S("\377"),
	    S("\377") },
	{ S("a\t\377"),
	    S("a      \377") },
	{ S("x\ty\fz\tw\n"),
	    S("x      y\nz      w\n") },
	{ S("K\303\251y\t1\nK\t2\n"),
	    S("K\303\251y      1\nK        2\n") },
	{ S("\t\f\251ab\254\377b\v\303a\200\377\t"),
	    S("      \n\251ab\254\377b\v\303a\200\377") },
	{ S("b\f\fb\t"),
	    S("b\n\nb") },
	{ S("\377\fa\254\303b"),
	    S("\377\fa\254\303b") },
	{ S("\251\251\303a\303\303\fa\ta\377"),
	    S("\251\251\303a\303\303\na      a\377") },
	{ S("\n\f\t\377b\303\n\377"),
	    S("\n\n      \377b\303\n\377") },
	{ S("b\303\303\251\t\vb\377\342"),
	    S("b\303\303\251            b\377\342") },
	{ S("\303a\303\t \251"),
	    S("\303a\303       \251") },
	{ S("\f\202\v \303\200 \v\n\t\202\t\342\202\tb\303\n\377 \200"),
	    S("\n\202       \303\200       \n       \202        \342"
	    "\202      b\303\n\377 \200") },
	{ S("\342 \n\303bb\377\f\t\202\v\t\200 "),
	    S("\342 \n\303bb\377\f\t\202\v\t\200 ") },
	{ S("a\251b\202\377\303\202\200\254\v\v\342\v\303 \303\202"),
	    S("a\251b\202\377\303\202\200\254\v\v\342\v\303 \303\202") },
	{ S("b\254b\n \342\251ba\342\342\n\251\303\251\254 \n"),
	    S("b\254b\n \342\251ba\342\342\n\251\303\251\254 \n") },
	{ S("\200\251\va \v\t\303b a\t\202\n\t\342"),
	    S("\200\251      a             \303b a      \202\n        "
	    "\342") },
	{ S("\f\f\200\254 b\t \f\377\n"),
	    S("\n\n\200\254 b       \n\377\n") },
	{ S("\254\f\254\377\n\342\f\v"),
	    S("\254\n\254\377\n\342\f\v") },
	{ S("\t\tb\t\t\t\251\ta \254\303\t\n\na"),
	    S("            b                  \251      a \254\303     "
	    " \n\na") },
	{ S("\f\377\v\303\303\v\t\342"),
	    S("\n\377\v\303\303\v\t\342") },
	{ S("\303\251\251\342a \200\254\202\254\251\202\377\f\f\f\fb "
	    "\251"),
	    S("\303\251\251\342a \200\254\202\254\251\202\377\f\f\f\fb "
	    "\251") },
	{ S("a\tb\t \tb\v\303aba\303\t\377b"),
	    S("a      b             b      \303aba\303      \377b") },
	{ S("\303ab\254\t\303\f\t\251\n\v\303\v b"),
	    S("\303ab\254      \303\n      \251\n      \303       b") },
	{ S("\254    \nb"),
	    S("\254    \nb") },
	{ S("b\342\v\342\n \254\342"),
	    S("b\342      \342\n \254\342") },
	{ S("\377a\t\377\v\t\342\377\200"),
	    S("\377a\t\377            \342\377\200") },
	{ S("\202\377\n\251"),
	    S("\202\377\n\251") },
	{ S("\342\254\n\377\v\200"),
	    S("\342\254\n\377\v\200") },
	{ S("\v\202\t\377\377\202\377\v\251"),
	    S("      \202      \377\377\202\377\v\251") },
	{ S("\303\202\202\202\254\t\202\t\254\f\342"),
	    S("\303\202\202\202\254      \202      \254\n\342") },
	{ S("\t\377 \v\342aa\202\n \n"),
	    S("      \377 \v\342aa\202\n \n") },
	{ S("\342\303\v \202\200\342\v\vb"),
	    S("\342\303       \202\200\342            b") },
	{ S("b\t \t\v\t \303\200\303\254"),
	    S("b                          \303\200\303\254") },
	{ S(" \200\251\v"),
	    S(" \200\251") },
	{ S("b\254\251b\200\f\202\342\202\t \200\t\f\202\251\vb\202"
	    "\342\f \f\342"),
	    S("b\254\251b\200\n\202\342\202       \200      \n\202\251 "
	    "     b\202\342\n \n\342") },
	{ S("\342\t\t\ta\t"),
	    S("\342                  a") },
	{ S("\200 \202\251\t\303\254\303 \251\200\v\t\377\377\taa\202"
	    "\342\251b"),
	    S("\200 \202\251      \303\254\303 \251\200            \377"
	    "\377      aa\202\342\251b") },
	{ S("\342\200\t\f\254\t\254\254\ta\n\t\n\377\t\202\303\v\n"
	    "\377"),
	    S("\342\200      \n\254      \254\254      a\n       \n\377"
	    "\t\202\303\v\n\377") },
	{ S("\254\ta\200\342\v\200 \251\303\254\200\377\f\254\200\200"),
	    S("\254      a\200\342      \200 \251\303\254\200\377\f\254"
	    "\200\200") },
	{ S("\t\377\t\377\377a\254 \202\t\303a\202\202\t\t\t \303\342"),
	    S("      \377\t\377\377a\254 \202\t\303a\202\202\t\t\t \303"
	    "\342") },
	{ S("\377a\v\251\377\377\377"),
	    S("\377a\v\251\377\377\377") },
	{ S("\202\202b\200\377a\t\t\na\202b\377 \377a\202\200\200"),
	    S("\202\202b\200\377a\t\t\na\202b\377 \377a\202\200\200") },
	{ S(" \v\303\377\303\377"),
	    S("       \303\377\303\377") },
	{ S("\342\n \377\377\202 \377\t\342"),
	    S("\342\n \377\377\202 \377\t\342") },
};

/* Go 1.19 base64.StdEncoding.DecodeString: "ok:" and the input
 * re-encoded, or the error text. */
static const struct kv_oracle b64_cases[] = {
	{ S(""),
	    S("ok:") },
	{ S("QQ=="),
	    S("ok:QQ==") },
	{ S("QQ="),
	    S("illegal base64 data at input byte 3") },
	{ S("QQ"),
	    S("illegal base64 data at input byte 0") },
	{ S("Q"),
	    S("illegal base64 data at input byte 0") },
	{ S("QUJD"),
	    S("ok:QUJD") },
	{ S("QUJDQQ==QQ=="),
	    S("illegal base64 data at input byte 8") },
	{ S("QQ==\n"),
	    S("ok:QQ==") },
	{ S("QQ=\n="),
	    S("ok:QQ==") },
	{ S("QQ\n=="),
	    S("ok:QQ==") },
	{ S("="),
	    S("illegal base64 data at input byte 0") },
	{ S("QUJ="),
	    S("ok:QUI=") },
	{ S("QU=D"),
	    S("illegal base64 data at input byte 2") },
	{ S("QUJDRA"),
	    S("illegal base64 data at input byte 4") },
	{ S("QUJD\r\nRA=="),
	    S("ok:QUJDRA==") },
	{ S("AA=x"),
	    S("illegal base64 data at input byte 2") },
	{ S("=/D+J\nU\n"),
	    S("illegal base64 data at input byte 0") },
	{ S("\rU!D\nUD"),
	    S("illegal base64 data at input byte 2") },
	{ S("=UJ!!\rJ=J+"),
	    S("illegal base64 data at input byte 0") },
	{ S("U\n+"),
	    S("illegal base64 data at input byte 1") },
	{ S("!D"),
	    S("illegal base64 data at input byte 0") },
	{ S("\n/"),
	    S("illegal base64 data at input byte 1") },
	{ S("\r\nD\r\rU"),
	    S("illegal base64 data at input byte 4") },
	{ S("\rQ\r/++Q\n\r/x"),
	    S("illegal base64 data at input byte 8") },
	{ S("/UUD"),
	    S("ok:/UUD") },
	{ S("UU==QJ=J\n!=\nJ/"),
	    S("illegal base64 data at input byte 4") },
	{ S("/x+\rU=QJ\nU=Q!U"),
	    S("illegal base64 data at input byte 5") },
	{ S("=UxDU=U+Q\r/\n"),
	    S("illegal base64 data at input byte 0") },
	{ S("=xJQ/DUJ=QJD=!"),
	    S("illegal base64 data at input byte 0") },
	{ S("/D=+"),
	    S("illegal base64 data at input byte 2") },
	{ S("!J=\rQ=QQ"),
	    S("illegal base64 data at input byte 0") },
	{ S(""),
	    S("ok:") },
	{ S("//D/+D+U!!\n"),
	    S("illegal base64 data at input byte 8") },
	{ S("+/\n/=DD\rD!"),
	    S("illegal base64 data at input byte 5") },
	{ S("\n\r"),
	    S("ok:") },
	{ S(""),
	    S("ok:") },
	{ S("JQU!=\nJQU!\n/!"),
	    S("illegal base64 data at input byte 3") },
	{ S("xD=Q"),
	    S("illegal base64 data at input byte 2") },
	{ S("JJ=+Q=\r"),
	    S("illegal base64 data at input byte 2") },
	{ S("/\rDQ="),
	    S("ok:/DQ=") },
	{ S("\rJQ"),
	    S("illegal base64 data at input byte 1") },
	{ S("\nU+=/"),
	    S("illegal base64 data at input byte 3") },
	{ S("DD/QU=UJ\nx"),
	    S("illegal base64 data at input byte 5") },
	{ S(""),
	    S("ok:") },
	{ S("Q==!DU"),
	    S("illegal base64 data at input byte 1") },
	{ S("/J!x\n\r+J="),
	    S("illegal base64 data at input byte 2") },
	{ S("x!JQ/!\n/J//"),
	    S("illegal base64 data at input byte 1") },
	{ S("Q!x!!DUQQ"),
	    S("illegal base64 data at input byte 1") },
	{ S("!\r"),
	    S("illegal base64 data at input byte 0") },
	{ S("\n"),
	    S("ok:") },
	{ S("+/Q!Q!/!D+=Q+"),
	    S("illegal base64 data at input byte 3") },
	{ S("U//U!/U+=U=D"),
	    S("illegal base64 data at input byte 4") },
	{ S("DD!++\nU+!=Q"),
	    S("illegal base64 data at input byte 2") },
	{ S("!!DUxJ\r=!"),
	    S("illegal base64 data at input byte 0") },
	{ S("=xxJQ+Q+=!U"),
	    S("illegal base64 data at input byte 0") },
	{ S("D!+=/=+++U/"),
	    S("illegal base64 data at input byte 1") },
	{ S("=U+"),
	    S("illegal base64 data at input byte 0") },
	{ S(""),
	    S("ok:") },
	{ S("+U/+"),
	    S("ok:+U/+") },
	{ S("\nDDU"),
	    S("illegal base64 data at input byte 1") },
	{ S("UJ/=\rJx!/"),
	    S("illegal base64 data at input byte 5") },
	{ S("U\rD+"),
	    S("illegal base64 data at input byte 1") },
	{ S("+\nQJQ+!+\n=J\n\r\n"),
	    S("illegal base64 data at input byte 6") },
	{ S("U\rQ\r\r"),
	    S("illegal base64 data at input byte 3") },
	{ S("\nUDQ==\rU\n\nxU\r"),
	    S("illegal base64 data at input byte 5") },
	{ S("\n=Q=UQ!=!JD=\n/"),
	    S("illegal base64 data at input byte 1") },
};

/* Go 1.19 path.Join("pre/", s) and path.Join("", s). */
static const struct kv_join_oracle join_cases[] = {
	{ "", "pre",
	    "" },
	{ "/", "pre",
	    "/" },
	{ "a//b", "pre/a/b",
	    "a/b" },
	{ "../x", "x",
	    "../x" },
	{ "./x", "pre/x",
	    "x" },
	{ "a/", "pre/a",
	    "a" },
	{ "/a", "pre/a",
	    "/a" },
	{ ".", "pre",
	    "." },
	{ "..", ".",
	    ".." },
	{ "a/../../b", "b",
	    "../b" },
	{ "a..a/", "pre/a..a",
	    "a..a" },
	{ "//a/aa", "pre/a/aa",
	    "/a/aa" },
	{ "./a/..", "pre",
	    "." },
	{ "", "pre",
	    "" },
	{ "aa......", "pre/aa......",
	    "aa......" },
	{ "../a..//.a", "a../.a",
	    "../a../.a" },
	{ "/a", "pre/a",
	    "/a" },
	{ "a", "pre/a",
	    "a" },
	{ "./a....a", "pre/a....a",
	    "a....a" },
	{ "aaaa./a.", "pre/aaaa./a.",
	    "aaaa./a." },
	{ "../", ".",
	    ".." },
	{ "a/.", "pre/a",
	    "a" },
	{ ".//a..", "pre/a..",
	    "a.." },
	{ "a../.", "pre/a..",
	    "a.." },
	{ "//", "pre",
	    "/" },
	{ "/aa.a../", "pre/aa.a..",
	    "/aa.a.." },
	{ "..aaa./", "pre/..aaa.",
	    "..aaa." },
	{ "/.aa./.", "pre/.aa.",
	    "/.aa." },
	{ "aaaaa//", "pre/aaaaa",
	    "aaaaa" },
	{ "/", "pre",
	    "/" },
	{ ".a/aaaa/a/", "pre/.a/aaaa/a",
	    ".a/aaaa/a" },
	{ "a/./", "pre/a",
	    "a" },
	{ "./aaa.//a.", "pre/aaa./a.",
	    "aaa./a." },
	{ "a/aa", "pre/a/aa",
	    "a/aa" },
	{ "..../a./", "pre/..../a.",
	    "..../a." },
	{ "/aa", "pre/aa",
	    "/aa" },
	{ "//.aaa", "pre/.aaa",
	    "/.aaa" },
	{ "//.a.a/", "pre/.a.a",
	    "/.a.a" },
	{ ".a.a/.", "pre/.a.a",
	    ".a.a" },
	{ "./.aa.", "pre/.aa.",
	    ".aa." },
	{ "aa.a.aa.", "pre/aa.a.aa.",
	    "aa.a.aa." },
	{ "..a", "pre/..a",
	    "..a" },
	{ "./aa../a/", "pre/aa../a",
	    "aa../a" },
	{ ".a", "pre/.a",
	    ".a" },
	{ "a/a", "pre/a/a",
	    "a/a" },
	{ "a/aa..", "pre/a/aa..",
	    "a/aa.." },
	{ "/aaa.", "pre/aaa.",
	    "/aaa." },
	{ "a//", "pre/a",
	    "a" },
	{ "a.//...", "pre/a./...",
	    "a./..." },
	{ "aaaa.a.", "pre/aaaa.a.",
	    "aaaa.a." },
};

/* Go 1.19 json.Marshal(string), with \b and \f as Go 1.22 and later
 * (which consul is built with) write them. */
static const struct kv_oracle json_cases[] = {
	{ S("\000"),
	    S("\"\\u0000\"") },
	{ S("\001"),
	    S("\"\\u0001\"") },
	{ S("\002"),
	    S("\"\\u0002\"") },
	{ S("\003"),
	    S("\"\\u0003\"") },
	{ S("\004"),
	    S("\"\\u0004\"") },
	{ S("\005"),
	    S("\"\\u0005\"") },
	{ S("\006"),
	    S("\"\\u0006\"") },
	{ S("\007"),
	    S("\"\\u0007\"") },
	{ S("\010"),
	    S("\"\\b\"") },
	{ S("\t"),
	    S("\"\\t\"") },
	{ S("\n"),
	    S("\"\\n\"") },
	{ S("\v"),
	    S("\"\\u000b\"") },
	{ S("\f"),
	    S("\"\\f\"") },
	{ S("\r"),
	    S("\"\\r\"") },
	{ S("\016"),
	    S("\"\\u000e\"") },
	{ S("\017"),
	    S("\"\\u000f\"") },
	{ S("\020"),
	    S("\"\\u0010\"") },
	{ S("\021"),
	    S("\"\\u0011\"") },
	{ S("\022"),
	    S("\"\\u0012\"") },
	{ S("\023"),
	    S("\"\\u0013\"") },
	{ S("\024"),
	    S("\"\\u0014\"") },
	{ S("\025"),
	    S("\"\\u0015\"") },
	{ S("\026"),
	    S("\"\\u0016\"") },
	{ S("\027"),
	    S("\"\\u0017\"") },
	{ S("\030"),
	    S("\"\\u0018\"") },
	{ S("\031"),
	    S("\"\\u0019\"") },
	{ S("\032"),
	    S("\"\\u001a\"") },
	{ S("\033"),
	    S("\"\\u001b\"") },
	{ S("\034"),
	    S("\"\\u001c\"") },
	{ S("\035"),
	    S("\"\\u001d\"") },
	{ S("\036"),
	    S("\"\\u001e\"") },
	{ S("\037"),
	    S("\"\\u001f\"") },
	{ S(" "),
	    S("\" \"") },
	{ S("\177"),
	    S("\"\177\"") },
	{ S("<"),
	    S("\"\\u003c\"") },
	{ S(">"),
	    S("\"\\u003e\"") },
	{ S("&"),
	    S("\"\\u0026\"") },
	{ S("\""),
	    S("\"\\\"\"") },
	{ S("\\"),
	    S("\"\\\\\"") },
	{ S("\342\200\250"),
	    S("\"\\u2028\"") },
	{ S("\342\200\251"),
	    S("\"\\u2029\"") },
	{ S("\303\251\342\202\254\360\237\230\200"),
	    S("\"\303\251\342\202\254\360\237\230\200\"") },
	{ S("\355\240\200"),
	    S("\"\\ufffd\\ufffd\\ufffd\"") },
	{ S("\364\220\200\200"),
	    S("\"\\ufffd\\ufffd\\ufffd\\ufffd\"") },
	{ S("\300\257"),
	    S("\"\\ufffd\\ufffd\"") },
	{ S("\377"),
	    S("\"\\ufffd\"") },
	{ S("a\342\202"),
	    S("\"a\\ufffd\\ufffd\"") },
	{ S("\?j\302"),
	    S("\"\?j\\ufffd\"") },
	{ S("\236\335"),
	    S("\"\\ufffd\\ufffd\"") },
	{ S(""),
	    S("\"\"") },
	{ S(""),
	    S("\"\"") },
	{ S("\362d\276\344b"),
	    S("\"\\ufffdd\\ufffd\\ufffdb\"") },
	{ S("\272\362"),
	    S("\"\\ufffd\\ufffd\"") },
	{ S(""),
	    S("\"\"") },
	{ S("\322~\317\024\300"),
	    S("\"\\ufffd~\\ufffd\\u0014\\ufffd\"") },
	{ S(""),
	    S("\"\"") },
	{ S(" \037\203"),
	    S("\" \\u001f\\ufffd\"") },
	{ S(" "),
	    S("\" \"") },
	{ S("\255\271\213\253"),
	    S("\"\\ufffd\\ufffd\\ufffd\\ufffd\"") },
	{ S("\026\206\242\215"),
	    S("\"\\u0016\\ufffd\\ufffd\\ufffd\"") },
	{ S("\001!"),
	    S("\"\\u0001!\"") },
	{ S(""),
	    S("\"\"") },
	{ S("w6\363\356\305\200"),
	    S("\"w6\\ufffd\\ufffd\305\200\"") },
	{ S("\374C\376"),
	    S("\"\\ufffdC\\ufffd\"") },
	{ S("\004"),
	    S("\"\\u0004\"") },
	{ S("\233Mx\247\243\353"),
	    S("\"\\ufffdMx\\ufffd\\ufffd\\ufffd\"") },
	{ S("(e"),
	    S("\"(e\"") },
	{ S("Q~\320"),
	    S("\"Q~\\ufffd\"") },
	{ S(""),
	    S("\"\"") },
	{ S("\021\366\246R\332"),
	    S("\"\\u0011\\ufffd\\ufffdR\\ufffd\"") },
	{ S(""),
	    S("\"\"") },
	{ S(""),
	    S("\"\"") },
	{ S("+j"),
	    S("\"+j\"") },
	{ S(""),
	    S("\"\"") },
	{ S("\377\344X"),
	    S("\"\\ufffd\\ufffdX\"") },
	{ S("D"),
	    S("\"D\"") },
	{ S("\353x>"),
	    S("\"\\ufffdx\\u003e\"") },
};

START_TEST(go_tabwriter)
{
	struct buf b;
	size_t i;

	for (i = 0; i < nitems(tab_cases); i++) {
		buf_init(&b);
		kv_tabwrite(&b, tab_cases[i].in, tab_cases[i].inlen, 0, 6);
		ck_assert_msg(b.len == tab_cases[i].wantlen &&
		    memcmp(b.data, tab_cases[i].want, b.len) == 0,
		    "tabwriter case %zu", i);
		buf_free(&b);
	}
}
END_TEST

START_TEST(go_base64)
{
	struct buf b, got;
	size_t i, bad;
	char *e;

	for (i = 0; i < nitems(b64_cases); i++) {
		buf_init(&b);
		buf_init(&got);
		if (kv_b64_decode(b64_cases[i].in, b64_cases[i].inlen, &b,
		    &bad) < 0)
			buf_printf(&got, "illegal base64 data at input "
			    "byte %zu", bad);
		else {
			e = base64_encode(b.data, b.len);
			buf_printf(&got, "ok:%s", e);
			free(e);
		}
		ck_assert_msg(strcmp((char *)got.data, b64_cases[i].want) == 0,
		    "base64 case %zu: got %s, want %s", i, (char *)got.data,
		    b64_cases[i].want);
		buf_free(&b);
		buf_free(&got);
	}
}
END_TEST

START_TEST(go_path_join)
{
	size_t i;
	char *a, *b;

	for (i = 0; i < nitems(join_cases); i++) {
		a = kv_path_join("pre/", join_cases[i].in);
		b = kv_path_join("", join_cases[i].in);
		ck_assert_msg(strcmp(a, join_cases[i].with_prefix) == 0,
		    "Join(\"pre/\", \"%s\") = %s", join_cases[i].in, a);
		ck_assert_msg(strcmp(b, join_cases[i].alone) == 0,
		    "Join(\"\", \"%s\") = %s", join_cases[i].in, b);
		free(a);
		free(b);
	}
}
END_TEST

START_TEST(go_json_string)
{
	struct buf b;
	size_t i;

	for (i = 0; i < nitems(json_cases); i++) {
		buf_init(&b);
		kv_json_string(&b, json_cases[i].in, json_cases[i].inlen);
		ck_assert_msg(b.len == json_cases[i].wantlen &&
		    memcmp(b.data, json_cases[i].want, b.len) == 0,
		    "json case %zu: %s", i, (char *)b.data);
		buf_free(&b);
	}
	ck_assert_uint_eq(kv_rune_count(S("a\303\251\342\202\254\360\237"
	    "\230\200\377\300\257")), 7);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kv_cli");
	TCase *tc = tcase_create("kv_cli");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, get_value);
	tcase_add_test(tc, get_errors);
	tcase_add_test(tc, get_detailed);
	tcase_add_test(tc, get_recurse_and_keys);
	tcase_add_test(tc, put_writes);
	tcase_add_test(tc, put_cas_and_locks);
	tcase_add_test(tc, put_argument_errors);
	tcase_add_test(tc, delete_forms);
	tcase_add_test(tc, export_format);
	tcase_add_test(tc, import_writes);
	tcase_add_test(tc, import_errors);
	tcase_add_test(tc, dispatch_and_help);
	tcase_add_test(tc, go_tabwriter);
	tcase_add_test(tc, go_base64);
	tcase_add_test(tc, go_path_join);
	tcase_add_test(tc, go_json_string);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
