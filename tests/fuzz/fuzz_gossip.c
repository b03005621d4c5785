/*
 * libFuzzer target: a gossip datagram or stream from the network, through
 * everything the gossip worker runs on it: label, decryption, CRC,
 * compound and LZW layers, each memberlist message decoder, the serf
 * messages inside user messages and their nested payloads (filters, key
 * requests/responses, conflict members, relays), tags in Meta, the
 * coordinate in acks, push/pull state; then the same bytes as a datagram
 * and as a stream into a fresh serf/memberlist core, which must take
 * any of it without crashing or leaking.  The first byte picks the
 * framing options; the rest is the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "workers/gossip/serf.h"
#include "workers/gossip/serf_wire.h"
#include "workers/gossip/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
nested(const struct gossip_slice *p)
{
	struct gossip_serf_key_response kr;
	struct gossip_serf_member_wire mw;
	struct gossip_slice key, names[32], tag, expr;
	size_t n;
	bool present;

	if (p->n < 1)
		return;
	switch (p->p[0]) {
	case GOSSIP_SERF_KEY_REQUEST:
		gossip_serf_dec_key_request(p->p + 1, p->n - 1, &key);
		break;
	case GOSSIP_SERF_KEY_RESPONSE:
		gossip_serf_dec_key_response(p->p + 1, p->n - 1, &kr);
		break;
	case GOSSIP_SERF_CONFLICT_RESPONSE:
		gossip_serf_dec_conflict_response(p->p + 1, p->n - 1, &mw,
		    &present);
		break;
	}
	gossip_serf_dec_filter_nodes(p->p + 1, p->n - 1, names, 32, &n);
	gossip_serf_dec_filter_tag(p->p + 1, p->n - 1, &tag, &expr);
}

static void
serf_msg(const uint8_t *p, size_t n)
{
	union {
		struct gossip_serf_join j;
		struct gossip_serf_leave l;
		struct gossip_serf_user_event e;
		struct gossip_serf_query q;
		struct gossip_serf_query_response r;
		struct gossip_serf_relay rl;
		struct gossip_serf_push_pull pp;
	} u;

	if (n < 1)
		return;
	switch (p[0]) {
	case GOSSIP_SERF_JOIN:
		gossip_serf_dec_join(p + 1, n - 1, &u.j);
		break;
	case GOSSIP_SERF_LEAVE:
		gossip_serf_dec_leave(p + 1, n - 1, &u.l);
		break;
	case GOSSIP_SERF_USER_EVENT:
		gossip_serf_dec_user_event(p + 1, n - 1, &u.e);
		break;
	case GOSSIP_SERF_QUERY:
		if (gossip_serf_dec_query(p + 1, n - 1, &u.q) == 0) {
			nested(&u.q.payload);
			for (size_t i = 0; i < u.q.nfilters; i++)
				nested(&u.q.filters[i]);
		}
		break;
	case GOSSIP_SERF_QUERY_RESPONSE:
		if (gossip_serf_dec_query_response(p + 1, n - 1, &u.r) == 0)
			nested(&u.r.payload);
		break;
	case GOSSIP_SERF_RELAY:
		if (gossip_serf_dec_relay(p + 1, n - 1, &u.rl) == 0)
			serf_msg(u.rl.inner.p, u.rl.inner.n);
		break;
	case GOSSIP_SERF_PUSH_PULL:
		if (gossip_serf_dec_push_pull(p + 1, n - 1, &u.pp) == 0)
			gossip_serf_push_pull_free(&u.pp);
		break;
	}
}

static void
leaf(void *arg, uint8_t type, const uint8_t *p, size_t n)
{
	union {
		struct gossip_ping ping;
		struct gossip_indirect_ping ind;
		struct gossip_ack ack;
		struct gossip_nack nack;
		struct gossip_suspect sus;
		struct gossip_alive alive;
		struct gossip_err err;
	} u;
	struct gossip_slice kv[64];
	struct gossip_coord c;
	size_t nkv;

	switch (type) {
	case GOSSIP_MSG_PING:
		gossip_dec_ping(p, n, &u.ping);
		break;
	case GOSSIP_MSG_INDIRECT_PING:
		gossip_dec_indirect_ping(p, n, &u.ind);
		break;
	case GOSSIP_MSG_ACK:
		if (gossip_dec_ack(p, n, &u.ack) == 0 && u.ack.payload.n)
			gossip_coord_decode(u.ack.payload.p, u.ack.payload.n,
			    &c);
		break;
	case GOSSIP_MSG_NACK:
		gossip_dec_nack(p, n, &u.nack);
		break;
	case GOSSIP_MSG_SUSPECT:
	case GOSSIP_MSG_DEAD:
		gossip_dec_suspect(p, n, &u.sus);
		break;
	case GOSSIP_MSG_ALIVE:
		if (gossip_dec_alive(p, n, &u.alive) == 0 && u.alive.meta.n)
			gossip_tags_decode(u.alive.meta.p, u.alive.meta.n, kv,
			    64, &nkv);
		break;
	case GOSSIP_MSG_ERR:
		gossip_dec_err(p, n, &u.err);
		break;
	case GOSSIP_MSG_USER:
		serf_msg(p, n);
		break;
	}
}

static void
stream(const struct gossip_wire_cfg *c, const uint8_t *p, size_t n)
{
	struct gossip_push_pull pp;
	struct buf plain;
	const char *why;

	buf_init(&plain);
	if (gossip_stream_open(c, p, n, &plain, &why) > 0) {
		if (plain.data[0] == GOSSIP_MSG_PUSH_PULL &&
		    gossip_dec_push_pull(plain.data + 1, plain.len - 1, &pp,
		    NULL) == 0) {
			serf_msg(pp.user.p, pp.user.n);
			gossip_push_pull_free(&pp);
		} else {
			leaf(NULL, plain.data[0], plain.data + 1,
			    plain.len - 1);
		}
	}
	buf_free(&plain);
}

/* The state machine behind the decoders. */
static void
core(const uint8_t *data, size_t size, bool compress)
{
	struct gossip_serf_config cfg;
	struct gossip_addr from;
	struct gossip_out o;
	struct gossip_event e;
	struct buf reply;

	gossip_serf_config_default(&cfg);
	snprintf(cfg.ml.name, sizeof(cfg.ml.name), "fuzz");
	gossip_addr_parse("127.0.0.9", 7946, &cfg.ml.addr);
	gossip_addr_parse("127.0.0.8", 7946, &from);
	cfg.ml.wire.compress = compress;
	struct gossip_serf *s = gossip_serf_new(&cfg, 1000);
	gossip_serf_recv_packet(s, 1001, &from, data, size);
	buf_init(&reply);
	gossip_serf_stream_in(s, 1002, data, size, &reply);
	buf_free(&reply);
	gossip_serf_tick(s, 5000);
	gossip_serf_tick(s, 60000);
	while (gossip_serf_pop_out(s, &o))
		buf_free(&o.data);
	while (gossip_serf_pop_event(s, &e))
		gossip_event_free(&e);
	gossip_serf_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[32] = "muster-gossip-fuzzing-key-32byte";
	struct gossip_keyring kr;
	struct buf scratch;
	const uint8_t *msg;
	size_t len;
	unsigned bad;

	if (size < 1)
		return 0;
	gossip_keyring_init(&kr);
	gossip_keyring_add(&kr, key, sizeof(key));
	struct gossip_wire_cfg c = {
		.keyring = (data[0] & 1) ? &kr : NULL,
		.verify_incoming = (data[0] & 2) != 0,
		.label = (data[0] & 4) ? "fuzz" : NULL,
		.skip_inbound_label_check = (data[0] & 8) != 0,
	};
	data++;
	size--;
	buf_init(&scratch);
	if (gossip_packet_open(&c, data, size, &scratch, &msg, &len) == 0)
		gossip_msg_walk(msg, len, leaf, NULL, &bad);
	buf_free(&scratch);
	stream(&c, data, size);
	core(data, size, (data[-1] & 16) != 0);
	return 0;
}
