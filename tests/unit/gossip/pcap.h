/*
 * Minimal classic-pcap reader for the gossip capture vectors (Ethernet or
 * Linux cooked link type, IPv4, UDP datagrams and TCP streams reassembled
 * per direction by sequence number).  Test helper only.
 */
#ifndef MUSTER_TEST_GOSSIP_PCAP_H
#define MUSTER_TEST_GOSSIP_PCAP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

struct tp_endpoint {
	uint8_t ip[4];
	uint16_t port;
};

struct tp_item {
	int tcp;			/* 0 datagram, 1 one stream direction */
	struct tp_endpoint src, dst;
	struct buf data;
	uint32_t isn;			/* tcp: first data sequence number */
	int have_isn;
};

struct tp_capture {
	struct tp_item *items;
	size_t n;
};

/* -errno on a file or format error. */
int tp_load(const char *path, struct tp_capture *cap);
void tp_free(struct tp_capture *cap);

#endif
