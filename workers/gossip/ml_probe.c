/*
 * memberlist core, active parts: the SWIM probe round with indirect and
 * TCP fallback probes and Lifeguard health (gossip-protocol.md §6.1),
 * gossip rounds (§6.4), push/pull state exchange and the other streams
 * (§5), joins.
 */
#include "workers/gossip/ml_priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static void
self_ping(const struct gossip_ml *ml, struct gossip_ping *p, uint32_t seq,
    const char *target)
{
	memset(p, 0, sizeof(*p));
	p->seq = seq;
	p->node = gossip_slice_c(target);
	ml_self_addr(ml, &p->src_addr);
	p->src_port = ml->cfg.addr.port;
	p->src_node = gossip_slice_c(ml->cfg.name);
}

/* ------------------------------------------------------------ handlers */

void
ml_handle_ping(struct gossip_ml *ml, const struct gossip_addr *from,
    const uint8_t *p, size_t n)
{
	struct gossip_ping ping;
	struct gossip_addr to = *from;
	struct buf payload, m;

	if (gossip_dec_ping(p, n, &ping) < 0) {
		ml->stats.udp_bad++;
		return;
	}
	/* a restarted node with another name at the same address */
	if (ping.node.n > 0 && !gossip_slice_eq(ping.node, ml->cfg.name)) {
		ml->stats.wrong_node++;
		return;
	}
	if (ping.src_addr.n > 0 && ping.src_port > 0)
		ml_addr_from_slice(ping.src_addr, ping.src_port, &to);
	buf_init(&payload);
	buf_init(&m);
	if (ml->d->ack_payload)
		ml->d->ack_payload(ml->darg, &payload);
	struct gossip_ack ack = { ping.seq, { payload.len ? payload.data :
		NULL, payload.len } };
	gossip_enc_ack(&m, &ack);
	ml_send_msg(ml, &to, m.data, m.len);
	buf_free(&payload);
	buf_free(&m);
}

static struct ack_handler *
ack_add(struct gossip_ml *ml)
{
	if (ml->nacks == ml->capacks) {
		ml->capacks = ml->capacks ? 2 * ml->capacks : 8;
		ml->acks = xrealloc(ml->acks, ml->capacks * sizeof(*ml->acks));
	}
	struct ack_handler *h = &ml->acks[ml->nacks++];
	memset(h, 0, sizeof(*h));
	return h;
}

/* Ping the target on the requester's behalf with our own sequence
 * number; its ack is answered with the requester's (§3.1). */
void
ml_handle_indirect(struct gossip_ml *ml, uint64_t now,
    const struct gossip_addr *from, const uint8_t *p, size_t n)
{
	struct gossip_indirect_ping ind;
	struct gossip_addr target;
	struct gossip_ping ping;
	struct buf m;
	char name[256];

	if (gossip_dec_indirect_ping(p, n, &ind) < 0 || ind.node.n >= 256) {
		ml->stats.udp_bad++;
		return;
	}
	if (ind.port == 0)
		ind.port = ml->cfg.addr.port;
	if (!ml_addr_from_slice(ind.target, ind.port, &target)) {
		ml->stats.udp_bad++;
		return;
	}
	memcpy(name, ind.node.p, ind.node.n);
	name[ind.node.n] = '\0';
	struct ack_handler *h = ack_add(ml);
	h->seq = ++ml->seq;
	h->kind = ACK_RELAY;
	h->deadline = now + ml->cfg.probe_timeout;
	h->their_seq = ind.seq;
	h->nack = ind.nack;
	h->requester = *from;
	if (ind.src_addr.n > 0 && ind.src_port > 0)
		ml_addr_from_slice(ind.src_addr, ind.src_port, &h->requester);
	self_ping(ml, &ping, h->seq, name);
	buf_init(&m);
	gossip_enc_ping(&m, &ping);
	ml_send_msg(ml, &target, m.data, m.len);
	buf_free(&m);
}

