/*
 * The checks worker: agent-local services and checks, the check runners,
 * and anti-entropy into the catalog (chk_ae.c, fed by the sync seam in
 * chk_sync.c).  This file is its process shell: config in, privileges,
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

/* node_meta as alternating key, value (NULL-terminated): the registry
 * copies what it keeps, so this view lives as long as the config. */
static const char **meta_view;

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
	o->node_id = c->node_id;
	o->datacenter = c->datacenter;
	o->advertise_addr = c->advertise_addr;
	o->advertise_addr_wan = c->advertise_addr_wan;
	free(meta_view);
	meta_view = xcalloc(2 * c->node_meta.n + 1, sizeof(*meta_view));
	for (size_t i = 0; i < c->node_meta.n; i++) {
		meta_view[2 * i] = c->node_meta.k[i];
		meta_view[2 * i + 1] = c->node_meta.v[i];
	}
	o->node_meta = meta_view;
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
 * Requests to the store: the catalog sync's writes and reads, and the
 * alias checks' reads of other nodes.  Each request in flight is
 * remembered so a cancel frees it.
 */
struct store_ask {
	struct store_ask *next;
	int64_t reqid;
	chk_store_cb *cb;
	void *arg;
};

static struct store_ask *store_asks;

static void
ask_unlink(struct store_ask *a)
{
	struct store_ask **pp;
	for (pp = &store_asks; *pp && *pp != a; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = a->next;
}

static void
ask_reply(void *arg, struct ipc_msg *m, int err)
{
	struct store_ask *a = arg;
	ask_unlink(a);
	a->cb(a->arg, m ? m->hdr.type : 0, m ? m->data : NULL, m ? m->len : 0,
	    err);
	free(a);
}

static int64_t
store_request(struct chk_state *st, uint16_t type, const struct buf *msg,
    unsigned timeout_ms, chk_store_cb *cb, void *arg)
{
	struct store_ask *a = xcalloc(1, sizeof(*a));
	a->cb = cb;
	a->arg = arg;
	a->reqid = worker_request(self, PROC_STORE, type, msg, timeout_ms,
	    ask_reply, a);
	if (a->reqid < 0) {
		int64_t r = a->reqid;
		free(a);
		return r;
	}
	a->next = store_asks;
	store_asks = a;
	return a->reqid;
}

static void
store_cancel(struct chk_state *st, int64_t reqid)
{
	for (struct store_ask *a = store_asks; a; a = a->next)
		if (a->reqid == reqid) {
			worker_request_cancel(self, PROC_STORE, reqid);
			ask_unlink(a);
			free(a);
			return;
		}
}

/* Alias checks: stale reads with at most 15 s of lag, as CheckAlias. */
static int64_t
catalog_read(struct chk_state *st, unsigned what, const char *name,
    uint64_t min_index, uint64_t wait_ms, chk_store_cb *cb, void *arg)
{
	struct proto_cat_read_req q = { .what = (uint8_t)what,
		.name = proto_str_c(name), .min_index = min_index,
		.wait_ms = wait_ms, .consistency = 1, .max_stale_ms = 15000 };
	struct buf b;
	int64_t r;
	buf_init(&b);
	proto_enc_cat_read_req(&b, &q);
	r = store_request(st, PROTO_CAT_READ_REQ, &b,
	    (unsigned)(wait_ms + 10000), cb, arg);
	buf_free(&b);
	return r;
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
	state.catalog_cancel = store_cancel;
	state.store_request = store_request;
	state.store_cancel = store_cancel;
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
	chk_ae_start(&state);
	return 0;
}

/* The store's channel came (back) up: a full sync now (one that failed
 * for want of it is not left waiting for its retry). */
static void
chk_peer_up(struct worker *w, unsigned peer)
{
	if (peer == PROC_STORE)
		chk_ae_sync_full(&state);
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
	chk_ae_node_changed(&state);
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
	free(meta_view);
	meta_view = NULL;
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
	.peer_up = chk_peer_up,
	.reconfig = chk_reconfig,
	.stop = chk_stop,
	.stats = chk_stats,
};
