/*
 * muster operator raft list-peers | remove-peer | transfer-leader and
 * muster operator autopilot get-config | set-config | state: consul's
 * command/operator/raft and command/operator/autopilot over the HTTP API
 * (api/operator_raft.go, operator_autopilot.go).  list-peers joins the
 * Raft configuration with autopilot's health for the Commit Index and
 * Trails Leader By columns; the health endpoint answers 429 when the
 * cluster is unhealthy, which the Go client accepts.  set-config reads
 * the configuration, changes what was given, and writes it back with
 * ?cas=ModifyIndex.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/duration.h"
#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_kv.h"
#include "supervisor/cli/table.h"

/* Parse flags with the HTTP and server options (cli_flags_parse). */
static int
op_flags(int argc, char **argv, const char *help, struct cli_http_opts *ho,
    struct cli_flag *own, size_t nown)
{
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(ho, hf, true),
		{ "Command Options", own, nown },
	};
	return cli_flags_parse(argc, argv, help, fs, nown ? 2 : 1);
}

/* GET path and parse the JSON; NULL after printing "<what>: ...". */
static yajl_val
get_json(struct cli_client *c, const char *path, const char *what,
    bool allow_429)
{
	struct cli_http_resp r;
	struct buf err;
	yajl_val v = NULL;
	cli_http_resp_init(&r);
	buf_init(&err);
	if (allow_429) {
		if (cli_request(c, "GET", path, NULL, 0, &r, &err) < 0)
			fprintf(stderr, "%s: %s\n", what, (char *)err.data);
		else if (r.status != 200 && r.status != 429)
			fprintf(stderr, "%s: Unexpected response code: %d (%s)\n",
			    what, r.status, (char *)r.body.data);
		else if ((v = cli_json_parse(&r.body, &err)) == NULL)
			fprintf(stderr, "%s: %s\n", what, (char *)err.data);
	} else if (cli_call(c, "GET", path, NULL, 0, &r, what) == 0 &&
	    (v = cli_json_parse(&r.body, &err)) == NULL)
		fprintf(stderr, "%s: %s\n", what, (char *)err.data);
	cli_http_resp_free(&r);
	buf_free(&err);
	return v;
}

static const char *
jstr(yajl_val o, const char *k)
{
	const char *s = cli_json_str(cli_json_get(o, k));
	return s ? s : "";
}

static uint64_t
juint(yajl_val o, const char *k)
{
	yajl_val v = cli_json_get(o, k);
	return YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0 ?
	    (uint64_t)YAJL_GET_INTEGER(v) : 0;
}

static bool
jbool(yajl_val o, const char *k)
{
	return YAJL_IS_TRUE(cli_json_get(o, k));
}

/* ---- raft ------------------------------------------------------------ */

static const char list_help[] =
    "Usage: muster operator raft list-peers [options]\n"
    "\n"
    "  Displays the current Raft peer configuration.";

static yajl_val
health_of(yajl_val health, const char *id)
{
	yajl_val s = cli_json_get(health, "Servers");
	for (size_t i = 0; YAJL_IS_ARRAY(s) && i < s->u.array.len; i++)
		if (strcmp(jstr(s->u.array.values[i], "ID"), id) == 0)
			return s->u.array.values[i];
	return NULL;
}

static void
peer_row(struct cli_table *t, yajl_val s, yajl_val h, uint64_t leader_idx)
{
	const char *proto = jstr(s, "ProtocolVersion");
	bool leader = jbool(s, "Leader");
	char idx[32], trails[48];
	if (*proto == '\0')
		proto = "<=1";
	if (h == NULL) {
		cli_table_add(t, jstr(s, "Node"), jstr(s, "ID"),
		    jstr(s, "Address"), leader ? "leader" : "follower",
		    jbool(s, "Voter") ? "true" : "false", proto, "_", NULL);
		return;
	}
	uint64_t li = juint(h, "LastIndex"), by = leader_idx - li;
	snprintf(idx, sizeof(idx), "%" PRIu64, li);
	if (leader)
		snprintf(trails, sizeof(trails), "_");
	else
		snprintf(trails, sizeof(trails), "%" PRIu64 " Commit%s", by,
		    by <= 1 ? "" : "s");
	cli_table_add(t, jstr(s, "Node"), jstr(s, "ID"), jstr(s, "Address"),
	    leader ? "leader" : "follower", jbool(s, "Voter") ? "true" :
	    "false", proto, idx, trails, NULL);
}

