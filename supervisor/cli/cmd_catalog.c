/*
 * muster catalog datacenters|nodes|services: consul's command/catalog,
 * reading GET /v1/catalog/datacenters, /v1/catalog/nodes,
 * /v1/catalog/service/:name (nodes -service), /v1/catalog/services and
 * /v1/catalog/node/:node (services -node), printed as consul prints them:
 *
 *   datacenters  one name a line
 *   nodes        columnize table "Node  ID  Address  DC" (the ID cut at
 *                its first '-'); -detailed adds TaggedAddresses and Meta
 *                as "k=v, k=v" sorted by key and shows the whole ID
 *   services     names sorted bytewise, one a line; -tags adds the
 *                sorted tags joined by ',' through Go's text/tabwriter
 *                (minwidth 0, padding 6), the block trimmed at both ends
 *
 * An empty answer is not an error: "No nodes match the given query - try
 * expanding your search." (or services) on stderr, exit 0.  -node-meta
 * key=value (repeatable) becomes ?node-meta=key:value, as the Go client
 * sends it.  -filter takes consul's expression, or @file / - as
 * helpers.LoadDataSource reads it; consul's `catalog services` has no
 * -filter, muster's passes it to the same endpoints (which accept it).
 */
#include "supervisor/cli/cmd_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_kv.h"
#include "supervisor/cli/table.h"

static const char catalog_help[] =
    "Usage: muster catalog <subcommand> [options] [args]\n"
    "\n"
    "  This command has subcommands for interacting with Muster's "
    "catalog. The\n"
    "  catalog should not be confused with the agent, although the APIs "
    "and\n"
    "  responses may be similar.\n"
    "\n"
    "  Here are some simple examples, and more detailed examples are "
    "available\n"
    "  in the subcommands or the documentation.\n"
    "\n"
    "  List all datacenters:\n"
    "\n"
    "      $ muster catalog datacenters\n"
    "\n"
    "  List all nodes:\n"
    "\n"
    "      $ muster catalog nodes\n"
    "\n"
    "  List all services:\n"
    "\n"
    "      $ muster catalog services\n"
    "\n"
    "  For more examples, ask for subcommand help or view the "
    "documentation.";

static const char dcs_help[] =
    "Usage: muster catalog datacenters [options]\n"
    "\n"
    "  Retrieves the list of all known datacenters. This datacenters are "
    "sorted in\n"
    "  ascending order based on the estimated median round trip time from "
    "the servers\n"
    "  in this datacenter to the servers in the other datacenters.\n"
    "\n"
    "  To retrieve the list of datacenters:\n"
    "\n"
    "      $ muster catalog datacenters\n"
    "\n"
    "  For a full list of options and examples, please see the Muster "
    "documentation.";

static const char nodes_help[] =
    "Usage: muster catalog nodes [options]\n"
    "\n"
    "  Retrieves the list nodes registered in a given datacenter. By "
    "default, the\n"
    "  datacenter of the local agent is queried.\n"
    "\n"
    "  To retrieve the list of nodes:\n"
    "\n"
    "      $ muster catalog nodes\n"
    "\n"
    "  To print detailed information including full node IDs, tagged "
    "addresses, and\n"
    "  metadata information:\n"
    "\n"
    "      $ muster catalog nodes -detailed\n"
    "\n"
    "  To list nodes which are running a particular service:\n"
    "\n"
    "      $ muster catalog nodes -service=web\n"
    "\n"
    "  To filter by node metadata:\n"
    "\n"
    "      $ muster catalog nodes -node-meta=\"foo=bar\"\n"
    "\n"
    "  To sort nodes by estimated round-trip time from node-web:\n"
    "\n"
    "      $ muster catalog nodes -near=node-web\n"
    "\n"
    "  For a full list of options and examples, please see the Muster "
    "documentation.";

static const char services_help[] =
    "Usage: muster catalog services [options]\n"
    "\n"
    "  Retrieves the list services registered in a given datacenter. By "
    "default, the\n"
    "  datacenter of the local agent is queried.\n"
    "\n"
    "  To retrieve the list of services:\n"
    "\n"
    "      $ muster catalog services\n"
    "\n"
    "  To include the services' tags in the output:\n"
    "\n"
    "      $ muster catalog services -tags\n"
    "\n"
    "  To list services which run on a particular node:\n"
    "\n"
    "      $ muster catalog services -node=web\n"
    "\n"
    "  To filter services on node metadata:\n"
    "\n"
    "      $ muster catalog services -node-meta=\"foo=bar\"\n"
    "\n"
    "  For a full list of options and examples, please see the Muster "
    "documentation.";

