/*
 * The agent configuration as an operator meets it: flags in Go's syntax,
 * config files and directories in Consul's order, defaults (plain and
 * -dev), the dump workers receive, address detection, `muster validate`,
 * and golden files (data/N.json -> data/N.ok or data/N.err).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/duration.h"
#include "lib/paths.h"
#include "tests/unit/config/suites.h"

#define S DURATION_S
#define MS DURATION_MS

/* 32 bytes of zeroes and 16 bytes of zeroes, base64. */
#define KEY32 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define KEY16 "AAAAAAAAAAAAAAAAAAAAAA=="

static char tmpd[64];

const char *
tmp_dir(void)
{
	if (tmpd[0] == '\0') {
		strcpy(tmpd, "/tmp/muster-cfgtest-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(tmpd));
	}
	return tmpd;
}

char *
tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmp_dir(), name);
}

void
tmp_write(const char *name, const char *text)
{
	char *p = tmp_path(name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, text, strlen(text)), 0);
	close(fd);
	free(p);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

void
tmp_cleanup(void)
{
	if (tmpd[0])
		nftw(tmpd, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tmpd[0] = '\0';
}

static int
vload(struct agent_config **c, struct buf *err, const char *arg, va_list ap)
{
	char *argv[64];
	int argc = 0;
	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(argc, 64);
		argv[argc++] = (char *)a;
	}
	return cfg_load(argc, argv, c, err);
}

struct agent_config *
load_ok(const char *arg, ...)
{
	struct agent_config *c = NULL;
	struct buf err;
	va_list ap;
	buf_init(&err);
	va_start(ap, arg);
	int r = vload(&c, &err, arg, ap);
	va_end(ap);
	ck_assert_msg(r == 0, "load failed: %s", err.data ? (char *)err.data : "");
	ck_assert_ptr_nonnull(c);
	buf_free(&err);
	return c;
}

char *
load_err(const char *arg, ...)
{
	struct agent_config *c = (void *)1;
	struct buf err;
	va_list ap;
	buf_init(&err);
	va_start(ap, arg);
	int r = vload(&c, &err, arg, ap);
	va_end(ap);
	ck_assert_msg(r == -EINVAL, "load did not fail (%d)", r);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(err.data);
	return buf_steal(&err);
}

static bool
has_warning(const struct agent_config *c, const char *part)
{
	for (size_t i = 0; i < c->warnings.n; i++)
		if (strstr(c->warnings.v[i], part))
			return true;
	return false;
}

START_TEST(flags_set_fields)
{
	struct agent_config *c = load_ok("-server", "-bootstrap-expect=3",
	    "-data-dir", "/var/lib/muster", "-node", "n1", "-datacenter=EU-1",
	    "-retry-join", "10.0.0.1", "-retry-join=10.0.0.2", "-client",
	    "127.0.0.1 ::1", "-http-port", "8080", "-dns-port=-1",
	    "-node-meta", "rack:r1", "-node-meta=zone:z:1", "--log-level=DEBUG",
	    "-encrypt", KEY32, "-recursor", "8.8.8.8", "-recursor=[::1]:5353",
	    "-retry-interval=5s", "-retry-max", "7", "-rejoin", "-ui",
	    "-node-id", "ADF4238A-882B-9DDC-4A9D-5B6758E4159E", "-user",
	    "daemon", "-control-socket", "/run/x.sock", "-domain", "Example",
	    "-bind", "10.1.2.3", "-advertise-wan", "192.0.2.7", NULL);
	ck_assert(c->server && !c->dev && !c->bootstrap);
	ck_assert_int_eq(c->bootstrap_expect, 3);
	ck_assert_str_eq(c->data_dir, "/var/lib/muster");
	ck_assert_str_eq(c->node_name, "n1");
	ck_assert_str_eq(c->datacenter, "eu-1");
	ck_assert_str_eq(c->primary_datacenter, "eu-1");
	ck_assert_uint_eq(c->retry_join.n, 2);
	ck_assert_str_eq(c->retry_join.v[1], "10.0.0.2");
	ck_assert_uint_eq(c->client_addr.n, 2);
	ck_assert_str_eq(c->client_addr.v[1], "::1");
	ck_assert_uint_eq(c->addresses.http.n, 2);
	ck_assert_int_eq(c->ports.http, 8080);
	ck_assert_int_eq(c->ports.dns, -1);
	ck_assert_int_eq(c->ports.serf_lan, 8301);
	ck_assert_uint_eq(c->node_meta.n, 2);
	ck_assert_str_eq(c->node_meta.k[1], "zone");
	ck_assert_str_eq(c->node_meta.v[1], "z:1");
	ck_assert_str_eq(c->log_level, "debug");
	ck_assert_str_eq(c->encrypt, KEY32);
	ck_assert_uint_eq(c->recursors.n, 2);
	ck_assert_int_eq(c->retry_interval, 5 * S);
	ck_assert_int_eq(c->retry_max, 7);
	ck_assert(c->rejoin_after_leave && c->ui_config.enabled);
	ck_assert_str_eq(c->node_id, "adf4238a-882b-9ddc-4a9d-5b6758e4159e");
	ck_assert_str_eq(c->user, "daemon");
	ck_assert_str_eq(c->control_socket, "/run/x.sock");
	ck_assert_str_eq(c->domain, "example.");
	ck_assert_str_eq(c->bind_addr, "10.1.2.3");
	ck_assert_str_eq(c->advertise_addr, "10.1.2.3");
	ck_assert_str_eq(c->advertise_addr_wan, "192.0.2.7");
	ck_assert(has_warning(c, "bootstrap_expect > 0: expecting 3 servers"));
	cfg_free(c);
}
END_TEST

