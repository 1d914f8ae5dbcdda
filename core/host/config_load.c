/* Reading the INI configuration: files and includes, [server], [module NAME]
 * and [instance NAME] sections, ${env:}/${file:} references, and binding the
 * host's own keys ([server], [module], and the host keys of every instance)
 * through the same typed key tables brokers use (<svcbroker/conf.h>).  A
 * broker's own keys are bound in config_bind.c once its module is loaded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
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

#include "host.h"
#include "ini_reader.h"

#define INCLUDE_DEPTH_MAX 8
#define FILES_MAX 256
#define SECRET_FILE_MAX (64 * 1024)
#define NAME_MAX_LEN 64

/* ---- the host's key tables ----------------------------------------------- */

static const char *const log_levels[] = {"error", "warn", "info", "debug",
					 NULL};
/* [server] log_format: the order is enum sbc_log_format (host.h) */
static const char *const log_formats[] = {"text", "json", NULL};
/* [server] console: the order is enum sbc_console_mode (host.h) */
static const char *const console_modes[] = {"loopback", "on", "off", NULL};

#define SRV(f) offsetof(struct sbc_config, f)
const struct sb_config_key sbc_server_keys[] = {
    {.key = "listen",
     .type = SB_CONF_STRING,
     .def = "127.0.0.1:8780",
     .doc = "Address the HTTP/JSON API listens on: HOST:PORT, "
	    "[IPv6]:PORT or :PORT for every address.",
     .offset = SRV(listen)},
    {.key = "module_dir",
     .type = SB_CONF_PATH,
     .def = SB_DEFAULT_MODULE_DIR,
     .doc = "Directory the broker modules are loaded from.",
     .offset = SRV(module_dir)},
    {.key = "state_dir",
     .type = SB_CONF_PATH,
     .doc = "Directory under which each instance may keep state across "
	    "restarts (one subdirectory per instance); none by default.",
     .offset = SRV(state_dir)},
    {.key = "workers",
     .type = SB_CONF_INT,
     .def = "16",
     .min = 1,
     .max = 4096,
     .doc = "Executor threads: how many calls run at once in total.",
     .offset = SRV(workers)},
    {.key = "worker_stack",
     .type = SB_CONF_SIZE,
     .def = "256KiB",
     .min = 64 * 1024,
     .max = (int64_t)64 << 20,
     .doc = "Stack size of each executor thread; memory is committed "
	    "only as a stack is used.",
     .offset = SRV(worker_stack)},
    {.key = "queue",
     .type = SB_CONF_INT,
     .def = "1024",
     .min = 0,
     .max = 100000,
     .doc = "Calls allowed to wait for a worker; past it calls are "
	    "answered 503 busy.",
     .offset = SRV(queue)},
    {.key = "max_body",
     .type = SB_CONF_SIZE,
     .def = "40MiB",
     .min = 1024,
     .max = (int64_t)1 << 30,
     .doc = "Largest request body; larger requests are answered 413.",
     .offset = SRV(max_body)},
    {.key = "max_body_total",
     .type = SB_CONF_SIZE,
     .def = "256MiB",
     .min = 1024,
     .max = (int64_t)64 << 30,
     .doc = "Request body bytes held at once over all connections; past "
	    "it requests are answered 503.",
     .offset = SRV(max_body_total)},
    {.key = "max_connections",
     .type = SB_CONF_INT,
     .def = "4096",
     .min = 1,
     .max = 100000,
     .doc = "Open client connections; a connection past it is closed at "
	    "once.",
     .offset = SRV(max_connections)},
    {.key = "max_connections_per_ip",
     .type = SB_CONF_INT,
     .def = "0",
     .min = 0,
     .max = 100000,
     .doc = "Open connections from one client address (0: no limit).",
     .offset = SRV(max_connections_per_ip)},
    {.key = "idle_timeout",
     .type = SB_CONF_DURATION,
     .def = "60s",
     .min = 1000,
     .max = 3600 * 1000,
     .doc = "A connection silent this long is closed.",
     .offset = SRV(idle_timeout_ms)},
    {.key = "module_load_timeout",
     .type = SB_CONF_DURATION,
     .def = "10s",
     .min = 1000,
     .max = 600 * 1000,
     .doc = "How long --check and --list-brokers let a module file load "
	    "(in a child process, so that a constructor that crashes or "
	    "hangs is reported, not fatal).",
     .offset = SRV(module_load_timeout_ms)},
    {.key = "log_level",
     .type = SB_CONF_ENUM,
     .def = "info",
     .choices = log_levels,
     .doc = "Messages logged: error, warn, info or debug.",
     .offset = SRV(log_level)},
    {.key = "log_format",
     .type = SB_CONF_ENUM,
     .def = "text",
     .choices = log_formats,
     .doc = "Shape of the log lines: text (one line per message; with a "
	    "<N> priority prefix and no timestamp when stderr is the "
	    "journal) or json (one JSON object per line, for log "
	    "shippers).",
     .offset = SRV(log_format)},
    {.key = "console",
     .type = SB_CONF_ENUM,
     .def = "loopback",
     .choices = console_modes,
     .doc = "The web console at /ui/: loopback serves it only while "
	    "listen is a loopback address, on serves it on any address, "
	    "off never.",
     .offset = SRV(console)},
    {.key = "console_dir",
     .type = SB_CONF_PATH,
     .def = SB_DEFAULT_CONSOLE_DIR,
     .doc = "Directory of the web console's own files (index.html, "
	    "app.js, ...).",
     .offset = SRV(console_dir)},
    {.key = "console_libs",
     .type = SB_CONF_PATH,
     .def = SB_DEFAULT_JAVASCRIPT_DIR,
     .doc = "Directory of the JavaScript libraries the console uses, as "
	    "Debian installs them (bootstrap5/, chart.js/); served under "
	    "/ui/lib/.",
     .offset = SRV(console_libs)},
    {.key = "tls_cert",
     .type = SB_CONF_PATH,
     .doc = "PEM certificate (chain) the API serves HTTPS with; with "
	    "tls_key.  Read again on reload, so a renewed certificate is "
	    "taken without a restart.",
     .offset = SRV(tls_cert)},
    {.key = "tls_key",
     .type = SB_CONF_PATH,
     .doc = "PEM private key of tls_cert.",
     .offset = SRV(tls_key)},
    {.key = "tls_client_ca",
     .type = SB_CONF_PATH,
     .doc = "PEM authorities whose client certificates are accepted "
	    "(mutual TLS); a client presenting none is still served and "
	    "authenticates with a token.",
     .offset = SRV(tls_client_ca)},
    {.key = "allow_insecure",
     .type = SB_CONF_BOOL,
     .def = "no",
     .doc = "Serve a non-loopback listen address without TLS and without "
	    "[client] sections (refused otherwise, at start and at a "
	    "reload; warned at every start and reload).",
     .offset = SRV(allow_insecure)},
    {.key = "cors_origins",
     .type = SB_CONF_LIST,
     .doc = "Origins (https://app.example.com) whose browser pages may "
	    "call the API; none by default.",
     .offset = SRV(cors_origins)},
    {.key = "access_log",
     .type = SB_CONF_BOOL,
     .def = "yes",
     .doc = "Log a line per request at info: method, path, status, "
	    "duration, bytes, client, request id and the peer's address.",
     .offset = SRV(access_log)},
    {.key = "audit_log",
     .type = SB_CONF_BOOL,
     .def = "yes",
     .doc = "Log the audit line of every call (client, call, Mailbox, "
	    "status, request id) whatever log_level says; no: only while "
	    "log_level is info or debug.",
     .offset = SRV(audit_log)},
    {.key = "include",
     .type = SB_CONF_LIST,
     .doc = "More configuration files: glob patterns relative to the "
	    "including file, read in lexical order; they may hold any "
	    "section and include further files.",
     .offset = SRV(include)},
    SB_CONF_END,
};
#undef SRV

