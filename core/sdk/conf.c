/* Configuration values and binding a typed key table (<svcbroker/conf.h>):
 * the one parser of booleans, numbers, durations, sizes, enumerations,
 * lists, paths and URLs, used for broker keys, the host's own keys and the
 * test host alike. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <svcbroker/conf.h>
#include <svcbroker/sdk.h>

#define FRAGMENT_DEPTH_MAX 4

/* ---- shared fragments --------------------------------------------------- */

const struct sb_config_key sb_tls_keys[] = {
    {.key = "verify_tls",
     .type = SB_CONF_BOOL,
     .def = "yes",
     .doc = "Verify the server's certificate and host name.",
     .offset = offsetof(struct sb_tls_conf, verify_tls)},
    {.key = "ca_file",
     .type = SB_CONF_PATH,
     .doc = "PEM file of the certificate authorities to trust (default: "
	    "the system's).",
     .offset = offsetof(struct sb_tls_conf, ca_file)},
    SB_CONF_END,
};

/* ---- values ----------------------------------------------------------- */

bool sb_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	if (!s)
		return false;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			if (out)
				*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			if (out)
				*out = false;
			return true;
		}
	}
	return false;
}

/* Digits at *p into *v (no sign); advances; false on none or overflow. */
static bool parse_digits(const char **p, int64_t *v)
{
	const char *s = *p;
	int64_t x = 0;
	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		int d = *s - '0';
		if (x > (INT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
		s++;
	}
	*p = s;
	*v = x;
	return true;
}

bool sb_parse_int64(const char *s, int64_t *out)
{
	if (!s)
		return false;
	bool neg = *s == '-';
	const char *p = s + (neg || *s == '+');
	int64_t v;
	if (!parse_digits(&p, &v) || *p)
		return false;
	*out = neg ? -v : v;
	return true;
}

bool sb_parse_duration_ms(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	if (strcmp(s, "0") == 0) {
		if (out)
			*out = 0;
		return true;
	}
	/* One or more <number><unit>: 1h30m, 250ms, 30s. */
	int64_t total = 0;
	const char *p = s;
	while (*p) {
		int64_t v, unit;
		if (!parse_digits(&p, &v))
			return false;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			unit = 86400 * 1000;
			p++;
		} else {
			return false;
		}
		if (v > (INT64_MAX - total) / unit)
			return false;
		total += v * unit;
	}
	if (out)
		*out = total;
	return true;
}

bool sb_parse_size(const char *s, int64_t *out)
{
	if (!s)
		return false;
	const char *p = s;
	int64_t v;
	if (!parse_digits(&p, &v))
		return false;
	static const struct {
		const char *suffix;
		int shift;
	} units[] = {
	    {"", 0},	 {"B", 0},  {"K", 10},	 {"KiB", 10},
	    {"k", 10},	 {"M", 20}, {"MiB", 20}, {"G", 30},
	    {"GiB", 30}, {"T", 40}, {"TiB", 40},
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].suffix) == 0) {
			if (v > (INT64_MAX >> units[i].shift))
				return false;
			if (out)
				*out = v << units[i].shift;
			return true;
		}
	}
	return false;
}

void sb_format_duration_ms(int64_t ms, char *buf, size_t n)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, n, "%lldh", (long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, n, "%lldm", (long long)(ms / 60000));
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, n, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, n, "%lldms", (long long)ms);
}

void sb_format_size(int64_t b, char *buf, size_t n)
{
	static const char *const u[] = {"TiB", "GiB", "MiB", "KiB"};
	static const int sh[] = {40, 30, 20, 10};
	for (int i = 0; i < 4; i++) {
		int64_t m = (int64_t)1 << sh[i];
		if (b != 0 && b % m == 0) {
			snprintf(buf, n, "%lld%s", (long long)(b / m), u[i]);
			return;
		}
	}
	snprintf(buf, n, "%lld", (long long)b);
}

/* v as quoted in a message, at most max bytes of it: the password of any
 * URL in it ("scheme://user:password@host") is shown as "***". */
void sb_conf_shown(const char *v, size_t max, char *out, size_t n)
{
	sb_mask_url_password(v, max, out, n);
}

/* ---- paths ------------------------------------------------------------ */

char *sb_path_dir(const char *file)
{
	const char *slash = strrchr(file, '/');
	if (!slash)
		return strdup(".");
	if (slash == file)
		return strdup("/");
	return strndup(file, (size_t)(slash - file));
}

