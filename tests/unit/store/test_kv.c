/* The KV table: Consul's verbs, index rules, locks, and all-or-nothing
 * transactions. */
#include <check.h>
#include <stdio.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "workers/store/kv.h"

static struct kv_table t;
static char changed[16][64];
static int nchanged;

static void
on_changed(void *arg, const char *key, uint32_t len)
{
	if (nchanged < 16)
		snprintf(changed[nchanged++], 64, "%.*s", (int)len, key);
}

static const struct kv_hooks hooks = { .changed = on_changed };

static struct kv_op
op(enum kv_verb v, const char *key, const char *val)
{
	struct kv_op o = { .verb = v, .key = key, .keylen = (uint32_t)strlen(key),
		.value = (const uint8_t *)val, .vlen = val ? (uint32_t)strlen(val) : 0 };
	return o;
}

static int
apply1(uint64_t idx, struct kv_op o, struct kv_result *r)
{
	struct kv_result tmp;
	return kv_apply(&t, idx, &o, 1, r ? r : &tmp, &hooks);
}

/* The row of key, which must exist. */
static struct kv_row
row(const char *key)
{
	struct kv_row r;
	const struct kv_entry *e = kv_get(&t, key, (uint32_t)strlen(key));
	ck_assert_ptr_nonnull(e);
	kv_entry_row(e, &r);
	return r;
}

static void
setup(void)
{
	kv_init(&t);
	nchanged = 0;
}

static void
teardown(void)
{
	kv_free(&t);
}

START_TEST(set_get_indexes)
{
	ck_assert_int_eq(kv_index_key(&t), 1);	/* never 0 */
	ck_assert_int_eq(apply1(5, op(KV_SET, "a/b", "v1"), NULL), 0);
	struct kv_row e = row("a/b");
	ck_assert_uint_eq(e.create_index, 5);
	ck_assert_uint_eq(e.modify_index, 5);
	ck_assert_uint_eq(e.vlen, 2);
	ck_assert_int_eq(apply1(7, op(KV_SET, "a/b", "v2"), NULL), 0);
	e = row("a/b");
	ck_assert_uint_eq(e.create_index, 5);
	ck_assert_uint_eq(e.modify_index, 7);
	ck_assert_int_eq(memcmp(e.value, "v2", 2), 0);
	ck_assert_uint_eq(kv_index_key(&t), 7);
	ck_assert_int_eq(nchanged, 2);
	ck_assert_str_eq(changed[1], "a/b");
	/* empty value */
	ck_assert_int_eq(apply1(8, op(KV_SET, "empty", NULL), NULL), 0);
	ck_assert_ptr_null(row("empty").value);
}
END_TEST

START_TEST(cas_rules)
{
	struct kv_result r;
	struct kv_op o = op(KV_CAS, "k", "x");
	o.index = 0;	/* create only */
	ck_assert_int_eq(apply1(3, o, &r), 0);
	ck_assert_int_eq(apply1(4, o, &r), -ECANCELED);
	ck_assert(!r.ok);
	ck_assert_str_eq(r.why, "failed to set key \"k\", index is stale");
	o.index = 2;	/* stale */
	ck_assert_int_eq(apply1(4, o, &r), -ECANCELED);
	o.index = 3;
	ck_assert_int_eq(apply1(4, o, &r), 0);
	ck_assert_uint_eq(row("k").modify_index, 4);
	struct kv_op d = op(KV_DELETE_CAS, "k", NULL);
	d.index = 3;
	ck_assert_int_eq(apply1(5, d, &r), -ECANCELED);
	d.index = 4;
	ck_assert_int_eq(apply1(5, d, &r), 0);
	ck_assert_ptr_null(kv_get(&t, "k", 1));
	/* As Consul: a CAS delete of a missing key succeeds. */
	ck_assert_int_eq(apply1(6, d, &r), 0);
	ck_assert(r.ok);
}
END_TEST

