/*
 * memberlist core: membership state (alive/suspect/dead/left, incarnation
 * numbers, refutation, Lifeguard suspicion), sending with piggybacked
 * broadcasts, and the datagram dispatcher.  gossip-protocol.md §3, §4,
 * §6; the probe loop, gossip and streams are in ml_probe.c.
 */
#include "workers/gossip/ml_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

static void
config_common(struct gossip_ml_config *c)
{
	memset(c, 0, sizeof(*c));
	static const uint8_t vsn[6] = { 1, 5, 2, 2, 5, 4 };
	memcpy(c->vsn, vsn, sizeof(vsn));
	c->suspicion_max_timeout_mult = 6;
	c->awareness_max = 8;
	c->udp_buffer = GOSSIP_UDP_BUFFER;
	c->wire.verify_incoming = true;
	c->wire.verify_outgoing = true;
	c->wire.compress = true;
	c->wire.enc_vsn = 1;
	c->dead_node_reclaim = 30000;
	c->seed = 1;
}

void
gossip_ml_config_lan(struct gossip_ml_config *c)
{
	config_common(c);
	c->probe_interval = 1000;
	c->probe_timeout = 500;
	c->indirect_checks = 3;
	c->suspicion_mult = 4;
	c->gossip_interval = 200;
	c->gossip_nodes = 3;
	c->gossip_to_the_dead = 30000;
	c->retransmit_mult = 4;
	c->push_pull_interval = 30000;
	c->tcp_timeout = 10000;
}

void
gossip_ml_config_wan(struct gossip_ml_config *c)
{
	config_common(c);
	c->probe_interval = 5000;
	c->probe_timeout = 3000;
	c->indirect_checks = 3;
	c->suspicion_mult = 6;
	c->gossip_interval = 500;
	c->gossip_nodes = 4;
	c->gossip_to_the_dead = 60000;
	c->retransmit_mult = 4;
	c->push_pull_interval = 60000;
	c->tcp_timeout = 30000;
}

void
gossip_ml_config_local(struct gossip_ml_config *c)
{
	config_common(c);
	c->probe_interval = 1000;
	c->probe_timeout = 200;
	c->indirect_checks = 1;
	c->suspicion_mult = 3;
	c->gossip_interval = 100;
	c->gossip_nodes = 3;
	c->gossip_to_the_dead = 15000;
	c->retransmit_mult = 2;
	c->push_pull_interval = 15000;
	c->tcp_timeout = 1000;
	c->dead_node_reclaim = 0;
}

int
gossip_addr_parse(const char *ip, uint16_t port, struct gossip_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->port = port;
	if (inet_pton(AF_INET, ip, a->ip) == 1) {
		a->len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a->ip) == 1) {
		a->len = 16;
		return 0;
	}
	return -EINVAL;
}

void
gossip_addr_fmt(const struct gossip_addr *a, char out[64])
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (a->len == 4)
		inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
	else if (a->len == 16)
		inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
	snprintf(out, 64, a->len == 16 ? "[%s]:%u" : "%s:%u", ip, a->port);
}

bool
gossip_addr_eq(const struct gossip_addr *a, const struct gossip_addr *b)
{
	return a->len == b->len && a->port == b->port &&
	    memcmp(a->ip, b->ip, a->len) == 0;
}

/* net.IP from the wire: 4 bytes, or 16 (IPv4-mapped taken as IPv4). */
bool
ml_addr_from_slice(struct gossip_slice ip, uint16_t port, struct gossip_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };
	memset(a, 0, sizeof(*a));
	a->port = port;
	if (ip.n == 16 && memcmp(ip.p, mapped, 12) == 0) {
		ip.p += 12;
		ip.n = 4;
	}
	if (ip.n != 4 && ip.n != 16)
		return false;
	memcpy(a->ip, ip.p, ip.n);
	a->len = (uint8_t)ip.n;
	return true;
}

void
ml_self_addr(const struct gossip_ml *ml, struct gossip_slice *ip)
{
	ip->p = ml->cfg.addr.ip;
	ip->n = ml->cfg.addr.len;
}

/* ------------------------------------------------------------ random */

