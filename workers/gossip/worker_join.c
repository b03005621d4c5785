/*
 * Joining: the snapshot rejoin, -join (start_join), -retry-join
 * (retry_join, retry_interval, retry_max) and their WAN forms, and
 * PUT /v1/agent/join/:addr; force-leave.
 *
 * A pool runs one join at a time (the core's JOIN_DONE does not name the
 * join it finishes); the others wait in order.  At start a pool queues:
 * the members of its snapshot (serf's handleRejoin: unless the agent left
 * gracefully without -rejoin), then start_join, then the first retry_join
 * attempt.  As in Consul, a start_join that reaches nobody stops the
 * agent ("Failed to join any nodes"), and so does retry_join once
 * retry_max attempts failed; the worker then exits 2, which the
 * supervisor does not retry (Consul exits 1).
 *
 * Host names are resolved here in ops->init, before the privilege drop
 * (worker_gossip.h): a name that does not resolve then is logged and
 * skipped.  Errors follow memberlist's Join: "Failed to join ADDR: why"
 * and "Failed to resolve NAME: why", in go-multierror's list form.
 */
#include "workers/gossip/worker_gossip.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* ---- resolution (init only) ---- */

/* Split "host", "host:port" or "[v6]:port" into host and port. */
static int
split_hostport(const char *spec, uint16_t defport, char *host, size_t hl,
    uint16_t *port)
{
	const char *colon = NULL, *h = spec;
	size_t n;
	*port = defport;
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (rb == NULL)
			return -EINVAL;
		h = spec + 1;
		n = (size_t)(rb - h);
		if (rb[1] == ':')
			colon = rb + 1;
		else if (rb[1] != '\0')
			return -EINVAL;
	} else {
		colon = strchr(spec, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;	/* a bare IPv6 address */
		n = colon ? (size_t)(colon - spec) : strlen(spec);
	}
	if (n == 0 || n >= hl)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end || end == colon + 1 || p <= 0 || p > 65535)
			return -EINVAL;
		*port = (uint16_t)p;
	}
	return 0;
}

static void
target_add(struct gw_target *t, const struct gossip_addr *a)
{
	for (size_t i = 0; i < t->n; i++)
		if (gossip_addr_eq(&t->addrs[i], a))
			return;
	t->addrs = xrealloc(t->addrs, (t->n + 1) * sizeof(*t->addrs));
	t->addrs[t->n++] = *a;
}

/* Every address of spec (a literal, or a name through the system
 * resolver).  -errno with why filled when there is none. */
static int
resolve(const char *spec, uint16_t defport, struct gw_target *t,
    bool names, char *why, size_t wl)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct gossip_addr a;
	char host[256];
	uint16_t port;

	t->spec = xstrdup(spec);
	if (gossip_addr_parse_hostport(spec, defport, &a) == 0) {
		target_add(t, &a);
		return 0;
	}
	if (split_hostport(spec, defport, host, sizeof(host), &port) < 0) {
		snprintf(why, wl, "address %s: missing port in address", spec);
		return -EINVAL;
	}
	if (!names) {
		snprintf(why, wl, "lookup %s: the gossip worker resolves "
		    "names only at start; give an IP address", host);
		return -EHOSTUNREACH;
	}
	int r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0) {
		snprintf(why, wl, "lookup %s: %s", host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		memset(&a, 0, sizeof(a));
		a.port = port;
		if (ai->ai_family == AF_INET) {
			a.len = 4;
			memcpy(a.ip, &((struct sockaddr_in *)ai->ai_addr)->
			    sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			a.len = 16;
			memcpy(a.ip, &((struct sockaddr_in6 *)ai->ai_addr)->
			    sin6_addr, 16);
		} else
			continue;
		target_add(t, &a);
	}
	freeaddrinfo(res);
	if (t->n == 0) {
		snprintf(why, wl, "lookup %s: no addresses", host);
		return -EHOSTUNREACH;
	}
	return 0;
}

static struct gw_target *
resolve_list(const struct gw_pool *p, const struct cfg_strlist *l,
    const char *what)
{
	struct gw_target *t = xcalloc(l->n + 1, sizeof(*t));
	char why[300];
	for (size_t i = 0; i < l->n; i++)
		if (resolve(l->v[i], p->port, &t[i], true, why,
		    sizeof(why)) < 0)
			log_warnx("%s pool: %s: Failed to resolve %s: %s; it "
			    "is skipped", p->label, what, l->v[i], why);
	return t;
}

int
gw_join_init(struct gw_pool *p, const struct agent_config *c)
{
	bool wan = p->idx == GW_WAN;
	const struct cfg_strlist *start = wan ? &c->start_join_wan :
	    &c->start_join;
	const struct cfg_strlist *retry = wan ? &c->retry_join_wan :
	    &c->retry_join;
	p->start = resolve_list(p, start, wan ? "start_join_wan" :
	    "start_join");
	p->nstart = start->n;
	p->retry = resolve_list(p, retry, wan ? "retry_join_wan" :
	    "retry_join");
	p->nretry = retry->n;
	p->retry_max = wan ? c->retry_max_wan : c->retry_max;
	p->retry_interval = (double)(wan ? c->retry_interval_wan :
	    c->retry_interval) / 1e9;
	return 0;
}

static void
targets_free(struct gw_target *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++) {
		free(t[i].spec);
		free(t[i].addrs);
	}
	free(t);
}