static int
list_peers(struct cli_client *c)
{
	yajl_val conf = get_json(c, "/v1/operator/raft/configuration",
	    "Error getting peers: Failed to retrieve raft configuration", false);
	if (conf == NULL)
		return CLI_EXIT_ERR;
	yajl_val health = get_json(c, "/v1/operator/autopilot/health",
	    "Error getting peers: Failed to retrieve autopilot health", true);
	if (health == NULL) {
		yajl_tree_free(conf);
		return CLI_EXIT_ERR;
	}
	yajl_val ss = cli_json_get(conf, "Servers");
	size_t n = YAJL_IS_ARRAY(ss) ? ss->u.array.len : 0;
	uint64_t leader_idx = 0;
	for (size_t i = 0; i < n; i++)
		if (jbool(ss->u.array.values[i], "Leader")) {
			yajl_val h = health_of(health,
			    jstr(ss->u.array.values[i], "ID"));
			leader_idx = h ? juint(h, "LastIndex") : 0;
		}
	struct cli_table t;
	cli_table_init(&t);
	cli_table_add(&t, "Node", "ID", "Address", "State", "Voter",
	    "RaftProtocol", "Commit Index", "Trails Leader By", NULL);
	for (size_t i = 0; i < n; i++)
		peer_row(&t, ss->u.array.values[i], health_of(health,
		    jstr(ss->u.array.values[i], "ID")), leader_idx);
	cli_table_print(stdout, &t);
	cli_table_free(&t);
	yajl_tree_free(conf);
	yajl_tree_free(health);
	return CLI_EXIT_OK;
}

static int
cmd_list_peers(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_client c;
	int r = op_flags(argc, argv, list_help, &ho, NULL, 0);
	if (r < 1)
		return cli_flags_exit(r);
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	r = list_peers(&c);
	cli_client_free(&c);
	return r;
}

static const char remove_help[] =
    "Usage: muster operator raft remove-peer [options]\n"
    "\n"
    "  Remove the Muster server with given -address from the Raft "
    "configuration.\n"
    "\n"
    "  There are rare cases where a peer may be left behind in the Raft "
    "quorum even\n"
    "  though the server is no longer present and known to the cluster. "
    "This command\n"
    "  can be used to remove the failed server so that it is no longer "
    "affects the Raft\n"
    "  quorum. If the server still shows in the output of the \"muster "
    "members\" command,\n"
    "  it is preferable to clean up by simply running \"muster "
    "force-leave\" instead of\n"
    "  this command.";