char *sb_path_against(const char *dir, const char *p)
{
	if (p[0] == '/')
		return strdup(p);
	char *out = NULL;
	if (strcmp(dir, "/") == 0) {
		if (asprintf(&out, "/%s", p) < 0)
			return NULL;
	} else if (asprintf(&out, "%s/%s", dir, p) < 0) {
		return NULL;
	}
	return out;
}

char *sb_path_absolute(const char *p)
{
	if (p[0] == '/')
		return strdup(p);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	return sb_path_against(cwd, p);
}

enum sb_status sb_path_check(const char *key, const char *path, unsigned flags,
			     struct sb_error *err)
{
	if (!path || !*path)
		return SB_OK;
	const char *k = key ? key : "path";
	/* opened, not just stat'ed: it says what open() will meet */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: %s: %s", k, path,
				    e == ENOENT	  ? "no such file"
				    : e == EACCES ? "permission denied"
						  : strerror(e));
	}
	struct stat st;
	enum sb_status rc = SB_OK;
	if (fstat(fd, &st) != 0)
		rc = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL, "%s: %s: %s",
				  k, path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "%s: %s: not a regular file", k, path);
	else if ((flags & SB_PATH_PRIVATE) &&
		 (st.st_mode & (S_IRWXG | S_IRWXO)))
		rc = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "%s: %s: readable by group or others (mode "
				  "%04o): chmod 600 it",
				  k, path, (unsigned)(st.st_mode & 07777));
	close(fd);
	return rc;
}

/* ---- binding ------------------------------------------------------------ */

struct binder {
	const struct sb_conf_where *where;
	sb_conf_report_fn report;
	void *ctx;
	int nerr;
};

static void berr(struct binder *B, const char *file, int line, const char *key,
		 const char *fmt, ...) SB_PRINTF(5, 6);
static void berr(struct binder *B, const char *file, int line, const char *key,
		 const char *fmt, ...)
{
	char msg[1024], full[1400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%d: %s %s: %s", file ? file : "?",
		 line, B->where->label ? B->where->label : "", key, msg);
	B->nerr++;
	if (B->report)
		B->report(B->ctx, full);
}

static void free_list(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

static char **split_list(const char *v)
{
	size_t cap = 4, n = 0;
	char **out = calloc(cap + 1, sizeof(char *));
	if (!out)
		return NULL;
	const char *p = v;
	while (*p) {
		size_t len = strcspn(p, ",\n");
		const char *a = p, *b = p + len;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			if (n == cap) {
				cap *= 2;
				char **no =
				    realloc(out, (cap + 1) * sizeof(char *));
				if (!no) {
					free_list(out);
					return NULL;
				}
				out = no;
			}
			out[n] = strndup(a, (size_t)(b - a));
			if (!out[n]) {
				free_list(out);
				return NULL;
			}
			out[++n] = NULL;
		}
		p += len;
		if (*p)
			p++;
	}
	out[n] = NULL;
	return out;
}

static bool url_ok(const char *v, const char *const *schemes, bool *scheme_bad)
{
	*scheme_bad = false;
	const char *sep = strstr(v, "://");
	if (!sep || sep == v || sep[3] == '\0')
		return false;
	for (const char *p = v; p < sep; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (p > v && ((c >= '0' && c <= '9') || c == '+' ||
				 c == '-' || c == '.'))))
			return false;
	}
	for (const char *p = sep + 3; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return false;
	if (schemes) {
		size_t sl = (size_t)(sep - v);
		for (size_t i = 0; schemes[i]; i++)
			if (strlen(schemes[i]) == sl &&
			    strncasecmp(schemes[i], v, sl) == 0)
				return true;
		*scheme_bad = true;
		return false;
	}
	return true;
}

