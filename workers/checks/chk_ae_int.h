/*
 * What chk_ae.c (the sync's state machine and pushes) shares with
 * chk_ae_enc.c (the catalog rows it writes and compares).
 */
#ifndef MUSTER_CHK_AE_INT_H
#define MUSTER_CHK_AE_INT_H

#include "workers/checks/chk.h"
#include "proto/proto.h"

/* Consul's structs.ConsulServiceID and structs.SerfCheckID: the leader
 * owns them, the agent's full sync never removes them. */
#define AE_CONSUL_SERVICE "consul"
#define AE_SERF_CHECK "serfHealth"

/* The node as syncNodeInfo registers it.  tagged and meta alternate key,
 * value, sorted by key. */
struct ae_node {
	char *id, *name, *address, *dc;
	char **tagged, **meta;
	size_t ntagged, nmeta;		/* strings (2 per entry) */
};

void ae_node_build(struct ae_node *n, const struct chk_state *st);
void ae_node_free(struct ae_node *n);

/* CAT_NODE, CAT_SERVICE, CAT_CHECK of the local state (indexes 0). */
void ae_enc_node(struct buf *out, const struct ae_node *n);
void ae_enc_service(struct buf *out, const struct chk_state *st,
    const struct chk_service *s);
void ae_enc_check(struct buf *out, const struct chk_state *st,
    const struct chk_check *c);

/*
 * local.State.updateSyncState: compare the catalog's view of this node
 * (the CAT_READ answers of CAT_Q_NODE_SERVICES and CAT_Q_HEALTH_NODE)
 * with the local state; mark what differs out of sync and tombstone what
 * the catalog has on this node without a local owner (the consul service
 * and serfHealth excepted).  *node_in_sync is cleared when the node's
 * ID, address, tagged addresses or meta differ.  -EBADMSG for a
 * malformed answer (entries may be left marked out of sync: a push too
 * many, never one too few).
 */
int ae_diff(struct chk_state *st, const struct ae_node *node,
    bool *node_in_sync, const void *svcs, size_t nsvcs, const void *checks,
    size_t nchecks);

#endif