START_TEST(locks_and_lock_index)
{
	struct kv_result r;
	struct kv_op a = op(KV_LOCK, "lock", "held");
	a.session = "s1";
	ck_assert_int_eq(apply1(2, a, &r), 0);
	struct kv_row e = row("lock");
	ck_assert_uint_eq(e.lock_index, 1);
	ck_assert_str_eq(e.session, "s1");
	/* the holder re-acquires: no new LockIndex */
	ck_assert_int_eq(apply1(3, a, &r), 0);
	ck_assert_uint_eq(row("lock").lock_index, 1);
	/* another session cannot */
	a.session = "s2";
	ck_assert_int_eq(apply1(4, a, &r), -ECANCELED);
	ck_assert_str_eq(r.why, "failed to lock key \"lock\", lock is already held");
	/* s2 cannot release s1's lock */
	struct kv_op u = op(KV_UNLOCK, "lock", "free");
	u.session = "s2";
	ck_assert_int_eq(apply1(5, u, &r), -ECANCELED);
	u.session = "s1";
	ck_assert_int_eq(apply1(5, u, &r), 0);
	e = row("lock");
	ck_assert_ptr_null(e.session);
	ck_assert_uint_eq(e.lock_index, 1);
	/* next acquisition increments */
	a.session = "s2";
	ck_assert_int_eq(apply1(6, a, &r), 0);
	ck_assert_uint_eq(row("lock").lock_index, 2);
	/* invalidating the session releases it */
	kv_release_session(&t, 7, "s2", &hooks);
	ck_assert_ptr_null(row("lock").session);
	ck_assert_uint_eq(row("lock").modify_index, 7);
	/* an empty session is invalid */
	a.session = "";
	ck_assert_int_eq(apply1(8, a, &r), -ECANCELED);
}
END_TEST

START_TEST(txn_all_or_nothing)
{
	struct kv_result r[4];
	ck_assert_int_eq(apply1(2, op(KV_SET, "x", "1"), NULL), 0);
	struct kv_op ops[4] = {
		op(KV_SET, "y", "new"),
		op(KV_DELETE, "x", NULL),
		op(KV_SET, "x", "again"),
		op(KV_CHECK_NOT_EXISTS, "y", NULL),	/* fails: y set above */
	};
	nchanged = 0;
	ck_assert_int_eq(kv_apply(&t, 3, ops, 4, r, &hooks), -ECANCELED);
	ck_assert(r[0].ok && r[1].ok && r[2].ok && !r[3].ok);
	ck_assert_str_eq(r[3].why, "key \"y\" exists");
	/* nothing changed, nobody was woken */
	ck_assert_ptr_null(kv_get(&t, "y", 1));
	struct kv_row x = row("x");
	ck_assert_uint_eq(x.modify_index, 2);
	ck_assert_int_eq(memcmp(x.value, "1", 1), 0);
	ck_assert_int_eq(nchanged, 0);
	ck_assert_uint_eq(kv_index_key(&t), 2);
	ck_assert_uint_eq(kv_index_prefix(&t, "x", 1), 2);
	ck_assert_uint_eq(t.tombs.count, 0);
	/* without the failing check it commits */
	ck_assert_int_eq(kv_apply(&t, 3, ops, 3, r, &hooks), 0);
	ck_assert_uint_eq(row("x").create_index, 3);
	ck_assert_ptr_nonnull(kv_get(&t, "y", 1));
}
END_TEST

