/*
 * Registrations made through the API survive a restart (Agent.
 * persistService / persistCheck / persistCheckState): one JSON file per
 * service and per check under data_dir/local/{services,checks}, named by
 * the SHA-256 of the ID, and TTL check state under checks/state.  Files
 * are written to a temporary name, fsync'd, renamed over the old one and
 * the directory fsync'd.  With -dev (no data_dir) nothing is written.
 *
 * Loading happens before the privilege drop, with the absolute path;
 * writing after it, from the directory the drop left us in when that is
 * data_dir/local (the policy's write_dir), else by absolute path.
 */
#include "workers/checks/chk.h"
#include "lib/json.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_MAX (4u << 20)

static const char *const subdirs[] = { "services", "checks",
	"checks/state" };

static void
id_hash(const char *id, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_Digest(id, strlen(id), md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static char *
abs_local(const struct chk_state *st)
{
	return xasprintf("%s/local", st->data_dir);
}

void
chk_persist_locate(struct chk_state *st, bool before)
{
	struct stat sb;
	char *abs;

	if (st->data_dir[0] == '\0')
		return;
	abs = abs_local(st);
	if (before) {
		if (stat(abs, &sb) == 0) {
			st->local_dev = (uint64_t)sb.st_dev;
			st->local_ino = (uint64_t)sb.st_ino;
		}
		free(abs);
		return;
	}
	free(st->local_dir);
	if (stat(".", &sb) == 0 && (uint64_t)sb.st_dev == st->local_dev &&
	    (uint64_t)sb.st_ino == st->local_ino) {
		st->local_dir = xstrdup(".");
		free(abs);
	} else
		st->local_dir = abs;
	for (size_t i = 0; i < nitems(subdirs); i++) {
		char *p = xasprintf("%s/%s", st->local_dir, subdirs[i]);
		int r = mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
		if (r == 0 && access(p, W_OK | X_OK) < 0)
			r = -errno;
		if (r < 0) {
			log_warnx("registrations will NOT survive a restart: "
			    "%s: %s", p, strerror(-r));
			free(p);
			free(st->local_dir);
			st->local_dir = NULL;
			return;
		}
		free(p);
	}
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Write data to dir/name atomically. */
static int
write_atomic(const char *dir, const char *name, const struct buf *data)
{
	char *path = xasprintf("%s/%s", dir, name);
	char *tmp = xasprintf("%s.tmp", path);
	int fd, r = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		r = -errno;
	else {
		if ((r = write_all(fd, data->data, data->len)) == 0 &&
		    fsync(fd) < 0)
			r = -errno;
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r == 0 && rename(tmp, path) < 0)
			r = -errno;
		if (r < 0)
			unlink(tmp);
	}
	if (r == 0)
		r = fsync_dir(dir);
	free(path);
	free(tmp);
	return r;
}

static int
persist(struct chk_state *st, const char *sub, const char *id,
    const struct buf *data)
{
	char h[65];
	char *dir;
	int r;
	if (st->local_dir == NULL)
		return 0;
	id_hash(id, h);
	dir = xasprintf("%s/%s", st->local_dir, sub);
	r = write_atomic(dir, h, data);
	free(dir);
	return r;
}

static void
purge(struct chk_state *st, const char *base, const char *sub, const char *id)
{
	char h[65];
	char *p;
	if (base == NULL)
		return;
	id_hash(id, h);
	p = xasprintf("%s/%s/%s", base, sub, h);
	if (unlink(p) < 0 && errno != ENOENT)
		log_warn("removing %s", p);
	free(p);
}

static const char *
source_name(enum chk_source s)
{
	return s == CHK_SRC_REMOTE ? "remote" : "local";
}

int
chk_persist_service(struct chk_state *st, const struct chk_service *s)
{
	struct buf b;
	int r;
	buf_init(&b);
	buf_printf(&b, "{\"Source\":\"%s\",\"Service\":", source_name(s->source));
	chk_write_service_def(&b, s);
	buf_addch(&b, '}');
	r = persist(st, "services", s->id, &b);
	buf_free(&b);
	return r;
}

int
chk_persist_check(struct chk_state *st, const struct chk_check *c)
{
	struct buf b;
	struct json_w w;
	int r;
	buf_init(&b);
	buf_printf(&b, "{\"Source\":\"%s\",", source_name(c->source));
	if (c->has_def) {
		/* HealthCheck's Interval/Timeout text differs between service
		 * and standalone checks ("" vs "0s"): kept as shown. */
		buf_addstr(&b, "\"IntervalText\":");
		json_w_init(&w, &b, false);
		json_w_str(&w, c->interval_text);
		json_w_finish(&w);
		buf_addstr(&b, ",\"TimeoutText\":");
		json_w_init(&w, &b, false);
		json_w_str(&w, c->timeout_text);
		json_w_finish(&w);
		buf_addstr(&b, ",\"Check\":");
		chk_write_check_def(&b, &c->def);
	} else {
		buf_addstr(&b, "\"Maintenance\":");
		json_w_init(&w, &b, false);
		json_w_obj_open(&w);
		json_w_key(&w, "ID");
		json_w_str(&w, c->id);
		json_w_key(&w, "Name");
		json_w_str(&w, c->name);
		json_w_key(&w, "Notes");
		json_w_str(&w, c->notes);
		json_w_key(&w, "ServiceID");
		json_w_str(&w, c->service_id);
		json_w_obj_close(&w);
		json_w_finish(&w);
	}
	buf_addch(&b, '}');
	r = persist(st, "checks", c->id, &b);
	buf_free(&b);
	return r;
}

int
chk_persist_ttl_state(struct chk_state *st, const struct chk_check *c,
    int64_t ttl_ns)
{
	struct buf b;
	struct json_w w;
	int r;
	buf_init(&b);
	json_w_init(&w, &b, false);
	json_w_obj_open(&w);
	json_w_key(&w, "CheckID");
	json_w_str(&w, c->id);
	json_w_key(&w, "Status");
	json_w_str(&w, chk_status_name(c->status));
	json_w_key(&w, "Output");
	json_w_str(&w, c->output);
	json_w_key(&w, "Expires");
	json_w_int(&w, (int64_t)time(NULL) + ttl_ns / 1000000000LL);
	json_w_obj_close(&w);
	json_w_finish(&w);
	r = persist(st, "checks/state", c->id, &b);
	buf_free(&b);
	return r;
}

void
chk_purge_service(struct chk_state *st, const char *id)
{
	purge(st, st->local_dir, "services", id);
}

void
chk_purge_check(struct chk_state *st, const char *id)
{
	purge(st, st->local_dir, "checks", id);
	purge(st, st->local_dir, "checks/state", id);
}

/* ---- loading ---- */

typedef void load_fn(struct chk_state *st, const char *path, yajl_val doc);

static void
each_file(struct chk_state *st, const char *base, const char *sub,
    load_fn *fn)
{
	char *dir = xasprintf("%s/%s", base, sub);
	DIR *d = opendir(dir);
	struct dirent *de;
	struct buf b, err;

	buf_init(&b);
	buf_init(&err);
	while (d && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct stat sb;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		yajl_val doc;
		buf_reset(&b);
		buf_reset(&err);
		if (de->d_name[0] == '.' || (n >= 3 &&
		    strcmp(de->d_name + n - 3, "tmp") == 0) ||
		    stat(p, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			free(p);
			continue;
		}
		if (read_file(p, FILE_MAX, &b) < 0 ||
		    (doc = json_parse((char *)b.data, b.len, &err)) == NULL)
			log_warnx("ignoring unreadable %s", p);
		else {
			fn(st, p, doc);
			yajl_tree_free(doc);
		}
		free(p);
	}
	if (d)
		closedir(d);
	buf_free(&b);
	buf_free(&err);
	free(dir);
}

static enum chk_source
doc_source(yajl_val doc)
{
	const char *s = NULL;
	return json_as_str(json_get(doc, "Source"), &s) &&
	    strcmp(s, "remote") == 0 ? CHK_SRC_REMOTE : CHK_SRC_LOCAL;
}

/* A service also defined in a config file keeps the config's definition
 * and its file is purged (Agent.loadServices). */
static void
load_service(struct chk_state *st, const char *path, yajl_val doc)
{
	struct chk_service_def d;
	struct chk_service *s;
	struct buf err;
	char *id;

	buf_init(&err);
	if (chk_parse_service(json_get(doc, "Service"), &d, &err) < 0) {
		log_warnx("ignoring %s: %s", path, (char *)err.data);
		buf_free(&err);
		return;
	}
	id = xstrdup(d.svc->id[0] ? d.svc->id : d.svc->name);
	if (chk_service_find(st, id)) {
		log_debug("service %s exists, not restoring %s", id, path);
		chk_service_def_free(&d);
		unlink(path);
	} else if (chk_add_service(st, &d, doc_source(doc), false, false,
	    &err) < 0)
		log_warnx("cannot restore service %s from %s: %s", id, path,
		    (char *)err.data);
	else if ((s = chk_service_find(st, id)) != NULL)
		s->persisted = true;
	free(id);
	buf_free(&err);
}

/* Restored checks start critical (Agent.loadChecks); TTL state may
 * restore more below. */
static void
load_check(struct chk_state *st, const char *path, yajl_val doc)
{
	yajl_val m = json_get(doc, "Maintenance");
	struct chk_check *c;
	struct chk_def d;
	struct buf err;
	const char *sid = "", *notes = "", *id = "";
	char *cid;

	buf_init(&err);
	if (m) {
		json_as_str(json_get(m, "ServiceID"), &sid);
		json_as_str(json_get(m, "Notes"), &notes);
		if (chk_maintenance(st, sid[0] ? sid : NULL, true, notes,
		    &err) < 0) {
			log_warnx("dropping %s: %s", path, (char *)err.data);
			unlink(path);
		} else {
			json_as_str(json_get(m, "ID"), &id);
			if ((c = chk_check_find(st, id)) != NULL)
				c->persisted = true;
		}
		buf_free(&err);
		return;
	}
	if (chk_parse_check(json_get(doc, "Check"), &d, &err) < 0) {
		log_warnx("ignoring %s: %s", path, (char *)err.data);
		buf_free(&err);
		return;
	}
	json_as_str(json_get(json_get(doc, "Check"), "ID"), &id);
	cid = xstrdup(id[0] ? id : d.name);
	if (chk_check_find(st, cid)) {
		chk_def_free(&d);
		unlink(path);
	} else if (chk_add_check(st, &d, doc_source(doc), false, &err) < 0) {
		log_warnx("cannot restore check %s from %s: %s", cid, path,
		    (char *)err.data);
		unlink(path);
	} else if ((c = chk_check_find(st, cid)) != NULL) {
		const char *iv = NULL, *to = NULL;
		c->persisted = true;
		chk_update(st, c, CHK_CRITICAL, "");
		if (json_as_str(json_get(doc, "IntervalText"), &iv) &&
		    json_as_str(json_get(doc, "TimeoutText"), &to)) {
			free(c->interval_text);
			free(c->timeout_text);
			c->interval_text = xstrdup(iv);
			c->timeout_text = xstrdup(to);
		}
	}
	free(cid);
	buf_free(&err);
}

/* Agent.loadCheckState: TTL status and output, unless expired. */
static void
load_state(struct chk_state *st, const char *path, yajl_val doc)
{
	const char *id = NULL, *status = NULL, *output = "";
	int64_t expires = 0;
	enum chk_status s;
	struct chk_check *c;

	if (!json_as_str(json_get(doc, "CheckID"), &id) ||
	    !json_as_str(json_get(doc, "Status"), &status) ||
	    !json_as_int(json_get(doc, "Expires"), &expires) ||
	    chk_status_parse(status, &s) < 0 ||
	    (int64_t)time(NULL) >= expires ||
	    (c = chk_check_find(st, id)) == NULL || c->kind != CHK_K_TTL) {
		unlink(path);
		return;
	}
	json_as_str(json_get(doc, "Output"), &output);
	chk_update(st, c, s, output);
}

void
chk_persist_load(struct chk_state *st)
{
	char *base;
	if (st->data_dir[0] == '\0')
		return;
	base = abs_local(st);
	each_file(st, base, "services", load_service);
	each_file(st, base, "checks", load_check);
	each_file(st, base, "checks/state", load_state);
	free(base);
}
