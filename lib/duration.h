/*
 * Durations in Go's time.Duration text form, which is what Consul's config
 * files, flags and HTTP API use ("10s", "1h30m", "300ms", "1.5s").
 * Values are signed 64-bit nanoseconds, like Go's.
 */
#ifndef MUSTER_DURATION_H
#define MUSTER_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define DURATION_NS ((int64_t)1)
#define DURATION_US ((int64_t)1000)
#define DURATION_MS ((int64_t)1000000)
#define DURATION_S ((int64_t)1000000000)
#define DURATION_M (60 * DURATION_S)
#define DURATION_H (60 * DURATION_M)

/* Longest duration_format() output ("-2562047h47m16.854775808s") + NUL. */
#define DURATION_STRLEN 32

/*
 * Parse s[0..len) as Go's time.ParseDuration does: an optional sign, then
 * one or more decimal numbers with an optional fraction and a unit among
 * "ns", "us", "µs" (U+00B5 or U+03BC), "ms", "s", "m", "h"; the bare
 * string "0" is accepted.  Returns 0, -EINVAL for bad syntax (including
 * an empty string or a missing unit) or -ERANGE when the value does not
 * fit in int64 nanoseconds.
 */
int duration_parse(const char *s, size_t len, int64_t *ns);

/*
 * Format as Go's Duration.String(): "0s", "1.5µs", "300ms", "1m30s",
 * "72h0m0s".  out should hold DURATION_STRLEN bytes; the result is
 * truncated (and still NUL-terminated) when outlen is smaller.
 */
void duration_format(int64_t ns, char *out, size_t outlen);

#endif