static void
send_ack_or_nack(struct gossip_ml *ml, const struct ack_handler *h, bool ack)
{
	struct buf m;
	buf_init(&m);
	if (ack) {
		struct gossip_ack a = { h->their_seq, { NULL, 0 } };
		gossip_enc_ack(&m, &a);
	} else {
		struct gossip_nack nk = { h->their_seq };
		gossip_enc_nack(&m, &nk);
	}
	ml_send_msg(ml, &h->requester, m.data, m.len);
	buf_free(&m);
}

void
ml_handle_ack(struct gossip_ml *ml, uint64_t now, const uint8_t *p, size_t n)
{
	struct gossip_ack ack;
	if (gossip_dec_ack(p, n, &ack) < 0) {
		ml->stats.udp_bad++;
		return;
	}
	if (ml->probe.active && ack.seq == ml->probe.seq) {
		ml_probe_ack(ml, now, ack.seq, &ack.payload);
		return;
	}
	for (size_t i = 0; i < ml->nacks; i++) {
		if (ml->acks[i].seq != ack.seq)
			continue;
		struct ack_handler h = ml->acks[i];
		ml->acks[i] = ml->acks[--ml->nacks];
		send_ack_or_nack(ml, &h, true);
		return;
	}
}

/* Relays that saw no ack within ProbeTimeout answer with a nack if the
 * requester asked for one. */
void
ml_acks_tick(struct gossip_ml *ml, uint64_t now)
{
	for (size_t i = 0; i < ml->nacks;) {
		if (now < ml->acks[i].deadline) {
			i++;
			continue;
		}
		struct ack_handler h = ml->acks[i];
		ml->acks[i] = ml->acks[--ml->nacks];
		if (h.nack)
			send_ack_or_nack(ml, &h, false);
	}
}

/* ------------------------------------------------------------ probe */

static bool
excl_probe_helpers(const struct gossip_ml *ml, const struct gossip_node *n,
    const void *target)
{
	return n == ml->self || strcmp(n->name, target) == 0 ||
	    n->state != GOSSIP_STATE_ALIVE;
}

static void
probe_done(struct gossip_ml *ml, uint64_t now, bool ok)
{
	struct probe *pr = &ml->probe;
	if (ok) {
		ml_health_delta(ml, -1);
	} else {
		int delta = 1;
		if (pr->expected_nacks > 0)
			delta = pr->nacks < pr->expected_nacks ?
			    (int)(pr->expected_nacks - pr->nacks) : 0;
		ml_health_delta(ml, delta);
		ml->stats.probe_fail++;
		log_info("memberlist: suspect %s has failed, no acks received",
		    pr->target);
		struct gossip_suspect s = { pr->incarnation,
			gossip_slice_c(pr->target),
			gossip_slice_c(ml->cfg.name) };
		ml_suspect_node(ml, now, &s);
	}
	pr->active = false;
	free(pr->target);
	pr->target = NULL;
	/* memberlist's ticker: the next round at start + interval, or at
	 * once if this one ran past it */
	ml->next_probe = MAX(pr->start + ml->cfg.probe_interval, now);
}

void
ml_probe_ack(struct gossip_ml *ml, uint64_t now, uint32_t seq,
    const struct gossip_slice *payload)
{
	struct probe *pr = &ml->probe;
	if (pr->phase == 0 && ml->d->notify_ping_complete) {
		const struct gossip_node *n = ml_find(ml, pr->target);
		uint64_t end = ml->cfg.rtt_clock ?
		    ml->cfg.rtt_clock(ml->cfg.rtt_clock_arg) : now * 1000;
		if (n != NULL)
			ml->d->notify_ping_complete(ml->darg, now, n,
			    end > pr->start_us ? end - pr->start_us : 0,
			    payload->p, payload->n);
	}
	probe_done(ml, now, true);
}

void
ml_probe_nack(struct gossip_ml *ml, uint32_t seq)
{
	if (ml->probe.active && ml->probe.seq == seq && ml->probe.phase == 1)
		ml->probe.nacks++;
}

