/*
 * memberlist message codecs and the packet/stream pipeline; see wire.h
 * and gossip-protocol.md §3-§5.
 */
#include "workers/gossip/wire.h"
#include "workers/gossip/lzw.h"

#include <errno.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define FLD(st, name, kind, member) { name, kind, offsetof(st, member) }
#define OMIT GOSSIP_MP_OMITEMPTY

/* Field tables, keys in the order Go writes them (sorted by name). */
static const struct gossip_mp_field ping_f[] = {
	FLD(struct gossip_ping, "Node", GOSSIP_MP_K_STR, node),
	FLD(struct gossip_ping, "SeqNo", GOSSIP_MP_K_U32, seq),
	FLD(struct gossip_ping, "SourceAddr", GOSSIP_MP_K_BYTES | OMIT,
	    src_addr),
	FLD(struct gossip_ping, "SourceNode", GOSSIP_MP_K_STR | OMIT,
	    src_node),
	FLD(struct gossip_ping, "SourcePort", GOSSIP_MP_K_U16 | OMIT,
	    src_port),
};

static const struct gossip_mp_field indirect_f[] = {
	FLD(struct gossip_indirect_ping, "Nack", GOSSIP_MP_K_BOOL, nack),
	FLD(struct gossip_indirect_ping, "Node", GOSSIP_MP_K_STR, node),
	FLD(struct gossip_indirect_ping, "Port", GOSSIP_MP_K_U16, port),
	FLD(struct gossip_indirect_ping, "SeqNo", GOSSIP_MP_K_U32, seq),
	FLD(struct gossip_indirect_ping, "SourceAddr",
	    GOSSIP_MP_K_BYTES | OMIT, src_addr),
	FLD(struct gossip_indirect_ping, "SourceNode", GOSSIP_MP_K_STR | OMIT,
	    src_node),
	FLD(struct gossip_indirect_ping, "SourcePort", GOSSIP_MP_K_U16 | OMIT,
	    src_port),
	FLD(struct gossip_indirect_ping, "Target", GOSSIP_MP_K_BYTES, target),
};

static const struct gossip_mp_field ack_f[] = {
	FLD(struct gossip_ack, "Payload", GOSSIP_MP_K_BYTES, payload),
	FLD(struct gossip_ack, "SeqNo", GOSSIP_MP_K_U32, seq),
};

static const struct gossip_mp_field nack_f[] = {
	FLD(struct gossip_nack, "SeqNo", GOSSIP_MP_K_U32, seq),
};

static const struct gossip_mp_field suspect_f[] = {
	FLD(struct gossip_suspect, "From", GOSSIP_MP_K_STR, from),
	FLD(struct gossip_suspect, "Incarnation", GOSSIP_MP_K_U32, incarnation),
	FLD(struct gossip_suspect, "Node", GOSSIP_MP_K_STR, node),
};

static const struct gossip_mp_field alive_f[] = {
	FLD(struct gossip_alive, "Addr", GOSSIP_MP_K_BYTES, addr),
	FLD(struct gossip_alive, "Incarnation", GOSSIP_MP_K_U32, incarnation),
	FLD(struct gossip_alive, "Meta", GOSSIP_MP_K_BYTES, meta),
	FLD(struct gossip_alive, "Node", GOSSIP_MP_K_STR, node),
	FLD(struct gossip_alive, "Port", GOSSIP_MP_K_U16, port),
	FLD(struct gossip_alive, "Vsn", GOSSIP_MP_K_BYTES, vsn),
};

static const struct gossip_mp_field push_header_f[] = {
	FLD(struct gossip_push_header, "Join", GOSSIP_MP_K_BOOL, join),
	FLD(struct gossip_push_header, "Nodes", GOSSIP_MP_K_U64, nodes),
	FLD(struct gossip_push_header, "UserStateLen", GOSSIP_MP_K_U64,
	    user_state_len),
};

static const struct gossip_mp_field push_node_f[] = {
	FLD(struct gossip_push_node, "Addr", GOSSIP_MP_K_BYTES, addr),
	FLD(struct gossip_push_node, "Incarnation", GOSSIP_MP_K_U32,
	    incarnation),
	FLD(struct gossip_push_node, "Meta", GOSSIP_MP_K_BYTES, meta),
	FLD(struct gossip_push_node, "Name", GOSSIP_MP_K_STR, name),
	FLD(struct gossip_push_node, "Port", GOSSIP_MP_K_U16, port),
	FLD(struct gossip_push_node, "State", GOSSIP_MP_K_U8, state),
	FLD(struct gossip_push_node, "Vsn", GOSSIP_MP_K_BYTES, vsn),
};

