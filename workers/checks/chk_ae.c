/*
 * Anti-entropy: the agent keeps the catalog's view of its node equal to
 * its local state (reference/consul.md 6.4; Consul's agent/ae StateSyncer
 * driving agent/local State.SyncFull and SyncChanges).
 *
 * States, as ae.go's: a full sync (read the catalog's services and checks
 * of this node, mark what differs, push) at start and then every
 * ae_interval + rand(scaleFactor(LAN members) * ae_interval); between
 * full syncs, a partial sync (push what the seam marked) whenever
 * something changes locally.  A failed full sync is retried after
 * ae_retry + rand(scale * ae_retry) - this is the pause with a logged
 * reason, e.g. the store's "No cluster leader" - and at once, after
 * rand(scale * ae_server_up), when a server joins the LAN pool (Consul's
 * ServerUp) or the store's channel comes up; local changes wait for it.
 *
 * A push walks, in order, services to deregister, services to register
 * (with their out-of-sync checks riding along, so a service never shows
 * without its checks), checks to deregister, checks to register (with
 * their service), then the node info if nothing carried it.  Up to
 * AE_WINDOW writes are in flight, never two for the same service or
 * check; a write answered after a newer local change leaves that change
 * out of sync (sync_seq), so nothing is lost to a race.  The first failed
 * write ends the pass, as SyncChanges returns on its first error.
 */
#include "workers/checks/chk_ae_int.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AE_WINDOW 64			/* writes in flight */
#define AE_TIMEOUT_MS 15000u		/* the store holds and forwards */
#define AE_READ_MAX_STALE_MS 2000	/* local.fullSyncReadMaxStale */

enum ae_phase {
	AE_IDLE,			/* partialSyncState, waiting */
	AE_READ,			/* full sync: reading the catalog */
	AE_PUSH,			/* a pass is running */
	AE_RETRY,			/* full sync failed: waiting to retry */
};

/* Where a pass is. */
enum ae_cursor {
	CUR_SVC_TOMBS, CUR_SERVICES, CUR_CHK_TOMBS, CUR_CHECKS, CUR_NODE,
	CUR_DONE,
};

enum ae_req_kind {
	REQ_READ_SVCS, REQ_READ_CHECKS, REQ_SVC, REQ_CHK, REQ_SVC_DEL,
	REQ_CHK_DEL, REQ_NODE,
};

struct ae_busy {
	struct avl_node node;
	char *key;			/* "s:" or "c:" and the ID */
};

struct ae_rider {
	char *id;
	uint64_t seq;
};

struct ae_req {
	struct ae_req *next, *prev;
	struct chk_ae *ae;
	enum ae_req_kind kind;
	int64_t handle;
	char *id;
	uint64_t seq;
	bool with_node;			/* SkipNodeUpdate was false */
	uint64_t node_seq;
	struct ae_rider *riders;	/* checks riding on a service */
	size_t nriders;
	struct ae_busy **busy;
	size_t nbusy;
};

/* A service's checks, for the riders: built once per pass. */
struct ae_pair {
	char *service_id, *check_id;
};

struct chk_ae {
	struct chk_state *st;
	enum ae_phase phase;
	struct ae_node node;
	bool node_in_sync;
	uint64_t node_seq;		/* bumped when node info changes */
	ev_timer full_timer;		/* waitNextFullSync */
	ev_timer wake;			/* retry, server-up delay */
	ev_timer kick;			/* coalesces partial syncs */
	bool wake_armed;
	/* full sync reads */
	struct buf rd[2];
	int nread;
	/* the pass */
	bool pass_full, pass_failed, again, want_full;
	char *pass_err;
	enum ae_cursor cur;
	char *cur_key;
	struct ae_pair *pairs;
	size_t npairs;
	bool pairs_built;
	struct avl_tree busy;
	struct ae_req *reqs;		/* in flight */
	unsigned inflight;
	struct chk_ae_stats stats;
};

static void start_full(struct chk_ae *ae);
static void pump(struct chk_ae *ae);

/* ---- timing (ae.go's delayer) ---- */

static double
rand_upto(int64_t ns)
{
	uint64_t r = 0;
	if (ns <= 0)
		return 0;
	random_bytes(&r, sizeof(r));
	return (double)(r % (uint64_t)ns) / 1e9;
}