START_TEST(go_flag_syntax)
{
	/* Bool flags: bare, =true/=false, and they never eat the next arg. */
	struct agent_config *c = load_ok("-dev", "--server=false",
	    "-bootstrap=false", "-ui=0", NULL);
	ck_assert(c->dev && !c->server && !c->bootstrap &&
	    !c->ui_config.enabled);
	cfg_free(c);
	char *e = load_err("-dev", "-server", "false", NULL);
	ck_assert_str_eq(e, "config: command line: unexpected argument "
	    "\"false\"");
	free(e);
	/* "--" ends the flags; anything after is an extra argument. */
	e = load_err("-dev", "--", "-server", NULL);
	ck_assert_str_eq(e, "config: command line: unexpected argument "
	    "\"-server\"");
	free(e);
	e = load_err("-dev", "-http-port", NULL);
	ck_assert_str_eq(e, "config: command line: flag needs an argument: "
	    "-http-port");
	free(e);
	e = load_err("-dev", "---http-port=1", NULL);
	ck_assert_str_eq(e, "config: command line: bad flag syntax: "
	    "---http-port=1");
	free(e);
	e = load_err("-dev", "-nope=1", NULL);
	ck_assert_str_eq(e, "config: command line: flag provided but not "
	    "defined: -nope");
	free(e);
	/* A flag value may start with '-'. */
	c = load_ok("-dev", "-dns-port", "-1", "-https-port", "0x20FB", NULL);
	ck_assert_int_eq(c->ports.dns, -1);
	ck_assert_int_eq(c->ports.https, 8443);
	cfg_free(c);
	/* -dc is the old name of -datacenter. */
	c = load_ok("-dev", "-dc", "west", NULL);
	ck_assert_str_eq(c->datacenter, "west");
	ck_assert(has_warning(c, "'-dc' is deprecated"));
	cfg_free(c);
	c = load_ok("-dev", "-client", "", "-join", "127.0.0.2", NULL);
	ck_assert_uint_eq(c->client_addr.n, 0);
	ck_assert_uint_eq(c->addresses.http.n, 0);
	ck_assert(has_warning(c, "client_addr is empty"));
	ck_assert(has_warning(c, "The 'start_join' field is deprecated"));
	cfg_free(c);
}
END_TEST

START_TEST(help_flag_gives_usage)
{
	struct agent_config *c = NULL;
	struct buf err;
	char *argv[] = { (char *)"-h" };
	buf_init(&err);
	ck_assert_int_eq(cfg_load(1, argv, &c, &err), -ECANCELED);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr((char *)err.data, "-retry-join"));
	buf_free(&err);
}
END_TEST

START_TEST(files_override_and_append)
{
	tmp_write("1.json", "{\"datacenter\": \"one\", \"retry_join\": [\"a\"],"
	    " \"ports\": {\"http\": 1111, \"dns\": 1053},"
	    " \"node_meta\": {\"k1\": \"v1\", \"k2\": \"v2\"},"
	    " \"log_level\": \"warn\", \"data_dir\": \"/d\"}");
	tmp_write("2.json", "{\"Datacenter\": \"two\", \"retry_join\": [\"b\"],"
	    " \"ports\": {\"http\": 2222}, \"node_meta\": {\"k2\": \"x\"}}");
	char *f1 = tmp_path("1.json"), *f2 = tmp_path("2.json");
	struct agent_config *c = load_ok("-retry-join", "flag",
	    "-config-file", f1, "-log-level", "error", "-config-file", f2,
	    "-http-port", "3333", NULL);
	/* Scalars: later files override, flags override files. */
	ck_assert_str_eq(c->datacenter, "two");
	ck_assert_int_eq(c->ports.http, 3333);
	ck_assert_int_eq(c->ports.dns, 1053);
	ck_assert_str_eq(c->log_level, "error");
	/* Lists append, flag values first (Consul merges flag slices before
	 * the files); maps merge key by key. */
	ck_assert_uint_eq(c->retry_join.n, 3);
	ck_assert_str_eq(c->retry_join.v[0], "flag");
	ck_assert_str_eq(c->retry_join.v[1], "a");
	ck_assert_str_eq(c->retry_join.v[2], "b");
	ck_assert_uint_eq(c->node_meta.n, 2);
	ck_assert_str_eq(c->node_meta.v[1], "x");
	cfg_free(c);
	free(f1);
	free(f2);
}
END_TEST

