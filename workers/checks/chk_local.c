/*
 * The agent-local registry: Consul's agent/local.State plus the parts of
 * agent/agent.go that add and remove services and checks (AddService,
 * addCheck, RemoveService, RemoveCheck, updateTTLCheck, maintenance).
 * Messages are Consul's; the status each error becomes on the HTTP API is
 * carried by the errno (schema_agent.h).
 */
#include "workers/checks/chk.h"
#include "lib/duration.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Hard caps on what clients can register (CONVENTIONS: every
 * client-controlled resource is bounded); far beyond real agents. */
#define MAX_SERVICES 65536
#define MAX_CHECKS 65536

#define NODE_MAINT_ID "_node_maintenance"
#define SERVICE_MAINT_PREFIX "_service_maintenance:"
#define NODE_MAINT_REASON "Maintenance mode is enabled for this node, but " \
	"no reason was provided. This is a default message."
#define SERVICE_MAINT_REASON "Maintenance mode is enabled for this service, " \
	"but no reason was provided. This is a default message."

void
chk_tuning_default(struct chk_tuning *t)
{
	t->min_interval = DURATION_S;
	t->dereg_min = DURATION_M;
	t->reap_interval = 30 * DURATION_S;
	t->alias_refresh = DURATION_M;
	t->stagger = true;
	t->ae_interval = DURATION_M;
	t->ae_retry = 15 * DURATION_S;
	t->ae_server_up = 3 * DURATION_S;
}

static int
svc_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return strcmp(avl_entry(a, struct chk_service, node)->id,
	    avl_entry(b, struct chk_service, node)->id);
}

static int
svc_key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct chk_service, node)->id);
}

static int
chk_cmp(const struct avl_node *a, const struct avl_node *b)
{
	return strcmp(avl_entry(a, struct chk_check, node)->id,
	    avl_entry(b, struct chk_check, node)->id);
}

static int
chk_key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct chk_check, node)->id);
}

static void
set_config(struct chk_state *st, const struct chk_config *cfg)
{
	free(st->node_name);
	free(st->data_dir);
	st->cfg = *cfg;
	st->node_name = xstrdup(cfg->node_name ? cfg->node_name : "");
	st->data_dir = xstrdup(cfg->data_dir ? cfg->data_dir : "");
	st->cfg.node_name = st->node_name;
	st->cfg.data_dir = st->data_dir;
}

void
chk_state_init(struct chk_state *st, struct ev_loop *loop,
    const struct chk_config *cfg, const struct chk_tuning *tun)
{
	memset(st, 0, sizeof(*st));
	st->loop = loop;
	set_config(st, cfg);
	if (tun)
		st->tun = *tun;
	else
		chk_tuning_default(&st->tun);
	avl_init(&st->services, svc_cmp);
	avl_init(&st->checks, chk_cmp);
}

void
chk_state_reconfig(struct chk_state *st, const struct chk_config *cfg)
{
	set_config(st, cfg);
}

struct chk_service *
chk_service_find(const struct chk_state *st, const char *id)
{
	struct avl_node *n = avl_find(&st->services, id, svc_key_cmp);
	return n ? avl_entry(n, struct chk_service, node) : NULL;
}

struct chk_check *
chk_check_find(const struct chk_state *st, const char *id)
{
	struct avl_node *n = avl_find(&st->checks, id, chk_key_cmp);
	return n ? avl_entry(n, struct chk_check, node) : NULL;
}

size_t
chk_service_count(const struct chk_state *st)
{
	return st->services.count;
}

size_t
chk_check_count(const struct chk_state *st)
{
	return st->checks.count;
}

size_t
chk_count_kind(const struct chk_state *st, enum chk_kind k)
{
	size_t n = 0;
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a))
		n += avl_entry(a, struct chk_check, node)->kind == k;
	return n;
}

bool
chk_applies_to(const struct chk_check *c, const char *service_id)
{
	return c->service_id[0] == '\0' || strcmp(c->service_id,
	    service_id) == 0;
}

static void
check_free(struct chk_check *c)
{
	free(c->id);
	free(c->name);
	free(c->notes);
	free(c->service_id);
	free(c->output);
	free(c->interval_text);
	free(c->timeout_text);
	if (c->has_def)
		chk_def_free(&c->def);
	free(c);
}

/* Unlink and free a check: runner stopped, sync told, file purged. */
static void
check_drop(struct chk_state *st, struct chk_check *c, bool purge)
{
	chk_run_stop(st, c);
	chk_sync_forget(st, c);
	avl_remove(&st->checks, &c->node);
	if (purge)		/* the definition if persisted, TTL state anyway */
		chk_purge_check(st, c->id);
	chk_sync_deleted(st, false, c->id, c->service_id);
	chk_alias_touch(st, c);
	check_free(c);
}

