/* The daemon's log: one line per message on stderr, written with a single
 * write(2) so lines from several threads never interleave.
 *
 * Three shapes: the plain line ("2026-11-29T08:00:00Z info [svcbrokerd]
 * msg"); when stderr is the journal (JOURNAL_STREAM names stderr's
 * device and inode, as systemd sets it) a "<N>" priority prefix and no
 * timestamp of our own, so that journalctl -p works; and one JSON object
 * per line for log shippers ([server] log_format = json), also with the
 * prefix on the journal. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

#define LOG_LINE_MAX 4096

static atomic_int log_max = SB_LOG_INFO;
static atomic_int log_format = SBC_LOG_TEXT;
static atomic_int log_journal = -1; /* -1: not looked at yet */

static const char *const level_names[] = {
    [SB_LOG_ERROR] = "error",
    [SB_LOG_WARN] = "warn",
    [SB_LOG_INFO] = "info",
    [SB_LOG_DEBUG] = "debug",
};

/* syslog priorities (<syslog.h>: LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG) */
static const int level_prio[] = {
    [SB_LOG_ERROR] = 3,
    [SB_LOG_WARN] = 4,
    [SB_LOG_INFO] = 6,
    [SB_LOG_DEBUG] = 7,
};

bool sbc_log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	if (!js || !*js)
		return false;
	char *end;
	errno = 0;
	unsigned long long dev = strtoull(js, &end, 10);
	if (errno || end == js || *end != ':')
		return false;
	const char *ino_s = end + 1;
	unsigned long long ino = strtoull(ino_s, &end, 10);
	if (errno || end == ino_s || *end)
		return false;
	struct stat st;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

static bool journal(void)
{
	int j = atomic_load(&log_journal);
	if (j < 0) {
		j = sbc_log_stderr_is_journal() ? 1 : 0;
		atomic_store(&log_journal, j);
	}
	return j == 1;
}

void sbc_log_set_format(enum sbc_log_format f)
{
	atomic_store(&log_format, (int)f);
}

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

/* s (no control characters: sb_text_quotable's output) as the inside of
 * a JSON string: only " and \ need escaping. */
static size_t json_text(char *dst, size_t len, const char *s)
{
	size_t o = 0;
	for (; *s && o + 2 < len; s++) {
		if (*s == '"' || *s == '\\')
			dst[o++] = '\\';
		dst[o++] = *s;
	}
	dst[o] = '\0';
	return o;
}

static void vlog(enum sb_log_level lvl, const char *broker,
		 const char *instance, const char *fmt, va_list ap)
    SB_PRINTF(4, 0);

void sbc_log(enum sb_log_level lvl, const char *broker, const char *instance,
	     const char *fmt, ...)
{
	if ((int)lvl > atomic_load(&log_max))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(lvl, broker, instance, fmt, ap);
	va_end(ap);
}

void sbc_log_always(enum sb_log_level lvl, const char *broker,
		    const char *instance, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(lvl, broker, instance, fmt, ap);
	va_end(ap);
}

static void vlog(enum sb_log_level lvl, const char *broker,
		 const char *instance, const char *fmt, va_list ap)
{
	if ((unsigned)lvl > SB_LOG_DEBUG)
		lvl = SB_LOG_DEBUG;
	char msg[LOG_LINE_MAX];
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	/* A message never spans lines and is valid UTF-8: control characters
	 * become '?', invalid bytes U+FFFD, "..." when cut. */
	char text[LOG_LINE_MAX];
	sb_text_quotable(msg, sizeof(msg), text, sizeof(text));

	char line[LOG_LINE_MAX + 512];
	size_t len = 0;
	if (journal())
		len = (size_t)snprintf(line, sizeof(line), "<%d>",
				       level_prio[lvl]);
	char ts[32] = "";
	bool json = atomic_load(&log_format) == SBC_LOG_JSON;
	if (json || !journal()) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		sb_datetime_format((int64_t)now.tv_sec, ts, sizeof(ts));
	}
	/* the room a message may take, with the line's end */
	size_t room = sizeof(line) - 512;
	if (json) {
		char b[2 * 128 + 1], in[2 * 128 + 1];
		json_text(b, sizeof(b), broker ? broker : "svcbrokerd");
		json_text(in, sizeof(in), instance ? instance : "");
		len += (size_t)snprintf(
		    line + len, sizeof(line) - len,
		    "{\"time\":\"%s\",\"level\":\"%s\",\"broker\":\"%s\"%s%s%s"
		    ",\"msg\":\"",
		    ts, level_names[lvl], b, instance ? ",\"instance\":\"" : "",
		    instance ? in : "", instance ? "\"" : "");
		if (len > room)
			len = room;
		len += json_text(line + len, room - len, text);
		memcpy(line + len, "\"}", 2);
		len += 2;
	} else {
		char who[300];
		if (broker && instance)
			snprintf(who, sizeof(who), "%s:%s", broker, instance);
		else
			snprintf(who, sizeof(who), "%s",
				 broker	    ? broker
				 : instance ? instance
					    : "svcbrokerd");
		if (ts[0])
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						"%s ", ts);
		len += (size_t)snprintf(line + len, sizeof(line) - len,
					"%s [%s] ", level_names[lvl], who);
		if (len > room)
			len = room;
		size_t n = strlen(text);
		if (n > room - len)
			n = room - len;
		memcpy(line + len, text, n);
		len += n;
	}
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
