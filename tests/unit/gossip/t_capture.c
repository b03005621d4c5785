/*
 * Codec vectors from live captures of the real serf agent (Debian serf
 * 0.9.4 with memberlist 0.2.2): every datagram and TCP stream in the
 * pcaps decodes, and every message re-encodes to the same bytes where Go
 * is deterministic (everything except map[string]... ordering, which our
 * decoders keep in wire order anyway).  Encrypted captures are decrypted
 * with their key files and re-sealed with the captured nonce; LZW
 * payloads are re-compressed and compared.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/gossip/gossip_test.h"
#include "tests/unit/gossip/pcap.h"
#include "workers/gossip/lzw.h"
#include "workers/gossip/serf_wire.h"
#include "workers/gossip/wire.h"

struct tally {
	unsigned ml[16];		/* memberlist leaf types */
	unsigned serf[10];		/* serf message types */
	unsigned compound, compress, crc, encrypted, streams, pushpull;
	unsigned nested;		/* key/conflict payloads in responses */
	unsigned mismatch;		/* re-encodings that differ */
	unsigned undecodable;
	unsigned standin;		/* datagrams of the Python stand-in */
	unsigned truncations;		/* messages checked cut by cut */
	bool check_cuts;
	bool lenient;			/* current item not from Go */
	const char *where;
};

/* The interop captures include the Python stand-in node cnode (port
 * 18948), which writes some maps in insertion order: its messages must
 * decode but need not re-encode byte for byte. */
#define STANDIN_PORT 18948

static void
same(struct tally *t, const char *what, const uint8_t *a, size_t an,
    const uint8_t *b, size_t bn)
{
	if (an == bn && memcmp(a, b, an) == 0)
		return;
	if (t->lenient)
		return;
	t->mismatch++;
	fprintf(stderr, "%s: %s re-encodes differently (%zu vs %zu bytes)\n",
	    t->where, what, an, bn);
}

static void
check_query_payload(struct tally *t, const struct gossip_slice *payload)
{
	struct gossip_serf_key_response kr;
	struct gossip_serf_member_wire mw;
	struct gossip_slice key;
	struct buf out;
	bool present;

	if (payload->n < 1)
		return;
	buf_init(&out);
	const uint8_t *p = payload->p + 1;
	size_t n = payload->n - 1;
	switch (payload->p[0]) {
	case GOSSIP_SERF_KEY_REQUEST:
		if (gossip_serf_dec_key_request(p, n, &key) == 0) {
			gossip_serf_enc_key_request(&out, key.p, key.n);
			t->nested++;
		}
		break;
	case GOSSIP_SERF_KEY_RESPONSE:
		if (gossip_serf_dec_key_response(p, n, &kr) == 0) {
			gossip_serf_enc_key_response(&out, &kr);
			t->nested++;
		}
		break;
	case GOSSIP_SERF_CONFLICT_RESPONSE:
		if (gossip_serf_dec_conflict_response(p, n, &mw, &present) ==
		    0) {
			gossip_serf_enc_conflict_response(&out,
			    present ? &mw : NULL);
			t->nested++;
		}
		break;
	}
	if (out.len)
		same(t, "query payload", out.data, out.len, payload->p,
		    payload->n);
	buf_free(&out);
}

static int
reencode_serf(struct tally *t, const uint8_t *p, size_t n, struct buf *out)
{
	union {
		struct gossip_serf_join j;
		struct gossip_serf_leave l;
		struct gossip_serf_user_event e;
		struct gossip_serf_query q;
		struct gossip_serf_query_response r;
		struct gossip_serf_relay rl;
	} u;
	int rc = -EBADMSG;

	if (n < 1)
		return -EBADMSG;
	switch (p[0]) {
	case GOSSIP_SERF_JOIN:
		if ((rc = gossip_serf_dec_join(p + 1, n - 1, &u.j)) == 0)
			gossip_serf_enc_join(out, &u.j);
		break;
	case GOSSIP_SERF_LEAVE:
		if ((rc = gossip_serf_dec_leave(p + 1, n - 1, &u.l)) == 0)
			gossip_serf_enc_leave(out, &u.l);
		break;
	case GOSSIP_SERF_USER_EVENT:
		if ((rc = gossip_serf_dec_user_event(p + 1, n - 1, &u.e)) == 0)
			gossip_serf_enc_user_event(out, &u.e);
		break;
	case GOSSIP_SERF_QUERY:
		if ((rc = gossip_serf_dec_query(p + 1, n - 1, &u.q)) == 0) {
			gossip_serf_enc_query(out, &u.q);
			check_query_payload(t, &u.q.payload);
		}
		break;
	case GOSSIP_SERF_QUERY_RESPONSE:
		rc = gossip_serf_dec_query_response(p + 1, n - 1, &u.r);
		if (rc == 0) {
			gossip_serf_enc_query_response(out, &u.r);
			check_query_payload(t, &u.r.payload);
		}
		break;
	case GOSSIP_SERF_RELAY:
		if ((rc = gossip_serf_dec_relay(p + 1, n - 1, &u.rl)) == 0)
			gossip_serf_enc_relay(out, &u.rl);
		break;
	}
	if (rc == 0)
		t->serf[p[0]]++;
	return rc;
}

