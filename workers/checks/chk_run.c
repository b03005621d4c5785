/*
 * Check runners (agent/checks/check.go, alias.go): interval checks run a
 * probe after a random stagger within the interval and then one interval
 * after each round completes; TTL checks turn critical when their timer
 * runs out; alias checks follow the local health of another service; the
 * reaper deregisters services critical for longer than their check's
 * deregister_critical_service_after (Agent.reapServicesInternal).
 */
#include "workers/checks/chk_probe.h"
#include "proto/proto.h"
#include "lib/duration.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool alias_is_remote(const struct chk_state *st,
    const struct chk_check *c);

#define DEFAULT_TIMEOUT (10 * DURATION_S)
#define SCRIPT_TIMEOUT (30 * DURATION_S)

static double
secs(int64_t ns)
{
	return (double)ns / 1e9;
}

/* lib.RandomStagger: uniform in [0, d). */
static int64_t
stagger(int64_t d)
{
	uint64_t r;
	if (d <= 0 || random_bytes(&r, sizeof(r)) < 0)
		return 0;
	return (int64_t)(r % (uint64_t)d);
}

void
chk_probe_result(struct chk_run *r, enum chk_status s, const char *output)
{
	enum chk_status to;
	r->st->probes_run++;
	if (chk_thresh_feed(&r->th, s, &to))
		chk_update(r->st, r->c, to, output);
	else
		log_debug("check %s: %s below its threshold", r->c->id,
		    chk_status_name(s));
}

void
chk_probe_end(struct chk_run *r)
{
	r->probe = NULL;
	ev_timer_set(&r->timer, secs(r->interval), 0);
	ev_timer_start(r->st->loop, &r->timer);
}

static void
round_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct chk_run *r = t->data;
	switch (r->c->kind) {
	case CHK_K_HTTP:
		chk_http_start(r);
		break;
	case CHK_K_TCP:
		chk_tcp_start(r);
		break;
	case CHK_K_UDP:
		chk_udp_start(r);
		break;
	case CHK_K_SCRIPT:
		chk_script_start(r);
		break;
	case CHK_K_GRPC:
		chk_grpc_start(r);
		break;
	case CHK_K_H2PING:
		chk_h2ping_start(r);
		break;
	default:
		break;
	}
}

/* CheckTTL.getExpiredOutput. */
static void
ttl_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct chk_run *r = t->data;
	char *out = r->ttl_last && r->ttl_last[0] ? xasprintf("TTL expired "
	    "(last output before timeout follows): %s", r->ttl_last) :
	    xstrdup("TTL expired");
	log_warnx("check %s missed TTL, is now critical", r->c->id);
	chk_update(r->st, r->c, CHK_CRITICAL, out);
	free(out);
}

/* The alias's periodic re-query (maxDurationBetweenUpdates). */
static void
alias_refresh_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct chk_run *r = t->data;
	chk_alias_eval(r->st, r->c);
}

static int64_t
default_timeout(enum chk_kind k)
{
	return k == CHK_K_SCRIPT ? SCRIPT_TIMEOUT : DEFAULT_TIMEOUT;
}

void
chk_run_start(struct chk_state *st, struct chk_check *c)
{
	struct chk_run *r;
	if (!c->has_def || c->kind == CHK_K_NONE || c->run)
		return;
	r = xcalloc(1, sizeof(*r));
	r->st = st;
	r->c = c;
	r->interval = c->def.interval;
	r->timeout = c->def.timeout > 0 ? c->def.timeout :
	    default_timeout(c->kind);
	chk_thresh_init(&r->th, &c->def);
	c->run = r;
	r->timer.data = r;
	switch (c->kind) {
	case CHK_K_TTL:
		ev_timer_init(&r->timer, ttl_cb, secs(c->def.ttl), 0);
		break;
	case CHK_K_ALIAS:
		st->alias_runners++;
		if (alias_is_remote(st, c)) {
			chk_alias_remote(r, true);
			return;		/* the query loop owns the timer */
		}
		ev_timer_init(&r->timer, alias_refresh_cb,
		    secs(st->tun.alias_refresh), secs(st->tun.alias_refresh));
		chk_alias_eval(st, c);
		break;
	default:
		if (r->interval < st->tun.min_interval) {
			log_warnx("check %s has interval below minimum of %g s",
			    c->id, secs(st->tun.min_interval));
			r->interval = st->tun.min_interval;
		}
		ev_timer_init(&r->timer, round_cb, st->tun.stagger ?
		    secs(stagger(r->interval)) : 0, 0);
		break;
	}
	ev_timer_start(st->loop, &r->timer);
}

