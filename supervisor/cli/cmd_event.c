/*
 * muster event -name=NAME [-node RE] [-service RE] [-tag RE] [payload]:
 * PUT /v1/event/fire/NAME (consul's command/event).  The filters are
 * checked as Go regexps first, as consul does before asking the agent.
 */
#include <stdio.h>
#include <string.h>

#include "lib/bexpr_int.h"
#include "lib/util.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"

static const char event_help[] =
    "Usage: muster event [options] [payload]\n"
    "\n"
    "  Dispatches a custom user event across a datacenter. An event must "
    "provide\n"
    "  a name, but a payload is optional. Events support filtering using\n"
    "  regular expressions on node name, service, and tag definitions.";

struct event_opts {
	const char *name, *node, *service, *tag;
};

static bool
re_ok(const char *pat, const char *what)
{
	struct bx_re *re;
	struct buf err;
	if (pat == NULL || pat[0] == '\0')
		return true;
	buf_init(&err);
	int r = bx_re_compile(pat, strlen(pat), &re, &err);
	if (r < 0)
		fprintf(stderr, "Failed to compile %s filter regexp: %s\n",
		    what, err.len ? (char *)err.data : "invalid");
	else
		bx_re_free(re);
	buf_free(&err);
	return r == 0;
}

static int
event_fire(struct cli_client *c, const struct event_opts *o,
    const char *payload)
{
	struct cli_http_resp resp;
	struct buf path, err;
	yajl_val root = NULL;
	int rc = CLI_EXIT_ERR;

	buf_init(&path);
	buf_init(&err);
	cli_http_resp_init(&resp);
	/* consul checks the agent answers first (agent.NodeName()). */
	if (cli_call(c, "GET", "/v1/agent/self", NULL, 0, NULL,
	    "Error querying Muster agent") < 0)
		goto out;
	buf_addstr(&path, "/v1/event/fire/");
	cli_url_escape(&path, o->name, false);
	if (o->node && o->node[0])
		cli_query_add(&path, "node", o->node);
	if (o->service && o->service[0])
		cli_query_add(&path, "service", o->service);
	if (o->tag && o->tag[0])
		cli_query_add(&path, "tag", o->tag);
	if (cli_call(c, "PUT", (char *)path.data, payload, payload ?
	    strlen(payload) : 0, &resp, "Error firing event") < 0)
		goto out;
	if ((root = cli_json_parse(&resp.body, &err)) == NULL) {
		fprintf(stderr, "Error firing event: %s\n", (char *)err.data);
		goto out;
	}
	const char *id = cli_json_str(cli_json_get(root, "ID"));
	printf("Event ID: %s\n", id ? id : "");
	rc = CLI_EXIT_OK;
out:
	yajl_tree_free(root);
	cli_http_resp_free(&resp);
	buf_free(&path);
	buf_free(&err);
	return rc;
}

int
cli_cmd_event(int argc, char **argv)
{
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct event_opts o = { 0 };
	struct cli_flag cf[] = {
		CLI_STR("name", &o.name, "string", "Name of the event."),
		CLI_STR("node", &o.node, "string", "Regular expression to "
		    "filter on node names."),
		CLI_STR("service", &o.service, "string", "Regular expression "
		    "to filter on service instances."),
		CLI_STR("tag", &o.tag, "string", "Regular expression to filter "
		    "on service tags. Must be used with -service."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, false),
		{ "Command Options", cf, nitems(cf) },
	};
	struct cli_client c;
	int r;

	if ((r = cli_flags_parse(argc, argv, event_help, fs, nitems(fs))) < 1)
		return cli_flags_exit(r);
	if (o.name == NULL || o.name[0] == '\0') {
		fprintf(stderr, "Event name must be specified\n\n");
		cli_flags_usage(stderr, event_help, fs, nitems(fs));
		return CLI_EXIT_ERR;
	}
	if (!re_ok(o.node, "node") || !re_ok(o.service, "service") ||
	    !re_ok(o.tag, "tag"))
		return CLI_EXIT_ERR;
	if (o.tag && o.tag[0] && (o.service == NULL || o.service[0] == '\0')) {
		fprintf(stderr, "Cannot provide tag filter without service "
		    "filter.\n");
		return CLI_EXIT_ERR;
	}
	if (argc - r > 1) {
		fprintf(stderr, "Too many command line arguments.\n\n");
		cli_flags_usage(stderr, event_help, fs, nitems(fs));
		return CLI_EXIT_ERR;
	}
	if (cli_client_open(&c, &ho) < 0)
		return CLI_EXIT_ERR;
	r = event_fire(&c, &o, r < argc ? argv[r] : NULL);
	cli_client_free(&c);
	return r;
}
