/*
 * Go flag-package semantics for the command line (see flags.h).  Error
 * wording follows Go's so that scripts written against consul see the
 * same text: "flag provided but not defined: -x", "flag needs an
 * argument: -x", "invalid boolean value ...", "invalid value ...".
 */
#include "supervisor/cli/flags.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

int
cli_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true",
		"True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false",
		"False" };
	size_t i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

bool
cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "-help") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

static struct cli_flag *
flag_find(struct cli_flagset *sets, size_t nsets, const char *name,
    size_t len)
{
	size_t i, j;

	for (i = 0; i < nsets; i++)
		for (j = 0; j < sets[i].n; j++)
			if (strlen(sets[i].flags[j].name) == len &&
			    memcmp(sets[i].flags[j].name, name, len) == 0)
				return &sets[i].flags[j];
	return NULL;
}

/* Store a flag's value; Go's error text on failure, printed by the caller. */
static int
flag_set(struct cli_flag *f, const char *v, struct buf *err)
{
	char *end;

	switch (f->kind) {
	case CLI_FLAG_BOOL:
		if (cli_parse_bool(v, f->val) < 0) {
			buf_printf(err, "invalid boolean value \"%s\" for -%s: "
			    "parse error", v, f->name);
			return -1;
		}
		break;
	case CLI_FLAG_STR:
		*(const char **)f->val = v;
		break;
	case CLI_FLAG_INT:
		errno = 0;
		*(int64_t *)f->val = strtoll(v, &end, 0);
		if (*v == '\0' || *end != '\0' || errno != 0)
			goto bad;
		break;
	case CLI_FLAG_U64:
		errno = 0;
		*(uint64_t *)f->val = strtoull(v, &end, 0);
		if (*v == '\0' || *v == '-' || *end != '\0' || errno != 0)
			goto bad;
		break;
	}
	f->set = true;
	return 0;
bad:
	buf_printf(err, "invalid value \"%s\" for flag -%s: parse error", v,
	    f->name);
	return -1;
}

/*
 * One flag at argv[*i]; advances *i past a separate value.  Returns 1 when
 * argv[*i] is not a flag (parsing stops), 0 when consumed, -1 on error.
 */
static int
flag_one(int argc, char **argv, int *i, struct cli_flagset *sets,
    size_t nsets, struct buf *err)
{
	const char *a = argv[*i], *name, *eq;
	struct cli_flag *f;
	size_t len;

	if (a[0] != '-' || a[1] == '\0')
		return 1;
	name = a + 1;
	if (*name == '-') {
		name++;
		if (*name == '\0') {	/* "--" ends the flags */
			(*i)++;
			return 1;
		}
	}
	if (*name == '-' || *name == '=') {
		buf_printf(err, "bad flag syntax: %s", a);
		return -1;
	}
	eq = strchr(name, '=');
	len = eq ? (size_t)(eq - name) : strlen(name);
	if ((f = flag_find(sets, nsets, name, len)) == NULL) {
		buf_printf(err, "flag provided but not defined: -%.*s",
		    (int)len, name);
		return -1;
	}
	(*i)++;
	if (eq)
		return flag_set(f, eq + 1, err);
	if (f->kind == CLI_FLAG_BOOL)
		return flag_set(f, "true", err);
	if (*i >= argc) {
		buf_printf(err, "flag needs an argument: -%s", f->name);
		return -1;
	}
	return flag_set(f, argv[(*i)++], err);
}

int
cli_flags_parse(int argc, char **argv, const char *help,
    struct cli_flagset *sets, size_t nsets)
{
	struct buf err;
	int i = 1, r;

	if (cli_wants_help(argc - 1, argv + 1)) {
		cli_flags_usage(stdout, help, sets, nsets);
		return CLI_PARSE_HELP;
	}
	buf_init(&err);
	while (i < argc) {
		r = flag_one(argc, argv, &i, sets, nsets, &err);
		if (r < 0) {
			fprintf(stderr, "%s\n", (char *)err.data);
			cli_flags_usage(stderr, help, sets, nsets);
			buf_free(&err);
			return CLI_PARSE_ERR;
		}
		if (r == 1)	/* an argument, or "--" (consumed) */
			break;
	}
	buf_free(&err);
	return i;
}

int
cli_flags_exit(int r)
{
	return r == CLI_PARSE_HELP ? 0 : 1;
}

/* Word-wrap s to width columns, each line indented by pad spaces. */
static void
usage_wrap(FILE *out, const char *s, int pad, int width)
{
	while (*s) {
		const char *end = s + strcspn(s, "\n");

		while (s < end) {
			const char *cut = end;

			if (end - s > width) {
				cut = s + width;
				while (cut > s && *cut != ' ')
					cut--;
				if (cut == s) {	/* one long word */
					cut = s + width;
					while (cut < end && *cut != ' ')
						cut++;
				}
			}
			fprintf(out, "%*s%.*s\n", pad, "", (int)(cut - s), s);
			s = cut;
			while (s < end && *s == ' ')
				s++;
		}
		s = *end ? end + 1 : end;
	}
}

static const char *
flag_placeholder(const struct cli_flag *f)
{
	if (f->arg)
		return f->arg;
	switch (f->kind) {
	case CLI_FLAG_STR:
		return "string";
	case CLI_FLAG_INT:
		return "int";
	case CLI_FLAG_U64:
		return "uint";
	default:
		return NULL;
	}
}

void
cli_flags_usage(FILE *out, const char *help, const struct cli_flagset *sets,
    size_t nsets)
{
	size_t i, j;

	fprintf(out, "%s\n", help);
	for (i = 0; i < nsets; i++) {
		if (sets[i].n == 0)
			continue;
		fprintf(out, "\n%s\n", sets[i].title);
		for (j = 0; j < sets[i].n; j++) {
			const struct cli_flag *f = &sets[i].flags[j];
			const char *ph = flag_placeholder(f);

			if (ph)
				fprintf(out, "\n  -%s=<%s>\n", f->name, ph);
			else
				fprintf(out, "\n  -%s\n", f->name);
			usage_wrap(out, f->usage, 5, 67);
		}
	}
}
