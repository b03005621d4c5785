/*
 * Phase three of a load: defaults for what no source set (-dev's first,
 * then the table's, then those computed from other keys), then Consul's
 * cross-checks (agent/config/builder.go validate()), with its wording.
 */
#include "supervisor/config_int.h"

#include "lib/log.h"
#include "lib/paths.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t
key_index(const char *name)
{
	int i = cfg_key_find(name);
	if (i < 0)
		fatalx("config: no key %s", name);
	return (size_t)i;
}

static bool
is_set(const struct cfg_ctx *x, const char *name)
{
	return x->set[key_index(name)];
}

/* A cross-check failed on key name: blame the source that set it. */
static int __attribute__((format(printf, 3, 4)))
fail_key(struct cfg_ctx *x, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	int r = cfg_fail(x, x->src[key_index(name)], name, "%s",
	    s ? s : "invalid");
	free(s);
	return r;
}

static void
table_defaults(struct cfg_ctx *x)
{
	struct agent_config *c = x->c;
	for (size_t i = 0; i < cfg_nkeys; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const char *def = c->dev && k->dev ? k->dev : k->def;
		if (!x->set[i] && def) {
			struct buf why;
			buf_init(&why);
			if (cfg_set_string(x, i, def, &why) < 0)
				fatalx("config: default %s=%s: %s", k->name, def,
				    (char *)why.data);
			buf_free(&why);
		}
		if (k->type == CT_STR && *CFG_FIELD(c, k, char *) == NULL)
			*CFG_FIELD(c, k, char *) = xstrdup("");
	}
}

static void
set_str(char **slot, const char *v)
{
	char *old = *slot;
	*slot = xstrdup(v);
	free(old);
}

static void
copy_list(struct cfg_strlist *dst, const struct cfg_strlist *src)
{
	cfg_list_clear(dst);
	for (size_t i = 0; i < src->n; i++)
		cfg_list_add(dst, src->v[i]);
}

static bool
is_any_addr(const char *ip)
{
	return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

static void
computed_defaults(struct cfg_ctx *x)
{
	struct agent_config *c = x->c;
	char host[256];

	/* Servers stay in the cluster on a signal, clients leave. */
	if (!is_set(x, "leave_on_terminate"))
		c->leave_on_terminate = !c->server;
	if (!is_set(x, "skip_leave_on_interrupt"))
		c->skip_leave_on_interrupt = c->server;
	if (!is_set(x, "enable_local_script_checks"))
		c->enable_local_script_checks = c->enable_script_checks;
	if (c->primary_datacenter[0] == '\0')
		set_str(&c->primary_datacenter, c->datacenter);
	if (c->node_name[0] == '\0' && gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		set_str(&c->node_name, host);
	}
	if (!is_set(x, "addresses.http"))
		copy_list(&c->addresses.http, &c->client_addr);
	if (!is_set(x, "addresses.https"))
		copy_list(&c->addresses.https, &c->client_addr);
	if (!is_set(x, "addresses.dns"))
		copy_list(&c->addresses.dns, &c->client_addr);
	if (!is_set(x, "control_socket")) {
		char rt[200];
		paths_runtime_dir(rt, sizeof(rt));
		char *p = c->data_dir[0] ?
		    xasprintf("%s/control.sock", c->data_dir) :
		    c->dev ? xasprintf("%s/control.sock", rt) : xstrdup("");
		free(c->control_socket);
		c->control_socket = p;
	}
	/* Interface detection for 0.0.0.0 is cfg_resolve_addresses()'s. */
	if (c->advertise_addr[0] == '\0' && !is_any_addr(c->bind_addr))
		set_str(&c->advertise_addr, c->bind_addr);
	if (c->advertise_addr_wan[0] == '\0' && c->advertise_addr[0])
		set_str(&c->advertise_addr_wan, c->advertise_addr);
	if (c->client_addr.n == 0)
		cfg_warn(c, "client_addr is empty, client services (DNS, HTTP, "
		    "HTTPS, GRPC) will not be listening for connections");
	if (c->start_join.n > 0)
		cfg_warn(c, "The 'start_join' field is deprecated. Use the "
		    "'retry_join' field instead.");
	if (c->start_join_wan.n > 0)
		cfg_warn(c, "The 'start_join_wan' field is deprecated. Use the "
		    "'retry_join_wan' field instead.");
	if (c->bootstrap_expect == 1) {
		c->bootstrap = true;
		c->bootstrap_expect = 0;
		cfg_warn(c, "BootstrapExpect is set to 1; this is the same as "
		    "Bootstrap mode.");
	}
}

/* Consul's structs.ValidateNodeMetadata (allowConsulPrefix false). */
static int
check_node_meta(struct cfg_ctx *x)
{
	const struct cfg_strmap *m = &x->c->node_meta;
	if (m->n > 64)
		return fail_key(x, "node_meta", "node_meta invalid: Node metadata "
		    "cannot contain more than 64 key/value pairs");
	for (size_t i = 0; i < m->n; i++) {
		const char *k = m->k[i], *why = NULL;
		size_t kl = strlen(k);
		if (kl == 0)
			why = "Key cannot be blank";
		else if (strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
		    "VWXYZ0123456789_-") != kl)
			why = "Key contains invalid characters";
		else if (kl > 128)
			why = "Key is too long (limit: 128 characters)";
		else if (strncmp(k, "consul-", 7) == 0)
			why = "Key prefix 'consul-' is reserved for internal use";
		else if (strlen(m->v[i]) > 512)
			why = "Value is too long (limit: 512 characters)";
		if (why)
			return fail_key(x, "node_meta", "node_meta invalid: "
			    "Couldn't load metadata pair ('%s', '%s'): %s", k,
			    m->v[i], why);
	}
	return 0;
}

