/*
 * privdrop_apply() with the five real worker policies.  Every check runs in
 * a grandchild that applies the policy and then does one thing: report who
 * it is, open a file it must not reach, make a call its filter forbids (it
 * must die of SIGSYS), or do its worker's ordinary work.  The test process
 * watches from outside: /proc/<pid>/status, /proc/<pid>/root, prlimit(),
 * the wait status, and files left (or not) in the data directory.
 *
 * Two start modes: as root (switch to the worker user + chroot) and as an
 * ordinary user (Landlock only), the latter simulated by becoming the worker
 * user before the call.  Run as non-root, the root mode is skipped with a
 * message and the ordinary-user mode runs as the calling user.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <ev.h>
#include <leveldb/c.h>
#include <openssl/rand.h>
#include <pthread.h>

#include "lib/log.h"
#include "workers/common/privdrop.h"

static const char *const workers[] = { "gossip", "store", "http", "dns",
	"checks" };
#define NWORKERS (sizeof(workers) / sizeof(workers[0]))

enum mode { AS_ROOT, AS_USER };

/* Per test: a scratch tree, and who the workers become. */
static struct {
	char base[64], empty[96], data[96], udata[96];
	uid_t uid;		/* root mode: the default worker user */
	gid_t gid;
	uid_t uuid;		/* ordinary-user mode: who we run as */
	gid_t ugid;
	bool root;
} E;

static bool
is_worker(const char *w, const char *name)
{
	return strcmp(w, name) == 0;
}

static void
mkdir_owned(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	ck_assert_msg(mkdir(path, mode) == 0, "mkdir %s: %s", path,
	    strerror(errno));
	ck_assert(chmod(path, mode) == 0);
	if (E.root)
		ck_assert(chown(path, uid, gid) == 0);
}

/* The layout the supervisor creates (supervisor/agent.c): a root-owned
 * 0555 empty dir, a root-owned 0700 data dir whose raft/ and serf/ belong
 * to the worker user; and an ordinary user's data dir, all its own. */
static void
setup(void)
{
	char p[160];
	struct passwd *pw;

	E.root = geteuid() == 0;
	pw = getpwnam(privdrop_user(&(struct privdrop_ctx){ 0 }));
	ck_assert(pw != NULL);
	E.uid = pw->pw_uid;
	E.gid = pw->pw_gid;
	E.uuid = E.root ? E.uid : getuid();
	E.ugid = E.root ? E.gid : getgid();
	snprintf(E.base, sizeof(E.base), "/tmp/muster-privdrop-XXXXXX");
	ck_assert(mkdtemp(E.base) != NULL);
	ck_assert(chmod(E.base, 0711) == 0);
	snprintf(E.empty, sizeof(E.empty), "%s/empty", E.base);
	snprintf(E.data, sizeof(E.data), "%s/data", E.base);
	snprintf(E.udata, sizeof(E.udata), "%s/udata", E.base);
	mkdir_owned(E.empty, 0555, 0, 0);
	mkdir_owned(E.data, 0700, 0, 0);
	mkdir_owned(E.udata, 0700, E.uuid, E.ugid);
	snprintf(p, sizeof(p), "%s/raft", E.data);
	mkdir_owned(p, 0700, E.uid, E.gid);
	snprintf(p, sizeof(p), "%s/serf", E.data);
	mkdir_owned(p, 0700, E.uid, E.gid);
	snprintf(p, sizeof(p), "%s/raft", E.udata);
	mkdir_owned(p, 0700, E.uuid, E.ugid);
	snprintf(p, sizeof(p), "%s/serf", E.udata);
	mkdir_owned(p, 0700, E.uuid, E.ugid);
	snprintf(p, sizeof(p), "%s/local", E.data);
	mkdir_owned(p, 0700, E.uid, E.gid);
	snprintf(p, sizeof(p), "%s/local", E.udata);
	mkdir_owned(p, 0700, E.uuid, E.ugid);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path);
}

