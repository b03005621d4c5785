/*
 * muster services register|deregister: consul's command/services, over
 * PUT /v1/agent/service/register and /v1/agent/service/deregister/:id
 * on the agent addressed (the services are that agent's own).
 *
 * Services come either from flags (-name, -id, -address, -port,
 * -socket, -kind, -tag and -meta / -tagged-address, those three
 * repeatable) or from config files given as arguments, read as the agent
 * reads -config-file in -dev mode (consul's ServicesFromFiles builds a
 * dev config too): every "service" and "services" definition in them is
 * sent as written, since the agent's endpoint accepts the same spellings
 * (snake_case, any case) as config files.  Not both.
 *
 * Output and errors are consul's:
 *   Registered service: NAME             Deregistered service: ID
 *   Error registering service "NAME": Unexpected response code: 400 (...)
 *   Error deregistering service "NAME": ...   (NAME "" with -id)
 * The first failure stops the command with exit 1; services before it
 * stay registered (or deregistered), as with consul.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "supervisor/cli/api.h"
#include "supervisor/cli/cli.h"
#include "supervisor/cli/cmd_catalog.h"
#include "supervisor/config.h"

static const char services_help[] =
    "Usage: muster services <subcommand> [options] [args]\n"
    "\n"
    "  This command has subcommands for interacting with services. The "
    "subcommands\n"
    "  default to working with services registered with the local agent. "
    "Please see\n"
    "  the \"muster catalog\" command for interacting with the entire "
    "catalog.\n"
    "\n"
    "  For more examples, ask for subcommand help or view the "
    "documentation.";

static const char register_help[] =
    "Usage: muster services register [options] [FILE...]\n"
    "\n"
    "  Register one or more services using the local agent API. Services "
    "can\n"
    "  be registered from standard Muster configuration files (JSON) or\n"
    "  using flags. The service is registered and the command returns. "
    "The caller\n"
    "  must remember to call \"muster services deregister\" or a similar "
    "API to\n"
    "  deregister the service when complete.\n"
    "\n"
    "      $ muster services register web.json\n"
    "\n"
    "  Additional flags and more advanced use cases are detailed below.";

static const char deregister_help[] =
    "Usage: muster services deregister [options] [FILE...]\n"
    "\n"
    "  Deregister one or more services that were previously registered "
    "with\n"
    "  the local agent.\n"
    "\n"
    "      $ muster services deregister web.json db.json\n"
    "\n"
    "  The -id flag may be used to deregister a single service by ID:\n"
    "\n"
    "      $ muster services deregister -id=web\n"
    "\n"
    "  Services are deregistered from the local agent catalog. This "
    "command must\n"
    "  be run against the same agent where the service was registered.";

static const struct cli_cmd services_cmds[] = {
	{ "deregister", cli_cmd_services_deregister,
	    "Deregister services with the local agent" },
	{ "register", cli_cmd_services_register,
	    "Register services with the local agent" },
};

int
cli_cmd_services(int argc, char **argv)
{
	return cli_dispatch(services_help, services_cmds,
	    nitems(services_cmds), argc, argv);
}

/* ---- definitions from files ---- */

/*
 * The definitions in files[0..n), compact JSON each, in the agent's
 * order.  NULL after printing "Error: <config error>".
 */
static struct agent_config *
svc_load_files(int n, char **files)
{
	char **av = xcalloc((size_t)n * 2 + 2, sizeof(*av));
	struct agent_config *cfg = NULL;
	struct buf err;
	int ac = 0;

	av[ac++] = (char *)"-dev";
	for (int i = 0; i < n; i++) {
		av[ac++] = (char *)"-config-file";
		av[ac++] = files[i];
	}
	buf_init(&err);
	if (cfg_load(ac, av, &cfg, &err) < 0) {
		const char *m = err.len ? (char *)err.data : "invalid config";

		if (strncmp(m, "config: ", 8) == 0)
			m += 8;
		fprintf(stderr, "Error: %s\n", m);
		cfg = NULL;
	}
	buf_free(&err);
	free(av);
	return cfg;
}

