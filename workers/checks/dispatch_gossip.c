/*
 * Messages from the gossip worker: the LAN pool's membership, which sets
 * the anti-entropy full-sync interval (chk_sync.c) and whose server joins
 * trigger a full sync (chk_ae.c), and reads of the
 * local services for user events' service filters (handled with the
 * http worker's in dispatch_http.c).
 */
#include "workers/checks/checks.h"
#include "lib/log.h"

#include <stdlib.h>

/* schema_gossip.h MEMBER_EVENT: pool 0 LAN; kind 1 join, 5 reaped. */
#define POOL_LAN 0
#define KIND_JOIN 1
#define KIND_REAPED 5

/* A Consul server: tag role=consul (metadata.IsConsulServer). */
static bool
is_server(const struct proto_member *mb)
{
	struct proto_strv_iter it;
	struct proto_str k, v;
	proto_strv_iter_init(&it, &mb->tags);
	while (proto_strv_next(&it, &k) && proto_strv_next(&it, &v))
		if (proto_str_eq(k, "role"))
			return proto_str_eq(v, "consul");
	return false;
}

static void
on_member_event(struct worker *w, unsigned from, struct ipc_chan *ch,
    struct ipc_msg *m)
{
	struct proto_member_event ev;
	struct proto_member mb;
	char *name;

	if (proto_dec_member_event(m->data, m->len, &ev) < 0 ||
	    proto_dec_member(ev.member.p, ev.member.len, &mb) < 0 ||
	    (name = proto_str_dup(mb.name)) == NULL) {
		w->bad_messages++;
		log_warnx("malformed member event from gossip");
		return;
	}
	if (ev.pool == POOL_LAN) {
		chk_sync_member(chk_worker_state(), name,
		    ev.kind == KIND_REAPED);
		/* Consul's ServerUp: a server joined, sync with it soon. */
		if (ev.kind == KIND_JOIN && is_server(&mb))
			chk_ae_server_up(chk_worker_state());
	}
	free(name);
}

const struct worker_handler checks_dispatch_gossip[CHECKS_DISPATCH_GOSSIP_N] = {
	{ PROTO_MEMBER_EVENT, FROM(PROC_GOSSIP), on_member_event },
};
