/* exchange-ews broker — the UTC offsets of time zones for Appointment:
 * TZif files (RFC 8536) of the system's zoneinfo read without touching
 * the process's TZ, and a Windows id's IANA name found through
 * ews_timezone_id over the system's zone1970.tab. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ews_calendar.h"
#include "ews_int.h"

static bool zone_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 64 || s[0] == '/' || strstr(s, ".."))
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789/_+-") == n;
}

static const char *tz_dir(void)
{
	const char *d = getenv("TZDIR");
	return d && *d ? d : "/usr/share/zoneinfo";
}

/* Read at most max bytes of a file; malloc'd, NULL on failure. */
static unsigned char *read_small(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	unsigned char *buf = malloc(max);
	size_t n = 0;
	while (buf && n < max) {
		ssize_t k = read(fd, buf + n, max - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	*len = n;
	return buf;
}

static int64_t be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = (v << 8) | p[i];
	if (bytes == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* TZif (RFC 8536): the offset of the last transition at or before t (the
 * first standard type before any), from the 64-bit data of version 2+
 * files, else the 32-bit one. */
bool ews_tz_offset(const char *iana, int64_t t, int *offset)
{
	if (!zone_name_ok(iana))
		return false;
	if (!strcmp(iana, "UTC") || !strcmp(iana, "Etc/UTC")) {
		*offset = 0;
		return true;
	}
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tz_dir(), iana);
	size_t len = 0;
	unsigned char *b = read_small(path, 512 * 1024, &len);
	if (!b)
		return false;
	bool ok = false;
	const unsigned char *p = b;
	size_t left = len;
	int tsize = 4;
	for (int pass = 0; pass < 2; pass++) {
		if (left < 44 || memcmp(p, "TZif", 4) != 0)
			break;
		int64_t cnt[6];
		for (int i = 0; i < 6; i++)
			cnt[i] = be(p + 20 + 4 * i, 4);
		int64_t isut = cnt[0], isstd = cnt[1], leap = cnt[2];
		int64_t timecnt = cnt[3], typecnt = cnt[4], charcnt = cnt[5];
		if (isut < 0 || isstd < 0 || leap < 0 || timecnt < 0 ||
		    typecnt < 1 || typecnt > 256 || charcnt < 0 ||
		    timecnt > 100000 || charcnt > 100000 || leap > 100000 ||
		    isut > 256 || isstd > 256)
			break;
		size_t body =
		    (size_t)(timecnt * tsize + timecnt + typecnt * 6 + charcnt +
			     leap * (tsize + 4) + isstd + isut);
		if (left - 44 < body)
			break;
		if (pass == 0 && p[4] >= '2') {
			/* skip to the 64-bit data */
			p += 44 + body;
			left -= 44 + body;
			tsize = 8;
			continue;
		}
		const unsigned char *times = p + 44;
		const unsigned char *idx = times + timecnt * tsize;
		const unsigned char *types = idx + timecnt;
		int type = 0;
		/* before the first transition: the first non-DST type */
		for (int64_t i = 0; i < typecnt; i++)
			if (!types[i * 6 + 4]) {
				type = (int)i;
				break;
			}
		for (int64_t i = 0; i < timecnt; i++) {
			if (be(times + i * tsize, tsize) > t)
				break;
			type = idx[i];
		}
		if (type >= typecnt)
			break;
		int64_t off = be(types + type * 6, 4);
		if (off < -86400 || off > 86400)
			break;
		*offset = (int)off;
		ok = true;
		break;
	}
	free(b);
	return ok;
}

bool ews_tz_iana(const char *name, char *buf, size_t n)
{
	const char *win = ews_timezone_id(name);
	if (!win || n < 2)
		return false;
	if (zone_name_ok(name) && strcasecmp(name, win) != 0) {
		snprintf(buf, n, "%s", name); /* an IANA name itself */
		return true;
	}
	if (!strcmp(win, "UTC")) {
		snprintf(buf, n, "UTC");
		return true;
	}
	/* a Windows id: the first IANA name of the system's zone table
	 * that maps to it */
	char path[512];
	snprintf(path, sizeof(path), "%s/zone1970.tab", tz_dir());
	size_t len = 0;
	unsigned char *t = read_small(path, 256 * 1024, &len);
	if (!t)
		return false;
	bool found = false;
	char *s = (char *)t;
	size_t pos = 0;
	while (pos < len && !found) {
		size_t e = pos;
		while (e < len && s[e] != '\n')
			e++;
		char line[512];
		size_t ll =
		    e - pos < sizeof(line) - 1 ? e - pos : sizeof(line) - 1;
		memcpy(line, s + pos, ll);
		line[ll] = '\0';
		pos = e + 1;
		if (line[0] == '#')
			continue;
		char *save = NULL;
		strtok_r(line, "\t", &save);
		strtok_r(NULL, "\t", &save);
		char *zone = strtok_r(NULL, "\t", &save);
		const char *w = zone ? ews_timezone_id(zone) : NULL;
		if (w && !strcmp(w, win) && zone_name_ok(zone)) {
			snprintf(buf, n, "%s", zone);
			found = true;
		}
	}
	free(t);
	return found;
}