START_TEST(prefix_index_and_tombstones)
{
	apply1(2, op(KV_SET, "app/a", "1"), NULL);
	apply1(3, op(KV_SET, "app/b", "1"), NULL);
	apply1(4, op(KV_SET, "other", "1"), NULL);
	ck_assert_uint_eq(kv_index_prefix(&t, "app/", 4), 3);
	/* deleting under the prefix raises its index via the tombstone */
	apply1(9, op(KV_DELETE, "app/b", NULL), NULL);
	ck_assert_uint_eq(kv_index_prefix(&t, "app/", 4), 9);
	ck_assert_uint_eq(kv_index_prefix(&t, "other", 5), 4);
	/* an empty prefix falls back to the table index */
	ck_assert_uint_eq(kv_index_prefix(&t, "nothing/", 8), 9);
	/* delete-tree removes in order and leaves tombstones */
	apply1(10, op(KV_SET, "app/c/d", "1"), NULL);
	ck_assert_int_eq(apply1(11, op(KV_DELETE_TREE, "app/", NULL), NULL), 0);
	struct kv_iter it;
	const struct kv_entry *left = kv_seek(&t, &it, "app/", 4);
	ck_assert(left == NULL || !kv_has_prefix(left, "app/", 4));
	ck_assert_uint_eq(kv_index_prefix(&t, "app/", 4), 11);
	kv_reap(&t, 11);
	ck_assert_uint_eq(t.tombs.count, 0);
	ck_assert_uint_eq(kv_index_prefix(&t, "app/", 4), 11);	/* table index */
}
END_TEST

START_TEST(ordered_walk)
{
	const char *keys[] = { "b", "a/2", "a/10", "a/1", "a", "c/" };
	for (int i = 0; i < 6; i++)
		apply1((uint64_t)(2 + i), op(KV_SET, keys[i], "v"), NULL);
	const char *want[] = { "a", "a/1", "a/10", "a/2" };
	int i = 0;
	struct kv_iter it;
	for (const struct kv_entry *e = kv_seek(&t, &it, "a", 1);
	    e && kv_has_prefix(e, "a", 1); e = kv_next(&it)) {
		uint32_t kl;
		const char *k = kv_entry_key(e, &kl);
		ck_assert_uint_eq(kl, strlen(want[i]));
		ck_assert_int_eq(memcmp(k, want[i++], kl), 0);
	}
	ck_assert_int_eq(i, 4);
	ck_assert_uint_eq(t.bytes, 1 + 3 + 4 + 3 + 1 + 2 + 6);
}
END_TEST

/* The packed entry gives back every field as written, the largest
 * numbers included, and leaves absent ones absent. */
START_TEST(entry_round_trip)
{
	struct kv_row in = { .key = "some/key", .keylen = 8,
		.value = (const uint8_t *)"v\0w", .vlen = 3,
		.flags = UINT64_MAX, .create_index = 1ULL << 40,
		.modify_index = UINT64_MAX, .lock_index = 300,
		.session = "0b1d9e6c-0000-4000-8000-000000000001" }, out;
	struct kv_entry *e = kv_entry_new(&in);
	kv_entry_row(e, &out);
	ck_assert_uint_eq(out.keylen, 8);
	ck_assert_int_eq(memcmp(out.key, "some/key", 8), 0);
	ck_assert_uint_eq(out.vlen, 3);
	ck_assert_int_eq(memcmp(out.value, "v\0w", 3), 0);
	ck_assert(out.flags == UINT64_MAX);
	ck_assert(out.create_index == 1ULL << 40);
	ck_assert(out.modify_index == UINT64_MAX);
	ck_assert_uint_eq(out.lock_index, 300);
	ck_assert_str_eq(out.session, in.session);
	kv_entry_free(e);
	struct kv_row bare = { .key = "k", .keylen = 1, .create_index = 1,
		.modify_index = 1 };
	e = kv_entry_new(&bare);
	kv_entry_row(e, &out);
	ck_assert_ptr_null(out.value);
	ck_assert_ptr_null(out.session);
	ck_assert_uint_eq(out.flags, 0);
	ck_assert_uint_eq(out.lock_index, 0);
	kv_entry_free(e);
}
END_TEST

enum { MANY = 5000 };

