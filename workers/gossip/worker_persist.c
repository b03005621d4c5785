/*
 * What the gossip worker keeps in data_dir/serf (agent/keyring.go and
 * serf's snapshot.go, as Consul lays them out):
 *
 *   local.keyring / remote.keyring   JSON array of base64 keys, primary
 *                                    first (LAN / WAN); not with
 *                                    disable_keyring_file (-dev's default)
 *   local.snapshot / remote.snapshot serf's snapshot lines: "alive: NAME
 *                                    IP:PORT", "not-alive: NAME",
 *                                    "clock: N", "event-clock: N",
 *                                    "query-clock: N", "leave"; not in -dev
 *
 * Both are read in ops->init by absolute path, before the privilege drop.
 * Afterwards the worker's current directory is data_dir/serf (its chroot
 * as root), so they are rewritten by relative path: a temporary file,
 * fsync, rename.  The snapshot is rewritten whole (serf appends and
 * compacts; a reader sees the same thing), at most once a second while
 * members change, at once on a graceful leave.
 *
 * On start (Consul's setupKeyrings): with -encrypt and no keyring file,
 * the file is created with that key; an existing file wins over
 * -encrypt (logged when the key is not in it).
 */
#include "workers/gossip/worker_gossip.h"
#include "supervisor/config.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GW_FILE_MAX (16u << 20)
#define GW_SNAP_DELAY 1.0	/* s between snapshot rewrites */

static char *
serf_path(const struct agent_config *c, const char *file)
{
	return xasprintf("%s/serf/%s", c->data_dir, file);
}

void
gw_persist_init(struct gw_pool *p, const struct agent_config *c)
{
	bool wan = p->idx == GW_WAN;
	struct buf b;

	if (c->data_dir[0] == '\0')
		return;
	if (!c->disable_keyring_file)
		p->ring_file = wan ? "remote.keyring" : "local.keyring";
	/* Consul keeps no snapshot in dev mode. */
	if (c->dev)
		return;
	p->snap_file = wan ? "remote.snapshot" : "local.snapshot";
	char *path = serf_path(c, p->snap_file);
	buf_init(&b);
	int r = read_file(path, GW_FILE_MAX, &b);
	if (r == 0) {
		if (gw_snapshot_parse((char *)b.data, b.len,
		    c->rejoin_after_leave, &p->prev) < 0)
			log_warnx("%s: unreadable lines skipped", path);
		if (p->prev.leave && !c->rejoin_after_leave)
			log_info("%s pool: left gracefully before; not "
			    "rejoining previous members (-rejoin not set)",
			    p->label);
	} else if (r != -ENOENT)
		log_warnx("%s: %s", path, strerror(-r));
	buf_free(&b);
	free(path);
}

static bool
ring_has(const struct gossip_keyring *kr, const uint8_t *key, size_t len)
{
	for (unsigned i = 0; i < kr->n; i++)
		if (kr->keylen[i] == len && memcmp(kr->key[i], key, len) == 0)
			return true;
	return false;
}

int
gw_keyring_setup(struct gw_pool *p, const struct agent_config *c,
    struct buf *err)
{
	uint8_t key[32];
	size_t klen = 0;
	const char *why = "";
	struct buf b;
	int r;

