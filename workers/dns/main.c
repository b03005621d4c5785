/*
 * The dns worker: Consul's DNS interface on the sockets the supervisor
 * bound.  The resolver answers from the read model (dns_model.c) of
 * nodes, services and health.  On a server the store pushes every
 * catalog change (store_dnsfeed.c): the model asks for a full sync
 * whenever the store channel comes up (either process restarted) or a
 * gap shows in the stream.  A client agent holds no catalog: the model
 * is pulled from a server with blocking reads (dns_pull.c).
 */
#include "workers/common/stats.h"
#include "workers/common/worker.h"
#include "workers/dns/dns.h"
#include "workers/dns/dns_model.h"
#include "workers/dns/dns_pull.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dns_app {
	struct dns_resolver *resolver;
	struct dns_server *server;
	struct dns_service_ttl *ttls;
	struct dns_model *model;
	struct dns_pull *pull;		/* client agents */
	bool sync_asked;		/* servers: a full sync is on its way */
	uint64_t resyncs;
};

static struct dns_app app;

static uint32_t
secs(int64_t ns)
{
	return (uint32_t)(ns / 1000000000LL);
}

/* The dns_config view of the agent config; ttls are allocated in app. */
static void
dns_config_from(const struct agent_config *c, struct dns_config *d)
{
	dns_config_defaults(d);
	d->domain = c->domain;
	d->alt_domain = c->alt_domain;
	d->datacenter = c->datacenter;
	d->node_name = c->node_name;
	d->advertise_addr = c->advertise_addr;
	d->node_ttl = secs(c->dns_config.node_ttl);
	free(app.ttls);
	app.ttls = xcalloc(c->dns_config.service_ttl.n + 1, sizeof(*app.ttls));
	for (size_t i = 0; i < c->dns_config.service_ttl.n; i++) {
		app.ttls[i].name = c->dns_config.service_ttl.k[i];
		app.ttls[i].ttl = secs(c->dns_config.service_ttl.v[i]);
	}
	d->service_ttl = app.ttls;
	d->nservice_ttl = c->dns_config.service_ttl.n;
	d->soa.refresh = (uint32_t)c->dns_config.soa.refresh;
	d->soa.retry = (uint32_t)c->dns_config.soa.retry;
	d->soa.expire = (uint32_t)c->dns_config.soa.expire;
	d->soa.min_ttl = (uint32_t)c->dns_config.soa.min_ttl;
	d->udp_answer_limit = c->dns_config.udp_answer_limit;
	d->a_record_limit = c->dns_config.a_record_limit;
	d->enable_truncate = c->dns_config.enable_truncate;
	d->only_passing = c->dns_config.only_passing;
	d->node_meta_txt = c->dns_config.enable_additional_node_meta_txt;
	d->disable_compression = c->dns_config.disable_compression;
	d->recursors = (const char *const *)c->recursors.v;
	d->nrecursors = c->recursors.n;
	d->recursor_strategy = strcmp(c->dns_config.recursor_strategy,
	    "random") == 0 ? DNS_RECURSE_RANDOM : DNS_RECURSE_SEQUENTIAL;
	d->recursor_timeout_ms =
	    (uint32_t)(c->dns_config.recursor_timeout / 1000000LL);
}

static int
dns_init(struct worker *w)
{
	struct dns_config d;
	struct dns_lookup lk;
	w->app = &app;
	dns_config_from(w->cfg, &d);
	app.model = dns_model_new(w->cfg->datacenter);
	dns_model_lookup(app.model, &lk);
	if (!w->cfg->server)
		app.pull = dns_pull_new(w, app.model);
	if (dns_resolver_new(w->loop, &d, &lk, &app.resolver) < 0) {
		log_warnx("invalid DNS configuration");
		exit(2);
	}
	app.server = dns_server_new(w->loop, app.resolver);
	return app.server ? 0 : -1;
}

static void
dns_listen(struct worker *w, unsigned kind, const char *addr, int fd)
{
	int r = -EINVAL;
	if (kind == LISTEN_DNS_UDP)
		r = dns_server_add_udp(app.server, fd);
	else if (kind == LISTEN_DNS_TCP)
		r = dns_server_add_tcp(app.server, fd);
	else
		close(fd);
	if (r < 0)
		log_warnx("cannot serve DNS on %s", addr);
}

static void
ask_sync(struct worker *w)
{
	struct proto_dns_sync_req q = { .index = dns_model_index(app.model) };
	struct buf b;
	buf_init(&b);
	proto_enc_dns_sync_req(&b, &q);
	app.sync_asked = worker_send(w, PROC_STORE, PROTO_DNS_SYNC_REQ,
	    &b) == 0;
	buf_free(&b);
	app.resyncs++;
}

/* The store channel is (again) up: the store or this worker started.
 * The model keeps serving what it holds until the sync replaces it. */
static void
dns_peer_up(struct worker *w, unsigned peer)
{
	if (peer != PROC_STORE)
		return;
	if (app.pull) {
		dns_pull_start(app.pull);
		return;
	}
	dns_model_desync(app.model);
	ask_sync(w);
}

static void
on_update(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	int r = dns_model_update(app.model, m->data, m->len);
	if (r == 0) {
		app.sync_asked = false;
		return;
	}
	if (r == -EBADMSG)
		log_warnx("dns: malformed catalog update dropped");
	if (!app.sync_asked && !app.pull) {
		log_debug("dns: catalog stream out of step (%d), full sync", r);
		ask_sync(w);
	}
}

static int
dns_reconfig(struct worker *w, struct agent_config *nc, struct buf *err)
{
	struct dns_config d;
	dns_config_from(nc, &d);
	if (dns_resolver_reconfigure(app.resolver, &d) < 0) {
		buf_addstr(err, "invalid DNS configuration");
		return -EINVAL;
	}
	dns_model_set_dc(app.model, nc->datacenter);
	return 0;
}

static bool
dns_stop(struct worker *w, unsigned reason)
{
	dns_server_free(app.server);
	app.server = NULL;
	dns_pull_free(app.pull);
	app.pull = NULL;
	return false;
}

static void
dns_stats_section(struct worker *w, const char *section, struct buf *out)
{
	struct dns_stats s;
	if (strcmp(section, "dns") != 0 || app.server == NULL)
		return;
	dns_server_stats(app.server, &s);
	stats_addu(out, "queries", s.queries);
	stats_addu(out, "nxdomain", s.nxdomain);
	stats_addu(out, "servfail", s.servfail);
	stats_addu(out, "recursed", s.recursed);
	stats_addu(out, "truncated", s.truncated);
	size_t nodes, insts;
	dns_model_counts(app.model, &nodes, &insts);
	stats_addu(out, "catalog_nodes", nodes);
	stats_addu(out, "catalog_instances", insts);
	stats_addu(out, "catalog_index", dns_model_index(app.model));
	stats_addu(out, "catalog_resyncs", app.resyncs);
}

static const struct worker_handler dns_handlers[] = {
	{ PROTO_DNS_UPDATE, FROM(PROC_STORE), on_update },
};

const struct worker_ops dns_ops = {
	.proc = PROC_DNS,
	.handlers = dns_handlers,
	.nhandlers = nitems(dns_handlers),
	.init = dns_init,
	.peer_up = dns_peer_up,
	.listen = dns_listen,
	.reconfig = dns_reconfig,
	.stop = dns_stop,
	.stats = dns_stats_section,
};