START_TEST(config_dir_in_name_order)
{
	char *d = tmp_path("conf.d");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	tmp_write("conf.d/b.json", "{\"node_name\": \"from-b\", "
	    "\"recursors\": [\"10.0.0.2\"]}");
	tmp_write("conf.d/a.json", "{\"node_name\": \"from-a\", "
	    "\"recursors\": [\"10.0.0.1\"], \"data_dir\": \"/d\"}");
	tmp_write("conf.d/B.json", "{\"recursors\": [\"10.0.0.0\"]}");
	tmp_write("conf.d/notes.txt", "not json");
	tmp_write("conf.d/empty.json", "");
	char *sub = tmp_path("conf.d/sub.json");
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	tmp_write("conf.d/sub.json/c.json", "{\"node_name\": \"from-sub\"}");
	tmp_write("outside.json", "{\"recursors\": [\"10.0.0.3\"]}");
	char *out = tmp_path("outside.json"), *link = tmp_path("conf.d/c.json");
	ck_assert_int_eq(symlink(out, link), 0);
	struct agent_config *c = load_ok("-config-dir", d, NULL);
	/* Byte order: B < a < b < c (the symlink); sub-dirs skipped. */
	ck_assert_str_eq(c->node_name, "from-b");
	ck_assert_uint_eq(c->recursors.n, 4);
	ck_assert_str_eq(c->recursors.v[0], "10.0.0.0");
	ck_assert_str_eq(c->recursors.v[1], "10.0.0.1");
	ck_assert_str_eq(c->recursors.v[2], "10.0.0.2");
	ck_assert_str_eq(c->recursors.v[3], "10.0.0.3");
	ck_assert(has_warning(c, "notes.txt"));
	cfg_free(c);
	free(d);
	free(sub);
	free(out);
	free(link);
}
END_TEST

START_TEST(services_and_checks_kept_as_json)
{
	tmp_write("s1.json", "{\"data_dir\": \"/d\", \"service\": {\"Name\": "
	    "\"web\", \"port\": 80, \"tags\": [\"a\"]}, \"checks\": [{\"id\": "
	    "\"c1\", \"ttl\": \"10s\"}]}");
	tmp_write("s2.json", "{\"services\": [{\"name\": \"db\", \"meta\": "
	    "{\"x\": \"\\u00e9\"}}, {\"name\": \"cache\"}], \"check\": "
	    "{\"name\": \"disk\", \"args\": [\"/bin/true\"], \"interval\": "
	    "\"1m\"}}");
	char *a = tmp_path("s1.json"), *b = tmp_path("s2.json");
	struct agent_config *c = load_ok("-config-file", a, "-config-file", b,
	    NULL);
	ck_assert_uint_eq(c->services.n, 3);
	ck_assert_str_eq(c->services.v[0],
	    "{\"Name\":\"web\",\"port\":80,\"tags\":[\"a\"]}");
	ck_assert_str_eq(c->services.v[1],
	    "{\"name\":\"db\",\"meta\":{\"x\":\"\xc3\xa9\"}}");
	ck_assert_str_eq(c->services.v[2], "{\"name\":\"cache\"}");
	ck_assert_uint_eq(c->checks.n, 2);
	ck_assert_str_eq(c->checks.v[0], "{\"id\":\"c1\",\"ttl\":\"10s\"}");
	ck_assert_str_eq(c->checks.v[1], "{\"name\":\"disk\",\"args\":"
	    "[\"/bin/true\"],\"interval\":\"1m\"}");
	cfg_free(c);
	free(a);
	free(b);
}
END_TEST

