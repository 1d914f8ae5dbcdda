/* Fuzz target: the INI configuration (core/ini_reader.c, core/config.c):
 * sbc_config_load on the input written to a file, then sbc_config_bind of
 * every instance against key tables holding every key type.
 *
 * Invariants:
 * - a load fails exactly when it reports a problem;
 * - a configuration that loads has every key findable: written out again as
 *   INI (server keys, modules, instances with their keys and continuation
 *   lines) it loads to the same configuration;
 * - a bind fails exactly when it reports a problem, every message names the
 *   file, line and instance, and a bind that succeeds holds for each given
 *   key the value its type's parser gives (defaults for the others).
 *
 * Inputs that include other files or read ${file:} outside the scratch
 * directory are skipped: the target reads only its own files. */
#include "config.h"

#include <inttypes.h>
#include <stddef.h>
#include <strings.h>
#include <unistd.h>

#include <svcbroker/conf.h>
#include <svcbroker/invoke.h>

#include "fuzz.h"
#include "host.h"

static char dir[64], path[96], path2[96];

struct conf {
	char *s, *p, *u, *r;
	char **l;
	int64_t n, d, z;
	bool b;
	int e;
};

static const char *const auths[] = {"none", "plain", "login", NULL};
static const char *const schemes[] = {"http", "https", NULL};

/* choices for an enum, schemes for a URL: one list argument. */
#define KEY(k, t, d, fl, lo, hi, ch, f)                                        \
	{                                                                      \
		.key = k, .type = t, .def = d, .flags = fl, .min = lo,         \
		.max = hi, .choices = (t) == SB_CONF_ENUM ? (ch) : NULL,       \
		.schemes = (t) == SB_CONF_URL ? (ch) : NULL, .doc = "a key",   \
		.offset = offsetof(struct conf, f)                             \
	}
static const struct sb_config_key table[] = {
    KEY("s", SB_CONF_STRING, "x", SB_CONF_SECRET, 0, 0, NULL, s),
    KEY("n", SB_CONF_INT, "5", 0, -10, 1000, NULL, n),
    KEY("b", SB_CONF_BOOL, "yes", 0, 0, 0, NULL, b),
    KEY("d", SB_CONF_DURATION, "30s", 0, 1, 3600000, NULL, d),
    KEY("z", SB_CONF_SIZE, "1MiB", 0, 0, 0, NULL, z),
    KEY("e", SB_CONF_ENUM, "none", 0, 0, 0, auths, e),
    KEY("l", SB_CONF_LIST, NULL, 0, 0, 0, NULL, l),
    KEY("p", SB_CONF_PATH, NULL, 0, 0, 0, NULL, p),
    KEY("u", SB_CONF_URL, NULL, 0, 0, 0, schemes, u),
    SB_CONF_END,
};
/* The same with a required key. */
static const struct sb_config_key table_req[] = {
    KEY("s", SB_CONF_STRING, NULL, 0, 0, 0, NULL, s),
    KEY("r", SB_CONF_STRING, NULL, SB_CONF_REQUIRED | SB_CONF_SECRET, 0, 0,
	NULL, r),
    KEY("n", SB_CONF_INT, NULL, SB_CONF_REQUIRED, 0, 0, NULL, n),
    KEY("l", SB_CONF_LIST, NULL, SB_CONF_REQUIRED, 0, 0, NULL, l),
    SB_CONF_END,
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
/* The scratch directory goes when the run ends (not after a crash: the
 * files may help to reproduce it). */
static void remove_dir(void)
{
	static const char *const names[] = {"fuzz.ini", "again.ini", "secret",
					    "inc.conf"};
	char p[128];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/sb-fuzz-ini.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(remove_dir);
	snprintf(path, sizeof(path), "%s/fuzz.ini", dir);
	snprintf(path2, sizeof(path2), "%s/again.ini", dir);
	char p[128];
	snprintf(p, sizeof(p), "%s/secret", dir);
	FILE *f = fopen(p, "w");
	fputs("s3cret value\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/inc.conf", dir);
	f = fopen(p, "w");
	fputs("[instance inc]\nbroker = m\ns = from include\n", f);
	fclose(f);
	setenv("SB_FUZZ_VAR", "from the environment", 1);
	return 0;
}

/* Lines that name other files (include, ${file:}) stay in dir. */
static bool stays_inside(const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "\n");
		char line[4200];
		if (n >= sizeof(line))
			return false;
		memcpy(line, s, n);
		line[n] = '\0';
		if ((strstr(line, "include") || strstr(line, "${file:")) &&
		    (strchr(line, '/') || strstr(line, "..")))
			return false;
		s += n + (s[n] != '\0');
	}
	return true;
}

