/*
 * libFuzzer target: a ?filter= expression from an HTTP client.  The first
 * byte picks the mode: untyped, typed against one of Consul's item types,
 * or the bytes as a bare regular expression.  Compiled expressions are
 * evaluated against a few fixed items, so evaluation and the regex
 * matcher run on whatever the parser accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bexpr.h"
#include "lib/bexpr_int.h"

static const char *const items_json[] = {
	"{\"Node\":{\"Node\":\"n1\",\"Meta\":{\"env\":\"prod\"},"
	"\"TaggedAddresses\":{\"lan\":\"10.0.0.1\"}},"
	"\"Service\":{\"ID\":\"web1\",\"Service\":\"web\",\"Tags\":[\"a\",\"b\"],"
	"\"Port\":8080,\"Meta\":{\"v\":\"1\"},\"Weights\":{\"Passing\":1},"
	"\"TaggedAddresses\":{\"wan\":{\"address\":\"x\",\"port\":1}},"
	"\"Proxy\":{\"Upstreams\":[{\"DestinationName\":\"db\"}]}},"
	"\"Checks\":[{\"Status\":\"passing\",\"ServiceTags\":[]},"
	"{\"Status\":\"critical\",\"Output\":\"caf\xc3\xa9\\n\"}]}",
	"{\"Node\":null,\"Service\":{},\"Checks\":[],\"S\":\"\xff\",\"I\":-1,"
	"\"U\":18446744073709551615,\"F\":1.5,\"B\":true,\"L\":[1,\"a\",null]}",
};

static const struct bexpr_type *const types[] = {
	NULL, &bexpr_consul_check_service_node, &bexpr_consul_service_node,
	&bexpr_consul_node, &bexpr_consul_health_check,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_regex(const char *p, size_t n)
{
	static const char *const subjects[] = { "", "a", "abc\nabc",
		"caf\xc3\xa9 K\xe2\x84\xaa", "\xff\xfe", "aaaaaaaaaaaaaaaaaaaab" };
	struct bx_re *re;
	struct buf err;

	buf_init(&err);
	if (bx_re_compile(p, n, &re, &err) == 0) {
		for (size_t i = 0; i < nitems(subjects); i++)
			bx_re_match(re, subjects[i], strlen(subjects[i]));
		bx_re_match(re, p, n);
		bx_re_free(re);
	}
	buf_free(&err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static yajl_val items[nitems(items_json)];
	static struct bexpr_arena *arena;
	const struct bexpr_type *type;
	struct bexpr *e;
	struct buf err;
	bool m;

	if (arena == NULL) {
		arena = bexpr_arena_new();
		for (size_t i = 0; i < nitems(items_json); i++)
			items[i] = yajl_tree_parse(items_json[i], NULL, 0);
	}
	if (size < 1)
		return 0;
	if (data[0] >= 0xF0) {
		fuzz_regex((const char *)data + 1, size - 1);
		return 0;
	}
	type = types[data[0] % nitems(types)];
	buf_init(&err);
	e = bexpr_compile_n((const char *)data + 1, size - 1, type, &err);
	for (size_t i = 0; e != NULL && i < nitems(items); i++) {
		buf_reset(&err);
		bexpr_eval_yajl(e, arena, items[i], type, &m, &err);
		/* The same tree untyped exercises the other evaluator. */
		bexpr_eval_yajl(e, arena, items[i], NULL, &m, &err);
	}
	bexpr_free(e);
	buf_free(&err);
	return 0;
}