/* Jitter(d): rand(scaleFactor(members) * d). */
static double
jitter(const struct chk_ae *ae, int64_t d)
{
	int64_t base = ae->st->tun.ae_interval;
	int64_t factor = base > 0 ? chk_sync_full_interval(ae->st) / base : 1;
	return rand_upto(factor * d);
}

static void
wake_in(struct chk_ae *ae, double secs)
{
	ev_timer_stop(ae->st->loop, &ae->wake);
	ev_timer_set(&ae->wake, secs, 0);
	ev_timer_start(ae->st->loop, &ae->wake);
	ae->wake_armed = true;
}

/* ---- busy keys ---- */

static int
busy_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return strcmp(avl_entry(a, struct ae_busy, node)->key,
	    avl_entry(b, struct ae_busy, node)->key);
}

static int
busy_key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct ae_busy, node)->key);
}

static bool
is_busy(const struct chk_ae *ae, const char *pfx, const char *id)
{
	char *k = xasprintf("%s%s", pfx, id);
	bool b = avl_find(&ae->busy, k, busy_key_cmp) != NULL;
	free(k);
	return b;
}

static void
busy_add(struct ae_req *r, const char *pfx, const char *id)
{
	struct ae_busy *b = xcalloc(1, sizeof(*b));
	b->key = xasprintf("%s%s", pfx, id);
	avl_insert(&r->ae->busy, &b->node);
	r->busy = xrealloc(r->busy, (r->nbusy + 1) * sizeof(*r->busy));
	r->busy[r->nbusy++] = b;
}

/* ---- requests ---- */

static struct ae_req *
req_new(struct chk_ae *ae, enum ae_req_kind kind, const char *id,
    uint64_t seq)
{
	struct ae_req *r = xcalloc(1, sizeof(*r));
	r->ae = ae;
	r->kind = kind;
	r->id = xstrdup(id ? id : "");
	r->seq = seq;
	return r;
}

static void
req_free(struct ae_req *r)
{
	for (size_t i = 0; i < r->nbusy; i++) {
		avl_remove(&r->ae->busy, &r->busy[i]->node);
		free(r->busy[i]->key);
		free(r->busy[i]);
	}
	for (size_t i = 0; i < r->nriders; i++)
		free(r->riders[i].id);
	free(r->riders);
	free(r->busy);
	free(r->id);
	free(r);
}

static void
req_unlink(struct ae_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->ae->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->ae->inflight--;
}

static void req_done(void *arg, uint16_t type, const void *p, size_t n,
    int err);

/* Send r (taken): false when it could not go (r freed). */
static bool
req_send(struct ae_req *r, uint16_t type, const struct buf *msg)
{
	struct chk_ae *ae = r->ae;
	struct chk_state *st = ae->st;
	int64_t h = st->store_request ? st->store_request(st, type, msg,
	    AE_TIMEOUT_MS, req_done, r) : -ENOTCONN;
	if (h < 0) {
		req_free(r);
		return false;
	}
	r->handle = h;
	r->next = ae->reqs;
	if (ae->reqs)
		ae->reqs->prev = r;
	ae->reqs = r;
	ae->inflight++;
	return true;
}

/* The answer's error: 0 for the wanted type, else < 0 and why in msg. */
static int
reply_error(uint16_t type, const void *p, size_t n, int err, uint16_t want,
    char *msg, size_t len)
{
	struct proto_result res;
	if (err < 0) {
		snprintf(msg, len, "store unreachable: %s",
		    chk_errstr(-err, (char[128]){ 0 }));
		return err;
	}
	if (type == want)
		return 0;
	if (type == PROTO_RESULT && proto_dec_result(p, n, &res) == 0) {
		snprintf(msg, len, "%.*s", (int)res.message.len, res.message.p);
		return res.code < 0 ? res.code : -EIO;
	}
	snprintf(msg, len, "unexpected answer from the store");
	return -EBADMSG;
}

/* ---- the full sync's failure and success ---- */

static void
full_failed(struct chk_ae *ae, const char *why)
{
	struct chk_state *st = ae->st;
	double d = (double)st->tun.ae_retry / 1e9 + jitter(ae, st->tun.ae_retry);
	ae->stats.full_failures++;
	if (!ae->stats.paused)
		log_warnx("agent: anti-entropy paused: failed to sync remote "
		    "state: %s (retrying in %.0f s)", why, d);
	else
		log_warnx("agent: failed to sync remote state: %s (retrying "
		    "in %.0f s)", why, d);
	ae->stats.paused = true;
	ae->phase = AE_RETRY;
	wake_in(ae, d);
}

