/*
 * `muster kv get|put|delete|export|import`, private to cmd_kv*.c: the
 * KV requests as Consul's Go API client makes them (api/kv.go), and the
 * pieces of Go's standard library whose exact output consul's kv
 * commands show the user (base64 errors, text/tabwriter, path.Join,
 * encoding/json strings).
 */
#ifndef MUSTER_CLI_CMD_KV_H
#define MUSTER_CLI_CMD_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"
#include "supervisor/cli/api.h"

int cli_cmd_kv_get(int argc, char **argv);
int cli_cmd_kv_put(int argc, char **argv);
int cli_cmd_kv_delete(int argc, char **argv);
int cli_cmd_kv_export(int argc, char **argv);
int cli_cmd_kv_import(int argc, char **argv);

/* One entry of GET /v1/kv, as api.KVPair. */
struct kv_pair {
	char *key;
	struct buf value;
	uint64_t create_index, modify_index, lock_index, flags;
	char *session;		/* NULL when none */
	char *ns, *partition;	/* Enterprise fields, NULL when absent */
};

void kv_pairs_free(struct kv_pair *p, size_t n);

/* "/v1/kv/<key>" with the key percent-encoded ('/' kept). */
void kv_path(struct buf *path, const char *key);

/*
 * GET /v1/kv/<key> (?recurse when recurse).  As api.KV.Get/List: 200
 * fills *out and returns 0, 404 returns 0 with *n = 0; anything else
 * returns -1 with Go's error text in *err ("Unexpected response code:
 * 500 (body)", a transport error, or a decoding error).
 */
int kv_read_pairs(struct cli_client *c, const char *key, bool recurse,
    struct kv_pair **out, size_t *n, struct buf *err);

/* GET /v1/kv/<prefix>?keys[&separator=sep] as api.KV.Keys. */
int kv_read_keys(struct cli_client *c, const char *prefix, const char *sep,
    char ***out, size_t *n, struct buf *err);
void kv_keys_free(char **k, size_t n);

/*
 * PUT or DELETE `path` (from kv_path() plus query) with body, as the Go
 * client's KV.put / deleteInternal: any status but 200 is an error in
 * *err, else *ok is whether the answer contains "true".
 */
int kv_write(struct cli_client *c, const char *method, const char *path,
    const void *body, size_t len, bool *ok, struct buf *err);

/*
 * A DATA argument as consul's helpers.LoadDataSource reads it: "" is
 * empty, "@path" the file's bytes, "-" all of stdin, anything else the
 * argument itself.  -1 with *err set to Go's wording ("Failed to read
 * file: open x: no such file or directory").
 */
int kv_load_data(const char *arg, struct buf *out, struct buf *err);

/*
 * Go's base64.StdEncoding.DecodeString: appends to out, or returns -1
 * with *bad set to the offset Go reports in "illegal base64 data at
 * input byte N" (out then holds what was decoded before it).
 */
int kv_b64_decode(const char *s, size_t len, struct buf *out, size_t *bad);

/*
 * Go's text/tabwriter with (minwidth, tabwidth, padding, ' ', 0) over
 * text written in one go and then flushed: cells end at '\t' or '\v',
 * lines at '\n' or '\f' (a '\f' also ends every column block), 0xff
 * brackets escaped text, widths count runes as utf8.RuneCount does.
 */
void kv_tabwrite(struct buf *out, const char *text, size_t len,
    int minwidth, int padding);

/* Go's path.Join(a, b): "" when both are empty, else path.Clean. */
char *kv_path_join(const char *a, const char *b);

/* s[0..len) as Go's encoding/json writes a string, quotes included. */
void kv_json_string(struct buf *out, const char *s, size_t len);

/* Go's utf8.RuneCount. */
size_t kv_rune_count(const char *s, size_t len);

#endif
