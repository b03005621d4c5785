/*
 * The HTTP API on top of the engine in http.h: routes, and a small helper
 * that sends several IPC requests for one HTTP request at once and answers
 * when every reply (or error) is in.
 */
#ifndef MUSTER_HTTP_API_H
#define MUSTER_HTTP_API_H

#include "workers/common/worker.h"
#include "lib/json.h"
#include "lib/bexpr.h"
#include "workers/http/http.h"

#define API_MAX_ASKS 8
#define API_IPC_TIMEOUT_MS 5000

struct http_app {
	struct worker *w;
	struct http_server *srv;
	uint64_t started_ns;
	ev_timer drain;
	uint64_t drain_start_ns;
};

struct api_answer {
	int err;		/* 0, or -errno (-ETIMEDOUT, -EPIPE, -ENOTCONN) */
	uint16_t type;		/* reply type when err == 0 */
	struct buf data;	/* reply payload (copied) */
};

struct api_req;
typedef void api_done_fn(struct api_req *r);

struct api_req {
	struct http_ctx *ctx;
	struct http_app *app;
	api_done_fn *done;
	unsigned nasks, pending;
	unsigned peer[API_MAX_ASKS];
	unsigned timeout_ms[API_MAX_ASKS];
	int64_t reqid[API_MAX_ASKS];
	struct api_answer ans[API_MAX_ASKS];
	bool leader_asked;	/* ans[0] is the leader status */
	void *arg;		/* malloc'd or NULL; freed with the request */
};

/* Start collecting answers for ctx; done runs once all are in. */
struct api_req *api_req_new(struct http_ctx *c, api_done_fn *done);
/* Queue a request; returns its slot.  payload may be NULL. */
unsigned api_ask(struct api_req *r, unsigned peer, uint16_t type,
    const struct buf *payload);
/* Same with a timeout of its own (blocking queries wait longer). */
unsigned api_ask_timeout(struct api_req *r, unsigned peer, uint16_t type,
    const struct buf *payload, unsigned timeout_ms);
/* Ask the store for leader status (slot 0, must be the first ask). */
void api_ask_leader(struct api_req *r);
/* Send everything; done may run before this returns (peer down). */
void api_go(struct api_req *r);
void api_req_free(struct api_req *r);

/*
 * X-Consul-Index, X-Consul-Knownleader, X-Consul-Lastcontact from the
 * leader answer (every GET carries them).  Without an answer from the
 * store: index 1, no known leader.  Returns the decoded index.
 */
uint64_t api_index_headers(struct api_req *r);
/* 500 with the reason an answer failed; true if it did. */
bool api_failed(struct api_req *r, unsigned slot, uint16_t want_type);

void api_json_begin(struct http_ctx *c, struct json_w *jw, struct buf *out);
/* Finish the body in out (newline after ?pretty); false with a 500 sent. */
bool api_json_close(struct http_ctx *c, struct json_w *jw, struct buf *out);
void api_json_end(struct http_ctx *c, struct json_w *jw, struct buf *out);

extern const struct http_route api_routes[];
extern const size_t api_nroutes;

/* api_agent.c, api_status.c */
/* api_snapshot.c */
http_handler_fn api_snapshot;
/* api_kv.c */
http_handler_fn api_kv, api_txn;
/* Consul's query options for a read, parsed; false means 400 sent. */
struct api_read_opts {
	uint64_t min_index;
	uint64_t wait_ms;	/* jittered, for the store to park */
	uint8_t consistency;	/* 0 default, 1 stale, 2 consistent */
	uint64_t max_stale_ms;
};
bool api_read_opts(struct http_ctx *c, const struct http_request *req,
    struct api_read_opts *o);
void api_read_headers(struct http_ctx *c, uint64_t index, bool known_leader,
    uint64_t last_contact_ms, uint8_t consistency);

/* api_catalog.c, api_health.c: /v1/catalog/..., /v1/health/... */
http_handler_fn api_catalog_register, api_catalog_deregister,
    api_catalog_datacenters, api_catalog_nodes, api_catalog_services,
    api_catalog_service, api_catalog_node, api_catalog_node_services,
    api_health_node, api_health_checks, api_health_service,
    api_health_state;

/* A catalog read (CAT_READ_REQ): what, the path's name, which options
 * apply, the ?filter item type, and the answer's handler. */
