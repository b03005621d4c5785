/*
 * `muster agent`: parse the configuration once, lay out the data
 * directory, bind every socket, start the workers and watch them.
 */
#include "supervisor/sup.h"
#include "supervisor/config.h"
#include "lib/log.h"
#include "lib/paths.h"
#include "lib/proctitle.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUP_STOP_GRACE 10.0

static void
set_node_id(struct agent_config *c, const char *id)
{
	char *old = c->node_id;
	c->node_id = xstrdup(id);
	free(old);
}

/* The node id persists in data_dir/node-id, as Consul keeps it. */
static int
node_id_setup(struct agent_config *c, struct buf *err)
{
	char id[37], path[4096];
	struct buf b;

	if (c->node_id && c->node_id[0])
		return 0;
	if (c->data_dir == NULL || c->data_dir[0] == '\0') {
		if (uuid_v4(id) < 0)
			return -EIO;
		set_node_id(c, id);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/node-id", c->data_dir);
	buf_init(&b);
	if (read_file(path, 64, &b) == 0 && b.len >= 36) {
		memcpy(id, b.data, 36);
		id[36] = '\0';
		buf_free(&b);
		set_node_id(c, id);
		return 0;
	}
	buf_free(&b);
	if (uuid_v4(id) < 0)
		return -EIO;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, id, 36) < 0 || fsync(fd) < 0) {
		buf_printf(err, "writing %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	close(fd);
	set_node_id(c, id);
	return 0;
}

static const char *
worker_user(const struct agent_config *c)
{
	if (c->user && c->user[0])
		return c->user;
	return getpwnam("muster") ? "muster" : "nobody";
}

/* data_dir and the folders each worker writes, owned by the worker user. */
static int
data_dir_setup(const struct agent_config *c, struct buf *err)
{
	static const char *const sub[] = { "", "/raft", "/serf", "/local" };
	char path[4096];
	struct passwd *pw = NULL;

	if (c->data_dir == NULL || c->data_dir[0] == '\0')
		return 0;
	if (geteuid() == 0 && (pw = getpwnam(worker_user(c))) == NULL) {
		buf_printf(err, "user %s does not exist", worker_user(c));
		return -ENOENT;
	}
	for (size_t i = 0; i < nitems(sub); i++) {
		snprintf(path, sizeof(path), "%s%s", c->data_dir, sub[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			buf_printf(err, "data dir %s: %s", path, strerror(errno));
			return -errno;
		}
		/* The top stays root's but traversable (no listing), so each
		 * worker user reaches its own 0700 folder below it. */
		if (pw && i == 0 && chmod(path, 0711) < 0) {
			buf_printf(err, "chmod %s: %s", path, strerror(errno));
			return -errno;
		}
		if (pw && i > 0 && chown(path, pw->pw_uid, pw->pw_gid) < 0) {
			buf_printf(err, "chown %s: %s", path, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* An empty, root-owned directory for chrooted workers. */
static int
empty_dir_setup(struct sup *s, struct buf *err)
{
	char base[200];
	paths_runtime_dir(base, sizeof(base));
	paths_empty_dir(s->empty_dir, sizeof(s->empty_dir));
	if ((mkdir(base, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(s->empty_dir, 0555) < 0 && errno != EEXIST)) {
		buf_printf(err, "%s: %s", s->empty_dir, strerror(errno));
		return -errno;
	}
	return 0;
}

int
sup_finalize_config(struct sup *s, struct agent_config *c, struct buf *err)
{
	int r;
	if ((r = cfg_resolve_addresses(c, err)) < 0)
		return r;
	if (s->cfg && s->cfg->node_id && (c->node_id == NULL || !c->node_id[0]))
		set_node_id(c, s->cfg->node_id);
	if ((r = node_id_setup(c, err)) < 0)
		return r;
	return 0;
}

static void
write_pid_file(const struct agent_config *c)
{
	if (c->pid_file == NULL || c->pid_file[0] == '\0')
		return;
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	int fd = open(c->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, pid, (size_t)n) < 0)
		log_warn("pid file %s", c->pid_file);
	if (fd >= 0)
		close(fd);
}

static void
stop_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sup *s = t->data;
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++)
		if (s->w[p].pid) {
			log_warnx("%s did not stop in time; killing it",
			    proto_proc_name(p));
			kill(s->w[p].pid, SIGKILL);
		}
}

void
sup_stop(struct sup *s, int exit_code)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->exit_code = exit_code;
	log_info("stopping the agent");
	sup_notify("STOPPING=1");
	sup_workers_stop(s, s->stop_reason);
	ev_timer_init(&s->stop_timer, stop_timer_cb, SUP_STOP_GRACE, 0);
	s->stop_timer.data = s;
	ev_timer_start(s->loop, &s->stop_timer);
	bool any = false;
	for (unsigned p = PROC_GOSSIP; p < PROC_MAX; p++)
		any |= s->w[p].pid != 0;
	if (!any)
		ev_break(s->loop, EVBREAK_ALL);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct sup *s = w->data;
	if (w->signum == SIGHUP) {
		sup_reload(s, NULL, NULL);
		return;
	}
	log_info("caught signal %s", strsignal(w->signum));
	/* Consul: SIGTERM leaves the pools if leave_on_terminate (clients by
	 * default); SIGINT unless skip_leave_on_interrupt (servers skip). */
	if (w->signum == SIGTERM ? s->cfg->leave_on_terminate :
	    !s->cfg->skip_leave_on_interrupt)
		s->stop_reason = 1;
	sup_stop(s, 0);
}

static const char *
first_addr(const struct sup *s, unsigned kind)
{
	for (size_t i = 0; i < s->nls; i++)
		if (s->ls[i].kind == kind)
			return s->ls[i].addr;
	return NULL;
}

void
sup_all_ready(struct sup *s)
{
	const struct agent_config *c = s->cfg;
	const char *http = first_addr(s, LISTEN_HTTP);
	const char *dns = first_addr(s, LISTEN_DNS_UDP);
	const char *ctl = first_addr(s, LISTEN_CONTROL);

	printf("==> muster agent running!\n"
	       "           Version: %s\n"
	       "           Node ID: %s\n"
	       "         Node name: %s\n"
	       "        Datacenter: %s\n"
	       "            Server: %s (Bootstrap: %s)\n"
	       "          HTTP API: %s%s\n"
	       "               DNS: %s\n"
	       "    Control socket: %s%s\n"
	       "      Cluster Addr: %s (LAN: %d, WAN: %d)\n",
	    MUSTER_VERSION, c->node_id, c->node_name, c->datacenter,
	    c->server ? "true" : "false",
	    c->bootstrap || c->dev ? "true" : "false",
	    http ? "http://" : "", http ? http : "(disabled)",
	    dns ? dns : "(disabled)", ctl ? "unix://" : "",
	    ctl ? ctl + strlen("unix:") : "(disabled)", c->advertise_addr,
	    c->ports.serf_lan, c->server ? c->ports.serf_wan : -1);
	fflush(stdout);
	log_info("all workers ready");
	sup_notify("READY=1");
}

static void
install_signals(struct sup *s)
{
	signal(SIGPIPE, SIG_IGN);
	ev_signal_init(&s->sigterm, signal_cb, SIGTERM);
	ev_signal_init(&s->sigint, signal_cb, SIGINT);
	ev_signal_init(&s->sighup, signal_cb, SIGHUP);
	s->sigterm.data = s->sigint.data = s->sighup.data = s;
	ev_signal_start(s->loop, &s->sigterm);
	ev_signal_start(s->loop, &s->sigint);
	ev_signal_start(s->loop, &s->sighup);
	ev_unref(s->loop);
	ev_unref(s->loop);
	ev_unref(s->loop);
}

static int
agent_setup(struct sup *s, struct buf *err)
{
	int r;
	if ((r = cfg_load(s->argc, s->argv, &s->cfg, err)) < 0)
		return 2;
	int lvl = log_level_parse(s->cfg->log_level);
	log_setlevel(lvl >= 0 ? (enum log_level)lvl : LOG_LVL_INFO);
	log_setjson(s->cfg->log_json);
	if (empty_dir_setup(s, err) < 0 || data_dir_setup(s->cfg, err) < 0)
		return 1;
	if ((r = sup_finalize_config(s, s->cfg, err)) < 0)
		return r == -EINVAL ? 2 : 1;
	struct buf json;
	buf_init(&json);
	cfg_dump_json(s->cfg, &json, false);
	s->cfg_json = buf_steal(&json);
	s->cfg_gen = 1;
	if (sup_listen_all(s, err) < 0)
		return 1;
	return 0;
}

int
sup_agent_main(int argc, char **argv)
{
	static struct sup sup;
	struct sup *s = &sup;
	struct buf err;

	proctitle_set("muster: supervisor");
	log_setproc("supervisor");
	s->argc = argc;
	s->argv = argv;
	buf_init(&err);
	int rc = agent_setup(s, &err);
	if (rc != 0) {
		fprintf(stderr, "%s\n", err.data ? (char *)err.data : "error");
		buf_free(&err);
		return rc;
	}
	buf_free(&err);
	s->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	install_signals(s);
	write_pid_file(s->cfg);
	sup_workers_start(s);
	ev_run(s->loop, 0);

	sup_listen_cleanup(s);
	sup_listen_close_all(s);
	if (s->cfg->pid_file && s->cfg->pid_file[0])
		unlink(s->cfg->pid_file);
	log_info("agent stopped");
	int code = s->exit_code;
	cfg_free(s->cfg);
	free(s->cfg_json);
	return code;
}
