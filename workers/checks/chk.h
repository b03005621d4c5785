/*
 * The checks worker's domain: the agent-local registry of services and
 * checks (Consul's agent/local state), the definitions they come from,
 * and the check runners (agent/checks).  reference/consul.md sections 1.1,
 * 2 and 6 describe the behaviour; the Consul source files cited below are
 * where the exact words come from.
 *
 * Everything here runs on the worker's one libev loop.  Runners are event
 * driven (a timer and, while a probe is in flight, one socket or child
 * process each), so thousands of checks cost no thread each; only host
 * names are resolved on a helper thread (getaddrinfo blocks).
 */
#ifndef MUSTER_CHK_H
#define MUSTER_CHK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <yajl/yajl_tree.h>

#include "lib/avl.h"
#include "lib/util.h"

/* Worst wins: the order is the aggregation order (structs.HealthCheck). */
enum chk_status {
	CHK_PASSING = 0,
	CHK_WARNING = 1,
	CHK_CRITICAL = 2,
};

/* "passing", "warning", "critical". */
const char *chk_status_name(enum chk_status s);
/* structs.ValidStatus: exactly one of the three names.  -EINVAL else. */
int chk_status_parse(const char *s, enum chk_status *out);

/* What runs a check (structs.CheckType.Type()). */
enum chk_kind {
	CHK_K_NONE = 0,		/* no runner: maintenance checks */
	CHK_K_SCRIPT,
	CHK_K_HTTP,
	CHK_K_TCP,
	CHK_K_UDP,
	CHK_K_TTL,
	CHK_K_GRPC,
	CHK_K_ALIAS,
	CHK_K_DOCKER,
	CHK_K_H2PING,
	CHK_K_OSSERVICE,
};

/* Where a definition came from: config files (local) or the HTTP API
 * (remote); script checks are allowed per source. */
enum chk_source {
	CHK_SRC_LOCAL = 0,
	CHK_SRC_REMOTE = 1,
};

struct chk_header {
	char *name;
	char **values;
	size_t nvalues;
};

/*
 * A check definition: structs.CheckDefinition / CheckType.  Strings are
 * never NULL ("" when absent); durations are nanoseconds.
 */
struct chk_def {
	char *id, *name, *notes, *service_id, *token, *status;
	char **args;
	size_t nargs;
	char *http, *method, *body, *tcp, *udp, *grpc, *h2ping, *os_service;
	char *docker_container_id, *shell, *tls_server_name;
	char *alias_node, *alias_service;
	struct chk_header *headers;
	size_t nheaders;
	bool disable_redirects, tls_skip_verify, tcp_use_tls, grpc_use_tls;
	bool h2ping_use_tls;
	int64_t interval, timeout, ttl, deregister_after;
	int64_t success_before_passing, failures_before_warning;
	int64_t failures_before_critical, output_max_size;
};

struct chk_kv {
	char *key, *value;
};

struct chk_taddr {
	char *key, *address;
	int port;
};

/*
 * A service: structs.NodeService as the agent keeps it.  meta and taddrs
 * are sorted by key (Go prints maps sorted); weights are defaulted.
 */
struct chk_service {
	struct avl_node node;		/* st->services, by id */
	char *id, *name, *kind, *address, *socket_path, *token;
	char **tags;
	size_t ntags;
	struct chk_kv *meta;
	size_t nmeta;
	struct chk_taddr *taddrs;
	size_t ntaddrs;
	int port;
	int w_passing, w_warning;
	bool weights_set;		/* given in the definition */
	bool enable_tag_override, connect_native;
	enum chk_source source;
	bool persisted;			/* written under data_dir/local */
	bool in_sync;			/* sync seam, chk_sync.c */
	uint64_t sync_seq;		/* st->sync_seq at its last change */
	uint64_t gen;			/* st->gen when (re)installed */
};

/* A parsed service definition with its checks (ServiceDefinition). */
struct chk_service_def {
	struct chk_service *svc;
	struct chk_def *checks;
	size_t nchecks;
};

struct chk_run;

