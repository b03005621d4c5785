/*
 * The kernel sandbox back ends privdrop_apply() uses: Landlock for the file
 * system and a seccomp allow-list for system calls.  Not for other callers:
 * workers go through privdrop.h, which orders these steps.
 */
#ifndef MUSTER_SANDBOX_H
#define MUSTER_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

struct privdrop_policy;

/*
 * Restrict file-system access with Landlock: nothing at all, or (allow_cwd)
 * read and write beneath the current directory only, never execute.
 * Requires no_new_privs or CAP_SYS_ADMIN.  Returns the ABI version used
 * (> 0), or -ENOSYS / -EOPNOTSUPP when the kernel lacks or disabled Landlock
 * (err says which; the caller decides whether that is fatal), or another
 * negative errno on a real failure.
 */
int sandbox_landlock(bool allow_cwd, char *err, size_t errlen);

/*
 * Load p's seccomp allow-list into the calling process (and all its threads).
 * Honours MUSTER_SECCOMP_DEBUG (see privdrop.h).  Returns 0 or a negative
 * errno with a message in err.
 */
int sandbox_seccomp(const struct privdrop_policy *p, char *err, size_t errlen);

/*
 * Tell a sanitizer runtime (AddressSanitizer builds) that the sandbox is
 * about to close, while /proc is still visible.  A no-op otherwise.
 */
void sandbox_sanitizer_notify(void);

#endif
