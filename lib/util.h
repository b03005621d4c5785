/* Small helpers every process uses: allocation that cannot fail silently,
 * a growable byte buffer, monotonic time, descriptor flags. */
#ifndef MUSTER_UTIL_H
#define MUSTER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Out of memory in a daemon is a broken invariant: these fatal(). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

size_t strlcpy_m(char *dst, const char *src, size_t size);

/* Growable buffer: data[0..len) valid, always NUL-terminated past len. */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drop n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* Hand the storage to the caller (NUL-terminated); b is reset. */
char *buf_steal(struct buf *b);

/* Monotonic clock in milliseconds / nanoseconds. */
uint64_t mono_ms(void);
uint64_t mono_ns(void);
/* Wall clock in nanoseconds since the epoch. */
uint64_t wall_ns(void);

int fd_set_nonblock(int fd, bool on);
int fd_set_cloexec(int fd, bool on);

/* Write the whole buffer to a blocking fd; -errno on failure. */
int write_all(int fd, const void *p, size_t n);
/* Read a whole file (max bytes at most); -errno, -EFBIG when larger. */
int read_file(const char *path, size_t max, struct buf *out);

/* Random bytes from getrandom(2); -errno on failure. */
int random_bytes(void *p, size_t n);
/* RFC 4122 version-4 UUID text (37 bytes with NUL). */
int uuid_v4(char out[37]);

#endif