/* A definition's Name and ID, matched as the agent matches them. */
static void
svc_ident(const char *def, char **name, char **id)
{
	yajl_val o = json_parse(def, strlen(def), NULL);
	const char *s;

	*name = xstrdup(json_as_str(json_get_loose(o, "Name"), &s) ? s : "");
	*id = xstrdup(json_as_str(json_get_loose(o, "ID"), &s) ? s : "");
	yajl_tree_free(o);
}

/* ---- register ---- */

struct reg_flags {
	const char *id, *name, *address, *socket, *kind;
	int64_t port;
	struct cli_strv tags, meta, tagged;
};

/* Go's net.SplitHostPort errors, then strconv.Atoi's, for one value. */
static int
split_host_port(const char *hp, char **host, int64_t *port, struct buf *err)
{
	const char *colon = strrchr(hp, ':'), *h = hp, *p;
	size_t hlen;
	char *end;

	if (colon == NULL) {
		buf_printf(err, "address %s: missing port in address", hp);
		return -1;
	}
	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');
		if (rb == NULL) {
			buf_printf(err, "address %s: missing ']' in address", hp);
			return -1;
		}
		if (colon != rb + 1) {
			buf_printf(err, "address %s: %s", hp, rb[1] == ':' ?
			    "too many colons in address" :
			    "missing port in address");
			return -1;
		}
		h = hp + 1;
		hlen = (size_t)(rb - h);
	} else {
		hlen = (size_t)(colon - hp);
		if (memchr(hp, ':', hlen) != NULL) {
			buf_printf(err, "address %s: too many colons in "
			    "address", hp);
			return -1;
		}
	}
	p = colon + 1;
	errno = 0;
	*port = strtoll(p, &end, 10);
	if (*p == '\0' || *end != '\0' || errno != 0 || *p == ' ') {
		buf_printf(err, "strconv.Atoi: parsing \"%s\": %s", p,
		    errno == ERANGE ? "value out of range" : "invalid syntax");
		return -1;
	}
	*host = xstrndup(h, hlen);
	return 0;
}

static void
w_str_nonempty(struct json_w *w, const char *key, const char *v)
{
	if (v == NULL || *v == '\0')
		return;
	json_w_key(w, key);
	json_w_str(w, v);
}

/* -tagged-address as api.ServiceAddress values; -1 after printing. */
static int
reg_tagged(struct json_w *w, const struct cli_strv *ta)
{
	struct buf err;
	int rc = 0;

	if (ta->n == 0)
		return 0;
	buf_init(&err);
	json_w_key(w, "TaggedAddresses");
	json_w_obj_open(w);
	for (size_t i = 0; rc == 0 && i < ta->n; i++) {
		const char *v = strchr(ta->v[i], '=') + 1;
		size_t klen = (size_t)(v - 1 - ta->v[i]);
		char *host = NULL, *key;
		int64_t port;

		if (!cli_flag_map_last(ta, i))
			continue;
		if (split_host_port(v, &host, &port, &err) < 0) {
			fprintf(stderr, "Invalid Tagged Address: %s\n",
			    (char *)err.data);
			rc = -1;
			break;
		}
		key = xstrndup(ta->v[i], klen);
		json_w_key(w, key);
		json_w_obj_open(w);
		w_str_nonempty(w, "Address", host);
		if (port != 0) {
			json_w_key(w, "Port");
			json_w_int(w, port);
		}
		json_w_obj_close(w);
		free(key);
		free(host);
	}
	json_w_obj_close(w);
	buf_free(&err);
	return rc;
}

static void
reg_meta(struct json_w *w, const struct cli_strv *meta)
{
	if (meta->n == 0)
		return;
	json_w_key(w, "Meta");
	json_w_obj_open(w);
	for (size_t i = 0; i < meta->n; i++) {
		const char *eq = strchr(meta->v[i], '=');

		if (!cli_flag_map_last(meta, i))
			continue;
		json_w_strn(w, meta->v[i], (size_t)(eq - meta->v[i]));
		json_w_str(w, eq + 1);
	}
	json_w_obj_close(w);
}

/*
 * The api.AgentServiceRegistration the flags describe, as Go encodes it
 * (empty fields omitted).  -1 after printing when -tagged-address is bad.
 */