	bool enc = c->encrypt && c->encrypt[0];
	if (enc && (gossip_key_from_base64(c->encrypt, key, &klen) < 0 ||
	    gossip_key_validate(klen) < 0)) {
		buf_printf(err, "Invalid key: %s", c->encrypt);
		return -EINVAL;
	}
	if (p->ring_file == NULL) {
		if (enc)
			gossip_keyring_add(&p->ring, key, klen);
		return 0;
	}
	char *path = serf_path(c, p->ring_file);
	buf_init(&b);
	r = read_file(path, GW_FILE_MAX, &b);
	if (r == -ENOENT) {
		r = 0;
		if (enc) {
			gossip_keyring_add(&p->ring, key, klen);
			p->ring_write = true;	/* once we may write */
		}
	} else if (r < 0) {
		buf_printf(err, "%s: %s", path, strerror(-r));
	} else if ((r = gossip_keyring_load_json(&p->ring, (char *)b.data,
	    b.len, &why)) < 0) {
		buf_printf(err, "%s: %s", path, why);
	} else if (p->ring.n == 0) {
		buf_printf(err, "no keys present in keyring: %s", path);
		r = -EINVAL;
	} else if (enc && !ring_has(&p->ring, key, klen)) {
		log_warnx("%s keyring %s exists but does not include the key "
		    "given with -encrypt: using the keyring", p->label, path);
	} else if (enc) {
		log_info("%s keyring %s exists: -encrypt is already in it",
		    p->label, path);
	}
	buf_free(&b);
	free(path);
	return r;
}

/* Write data to file in the current directory (data_dir/serf): temp
 * file, fsync, rename, so a reader sees the old or the new file. */
static int
write_atomic(const char *file, const void *data, size_t len)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int r = write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, file) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

void
gw_keyring_save(struct gw_pool *p)
{
	struct buf b;
	p->ring_write = false;
	if (p->ring_file == NULL)
		return;
	buf_init(&b);
	gossip_keyring_to_json(&p->ring, &b);
	int r = write_atomic(p->ring_file, b.data, b.len);
	if (r < 0)
		log_warnx("%s keyring: writing %s: %s", p->label, p->ring_file,
		    strerror(-r));
	else
		log_debug("%s keyring: %u keys saved", p->label, p->ring.n);
	buf_free(&b);
}

/* ---- snapshots ---- */

void
gw_snapshot_clear(struct gw_snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->names[i]);
		free(s->addrs[i]);
	}
	free(s->names);
	free(s->addrs);
	memset(s, 0, sizeof(*s));
}

static void
snap_alive(struct gw_snapshot *s, const char *name, size_t nlen,
    const char *addr, size_t alen)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->names[i]) == nlen &&
		    memcmp(s->names[i], name, nlen) == 0) {
			free(s->addrs[i]);
			s->addrs[i] = xstrndup(addr, alen);
			return;
		}
	s->names = xrealloc(s->names, (s->n + 1) * sizeof(*s->names));
	s->addrs = xrealloc(s->addrs, (s->n + 1) * sizeof(*s->addrs));
	s->names[s->n] = xstrndup(name, nlen);
	s->addrs[s->n++] = xstrndup(addr, alen);
}

static void
snap_not_alive(struct gw_snapshot *s, const char *name, size_t nlen)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->names[i]) == nlen &&
		    memcmp(s->names[i], name, nlen) == 0) {
			free(s->names[i]);
			free(s->addrs[i]);
			s->names[i] = s->names[--s->n];
			s->addrs[i] = s->addrs[s->n];
			return;
		}
}

static bool
snap_clock(const char *l, size_t n, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);
	char num[32];
	if (n <= kl || memcmp(l, key, kl) != 0 || n - kl >= sizeof(num))
		return false;
	memcpy(num, l + kl, n - kl);
	num[n - kl] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(num, &end, 10);
	if (errno || *end || end == num)
		return false;
	*out = v;
	return true;
}

