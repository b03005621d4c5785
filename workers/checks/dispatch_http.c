/*
 * Messages from the http worker: the agent-local endpoints
 * (reference/consul.md 1.1), answered from the registry.  Each case
 * decodes, calls one registry function and answers; the HTTP status an
 * answer becomes is carried by its RESULT code (schema_agent.h).
 */
#include "workers/checks/checks.h"
#include "lib/json.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
reply(struct ipc_chan *ch, const struct ipc_msg *m, int code,
    const struct buf *msg)
{
	worker_reply_result(ch, m, code, msg->data ? (char *)msg->data : "");
}

/*
 * Hash-blocking reads parked until their service changes or their wait
 * ends (agent.LocalBlockingQuery).  An answer goes back on the channel the
 * request came on, unless its worker was restarted meanwhile (the
 * channel's epoch moved on: nobody waits for it any more).
 */
#define WAITS_MAX 4096

struct wait {
	struct wait *next;
	struct worker *w;
	char *id, *hash;
	unsigned what, from;
	uint32_t reqid, epoch;
	ev_timer tm;
};

static struct wait *waits;
static size_t nwaits;

static void
answer(struct worker *w, struct ipc_chan *ch, uint32_t reqid, unsigned what,
    const char *id, const char *name)
{
	struct ipc_msg req = { .hdr = { .reqid = reqid } };
	struct buf out;
	buf_init(&out);
	chk_enc_local(&out, chk_worker_state(), what, id, name);
	worker_reply(ch, &req, PROTO_AGENT_LOCAL, &out);
	buf_free(&out);
}

static void
wait_finish(struct wait *wt)
{
	struct wait **pp;
	struct ipc_chan *ch;
	for (pp = &waits; *pp && *pp != wt; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = wt->next;
	nwaits--;
	ev_timer_stop(wt->w->loop, &wt->tm);
	ch = wt->w->peer[wt->from];
	if (ch && wt->w->peer_epoch[wt->from] == wt->epoch)
		answer(wt->w, ch, wt->reqid, wt->what, wt->id, NULL);
	free(wt->id);
	free(wt->hash);
	free(wt);
}

static void
wait_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	wait_finish(t->data);
}

/* Registry hook: answer every wait on this service whose hash moved. */
static void
service_changed(struct chk_state *st, const char *id)
{
	struct wait *wt, *next;
	for (wt = waits; wt; wt = next) {
		struct chk_service *s;
		char h[17];
		next = wt->next;
		if (strcmp(wt->id, id) != 0)
			continue;
		if ((s = chk_service_find(st, id)) != NULL) {
			chk_service_hash(s, h);
			if (strcmp(h, wt->hash) == 0)
				continue;
		}
		wait_finish(wt);
	}
}

static bool
park(struct worker *w, unsigned from, const struct ipc_msg *m,
    const struct proto_agent_local_req *q, const char *id)
{
	struct chk_state *st = chk_worker_state();
	struct chk_service *s = chk_service_find(st, id);
	struct wait *wt;
	char h[17];

	if (s == NULL || q->wait_ms == 0 || nwaits >= WAITS_MAX ||
	    m->hdr.reqid == 0)
		return false;
	chk_service_hash(s, h);
	if (!proto_str_eq(q->hash, h))
		return false;
	st->service_changed = service_changed;
	wt = xcalloc(1, sizeof(*wt));
	wt->w = w;
	wt->id = xstrdup(id);
	wt->hash = xstrdup(h);
	wt->what = q->what;
	wt->reqid = m->hdr.reqid;
	wt->from = from;
	wt->epoch = w->peer_epoch[from];
	ev_timer_init(&wt->tm, wait_timeout_cb, (double)q->wait_ms / 1e3, 0);
	wt->tm.data = wt;
	ev_timer_start(w->loop, &wt->tm);
	wt->next = waits;
	waits = wt;
	nwaits++;
	return true;
}

static void
on_local_req(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_agent_local_req q;
	char *id = NULL, *name = NULL;

	proto_dec_agent_local_req(m->data, m->len, &q);
	if (q.service_id.len)
		id = proto_str_dup(q.service_id);
	if (q.service_name.len)
		name = proto_str_dup(q.service_name);
	if (!(id && q.hash.len && park(w, from, m, &q, id)))
		answer(w, ch, m->hdr.reqid, q.what, id, name);
	free(id);
	free(name);
}

/* Stop: nobody is left to answer. */
void
checks_dispatch_http_stop(void)
{
	while (waits) {
		struct wait *wt = waits;
		waits = wt->next;
		ev_timer_stop(wt->w->loop, &wt->tm);
		free(wt->id);
		free(wt->hash);
		free(wt);
	}
	nwaits = 0;
}

