#include "ipc/ipc.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

const struct ipc_limits ipc_limits_default = {
	.frame_max = 64 * 1024,
	.msg_max = 16 * 1024 * 1024,
	.hiwat = 4 * 1024 * 1024,
	.hardcap = 64 * 1024 * 1024,
	.fdpass = false,
};

#define IPC_MAX_FDQ 64
#define IPC_REQ_BUCKETS 1024

struct fdmark {
	uint64_t off;		/* stream offset of the frame's first byte */
	int fd;
};

struct ipc_req {
	struct ipc_req *next;
	struct ipc_chan *ch;
	uint32_t reqid;
	ipc_reply_cb *cb;
	void *arg;
	ev_timer timer;
	bool timed;
};

struct ipc_chan {
	struct ev_loop *loop;
	int fd;
	char name[32];
	uint32_t self;
	struct ipc_limits lim;
	ipc_msg_cb *on_msg;
	ipc_close_cb *on_close;
	ipc_drain_cb *on_drain;
	void *arg;
	ev_io rio, wio;
	ev_idle deferred;	/* runs failures that must not re-enter */
	bool closed, paused, in_dispatch, free_pending, was_congested;
	int close_err;

	struct buf in;		/* bytes read, not yet parsed */
	size_t in_off;
	int rfds[IPC_MAX_FDQ];	/* descriptors received, in order */
	unsigned nrfds;
	struct buf assembly;	/* IPC_F_MORE frames joined so far */
	struct ipc_hdr asm_hdr;
	int asm_fd;
	bool assembling;

	struct buf out;		/* frames queued, out.data[out_off..] unsent */
	size_t out_off;
	uint64_t out_base;	/* stream offset of out.data[0] */
	struct fdmark *marks;
	unsigned nmarks, capmarks;

	uint32_t next_reqid;
	size_t npending;
	struct ipc_req *reqs[IPC_REQ_BUCKETS];
	struct ipc_req *failed;	/* callbacks owed an error, run from idle */
};

static void chan_close(struct ipc_chan *ch, int err);

int
ipc_socketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	return 0;
}

int
ipc_hdr_decode(const uint8_t *p, size_t len, struct ipc_hdr *h)
{
	if (len < IPC_HDR_SIZE)
		return -EAGAIN;
	memcpy(&h->type, p, 2);
	memcpy(&h->flags, p + 2, 2);
	memcpy(&h->len, p + 4, 4);
	memcpy(&h->reqid, p + 8, 4);
	memcpy(&h->sender, p + 12, 4);
	if (h->flags & ~IPC_F_KNOWN)
		return -EPROTO;
	return 0;
}

int
ipc_frame_encode(struct buf *out, const struct ipc_hdr *h, const void *p)
{
	uint8_t hdr[IPC_HDR_SIZE];
	memcpy(hdr, &h->type, 2);
	memcpy(hdr + 2, &h->flags, 2);
	memcpy(hdr + 4, &h->len, 4);
	memcpy(hdr + 8, &h->reqid, 4);
	memcpy(hdr + 12, &h->sender, 4);
	buf_add(out, hdr, sizeof(hdr));
	buf_add(out, p, h->len);
	return 0;
}

/* ---- requests ------------------------------------------------------- */

static struct ipc_req **
req_slot(struct ipc_chan *ch, uint32_t reqid)
{
	struct ipc_req **pp = &ch->reqs[reqid % IPC_REQ_BUCKETS];
	while (*pp && (*pp)->reqid != reqid)
		pp = &(*pp)->next;
	return pp;
}

static struct ipc_req *
req_unlink(struct ipc_chan *ch, uint32_t reqid)
{
	struct ipc_req **pp = req_slot(ch, reqid), *r = *pp;
	if (r == NULL)
		return NULL;
	*pp = r->next;
	r->next = NULL;
	ch->npending--;
	if (r->timed)
		ev_timer_stop(ch->loop, &r->timer);
	return r;
}

static void
req_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ipc_req *r = w->data;
	struct ipc_chan *ch = r->ch;
	if (req_unlink(ch, r->reqid) != r)
		return;
	r->cb(r->arg, NULL, -ETIMEDOUT);
	free(r);
}

/* Fail every pending request later, from the idle watcher. */
static void
reqs_fail_all(struct ipc_chan *ch)
{
	for (unsigned i = 0; i < IPC_REQ_BUCKETS; i++) {
		while (ch->reqs[i]) {
			struct ipc_req *r = req_unlink(ch, ch->reqs[i]->reqid);
			r->next = ch->failed;
			ch->failed = r;
		}
	}
	if (ch->failed)
		ev_idle_start(ch->loop, &ch->deferred);
}

