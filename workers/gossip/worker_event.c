/*
 * Consul user events (agent/user_event.go, agent/event_endpoint.go,
 * reference/consul.md 1.7).
 *
 * Fire: validate (name, filters compile as Go regexps, no tag filter
 * without a service filter), give the event a fresh UUID and version 1,
 * and send it as the serf user event "consul:event:NAME" whose payload is
 * the msgpack map {ID, n, p, nf, sf, tf, v} (Internal.EventFire).  Consul
 * routes the fire through a server by RPC; the server then sends it on its
 * LAN pool.  muster sends it from this agent's LAN pool, which reaches the
 * same members.
 *
 * Receive (every agent, the sender too): only "consul:event:" events of
 * the LAN pool; the node filter is matched against this agent's name, the
 * service filter (and tag filter) against its local services, which the
 * checks worker holds (asked with AGENT_LOCAL_REQ); an event that passes
 * goes into the 256-event ring.  "_rexec" (consul exec) is not stored.
 *
 * List: oldest first, optionally one name; the index is the newest
 * listed event's ID folded to 64 bits (uuidToUint64), 1 when none.  A
 * request whose index equals that index waits for the next event or its
 * deadline (Consul compares for equality: the index is not monotonic).
 */
#include "workers/gossip/worker_gossip.h"
#include "workers/gossip/msgpack.h"
#include "supervisor/config.h"
#include "lib/bexpr_int.h"
#include "lib/log.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GW_EVENT_BUF 256
#define GW_EVENT_PREFIX "consul:event:"
#define GW_EVENT_VERSION 1

struct gw_uevent {
	char *id, *name, *nf, *sf, *tf;
	uint8_t *payload;
	size_t plen;
	int64_t version;
	uint64_t ltime;
};

struct gw_ewait {
	struct gw_ewait *next;
	struct gw_pending rep;
	char *name;		/* "" for every event */
	uint64_t min_index;
	ev_timer t;
};

struct gw_events {
	struct gw_uevent *buf[GW_EVENT_BUF];
	unsigned idx;			/* next slot (agent.eventIndex) */
	struct gw_ewait *waiters;
};

/* The event's msgpack form, keys in Go declaration order. */
struct uev_wire {
	struct gossip_slice id, name, payload, nf, sf, tf;
	int64_t v;
};

static const struct gossip_mp_field uev_fields[] = {
	{ "ID", GOSSIP_MP_K_STR, offsetof(struct uev_wire, id) },
	{ "n", GOSSIP_MP_K_STR, offsetof(struct uev_wire, name) },
	{ "p", GOSSIP_MP_K_BYTES | GOSSIP_MP_OMITEMPTY,
	  offsetof(struct uev_wire, payload) },
	{ "nf", GOSSIP_MP_K_STR | GOSSIP_MP_OMITEMPTY,
	  offsetof(struct uev_wire, nf) },
	{ "sf", GOSSIP_MP_K_STR | GOSSIP_MP_OMITEMPTY,
	  offsetof(struct uev_wire, sf) },
	{ "tf", GOSSIP_MP_K_STR | GOSSIP_MP_OMITEMPTY,
	  offsetof(struct uev_wire, tf) },
	{ "v", GOSSIP_MP_K_I64, offsetof(struct uev_wire, v) },
};

static void
uevent_free(struct gw_uevent *e)
{
	if (e == NULL)
		return;
	free(e->id);
	free(e->name);
	free(e->nf);
	free(e->sf);
	free(e->tf);
	free(e->payload);
	free(e);
}

void
gw_events_init(struct gw *g)
{
	g->ev = xcalloc(1, sizeof(*g->ev));
}

static void
ewait_free(struct gw *g, struct gw_ewait *wt)
{
	ev_timer_stop(g->w->loop, &wt->t);
	free(wt->name);
	free(wt);
}

void
gw_events_free(struct gw *g)
{
	if (g->ev == NULL)
		return;
	for (unsigned i = 0; i < GW_EVENT_BUF; i++)
		uevent_free(g->ev->buf[i]);
	while (g->ev->waiters) {
		struct gw_ewait *wt = g->ev->waiters;
		g->ev->waiters = wt->next;
		ewait_free(g, wt);
	}
	free(g->ev);
	g->ev = NULL;
}

/* ---- regexps (Go syntax, as Consul compiles them) ---- */

static int
re_check(const char *pat, const char *what, struct buf *err)
{
	struct bx_re *re;
	struct buf e;
	buf_init(&e);
	int r = bx_re_compile(pat, strlen(pat), &re, &e);
	if (r < 0)
		buf_printf(err, "Invalid %s filter: %s", what,
		    e.len ? (char *)e.data : "bad regexp");
	else
		bx_re_free(re);
	buf_free(&e);
	return r;
}