struct module_conf {
	bool enabled;
};
const struct sb_config_key sbc_module_keys[] = {
    {.key = "enabled",
     .type = SB_CONF_BOOL,
     .def = "yes",
     .doc = "Whether the module is loaded; only enabled modules may have "
	    "instances.",
     .offset = offsetof(struct module_conf, enabled)},
    SB_CONF_END,
};

#define CLI(f) offsetof(struct sbc_client_conf, f)
const struct sb_config_key sbc_client_keys[] = {
    {.key = "token_sha256",
     .type = SB_CONF_STRING,
     .doc = "SHA-256 of the client's bearer token, 64 hexadecimal digits "
	    "(printf %s \"$TOKEN\" | sha256sum); the token itself is "
	    "never stored.",
     .offset = CLI(token_sha256)},
    {.key = "cert_subject",
     .type = SB_CONF_STRING,
     .doc = "Subject of the client's certificate as RFC 2253 writes it "
	    "(CN=app1,O=Example), verified against tls_client_ca.",
     .offset = CLI(cert_subject)},
    {.key = "allow",
     .type = SB_CONF_LIST,
     .doc = "Methods the client may call: instance/Object.Method "
	    "patterns where * matches any run of characters "
	    "(local/Email.*, */*.*); none by default.",
     .offset = CLI(allow)},
    {.key = "mailboxes",
     .type = SB_CONF_LIST,
     .def = "default",
     .doc = "Mailboxes the client may act for: addresses and *@domain "
	    "it may name in a Mailbox input, * for any, default for calls "
	    "that name none (the instance's own mailbox, the only one by "
	    "default); none (or an empty value) for no mailbox at all.",
     .offset = CLI(mailboxes)},
    {.key = "max_calls_per_minute",
     .type = SB_CONF_INT,
     .def = "0",
     .min = 0,
     .max = 1000000,
     .doc = "Calls the client may make in a minute; past it 429 (0: no "
	    "limit).",
     .offset = CLI(max_calls_per_minute)},
    SB_CONF_END,
};
#undef CLI