uint64_t
ml_rand(struct gossip_ml *ml)
{
	/* splitmix64: tiny, good enough, reproducible from the seed */
	uint64_t z = (ml->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t
gossip_ml_rand(struct gossip_ml *ml, uint64_t n)
{
	return n ? ml_rand(ml) % n : 0;
}

/* ------------------------------------------------------------ nodes */

static size_t
name_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return (size_t)h;
}

struct gossip_node *
ml_find_slice(const struct gossip_ml *ml, struct gossip_slice name)
{
	size_t b = name_hash((const char *)name.p, name.n) % ml->nbuckets;
	for (struct gossip_node *n = ml->buckets[b]; n; n = n->hnext)
		if (strlen(n->name) == name.n &&
		    memcmp(n->name, name.p, name.n) == 0)
			return n;
	return NULL;
}

struct gossip_node *
ml_find(const struct gossip_ml *ml, const char *name)
{
	return ml_find_slice(ml, gossip_slice_c(name));
}

static void
hash_insert(struct gossip_ml *ml, struct gossip_node *n)
{
	size_t b = name_hash(n->name, strlen(n->name)) % ml->nbuckets;
	n->hnext = ml->buckets[b];
	ml->buckets[b] = n;
}

static void
hash_remove(struct gossip_ml *ml, struct gossip_node *n)
{
	size_t b = name_hash(n->name, strlen(n->name)) % ml->nbuckets;
	for (struct gossip_node **pp = &ml->buckets[b]; *pp; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			return;
		}
}

static void
hash_grow(struct gossip_ml *ml)
{
	if (ml->nnodes < 2 * ml->nbuckets)
		return;
	free(ml->buckets);
	ml->nbuckets *= 4;
	ml->buckets = xcalloc(ml->nbuckets, sizeof(*ml->buckets));
	for (size_t i = 0; i < ml->nnodes; i++)
		hash_insert(ml, ml->nodes[i]);
}

static void
suspicion_free(struct gossip_ml *ml, struct gossip_node *n)
{
	if (n->susp == NULL)
		return;
	for (size_t i = 0; i < n->susp->nfrom; i++)
		free(n->susp->from[i]);
	free(n->susp->from);
	free(n->susp);
	n->susp = NULL;
	ml->nsuspect--;
}

static void
node_free(struct gossip_ml *ml, struct gossip_node *n)
{
	suspicion_free(ml, n);
	free(n->name);
	free(n->meta);
	free(n);
}

/* New node at a random position of the probe list, so a newcomer does not
 * always wait a full round (memberlist: randomOffset + swap). */
static struct gossip_node *
node_add(struct gossip_ml *ml, const char *name)
{
	struct gossip_node *n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(name);
	n->state = GOSSIP_STATE_DEAD;
	if (ml->nnodes == ml->capnodes) {
		ml->capnodes = ml->capnodes ? 2 * ml->capnodes : 16;
		ml->nodes = xrealloc(ml->nodes,
		    ml->capnodes * sizeof(*ml->nodes));
	}
	size_t at = ml->nnodes ? ml_rand(ml) % ml->nnodes : 0;
	ml->nodes[ml->nnodes] = ml->nodes[at];
	ml->nodes[at] = n;
	ml->nnodes++;
	hash_insert(ml, n);
	hash_grow(ml);
	return n;
}

/*
 * After a full probe round: forget nodes dead or left for longer than
 * GossipToTheDeadTime and reshuffle the probe order.
 */
void
ml_reset_nodes(struct gossip_ml *ml, uint64_t now)
{
	size_t keep = 0;
	for (size_t i = 0; i < ml->nnodes; i++) {
		struct gossip_node *n = ml->nodes[i];
		bool gone = (n->state == GOSSIP_STATE_DEAD ||
		    n->state == GOSSIP_STATE_LEFT) && n != ml->self &&
		    now - n->state_change > ml->cfg.gossip_to_the_dead;
		if (gone) {
			hash_remove(ml, n);
			node_free(ml, n);
		} else {
			ml->nodes[keep++] = n;
		}
	}
	ml->nnodes = keep;
	for (size_t i = ml->nnodes; i > 1; i--) {
		size_t j = ml_rand(ml) % i;
		struct gossip_node *t = ml->nodes[i - 1];
		ml->nodes[i - 1] = ml->nodes[j];
		ml->nodes[j] = t;
	}
}

/*
 * Up to k distinct random nodes not excluded by the filter, chosen
 * uniformly among the eligible ones.
 */
size_t
ml_random_nodes(struct gossip_ml *ml, size_t k,
    bool (*exclude)(const struct gossip_ml *, const struct gossip_node *,
    const void *), const void *ctx, struct gossip_node **out)
{
	size_t n = 0, seen = 0;
	/* reservoir sampling over the eligible nodes */
	for (size_t i = 0; i < ml->nnodes; i++) {
		struct gossip_node *nd = ml->nodes[i];
		if (exclude(ml, nd, ctx))
			continue;
		seen++;
		if (n < k) {
			out[n++] = nd;
		} else {
			size_t j = ml_rand(ml) % seen;
			if (j < k)
				out[j] = nd;
		}
	}
	return n;
}

void
ml_health_delta(struct gossip_ml *ml, int delta)
{
	int s = (int)ml->health + delta;
	int max = (int)ml->cfg.awareness_max - 1;
	ml->health = (unsigned)(s < 0 ? 0 : s > max ? max : s);
}

/* ------------------------------------------------------------ output */

static struct gossip_out *
out_slot(struct gossip_ml *ml)
{
	if (ml->outhead > 0 && ml->outhead == ml->nout) {
		ml->outhead = ml->nout = 0;
	}
	if (ml->nout == ml->capout) {
		ml->capout = ml->capout ? 2 * ml->capout : 32;
		ml->out = xrealloc(ml->out, ml->capout * sizeof(*ml->out));
	}
	struct gossip_out *o = &ml->out[ml->nout++];
	memset(o, 0, sizeof(*o));
	return o;
}

void
ml_out_packet(struct gossip_ml *ml, const struct gossip_addr *to,
    struct buf *data)
{
	struct gossip_out *o = out_slot(ml);
	o->kind = GOSSIP_OUT_PACKET;
	o->to = *to;
	o->data = *data;
	buf_init(data);
	ml->stats.udp_out++;
}

void
ml_out_stream(struct gossip_ml *ml, const struct gossip_addr *to,
    struct buf *data, uint64_t id, uint64_t deadline)
{
	struct gossip_out *o = out_slot(ml);
	o->kind = GOSSIP_OUT_STREAM;
	o->to = *to;
	o->data = *data;
	o->stream_id = id;
	o->deadline = deadline;
	buf_init(data);
}

int
gossip_ml_pop_out(struct gossip_ml *ml, struct gossip_out *out)
{
	if (ml->outhead >= ml->nout)
		return 0;
	*out = ml->out[ml->outhead++];
	if (ml->outhead == ml->nout)
		ml->outhead = ml->nout = 0;
	return 1;
}

/* ------------------------------------------------------------ sending */

/* CRC only for nodes known to speak memberlist >= 5 (rawSendMsgPacket). */
void
ml_raw_send(struct gossip_ml *ml, const struct gossip_addr *to,
    const struct gossip_node *node, const uint8_t *msg, size_t n)
{
	struct buf pkt;
	buf_init(&pkt);
	bool crc = node != NULL && node->vsn[1] >= 5;
	if (gossip_packet_seal(&ml->cfg.wire, crc, msg, n, &pkt) < 0) {
		buf_free(&pkt);
		return;
	}
	ml_out_packet(ml, to, &pkt);
}

static size_t
encrypt_overhead(const struct gossip_ml *ml)
{
	if (!gossip_wire_encrypting(&ml->cfg.wire) ||
	    !ml->cfg.wire.verify_outgoing)
		return 0;
	return ml->cfg.wire.enc_vsn == 0 ? 45 : GOSSIP_ENCRYPT_OVERHEAD;
}

size_t
ml_bytes_avail(const struct gossip_ml *ml)
{
	size_t over = GOSSIP_COMPOUND_HEADER_OVERHEAD +
	    gossip_wire_label_overhead(&ml->cfg.wire) + encrypt_overhead(ml);
	return ml->cfg.udp_buffer > over ? ml->cfg.udp_buffer - over : 0;
}

void
ml_get_broadcasts(struct gossip_ml *ml, size_t overhead, size_t limit,
    struct gossip_msgs *out)
{
	unsigned tl = gossip_retransmit_limit(ml->cfg.retransmit_mult,
	    ml->nnodes);
	gossip_bq_fetch(&ml->bq, overhead, limit, tl, out);
	if (ml->d->get_broadcasts == NULL)
		return;
	size_t used = gossip_msgs_bytes(out, overhead);
	if (limit <= used ||
	    limit - used <= overhead + GOSSIP_USER_MSG_OVERHEAD)
		return;
	struct gossip_msgs user;
	gossip_msgs_init(&user);
	ml->d->get_broadcasts(ml->darg, overhead + GOSSIP_USER_MSG_OVERHEAD,
	    limit - used, &user);
	for (size_t i = 0; i < user.n; i++) {
		struct buf m;
		buf_init(&m);
		buf_addch(&m, (char)GOSSIP_MSG_USER);
		buf_add(&m, user.v[i].data, user.v[i].len);
		gossip_msgs_add(out, m.data, m.len);
		buf_free(&m);
	}
	gossip_msgs_free(&user);
}

/* A message with as many queued broadcasts as fit piggybacked on it. */
void
ml_send_msg(struct gossip_ml *ml, const struct gossip_addr *to,
    const uint8_t *msg, size_t n)
{
	size_t avail = ml_bytes_avail(ml);
	struct gossip_msgs extra;

	gossip_msgs_init(&extra);
	if (avail > n)
		ml_get_broadcasts(ml, GOSSIP_COMPOUND_OVERHEAD, avail - n,
		    &extra);
	if (extra.n == 0) {
		ml_raw_send(ml, to, NULL, msg, n);
		return;
	}
	size_t np = 1 + MIN(extra.n, GOSSIP_COMPOUND_MAX - 1);
	struct gossip_slice *parts = xcalloc(np, sizeof(*parts));
	parts[0] = (struct gossip_slice){ msg, n };
	for (size_t i = 1; i < np; i++)
		parts[i] = (struct gossip_slice){ extra.v[i - 1].data,
			extra.v[i - 1].len };
	struct buf c;
	buf_init(&c);
	gossip_enc_compound(&c, parts, np);
	ml_raw_send(ml, to, NULL, c.data, c.len);
	buf_free(&c);
	free(parts);
	gossip_msgs_free(&extra);
}

void
gossip_ml_send_user(struct gossip_ml *ml, const struct gossip_addr *to,
    const uint8_t *p, size_t n)
{
	struct buf m;
	buf_init(&m);
	buf_addch(&m, (char)GOSSIP_MSG_USER);
	buf_add(&m, p, n);
	ml_raw_send(ml, to, NULL, m.data, m.len);
	buf_free(&m);
}

static void
broadcast(struct gossip_ml *ml, const char *name, const struct buf *msg,
    uint64_t token)
{
	gossip_bq_push(&ml->bq, name, msg->data, msg->len, token);
}

static void
node_alive_msg(const struct gossip_node *n, struct gossip_alive *a)
{
	a->incarnation = n->incarnation;
	a->node = gossip_slice_c(n->name);
	a->addr = (struct gossip_slice){ n->addr.ip, n->addr.len };
	a->port = n->addr.port;
	a->meta = (struct gossip_slice){ n->meta ? n->meta :
		(const uint8_t *)"", n->metalen };
	a->vsn = (struct gossip_slice){ n->vsn, 6 };
}

/* ------------------------------------------------------------ state */

/* Someone says we are suspect, dead, or alive with other data: take a
 * higher incarnation and tell everyone (§6.3). */
static void
refute(struct gossip_ml *ml, uint32_t accused)
{
	struct gossip_node *me = ml->self;
	uint32_t inc = ++ml->incarnation;
	if (accused >= inc) {
		ml->incarnation += accused - inc + 1;
		inc = ml->incarnation;
	}
	me->incarnation = inc;
	ml_health_delta(ml, 1);
	ml->stats.refutes++;
	struct gossip_alive a;
	struct buf m;
	node_alive_msg(me, &a);
	buf_init(&m);
	gossip_enc_alive(&m, &a);
	broadcast(ml, me->name, &m, 0);
	buf_free(&m);
}

static void
node_view(const struct gossip_alive *a, const struct gossip_addr *addr,
    struct gossip_node *v, char *name)
{
	memset(v, 0, sizeof(*v));
	v->name = name;
	v->addr = *addr;
	v->meta = (uint8_t *)a->meta.p;
	v->metalen = a->meta.n;
	if (a->vsn.n >= 6)
		memcpy(v->vsn, a->vsn.p, 6);
	v->incarnation = a->incarnation;
}

static void
set_meta(struct gossip_node *n, struct gossip_slice meta)
{
	free(n->meta);
	n->meta = meta.n ? xmalloc(meta.n) : NULL;
	if (meta.n)
		memcpy(n->meta, meta.p, meta.n);
	n->metalen = meta.n;
}

/* The address check of aliveNode: a different address for a known name
 * is a conflict unless the old one left or is reclaimably dead. */
static int
alive_addr_check(struct gossip_ml *ml, uint64_t now, struct gossip_node *st,
    const struct gossip_alive *a, const struct gossip_addr *addr)
{
	if (gossip_addr_eq(&st->addr, addr))
		return 0;
	bool reclaim = ml->cfg.dead_node_reclaim > 0 &&
	    now - st->state_change > ml->cfg.dead_node_reclaim;
	if (st->state == GOSSIP_STATE_LEFT ||
	    (st->state == GOSSIP_STATE_DEAD && reclaim))
		return 1;	/* updates the node */
	ml->stats.conflicts++;
	if (ml->d->notify_conflict) {
		struct gossip_node other;
		node_view(a, addr, &other, st->name);
		ml->d->notify_conflict(ml->darg, st, &other);
	}
	return -1;
}

void
ml_alive_node(struct gossip_ml *ml, uint64_t now, const struct gossip_alive *a,
    bool bootstrap, uint64_t token)
{
	struct gossip_addr addr;
	char *name = gossip_slice_strdup(a->node);
	bool updates = false;

	if (name == NULL || name[0] == '\0' ||
	    !ml_addr_from_slice(a->addr, a->port, &addr))
		goto out;
	struct gossip_node *st = ml_find(ml, name);
	if (ml->leaving && st == ml->self)
		goto out;
	if (a->vsn.n >= 3 && (a->vsn.p[0] == 0 || a->vsn.p[1] == 0 ||
	    a->vsn.p[0] > a->vsn.p[1]))
		goto out;
	if (ml->d->notify_alive && !bootstrap) {
		struct gossip_node v;
		if (a->vsn.n < 6)
			goto out;
		node_view(a, &addr, &v, name);
		if (ml->d->notify_alive(ml->darg, &v) < 0)
			goto out;
	}
	if (st == NULL) {
		st = node_add(ml, name);
		st->addr = addr;
		set_meta(st, a->meta);
		if (a->vsn.n >= 6)
			memcpy(st->vsn, a->vsn.p, 6);
	} else {
		int rc = alive_addr_check(ml, now, st, a, &addr);
		if (rc < 0)
			goto out;
		updates = rc > 0;
	}
	bool local = st == ml->self;
	if (a->incarnation <= st->incarnation && !local && !updates)
		goto out;
	if (a->incarnation < st->incarnation && local)
		goto out;
	suspicion_free(ml, st);
	enum gossip_state old = st->state;
	bool meta_changed = st->metalen != a->meta.n ||
	    (a->meta.n && memcmp(st->meta, a->meta.p, a->meta.n) != 0);
	if (!bootstrap && local) {
		/* same incarnation and same data: nothing to refute */
		if (a->incarnation == st->incarnation && !meta_changed &&
		    a->vsn.n == 6 && memcmp(a->vsn.p, st->vsn, 6) == 0)
			goto out;
		refute(ml, a->incarnation);
		log_warnx("memberlist: refuting an alive message for '%s'",
		    name);
		goto out;	/* our own state is unchanged */
	}
	struct buf m;
	buf_init(&m);
	gossip_enc_alive(&m, a);
	broadcast(ml, name, &m, token);
	buf_free(&m);
	if (a->vsn.n >= 6)
		memcpy(st->vsn, a->vsn.p, 6);
	st->incarnation = a->incarnation;
	set_meta(st, a->meta);
	st->addr = addr;
	if (st->state != GOSSIP_STATE_ALIVE) {
		st->state = GOSSIP_STATE_ALIVE;
		st->state_change = now;
	}
	if (old == GOSSIP_STATE_DEAD || old == GOSSIP_STATE_LEFT) {
		if (ml->d->notify_join)
			ml->d->notify_join(ml->darg, now, st);
	} else if (meta_changed && ml->d->notify_update) {
		ml->d->notify_update(ml->darg, now, st);
	}
out:
	free(name);
}

/*
 * Lifeguard: min = SuspicionMult * max(1, log10(max(1, N))) * interval,
 * max = SuspicionMaxTimeoutMult * min (memberlist suspicionTimeout).
 */
static uint64_t
suspicion_min(const struct gossip_ml *ml)
{
	double n = (double)ml->nnodes;
	double scale = fmax(1.0, log10(fmax(1.0, n)));
	uint64_t scaled = (uint64_t)(scale * 1000.0);
	return ml->cfg.suspicion_mult * scaled * ml->cfg.probe_interval / 1000;
}

static void
suspicion_add_from(struct gossip_suspicion *s, struct gossip_slice from)
{
	s->from = xrealloc(s->from, (s->nfrom + 1) * sizeof(*s->from));
	s->from[s->nfrom++] = gossip_slice_dup(from);
}

static bool
suspicion_has(const struct gossip_suspicion *s, struct gossip_slice from)
{
	for (size_t i = 0; i < s->nfrom; i++)
		if (gossip_slice_eq(from, s->from[i]))
			return true;
	return false;
}

/* A further independent accusation shortens the timer: max - (log(c+1) /
 * log(k+1)) * (max - min), floored to ms, never below min.  Returns
 * whether the confirmation was new (then it is re-gossiped). */
static bool
suspicion_confirm(struct gossip_suspicion *s, struct gossip_slice from)
{
	if (s->n >= s->k || suspicion_has(s, from))
		return false;
	suspicion_add_from(s, from);
	s->n++;
	double frac = log((double)s->n + 1.0) / log((double)s->k + 1.0);
	double raw = (double)s->max / 1000.0 -
	    frac * ((double)s->max - (double)s->min) / 1000.0;
	uint64_t timeout = (uint64_t)floor(1000.0 * raw);
	if (timeout < s->min)
		timeout = s->min;
	s->deadline = s->start + timeout;
	return true;
}

void
ml_suspect_node(struct gossip_ml *ml, uint64_t now,
    const struct gossip_suspect *s)
{
	struct gossip_node *st = ml_find_slice(ml, s->node);
	struct buf m;

	if (st == NULL || s->incarnation < st->incarnation)
		return;
	buf_init(&m);
	gossip_enc_suspect(&m, s);
	if (st->susp != NULL) {
		if (suspicion_confirm(st->susp, s->from))
			broadcast(ml, st->name, &m, 0);
		goto out;
	}
	if (st->state != GOSSIP_STATE_ALIVE)
		goto out;
	if (st == ml->self) {
		refute(ml, s->incarnation);
		log_warnx("memberlist: refuting a suspect message (from: %.*s)",
		    (int)s->from.n, (const char *)s->from.p);
		goto out;
	}
	broadcast(ml, st->name, &m, 0);
	st->incarnation = s->incarnation;
	st->state = GOSSIP_STATE_SUSPECT;
	st->state_change = now;
	ml->stats.suspects++;
	struct gossip_suspicion *sp = xcalloc(1, sizeof(*sp));
	unsigned k = ml->cfg.suspicion_mult >= 2 ?
	    ml->cfg.suspicion_mult - 2 : 0;
	if (ml->nnodes < 2 || ml->nnodes - 2 < k)
		k = 0;
	sp->k = k;
	sp->start = now;
	sp->min = suspicion_min(ml);
	sp->max = ml->cfg.suspicion_max_timeout_mult * sp->min;
	sp->deadline = now + (k < 1 ? sp->min : sp->max);
	sp->change_time = now;
	suspicion_add_from(sp, s->from);
	st->susp = sp;
	ml->nsuspect++;
out:
	buf_free(&m);
}

void
ml_dead_node(struct gossip_ml *ml, uint64_t now, const struct gossip_suspect *d)
{
	struct gossip_node *st = ml_find_slice(ml, d->node);
	struct buf m;

	if (st == NULL || d->incarnation < st->incarnation)
		return;
	suspicion_free(ml, st);
	if (st->state == GOSSIP_STATE_DEAD || st->state == GOSSIP_STATE_LEFT)
		return;
	buf_init(&m);
	gossip_enc_dead(&m, d);
	if (st == ml->self) {
		if (!ml->leaving) {
			refute(ml, d->incarnation);
			log_warnx("memberlist: refuting a dead message "
			    "(from: %.*s)", (int)d->from.n,
			    (const char *)d->from.p);
			buf_free(&m);
			return;
		}
		broadcast(ml, st->name, &m, ml->leave_token);
	} else {
		broadcast(ml, st->name, &m, 0);
	}
	buf_free(&m);
	st->incarnation = d->incarnation;
	st->state = gossip_slice_same(d->node, d->from) ? GOSSIP_STATE_LEFT :
	    GOSSIP_STATE_DEAD;
	st->state_change = now;
	ml->stats.deads++;
	if (ml->d->notify_leave)
		ml->d->notify_leave(ml->darg, now, st);
}

/* Suspicion timers that ran out declare their node dead, if it is still
 * in the state change the timer was started for. */
void
ml_suspicion_tick(struct gossip_ml *ml, uint64_t now)
{
	for (size_t i = 0; i < ml->nnodes && ml->nsuspect > 0; i++) {
		struct gossip_node *n = ml->nodes[i];
		if (n->susp == NULL || now < n->susp->deadline)
			continue;
		bool fire = n->state == GOSSIP_STATE_SUSPECT &&
		    n->state_change == n->susp->change_time;
		suspicion_free(ml, n);
		if (!fire)
			continue;
		log_info("memberlist: marking %s as failed, suspect timeout "
		    "reached", n->name);
		struct gossip_suspect d = { n->incarnation,
			gossip_slice_c(n->name), gossip_slice_c(ml->cfg.name) };
		ml_dead_node(ml, now, &d);
	}
}

uint64_t
ml_suspicion_next(const struct gossip_ml *ml)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < ml->nnodes && ml->nsuspect > 0; i++)
		if (ml->nodes[i]->susp && ml->nodes[i]->susp->deadline < next)
			next = ml->nodes[i]->susp->deadline;
	return next;
}