/* ---- the join queue ---- */

static void join_next(struct gw_pool *p);

static struct gw_join *
join_new(gw_join_done_fn *done)
{
	struct gw_join *j = xcalloc(1, sizeof(*j));
	j->done = done;
	return j;
}

static void
join_add_target(struct gw_join *j, const struct gw_target *t)
{
	j->addrs = xrealloc(j->addrs, (j->n + t->n + 1) * sizeof(*j->addrs));
	memcpy(j->addrs + j->n, t->addrs, t->n * sizeof(*t->addrs));
	j->n += t->n;
}

static void
join_free(struct gw_join *j)
{
	free(j->addrs);
	free(j);
}

static void
join_queue(struct gw_pool *p, struct gw_join *j)
{
	j->next = NULL;
	j->pool = p;
	*p->jtail = j;
	p->jtail = &j->next;
	join_next(p);
}

static void
join_next(struct gw_pool *p)
{
	struct gw_join *j = p->jq;
	if (p->jbusy || j == NULL || p->pool == NULL)
		return;
	if (j->n == 0) {
		p->jq = j->next;
		if (p->jq == NULL)
			p->jtail = &p->jq;
		j->done(j, 0, "no addresses to join");
		join_free(j);
		join_next(p);
		return;
	}
	p->jbusy = true;
	/* ignore_old: Consul joins with serf's ignoreOld, so events from
	 * before the join are not replayed (-replay off). */
	gossip_serf_join(gossip_pool_serf(p->pool), gossip_pool_now(p->pool),
	    j->addrs, j->n, true);
	gossip_pool_flush(p->pool);
}

void
gw_join_on_done(struct gw_pool *p, const struct gossip_event *e)
{
	struct gw_join *j = p->jq;
	if (!p->jbusy || j == NULL)
		return;
	p->jbusy = false;
	p->jq = j->next;
	if (p->jq == NULL)
		p->jtail = &p->jq;
	j->done(j, e->count, e->error ? e->error : "");
	join_free(j);
	join_next(p);
}

void
gw_join_free(struct gw_pool *p)
{
	while (p->jq) {
		struct gw_join *j = p->jq;
		p->jq = j->next;
		join_free(j);
	}
	p->jtail = &p->jq;
	p->jbusy = false;
	if (p->g && p->g->w && p->retry_interval > 0)
		ev_timer_stop(p->g->w->loop, &p->retry_timer);
	targets_free(p->start, p->nstart);
	targets_free(p->retry, p->nretry);
	p->start = p->retry = NULL;
	p->nstart = p->nretry = 0;
}

/* ---- joins at start ---- */

static struct gw_pool *
pool_of(struct gw_join *j)
{
	return j->pool;
}

static void
rejoin_done(struct gw_join *j, unsigned joined, const char *err)
{
	struct gw_pool *p = pool_of(j);
	if (joined > 0)
		log_info("%s pool: re-joined %u previously known nodes",
		    p->label, joined);
	else
		log_warnx("%s pool: failed to re-join any previously known "
		    "node: %s", p->label, err);
}

