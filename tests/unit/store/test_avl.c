/* The ordered map under random operations against a reference bitmap,
 * with the AVL invariants (order, parent links, heights, balance) checked
 * after every change. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/avl.h"

struct item {
	struct avl_node node;
	int key;
};

static int
cmp(const struct avl_node *a, const struct avl_node *b)
{
	int x = avl_entry(a, struct item, node)->key;
	int y = avl_entry(b, struct item, node)->key;
	return (x > y) - (x < y);
}

static int
key_cmp(const void *k, const struct avl_node *n)
{
	int x = *(const int *)k, y = avl_entry(n, struct item, node)->key;
	return (x > y) - (x < y);
}

static int
check_node(const struct avl_node *n, const struct avl_node *parent)
{
	if (n == NULL)
		return 0;
	ck_assert_ptr_eq(n->parent, parent);
	int l = check_node(n->left, n), r = check_node(n->right, n);
	ck_assert_int_le(abs(l - r), 1);
	ck_assert_int_eq(n->height, (l > r ? l : r) + 1);
	return n->height;
}

#define N 2000

START_TEST(random_ops_match_reference)
{
	static struct item items[N];
	static bool present[N];
	struct avl_tree t;
	avl_init(&t, cmp);
	memset(present, 0, sizeof(present));
	srand(42);
	for (int i = 0; i < N; i++)
		items[i].key = i;
	for (int op = 0; op < 20000; op++) {
		int k = rand() % N;
		if (!present[k]) {
			ck_assert_ptr_eq(avl_insert(&t, &items[k].node), &items[k].node);
			present[k] = true;
		} else if (rand() % 2) {
			avl_remove(&t, &items[k].node);
			present[k] = false;
		} else {
			/* inserting an equal key returns the existing node */
			struct item dup = { .key = k };
			ck_assert_ptr_eq(avl_insert(&t, &dup.node), &items[k].node);
		}
		if (op % 1999 == 0)
			check_node(t.root, NULL);
	}
	check_node(t.root, NULL);
	size_t count = 0;
	int prev = -1;
	for (struct avl_node *n = avl_first(&t); n; n = avl_next(n)) {
		int k = avl_entry(n, struct item, node)->key;
		ck_assert(present[k]);
		ck_assert_int_gt(k, prev);
		prev = k;
		count++;
	}
	ck_assert_uint_eq(count, t.count);
	for (int k = 0; k < N; k++) {
		struct avl_node *f = avl_find(&t, &k, key_cmp);
		ck_assert(present[k] ? f == &items[k].node : f == NULL);
		struct avl_node *s = avl_seek(&t, &k, key_cmp);
		int want = k;
		while (want < N && !present[want])
			want++;
		if (want == N)
			ck_assert_ptr_null(s);
		else
			ck_assert_int_eq(avl_entry(s, struct item, node)->key, want);
	}
	/* backwards iteration */
	prev = N;
	for (struct avl_node *n = avl_last(&t); n; n = avl_prev(n)) {
		int k = avl_entry(n, struct item, node)->key;
		ck_assert_int_lt(k, prev);
		prev = k;
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("avl");
	TCase *tc = tcase_create("avl");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, random_ops_match_reference);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
