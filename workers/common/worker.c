#include "workers/common/worker.h"
#include "workers/common/privdrop.h"
#include "lib/paths.h"
#include "lib/log.h"
#include "lib/proctitle.h"
#include "supervisor/config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define WORKER_SUP_FD 3

static const struct worker_ops *const all_ops[PROC_MAX] = {
	[PROC_GOSSIP] = &gossip_ops, [PROC_STORE] = &store_ops,
	[PROC_HTTP] = &http_ops,     [PROC_DNS] = &dns_ops,
	[PROC_CHECKS] = &checks_ops,
};

static void peer_msg_cb(struct ipc_chan *ch, struct ipc_msg *m, void *arg);
static void peer_close_cb(struct ipc_chan *ch, int err, void *arg);

/* ---- sending ------------------------------------------------------- */

static struct ipc_chan *
chan_for(struct worker *w, unsigned peer)
{
	if (peer == PROC_SUPERVISOR)
		return w->sup;
	if (peer >= PROC_MAX)
		return NULL;
	return w->peer[peer];
}

int64_t
worker_request(struct worker *w, unsigned peer, uint16_t type,
    const struct buf *payload, unsigned timeout_ms, ipc_reply_cb *cb,
    void *arg)
{
	struct ipc_chan *ch = chan_for(w, peer);
	if (ch == NULL || !ipc_chan_open(ch))
		return -ENOTCONN;
	return ipc_request(ch, type, payload ? payload->data : NULL,
	    payload ? payload->len : 0, timeout_ms, cb, arg);
}

void
worker_request_cancel(struct worker *w, unsigned peer, int64_t reqid)
{
	struct ipc_chan *ch = chan_for(w, peer);
	if (ch && reqid > 0)
		ipc_request_cancel(ch, (uint32_t)reqid);
}

int
worker_send(struct worker *w, unsigned peer, uint16_t type,
    const struct buf *payload)
{
	struct ipc_chan *ch = chan_for(w, peer);
	if (ch == NULL)
		return -ENOTCONN;
	return ipc_send(ch, type, 0, 0, payload ? payload->data : NULL,
	    payload ? payload->len : 0, -1);
}

int
worker_reply(struct ipc_chan *ch, const struct ipc_msg *req, uint16_t type,
    const struct buf *payload)
{
	if (req->hdr.reqid == 0)
		return 0;	/* a notification: nobody waits */
	return ipc_reply(ch, req, type, payload ? payload->data : NULL,
	    payload ? payload->len : 0);
}

int
worker_reply_result(struct ipc_chan *ch, const struct ipc_msg *req, int code,
    const char *msg)
{
	struct buf b;
	buf_init(&b);
	proto_enc_result_msg(&b, code, msg ? msg : "");
	int r = worker_reply(ch, req, PROTO_RESULT, &b);
	buf_free(&b);
	return r;
}

int
worker_result(const struct ipc_msg *m, struct proto_str *msg)
{
	struct proto_result r;
	if (m->hdr.type != PROTO_RESULT ||
	    proto_dec_result(m->data, m->len, &r) < 0)
		return -EBADMSG;
	if (msg)
		*msg = r.message;
	return r.code;
}

/* ---- dispatch ------------------------------------------------------ */

static void
reject(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m, const char *why)
{
	w->bad_messages++;
	log_warnx("message type 0x%04x from %s rejected: %s", m->hdr.type,
	    proto_proc_name(from), why);
	if (m->hdr.reqid && !(m->hdr.flags & IPC_F_REPLY))
		worker_reply_result(ch, m, -EPROTO, why);
}

static void on_stats_req(struct worker *w, struct ipc_chan *ch,
    struct ipc_msg *m);

