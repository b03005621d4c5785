/* Test helper: see pcap.h. */
#include "tests/unit/gossip/pcap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
rd32(const uint8_t *p, int le)
{
	return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 :
	    (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static struct tp_item *
add_item(struct tp_capture *cap)
{
	cap->items = xrealloc(cap->items, (cap->n + 1) * sizeof(*cap->items));
	struct tp_item *it = &cap->items[cap->n++];
	memset(it, 0, sizeof(*it));
	buf_init(&it->data);
	return it;
}

static struct tp_item *
find_flow(struct tp_capture *cap, const uint8_t *ip, uint16_t sp,
    uint16_t dp)
{
	for (size_t i = 0; i < cap->n; i++) {
		struct tp_item *it = &cap->items[i];
		if (it->tcp && !memcmp(it->src.ip, ip + 12, 4) &&
		    !memcmp(it->dst.ip, ip + 16, 4) && it->src.port == sp &&
		    it->dst.port == dp)
			return it;
	}
	return NULL;
}

static void
add_tcp(struct tp_capture *cap, const uint8_t *ip, const uint8_t *l4,
    size_t len)
{
	if (len < 20)
		return;
	uint16_t sp = (uint16_t)(l4[0] << 8 | l4[1]);
	uint16_t dp = (uint16_t)(l4[2] << 8 | l4[3]);
	uint32_t seq = rd32(l4 + 4, 0);
	size_t off = (size_t)(l4[12] >> 4) * 4;
	if (off > len || off == len)
		return;		/* no payload */
	struct tp_item *it = find_flow(cap, ip, sp, dp);
	if (it == NULL) {
		it = add_item(cap);
		it->tcp = 1;
		memcpy(it->src.ip, ip + 12, 4);
		memcpy(it->dst.ip, ip + 16, 4);
		it->src.port = sp;
		it->dst.port = dp;
	}
	if (!it->have_isn) {
		it->isn = seq;
		it->have_isn = 1;
	}
	size_t at = (size_t)(seq - it->isn);
	if (at != it->data.len)
		return;		/* retransmission or gap: ignore */
	buf_add(&it->data, l4 + off, len - off);
}

static void
add_packet(struct tp_capture *cap, const uint8_t *ip, size_t len)
{
	if (len < 20 || (ip[0] >> 4) != 4)
		return;
	size_t ihl = (size_t)(ip[0] & 15) * 4;
	size_t tot = (size_t)(ip[2] << 8 | ip[3]);
	if (tot > len || ihl > tot)
		return;
	const uint8_t *l4 = ip + ihl;
	size_t l4len = tot - ihl;
	if (ip[9] == 17 && l4len >= 8) {
		struct tp_item *it = add_item(cap);
		memcpy(it->src.ip, ip + 12, 4);
		memcpy(it->dst.ip, ip + 16, 4);
		it->src.port = (uint16_t)(l4[0] << 8 | l4[1]);
		it->dst.port = (uint16_t)(l4[2] << 8 | l4[3]);
		buf_add(&it->data, l4 + 8, l4len - 8);
	} else if (ip[9] == 6) {
		add_tcp(cap, ip, l4, l4len);
	}
}

int
tp_load(const char *path, struct tp_capture *cap)
{
	struct buf f;
	int rc, le;

	memset(cap, 0, sizeof(*cap));
	buf_init(&f);
	if ((rc = read_file(path, 16 << 20, &f)) < 0)
		return rc;
	if (f.len < 24) {
		buf_free(&f);
		return -EINVAL;
	}
	if (rd32(f.data, 1) == 0xa1b2c3d4)
		le = 1;
	else if (rd32(f.data, 0) == 0xa1b2c3d4)
		le = 0;
	else {
		buf_free(&f);
		return -EINVAL;
	}
	uint32_t link = rd32(f.data + 20, le);
	size_t o = 24;
	while (o + 16 <= f.len) {
		uint32_t incl = rd32(f.data + o + 8, le);
		o += 16;
		if (incl > f.len - o)
			break;
		const uint8_t *pkt = f.data + o;
		if (link == 1 && incl > 14 && pkt[12] == 8 && pkt[13] == 0)
			add_packet(cap, pkt + 14, incl - 14);
		else if (link == 113 && incl > 16)
			add_packet(cap, pkt + 16, incl - 16);
		o += incl;
	}
	buf_free(&f);
	return 0;
}

void
tp_free(struct tp_capture *cap)
{
	for (size_t i = 0; i < cap->n; i++)
		buf_free(&cap->items[i].data);
	free(cap->items);
	memset(cap, 0, sizeof(*cap));
}