void
chk_run_stop(struct chk_state *st, struct chk_check *c)
{
	struct chk_run *r = c->run;
	if (r == NULL)
		return;
	ev_timer_stop(st->loop, &r->timer);
	if (c->kind == CHK_K_ALIAS) {
		st->alias_runners--;
		chk_alias_remote(r, false);
	}
	if (r->probe)
		r->probe->ops->cancel(r->probe);
	free(r->ttl_last);
	free(r);
	c->run = NULL;
}

/* CheckTTL.SetStatus: the status is set and the TTL restarts. */
void
chk_run_ttl_set(struct chk_state *st, struct chk_check *c,
    enum chk_status status, const char *output)
{
	struct chk_run *r = c->run;
	chk_update(st, c, status, output);
	if (r == NULL)
		return;
	free(r->ttl_last);
	r->ttl_last = xstrdup(output);
	ev_timer_stop(st->loop, &r->timer);
	ev_timer_set(&r->timer, secs(c->def.ttl), 0);
	ev_timer_start(st->loop, &r->timer);
}

/* ---- alias ---- */

static void
alias_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct chk_state *st = t->data;
	st->alias_dirty = false;
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a)) {
		struct chk_check *c = avl_entry(a, struct chk_check, node);
		if (c->kind == CHK_K_ALIAS && c->run)
			chk_alias_eval(st, c);
	}
}

void
chk_alias_touch(struct chk_state *st, const struct chk_check *changed)
{
	if (!st->running || st->alias_dirty || st->alias_runners == 0)
		return;
	st->alias_dirty = true;
	ev_timer_init(&st->alias_timer, alias_timer_cb, 0, 0);
	st->alias_timer.data = st;
	ev_timer_start(st->loop, &st->alias_timer);
}

/* One check as CheckAlias.processChecks sees it. */
struct alias_item {
	const char *service_id, *name, *output;
	enum chk_status status;
};

/*
 * CheckAlias.processChecks: the worst of the aliased service's checks and
 * the node's own checks; *found says whether any check of the service
 * was among them (when not, the service may still exist without checks).
 */
static enum chk_status
alias_verdict(const char *sid, const struct alias_item *it, size_t n,
    char **msg, bool *found)
{
	enum chk_status health = CHK_PASSING;
	*msg = xstrdup("No checks found.");
	*found = false;
	for (size_t i = 0; i < n; i++) {
		bool match = strcmp(it[i].service_id, sid) == 0;
		if (it[i].service_id[0] && !match)
			continue;
		*found |= match && sid[0];
		if (it[i].status != CHK_PASSING) {
			health = it[i].status;
			free(*msg);
			*msg = xasprintf("Aliased check \"%s\" failing: %s",
			    it[i].name, it[i].output);
			if (health == CHK_CRITICAL)
				break;
		} else if (health == CHK_PASSING) {
			free(*msg);
			*msg = xstrdup("All checks passing.");
		}
	}
	return health;
}

static void
alias_missing(struct chk_state *st, struct chk_check *c)
{
	char *msg = xasprintf("Service %s could not be found on node %s",
	    c->def.alias_service, c->def.alias_node);
	chk_update(st, c, CHK_CRITICAL, msg);
	free(msg);
}

static bool
alias_is_remote(const struct chk_state *st, const struct chk_check *c)
{
	return c->def.alias_node[0] && strcasecmp(c->def.alias_node,
	    st->node_name) != 0;
}

/* The local state (runLocal): this node's checks, without the alias. */
void
chk_alias_eval(struct chk_state *st, struct chk_check *c)
{
	struct alias_item *it;
	enum chk_status health;
	size_t n = 0;
	bool found;
	char *msg;

	if (alias_is_remote(st, c))
		return;		/* the catalog query loop answers */
	it = xcalloc(st->checks.count + 1, sizeof(*it));
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a)) {
		struct chk_check *o = avl_entry(a, struct chk_check, node);
		if (o != c)
			it[n++] = (struct alias_item){ o->service_id, o->name,
			    o->output, o->status };
	}
	health = alias_verdict(c->def.alias_service, it, n, &msg, &found);
	free(it);
	if (!found && c->def.alias_service[0] &&
	    chk_service_find(st, c->def.alias_service) == NULL)
		alias_missing(st, c);
	else
		chk_update(st, c, health, msg);
	free(msg);
}