static void
dispatch(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	const struct worker_ops *ops = w->ops;

	/* Every process answers for its Stats section and to a ping. */
	if (m->hdr.type == PROTO_AGENT_INFO_REQ) {
		on_stats_req(w, ch, m);
		return;
	}
	if (m->hdr.type == PROTO_PING) {
		if (m->hdr.reqid)
			ipc_reply(ch, m, PROTO_PING, m->data, m->len);
		return;
	}
	for (size_t i = 0; i < ops->nhandlers; i++) {
		const struct worker_handler *h = &ops->handlers[i];
		if (h->type != m->hdr.type)
			continue;
		if (!(h->from & FROM(from))) {
			reject(w, from, ch, m, "sender not allowed");
			return;
		}
		if (proto_validate(m->hdr.type, m->data, m->len) < 0) {
			reject(w, from, ch, m, "malformed message");
			return;
		}
		h->fn(w, from, ch, m);
		return;
	}
	reject(w, from, ch, m, "unknown message type");
}

struct peer_ctx {
	struct worker *w;
	unsigned peer;
};

static void
peer_msg_cb(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct peer_ctx *pc = arg;
	dispatch(pc->w, pc->peer, ch, m);
}

static void
peer_close_cb(struct ipc_chan *ch, int err, void *arg)
{
	struct peer_ctx *pc = arg;
	struct worker *w = pc->w;
	if (w->peer[pc->peer] == ch) {
		w->peer[pc->peer] = NULL;
		log_debug("channel to %s closed (%d)", proto_proc_name(pc->peer),
		    err);
	}
	free(pc);
	ipc_chan_free(ch);
}

static void
install_peer(struct worker *w, unsigned peer, uint32_t epoch, int fd)
{
	struct peer_ctx *pc = xcalloc(1, sizeof(*pc));
	pc->w = w;
	pc->peer = peer;
	struct ipc_chan *old = w->peer[peer];
	w->peer[peer] = NULL;
	if (old)
		ipc_chan_free(old);	/* pending requests fail with -EPIPE */
	char name[32];
	snprintf(name, sizeof(name), "%s-%s", proto_proc_name(w->proc),
	    proto_proc_name(peer));
	w->peer[peer] = ipc_chan_new(w->loop, fd, name, w->proc,
	    &ipc_limits_default, peer_msg_cb, peer_close_cb, pc);
	w->peer_epoch[peer] = epoch;
	if (w->ops->peer_up)
		w->ops->peer_up(w, peer);
}

/* ---- supervisor channel -------------------------------------------- */

static void
send_ready(struct worker *w)
{
	struct proto_ready r = { .proc = (uint8_t)w->proc,
		.pid = (uint32_t)getpid() };
	struct buf b;
	buf_init(&b);
	proto_enc_ready(&b, &r);
	worker_send(w, PROC_SUPERVISOR, PROTO_READY, &b);
	buf_free(&b);
}

static void
apply_log_config(const struct agent_config *c)
{
	int lvl = log_level_parse(c->log_level);
	if (lvl >= 0)
		log_setlevel((enum log_level)lvl);
	log_setjson(c->log_json);
}

/*
 * The one privilege drop every worker goes through (privdrop.c), with the
 * worker's own policy.  A user that does not exist is a configuration
 * error: exit 2, which the supervisor does not retry.
 */
static void
drop_privileges(struct worker *w)
{
	char empty[256], err[512];
	const struct privdrop_policy *p =
	    privdrop_policy_find(proto_proc_name(w->proc));
	struct privdrop_policy in_memory;
	if (p == NULL)
		fatalx("no privilege policy for %s", proto_proc_name(w->proc));
	/* Without a data dir (-dev) nothing is persisted: a worker that would
	 * be chrooted into its data folder gets the empty directory and may
	 * write nothing; the others just lose their working folder. */
	if (p->write_dir && w->cfg->data_dir[0] == '\0') {
		in_memory = *p;
		in_memory.write_dir = NULL;
		if (p->root == PRIVDROP_ROOT_WRITE_DIR) {
			in_memory.root = PRIVDROP_ROOT_EMPTY;
			in_memory.fsize = 0;
		}
		p = &in_memory;
	}
	paths_empty_dir(empty, sizeof(empty));
	struct privdrop_ctx ctx = {
		.user = w->cfg->user[0] ? w->cfg->user : NULL,
		.empty_dir = empty,
		.data_dir = w->cfg->data_dir,
		.as_root = geteuid() == 0,
	};
	int r = privdrop_apply(p, &ctx, err, sizeof(err));
	if (r == -ENOENT && ctx.as_root) {
		log_warnx("dropping privileges: %s", err);
		exit(2);
	}
	if (r < 0)
		fatalx("dropping privileges: %s", err);
}