static void
teardown(void)
{
	nftw(E.base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool
landlock_available(void)
{
	return syscall(444 /* landlock_create_ruleset */, NULL, 0, 1) > 0;
}

/* ---- running a sandboxed grandchild --------------------------------- */

struct child {
	pid_t pid;
	int res;		/* its reports (fd 3 in the child) */
	int err;		/* its stderr */
	int go;			/* we write here to let it go on */
	int status;
	char out[4096], log[8192];
};

typedef void probe_fn(int out, void *arg);

/*
 * Assertions inside the grandchild: Check's own ck_assert() records each
 * passing check in its message file, a regular file, which RLIMIT_FSIZE 0
 * forbids (SIGXFSZ).  The grandchild reports on stderr and exits 4.
 */
#define CHILD_ASSERT(cond) do {						\
	if (!(cond)) {							\
		dprintf(STDERR_FILENO, "%s:%d: child assertion %s failed\n",\
		    __FILE__, __LINE__, #cond);				\
		_exit(4);						\
	}								\
} while (0)

/* In the grandchild: the read end of its "go" pipe (EOF = go on). */
static int child_go = -1;

static const char *
data_for(enum mode m)
{
	return m == AS_ROOT ? E.data : E.udata;
}

/* In the grandchild: become an ordinary user if asked, then the policy. */
static void
enter(const char *worker, enum mode m, int out)
{
	struct privdrop_ctx ctx = { .empty_dir = E.empty,
		.data_dir = data_for(m), .as_root = m == AS_ROOT };
	char err[256];

	/* An ordinary user's process, as exec'd: the uid change made it
	 * non-dumpable, an exec would make it dumpable again. */
	if (m == AS_USER && E.root && (setgroups(1, &E.ugid) < 0 ||
	    setresgid(E.ugid, E.ugid, E.ugid) < 0 ||
	    setresuid(E.uuid, E.uuid, E.uuid) < 0 ||
	    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0))
		_exit(3);
	if (privdrop_apply(privdrop_policy_find(worker), &ctx, err,
	    sizeof(err)) < 0) {
		dprintf(out, "apply failed: %s\n", err);
		_exit(2);
	}
}

static void
start(struct child *c, const char *worker, enum mode m, probe_fn *fn,
    void *arg)
{
	int res[2], err[2], go[2];

	ck_assert(pipe2(res, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0 &&
	    pipe2(go, O_CLOEXEC) == 0);
	memset(c, 0, sizeof(*c));
	if ((c->pid = fork()) == 0) {
		/* A worker starts from exec: default signal handling, not
		 * Check's handlers (a SIGTERM handler inherited by a check
		 * script's fork would kill the whole test group). */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		/* stdout/stderr are pipes, as under systemd (not files:
		 * see fsize_limit() in privdrop.c). */
		dup2(err[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		close(res[0]);
		close(go[1]);
		child_go = go[0];
		if (worker != NULL)
			enter(worker, m, res[1]);
		fn(res[1], arg);
		_exit(0);
	}
	ck_assert(c->pid > 0);
	close(res[1]);
	close(err[1]);
	close(go[0]);
	c->res = res[0];
	c->err = err[0];
	c->go = go[1];
}

static void
read_all(int fd, char *buf, size_t len)
{
	size_t o = strlen(buf);
	ssize_t n;

	while (o + 1 < len && (n = read(fd, buf + o, len - 1 - o)) > 0)
		o += (size_t)n;
	buf[o] = '\0';
}

/* Reads reports until EOF, reaps the child. */
static void
finish(struct child *c)
{
	close(c->go);
	read_all(c->res, c->out, sizeof(c->out));
	read_all(c->err, c->log, sizeof(c->log));
	ck_assert(waitpid(c->pid, &c->status, 0) == c->pid);
	close(c->res);
	close(c->err);
	if (c->log[0])
		fprintf(stderr, "[child %d] %s", (int)c->pid, c->log);
}

static void
run(struct child *c, const char *worker, enum mode m, probe_fn *fn,
    void *arg)
{
	start(c, worker, m, fn, arg);
	finish(c);
}

static void
assert_exited_ok(const struct child *c, const char *what)
{
	ck_assert_msg(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
	    "%s: status 0x%x, reported: %s", what, c->status, c->out);
}

static void
assert_sigsys(const struct child *c, const char *what)
{
	ck_assert_msg(WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGSYS,
	    "%s: expected death by SIGSYS, got status 0x%x (%s)", what,
	    c->status, c->out);
}

/* Skip root-only parts when not root, saying so. */
static bool
skip_root(enum mode m, const char *test)
{
	if (m == AS_ROOT && !E.root) {
		fprintf(stderr, "privdrop: %s: not root, skipping the user "
		    "switch and chroot checks\n", test);
		return true;
	}
	return false;
}

/* ---- identity: who the sandboxed process is, seen from both sides ---- */

static void
probe_identity(int out, void *arg)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	char go;

	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	dprintf(out, "uid=%u,%u,%u gid=%u,%u,%u dumpable=%d\nready\n",
	    (unsigned)r, (unsigned)e, (unsigned)s, (unsigned)rg,
	    (unsigned)eg, (unsigned)sg, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	/* Stay alive while the parent looks at /proc/<pid>. */
	(void)!read(child_go, &go, 1);
}

/* The value of "Key:" in /proc/<pid>/status, tabs turned to spaces. */
static void
status_field(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[512];
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ck_assert((f = fopen(path, "r")) != NULL);
	val[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			char *v = line + kl + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			for (char *t = v; *t; t++)
				*t = *t == '\t' ? ' ' : *t;
			snprintf(val, len, "%s", v);
		}
	fclose(f);
}

static void
assert_status(pid_t pid, const char *key, const char *want)
{
	char v[256];

	status_field(pid, key, v, sizeof(v));
	while (v[0] && v[strlen(v) - 1] == ' ')
		v[strlen(v) - 1] = '\0';
	ck_assert_msg(strcmp(v, want) == 0, "/proc/%d/status %s: '%s', "
	    "want '%s'", (int)pid, key, v, want);
}

static void
assert_link(pid_t pid, const char *what, const char *want)
{
	char path[64], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	ck_assert((n = readlink(path, target, sizeof(target) - 1)) > 0);
	target[n] = '\0';
	ck_assert_msg(strcmp(target, want) == 0, "%s -> %s, want %s", path,
	    target, want);
}

/* A limit as /proc/<pid>/limits shows it (prlimit() on another process
 * needs CAP_SYS_RESOURCE, which a container's root may lack). */
static void
assert_limit(pid_t pid, const char *name, rlim_t want)
{
	char path[64], line[256], soft[32] = "", hard[32] = "", w[32];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	ck_assert((f = fopen(path, "r")) != NULL);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, strlen(name)) == 0)
			sscanf(line + 26, "%31s %31s", soft, hard);
	fclose(f);
	snprintf(w, sizeof(w), "%llu", (unsigned long long)want);
	ck_assert_msg(strcmp(soft, w) == 0 && strcmp(hard, w) == 0,
	    "%s: %s/%s, want %s", name, soft, hard, w);
}

/* Where the child's root and current directory must be. */
static void
expected_dirs(const char *w, enum mode m, char *root, char *cwd, size_t len)
{
	const struct privdrop_policy *p = privdrop_policy_find(w);

	snprintf(root, len, "/");
	if (m == AS_ROOT && p->root == PRIVDROP_ROOT_EMPTY)
		snprintf(root, len, "%s", E.empty);
	else if (m == AS_ROOT && p->root == PRIVDROP_ROOT_WRITE_DIR)
		snprintf(root, len, "%s/%s", E.data, p->write_dir);
	snprintf(cwd, len, "%s", root);
	if (m == AS_USER && p->write_dir)
		snprintf(cwd, len, "%s/%s", E.udata, p->write_dir);
	/* Not chrooted but with a folder of its own (checks): works there. */
	if (m == AS_ROOT && p->root == PRIVDROP_ROOT_NONE && p->write_dir)
		snprintf(cwd, len, "%s/%s", E.data, p->write_dir);
}

static void
check_from_outside(const char *w, enum mode m, pid_t pid)
{
	const struct privdrop_policy *p = privdrop_policy_find(w);
	char want[128], root[PATH_MAX], cwd[PATH_MAX];
	unsigned u = (unsigned)E.uuid, g = (unsigned)E.ugid;
	struct rlimit rl;

	snprintf(want, sizeof(want), "%u %u %u %u", u, u, u, u);
	assert_status(pid, "Uid", want);
	snprintf(want, sizeof(want), "%u %u %u %u", g, g, g, g);
	assert_status(pid, "Gid", want);
	if (E.root) {
		snprintf(want, sizeof(want), "%u", g);
		assert_status(pid, "Groups", want);
	}
	assert_status(pid, "NoNewPrivs", "1");
	assert_status(pid, "Seccomp", "2");
	assert_status(pid, "CapEff", "0000000000000000");
	assert_status(pid, "CapPrm", "0000000000000000");
	assert_status(pid, "CapAmb", "0000000000000000");
	expected_dirs(w, m, root, cwd, sizeof(root));
	if (E.root) {	/* non-dumpable: only root may read the links */
		assert_link(pid, "root", root);
		assert_link(pid, "cwd", cwd);
	}
	assert_limit(pid, "Max core file size", 0);
	/* Lowered to the policy's value, never raised above our hard limit. */
	ck_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	assert_limit(pid, "Max open files", rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < p->nofile ? rl.rlim_max : p->nofile);
	if (p->nproc != PRIVDROP_RLIM_KEEP)
		assert_limit(pid, "Max processes", p->nproc);
	if (p->fsize != PRIVDROP_RLIM_KEEP)
		assert_limit(pid, "Max file size", p->fsize);
}

static void
identity(const char *w, enum mode m)
{
	struct child c;
	char want[128];
	unsigned u = (unsigned)E.uuid, g = (unsigned)E.ugid;

	start(&c, w, m, probe_identity, NULL);
	/* Wait for "ready": the policy is applied and the child waits. */
	while (strstr(c.out, "ready\n") == NULL) {
		size_t o = strlen(c.out);
		ssize_t n = read(c.res, c.out + o, sizeof(c.out) - 1 - o);
		ck_assert_msg(n > 0, "%s: child ended early: %s", w, c.out);
		c.out[o + (size_t)n] = '\0';
	}
	check_from_outside(w, m, c.pid);
	finish(&c);
	assert_exited_ok(&c, w);
	snprintf(want, sizeof(want), "uid=%u,%u,%u gid=%u,%u,%u dumpable=0",
	    u, u, u, g, g, g);
	ck_assert_msg(strstr(c.out, want) != NULL, "%s reported %s, want %s",
	    w, c.out, want);
	if (m == AS_ROOT)
		ck_assert_uint_ne(u, 0);
}

START_TEST(test_identity_root)
{
	if (!skip_root(AS_ROOT, "identity"))
		identity(workers[_i], AS_ROOT);
}
END_TEST

START_TEST(test_identity_user)
{
	identity(workers[_i], AS_USER);
}
END_TEST

/* ---- files outside the policy --------------------------------------- */

static void
probe_open(int out, void *arg)
{
	const char *const *paths = arg;

	for (; *paths; paths++) {
		int fd = open(*paths, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			fd = open(*paths, O_RDONLY | O_CLOEXEC);
		dprintf(out, "%s: %s\n", *paths, fd < 0 ? "denied" : "OPENED");
	}
}

static void
forbidden_open(const char *w, enum mode m)
{
	char leak_abs[160], leak_raft[160], leak_check[160], want[200];
	char leak_rel[32];
	/* Another worker's folder: gossip's own is serf/, so it gets raft/. */
	const char *foreign = is_worker(w, "gossip") ? "raft" : "serf";
	const char *paths[5] = { "/etc/passwd", leak_abs, leak_rel, NULL, NULL };
	struct child c;
	struct stat st;

	snprintf(leak_rel, sizeof(leak_rel), "../%s/leak2", foreign);
	snprintf(leak_abs, sizeof(leak_abs), "%s/%s/leak", data_for(m), foreign);
	snprintf(leak_raft, sizeof(leak_raft), "%s/raft/leak", data_for(m));
	if (is_worker(w, "checks")) {
		if (m == AS_USER) {
			fprintf(stderr, "privdrop: checks started as an "
			    "ordinary user has no file-system confinement "
			    "(scripts use the whole system): nothing to "
			    "test\n");
			return;
		}
		/* As root the data dir is root's (0700): the check runner's
		 * user cannot reach raft/ or serf/ in it. */
		paths[0] = leak_raft;
		paths[2] = NULL;
	} else if (!is_worker(w, "store") && !is_worker(w, "gossip"))
		paths[3] = leak_raft;
	run(&c, w, m, probe_open, paths);
	assert_exited_ok(&c, w);
	for (const char *const *p = paths; *p; p++) {
		snprintf(want, sizeof(want), "%s: denied\n", *p);
		ck_assert_msg(strstr(c.out, want) != NULL, "%s: %s", w, c.out);
	}
	ck_assert_msg(stat(leak_abs, &st) < 0 && errno == ENOENT,
	    "%s created %s", w, leak_abs);
	snprintf(leak_check, sizeof(leak_check), "%s/%s/leak2",
	    data_for(m), foreign);
	ck_assert(stat(leak_check, &st) < 0 && errno == ENOENT);
	if (!is_worker(w, "store"))
		ck_assert(stat(leak_raft, &st) < 0 && errno == ENOENT);
}

START_TEST(test_open_root)
{
	if (!skip_root(AS_ROOT, "open"))
		forbidden_open(workers[_i], AS_ROOT);
}
END_TEST

START_TEST(test_open_user)
{
	if (!landlock_available()) {
		fprintf(stderr, "privdrop: no Landlock in this kernel: an "
		    "ordinary user's workers are not file-confined (logged "
		    "as a warning at start)\n");
		return;
	}
	forbidden_open(workers[_i], AS_USER);
}
END_TEST

/* ---- calls the filter forbids: death by SIGSYS ---------------------- */

static void
do_ptrace(void)
{
	syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
}

static void
do_mount(void)
{
	mount("none", "/", "tmpfs", 0, NULL);
}

static void
do_unshare(void)
{
	unshare(CLONE_NEWUSER | CLONE_NEWNS);
}

static void
do_bpf(void)
{
	syscall(SYS_bpf, 0, NULL, 0);
}

static void
do_dumpable(void)
{
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

static void
do_execve(void)
{
	char *const argv[] = { "true", NULL };
	execve("/bin/true", argv, argv + 1);
}

static void
do_fork(void)
{
	if (fork() == 0)
		_exit(0);
}

static void
do_socket_inet(void)
{
	socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static void
do_bind(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bind(s, (struct sockaddr *)&sin, sizeof(sin));
}

static void
do_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
}

static void
do_kill_other(void)
{
	kill(1, 0);
}

#ifdef __x86_64__
static void
do_x32(void)
{
	/* x32 getpid: another ABI, must hit the architecture check. */
	syscall(0x40000000 | 39);
}
#endif

static const struct forbidden {
	const char *what;
	void (*fn)(void);
	const char *workers;	/* who must die of it */
} forbidden[] = {
	{ "ptrace", do_ptrace, "gossip store http dns checks" },
	{ "mount", do_mount, "gossip store http dns checks" },
	{ "unshare", do_unshare, "gossip store http dns checks" },
	{ "bpf", do_bpf, "gossip store http dns checks" },
	{ "PR_SET_DUMPABLE", do_dumpable, "gossip store http dns checks" },
#ifdef __x86_64__
	{ "x32 syscall", do_x32, "gossip store http dns checks" },
#endif
	{ "execve", do_execve, "gossip store http dns" },
	{ "fork", do_fork, "gossip store http dns" },
	{ "mmap PROT_EXEC", do_mmap_exec, "gossip store http dns" },
	{ "kill(1)", do_kill_other, "gossip store http dns" },
	{ "socket(AF_INET)", do_socket_inet, "http" },
	{ "bind", do_bind, "dns http" },
};

static void
probe_forbidden(int out, void *arg)
{
	const struct forbidden *f = arg;

	unsetenv("MUSTER_SECCOMP_DEBUG");
	f->fn();
	dprintf(out, "%s survived\n", f->what);
}

static bool
in_list(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

static void
forbidden_calls(const char *w, enum mode m)
{
	struct child c;
	char what[96];

	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		if (!in_list(forbidden[i].workers, w))
			continue;
		run(&c, w, m, probe_forbidden, (void *)&forbidden[i]);
		snprintf(what, sizeof(what), "%s: %s", w, forbidden[i].what);
		assert_sigsys(&c, what);
	}
}

START_TEST(test_forbidden_root)
{
	if (!skip_root(AS_ROOT, "forbidden"))
		forbidden_calls(workers[_i], AS_ROOT);
}
END_TEST

START_TEST(test_forbidden_user)
{
	forbidden_calls(workers[_i], AS_USER);
}
END_TEST

/* ---- harmless probes: an errno, not death --------------------------- */

static const char *
errname(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case ENOSYS: return "ENOSYS";
	case ENOTTY: return "ENOTTY";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	default: return "other";
	}
}

#define REPORT(out, name, call) do {					\
	errno = 0;							\
	long r_ = (long)(call);						\
	dprintf(out, "%s=%s\n", name, r_ < 0 ? errname(errno) : "ok");	\
} while (0)

static void
probe_errnos(int out, void *arg)
{
	struct stat st;

	REPORT(out, "open", open("/etc/hosts", O_RDONLY | O_CLOEXEC));
	REPORT(out, "stat", stat("/etc/hosts", &st));
	REPORT(out, "fstat", fstat(STDERR_FILENO, &st));
	REPORT(out, "unix", socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	REPORT(out, "tcgets", isatty(STDERR_FILENO) ? 0 : -1);
	if (is_worker(arg, "store"))	/* threads, but through clone */
		REPORT(out, "clone3", syscall(SYS_clone3, NULL, 0));
	if (is_worker(arg, "checks")) {
		REPORT(out, "setuid", setuid(0));
		REPORT(out, "chown", chown("/tmp", 0, 0));
	}
}

START_TEST(test_errnos)
{
	const char *w = workers[_i];
	enum mode m = E.root ? AS_ROOT : AS_USER;
	bool files = privdrop_policy_find(w)->syscalls & PRIVDROP_SC_FILES;
	struct child c;

	run(&c, w, m, probe_errnos, (void *)w);
	assert_exited_ok(&c, w);
	/* Without file access a path lookup is EACCES from the filter; the
	 * store's is ENOENT: its chroot has no /etc. */
	if (!files)
		ck_assert_msg(strstr(c.out, "open=EACCES\nstat=EACCES\n"),
		    "%s: %s", w, c.out);
	else if (m == AS_ROOT && is_worker(w, "store"))
		ck_assert_msg(strstr(c.out, "open=ENOENT\n"), "%s", c.out);
	ck_assert_msg(strstr(c.out, "fstat=ok\n"), "%s: %s", w, c.out);
	ck_assert_msg(strstr(c.out, is_worker(w, "checks") ? "unix=ok\n" :
	    "unix=EAFNOSUPPORT\n"), "%s: %s", w, c.out);
	ck_assert_msg(strstr(c.out, "tcgets=ENOTTY\n"), "%s: %s", w, c.out);
	if (is_worker(w, "store"))
		ck_assert_msg(strstr(c.out, "clone3=ENOSYS\n"), "%s", c.out);
	if (is_worker(w, "checks"))
		ck_assert_msg(strstr(c.out, "setuid=EPERM\nchown=EPERM\n"),
		    "%s", c.out);
}
END_TEST

/* ---- MUSTER_SECCOMP_DEBUG=1 ----------------------------------------- */

static void
probe_debug(int out, void *arg)
{
	long r = syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0);
	dprintf(out, "ptrace=%ld %s\n", r, errname(errno));
}

START_TEST(test_debug_mode)
{
	struct child c;

	setenv("MUSTER_SECCOMP_DEBUG", "1", 1);
	run(&c, "http", E.root ? AS_ROOT : AS_USER, probe_debug, NULL);
	unsetenv("MUSTER_SECCOMP_DEBUG");
	assert_exited_ok(&c, "debug mode");
	ck_assert_msg(strstr(c.out, "ptrace=-1 ENOSYS"), "%s", c.out);
	ck_assert_msg(strstr(c.log, "seccomp: ") &&
	    strstr(c.log, " (ptrace) not allowed"), "stderr: %s", c.log);
}
END_TEST

/* ---- ordinary work -------------------------------------------------- */

/* Loopback peers the workers talk to, made before the fork the way the
 * supervisor makes sockets before exec. */
static struct {
	int tcp;		/* a peer's listener: workers connect here */
	int udp;		/* a peer's datagram socket (recursor, node) */
	int http;		/* listener handed to the http worker ... */
	int http_client;	/* ... with this client already queued */
	struct sockaddr_in tcp_addr, udp_addr;
} N;

static int
loopback_socket(int type, struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	struct timeval tv = { .tv_sec = 5 };
	int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(s >= 0 && bind(s, (struct sockaddr *)sin, len) == 0);
	ck_assert(getsockname(s, (struct sockaddr *)sin, &len) == 0);
	ck_assert(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ==
	    0);
	if (type == SOCK_STREAM)
		ck_assert(listen(s, 8) == 0);
	return s;
}

static void
net_open(void)
{
	struct sockaddr_in h;

	N.tcp = loopback_socket(SOCK_STREAM, &N.tcp_addr);
	N.udp = loopback_socket(SOCK_DGRAM, &N.udp_addr);
	N.http = loopback_socket(SOCK_STREAM, &h);
	N.http_client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(connect(N.http_client, (struct sockaddr *)&h, sizeof(h)) ==
	    0);
	ck_assert(write(N.http_client, "GET / HTTP/1.0\r\n\r\n", 18) == 18);
}

/* What every worker does all day: a libev loop with a timer, an io
 * watcher, a signal and an async wake-up; OpenSSL randomness; logging. */
static int ev_fired;

static void
on_timer(struct ev_loop *l, ev_timer *w, int ev)
{
	ev_fired |= 1;
	kill(getpid(), SIGUSR1);
}

static void
on_io(struct ev_loop *l, ev_io *w, int ev)
{
	char b[8];
	if (read(w->fd, b, sizeof(b)) > 0)
		ev_fired |= 2;
	ev_io_stop(l, w);
	ev_async_send(l, w->data);
}

static void
on_signal(struct ev_loop *l, ev_signal *w, int ev)
{
	ev_fired |= 4;
	ev_signal_stop(l, w);
}

static void
on_async(struct ev_loop *l, ev_async *w, int ev)
{
	ev_fired |= 8;
	ev_async_stop(l, w);
}

static void
common_work(int out, const char *w)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
	ev_timer t;
	ev_io io;
	ev_signal sig;
	ev_async as;
	unsigned char rnd[32];
	int p[2];

	CHILD_ASSERT(loop != NULL && pipe2(p, O_CLOEXEC) == 0);
	CHILD_ASSERT(write(p[1], "x", 1) == 1);
	ev_timer_init(&t, on_timer, 0.001, 0.);
	ev_io_init(&io, on_io, p[0], EV_READ);
	io.data = &as;
	ev_signal_init(&sig, on_signal, SIGUSR1);
	ev_async_init(&as, on_async);
	ev_timer_start(loop, &t);
	ev_io_start(loop, &io);
	ev_signal_start(loop, &sig);
	ev_async_start(loop, &as);
	ev_run(loop, 0);
	dprintf(out, "libev=%d\n", ev_fired);
	dprintf(out, "rand=%d\n", RAND_bytes(rnd, sizeof(rnd)));
	log_info("%s: sandboxed and working", w);
}

/* A TCP connection to the peer, from 127.0.0.1 (bound first when the
 * policy has PRIVDROP_SC_BIND, as outgoing peer connections are). */
static void
connect_peer(int out, bool bind_src, const char *msg)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || (bind_src && bind(s, (struct sockaddr *)&src,
	    sizeof(src)) < 0) || connect(s, (struct sockaddr *)&N.tcp_addr,
	    sizeof(N.tcp_addr)) < 0 || write(s, msg, strlen(msg)) < 0)
		dprintf(out, "tcp=%s\n", strerror(errno));
	else
		dprintf(out, "tcp=ok\n");
	close(s);
}

