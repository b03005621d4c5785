/*
 * /v1/operator/keyring: list, install, use and remove gossip keys across
 * the cluster with serf's key queries (_serf_list-keys, _serf_install-key,
 * _serf_use-key, _serf_remove-key), one per pool, counting the answers as
 * serf's KeyManager does (key_manager.go streamKeyResp): every response
 * counts, a failed one adds its message, listed keys and primary keys are
 * counted per node; the query ends when every member answered or at its
 * timeout.  Error: "N/M nodes reported failure", else, when not every
 * member answered, "N/M nodes reported success".
 *
 * Servers answer for the WAN pool then the LAN pool (Consul's
 * Internal.KeyringOperation).  A client agent answers for its LAN pool
 * itself: Consul forwards the operation to a server, which queries the
 * same LAN pool.  local-only (list only) reports this agent's keyrings.
 * A node that changed its keyring persists it (GOSSIP_EV_KEYRING).
 */
#include "workers/gossip/worker_gossip.h"
#include "supervisor/config.h"
#include "lib/base64.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KOP_LIST = 1, KOP_INSTALL, KOP_USE, KOP_REMOVE };

struct kcount {
	char **k;
	unsigned *n;
	size_t len;
};

struct gw_keyset;

struct gw_keyop {
	struct gw_keyop *next;		/* in the pool's list */
	struct gw_keyset *set;
	struct gw_pool *p;
	int64_t handle;
	bool done;
	struct kcount msgs;		/* node -> message (n unused) */
	char **msgtext;
	struct kcount keys, primary;
	unsigned nresp, nerr, num_nodes;
	char error[256];
};

struct gw_keyset {
	struct gw_pending rep;
	struct gw_keyop *ops[GW_NPOOLS];	/* answer order */
	unsigned nops, pending;
};

static void
kcount_add(struct kcount *c, const char *k, size_t kl)
{
	for (size_t i = 0; i < c->len; i++)
		if (strlen(c->k[i]) == kl && memcmp(c->k[i], k, kl) == 0) {
			c->n[i]++;
			return;
		}
	c->k = xrealloc(c->k, (c->len + 1) * sizeof(*c->k));
	c->n = xrealloc(c->n, (c->len + 1) * sizeof(*c->n));
	c->k[c->len] = xstrndup(k, kl);
	c->n[c->len++] = 1;
}

static void
kcount_free(struct kcount *c)
{
	for (size_t i = 0; i < c->len; i++)
		free(c->k[i]);
	free(c->k);
	free(c->n);
	memset(c, 0, sizeof(*c));
}

static void
msg_add(struct gw_keyop *o, const char *node, const char *msg, size_t ml)
{
	kcount_add(&o->msgs, node, strlen(node));
	o->msgtext = xrealloc(o->msgtext, o->msgs.len * sizeof(*o->msgtext));
	o->msgtext[o->msgs.len - 1] = xstrndup(msg, ml);
}

static void
keyop_free(struct gw_keyop *o)
{
	for (size_t i = 0; i < o->msgs.len; i++)
		free(o->msgtext[i]);
	free(o->msgtext);
	kcount_free(&o->msgs);
	kcount_free(&o->keys);
	kcount_free(&o->primary);
	free(o);
}

/* Items alternate key and decimal count. */
static void
kcount_strv(const struct kcount *c, char **store, const char **items)
{
	for (size_t i = 0; i < c->len; i++) {
		items[2 * i] = c->k[i];
		store[i] = xasprintf("%u", c->n[i]);
		items[2 * i + 1] = store[i];
	}
}

static void
keyop_enc(const struct gw_keyop *o, const struct agent_config *cfg,
    struct buf *out)
{
	size_t nm = o->msgs.len, nk = o->keys.len, np = o->primary.len;
	const char **mi = xcalloc(2 * nm + 1, sizeof(*mi));
	const char **ki = xcalloc(2 * nk + 1, sizeof(*ki));
	const char **pi = xcalloc(2 * np + 1, sizeof(*pi));
	char **ks = xcalloc(nk + 1, sizeof(*ks)), **ps = xcalloc(np + 1,
	    sizeof(*ps));
	for (size_t i = 0; i < nm; i++) {
		mi[2 * i] = o->msgs.k[i];
		mi[2 * i + 1] = o->msgtext[i];
	}
	kcount_strv(&o->keys, ks, ki);
	kcount_strv(&o->primary, ps, pi);
	struct proto_keyring_resp r = {
		.wan = o->p->idx == GW_WAN,
		.datacenter = proto_str_c(cfg->datacenter),
		.segment = PROTO_STR(""),
		.messages = { .n = (uint32_t)(2 * nm), .items = mi },
		.keys = { .n = (uint32_t)(2 * nk), .items = ki },
		.primary_keys = { .n = (uint32_t)(2 * np), .items = pi },
		.num_nodes = o->num_nodes,
		.error = proto_str_c(o->error),
	};
	proto_enc_keyring_resp(out, &r);
	for (size_t i = 0; i < nk; i++)
		free(ks[i]);
	for (size_t i = 0; i < np; i++)
		free(ps[i]);
	free(ks);
	free(ps);
	free(mi);
	free(ki);
	free(pi);
}

