/* Vivaldi network coordinates, after serf's coordinate package
 * semantics (see vivaldi.h). */
#include "workers/gossip/vivaldi.h"
#include "lib/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VIV_ERROR_MAX 1.5
#define VIV_CE 0.25
#define VIV_CC 0.25
#define VIV_HEIGHT_MIN 10.0e-6
#define VIV_GRAVITY_RHO 150.0
#define VIV_ZERO 1.0e-6
#define VIV_MAX_RTT 10.0

void
gossip_coord_init(struct gossip_coord *c)
{
	memset(c, 0, sizeof(*c));
	c->error = VIV_ERROR_MAX;
	c->height = VIV_HEIGHT_MIN;
}

int
gossip_coord_valid(const struct gossip_coord *c)
{
	for (int i = 0; i < GOSSIP_COORD_DIM; i++)
		if (!isfinite(c->vec[i]))
			return 0;
	return isfinite(c->error) && isfinite(c->adjustment) &&
	    isfinite(c->height);
}

static double
raw_distance(const struct gossip_coord *a, const struct gossip_coord *b)
{
	double sum = 0;
	for (int i = 0; i < GOSSIP_COORD_DIM; i++) {
		double d = a->vec[i] - b->vec[i];
		sum += d * d;
	}
	return sqrt(sum) + a->height + b->height;
}

double
gossip_coord_distance(const struct gossip_coord *a,
    const struct gossip_coord *b)
{
	double dist = raw_distance(a, b);
	double adjusted = dist + a->adjustment + b->adjustment;
	return adjusted > 0.0 ? adjusted : dist;
}

/* Move c along the unit vector from other towards c by force. */
static void
apply_force(struct gossip_coord *c, double force,
    const struct gossip_coord *other, double (*rnd)(void *), void *arg)
{
	double unit[GOSSIP_COORD_DIM], mag = 0;
	for (int i = 0; i < GOSSIP_COORD_DIM; i++) {
		unit[i] = c->vec[i] - other->vec[i];
		mag += unit[i] * unit[i];
	}
	mag = sqrt(mag);
	double umag = mag;
	if (mag <= VIV_ZERO) {
		/* coincident: a random direction, and no height change */
		umag = 0;
		for (int i = 0; i < GOSSIP_COORD_DIM; i++) {
			unit[i] = rnd(arg) - 0.5;
			umag += unit[i] * unit[i];
		}
		umag = sqrt(umag);
		if (umag <= VIV_ZERO) {
			memset(unit, 0, sizeof(unit));
			unit[0] = 1.0;
			umag = 1.0;
		}
		mag = 0;
	}
	for (int i = 0; i < GOSSIP_COORD_DIM; i++)
		c->vec[i] += unit[i] / umag * force;
	if (mag > VIV_ZERO) {
		c->height = (c->height + other->height) * force / mag +
		    c->height;
		c->height = fmax(c->height, VIV_HEIGHT_MIN);
	}
}

void
gossip_vivaldi_init(struct gossip_vivaldi *v)
{
	memset(v, 0, sizeof(*v));
	gossip_coord_init(&v->coord);
}

void
gossip_vivaldi_free(struct gossip_vivaldi *v)
{
	for (size_t i = 0; i < v->npeers; i++)
		free(v->peers[i].name);
	free(v->peers);
	memset(v, 0, sizeof(*v));
}

/* Median of the last 3 RTT samples to this node. */
static double
latency_filter(struct gossip_vivaldi *v, const char *node, double rtt)
{
	struct gossip_vivaldi_peer *p = NULL;
	double sorted[GOSSIP_VIVALDI_FILTER];
	for (size_t i = 0; i < v->npeers && p == NULL; i++)
		if (strcmp(v->peers[i].name, node) == 0)
			p = &v->peers[i];
	if (p == NULL) {
		v->peers = xrealloc(v->peers, (v->npeers + 1) * sizeof(*p));
		p = &v->peers[v->npeers++];
		memset(p, 0, sizeof(*p));
		p->name = xstrdup(node);
	}
	if (p->n == GOSSIP_VIVALDI_FILTER) {
		memmove(p->samples, p->samples + 1,
		    (GOSSIP_VIVALDI_FILTER - 1) * sizeof(double));
		p->n--;
	}
	p->samples[p->n++] = rtt;
	memcpy(sorted, p->samples, p->n * sizeof(double));
	for (unsigned i = 1; i < p->n; i++)
		for (unsigned k = i; k > 0 && sorted[k - 1] > sorted[k]; k--) {
			double t = sorted[k];
			sorted[k] = sorted[k - 1];
			sorted[k - 1] = t;
		}
	return sorted[p->n / 2];
}

void
gossip_vivaldi_forget(struct gossip_vivaldi *v, const char *node)
{
	for (size_t i = 0; i < v->npeers; i++)
		if (strcmp(v->peers[i].name, node) == 0) {
			free(v->peers[i].name);
			v->peers[i] = v->peers[--v->npeers];
			return;
		}
}

int
gossip_vivaldi_update(struct gossip_vivaldi *v, const char *node,
    const struct gossip_coord *other, double rtt_s,
    double (*rnd)(void *), void *arg)
{
	struct gossip_coord *c = &v->coord;
	if (!gossip_coord_valid(other) || !(rtt_s >= 0) || rtt_s > VIV_MAX_RTT)
		return -EINVAL;
	double rtt = latency_filter(v, node, rtt_s);

	/* Vivaldi step, weighted by our confidence against theirs */
	double dist = gossip_coord_distance(c, other);
	if (rtt < VIV_ZERO)
		rtt = VIV_ZERO;
	double wrongness = fabs(dist - rtt) / rtt;
	double total = c->error + other->error;
	if (total < VIV_ZERO)
		total = VIV_ZERO;
	double weight = c->error / total;
	c->error = VIV_CE * weight * wrongness + c->error *
	    (1.0 - VIV_CE * weight);
	if (c->error > VIV_ERROR_MAX)
		c->error = VIV_ERROR_MAX;
	apply_force(c, VIV_CC * weight * (rtt - dist), other, rnd, arg);

	/* adjustment: half the mean residual over the window */
	v->adjustment[v->adj_index] = rtt - raw_distance(c, other);
	v->adj_index = (v->adj_index + 1) % GOSSIP_VIVALDI_WINDOW;
	double sum = 0;
	for (int i = 0; i < GOSSIP_VIVALDI_WINDOW; i++)
		sum += v->adjustment[i];
	c->adjustment = sum / (2.0 * GOSSIP_VIVALDI_WINDOW);

	/* gravity pulls towards the origin so the system does not drift */
	struct gossip_coord origin;
	gossip_coord_init(&origin);
	double g = gossip_coord_distance(&origin, c);
	apply_force(c, -1.0 * pow(g / VIV_GRAVITY_RHO, 2.0), &origin, rnd, arg);
	if (!gossip_coord_valid(c)) {
		v->resets++;
		gossip_coord_init(c);
	}
	return 0;
}