#define INST(f) offsetof(struct sbc_instance_conf, f)
const struct sb_config_key sbc_instance_host_keys[] = {
    {.key = "broker",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_REQUIRED,
     .doc = "The module this instance runs, e.g. broker = smtp.",
     .offset = INST(broker)},
    {.key = "max_concurrency",
     .type = SB_CONF_INT,
     .def = "8",
     .min = 1,
     .max = 1024,
     .doc = "Calls of this instance that run at once; more wait.",
     .offset = INST(max_concurrency)},
    {.key = "timeout",
     .type = SB_CONF_DURATION,
     .def = "30s",
     .min = 1,
     .max = 3600 * 1000,
     .doc = "Deadline of each call of this instance; past it the client "
	    "gets 504.",
     .offset = INST(timeout_ms)},
    SB_CONF_END,
};
#undef INST

bool sbc_is_host_key(const char *key)
{
	for (size_t i = 0; sbc_instance_host_keys[i].key; i++)
		if (strcmp(sbc_instance_host_keys[i].key, key) == 0)
			return true;
	return false;
}

/* ---- paths ------------------------------------------------------------ */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

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

enum sect_kind {
	SECT_BAD = 0,
	SECT_SERVER,
	SECT_MODULE,
	SECT_INSTANCE,
	SECT_CLIENT
};

/* One section as read: its keys in file order. */
struct sect {
	enum sect_kind kind;
	char *name; /* module/instance name; "" for [server] */
	char *file;
	int line;
	struct sbc_kv *kv;
	size_t n_kv;
};

