/*
 * Codec unit tests: msgpack forms and bounds, LZW against Go's output,
 * the keyring and AES-GCM envelope, message round trips, and rejection
 * of every malformed, truncated or oversize input.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/gossip/gossip_test.h"
#include "workers/gossip/consul_merge.h"
#include "workers/gossip/lzw.h"
#include "workers/gossip/serf_wire.h"
#include "workers/gossip/vivaldi.h"
#include "workers/gossip/wire.h"

static void
hex_eq(const struct buf *b, const char *hex)
{
	char got[1024];
	size_t o = 0;
	for (size_t i = 0; i < b->len && o + 3 < sizeof(got); i++)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%02x",
		    b->data[i]);
	got[o] = '\0';
	ck_assert_str_eq(got, hex);
}

/* Integers in the smallest form Go's old msgpack writes (by value). */
START_TEST(mp_int_forms)
{
	static const struct {
		int64_t v;
		const char *hex;
	} cases[] = {
		{ 0, "00" }, { 127, "7f" }, { 128, "cc80" }, { 255, "ccff" },
		{ 256, "cd0100" }, { 586, "cd024a" }, { 65535, "cdffff" },
		{ 65536, "ce00010000" }, { 3000000000, "ceb2d05e00" },
		{ 4294967296, "cf0000000100000000" }, { -1, "ff" },
		{ -32, "e0" }, { -33, "d0df" }, { -128, "d080" },
		{ -129, "d1ff7f" }, { -32769, "d2ffff7fff" },
		{ -2147483649LL, "d3ffffffff7fffffff" },
	};
	for (size_t i = 0; i < nitems(cases); i++) {
		struct buf b;
		struct gossip_mp_rd r;
		int64_t back;
		buf_init(&b);
		gossip_mp_put_int(&b, cases[i].v);
		hex_eq(&b, cases[i].hex);
		gossip_mp_rd_init(&r, b.data, b.len);
		ck_assert_int_eq(gossip_mp_get_i64(&r, &back), 0);
		ck_assert_int_eq(back, cases[i].v);
		ck_assert_uint_eq(r.off, b.len);
		buf_free(&b);
	}
}
END_TEST

/* Decoding accepts every integer family (go-msgpack v2 writes positive
 * signed ints as d1/d2/d3) and range-checks the field width. */
START_TEST(mp_int_decode)
{
	static const uint8_t v2_len[] = { 0xd1, 0x02, 0x4a };
	static const uint8_t v2_timeout[] = { 0xd3, 0, 0, 0, 0, 0xb2, 0xd0,
		0x5e, 0 };
	static const uint8_t big[] = { 0xce, 0x00, 0x01, 0x00, 0x00 };
	static const uint8_t neg[] = { 0xd0, 0x80 };
	struct gossip_mp_rd r;
	uint64_t u;
	int64_t i;
	uint16_t u16;

	gossip_mp_rd_init(&r, v2_len, sizeof(v2_len));
	ck_assert_int_eq(gossip_mp_get_u64(&r, &u), 0);
	ck_assert_uint_eq(u, 586);
	gossip_mp_rd_init(&r, v2_timeout, sizeof(v2_timeout));
	ck_assert_int_eq(gossip_mp_get_i64(&r, &i), 0);
	ck_assert_int_eq(i, 3000000000LL);
	gossip_mp_rd_init(&r, big, sizeof(big));
	ck_assert_int_eq(gossip_mp_get_u16(&r, &u16), -EBADMSG);
	ck_assert_uint_eq(r.off, 0);
	gossip_mp_rd_init(&r, neg, sizeof(neg));
	ck_assert_int_eq(gossip_mp_get_u64(&r, &u), -EBADMSG);
	ck_assert_int_eq(gossip_mp_get_i64(&r, &i), 0);
	ck_assert_int_eq(i, -128);
}
END_TEST

/* Strings and byte slices are old-spec raw: a 32-byte key is da 00 20,
 * never d9; on input str8 and bin are accepted. */
START_TEST(mp_raw_forms)
{
	uint8_t key[32] = { 0 };
	struct buf b;
	struct gossip_mp_rd r;
	struct gossip_slice s;
	bool nil;

	buf_init(&b);
	gossip_mp_put_raw(&b, key, 31);
	ck_assert_uint_eq(b.data[0], 0xbf);
	buf_reset(&b);
	gossip_mp_put_raw(&b, key, 32);
	ck_assert_uint_eq(b.data[0], 0xda);
	ck_assert_uint_eq(b.data[1], 0);
	ck_assert_uint_eq(b.data[2], 32);
	buf_reset(&b);
	gossip_mp_put_bytes_or_nil(&b, NULL, 0);
	gossip_mp_put_bytes_or_nil(&b, "", 0);
	hex_eq(&b, "c0a0");
	static const uint8_t in[] = { 0xd9, 2, 'h', 'i', 0xc4, 1, 'x', 0xc0 };
	gossip_mp_rd_init(&r, in, sizeof(in));
	ck_assert_int_eq(gossip_mp_get_raw(&r, &s, &nil), 0);
	ck_assert(gossip_slice_eq(s, "hi") && !nil);
	ck_assert_int_eq(gossip_mp_get_raw(&r, &s, &nil), 0);
	ck_assert(gossip_slice_eq(s, "x"));
	ck_assert_int_eq(gossip_mp_get_raw(&r, &s, &nil), 0);
	ck_assert(nil && s.p == NULL && s.n == 0);
	buf_free(&b);
}
END_TEST

