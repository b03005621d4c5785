/*
 * The catalog tables of the replicated state (Consul's "nodes",
 * "services", "checks" and "index" tables, agent/consul/state/catalog.go).
 * Pure and deterministic like kv.c: every write carries the Raft index it
 * is applied at, so every server computes the same rows and indexes.
 *
 * Keys are case-insensitive (ASCII), as Consul's memdb indexes are
 * (Lowercase: true): node names, node IDs, service IDs within a node,
 * check IDs within a node, service names.  Iteration is in that order:
 * nodes by name, a node's services by ID and checks by CheckID, the
 * instances of a service by (name, node, ID) - the order Consul returns.
 *
 * Index rules (Consul 1.x state store):
 *  - nodes/services/checks: the last index that changed that table;
 *  - per node ("node.<name>"): the node, its services or its checks
 *    changed; forgotten with the node (nodes_gone then moves);
 *  - per service name ("service.<name>"): an instance, one of its checks,
 *    the node it is on or a node-level check there changed; forgotten
 *    with the last instance (services_gone then moves);
 *  - a write that changes nothing (same node, same service, same check)
 *    touches no row and no index.
 *
 * Registration is atomic: everything that can fail is checked before the
 * first row changes, so a refused registration leaves no trace.
 */
#ifndef MUSTER_STORE_CATALOG_H
#define MUSTER_STORE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/avl.h"
#include "lib/util.h"
#include "proto/proto.h"

struct cat_kv {
	char *key, *val;
};

struct cat_addr {
	char *key, *address;
	int32_t port;
};

struct cat_node {
	struct avl_node by_name, by_id;
	bool in_ids;			/* linked in by_id (id not "") */
	char *id, *name, *address, *dc;
	struct cat_kv *tagged;
	uint32_t ntagged;
	bool has_tagged;
	struct cat_kv *meta;
	uint32_t nmeta;
	bool has_meta;
	uint64_t create_index, modify_index;
	uint64_t index;			/* "node.<name>" */
	struct avl_tree services;	/* cat_service.on_node, by ID */
	struct avl_tree checks;		/* cat_check.on_node, by CheckID */
};

struct cat_service {
	struct avl_node on_node, by_name;
	struct cat_node *node;		/* NULL until inserted */
	char *kind, *id, *name, *address, *socket_path;
	char **tags;
	uint32_t ntags;
	struct cat_addr *tagged;	/* sorted by key */
	uint32_t ntagged;
	struct cat_kv *meta;
	uint32_t nmeta;
	bool has_meta;
	int32_t port, w_passing, w_warning;
	bool enable_tag_override, connect_native;
	uint64_t create_index, modify_index;
};

struct cat_check {
	struct avl_node on_node;
	struct cat_node *node;		/* NULL until inserted */
	char *node_name;		/* the request's Node (rows: node's) */
	char *check_id, *name, *status, *notes, *output;
	char *service_id, *service_name;
	char **service_tags;
	uint32_t nservice_tags;
	char *type, *interval, *timeout;
	char *definition;		/* canonical JSON object text */
	int32_t exposed_port;
	uint64_t create_index, modify_index;
};

/* Per service name: how many instances, and its index. */
struct cat_name {
	struct avl_node node;
	char *name;
	uint32_t ninst;
	uint64_t index;
};

struct cat_db {
	struct avl_tree nodes;		/* by name */
	struct avl_tree node_ids;	/* by ID */
	struct avl_tree instances;	/* every service, by (name, node, ID) */
	struct avl_tree names;		/* cat_name */
	uint64_t idx_nodes, idx_services, idx_checks;
	uint64_t services_gone;		/* "service_last_extinction" */
	uint64_t nodes_gone;		/* "node_last_extinction" */
};

/*
 * What a write changed, for blocking queries (and any other observer,
 * e.g. a DNS read model): called for every index that moves, possibly
 * more than once for one index, while the write is being applied.  The
 * tables are half-written then: record what changed and act once
 * cat_register/cat_deregister has returned.  name is the node or service
 * name (case as stored) for CAT_CH_NODE / CAT_CH_SERVICE, NULL for the
 * table scopes; it is valid during the call only.
 */
enum cat_change {
	CAT_CH_NODES,
	CAT_CH_SERVICES,
	CAT_CH_CHECKS,
	CAT_CH_NODE,
	CAT_CH_SERVICE,
};
typedef void cat_changed_fn(void *arg, enum cat_change what,
    const char *name);

/* A registration (structs.RegisterRequest).  The rows are moved into the
 * tables by cat_register (their pointers set to NULL); cat_reg_free frees
 * whatever is left. */
struct cat_reg {
	struct cat_node *node;
	bool skip_node_update;
	struct cat_service *service;	/* NULL: none */
	struct cat_check **checks;
	uint32_t nchecks;
};

void cat_db_init(struct cat_db *db);
void cat_db_free(struct cat_db *db);

void cat_node_free(struct cat_node *n);
void cat_service_free(struct cat_service *s);
void cat_check_free(struct cat_check *c);
void cat_reg_free(struct cat_reg *r);

/* ASCII case-insensitive order and equality of the keys above. */
int cat_keycmp(const char *a, const char *b);

