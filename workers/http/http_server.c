/*
 * The server: listening sockets, accept() with the total and per-client
 * connection caps (Consul's limits.http_max_conns_per_client answers 429
 * and closes), the route table (Go ServeMux matching plus Consul's wrap():
 * 405 with Allow, OPTIONS answered from the table), the Date cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "workers/http/http_priv.h"

#define ACCEPT_BATCH 64
#define ACCEPT_RETRY_SECS 0.1	/* after EMFILE and friends */

void
http_limits_default(struct http_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_header_bytes = HTTP_MAX_HEADER_BYTES_DEFAULT;
	lim->max_body = HTTP_MAX_BODY_DEFAULT;
	lim->max_conns = 8192;
	lim->max_conns_per_client = HTTP_MAX_CONNS_PER_CLIENT_DEFAULT;
	lim->max_pipeline = 32;
	lim->idle_timeout_ms = 120 * 1000;
	lim->read_timeout_ms = 60 * 1000;
	lim->write_timeout_ms = 60 * 1000;
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Request Entity Too Large";
	case 414: return "Request URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Requested Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "";
}

/* IMF-fixdate (RFC 9110 §5.6.7), recomputed once a second. */
const char *
http_date(struct http_server *s)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char mons[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = (time_t)ev_now(s->loop);
	struct tm tm;

	if (now == s->date_sec && s->date[0] != '\0')
		return s->date;
	gmtime_r(&now, &tm);
	snprintf(s->date, sizeof(s->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	s->date_sec = now;
	return s->date;
}

/* ---- per-client connection counts ---- */

static size_t
ipkey(const struct sockaddr *sa, uint8_t key[17])
{
	memset(key, 0, 17);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		key[0] = 4;
		memcpy(key + 1, &in->sin_addr, 4);
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		key[0] = 6;
		memcpy(key + 1, &in6->sin6_addr, 16);
		return 1;
	}
	return 0;
}

static unsigned
iphash(const uint8_t key[17])
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (int i = 0; i < 17; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % HTTP_IPTAB_SIZE;
}

bool
http_ipcount_acquire(struct http_server *s, struct http_conn *c,
    const struct sockaddr *sa)
{
	uint8_t key[17];
	struct http_ipcount *e;

	if (!ipkey(sa, key))
		return true;
	unsigned h = iphash(key);
	for (e = s->iptab[h]; e != NULL; e = e->next)
		if (memcmp(e->key, key, sizeof(key)) == 0)
			break;
	if (e != NULL && s->lim.max_conns_per_client != 0 &&
	    e->n >= s->lim.max_conns_per_client)
		return false;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, sizeof(key));
		e->next = s->iptab[h];
		s->iptab[h] = e;
	}
	e->n++;
	c->ipc = e;
	return true;
}

void
http_ipcount_release(struct http_server *s, struct http_conn *c)
{
	struct http_ipcount *e = c->ipc, **pp;

	if (e == NULL)
		return;
	c->ipc = NULL;
	if (--e->n > 0)
		return;
	for (pp = &s->iptab[iphash(e->key)]; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	free(e);
}

/* ---- listening ---- */

static void
accept_pause(struct http_server *s, bool retry)
{
	for (size_t i = 0; i < s->nls; i++)
		ev_io_stop(s->loop, &s->ls[i]->io);
	s->paused = true;
	if (retry && !ev_is_active(&s->retry)) {
		ev_timer_set(&s->retry, ACCEPT_RETRY_SECS, 0);
		ev_timer_start(s->loop, &s->retry);
	}
}

static void
accept_resume(struct http_server *s)
{
	if (!s->paused || ev_is_active(&s->retry) ||
	    s->st.conns_open >= s->lim.max_conns)
		return;
	s->paused = false;
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i]->fd >= 0)
			ev_io_start(s->loop, &s->ls[i]->io);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_server *s = w->data;

	(void)loop;
	(void)revents;
	accept_resume(s);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_listener *l = w->data;
	struct http_server *s = l->srv;

	(void)loop;
	(void)revents;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (s->st.conns_open >= s->lim.max_conns) {
			accept_pause(s, false);
			return;
		}
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE, ENFILE, ENOBUFS, ENOMEM: back off. */
			log_debug("http: accept: %s", strerror(errno));
			accept_pause(s, true);
			return;
		}
		http_conn_new(s, fd, l->is_unix ? NULL : (struct sockaddr *)&ss,
		    sl, l->is_unix);
	}
}

static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	http_conn_run_kicks(w->data);
}