static const struct gossip_mp_field err_f[] = {
	FLD(struct gossip_err, "Error", GOSSIP_MP_K_STR, error),
};

static const struct gossip_mp_field compress_f[] = {
	FLD(struct gossip_compress, "Algo", GOSSIP_MP_K_U64, algo),
	FLD(struct gossip_compress, "Buf", GOSSIP_MP_K_BYTES, buf),
};

struct user_header {
	uint64_t len;
};
static const struct gossip_mp_field user_header_f[] = {
	FLD(struct user_header, "UserMsgLen", GOSSIP_MP_K_U64, len),
};

static void
enc(struct buf *b, uint8_t type, const struct gossip_mp_field *f, size_t nf,
    const void *m)
{
	buf_addch(b, (char)type);
	gossip_mp_put_struct(b, f, nf, m);
}

void
gossip_enc_ping(struct buf *b, const struct gossip_ping *m)
{
	enc(b, GOSSIP_MSG_PING, ping_f, nitems(ping_f), m);
}

void
gossip_enc_indirect_ping(struct buf *b, const struct gossip_indirect_ping *m)
{
	enc(b, GOSSIP_MSG_INDIRECT_PING, indirect_f, nitems(indirect_f), m);
}

void
gossip_enc_ack(struct buf *b, const struct gossip_ack *m)
{
	enc(b, GOSSIP_MSG_ACK, ack_f, nitems(ack_f), m);
}

void
gossip_enc_nack(struct buf *b, const struct gossip_nack *m)
{
	enc(b, GOSSIP_MSG_NACK, nack_f, nitems(nack_f), m);
}

void
gossip_enc_suspect(struct buf *b, const struct gossip_suspect *m)
{
	enc(b, GOSSIP_MSG_SUSPECT, suspect_f, nitems(suspect_f), m);
}

void
gossip_enc_dead(struct buf *b, const struct gossip_suspect *m)
{
	enc(b, GOSSIP_MSG_DEAD, suspect_f, nitems(suspect_f), m);
}

void
gossip_enc_alive(struct buf *b, const struct gossip_alive *m)
{
	enc(b, GOSSIP_MSG_ALIVE, alive_f, nitems(alive_f), m);
}

void
gossip_enc_err(struct buf *b, const char *error)
{
	struct gossip_err e = { gossip_slice_c(error) };
	enc(b, GOSSIP_MSG_ERR, err_f, nitems(err_f), &e);
}

void
gossip_enc_push_header(struct buf *b, const struct gossip_push_header *m)
{
	enc(b, GOSSIP_MSG_PUSH_PULL, push_header_f, nitems(push_header_f), m);
}

void
gossip_enc_push_node(struct buf *b, const struct gossip_push_node *m)
{
	gossip_mp_put_struct(b, push_node_f, nitems(push_node_f), m);
}

void
gossip_enc_user_stream(struct buf *b, const uint8_t *p, size_t n)
{
	struct user_header h = { n };
	enc(b, GOSSIP_MSG_USER, user_header_f, nitems(user_header_f), &h);
	buf_add(b, p, n);
}

void
gossip_enc_compress(struct buf *b, const uint8_t *msg, size_t n)
{
	struct buf z;
	buf_init(&z);
	gossip_lzw_compress(msg, n, &z);
	struct gossip_compress c = { 0, { z.data, z.len } };
	enc(b, GOSSIP_MSG_COMPRESS, compress_f, nitems(compress_f), &c);
	buf_free(&z);
}

void
gossip_enc_compound(struct buf *b, const struct gossip_slice *parts, size_t n)
{
	if (n > GOSSIP_COMPOUND_MAX)
		n = GOSSIP_COMPOUND_MAX;
	buf_addch(b, (char)GOSSIP_MSG_COMPOUND);
	buf_addch(b, (char)n);
	for (size_t i = 0; i < n; i++) {
		buf_addch(b, (char)(parts[i].n >> 8));
		buf_addch(b, (char)parts[i].n);
	}
	for (size_t i = 0; i < n; i++)
		buf_add(b, parts[i].p, parts[i].n);
}

static int
dec(const uint8_t *p, size_t n, const struct gossip_mp_field *f, size_t nf,
    void *m)
{
	struct gossip_mp_rd r;
	gossip_mp_rd_init(&r, p, n);
	return gossip_mp_get_struct(&r, f, nf, m);
}

int
gossip_dec_ping(const uint8_t *p, size_t n, struct gossip_ping *m)
{
	return dec(p, n, ping_f, nitems(ping_f), m);
}

