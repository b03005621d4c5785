/*
 * Snapshot archives: a ustar archive of meta.json, state.bin and
 * SHA256SUMS (sha256sum's format), the three files Consul's snapshot
 * archives carry.  Used by the http worker (/v1/snapshot) and the CLI
 * (muster snapshot save|restore|inspect).
 */
#ifndef MUSTER_ARCHIVE_H
#define MUSTER_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

struct archive_file {
	const char *name;
	const uint8_t *data;	/* into the archive; valid while it is */
	size_t len;
	bool found;
};

/* Build the archive of meta and state (appends to out). */
void archive_snapshot_build(struct buf *out, const void *meta, size_t metalen,
    const void *state, size_t statelen);
/*
 * Find meta.json, state.bin and SHA256SUMS in p and check both sums.
 * 0, or -EINVAL with a reason in why ("not a snapshot archive",
 * "checksum mismatch").  files[0] meta.json, files[1] state.bin.
 */
int archive_snapshot_open(const uint8_t *p, size_t len,
    struct archive_file files[3], const char **why);

#endif
