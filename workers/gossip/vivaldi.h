/*
 * Network coordinates as serf computes them (serf/coordinate: Vivaldi with
 * height, an adjustment term and gravity; gossip-protocol.md §9.9).  Each
 * ack carries the sender's coordinate; with the measured RTT it moves
 * ours.  Consul reads them for RTT estimates (/v1/coordinate, consul rtt).
 * Defaults: 8 dimensions, error max 1.5, ce = cc = 0.25, adjustment
 * window 20, height min 1e-5, latency filter 3 samples, gravity rho 150.
 */
#ifndef MUSTER_GOSSIP_VIVALDI_H
#define MUSTER_GOSSIP_VIVALDI_H

#include <stddef.h>
#include <stdint.h>

#include "workers/gossip/serf_wire.h"

#define GOSSIP_VIVALDI_WINDOW 20
#define GOSSIP_VIVALDI_FILTER 3

struct gossip_vivaldi_peer {
	char *name;
	double samples[GOSSIP_VIVALDI_FILTER];
	unsigned n;
};

struct gossip_vivaldi {
	struct gossip_coord coord;
	double adjustment[GOSSIP_VIVALDI_WINDOW];
	unsigned adj_index;
	struct gossip_vivaldi_peer *peers;
	size_t npeers;
	uint64_t resets;
};

/* A fresh coordinate: origin, error 1.5, height 1e-5. */
void gossip_coord_init(struct gossip_coord *c);
int gossip_coord_valid(const struct gossip_coord *c);
/* Estimated RTT between two coordinates, in seconds. */
double gossip_coord_distance(const struct gossip_coord *a,
    const struct gossip_coord *b);

void gossip_vivaldi_init(struct gossip_vivaldi *v);
void gossip_vivaldi_free(struct gossip_vivaldi *v);
/*
 * One observation: node's coordinate and the RTT to it (0..10 s).  rnd
 * gives uniform doubles in [0, 1) for the direction between coincident
 * coordinates.  -EINVAL for an invalid coordinate or RTT.
 */
int gossip_vivaldi_update(struct gossip_vivaldi *v, const char *node,
    const struct gossip_coord *other, double rtt_s,
    double (*rnd)(void *), void *arg);
void gossip_vivaldi_forget(struct gossip_vivaldi *v, const char *node);

#endif