/* ---- alias of another node: catalog queries (runQuery) ---- */

#define ALIAS_WAIT_MS 60000		/* MaxQueryTime 1 min */
#define ALIAS_BACKOFF_MIN 3		/* attempts before backing off */
#define ALIAS_BACKOFF_MAX_S 60

static void alias_query(struct chk_run *r);

/* RESULT's message, or the transport error, as the failure text. */
static char *
catalog_error(uint16_t type, const void *p, size_t n, int err)
{
	struct proto_result res;
	if (err < 0)
		return xasprintf("%s", err == -ETIMEDOUT ? "timed out waiting "
		    "for the agent's store process" : err == -ENOTCONN ||
		    err == -EPIPE ? "the agent's store process is restarting" :
		    strerror(-err));
	if (type == PROTO_RESULT && proto_dec_result(p, n, &res) == 0)
		return xasprintf("%.*s", (int)res.message.len, res.message.p);
	return xstrdup("unexpected answer from the catalog");
}

static void
alias_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	alias_query(t->data);
}

/* Back off after ALIAS_BACKOFF_MIN failures: 1 s doubling to 1 min. */
static void
alias_failed(struct chk_run *r, char *why)
{
	double wait = 0;
	if (++r->attempt > 1) {
		char *msg = xasprintf("Failure checking aliased node or service: "
		    "%s", why);
		chk_update(r->st, r->c, CHK_CRITICAL, msg);
		free(msg);
	}
	free(why);
	if (r->attempt > ALIAS_BACKOFF_MIN) {
		unsigned shift = MIN(r->attempt - ALIAS_BACKOFF_MIN, 31u);
		wait = shift > 6 ? ALIAS_BACKOFF_MAX_S :
		    MIN((double)(1u << shift), ALIAS_BACKOFF_MAX_S);
	}
	ev_timer_init(&r->timer, alias_retry_cb, wait, 0);
	r->timer.data = r;
	ev_timer_start(r->st->loop, &r->timer);
}

/* checkServiceExistsOnRemoteServer: a failed lookup assumes it exists. */
static void
alias_services_cb(void *arg, uint16_t type, const void *p, size_t n, int err)
{
	struct chk_run *r = arg;
	struct proto_cat_read rd;
	struct proto_strv_iter it;
	struct proto_str item;
	bool exists = true;

	r->query = 0;
	if (err == 0 && type == PROTO_CAT_READ &&
	    proto_dec_cat_read(p, n, &rd) == 0) {
		exists = false;
		proto_strv_iter_init(&it, &rd.items);
		while (!exists && proto_strv_next(&it, &item)) {
			struct proto_cat_service sv;
			exists = proto_dec_cat_service(item.p, item.len, &sv) ==
			    0 && proto_str_eq(sv.id, r->c->def.alias_service);
		}
	}
	if (exists)
		chk_update(r->st, r->c, r->pending, r->pending_msg);
	else
		alias_missing(r->st, r->c);
	free(r->pending_msg);
	r->pending_msg = NULL;
	alias_query(r);
}

static bool
alias_items(const struct proto_cat_read *rd, const char *node,
    struct alias_item **out, size_t *n, char ***strs)
{
	struct proto_strv_iter it;
	struct proto_str item;
	size_t cap = rd->items.n, k = 0;
	*out = xcalloc(cap + 1, sizeof(**out));
	*strs = xcalloc(3 * cap + 1, sizeof(char *));
	*n = 0;
	proto_strv_iter_init(&it, &rd->items);
	while (*n < cap && proto_strv_next(&it, &item)) {
		struct proto_cat_check ck;
		enum chk_status s = CHK_CRITICAL;
		char *status;
		if (proto_dec_cat_check(item.p, item.len, &ck) < 0)
			return false;
		if (ck.node.len != strlen(node) ||
		    strncasecmp(ck.node.p, node, ck.node.len) != 0)
			continue;
		status = proto_str_dup(ck.status);
		if (status)
			chk_status_parse(status, &s);
		free(status);
		(*strs)[k] = proto_str_dup(ck.service_id);
		(*strs)[k + 1] = proto_str_dup(ck.name);
		(*strs)[k + 2] = proto_str_dup(ck.output);
		if (!(*strs)[k] || !(*strs)[k + 1] || !(*strs)[k + 2])
			return false;
		(*out)[(*n)++] = (struct alias_item){ (*strs)[k],
		    (*strs)[k + 1], (*strs)[k + 2], s };
		k += 3;
	}
	return true;
}

