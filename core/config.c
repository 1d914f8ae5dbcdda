/* The INI configuration: [server], [module NAME] and [instance NAME]
 * sections, includes, ${env:}/${file:} references, and binding an
 * instance's keys to its broker's typed key table. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "ini_reader.h"

#define DEFAULT_LISTEN "127.0.0.1:8780"
#define INCLUDE_DEPTH_MAX 8
#define FILES_MAX 256
#define SECRET_FILE_MAX (64 * 1024)
#define NAME_MAX_LEN 64

/* ---- parse helpers ---------------------------------------------------- */

bool sbc_parse_bool(const char *s, bool *out)
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

static bool parse_int(const char *s, int64_t *out)
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

bool sbc_parse_duration_ms(const char *s, int64_t *out)
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

bool sbc_parse_size(const char *s, int64_t *out)
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
		{"", 0},     {"B", 0},    {"K", 10},   {"KiB", 10},
		{"k", 10},   {"M", 20},   {"MiB", 20}, {"G", 30},
		{"GiB", 30}, {"T", 40},   {"TiB", 40},
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

static void fmt_duration(int64_t ms, char *buf, size_t n)
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

static void fmt_size(int64_t b, char *buf, size_t n)
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
static void shown_value(const char *v, size_t max, char *out, size_t n)
{
	size_t o = 0;
	const char *p = v;
	while (*p && o + 1 < n && o < max) {
		if (strncmp(p, "://", 3) == 0) {
			const char *auth = p + 3;
			size_t alen = strcspn(auth, "/?# \t\n");
			const char *at = memrchr(auth, '@', alen);
			const char *colon = at ? memchr(auth, ':',
						       (size_t)(at - auth))
					       : NULL;
			if (colon) {
				/* "://user:" then "***" then "@host..." */
				for (const char *q = p; q <= colon; q++)
					if (o + 1 < n && o < max)
						out[o++] = *q;
				for (int i = 0; i < 3; i++)
					if (o + 1 < n && o < max)
						out[o++] = '*';
				p = at;
				continue;
			}
		}
		out[o++] = *p++;
	}
	out[o < n ? o : n - 1] = '\0';
}

/* ---- paths ------------------------------------------------------------ */

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* dir of an absolute file path ("/a/b.ini" -> "/a"). */
static char *dir_of(const char *file)
{
	const char *slash = strrchr(file, '/');
	if (!slash)
		return strdup(".");
	if (slash == file)
		return strdup("/");
	return strndup(file, (size_t)(slash - file));
}

/* p made absolute against dir (p returned as a copy if absolute). */
static char *abs_against(const char *dir, const char *p)
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

static char *abs_path(const char *p)
{
	if (p[0] == '/')
		return strdup(p);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	return abs_against(cwd, p);
}

/* ---- opening files ---------------------------------------------------- */

/* What a file that is not a regular file is, for messages. */
static const char *file_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "a special file";
}

/* Open path for reading, refusing anything but a regular file: reading a
 * FIFO or a terminal would wait forever, a device may never end and a
 * directory reads as nothing.  The open itself never blocks (O_NONBLOCK,
 * cleared once the file is known to be regular).  Returns the stream, or
 * NULL with *err set to an errno value, or to 0 with *kind set to what the
 * path is instead ("a FIFO"...). */
static FILE *open_regular(const char *path, int *err, const char **kind)
{
	*err = 0;
	*kind = NULL;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		*err = errno;
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*kind = file_kind(st.st_mode);
		close(fd);
		return NULL;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		*err = errno;
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		*err = errno;
		close(fd);
	}
	return f;
}

/* ---- loader state ------------------------------------------------------ */

enum sect_kind { SECT_BAD = 0, SECT_SERVER, SECT_MODULE, SECT_INSTANCE };

struct sect {
	enum sect_kind kind;
	char *name; /* module/instance name */
	char *file;
	int line;
	size_t index; /* into modules / instances */
};

struct module_rec {
	char *name;
	bool enabled;
	char *file;
	int line;
	bool seen_enabled;
	char *enabled_file; /* where enabled was first set */
	int enabled_line;
};

/* Where each host key of an instance was first set (file NULL: not
 * set). */
struct inst_extra {
	char *broker_file, *mc_file, *timeout_file;
	int broker_line, mc_line, timeout_line;
};

enum server_key {
	SK_LISTEN,
	SK_MODULE_DIR,
	SK_STATE_DIR,
	SK_WORKERS,
	SK_QUEUE,
	SK_MAX_BODY,
	SK_LOG_LEVEL,
	SK_INCLUDE,
	SK_MAX_BODY_TOTAL,
	SK_MAX_CONNECTIONS,
	SK_MAX_CONNECTIONS_PER_IP,
	SK_IDLE_TIMEOUT,
	SK_WORKER_STACK,
	SK_COUNT_
};
static const char *const server_keys[SK_COUNT_] = {
	"listen",         "module_dir",      "state_dir",
	"workers",        "queue",           "max_body",
	"log_level",      "include",         "max_body_total",
	"max_connections", "max_connections_per_ip", "idle_timeout",
	"worker_stack",
};

/* include values of the file being read, in order. */
struct includes {
	char **globs;
	size_t n;
	int *lines;
};