static void
start_done(struct gw_join *j, unsigned joined, const char *err)
{
	struct gw_pool *p = pool_of(j);
	if (joined > 0) {
		log_info("%s pool: join completed, synced with %u initial "
		    "agents", p->label, joined);
		return;
	}
	log_warnx("%s pool: Failed to join any nodes: %s", p->label, err);
	if (gossip_serf_num_members(gossip_pool_serf(p->pool)) <= 1) {
		log_warnx("stopping the agent: %s join failed",
		    p->idx == GW_WAN ? "start_join_wan" : "start_join");
		exit(2);
	}
}

static void retry_attempt(struct gw_pool *p);

static void
retry_done(struct gw_join *j, unsigned joined, const char *err)
{
	struct gw_pool *p = pool_of(j);
	if (joined > 0) {
		log_info("%s pool: join cluster completed, synced with %u "
		    "initial agents", p->label, joined);
		p->retry_done = true;
		return;
	}
	p->retry_attempts++;
	if (p->retry_max > 0 && p->retry_attempts >= p->retry_max) {
		log_warnx("%s pool: join cluster failed: %s; max join retry "
		    "exhausted, stopping the agent", p->label, err);
		exit(2);
	}
	log_warnx("%s pool: join cluster failed, will retry in %.0fs: %s",
	    p->label, p->retry_interval, err);
	ev_timer_set(&p->retry_timer, p->retry_interval, 0.0);
	ev_timer_start(p->g->w->loop, &p->retry_timer);
}

static void
retry_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	retry_attempt(t->data);
}

static void
retry_attempt(struct gw_pool *p)
{
	struct gw_join *j = join_new(retry_done);
	for (size_t i = 0; i < p->nretry; i++)
		join_add_target(j, &p->retry[i]);
	log_info("%s pool: joining the cluster (attempt %d)", p->label,
	    p->retry_attempts + 1);
	join_queue(p, j);
}

void
gw_join_start(struct gw_pool *p)
{
	struct gw_join *j;
	if (p->prev.n > 0) {
		j = join_new(rejoin_done);
			for (size_t i = 0; i < p->prev.n; i++) {
			struct gw_target t = { 0 };
			char why[300];
			if (resolve(p->prev.addrs[i], p->port, &t, false, why,
			    sizeof(why)) == 0) {
				log_info("%s pool: attempting re-join to "
				    "previously known node %s: %s", p->label,
				    p->prev.names[i], p->prev.addrs[i]);
				join_add_target(j, &t);
			}
			free(t.spec);
			free(t.addrs);
		}
		join_queue(p, j);
	}
	if (p->nstart > 0) {
		j = join_new(start_done);
			for (size_t i = 0; i < p->nstart; i++)
			join_add_target(j, &p->start[i]);
		join_queue(p, j);
	}
	ev_timer_init(&p->retry_timer, retry_timer_cb, 0.0, 0.0);
	p->retry_timer.data = p;
	if (p->nretry > 0)
		retry_attempt(p);
}

/* ---- PUT /v1/agent/join/:addr ---- */

static void
api_join_done(struct gw_join *j, unsigned joined, const char *err)
{
	char msg[600];
	if (joined > 0) {
		gw_pending_result(gw.w, &j->reply, 0, "");
		return;
	}
	snprintf(msg, sizeof(msg), "1 error occurred:\n\t* Failed to join "
	    "%s: %s\n\n", j->what, err);
	gw_pending_result(gw.w, &j->reply, -EIO, msg);
}

/* An address as asked, or a name resolved at start. */
static int
api_target(struct gw_pool *p, const char *addr, struct gw_target *t,
    char *why, size_t wl)
{
	int r = resolve(addr, p->port, t, false, why, wl);
	if (r == 0)
		return 0;
	struct gw_target *lists[] = { p->start, p->retry };
	size_t ns[] = { p->nstart, p->nretry };
	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < ns[l]; i++)
			if (lists[l][i].n > 0 &&
			    strcmp(lists[l][i].spec, addr) == 0) {
				for (size_t k = 0; k < lists[l][i].n; k++)
					target_add(t, &lists[l][i].addrs[k]);
				return 0;
			}
	return r;
}