/* A check: structs.HealthCheck plus its definition and runner. */
struct chk_check {
	struct avl_node node;		/* st->checks, by id */
	struct chk_state *st;
	char *id, *name, *notes, *service_id;
	enum chk_status status;
	char *output;
	enum chk_kind kind;
	bool has_def;			/* false: maintenance, no runner */
	struct chk_def def;
	char *interval_text, *timeout_text;
	enum chk_source source;
	bool persisted;
	uint64_t gen;			/* st->gen when (re)installed */
	uint64_t critical_since_ms;	/* 0 while not critical */
	int64_t reap_after_ns;		/* deregister_critical_service_after */
	struct chk_run *run;		/* NULL when nothing runs it */
	/* sync seam, chk_sync.c */
	bool in_sync;
	bool defer_armed;
	ev_timer defer;
	uint64_t sync_seq;		/* st->sync_seq at its last change */
};

/*
 * A deregistration the catalog has not heard about yet (local.State's
 * Deleted entries): a service or check removed locally, or one the full
 * sync found in the catalog on this node without a local owner.
 */
struct chk_tomb {
	struct avl_node node;		/* st->svc_tombs / chk_tombs, by id */
	char *id;
	char *service_id;		/* a check's service ("" for none) */
	uint64_t sync_seq;
};

/* Consul's fixed tunables (agent/checks, agent/config defaults), kept in
 * one place so unit tests can shrink them. */
struct chk_tuning {
	int64_t min_interval;		/* checks.MinInterval: 1 s */
	int64_t dereg_min;		/* check_deregister_interval_min: 1 m */
	int64_t reap_interval;		/* check_reap_interval: 30 s */
	int64_t alias_refresh;		/* alias maxDurationBetweenUpdates: 1 m */
	bool stagger;			/* random first delay within interval */
	/* anti-entropy (agent/ae): full-sync base interval (ae_interval,
	 * 1 m), retry after a failed full sync (retryFailIntv, 15 s), the
	 * most a server-up full sync waits (serverUpIntv, 3 s) */
	int64_t ae_interval, ae_retry, ae_server_up;
};

void chk_tuning_default(struct chk_tuning *t);

struct chk_config {
	const char *node_name;
	const char *data_dir;		/* "" with -dev: nothing persisted */
	bool enable_script_checks;	/* remote (API) script checks */
	bool enable_local_script_checks;
	int output_max;			/* check_output_max_size */
	int64_t check_update_interval;
	/* the node as the catalog sync registers it (syncNodeInfo) */
	const char *node_id, *datacenter;
	const char *advertise_addr, *advertise_addr_wan;
	const char *const *node_meta;	/* key, value, ...; NULL-terminated */
};

struct chk_ae;

/* A store answer: its type and payload (RESULT carries the store's error
 * code and message), or err < 0 when none came (timeout, no store). */
typedef void chk_store_cb(void *arg, uint16_t type, const void *p, size_t n,
    int err);

struct chk_resolver;
struct chk_tls;

struct chk_state {
	struct ev_loop *loop;
	struct chk_config cfg;
	char *node_name, *data_dir;
	struct chk_tuning tun;
	struct avl_tree services, checks;
	uint64_t gen;			/* bumped per config (re)load */
	bool running;			/* runners started (after privdrop) */
	/* persistence: directory for data_dir/local, NULL in -dev */
	char *local_dir;
	uint64_t local_dev, local_ino;	/* recorded before the drop */
	/* runners' shared state */
	struct chk_resolver *resolver;
	struct chk_tls *tls;
	ev_timer reaper;
	ev_timer alias_timer;		/* coalesces alias re-evaluation */
	bool alias_dirty;
	size_t alias_runners;		/* alias checks running */
	/* sync seam: what the catalog has not heard about */
	struct avl_tree svc_tombs, chk_tombs;
	uint64_t sync_seq;		/* bumped per change the sync must push */
	struct avl_tree members;	/* LAN pool, by name */
	void (*sync_kick)(struct chk_state *st);
	struct chk_ae *ae;		/* anti-entropy, chk_ae.c */
	/*
	 * Requests to the store (catalog writes and reads), set by the
	 * worker: cb runs once unless the send fails (< 0 returned) or the
	 * handle is cancelled.
	 */
	int64_t (*store_request)(struct chk_state *st, uint16_t type,
	    const struct buf *payload, unsigned timeout_ms, chk_store_cb *cb,
	    void *arg);
	void (*store_cancel)(struct chk_state *st, int64_t handle);
	/* a service was (re)defined or removed: hash-blocking readers */
	void (*service_changed)(struct chk_state *st, const char *id);
	/*
	 * Catalog reads, set by the worker (the store answers): a stale read
	 * (CAT_READ_REQ what/name, blocking when wait_ms > 0).  cb runs once
	 * with the answer's type and payload (CAT_READ, or RESULT with the
	 * store's message) or err < 0.  Returns a handle > 0, or < 0 when it
	 * could not be sent (cb will not run).  Without it, checks that need
	 * the catalog report that they cannot reach it.
	 */
	int64_t (*catalog_read)(struct chk_state *st, unsigned what,
	    const char *name, uint64_t min_index, uint64_t wait_ms,
	    void (*cb)(void *arg, uint16_t type, const void *p, size_t n,
	    int err), void *arg);
	void (*catalog_cancel)(struct chk_state *st, int64_t handle);
	/* counters for Stats */
	uint64_t probes_run;
};

