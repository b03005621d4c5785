/*
 * The UDP packet pipeline and TCP stream framing of memberlist
 * (gossip-protocol.md §4, §5, §7): label, AES-GCM, CRC-32, compound and
 * LZW-compressed messages.
 */
#include "workers/gossip/lzw.h"
#include "workers/gossip/wire.h"

#include <errno.h>
#include <string.h>

#define WALK_MAX_DEPTH 4

bool
gossip_wire_encrypting(const struct gossip_wire_cfg *c)
{
	return c->keyring != NULL && c->keyring->n > 0;
}

static size_t
label_len(const struct gossip_wire_cfg *c)
{
	return c->label ? strlen(c->label) : 0;
}

size_t
gossip_wire_label_overhead(const struct gossip_wire_cfg *c)
{
	size_t n = label_len(c);
	return n ? 2 + n : 0;
}

static void
put_u32be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get_u32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * An optional label header f4 len label.  Sets *lab to the label the
 * message is authenticated with and returns the header length, 0 if
 * more bytes are needed (streams) or <0.
 */
static int
take_label(const struct gossip_wire_cfg *c, const uint8_t *p, size_t n,
    struct gossip_slice *lab)
{
	struct gossip_slice mine = { (const uint8_t *)c->label, label_len(c) };
	size_t used = 0;

	lab->p = NULL;
	lab->n = 0;
	if (n >= 1 && p[0] == GOSSIP_MSG_HAS_LABEL) {
		if (n < 2)
			return 0;
		if (p[1] == 0)
			return -EBADMSG;	/* empty label not allowed */
		if (n < 2 + (size_t)p[1])
			return 0;
		lab->p = p + 2;
		lab->n = p[1];
		used = 2 + (size_t)p[1];
	}
	if (c->skip_inbound_label_check)
		*lab = mine;
	else if (!gossip_slice_same(*lab, mine))
		return -EACCES;
	return (int)used;
}

int
gossip_packet_open(const struct gossip_wire_cfg *c, const uint8_t *pkt,
    size_t n, struct buf *scratch, const uint8_t **msg, size_t *msglen)
{
	struct gossip_slice lab;
	int rc;

	if (n == 0)
		return -ENODATA;
	if (pkt[0] == GOSSIP_MSG_HAS_LABEL || label_len(c) > 0) {
		rc = take_label(c, pkt, n, &lab);
		if (rc == 0 && pkt[0] == GOSSIP_MSG_HAS_LABEL)
			return -EBADMSG;	/* truncated label header */
		if (rc < 0)
			return rc;
		pkt += rc;
		n -= (size_t)rc;
	} else {
		lab.p = NULL;
		lab.n = 0;
	}
	if (gossip_wire_encrypting(c)) {
		buf_reset(scratch);
		rc = gossip_decrypt(c->keyring, pkt, n, lab.p, lab.n, scratch);
		if (rc == 0) {
			pkt = scratch->data;
			n = scratch->len;
		} else if (c->verify_incoming) {
			return rc;
		}
	}
	if (n >= 5 && pkt[0] == GOSSIP_MSG_HAS_CRC) {
		if (gossip_crc32(pkt + 5, n - 5) != get_u32be(pkt + 1))
			return -EILSEQ;
		pkt += 5;
		n -= 5;
	}
	if (n == 0)
		return -ENODATA;
	*msg = pkt;
	*msglen = n;
	return 0;
}

static void
put_label(const struct gossip_wire_cfg *c, struct buf *out)
{
	size_t n = label_len(c);
	if (n == 0)
		return;
	buf_addch(out, (char)GOSSIP_MSG_HAS_LABEL);
	buf_addch(out, (char)n);
	buf_add(out, c->label, n);
}

