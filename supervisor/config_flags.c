/*
 * `muster agent` flags with Go's flag package syntax, as Consul parses
 * them: -name=value, -name value, --name; a boolean flag takes no separate
 * argument (-server, -server=false); parsing stops at "--" or the first
 * argument that is not a flag; repeatable flags append.
 */
#include "supervisor/config_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum flag_kind {
	FL_KEY,			/* sets the config key .key */
	FL_CONFIG_PATH,		/* -config-file / -config-dir */
	FL_CONFIG_FORMAT,
	FL_HCL,
	FL_HELP,
};

struct cfg_flag {
	const char *name;
	enum flag_kind kind;
	const char *key;
	const char *help;
};

static const struct cfg_flag cfg_flags[] = {
	{ "advertise", FL_KEY, "advertise_addr", "Address to advertise to the cluster." },
	{ "advertise-wan", FL_KEY, "advertise_addr_wan", "Address to advertise on the WAN." },
	{ "alt-domain", FL_KEY, "alt_domain", "Alternate domain for DNS." },
	{ "bind", FL_KEY, "bind_addr", "Address to bind cluster communication to." },
	{ "bootstrap", FL_KEY, "bootstrap", "Bootstrap a single server." },
	{ "bootstrap-expect", FL_KEY, "bootstrap_expect", "Servers to wait for before bootstrapping." },
	{ "check_output_max_size", FL_KEY, "check_output_max_size", "Maximum check output size." },
	{ "client", FL_KEY, "client_addr", "Addresses (space-separated) for HTTP and DNS." },
	{ "config-dir", FL_CONFIG_PATH, NULL, "Directory of *.json config files (repeatable)." },
	{ "config-file", FL_CONFIG_PATH, NULL, "JSON config file (repeatable)." },
	{ "config-format", FL_CONFIG_FORMAT, NULL, "Read every config file as this format (json)." },
	{ "control-socket", FL_KEY, "control_socket", "Path of the control socket." },
	{ "data-dir", FL_KEY, "data_dir", "Directory for agent state." },
	{ "datacenter", FL_KEY, "datacenter", "Datacenter of the agent." },
	{ "dc", FL_KEY, "datacenter", "Deprecated: use -datacenter." },
	{ "default-query-time", FL_KEY, "default_query_time", "Blocking query default wait." },
	{ "dev", FL_KEY, "dev", "In-memory development server." },
	{ "disable-keyring-file", FL_KEY, "disable_keyring_file", "Do not persist the gossip keyring." },
	{ "dns-port", FL_KEY, "ports.dns", "DNS port." },
	{ "domain", FL_KEY, "domain", "DNS domain." },
	{ "enable-local-script-checks", FL_KEY, "enable_local_script_checks", "Allow script checks from config files." },
	{ "enable-script-checks", FL_KEY, "enable_script_checks", "Allow script checks." },
	{ "encrypt", FL_KEY, "encrypt", "Gossip encryption key (base64)." },
	{ "grpc-port", FL_KEY, "ports.grpc", "gRPC port." },
	{ "h", FL_HELP, NULL, NULL },
	{ "hcl", FL_HCL, NULL, NULL },
	{ "help", FL_HELP, NULL, NULL },
	{ "http-port", FL_KEY, "ports.http", "HTTP API port." },
	{ "https-port", FL_KEY, "ports.https", "HTTPS API port." },
	{ "join", FL_KEY, "start_join", "Agent to join at start (repeatable)." },
	{ "join-wan", FL_KEY, "start_join_wan", "Server to join on the WAN at start (repeatable)." },
	{ "log-json", FL_KEY, "log_json", "Log in JSON." },
	{ "log-level", FL_KEY, "log_level", "trace, debug, info, warn or error." },
	{ "max-query-time", FL_KEY, "max_query_time", "Blocking query maximum wait." },
	{ "node", FL_KEY, "node_name", "Node name." },
	{ "node-id", FL_KEY, "node_id", "Node ID (UUID)." },
	{ "node-meta", FL_KEY, "node_meta", "Node metadata key:value (repeatable)." },
	{ "pid-file", FL_KEY, "pid_file", "File to write the agent's PID to." },
	{ "protocol", FL_KEY, "protocol", "Protocol version." },
	{ "raft-protocol", FL_KEY, "raft_protocol", "Raft protocol version." },
	{ "recursor", FL_KEY, "recursors", "Upstream DNS server (repeatable)." },
	{ "rejoin", FL_KEY, "rejoin_after_leave", "Rejoin after a previous leave." },
	{ "retry-interval", FL_KEY, "retry_interval", "Time between join attempts." },
	{ "retry-interval-wan", FL_KEY, "retry_interval_wan", "Time between WAN join attempts." },
	{ "retry-join", FL_KEY, "retry_join", "Agent to join, retrying (repeatable)." },
	{ "retry-join-wan", FL_KEY, "retry_join_wan", "Server to join on the WAN, retrying (repeatable)." },
	{ "retry-max", FL_KEY, "retry_max", "Join attempts (0 = forever)." },
	{ "retry-max-wan", FL_KEY, "retry_max_wan", "WAN join attempts (0 = forever)." },
	{ "serf-lan-port", FL_KEY, "ports.serf_lan", "Serf LAN port." },
	{ "serf-wan-port", FL_KEY, "ports.serf_wan", "Serf WAN port." },
	{ "server", FL_KEY, "server", "Run as a server." },
	{ "server-port", FL_KEY, "ports.server", "Server RPC port." },
	{ "ui", FL_KEY, "ui_config.enabled", "Serve the web UI." },
	{ "user", FL_KEY, "user", "Unprivileged user the workers run as." },
};

