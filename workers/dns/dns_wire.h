/*
 * DNS wire format (RFC 1035 §4, RFC 2782, RFC 3596, RFC 6891, RFC 7871):
 * a strict query parser, a generic record reader, and a response writer
 * with name compression.  Names inside this layer are in wire form: length
 * octets and labels, ending with the zero-length root label.
 *
 * Internal to the dns worker (and its tests and fuzz target).
 */
#ifndef MUSTER_DNS_WIRE_H
#define MUSTER_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN 12
#define DNS_NAME_MAX 255		/* wire octets, RFC 1035 §2.3.4 */
#define DNS_LABEL_MAX 63
#define DNS_LABELS_MAX 127
#define DNS_UDP_PLAIN 512		/* without EDNS0, RFC 1035 §4.2.1 */
#define DNS_MSG_MAX 65535
#define DNS_COMP_MAX 128		/* compression targets remembered */

enum {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_OPT = 41,
	DNS_T_IXFR = 251,
	DNS_T_AXFR = 252,
	DNS_T_ANY = 255,
};

enum {
	DNS_C_IN = 1,
	DNS_C_ANY = 255,
};

enum {
	DNS_R_NOERROR = 0,
	DNS_R_FORMERR = 1,
	DNS_R_SERVFAIL = 2,
	DNS_R_NXDOMAIN = 3,
	DNS_R_NOTIMP = 4,
	DNS_R_REFUSED = 5,
	DNS_R_BADVERS = 16,		/* extended, RFC 6891 §9 */
};

#define DNS_F_QR 0x8000u
#define DNS_F_AA 0x0400u
#define DNS_F_TC 0x0200u
#define DNS_F_RD 0x0100u
#define DNS_F_RA 0x0080u
#define DNS_F_AD 0x0020u
#define DNS_F_CD 0x0010u
#define DNS_OPCODE(f) (((f) >> 11) & 0xf)
#define DNS_RCODE(f) ((f) & 0xf)

#define DNS_EDNS_DO 0x8000u
#define DNS_OPT_ECS 8			/* RFC 7871 client subnet */

static inline uint16_t
dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
dns_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
dns_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Read a possibly compressed name at *off into out (uncompressed wire form,
 * DNS_NAME_MAX bytes room); *off moves past it.  Pointers must point
 * strictly backwards from the previous pointer (so no loops, no forward
 * references); label types 01/10 (RFC 6891 §5) are rejected.  Returns the
 * wire length or -EBADMSG.
 */
int dns_name_read(const uint8_t *pkt, size_t len, size_t *off, uint8_t *out);
/* Wire length of an uncompressed wire name (no validation). */
size_t dns_name_len(const uint8_t *name);
/* Case-insensitive equality of two wire names. */
bool dns_name_eq(const uint8_t *a, const uint8_t *b);
/* ASCII lower-casing of a wire name in place. */
void dns_name_lower(uint8_t *name);
/*
 * Dotted text to wire form ("a.b.", "a.b" and "." accepted; no escapes).
 * Returns the wire length or -EINVAL (empty label, label > 63, name > 255).
 */
int dns_name_from_text(const char *s, uint8_t *out);
/* Wire form to dotted text with the trailing dot; out has 256 bytes room
 * ("." for the root).  Returns the text length. */
size_t dns_name_to_text(const uint8_t *name, char *out);

/* A record as found in a message; rdata points into the packet. */
struct dns_rr {
	uint8_t name[DNS_NAME_MAX];
	uint16_t type, class;
	uint32_t ttl;
	uint16_t rdlen;
	size_t rdoff;			/* offset of rdata in the packet */
};

/* Read one question (rr->ttl/rdlen zero) or resource record. -EBADMSG. */
int dns_question_read(const uint8_t *pkt, size_t len, size_t *off,
    struct dns_rr *rr);
int dns_rr_read(const uint8_t *pkt, size_t len, size_t *off,
    struct dns_rr *rr);

enum dns_parse_result {
	DNS_PARSE_OK = 0,
	DNS_PARSE_DROP,		/* not answerable: short header, QR set */
	DNS_PARSE_FORMERR,	/* reply FORMERR (question if has_question) */
	DNS_PARSE_NOTIMP,	/* opcode other than QUERY */
	DNS_PARSE_BADVERS,	/* EDNS version above 0 */
};

struct dns_query {
	uint16_t id, flags;
	uint16_t qtype, qclass;
	bool has_question;
	uint8_t qname[DNS_NAME_MAX];	/* as sent (case preserved) */
	uint16_t qname_len;
	size_t question_end;		/* packet offset after the question */
	bool edns;
	uint8_t edns_version;
	bool edns_do;
	uint16_t edns_udp;		/* as advertised by the client */
	bool ecs;
	uint16_t ecs_family;
	uint8_t ecs_source;
	uint8_t ecs_addr[16];
};

/*
 * Parse a query strictly: one question, well-formed names and records in
 * every section, at most one OPT (root owner, in additional), a valid ECS
 * option, no trailing bytes.  Fills q as far as it got even on failure.
 */
enum dns_parse_result dns_parse_query(const uint8_t *pkt, size_t len,
    struct dns_query *q);

/*
 * Response writer.  Every write either fits completely or returns -ENOSPC
 * and leaves the writer as it was, so callers can fill up to a limit and
 * never emit half a record.
 */
struct dns_writer {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool compress;
	unsigned ncomp;
	uint16_t comp[DNS_COMP_MAX];	/* offsets of names already written */
};

struct dns_wmark {
	size_t len;
	unsigned ncomp;
};

void dns_w_init(struct dns_writer *w, uint8_t *p, size_t cap, bool compress);
static inline struct dns_wmark
dns_w_mark(const struct dns_writer *w)
{
	return (struct dns_wmark){ w->len, w->ncomp };
}
static inline void
dns_w_rollback(struct dns_writer *w, struct dns_wmark m)
{
	w->len = m.len;
	w->ncomp = m.ncomp;
}

int dns_w_header(struct dns_writer *w, uint16_t id, uint16_t flags);
/* Section counts in the header at offset 4. */
void dns_w_counts(struct dns_writer *w, uint16_t qd, uint16_t an,
    uint16_t ns, uint16_t ar);
/* A name, compressed when allowed (nocomp: RFC 2782 SRV target). */
int dns_w_name(struct dns_writer *w, const uint8_t *name, bool nocomp);
int dns_w_question(struct dns_writer *w, const uint8_t *name, uint16_t type,
    uint16_t class);

int dns_w_a(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    const uint8_t ip[4]);
int dns_w_aaaa(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    const uint8_t ip[16]);
/* CNAME, PTR and NS: one domain name of rdata. */
int dns_w_namerr(struct dns_writer *w, uint16_t type, const uint8_t *owner,
    uint32_t ttl, const uint8_t *target);
int dns_w_srv(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    uint16_t prio, uint16_t weight, uint16_t port, const uint8_t *target);
/* TXT: data split into <character-string>s of at most 255 octets. */
int dns_w_txt(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    const void *data, size_t len);

struct dns_soa {
	const uint8_t *mname, *rname;
	uint32_t serial, refresh, retry, expire, minimum;
};

int dns_w_soa(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    const struct dns_soa *soa);
/* OPT pseudo-record: ext_rcode is the upper 8 bits of a 12-bit rcode. */
int dns_w_opt(struct dns_writer *w, uint16_t udp, uint8_t ext_rcode,
    bool dnssec_ok, const void *options, size_t optlen);

#endif
