/*
 * Loading the agent configuration: the three phases (everything unset;
 * the sources in Consul's order; defaults and cross-checks), the dump the
 * workers receive, address resolution and `muster validate`.
 */
#include "supervisor/config.h"
#include "supervisor/config_int.h"

#include "lib/json.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct cfg_ctx *
ctx_new(struct buf *err)
{
	struct cfg_ctx *x = xcalloc(1, sizeof(*x));
	x->c = xcalloc(1, sizeof(*x->c));
	x->set = xcalloc(cfg_nkeys, sizeof(*x->set));
	x->src = xcalloc(cfg_nkeys, sizeof(*x->src));
	x->err = err;
	return x;
}

/* Frees the context; returns the config on success, else frees it too. */
static struct agent_config *
ctx_end(struct cfg_ctx *x, int r)
{
	struct agent_config *c = x->c;
	if (r < 0) {
		cfg_free(c);
		c = NULL;
	}
	cfg_list_clear(&x->names);
	free(x->set);
	free(x->src);
	free(x);
	return c;
}

static int
load(int argc, char **argv, bool validate_only, struct agent_config **out,
    struct buf *err)
{
	struct cfg_ctx *x = ctx_new(err);
	struct cfg_args *a = NULL;
	int r;

	x->validate_only = validate_only;
	*out = NULL;
	if ((r = cfg_args_parse(x, argc, argv, &a)) == 0 &&
	    (r = cfg_args_apply(x, a, true)) == 0) {
		for (size_t i = 0; r == 0 && i < cfg_args_npaths(a); i++)
			r = cfg_load_path(x, cfg_args_path(a, i),
			    cfg_args_any_ext(a));
		if (r == 0 && (r = cfg_args_apply(x, a, false)) == 0)
			r = cfg_finish(x);
	}
	cfg_args_free(a);
	*out = ctx_end(x, r);
	return r;
}

int
cfg_load(int argc, char **argv, struct agent_config **out, struct buf *err)
{
	int r = load(argc, argv, false, out, err);
	if (r == 0)
		for (size_t i = 0; i < (*out)->warnings.n; i++)
			log_warnx("config: %s", (*out)->warnings.v[i]);
	return r;
}

int
cfg_from_json(const char *json, size_t len, struct agent_config **out,
    struct buf *err)
{
	struct cfg_ctx *x = ctx_new(err);
	x->from_dump = true;
	x->cur = "config dump";
	int r = cfg_load_text(x, json, len);
	if (r == 0)
		r = cfg_finish(x);
	*out = ctx_end(x, r);
	return r;
}

/* One nesting level of the table: the keys whose parent is parent. */
static void
dump_level(struct json_w *w, const struct agent_config *c, int parent)
{
	for (size_t i = 0; i < cfg_nkeys; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (!cfg_key_is_child(i, parent) || (k->flags & KF_NODUMP))
			continue;
		json_w_key(w, cfg_key_leaf(i));
		if (k->type == CT_OBJ) {
			json_w_obj_open(w);
			dump_level(w, c, (int)i);
			json_w_obj_close(w);
		} else {
			cfg_key_dump(w, c, i);
		}
	}
}

void
cfg_dump_json(const struct agent_config *c, struct buf *out, bool pretty)
{
	struct json_w w;
	json_w_init(&w, out, pretty);
	json_w_obj_open(&w);
	dump_level(&w, c, -1);
	json_w_obj_close(&w);
	if (json_w_finish(&w) < 0)
		fatalx("config: dump generation failed");
}

bool
cfg_equal(const struct agent_config *a, const struct agent_config *b)
{
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (!(cfg_keys[i].flags & KF_NODUMP) && !cfg_key_equal(a, b, i))
			return false;
	return true;
}

void
cfg_free(struct agent_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < cfg_nkeys; i++)
		cfg_key_free(c, i);
	cfg_list_clear(&c->warnings);
	free(c);
}

/* --- advertise address --- */

static void
set_str(char **slot, const char *v)
{
	char *old = *slot;
	*slot = xstrdup(v);
	free(old);
}

static int
pick_one(const char *what, const char *const *v, size_t n, const char **pick,
    struct buf *err)
{
	if (n == 0) {
		buf_printf(err, "No %s address found", what);
		return -EINVAL;
	}
	if (n > 1) {
		buf_printf(err, "Multiple %s addresses found. Please configure "
		    "one with 'bind' and/or 'advertise'.", what);
		return -EINVAL;
	}
	*pick = v[0];
	return 0;
}

int
cfg_resolve_addresses_from(struct agent_config *c,
    const char *const *private_v4, size_t n4,
    const char *const *public_v6, size_t n6, struct buf *err)
{
	const char *adv = c->advertise_addr && c->advertise_addr[0] ?
	    c->advertise_addr : c->bind_addr;
	char *pick;
	int r = 0;

	if (strcmp(adv, "0.0.0.0") == 0)
		r = pick_one("private IPv4", private_v4, n4, &adv, err);
	else if (strcmp(adv, "::") == 0)
		r = pick_one("public IPv6", public_v6, n6, &adv, err);
	if (r < 0)
		return r;
	pick = xstrdup(adv);
	set_str(&c->advertise_addr, pick);
	if (c->advertise_addr_wan == NULL || c->advertise_addr_wan[0] == '\0')
		set_str(&c->advertise_addr_wan, pick);
	free(pick);
	return 0;
}