static void
set_reply(struct gw *g, struct gw_keyset *set)
{
	struct proto_str items[GW_NPOOLS];
	size_t off[GW_NPOOLS + 1];
	struct buf all, out;
	buf_init(&all);
	buf_init(&out);
	for (unsigned i = 0; i < set->nops; i++) {
		off[i] = all.len;
		keyop_enc(set->ops[i], g->w->cfg, &all);
	}
	off[set->nops] = all.len;
	for (unsigned i = 0; i < set->nops; i++)
		items[i] = (struct proto_str){ (const char *)all.data + off[i],
			(uint32_t)(off[i + 1] - off[i]) };
	struct proto_keyring r = { .responses = { .n = set->nops,
		.strs = items } };
	proto_enc_keyring(&out, &r);
	gw_pending_reply(g->w, &set->rep, PROTO_KEYRING, &out);
	buf_free(&all);
	buf_free(&out);
	for (unsigned i = 0; i < set->nops; i++)
		keyop_free(set->ops[i]);
	free(set);
}

static void
keyop_finish(struct gw_keyop *o)
{
	if (o->done)
		return;
	o->done = true;
	if (o->error[0] == '\0' && o->nerr != 0)
		snprintf(o->error, sizeof(o->error), "%u/%u nodes reported "
		    "failure", o->nerr, o->num_nodes);
	else if (o->error[0] == '\0' && o->nresp != o->num_nodes)
		snprintf(o->error, sizeof(o->error), "%u/%u nodes reported "
		    "success", o->nresp, o->num_nodes);
	/* Off the pool's list of running queries. */
	struct gw_keyop **pp = &o->p->keyops;
	while (*pp && *pp != o)
		pp = &(*pp)->next;
	if (*pp)
		*pp = o->next;
	if (--o->set->pending == 0)
		set_reply(o->p->g, o->set);
}

/* One response (serf: 08 + key response). */
static void
keyop_response(struct gw_keyop *o, const struct gossip_event *e)
{
	struct gossip_serf_key_response kr;
	const char *from = e->from ? e->from : "";
	o->nresp++;
	if (e->payload_len < 1 || e->payload[0] != 8) {
		msg_add(o, from, "Invalid key query response type", 31);
		o->nerr++;
	} else if (gossip_serf_dec_key_response(e->payload + 1,
	    e->payload_len - 1, &kr) < 0) {
		msg_add(o, from, "Failed to decode key query response", 35);
		o->nerr++;
	} else {
		if (!kr.result || kr.message.n > 0)
			msg_add(o, from, (const char *)kr.message.p,
			    kr.message.n);
		if (!kr.result)
			o->nerr++;
		for (size_t i = 0; i < kr.nkeys; i++)
			kcount_add(&o->keys, (const char *)kr.keys[i].p,
			    kr.keys[i].n);
		kcount_add(&o->primary, (const char *)kr.primary_key.p,
		    kr.primary_key.n);
	}
	if (o->nresp == o->num_nodes)
		keyop_finish(o);
}

void
gw_keyring_on_event(struct gw_pool *p, const struct gossip_event *e)
{
	struct gw_keyop *o;
	for (o = p->keyops; o; o = o->next)
		if ((uint64_t)o->handle == e->query)
			break;
	if (o == NULL)
		return;
	if (e->type == GOSSIP_EV_QUERY_RESPONSE)
		keyop_response(o, e);
	else if (e->type == GOSSIP_EV_QUERY_DONE)
		keyop_finish(o);
}

void
gw_keyring_free(struct gw_pool *p)
{
	/* The requests still running are dropped: their askers get
	 * -EPIPE or a timeout as the worker goes. */
	while (p->keyops) {
		struct gw_keyop *o = p->keyops;
		p->keyops = o->next;
		o->done = true;
		if (--o->set->pending == 0) {
			for (unsigned i = 0; i < o->set->nops; i++)
				keyop_free(o->set->ops[i]);
			free(o->set);
		}
	}
}

/* This agent's keyring only (local-only list). */
static void
keyop_local(struct gw_keyop *o)
{
	char b64[48];
	const struct gossip_keyring *kr = &o->p->ring;
	o->num_nodes = 1;
	o->nresp = 1;
	for (unsigned i = 0; i < kr->n; i++) {
		gossip_key_to_base64(kr->key[i], kr->keylen[i], b64);
		kcount_add(&o->keys, b64, strlen(b64));
		if (i == 0)
			kcount_add(&o->primary, b64, strlen(b64));
	}
	o->done = true;
}

