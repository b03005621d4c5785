/*
 * A stand-alone gossip node on the real pool glue, for the interop test
 * against the serf agent (interop.sh).  It binds its own sockets (the
 * supervisor does that for the agent), joins, logs every event in the
 * format the test greps, answers queries, and leaves gracefully on
 * SIGINT/SIGTERM.  Loopback use only.
 *
 * usage: gossip_node --name N --bind IP:PORT [--join IP:PORT]...
 *        [--key B64]... [--tag K=V]... [--log FILE] [--compress on|off]
 *        [--event NAME=PAYLOAD]   (sent once the join succeeded)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "workers/gossip/pool.h"

static FILE *out;
static struct gossip_pool *pool;
static struct gossip_keyring ring;
static bool leaving;
static const char *event_spec;

static void
note(const char *fmt, ...)
{
	va_list ap;
	fprintf(out, "%.3f ", (double)mono_ms() / 1000.0);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

static void
on_event(void *arg, struct gossip_pool *p, const struct gossip_event *e)
{
	const char *why;
	char a[64];
	switch (e->type) {
	case GOSSIP_EV_MEMBER_JOIN:
	case GOSSIP_EV_MEMBER_LEAVE:
	case GOSSIP_EV_MEMBER_FAILED:
	case GOSSIP_EV_MEMBER_UPDATE:
	case GOSSIP_EV_MEMBER_REAP:
		gossip_addr_fmt(&e->member.addr, a);
		note("MEMBER %s name=%s addr=%s status=%s",
		    e->type == GOSSIP_EV_MEMBER_JOIN ? "JOIN" :
		    e->type == GOSSIP_EV_MEMBER_LEAVE ? "LEAVE" :
		    e->type == GOSSIP_EV_MEMBER_FAILED ? "FAILED" :
		    e->type == GOSSIP_EV_MEMBER_UPDATE ? "UPDATE" : "REAP",
		    e->member.name, a,
		    gossip_member_status_name(e->member.status));
		break;
	case GOSSIP_EV_USER:
		note("USER EVENT name=%s payload=%.*s ltime=%llu", e->name,
		    (int)e->payload_len, (const char *)e->payload,
		    (unsigned long long)e->ltime);
		break;
	case GOSSIP_EV_QUERY: {
		char r[300];
		note("QUERY name=%s payload=%.*s from=%s", e->name,
		    (int)e->payload_len, (const char *)e->payload, e->from);
		snprintf(r, sizeof(r), "cnode-response-to-%s", e->name);
		if (gossip_pool_respond(p, e->query, (const uint8_t *)r,
		    strlen(r), &why) < 0)
			note("RESPOND failed: %s", why);
		break;
	}
	case GOSSIP_EV_JOIN_DONE:
		note("JOIN DONE count=%u error=%s", e->count,
		    e->error ? e->error : "");
		if (e->count > 0 && event_spec) {
			char name[128];
			const char *eq = strchr(event_spec, '=');
			snprintf(name, sizeof(name), "%.*s",
			    (int)(eq ? eq - event_spec : 127), event_spec);
			gossip_pool_user_event(p, name, eq ?
			    (const uint8_t *)eq + 1 : NULL, eq ?
			    strlen(eq + 1) : 0, false, &why);
		}
		break;
	case GOSSIP_EV_LEAVE_DONE:
		note("LEAVE DONE error=%s", e->error ? e->error : "");
		ev_break(EV_DEFAULT, EVBREAK_ALL);
		break;
	case GOSSIP_EV_KEYRING:
		note("KEYRING changed, %u keys", ring.n);
		break;
	default:
		break;
	}
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (leaving) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	leaving = true;
	note("leaving");
	if (gossip_pool_leave(pool) < 0)
		ev_break(loop, EVBREAK_ALL);
}

static int
bind_sock(int type, const struct gossip_addr *a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_port = htons(a->port) };
	int one = 1, fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	memcpy(&sin.sin_addr, a->ip, 4);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	struct gossip_pool_config pc;
	const char *joins[16], *tags[64];
	size_t njoin = 0, ntags = 0;
	bool compress = true;
	const char *name = NULL, *bind = NULL;

	out = stdout;
	log_init("gossip_node", LOG_LVL_INFO, false);
	gossip_keyring_init(&ring);
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--name") == 0) {
			name = v;
		} else if (strcmp(k, "--bind") == 0) {
			bind = v;
		} else if (strcmp(k, "--join") == 0 && njoin < 16) {
			joins[njoin++] = v;
		} else if (strcmp(k, "--key") == 0) {
			uint8_t key[32];
			size_t len;
			if (gossip_key_from_base64(v, key, &len) < 0 ||
			    gossip_keyring_add(&ring, key, len) < 0)
				fatalx("bad key %s", v);
		} else if (strcmp(k, "--tag") == 0 && ntags + 2 <= 64) {
			char *eq = strchr(v, '=');
			if (eq == NULL)
				fatalx("bad tag %s", v);
			tags[ntags++] = xstrndup(v, (size_t)(eq - v));
			tags[ntags++] = eq + 1;
		} else if (strcmp(k, "--log") == 0) {
			if ((out = fopen(v, "a")) == NULL)
				fatal("%s", v);
		} else if (strcmp(k, "--compress") == 0) {
			compress = strcmp(v, "off") != 0;
		} else if (strcmp(k, "--event") == 0) {
			event_spec = v;
		} else {
			fatalx("unknown option %s", k);
		}
	}
	if (name == NULL || bind == NULL)
		fatalx("usage: gossip_node --name N --bind IP:PORT ...");
	memset(&pc, 0, sizeof(pc));
	gossip_serf_config_consul_lan(&pc.serf);
	snprintf(pc.serf.ml.name, sizeof(pc.serf.ml.name), "%s", name);
	if (gossip_addr_parse_hostport(bind, 7946, &pc.serf.ml.addr) < 0 ||
	    pc.serf.ml.addr.len != 4)
		fatalx("bad --bind %s", bind);
	pc.serf.ml.wire.compress = compress;
	pc.serf.tags = tags;
	pc.serf.ntags = ntags;
	pc.serf.keyring = &ring;
	pc.serf.ml.seed = mono_ns() ^ (uint64_t)getpid();
	pc.source = pc.serf.ml.addr;
	pc.on_event = on_event;
	int udp = bind_sock(SOCK_DGRAM, &pc.serf.ml.addr);
	int tcp = bind_sock(SOCK_STREAM, &pc.serf.ml.addr);
	if (udp < 0 || tcp < 0)
		fatal("bind %s", bind);
	struct ev_loop *loop = EV_DEFAULT;
	pool = gossip_pool_new(loop, &pc, udp, tcp);
	if (pool == NULL)
		fatal("gossip_pool_new");
	note("started %s at %s", name, bind);
	if (njoin > 0 && gossip_pool_join(pool, joins, njoin, 7946, true) < 0)
		fatalx("no join address parses");
	ev_signal sint, sterm;
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &sterm);
	ev_run(loop, 0);
	gossip_pool_free(pool);
	for (size_t i = 0; i < ntags; i += 2)
		free((char *)tags[i]);
	note("stopped");
	return 0;
}
