/*
 * Landlock (Linux 5.13+), called through raw syscalls: glibc 2.36 has no
 * wrappers and Debian packages no library for it.  The ABI is probed with
 * LANDLOCK_CREATE_RULESET_VERSION and every right the running kernel knows
 * is "handled" (denied unless a rule grants it), so a newer kernel never
 * leaves a right we did not think about silently allowed.  See
 * Documentation/userspace-api/landlock.rst in the kernel tree.
 */
#include "workers/common/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* Our own copies of the ABI, so the code does not depend on how new
 * linux-libc-dev is; the values are fixed by the kernel ABI. */
#define LL_CREATE_RULESET_VERSION	(1u << 0)
#define LL_RULE_PATH_BENEATH		1
#define LL_FS_EXECUTE			(1ull << 0)
#define LL_FS_WRITE_FILE		(1ull << 1)
#define LL_FS_READ_FILE			(1ull << 2)
#define LL_FS_READ_DIR			(1ull << 3)
#define LL_FS_REMOVE_DIR		(1ull << 4)
#define LL_FS_REMOVE_FILE		(1ull << 5)
#define LL_FS_MAKE_DIR			(1ull << 7)
#define LL_FS_MAKE_REG			(1ull << 8)
#define LL_FS_ABI1			((1ull << 13) - 1)
#define LL_FS_REFER			(1ull << 13)	/* ABI 2 */
#define LL_FS_TRUNCATE			(1ull << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV			(1ull << 15)	/* ABI 5 */

struct ll_ruleset_attr {
	uint64_t handled_access_fs;	/* the ABI 1 layout; later fields 0 */
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

/* Every file-system right the kernel's ABI version knows. */
static uint64_t
ll_handled(int abi)
{
	uint64_t h = LL_FS_ABI1;
	if (abi >= 2)
		h |= LL_FS_REFER;
	if (abi >= 3)
		h |= LL_FS_TRUNCATE;
	if (abi >= 5)
		h |= LL_FS_IOCTL_DEV;
	return h;
}

/* What the store does with its directory (LevelDB, snapshots): no exec,
 * no devices, sockets, fifos or symlinks. */
static uint64_t
ll_writable(int abi)
{
	uint64_t a = LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_READ_DIR |
	    LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR |
	    LL_FS_MAKE_REG;
	if (abi >= 2)
		a |= LL_FS_REFER;
	if (abi >= 3)
		a |= LL_FS_TRUNCATE;
	return a;
}

static int
ll_abi(char *err, size_t errlen)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi > 0)
		return (int)abi;
	if (errno == ENOSYS)
		snprintf(err, errlen, "kernel built without Landlock");
	else if (errno == EOPNOTSUPP)
		snprintf(err, errlen, "Landlock disabled at boot (lsm=)");
	else
		snprintf(err, errlen, "Landlock ABI probe: %s", strerror(errno));
	return errno == ENOSYS || errno == EOPNOTSUPP ? -errno : -EIO;
}

static int
ll_allow_cwd(int rfd, int abi, char *err, size_t errlen)
{
	struct ll_path_beneath_attr pb = { .allowed_access = ll_writable(abi) };
	int r = 0;

	pb.parent_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pb.parent_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "landlock: open .: %s", strerror(errno));
		return r;
	}
	if (syscall(SYS_landlock_add_rule, rfd, LL_RULE_PATH_BENEATH, &pb,
	    0) < 0) {
		r = -errno;
		snprintf(err, errlen, "landlock_add_rule: %s", strerror(errno));
	}
	close(pb.parent_fd);
	return r;
}

int
sandbox_landlock(bool allow_cwd, char *err, size_t errlen)
{
	struct ll_ruleset_attr ra;
	int abi, rfd, r = 0;

	if ((abi = ll_abi(err, errlen)) < 0)
		return abi;
	ra.handled_access_fs = ll_handled(abi);
	rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof(ra), 0);
	if (rfd < 0) {
		r = -errno;
		snprintf(err, errlen, "landlock_create_ruleset: %s",
		    strerror(errno));
		return r;
	}
	if (allow_cwd && (r = ll_allow_cwd(rfd, abi, err, errlen)) < 0)
		goto out;
	if (syscall(SYS_landlock_restrict_self, rfd, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "landlock_restrict_self: %s",
		    strerror(errno));
	}
out:
	close(rfd);
	return r < 0 ? r : abi;
}