START_TEST(defaults_match_consul)
{
	struct agent_config *c = load_ok("-data-dir=/var/lib/muster", NULL);
	char host[256];
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	ck_assert(!c->server && !c->dev && !c->bootstrap);
	ck_assert_str_eq(c->node_name, host);
	ck_assert_str_eq(c->node_id, "");
	ck_assert_str_eq(c->datacenter, "dc1");
	ck_assert_str_eq(c->bind_addr, "0.0.0.0");
	ck_assert_str_eq(c->advertise_addr, "");	/* detected later */
	ck_assert_uint_eq(c->client_addr.n, 1);
	ck_assert_str_eq(c->client_addr.v[0], "127.0.0.1");
	ck_assert_str_eq(c->addresses.dns.v[0], "127.0.0.1");
	ck_assert_int_eq(c->ports.http, 8500);
	ck_assert_int_eq(c->ports.https, -1);
	ck_assert_int_eq(c->ports.dns, 8600);
	ck_assert_int_eq(c->ports.serf_lan, 8301);
	ck_assert_int_eq(c->ports.serf_wan, 8302);
	ck_assert_int_eq(c->ports.server, 8300);
	ck_assert_int_eq(c->ports.grpc, -1);
	ck_assert_int_eq(c->retry_interval, 30 * S);
	ck_assert_int_eq(c->reconnect_timeout, 72 * 3600 * S);
	ck_assert(c->leave_on_terminate && !c->skip_leave_on_interrupt);
	ck_assert(c->encrypt_verify_incoming && c->encrypt_verify_outgoing);
	ck_assert_int_eq(c->protocol, 2);
	ck_assert_int_eq(c->raft_protocol, 3);
	ck_assert_int_eq(c->gossip_lan.gossip_nodes, 3);
	ck_assert_int_eq(c->gossip_lan.gossip_interval, 200 * MS);
	ck_assert_int_eq(c->gossip_lan.probe_interval, 1 * S);
	ck_assert_int_eq(c->gossip_lan.probe_timeout, 500 * MS);
	ck_assert_int_eq(c->gossip_lan.retransmit_mult, 4);
	ck_assert_int_eq(c->gossip_lan.suspicion_mult, 4);
	ck_assert_int_eq(c->gossip_wan.gossip_nodes, 4);
	ck_assert_int_eq(c->gossip_wan.gossip_interval, 500 * MS);
	ck_assert_int_eq(c->gossip_wan.probe_interval, 5 * S);
	ck_assert_int_eq(c->gossip_wan.probe_timeout, 3 * S);
	ck_assert_int_eq(c->gossip_wan.suspicion_mult, 6);
	ck_assert_int_eq(c->raft_snapshot_threshold, 16384);
	ck_assert_int_eq(c->raft_snapshot_interval, 30 * S);
	ck_assert_int_eq(c->raft_trailing_logs, 10000);
	ck_assert_int_eq(c->performance.raft_multiplier, 5);
	ck_assert_int_eq(c->performance.leave_drain_time, 5 * S);
	ck_assert_int_eq(c->performance.rpc_hold_timeout, 7 * S);
	ck_assert(c->autopilot.cleanup_dead_servers);
	ck_assert_int_eq(c->autopilot.last_contact_threshold, 200 * MS);
	ck_assert_int_eq(c->autopilot.max_trailing_logs, 250);
	ck_assert_int_eq(c->autopilot.server_stabilization_time, 10 * S);
	ck_assert(!c->ui_config.enabled);
	ck_assert_int_eq(c->limits.http_max_conns_per_client, 200);
	ck_assert_int_eq(c->limits.kv_max_value_size, 524288);
	ck_assert_int_eq(c->limits.txn_max_req_len, 524288);
	ck_assert_int_eq(c->default_query_time, 300 * S);
	ck_assert_int_eq(c->max_query_time, 600 * S);
	ck_assert_str_eq(c->domain, "consul.");
	ck_assert_str_eq(c->alt_domain, "");
	ck_assert(c->dns_config.allow_stale);
	ck_assert_int_eq(c->dns_config.max_stale, 87600ll * 3600 * S);
	ck_assert_int_eq(c->dns_config.udp_answer_limit, 3);
	ck_assert_int_eq(c->dns_config.a_record_limit, 0);
	ck_assert_str_eq(c->dns_config.recursor_strategy, "sequential");
	ck_assert_int_eq(c->dns_config.recursor_timeout, 2 * S);
	ck_assert_int_eq(c->dns_config.soa.refresh, 3600);
	ck_assert_int_eq(c->dns_config.soa.retry, 600);
	ck_assert_int_eq(c->dns_config.soa.expire, 86400);
	ck_assert_int_eq(c->dns_config.soa.min_ttl, 0);
	ck_assert(c->dns_config.enable_additional_node_meta_txt);
	ck_assert_int_eq(c->check_update_interval, 300 * S);
	ck_assert_int_eq(c->check_output_max_size, 4096);
	ck_assert_int_eq(c->session_ttl_min, 10 * S);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert(c->disable_remote_exec && !c->enable_debug);
	ck_assert_str_eq(c->user, "");
	ck_assert_str_eq(c->pid_file, "");
	ck_assert_str_eq(c->control_socket, "/var/lib/muster/control.sock");
	ck_assert_uint_eq(c->warnings.n, 0);
	cfg_free(c);
}
END_TEST