static int
reencode_leaf(struct tally *t, uint8_t type, const uint8_t *p, size_t n,
    struct buf *out)
{
	union {
		struct gossip_ping ping;
		struct gossip_indirect_ping ind;
		struct gossip_ack ack;
		struct gossip_nack nack;
		struct gossip_suspect sus;
		struct gossip_alive alive;
		struct gossip_err err;
	} u;
	int rc = -EBADMSG;

	switch (type) {
	case GOSSIP_MSG_PING:
		if ((rc = gossip_dec_ping(p, n, &u.ping)) == 0)
			gossip_enc_ping(out, &u.ping);
		break;
	case GOSSIP_MSG_INDIRECT_PING:
		if ((rc = gossip_dec_indirect_ping(p, n, &u.ind)) == 0)
			gossip_enc_indirect_ping(out, &u.ind);
		break;
	case GOSSIP_MSG_ACK:
		if ((rc = gossip_dec_ack(p, n, &u.ack)) == 0)
			gossip_enc_ack(out, &u.ack);
		break;
	case GOSSIP_MSG_NACK:
		if ((rc = gossip_dec_nack(p, n, &u.nack)) == 0)
			gossip_enc_nack(out, &u.nack);
		break;
	case GOSSIP_MSG_SUSPECT:
	case GOSSIP_MSG_DEAD:
		if ((rc = gossip_dec_suspect(p, n, &u.sus)) == 0) {
			if (type == GOSSIP_MSG_DEAD)
				gossip_enc_dead(out, &u.sus);
			else
				gossip_enc_suspect(out, &u.sus);
		}
		break;
	case GOSSIP_MSG_ALIVE:
		if ((rc = gossip_dec_alive(p, n, &u.alive)) == 0)
			gossip_enc_alive(out, &u.alive);
		break;
	case GOSSIP_MSG_ERR:
		if ((rc = gossip_dec_err(p, n, &u.err)) == 0) {
			char *s = gossip_slice_strdup(u.err.error);
			gossip_enc_err(out, s ? s : "");
			free(s);
		}
		break;
	case GOSSIP_MSG_USER:
		buf_addch(out, (char)GOSSIP_MSG_USER);
		rc = reencode_serf(t, p, n, out);
		break;
	}
	if (rc == 0 && type < nitems(t->ml))
		t->ml[type]++;
	return rc;
}

/* Every strict prefix of a decodable message must be refused. */
static void
check_truncations(struct tally *t, uint8_t type, const uint8_t *body,
    size_t n)
{
	struct buf scratch;
	buf_init(&scratch);
	for (size_t cut = 0; cut < n; cut++) {
		buf_reset(&scratch);
		if (reencode_leaf(t, type, body, cut, &scratch) == 0) {
			t->mismatch++;
			fprintf(stderr, "%s: type %u accepted cut at %zu/%zu\n",
			    t->where, type, cut, n);
			break;
		}
	}
	t->truncations++;
	buf_free(&scratch);
}

static void
on_leaf(void *arg, uint8_t type, const uint8_t *body, size_t n)
{
	struct tally *t = arg;
	struct buf out, orig;

	buf_init(&out);
	buf_init(&orig);
	buf_addch(&orig, (char)type);
	buf_add(&orig, body, n);
	if (reencode_leaf(t, type, body, n, &out) < 0) {
		t->undecodable++;
		fprintf(stderr, "%s: undecodable leaf type %u\n", t->where,
		    type);
	} else {
		same(t, "message", out.data, out.len, orig.data, orig.len);
		if (t->check_cuts)
			check_truncations(t, type, body, n);
	}
	buf_free(&out);
	buf_free(&orig);
}

