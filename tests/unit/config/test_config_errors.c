/*
 * Every class of configuration error, with the exact message the
 * operator reads: where (file or command line), which key, and why.
 * In want, "@" stands for the path of the case's file (a.json).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/unit/config/suites.h"

struct err_case {
	const char *file;	/* a.json's text, NULL for none */
	const char *args[6];	/* before -config-file a.json */
	const char *want;
};

#define DD "-data-dir=/d"

static const struct err_case cases[] = {
	/* JSON types. */
	{ "{\"ports\": {\"http\": \"8500\"}}", { DD },
	  "config: @: key \"ports.http\": expected a number, got string" },
	{ "{\"server\": \"true\"}", { DD },
	  "config: @: key \"server\": expected a boolean, got string" },
	{ "{\"retry_join\": \"10.0.0.1\"}", { DD },
	  "config: @: key \"retry_join\": expected an array of strings, got "
	  "string" },
	{ "{\"retry_join\": [\"a\", 5]}", { DD },
	  "config: @: key \"retry_join[1]\": expected a string, got number" },
	{ "{\"node_meta\": {\"a\": true}}", { DD },
	  "config: @: key \"node_meta.a\": expected a string, got boolean" },
	{ "{\"ports\": 8500}", { DD },
	  "config: @: key \"ports\": expected an object, got number" },
	{ "{\"performance\": {\"raft_multiplier\": 1.5}}", { DD },
	  "config: @: key \"performance.raft_multiplier\": expected an "
	  "integer, got 1.5" },
	{ "{\"retry_interval\": 30}", { DD },
	  "config: @: key \"retry_interval\": expected a duration string, got "
	  "number" },
	{ "{\"services\": [\"web\"]}", { DD },
	  "config: @: key \"services[0]\": expected an object, got string" },
	{ "{\"service\": [{\"name\": \"web\"}]}", { DD },
	  "config: @: key \"service\": expected an object, got array" },
	{ "{\"dns_config\": {\"service_ttl\": {\"web\": \"soon\"}}}", { DD },
	  "config: @: key \"dns_config.service_ttl.web\": invalid duration "
	  "\"soon\" (want e.g. \"10s\", \"1h30m\")" },
	/* Unknown, unsupported and flag-only keys. */
	{ "{\"bind\": \"1.2.3.4\"}", { DD }, "config: @: unknown key \"bind\"" },
	{ "{\"dns_config\": {\"soa\": {\"minttl\": 1}}}", { DD },
	  "config: @: unknown key \"dns_config.soa.minttl\"" },
	{ "{\"dev\": true}", { DD }, "config: @: unknown key \"dev\"" },
	{ "{\"acl\": {\"enabled\": true}}", { DD },
	  "config: @: key \"acl\": not supported by muster" },
	/* Syntax. */
	{ "{\"server\": true,}", { DD },
	  "config: @: invalid JSON: parse error: invalid object key (must be "
	  "a string) at line 1, column 17" },
	{ "[1]", { DD },
	  "config: @: expected a JSON object at the top level, got array" },
	/* Values. */
	{ "{\"ports\": {\"dns\": 70000}}", { DD },
	  "config: @: key \"ports.dns\": invalid port 70000 (at most 65535)" },
	{ "{\"performance\": {\"raft_multiplier\": 11}}", { DD },
	  "config: @: key \"performance.raft_multiplier\": must be between 1 "
	  "and 10, got 11" },
	{ "{\"bootstrap_expect\": -1}", { DD },
	  "config: @: key \"bootstrap_expect\": must be greater than or equal "
	  "to zero, got -1" },
	{ "{\"retry_interval\": \"30 seconds\"}", { DD },
	  "config: @: key \"retry_interval\": invalid duration \"30 seconds\" "
	  "(want e.g. \"10s\", \"1h30m\")" },
	{ "{\"reconnect_timeout\": \"1h\"}", { DD },
	  "config: @: key \"reconnect_timeout\": must be at least 8h0m0s, got "
	  "1h0m0s" },
	{ "{\"session_ttl_min\": \"-1s\"}", { DD },
	  "config: @: key \"session_ttl_min\": must not be negative" },
	{ "{\"encrypt\": \"AAAA\"}", { DD },
	  "config: @: key \"encrypt\": encrypt has invalid key: key size must "
	  "be 16, 24 or 32 bytes, got 3" },
	{ "{\"encrypt\": \"not base64!\"}", { DD },
	  "config: @: key \"encrypt\": encrypt has invalid key: illegal base64 "
	  "data" },
	{ "{\"bind_addr\": \"{{ GetPrivateIP }}\"}", { DD },
	  "config: @: key \"bind_addr\": go-sockaddr templates are not "
	  "supported: \"{{ GetPrivateIP }}\"" },
	{ "{\"client_addr\": \"127.0.0.1 localhost\"}", { DD },
	  "config: @: key \"client_addr\": \"localhost\" is not an IP address" },
	{ "{\"advertise_addr\": \"0.0.0.0\"}", { DD },
	  "config: @: key \"advertise_addr\": cannot be 0.0.0.0, :: or [::]" },
	{ "{\"recursors\": [\"8.8.8.8:99999\"]}", { DD },
	  "config: @: key \"recursors[0]\": invalid DNS recursor address "
	  "\"8.8.8.8:99999\" (want ip or ip:port)" },
	{ "{\"retry_join\": [\"provider=aws tag_key=x\"]}", { DD },
	  "config: @: key \"retry_join[0]\": cloud auto-join is not "
	  "supported: \"provider=aws tag_key=x\"" },
	{ "{\"datacenter\": \"dc 1\"}", { DD },
	  "config: @: key \"datacenter\": can only contain lowercase "
	  "alphanumeric, - or _ characters. received: \"dc 1\"" },
	{ "{\"node_id\": \"1234\"}", { DD },
	  "config: @: key \"node_id\": \"1234\" is not a valid UUID" },
	{ "{\"log_level\": \"loud\"}", { DD },
	  "config: @: key \"log_level\": unknown log level \"loud\" (trace, "
	  "debug, info, warn or error)" },
	{ "{\"dns_config\": {\"recursor_strategy\": \"fastest\"}}", { DD },
	  "config: @: key \"dns_config.recursor_strategy\": invalid recursor "
	  "strategy \"fastest\" (sequential or random)" },
	{ "{\"raft_protocol\": 2}", { DD },
	  "config: @: key \"raft_protocol\": raft_protocol version 2 is not "
	  "supported (only 3)" },
	/* Cross-checks, blaming the source of the key. */
	{ NULL, { "-server" },
	  "config: key \"data_dir\": cannot be empty (set -data-dir or "
	  "\"data_dir\", or use -dev)" },
	{ "{\"bootstrap\": true}", { DD, "-server", "-bootstrap-expect=3" },
	  "config: command line: key \"bootstrap_expect\": 'bootstrap_expect "
	  "> 0' and 'bootstrap = true' are mutually exclusive" },
	{ NULL, { "-dev", "-bootstrap-expect=3" },
	  "config: command line: key \"bootstrap_expect\": 'bootstrap_expect "
	  "> 0' not allowed in dev mode" },
	{ "{\"bootstrap_expect\": 3}", { DD },
	  "config: @: key \"bootstrap_expect\": 'bootstrap_expect > 0' "
	  "requires 'server = true'" },
	{ NULL, { DD, "-bootstrap" },
	  "config: command line: key \"bootstrap\": 'bootstrap = true' "
	  "requires 'server = true'" },
	{ "{\"node_meta\": {\"consul-x\": \"1\"}}", { DD },
	  "config: @: key \"node_meta\": node_meta invalid: Couldn't load "
	  "metadata pair ('consul-x', '1'): Key prefix 'consul-' is reserved "
	  "for internal use" },
	{ "{\"alt_domain\": \"service.example\"}", { DD },
	  "config: @: key \"alt_domain\": alt_domain cannot start with "
	  "{service,connect,node,query,addr,dc1}" },
	{ "{\"ports\": {\"server\": 0}}", { DD },
	  "config: @: key \"ports.server\": server-port must be greater than "
	  "zero" },
	{ "{\"max_query_time\": \"1s\"}", { DD },
	  "config: @: key \"max_query_time\": default_query_time cannot "
	  "be greater than max_query_time" },
	{ "{\"data_dir\": \"@\"}", { NULL },
	  "config: @: key \"data_dir\": data_dir \"@\" is not a directory" },
	/* Flag values. */
	{ NULL, { DD, "-http-port", "web" },
	  "config: command line: invalid value \"web\" for flag -http-port: "
	  "expected an integer" },
	{ NULL, { DD, "-server=yes" },
	  "config: command line: invalid value \"yes\" for flag -server: "
	  "expected true or false" },
	{ NULL, { DD, "-retry-interval", "5" },
	  "config: command line: invalid value \"5\" for flag -retry-interval: "
	  "invalid duration \"5\" (want e.g. \"10s\", \"1h30m\")" },
	{ NULL, { DD, "-serf-lan-port=65536" },
	  "config: command line: invalid value \"65536\" for flag "
	  "-serf-lan-port: invalid port 65536 (at most 65535)" },
	{ NULL, { DD, "-encrypt", "AAAAAAAAAAAAAAAAAAAAAA" },
	  "config: command line: invalid value \"AAAAAAAAAAAAAAAAAAAAAA\" for "
	  "flag -encrypt: encrypt has invalid key: illegal base64 data" },
	{ NULL, { DD, "-hcl", "server = true" },
	  "config: command line: -hcl: HCL configuration is not supported" },
	{ NULL, { DD, "-config-format=hcl" },
	  "config: command line: invalid value \"hcl\" for flag "
	  "-config-format: HCL is not supported" },
};