/* First CONFIG: keep it, let the worker prepare, then drop privileges. */
static int
first_config(struct worker *w, struct agent_config *c)
{
	w->cfg = c;
	apply_log_config(c);
	if (w->ops->init && w->ops->init(w) < 0)
		fatalx("initialisation failed");
	drop_privileges(w);
	return 0;
}

static void
on_config(struct worker *w, struct ipc_chan *ch, struct ipc_msg *m)
{
	struct proto_config pc;
	struct agent_config *c = NULL;
	struct buf err;
	int r;

	buf_init(&err);
	if (proto_dec_config(m->data, m->len, &pc) < 0)
		fatalx("malformed CONFIG from supervisor");
	if (cfg_from_json(pc.json.p, pc.json.len, &c, &err) < 0) {
		/* Our own supervisor sent it: a broken invariant at start. */
		if (w->cfg == NULL) {
			log_warnx("config from supervisor rejected: %s",
			    (char *)err.data);
			exit(2);
		}
		r = -EINVAL;
	} else if (w->cfg == NULL) {
		r = first_config(w, c);
	} else {
		r = w->ops->reconfig ? w->ops->reconfig(w, c, &err) : 0;
		if (r == 0) {
			cfg_free(w->cfg);
			w->cfg = c;
			apply_log_config(c);
		} else
			cfg_free(c);
	}
	if (r == 0)
		w->cfg_gen = pc.generation;
	struct proto_config_ack ack = { .generation = pc.generation,
		.code = r, .message = proto_str_c(err.data ? (char *)err.data : "") };
	struct buf b;
	buf_init(&b);
	proto_enc_config_ack(&b, &ack);
	worker_reply(ch, m, PROTO_CONFIG_ACK, &b);
	buf_free(&b);
	buf_free(&err);
}

static void
on_listen_fd(struct worker *w, struct ipc_msg *m)
{
	struct proto_listen_fd lf;
	int fd = ipc_msg_take_fd(m);
	if (proto_dec_listen_fd(m->data, m->len, &lf) < 0 || fd < 0 ||
	    lf.kind == 0 || lf.kind >= LISTEN_KIND_MAX)
		fatalx("bad LISTEN_FD from supervisor");
	char *addr = proto_str_dup(lf.address);
	if (addr == NULL)
		fatalx("bad LISTEN_FD address from supervisor");
	if (w->ops->listen)
		w->ops->listen(w, lf.kind, addr, fd);
	else
		close(fd);
	free(addr);
}

static void
on_peer_fd(struct worker *w, struct ipc_msg *m)
{
	struct proto_peer_fd pf;
	int fd = ipc_msg_take_fd(m);
	if (proto_dec_peer_fd(m->data, m->len, &pf) < 0 || fd < 0 ||
	    pf.peer == PROC_SUPERVISOR || pf.peer >= PROC_MAX ||
	    pf.peer == w->proc)
		fatalx("bad PEER_FD from supervisor");
	install_peer(w, pf.peer, pf.epoch, fd);
}

static void
worker_stop(struct worker *w, unsigned reason)
{
	if (w->stopping)
		return;
	w->stopping = true;
	if (w->ops->stop && w->ops->stop(w, reason))
		return;
	ev_break(w->loop, EVBREAK_ALL);
}

void
worker_stopped(struct worker *w)
{
	ev_break(w->loop, EVBREAK_ALL);
}

