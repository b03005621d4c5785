/*
 * The dns worker's feed (store_dnsfeed.h).  Rows are encoded from the
 * live tables when an observer call says a node changed: the observers
 * run once the write is complete (catalog_store.h), so what is sent is
 * the node as of that index, with the health DNS filters on already
 * folded per instance (Consul's DNS drops an instance when any of its
 * node's or its own checks is critical, agent/dns.go via
 * health.ServiceNodes).
 *
 * Ordering: one peer channel, written in apply order; a full sync is
 * sent within one loop turn, so every later delta is newer than it.
 * A delta that cannot be queued still consumes its seq: the dns worker
 * sees the gap on the next one and asks for a full sync.
 */
#include "workers/store/store.h"
#include "workers/store/store_dnsfeed.h"
#include "workers/store/catalog_store.h"
#include "workers/common/worker.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A full sync is cut into messages of about this size. */
#define FEED_BATCH_BYTES (256 * 1024)

static struct {
	struct store *st;
	bool subscribed;	/* a sync was asked for on this channel */
	uint32_t epoch;		/* ... the dns channel's epoch then */
	uint64_t seq;
	uint64_t index;		/* highest index observed */
	uint64_t sent, failed;
	/* Touched since the last flush: the observer hears nodes and
	 * service names unpaired, so each touched node is sent with its
	 * instances of every touched name (its current ones, maybe none). */
	struct ev_prepare flush;
	char **nodes, **names;
	size_t nnodes, nnames, capnodes, capnames;
} feed;

static uint8_t
health_of(const char *status)
{
	if (strcmp(status, "passing") == 0)
		return 0;
	return strcmp(status, "warning") == 0 ? 1 : 2;
}

static int
svc_by_id(const void *key, const void *elem)
{
	const struct cat_service *const *s = elem;
	return cat_keycmp(key, (*s)->id);
}

static void
enc_svc(struct buf *out, const struct cat_service *s, uint8_t health)
{
	struct proto_dns_svc m = { .id = proto_str_c(s->id),
		.service = proto_str_c(s->name), .kind = proto_str_c(s->kind),
		.address = proto_str_c(s->address), .port = s->port,
		.tags = { .n = s->ntags, .items = (const char *const *)s->tags },
		.weights_passing = s->w_passing,
		.weights_warning = s->w_warning,
		.connect_native = s->connect_native, .health = health };
	proto_enc_dns_svc(out, &m);
}

/* The node's row: one pass over its checks folds each into the node's
 * health or its service's (services are held in ID order). */
static bool
named(char *const *names, size_t nnames, const char *name)
{
	for (size_t i = 0; i < nnames; i++)
		if (cat_keycmp(names[i], name) == 0)
			return true;
	return false;
}

/* With names NULL every instance (all_services); else the instances of
 * those names only, each name listed so one left with none goes. */
static void
enc_node(struct buf *out, const struct cat_node *n, char *const *names,
    size_t nnames)
{
	struct cat_list svcs;
	size_t ns = n->services.count, i = 0;
	const struct cat_service **v = xcalloc(ns + 1, sizeof(*v));
	uint8_t *h = xcalloc(ns + 1, 1), nh = 0;
	const char **meta = xcalloc(2 * (size_t)n->nmeta + 1, sizeof(*meta));

	for (struct cat_service *s = cat_node_service_first(n); s && i < ns;
	    s = cat_node_service_next(s))
		v[i++] = s;
	for (struct cat_check *c = cat_node_check_first(n); c;
	    c = cat_node_check_next(c)) {
		uint8_t ch = health_of(c->status);
		const struct cat_service **s;
		if (c->service_id[0] == '\0')
			nh = MAX(nh, ch);
		else if ((s = bsearch(c->service_id, v, i, sizeof(*v),
		    svc_by_id)) != NULL)
			h[s - v] = MAX(h[s - v], ch);
	}
	cat_list_init(&svcs);
	for (size_t k = 0; k < i; k++)
		if (names == NULL || named(names, nnames, v[k]->name))
			enc_svc(cat_list_add(&svcs), v[k], h[k]);
	for (uint32_t k = 0; k < n->nmeta; k++) {
		meta[2 * k] = n->meta[k].key;
		meta[2 * k + 1] = n->meta[k].val;
	}
	struct proto_dns_node m = { .name = proto_str_c(n->name),
		.address = proto_str_c(n->address),
		.datacenter = proto_str_c(n->dc),
		.meta = { .n = 2 * n->nmeta, .items = meta }, .health = nh,
		.all_services = names == NULL,
		.service_names = { .n = names ? (uint32_t)nnames : 0,
		    .items = (const char *const *)names },
		.services = cat_list_strv(&svcs) };
	proto_enc_dns_node(out, &m);
	cat_list_free(&svcs);
	free(meta);
	free(h);
	free(v);
}

