/* The store worker's state, shared by its files. */
#ifndef MUSTER_STORE_H
#define MUSTER_STORE_H

#include <stdbool.h>
#include <stdint.h>

struct store {
	char self_addr[128];	/* advertise:server_port */
	char leader[128];	/* "" when unknown */
	bool known_leader, is_leader;
	uint64_t index;		/* highest applied Raft index */
	int rpc_fd;		/* server RPC listener (8300) */
};

#endif
