/* Module loading: every refusal names the file, what was found, what was
 * expected and the fix; refused modules do not disturb good ones; the
 * descriptor table checks. */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <svcbroker/conf.h>

#include "host.h"
#include "tmpdir.h"

static char libs_dir[PATH_MAX];
static char errbuf[2048];

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
	ck_assert_msg(strstr((hay), (needle)) != NULL,                         \
		      "expected \"%s\" in \"%s\"", (needle), (hay))

/* A temporary module directory; removed by rm_tree. */
static char *module_tmp_dir(void)
{
	char tmpl[PATH_MAX];
	make_tmp_dir(tmpl, sizeof(tmpl), "sbtest-module-");
	return strdup(tmpl);
}

static void rm_tree(const char *dir)
{
	char cmd[2 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void link_module(const char *dir, const char *name)
{
	char from[2 * PATH_MAX], to[2 * PATH_MAX];
	snprintf(from, sizeof(from), "%s/%s.so", libs_dir, name);
	snprintf(to, sizeof(to), "%s/%s.so", dir, name);
	ck_assert_int_eq(symlink(from, to), 0);
}

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(data, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* Load `name` from libs_dir expecting a refusal; returns the message. */
static const char *refusal(const char *dir, const char *name)
{
	errbuf[0] = '\0';
	const struct sbc_module *m =
	    sbc_module_load(dir, name, errbuf, sizeof(errbuf));
	ck_assert_msg(m == NULL, "%s was accepted", name);
	ck_assert_msg(errbuf[0] != '\0', "no message for %s", name);
	return errbuf;
}

static void assert_names_file(const char *msg, const char *dir,
			      const char *name)
{
	char path[2 * PATH_MAX];
	/* the loader prefers <name>.la and falls back to <name>.so */
	snprintf(path, sizeof(path), "%s/%s.", dir, name);
	ck_assert_has(msg, path);
}

START_TEST(test_load_testmod)
{
	ck_assert_int_eq(sbc_modules_init(), 0);
	const struct sbc_module *m =
	    sbc_module_load(libs_dir, "testmod", errbuf, sizeof(errbuf));
	ck_assert_msg(m != NULL, "testmod refused: %s", errbuf);
	ck_assert_str_eq(m->broker->name, "testmod");
	ck_assert_int_eq(m->path[0], '/');
	ck_assert_has(m->path, "/testmod.");
	/* cached: the same module again */
	const struct sbc_module *again =
	    sbc_module_load(libs_dir, "testmod", errbuf, sizeof(errbuf));
	ck_assert_ptr_eq(m, again);
	/* a second directory holding the same file is a second path */
	char *dir = module_tmp_dir();
	link_module(dir, "testmod");
	const struct sbc_module *other =
	    sbc_module_load(dir, "testmod", errbuf, sizeof(errbuf));
	ck_assert_msg(other != NULL, "%s", errbuf);
	ck_assert_ptr_eq(other->broker, m->broker);
	ck_assert_has(other->path, dir);
	/* a trailing slash names the same file */
	char slashed[2 * PATH_MAX];
	snprintf(slashed, sizeof(slashed), "%s//", dir);
	ck_assert_ptr_eq(
	    sbc_module_load(slashed, "testmod", errbuf, sizeof(errbuf)), other);
	rm_tree(dir);
	free(dir);
	sbc_modules_exit();
}
END_TEST

/* An installed .la whose libdir is another directory: ltdl loads the
 * library from there, and the loader says so. */
START_TEST(test_la_elsewhere)
{
	char *dir = module_tmp_dir();
	char la[2 * PATH_MAX], log[2 * PATH_MAX], text[2 * PATH_MAX + 256];
	link_module(dir, "testmod");
	snprintf(la, sizeof(la), "%s/testmod.la", dir);
	snprintf(text, sizeof(text),
		 "# libtool library file\n"
		 "dlname='testmod.so'\n"
		 "library_names='testmod.so'\n"
		 "old_library=''\n"
		 "dependency_libs=''\n"
		 "installed=yes\n"
		 "shouldnotlink=yes\n"
		 "libdir='%s'\n",
		 libs_dir);
	write_file(la, text);
	snprintf(log, sizeof(log), "%s/stderr.log", dir);
	fflush(stderr);
	int saved = dup(2);
	FILE *f = fopen(log, "w");
	ck_assert_ptr_nonnull(f);
	dup2(fileno(f), 2);
	const struct sbc_module *m =
	    sbc_module_load(dir, "testmod", errbuf, sizeof(errbuf));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fclose(f);
	ck_assert_msg(m != NULL, "%s", errbuf);
	ck_assert_str_eq(m->path, la);
	f = fopen(log, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	ck_assert_has(text, "testmod.la names another directory: loaded ");
	ck_assert_has(text, libs_dir);
	rm_tree(dir);
	free(dir);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_missing_file)
{
	const char *msg = refusal(libs_dir, "nosuch");
	ck_assert_has(msg, "no module file nosuch.la or nosuch.so in ");
	ck_assert_has(msg, libs_dir);
	ck_assert_has(msg, "is it installed? is module_dir right?");
	sbc_modules_exit();
}
END_TEST

START_TEST(test_bad_request)
{
	ck_assert_has(refusal(libs_dir, "../testmod"), "is not valid");
	ck_assert_has(refusal(libs_dir, "TestMod"), "[a-z0-9-]+");
	ck_assert_has(refusal(libs_dir, ""), "is not valid");
	ck_assert_has(refusal("relative/dir", "testmod"),
		      "module_dir \"relative/dir\" is not an absolute path");
	/* a directory where a module file should be */
	char *dir = module_tmp_dir();
	char sub[2 * PATH_MAX];
	snprintf(sub, sizeof(sub), "%s/adir.so", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	const char *msg = refusal(dir, "adir");
	ck_assert_has(msg, sub);
	ck_assert_has(msg, "not a regular file");
	/* a dangling symbolic link */
	snprintf(sub, sizeof(sub), "%s/gone.so", dir);
	ck_assert_int_eq(symlink("/nonexistent/gone.so", sub), 0);
	msg = refusal(dir, "gone");
	ck_assert_has(msg, sub);
	ck_assert_has(msg, "is a symbolic link to /nonexistent/gone.so, which "
			   "does not exist");
	rm_tree(dir);
	free(dir);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_not_elf)
{
	char *dir = module_tmp_dir();
	char path[2 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/notelf.so", dir);
	write_file(path, "hello, I am not a shared object\n");
	const char *msg = refusal(dir, "notelf");
	ck_assert_has(msg, path);
	ck_assert_has(msg, "is not a loadable object");
	ck_assert_has(msg, "starts with 68 65 6c 6c"); /* found: "hell" */
	ck_assert_has(msg, "expected an ELF shared object (7f 45 4c 46)");
	ck_assert_has(msg, "replace it");
	/* an empty file */
	snprintf(path, sizeof(path), "%s/empty.so", dir);
	write_file(path, "");
	msg = refusal(dir, "empty");
	ck_assert_has(msg, "an empty file");
	/* an ELF header on a truncated file: ltdl's own reason is shown */
	snprintf(path, sizeof(path), "%s/trunc.so", dir);
	write_file(path, "\177ELF\002\001\001");
	msg = refusal(dir, "trunc");
	ck_assert_has(msg, path);
	ck_assert_has(msg, "is not a loadable object (");
	ck_assert_has(msg, "file too short");
	rm_tree(dir);
	free(dir);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_no_symbol)
{
	const char *msg = refusal(libs_dir, "badmod-nosym");
	assert_names_file(msg, libs_dir, "badmod-nosym");
	ck_assert_has(msg, "has no symbol svcbroker_broker (it exports no "
			   "object or function of that name;");
	ck_assert_has(msg, "expected the module's one exported const struct "
			   "sb_broker");
	ck_assert_has(msg, "-export-symbols-regex");
	sbc_modules_exit();
}
END_TEST

/* Every symbol is bound at load: a module calling a function no library
 * defines is refused then, not when the call is first made. */
START_TEST(test_undefined_symbol)
{
	const char *msg = refusal(libs_dir, "badmod-undef");
	assert_names_file(msg, libs_dir, "badmod-undef");
	ck_assert_has(msg, "uses a symbol that no loaded library defines "
			   "(undefined symbol: badmod_no_such_function)");
	ck_assert_has(msg, "-Wl,--no-undefined");
	/* refused again, the same way (nothing half-loaded is cached) */
	char first[sizeof(errbuf)];
	snprintf(first, sizeof(first), "%s", msg);
	ck_assert_str_eq(refusal(libs_dir, "badmod-undef"), first);
	sbc_modules_exit();
}
END_TEST

/* With sbc_modules_probe, a constructor that crashes, exits or hangs is a
 * refusal with the reason, in a child process; this process goes on. */
START_TEST(test_probe)
{
	static const struct {
		const char *how, *want;
	} cases[] = {
	    {"segv", "crashmod.la: loading it crashed with SIGSEGV (invalid "
		     "memory access) (in a constructor of the module"},
	    {"abort", "crashmod.la: loading it crashed with SIGABRT (abort)"},
	    {"exit", "crashmod.la: loading it ended the process with exit "
		     "status 0 (a constructor that calls exit()?)"},
	    {"hang", "crashmod.la: loading it did not finish within 500 ms (a "
		     "constructor that hangs?)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* (a child under valgrind may need seconds to crash) */
		bool hang = strcmp(cases[i].how, "hang") == 0;
		sbc_modules_probe(hang ? 500 : 20000);
		setenv("CRASHMOD_CTOR", cases[i].how, 1);
		const char *msg = refusal(libs_dir, "crashmod");
		ck_assert_has(msg, libs_dir);
		ck_assert_has(msg, cases[i].want);
	}
	unsetenv("CRASHMOD_CTOR");
	sbc_modules_probe(20000);
	/* the child's own refusals come back as they are */
	ck_assert_has(refusal(libs_dir, "badmod-magic"), "magic 0xdeadbeef");
	ck_assert_has(refusal(libs_dir, "badmod-undef"),
		      "undefined symbol: badmod_no_such_function");
	/* good modules load (in the child, then here) */
	const struct sbc_module *m =
	    sbc_module_load(libs_dir, "crashmod", errbuf, sizeof(errbuf));
	ck_assert_msg(m != NULL, "crashmod refused: %s", errbuf);
	ck_assert_str_eq(m->broker->name, "crashmod");
	m = sbc_module_load(libs_dir, "testmod", errbuf, sizeof(errbuf));
	ck_assert_msg(m != NULL, "testmod refused: %s", errbuf);
	sbc_modules_probe(0);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_wrong_magic)
{
	const char *msg = refusal(libs_dir, "badmod-magic");
	assert_names_file(msg, libs_dir, "badmod-magic");
	ck_assert_has(msg, "magic 0xdeadbeef, expected 0x53564342");
	ck_assert_has(msg, "rebuild the module against these headers");
	sbc_modules_exit();
}
END_TEST

START_TEST(test_other_major)
{
	const char *msg = refusal(libs_dir, "badmod-major");
	assert_names_file(msg, libs_dir, "badmod-major");
	char want[128];
	snprintf(want, sizeof(want),
		 "was built for broker ABI %d.%d, this host speaks %d.%d: "
		 "rebuild it against these headers",
		 SB_ABI_MAJOR + 1, SB_ABI_MINOR, SB_ABI_MAJOR, SB_ABI_MINOR);
	ck_assert_has(msg, want);
	sbc_modules_exit();
}
END_TEST

START_TEST(test_newer_minor)
{
	const char *msg = refusal(libs_dir, "badmod-minor");
	assert_names_file(msg, libs_dir, "badmod-minor");
	char want[128];
	snprintf(want, sizeof(want),
		 "was built for broker ABI %d.%d, newer than this host's %d.%d",
		 SB_ABI_MAJOR, SB_ABI_MINOR + 1, SB_ABI_MAJOR, SB_ABI_MINOR);
	ck_assert_has(msg, want);
	ck_assert_has(msg, "upgrade svcbroker");
	sbc_modules_exit();
}
END_TEST

START_TEST(test_small_struct)
{
	const char *msg = refusal(libs_dir, "badmod-size");
	assert_names_file(msg, libs_dir, "badmod-size");
	char want[128];
	snprintf(want, sizeof(want), "struct_size is %zu bytes",
		 offsetof(struct sb_broker, close));
	ck_assert_has(msg, want);
	snprintf(want, sizeof(want), "needs at least %zu",
		 sizeof(struct sb_broker));
	ck_assert_has(msg, want);
	ck_assert_has(msg, "rebuild it");
	sbc_modules_exit();
}
END_TEST

START_TEST(test_name_mismatch)
{
	const char *msg = refusal(libs_dir, "badmod-name");
	assert_names_file(msg, libs_dir, "badmod-name");
	ck_assert_has(msg, "holds module \"othername\", expected "
			   "\"badmod-name\"");
	ck_assert_has(msg, "rename the file to othername.so");
	sbc_modules_exit();
}
END_TEST

START_TEST(test_invalid_tables)
{
	const char *msg = refusal(libs_dir, "badmod-tables");
	assert_names_file(msg, libs_dir, "badmod-tables");
	ck_assert_has(msg, "invalid tables: object Thing: method Do: no doc");
	ck_assert_has(msg, "fix the module");
	sbc_modules_exit();
}
END_TEST

/* Refusals (tried again and again) leave good modules working. */
START_TEST(test_refusals_then_good)
{
	static const char *const bad[] = {"badmod-nosym", "badmod-magic",
					  "badmod-major", "badmod-old",
					  "badmod-minor", "badmod-size",
					  "badmod-name",  "badmod-tables",
					  "badmod-undef", NULL};
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; bad[i]; i++)
			refusal(libs_dir, bad[i]);
		const struct sbc_module *m = sbc_module_load(
		    libs_dir, "testmod", errbuf, sizeof(errbuf));
		ck_assert_msg(m != NULL, "testmod refused: %s", errbuf);
		ck_assert_str_eq(m->broker->name, "testmod");
		ck_assert_ptr_nonnull(m->broker->open);
	}
	sbc_modules_exit();
}
END_TEST

static bool errs_have(const struct sbc_errlist *l, const char *needle)
{
	for (size_t i = 0; i < l->n; i++)
		if (strstr(l->msgs[i], needle))
			return true;
	return false;
}

START_TEST(test_scan)
{
	/* .libs holds name.la and name.so for each: one module each */
	struct sbc_errlist errs = {0};
	const struct sbc_module **mods = NULL;
	size_t n = sbc_module_scan(libs_dir, &mods, &errs);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(mods[0]->broker->name, "crashmod");
	ck_assert_str_eq(mods[1]->broker->name, "testmod");
	ck_assert_uint_eq(errs.n, 9);
	ck_assert(
	    errs_have(&errs, "undefined symbol: badmod_no_such_function"));
	ck_assert(errs_have(&errs, "badmod-nosym"));
	char speaks[80];
	snprintf(speaks, sizeof(speaks),
		 "was built for broker ABI %d.%d, this host speaks %d.%d",
		 SB_ABI_MAJOR - 1, SB_ABI_MINOR, SB_ABI_MAJOR, SB_ABI_MINOR);
	ck_assert_msg(errs_have(&errs, speaks), "no \"%s\"", speaks);
	ck_assert(errs_have(&errs, "magic 0xdeadbeef"));
	snprintf(speaks, sizeof(speaks), "ABI %d.%d", SB_ABI_MAJOR + 1,
		 SB_ABI_MINOR);
	ck_assert_msg(errs_have(&errs, speaks), "no \"%s\"", speaks);
	ck_assert(errs_have(&errs, "newer than"));
	ck_assert(errs_have(&errs, "struct_size"));
	ck_assert(errs_have(&errs, "othername"));
	ck_assert(errs_have(&errs, "invalid tables"));
	free(mods);
	sbc_errlist_free(&errs);

	/* a directory of symlinks, a non-ELF file and a bad file name */
	char *dir = module_tmp_dir();
	link_module(dir, "testmod");
	link_module(dir, "badmod-major");
	char path[2 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/notelf.so", dir);
	write_file(path, "text");
	snprintf(path, sizeof(path), "%s/Bad_Name.so", dir);
	write_file(path, "text");
	snprintf(path, sizeof(path), "%s/readme.txt", dir);
	write_file(path, "not a module");
	n = sbc_module_scan(dir, &mods, &errs);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(mods[0]->broker->name, "testmod");
	ck_assert_uint_eq(errs.n, 3);
	ck_assert(errs_have(&errs, "notelf.so is not a loadable object"));
	ck_assert(errs_have(&errs, "is not a module name"));
	ck_assert(errs_have(&errs, "badmod-major.so was built for"));
	free(mods);
	sbc_errlist_free(&errs);

	/* an empty directory, a missing one */
	rm_tree(dir);
	free(dir);
	dir = module_tmp_dir();
	n = sbc_module_scan(dir, &mods, &errs);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(mods);
	ck_assert_uint_eq(errs.n, 0);
	rm_tree(dir);
	n = sbc_module_scan(dir, &mods, &errs);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert(errs_have(&errs, dir));
	sbc_errlist_free(&errs);
	free(dir);
	sbc_modules_exit();
}
END_TEST

/* ---- table checks -------------------------------------------------------- */

static enum sb_status t_open(const struct sb_host *h, const void *c, void **s,
			     struct sb_error *e)
{
	*s = NULL;
	return SB_OK;
}
static enum sb_status t_exec(void *s, const struct sb_call *c,
			     struct sb_result *r, struct sb_error *e)
{
	return SB_OK;
}
static void t_close(void *s) {}

struct t_conf {
	char *s;
	int64_t n;
	int e;
};
static const char *const abc[] = {"A", "B", "C", NULL};
static const char *const abd[] = {"A", "B", "D", NULL};

static struct sb_config_key conf_tab[5];
static struct sb_property props[4];
static struct sb_param params[4];
static const char *returns_tab[3];
static struct sb_method methods[3];
static struct sb_object objects[3];
static struct sb_broker desc;

/* A valid descriptor; each test breaks one thing. */
static void reset_desc(void)
{
	memset(conf_tab, 0, sizeof(conf_tab));
	conf_tab[0] =
	    (struct sb_config_key){.key = "url",
				   .type = SB_CONF_STRING,
				   .doc = "The URL.",
				   .flags = SB_CONF_REQUIRED,
				   .offset = offsetof(struct t_conf, s)};
	conf_tab[1] =
	    (struct sb_config_key){.key = "retries",
				   .type = SB_CONF_INT,
				   .def = "3",
				   .min = 0,
				   .max = 10,
				   .doc = "Retries.",
				   .offset = offsetof(struct t_conf, n)};
	conf_tab[2] =
	    (struct sb_config_key){.key = "mode",
				   .type = SB_CONF_ENUM,
				   .def = "B",
				   .choices = abc,
				   .doc = "Mode.",
				   .offset = offsetof(struct t_conf, e)};
	memset(props, 0, sizeof(props));
	props[0] = (struct sb_property){
	    .name = "Id", .type = SB_TYPE_TEXT, .doc = "Id."};
	props[1] = (struct sb_property){.name = "Kind",
					.type = SB_TYPE_ENUM,
					.choices = abc,
					.doc = "Kind."};
	props[2] = (struct sb_property){.name = "Tags",
					.type = SB_TYPE_TEXT,
					.flags = SB_MULTI,
					.doc = "Tags."};
	memset(params, 0, sizeof(params));
	params[0] = (struct sb_param){.name = "Id",
				      .type = SB_TYPE_TEXT,
				      .flags = SB_REQUIRED,
				      .doc = "Id."};
	params[1] = (struct sb_param){.name = "Kind",
				      .type = SB_TYPE_ENUM,
				      .choices = abc,
				      .doc = "Kind."};
	params[2] = (struct sb_param){
	    .name = "Limit", .type = SB_TYPE_NUMBER, .doc = "A parameter."};
	returns_tab[0] = "Id";
	returns_tab[1] = "Tags";
	returns_tab[2] = NULL;
	memset(methods, 0, sizeof(methods));
	methods[0] = (struct sb_method){.name = "List",
					.kind = SB_KIND_LIST,
					.handler = t_exec,
					.doc = "List.",
					.inputs = params,
					.returns = returns_tab};
	methods[1] = (struct sb_method){.name = "Load",
					.kind = SB_KIND_READ,
					.handler = t_exec,
					.doc = "Load."};
	memset(objects, 0, sizeof(objects));
	objects[0] = (struct sb_object){.name = "Thing",
					.doc = "A thing.",
					.properties = props,
					.methods = methods};
	objects[1] = (struct sb_object){
	    .name = "Other", .doc = "Another.", .properties = props};
	desc = (struct sb_broker){
	    SB_BROKER_HEADER,	.name = "unit-test",
	    .version = "1",	.summary = "Unit test.",
	    .config = conf_tab, .config_size = sizeof(struct t_conf),
	    .objects = objects, .open = t_open,
	    .close = t_close};
}

static void expect_bad(const char *needle)
{
	errbuf[0] = '\0';
	ck_assert_msg(!sb_broker_check(&desc, errbuf, sizeof(errbuf)),
		      "accepted, expected \"%s\"", needle);
	ck_assert_has(errbuf, needle);
	reset_desc();
}

START_TEST(test_check_valid)
{
	reset_desc();
	ck_assert_msg(sb_broker_check(&desc, errbuf, sizeof(errbuf)), "%s",
		      errbuf);
	ck_assert(sb_object_check(&objects[0], errbuf, sizeof(errbuf)));
	/* no config, no objects */
	desc.config = NULL;
	desc.config_size = 0;
	desc.objects = NULL;
	ck_assert(sb_broker_check(&desc, errbuf, sizeof(errbuf)));
	reset_desc();
	desc.flags = SB_BROKER_SERIAL;
	ck_assert(sb_broker_check(&desc, errbuf, sizeof(errbuf)));
}
END_TEST

START_TEST(test_check_descriptor)
{
	reset_desc();
	desc.name = "Unit_Test";
	expect_bad("module name \"Unit_Test\" is not valid");
	desc.name = NULL;
	expect_bad("module name \"(null)\"");
	desc.version = "";
	expect_bad("no version");
	desc.summary = NULL;
	expect_bad("no summary");
	desc.open = NULL;
	expect_bad("open is missing");
	desc.close = NULL;
	expect_bad("close is missing");
	desc.flags = 0x80;
	expect_bad("unknown flags");
	objects[1].name = "Thing";
	expect_bad("object Thing: declared twice");
}
END_TEST

START_TEST(test_check_config)
{
	reset_desc();
	conf_tab[1].doc = NULL;
	expect_bad("config key retries: no doc");
	conf_tab[1].doc = "";
	expect_bad("config key retries: no doc");
	conf_tab[2].choices = NULL;
	expect_bad("config key mode: an enum needs choices");
	conf_tab[2].def = "Z";
	expect_bad("config key mode: default \"Z\" is not one of its choices");
	desc.config_size = 0;
	expect_bad("config_size is 0 but the config table has keys");
	conf_tab[1].offset = sizeof(struct t_conf);
	expect_bad("config key retries: field at offset");
	conf_tab[1].offset = sizeof(struct t_conf) - 4;
	expect_bad("lies outside config_size");
	conf_tab[1].offset = 1;
	expect_bad("not aligned");
	conf_tab[2].offset = offsetof(struct t_conf, n);
	expect_bad("config keys retries and mode: their fields overlap");
	conf_tab[1].key = "url";
	expect_bad("config key url: declared twice");
	conf_tab[1].key = "Retries";
	expect_bad("config key \"Retries\"");
	conf_tab[1].key = "timeout";
	expect_bad("config key timeout: the host owns this key");
	conf_tab[0].def = "http://x";
	expect_bad("config key url: is required and has a default");
	conf_tab[1].min = 5;
	conf_tab[1].max = 1;
	expect_bad("config key retries: min 5 is above max 1");
	conf_tab[1].type = (enum sb_conf_type)42;
	expect_bad("config key retries: unknown type 42");
	conf_tab[1].flags = 0x10;
	expect_bad("config key retries: unknown flags");
	/* one model for enumerations: choices only on enums, schemes only on
	 * URLs */
	conf_tab[0].choices = abc;
	expect_bad("config key url: has choices but is not an enum");
	conf_tab[0].schemes = abc;
	expect_bad("config key url: has schemes but is not a URL");
	/* a fragment is flattened: its keys are checked like the others */
	static struct sb_config_key frag[3];
	memset(frag, 0, sizeof(frag));
	frag[0] = (struct sb_config_key){
	    .key = "url", .type = SB_CONF_STRING, .doc = "Again.", .offset = 0};
	conf_tab[3] =
	    (struct sb_config_key){.key = "tls",
				   .type = SB_CONF_FRAGMENT,
				   .fragment = frag,
				   .offset = offsetof(struct t_conf, s)};
	expect_bad("config key url: declared twice");
	conf_tab[3] = (struct sb_config_key){
	    .key = "tls", .type = SB_CONF_FRAGMENT, .fragment = NULL};
	expect_bad("config table: a fragment is NULL");
}
END_TEST

START_TEST(test_check_config_fragment)
{
	/* sb_tls_keys, included in a struct of its own: accepted, and its
	 * keys sit at the member's offset. */
	struct f_conf {
		char *url;
		struct sb_tls_conf tls;
	};
	static const struct sb_config_key keys[] = {
	    {.key = "url",
	     .type = SB_CONF_STRING,
	     .doc = "The URL.",
	     .offset = offsetof(struct f_conf, url)},
	    SB_CONF_INCLUDE("tls", sb_tls_keys, offsetof(struct f_conf, tls)),
	    SB_CONF_END};
	reset_desc();
	desc.config = keys;
	desc.config_size = sizeof(struct f_conf);
	ck_assert_msg(sb_broker_check(&desc, errbuf, sizeof(errbuf)), "%s",
		      errbuf);
	struct sb_conf_flat flat[8];
	ck_assert_uint_eq(sb_conf_flatten(keys, flat, 8), 3);
	ck_assert_str_eq(flat[1].key->key, "verify_tls");
	ck_assert_uint_eq(flat[1].offset,
			  offsetof(struct f_conf, tls) +
			      offsetof(struct sb_tls_conf, verify_tls));
	ck_assert_str_eq(flat[2].key->key, "ca_file");
	ck_assert_uint_eq(flat[2].offset,
			  offsetof(struct f_conf, tls) +
			      offsetof(struct sb_tls_conf, ca_file));
	/* a struct too small for the fragment is refused */
	desc.config_size = sizeof(char *) + 1;
	expect_bad("lies outside config_size");
}
END_TEST

START_TEST(test_check_objects)
{
	reset_desc();
	objects[0].doc = NULL;
	expect_bad("object Thing: no doc");
	objects[0].name = "thing";
	expect_bad("object \"thing\": names are PascalCase");
	props[1].doc = "";
	expect_bad("object Thing: property Kind: no doc");
	props[1].name = "Kind_2";
	expect_bad("property \"Kind_2\": names are PascalCase");
	props[1].name = "Id";
	expect_bad("object Thing: property Id: declared twice");
	props[1].choices = NULL;
	expect_bad("object Thing: property Kind: an enum needs choices");
	props[1].choices = (const char *const[]){"A", "", NULL};
	expect_bad("property Kind: choice 1 is empty");
	props[1].choices = (const char *const[]){"A", "A", NULL};
	expect_bad("property Kind: choice \"A\" is listed twice");
	props[0].type = SB_TYPE_COUNT_;
	expect_bad("object Thing: property Id: unknown type");
	props[0].flags = SB_REQUIRED;
	expect_bad("object Thing: property Id: unknown flags");
}
END_TEST

START_TEST(test_check_methods)
{
	reset_desc();
	methods[1].doc = NULL;
	expect_bad("object Thing: method Load: no doc");
	methods[1].name = "load";
	expect_bad("object Thing: method \"load\": names are PascalCase");
	methods[1].name = "List";
	expect_bad("object Thing: method List: declared twice");
	methods[1].kind = (enum sb_method_kind)99;
	expect_bad("object Thing: method Load: unknown kind 99");
	methods[1].handler = NULL;
	expect_bad("object Thing: method Load: no handler");
	params[2].min = 5;
	params[2].max = 1;
	expect_bad("method List: input Limit: min is above max");
	params[0].min = 1;
	params[0].max = 9;
	expect_bad("method List: input Id: min/max are for number inputs");
	params[0].choices = abc;
	expect_bad("method List: input Id: has choices but is not an enum");
	returns_tab[1] = "Nope";
	expect_bad("object Thing: method List: returns \"Nope\", which is not "
		   "a property of Thing");
	returns_tab[1] = "Id";
	expect_bad("method List: returns Id twice");
	params[2].doc = NULL;
	expect_bad("object Thing: method List: input Limit: no doc");
	params[2].name = "limit";
	expect_bad("method List: input \"limit\": names are PascalCase");
	params[2].name = "Id";
	expect_bad("method List: input Id: declared twice");
	params[2].type = SB_TYPE_ENUM;
	expect_bad("method List: input Limit: an enum needs choices");
	params[2].flags = 0x40;
	expect_bad("method List: input Limit: unknown flags");
	/* SB_MAILBOX: one text or email value, the only mailbox input */
	params[0].flags = SB_REQUIRED | SB_MAILBOX;
	ck_assert_msg(sb_broker_check(&desc, errbuf, sizeof(errbuf)), "%s",
		      errbuf);
	reset_desc();
	params[2].flags = SB_MAILBOX;
	expect_bad("input Limit: SB_MAILBOX is for one text or email value");
	params[0].flags = SB_MAILBOX | SB_MULTI;
	expect_bad("input Id: SB_MAILBOX is for one text or email value");
	params[0].flags = SB_MAILBOX;
	params[2] = (struct sb_param){
	    .name = "Mailbox", .type = SB_TYPE_EMAIL, .doc = "A mailbox."};
	expect_bad("input Id: SB_MAILBOX, but input Mailbox names a mailbox "
		   "too");
	params[0].flags = SB_MAILBOX;
	params[2] = (struct sb_param){.name = "Owner",
				      .type = SB_TYPE_EMAIL,
				      .flags = SB_MAILBOX,
				      .doc = "An owner."};
	expect_bad("input Id: SB_MAILBOX, but input Owner names a mailbox "
		   "too");
	params[2].name = "PageSize";
	expect_bad("input PageSize: list methods get PageSize and PageToken "
		   "from the host");
	params[2].name = "PageToken";
	params[2].type = SB_TYPE_TEXT;
	expect_bad("input PageToken: list methods get PageSize");
	/* a non-list method may name its own PageSize */
	methods[0].kind = SB_KIND_EXECUTE;
	params[2].name = "PageSize";
	ck_assert_msg(sb_broker_check(&desc, errbuf, sizeof(errbuf)), "%s",
		      errbuf);
	reset_desc();
}
END_TEST

START_TEST(test_check_param_matches_property)
{
	reset_desc();
	params[0].type = SB_TYPE_NUMBER;
	expect_bad("input Id: is number but property Id is text");
	params[0].flags = SB_MULTI;
	expect_bad("input Id: is text (multi) but property Id is text");
	params[2].name = "Tags";
	params[2].type = SB_TYPE_TEXT;
	expect_bad("input Tags: is text but property Tags is text (multi)");
	params[1].choices = abd;
	expect_bad("input Kind: its choices differ from property Kind's");
	params[1].choices = (const char *const[]){"A", "B", NULL};
	expect_bad("input Kind: its choices differ");
	/* same choices in another array are fine */
	params[1].choices = (const char *const[]){"A", "B", "C", NULL};
	params[2].name = "Tags";
	params[2].type = SB_TYPE_TEXT;
	params[2].flags = SB_MULTI;
	ck_assert_msg(sb_broker_check(&desc, errbuf, sizeof(errbuf)), "%s",
		      errbuf);
}
END_TEST

START_TEST(test_check_testmod_descriptor)
{
	const struct sbc_module *m =
	    sbc_module_load(libs_dir, "testmod", errbuf, sizeof(errbuf));
	ck_assert_msg(m != NULL, "%s", errbuf);
	ck_assert(sb_broker_check(m->broker, errbuf, sizeof(errbuf)));
	/* every config type, one required key, one secret key */
	bool seen[SB_CONF_URL + 1] = {false};
	int required = 0, secret = 0;
	for (const struct sb_config_key *k = m->broker->config; k->key; k++) {
		seen[k->type] = true;
		required += !!(k->flags & SB_CONF_REQUIRED);
		secret += !!(k->flags & SB_CONF_SECRET);
	}
	for (int t = 0; t <= SB_CONF_URL; t++)
		ck_assert_msg(seen[t], "config type %d unused", t);
	ck_assert_int_eq(required, 1);
	ck_assert_int_eq(secret, 1);
	sbc_modules_exit();
}
END_TEST

static Suite *module_suite(void)
{
	Suite *s = suite_create("module");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, test_load_testmod);
	tcase_add_test(tc, test_la_elsewhere);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_bad_request);
	tcase_add_test(tc, test_not_elf);
	tcase_add_test(tc, test_no_symbol);
	tcase_add_test(tc, test_undefined_symbol);
	tcase_add_test(tc, test_probe);
	tcase_add_test(tc, test_wrong_magic);
	tcase_add_test(tc, test_other_major);
	tcase_add_test(tc, test_newer_minor);
	tcase_add_test(tc, test_small_struct);
	tcase_add_test(tc, test_name_mismatch);
	tcase_add_test(tc, test_invalid_tables);
	tcase_add_test(tc, test_refusals_then_good);
	tcase_add_test(tc, test_scan);
	suite_add_tcase(s, tc);
	tc = tcase_create("check");
	tcase_add_test(tc, test_check_valid);
	tcase_add_test(tc, test_check_descriptor);
	tcase_add_test(tc, test_check_config);
	tcase_add_test(tc, test_check_config_fragment);
	tcase_add_test(tc, test_check_objects);
	tcase_add_test(tc, test_check_methods);
	tcase_add_test(tc, test_check_param_matches_property);
	tcase_add_test(tc, test_check_testmod_descriptor);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	find_libs_dir();
	SRunner *sr = srunner_create(module_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