static int
reg_body(const struct reg_flags *f, struct buf *out)
{
	struct json_w w;
	int rc;

	json_w_init(&w, out, false);
	json_w_obj_open(&w);
	w_str_nonempty(&w, "Kind", f->kind);
	w_str_nonempty(&w, "ID", f->id);
	w_str_nonempty(&w, "Name", f->name);
	if (f->tags.n > 0) {
		json_w_key(&w, "Tags");
		json_w_arr_open(&w);
		for (size_t i = 0; i < f->tags.n; i++)
			json_w_str(&w, f->tags.v[i]);
		json_w_arr_close(&w);
	}
	if (f->port != 0) {
		json_w_key(&w, "Port");
		json_w_int(&w, f->port);
	}
	w_str_nonempty(&w, "Address", f->address);
	w_str_nonempty(&w, "SocketPath", f->socket);
	rc = reg_tagged(&w, &f->tagged);
	reg_meta(&w, &f->meta);
	json_w_obj_close(&w);
	json_w_finish(&w);
	return rc;
}

/* PUT one definition; prints the outcome.  0 or -1. */
static int
reg_one(struct cli_client *c, const char *body, const char *name)
{
	struct buf what;
	int r;

	buf_init(&what);
	buf_addstr(&what, "Error registering service ");
	cli_go_quote(&what, name);
	r = cli_call(c, "PUT", "/v1/agent/service/register", body,
	    strlen(body), NULL, (char *)what.data);
	if (r == 0)
		printf("Registered service: %s\n", name);
	buf_free(&what);
	return r;
}

static int
reg_files(struct cli_client *c, struct agent_config *cfg)
{
	for (size_t i = 0; i < cfg->services.n; i++) {
		char *name, *id;
		int r;

		svc_ident(cfg->services.v[i], &name, &id);
		r = reg_one(c, cfg->services.v[i], name);
		free(name);
		free(id);
		if (r < 0)
			return CLI_EXIT_ERR;
	}
	return CLI_EXIT_OK;
}

/* Flags or files into the agent; the exit code. */
static int
reg_run(const struct cli_http_opts *ho, const struct reg_flags *f,
    int nfiles, char **files)
{
	struct agent_config *cfg = NULL;
	struct cli_client c;
	struct buf body;
	int rc = CLI_EXIT_ERR;

	buf_init(&body);
	if (reg_body(f, &body) < 0)
		goto out;
	if (nfiles == 0 && (f->name == NULL || *f->name == '\0')) {
		fprintf(stderr, "Service registration requires at least one "
		    "argument or flags.\n");
		goto out;
	}
	if (nfiles > 0 && f->name && *f->name) {
		fprintf(stderr, "Service registration requires arguments or "
		    "-id, not both.\n");
		goto out;
	}
	if (nfiles > 0 && (cfg = svc_load_files(nfiles, files)) == NULL)
		goto out;
	if (cli_client_open(&c, ho) < 0)
		goto out;
	if (cfg)
		rc = reg_files(&c, cfg);
	else
		rc = reg_one(&c, (char *)body.data, f->name) < 0 ?
		    CLI_EXIT_ERR : CLI_EXIT_OK;
	cli_client_free(&c);
out:
	cfg_free(cfg);
	buf_free(&body);
	return rc;
}

