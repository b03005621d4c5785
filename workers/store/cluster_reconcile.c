/*
 * The leader reconciles gossip's LAN members into the catalog (see
 * cluster_reconcile.h).  The member table is cluster.c's; what a server's
 * "consul" service carries as Meta (protocol versions, which the table
 * does not keep) is remembered here from its latest MEMBER_EVENT.
 *
 * Writes are proposed without anyone waiting for them (a waiter whose
 * peer is no process: store_reply drops the answer); the catalog shows
 * them once applied, and the next pass re-proposes anything lost with a
 * leadership change.  The state is per store (the unit tests run several
 * stores in one process).
 */
#include "workers/store/cluster_reconcile.h"
#include "workers/store/catalog_store.h"
#include "workers/store/cluster.h"
#include "workers/store/store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REC_INTERVAL_MS 60000	/* Consul's ReconcileInterval */
#define REC_SETTLE_MS 1000	/* gossip's replay of its members on connect */

/* Consul's structs.SerfCheck* and ConsulService* constants. */
#define SERF_CHECK_ID "serfHealth"
#define SERF_CHECK_NAME "Serf Health Status"
#define SERF_ALIVE_OUTPUT "Agent alive and reachable"
#define SERF_FAILED_OUTPUT "Agent not live or unreachable"
#define CONSUL_SERVICE "consul"

/* The consul service's Meta (handleAliveMember), in key order. */
enum {
	MK_GRPC, MK_GRPC_TLS, MK_NONVOTER, MK_RAFT, MK_READ_REPLICA,
	MK_SERF_CUR, MK_SERF_MAX, MK_SERF_MIN, MK_VERSION, MK_N
};
static const char *const meta_keys[MK_N] = {
	"grpc_port", "grpc_tls_port", "non_voter", "raft_version",
	"read_replica", "serf_protocol_current", "serf_protocol_max",
	"serf_protocol_min", "version",
};

struct rec_server {
	char name[RFT_NAME_MAX];
	unsigned has;			/* bit per meta key present */
	char val[MK_N][64];
};

struct rec {
	struct store *st;
	struct rec *next;
	bool established;		/* the initial pass of term ran */
	uint64_t term;
	uint64_t next_full_ms;
	uint64_t heard_ms;		/* first LAN member event, mono ms */
	struct rec_server *srv;
	size_t nsrv, capsrv;
};

static struct rec *recs;

static struct rec *
rec_get(struct store *st)
{
	struct rec *r;
	for (r = recs; r; r = r->next)
		if (r->st == st)
			return r;
	r = xcalloc(1, sizeof(*r));
	r->st = st;
	r->next = recs;
	recs = r;
	return r;
}

void
cluster_reconcile_stop(struct store *st)
{
	for (struct rec **pp = &recs; *pp; pp = &(*pp)->next)
		if ((*pp)->st == st) {
			struct rec *r = *pp;
			*pp = r->next;
			free(r->srv);
			free(r);
			return;
		}
}

/* ---- what a server's consul service carries -------------------------- */

static struct rec_server *
server_find(struct rec *r, const char *name)
{
	for (size_t i = 0; i < r->nsrv; i++)
		if (strcmp(r->srv[i].name, name) == 0)
			return &r->srv[i];
	return NULL;
}

static void
meta_set(struct rec_server *s, int k, const char *v)
{
	strlcpy_m(s->val[k], v, sizeof(s->val[k]));
	s->has |= 1u << k;
}

static void
meta_setu(struct rec_server *s, int k, unsigned v)
{
	char b[16];
	snprintf(b, sizeof(b), "%u", v);
	meta_set(s, k, b);
}

/* metadata.IsConsulServer's parts as handleAliveMember renders them. */
static void
server_meta(struct rec_server *s, const struct proto_member *pm)
{
	struct proto_strv_iter it;
	struct proto_str k, v;
	char buf[64];
	unsigned raft = 0;
	bool nonvoter = false, replica = false;
	s->has = 0;
	s->val[MK_VERSION][0] = '\0';
	proto_strv_iter_init(&it, &pm->tags);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v)) {
		if (proto_str_copy(v, buf, sizeof(buf)) < 0)
			continue;
		if (proto_str_eq(k, "nonvoter"))
			nonvoter = strcmp(buf, "1") == 0;
		else if (proto_str_eq(k, "read_replica"))
			replica = strcmp(buf, "1") == 0;
		else if (proto_str_eq(k, "raft_vsn"))
			raft = (unsigned)strtoul(buf, NULL, 10);
		else if (proto_str_eq(k, "build"))
			snprintf(s->val[MK_VERSION], sizeof(s->val[0]), "%.*s",
			    (int)strcspn(buf, ":"), buf);
		else if (proto_str_eq(k, "grpc_port") && atoi(buf) > 0)
			meta_setu(s, MK_GRPC, (unsigned)atoi(buf));
		else if (proto_str_eq(k, "grpc_tls_port") && atoi(buf) > 0)
			meta_setu(s, MK_GRPC_TLS, (unsigned)atoi(buf));
	}
	meta_set(s, MK_NONVOTER, nonvoter ? "true" : "false");
	meta_set(s, MK_READ_REPLICA, replica ? "true" : "false");
	meta_setu(s, MK_RAFT, raft);
	meta_setu(s, MK_SERF_CUR, pm->protocol_cur);
	meta_setu(s, MK_SERF_MAX, pm->protocol_max);
	meta_setu(s, MK_SERF_MIN, pm->protocol_min);
	s->has |= 1u << MK_VERSION;
}