/* ------------------------------------------------------------ receive */

struct rx {
	struct gossip_ml *ml;
	uint64_t now;
	const struct gossip_addr *from;
};

static void
handle_alive(struct gossip_ml *ml, uint64_t now, const uint8_t *p, size_t n)
{
	struct gossip_alive a;
	if (gossip_dec_alive(p, n, &a) < 0) {
		ml->stats.udp_bad++;
		return;
	}
	if (a.port == 0)
		a.port = ml->cfg.addr.port;
	ml_alive_node(ml, now, &a, false, 0);
}

static void
on_leaf(void *arg, uint8_t type, const uint8_t *p, size_t n)
{
	struct rx *rx = arg;
	struct gossip_ml *ml = rx->ml;
	struct gossip_suspect s;
	struct gossip_nack nack;

	switch (type) {
	case GOSSIP_MSG_PING:
		ml_handle_ping(ml, rx->from, p, n);
		break;
	case GOSSIP_MSG_INDIRECT_PING:
		ml_handle_indirect(ml, rx->now, rx->from, p, n);
		break;
	case GOSSIP_MSG_ACK:
		ml_handle_ack(ml, rx->now, p, n);
		break;
	case GOSSIP_MSG_NACK:
		if (gossip_dec_nack(p, n, &nack) == 0)
			ml_probe_nack(ml, nack.seq);
		else
			ml->stats.udp_bad++;
		break;
	case GOSSIP_MSG_SUSPECT:
	case GOSSIP_MSG_DEAD:
		if (gossip_dec_suspect(p, n, &s) < 0) {
			ml->stats.udp_bad++;
			break;
		}
		if (type == GOSSIP_MSG_SUSPECT)
			ml_suspect_node(ml, rx->now, &s);
		else
			ml_dead_node(ml, rx->now, &s);
		break;
	case GOSSIP_MSG_ALIVE:
		handle_alive(ml, rx->now, p, n);
		break;
	case GOSSIP_MSG_USER:
		if (ml->d->notify_msg)
			ml->d->notify_msg(ml->darg, rx->now, p, n);
		break;
	default:
		ml->stats.unknown_type++;
		break;
	}
}

