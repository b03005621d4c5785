/*
 * Internals shared by the resolver's files (dns_resolve.c: config, zone and
 * packet flow; dns_msg.c: the record list and its serialisation with
 * trimming; dns_catalog.c: node/service/addr/query answers; dns_recurse.c:
 * forwarding to recursors).
 */
#ifndef MUSTER_DNS_INT_H
#define MUSTER_DNS_INT_H

#include <sys/socket.h>

#include "workers/dns/dns.h"
#include "workers/dns/dns_wire.h"

/* Consul agent/dns.go: maxUDPAnswerLimit, maxRecurseRecords,
 * maxRecursionLevelDefault, maxUDPDatagramSize. */
#define DNS_UDP_ANSWER_MAX 8
#define DNS_RECURSE_RECORDS_MAX 5
#define DNS_CNAME_DEPTH 3
#define DNS_UDP_DATAGRAM_MAX (65535 - 68)
#define DNS_RECURSIONS_MAX 1024		/* in flight, per resolver */

struct dns_ttl_rule {
	char *name;			/* lower case, '*' stripped */
	bool prefix;
	uint32_t ttl;
};

/* A validated, self-contained copy of struct dns_config. */
struct dns_zcfg {
	uint8_t domain[DNS_NAME_MAX];	/* wire, lower case */
	char domain_txt[DNS_NAME_MAX + 1];	/* "consul." */
	bool has_alt;
	uint8_t alt[DNS_NAME_MAX];
	char alt_txt[DNS_NAME_MAX + 1];
	char *dc, *node_name;
	bool has_adv, adv_v6;
	uint8_t adv_ip[16];
	uint32_t node_ttl;
	struct dns_ttl_rule *ttl;
	size_t nttl;
	uint32_t soa_refresh, soa_retry, soa_expire, soa_min_ttl;
	int udp_answer_limit, a_record_limit;
	bool enable_truncate, only_passing, node_meta_txt, compress;
	struct sockaddr_storage rec[DNS_MAX_RECURSORS];
	socklen_t reclen[DNS_MAX_RECURSORS];
	size_t nrec;
	enum dns_recursor_strategy strategy;
	uint32_t rec_timeout_ms;
};

enum { DNS_SEC_AN = 0, DNS_SEC_NS, DNS_SEC_AR, DNS_SEC_NONE };

#define DNS_OWNER_QNAME UINT32_MAX	/* owner is the question's name */
#define DNS_GROUP_NS (-1)		/* additional kept with authority */

/* One record of a response being built; names are arena offsets. */
struct dns_rec {
	uint16_t type;
	uint8_t sec;
	int32_t group;			/* AR: answer ordinal it serves */
	uint32_t ttl;
	uint32_t owner;
	union {
		uint8_t ip[16];
		uint32_t name;		/* CNAME, PTR, NS */
		struct {
			uint16_t prio, weight, port;
			uint32_t target;
		} srv;
		struct {
			uint32_t off, len;
		} txt;
		struct {
			uint32_t mname, rname;
			uint32_t serial, refresh, retry, expire, minimum;
		} soa;
	} u;
};

struct dns_msg {
	struct dns_rec *rec;
	size_t nrec, caprec;
	size_t nan;			/* answer records so far */
	struct buf arena;		/* wire names and TXT data */
	uint16_t rcode;			/* 12-bit (BADVERS is 16) */
	bool aa;
	bool ecs_scoped;		/* answer valid only for the subnet */
};

struct dns_resolver {
	struct ev_loop *loop;
	struct dns_zcfg *cfg;
	struct dns_lookup lookup;
	bool has_lookup;
	struct dns_msg msg;
	struct dns_instance *inst;	/* lookup results, stacked */
	size_t ninst, capinst;
	uint64_t rng;
	struct dns_stats st;
	struct dns_recursion *recs;	/* in flight, doubly linked */
	unsigned nrecs;
};

/* Per-question state while an answer is assembled. */
struct dns_ctx {
	struct dns_resolver *r;
	const struct dns_zcfg *c;
	const struct dns_query *q;
	struct dns_msg *m;
	const uint8_t *zone;		/* wire: the domain asked in */
	const char *zone_txt;
	uint8_t lname[DNS_NAME_MAX];	/* lower-cased question name */
	size_t an_cap;			/* stop adding answers beyond this */
};

/* Outcome of a catalog lookup; SOA goes in authority for NX and NODATA. */
enum dns_status {
	DNS_ST_OK = 0,
	DNS_ST_NODATA,
	DNS_ST_NXDOMAIN,
	DNS_ST_SERVFAIL,
};

