/*
 * Status thresholds and output capping, as Consul's agent/checks does
 * them (check.go: StatusHandler, circbuf outputs, CheckTTL.SetStatus).
 */
#include "workers/checks/chk.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = { "passing", "warning",
	"critical" };

const char *
chk_status_name(enum chk_status s)
{
	return (unsigned)s < nitems(status_names) ? status_names[s] :
	    "critical";
}

int
chk_status_parse(const char *s, enum chk_status *out)
{
	for (size_t i = 0; i < nitems(status_names); i++)
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum chk_status)i;
			return 0;
		}
	return -EINVAL;
}

/*
 * NewStatusHandler: failures_before_warning defaults to
 * failures_before_critical (Agent.addCheck), and both counters start at
 * their thresholds.
 */
void
chk_thresh_init(struct chk_thresh *t, const struct chk_def *d)
{
	t->succ_before_passing = d->success_before_passing;
	t->fail_before_critical = d->failures_before_critical;
	t->fail_before_warning = d->failures_before_warning ?
	    d->failures_before_warning : d->failures_before_critical;
	t->succ = t->succ_before_passing;
	t->fail = t->fail_before_critical;
}

/*
 * StatusHandler.updateCheck: passing and warning count as successes;
 * a failure below failures_before_critical but at or above
 * failures_before_warning reports warning.
 */
bool
chk_thresh_feed(struct chk_thresh *t, enum chk_status got,
    enum chk_status *out)
{
	if (got != CHK_CRITICAL) {
		t->succ++;
		t->fail = 0;
		if (t->succ < t->succ_before_passing)
			return false;
		*out = got;
		return true;
	}
	t->fail++;
	t->succ = 0;
	if (t->fail >= t->fail_before_critical) {
		*out = CHK_CRITICAL;
		return true;
	}
	if (t->fail >= t->fail_before_warning) {
		*out = CHK_WARNING;
		return true;
	}
	return false;
}

/* Agent.addCheck: check_output_max_size, lowered by output_max_size. */
size_t
chk_output_max(const struct chk_state *st, const struct chk_def *d)
{
	size_t max = st->cfg.output_max > 0 ? (size_t)st->cfg.output_max :
	    4096;
	if (d && d->output_max_size > 0 && (size_t)d->output_max_size < max)
		max = (size_t)d->output_max_size;
	return max;
}

void
chk_ring_init(struct chk_ring *r, size_t cap)
{
	r->cap = cap ? cap : 1;
	r->p = xmalloc(r->cap);
	r->start = r->len = 0;
	r->total = 0;
}

void
chk_ring_free(struct chk_ring *r)
{
	free(r->p);
	r->p = NULL;
}

void
chk_ring_write(struct chk_ring *r, const void *p, size_t n)
{
	const uint8_t *s = p;
	r->total += n;
	if (n >= r->cap) {
		memcpy(r->p, s + n - r->cap, r->cap);
		r->start = 0;
		r->len = r->cap;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t at = (r->start + r->len) % r->cap;
		r->p[at] = s[i];
		if (r->len < r->cap)
			r->len++;
		else
			r->start = (r->start + 1) % r->cap;
	}
}

void
chk_ring_get(const struct chk_ring *r, struct buf *out)
{
	size_t first = MIN(r->len, r->cap - r->start);
	buf_add(out, r->p + r->start, first);
	buf_add(out, r->p, r->len - first);
}

/* CheckMonitor's truncateAndLogOutput. */
void
chk_output_script(const struct chk_ring *r, struct buf *out)
{
	if (r->total > r->len)
		buf_printf(out, "Captured %zu of %llu bytes\n...\n", r->len,
		    (unsigned long long)r->total);
	chk_ring_get(r, out);
}

/* CheckTTL.SetStatus. */
char *
chk_output_ttl(const char *output, size_t max)
{
	size_t total = strlen(output);
	if (total <= max)
		return xstrdup(output);
	return xasprintf("%.*s ... (captured %zu of %zu bytes)", (int)max,
	    output, max, total);
}

const char *
chk_errstr(int e, char buf[128])
{
	snprintf(buf, 128, "%s", strerror(e));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}