#define API_CAT_META	0x01u	/* ?node-meta */
#define API_CAT_TAGS	0x02u	/* ?tag */
#define API_CAT_PASSING	0x04u	/* ?passing */
struct api_cat_read {
	uint8_t what;		/* enum proto_cat_query */
	const char *name;
	unsigned flags;
	const struct bexpr_type *ftype;
	api_done_fn *done;
};
/* Parse the read options (400/500 sent on a bad one) and ask the store. */
void api_cat_read(struct http_ctx *c, const struct http_request *req,
    const struct api_cat_read *rd);
/* In done: the decoded answer with the read headers set; false when a
 * reply (500) was sent instead. */
bool api_cat_answer(struct api_req *r, struct proto_cat_read *rd);
/* In done: the request's ?filter compiled (NULL without one); matching
 * one item: 1, 0, or -1 with a 500 sent. */
struct bexpr *api_cat_filter(struct api_req *r);
int api_cat_match(struct api_req *r, const struct bexpr *f,
    const struct bexpr_value *v);
bool api_cat_entry(struct proto_str item, struct proto_cat_entry *e,
    struct proto_cat_node *n, struct proto_cat_service *s);

/*
 * In done, instead of api_json_end: replies with the body and remembers it
 * for the same rows (api_cache.c).  api_cat_cached, right after
 * api_cat_answer, replies with a remembered body; true if it did.
 */
bool api_cat_cached(struct api_req *r, const struct proto_cat_read *rd);
void api_cat_json_end(struct api_req *r, const struct proto_cat_read *rd,
    struct json_w *jw, struct buf *out);

/* api_cache.c: bodies rendered from an IPC answer, by what determines them
 * (kind: the renderer; aux and rows: the answer's bytes besides headers). */
#define API_CACHE_PRETTY	0x01u	/* ?pretty */
#define API_CACHE_FOUND		0x02u	/* the answer's found flag */
struct api_cache_key {
	api_done_fn *kind;
	unsigned flags;		/* API_CACHE_* */
	const char *filter;
	const void *aux;
	size_t auxlen;
	const void *rows;
	size_t rowslen;
};
const struct buf *api_cache_get(const struct api_cache_key *k);
void api_cache_put(const struct api_cache_key *k, const void *body,
    size_t len);

/* bexpr value trees of rows (freed all at once). */
struct api_vals {
	void **p;
	size_t n, cap;
};
void *api_vals_alloc(struct api_vals *v, size_t size);
void api_vals_reset(struct api_vals *v);
void api_vals_free(struct api_vals *v);
struct bexpr_member *api_val_struct(struct api_vals *v,
    struct bexpr_value *out, size_t n);
void api_mem_str(struct bexpr_member *m, const char *key, struct proto_str s);
void api_mem_int(struct bexpr_member *m, const char *key, int64_t i);
void api_mem_bool(struct bexpr_member *m, const char *key, bool b);
void api_mem_list(struct api_vals *v, struct bexpr_member *m,
    const char *key, const struct proto_strv *items);
void api_mem_map(struct api_vals *v, struct bexpr_member *m, const char *key,
    const struct proto_strv *kv, bool has);
void api_val_node(struct api_vals *v, struct bexpr_value *out,
    const struct proto_cat_node *n);
void api_val_node_service(struct api_vals *v, struct bexpr_value *out,
    const struct proto_cat_service *s);

/* JSON of rows as Consul's structs print them. */
void api_json_strv(struct json_w *jw, const struct proto_strv *v);
void api_json_map(struct json_w *jw, const struct proto_strv *kv, bool has);
void api_json_node(struct json_w *jw, const struct proto_cat_node *n);
void api_json_node_service(struct json_w *jw,
    const struct proto_cat_service *s);

/* api_operator.c: Raft and autopilot operator endpoints (the store) */
http_handler_fn api_operator_raft_conf, api_operator_raft_peer,
    api_operator_raft_transfer, api_operator_autopilot_conf,
    api_operator_autopilot_health, api_operator_autopilot_state;

http_handler_fn api_agent_self, api_agent_version, api_agent_members,
    api_agent_reload, api_agent_leave, api_status_leader, api_status_peers;
/* api_gossip.c: join, force-leave, events, keyring (the gossip worker) */
http_handler_fn api_agent_join, api_agent_force_leave, api_event_fire,
    api_event_list, api_operator_keyring;

/* api_local.c: agent-local services and checks (the checks worker) */
http_handler_fn api_agent_services, api_agent_service, api_agent_checks,
    api_agent_service_register, api_agent_service_deregister,
    api_agent_check_register, api_agent_check_deregister,
    api_agent_check_pass, api_agent_check_warn, api_agent_check_fail,
    api_agent_check_update, api_agent_maintenance,
    api_agent_service_maintenance, api_agent_health_service_id,
    api_agent_health_service_name;

#endif
