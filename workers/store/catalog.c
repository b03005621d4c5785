/*
 * The catalog's rows, their ordered indexes and lookups (see catalog.h).
 * Writes are catalog_apply.c, the wire and snapshot forms catalog_codec.c,
 * reads catalog_query.c.
 */
#include "workers/store/catalog.h"
#include "workers/store/catalog_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys ------------------------------------------------------------ */

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int
cat_keycmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;
	for (;; x++, y++) {
		int d = lower(*x) - lower(*y);
		if (d || *x == '\0')
			return d;
	}
}

static int
node_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return cat_keycmp(avl_entry(a, struct cat_node, by_name)->name,
	    avl_entry(b, struct cat_node, by_name)->name);
}

static int
node_key_cmp(const void *k, const struct avl_node *n)
{
	return cat_keycmp(k, avl_entry(n, struct cat_node, by_name)->name);
}

static int
id_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return cat_keycmp(avl_entry(a, struct cat_node, by_id)->id,
	    avl_entry(b, struct cat_node, by_id)->id);
}

static int
id_key_cmp(const void *k, const struct avl_node *n)
{
	return cat_keycmp(k, avl_entry(n, struct cat_node, by_id)->id);
}

static int
svc_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return cat_keycmp(avl_entry(a, struct cat_service, on_node)->id,
	    avl_entry(b, struct cat_service, on_node)->id);
}

static int
svc_key_cmp(const void *k, const struct avl_node *n)
{
	return cat_keycmp(k, avl_entry(n, struct cat_service, on_node)->id);
}

static int
chk_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return cat_keycmp(avl_entry(a, struct cat_check, on_node)->check_id,
	    avl_entry(b, struct cat_check, on_node)->check_id);
}

static int
chk_key_cmp(const void *k, const struct avl_node *n)
{
	return cat_keycmp(k, avl_entry(n, struct cat_check, on_node)->check_id);
}

/* Instances: (service name, node name, service ID). */
struct inst_key {
	const char *name, *node, *id;
};

static int
inst_parts(const char *n1, const char *o1, const char *i1, const char *n2,
    const char *o2, const char *i2)
{
	int c = cat_keycmp(n1, n2);
	if (c == 0)
		c = cat_keycmp(o1, o2);
	return c ? c : cat_keycmp(i1, i2);
}

static int
inst_cmp(const struct avl_node *a, const struct avl_node *b)
{
	const struct cat_service *x = avl_entry(a, struct cat_service, by_name);
	const struct cat_service *y = avl_entry(b, struct cat_service, by_name);
	return inst_parts(x->name, x->node->name, x->id, y->name,
	    y->node->name, y->id);
}

static int
inst_key_cmp(const void *k, const struct avl_node *n)
{
	const struct inst_key *key = k;
	const struct cat_service *s = avl_entry(n, struct cat_service, by_name);
	return inst_parts(key->name, key->node, key->id, s->name,
	    s->node->name, s->id);
}

static int
name_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return cat_keycmp(avl_entry(a, struct cat_name, node)->name,
	    avl_entry(b, struct cat_name, node)->name);
}

static int
name_key_cmp(const void *k, const struct avl_node *n)
{
	return cat_keycmp(k, avl_entry(n, struct cat_name, node)->name);
}

/* ---- rows -------------------------------------------------------------- */

void
cat_db_init(struct cat_db *db)
{
	memset(db, 0, sizeof(*db));
	avl_init(&db->nodes, node_cmp);
	avl_init(&db->node_ids, id_cmp);
	avl_init(&db->instances, inst_cmp);
	avl_init(&db->names, name_cmp);
}

void
cat_node_init_trees(struct cat_node *n)
{
	avl_init(&n->services, svc_cmp);
	avl_init(&n->checks, chk_cmp);
}

void
cat_kv_free(struct cat_kv *kv, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].val);
	}
	free(kv);
}

