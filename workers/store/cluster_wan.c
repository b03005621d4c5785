/*
 * Other datacenters, as a server learns them from the WAN pool (Consul's
 * agent/router: every WAN member tagged role=consul is a server of the
 * datacenter in its dc tag).  A datacenter is known while one of its
 * servers is alive, leaving or failed; a server that left or was reaped
 * is dropped, and with its last server the datacenter (router.go's
 * RemoveServer).
 *
 * Catalog.ListDatacenters sorts by estimated round-trip time (network
 * coordinates), ties by name.  muster keeps no coordinates: the local
 * datacenter, at distance zero, comes first and the others, all at an
 * unknown (infinite) distance, follow by name, which is what Consul
 * answers before any coordinate has been exchanged.  A client agent has
 * no WAN pool: it asks a server of its datacenter (rpc_forward).
 */
#include "workers/store/cluster.h"
#include "workers/store/rpc.h"
#include "workers/store/store.h"
#include "workers/common/worker.h"
#include "supervisor/config.h"
#include "proto/proto.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct cl_wan *
wan_find(const struct store_cluster *cl, const char *name)
{
	for (size_t i = 0; i < cl->nwan; i++)
		if (strcmp(cl->wan[i].name, name) == 0)
			return &cl->wan[i];
	return NULL;
}

static void
wan_drop(struct store_cluster *cl, struct cl_wan *w)
{
	size_t i = (size_t)(w - cl->wan);
	memmove(&cl->wan[i], &cl->wan[i + 1],
	    (cl->nwan - i - 1) * sizeof(*cl->wan));
	cl->nwan--;
}

static struct cl_wan *
wan_add(struct store_cluster *cl, const char *name)
{
	if (cl->nwan == cl->capwan) {
		cl->capwan = cl->capwan ? cl->capwan * 2 : 8;
		cl->wan = xrealloc(cl->wan, cl->capwan * sizeof(*cl->wan));
	}
	struct cl_wan *w = &cl->wan[cl->nwan++];
	memset(w, 0, sizeof(*w));
	strlcpy_m(w->name, name, sizeof(w->name));
	return w;
}

/* The tags that matter here: role, dc and the server port. */
static bool
wan_tags(struct cl_wan *w, const struct proto_member *pm)
{
	struct proto_strv_iter it;
	struct proto_str k, v;
	char buf[16], ip[48];
	unsigned port = 0;
	bool server = false;
	w->dc[0] = '\0';
	proto_strv_iter_init(&it, &pm->tags);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v)) {
		if (proto_str_eq(k, "role"))
			server = proto_str_eq(v, "consul");
		else if (proto_str_eq(k, "dc"))
			proto_str_copy(v, w->dc, sizeof(w->dc));
		else if (proto_str_eq(k, "port") &&
		    proto_str_copy(v, buf, sizeof(buf)) == 0)
			port = (unsigned)strtoul(buf, NULL, 10);
	}
	w->rpc_addr[0] = '\0';
	if (proto_str_copy(pm->addr, ip, sizeof(ip)) == 0 && ip[0] &&
	    port > 0 && port < 65536)
		snprintf(w->rpc_addr, sizeof(w->rpc_addr),
		    strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
	return server && w->dc[0] != '\0';
}

void
cluster_wan_event(struct store *st, unsigned kind,
    const struct proto_member *pm, const char *name)
{
	struct store_cluster *cl = st->cl;
	struct cl_wan *w = wan_find(cl, name);
	if (kind == 3 || kind == 5) {	/* left, reaped: gone */
		if (w)
			wan_drop(cl, w);
		return;
	}
	if (w == NULL)
		w = wan_add(cl, name);
	if (!wan_tags(w, pm)) {		/* not a server: not a datacenter */
		wan_drop(cl, w);
		return;
	}
	w->status = kind == 4 ? CL_FAILED : pm->status ? pm->status : CL_ALIVE;
	log_debug("cluster: WAN server %s of %s (%s)", w->name, w->dc,
	    cluster_status_name(w->status));
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t
cluster_datacenters(const struct store *st, const char **out, size_t max)
{
	const struct store_cluster *cl = st->cl;
	const char *local = st->w->cfg->datacenter;
	size_t n = 0;
	if (max == 0)
		return 0;
	out[n++] = local;
	for (size_t i = 0; cl && i < cl->nwan && n < max; i++) {
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(out[k], cl->wan[i].dc) == 0;
		if (!seen)
			out[n++] = cl->wan[i].dc;
	}
	qsort(out + 1, n - 1, sizeof(*out), str_cmp);
	return n;
}

const char *
cluster_dc_server(struct store *st, const char *dc)
{
	struct store_cluster *cl = st->cl;
	const char *failed = NULL;
	if (cl == NULL || cl->nwan == 0)
		return NULL;
	/* Rotate so that requests spread over the datacenter's servers. */
	for (size_t k = 0; k < cl->nwan; k++) {
		struct cl_wan *w = &cl->wan[(cl->wan_rr + k) % cl->nwan];
		if (strcmp(w->dc, dc) != 0 || !w->rpc_addr[0])
			continue;
		if (w->status != CL_ALIVE) {
			failed = failed ? failed : w->rpc_addr;
			continue;
		}
		cl->wan_rr = (unsigned)((cl->wan_rr + k + 1) % cl->nwan);
		return w->rpc_addr;
	}
	return failed;
}

size_t
cluster_known_datacenters(const struct store *st)
{
	const char *dcs[CL_DCS_MAX];
	return cluster_datacenters(st, dcs, nitems(dcs));
}

void
cluster_datacenters_req(struct store *st, struct store_waiter *w)
{
	const char *dcs[CL_DCS_MAX];
	struct buf b;
	if (!st->server) {
		rpc_forward(st, w, NULL);
		return;
	}
	size_t n = cluster_datacenters(st, dcs, nitems(dcs));
	struct proto_datacenters r = { .dcs = { .n = (uint32_t)n,
		.items = dcs } };
	buf_init(&b);
	proto_enc_datacenters(&b, &r);
	store_reply(st, w, PROTO_DATACENTERS, &b);
	buf_free(&b);
	store_waiter_free(w);
}

void
cluster_on_datacenters(struct worker *wk, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct store_waiter sw;
	store_waiter_from(wk, from, m, &sw);
	cluster_datacenters_req(wk->app, &sw);
}