/* decodeBody: an empty body is EOF, bad JSON Go's syntax error. */
static yajl_val
body_json(struct proto_str body, struct buf *err)
{
	yajl_val v;
	buf_addstr(err, "Request decode failed: ");
	if (body.len == 0) {
		buf_addstr(err, "EOF");
		return NULL;
	}
	v = json_parse(body.p, body.len, err);
	return v;
}

static int
register_service(struct chk_state *st, yajl_val v, bool replace,
    struct buf *err)
{
	struct chk_service_def d;
	int r;
	if ((r = chk_parse_service(v, &d, err)) < 0)
		return r;
	buf_reset(err);
	if ((r = chk_validate_service(&d, err)) < 0) {
		chk_service_def_free(&d);
		return r;
	}
	return chk_add_service(st, &d, CHK_SRC_REMOTE, replace, true, err);
}

static int
register_check(struct chk_state *st, yajl_val v, struct buf *err)
{
	struct chk_def d;
	int r;
	if ((r = chk_parse_check(v, &d, err)) < 0)
		return r;
	buf_reset(err);
	if ((r = chk_validate_check(&d, err)) < 0) {
		chk_def_free(&d);
		return r;
	}
	return chk_add_check(st, &d, CHK_SRC_REMOTE, true, err);
}

static void
on_register(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_agent_register q;
	struct buf err;
	yajl_val v;
	int r = -EINVAL;

	proto_dec_agent_register(m->data, m->len, &q);
	buf_init(&err);
	if ((v = body_json(q.body, &err)) != NULL) {
		if (q.kind == AGENT_KIND_SERVICE)
			r = register_service(chk_worker_state(), v,
			    q.replace_existing_checks, &err);
		else
			r = register_check(chk_worker_state(), v, &err);
		yajl_tree_free(v);
	}
	if (r == 0)
		buf_reset(&err);
	reply(ch, m, r, &err);
	buf_free(&err);
}

static void
on_deregister(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_agent_deregister q;
	struct buf err;
	char *id;
	int r;

	proto_dec_agent_deregister(m->data, m->len, &q);
	buf_init(&err);
	if ((id = proto_str_dup(q.id)) == NULL) {
		buf_addstr(&err, "invalid ID");
		r = -EINVAL;
	} else if (q.kind == AGENT_KIND_SERVICE)
		r = chk_remove_service(chk_worker_state(), id, true, &err);
	else
		r = chk_remove_check(chk_worker_state(), id, true, &err);
	reply(ch, m, r, &err);
	buf_free(&err);
	free(id);
}

static void
on_check_update(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_agent_check_update q;
	enum chk_status s = CHK_CRITICAL;
	char *id, *status, *output;
	struct buf err;
	int r;

	proto_dec_agent_check_update(m->data, m->len, &q);
	id = proto_str_dup(q.check_id);
	status = proto_str_dup(q.status);
	output = proto_str_dup(q.output);
	buf_init(&err);
	if (!id || !status || !output || chk_status_parse(status, &s) < 0) {
		buf_printf(&err, "Invalid check status: '%s'", status ? status :
		    "");
		r = -EINVAL;
	} else
		r = chk_ttl_update(chk_worker_state(), id, s, output, &err);
	reply(ch, m, r, &err);
	buf_free(&err);
	free(id);
	free(status);
	free(output);
}

static void
on_maint(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_agent_maint q;
	char *sid, *reason;
	struct buf err;
	int r;

	proto_dec_agent_maint(m->data, m->len, &q);
	sid = proto_str_dup(q.service_id);
	reason = proto_str_dup(q.reason);
	buf_init(&err);
	if (sid == NULL || reason == NULL) {
		buf_addstr(&err, "invalid request");
		r = -EINVAL;
	} else
		r = chk_maintenance(chk_worker_state(), sid[0] ? sid : NULL,
		    q.enable, reason, &err);
	reply(ch, m, r, &err);
	buf_free(&err);
	free(sid);
	free(reason);
}

const struct worker_handler checks_dispatch_http[CHECKS_DISPATCH_HTTP_N] = {
	/* gossip reads the services for user events' service filters */
	{ PROTO_AGENT_LOCAL_REQ, FROM(PROC_HTTP) | FROM(PROC_GOSSIP),
	  on_local_req },
	{ PROTO_AGENT_REGISTER, FROM(PROC_HTTP), on_register },
	{ PROTO_AGENT_DEREGISTER, FROM(PROC_HTTP), on_deregister },
	{ PROTO_AGENT_CHECK_UPDATE, FROM(PROC_HTTP), on_check_update },
	{ PROTO_AGENT_MAINT, FROM(PROC_HTTP), on_maint },
};