/* Structure checks on the container layers before walking the leaves. */
static void
check_containers(struct tally *t, const uint8_t *msg, size_t n)
{
	struct gossip_slice parts[GOSSIP_COMPOUND_MAX];
	struct gossip_compress cm;
	size_t np, trunc;
	struct buf out, raw;

	buf_init(&out);
	buf_init(&raw);
	if (msg[0] == GOSSIP_MSG_COMPOUND &&
	    gossip_dec_compound(msg + 1, n - 1, parts, &np, &trunc) == 0) {
		t->compound++;
		gossip_enc_compound(&out, parts, np);
		same(t, "compound", out.data, out.len, msg, n);
		for (size_t i = 0; i < np; i++)
			if (parts[i].n > 0)
				check_containers(t, parts[i].p, parts[i].n);
	} else if (msg[0] == GOSSIP_MSG_COMPRESS &&
	    gossip_dec_compress(msg + 1, n - 1, &cm, NULL) == 0 &&
	    gossip_lzw_decompress(cm.buf.p, cm.buf.n, 1 << 24, &raw) == 0) {
		t->compress++;
		gossip_enc_compress(&out, raw.data, raw.len);
		same(t, "LZW compression", out.data, out.len, msg, n);
		check_containers(t, raw.data, raw.len);
	}
	buf_free(&out);
	buf_free(&raw);
}

/* Re-seal a decrypted envelope with its own nonce: must match exactly. */
static void
check_reseal(struct tally *t, const struct gossip_keyring *kr,
    const uint8_t *env, size_t n, const uint8_t *aad, size_t aadlen,
    const struct buf *plain)
{
	struct gossip_keyring one;
	struct buf out;

	for (unsigned k = 0; k < kr->n; k++) {
		gossip_keyring_init(&one);
		gossip_keyring_add(&one, kr->key[k], kr->keylen[k]);
		buf_init(&out);
		if (gossip_encrypt(&one, env[0], plain->data, plain->len, aad,
		    aadlen, env + 1, &out) == 0 && out.len == n &&
		    memcmp(out.data, env, n) == 0) {
			buf_free(&out);
			t->encrypted++;
			return;
		}
		buf_free(&out);
	}
	t->mismatch++;
	fprintf(stderr, "%s: envelope does not re-seal\n", t->where);
}

static void
check_datagram(struct tally *t, const struct gossip_wire_cfg *cfg,
    const struct tp_item *it)
{
	struct buf scratch, plain;
	const uint8_t *msg;
	size_t len;
	int rc;

	buf_init(&scratch);
	buf_init(&plain);
	t->lenient = it->src.port == STANDIN_PORT;
	if (t->lenient)
		t->standin++;
	rc = gossip_packet_open(cfg, it->data.data, it->data.len, &scratch,
	    &msg, &len);
	ck_assert_msg(rc == 0, "%s: datagram of %zu bytes: %d", t->where,
	    it->data.len, rc);
	if (gossip_wire_encrypting(cfg)) {
		ck_assert_int_eq(gossip_decrypt(cfg->keyring, it->data.data,
		    it->data.len, NULL, 0, &plain), 0);
		check_reseal(t, cfg->keyring, it->data.data, it->data.len, NULL,
		    0, &plain);
	} else {
		buf_add(&plain, it->data.data, it->data.len);
	}
	if (plain.data[0] == GOSSIP_MSG_HAS_CRC)
		t->crc++;
	check_containers(t, msg, len);
	unsigned bad = 0;
	ck_assert_int_eq(gossip_msg_walk(msg, len, on_leaf, t, &bad), 0);
	ck_assert_uint_eq(bad, 0);
	buf_free(&scratch);
	buf_free(&plain);
}

static void
check_serf_state(struct tally *t, const struct gossip_slice *user)
{
	struct gossip_serf_push_pull pp;
	struct buf out;

	if (user->n == 0)
		return;
	ck_assert_uint_eq(user->p[0], GOSSIP_SERF_PUSH_PULL);
	ck_assert_int_eq(gossip_serf_dec_push_pull(user->p + 1, user->n - 1,
	    &pp), 0);
	buf_init(&out);
	gossip_serf_enc_push_pull(&out, &pp);
	same(t, "serf push/pull state", out.data, out.len, user->p, user->n);
	t->serf[GOSSIP_SERF_PUSH_PULL]++;
	buf_free(&out);
	gossip_serf_push_pull_free(&pp);
}

