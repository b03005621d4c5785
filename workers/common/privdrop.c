/*
 * The one privilege drop every worker goes through; the order and the
 * reasons are in privdrop.h.  Modelled on OpenBSD's rde_main()/frontend()
 * (chroot, setgroups, setresgid, setresuid) and OpenSSH's
 * privsep_child_demote() + permanently_set_uid() (verify the ids cannot be
 * regained) + ssh_sandbox_child() (rlimits, no_new_privs, seccomp last).
 */
#include "workers/common/privdrop.h"
#include "workers/common/sandbox.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SC_NET		(PRIVDROP_SC_CONNECT | PRIVDROP_SC_BIND)
#define KEEP		PRIVDROP_RLIM_KEEP

/*
 * The five workers (DESIGN.md, "Processes").  NOFILE is sized for each
 * worker's client connections; NPROC counts threads as well and is checked
 * against every process of the worker user, so a worker that needs a thread
 * (store: LevelDB's compaction thread) or a child (checks) keeps the
 * inherited limit and relies on seccomp instead.  FSIZE is inherited by
 * script checks through exec; 0 there would kill any script that writes a
 * temporary file (SIGXFSZ), so checks keeps it too.
 */
static const struct privdrop_policy policies[] = {
	/* gossip persists data_dir/serf: keyrings and member snapshots */
	{ .name = "gossip", .root = PRIVDROP_ROOT_WRITE_DIR, .write_dir = "serf",
	  .nofile = 4096, .nproc = 0, .fsize = KEEP,
	  .syscalls = SC_NET | PRIVDROP_SC_FILES },
	{ .name = "store", .root = PRIVDROP_ROOT_WRITE_DIR, .write_dir = "raft",
	  .nofile = 16384, .nproc = KEEP, .fsize = KEEP,
	  .syscalls = SC_NET | PRIVDROP_SC_THREADS | PRIVDROP_SC_FILES },
	{ .name = "http", .root = PRIVDROP_ROOT_EMPTY,
	  .nofile = 65536, .nproc = 0, .fsize = 0, .syscalls = 0 },
	{ .name = "dns", .root = PRIVDROP_ROOT_EMPTY,
	  .nofile = 8192, .nproc = 0, .fsize = 0,
	  .syscalls = PRIVDROP_SC_CONNECT },
	/* checks persists data_dir/local (its cwd), no chroot: scripts */
	{ .name = "checks", .root = PRIVDROP_ROOT_NONE, .write_dir = "local",
	  .may_exec = true, .nofile = 4096, .nproc = KEEP, .fsize = KEEP,
	  .syscalls = SC_NET | PRIVDROP_SC_THREADS | PRIVDROP_SC_FILES |
	      PRIVDROP_SC_EXEC },
};

const struct privdrop_policy *
privdrop_policy_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(policies) / sizeof(policies[0]);
	    i++)
		if (strcmp(policies[i].name, name) == 0)
			return &policies[i];
	return NULL;
}

const char *
privdrop_user(const struct privdrop_ctx *ctx)
{
	if (ctx->user && ctx->user[0])
		return ctx->user;
	return getpwnam("muster") ? "muster" : "nobody";
}

/* Format a step's failure into err; returns -e (e > 0). */
static int __attribute__((format(printf, 4, 5)))
fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (errlen == 0)
		return -e;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	snprintf(err + n, errlen - n, ": %s", strerror(e));
	return -e;
}

/* The writable directory, data_dir/<write_dir>; NULL when there is none. */
static int
write_path(const struct privdrop_policy *p, const struct privdrop_ctx *ctx,
    char *out, size_t len, char *err, size_t errlen)
{
	out[0] = '\0';
	if (p->write_dir == NULL)
		return 0;
	if (ctx->data_dir == NULL || ctx->data_dir[0] == '\0')
		return fail(err, errlen, EINVAL, "%s: writes %s/ but no data dir",
		    p->name, p->write_dir);
	if ((size_t)snprintf(out, len, "%s/%s", ctx->data_dir, p->write_dir) >=
	    len)
		return fail(err, errlen, ENAMETOOLONG, "data dir %s",
		    ctx->data_dir);
	return 0;
}

/*
 * Refuse to sandbox a process holding a directory descriptor or a second
 * thread: a directory fd stays usable after chroot (openat escapes it), and
 * a thread would keep the old ids and run unfiltered.  Uses /proc, so it
 * must run before chroot; without /proc it checks nothing.
 */