struct loader {
	struct sbc_config *cfg;
	struct includes *inc; /* of the file being read */
	struct sbc_errlist *errs;
	int nerr;
	/* the file being read */
	const char *file;
	char *dir;
	struct sbc_ini_reader *rd;
	struct sect *cur; /* NULL: before any section */
	/* last key of the current section (for continuation lines) */
	char *prev_key;
	/* every section seen */
	struct sect *sects;
	size_t n_sects;
	struct module_rec *mods;
	size_t n_mods;
	struct inst_extra *ix; /* parallel to cfg->instances */
	/* [server] keys seen (file:line of the first) */
	char *server_file[SK_COUNT_];
	int server_line[SK_COUNT_];
	/* files read (realpaths) */
	char **files;
	size_t n_files;
	int depth;
};

static void lerr(struct loader *L, int line, const char *fmt, ...)
	SB_PRINTF(3, 4);
static void lerr(struct loader *L, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		sbc_errlist_add(L->errs, "%s:%d: %s", L->file, line, msg);
	else
		sbc_errlist_add(L->errs, "%s: %s", L->file, msg);
	L->nerr++;
}

/* "[instance x]" / "[server]" / "[module x]" of the current section. */
static const char *sect_label(const struct sect *s, char *buf, size_t n)
{
	if (!s)
		return "(no section)";
	switch (s->kind) {
	case SECT_SERVER:
		snprintf(buf, n, "[server]");
		break;
	case SECT_MODULE:
		snprintf(buf, n, "[module %s]", s->name);
		break;
	case SECT_INSTANCE:
		snprintf(buf, n, "[instance %s]", s->name);
		break;
	default:
		snprintf(buf, n, "[?]");
		break;
	}
	return buf;
}

static bool name_ok(const char *s, bool underscore)
{
	size_t len = strlen(s);
	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (i > 0 && (c == '-' || (underscore && c == '_')))
			ok = true;
		if (!ok)
			return false;
	}
	return true;
}