/* ---- state (chk_local.c) ---- */

void chk_state_init(struct chk_state *st, struct ev_loop *loop,
    const struct chk_config *cfg, const struct chk_tuning *tun);
/* Take new settings (reload): script flags, output size, intervals. */
void chk_state_reconfig(struct chk_state *st, const struct chk_config *cfg);
/* Start every runner (after privileges are dropped); later additions
 * start at once. */
void chk_state_start(struct chk_state *st);
/* Stop every runner, free everything. */
void chk_state_free(struct chk_state *st);

struct chk_service *chk_service_find(const struct chk_state *st,
    const char *id);
struct chk_check *chk_check_find(const struct chk_state *st, const char *id);
size_t chk_service_count(const struct chk_state *st);
size_t chk_check_count(const struct chk_state *st);
size_t chk_count_kind(const struct chk_state *st, enum chk_kind k);

/*
 * Register a service and its checks (Agent.AddService).  Takes ownership
 * of d's contents on success and on failure (d is emptied).  Returns 0,
 * or -EINVAL / -EPERM with Consul's message in err.
 */
int chk_add_service(struct chk_state *st, struct chk_service_def *d,
    enum chk_source src, bool replace_existing_checks, bool persist,
    struct buf *err);
/*
 * Register a check (Agent.AddCheck).  Takes ownership of def.  -ENOENT
 * for an unknown ServiceID, -EINVAL / -EPERM otherwise, message in err.
 */
int chk_add_check(struct chk_state *st, struct chk_def *def,
    enum chk_source src, bool persist, struct buf *err);
/* Remove a service with its checks / a check; -ENOENT with Consul's
 * "Unknown ... ID" message when absent. */
int chk_remove_service(struct chk_state *st, const char *id, bool purge,
    struct buf *err);
int chk_remove_check(struct chk_state *st, const char *id, bool purge,
    struct buf *err);
/*
 * pass/warn/fail/update of a TTL check (Agent.updateTTLCheck): the TTL
 * restarts, output is capped.  -ENOENT for an unknown check, -EIO with
 * "CheckID ... does not have associated TTL" for another type.
 */
int chk_ttl_update(struct chk_state *st, const char *id,
    enum chk_status status, const char *output, struct buf *err);
/* Maintenance mode (Agent.{Enable,Disable}{Node,Service}Maintenance);
 * service_id NULL means the node.  -ENOENT for an unknown service. */
int chk_maintenance(struct chk_state *st, const char *service_id,
    bool enable, const char *reason, struct buf *err);

/*
 * The one place a check's status and output change (local.State
 * UpdateCheck): tracks the critical time, skips idempotent updates,
 * tells the sync seam and alias checks.
 */
void chk_update(struct chk_state *st, struct chk_check *c,
    enum chk_status status, const char *output);

/* The node-level and service checks a health answer aggregates. */
bool chk_applies_to(const struct chk_check *c, const char *service_id);

/* Owned-string helpers shared by the domain files. */
void chk_def_free(struct chk_def *d);
void chk_service_free(struct chk_service *s);
void chk_service_def_free(struct chk_service_def *d);
enum chk_kind chk_def_kind(const struct chk_def *d);
const char *chk_kind_name(enum chk_kind k);

/* ---- definitions (chk_def.c) ---- */

/*
 * Parse a service definition (structs.ServiceDefinition) or a check
 * definition (structs.CheckDefinition) the way Consul decodes a request
 * body: keys matched case-insensitively and in snake_case, durations as
 * Go text or nanoseconds.  Decode errors give -EINVAL and a message
 * without the "Request decode failed: " prefix, Go's wording.
 */