static void
full_ok(struct chk_ae *ae)
{
	ae->stats.full_syncs++;
	if (ae->stats.paused)
		log_info("agent: anti-entropy resumed: node, services and "
		    "checks in sync with the catalog");
	ae->stats.paused = false;
}

/* ---- the pass ---- */

static void
pairs_free(struct chk_ae *ae)
{
	for (size_t i = 0; i < ae->npairs; i++) {
		free(ae->pairs[i].service_id);
		free(ae->pairs[i].check_id);
	}
	free(ae->pairs);
	ae->pairs = NULL;
	ae->npairs = 0;
	ae->pairs_built = false;
}

static void
start_push(struct chk_ae *ae, bool full)
{
	ae->phase = AE_PUSH;
	ae->pass_full = full;
	ae->pass_failed = false;
	ae->again = false;
	free(ae->pass_err);
	ae->pass_err = NULL;
	ae->cur = CUR_SVC_TOMBS;
	free(ae->cur_key);
	ae->cur_key = NULL;
	pairs_free(ae);
	pump(ae);
}

static void
push_done(struct chk_ae *ae)
{
	bool failed = ae->pass_failed;
	ae->phase = AE_IDLE;
	pairs_free(ae);
	if (ae->pass_full) {
		if (failed) {
			full_failed(ae, ae->pass_err);
			return;
		}
		full_ok(ae);
	} else if (failed)
		log_warnx("agent: failed to sync changes: %s", ae->pass_err);
	if (ae->want_full) {
		ae->want_full = false;
		start_full(ae);
	} else if (ae->again && !failed)
		ev_timer_start(ae->st->loop, &ae->kick);
}

static void
write_failed(struct chk_ae *ae, const char *what, const char *id,
    const char *msg)
{
	ae->stats.write_failures++;
	log_warnx("agent: %s %s%s%s failed: %s", what, id[0] ? "\"" : "", id,
	    id[0] ? "\"" : "", msg);
	if (!ae->pass_failed) {
		ae->pass_failed = true;
		ae->pass_err = xstrdup(msg);
	}
}

static void
read_done(struct chk_ae *ae, struct ae_req *r, const void *p, size_t n,
    int code, const char *msg)
{
	struct buf *b = &ae->rd[r->kind == REQ_READ_CHECKS];
	if (code < 0) {
		if (!ae->pass_failed) {
			ae->pass_failed = true;
			ae->pass_err = xstrdup(msg);
		}
	} else
		buf_add(b, p, n);
	if (++ae->nread < 2)
		return;
	if (ae->pass_failed) {
		full_failed(ae, ae->pass_err);
		return;
	}
	if (ae_diff(ae->st, &ae->node, &ae->node_in_sync, ae->rd[0].data,
	    ae->rd[0].len, ae->rd[1].data, ae->rd[1].len) < 0) {
		full_failed(ae, "malformed catalog answer");
		return;
	}
	start_push(ae, true);
}

static void
mark_checks_of(struct chk_ae *ae, const char *service_id)
{
	struct chk_state *st = ae->st;
	struct avl_node *n, *next;
	for (n = avl_first(&st->chk_tombs); n; n = next) {
		struct chk_tomb *t = avl_entry(n, struct chk_tomb, node);
		next = avl_next(n);
		/* the catalog dropped them with their service */
		if (strcmp(t->service_id, service_id) == 0 &&
		    !is_busy(ae, "c:", t->id))
			chk_sync_tomb_drop(st, false, t);
	}
}

static void
write_ok(struct chk_ae *ae, struct ae_req *r)
{
	struct chk_state *st = ae->st;
	struct chk_service *s;
	struct chk_check *c;
	struct chk_tomb *t;
	switch (r->kind) {
	case REQ_SVC:
		if ((s = chk_service_find(st, r->id)) && s->sync_seq == r->seq)
			s->in_sync = true;
		log_info("agent: Synced service \"%s\"", r->id);
		break;
	case REQ_CHK:
		log_debug("agent: Synced check \"%s\"", r->id);
		break;
	case REQ_SVC_DEL:
		if ((t = chk_sync_tomb(st, true, r->id)) && t->sync_seq == r->seq)
			chk_sync_tomb_drop(st, true, t);
		mark_checks_of(ae, r->id);
		log_info("agent: Deregistered service \"%s\"", r->id);
		break;
	case REQ_CHK_DEL:
		if ((t = chk_sync_tomb(st, false, r->id)) && t->sync_seq == r->seq)
			chk_sync_tomb_drop(st, false, t);
		log_info("agent: Deregistered check \"%s\"", r->id);
		break;
	case REQ_NODE:
		log_info("agent: Synced node info");
		break;
	default:
		break;
	}
	for (size_t i = 0; i < r->nriders; i++)
		if ((c = chk_check_find(st, r->riders[i].id)) &&
		    c->sync_seq == r->riders[i].seq)
			c->in_sync = true;
	if (r->with_node && r->node_seq == ae->node_seq)
		ae->node_in_sync = true;
}

