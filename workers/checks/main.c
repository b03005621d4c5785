/*
 * The checks worker: agent-local services and checks, the check runners,
 * and (to come) anti-entropy into the catalog through the sync seam in
 * chk_sync.c.  This file is its process shell: config in, privileges,
 * start, reload, stop, Stats.
 *
 * Start-up order matters for privileges: config-file definitions and the
 * files earlier runs persisted are loaded in init(), while privileges
 * are still held (data_dir may not be readable afterwards), but nothing
 * runs until start(), after the drop: no script ever runs as root.
 */
#include "workers/checks/checks.h"
#include "workers/checks/chk_probe.h"
#include "workers/common/stats.h"
#include "supervisor/config.h"
#include "lib/json.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct chk_state state;
static struct worker *self;

struct chk_state *
chk_worker_state(void)
{
	return &state;
}

static void
config_view(const struct agent_config *c, struct chk_config *o)
{
	memset(o, 0, sizeof(*o));
	o->node_name = c->node_name;
	o->data_dir = c->data_dir;
	o->enable_script_checks = c->enable_script_checks;
	o->enable_local_script_checks = c->enable_local_script_checks;
	o->output_max = c->check_output_max_size;
	o->check_update_interval = c->check_update_interval;
}

/* Config-file definitions, parsed and checked before anything changes. */
struct defs {
	struct chk_service_def *svc;
	size_t nsvc;
	struct chk_def *chk;
	size_t nchk;
};

static void
defs_free(struct defs *d)
{
	for (size_t i = 0; i < d->nsvc; i++)
		chk_service_def_free(&d->svc[i]);
	for (size_t i = 0; i < d->nchk; i++)
		chk_def_free(&d->chk[i]);
	free(d->svc);
	free(d->chk);
	memset(d, 0, sizeof(*d));
}

static int
parse_one(const char *json, bool service, struct defs *d, struct buf *err)
{
	yajl_val v = json_parse(json, strlen(json), err);
	int r = -EINVAL;
	if (v == NULL)
		return r;
	if (service) {
		struct chk_service_def *sd = &d->svc[d->nsvc];
		if ((r = chk_parse_service(v, sd, err)) == 0 &&
		    (r = chk_validate_service(sd, err)) < 0)
			chk_service_def_free(sd);
		d->nsvc += r == 0;
	} else {
		struct chk_def *cd = &d->chk[d->nchk];
		if ((r = chk_parse_check(v, cd, err)) == 0 &&
		    (r = chk_validate_check(cd, err)) < 0)
			chk_def_free(cd);
		d->nchk += r == 0;
	}
	yajl_tree_free(v);
	return r;
}

static int
defs_parse(const struct agent_config *c, struct defs *d, struct buf *err)
{
	struct buf e;
	int r = 0;
	d->svc = xcalloc(c->services.n + 1, sizeof(*d->svc));
	d->chk = xcalloc(c->checks.n + 1, sizeof(*d->chk));
	buf_init(&e);
	for (size_t i = 0; r == 0 && i < c->services.n; i++)
		if ((r = parse_one(c->services.v[i], true, d, &e)) < 0)
			buf_printf(err, "Failed to register service: %s",
			    (char *)e.data);
	for (size_t i = 0; r == 0 && i < c->checks.n; i++)
		if ((r = parse_one(c->checks.v[i], false, d, &e)) < 0)
			buf_printf(err, "Failed to register check: %s",
			    (char *)e.data);
	buf_free(&e);
	if (r < 0)
		defs_free(d);
	return r;
}

/* Agent.loadServices / loadChecks for the config part: never persisted. */
static int
defs_apply(struct chk_state *st, struct defs *d, struct buf *err)
{
	struct buf e;
	int r = 0;
	buf_init(&e);
	for (size_t i = 0; r == 0 && i < d->nsvc; i++) {
		char *name = xstrdup(d->svc[i].svc->name);
		if ((r = chk_add_service(st, &d->svc[i], CHK_SRC_LOCAL, false,
		    false, &e)) < 0)
			buf_printf(err, "Failed to register service \"%s\": %s",
			    name, (char *)e.data);
		free(name);
	}
	for (size_t i = 0; r == 0 && i < d->nchk; i++) {
		char *name = xstrdup(d->chk[i].name);
		if ((r = chk_add_check(st, &d->chk[i], CHK_SRC_LOCAL, false,
		    &e)) < 0)
			buf_printf(err, "Failed to register check '%s': %s",
			    name, (char *)e.data);
		free(name);
	}
	buf_free(&e);
	defs_free(d);
	return r;
}

/*
 * The registry's catalog reads (alias checks of other nodes) go to the
 * store as CAT_READ_REQ, stale with at most 15 s of lag as CheckAlias
 * asks.  Each request in flight is remembered so a cancel frees it.
 */
struct cat_ask {
	struct cat_ask *next;
	int64_t reqid;
	void (*cb)(void *, uint16_t, const void *, size_t, int);
	void *arg;
};

static struct cat_ask *cat_asks;