static int
cmd_remove_peer(int argc, char **argv)
{
	const char *addr = "", *id = "";
	struct cli_flag own[] = {
		CLI_STR("address", &addr, "string",
		    "The address to remove from the Raft configuration."),
		CLI_STR("id", &id, "string",
		    "The ID to remove from the Raft configuration."),
	};
	struct cli_http_opts ho = { 0 };
	struct cli_client c;
	struct buf path;
	int r = op_flags(argc, argv, remove_help, &ho, own, nitems(own));
	if (r < 1)
		return cli_flags_exit(r);
	if (*addr == '\0' && *id == '\0') {
		fprintf(stderr, "Error removing peer: an address or id is "
		    "required for the peer to remove\n");
		return CLI_EXIT_ERR;
	}
	if (*addr && *id) {
		fprintf(stderr, "Error removing peer: cannot give both an "
		    "address and id\n");
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	buf_init(&path);
	buf_addstr(&path, "/v1/operator/raft/peer");
	cli_query_add(&path, *addr ? "address" : "id", *addr ? addr : id);
	r = cli_call(&c, "DELETE", (char *)path.data, NULL, 0, NULL,
	    "Error removing peer");
	if (r == 0)
		printf("Removed peer with %s \"%s\"\n", *addr ? "address" : "id",
		    *addr ? addr : id);
	buf_free(&path);
	cli_client_free(&c);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERR;
}

static const char transfer_help[] =
    "Usage: muster operator raft transfer-leader [options]\n"
    "\n"
    "  Transfer raft leadership to another node.";

static int
cmd_transfer_leader(int argc, char **argv)
{
	const char *id = "";
	struct cli_flag own[] = {
		CLI_STR("id", &id, "string",
		    "The ID of the node to transfer leadership to."),
	};
	struct cli_http_opts ho = { 0 };
	struct cli_http_resp resp;
	struct cli_client c;
	struct buf path, err;
	int r = op_flags(argc, argv, transfer_help, &ho, own, nitems(own));
	if (r < 1)
		return cli_flags_exit(r);
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	buf_init(&path);
	buf_init(&err);
	cli_http_resp_init(&resp);
	buf_addstr(&path, "/v1/operator/raft/transfer-leader");
	if (*id)
		cli_query_add(&path, "id", id);
	r = cli_call(&c, "POST", (char *)path.data, NULL, 0, &resp,
	    "Error transfering leadership: Failed to transfer leadership");
	yajl_val v = r == 0 ? cli_json_parse(&resp.body, &err) : NULL;
	if (r == 0 && !jbool(v, "Success")) {
		fprintf(stderr, "Error transfering leadership: Failed to "
		    "transfer leadership\n");
		r = -1;
	} else if (r == 0)
		printf("Success\n");
	yajl_tree_free(v);
	cli_http_resp_free(&resp);
	buf_free(&path);
	buf_free(&err);
	cli_client_free(&c);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERR;
}

static const char raft_help[] =
    "Usage: muster operator raft <subcommand> [options]\n"
    "\n"
    "  The Raft operator command is used to interact with Muster's Raft "
    "subsystem. The\n"
    "  command can be used to verify Raft peers or in rare cases to recover "
    "quorum by\n"
    "  removing invalid peers.";

static const struct cli_cmd raft_cmds[] = {
	{ "list-peers", cmd_list_peers,
	    "Display the current Raft peer configuration" },
	{ "remove-peer", cmd_remove_peer,
	    "Remove a Muster server from the Raft configuration" },
	{ "transfer-leader", cmd_transfer_leader,
	    "Transfer raft leadership to another node" },
};

static int
cmd_raft(int argc, char **argv)
{
	return cli_dispatch(raft_help, raft_cmds, nitems(raft_cmds), argc, argv);
}

/* ---- autopilot ---------------------------------------------------------- */

static const char get_help[] =
    "Usage: muster operator autopilot get-config [options]\n"
    "\n"
    "  Displays the current Autopilot configuration.";

static int
cmd_get_config(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_client c;
	int r = op_flags(argc, argv, get_help, &ho, NULL, 0);
	if (r < 1)
		return cli_flags_exit(r);
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	yajl_val v = get_json(&c, "/v1/operator/autopilot/configuration",
	    "Error querying Autopilot configuration", false);
	cli_client_free(&c);
	if (v == NULL)
		return CLI_EXIT_ERR;
	printf("CleanupDeadServers = %s\n", jbool(v, "CleanupDeadServers") ?
	    "true" : "false");
	printf("LastContactThreshold = %s\n", jstr(v, "LastContactThreshold"));
	printf("MaxTrailingLogs = %" PRIu64 "\n", juint(v, "MaxTrailingLogs"));
	printf("MinQuorum = %" PRIu64 "\n", juint(v, "MinQuorum"));
	printf("ServerStabilizationTime = %s\n",
	    jstr(v, "ServerStabilizationTime"));
	/* Go's %q. */
	struct buf q;
	buf_init(&q);
	kv_json_string(&q, jstr(v, "RedundancyZoneTag"),
	    strlen(jstr(v, "RedundancyZoneTag")));
	printf("RedundancyZoneTag = %s\n", (char *)q.data);
	printf("DisableUpgradeMigration = %s\n",
	    jbool(v, "DisableUpgradeMigration") ? "true" : "false");
	buf_reset(&q);
	kv_json_string(&q, jstr(v, "UpgradeVersionTag"),
	    strlen(jstr(v, "UpgradeVersionTag")));
	printf("UpgradeVersionTag = %s\n", (char *)q.data);
	buf_free(&q);
	yajl_tree_free(v);
	return CLI_EXIT_OK;
}

static const char set_help[] =
    "Usage: muster operator autopilot set-config [options]\n"
    "\n"
    "  Modifies the current Autopilot configuration.";

struct set_opts {
	const char *cleanup, *trailing, *quorum, *contact, *stabilization;
	const char *zone_tag, *disable_migration, *version_tag;
	struct cli_flag f[8];
};

/* One given flag into the JSON document; -1 after printing the error. */
static int
set_field(struct buf *body, const struct cli_flag *f, const char *key,
    char kind)
{
	const char *v = *(const char **)f->val;
	bool b;
	int64_t ns;
	char *end;
	if (!f->set)
		return 0;
	if (kind == 'b' && cli_parse_bool(v, &b) < 0)
		goto bad;
	if (kind == 'd' && duration_parse(v, strlen(v), &ns) < 0)
		goto bad;
	if (kind == 'u' && (strtoull(v, &end, 10), *v == '\0' || *end ||
	    *v == '-'))
		goto bad;
	buf_printf(body, "%s\"%s\":", body->len > 1 ? "," : "", key);
	if (kind == 'b')
		buf_addstr(body, b ? "true" : "false");
	else if (kind == 'u')
		buf_addstr(body, v);
	else
		kv_json_string(body, v, strlen(v));
	return 0;
bad:
	fprintf(stderr, "Failed to parse args: invalid value \"%s\" for flag "
	    "-%s\n", v, f->name);
	return -1;
}

static const char *const set_keys[] = { "CleanupDeadServers",
	"MaxTrailingLogs", "MinQuorum", "LastContactThreshold",
	"ServerStabilizationTime", "RedundancyZoneTag",
	"DisableUpgradeMigration", "UpgradeVersionTag" };
/* b bool, u unsigned, d duration, s string: as the flags, in order. */
static const char set_kinds[] = "buuddsbs";

static bool
overridden(const struct set_opts *o, const char *key)
{
	for (size_t i = 0; i < nitems(set_keys); i++)
		if (o->f[i].set && strcmp(set_keys[i], key) == 0)
			return true;
	return false;
}

/* The current configuration with the given flags' values instead. */
static int
set_body(const struct set_opts *o, yajl_val cur, struct buf *body)
{
	buf_addch(body, '{');
	for (size_t i = 0; YAJL_IS_OBJECT(cur) && i < cur->u.object.len; i++) {
		const char *k = cur->u.object.keys[i];
		yajl_val v = cur->u.object.values[i];
		if (overridden(o, k))
			continue;
		buf_printf(body, "%s\"%s\":", body->len > 1 ? "," : "", k);
		if (YAJL_IS_STRING(v))
			kv_json_string(body, v->u.string, strlen(v->u.string));
		else if (YAJL_IS_NUMBER(v))
			buf_addstr(body, YAJL_GET_NUMBER(v));
		else
			buf_addstr(body, YAJL_IS_TRUE(v) ? "true" : "false");
	}
	for (size_t i = 0; i < nitems(set_keys); i++)
		if (set_field(body, &o->f[i], set_keys[i], set_kinds[i]) < 0)
			return -1;
	buf_addch(body, '}');
	return 0;
}

static int
autopilot_set(struct cli_client *c, struct set_opts *o)
{
	struct cli_http_resp resp;
	struct buf body, path;
	int rc = CLI_EXIT_ERR;
	yajl_val cur = get_json(c, "/v1/operator/autopilot/configuration",
	    "Error querying Autopilot configuration", false);
	if (cur == NULL)
		return CLI_EXIT_ERR;
	buf_init(&body);
	buf_init(&path);
	cli_http_resp_init(&resp);
	buf_printf(&path, "/v1/operator/autopilot/configuration?cas=%" PRIu64,
	    juint(cur, "ModifyIndex"));
	if (set_body(o, cur, &body) == 0 &&
	    cli_call(c, "PUT", (char *)path.data, body.data, body.len, &resp,
	    "Error setting Autopilot configuration") == 0) {
		if (resp.body.len >= 4 && memcmp(resp.body.data, "true", 4) == 0) {
			printf("Configuration updated!\n");
			rc = CLI_EXIT_OK;
		} else
			printf("Configuration could not be atomically updated, "
			    "please try again\n");
	}
	yajl_tree_free(cur);
	cli_http_resp_free(&resp);
	buf_free(&body);
	buf_free(&path);
	return rc;
}

static int
cmd_set_config(int argc, char **argv)
{
	struct set_opts o = { "", "", "", "", "", "", "", "",
	    .f = {
		CLI_STR("cleanup-dead-servers", &o.cleanup, "bool",
		    "Controls whether Muster will automatically remove dead "
		    "servers when new ones are successfully added. Must be one "
		    "of `true|false`."),
		CLI_STR("max-trailing-logs", &o.trailing, "uint",
		    "Controls the maximum number of log entries that a server "
		    "can trail the leader by before being considered unhealthy."),
		CLI_STR("min-quorum", &o.quorum, "uint", "Sets the minimum "
		    "number of servers required in a cluster before autopilot "
		    "is allowed to prune dead servers."),
		CLI_STR("last-contact-threshold", &o.contact, "duration",
		    "Controls the maximum amount of time a server can go "
		    "without contact from the leader before being considered "
		    "unhealthy. Must be a duration value such as `200ms`."),
		CLI_STR("server-stabilization-time", &o.stabilization,
		    "duration", "Controls the minimum amount of time a server "
		    "must be stable in the 'healthy' state before being added "
		    "to the cluster. Must be a duration value such as `10s`."),
		CLI_STR("redundancy-zone-tag", &o.zone_tag, "string",
		    "(Enterprise-only) Controls the node_meta tag name used for "
		    "separating servers into different redundancy zones."),
		CLI_STR("disable-upgrade-migration", &o.disable_migration,
		    "bool", "(Enterprise-only) Controls whether Muster will "
		    "avoid promoting new servers until it can perform a "
		    "migration. Must be one of `true|false`."),
		CLI_STR("upgrade-version-tag", &o.version_tag, "string",
		    "(Enterprise-only) The node_meta tag to use for version "
		    "info when performing upgrade migrations."),
	} };
	struct cli_http_opts ho = { 0 };
	struct cli_client c;
	int r = op_flags(argc, argv, set_help, &ho, o.f, nitems(o.f));
	if (r < 1)
		return cli_flags_exit(r);
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	r = autopilot_set(&c, &o);
	cli_client_free(&c);
	return r;
}

static const char state_help[] =
    "Usage: muster operator autopilot state [options]\n"
    "\n"
    "  Displays the current Autopilot state.";

static int
key_cmp(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	return strcmp(*x, *y);
}

/* Keys of an object, sorted when it is a Go map (Go sorts map keys). */
static const char **
keys_of(yajl_val o, bool sort)
{
	size_t n = o->u.object.len;
	const char **k = xcalloc(n + 1, sizeof(*k));
	for (size_t i = 0; i < n; i++)
		k[i] = o->u.object.keys[i];
	if (sort)
		qsort(k, n, sizeof(*k), key_cmp);
	return k;
}

/* json.MarshalIndent(v, "", "    "); the maps are Servers and Meta. */
static void
go_json(struct buf *out, yajl_val v, int depth, bool map)
{
	if (YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v)) {
		bool obj = YAJL_IS_OBJECT(v);
		size_t n = obj ? v->u.object.len : v->u.array.len;
		const char **k = obj ? keys_of(v, map) : NULL;
		buf_addch(out, obj ? '{' : '[');
		for (size_t i = 0; i < n; i++) {
			buf_printf(out, "%s\n%*s", i ? "," : "", (depth + 1) * 4,
			    "");
			if (obj) {
				kv_json_string(out, k[i], strlen(k[i]));
				buf_addstr(out, ": ");
				go_json(out, cli_json_get(v, k[i]), depth + 1,
				    strcmp(k[i], "Servers") == 0 ||
				    strcmp(k[i], "Meta") == 0);
			} else
				go_json(out, v->u.array.values[i], depth + 1,
				    false);
		}
		if (n)
			buf_printf(out, "\n%*s", depth * 4, "");
		buf_addch(out, obj ? '}' : ']');
		free(k);
	} else if (YAJL_IS_STRING(v))
		kv_json_string(out, v->u.string, strlen(v->u.string));
	else if (YAJL_IS_NUMBER(v))
		buf_addstr(out, YAJL_GET_NUMBER(v));
	else
		buf_addstr(out, YAJL_IS_TRUE(v) ? "true" : YAJL_IS_FALSE(v) ?
		    "false" : "null");
}

