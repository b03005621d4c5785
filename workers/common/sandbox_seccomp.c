/*
 * Per-worker seccomp allow-lists, built with libseccomp (the "pledge" row of
 * the Linux replacements table in reference/style-anchors.md; the shape is
 * OpenSSH's sandbox-seccomp-filter.c: architecture check first, harmless
 * probes answered with an errno so libc degrades instead of dying,
 * everything else kills the process).
 *
 * Syscalls are named, not numbered: a name the running architecture lacks
 * (open, stat, fork ... on aarch64) is skipped.  The lists were fitted on
 * x86_64 by running the workers' unit tests with MUSTER_SECCOMP_DEBUG=1 and
 * reviewed for aarch64; on another architecture the agent still starts but
 * warns.  libseccomp cannot express "allow a call except for one argument
 * value" (an unconditional ALLOW silently absorbs narrower rules), so
 * argument-filtered calls are listed value by value.
 */
#include "workers/common/sandbox.h"
#include "workers/common/privdrop.h"
#include "lib/log.h"

#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SC_ASAN 1
#endif
#endif
#ifdef SC_ASAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every worker: its libev loop, I/O on descriptors it holds, memory, time,
 * randomness (OpenSSL: getrandom), signals, exit, queries about itself. */
static const char *const sc_base[] = {
	"read", "readv", "write", "writev", "close", "dup", "dup3", "fcntl",
	"lseek", "fstat",
	"recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg",
	"accept", "accept4", "shutdown", "getsockopt", "setsockopt",
	"getsockname", "getpeername",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"eventfd", "eventfd2", "timerfd_create", "timerfd_settime",
	"timerfd_gettime", "signalfd", "signalfd4", "pipe", "pipe2",
	"brk", "munmap", "mremap", "madvise",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time", "getrandom", "futex", "sched_yield",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"restart_syscall", "exit", "exit_group",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups", "uname", "sysinfo",
	"getrusage", "sched_getaffinity", "getcpu",
};

/* Path lookups libc or a library may try on its own (locale, time zone,
 * NSS, /proc, /sys): EACCES, for workers without PRIVDROP_SC_FILES. */
static const char *const sc_path_probes[] = {
	"open", "openat", "creat", "stat", "lstat", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "statfs",
};

/* The store's data directory (LevelDB, snapshots); chroot or Landlock
 * decides where these paths lead. */
static const char *const sc_files[] = {
	"open", "openat", "creat", "stat", "lstat", "newfstatat", "statx",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
	"fsync", "fdatasync", "sync_file_range", "rename", "renameat",
	"renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir",
	"flock", "getdents", "getdents64", "ftruncate", "truncate",
	"fallocate", "fadvise64", "statfs", "fstatfs", "getcwd",
};

/* glibc's pthread_create() and a new thread's start-up. */
static const char *const sc_threads[] = {
	"set_robust_list", "get_robust_list", "rseq", "membarrier",
};

/* The check runner and the scripts it execs (they inherit the filter):
 * spawning, waiting, signalling children, and what shells, coreutils,
 * curl or python do at start-up and while running. */
static const char *const sc_exec[] = {
	"clone", "clone3", "fork", "vfork", "execve", "execveat", "wait4",
	"waitid", "kill", "tkill", "tgkill", "setpgid", "getpgid", "getpgrp",
	"setsid", "getsid", "pidfd_open", "pidfd_send_signal", "close_range",
	"dup2", "chdir", "fchdir", "umask", "chmod", "fchmod", "fchmodat",
	"link", "linkat", "symlink", "symlinkat", "utime", "utimes",
	"utimensat", "futimesat", "arch_prctl", "set_tid_address",
	"prlimit64", "getrlimit", "setrlimit", "getpriority", "times",
	"sched_getparam", "sched_getscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "msync", "mincore", "mmap", "mprotect",
	"socketpair", "bind", "listen", "alarm", "pause", "getitimer",
	"setitimer", "timer_create", "timer_settime", "timer_gettime",
	"timer_getoverrun", "timer_delete", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigpending", "rt_sigqueueinfo",
	"rt_tgsigqueueinfo", "inotify_init", "inotify_init1",
	"inotify_add_watch", "inotify_rm_watch", "getxattr", "lgetxattr",
	"fgetxattr", "listxattr", "llistxattr", "flistxattr", "capget",
	"sendfile", "splice", "tee", "copy_file_range", "readahead",
	"memfd_create", "name_to_handle_at", "personality",
};