static int
check_process(char *err, size_t errlen)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	struct stat st;
	int r = 0;

	if (d == NULL)
		return 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
			r = fail(err, errlen, EBADF,
			    "fd %d is an open directory", fd);
	}
	closedir(d);
	if (r == 0 && (d = opendir("/proc/self/task")) != NULL) {
		unsigned n = 0;
		while ((de = readdir(d)) != NULL)
			n += de->d_name[0] != '.';
		closedir(d);
		if (n > 1)
			r = fail(err, errlen, EBUSY, "%u threads running", n);
	}
	return r;
}

/* chroot + chdir as root, or only chdir; cwd ends up the writable dir. */
static int
enter_root(const struct privdrop_policy *p, const struct privdrop_ctx *ctx,
    const char *wpath, char *err, size_t errlen)
{
	const char *dir = NULL;

	if (ctx->as_root && p->root == PRIVDROP_ROOT_EMPTY) {
		dir = ctx->empty_dir;
		if (dir == NULL || dir[0] == '\0')
			return fail(err, errlen, EINVAL, "%s: no empty dir",
			    p->name);
	} else if (ctx->as_root && p->root == PRIVDROP_ROOT_WRITE_DIR)
		dir = wpath;
	if (dir && chroot(dir) < 0)
		return fail(err, errlen, errno, "chroot %s", dir);
	if (dir == NULL && wpath[0] != '\0') {
		if (chdir(wpath) < 0)
			return fail(err, errlen, errno, "chdir %s", wpath);
	} else if (chdir("/") < 0)
		return fail(err, errlen, errno, "chdir / in %s",
		    dir ? dir : "/");
	return 0;
}

/*
 * Landlock after chroot: as root a second fence (its absence is only noted),
 * as an ordinary user the only one (its absence is a warning).
 * landlock_restrict_self() needs no_new_privs unless we hold CAP_SYS_ADMIN,
 * which the systemd unit's bounding set leaves out; so no_new_privs is set
 * here, earlier than step 5 (it is idempotent and does not hinder the
 * setresuid that follows).
 */
static int
confine_fs(const struct privdrop_policy *p, const struct privdrop_ctx *ctx,
    char *err, size_t errlen)
{
	char why[160];
	int r;

	/* checks: scripts read (and may write) the whole system; its own
	 * writable dir only sets its working directory. */
	if (p->root == PRIVDROP_ROOT_NONE && (p->write_dir == NULL || p->may_exec))
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, errno, "PR_SET_NO_NEW_PRIVS");
	r = sandbox_landlock(p->write_dir != NULL, why, sizeof(why));
	if (r == -ENOSYS || r == -EOPNOTSUPP) {
		if (ctx->as_root)
			log_debug("no Landlock (%s); chroot only", why);
		else
			log_warnx("file system NOT confined: %s; run as "
			    "root to chroot instead", why);
		return 0;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s", why);
		return r;
	}
	log_debug("Landlock ABI %d applied", r);
	return 0;
}

