/*
 * Channels between muster's processes, after OpenBSD's imsg.
 *
 * A channel is one end of an AF_UNIX SOCK_STREAM socketpair carrying frames:
 *
 *   u16 type | u16 flags | u32 len | u32 reqid | u32 sender | len bytes
 *
 * in host byte order (frames never leave the machine).  The header is
 * validated before anything is allocated: a frame longer than the channel's
 * frame_max, or a message (frames joined by IPC_F_MORE) longer than its
 * msg_max, closes the channel with -EMSGSIZE.  Payloads are encoded with
 * proto/; this layer does not look inside them.
 *
 * Descriptors travel with SCM_RIGHTS, one per frame, only on channels opened
 * with fdpass; the receiver claims one with ipc_msg_take_fd() and an
 * unclaimed descriptor is closed after the handler returns.
 *
 * Requests carry a non-zero reqid; the answer carries IPC_F_REPLY and the
 * same reqid.  Every request's callback runs exactly once: with the reply,
 * or with -ETIMEDOUT, or with -EPIPE when the channel closes first.
 *
 * Errors are negative errno values; nothing here logs above debug.
 */
#ifndef MUSTER_IPC_H
#define MUSTER_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "lib/util.h"

#define IPC_HDR_SIZE 16
#define IPC_F_REPLY 0x0001u
#define IPC_F_FD 0x0002u
#define IPC_F_MORE 0x0004u
#define IPC_F_KNOWN (IPC_F_REPLY | IPC_F_FD | IPC_F_MORE)

struct ipc_hdr {
	uint16_t type;
	uint16_t flags;
	uint32_t len;
	uint32_t reqid;
	uint32_t sender;
};

struct ipc_msg {
	struct ipc_hdr hdr;	/* of the last frame; len = whole payload */
	const uint8_t *data;
	size_t len;
	int fd;			/* -1 when none, or once claimed */
};

struct ipc_limits {
	size_t frame_max;	/* largest frame payload accepted */
	size_t msg_max;		/* largest reassembled message accepted */
	size_t hiwat;		/* queued bytes above which congested() */
	size_t hardcap;		/* queued bytes above which sends fail */
	bool fdpass;		/* descriptors may be received */
};

extern const struct ipc_limits ipc_limits_default;

struct ipc_chan;

typedef void ipc_msg_cb(struct ipc_chan *ch, struct ipc_msg *m, void *arg);
/* err is 0 on EOF, else negative errno (e.g. -EMSGSIZE, -EPROTO). */
typedef void ipc_close_cb(struct ipc_chan *ch, int err, void *arg);
/* reply is NULL when err < 0. */
typedef void ipc_reply_cb(void *arg, struct ipc_msg *reply, int err);
typedef void ipc_drain_cb(struct ipc_chan *ch, void *arg);

/*
 * Wrap fd (made non-blocking and close-on-exec here).  self is the sender id
 * put in every header.  The channel owns fd from now on.  On close the
 * channel stops its watchers and calls on_close once; the owner then calls
 * ipc_chan_free() (from on_close is fine).
 */
struct ipc_chan *ipc_chan_new(struct ev_loop *loop, int fd, const char *name,
    uint32_t self, const struct ipc_limits *lim, ipc_msg_cb *on_msg,
    ipc_close_cb *on_close, void *arg);
void ipc_chan_free(struct ipc_chan *ch);
const char *ipc_chan_name(const struct ipc_chan *ch);
bool ipc_chan_open(const struct ipc_chan *ch);
void ipc_chan_set_drain_cb(struct ipc_chan *ch, ipc_drain_cb *cb);
/* Bytes queued for writing, and whether that is above the high-water mark. */
size_t ipc_chan_queued(const struct ipc_chan *ch);
bool ipc_chan_congested(const struct ipc_chan *ch);
/* Stop or resume reading (the receiver's own backpressure). */
void ipc_chan_pause(struct ipc_chan *ch, bool pause);
/* Pending requests awaiting a reply. */
size_t ipc_chan_pending(const struct ipc_chan *ch);

/*
 * Queue a message.  fd >= 0 is sent with it and closed here once sent (also
 * on failure).  Messages over frame_max are split into IPC_F_MORE frames.
 * -EPIPE when closed, -EMSGSIZE over msg_max, -ENOBUFS over the hard cap.
 */
int ipc_send(struct ipc_chan *ch, uint16_t type, uint32_t reqid,
    uint16_t flags, const void *p, size_t len, int fd);
int ipc_reply(struct ipc_chan *ch, const struct ipc_msg *req, uint16_t type,
    const void *p, size_t len);
/*
 * Send a request; cb runs exactly once later (never from inside this call).
 * timeout_ms 0 means no timeout.  Returns the reqid (> 0) or -errno, in
 * which case cb will not run.
 */
int64_t ipc_request(struct ipc_chan *ch, uint16_t type, const void *p,
    size_t len, unsigned timeout_ms, ipc_reply_cb *cb, void *arg);
/* Forget a pending request: its callback will not run. */
void ipc_request_cancel(struct ipc_chan *ch, uint32_t reqid);

int ipc_msg_take_fd(struct ipc_msg *m);

/* socketpair(AF_UNIX, SOCK_STREAM) with both ends close-on-exec. */
int ipc_socketpair(int sv[2]);

/* Blocking helpers for simple clients and tests: send one frame / read one. */
int ipc_frame_encode(struct buf *out, const struct ipc_hdr *h, const void *p);
int ipc_hdr_decode(const uint8_t *p, size_t len, struct ipc_hdr *h);

#endif