static const char *const query_names[] = {
	[KOP_LIST] = "_serf_list-keys", [KOP_INSTALL] = "_serf_install-key",
	[KOP_USE] = "_serf_use-key", [KOP_REMOVE] = "_serf_remove-key",
};

/* Go's base64 CorruptInputError offset, near enough: the first byte
 * outside the alphabet, else where the last incomplete quantum starts. */
static size_t
b64_bad_offset(const char *s)
{
	size_t n = strlen(s), i;
	for (i = 0; i < n; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/=", s[i]) == NULL)
			return i;
	return n - n % 4;
}

/* Send one pool's query; o->done when it could not be sent. */
static void
keyop_start(struct gw_keyop *o, int op, const struct buf *key,
    uint8_t relay)
{
	struct gossip_serf *s = gossip_pool_serf(o->p->pool);
	struct gossip_query_params qp = { .relay_factor = relay };
	const char *why = "";
	struct buf payload;

	buf_init(&payload);
	gossip_serf_enc_key_request(&payload, key->len ? key->data :
	    (const uint8_t *)"", key->len);
	o->num_nodes = (unsigned)gossip_serf_num_members(s);
	o->handle = gossip_serf_query(s, gossip_pool_now(o->p->pool),
	    query_names[op], payload.data, payload.len, &qp, &why);
	buf_free(&payload);
	if (o->handle < 0) {
		snprintf(o->error, sizeof(o->error), "%s", why);
		o->done = true;
		return;
	}
	log_info("%s pool: %s query sent to %u members", o->p->label,
	    query_names[op], o->num_nodes);
	o->next = o->p->keyops;
	o->p->keyops = o;
	gossip_pool_flush(o->p->pool);
}

static int
keyring_check(const struct proto_keyring_req *q, struct buf *key,
    char *err, size_t el)
{
	if (q->op < KOP_LIST || q->op > KOP_REMOVE) {
		snprintf(err, el, "Invalid keyring operation");
		return -EINVAL;
	}
	if (q->local_only && q->op != KOP_LIST) {
		snprintf(err, el, "argument error: LocalOnly can only be used "
		    "for List operations");
		return -EINVAL;
	}
	if (q->relay_factor > 5) {
		snprintf(err, el, "Relay factor must be in range: [0, 5]");
		return -EINVAL;
	}
	if (q->op != KOP_LIST && base64_decode(q->key.p, q->key.len, key) < 0) {
		char *k = proto_str_dup(q->key);
		snprintf(err, el, "illegal base64 data at input byte %zu",
		    k ? b64_bad_offset(k) : 0);
		free(k);
		return -EILSEQ;		/* reported per pool, as serf */
	}
	return 0;
}

void
gw_on_keyring(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_keyring_req q;
	struct buf key;
	char err[256];
	const char *why;

	if (proto_dec_keyring_req(m->data, m->len, &q) < 0)
		return;
	buf_init(&key);
	int r = keyring_check(&q, &key, err, sizeof(err));
	if (r < 0 && r != -EILSEQ) {
		worker_reply_result(ch, m, r, err);
		buf_free(&key);
		return;
	}
	if (gw_pool_for(&gw, false, &why) == NULL) {
		worker_reply_result(ch, m, -EAGAIN, why);
		buf_free(&key);
		return;
	}
	struct gw_pool *pools[GW_NPOOLS];
	unsigned np = 0;
	if (gw.npools > 1 && !q.local_only)
		pools[np++] = &gw.pools[GW_WAN];
	pools[np++] = &gw.pools[GW_LAN];
	struct gw_keyset *set = xcalloc(1, sizeof(*set));
	gw_pending_init(&set->rep, w, from, m);
	for (unsigned i = 0; i < np; i++) {
		struct gw_keyop *o = xcalloc(1, sizeof(*o));
		o->p = pools[i];
		o->set = set;
		set->ops[set->nops++] = o;
	}
	/* Held until every query is sent: none may finish the set early. */
	set->pending = set->nops + 1;
	for (unsigned i = 0; i < set->nops; i++) {
		struct gw_keyop *o = set->ops[i];
		if (r == -EILSEQ) {
			snprintf(o->error, sizeof(o->error), "%s", err);
			o->done = true;
		} else if (q.local_only)
			keyop_local(o);
		else
			keyop_start(o, q.op, &key, q.relay_factor);
		if (o->done)
			set->pending--;
	}
	if (--set->pending == 0)
		set_reply(&gw, set);
	buf_free(&key);
}