static void
run_failed(struct ipc_chan *ch)
{
	while (ch->failed) {
		struct ipc_req *r = ch->failed;
		ch->failed = r->next;
		r->cb(r->arg, NULL, -EPIPE);
		free(r);
	}
}

static void
deferred_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct ipc_chan *ch = w->data;
	ev_idle_stop(loop, w);
	ch->in_dispatch = true;
	run_failed(ch);
	ch->in_dispatch = false;
	if (ch->free_pending)
		ipc_chan_free(ch);
}

/* ---- writing -------------------------------------------------------- */

size_t ipc_chan_queued(const struct ipc_chan *ch) { return ch->out.len - ch->out_off; }
bool ipc_chan_congested(const struct ipc_chan *ch) { return ipc_chan_queued(ch) > ch->lim.hiwat; }
size_t ipc_chan_pending(const struct ipc_chan *ch) { return ch->npending; }
const char *ipc_chan_name(const struct ipc_chan *ch) { return ch->name; }
bool ipc_chan_open(const struct ipc_chan *ch) { return !ch->closed; }
void ipc_chan_set_drain_cb(struct ipc_chan *ch, ipc_drain_cb *cb) { ch->on_drain = cb; }

static ssize_t
send_with_fd(int sock, const void *p, size_t len, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec iov = { (void *)p, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

/* Write as much as the socket takes; 0, or negative errno if it broke. */
static int
chan_flush(struct ipc_chan *ch)
{
	while (ch->out_off < ch->out.len) {
		uint64_t pos = ch->out_base + ch->out_off;
		size_t avail = ch->out.len - ch->out_off;
		const uint8_t *p = ch->out.data + ch->out_off;
		ssize_t n;

		if (ch->nmarks && ch->marks[0].off == pos) {
			/* A descriptor rides alone with its own frame's bytes. */
			size_t lim = ch->nmarks > 1 ?
			    (size_t)(ch->marks[1].off - pos) : avail;
			n = send_with_fd(ch->fd, p, lim, ch->marks[0].fd);
			if (n > 0) {
				close(ch->marks[0].fd);
				memmove(ch->marks, ch->marks + 1,
				    --ch->nmarks * sizeof(*ch->marks));
			}
		} else {
			size_t lim = ch->nmarks ?
			    (size_t)(ch->marks[0].off - pos) : avail;
			n = send(ch->fd, p, lim, MSG_NOSIGNAL);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		ch->out_off += (size_t)n;
	}
	if (ch->out_off == ch->out.len) {
		ch->out_base += ch->out.len;
		buf_reset(&ch->out);
		ch->out_off = 0;
		ev_io_stop(ch->loop, &ch->wio);
	} else {
		if (ch->out_off > 1024 * 1024 && ch->out_off > ch->out.len / 2) {
			buf_consume(&ch->out, ch->out_off);
			ch->out_base += ch->out_off;
			ch->out_off = 0;
		}
		ev_io_start(ch->loop, &ch->wio);
	}
	return 0;
}

static void
write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_chan *ch = w->data;
	int r = chan_flush(ch);
	if (r < 0) {
		chan_close(ch, r);
		return;
	}
	if (ch->was_congested && ipc_chan_queued(ch) <= ch->lim.hiwat / 2) {
		ch->was_congested = false;
		if (ch->on_drain)
			ch->on_drain(ch, ch->arg);
	}
}

static void
queue_frame(struct ipc_chan *ch, uint16_t type, uint16_t flags,
    uint32_t reqid, const void *p, size_t len)
{
	struct ipc_hdr h = { type, flags, (uint32_t)len, reqid, ch->self };
	ipc_frame_encode(&ch->out, &h, p);
}

int
ipc_send(struct ipc_chan *ch, uint16_t type, uint32_t reqid, uint16_t flags,
    const void *p, size_t len, int fd)
{
	int r = 0;
	if (ch->closed)
		r = -EPIPE;
	else if (len > ch->lim.msg_max)
		r = -EMSGSIZE;
	else if (ipc_chan_queued(ch) + len > ch->lim.hardcap)
		r = -ENOBUFS;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	flags &= (uint16_t)~(IPC_F_FD | IPC_F_MORE);
	if (fd >= 0) {
		if (ch->nmarks == ch->capmarks) {
			ch->capmarks = ch->capmarks ? ch->capmarks * 2 : 8;
			ch->marks = xrealloc(ch->marks,
			    ch->capmarks * sizeof(*ch->marks));
		}
		ch->marks[ch->nmarks].off = ch->out_base + ch->out.len;
		ch->marks[ch->nmarks++].fd = fd;
	}
	const uint8_t *c = p;
	do {
		size_t n = MIN(len, ch->lim.frame_max);
		uint16_t f = flags;
		if (fd >= 0) {
			f |= IPC_F_FD;	/* on the first frame only */
			fd = -1;
		}
		if (n < len)
			f |= IPC_F_MORE;
		queue_frame(ch, type, f, reqid, c, n);
		c += n;
		len -= n;
	} while (len > 0);
	if (ipc_chan_congested(ch))
		ch->was_congested = true;
	ev_io_start(ch->loop, &ch->wio);
	return 0;
}

int
ipc_reply(struct ipc_chan *ch, const struct ipc_msg *req, uint16_t type,
    const void *p, size_t len)
{
	return ipc_send(ch, type, req->hdr.reqid, IPC_F_REPLY, p, len, -1);
}

int64_t
ipc_request(struct ipc_chan *ch, uint16_t type, const void *p, size_t len,
    unsigned timeout_ms, ipc_reply_cb *cb, void *arg)
{
	if (++ch->next_reqid == 0)
		ch->next_reqid = 1;
	uint32_t id = ch->next_reqid;
	int r = ipc_send(ch, type, id, 0, p, len, -1);
	if (r < 0)
		return r;
	struct ipc_req *q = xcalloc(1, sizeof(*q));
	q->ch = ch;
	q->reqid = id;
	q->cb = cb;
	q->arg = arg;
	if (timeout_ms) {
		ev_timer_init(&q->timer, req_timeout_cb, timeout_ms / 1000.0, 0);
		q->timer.data = q;
		ev_timer_start(ch->loop, &q->timer);
		q->timed = true;
	}
	struct ipc_req **slot = &ch->reqs[id % IPC_REQ_BUCKETS];
	q->next = *slot;
	*slot = q;
	ch->npending++;
	return id;
}

void
ipc_request_cancel(struct ipc_chan *ch, uint32_t reqid)
{
	free(req_unlink(ch, reqid));
}

/* ---- reading -------------------------------------------------------- */

int
ipc_msg_take_fd(struct ipc_msg *m)
{
	int fd = m->fd;
	m->fd = -1;
	return fd;
}

static void
stash_fds(struct ipc_chan *ch, struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (!ch->lim.fdpass || ch->nrfds == IPC_MAX_FDQ) {
				close(fd);
				ch->close_err = -EPROTO;
			} else
				ch->rfds[ch->nrfds++] = fd;
		}
	}
}