static void
send_update(struct cat_list *rows, const char *gone, bool reset,
    bool complete)
{
	struct store *st = feed.st;
	struct buf out;
	const char *g[1] = { gone };
	struct proto_dns_update m = { .seq = reset ? 0 : feed.seq + 1,
		.index = MAX(feed.index, st->applied), .reset = reset,
		.complete = complete, .nodes = cat_list_strv(rows),
		.gone = { .n = gone != NULL, .items = g } };
	feed.seq = m.seq;
	buf_init(&out);
	proto_enc_dns_update(&out, &m);
	if (worker_send(st->w, PROC_DNS, PROTO_DNS_UPDATE, &out) < 0)
		feed.failed++;
	else
		feed.sent++;
	buf_free(&out);
}

/* Every node, in messages of about FEED_BATCH_BYTES, the first a reset
 * and the last complete (an empty catalog is one message, both). */
static void
full_sync(void)
{
	struct cat_db *db = store_catalog(feed.st);
	struct cat_list rows;
	bool first = true;
	cat_list_init(&rows);
	for (struct cat_node *n = cat_node_first(db); n; n = cat_node_next(n)) {
		enc_node(cat_list_add(&rows), n, NULL, 0);
		if (rows.data.len >= FEED_BATCH_BYTES && cat_node_next(n)) {
			send_update(&rows, NULL, first, false);
			first = false;
			cat_list_free(&rows);
			cat_list_init(&rows);
		}
	}
	send_update(&rows, NULL, first, true);
	cat_list_free(&rows);
}

/* The dns channel this subscription was made on is still the one up:
 * a restarted dns worker asks again, and nothing is sent until then. */
static bool
subscribed(void)
{
	struct worker *w = feed.st->w;
	return feed.subscribed && w->peer[PROC_DNS] != NULL &&
	    w->peer_epoch[PROC_DNS] == feed.epoch;
}

static void
pend_add(char ***v, size_t *n, size_t *cap, const char *name)
{
	if (named(*v, *n, name))
		return;
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = xstrdup(name);
}

static void
pend_clear(void)
{
	for (size_t i = 0; i < feed.nnodes; i++)
		free(feed.nodes[i]);
	for (size_t i = 0; i < feed.nnames; i++)
		free(feed.names[i]);
	feed.nnodes = feed.nnames = 0;
}

/* Before the loop blocks: every write applied this turn is complete, so
 * the rows are the live tables as of feed.index, and later writes come
 * in a later turn (deltas stay in apply order). */
static void
flush_cb(struct ev_loop *loop, struct ev_prepare *w, int revents)
{
	ev_prepare_stop(loop, w);
	for (size_t i = 0; subscribed() && i < feed.nnodes; i++) {
		struct cat_node *n = cat_node_get(store_catalog(feed.st),
		    feed.nodes[i]);
		struct cat_list rows;
		cat_list_init(&rows);
		if (n)
			enc_node(cat_list_add(&rows), n, feed.names,
			    feed.nnames);
		send_update(&rows, n ? NULL : feed.nodes[i], false, true);
		cat_list_free(&rows);
	}
	pend_clear();
}

/* index 0 is a snapshot restore (catalog_store.c): every row may have
 * changed, and indexes may have gone back. */
static void
observe(void *arg, uint64_t index, enum cat_change what, const char *name)
{
	feed.index = MAX(feed.index, index);
	if (!subscribed())
		return;
	if (index == 0) {
		feed.index = 0;
		pend_clear();
		full_sync();
		return;
	}
	if (what == CAT_CH_NODE)
		pend_add(&feed.nodes, &feed.nnodes, &feed.capnodes, name);
	else if (what == CAT_CH_SERVICE)
		pend_add(&feed.names, &feed.nnames, &feed.capnames, name);
	else
		return;
	ev_prepare_start(feed.st->w->loop, &feed.flush);
}

int
store_dnsfeed_init(struct store *st)
{
	feed.st = st;
	ev_prepare_init(&feed.flush, flush_cb);
	if (!st->server)
		return 0;
	return store_catalog_observe(st, observe, NULL);
}

void
store_on_dns_sync(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_dns_sync_req q;
	if (proto_dec_dns_sync_req(m->data, m->len, &q) < 0) {
		log_warnx("dns feed: malformed sync request");
		return;
	}
	if (!feed.st || !feed.st->server)
		return;	/* a client's dns worker pulls from a server */
	log_debug("dns feed: full sync (dns worker at index %llu)",
	    (unsigned long long)q.index);
	feed.subscribed = true;
	feed.epoch = w->peer_epoch[PROC_DNS];
	pend_clear();	/* the sync is newer than any of them */
	full_sync();
}
