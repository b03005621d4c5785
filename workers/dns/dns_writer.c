/*
 * Response writer with RFC 1035 §4.1.4 name compression.
 *
 * The writer remembers the offset of every label sequence it wrote
 * literally (up to DNS_COMP_MAX of them, below the 14-bit pointer limit)
 * and replaces the longest suffix of a new name already present with a
 * pointer.  Suffixes must match octet for octet: names compare without
 * case (RFC 4343) but their case is data worth keeping, so a question in
 * mixed case does not change the case of the names we answer with.
 * A write that does not fit leaves the writer untouched.
 */
#include <errno.h>
#include <string.h>

#include "lib/util.h"
#include "workers/dns/dns_wire.h"

void
dns_w_init(struct dns_writer *w, uint8_t *p, size_t cap, bool compress)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->compress = compress;
	w->ncomp = 0;
}

static int
w_bytes(struct dns_writer *w, const void *p, size_t n)
{
	if (w->cap - w->len < n)
		return -ENOSPC;
	memcpy(w->p + w->len, p, n);
	w->len += n;
	return 0;
}

static int
w_u16(struct dns_writer *w, uint16_t v)
{
	uint8_t b[2];
	dns_put16(b, v);
	return w_bytes(w, b, 2);
}

int
dns_w_header(struct dns_writer *w, uint16_t id, uint16_t flags)
{
	uint8_t h[DNS_HDR_LEN] = { 0 };

	dns_put16(h, id);
	dns_put16(h + 2, flags);
	w->len = 0;
	w->ncomp = 0;
	return w_bytes(w, h, sizeof(h));
}

void
dns_w_counts(struct dns_writer *w, uint16_t qd, uint16_t an, uint16_t ns,
    uint16_t ar)
{
	dns_put16(w->p + 4, qd);
	dns_put16(w->p + 6, an);
	dns_put16(w->p + 8, ns);
	dns_put16(w->p + 10, ar);
}

/* Does the name written at packet offset o equal the wire name s?  Only
 * our own output is walked, so its pointers are known to be sound. */
static bool
comp_eq(const uint8_t *p, size_t o, const uint8_t *s)
{
	for (;;) {
		while ((p[o] & 0xc0) == 0xc0)
			o = (size_t)(p[o] & 0x3f) << 8 | p[o + 1];
		uint8_t n = p[o];
		if (n != *s)
			return false;
		if (n == 0)
			return true;
		if (memcmp(p + o + 1, s + 1, n) != 0)
			return false;
		o += n + 1u;
		s += n + 1u;
	}
}

static int
comp_find(const struct dns_writer *w, const uint8_t *s)
{
	for (unsigned i = 0; i < w->ncomp; i++)
		if (w->p[w->comp[i]] == *s && comp_eq(w->p, w->comp[i], s))
			return w->comp[i];
	return -1;
}

int
dns_w_name(struct dns_writer *w, const uint8_t *name, bool nocomp)
{
	size_t nlen = dns_name_len(name), lit = nlen;
	int ptr = -1;

	if (w->compress && !nocomp) {
		for (const uint8_t *s = name; *s; s += *s + 1) {
			if ((ptr = comp_find(w, s)) >= 0) {
				lit = (size_t)(s - name);
				break;
			}
		}
	}
	if (w->cap - w->len < lit + (ptr >= 0 ? 2 : 0))
		return -ENOSPC;
	if (w->compress) {
		for (size_t i = 0; i < lit && name[i]; i += name[i] + 1u) {
			size_t at = w->len + i;
			if (at > 0x3fff || w->ncomp == DNS_COMP_MAX)
				break;
			w->comp[w->ncomp++] = (uint16_t)at;
		}
	}
	memcpy(w->p + w->len, name, lit);
	w->len += lit;
	if (ptr >= 0) {
		dns_put16(w->p + w->len, (uint16_t)(0xc000u | (unsigned)ptr));
		w->len += 2;
	}
	return 0;
}

int
dns_w_question(struct dns_writer *w, const uint8_t *name, uint16_t type,
    uint16_t class)
{
	struct dns_wmark m = dns_w_mark(w);

	if (dns_w_name(w, name, false) < 0 || w_u16(w, type) < 0 ||
	    w_u16(w, class) < 0) {
		dns_w_rollback(w, m);
		return -ENOSPC;
	}
	return 0;
}

/* Owner, type, class, TTL and a zero RDLENGTH; *rdlen_at marks it. */
static int
rr_begin(struct dns_writer *w, const uint8_t *owner, uint16_t type,
    uint16_t class, uint32_t ttl, size_t *rdlen_at)
{
	uint8_t f[10];

	if (dns_w_name(w, owner, false) < 0)
		return -ENOSPC;
	dns_put16(f, type);
	dns_put16(f + 2, class);
	dns_put32(f + 4, ttl);
	dns_put16(f + 8, 0);
	*rdlen_at = w->len + 8;
	return w_bytes(w, f, sizeof(f));
}