/* A datagram to the peer and its answer (a query to a recursor, a
 * gossip probe); the test process echoes it back. */
static void
udp_exchange(int out, bool bind_src)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	char buf[64];
	ssize_t n = -1;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s >= 0 && (!bind_src || bind(s, (struct sockaddr *)&src,
	    sizeof(src)) == 0) &&
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
	    sendto(s, "query", 5, 0, (struct sockaddr *)&N.udp_addr,
	    sizeof(N.udp_addr)) == 5)
		n = recv(s, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	dprintf(out, "udp=%s\n", n > 0 ? buf : strerror(errno));
	close(s);
}

/* The peer side of udp_exchange(), run while the child waits. */
static void
udp_echo(void)
{
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	char buf[64];
	ssize_t n = recvfrom(N.udp, buf, sizeof(buf), 0,
	    (struct sockaddr *)&from, &fl);

	ck_assert_msg(n == 5, "no datagram from the worker");
	ck_assert(sendto(N.udp, "answer", 6, 0, (struct sockaddr *)&from,
	    fl) == 6);
}

/* What arrived on the peer's listener. */
static void
assert_tcp_received(const char *want)
{
	char buf[64] = "";
	int s = accept4(N.tcp, NULL, NULL, SOCK_CLOEXEC);

	ck_assert_msg(s >= 0, "no connection from the worker");
	read_all(s, buf, sizeof(buf));
	close(s);
	ck_assert_str_eq(buf, want);
}

