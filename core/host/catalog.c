/* The catalog: configured instances of loaded modules, their objects and
 * methods, indexed for O(1) lookup.  A catalog is immutable once built and
 * reference-counted; a reload builds a new one and swaps it in. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crash.h"
#include "executor.h"
#include "host.h"
#include "probe.h"

/* ---- the index: open addressing, linear probing ------------------------ *
 * One table holds three kinds of keys: (instance), (instance, object) and
 * (instance, object, method); absent parts are NULL.  Keys are borrowed
 * from the catalog's instances and objects. */

struct slot {
	uint64_t hash;
	const char *inst, *obj, *meth;
	struct sbc_entry entry;
	bool used;
};

struct index {
	struct slot *slots;
	size_t mask; /* capacity - 1, capacity a power of two */
	size_t used;
};

static uint64_t fnv_part(uint64_t h, const char *s)
{
	if (s)
		for (; *s; s++) {
			h ^= (unsigned char)*s;
			h *= 0x100000001b3ull;
		}
	h ^= 0xff; /* end of part (lookups compare the parts themselves) */
	h *= 0x100000001b3ull;
	return h;
}

static uint64_t key_hash(const char *inst, const char *obj, const char *meth)
{
	uint64_t h = 0xcbf29ce484222325ull;
	h = fnv_part(h, inst);
	h = fnv_part(h, obj);
	h = fnv_part(h, meth);
	return h;
}

static bool part_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static const struct slot *index_find(const struct index *ix, const char *inst,
				     const char *obj, const char *meth)
{
	if (!ix || !ix->slots || !inst)
		return NULL;
	uint64_t h = key_hash(inst, obj, meth);
	for (size_t i = h & ix->mask, n = 0; n <= ix->mask;
	     i = (i + 1) & ix->mask, n++) {
		const struct slot *s = &ix->slots[i];
		if (!s->used)
			return NULL;
		if (s->hash == h && part_eq(s->inst, inst) &&
		    part_eq(s->obj, obj) && part_eq(s->meth, meth))
			return s;
	}
	return NULL;
}

/* Insert; false if the key exists already.  The table never fills: its
 * capacity is at least twice the number of keys (see index_new). */
static bool index_put(struct index *ix, const char *inst, const char *obj,
		      const char *meth, const struct sbc_entry *e)
{
	uint64_t h = key_hash(inst, obj, meth);
	size_t i = h & ix->mask;
	for (;;) {
		struct slot *s = &ix->slots[i];
		if (!s->used) {
			*s = (struct slot){.hash = h,
					   .inst = inst,
					   .obj = obj,
					   .meth = meth,
					   .entry = *e,
					   .used = true};
			ix->used++;
			return true;
		}
		if (s->hash == h && part_eq(s->inst, inst) &&
		    part_eq(s->obj, obj) && part_eq(s->meth, meth))
			return false;
		i = (i + 1) & ix->mask;
	}
}

static struct index *index_new(size_t keys)
{
	size_t cap = 16;
	while (cap < keys * 2 + 1) {
		if (cap > SIZE_MAX / 4 / sizeof(struct slot))
			return NULL;
		cap *= 2;
	}
	struct index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	ix->slots = calloc(cap, sizeof(*ix->slots));
	if (!ix->slots) {
		free(ix);
		return NULL;
	}
	ix->mask = cap - 1;
	return ix;
}

static void index_free(struct index *ix)
{
	if (!ix)
		return;
	free(ix->slots);
	free(ix);
}

/* What the catalog keeps per instance besides the public part. */
struct instance {
	struct sbc_instance pub;
	bool opened; /* open() succeeded and close() has not run */
	size_t objects_cap;
};

static struct instance *priv(struct sbc_instance *inst)
{
	return (struct instance *)((char *)inst -
				   offsetof(struct instance, pub));
}

/* ---- host services lent to brokers -------------------------------------- */

static bool host_log_enabled(const struct sb_host *host,
			     enum sb_log_level level)
{
	(void)host;
	return sbc_log_enabled(level);
}

static void host_log(const struct sb_host *host, enum sb_log_level level,
		     const char *fmt, ...) SB_PRINTF(3, 4);
static void host_log(const struct sb_host *host, enum sb_log_level level,
		     const char *fmt, ...)
{
	if ((unsigned)level > SB_LOG_DEBUG)
		level = SB_LOG_DEBUG;
	if (!sbc_log_enabled(level))
		return; /* not formatted for nothing */
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	const char *rid = sbc_executor_request_id();
	sbc_log(level, host ? host->broker : NULL, host ? host->instance : NULL,
		"%s%s%s", buf, rid ? " request_id=" : "", rid ? rid : "");
}