int
gossip_packet_seal(const struct gossip_wire_cfg *c, bool crc,
    const uint8_t *msg, size_t n, struct buf *out)
{
	struct buf z, framed;
	int rc = 0;

	if (label_len(c) > GOSSIP_MAX_LABEL)
		return -EINVAL;
	buf_init(&z);
	buf_init(&framed);
	if (c->compress) {
		/* keep the compressed form only if it is smaller */
		gossip_enc_compress(&z, msg, n);
		if (z.len < n) {
			msg = z.data;
			n = z.len;
		}
	}
	if (crc) {
		uint8_t hdr[5];
		hdr[0] = GOSSIP_MSG_HAS_CRC;
		put_u32be(hdr + 1, gossip_crc32(msg, n));
		buf_add(&framed, hdr, sizeof(hdr));
	}
	buf_add(&framed, msg, n);
	put_label(c, out);
	if (gossip_wire_encrypting(c) && c->verify_outgoing)
		rc = gossip_encrypt(c->keyring, c->enc_vsn, framed.data,
		    framed.len, (const uint8_t *)c->label, label_len(c),
		    c->test_nonce, out);
	else
		buf_add(out, framed.data, framed.len);
	buf_free(&z);
	buf_free(&framed);
	return rc;
}

struct walk {
	gossip_leaf_fn *fn;
	void *arg;
	unsigned bad;
	unsigned truncated;
};

static void
walk(struct walk *w, const uint8_t *p, size_t n, unsigned depth)
{
	struct gossip_slice parts[GOSSIP_COMPOUND_MAX];
	struct gossip_compress cm;
	size_t np, trunc;

	if (n < 1 || depth > WALK_MAX_DEPTH) {
		w->bad++;
		return;
	}
	switch (p[0]) {
	case GOSSIP_MSG_COMPOUND:
		if (gossip_dec_compound(p + 1, n - 1, parts, &np, &trunc) < 0) {
			w->bad++;
			return;
		}
		w->truncated += (unsigned)trunc;
		for (size_t i = 0; i < np; i++)
			walk(w, parts[i].p, parts[i].n, depth + 1);
		return;
	case GOSSIP_MSG_COMPRESS: {
		struct buf raw;
		if (gossip_dec_compress(p + 1, n - 1, &cm, NULL) < 0 ||
		    cm.algo != 0) {
			w->bad++;
			return;
		}
		buf_init(&raw);
		if (gossip_lzw_decompress(cm.buf.p, cm.buf.n,
		    GOSSIP_UDP_DECOMP_MAX, &raw) < 0)
			w->bad++;
		else
			walk(w, raw.data, raw.len, depth + 1);
		buf_free(&raw);
		return;
	}
	default:
		w->fn(w->arg, p[0], p + 1, n - 1);
	}
}

int
gossip_msg_walk(const uint8_t *msg, size_t n, gossip_leaf_fn *fn, void *arg,
    unsigned *bad)
{
	struct walk w = { fn, arg, 0, 0 };
	walk(&w, msg, n, 0);
	if (bad)
		*bad = w.bad;
	return (int)w.truncated;
}

/* ------------------------------------------------------------ streams */

int
gossip_stream_seal(const struct gossip_wire_cfg *c, const uint8_t *msg,
    size_t n, struct buf *out)
{
	struct buf z;
	int rc = 0;

	if (label_len(c) > GOSSIP_MAX_LABEL)
		return -EINVAL;
	buf_init(&z);
	put_label(c, out);
	if (c->compress) {
		/* streams are compressed whenever compression is on */
		gossip_enc_compress(&z, msg, n);
		msg = z.data;
		n = z.len;
	}
	if (gossip_wire_encrypting(c) && c->verify_outgoing) {
		uint8_t aad[5 + GOSSIP_MAX_LABEL];
		size_t ll = label_len(c);
		aad[0] = GOSSIP_MSG_ENCRYPT;
		put_u32be(aad + 1,
		    (uint32_t)gossip_encrypted_len(c->enc_vsn, n));
		memcpy(aad + 5, c->label ? c->label : "", ll);
		buf_add(out, aad, 5);
		rc = gossip_encrypt(c->keyring, c->enc_vsn, msg, n, aad, 5 + ll,
		    c->test_nonce, out);
	} else {
		buf_add(out, msg, n);
	}
	buf_free(&z);
	return rc;
}