void
chk_state_start(struct chk_state *st)
{
	st->running = true;
	chk_run_global(st, true);
	for (struct avl_node *a = avl_first(&st->checks); a; a = avl_next(a))
		chk_run_start(st, avl_entry(a, struct chk_check, node));
}

void
chk_state_free(struct chk_state *st)
{
	struct avl_node *a;
	bool was_running = st->running;
	chk_ae_stop(st);	/* nothing more goes to the catalog */
	st->running = false;
	while ((a = avl_first(&st->checks)) != NULL)
		check_drop(st, avl_entry(a, struct chk_check, node), false);
	while ((a = avl_first(&st->services)) != NULL) {
		avl_remove(&st->services, a);
		chk_service_free(avl_entry(a, struct chk_service, node));
	}
	if (was_running)
		chk_run_global(st, false);
	chk_sync_members_free(st);
	chk_sync_tombs_free(st);
	free(st->node_name);
	free(st->data_dir);
	free(st->local_dir);
	st->node_name = st->data_dir = st->local_dir = NULL;
}

/* ---- adding ---- */

/* Agent.addCheck's refusals: script checks per source, and the types this
 * agent cannot run. */
static int
check_allowed(struct chk_state *st, const struct chk_def *d,
    enum chk_source src, struct buf *err)
{
	enum chk_kind k = chk_def_kind(d);
	if (d->nargs > 0 && src == CHK_SRC_LOCAL &&
	    !st->cfg.enable_local_script_checks) {
		buf_addstr(err, "Scripts are disabled on this agent; to enable, "
		    "configure 'enable_script_checks' or "
		    "'enable_local_script_checks' to true");
		return -EPERM;
	}
	if (d->nargs > 0 && src == CHK_SRC_REMOTE &&
	    !st->cfg.enable_script_checks) {
		buf_addstr(err, "Scripts are disabled on this agent from remote "
		    "calls; to enable, configure 'enable_script_checks' to "
		    "true");
		return -EPERM;
	}
	if (k == CHK_K_DOCKER || k == CHK_K_OSSERVICE) {
		buf_printf(err, "%s checks are not supported by this agent",
		    chk_kind_name(k));
		return -ENOTSUP;
	}
	return 0;
}

static char *
dur_text(int64_t ns, bool zero_empty)
{
	char t[DURATION_STRLEN];
	if (ns == 0 && zero_empty)
		return xstrdup("");
	duration_format(ns, t, sizeof(t));
	return xstrdup(t);
}

/*
 * A check object from a definition.  Service checks (svc set) get
 * Consul's default ID and name (Agent.addServiceInternal) and "" for
 * zero durations; standalone ones Go's Duration.String() ("0s").
 */
static struct chk_check *
check_new(struct chk_state *st, struct chk_def *d,
    const struct chk_service *svc, size_t idx, size_t n, enum chk_source src)
{
	struct chk_check *c = xcalloc(1, sizeof(*c));
	enum chk_status s = CHK_CRITICAL;
	c->st = st;
	c->def = *d;
	memset(d, 0, sizeof(*d));
	c->has_def = true;
	c->kind = chk_def_kind(&c->def);
	if (svc) {
		free(c->def.service_id);
		c->def.service_id = xstrdup(svc->id);
		if (c->def.id[0] == '\0') {
			free(c->def.id);
			c->def.id = n > 1 ? xasprintf("service:%s:%zu", svc->id,
			    idx + 1) : xasprintf("service:%s", svc->id);
		}
		if (c->def.name[0] == '\0') {
			free(c->def.name);
			c->def.name = xasprintf("Service '%s' check", svc->name);
		}
	} else if (c->def.id[0] == '\0') {
		free(c->def.id);
		c->def.id = xstrdup(c->def.name);
	}
	c->id = xstrdup(c->def.id);
	c->name = xstrdup(c->def.name);
	c->notes = xstrdup(c->def.notes);
	c->service_id = xstrdup(c->def.service_id);
	c->interval_text = dur_text(c->def.interval, svc != NULL);
	c->timeout_text = dur_text(c->def.timeout, svc != NULL);
	if (c->def.status[0])
		chk_status_parse(c->def.status, &s);
	c->status = s;
	c->output = xstrdup("");
	c->source = src;
	c->reap_after_ns = c->def.deregister_after;
	if (c->reap_after_ns > 0 && c->reap_after_ns < st->tun.dereg_min) {
		log_warnx("check %s has deregister interval below minimum of "
		    "%lld s", c->id, (long long)(st->tun.dereg_min / DURATION_S));
		c->reap_after_ns = st->tun.dereg_min;
	}
	return c;
}