static const struct cli_cmd catalog_cmds[] = {
	{ "datacenters", cli_cmd_catalog_datacenters,
	    "Lists all known datacenters for this agent" },
	{ "nodes", cli_cmd_catalog_nodes,
	    "Lists all nodes in the given datacenter" },
	{ "services", cli_cmd_catalog_services,
	    "Lists all registered services in a datacenter" },
};

int
cli_cmd_catalog(int argc, char **argv)
{
	return cli_dispatch(catalog_help, catalog_cmds, nitems(catalog_cmds),
	    argc, argv);
}

/* ---- repeatable flags (see cmd_catalog.h) ---- */

void
cli_strv_free(struct cli_strv *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static const struct cli_flag *
flag_named(const struct cli_flagset *sets, size_t nsets, const char *name,
    size_t len)
{
	for (size_t i = 0; i < nsets; i++)
		for (size_t j = 0; j < sets[i].n; j++)
			if (strlen(sets[i].flags[j].name) == len &&
			    memcmp(sets[i].flags[j].name, name, len) == 0)
				return &sets[i].flags[j];
	return NULL;
}

void
cli_flag_values(int argc, char **argv, int end,
    const struct cli_flagset *sets, size_t nsets, const char *name,
    struct cli_strv *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 1; i < end && i < argc; i++) {
		const char *a = argv[i], *n, *eq, *val = NULL;
		const struct cli_flag *f;
		size_t len;

		if (a[0] != '-' || strcmp(a, "--") == 0)
			break;
		n = a + 1 + (a[1] == '-');
		eq = strchr(n, '=');
		len = eq ? (size_t)(eq - n) : strlen(n);
		if ((f = flag_named(sets, nsets, n, len)) == NULL)
			break;	/* cannot happen after a successful parse */
		if (eq)
			val = eq + 1;
		else if (f->kind != CLI_FLAG_BOOL && i + 1 < argc)
			val = argv[++i];
		if (val == NULL || strcmp(f->name, name) != 0)
			continue;
		out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
		out->v[out->n++] = val;
	}
}

int
cli_flag_map_check(const struct cli_strv *vals, const char *flag,
    const char *help, const struct cli_flagset *sets, size_t nsets)
{
	for (size_t i = 0; i < vals->n; i++) {
		if (strchr(vals->v[i], '=') != NULL)
			continue;
		fprintf(stderr, "invalid value \"%s\" for flag -%s: Missing "
		    "\"=\" value in argument: %s\n", vals->v[i], flag,
		    vals->v[i]);
		cli_flags_usage(stderr, help, sets, nsets);
		return -1;
	}
	return 0;
}

bool
cli_flag_map_last(const struct cli_strv *vals, size_t i)
{
	size_t klen = strcspn(vals->v[i], "=");

	for (size_t j = i + 1; j < vals->n; j++)
		if (strcspn(vals->v[j], "=") == klen &&
		    memcmp(vals->v[j], vals->v[i], klen) == 0)
			return false;
	return true;
}

int
cli_no_args(int argc, int first)
{
	if (first >= argc)
		return 0;
	fprintf(stderr, "Too many arguments (expected 0, got %d)\n",
	    argc - first);
	return -1;
}

void
cli_go_quote(struct buf *out, const char *s)
{
	static const char esc[] = "\a\b\f\n\r\t\v", letter[] = "abfnrtv";

	buf_addch(out, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		const char *e = ch ? strchr(esc, ch) : NULL;

		if (ch == '"' || ch == '\\')
			buf_printf(out, "\\%c", ch);
		else if (e)
			buf_printf(out, "\\%c", letter[e - esc]);
		else if (ch < 0x20 || ch == 0x7f)
			buf_printf(out, "\\x%02x", ch);
		else
			buf_addch(out, (char)ch);
	}
	buf_addch(out, '"');
}

/* ---- shared query pieces ---- */

struct cat_query {
	struct cli_strv node_meta;
	const char *near, *filter;
	struct buf filter_data;
	const char *name;	/* nodes -service, services -node */
	bool flag;		/* nodes -detailed, services -tags */
};

typedef int (*cat_run_fn)(struct cli_client *c, const struct cat_query *q);

/* ?node-meta=k:v for each key (the last value given for it). */
static void
add_node_meta(struct buf *path, const struct cli_strv *nm)
{
	for (size_t i = 0; i < nm->n; i++) {
		const char *v = nm->v[i];
		size_t klen = strcspn(v, "=");
		char *kv;

		if (!cli_flag_map_last(nm, i))
			continue;
		kv = xasprintf("%.*s:%s", (int)klen, v, v + klen + 1);
		cli_query_add(path, "node-meta", kv);
		free(kv);
	}
}