int chk_parse_service(yajl_val v, struct chk_service_def *out,
    struct buf *err);
int chk_parse_check(yajl_val v, struct chk_def *out, struct buf *err);

/*
 * The HTTP handlers' checks before registration (AgentRegisterService /
 * AgentRegisterCheck), in Consul's order, with its messages: -EINVAL and
 * the 400 body.
 */
int chk_validate_service(const struct chk_service_def *d, struct buf *err);
int chk_validate_check(const struct chk_def *d, struct buf *err);
/* CheckType.Validate(); message without prefix. */
int chk_def_validate(const struct chk_def *d, struct buf *err);
/* CheckType.Empty(): nothing set at all ("Check": {} is ignored). */
bool chk_def_empty(const struct chk_def *d);

/* Canonical JSON of a definition (what persistence writes and parses). */
void chk_write_service_def(struct buf *out, const struct chk_service *s);
void chk_write_check_def(struct buf *out, const struct chk_def *d);

/* ---- status thresholds and output (chk_status.c) ---- */

/*
 * checks.StatusHandler: success_before_passing / failures_before_warning
 * / failures_before_critical.  Counters start at the thresholds so the
 * first result applies at once.
 */
struct chk_thresh {
	int64_t succ_before_passing, fail_before_warning, fail_before_critical;
	int64_t succ, fail;
};

void chk_thresh_init(struct chk_thresh *t, const struct chk_def *d);
/* Feed one probe result; returns true and sets *out when the check's
 * status must be updated (to *out, which may differ from got). */
bool chk_thresh_feed(struct chk_thresh *t, enum chk_status got,
    enum chk_status *out);

/* The output size limit for a check: agent limit, lowered by the check's. */
size_t chk_output_max(const struct chk_state *st, const struct chk_def *d);

/*
 * A ring keeping the last cap bytes written (armon/circbuf, as Consul's
 * runners use) and the total written.
 */
struct chk_ring {
	uint8_t *p;
	size_t cap, start, len;
	uint64_t total;
};

void chk_ring_init(struct chk_ring *r, size_t cap);
void chk_ring_free(struct chk_ring *r);
void chk_ring_write(struct chk_ring *r, const void *p, size_t n);
/* Append the kept bytes to out, oldest first. */
void chk_ring_get(const struct chk_ring *r, struct buf *out);

/* Consul's output caps: the script form ("Captured N of M bytes\n...\n")
 * and the TTL form ("... (captured N of M bytes)"). */
void chk_output_script(const struct chk_ring *r, struct buf *out);
char *chk_output_ttl(const char *output, size_t max);

/* Go's error text for errno: strerror with a lower-case first letter. */
const char *chk_errstr(int e, char buf[128]);

/* ---- runners (chk_run.c) ---- */

/* The reaper and alias timers: on at chk_state_start, off at free. */
void chk_run_global(struct chk_state *st, bool on);
void chk_run_start(struct chk_state *st, struct chk_check *c);
void chk_run_stop(struct chk_state *st, struct chk_check *c);
/* Restore a TTL check's persisted state (output and status). */
void chk_run_ttl_set(struct chk_state *st, struct chk_check *c,
    enum chk_status status, const char *output);
/* Re-evaluate alias checks soon (something they may watch changed). */
void chk_alias_touch(struct chk_state *st, const struct chk_check *changed);
/* Evaluate one alias check now (CheckAlias.processChecks). */
void chk_alias_eval(struct chk_state *st, struct chk_check *c);
/* One reaper pass: deregister services whose check was critical longer
 * than its deregister_critical_service_after.  Returns services removed. */
unsigned chk_reap(struct chk_state *st, uint64_t now_ms);

/* ---- persistence (chk_persist.c) ---- */

/*
 * Where data_dir/local is reachable after the privilege drop: "." when
 * the worker's current directory is it (the policy's write_dir), else
 * the absolute path.  NULL in -dev.  Call before the drop with
 * before=true (records the directory), after it with before=false.
 */
void chk_persist_locate(struct chk_state *st, bool before);
int chk_persist_service(struct chk_state *st, const struct chk_service *s);
int chk_persist_check(struct chk_state *st, const struct chk_check *c);
int chk_persist_ttl_state(struct chk_state *st, const struct chk_check *c,
    int64_t ttl_ns);