static void
req_done(void *arg, uint16_t type, const void *p, size_t n, int err)
{
	static const char *const what[] = { [REQ_SVC] = "Syncing service",
		[REQ_CHK] = "Syncing check",
		[REQ_SVC_DEL] = "Deregistering service",
		[REQ_CHK_DEL] = "Deregistering check",
		[REQ_NODE] = "Syncing node info" };
	struct ae_req *r = arg;
	struct chk_ae *ae = r->ae;
	char msg[512];
	bool read = r->kind == REQ_READ_SVCS || r->kind == REQ_READ_CHECKS;
	int code = reply_error(type, p, n, err, read ? PROTO_CAT_READ :
	    PROTO_CAT_WRITE, msg, sizeof(msg));

	req_unlink(r);
	if (read)
		read_done(ae, r, p, n, code, msg);
	else if (code < 0)
		write_failed(ae, what[r->kind], r->id, msg);
	else
		write_ok(ae, r);
	req_free(r);
	if (!read)
		pump(ae);
}

/* ---- what a pass sends ---- */

static void
send_register(struct ae_req *r, const struct buf *svc, struct buf *checks,
    size_t nchecks)
{
	struct chk_ae *ae = r->ae;
	struct proto_str *views = xcalloc(nchecks + 1, sizeof(*views));
	struct buf node, msg;
	buf_init(&node);
	buf_init(&msg);
	ae_enc_node(&node, &ae->node);
	for (size_t i = 0; i < nchecks; i++) {
		views[i].p = (const char *)checks[i].data;
		views[i].len = (uint32_t)checks[i].len;
	}
	r->with_node = !ae->node_in_sync;
	r->node_seq = ae->node_seq;
	struct proto_cat_register m = {
		.node = { (const char *)node.data, (uint32_t)node.len },
		.skip_node_update = !r->with_node,
		.service = { svc ? (const char *)svc->data : "",
		    svc ? (uint32_t)svc->len : 0 },
		.checks = { .n = (uint32_t)nchecks, .strs = views } };
	proto_enc_cat_register(&msg, &m);
	if (req_send(r, PROTO_CAT_REGISTER, &msg))
		ae->stats.writes++;
	else
		write_failed(ae, "Syncing", "", "store not connected");
	buf_free(&msg);
	buf_free(&node);
	free(views);
}

static void
send_deregister(struct chk_ae *ae, bool service, const struct chk_tomb *t)
{
	struct ae_req *r = req_new(ae, service ? REQ_SVC_DEL : REQ_CHK_DEL,
	    t->id, t->sync_seq);
	struct proto_cat_deregister m = {
		.node = proto_str_c(ae->node.name),
		.service_id = proto_str_c(service ? t->id : ""),
		.check_id = proto_str_c(service ? "" : t->id) };
	struct buf msg;
	busy_add(r, service ? "s:" : "c:", t->id);
	buf_init(&msg);
	proto_enc_cat_deregister(&msg, &m);
	if (req_send(r, PROTO_CAT_DEREGISTER, &msg))
		ae->stats.writes++;
	else
		write_failed(ae, "Deregistering", t->id, "store not connected");
	buf_free(&msg);
}

static int
pair_cmp(const void *a, const void *b)
{
	const struct ae_pair *x = a, *y = b;
	int c = strcmp(x->service_id, y->service_id);
	return c ? c : strcmp(x->check_id, y->check_id);
}

/* The service -> checks index the riders come from (copies: checks may
 * go while the pass runs). */