static void
probe_send(struct gossip_ml *ml, const struct gossip_node *node)
{
	struct probe *pr = &ml->probe;
	struct gossip_ping ping;
	struct buf m, s, c;

	self_ping(ml, &ping, pr->seq, node->name);
	buf_init(&m);
	gossip_enc_ping(&m, &ping);
	if (node->state == GOSSIP_STATE_ALIVE) {
		ml_send_msg(ml, &node->addr, m.data, m.len);
		buf_free(&m);
		return;
	}
	/* buddy system: tell a suspect it is suspected, so it can refute */
	struct gossip_suspect sus = { node->incarnation,
		gossip_slice_c(node->name), gossip_slice_c(ml->cfg.name) };
	buf_init(&s);
	buf_init(&c);
	gossip_enc_suspect(&s, &sus);
	struct gossip_slice parts[2] = { { m.data, m.len }, { s.data, s.len } };
	gossip_enc_compound(&c, parts, 2);
	ml_raw_send(ml, &node->addr, node, c.data, c.len);
	buf_free(&m);
	buf_free(&s);
	buf_free(&c);
}

static struct gossip_node *
probe_pick(struct gossip_ml *ml, uint64_t now)
{
	size_t checks = 0;
	for (;;) {
		if (checks >= ml->nnodes)
			return NULL;
		if (ml->probe_index >= ml->nnodes) {
			ml_reset_nodes(ml, now);
			ml->probe_index = 0;
			checks++;
			continue;
		}
		struct gossip_node *n = ml->nodes[ml->probe_index++];
		if (n == ml->self || n->state == GOSSIP_STATE_DEAD ||
		    n->state == GOSSIP_STATE_LEFT) {
			checks++;
			continue;
		}
		return n;
	}
}

static void
probe_start(struct gossip_ml *ml, uint64_t now)
{
	struct probe *pr = &ml->probe;
	struct gossip_node *node = probe_pick(ml, now);
	if (node == NULL) {
		ml->next_probe = now + ml->cfg.probe_interval;
		return;
	}
	memset(pr, 0, sizeof(*pr));
	pr->active = true;
	pr->target = xstrdup(node->name);
	pr->incarnation = node->incarnation;
	pr->state = node->state;
	pr->addr = node->addr;
	pr->pmax = node->vsn[1];
	pr->seq = ++ml->seq;
	pr->start = now;
	pr->start_us = ml->cfg.rtt_clock ?
	    ml->cfg.rtt_clock(ml->cfg.rtt_clock_arg) : now * 1000;
	pr->timeout_at = now + ml->cfg.probe_timeout;
	pr->deadline = now + (uint64_t)ml->cfg.probe_interval *
	    (ml->health + 1);
	ml->stats.probes++;
	probe_send(ml, node);
}

static void
probe_tcp(struct gossip_ml *ml, uint64_t now)
{
	struct probe *pr = &ml->probe;
	struct gossip_ping ping;
	struct buf m, wire;

	struct ml_stream *st = ml_stream_new(ml, STREAM_PING, &pr->addr);
	st->seq = pr->seq;
	self_ping(ml, &ping, pr->seq, pr->target);
	buf_init(&m);
	buf_init(&wire);
	gossip_enc_ping(&m, &ping);
	if (gossip_stream_seal(&ml->cfg.wire, m.data, m.len, &wire) == 0) {
		pr->tcp = 1;
		pr->tcp_id = st->id;
		ml_out_stream(ml, &pr->addr, &wire, st->id, pr->deadline);
	} else {
		ml->nstreams--;
	}
	buf_free(&m);
	buf_free(&wire);
}

/* ProbeTimeout passed without an ack: ask k others, and try TCP. */
static void
probe_indirect(struct gossip_ml *ml, uint64_t now)
{
	struct probe *pr = &ml->probe;
	struct gossip_node *peers[16];
	struct gossip_indirect_ping ind;
	struct buf m;

	pr->phase = 1;
	size_t k = ml_random_nodes(ml, MIN(ml->cfg.indirect_checks, 16),
	    excl_probe_helpers, pr->target, peers);
	memset(&ind, 0, sizeof(ind));
	ind.seq = pr->seq;
	ind.target = (struct gossip_slice){ pr->addr.ip, pr->addr.len };
	ind.port = pr->addr.port;
	ind.node = gossip_slice_c(pr->target);
	ml_self_addr(ml, &ind.src_addr);
	ind.src_port = ml->cfg.addr.port;
	ind.src_node = gossip_slice_c(ml->cfg.name);
	buf_init(&m);
	for (size_t i = 0; i < k; i++) {
		ind.nack = peers[i]->vsn[1] >= 4;
		if (ind.nack)
			pr->expected_nacks++;
		buf_reset(&m);
		gossip_enc_indirect_ping(&m, &ind);
		ml_send_msg(ml, &peers[i]->addr, m.data, m.len);
		ml->stats.indirect_sent++;
	}
	buf_free(&m);
	if (!ml->cfg.disable_tcp_pings && pr->pmax >= 3)
		probe_tcp(ml, now);
}

