/*
 * Message types and their structs, generated from schema.h.  For each
 * message NAME/name:
 *   enum value PROTO_NAME, struct proto_name,
 *   void proto_enc_name(struct buf *out, const struct proto_name *m);
 *   int  proto_dec_name(const void *p, size_t len, struct proto_name *m);
 * Decoding checks every length and rejects missing or trailing bytes with
 * -EBADMSG; string and list fields point into the decoded buffer.
 */
#ifndef MUSTER_PROTO_H
#define MUSTER_PROTO_H

#include "proto/codec.h"
#include "proto/schema.h"

/* The processes of one agent; the IPC header's sender field. */
enum proto_proc {
	PROC_SUPERVISOR = 0,
	PROC_GOSSIP,
	PROC_STORE,
	PROC_HTTP,
	PROC_DNS,
	PROC_CHECKS,
	PROC_MAX,
};

const char *proto_proc_name(unsigned proc);
/* PROC_MAX if the name is not a worker's. */
unsigned proto_proc_by_name(const char *name);

/* LISTEN_FD kinds. */
enum proto_listen_kind {
	LISTEN_HTTP = 1,
	LISTEN_HTTPS,
	LISTEN_DNS_UDP,
	LISTEN_DNS_TCP,
	LISTEN_SERF_LAN_UDP,
	LISTEN_SERF_LAN_TCP,
	LISTEN_SERF_WAN_UDP,
	LISTEN_SERF_WAN_TCP,
	LISTEN_SERVER_RPC,
	LISTEN_CONTROL,
	LISTEN_KIND_MAX,
};
const char *proto_listen_kind_name(unsigned kind);

enum proto_type {
#define PROTO_ENUM_(NAME, NUM, name) PROTO_##NAME = NUM,
	PROTO_MESSAGES(PROTO_ENUM_)
#undef PROTO_ENUM_
};

#define PROTO_CT_u8 uint8_t
#define PROTO_CT_u16 uint16_t
#define PROTO_CT_u32 uint32_t
#define PROTO_CT_u64 uint64_t
#define PROTO_CT_i32 int32_t
#define PROTO_CT_i64 int64_t
#define PROTO_CT_bool bool
#define PROTO_CT_str struct proto_str
#define PROTO_CT_strv struct proto_strv

#define PROTO_FIELD_DECL_(t, n) PROTO_CT_##t n;
/* _none keeps field-less messages valid C; it is never encoded. */
#define PROTO_STRUCT_(NAME, NUM, name)                 \
	struct proto_##name {                          \
		PROTO_F_##name(PROTO_FIELD_DECL_)      \
		char _none;                            \
	};                                             \
	void proto_enc_##name(struct buf *out,         \
	    const struct proto_##name *m);             \
	int proto_dec_##name(const void *p, size_t len, \
	    struct proto_##name *m);
PROTO_MESSAGES(PROTO_STRUCT_)
#undef PROTO_STRUCT_

/* Name of a message type, or NULL when unknown. */
const char *proto_type_name(unsigned type);
bool proto_type_known(unsigned type);
/* Decode a message of any known type, discarding it: -EBADMSG, -ENOMSG. */
int proto_validate(unsigned type, const void *p, size_t len);

/* Shorthand: encode a RESULT. */
void proto_enc_result_msg(struct buf *out, int code, const char *msg);

#endif