static void
pairs_build(struct chk_ae *ae)
{
	struct chk_state *st = ae->st;
	ae->pairs = xcalloc(st->checks.count + 1, sizeof(*ae->pairs));
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a)) {
		struct chk_check *c = avl_entry(a, struct chk_check, node);
		if (c->service_id[0] == '\0')
			continue;
		ae->pairs[ae->npairs].service_id = xstrdup(c->service_id);
		ae->pairs[ae->npairs++].check_id = xstrdup(c->id);
	}
	qsort(ae->pairs, ae->npairs, sizeof(*ae->pairs), pair_cmp);
	ae->pairs_built = true;
}

/* The service and its out-of-sync checks, in one registration. */
static void
send_service(struct chk_ae *ae, struct chk_service *s)
{
	struct chk_state *st = ae->st;
	struct ae_req *r = req_new(ae, REQ_SVC, s->id, s->sync_seq);
	struct buf svc, *checks;
	size_t lo = 0, hi, n = 0;

	if (!ae->pairs_built)
		pairs_build(ae);
	busy_add(r, "s:", s->id);
	hi = ae->npairs;
	while (lo < hi) {	/* the first pair of this service */
		size_t mid = (lo + hi) / 2;
		if (strcmp(ae->pairs[mid].service_id, s->id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	checks = xcalloc(1, sizeof(*checks));
	for (size_t i = lo; i < ae->npairs &&
	    strcmp(ae->pairs[i].service_id, s->id) == 0; i++) {
		struct chk_check *c = chk_check_find(st, ae->pairs[i].check_id);
		if (c == NULL || c->in_sync || strcmp(c->service_id, s->id) ||
		    is_busy(ae, "c:", c->id))
			continue;
		checks = xrealloc(checks, (n + 1) * sizeof(*checks));
		buf_init(&checks[n]);
		ae_enc_check(&checks[n++], st, c);
		chk_sync_forget(st, c);	/* this push carries its output */
		busy_add(r, "c:", c->id);
		r->riders = xrealloc(r->riders, n * sizeof(*r->riders));
		r->riders[n - 1].id = xstrdup(c->id);
		r->riders[n - 1].seq = c->sync_seq;
		r->nriders = n;
	}
	buf_init(&svc);
	ae_enc_service(&svc, st, s);
	send_register(r, &svc, checks, n);
	for (size_t i = 0; i < n; i++)
		buf_free(&checks[i]);
	free(checks);
	buf_free(&svc);
}

/* A check with its service (syncCheck pulls the service in). */
static void
send_check(struct chk_ae *ae, struct chk_check *c)
{
	struct chk_state *st = ae->st;
	struct chk_service *s = c->service_id[0] ?
	    chk_service_find(st, c->service_id) : NULL;
	struct ae_req *r = req_new(ae, REQ_CHK, c->id, c->sync_seq);
	struct buf svc, chk;
	busy_add(r, "c:", c->id);
	r->riders = xcalloc(1, sizeof(*r->riders));
	r->riders[0].id = xstrdup(c->id);
	r->riders[0].seq = c->sync_seq;
	r->nriders = 1;
	chk_sync_forget(st, c);
	buf_init(&svc);
	buf_init(&chk);
	if (s)
		ae_enc_service(&svc, st, s);
	ae_enc_check(&chk, st, c);
	send_register(r, s ? &svc : NULL, &chk, 1);
	buf_free(&svc);
	buf_free(&chk);
}

static void
send_node(struct chk_ae *ae)
{
	struct ae_req *r = req_new(ae, REQ_NODE, "", 0);
	busy_add(r, "n:", "");
	send_register(r, NULL, NULL, 0);
}

/* ---- the cursor ---- */

static int
svc_key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct chk_service, node)->id);
}

static int
chk_key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct chk_check, node)->id);
}

static int
tomb_key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct chk_tomb, node)->id);
}

static const char *
node_key(enum ae_cursor cur, const struct avl_node *n)
{
	switch (cur) {
	case CUR_SVC_TOMBS:
	case CUR_CHK_TOMBS:
		return avl_entry(n, struct chk_tomb, node)->id;
	case CUR_SERVICES:
		return avl_entry(n, struct chk_service, node)->id;
	default:
		return avl_entry(n, struct chk_check, node)->id;
	}
}

/* The next entry of the cursor's tree after its key (trees change while
 * writes are in flight: the key, not a pointer, is the position). */