static void
cat_unlink(struct cat_ask *a)
{
	struct cat_ask **pp;
	for (pp = &cat_asks; *pp && *pp != a; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = a->next;
}

static void
cat_reply(void *arg, struct ipc_msg *m, int err)
{
	struct cat_ask *a = arg;
	cat_unlink(a);
	a->cb(a->arg, m ? m->hdr.type : 0, m ? m->data : NULL, m ? m->len : 0,
	    err);
	free(a);
}

static int64_t
catalog_read(struct chk_state *st, unsigned what, const char *name,
    uint64_t min_index, uint64_t wait_ms,
    void (*cb)(void *, uint16_t, const void *, size_t, int), void *arg)
{
	struct proto_cat_read_req q = { .what = (uint8_t)what,
		.name = proto_str_c(name), .min_index = min_index,
		.wait_ms = wait_ms, .consistency = 1, .max_stale_ms = 15000 };
	struct cat_ask *a = xcalloc(1, sizeof(*a));
	struct buf b;

	a->cb = cb;
	a->arg = arg;
	buf_init(&b);
	proto_enc_cat_read_req(&b, &q);
	a->reqid = worker_request(self, PROC_STORE, PROTO_CAT_READ_REQ, &b,
	    (unsigned)(wait_ms + 10000), cat_reply, a);
	buf_free(&b);
	if (a->reqid < 0) {
		int64_t r = a->reqid;
		free(a);
		return r;
	}
	a->next = cat_asks;
	cat_asks = a;
	return a->reqid;
}

static void
catalog_cancel(struct chk_state *st, int64_t reqid)
{
	for (struct cat_ask *a = cat_asks; a; a = a->next)
		if (a->reqid == reqid) {
			worker_request_cancel(self, PROC_STORE, reqid);
			cat_unlink(a);
			free(a);
			return;
		}
}

/* Both peers' tables, http's first (worker_ops takes one table). */
static struct worker_handler handlers[CHECKS_DISPATCH_HTTP_N +
    CHECKS_DISPATCH_GOSSIP_N];

/* Peers connect after init(): the table is complete before use. */
static void
chk_init_handlers(void)
{
	memcpy(handlers, checks_dispatch_http, sizeof(checks_dispatch_http));
	memcpy(handlers + CHECKS_DISPATCH_HTTP_N, checks_dispatch_gossip,
	    sizeof(checks_dispatch_gossip));
}

static int
chk_init(struct worker *w)
{
	struct chk_config cc;
	struct defs d = { 0 };
	struct buf err;

	chk_init_handlers();
	self = w;
	w->app = &state;
	config_view(w->cfg, &cc);
	chk_state_init(&state, w->loop, &cc, NULL);
	state.catalog_read = catalog_read;
	state.catalog_cancel = catalog_cancel;
	buf_init(&err);
	if (defs_parse(w->cfg, &d, &err) < 0 ||
	    defs_apply(&state, &d, &err) < 0) {
		/* A bad definition is a configuration error: exit 2. */
		log_warnx("%s", (char *)err.data);
		exit(2);
	}
	buf_free(&err);
	chk_persist_load(&state);
	chk_persist_locate(&state, true);
	return 0;
}

static int
chk_start(struct worker *w)
{
	chk_persist_locate(&state, false);
	chk_resolver_start(&state);
	chk_state_start(&state);
	log_debug("%zu services, %zu checks", chk_service_count(&state),
	    chk_check_count(&state));
	return 0;
}

/* A definition from the config files (not the API, not maintenance). */
static bool
from_config(const struct chk_check *c)
{
	return c->has_def && c->source == CHK_SRC_LOCAL && !c->persisted;
}

/* After a reload: drop the config definitions it did not install again. */
static void
unload_stale(struct chk_state *st)
{
	struct avl_node *a, *next;
	struct buf e;
	buf_init(&e);
	for (a = avl_first(&st->checks); a; a = next) {
		struct chk_check *c = avl_entry(a, struct chk_check, node);
		next = avl_next(a);
		if (c->gen != st->gen && from_config(c))
			chk_remove_check(st, c->id, false, &e);
	}
	for (a = avl_first(&st->services); a; a = next) {
		struct chk_service *s = avl_entry(a, struct chk_service, node);
		next = avl_next(a);
		if (s->gen != st->gen && s->source == CHK_SRC_LOCAL &&
		    !s->persisted)
			chk_remove_service(st, s->id, false, &e);
	}
	buf_free(&e);
}

/*
 * Reload (Agent.reloadConfig): the config-file definitions are installed
 * again over the old ones, so a check keeps its status and output across
 * the reload, and API registrations (and their checks on config
 * services) stay; config definitions no longer in the files go.  Nothing
 * changes when a new definition is invalid.
 */
static int
chk_reconfig(struct worker *w, struct agent_config *nc, struct buf *err)
{
	struct chk_config cc;
	struct defs d = { 0 };
	int r;

	if (defs_parse(nc, &d, err) < 0)
		return -EINVAL;
	config_view(nc, &cc);
	chk_state_reconfig(&state, &cc);
	state.gen++;
	r = defs_apply(&state, &d, err) < 0 ? -EINVAL : 0;
	if (r == 0)
		unload_stale(&state);
	return r;
}

static bool
chk_stop(struct worker *w, unsigned reason)
{
	checks_dispatch_http_stop();
	state.service_changed = NULL;
	chk_state_free(&state);
	chk_resolver_stop(&state);
	chk_tls_free(&state);
	return false;
}

/* Stats "agent" section, as `consul info` shows it. */
static void
chk_stats(struct worker *w, const char *section, struct buf *out)
{
	if (strcmp(section, "agent") != 0)
		return;
	stats_addu(out, "check_monitors", chk_count_kind(&state,
	    CHK_K_SCRIPT));
	stats_addu(out, "check_ttls", chk_count_kind(&state, CHK_K_TTL));
	stats_addu(out, "checks", chk_check_count(&state));
	stats_addu(out, "services", chk_service_count(&state));
}

const struct worker_ops checks_ops = {
	.proc = PROC_CHECKS,
	.handlers = handlers,
	.nhandlers = nitems(handlers),
	.init = chk_init,
	.start = chk_start,
	.reconfig = chk_reconfig,
	.stop = chk_stop,
	.stats = chk_stats,
};
