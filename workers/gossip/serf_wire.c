/*
 * serf message codecs (gossip-protocol.md §9.1); keys sorted as Go's
 * encoder writes them, so decoded captures re-encode byte for byte.
 */
#include "workers/gossip/serf_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define FLD(st, name, kind, member) { name, kind, offsetof(st, member) }

static const struct gossip_mp_field join_f[] = {
	FLD(struct gossip_serf_join, "LTime", GOSSIP_MP_K_U64, ltime),
	FLD(struct gossip_serf_join, "Node", GOSSIP_MP_K_STR, node),
};

static const struct gossip_mp_field leave_f[] = {
	FLD(struct gossip_serf_leave, "LTime", GOSSIP_MP_K_U64, ltime),
	FLD(struct gossip_serf_leave, "Node", GOSSIP_MP_K_STR, node),
	FLD(struct gossip_serf_leave, "Prune", GOSSIP_MP_K_BOOL, prune),
};

static const struct gossip_mp_field event_f[] = {
	FLD(struct gossip_serf_user_event, "CC", GOSSIP_MP_K_BOOL, cc),
	FLD(struct gossip_serf_user_event, "LTime", GOSSIP_MP_K_U64, ltime),
	FLD(struct gossip_serf_user_event, "Name", GOSSIP_MP_K_STR, name),
	FLD(struct gossip_serf_user_event, "Payload", GOSSIP_MP_K_BYTES,
	    payload),
};

static const struct gossip_mp_field qresp_f[] = {
	FLD(struct gossip_serf_query_response, "Flags", GOSSIP_MP_K_U32, flags),
	FLD(struct gossip_serf_query_response, "From", GOSSIP_MP_K_STR, from),
	FLD(struct gossip_serf_query_response, "ID", GOSSIP_MP_K_U32, id),
	FLD(struct gossip_serf_query_response, "LTime", GOSSIP_MP_K_U64, ltime),
	FLD(struct gossip_serf_query_response, "Payload", GOSSIP_MP_K_BYTES,
	    payload),
};

struct key_request {
	struct gossip_slice key;
};
static const struct gossip_mp_field keyreq_f[] = {
	FLD(struct key_request, "Key", GOSSIP_MP_K_BYTES, key),
};

struct filter_tag {
	struct gossip_slice expr, tag;
};
static const struct gossip_mp_field filter_tag_f[] = {
	FLD(struct filter_tag, "Expr", GOSSIP_MP_K_STR, expr),
	FLD(struct filter_tag, "Tag", GOSSIP_MP_K_STR, tag),
};

static void
put_type(struct buf *b, enum gossip_serf_msg t)
{
	buf_addch(b, (char)t);
}

void
gossip_serf_enc_join(struct buf *b, const struct gossip_serf_join *m)
{
	put_type(b, GOSSIP_SERF_JOIN);
	gossip_mp_put_struct(b, join_f, nitems(join_f), m);
}

void
gossip_serf_enc_leave(struct buf *b, const struct gossip_serf_leave *m)
{
	put_type(b, GOSSIP_SERF_LEAVE);
	gossip_mp_put_struct(b, leave_f, nitems(leave_f), m);
}

void
gossip_serf_enc_user_event(struct buf *b,
    const struct gossip_serf_user_event *m)
{
	put_type(b, GOSSIP_SERF_USER_EVENT);
	gossip_mp_put_struct(b, event_f, nitems(event_f), m);
}

void
gossip_serf_enc_query_response(struct buf *b,
    const struct gossip_serf_query_response *m)
{
	put_type(b, GOSSIP_SERF_QUERY_RESPONSE);
	gossip_mp_put_struct(b, qresp_f, nitems(qresp_f), m);
}

