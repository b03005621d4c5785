/*
 * Worker lifecycle.  Every worker is fork+exec'd from /proc/self/exe as
 * `muster worker NAME` with only its supervisor channel (fd 3); listening
 * sockets and the channels to the other workers follow over that channel
 * as SCM_RIGHTS descriptors, so a restarted worker gets exactly the same
 * hand-over as the first one, and its peers are handed a fresh channel.
 *
 * Death policy (nginx's respawn + OpenBSD's "exit 2 = bad config"): a
 * worker that exits with status 2 rejected its configuration and is not
 * restarted (the agent stops with 2); any other death is restarted after a
 * backoff that starts at 20 ms and doubles to 5 s, and more than
 * SUP_CRASH_BUDGET deaths within SUP_CRASH_WINDOW_MS stop the agent.
 */
#include "supervisor/sup.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUP_CRASH_BUDGET 10
#define SUP_CRASH_WINDOW_MS 60000
#define SUP_BACKOFF_MIN 0.02
#define SUP_BACKOFF_MAX 5.0
#define SUP_STABLE_MS 30000

static const struct ipc_limits sup_chan_limits = {
	.frame_max = 64 * 1024, .msg_max = 16 * 1024 * 1024,
	.hiwat = 4 * 1024 * 1024, .hardcap = 64 * 1024 * 1024,
	.fdpass = false,	/* workers never send descriptors up */
};

static void spawn_worker(struct sup *s, unsigned proc);
static void worker_close_cb(struct ipc_chan *ch, int err, void *arg);

bool
sup_worker_is(const struct sup *s, const struct ipc_chan *ch, unsigned *proc)
{
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++)
		if (s->w[p].ch == ch) {
			*proc = p;
			return true;
		}
	return false;
}

static void
child_exec(unsigned proc, int fd)
{
	char pid[32];
	/* The channel becomes fd 3; everything else is closed. */
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(127);
	} else
		fd_set_cloexec(3, false);
	syscall(SYS_close_range, 4, ~0U, 0);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		close(devnull);
	}
	snprintf(pid, sizeof(pid), "%d", (int)getppid());
	setenv("MUSTER_SUPERVISOR_PID", pid, 1);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	char *argv[] = { "muster", "worker", (char *)proto_proc_name(proc), NULL };
	execv("/proc/self/exe", argv);
	_exit(127);
}

static int
send_listeners(struct sup *s, unsigned proc)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < s->nls; i++) {
		const struct sup_listener *l = &s->ls[i];
		if (!sup_listener_for(proc, l->kind))
			continue;
		int fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			fatal("dup listener");
		struct proto_listen_fd m = { .kind = (uint8_t)l->kind,
			.address = proto_str_c(l->addr) };
		buf_reset(&b);
		proto_enc_listen_fd(&b, &m);
		if (ipc_send(s->w[proc].ch, PROTO_LISTEN_FD, 0, 0, b.data, b.len,
		    fd) < 0)
			break;
	}
	buf_free(&b);
	return 0;
}

static void
send_peer(struct sup *s, unsigned to, unsigned peer, int fd)
{
	struct proto_peer_fd m = { .peer = (uint8_t)peer, .epoch = s->epoch };
	struct buf b;
	buf_init(&b);
	proto_enc_peer_fd(&b, &m);
	if (s->w[to].ch == NULL)
		close(fd);
	else
		ipc_send(s->w[to].ch, PROTO_PEER_FD, 0, 0, b.data, b.len, fd);
	buf_free(&b);
}

/* A fresh channel between two running workers, one end to each. */
static void
connect_pair(struct sup *s, unsigned a, unsigned b)
{
	int sv[2];
	if (ipc_socketpair(sv) < 0)
		fatal("socketpair");
	send_peer(s, a, b, sv[0]);
	send_peer(s, b, a, sv[1]);
}

static void
config_ack_cb(void *arg, struct ipc_msg *reply, int err)
{
	struct sup_worker *sw = arg;
	struct proto_config_ack ack;

	if (err < 0) {
		sup_reload_worker_gone(sw->sup, sw->proc);
		return;
	}
	if (reply->hdr.type != PROTO_CONFIG_ACK ||
	    proto_dec_config_ack(reply->data, reply->len, &ack) < 0) {
		log_warnx("malformed config answer from %s",
		    proto_proc_name(sw->proc));
		sup_reload_worker_gone(sw->sup, sw->proc);
		return;
	}
	sup_config_acked(sw->sup, sw->proc, &ack);
}

int
sup_send_config(struct sup *s, unsigned proc)
{
	struct proto_config m = { .generation = s->cfg_gen,
		.json = proto_str_c(s->cfg_json) };
	struct buf b;
	buf_init(&b);
	proto_enc_config(&b, &m);
	int64_t r = ipc_request(s->w[proc].ch, PROTO_CONFIG, b.data, b.len,
	    30000, config_ack_cb, &s->w[proc]);
	buf_free(&b);
	return r < 0 ? (int)r : 0;
}

static void
startup(struct sup *s, unsigned proc)
{
	struct proto_startup m = { .generation = s->cfg_gen };
	struct buf b;
	buf_init(&b);
	proto_enc_startup(&b, &m);
	ipc_send(s->w[proc].ch, PROTO_STARTUP, 0, 0, b.data, b.len, -1);
	buf_free(&b);
}