/* go-sockaddr / consul ipaddr's private blocks (RFC 6890 and friends). */
static bool
v4_private(const struct in_addr *in)
{
	uint32_t a = ntohl(in->s_addr);
	return (a >> 24) == 10 || (a >> 22) == (100u << 2 | 1) ||
	    (a >> 24) == 127 || (a >> 16) == (169u << 8 | 254) ||
	    (a >> 20) == (172u << 4 | 1) || (a >> 8) == (192u << 16) ||
	    (a >> 8) == (192u << 16 | 2) || (a >> 16) == (192u << 8 | 168);
}

static bool
v6_private(const struct in6_addr *in)
{
	const uint8_t *b = in->s6_addr;
	return IN6_IS_ADDR_LOOPBACK(in) || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
	    (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) ||
	    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8);
}

/* Consul's activeInterfaceAddresses: up interfaces, loopback only when
 * nothing else has an address. */
static void
collect(struct ifaddrs *ifs, bool loopback, struct cfg_strlist *v4,
    struct cfg_strlist *v6, size_t *seen)
{
	char t[INET6_ADDRSTRLEN];
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP) ||
		    !(i->ifa_flags & IFF_LOOPBACK) != !loopback)
			continue;
		int af = i->ifa_addr->sa_family;
		if (af == AF_INET) {
			const struct in_addr *a =
			    &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
			(*seen)++;
			if (v4_private(a) && inet_ntop(af, a, t, sizeof(t)))
				cfg_list_add(v4, t);
		} else if (af == AF_INET6) {
			const struct in6_addr *a =
			    &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
			(*seen)++;
			if (!v6_private(a) && inet_ntop(af, a, t, sizeof(t)))
				cfg_list_add(v6, t);
		}
	}
}

int
cfg_resolve_addresses(struct agent_config *c, struct buf *err)
{
	struct ifaddrs *ifs = NULL;
	struct cfg_strlist v4 = { 0 }, v6 = { 0 };
	size_t seen = 0;

	if (getifaddrs(&ifs) < 0) {
		buf_printf(err, "Error detecting addresses: %s", strerror(errno));
		return -EIO;
	}
	collect(ifs, false, &v4, &v6, &seen);
	if (seen == 0)
		collect(ifs, true, &v4, &v6, &seen);
	freeifaddrs(ifs);
	int r = cfg_resolve_addresses_from(c, (const char *const *)v4.v, v4.n,
	    (const char *const *)v6.v, v6.n, err);
	cfg_list_clear(&v4);
	cfg_list_clear(&v6);
	return r;
}

/* --- muster validate --- */

static int
validate_usage(void)
{
	fprintf(stderr, "Usage: muster validate [options] FILE_OR_DIRECTORY..."
	    "\n\n  Performs a basic sanity test on muster configuration files."
	    "\n\nOptions:\n\n  -quiet  When given, a successful run will "
	    "produce no output.\n");
	return 1;
}

int
cfg_validate_cmd(int argc, char **argv)
{
	bool quiet = false;
	int i = 1;

	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *f = argv[i] + 1 + (argv[i][1] == '-');
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(f, "quiet") == 0 ||
		    strcmp(f, "quiet=true") == 0) {
			quiet = true;
		} else if (strcmp(f, "quiet=false") == 0) {
			quiet = false;
		} else {
			if (strcmp(f, "h") != 0 && strcmp(f, "help") != 0)
				fprintf(stderr, "flag provided but not defined: "
				    "%s\n", argv[i]);
			return validate_usage();
		}
	}
	if (i >= argc) {
		fprintf(stderr, "Must specify at least one config file or "
		    "directory\n");
		return 1;
	}
	int n = argc - i;
	char **args = xcalloc((size_t)n * 2, sizeof(*args));
	for (int k = 0; k < n; k++) {
		args[2 * k] = (char *)"-config-file";
		args[2 * k + 1] = argv[i + k];
	}
	struct agent_config *c = NULL;
	struct buf err;
	buf_init(&err);
	int r = load(n * 2, args, true, &c, &err);
	free(args);
	if (r < 0) {
		const char *m = err.data ? (char *)err.data : "invalid";
		if (strncmp(m, "config: ", 8) == 0)
			m += 8;
		fprintf(stderr, "Config validation failed: %s\n", m);
		buf_free(&err);
		return 2;
	}
	for (size_t k = 0; k < c->warnings.n; k++)
		fprintf(stderr, "%s\n", c->warnings.v[k]);
	if (!quiet)
		printf("Configuration is valid!\n");
	cfg_free(c);
	buf_free(&err);
	return 0;
}