void
gossip_serf_enc_query(struct buf *b, const struct gossip_serf_query *m)
{
	put_type(b, GOSSIP_SERF_QUERY);
	gossip_mp_put_map(b, 11);
	gossip_mp_put_str(b, "Addr");
	gossip_mp_put_bytes_or_nil(b, m->addr.p, m->addr.n);
	gossip_mp_put_str(b, "Filters");
	if (m->filters_nil && m->nfilters == 0) {
		gossip_mp_put_nil(b);
	} else {
		gossip_mp_put_array(b, (uint32_t)m->nfilters);
		for (size_t i = 0; i < m->nfilters; i++)
			gossip_mp_put_bytes_or_nil(b, m->filters[i].p,
			    m->filters[i].n);
	}
	gossip_mp_put_str(b, "Flags");
	gossip_mp_put_uint(b, m->flags);
	gossip_mp_put_str(b, "ID");
	gossip_mp_put_uint(b, m->id);
	gossip_mp_put_str(b, "LTime");
	gossip_mp_put_uint(b, m->ltime);
	gossip_mp_put_str(b, "Name");
	gossip_mp_put_slice(b, m->name);
	gossip_mp_put_str(b, "Payload");
	gossip_mp_put_bytes_or_nil(b, m->payload.p, m->payload.n);
	gossip_mp_put_str(b, "Port");
	gossip_mp_put_uint(b, m->port);
	gossip_mp_put_str(b, "RelayFactor");
	gossip_mp_put_uint(b, m->relay_factor);
	gossip_mp_put_str(b, "SourceNode");
	gossip_mp_put_slice(b, m->source_node);
	gossip_mp_put_str(b, "Timeout");
	gossip_mp_put_int(b, m->timeout_ns);
}

static int
dec(const uint8_t *p, size_t n, const struct gossip_mp_field *f, size_t nf,
    void *m)
{
	struct gossip_mp_rd r;
	gossip_mp_rd_init(&r, p, n);
	return gossip_mp_get_struct(&r, f, nf, m);
}

int
gossip_serf_dec_join(const uint8_t *p, size_t n, struct gossip_serf_join *m)
{
	return dec(p, n, join_f, nitems(join_f), m);
}

int
gossip_serf_dec_leave(const uint8_t *p, size_t n, struct gossip_serf_leave *m)
{
	return dec(p, n, leave_f, nitems(leave_f), m);
}

int
gossip_serf_dec_user_event(const uint8_t *p, size_t n,
    struct gossip_serf_user_event *m)
{
	return dec(p, n, event_f, nitems(event_f), m);
}

int
gossip_serf_dec_query_response(const uint8_t *p, size_t n,
    struct gossip_serf_query_response *m)
{
	return dec(p, n, qresp_f, nitems(qresp_f), m);
}

static int
dec_filters(struct gossip_mp_rd *r, struct gossip_serf_query *m)
{
	uint32_t n;
	int rc;

	m->filters_nil = gossip_mp_take_nil(r);
	if (m->filters_nil)
		return 0;
	if ((rc = gossip_mp_get_array(r, &n)) < 0)
		return rc;
	if (n > GOSSIP_MAX_FILTERS)
		return -E2BIG;
	for (uint32_t i = 0; i < n; i++)
		if ((rc = gossip_mp_get_raw(r, &m->filters[i], NULL)) < 0)
			return rc;
	m->nfilters = n;
	return 0;
}

static int
dec_query_field(struct gossip_mp_rd *r, struct gossip_slice key,
    struct gossip_serf_query *m)
{
	if (gossip_slice_eq(key, "Addr"))
		return gossip_mp_get_raw(r, &m->addr, NULL);
	if (gossip_slice_eq(key, "Filters"))
		return dec_filters(r, m);
	if (gossip_slice_eq(key, "Flags"))
		return gossip_mp_get_u32(r, &m->flags);
	if (gossip_slice_eq(key, "ID"))
		return gossip_mp_get_u32(r, &m->id);
	if (gossip_slice_eq(key, "LTime"))
		return gossip_mp_get_u64(r, &m->ltime);
	if (gossip_slice_eq(key, "Name"))
		return gossip_mp_get_raw(r, &m->name, NULL);
	if (gossip_slice_eq(key, "Payload"))
		return gossip_mp_get_raw(r, &m->payload, NULL);
	if (gossip_slice_eq(key, "Port"))
		return gossip_mp_get_u16(r, &m->port);
	if (gossip_slice_eq(key, "RelayFactor"))
		return gossip_mp_get_u8(r, &m->relay_factor);
	if (gossip_slice_eq(key, "SourceNode"))
		return gossip_mp_get_raw(r, &m->source_node, NULL);
	if (gossip_slice_eq(key, "Timeout"))
		return gossip_mp_get_i64(r, &m->timeout_ns);
	return gossip_mp_skip(r);
}

