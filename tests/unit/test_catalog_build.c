/* The catalog: building from a configuration (two instances side by side,
 * open and describe failures, refused modules, bad keys), O(1) lookups,
 * reference counting (close exactly once), and testmod's methods run
 * through the host's call and result API. */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host.h"
#include "tmpdir.h"

static char libs_dir[PATH_MAX];

static void find_libs_dir(void)
{
	const char *top = getenv("top_builddir");
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s/tests/modules/.libs", top ? top : ".");
	if (!realpath(buf, libs_dir)) {
		fprintf(stderr, "test modules not built: %s (run make check)\n",
			buf);
		exit(1);
	}
}

#define ck_assert_has(hay, needle)                                             \
	ck_assert_msg((hay) && strstr((hay), (needle)) != NULL,                \
		      "expected \"%s\" in \"%s\"", (needle),                   \
		      (hay) ? (hay) : "(null)")

/* ---- configurations built by hand (the INI reader is tested apart) ---- */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	ck_assert_ptr_nonnull(d);
	return d;
}

static struct sbc_config *cfg_new(const char *state_dir)
{
	struct sbc_config *c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->path = xstrdup("/etc/svcbroker/svcbroker.ini");
	c->listen = xstrdup("127.0.0.1:0");
	c->module_dir = xstrdup(libs_dir);
	c->state_dir = state_dir ? xstrdup(state_dir) : NULL;
	c->workers = 2;
	c->queue = 16;
	c->max_body = 1 << 20;
	c->log_level = SB_LOG_ERROR;
	c->modules = calloc(1, sizeof(char *));
	ck_assert_ptr_nonnull(c->modules);
	return c;
}

static void cfg_module(struct sbc_config *c, const char *name)
{
	size_t n = 0;
	while (c->modules[n])
		n++;
	c->modules = realloc(c->modules, (n + 2) * sizeof(char *));
	ck_assert_ptr_nonnull(c->modules);
	c->modules[n] = xstrdup(name);
	c->modules[n + 1] = NULL;
}

static int next_line = 1;

static struct sbc_instance_conf *
cfg_instance(struct sbc_config *c, const char *name, const char *broker)
{
	c->instances =
	    realloc(c->instances, (c->n_instances + 1) * sizeof(*c->instances));
	ck_assert_ptr_nonnull(c->instances);
	struct sbc_instance_conf *ic = &c->instances[c->n_instances++];
	memset(ic, 0, sizeof(*ic));
	ic->name = xstrdup(name);
	ic->broker = xstrdup(broker);
	ic->file = xstrdup(c->path);
	ic->line = next_line++;
	ic->max_concurrency = 8;
	ic->timeout_ms = 30000;
	return ic;
}

static void cfg_kv(struct sbc_instance_conf *ic, const char *key,
		   const char *value)
{
	ic->kv = realloc(ic->kv, (ic->n_kv + 1) * sizeof(*ic->kv));
	ck_assert_ptr_nonnull(ic->kv);
	struct sbc_kv *kv = &ic->kv[ic->n_kv++];
	memset(kv, 0, sizeof(*kv));
	kv->key = xstrdup(key);
	kv->value = xstrdup(value);
	kv->file = xstrdup(ic->file);
	kv->line = next_line++;
}

static void cfg_free(struct sbc_config *c)
{
	for (size_t i = 0; i < c->n_instances; i++) {
		struct sbc_instance_conf *ic = &c->instances[i];
		for (size_t k = 0; k < ic->n_kv; k++) {
			free(ic->kv[k].key);
			free(ic->kv[k].value);
			free(ic->kv[k].file);
		}
		free(ic->kv);
		free(ic->name);
		free(ic->broker);
		free(ic->file);
	}
	free(c->instances);
	for (size_t i = 0; c->modules[i]; i++)
		free(c->modules[i]);
	free(c->modules);
	free(c->path);
	free(c->listen);
	free(c->module_dir);
	free(c->state_dir);
	free(c);
}

/* ---- files ------------------------------------------------------------- */

static char *tmp_dir(void)
{
	char tmpl[PATH_MAX];
	make_tmp_dir(tmpl, sizeof(tmpl), "sbtest-catalog-");
	return xstrdup(tmpl);
}

