/* exchange-ews broker — time zone names to the Windows ids EWS takes.
 *
 * The mapping is CLDR's windowsZones as ICU carries it
 * (ucal_getWindowsTimeZoneID, ucal_getTimeZoneIDForWindowsID), read once
 * into static tables (pthread_once) so that the strings handed out stay
 * valid while the module is loaded and a lookup on a worker thread is a
 * binary search with no allocation.  See docs/design-notes.md. */
#include "config.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicode/ucal.h>
#include <unicode/uenum.h>
#include <unicode/utypes.h>
#include <unicode/uversion.h>

#include "ews_calendar.h"
#include "ews_int.h"

/* A Windows id, and the zone CLDR gives for it (territory 001). */
struct tz_win {
	char *id;
	char *zone;
};

/* A zone name ICU knows (canonical or alias) and its Windows id (NULL
 * when CLDR gives none). */
struct tz_zone {
	char *name;
	const struct tz_win *win;
};

static pthread_once_t tz_once = PTHREAD_ONCE_INIT;
static struct tz_win *tz_wins; /* sorted by strcasecmp(id) */
static size_t tz_n_wins;
static struct tz_zone *tz_zones; /* sorted by strcasecmp(name) */
static size_t tz_n_zones;
static size_t tz_n_mapped; /* zones with a Windows id */

/* ---- ASCII <-> UTF-16 (the ids are ASCII) ------------------------------ */

/* name as UTF-16 in u (n units, NUL-terminated): false unless name is
 * 1..EWS_TZ_NAME_MAX printable ASCII bytes. */
static bool to_uchars(const char *name, UChar *u, size_t n)
{
	size_t len = strnlen(name, EWS_TZ_NAME_MAX + 1);
	if (len == 0 || len > EWS_TZ_NAME_MAX || len >= n)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c > 0x7e)
			return false;
		u[i] = (UChar)c;
	}
	u[len] = 0;
	return true;
}

/* u[0..len) as ASCII in out (n bytes): false if it is not printable
 * ASCII or does not fit. */
static bool from_uchars(const UChar *u, int32_t len, char *out, size_t n)
{
	if (len <= 0 || (size_t)len >= n)
		return false;
	for (int32_t i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] > 0x7e)
			return false;
		out[i] = (char)u[i];
	}
	out[len] = '\0';
	return true;
}

/* ---- the tables ----------------------------------------------------------
 */

static int win_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct tz_win *)a)->id,
			  ((const struct tz_win *)b)->id);
}

static int win_key_cmp(const void *key, const void *b)
{
	return strcasecmp(key, ((const struct tz_win *)b)->id);
}

static int zone_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct tz_zone *)a)->name,
			  ((const struct tz_zone *)b)->name);
}

static int zone_key_cmp(const void *key, const void *b)
{
	return strcasecmp(key, ((const struct tz_zone *)b)->name);
}

static const struct tz_win *win_find(const char *id)
{
	if (!tz_n_wins)
		return NULL;
	return bsearch(id, tz_wins, tz_n_wins, sizeof(*tz_wins), win_key_cmp);
}

static void tz_free(void)
{
	for (size_t i = 0; i < tz_n_wins; i++) {
		free(tz_wins[i].id);
		free(tz_wins[i].zone);
	}
	for (size_t i = 0; i < tz_n_zones; i++)
		free(tz_zones[i].name);
	free(tz_wins);
	free(tz_zones);
	tz_wins = NULL;
	tz_zones = NULL;
	tz_n_wins = tz_n_zones = tz_n_mapped = 0;
}

/* The module is unloaded (svcbrokerd's exit, a reload): the tables go
 * with it. */
__attribute__((destructor)) static void tz_unload(void) { tz_free(); }

/* ICU keeps caches (canonical zone ids, its resource bundles) for the
 * life of the process, reachable only from its own static data.  If the
 * module's unloading took libicui18n (and libicuuc) with it, that memory
 * would be lost (and reported by valgrind and LeakSanitizer at every
 * daemon's exit): the ICU libraries stay loaded once used, as in a
 * program linked with ICU.  sym is a function of the library. */
static void icu_keep_loaded(const void *sym)
{
	Dl_info info;
	if (!dladdr(sym, &info) || !info.dli_fname)
		return;
	void *h =
	    dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
	if (h)
		dlclose(h);
}

/* The Windows id ICU gives for zone (ASCII, in out), or false. */
static bool icu_windows_id(const char *zone, char *out, size_t n)
{
	UChar u[EWS_TZ_NAME_MAX + 1], w[EWS_TZ_NAME_MAX + 1];
	if (!to_uchars(zone, u, sizeof(u) / sizeof(u[0])))
		return false;
	UErrorCode st = U_ZERO_ERROR;
	int32_t len = ucal_getWindowsTimeZoneID(
	    u, -1, w, (int32_t)(sizeof(w) / sizeof(w[0])), &st);
	return U_SUCCESS(st) && st != U_STRING_NOT_TERMINATED_WARNING &&
	       from_uchars(w, len, out, n);
}