void chk_purge_service(struct chk_state *st, const char *id);
void chk_purge_check(struct chk_state *st, const char *id);
/* Load what earlier runs persisted (services, then checks, then TTL
 * state); entries also defined in config files are purged. */
void chk_persist_load(struct chk_state *st);

/* ---- IPC views (chk_proto.c) ---- */

/* Append the AGENT_SERVICE / AGENT_CHECK encoding of s / c (what the
 * http worker shows). */
void chk_enc_service(struct buf *out, const struct chk_service *s);
void chk_enc_check(struct buf *out, const struct chk_state *st,
    const struct chk_check *c);
/*
 * Answer an AGENT_LOCAL_REQ: services (all, one ID, or one name) and
 * checks (all, or those applying to the selected services).
 */
void chk_enc_local(struct buf *out, const struct chk_state *st,
    unsigned what, const char *service_id, const char *service_name);
/* ContentHash of a service (api.AgentService's, opaque to clients):
 * FNV-1a 64 of its AGENT_SERVICE encoding, in hex. */
void chk_service_hash(const struct chk_service *s, char out[17]);

/* ---- sync seam (chk_sync.c) ---- */

/*
 * What the catalog sync (chk_ae.c; reference/consul.md 6.4) consumes:
 * every service and check carries in_sync; these mark them.
 * Status changes and definition changes are out of sync at once; an
 * output-only change of a steady check is deferred by
 * check_update_interval/2 + rand(check_update_interval) (local.State
 * UpdateCheck), so flapping output does not become a Raft write per run.
 * st->sync_kick, when set, is called whenever something became pending.
 */
void chk_sync_service(struct chk_state *st, struct chk_service *s);
void chk_sync_check(struct chk_state *st, struct chk_check *c,
    bool output_only);
/* A service (service_id NULL) or check went; its tombstone stays until
 * the catalog is told.  A later registration of the ID cancels it. */
void chk_sync_deleted(struct chk_state *st, bool service, const char *id,
    const char *service_id);
struct chk_tomb *chk_sync_tomb(const struct chk_state *st, bool service,
    const char *id);
void chk_sync_tomb_drop(struct chk_state *st, bool service,
    struct chk_tomb *t);
void chk_sync_tombs_free(struct chk_state *st);
void chk_sync_forget(struct chk_state *st, struct chk_check *c);
/*
 * The LAN pool as gossip reports it (MEMBER_EVENT): members known and
 * not yet reaped.  The periodic full sync's interval scales with it as
 * Consul's anti-entropy does (agent/ae: 1 min up to 128 members, one
 * more per doubling beyond).
 */
void chk_sync_member(struct chk_state *st, const char *name, bool gone);
void chk_sync_members_free(struct chk_state *st);
int64_t chk_sync_full_interval(const struct chk_state *st);
/* The LAN pool's size as ae's ClusterSize sees it. */
size_t chk_sync_members(const struct chk_state *st);

/* Services + checks out of sync + deletions not yet told. */
size_t chk_sync_pending(const struct chk_state *st);
/* The sync pushed everything: all in sync, no deletion pending. */
void chk_sync_all_done(struct chk_state *st);

/* ---- anti-entropy (chk_ae.c) ---- */

/*
 * The agent's catalog sync (agent/ae StateSyncer driving local.State's
 * SyncFull / SyncChanges, reference/consul.md 6.4): a full sync at start,
 * then every ae_interval + rand(scale * ae_interval), and a partial sync
 * of what changed whenever the seam kicks.  Writes go to the store as
 * CAT_REGISTER / CAT_DEREGISTER through st->store_request.
 */
void chk_ae_start(struct chk_state *st);
void chk_ae_stop(struct chk_state *st);
/* Node info changed (reload): resync it. */
void chk_ae_node_changed(struct chk_state *st);
/* A server joined the LAN pool (Consul's ServerUp): a full sync within
 * rand(ae_server_up); also when the store's channel comes (back) up. */
void chk_ae_server_up(struct chk_state *st);
/* A full sync now (the store came up). */
void chk_ae_sync_full(struct chk_state *st);
/* For Stats and tests: full syncs done, writes sent, last error. */
struct chk_ae_stats {
	uint64_t full_syncs, full_failures, writes, write_failures;
	bool paused;			/* the last full sync failed */
	bool node_in_sync;
};
void chk_ae_stats(const struct chk_state *st, struct chk_ae_stats *out);

#endif