int
gossip_serf_dec_query(const uint8_t *p, size_t n, struct gossip_serf_query *m)
{
	struct gossip_mp_rd r;
	struct gossip_slice key;
	uint32_t count;
	int rc;

	memset(m, 0, sizeof(*m));
	m->filters_nil = true;
	gossip_mp_rd_init(&r, p, n);
	if ((rc = gossip_mp_get_map(&r, &count)) < 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = gossip_mp_get_raw(&r, &key, NULL)) < 0)
			return rc;
		if ((rc = dec_query_field(&r, key, m)) < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ push/pull */

void
gossip_serf_enc_push_pull(struct buf *b, const struct gossip_serf_push_pull *m)
{
	put_type(b, GOSSIP_SERF_PUSH_PULL);
	gossip_mp_put_map(b, 6);
	gossip_mp_put_str(b, "EventLTime");
	gossip_mp_put_uint(b, m->event_ltime);
	gossip_mp_put_str(b, "Events");
	gossip_mp_put_array(b, (uint32_t)m->nevents);
	for (size_t i = 0; i < m->nevents; i++) {
		const struct gossip_serf_pp_events *e = &m->events[i];
		if (e->nil) {
			gossip_mp_put_nil(b);
			continue;
		}
		gossip_mp_put_map(b, 2);
		gossip_mp_put_str(b, "Events");
		gossip_mp_put_array(b, (uint32_t)e->count);
		for (size_t k = 0; k < e->count; k++) {
			const struct gossip_serf_pp_event *ev = &m->ev[e->first + k];
			gossip_mp_put_map(b, 2);
			gossip_mp_put_str(b, "Name");
			gossip_mp_put_slice(b, ev->name);
			gossip_mp_put_str(b, "Payload");
			gossip_mp_put_bytes_or_nil(b, ev->payload.p,
			    ev->payload.n);
		}
		gossip_mp_put_str(b, "LTime");
		gossip_mp_put_uint(b, e->ltime);
	}
	gossip_mp_put_str(b, "LTime");
	gossip_mp_put_uint(b, m->ltime);
	gossip_mp_put_str(b, "LeftMembers");
	gossip_mp_put_array(b, (uint32_t)m->nleft);
	for (size_t i = 0; i < m->nleft; i++)
		gossip_mp_put_slice(b, m->left[i]);
	gossip_mp_put_str(b, "QueryLTime");
	gossip_mp_put_uint(b, m->query_ltime);
	gossip_mp_put_str(b, "StatusLTimes");
	gossip_mp_put_map(b, (uint32_t)m->nstatus);
	for (size_t i = 0; i < m->nstatus; i++) {
		gossip_mp_put_slice(b, m->status[i].name);
		gossip_mp_put_uint(b, m->status[i].ltime);
	}
}

static int
dec_status(struct gossip_mp_rd *r, struct gossip_serf_push_pull *m)
{
	uint32_t n;
	int rc;
	if ((rc = gossip_mp_get_map(r, &n)) < 0)
		return rc;
	free(m->status);
	m->status = xcalloc(n ? n : 1, sizeof(*m->status));
	m->nstatus = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct gossip_serf_pp_status *s = &m->status[i];
		if ((rc = gossip_mp_get_raw(r, &s->name, NULL)) < 0 ||
		    (rc = gossip_mp_get_u64(r, &s->ltime)) < 0)
			return rc;
		m->nstatus++;
	}
	return 0;
}