START_TEST(dev_defaults)
{
	struct agent_config *c = load_ok("-dev", NULL);
	char host[256], rt[200], *sock;
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	paths_runtime_dir(rt, sizeof(rt));
	sock = xasprintf("%s/control.sock", rt);
	ck_assert(c->dev && c->server && c->bootstrap);
	ck_assert_int_eq(c->bootstrap_expect, 0);
	ck_assert(c->ui_config.enabled && c->enable_debug &&
	    c->disable_keyring_file);
	ck_assert_str_eq(c->log_level, "debug");
	ck_assert_str_eq(c->bind_addr, "127.0.0.1");
	ck_assert_str_eq(c->advertise_addr, "127.0.0.1");
	ck_assert_str_eq(c->advertise_addr_wan, "127.0.0.1");
	ck_assert_str_eq(c->client_addr.v[0], "127.0.0.1");
	ck_assert_int_eq(c->performance.raft_multiplier, 1);
	ck_assert_int_eq(c->ports.grpc, 8502);
	ck_assert_str_eq(c->data_dir, "");
	ck_assert_str_eq(c->node_name, host);
	ck_assert_str_eq(c->control_socket, sock);
	ck_assert_int_eq(c->gossip_lan.probe_interval, 100 * MS);
	ck_assert_int_eq(c->gossip_wan.gossip_interval, 100 * MS);
	ck_assert_int_eq(c->gossip_lan.suspicion_mult, 3);
	ck_assert_int_eq(c->gossip_lan.gossip_nodes, 3);
	/* A server: stays in the cluster on SIGTERM, skips leave on SIGINT. */
	ck_assert(!c->leave_on_terminate && c->skip_leave_on_interrupt);
	ck_assert(!has_warning(c, "bootstrap = true"));
	cfg_free(c);
	/* Files and flags still override -dev's defaults. */
	tmp_write("d.json", "{\"log_level\": \"info\", \"performance\": "
	    "{\"raft_multiplier\": 3}, \"data_dir\": \"/d\"}");
	char *f = tmp_path("d.json");
	c = load_ok("-dev", "-config-file", f, "-bind", "127.0.0.2", NULL);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_int_eq(c->performance.raft_multiplier, 3);
	ck_assert_str_eq(c->bind_addr, "127.0.0.2");
	ck_assert_str_eq(c->control_socket, "/d/control.sock");
	cfg_free(c);
	free(sock);
	free(f);
}
END_TEST

START_TEST(server_dependent_defaults)
{
	struct agent_config *c = load_ok("-data-dir=/d", "-server",
	    "-bootstrap-expect=1", NULL);
	/* Consul: bootstrap_expect = 1 is bootstrap mode. */
	ck_assert(c->bootstrap);
	ck_assert_int_eq(c->bootstrap_expect, 0);
	ck_assert(has_warning(c, "BootstrapExpect is set to 1"));
	ck_assert(has_warning(c, "bootstrap = true: do not enable"));
	ck_assert(!c->leave_on_terminate && c->skip_leave_on_interrupt);
	cfg_free(c);
	tmp_write("l.json", "{\"leave_on_terminate\": true, "
	    "\"skip_leave_on_interrupt\": false, \"enable_script_checks\": true}");
	char *f = tmp_path("l.json");
	c = load_ok("-data-dir=/d", "-server", "-config-file", f,
	    "-bootstrap-expect", "4", NULL);
	ck_assert(c->leave_on_terminate && !c->skip_leave_on_interrupt);
	ck_assert(c->enable_local_script_checks);
	ck_assert(has_warning(c, "bootstrap_expect is even number"));
	cfg_free(c);
	c = load_ok("-data-dir=/d", "-server", "-bootstrap-expect", "2", NULL);
	ck_assert(has_warning(c, "bootstrap_expect = 2: A cluster with 2 "
	    "servers will provide no failure tolerance"));
	cfg_free(c);
	c = load_ok("-data-dir=/d", "-enable-script-checks",
	    "-enable-local-script-checks=false", NULL);
	ck_assert(c->enable_script_checks && !c->enable_local_script_checks);
	cfg_free(c);
	free(f);
}
END_TEST