static void
pretty_server(const char *id, yajl_val s)
{
	yajl_val meta = cli_json_get(s, "Meta");
	printf("   %s\n", id);
	printf("      Name:            %s\n", jstr(s, "Name"));
	printf("      Address:         %s\n", jstr(s, "Address"));
	printf("      Version:         %s\n", jstr(s, "Version"));
	printf("      Status:          %s\n", jstr(s, "Status"));
	printf("      Node Type:       %s\n", jstr(s, "NodeType"));
	printf("      Node Status:     %s\n", jstr(s, "NodeStatus"));
	printf("      Healthy:         %s\n", jbool(s, "Healthy") ? "true" :
	    "false");
	printf("      Last Contact:    %s\n", jstr(s, "LastContact"));
	printf("      Last Term:       %" PRIu64 "\n", juint(s, "LastTerm"));
	printf("      Last Index:      %" PRIu64 "\n", juint(s, "LastIndex"));
	if (YAJL_IS_OBJECT(meta) && meta->u.object.len) {
		const char **k = keys_of(meta, true);
		struct buf a, b;
		printf("      Meta\n");
		buf_init(&a);
		buf_init(&b);
		for (size_t i = 0; i < meta->u.object.len; i++) {
			buf_reset(&a);
			buf_reset(&b);
			kv_json_string(&a, k[i], strlen(k[i]));
			kv_json_string(&b, jstr(meta, k[i]),
			    strlen(jstr(meta, k[i])));
			printf("         %s: %s\n", (char *)a.data,
			    (char *)b.data);
		}
		buf_free(&a);
		buf_free(&b);
		free(k);
	}
}

