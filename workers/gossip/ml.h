/*
 * memberlist as a deterministic state machine: SWIM failure detection
 * with the Lifeguard extensions, and gossip dissemination
 * (gossip-protocol.md §4-§6).
 *
 * No sockets and no clock reads: every entry point takes the current
 * time in milliseconds (any monotonic origin).  Inputs are datagrams,
 * stream messages and ticks; outputs are datagrams and stream requests
 * queued for the driver (gossip_ml_pop_out), and calls into a delegate
 * (the serf layer).  Randomness comes from a seeded generator, so a
 * simulation with the same seed and inputs replays exactly.  AES-GCM
 * nonces are the only thing drawn from the kernel's random source.
 *
 * Outline of one probe round (§6.1): ping the next node of a shuffled
 * list (a compound ping + suspect when it is suspect, so it can refute);
 * no ack within ProbeTimeout: indirect pings through IndirectChecks
 * random members (nack requested from memberlist >= 4) and a TCP ping
 * (memberlist >= 3); nothing by ProbeInterval * (health + 1): suspect it.
 * Suspicion timers shrink with independent confirmations (Lifeguard), the
 * node-local health score scales the probe deadline.
 */
#ifndef MUSTER_GOSSIP_ML_H
#define MUSTER_GOSSIP_ML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"
#include "workers/gossip/bq.h"
#include "workers/gossip/wire.h"

/* An IPv4 (len 4) or IPv6 (len 16) address and port. */
struct gossip_addr {
	uint8_t ip[16];
	uint8_t len;
	uint16_t port;
};

/* Parse "a.b.c.d" or an IPv6 literal; -EINVAL. */
int gossip_addr_parse(const char *ip, uint16_t port, struct gossip_addr *a);
/* "ip:port" ([ip]:port for IPv6) into out (64 bytes). */
void gossip_addr_fmt(const struct gossip_addr *a, char out[64]);
bool gossip_addr_eq(const struct gossip_addr *a, const struct gossip_addr *b);

/* A member as memberlist knows it. */
struct gossip_node {
	char *name;
	struct gossip_addr addr;
	uint8_t *meta;
	size_t metalen;
	uint8_t vsn[6];		/* pmin pmax pcur dmin dmax dcur */
	uint32_t incarnation;
	enum gossip_state state;
	uint64_t state_change;	/* ms */
	/* private */
	struct gossip_node *hnext;
	struct gossip_suspicion *susp;
};

struct gossip_ml;

/* What memberlist asks of the layer above it (serf). */
struct gossip_ml_delegate {
	void (*node_meta)(void *arg, struct buf *out);
	void (*notify_msg)(void *arg, uint64_t now, const uint8_t *p, size_t n);
	/* messages for the delegate's own queues, each <= limit - overhead */
	void (*get_broadcasts)(void *arg, size_t overhead, size_t limit,
	    struct gossip_msgs *out);
	void (*local_state)(void *arg, bool join, struct buf *out);
	void (*merge_remote_state)(void *arg, uint64_t now, const uint8_t *p,
	    size_t n, bool join);
	void (*notify_join)(void *arg, uint64_t now, const struct gossip_node *n);
	void (*notify_leave)(void *arg, uint64_t now,
	    const struct gossip_node *n);
	void (*notify_update)(void *arg, uint64_t now,
	    const struct gossip_node *n);
	/* join merges: the remote node list; <0 rejects the join */
	int (*notify_merge)(void *arg, const struct gossip_node *nodes,
	    size_t n, char *why, size_t whylen);
	/* every alive message; <0 ignores it */
	int (*notify_alive)(void *arg, const struct gossip_node *n);
	void (*notify_conflict)(void *arg, const struct gossip_node *mine,
	    const struct gossip_node *theirs);
	void (*ack_payload)(void *arg, struct buf *out);
	void (*notify_ping_complete)(void *arg, uint64_t now,
	    const struct gossip_node *n, uint64_t rtt_us, const uint8_t *p,
	    size_t len);
	/* a join started by gossip_ml_join finished: ok = pushes merged */
	void (*join_done)(void *arg, uint64_t now, uint64_t op, unsigned ok,
	    const char *err);
};

struct gossip_ml_config {
	char name[256];
	struct gossip_addr addr;	/* advertised address and port */
	uint8_t vsn[6];
	uint32_t probe_interval;	/* all times in ms */
	uint32_t probe_timeout;
	uint32_t gossip_interval;
	uint32_t push_pull_interval;
	uint32_t tcp_timeout;
	uint32_t gossip_to_the_dead;
	uint32_t dead_node_reclaim;	/* 0: never */
	unsigned indirect_checks;
	unsigned suspicion_mult;
	unsigned suspicion_max_timeout_mult;
	unsigned gossip_nodes;
	unsigned retransmit_mult;
	unsigned awareness_max;
	bool disable_tcp_pings;
	size_t udp_buffer;
	struct gossip_wire_cfg wire;	/* keyring pointer stays the caller's */
	char label[GOSSIP_MAX_LABEL + 1];
	uint64_t seed;
	/* Optional microsecond clock used only to time ping round trips
	 * for network coordinates (NULL: the millisecond times given to
	 * the entry points, as in simulations). */
	uint64_t (*rtt_clock)(void *arg);
	void *rtt_clock_arg;
	const struct gossip_ml_delegate *delegate;
	void *delegate_arg;
};

