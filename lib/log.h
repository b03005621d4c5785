/*
 * Logging, after OpenBSD's log.c: six functions, every line tagged with the
 * process name.  Library layers (ipc/, proto/, storage) log at debug at most
 * and return negative errno; their callers log once.
 *
 * fatal()/fatalx() are for start-up paths and broken invariants between our
 * own processes only; bad network input is log_warnx() + drop + a counter.
 */
#ifndef MUSTER_LOG_H
#define MUSTER_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LVL_TRACE = 0,
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERROR,
};

void log_init(const char *procname, enum log_level level, bool json);
void log_setproc(const char *procname);
void log_setlevel(enum log_level level);
enum log_level log_getlevel(void);
void log_setjson(bool json);
/* "trace", "debug", "info", "warn"/"warning", "err"/"error"; -1 if unknown. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level level);

void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void log_vmsg(enum log_level level, int errnum, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
