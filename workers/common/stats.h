/* Stats sections are NUL-separated alternating keys and values. */
#ifndef MUSTER_WORKER_STATS_H
#define MUSTER_WORKER_STATS_H

#include "lib/util.h"

void stats_add(struct buf *out, const char *key, const char *value);
void stats_addu(struct buf *out, const char *key, unsigned long long v);

#endif