static void
set_many(void)
{
	static char keys[MANY][16];
	struct kv_op ops[64];
	struct kv_result r[64];
	for (unsigned s = 0, n = 0; s < MANY; s += n) {
		for (n = 0; n < 64 && s + n < MANY; n++) {
			unsigned i = s + n;
			snprintf(keys[i], sizeof(keys[i]), "%s/%05u",
			    i % 2 ? "k" : "j", i);
			ops[n] = op(i % 7 ? KV_SET : KV_LOCK, keys[i], "v");
			ops[n].session = "s1";
		}
		ck_assert_int_eq(kv_apply(&t, 10 + s, ops, n, r, NULL), 0);
	}
}

/* How many keys under prefix, checking they come in key order. */
static unsigned
count_prefix(const char *prefix)
{
	struct kv_iter it;
	uint32_t plen = (uint32_t)strlen(prefix), prevlen = 0;
	const char *prev = NULL;
	unsigned n = 0;
	for (const struct kv_entry *e = kv_seek(&t, &it, prefix, plen);
	    e && kv_has_prefix(e, prefix, plen); e = kv_next(&it)) {
		uint32_t kl;
		const char *k = kv_entry_key(e, &kl);
		if (prev)
			ck_assert_int_lt(memcmp(prev, k, MIN(kl, prevlen)), 0);
		prev = k;
		prevlen = kl;
		n++;
	}
	return n;
}

/* Thousands of keys: session release rewrites only the holder's keys,
 * a failed delete-tree puts every key back as it was, a committed one
 * leaves tombstones that reaping removes. */
START_TEST(many_keys)
{
	set_many();
	ck_assert_uint_eq(count_prefix("k/"), MANY / 2);
	ck_assert_uint_eq(count_prefix("j/"), MANY / 2);
	kv_release_session(&t, 9000, "s1", &hooks);
	ck_assert_ptr_null(row("k/00007").session);
	ck_assert_uint_eq(row("k/00007").lock_index, 1);
	ck_assert_uint_eq(row("k/00007").modify_index, 9000);
	ck_assert_uint_eq(row("k/00009").modify_index, 10);
	ck_assert_uint_eq(kv_index_prefix(&t, "k/", 2), 9000);
	struct kv_op ops[2] = { op(KV_DELETE_TREE, "k/", NULL),
		op(KV_CHECK_NOT_EXISTS, "j/00000", NULL) };
	struct kv_result r[2];
	ck_assert_int_eq(kv_apply(&t, 9001, ops, 2, r, &hooks), -ECANCELED);
	ck_assert_uint_eq(count_prefix("k/"), MANY / 2);
	ck_assert_uint_eq(row("k/04999").modify_index, 10 + 4992);
	ck_assert_uint_eq(t.tombs.count, 0);
	ck_assert_int_eq(kv_apply(&t, 9002, ops, 1, r, &hooks), 0);
	ck_assert_uint_eq(count_prefix("k/"), 0);
	ck_assert_uint_eq(count_prefix(""), MANY / 2);
	ck_assert_uint_eq(t.tombs.count, MANY / 2);
	ck_assert_uint_eq(kv_index_prefix(&t, "k/", 2), 9002);
	ck_assert_uint_eq(t.bytes, (MANY / 2) * (7 + 1));
	kv_reap(&t, 9001);
	ck_assert_uint_eq(t.tombs.count, MANY / 2);
	kv_reap(&t, 9002);
	ck_assert_uint_eq(t.tombs.count, 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kv");
	TCase *tc = tcase_create("kv");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, set_get_indexes);
	tcase_add_test(tc, cas_rules);
	tcase_add_test(tc, locks_and_lock_index);
	tcase_add_test(tc, txn_all_or_nothing);
	tcase_add_test(tc, prefix_index_and_tombstones);
	tcase_add_test(tc, ordered_walk);
	tcase_add_test(tc, entry_round_trip);
	tcase_add_test(tc, many_keys);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