void
gossip_ml_recv_packet(struct gossip_ml *ml, uint64_t now,
    const struct gossip_addr *from, const uint8_t *p, size_t n)
{
	struct buf scratch;
	const uint8_t *msg;
	size_t len;
	unsigned bad = 0;
	int rc;

	ml->stats.udp_in++;
	buf_init(&scratch);
	rc = gossip_packet_open(&ml->cfg.wire, p, n, &scratch, &msg, &len);
	if (rc < 0) {
		if (rc == -EILSEQ)
			ml->stats.crc_fail++;
		else if (rc == -EACCES)
			ml->stats.label_fail++;
		else if (rc == -ENOKEY || rc == -EMSGSIZE ||
		    rc == -EPROTONOSUPPORT)
			ml->stats.udp_decrypt_fail++;
		else
			ml->stats.udp_bad++;
		buf_free(&scratch);
		return;
	}
	struct rx rx = { ml, now, from };
	gossip_msg_walk(msg, len, on_leaf, &rx, &bad);
	ml->stats.udp_bad += bad;
	buf_free(&scratch);
}

/* ------------------------------------------------------------ life */

static void
on_bq_finish(void *arg, uint64_t token)
{
	struct gossip_ml *ml = arg;
	if (token != 0 && token == ml->leave_token)
		ml->leave_pending = false;
}