struct cfg_arg {
	const struct cfg_flag *f;
	int ki;
	char *val;
};

struct cfg_args {
	struct cfg_arg *v;
	size_t n;
	struct cfg_strlist paths;
	bool any_ext;
};

static const struct cfg_flag *
flag_find(const char *name, size_t len)
{
	for (size_t i = 0; i < nitems(cfg_flags); i++)
		if (strlen(cfg_flags[i].name) == len &&
		    strncmp(cfg_flags[i].name, name, len) == 0)
			return &cfg_flags[i];
	return NULL;
}

void
cfg_usage(struct buf *out)
{
	buf_addstr(out, "Usage: muster agent [options]\n\n"
	    "  Starts the muster agent and runs until an interrupt is "
	    "received.\n\nOptions:\n\n");
	for (size_t i = 0; i < nitems(cfg_flags); i++)
		if (cfg_flags[i].help)
			buf_printf(out, "  -%-28s %s\n", cfg_flags[i].name,
			    cfg_flags[i].help);
}

static int __attribute__((format(printf, 2, 3)))
flag_error(struct cfg_ctx *x, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	buf_addstr(x->err, "config: command line: ");
	buf_addstr(x->err, s ? s : "out of memory");
	free(s);
	return -EINVAL;
}

/* One flag at argv[*i]; returns 1 at the end of the flags. */
static int
parse_one(struct cfg_ctx *x, int argc, char **argv, int *i,
    struct cfg_args *a)
{
	const char *s = argv[*i];
	if (strlen(s) < 2 || s[0] != '-')
		return 1;
	const char *name = s + 1;
	if (name[0] == '-') {
		name++;
		if (name[0] == '\0') {
			(*i)++;	/* "--" ends the flags */
			return 1;
		}
	}
	if (name[0] == '-' || name[0] == '=')
		return flag_error(x, "bad flag syntax: %s", s);
	const char *eq = strchr(name, '=');
	size_t nl = eq ? (size_t)(eq - name) : strlen(name);
	const struct cfg_flag *f = flag_find(name, nl);
	if (f == NULL) {
		buf_addstr(x->err, "config: command line: flag provided but not "
		    "defined: -");
		buf_add(x->err, name, nl);
		return -EINVAL;
	}
	if (f->kind == FL_HELP) {
		cfg_usage(x->err);
		return -ECANCELED;
	}
	int ki = f->key ? cfg_key_find(f->key) : -1;
	const char *val = eq ? eq + 1 : NULL;
	(*i)++;
	if (val == NULL && ki >= 0 && cfg_keys[ki].type == CT_BOOL)
		val = "true";
	if (val == NULL) {
		if (*i >= argc)
			return flag_error(x, "flag needs an argument: -%s",
			    f->name);
		val = argv[(*i)++];
	}
	switch (f->kind) {
	case FL_CONFIG_PATH:
		cfg_list_add(&a->paths, val);
		return 0;
	case FL_CONFIG_FORMAT:
		if (strcmp(val, "json") != 0)
			return flag_error(x, "invalid value \"%s\" for flag "
			    "-config-format: %s", val, strcmp(val, "hcl") == 0 ?
			    "HCL is not supported" : "must be json");
		a->any_ext = true;
		return 0;
	case FL_HCL:
		return flag_error(x, "-hcl: HCL configuration is not "
		    "supported");
	default:
		break;
	}
	if (strcmp(f->name, "dc") == 0)
		cfg_warn(x->c, "'-dc' is deprecated, use '-datacenter' instead");
	a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
	a->v[a->n++] = (struct cfg_arg){ f, ki, xstrdup(val) };
	return 0;
}

int
cfg_args_parse(struct cfg_ctx *x, int argc, char **argv,
    struct cfg_args **out)
{
	struct cfg_args *a = xcalloc(1, sizeof(*a));
	int i = 0, r = 0;

	while (i < argc && (r = parse_one(x, argc, argv, &i, a)) == 0)
		;
	if (r >= 0 && i < argc) {
		flag_error(x, "unexpected argument \"%s\"", argv[i]);
		r = -EINVAL;
	}
	if (r < 0) {
		cfg_args_free(a);
		return r;
	}
	*out = a;
	return 0;
}

/*
 * Store the flags' values: lists first (Consul merges flag slices before
 * the config files, so file entries follow them), or everything else
 * (applied after the files, so flags win).
 */
int
cfg_args_apply(struct cfg_ctx *x, const struct cfg_args *a, bool lists)
{
	x->cur = "command line";
	for (size_t i = 0; i < a->n; i++) {
		const struct cfg_arg *g = &a->v[i];
		if ((cfg_keys[g->ki].type == CT_LIST) != lists)
			continue;
		struct buf why;
		buf_init(&why);
		if (cfg_set_string(x, (size_t)g->ki, g->val, &why) < 0) {
			flag_error(x, "invalid value \"%s\" for flag -%s: %s",
			    g->val, g->f->name, (char *)why.data);
			buf_free(&why);
			return -EINVAL;
		}
		buf_free(&why);
		x->set[g->ki] = true;
		x->src[g->ki] = x->cur;
	}
	return 0;
}

size_t
cfg_args_npaths(const struct cfg_args *a)
{
	return a->paths.n;
}

const char *
cfg_args_path(const struct cfg_args *a, size_t i)
{
	return a->paths.v[i];
}

bool
cfg_args_any_ext(const struct cfg_args *a)
{
	return a->any_ext;
}

void
cfg_args_free(struct cfg_args *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].val);
	free(a->v);
	cfg_list_clear(&a->paths);
	free(a);
}