/* Put c in place of any check with its ID, keeping that one's status and
 * output (Agent.addCheckLocked snapshots them against flapping). */
static void
check_install(struct chk_state *st, struct chk_check *c)
{
	struct chk_check *old = chk_check_find(st, c->id);
	if (old) {
		c->status = old->status;
		free(c->output);
		c->output = xstrdup(old->output);
		c->critical_since_ms = old->critical_since_ms;
		chk_run_stop(st, old);
		chk_sync_forget(st, old);
		avl_remove(&st->checks, &old->node);
		check_free(old);
	} else if (c->status == CHK_CRITICAL)
		c->critical_since_ms = mono_ms();
	c->gen = st->gen;
	avl_insert(&st->checks, &c->node);
	chk_sync_check(st, c, false);
	if (st->running)
		chk_run_start(st, c);
	chk_alias_touch(st, c);
}

/* lan_ipv4/wan_ipv4 (or the ipv6 pair) default to Address and Port
 * (Agent.addServiceInternal); a given lan_ipv4 must be IPv4 (validateService). */
static int
service_taddrs(struct chk_service *s, struct buf *err)
{
	struct in6_addr a6;
	struct in_addr a4;
	bool v4 = inet_pton(AF_INET, s->address, &a4) == 1;
	bool v6 = !v4 && inet_pton(AF_INET6, s->address, &a6) == 1;
	const char *keys[2] = { v4 ? "lan_ipv4" : "lan_ipv6",
		v4 ? "wan_ipv4" : "wan_ipv6" };

	for (size_t i = 0; i < s->ntaddrs; i++) {
		struct chk_taddr *t = &s->taddrs[i];
		bool want4 = strcmp(t->key, "lan_ipv4") == 0 ||
		    strcmp(t->key, "wan_ipv4") == 0;
		bool want6 = strcmp(t->key, "lan_ipv6") == 0;
		if ((want4 && inet_pton(AF_INET, t->address, &a4) != 1) ||
		    (want6 && inet_pton(AF_INET6, t->address, &a6) != 1)) {
			buf_printf(err, "Service tagged address \"%s\" must be "
			    "a valid %s address", t->key, want4 ? "ipv4" :
			    "ipv6");
			return -EIO;
		}
	}
	for (size_t k = 0; (v4 || v6) && k < 2; k++) {
		bool have = false;
		for (size_t i = 0; i < s->ntaddrs; i++)
			have |= strcmp(s->taddrs[i].key, keys[k]) == 0;
		if (have)
			continue;
		s->taddrs = xrealloc(s->taddrs, (s->ntaddrs + 1) *
		    sizeof(*s->taddrs));
		s->taddrs[s->ntaddrs].key = xstrdup(keys[k]);
		s->taddrs[s->ntaddrs].address = xstrdup(s->address);
		s->taddrs[s->ntaddrs++].port = s->port;
	}
	/* keep the key order */
	for (size_t i = 1; i < s->ntaddrs; i++)
		for (size_t k = i; k > 0 && strcmp(s->taddrs[k - 1].key,
		    s->taddrs[k].key) > 0; k--) {
			struct chk_taddr t = s->taddrs[k];
			s->taddrs[k] = s->taddrs[k - 1];
			s->taddrs[k - 1] = t;
		}
	return 0;
}

/* Agent.validateService: ID defaults to Name, Weights to {1, 1}. */
static int
service_prepare(struct chk_state *st, struct chk_service_def *d,
    enum chk_source src, struct buf *err)
{
	struct chk_service *s = d->svc;
	int r;
	if (s->name[0] == '\0') {
		buf_addstr(err, "Service name missing");
		return -EINVAL;
	}
	if (s->id[0] == '\0') {
		free(s->id);
		s->id = xstrdup(s->name);
	}
	if (!s->weights_set) {
		s->w_passing = 1;
		s->w_warning = 1;
	}
	for (size_t i = 0; i < d->nchecks; i++) {
		buf_addstr(err, "Check is not valid: ");
		if (chk_def_validate(&d->checks[i], err) < 0)
			return -EINVAL;
		buf_reset(err);
		if ((r = check_allowed(st, &d->checks[i], src, err)) < 0)
			return r;
	}
	for (const char *p = s->name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-')) {
			log_warnx("service name %s will not be discoverable via "
			    "DNS due to invalid characters", s->name);
			break;
		}
	return service_taddrs(s, err);
}