static void
server_update(struct rec *r, const struct cl_member *m,
    const struct proto_member *pm)
{
	struct rec_server *s = server_find(r, m->name);
	if (!m->server || m->status == CL_REAPED) {
		if (s)
			*s = r->srv[--r->nsrv];
		return;
	}
	if (s == NULL) {
		if (r->nsrv == r->capsrv) {
			r->capsrv = r->capsrv ? r->capsrv * 2 : 8;
			r->srv = xrealloc(r->srv, r->capsrv * sizeof(*r->srv));
		}
		s = &r->srv[r->nsrv++];
		memset(s, 0, sizeof(*s));
		strlcpy_m(s->name, m->name, sizeof(s->name));
	}
	server_meta(s, pm);
}

/* ---- rows of a registration ------------------------------------------- */

static struct cat_kv *
kv_copy(const struct cat_kv *kv, uint32_t n)
{
	struct cat_kv *out = xcalloc(n + 1, sizeof(*out));
	for (uint32_t i = 0; i < n; i++) {
		out[i].key = xstrdup(kv[i].key);
		out[i].val = xstrdup(kv[i].val);
	}
	return out;
}

/* The member as a node; an existing row keeps its tagged addresses and
 * node meta (the agent's anti-entropy owns those). */
static struct cat_node *
member_node(const struct cl_member *m, const char *dc,
    const struct cat_node *old)
{
	struct cat_node *n = xcalloc(1, sizeof(*n));
	n->id = xstrdup(m->node_id);
	n->name = xstrdup(m->name);
	n->address = xstrdup(m->ip);
	n->dc = xstrdup(dc);
	if (old) {
		n->has_tagged = old->has_tagged;
		n->tagged = kv_copy(old->tagged, old->ntagged);
		n->ntagged = old->ntagged;
		n->has_meta = old->has_meta;
		n->meta = kv_copy(old->meta, old->nmeta);
		n->nmeta = old->nmeta;
	}
	return n;
}

static struct cat_check *
serf_check(const char *node, bool alive)
{
	struct cat_check *c = xcalloc(1, sizeof(*c));
	c->node_name = xstrdup(node);
	c->check_id = xstrdup(SERF_CHECK_ID);
	c->name = xstrdup(SERF_CHECK_NAME);
	c->status = xstrdup(alive ? "passing" : "critical");
	c->notes = xstrdup("");
	c->output = xstrdup(alive ? SERF_ALIVE_OUTPUT : SERF_FAILED_OUTPUT);
	c->service_id = xstrdup("");
	c->service_name = xstrdup("");
	c->type = xstrdup("");
	c->interval = xstrdup("");
	c->timeout = xstrdup("");
	c->definition = xstrdup("{}");
	return c;
}

static struct cat_service *
consul_service(const struct rec_server *s, int port)
{
	struct cat_service *svc = xcalloc(1, sizeof(*svc));
	svc->kind = xstrdup("");
	svc->id = xstrdup(CONSUL_SERVICE);
	svc->name = xstrdup(CONSUL_SERVICE);
	svc->address = xstrdup("");
	svc->socket_path = xstrdup("");
	svc->port = port;
	svc->w_passing = svc->w_warning = 1;
	svc->has_meta = true;
	svc->meta = xcalloc(MK_N + 1, sizeof(*svc->meta));
	for (int k = 0; k < MK_N; k++)
		if (s->has & 1u << k) {
			svc->meta[svc->nmeta].key = xstrdup(meta_keys[k]);
			svc->meta[svc->nmeta++].val = xstrdup(s->val[k]);
		}
	return svc;
}