/* No call (open/describe/test), or a call without a deadline: a day. */
#define NO_DEADLINE_MS (24 * 3600 * 1000LL)

static int64_t host_remaining_ms(const struct sb_host *host,
				 const struct sb_call *call)
{
	if (!call)
		return NO_DEADLINE_MS;
	int64_t deadline = sb_call_deadline(call);
	if (deadline <= 0 || deadline == INT64_MAX)
		return NO_DEADLINE_MS;
	int64_t left = deadline - sb_now_ms();
	return left > NO_DEADLINE_MS ? NO_DEADLINE_MS : left;
}

static bool host_cancelled(const struct sb_host *host,
			   const struct sb_call *call)
{
	return call && sb_call_is_cancelled(call);
}

/* ---- dynamic objects ----------------------------------------------------- */

/* Add obj to the instance (ctx): the builder describe() gets (through
 * sb_describe_add, which checks the object first); also used to add the
 * static objects. */
static enum sb_status objects_add(void *ctx, const struct sb_object *obj,
				  struct sb_error *err)
{
	struct sbc_instance *inst = ctx;
	for (size_t i = 0; i < inst->n_objects; i++)
		if (strcmp(inst->objects[i]->name, obj->name) == 0)
			return sb_error_set(err, SB_ERR_CONFLICT, NULL,
					    "object %s exists already",
					    obj->name);
	struct instance *pi = priv(inst);
	if (inst->n_objects == pi->objects_cap) {
		size_t nc = pi->objects_cap ? pi->objects_cap * 2 : 8;
		const struct sb_object **no =
		    realloc(inst->objects, nc * sizeof(*no));
		if (!no)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		inst->objects = no;
		pi->objects_cap = nc;
	}
	inst->objects[inst->n_objects++] = obj;
	return SB_OK;
}

/* ---- building ------------------------------------------------------------ */

static void instance_free(struct sbc_instance *inst)
{
	if (!inst)
		return;
	if (inst->conf)
		sbc_config_unbind(inst->broker->config, inst->conf);
	free((char *)inst->host.state_dir);
	free(inst->objects);
	free(inst->name);
	free(priv(inst));
}

/* close() exactly once per successful open(). */
static void instance_close(struct sbc_instance *inst)
{
	struct instance *pi = priv(inst);
	if (pi->opened) {
		pi->opened = false;
		struct sbc_crash_frame cf;
		sbc_crash_enter(&cf, inst->broker->name, inst->name, "close",
				NULL, NULL);
		inst->broker->close(inst->state);
		sbc_crash_leave(&cf);
		inst->state = NULL;
	}
}

static void catalog_free(struct sbc_catalog *c, bool close_instances)
{
	for (size_t i = c->n_instances; i-- > 0;) {
		if (close_instances)
			instance_close(c->instances[i]);
		instance_free(c->instances[i]);
	}
	free(c->instances);
	index_free(c->index);
	free(c);
}

static bool module_enabled(const struct sbc_config *cfg, const char *name)
{
	if (!cfg->modules)
		return false;
	for (char **m = cfg->modules; *m; m++)
		if (strcmp(*m, name) == 0)
			return true;
	return false;
}

/* <state_dir>/<instance>, created 0700.  Returns a malloc'd path, or NULL
 * with errs filled. */
/* Create the missing parents of path (like mkdir -p, mode 0755); errors are
 * left for the mkdir of path itself to report. */
static void mkdir_parents(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return;
	memcpy(buf, path, n + 1);
	for (char *q = buf + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return;
		*q = '/';
	}
}

