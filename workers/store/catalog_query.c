/*
 * Catalog reads (CAT_READ_REQ): the rows each Consul endpoint returns,
 * the index it reports (Consul's state store: catalog.go Nodes, Services,
 * ServiceNodes, NodeServices, NodeChecks, ServiceChecks, ChecksInState,
 * CheckServiceNodes), and the key a blocking query on it waits for.
 *
 * Watch keys: "N" nodes, "S" services, "C" checks, "s:<name>" one service
 * name (its instances, their checks, their nodes and node-level checks),
 * "n:<name>" one node (it, its services, its checks), "*" anything.
 * Names are lower-cased, as the tables compare them.
 */
#include "workers/store/catalog.h"
#include "workers/store/catalog_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *
watch_key(const char *scope, const char *name)
{
	char *k = xasprintf("%s%s", scope, name);
	for (char *p = k; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return k;
}

static uint64_t
meta_max(const struct cat_db *db, const struct proto_cat_read_req *q,
    uint64_t idx)
{
	return q->node_meta.n ? MAX(idx, db->idx_nodes) : idx;
}

uint64_t
cat_query_index(const struct cat_db *db, const struct proto_cat_read_req *q,
    const char *name, char **watch)
{
	uint64_t idx = 0;
	const struct cat_node *n;
	*watch = NULL;
	switch (q->what) {
	case CAT_Q_NODES:
		idx = db->idx_nodes;
		*watch = xstrdup("N");
		break;
	case CAT_Q_SERVICES:
	case CAT_Q_SERVICES_FULL:
		idx = meta_max(db, q, db->idx_services);
		*watch = xstrdup(q->node_meta.n ? "*" : "S");
		break;
	case CAT_Q_SERVICE_NODES:
	case CAT_Q_HEALTH_SERVICE:
		idx = cat_service_index(db, name,
		    q->what == CAT_Q_HEALTH_SERVICE);
		*watch = watch_key("s:", name);
		break;
	case CAT_Q_NODE_SERVICES:
		n = cat_node_find(db, name);
		idx = n ? n->index : db->nodes_gone;
		*watch = watch_key("n:", n ? n->name : name);
		break;
	case CAT_Q_HEALTH_NODE:
		idx = db->idx_checks;
		*watch = watch_key("n:", name);
		break;
	case CAT_Q_HEALTH_CHECKS:
		idx = meta_max(db, q, db->idx_checks);
		*watch = watch_key("s:", name);
		break;
	case CAT_Q_HEALTH_STATE:
		idx = meta_max(db, q, db->idx_checks);
		*watch = xstrdup(q->node_meta.n ? "*" : "C");
		break;
	default:
		return 0;
	}
	/* Consul never reports 0: clients would spin (blockingQuery). */
	return idx ? idx : 1;
}

/* ---- filters -------------------------------------------------------------- */

/* ?node-meta: every pair must be in the node's meta. */
static bool
meta_ok(const struct cat_node *n, const struct proto_strv *want)
{
	struct proto_strv_iter it;
	struct proto_str k, v;
	proto_strv_iter_init(&it, want);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v)) {
		bool hit = false;
		for (uint32_t i = 0; i < n->nmeta && !hit; i++)
			hit = proto_str_eq(k, n->meta[i].key) &&
			    proto_str_eq(v, n->meta[i].val);
		if (!hit)
			return false;
	}
	return true;
}

