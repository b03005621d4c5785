/*
 * Raft RPC wire encoding over the proto codec (see raft_wire.h).  The
 * decoder is the trust boundary for bytes from other servers: besides the
 * codec's length checks it rejects zero ids and terms, unknown entry
 * types, oversized lists and configurations that are not well formed.
 */
#include "workers/store/raft_wire.h"
#include "proto/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
put_nested_len(struct buf *list, const struct buf *item)
{
	proto_put_u32(list, (uint32_t)item->len);
	buf_add(list, item->data, item->len);
}

void
rft_wire_entry_encode(struct buf *out, const struct rft_entry *e)
{
	struct proto_raft_entry pe = {
		.term = e->term,
		.type = e->type,
		.data = { (const char *)e->data, e->len },
	};
	proto_enc_raft_entry(out, &pe);
}

int
rft_wire_entry_decode(const void *p, size_t len, uint64_t index,
    struct rft_entry *e)
{
	struct proto_raft_entry pe;
	int r = proto_dec_raft_entry(p, len, &pe);
	if (r < 0)
		return r;
	if (pe.term == 0 || pe.type < RFT_ENTRY_NORMAL ||
	    pe.type > RFT_ENTRY_CONF)
		return -EBADMSG;
	memset(e, 0, sizeof(*e));
	e->index = index;
	e->term = pe.term;
	e->type = pe.type;
	e->data = (const uint8_t *)pe.data.p;
	e->len = pe.data.len;
	return 0;
}

void
rft_conf_encode(struct buf *out, const struct rft_conf *c)
{
	struct buf list, item;
	buf_init(&list);
	buf_init(&item);
	for (unsigned i = 0; i < c->n; i++) {
		struct proto_raft_server ps = {
			.id = c->s[i].id,
			.role = c->s[i].role,
			.name = proto_str_c(c->s[i].name),
			.addr = proto_str_c(c->s[i].addr),
		};
		buf_reset(&item);
		proto_enc_raft_server(&item, &ps);
		put_nested_len(&list, &item);
	}
	struct proto_raft_conf pc = {
		.servers = { .n = c->n, .raw = list.data,
		    .rawlen = (uint32_t)list.len },
	};
	proto_enc_raft_conf(out, &pc);
	buf_free(&item);
	buf_free(&list);
}

int
rft_conf_decode(const void *p, size_t len, struct rft_conf *c)
{
	struct proto_raft_conf pc;
	int r = proto_dec_raft_conf(p, len, &pc);
	if (r < 0)
		return r;
	if (pc.servers.n > RFT_SERVERS_MAX)
		return -EBADMSG;
	memset(c, 0, sizeof(*c));
	struct proto_strv_iter it;
	struct proto_str s;
	proto_strv_iter_init(&it, &pc.servers);
	while (proto_strv_next(&it, &s)) {
		struct proto_raft_server ps;
		char name[RFT_NAME_MAX], addr[RFT_ADDR_MAX];
		if (proto_dec_raft_server(s.p, s.len, &ps) < 0 ||
		    proto_str_copy(ps.name, name, sizeof(name)) < 0 ||
		    proto_str_copy(ps.addr, addr, sizeof(addr)) < 0 ||
		    rft_conf_add(c, ps.id, ps.role, name, addr) < 0)
			return -EBADMSG;
	}
	return 0;
}

static void
enc_append(struct buf *out, const struct rft_msg *m)
{
	const struct rft_append *a = &m->append;
	struct buf list, item;
	buf_init(&list);
	buf_init(&item);
	for (size_t i = 0; i < a->n; i++) {
		buf_reset(&item);
		rft_wire_entry_encode(&item, &a->ents[i]);
		put_nested_len(&list, &item);
	}
	struct proto_raft_append pa = {
		.from = m->from, .to = m->to, .term = m->term,
		.prev_index = a->prev_index, .prev_term = a->prev_term,
		.commit = a->commit, .seq = a->seq, .ts = a->ts,
		.entries = { .n = (uint32_t)a->n, .raw = list.data,
		    .rawlen = (uint32_t)list.len },
	};
	proto_enc_raft_append(out, &pa);
	buf_free(&item);
	buf_free(&list);
}