static char *make_state_dir(const struct sbc_config *cfg,
			    const struct sbc_instance_conf *ic,
			    struct sbc_errlist *errs)
{
	if (!sb_path_component_ok(ic->name, 255)) {
		sbc_errlist_add(errs,
				"%s:%d: [instance %s] its name cannot name a "
				"state directory",
				ic->file, ic->line, ic->name);
		return NULL;
	}
	size_t len = strlen(cfg->state_dir) + 1 + strlen(ic->name) + 1;
	char *p = malloc(len);
	if (!p) {
		sbc_errlist_add(errs, "[instance %s] out of memory", ic->name);
		return NULL;
	}
	snprintf(p, len, "%s/%s", cfg->state_dir, ic->name);
	mkdir_parents(cfg->state_dir);
	const char *dirs[2] = {cfg->state_dir, p};
	for (int i = 0; i < 2; i++) {
		struct stat st;
		if (mkdir(dirs[i], 0700) != 0 && errno != EEXIST) {
			sbc_errlist_add(errs,
					"%s:%d: [instance %s] state directory "
					"%s: cannot create it: %s",
					ic->file, ic->line, ic->name, dirs[i],
					strerror(errno));
			free(p);
			return NULL;
		}
		if (stat(dirs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
			sbc_errlist_add(errs,
					"%s:%d: [instance %s] state directory "
					"%s: not a directory",
					ic->file, ic->line, ic->name, dirs[i]);
			free(p);
			return NULL;
		}
		/* the instance's own directory is private, whoever made it */
		if (i == 1 && (st.st_mode & 077) && chmod(p, 0700) != 0) {
			sbc_errlist_add(errs,
					"%s:%d: [instance %s] state directory "
					"%s: cannot make it private (mode "
					"0700): %s",
					ic->file, ic->line, ic->name, p,
					strerror(errno));
			free(p);
			return NULL;
		}
	}
	return p;
}

/* Load every enabled module; false (with errs) if one is refused. */
static bool load_modules(const struct sbc_config *cfg, struct sbc_errlist *errs)
{
	bool ok = true;
	if (!cfg->modules)
		return true;
	for (char **m = cfg->modules; *m; m++) {
		char errbuf[1024];
		if (!sbc_module_load(cfg->module_dir, *m, errbuf,
				     sizeof(errbuf))) {
			sbc_errlist_add(errs, "[module %s] %s", *m, errbuf);
			ok = false;
		}
	}
	return ok;
}

/* Bind one instance's configuration (nothing opened yet).  Returns the new
 * instance or NULL with errs filled. */
static struct sbc_instance *instance_bind(const struct sbc_config *cfg,
					  const struct sbc_instance_conf *ic,
					  struct sbc_errlist *errs)
{
	char errbuf[1024];
	if (!module_enabled(cfg, ic->broker)) {
		sbc_errlist_add(errs,
				"%s:%d: [instance %s] broker %s: the module is "
				"not enabled (add [module %s] enabled = yes)",
				ic->file, ic->line, ic->name, ic->broker,
				ic->broker);
		return NULL;
	}
	const struct sbc_module *mod = sbc_module_load(
	    cfg->module_dir, ic->broker, errbuf, sizeof(errbuf));
	if (!mod) /* already reported by load_modules */
		return NULL;
	struct instance *pi = calloc(1, sizeof(*pi));
	struct sbc_instance *inst = pi ? &pi->pub : NULL;
	if (!inst || !(inst->name = strdup(ic->name))) {
		free(pi);
		sbc_errlist_add(errs, "[instance %s] out of memory", ic->name);
		return NULL;
	}
	inst->module = mod;
	inst->broker = mod->broker;
	inst->max_concurrency = ic->max_concurrency;
	inst->timeout_ms = ic->timeout_ms;
	const struct sb_broker *b = mod->broker;
	if (sbc_instance_bind(b, ic, &inst->conf, errs) != 0) {
		inst->conf = NULL;
		instance_free(inst);
		return NULL;
	}
	inst->host.struct_size = sizeof(struct sb_host);
	inst->host.instance = inst->name;
	inst->host.broker = b->name;
	inst->host.log = host_log;
	inst->host.remaining_ms = host_remaining_ms;
	inst->host.cancelled = host_cancelled;
	inst->host.log_enabled = host_log_enabled;
	if (cfg->state_dir) {
		char *sd = make_state_dir(cfg, ic, errs);
		if (!sd) {
			instance_free(inst);
			return NULL;
		}
		inst->host.state_dir = sd;
	}
	return inst;
}

/* The instance whose open() or describe() runs now, for a signal handler
 * to name (see sbc_catalog_opening). */
static pthread_mutex_t opening_mu = PTHREAD_MUTEX_INITIALIZER;
static char opening_name[256], opening_broker[128];
static int64_t opening_since;

static void opening_set(const struct sbc_instance *inst)
{
	pthread_mutex_lock(&opening_mu);
	if (inst) {
		snprintf(opening_name, sizeof(opening_name), "%s", inst->name);
		snprintf(opening_broker, sizeof(opening_broker), "%s",
			 inst->broker->name);
		opening_since = sb_now_ms();
	} else {
		opening_name[0] = opening_broker[0] = '\0';
	}
	pthread_mutex_unlock(&opening_mu);
}

bool sbc_catalog_opening(char *buf, size_t len, int64_t *since_ms)
{
	pthread_mutex_lock(&opening_mu);
	bool any = opening_name[0] != '\0';
	if (any) {
		snprintf(buf, len, "%s (broker %s)", opening_name,
			 opening_broker);
		if (since_ms)
			*since_ms = opening_since;
	}
	pthread_mutex_unlock(&opening_mu);
	return any;
}

/* dst (of size len) = "prefix: text" as valid UTF-8: a byte that does not
 * start a valid sequence becomes U+FFFD, so the message survives in JSON
 * (health) and the log; cut at a character boundary if it is too long. */
static void error_text(char *dst, size_t len, const char *prefix,
		       const char *text)
{
	/* a message that names its category already does not repeat it */
	size_t pl = strlen(prefix);
	if (strncmp(text, prefix, pl) == 0 && text[pl] == ':' &&
	    text[pl + 1] == ' ')
		text += pl + 2;
	size_t o = (size_t)snprintf(dst, len, "%s: ", prefix);
	if (o >= len)
		o = len - 1;
	size_t n = strlen(text);
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)text[i];
		size_t k = c < 0x80		    ? 1
			   : c >= 0xc2 && c <= 0xdf ? 2
			   : c >= 0xe0 && c <= 0xef ? 3
			   : c >= 0xf0 && c <= 0xf4 ? 4
						    : 0;
		const char *piece = text + i;
		size_t step = k;
		if (k == 0 || k > n - i || !sb_utf8_valid(text + i, k)) {
			piece = "\xef\xbf\xbd";
			k = 3;
			step = 1;
		}
		if (o + k >= len)
			break;
		memcpy(dst + o, piece, k);
		o += k;
		i += step;
	}
	dst[o] = '\0';
}