static struct avl_node *
cursor_next(struct chk_ae *ae)
{
	struct chk_state *st = ae->st;
	const struct avl_tree *t = ae->cur == CUR_SVC_TOMBS ? &st->svc_tombs :
	    ae->cur == CUR_CHK_TOMBS ? &st->chk_tombs :
	    ae->cur == CUR_SERVICES ? &st->services : &st->checks;
	avl_key_cmp_fn *cmp = ae->cur == CUR_SERVICES ? svc_key_cmp :
	    ae->cur == CUR_CHECKS ? chk_key_cmp : tomb_key_cmp;
	struct avl_node *n;
	if (t->cmp == NULL)
		return NULL;
	if (ae->cur_key == NULL)
		n = avl_first(t);
	else if ((n = avl_seek(t, ae->cur_key, cmp)) != NULL &&
	    strcmp(node_key(ae->cur, n), ae->cur_key) == 0)
		n = avl_next(n);
	if (n) {
		free(ae->cur_key);
		ae->cur_key = xstrdup(node_key(ae->cur, n));
	}
	return n;
}

static void
cursor_advance(struct chk_ae *ae)
{
	ae->cur++;
	free(ae->cur_key);
	ae->cur_key = NULL;
}

/* Send the next write of the pass; false when nothing more can go now. */
static bool
next_write(struct chk_ae *ae)
{
	struct avl_node *n;
	while (ae->cur != CUR_DONE) {
		if (ae->cur == CUR_NODE) {
			if (ae->node_in_sync) {
				cursor_advance(ae);
				continue;
			}
			if (ae->inflight > 0)	/* a service may carry it */
				return false;
			send_node(ae);
			cursor_advance(ae);
			return true;
		}
		if ((n = cursor_next(ae)) == NULL) {
			cursor_advance(ae);
			continue;
		}
		if (ae->cur == CUR_SVC_TOMBS || ae->cur == CUR_CHK_TOMBS) {
			bool svc = ae->cur == CUR_SVC_TOMBS;
			struct chk_tomb *t = avl_entry(n, struct chk_tomb, node);
			if (is_busy(ae, svc ? "s:" : "c:", t->id))
				continue;
			send_deregister(ae, svc, t);
			return true;
		}
		if (ae->cur == CUR_SERVICES) {
			struct chk_service *s = avl_entry(n, struct chk_service,
			    node);
			if (s->in_sync || is_busy(ae, "s:", s->id))
				continue;
			send_service(ae, s);
			return true;
		}
		struct chk_check *c = avl_entry(n, struct chk_check, node);
		if (c->in_sync || is_busy(ae, "c:", c->id))
			continue;
		send_check(ae, c);
		return true;
	}
	return false;
}

static void
pump(struct chk_ae *ae)
{
	if (ae->phase != AE_PUSH)
		return;
	while (!ae->pass_failed && ae->inflight < AE_WINDOW && next_write(ae))
		;
	if (ae->inflight == 0 && (ae->pass_failed || ae->cur == CUR_DONE))
		push_done(ae);
}

/* ---- the state machine ---- */

static void
send_read(struct chk_ae *ae, enum ae_req_kind kind)
{
	struct ae_req *r = req_new(ae, kind, "", 0);
	struct proto_cat_read_req q = { .what = kind == REQ_READ_SVCS ?
		CAT_Q_NODE_SERVICES : CAT_Q_HEALTH_NODE,
		.name = proto_str_c(ae->node.name), .consistency = 1,
		.max_stale_ms = AE_READ_MAX_STALE_MS };
	struct buf msg;
	buf_init(&msg);
	proto_enc_cat_read_req(&msg, &q);
	if (!req_send(r, PROTO_CAT_READ_REQ, &msg) && !ae->pass_failed) {
		ae->pass_failed = true;
		ae->pass_err = xstrdup("store not connected");
	}
	buf_free(&msg);
}

/* fullSyncState: the next full sync is timed from this one's start. */
static void
start_full(struct chk_ae *ae)
{
	struct chk_state *st = ae->st;
	double next = (double)st->tun.ae_interval / 1e9 +
	    jitter(ae, st->tun.ae_interval);
	ev_timer_stop(st->loop, &ae->full_timer);
	ev_timer_set(&ae->full_timer, next, 0);
	ev_timer_start(st->loop, &ae->full_timer);
	ev_timer_stop(st->loop, &ae->wake);
	ev_timer_stop(st->loop, &ae->kick);
	ae->wake_armed = false;
	ae->phase = AE_READ;
	ae->want_full = false;
	ae->pass_full = true;
	ae->pass_failed = false;
	free(ae->pass_err);
	ae->pass_err = NULL;
	buf_reset(&ae->rd[0]);
	buf_reset(&ae->rd[1]);
	ae->nread = 0;
	send_read(ae, REQ_READ_SVCS);
	send_read(ae, REQ_READ_CHECKS);
	if (ae->inflight == 0)
		full_failed(ae, ae->pass_err);
	else if (ae->pass_failed)
		ae->nread++;	/* the one that went is still awaited */
}

