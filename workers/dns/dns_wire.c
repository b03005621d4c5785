/*
 * DNS wire format: names, records, the query parser and the response
 * writer.  Every read is bounds-checked against the packet length; nothing
 * here allocates.
 */
#include <errno.h>
#include <string.h>

#include "workers/dns/dns_wire.h"

static inline uint8_t
lc(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

int
dns_name_read(const uint8_t *pkt, size_t len, size_t *off, uint8_t *out)
{
	size_t pos = *off, end = 0, n = 0;
	/* RFC 1035 §4.1.4 pointers refer to a prior occurrence; requiring
	 * every jump to land before the previous one bounds the walk. */
	size_t limit = *off;
	bool jumped = false;

	for (;;) {
		if (pos >= len)
			return -EBADMSG;
		uint8_t c = pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -EBADMSG;
			size_t target = (size_t)(c & 0x3f) << 8 | pkt[pos + 1];
			if (target >= limit)
				return -EBADMSG;
			if (!jumped)
				end = pos + 2;
			jumped = true;
			limit = target;
			pos = target;
			continue;
		}
		if (c & 0xc0)		/* 01 and 10: extended label types */
			return -EBADMSG;
		if (c == 0) {
			out[n++] = 0;
			break;
		}
		if (n + 1 + c + 1 > DNS_NAME_MAX || pos + 1 + c > len)
			return -EBADMSG;
		memcpy(out + n, pkt + pos, 1 + (size_t)c);
		n += 1 + (size_t)c;
		pos += 1 + (size_t)c;
	}
	*off = jumped ? end : pos + 1;
	return (int)n;
}

size_t
dns_name_len(const uint8_t *name)
{
	const uint8_t *p = name;
	while (*p)
		p += *p + 1;
	return (size_t)(p - name) + 1;
}

bool
dns_name_eq(const uint8_t *a, const uint8_t *b)
{
	for (;;) {
		if (*a != *b)
			return false;
		if (*a == 0)
			return true;
		for (unsigned i = 1; i <= *a; i++)
			if (lc(a[i]) != lc(b[i]))
				return false;
		a += *a + 1;
		b += *b + 1;
	}
}

void
dns_name_lower(uint8_t *name)
{
	for (uint8_t *p = name; *p; p += *p + 1)
		for (unsigned i = 1; i <= *p; i++)
			p[i] = lc(p[i]);
}

int
dns_name_from_text(const char *s, uint8_t *out)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (strcmp(s, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		if (l == 0 || l > DNS_LABEL_MAX || n + 1 + l + 1 > DNS_NAME_MAX)
			return -EINVAL;
		out[n] = (uint8_t)l;
		memcpy(out + n + 1, s, l);
		n += 1 + l;
		s += l;
		if (*s == '.')
			s++;
	}
	out[n++] = 0;
	return (int)n;
}

size_t
dns_name_to_text(const uint8_t *name, char *out)
{
	size_t n = 0;

	if (*name == 0) {
		out[0] = '.';
		out[1] = '\0';
		return 1;
	}
	for (const uint8_t *p = name; *p; p += *p + 1) {
		memcpy(out + n, p + 1, *p);
		n += *p;
		out[n++] = '.';
	}
	out[n] = '\0';
	return n;
}

int
dns_question_read(const uint8_t *pkt, size_t len, size_t *off,
    struct dns_rr *rr)
{
	size_t o = *off;

	if (dns_name_read(pkt, len, &o, rr->name) < 0 || len - o < 4)
		return -EBADMSG;
	rr->type = dns_get16(pkt + o);
	rr->class = dns_get16(pkt + o + 2);
	rr->ttl = 0;
	rr->rdlen = 0;
	rr->rdoff = o + 4;
	*off = o + 4;
	return 0;
}

