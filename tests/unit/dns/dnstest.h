/*
 * Helpers for the dns suites: query builders, a strict response decoder
 * (so every answer the server produces is also checked for well-formed
 * wire format), a fake catalog behind struct dns_lookup, and loop/socket
 * plumbing for exchanges over real sockets on 127.0.0.1.
 */
#ifndef MUSTER_DNSTEST_H
#define MUSTER_DNSTEST_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "workers/dns/dns.h"
#include "workers/dns/dns_wire.h"

#define PR_MAX 1200

struct prr {
	char name[300];
	uint16_t type, class;
	uint32_t ttl;
	char data[700];		/* presentation-ish rdata */
	unsigned nstrings;	/* TXT: character-strings */
	uint32_t soa[5];	/* serial refresh retry expire minimum */
};

struct presp {
	size_t len;
	uint16_t id, flags;
	unsigned rcode;		/* header rcode | ext rcode << 4 */
	unsigned qd, an, ns, ar;
	char qname[300];
	uint16_t qtype, qclass;
	bool edns;
	uint16_t edns_udp;
	uint32_t opt_ttl;
	bool ecs;
	uint8_t ecs_source, ecs_scope;
	struct prr rr[3][PR_MAX];	/* an, ns, ar (OPT excluded) */
	size_t n[3];
};

/* A query: edns < 0 for none; returns its length. */
size_t mkq(uint8_t *p, uint16_t id, const char *name, uint16_t qtype,
    int edns);
/* Decode strictly; false if any part is malformed. */
bool parse_resp(const uint8_t *pkt, size_t len, struct presp *r);
/* First record of section sec with type (0 = any), or NULL. */
const struct prr *find_rr(const struct presp *r, int sec, uint16_t type);
size_t count_rr(const struct presp *r, int sec, uint16_t type);

/* Fake catalog. */
struct fnode {
	const char *name, *dc, *addr;
	struct dns_meta meta[4];
	size_t nmeta;
};

struct finst {
	const char *svc;
	const char *tag;
	int node;		/* index into fake.nodes */
	const char *addr;
	uint16_t port;
	enum dns_health health;
	enum dns_service_kind kind;
};

struct fake {
	struct fnode nodes[1100];
	size_t nnodes;
	struct finst inst[1100];
	size_t ninst;
	int fail;		/* lookups return this when negative */
	struct dns_service_query last;	/* last service lookup */
	char last_svc[256], last_tag[256], last_dc[64];
	bool last_had_tag;
	unsigned service_calls;
};

extern struct fake fake;
extern const struct dns_lookup fake_lookup;
void fake_reset(void);
int fake_node(const char *name, const char *dc, const char *addr);
void fake_inst(const char *svc, const char *tag, int node, const char *addr,
    uint16_t port, enum dns_health h);

/* A resolver over the fake catalog: dc1, node "agent-one" 10.0.0.9. */
void test_config(struct dns_config *c);
struct dns_resolver *mkres(const struct dns_config *c);
/* dns_answer() + parse; returns dns_answer's result. */
int ask(struct dns_resolver *r, const char *name, uint16_t qtype, int edns,
    bool tcp, struct presp *p);
int ask_raw(struct dns_resolver *r, const uint8_t *q, size_t qlen, bool tcp,
    struct presp *p);

/* Sockets and loop. */
extern struct ev_loop *tloop;
/* Checked fixture: a fresh loop per test (each runs in its own fork). */
void loop_setup(void);
void loop_teardown(void);
int bind_udp(uint16_t *port);
int bind_tcp(uint16_t *port);
int bind_tcp_at(uint16_t port);
/* Run the loop until fd is readable or ms pass; true if readable. */
bool wait_fd(int fd, unsigned ms);
/* Run the loop until *flag or ms pass. */
bool wait_flag(const bool *flag, unsigned ms);
/* UDP client exchange through the loop; returns reply length or -1. */
ssize_t udp_exchange(uint16_t port, const uint8_t *q, size_t qlen,
    uint8_t *resp, size_t cap, unsigned ms);
int tcp_connect(uint16_t port);
/* Read one framed TCP message (running the loop); length or -1. */
ssize_t tcp_read_msg(int fd, uint8_t *buf, size_t cap, unsigned ms);

Suite *wire_suite(void);
Suite *zone_suite(void);
Suite *catalog_suite(void);
Suite *net_suite(void);
Suite *model_suite(void);

#endif