void
ml_probe_tick(struct gossip_ml *ml, uint64_t now)
{
	struct probe *pr = &ml->probe;
	if (!pr->active) {
		if (now >= ml->next_probe)
			probe_start(ml, now);
		return;
	}
	if (pr->phase == 0 && now >= pr->timeout_at)
		probe_indirect(ml, now);
	/* the TCP ping is bounded by the same deadline; wait for its word */
	if (pr->phase == 1 && now >= pr->deadline && pr->tcp != 1) {
		if (pr->tcp == 2) {
			log_warnx("memberlist: was able to connect to %s over "
			    "TCP but UDP probes failed, network may be "
			    "misconfigured", pr->target);
			ml->stats.tcp_fallback_ok++;
		}
		probe_done(ml, now, pr->tcp == 2);
	}
}

/* ------------------------------------------------------------ gossip */

static bool
excl_gossip(const struct gossip_ml *ml, const struct gossip_node *n,
    const void *ctx)
{
	const uint64_t *now = ctx;
	if (n == ml->self)
		return true;
	switch (n->state) {
	case GOSSIP_STATE_ALIVE:
	case GOSSIP_STATE_SUSPECT:
		return false;
	case GOSSIP_STATE_DEAD:
		return *now - n->state_change > ml->cfg.gossip_to_the_dead;
	default:
		return true;
	}
}

/* Every GossipInterval: queued broadcasts to GossipNodes random members,
 * including the recently dead (they may only be partitioned). */
void
ml_gossip(struct gossip_ml *ml, uint64_t now)
{
	struct gossip_node *peers[32];
	size_t k = ml_random_nodes(ml, MIN(ml->cfg.gossip_nodes, 32),
	    excl_gossip, &now, peers);
	size_t avail = ml_bytes_avail(ml);

	for (size_t i = 0; i < k; i++) {
		struct gossip_msgs msgs;
		gossip_msgs_init(&msgs);
		ml_get_broadcasts(ml, GOSSIP_COMPOUND_OVERHEAD, avail, &msgs);
		if (msgs.n == 0) {
			gossip_msgs_free(&msgs);
			return;
		}
		if (msgs.n == 1) {
			ml_raw_send(ml, &peers[i]->addr, peers[i],
			    msgs.v[0].data, msgs.v[0].len);
		} else {
			for (size_t at = 0; at < msgs.n;
			    at += GOSSIP_COMPOUND_MAX) {
				size_t cnt = MIN(msgs.n - at,
				    (size_t)GOSSIP_COMPOUND_MAX);
				struct gossip_slice *parts = xcalloc(cnt,
				    sizeof(*parts));
				struct buf c;
				for (size_t j = 0; j < cnt; j++)
					parts[j] = (struct gossip_slice){
						msgs.v[at + j].data,
						msgs.v[at + j].len };
				buf_init(&c);
				gossip_enc_compound(&c, parts, cnt);
				ml_raw_send(ml, &peers[i]->addr, peers[i],
				    c.data, c.len);
				buf_free(&c);
				free(parts);
			}
		}
		gossip_msgs_free(&msgs);
	}
}

/* ------------------------------------------------------------ streams */

struct ml_stream *
ml_stream_new(struct gossip_ml *ml, enum stream_kind kind,
    const struct gossip_addr *to)
{
	if (ml->nstreams == ml->capstreams) {
		ml->capstreams = ml->capstreams ? 2 * ml->capstreams : 8;
		ml->streams = xrealloc(ml->streams,
		    ml->capstreams * sizeof(*ml->streams));
	}
	struct ml_stream *s = &ml->streams[ml->nstreams++];
	memset(s, 0, sizeof(*s));
	s->id = ++ml->next_stream_id;
	s->kind = kind;
	s->to = *to;
	return s;
}