static int
check_paths(struct cfg_ctx *x)
{
	const struct agent_config *c = x->c;
	struct stat st;

	if (c->data_dir[0] == '\0' && !c->dev && !x->validate_only)
		return cfg_fail(x, NULL, "data_dir", "cannot be empty (set "
		    "-data-dir or \"data_dir\", or use -dev)");
	/* Workers get the dump inside a chroot: no file system there. */
	if (!x->from_dump && c->data_dir[0] && stat(c->data_dir, &st) == 0 &&
	    !S_ISDIR(st.st_mode))
		return fail_key(x, "data_dir", "data_dir \"%s\" is not a "
		    "directory", c->data_dir);
	return 0;
}

static int
check_names(struct cfg_ctx *x)
{
	struct agent_config *c = x->c;
	size_t n = strlen(c->node_name);

	if (n == 0)
		return fail_key(x, "node_name", "node_name cannot be empty");
	if (strspn(c->node_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
	    "RSTUVWXYZ0123456789-") != n)
		cfg_warn(c, "Node name \"%s\" will not be discoverable via DNS "
		    "due to invalid characters. Valid characters include all "
		    "alpha-numerics and dashes.", c->node_name);
	else if (n > 63)
		cfg_warn(c, "Node name \"%s\" will not be discoverable via DNS "
		    "due to it being too long. Valid lengths are between 1 and "
		    "63 bytes.", c->node_name);
	/* A name under the main domain's own labels would shadow them. */
	if (c->alt_domain[0]) {
		char dcl[300];
		snprintf(dcl, sizeof(dcl), "%s.", c->datacenter);
		const char *const labels[] = { "service.", "connect.", "node.",
			"query.", "addr.", dcl };
		for (size_t i = 0; i < nitems(labels); i++)
			if (strncmp(c->alt_domain, labels[i],
			    strlen(labels[i])) == 0)
				return fail_key(x, "alt_domain", "alt_domain "
				    "cannot start with {service,connect,node,"
				    "query,addr,%s}", c->datacenter);
	}
	return 0;
}

static int
check_bootstrap(struct cfg_ctx *x)
{
	struct agent_config *c = x->c;

	if (c->bootstrap && !c->server)
		return fail_key(x, "bootstrap", "'bootstrap = true' requires "
		    "'server = true'");
	if (c->bootstrap_expect > 0 && !c->server)
		return fail_key(x, "bootstrap_expect", "'bootstrap_expect > 0' "
		    "requires 'server = true'");
	if (c->bootstrap_expect > 0 && c->dev)
		return fail_key(x, "bootstrap_expect", "'bootstrap_expect > 0' "
		    "not allowed in dev mode");
	if (c->bootstrap_expect > 0 && c->bootstrap)
		return fail_key(x, "bootstrap_expect", "'bootstrap_expect > 0' "
		    "and 'bootstrap = true' are mutually exclusive");
	if (c->server && !c->dev && c->bootstrap_expect == 2)
		cfg_warn(c, "bootstrap_expect = 2: A cluster with 2 servers will "
		    "provide no failure tolerance. See https://www.consul.io/"
		    "docs/internals/consensus.html#deployment-table");
	if (c->server && c->bootstrap_expect > 2 && c->bootstrap_expect % 2 == 0)
		cfg_warn(c, "bootstrap_expect is even number: A cluster with an "
		    "even number of servers does not achieve optimum fault "
		    "tolerance. See https://www.consul.io/docs/internals/"
		    "consensus.html#deployment-table");
	if (c->server && !c->dev && !c->bootstrap && c->bootstrap_expect > 1)
		cfg_warn(c, "bootstrap_expect > 0: expecting %d servers",
		    c->bootstrap_expect);
	if (c->server && !c->dev && c->bootstrap)
		cfg_warn(c, "bootstrap = true: do not enable unless necessary");
	return 0;
}

static int
check_ports(struct cfg_ctx *x)
{
	const struct agent_config *c = x->c;
	if (c->ports.server <= 0)
		return fail_key(x, "ports.server", "server-port must be greater "
		    "than zero");
	if (c->ports.serf_lan <= 0)
		return fail_key(x, "ports.serf_lan", "serf-lan-port must be "
		    "greater than zero");
	if (c->max_query_time < c->default_query_time)
		return fail_key(x, is_set(x, "default_query_time") ?
		    "default_query_time" : "max_query_time", "default_query_time "
		    "cannot be greater than max_query_time");
	return 0;
}

int
cfg_finish(struct cfg_ctx *x)
{
	int r;

	table_defaults(x);
	computed_defaults(x);
	if ((r = check_paths(x)) < 0 || (r = check_names(x)) < 0 ||
	    (r = check_bootstrap(x)) < 0 || (r = check_node_meta(x)) < 0 ||
	    (r = check_ports(x)) < 0)
		return r;
	return 0;
}
