/* Snapshot archives (see archive.h). */
#include "lib/archive.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/sha.h>

static void
hex_sha256(const void *p, size_t n, char out[65])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256(p, n, d);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* One ustar member: 512-byte header, data padded to 512. */
static void
tar_add(struct buf *out, const char *name, const void *p, size_t n)
{
	char h[512];
	memset(h, 0, sizeof(h));
	memcpy(h, name, strnlen(name, 99));
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0000000", 7);
	memcpy(h + 116, "0000000", 7);
	char num[24];
	snprintf(num, sizeof(num), "%011zo", n & 077777777777);
	memcpy(h + 124, num, 11);
	snprintf(num, sizeof(num), "%011llo",
	    (unsigned long long)(wall_ns() / 1000000000ull) & 077777777777);
	memcpy(h + 136, num, 11);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof(h); i++)
		sum += (unsigned char)h[i];
	snprintf(num, sizeof(num), "%06o", sum & 0777777);
	memcpy(h + 148, num, 6);
	h[154] = '\0';
	h[155] = ' ';
	buf_add(out, h, sizeof(h));
	buf_add(out, p, n);
	static const char zero[512];
	if (n % 512)
		buf_add(out, zero, 512 - n % 512);
}


static uint64_t
octal(const char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(p[i] - '0');
	return v;
}

/* Find the wanted members; -EINVAL on a malformed archive. */
static int
tar_read(const uint8_t *p, size_t len, struct archive_file *want, size_t nwant)
{
	size_t off = 0;
	while (off + 512 <= len) {
		const char *h = (const char *)p + off;
		if (h[0] == '\0')
			return 0;	/* end-of-archive block */
		unsigned sum = 0;
		for (size_t i = 0; i < 512; i++)
			sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)h[i];
		if (sum != octal(h + 148, 8))
			return -EINVAL;
		uint64_t size = octal(h + 124, 12);
		if (size > len - off - 512)
			return -EINVAL;
		for (size_t i = 0; i < nwant; i++)
			if (strncmp(h, want[i].name, 100) == 0) {
				want[i].data = p + off + 512;
				want[i].len = (size_t)size;
				want[i].found = true;
			}
		off += 512 + (size + 511) / 512 * 512;
	}
	return off == len ? 0 : -EINVAL;
}

/* The checksum listed for f in SHA256SUMS, checked against its data. */
static bool
sum_ok(const struct archive_file *sums, const struct archive_file *f)
{
	char want[65], line[200];
	hex_sha256(f->data, f->len, want);
	snprintf(line, sizeof(line), "%s  %s\n", want, f->name);
	return sums->len >= strlen(line) &&
	    memmem(sums->data, sums->len, line, strlen(line)) != NULL;
}

void
archive_snapshot_build(struct buf *out, const void *meta, size_t metalen,
    const void *state, size_t statelen)
{
	char h1[65], h2[65];
	struct buf sums;
	static const char zero[1024];
	buf_init(&sums);
	hex_sha256(meta, metalen, h1);
	hex_sha256(state, statelen, h2);
	buf_printf(&sums, "%s  meta.json\n%s  state.bin\n", h1, h2);
	tar_add(out, "meta.json", meta, metalen);
	tar_add(out, "state.bin", state, statelen);
	tar_add(out, "SHA256SUMS", sums.data, sums.len);
	buf_add(out, zero, sizeof(zero));
	buf_free(&sums);
}

int
archive_snapshot_open(const uint8_t *p, size_t len,
    struct archive_file files[3], const char **why)
{
	struct archive_file *f = files;
	memset(f, 0, 3 * sizeof(*f));
	f[0].name = "meta.json";
	f[1].name = "state.bin";
	f[2].name = "SHA256SUMS";
	if (tar_read(p, len, f, 3) < 0 || !f[0].found || !f[1].found ||
	    !f[2].found) {
		*why = "not a snapshot archive (meta.json, state.bin, SHA256SUMS)";
		return -EINVAL;
	}
	if (!sum_ok(&f[2], &f[0]) || !sum_ok(&f[2], &f[1])) {
		*why = "checksum mismatch";
		return -EINVAL;
	}
	return 0;
}
