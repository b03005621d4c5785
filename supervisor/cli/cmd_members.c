/*
 * muster members: the gossip pool as GET /v1/agent/members reports it, in
 * consul's table (command/members).  Status ints are serf's (0 none,
 * 1 alive, 2 leaving, 3 left, 4 failed); the Type column comes from the
 * role tag (consul = server, node = client, anything else unknown, with
 * its other columns blank); Build is the build tag up to ':' ("< 0.3"
 * when absent); Protocol the vsn tag.  Partition is "default" when
 * untagged; Segment is "<all>" for servers when no -segment was asked
 * for, "<default>" for an untagged member.  Servers sort first, then by
 * segment, partition and name.  No member left after -status: exit 2
 * with no output, as consul.
 */
#include <arpa/inet.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/table.h"

#define ALL_SEGMENTS "_all"

static const char members_help[] =
    "Usage: muster members [options]\n"
    "\n"
    "  Outputs the members of a running Muster agent.";

struct member {
	const char *name;
	char addr[INET6_ADDRSTRLEN + 8];
	const char *status;
	yajl_val tags;
	/* Tags as displayed, after consul's defaults. */
	const char *role, *dc, *partition, *segment;
};

struct members_opts {
	bool detailed, wan;
	const char *status, *segment, *filter;
};

static const char *
status_name(yajl_val v)
{
	static const char *const names[] = { "none", "alive", "leaving",
		"left", "failed" };
	long long s = YAJL_IS_INTEGER(v) ? YAJL_GET_INTEGER(v) : -1;

	return s >= 0 && s < (long long)nitems(names) ? names[s] : "unknown";
}

/* Go's net.TCPAddr{IP: net.ParseIP(addr), Port}.String(). */
static void
member_addr(char *out, size_t len, const char *ip, yajl_val port)
{
	unsigned char a[sizeof(struct in6_addr)];
	char txt[INET6_ADDRSTRLEN];
	long long p = YAJL_IS_INTEGER(port) ? YAJL_GET_INTEGER(port) : 0;

	if (ip && inet_pton(AF_INET, ip, a) == 1) {
		inet_ntop(AF_INET, a, txt, sizeof(txt));
		snprintf(out, len, "%s:%lld", txt, p);
	} else if (ip && inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char v4mapped[12] = { [10] = 0xff,
			[11] = 0xff };
		if (memcmp(a, v4mapped, 12) == 0) {
			inet_ntop(AF_INET, a + 12, txt, sizeof(txt));
			snprintf(out, len, "%s:%lld", txt, p);
		} else {
			inet_ntop(AF_INET6, a, txt, sizeof(txt));
			snprintf(out, len, "[%s]:%lld", txt, p);
		}
	} else
		snprintf(out, len, ":%lld", p);
}

static const char *
tag(const struct member *m, const char *key)
{
	const char *v = cli_json_str(cli_json_get(m->tags, key));

	return v ? v : "";
}

static void
member_fill(struct member *m, yajl_val o, const struct members_opts *opt)
{
	memset(m, 0, sizeof(*m));
	m->name = cli_json_str(cli_json_get(o, "Name"));
	if (m->name == NULL)
		m->name = "";
	m->tags = cli_json_get(o, "Tags");
	member_addr(m->addr, sizeof(m->addr),
	    cli_json_str(cli_json_get(o, "Addr")), cli_json_get(o, "Port"));
	m->status = status_name(cli_json_get(o, "Status"));
	m->role = tag(m, "role");
	m->dc = tag(m, "dc");
	m->partition = *tag(m, "partition") ? tag(m, "partition") : "default";
	m->segment = tag(m, "segment");
	if (strcmp(m->partition, "default") != 0)
		m->segment = "";
	else if (strcmp(opt->segment, ALL_SEGMENTS) == 0 &&
	    strcmp(m->role, "consul") == 0)
		m->segment = "<all>";
	else if (*m->segment == '\0')
		m->segment = "<default>";
}

static int
member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	bool xs = strcmp(x->role, "consul") == 0;
	bool ys = strcmp(y->role, "consul") == 0;
	bool xd = strcmp(x->partition, "default") == 0;
	bool yd = strcmp(y->partition, "default") == 0;
	int c;

	if (xs != ys)
		return xs ? -1 : 1;
	if (xd != yd)
		return xd ? -1 : 1;
	if ((c = strcmp(x->segment, y->segment)) != 0)
		return c;
	if ((c = strcmp(x->partition, y->partition)) != 0)
		return c;
	return strcmp(x->name, y->name);
}