/* Every zone ICU knows, each with its Windows id, and every Windows id
 * with its zone for territory 001.  On any failure the tables stay
 * empty (lookups answer NULL but for UTC). */
static bool tz_build(void)
{
	icu_keep_loaded((const void *)ucal_getWindowsTimeZoneID);
	icu_keep_loaded((const void *)u_getVersion);
	UErrorCode st = U_ZERO_ERROR;
	UEnumeration *en =
	    ucal_openTimeZoneIDEnumeration(UCAL_ZONE_TYPE_ANY, NULL, NULL, &st);
	if (U_FAILURE(st) || !en)
		return false;
	int32_t count = uenum_count(en, &st);
	if (U_FAILURE(st) || count <= 0) {
		uenum_close(en);
		return false;
	}
	char **wname = calloc((size_t)count, sizeof(*wname));
	tz_zones = calloc((size_t)count, sizeof(*tz_zones));
	tz_wins = calloc((size_t)count, sizeof(*tz_wins));
	bool ok = wname && tz_zones && tz_wins;
	const char *id;
	int32_t idlen;
	while (ok && tz_n_zones < (size_t)count &&
	       (id = uenum_next(en, &idlen, &st)) && U_SUCCESS(st)) {
		char w[EWS_TZ_NAME_MAX + 1];
		if (idlen <= 0 || idlen > EWS_TZ_NAME_MAX ||
		    strlen(id) != (size_t)idlen)
			continue;
		size_t k = tz_n_zones;
		if (!(tz_zones[k].name = strdup(id))) {
			ok = false;
			break;
		}
		tz_n_zones++;
		if (!icu_windows_id(id, w, sizeof(w)))
			continue;
		if (!(wname[k] = strdup(w))) {
			ok = false;
			break;
		}
		/* the distinct Windows ids (a hundred and some) */
		size_t j = 0;
		while (j < tz_n_wins && strcmp(tz_wins[j].id, w) != 0)
			j++;
		if (j == tz_n_wins) {
			if (!(tz_wins[j].id = strdup(w))) {
				ok = false;
				break;
			}
			tz_n_wins++;
		}
	}
	if (U_FAILURE(st))
		ok = false;
	uenum_close(en);
	if (ok) {
		qsort(tz_wins, tz_n_wins, sizeof(*tz_wins), win_cmp);
		/* each zone points at its interned Windows id */
		for (size_t k = 0; k < tz_n_zones; k++) {
			if (!wname[k])
				continue;
			tz_zones[k].win = win_find(wname[k]);
			if (tz_zones[k].win)
				tz_n_mapped++;
		}
		qsort(tz_zones, tz_n_zones, sizeof(*tz_zones), zone_cmp);
		/* each Windows id's zone (territory 001) */
		for (size_t j = 0; ok && j < tz_n_wins; j++) {
			UChar u[EWS_TZ_NAME_MAX + 1], z[EWS_TZ_NAME_MAX + 1];
			char zone[EWS_TZ_NAME_MAX + 1];
			st = U_ZERO_ERROR;
			if (!to_uchars(tz_wins[j].id, u,
				       sizeof(u) / sizeof(u[0])))
				continue;
			int32_t len = ucal_getTimeZoneIDForWindowsID(
			    u, -1, NULL, z, (int32_t)(sizeof(z) / sizeof(z[0])),
			    &st);
			if (U_FAILURE(st) ||
			    st == U_STRING_NOT_TERMINATED_WARNING ||
			    !from_uchars(z, len, zone, sizeof(zone)))
				continue;
			if (!(tz_wins[j].zone = strdup(zone)))
				ok = false;
		}
	}
	if (wname)
		for (int32_t k = 0; k < count; k++)
			free(wname[k]);
	free(wname);
	if (!ok || !tz_n_mapped) {
		tz_free();
		return false;
	}
	return true;
}

static void tz_init(void) { (void)tz_build(); }

/* ---- lookups --------------------------------------------------------------
 */

static bool is_utc(const char *name)
{
	return strcasecmp(name, "UTC") == 0 ||
	       strcasecmp(name, "Etc/UTC") == 0 ||
	       strcasecmp(name, "Etc/GMT") == 0;
}

/* 1..EWS_TZ_NAME_MAX printable ASCII bytes */
static bool plausible(const char *name)
{
	if (!name)
		return false;
	size_t len = strnlen(name, EWS_TZ_NAME_MAX + 1);
	if (len == 0 || len > EWS_TZ_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] > 0x7e)
			return false;
	return true;
}

const char *ews_timezone_id(const char *name)
{
	if (!plausible(name))
		return NULL;
	pthread_once(&tz_once, tz_init);
	const struct tz_win *w;
	if (is_utc(name))
		return (w = win_find("UTC")) ? w->id : "UTC";
	w = win_find(name);
	if (w)
		return w->id;
	/* the names ICU lists are all it knows (aliases included): a name
	 * from an input never reaches ICU */
	if (!tz_n_zones)
		return NULL;
	const struct tz_zone *z = bsearch(name, tz_zones, tz_n_zones,
					  sizeof(*tz_zones), zone_key_cmp);
	return z && z->win ? z->win->id : NULL;
}

