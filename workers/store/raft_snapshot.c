/*
 * Snapshot files (format in raft_store.h).  A snapshot becomes visible
 * only by rename after its bytes and the directory entry are durable, so
 * a crash leaves either the old set or the new one, plus perhaps a
 * temporary file that start-up removes.  Each file is verified whole
 * (CRC32C, sizes, metadata) before it is used.
 *
 * Raft paper §7 (log compaction): a snapshot records the last included
 * index and term so the AppendEntries consistency check (§5.3) still
 * works for the first entry after it, and the log before that index may
 * be discarded.  The file is what InstallSnapshot (§7, Figure 13) streams
 * in chunks to a follower that has fallen behind the leader's log.
 */
#include "workers/store/raft_store.h"
#include "workers/store/raft_wire.h"
#include "proto/codec.h"
#include "lib/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAP_MAGIC "MUSTSNP1"
#define SNAP_END "MUSTSEND"
#define SNAP_TRAILER 20		/* u64 body_len, u32 crc, magic */
#define SNAP_KEEP 2
#define SNAP_META_MAX (64 * 1024)

/* Records are small (one KV entry each): gather them into few writes. */
#define SNAP_WBUF (256 * 1024)

struct rft_snap_writer {
	int fd;
	bool sync;
	uint8_t *wbuf;
	size_t wlen;
	char dir[PATH_MAX];
	char tmp[PATH_MAX];
	char final[PATH_MAX];
	uint32_t crc;
	uint64_t body;
};

struct rft_snap_reader {
	int fd;
	uint64_t body_off;
	struct rft_snap_meta meta;
};

/* CRC-32C (Castagnoli, reflected 0x82F63B78), as in iSCSI and ext4:
 * SSE4.2's crc32 instruction where the CPU has it (a snapshot of a few
 * hundred MB is checksummed on the store's loop), else a table. */
