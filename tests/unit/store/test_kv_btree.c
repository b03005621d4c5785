/* The KV table's B-tree: key order, seeks, replace, remove, and random
 * operations checked against a sorted array. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/store/kv_btree.h"

/* Items are NUL-terminated strings, their own key. */
static void
str_key(const void *item, const char **key, uint32_t *len)
{
	*key = item;
	*len = (uint32_t)strlen(item);
}

static char * __attribute__((format(printf, 1, 2)))
mk(const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return strdup(buf);
}

/* The whole tree in order equals want[0..n). */
static void
check_walk(const struct kv_bt *t, char **want, size_t n)
{
	struct kv_bt_iter it;
	size_t i = 0;
	for (char *s = kv_bt_seek(t, &it, "", 0); s; s = kv_bt_next(&it)) {
		ck_assert_uint_lt(i, n);
		ck_assert_str_eq(s, want[i]);
		i++;
	}
	ck_assert_uint_eq(i, n);
	ck_assert_uint_eq(t->count, n);
}

/* Ascending, descending and shuffled loads all walk in order; every key
 * is found, a duplicate is refused. */
static void
load_and_walk(int order)
{
	enum { N = 20000 };
	struct kv_bt t;
	char **want = malloc(N * sizeof(*want));
	kv_bt_init(&t, str_key);
	for (unsigned i = 0; i < N; i++)
		want[i] = mk("mem/%08u", i);
	unsigned *perm = malloc(N * sizeof(*perm));
	for (unsigned i = 0; i < N; i++)
		perm[i] = order == 1 ? N - 1 - i : i;
	for (unsigned i = N - 1; order == 2 && i > 0; i--) {
		unsigned j = (unsigned)random() % (i + 1), x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
	for (unsigned i = 0; i < N; i++)
		ck_assert_ptr_null(kv_bt_insert(&t, want[perm[i]]));
	check_walk(&t, want, N);
	char dup[] = "mem/00000042";
	ck_assert_ptr_eq(kv_bt_insert(&t, dup), want[42]);
	ck_assert_uint_eq(t.count, N);
	for (unsigned i = 0; i < N; i += 7)
		ck_assert_ptr_eq(kv_bt_get(&t, want[i], 12), want[i]);
	ck_assert_ptr_null(kv_bt_get(&t, "mem/0000004", 11));
	kv_bt_free(&t, free);
	free(want);
	free(perm);
}

START_TEST(ascending)
{
	load_and_walk(0);
}
END_TEST

START_TEST(descending)
{
	load_and_walk(1);
}
END_TEST

START_TEST(shuffled)
{
	srandom(7);
	load_and_walk(2);
}
END_TEST

/* Prefix scans as the KV reads do them: seek to the prefix, walk while
 * the keys start with it; a prefix between keys and past the end. */
START_TEST(prefix_scan)
{
	struct kv_bt t;
	kv_bt_init(&t, str_key);
	for (unsigned i = 0; i < 500; i++) {
		kv_bt_insert(&t, mk("b/%u", i));
		kv_bt_insert(&t, mk("a/%u", i));
		kv_bt_insert(&t, mk("c%u", i));
	}
	struct kv_bt_iter it;
	unsigned n = 0;
	const char *prev = "";
	for (char *s = kv_bt_seek(&t, &it, "b/", 2); s && strncmp(s, "b/", 2) == 0;
	    s = kv_bt_next(&it)) {
		ck_assert_int_lt(strcmp(prev, s), 0);
		prev = s;
		n++;
	}
	ck_assert_uint_eq(n, 500);
	/* "b/1" then "b/10", "b/100" ...: the first >= "b/1" is "b/1" */
	ck_assert_str_eq(kv_bt_seek(&t, &it, "b/1", 3), "b/1");
	ck_assert_str_eq(kv_bt_next(&it), "b/10");
	/* between keys: "a/99~" sorts after "a/99" */
	ck_assert_str_eq(kv_bt_seek(&t, &it, "a/99~", 5), "b/0");
	ck_assert_ptr_null(kv_bt_seek(&t, &it, "d", 1));
	ck_assert_ptr_null(kv_bt_next(&it));
	kv_bt_free(&t, free);
}
END_TEST

/* replace swaps the item in place: an iterator over the tree stays
 * valid and sees the new item. */
START_TEST(replace_keeps_iterator)
{
	struct kv_bt t;
	kv_bt_init(&t, str_key);
	for (unsigned i = 0; i < 3000; i++)
		kv_bt_insert(&t, mk("k%05u", i));
	struct kv_bt_iter it;
	unsigned n = 0;
	for (char *s = kv_bt_seek(&t, &it, "", 0); s; s = kv_bt_next(&it)) {
		char *copy = strdup(s);
		ck_assert_ptr_eq(kv_bt_replace(&t, copy), s);
		free(s);
		ck_assert_ptr_eq(kv_bt_get(&t, copy, (uint32_t)strlen(copy)), copy);
		n++;
	}
	ck_assert_uint_eq(n, 3000);
	char missing[] = "zzz";
	ck_assert_ptr_null(kv_bt_replace(&t, missing));
	kv_bt_free(&t, free);
}
END_TEST

/* Emptying the tree in order, in reverse order and at random. */
START_TEST(remove_all)
{
	enum { N = 5000 };
	struct kv_bt t;
	char *want[N];
	unsigned perm[N];
	for (unsigned i = 0; i < N; i++)
		perm[i] = i;
	srandom(99);
	for (unsigned i = N - 1; i > 0; i--) {
		unsigned j = (unsigned)random() % (i + 1), x = perm[i];
		perm[i] = perm[j];
		perm[j] = x;
	}
	for (int pass = 0; pass < 3; pass++) {
		kv_bt_init(&t, str_key);
		for (unsigned i = 0; i < N; i++)
			kv_bt_insert(&t, want[i] = mk("r%05u", i));
		for (unsigned k = 0; k < N; k++) {
			unsigned i = pass == 0 ? k : pass == 1 ? N - 1 - k :
			    perm[k];
			ck_assert_ptr_eq(kv_bt_remove(&t, want[i], 6), want[i]);
			ck_assert_ptr_null(kv_bt_remove(&t, want[i], 6));
			free(want[i]);
		}
		ck_assert_uint_eq(t.count, 0);
		ck_assert_ptr_null(t.root);
		struct kv_bt_iter it;
		ck_assert_ptr_null(kv_bt_seek(&t, &it, "", 0));
		kv_bt_free(&t, free);
	}
}
END_TEST

/* Reference: a sorted array of the keys in the tree. */
struct ref {
	char **v;
	size_t n;
};

static size_t
ref_lower(const struct ref *r, const char *k)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(r->v[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
random_op(struct kv_bt *t, struct ref *r, unsigned space)
{
	char *k = mk("x%u", (unsigned)random() % space);
	uint32_t kl = (uint32_t)strlen(k);
	size_t pos = ref_lower(r, k);
	int have = pos < r->n && strcmp(r->v[pos], k) == 0;
	int what = (int)(random() % 4);
	if (what <= 1 && !have) {	/* insert */
		ck_assert_ptr_null(kv_bt_insert(t, k));
		memmove(&r->v[pos + 1], &r->v[pos], (r->n - pos) * sizeof(char *));
		r->v[pos] = k;
		r->n++;
		return;
	}
	if (what == 2) {		/* remove */
		char *out = kv_bt_remove(t, k, kl);
		ck_assert_ptr_eq(out, have ? r->v[pos] : NULL);
		if (have) {
			free(out);
			memmove(&r->v[pos], &r->v[pos + 1],
			    (r->n - pos - 1) * sizeof(char *));
			r->n--;
		}
	} else if (what == 3) {		/* seek and walk a little */
		struct kv_bt_iter it;
		char *s = kv_bt_seek(t, &it, k, kl);
		for (size_t i = pos; i < pos + 5; i++, s = kv_bt_next(&it))
			ck_assert_ptr_eq(s, i < r->n ? r->v[i] : NULL);
	} else
		ck_assert_ptr_eq(kv_bt_get(t, k, kl), have ? r->v[pos] : NULL);
	free(k);
}

START_TEST(random_against_reference)
{
	struct kv_bt t;
	struct ref r = { malloc(20000 * sizeof(char *)), 0 };
	kv_bt_init(&t, str_key);
	srandom(12345);
	/* A small key space first (many removes hit, nodes merge and borrow
	 * often), then a larger one (deeper tree). */
	for (unsigned round = 0; round < 24; round++) {
		unsigned space = round < 12 ? 3000 : 20000;
		for (unsigned i = 0; i < 10000; i++)
			random_op(&t, &r, space);
		check_walk(&t, r.v, r.n);
	}
	kv_bt_free(&t, free);
	free(r.v);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kv_btree");
	TCase *tc = tcase_create("kv_btree");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ascending);
	tcase_add_test(tc, descending);
	tcase_add_test(tc, shuffled);
	tcase_add_test(tc, prefix_scan);
	tcase_add_test(tc, replace_keeps_iterator);
	tcase_add_test(tc, remove_all);
	tcase_add_test(tc, random_against_reference);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