long
gossip_stream_msg_len(const uint8_t *p, size_t n)
{
	struct gossip_push_pull pp;
	struct gossip_compress cm;
	struct gossip_slice data;
	struct gossip_mp_rd r;
	size_t used = 0;
	int rc;

	if (n == 0)
		return 0;
	switch (p[0]) {
	case GOSSIP_MSG_COMPRESS:
		rc = gossip_dec_compress(p + 1, n - 1, &cm, &used);
		break;
	case GOSSIP_MSG_PUSH_PULL:
		rc = gossip_dec_push_pull(p + 1, n - 1, &pp, &used);
		if (rc == 0)
			gossip_push_pull_free(&pp);
		break;
	case GOSSIP_MSG_PING:
	case GOSSIP_MSG_ACK:
	case GOSSIP_MSG_ERR:
		gossip_mp_rd_init(&r, p + 1, n - 1);
		rc = gossip_mp_skip(&r);
		used = r.off;
		break;
	case GOSSIP_MSG_USER:
		rc = gossip_dec_user_stream(p + 1, n - 1, &data, &used);
		break;
	default:
		return -EBADMSG;
	}
	if (rc == -ENODATA)
		return 0;
	if (rc < 0)
		return rc;
	return (long)(1 + used);
}

/* Decompress a stream message if it is one; the inner message must be
 * complete since nothing more will arrive for it. */
static int
stream_unwrap(const uint8_t *msg, size_t n, struct buf *plain)
{
	struct gossip_compress cm;
	int rc;

	buf_reset(plain);
	if (msg[0] != GOSSIP_MSG_COMPRESS) {
		buf_add(plain, msg, n);
	} else {
		if ((rc = gossip_dec_compress(msg + 1, n - 1, &cm, NULL)) < 0)
			return rc == -ENODATA ? -EBADMSG : rc;
		if (cm.algo != 0)
			return -EBADMSG;
		if ((rc = gossip_lzw_decompress(cm.buf.p, cm.buf.n,
		    GOSSIP_MAX_PUSH_STATE, plain)) < 0)
			return rc;
	}
	long len = gossip_stream_msg_len(plain->data, plain->len);
	return len > 0 ? 0 : -EBADMSG;
}

int
gossip_stream_open(const struct gossip_wire_cfg *c, const uint8_t *in,
    size_t n, struct buf *plain, const char **why)
{
	struct gossip_slice lab;
	struct buf dec;
	int rc, off = 0;

	*why = "";
	if (n == 0)
		return 0;
	if (in[0] == GOSSIP_MSG_HAS_LABEL || label_len(c) > 0) {
		if ((rc = take_label(c, in, n, &lab)) <= 0) {
			if (rc < 0)
				*why = rc == -EACCES ?
				    "stream label mismatch" :
				    "bad stream label header";
			return rc;
		}
		off = rc;
	} else {
		lab.p = NULL;
		lab.n = 0;
	}
	if ((size_t)off >= n)
		return 0;
	const uint8_t *p = in + off;
	size_t left = n - (size_t)off;

	if (p[0] == GOSSIP_MSG_ENCRYPT) {
		if (!gossip_wire_encrypting(c)) {
			*why = "Remote state is encrypted and encryption is "
			    "not configured";
			return -ENOPROTOOPT;
		}
		if (left < 5)
			return 0;
		uint32_t len = get_u32be(p + 1);
		if (len > GOSSIP_MAX_PUSH_STATE) {
			*why = "Remote node state is larger than limit";
			return -EFBIG;
		}
		if (left - 5 < len)
			return 0;
		uint8_t aad[5 + GOSSIP_MAX_LABEL];
		memcpy(aad, p, 5);
		if (lab.n)
			memcpy(aad + 5, lab.p, lab.n);
		buf_init(&dec);
		rc = gossip_decrypt(c->keyring, p + 5, len, aad, 5 + lab.n,
		    &dec);
		if (rc == 0)
			rc = dec.len ? stream_unwrap(dec.data, dec.len, plain) :
			    -EBADMSG;
		else
			*why = gossip_crypt_strerror(rc);
		buf_free(&dec);
		if (rc < 0) {
			if (!**why)
				*why = "malformed stream message";
			return rc;
		}
		return off + 5 + (int)len;
	}
	if (gossip_wire_encrypting(c) && c->verify_incoming) {
		*why = "Encryption is configured but remote state is not "
		    "encrypted";
		return -EPROTO;
	}
	long len = gossip_stream_msg_len(p, left);
	if (len <= 0) {
		if (len < 0)
			*why = "malformed stream message";
		return (int)len;
	}
	if ((rc = stream_unwrap(p, (size_t)len, plain)) < 0) {
		*why = "malformed stream message";
		return rc;
	}
	return off + (int)len;
}