/* include values of the file being read, in order. */
struct includes {
	char **globs;
	size_t n;
	int *lines;
	int first_line; /* where include was set in this file; 0: not yet */
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
	case SECT_CLIENT:
		snprintf(buf, n, "[client %s]", s->name);
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
		     "[module NAME], [instance NAME] or [client NAME])",
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
	} else if (strcmp(type, "client") == 0) {
		kind = SECT_CLIENT;
		if (!name_ok(name, true)) {
			lerr(L, line,
			     "[client %.80s]: invalid client name (expected "
			     "[a-z0-9][a-z0-9_-]*, at most %d characters)",
			     name, NAME_MAX_LEN);
			return false;
		}
	} else {
		lerr(L, line,
		     "[%.80s]: unknown section type '%s' (expected [server], "
		     "[module NAME], [instance NAME] or [client NAME])",
		     text, type);
		return false;
	}
	/* [server] may appear in several files (each key is set once);
	 * a module or instance is defined once. */
	for (size_t i = 0; kind != SECT_SERVER && i < L->n_sects; i++) {
		struct sect *s = &L->sects[i];
		if (s->kind != kind || strcmp(s->name, name) != 0)
			continue;
		char lb[128];
		lerr(L, line, "%s is defined twice: first at %s:%d, again here",
		     sect_label(s, lb, sizeof(lb)), s->file, s->line);
		return false;
	}
	struct sect *s =
	    add_sect(L, kind, kind == SECT_SERVER ? "" : name, line);
	if (!s) {
		lerr(L, line, "out of memory");
		return false;
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
			if (!((c >= 'A' && c <= 'Z') ||
			      (c >= 'a' && c <= 'z') || c == '_' ||
			      (i > 0 && c >= '0' && c <= '9')))
				ok = false;
		}
		if (!ok) {
			lerr(L, line,
			     "%s %s: invalid environment variable name", label,
			     key);
			free(var);
			return NULL;
		}
		const char *e = getenv(var);
		if (!e) {
			lerr(L, line,
			     "%s %s: environment variable %s is not set", label,
			     key, var);
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
	char *path = sb_path_against(L->dir, rel);
	free(rel);
	if (!path)
		return NULL;
	int oerr;
	const char *okind;
	FILE *f = open_regular(path, &oerr, &okind);
	if (!f) {
		if (okind)
			lerr(L, line, "%s %s: %s is %s, not a regular file",
			     label, key, path, okind);
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

/* ---- keys ------------------------------------------------------------- */

static void kv_free(struct sbc_kv *kv)
{
	free(kv->key);
	/* Wipe values: some are secrets. */
	if (kv->value) {
		explicit_bzero(kv->value, strlen(kv->value));
		free(kv->value);
	}
	free(kv->file);
}

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

/* Where key was set before in this section (every [server] section counts
 * as one), or NULL. */
static const struct sbc_kv *set_before(const struct loader *L, const char *key)
{
	for (size_t s = 0; s < L->n_sects; s++) {
		const struct sect *x = &L->sects[s];
		if (x != L->cur &&
		    !(L->cur->kind == SECT_SERVER && x->kind == SECT_SERVER))
			continue;
		for (size_t i = 0; i < x->n_kv; i++)
			if (strcmp(x->kv[i].key, key) == 0)
				return &x->kv[i];
	}
	return NULL;
}

/* [server] include: globs of this file, read after it. */
static void include_key(struct loader *L, int line, const char *value,
			bool cont)
{
	struct includes *inc = L->inc;
	if (!inc)
		return;
	if (!cont && inc->first_line) {
		lerr(L, line, "[server] include: set twice (first at %s:%d)",
		     L->file, inc->first_line);
		return;
	}
	if (!cont)
		inc->first_line = line;
	if (strncmp(value, "${", 2) == 0) {
		lerr(L, line,
		     "[server] include: takes paths or glob patterns, not "
		     "${env:} or ${file:}");
		return;
	}
	/* One value may list several patterns: "a.ini, conf.d/\*.ini". */
	const char *p = value;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *a = p, *b = p + len;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			char **ng =
			    realloc(inc->globs, (inc->n + 1) * sizeof(*ng));
			if (!ng)
				return;
			inc->globs = ng;
			int *nl =
			    realloc(inc->lines, (inc->n + 1) * sizeof(*nl));
			if (!nl)
				return;
			inc->lines = nl;
			inc->globs[inc->n] = strndup(a, (size_t)(b - a));
			inc->lines[inc->n] = line;
			if (inc->globs[inc->n])
				inc->n++;
		}
		p += len;
		if (*p)
			p++;
	}
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
	struct sect *s = L->cur;
	if (s->kind == SECT_BAD)
		return 1;
	bool cont =
	    L->rd->indented && L->prev_key && strcmp(L->prev_key, name) == 0;
	if (!cont) {
		free(L->prev_key);
		L->prev_key = xstrdup(name);
	}
	char label[NAME_MAX_LEN + 16];
	if (s->kind == SECT_SERVER)
		snprintf(label, sizeof(label), "[server]");
	else
		snprintf(label, sizeof(label), "[%s %s]",
			 s->kind == SECT_MODULE	  ? "module"
			 : s->kind == SECT_CLIENT ? "client"
						  : "instance",
			 s->name);
	if (s->kind == SECT_SERVER && strcmp(name, "include") == 0) {
		include_key(L, line, value, cont);
		return 1;
	}
	if (cont) {
		/* A list key continues on an indented line; the binder refuses
		 * the newline for any other type. */
		if (s->n_kv == 0 || strcmp(s->kv[s->n_kv - 1].key, name) != 0)
			return 1;
		struct sbc_kv *kv = &s->kv[s->n_kv - 1];
		if (kv->secret_ref) {
			lerr(L, line,
			     "%s %s: a ${env:} or ${file:} value cannot "
			     "continue on an indented line",
			     label, name);
			return 1;
		}
		if (strncmp(value, "${", 2) == 0) {
			lerr(L, line,
			     "%s %s: ${env:} and ${file:} must be the whole "
			     "value",
			     label, name);
			return 1;
		}
		append_continuation(&kv->value, value);
		return 1;
	}
	const struct sbc_kv *prev = set_before(L, name);
	if (prev) {
		lerr(L, line, "%s %s: set twice (first at %s:%d)", label, name,
		     prev->file, prev->line);
		return 1;
	}
	bool ref;
	char *v = resolve(L, line, label, name, value, &ref);
	if (!v)
		return 1;
	struct sbc_kv *nk = realloc(s->kv, (s->n_kv + 1) * sizeof(*nk));
	if (!nk) {
		free(v);
		lerr(L, line, "out of memory");
		return 1;
	}
	s->kv = nk;
	struct sbc_kv *kv = &s->kv[s->n_kv++];
	kv->key = xstrdup(name);
	kv->value = v;
	kv->file = xstrdup(L->file);
	kv->line = line;
	kv->secret_ref = ref;
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
		char *pat = sb_path_against(dir, g);
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
	char *abs = sb_path_absolute(path);
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
	char **nf =
	    real ? realloc(L->files, (L->n_files + 1) * sizeof(*nf)) : NULL;
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
	size_t saved_cur_i =
	    saved_cur && saved_cur->kind != SECT_BAD && L->n_sects
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
	L->dir = sb_path_dir(abs);
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
	sb_conf_release(sbc_server_keys, c, sizeof(*c));
	for (size_t i = 0; c->modules && c->modules[i]; i++)
		free(c->modules[i]);
	free(c->modules);
	for (size_t i = 0; i < c->n_instances; i++) {
		struct sbc_instance_conf *in = &c->instances[i];
		free(in->name);
		sb_conf_release(sbc_instance_host_keys, in, sizeof(*in));
		free(in->file);
		for (size_t k = 0; k < in->n_kv; k++)
			kv_free(&in->kv[k]);
		free(in->kv);
	}
	free(c->instances);
	for (size_t i = 0; i < c->n_clients; i++) {
		struct sbc_client_conf *cl = &c->clients[i];
		free(cl->name);
		free(cl->file);
		sb_conf_release(sbc_client_keys, cl, sizeof(*cl));
	}
	free(c->clients);
	free(c);
}