void
http_server_conn_gone(struct http_server *s)
{
	s->st.conns_open--;
	accept_resume(s);
}

struct http_server *
http_server_new(struct ev_loop *loop, const struct http_route *routes,
    size_t nroutes, const struct http_limits *lim, void *app)
{
	struct http_server *s = xcalloc(1, sizeof(*s));

	s->loop = loop;
	s->routes = routes;
	s->nroutes = nroutes;
	s->route_len = xcalloc(nroutes ? nroutes : 1, sizeof(size_t));
	for (size_t i = 0; i < nroutes; i++)
		s->route_len[i] = strlen(routes[i].path);
	if (lim != NULL)
		s->lim = *lim;
	else
		http_limits_default(&s->lim);
	if (s->lim.max_pipeline == 0)
		s->lim.max_pipeline = 1;
	if (s->lim.max_conns == 0)
		s->lim.max_conns = 1;
	s->app = app;
	s->scratch = xmalloc(HTTP_SCRATCH_SIZE);
	ev_init(&s->retry, retry_cb);
	s->retry.data = s;
	ev_prepare_init(&s->prep, prepare_cb);
	s->prep.data = s;
	ev_prepare_start(loop, &s->prep);
	ev_unref(loop);		/* the prepare watcher alone keeps no loop alive */
	return s;
}

int
http_server_listen_fd(struct http_server *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct http_listener *l;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    fd_set_nonblock(fd, true) < 0 || fd_set_cloexec(fd, true) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	l = xcalloc(1, sizeof(*l));
	s->ls = xrealloc(s->ls, (s->nls + 1) * sizeof(*s->ls));
	s->ls[s->nls++] = l;
	l->fd = fd;
	l->srv = s;
	l->is_unix = ss.ss_family == AF_UNIX;
	ev_io_init(&l->io, accept_cb, fd, EV_READ);
	l->io.data = l;
	if (!s->paused)
		ev_io_start(s->loop, &l->io);
	return 0;
}

void
http_server_add_header(struct http_server *s, const char *name,
    const char *value)
{
	if (strpbrk(name, "\r\n") != NULL || strpbrk(value, "\r\n") != NULL)
		return;
	buf_printf(&s->extra_hdrs, "%s: %s\r\n", name, value);
}

void
http_server_stop_listening(struct http_server *s)
{
	for (size_t i = 0; i < s->nls; i++) {
		ev_io_stop(s->loop, &s->ls[i]->io);
		if (s->ls[i]->fd >= 0)
			close(s->ls[i]->fd);
		s->ls[i]->fd = -1;
	}
	ev_timer_stop(s->loop, &s->retry);
}

void
http_server_free(struct http_server *s)
{
	if (s == NULL)
		return;
	http_server_stop_listening(s);
	while (s->conns != NULL)
		http_conn_destroy(s->conns);
	ev_ref(s->loop);
	ev_prepare_stop(s->loop, &s->prep);
	for (size_t i = 0; i < HTTP_IPTAB_SIZE; i++)
		while (s->iptab[i] != NULL) {
			struct http_ipcount *e = s->iptab[i];
			s->iptab[i] = e->next;
			free(e);
		}
	buf_free(&s->extra_hdrs);
	for (size_t i = 0; i < s->nls; i++)
		free(s->ls[i]);
	free(s->ls);
	free(s->route_len);
	free(s->scratch);
	free(s);
}

uint64_t
http_server_conns_open(const struct http_server *s)
{
	return s->st.conns_open;
}

uint64_t
http_server_requests_served(const struct http_server *s)
{
	return s->st.requests;
}

void
http_server_stats(const struct http_server *s, struct http_stats *st)
{
	*st = s->st;
}

/* ---- routing ---- */

static bool
route_allows(const struct http_route *rt, unsigned m)
{
	if (rt->methods == 0 || (rt->methods & m))
		return true;
	return m == HTTP_HEAD && (rt->methods & HTTP_GET);
}

/* The best pattern for path: exact beats prefix, longer prefix wins. */
static ssize_t
route_best(struct http_server *s, const char *path, size_t plen)
{
	ssize_t best = -1;
	size_t best_len = 0;

	for (size_t i = 0; i < s->nroutes; i++) {
		const struct http_route *rt = &s->routes[i];
		size_t rl = s->route_len[i];
		if (!rt->prefix) {
			if (rl == plen && memcmp(path, rt->path, rl) == 0)
				return (ssize_t)i;
			continue;
		}
		if (rl <= plen && rl > best_len &&
		    memcmp(path, rt->path, rl) == 0) {
			best = (ssize_t)i;
			best_len = rl;
		}
	}
	return best;
}