void
ml_local_state(struct gossip_ml *ml, bool join, struct buf *out)
{
	struct buf user;
	buf_init(&user);
	if (ml->d->local_state)
		ml->d->local_state(ml->darg, join, &user);
	struct gossip_push_header h = { ml->nnodes, user.len, join };
	gossip_enc_push_header(out, &h);
	for (size_t i = 0; i < ml->nnodes; i++) {
		const struct gossip_node *n = ml->nodes[i];
		struct gossip_push_node pn = {
			gossip_slice_c(n->name),
			{ n->addr.ip, n->addr.len }, n->addr.port,
			{ n->meta, n->metalen }, n->incarnation,
			(uint8_t)n->state, { n->vsn, 6 } };
		gossip_enc_push_node(out, &pn);
	}
	buf_add(out, user.data, user.len);
	buf_free(&user);
}

static void
push_pull_start(struct gossip_ml *ml, uint64_t now,
    const struct gossip_addr *to, bool join, uint64_t op)
{
	struct buf msg, wire;
	struct ml_stream *st = ml_stream_new(ml, STREAM_PUSH_PULL, to);
	st->join = join;
	st->op = op;
	buf_init(&msg);
	buf_init(&wire);
	ml_local_state(ml, join, &msg);
	if (gossip_stream_seal(&ml->cfg.wire, msg.data, msg.len, &wire) == 0)
		ml_out_stream(ml, to, &wire, st->id, now + ml->cfg.tcp_timeout);
	buf_free(&msg);
	buf_free(&wire);
	ml->stats.pushpulls++;
}

static bool
excl_push_pull(const struct gossip_ml *ml, const struct gossip_node *n,
    const void *ctx)
{
	return n == ml->self || n->state != GOSSIP_STATE_ALIVE;
}

/* PushPullInterval scaled for large pools: x (ceil(log2 N - log2 32) + 1)
 * above 32 nodes. */
static uint64_t
push_pull_scale(uint64_t interval, size_t n)
{
	if (n <= 32)
		return interval;
	double mult = ceil(log2((double)n) - log2(32.0)) + 1.0;
	return (uint64_t)(mult * (double)interval);
}

void
ml_push_pull_tick(struct gossip_ml *ml, uint64_t now)
{
	struct gossip_node *peer;
	if (now < ml->next_push_pull)
		return;
	ml->next_push_pull = now + push_pull_scale(ml->cfg.push_pull_interval,
	    ml->nnodes);
	if (ml_random_nodes(ml, 1, excl_push_pull, NULL, &peer) == 1)
		push_pull_start(ml, now, &peer->addr, false, 0);
}

uint64_t
gossip_ml_join(struct gossip_ml *ml, uint64_t now,
    const struct gossip_addr *addrs, size_t n)
{
	if (ml->njoins == ml->capjoins) {
		ml->capjoins = ml->capjoins ? 2 * ml->capjoins : 4;
		ml->joins = xrealloc(ml->joins, ml->capjoins * sizeof(*ml->joins));
	}
	struct join_op *op = &ml->joins[ml->njoins++];
	memset(op, 0, sizeof(*op));
	op->id = ++ml->next_op;
	op->pending = (unsigned)n;
	uint64_t id = op->id;
	if (n == 0) {
		ml->njoins--;
		if (ml->d->join_done)
			ml->d->join_done(ml->darg, now, id, 0,
			    "no addresses to join");
		return id;
	}
	for (size_t i = 0; i < n; i++)
		push_pull_start(ml, now, &addrs[i], true, id);
	return id;
}