int
rft_wire_encode(struct buf *out, const struct rft_msg *m)
{
	switch (m->type) {
	case RFT_APPEND:
		enc_append(out, m);
		return PROTO_RAFT_APPEND;
	case RFT_APPEND_RESP: {
		const struct rft_append_resp *a = &m->append_resp;
		struct proto_raft_append_resp p = {
			.from = m->from, .to = m->to, .term = m->term,
			.success = a->success, .last = a->last,
			.match = a->match, .reject = a->reject,
			.conflict_term = a->conflict_term,
			.conflict_index = a->conflict_index,
			.seq = a->seq, .ts = a->ts,
		};
		proto_enc_raft_append_resp(out, &p);
		return PROTO_RAFT_APPEND_RESP;
	}
	case RFT_VOTE: {
		struct proto_raft_vote p = {
			.from = m->from, .to = m->to, .term = m->term,
			.last_index = m->vote.last_index,
			.last_term = m->vote.last_term,
			.pre = m->vote.pre, .transfer = m->vote.transfer,
		};
		proto_enc_raft_vote(out, &p);
		return PROTO_RAFT_VOTE;
	}
	case RFT_VOTE_RESP: {
		struct proto_raft_vote_resp p = {
			.from = m->from, .to = m->to, .term = m->term,
			.granted = m->vote_resp.granted,
			.pre = m->vote_resp.pre,
		};
		proto_enc_raft_vote_resp(out, &p);
		return PROTO_RAFT_VOTE_RESP;
	}
	case RFT_SNAP: {
		const struct rft_snap *s = &m->snap;
		struct proto_raft_snap p = {
			.from = m->from, .to = m->to, .term = m->term,
			.index = s->index, .snap_term = s->term,
			.offset = s->offset, .seq = s->seq, .ts = s->ts,
			.conf = { (const char *)s->conf, (uint32_t)s->conf_len },
			.data = { (const char *)s->data, (uint32_t)s->len },
			.done = s->done,
		};
		proto_enc_raft_snap(out, &p);
		return PROTO_RAFT_SNAP;
	}
	case RFT_SNAP_RESP: {
		const struct rft_snap_resp *s = &m->snap_resp;
		struct proto_raft_snap_resp p = {
			.from = m->from, .to = m->to, .term = m->term,
			.index = s->index, .next_offset = s->next_offset,
			.seq = s->seq, .ts = s->ts, .done = s->done,
			.have = s->have,
		};
		proto_enc_raft_snap_resp(out, &p);
		return PROTO_RAFT_SNAP_RESP;
	}
	case RFT_TIMEOUT_NOW: {
		struct proto_raft_timeout_now p = {
			.from = m->from, .to = m->to, .term = m->term,
		};
		proto_enc_raft_timeout_now(out, &p);
		return PROTO_RAFT_TIMEOUT_NOW;
	}
	}
	return -EINVAL;
}

static int
dec_append(const void *p, size_t len, struct rft_msg *m)
{
	struct proto_raft_append pa;
	int r = proto_dec_raft_append(p, len, &pa);
	if (r < 0)
		return r;
	struct rft_append *a = &m->append;
	m->from = pa.from;
	m->to = pa.to;
	m->term = pa.term;
	a->prev_index = pa.prev_index;
	a->prev_term = pa.prev_term;
	a->commit = pa.commit;
	a->seq = pa.seq;
	a->ts = pa.ts;
	if (pa.entries.n > RFT_WIRE_MAX_ENTRIES ||
	    pa.prev_index > UINT64_MAX - pa.entries.n ||
	    pa.prev_term > pa.term)
		return -EBADMSG;
	if (pa.entries.n == 0)
		return 0;
	struct rft_entry *ents = xcalloc(pa.entries.n, sizeof(*ents));
	a->ents = ents;
	struct proto_strv_iter it;
	struct proto_str s;
	proto_strv_iter_init(&it, &pa.entries);
	while (proto_strv_next(&it, &s)) {
		size_t i = a->n;
		if ((r = rft_wire_entry_decode(s.p, s.len,
		    pa.prev_index + 1 + i, &ents[i])) < 0)
			return r;
		/* Terms never decrease along a log (§3.5). */
		uint64_t before = i ? ents[i - 1].term : pa.prev_term;
		if (ents[i].term < before || ents[i].term > pa.term)
			return -EBADMSG;
		a->n++;
	}
	return a->n == pa.entries.n ? 0 : -EBADMSG;
}