/* -1 when pat does not compile. */
static int
re_match(const char *pat, const char *s, size_t n)
{
	struct bx_re *re;
	struct buf e;
	buf_init(&e);
	int r = bx_re_compile(pat, strlen(pat), &re, &e);
	buf_free(&e);
	if (r < 0)
		return -1;
	r = bx_re_match(re, s, n) ? 1 : 0;
	bx_re_free(re);
	return r;
}

/* ---- the ring and list answers ---- */

/* agent/event_endpoint.go uuidToUint64: the two halves XORed. */
static uint64_t
uuid_index(const char *id)
{
	char lo[17], hi[17];
	if (strlen(id) != 36)
		return 1;
	memcpy(lo, id, 8);
	memcpy(lo + 8, id + 9, 4);
	memcpy(lo + 12, id + 14, 4);
	lo[16] = '\0';
	memcpy(hi, id + 19, 4);
	memcpy(hi + 4, id + 24, 12);
	hi[16] = '\0';
	char *e1, *e2;
	uint64_t a = strtoull(lo, &e1, 16), b = strtoull(hi, &e2, 16);
	if (*e1 || *e2)
		return 1;
	return a ^ b;
}

static void
uevent_enc(const struct gw_uevent *e, struct buf *out)
{
	struct proto_user_event m = {
		.id = proto_str_c(e->id), .name = proto_str_c(e->name),
		.payload = { (const char *)e->payload, (uint32_t)e->plen },
		.node_filter = proto_str_c(e->nf),
		.service_filter = proto_str_c(e->sf),
		.tag_filter = proto_str_c(e->tf),
		.version = (uint32_t)e->version, .ltime = e->ltime,
	};
	proto_enc_user_event(out, &m);
}

/* The events matching name, oldest first (agent.UserEvents order). */
static size_t
list_events(struct gw_events *ev, const char *name,
    const struct gw_uevent **out)
{
	size_t n = 0;
	for (unsigned k = 0; k < GW_EVENT_BUF; k++) {
		const struct gw_uevent *e = ev->buf[(ev->idx + k) % GW_EVENT_BUF];
		if (e && (name[0] == '\0' || strcmp(e->name, name) == 0))
			out[n++] = e;
	}
	return n;
}

static uint64_t
list_index(struct gw_events *ev, const char *name)
{
	const struct gw_uevent *l[GW_EVENT_BUF];
	size_t n = list_events(ev, name, l);
	return n ? uuid_index(l[n - 1]->id) : 1;
}

static void
list_reply(struct gw *g, const struct gw_pending *rep, const char *name)
{
	const struct gw_uevent *l[GW_EVENT_BUF];
	struct proto_str items[GW_EVENT_BUF];
	size_t off[GW_EVENT_BUF + 1];
	struct buf all, out;
	size_t n = list_events(g->ev, name, l);

	buf_init(&all);
	buf_init(&out);
	for (size_t i = 0; i < n; i++) {
		off[i] = all.len;
		uevent_enc(l[i], &all);
	}
	off[n] = all.len;
	for (size_t i = 0; i < n; i++)
		items[i] = (struct proto_str){ (const char *)all.data + off[i],
			(uint32_t)(off[i + 1] - off[i]) };
	struct proto_event_list r = {
		.index = n ? uuid_index(l[n - 1]->id) : 1,
		.events = { .n = (uint32_t)n, .strs = items } };
	proto_enc_event_list(&out, &r);
	gw_pending_reply(g->w, rep, PROTO_EVENT_LIST, &out);
	buf_free(&all);
	buf_free(&out);
}

static void
wake_waiters(struct gw *g)
{
	struct gw_ewait **pp = &g->ev->waiters;
	while (*pp) {
		struct gw_ewait *wt = *pp;
		if (list_index(g->ev, wt->name) == wt->min_index) {
			pp = &wt->next;
			continue;
		}
		*pp = wt->next;
		list_reply(g, &wt->rep, wt->name);
		ewait_free(g, wt);
	}
}

static void
ingest(struct gw *g, struct gw_uevent *e)
{
	struct gw_events *ev = g->ev;
	if (strcmp(e->name, "_rexec") == 0) {
		log_info("ignoring remote exec event (%s): %s", e->id,
		    g->w->cfg->disable_remote_exec ? "disabled" :
		    "not supported");
		uevent_free(e);
		return;
	}
	log_debug("new event: %s (%s)", e->name, e->id);
	uevent_free(ev->buf[ev->idx]);
	ev->buf[ev->idx] = e;
	ev->idx = (ev->idx + 1) % GW_EVENT_BUF;
	wake_waiters(g);
}