static void
join_progress(struct gossip_ml *ml, uint64_t now, uint64_t op, bool ok,
    const char *err)
{
	for (size_t i = 0; i < ml->njoins; i++) {
		struct join_op *j = &ml->joins[i];
		if (j->id != op)
			continue;
		if (ok)
			j->ok++;
		else if (j->err[0] == '\0')
			snprintf(j->err, sizeof(j->err), "%s", err);
		if (--j->pending > 0)
			return;
		struct join_op done = *j;
		ml->joins[i] = ml->joins[--ml->njoins];
		if (ml->d->join_done)
			ml->d->join_done(ml->darg, now, done.id, done.ok,
			    done.err);
		return;
	}
}

/* memberlist verifyProtocol: every alive node's current versions must lie
 * in the intersection of all alive nodes' ranges, ours and theirs. */
static int
verify_protocol(const struct gossip_ml *ml, const struct gossip_push_pull *pp,
    char *why, size_t whylen)
{
	uint8_t maxpmin = 0, minpmax = 255, maxdmin = 0, mindmax = 255;
	for (uint64_t i = 0; i < pp->hdr.nodes; i++) {
		const struct gossip_push_node *r = &pp->nodes[i];
		if (r->state != GOSSIP_STATE_ALIVE || r->vsn.n < 5)
			continue;
		maxpmin = MAX(maxpmin, r->vsn.p[0]);
		minpmax = MIN(minpmax, r->vsn.p[1]);
		maxdmin = MAX(maxdmin, r->vsn.p[3]);
		mindmax = MIN(mindmax, r->vsn.p[4]);
	}
	for (size_t i = 0; i < ml->nnodes; i++) {
		const struct gossip_node *n = ml->nodes[i];
		if (n->state != GOSSIP_STATE_ALIVE)
			continue;
		maxpmin = MAX(maxpmin, n->vsn[0]);
		minpmax = MIN(minpmax, n->vsn[1]);
		maxdmin = MAX(maxdmin, n->vsn[3]);
		mindmax = MIN(mindmax, n->vsn[4]);
	}
	for (uint64_t i = 0; i < pp->hdr.nodes; i++) {
		const struct gossip_push_node *r = &pp->nodes[i];
		uint8_t pc = r->vsn.n >= 6 ? r->vsn.p[2] : 0;
		uint8_t dc = r->vsn.n >= 6 ? r->vsn.p[5] : 0;
		if (pc < maxpmin || pc > minpmax || dc < maxdmin ||
		    dc > mindmax) {
			snprintf(why, whylen, "Node '%.*s' protocol version "
			    "(%u/%u) is incompatible: [%u, %u]/[%u, %u]",
			    (int)r->name.n, (const char *)r->name.p, pc, dc,
			    maxpmin, minpmax, maxdmin, mindmax);
			return -EPROTO;
		}
	}
	for (size_t i = 0; i < ml->nnodes; i++) {
		const struct gossip_node *n = ml->nodes[i];
		if (n->vsn[2] < maxpmin || n->vsn[2] > minpmax ||
		    n->vsn[5] < maxdmin || n->vsn[5] > mindmax) {
			snprintf(why, whylen, "Node '%s' protocol version is "
			    "incompatible", n->name);
			return -EPROTO;
		}
	}
	return 0;
}

static int
merge_check(struct gossip_ml *ml, const struct gossip_push_pull *pp,
    char *why, size_t whylen)
{
	size_t n = pp->hdr.nodes;
	struct gossip_node *v = xcalloc(n ? n : 1, sizeof(*v));
	char **names = xcalloc(n ? n : 1, sizeof(*names));
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct gossip_push_node *r = &pp->nodes[i];
		names[i] = gossip_slice_strdup(r->name);
		if (names[i] == NULL) {
			rc = -EBADMSG;
			break;
		}
		v[i].name = names[i];
		ml_addr_from_slice(r->addr, r->port, &v[i].addr);
		v[i].meta = (uint8_t *)r->meta.p;
		v[i].metalen = r->meta.n;
		if (r->vsn.n >= 6)
			memcpy(v[i].vsn, r->vsn.p, 6);
		v[i].incarnation = r->incarnation;
		v[i].state = r->state;
	}
	if (rc == 0)
		rc = ml->d->notify_merge(ml->darg, v, n, why, whylen);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(v);
	return rc;
}

/* Apply a remote node list (§5.1): alive as alive, left as a dead from
 * the node itself, dead and suspect as our own suspicion. */