static void loader_free(struct loader *L)
{
	for (size_t i = 0; i < L->n_sects; i++) {
		free(L->sects[i].name);
		free(L->sects[i].file);
		for (size_t k = 0; k < L->sects[i].n_kv; k++)
			kv_free(&L->sects[i].kv[k]);
		free(L->sects[i].kv);
	}
	free(L->sects);
	for (size_t i = 0; i < L->n_files; i++)
		free(L->files[i]);
	free(L->files);
	free(L->prev_key);
}

static void report(void *ctx, const char *msg)
{
	struct loader *L = ctx;
	sbc_errlist_add(L->errs, "%s", msg);
	L->nerr++;
}

/* The sb_conf_kv view of kv[0..n) for which host(key) == want. */
static size_t kv_view(const struct sbc_kv *kv, size_t n, int want,
		      struct sb_conf_kv *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (want >= 0 && sbc_is_host_key(kv[i].key) != (want == 1))
			continue;
		out[o++] =
		    (struct sb_conf_kv){kv[i].key, kv[i].value, kv[i].file,
					kv[i].line, kv[i].secret_ref};
	}
	return o;
}

static bool listen_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	int64_t port;
	return colon && colon != v && sb_parse_int64(colon + 1, &port) &&
	       port >= 1 && port <= 65535 && !strpbrk(v, " \t");
}

/* [server]: every [server] section's keys together, then the checks that
 * span keys.  Where a key was set, for messages. */
