/*
 * GET/PUT /v1/snapshot (reference/consul.md section 1.12): an archive of
 * the replicated state.  Consul ships meta.json, state.bin and
 * SHA256SUMS in a tar archive; muster's archive has the same three files
 * (uncompressed tar; state.bin is muster's own record stream, see
 * workers/store/store_snapshot.c).  A restore verifies the checksums
 * before anything is sent to the store, and the store checks the state
 * again before replicating it: a bad archive changes nothing.
 */
#include "workers/http/api.h"
#include "lib/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>

#define SNAP_MAX_BYTES (15u * 1024 * 1024)	/* one IPC message */

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

struct tar_file {
	const char *name;
	const uint8_t *data;
	size_t len;
	bool found;
};

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
tar_read(const uint8_t *p, size_t len, struct tar_file *want, size_t nwant)
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

static void
save_done(struct api_req *r)
{
	struct proto_snapshot s;
	struct buf meta, sums, tar;
	char h1[65], h2[65];

	if (api_failed(r, 0, PROTO_SNAPSHOT))
		return;
	if (proto_dec_snapshot(r->ans[0].data.data, r->ans[0].data.len, &s) < 0) {
		http_reply_error(r->ctx, 500, "malformed snapshot answer");
		return;
	}
	buf_init(&meta);
	buf_init(&sums);
	buf_init(&tar);
	buf_printf(&meta, "{\"ID\":\"%" PRIu64 "-%" PRIu64 "-%" PRIu64 "\","
	    "\"Size\":%u,\"Index\":%" PRIu64 ",\"Term\":%" PRIu64 ","
	    "\"Version\":1}", s.term, s.index, wall_ns() / 1000000,
	    s.state.len, s.index, s.term);
	hex_sha256(meta.data, meta.len, h1);
	hex_sha256(s.state.p, s.state.len, h2);
	buf_printf(&sums, "%s  meta.json\n%s  state.bin\n", h1, h2);
	tar_add(&tar, "meta.json", meta.data, meta.len);
	tar_add(&tar, "state.bin", s.state.p, s.state.len);
	tar_add(&tar, "SHA256SUMS", sums.data, sums.len);
	static const char zero[1024];
	buf_add(&tar, zero, sizeof(zero));
	http_reply_headerf(r->ctx, "X-Consul-Index", "%" PRIu64, s.index);
	http_reply_buf(r->ctx, 200, "application/x-tar", &tar);
	buf_free(&meta);
	buf_free(&sums);
	buf_free(&tar);
}

static void
restore_done(struct api_req *r)
{
	struct proto_result res;
	if (r->ans[0].err == 0 && r->ans[0].type == PROTO_RESULT &&
	    proto_dec_result(r->ans[0].data.data, r->ans[0].data.len, &res) == 0 &&
	    res.code == 0) {
		http_reply(r->ctx, 200, NULL, "", 0);
		return;
	}
	api_failed(r, 0, 0xffff);
}

/* The checksum listed for name in SHA256SUMS, checked against data. */
static bool
sum_ok(const struct tar_file *sums, const struct tar_file *f)
{
	char want[65], line[200];
	hex_sha256(f->data, f->len, want);
	snprintf(line, sizeof(line), "%s  %s\n", want, f->name);
	return sums->len >= strlen(line) &&
	    memmem(sums->data, sums->len, line, strlen(line)) != NULL;
}

static void
snapshot_restore(struct http_ctx *c, const struct http_request *req)
{
	struct tar_file f[3] = { { .name = "meta.json" },
		{ .name = "state.bin" }, { .name = "SHA256SUMS" } };
	if (tar_read(req->body, req->body_len, f, 3) < 0 || !f[0].found ||
	    !f[1].found || !f[2].found) {
		http_reply_error(c, 400, "Error restoring snapshot: not a "
		    "snapshot archive (meta.json, state.bin, SHA256SUMS)");
		return;
	}
	if (!sum_ok(&f[2], &f[0]) || !sum_ok(&f[2], &f[1])) {
		http_reply_error(c, 400, "Error restoring snapshot: checksum "
		    "mismatch");
		return;
	}
	struct proto_state_restore m = {
		.state = { (const char *)f[1].data, (uint32_t)f[1].len } };
	struct buf b;
	buf_init(&b);
	proto_enc_state_restore(&b, &m);
	struct api_req *r = api_req_new(c, restore_done);
	api_ask_timeout(r, PROC_STORE, PROTO_STATE_RESTORE, &b, 60000);
	buf_free(&b);
	api_go(r);
}

void
api_snapshot(struct http_ctx *c, const struct http_request *req)
{
	if (req->method == HTTP_PUT) {
		snapshot_restore(c, req);
		return;
	}
	struct api_read_opts o;
	if (!api_read_opts(c, req, &o))
		return;
	struct proto_snapshot_save_req q = { .consistency = o.consistency };
	struct buf b;
	buf_init(&b);
	proto_enc_snapshot_save_req(&b, &q);
	struct api_req *r = api_req_new(c, save_done);
	api_ask_timeout(r, PROC_STORE, PROTO_SNAPSHOT_SAVE_REQ, &b, 60000);
	buf_free(&b);
	api_go(r);
}
