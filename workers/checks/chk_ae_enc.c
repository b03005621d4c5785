/*
 * The catalog rows the anti-entropy sync writes for this node, and the
 * comparison of the catalog's rows with the local state (local.State's
 * updateSyncState with structs.NodeService.IsSame / HealthCheck.IsSame).
 * A row is the same when every field the agent owns is: indexes, the
 * datacenter and the check's Node are the catalog's own.
 */
#include "workers/checks/chk_ae_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the node (agent.go LocalConfig + loadMetadata) ---- */

static void
kv_add(char ***v, size_t *n, const char *k, const char *val)
{
	size_t i;
	*v = xrealloc(*v, (*n + 3) * sizeof(**v));
	/* sorted insert; a later value of a key replaces the earlier */
	for (i = 0; i < *n && strcmp((*v)[i], k) < 0; i += 2)
		;
	if (i < *n && strcmp((*v)[i], k) == 0) {
		free((*v)[i + 1]);
		(*v)[i + 1] = xstrdup(val);
		return;
	}
	memmove(&(*v)[i + 2], &(*v)[i], (*n - i) * sizeof(**v));
	(*v)[i] = xstrdup(k);
	(*v)[i + 1] = xstrdup(val);
	*n += 2;
	(*v)[*n] = NULL;
}

static const char *
nz(const char *s)
{
	return s ? s : "";
}

/*
 * Tagged addresses: lan and wan (the advertise addresses) and their
 * per-family twins lan_ipv4 / wan_ipv4 (or _ipv6), as Consul's runtime
 * config fills them in.  Meta: node_meta plus consul-network-segment,
 * "" outside Enterprise network segments (Agent.loadMetadata).
 */
void
ae_node_build(struct ae_node *n, const struct chk_state *st)
{
	const struct chk_config *c = &st->cfg;
	const char *lan = nz(c->advertise_addr), *wan = nz(c->advertise_addr_wan);
	struct in6_addr a6;
	memset(n, 0, sizeof(*n));
	n->id = xstrdup(nz(c->node_id));
	n->name = xstrdup(nz(st->node_name));
	n->address = xstrdup(lan);
	n->dc = xstrdup(nz(c->datacenter));
	if (wan[0] == '\0')
		wan = lan;
	if (lan[0]) {
		bool v4 = inet_pton(AF_INET, lan, &a6) == 1;
		bool wv4 = inet_pton(AF_INET, wan, &a6) == 1;
		kv_add(&n->tagged, &n->ntagged, "lan", lan);
		kv_add(&n->tagged, &n->ntagged, v4 ? "lan_ipv4" : "lan_ipv6",
		    lan);
		kv_add(&n->tagged, &n->ntagged, "wan", wan);
		kv_add(&n->tagged, &n->ntagged, wv4 ? "wan_ipv4" : "wan_ipv6",
		    wan);
	}
	for (size_t i = 0; c->node_meta && c->node_meta[i] &&
	    c->node_meta[i + 1]; i += 2)
		kv_add(&n->meta, &n->nmeta, c->node_meta[i], c->node_meta[i + 1]);
	kv_add(&n->meta, &n->nmeta, "consul-network-segment", "");
}

void
ae_node_free(struct ae_node *n)
{
	for (size_t i = 0; i < n->ntagged; i++)
		free(n->tagged[i]);
	for (size_t i = 0; i < n->nmeta; i++)
		free(n->meta[i]);
	free(n->tagged);
	free(n->meta);
	free(n->id);
	free(n->name);
	free(n->address);
	free(n->dc);
	memset(n, 0, sizeof(*n));
}

static struct proto_strv
strv_of(char *const *v, size_t n)
{
	return (struct proto_strv){ .n = (uint32_t)n,
		.items = (const char *const *)v };
}

void
ae_enc_node(struct buf *out, const struct ae_node *n)
{
	struct proto_cat_node m = { .id = proto_str_c(n->id),
		.node = proto_str_c(n->name), .address = proto_str_c(n->address),
		.datacenter = proto_str_c(n->dc), .has_tagged = true,
		.tagged_addresses = strv_of(n->tagged, n->ntagged),
		.has_meta = true, .meta = strv_of(n->meta, n->nmeta) };
	proto_enc_cat_node(out, &m);
}

/* ---- services and checks ---- */