static void bind_server(struct loader *L, struct sbc_config *c)
{
	size_t n = 0;
	for (size_t s = 0; s < L->n_sects; s++)
		if (L->sects[s].kind == SECT_SERVER)
			n += L->sects[s].n_kv;
	struct sb_conf_kv *view = calloc(n + 1, sizeof(*view));
	if (!view) {
		report(L, "out of memory");
		return;
	}
	size_t o = 0;
	for (size_t s = 0; s < L->n_sects; s++)
		if (L->sects[s].kind == SECT_SERVER)
			o += kv_view(L->sects[s].kv, L->sects[s].n_kv, -1,
				     view + o);
	struct sb_conf_where where = {
	    .label = "[server]", .file = c->path, .line = 0};
	sb_conf_bind(sbc_server_keys, c, sizeof(*c), view, o, &where, report,
		     L);
	const struct sb_conf_kv *at_listen = NULL, *at_total = NULL,
				*at_body = NULL;
	for (size_t i = 0; i < o; i++) {
		if (strcmp(view[i].key, "listen") == 0)
			at_listen = &view[i];
		else if (strcmp(view[i].key, "max_body_total") == 0)
			at_total = &view[i];
		else if (strcmp(view[i].key, "max_body") == 0)
			at_body = &view[i];
	}
	if (at_listen && c->listen && !listen_ok(c->listen)) {
		sbc_errlist_add(L->errs,
				"%s:%d: [server] listen: expected HOST:PORT "
				"such as 127.0.0.1:8780 or [::1]:8780",
				at_listen->file, at_listen->line);
		L->nerr++;
	}
	if (!c->tls_cert != !c->tls_key) {
		sbc_errlist_add(L->errs,
				"%s: [server] tls_cert and tls_key go together "
				"(%s is set, %s is not)",
				c->path, c->tls_cert ? "tls_cert" : "tls_key",
				c->tls_cert ? "tls_key" : "tls_cert");
		L->nerr++;
	}
	/* readable now (their contents are checked when the API's policy
	 * is built: sbc_security_build); --check sees these */
	const char *const tls_files[] = {c->tls_cert, c->tls_key,
					 c->tls_client_ca};
	static const char *const tls_keys[] = {"tls_cert", "tls_key",
					       "tls_client_ca"};
	for (size_t i = 0; i < 3; i++) {
		if (!tls_files[i] || access(tls_files[i], R_OK) == 0)
			continue;
		sbc_errlist_add(L->errs, "%s: [server] %s: cannot read %s: %s",
				c->path, tls_keys[i], tls_files[i],
				strerror(errno));
		L->nerr++;
	}
	if (c->tls_client_ca && !c->tls_cert) {
		sbc_errlist_add(L->errs,
				"%s: [server] tls_client_ca: needs tls_cert "
				"and tls_key (client certificates come with "
				"TLS)",
				c->path);
		L->nerr++;
	}
	if (c->max_body_total < c->max_body) {
		const struct sb_conf_kv *at = at_total ? at_total : at_body;
		sbc_errlist_add(L->errs,
				"%s:%d: [server] max_body_total (%lld bytes) "
				"is less than max_body (%lld bytes): one "
				"request could never be read",
				at ? at->file : c->path, at ? at->line : 0,
				(long long)c->max_body_total,
				(long long)c->max_body);
		L->nerr++;
	}
	free(view);
}