static bool
str_caseeq(struct proto_str a, const char *b)
{
	size_t l = strlen(b);
	if (l != a.len)
		return false;
	for (size_t i = 0; i < l; i++) {
		int x = (unsigned char)a.p[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

/* ?tag (repeatable): every tag, case-insensitively (serviceTagsFilter). */
static bool
tags_ok(const struct cat_service *s, const struct proto_strv *want)
{
	struct proto_strv_iter it;
	struct proto_str t;
	proto_strv_iter_init(&it, want);
	while (proto_strv_next(&it, &t)) {
		bool hit = false;
		for (uint32_t i = 0; i < s->ntags && !hit; i++)
			hit = str_caseeq(t, s->tags[i]);
		if (!hit)
			return false;
	}
	return true;
}

/* ---- rows ----------------------------------------------------------------- */

static void
put_entry(struct cat_list *out, const struct cat_node *n,
    const struct cat_service *s, const struct cat_list *checks)
{
	struct buf nb, sb;
	struct cat_list empty;
	buf_init(&nb);
	buf_init(&sb);
	cat_list_init(&empty);
	if (n)
		cat_enc_node(&nb, n);
	if (s)
		cat_enc_service(&sb, s);
	struct proto_cat_entry e = {
		.node = { (const char *)nb.data, (uint32_t)nb.len },
		.service = { (const char *)sb.data, (uint32_t)sb.len },
		.checks = cat_list_strv(checks ? (struct cat_list *)checks :
		    &empty),
	};
	proto_enc_cat_entry(cat_list_add(out), &e);
	buf_free(&nb);
	buf_free(&sb);
	cat_list_free(&empty);
}

static void
q_nodes(const struct cat_db *db, const struct proto_cat_read_req *q,
    struct cat_result *r)
{
	for (struct cat_node *n = cat_node_first(db); n; n = cat_node_next(n))
		if (meta_ok(n, &q->node_meta))
			cat_enc_node(cat_list_add(&r->items), n);
}

static int
str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One CAT_SERVICE per name: the name and the sorted union of its tags. */
static void
put_service_tags(struct cat_list *out, const char *name, char **tags,
    uint32_t n)
{
	uint32_t m = 0;
	qsort(tags, n, sizeof(*tags), str_ptr_cmp);
	for (uint32_t i = 0; i < n; i++)
		if (m == 0 || strcmp(tags[m - 1], tags[i]) != 0)
			tags[m++] = tags[i];
	struct proto_cat_service s = { .service = proto_str_c(name),
		.tags = { .n = m, .items = (const char *const *)tags } };
	proto_enc_cat_service(cat_list_add(out), &s);
}

/*
 * Services by exact name (Consul keys its map by the name as stored, so
 * "Web" and "web" are two services), in the instances' order.  Names that
 * differ only in case are adjacent; the group is flushed when the name
 * changes case-insensitively, exact names within it merged.
 */
static void
q_services(const struct cat_db *db, const struct proto_cat_read_req *q,
    struct cat_result *r)
{
	struct cat_service *s = cat_instance_any_first(db);
	while (s) {
		const char *group = s->name;
		/* (name, tags) accumulated for each exact name of the group */
		const char *names[64];
		char **tags[64] = { 0 };
		uint32_t ntags[64] = { 0 }, nn = 0;
		for (; s && cat_keycmp(s->name, group) == 0;
		    s = cat_instance_next(s)) {
			if (!meta_ok(s->node, &q->node_meta))
				continue;
			uint32_t i = 0;
			while (i < nn && strcmp(names[i], s->name) != 0)
				i++;
			if (i == nn) {
				if (nn == nitems(names))
					continue;	/* 64 spellings: enough */
				names[nn++] = s->name;
			}
			tags[i] = xrealloc(tags[i], (ntags[i] + s->ntags + 1) *
			    sizeof(char *));
			for (uint32_t t = 0; t < s->ntags; t++)
				tags[i][ntags[i]++] = s->tags[t];
		}
		for (uint32_t i = 0; i < nn; i++) {
			put_service_tags(&r->items, names[i], tags[i], ntags[i]);
			free(tags[i]);
		}
	}
}

static void
q_services_full(const struct cat_db *db, const struct proto_cat_read_req *q,
    struct cat_result *r)
{
	for (struct cat_service *s = cat_instance_any_first(db); s;
	    s = cat_instance_next(s))
		if (meta_ok(s->node, &q->node_meta))
			put_entry(&r->items, s->node, s, NULL);
}

static void
q_service_nodes(const struct cat_db *db, const struct proto_cat_read_req *q,
    const char *name, struct cat_result *r)
{
	for (struct cat_service *s = cat_instance_first(db, name);
	    s && cat_keycmp(s->name, name) == 0; s = cat_instance_next(s))
		if (tags_ok(s, &q->tags) && meta_ok(s->node, &q->node_meta))
			put_entry(&r->items, s->node, s, NULL);
}

static void
q_node_services(const struct cat_db *db, const char *name,
    struct cat_result *r)
{
	struct cat_node *n = cat_node_find(db, name);
	if (n == NULL)
		return;
	r->found = true;
	cat_enc_node(&r->node, n);
	for (struct cat_service *s = cat_node_service_first(n); s;
	    s = cat_node_service_next(s))
		cat_enc_service(cat_list_add(&r->items), s);
}

static void
q_health_node(const struct cat_db *db, const char *name, struct cat_result *r)
{
	struct cat_node *n = cat_node_get(db, name);
	for (struct cat_check *c = n ? cat_node_check_first(n) : NULL; c;
	    c = cat_node_check_next(c))
		cat_enc_check(cat_list_add(&r->items), c);
}

/* Checks whose ServiceName is name, ordered by (node, CheckID): the nodes
 * hosting the service, in the instances' node order. */
static void
q_health_checks(const struct cat_db *db, const struct proto_cat_read_req *q,
    const char *name, struct cat_result *r)
{
	const struct cat_node *prev = NULL;
	for (struct cat_service *s = cat_instance_first(db, name);
	    s && cat_keycmp(s->name, name) == 0; s = cat_instance_next(s)) {
		if (s->node == prev)
			continue;
		prev = s->node;
		if (!meta_ok(s->node, &q->node_meta))
			continue;
		for (struct cat_check *c = cat_node_check_first(s->node); c;
		    c = cat_node_check_next(c))
			if (cat_keycmp(c->service_name, name) == 0)
				cat_enc_check(cat_list_add(&r->items), c);
	}
}

/* Node-level checks, then the instance's own (CheckServiceNode). */
static bool
instance_checks(const struct cat_service *s, bool passing,
    struct cat_list *out)
{
	for (int pass = 0; pass < 2; pass++)
		for (struct cat_check *c = cat_node_check_first(s->node); c;
		    c = cat_node_check_next(c)) {
			bool mine = pass == 0 ? c->service_id[0] == '\0' :
			    c->service_id[0] != '\0' &&
			    cat_keycmp(c->service_id, s->id) == 0;
			if (!mine)
				continue;
			if (passing && strcmp(c->status, "passing") != 0)
				return false;
			cat_enc_check(cat_list_add(out), c);
		}
	return true;
}

static void
q_health_service(const struct cat_db *db, const struct proto_cat_read_req *q,
    const char *name, struct cat_result *r)
{
	for (struct cat_service *s = cat_instance_first(db, name);
	    s && cat_keycmp(s->name, name) == 0; s = cat_instance_next(s)) {
		if (!tags_ok(s, &q->tags) || !meta_ok(s->node, &q->node_meta))
			continue;
		struct cat_list checks;
		cat_list_init(&checks);
		if (instance_checks(s, q->passing, &checks))
			put_entry(&r->items, s->node, s, &checks);
		cat_list_free(&checks);
	}
}

static void
q_health_state(const struct cat_db *db, const struct proto_cat_read_req *q,
    const char *state, struct cat_result *r)
{
	bool any = strcmp(state, "any") == 0;
	for (struct cat_node *n = cat_node_first(db); n; n = cat_node_next(n)) {
		if (!meta_ok(n, &q->node_meta))
			continue;
		for (struct cat_check *c = cat_node_check_first(n); c;
		    c = cat_node_check_next(c))
			if (any || strcmp(c->status, state) == 0)
				cat_enc_check(cat_list_add(&r->items), c);
	}
}

int
cat_query(const struct cat_db *db, const struct proto_cat_read_req *q,
    struct cat_result *r)
{
	char *name = proto_str_dup(q->name);
	memset(r, 0, sizeof(*r));
	buf_init(&r->node);
	cat_list_init(&r->items);
	if (name == NULL || q->what == 0 || q->what >= CAT_Q_MAX ||
	    q->node_meta.n % 2) {
		free(name);
		return -EINVAL;
	}
	r->index = cat_query_index(db, q, name, &r->watch);
	switch (q->what) {
	case CAT_Q_NODES: q_nodes(db, q, r); break;
	case CAT_Q_SERVICES: q_services(db, q, r); break;
	case CAT_Q_SERVICES_FULL: q_services_full(db, q, r); break;
	case CAT_Q_SERVICE_NODES: q_service_nodes(db, q, name, r); break;
	case CAT_Q_NODE_SERVICES: q_node_services(db, name, r); break;
	case CAT_Q_HEALTH_NODE: q_health_node(db, name, r); break;
	case CAT_Q_HEALTH_CHECKS: q_health_checks(db, q, name, r); break;
	case CAT_Q_HEALTH_SERVICE: q_health_service(db, q, name, r); break;
	case CAT_Q_HEALTH_STATE: q_health_state(db, q, name, r); break;
	}
	free(name);
	return 0;
}

void
cat_result_free(struct cat_result *r)
{
	buf_free(&r->node);
	cat_list_free(&r->items);
	free(r->watch);
	memset(r, 0, sizeof(*r));
}