static struct sect *add_sect(struct loader *L, enum sect_kind kind,
			     const char *name, int line)
{
	struct sect *ns = realloc(L->sects, (L->n_sects + 1) * sizeof(*ns));
	if (!ns)
		return NULL;
	L->sects = ns;
	struct sect *s = &L->sects[L->n_sects++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->name = xstrdup(name);
	s->file = xstrdup(L->file);
	s->line = line;
	return s;
}

static bool ev_section(void *user, const char *text, int line)
{
	struct loader *L = user;
	free(L->prev_key);
	L->prev_key = NULL;
	static struct sect bad = {.kind = SECT_BAD};
	L->cur = &bad;
	if (!text)
		return false;
	/* "type" or "type name", separated by white space. */
	char type[32];
	const char *p = text;
	size_t tl = strcspn(p, " \t");
	const char *name = p + tl;
	while (*name == ' ' || *name == '\t')
		name++;
	if (tl >= sizeof(type)) {
		lerr(L, line,
		     "[%.40s]: unknown section type (expected [server], "
		     "[module NAME] or [instance NAME])",
		     text);
		return false;
	}
	memcpy(type, p, tl);
	type[tl] = '\0';
	enum sect_kind kind;
	if (strcmp(type, "server") == 0) {
		kind = SECT_SERVER;
		if (*name) {
			lerr(L, line, "[%s]: the server section takes no name",
			     text);
			return false;
		}
	} else if (strcmp(type, "module") == 0) {
		kind = SECT_MODULE;
		if (!name_ok(name, false)) {
			lerr(L, line,
			     "[module %.80s]: invalid module name (expected "
			     "[a-z0-9][a-z0-9-]*, at most %d characters)",
			     name, NAME_MAX_LEN);
			return false;
		}
	} else if (strcmp(type, "instance") == 0) {
		kind = SECT_INSTANCE;
		if (!name_ok(name, true)) {
			lerr(L, line,
			     "[instance %.80s]: invalid instance name "
			     "(expected [a-z0-9][a-z0-9_-]*, at most %d "
			     "characters)",
			     name, NAME_MAX_LEN);
			return false;
		}
	} else {
		lerr(L, line,
		     "[%.80s]: unknown section type '%s' (expected [server], "
		     "[module NAME] or [instance NAME])",
		     text, type);
		return false;
	}
	for (size_t i = 0; i < L->n_sects; i++) {
		struct sect *s = &L->sects[i];
		if (s->kind != kind)
			continue;
		if (kind != SECT_SERVER && strcmp(s->name, name) != 0)
			continue;
		char lb[128];
		lerr(L, line, "%s is defined twice: first at %s:%d, again here",
		     sect_label(s, lb, sizeof(lb)), s->file, s->line);
		return false;
	}
	struct sect *s = add_sect(L, kind, kind == SECT_SERVER ? "" : name,
				  line);
	if (!s) {
		lerr(L, line, "out of memory");
		return false;
	}
	if (kind == SECT_MODULE) {
		struct module_rec *nm =
			realloc(L->mods, (L->n_mods + 1) * sizeof(*nm));
		if (!nm) {
			lerr(L, line, "out of memory");
			return false;
		}
		L->mods = nm;
		struct module_rec *m = &L->mods[L->n_mods];
		memset(m, 0, sizeof(*m));
		m->name = xstrdup(name);
		m->file = xstrdup(L->file);
		m->line = line;
		m->enabled = true; /* a [module] section enables it by default */
		s->index = L->n_mods++;
	} else if (kind == SECT_INSTANCE) {
		struct sbc_config *c = L->cfg;
		struct sbc_instance_conf *ni = realloc(
			c->instances, (c->n_instances + 1) * sizeof(*ni));
		if (!ni) {
			lerr(L, line, "out of memory");
			return false;
		}
		c->instances = ni;
		struct inst_extra *nx =
			realloc(L->ix, (c->n_instances + 1) * sizeof(*nx));
		if (!nx) {
			lerr(L, line, "out of memory");
			return false;
		}
		L->ix = nx;
		struct sbc_instance_conf *in = &c->instances[c->n_instances];
		memset(in, 0, sizeof(*in));
		memset(&L->ix[c->n_instances], 0, sizeof(struct inst_extra));
		in->name = xstrdup(name);
		in->file = xstrdup(L->file);
		in->line = line;
		in->max_concurrency = 8;
		in->timeout_ms = 30000;
		s->index = c->n_instances++;
	}
	/* add_sect may have moved the array: point at the stored copy. */
	L->cur = &L->sects[L->n_sects - 1];
	return true;
}

static void ev_error(void *user, int line, const char *what)
{
	struct loader *L = user;
	lerr(L, line, "%s", what);
}

static const struct sbc_ini_events events = {
	.section = ev_section,
	.error = ev_error,
};

/* ---- values: ${env:VAR} and ${file:PATH} ------------------------------- */

/* Resolve a whole-value reference.  Returns a malloc'd value or NULL with
 * an error added (never quoting the secret itself). *ref tells whether
 * the value was a reference. */
static char *resolve(struct loader *L, int line, const char *label,
		     const char *key, const char *v, bool *ref)
{
	*ref = false;
	if (strncmp(v, "${", 2) != 0)
		return strdup(v);
	size_t len = strlen(v);
	bool is_env = strncmp(v, "${env:", 6) == 0;
	bool is_file = strncmp(v, "${file:", 7) == 0;
	if ((!is_env && !is_file) || v[len - 1] != '}' ||
	    memchr(v + 2, '}', len - 3)) {
		lerr(L, line,
		     "%s %s: a value starting with '${' must be exactly "
		     "${env:VARIABLE} or ${file:PATH}",
		     label, key);
		return NULL;
	}
	*ref = true;
	if (is_env) {
		char *var = strndup(v + 6, len - 7);
		if (!var)
			return NULL;
		bool ok = var[0] != '\0';
		for (size_t i = 0; var[i]; i++) {
			char c = var[i];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			      c == '_' || (i > 0 && c >= '0' && c <= '9')))
				ok = false;
		}
		if (!ok) {
			lerr(L, line, "%s %s: invalid environment variable name",
			     label, key);
			free(var);
			return NULL;
		}
		const char *e = getenv(var);
		if (!e) {
			lerr(L, line,
			     "%s %s: environment variable %s is not set",
			     label, key, var);
			free(var);
			return NULL;
		}
		free(var);
		return strdup(e);
	}
	char *rel = strndup(v + 7, len - 8);
	if (!rel)
		return NULL;
	if (!*rel) {
		lerr(L, line, "%s %s: ${file:} needs a path", label, key);
		free(rel);
		return NULL;
	}
	char *path = abs_against(L->dir, rel);
	free(rel);
	if (!path)
		return NULL;
	int oerr;
	const char *okind;
	FILE *f = open_regular(path, &oerr, &okind);
	if (!f) {
		if (okind)
			lerr(L, line,
			     "%s %s: %s is %s, not a regular file", label,
			     key, path, okind);
		else
			lerr(L, line, "%s %s: cannot read %s: %s", label, key,
			     path, strerror(oerr));
		free(path);
		return NULL;
	}
	char *buf = malloc(SECRET_FILE_MAX + 2);
	size_t n = buf ? fread(buf, 1, SECRET_FILE_MAX + 1, f) : 0;
	int rerr = ferror(f);
	fclose(f);
	if (!buf || rerr) {
		lerr(L, line, "%s %s: cannot read %s", label, key, path);
		free(buf);
		free(path);
		return NULL;
	}
	if (n > SECRET_FILE_MAX) {
		lerr(L, line, "%s %s: %s is larger than %d bytes", label, key,
		     path, SECRET_FILE_MAX);
		free(buf);
		free(path);
		return NULL;
	}
	if (memchr(buf, '\0', n)) {
		lerr(L, line, "%s %s: %s contains a NUL byte", label, key,
		     path);
		free(buf);
		free(path);
		return NULL;
	}
	free(path);
	/* The line end(s) an editor leaves at the end are not part of the
	 * value. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return buf;
}

/* ---- key handlers ------------------------------------------------------ */

static void append_continuation(char **value, const char *more)
{
	size_t a = strlen(*value), b = strlen(more);
	char *nv = realloc(*value, a + b + 2);
	if (!nv)
		return;
	nv[a] = '\n';
	memcpy(nv + a + 1, more, b + 1);
	*value = nv;
}

