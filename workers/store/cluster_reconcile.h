/*
 * The leader's reconcile of LAN members into the catalog (Consul's
 * agent/consul/leader.go: reconcile, reconcileMember, handleAliveMember,
 * handleFailedMember, handleDeregisterMember, reconcileReaped).
 *
 *   alive    the node is registered (address and node ID from gossip, its
 *            tagged addresses and node meta kept) with a passing
 *            serfHealth check; a server also gets the "consul" service
 *            on its server port.  Nothing is written when the catalog
 *            already says so.
 *   failed   serfHealth goes critical (SkipNodeUpdate), when the node is
 *            in the catalog at all.
 *   left,    the node is deregistered with all its services and checks
 *   reaped   (never this server's own node: a new leader does that).
 *
 * Only the leader does it, only once its state is caught up with its
 * term (Consul's barrier: the entry at the applied index is of the
 * current term) and gossip has told this store of its members; then a
 * full pass runs at once (catching what happened during the election),
 * every reconcile interval (60 s), and each member event is reconciled
 * as it comes.  A full pass also deregisters catalog nodes carrying a
 * serfHealth check that gossip no longer knows (reaped while no leader
 * listened).  Every write is an ordinary CAT_REGISTER / CAT_DEREGISTER
 * Raft command.
 */
#ifndef MUSTER_STORE_CLUSTER_RECONCILE_H
#define MUSTER_STORE_CLUSTER_RECONCILE_H

struct store;
struct cl_member;
struct proto_member;

/* cluster.c, after a LAN MEMBER_EVENT updated the member table: m as it
 * is now, pm the member as gossip sent it. */
void cluster_reconcile_event(struct store *st, const struct cl_member *m,
    const struct proto_member *pm);
/* cluster.c's tick (every 0.5 s, and on every kick). */
void cluster_reconcile_tick(struct store *st);
/* cluster_stop: forget this store's reconcile state. */
void cluster_reconcile_stop(struct store *st);

#endif
