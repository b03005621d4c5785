/*
 * Column output as consul prints its tables (ryanuber/columnize with its
 * defaults): cells trimmed of surrounding space, every column but the
 * last padded to its widest cell, columns joined by two spaces, widths
 * counted in characters (UTF-8 code points), the last column not padded.
 */
#ifndef MUSTER_CLI_TABLE_H
#define MUSTER_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct cli_table {
	char ***rows;		/* rows[i][0..ncells[i]) */
	size_t *ncells;
	size_t nrows;
};

void cli_table_init(struct cli_table *t);
/* Append a row of cells; the list ends with NULL.  Cells are copied. */
void cli_table_add(struct cli_table *t, ...) __attribute__((sentinel));
/* Append a row from an array of n cells. */
void cli_table_addv(struct cli_table *t, const char *const *cells, size_t n);
void cli_table_print(FILE *out, const struct cli_table *t);
void cli_table_free(struct cli_table *t);

#endif
