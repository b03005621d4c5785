/*
 * serf user events, queries (acks, responses, filters, relays), internal
 * queries including keyring rotation, and event coalescing
 * (gossip-protocol.md §9.6-§9.8).
 */
#include "workers/gossip/serf_priv.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

/* ------------------------------------------------------------ events */

static void
slot_clear(struct ev_slot *sl)
{
	for (size_t i = 0; i < sl->n; i++) {
		free(sl->ev[i].name);
		free(sl->ev[i].payload);
	}
	free(sl->ev);
	memset(sl, 0, sizeof(*sl));
}

/* Deliver a user event once: drop it when older than the join cut-off or
 * than the recent-event window, or already in its ring slot (§9.6). */
bool
serf_handle_user_event(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_user_event *m)
{
	serf_witness(&s->event_clock, m->ltime);
	if (m->ltime < s->event_min_time)
		return false;
	uint64_t cur = s->event_clock;
	if (cur > SERF_EVENT_BUFFER && m->ltime < cur - SERF_EVENT_BUFFER) {
		log_warnx("serf: received old event %.*s from time %llu "
		    "(current: %llu)", (int)m->name.n,
		    (const char *)m->name.p, (unsigned long long)m->ltime,
		    (unsigned long long)cur);
		return false;
	}
	struct ev_slot *sl = &s->events[m->ltime % SERF_EVENT_BUFFER];
	if (sl->used && sl->ltime == m->ltime) {
		for (size_t i = 0; i < sl->n; i++)
			if (gossip_slice_eq(m->name, sl->ev[i].name) &&
			    sl->ev[i].len == m->payload.n &&
			    (m->payload.n == 0 || memcmp(sl->ev[i].payload,
			    m->payload.p, m->payload.n) == 0))
				return false;
	} else {
		slot_clear(sl);
		sl->used = true;
		sl->ltime = m->ltime;
	}
	sl->ev = xrealloc(sl->ev, (sl->n + 1) * sizeof(*sl->ev));
	struct ev_entry *e = &sl->ev[sl->n++];
	e->name = gossip_slice_dup(m->name);
	e->len = m->payload.n;
	e->payload_nil = m->payload.p == NULL;
	e->payload = xmalloc(m->payload.n ? m->payload.n : 1);
	if (m->payload.n)
		memcpy(e->payload, m->payload.p, m->payload.n);

	struct gossip_event ev = { .type = GOSSIP_EV_USER, .ltime = m->ltime,
		.coalesce = m->cc };
	ev.name = xstrdup(e->name);
	ev.payload = xmalloc(e->len ? e->len : 1);
	memcpy(ev.payload, e->payload, e->len);
	ev.payload_len = e->len;
	serf_emit_user(s, now, &ev);
	return true;
}

int
gossip_serf_user_event(struct gossip_serf *s, uint64_t now, const char *name,
    const uint8_t *payload, size_t len, bool coalesce, const char **why)
{
	size_t raw = strlen(name) + len;
	*why = "";
	if (raw > s->cfg.user_event_size_limit ||
	    raw > SERF_USER_EVENT_HARD_LIMIT) {
		*why = "user event exceeds configured limit before encoding";
		return -E2BIG;
	}
	struct gossip_serf_user_event m = { s->event_clock,
		gossip_slice_c(name), { payload ? payload : (const uint8_t *)"",
		len }, coalesce };
	struct buf b;
	buf_init(&b);
	gossip_serf_enc_user_event(&b, &m);
	if (b.len > s->cfg.user_event_size_limit ||
	    b.len > SERF_USER_EVENT_HARD_LIMIT) {
		buf_free(&b);
		*why = "encoded user event exceeds configured limit after "
		    "encoding";
		return -E2BIG;
	}
	s->event_clock++;
	serf_handle_user_event(s, now, &m);
	serf_broadcast(s, &s->events_q, &b, 0);
	buf_free(&b);
	return 0;
}

/* ------------------------------------------------------------ filters */

