/*
 * The agent's configuration: Consul's command-line flags and JSON config
 * files (reference/consul.md section 8), parsed once in the supervisor in
 * three phases -- everything unset, then the sources in order, then
 * defaults and cross-checks -- and handed to the workers as the
 * normalised JSON dump (cfg_dump_json / cfg_from_json).
 *
 * Sources, in Consul's order: list-valued flags, then -config-file /
 * -config-dir in the order given (a directory's *.json files in byte
 * order, not recursive), then the other flags.  A later source overrides
 * a scalar, appends to a list and merges into a map.
 *
 * After cfg_load() every string is non-NULL ("" when empty), durations
 * are nanoseconds, and ports are -1 when disabled.
 */
#ifndef MUSTER_CONFIG_H
#define MUSTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

struct cfg_strlist {
	char **v;
	size_t n;
};

/* Ordered string map; a later set of the same key replaces the value. */
struct cfg_strmap {
	char **k;
	char **v;
	size_t n;
};

/* Ordered map of name -> duration (dns_config.service_ttl). */
struct cfg_durmap {
	char **k;
	int64_t *v;
	size_t n;
};

/* gossip_lan / gossip_wan (memberlist timing; reference 9.4). */
struct cfg_gossip {
	int gossip_nodes;
	int64_t gossip_interval;
	int64_t probe_interval;
	int64_t probe_timeout;
	int retransmit_mult;
	int suspicion_mult;
};

struct agent_config {
	/* Mode. */
	bool dev;			/* -dev (flag only) */
	bool server;
	bool bootstrap;
	int bootstrap_expect;		/* 1 is turned into bootstrap */

	/* Identity. */
	char *node_name;		/* default: hostname */
	char *node_id;			/* "" until the supervisor sets it */
	char *datacenter;		/* lower-cased */
	char *primary_datacenter;	/* default: datacenter */
	struct cfg_strmap node_meta;
	char *data_dir;			/* "" only with -dev */

	/* Addresses and ports. */
	char *bind_addr;		/* an IP; "0.0.0.0" = all */
	char *advertise_addr;		/* filled by cfg_resolve_addresses() */
	char *advertise_addr_wan;	/* default: advertise_addr */
	struct cfg_strlist client_addr;	/* IPs */
	struct {
		/* Default: client_addr. */
		struct cfg_strlist http, https, dns;
	} addresses;
	struct {
		int http, https, dns, serf_lan, serf_wan, server, grpc;
	} ports;

	/* Joining and leaving. */
	struct cfg_strlist start_join, start_join_wan;
	struct cfg_strlist retry_join, retry_join_wan;
	int64_t retry_interval, retry_interval_wan;
	int retry_max, retry_max_wan;	/* 0 = forever */
	bool rejoin_after_leave;
	int64_t reconnect_timeout, reconnect_timeout_wan;
	bool leave_on_terminate;	/* default: !server */
	bool skip_leave_on_interrupt;	/* default: server */

	/* Gossip. */
	char *encrypt;			/* base64 of 16/24/32 bytes, or "" */
	bool encrypt_verify_incoming, encrypt_verify_outgoing;
	bool disable_keyring_file;
	int protocol;
	struct cfg_gossip gossip_lan, gossip_wan;

	/* Raft. */
	int raft_protocol;
	int raft_snapshot_threshold;
	int64_t raft_snapshot_interval;
	int raft_trailing_logs;
	struct {
		int raft_multiplier;
		int64_t leave_drain_time;
		int64_t rpc_hold_timeout;
	} performance;
	struct {
		bool cleanup_dead_servers;
		int64_t last_contact_threshold;
		int max_trailing_logs;
		int min_quorum;
		int64_t server_stabilization_time;
	} autopilot;

	/* HTTP API. */
	struct {
		bool enabled;
	} ui_config;
	struct {
		struct cfg_strmap response_headers;
	} http_config;
	struct {
		int http_max_conns_per_client;
		int rpc_max_conns_per_client;
		int rpc_max_burst;
		int kv_max_value_size;
		int txn_max_req_len;
		int64_t https_handshake_timeout;
		int64_t rpc_handshake_timeout;
	} limits;
	int64_t default_query_time, max_query_time;

	/* DNS. */
	char *domain;			/* lower-case, trailing dot */
	char *alt_domain;		/* same, or "" */
	struct cfg_strlist recursors;	/* "ip" or "ip:port" / "[v6]:port" */
	struct {
		bool allow_stale;
		int64_t max_stale;
		int64_t node_ttl;
		struct cfg_durmap service_ttl;	/* "*" and "prefix*" */
		int udp_answer_limit;
		int a_record_limit;
		bool enable_truncate;
		bool only_passing;
		char *recursor_strategy;	/* "sequential" or "random" */
		int64_t recursor_timeout;
		bool disable_compression;
		bool use_cache;
		int64_t cache_max_age;
		bool enable_additional_node_meta_txt;
		struct {
			int min_ttl, refresh, retry, expire;
		} soa;
	} dns_config;

	/* Services and checks. */
	bool enable_script_checks;
	bool enable_local_script_checks;	/* default: enable_script_checks */
	int64_t check_update_interval;
	int check_output_max_size;
	int64_t session_ttl_min;
	/* Definitions from config files ("service"/"services",
	 * "check"/"checks"), each a compact JSON object, in file order. */
	struct cfg_strlist services, checks;

	/* Logging and misc. */
	char *log_level;		/* trace/debug/info/warn/error */
	bool log_json;
	char *pid_file;
	bool disable_update_check;
	bool disable_remote_exec;
	bool enable_debug;
	bool translate_wan_addrs;

	/* muster's own. */
	char *user;			/* "" = "muster" if it exists, else "nobody" */
	char *control_socket;		/* "" = disabled */

	/* Not configuration: what the load wants the operator to know
	 * (deprecations, risky settings).  Not dumped or compared. */
	struct cfg_strlist warnings;
};

/*
 * Parse `muster agent` arguments (argv[0] is the first flag) and the
 * config files they name.  On success *out is a new config (free with
 * cfg_free) and warnings are also logged.  On a configuration error
 * returns -EINVAL, leaves *out NULL and puts one line in err, e.g.
 *     config: /etc/muster.d/a.json: key "ports.http": expected a number, got string
 * -h/-help return -ECANCELED with the usage text in err.
 */
int cfg_load(int argc, char **argv, struct agent_config **out,
    struct buf *err);

/*
 * Fill advertise_addr (and advertise_addr_wan) the way Consul does: the
 * configured advertise address, else bind_addr, and for 0.0.0.0 / :: the
 * host's single private IPv4 / public IPv6 address.  -EINVAL with
 * Consul's message when there is none or more than one.
 */
int cfg_resolve_addresses(struct agent_config *c, struct buf *err);
/* Same with the candidate addresses given (for tests). */
int cfg_resolve_addresses_from(struct agent_config *c,
    const char *const *private_v4, size_t n4,
    const char *const *public_v6, size_t n6, struct buf *err);

/* Parse a cfg_dump_json() document (how workers receive the config). */
int cfg_from_json(const char *json, size_t len, struct agent_config **out,
    struct buf *err);

/* Every field, nested like a config file; cfg_from_json() of it gives a
 * config cfg_equal() to c. */
void cfg_dump_json(const struct agent_config *c, struct buf *out,
    bool pretty);

bool cfg_equal(const struct agent_config *a, const struct agent_config *b);

void cfg_free(struct agent_config *c);

/* `muster validate [-quiet] FILE|DIR...`: 0 valid, 2 invalid, 1 usage. */
int cfg_validate_cmd(int argc, char **argv);

#endif
