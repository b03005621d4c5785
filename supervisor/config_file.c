/*
 * -config-file / -config-dir: Consul's sourcesFromPath.  A path may be a
 * file or a directory either way; a directory contributes its *.json
 * files in byte order of their names, skipping sub-directories and (with
 * a warning) other extensions.  HCL is refused with a clear error.
 */
#include "supervisor/config_int.h"

#include "lib/json.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CFG_FILE_MAX (16u << 20)

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Parse one source's text; x->cur names it in errors. */
int
cfg_load_text(struct cfg_ctx *x, const char *text, size_t len)
{
	struct buf why;
	buf_init(&why);
	yajl_val root = json_parse(text, len, &why);
	if (root == NULL) {
		int r = cfg_fail(x, x->cur, NULL, "invalid JSON: %s",
		    (char *)why.data);
		buf_free(&why);
		return r;
	}
	buf_free(&why);
	int r;
	if (!YAJL_IS_OBJECT(root))
		r = cfg_fail(x, x->cur, NULL, "expected a JSON object at the "
		    "top level, got %s", json_type_name(root));
	else
		r = cfg_walk_object(x, -1, root, NULL);
	yajl_tree_free(root);
	return r;
}

static int
load_file(struct cfg_ctx *x, const char *path)
{
	struct buf text;
	int r;

	cfg_list_add(&x->names, path);
	x->cur = x->names.v[x->names.n - 1];
	buf_init(&text);
	if ((r = read_file(path, CFG_FILE_MAX, &text)) < 0) {
		buf_free(&text);
		return cfg_fail(x, path, NULL, "cannot read: %s",
		    r == -EFBIG ? "file too large" : strerror(-r));
	}
	/* Consul skips an empty source. */
	r = text.len == 0 ? 0 : cfg_load_text(x, (char *)text.data, text.len);
	buf_free(&text);
	return r;
}

static int
hcl_refused(struct cfg_ctx *x, const char *path)
{
	return cfg_fail(x, path, NULL, "HCL configuration is not supported; "
	    "muster reads JSON config files only");
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
load_dir(struct cfg_ctx *x, const char *dir, bool any_ext)
{
	DIR *d = opendir(dir);
	struct cfg_strlist names = { 0 };
	struct dirent *de;
	int r = 0;

	if (d == NULL)
		return cfg_fail(x, dir, NULL, "cannot read: %s", strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0))
			cfg_list_add(&names, de->d_name);
	closedir(d);
	qsort(names.v, names.n, sizeof(*names.v), name_cmp);
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		size_t dl = strlen(dir);
		char *p = xasprintf("%s%s%s", dir, dl && dir[dl - 1] == '/' ?
		    "" : "/", names.v[i]);
		struct stat st;
		/* stat, not lstat: symlinked files count, as in Consul. */
		if (stat(p, &st) < 0)
			r = cfg_fail(x, p, NULL, "cannot read: %s",
			    strerror(errno));
		else if (S_ISDIR(st.st_mode))
			;	/* not recursive */
		else if (has_suffix(p, ".json") || any_ext)
			r = load_file(x, p);
		else if (has_suffix(p, ".hcl"))
			r = hcl_refused(x, p);
		else
			cfg_warn(x->c, "skipping file %s, extension must be "
			    ".json", p);
		free(p);
	}
	cfg_list_clear(&names);
	return r;
}

int
cfg_load_path(struct cfg_ctx *x, const char *path, bool any_ext)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return cfg_fail(x, path, NULL, "cannot read: %s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return load_dir(x, path, any_ext);
	if (has_suffix(path, ".json") || any_ext)
		return load_file(x, path);
	if (has_suffix(path, ".hcl"))
		return hcl_refused(x, path);
	return cfg_fail(x, path, NULL, "unknown file extension; config files "
	    "must end in .json (or use -config-format=json)");
}