static void server_key(struct loader *L, int line, const char *key,
		       const char *value, bool cont)
{
	struct sbc_config *c = L->cfg;
	int k;
	for (k = 0; k < SK_COUNT_; k++)
		if (strcmp(server_keys[k], key) == 0)
			break;
	if (k == SK_COUNT_) {
		if (cont)
			return; /* reported on the key's first line */
		lerr(L, line,
		     "[server] %s: unknown key; valid keys: listen, "
		     "module_dir, state_dir, workers, worker_stack, queue, "
		     "max_body, max_body_total, max_connections, "
		     "max_connections_per_ip, idle_timeout, log_level, "
		     "include",
		     key);
		return;
	}
	if (cont && k != SK_INCLUDE) {
		lerr(L, line,
		     "[server] %s: only list keys may continue on an indented "
		     "line",
		     key);
		return;
	}
	if (!cont && L->server_file[k]) {
		lerr(L, line, "[server] %s: set twice (first at %s:%d)", key,
		     L->server_file[k], L->server_line[k]);
		return;
	}
	if (!cont) {
		L->server_file[k] = xstrdup(L->file);
		L->server_line[k] = line;
	}
	if (k == SK_INCLUDE)
		return; /* globs are read after the file (see handler) */
	bool ref;
	char *v = resolve(L, line, "[server]", key, value, &ref);
	if (!v)
		return;
	char vs[80];
	shown_value(ref ? "value" : v, 60, vs, sizeof(vs));
	if (!*v && k != SK_MODULE_DIR && k != SK_STATE_DIR) {
		lerr(L, line,
		     "[server] %s: empty (give a value, or remove the line "
		     "for the default)",
		     key);
		free(v);
		return;
	}
	int64_t n;
	switch ((enum server_key)k) {
	case SK_LISTEN: {
		const char *colon = strrchr(v, ':');
		int64_t port;
		if (!colon || colon == v || !parse_int(colon + 1, &port) ||
		    port < 1 || port > 65535 || strpbrk(v, " \t")) {
			lerr(L, line,
			     "[server] listen: expected HOST:PORT such as "
			     "127.0.0.1:8780 or [::1]:8780");
			break;
		}
		free(c->listen);
		c->listen = v;
		v = NULL;
		break;
	}
	case SK_MODULE_DIR:
	case SK_STATE_DIR: {
		if (!*v) {
			lerr(L, line, "[server] %s: empty path", key);
			break;
		}
		char *p = abs_against(L->dir, v);
		char **dst = k == SK_MODULE_DIR ? &c->module_dir
						 : &c->state_dir;
		free(*dst);
		*dst = p;
		break;
	}
	case SK_WORKERS:
		if (!parse_int(v, &n) || n < 1 || n > 4096)
			lerr(L, line,
			     "[server] workers: %s is not a number in 1..4096",
			     vs);
		else
			c->workers = n;
		break;
	case SK_WORKER_STACK:
		if (!sbc_parse_size(v, &n) || n < 64 * 1024 ||
		    n > ((int64_t)64 << 20))
			lerr(L, line,
			     "[server] worker_stack: %s is not a size in "
			     "64KiB..64MiB (such as 256KiB)",
			     vs);
		else
			c->worker_stack = n;
		break;
	case SK_QUEUE:
		if (!parse_int(v, &n) || n < 0 || n > 100000)
			lerr(L, line,
			     "[server] queue: %s is not a number in 0..100000",
			     vs);
		else
			c->queue = n;
		break;
	case SK_MAX_BODY:
		if (!sbc_parse_size(v, &n) || n < 1024 ||
		    n > ((int64_t)1 << 30))
			lerr(L, line,
			     "[server] max_body: %s is not a size in "
			     "1KiB..1GiB (such as 32MiB)",
			     vs);
		else
			c->max_body = n;
		break;
	case SK_MAX_BODY_TOTAL:
		if (!sbc_parse_size(v, &n) || n < 1024 ||
		    n > ((int64_t)64 << 30))
			lerr(L, line,
			     "[server] max_body_total: %s is not a size in "
			     "1KiB..64GiB (such as 256MiB)",
			     vs);
		else
			c->max_body_total = n;
		break;
	case SK_MAX_CONNECTIONS:
	case SK_MAX_CONNECTIONS_PER_IP: {
		int64_t lo = k == SK_MAX_CONNECTIONS ? 1 : 0;
		if (!parse_int(v, &n) || n < lo || n > 100000)
			lerr(L, line,
			     "[server] %s: %s is not a number in %lld..100000",
			     key, vs, (long long)lo);
		else if (k == SK_MAX_CONNECTIONS)
			c->max_connections = n;
		else
			c->max_connections_per_ip = n;
		break;
	}
	case SK_IDLE_TIMEOUT:
		if (!sbc_parse_duration_ms(v, &n) || n < 1000 ||
		    n > 3600 * 1000)
			lerr(L, line,
			     "[server] idle_timeout: %s is not a duration in "
			     "1s..1h (such as 60s)",
			     vs);
		else
			c->idle_timeout_ms = n;
		break;
	case SK_LOG_LEVEL:
		if (!sbc_log_level_parse(v, &c->log_level))
			lerr(L, line,
			     "[server] log_level: expected one of error, "
			     "warn, info, debug");
		break;
	case SK_INCLUDE:
		/* Handled after the file: remember it as a pseudo-kv. */
		break;
	case SK_COUNT_:
		break;
	}
	free(v);
}

static void module_key(struct loader *L, int line, const char *key,
		       const char *value, bool cont)
{
	struct module_rec *m = &L->mods[L->cur->index];
	if (strcmp(key, "enabled") != 0) {
		if (cont)
			return; /* reported on the key's first line */
		lerr(L, line, "[module %s] %s: unknown key; valid keys: enabled",
		     m->name, key);
		return;
	}
	if (cont) {
		lerr(L, line,
		     "[module %s] enabled: only list keys may continue on an "
		     "indented line",
		     m->name);
		return;
	}
	if (m->seen_enabled) {
		lerr(L, line, "[module %s] enabled: set twice (first at %s:%d)",
		     m->name, m->enabled_file ? m->enabled_file : "?",
		     m->enabled_line);
		return;
	}
	m->seen_enabled = true;
	m->enabled_file = xstrdup(L->file);
	m->enabled_line = line;
	bool ref;
	char *v = resolve(L, line, "[module]", key, value, &ref);
	if (!v)
		return;
	if (!sbc_parse_bool(v, &m->enabled))
		lerr(L, line,
		     "[module %s] enabled: expected yes/no/true/false/on/off/"
		     "1/0",
		     m->name);
	free(v);
}