/* dns_answer.c: offset of the label-aligned suffix zone in name, or -1
 * (both lower case). */
int dns_zone_offset(const uint8_t *name, const uint8_t *zone);

/* dns_resolve.c */
uint64_t dns_rand(struct dns_resolver *r);
bool dns_recursion_enabled(const struct dns_resolver *r);

/* dns_msg.c */
void dns_msg_reset(struct dns_msg *m);
void dns_msg_free(struct dns_msg *m);
uint32_t dns_msg_name(struct dns_msg *m, const uint8_t *wire);
/* Text name ("a.b.c.") to a lower-cased arena name; UINT32_MAX if invalid. */
uint32_t dns_msg_textname(struct dns_msg *m, const char *text);
/* label + "." + suffix (wire) as an arena name; UINT32_MAX if too long. */
uint32_t dns_msg_prefixed(struct dns_msg *m, const char *label,
    const uint8_t *suffix);
const uint8_t *dns_msg_name_at(const struct dns_msg *m,
    const struct dns_query *q, uint32_t off);
struct dns_rec *dns_msg_add(struct dns_msg *m, uint16_t type, uint8_t sec,
    int32_t group, uint32_t owner, uint32_t ttl);
/* Add an AR record unless an identical one is already there. */
bool dns_msg_has_extra(const struct dns_msg *m, const struct dns_query *q,
    const struct dns_rec *cand);
void dns_msg_add_soa(struct dns_ctx *x, uint8_t sec);
/*
 * Serialise into out within the transport's size limit (§5.3): cap answers
 * at udp_answer_limit for 512-byte UDP, drop authority, then keep the most
 * answers that fit with their additional records.  Returns true if
 * answers were trimmed.
 */
bool dns_msg_finish(struct dns_ctx *x, bool tcp, uint16_t flags,
    struct buf *out);
/* Header (+ question, + OPT) only response, e.g. FORMERR, REFUSED. */
void dns_msg_simple(const struct dns_query *q, uint16_t flags, uint16_t rcode,
    bool with_question, struct buf *out);
size_t dns_udp_limit(const struct dns_query *q);

/* One name being answered: the question, or a CNAME target resolved
 * inside the domain (Consul resolveCNAME, at most DNS_CNAME_DEPTH deep). */
struct dns_dq {
	const uint8_t *name;		/* lower-case wire */
	uint32_t owner;			/* for the records' owner field */
	uint16_t qtype;
	unsigned depth;
};

/* dns_catalog.c: name forms, nodes, addr, NS, PTR */
enum dns_status dns_catalog_answer(struct dns_ctx *x, const uint8_t *name,
    uint32_t owner, unsigned depth);
enum dns_status dns_answer_dq(struct dns_ctx *x, const struct dns_dq *dq);
void dns_catalog_ns(struct dns_ctx *x, bool in_answer);
enum dns_status dns_catalog_ptr(struct dns_ctx *x);
bool dns_parse_ip(const char *s, uint8_t ip[16], bool *v6);
/* Consul makeARecord: does an address of this family answer qtype? */
bool dns_qtype_takes(uint16_t qtype, bool v6);
/* "<node>.node.<dc>.<zone>" as an arena name; UINT32_MAX if invalid. */
uint32_t dns_node_fqdn(struct dns_ctx *x, const char *node, const char *dc);
/* Append the TXT records of node meta (RFC 1464 key=value). */
void dns_node_meta(struct dns_ctx *x, const struct dns_node *n,
    uint32_t owner, uint8_t sec, int32_t group, uint32_t ttl);

/* dns_service.c: service, connect, ingress and prepared-query answers */
enum dns_status dns_service_answer(struct dns_ctx *x,
    const struct dns_dq *dq, const struct dns_service_query *sq);
enum dns_status dns_query_answer(struct dns_ctx *x, const struct dns_dq *dq,
    const char *dc, const char *name);
/* Collect instances of sq above r->ninst; returns the lookup's code. */
int dns_collect(struct dns_ctx *x, const struct dns_service_query *sq);
/* Resolve a host name inside the domain; its CNAME/A/AAAA answers are
 * re-filed into section sec (group for AR).  Returns how many. */
size_t dns_resolve_cname(struct dns_ctx *x, const uint8_t *fqdn,
    unsigned depth, uint8_t sec, int32_t group, uint32_t ttl, size_t max);

/* dns_recurse.c */
void dns_recurse_free_all(struct dns_resolver *r);

#endif
