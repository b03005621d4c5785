/*
 * Every configuration key: its JSON path, type, field, defaults (Consul's
 * agent/config/default.go and reference/consul.md sections 5.4, 8, 9) and
 * validator.  The table order is the dump order.
 */
#include "supervisor/config_int.h"

#include "lib/base64.h"
#include "lib/duration.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(struct agent_config, f)

/* --- validators --- */

static void
replace_str(void *val, char *s)
{
	free(*(char **)val);
	*(char **)val = s;
}

static int
chk_port(void *val, struct buf *why)
{
	int *p = val;
	if (*p > 65535) {
		buf_printf(why, "invalid port %d (at most 65535)", *p);
		return -EINVAL;
	}
	if (*p <= 0)
		*p = -1;	/* Consul: 0 or negative disables the listener */
	return 0;
}

static int
chk_raft_protocol(void *val, struct buf *why)
{
	int v = *(int *)val;
	if (v != 3) {
		buf_printf(why, "raft_protocol version %d is not supported "
		    "(only 3)", v);
		return -EINVAL;
	}
	return 0;
}

static int
chk_uuid(void *val, struct buf *why)
{
	char *s = *(char **)val;
	size_t n = strlen(s);
	if (n == 0)
		return 0;
	bool ok = n == 36;
	for (size_t i = 0; ok && i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ok = s[i] == '-';
		else
			ok = isxdigit((unsigned char)s[i]);
	}
	if (!ok) {
		buf_printf(why, "\"%s\" is not a valid UUID", s);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	return 0;
}

/* Consul's validateBasicName, after lower-casing as Consul does. */
static int
basic_name(char *s, bool allow_empty, struct buf *why)
{
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (*s == '\0') {
		if (allow_empty)
			return 0;
		buf_addstr(why, "cannot be empty");
		return -EINVAL;
	}
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(s)) {
		buf_printf(why, "can only contain lowercase alphanumeric, - or _ "
		    "characters. received: \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

static int
chk_dc(void *val, struct buf *why)
{
	return basic_name(*(char **)val, false, why);
}

static int
chk_dc_opt(void *val, struct buf *why)
{
	return basic_name(*(char **)val, true, why);
}

/* An IP literal (brackets around IPv6 dropped); any_ok: 0.0.0.0 / ::. */
static int
ip_literal(void *val, bool any_ok, struct buf *why)
{
	char *s = *(char **)val, tmp[64];
	unsigned char bin[16];
	size_t n = strlen(s);

	if (strstr(s, "{{")) {
		buf_printf(why, "go-sockaddr templates are not supported: \"%s\"",
		    s);
		return -EINVAL;
	}
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		replace_str(val, xstrdup(tmp));
		s = *(char **)val;
	}
	bool v4 = inet_pton(AF_INET, s, bin) == 1;
	if (!v4 && inet_pton(AF_INET6, s, bin) != 1) {
		buf_printf(why, "\"%s\" is not an IP address", s);
		return -EINVAL;
	}
	static const unsigned char zero[16];
	if (!any_ok && memcmp(bin, zero, v4 ? 4 : 16) == 0) {
		buf_addstr(why, "cannot be 0.0.0.0, :: or [::]");
		return -EINVAL;
	}
	return 0;
}

static int
chk_ip(void *val, struct buf *why)
{
	return ip_literal(val, true, why);
}

/* Advertise addresses: empty (derived later) or a specific IP. */
static int
chk_advertise(void *val, struct buf *why)
{
	if (**(char **)val == '\0')
		return 0;
	return ip_literal(val, false, why);
}

static int
chk_join(void *val, struct buf *why)
{
	const char *s = *(char **)val;
	if (*s == '\0') {
		buf_addstr(why, "empty address");
		return -EINVAL;
	}
	if (strstr(s, "provider=")) {
		buf_printf(why, "cloud auto-join is not supported: \"%s\"", s);
		return -EINVAL;
	}
	return 0;
}

/* "ip", "ip:port" or "[ipv6]:port", as Consul's DNS recursors. */
static int
chk_recursor(void *val, struct buf *why)
{
	const char *s = *(char **)val;
	char host[64];
	const char *colon = strrchr(s, ':');
	unsigned char bin[16];
	size_t hl = strlen(s);
	long port = 53;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			goto bad;
		hl = (size_t)(rb - s - 1);
		s++;
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else if (colon && strchr(s, ':') == colon) {
		hl = (size_t)(colon - s);
	} else {
		colon = NULL;	/* bare IPv6 */
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (colon) {
		char *end;
		port = strtol(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || port <= 0 || port > 65535)
			goto bad;
	}
	bool v4 = inet_pton(AF_INET, host, bin) == 1;
	if (!v4 && inet_pton(AF_INET6, host, bin) != 1)
		goto bad;
	static const unsigned char zero[16];
	if (memcmp(bin, zero, v4 ? 4 : 16) == 0) {
		buf_addstr(why, "DNS recursor address cannot be 0.0.0.0, :: or "
		    "[::]");
		return -EINVAL;
	}
	return 0;
bad:
	buf_printf(why, "invalid DNS recursor address \"%s\" (want ip or "
	    "ip:port)", *(char **)val);
	return -EINVAL;
}

/* Gossip keys are AES-128/192/256 keys (reference 9.5). */
static int
chk_encrypt(void *val, struct buf *why)
{
	const char *s = *(char **)val;
	struct buf k;
	if (*s == '\0')
		return 0;
	buf_init(&k);
	if (base64_decode(s, strlen(s), &k) < 0) {
		buf_addstr(why, "encrypt has invalid key: illegal base64 data");
		buf_free(&k);
		return -EINVAL;
	}
	size_t n = k.len;
	buf_free(&k);
	if (n != 16 && n != 24 && n != 32) {
		buf_printf(why, "encrypt has invalid key: key size must be 16, "
		    "24 or 32 bytes, got %zu", n);
		return -EINVAL;
	}
	return 0;
}

static int
chk_log_level(void *val, struct buf *why)
{
	int l = log_level_parse(*(char **)val);
	if (l < 0) {
		buf_printf(why, "unknown log level \"%s\" (trace, debug, info, "
		    "warn or error)", *(char **)val);
		return -EINVAL;
	}
	replace_str(val, xstrdup(log_level_name((enum log_level)l)));
	return 0;
}

/* Lower case with the trailing dot, like Consul's dns.Fqdn(ToLower()). */
static int
domain_norm(void *val, bool allow_empty, struct buf *why)
{
	const char *s = *(char **)val;
	size_t n = strlen(s);
	if (n == 0) {
		if (allow_empty)
			return 0;
		buf_addstr(why, "cannot be empty");
		return -EINVAL;
	}
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-_.") != n || s[0] == '.' || strstr(s, "..")) {
		buf_printf(why, "\"%s\" is not a valid domain", s);
		return -EINVAL;
	}
	char *d = xmalloc(n + 2);
	for (size_t i = 0; i < n; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	if (d[n - 1] != '.')
		d[n++] = '.';
	d[n] = '\0';
	replace_str(val, d);
	return 0;
}

static int
chk_domain(void *val, struct buf *why)
{
	return domain_norm(val, false, why);
}

static int
chk_domain_opt(void *val, struct buf *why)
{
	return domain_norm(val, true, why);
}

static int
chk_strategy(void *val, struct buf *why)
{
	const char *s = *(char **)val;
	if (strcmp(s, "sequential") != 0 && strcmp(s, "random") != 0) {
		buf_printf(why, "invalid recursor strategy \"%s\" (sequential or "
		    "random)", s);
		return -EINVAL;
	}
	return 0;
}

/* Serf reaps failed members after this; Consul documents 8h minimum. */
static int
chk_reconnect(void *val, struct buf *why)
{
	if (*(int64_t *)val < 8 * DURATION_H) {
		char d[DURATION_STRLEN];
		duration_format(*(int64_t *)val, d, sizeof(d));
		buf_printf(why, "must be at least 8h0m0s, got %s", d);
		return -EINVAL;
	}
	return 0;
}

static int
chk_positive_dur(void *val, struct buf *why)
{
	if (*(int64_t *)val <= 0) {
		buf_addstr(why, "must be positive");
		return -EINVAL;
	}
	return 0;
}

static int
chk_user(void *val, struct buf *why)
{
	const char *s = *(char **)val;
	if (strpbrk(s, ":/ \t\n")) {
		buf_printf(why, "\"%s\" is not a user name", s);
		return -EINVAL;
	}
	return 0;
}

/* --- the table --- */

#define NONNEG .lo = 0, .hi = INT_MAX
#define POSITIVE .lo = 1, .hi = INT_MAX
#define OBJ(n) { .name = n, .type = CT_OBJ }
#define UNSUP(n) { .name = n, .type = CT_UNSUP, .flags = KF_NODUMP }

#define GOSSIP(pfx, f, nodes, gi, pi, pt, sm)				\
	OBJ(pfx),							\
	{ pfx ".gossip_nodes", CT_INT, OFF(f.gossip_nodes), nodes,	\
	  NULL, 1, INT_MAX, NULL, 0, NULL },				\
	{ pfx ".gossip_interval", CT_DUR, OFF(f.gossip_interval), gi,	\
	  "100ms", 0, 0, chk_positive_dur, 0, NULL },			\
	{ pfx ".probe_interval", CT_DUR, OFF(f.probe_interval), pi,	\
	  "100ms", 0, 0, chk_positive_dur, 0, NULL },			\
	{ pfx ".probe_timeout", CT_DUR, OFF(f.probe_timeout), pt,	\
	  "100ms", 0, 0, chk_positive_dur, 0, NULL },			\
	{ pfx ".retransmit_mult", CT_INT, OFF(f.retransmit_mult), "4",	\
	  NULL, 1, INT_MAX, NULL, 0, NULL },				\
	{ pfx ".suspicion_mult", CT_INT, OFF(f.suspicion_mult), sm,	\
	  "3", 1, INT_MAX, NULL, 0, NULL }

const struct cfg_key cfg_keys[] = {
	{ .name = "dev", .type = CT_BOOL, .off = OFF(dev),
	  .flags = KF_DUMP_ONLY },
	{ .name = "server", .type = CT_BOOL, .off = OFF(server),
	  .dev = "true" },
	{ .name = "bootstrap", .type = CT_BOOL, .off = OFF(bootstrap),
	  .dev = "true" },
	{ .name = "bootstrap_expect", .type = CT_INT,
	  .off = OFF(bootstrap_expect), NONNEG },
	{ .name = "node_name", .type = CT_STR, .off = OFF(node_name) },
	{ .name = "node_id", .type = CT_STR, .off = OFF(node_id),
	  .check = chk_uuid },
	{ .name = "datacenter", .type = CT_STR, .off = OFF(datacenter),
	  .def = "dc1", .check = chk_dc },
	{ .name = "primary_datacenter", .type = CT_STR,
	  .off = OFF(primary_datacenter), .check = chk_dc_opt },
	{ .name = "node_meta", .type = CT_MAP, .off = OFF(node_meta) },
	{ .name = "data_dir", .type = CT_STR, .off = OFF(data_dir) },

	{ .name = "bind_addr", .type = CT_STR, .off = OFF(bind_addr),
	  .def = "0.0.0.0", .dev = "127.0.0.1", .check = chk_ip },
	{ .name = "advertise_addr", .type = CT_STR, .off = OFF(advertise_addr),
	  .check = chk_advertise },
	{ .name = "advertise_addr_wan", .type = CT_STR,
	  .off = OFF(advertise_addr_wan), .check = chk_advertise },
	{ .name = "client_addr", .type = CT_ADDRS, .off = OFF(client_addr),
	  .def = "127.0.0.1", .check = chk_ip },
	OBJ("addresses"),
	{ .name = "addresses.http", .type = CT_ADDRS,
	  .off = OFF(addresses.http), .check = chk_ip },
	{ .name = "addresses.https", .type = CT_ADDRS,
	  .off = OFF(addresses.https), .check = chk_ip },
	{ .name = "addresses.dns", .type = CT_ADDRS,
	  .off = OFF(addresses.dns), .check = chk_ip },
	OBJ("ports"),
	{ .name = "ports.http", .type = CT_INT, .off = OFF(ports.http),
	  .def = "8500", .check = chk_port },
	{ .name = "ports.https", .type = CT_INT, .off = OFF(ports.https),
	  .def = "-1", .check = chk_port },
	{ .name = "ports.dns", .type = CT_INT, .off = OFF(ports.dns),
	  .def = "8600", .check = chk_port },
	{ .name = "ports.serf_lan", .type = CT_INT, .off = OFF(ports.serf_lan),
	  .def = "8301", .check = chk_port },
	{ .name = "ports.serf_wan", .type = CT_INT, .off = OFF(ports.serf_wan),
	  .def = "8302", .check = chk_port },
	{ .name = "ports.server", .type = CT_INT, .off = OFF(ports.server),
	  .def = "8300", .check = chk_port },
	{ .name = "ports.grpc", .type = CT_INT, .off = OFF(ports.grpc),
	  .def = "-1", .dev = "8502", .check = chk_port },

	{ .name = "start_join", .type = CT_LIST, .off = OFF(start_join),
	  .check = chk_join },
	{ .name = "start_join_wan", .type = CT_LIST,
	  .off = OFF(start_join_wan), .check = chk_join },
	{ .name = "retry_join", .type = CT_LIST, .off = OFF(retry_join),
	  .check = chk_join },
	{ .name = "retry_join_wan", .type = CT_LIST,
	  .off = OFF(retry_join_wan), .check = chk_join },
	{ .name = "retry_interval", .type = CT_DUR, .off = OFF(retry_interval),
	  .def = "30s", .check = chk_positive_dur },
	{ .name = "retry_interval_wan", .type = CT_DUR,
	  .off = OFF(retry_interval_wan), .def = "30s",
	  .check = chk_positive_dur },
	{ .name = "retry_max", .type = CT_INT, .off = OFF(retry_max), NONNEG },
	{ .name = "retry_max_wan", .type = CT_INT, .off = OFF(retry_max_wan),
	  NONNEG },
	{ .name = "rejoin_after_leave", .type = CT_BOOL,
	  .off = OFF(rejoin_after_leave) },
	{ .name = "reconnect_timeout", .type = CT_DUR,
	  .off = OFF(reconnect_timeout), .def = "72h", .check = chk_reconnect },
	{ .name = "reconnect_timeout_wan", .type = CT_DUR,
	  .off = OFF(reconnect_timeout_wan), .def = "72h",
	  .check = chk_reconnect },
	{ .name = "leave_on_terminate", .type = CT_BOOL,
	  .off = OFF(leave_on_terminate) },
	{ .name = "skip_leave_on_interrupt", .type = CT_BOOL,
	  .off = OFF(skip_leave_on_interrupt) },

	{ .name = "encrypt", .type = CT_STR, .off = OFF(encrypt),
	  .check = chk_encrypt },
	{ .name = "encrypt_verify_incoming", .type = CT_BOOL,
	  .off = OFF(encrypt_verify_incoming), .def = "true" },
	{ .name = "encrypt_verify_outgoing", .type = CT_BOOL,
	  .off = OFF(encrypt_verify_outgoing), .def = "true" },
	{ .name = "disable_keyring_file", .type = CT_BOOL,
	  .off = OFF(disable_keyring_file), .dev = "true" },
	{ .name = "protocol", .type = CT_INT, .off = OFF(protocol),
	  .def = "2", .lo = 2, .hi = 3 },
	/* memberlist DefaultLANConfig / DefaultWANConfig (reference 9.4);
	 * -dev gossips faster as Consul's DevSource does. */
	GOSSIP("gossip_lan", gossip_lan, "3", "200ms", "1s", "500ms", "4"),
	GOSSIP("gossip_wan", gossip_wan, "4", "500ms", "5s", "3s", "6"),

	{ .name = "raft_protocol", .type = CT_INT, .off = OFF(raft_protocol),
	  .def = "3", .check = chk_raft_protocol },
	{ .name = "raft_snapshot_threshold", .type = CT_INT,
	  .off = OFF(raft_snapshot_threshold), .def = "16384", POSITIVE },
	{ .name = "raft_snapshot_interval", .type = CT_DUR,
	  .off = OFF(raft_snapshot_interval), .def = "30s",
	  .check = chk_positive_dur },
	{ .name = "raft_trailing_logs", .type = CT_INT,
	  .off = OFF(raft_trailing_logs), .def = "10000", NONNEG },
	OBJ("performance"),
	{ .name = "performance.raft_multiplier", .type = CT_INT,
	  .off = OFF(performance.raft_multiplier), .def = "5", .dev = "1",
	  .lo = 1, .hi = 10 },
	{ .name = "performance.leave_drain_time", .type = CT_DUR,
	  .off = OFF(performance.leave_drain_time), .def = "5s" },
	{ .name = "performance.rpc_hold_timeout", .type = CT_DUR,
	  .off = OFF(performance.rpc_hold_timeout), .def = "7s" },
	OBJ("autopilot"),
	{ .name = "autopilot.cleanup_dead_servers", .type = CT_BOOL,
	  .off = OFF(autopilot.cleanup_dead_servers), .def = "true" },
	{ .name = "autopilot.last_contact_threshold", .type = CT_DUR,
	  .off = OFF(autopilot.last_contact_threshold), .def = "200ms" },
	{ .name = "autopilot.max_trailing_logs", .type = CT_INT,
	  .off = OFF(autopilot.max_trailing_logs), .def = "250", NONNEG },
	{ .name = "autopilot.min_quorum", .type = CT_INT,
	  .off = OFF(autopilot.min_quorum), NONNEG },
	{ .name = "autopilot.server_stabilization_time", .type = CT_DUR,
	  .off = OFF(autopilot.server_stabilization_time), .def = "10s" },

	{ .name = "ui", .type = CT_ALIAS, .flags = KF_NODUMP,
	  .alias = "ui_config.enabled" },
	OBJ("ui_config"),
	{ .name = "ui_config.enabled", .type = CT_BOOL,
	  .off = OFF(ui_config.enabled), .dev = "true" },
	OBJ("http_config"),
	{ .name = "http_config.response_headers", .type = CT_MAP,
	  .off = OFF(http_config.response_headers) },
	OBJ("limits"),
	{ .name = "limits.http_max_conns_per_client", .type = CT_INT,
	  .off = OFF(limits.http_max_conns_per_client), .def = "200", NONNEG },
	{ .name = "limits.rpc_max_conns_per_client", .type = CT_INT,
	  .off = OFF(limits.rpc_max_conns_per_client), .def = "100", NONNEG },
	{ .name = "limits.rpc_max_burst", .type = CT_INT,
	  .off = OFF(limits.rpc_max_burst), .def = "1000", POSITIVE },
	{ .name = "limits.kv_max_value_size", .type = CT_INT,
	  .off = OFF(limits.kv_max_value_size), .def = "524288", POSITIVE },
	{ .name = "limits.txn_max_req_len", .type = CT_INT,
	  .off = OFF(limits.txn_max_req_len), .def = "524288", POSITIVE },
	{ .name = "limits.https_handshake_timeout", .type = CT_DUR,
	  .off = OFF(limits.https_handshake_timeout), .def = "5s" },
	{ .name = "limits.rpc_handshake_timeout", .type = CT_DUR,
	  .off = OFF(limits.rpc_handshake_timeout), .def = "5s" },
	{ .name = "default_query_time", .type = CT_DUR,
	  .off = OFF(default_query_time), .def = "300s",
	  .check = chk_positive_dur },
	{ .name = "max_query_time", .type = CT_DUR, .off = OFF(max_query_time),
	  .def = "600s", .check = chk_positive_dur },

	{ .name = "domain", .type = CT_STR, .off = OFF(domain),
	  .def = "consul.", .check = chk_domain },
	{ .name = "alt_domain", .type = CT_STR, .off = OFF(alt_domain),
	  .check = chk_domain_opt },
	{ .name = "recursors", .type = CT_LIST, .off = OFF(recursors),
	  .check = chk_recursor },
	OBJ("dns_config"),
	{ .name = "dns_config.allow_stale", .type = CT_BOOL,
	  .off = OFF(dns_config.allow_stale), .def = "true" },
	{ .name = "dns_config.max_stale", .type = CT_DUR,
	  .off = OFF(dns_config.max_stale), .def = "87600h" },
	{ .name = "dns_config.node_ttl", .type = CT_DUR,
	  .off = OFF(dns_config.node_ttl) },
	{ .name = "dns_config.service_ttl", .type = CT_DURMAP,
	  .off = OFF(dns_config.service_ttl) },
	{ .name = "dns_config.udp_answer_limit", .type = CT_INT,
	  .off = OFF(dns_config.udp_answer_limit), .def = "3", NONNEG },
	{ .name = "dns_config.a_record_limit", .type = CT_INT,
	  .off = OFF(dns_config.a_record_limit), NONNEG },
	{ .name = "dns_config.enable_truncate", .type = CT_BOOL,
	  .off = OFF(dns_config.enable_truncate) },
	{ .name = "dns_config.only_passing", .type = CT_BOOL,
	  .off = OFF(dns_config.only_passing) },
	{ .name = "dns_config.recursor_strategy", .type = CT_STR,
	  .off = OFF(dns_config.recursor_strategy), .def = "sequential",
	  .check = chk_strategy },
	{ .name = "dns_config.recursor_timeout", .type = CT_DUR,
	  .off = OFF(dns_config.recursor_timeout), .def = "2s",
	  .check = chk_positive_dur },
	{ .name = "dns_config.disable_compression", .type = CT_BOOL,
	  .off = OFF(dns_config.disable_compression) },
	{ .name = "dns_config.use_cache", .type = CT_BOOL,
	  .off = OFF(dns_config.use_cache) },
	{ .name = "dns_config.cache_max_age", .type = CT_DUR,
	  .off = OFF(dns_config.cache_max_age) },
	{ .name = "dns_config.enable_additional_node_meta_txt",
	  .type = CT_BOOL, .off = OFF(dns_config.enable_additional_node_meta_txt),
	  .def = "true" },
	OBJ("dns_config.soa"),
	{ .name = "dns_config.soa.min_ttl", .type = CT_INT,
	  .off = OFF(dns_config.soa.min_ttl), NONNEG },
	{ .name = "dns_config.soa.refresh", .type = CT_INT,
	  .off = OFF(dns_config.soa.refresh), .def = "3600", NONNEG },
	{ .name = "dns_config.soa.retry", .type = CT_INT,
	  .off = OFF(dns_config.soa.retry), .def = "600", NONNEG },
	{ .name = "dns_config.soa.expire", .type = CT_INT,
	  .off = OFF(dns_config.soa.expire), .def = "86400", NONNEG },

	{ .name = "enable_script_checks", .type = CT_BOOL,
	  .off = OFF(enable_script_checks) },
	{ .name = "enable_local_script_checks", .type = CT_BOOL,
	  .off = OFF(enable_local_script_checks) },
	{ .name = "check_update_interval", .type = CT_DUR,
	  .off = OFF(check_update_interval), .def = "5m" },
	{ .name = "check_output_max_size", .type = CT_INT,
	  .off = OFF(check_output_max_size), .def = "4096", POSITIVE },
	{ .name = "session_ttl_min", .type = CT_DUR, .off = OFF(session_ttl_min),
	  .def = "10s" },
	{ .name = "service", .type = CT_RAW, .off = OFF(services),
	  .flags = KF_NODUMP },
	{ .name = "services", .type = CT_RAWLIST, .off = OFF(services) },
	{ .name = "check", .type = CT_RAW, .off = OFF(checks),
	  .flags = KF_NODUMP },
	{ .name = "checks", .type = CT_RAWLIST, .off = OFF(checks) },

	{ .name = "log_level", .type = CT_STR, .off = OFF(log_level),
	  .def = "info", .dev = "debug", .check = chk_log_level },
	{ .name = "log_json", .type = CT_BOOL, .off = OFF(log_json) },
	{ .name = "pid_file", .type = CT_STR, .off = OFF(pid_file) },
	{ .name = "disable_update_check", .type = CT_BOOL,
	  .off = OFF(disable_update_check) },
	{ .name = "disable_remote_exec", .type = CT_BOOL,
	  .off = OFF(disable_remote_exec), .def = "true" },
	{ .name = "enable_debug", .type = CT_BOOL, .off = OFF(enable_debug),
	  .dev = "true" },
	{ .name = "translate_wan_addrs", .type = CT_BOOL,
	  .off = OFF(translate_wan_addrs) },
	{ .name = "user", .type = CT_STR, .off = OFF(user), .check = chk_user },
	{ .name = "control_socket", .type = CT_STR, .off = OFF(control_socket) },

	/* Consul keys whose features muster does not have: refuse them
	 * rather than run without what the operator asked for. */
	UNSUP("acl"), UNSUP("tls"), UNSUP("telemetry"), UNSUP("connect"),
	UNSUP("auto_encrypt"), UNSUP("auto_config"), UNSUP("watches"),
	UNSUP("config_entries"), UNSUP("segments"), UNSUP("peering"),
	UNSUP("log_file"), UNSUP("enable_syslog"), UNSUP("ca_file"),
	UNSUP("cert_file"), UNSUP("key_file"), UNSUP("verify_incoming"),
	UNSUP("verify_outgoing"), UNSUP("ui_dir"), UNSUP("serf_lan"),
	UNSUP("serf_wan"), UNSUP("disable_host_node_id"),
};

const size_t cfg_nkeys = nitems(cfg_keys);

const char *
cfg_key_leaf(size_t i)
{
	const char *dot = strrchr(cfg_keys[i].name, '.');
	return dot ? dot + 1 : cfg_keys[i].name;
}

bool
cfg_key_is_child(size_t i, int parent)
{
	const char *name = cfg_keys[i].name, *leaf = cfg_key_leaf(i);
	if (parent < 0)
		return leaf == name;
	const char *p = cfg_keys[parent].name;
	size_t pl = strlen(p);
	return (size_t)(leaf - name) == pl + 1 && strncmp(name, p, pl) == 0;
}

int
cfg_key_find(const char *name)
{
	for (size_t i = 0; i < cfg_nkeys; i++)
		if (strcmp(cfg_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
cfg_key_child(int parent, const char *leaf)
{
	int found = -1;
	for (size_t i = 0; i < cfg_nkeys; i++) {
		if (!cfg_key_is_child(i, parent))
			continue;
		if (strcmp(cfg_key_leaf(i), leaf) == 0)
			return (int)i;
		if (found < 0 && strcasecmp(cfg_key_leaf(i), leaf) == 0)
			found = (int)i;
	}
	return found;
}