void
ae_enc_service(struct buf *out, const struct chk_state *st,
    const struct chk_service *s)
{
	char **meta = xcalloc(2 * s->nmeta + 1, sizeof(*meta));
	struct proto_str *ta = xcalloc(s->ntaddrs + 1, sizeof(*ta));
	struct buf *tb = xcalloc(s->ntaddrs + 1, sizeof(*tb));

	for (size_t i = 0; i < s->nmeta; i++) {
		meta[2 * i] = s->meta[i].key;
		meta[2 * i + 1] = s->meta[i].value;
	}
	for (size_t i = 0; i < s->ntaddrs; i++) {
		struct proto_cat_svc_addr a = {
			.key = proto_str_c(s->taddrs[i].key),
			.address = proto_str_c(s->taddrs[i].address),
			.port = s->taddrs[i].port };
		buf_init(&tb[i]);
		proto_enc_cat_svc_addr(&tb[i], &a);
		ta[i].p = (const char *)tb[i].data;
		ta[i].len = (uint32_t)tb[i].len;
	}
	struct proto_cat_service m = { .node = proto_str_c(st->node_name),
		.kind = proto_str_c(s->kind), .id = proto_str_c(s->id),
		.service = proto_str_c(s->name),
		.tags = strv_of(s->tags, s->ntags),
		.address = proto_str_c(s->address),
		.tagged_addresses = { .n = (uint32_t)s->ntaddrs, .strs = ta },
		.has_meta = true, .meta = strv_of(meta, 2 * s->nmeta),
		.port = s->port, .socket_path = proto_str_c(s->socket_path),
		.weights_passing = s->w_passing, .weights_warning = s->w_warning,
		.enable_tag_override = s->enable_tag_override,
		.connect_native = s->connect_native };
	proto_enc_cat_service(out, &m);
	for (size_t i = 0; i < s->ntaddrs; i++)
		buf_free(&tb[i]);
	free(tb);
	free(ta);
	free(meta);
}

/* What HealthCheck.Type says: the runner's kind, "maintenance" for the
 * maintenance checks (Agent.EnableServiceMaintenance). */
static const char *
check_type(const struct chk_check *c)
{
	return c->has_def ? chk_kind_name(c->kind) : "maintenance";
}

/* The agent registers no Definition (that field is for catalog-only
 * checks such as consul-esm's): an empty object. */
#define AE_NO_DEFINITION "{}"

void
ae_enc_check(struct buf *out, const struct chk_state *st,
    const struct chk_check *c)
{
	const struct chk_service *s = c->service_id[0] ?
	    chk_service_find(st, c->service_id) : NULL;
	struct proto_cat_check m = { .node = proto_str_c(st->node_name),
		.check_id = proto_str_c(c->id), .name = proto_str_c(c->name),
		.status = proto_str_c(chk_status_name(c->status)),
		.notes = proto_str_c(c->notes), .output = proto_str_c(c->output),
		.service_id = proto_str_c(c->service_id),
		.service_name = proto_str_c(s ? s->name : ""),
		.service_tags = s ? strv_of(s->tags, s->ntags) :
		    (struct proto_strv){ 0 },
		.type = proto_str_c(check_type(c)),
		.interval = proto_str_c(c->interval_text),
		.timeout = proto_str_c(c->timeout_text),
		.definition = PROTO_STR(AE_NO_DEFINITION) };
	proto_enc_cat_check(out, &m);
}

/* ---- comparison ---- */

static bool
str_is(struct proto_str s, const char *c)
{
	return proto_str_eq(s, c);
}

/* A decoded strv against n C strings, in order. */
static bool
strv_is(const struct proto_strv *v, char *const *items, size_t n)
{
	struct proto_strv_iter it;
	struct proto_str s;
	size_t i = 0;
	if (v->n != n)
		return false;
	proto_strv_iter_init(&it, v);
	while (proto_strv_next(&it, &s))
		if (i >= n || !str_is(s, items[i++]))
			return false;
	return i == n;
}

static bool
meta_is(const struct proto_strv *v, const struct chk_service *s)
{
	struct proto_strv_iter it;
	struct proto_str k, val;
	size_t i = 0;
	if (v->n != 2 * s->nmeta)
		return false;
	proto_strv_iter_init(&it, v);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &val)) {
		if (i >= s->nmeta || !str_is(k, s->meta[i].key) ||
		    !str_is(val, s->meta[i].value))
			return false;
		i++;
	}
	return i == s->nmeta;
}

static bool
taddrs_are(const struct proto_strv *v, const struct chk_service *s)
{
	struct proto_strv_iter it;
	struct proto_str item;
	struct proto_cat_svc_addr a;
	size_t i = 0;
	if (v->n != s->ntaddrs)
		return false;
	proto_strv_iter_init(&it, v);
	while (proto_strv_next(&it, &item)) {
		if (i >= s->ntaddrs ||
		    proto_dec_cat_svc_addr(item.p, item.len, &a) < 0 ||
		    !str_is(a.key, s->taddrs[i].key) ||
		    !str_is(a.address, s->taddrs[i].address) ||
		    a.port != s->taddrs[i].port)
			return false;
		i++;
	}
	return i == s->ntaddrs;
}

/* NodeService.IsSame over what the agent registers. */
static bool
service_same(const struct chk_service *s, const struct proto_cat_service *r)
{
	return str_is(r->id, s->id) && str_is(r->service, s->name) &&
	    str_is(r->kind, s->kind) && strv_is(&r->tags, s->tags, s->ntags) &&
	    str_is(r->address, s->address) && taddrs_are(&r->tagged_addresses,
	    s) && r->port == s->port && meta_is(&r->meta, s) &&
	    str_is(r->socket_path, s->socket_path) &&
	    r->weights_passing == s->w_passing &&
	    r->weights_warning == s->w_warning &&
	    r->enable_tag_override == s->enable_tag_override &&
	    r->connect_native == s->connect_native;
}

