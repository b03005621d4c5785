/*
 * memberlist's wire format (gossip-protocol.md §3-§5, §7, §8): message
 * structs with their msgpack codecs, the UDP packet pipeline (label,
 * AES-GCM, CRC-32, compound, LZW compression) and TCP stream framing.
 *
 * Decoded structs hold views (struct gossip_slice) into the input buffer;
 * a slice with a NULL pointer is a Go nil.  Encoders write the type byte
 * then the msgpack map with the keys sorted as Go writes them, so a
 * decoded message re-encodes to the same bytes.
 */
#ifndef MUSTER_GOSSIP_WIRE_H
#define MUSTER_GOSSIP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"
#include "workers/gossip/keyring.h"
#include "workers/gossip/msgpack.h"

enum gossip_msg_type {
	GOSSIP_MSG_PING = 0,
	GOSSIP_MSG_INDIRECT_PING = 1,
	GOSSIP_MSG_ACK = 2,
	GOSSIP_MSG_SUSPECT = 3,
	GOSSIP_MSG_ALIVE = 4,
	GOSSIP_MSG_DEAD = 5,
	GOSSIP_MSG_PUSH_PULL = 6,
	GOSSIP_MSG_COMPOUND = 7,
	GOSSIP_MSG_USER = 8,
	GOSSIP_MSG_COMPRESS = 9,
	GOSSIP_MSG_ENCRYPT = 10,
	GOSSIP_MSG_NACK = 11,
	GOSSIP_MSG_HAS_CRC = 12,
	GOSSIP_MSG_ERR = 13,
	GOSSIP_MSG_HAS_LABEL = 244,
};

/* memberlist node states, as pushNodeState.State carries them */
enum gossip_state {
	GOSSIP_STATE_ALIVE = 0,
	GOSSIP_STATE_SUSPECT = 1,
	GOSSIP_STATE_DEAD = 2,
	GOSSIP_STATE_LEFT = 3,
};

/* Limits (memberlist: UDPBufferSize, maxPushStateBytes, MetaMaxSize). */
#define GOSSIP_UDP_BUFFER 1400
#define GOSSIP_UDP_RECV_MAX 65536
#define GOSSIP_MAX_PUSH_STATE (20u * 1024 * 1024)
#define GOSSIP_META_MAX 512
#define GOSSIP_MAX_LABEL 255
#define GOSSIP_COMPOUND_MAX 255
/* Bound on a decompressed UDP message: a Go peer only compresses what
 * fits a datagram, so anything near this is an attack. */
#define GOSSIP_UDP_DECOMP_MAX (1u << 20)
/* overheads used to size piggybacked broadcasts (memberlist util.go) */
#define GOSSIP_COMPOUND_HEADER_OVERHEAD 2
#define GOSSIP_COMPOUND_OVERHEAD 2
#define GOSSIP_USER_MSG_OVERHEAD 1

struct gossip_ping {
	uint32_t seq;
	struct gossip_slice node;	/* intended target's name */
	struct gossip_slice src_addr;	/* omitempty */
	uint16_t src_port;		/* omitempty */
	struct gossip_slice src_node;	/* omitempty */
};

struct gossip_indirect_ping {
	uint32_t seq;
	struct gossip_slice target;	/* IP bytes */
	uint16_t port;
	struct gossip_slice node;
	bool nack;
	struct gossip_slice src_addr;
	uint16_t src_port;
	struct gossip_slice src_node;
};

struct gossip_ack {
	uint32_t seq;
	struct gossip_slice payload;	/* nil when none */
};

struct gossip_nack {
	uint32_t seq;
};

/* suspect and dead share a layout */
struct gossip_suspect {
	uint32_t incarnation;
	struct gossip_slice node;
	struct gossip_slice from;
};

struct gossip_alive {
	uint32_t incarnation;
	struct gossip_slice node;
	struct gossip_slice addr;
	uint16_t port;
	struct gossip_slice meta;
	struct gossip_slice vsn;	/* 6 bytes: pmin pmax pcur dmin dmax dcur */
};

struct gossip_push_header {
	uint64_t nodes;
	uint64_t user_state_len;
	bool join;
};

struct gossip_push_node {
	struct gossip_slice name;
	struct gossip_slice addr;
	uint16_t port;
	struct gossip_slice meta;
	uint32_t incarnation;
	uint8_t state;
	struct gossip_slice vsn;
};

struct gossip_push_pull {
	struct gossip_push_header hdr;
	struct gossip_push_node *nodes;	/* hdr.nodes entries, allocated */
	struct gossip_slice user;	/* hdr.user_state_len bytes */
};

struct gossip_err {
	struct gossip_slice error;
};

struct gossip_compress {
	uint64_t algo;
	struct gossip_slice buf;
};

/* Each encoder appends the type byte and the msgpack body. */
void gossip_enc_ping(struct buf *b, const struct gossip_ping *m);
void gossip_enc_indirect_ping(struct buf *b,
    const struct gossip_indirect_ping *m);
void gossip_enc_ack(struct buf *b, const struct gossip_ack *m);
void gossip_enc_nack(struct buf *b, const struct gossip_nack *m);
void gossip_enc_suspect(struct buf *b, const struct gossip_suspect *m);
void gossip_enc_dead(struct buf *b, const struct gossip_suspect *m);
void gossip_enc_alive(struct buf *b, const struct gossip_alive *m);
void gossip_enc_err(struct buf *b, const char *error);
/* 06 + header; then gossip_enc_push_node per node; then the user state. */
void gossip_enc_push_header(struct buf *b, const struct gossip_push_header *m);
void gossip_enc_push_node(struct buf *b, const struct gossip_push_node *m);
/* TCP user message: 08 + {UserMsgLen} + data. */
void gossip_enc_user_stream(struct buf *b, const uint8_t *p, size_t n);
/* 09 + {Algo: 0, Buf: LZW(msg)} */
void gossip_enc_compress(struct buf *b, const uint8_t *msg, size_t n);
/* 07 n len... parts...; n <= 255 */
void gossip_enc_compound(struct buf *b, const struct gossip_slice *parts,
    size_t n);