static void
full_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct chk_ae *ae = t->data;
	if (ae->phase == AE_IDLE)
		start_full(ae);
	else if (ae->phase == AE_PUSH)
		ae->want_full = true;
}

static void
wake_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct chk_ae *ae = t->data;
	ae->wake_armed = false;
	if (ae->phase == AE_IDLE || ae->phase == AE_RETRY)
		start_full(ae);
	else
		ae->want_full = true;
}

static void
kick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct chk_ae *ae = t->data;
	if (ae->phase == AE_IDLE)
		start_push(ae, false);
}

/* The seam's kick: SyncChanges.Trigger. */
static void
ae_kick(struct chk_state *st)
{
	struct chk_ae *ae = st->ae;
	if (ae->phase == AE_IDLE)
		ev_timer_start(st->loop, &ae->kick);
	else if (ae->phase == AE_PUSH)
		ae->again = true;
	/* a full sync running or to be retried pushes everything anyway */
}

/* ---- API ---- */

void
chk_ae_start(struct chk_state *st)
{
	struct chk_ae *ae;
	if (st->ae)
		return;
	ae = st->ae = xcalloc(1, sizeof(*ae));
	ae->st = st;
	ae_node_build(&ae->node, st);
	avl_init(&ae->busy, busy_cmp);
	buf_init(&ae->rd[0]);
	buf_init(&ae->rd[1]);
	ev_timer_init(&ae->full_timer, full_timer_cb, 0, 0);
	ev_timer_init(&ae->wake, wake_cb, 0, 0);
	ev_timer_init(&ae->kick, kick_cb, 0, 0);
	ae->full_timer.data = ae->wake.data = ae->kick.data = ae;
	st->sync_kick = ae_kick;
	start_full(ae);
}

void
chk_ae_stop(struct chk_state *st)
{
	struct chk_ae *ae = st->ae;
	struct ae_req *r;
	if (ae == NULL)
		return;
	st->sync_kick = NULL;
	while ((r = ae->reqs) != NULL) {
		if (st->store_cancel)
			st->store_cancel(st, r->handle);
		req_unlink(r);
		req_free(r);
	}
	ev_timer_stop(st->loop, &ae->full_timer);
	ev_timer_stop(st->loop, &ae->wake);
	ev_timer_stop(st->loop, &ae->kick);
	pairs_free(ae);
	ae_node_free(&ae->node);
	buf_free(&ae->rd[0]);
	buf_free(&ae->rd[1]);
	free(ae->pass_err);
	free(ae->cur_key);
	free(ae);
	st->ae = NULL;
}

void
chk_ae_node_changed(struct chk_state *st)
{
	struct chk_ae *ae = st->ae;
	if (ae == NULL)
		return;
	ae_node_free(&ae->node);
	ae_node_build(&ae->node, st);
	ae->node_seq++;
	ae->node_in_sync = false;
	ae_kick(st);
}

void
chk_ae_server_up(struct chk_state *st)
{
	struct chk_ae *ae = st->ae;
	if (ae == NULL)
		return;
	if (ae->phase == AE_IDLE || ae->phase == AE_RETRY) {
		double d = jitter(ae, st->tun.ae_server_up);
		if (!ae->wake_armed || ev_timer_remaining(st->loop,
		    &ae->wake) > d)
			wake_in(ae, d);
	} else
		ae->want_full = true;
}

void
chk_ae_sync_full(struct chk_state *st)
{
	struct chk_ae *ae = st->ae;
	if (ae == NULL)
		return;
	if (ae->phase == AE_IDLE || ae->phase == AE_RETRY)
		start_full(ae);
	else
		ae->want_full = true;
}

void
chk_ae_stats(const struct chk_state *st, struct chk_ae_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (st->ae) {
		*out = st->ae->stats;
		out->node_in_sync = st->ae->node_in_sync;
	}
}