static int
pop_fd(struct ipc_chan *ch)
{
	if (ch->nrfds == 0)
		return -1;
	int fd = ch->rfds[0];
	memmove(ch->rfds, ch->rfds + 1, --ch->nrfds * sizeof(int));
	return fd;
}

static void
deliver(struct ipc_chan *ch, const struct ipc_hdr *h, const uint8_t *p,
    size_t len, int fd)
{
	struct ipc_msg m = { *h, p, len, fd };
	m.hdr.len = (uint32_t)len;
	if (h->flags & IPC_F_REPLY) {
		struct ipc_req *r = req_unlink(ch, h->reqid);
		if (r) {
			r->cb(r->arg, &m, 0);
			free(r);
		} else
			log_debug("ipc %s: late reply %u dropped", ch->name,
			    h->reqid);
	} else
		ch->on_msg(ch, &m, ch->arg);
	if (m.fd >= 0)
		close(m.fd);
}

/* One complete frame: deliver it or add it to the message being joined. */
static int
handle_frame(struct ipc_chan *ch, const struct ipc_hdr *h, const uint8_t *p)
{
	int fd = -1;
	if (h->flags & IPC_F_FD) {
		if ((fd = pop_fd(ch)) < 0)
			return -EPROTO;
	}
	if (ch->assembling) {
		if (h->type != ch->asm_hdr.type || h->reqid != ch->asm_hdr.reqid ||
		    fd >= 0) {
			if (fd >= 0)
				close(fd);
			return -EPROTO;
		}
		if (ch->assembly.len + h->len > ch->lim.msg_max)
			return -EMSGSIZE;
		buf_add(&ch->assembly, p, h->len);
		if (h->flags & IPC_F_MORE)
			return 0;
		ch->assembling = false;
		struct ipc_hdr last = *h;
		last.flags = ch->asm_hdr.flags & (uint16_t)~IPC_F_MORE;
		deliver(ch, &last, ch->assembly.data, ch->assembly.len,
		    ch->asm_fd);
		buf_reset(&ch->assembly);
		return 0;
	}
	if (h->flags & IPC_F_MORE) {
		ch->assembling = true;
		ch->asm_hdr = *h;
		ch->asm_fd = fd;
		buf_reset(&ch->assembly);
		buf_add(&ch->assembly, p, h->len);
		return 0;
	}
	deliver(ch, h, p, h->len, fd);
	return 0;
}