/*
 * Consul's stateless checks and defaults (Catalog.Register before the
 * Raft apply): node name, address unless skip_node_update, node ID
 * syntax; service ID defaults to its name, name required with an ID, no
 * wildcard address, valid meta, no mesh kinds; checks' Node defaults to
 * the node and must match it, CheckID defaults to the name.  0, or
 * -EINVAL with Consul's message in err.
 */
int cat_reg_check(struct cat_reg *r, char *err, size_t errlen);

/*
 * Apply a registration at index.  0, or -EINVAL with Consul's message in
 * err and nothing changed (a check for a service that is not there, a
 * node ID held by a live node of another name).
 */
int cat_register(struct cat_db *db, uint64_t index, struct cat_reg *r,
    char *err, size_t errlen, cat_changed_fn *fn, void *arg);

/* Deregister a service (with its checks), else a check, else the node
 * (with everything on it).  Absent things are no-ops.  Never fails. */
void cat_deregister(struct cat_db *db, uint64_t index, const char *node,
    const char *service_id, const char *check_id, cat_changed_fn *fn,
    void *arg);

/* ---- lookups ---- */

struct cat_node *cat_node_get(const struct cat_db *db, const char *name);
/* By name, else by a unique ID prefix of at least 2 hex digits (Consul's
 * nodeServices lookup). */
struct cat_node *cat_node_find(const struct cat_db *db, const char *name_or_id);
struct cat_node *cat_node_first(const struct cat_db *db);
struct cat_node *cat_node_next(const struct cat_node *n);
struct cat_service *cat_service_get(const struct cat_node *n, const char *id);
struct cat_service *cat_node_service_first(const struct cat_node *n);
struct cat_service *cat_node_service_next(const struct cat_service *s);
struct cat_check *cat_check_get(const struct cat_node *n, const char *id);
struct cat_check *cat_node_check_first(const struct cat_node *n);
struct cat_check *cat_node_check_next(const struct cat_check *c);
/* The instances of one service name, then of every name, in order. */
struct cat_service *cat_instance_first(const struct cat_db *db,
    const char *name);
struct cat_service *cat_instance_any_first(const struct cat_db *db);
struct cat_service *cat_instance_next(const struct cat_service *s);
struct cat_name *cat_name_get(const struct cat_db *db, const char *name);

/* Index a read of service name reports (Consul maxIndexForService):
 * the name's index while instances exist, else services_gone, else the
 * tables' max (checks included when with_checks). */
uint64_t cat_service_index(const struct cat_db *db, const char *name,
    bool with_checks);

/* ---- restore (snapshots): rows exactly as they were ---- */

/* Take ownership of a row with its indexes; -EEXIST / -ENOENT (no such
 * node) / -EINVAL. */
int cat_restore_node(struct cat_db *db, struct cat_node *n);
int cat_restore_service(struct cat_db *db, struct cat_service *s,
    const char *node);
int cat_restore_check(struct cat_db *db, struct cat_check *c);

/* ---- proto and snapshots (catalog_codec.c) ---- */

/* Encoded messages appended one after another, as a strv at the end. */
struct cat_list {
	struct buf data;
	size_t *offs;
	uint32_t n, cap;
	struct proto_str *strs;
};
void cat_list_init(struct cat_list *l);
/* Start the next item: append its encoding to the buffer returned. */
struct buf *cat_list_add(struct cat_list *l);
/* The items as a list to encode; valid until the next call or free. */
struct proto_strv cat_list_strv(struct cat_list *l);
void cat_list_free(struct cat_list *l);

void cat_enc_node(struct buf *out, const struct cat_node *n);
void cat_enc_service(struct buf *out, const struct cat_service *s);
void cat_enc_check(struct buf *out, const struct cat_check *c);
/* Rows from messages; NULL when malformed (a NUL in a string, a map
 * with an odd item count). */
struct cat_node *cat_dec_node(const void *p, size_t len);
struct cat_service *cat_dec_service(const void *p, size_t len,
    char **node);
struct cat_check *cat_dec_check(const void *p, size_t len);
/* CAT_REGISTER <-> struct cat_reg (0 or -EBADMSG). */
int cat_dec_register(const void *p, size_t len, struct cat_reg *r);
void cat_enc_register(struct buf *out, const struct cat_reg *r);

/* Snapshot records of the catalog: kinds CAT_SNAP_FIRST..CAT_SNAP_LAST
 * in the store's record stream (store_snapshot.c). */
enum {
	CAT_SNAP_NODE = 16,
	CAT_SNAP_SERVICE,
	CAT_SNAP_CHECK,
	CAT_SNAP_INDEX,
	CAT_SNAP_FIRST = CAT_SNAP_NODE,
	CAT_SNAP_LAST = CAT_SNAP_INDEX,
};
typedef int cat_record_fn(void *arg, uint8_t kind, const struct buf *rec);
/* Every row and index as records (nodes, services, checks, indexes);
 * stops at and returns the first error of fn. */
int cat_snapshot_write(const struct cat_db *db, cat_record_fn *fn, void *arg);
/* Restore one record into db (which starts empty); -EBADMSG. */
int cat_snapshot_record(struct cat_db *db, uint8_t kind, const uint8_t *p,
    size_t len);

#endif