/* memberlist's DefaultLANConfig / DefaultWANConfig / DefaultLocalConfig
 * (table in gossip-protocol.md §6.5), with Consul's 30 s dead node
 * reclaim time for lan/wan (consul/config.go). */
void gossip_ml_config_lan(struct gossip_ml_config *c);
void gossip_ml_config_wan(struct gossip_ml_config *c);
void gossip_ml_config_local(struct gossip_ml_config *c);

enum gossip_out_kind {
	GOSSIP_OUT_PACKET = 1,	/* send data as one datagram to `to` */
	GOSSIP_OUT_STREAM,	/* connect to `to`, write data, read one reply */
};

struct gossip_out {
	enum gossip_out_kind kind;
	struct gossip_addr to;
	struct buf data;
	uint64_t stream_id;
	uint64_t deadline;	/* stream: give up (and report) by then */
};

/* Counters for the worker's stats and for tests. */
struct gossip_ml_stats {
	uint64_t udp_in, udp_out, udp_bad, udp_decrypt_fail, crc_fail;
	uint64_t label_fail, stream_in, stream_bad, probes, probe_fail;
	uint64_t indirect_sent, tcp_fallback_ok, refutes, suspects;
	uint64_t deads, pushpulls, conflicts, unknown_type, wrong_node;
};

/* Creates the pool with only itself as a member (alive, incarnation 1). */
struct gossip_ml *gossip_ml_new(const struct gossip_ml_config *cfg,
    uint64_t now);
void gossip_ml_free(struct gossip_ml *ml);

/* Inputs. */
void gossip_ml_recv_packet(struct gossip_ml *ml, uint64_t now,
    const struct gossip_addr *from, const uint8_t *p, size_t n);
/*
 * An incoming connection's bytes so far.  Returns >0 when one complete
 * message was consumed and handled, with the bytes to write back in
 * reply (possibly none) before closing; 0 to wait for more; <0 when the
 * stream is unusable: reply then holds memberlist's err message (maybe
 * empty) to write before closing.
 */
int gossip_ml_stream_in(struct gossip_ml *ml, uint64_t now, const uint8_t *in,
    size_t n, struct buf *reply);
/* The reply to an outgoing stream: >0 complete and handled, 0 need more,
 * <0 malformed (the stream is then done and failed). */
int gossip_ml_stream_reply(struct gossip_ml *ml, uint64_t now, uint64_t id,
    const uint8_t *in, size_t n);
/* An outgoing stream failed (connect, write, timeout, EOF early). */
void gossip_ml_stream_fail(struct gossip_ml *ml, uint64_t now, uint64_t id,
    int err);
/* Run whatever timers are due. */
void gossip_ml_tick(struct gossip_ml *ml, uint64_t now);
/* When the next timer is due (absolute ms). */
uint64_t gossip_ml_next_deadline(const struct gossip_ml *ml);

/* Outputs: 1 and *out filled (caller frees out->data), 0 when empty. */
int gossip_ml_pop_out(struct gossip_ml *ml, struct gossip_out *out);

/* Commands. */
/* Push/pull join with every address; reports through join_done. */
uint64_t gossip_ml_join(struct gossip_ml *ml, uint64_t now,
    const struct gossip_addr *addrs, size_t n);
/* Broadcast our dead-from-self (graceful leave); memberlist then ignores
 * its own alive messages.  gossip_ml_leave_pending() tells when the
 * broadcast has gone out retransmit-limit times. */
void gossip_ml_leave(struct gossip_ml *ml, uint64_t now);
bool gossip_ml_leave_pending(const struct gossip_ml *ml);
/* Re-announce ourselves with fresh delegate meta (tags changed). */
void gossip_ml_update_meta(struct gossip_ml *ml, uint64_t now);
/* Send delegate bytes as a memberlist user message (08 + data) by UDP. */
void gossip_ml_send_user(struct gossip_ml *ml, const struct gossip_addr *to,
    const uint8_t *p, size_t n);

/* Queries.  Node pointers stay valid until the next input or tick (a
 * probe round may forget nodes dead for longer than GossipToTheDead). */
size_t gossip_ml_num_nodes(const struct gossip_ml *ml);	/* estNumNodes */
size_t gossip_ml_num_alive(const struct gossip_ml *ml);	/* others alive */
const struct gossip_node *gossip_ml_node(const struct gossip_ml *ml,
    const char *name);
const struct gossip_node *gossip_ml_node_at(const struct gossip_ml *ml,
    size_t i);
const struct gossip_node *gossip_ml_self(const struct gossip_ml *ml);
unsigned gossip_ml_health(const struct gossip_ml *ml);
const struct gossip_ml_stats *gossip_ml_stats(const struct gossip_ml *ml);
const struct gossip_ml_config *gossip_ml_config(const struct gossip_ml *ml);
/* The wire settings (keyring may change under it: see keyring edits). */
const struct gossip_wire_cfg *gossip_ml_wire(const struct gossip_ml *ml);
/* Uniform random number below n from the pool's generator. */
uint64_t gossip_ml_rand(struct gossip_ml *ml, uint64_t n);

#endif