static bool write_file(const char *p, const void *data, size_t size)
{
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	bool ok = fwrite(data, 1, size, f) == size;
	fclose(f);
	return ok;
}

/* A value inih hands back as it was written. */
static bool writable(const char *v, bool first_line_only)
{
	const char *ws = " \t\r\n\v\f";
	const char *line = v;
	for (int i = 0;; i++) {
		size_t n = strcspn(line, "\n");
		if (first_line_only && line[n])
			return false;
		if (n > 0 && (strchr(ws, line[0]) || strchr(ws, line[n - 1])))
			return false;
		if (i > 0 && (n == 0 || line[0] == ';' || line[0] == '#' ||
			      line[0] == '['))
			return false;
		for (size_t k = 1; k < n; k++)
			if (line[k] == ';' && strchr(ws, line[k - 1]))
				return false;
		if (memchr(line, '\v', n) || memchr(line, '\f', n))
			return false;
		if (!line[n])
			return true;
		line += n + 1;
	}
}

/* "key =value": with a space after '=', a value starting with ';' would
 * read as an inline comment. */
static void put_value(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s =", key);
	for (; *v; v++) {
		if (*v == '\n')
			fputs("\n\t", f);
		else
			fputc(*v, f);
	}
	fputc('\n', f);
}

/* c written out as INI; false if some value cannot be written as it is. */
static bool write_config(const struct sbc_config *c, const char *p)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	const char *strs[] = {c->listen, c->module_dir, c->state_dir};
	for (size_t i = 0; i < 3; i++)
		if (strs[i] && !writable(strs[i], true))
			return false;
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct sbc_instance_conf *in = &c->instances[i];
		for (size_t k = 0; k < in->n_kv; k++)
			if (in->kv[k].secret_ref ||
			    !writable(in->kv[k].value, false) ||
			    !writable(in->kv[k].key, true) ||
			    strchr(in->kv[k].key, '=') ||
			    strchr(in->kv[k].key, ':'))
				return false;
	}
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fprintf(f, "[server]\nlisten = %s\nmodule_dir = %s\n", c->listen,
		c->module_dir);
	if (c->state_dir)
		fprintf(f, "state_dir = %s\n", c->state_dir);
	fprintf(f,
		"workers = %" PRId64 "\nqueue = %" PRId64
		"\nmax_body = %" PRId64 "\nmax_body_total = %" PRId64
		"\nmax_connections = %" PRId64
		"\nmax_connections_per_ip = %" PRId64
		"\nidle_timeout = %" PRId64 "ms\nlog_level = %s\n",
		c->workers, c->queue, c->max_body, c->max_body_total,
		c->max_connections, c->max_connections_per_ip,
		c->idle_timeout_ms, levels[c->log_level]);
	for (size_t i = 0; c->modules[i]; i++)
		fprintf(f, "[module %s]\nenabled = yes\n", c->modules[i]);
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct sbc_instance_conf *in = &c->instances[i];
		fprintf(f,
			"[instance %s]\nbroker = %s\nmax_concurrency = %" PRId64
			"\ntimeout = %" PRId64 "ms\n",
			in->name, in->broker, in->max_concurrency,
			in->timeout_ms);
		for (size_t k = 0; k < in->n_kv; k++)
			put_value(f, in->kv[k].key, in->kv[k].value);
	}
	fclose(f);
	return true;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct sbc_config *a, const struct sbc_config *b)
{
	FUZZ_CHECK(same_str(a->listen, b->listen) &&
		       same_str(a->module_dir, b->module_dir) &&
		       same_str(a->state_dir, b->state_dir),
		   "server paths differ after writing the configuration out");
	FUZZ_CHECK(a->workers == b->workers && a->queue == b->queue &&
		       a->max_body == b->max_body &&
		       a->max_body_total == b->max_body_total &&
		       a->max_connections == b->max_connections &&
		       a->max_connections_per_ip == b->max_connections_per_ip &&
		       a->idle_timeout_ms == b->idle_timeout_ms &&
		       a->log_level == b->log_level,
		   "server numbers differ after writing the configuration out");
	size_t i;
	for (i = 0; a->modules[i] && b->modules[i]; i++)
		FUZZ_CHECK(strcmp(a->modules[i], b->modules[i]) == 0,
			   "module %zu differs", i);
	FUZZ_CHECK(!a->modules[i] && !b->modules[i], "module counts differ");
	FUZZ_CHECK(a->n_instances == b->n_instances, "instance counts differ");
	for (i = 0; i < a->n_instances; i++) {
		const struct sbc_instance_conf *x = &a->instances[i],
					       *y = &b->instances[i];
		FUZZ_CHECK(strcmp(x->name, y->name) == 0 &&
			       same_str(x->broker, y->broker) &&
			       x->max_concurrency == y->max_concurrency &&
			       x->timeout_ms == y->timeout_ms &&
			       x->n_kv == y->n_kv,
			   "instance %s differs after writing it out", x->name);
		for (size_t k = 0; k < x->n_kv; k++)
			FUZZ_CHECK(
			    strcmp(x->kv[k].key, y->kv[k].key) == 0 &&
				strcmp(x->kv[k].value, y->kv[k].value) == 0,
			    "[instance %s] key '%s' = '%s' reads back as "
			    "'%s' = '%s'",
			    x->name, x->kv[k].key, x->kv[k].value, y->kv[k].key,
			    y->kv[k].value);
	}
}

