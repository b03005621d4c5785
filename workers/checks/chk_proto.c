/*
 * The registry as IPC messages (proto/schema_agent.h): structured views of
 * services and checks for the http worker (the catalog sync writes its
 * own rows, chk_ae_enc.c).  ServiceName and ServiceTags of a check are its
 * service's now.
 */
#include "workers/checks/chk.h"
#include "proto/proto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
chk_enc_service(struct buf *out, const struct chk_service *s)
{
	struct proto_str *meta = xcalloc(2 * s->nmeta + 1, sizeof(*meta));
	struct proto_str *ta = xcalloc(s->ntaddrs + 1, sizeof(*ta));
	struct buf tb;
	size_t *off = xcalloc(s->ntaddrs + 1, sizeof(*off));

	for (size_t i = 0; i < s->nmeta; i++) {
		meta[2 * i] = proto_str_c(s->meta[i].key);
		meta[2 * i + 1] = proto_str_c(s->meta[i].value);
	}
	buf_init(&tb);
	for (size_t i = 0; i < s->ntaddrs; i++) {
		struct proto_agent_svc_addr a = {
			.key = proto_str_c(s->taddrs[i].key),
			.address = proto_str_c(s->taddrs[i].address),
			.port = s->taddrs[i].port };
		off[i] = tb.len;
		proto_enc_agent_svc_addr(&tb, &a);
	}
	for (size_t i = 0; i < s->ntaddrs; i++) {
		size_t end = i + 1 < s->ntaddrs ? off[i + 1] : tb.len;
		ta[i].p = (const char *)tb.data + off[i];
		ta[i].len = (uint32_t)(end - off[i]);
	}
	struct proto_agent_service m = {
		.kind = proto_str_c(s->kind), .id = proto_str_c(s->id),
		.service = proto_str_c(s->name),
		.tags = { .n = (uint32_t)s->ntags,
		    .items = (const char *const *)s->tags },
		.meta = { .n = (uint32_t)(2 * s->nmeta), .strs = meta },
		.port = s->port, .address = proto_str_c(s->address),
		.socket_path = proto_str_c(s->socket_path),
		.tagged_addresses = { .n = (uint32_t)s->ntaddrs, .strs = ta },
		.weights_passing = s->w_passing,
		.weights_warning = s->w_warning,
		.enable_tag_override = s->enable_tag_override,
		.connect_native = s->connect_native,
	};
	proto_enc_agent_service(out, &m);
	buf_free(&tb);
	free(off);
	free(ta);
	free(meta);
}

void
chk_enc_check(struct buf *out, const struct chk_state *st,
    const struct chk_check *c)
{
	const struct chk_service *s = c->service_id[0] ?
	    chk_service_find(st, c->service_id) : NULL;
	struct proto_agent_check m = {
		.node = proto_str_c(st->node_name),
		.check_id = proto_str_c(c->id),
		.name = proto_str_c(c->name),
		.status = proto_str_c(chk_status_name(c->status)),
		.notes = proto_str_c(c->notes),
		.output = proto_str_c(c->output),
		.service_id = proto_str_c(c->service_id),
		.service_name = proto_str_c(s ? s->name : ""),
		.service_tags = { .n = s ? (uint32_t)s->ntags : 0,
		    .items = s ? (const char *const *)s->tags : NULL },
		.type = proto_str_c(c->has_def ? chk_kind_name(c->kind) :
		    "maintenance"),
		.interval = proto_str_c(c->interval_text),
		.timeout = proto_str_c(c->timeout_text),
		.exposed_port = 0,
	};
	proto_enc_agent_check(out, &m);
}

static void
fnv_hex(const void *p, size_t n, char out[17])
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	snprintf(out, 17, "%" PRIx64, h);
}

void
chk_service_hash(const struct chk_service *s, char out[17])
{
	struct buf b;
	buf_init(&b);
	chk_enc_service(&b, s);
	fnv_hex(b.data, b.len, out);
	buf_free(&b);
}

/* Items of a strv are views into one buffer; offsets survive growth. */
struct items {
	struct buf data;
	size_t *off;
	size_t n, cap;
};

static void
items_mark(struct items *it)
{
	if (it->n == it->cap) {
		it->cap = it->cap ? 2 * it->cap : 16;
		it->off = xrealloc(it->off, (it->cap + 1) * sizeof(*it->off));
	}
	it->off[it->n++] = it->data.len;
}

static struct proto_str *
items_views(struct items *it)
{
	struct proto_str *v = xcalloc(it->n + 1, sizeof(*v));
	for (size_t i = 0; i < it->n; i++) {
		size_t end = i + 1 < it->n ? it->off[i + 1] : it->data.len;
		v[i].p = (const char *)it->data.data + it->off[i];
		v[i].len = (uint32_t)(end - it->off[i]);
	}
	return v;
}

static bool
service_selected(const struct chk_service *s, const char *id,
    const char *name)
{
	return (id == NULL || strcmp(s->id, id) == 0) &&
	    (name == NULL || strcmp(s->name, name) == 0);
}

void
chk_enc_local(struct buf *out, const struct chk_state *st, unsigned what,
    const char *service_id, const char *service_name)
{
	struct items sv = { 0 }, ck = { 0 };
	bool filtered = service_id || service_name;

	buf_init(&sv.data);
	buf_init(&ck.data);
	for (struct avl_node *a = avl_first(&st->services); a; a = avl_next(a)) {
		const struct chk_service *s = avl_entry(a, struct chk_service,
		    node);
		if (!(what & AGENT_LOCAL_SERVICES) ||
		    !service_selected(s, service_id, service_name))
			continue;
		items_mark(&sv);
		chk_enc_service(&sv.data, s);
	}
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a)) {
		const struct chk_check *c = avl_entry(a, struct chk_check, node);
		bool take = !filtered || c->service_id[0] == '\0';
		const struct chk_service *s;
		if (!(what & AGENT_LOCAL_CHECKS))
			break;
		if (!take && (s = chk_service_find(st, c->service_id)) != NULL)
			take = service_selected(s, service_id, service_name);
		if (!take)
			continue;
		items_mark(&ck);
		chk_enc_check(&ck.data, st, c);
	}
	struct proto_str *sviews = items_views(&sv), *cviews = items_views(&ck);
	char hash[17] = "";
	if (sv.n > 0)
		fnv_hex(sviews[0].p, sviews[0].len, hash);
	struct proto_agent_local m = {
		.services = { .n = (uint32_t)sv.n, .strs = sviews },
		.checks = { .n = (uint32_t)ck.n, .strs = cviews },
		.content_hash = proto_str_c(hash),
	};
	proto_enc_agent_local(out, &m);
	free(sviews);
	free(cviews);
	free(sv.off);
	free(ck.off);
	buf_free(&sv.data);
	buf_free(&ck.data);
}
