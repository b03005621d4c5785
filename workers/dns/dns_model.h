/*
 * The dns worker's read model of the catalog: nodes, their service
 * instances and health, as the store's DNS_UPDATE stream (proto/
 * schema_dns.h) describes them, served through struct dns_lookup so a
 * query costs no IPC.  Consul's DNS reads are stale by default (§5.4
 * allow_stale): the model is this agent's view, as fresh as the stream.
 *
 * Names compare ASCII case-insensitively, as the catalog's keys do.
 * Single-threaded; nothing here logs above debug.
 */
#ifndef MUSTER_DNS_MODEL_H
#define MUSTER_DNS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers/dns/dns.h"

struct dns_model;

/* dc: this agent's datacenter; lookups for another one are -ENOENT. */
struct dns_model *dns_model_new(const char *dc);
void dns_model_free(struct dns_model *m);
void dns_model_set_dc(struct dns_model *m, const char *dc);

/*
 * Apply one DNS_UPDATE.  A reset starts a fresh table set that replaces
 * the served one when a complete message ends it (queries meanwhile see
 * the old one).  0 applied or ignored as older than the model; -ESTALE
 * when seq shows a message was lost or no sync began (the caller asks
 * for a full sync); -EBADMSG malformed (nothing of it applied).
 */
int dns_model_update(struct dns_model *m, const void *p, size_t len);
/* Forget the stream position: the next message must be a reset. */
void dns_model_desync(struct dns_model *m);

/* A full sync has completed since the model was created. */
bool dns_model_synced(const struct dns_model *m);
uint64_t dns_model_index(const struct dns_model *m);
void dns_model_counts(const struct dns_model *m, size_t *nodes,
    size_t *instances);

/* The lookup table over m (valid while m lives). */
void dns_model_lookup(struct dns_model *m, struct dns_lookup *out);

/* Status string of a check ("passing", ...) as dns_health; anything
 * unknown is critical. */
enum dns_health dns_health_of(const char *status, size_t len);

#endif
