/*
 * Script checks (agent/checks/check.go CheckMonitor): args run directly
 * (no shell), args[0] looked up in PATH, stdin from /dev/null, stdout
 * and stderr into one ring of the output limit, in a process group of
 * their own so a timeout kills the whole subtree (exec.KillCommandSubtree).
 * Exit 0 is passing, 1 warning, anything else (or a signal) critical.
 *
 * Children are spawned with posix_spawnp (vfork-like, so thousands of
 * checks do not copy the worker's memory) and reaped with ev_child; a
 * check that goes away while its script runs leaves the process group
 * killed and a small reaper waiting for it.
 */
#include "workers/checks/chk_probe.h"
#include "lib/duration.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct script_probe {
	struct chk_probe p;
	pid_t pid;
	int fd;				/* read end of stdout+stderr */
	ev_io io;
	ev_child child;
	ev_timer tm;
	struct chk_ring ring;
	bool exited, timed_out;
	int wstatus;
};

/* Waits for a killed child whose check is gone. */
struct orphan {
	ev_child child;
};

static void
orphan_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	ev_child_stop(loop, w);
	free(w->data);
}

static void
script_close_pipe(struct script_probe *s)
{
	if (s->fd < 0)
		return;
	ev_io_stop(s->p.run->st->loop, &s->io);
	close(s->fd);
	s->fd = -1;
}

static void
script_free(struct script_probe *s)
{
	struct ev_loop *loop = s->p.run->st->loop;
	script_close_pipe(s);
	ev_child_stop(loop, &s->child);
	ev_timer_stop(loop, &s->tm);
	chk_ring_free(&s->ring);
	free(s);
}

static void
script_cancel(struct chk_probe *p)
{
	struct script_probe *s = (struct script_probe *)p;
	struct ev_loop *loop = s->p.run->st->loop;
	if (!s->exited) {
		struct orphan *o = xcalloc(1, sizeof(*o));
		kill(-s->pid, SIGKILL);
		ev_child_init(&o->child, orphan_cb, s->pid, 0);
		o->child.data = o;
		ev_child_stop(loop, &s->child);
		ev_child_start(loop, &o->child);
	}
	script_free(s);
}

static const struct chk_probe_ops script_ops = { script_cancel };

static void
script_end(struct script_probe *s)
{
	struct chk_run *r = s->p.run;
	script_free(s);
	chk_probe_end(r);
}

/* Both the exit and the end of output are in: report the exit code. */
static void
script_report(struct script_probe *s)
{
	struct buf out;
	enum chk_status st = CHK_CRITICAL;
	if (WIFEXITED(s->wstatus))
		st = WEXITSTATUS(s->wstatus) == 0 ? CHK_PASSING :
		    WEXITSTATUS(s->wstatus) == 1 ? CHK_WARNING : CHK_CRITICAL;
	buf_init(&out);
	chk_output_script(&s->ring, &out);
	chk_probe_result(s->p.run, st, out.data ? (char *)out.data : "");
	buf_free(&out);
	script_end(s);
}

static void
script_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct script_probe *s = w->data;
	char b[4096];
	for (;;) {
		ssize_t n = read(s->fd, b, sizeof(b));
		if (n > 0) {
			chk_ring_write(&s->ring, b, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		break;			/* EOF or error: output is complete */
	}
	script_close_pipe(s);
	if (s->exited && !s->timed_out)
		script_report(s);
}

static void
script_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct script_probe *s = w->data;
	ev_child_stop(loop, w);
	s->exited = true;
	s->wstatus = w->rstatus;
	if (s->timed_out)
		script_end(s);		/* reported already; now free to rerun */
	else if (s->fd < 0)
		script_report(s);
}

/* CheckMonitor's timeout: kill the subtree, report critical with what was
 * captured, and start no other run until this one has exited. */
static void
script_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct script_probe *s = w->data;
	char t[DURATION_STRLEN];
	struct buf out;

	kill(-s->pid, SIGKILL);
	s->timed_out = true;
	duration_format(s->p.run->timeout, t, sizeof(t));
	buf_init(&out);
	buf_printf(&out, "Timed out (%s) running check", t);
	if (s->ring.total > 0) {
		buf_addstr(&out, "\n\n");
		chk_output_script(&s->ring, &out);
	}
	log_warnx("check %s: timed out (%s) running check", s->p.run->c->id,
	    t);
	script_close_pipe(s);
	chk_probe_result(s->p.run, CHK_CRITICAL, (char *)out.data);
	buf_free(&out);
	if (s->exited)
		script_end(s);
}

static int
spawn(struct chk_def *d, int wfd, pid_t *pid)
{
	static const int sigs[] = { SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGQUIT,
		SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t def, none;
	int r;

	sigemptyset(&def);
	for (size_t i = 0; i < nitems(sigs); i++)
		sigaddset(&def, sigs[i]);
	sigemptyset(&none);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, wfd, 1);
	posix_spawn_file_actions_adddup2(&fa, wfd, 2);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	r = posix_spawnp(pid, d->args[0], &fa, &at, d->args, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return r;
}

/* Go's exec errors: LookPath's for a bare name, fork/exec's otherwise. */
static char *
spawn_error(const char *arg0, int e)
{
	char t[128];
	if (e == ENOENT && strchr(arg0, '/') == NULL)
		return xasprintf("exec: \"%s\": executable file not found in "
		    "$PATH", arg0);
	return xasprintf("fork/exec %s: %s", arg0, chk_errstr(e, t));
}

void
chk_script_start(struct chk_run *r)
{
	struct script_probe *s;
	int p[2], e;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		char t[128];
		chk_probe_result(r, CHK_CRITICAL, chk_errstr(errno, t));
		chk_probe_end(r);
		return;
	}
	if ((e = spawn(&r->c->def, p[1], &pid)) != 0) {
		char *msg = spawn_error(r->c->def.args[0], e);
		close(p[0]);
		close(p[1]);
		log_warnx("check %s failed to invoke: %s", r->c->id, msg);
		chk_probe_result(r, CHK_CRITICAL, msg);
		free(msg);
		chk_probe_end(r);
		return;
	}
	close(p[1]);
	fd_set_nonblock(p[0], true);
	s = xcalloc(1, sizeof(*s));
	s->p.ops = &script_ops;
	s->p.run = r;
	s->pid = pid;
	s->fd = p[0];
	chk_ring_init(&s->ring, chk_output_max(r->st, &r->c->def));
	ev_io_init(&s->io, script_io_cb, s->fd, EV_READ);
	s->io.data = s;
	ev_io_start(r->st->loop, &s->io);
	ev_child_init(&s->child, script_child_cb, pid, 0);
	s->child.data = s;
	ev_child_start(r->st->loop, &s->child);
	ev_timer_init(&s->tm, script_timeout_cb, (double)r->timeout / 1e9, 0);
	s->tm.data = s;
	ev_timer_start(r->st->loop, &s->tm);
	r->probe = &s->p;
}
