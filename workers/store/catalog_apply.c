/*
 * Catalog writes (Consul's Catalog.Register / Catalog.Deregister and the
 * state store's ensureRegistrationTxn, ensureNodeTxn, ensureServiceTxn,
 * ensureCheckTxn and the delete*Txn functions, agent/consul/state/
 * catalog.go), applied at a Raft index.  Messages are Consul's, so
 * clients that match on them keep working.
 */
#include "workers/store/catalog.h"
#include "workers/store/catalog_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_MAX_PAIRS 64
#define META_KEY_MAX 128
#define META_VALUE_MAX 512

struct tx {
	struct cat_db *db;
	uint64_t index;
	cat_changed_fn *fn;
	void *arg;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- equality (Consul's IsSame, nil and empty maps apart) ------------- */

static bool
kv_eq(const struct cat_kv *a, uint32_t na, bool ha, const struct cat_kv *b,
    uint32_t nb, bool hb)
{
	if (ha != hb || na != nb)
		return false;
	for (uint32_t i = 0; i < na; i++)
		if (strcmp(a[i].key, b[i].key) || strcmp(a[i].val, b[i].val))
			return false;
	return true;
}

static bool
strs_eq(char *const *a, uint32_t na, char *const *b, uint32_t nb)
{
	if (na != nb)
		return false;
	for (uint32_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

static bool
node_same(const struct cat_node *a, const struct cat_node *b)
{
	return strcmp(a->id, b->id) == 0 && cat_keycmp(a->name, b->name) == 0 &&
	    strcmp(a->address, b->address) == 0 && strcmp(a->dc, b->dc) == 0 &&
	    kv_eq(a->tagged, a->ntagged, a->has_tagged, b->tagged, b->ntagged,
	    b->has_tagged) &&
	    kv_eq(a->meta, a->nmeta, a->has_meta, b->meta, b->nmeta, b->has_meta);
}

static bool
service_same(const struct cat_service *a, const struct cat_service *b)
{
	if (strcmp(a->kind, b->kind) || strcmp(a->id, b->id) ||
	    strcmp(a->name, b->name) || strcmp(a->address, b->address) ||
	    strcmp(a->socket_path, b->socket_path) || a->port != b->port ||
	    a->w_passing != b->w_passing || a->w_warning != b->w_warning ||
	    a->enable_tag_override != b->enable_tag_override ||
	    a->connect_native != b->connect_native ||
	    !strs_eq(a->tags, a->ntags, b->tags, b->ntags) ||
	    !kv_eq(a->meta, a->nmeta, a->has_meta, b->meta, b->nmeta,
	    b->has_meta) || a->ntagged != b->ntagged)
		return false;
	for (uint32_t i = 0; i < a->ntagged; i++)
		if (strcmp(a->tagged[i].key, b->tagged[i].key) ||
		    strcmp(a->tagged[i].address, b->tagged[i].address) ||
		    a->tagged[i].port != b->tagged[i].port)
			return false;
	return true;
}

static bool
check_same(const struct cat_check *a, const struct cat_check *b)
{
	return cat_keycmp(a->node_name, b->node_name) == 0 &&
	    strcmp(a->check_id, b->check_id) == 0 &&
	    strcmp(a->name, b->name) == 0 && strcmp(a->status, b->status) == 0 &&
	    strcmp(a->notes, b->notes) == 0 && strcmp(a->output, b->output) == 0 &&
	    strcmp(a->service_id, b->service_id) == 0 &&
	    strcmp(a->service_name, b->service_name) == 0 &&
	    strs_eq(a->service_tags, a->nservice_tags, b->service_tags,
	    b->nservice_tags) &&
	    strcmp(a->type, b->type) == 0 &&
	    strcmp(a->interval, b->interval) == 0 &&
	    strcmp(a->timeout, b->timeout) == 0 &&
	    a->exposed_port == b->exposed_port &&
	    strcmp(a->definition, b->definition) == 0;
}

/* ---- stateless checks (Catalog.Register before Raft) ------------------ */

/* go-uuid ParseUUID's verdict on id, or NULL when it parses. */
static const char *
uuid_error(const char *id, char *buf, size_t len)
{
	static const char *const hex = "0123456789abcdefABCDEF";
	if (strlen(id) != 36)
		return "uuid string is wrong length";
	if (id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-')
		return "uuid is improperly formatted";
	for (int i = 0; i < 36; i++) {
		unsigned char c = (unsigned char)id[i];
		if (i == 8 || i == 13 || i == 18 || i == 23 || strchr(hex, c))
			continue;
		if (c >= 0x20 && c < 0x7f)
			snprintf(buf, len, "encoding/hex: invalid byte: U+%04X "
			    "'%c'", c, c);
		else
			snprintf(buf, len, "encoding/hex: invalid byte: U+%04X "
			    "'\\x%02x'", c, c);
		return buf;
	}
	return NULL;
}

static bool
meta_key_ok(const char *k)
{
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		    (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return false;
	return true;
}

/* structs.validateMetadata for service meta (no "consul-" keys). */
static const char *
meta_error(const struct cat_kv *m, uint32_t n, char *buf, size_t len)
{
	if (n > META_MAX_PAIRS) {
		snprintf(buf, len, "Node metadata cannot contain more than %d "
		    "key/value pairs", META_MAX_PAIRS);
		return buf;
	}
	for (uint32_t i = 0; i < n; i++) {
		const char *why = NULL, *k = m[i].key;
		if (k[0] == '\0')
			why = "Key cannot be blank";
		else if (!meta_key_ok(k))
			why = "Key contains invalid characters";
		else if (strlen(k) > META_KEY_MAX)
			why = "Key is too long (limit: 128 characters)";
		else if (strncmp(k, "consul-", 7) == 0)
			why = "Key prefix 'consul-' is reserved for internal use";
		else if (strlen(m[i].val) > META_VALUE_MAX)
			why = "Value is too long (limit: 512 characters)";
		if (why) {
			snprintf(buf, len, "Couldn't load metadata pair ('%s', "
			    "'%s'): %s", k, m[i].val, why);
			return buf;
		}
	}
	return NULL;
}

/* Service mesh kinds need proxy and gateway configuration muster does
 * not keep; refusing them beats storing half a definition. */
static bool
mesh_kind(const char *kind)
{
	static const char *const kinds[] = { "connect-proxy", "mesh-gateway",
		"terminating-gateway", "ingress-gateway", "api-gateway",
		"destination" };
	for (size_t i = 0; i < nitems(kinds); i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

static int
service_check(struct cat_service *s, const char *node, char *err,
    size_t errlen)
{
	char buf[1024];
	const char *why;
	if (mesh_kind(s->kind))
		return fail(err, errlen, "Service kind %s is not supported "
		    "(no service mesh)", s->kind);
	if (s->connect_native && s->port == 0 && s->socket_path[0] == '\0')
		return fail(err, errlen, "1 error occurred:\n\t* Port or "
		    "SocketPath must be set for a Connect native service.\n\n");
	if (s->id[0] == '\0' && s->name[0] != '\0') {
		free(s->id);
		s->id = xstrdup(s->name);
	}
	if (s->id[0] != '\0' && s->name[0] == '\0')
		return fail(err, errlen, "Must provide service name with ID");
	if (strcmp(s->address, "0.0.0.0") == 0 || strcmp(s->address, "::") == 0 ||
	    strcmp(s->address, "[::]") == 0)
		return fail(err, errlen, "Invalid service address");
	if ((why = meta_error(s->meta, s->nmeta, buf, sizeof(buf))) != NULL)
		return fail(err, errlen, "failed inserting service: Invalid "
		    "Service Meta for node %s and serviceID %s: %s", node, s->id,
		    why);
	return 0;
}

int
cat_reg_check(struct cat_reg *r, char *err, size_t errlen)
{
	struct cat_node *n = r->node;
	char buf[128];
	const char *why;
	if (n->name[0] == '\0')
		return fail(err, errlen, "Must provide node");
	if (n->id[0] && (why = uuid_error(n->id, buf, sizeof(buf))) != NULL)
		return fail(err, errlen, "Bad node ID: %s", why);
	if (n->address[0] == '\0' && !r->skip_node_update)
		return fail(err, errlen, "Must provide address if SkipNodeUpdate "
		    "is not set");
	if (r->service && service_check(r->service, n->name, err, errlen) < 0)
		return -EINVAL;
	for (uint32_t i = 0; i < r->nchecks; i++) {
		struct cat_check *c = r->checks[i];
		if (c->node_name[0] == '\0') {
			free(c->node_name);
			c->node_name = xstrdup(n->name);
		}
		if (c->check_id[0] == '\0' && c->name[0] != '\0') {
			free(c->check_id);
			c->check_id = xstrdup(c->name);
		}
		if (cat_keycmp(c->node_name, n->name) != 0)
			return fail(err, errlen, "check node \"%s\" does not "
			    "match node \"%s\"", c->node_name, n->name);
	}
	return 0;
}

/* ---- index bookkeeping ------------------------------------------------ */

static void
bump_table(struct tx *t, uint64_t *idx, enum cat_change what)
{
	*idx = t->index;
	if (t->fn)
		t->fn(t->arg, what, NULL);
}

static void
bump_node(struct tx *t, struct cat_node *n)
{
	n->index = t->index;
	if (t->fn)
		t->fn(t->arg, CAT_CH_NODE, n->name);
}

/* service.<name> moved (a no-op when no instance carries the name). */
static void
bump_name(struct tx *t, const char *name)
{
	struct cat_name *nm = cat_name_get(t->db, name);
	if (nm == NULL)
		return;
	nm->index = t->index;
	if (t->fn)
		t->fn(t->arg, CAT_CH_SERVICE, nm->name);
}

/* Consul's updateAllServiceIndexesOfNode. */
static void
bump_node_services(struct tx *t, struct cat_node *n)
{
	for (struct cat_service *s = cat_node_service_first(n); s;
	    s = cat_node_service_next(s))
		bump_name(t, s->name);
}

static void
name_ref(struct tx *t, const char *name)
{
	cat_name_ref(t->db, name)->ninst++;
	bump_name(t, name);
}

/* One instance of name fewer; the last one takes the name's index with
 * it and moves services_gone (Consul's service_last_extinction). */
static void
name_unref(struct tx *t, const char *name)
{
	struct cat_name *nm = cat_name_get(t->db, name);
	if (nm == NULL)
		return;
	if (--nm->ninst > 0) {
		bump_name(t, name);
		return;
	}
	t->db->services_gone = t->index;
	if (t->fn)
		t->fn(t->arg, CAT_CH_SERVICE, nm->name);
	cat_name_drop(t->db, nm);
}

/* The services a check's health belongs to. */
static void
bump_check_owner(struct tx *t, struct cat_node *n, const struct cat_check *c)
{
	if (c->service_id[0])
		bump_name(t, c->service_name);
	else
		bump_node_services(t, n);
}

/* ---- deletes ------------------------------------------------------------ */

static void
delete_check(struct tx *t, struct cat_node *n, struct cat_check *c)
{
	avl_remove(&n->checks, &c->on_node);
	bump_table(t, &t->db->idx_checks, CAT_CH_CHECKS);
	bump_node(t, n);
	bump_check_owner(t, n, c);
	cat_check_free(c);
}

static void
delete_service(struct tx *t, struct cat_node *n, struct cat_service *s)
{
	struct cat_check *c = cat_node_check_first(n), *next;
	for (; c; c = next) {
		next = cat_node_check_next(c);
		if (c->service_id[0] && cat_keycmp(c->service_id, s->id) == 0)
			delete_check(t, n, c);
	}
	bump_table(t, &t->db->idx_checks, CAT_CH_CHECKS);
	cat_unlink_service(t->db, s);
	bump_table(t, &t->db->idx_services, CAT_CH_SERVICES);
	/* Consul: "the service information is included in node catalog
	 * queries", so the nodes table moves too. */
	bump_table(t, &t->db->idx_nodes, CAT_CH_NODES);
	bump_node(t, n);
	name_unref(t, s->name);
	cat_service_free(s);
}

static void
delete_node(struct tx *t, struct cat_node *n)
{
	struct cat_service *s;
	struct cat_check *c;
	while ((s = cat_node_service_first(n)) != NULL)
		delete_service(t, n, s);
	while ((c = cat_node_check_first(n)) != NULL)
		delete_check(t, n, c);
	bump_table(t, &t->db->idx_nodes, CAT_CH_NODES);
	t->db->nodes_gone = t->index;
	if (t->fn)
		t->fn(t->arg, CAT_CH_NODE, n->name);
	cat_node_destroy(t->db, n);
}

void
cat_deregister(struct cat_db *db, uint64_t index, const char *node,
    const char *service_id, const char *check_id, cat_changed_fn *fn,
    void *arg)
{
	struct tx t = { db, index, fn, arg };
	struct cat_node *n = cat_node_get(db, node);
	if (n == NULL)
		return;
	if (service_id && service_id[0]) {
		struct cat_service *s = cat_service_get(n, service_id);
		if (s)
			delete_service(&t, n, s);
	} else if (check_id && check_id[0]) {
		struct cat_check *c = cat_check_get(n, check_id);
		if (c)
			delete_check(&t, n, c);
	} else
		delete_node(&t, n);
}

/* ---- upserts ------------------------------------------------------------ */

static void
swap_node_fields(struct cat_db *db, struct cat_node *cur, struct cat_node *req)
{
	cat_node_set_id(db, cur, req->id);
	req->id = NULL;
	free(cur->name);	/* same key, maybe another case */
	cur->name = req->name;
	req->name = NULL;
#define SWAP_(f) do { __typeof__(cur->f) tmp_ = cur->f; cur->f = req->f; \
	req->f = tmp_; } while (0)
	SWAP_(address); SWAP_(dc); SWAP_(tagged); SWAP_(ntagged);
	SWAP_(has_tagged); SWAP_(meta); SWAP_(nmeta); SWAP_(has_meta);
#undef SWAP_
}

/* Write the node (taken); create_index is kept from keep when given. */
static struct cat_node *
node_upsert(struct tx *t, struct cat_node *req, uint64_t keep)
{
	struct cat_node *cur = cat_node_get(t->db, req->name);
	if (cur && node_same(cur, req)) {
		cat_node_free(req);
		return cur;
	}
	if (cur) {
		swap_node_fields(t->db, cur, req);
		cat_node_free(req);
		if (keep)
			cur->create_index = keep;
	} else {
		cur = req;
		cur->create_index = keep ? keep : t->index;
		cat_link_node(t->db, cur);
	}
	cur->modify_index = t->index;
	bump_table(t, &t->db->idx_nodes, CAT_CH_NODES);
	bump_node(t, cur);
	bump_node_services(t, cur);
	return cur;
}

static void
service_upsert(struct tx *t, struct cat_node *n, struct cat_service *req)
{
	struct cat_service *cur = cat_service_get(n, req->id);
	if (cur && service_same(cur, req)) {
		cat_service_free(req);
		return;
	}
	req->create_index = cur ? cur->create_index : t->index;
	req->modify_index = t->index;
	bool same_name = cur && cat_keycmp(cur->name, req->name) == 0;
	if (cur) {
		cat_unlink_service(t->db, cur);
		if (!same_name)
			name_unref(t, cur->name);
		cat_service_free(cur);
	}
	cat_link_service(t->db, n, req);
	if (same_name)
		bump_name(t, req->name);
	else
		name_ref(t, req->name);
	bump_table(t, &t->db->idx_services, CAT_CH_SERVICES);
	bump_node(t, n);
}

static char **
strs_dup(char *const *v, uint32_t n)
{
	char **out = xcalloc(n + 1, sizeof(*out));
	for (uint32_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void
check_upsert(struct tx *t, struct cat_node *n, struct cat_check *req)
{
	if (req->status[0] == '\0') {
		free(req->status);
		req->status = xstrdup("critical");	/* api.HealthCritical */
	}
	if (req->service_id[0]) {
		/* Consul copies the service's name and tags in. */
		struct cat_service *s = cat_service_get(n, req->service_id);
		free(req->service_name);
		req->service_name = xstrdup(s->name);
		cat_strs_free(req->service_tags, req->nservice_tags);
		req->service_tags = strs_dup(s->tags, s->ntags);
		req->nservice_tags = s->ntags;
	}
	struct cat_check *cur = cat_check_get(n, req->check_id);
	if (cur && check_same(cur, req)) {
		cat_check_free(req);
		return;
	}
	req->create_index = cur ? cur->create_index : t->index;
	req->modify_index = t->index;
	if (cur) {
		avl_remove(&n->checks, &cur->on_node);
		bump_check_owner(t, n, cur);
		cat_check_free(cur);
	}
	cat_link_check(n, req);
	bump_table(t, &t->db->idx_checks, CAT_CH_CHECKS);
	bump_node(t, n);
	bump_check_owner(t, n, req);
}

/* ---- register ------------------------------------------------------------ */

/* ensureNoNodeWithSimilarNameTxn: a live node (serfHealth not critical)
 * of that name and another ID keeps its name. */
static int
name_taken(const struct cat_db *db, const struct cat_node *req,
    bool allow_no_id, char *buf, size_t len)
{
	struct cat_node *e = cat_node_get(db, req->name);
	if (e == NULL || strcmp(e->id, req->id) == 0)
		return 0;
	struct cat_check *serf = cat_check_get(e, "serfHealth");
	bool healthy = serf && strcmp(serf->status, "critical") != 0;
	if ((e->id[0] == '\0' && allow_no_id) || !healthy)
		return 0;
	snprintf(buf, len, "Node name %s is reserved by node %s with name %s "
	    "(%s)", req->name, e->id, e->name, e->address);
	return -EINVAL;
}

/* Everything that can refuse the registration, before any row changes.
 * *victim: a node whose ID is being given to another name (renamed). */
static int
reg_plan(struct cat_db *db, const struct cat_reg *r, bool *do_node,
    struct cat_node **victim, char *err, size_t errlen)
{
	const struct cat_node *req = r->node;
	struct cat_node *cur = cat_node_get(db, req->name);
	char buf[512];
	*victim = NULL;
	*do_node = cur == NULL || (!r->skip_node_update && !node_same(cur, req));
	if (*do_node && req->id[0]) {
		struct cat_node *byid = cat_node_get_id(db, req->id);
		if (byid && cat_keycmp(byid->name, req->name) != 0) {
			if (name_taken(db, req, false, buf, sizeof(buf)) < 0)
				return fail(err, errlen, "failed inserting node: "
				    "Error while renaming Node ID: \"%s\" (%s): %s",
				    req->id, req->address, buf);
			*victim = byid;
		} else if (byid == NULL &&
		    name_taken(db, req, true, buf, sizeof(buf)) < 0)
			return fail(err, errlen, "failed inserting node: Error "
			    "while renaming Node ID: \"%s\": %s", req->id, buf);
	}
	for (uint32_t i = 0; i < r->nchecks; i++) {
		const char *sid = r->checks[i]->service_id;
		if (sid[0] == '\0')
			continue;
		if ((r->service && cat_keycmp(r->service->id, sid) == 0) ||
		    (cur && cat_service_get(cur, sid)))
			continue;
		return fail(err, errlen, "failed inserting check on node \"%s\": "
		    "Missing service registration", r->checks[i]->node_name);
	}
	return 0;
}

int
cat_register(struct cat_db *db, uint64_t index, struct cat_reg *r,
    char *err, size_t errlen, cat_changed_fn *fn, void *arg)
{
	struct tx t = { db, index, fn, arg };
	struct cat_node *victim, *n;
	bool do_node;
	int rc = reg_plan(db, r, &do_node, &victim, err, errlen);
	if (rc < 0)
		return rc;
	uint64_t keep = 0;
	if (victim) {
		/* Renaming a node ID: the old name goes with all it had. */
		keep = victim->create_index;
		delete_node(&t, victim);
	}
	if (do_node) {
		n = node_upsert(&t, r->node, keep);
		r->node = NULL;
	} else
		n = cat_node_get(db, r->node->name);
	if (r->service) {
		service_upsert(&t, n, r->service);
		r->service = NULL;
	}
	for (uint32_t i = 0; i < r->nchecks; i++) {
		check_upsert(&t, n, r->checks[i]);
		r->checks[i] = NULL;
	}
	return 0;
}