static int
dec_other(unsigned type, const void *p, size_t len, struct rft_msg *m)
{
	int r = -EBADMSG;
	switch (type) {
	case PROTO_RAFT_APPEND_RESP: {
		struct proto_raft_append_resp x;
		if ((r = proto_dec_raft_append_resp(p, len, &x)) < 0)
			return r;
		m->type = RFT_APPEND_RESP;
		m->from = x.from, m->to = x.to, m->term = x.term;
		m->append_resp = (struct rft_append_resp){ x.success, x.last,
		    x.match, x.reject, x.conflict_term, x.conflict_index,
		    x.seq, x.ts };
		return x.match <= x.last || !x.success ? 0 : -EBADMSG;
	}
	case PROTO_RAFT_VOTE: {
		struct proto_raft_vote x;
		if ((r = proto_dec_raft_vote(p, len, &x)) < 0)
			return r;
		m->type = RFT_VOTE;
		m->from = x.from, m->to = x.to, m->term = x.term;
		m->vote = (struct rft_vote){ x.last_index, x.last_term, x.pre,
		    x.transfer };
		return x.last_term <= x.term ? 0 : -EBADMSG;
	}
	case PROTO_RAFT_VOTE_RESP: {
		struct proto_raft_vote_resp x;
		if ((r = proto_dec_raft_vote_resp(p, len, &x)) < 0)
			return r;
		m->type = RFT_VOTE_RESP;
		m->from = x.from, m->to = x.to, m->term = x.term;
		m->vote_resp = (struct rft_vote_resp){ x.granted, x.pre };
		return 0;
	}
	case PROTO_RAFT_SNAP: {
		struct proto_raft_snap x;
		struct rft_conf c;
		if ((r = proto_dec_raft_snap(p, len, &x)) < 0)
			return r;
		m->type = RFT_SNAP;
		m->from = x.from, m->to = x.to, m->term = x.term;
		m->snap = (struct rft_snap){ x.index, x.snap_term, x.offset,
		    x.seq, x.ts, (const uint8_t *)x.conf.p, x.conf.len,
		    (const uint8_t *)x.data.p, x.data.len, x.done };
		if (x.index == 0 || x.snap_term == 0 || x.snap_term > x.term ||
		    x.offset > UINT64_MAX - x.data.len)
			return -EBADMSG;
		return rft_conf_decode(x.conf.p, x.conf.len, &c);
	}
	case PROTO_RAFT_SNAP_RESP: {
		struct proto_raft_snap_resp x;
		if ((r = proto_dec_raft_snap_resp(p, len, &x)) < 0)
			return r;
		m->type = RFT_SNAP_RESP;
		m->from = x.from, m->to = x.to, m->term = x.term;
		m->snap_resp = (struct rft_snap_resp){ x.index, x.next_offset,
		    x.seq, x.ts, x.done, x.have };
		return 0;
	}
	case PROTO_RAFT_TIMEOUT_NOW: {
		struct proto_raft_timeout_now x;
		if ((r = proto_dec_raft_timeout_now(p, len, &x)) < 0)
			return r;
		m->type = RFT_TIMEOUT_NOW;
		m->from = x.from, m->to = x.to, m->term = x.term;
		return 0;
	}
	}
	return -EBADMSG;
}

int
rft_wire_decode(unsigned type, const void *p, size_t len, struct rft_msg *m)
{
	int r;
	memset(m, 0, sizeof(*m));
	if (type == PROTO_RAFT_APPEND) {
		m->type = RFT_APPEND;
		r = dec_append(p, len, m);
	} else {
		r = dec_other(type, p, len, m);
	}
	if (r == 0 && (m->from == 0 || m->to == 0 || m->term == 0 ||
	    m->from == m->to))
		r = -EBADMSG;
	if (r < 0) {
		rft_wire_release(m);
		memset(m, 0, sizeof(*m));
	}
	return r < 0 ? -EBADMSG : 0;
}

void
rft_wire_release(struct rft_msg *m)
{
	if (m->type == RFT_APPEND) {
		free((void *)m->append.ents);
		m->append.ents = NULL;
		m->append.n = 0;
	}
}

int
rft_wire_frame(struct buf *out, const struct rft_msg *m)
{
	size_t at = out->len;
	uint8_t hdr[RFT_WIRE_HDR] = { 0 };
	buf_add(out, hdr, sizeof(hdr));
	int type = rft_wire_encode(out, m);
	if (type < 0) {
		out->len = at;
		return type;
	}
	size_t body = out->len - at - RFT_WIRE_HDR;
	if (body > RFT_WIRE_MAX_FRAME) {
		out->len = at;
		return -EMSGSIZE;
	}
	proto_wle32(out->data + at, (uint32_t)body);
	proto_wle16(out->data + at + 4, (uint16_t)type);
	return 0;
}

ssize_t
rft_wire_unframe(const void *p, size_t len, unsigned *type,
    const uint8_t **body, size_t *body_len)
{
	const uint8_t *b = p;
	if (len < RFT_WIRE_HDR)
		return 0;
	uint32_t n = proto_le32(b);
	uint16_t t = proto_le16(b + 4);
	if (n > RFT_WIRE_MAX_FRAME || t < PROTO_RAFT_APPEND ||
	    t > PROTO_RAFT_TIMEOUT_NOW)
		return -EBADMSG;
	if (len - RFT_WIRE_HDR < n)
		return 0;
	*type = t;
	*body = b + RFT_WIRE_HDR;
	*body_len = n;
	return (ssize_t)(RFT_WIRE_HDR + n);
}