static void instance_key(struct loader *L, int line, const char *key,
			 const char *value, bool cont)
{
	struct sbc_instance_conf *in = &L->cfg->instances[L->cur->index];
	struct inst_extra *x = &L->ix[L->cur->index];
	char label[NAME_MAX_LEN + 16];
	snprintf(label, sizeof(label), "[instance %s]", in->name);

	bool is_broker = strcmp(key, "broker") == 0;
	bool is_mc = strcmp(key, "max_concurrency") == 0;
	bool is_to = strcmp(key, "timeout") == 0;
	if (cont) {
		if (is_broker || is_mc || is_to || in->n_kv == 0 ||
		    strcmp(in->kv[in->n_kv - 1].key, key) != 0) {
			lerr(L, line,
			     "%s %s: only list keys may continue on an "
			     "indented line",
			     label, key);
			return;
		}
		struct sbc_kv *kv = &in->kv[in->n_kv - 1];
		if (kv->secret_ref) {
			lerr(L, line,
			     "%s %s: a ${env:} or ${file:} value cannot "
			     "continue on an indented line",
			     label, key);
			return;
		}
		if (strncmp(value, "${", 2) == 0) {
			lerr(L, line,
			     "%s %s: ${env:} and ${file:} must be the whole "
			     "value",
			     label, key);
			return;
		}
		append_continuation(&kv->value, value);
		return;
	}
	bool ref;
	if (is_broker || is_mc || is_to) {
		char **seen_file = is_broker ? &x->broker_file
					     : is_mc ? &x->mc_file
						     : &x->timeout_file;
		int *seen_line = is_broker ? &x->broker_line
					   : is_mc ? &x->mc_line
						   : &x->timeout_line;
		if (*seen_file) {
			lerr(L, line, "%s %s: set twice (first at %s:%d)",
			     label, key, *seen_file, *seen_line);
			return;
		}
		*seen_file = xstrdup(L->file);
		*seen_line = line;
		char *v = resolve(L, line, label, key, value, &ref);
		if (!v)
			return;
		int64_t n;
		char vb[80];
		shown_value(ref ? "value" : v, 60, vb, sizeof(vb));
		if (is_broker) {
			if (!*v) {
				lerr(L, line,
				     "%s broker: empty (name the module this "
				     "instance runs, e.g. broker = smtp)",
				     label);
				free(v);
				return;
			}
			if (!name_ok(v, false)) {
				lerr(L, line,
				     "%s broker: '%s' is not a module name",
				     label, vb);
				free(v);
				return;
			}
			free(in->broker);
			in->broker = v;
			return;
		}
		if (!*v) {
			lerr(L, line, "%s %s: empty, expected %s", label, key,
			     is_mc ? "a whole number in 1..1024"
				   : "a duration in 1ms..1h (such as 30s)");
		} else if (is_mc) {
			if (!parse_int(v, &n))
				lerr(L, line,
				     "%s max_concurrency: %s is not a whole "
				     "number (expected 1..1024)",
				     label, vb);
			else if (n < 1 || n > 1024)
				lerr(L, line,
				     "%s max_concurrency: %s is out of range "
				     "1..1024",
				     label, vb);
			else
				in->max_concurrency = n;
		} else {
			if (!sbc_parse_duration_ms(v, &n))
				lerr(L, line,
				     "%s timeout: '%s' is not a duration (such "
				     "as 250ms, 30s, 5m, 1h)",
				     label, vb);
			else if (n < 1 || n > 3600000)
				lerr(L, line,
				     "%s timeout: %s is out of range 1ms..1h",
				     label, vb);
			else
				in->timeout_ms = n;
		}
		free(v);
		return;
	}
	for (size_t i = 0; i < in->n_kv; i++) {
		if (strcmp(in->kv[i].key, key) == 0) {
			lerr(L, line, "%s %s: set twice (first at %s:%d)", label,
			     key, in->kv[i].file, in->kv[i].line);
			return;
		}
	}
	char *v = resolve(L, line, label, key, value, &ref);
	if (!v)
		return;
	struct sbc_kv *nk = realloc(in->kv, (in->n_kv + 1) * sizeof(*nk));
	if (!nk) {
		free(v);
		lerr(L, line, "out of memory");
		return;
	}
	in->kv = nk;
	struct sbc_kv *kv = &in->kv[in->n_kv++];
	kv->key = xstrdup(key);
	kv->value = v;
	kv->file = xstrdup(L->file);
	kv->line = line;
	kv->secret_ref = ref;
}


static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	(void)section;
	struct loader *L = user;
	int line = L->rd->line;
	if (!L->cur) {
		lerr(L, line, "%s: key outside any section", name);
		return 1;
	}
	if (L->cur->kind == SECT_BAD)
		return 1;
	bool cont = L->rd->indented && L->prev_key &&
		    strcmp(L->prev_key, name) == 0;
	if (!cont) {
		free(L->prev_key);
		L->prev_key = xstrdup(name);
	}
	switch (L->cur->kind) {
	case SECT_SERVER:
		server_key(L, line, name, value, cont);
		if (strcmp(name, "include") == 0 && L->inc && *value) {
			struct includes *inc = L->inc;
			char **ng = realloc(inc->globs,
					    (inc->n + 1) * sizeof(*ng));
			int *nl = ng ? realloc(inc->lines,
					       (inc->n + 1) * sizeof(*nl))
				     : NULL;
			if (ng)
				inc->globs = ng;
			if (nl) {
				inc->lines = nl;
				inc->globs[inc->n] = xstrdup(value);
				inc->lines[inc->n] = line;
				inc->n++;
			}
		}
		break;
	case SECT_MODULE:
		module_key(L, line, name, value, cont);
		break;
	case SECT_INSTANCE:
		instance_key(L, line, name, value, cont);
		break;
	case SECT_BAD:
		break;
	}
	return 1;
}