static uint32_t
crc32c_table(uint32_t crc, const uint8_t *b, size_t n)
{
	static uint32_t table[256];
	static _Atomic bool ready;
	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
			table[i] = c;
		}
		ready = true;
	}
	while (n--)
		crc = table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const uint8_t *b, size_t n)
{
	uint64_t c = crc;
	for (; n >= 8; n -= 8, b += 8) {
		uint64_t v;
		memcpy(&v, b, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	crc = (uint32_t)c;
	while (n--)
		crc = __builtin_ia32_crc32qi(crc, *b++);
	return crc;
}
#endif

uint32_t
rft_crc32c(uint32_t crc, const void *p, size_t n)
{
	crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(crc, p, n);
#endif
	return ~crc32c_table(crc, p, n);
}

static int
snap_name(char *out, size_t size, const char *dir, uint64_t index,
    uint64_t term, const char *suffix)
{
	int n = snprintf(out, size, "%s/snap-%016" PRIx64 "-%016" PRIx64 "%s",
	    dir, index, term, suffix);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static bool
parse_name(const char *name, uint64_t *index, uint64_t *term)
{
	char tail[8];
	unsigned long long i, t;
	if (strlen(name) != 5 + 16 + 1 + 16 + 5 ||
	    sscanf(name, "snap-%16llx-%16llx%7s", &i, &t, tail) != 3 ||
	    strcmp(tail, ".snap") != 0)
		return false;
	*index = i;
	*term = t;
	return true;
}

static int
snap_flush(struct rft_snap_writer *w)
{
	int r = write_all(w->fd, w->wbuf, w->wlen);
	w->wlen = 0;
	return r;
}

static int
snap_put(struct rft_snap_writer *w, const void *p, size_t n)
{
	int r;
	w->crc = rft_crc32c(w->crc, p, n);
	if (w->wlen + n > SNAP_WBUF && (r = snap_flush(w)) < 0)
		return r;
	if (n >= SNAP_WBUF)
		return write_all(w->fd, p, n);
	memcpy(w->wbuf + w->wlen, p, n);
	w->wlen += n;
	return 0;
}

int
rft_snap_create(const char *dir, uint64_t index, uint64_t term,
    const struct rft_conf *conf, bool sync, struct rft_snap_writer **out)
{
	struct rft_snap_writer *w = xcalloc(1, sizeof(*w));
	int r;
	w->sync = sync;
	strlcpy_m(w->dir, dir, sizeof(w->dir));
	if ((r = snap_name(w->final, sizeof(w->final), dir, index, term,
	    ".snap")) < 0 ||
	    (r = snap_name(w->tmp, sizeof(w->tmp), dir, index, term,
	    ".snap.tmp")) < 0) {
		free(w);
		return r;
	}
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	w->wbuf = xmalloc(SNAP_WBUF);
	struct buf h, c;
	buf_init(&h);
	buf_init(&c);
	rft_conf_encode(&c, conf);
	buf_add(&h, SNAP_MAGIC, 8);
	proto_put_u32(&h, (uint32_t)(8 + 8 + 4 + c.len));
	proto_put_u64(&h, index);
	proto_put_u64(&h, term);
	proto_put_u32(&h, (uint32_t)c.len);
	buf_add(&h, c.data, c.len);
	r = snap_put(w, h.data, h.len);
	buf_free(&h);
	buf_free(&c);
	if (r < 0) {
		rft_snap_abort(w);
		return r;
	}
	*out = w;
	return 0;
}

int
rft_snap_write(struct rft_snap_writer *w, const void *p, size_t n)
{
	int r = snap_put(w, p, n);
	if (r == 0)
		w->body += n;
	return r;
}

void
rft_snap_abort(struct rft_snap_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp);
	free(w->wbuf);
	free(w);
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

struct snap_ent {
	uint64_t index, term;
	char name[64];
};

static int
ent_cmp(const void *a, const void *b)
{
	const struct snap_ent *x = a, *y = b;
	/* Newest first. */
	if (x->index != y->index)
		return x->index < y->index ? 1 : -1;
	if (x->term != y->term)
		return x->term < y->term ? 1 : -1;
	return 0;
}

/* Snapshot files in dir, newest first; temporary ones optionally
 * removed.  Returns the count or -errno. */
static int
snap_list(const char *dir, struct snap_ent **out, bool remove_tmp)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct snap_ent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct snap_ent e;
		size_t len = strlen(de->d_name);
		if (remove_tmp && len > 9 && strncmp(de->d_name, "snap-", 5) == 0 &&
		    strcmp(de->d_name + len - 4, ".tmp") == 0) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		if (!parse_name(de->d_name, &e.index, &e.term))
			continue;
		strlcpy_m(e.name, de->d_name, sizeof(e.name));
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = e;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), ent_cmp);
	*out = v;
	return (int)n;
}

static void
snap_prune(const char *dir)
{
	struct snap_ent *v = NULL;
	int n = snap_list(dir, &v, false);
	for (int i = SNAP_KEEP; i < n; i++) {
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/%s", dir, v[i].name) <
		    (int)sizeof(path))
			unlink(path);
	}
	free(v);
}

int
rft_snap_commit(struct rft_snap_writer *w)
{
	uint8_t t[SNAP_TRAILER];
	proto_wle64(t, w->body);
	w->crc = rft_crc32c(w->crc, t, 8);
	proto_wle32(t + 8, w->crc);
	memcpy(t + 12, SNAP_END, 8);
	int r = snap_flush(w);
	if (r == 0)
		r = write_all(w->fd, t, sizeof(t));
	if (r == 0 && w->sync && fsync(w->fd) < 0)
		r = -errno;
	if (r == 0 && close(w->fd) < 0)
		r = -errno;
	w->fd = -1;
	if (r == 0 && rename(w->tmp, w->final) < 0)
		r = -errno;
	if (r == 0 && w->sync)
		r = fsync_dir(w->dir);
	if (r < 0) {
		rft_snap_abort(w);
		return r;
	}
	snap_prune(w->dir);
	free(w->wbuf);
	free(w);
	return 0;
}