int
cli_cmd_services_register(int argc, char **argv)
{
	struct reg_flags f = { 0 };
	const char *tag = NULL, *meta = NULL, *tagged = NULL;
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_STR("address", &f.address, "string", "Address of the "
		    "service to register for arg-based registration."),
		CLI_STR("id", &f.id, "string", "ID of the service to register "
		    "for arg-based registration. If this isn't set, it will "
		    "default to the -name value."),
		CLI_STR("kind", &f.kind, "string", "The services 'kind'"),
		CLI_STR("meta", &meta, "value", "Metadata to set on the "
		    "service, formatted as key=value. This flag may be "
		    "specified multiple times to set multiple meta fields."),
		CLI_STR("name", &f.name, "string", "Name of the service to "
		    "register for arg-based registration."),
		CLI_INT("port", &f.port, "int", "Port of the service to "
		    "register for arg-based registration."),
		CLI_STR("socket", &f.socket, "string", "Path to the Unix "
		    "domain socket to register for arg-based registration "
		    "(conflicts with address and port)."),
		CLI_STR("tag", &tag, "value", "Tag to add to the service. This "
		    "flag can be specified multiple times to set multiple "
		    "tags."),
		CLI_STR("tagged-address", &tagged, "value", "Tagged address to "
		    "set on the service, formatted as key=value. This flag may "
		    "be specified multiple times to set multiple addresses."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, true),
		{ "Command Options", cf, nitems(cf) },
	};
	int r;

	if ((r = cli_flags_parse(argc, argv, register_help, fs,
	    nitems(fs))) < 1)
		return cli_flags_exit(r);
	cli_flag_values(argc, argv, r, fs, nitems(fs), "tag", &f.tags);
	cli_flag_values(argc, argv, r, fs, nitems(fs), "meta", &f.meta);
	cli_flag_values(argc, argv, r, fs, nitems(fs), "tagged-address",
	    &f.tagged);
	if (cli_flag_map_check(&f.meta, "meta", register_help, fs,
	    nitems(fs)) < 0 || cli_flag_map_check(&f.tagged,
	    "tagged-address", register_help, fs, nitems(fs)) < 0)
		r = CLI_EXIT_ERR;
	else
		r = reg_run(&ho, &f, argc - r, argv + r);
	cli_strv_free(&f.tags);
	cli_strv_free(&f.meta);
	cli_strv_free(&f.tagged);
	return r;
}

/* ---- deregister ---- */

/* PUT one deregistration; prints the outcome.  0 or -1. */
static int
dereg_one(struct cli_client *c, const char *id, const char *name)
{
	struct buf path, what;
	int r;

	buf_init(&path);
	buf_init(&what);
	buf_addstr(&path, "/v1/agent/service/deregister/");
	cli_url_escape(&path, id, false);
	buf_addstr(&what, "Error deregistering service ");
	cli_go_quote(&what, name);
	r = cli_call(c, "PUT", (char *)path.data, NULL, 0, NULL,
	    (char *)what.data);
	if (r == 0)
		printf("Deregistered service: %s\n", id);
	buf_free(&path);
	buf_free(&what);
	return r;
}

/* Each file definition by its ID, else its name; none: skipped. */
static int
dereg_files(struct cli_client *c, struct agent_config *cfg)
{
	for (size_t i = 0; i < cfg->services.n; i++) {
		char *name, *id;
		int r = 0;

		svc_ident(cfg->services.v[i], &name, &id);
		if (*id || *name)
			r = dereg_one(c, *id ? id : name, name);
		free(name);
		free(id);
		if (r < 0)
			return CLI_EXIT_ERR;
	}
	return CLI_EXIT_OK;
}

int
cli_cmd_services_deregister(int argc, char **argv)
{
	const char *id = NULL;
	struct cli_http_opts ho = { 0 };
	struct cli_flag hf[CLI_HTTP_FLAGS_MAX];
	struct cli_flag cf[] = {
		CLI_STR("id", &id, "string", "ID to delete. This must not be "
		    "set if arguments are given."),
	};
	struct cli_flagset fs[] = {
		CLI_HTTP_FLAGSET(&ho, hf, true),
		{ "Command Options", cf, nitems(cf) },
	};
	struct agent_config *cfg = NULL;
	struct cli_client c;
	bool has_id;
	int r;

	if ((r = cli_flags_parse(argc, argv, deregister_help, fs,
	    nitems(fs))) < 1)
		return cli_flags_exit(r);
	has_id = id && *id;
	if (r >= argc && !has_id) {
		fprintf(stderr, "Service deregistration requires at least one "
		    "argument or -id.\n");
		return CLI_EXIT_ERR;
	}
	if (r < argc && has_id) {
		fprintf(stderr, "Service deregistration requires arguments or "
		    "-id, not both.\n");
		return CLI_EXIT_ERR;
	}
	if (r < argc && (cfg = svc_load_files(argc - r, argv + r)) == NULL)
		return CLI_EXIT_ERR;
	if (cli_client_open(&c, &ho) < 0) {
		cfg_free(cfg);
		return CLI_EXIT_ERR;
	}
	if (cfg)
		r = dereg_files(&c, cfg);
	else
		r = dereg_one(&c, id, "") < 0 ? CLI_EXIT_ERR : CLI_EXIT_OK;
	cli_client_free(&c);
	cfg_free(cfg);
	return r;
}