/* Identity changes a script may try (su, cp -p, install): EPERM, as for
 * any unprivileged process. */
static const char *const sc_exec_eperm[] = {
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
	"setgroups", "setfsuid", "setfsgid", "chown", "fchown", "lchown",
	"fchownat", "capset",
};

struct sc_ctx {
	scmp_filter_ctx f;
	char *err;
	size_t errlen;
	int r;			/* first error; later rules are skipped */
};

static void
sc_rule(struct sc_ctx *c, uint32_t action, const char *name, unsigned n,
    const struct scmp_arg_cmp *a)
{
	int nr, r;

	if (c->r < 0)
		return;
	if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
		return;		/* not a syscall on this architecture */
	if ((r = seccomp_rule_add_array(c->f, action, nr, n, a)) < 0) {
		c->r = r;
		snprintf(c->err, c->errlen, "seccomp rule for %s: %s", name,
		    strerror(-r));
	}
}

static void
sc_list(struct sc_ctx *c, uint32_t action, const char *const *names,
    size_t n)
{
	for (size_t i = 0; i < n; i++)
		sc_rule(c, action, names[i], 0, NULL);
}

/* name(..., arg[i] == v, ...) -> action, for each v. */
static void
sc_arg_eq(struct sc_ctx *c, uint32_t action, const char *name, unsigned arg,
    const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp a = { arg, SCMP_CMP_EQ, v[i], 0 };
		sc_rule(c, action, name, 1, &a);
	}
}

/* name(..., (arg[i] & mask) == v, ...) -> action. */
static void
sc_arg_masked(struct sc_ctx *c, uint32_t action, const char *name,
    unsigned arg, uint64_t mask, uint64_t v)
{
	struct scmp_arg_cmp a = { arg, SCMP_CMP_MASKED_EQ, mask, v };
	sc_rule(c, action, name, 1, &a);
}

/* W^X for workers that exec nothing: no executable mappings after the
 * drop (nothing is dlopen()ed once the sandbox is on). */
static void
sc_memory(struct sc_ctx *c, bool exec)
{
	if (exec)
		return;		/* sc_exec allows mmap and mprotect */
	sc_arg_masked(c, SCMP_ACT_ALLOW, "mmap", 2, PROT_EXEC, 0);
	sc_arg_masked(c, SCMP_ACT_ALLOW, "mprotect", 2, PROT_EXEC, 0);
}

/* ioctl: non-blocking and close-on-exec toggles, queue sizes; "is it a
 * terminal?" answered ENOTTY (stdio asks).  Scripts get terminal and
 * interface queries too. */
static void
sc_ioctl(struct sc_ctx *c, bool exec)
{
	static const uint64_t ok[] = { FIONBIO, FIONREAD, FIOCLEX, FIONCLEX,
		TIOCOUTQ };
	static const uint64_t tty[] = { TCGETS, TIOCGWINSZ, TIOCGPGRP };
	static const uint64_t script[] = { TCGETS, TCSETS, TCSETSW, TCSETSF,
		TIOCGWINSZ, TIOCGPGRP, TIOCSPGRP, SIOCGIFCONF, SIOCGIFFLAGS,
		SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFADDR, SIOCGIFNETMASK,
		SIOCGIFBRDADDR, SIOCGIFMTU, SIOCGIFHWADDR, FIOASYNC };

	sc_arg_eq(c, SCMP_ACT_ALLOW, "ioctl", 1, ok, N(ok));
	if (exec)
		sc_arg_eq(c, SCMP_ACT_ALLOW, "ioctl", 1, script, N(script));
	else
		sc_arg_eq(c, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 1, tty, N(tty));
}