static void
check_plain_stream(struct tally *t, const uint8_t *msg, size_t n)
{
	struct gossip_push_pull pp;
	struct buf out;
	size_t used;

	buf_init(&out);
	if (msg[0] == GOSSIP_MSG_PUSH_PULL) {
		ck_assert_int_eq(gossip_dec_push_pull(msg + 1, n - 1, &pp,
		    &used), 0);
		ck_assert_uint_eq(used + 1, n);
		gossip_enc_push_header(&out, &pp.hdr);
		for (uint64_t i = 0; i < pp.hdr.nodes; i++)
			gossip_enc_push_node(&out, &pp.nodes[i]);
		buf_add(&out, pp.user.p, pp.user.n);
		same(t, "push/pull", out.data, out.len, msg, n);
		check_serf_state(t, &pp.user);
		gossip_push_pull_free(&pp);
		t->pushpull++;
	} else {
		on_leaf(t, msg[0], msg + 1, n - 1);
	}
	buf_free(&out);
}

static void
check_stream(struct tally *t, const struct gossip_wire_cfg *cfg,
    const struct tp_item *it)
{
	struct buf plain, env;
	const char *why;
	int rc;

	buf_init(&plain);
	t->lenient = false;
	rc = gossip_stream_open(cfg, it->data.data, it->data.len, &plain, &why);
	ck_assert_msg(rc == (int)it->data.len, "%s: stream of %zu: %d (%s)",
	    t->where, it->data.len, rc, why);
	if (it->data.data[0] == GOSSIP_MSG_ENCRYPT) {
		buf_init(&env);
		ck_assert_int_eq(gossip_decrypt(cfg->keyring,
		    it->data.data + 5, it->data.len - 5, it->data.data, 5,
		    &env), 0);
		check_reseal(t, cfg->keyring, it->data.data + 5,
		    it->data.len - 5, it->data.data, 5, &env);
		check_containers(t, env.data, env.len);
		buf_free(&env);
	} else {
		check_containers(t, it->data.data, it->data.len);
	}
	check_plain_stream(t, plain.data, plain.len);
	t->streams++;
	buf_free(&plain);
}

