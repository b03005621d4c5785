/*
 * muster keyring -list | -list-primary | -install KEY | -use KEY |
 * -remove KEY [-relay-factor N] [-local-only]: /v1/operator/keyring
 * (consul's command/keyring).  A listing prints, per pool, "WAN:" or
 * "<dc> (LAN):", the nodes' messages, then "  KEY [count/nodes]"; keys
 * are sorted here (Go's map order is random).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"

static const char keyring_help[] =
    "Usage: muster keyring [options]\n"
    "\n"
    "  Manages encryption keys used for gossip messages. Gossip encryption "
    "is\n"
    "  optional. When enabled, this command may be used to examine active "
    "encryption\n"
    "  keys in the cluster, add new keys, and remove old ones. When "
    "combined, this\n"
    "  functionality provides the ability to perform key rotation "
    "cluster-wide,\n"
    "  without disrupting the cluster.\n"
    "\n"
    "  All variations of the keyring command return 0 if all nodes reply "
    "and there\n"
    "  are no errors. If any node fails to reply or reports failure, the "
    "exit code\n"
    "  will be 1.";

struct keyring_opts {
	const char *install, *use, *remove;
	bool list, list_primary, local;
	int64_t relay;
};

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of an object, sorted. */
static size_t
sorted_keys(yajl_val o, const char ***out)
{
	size_t n = YAJL_IS_OBJECT(o) ? o->u.object.len : 0;
	*out = xcalloc(n + 1, sizeof(**out));
	for (size_t i = 0; i < n; i++)
		(*out)[i] = o->u.object.keys[i];
	qsort(*out, n, sizeof(**out), str_cmp);
	return n;
}

static void
print_pool(yajl_val r, bool primary)
{
	const char *dc = cli_json_str(cli_json_get(r, "Datacenter"));
	const char *seg = cli_json_str(cli_json_get(r, "Segment"));
	yajl_val wan = cli_json_get(r, "WAN");
	yajl_val nodes = cli_json_get(r, "NumNodes");
	yajl_val msgs = cli_json_get(r, "Messages");
	yajl_val keys = cli_json_get(r, primary ? "PrimaryKeys" : "Keys");
	const char **k;
	size_t n, i;

	printf("\n");
	if (YAJL_IS_TRUE(wan))
		printf("WAN");
	else
		printf("%s (LAN)", dc ? dc : "");
	if (seg && seg[0])
		printf(" [%s]", seg);
	printf(":\n");
	n = sorted_keys(msgs, &k);
	for (i = 0; i < n; i++) {
		const char *m = cli_json_str(cli_json_get(msgs, k[i]));
		printf("  ===> %s: %s\n", k[i], m ? m : "");
	}
	free(k);
	n = sorted_keys(keys, &k);
	for (i = 0; i < n; i++) {
		yajl_val v = cli_json_get(keys, k[i]);
		printf("  %s [%lld/%lld]\n", k[i], YAJL_IS_INTEGER(v) ?
		    YAJL_GET_INTEGER(v) : 0LL, YAJL_IS_INTEGER(nodes) ?
		    YAJL_GET_INTEGER(nodes) : 0LL);
	}
	free(k);
}

static int
keyring_list(struct cli_client *c, const struct keyring_opts *o)
{
	struct cli_http_resp resp;
	struct buf path, err;
	yajl_val root = NULL;
	char n[24];
	int rc = CLI_EXIT_ERR;

	buf_init(&path);
	buf_init(&err);
	cli_http_resp_init(&resp);
	printf("==> Gathering installed %sencryption keys...\n",
	    o->list_primary ? "primary " : "");
	fflush(stdout);
	buf_addstr(&path, "/v1/operator/keyring");
	if (o->relay > 0) {
		snprintf(n, sizeof(n), "%lld", (long long)o->relay);
		cli_query_add(&path, "relay-factor", n);
	}
	if (o->local)
		cli_query_add(&path, "local-only", "true");
	if (cli_call(c, "GET", (char *)path.data, NULL, 0, &resp,
	    "error") < 0)
		goto out;
	if ((root = cli_json_parse(&resp.body, &err)) == NULL ||
	    !YAJL_IS_ARRAY(root)) {
		fprintf(stderr, "error: %s\n", err.len ? (char *)err.data :
		    "response is not a JSON array");
		goto out;
	}
	for (size_t i = 0; i < root->u.array.len; i++)
		print_pool(root->u.array.values[i], o->list_primary);
	rc = CLI_EXIT_OK;
out:
	yajl_tree_free(root);
	cli_http_resp_free(&resp);
	buf_free(&path);
	buf_free(&err);
	return rc;
}