static void
add_query(struct buf *path, const struct cat_query *q)
{
	if (q->near && *q->near)
		cli_query_add(path, "near", q->near);
	add_node_meta(path, &q->node_meta);
	/* An empty expression (an empty @file) is no filter, as in Go. */
	if (q->filter_data.len > 0)
		cli_query_add(path, "filter", (char *)q->filter_data.data);
}

/* -filter through helpers.LoadDataSource; -1 after printing. */
static int
load_filter(struct cat_query *q)
{
	struct buf err;

	buf_init(&q->filter_data);
	if (q->filter == NULL || *q->filter == '\0')
		return 0;
	buf_init(&err);
	if (kv_load_data(q->filter, &q->filter_data, &err) < 0) {
		fprintf(stderr, "Could not process filter argument: %s\n",
		    (char *)err.data);
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return 0;
}

yajl_val
cli_get_json(struct cli_client *c, const char *path, const char *what)
{
	struct cli_http_resp r;
	struct buf err;
	yajl_val v = NULL;

	cli_http_resp_init(&r);
	buf_init(&err);
	if (cli_call(c, "GET", path, NULL, 0, &r, what) == 0 &&
	    (v = cli_json_parse(&r.body, &err)) == NULL)
		fprintf(stderr, "%s: %s\n", what, (char *)err.data);
	cli_http_resp_free(&r);
	buf_free(&err);
	return v;
}

/*
 * The part of `catalog nodes` and `catalog services` after the flags were
 * defined: parse, check -node-meta and the arguments, connect, read
 * -filter, run.  The exit code.
 */
static int
cat_main(int argc, char **argv, const char *help, struct cli_flagset *fs,
    size_t nfs, const struct cli_http_opts *ho, struct cat_query *q,
    cat_run_fn run)
{
	struct cli_client c;
	int r;

	if ((r = cli_flags_parse(argc, argv, help, fs, nfs)) < 1)
		return cli_flags_exit(r);
	cli_flag_values(argc, argv, r, fs, nfs, "node-meta", &q->node_meta);
	if (cli_flag_map_check(&q->node_meta, "node-meta", help, fs,
	    nfs) < 0 || cli_no_args(argc, r) < 0 ||
	    cli_client_open(&c, ho) < 0) {
		cli_strv_free(&q->node_meta);
		return CLI_EXIT_ERR;
	}
	r = load_filter(q) < 0 ? CLI_EXIT_ERR : run(&c, q);
	cli_client_free(&c);
	cli_strv_free(&q->node_meta);
	buf_free(&q->filter_data);
	return r;
}

/* ---- catalog datacenters ---- */

int
cli_cmd_catalog_datacenters(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flagset fs[] = { CLI_HTTP_FLAGSET(&ho, hf, true) };
	struct cli_client c;
	yajl_val v;
	int r;

	if ((r = cli_flags_parse(argc, argv, dcs_help, fs, nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (cli_no_args(argc, r) < 0 || cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	v = cli_get_json(&c, "/v1/catalog/datacenters",
	    "Error listing datacenters");
	cli_client_free(&c);
	if (v == NULL)
		return CLI_EXIT_ERR;
	for (size_t i = 0; YAJL_IS_ARRAY(v) && i < v->u.array.len; i++) {
		const char *dc = cli_json_str(v->u.array.values[i]);
		printf("%s\n", dc ? dc : "");
	}
	yajl_tree_free(v);
	return CLI_EXIT_OK;
}

/* ---- catalog nodes ---- */

int
cli_str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **
cli_json_sorted_keys(yajl_val obj, size_t *n)
{
	const char **keys;

	*n = YAJL_IS_OBJECT(obj) ? obj->u.object.len : 0;
	keys = xcalloc(*n + 1, sizeof(*keys));
	for (size_t i = 0; i < *n; i++)
		keys[i] = obj->u.object.keys[i];
	qsort(keys, *n, sizeof(*keys), cli_str_cmp);
	return keys;
}

/* consul's mapToKV: "k=v" sorted by key, joined by ", ". */
static void
map_to_kv(struct buf *out, yajl_val m)
{
	size_t n;
	const char **keys = cli_json_sorted_keys(m, &n);

	for (size_t i = 0; i < n; i++) {
		const char *v = cli_json_str(cli_json_get(m, keys[i]));
		buf_printf(out, "%s%s=%s", i ? ", " : "", keys[i], v ? v : "");
	}
	buf_addch(out, '\0');
	free(keys);
}

static const char *
field(yajl_val o, const char *key)
{
	const char *s = cli_json_str(cli_json_get(o, key));

	return s ? s : "";
}

/* One row; meta_key is "Meta" for nodes, "NodeMeta" for service rows. */
static void
node_row(struct cli_table *t, yajl_val o, const char *meta_key,
    bool detailed)
{
	const char *id = field(o, "ID");
	const char *dash = strchr(id, '-');
	struct buf ta, meta;
	char *shortid;

	if (!detailed) {
		shortid = dash && dash > id ? xstrndup(id, (size_t)(dash - id)) :
		    xstrdup(id);
		cli_table_add(t, field(o, "Node"), shortid, field(o, "Address"),
		    field(o, "Datacenter"), NULL);
		free(shortid);
		return;
	}
	buf_init(&ta);
	buf_init(&meta);
	map_to_kv(&ta, cli_json_get(o, "TaggedAddresses"));
	map_to_kv(&meta, cli_json_get(o, meta_key));
	cli_table_add(t, field(o, "Node"), id, field(o, "Address"),
	    field(o, "Datacenter"), (char *)ta.data, (char *)meta.data, NULL);
	buf_free(&ta);
	buf_free(&meta);
}

static int
nodes_print(yajl_val v, const char *meta_key, bool detailed)
{
	struct cli_table t;

	if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0) {
		fprintf(stderr, "No nodes match the given query - try "
		    "expanding your search.\n");
		return CLI_EXIT_OK;
	}
	cli_table_init(&t);
	if (detailed)
		cli_table_add(&t, "Node", "ID", "Address", "DC",
		    "TaggedAddresses", "Meta", NULL);
	else
		cli_table_add(&t, "Node", "ID", "Address", "DC", NULL);
	for (size_t i = 0; i < v->u.array.len; i++)
		node_row(&t, v->u.array.values[i], meta_key, detailed);
	cli_table_print(stdout, &t);
	cli_table_free(&t);
	return CLI_EXIT_OK;
}

static int
nodes_run(struct cli_client *c, const struct cat_query *q)
{
	const char *service = q->name;
	bool detailed = q->flag;
	struct buf path;
	yajl_val v;
	int rc;

	buf_init(&path);
	if (service && *service) {
		buf_addstr(&path, "/v1/catalog/service/");
		cli_url_escape(&path, service, true);
	} else
		buf_addstr(&path, "/v1/catalog/nodes");
	add_query(&path, q);
	v = cli_get_json(c, (char *)path.data, service && *service ?
	    "Error listing nodes for service" : "Error listing nodes");
	buf_free(&path);
	if (v == NULL)
		return CLI_EXIT_ERR;
	rc = nodes_print(v, service && *service ? "NodeMeta" : "Meta",
	    detailed);
	yajl_tree_free(v);
	return rc;
}

int
cli_cmd_catalog_nodes(int argc, char **argv)
{
	struct cat_query q = { 0 };
	const char *node_meta = NULL;
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_BOOL("detailed", &q.flag, "Output detailed information "
		    "about the nodes including their addresses and metadata."),
		CLI_STR("filter", &q.filter, "string",
		    "Filter to use with the request"),
		CLI_STR("near", &q.near, "string", "Node name to sort the node "
		    "list in ascending order based on estimated round-trip "
		    "time from that node. Passing \"_agent\" will use this "
		    "agent's node for sorting."),
		CLI_STR("node-meta", &node_meta, "key=value", "Metadata to "
		    "filter nodes with the given `key=value` pairs. This flag "
		    "may be specified multiple times to filter on multiple "
		    "sources of metadata."),
		CLI_STR("service", &q.name, "id or name", "Service `id or "
		    "name` to filter nodes. Only nodes which are providing the "
		    "given service will be returned."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, true),
		{ "Command Options", cf, nitems(cf) },
	};
	return cat_main(argc, argv, nodes_help, fs, nitems(fs), &ho, &q,
	    nodes_run);
}

/* ---- catalog services ---- */

struct svc_tags {
	const char *name;
	struct cli_strv tags;
};

static struct svc_tags *
svc_find(struct svc_tags **v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].name, name) == 0)
			return &(*v)[i];
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].name = name;
	return &(*v)[(*n)++];
}