const char *ews_timezone_zone(const char *windows_id)
{
	if (!plausible(windows_id))
		return NULL;
	pthread_once(&tz_once, tz_init);
	const struct tz_win *w = win_find(windows_id);
	if (w && w->zone)
		return w->zone;
	return strcasecmp(windows_id, "UTC") == 0 ? "Etc/UTC" : NULL;
}

size_t ews_timezone_count(void)
{
	pthread_once(&tz_once, tz_init);
	return tz_n_mapped;
}

enum sb_status ews_timezone_check(const char *field, const char *value,
				  const char **id, struct sb_error *err)
{
	const char *w = ews_timezone_id(value);
	if (id)
		*id = w;
	if (w)
		return SB_OK;
	char shown[96];
	sb_text_quotable(value, 64, shown, sizeof(shown));
	if (!ews_timezone_count())
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: \"%s\" is not a Windows time zone id, "
				    "and ICU's time zone data could not be "
				    "read to map IANA names",
				    field, shown);
	return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			    "%s: \"%s\" is not a Windows time zone id or an "
			    "IANA zone with a Windows equivalent (e.g. UTC, "
			    "Europe/Berlin, W. Europe Standard Time)",
			    field, shown);
}

/* ---- offsets --------------------------------------------------------------
 */

struct ews_zone {
	UCalendar *cal;
};

/* The zone ICU knows for name (a Windows id: the zone CLDR gives for it;
 * a UTC name: Etc/UTC), spelled as ICU lists it; NULL when none. */
static const char *icu_zone_name(const char *name)
{
	if (!plausible(name))
		return NULL;
	pthread_once(&tz_once, tz_init);
	if (is_utc(name))
		return "Etc/UTC";
	const struct tz_win *w = win_find(name);
	if (w)
		return w->zone;
	if (!tz_n_zones)
		return NULL;
	const struct tz_zone *z = bsearch(name, tz_zones, tz_n_zones,
					  sizeof(*tz_zones), zone_key_cmp);
	return z ? z->name : NULL;
}

struct ews_zone *ews_zone_open(const char *name)
{
	const char *zone = icu_zone_name(name);
	UChar u[EWS_TZ_NAME_MAX + 1];
	if (!zone || !to_uchars(zone, u, sizeof(u) / sizeof(u[0])))
		return NULL;
	struct ews_zone *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	UErrorCode st = U_ZERO_ERROR;
	z->cal = ucal_open(u, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st) || !z->cal) {
		if (z->cal)
			ucal_close(z->cal);
		free(z);
		return NULL;
	}
	return z;
}

bool ews_zone_offset(struct ews_zone *z, int64_t t, int32_t *offset)
{
	UErrorCode st = U_ZERO_ERROR;
	ucal_setMillis(z->cal, (UDate)t * 1000.0, &st);
	int32_t raw = ucal_get(z->cal, UCAL_ZONE_OFFSET, &st);
	int32_t dst = ucal_get(z->cal, UCAL_DST_OFFSET, &st);
	if (U_FAILURE(st))
		return false;
	*offset = (raw + dst) / 1000;
	return true;
}

bool ews_zone_midnight(struct ews_zone *z, int y, int m, int d, int64_t *epoch)
{
	UErrorCode st = U_ZERO_ERROR;
	/* a day whose midnight the clock skips starts at the first instant
	 * it shows (America/Santiago's first day of daylight saving) */
	ucal_setAttribute(z->cal, UCAL_SKIPPED_WALL_TIME,
			  UCAL_WALLTIME_NEXT_VALID);
	ucal_setAttribute(z->cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
	ucal_clear(z->cal);
	ucal_setDateTime(z->cal, y, m - 1, d, 0, 0, 0, &st);
	UDate ms = ucal_getMillis(z->cal, &st);
	if (U_FAILURE(st))
		return false;
	*epoch = (int64_t)(ms / 1000.0);
	return true;
}

void ews_zone_close(struct ews_zone *z)
{
	if (!z)
		return;
	ucal_close(z->cal);
	free(z);
}

bool ews_tz_offset(const char *name, int64_t t, int *offset)
{
	struct ews_zone *z = ews_zone_open(name);
	int32_t off;
	bool ok = z && ews_zone_offset(z, t, &off);
	ews_zone_close(z);
	if (ok)
		*offset = (int)off;
	return ok;
}

bool ews_tz_iana(const char *name, char *buf, size_t n)
{
	const char *zone = icu_zone_name(name);
	if (!zone || n < 2)
		return false;
	if (is_utc(name))
		zone = "UTC";
	int len = snprintf(buf, n, "%s", zone);
	return len > 0 && (size_t)len < n;
}