static void
work_gossip(int out)
{
	connect_peer(out, true, "gossip");
	udp_exchange(out, true);
}

/* The store's day: LevelDB (with its background thread) in its data
 * directory, by relative path, plus a snapshot-style write + rename. */
static void
work_store(int out)
{
	leveldb_options_t *o = leveldb_options_create();
	leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
	leveldb_readoptions_t *ro = leveldb_readoptions_create();
	char *e = NULL, *v;
	size_t vlen = 0;
	leveldb_t *db;
	int fd;

	leveldb_options_set_create_if_missing(o, 1);
	leveldb_writeoptions_set_sync(wo, 1);
	db = leveldb_open(o, "log.db", &e);
	for (int i = 0; db && !e && i < 2000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%05d", i);
		leveldb_put(db, wo, k, strlen(k), "value", 5, &e);
	}
	if (db && !e)
		leveldb_compact_range(db, NULL, 0, NULL, 0);
	v = db && !e ? leveldb_get(db, ro, "k01999", 6, &vlen, &e) : NULL;
	dprintf(out, "leveldb=%s\n", e ? e : v && vlen == 5 ? "ok" : "lost");
	leveldb_free(v);
	leveldb_free(e);
	if (db)
		leveldb_close(db);
	leveldb_options_destroy(o);
	leveldb_writeoptions_destroy(wo);
	leveldb_readoptions_destroy(ro);
	fd = open("snap.tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	REPORT(out, "snapshot", fd >= 0 && write(fd, "state", 5) == 5 &&
	    fsync(fd) == 0 && close(fd) == 0 && mkdir("snaps", 0700) == 0 &&
	    rename("snap.tmp", "snaps/1") == 0 ? 0 : -1);
	connect_peer(out, true, "store");
}