int
ml_merge_remote(struct gossip_ml *ml, uint64_t now,
    const struct gossip_push_pull *pp, char *why, size_t whylen)
{
	int rc;
	if ((rc = verify_protocol(ml, pp, why, whylen)) < 0)
		return rc;
	if (pp->hdr.join && ml->d->notify_merge &&
	    (rc = merge_check(ml, pp, why, whylen)) < 0)
		return rc;
	for (uint64_t i = 0; i < pp->hdr.nodes; i++) {
		const struct gossip_push_node *r = &pp->nodes[i];
		uint16_t port = r->port ? r->port : ml->cfg.addr.port;
		struct gossip_suspect s = { r->incarnation, r->name, r->name };
		switch (r->state) {
		case GOSSIP_STATE_ALIVE: {
			struct gossip_alive a = { r->incarnation, r->name,
				r->addr, port, r->meta, r->vsn };
			ml_alive_node(ml, now, &a, false, 0);
			break;
		}
		case GOSSIP_STATE_LEFT:
			ml_dead_node(ml, now, &s);
			break;
		case GOSSIP_STATE_DEAD:
		case GOSSIP_STATE_SUSPECT:
			s.from = gossip_slice_c(ml->cfg.name);
			ml_suspect_node(ml, now, &s);
			break;
		}
	}
	if (pp->user.n > 0 && ml->d->merge_remote_state)
		ml->d->merge_remote_state(ml->darg, now, pp->user.p, pp->user.n,
		    pp->hdr.join);
	return 0;
}

static void
stream_err_reply(const struct gossip_ml *ml, const char *why,
    struct buf *reply)
{
	struct buf m;
	buf_init(&m);
	gossip_enc_err(&m, why);
	gossip_stream_seal(&ml->cfg.wire, m.data, m.len, reply);
	buf_free(&m);
}

static void
stream_in_msg(struct gossip_ml *ml, uint64_t now, const struct buf *plain,
    struct buf *reply)
{
	const uint8_t *p = plain->data + 1;
	size_t n = plain->len - 1;
	struct gossip_push_pull pp;
	struct gossip_ping ping;
	struct gossip_slice data;
	struct buf m;
	char why[256];

	buf_init(&m);
	switch (plain->data[0]) {
	case GOSSIP_MSG_PING:
		if (gossip_dec_ping(p, n, &ping) < 0 || (ping.node.n > 0 &&
		    !gossip_slice_eq(ping.node, ml->cfg.name))) {
			ml->stats.wrong_node++;
			break;
		}
		gossip_enc_ack(&m, &(struct gossip_ack){ ping.seq, { 0 } });
		gossip_stream_seal(&ml->cfg.wire, m.data, m.len, reply);
		break;
	case GOSSIP_MSG_PUSH_PULL:
		if (gossip_dec_push_pull(p, n, &pp, NULL) < 0) {
			ml->stats.stream_bad++;
			break;
		}
		/* answer with our state first, then merge theirs */
		ml_local_state(ml, pp.hdr.join, &m);
		gossip_stream_seal(&ml->cfg.wire, m.data, m.len, reply);
		if (ml_merge_remote(ml, now, &pp, why, sizeof(why)) < 0)
			log_warnx("memberlist: failed push/pull merge: %s", why);
		gossip_push_pull_free(&pp);
		break;
	case GOSSIP_MSG_USER:
		if (gossip_dec_user_stream(p, n, &data, NULL) == 0 &&
		    ml->d->notify_msg)
			ml->d->notify_msg(ml->darg, now, data.p, data.n);
		break;
	default:
		ml->stats.stream_bad++;
		break;
	}
	buf_free(&m);
}

int
gossip_ml_stream_in(struct gossip_ml *ml, uint64_t now, const uint8_t *in,
    size_t n, struct buf *reply)
{
	struct buf plain;
	const char *why;

	buf_init(&plain);
	int rc = gossip_stream_open(&ml->cfg.wire, in, n, &plain, &why);
	if (rc < 0) {
		ml->stats.stream_bad++;
		log_warnx("memberlist: failed to receive stream: %s", why);
		if (why[0])
			stream_err_reply(ml, why, reply);
	} else if (rc > 0) {
		ml->stats.stream_in++;
		stream_in_msg(ml, now, &plain, reply);
	}
	buf_free(&plain);
	return rc;
}

