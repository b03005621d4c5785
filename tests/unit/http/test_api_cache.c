/*
 * The cache of rendered catalog answers (workers/http/api_cache.c): a body
 * comes back only for the very same renderer, ?pretty, answer flags,
 * ?filter and answer bytes; any byte of the store's answer that differs is
 * a miss; big answers are not kept; the least recently used entry goes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/http/api.h"

static void render_a(struct api_req *r) { (void)r; }
static void render_b(struct api_req *r) { (void)r; }

static struct api_cache_key
key(api_done_fn *kind, unsigned flags, const char *filter, const char *rows)
{
	struct api_cache_key k = { .kind = kind, .flags = flags,
		.filter = filter, .aux = "node", .auxlen = 4,
		.rows = rows, .rowslen = strlen(rows) };
	return k;
}

static void
put(const struct api_cache_key *k, const char *body)
{
	api_cache_put(k, body, strlen(body));
}

static void
ck_body(const struct api_cache_key *k, const char *want)
{
	const struct buf *b = api_cache_get(k);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->len, strlen(want));
	ck_assert_mem_eq(b->data, want, b->len);
}

START_TEST(same_answer_same_body)
{
	struct api_cache_key k = key(render_a, 0, "", "rows-1");
	ck_assert_ptr_null(api_cache_get(&k));
	put(&k, "[{\"a\":1}]");
	char rows[] = "rows-1";		/* equal bytes elsewhere */
	struct api_cache_key k2 = key(render_a, 0, "", rows);
	ck_body(&k2, "[{\"a\":1}]");
}
END_TEST

START_TEST(anything_different_misses)
{
	struct api_cache_key k = key(render_a, 0, "Service.Port == 80", "rows-1");
	put(&k, "[1]");
	struct api_cache_key miss[] = {
		key(render_a, 0, "Service.Port == 80", "rows-2"),
		key(render_a, 0, "Service.Port == 80", "rows-1x"),
		key(render_a, 0, "Service.Port == 81", "rows-1"),
		key(render_a, 0, "", "rows-1"),
		key(render_a, API_CACHE_PRETTY, "Service.Port == 80", "rows-1"),
		key(render_a, API_CACHE_FOUND, "Service.Port == 80", "rows-1"),
		key(render_b, 0, "Service.Port == 80", "rows-1"),
	};
	for (size_t i = 0; i < sizeof(miss) / sizeof(miss[0]); i++)
		ck_assert_msg(api_cache_get(&miss[i]) == NULL, "key %zu hit", i);
	struct api_cache_key aux = k;
	aux.aux = "nodf";
	ck_assert_ptr_null(api_cache_get(&aux));
	aux.aux = "";
	aux.auxlen = 0;
	ck_assert_ptr_null(api_cache_get(&aux));
	ck_body(&k, "[1]");
}
END_TEST

START_TEST(new_rows_new_body)
{
	struct api_cache_key k1 = key(render_a, 0, "", "passing");
	struct api_cache_key k2 = key(render_a, 0, "", "critical");
	put(&k1, "[1]");
	put(&k2, "[]");
	ck_body(&k1, "[1]");
	ck_body(&k2, "[]");
}
END_TEST

START_TEST(big_answers_not_kept)
{
	size_t n = 300 * 1024;
	char *rows = malloc(n + 1);
	ck_assert_ptr_nonnull(rows);
	memset(rows, 'r', n);
	rows[n] = '\0';
	struct api_cache_key k = key(render_a, 0, "", rows);
	put(&k, "[]");
	ck_assert_ptr_null(api_cache_get(&k));
	free(rows);
}
END_TEST

START_TEST(least_recently_used_goes)
{
	char rows[32][16];
	struct api_cache_key k[32];
	for (int i = 0; i < 32; i++) {
		snprintf(rows[i], sizeof(rows[i]), "rows-%d", i);
		k[i] = key(render_a, 0, "", rows[i]);
	}
	/* Keep using rows-0 while many others come and go. */
	put(&k[0], "zero");
	for (int i = 1; i < 32; i++) {
		put(&k[i], rows[i]);
		ck_body(&k[0], "zero");
	}
	ck_body(&k[31], "rows-31");
	ck_assert_ptr_null(api_cache_get(&k[1]));
}
END_TEST

static Suite *
cache_suite(void)
{
	Suite *s = suite_create("api_cache");
	TCase *t = tcase_create("cache");
	tcase_add_test(t, same_answer_same_body);
	tcase_add_test(t, anything_different_misses);
	tcase_add_test(t, new_rows_new_body);
	tcase_add_test(t, big_answers_not_kept);
	tcase_add_test(t, least_recently_used_goes);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
