/*
 * ps(1) shows /proc/PID/cmdline, which is the memory holding argv and, right
 * after it, the environment strings.  To show a title longer than the
 * original arguments we move the environment elsewhere and reuse the whole
 * contiguous area, as setproctitle(3) implementations on Linux do.
 */
#include "lib/proctitle.h"
#include "lib/util.h"

#include <string.h>
#include <sys/prctl.h>

extern char **environ;

static char *title_start;
static size_t title_len;

void
proctitle_init(int argc, char **argv)
{
	if (argc <= 0 || argv[0] == NULL)
		return;
	char *end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	size_t n = 0;
	while (environ[n])
		n++;
	char **newenv = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		if (environ[i] == end)
			end = environ[i] + strlen(environ[i]) + 1;
		newenv[i] = xstrdup(environ[i]);
	}
	environ = newenv;
	/* argv strings after argv[0] may be read later: keep private copies. */
	for (int i = 1; i < argc; i++)
		argv[i] = xstrdup(argv[i]);
	title_start = argv[0];
	title_len = (size_t)(end - argv[0]);
}

void
proctitle_set(const char *title)
{
	char comm[16];
	strlcpy_m(comm, title, sizeof(comm));
	prctl(PR_SET_NAME, comm);
	if (title_start == NULL || title_len < 2)
		return;
	size_t n = strlen(title);
	if (n >= title_len)
		n = title_len - 1;
	memcpy(title_start, title, n);
	memset(title_start + n, 0, title_len - n);
}