static void
work_http(int out)
{
	char buf[64] = "";
	int c = accept4(N.http, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	ssize_t n = c < 0 ? -1 : recv(c, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n > 0 && strncmp(buf, "GET / ", 6) == 0 &&
	    send(c, "HTTP/1.0 200 OK\r\n\r\n", 19, MSG_NOSIGNAL) == 19)
		dprintf(out, "http=ok\n");
	else
		dprintf(out, "http=%s\n", strerror(errno));
	close(c);
}

static void
work_dns(int out)
{
	udp_exchange(out, false);
	connect_peer(out, false, "dns");
}

/* A script check: fork, exec /bin/sh, read its output, wait for its exit
 * code; a timed-out check: kill it and reap it. */
static void
work_checks(int out)
{
	char buf[64] = "";
	int p[2], st = -1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		dprintf(out, "script=%s\n", strerror(errno));
		return;
	}
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c",
		    "echo $((6*7)) $(echo ok | tr a-z A-Z); exit 3", NULL);
		_exit(127);
	}
	close(p[1]);
	read_all(p[0], buf, sizeof(buf));
	waitpid(pid, &st, 0);
	dprintf(out, "script=%d %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, buf);
	if ((pid = fork()) == 0) {
		execl("/bin/sleep", "sleep", "30", NULL);
		_exit(127);
	}
	if (pid < 0) {
		dprintf(out, "timeout=fork: %s\n", strerror(errno));
		return;
	}
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	dprintf(out, "timeout=%d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
	connect_peer(out, false, "checks");
}

static void
probe_work(int out, void *arg)
{
	const char *w = arg;

	if (is_worker(w, "gossip"))
		work_gossip(out);
	else if (is_worker(w, "store"))
		work_store(out);
	else if (is_worker(w, "http"))
		work_http(out);
	else if (is_worker(w, "dns"))
		work_dns(out);
	else
		work_checks(out);
	common_work(out, w);
}

static void
assert_out(const struct child *c, const char *w, const char *want)
{
	ck_assert_msg(strstr(c->out, want) != NULL, "%s: want '%s' in:\n%s",
	    w, want, c->out);
}

static void
work(const char *w, enum mode m)
{
	char path[200], buf[64] = "";
	struct child c;
	int fd;

	net_open();
	start(&c, w, m, probe_work, (void *)w);
	if (is_worker(w, "gossip") || is_worker(w, "dns"))
		udp_echo();
	finish(&c);
	assert_exited_ok(&c, w);
	assert_out(&c, w, "libev=15\n");
	assert_out(&c, w, "rand=1\n");
	if (!is_worker(w, "http"))
		assert_tcp_received(w);
	if (is_worker(w, "gossip") || is_worker(w, "dns"))
		assert_out(&c, w, "udp=answer\n");
	if (is_worker(w, "http")) {
		assert_out(&c, w, "http=ok\n");
		read_all(N.http_client, buf, sizeof(buf));
		ck_assert_str_eq(buf, "HTTP/1.0 200 OK\r\n\r\n");
	}
	if (is_worker(w, "checks")) {
		assert_out(&c, w, "script=3 42 OK\n");
		assert_out(&c, w, "timeout=15\n");
	}
	if (is_worker(w, "store")) {
		assert_out(&c, w, "leveldb=ok\n");
		assert_out(&c, w, "snapshot=ok\n");
		snprintf(path, sizeof(path), "%s/raft/snaps/1", data_for(m));
		ck_assert_msg((fd = open(path, O_RDONLY)) >= 0, "%s", path);
		read_all(fd, buf, sizeof(buf));
		close(fd);
		ck_assert_str_eq(buf, "state");
		snprintf(path, sizeof(path), "%s/raft/log.db/CURRENT",
		    data_for(m));
		ck_assert_msg(access(path, F_OK) == 0, "%s", path);
	}
}

START_TEST(test_work_root)
{
	if (!skip_root(AS_ROOT, "work"))
		work(workers[_i], AS_ROOT);
}
END_TEST

START_TEST(test_work_user)
{
	work(workers[_i], AS_USER);
}
END_TEST

/* ---- refusals: a precise message, a negative errno ------------------ */

struct refusal {
	const char *worker;
	struct privdrop_ctx ctx;
	void (*before)(void);	/* in the child, before the call */
	int want;
	const char *msg;	/* substring of the message */
};

static void *
idle_thread(void *arg)
{
	pause();
	return arg;
}

static void
open_dir_fd(void)
{
	CHILD_ASSERT(open("/", O_RDONLY | O_DIRECTORY) >= 0);
}

static void
start_thread(void)
{
	pthread_t t;
	CHILD_ASSERT(pthread_create(&t, NULL, idle_thread, NULL) == 0);
}

static void
probe_refusal(int out, void *arg)
{
	const struct refusal *rf = arg;
	char err[256];
	int r;

	if (rf->before)
		rf->before();
	r = privdrop_apply(privdrop_policy_find(rf->worker), &rf->ctx, err,
	    sizeof(err));
	dprintf(out, "%d %s", r, err);
	_exit(0);
}

static void
refuse(const struct refusal *rf)
{
	struct child c;
	int r;

	start(&c, NULL, AS_USER, probe_refusal, (void *)rf);
	finish(&c);
	assert_exited_ok(&c, rf->worker);
	ck_assert_msg(sscanf(c.out, "%d", &r) == 1 && r == rf->want,
	    "%s: got '%s', want %d", rf->worker, c.out, rf->want);
	ck_assert_msg(strstr(c.out, rf->msg) != NULL, "%s: '%s' lacks '%s'",
	    rf->worker, c.out, rf->msg);
}

START_TEST(test_refusals)
{
	char noraft[200], rootraft[100];
	bool r = E.root;

	snprintf(noraft, sizeof(noraft), "%s/serf", E.base);
	snprintf(rootraft, sizeof(rootraft), "%s/rootdata", E.base);
	const struct refusal t[] = {
		{ "store", { .as_root = r }, NULL, -EINVAL,
		  "writes raft/ but no data dir" },
		{ "http", { .empty_dir = E.empty, .as_root = r }, open_dir_fd,
		  -EBADF, "is an open directory" },
		{ "dns", { .empty_dir = E.empty, .as_root = r }, start_thread,
		  -EBUSY, "2 threads running" },
		{ "store", { .data_dir = noraft, .as_root = r }, NULL,
		  -ENOENT, "/serf/raft: No such file" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		refuse(&t[i]);
	if (!r) {
		const struct refusal nr = { "http", { .empty_dir = E.empty,
			.as_root = true }, NULL, -EPERM, "not root" };
		refuse(&nr);
		return;
	}
	/* Root only: no empty dir to chroot into; a user that does not
	 * exist; a store directory its user cannot write (the supervisor
	 * chowns raft/ to it). */
	const struct refusal noempty = { "http", { .empty_dir =
		"/nonexistent/empty", .as_root = true }, NULL, -ENOENT,
		"chroot /nonexistent/empty: No such file" };
	refuse(&noempty);
	const struct refusal nouser = { "http", { .user = "no-such-muster",
		.empty_dir = E.empty, .as_root = true }, NULL, -ENOENT,
		"user no-such-muster" };
	refuse(&nouser);
	mkdir_owned(rootraft, 0755, 0, 0);
	snprintf(noraft, sizeof(noraft), "%s/raft", rootraft);
	mkdir_owned(noraft, 0755, 0, 0);
	const struct refusal ro = { "store", { .data_dir = rootraft,
		.as_root = true }, NULL, -EACCES, "raft not writable by uid" };
	refuse(&ro);
}
END_TEST

START_TEST(test_policy_table)
{
	static const char *const nonworkers[] = { "supervisor", "", "Store",
		"checks2" };

	for (size_t i = 0; i < NWORKERS; i++) {
		const struct privdrop_policy *p = privdrop_policy_find(workers[i]);
		ck_assert(p != NULL);
		ck_assert_str_eq(p->name, workers[i]);
		/* Only the check runner execs; http and dns write nothing. */
		ck_assert(p->may_exec == is_worker(workers[i], "checks"));
		ck_assert((p->write_dir == NULL) == (is_worker(workers[i],
		    "http") || is_worker(workers[i], "dns")));
	}
	for (size_t i = 0; i < sizeof(nonworkers) / sizeof(nonworkers[0]); i++)
		ck_assert(privdrop_policy_find(nonworkers[i]) == NULL);
	ck_assert(privdrop_policy_find(NULL) == NULL);
}
END_TEST

static Suite *
privdrop_suite(void)
{
	Suite *s = suite_create("privdrop");
	TCase *tc = tcase_create("privdrop");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_policy_table);
	tcase_add_loop_test(tc, test_identity_root, 0, NWORKERS);
	tcase_add_loop_test(tc, test_identity_user, 0, NWORKERS);
	tcase_add_loop_test(tc, test_open_root, 0, NWORKERS);
	tcase_add_loop_test(tc, test_open_user, 0, NWORKERS);
	tcase_add_loop_test(tc, test_forbidden_root, 0, NWORKERS);
	tcase_add_loop_test(tc, test_forbidden_user, 0, NWORKERS);
	tcase_add_loop_test(tc, test_errnos, 0, NWORKERS);
	tcase_add_loop_test(tc, test_work_root, 0, NWORKERS);
	tcase_add_loop_test(tc, test_work_user, 0, NWORKERS);
	tcase_add_test(tc, test_debug_mode);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(privdrop_suite());
	int failed;

	/* Each test forks sandboxed grandchildren; fork mode keeps a broken
	 * one from taking the runner with it. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
