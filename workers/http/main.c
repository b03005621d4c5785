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

#define HTTP_DRAIN_MAX_S 1.0

/* Finish what is in flight (a `leave` answer, say), then exit. */
static void
drain_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	if (http_server_conns_open(app.srv) > 0 &&
	    mono_ns() - app.drain_start_ns < (uint64_t)(HTTP_DRAIN_MAX_S * 1e9))
		return;
	ev_timer_stop(loop, t);
	http_server_free(app.srv);
	app.srv = NULL;
	worker_stopped(app.w);
}

static bool
http_stop(struct worker *w, unsigned reason)
{
	http_server_stop_listening(app.srv);
	app.drain_start_ns = mono_ns();
	ev_timer_init(&app.drain, drain_cb, 0.01, 0.01);
	ev_timer_start(w->loop, &app.drain);
	return true;
}

const struct worker_ops http_ops = {
	.proc = PROC_HTTP,
	.init = http_init,
	.listen = http_listen,
	.stop = http_stop,
};