static int read_file(struct loader *L, const char *path, int from_line,
		     const char *from_file);

/* A directory that does not exist matches nothing; any other error while
 * expanding an include stops it. */
static int glob_err(const char *path, int eerrno)
{
	(void)path;
	return eerrno != ENOENT && eerrno != ENOTDIR;
}

static void do_includes(struct loader *L, struct includes *inc,
			const char *file, const char *dir)
{
	for (size_t i = 0; i < inc->n; i++) {
		const char *g = inc->globs[i];
		if (strncmp(g, "${", 2) == 0)
			continue; /* not a path */
		char *pat = abs_against(dir, g);
		if (!pat)
			continue;
		glob_t gl;
		memset(&gl, 0, sizeof(gl));
		int rc = glob(pat, 0, glob_err, &gl);
		if (rc == GLOB_NOMATCH) {
			/* An empty conf.d is fine; a missing plain file not. */
			if (!strpbrk(g, "*?[")) {
				sbc_errlist_add(L->errs,
						"%s:%d: [server] include: %s "
						"does not exist",
						file, inc->lines[i], pat);
				L->nerr++;
			}
		} else if (rc != 0) {
			sbc_errlist_add(L->errs,
					"%s:%d: [server] include: cannot read "
					"%s",
					file, inc->lines[i], pat);
			L->nerr++;
		} else {
			/* glob() sorts its result: lexical order. */
			for (size_t k = 0; k < gl.gl_pathc; k++)
				read_file(L, gl.gl_pathv[k], inc->lines[i],
					  file);
		}
		globfree(&gl);
		free(pat);
	}
}

static int read_file(struct loader *L, const char *path, int from_line,
		     const char *from_file)
{
	char *abs = abs_path(path);
	if (!abs) {
		sbc_errlist_add(L->errs, "%s: out of memory", path);
		L->nerr++;
		return -1;
	}
	if (L->depth >= INCLUDE_DEPTH_MAX || L->n_files >= FILES_MAX) {
		sbc_errlist_add(L->errs,
				"%s:%d: [server] include: too many or too "
				"deeply nested includes (at %s)",
				from_file, from_line, abs);
		L->nerr++;
		free(abs);
		return -1;
	}
	int oerr;
	const char *okind;
	FILE *f = open_regular(abs, &oerr, &okind);
	if (!f) {
		if (from_file && okind)
			sbc_errlist_add(L->errs,
					"%s:%d: [server] include: %s is %s, "
					"not a regular file",
					from_file, from_line, abs, okind);
		else if (from_file)
			sbc_errlist_add(L->errs,
					"%s:%d: [server] include: cannot open "
					"%s: %s",
					from_file, from_line, abs,
					strerror(oerr));
		else if (okind)
			sbc_errlist_add(L->errs,
					"%s: cannot read: it is %s, not a "
					"regular file",
					abs, okind);
		else
			sbc_errlist_add(L->errs, "%s: cannot open: %s", abs,
					strerror(oerr));
		L->nerr++;
		free(abs);
		return -1;
	}
	char *real = realpath(abs, NULL);
	for (size_t i = 0; real && i < L->n_files; i++) {
		if (strcmp(L->files[i], real) == 0) {
			sbc_errlist_add(L->errs,
					"%s:%d: [server] include: %s is read "
					"twice (included more than once or in "
					"a loop)",
					from_file ? from_file : abs, from_line,
					abs);
			L->nerr++;
			free(real);
			free(abs);
			fclose(f);
			return -1;
		}
	}
	char **nf = real ? realloc(L->files, (L->n_files + 1) * sizeof(*nf))
			 : NULL;
	if (nf) {
		L->files = nf;
		L->files[L->n_files++] = real;
	} else {
		free(real);
	}

	/* Save the including file's state. */
	const char *saved_file = L->file;
	char *saved_dir = L->dir;
	struct sbc_ini_reader *saved_rd = L->rd;
	struct sect *saved_cur = L->cur;
	char *saved_prev = L->prev_key;
	struct includes *saved_inc = L->inc;
	size_t saved_cur_i = saved_cur && saved_cur->kind != SECT_BAD &&
					     L->n_sects
				     ? (size_t)(saved_cur - L->sects)
				     : SIZE_MAX;

	struct includes inc = {0};
	struct sbc_ini_reader *rd = malloc(sizeof(*rd));
	if (!rd) {
		fclose(f);
		free(abs);
		return -1;
	}
	L->file = abs;
	L->dir = dir_of(abs);
	L->rd = rd;
	L->cur = NULL;
	L->prev_key = NULL;
	L->inc = &inc;
	L->depth++;

	sbc_ini_parse(f, &events, L, handler, rd);
	fclose(f);

	L->inc = NULL;
	free(L->prev_key);
	L->prev_key = NULL;
	do_includes(L, &inc, abs, L->dir);
	for (size_t i = 0; i < inc.n; i++)
		free(inc.globs[i]);
	free(inc.globs);
	free(inc.lines);
	L->depth--;

	free(L->dir);
	free(rd);
	L->file = saved_file;
	L->dir = saved_dir;
	L->rd = saved_rd;
	L->cur = saved_cur_i != SIZE_MAX ? &L->sects[saved_cur_i] : saved_cur;
	L->prev_key = saved_prev;
	L->inc = saved_inc;
	/* abs stays alive: messages and kv entries were copied, but keep
	 * the name list owned by the loader for simplicity. */
	free(abs);
	return 0;
}

