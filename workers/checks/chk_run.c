/*
 * Check runners (agent/checks/check.go, alias.go): interval checks run a
 * probe after a random stagger within the interval and then one interval
 * after each round completes; TTL checks turn critical when their timer
 * runs out; alias checks follow the local health of another service; the
 * reaper deregisters services critical for longer than their check's
 * deregister_critical_service_after (Agent.reapServicesInternal).
 */
#include "workers/checks/chk_probe.h"
#include "lib/duration.h"
#include "lib/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
		ev_timer_init(&r->timer, alias_refresh_cb,
		    secs(st->tun.alias_refresh), secs(st->tun.alias_refresh));
		st->alias_runners++;
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
	if (c->kind == CHK_K_ALIAS)
		st->alias_runners--;
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

/*
 * CheckAlias.processChecks over the local state: the worst of the
 * aliased service's checks and the node's checks.  An alias of another
 * node needs the catalog, which this agent cannot query yet: critical,
 * worded as Consul words a failed query.
 */
void
chk_alias_eval(struct chk_state *st, struct chk_check *c)
{
	const char *sid = c->def.alias_service;
	enum chk_status health = CHK_PASSING;
	bool found = false;
	char *msg = xstrdup("No checks found.");

	if (c->def.alias_node[0] && strcasecmp(c->def.alias_node,
	    st->node_name) != 0) {
		free(msg);
		msg = xasprintf("Failure checking aliased node or service: "
		    "node %s is not local and catalog queries are not "
		    "available", c->def.alias_node);
		chk_update(st, c, CHK_CRITICAL, msg);
		free(msg);
		return;
	}
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a)) {
		struct chk_check *o = avl_entry(a, struct chk_check, node);
		bool match = strcmp(o->service_id, sid) == 0;
		if (o == c || (o->service_id[0] && !match))
			continue;
		found |= match && sid[0];
		if (o->status != CHK_PASSING) {
			health = o->status;
			free(msg);
			msg = xasprintf("Aliased check \"%s\" failing: %s",
			    o->name, o->output);
			if (o->status == CHK_CRITICAL)
				break;
		} else if (health == CHK_PASSING) {
			free(msg);
			msg = xstrdup("All checks passing.");
		}
	}
	if (!found && sid[0] && chk_service_find(st, sid) == NULL) {
		free(msg);
		msg = xasprintf("Service %s could not be found on node %s", sid,
		    c->def.alias_node);
		health = CHK_CRITICAL;
	}
	chk_update(st, c, health, msg);
	free(msg);
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