static bool
tag_matches(const struct gossip_serf *s, struct gossip_slice tag,
    struct gossip_slice expr)
{
	char *t = gossip_slice_strdup(tag), *e = gossip_slice_strdup(expr);
	const char *val = "";
	regex_t re;
	bool ok = false;

	if (t == NULL || e == NULL)
		goto out;
	for (size_t i = 0; i + 1 < s->ntags; i += 2)
		if (strcmp(s->tags[i], t) == 0)
			val = s->tags[i + 1];
	/* Go's regexp.MatchString: an unanchored search */
	if (regcomp(&re, e, REG_EXTENDED | REG_NOSUB) != 0)
		goto out;
	ok = regexec(&re, val, 0, NULL, 0) == 0;
	regfree(&re);
out:
	free(t);
	free(e);
	return ok;
}

static bool
should_process(const struct gossip_serf *s, const struct gossip_serf_query *q)
{
	struct gossip_slice names[256], tag, expr;
	size_t n;

	for (size_t i = 0; i < q->nfilters; i++) {
		const struct gossip_slice *f = &q->filters[i];
		if (f->n < 1)
			return false;
		switch (f->p[0]) {
		case GOSSIP_FILTER_NODE: {
			bool found = false;
			if (gossip_serf_dec_filter_nodes(f->p + 1, f->n - 1,
			    names, nitems(names), &n) < 0)
				return false;
			for (size_t k = 0; k < n && !found; k++)
				found = gossip_slice_eq(names[k],
				    s->cfg.ml.name);
			if (!found)
				return false;
			break;
		}
		case GOSSIP_FILTER_TAG:
			if (gossip_serf_dec_filter_tag(f->p + 1, f->n - 1, &tag,
			    &expr) < 0 || !tag_matches(s, tag, expr))
				return false;
			break;
		default:
			return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------ responses */

/* Send a response (or ack) through relay_factor other members too, so it
 * reaches the origin across a partial partition (§9.7). */
static void
relay_response(struct gossip_serf *s, uint8_t factor,
    const struct gossip_addr *origin, const char *origin_name,
    const struct buf *resp)
{
	struct gossip_serf_relay r;
	struct buf raw;
	struct smember *pick[256];
	size_t cand = 0, k = 0;

	if (factor == 0 || s->nmembers < (size_t)factor + 1)
		return;
	memset(&r, 0, sizeof(r));
	r.dest_ip = (struct gossip_slice){ origin->ip, origin->len };
	r.dest_port = origin->port;
	r.dest_zone = gossip_slice_c("");
	r.dest_name = gossip_slice_c(origin_name ? origin_name : "");
	r.inner = (struct gossip_slice){ resp->data, resp->len };
	buf_init(&raw);
	gossip_serf_enc_relay(&raw, &r);
	if (raw.len > s->cfg.query_response_size_limit) {
		log_warnx("serf: relayed response exceeds limit of %zu bytes",
		    s->cfg.query_response_size_limit);
		buf_free(&raw);
		return;
	}
	/* reservoir: factor random alive members speaking memberlist >= 5 */
	for (size_t i = 0; i < s->nmembers; i++) {
		struct smember *m = s->members[i];
		if (m->m.status != GOSSIP_MEMBER_ALIVE || m->m.pmax < 5 ||
		    strcmp(m->m.name, s->cfg.ml.name) == 0)
			continue;
		cand++;
		if (k < factor && k < nitems(pick)) {
			pick[k++] = m;
		} else {
			size_t j = gossip_ml_rand(s->ml, cand);
			if (j < k)
				pick[j] = m;
		}
	}
	for (size_t i = 0; i < k; i++)
		gossip_ml_send_user(s->ml, &pick[i]->m.addr, raw.data, raw.len);
	buf_free(&raw);
}

static void
send_response(struct gossip_serf *s, const struct in_query *q,
    const struct buf *resp)
{
	gossip_ml_send_user(s->ml, &q->origin, resp->data, resp->len);
	relay_response(s, q->relay_factor, &q->origin, q->source_node, resp);
}

static int
respond_to(struct gossip_serf *s, const struct in_query *q,
    const uint8_t *payload, size_t len, const char **why)
{
	struct gossip_serf_query_response r = { q->ltime, q->id,
		gossip_slice_c(s->cfg.ml.name), 0, { payload, len } };
	struct buf b;
	buf_init(&b);
	gossip_serf_enc_query_response(&b, &r);
	if (b.len > s->cfg.query_response_size_limit) {
		buf_free(&b);
		*why = "response exceeds limit";
		return -E2BIG;
	}
	send_response(s, q, &b);
	buf_free(&b);
	return 0;
}

static void
in_query_remove(struct gossip_serf *s, size_t i)
{
	free(s->inq[i].source_node);
	s->inq[i] = s->inq[--s->ninq];
}

int
gossip_serf_respond(struct gossip_serf *s, uint64_t now, uint64_t query,
    const uint8_t *payload, size_t len, const char **why)
{
	*why = "";
	for (size_t i = 0; i < s->ninq; i++) {
		struct in_query *q = &s->inq[i];
		if (q->handle != query)
			continue;
		if (now > q->deadline) {
			in_query_remove(s, i);
			*why = "response is past the deadline";
			return -ETIMEDOUT;
		}
		int rc = respond_to(s, q, payload, len, why);
		if (rc == 0)
			in_query_remove(s, i);
		return rc;
	}
	*why = "response already sent or unknown query";
	return -ENOENT;
}

/* ------------------------------------------------------------ internal */

static void
key_response(struct gossip_serf *s, const struct in_query *q,
    struct gossip_serf_key_response *kr)
{
	struct buf b;
	const char *why;
	size_t total = kr->nkeys;
	char msg[128];

	/* shorten the key list until the response fits (serf does this) */
	for (;;) {
		buf_init(&b);
		gossip_serf_enc_key_response(&b, kr);
		size_t need = b.len + 64 + strlen(s->cfg.ml.name);
		if (need <= s->cfg.query_response_size_limit || kr->nkeys == 0)
			break;
		buf_free(&b);
		kr->nkeys--;
		snprintf(msg, sizeof(msg), "truncated key list response, "
		    "showing first %zu of %zu keys", kr->nkeys, total);
		kr->message = gossip_slice_c(msg);
	}
	if (respond_to(s, q, b.data, b.len, &why) < 0)
		log_warnx("serf: failed to respond to key query: %s", why);
	buf_free(&b);
}

static void
handle_key_query(struct gossip_serf *s, const struct in_query *q,
    const char *op, const struct gossip_slice *payload)
{
	struct gossip_serf_key_response kr;
	struct gossip_keyring *ring = s->cfg.keyring;
	struct gossip_slice key = { NULL, 0 };
	char b64[GOSSIP_MAX_KEYS][48], primary[48];
	int rc = 0;

	memset(&kr, 0, sizeof(kr));
	kr.keys_nil = true;
	bool list = strcmp(op, "list-keys") == 0;
	if (!list && (payload->n < 1 || gossip_serf_dec_key_request(
	    payload->p + 1, payload->n - 1, &key) < 0)) {
		log_warnx("serf: failed to decode key request");
		key_response(s, q, &kr);
		return;
	}
	if (ring == NULL || ring->n == 0) {
		kr.message = gossip_slice_c(list ?
		    "Keyring is empty (encryption not enabled)" :
		    "No keyring to modify (encryption not enabled)");
		key_response(s, q, &kr);
		return;
	}
	log_info("serf: received %s query", op);
	if (list) {
		for (unsigned i = 0; i < ring->n; i++) {
			gossip_key_to_base64(ring->key[i], ring->keylen[i],
			    b64[i]);
			kr.keys[kr.nkeys++] = gossip_slice_c(b64[i]);
		}
		kr.keys_nil = false;
		gossip_key_to_base64(ring->key[0], ring->keylen[0], primary);
		kr.primary_key = gossip_slice_c(primary);
	} else if (strcmp(op, "install-key") == 0) {
		rc = gossip_keyring_add(ring, key.p, key.n);
	} else if (strcmp(op, "use-key") == 0) {
		rc = gossip_keyring_use(ring, key.p, key.n);
	} else {
		rc = gossip_keyring_remove(ring, key.p, key.n);
	}
	if (rc < 0) {
		kr.message = gossip_slice_c(gossip_keyring_strerror(rc));
	} else {
		kr.result = true;
		if (!list) {
			struct gossip_event e = { .type = GOSSIP_EV_KEYRING };
			serf_push_event(s, &e);
		}
	}
	key_response(s, q, &kr);
}

static void
handle_conflict_query(struct gossip_serf *s, const struct in_query *q,
    const struct gossip_slice *payload)
{
	struct gossip_serf_member_wire w;
	struct buf b;
	const char *why;

	if (gossip_slice_eq(*payload, s->cfg.ml.name))
		return;
	struct smember *m = serf_find_slice(s, *payload);
	buf_init(&b);
	if (m != NULL) {
		memset(&w, 0, sizeof(w));
		w.name = gossip_slice_c(m->m.name);
		w.addr = (struct gossip_slice){ m->m.addr.ip, m->m.addr.len };
		w.port = m->m.addr.port;
		for (size_t i = 0; i < m->m.ntags && i < nitems(w.tags); i++)
			w.tags[w.ntags++] = gossip_slice_c(m->m.tags[i]);
		w.status = m->m.status;
		w.pmin = m->m.pmin;
		w.pmax = m->m.pmax;
		w.pcur = m->m.pcur;
		w.dmin = m->m.dmin;
		w.dmax = m->m.dmax;
		w.dcur = m->m.dcur;
	}
	gossip_serf_enc_conflict_response(&b, m ? &w : NULL);
	if (respond_to(s, q, b.data, b.len, &why) < 0)
		log_warnx("serf: failed to respond to conflict query: %s", why);
	buf_free(&b);
}

static void
handle_internal(struct gossip_serf *s, const struct in_query *q,
    struct gossip_slice name, const struct gossip_slice *payload)
{
	char op[64];
	size_t plen = strlen(SERF_INTERNAL_PREFIX);
	size_t n = name.n - plen;
	if (n >= sizeof(op))
		n = sizeof(op) - 1;
	memcpy(op, name.p + plen, n);
	op[n] = '\0';
	if (strcmp(op, "ping") == 0)
		return;		/* the ack is the answer */
	if (strcmp(op, "conflict") == 0)
		handle_conflict_query(s, q, payload);
	else if (strcmp(op, "install-key") == 0 || strcmp(op, "use-key") == 0 ||
	    strcmp(op, "remove-key") == 0 || strcmp(op, "list-keys") == 0)
		handle_key_query(s, q, op, payload);
	else
		log_warnx("serf: unhandled internal query '%s'", op);
}

/* ------------------------------------------------------------ queries */

static bool
query_seen(struct gossip_serf *s, const struct gossip_serf_query *q)
{
	struct q_slot *sl = &s->queries[q->ltime % SERF_QUERY_BUFFER];
	if (sl->used && sl->ltime == q->ltime) {
		for (size_t i = 0; i < sl->n; i++)
			if (sl->ids[i] == q->id)
				return true;
	} else {
		free(sl->ids);
		memset(sl, 0, sizeof(*sl));
		sl->used = true;
		sl->ltime = q->ltime;
	}
	sl->ids = xrealloc(sl->ids, (sl->n + 1) * sizeof(*sl->ids));
	sl->ids[sl->n++] = q->id;
	return false;
}

static void
send_ack(struct gossip_serf *s, const struct in_query *iq)
{
	struct gossip_serf_query_response ack = { iq->ltime, iq->id,
		gossip_slice_c(s->cfg.ml.name), GOSSIP_QUERY_FLAG_ACK,
		{ NULL, 0 } };
	struct buf b;
	buf_init(&b);
	gossip_serf_enc_query_response(&b, &ack);
	send_response(s, iq, &b);
	buf_free(&b);
}

/* First sight of a query: ack if asked, hand it to the application (or
 * serf's internal handler) if the filters pass; re-gossip it either way
 * unless the origin said not to. */
bool
serf_handle_query(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_query *q)
{
	struct in_query iq;

	serf_witness(&s->query_clock, q->ltime);
	if (q->ltime < s->query_min_time)
		return false;
	uint64_t cur = s->query_clock;
	if (cur > SERF_QUERY_BUFFER && q->ltime < cur - SERF_QUERY_BUFFER)
		return false;
	if (query_seen(s, q))
		return false;
	bool rebroadcast = !(q->flags & GOSSIP_QUERY_FLAG_NOBROADCAST);
	if (!should_process(s, q))
		return rebroadcast;
	memset(&iq, 0, sizeof(iq));
	iq.ltime = q->ltime;
	iq.id = q->id;
	iq.origin.len = 0;
	if (q->addr.n == 4 || q->addr.n == 16) {
		memcpy(iq.origin.ip, q->addr.p, q->addr.n);
		iq.origin.len = (uint8_t)q->addr.n;
	}
	iq.origin.port = q->port;
	iq.source_node = gossip_slice_strdup(q->source_node);
	iq.relay_factor = q->relay_factor;
	iq.deadline = now + (uint64_t)(q->timeout_ns > 0 ?
	    q->timeout_ns / 1000000 : 0);
	if (iq.origin.len == 0 || iq.source_node == NULL) {
		free(iq.source_node);
		return rebroadcast;
	}
	if (q->flags & GOSSIP_QUERY_FLAG_ACK)
		send_ack(s, &iq);
	size_t plen = strlen(SERF_INTERNAL_PREFIX);
	if (q->name.n >= plen && memcmp(q->name.p, SERF_INTERNAL_PREFIX,
	    plen) == 0) {
		handle_internal(s, &iq, q->name, &q->payload);
		free(iq.source_node);
		return rebroadcast;
	}
	iq.handle = ++s->next_handle;
	s->inq = xrealloc(s->inq, (s->ninq + 1) * sizeof(*s->inq));
	s->inq[s->ninq++] = iq;
	struct gossip_event e = { .type = GOSSIP_EV_QUERY, .ltime = q->ltime,
		.query = iq.handle, .deadline = iq.deadline };
	e.name = gossip_slice_dup(q->name);
	e.payload = xmalloc(q->payload.n ? q->payload.n : 1);
	if (q->payload.n)
		memcpy(e.payload, q->payload.p, q->payload.n);
	e.payload_len = q->payload.n;
	e.from = xstrdup(iq.source_node);
	serf_push_event(s, &e);
	return rebroadcast;
}

static bool
name_in(char ***list, size_t *n, struct gossip_slice name, bool add)
{
	for (size_t i = 0; i < *n; i++)
		if (gossip_slice_eq(name, (*list)[i]))
			return true;
	if (add) {
		*list = xrealloc(*list, (*n + 1) * sizeof(**list));
		(*list)[(*n)++] = gossip_slice_dup(name);
	}
	return false;
}

void
serf_handle_query_response(struct gossip_serf *s, uint64_t now,
    const struct gossip_serf_query_response *r)
{
	struct out_query *q = NULL;
	for (size_t i = 0; i < s->noutq && q == NULL; i++)
		if (s->outq[i].ltime == r->ltime)
			q = &s->outq[i];
	if (q == NULL) {
		log_debug("serf: reply for non-running query (LTime: %llu)",
		    (unsigned long long)r->ltime);
		return;
	}
	if (q->id != r->id || now > q->deadline)
		return;
	bool ack = r->flags & GOSSIP_QUERY_FLAG_ACK;
	if (ack ? name_in(&q->acks, &q->nacks, r->from, true) :
	    name_in(&q->resps, &q->nresps, r->from, true))
		return;		/* duplicate (relays send copies) */
	struct gossip_event e = { .type = ack ? GOSSIP_EV_QUERY_ACK :
		GOSSIP_EV_QUERY_RESPONSE, .ltime = r->ltime, .query = q->handle };
	e.from = gossip_slice_dup(r->from);
	if (!ack) {
		e.payload = xmalloc(r->payload.n ? r->payload.n : 1);
		if (r->payload.n)
			memcpy(e.payload, r->payload.p, r->payload.n);
		e.payload_len = r->payload.n;
	}
	serf_push_event(s, &e);
}

void
serf_handle_relay(struct gossip_serf *s, const uint8_t *p, size_t n)
{
	struct gossip_serf_relay r;
	struct gossip_addr to;

	if (gossip_serf_dec_relay(p, n, &r) < 0 || r.inner.n == 0 ||
	    (r.dest_ip.n != 4 && r.dest_ip.n != 16) || r.dest_port == 0 ||
	    r.dest_port > 65535) {
		log_debug("serf: bad relay message");
		return;
	}
	memset(&to, 0, sizeof(to));
	memcpy(to.ip, r.dest_ip.p, r.dest_ip.n);
	to.len = (uint8_t)r.dest_ip.n;
	to.port = (uint16_t)r.dest_port;
	gossip_ml_send_user(s->ml, &to, r.inner.p, r.inner.n);
}

static int
encode_filters(const struct gossip_query_params *p, struct buf *store,
    struct gossip_serf_query *q, size_t *offs)
{
	size_t nf = 0;
	if (p == NULL)
		return 0;
	if (p->nfilter_nodes > 0) {
		struct gossip_slice *names = xcalloc(p->nfilter_nodes,
		    sizeof(*names));
		for (size_t i = 0; i < p->nfilter_nodes; i++)
			names[i] = gossip_slice_c(p->filter_nodes[i]);
		offs[nf++] = store->len;
		gossip_serf_enc_filter_nodes(store, names, p->nfilter_nodes);
		free(names);
	}
	for (size_t i = 0; i + 1 < p->nfilter_tags; i += 2) {
		if (nf + 1 >= GOSSIP_MAX_FILTERS)
			return -E2BIG;
		offs[nf++] = store->len;
		gossip_serf_enc_filter_tag(store, p->filter_tags[i],
		    p->filter_tags[i + 1]);
	}
	offs[nf] = store->len;
	q->nfilters = nf;
	return 0;
}

int64_t
gossip_serf_query(struct gossip_serf *s, uint64_t now, const char *name,
    const uint8_t *payload, size_t len,
    const struct gossip_query_params *params, const char **why)
{
	struct gossip_serf_query q;
	struct buf fstore, b;
	size_t offs[GOSSIP_MAX_FILTERS + 1];
	const struct gossip_node *self = gossip_ml_self(s->ml);

	*why = "";
	memset(&q, 0, sizeof(q));
	buf_init(&fstore);
	if (encode_filters(params, &fstore, &q, offs) < 0) {
		buf_free(&fstore);
		*why = "too many filters";
		return -E2BIG;
	}
	for (size_t i = 0; i < q.nfilters; i++)
		q.filters[i] = (struct gossip_slice){ fstore.data + offs[i],
			offs[i + 1] - offs[i] };
	q.filters_nil = q.nfilters == 0;
	uint64_t timeout = params && params->timeout_ms ? params->timeout_ms :
	    gossip_serf_default_query_timeout(s);
	q.ltime = s->query_clock;
	q.id = (uint32_t)(gossip_ml_rand(s->ml, 1ull << 31));
	q.addr = (struct gossip_slice){ self->addr.ip, self->addr.len };
	q.port = self->addr.port;
	q.source_node = gossip_slice_c(self->name);
	q.flags = params && params->request_ack ? GOSSIP_QUERY_FLAG_ACK : 0;
	q.relay_factor = params ? params->relay_factor : 0;
	q.timeout_ns = (int64_t)timeout * 1000000;
	q.name = gossip_slice_c(name);
	q.payload = (struct gossip_slice){ payload ? payload :
		(const uint8_t *)"", len };
	buf_init(&b);
	gossip_serf_enc_query(&b, &q);
	if (b.len > s->cfg.query_size_limit) {
		buf_free(&b);
		buf_free(&fstore);
		*why = "query exceeds limit";
		return -E2BIG;
	}
	s->outq = xrealloc(s->outq, (s->noutq + 1) * sizeof(*s->outq));
	struct out_query *oq = &s->outq[s->noutq++];
	memset(oq, 0, sizeof(*oq));
	oq->handle = ++s->next_handle;
	oq->ltime = q.ltime;
	oq->id = q.id;
	oq->deadline = now + timeout;
	uint64_t handle = oq->handle;
	serf_handle_query(s, now, &q);
	serf_broadcast(s, &s->queries_q, &b, 0);
	buf_free(&b);
	buf_free(&fstore);
	return (int64_t)handle;
}

int64_t
gossip_serf_key_query(struct gossip_serf *s, uint64_t now, const char *op,
    const uint8_t *key, size_t keylen, const char **why)
{
	static const struct {
		const char *op, *query;
	} map[] = {
		{ "install", "_serf_install-key" },
		{ "use", "_serf_use-key" },
		{ "remove", "_serf_remove-key" },
		{ "list", "_serf_list-keys" },
	};
	struct buf payload;
	for (size_t i = 0; i < nitems(map); i++) {
		if (strcmp(op, map[i].op) != 0)
			continue;
		buf_init(&payload);
		gossip_serf_enc_key_request(&payload, key ? key :
		    (const uint8_t *)"", key ? keylen : 0);
		int64_t h = gossip_serf_query(s, now, map[i].query,
		    payload.data, payload.len, NULL, why);
		buf_free(&payload);
		return h;
	}
	*why = "unknown keyring operation";
	return -EINVAL;
}

static void
out_query_free(struct out_query *q)
{
	for (size_t i = 0; i < q->nacks; i++)
		free(q->acks[i]);
	for (size_t i = 0; i < q->nresps; i++)
		free(q->resps[i]);
	free(q->acks);
	free(q->resps);
}

void
serf_queries_tick(struct gossip_serf *s, uint64_t now)
{
	for (size_t i = 0; i < s->noutq;) {
		if (now < s->outq[i].deadline) {
			i++;
			continue;
		}
		struct gossip_event e = { .type = GOSSIP_EV_QUERY_DONE,
			.ltime = s->outq[i].ltime, .query = s->outq[i].handle };
		serf_push_event(s, &e);
		out_query_free(&s->outq[i]);
		s->outq[i] = s->outq[--s->noutq];
	}
	for (size_t i = 0; i < s->ninq;) {
		if (now > s->inq[i].deadline)
			in_query_remove(s, i);
		else
			i++;
	}
}

uint64_t
serf_queries_next(const struct gossip_serf *s)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < s->noutq; i++)
		next = MIN(next, s->outq[i].deadline);
	for (size_t i = 0; i < s->ninq; i++)
		next = MIN(next, s->inq[i].deadline + 1);
	return next;
}

/* ------------------------------------------------------------ coalescing */

void
serf_emit_member(struct gossip_serf *s, uint64_t now,
    enum gossip_event_type type, const struct gossip_member *m)
{
	struct gossip_event e = { .type = type };
	if (s->cfg.coalesce_period == 0 || s->cfg.quiescent_period == 0) {
		serf_member_copy(m, &e.member);
		serf_push_event(s, &e);
		return;
	}
	struct pending_member *p = NULL;
	for (size_t i = 0; i < s->npend && p == NULL; i++)
		if (strcmp(s->pend[i].name, m->name) == 0)
			p = &s->pend[i];
	if (p == NULL) {
		s->pend = xrealloc(s->pend, (s->npend + 1) * sizeof(*s->pend));
		p = &s->pend[s->npend++];
		p->name = xstrdup(m->name);
	} else {
		gossip_member_free(&p->m);
	}
	p->type = type;
	serf_member_copy(m, &p->m);
	if (s->coalesce_end == 0)
		s->coalesce_end = now + s->cfg.coalesce_period;
	s->quiesce_end = now + s->cfg.quiescent_period;
}

void
serf_emit_user(struct gossip_serf *s, uint64_t now, struct gossip_event *e)
{
	if (!e->coalesce || s->cfg.user_coalesce_period == 0 ||
	    s->cfg.user_quiescent_period == 0) {
		serf_push_event(s, e);
		return;
	}
	/* keep only the newest LTime per event name */
	for (size_t i = 0; i < s->nupend;) {
		struct gossip_event *p = &s->upend[i];
		if (strcmp(p->name, e->name) != 0 || p->ltime == e->ltime) {
			i++;
			continue;
		}
		if (p->ltime > e->ltime) {
			gossip_event_free(e);
			return;
		}
		gossip_event_free(p);
		s->upend[i] = s->upend[--s->nupend];
	}
	s->upend = xrealloc(s->upend, (s->nupend + 1) * sizeof(*s->upend));
	s->upend[s->nupend++] = *e;
	memset(e, 0, sizeof(*e));
	if (s->ucoalesce_end == 0)
		s->ucoalesce_end = now + s->cfg.user_coalesce_period;
	s->uquiesce_end = now + s->cfg.user_quiescent_period;
}

static enum gossip_event_type *
last_type(struct gossip_serf *s, const char *name)
{
	for (size_t i = 0; i < s->nlast; i++)
		if (strcmp(s->last[i].name, name) == 0)
			return &s->last[i].type;
	s->last = xrealloc(s->last, (s->nlast + 1) * sizeof(*s->last));
	s->last[s->nlast].name = xstrdup(name);
	s->last[s->nlast].type = 0;
	return &s->last[s->nlast++].type;
}

/* Flush coalesced events after CoalescePeriod, or after QuiescentPeriod
 * without new ones; a member whose net change is nothing is skipped
 * (serf's coalesce_member.go). */
void
serf_coalesce_tick(struct gossip_serf *s, uint64_t now, bool force)
{
	if (s->npend > 0 && (force || now >= s->coalesce_end ||
	    now >= s->quiesce_end)) {
		for (size_t i = 0; i < s->npend; i++) {
			struct pending_member *p = &s->pend[i];
			enum gossip_event_type *last = last_type(s, p->name);
			if (*last != p->type || p->type == GOSSIP_EV_MEMBER_UPDATE) {
				struct gossip_event e = { .type = p->type,
					.member = p->m };
				memset(&p->m, 0, sizeof(p->m));
				serf_push_event(s, &e);
				*last = p->type;
			}
			gossip_member_free(&p->m);
			free(p->name);
		}
		s->npend = 0;
		s->coalesce_end = s->quiesce_end = 0;
	}
	if (s->nupend > 0 && (force || now >= s->ucoalesce_end ||
	    now >= s->uquiesce_end)) {
		for (size_t i = 0; i < s->nupend; i++)
			serf_push_event(s, &s->upend[i]);
		s->nupend = 0;
		s->ucoalesce_end = s->uquiesce_end = 0;
	}
}

uint64_t
serf_coalesce_next(const struct gossip_serf *s)
{
	uint64_t next = UINT64_MAX;
	if (s->npend > 0)
		next = MIN(s->coalesce_end, s->quiesce_end);
	if (s->nupend > 0)
		next = MIN(next, MIN(s->ucoalesce_end, s->uquiesce_end));
	return next;
}

void
serf_queries_free(struct gossip_serf *s)
{
	for (size_t i = 0; i < SERF_EVENT_BUFFER; i++)
		slot_clear(&s->events[i]);
	for (size_t i = 0; i < SERF_QUERY_BUFFER; i++)
		free(s->queries[i].ids);
	for (size_t i = 0; i < s->noutq; i++)
		out_query_free(&s->outq[i]);
	free(s->outq);
	while (s->ninq > 0)
		in_query_remove(s, 0);
	free(s->inq);
	for (size_t i = 0; i < s->npend; i++) {
		gossip_member_free(&s->pend[i].m);
		free(s->pend[i].name);
	}
	free(s->pend);
	for (size_t i = 0; i < s->nlast; i++)
		free(s->last[i].name);
	free(s->last);
	for (size_t i = 0; i < s->nupend; i++)
		gossip_event_free(&s->upend[i]);
	free(s->upend);
}