static void
alias_health_cb(void *arg, uint16_t type, const void *p, size_t n, int err)
{
	struct chk_run *r = arg;
	struct chk_check *c = r->c;
	struct proto_cat_read rd;
	struct alias_item *items = NULL;
	char **strs = NULL, *msg = NULL;
	size_t ni = 0;
	bool found, ok;

	r->query = 0;
	if (err < 0 || type != PROTO_CAT_READ ||
	    proto_dec_cat_read(p, n, &rd) < 0) {
		alias_failed(r, catalog_error(type, p, n, err));
		return;
	}
	r->attempt = 0;
	r->min_index = rd.index > 0 ? rd.index : 1;
	ok = alias_items(&rd, c->def.alias_node, &items, &ni, &strs);
	enum chk_status h = ok ? alias_verdict(c->def.alias_service, items, ni,
	    &msg, &found) : CHK_CRITICAL;
	for (size_t i = 0; strs && strs[i]; i++)
		free(strs[i]);
	free(strs);
	free(items);
	if (!ok) {
		free(msg);
		alias_failed(r, xstrdup("malformed answer from the catalog"));
		return;
	}
	if (!found && c->def.alias_service[0] && r->st->catalog_read) {
		r->pending = h;
		r->pending_msg = msg;
		r->query = r->st->catalog_read(r->st, CAT_Q_NODE_SERVICES,
		    c->def.alias_node, 0, 0, alias_services_cb, r);
		if (r->query > 0)
			return;
		r->query = 0;
		r->pending_msg = NULL;	/* cannot tell: assume it exists */
	}
	chk_update(r->st, c, h, msg);
	free(msg);
	alias_query(r);
}

/* One blocking read of the aliased node's checks (Health.NodeChecks). */
static void
alias_query(struct chk_run *r)
{
	struct chk_state *st = r->st;
	if (st->catalog_read == NULL) {
		alias_failed(r, xstrdup("no catalog on this agent"));
		return;
	}
	r->query = st->catalog_read(st, CAT_Q_HEALTH_NODE, r->c->def.alias_node,
	    r->min_index, r->min_index ? ALIAS_WAIT_MS : 0, alias_health_cb, r);
	if (r->query < 0) {
		r->query = 0;
		alias_failed(r, catalog_error(0, NULL, 0, -ENOTCONN));
	}
}

/* Start (or, at stop, cancel) the remote loop of an alias run. */
void
chk_alias_remote(struct chk_run *r, bool start)
{
	if (start) {
		alias_query(r);
		return;
	}
	if (r->query > 0 && r->st->catalog_cancel)
		r->st->catalog_cancel(r->st, r->query);
	r->query = 0;
	free(r->pending_msg);
	r->pending_msg = NULL;
}

/* ---- reaper ---- */

static void
reap_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	chk_reap(t->data, mono_ms());
}

void
chk_run_global(struct chk_state *st, bool on)
{
	if (!on) {
		ev_timer_stop(st->loop, &st->reaper);
		ev_timer_stop(st->loop, &st->alias_timer);
		st->alias_dirty = false;
		return;
	}
	ev_timer_init(&st->reaper, reap_cb, secs(st->tun.reap_interval),
	    secs(st->tun.reap_interval));
	st->reaper.data = st;
	ev_timer_start(st->loop, &st->reaper);
	ev_init(&st->alias_timer, alias_timer_cb);
}

unsigned
chk_reap(struct chk_state *st, uint64_t now_ms)
{
	char **ids = NULL;
	size_t n = 0;
	unsigned reaped = 0;

	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a)) {
		struct chk_check *c = avl_entry(a, struct chk_check, node);
		if (c->reap_after_ns <= 0 || c->service_id[0] == '\0' ||
		    c->critical_since_ms == 0 ||
		    (int64_t)(now_ms - c->critical_since_ms) * DURATION_MS <=
		    c->reap_after_ns)
			continue;
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = xstrdup(c->service_id);
	}
	for (size_t i = 0; i < n; i++) {
		struct buf err;
		buf_init(&err);
		if (chk_service_find(st, ids[i]) &&
		    chk_remove_service(st, ids[i], true, &err) == 0) {
			log_info("deregistered service %s with critical health "
			    "due to exceeding health check's "
			    "'deregister_critical_service_after' timeout", ids[i]);
			reaped++;
		}
		buf_free(&err);
		free(ids[i]);
	}
	free(ids);
	return reaped;
}