/* ---- receiving ---- */

static struct gw_uevent *
uevent_decode(const struct gossip_event *se)
{
	struct uev_wire m;
	struct gossip_mp_rd r;
	gossip_mp_rd_init(&r, se->payload, se->payload_len);
	if (gossip_mp_get_struct(&r, uev_fields, nitems(uev_fields), &m) < 0)
		return NULL;
	struct gw_uevent *e = xcalloc(1, sizeof(*e));
	e->id = gossip_slice_dup(m.id);
	e->name = gossip_slice_dup(m.name);
	e->nf = gossip_slice_dup(m.nf);
	e->sf = gossip_slice_dup(m.sf);
	e->tf = gossip_slice_dup(m.tf);
	e->plen = m.payload.n;
	e->payload = xmalloc(e->plen ? e->plen : 1);
	if (e->plen)
		memcpy(e->payload, m.payload.p, e->plen);
	e->version = m.v;
	e->ltime = se->ltime;
	return e;
}

static bool
service_matches(const struct gw_uevent *e, const struct proto_agent_service *s)
{
	struct proto_strv_iter it;
	struct proto_str t;
	if (re_match(e->sf, s->id.p, s->id.len) != 1)
		return false;
	if (e->tf[0] == '\0')
		return true;
	proto_strv_iter_init(&it, &s->tags);
	while (proto_strv_next(&it, &t))
		if (re_match(e->tf, t.p, t.len) == 1)
			return true;
	return false;
}

/* The checks worker's answer: does a local service match? */
static void
services_cb(void *arg, struct ipc_msg *m, int err)
{
	struct gw_uevent *e = arg;
	struct proto_agent_local al;
	struct proto_strv_iter it;
	struct proto_str item;
	bool found = false;

	if (err < 0 || m->hdr.type != PROTO_AGENT_LOCAL ||
	    proto_dec_agent_local(m->data, m->len, &al) < 0) {
		struct proto_str why = PROTO_STR("");
		if (err == 0)
			worker_result(m, &why);
		log_warnx("event %s (%s): cannot read the local services for "
		    "its service filter: %s%.*s", e->name, e->id,
		    err < 0 ? strerror(-err) : "", (int)why.len, why.p);
		uevent_free(e);
		return;
	}
	proto_strv_iter_init(&it, &al.services);
	while (!found && proto_strv_next(&it, &item)) {
		struct proto_agent_service s;
		if (proto_dec_agent_service(item.p, item.len, &s) == 0)
			found = service_matches(e, &s);
	}
	if (found)
		ingest(&gw, e);
	else
		uevent_free(e);
}

static void
filter_services(struct gw *g, struct gw_uevent *e)
{
	struct proto_agent_local_req q = { .what = AGENT_LOCAL_SERVICES };
	struct buf b;
	if (re_match(e->sf, "", 0) < 0 || (e->tf[0] && re_match(e->tf, "",
	    0) < 0)) {
		log_warnx("failed to parse service or tag filter of event %s",
		    e->name);
		uevent_free(e);
		return;
	}
	buf_init(&b);
	proto_enc_agent_local_req(&b, &q);
	if (worker_request(g->w, PROC_CHECKS, PROTO_AGENT_LOCAL_REQ, &b,
	    5000, services_cb, e) < 0) {
		log_warnx("event %s (%s): the checks worker is not reachable "
		    "for its service filter", e->name, e->id);
		uevent_free(e);
	}
	buf_free(&b);
}

/* agent.handleEvents + shouldProcessUserEvent. */
void
gw_events_on_user(struct gw *g, const struct gossip_event *se)
{
	size_t pl = strlen(GW_EVENT_PREFIX);
	if (strncmp(se->name, "consul:", 7) != 0)
		return;		/* not Consul's: serf's own users */
	if (strncmp(se->name, GW_EVENT_PREFIX, pl) != 0) {
		log_debug("unhandled local event %s", se->name);
		return;
	}
	struct gw_uevent *e = uevent_decode(se);
	if (e == NULL) {
		log_warnx("failed to decode event %s", se->name + pl);
		return;
	}
	if (e->version > GW_EVENT_VERSION)
		log_warnx("event version %lld may have unsupported features "
		    "(%s)", (long long)e->version, e->name);
	if (e->nf[0]) {
		int r = re_match(e->nf, g->self.name, strlen(g->self.name));
		if (r < 0)
			log_warnx("failed to parse node filter '%s' for event "
			    "'%s'", e->nf, e->name);
		if (r != 1) {
			uevent_free(e);
			return;
		}
	}
	if (e->sf[0])
		filter_services(g, e);
	else
		ingest(g, e);
}

/* ---- PUT /v1/event/fire/:name ---- */