static int
keyring_change(struct cli_client *c, const struct keyring_opts *o)
{
	const char *method = o->install ? "POST" : o->use ? "PUT" : "DELETE";
	const char *key = o->install ? o->install : o->use ? o->use : o->remove;
	struct buf path, body;
	char n[24];

	printf("==> %s\n", o->install ? "Installing new gossip encryption "
	    "key..." : o->use ? "Changing primary gossip encryption key..." :
	    "Removing gossip encryption key...");
	fflush(stdout);
	buf_init(&path);
	buf_init(&body);
	buf_addstr(&path, "/v1/operator/keyring");
	if (o->relay > 0) {
		snprintf(n, sizeof(n), "%lld", (long long)o->relay);
		cli_query_add(&path, "relay-factor", n);
	}
	struct json_w jw;
	json_w_init(&jw, &body, false);
	json_w_obj_open(&jw);
	json_w_key(&jw, "Key");
	json_w_str(&jw, key);
	json_w_obj_close(&jw);
	json_w_finish(&jw);
	int r = cli_call(c, method, (char *)path.data, body.data, body.len,
	    NULL, "error");
	buf_free(&path);
	buf_free(&body);
	return r < 0 ? CLI_EXIT_ERR : CLI_EXIT_OK;
}

static int
keyring_check(const struct keyring_opts *o, struct cli_flagset *fs,
    size_t nfs)
{
	int n = o->list + o->list_primary + (o->install && o->install[0]) +
	    (o->use && o->use[0]) + (o->remove && o->remove[0]);
	if (n == 0) {
		cli_flags_usage(stderr, keyring_help, fs, nfs);
		return -1;
	}
	if (n > 1) {
		fprintf(stderr, "Only a single action is allowed\n");
		return -1;
	}
	if (o->relay < 0 || o->relay > 5) {
		fprintf(stderr, "Error parsing relay factor: Relay factor must "
		    "be in range: [0, 5]\n");
		return -1;
	}
	if (o->local && !o->list) {
		fprintf(stderr, "Error validating local-only: local-only can "
		    "only be set for list requests\n");
		return -1;
	}
	return 0;
}

int
cli_cmd_keyring(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct keyring_opts o = { 0 };
	struct cli_flag cf[] = {
		CLI_STR("install", &o.install, "string", "Install a new "
		    "encryption key. This will broadcast the new key to all "
		    "members in the cluster."),
		CLI_BOOL("list", &o.list, "List all keys currently in use "
		    "within the cluster."),
		CLI_BOOL("list-primary", &o.list_primary, "List all primary "
		    "keys currently in use within the cluster."),
		CLI_BOOL("local-only", &o.local, "Setting this to true will "
		    "force the keyring query to only hit local servers (no WAN "
		    "traffic). This flag can only be set for list queries."),
		CLI_INT("relay-factor", &o.relay, "int", "Setting this to a "
		    "non-zero value will cause nodes to relay their response "
		    "to the operation through this many randomly-chosen other "
		    "nodes in the cluster. The maximum allowed value is 5."),
		CLI_STR("remove", &o.remove, "string", "Remove the given key "
		    "from the cluster. This operation may only be performed on "
		    "keys which are not currently the primary key."),
		CLI_STR("use", &o.use, "string", "Change the primary encryption "
		    "key, which is used to encrypt messages. The key must "
		    "already be installed before this operation can succeed."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, false),
		{ "Command Options", cf, nitems(cf) },
	};
	struct cli_client c;
	int r;

	if ((r = cli_flags_parse(argc, argv, keyring_help, fs,
	    nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (keyring_check(&o, fs, nitems(fs)) < 0)
		return CLI_EXIT_ERR;
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	if (o.list || o.list_primary)
		r = keyring_list(&c, &o);
	else
		r = keyring_change(&c, &o);
	cli_client_free(&c);
	return r;
}