void
gw_on_join(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_join_req q;
	struct gw_target t = { 0 };
	char why[400], msg[600];
	const char *err;

	if (proto_dec_join_req(m->data, m->len, &q) < 0)
		return;
	char *addr = proto_str_dup(q.addr);
	struct gw_pool *p = gw_pool_for(&gw, q.wan, &err);
	if (p == NULL) {
		worker_reply_result(ch, m, -EINVAL, q.wan ?
		    "Must be a server to join WAN cluster" : err);
	} else if (addr == NULL || api_target(p, addr, &t, why,
	    sizeof(why)) < 0) {
		snprintf(msg, sizeof(msg), "1 error occurred:\n\t* Failed to "
		    "resolve %s: %s\n\n", addr ? addr : "", addr ? why :
		    "invalid address");
		worker_reply_result(ch, m, -EINVAL, msg);
	} else {
		log_info("(%s) joining: %s", p->label, addr);
		struct gw_join *j = join_new(api_join_done);
		gw_pending_init(&j->reply, w, from, m);
		snprintf(j->what, sizeof(j->what), "%s", addr);
		/* memberlist names the address with its port. */
		if (t.n > 0)
			gossip_addr_fmt(&t.addrs[0], j->what);
		join_add_target(j, &t);
		join_queue(p, j);
	}
	free(t.spec);
	free(t.addrs);
	free(addr);
}

/* ---- PUT /v1/agent/force-leave/:node ---- */

/* 0, or -ENOENT when the pool does not know the node. */
static int
force_leave(struct gw_pool *p, const char *node, bool prune)
{
	int r = gossip_serf_force_leave(gossip_pool_serf(p->pool),
	    gossip_pool_now(p->pool), node, prune);
	gossip_pool_flush(p->pool);
	return r;
}

/* The WAN name of a LAN node: node.dc unless it already ends so. */
static void
wan_name(const char *node, const char *dc, char *out, size_t len)
{
	size_t nl = strlen(node), dl = strlen(dc);
	bool has_dc = nl > dl + 1 && node[nl - dl - 1] == '.' &&
	    strcmp(node + nl - dl, dc) == 0;
	snprintf(out, len, "%s%s%s", node, has_dc ? "" : ".", has_dc ? "" :
	    dc);
}

/* agent.ForceLeave / ForceLeaveWAN: the code and message to answer. */
static int
force_leave_req(struct worker *w, const struct proto_force_leave_req *q,
    const char *node, char *msg, size_t ml)
{
	const char *err = "";
	struct gw_pool *lan = gw_pool_for(&gw, false, &err);
	struct gw_pool *wan = gw_pool_for(&gw, true, &err);
	char wn[600];
	int r;

	msg[0] = '\0';
	if (q->wan && wan == NULL) {
		snprintf(msg, ml, "Must be a server to force-leave a node from "
		    "the WAN cluster");
		return -EINVAL;
	}
	if (lan == NULL) {
		snprintf(msg, ml, "%s", err);
		return -EAGAIN;
	}
	log_info("%sForce leaving node: %s", q->wan ? "(WAN) " : "", node);
	r = force_leave(q->wan ? wan : lan, node, q->prune);
	if (r == -ENOENT) {
		snprintf(msg, ml, "agent: No node found with name '%s'", node);
		return r;
	}
	/* Servers also remove node.dc from the WAN pool
	 * (Server.RemoveFailedNode); it may not be there. */
	if (!q->wan && wan != NULL) {
		wan_name(node, w->cfg->datacenter, wn, sizeof(wn));
		force_leave(wan, wn, q->prune);
	}
	return 0;
}

void
gw_on_force_leave(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_force_leave_req q;
	char msg[400];

	if (proto_dec_force_leave_req(m->data, m->len, &q) < 0)
		return;
	char *node = proto_str_dup(q.node);
	if (node == NULL || node[0] == '\0') {
		worker_reply_result(ch, m, -ENOENT, "agent: No node found with "
		    "name ''");
	} else {
		int r = force_leave_req(w, &q, node, msg, sizeof(msg));
		worker_reply_result(ch, m, r, msg);
	}
	free(node);
}