static void
child_cb(struct ev_loop *loop, ev_child *c, int revents)
{
	struct sup_worker *sw = c->data;
	struct sup *s = sw->sup;
	int st = c->rstatus;

	ev_child_stop(loop, c);
	if (WIFSIGNALED(st))
		log_warnx("lost child: %s pid %d terminated; signal %d",
		    proto_proc_name(sw->proc), (int)sw->pid, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0 || !s->stopping)
		log_warnx("lost child: %s pid %d exited with status %d",
		    proto_proc_name(sw->proc), (int)sw->pid, WEXITSTATUS(st));
	sw->pid = 0;
	sw->ready = false;
	if (sw->ch) {
		ipc_chan_free(sw->ch);
		sw->ch = NULL;
	}
	sup_reload_worker_gone(s, sw->proc);
	if (s->stopping) {
		for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++)
			if (s->w[p].pid)
				return;
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		log_warnx("%s rejected the configuration; not restarting it",
		    proto_proc_name(sw->proc));
		sup_stop(s, 2);
		return;
	}
	uint64_t now = mono_ms();
	if (now - sw->started_ms > SUP_STABLE_MS)
		sw->backoff = SUP_BACKOFF_MIN;
	if (now - sw->crash_window_ms > SUP_CRASH_WINDOW_MS) {
		sw->crash_window_ms = now;
		sw->recent_crashes = 0;
	}
	if (++sw->recent_crashes > SUP_CRASH_BUDGET) {
		log_warnx("%s died %u times within %d s; stopping the agent",
		    proto_proc_name(sw->proc), sw->recent_crashes,
		    SUP_CRASH_WINDOW_MS / 1000);
		sup_stop(s, 1);
		return;
	}
	log_info("restarting %s in %.0f ms", proto_proc_name(sw->proc),
	    sw->backoff * 1000);
	ev_timer_set(&sw->respawn, sw->backoff, 0);
	ev_timer_start(loop, &sw->respawn);
	sw->backoff = MIN(sw->backoff * 2, SUP_BACKOFF_MAX);
}

static void
respawn_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sup_worker *sw = t->data;
	struct sup *s = sw->sup;
	if (s->stopping)
		return;
	spawn_worker(s, sw->proc);
	sup_send_config(s, sw->proc);
	send_listeners(s, sw->proc);
	s->epoch++;
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++)
		if (p != sw->proc && s->w[p].ch)
			connect_pair(s, sw->proc, p);
	startup(s, sw->proc);
}

static void
worker_close_cb(struct ipc_chan *ch, int err, void *arg)
{
	struct sup_worker *sw = arg;
	/* A worker that breaks the protocol is not to be trusted further
	 * (a reset or EOF is just a worker dying: child_cb handles that). */
	if ((err == -EPROTO || err == -EMSGSIZE) && sw->pid > 0) {
		log_warnx("%s broke the channel protocol (%s); killing it",
		    proto_proc_name(sw->proc), strerror(-err));
		kill(sw->pid, SIGKILL);
	}
}

static void
spawn_worker(struct sup *s, unsigned proc)
{
	struct sup_worker *sw = &s->w[proc];
	int sv[2];

	if (ipc_socketpair(sv) < 0)
		fatal("socketpair");
	pid_t pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		child_exec(proc, sv[1]);
	}
	close(sv[1]);
	sw->pid = pid;
	sw->started_ms = mono_ms();
	sw->ready = false;
	sw->ch = ipc_chan_new(s->loop, sv[0], proto_proc_name(proc),
	    PROC_SUPERVISOR, &sup_chan_limits, sup_dispatch_worker,
	    worker_close_cb, sw);
	ev_child_set(&sw->child, pid, 0);
	ev_child_start(s->loop, &sw->child);
	log_debug("started %s pid %d", proto_proc_name(proc), (int)pid);
}

void
sup_workers_start(struct sup *s)
{
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++) {
		struct sup_worker *sw = &s->w[p];
		sw->sup = s;
		sw->proc = p;
		sw->backoff = SUP_BACKOFF_MIN;
		ev_init(&sw->child, child_cb);
		sw->child.data = sw;
		ev_init(&sw->respawn, respawn_cb);
		sw->respawn.data = sw;
		spawn_worker(s, p);
	}
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++) {
		sup_send_config(s, p);
		send_listeners(s, p);
	}
	for (unsigned a = PROC_GOSSIP; a < PROC_MAX; a++)
		for (unsigned b = a + 1; b < PROC_MAX; b++)
			connect_pair(s, a, b);
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++)
		startup(s, p);
}

void
sup_workers_stop(struct sup *s, unsigned reason)
{
	struct proto_shutdown m = { .reason = (uint8_t)reason };
	struct buf b;
	buf_init(&b);
	proto_enc_shutdown(&b, &m);
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++) {
		struct sup_worker *sw = &s->w[p];
		ev_timer_stop(s->loop, &sw->respawn);
		if (sw->ch)
			ipc_send(sw->ch, PROTO_SHUTDOWN, 0, 0, b.data, b.len, -1);
		else if (sw->pid)
			kill(sw->pid, SIGTERM);
	}
	buf_free(&b);
}