static void
service_install(struct chk_state *st, struct chk_service *s)
{
	struct chk_service *old = chk_service_find(st, s->id);
	if (old) {
		avl_remove(&st->services, &old->node);
		chk_service_free(old);
	}
	s->gen = st->gen;
	avl_insert(&st->services, &s->node);
	chk_sync_service(st, s);
	if (st->service_changed)
		st->service_changed(st, s->id);
}

/* Persist before changing anything, so a failed write changes nothing. */
static int
persist_all(struct chk_state *st, struct chk_service *s,
    struct chk_check **cs, size_t n, struct buf *err)
{
	int r = chk_persist_service(st, s);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = chk_persist_check(st, cs[i]);
	if (r < 0) {
		buf_printf(err, "failed to persist service %s: %s", s->id,
		    chk_errstr(-r, (char[128]){ 0 }));
		return -EIO;
	}
	s->persisted = st->local_dir != NULL;
	for (size_t i = 0; i < n; i++)
		cs[i]->persisted = s->persisted;
	return 0;
}

int
chk_add_service(struct chk_state *st, struct chk_service_def *d,
    enum chk_source src, bool replace_existing_checks, bool persist,
    struct buf *err)
{
	struct chk_check **cs = NULL;
	struct chk_service *s = d->svc;
	size_t n = d->nchecks;
	int r;

	if (st->services.count >= MAX_SERVICES && !chk_service_find(st,
	    s->id[0] ? s->id : s->name)) {
		buf_printf(err, "too many services on this agent (limit %d)",
		    MAX_SERVICES);
		r = -ENOSPC;
		goto fail;
	}
	if (st->checks.count + n > MAX_CHECKS) {
		buf_printf(err, "too many checks on this agent (limit %d)",
		    MAX_CHECKS);
		r = -ENOSPC;
		goto fail;
	}
	if ((r = service_prepare(st, d, src, err)) < 0)
		goto fail;
	s->source = src;
	cs = xcalloc(n + 1, sizeof(*cs));
	for (size_t i = 0; i < n; i++)
		cs[i] = check_new(st, &d->checks[i], s, i, n, src);
	if (persist && st->local_dir &&
	    (r = persist_all(st, s, cs, n, err)) < 0) {
		for (size_t i = 0; i < n; i++)
			check_free(cs[i]);
		goto fail;
	}
	d->svc = NULL;
	service_install(st, s);
	for (size_t i = 0; i < n; i++)
		check_install(st, cs[i]);
	if (replace_existing_checks) {
		struct avl_node *a = avl_first(&st->checks), *next;
		for (; a; a = next) {
			struct chk_check *c = avl_entry(a, struct chk_check, node);
			bool keep = strcmp(c->service_id, s->id) != 0;
			next = avl_next(a);
			for (size_t i = 0; i < n && !keep; i++)
				keep = c == cs[i];
			if (!keep)
				check_drop(st, c, true);
		}
	}
	free(cs);
	chk_service_def_free(d);
	return 0;
fail:
	free(cs);
	chk_service_def_free(d);
	return r;
}

int
chk_add_check(struct chk_state *st, struct chk_def *def,
    enum chk_source src, bool persist, struct buf *err)
{
	struct chk_check *c;
	int r;

	if (def->service_id[0] && !chk_service_find(st, def->service_id)) {
		buf_printf(err, "ServiceID \"%s\" does not exist",
		    def->service_id);
		chk_def_free(def);
		return -ENOENT;
	}
	if ((r = chk_def_validate(def, err)) < 0 ||
	    (r = check_allowed(st, def, src, err)) < 0) {
		chk_def_free(def);
		return r;
	}
	if (st->checks.count >= MAX_CHECKS) {
		buf_printf(err, "too many checks on this agent (limit %d)",
		    MAX_CHECKS);
		chk_def_free(def);
		return -ENOSPC;
	}
	c = check_new(st, def, NULL, 0, 1, src);
	if (persist && st->local_dir) {
		if ((r = chk_persist_check(st, c)) < 0) {
			buf_printf(err, "failed to persist check %s: %s", c->id,
			    chk_errstr(-r, (char[128]){ 0 }));
			check_free(c);
			return -EIO;
		}
		c->persisted = true;
	}
	check_install(st, c);
	return 0;
}

/* ---- removing and updating ---- */