void
cat_strs_free(char **v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
cat_node_free(struct cat_node *n)
{
	if (n == NULL)
		return;
	free(n->id);
	free(n->name);
	free(n->address);
	free(n->dc);
	cat_kv_free(n->tagged, n->ntagged);
	cat_kv_free(n->meta, n->nmeta);
	free(n);
}

void
cat_service_free(struct cat_service *s)
{
	if (s == NULL)
		return;
	free(s->kind);
	free(s->id);
	free(s->name);
	free(s->address);
	free(s->socket_path);
	cat_strs_free(s->tags, s->ntags);
	for (uint32_t i = 0; i < s->ntagged; i++) {
		free(s->tagged[i].key);
		free(s->tagged[i].address);
	}
	free(s->tagged);
	cat_kv_free(s->meta, s->nmeta);
	free(s);
}

void
cat_check_free(struct cat_check *c)
{
	if (c == NULL)
		return;
	free(c->node_name);
	free(c->check_id);
	free(c->name);
	free(c->status);
	free(c->notes);
	free(c->output);
	free(c->service_id);
	free(c->service_name);
	cat_strs_free(c->service_tags, c->nservice_tags);
	free(c->type);
	free(c->interval);
	free(c->timeout);
	free(c->definition);
	free(c);
}

void
cat_reg_free(struct cat_reg *r)
{
	cat_node_free(r->node);
	cat_service_free(r->service);
	for (uint32_t i = 0; i < r->nchecks; i++)
		cat_check_free(r->checks[i]);
	free(r->checks);
	memset(r, 0, sizeof(*r));
}

/* Unlink and free a node with everything on it (no index bookkeeping:
 * for cat_db_free and catalog_apply.c once the indexes are done). */
void
cat_node_destroy(struct cat_db *db, struct cat_node *n)
{
	struct avl_node *a;
	while ((a = avl_first(&n->checks)) != NULL) {
		avl_remove(&n->checks, a);
		cat_check_free(avl_entry(a, struct cat_check, on_node));
	}
	while ((a = avl_first(&n->services)) != NULL) {
		struct cat_service *s = avl_entry(a, struct cat_service, on_node);
		avl_remove(&n->services, a);
		avl_remove(&db->instances, &s->by_name);
		cat_service_free(s);
	}
	avl_remove(&db->nodes, &n->by_name);
	if (n->in_ids)
		avl_remove(&db->node_ids, &n->by_id);
	cat_node_free(n);
}

void
cat_db_free(struct cat_db *db)
{
	struct avl_node *a;
	while ((a = avl_first(&db->nodes)) != NULL)
		cat_node_destroy(db, avl_entry(a, struct cat_node, by_name));
	while ((a = avl_first(&db->names)) != NULL) {
		struct cat_name *nm = avl_entry(a, struct cat_name, node);
		avl_remove(&db->names, a);
		free(nm->name);
		free(nm);
	}
	cat_db_init(db);
}

/* ---- linking ------------------------------------------------------------ */

int
cat_link_node(struct cat_db *db, struct cat_node *n)
{
	cat_node_init_trees(n);
	if (avl_insert(&db->nodes, &n->by_name) != &n->by_name)
		return -EEXIST;
	n->in_ids = false;
	if (n->id[0] == '\0')
		return 0;
	if (avl_insert(&db->node_ids, &n->by_id) != &n->by_id) {
		avl_remove(&db->nodes, &n->by_name);
		return -EEXIST;
	}
	n->in_ids = true;
	return 0;
}

/* Give n the ID id (taken), keeping the ID index right. */
void
cat_node_set_id(struct cat_db *db, struct cat_node *n, char *id)
{
	if (n->in_ids)
		avl_remove(&db->node_ids, &n->by_id);
	free(n->id);
	n->id = id;
	n->in_ids = id[0] != '\0' &&
	    avl_insert(&db->node_ids, &n->by_id) == &n->by_id;
}

int
cat_link_service(struct cat_db *db, struct cat_node *n, struct cat_service *s)
{
	s->node = n;
	if (avl_insert(&n->services, &s->on_node) != &s->on_node)
		return -EEXIST;
	if (avl_insert(&db->instances, &s->by_name) != &s->by_name) {
		avl_remove(&n->services, &s->on_node);
		return -EEXIST;
	}
	return 0;
}

void
cat_unlink_service(struct cat_db *db, struct cat_service *s)
{
	avl_remove(&s->node->services, &s->on_node);
	avl_remove(&db->instances, &s->by_name);
}

int
cat_link_check(struct cat_node *n, struct cat_check *c)
{
	c->node = n;
	return avl_insert(&n->checks, &c->on_node) == &c->on_node ? 0 :
	    -EEXIST;
}

/* The name entry of service name, created (count 0) when missing. */
struct cat_name *
cat_name_ref(struct cat_db *db, const char *name)
{
	struct avl_node *a = avl_find(&db->names, name, name_key_cmp);
	if (a)
		return avl_entry(a, struct cat_name, node);
	struct cat_name *nm = xcalloc(1, sizeof(*nm));
	nm->name = xstrdup(name);
	avl_insert(&db->names, &nm->node);
	return nm;
}

void
cat_name_drop(struct cat_db *db, struct cat_name *nm)
{
	avl_remove(&db->names, &nm->node);
	free(nm->name);
	free(nm);
}

/* ---- lookups ------------------------------------------------------------ */

struct cat_node *
cat_node_get(const struct cat_db *db, const char *name)
{
	struct avl_node *a = avl_find(&db->nodes, name, node_key_cmp);
	return a ? avl_entry(a, struct cat_node, by_name) : NULL;
}

struct cat_node *
cat_node_get_id(const struct cat_db *db, const char *id)
{
	struct avl_node *a = avl_find(&db->node_ids, id, id_key_cmp);
	return a ? avl_entry(a, struct cat_node, by_id) : NULL;
}

/* Hex digits of s without dashes, lower case, into out (size bytes). */
static size_t
hex_only(const char *s, char *out, size_t size)
{
	size_t n = 0;
	for (; *s && n + 1 < size; s++)
		if (*s != '-')
			out[n++] = (char)lower((unsigned char)*s);
	out[n] = '\0';
	return n;
}

struct cat_node *
cat_node_find(const struct cat_db *db, const char *name_or_id)
{
	struct cat_node *n = cat_node_get(db, name_or_id), *hit = NULL;
	char want[80], have[80];
	if (n || strlen(name_or_id) < 2 || strlen(name_or_id) > 36)
		return n;
	/* Consul's UUID prefix index compares whole bytes: an odd number of
	 * digits is cut to even (resizeNodeLookupKey). */
	size_t wl = hex_only(name_or_id, want, sizeof(want)) & ~(size_t)1;
	want[wl] = '\0';
	for (struct avl_node *a = avl_first(&db->node_ids); a; a = avl_next(a)) {
		n = avl_entry(a, struct cat_node, by_id);
		hex_only(n->id, have, sizeof(have));
		if (strncmp(have, want, wl) != 0)
			continue;
		if (hit)
			return NULL;	/* ambiguous: no answer */
		hit = n;
	}
	return hit;
}

struct cat_node *
cat_node_first(const struct cat_db *db)
{
	struct avl_node *a = avl_first(&db->nodes);
	return a ? avl_entry(a, struct cat_node, by_name) : NULL;
}

struct cat_node *
cat_node_next(const struct cat_node *n)
{
	struct avl_node *a = avl_next(&n->by_name);
	return a ? avl_entry(a, struct cat_node, by_name) : NULL;
}

struct cat_service *
cat_service_get(const struct cat_node *n, const char *id)
{
	struct avl_node *a = avl_find(&n->services, id, svc_key_cmp);
	return a ? avl_entry(a, struct cat_service, on_node) : NULL;
}

struct cat_service *
cat_node_service_first(const struct cat_node *n)
{
	struct avl_node *a = avl_first(&n->services);
	return a ? avl_entry(a, struct cat_service, on_node) : NULL;
}

struct cat_service *
cat_node_service_next(const struct cat_service *s)
{
	struct avl_node *a = avl_next(&s->on_node);
	return a ? avl_entry(a, struct cat_service, on_node) : NULL;
}

struct cat_check *
cat_check_get(const struct cat_node *n, const char *id)
{
	struct avl_node *a = avl_find(&n->checks, id, chk_key_cmp);
	return a ? avl_entry(a, struct cat_check, on_node) : NULL;
}

struct cat_check *
cat_node_check_first(const struct cat_node *n)
{
	struct avl_node *a = avl_first(&n->checks);
	return a ? avl_entry(a, struct cat_check, on_node) : NULL;
}

struct cat_check *
cat_node_check_next(const struct cat_check *c)
{
	struct avl_node *a = avl_next(&c->on_node);
	return a ? avl_entry(a, struct cat_check, on_node) : NULL;
}

struct cat_service *
cat_instance_first(const struct cat_db *db, const char *name)
{
	struct inst_key k = { name, "", "" };
	struct avl_node *a = avl_seek(&db->instances, &k, inst_key_cmp);
	if (a == NULL)
		return NULL;
	struct cat_service *s = avl_entry(a, struct cat_service, by_name);
	return cat_keycmp(s->name, name) == 0 ? s : NULL;
}

struct cat_service *
cat_instance_any_first(const struct cat_db *db)
{
	struct avl_node *a = avl_first(&db->instances);
	return a ? avl_entry(a, struct cat_service, by_name) : NULL;
}

struct cat_service *
cat_instance_next(const struct cat_service *s)
{
	struct avl_node *a = avl_next(&s->by_name);
	return a ? avl_entry(a, struct cat_service, by_name) : NULL;
}

struct cat_name *
cat_name_get(const struct cat_db *db, const char *name)
{
	struct avl_node *a = avl_find(&db->names, name, name_key_cmp);
	return a ? avl_entry(a, struct cat_name, node) : NULL;
}

uint64_t
cat_service_index(const struct cat_db *db, const char *name, bool with_checks)
{
	struct cat_name *nm = cat_name_get(db, name);
	if (nm && nm->ninst > 0)
		return nm->index;
	if (db->services_gone)
		return db->services_gone;
	uint64_t idx = MAX(db->idx_nodes, db->idx_services);
	return with_checks ? MAX(idx, db->idx_checks) : idx;
}

/* ---- restore ------------------------------------------------------------ */

int
cat_restore_node(struct cat_db *db, struct cat_node *n)
{
	return cat_link_node(db, n);
}

int
cat_restore_service(struct cat_db *db, struct cat_service *s, const char *node)
{
	struct cat_node *n = cat_node_get(db, node);
	if (n == NULL)
		return -ENOENT;
	int r = cat_link_service(db, n, s);
	if (r == 0)
		cat_name_ref(db, s->name)->ninst++;
	return r;
}

int
cat_restore_check(struct cat_db *db, struct cat_check *c)
{
	struct cat_node *n = cat_node_get(db, c->node_name);
	if (n == NULL)
		return -ENOENT;
	return cat_link_check(n, c);
}