static void
row_standard(struct cli_table *t, const struct member *m)
{
	const char *build = tag(m, "build"), *type;
	char b[128];

	if (*build == '\0')
		build = "< 0.3";
	snprintf(b, sizeof(b), "%.*s", (int)strcspn(build, ":"), build);
	if (strcmp(m->role, "node") == 0)
		type = "client";
	else if (strcmp(m->role, "consul") == 0)
		type = "server";
	else {
		cli_table_add(t, m->name, m->addr, m->status, "unknown", "", "",
		    "", "", "", NULL);
		return;
	}
	cli_table_add(t, m->name, m->addr, m->status, type, b, tag(m, "vsn"),
	    m->dc, m->partition, m->segment, NULL);
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Tags sorted by key as k=v,k=v, with the displayed partition/segment. */
static void
row_detailed(struct cli_table *t, const struct member *m)
{
	size_t n = YAJL_IS_OBJECT(m->tags) ? m->tags->u.object.len : 0, i;
	const char **keys = xcalloc(n + 2, sizeof(*keys));
	struct buf b;
	size_t nk = 0;

	for (i = 0; i < n; i++)
		keys[nk++] = m->tags->u.object.keys[i];
	if (cli_json_get(m->tags, "partition") == NULL)
		keys[nk++] = "partition";
	if (cli_json_get(m->tags, "segment") == NULL)
		keys[nk++] = "segment";
	qsort(keys, nk, sizeof(*keys), key_cmp);
	buf_init(&b);
	for (i = 0; i < nk; i++) {
		const char *v = strcmp(keys[i], "partition") == 0 ?
		    m->partition : strcmp(keys[i], "segment") == 0 ?
		    m->segment : tag(m, keys[i]);
		buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], v);
	}
	cli_table_add(t, m->name, m->addr, m->status,
	    b.len ? (char *)b.data : "", NULL);
	buf_free(&b);
	free(keys);
}

static void
members_print(struct member *ms, size_t n, bool detailed)
{
	struct cli_table t;
	size_t i;

	qsort(ms, n, sizeof(*ms), member_cmp);
	cli_table_init(&t);
	if (detailed)
		cli_table_add(&t, "Node", "Address", "Status", "Tags", NULL);
	else
		cli_table_add(&t, "Node", "Address", "Status", "Type", "Build",
		    "Protocol", "DC", "Partition", "Segment", NULL);
	for (i = 0; i < n; i++) {
		if (detailed)
			row_detailed(&t, &ms[i]);
		else
			row_standard(&t, &ms[i]);
	}
	cli_table_print(stdout, &t);
	cli_table_free(&t);
}

/* Fetch, filter by status and print; the exit code. */
static int
members_show(struct cli_client *c, const struct members_opts *o,
    const regex_t *re)
{
	struct cli_http_resp r;
	struct member *ms = NULL;
	struct buf path, err;
	yajl_val root = NULL;
	size_t n = 0, i;
	int rc = CLI_EXIT_ERR;

	buf_init(&path);
	buf_init(&err);
	cli_http_resp_init(&r);
	buf_addstr(&path, "/v1/agent/members");
	if (strcmp(o->segment, ALL_SEGMENTS) != 0)
		cli_query_add(&path, "segment", o->segment);
	if (o->wan)
		cli_query_add(&path, "wan", "1");
	if (o->filter && *o->filter)
		cli_query_add(&path, "filter", o->filter);
	if (cli_call(c, "GET", (char *)path.data, NULL, 0, &r,
	    "Error retrieving members") < 0)
		goto out;
	if ((root = cli_json_parse(&r.body, &err)) == NULL ||
	    !YAJL_IS_ARRAY(root)) {
		fprintf(stderr, "Error retrieving members: %s\n", err.len ?
		    (char *)err.data : "response is not a JSON array");
		goto out;
	}
	ms = xcalloc(root->u.array.len + 1, sizeof(*ms));
	for (i = 0; i < root->u.array.len; i++) {
		member_fill(&ms[n], root->u.array.values[i], o);
		if (regexec(re, ms[n].status, 0, NULL, 0) == 0)
			n++;
	}
	if (n == 0)
		rc = CLI_EXIT_NOMATCH;
	else {
		members_print(ms, n, o->detailed);
		rc = CLI_EXIT_OK;
	}
out:
	free(ms);
	yajl_tree_free(root);
	cli_http_resp_free(&r);
	buf_free(&path);
	buf_free(&err);
	return rc;
}

int
cli_cmd_members(int argc, char **argv)
{
	struct members_opts o = { .status = ".*", .segment = ALL_SEGMENTS };
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_BOOL("detailed", &o.detailed,
		    "Provides detailed information about nodes."),
		CLI_BOOL("wan", &o.wan, "If the agent is in server mode, this "
		    "can be used to return the other peers in the WAN pool."),
		CLI_STR("status", &o.status, "string", "If provided, output is "
		    "filtered to only nodes matching the regular expression "
		    "for status."),
		CLI_STR("segment", &o.segment, "string", "(Enterprise-only) If "
		    "provided, output is filtered to only nodes in the given "
		    "segment."),
		CLI_STR("filter", &o.filter, "string",
		    "Filter to use with the request"),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, false),
		{ "Command Options", cf, nitems(cf) },
	};
	struct cli_client c;
	char msg[256];
	regex_t re;
	int r;

	if ((r = cli_flags_parse(argc, argv, members_help, fs,
	    nitems(fs))) < 1)
		return cli_flags_exit(r);
	if ((r = regcomp(&re, o.status, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(r, &re, msg, sizeof(msg));
		fprintf(stderr, "Failed to compile status regexp: %s\n", msg);
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0) {
		regfree(&re);
		return CLI_EXIT_ERR;
	}
	r = members_show(&c, &o, &re);
	cli_client_free(&c);
	regfree(&re);
	return r;
}