void sbc_config_free(struct sbc_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->listen);
	free(c->module_dir);
	free(c->state_dir);
	for (size_t i = 0; c->modules && c->modules[i]; i++)
		free(c->modules[i]);
	free(c->modules);
	for (size_t i = 0; i < c->n_instances; i++) {
		struct sbc_instance_conf *in = &c->instances[i];
		free(in->name);
		free(in->broker);
		free(in->file);
		for (size_t k = 0; k < in->n_kv; k++) {
			free(in->kv[k].key);
			/* Wipe values: some are secrets. */
			if (in->kv[k].value) {
				explicit_bzero(in->kv[k].value,
					       strlen(in->kv[k].value));
				free(in->kv[k].value);
			}
			free(in->kv[k].file);
		}
		free(in->kv);
	}
	free(c->instances);
	free(c);
}

static void loader_free(struct loader *L)
{
	for (size_t i = 0; i < L->n_sects; i++) {
		free(L->sects[i].name);
		free(L->sects[i].file);
	}
	free(L->sects);
	for (size_t i = 0; i < L->n_mods; i++) {
		free(L->mods[i].name);
		free(L->mods[i].file);
		free(L->mods[i].enabled_file);
	}
	free(L->mods);
	if (L->cfg) {
		for (size_t i = 0; i < L->cfg->n_instances; i++) {
			free(L->ix[i].broker_file);
			free(L->ix[i].mc_file);
			free(L->ix[i].timeout_file);
		}
	}
	free(L->ix);
	for (int k = 0; k < SK_COUNT_; k++)
		free(L->server_file[k]);
	for (size_t i = 0; i < L->n_files; i++)
		free(L->files[i]);
	free(L->files);
	free(L->prev_key);
}

int sbc_config_load(const char *path, struct sbc_config **out,
		    struct sbc_errlist *errs)
{
	*out = NULL;
	struct sbc_config *c = calloc(1, sizeof(*c));
	if (!c) {
		sbc_errlist_add(errs, "out of memory");
		return -1;
	}
	struct loader L;
	memset(&L, 0, sizeof(L));
	L.cfg = c;
	L.errs = errs;
	c->path = abs_path(path);
	c->workers = 16;
	c->worker_stack = (int64_t)256 << 10;
	c->queue = 1024;
	c->max_body = (int64_t)40 << 20; /* a 25 MiB file, base64, fits */
	c->max_body_total = (int64_t)256 << 20;
	c->max_connections = 4096;
	c->max_connections_per_ip = 0;
	c->idle_timeout_ms = 60 * 1000;
	c->log_level = SB_LOG_INFO;
	if (!c->path) {
		sbc_errlist_add(errs, "%s: out of memory", path);
		sbc_config_free(c);
		return -1;
	}
	L.file = c->path;
	read_file(&L, c->path, 0, NULL);

	/* Defaults. */
	if (!c->listen)
		c->listen = strdup(DEFAULT_LISTEN);
	if (!c->module_dir)
		c->module_dir = strdup(SB_DEFAULT_MODULE_DIR);
	if (c->max_body_total < c->max_body) {
		int k = L.server_file[SK_MAX_BODY_TOTAL] ? SK_MAX_BODY_TOTAL
							 : SK_MAX_BODY;
		sbc_errlist_add(errs,
				"%s:%d: [server] max_body_total (%lld bytes) "
				"is less than max_body (%lld bytes): one "
				"request could never be read",
				L.server_file[k] ? L.server_file[k] : c->path,
				L.server_line[k], (long long)c->max_body_total,
				(long long)c->max_body);
		L.nerr++;
	}

	/* Enabled modules. */
	size_t ne = 0;
	c->modules = calloc(L.n_mods + 1, sizeof(char *));
	for (size_t i = 0; c->modules && i < L.n_mods; i++)
		if (L.mods[i].enabled)
			c->modules[ne++] = xstrdup(L.mods[i].name);