static void
load_keys(const char *file, struct gossip_keyring *kr)
{
	char path[512], *save = NULL;
	struct buf f;
	uint8_t key[32];
	size_t len;

	gossip_keyring_init(kr);
	if (file == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", gt_datadir, file);
	buf_init(&f);
	ck_assert_int_eq(read_file(path, 4096, &f), 0);
	for (char *tok = strtok_r((char *)f.data, " \n", &save); tok;
	    tok = strtok_r(NULL, " \n", &save)) {
		ck_assert_int_eq(gossip_key_from_base64(tok, key, &len), 0);
		ck_assert_int_eq(gossip_keyring_add(kr, key, len), 0);
	}
	buf_free(&f);
}

static void
run_capture(const char *pcap, const char *keyfile, struct tally *t)
{
	struct gossip_keyring kr;
	struct tp_capture cap;
	char path[512];

	memset(t, 0, sizeof(*t));
	t->where = pcap;
	t->check_cuts = true;
	load_keys(keyfile, &kr);
	struct gossip_wire_cfg cfg = {
		.keyring = &kr, .verify_incoming = true,
		.verify_outgoing = true, .enc_vsn = 1,
	};
	snprintf(path, sizeof(path), "%s/%s", gt_datadir, pcap);
	ck_assert_int_eq(tp_load(path, &cap), 0);
	ck_assert_uint_gt(cap.n, 20);
	for (size_t i = 0; i < cap.n; i++) {
		if (cap.items[i].tcp)
			check_stream(t, &cfg, &cap.items[i]);
		else
			check_datagram(t, &cfg, &cap.items[i]);
	}
	tp_free(&cap);
	ck_assert_uint_eq(t->undecodable, 0);
	ck_assert_uint_eq(t->mismatch, 0);
	ck_assert_uint_gt(t->streams, 0);
	ck_assert_uint_gt(t->pushpull, 0);
	ck_assert_uint_gt(t->ml[GOSSIP_MSG_PING], 0);
	ck_assert_uint_gt(t->ml[GOSSIP_MSG_ACK], 0);
	ck_assert_uint_gt(t->ml[GOSSIP_MSG_ALIVE], 0);
	ck_assert_uint_gt(t->crc, 0);
	if (keyfile)
		ck_assert_uint_gt(t->encrypted, 0);
}

/* 'plain': every memberlist and serf message type a 3-node run makes. */
START_TEST(capture_plain)
{
	struct tally t;
	run_capture("plain.pcap", NULL, &t);
	ck_assert_uint_gt(t.ml[GOSSIP_MSG_INDIRECT_PING], 0);
	ck_assert_uint_gt(t.ml[GOSSIP_MSG_NACK], 0);
	ck_assert_uint_gt(t.ml[GOSSIP_MSG_SUSPECT], 0);
	ck_assert_uint_gt(t.ml[GOSSIP_MSG_DEAD], 0);
	ck_assert_uint_gt(t.compound, 0);
	ck_assert_uint_gt(t.serf[GOSSIP_SERF_JOIN], 0);
	ck_assert_uint_gt(t.serf[GOSSIP_SERF_LEAVE], 0);
	ck_assert_uint_gt(t.serf[GOSSIP_SERF_USER_EVENT], 0);
	ck_assert_uint_gt(t.serf[GOSSIP_SERF_QUERY], 0);
	ck_assert_uint_gt(t.serf[GOSSIP_SERF_QUERY_RESPONSE], 0);
	ck_assert_uint_gt(t.serf[GOSSIP_SERF_PUSH_PULL], 0);
	ck_assert_uint_gt(t.truncations, 200);
}
END_TEST

START_TEST(capture_compressed)
{
	struct tally t;
	run_capture("compressed.pcap", NULL, &t);
	ck_assert_uint_gt(t.compress, 10);
}
END_TEST

START_TEST(capture_encrypted)
{
	struct tally t;
	run_capture("encrypted.pcap", "encrypted.key", &t);
	ck_assert_uint_gt(t.compress, 0);
}
END_TEST

/* Key rotation: list/install/use/remove queries and their responses,
 * decrypted with whichever of the two keys was primary at the time. */
START_TEST(capture_keys)
{
	struct tally t;
	run_capture("keys.pcap", "keys.keys", &t);
	ck_assert_uint_gt(t.nested, 6);
}
END_TEST

START_TEST(capture_interop)
{
	struct tally t;
	run_capture("interop-plain.pcap", NULL, &t);
	ck_assert_uint_gt(t.standin, 10);
	run_capture("interop-enc.pcap", "interop-enc.key", &t);
	ck_assert_uint_gt(t.standin, 10);
	run_capture("interop-enc-lzw.pcap", "interop-enc-lzw.key", &t);
	ck_assert_uint_gt(t.standin, 10);
}
END_TEST

/* The same traffic with only the wrong key installed: nothing opens, and
 * the error says why. */
START_TEST(capture_wrong_key)
{
	struct gossip_keyring kr;
	struct tp_capture cap;
	struct buf scratch;
	char path[512];
	const uint8_t *msg;
	size_t len;
	unsigned tried = 0;

	load_keys("interop-enc.key", &kr);
	struct gossip_wire_cfg cfg = {
		.keyring = &kr, .verify_incoming = true, .enc_vsn = 1,
	};
	snprintf(path, sizeof(path), "%s/encrypted.pcap", gt_datadir);
	ck_assert_int_eq(tp_load(path, &cap), 0);
	buf_init(&scratch);
	for (size_t i = 0; i < cap.n; i++) {
		const struct tp_item *it = &cap.items[i];
		const char *why;
		if (it->tcp) {
			int rc = gossip_stream_open(&cfg, it->data.data,
			    it->data.len, &scratch, &why);
			ck_assert_int_eq(rc, -ENOKEY);
			ck_assert_str_eq(why,
			    "no installed keys could decrypt the message");
		} else {
			ck_assert_int_eq(gossip_packet_open(&cfg, it->data.data,
			    it->data.len, &scratch, &msg, &len), -ENOKEY);
		}
		tried++;
	}
	ck_assert_uint_gt(tried, 50);
	ck_assert_str_eq(gossip_crypt_strerror(-ENOKEY),
	    "no installed keys could decrypt the message");
	buf_free(&scratch);
	tp_free(&cap);
}
END_TEST

TCase *
gt_capture_tcase(void)
{
	TCase *tc = tcase_create("capture");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, capture_plain);
	tcase_add_test(tc, capture_compressed);
	tcase_add_test(tc, capture_encrypted);
	tcase_add_test(tc, capture_keys);
	tcase_add_test(tc, capture_interop);
	tcase_add_test(tc, capture_wrong_key);
	return tc;
}