static char *
expand(const char *want, const char *path)
{
	struct buf b;
	buf_init(&b);
	for (const char *p = want; *p; p++) {
		if (*p == '@')
			buf_addstr(&b, path);
		else
			buf_addch(&b, *p);
	}
	return buf_steal(&b);
}

START_TEST(error_messages)
{
	const struct err_case *t = &cases[_i];
	char *path = tmp_path("a.json");
	const char *argv[12] = { NULL };
	size_t n = 0;
	if (t->file) {
		char *text = expand(t->file, path);
		tmp_write("a.json", text);
		free(text);
	}
	for (size_t i = 0; i < nitems(t->args) && t->args[i]; i++)
		argv[n++] = t->args[i];
	if (t->file) {
		argv[n++] = "-config-file";
		argv[n++] = path;
	}
	argv[n] = NULL;
	char *got = load_err(argv[0], argv[1], argv[2], argv[3], argv[4],
	    argv[5], argv[6], argv[7], argv[8], NULL);
	char *want = expand(t->want, path);
	ck_assert_msg(strcmp(got, want) == 0, "case %d:\n got: %s\nwant: %s",
	    _i, got, want);
	free(got);
	free(want);
	free(path);
}
END_TEST

START_TEST(file_level_errors)
{
	char *dir = tmp_path("conf.d"), *hcl = tmp_path("conf.d/x.hcl");
	char *missing = tmp_path("missing.json"), *txt = tmp_path("a.yaml");
	char *e, *want;

	ck_assert_int_eq(mkdir(dir, 0755), 0);
	tmp_write("conf.d/x.hcl", "server = true");
	tmp_write("a.yaml", "{}");
	e = load_err(DD, "-config-dir", dir, NULL);
	want = xasprintf("config: %s: HCL configuration is not supported; "
	    "muster reads JSON config files only", hcl);
	ck_assert_str_eq(e, want);
	free(e);
	free(want);
	e = load_err(DD, "-config-file", hcl, NULL);
	ck_assert_ptr_nonnull(strstr(e, "HCL configuration is not supported"));
	free(e);
	e = load_err(DD, "-config-file", missing, NULL);
	want = xasprintf("config: %s: cannot read: No such file or directory",
	    missing);
	ck_assert_str_eq(e, want);
	free(e);
	free(want);
	e = load_err(DD, "-config-file", txt, NULL);
	want = xasprintf("config: %s: unknown file extension; config files "
	    "must end in .json (or use -config-format=json)", txt);
	ck_assert_str_eq(e, want);
	free(e);
	free(want);
	/* -config-format=json reads any extension as JSON. */
	struct agent_config *c = load_ok(DD, "-config-format=json",
	    "-config-file", txt, NULL);
	cfg_free(c);
	free(dir);
	free(hcl);
	free(missing);
	free(txt);
}
END_TEST

Suite *
config_errors_suite(void)
{
	Suite *s = suite_create("config-errors");
	TCase *tc = tcase_create("messages");
	tcase_add_checked_fixture(tc, NULL, tmp_cleanup);
	tcase_add_loop_test(tc, error_messages, 0, (int)nitems(cases));
	tcase_add_test(tc, file_level_errors);
	suite_add_tcase(s, tc);
	return s;
}