/* command/operator/autopilot/state's pretty formatter (CE fields). */
static void
pretty_state(yajl_val st)
{
	yajl_val voters = cli_json_get(st, "Voters");
	yajl_val servers = cli_json_get(st, "Servers");
	printf("Healthy:                      %s\n", jbool(st, "Healthy") ?
	    "true" : "false");
	printf("Failure Tolerance:            %" PRIu64 "\n",
	    juint(st, "FailureTolerance"));
	printf("Optimistic Failure Tolerance: %" PRIu64 "\n",
	    juint(st, "OptimisticFailureTolerance"));
	printf("Leader:                       %s\n", jstr(st, "Leader"));
	printf("Voters:\n");
	for (size_t i = 0; YAJL_IS_ARRAY(voters) && i < voters->u.array.len;
	    i++) {
		const char *v = cli_json_str(voters->u.array.values[i]);
		printf("   %s\n", v ? v : "");
	}
	printf("Servers:\n");
	if (!YAJL_IS_OBJECT(servers))
		return;
	const char **k = keys_of(servers, true);
	for (size_t i = 0; i < servers->u.object.len; i++)
		pretty_server(k[i], cli_json_get(servers, k[i]));
	free(k);
}

static int
cmd_state(int argc, char **argv)
{
	const char *format = "pretty";
	struct cli_flag own[] = {
		CLI_STR("format", &format, "string",
		    "Output format {pretty|json}"),
	};
	struct cli_http_opts ho = { 0 };
	struct cli_client c;
	int r = op_flags(argc, argv, state_help, &ho, own, nitems(own));
	if (r < 1)
		return cli_flags_exit(r);
	if (strcmp(format, "pretty") != 0 && strcmp(format, "json") != 0) {
		fprintf(stderr, "Error: Unknown format: %s\n", format);
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	yajl_val st = get_json(&c, "/v1/operator/autopilot/state",
	    "Error querying Autopilot state", false);
	cli_client_free(&c);
	if (st == NULL)
		return CLI_EXIT_ERR;
	if (strcmp(format, "json") == 0) {
		struct buf out;
		buf_init(&out);
		go_json(&out, st, 0, false);
		printf("%s\n", (char *)out.data);
		buf_free(&out);
	} else
		pretty_state(st);
	yajl_tree_free(st);
	return CLI_EXIT_OK;
}

static const char autopilot_help[] =
    "Usage: muster operator autopilot <subcommand> [options]\n"
    "\n"
    "  The Autopilot operator command is used to interact with Muster's "
    "Autopilot\n"
    "  subsystem. The command can be used to view or modify the current "
    "configuration.";

static const struct cli_cmd autopilot_cmds[] = {
	{ "get-config", cmd_get_config,
	    "Display the current Autopilot configuration" },
	{ "set-config", cmd_set_config,
	    "Modify the current Autopilot configuration" },
	{ "state", cmd_state, "Display the current Autopilot State" },
};

static int
cmd_autopilot(int argc, char **argv)
{
	return cli_dispatch(autopilot_help, autopilot_cmds,
	    nitems(autopilot_cmds), argc, argv);
}

static const char operator_help[] =
    "Usage: muster operator <subcommand> [options]\n"
    "\n"
    "  Provides cluster-level tools for Muster operators, such as "
    "interacting with\n"
    "  the Raft subsystem. NOTE: Use this command with extreme caution, as "
    "improper\n"
    "  use could lead to a Muster outage and even loss of data.\n"
    "\n"
    "  Run muster operator <subcommand> with no arguments for help on that\n"
    "  subcommand.";

static const struct cli_cmd operator_cmds[] = {
	{ "autopilot", cmd_autopilot,
	    "Provides tools for modifying Autopilot configuration" },
	{ "raft", cmd_raft, "Provides cluster-level tools for Muster operators" },
};

int
cli_cmd_operator(int argc, char **argv)
{
	return cli_dispatch(operator_help, operator_cmds, nitems(operator_cmds),
	    argc, argv);
}
