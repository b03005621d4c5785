/* Column output as consul's (see table.h). */
#include "supervisor/cli/table.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

void
cli_table_init(struct cli_table *t)
{
	memset(t, 0, sizeof(*t));
}

/* A copy of s without surrounding ASCII white space. */
static char *
trimmed(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return xstrndup(s, n);
}

void
cli_table_addv(struct cli_table *t, const char *const *cells, size_t n)
{
	size_t i;

	t->rows = xrealloc(t->rows, (t->nrows + 1) * sizeof(*t->rows));
	t->ncells = xrealloc(t->ncells, (t->nrows + 1) * sizeof(*t->ncells));
	t->rows[t->nrows] = xcalloc(n ? n : 1, sizeof(char *));
	for (i = 0; i < n; i++)
		t->rows[t->nrows][i] = trimmed(cells[i] ? cells[i] : "");
	t->ncells[t->nrows++] = n;
}

void
cli_table_add(struct cli_table *t, ...)
{
	const char *cells[64];
	const char *c;
	size_t n = 0;
	va_list ap;

	va_start(ap, t);
	while ((c = va_arg(ap, const char *)) != NULL && n < nitems(cells))
		cells[n++] = c;
	va_end(ap);
	cli_table_addv(t, cells, n);
}

/* Display width: code points, not bytes. */
static size_t
width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
cli_table_print(FILE *out, const struct cli_table *t)
{
	size_t *w = NULL, nw = 0, i, j;

	for (i = 0; i < t->nrows; i++)
		for (j = 0; j < t->ncells[i]; j++) {
			size_t cw = width(t->rows[i][j]);

			if (j >= nw) {
				w = xrealloc(w, (j + 1) * sizeof(*w));
				w[nw++] = 0;
			}
			w[j] = MAX(w[j], cw);
		}
	for (i = 0; i < t->nrows; i++) {
		for (j = 0; j < t->ncells[i]; j++) {
			const char *c = t->rows[i][j];

			fputs(c, out);
			if (j + 1 < t->ncells[i])
				fprintf(out, "%*s  ", (int)(w[j] - width(c)),
				    "");
		}
		fputc('\n', out);
	}
	free(w);
}

void
cli_table_free(struct cli_table *t)
{
	size_t i, j;

	for (i = 0; i < t->nrows; i++) {
		for (j = 0; j < t->ncells[i]; j++)
			free(t->rows[i][j]);
		free(t->rows[i]);
	}
	free(t->rows);
	free(t->ncells);
	cli_table_init(t);
}