/* prctl: naming threads and asking about ourselves.  No PR_SET_DUMPABLE
 * (it would undo the drop), no PR_SET_SECCOMP beyond ours. */
static void
sc_prctl(struct sc_ctx *c, bool exec)
{
	static const uint64_t ok[] = { PR_SET_NAME, PR_GET_NAME,
		PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS, PR_GET_PDEATHSIG,
		PR_GET_TIMERSLACK, PR_GET_SECCOMP, PR_CAPBSET_READ,
		0x53564d41 /* PR_SET_VMA: glibc names its mappings */ };
	static const uint64_t script[] = { PR_SET_PDEATHSIG,
		PR_SET_NO_NEW_PRIVS, PR_GET_SECUREBITS, PR_GET_KEEPCAPS,
		PR_CAP_AMBIENT, PR_SET_CHILD_SUBREAPER,
		PR_GET_CHILD_SUBREAPER, PR_GET_THP_DISABLE };

	sc_arg_eq(c, SCMP_ACT_ALLOW, "prctl", 0, ok, N(ok));
	if (exec)
		sc_arg_eq(c, SCMP_ACT_ALLOW, "prctl", 0, script, N(script));
}

/* Signals to ourselves only (abort(), raise()); the check runner signals
 * its children and has kill/tgkill in sc_exec.  getrlimit() is prlimit64
 * with no new limit, on ourselves. */
static void
sc_self(struct sc_ctx *c, bool exec)
{
	uint64_t self = (uint64_t)getpid();
	struct scmp_arg_cmp get[2] = { { 0, SCMP_CMP_EQ, 0, 0 },
		{ 2, SCMP_CMP_EQ, 0, 0 } };

	if (exec)
		return;
	sc_arg_eq(c, SCMP_ACT_ALLOW, "kill", 0, &self, 1);
	sc_arg_eq(c, SCMP_ACT_ALLOW, "tgkill", 0, &self, 1);
	sc_rule(c, SCMP_ACT_ALLOW, "prlimit64", 2, get);
	sc_rule(c, SCMP_ACT_ALLOW, "getrlimit", 0, NULL);
}

/* Sockets: IPv4/IPv6 for workers that connect out; other families (libc
 * trying nscd or netlink) fail with EAFNOSUPPORT; scripts get unix and
 * netlink sockets as well. */
static void
sc_socket(struct sc_ctx *c, unsigned g)
{
	static const uint64_t inet[] = { AF_INET, AF_INET6 };
	static const uint64_t local[] = { AF_UNIX, AF_NETLINK };

	if (g & (PRIVDROP_SC_CONNECT | PRIVDROP_SC_EXEC)) {
		sc_arg_eq(c, SCMP_ACT_ALLOW, "socket", 0, inet, N(inet));
		sc_rule(c, SCMP_ACT_ALLOW, "connect", 0, NULL);
	}
	sc_arg_eq(c, g & PRIVDROP_SC_EXEC ? SCMP_ACT_ALLOW :
	    SCMP_ACT_ERRNO(EAFNOSUPPORT), "socket", 0, local, N(local));
	if (g & PRIVDROP_SC_BIND)
		sc_rule(c, SCMP_ACT_ALLOW, "bind", 0, NULL);
}

/* Without PRIVDROP_SC_FILES, fstat() (newfstatat with AT_EMPTY_PATH on
 * glibc >= 2.33) works and every path lookup fails with EACCES. */
