/* The daemon's log: one line per message on stderr, written with a single
 * write(2) so lines from several threads never interleave. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

#define LOG_LINE_MAX 4096

static atomic_int log_max = SB_LOG_INFO;

static const char *const level_names[] = {
    [SB_LOG_ERROR] = "error",
    [SB_LOG_WARN] = "warn",
    [SB_LOG_INFO] = "info",
    [SB_LOG_DEBUG] = "debug",
};

void sbc_log_set_level(enum sb_log_level max)
{
	atomic_store(&log_max, (int)max);
}

bool sbc_log_enabled(enum sb_log_level lvl)
{
	return (int)lvl <= atomic_load(&log_max);
}

bool sbc_log_level_parse(const char *s, enum sb_log_level *out)
{
	if (!s)
		return false;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(s, level_names[i]) == 0) {
			if (out)
				*out = (enum sb_log_level)i;
			return true;
		}
	}
	if (strcmp(s, "warning") == 0) {
		if (out)
			*out = SB_LOG_WARN;
		return true;
	}
	return false;
}

void sbc_log(enum sb_log_level lvl, const char *broker, const char *instance,
	     const char *fmt, ...)
{
	if ((int)lvl > atomic_load(&log_max))
		return;
	if ((unsigned)lvl > SB_LOG_DEBUG)
		lvl = SB_LOG_DEBUG;
	char line[LOG_LINE_MAX];
	char ts[32];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	sb_datetime_format((int64_t)now.tv_sec, ts, sizeof(ts));
	int n;
	if (broker && instance)
		n = snprintf(line, sizeof(line), "%s %s [%s:%s] ", ts,
			     level_names[lvl], broker, instance);
	else if (broker || instance)
		n = snprintf(line, sizeof(line), "%s %s [%s] ", ts,
			     level_names[lvl], broker ? broker : instance);
	else
		n = snprintf(line, sizeof(line), "%s %s [svcbrokerd] ", ts,
			     level_names[lvl]);
	if (n < 0)
		return;
	size_t pre = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	char msg[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	/* A message never spans lines and is valid UTF-8: control characters
	 * become '?', invalid bytes U+FFFD, "..." when cut. */
	sb_text_quotable(msg, sizeof(msg), line + pre, sizeof(line) - pre - 1);
	size_t len = pre + strlen(line + pre);
	line[len++] = '\n';
	size_t off = 0;
	int tries = 0;
	while (off < len && tries++ < 16) {
		ssize_t w = write(STDERR_FILENO, line + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t)w;
	}
}