static void rm_tree(char *dir)
{
	char cmd[2 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(dir);
}

/* The lifecycle.log testmod keeps in an instance's state directory ("" if
 * absent). */
static const char *lifecycle(const char *state_dir, const char *inst)
{
	static char buf[256];
	char path[2 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/lifecycle.log", state_dir, inst);
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return buf;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool errs_have(const struct sbc_errlist *l, const char *needle)
{
	for (size_t i = 0; i < l->n; i++)
		if (strstr(l->msgs[i], needle))
			return true;
	return false;
}

static void dump_errs(const struct sbc_errlist *l)
{
	if (!l->n)
		return;
	for (size_t i = 0; i < l->n; i++)
		fprintf(stderr, "  %s\n", l->msgs[i]);
}

static struct sbc_catalog *build_ok(const struct sbc_config *cfg)
{
	struct sbc_errlist errs = {0};
	struct sbc_catalog *c = NULL;
	int rc = sbc_catalog_build(cfg, 1, &c, &errs);
	if (rc != 0)
		dump_errs(&errs);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_nonnull(c);
	sbc_errlist_free(&errs);
	return c;
}

/* ---- running methods through the host's call/result API ----------------- */

struct run {
	struct sb_call *call;
	struct sb_result *result;
	struct sb_error err;
	enum sb_status st;
	const struct sbc_entry *e;
};

static void run_begin(struct run *r, const struct sbc_catalog *c,
		      const char *inst, const char *obj, const char *meth)
{
	memset(r, 0, sizeof(*r));
	r->e = sbc_catalog_method(c, inst, obj, meth);
	ck_assert_msg(r->e != NULL, "no method %s/%s.%s", inst, obj, meth);
	r->call = sb_call_new(r->e->obj, r->e->method);
	ck_assert_ptr_nonnull(r->call);
	sb_call_set_deadline(r->call, sb_now_ms() + 10000);
}

static void put_str(struct run *r, const char *name, const char *v)
{
	enum sb_status st = sb_call_put_str(r->call, name, v, &r->err);
	ck_assert_msg(st == SB_OK, "%s: %s", name, r->err.message);
}

static void put_int(struct run *r, const char *name, int64_t v)
{
	enum sb_status st = sb_call_put_int(r->call, name, v, &r->err);
	ck_assert_msg(st == SB_OK, "%s: %s", name, r->err.message);
}

static enum sb_status run_exec(struct run *r)
{
	enum sb_status st = sb_call_finish(r->call, &r->err);
	ck_assert_msg(st == SB_OK, "%s", r->err.message);
	r->result = sb_result_new(r->e->obj, r->e->method, 0, 0);
	ck_assert_ptr_nonnull(r->result);
	sb_error_clear(&r->err);
	struct sbc_instance *inst = r->e->inst;
	ck_assert_msg(inst->open_error[0] == '\0', "%s", inst->open_error);
	r->st = r->e->method->handler(inst->state, r->call, r->result, &r->err);
	struct sb_error rerr;
	ck_assert_msg(!sb_result_error(r->result, &rerr), "result: %s",
		      rerr.message);
	return r->st;
}

static void run_end(struct run *r)
{
	sb_result_free(r->result);
	sb_call_free(r->call);
}

static const struct sb_value *cell(const struct run *r, size_t row,
				   const char *name)
{
	const struct sb_cell *cells;
	ck_assert_uint_lt(row, sb_result_n_rows(r->result));
	size_t n = sb_result_row_cells(r->result, row, &cells);
	for (size_t i = 0; i < n; i++)
		if (strcmp(cells[i].name, name) == 0)
			return &cells[i].value;
	return NULL;
}

static const char *cell_str(const struct run *r, size_t row, const char *name)
{
	const struct sb_value *v = cell(r, row, name);
	ck_assert_msg(v && v->count == 1, "no single cell %s", name);
	return v->items[0].s;
}

static int64_t cell_int(const struct run *r, size_t row, const char *name)
{
	const struct sb_value *v = cell(r, row, name);
	ck_assert_msg(v && v->count == 1, "no single cell %s", name);
	return v->items[0].i;
}

static bool cell_bool(const struct run *r, size_t row, const char *name)
{
	const struct sb_value *v = cell(r, row, name);
	ck_assert_msg(v && v->count == 1, "no single cell %s", name);
	return v->items[0].b;
}

/* ---- building ------------------------------------------------------------ */

START_TEST(test_two_instances)
{
	char *sd = tmp_dir();
	struct sbc_config *cfg = cfg_new(sd);
	cfg_module(cfg, "testmod");
	struct sbc_instance_conf *ic = cfg_instance(cfg, "t1", "testmod");
	cfg_kv(ic, "label", "first");
	cfg_kv(ic, "list_total", "7");
	cfg_kv(ic, "tags", "a, b");
	ic->max_concurrency = 3;
	ic->timeout_ms = 1500;
	ic = cfg_instance(cfg, "t2", "testmod");
	cfg_kv(ic, "label", "second");
	cfg_kv(ic, "token", "s3cret");
	cfg_kv(ic, "describe", "none");

	struct sbc_catalog *c = build_ok(cfg);
	ck_assert_uint_eq(c->n_instances, 2);
	ck_assert_int_eq(atomic_load(&c->refs), 1);
	struct sbc_instance *t1 = sbc_catalog_instance(c, "t1");
	struct sbc_instance *t2 = sbc_catalog_instance(c, "t2");
	ck_assert_ptr_nonnull(t1);
	ck_assert_ptr_nonnull(t2);
	ck_assert_ptr_eq(t1, c->instances[0]);
	ck_assert_ptr_eq(t2, c->instances[1]);
	ck_assert_ptr_null(sbc_catalog_instance(c, "t3"));
	ck_assert_str_eq(t1->name, "t1");
	ck_assert_str_eq(t1->broker->name, "testmod");
	ck_assert_ptr_eq(t1->module, t2->module);
	ck_assert_ptr_ne(t1->conf, t2->conf);
	ck_assert_ptr_ne(t1->state, t2->state);
	ck_assert_int_eq(t1->max_concurrency, 3);
	ck_assert_int_eq(t1->timeout_ms, 1500);
	ck_assert_str_eq(t1->open_error, "");
	ck_assert_str_eq(t2->open_error, "");

	/* the host lent to each */
	ck_assert_uint_eq(t1->host.struct_size, sizeof(struct sb_host));
	ck_assert_str_eq(t1->host.instance, "t1");
	ck_assert_str_eq(t1->host.broker, "testmod");
	ck_assert_ptr_nonnull(t1->host.log);
	ck_assert_int_gt(t1->host.remaining_ms(&t1->host, NULL), 0);
	ck_assert(!t1->host.cancelled(&t1->host, NULL));
	char want[2 * PATH_MAX];
	snprintf(want, sizeof(want), "%s/t1", sd);
	ck_assert_str_eq(t1->host.state_dir, want);
	struct stat st;
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_str_eq(lifecycle(sd, "t1"), "open\n");
	ck_assert_str_eq(lifecycle(sd, "t2"), "open\n");

	/* objects: static ones in order, then t1's dynamic one */
	ck_assert_uint_eq(t1->n_objects, 3);
	ck_assert_str_eq(t1->objects[0]->name, "Echo");
	ck_assert_str_eq(t1->objects[1]->name, "Instance");
	ck_assert_str_eq(t1->objects[2]->name, "Dynamic");
	ck_assert_uint_eq(t2->n_objects, 2);
	ck_assert_ptr_eq(sbc_catalog_object(c, "t1", "Dynamic"),
			 t1->objects[2]);
	ck_assert_ptr_null(sbc_catalog_object(c, "t2", "Dynamic"));
	ck_assert_ptr_null(sbc_catalog_method(c, "t2", "Dynamic", "Ping"));

	/* each instance has its own configuration */
	struct run r;
	run_begin(&r, c, "t1", "Instance", "Info");
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_str_eq(cell_str(&r, 0, "Label"), "first");
	ck_assert_int_eq(cell_int(&r, 0, "ListTotal"), 7);
	ck_assert(!cell_bool(&r, 0, "HasToken"));
	ck_assert_str_eq(cell_str(&r, 0, "Describe"), "normal");
	const struct sb_value *tags = cell(&r, 0, "Tags");
	ck_assert_ptr_nonnull(tags);
	ck_assert_uint_eq(tags->count, 2);
	ck_assert_str_eq(tags->items[0].s, "a");
	ck_assert_str_eq(tags->items[1].s, "b");
	ck_assert_str_eq(cell_str(&r, 0, "StateDir"), want);
	run_end(&r);
	run_begin(&r, c, "t2", "Instance", "Info");
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_str_eq(cell_str(&r, 0, "Label"), "second");
	ck_assert_int_eq(cell_int(&r, 0, "ListTotal"), 25);
	ck_assert(cell_bool(&r, 0, "HasToken"));
	ck_assert_ptr_null(cell(&r, 0, "Tags"));
	run_end(&r);
	run_begin(&r, c, "t1", "Dynamic", "Ping");
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_str_eq(cell_str(&r, 0, "Pong"), "pong from first");
	run_end(&r);

	sbc_catalog_unref(c);
	ck_assert_str_eq(lifecycle(sd, "t1"), "open\nclose\n");
	ck_assert_str_eq(lifecycle(sd, "t2"), "open\nclose\n");
	cfg_free(cfg);
	rm_tree(sd);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_lookups)
{
	struct sbc_config *cfg = cfg_new(NULL);
	cfg_module(cfg, "testmod");
	enum { N = 150 };
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "inst-%d", i);
		struct sbc_instance_conf *ic =
		    cfg_instance(cfg, name, "testmod");
		cfg_kv(ic, "label", name);
	}
	struct sbc_catalog *c = build_ok(cfg);
	ck_assert_uint_eq(c->n_instances, N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "inst-%d", i);
		struct sbc_instance *inst = sbc_catalog_instance(c, name);
		ck_assert_ptr_eq(inst, c->instances[i]);
		ck_assert_ptr_null(inst->host.state_dir);
		for (size_t o = 0; o < inst->n_objects; o++) {
			const struct sb_object *obj = inst->objects[o];
			ck_assert_ptr_eq(sbc_catalog_object(c, name, obj->name),
					 obj);
			for (const struct sb_method *m = obj->methods; m->name;
			     m++) {
				const struct sbc_entry *e = sbc_catalog_method(
				    c, name, obj->name, m->name);
				ck_assert_ptr_nonnull(e);
				ck_assert_ptr_eq(e->inst, inst);
				ck_assert_ptr_eq(e->obj, obj);
				ck_assert_ptr_eq(e->method, m);
			}
		}
	}
	/* misses: wrong case, parts shifted, empty, NULL */
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-0", "Echo", "echo"));
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-0", "echo", "Echo"));
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-0", "Echo", "Nope"));
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-0", "Echo", ""));
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-0", "EchoEcho", ""));
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-0Echo", "Echo", "Echo"));
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-", "0Echo", "Echo"));
	ck_assert_ptr_null(sbc_catalog_method(c, "Echo", "Echo", "Echo"));
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-0", "Echo", NULL));
	ck_assert_ptr_null(sbc_catalog_method(c, NULL, "Echo", "Echo"));
	ck_assert_ptr_null(sbc_catalog_method(NULL, "inst-0", "Echo", "Echo"));
	ck_assert_ptr_null(sbc_catalog_method(c, "inst-150", "Echo", "Echo"));
	/* an object is not a method, an instance is not an object */
	ck_assert_ptr_null(sbc_catalog_object(c, "inst-0", "Ping"));
	ck_assert_ptr_null(sbc_catalog_object(c, "inst-0", ""));
	ck_assert_ptr_null(sbc_catalog_object(c, "inst-0", NULL));
	ck_assert_ptr_null(sbc_catalog_instance(c, "Echo"));
	ck_assert_ptr_null(sbc_catalog_instance(c, ""));
	ck_assert_ptr_null(sbc_catalog_instance(c, NULL));
	ck_assert_int_eq(c->generation, 1);
	sbc_catalog_unref(c);
	cfg_free(cfg);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_empty_catalog)
{
	struct sbc_config *cfg = cfg_new(NULL);
	struct sbc_errlist errs = {0};
	struct sbc_catalog *c = NULL;
	ck_assert_int_eq(sbc_catalog_build(cfg, 42, &c, &errs), 0);
	ck_assert_uint_eq(c->n_instances, 0);
	ck_assert_int_eq(c->generation, 42);
	ck_assert_ptr_null(sbc_catalog_instance(c, "x"));
	ck_assert_ptr_null(sbc_catalog_method(c, "x", "Echo", "Echo"));
	sbc_catalog_unref(c);
	sbc_catalog_unref(NULL);
	ck_assert_ptr_null(sbc_catalog_ref(NULL));
	cfg_free(cfg);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_open_failure)
{
	char *sd = tmp_dir();
	struct sbc_config *cfg = cfg_new(sd);
	cfg_module(cfg, "testmod");
	struct sbc_instance_conf *ic = cfg_instance(cfg, "down", "testmod");
	cfg_kv(ic, "label", "down");
	cfg_kv(ic, "open_fail", "yes");
	ic = cfg_instance(cfg, "up", "testmod");
	cfg_kv(ic, "label", "up");
	struct sbc_catalog *c = build_ok(cfg);
	struct sbc_instance *down = sbc_catalog_instance(c, "down");
	ck_assert_ptr_nonnull(down);
	ck_assert_has(down->open_error, "upstream_error: open_fail is set");
	ck_assert_ptr_null(down->state);
	/* still listed with its static objects (describe was not called) */
	ck_assert_uint_eq(down->n_objects, 2);
	ck_assert_ptr_nonnull(sbc_catalog_method(c, "down", "Echo", "Echo"));
	ck_assert_ptr_null(sbc_catalog_object(c, "down", "Dynamic"));
	ck_assert_str_eq(lifecycle(sd, "down"), "");
	/* the other instance works */
	struct run r;
	run_begin(&r, c, "up", "Dynamic", "Ping");
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_str_eq(cell_str(&r, 0, "Pong"), "pong from up");
	run_end(&r);
	sbc_catalog_unref(c);
	ck_assert_str_eq(lifecycle(sd, "down"), "");
	ck_assert_str_eq(lifecycle(sd, "up"), "open\nclose\n");
	cfg_free(cfg);
	rm_tree(sd);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_describe_failures)
{
	char *sd = tmp_dir();
	struct sbc_config *cfg = cfg_new(sd);
	cfg_module(cfg, "testmod");
	static const char *const modes[] = {"none", "invalid", "duplicate",
					    "fail"};
	for (int i = 0; i < 4; i++) {
		struct sbc_instance_conf *ic =
		    cfg_instance(cfg, modes[i], "testmod");
		cfg_kv(ic, "label", modes[i]);
		cfg_kv(ic, "describe", modes[i]);
	}
	struct sbc_catalog *c = build_ok(cfg);
	struct sbc_instance *none = sbc_catalog_instance(c, "none");
	ck_assert_str_eq(none->open_error, "");
	ck_assert_uint_eq(none->n_objects, 2);
	ck_assert_str_eq(lifecycle(sd, "none"), "open\n");

	struct sbc_instance *inv = sbc_catalog_instance(c, "invalid");
	ck_assert_has(inv->open_error, "internal: describe: invalid dynamic "
				       "object: object Broken: method Ping: "
				       "no doc");
	ck_assert_ptr_null(inv->state);
	ck_assert_uint_eq(inv->n_objects, 2);
	ck_assert_ptr_null(sbc_catalog_object(c, "invalid", "Broken"));
	/* closed as soon as describe failed */
	ck_assert_str_eq(lifecycle(sd, "invalid"), "open\nclose\n");

	struct sbc_instance *dup = sbc_catalog_instance(c, "duplicate");
	ck_assert_has(dup->open_error,
		      "conflict: describe: object Echo exists");
	ck_assert_str_eq(lifecycle(sd, "duplicate"), "open\nclose\n");
	/* the static Echo is the one indexed */
	ck_assert_ptr_eq(sbc_catalog_object(c, "duplicate", "Echo"),
			 &dup->broker->objects[0]);

	struct sbc_instance *fail = sbc_catalog_instance(c, "fail");
	ck_assert_has(fail->open_error,
		      "upstream_error: describe: describe = fail is set");
	ck_assert_str_eq(lifecycle(sd, "fail"), "open\nclose\n");

	sbc_catalog_unref(c);
	ck_assert_str_eq(lifecycle(sd, "none"), "open\nclose\n");
	ck_assert_str_eq(lifecycle(sd, "invalid"), "open\nclose\n");
	ck_assert_str_eq(lifecycle(sd, "duplicate"), "open\nclose\n");
	ck_assert_str_eq(lifecycle(sd, "fail"), "open\nclose\n");
	cfg_free(cfg);
	rm_tree(sd);
	sbc_modules_exit();
}
END_TEST

