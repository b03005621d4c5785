/*
 * The http worker: Consul's HTTP API on the sockets the supervisor bound
 * (TCP on client_addr, and the control socket), answered through IPC to
 * the store, gossip, checks workers and the supervisor.
 */
#include "workers/http/api.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <unistd.h>

static struct http_app app;

static int
http_init(struct worker *w)
{
	const struct agent_config *c = w->cfg;
	struct http_limits lim;

	app.w = w;
	app.started_ns = mono_ns();
	w->app = &app;
	http_limits_default(&lim);
	if (c->limits.http_max_conns_per_client > 0)
		lim.max_conns_per_client =
		    (unsigned)c->limits.http_max_conns_per_client;
	app.srv = http_server_new(w->loop, api_routes, api_nroutes, &lim, &app);
	if (app.srv == NULL)
		return -1;
	for (size_t i = 0; i < c->http_config.response_headers.n; i++)
		http_server_add_header(app.srv,
		    c->http_config.response_headers.k[i],
		    c->http_config.response_headers.v[i]);
	return 0;
}

static void
http_listen(struct worker *w, unsigned kind, const char *addr, int fd)
{
	if ((kind != LISTEN_HTTP && kind != LISTEN_CONTROL) ||
	    http_server_listen_fd(app.srv, fd) < 0) {
		log_warnx("cannot serve HTTP on %s", addr);
		close(fd);
	}
}

static void
http_stop(struct worker *w, unsigned reason)
{
	http_server_free(app.srv);
	app.srv = NULL;
}

const struct worker_ops http_ops = {
	.proc = PROC_HTTP,
	.init = http_init,
	.listen = http_listen,
	.stop = http_stop,
};