static void
svc_add_tags(struct svc_tags *s, yajl_val tags)
{
	for (size_t i = 0; YAJL_IS_ARRAY(tags) && i < tags->u.array.len;
	    i++) {
		const char *t = cli_json_str(tags->u.array.values[i]);

		if (t == NULL)
			continue;
		s->tags.v = xrealloc(s->tags.v, (s->tags.n + 1) *
		    sizeof(*s->tags.v));
		s->tags.v[s->tags.n++] = t;
	}
}

/*
 * The name -> tags map consul builds: from /v1/catalog/services as is,
 * or from a node's services (by ID) with the tags of every instance of
 * a name appended.
 */
static size_t
svc_collect(yajl_val v, bool by_node, struct svc_tags **out)
{
	yajl_val m = by_node ? cli_json_get(v, "Services") : v;
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; YAJL_IS_OBJECT(m) && i < m->u.object.len; i++) {
		yajl_val e = m->u.object.values[i];
		const char *name = by_node ? cli_json_str(cli_json_get(e,
		    "Service")) : m->u.object.keys[i];

		if (name == NULL)
			name = "";
		svc_add_tags(svc_find(out, &n, name), by_node ?
		    cli_json_get(e, "Tags") : e);
	}
	return n;
}

static int
svc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct svc_tags *)a)->name,
	    ((const struct svc_tags *)b)->name);
}