/* An allow pattern: instance/Object.Method, each part a name or a glob. */
static bool grant_pattern_ok(const char *p)
{
	const char *slash = strchr(p, '/');
	if (!slash || slash == p || strchr(slash + 1, '/'))
		return false;
	const char *dot = strchr(slash + 1, '.');
	if (!dot || dot == slash + 1 || !dot[1])
		return false;
	for (const char *q = p; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return false;
	return true;
}

static bool hex64(const char *s)
{
	size_t i = 0;
	for (; s[i]; i++) {
		char ch = s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		      (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return i == 64;
}

/* [client NAME] sections, bound by sbc_client_keys and checked. */
static void bind_clients(struct loader *L, struct sbc_config *c)
{
	size_t n = 0;
	for (size_t s = 0; s < L->n_sects; s++)
		n += L->sects[s].kind == SECT_CLIENT;
	if (n == 0)
		return;
	c->clients = calloc(n, sizeof(*c->clients));
	if (!c->clients) {
		report(L, "out of memory");
		return;
	}
	for (size_t s = 0; s < L->n_sects; s++) {
		struct sect *x = &L->sects[s];
		if (x->kind != SECT_CLIENT)
			continue;
		struct sbc_client_conf *cl = &c->clients[c->n_clients++];
		cl->name = xstrdup(x->name);
		cl->file = xstrdup(x->file);
		cl->line = x->line;
		char label[NAME_MAX_LEN + 16];
		snprintf(label, sizeof(label), "[client %s]", x->name);
		struct sb_conf_where where = {
		    .label = label, .file = x->file, .line = x->line};
		struct sb_conf_kv *view = calloc(x->n_kv + 1, sizeof(*view));
		if (!view) {
			report(L, "out of memory");
			continue;
		}
		size_t nv = kv_view(x->kv, x->n_kv, -1, view);
		int before = L->nerr;
		sb_conf_bind(sbc_client_keys, cl, sizeof(*cl), view, nv, &where,
			     report, L);
		const char *at_file = x->file;
		int at_line = x->line;
		if (L->nerr == before && cl->token_sha256 &&
		    !hex64(cl->token_sha256)) {
			for (size_t i = 0; i < nv; i++)
				if (strcmp(view[i].key, "token_sha256") == 0) {
					at_file = view[i].file;
					at_line = view[i].line;
				}
			sbc_errlist_add(L->errs,
					"%s:%d: %s token_sha256: expected 64 "
					"hexadecimal digits (the SHA-256 of "
					"the token, as sha256sum prints it)",
					at_file, at_line, label);
			L->nerr++;
		}
		if (L->nerr == before && cl->cert_subject &&
		    !c->tls_client_ca) {
			sbc_errlist_add(
			    L->errs,
			    "%s:%d: %s cert_subject: needs [server] "
			    "tls_client_ca (the authorities that "
			    "sign client certificates)",
			    x->file, x->line, label);
			L->nerr++;
		}
		if (L->nerr == before && !cl->token_sha256 &&
		    !cl->cert_subject) {
			sbc_errlist_add(L->errs,
					"%s:%d: %s: no credential: set "
					"token_sha256 or cert_subject",
					x->file, x->line, label);
			L->nerr++;
		}
		for (size_t i = 0;
		     L->nerr == before && cl->allow && cl->allow[i]; i++) {
			if (grant_pattern_ok(cl->allow[i]))
				continue;
			char shown[80];
			sb_conf_shown(cl->allow[i], 60, shown, sizeof(shown));
			sbc_errlist_add(L->errs,
					"%s:%d: %s allow: '%s' is not "
					"instance/Object.Method (each part a "
					"name or a pattern with *)",
					x->file, x->line, label, shown);
			L->nerr++;
		}
		for (size_t i = 0;
		     L->nerr == before && cl->mailboxes && cl->mailboxes[i];
		     i++) {
			const char *m = cl->mailboxes[i];
			if (strcmp(m, "none") == 0) {
				if (i == 0 && !cl->mailboxes[1])
					continue;
				sbc_errlist_add(L->errs,
						"%s:%d: %s mailboxes: none "
						"stands alone",
						x->file, x->line, label);
				L->nerr++;
				continue;
			}
			if (strcmp(m, "*") == 0 || strcmp(m, "default") == 0 ||
			    (strchr(m, '@') && !strpbrk(m, " \t") &&
			     !strchr(m + 1, '*')))
				continue;
			char shown[80];
			sb_conf_shown(m, 60, shown, sizeof(shown));
			sbc_errlist_add(L->errs,
					"%s:%d: %s mailboxes: '%s' is not an "
					"address, *@domain, *, default or none",
					x->file, x->line, label, shown);
			L->nerr++;
		}
		free(view);
	}
	for (size_t i = 0; i < c->n_clients; i++)
		for (size_t k = i + 1; k < c->n_clients; k++) {
			const char *a = c->clients[i].token_sha256,
				   *b = c->clients[k].token_sha256;
			if (a && b && strcasecmp(a, b) == 0) {
				sbc_errlist_add(
				    L->errs,
				    "%s:%d: [client %s] "
				    "token_sha256: the same token "
				    "as [client %s]",
				    c->clients[k].file, c->clients[k].line,
				    c->clients[k].name, c->clients[i].name);
				L->nerr++;
			}
		}
}

static bool name_valid(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      (i > 0 && ch == '-')))
			return false;
	}
	return true;
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
	c->path = sb_path_absolute(path);
	if (!c->path) {
		sbc_errlist_add(errs, "%s: out of memory", path);
		sbc_config_free(c);
		return -1;
	}
	L.file = c->path;
	read_file(&L, c->path, 0, NULL);

	bind_server(&L, c);

	/* Modules: enabled ones, in file order. */
	size_t n_mod = 0;
	for (size_t s = 0; s < L.n_sects; s++)
		n_mod += L.sects[s].kind == SECT_MODULE;
	c->modules = calloc(n_mod + 1, sizeof(char *));
	bool *enabled = calloc(L.n_sects + 1, sizeof(bool));
	size_t ne = 0;
	for (size_t s = 0; c->modules && enabled && s < L.n_sects; s++) {
		struct sect *x = &L.sects[s];
		if (x->kind != SECT_MODULE)
			continue;
		struct sb_conf_kv view[8];
		char label[NAME_MAX_LEN + 16];
		snprintf(label, sizeof(label), "[module %s]", x->name);
		struct sb_conf_where where = {
		    .label = label, .file = x->file, .line = x->line};
		struct module_conf mc = {0};
		size_t nv = x->n_kv < 8 ? x->n_kv : 8;
		kv_view(x->kv, nv, -1, view);
		if (sb_conf_bind(sbc_module_keys, &mc, sizeof(mc), view, nv,
				 &where, report, &L) == 0 &&
		    mc.enabled) {
			enabled[s] = true;
			c->modules[ne++] = xstrdup(x->name);
		}
	}

	/* Instances: the host keys bound here; the broker's keys are kept
	 * for binding once its module is loaded. */
	for (size_t s = 0; s < L.n_sects; s++)
		c->n_instances += L.sects[s].kind == SECT_INSTANCE;
	c->instances = calloc(c->n_instances + 1, sizeof(*c->instances));
	size_t ni = 0;
	for (size_t s = 0; c->instances && s < L.n_sects; s++) {
		struct sect *x = &L.sects[s];
		if (x->kind != SECT_INSTANCE)
			continue;
		struct sbc_instance_conf *in = &c->instances[ni++];
		in->name = xstrdup(x->name);
		in->file = xstrdup(x->file);
		in->line = x->line;
		char label[NAME_MAX_LEN + 16];
		snprintf(label, sizeof(label), "[instance %s]", x->name);
		struct sb_conf_where where = {
		    .label = label, .file = x->file, .line = x->line};
		struct sb_conf_kv *view = calloc(x->n_kv + 1, sizeof(*view));
		in->kv = calloc(x->n_kv + 1, sizeof(*in->kv));
		if (!view || !in->kv) {
			free(view);
			report(&L, "out of memory");
			continue;
		}
		size_t nh = kv_view(x->kv, x->n_kv, 1, view);
		int before = L.nerr;
		sb_conf_bind(sbc_instance_host_keys, in, sizeof(*in), view, nh,
			     &where, report, &L);
		/* Where broker was set (its strings stay in x->kv). */
		struct sb_conf_kv at_kv, *at = NULL;
		for (size_t i = 0; i < nh; i++)
			if (strcmp(view[i].key, "broker") == 0) {
				at_kv = view[i];
				at = &at_kv;
			}
		free(view);
		/* The broker's own keys move to the instance. */
		for (size_t i = 0; i < x->n_kv; i++) {
			if (sbc_is_host_key(x->kv[i].key))
				continue;
			in->kv[in->n_kv++] = x->kv[i];
			memset(&x->kv[i], 0, sizeof(x->kv[i]));
		}
		if (L.nerr != before || !in->broker || !at)
			continue;
		char shown[80];
		sb_conf_shown(at->secret_ref ? "value" : in->broker, 60, shown,
			      sizeof(shown));
		if (!name_valid(in->broker)) {
			sbc_errlist_add(errs,
					"%s:%d: [instance %s] broker: '%s' is "
					"not a module name",
					at->file, at->line, in->name, shown);
			L.nerr++;
			continue;
		}
		bool found = false, on = false;
		for (size_t k = 0; k < L.n_sects; k++) {
			if (L.sects[k].kind == SECT_MODULE &&
			    strcmp(L.sects[k].name, in->broker) == 0) {
				found = true;
				on = enabled && enabled[k];
			}
		}
		if (!on) {
			sbc_errlist_add(
			    errs,
			    "%s:%d: [instance %s] broker: module %s "
			    "is %s: add [module %s] with enabled = "
			    "yes",
			    at->file, at->line, in->name, in->broker,
			    found ? "not enabled" : "not configured",
			    in->broker);
			L.nerr++;
		}
	}
	free(enabled);
	bind_clients(&L, c);
	bool failed = L.nerr > 0 || !c->listen || !c->module_dir ||
		      !c->modules || !c->instances;
	int nerr = L.nerr;
	loader_free(&L);
	if (failed) {
		if (nerr == 0)
			sbc_errlist_add(errs, "out of memory");
		sbc_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}
