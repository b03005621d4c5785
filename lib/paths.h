/* Where the agent keeps run-time files when no data dir says otherwise. */
#ifndef MUSTER_PATHS_H
#define MUSTER_PATHS_H

#include <stddef.h>

/* "/run/muster" for root, else "/tmp/muster-<uid>". */
void paths_runtime_dir(char *out, size_t len);
/* The empty directory chrooted workers live in: "<runtime dir>/empty". */
void paths_empty_dir(char *out, size_t len);

#endif