static void
set_alive(struct gossip_ml *ml, uint64_t now, bool bootstrap, uint64_t token)
{
	struct buf meta;
	struct gossip_alive a;

	buf_init(&meta);
	if (ml->d->node_meta)
		ml->d->node_meta(ml->darg, &meta);
	if (meta.len > GOSSIP_META_MAX)
		meta.len = 0;	/* the delegate checks the size itself */
	a.incarnation = ++ml->incarnation;
	a.node = gossip_slice_c(ml->cfg.name);
	a.addr = (struct gossip_slice){ ml->cfg.addr.ip, ml->cfg.addr.len };
	a.port = ml->cfg.addr.port;
	a.meta = (struct gossip_slice){ meta.data ? meta.data :
		(const uint8_t *)"", meta.len };
	a.vsn = (struct gossip_slice){ ml->cfg.vsn, 6 };
	ml_alive_node(ml, now, &a, bootstrap, token);
	buf_free(&meta);
}

struct gossip_ml *
gossip_ml_new(const struct gossip_ml_config *cfg, uint64_t now)
{
	static const struct gossip_ml_delegate none;
	struct gossip_ml *ml = xcalloc(1, sizeof(*ml));

	ml->cfg = *cfg;
	ml->cfg.wire.label = ml->cfg.label[0] ? ml->cfg.label : NULL;
	ml->d = cfg->delegate ? cfg->delegate : &none;
	ml->darg = cfg->delegate_arg;
	ml->rng = cfg->seed;
	ml->nbuckets = 64;
	ml->buckets = xcalloc(ml->nbuckets, sizeof(*ml->buckets));
	gossip_bq_init(&ml->bq);
	ml->bq.on_finish = on_bq_finish;
	ml->bq.arg = ml;
	set_alive(ml, now, true, 0);
	ml->self = ml_find(ml, cfg->name);
	if (ml->self == NULL)
		fatalx("gossip: cannot register own node %s", cfg->name);
	/* random stagger of the first runs, as memberlist's triggerFunc */
	ml->next_probe = now + ml_rand(ml) % MAX(cfg->probe_interval, 1);
	ml->next_gossip = now + ml_rand(ml) % MAX(cfg->gossip_interval, 1);
	ml->next_push_pull = cfg->push_pull_interval ? now +
	    ml_rand(ml) % cfg->push_pull_interval : UINT64_MAX;
	return ml;
}