static void
sc_paths(struct sc_ctx *c, unsigned g)
{
	if (g & PRIVDROP_SC_FILES) {
		sc_list(c, SCMP_ACT_ALLOW, sc_files, N(sc_files));
	} else {
		sc_list(c, SCMP_ACT_ERRNO(EACCES), sc_path_probes,
		    N(sc_path_probes));
		sc_arg_masked(c, SCMP_ACT_ALLOW, "newfstatat", 3,
		    AT_EMPTY_PATH, AT_EMPTY_PATH);
		sc_arg_masked(c, SCMP_ACT_ERRNO(EACCES), "newfstatat", 3,
		    AT_EMPTY_PATH, 0);
		sc_arg_masked(c, SCMP_ACT_ALLOW, "statx", 2, AT_EMPTY_PATH,
		    AT_EMPTY_PATH);
		sc_arg_masked(c, SCMP_ACT_ERRNO(EACCES), "statx", 2,
		    AT_EMPTY_PATH, 0);
	}
	/* Nothing we run needs openat2; ENOSYS makes a caller fall back. */
	sc_rule(c, SCMP_ACT_ERRNO(ENOSYS), "openat2", 0, NULL);
}

/*
 * Threads but no processes: clone() only with CLONE_VM | CLONE_SIGHAND |
 * CLONE_THREAD (what pthread_create passes; fork() passes none of them).
 * clone3() takes its flags in memory seccomp cannot read, so it fails with
 * ENOSYS and glibc falls back to clone().
 */
static void
sc_clone(struct sc_ctx *c, unsigned g)
{
	const uint64_t th = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;

	if (g & PRIVDROP_SC_EXEC) {
		sc_list(c, SCMP_ACT_ALLOW, sc_threads, N(sc_threads));
		sc_list(c, SCMP_ACT_ALLOW, sc_exec, N(sc_exec));
		sc_list(c, SCMP_ACT_ERRNO(EPERM), sc_exec_eperm,
		    N(sc_exec_eperm));
	} else if (g & PRIVDROP_SC_THREADS) {
		sc_list(c, SCMP_ACT_ALLOW, sc_threads, N(sc_threads));
		sc_arg_masked(c, SCMP_ACT_ALLOW, "clone", 0, th, th);
		sc_rule(c, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	}
}

#ifdef SC_ASAN
/*
 * AddressSanitizer and UBSan reports need nothing beyond the base set (found
 * with MUSTER_SECCOMP_DEBUG=1 under -Db_sanitize=address,undefined): they
 * write to stderr and print unsymbolised module+offset frames, which
 * addr2line resolves.
 */
static volatile int sc_sandboxed;

void
sandbox_sanitizer_notify(void)
{
	/* Let the runtime cache what it reads from /proc before chroot. */
	__sanitizer_sandbox_on_notify(NULL);
}

/*
 * LeakSanitizer's exit-time check stops the world with a ptrace()ing
 * tracer task after PR_SET_DUMPABLE 1 and reads /proc/self/task: none of
 * that can work in a sandboxed worker (it spins or is killed), so it is
 * off once the filter is loaded.  Worker code is leak-checked by the unit
 * tests, which run it unsandboxed.
 */
int
__lsan_is_turned_off(void)
{
	return sc_sandboxed;
}
#else
void
sandbox_sanitizer_notify(void)
{
}
#endif

/* ---- MUSTER_SECCOMP_DEBUG=1: report and fail instead of killing ---- */

static const char *dbg_worker = "?";
static char (*dbg_names)[28];
#define DBG_NAMES 1024

static size_t
dbg_put(char *buf, size_t o, size_t len, const char *s)
{
	while (*s && o + 1 < len)
		buf[o++] = *s++;
	return o;
}

static size_t
dbg_num(char *buf, size_t o, size_t len, unsigned long v)
{
	char t[24];
	size_t n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0 && o + 1 < len)
		buf[o++] = t[--n];
	return o;
}

/* SIGSYS from SCMP_ACT_TRAP: async-signal-safe report, then make the call
 * return -ENOSYS so the run goes on and shows every missing syscall. */
static void
dbg_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char msg[160];
	size_t o = 0;
	int nr = si->si_syscall;
	ucontext_t *uc = uctx;

	o = dbg_put(msg, o, sizeof(msg), "seccomp: ");
	o = dbg_put(msg, o, sizeof(msg), dbg_worker);
	o = dbg_put(msg, o, sizeof(msg), ": syscall ");
	o = dbg_num(msg, o, sizeof(msg), (unsigned long)nr);
	if (dbg_names && nr >= 0 && nr < DBG_NAMES && dbg_names[nr][0]) {
		o = dbg_put(msg, o, sizeof(msg), " (");
		o = dbg_put(msg, o, sizeof(msg), dbg_names[nr]);
		o = dbg_put(msg, o, sizeof(msg), ")");
	}
	o = dbg_put(msg, o, sizeof(msg), " not allowed, failing it\n");
	(void)!write(STDERR_FILENO, msg, o);
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
	(void)uc;
	_exit(128 + SIGSYS);