static int
dec_left(struct gossip_mp_rd *r, struct gossip_serf_push_pull *m)
{
	uint32_t n;
	int rc;
	if ((rc = gossip_mp_get_array(r, &n)) < 0)
		return rc;
	free(m->left);
	m->left = xcalloc(n ? n : 1, sizeof(*m->left));
	m->nleft = 0;
	for (uint32_t i = 0; i < n; i++) {
		if ((rc = gossip_mp_get_raw(r, &m->left[i], NULL)) < 0)
			return rc;
		m->nleft++;
	}
	return 0;
}

/* One {Events: [{Name, Payload}...], LTime} slot. */
static int
dec_event_slot(struct gossip_mp_rd *r, struct gossip_serf_push_pull *m,
    struct gossip_serf_pp_events *e, size_t *cap)
{
	struct gossip_slice key;
	uint32_t nkeys, n;
	int rc;

	if ((rc = gossip_mp_get_map(r, &nkeys)) < 0)
		return rc;
	e->first = m->nev;
	for (uint32_t k = 0; k < nkeys; k++) {
		if ((rc = gossip_mp_get_raw(r, &key, NULL)) < 0)
			return rc;
		if (gossip_slice_eq(key, "LTime")) {
			if ((rc = gossip_mp_get_u64(r, &e->ltime)) < 0)
				return rc;
			continue;
		}
		if (!gossip_slice_eq(key, "Events")) {
			if ((rc = gossip_mp_skip(r)) < 0)
				return rc;
			continue;
		}
		if ((rc = gossip_mp_get_array(r, &n)) < 0)
			return rc;
		e->first = m->nev;
		for (uint32_t i = 0; i < n; i++) {
			static const struct gossip_mp_field ev_f[] = {
				FLD(struct gossip_serf_pp_event, "Name",
				    GOSSIP_MP_K_STR, name),
				FLD(struct gossip_serf_pp_event, "Payload",
				    GOSSIP_MP_K_BYTES, payload),
			};
			if (m->nev == *cap) {
				*cap = *cap ? 2 * *cap : 16;
				m->ev = xrealloc(m->ev, *cap * sizeof(*m->ev));
			}
			if ((rc = gossip_mp_get_struct(r, ev_f, nitems(ev_f),
			    &m->ev[m->nev])) < 0)
				return rc;
			m->nev++;
		}
		e->count = m->nev - e->first;
	}
	return 0;
}

static int
dec_events(struct gossip_mp_rd *r, struct gossip_serf_push_pull *m)
{
	size_t cap = 0;
	uint32_t n;
	int rc;

	if ((rc = gossip_mp_get_array(r, &n)) < 0)
		return rc;
	free(m->events);
	m->events = xcalloc(n ? n : 1, sizeof(*m->events));
	m->nevents = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct gossip_serf_pp_events *e = &m->events[i];
		m->nevents++;
		if (gossip_mp_take_nil(r)) {
			e->nil = true;
			continue;
		}
		if ((rc = dec_event_slot(r, m, e, &cap)) < 0)
			return rc;
	}
	return 0;
}

int
gossip_serf_dec_push_pull(const uint8_t *p, size_t n,
    struct gossip_serf_push_pull *m)
{
	struct gossip_mp_rd r;
	struct gossip_slice key;
	uint32_t count;
	int rc;