/* Does the catalog's consul service match what we would register? */
static bool
consul_service_same(const struct cat_node *n, const struct rec_server *s,
    int port)
{
	const struct cat_service *svc = cat_service_get(n, CONSUL_SERVICE);
	uint32_t i = 0;
	if (svc == NULL || svc->port != port)
		return false;
	for (int k = 0; k < MK_N; k++) {
		if (!(s->has & 1u << k))
			continue;
		if (i >= svc->nmeta || strcmp(svc->meta[i].key, meta_keys[k]) ||
		    strcmp(svc->meta[i].val, s->val[k]))
			return false;
		i++;
	}
	return i == svc->nmeta;
}

/* ---- proposals ---------------------------------------------------------- */

static void
propose(struct store *st, uint16_t type, const struct buf *cmd,
    const char *name)
{
	/* Nobody waits: store_reply drops answers to a peer past PROC_MAX. */
	struct store_waiter w = { .peer = PROC_MAX, .type = type };
	buf_init(&w.req);
	int r = store_propose(st, type, cmd, &w);
	if (r < 0) {
		log_warnx("reconcile: member %s: %s", name, strerror(-r));
		store_waiter_free(&w);
	}
}

/* Takes reg. */
static void
propose_register(struct store *st, struct cat_reg *reg)
{
	char err[512];
	struct buf cmd;
	if (cat_reg_check(reg, err, sizeof(err)) < 0) {
		log_warnx("reconcile: member %s: %s", reg->node->name, err);
		cat_reg_free(reg);
		return;
	}
	buf_init(&cmd);
	cat_enc_register(&cmd, reg);
	propose(st, PROTO_CAT_REGISTER, &cmd, reg->node->name);
	buf_free(&cmd);
	cat_reg_free(reg);
}

static void
reg_add_check(struct cat_reg *reg, struct cat_check *c)
{
	reg->checks = xcalloc(1, sizeof(*reg->checks));
	reg->checks[0] = c;
	reg->nchecks = 1;
}

static bool
serf_status_is(const struct cat_node *n, const char *status)
{
	const struct cat_check *c = cat_check_get(n, SERF_CHECK_ID);
	return c && strcmp(c->status, status) == 0;
}

/* ---- Consul's handle{Alive,Failed,Deregister}Member ------------------- */

static int
server_port(const struct cl_member *m)
{
	const char *p = strrchr(m->rpc_addr, ':');
	return p ? atoi(p + 1) : 0;
}

static void
handle_alive(struct store *st, struct rec *r, const struct cl_member *m)
{
	const char *dc = st->w->cfg->datacenter;
	struct cat_node *n = cat_node_get(store_catalog(st), m->name);
	const struct rec_server *s = NULL;
	int port = 0;
	if (m->server && (port = server_port(m)) > 0 &&
	    (s = server_find(r, m->name)) == NULL) {
		/* Only from the configuration yet: its own event will come. */
		log_debug("reconcile: server %s not heard from gossip yet",
		    m->name);
		return;
	}
	if (n && strcmp(n->address, m->ip) == 0 &&
	    (s == NULL || consul_service_same(n, s, port)) &&
	    serf_status_is(n, "passing"))
		return;
	log_info("reconcile: member %s joined, marking health alive",
	    m->name);
	struct cat_reg reg = { .node = member_node(m, dc, n) };
	if (s)
		reg.service = consul_service(s, port);
	reg_add_check(&reg, serf_check(m->name, true));
	propose_register(st, &reg);
}

static void
handle_failed(struct store *st, const struct cl_member *m)
{
	struct cat_node *n = cat_node_get(store_catalog(st), m->name);
	if (n == NULL) {
		log_debug("reconcile: ignoring failed event for member %s "
		    "because it does not exist in the catalog", m->name);
		return;
	}
	if (strcmp(n->address, m->ip) == 0 && serf_status_is(n, "critical"))
		return;
	log_info("reconcile: member %s failed, marking health critical",
	    m->name);
	/* SkipNodeUpdate: what is known of the node stays as it is. */
	struct cat_reg reg = { .node = member_node(m, st->w->cfg->datacenter,
	    NULL), .skip_node_update = true };
	reg_add_check(&reg, serf_check(m->name, false));
	propose_register(st, &reg);
}

static void
handle_deregister(struct store *st, const char *name, const char *reason)
{
	struct proto_cat_deregister d = { .node = proto_str_c(name) };
	struct buf cmd;
	/* A leader leaving: the next leader deregisters it. */
	if (strcasecmp(name, st->w->cfg->node_name) == 0) {
		log_warnx("reconcile: deregistering self (%s) should be done "
		    "by a follower", name);
		return;
	}
	if (cat_node_get(store_catalog(st), name) == NULL)
		return;
	log_info("reconcile: deregistering member %s (%s)", name, reason);
	buf_init(&cmd);
	proto_enc_cat_deregister(&cmd, &d);
	propose(st, PROTO_CAT_DEREGISTER, &cmd, name);
	buf_free(&cmd);
}