static void
on_stats_req(struct worker *w, struct ipc_chan *ch, struct ipc_msg *m)
{
	struct proto_agent_info_req q;
	struct buf names, out;
	if (proto_dec_agent_info_req(m->data, m->len, &q) < 0) {
		w->bad_messages++;
		worker_reply_result(ch, m, -EPROTO, "malformed message");
		return;
	}
	char *section = proto_str_dup(q.section);
	buf_init(&names);
	buf_init(&out);
	if (section && w->ops->stats)
		w->ops->stats(w, section, &names);
	/* names holds NUL-separated alternating keys and values. */
	size_t n = 0;
	for (size_t off = 0; off < names.len; off += strlen((char *)names.data + off) + 1)
		n++;
	const char **items = xcalloc(n + 1, sizeof(char *));
	size_t i = 0;
	for (size_t off = 0; off < names.len; off += strlen((char *)names.data + off) + 1)
		items[i++] = (char *)names.data + off;
	struct proto_stats st = { .section = q.section,
		.pairs = { .n = (uint32_t)(n & ~(size_t)1), .items = items } };
	proto_enc_stats(&out, &st);
	worker_reply(ch, m, PROTO_STATS, &out);
	free(items);
	free(section);
	buf_free(&names);
	buf_free(&out);
}

static void
sup_msg_cb(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	struct worker *w = arg;
	switch (m->hdr.type) {
	case PROTO_CONFIG:
		on_config(w, ch, m);
		return;
	case PROTO_LISTEN_FD:
		on_listen_fd(w, m);
		return;
	case PROTO_PEER_FD:
		on_peer_fd(w, m);
		return;
	case PROTO_STARTUP:
		if (w->cfg == NULL)
			fatalx("STARTUP before CONFIG");
		if (!w->started) {
			if (w->ops->start && w->ops->start(w) < 0)
				fatalx("start failed");
			w->started = true;
		}
		send_ready(w);
		return;
	case PROTO_SHUTDOWN: {
		struct proto_shutdown s;
		if (proto_dec_shutdown(m->data, m->len, &s) < 0)
			s.reason = 0;
		worker_stop(w, s.reason);
		return;
	}
	}
	dispatch(w, PROC_SUPERVISOR, ch, m);
}

static void
sup_close_cb(struct ipc_chan *ch, int err, void *arg)
{
	struct worker *w = arg;
	if (w->stopping)
		return;
	/* The supervisor is gone (or sent garbage): nothing to serve for. */
	log_warnx("lost connection to supervisor (%d)", err);
	_exit(1);
}

static void
sigterm_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	worker_stop(s->data, 0);
}

int
worker_main(int argc, char **argv)
{
	static const struct ipc_limits sup_limits = {
		.frame_max = 64 * 1024, .msg_max = 16 * 1024 * 1024,
		.hiwat = 4 * 1024 * 1024, .hardcap = 64 * 1024 * 1024,
		.fdpass = true,
	};
	struct worker w = { 0 };
	char title[32];
	ev_signal sigterm;

	if (argc < 3)
		fatalx("usage: muster worker NAME (started by the agent only)");
	unsigned proc = proto_proc_by_name(argv[2]);
	if (proc >= PROC_MAX)
		fatalx("unknown worker %s", argv[2]);
	/* Die with the supervisor, even one killed with -9. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	const char *sp = getenv("MUSTER_SUPERVISOR_PID");
	if (sp == NULL || getppid() != (pid_t)strtol(sp, NULL, 10))
		fatalx("not started by a muster supervisor");
	snprintf(title, sizeof(title), "muster: %s", argv[2]);
	proctitle_set(title);
	log_setproc(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* reload arrives as a message */
	signal(SIGINT, SIG_IGN);	/* the supervisor decides */

	w.proc = proc;
	w.ops = all_ops[proc];
	w.loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	ev_signal_init(&sigterm, sigterm_cb, SIGTERM);
	sigterm.data = &w;
	ev_signal_start(w.loop, &sigterm);
	ev_unref(w.loop);	/* signals alone do not keep the loop alive */
	w.sup = ipc_chan_new(w.loop, WORKER_SUP_FD, proto_proc_name(proc),
	    proc, &sup_limits, sup_msg_cb, sup_close_cb, &w);
	ev_run(w.loop, 0);
	log_debug("stopped");
	return 0;
}