static int
resolve_user(const struct privdrop_ctx *ctx, uid_t *uid, gid_t *gid,
    char *err, size_t errlen)
{
	const char *name = privdrop_user(ctx);
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL)
		return fail(err, errlen, errno ? errno : ENOENT, "user %s",
		    name);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return fail(err, errlen, EPERM, "user %s has uid or gid 0",
		    name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static int
switch_ids(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (setgroups(1, &gid) < 0)
		return fail(err, errlen, errno, "setgroups %u", (unsigned)gid);
	if (setresgid(gid, gid, gid) < 0)
		return fail(err, errlen, errno, "setresgid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) < 0)
		return fail(err, errlen, errno, "setresuid %u", (unsigned)uid);
	return 0;
}

/* An ordinary user may still hold capabilities (systemd's
 * AmbientCapabilities=, file capabilities on the binary): drop them all. */
static int
drop_caps(char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return fail(err, errlen, errno, "clearing ambient capabilities");
	if (syscall(SYS_capset, &h, d) < 0)
		return fail(err, errlen, errno, "capset");
	return 0;
}

/* After the switch: all ids are the target's, no way back to root
 * (OpenSSH permanently_set_uid()), no capability left. */
static int
verify_ids(bool as_root, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (as_root) {
		if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid ||
		    su != uid || getresgid(&rg, &eg, &sg) < 0 || rg != gid ||
		    eg != gid || sg != gid)
			return fail(err, errlen, EPERM, "ids not switched to "
			    "%u:%u", (unsigned)uid, (unsigned)gid);
		if (setgid(0) != -1 || setuid(0) != -1)
			return fail(err, errlen, EPERM, "could regain root");
	}
	if (syscall(SYS_capget, &h, d) < 0)
		return fail(err, errlen, errno, "capget");
	if (d[0].permitted | d[1].permitted | d[0].effective | d[1].effective |
	    d[0].inheritable | d[1].inheritable)
		return fail(err, errlen, EPERM, "capabilities left after drop");
	return 0;
}

/* Lower (never raise) a limit; soft = hard so it cannot be raised back. */
static int
set_limit(int res, const char *name, rlim_t v, char *err, size_t errlen)
{
	struct rlimit rl;

	if (v == PRIVDROP_RLIM_KEEP)
		return 0;
	if (getrlimit(res, &rl) < 0)
		return fail(err, errlen, errno, "getrlimit %s", name);
	if (rl.rlim_max != RLIM_INFINITY && (v == RLIM_INFINITY ||
	    v > rl.rlim_max))
		v = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = v;
	if (setrlimit(res, &rl) < 0)
		return fail(err, errlen, errno, "setrlimit %s %llu", name,
		    (unsigned long long)v);
	return 0;
}

/*
 * RLIMIT_FSIZE also applies to descriptors already open: with stdout or
 * stderr redirected to a file (muster agent 2>agent.log) FSIZE 0 would
 * kill the worker with SIGXFSZ at its first log line.  Then the limit is
 * left alone; chroot, Landlock and seccomp still stop it opening files.
 */
static rlim_t
fsize_limit(const struct privdrop_policy *p)
{
	struct stat st;

	for (int fd = STDOUT_FILENO; fd <= STDERR_FILENO; fd++)
		if (p->fsize != PRIVDROP_RLIM_KEEP && fstat(fd, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			log_debug("fd %d is a file: RLIMIT_FSIZE left as is", fd);
			return PRIVDROP_RLIM_KEEP;
		}
	return p->fsize;
}

static int
set_limits(const struct privdrop_policy *p, char *err, size_t errlen)
{
	int r;

	if ((r = set_limit(RLIMIT_CORE, "CORE", 0, err, errlen)) < 0 ||
	    (r = set_limit(RLIMIT_NOFILE, "NOFILE", p->nofile, err,
	    errlen)) < 0 ||
	    (r = set_limit(RLIMIT_NPROC, "NPROC", p->nproc, err, errlen)) < 0 ||
	    (r = set_limit(RLIMIT_FSIZE, "FSIZE", fsize_limit(p), err,
	    errlen)) < 0)
		return r;
	return 0;
}

static int
no_way_back(char *err, size_t errlen)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, errno, "PR_SET_NO_NEW_PRIVS");
	/* No ptrace from other processes of the worker user, no core dump
	 * with tokens or keys in it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return fail(err, errlen, errno, "PR_SET_DUMPABLE");
	return 0;
}

int
privdrop_apply(const struct privdrop_policy *p,
    const struct privdrop_ctx *ctx, char *err, size_t errlen)
{
	char wpath[4096];
	uid_t uid = 0;
	gid_t gid = 0;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if (p == NULL || ctx == NULL)
		return fail(err, errlen, EINVAL, "no policy");
	if (ctx->as_root && geteuid() != 0)
		return fail(err, errlen, EPERM, "%s: not root", p->name);
	if ((r = write_path(p, ctx, wpath, sizeof(wpath), err, errlen)) < 0 ||
	    (r = check_process(err, errlen)) < 0)
		return r;
	if (ctx->as_root && (r = resolve_user(ctx, &uid, &gid, err,
	    errlen)) < 0)
		return r;
	sandbox_sanitizer_notify();
	if ((r = enter_root(p, ctx, wpath, err, errlen)) < 0 ||
	    (r = confine_fs(p, ctx, err, errlen)) < 0)
		return r;
	r = ctx->as_root ? switch_ids(uid, gid, err, errlen) :
	    drop_caps(err, errlen);
	if (r < 0 || (r = verify_ids(ctx->as_root, uid, gid, err, errlen)) < 0)
		return r;
	if (p->write_dir && access(".", W_OK | X_OK) < 0)
		return fail(err, errlen, errno, "%s not writable by uid %u",
		    wpath, (unsigned)getuid());
	if ((r = no_way_back(err, errlen)) < 0 ||
	    (r = set_limits(p, err, errlen)) < 0)
		return r;
	return sandbox_seccomp(p, err, errlen);
}
