#include "proto/proto.h"

#include <errno.h>
#include <string.h>

static const char *const proc_names[PROC_MAX] = {
	[PROC_SUPERVISOR] = "supervisor", [PROC_GOSSIP] = "gossip",
	[PROC_STORE] = "store",		  [PROC_HTTP] = "http",
	[PROC_DNS] = "dns",		  [PROC_CHECKS] = "checks",
};

const char *
proto_proc_name(unsigned proc)
{
	return proc < PROC_MAX ? proc_names[proc] : "unknown";
}

unsigned
proto_proc_by_name(const char *name)
{
	for (unsigned i = PROC_GOSSIP; i < PROC_MAX; i++)
		if (strcmp(name, proc_names[i]) == 0)
			return i;
	return PROC_MAX;
}

static const char *const listen_names[LISTEN_KIND_MAX] = {
	[LISTEN_HTTP] = "http",
	[LISTEN_HTTPS] = "https",
	[LISTEN_DNS_UDP] = "dns-udp",
	[LISTEN_DNS_TCP] = "dns-tcp",
	[LISTEN_SERF_LAN_UDP] = "serf-lan-udp",
	[LISTEN_SERF_LAN_TCP] = "serf-lan-tcp",
	[LISTEN_SERF_WAN_UDP] = "serf-wan-udp",
	[LISTEN_SERF_WAN_TCP] = "serf-wan-tcp",
	[LISTEN_SERVER_RPC] = "server-rpc",
	[LISTEN_CONTROL] = "control",
};

const char *
proto_listen_kind_name(unsigned kind)
{
	if (kind == 0 || kind >= LISTEN_KIND_MAX)
		return "unknown";
	return listen_names[kind];
}

#define PROTO_ENC_FIELD_(t, n) proto_put_##t(out, PROTO_ARG_##t(m->n));
#define PROTO_ARG_u8(x) x
#define PROTO_ARG_u16(x) x
#define PROTO_ARG_u32(x) x
#define PROTO_ARG_u64(x) x
#define PROTO_ARG_i32(x) x
#define PROTO_ARG_i64(x) x
#define PROTO_ARG_bool(x) x
#define PROTO_ARG_str(x) x
#define PROTO_ARG_strv(x) &(x)
#define PROTO_DEC_FIELD_(t, n)                               \
	if ((r = proto_get_##t(&c, &m->n)) < 0)              \
		return r;

#define PROTO_CODEC_(NAME, NUM, name)                                  \
	void proto_enc_##name(struct buf *out,                         \
	    const struct proto_##name *m)                              \
	{                                                              \
		(void)out;                                             \
		(void)m;                                               \
		PROTO_F_##name(PROTO_ENC_FIELD_)                       \
	}                                                              \
	int proto_dec_##name(const void *p, size_t len,                \
	    struct proto_##name *m)                                    \
	{                                                              \
		struct proto_cur c = { p, len };                       \
		int r = 0;                                             \
		memset(m, 0, sizeof(*m));                              \
		PROTO_F_##name(PROTO_DEC_FIELD_)                       \
		(void)r;                                               \
		return c.left == 0 ? 0 : -EBADMSG;                     \
	}
PROTO_MESSAGES(PROTO_CODEC_)
#undef PROTO_CODEC_

const char *
proto_type_name(unsigned type)
{
	switch (type) {
#define PROTO_NAME_(NAME, NUM, name) \
	case NUM:                    \
		return #NAME;
		PROTO_MESSAGES(PROTO_NAME_)
#undef PROTO_NAME_
	}
	return NULL;
}

bool proto_type_known(unsigned type) { return proto_type_name(type) != NULL; }

int
proto_validate(unsigned type, const void *p, size_t len)
{
	switch (type) {
#define PROTO_VALIDATE_(NAME, NUM, name)                  \
	case NUM: {                                       \
		struct proto_##name m;                    \
		return proto_dec_##name(p, len, &m);      \
	}
		PROTO_MESSAGES(PROTO_VALIDATE_)
#undef PROTO_VALIDATE_
	}
	return -ENOMSG;
}

void
proto_enc_result_msg(struct buf *out, int code, const char *msg)
{
	struct proto_result r = { .code = code, .message = proto_str_c(msg) };
	proto_enc_result(out, &r);
}
