#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_proc = "muster";
static enum log_level log_min = LOG_LVL_INFO;
static bool log_json;

static const char *const level_names[] = {
	[LOG_LVL_TRACE] = "trace", [LOG_LVL_DEBUG] = "debug",
	[LOG_LVL_INFO] = "info",   [LOG_LVL_WARN] = "warn",
	[LOG_LVL_ERROR] = "error",
};

void
log_init(const char *procname, enum log_level level, bool json)
{
	log_proc = procname;
	log_min = level;
	log_json = json;
}

void log_setproc(const char *procname) { log_proc = procname; }
void log_setlevel(enum log_level level) { log_min = level; }
enum log_level log_getlevel(void) { return log_min; }
void log_setjson(bool json) { log_json = json; }

const char *
log_level_name(enum log_level level)
{
	if (level > LOG_LVL_ERROR)
		return "unknown";
	return level_names[level];
}

int
log_level_parse(const char *s)
{
	static const struct { const char *name; enum log_level lvl; } t[] = {
		{"trace", LOG_LVL_TRACE}, {"debug", LOG_LVL_DEBUG},
		{"info", LOG_LVL_INFO},	  {"warn", LOG_LVL_WARN},
		{"warning", LOG_LVL_WARN}, {"err", LOG_LVL_ERROR},
		{"error", LOG_LVL_ERROR},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i].name) == 0)
			return (int)t[i].lvl;
	return -1;
}

/* JSON-escape into dst; the message is ours, but may quote peer input. */
static void
json_escape(char *dst, size_t dstlen, const char *src)
{
	size_t o = 0;
	for (; *src && o + 7 < dstlen; src++) {
		unsigned char c = (unsigned char)*src;
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(dst + o, dstlen - o, "\\u%04x", c);
		} else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

void
log_vmsg(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char msg[2048], ts[80];
	struct timespec now;
	struct tm tm;
	int saved = errno;

	if (level < log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum) {
		size_t l = strlen(msg);
		snprintf(msg + l, sizeof(msg) - l, ": %s", strerror(errnum));
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(now.tv_nsec / 1000000) % 1000);
	if (log_json) {
		char esc[4096];
		json_escape(esc, sizeof(esc), msg);
		fprintf(stderr,
		    "{\"@level\":\"%s\",\"@message\":\"%s\",\"@module\":\"%s\","
		    "\"@timestamp\":\"%s\"}\n",
		    level_names[level], esc, log_proc, ts);
	} else
		fprintf(stderr, "%s [%s] %s: %s\n", ts, level_names[level],
		    log_proc, msg);
	errno = saved;
}

#define LOG_FN(name, lvl, witherr)                                   \
	void name(const char *fmt, ...)                              \
	{                                                            \
		va_list ap;                                          \
		int e = errno;                                       \
		va_start(ap, fmt);                                   \
		log_vmsg(lvl, witherr ? e : 0, fmt, ap);             \
		va_end(ap);                                          \
	}

LOG_FN(log_trace, LOG_LVL_TRACE, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_error, LOG_LVL_ERROR, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int e = errno;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