void
gossip_ml_free(struct gossip_ml *ml)
{
	struct gossip_out o;
	if (ml == NULL)
		return;
	while (gossip_ml_pop_out(ml, &o))
		buf_free(&o.data);
	free(ml->out);
	for (size_t i = 0; i < ml->nnodes; i++)
		node_free(ml, ml->nodes[i]);
	free(ml->nodes);
	free(ml->buckets);
	gossip_bq_free(&ml->bq);
	free(ml->acks);
	free(ml->probe.target);
	free(ml->streams);
	free(ml->joins);
	free(ml);
}

void
gossip_ml_leave(struct gossip_ml *ml, uint64_t now)
{
	if (ml->leaving)
		return;
	ml->leaving = true;
	ml->leave_token = UINT64_MAX - 1;
	ml->leave_pending = gossip_ml_num_alive(ml) > 0;
	struct gossip_suspect d = { ml->self->incarnation,
		gossip_slice_c(ml->self->name), gossip_slice_c(ml->self->name) };
	ml_dead_node(ml, now, &d);
}

bool
gossip_ml_leave_pending(const struct gossip_ml *ml)
{
	return ml->leave_pending &&
	    gossip_bq_has_token(&ml->bq, ml->leave_token);
}

void
gossip_ml_update_meta(struct gossip_ml *ml, uint64_t now)
{
	if (!ml->leaving)
		set_alive(ml, now, true, 0);
}

