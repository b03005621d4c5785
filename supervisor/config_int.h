/*
 * Inside the config parser: the key table every phase walks (parse,
 * defaults, dump, compare, free) and the state of one load.
 */
#ifndef MUSTER_CONFIG_INT_H
#define MUSTER_CONFIG_INT_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "lib/json.h"
#include "supervisor/config.h"

enum cfg_type {
	CT_OBJ,		/* nested object: its keys are named "<this>.<key>" */
	CT_BOOL,	/* bool */
	CT_INT,		/* int: JSON integer */
	CT_DUR,		/* int64_t ns: JSON string in Go syntax */
	CT_STR,		/* char * */
	CT_ADDRS,	/* cfg_strlist from one space-separated string (replaces) */
	CT_LIST,	/* cfg_strlist from an array of strings (appends) */
	CT_MAP,		/* cfg_strmap from an object of strings (merges) */
	CT_DURMAP,	/* cfg_durmap from an object of durations (merges) */
	CT_RAW,		/* one object, kept as compact JSON, appended to a list */
	CT_RAWLIST,	/* array of objects, each appended as compact JSON */
	CT_ALIAS,	/* deprecated name of the key named in .alias */
	CT_UNSUP,	/* a Consul key muster does not implement */
};

#define KF_DUMP_ONLY 0x1	/* not a file key; only in cfg_from_json input */
#define KF_NODUMP 0x2		/* not written by cfg_dump_json */

/*
 * Validators see a value before it is stored, may normalise it (a string
 * validator may replace *(char **)val with a new xmalloc'd string and
 * free the old) and return -EINVAL with the reason in why.  For list and
 * map types they see each element.
 */
typedef int (*cfg_check_fn)(void *val, struct buf *why);

struct cfg_key {
	const char *name;	/* dotted path, as in the dump */
	enum cfg_type type;
	size_t off;		/* offsetof(struct agent_config, ...) */
	const char *def;	/* default in flag syntax; NULL: zero / empty */
	const char *dev;	/* -dev default, taking precedence over def */
	int lo, hi;		/* CT_INT bounds, checked when lo < hi */
	cfg_check_fn check;
	unsigned flags;		/* KF_* */
	const char *alias;	/* CT_ALIAS target / CT_UNSUP hint */
};

extern const struct cfg_key cfg_keys[];
extern const size_t cfg_nkeys;

/* Index of the key named name exactly, -1 if none. */
int cfg_key_find(const char *name);
/* Index of parent's child (parent -1: top level) whose last component
 * matches leaf case-insensitively, -1 if none. */
int cfg_key_child(int parent, const char *leaf);
bool cfg_key_is_child(size_t i, int parent);
const char *cfg_key_leaf(size_t i);

/* One load: which keys a source set, and which source did. */
struct cfg_ctx {
	struct agent_config *c;
	bool *set;
	const char **src;
	struct cfg_strlist names;	/* owns the file names src points to */
	const char *cur;		/* the source being read */
	struct buf *err;
	bool from_dump;			/* cfg_from_json */
	bool validate_only;		/* muster validate: no data_dir needed */
};

#define CFG_FIELD(c, k, T) ((T *)(void *)((char *)(c) + (k)->off))

/* config_value.c */
int cfg_set_string(struct cfg_ctx *x, size_t ki, const char *s,
    struct buf *why);
int cfg_set_json(struct cfg_ctx *x, size_t ki, yajl_val v, const char *path);
int cfg_walk_object(struct cfg_ctx *x, int parent, yajl_val obj,
    const char *prefix);
void cfg_key_free(struct agent_config *c, size_t ki);
void cfg_key_dump(struct json_w *w, const struct agent_config *c, size_t ki);
bool cfg_key_equal(const struct agent_config *a, const struct agent_config *b,
    size_t ki);
void cfg_list_add(struct cfg_strlist *l, const char *s);
void cfg_list_clear(struct cfg_strlist *l);
void cfg_map_set(struct cfg_strmap *m, const char *k, const char *v);
void cfg_durmap_set(struct cfg_durmap *m, const char *k, int64_t v);
void cfg_warn(struct agent_config *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "config: <source>: key \"<path>\": " then the reason. */
int cfg_fail(struct cfg_ctx *x, const char *src, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* config_file.c */
int cfg_load_path(struct cfg_ctx *x, const char *path, bool any_ext);
int cfg_load_text(struct cfg_ctx *x, const char *text, size_t len);

/* config_flags.c */
struct cfg_args;
int cfg_args_parse(struct cfg_ctx *x, int argc, char **argv,
    struct cfg_args **out);
int cfg_args_apply(struct cfg_ctx *x, const struct cfg_args *a, bool lists);
size_t cfg_args_npaths(const struct cfg_args *a);
const char *cfg_args_path(const struct cfg_args *a, size_t i);
bool cfg_args_any_ext(const struct cfg_args *a);
void cfg_args_free(struct cfg_args *a);
void cfg_usage(struct buf *out);

/* config_check.c */
int cfg_finish(struct cfg_ctx *x);

#endif
