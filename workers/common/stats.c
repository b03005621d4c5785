#include "workers/common/stats.h"

#include <stdio.h>
#include <string.h>

void
stats_add(struct buf *out, const char *key, const char *value)
{
	buf_add(out, key, strlen(key) + 1);
	buf_add(out, value, strlen(value) + 1);
}

void
stats_addu(struct buf *out, const char *key, unsigned long long v)
{
	char n[24];
	snprintf(n, sizeof(n), "%llu", v);
	stats_add(out, key, n);
}