static const struct sbc_kv *given(const struct sbc_instance_conf *in,
				  const char *key)
{
	for (size_t k = 0; k < in->n_kv; k++)
		if (strcmp(in->kv[k].key, key) == 0)
			return &in->kv[k];
	return NULL;
}

/* The value a bound key must hold: the given one, else the default. */
static const char *value_of(const struct sbc_instance_conf *in,
			    const struct sb_config_key *k)
{
	const struct sbc_kv *kv = given(in, k->key);
	return kv ? kv->value : k->def;
}

static void check_bound(const struct sbc_instance_conf *in,
			const struct sb_config_key *tab, const struct conf *c)
{
	for (const struct sb_config_key *k = tab; k->key; k++) {
		const char *v = value_of(in, k);
		const void *field = (const char *)c + k->offset;
		int64_t n = 0;
		bool b = false;
		switch (k->type) {
		case SB_CONF_STRING:
		case SB_CONF_URL:
			FUZZ_CHECK(same_str(v, *(char *const *)field),
				   "key %s: bound '%s', given '%s'", k->key,
				   *(char *const *)field, v);
			break;
		case SB_CONF_PATH: {
			const char *p = *(char *const *)field;
			FUZZ_CHECK(!v == !p, "key p: bound %s", p);
			if (v) {
				size_t pl = strlen(p), vl = strlen(v);
				FUZZ_CHECK(p[0] == '/' && pl >= vl &&
					       strcmp(p + pl - vl, v) == 0,
					   "path '%s' bound as '%s'", v, p);
			}
			break;
		case SB_CONF_FRAGMENT:
			break; /* the table has none */
		}
		case SB_CONF_INT:
		case SB_CONF_DURATION:
		case SB_CONF_SIZE: {
			bool ok;
			char *end;
			if (k->type == SB_CONF_DURATION)
				ok = sb_parse_duration_ms(v, &n);
			else if (k->type == SB_CONF_SIZE)
				ok = sb_parse_size(v, &n);
			else
				ok = v &&
				     (n = strtoll(v, &end, 10), *end == '\0');
			FUZZ_CHECK(ok && n == *(const int64_t *)field &&
				       ((k->min == 0 && k->max == 0) ||
					(n >= k->min && n <= k->max)),
				   "key %s = '%s' bound as %" PRId64, k->key, v,
				   *(const int64_t *)field);
			break;
		}
		case SB_CONF_BOOL:
			FUZZ_CHECK(sb_parse_bool(v, &b) &&
				       b == *(const bool *)field,
				   "key b = '%s'", v);
			break;
		case SB_CONF_ENUM: {
			int e = *(const int *)field;
			FUZZ_CHECK(e >= 0 && e < 3 &&
				       strcasecmp(auths[e], v) == 0,
				   "key e = '%s' bound as %d", v, e);
			break;
		}
		case SB_CONF_LIST: {
			char *const *l = *(char **const *)field;
			FUZZ_CHECK(!v == !l, "list %s", v ? v : "(unset)");
			size_t items = 0;
			for (size_t i = 0; l && l[i]; i++, items++)
				FUZZ_CHECK(l[i][0] && !strpbrk(l[i], ",\n") &&
					       l[i][0] != ' ' &&
					       l[i][strlen(l[i]) - 1] != ' ' &&
					       strstr(v, l[i]),
					   "list '%s' has item '%s'", v, l[i]);
			if (k->flags & SB_CONF_REQUIRED)
				FUZZ_CHECK(items > 0,
					   "required list '%s' empty", v);
			break;
		}
		}
	}
}

