/*
 * The schema codec: every message type round-trips with random field
 * values, and every truncation or extension of a valid encoding is
 * rejected.  The tests are generated from the same X-macro list as the
 * codec, so a new message type is covered without touching this file.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random strings live in this pool for the duration of one test. */
static char pool[1 << 16];
static size_t pool_used;
static const char *strv_items[64][8];
static size_t strv_used;

static struct proto_str
rnd_str(void)
{
	uint32_t len = (uint32_t)(rnd() % 40);
	if (pool_used + len >= sizeof(pool))
		pool_used = 0;
	char *p = pool + pool_used;
	for (uint32_t i = 0; i < len; i++)
		p[i] = (char)('a' + rnd() % 26);
	p[len] = '\0';
	pool_used += len + 1;
	return (struct proto_str){ p, len };
}

static struct proto_strv
rnd_strv(void)
{
	struct proto_strv v = { 0 };
	const char **items = strv_items[strv_used++ % 64];
	v.n = (uint32_t)(rnd() % 8);
	for (uint32_t i = 0; i < v.n; i++)
		items[i] = rnd_str().p;
	v.items = items;
	return v;
}

#define FILL_u8(x) x = (uint8_t)rnd()
#define FILL_u16(x) x = (uint16_t)rnd()
#define FILL_u32(x) x = (uint32_t)rnd()
#define FILL_u64(x) x = rnd()
#define FILL_i32(x) x = (int32_t)rnd()
#define FILL_i64(x) x = (int64_t)rnd()
#define FILL_bool(x) x = (rnd() & 1) != 0
#define FILL_str(x) x = rnd_str()
#define FILL_strv(x) x = rnd_strv()
#define FILL_FIELD(t, n) FILL_##t(m.n);

static bool
strv_equal(const struct proto_strv *a, const struct proto_strv *dec)
{
	struct proto_strv_iter it;
	struct proto_str s;
	if (a->n != dec->n)
		return false;
	proto_strv_iter_init(&it, dec);
	for (uint32_t i = 0; i < a->n; i++)
		if (!proto_strv_next(&it, &s) || !proto_str_eq(s, a->items[i]))
			return false;
	return !proto_strv_next(&it, &s);
}

#define EQ_u8(a, b) ((a) == (b))
#define EQ_u16(a, b) ((a) == (b))
#define EQ_u32(a, b) ((a) == (b))
#define EQ_u64(a, b) ((a) == (b))
#define EQ_i32(a, b) ((a) == (b))
#define EQ_i64(a, b) ((a) == (b))
#define EQ_bool(a, b) ((a) == (b))
#define EQ_str(a, b) ((a).len == (b).len && memcmp((a).p, (b).p, (a).len) == 0)
#define EQ_strv(a, b) strv_equal(&(a), &(b))
#define CHECK_FIELD(t, n) ck_assert_msg(EQ_##t(m.n, d.n), "%s.%s", tname, #n);