/* HealthCheck.IsSame; with ignore_output the output is left out (a
 * deferred output-only change is pushed by its own timer). */
static bool
check_same(const struct chk_state *st, const struct chk_check *c,
    const struct proto_cat_check *r, bool ignore_output)
{
	const struct chk_service *s = c->service_id[0] ?
	    chk_service_find(st, c->service_id) : NULL;
	return str_is(r->check_id, c->id) && str_is(r->name, c->name) &&
	    str_is(r->status, chk_status_name(c->status)) &&
	    str_is(r->notes, c->notes) &&
	    (ignore_output || str_is(r->output, c->output)) &&
	    str_is(r->service_id, c->service_id) &&
	    str_is(r->service_name, s ? s->name : "") &&
	    (s ? strv_is(&r->service_tags, s->tags, s->ntags) :
	    r->service_tags.n == 0) &&
	    str_is(r->type, check_type(c)) &&
	    str_is(r->interval, c->interval_text) &&
	    str_is(r->timeout, c->timeout_text) &&
	    str_is(r->definition, AE_NO_DEFINITION);
}

static bool
node_same(const struct ae_node *n, const struct proto_cat_read *rd)
{
	struct proto_cat_node r;
	if (!rd->found || proto_dec_cat_node(rd->node.p, rd->node.len, &r) < 0)
		return false;
	return str_is(r.id, n->id) && str_is(r.address, n->address) &&
	    strv_is(&r.tagged_addresses, n->tagged, n->ntagged) &&
	    strv_is(&r.meta, n->meta, n->nmeta);
}

/* EnableTagOverride: the catalog's tags win (updateSyncState copies them
 * into the local service before comparing). */
static void
take_tags(struct chk_state *st, struct chk_service *s,
    const struct proto_strv *tags)
{
	struct proto_strv_iter it;
	struct proto_str t;
	size_t i = 0;
	if (strv_is(tags, s->tags, s->ntags))
		return;
	for (i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	s->tags = xcalloc(tags->n + 1, sizeof(*s->tags));
	s->ntags = 0;
	proto_strv_iter_init(&it, tags);
	while (proto_strv_next(&it, &t))
		s->tags[s->ntags++] = proto_str_dup(t);
	if (st->service_changed)
		st->service_changed(st, s->id);
}

static int
diff_services(struct chk_state *st, const struct proto_cat_read *rd)
{
	struct proto_strv_iter it;
	struct proto_str item;
	struct proto_cat_service r;
	for (struct avl_node *a = avl_first(&st->services); a; a = avl_next(a))
		avl_entry(a, struct chk_service, node)->in_sync = false;
	proto_strv_iter_init(&it, &rd->items);
	while (proto_strv_next(&it, &item)) {
		if (proto_dec_cat_service(item.p, item.len, &r) < 0)
			return -EBADMSG;
		char *id = proto_str_dup(r.id);
		struct chk_service *s = id ? chk_service_find(st, id) : NULL;
		if (id == NULL) {
			return -EBADMSG;
		} else if (s == NULL) {
			if (strcmp(id, AE_CONSUL_SERVICE) != 0)
				chk_sync_deleted(st, true, id, NULL);
		} else {
			if (s->enable_tag_override)
				take_tags(st, s, &r.tags);
			s->in_sync = service_same(s, &r);
		}
		free(id);
	}
	return 0;
}

static int
diff_checks(struct chk_state *st, const struct proto_cat_read *rd)
{
	struct proto_strv_iter it;
	struct proto_str item;
	struct proto_cat_check r;
	bool deferring = st->cfg.check_update_interval > 0;
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a))
		avl_entry(a, struct chk_check, node)->in_sync = false;
	proto_strv_iter_init(&it, &rd->items);
	while (proto_strv_next(&it, &item)) {
		if (proto_dec_cat_check(item.p, item.len, &r) < 0)
			return -EBADMSG;
		char *id = proto_str_dup(r.check_id);
		char *sid = proto_str_dup(r.service_id);
		struct chk_check *c = id ? chk_check_find(st, id) : NULL;
		if (id == NULL || sid == NULL) {
			free(id);
			free(sid);
			return -EBADMSG;
		} else if (c == NULL) {
			if (strcmp(id, AE_SERF_CHECK) != 0)
				chk_sync_deleted(st, false, id, sid);
		} else
			c->in_sync = check_same(st, c, &r, deferring &&
			    c->defer_armed);
		free(id);
		free(sid);
	}
	return 0;
}

int
ae_diff(struct chk_state *st, const struct ae_node *node, bool *node_in_sync,
    const void *svcs, size_t nsvcs, const void *checks, size_t nchecks)
{
	struct proto_cat_read rs, rc;
	int r;
	if (proto_dec_cat_read(svcs, nsvcs, &rs) < 0 ||
	    proto_dec_cat_read(checks, nchecks, &rc) < 0)
		return -EBADMSG;
	if (!node_same(node, &rs))
		*node_in_sync = false;
	if ((r = diff_services(st, &rs)) < 0 || (r = diff_checks(st, &rc)) < 0)
		return r;
	return 0;
}
