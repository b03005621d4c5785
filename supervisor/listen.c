/*
 * Binding every listening socket before any worker starts, so that workers
 * never need the privilege to bind and a worker that restarts gets the same
 * sockets back (the supervisor keeps its copies for that).
 */
#include "supervisor/sup.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Which worker receives which kind of socket. */
static const unsigned listen_owner[LISTEN_KIND_MAX] = {
	[LISTEN_HTTP] = PROC_HTTP,
	[LISTEN_HTTPS] = PROC_HTTP,
	[LISTEN_CONTROL] = PROC_HTTP,
	[LISTEN_DNS_UDP] = PROC_DNS,
	[LISTEN_DNS_TCP] = PROC_DNS,
	[LISTEN_SERF_LAN_UDP] = PROC_GOSSIP,
	[LISTEN_SERF_LAN_TCP] = PROC_GOSSIP,
	[LISTEN_SERF_WAN_UDP] = PROC_GOSSIP,
	[LISTEN_SERF_WAN_TCP] = PROC_GOSSIP,
	[LISTEN_SERVER_RPC] = PROC_STORE,
};

bool
sup_listener_for(unsigned proc, unsigned kind)
{
	return kind > 0 && kind < LISTEN_KIND_MAX && listen_owner[kind] == proc;
}

static int
parse_ip(const char *ip, int port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char tmp[64];

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
		return 0;
	}
	/* "[::1]" or "::1" */
	size_t l = strlen(ip);
	if (l >= 2 && ip[0] == '[' && ip[l - 1] == ']' && l - 2 < sizeof(tmp)) {
		memcpy(tmp, ip + 1, l - 2);
		tmp[l - 2] = '\0';
		ip = tmp;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static void
add_listener(struct sup *s, unsigned kind, const char *addr, int fd)
{
	s->ls = xrealloc(s->ls, (s->nls + 1) * sizeof(*s->ls));
	struct sup_listener *l = &s->ls[s->nls++];
	l->kind = kind;
	l->fd = fd;
	strlcpy_m(l->addr, addr, sizeof(l->addr));
}

static int
bind_inet(struct sup *s, unsigned kind, const char *ip, int port,
    struct buf *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1;
	bool udp = kind == LISTEN_DNS_UDP || kind == LISTEN_SERF_LAN_UDP ||
	    kind == LISTEN_SERF_WAN_UDP;
	char addr[96];

	if (parse_ip(ip, port, &ss, &sl) < 0) {
		buf_printf(err, "invalid address %s for %s", ip,
		    proto_listen_kind_name(kind));
		return -EINVAL;
	}
	snprintf(addr, sizeof(addr), strchr(ip, ':') && ip[0] != '[' ?
	    "[%s]:%d" : "%s:%d", ip, port);
	int fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		buf_printf(err, "socket for %s: %s", addr, strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (!udp && listen(fd, 1024) < 0)) {
		int e = errno;
		buf_printf(err, "Error starting agent: listen %s %s: %s",
		    udp ? "udp" : "tcp", addr, strerror(e));
		close(fd);
		return -e;
	}
	add_listener(s, kind, addr, fd);
	return 0;
}

/* The control socket: mode 0600, so only the agent's own user connects. */
static int
bind_control(struct sup *s, const char *path, struct buf *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sun.sun_path)) {
		buf_printf(err, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strlcpy_m(sun.sun_path, path, sizeof(sun.sun_path));
	char dir[sizeof(sun.sun_path)];
	strlcpy_m(dir, path, sizeof(dir));
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			buf_printf(err, "control socket directory %s: %s", dir,
			    strerror(errno));
			return -errno;
		}
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from a crashed agent: remove it unless one answers. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		buf_printf(err, "another agent is listening on %s", path);
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		buf_printf(err, "control socket %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	char addr[sizeof(sun.sun_path) + 8];
	snprintf(addr, sizeof(addr), "unix:%s", path);
	add_listener(s, LISTEN_CONTROL, addr, fd);
	return 0;
}

int
sup_listen_all(struct sup *s, struct buf *err)
{
	const struct agent_config *c = s->cfg;
	int r = 0;

	for (size_t i = 0; r == 0 && i < c->client_addr.n; i++) {
		const char *ip = c->client_addr.v[i];
		if (c->ports.http > 0)
			r = bind_inet(s, LISTEN_HTTP, ip, c->ports.http, err);
		if (r == 0 && c->ports.dns > 0)
			r = bind_inet(s, LISTEN_DNS_UDP, ip, c->ports.dns, err);
		if (r == 0 && c->ports.dns > 0)
			r = bind_inet(s, LISTEN_DNS_TCP, ip, c->ports.dns, err);
	}
	if (r == 0 && c->ports.serf_lan > 0)
		r = bind_inet(s, LISTEN_SERF_LAN_UDP, c->bind_addr, c->ports.serf_lan, err);
	if (r == 0 && c->ports.serf_lan > 0)
		r = bind_inet(s, LISTEN_SERF_LAN_TCP, c->bind_addr, c->ports.serf_lan, err);
	if (r == 0 && c->server && c->ports.serf_wan > 0)
		r = bind_inet(s, LISTEN_SERF_WAN_UDP, c->bind_addr, c->ports.serf_wan, err);
	if (r == 0 && c->server && c->ports.serf_wan > 0)
		r = bind_inet(s, LISTEN_SERF_WAN_TCP, c->bind_addr, c->ports.serf_wan, err);
	if (r == 0 && c->server && c->ports.server > 0)
		r = bind_inet(s, LISTEN_SERVER_RPC, c->bind_addr, c->ports.server, err);
	if (r == 0 && c->control_socket && c->control_socket[0])
		r = bind_control(s, c->control_socket, err);
	return r;
}

void
sup_listen_close_all(struct sup *s)
{
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i].fd >= 0)
			close(s->ls[i].fd);
	free(s->ls);
	s->ls = NULL;
	s->nls = 0;
}

/* Remove what the agent created in the file system for its sockets. */
void
sup_listen_cleanup(struct sup *s)
{
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i].kind == LISTEN_CONTROL)
			unlink(s->ls[i].addr + strlen("unix:"));
}