	memset(m, 0, sizeof(*m));
	gossip_mp_rd_init(&r, p, n);
	if ((rc = gossip_mp_get_map(&r, &count)) < 0)
		return rc;
	for (uint32_t i = 0; i < count && rc == 0; i++) {
		if ((rc = gossip_mp_get_raw(&r, &key, NULL)) < 0)
			break;
		if (gossip_slice_eq(key, "LTime"))
			rc = gossip_mp_get_u64(&r, &m->ltime);
		else if (gossip_slice_eq(key, "EventLTime"))
			rc = gossip_mp_get_u64(&r, &m->event_ltime);
		else if (gossip_slice_eq(key, "QueryLTime"))
			rc = gossip_mp_get_u64(&r, &m->query_ltime);
		else if (gossip_slice_eq(key, "StatusLTimes"))
			rc = dec_status(&r, m);
		else if (gossip_slice_eq(key, "LeftMembers"))
			rc = dec_left(&r, m);
		else if (gossip_slice_eq(key, "Events"))
			rc = dec_events(&r, m);
		else
			rc = gossip_mp_skip(&r);
	}
	if (rc < 0)
		gossip_serf_push_pull_free(m);
	return rc;
}

void
gossip_serf_push_pull_free(struct gossip_serf_push_pull *m)
{
	free(m->status);
	free(m->left);
	free(m->events);
	free(m->ev);
	memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------ keys */

void
gossip_serf_enc_key_request(struct buf *b, const uint8_t *key, size_t len)
{
	struct key_request k = { { key, len } };
	put_type(b, GOSSIP_SERF_KEY_REQUEST);
	gossip_mp_put_struct(b, keyreq_f, nitems(keyreq_f), &k);
}

int
gossip_serf_dec_key_request(const uint8_t *p, size_t n,
    struct gossip_slice *key)
{
	struct key_request k;
	int rc = dec(p, n, keyreq_f, nitems(keyreq_f), &k);
	if (rc == 0)
		*key = k.key;
	return rc;
}

void
gossip_serf_enc_key_response(struct buf *b,
    const struct gossip_serf_key_response *m)
{
	put_type(b, GOSSIP_SERF_KEY_RESPONSE);
	gossip_mp_put_map(b, 4);
	gossip_mp_put_str(b, "Keys");
	if (m->keys_nil && m->nkeys == 0) {
		gossip_mp_put_nil(b);
	} else {
		gossip_mp_put_array(b, (uint32_t)m->nkeys);
		for (size_t i = 0; i < m->nkeys; i++)
			gossip_mp_put_slice(b, m->keys[i]);
	}
	gossip_mp_put_str(b, "Message");
	gossip_mp_put_slice(b, m->message);
	gossip_mp_put_str(b, "PrimaryKey");
	gossip_mp_put_slice(b, m->primary_key);
	gossip_mp_put_str(b, "Result");
	gossip_mp_put_bool(b, m->result);
}

int
gossip_serf_dec_key_response(const uint8_t *p, size_t n,
    struct gossip_serf_key_response *m)
{
	struct gossip_mp_rd r;
	struct gossip_slice key;
	uint32_t count, nk;
	int rc;

	memset(m, 0, sizeof(*m));
	gossip_mp_rd_init(&r, p, n);
	if ((rc = gossip_mp_get_map(&r, &count)) < 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = gossip_mp_get_raw(&r, &key, NULL)) < 0)
			return rc;
		if (gossip_slice_eq(key, "Result")) {
			rc = gossip_mp_get_bool(&r, &m->result);
		} else if (gossip_slice_eq(key, "Message")) {
			rc = gossip_mp_get_raw(&r, &m->message, NULL);
		} else if (gossip_slice_eq(key, "PrimaryKey")) {
			rc = gossip_mp_get_raw(&r, &m->primary_key, NULL);
		} else if (gossip_slice_eq(key, "Keys")) {
			m->keys_nil = gossip_mp_take_nil(&r);
			if (m->keys_nil)
				continue;
			if ((rc = gossip_mp_get_array(&r, &nk)) < 0)
				return rc;
			if (nk > nitems(m->keys))
				return -E2BIG;
			for (uint32_t k = 0; k < nk && rc == 0; k++)
				rc = gossip_mp_get_raw(&r, &m->keys[k], NULL);
			m->nkeys = nk;
		} else {
			rc = gossip_mp_skip(&r);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ conflict */

void
gossip_serf_enc_conflict_response(struct buf *b,
    const struct gossip_serf_member_wire *m)
{
	put_type(b, GOSSIP_SERF_CONFLICT_RESPONSE);
	if (m == NULL) {
		gossip_mp_put_nil(b);
		return;
	}
	gossip_mp_put_map(b, 11);
	gossip_mp_put_str(b, "Addr");
	gossip_mp_put_bytes_or_nil(b, m->addr.p, m->addr.n);
	gossip_mp_put_str(b, "DelegateCur");
	gossip_mp_put_uint(b, m->dcur);
	gossip_mp_put_str(b, "DelegateMax");
	gossip_mp_put_uint(b, m->dmax);
	gossip_mp_put_str(b, "DelegateMin");
	gossip_mp_put_uint(b, m->dmin);
	gossip_mp_put_str(b, "Name");
	gossip_mp_put_slice(b, m->name);
	gossip_mp_put_str(b, "Port");
	gossip_mp_put_uint(b, m->port);
	gossip_mp_put_str(b, "ProtocolCur");
	gossip_mp_put_uint(b, m->pcur);
	gossip_mp_put_str(b, "ProtocolMax");
	gossip_mp_put_uint(b, m->pmax);
	gossip_mp_put_str(b, "ProtocolMin");
	gossip_mp_put_uint(b, m->pmin);
	gossip_mp_put_str(b, "Status");
	gossip_mp_put_uint(b, m->status);
	gossip_mp_put_str(b, "Tags");
	gossip_mp_put_map(b, (uint32_t)(m->ntags / 2));
	for (size_t i = 0; i + 1 < m->ntags; i += 2) {
		gossip_mp_put_slice(b, m->tags[i]);
		gossip_mp_put_slice(b, m->tags[i + 1]);
	}
}

static int
dec_tags_map(struct gossip_mp_rd *r, struct gossip_slice *kv, size_t max,
    size_t *count)
{
	uint32_t n;
	int rc;
	if ((rc = gossip_mp_get_map(r, &n)) < 0)
		return rc;
	if (2 * (size_t)n > max)
		return -E2BIG;
	for (uint32_t i = 0; i < 2 * n; i++)
		if ((rc = gossip_mp_get_raw(r, &kv[i], NULL)) < 0)
			return rc;
	*count = 2 * (size_t)n;
	return 0;
}

int
gossip_serf_dec_conflict_response(const uint8_t *p, size_t n,
    struct gossip_serf_member_wire *m, bool *present)
{
	static const struct gossip_mp_field member_f[] = {
		FLD(struct gossip_serf_member_wire, "Addr", GOSSIP_MP_K_BYTES,
		    addr),
		FLD(struct gossip_serf_member_wire, "DelegateCur",
		    GOSSIP_MP_K_U8, dcur),
		FLD(struct gossip_serf_member_wire, "DelegateMax",
		    GOSSIP_MP_K_U8, dmax),
		FLD(struct gossip_serf_member_wire, "DelegateMin",
		    GOSSIP_MP_K_U8, dmin),
		FLD(struct gossip_serf_member_wire, "Name", GOSSIP_MP_K_STR,
		    name),
		FLD(struct gossip_serf_member_wire, "Port", GOSSIP_MP_K_U16,
		    port),
		FLD(struct gossip_serf_member_wire, "ProtocolCur",
		    GOSSIP_MP_K_U8, pcur),
		FLD(struct gossip_serf_member_wire, "ProtocolMax",
		    GOSSIP_MP_K_U8, pmax),
		FLD(struct gossip_serf_member_wire, "ProtocolMin",
		    GOSSIP_MP_K_U8, pmin),
		FLD(struct gossip_serf_member_wire, "Status", GOSSIP_MP_K_U64,
		    status),
	};
	struct gossip_mp_rd r;
	struct gossip_slice key;
	uint32_t count;
	int rc;

	memset(m, 0, sizeof(*m));
	gossip_mp_rd_init(&r, p, n);
	*present = !gossip_mp_take_nil(&r);
	if (!*present)
		return 0;
	if ((rc = gossip_mp_get_map(&r, &count)) < 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = gossip_mp_get_raw(&r, &key, NULL)) < 0)
			return rc;
		size_t k;
		for (k = 0; k < nitems(member_f); k++)
			if (gossip_slice_eq(key, member_f[k].name))
				break;
		if (k < nitems(member_f)) {
			rc = gossip_mp_get_field(&r, &member_f[k], m);
		} else if (gossip_slice_eq(key, "Tags")) {
			rc = dec_tags_map(&r, m->tags, nitems(m->tags),
			    &m->ntags);
		} else {
			rc = gossip_mp_skip(&r);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------ relay */

void
gossip_serf_enc_relay(struct buf *b, const struct gossip_serf_relay *m)
{
	put_type(b, GOSSIP_SERF_RELAY);
	gossip_mp_put_map(b, 2);
	gossip_mp_put_str(b, "DestAddr");
	gossip_mp_put_map(b, 3);
	gossip_mp_put_str(b, "IP");
	gossip_mp_put_bytes_or_nil(b, m->dest_ip.p, m->dest_ip.n);
	gossip_mp_put_str(b, "Port");
	gossip_mp_put_uint(b, m->dest_port);
	gossip_mp_put_str(b, "Zone");
	gossip_mp_put_slice(b, m->dest_zone);
	gossip_mp_put_str(b, "DestName");
	gossip_mp_put_slice(b, m->dest_name);
	buf_add(b, m->inner.p, m->inner.n);
}

int
gossip_serf_dec_relay(const uint8_t *p, size_t n, struct gossip_serf_relay *m)
{
	static const struct gossip_mp_field addr_f[] = {
		FLD(struct gossip_serf_relay, "IP", GOSSIP_MP_K_BYTES, dest_ip),
		FLD(struct gossip_serf_relay, "Port", GOSSIP_MP_K_U64,
		    dest_port),
		FLD(struct gossip_serf_relay, "Zone", GOSSIP_MP_K_STR,
		    dest_zone),
	};
	struct gossip_mp_rd r;
	struct gossip_slice key;
	uint32_t count;
	int rc;

	memset(m, 0, sizeof(*m));
	gossip_mp_rd_init(&r, p, n);
	if ((rc = gossip_mp_get_map(&r, &count)) < 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = gossip_mp_get_raw(&r, &key, NULL)) < 0)
			return rc;
		if (gossip_slice_eq(key, "DestAddr"))
			rc = gossip_mp_get_struct(&r, addr_f, nitems(addr_f), m);
		else if (gossip_slice_eq(key, "DestName"))
			rc = gossip_mp_get_raw(&r, &m->dest_name, NULL);
		else
			rc = gossip_mp_skip(&r);
		if (rc < 0)
			return rc;
	}
	m->inner.p = p + r.off;
	m->inner.n = n - r.off;
	return 0;
}

/* ------------------------------------------------------------ filters */

void
gossip_serf_enc_filter_nodes(struct buf *b, const struct gossip_slice *names,
    size_t n)
{
	buf_addch(b, GOSSIP_FILTER_NODE);
	gossip_mp_put_array(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		gossip_mp_put_slice(b, names[i]);
}

void
gossip_serf_enc_filter_tag(struct buf *b, const char *tag, const char *expr)
{
	struct filter_tag f = { gossip_slice_c(expr), gossip_slice_c(tag) };
	buf_addch(b, GOSSIP_FILTER_TAG);
	gossip_mp_put_struct(b, filter_tag_f, nitems(filter_tag_f), &f);
}

int
gossip_serf_dec_filter_nodes(const uint8_t *p, size_t n,
    struct gossip_slice *names, size_t max, size_t *count)
{
	struct gossip_mp_rd r;
	uint32_t k;
	int rc;

	gossip_mp_rd_init(&r, p, n);
	if ((rc = gossip_mp_get_array(&r, &k)) < 0)
		return rc;
	if (k > max)
		return -E2BIG;
	for (uint32_t i = 0; i < k; i++)
		if ((rc = gossip_mp_get_raw(&r, &names[i], NULL)) < 0)
			return rc;
	*count = k;
	return 0;
}

int
gossip_serf_dec_filter_tag(const uint8_t *p, size_t n,
    struct gossip_slice *tag, struct gossip_slice *expr)
{
	struct filter_tag f;
	int rc = dec(p, n, filter_tag_f, nitems(filter_tag_f), &f);
	if (rc == 0) {
		*tag = f.tag;
		*expr = f.expr;
	}
	return rc;
}

/* ------------------------------------------------------------ tags */

void
gossip_tags_encode(struct buf *b, const char *const *kv, size_t n)
{
	buf_addch(b, (char)GOSSIP_TAG_MAGIC);
	gossip_mp_put_map(b, (uint32_t)(n / 2));
	for (size_t i = 0; i + 1 < n; i += 2) {
		gossip_mp_put_str(b, kv[i]);
		gossip_mp_put_str(b, kv[i + 1]);
	}
}

int
gossip_tags_decode(const uint8_t *meta, size_t n, struct gossip_slice *kv,
    size_t max, size_t *count)
{
	struct gossip_mp_rd r;

	*count = 0;
	if (n == 0)
		return 0;
	if (meta[0] != GOSSIP_TAG_MAGIC) {
		if (max < 2)
			return -E2BIG;
		kv[0] = gossip_slice_c("role");
		kv[1] = (struct gossip_slice){ meta, n };
		*count = 2;
		return 0;
	}
	gossip_mp_rd_init(&r, meta + 1, n - 1);
	return dec_tags_map(&r, kv, max, count);
}

/* ------------------------------------------------------------ coordinate */

void
gossip_coord_encode(struct buf *b, const struct gossip_coord *c)
{
	buf_addch(b, 1);	/* ping payload version */
	gossip_mp_put_map(b, 4);
	gossip_mp_put_str(b, "Adjustment");
	gossip_mp_put_f64(b, c->adjustment);
	gossip_mp_put_str(b, "Error");
	gossip_mp_put_f64(b, c->error);
	gossip_mp_put_str(b, "Height");
	gossip_mp_put_f64(b, c->height);
	gossip_mp_put_str(b, "Vec");
	gossip_mp_put_array(b, GOSSIP_COORD_DIM);
	for (int i = 0; i < GOSSIP_COORD_DIM; i++)
		gossip_mp_put_f64(b, c->vec[i]);
}

int
gossip_coord_decode(const uint8_t *p, size_t n, struct gossip_coord *c)
{
	struct gossip_mp_rd r;
	struct gossip_slice key;
	uint32_t count, dim;
	int rc;

	memset(c, 0, sizeof(*c));
	if (n < 1 || p[0] != 1)
		return -EBADMSG;
	gossip_mp_rd_init(&r, p + 1, n - 1);
	if ((rc = gossip_mp_get_map(&r, &count)) < 0)
		return rc;
	for (uint32_t i = 0; i < count; i++) {
		if ((rc = gossip_mp_get_raw(&r, &key, NULL)) < 0)
			return rc;
		if (gossip_slice_eq(key, "Adjustment"))
			rc = gossip_mp_get_f64(&r, &c->adjustment);
		else if (gossip_slice_eq(key, "Error"))
			rc = gossip_mp_get_f64(&r, &c->error);
		else if (gossip_slice_eq(key, "Height"))
			rc = gossip_mp_get_f64(&r, &c->height);
		else if (gossip_slice_eq(key, "Vec")) {
			if ((rc = gossip_mp_get_array(&r, &dim)) < 0)
				return rc;
			if (dim != GOSSIP_COORD_DIM)
				return -EBADMSG;
			for (uint32_t k = 0; k < dim && rc == 0; k++)
				rc = gossip_mp_get_f64(&r, &c->vec[k]);
		} else
			rc = gossip_mp_skip(&r);
		if (rc < 0)
			return rc;
	}
	return 0;
}