/* Round trip, then every truncation and a trailing byte must fail. */
#define ROUNDTRIP(NAME, NUM, name)                                          \
	static void rt_##name(void)                                         \
	{                                                                   \
		const char *tname = #NAME;                                  \
		for (int iter = 0; iter < 50; iter++) {                     \
			struct proto_##name m, d;                           \
			struct buf b;                                       \
			memset(&m, 0, sizeof(m));                           \
			PROTO_F_##name(FILL_FIELD)                          \
			buf_init(&b);                                       \
			proto_enc_##name(&b, &m);                           \
			ck_assert_int_eq(proto_dec_##name(b.data, b.len, &d), 0); \
			PROTO_F_##name(CHECK_FIELD)                         \
			ck_assert_int_eq(proto_validate(NUM, b.data, b.len), 0); \
			for (size_t cut = 0; cut < b.len; cut++)            \
				ck_assert_int_eq(proto_dec_##name(b.data, cut, &d), \
				    -EBADMSG);                              \
			buf_addch(&b, 0);                                   \
			ck_assert_int_eq(proto_dec_##name(b.data, b.len, &d), \
			    -EBADMSG);                                      \
			buf_free(&b);                                       \
			(void)tname;                                        \
		}                                                           \
	}
PROTO_MESSAGES(ROUNDTRIP)

START_TEST(every_type_round_trips)
{
#define CALL_RT(NAME, NUM, name) rt_##name();
	PROTO_MESSAGES(CALL_RT)
}
END_TEST

START_TEST(type_names_unique_and_known)
{
	unsigned nums[] = {
#define NUMS(NAME, NUM, name) NUM,
		PROTO_MESSAGES(NUMS)
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		ck_assert(proto_type_known(nums[i]));
		for (size_t j = i + 1; j < sizeof(nums) / sizeof(nums[0]); j++)
			ck_assert_uint_ne(nums[i], nums[j]);
	}
	ck_assert(!proto_type_known(0));
	ck_assert(!proto_type_known(0xffff));
	ck_assert_int_eq(proto_validate(0xffff, "", 0), -ENOMSG);
}
END_TEST

START_TEST(hostile_lengths_rejected)
{
	/* A string claiming 4 GiB, and a list claiming more items than bytes. */
	uint8_t s[] = { 0xff, 0xff, 0xff, 0xff, 'a' };
	struct proto_cur c = { s, sizeof(s) };
	struct proto_str str;
	ck_assert_int_eq(proto_get_str(&c, &str), -EBADMSG);
	uint8_t v[] = { 0x00, 0x00, 0x00, 0x40, 0, 0, 0, 0 };
	struct proto_cur c2 = { v, sizeof(v) };
	struct proto_strv sv;
	ck_assert_int_eq(proto_get_strv(&c2, &sv), -EBADMSG);
	/* bool must be 0 or 1 */
	uint8_t b[] = { 2 };
	struct proto_cur c3 = { b, 1 };
	bool bv;
	ck_assert_int_eq(proto_get_bool(&c3, &bv), -EBADMSG);
}
END_TEST

START_TEST(strings_with_nul_not_duplicated)
{
	struct proto_str s = { "a\0b", 3 };
	ck_assert_ptr_null(proto_str_dup(s));
	char small[2];
	ck_assert_int_eq(proto_str_copy(PROTO_STR("abc"), small, sizeof(small)),
	    -ENAMETOOLONG);
	char *d = proto_str_dup(PROTO_STR("hello"));
	ck_assert_str_eq(d, "hello");
	free(d);
}
END_TEST

START_TEST(nested_members_list)
{
	struct proto_member a = { .name = PROTO_STR("n1"),
		.addr = PROTO_STR("127.0.0.1"), .port = 8301, .status = 1 };
	struct buf ea, list;
	buf_init(&ea);
	buf_init(&list);
	proto_enc_member(&ea, &a);
	struct proto_str item = { (const char *)ea.data, (uint32_t)ea.len };
	struct proto_members ms = { .members = { .n = 1, .strs = &item } };
	proto_enc_members(&list, &ms);
	struct proto_members dm;
	ck_assert_int_eq(proto_dec_members(list.data, list.len, &dm), 0);
	struct proto_strv_iter it;
	struct proto_str got;
	proto_strv_iter_init(&it, &dm.members);
	ck_assert(proto_strv_next(&it, &got));
	struct proto_member dmem;
	ck_assert_int_eq(proto_dec_member(got.p, got.len, &dmem), 0);
	ck_assert(proto_str_eq(dmem.name, "n1"));
	ck_assert_uint_eq(dmem.port, 8301);
	buf_free(&ea);
	buf_free(&list);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, every_type_round_trips);
	tcase_add_test(tc, type_names_unique_and_known);
	tcase_add_test(tc, hostile_lengths_rejected);
	tcase_add_test(tc, strings_with_nul_not_duplicated);
	tcase_add_test(tc, nested_members_list);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