static struct agent_config *
rich_config(void)
{
	tmp_write("rich.json", "{"
	    "\"datacenter\": \"dc7\", \"primary_datacenter\": \"dc1\","
	    "\"node_meta\": {\"rack\": \"r\\\"1\", \"os\": \"linux\"},"
	    "\"client_addr\": \"127.0.0.1 127.0.0.2\","
	    "\"addresses\": {\"dns\": \"127.0.0.53\"},"
	    "\"ports\": {\"https\": 8501, \"grpc\": 0},"
	    "\"start_join\": [\"10.0.0.9\"], \"retry_join_wan\": [\"w1\", \"w2\"],"
	    "\"reconnect_timeout\": \"8h\", \"encrypt\": \"" KEY16 "\","
	    "\"gossip_lan\": {\"probe_timeout\": \"250ms\"},"
	    "\"performance\": {\"raft_multiplier\": 1, \"rpc_hold_timeout\": "
	    "\"1.5s\"}, \"autopilot\": {\"min_quorum\": 3},"
	    "\"ui_config\": {\"enabled\": true},"
	    "\"http_config\": {\"response_headers\": {\"X-A\": \"b\"}},"
	    "\"limits\": {\"kv_max_value_size\": 1024},"
	    "\"alt_domain\": \"Example.COM\", \"recursors\": [\"1.1.1.1\"],"
	    "\"dns_config\": {\"node_ttl\": \"30s\", \"service_ttl\": "
	    "{\"*\": \"5s\", \"web\": \"1m30s\"}, \"only_passing\": true,"
	    "\"recursor_strategy\": \"random\", \"soa\": {\"min_ttl\": 60}},"
	    "\"services\": [{\"name\": \"web\", \"port\": 80}],"
	    "\"check\": {\"id\": \"mem\", \"ttl\": \"30s\"},"
	    "\"pid_file\": \"/run/m.pid\", \"log_json\": true"
	    "}");
	char *f = tmp_path("rich.json");
	struct agent_config *c = load_ok("-server", "-bootstrap-expect=3",
	    "-data-dir=/var/lib/m", "-node=n\xc3\xa9", "-config-file", f,
	    "-bind=10.0.0.1", NULL);
	free(f);
	return c;
}

START_TEST(dump_round_trip)
{
	struct agent_config *c = rich_config();
	struct buf err;
	buf_init(&err);
	ck_assert_int_eq(cfg_resolve_addresses_from(c, NULL, 0, NULL, 0, &err),
	    0);
	ck_assert_str_eq(c->advertise_addr, "10.0.0.1");
	free(c->node_id);
	c->node_id = xstrdup("5e5b5c3c-2c5f-4f69-9d57-0b1b0e2f6a11");
	for (int pretty = 0; pretty <= 1; pretty++) {
		struct buf d1, d2;
		struct agent_config *c2 = NULL;
		buf_init(&d1);
		buf_init(&d2);
		cfg_dump_json(c, &d1, pretty);
		ck_assert_msg(cfg_from_json((char *)d1.data, d1.len, &c2, &err)
		    == 0, "%s", (char *)err.data);
		ck_assert(cfg_equal(c, c2));
		cfg_dump_json(c2, &d2, pretty);
		ck_assert_str_eq((char *)d1.data, (char *)d2.data);
		/* Field by field, for the types the dump transforms. */
		ck_assert_int_eq(c2->performance.rpc_hold_timeout, 1500 * MS);
		ck_assert_uint_eq(c2->dns_config.service_ttl.n, 2);
		ck_assert_int_eq(c2->dns_config.service_ttl.v[1], 90 * S);
		ck_assert_str_eq(c2->alt_domain, "example.com.");
		ck_assert_str_eq(c2->services.v[0], "{\"name\":\"web\",\"port\":80}");
		ck_assert_str_eq(c2->checks.v[0], "{\"id\":\"mem\",\"ttl\":\"30s\"}");
		ck_assert_uint_eq(c2->addresses.http.n, 2);
		ck_assert_str_eq(c2->addresses.dns.v[0], "127.0.0.53");
		ck_assert_int_eq(c2->ports.grpc, -1);
		ck_assert_str_eq(c2->node_name, "n\xc3\xa9");
		ck_assert_str_eq(c2->node_meta.v[0], "r\"1");
		cfg_free(c2);
		buf_free(&d1);
		buf_free(&d2);
	}
	/* The dump is complete: every key of the table appears. */
	struct buf d;
	buf_init(&d);
	cfg_dump_json(c, &d, false);
	const char *keys[] = { "\"dev\":false", "\"bootstrap_expect\":3",
		"\"service_ttl\":{\"*\":\"5s\",\"web\":\"1m30s\"}",
		"\"soa\":{\"min_ttl\":60,\"refresh\":3600", "\"user\":\"\"",
		"\"control_socket\":\"/var/lib/m/control.sock\"",
		"\"reconnect_timeout\":\"8h0m0s\"",
		"\"client_addr\":\"127.0.0.1 127.0.0.2\"" };
	for (size_t i = 0; i < nitems(keys); i++)
		ck_assert_msg(strstr((char *)d.data, keys[i]), "%s missing in %s",
		    keys[i], (char *)d.data);
	ck_assert_ptr_null(strstr((char *)d.data, "\"service\""));
	ck_assert_ptr_null(strstr((char *)d.data, "warnings"));
	buf_free(&d);
	buf_free(&err);
	cfg_free(c);
}
END_TEST

START_TEST(equal_sees_every_change)
{
	struct agent_config *a = rich_config(), *b = rich_config();
	ck_assert(cfg_equal(a, b));
	b->dns_config.soa.retry++;
	ck_assert(!cfg_equal(a, b));
	b->dns_config.soa.retry--;
	b->dns_config.service_ttl.v[0]++;
	ck_assert(!cfg_equal(a, b));
	b->dns_config.service_ttl.v[0]--;
	b->services.v = xrealloc(b->services.v,
	    (b->services.n + 1) * sizeof(char *));
	b->services.v[b->services.n++] = xstrdup("{}");
	ck_assert(!cfg_equal(a, b));
	cfg_free(a);
	cfg_free(b);
}
END_TEST