static void join(char *buf, size_t n, const char *const *names)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; names && names[i] && o < n; i++) {
		int w =
		    snprintf(buf + o, n - o, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static bool has_bounds(const struct sb_config_key *k)
{
	return k->min != 0 || k->max != 0;
}

/* An int, duration or size value; *kind names what was expected. */
static bool parse_number(enum sb_conf_type type, const char *v, int64_t *n,
			 const char **kind)
{
	switch (type) {
	case SB_CONF_DURATION:
		*kind = "duration (such as 250ms, 30s, 5m, 1h)";
		return sb_parse_duration_ms(v, n);
	case SB_CONF_SIZE:
		*kind = "size (such as 512, 64KiB, 10MiB)";
		return sb_parse_size(v, n);
	default:
		*kind = "whole number";
		return sb_parse_int64(v, n);
	}
}

static bool in_range(const struct sb_config_key *k, int64_t v)
{
	if (!has_bounds(k))
		return true;
	if (v < k->min)
		return false;
	if (k->max >= k->min && v > k->max)
		return false;
	return true;
}

static void range_text(const struct sb_config_key *k, char *buf, size_t n)
{
	char a[40], b[40];
	switch (k->type) {
	case SB_CONF_DURATION:
		sb_format_duration_ms(k->min, a, sizeof(a));
		sb_format_duration_ms(k->max, b, sizeof(b));
		break;
	case SB_CONF_SIZE:
		sb_format_size(k->min, a, sizeof(a));
		sb_format_size(k->max, b, sizeof(b));
		break;
	default:
		snprintf(a, sizeof(a), "%lld", (long long)k->min);
		snprintf(b, sizeof(b), "%lld", (long long)k->max);
		break;
	}
	if (k->max < k->min)
		snprintf(buf, n, "%s..", a);
	else
		snprintf(buf, n, "%s..%s", a, b);
}

/* Parse v for key k into the struct.  `what` prefixes messages for
 * defaults ("default "). */
static void bind_one(struct binder *B, const struct sb_config_key *k,
		     size_t offset, void *conf, const char *v, bool secret_ref,
		     const char *file, int line, const char *what)
{
	char *field = (char *)conf + offset;
	bool secret = (k->flags & SB_CONF_SECRET) || secret_ref;
	char shown[96];
	if (secret) {
		snprintf(shown, sizeof(shown), "the %svalue", what);
	} else {
		char sv[64];
		sb_conf_shown(v, 60, sv, sizeof(sv));
		snprintf(shown, sizeof(shown), "%s%s%s%s", what,
			 *what ? "'" : "", sv, *what ? "'" : "");
	}
	if (k->type != SB_CONF_LIST && strchr(v, '\n')) {
		if (secret_ref)
			berr(B, file, line, k->key,
			     "the file or variable it refers to holds several "
			     "lines; this key takes one");
		else
			berr(B, file, line, k->key,
			     "only list keys may continue on an indented "
			     "line");
		return;
	}
	if (k->flags & SB_CONF_REQUIRED) {
		bool empty = *v == '\0';
		if (k->type == SB_CONF_LIST) {
			/* Only separators and white space: no item. */
			empty = v[strspn(v, ", \t\n")] == '\0';
		}
		if (empty) {
			berr(B, file, line, k->key,
			     "empty, a value is required");
			return;
		}
	}
	if (*v == '\0' && k->type != SB_CONF_STRING &&
	    k->type != SB_CONF_LIST && k->type != SB_CONF_PATH) {
		/* Not "' is not a ...' with nothing quoted. */
		char expect[420];
		const char *kind = NULL;
		switch (k->type) {
		case SB_CONF_BOOL:
			snprintf(expect, sizeof(expect),
				 "a boolean (yes/no/true/false/on/off/1/0)");
			break;
		case SB_CONF_ENUM: {
			char ch[400];
			join(ch, sizeof(ch), k->choices);
			snprintf(expect, sizeof(expect), "one of %s", ch);
			break;
		}
		case SB_CONF_URL:
			snprintf(expect, sizeof(expect),
				 "a URL (scheme://host...)");
			break;
		default:
			parse_number(k->type, v, &(int64_t){0}, &kind);
			snprintf(expect, sizeof(expect), "a %s", kind);
			break;
		}
		berr(B, file, line, k->key, "%sempty, expected %s", what,
		     expect);
		return;
	}
	int64_t n;
	switch (k->type) {
	case SB_CONF_STRING: {
		char *s = strdup(v);
		if (!s) {
			berr(B, file, line, k->key, "out of memory");
			return;
		}
		free(*(char **)field);
		*(char **)field = s;
		return;
	}
	case SB_CONF_BOOL: {
		bool b;
		if (!sb_parse_bool(v, &b)) {
			berr(B, file, line, k->key,
			     "%s is not a boolean (yes/no/true/false/on/off/"
			     "1/0)",
			     shown);
			return;
		}
		*(bool *)field = b;
		return;
	}
	case SB_CONF_INT:
	case SB_CONF_DURATION:
	case SB_CONF_SIZE: {
		const char *kind = NULL;
		if (!parse_number(k->type, v, &n, &kind)) {
			berr(B, file, line, k->key, "%s is not a %s", shown,
			     kind);
			return;
		}
		if (!in_range(k, n)) {
			char r[100];
			range_text(k, r, sizeof(r));
			berr(B, file, line, k->key, "%s is out of range %s",
			     shown, r);
			return;
		}
		*(int64_t *)field = n;
		return;
	}
	case SB_CONF_ENUM: {
		for (int i = 0; k->choices && k->choices[i]; i++) {
			if (strcasecmp(k->choices[i], v) == 0) {
				*(int *)field = i;
				return;
			}
		}
		char ch[400];
		join(ch, sizeof(ch), k->choices);
		berr(B, file, line, k->key, "%s is not one of %s", shown, ch);
		return;
	}
	case SB_CONF_LIST: {
		char **l = split_list(v);
		if (!l) {
			berr(B, file, line, k->key, "out of memory");
			return;
		}
		free_list(*(char ***)field);
		*(char ***)field = l;
		return;
	}
	case SB_CONF_PATH: {
		if (!*v) {
			berr(B, file, line, k->key, "empty path");
			return;
		}
		char *dir = file ? sb_path_dir(file) : NULL;
		char *p = dir ? sb_path_against(dir, v) : sb_path_absolute(v);
		free(dir);
		if (!p) {
			berr(B, file, line, k->key, "out of memory");
			return;
		}
		free(*(char **)field);
		*(char **)field = p;
		return;
	}
	case SB_CONF_URL: {
		bool scheme_bad;
		if (!url_ok(v, k->schemes, &scheme_bad)) {
			if (scheme_bad) {
				char ch[400];
				join(ch, sizeof(ch), k->schemes);
				berr(B, file, line, k->key,
				     "%s: URL scheme must be one of %s", shown,
				     ch);
			} else {
				berr(B, file, line, k->key,
				     "%s is not a URL (scheme://host...)",
				     shown);
			}
			return;
		}
		char *s = strdup(v);
		if (!s) {
			berr(B, file, line, k->key, "out of memory");
			return;
		}
		free(*(char **)field);
		*(char **)field = s;
		return;
	}
	case SB_CONF_FRAGMENT:
		break; /* flattened away before binding */
	}
	berr(B, file, line, k->key, "unknown key type");
}

static bool flatten(const struct sb_config_key *table, size_t base, int depth,
		    struct sb_conf_flat *out, size_t max, size_t *n)
{
	if (depth > FRAGMENT_DEPTH_MAX)
		return false;
	for (size_t i = 0; table && table[i].key; i++) {
		const struct sb_config_key *k = &table[i];
		if (k->type == SB_CONF_FRAGMENT) {
			if (!k->fragment ||
			    !flatten(k->fragment, base + k->offset, depth + 1,
				     out, max, n))
				return false;
			continue;
		}
		if (*n < max)
			out[*n] = (struct sb_conf_flat){k, base + k->offset};
		(*n)++;
	}
	return true;
}

size_t sb_conf_flatten(const struct sb_config_key *table,
		       struct sb_conf_flat *out, size_t max)
{
	size_t n = 0;
	if (!flatten(table, 0, 0, out, max, &n))
		return 0;
	return n;
}

size_t sb_conf_field_size(enum sb_conf_type t, size_t *align)
{
	size_t a_ = 1;
	if (!align)
		align = &a_;
	switch (t) {
	case SB_CONF_STRING:
	case SB_CONF_PATH:
	case SB_CONF_URL:
		*align = _Alignof(char *);
		return sizeof(char *);
	case SB_CONF_LIST:
		*align = _Alignof(char **);
		return sizeof(char **);
	case SB_CONF_INT:
	case SB_CONF_DURATION:
	case SB_CONF_SIZE:
		*align = _Alignof(int64_t);
		return sizeof(int64_t);
	case SB_CONF_BOOL:
		*align = _Alignof(bool);
		return sizeof(bool);
	case SB_CONF_ENUM:
		*align = _Alignof(int);
		return sizeof(int);
	case SB_CONF_FRAGMENT:
		break;
	}
	*align = 1;
	return 0;
}

void sb_conf_release(const struct sb_config_key *table, void *conf,
		     size_t conf_size)
{
	if (!conf)
		return;
	struct sb_conf_flat flat[SB_CONF_KEYS_MAX];
	size_t n = sb_conf_flatten(table, flat, SB_CONF_KEYS_MAX);
	if (n > SB_CONF_KEYS_MAX)
		n = SB_CONF_KEYS_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct sb_config_key *k = flat[i].key;
		size_t fs = sb_conf_field_size(k->type, NULL);
		if (flat[i].offset > conf_size ||
		    conf_size - flat[i].offset < fs)
			continue;
		char *field = (char *)conf + flat[i].offset;
		switch (k->type) {
		case SB_CONF_STRING:
		case SB_CONF_PATH:
		case SB_CONF_URL: {
			char *s = *(char **)field;
			if (s) {
				if (k->flags & SB_CONF_SECRET)
					explicit_bzero(s, strlen(s));
				free(s);
			}
			*(char **)field = NULL;
			break;
		}
		case SB_CONF_LIST:
			free_list(*(char ***)field);
			*(char ***)field = NULL;
			break;
		default:
			break;
		}
	}
}

static void valid_keys(const struct sb_conf_flat *flat, size_t n,
		       const char *const *also, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t j = 0; j < n && o < len; j++) {
		int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
				 flat[j].key->key);
		if (w > 0)
			o += (size_t)w;
	}
	for (size_t j = 0; also && also[j] && o < len; j++) {
		int w =
		    snprintf(buf + o, len - o, "%s%s", o ? ", " : "", also[j]);
		if (w > 0)
			o += (size_t)w;
	}
}