/* Add the static objects, open, describe.  A failed open or describe is
 * kept in open_error (the instance stays listed); -1 only when out of
 * memory. */
static int instance_open(struct sbc_instance *inst, struct sbc_errlist *errs)
{
	const struct sb_broker *b = inst->broker;
	struct sb_describe builder = {.ctx = inst, .add = objects_add};
	struct sb_error err;
	sb_error_clear(&err);
	if (b->objects)
		for (size_t i = 0; b->objects[i].name; i++)
			if (objects_add(inst, &b->objects[i], &err) != SB_OK) {
				sbc_errlist_add(errs, "[instance %s] %s",
						inst->name, err.message);
				return -1;
			}
	size_t n_static = inst->n_objects;

	void *state = NULL;
	struct sbc_crash_frame cf;
	sbc_crash_enter(&cf, b->name, inst->name, "open", NULL, NULL);
	opening_set(inst);
	enum sb_status st = b->open(&inst->host, inst->conf, &state, &err);
	opening_set(NULL);
	sbc_crash_leave(&cf);
	if (st != SB_OK) {
		error_text(inst->open_error, sizeof(inst->open_error),
			   sb_status_str(st),
			   err.message[0] ? err.message : "open failed");
		sbc_log(SB_LOG_ERROR, b->name, inst->name, "open failed: %s",
			inst->open_error);
		inst->state = NULL;
		return 0;
	}
	inst->state = state;
	priv(inst)->opened = true;
	if (!b->describe)
		return 0;
	sb_error_clear(&err);
	sbc_crash_enter(&cf, b->name, inst->name, "describe", NULL, NULL);
	opening_set(inst);
	st = b->describe(state, &builder, &err);
	opening_set(NULL);
	sbc_crash_leave(&cf);
	if (st != SB_OK) {
		char what[64];
		snprintf(what, sizeof(what), "%s: describe", sb_status_str(st));
		error_text(inst->open_error, sizeof(inst->open_error), what,
			   err.message[0] ? err.message : "describe failed");
		sbc_log(SB_LOG_ERROR, b->name, inst->name, "%s",
			inst->open_error);
		instance_close(inst);
		inst->n_objects = n_static;
	}
	return 0;
}

static bool index_instance(struct index *ix, struct sbc_instance *inst,
			   struct sbc_errlist *errs)
{
	/* the instance's own slot is also its probe entry (probe.h) */
	struct sbc_entry e = {.inst = inst,
			      .obj = &sbc_probe_object,
			      .method = &sbc_probe_method};
	if (!index_put(ix, inst->name, NULL, NULL, &e)) {
		sbc_errlist_add(errs, "[instance %s] defined twice",
				inst->name);
		return false;
	}
	for (size_t i = 0; i < inst->n_objects; i++) {
		const struct sb_object *o = inst->objects[i];
		e = (struct sbc_entry){.inst = inst, .obj = o};
		if (!index_put(ix, inst->name, o->name, NULL, &e)) {
			sbc_errlist_add(errs, "[instance %s] object %s twice",
					inst->name, o->name);
			return false;
		}
		if (!o->methods)
			continue;
		for (const struct sb_method *m = o->methods; m->name; m++) {
			e.method = m;
			if (!index_put(ix, inst->name, o->name, m->name, &e)) {
				sbc_errlist_add(errs,
						"[instance %s] method %s.%s "
						"twice",
						inst->name, o->name, m->name);
				return false;
			}
		}
	}
	return true;
}