/* One line; false when it is not understood (serf logs and skips). */
static bool
snap_line(struct gw_snapshot *s, const char *l, size_t n, bool rejoin)
{
	if (n == 0 || l[0] == '#')
		return true;
	if (n > 7 && memcmp(l, "alive: ", 7) == 0) {
		const char *sp = memrchr(l + 7, ' ', n - 7);
		if (sp == NULL || sp == l + 7)
			return false;
		snap_alive(s, l + 7, (size_t)(sp - l - 7), sp + 1,
		    (size_t)(l + n - sp - 1));
		return true;
	}
	if (n > 11 && memcmp(l, "not-alive: ", 11) == 0) {
		snap_not_alive(s, l + 11, n - 11);
		return true;
	}
	if (snap_clock(l, n, "clock: ", &s->clock) ||
	    snap_clock(l, n, "event-clock: ", &s->event_clock) ||
	    snap_clock(l, n, "query-clock: ", &s->query_clock))
		return true;
	if (n >= 12 && memcmp(l, "coordinate: ", 12) == 0)
		return true;
	if (n == 5 && memcmp(l, "leave", 5) == 0) {
		/* serf: a previous graceful leave forgets the members,
		 * unless RejoinAfterLeave. */
		s->leave = true;
		if (!rejoin) {
			bool left = s->leave;
			gw_snapshot_clear(s);
			s->leave = left;
		}
		return true;
	}
	return false;
}

int
gw_snapshot_parse(const char *text, size_t len, bool rejoin_after_leave,
    struct gw_snapshot *s)
{
	int bad = 0;
	memset(s, 0, sizeof(*s));
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		if (!snap_line(s, text, n, rejoin_after_leave))
			bad++;
		if (nl == NULL)
			break;
		len -= n + 1;
		text = nl + 1;
	}
	return bad ? -EINVAL : 0;
}

static void
snapshot_write(struct gw_pool *p)
{
	struct gossip_member *ms;
	struct gossip_serf_stats st;
	struct buf b;
	char a[64];

	p->snap_dirty = false;
	if (p->snap_file == NULL || p->pool == NULL)
		return;
	struct gossip_serf *s = gossip_pool_serf(p->pool);
	const char *self = gossip_serf_local(s)->name;
	buf_init(&b);
	size_t n = gossip_serf_members(s, &ms);
	for (size_t i = 0; i < n; i++) {
		if ((ms[i].status == GOSSIP_MEMBER_ALIVE ||
		    ms[i].status == GOSSIP_MEMBER_LEAVING) &&
		    strcmp(ms[i].name, self) != 0) {
			gossip_addr_fmt(&ms[i].addr, a);
			buf_printf(&b, "alive: %s %s\n", ms[i].name, a);
		}
		gossip_member_free(&ms[i]);
	}
	free(ms);
	gossip_serf_stats(s, &st);
	buf_printf(&b, "clock: %" PRIu64 "\nevent-clock: %" PRIu64
	    "\nquery-clock: %" PRIu64 "\n", st.member_time, st.event_time,
	    st.query_time);
	if (p->g->leave_asked)
		buf_addstr(&b, "leave\n");
	int r = write_atomic(p->snap_file, b.data, b.len);
	if (r < 0)
		log_warnx("%s pool: writing %s: %s", p->label, p->snap_file,
		    strerror(-r));
	buf_free(&b);
}

static void
snap_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gw_pool *p = t->data;
	if (p->snap_dirty)
		snapshot_write(p);
}

void
gw_snapshot_start(struct gw_pool *p)
{
	ev_timer_init(&p->snap_timer, snap_timer_cb, GW_SNAP_DELAY, 0.0);
	p->snap_timer.data = p;
}

void
gw_snapshot_touch(struct gw_pool *p)
{
	if (p->snap_file == NULL || p->snap_dirty)
		return;
	p->snap_dirty = true;
	ev_timer_set(&p->snap_timer, GW_SNAP_DELAY, 0.0);
	ev_timer_start(p->g->w->loop, &p->snap_timer);
}

/* Called as the leave starts (serf's snapshotter.Leave()). */
void
gw_snapshot_leave(struct gw_pool *p)
{
	if (p->snap_file == NULL)
		return;
	ev_timer_stop(p->g->w->loop, &p->snap_timer);
	snapshot_write(p);
}

void
gw_snapshot_free(struct gw_pool *p)
{
	if (p->g && p->g->w && p->snap_file && p->pool) {
		ev_timer_stop(p->g->w->loop, &p->snap_timer);
		if (p->snap_dirty)
			snapshot_write(p);
	}
	gw_snapshot_clear(&p->prev);
}