int sb_conf_bind(const struct sb_config_key *table, void *conf,
		 size_t conf_size, const struct sb_conf_kv *kv, size_t n,
		 const struct sb_conf_where *where, sb_conf_report_fn report,
		 void *ctx)
{
	struct binder B = {.where = where, .report = report, .ctx = ctx};
	struct sb_conf_flat flat[SB_CONF_KEYS_MAX];
	size_t nk = sb_conf_flatten(table, flat, SB_CONF_KEYS_MAX);
	if (table && table[0].key && (nk == 0 || nk > SB_CONF_KEYS_MAX)) {
		berr(&B, where->file, where->line, "(table)",
		     "the key table is empty, too large or nests fragments "
		     "too deeply");
		return B.nerr;
	}
	/* The table itself must fit the struct (a broker bug otherwise). */
	for (size_t i = 0; i < nk; i++) {
		size_t fs = sb_conf_field_size(flat[i].key->type, NULL);
		if (fs == 0 || flat[i].offset > conf_size ||
		    conf_size - flat[i].offset < fs) {
			berr(&B, where->file, where->line, flat[i].key->key,
			     "the key table does not fit its config struct "
			     "(offset %zu, size %zu)",
			     flat[i].offset, conf_size);
			return B.nerr;
		}
	}
	/* Every given key must exist in the table. */
	for (size_t i = 0; i < n; i++) {
		const struct sb_conf_kv *v = &kv[i];
		const struct sb_conf_flat *f = NULL;
		for (size_t j = 0; j < nk && !f; j++)
			if (strcmp(flat[j].key->key, v->key) == 0)
				f = &flat[j];
		if (!f) {
			char valid[1024];
			valid_keys(flat, nk, where->also_valid, valid,
				   sizeof(valid));
			berr(&B, v->file, v->line, v->key,
			     "unknown key; valid keys: %s", valid);
			continue;
		}
		bind_one(&B, f->key, f->offset, conf, v->value, v->secret_ref,
			 v->file, v->line, "");
	}
	/* Defaults and required keys. */
	for (size_t j = 0; j < nk; j++) {
		const struct sb_config_key *k = flat[j].key;
		bool given = false;
		for (size_t i = 0; i < n && !given; i++)
			given = strcmp(kv[i].key, k->key) == 0;
		if (given)
			continue;
		if (k->flags & SB_CONF_REQUIRED) {
			berr(&B, where->file, where->line, k->key,
			     "missing (required: %s)",
			     k->doc ? k->doc : "no description");
			continue;
		}
		if (k->def)
			bind_one(&B, k, flat[j].offset, conf, k->def, false,
				 where->file, where->line, "default ");
	}
	return B.nerr;
}