static bool
same_pattern(struct http_server *s, size_t a, size_t b)
{
	return s->routes[a].prefix == s->routes[b].prefix &&
	    s->route_len[a] == s->route_len[b] &&
	    memcmp(s->routes[a].path, s->routes[b].path, s->route_len[a]) == 0;
}

/* Go's ServeMux: "/x" redirects to "/x/" when only the subtree exists. */
static bool
route_wants_slash(struct http_server *s, const char *path, size_t plen)
{
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct http_route *rt = &s->routes[i];
		if (rt->prefix && s->route_len[i] == plen + 1 &&
		    memcmp(rt->path, path, plen) == 0)
			return true;
	}
	return false;
}

void
http_route_match(struct http_server *s, struct http_ctx *x)
{
	const struct http_request *r = &x->h.req;
	ssize_t best;

	if (x->h.path_unprintable && !s->lim.allow_unprintable_path) {
		x->pre_status = 400;	/* cleanhttp.PrintablePathCheckHandler */
		return;
	}
	if (strcmp(r->path, "*") == 0) {
		x->pre_status = 200;	/* OPTIONS *, as Go's serverHandler */
		return;
	}
	best = route_best(s, r->path, r->path_len);
	if ((best < 0 || s->routes[best].prefix) && r->path_len > 0 &&
	    route_wants_slash(s, r->path, r->path_len)) {
		x->pre_status = 301;
		return;
	}
	if (best < 0) {
		x->pre_status = 404;
		return;
	}
	x->rest = s->routes[best].prefix ?
	    r->path + s->route_len[best] : "";
	for (size_t i = (size_t)best; i < s->nroutes; i++) {
		if (i != (size_t)best && !same_pattern(s, (size_t)best, i))
			continue;
		x->allow |= s->routes[i].methods;
		if (x->route == NULL && route_allows(&s->routes[i], r->method))
			x->route = &s->routes[i];
	}
	if (x->route == NULL)
		x->pre_status = r->method == HTTP_OPTIONS ? 200 : 405;
}

/* "OPTIONS,GET,PUT" as Consul's addAllowHeader() joins them. */
static void
allow_string(unsigned mask, char *out, size_t sz)
{
	static const struct {
		unsigned bit;
		const char *name;
	} order[] = {
		{ HTTP_GET, "GET" }, { HTTP_HEAD, "HEAD" }, { HTTP_PUT, "PUT" },
		{ HTTP_POST, "POST" }, { HTTP_DELETE, "DELETE" },
		{ HTTP_PATCH, "PATCH" },
	};

	strlcpy_m(out, "OPTIONS", sz);
	for (size_t i = 0; i < nitems(order); i++)
		if (mask & order[i].bit) {
			size_t n = strlen(out);
			snprintf(out + n, sz - n, ",%s", order[i].name);
		}
}

static void
reply_redirect(struct http_ctx *x)
{
	const struct http_request *r = &x->h.req;
	char *loc = xasprintf("%s/%s%s", r->raw_path, *r->raw_query ? "?" : "",
	    r->raw_query);
	char *body = xasprintf("<a href=\"%s\">Moved Permanently</a>.\n\n",
	    loc);

	http_reply_header(x, "Location", loc);
	http_reply(x, 301, "text/html; charset=utf-8", body, strlen(body));
	free(body);
	free(loc);
}

void
http_route_dispatch(struct http_server *s, struct http_ctx *x)
{
	char allow[64];

	(void)s;
	switch (x->pre_status) {
	case 0:
		x->route->handler(x, &x->h.req);
		return;
	case 301:
		reply_redirect(x);
		return;
	case 404:
		/* Go's http.NotFound */
		http_reply_header(x, "X-Content-Type-Options", "nosniff");
		http_reply(x, 404, NULL, "404 page not found\n", 19);
		return;
	case 405:
		allow_string(x->allow, allow, sizeof(allow));
		http_reply_header(x, "Allow", allow);
		http_reply_error(x, 405, "method %s not allowed",
		    x->h.req.method_str);
		return;
	case 200:
		allow_string(x->allow, allow, sizeof(allow));
		http_reply_header(x, "Allow", allow);
		http_reply(x, 200, NULL, "", 0);
		return;
	default:
		http_reply(x, x->pre_status, NULL, "", 0);
		return;
	}
}