static void *ref_unref_loop(void *arg)
{
	struct sbc_catalog *c = arg;
	for (int i = 0; i < 20000; i++) {
		sbc_catalog_ref(c);
		if (!sbc_catalog_method(c, "t", "Echo", "Echo"))
			return (void *)1;
		sbc_catalog_unref(c);
	}
	return NULL;
}

START_TEST(test_refcount_closes_once)
{
	char *sd = tmp_dir();
	struct sbc_config *cfg = cfg_new(sd);
	cfg_module(cfg, "testmod");
	struct sbc_instance_conf *ic = cfg_instance(cfg, "t", "testmod");
	cfg_kv(ic, "label", "t");
	struct sbc_catalog *c = build_ok(cfg);
	ck_assert_ptr_eq(sbc_catalog_ref(c), c);
	ck_assert_ptr_eq(sbc_catalog_ref(c), c);
	ck_assert_int_eq(atomic_load(&c->refs), 3);
	sbc_catalog_unref(c);
	sbc_catalog_unref(c);
	ck_assert_str_eq(lifecycle(sd, "t"), "open\n");

	/* readers on several threads */
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, ref_unref_loop, c), 0);
	for (int i = 0; i < 4; i++) {
		void *res;
		ck_assert_int_eq(pthread_join(th[i], &res), 0);
		ck_assert_ptr_null(res);
	}
	ck_assert_int_eq(atomic_load(&c->refs), 1);
	ck_assert_str_eq(lifecycle(sd, "t"), "open\n");
	sbc_catalog_unref(c);
	ck_assert_str_eq(lifecycle(sd, "t"), "open\nclose\n");

	/* a new catalog from the same configuration opens anew */
	c = build_ok(cfg);
	ck_assert_str_eq(lifecycle(sd, "t"), "open\nclose\nopen\n");
	struct run r;
	run_begin(&r, c, "t", "Instance", "Info");
	ck_assert_int_eq(run_exec(&r), SB_OK);
	int64_t opens = cell_int(&r, 0, "Opens");
	int64_t closes = cell_int(&r, 0, "Closes");
	ck_assert_int_eq(opens, closes + 1);
	run_end(&r);
	sbc_catalog_unref(c);
	ck_assert_str_eq(lifecycle(sd, "t"), "open\nclose\nopen\nclose\n");
	cfg_free(cfg);
	rm_tree(sd);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_bad_config)
{
	char *sd = tmp_dir();
	struct sbc_config *cfg = cfg_new(sd);
	cfg_module(cfg, "testmod");
	struct sbc_instance_conf *ok = cfg_instance(cfg, "good", "testmod");
	cfg_kv(ok, "label", "good");
	struct sbc_instance_conf *bad = cfg_instance(cfg, "bad", "testmod");
	cfg_kv(bad, "bogus", "1");
	int bogus_line = bad->kv[0].line;
	cfg_kv(bad, "list_total", "-5");
	int range_line = bad->kv[1].line;
	cfg_kv(bad, "token", "topsecret-value");
	cfg_kv(bad, "describe", "sometimes");

	struct sbc_errlist errs = {0};
	struct sbc_catalog *c = (struct sbc_catalog *)1;
	ck_assert_int_eq(sbc_catalog_build(cfg, 1, &c, &errs), -1);
	if (getenv("SB_TEST_VERBOSE"))
		dump_errs(&errs);
	ck_assert_ptr_null(c);
	char want[256];
	snprintf(want, sizeof(want),
		 "/etc/svcbroker/svcbroker.ini:%d:", bogus_line);
	ck_assert_msg(errs_have(&errs, want), "no %s", want);
	ck_assert(errs_have(&errs, "bogus"));
	snprintf(want, sizeof(want),
		 "/etc/svcbroker/svcbroker.ini:%d:", range_line);
	ck_assert_msg(errs_have(&errs, want), "no %s", want);
	ck_assert(errs_have(&errs, "list_total"));
	ck_assert(errs_have(&errs, "label"));	  /* required, missing */
	ck_assert(errs_have(&errs, "sometimes")); /* not a choice */
	ck_assert(errs_have(&errs, "[instance bad]"));
	for (size_t i = 0; i < errs.n; i++)
		ck_assert_msg(!strstr(errs.msgs[i], "topsecret"),
			      "a secret in \"%s\"", errs.msgs[i]);
	/* nothing was opened, not even the good instance */
	ck_assert_str_eq(lifecycle(sd, "good"), "");
	sbc_errlist_free(&errs);
	cfg_free(cfg);
	rm_tree(sd);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_refused_module)
{
	char *sd = tmp_dir();
	struct sbc_config *cfg = cfg_new(sd);
	cfg_module(cfg, "testmod");
	cfg_module(cfg, "badmod-major");
	cfg_module(cfg, "nosuch");
	struct sbc_instance_conf *ic = cfg_instance(cfg, "t", "testmod");
	cfg_kv(ic, "label", "t");
	cfg_instance(cfg, "b", "badmod-major");
	cfg_instance(cfg, "u", "unlisted");
	struct sbc_errlist errs = {0};
	struct sbc_catalog *c = NULL;
	ck_assert_int_eq(sbc_catalog_build(cfg, 1, &c, &errs), -1);
	if (getenv("SB_TEST_VERBOSE"))
		dump_errs(&errs);
	ck_assert_ptr_null(c);
	ck_assert(errs_have(&errs, "[module badmod-major]"));
	char want[128];
	snprintf(want, sizeof(want),
		 "badmod-major.la was built for broker ABI %d.%d, this host "
		 "speaks %d.%d: rebuild it",
		 SB_ABI_MAJOR + 1, SB_ABI_MINOR, SB_ABI_MAJOR, SB_ABI_MINOR);
	ck_assert_msg(errs_have(&errs, want), "no \"%s\"", want);
	ck_assert(errs_have(&errs, "[module nosuch] no module file nosuch.la "
				   "or nosuch.so"));
	ck_assert(errs_have(&errs, "[instance u] broker unlisted: the module "
				   "is not enabled"));
	ck_assert_str_eq(lifecycle(sd, "t"), "");
	sbc_errlist_free(&errs);
	cfg_free(cfg);
	rm_tree(sd);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_duplicate_instance)
{
	struct sbc_config *cfg = cfg_new(NULL);
	cfg_module(cfg, "testmod");
	struct sbc_instance_conf *ic = cfg_instance(cfg, "t", "testmod");
	cfg_kv(ic, "label", "one");
	ic = cfg_instance(cfg, "t", "testmod");
	cfg_kv(ic, "label", "two");
	struct sbc_errlist errs = {0};
	struct sbc_catalog *c = NULL;
	ck_assert_int_eq(sbc_catalog_build(cfg, 1, &c, &errs), -1);
	ck_assert(errs_have(&errs, "[instance t] defined twice"));
	sbc_errlist_free(&errs);
	cfg_free(cfg);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_state_dir_problems)
{
	char *sd = tmp_dir();
	char file[2 * PATH_MAX];
	snprintf(file, sizeof(file), "%s/afile", sd);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	struct sbc_config *cfg = cfg_new(file);
	cfg_module(cfg, "testmod");
	struct sbc_instance_conf *ic = cfg_instance(cfg, "t", "testmod");
	cfg_kv(ic, "label", "t");
	struct sbc_errlist errs = {0};
	struct sbc_catalog *c = NULL;
	ck_assert_int_eq(sbc_catalog_build(cfg, 1, &c, &errs), -1);
	ck_assert(errs_have(&errs, "[instance t] state directory"));
	ck_assert(errs_have(&errs, file));
	sbc_errlist_free(&errs);
	cfg_free(cfg);

	/* an instance directory that is a file */
	cfg = cfg_new(sd);
	cfg_module(cfg, "testmod");
	ic = cfg_instance(cfg, "afile", "testmod");
	cfg_kv(ic, "label", "t");
	ck_assert_int_eq(sbc_catalog_build(cfg, 1, &c, &errs), -1);
	ck_assert(errs_have(&errs, "not a directory"));
	sbc_errlist_free(&errs);
	cfg_free(cfg);

	/* an existing instance directory is made private */
	char open_dir[2 * PATH_MAX + 8];
	snprintf(open_dir, sizeof(open_dir), "%s/wide", sd);
	ck_assert_int_eq(mkdir(open_dir, 0755), 0);
	ck_assert_int_eq(chmod(open_dir, 0755), 0);
	cfg = cfg_new(sd);
	cfg_module(cfg, "testmod");
	ic = cfg_instance(cfg, "wide", "testmod");
	cfg_kv(ic, "label", "t");
	c = build_ok(cfg);
	struct stat wst;
	ck_assert_int_eq(stat(open_dir, &wst), 0);
	ck_assert_int_eq(wst.st_mode & 0777, 0700);
	sbc_catalog_unref(c);
	cfg_free(cfg);

	/* a state_dir that does not exist yet is created, 0700 */
	char fresh[2 * PATH_MAX];
	snprintf(fresh, sizeof(fresh), "%s/new", sd);
	cfg = cfg_new(fresh);
	cfg_module(cfg, "testmod");
	ic = cfg_instance(cfg, "t", "testmod");
	cfg_kv(ic, "label", "t");
	c = build_ok(cfg);
	struct stat st;
	ck_assert_int_eq(stat(fresh, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	sbc_catalog_unref(c);
	ck_assert_str_eq(lifecycle(fresh, "t"), "open\nclose\n");
	cfg_free(cfg);
	rm_tree(sd);
	sbc_modules_exit();
}
END_TEST

/* From an INI file through sbc_config_load: errors carry the real file and
 * line. */
START_TEST(test_from_ini)
{
	char *dir = tmp_dir();
	char ini[2 * PATH_MAX], sdir[2 * PATH_MAX];
	snprintf(ini, sizeof(ini), "%s/svcbroker.ini", dir);
	snprintf(sdir, sizeof(sdir), "%s/state", dir);
	FILE *f = fopen(ini, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[server]\n"
		"listen = 127.0.0.1:8780\n"
		"module_dir = %s\n"
		"state_dir = state\n"
		"\n"
		"[module testmod]\n"
		"enabled = yes\n"
		"\n"
		"[instance one]\n"
		"broker = testmod\n"
		"label = uno\n"
		"data_dir = data\n"
		"url = https://example.com/x\n"
		"latency = 0ms\n"
		"max_echo = 64KiB\n"
		"\n"
		"[instance two]\n"
		"broker = testmod\n"
		"label = dos\n"
		"open_fail = on\n",
		libs_dir);
	ck_assert_int_eq(fclose(f), 0);
	struct sbc_errlist errs = {0};
	struct sbc_config *cfg = NULL;
	int rc = sbc_config_load(ini, &cfg, &errs);
	if (rc != 0)
		dump_errs(&errs);
	ck_assert_int_eq(rc, 0);
	struct sbc_catalog *c = build_ok(cfg);
	struct run r;
	run_begin(&r, c, "one", "Instance", "Info");
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_str_eq(cell_str(&r, 0, "Label"), "uno");
	char want[4 * PATH_MAX];
	snprintf(want, sizeof(want), "%s/data", dir);
	ck_assert_str_eq(cell_str(&r, 0, "DataDir"), want);
	ck_assert_str_eq(cell_str(&r, 0, "Url"), "https://example.com/x");
	ck_assert_int_eq(cell_int(&r, 0, "MaxEcho"), 65536);
	snprintf(want, sizeof(want), "%s/one", sdir);
	ck_assert_str_eq(cell_str(&r, 0, "StateDir"), want);
	run_end(&r);
	ck_assert_has(sbc_catalog_instance(c, "two")->open_error,
		      "open_fail is set");
	sbc_catalog_unref(c);
	ck_assert_str_eq(lifecycle(sdir, "one"), "open\nclose\n");
	ck_assert_str_eq(lifecycle(sdir, "two"), "");
	sbc_config_free(cfg);

	/* a bad value: the message names this file and line */
	f = fopen(ini, "a");
	ck_assert_ptr_nonnull(f);
	fputs("\n[instance three]\nbroker = testmod\nlabel = tres\n"
	      "list_total = lots\n",
	      f);
	ck_assert_int_eq(fclose(f), 0);
	cfg = NULL;
	ck_assert_int_eq(sbc_config_load(ini, &cfg, &errs), 0);
	ck_assert_int_eq(sbc_catalog_build(cfg, 2, &c, &errs), -1);
	snprintf(want, sizeof(want), "%s:25: [instance three] list_total", ini);
	if (!errs_have(&errs, want))
		dump_errs(&errs);
	ck_assert(errs_have(&errs, want));
	ck_assert_str_eq(lifecycle(sdir, "one"), "open\nclose\n");
	sbc_errlist_free(&errs);
	sbc_config_free(cfg);
	rm_tree(dir);
	sbc_modules_exit();
}
END_TEST

/* ---- testmod's methods --------------------------------------------------- */

static struct sbc_catalog *one_testmod(const char *extra_key,
				       const char *extra_value)
{
	struct sbc_config *cfg = cfg_new(NULL);
	cfg_module(cfg, "testmod");
	struct sbc_instance_conf *ic = cfg_instance(cfg, "t", "testmod");
	cfg_kv(ic, "label", "t");
	if (extra_key)
		cfg_kv(ic, extra_key, extra_value);
	struct sbc_catalog *c = build_ok(cfg);
	cfg_free(cfg);
	return c;
}

START_TEST(test_testmod_echo)
{
	struct sbc_catalog *c = one_testmod(NULL, NULL);
	struct run r;
	run_begin(&r, c, "t", "Echo", "Echo");
	put_str(&r, "Text", "héllo");
	put_str(&r, "Short", "short");
	put_str(&r, "Memo", "line 1\nline 2\r\n\ttabbed");
	put_int(&r, "Number", -9007199254740993LL);
	put_str(&r, "Decimal", "-12.50");
	ck_assert_int_eq(sb_call_put_bool(r.call, "Boolean", true, &r.err),
			 SB_OK);
	put_str(&r, "DateTime", "2026-01-31T09:00:00+01:00");
	put_str(&r, "Date", "2026-01-31");
	put_str(&r, "Time", "09:30");
	put_str(&r, "Duration", "PT30M");
	put_str(&r, "Guid", "0f8fad5b-d9cb-469f-a165-70867728950e");
	put_str(&r, "Email", "alice@example.com");
	put_str(&r, "Choice", "Beta");
	static const unsigned char bin[] = {0, 1, 2, 255, 'x'};
	ck_assert_int_eq(sb_call_put_file(r.call, "File", "a.bin",
					  "application/octet-stream", bin,
					  sizeof(bin), &r.err),
			 SB_OK);
	put_str(&r, "Texts", "one");
	put_str(&r, "Texts", "two");
	put_int(&r, "Numbers", 1);
	put_int(&r, "Numbers", 2);
	put_int(&r, "Numbers", 3);
	ck_assert_int_eq(sb_call_put_empty(r.call, "Booleans", &r.err), SB_OK);
	put_str(&r, "Choices", "Gamma");
	put_str(&r, "Choices", "Alpha");
	put_str(&r, "Emails", "a@example.com");
	ck_assert_int_eq(
	    sb_call_put_file(r.call, "Files", "x.txt", "text/plain",
			     (const unsigned char *)"x", 1, &r.err),
	    SB_OK);
	ck_assert_int_eq(sb_call_put_file(r.call, "Files", "empty.txt",
					  "text/plain",
					  (const unsigned char *)"", 0, &r.err),
			 SB_OK);
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_uint_eq(sb_result_n_rows(r.result), 1);
	const struct sb_cell *cells;
	ck_assert_uint_eq(sb_result_row_cells(r.result, 0, &cells), 20);
	ck_assert_str_eq(cell_str(&r, 0, "Text"), "héllo");
	ck_assert_str_eq(cell_str(&r, 0, "Short"), "short");
	ck_assert_str_eq(cell_str(&r, 0, "Memo"), "line 1\nline 2\r\n\ttabbed");
	ck_assert_int_eq(cell_int(&r, 0, "Number"), -9007199254740993LL);
	ck_assert_str_eq(cell_str(&r, 0, "Decimal"), "-12.50");
	ck_assert(cell_bool(&r, 0, "Boolean"));
	ck_assert_str_eq(cell_str(&r, 0, "DateTime"),
			 "2026-01-31T09:00:00+01:00");
	ck_assert_str_eq(cell_str(&r, 0, "Date"), "2026-01-31");
	ck_assert_str_eq(cell_str(&r, 0, "Time"), "09:30");
	ck_assert_str_eq(cell_str(&r, 0, "Duration"), "PT30M");
	ck_assert_str_eq(cell_str(&r, 0, "Guid"),
			 "0f8fad5b-d9cb-469f-a165-70867728950e");
	ck_assert_str_eq(cell_str(&r, 0, "Email"), "alice@example.com");
	ck_assert_str_eq(cell_str(&r, 0, "Choice"), "Beta");
	const struct sb_value *v = cell(&r, 0, "File");
	ck_assert_uint_eq(v->count, 1);
	ck_assert_str_eq(v->items[0].f.name, "a.bin");
	ck_assert_str_eq(v->items[0].f.content_type,
			 "application/octet-stream");
	ck_assert_uint_eq(v->items[0].f.size, sizeof(bin));
	ck_assert_mem_eq(v->items[0].f.data, bin, sizeof(bin));
	v = cell(&r, 0, "Texts");
	ck_assert(v->multi);
	ck_assert_uint_eq(v->count, 2);
	ck_assert_str_eq(v->items[1].s, "two");
	v = cell(&r, 0, "Numbers");
	ck_assert_uint_eq(v->count, 3);
	ck_assert_int_eq(v->items[2].i, 3);
	v = cell(&r, 0, "Booleans");
	ck_assert_ptr_nonnull(v);
	ck_assert(v->multi);
	ck_assert_uint_eq(v->count, 0);
	v = cell(&r, 0, "Choices");
	ck_assert_uint_eq(v->count, 2);
	ck_assert_str_eq(v->items[0].s, "Gamma");
	v = cell(&r, 0, "Emails");
	ck_assert_uint_eq(v->count, 1);
	v = cell(&r, 0, "Files");
	ck_assert_uint_eq(v->count, 2);
	ck_assert_str_eq(v->items[1].f.name, "empty.txt");
	ck_assert_uint_eq(v->items[1].f.size, 0);
	run_end(&r);

	/* no inputs: one empty row */
	run_begin(&r, c, "t", "Echo", "Echo");
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_uint_eq(sb_result_n_rows(r.result), 1);
	ck_assert_uint_eq(sb_result_row_cells(r.result, 0, &cells), 0);
	run_end(&r);

	/* Short's 16-byte cap is enforced by the host */
	run_begin(&r, c, "t", "Echo", "Echo");
	ck_assert_int_ne(
	    sb_call_put_str(r.call, "Short", "seventeen bytes!!", &r.err),
	    SB_OK);
	ck_assert_has(r.err.message, "Short");
	run_end(&r);
	sbc_catalog_unref(c);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_testmod_max_echo)
{
	struct sbc_catalog *c = one_testmod("max_echo", "8");
	struct run r;
	run_begin(&r, c, "t", "Echo", "Echo");
	put_str(&r, "Text", "123456789");
	ck_assert_int_eq(run_exec(&r), SB_ERR_PAYLOAD_TOO_LARGE);
	ck_assert_str_eq(r.err.code, "EchoTooLarge");
	run_end(&r);
	run_begin(&r, c, "t", "Echo", "Echo");
	put_str(&r, "Text", "12345678");
	ck_assert_int_eq(run_exec(&r), SB_OK);
	run_end(&r);
	sbc_catalog_unref(c);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_testmod_list)
{
	struct sbc_catalog *c = one_testmod("list_total", "23");
	const char *tok = NULL;
	char saved[64] = "";
	int64_t next = 0;
	int pages = 0;
	struct run r;
	do {
		run_begin(&r, c, "t", "Echo", "List");
		put_int(&r, "PageSize", 10);
		if (tok)
			put_str(&r, "PageToken", saved);
		ck_assert_int_eq(run_exec(&r), SB_OK);
		size_t n = sb_result_n_rows(r.result);
		ck_assert_uint_eq(n, pages < 2 ? 10 : 3);
		for (size_t i = 0; i < n; i++, next++) {
			ck_assert_int_eq(cell_int(&r, i, "Index"), next);
			char name[32];
			snprintf(name, sizeof(name), "item-%lld",
				 (long long)next);
			ck_assert_str_eq(cell_str(&r, i, "Name"), name);
		}
		tok = sb_result_page_token(r.result);
		if (tok)
			snprintf(saved, sizeof(saved), "%s", tok);
		run_end(&r);
		pages++;
	} while (tok && pages < 10);
	ck_assert_int_eq(pages, 3);
	ck_assert_int_eq(next, 23);

	/* Total overrides list_total; default page size */
	run_begin(&r, c, "t", "Echo", "List");
	put_int(&r, "Total", 150);
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_uint_eq(sb_result_n_rows(r.result), SB_PAGE_SIZE_DEFAULT);
	ck_assert_ptr_nonnull(sb_result_page_token(r.result));
	char tok150[256];
	snprintf(tok150, sizeof(tok150), "%s", sb_result_page_token(r.result));
	run_end(&r);

	/* a token it did not issue */
	run_begin(&r, c, "t", "Echo", "List");
	put_str(&r, "PageToken", "forged");
	ck_assert_int_eq(run_exec(&r), SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(r.err.code, "ErrorInvalidPageToken");
	run_end(&r);
	/* a token of another listing (Total 150, not 23) */
	run_begin(&r, c, "t", "Echo", "List");
	put_str(&r, "PageToken", tok150);
	ck_assert_int_eq(run_exec(&r), SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(r.err.code, "ErrorInvalidPageToken");
	ck_assert_msg(strstr(r.err.message, "another listing"), "%s",
		      r.err.message);
	run_end(&r);
	/* the same token, one character changed */
	tok150[3] = tok150[3] == 'A' ? 'B' : 'A';
	run_begin(&r, c, "t", "Echo", "List");
	put_int(&r, "Total", 150);
	put_str(&r, "PageToken", tok150);
	ck_assert_int_eq(run_exec(&r), SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(r.err.code, "ErrorInvalidPageToken");
	run_end(&r);
	/* an empty list */
	run_begin(&r, c, "t", "Echo", "List");
	put_int(&r, "Total", 0);
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_uint_eq(sb_result_n_rows(r.result), 0);
	ck_assert_ptr_null(sb_result_page_token(r.result));
	run_end(&r);
	sbc_catalog_unref(c);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_testmod_fail)
{
	struct sbc_catalog *c = one_testmod(NULL, NULL);
	for (int s = SB_ERR_INVALID_INPUT; s < SB_STATUS_COUNT_; s++) {
		struct run r;
		run_begin(&r, c, "t", "Echo", "Fail");
		put_str(&r, "Status", sb_status_str((enum sb_status)s));
		ck_assert_int_eq(run_exec(&r), s);
		ck_assert_int_eq(r.err.status, s);
		ck_assert_str_eq(r.err.code, "TestFailure");
		char want[128];
		snprintf(want, sizeof(want), "requested failure: %s",
			 sb_status_str((enum sb_status)s));
		ck_assert_str_eq(r.err.message, want);
		ck_assert_uint_eq(sb_result_n_rows(r.result), 0);
		run_end(&r);
	}
	struct run r;
	run_begin(&r, c, "t", "Echo", "Fail");
	put_str(&r, "Status", "throttled");
	put_str(&r, "Code", "ErrorServerBusy");
	put_str(&r, "Message", "slow down");
	put_int(&r, "RetryAfterMs", 1500);
	ck_assert_int_eq(run_exec(&r), SB_ERR_THROTTLED);
	ck_assert_str_eq(r.err.code, "ErrorServerBusy");
	ck_assert_str_eq(r.err.message, "slow down");
	ck_assert_int_eq(r.err.retry_after_ms, 1500);
	run_end(&r);
	/* Status is required and checked by the host */
	run_begin(&r, c, "t", "Echo", "Fail");
	ck_assert_int_ne(sb_call_finish(r.call, &r.err), SB_OK);
	ck_assert_int_ne(sb_call_put_str(r.call, "Status", "ok", &r.err),
			 SB_OK);
	run_end(&r);
	sbc_catalog_unref(c);
	sbc_modules_exit();
}
END_TEST

struct canceller {
	struct sb_call *call;
	int after_ms;
};

static void *cancel_later(void *arg)
{
	struct canceller *k = arg;
	usleep((useconds_t)k->after_ms * 1000);
	sb_call_cancel(k->call);
	return NULL;
}

START_TEST(test_testmod_sleep)
{
	struct sbc_catalog *c = one_testmod(NULL, NULL);
	struct run r;
	run_begin(&r, c, "t", "Echo", "Sleep");
	put_int(&r, "Ms", 30);
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_int_ge(cell_int(&r, 0, "Slept"), 30);
	ck_assert_int_lt(cell_int(&r, 0, "Slept"), 5000);
	run_end(&r);

	/* the deadline passes */
	run_begin(&r, c, "t", "Echo", "Sleep");
	put_int(&r, "Ms", 60000);
	sb_call_set_deadline(r.call, sb_now_ms() + 50);
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(run_exec(&r), SB_ERR_TIMEOUT);
	ck_assert_str_eq(r.err.code, "DeadlineExceeded");
	ck_assert_int_lt(sb_now_ms() - t0, 2000);
	run_end(&r);

	/* cancelled from another thread */
	run_begin(&r, c, "t", "Echo", "Sleep");
	put_int(&r, "Ms", 60000);
	struct canceller k = {.call = r.call, .after_ms = 50};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, &k), 0);
	t0 = sb_now_ms();
	ck_assert_int_eq(run_exec(&r), SB_ERR_TIMEOUT);
	ck_assert_str_eq(r.err.code, "Cancelled");
	ck_assert_int_lt(sb_now_ms() - t0, 2000);
	pthread_join(th, NULL);
	run_end(&r);

	/* out of range: the host refuses it against the declared min/max,
	 * before the broker runs */
	run_begin(&r, c, "t", "Echo", "Sleep");
	ck_assert_int_eq(sb_call_put_int(r.call, "Ms", -1, &r.err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(r.err.message, "Ms: -1 is out of range 0..600000");
	ck_assert_int_eq(sb_call_put_int(r.call, "Ms", 600001, &r.err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_int_eq(sb_call_put_int(r.call, "Ms", 600000, &r.err), SB_OK);
	run_end(&r);
	sbc_catalog_unref(c);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_testmod_latency_and_test_hook)
{
	struct sbc_catalog *c = one_testmod("latency", "40ms");
	struct run r;
	run_begin(&r, c, "t", "Dynamic", "Ping");
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(run_exec(&r), SB_OK);
	ck_assert_int_ge(sb_now_ms() - t0, 40);
	run_end(&r);
	struct sbc_instance *t = sbc_catalog_instance(c, "t");
	struct sb_error err;
	ck_assert_int_eq(t->broker->test(t->state, &err), SB_OK);
	sbc_catalog_unref(c);

	c = one_testmod("token", "wrong");
	t = sbc_catalog_instance(c, "t");
	ck_assert_int_eq(t->broker->test(t->state, &err), SB_ERR_UPSTREAM_AUTH);
	ck_assert_str_eq(err.code, "TokenRejected");
	ck_assert(!strstr(err.message, "wrong"));
	sbc_catalog_unref(c);
	sbc_modules_exit();
}
END_TEST

static Suite *catalog_suite(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("build");
	tcase_add_test(tc, test_two_instances);
	tcase_add_test(tc, test_lookups);
	tcase_add_test(tc, test_empty_catalog);
	tcase_add_test(tc, test_open_failure);
	tcase_add_test(tc, test_describe_failures);
	tcase_add_test(tc, test_refcount_closes_once);
	tcase_add_test(tc, test_bad_config);
	tcase_add_test(tc, test_refused_module);
	tcase_add_test(tc, test_duplicate_instance);
	tcase_add_test(tc, test_state_dir_problems);
	tcase_add_test(tc, test_from_ini);
	suite_add_tcase(s, tc);
	tc = tcase_create("testmod");
	tcase_add_test(tc, test_testmod_echo);
	tcase_add_test(tc, test_testmod_max_echo);
	tcase_add_test(tc, test_testmod_list);
	tcase_add_test(tc, test_testmod_fail);
	tcase_add_test(tc, test_testmod_sleep);
	tcase_add_test(tc, test_testmod_latency_and_test_hook);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	find_libs_dir();
	sbc_log_set_level(SB_LOG_WARN);
	SRunner *sr = srunner_create(catalog_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
