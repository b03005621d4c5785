/*
 * muster maint: consul's command/maint.  Node maintenance through
 * PUT /v1/agent/maintenance?enable=true|false[&reason=R], a service's
 * through PUT /v1/agent/service/maintenance/:id?enable=...; both are
 * the agent's critical _node_maintenance / _service_maintenance:<id>
 * checks, which it persists across restarts.
 *
 * Without -enable or -disable the command lists what is in maintenance,
 * from GET /v1/agent/checks and the node name in GET /v1/agent/self:
 *
 *   Node:
 *     Name:   NODE
 *     Reason: NOTES
 *   <blank>
 *   Service:
 *     ID:     SERVICE-ID
 *     Reason: NOTES
 *   <blank>
 *
 * (nothing at all when nothing is in maintenance).  Consul walks a Go
 * map there, so its order varies between runs; muster sorts by check ID,
 * which puts the node first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_catalog.h"

#define MAINT_NODE_CHECK	"_node_maintenance"
#define MAINT_SVC_PREFIX	"_service_maintenance:"

static const char maint_help[] =
    "Usage: muster maint [options]\n"
    "\n"
    "  Places a node or service into maintenance mode. During maintenance "
    "mode,\n"
    "  the node or service will be excluded from all queries through the "
    "DNS\n"
    "  or API interfaces, effectively taking it out of the pool of "
    "available\n"
    "  nodes. This is done by registering an additional critical health "
    "check.\n"
    "\n"
    "  When enabling maintenance mode for a node or service, you may "
    "optionally\n"
    "  specify a reason string. This string will appear in the \"Notes\" "
    "field\n"
    "  of the critical health check which is registered against the node "
    "or\n"
    "  service. If no reason is provided, a default value will be used.\n"
    "\n"
    "  Maintenance mode is persistent, and will be restored in the event "
    "of an\n"
    "  agent restart. It is therefore required to disable maintenance "
    "mode on\n"
    "  a given node or service before it will be placed back into the "
    "pool.\n"
    "\n"
    "  By default, we operate on the node as a whole. By specifying the\n"
    "  \"-service\" argument, this behavior can be changed to enable or "
    "disable\n"
    "  only a specific service.\n"
    "\n"
    "  If no arguments are given, the agent's maintenance status will be "
    "shown.\n"
    "  This will return blank if nothing is currently under maintenance.";

struct maint_opts {
	bool enable, disable;
	const char *reason, *service;
};

static void
maint_print(yajl_val checks, const char *node)
{
	size_t n;
	const char **ids = cli_json_sorted_keys(checks, &n);

	for (size_t i = 0; i < n; i++) {
		yajl_val ck = cli_json_get(checks, ids[i]);
		const char *cid = cli_json_str(cli_json_get(ck, "CheckID"));
		const char *notes = cli_json_str(cli_json_get(ck, "Notes"));
		const char *sid = cli_json_str(cli_json_get(ck, "ServiceID"));

		if (cid == NULL)
			continue;
		if (strcmp(cid, MAINT_NODE_CHECK) == 0)
			printf("Node:\n  Name:   %s\n  Reason: %s\n\n", node,
			    notes ? notes : "");
		else if (strncmp(cid, MAINT_SVC_PREFIX,
		    strlen(MAINT_SVC_PREFIX)) == 0)
			printf("Service:\n  ID:     %s\n  Reason: %s\n\n",
			    sid ? sid : "", notes ? notes : "");
	}
	free(ids);
}

static int
maint_list(struct cli_client *c)
{
	yajl_val self, checks;
	const char *node;

	if ((self = cli_get_json(c, "/v1/agent/self",
	    "Error querying agent")) == NULL)
		return CLI_EXIT_ERR;
	node = cli_json_str(cli_json_get(cli_json_get(self, "Config"),
	    "NodeName"));
	if ((checks = cli_get_json(c, "/v1/agent/checks",
	    "Error getting checks")) == NULL) {
		yajl_tree_free(self);
		return CLI_EXIT_ERR;
	}
	maint_print(checks, node ? node : "");
	yajl_tree_free(checks);
	yajl_tree_free(self);
	return CLI_EXIT_OK;
}

/* Enable or disable, for the node or one service; the exit code. */
static int
maint_set(struct cli_client *c, const struct maint_opts *o)
{
	const char *state = o->enable ? "enabled" : "disabled";
	struct buf path, what;
	bool svc = o->service && *o->service;
	int rc;

	buf_init(&path);
	buf_init(&what);
	if (svc) {
		buf_addstr(&path, "/v1/agent/service/maintenance/");
		cli_url_escape(&path, o->service, false);
	} else
		buf_addstr(&path, "/v1/agent/maintenance");
	cli_query_add(&path, "enable", o->enable ? "true" : "false");
	/* The Go client sends reason only when enabling, empty or not. */
	if (o->enable)
		cli_query_add(&path, "reason", o->reason ? o->reason : "");
	buf_printf(&what, "Error %s %s maintenance", o->enable ? "enabling" :
	    "disabling", svc ? "service" : "node");
	rc = cli_call(c, "PUT", (char *)path.data, NULL, 0, NULL,
	    (char *)what.data);
	if (rc == 0 && svc) {
		buf_reset(&what);
		cli_go_quote(&what, o->service);
		printf("Service maintenance is now %s for %s\n", state,
		    (char *)what.data);
	} else if (rc == 0)
		printf("Node maintenance is now %s\n", state);
	buf_free(&path);
	buf_free(&what);
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_ERR;
}

int
cli_cmd_maint(int argc, char **argv)
{
	struct maint_opts o = { 0 };
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_BOOL("disable", &o.disable, "Disable maintenance mode."),
		CLI_BOOL("enable", &o.enable, "Enable maintenance mode."),
		CLI_STR("reason", &o.reason, "string",
		    "Text describing the maintenance reason."),
		CLI_STR("service", &o.service, "string",
		    "Control maintenance mode for a specific service ID."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, false),
		{ "Command Options", cf, nitems(cf) },
	};
	struct cli_client c;
	int r;

	if ((r = cli_flags_parse(argc, argv, maint_help, fs, nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (o.enable && o.disable) {
		fprintf(stderr, "Only one of -enable or -disable may be "
		    "provided\n");
		return CLI_EXIT_ERR;
	}
	if (!o.enable && o.reason && *o.reason) {
		fprintf(stderr, "Reason may only be provided with -enable\n");
		return CLI_EXIT_ERR;
	}
	if (!o.enable && !o.disable && o.service && *o.service) {
		fprintf(stderr, "Service requires either -enable or "
		    "-disable\n");
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	r = o.enable || o.disable ? maint_set(&c, &o) : maint_list(&c);
	cli_client_free(&c);
	return r;
}
