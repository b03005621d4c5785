/*
 * Dropping a worker's privileges: one function, one fixed order, driven by a
 * per-worker policy (style-anchors items 11 and 12: OpenBSD's rde_main /
 * frontend / proc_run, OpenSSH's privsep_child_demote + ssh_sandbox_child).
 *
 * privdrop_apply() does, in this order:
 *
 *   1. resolve the worker user (getpwnam) while /etc is still visible
 *   2. refuse if any open descriptor is a directory (a directory fd outlives
 *      chroot and would let openat() walk out of it)
 *   3. root:     chroot(empty dir | data_dir/<write_dir>) + chdir("/")
 *      not root: chdir(data_dir/<write_dir> or "/")
 *      then Landlock (when the kernel has it): no file-system access at all,
 *      or only beneath the writable directory.  As root Landlock is a second
 *      fence behind chroot; as an ordinary user it is the only one, and its
 *      absence is logged as a warning with the reason.  Landlock needs
 *      no_new_privs (or CAP_SYS_ADMIN), so that is set here already.
 *   4. root: setgroups(1, gid) -> setresgid -> setresuid, then verify: every
 *      id is the target's, setuid(0)/setgid(0) fail, no capability is left.
 *      not root: ids stay; ambient and permitted capabilities are cleared.
 *   5. PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0
 *   6. rlimits: CORE 0 always; NOFILE, NPROC, FSIZE per policy
 *   7. seccomp allow-list (libseccomp), default action kill-process
 *
 * Contract for the caller (a worker's start-up, see privdrop_apply below):
 * everything that needs a path outside the writable directory (config,
 * certificates, UI assets, the LevelDB directory itself if it is not under
 * data_dir/<write_dir>) must be opened or read before the call.  After it,
 * the current directory IS the writable directory (or "/" when there is
 * none): the store opens its files by relative path, the same in both modes.
 *
 * Debugging the allow-lists: MUSTER_SECCOMP_DEBUG=1 in the environment makes
 * a forbidden syscall fail with ENOSYS and print "seccomp: <worker>: syscall
 * N (name) not allowed" on stderr instead of killing the process, so one run
 * lists every missing call; MUSTER_SECCOMP_DEBUG=log lets it through and has
 * the kernel log it (audit / dmesg "type=1326").  Never in production: the
 * filter then enforces nothing.
 */
#ifndef MUSTER_PRIVDROP_H
#define MUSTER_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>

/* Where the worker is chrooted (as root). */
enum privdrop_root {
	PRIVDROP_ROOT_NONE = 0,	/* no chroot: the check runner execs scripts */
	PRIVDROP_ROOT_EMPTY,	/* ctx->empty_dir: sockets arrive by fd */
	PRIVDROP_ROOT_WRITE_DIR, /* ctx->data_dir/<write_dir>: the store */
};

/*
 * Syscall groups a policy's seccomp allow-list is built from
 * (sandbox_seccomp.c lists the calls in each).  Every worker has the base
 * set: its libev loop (epoll, eventfd, timerfd, signalfd), I/O on
 * descriptors it already holds (read/write/sendmsg/recvmsg/accept4 ...),
 * memory without PROT_EXEC, clocks, getrandom, futex, signals, exit.  Opening
 * paths fails with EACCES unless PRIVDROP_SC_FILES is set.
 */
#define PRIVDROP_SC_CONNECT	(1u << 0) /* socket(AF_INET/6), connect */
#define PRIVDROP_SC_BIND	(1u << 1) /* bind (outgoing source address) */
#define PRIVDROP_SC_THREADS	(1u << 2) /* clone with thread flags only */
#define PRIVDROP_SC_FILES	(1u << 3) /* open/create/rename/fsync/lock */
#define PRIVDROP_SC_EXEC	(1u << 4) /* fork/exec/wait + what scripts use */

/* rlimit value meaning "leave as inherited". */
#define PRIVDROP_RLIM_KEEP	((rlim_t)-2)

struct privdrop_policy {
	const char *name;		/* worker name: "gossip", "store" ... */
	enum privdrop_root root;
	/* The only directory the worker may write, relative to data_dir;
	 * NULL: none (with root NONE: whatever file permissions allow). */
	const char *write_dir;
	bool may_exec;
	rlim_t nofile;			/* soft = hard; lowered to the hard limit */
	rlim_t nproc;			/* 0 = may not fork (threads count too) */
	rlim_t fsize;			/* 0 = may not grow regular files */
	unsigned syscalls;		/* PRIVDROP_SC_* */
};

struct privdrop_ctx {
	/* Worker user; NULL: "muster" if that user exists, else "nobody".
	 * Ignored when not root. */
	const char *user;
	/* An empty directory, not writable by the worker user (the supervisor
	 * creates it, root-owned 0555).  Needed by ROOT_EMPTY policies as root. */
	const char *empty_dir;
	/* The agent's data_dir; needed by policies with a write_dir. */
	const char *data_dir;
	/* Started as root: switch user and chroot.  Otherwise ids stay and
	 * Landlock alone confines the file system. */
	bool as_root;
};

/* The five worker policies; NULL if name is not a worker's. */
const struct privdrop_policy *privdrop_policy_find(const char *name);

/*
 * Apply p to the calling process, irreversibly.  Must be called once, from a
 * single-threaded process (seccomp and setresuid would otherwise cover only
 * this thread), after everything outside the sandbox has been opened.
 * Descriptors stay open: close what the worker must not keep before calling.
 *
 * Returns 0, or a negative errno with a message naming the step and path in
 * err (always NUL-terminated when errlen > 0).  A failure may leave the
 * process half-confined: the caller must treat it as fatal and exit.
 */
int privdrop_apply(const struct privdrop_policy *p,
    const struct privdrop_ctx *ctx, char *err, size_t errlen);

/* The user privdrop_apply switches to: ctx->user or the default. */
const char *privdrop_user(const struct privdrop_ctx *ctx);

#endif