int
dns_rr_read(const uint8_t *pkt, size_t len, size_t *off, struct dns_rr *rr)
{
	size_t o = *off;

	if (dns_name_read(pkt, len, &o, rr->name) < 0 || len - o < 10)
		return -EBADMSG;
	rr->type = dns_get16(pkt + o);
	rr->class = dns_get16(pkt + o + 2);
	rr->ttl = dns_get32(pkt + o + 4);
	rr->rdlen = dns_get16(pkt + o + 8);
	rr->rdoff = o + 10;
	if (len - rr->rdoff < rr->rdlen)
		return -EBADMSG;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

/*
 * RFC 7871 §6/§7.1.1: FAMILY 1 or 2, SOURCE PREFIX-LENGTH within the
 * address, exactly ceil(source/8) address octets with the bits past the
 * prefix zero, SCOPE PREFIX-LENGTH 0 in queries.
 */
static int
parse_ecs(const uint8_t *p, size_t n, struct dns_query *q)
{
	if (q->ecs || n < 4)
		return -EBADMSG;
	uint16_t family = dns_get16(p);
	uint8_t source = p[2], scope = p[3];
	unsigned maxbits = family == 1 ? 32 : family == 2 ? 128 : 0;
	size_t alen = ((size_t)source + 7) / 8;

	if (maxbits == 0 || source > maxbits || scope != 0 || n - 4 != alen)
		return -EBADMSG;
	if (source % 8 && (p[4 + alen - 1] & (0xffu >> (source % 8))))
		return -EBADMSG;
	q->ecs = true;
	q->ecs_family = family;
	q->ecs_source = source;
	memset(q->ecs_addr, 0, sizeof(q->ecs_addr));
	memcpy(q->ecs_addr, p + 4, alen);
	return 0;
}

/* RFC 6891 §6.1: one OPT, owner root; options must fill RDATA exactly. */
static int
parse_opt(const uint8_t *pkt, const struct dns_rr *rr, struct dns_query *q)
{
	if (q->edns || rr->name[0] != 0)
		return -EBADMSG;
	q->edns = true;
	q->edns_udp = rr->class;
	q->edns_version = (uint8_t)(rr->ttl >> 16);
	q->edns_do = (rr->ttl & DNS_EDNS_DO) != 0;

	const uint8_t *p = pkt + rr->rdoff;
	size_t left = rr->rdlen;
	while (left) {
		if (left < 4)
			return -EBADMSG;
		uint16_t code = dns_get16(p), olen = dns_get16(p + 2);
		if ((size_t)olen > left - 4)
			return -EBADMSG;
		if (code == DNS_OPT_ECS && parse_ecs(p + 4, olen, q) < 0)
			return -EBADMSG;
		p += 4 + olen;
		left -= 4 + (size_t)olen;
	}
	return 0;
}

/* Answer and authority are skipped (but must parse); additional may hold
 * the OPT.  Anything after the last record is an error. */
static int
parse_sections(const uint8_t *pkt, size_t len, size_t off,
    struct dns_query *q)
{
	unsigned an = dns_get16(pkt + 6), ns = dns_get16(pkt + 8);
	unsigned ar = dns_get16(pkt + 10);
	struct dns_rr rr;

	for (unsigned i = 0; i < an + ns + ar; i++) {
		if (dns_rr_read(pkt, len, &off, &rr) < 0)
			return -EBADMSG;
		if (rr.type != DNS_T_OPT)
			continue;
		if (i < an + ns || parse_opt(pkt, &rr, q) < 0)
			return -EBADMSG;
	}
	return off == len ? 0 : -EBADMSG;
}

enum dns_parse_result
dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	struct dns_rr rr;
	size_t off = DNS_HDR_LEN;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HDR_LEN)
		return DNS_PARSE_DROP;
	q->id = dns_get16(pkt);
	q->flags = dns_get16(pkt + 2);
	if (q->flags & DNS_F_QR)
		return DNS_PARSE_DROP;

	bool one = dns_get16(pkt + 4) == 1;
	if (one && dns_question_read(pkt, len, &off, &rr) == 0) {
		q->has_question = true;
		q->qname_len = (uint16_t)dns_name_len(rr.name);
		memcpy(q->qname, rr.name, q->qname_len);
		q->qtype = rr.type;
		q->qclass = rr.class;
		q->question_end = off;
	}
	/* Parsed even for an unknown opcode so the reply can carry OPT. */
	int body = q->has_question ? parse_sections(pkt, len, off, q) : -1;
	if (body < 0)
		q->edns = q->ecs = false;	/* never echo a broken OPT */
	if (DNS_OPCODE(q->flags) != 0)
		return DNS_PARSE_NOTIMP;
	if (body < 0 || q->qtype == DNS_T_OPT)
		return DNS_PARSE_FORMERR;
	if (q->edns && q->edns_version != 0)
		return DNS_PARSE_BADVERS;
	return DNS_PARSE_OK;
}