/* Go's strings.TrimSpace of the tabwriter output, then one newline. */
static void
svc_print_tags(const struct svc_tags *s, size_t n)
{
	struct buf text, out;
	size_t b = 0, e;

	buf_init(&text);
	buf_init(&out);
	for (size_t i = 0; i < n; i++) {
		if (s[i].tags.n > 1)
			qsort(s[i].tags.v, s[i].tags.n, sizeof(*s[i].tags.v),
			    cli_str_cmp);
		buf_printf(&text, "%s\t", s[i].name);
		for (size_t j = 0; j < s[i].tags.n; j++)
			buf_printf(&text, "%s%s", j ? "," : "", s[i].tags.v[j]);
		buf_addch(&text, '\n');
	}
	kv_tabwrite(&out, (char *)text.data, text.len, 0, 6);
	e = out.len;
	while (b < e && strchr(" \t\r\n\v\f", out.data[b]))
		b++;
	while (e > b && strchr(" \t\r\n\v\f", out.data[e - 1]))
		e--;
	printf("%.*s\n", (int)(e - b), (char *)out.data + b);
	buf_free(&text);
	buf_free(&out);
}

static int
services_print(yajl_val v, bool by_node, bool tags)
{
	struct svc_tags *s;
	size_t n = svc_collect(v, by_node, &s);

	if (n == 0) {
		fprintf(stderr, "No services match the given query - try "
		    "expanding your search.\n");
		return CLI_EXIT_OK;
	}
	qsort(s, n, sizeof(*s), svc_cmp);
	if (tags)
		svc_print_tags(s, n);
	else
		for (size_t i = 0; i < n; i++)
			printf("%s\n", s[i].name);
	for (size_t i = 0; i < n; i++)
		cli_strv_free(&s[i].tags);
	free(s);
	return CLI_EXIT_OK;
}

static int
services_run(struct cli_client *c, const struct cat_query *q)
{
	const char *node = q->name;
	bool by_node = node && *node, tags = q->flag;
	struct buf path;
	yajl_val v;
	int rc;

	buf_init(&path);
	if (by_node) {
		buf_addstr(&path, "/v1/catalog/node/");
		cli_url_escape(&path, node, true);
	} else
		buf_addstr(&path, "/v1/catalog/services");
	add_query(&path, q);
	v = cli_get_json(c, (char *)path.data, by_node ?
	    "Error listing services for node" : "Error listing services");
	buf_free(&path);
	if (v == NULL)
		return CLI_EXIT_ERR;
	rc = services_print(v, by_node, tags);
	yajl_tree_free(v);
	return rc;
}

int
cli_cmd_catalog_services(int argc, char **argv)
{
	struct cat_query q = { 0 };
	const char *node_meta = NULL;
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_STR("filter", &q.filter, "string",
		    "Filter to use with the request"),
		CLI_STR("node", &q.name, "id or name", "Node `id or name` for "
		    "which to list services."),
		CLI_STR("node-meta", &node_meta, "key=value", "Metadata to "
		    "filter nodes with the given `key=value` pairs. If "
		    "specified, only services running on nodes matching the "
		    "given metadata will be returned. This flag may be "
		    "specified multiple times to filter on multiple sources "
		    "of metadata."),
		CLI_BOOL("tags", &q.flag, "Display each service's tags as a "
		    "comma-separated list beside each service entry."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, true),
		{ "Command Options", cf, nitems(cf) },
	};
	return cat_main(argc, argv, services_help, fs, nitems(fs), &ho, &q,
	    services_run);
}
