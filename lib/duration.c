/*
 * Go's time.Duration parser and formatter (src/time/format.go), written
 * from the documented behaviour: the same accepted syntax, the same
 * overflow limits and the same output, so that what muster prints reads
 * back identically in Consul and the other way round.
 */
#include "lib/duration.h"

#include <errno.h>
#include <string.h>

#define DUR_MAX_U ((uint64_t)1 << 63)	/* |INT64_MIN| */

static const struct {
	const char *name;
	uint64_t ns;
} dur_units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 },	/* U+00B5 micro sign */
	{ "\xce\xbcs", 1000 },	/* U+03BC Greek small letter mu */
	{ "ms", 1000000 },
	{ "s", 1000000000 },
	{ "m", 60ull * 1000000000 },
	{ "h", 3600ull * 1000000000 },
};

/* Leading decimal digits into *v; -ERANGE past 2^63 as in Go's leadingInt. */
static int
lead_int(const char *s, size_t len, size_t *i, uint64_t *v)
{
	uint64_t x = 0;
	for (; *i < len && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
		if (x > DUR_MAX_U / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(s[*i] - '0');
		if (x > DUR_MAX_U)
			return -ERANGE;
	}
	*v = x;
	return 0;
}

/*
 * Fraction digits as Go's leadingFraction: digits past what fits are
 * dropped rather than overflowing; scale is 10^(digits kept).
 */
static void
lead_frac(const char *s, size_t len, size_t *i, uint64_t *f, double *scale)
{
	uint64_t x = 0;
	double sc = 1;
	int overflow = 0;
	for (; *i < len && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
		if (overflow)
			continue;
		if (x > (DUR_MAX_U - 1) / 10) {
			overflow = 1;
			continue;
		}
		uint64_t y = x * 10 + (uint64_t)(s[*i] - '0');
		if (y > DUR_MAX_U) {
			overflow = 1;
			continue;
		}
		x = y;
		sc *= 10;
	}
	*f = x;
	*scale = sc;
}

static int
unit_lookup(const char *s, size_t len, size_t *i, uint64_t *unit)
{
	size_t start = *i;
	while (*i < len && s[*i] != '.' && (s[*i] < '0' || s[*i] > '9'))
		(*i)++;
	size_t n = *i - start;
	if (n == 0)
		return -EINVAL;	/* missing unit */
	for (size_t k = 0; k < sizeof(dur_units) / sizeof(dur_units[0]); k++)
		if (strlen(dur_units[k].name) == n &&
		    memcmp(dur_units[k].name, s + start, n) == 0) {
			*unit = dur_units[k].ns;
			return 0;
		}
	return -EINVAL;
}

/* One "<number><unit>" component, added to *d. */
static int
parse_component(const char *s, size_t len, size_t *i, uint64_t *d)
{
	uint64_t v = 0, f = 0, unit;
	double scale = 1;
	size_t pl = *i;
	int r;

	if (*i >= len || !(s[*i] == '.' || (s[*i] >= '0' && s[*i] <= '9')))
		return -EINVAL;
	if ((r = lead_int(s, len, i, &v)) < 0)
		return r;
	int pre = *i != pl, post = 0;
	if (*i < len && s[*i] == '.') {
		(*i)++;
		size_t fl = *i;
		lead_frac(s, len, i, &f, &scale);
		post = *i != fl;
	}
	if (!pre && !post)
		return -EINVAL;	/* no digits, e.g. ".s" */
	if ((r = unit_lookup(s, len, i, &unit)) < 0)
		return r;
	if (v > DUR_MAX_U / unit)
		return -ERANGE;
	v *= unit;
	if (f > 0) {
		/* Go computes the fraction in float64; so do we. */
		v += (uint64_t)((double)f * ((double)unit / scale));
		if (v > DUR_MAX_U)
			return -ERANGE;
	}
	*d += v;
	if (*d > DUR_MAX_U)
		return -ERANGE;
	return 0;
}

int
duration_parse(const char *s, size_t len, int64_t *ns)
{
	uint64_t d = 0;
	size_t i = 0;
	int neg = 0, r;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i++;
	}
	if (len - i == 1 && s[i] == '0') {
		*ns = 0;
		return 0;
	}
	if (i == len)
		return -EINVAL;
	while (i < len)
		if ((r = parse_component(s, len, &i, &d)) < 0)
			return r;
	if (neg) {
		*ns = d == DUR_MAX_U ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > DUR_MAX_U - 1)
		return -ERANGE;
	*ns = (int64_t)d;
	return 0;
}

/*
 * Go's fmtFrac: the low prec digits of v as ".ddd" without trailing
 * zeros (nothing at all when they are all zero), written backwards
 * ending at buf[w]; returns the new start and leaves v / 10^prec.
 */
static size_t
fmt_frac(char *buf, size_t w, uint64_t *v, int prec)
{
	int print = 0;
	for (int i = 0; i < prec; i++) {
		unsigned digit = (unsigned)(*v % 10);
		print = print || digit != 0;
		if (print)
			buf[--w] = (char)('0' + digit);
		*v /= 10;
	}
	if (print)
		buf[--w] = '.';
	return w;
}

static size_t
fmt_int(char *buf, size_t w, uint64_t v)
{
	if (v == 0)
		buf[--w] = '0';
	while (v > 0) {
		buf[--w] = (char)('0' + v % 10);
		v /= 10;
	}
	return w;
}

void
duration_format(int64_t ns, char *out, size_t outlen)
{
	char buf[DURATION_STRLEN];
	size_t w = sizeof(buf);
	int neg = ns < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	buf[--w] = '\0';
	if (u < 1000000000) {
		/* Below one second Go switches to the smallest fitting unit. */
		int prec;
		buf[--w] = 's';
		if (u == 0) {
			buf[--w] = '0';
			goto done;
		} else if (u < 1000) {
			prec = 0;
			buf[--w] = 'n';
		} else if (u < 1000000) {
			prec = 3;
			buf[--w] = '\xb5';
			buf[--w] = '\xc2';
		} else {
			prec = 6;
			buf[--w] = 'm';
		}
		w = fmt_frac(buf, w, &u, prec);
		w = fmt_int(buf, w, u);
	} else {
		buf[--w] = 's';
		w = fmt_frac(buf, w, &u, 9);
		w = fmt_int(buf, w, u % 60);
		u /= 60;
		if (u > 0) {
			buf[--w] = 'm';
			w = fmt_int(buf, w, u % 60);
			u /= 60;
			if (u > 0) {
				buf[--w] = 'h';
				w = fmt_int(buf, w, u);
			}
		}
	}
done:
	if (neg)
		buf[--w] = '-';
	if (outlen == 0)
		return;
	size_t n = sizeof(buf) - 1 - w;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, buf + w, n);
	out[n] = '\0';
}