static struct ml_stream *
stream_take(struct gossip_ml *ml, uint64_t id, struct ml_stream *copy)
{
	for (size_t i = 0; i < ml->nstreams; i++) {
		if (ml->streams[i].id != id)
			continue;
		*copy = ml->streams[i];
		ml->streams[i] = ml->streams[--ml->nstreams];
		return copy;
	}
	return NULL;
}

static void
stream_finished(struct gossip_ml *ml, uint64_t now, const struct ml_stream *s,
    bool ok, const char *err)
{
	if (s->kind == STREAM_PING) {
		if (ml->probe.active && ml->probe.tcp == 1 &&
		    ml->probe.tcp_id == s->id)
			ml->probe.tcp = ok ? 2 : 3;
		ml_probe_tick(ml, now);
		return;
	}
	if (!ok) {
		char a[64];
		gossip_addr_fmt(&s->to, a);
		log_warnx("memberlist: push/pull with %s failed: %s", a, err);
	}
	if (s->op)
		join_progress(ml, now, s->op, ok, err);
}

void
gossip_ml_stream_fail(struct gossip_ml *ml, uint64_t now, uint64_t id, int err)
{
	struct ml_stream s;
	char why[128];
	if (stream_take(ml, id, &s) == NULL)
		return;
	snprintf(why, sizeof(why), "%s", strerror(err < 0 ? -err : err));
	stream_finished(ml, now, &s, false, why);
}

/* The answer to one of our push/pulls or TCP pings. */
static bool
stream_reply_msg(struct gossip_ml *ml, uint64_t now, const struct ml_stream *s,
    const struct buf *plain, char *why, size_t whylen)
{
	const uint8_t *p = plain->data + 1;
	size_t n = plain->len - 1;
	struct gossip_push_pull pp;
	struct gossip_ack ack;
	struct gossip_err e;

	if (plain->data[0] == GOSSIP_MSG_ERR) {
		if (gossip_dec_err(p, n, &e) == 0)
			snprintf(why, whylen, "remote error: %.*s",
			    (int)e.error.n, (const char *)e.error.p);
		return false;
	}
	if (s->kind == STREAM_PING)
		return plain->data[0] == GOSSIP_MSG_ACK &&
		    gossip_dec_ack(p, n, &ack) == 0 && ack.seq == s->seq;
	if (plain->data[0] != GOSSIP_MSG_PUSH_PULL) {
		snprintf(why, whylen, "received invalid msgType (%u), "
		    "expected pushPullMsg (6)", plain->data[0]);
		return false;
	}
	if (gossip_dec_push_pull(p, n, &pp, NULL) < 0) {
		snprintf(why, whylen, "malformed push/pull reply");
		return false;
	}
	/* the join flag is ours, whatever the reply says */
	pp.hdr.join = s->join;
	int rc = ml_merge_remote(ml, now, &pp, why, whylen);
	gossip_push_pull_free(&pp);
	return rc == 0;
}

int
gossip_ml_stream_reply(struct gossip_ml *ml, uint64_t now, uint64_t id,
    const uint8_t *in, size_t n)
{
	struct buf plain;
	struct ml_stream s;
	const char *why;
	char reason[300] = "";
	int rc;

	buf_init(&plain);
	rc = gossip_stream_open(&ml->cfg.wire, in, n, &plain, &why);
	if (rc == 0) {
		buf_free(&plain);
		return 0;
	}
	if (stream_take(ml, id, &s) == NULL) {
		buf_free(&plain);
		return rc < 0 ? rc : -ENOENT;
	}
	bool ok = false;
	if (rc < 0)
		snprintf(reason, sizeof(reason), "%s", why);
	else
		ok = stream_reply_msg(ml, now, &s, &plain, reason,
		    sizeof(reason));
	stream_finished(ml, now, &s, ok, reason);
	buf_free(&plain);
	return rc;
}