static int
parse_frames(struct ipc_chan *ch)
{
	while (!ch->closed && !ch->paused && !ch->free_pending) {
		struct ipc_hdr h;
		const uint8_t *p = ch->in.data + ch->in_off;
		size_t avail = ch->in.len - ch->in_off;
		int r = ipc_hdr_decode(p, avail, &h);
		if (r == -EAGAIN)
			break;
		if (r < 0)
			return r;
		if (h.len > ch->lim.frame_max)
			return -EMSGSIZE;
		if (avail < IPC_HDR_SIZE + (size_t)h.len)
			break;
		ch->in_off += IPC_HDR_SIZE + h.len;
		if ((r = handle_frame(ch, &h, p + IPC_HDR_SIZE)) < 0)
			return r;
	}
	if (ch->in_off == ch->in.len) {
		buf_reset(&ch->in);
		ch->in_off = 0;
	} else if (ch->in_off > 0 && !ch->paused) {
		buf_consume(&ch->in, ch->in_off);
		ch->in_off = 0;
	}
	return 0;
}

static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_chan *ch = w->data;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cmsgbuf;
	size_t want = MAX((size_t)65536, ch->lim.frame_max + IPC_HDR_SIZE);

	buf_reserve(&ch->in, want);
	struct iovec iov = { ch->in.data + ch->in.len, want };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cmsgbuf.buf, .msg_controllen = sizeof(cmsgbuf.buf) };
	ssize_t n = recvmsg(ch->fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		chan_close(ch, -errno);
		return;
	}
	stash_fds(ch, &msg);
	if (ch->close_err || (msg.msg_flags & MSG_CTRUNC)) {
		chan_close(ch, -EPROTO);
		return;
	}
	if (n == 0) {
		chan_close(ch, 0);
		return;
	}
	ch->in.len += (size_t)n;
	ch->in_dispatch = true;
	int r = parse_frames(ch);
	ch->in_dispatch = false;
	if (r < 0)
		chan_close(ch, r);
	if (ch->free_pending)
		ipc_chan_free(ch);
}

void
ipc_chan_pause(struct ipc_chan *ch, bool pause)
{
	if (ch->closed || ch->paused == pause)
		return;
	ch->paused = pause;
	if (pause) {
		ev_io_stop(ch->loop, &ch->rio);
		return;
	}
	ev_io_start(ch->loop, &ch->rio);
	if (!ch->in_dispatch) {
		ch->in_dispatch = true;
		int r = parse_frames(ch);
		ch->in_dispatch = false;
		if (r < 0)
			chan_close(ch, r);
		if (ch->free_pending)
			ipc_chan_free(ch);
	}
}

/* ---- lifecycle ------------------------------------------------------ */

struct ipc_chan *
ipc_chan_new(struct ev_loop *loop, int fd, const char *name, uint32_t self,
    const struct ipc_limits *lim, ipc_msg_cb *on_msg, ipc_close_cb *on_close,
    void *arg)
{
	struct ipc_chan *ch = xcalloc(1, sizeof(*ch));
	ch->loop = loop;
	ch->fd = fd;
	strlcpy_m(ch->name, name, sizeof(ch->name));
	ch->self = self;
	ch->lim = lim ? *lim : ipc_limits_default;
	ch->on_msg = on_msg;
	ch->on_close = on_close;
	ch->arg = arg;
	ch->asm_fd = -1;
	fd_set_nonblock(fd, true);
	fd_set_cloexec(fd, true);
	ev_io_init(&ch->rio, read_cb, fd, EV_READ);
	ev_io_init(&ch->wio, write_cb, fd, EV_WRITE);
	ev_idle_init(&ch->deferred, deferred_cb);
	ch->rio.data = ch->wio.data = ch->deferred.data = ch;
	ev_io_start(loop, &ch->rio);
	return ch;
}

static void
chan_close(struct ipc_chan *ch, int err)
{
	if (ch->closed)
		return;
	ch->closed = true;
	ev_io_stop(ch->loop, &ch->rio);
	ev_io_stop(ch->loop, &ch->wio);
	reqs_fail_all(ch);
	if (ch->on_close)
		ch->on_close(ch, err, ch->arg);
}

void
ipc_chan_free(struct ipc_chan *ch)
{
	if (ch == NULL)
		return;
	if (!ch->closed) {
		ch->on_close = NULL;
		chan_close(ch, 0);
	}
	if (ch->in_dispatch) {
		ch->free_pending = true;
		return;
	}
	ev_idle_stop(ch->loop, &ch->deferred);
	run_failed(ch);
	for (unsigned i = 0; i < ch->nmarks; i++)
		close(ch->marks[i].fd);
	for (unsigned i = 0; i < ch->nrfds; i++)
		close(ch->rfds[i]);
	if (ch->asm_fd >= 0)
		close(ch->asm_fd);
	close(ch->fd);
	free(ch->marks);
	buf_free(&ch->in);
	buf_free(&ch->out);
	buf_free(&ch->assembly);
	free(ch);
}