/* Consul's reconcileMember; shouldHandleMember: our datacenter only. */
static void
reconcile_member(struct store *st, struct rec *r, const struct cl_member *m)
{
	if (strcmp(m->dc, st->w->cfg->datacenter) != 0) {
		log_debug("reconcile: skipping member %s of datacenter \"%s\"",
		    m->name, m->dc);
		return;
	}
	switch (m->status) {
	case CL_ALIVE:
		handle_alive(st, r, m);
		break;
	case CL_FAILED:
		handle_failed(st, m);
		break;
	case CL_LEFT:
		handle_deregister(st, m->name, "left");
		break;
	case CL_REAPED:
		handle_deregister(st, m->name, "reaped");
		break;
	default:
		break;		/* leaving: its left event follows */
	}
}

/* ---- the full pass ------------------------------------------------------ */

static int
name_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* Consul's reconcileReaped: catalog nodes with a serfHealth check that
 * gossip does not know (not even as reaped) went while no leader
 * listened. */
static void
reconcile_reaped(struct store *st)
{
	const struct store_cluster *cl = st->cl;
	const char **known = xcalloc(cl->n + 1, sizeof(*known));
	char **gone = NULL;
	size_t ngone = 0;
	for (size_t i = 0; i < cl->n; i++)
		known[i] = cl->m[i].name;
	qsort(known, cl->n, sizeof(*known), name_cmp);
	for (struct cat_node *n = cat_node_first(store_catalog(st)); n;
	    n = cat_node_next(n)) {
		const char *key = n->name;
		if (cat_check_get(n, SERF_CHECK_ID) == NULL ||
		    bsearch(&key, known, cl->n, sizeof(*known), name_cmp))
			continue;
		gone = xrealloc(gone, (ngone + 1) * sizeof(*gone));
		gone[ngone++] = xstrdup(n->name);
	}
	/* Proposed once the walk is over: nothing changes under it. */
	for (size_t i = 0; i < ngone; i++) {
		handle_deregister(st, gone[i], "reaped");
		free(gone[i]);
	}
	free(gone);
	free(known);
}

static void
full_pass(struct store *st, struct rec *r)
{
	const struct store_cluster *cl = st->cl;
	r->next_full_ms = mono_ms() + REC_INTERVAL_MS;
	for (size_t i = 0; i < cl->n; i++)
		reconcile_member(st, r, &cl->m[i]);
	reconcile_reaped(st);
}

/* Consul's barrier: the applied entry is of our term, so everything
 * committed before this leadership is in the state we read. */
static bool
caught_up(const struct store *st)
{
	uint64_t a = rft_applied_index(st->raft), t = 0;
	const struct rft_entry *e = rft_entry_at(st->raft, a);
	if (e)
		t = e->term;
	else if (a == rft_snapshot_index(st->raft))
		t = rft_snapshot_term(st->raft);
	return a > 0 && t == rft_term(st->raft);
}

/* ---- hooks --------------------------------------------------------------- */

static bool
leading(struct store *st, const struct rec *r)
{
	return r->established && store_is_leader(st) &&
	    r->term == rft_term(st->raft);
}

void
cluster_reconcile_event(struct store *st, const struct cl_member *m,
    const struct proto_member *pm)
{
	if (!st->server || st->cl == NULL)
		return;
	struct rec *r = rec_get(st);
	if (r->heard_ms == 0)
		r->heard_ms = mono_ms();
	server_update(r, m, pm);
	if (st->raft && leading(st, r))
		reconcile_member(st, r, m);
}

void
cluster_reconcile_tick(struct store *st)
{
	if (!st->server || st->raft == NULL || st->cl == NULL)
		return;
	struct rec *r = rec_get(st);
	uint64_t now = mono_ms();
	if (!store_is_leader(st)) {
		r->established = false;
		return;
	}
	if (leading(st, r)) {
		if (now >= r->next_full_ms)
			full_pass(st, r);
		return;
	}
	r->established = false;
	if (!caught_up(st) || r->heard_ms == 0 ||
	    now - r->heard_ms < REC_SETTLE_MS)
		return;
	r->established = true;
	r->term = rft_term(st->raft);
	log_info("reconcile: leader in term %llu: reconciling %zu members "
	    "into the catalog", (unsigned long long)r->term, st->cl->n);
	full_pass(st, r);
}