static size_t count_keys(const struct sbc_catalog *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct sbc_instance *inst = c->instances[i];
		n++;
		for (size_t j = 0; j < inst->n_objects; j++) {
			n++;
			const struct sb_method *m = inst->objects[j]->methods;
			for (; m && m->name; m++)
				n++;
		}
	}
	return n;
}

int sbc_catalog_build(const struct sbc_config *cfg, int64_t generation,
		      struct sbc_catalog **out, struct sbc_errlist *errs)
{
	*out = NULL;
	struct sbc_catalog *c = calloc(1, sizeof(*c));
	if (!c) {
		sbc_errlist_add(errs, "out of memory");
		return -1;
	}
	atomic_init(&c->refs, 1);
	c->generation = generation;
	if (cfg->n_instances) {
		c->instances = calloc(cfg->n_instances, sizeof(*c->instances));
		if (!c->instances) {
			free(c);
			sbc_errlist_add(errs, "out of memory");
			return -1;
		}
	}

	/* 1. every enabled module, 2. every instance's configuration: all
	 * problems are reported before anything is opened. */
	bool ok = load_modules(cfg, errs);
	for (size_t i = 0; ok && i < cfg->n_instances; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->instances[i].name,
				   cfg->instances[j].name) == 0) {
				sbc_errlist_add(errs,
						"%s:%d: [instance %s] defined "
						"twice (first at %s:%d)",
						cfg->instances[i].file,
						cfg->instances[i].line,
						cfg->instances[i].name,
						cfg->instances[j].file,
						cfg->instances[j].line);
				ok = false;
			}
	for (size_t i = 0; i < cfg->n_instances; i++) {
		struct sbc_instance *inst =
		    instance_bind(cfg, &cfg->instances[i], errs);
		if (!inst) {
			ok = false;
			continue;
		}
		c->instances[c->n_instances++] = inst;
	}
	if (!ok) {
		catalog_free(c, false);
		return -1;
	}

	/* 3. open and describe, 4. index. */
	for (size_t i = 0; i < c->n_instances; i++) {
		if (instance_open(c->instances[i], errs) != 0) {
			catalog_free(c, true);
			return -1;
		}
	}
	struct index *ix = index_new(count_keys(c));
	if (!ix) {
		sbc_errlist_add(errs, "out of memory");
		catalog_free(c, true);
		return -1;
	}
	c->index = ix;
	for (size_t i = 0; i < c->n_instances; i++)
		if (!index_instance(ix, c->instances[i], errs)) {
			catalog_free(c, true);
			return -1;
		}
	*out = c;
	return 0;
}

struct sbc_catalog *sbc_catalog_ref(struct sbc_catalog *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void sbc_catalog_unref(struct sbc_catalog *c)
{
	if (!c)
		return;
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	catalog_free(c, true);
}

const struct sbc_entry *sbc_catalog_method(const struct sbc_catalog *c,
					   const char *instance,
					   const char *object,
					   const char *method)
{
	if (!c || !instance || !object || !method)
		return NULL;
	const struct slot *s = index_find(c->index, instance, object, method);
	return s ? &s->entry : NULL;
}

struct sbc_instance *sbc_catalog_instance(const struct sbc_catalog *c,
					  const char *instance)
{
	if (!c || !instance)
		return NULL;
	const struct slot *s = index_find(c->index, instance, NULL, NULL);
	return s ? s->entry.inst : NULL;
}

const struct sb_object *sbc_catalog_object(const struct sbc_catalog *c,
					   const char *instance,
					   const char *object)
{
	if (!c || !instance || !object)
		return NULL;
	const struct slot *s = index_find(c->index, instance, object, NULL);
	return s ? s->entry.obj : NULL;
}

const struct sbc_entry *sbc_catalog_probe_entry(const struct sbc_catalog *c,
						const char *instance)
{
	if (!c || !instance)
		return NULL;
	const struct slot *s = index_find(c->index, instance, NULL, NULL);
	return s ? &s->entry : NULL;
}
