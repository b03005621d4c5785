/*
 * libFuzzer target: bytes from a peer process through the IPC frame
 * parser and the schema decoders, as the supervisor receives them from an
 * untrusted worker.  The first two bytes choose a message type for a
 * direct decode; the rest is also fed to a live channel over a socketpair.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "ipc/ipc.h"
#include "proto/proto.h"

static unsigned types[] = {
#define FUZZ_T(NAME, NUM, name) NUM,
	PROTO_MESSAGES(FUZZ_T)
};

static void
on_msg(struct ipc_chan *ch, struct ipc_msg *m, void *arg)
{
	proto_validate(m->hdr.type, m->data, m->len);
}

static void
on_close(struct ipc_chan *ch, int err, void *arg)
{
	*(int *)arg = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_loop *loop;
	int sv[2], closed = 0;

	if (size >= 2) {
		unsigned t = types[(data[0] | data[1] << 8) %
		    (sizeof(types) / sizeof(types[0]))];
		proto_validate(t, data + 2, size - 2);
	}
	if (loop == NULL)
		loop = ev_loop_new(EVFLAG_AUTO);
	if (ipc_socketpair(sv) < 0)
		return 0;
	struct ipc_limits lim = ipc_limits_default;
	lim.frame_max = 4096;
	lim.msg_max = 16384;
	struct ipc_chan *ch = ipc_chan_new(loop, sv[1], "fuzz", 0, &lim,
	    on_msg, on_close, &closed);
	if (size && write(sv[0], data, size) < 0)
		abort();
	close(sv[0]);
	for (int i = 0; i < 64 && !closed; i++)
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
	ipc_chan_free(ch);
	return 0;
}