static void
rr_end(struct dns_writer *w, size_t rdlen_at)
{
	dns_put16(w->p + rdlen_at, (uint16_t)(w->len - rdlen_at - 2));
}

static int
w_fixed(struct dns_writer *w, const uint8_t *owner, uint16_t type,
    uint32_t ttl, const void *rdata, size_t n)
{
	struct dns_wmark m = dns_w_mark(w);
	size_t at;

	if (rr_begin(w, owner, type, DNS_C_IN, ttl, &at) < 0 ||
	    w_bytes(w, rdata, n) < 0) {
		dns_w_rollback(w, m);
		return -ENOSPC;
	}
	rr_end(w, at);
	return 0;
}

int
dns_w_a(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    const uint8_t ip[4])
{
	return w_fixed(w, owner, DNS_T_A, ttl, ip, 4);
}

int
dns_w_aaaa(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    const uint8_t ip[16])
{
	return w_fixed(w, owner, DNS_T_AAAA, ttl, ip, 16);
}

int
dns_w_namerr(struct dns_writer *w, uint16_t type, const uint8_t *owner,
    uint32_t ttl, const uint8_t *target)
{
	struct dns_wmark m = dns_w_mark(w);
	size_t at;

	if (rr_begin(w, owner, type, DNS_C_IN, ttl, &at) < 0 ||
	    dns_w_name(w, target, false) < 0) {
		dns_w_rollback(w, m);
		return -ENOSPC;
	}
	rr_end(w, at);
	return 0;
}

/* RFC 2782: "name compression is not to be used for this field". */
int
dns_w_srv(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    uint16_t prio, uint16_t weight, uint16_t port, const uint8_t *target)
{
	struct dns_wmark m = dns_w_mark(w);
	uint8_t f[6];
	size_t at;

	dns_put16(f, prio);
	dns_put16(f + 2, weight);
	dns_put16(f + 4, port);
	if (rr_begin(w, owner, DNS_T_SRV, DNS_C_IN, ttl, &at) < 0 ||
	    w_bytes(w, f, sizeof(f)) < 0 || dns_w_name(w, target, true) < 0) {
		dns_w_rollback(w, m);
		return -ENOSPC;
	}
	rr_end(w, at);
	return 0;
}

/* RFC 1035 §3.3.14: one or more <character-string>s of <= 255 octets. */
int
dns_w_txt(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    const void *data, size_t len)
{
	struct dns_wmark m = dns_w_mark(w);
	const uint8_t *d = data;
	size_t at;

	if (len + (len / 255 + 1) > 0xffff)
		return -ENOSPC;
	if (rr_begin(w, owner, DNS_T_TXT, DNS_C_IN, ttl, &at) < 0)
		goto full;
	do {
		uint8_t n = (uint8_t)MIN(len, 255);
		if (w_bytes(w, &n, 1) < 0 || w_bytes(w, d, n) < 0)
			goto full;
		d += n;
		len -= n;
	} while (len);
	rr_end(w, at);
	return 0;
full:
	dns_w_rollback(w, m);
	return -ENOSPC;
}

int
dns_w_soa(struct dns_writer *w, const uint8_t *owner, uint32_t ttl,
    const struct dns_soa *soa)
{
	struct dns_wmark m = dns_w_mark(w);
	uint8_t f[20];
	size_t at;

	dns_put32(f, soa->serial);
	dns_put32(f + 4, soa->refresh);
	dns_put32(f + 8, soa->retry);
	dns_put32(f + 12, soa->expire);
	dns_put32(f + 16, soa->minimum);
	if (rr_begin(w, owner, DNS_T_SOA, DNS_C_IN, ttl, &at) < 0 ||
	    dns_w_name(w, soa->mname, false) < 0 ||
	    dns_w_name(w, soa->rname, false) < 0 ||
	    w_bytes(w, f, sizeof(f)) < 0) {
		dns_w_rollback(w, m);
		return -ENOSPC;
	}
	rr_end(w, at);
	return 0;
}

/* RFC 6891 §6.1.2/§6.1.3: CLASS is the UDP payload size, TTL holds the
 * extended RCODE, VERSION (0) and the DO bit (copied, RFC 3225 §3). */
int
dns_w_opt(struct dns_writer *w, uint16_t udp, uint8_t ext_rcode,
    bool dnssec_ok, const void *options, size_t optlen)
{
	static const uint8_t root[1] = { 0 };
	struct dns_wmark m = dns_w_mark(w);
	uint32_t ttl = (uint32_t)ext_rcode << 24 | (dnssec_ok ? DNS_EDNS_DO : 0);
	size_t at;

	if (rr_begin(w, root, DNS_T_OPT, udp, ttl, &at) < 0 ||
	    w_bytes(w, options, optlen) < 0) {
		dns_w_rollback(w, m);
		return -ENOSPC;
	}
	rr_end(w, at);
	return 0;
}