/* Verify a whole file: sizes, magic, checksum, metadata. */
static int
snap_verify(int fd, struct rft_snap_reader *rd)
{
	struct stat st;
	uint8_t head[12], t[SNAP_TRAILER], buf[65536];
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	if (size < sizeof(head) + SNAP_TRAILER ||
	    pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, SNAP_MAGIC, 8) != 0)
		return -EBADMSG;
	uint32_t mlen = proto_le32(head + 8);
	if (mlen < 20 || mlen > SNAP_META_MAX ||
	    size < sizeof(head) + mlen + SNAP_TRAILER)
		return -EBADMSG;
	uint64_t body_off = sizeof(head) + mlen;
	uint64_t body = size - body_off - SNAP_TRAILER;
	if (pread(fd, t, sizeof(t), (off_t)(size - SNAP_TRAILER)) !=
	    (ssize_t)sizeof(t) || memcmp(t + 12, SNAP_END, 8) != 0 ||
	    proto_le64(t) != body)
		return -EBADMSG;
	uint32_t crc = 0;
	for (uint64_t off = 0; off < size - 12;) {
		size_t k = (size_t)MIN(sizeof(buf), size - 12 - off);
		if (pread(fd, buf, k, (off_t)off) != (ssize_t)k)
			return -EIO;
		crc = rft_crc32c(crc, buf, k);
		off += k;
	}
	if (crc != proto_le32(t + 8))
		return -EBADMSG;
	uint8_t *m = xmalloc(mlen);
	int r = pread(fd, m, mlen, sizeof(head)) == (ssize_t)mlen ? 0 : -EIO;
	if (r == 0) {
		rd->meta.index = proto_le64(m);
		rd->meta.term = proto_le64(m + 8);
		uint32_t clen = proto_le32(m + 16);
		if (clen != mlen - 20 ||
		    rft_conf_decode(m + 20, clen, &rd->meta.conf) < 0)
			r = -EBADMSG;
	}
	free(m);
	rd->meta.size = body;
	rd->body_off = body_off;
	return r;
}

static int
snap_open_file(const char *dir, const struct snap_ent *e,
    struct rft_snap_reader **out)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", dir, e->name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct rft_snap_reader *rd = xcalloc(1, sizeof(*rd));
	rd->fd = fd;
	int r = snap_verify(fd, rd);
	if (r == 0 && (rd->meta.index != e->index || rd->meta.term != e->term))
		r = -EBADMSG;
	if (r < 0) {
		rft_snap_close(rd);
		return r;
	}
	*out = rd;
	return 0;
}

int
rft_snap_open_latest(const char *dir, struct rft_snap_reader **out,
    void (*skipped)(void *arg, const char *name, int err), void *arg)
{
	struct snap_ent *v = NULL;
	int n = snap_list(dir, &v, true), r = -ENOENT;
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		r = snap_open_file(dir, &v[i], out);
		if (r == 0)
			break;
		if (skipped)
			skipped(arg, v[i].name, r);
		r = -ENOENT;
	}
	free(v);
	return r;
}

int
rft_snap_open_index(const char *dir, uint64_t index,
    struct rft_snap_reader **out)
{
	struct snap_ent *v = NULL;
	int n = snap_list(dir, &v, false), r = -ENOENT;
	if (n < 0)
		return n;
	for (int i = 0; i < n && r < 0; i++)
		if (v[i].index == index)
			r = snap_open_file(dir, &v[i], out);
	free(v);
	return r;
}

const struct rft_snap_meta *
rft_snap_meta(const struct rft_snap_reader *r)
{
	return &r->meta;
}

int
rft_snap_read(struct rft_snap_reader *r, uint64_t off, void *buf, size_t len)
{
	if (off > r->meta.size)
		return -EINVAL;
	size_t k = (size_t)MIN((uint64_t)len, r->meta.size - off);
	if (k > INT_MAX)
		k = INT_MAX;
	size_t done = 0;
	while (done < k) {
		ssize_t n = pread(r->fd, (uint8_t *)buf + done, k - done,
		    (off_t)(r->body_off + off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return (int)done;
}

void
rft_snap_close(struct rft_snap_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}