int
chk_remove_service(struct chk_state *st, const char *id, bool purge,
    struct buf *err)
{
	struct chk_service *s = chk_service_find(st, id);
	struct avl_node *a, *next;
	if (s == NULL) {
		buf_printf(err, "Unknown service ID \"%s\". Ensure that the "
		    "service ID is passed, not the service name.", id);
		return -ENOENT;
	}
	for (a = avl_first(&st->checks); a; a = next) {
		struct chk_check *c = avl_entry(a, struct chk_check, node);
		next = avl_next(a);
		if (strcmp(c->service_id, id) == 0)
			check_drop(st, c, purge);
	}
	avl_remove(&st->services, &s->node);
	if (purge && s->persisted)
		chk_purge_service(st, s->id);
	chk_sync_deleted(st, true, s->id, NULL);
	if (st->service_changed)
		st->service_changed(st, s->id);
	chk_service_free(s);
	chk_alias_touch(st, NULL);
	return 0;
}

int
chk_remove_check(struct chk_state *st, const char *id, bool purge,
    struct buf *err)
{
	struct chk_check *c = chk_check_find(st, id);
	if (c == NULL) {
		buf_printf(err, "Unknown check ID \"%s\". Ensure that the check "
		    "ID is passed, not the check name.", id);
		return -ENOENT;
	}
	check_drop(st, c, purge);
	return 0;
}

int
chk_ttl_update(struct chk_state *st, const char *id, enum chk_status status,
    const char *output, struct buf *err)
{
	struct chk_check *c = chk_check_find(st, id);
	char *capped;
	if (c == NULL) {
		buf_printf(err, "Unknown check ID \"%s\". Ensure that the check "
		    "ID is passed, not the check name.", id);
		return -ENOENT;
	}
	if (c->kind != CHK_K_TTL) {
		buf_printf(err, "CheckID \"%s\" does not have associated TTL",
		    id);
		return -EIO;
	}
	capped = chk_output_ttl(output, chk_output_max(st, &c->def));
	chk_run_ttl_set(st, c, status, capped);
	if (c->persisted || st->local_dir)
		chk_persist_ttl_state(st, c, c->def.ttl);
	free(capped);
	return 0;
}

void
chk_update(struct chk_state *st, struct chk_check *c, enum chk_status status,
    const char *output)
{
	bool output_only;
	if (status == CHK_CRITICAL) {
		if (c->critical_since_ms == 0)
			c->critical_since_ms = mono_ms();
	} else
		c->critical_since_ms = 0;
	if (c->status == status && strcmp(c->output, output) == 0)
		return;
	output_only = c->status == status;
	if (!output_only)
		log_debug("check %s is now %s", c->id, chk_status_name(status));
	c->status = status;
	free(c->output);
	c->output = xstrdup(output);
	chk_sync_check(st, c, output_only);
	chk_alias_touch(st, c);
}

/* A maintenance check: no runner, critical, persisted with the agent's
 * other registrations (Agent.EnableNodeMaintenance). */
static int
maint_add(struct chk_state *st, const char *id, const char *name,
    const char *reason, const struct chk_service *svc)
{
	struct chk_check *c = xcalloc(1, sizeof(*c));
	c->st = st;
	c->id = xstrdup(id);
	c->name = xstrdup(name);
	c->notes = xstrdup(reason);
	c->service_id = xstrdup(svc ? svc->id : "");
	c->status = CHK_CRITICAL;
	c->output = xstrdup("");
	c->interval_text = xstrdup("");
	c->timeout_text = xstrdup("");
	c->source = CHK_SRC_LOCAL;
	if (st->local_dir && chk_persist_check(st, c) == 0)
		c->persisted = true;
	check_install(st, c);
	return 0;
}

int
chk_maintenance(struct chk_state *st, const char *service_id, bool enable,
    const char *reason, struct buf *err)
{
	struct chk_service *s = NULL;
	char *id;
	int r = 0;

	if (service_id) {
		if ((s = chk_service_find(st, service_id)) == NULL) {
			buf_printf(err, "Unknown service ID \"%s\". Ensure that "
			    "the service ID is passed, not the service name.",
			    service_id);
			return -ENOENT;
		}
		id = xasprintf(SERVICE_MAINT_PREFIX "%s", s->id);
	} else
		id = xstrdup(NODE_MAINT_ID);
	if (enable && chk_check_find(st, id) == NULL) {
		if (reason == NULL || reason[0] == '\0')
			reason = s ? SERVICE_MAINT_REASON : NODE_MAINT_REASON;
		r = maint_add(st, id, s ? "Service Maintenance Mode" :
		    "Node Maintenance Mode", reason, s);
		log_info("%s entered maintenance mode", s ? s->id : "node");
	} else if (!enable && chk_check_find(st, id) != NULL) {
		r = chk_remove_check(st, id, true, err);
		log_info("%s left maintenance mode", s ? s->id : "node");
	}
	free(id);
	return r;
}