/* Truncation is -ENODATA (a stream reader waits), a wrong type or an
 * unused byte is -EBADMSG, nesting is bounded, counts cannot exceed the
 * bytes left. */
START_TEST(mp_malformed)
{
	static const uint8_t trunc_str[] = { 0xda, 0x00, 0x10, 'a' };
	static const uint8_t huge_map[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t c1[] = { 0xc1 };
	static const uint8_t notint[] = { 0xa1, 'x' };
	uint8_t deep[200];
	struct gossip_mp_rd r;
	struct gossip_slice s;
	uint32_t n;
	uint64_t u;

	gossip_mp_rd_init(&r, trunc_str, sizeof(trunc_str));
	ck_assert_int_eq(gossip_mp_get_raw(&r, &s, NULL), -ENODATA);
	ck_assert_uint_eq(r.off, 0);
	gossip_mp_rd_init(&r, huge_map, sizeof(huge_map));
	ck_assert_int_eq(gossip_mp_get_map(&r, &n), -ENODATA);
	gossip_mp_rd_init(&r, c1, sizeof(c1));
	ck_assert_int_eq(gossip_mp_skip(&r), -EBADMSG);
	gossip_mp_rd_init(&r, notint, sizeof(notint));
	ck_assert_int_eq(gossip_mp_get_u64(&r, &u), -EBADMSG);
	memset(deep, 0x91, sizeof(deep));	/* [[[[...]]]] */
	deep[sizeof(deep) - 1] = 0x00;
	gossip_mp_rd_init(&r, deep, sizeof(deep));
	ck_assert_int_eq(gossip_mp_skip(&r), -EBADMSG);
	gossip_mp_rd_init(&r, deep, 0);
	ck_assert_int_eq(gossip_mp_skip(&r), -ENODATA);
}
END_TEST

/* ------------------------------------------------------------ LZW */

static void
lzw_input(uint8_t *out, size_t n)
{
	uint32_t s = 12345;
	for (size_t i = 0; i < n; i++) {
		s = s * 1103515245u + 12345u;
		uint32_t r = (s >> 16) & 0x7fff;
		out[i] = i % 1000 < 300 ? (uint8_t)('a' + r % 4) :
		    (uint8_t)(r % 251);
	}
}

/* 40000 bytes that fill the code table several times (CLEAR at 4095):
 * our encoder's output equals Go's compress/lzw (data/lzw-go-40000.bin,
 * made by Go 1.19's lzw.NewWriter(LSB, 8)) and decodes back. */
START_TEST(lzw_matches_go)
{
	uint8_t *in = xmalloc(40000);
	struct buf go, out, back;
	char path[512];

	lzw_input(in, 40000);
	snprintf(path, sizeof(path), "%s/lzw-go-40000.bin", gt_datadir);
	buf_init(&go);
	buf_init(&out);
	buf_init(&back);
	ck_assert_int_eq(read_file(path, 1 << 20, &go), 0);
	gossip_lzw_compress(in, 40000, &out);
	ck_assert_uint_eq(out.len, go.len);
	ck_assert(memcmp(out.data, go.data, go.len) == 0);
	ck_assert_int_eq(gossip_lzw_decompress(go.data, go.len, 40000, &back),
	    0);
	ck_assert_uint_eq(back.len, 40000);
	ck_assert(memcmp(back.data, in, 40000) == 0);
	/* the output limit is enforced */
	buf_reset(&back);
	ck_assert_int_eq(gossip_lzw_decompress(go.data, go.len, 39999, &back),
	    -EMSGSIZE);
	ck_assert_uint_eq(back.len, 0);
	buf_free(&go);
	buf_free(&out);
	buf_free(&back);
	free(in);
}
END_TEST

START_TEST(lzw_edges)
{
	struct buf z, back;
	uint8_t run[9000];

	buf_init(&z);
	buf_init(&back);
	gossip_lzw_compress(NULL, 0, &z);
	hex_eq(&z, "000302");	/* CLEAR, EOF: what Go writes */
	ck_assert_int_eq(gossip_lzw_decompress(z.data, z.len, 10, &back), 0);
	ck_assert_uint_eq(back.len, 0);
	/* a long run exercises the KwKwK case */
	memset(run, 'a', sizeof(run));
	buf_reset(&z);
	gossip_lzw_compress(run, sizeof(run), &z);
	ck_assert_int_eq(gossip_lzw_decompress(z.data, z.len, sizeof(run),
	    &back), 0);
	ck_assert_uint_eq(back.len, sizeof(run));
	ck_assert(memcmp(back.data, run, sizeof(run)) == 0);
	/* missing EOF, invalid code, garbage */
	buf_reset(&back);
	ck_assert_int_eq(gossip_lzw_decompress(z.data, z.len - 2, 1 << 20,
	    &back), -EBADMSG);
	static const uint8_t bad[] = { 0x00, 0xff, 0xff, 0xff };
	ck_assert_int_eq(gossip_lzw_decompress(bad, sizeof(bad), 1 << 20,
	    &back), -EBADMSG);
	buf_free(&z);
	buf_free(&back);
}
END_TEST

/* ------------------------------------------------------------ crypto */

static const char *key_a = "CDxNaqeo1HKF9kIaRDrjHHZ6OacHsMHGdcG+8ZZ3KYU=";
static const char *key_b = "h/8XUpUJTkkBxDMFpB8dZDnZFLRL+qPoiPdyNYeZ7DY=";

static void
ring_with(struct gossip_keyring *kr, const char *b64)
{
	uint8_t k[32];
	size_t len;
	gossip_keyring_init(kr);
	ck_assert_int_eq(gossip_key_from_base64(b64, k, &len), 0);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(gossip_keyring_add(kr, k, len), 0);
}

START_TEST(keyring_semantics)
{
	struct gossip_keyring kr;
	uint8_t a[32], b[16], c[24];
	char txt[48];
	size_t len;

	gossip_keyring_init(&kr);
	ck_assert_int_eq(gossip_key_from_base64(key_a, a, &len), 0);
	gossip_key_to_base64(a, 32, txt);
	ck_assert_str_eq(txt, key_a);
	memset(b, 7, sizeof(b));
	memset(c, 9, sizeof(c));
	ck_assert_int_eq(gossip_keyring_add(&kr, a, 31), -EINVAL);
	ck_assert_int_eq(gossip_key_from_base64("c2hvcnQ=", a, &len), -EINVAL);
	ck_assert_int_eq(gossip_key_from_base64(key_a, a, &len), 0);
	ck_assert_int_eq(gossip_keyring_add(&kr, a, 32), 0);
	ck_assert_int_eq(gossip_keyring_add(&kr, b, 16), 0);
	ck_assert_int_eq(gossip_keyring_add(&kr, b, 16), 0);	/* no-op */
	ck_assert_uint_eq(kr.n, 2);
	ck_assert_int_eq(gossip_keyring_remove(&kr, a, 32), -EPERM);
	ck_assert_str_eq(gossip_keyring_strerror(-EPERM),
	    "removing the primary key is not allowed");
	ck_assert_int_eq(gossip_keyring_use(&kr, c, 24), -ENOENT);
	ck_assert_int_eq(gossip_keyring_add(&kr, c, 24), 0);
	ck_assert_int_eq(gossip_keyring_use(&kr, c, 24), 0);
	ck_assert_uint_eq(kr.keylen[0], 24);
	ck_assert_uint_eq(kr.keylen[1], 32);	/* others keep their order */
	ck_assert_uint_eq(kr.keylen[2], 16);
	ck_assert_int_eq(gossip_keyring_remove(&kr, a, 32), 0);
	ck_assert_uint_eq(kr.n, 2);
	ck_assert_int_eq(gossip_keyring_remove(&kr, a, 32), 0);	/* unknown */
}
END_TEST

/* The ping of gossip-protocol.md §11.5, sealed with its captured nonce,
 * is the captured datagram; opened with another key it fails clearly. */
START_TEST(crypt_vectors)
{
	static const uint8_t ping[] = {
		0x00, 0x85, 0xa4, 'N', 'o', 'd', 'e', 0xa2, 'n', '1', 0xa5,
		'S', 'e', 'q', 'N', 'o', 0x01, 0xaa, 'S', 'o', 'u', 'r', 'c',
		'e', 'A', 'd', 'd', 'r', 0xa4, 0x7f, 0, 0, 2, 0xaa, 'S', 'o',
		'u', 'r', 'c', 'e', 'N', 'o', 'd', 'e', 0xa2, 'n', '2', 0xaa,
		'S', 'o', 'u', 'r', 'c', 'e', 'P', 'o', 'r', 't', 0xcd, 0x46,
		0x1b,
	};
	static const uint8_t nonce[12] = { 0x52, 0x4a, 0x58, 0x33, 0x22, 0x9a,
		0xd1, 0x87, 0x30, 0x11, 0x85, 0xb0 };
	struct gossip_keyring kr, other, empty;
	struct buf env, plain;

	ring_with(&kr, key_a);
	ring_with(&other, key_b);
	gossip_keyring_init(&empty);
	buf_init(&env);
	buf_init(&plain);
	ck_assert_int_eq(gossip_encrypt(&kr, 1, ping, sizeof(ping), NULL, 0,
	    nonce, &env), 0);
	ck_assert_uint_eq(env.len, 90);
	ck_assert_uint_eq(env.data[0], 1);
	ck_assert_uint_eq(env.data[13], 0x3b);	/* captured ciphertext */
	ck_assert_uint_eq(env.data[89], 0xa2);	/* captured tag tail */
	ck_assert_int_eq(gossip_decrypt(&kr, env.data, env.len, NULL, 0,
	    &plain), 0);
	ck_assert_uint_eq(plain.len, sizeof(ping));
	ck_assert(memcmp(plain.data, ping, sizeof(ping)) == 0);
	ck_assert_int_eq(gossip_decrypt(&other, env.data, env.len, NULL, 0,
	    &plain), -ENOKEY);
	ck_assert_int_eq(gossip_decrypt(&empty, env.data, env.len, NULL, 0,
	    &plain), -ENOKEY);
	/* a second installed key is tried */
	ck_assert_int_eq(gossip_keyring_add(&other, kr.key[0], 32), 0);
	buf_reset(&plain);
	ck_assert_int_eq(gossip_decrypt(&other, env.data, env.len, NULL, 0,
	    &plain), 0);
	/* wrong associated data, flipped bit, short, empty, bad version */
	ck_assert_int_eq(gossip_decrypt(&kr, env.data, env.len,
	    (const uint8_t *)"x", 1, &plain), -ENOKEY);
	env.data[40] ^= 1;
	ck_assert_int_eq(gossip_decrypt(&kr, env.data, env.len, NULL, 0,
	    &plain), -ENOKEY);
	ck_assert_int_eq(gossip_decrypt(&kr, env.data, 28, NULL, 0, &plain),
	    -EMSGSIZE);
	ck_assert_int_eq(gossip_decrypt(&kr, env.data, 0, NULL, 0, &plain),
	    -ENODATA);
	env.data[0] = 2;
	ck_assert_int_eq(gossip_decrypt(&kr, env.data, env.len, NULL, 0,
	    &plain), -EPROTONOSUPPORT);
	/* version 0 pads to the block size and strips it again */
	buf_reset(&env);
	buf_reset(&plain);
	ck_assert_int_eq(gossip_encrypt(&kr, 0, ping, sizeof(ping), NULL, 0,
	    NULL, &env), 0);
	ck_assert_uint_eq(env.len, gossip_encrypted_len(0, sizeof(ping)));
	ck_assert_int_eq(gossip_decrypt(&kr, env.data, env.len, NULL, 0,
	    &plain), 0);
	ck_assert_uint_eq(plain.len, sizeof(ping));
	buf_free(&env);
	buf_free(&plain);
}
END_TEST

/* ------------------------------------------------------------ messages */

START_TEST(msg_roundtrip)
{
	static const uint8_t ip[4] = { 127, 0, 0, 9 };
	static const uint8_t vsn[6] = { 1, 5, 2, 2, 5, 4 };
	struct buf b;
	struct gossip_ping p = { .seq = 77, .node = gossip_slice_c("n1") };
	struct gossip_ping p2;
	struct gossip_alive a = { 3, gossip_slice_c("node-a"), { ip, 4 }, 8301,
		{ (const uint8_t *)"\xff\x80", 2 }, { vsn, 6 } }, a2;
	struct gossip_indirect_ping ind = { .seq = 9, .target = { ip, 4 },
		.port = 8301, .node = gossip_slice_c("t"), .nack = true }, ind2;

	buf_init(&b);
	/* omitempty: a ping without source fields has only Node and SeqNo */
	gossip_enc_ping(&b, &p);
	hex_eq(&b, "0082a44e6f6465a26e31a55365714e6f4d");
	ck_assert_int_eq(gossip_dec_ping(b.data + 1, b.len - 1, &p2), 0);
	ck_assert_uint_eq(p2.seq, 77);
	ck_assert(p2.src_addr.p == NULL && p2.src_port == 0);
	buf_reset(&b);
	gossip_enc_alive(&b, &a);
	ck_assert_int_eq(gossip_dec_alive(b.data + 1, b.len - 1, &a2), 0);
	ck_assert(gossip_slice_eq(a2.node, "node-a"));
	ck_assert_uint_eq(a2.port, 8301);
	ck_assert_uint_eq(a2.incarnation, 3);
	ck_assert(gossip_slice_same(a2.vsn, a.vsn));
	ck_assert(gossip_slice_same(a2.meta, a.meta));
	buf_reset(&b);
	gossip_enc_indirect_ping(&b, &ind);
	ck_assert_int_eq(gossip_dec_indirect_ping(b.data + 1, b.len - 1, &ind2),
	    0);
	ck_assert(ind2.nack && ind2.port == 8301);
	ck_assert(gossip_slice_same(ind2.target, ind.target));
	/* every truncation of an encoded message fails to decode */
	for (size_t cut = 1; cut < b.len - 1; cut++)
		ck_assert_int_ne(gossip_dec_indirect_ping(b.data + 1, cut,
		    &ind2), 0);
	buf_free(&b);
}
END_TEST

START_TEST(compound_bounds)
{
	struct gossip_slice parts[GOSSIP_COMPOUND_MAX], in[2];
	size_t np, trunc;
	struct buf b;

	buf_init(&b);
	in[0] = gossip_slice_c("\x0b\x81\xa5SeqNo\x01");
	in[1] = gossip_slice_c("\x0b\x81\xa5SeqNo\x02");
	gossip_enc_compound(&b, in, 2);
	ck_assert_int_eq(gossip_dec_compound(b.data + 1, b.len - 1, parts, &np,
	    &trunc), 0);
	ck_assert_uint_eq(np, 2);
	ck_assert_uint_eq(trunc, 0);
	/* the last part cut short: dropped and counted */
	ck_assert_int_eq(gossip_dec_compound(b.data + 1, b.len - 2, parts, &np,
	    &trunc), 0);
	ck_assert_uint_eq(np, 1);
	ck_assert_uint_eq(trunc, 1);
	/* the length table itself cut short: rejected */
	ck_assert_int_eq(gossip_dec_compound(b.data + 1, 3, parts, &np,
	    &trunc), -EBADMSG);
	ck_assert_int_eq(gossip_dec_compound(b.data + 1, 0, parts, &np,
	    &trunc), -EBADMSG);
	buf_free(&b);
}
END_TEST

struct leaves {
	unsigned n;
	uint8_t types[8];
};

static void
count_leaf(void *arg, uint8_t type, const uint8_t *body, size_t n)
{
	struct leaves *l = arg;
	if (l->n < nitems(l->types))
		l->types[l->n] = type;
	l->n++;
}

/* Send and receive side of the datagram pipeline agree for every option
 * combination; damage anywhere is detected. */
START_TEST(packet_pipeline)
{
	struct gossip_keyring kr;
	struct gossip_slice parts[2];
	struct buf msg, pkt, scratch;
	const uint8_t *out;
	size_t outlen;
	struct gossip_ack ack = { 5, { NULL, 0 } };

	ring_with(&kr, key_a);
	buf_init(&msg);
	buf_init(&pkt);
	buf_init(&scratch);
	struct buf one;
	buf_init(&one);
	gossip_enc_ack(&one, &ack);
	parts[0] = (struct gossip_slice){ one.data, one.len };
	parts[1] = parts[0];
	gossip_enc_compound(&msg, parts, 2);
	for (int mode = 0; mode < 16; mode++) {
		struct gossip_wire_cfg c = {
			.keyring = (mode & 1) ? &kr : NULL,
			.verify_incoming = true, .verify_outgoing = true,
			.compress = (mode & 2) != 0, .enc_vsn = 1,
			.label = (mode & 4) ? "dc1-lan" : NULL,
		};
		struct leaves l = { 0 };
		buf_reset(&pkt);
		ck_assert_int_eq(gossip_packet_seal(&c, (mode & 8) != 0,
		    msg.data, msg.len, &pkt), 0);
		ck_assert_int_eq(gossip_packet_open(&c, pkt.data, pkt.len,
		    &scratch, &out, &outlen), 0);
		unsigned bad = 0;
		ck_assert_int_eq(gossip_msg_walk(out, outlen, count_leaf, &l,
		    &bad), 0);
		ck_assert_uint_eq(bad, 0);
		ck_assert_uint_eq(l.n, 2);
		ck_assert_uint_eq(l.types[0], GOSSIP_MSG_ACK);
		/* a flipped last byte: bad tag or bad CRC or bad message */
		if (mode & 9) {
			pkt.data[pkt.len - 1] ^= 0x40;
			int rc = gossip_packet_open(&c, pkt.data, pkt.len,
			    &scratch, &out, &outlen);
			ck_assert_int_eq(rc, (mode & 1) ? -ENOKEY : -EILSEQ);
		}
		/* label mismatch in either direction */
		struct gossip_wire_cfg other = c;
		other.label = (mode & 4) ? "other" : "dc1-lan";
		buf_reset(&pkt);
		ck_assert_int_eq(gossip_packet_seal(&c, false, msg.data,
		    msg.len, &pkt), 0);
		ck_assert_int_eq(gossip_packet_open(&other, pkt.data, pkt.len,
		    &scratch, &out, &outlen), -EACCES);
	}
	/* empty datagram, a label header cut short */
	struct gossip_wire_cfg plain = { .verify_incoming = true };
	ck_assert_int_eq(gossip_packet_open(&plain, pkt.data, 0, &scratch,
	    &out, &outlen), -ENODATA);
	static const uint8_t lab[] = { 0xf4, 0x05, 'a' };
	ck_assert_int_eq(gossip_packet_open(&plain, lab, sizeof(lab), &scratch,
	    &out, &outlen), -EBADMSG);
	/* plaintext into an encrypted node: dropped unless !verify_incoming */
	struct gossip_wire_cfg enc = { .keyring = &kr, .verify_incoming = true };
	ck_assert_int_ne(gossip_packet_open(&enc, msg.data, msg.len, &scratch,
	    &out, &outlen), 0);
	enc.verify_incoming = false;
	ck_assert_int_eq(gossip_packet_open(&enc, msg.data, msg.len, &scratch,
	    &out, &outlen), 0);
	buf_free(&one);
	buf_free(&msg);
	buf_free(&pkt);
	buf_free(&scratch);
}
END_TEST

/* Nested compound/compress deeper than 4 levels and LZW bombs are cut. */
START_TEST(walk_limits)
{
	struct buf m, tmp;
	struct gossip_slice part;
	struct leaves l = { 0 };
	unsigned bad;

	buf_init(&m);
	buf_init(&tmp);
	gossip_enc_nack(&m, &(struct gossip_nack){ 1 });
	for (int depth = 0; depth < 6; depth++) {
		buf_reset(&tmp);
		part = (struct gossip_slice){ m.data, m.len };
		gossip_enc_compound(&tmp, &part, 1);
		buf_reset(&m);
		buf_add(&m, tmp.data, tmp.len);
	}
	ck_assert_int_eq(gossip_msg_walk(m.data, m.len, count_leaf, &l, &bad),
	    0);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_eq(bad, 1);
	/* 4 MiB of zeros compress to a few KiB; the UDP limit is 1 MiB */
	size_t big = 4u << 20;
	uint8_t *zeros = xcalloc(1, big);
	buf_reset(&m);
	gossip_enc_compress(&m, zeros, big);
	free(zeros);
	ck_assert_uint_lt(m.len, 64 * 1024);
	l.n = 0;
	gossip_msg_walk(m.data, m.len, count_leaf, &l, &bad);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_eq(bad, 1);
	buf_free(&m);
	buf_free(&tmp);
}
END_TEST

static void
make_push_pull(struct buf *b)
{
	static const uint8_t ip[4] = { 127, 0, 0, 3 };
	static const uint8_t vsn[6] = { 1, 5, 2, 2, 5, 4 };
	struct gossip_push_header h = { 2, 3, true };
	struct gossip_push_node n = { gossip_slice_c("a"), { ip, 4 }, 7946,
		{ NULL, 0 }, 1, GOSSIP_STATE_ALIVE, { vsn, 6 } };
	gossip_enc_push_header(b, &h);
	gossip_enc_push_node(b, &n);
	n.name = gossip_slice_c("b");
	n.state = GOSSIP_STATE_LEFT;
	gossip_enc_push_node(b, &n);
	buf_add(b, "xyz", 3);
}

/* Plaintext streams have no length prefix: the reader must say "more"
 * for every prefix and "complete" exactly at the end, for every framing
 * option. */
START_TEST(stream_framing)
{
	struct gossip_keyring kr;
	struct buf msg, wire, plain;
	const char *why;

	ring_with(&kr, key_b);
	buf_init(&msg);
	buf_init(&wire);
	buf_init(&plain);
	make_push_pull(&msg);
	for (int mode = 0; mode < 8; mode++) {
		struct gossip_wire_cfg c = {
			.keyring = (mode & 1) ? &kr : NULL,
			.verify_incoming = true, .verify_outgoing = true,
			.compress = (mode & 2) != 0, .enc_vsn = 1,
			.label = (mode & 4) ? "lbl" : NULL,
		};
		buf_reset(&wire);
		ck_assert_int_eq(gossip_stream_seal(&c, msg.data, msg.len,
		    &wire), 0);
		buf_add(&wire, "trailing", 8);
		size_t full = wire.len - 8;
		for (size_t cut = 0; cut < full; cut++)
			ck_assert_int_eq(gossip_stream_open(&c, wire.data, cut,
			    &plain, &why), 0);
		ck_assert_int_eq(gossip_stream_open(&c, wire.data, wire.len,
		    &plain, &why), (int)full);
		ck_assert_uint_eq(plain.len, msg.len);
		ck_assert(memcmp(plain.data, msg.data, msg.len) == 0);
	}
	buf_free(&msg);
	buf_free(&wire);
	buf_free(&plain);
}
END_TEST

/* The errors memberlist answers with in an err message. */
START_TEST(stream_errors)
{
	struct gossip_keyring kr;
	struct buf msg, wire, plain;
	const char *why;

	ring_with(&kr, key_a);
	buf_init(&msg);
	buf_init(&wire);
	buf_init(&plain);
	make_push_pull(&msg);
	struct gossip_wire_cfg enc = { .keyring = &kr, .verify_incoming = true,
		.verify_outgoing = true, .enc_vsn = 1 };
	struct gossip_wire_cfg clear = { .verify_incoming = true,
		.verify_outgoing = true };
	ck_assert_int_eq(gossip_stream_open(&enc, msg.data, msg.len, &plain,
	    &why), -EPROTO);
	ck_assert_str_eq(why,
	    "Encryption is configured but remote state is not encrypted");
	ck_assert_int_eq(gossip_stream_seal(&enc, msg.data, msg.len, &wire), 0);
	ck_assert_int_eq(gossip_stream_open(&clear, wire.data, wire.len, &plain,
	    &why), -ENOPROTOOPT);
	ck_assert_str_eq(why,
	    "Remote state is encrypted and encryption is not configured");
	/* length past the 20 MiB limit is refused before reading it */
	static const uint8_t huge[] = { 0x0a, 0x02, 0x00, 0x00, 0x00 };
	ck_assert_int_eq(gossip_stream_open(&enc, huge, sizeof(huge), &plain,
	    &why), -EFBIG);
	/* an unknown message type, a push/pull with a bogus node count */
	static const uint8_t junk[] = { 0x42, 0x00 };
	ck_assert_int_lt(gossip_stream_open(&clear, junk, sizeof(junk), &plain,
	    &why), 0);
	static const uint8_t lying[] = { 0x06, 0x83, 0xa4, 'J', 'o', 'i', 'n',
		0xc3, 0xa5, 'N', 'o', 'd', 'e', 's', 0xcf, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xac, 'U', 's', 'e', 'r', 'S',
		't', 'a', 't', 'e', 'L', 'e', 'n', 0x00 };
	ck_assert_int_lt(gossip_stream_open(&clear, lying, sizeof(lying),
	    &plain, &why), 0);
	buf_free(&msg);
	buf_free(&wire);
	buf_free(&plain);
}
END_TEST

/* serf messages: tags, filters, queries, coordinate payloads. */
START_TEST(serf_roundtrip)
{
	static const char *const tags[] = { "role", "consul", "dc", "dc1" };
	struct gossip_slice kv[8], names[4];
	struct buf b, f1, f2;
	size_t n;

	buf_init(&b);
	gossip_tags_encode(&b, tags, 4);
	ck_assert_uint_eq(b.data[0], 0xff);
	ck_assert_int_eq(gossip_tags_decode(b.data, b.len, kv, 8, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert(gossip_slice_eq(kv[1], "consul"));
	ck_assert_int_eq(gossip_tags_decode(b.data, b.len, kv, 2, &n), -E2BIG);
	/* serf < 3: Meta without the magic byte is the role */
	ck_assert_int_eq(gossip_tags_decode((const uint8_t *)"web", 3, kv, 8,
	    &n), 0);
	ck_assert(n == 2 && gossip_slice_eq(kv[0], "role") &&
	    gossip_slice_eq(kv[1], "web"));

	buf_init(&f1);
	buf_init(&f2);
	names[0] = gossip_slice_c("a");
	names[1] = gossip_slice_c("b");
	gossip_serf_enc_filter_nodes(&f1, names, 2);
	gossip_serf_enc_filter_tag(&f2, "role", "^con");
	struct gossip_serf_query q = { .ltime = 9, .id = 0xdeadbeef,
		.addr = gossip_slice_c("\x7f\x00\x00\x01"), .port = 7946,
		.source_node = gossip_slice_c("src"), .nfilters = 2,
		.flags = GOSSIP_QUERY_FLAG_ACK, .relay_factor = 2,
		.timeout_ns = 3200000000LL, .name = gossip_slice_c("q"),
		.payload = gossip_slice_c("hi") }, q2;
	q.filters[0] = (struct gossip_slice){ f1.data, f1.len };
	q.filters[1] = (struct gossip_slice){ f2.data, f2.len };
	buf_reset(&b);
	gossip_serf_enc_query(&b, &q);
	ck_assert_int_eq(gossip_serf_dec_query(b.data + 1, b.len - 1, &q2), 0);
	ck_assert_uint_eq(q2.nfilters, 2);
	ck_assert_int_eq(q2.timeout_ns, 3200000000LL);
	ck_assert_int_eq(gossip_serf_dec_filter_nodes(q2.filters[0].p + 1,
	    q2.filters[0].n - 1, names, 4, &n), 0);
	ck_assert(n == 2 && gossip_slice_eq(names[1], "b"));
	struct gossip_slice tag, expr;
	ck_assert_int_eq(gossip_serf_dec_filter_tag(q2.filters[1].p + 1,
	    q2.filters[1].n - 1, &tag, &expr), 0);
	ck_assert(gossip_slice_eq(tag, "role") && gossip_slice_eq(expr, "^con"));
	for (size_t cut = 1; cut < b.len - 1; cut++)
		ck_assert_int_ne(gossip_serf_dec_query(b.data + 1, cut, &q2), 0);

	/* a fresh node's coordinate, as serf puts it in acks (130 bytes) */
	struct gossip_coord c = { .error = 1.5, .height = 1e-5 }, c2;
	buf_reset(&b);
	gossip_coord_encode(&b, &c);
	ck_assert_uint_eq(b.len, 130);
	ck_assert_int_eq(gossip_coord_decode(b.data, b.len, &c2), 0);
	ck_assert(c2.error == 1.5 && c2.height == 1e-5);
	buf_free(&b);
	buf_free(&f1);
	buf_free(&f2);
}
END_TEST

/* serf's keyring file: a JSON array of base64 keys, primary first. */
START_TEST(keyring_file)
{
	struct gossip_keyring kr, back;
	struct buf json;
	const char *why;
	char txt[128];

	ring_with(&kr, key_a);
	uint8_t k2[16];
	memset(k2, 3, sizeof(k2));
	ck_assert_int_eq(gossip_keyring_add(&kr, k2, 16), 0);
	buf_init(&json);
	gossip_keyring_to_json(&kr, &json);
	snprintf(txt, sizeof(txt), "[\"%s\",\"AwMDAwMDAwMDAwMDAwMDAw==\"]",
	    key_a);
	ck_assert_str_eq((const char *)json.data, txt);
	ck_assert_int_eq(gossip_keyring_load_json(&back, (const char *)json.data,
	    json.len, &why), 0);
	ck_assert_uint_eq(back.n, 2);
	ck_assert_uint_eq(back.keylen[1], 16);
	ck_assert(memcmp(back.key[0], kr.key[0], 32) == 0);
	ck_assert_int_eq(gossip_keyring_load_json(&back, "{}", 2, &why),
	    -EINVAL);
	ck_assert_int_eq(gossip_keyring_load_json(&back, "[\"c2hvcnQ=\"]", 12,
	    &why), -EINVAL);
	ck_assert_str_eq(why, "keyring file holds an invalid key");
	ck_assert_uint_eq(back.n, 2);	/* unchanged on error */
	buf_free(&json);
}
END_TEST

static struct gossip_member
mk(const char *name, const char *const *kv, size_t n)
{
	struct gossip_member m = { .name = (char *)name, .tags = (char **)kv,
		.ntags = n };
	return m;
}

/* Consul's merge delegates (LAN and WAN). */
START_TEST(consul_merge_checks)
{
	static const char *const server[] = { "role", "consul", "dc", "dc1",
		"port", "8300", "vsn", "2", "build", "1.17.0:abc", "id", "a" };
	static const char *const badport[] = { "role", "consul", "dc", "dc1",
		"port", "x", "vsn", "2", "build", "1.17.0" };
	static const char *const client2[] = { "role", "node", "dc", "dc2" };
	static const char *const seg[] = { "role", "node", "dc", "dc1",
		"segment", "alpha" };
	static const char *const sameid[] = { "role", "node", "dc", "dc1",
		"id", "a", "build", "1.2.0" };
	struct gossip_consul_merge lan = { .dc = "dc1", .node_id = "me",
		.node_name = "self" }, wan = { .wan = true };
	struct gossip_member ms[2];
	char why[256];

	ck_assert(gossip_consul_is_server(&(struct gossip_member){ .name = "s",
	    .tags = (char **)server, .ntags = 12 }));
	ms[0] = mk("s", server, 12);
	ck_assert_int_eq(gossip_consul_merge(&lan, ms, 1, why, sizeof(why)), 0);
	ck_assert_int_eq(gossip_consul_merge(&wan, ms, 1, why, sizeof(why)), 0);
	ms[0] = mk("bad", badport, 10);
	ck_assert_int_lt(gossip_consul_merge(&wan, ms, 1, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "Member 'bad' is not a server");
	ms[0] = mk("c2", client2, 4);
	ck_assert_int_lt(gossip_consul_merge(&lan, ms, 1, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "Member 'c2' part of wrong datacenter 'dc2'");
	ms[0] = mk("sg", seg, 6);
	ck_assert_int_lt(gossip_consul_merge(&lan, ms, 1, why, sizeof(why)), 0);
	ck_assert_str_eq(why,
	    "Member 'sg' part of wrong segment 'alpha' (expected '')");
	ms[0] = mk("s", server, 12);
	ms[1] = mk("twin", sameid, 8);
	ck_assert_int_lt(gossip_consul_merge(&lan, ms, 2, why, sizeof(why)), 0);
	ck_assert_str_eq(why,
	    "Member 'twin' has conflicting node ID 'a' with member 's'");
	snprintf(lan.node_id, sizeof(lan.node_id), "a");
	ck_assert_int_lt(gossip_consul_merge(&lan, ms, 1, why, sizeof(why)), 0);
	ck_assert_str_eq(why,
	    "Member 's' has conflicting node ID 'a' with this agent's ID");
}
END_TEST

static double
half(void *arg)
{
	return 0.25;
}

/* Vivaldi: repeated 10 ms observations of a peer pull our estimate to
 * 10 ms and our error down; bad observations are refused. */
START_TEST(vivaldi_converges)
{
	struct gossip_vivaldi a, b;
	gossip_vivaldi_init(&a);
	gossip_vivaldi_init(&b);
	for (int i = 0; i < 200; i++) {
		struct gossip_coord ca = a.coord, cb = b.coord;
		ck_assert_int_eq(gossip_vivaldi_update(&a, "b", &cb, 0.010, half,
		    NULL), 0);
		ck_assert_int_eq(gossip_vivaldi_update(&b, "a", &ca, 0.010, half,
		    NULL), 0);
	}
	double d = gossip_coord_distance(&a.coord, &b.coord);
	ck_assert_msg(d > 0.009 && d < 0.011, "distance %f", d);
	ck_assert(a.coord.error < 0.5);
	struct gossip_coord nan = b.coord;
	nan.vec[3] = 0.0 / 0.0;
	ck_assert_int_eq(gossip_vivaldi_update(&a, "b", &nan, 0.01, half, NULL),
	    -EINVAL);
	ck_assert_int_eq(gossip_vivaldi_update(&a, "b", &b.coord, 11.0, half,
	    NULL), -EINVAL);
	gossip_vivaldi_forget(&a, "b");
	ck_assert_uint_eq(a.npeers, 0);
	gossip_vivaldi_free(&a);
	gossip_vivaldi_free(&b);
}
END_TEST

TCase *
gt_codec_tcase(void)
{
	TCase *tc = tcase_create("codec");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mp_int_forms);
	tcase_add_test(tc, mp_int_decode);
	tcase_add_test(tc, mp_raw_forms);
	tcase_add_test(tc, mp_malformed);
	tcase_add_test(tc, lzw_matches_go);
	tcase_add_test(tc, lzw_edges);
	tcase_add_test(tc, keyring_semantics);
	tcase_add_test(tc, crypt_vectors);
	tcase_add_test(tc, msg_roundtrip);
	tcase_add_test(tc, compound_bounds);
	tcase_add_test(tc, packet_pipeline);
	tcase_add_test(tc, walk_limits);
	tcase_add_test(tc, stream_framing);
	tcase_add_test(tc, stream_errors);
	tcase_add_test(tc, serf_roundtrip);
	tcase_add_test(tc, keyring_file);
	tcase_add_test(tc, consul_merge_checks);
	tcase_add_test(tc, vivaldi_converges);
	return tc;
}