#endif
}

static int
dbg_install(const char *worker)
{
	struct sigaction sa;

	dbg_worker = worker;
	if (dbg_names == NULL) {
		dbg_names = calloc(DBG_NAMES, sizeof(*dbg_names));
		for (int nr = 0; dbg_names && nr < DBG_NAMES; nr++) {
			char *s = seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, nr);
			if (s)
				snprintf(dbg_names[nr], sizeof(dbg_names[nr]),
				    "%s", s);
			free(s);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = dbg_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

/* The default action: kill, or the debug variants. */
static uint32_t
sc_default_action(const char *worker)
{
	const char *d = getenv("MUSTER_SECCOMP_DEBUG");

	if (d == NULL || d[0] == '\0' || strcmp(d, "0") == 0)
		return SCMP_ACT_KILL_PROCESS;
	if (strcmp(d, "log") == 0) {
		log_warnx("MUSTER_SECCOMP_DEBUG=log: seccomp only logs");
		return SCMP_ACT_LOG;
	}
	if (dbg_install(worker) < 0)
		return SCMP_ACT_KILL_PROCESS;
	log_warnx("MUSTER_SECCOMP_DEBUG: forbidden syscalls fail with "
	    "ENOSYS instead of killing");
	return SCMP_ACT_TRAP;
}

static int
sc_build(struct sc_ctx *c, const struct privdrop_policy *p)
{
	unsigned g = p->syscalls;
	bool exec = (g & PRIVDROP_SC_EXEC) != 0;

	if (exec != p->may_exec) {
		snprintf(c->err, c->errlen, "%s: may_exec disagrees with its "
		    "syscall groups", p->name);
		return -EINVAL;
	}
	sc_list(c, SCMP_ACT_ALLOW, sc_base, N(sc_base));
	sc_memory(c, exec);
	sc_ioctl(c, exec);
	sc_prctl(c, exec);
	sc_self(c, exec);
	sc_socket(c, g);
	sc_paths(c, g);
	sc_clone(c, g);
	return c->r;
}

static void
sc_check_arch(const char *worker)
{
	uint32_t arch = seccomp_arch_native();

	if (arch != SCMP_ARCH_X86_64 && arch != SCMP_ARCH_AARCH64)
		log_warnx("%s: seccomp lists were fitted on x86_64 and "
		    "aarch64; this is architecture token 0x%x: a missing "
		    "syscall kills the worker (find it with "
		    "MUSTER_SECCOMP_DEBUG=1)", worker, (unsigned)arch);
}

int
sandbox_seccomp(const struct privdrop_policy *p, char *err, size_t errlen)
{
	struct sc_ctx c = { .err = err, .errlen = errlen };
	int r;

	sc_check_arch(p->name);
	if ((c.f = seccomp_init(sc_default_action(p->name))) == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	/* Only the native ABI: on x86_64 a 32-bit int 0x80 call (another
	 * syscall table) kills, as does an x32 call. */
	if ((r = seccomp_attr_set(c.f, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (r = seccomp_attr_set(c.f, SCMP_FLTATR_CTL_TSYNC, 1)) < 0) {
		snprintf(err, errlen, "seccomp_attr_set: %s", strerror(-r));
		goto out;
	}
	if ((r = sc_build(&c, p)) < 0)
		goto out;
	if ((r = seccomp_load(c.f)) < 0)
		snprintf(err, errlen, "seccomp_load: %s", strerror(-r));
#ifdef SC_ASAN
	sc_sandboxed = r == 0;
#endif
out:
	seccomp_release(c.f);
	return r;
}
