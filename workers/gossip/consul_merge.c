/* Consul's LAN/WAN merge checks; see consul_merge.h. */
#include "workers/gossip/consul_merge.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* strconv.Atoi: optional sign, decimal digits, nothing else. */
static bool
atoi_ok(const char *s)
{
	if (s == NULL)
		return false;
	if (*s == '+' || *s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* The first \d+\.\d+\.\d+ of the build tag, as three numbers. */
static bool
build_version(const struct gossip_member *m, long v[3])
{
	const char *b = gossip_member_tag(m, "build");
	for (const char *p = b; p && *p; p++) {
		char *end;
		if (!isdigit((unsigned char)*p) ||
		    (p > b && isdigit((unsigned char)p[-1])))
			continue;
		v[0] = strtol(p, &end, 10);
		if (*end != '.' || !isdigit((unsigned char)end[1]))
			continue;
		v[1] = strtol(end + 1, &end, 10);
		if (*end != '.' || !isdigit((unsigned char)end[1]))
			continue;
		v[2] = strtol(end + 1, &end, 10);
		return true;
	}
	return false;
}

bool
gossip_consul_is_server(const struct gossip_member *m)
{
	static const char *const optional[] = { "expect", "wan_join_port",
		"raft_vsn", "grpc_port", "grpc_tls_port" };
	const char *role = gossip_member_tag(m, "role");
	long v[3];
	if (role == NULL || strcmp(role, "consul") != 0)
		return false;
	if (!atoi_ok(gossip_member_tag(m, "port")) ||
	    !atoi_ok(gossip_member_tag(m, "vsn")) || !build_version(m, v))
		return false;
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		const char *t = gossip_member_tag(m, optional[i]);
		if (t != NULL && !atoi_ok(t))
			return false;
	}
	return true;
}

static const char *
tag_or_empty(const struct gossip_member *m, const char *k)
{
	const char *v = gossip_member_tag(m, k);
	return v ? v : "";
}

static int
check_ids(const struct gossip_consul_merge *md,
    const struct gossip_member *ms, size_t n, size_t i, char *why,
    size_t whylen)
{
	const char *id = gossip_member_tag(&ms[i], "id");
	long v[3];
	if (id == NULL || id[0] == '\0')
		return 0;
	if (strcmp(id, md->node_id) == 0 &&
	    strcasecmp(ms[i].name, md->node_name) != 0) {
		snprintf(why, whylen, "Member '%s' has conflicting node ID "
		    "'%s' with this agent's ID", ms[i].name, id);
		return -1;
	}
	for (size_t k = 0; k < i; k++) {
		const char *other = gossip_member_tag(&ms[k], "id");
		/* only members that took part (0.8.5+) count */
		if (other == NULL || strcmp(other, id) != 0 ||
		    !build_version(&ms[k], v) ||
		    (v[0] == 0 && (v[1] < 8 || (v[1] == 8 && v[2] < 5))))
			continue;
		snprintf(why, whylen, "Member '%s' has conflicting node ID "
		    "'%s' with member '%s'", ms[i].name, id, ms[k].name);
		return -1;
	}
	return 0;
}

int
gossip_consul_merge(void *arg, const struct gossip_member *ms, size_t n,
    char *why, size_t whylen)
{
	const struct gossip_consul_merge *md = arg;
	for (size_t i = 0; i < n; i++) {
		const struct gossip_member *m = &ms[i];
		if (md->wan) {
			if (!gossip_consul_is_server(m)) {
				snprintf(why, whylen, "Member '%s' is not a "
				    "server", m->name);
				return -1;
			}
			continue;
		}
		if (check_ids(md, ms, n, i, why, whylen) < 0)
			return -1;
		const char *role = tag_or_empty(m, "role");
		bool node = strcmp(role, "node") == 0;
		if ((node || gossip_consul_is_server(m)) &&
		    strcmp(tag_or_empty(m, "dc"), md->dc) != 0) {
			snprintf(why, whylen, "Member '%s' part of wrong "
			    "datacenter '%s'", m->name, tag_or_empty(m, "dc"));
			return -1;
		}
		if (strcmp(tag_or_empty(m, "segment"), md->segment) != 0) {
			snprintf(why, whylen, "Member '%s' part of wrong segment "
			    "'%s' (expected '%s')", m->name,
			    tag_or_empty(m, "segment"), md->segment);
			return -1;
		}
	}
	return 0;
}
