#include "lib/paths.h"

#include <stdio.h>
#include <unistd.h>

void
paths_runtime_dir(char *out, size_t len)
{
	if (geteuid() == 0)
		snprintf(out, len, "/run/muster");
	else
		snprintf(out, len, "/tmp/muster-%u", (unsigned)getuid());
}

void
paths_empty_dir(char *out, size_t len)
{
	char base[200];
	paths_runtime_dir(base, sizeof(base));
	snprintf(out, len, "%s/empty", base);
}