/* Decoders take the bytes after the type byte; trailing bytes are
 * ignored as Go does.  -EBADMSG/-ENODATA on malformed input. */
int gossip_dec_ping(const uint8_t *p, size_t n, struct gossip_ping *m);
int gossip_dec_indirect_ping(const uint8_t *p, size_t n,
    struct gossip_indirect_ping *m);
int gossip_dec_ack(const uint8_t *p, size_t n, struct gossip_ack *m);
int gossip_dec_nack(const uint8_t *p, size_t n, struct gossip_nack *m);
int gossip_dec_suspect(const uint8_t *p, size_t n, struct gossip_suspect *m);
int gossip_dec_alive(const uint8_t *p, size_t n, struct gossip_alive *m);
int gossip_dec_err(const uint8_t *p, size_t n, struct gossip_err *m);
int gossip_dec_compress(const uint8_t *p, size_t n, struct gossip_compress *m,
    size_t *used);
/* Push/pull body; -ENODATA when incomplete.  Free with
 * gossip_push_pull_free().  *used = bytes consumed. */
int gossip_dec_push_pull(const uint8_t *p, size_t n,
    struct gossip_push_pull *m, size_t *used);
void gossip_push_pull_free(struct gossip_push_pull *m);
/* TCP user message body: the delegate bytes. */
int gossip_dec_user_stream(const uint8_t *p, size_t n,
    struct gossip_slice *data, size_t *used);

/* Struct field tables (also used by the fuzz target and tests). */
int gossip_dec_push_node(struct gossip_mp_rd *r, struct gossip_push_node *m);

/*
 * Compound parts: fills parts[] (at most GOSSIP_COMPOUND_MAX) and sets
 * *truncated to the number of parts cut off at the end (memberlist drops
 * them and logs).  -EBADMSG if the header itself is short.
 */
int gossip_dec_compound(const uint8_t *p, size_t n, struct gossip_slice *parts,
    size_t *nparts, size_t *truncated);

/* ------------------------------------------------------------ pipeline */

struct gossip_wire_cfg {
	const struct gossip_keyring *keyring;	/* NULL/empty: no encryption */
	bool verify_incoming;		/* default true */
	bool verify_outgoing;		/* default true */
	bool compress;			/* LZW on send */
	unsigned enc_vsn;		/* 1 (memberlist protocol >= 2) */
	const char *label;		/* "" or NULL: no label */
	bool skip_inbound_label_check;
	const uint8_t *test_nonce;	/* tests only: fixed nonce */
};

bool gossip_wire_encrypting(const struct gossip_wire_cfg *c);
size_t gossip_wire_label_overhead(const struct gossip_wire_cfg *c);

/*
 * Receive side of a datagram: strip and check the label, decrypt, verify
 * and strip a CRC header.  msg and msglen point at the message (into pkt or
 * scratch).  Errors: -ENODATA empty, -EACCES label mismatch, the
 * gossip_decrypt() codes, -EILSEQ bad CRC.
 */
int gossip_packet_open(const struct gossip_wire_cfg *c, const uint8_t *pkt,
    size_t n, struct buf *scratch, const uint8_t **msg, size_t *msglen);

/*
 * Send side: compress if enabled and smaller, CRC header if crc, encrypt
 * if a keyring is set (and verify_outgoing), label header.  Appends the
 * datagram to out.
 */
int gossip_packet_seal(const struct gossip_wire_cfg *c, bool crc,
    const uint8_t *msg, size_t n, struct buf *out);

/*
 * Leaf messages of a (possibly compound/compressed) message.  fn runs for
 * each leaf with its type byte and body; compound and compress nest up to
 * 4 deep.  Returns the number of truncated compound parts, or <0 when the
 * outermost structure is malformed (inner malformed parts are skipped and
 * counted in *bad if non-NULL).
 */
typedef void gossip_leaf_fn(void *arg, uint8_t type, const uint8_t *body,
    size_t n);
int gossip_msg_walk(const uint8_t *msg, size_t n, gossip_leaf_fn *fn,
    void *arg, unsigned *bad);

/*
 * Stream framing.  gossip_stream_seal: label header, LZW always when
 * compression is on, then the 0a + length envelope when encrypting.
 *
 * gossip_stream_open parses one message from the start of a connection's
 * bytes: returns the number of bytes it used (>0) with the plaintext
 * message (type byte first, decompressed) in *plain; 0 if more bytes are
 * needed; <0 on error, with *why set to the text memberlist sends back in
 * its err message:
 *   -EPROTO  "Encryption is configured but remote state is not encrypted"
 *   -ENOPROTOOPT "Remote state is encrypted and encryption is not configured"
 *   -EFBIG   "Remote node state is larger than limit"
 *   -EACCES  label mismatch; decrypt/decompress/decode errors otherwise.
 */
int gossip_stream_seal(const struct gossip_wire_cfg *c, const uint8_t *msg,
    size_t n, struct buf *out);
int gossip_stream_open(const struct gossip_wire_cfg *c, const uint8_t *in,
    size_t n, struct buf *plain, const char **why);

/* Length of a complete plaintext stream message at p (type byte first),
 * 0 if incomplete, <0 if malformed. */
long gossip_stream_msg_len(const uint8_t *p, size_t n);

/* CRC-32 (IEEE), as hash/crc32.ChecksumIEEE */
uint32_t gossip_crc32(const uint8_t *p, size_t n);

#endif