	/* Every instance names an enabled module. */
	for (size_t i = 0; i < c->n_instances; i++) {
		struct sbc_instance_conf *in = &c->instances[i];
		if (!in->broker && L.ix[i].broker_file)
			continue; /* a bad value, reported where it is set */
		if (!in->broker) {
			sbc_errlist_add(errs,
					"%s:%d: [instance %s] broker: missing "
					"(name the module this instance runs, "
					"e.g. broker = smtp)",
					in->file, in->line, in->name);
			L.nerr++;
			continue;
		}
		bool found = false, enabled = false;
		for (size_t k = 0; k < L.n_mods; k++) {
			if (strcmp(L.mods[k].name, in->broker) == 0) {
				found = true;
				enabled = L.mods[k].enabled;
			}
		}
		if (!enabled) {
			sbc_errlist_add(
				errs,
				"%s:%d: [instance %s] broker: module %s is %s: "
				"add [module %s] with enabled = yes",
				L.ix[i].broker_file ? L.ix[i].broker_file
						    : in->file,
				L.ix[i].broker_line ? L.ix[i].broker_line
						    : in->line,
				in->name, in->broker,
				found ? "not enabled" : "not configured",
				in->broker);
			L.nerr++;
		}
	}
	bool failed = L.nerr > 0 || !c->listen || !c->module_dir ||
		      !c->modules;
	loader_free(&L);
	if (failed) {
		if (L.nerr == 0)
			sbc_errlist_add(errs, "out of memory");
		sbc_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

/* ---- binding an instance to its broker's key table -------------------- */

struct binder {
	const struct sbc_instance_conf *inst;
	struct sbc_errlist *errs;
	int nerr;
};

static void berr(struct binder *B, const char *file, int line,
		 const char *key, const char *fmt, ...) SB_PRINTF(5, 6);
static void berr(struct binder *B, const char *file, int line,
		 const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sbc_errlist_add(B->errs, "%s:%d: [instance %s] %s: %s",
			file ? file : "?", line, B->inst->name, key, msg);
	B->nerr++;
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
				char **no = realloc(out,
						    (cap + 1) * sizeof(char *));
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
		int w = snprintf(buf + o, n - o, "%s%s", i ? ", " : "",
				 names[i]);
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
		return sbc_parse_duration_ms(v, n);
	case SB_CONF_SIZE:
		*kind = "size (such as 512, 64KiB, 10MiB)";
		return sbc_parse_size(v, n);
	default:
		*kind = "whole number";
		return parse_int(v, n);
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
		fmt_duration(k->min, a, sizeof(a));
		fmt_duration(k->max, b, sizeof(b));
		break;
	case SB_CONF_SIZE:
		fmt_size(k->min, a, sizeof(a));
		fmt_size(k->max, b, sizeof(b));
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
		     void *conf, const char *v, bool secret_ref,
		     const char *file, int line, const char *what)
{
	char *field = (char *)conf + k->offset;
	bool secret = (k->flags & SB_CONF_SECRET) || secret_ref;
	char shown[96];
	if (secret) {
		snprintf(shown, sizeof(shown), "the %svalue", what);
	} else {
		char sv[64];
		shown_value(v, 60, sv, sizeof(sv));
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
		if (!sbc_parse_bool(v, &b)) {
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
		char *dir = file ? dir_of(file) : NULL;
		char *p = dir ? abs_against(dir, v) : abs_path(v);
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
		if (!url_ok(v, k->choices, &scheme_bad)) {
			if (scheme_bad) {
				char ch[400];
				join(ch, sizeof(ch), k->choices);
				berr(B, file, line, k->key,
				     "%s: URL scheme must be one of %s",
				     shown, ch);
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
	}
	berr(B, file, line, k->key, "unknown key type");
}

void sbc_config_unbind(const struct sb_config_key *table, void *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; table && table[i].key; i++) {
		const struct sb_config_key *k = &table[i];
		char *field = (char *)conf + k->offset;
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
	free(conf);
}

static size_t field_size(enum sb_conf_type t)
{
	switch (t) {
	case SB_CONF_STRING:
	case SB_CONF_PATH:
	case SB_CONF_URL:
		return sizeof(char *);
	case SB_CONF_LIST:
		return sizeof(char **);
	case SB_CONF_INT:
	case SB_CONF_DURATION:
	case SB_CONF_SIZE:
		return sizeof(int64_t);
	case SB_CONF_BOOL:
		return sizeof(bool);
	case SB_CONF_ENUM:
		return sizeof(int);
	}
	return 0;
}

int sbc_config_bind(const struct sb_config_key *table, size_t config_size,
		    const struct sbc_instance_conf *inst, void **out,
		    struct sbc_errlist *errs)
{
	*out = NULL;
	struct binder B = {.inst = inst, .errs = errs};
	/* The table itself must fit the struct (a broker bug otherwise). */
	for (size_t i = 0; table && table[i].key; i++) {
		size_t fs = field_size(table[i].type);
		if (fs == 0 || table[i].offset > config_size ||
		    config_size - table[i].offset < fs) {
			berr(&B, inst->file, inst->line, table[i].key,
			     "the broker's key table does not fit its config "
			     "struct (offset %zu, size %zu)",
			     table[i].offset, config_size);
			return -1;
		}
	}
	void *conf = calloc(1, config_size ? config_size : 1);
	if (!conf) {
		sbc_errlist_add(errs, "[instance %s]: out of memory",
				inst->name);
		return -1;
	}
	/* Every given key must exist in the table. */
	for (size_t i = 0; i < inst->n_kv; i++) {
		const struct sbc_kv *kv = &inst->kv[i];
		const struct sb_config_key *k = NULL;
		for (size_t j = 0; table && table[j].key; j++)
			if (strcmp(table[j].key, kv->key) == 0)
				k = &table[j];
		if (!k) {
			char valid[1024];
			size_t o = 0;
			valid[0] = '\0';
			for (size_t j = 0; table && table[j].key &&
					   o < sizeof(valid);
			     j++) {
				int w = snprintf(valid + o, sizeof(valid) - o,
						 "%s, ", table[j].key);
				if (w > 0)
					o += (size_t)w;
			}
			if (o < sizeof(valid))
				snprintf(valid + o, sizeof(valid) - o,
					 "broker, max_concurrency, timeout");
			berr(&B, kv->file, kv->line, kv->key,
			     "unknown key; valid keys: %s", valid);
			continue;
		}
		bind_one(&B, k, conf, kv->value, kv->secret_ref, kv->file,
			 kv->line, "");
	}
	/* Defaults and required keys. */
	for (size_t j = 0; table && table[j].key; j++) {
		const struct sb_config_key *k = &table[j];
		bool given = false;
		for (size_t i = 0; i < inst->n_kv; i++)
			if (strcmp(inst->kv[i].key, k->key) == 0)
				given = true;
		if (given)
			continue;
		if (k->flags & SB_CONF_REQUIRED) {
			berr(&B, inst->file, inst->line, k->key,
			     "missing (required: %s)",
			     k->doc ? k->doc : "no description");
			continue;
		}
		if (k->def)
			bind_one(&B, k, conf, k->def, false, inst->file,
				 inst->line, "default ");
	}
	if (B.nerr > 0) {
		sbc_config_unbind(table, conf);
		return -1;
	}
	*out = conf;
	return 0;
}