/* ------------------------------------------------------------ queries */

size_t
gossip_ml_num_nodes(const struct gossip_ml *ml)
{
	return ml->nnodes;
}

size_t
gossip_ml_num_alive(const struct gossip_ml *ml)
{
	size_t n = 0;
	for (size_t i = 0; i < ml->nnodes; i++)
		if (ml->nodes[i] != ml->self &&
		    ml->nodes[i]->state != GOSSIP_STATE_DEAD &&
		    ml->nodes[i]->state != GOSSIP_STATE_LEFT)
			n++;
	return n;
}

const struct gossip_node *
gossip_ml_node(const struct gossip_ml *ml, const char *name)
{
	return ml_find(ml, name);
}

const struct gossip_node *
gossip_ml_node_at(const struct gossip_ml *ml, size_t i)
{
	return i < ml->nnodes ? ml->nodes[i] : NULL;
}

const struct gossip_node *
gossip_ml_self(const struct gossip_ml *ml)
{
	return ml->self;
}

unsigned
gossip_ml_health(const struct gossip_ml *ml)
{
	return ml->health;
}

const struct gossip_ml_stats *
gossip_ml_stats(const struct gossip_ml *ml)
{
	return &ml->stats;
}

const struct gossip_ml_config *
gossip_ml_config(const struct gossip_ml *ml)
{
	return &ml->cfg;
}

const struct gossip_wire_cfg *
gossip_ml_wire(const struct gossip_ml *ml)
{
	return &ml->cfg.wire;
}

/* ------------------------------------------------------------ timers */

void
gossip_ml_tick(struct gossip_ml *ml, uint64_t now)
{
	ml_acks_tick(ml, now);
	ml_suspicion_tick(ml, now);
	ml_probe_tick(ml, now);
	if (now >= ml->next_gossip) {
		ml_gossip(ml, now);
		ml->next_gossip = now + ml->cfg.gossip_interval;
	}
	ml_push_pull_tick(ml, now);
}

uint64_t
gossip_ml_next_deadline(const struct gossip_ml *ml)
{
	uint64_t next = MIN(ml->next_gossip, ml->next_push_pull);
	next = MIN(next, ml_suspicion_next(ml));
	if (ml->probe.active)
		next = MIN(next, ml->probe.phase == 0 ? ml->probe.timeout_at :
		    ml->probe.deadline);
	else
		next = MIN(next, ml->next_probe);
	for (size_t i = 0; i < ml->nacks; i++)
		next = MIN(next, ml->acks[i].deadline);
	return next;
}
