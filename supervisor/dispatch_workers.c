/*
 * Messages from workers to the supervisor.  They are untrusted input: each
 * type is accepted only from the worker entitled to send it, every body is
 * decoded with the checked codec, and anything else is logged and dropped.
 *
 * Reload is a transaction (bgpd's reconfiguration): the new config is
 * parsed in full first; with an error nothing changes and the error is
 * reported.  Otherwise every worker is sent the new generation and the
 * requester is answered once every running worker has acknowledged it.
 */
#include "supervisor/sup.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sup_reload {
	struct sup_reload *next;
	struct ipc_chan *ch;	/* requester, NULL for SIGHUP */
	struct ipc_msg req;	/* header only: reqid to answer */
	unsigned requester;
	uint64_t gen;
	uint32_t waiting;	/* FROM() mask of workers yet to ack */
	int code;
	char msg[512];
};

static void
reload_finish(struct sup *s, struct sup_reload *r)
{
	struct sup_reload **pp = &s->reloads;
	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	if (r->code == 0)
		log_info("configuration reloaded (generation %llu)",
		    (unsigned long long)r->gen);
	else
		log_warnx("reload failed: %s", r->msg);
	/* The requester may have died meanwhile: only answer a live channel. */
	if (r->ch && s->w[r->requester].ch == r->ch) {
		struct buf b;
		buf_init(&b);
		proto_enc_result_msg(&b, r->code, r->msg);
		ipc_reply(r->ch, &r->req, PROTO_RESULT, b.data, b.len);
		buf_free(&b);
	}
	free(r);
}

static void
reload_answer_now(struct ipc_chan *ch, const struct ipc_msg *req, int code,
    const char *msg)
{
	if (ch == NULL)
		return;
	struct buf b;
	buf_init(&b);
	proto_enc_result_msg(&b, code, msg);
	ipc_reply(ch, req, PROTO_RESULT, b.data, b.len);
	buf_free(&b);
}

void
sup_reload(struct sup *s, struct ipc_chan *ch, const struct ipc_msg *req)
{
	struct agent_config *c = NULL;
	struct buf err;
	unsigned requester = PROC_MAX;

	buf_init(&err);
	if (ch)
		sup_worker_is(s, ch, &requester);
	log_info("reloading configuration");
	if (cfg_load(s->argc, s->argv, &c, &err) < 0 ||
	    sup_finalize_config(s, c, &err) < 0) {
		log_warnx("config has errors, not reloading: %s", (char *)err.data);
		reload_answer_now(ch, req, -EINVAL, (char *)err.data);
		if (c)
			cfg_free(c);
		buf_free(&err);
		return;
	}
	struct buf json;
	buf_init(&json);
	cfg_dump_json(c, &json, false);
	cfg_free(s->cfg);
	s->cfg = c;
	free(s->cfg_json);
	s->cfg_json = buf_steal(&json);
	s->cfg_gen++;

	struct sup_reload *r = xcalloc(1, sizeof(*r));
	r->ch = ch;
	if (req)
		r->req = *req;
	r->requester = requester;
	r->gen = s->cfg_gen;
	r->next = s->reloads;
	s->reloads = r;
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++)
		if (s->w[p].ch && sup_send_config(s, p) == 0)
			r->waiting |= FROM_BIT(p);
	if (r->waiting == 0)
		reload_finish(s, r);
	buf_free(&err);
}

void
sup_config_acked(struct sup *s, unsigned proc,
    const struct proto_config_ack *ack)
{
	s->w[proc].acked_gen = ack->generation;
	for (struct sup_reload *r = s->reloads, *next; r; r = next) {
		next = r->next;
		if (r->gen != ack->generation || !(r->waiting & FROM_BIT(proc)))
			continue;
		r->waiting &= ~FROM_BIT(proc);
		if (ack->code < 0 && r->code == 0) {
			r->code = ack->code;
			snprintf(r->msg, sizeof(r->msg), "%s: %.*s",
			    proto_proc_name(proc), (int)ack->message.len,
			    ack->message.p);
		}
		if (r->waiting == 0)
			reload_finish(s, r);
	}
}

/* A worker that dies mid-reload will get the new config when restarted. */
void
sup_reload_worker_gone(struct sup *s, unsigned proc)
{
	for (struct sup_reload *r = s->reloads, *next; r; r = next) {
		next = r->next;
		if (!(r->waiting & FROM_BIT(proc)))
			continue;
		r->waiting &= ~FROM_BIT(proc);
		if (r->waiting == 0)
			reload_finish(s, r);
	}
}

static void
on_ready(struct sup *s, unsigned proc, struct ipc_msg *m)
{
	struct proto_ready rd;
	if (proto_dec_ready(m->data, m->len, &rd) < 0 || rd.proc != proc) {
		log_warnx("bad READY from %s", proto_proc_name(proc));
		return;
	}
	s->w[proc].ready = true;
	if (s->w[proc].was_ready)
		log_info("%s is serving again", proto_proc_name(proc));
	s->w[proc].was_ready = true;
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++)
		if (!s->w[p].ready)
			return;
	if (!s->all_ready_once) {
		s->all_ready_once = true;
		sup_all_ready(s);
	}
}

struct leave_req {
	struct sup *s;
	struct ipc_chan *ch;	/* the http worker's channel */
	struct ipc_msg req;	/* header only: the reqid to answer */
};

/* Answer the requester, then stop: workers drain before they exit. */
static void
leave_finish(struct leave_req *lr)
{
	struct sup *s = lr->s;
	log_info("graceful leave complete");
	if (s->w[PROC_HTTP].ch == lr->ch)
		reload_answer_now(lr->ch, &lr->req, 0, "");
	free(lr);
	sup_stop(s, 0);
}

static void
leave_done_cb(void *arg, struct ipc_msg *reply, int err)
{
	leave_finish(arg);
}

static void
on_leave(struct sup *s, struct ipc_chan *ch, struct ipc_msg *m)
{
	struct leave_req *lr = xcalloc(1, sizeof(*lr));
	lr->s = s;
	lr->ch = ch;
	lr->req = *m;
	log_info("leave requested: leaving the cluster, then stopping");
	/* Gossip broadcasts the intent; stop once it is done or gone. */
	struct ipc_chan *g = s->w[PROC_GOSSIP].ch;
	if (g == NULL || ipc_request(g, PROTO_AGENT_LEAVE, NULL, 0, 10000,
	    leave_done_cb, lr) < 0)
		leave_finish(lr);
}

void
sup_dispatch_worker(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct sup_worker *sw = arg;
	struct sup *s = sw->sup;
	unsigned proc = sw->proc;

	if (proto_validate(m->hdr.type, m->data, m->len) < 0) {
		log_warnx("malformed message 0x%04x from %s dropped",
		    m->hdr.type, proto_proc_name(proc));
		return;
	}
	switch (m->hdr.type) {
	case PROTO_READY:
		on_ready(s, proc, m);
		return;
	case PROTO_AGENT_RELOAD:
		if (proc != PROC_HTTP)
			break;
		sup_reload(s, ch, m);
		return;
	case PROTO_AGENT_LEAVE:
		if (proc != PROC_HTTP)
			break;
		on_leave(s, ch, m);
		return;
	}
	log_warnx("message 0x%04x not accepted from %s", m->hdr.type,
	    proto_proc_name(proc));
	if (m->hdr.reqid)
		reload_answer_now(ch, m, -EPROTO, "not accepted");
}