static int
fire_validate(const struct gw_uevent *e, struct buf *err)
{
	if (e->name[0] == '\0') {
		buf_addstr(err, "User event missing name");
		return -EINVAL;
	}
	if (e->tf[0] && e->sf[0] == '\0') {
		buf_addstr(err, "Cannot provide tag filter without service "
		    "filter");
		return -EINVAL;
	}
	if ((e->nf[0] && re_check(e->nf, "node", err) < 0) ||
	    (e->sf[0] && re_check(e->sf, "service", err) < 0) ||
	    (e->tf[0] && re_check(e->tf, "tag", err) < 0))
		return -EINVAL;
	return 0;
}

static int
fire(struct gw *g, const struct gw_uevent *e, struct buf *err)
{
	const char *why = "";
	struct gw_pool *p = gw_pool_for(g, false, &why);
	struct buf payload;
	if (p == NULL) {
		buf_addstr(err, why);
		return -EAGAIN;
	}
	struct uev_wire m = {
		.id = gossip_slice_c(e->id), .name = gossip_slice_c(e->name),
		.payload = { e->plen ? e->payload : NULL, e->plen },
		.nf = gossip_slice_c(e->nf), .sf = gossip_slice_c(e->sf),
		.tf = gossip_slice_c(e->tf), .v = e->version,
	};
	buf_init(&payload);
	gossip_mp_put_struct(&payload, uev_fields, nitems(uev_fields), &m);
	char *name = xasprintf("%s%s", GW_EVENT_PREFIX, e->name);
	int r = gossip_pool_user_event(p->pool, name, payload.data,
	    payload.len, false, &why);
	if (r < 0)
		buf_addstr(err, why && why[0] ? why : strerror(-r));
	free(name);
	buf_free(&payload);
	return r;
}

void
gw_on_event_fire(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_event_fire_req q;
	struct gw_uevent e = { 0 };
	char id[37];
	struct buf err, out;

	if (proto_dec_event_fire_req(m->data, m->len, &q) < 0)
		return;
	buf_init(&err);
	buf_init(&out);
	e.name = proto_str_dup(q.name);
	e.nf = proto_str_dup(q.node_filter);
	e.sf = proto_str_dup(q.service_filter);
	e.tf = proto_str_dup(q.tag_filter);
	e.payload = (uint8_t *)q.payload.p;
	e.plen = q.payload.len;
	e.version = GW_EVENT_VERSION;
	e.id = id;
	int r = -EINVAL;
	if (!e.name || !e.nf || !e.sf || !e.tf)
		buf_addstr(&err, "invalid NUL byte in the event name or filters");
	else if ((r = fire_validate(&e, &err)) == 0 &&
	    (r = uuid_v4(id)) < 0)
		buf_printf(&err, "UUID generation failed: %s", strerror(-r));
	else if (r == 0)
		r = fire(&gw, &e, &err);
	if (r < 0) {
		worker_reply_result(ch, m, r, (char *)err.data);
	} else {
		log_debug("fired event %s (%s)", e.name, e.id);
		uevent_enc(&e, &out);
		worker_reply(ch, m, PROTO_USER_EVENT, &out);
	}
	free(e.name);
	free(e.nf);
	free(e.sf);
	free(e.tf);
	buf_free(&err);
	buf_free(&out);
}

/* ---- GET /v1/event/list ---- */

static void
ewait_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw_ewait *wt = t->data;
	struct gw_ewait **pp = &gw.ev->waiters;
	while (*pp && *pp != wt)
		pp = &(*pp)->next;
	if (*pp)
		*pp = wt->next;
	list_reply(&gw, &wt->rep, wt->name);
	ewait_free(&gw, wt);
}

void
gw_on_event_list(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_event_list_req q;
	struct gw_pending rep;

	if (proto_dec_event_list_req(m->data, m->len, &q) < 0)
		return;
	char *name = proto_str_dup(q.name);
	if (name == NULL) {
		worker_reply_result(ch, m, -EINVAL, "invalid event name");
		return;
	}
	gw_pending_init(&rep, w, from, m);
	if (q.min_index == 0 || q.wait_ms == 0 ||
	    list_index(gw.ev, name) != q.min_index) {
		list_reply(&gw, &rep, name);
		free(name);
		return;
	}
	struct gw_ewait *wt = xcalloc(1, sizeof(*wt));
	wt->rep = rep;
	wt->name = name;
	wt->min_index = q.min_index;
	ev_timer_init(&wt->t, ewait_timeout, (double)q.wait_ms / 1000.0, 0.0);
	wt->t.data = wt;
	ev_timer_start(w->loop, &wt->t);
	wt->next = gw.ev->waiters;
	gw.ev->waiters = wt;
}