int
gossip_dec_indirect_ping(const uint8_t *p, size_t n,
    struct gossip_indirect_ping *m)
{
	return dec(p, n, indirect_f, nitems(indirect_f), m);
}

int
gossip_dec_ack(const uint8_t *p, size_t n, struct gossip_ack *m)
{
	return dec(p, n, ack_f, nitems(ack_f), m);
}

int
gossip_dec_nack(const uint8_t *p, size_t n, struct gossip_nack *m)
{
	return dec(p, n, nack_f, nitems(nack_f), m);
}

int
gossip_dec_suspect(const uint8_t *p, size_t n, struct gossip_suspect *m)
{
	return dec(p, n, suspect_f, nitems(suspect_f), m);
}

int
gossip_dec_alive(const uint8_t *p, size_t n, struct gossip_alive *m)
{
	return dec(p, n, alive_f, nitems(alive_f), m);
}

int
gossip_dec_err(const uint8_t *p, size_t n, struct gossip_err *m)
{
	return dec(p, n, err_f, nitems(err_f), m);
}

int
gossip_dec_compress(const uint8_t *p, size_t n, struct gossip_compress *m,
    size_t *used)
{
	struct gossip_mp_rd r;
	gossip_mp_rd_init(&r, p, n);
	int rc = gossip_mp_get_struct(&r, compress_f, nitems(compress_f), m);
	if (rc == 0 && used)
		*used = r.off;
	return rc;
}

int
gossip_dec_push_node(struct gossip_mp_rd *r, struct gossip_push_node *m)
{
	return gossip_mp_get_struct(r, push_node_f, nitems(push_node_f), m);
}

int
gossip_dec_push_pull(const uint8_t *p, size_t n, struct gossip_push_pull *m,
    size_t *used)
{
	struct gossip_mp_rd r;
	int rc;

	memset(m, 0, sizeof(*m));
	gossip_mp_rd_init(&r, p, n);
	rc = gossip_mp_get_struct(&r, push_header_f, nitems(push_header_f),
	    &m->hdr);
	if (rc < 0)
		return rc;
	/* every node state is at least one byte; the user state is exact */
	if (m->hdr.nodes > GOSSIP_MAX_PUSH_STATE ||
	    m->hdr.user_state_len > GOSSIP_MAX_PUSH_STATE)
		return -EBADMSG;
	if (m->hdr.nodes > gossip_mp_left(&r))
		return -ENODATA;
	m->nodes = xcalloc(m->hdr.nodes ? m->hdr.nodes : 1, sizeof(*m->nodes));
	for (uint64_t i = 0; i < m->hdr.nodes; i++)
		if ((rc = gossip_dec_push_node(&r, &m->nodes[i])) < 0)
			goto fail;
	if (gossip_mp_left(&r) < m->hdr.user_state_len) {
		rc = -ENODATA;
		goto fail;
	}
	m->user.p = p + r.off;
	m->user.n = m->hdr.user_state_len;
	if (used)
		*used = r.off + m->hdr.user_state_len;
	return 0;
fail:
	gossip_push_pull_free(m);
	return rc;
}

void
gossip_push_pull_free(struct gossip_push_pull *m)
{
	free(m->nodes);
	m->nodes = NULL;
}

int
gossip_dec_user_stream(const uint8_t *p, size_t n, struct gossip_slice *data,
    size_t *used)
{
	struct gossip_mp_rd r;
	struct user_header h;
	int rc;

	gossip_mp_rd_init(&r, p, n);
	if ((rc = gossip_mp_get_struct(&r, user_header_f,
	    nitems(user_header_f), &h)) < 0)
		return rc;
	if (h.len > GOSSIP_MAX_PUSH_STATE)
		return -EBADMSG;
	if (gossip_mp_left(&r) < h.len)
		return -ENODATA;
	data->p = p + r.off;
	data->n = h.len;
	if (used)
		*used = r.off + h.len;
	return 0;
}

int
gossip_dec_compound(const uint8_t *p, size_t n, struct gossip_slice *parts,
    size_t *nparts, size_t *truncated)
{
	if (n < 1)
		return -EBADMSG;
	size_t count = p[0];
	if (n - 1 < 2 * count)
		return -EBADMSG;
	size_t off = 1 + 2 * count;
	*nparts = 0;
	*truncated = 0;
	for (size_t i = 0; i < count; i++) {
		size_t len = (size_t)p[1 + 2 * i] << 8 | p[2 + 2 * i];
		if (n - off < len) {
			*truncated = count - i;
			break;
		}
		parts[(*nparts)++] = (struct gossip_slice){ p + off, len };
		off += len;
	}
	return 0;
}

uint32_t
gossip_crc32(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	static bool ready;
	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = true;
	}
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}