START_TEST(dump_input_errors)
{
	struct agent_config *c = NULL;
	struct buf err;
	buf_init(&err);
	const char *doc = "{\"ports\": {\"http\": \"x\"}}";
	ck_assert_int_eq(cfg_from_json(doc, strlen(doc), &c, &err), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_str_eq((char *)err.data, "config: config dump: key "
	    "\"ports.http\": expected a number, got string");
	buf_free(&err);
}
END_TEST

START_TEST(resolve_addresses)
{
	struct agent_config *c = load_ok("-data-dir=/d", NULL);
	struct buf err;
	const char *one[] = { "192.168.1.5" }, *two[] = { "10.0.0.1",
		"10.0.0.2" }, *v6[] = { "2001:4860::1" };
	buf_init(&err);
	ck_assert_int_eq(cfg_resolve_addresses_from(c, NULL, 0, NULL, 0, &err),
	    -EINVAL);
	ck_assert_str_eq((char *)err.data, "No private IPv4 address found");
	buf_reset(&err);
	ck_assert_int_eq(cfg_resolve_addresses_from(c, two, 2, NULL, 0, &err),
	    -EINVAL);
	ck_assert_str_eq((char *)err.data, "Multiple private IPv4 addresses "
	    "found. Please configure one with 'bind' and/or 'advertise'.");
	ck_assert_int_eq(cfg_resolve_addresses_from(c, one, 1, NULL, 0, &err),
	    0);
	ck_assert_str_eq(c->bind_addr, "0.0.0.0");
	ck_assert_str_eq(c->advertise_addr, "192.168.1.5");
	ck_assert_str_eq(c->advertise_addr_wan, "192.168.1.5");
	/* Idempotent: a resolved config keeps its address. */
	ck_assert_int_eq(cfg_resolve_addresses_from(c, two, 2, NULL, 0, &err),
	    0);
	cfg_free(c);
	/* An explicit advertise address needs no detection. */
	c = load_ok("-data-dir=/d", "-advertise", "10.9.9.9", NULL);
	ck_assert_int_eq(cfg_resolve_addresses_from(c, two, 2, NULL, 0, &err),
	    0);
	ck_assert_str_eq(c->advertise_addr, "10.9.9.9");
	cfg_free(c);
	c = load_ok("-data-dir=/d", "-bind", "::", NULL);
	buf_reset(&err);
	ck_assert_int_eq(cfg_resolve_addresses_from(c, one, 1, NULL, 0, &err),
	    -EINVAL);
	ck_assert_str_eq((char *)err.data, "No public IPv6 address found");
	ck_assert_int_eq(cfg_resolve_addresses_from(c, one, 1, v6, 1, &err), 0);
	ck_assert_str_eq(c->advertise_addr, "2001:4860::1");
	cfg_free(c);
	/* The real interface scan answers one way or the other. */
	c = load_ok("-dev", NULL);
	ck_assert_int_eq(cfg_resolve_addresses(c, &err), 0);
	ck_assert_str_eq(c->advertise_addr, "127.0.0.1");
	cfg_free(c);
	buf_free(&err);
}
END_TEST

/* Run cfg_validate_cmd with stdout and stderr captured into *out. */
static int
run_validate(char **out, const char *arg, ...)
{
	char *argv[16] = { (char *)"validate" };
	int argc = 1;
	va_list ap;
	va_start(ap, arg);
	for (const char *a = arg; a; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	char *cap = tmp_path("captured");
	int fd = open(cap, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int o1 = dup(1), o2 = dup(2);
	fflush(stdout);
	fflush(stderr);
	dup2(fd, 1);
	dup2(fd, 2);
	int r = cfg_validate_cmd(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(o1, 1);
	dup2(o2, 2);
	close(o1);
	close(o2);
	close(fd);
	struct buf b;
	buf_init(&b);
	ck_assert_int_eq(read_file(cap, 1 << 20, &b), 0);
	/* read_file leaves an empty buffer without its NUL. */
	*out = b.len ? buf_steal(&b) : xstrdup("");
	buf_free(&b);
	free(cap);
	return r;
}

START_TEST(validate_command)
{
	char *out;
	tmp_write("ok.json", "{\"datacenter\": \"x\", \"ports\": {\"http\": 80}}");
	tmp_write("bad.json", "{\"ports\": {\"dns\": \"53\"}}");
	char *ok = tmp_path("ok.json"), *bad = tmp_path("bad.json");
	/* No data_dir needed to validate. */
	ck_assert_int_eq(run_validate(&out, ok, NULL), 0);
	ck_assert_str_eq(out, "Configuration is valid!\n");
	free(out);
	ck_assert_int_eq(run_validate(&out, "-quiet", ok, NULL), 0);
	ck_assert_str_eq(out, "");
	free(out);
	/* Warnings are shown, as Consul's validate shows them. */
	tmp_write("warn.json", "{\"server\": true, \"bootstrap_expect\": 3}");
	char *wf = tmp_path("warn.json");
	ck_assert_int_eq(run_validate(&out, wf, NULL), 0);
	ck_assert_str_eq(out, "bootstrap_expect > 0: expecting 3 servers\n"
	    "Configuration is valid!\n");
	free(out);
	ck_assert_int_eq(unlink(wf), 0);
	free(wf);
	ck_assert_int_eq(run_validate(&out, ok, bad, NULL), 2);
	char *want = xasprintf("Config validation failed: %s: key "
	    "\"ports.dns\": expected a number, got string\n", bad);
	ck_assert_str_eq(out, want);
	free(want);
	free(out);
	ck_assert_int_eq(run_validate(&out, NULL), 1);
	ck_assert_str_eq(out, "Must specify at least one config file or "
	    "directory\n");
	free(out);
	/* A directory argument validates its *.json files. */
	ck_assert_int_eq(run_validate(&out, tmp_dir(), NULL), 2);
	free(out);
	ck_assert_int_eq(unlink(bad), 0);
	ck_assert_int_eq(run_validate(&out, tmp_dir(), NULL), 0);
	free(out);
	free(ok);
	free(bad);
}
END_TEST

static char *
slurp(const char *path)
{
	struct buf b;
	buf_init(&b);
	if (read_file(path, 1 << 20, &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	char *s = b.len ? buf_steal(&b) : xstrdup("");
	buf_free(&b);
	return s;
}

static void
spill(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* data/N.json, loaded alone with -config-file N.json (from data/), must
 * dump exactly as N.ok, or fail with exactly N.err. */
static void
golden_one(const char *name, bool update)
{
	struct agent_config *c = NULL;
	struct buf err, got;
	char stem[256], *argv[] = { (char *)"-config-file", (char *)name };
	snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(name) - 5), name);
	char *okp = xasprintf("%s.ok", stem), *errp = xasprintf("%s.err", stem);
	buf_init(&err);
	buf_init(&got);
	int r = cfg_load(2, argv, &c, &err);
	if (r == 0) {
		cfg_dump_json(c, &got, true);
		cfg_free(c);
	} else {
		buf_printf(&got, "%s\n", (char *)err.data);
	}
	const char *want_path = r == 0 ? okp : errp;
	if (update)
		spill(want_path, (char *)got.data);
	char *want = slurp(want_path);
	ck_assert_msg(want != NULL, "%s: no %s (got: %s)", name, want_path,
	    (char *)got.data);
	ck_assert_msg(strcmp(want, (char *)got.data) == 0,
	    "%s differs from %s; got:\n%s", name, want_path, (char *)got.data);
	free(want);
	free(okp);
	free(errp);
	buf_free(&err);
	buf_free(&got);
}

START_TEST(golden_files)
{
	const char *data = getenv("CONFIG_TEST_DATA");
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(chdir(data), 0);
	DIR *d = opendir(".");
	struct dirent *de;
	struct cfg_strlist names = { 0 };
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0) {
			names.v = xrealloc(names.v, (names.n + 1) * sizeof(char *));
			names.v[names.n++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	qsort(names.v, names.n, sizeof(char *), name_cmp);
	ck_assert_uint_ge(names.n, 4);
	for (size_t i = 0; i < names.n; i++) {
		golden_one(names.v[i], getenv("MUSTER_UPDATE_GOLDEN") != NULL);
		free(names.v[i]);
	}
	free(names.v);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	tcase_add_checked_fixture(tc, NULL, tmp_cleanup);
	tcase_add_test(tc, flags_set_fields);
	tcase_add_test(tc, go_flag_syntax);
	tcase_add_test(tc, help_flag_gives_usage);
	tcase_add_test(tc, files_override_and_append);
	tcase_add_test(tc, config_dir_in_name_order);
	tcase_add_test(tc, services_and_checks_kept_as_json);
	tcase_add_test(tc, defaults_match_consul);
	tcase_add_test(tc, dev_defaults);
	tcase_add_test(tc, server_dependent_defaults);
	tcase_add_test(tc, dump_round_trip);
	tcase_add_test(tc, equal_sees_every_change);
	tcase_add_test(tc, dump_input_errors);
	tcase_add_test(tc, resolve_addresses);
	tcase_add_test(tc, validate_command);
	tcase_add_test(tc, golden_files);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_add_suite(sr, config_errors_suite());
	srunner_add_suite(sr, lib_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