static void bind_all(const struct sbc_config *cfg,
		     const struct sb_config_key *tab)
{
	for (size_t i = 0; i < cfg->n_instances; i++) {
		const struct sbc_instance_conf *in = &cfg->instances[i];
		struct sbc_errlist errs = {0};
		void *out = NULL;
		int rc =
		    sbc_config_bind(tab, sizeof(struct conf), in, &out, &errs);
		FUZZ_CHECK((rc == 0) == (errs.n == 0),
			   "bind returned %d with %zu messages", rc, errs.n);
		FUZZ_CHECK((rc == 0) == (out != NULL), "bind result %d", rc);
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "[instance %s] ", in->name);
		for (size_t m = 0; m < errs.n; m++)
			FUZZ_CHECK(
			    strstr(errs.msgs[m], prefix) &&
				strncmp(errs.msgs[m], dir, strlen(dir)) == 0,
			    "message does not say where: %s", errs.msgs[m]);
		if (rc == 0) {
			check_bound(in, tab, out);
			sbc_config_unbind(tab, out);
		}
		sbc_errlist_free(&errs);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0;
	/* Every line counts, those after a NUL byte too. */
	char *text = malloc(size + 1);
	if (!text)
		abort();
	for (size_t i = 0; i < size; i++)
		text[i] = data[i] ? (char)data[i] : ' ';
	text[size] = '\0';
	bool inside = stays_inside(text);
	free(text);
	if (!inside)
		return 0;
	write_file(path, data, size);
	struct sbc_config *cfg = NULL;
	struct sbc_errlist errs = {0};
	int rc = sbc_config_load(path, &cfg, &errs);
	FUZZ_CHECK((rc == 0) == (errs.total == 0),
		   "load returned %d with %zu problems", rc, errs.total);
	FUZZ_CHECK((rc == 0) == (cfg != NULL), "load result %d", rc);
	sbc_errlist_free(&errs);
	if (rc != 0)
		return 0;
	for (size_t i = 0; i < cfg->n_instances; i++) {
		const struct sbc_instance_conf *in = &cfg->instances[i];
		FUZZ_CHECK(in->broker && in->name && in->file && in->line > 0,
			   "instance %zu incomplete", i);
		for (size_t k = 0; k < in->n_kv; k++) {
			const struct sbc_kv *kv = &in->kv[k];
			FUZZ_CHECK(kv->key[0] && kv->value && kv->file &&
				       kv->line >= in->line &&
				       given(in, kv->key) == kv,
				   "[instance %s] key %zu '%s' not findable",
				   in->name, k, kv->key);
		}
	}
	if (write_config(cfg, path2)) {
		struct sbc_config *again = NULL;
		rc = sbc_config_load(path2, &again, &errs);
		FUZZ_CHECK(rc == 0,
			   "written out, the configuration does not "
			   "load: %s",
			   errs.n ? errs.msgs[0] : "?");
		check_same(cfg, again);
		sbc_config_free(again);
		sbc_errlist_free(&errs);
	}
	bind_all(cfg, table);
	bind_all(cfg, table_req);
	sbc_config_free(cfg);
	return 0;
}
