/* Unit tests for the INI configuration (core/host/config_load.c,
 * config_bind.c, ini_reader.c) and the SDK binder (core/sdk/conf.c). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <svcbroker/conf.h>

#include "host.h"

static char dir[256];
static struct sbc_errlist errs;
static struct sbc_config *cfg;

static void write_file(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	/* Create the parent directory if needed (one level). */
	char *slash = strrchr(path, '/');
	if (slash && slash > path + strlen(dir)) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static char *path_of(const char *rel)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return path;
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/sbcfg.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&errs, 0, sizeof(errs));
	cfg = NULL;
}

static void teardown(void)
{
	sbc_config_free(cfg);
	cfg = NULL;
	sbc_errlist_free(&errs);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Load main.ini written from text. */
static int load(const char *text)
{
	write_file("main.ini", text);
	sbc_config_free(cfg);
	cfg = NULL;
	sbc_errlist_free(&errs);
	return sbc_config_load(path_of("main.ini"), &cfg, &errs);
}

static bool has_err(const char *needle)
{
	for (size_t i = 0; i < errs.n; i++)
		if (strstr(errs.msgs[i], needle))
			return true;
	return false;
}

static void dump_errs(void)
{
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "  error: %s\n", errs.msgs[i]);
}

#define ASSERT_ERR(needle)                                                     \
	do {                                                                   \
		if (!has_err(needle))                                          \
			dump_errs();                                           \
		ck_assert_msg(has_err(needle), "no error with '%s'",           \
			      (needle));                                       \
	} while (0)

static bool any_err_contains(const char *secret) { return has_err(secret); }

/* ---- parse helpers ---------------------------------------------------- */

START_TEST(parse_helpers)
{
	bool b;
	ck_assert(sb_parse_bool("yes", &b) && b);
	ck_assert(sb_parse_bool("On", &b) && b);
	ck_assert(sb_parse_bool("1", &b) && b);
	ck_assert(sb_parse_bool("TRUE", &b) && b);
	ck_assert(sb_parse_bool("no", &b) && !b);
	ck_assert(sb_parse_bool("off", &b) && !b);
	ck_assert(sb_parse_bool("0", &b) && !b);
	ck_assert(sb_parse_bool("false", &b) && !b);
	ck_assert(!sb_parse_bool("maybe", &b));
	ck_assert(!sb_parse_bool("", &b));
	int64_t v;
	ck_assert(sb_parse_duration_ms("250ms", &v) && v == 250);
	ck_assert(sb_parse_duration_ms("30s", &v) && v == 30000);
	ck_assert(sb_parse_duration_ms("5m", &v) && v == 300000);
	ck_assert(sb_parse_duration_ms("1h", &v) && v == 3600000);
	ck_assert(sb_parse_duration_ms("1h30m", &v) && v == 5400000);
	ck_assert(sb_parse_duration_ms("0", &v) && v == 0);
	ck_assert(!sb_parse_duration_ms("30", &v));
	ck_assert(!sb_parse_duration_ms("-5s", &v));
	ck_assert(!sb_parse_duration_ms("5 s", &v));
	ck_assert(!sb_parse_duration_ms("", &v));
	ck_assert(!sb_parse_duration_ms("99999999999999999999h", &v));
	ck_assert(sb_parse_size("512", &v) && v == 512);
	ck_assert(sb_parse_size("64KiB", &v) && v == 65536);
	ck_assert(sb_parse_size("10MiB", &v) && v == 10485760);
	ck_assert(sb_parse_size("1GiB", &v) && v == 1073741824);
	ck_assert(sb_parse_size("2M", &v) && v == 2097152);
	ck_assert(!sb_parse_size("10 MiB", &v));
	ck_assert(!sb_parse_size("-1", &v));
	ck_assert(!sb_parse_size("1.5MiB", &v));
	ck_assert(!sb_parse_size("10XB", &v));
	ck_assert(!sb_parse_size("99999999999TiB", &v));
	enum sb_log_level l;
	ck_assert(sbc_log_level_parse("debug", &l) && l == SB_LOG_DEBUG);
	ck_assert(sbc_log_level_parse("error", &l) && l == SB_LOG_ERROR);
	ck_assert(!sbc_log_level_parse("loud", &l));
}
END_TEST

/* ---- loading ----------------------------------------------------------- */

START_TEST(defaults)
{
	ck_assert_int_eq(load("; nothing but a comment\n"), 0);
	ck_assert_str_eq(cfg->listen, "127.0.0.1:8780");
	ck_assert_str_eq(cfg->module_dir, SB_DEFAULT_MODULE_DIR);
	ck_assert_ptr_null(cfg->state_dir);
	ck_assert_int_eq(cfg->workers, 16);
	ck_assert_int_eq(cfg->queue, 1024);
	ck_assert_int_eq(cfg->max_body, 40 * 1024 * 1024);
	ck_assert_int_eq(cfg->log_level, SB_LOG_INFO);
	ck_assert_ptr_nonnull(cfg->modules);
	ck_assert_ptr_null(cfg->modules[0]);
	ck_assert_uint_eq(cfg->n_instances, 0);
	ck_assert_str_eq(cfg->path, path_of("main.ini"));
}
END_TEST

START_TEST(server_values_and_relative_dirs)
{
	ck_assert_int_eq(load("[server]\n"
			      "listen = 0.0.0.0:9000 ; all interfaces\n"
			      "module_dir = mods\n"
			      "state_dir = /var/lib/x\n"
			      "workers = 4\n"
			      "queue = 0\n"
			      "max_body = 1MiB\n"
			      "log_level = debug\n"),
			 0);
	ck_assert_str_eq(cfg->listen, "0.0.0.0:9000");
	char want[600];
	snprintf(want, sizeof(want), "%s/mods", dir);
	ck_assert_str_eq(cfg->module_dir, want);
	ck_assert_str_eq(cfg->state_dir, "/var/lib/x");
	ck_assert_int_eq(cfg->workers, 4);
	ck_assert_int_eq(cfg->queue, 0);
	ck_assert_int_eq(cfg->max_body, 1048576);
	ck_assert_int_eq(cfg->log_level, SB_LOG_DEBUG);
}
END_TEST

START_TEST(server_errors_are_all_collected)
{
	ck_assert_int_eq(load("[server]\n"
			      "listen = nowhere\n"
			      "workers = 0\n"
			      "queue = lots\n"
			      "max_body = 12parsecs\n"
			      "log_level = loud\n"
			      "colour = blue\n"
			      "workers = 5\n"),
			 -1);
	char where[600];
	snprintf(where, sizeof(where), "%s/main.ini:2: [server] listen", dir);
	ASSERT_ERR(where);
	ASSERT_ERR("main.ini:3: [server] workers: 0 is out of range 1..4096");
	ASSERT_ERR("main.ini:4: [server] queue");
	ASSERT_ERR("main.ini:5: [server] max_body");
	ASSERT_ERR("main.ini:6: [server] log_level");
	ASSERT_ERR("main.ini:7: [server] colour: unknown key; valid keys: "
		   "listen, module_dir");
	ASSERT_ERR("main.ini:8: [server] workers: set twice (first at");
	ck_assert_uint_eq(errs.n, 7);
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(unknown_section_type)
{
	ck_assert_int_eq(load("[servr]\nlisten = 1.2.3.4:5\n"
			      "[plugin smtp]\nenabled = yes\n"),
			 -1);
	ASSERT_ERR("main.ini:1: [servr]: unknown section type 'servr'");
	ASSERT_ERR("main.ini:3: [plugin smtp]: unknown section type 'plugin'");
	/* Keys of a refused section give no further noise. */
	ck_assert_uint_eq(errs.n, 2);
}
END_TEST

START_TEST(bad_instance_and_module_names)
{
	ck_assert_int_eq(load("[module smtp]\n"
			      "[instance Bad]\nbroker = smtp\n"
			      "[instance -x]\nbroker = smtp\n"
			      "[instance a b]\nbroker = smtp\n"
			      "[instance]\nbroker = smtp\n"
			      "[module Smtp]\n"
			      "[instance ok_name-2]\nbroker = smtp\n"),
			 -1);
	ASSERT_ERR("main.ini:2: [instance Bad]: invalid instance name");
	ASSERT_ERR("main.ini:4: [instance -x]: invalid instance name");
	ASSERT_ERR("main.ini:6: [instance a b]: invalid instance name");
	ASSERT_ERR("main.ini:8: [instance ]: invalid instance name");
	ASSERT_ERR("main.ini:10: [module Smtp]: invalid module name");
	ck_assert_uint_eq(errs.n, 5);
}
END_TEST

START_TEST(duplicate_sections_name_both_places)
{
	write_file("conf.d/10-dup.ini", "[instance mail]\nbroker = smtp\n");
	ck_assert_int_eq(load("[server]\ninclude = conf.d/*.ini\n"
			      "[module smtp]\nenabled = yes\n"
			      "[instance mail]\nbroker = smtp\n"
			      "[server]\n"),
			 -1);
	char msg[1200];
	snprintf(msg, sizeof(msg),
		 "%s/conf.d/10-dup.ini:1: [instance mail] is defined twice: "
		 "first at %s/main.ini:5",
		 dir, dir);
	ASSERT_ERR(msg);
	/* [server] may appear again (here and in included files): only a
	 * key set twice is an error. */
	ck_assert(!has_err("[server] is defined twice"));
}
END_TEST

START_TEST(instance_modules)
{
	ck_assert_int_eq(load("[module smtp]\nenabled = no\n"
			      "[module mapi-stub]\n" /* enabled by default */
			      "[instance a]\nbroker = smtp\n"
			      "[instance b]\nbroker = exchange-ews\n"
			      "[instance c]\nurl = x\n"
			      "[instance d]\nbroker = mapi-stub\n"),
			 -1);
	ASSERT_ERR("main.ini:5: [instance a] broker: module smtp is not "
		   "enabled");
	ASSERT_ERR("main.ini:7: [instance b] broker: module exchange-ews is "
		   "not configured");
	ASSERT_ERR("main.ini:8: [instance c] broker: missing");
	ck_assert_uint_eq(errs.n, 3);

	ck_assert_int_eq(load("[module smtp]\nenabled = yes\n"
			      "[module off]\nenabled = off\n"
			      "[instance m1]\nbroker = smtp\n"
			      "max_concurrency = 3\ntimeout = 2m\n"
			      "url = smtp://x\n"),
			 0);
	ck_assert_str_eq(cfg->modules[0], "smtp");
	ck_assert_ptr_null(cfg->modules[1]);
	ck_assert_uint_eq(cfg->n_instances, 1);
	struct sbc_instance_conf *in = &cfg->instances[0];
	ck_assert_str_eq(in->name, "m1");
	ck_assert_str_eq(in->broker, "smtp");
	ck_assert_int_eq(in->line, 5);
	ck_assert_str_eq(in->file, path_of("main.ini"));
	ck_assert_int_eq(in->max_concurrency, 3);
	ck_assert_int_eq(in->timeout_ms, 120000);
	ck_assert_uint_eq(in->n_kv, 1);
	ck_assert_str_eq(in->kv[0].key, "url");
	ck_assert_str_eq(in->kv[0].value, "smtp://x");
	ck_assert_int_eq(in->kv[0].line, 9);
	ck_assert(!in->kv[0].secret_ref);
}
END_TEST

START_TEST(host_keys_checked)
{
	ck_assert_int_eq(load("[module smtp]\n"
			      "[instance a]\nbroker = smtp\n"
			      "max_concurrency = 0\ntimeout = 0\n"
			      "[instance b]\nbroker = smtp\n"
			      "timeout = soon\nbroker = smtp\n"
			      "url = a\nurl = b\n"),
			 -1);
	ASSERT_ERR("main.ini:4: [instance a] max_concurrency: 0 is out of "
		   "range 1..1024");
	ASSERT_ERR("main.ini:5: [instance a] timeout: 0 is out of range "
		   "1ms..1h");
	ASSERT_ERR("main.ini:8: [instance b] timeout: soon is not a "
		   "duration");
	ASSERT_ERR("main.ini:9: [instance b] broker: set twice");
	ASSERT_ERR("main.ini:11: [instance b] url: set twice (first at");
	ck_assert_uint_eq(errs.n, 5);
	/* Defaults of host keys. */
	ck_assert_int_eq(load("[module smtp]\n[instance a]\nbroker = smtp\n"),
			 0);
	ck_assert_int_eq(cfg->instances[0].max_concurrency, 8);
	ck_assert_int_eq(cfg->instances[0].timeout_ms, 30000);
}
END_TEST

START_TEST(includes_in_lexical_order)
{
	write_file("conf.d/20-b.ini", "[instance bb]\nbroker = smtp\n");
	write_file("conf.d/10-a.ini", "[instance aa]\nbroker = smtp\n");
	write_file("conf.d/30-c.conf", "this is not ini and not included\n");
	write_file("more/x.ini", "[instance xx]\nbroker = smtp\n");
	write_file("conf.d/05-first.ini", "[module smtp]\nenabled = yes\n");
	ck_assert_int_eq(load("[server]\ninclude = conf.d/*.ini\n"
			      "  more/*.ini\n"
			      "[instance main]\nbroker = smtp\n"),
			 0);
	ck_assert_uint_eq(cfg->n_instances, 4);
	/* The main file first, then each include in lexical order. */
	ck_assert_str_eq(cfg->instances[0].name, "main");
	ck_assert_str_eq(cfg->instances[1].name, "aa");
	ck_assert_str_eq(cfg->instances[2].name, "bb");
	ck_assert_str_eq(cfg->instances[3].name, "xx");
	char want[600];
	snprintf(want, sizeof(want), "%s/conf.d/10-a.ini", dir);
	ck_assert_str_eq(cfg->instances[1].file, want);
	ck_assert_int_eq(cfg->instances[1].line, 1);
	ck_assert_str_eq(cfg->modules[0], "smtp");
	/* An empty glob is fine; a missing plain file is not. */
	ck_assert_int_eq(load("[server]\ninclude = none.d/*.ini\n"), 0);
	ck_assert_int_eq(load("[server]\ninclude = missing.ini\n"), -1);
	ASSERT_ERR("main.ini:2: [server] include:");
	ASSERT_ERR("missing.ini does not exist");
	/* Including itself is refused, not looped. */
	ck_assert_int_eq(load("[server]\ninclude = main.ini\n"), -1);
	ASSERT_ERR("is read twice");
}
END_TEST

START_TEST(env_and_file_references)
{
	write_file("secret.txt", "s3cr3t-value\n");
	write_file("secrets/api.key", "k3y\r\n");
	setenv("SB_TEST_TOKEN", "t0ken", 1);
	unsetenv("SB_TEST_MISSING");
	ck_assert_int_eq(load("[module smtp]\n[instance a]\nbroker = smtp\n"
			      "password = ${file:secret.txt}\n"
			      "key = ${file:secrets/api.key}\n"
			      "token = ${env:SB_TEST_TOKEN}\n"
			      "plain = ${literal\n"),
			 -1);
	ASSERT_ERR("main.ini:7: [instance a] plain: a value starting with "
		   "'${' must be exactly");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(load("[module smtp]\n[instance a]\nbroker = smtp\n"
			      "password = ${file:secret.txt}\n"
			      "key = ${file:secrets/api.key}\n"
			      "token = ${env:SB_TEST_TOKEN}\n"),
			 0);
	struct sbc_instance_conf *in = &cfg->instances[0];
	ck_assert_uint_eq(in->n_kv, 3);
	ck_assert_str_eq(in->kv[0].value, "s3cr3t-value");
	ck_assert(in->kv[0].secret_ref);
	ck_assert_str_eq(in->kv[1].value, "k3y");
	ck_assert_str_eq(in->kv[2].value, "t0ken");
	ck_assert(in->kv[2].secret_ref);

	/* Errors name the path or variable, never a value. */
	char big[70 * 1024];
	memset(big, 'Z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "TOPSECRET", 9);
	write_file("huge.txt", big);
	ck_assert_int_eq(load("[module smtp]\n[instance a]\nbroker = smtp\n"
			      "p1 = ${file:nonexistent.secret}\n"
			      "p2 = ${env:SB_TEST_MISSING}\n"
			      "p3 = ${file:huge.txt}\n"
			      "p4 = ${env:BAD-NAME}\n"),
			 -1);
	char msg[800];
	snprintf(msg, sizeof(msg),
		 "main.ini:4: [instance a] p1: cannot read "
		 "%s/nonexistent.secret: No such file",
		 dir);
	ASSERT_ERR(msg);
	ASSERT_ERR("main.ini:5: [instance a] p2: environment variable "
		   "SB_TEST_MISSING is not set");
	ASSERT_ERR("main.ini:6: [instance a] p3:");
	ASSERT_ERR("huge.txt is larger than");
	ASSERT_ERR("main.ini:7: [instance a] p4: invalid environment");
	ck_assert(!any_err_contains("TOPSECRET"));
	ck_assert_uint_eq(errs.n, 4);
}
END_TEST

/* A FIFO, a device or a directory as the configuration file, an include or
 * a ${file:} secret is refused at once, naming the path and what it is
 * (reading a FIFO with no writer would wait forever). */
START_TEST(non_regular_files_refused)
{
	ck_assert_int_eq(mkfifo(path_of("fifo.ini"), 0600), 0);
	ck_assert_int_eq(mkfifo(path_of("secret.fifo"), 0600), 0);
	ck_assert_int_eq(mkdir(path_of("dir.ini"), 0700), 0);
	char msg[800];

	/* The main file. */
	sbc_errlist_free(&errs);
	ck_assert_int_eq(sbc_config_load(path_of("fifo.ini"), &cfg, &errs), -1);
	snprintf(msg, sizeof(msg),
		 "%s/fifo.ini: cannot read: it is a FIFO, "
		 "not a regular file",
		 dir);
	ASSERT_ERR(msg);
	ck_assert_uint_eq(errs.n, 1);
	sbc_errlist_free(&errs);
	ck_assert_int_eq(sbc_config_load(path_of("dir.ini"), &cfg, &errs), -1);
	ASSERT_ERR("dir.ini: cannot read: it is a directory, not a regular "
		   "file");

	/* Includes: a glob matching a FIFO and a directory, and a plain
	 * name. */
	ck_assert_int_eq(load("[server]\ninclude = *.ini\n"), -1);
	snprintf(msg, sizeof(msg),
		 "main.ini:2: [server] include: %s/fifo.ini "
		 "is a FIFO, not a regular file",
		 dir);
	ASSERT_ERR(msg);
	ASSERT_ERR("main.ini:2: [server] include: ");
	ASSERT_ERR("dir.ini is a directory, not a regular file");
	ck_assert_uint_eq(errs.n, 3); /* main.ini itself: read twice */
	ck_assert_int_eq(load("[server]\ninclude = fifo.ini\n"), -1);
	ASSERT_ERR("fifo.ini is a FIFO, not a regular file");
	ck_assert_uint_eq(errs.n, 1);

	/* Secrets. */
	ck_assert_int_eq(load("[module smtp]\n[instance a]\nbroker = smtp\n"
			      "p1 = ${file:secret.fifo}\n"
			      "p2 = ${file:/dev/null}\n"
			      "p3 = ${file:dir.ini}\n"),
			 -1);
	snprintf(msg, sizeof(msg),
		 "main.ini:4: [instance a] p1: %s/"
		 "secret.fifo is a FIFO, not a regular file",
		 dir);
	ASSERT_ERR(msg);
	ASSERT_ERR("main.ini:5: [instance a] p2: /dev/null is a character "
		   "device, not a regular file");
	ASSERT_ERR("main.ini:6: [instance a] p3: ");
	ASSERT_ERR("dir.ini is a directory, not a regular file");
	ck_assert_uint_eq(errs.n, 3);
}
END_TEST

START_TEST(continuation_lines_and_comments)
{
	ck_assert_int_eq(load("# hash comment\n"
			      "[module mapi-stub]\n"
			      "[instance store]   ; trailing comment\n"
			      "broker = mapi-stub\n"
			      "mailboxes = a@example.com,\n"
			      "    b@example.com ; second\n"
			      "\n"
			      "\tc@example.com\n"
			      "note = semi;colon kept ; but this goes\n"
			      "   [instance other]\n"
			      "broker = mapi-stub\n"),
			 0);
	ck_assert_uint_eq(cfg->n_instances, 2);
	struct sbc_instance_conf *in = &cfg->instances[0];
	ck_assert_uint_eq(in->n_kv, 2);
	ck_assert_str_eq(in->kv[0].key, "mailboxes");
	ck_assert_str_eq(in->kv[0].value,
			 "a@example.com,\nb@example.com\nc@example.com");
	ck_assert_str_eq(in->kv[1].value, "semi;colon kept");
	/* An indented section header still starts a section. */
	ck_assert_str_eq(cfg->instances[1].name, "other");
	/* Host keys never continue. */
	ck_assert_int_eq(load("[module m]\n[instance a]\nbroker = m\n"
			      "  more\n"),
			 -1);
	ASSERT_ERR("main.ini:3: [instance a] broker: only list keys may "
		   "continue");
}
END_TEST

START_TEST(long_lines)
{
	/* 4000 bytes: far beyond inih's default 200, within our limit. */
	size_t vlen = 4000;
	char *text = malloc(vlen + 200);
	int n = snprintf(text, vlen + 200,
			 "[module m]\n[instance a]\nbroker = m\nlong = ");
	memset(text + n, 'v', vlen);
	snprintf(text + n + vlen, 200, "\nafter = 1\n");
	ck_assert_int_eq(load(text), 0);
	struct sbc_instance_conf *in = &cfg->instances[0];
	ck_assert_uint_eq(in->n_kv, 2);
	ck_assert_uint_eq(strlen(in->kv[0].value), vlen);
	ck_assert_str_eq(in->kv[1].key, "after");
	ck_assert_int_eq(in->kv[1].line, 5);
	free(text);

	/* 4097 bytes on one line: refused, and reading goes on. */
	text = malloc(5000);
	n = snprintf(text, 5000, "[module m]\n[instance a]\nbroker = m\nx = ");
	memset(text + n, 'w', 4097 - 4);
	snprintf(text + n + 4093, 200, "\nbad line\nok = 1\n");
	ck_assert_int_eq(load(text), -1);
	ASSERT_ERR("main.ini:4: line is longer than 4096 bytes");
	ASSERT_ERR("main.ini:5: expected 'key = value'");
	ck_assert_uint_eq(errs.n, 2);
	free(text);
}
END_TEST

START_TEST(syntax_errors)
{
	ck_assert_int_eq(load("orphan = 1\n"
			      "[server\n"
			      "[server] junk\n"
			      "[module m]\n"
			      "no equals here\n"
			      "url: http://x\n"
			      "= value\n"
			      "enabled = perhaps\n"
			      "colour = red\n"),
			 -1);
	ASSERT_ERR("main.ini:1: orphan: key outside any section");
	ASSERT_ERR("main.ini:2: section header without a closing ']'");
	ASSERT_ERR("main.ini:3: text after the section header");
	ASSERT_ERR("main.ini:5: expected 'key = value'");
	ASSERT_ERR("main.ini:6: expected 'key = value'");
	ASSERT_ERR("main.ini:7: a key name is missing");
	ASSERT_ERR("main.ini:8: [module m] enabled: perhaps is not a boolean");
	ASSERT_ERR("main.ini:9: [module m] colour: unknown key");
	ck_assert_uint_eq(errs.n, 8);
	/* A missing file. */
	sbc_errlist_free(&errs);
	ck_assert_int_eq(sbc_config_load(path_of("nope.ini"), &cfg, &errs), -1);
	ASSERT_ERR("nope.ini: cannot open");
}
END_TEST

/* ---- binding ------------------------------------------------------------ */

struct conf {
	char *url;
	char *password;
	char **mailboxes;
	int64_t io_timeout;
	int auth;
	int64_t retries;
	bool verify;
	int64_t max_size;
	char *ca_file;
	int64_t pin;
	char *name;
};

static const char *const schemes[] = {"smtp", "smtps", NULL};
static const char *const auths[] = {"none", "plain", "login", NULL};

static const struct sb_config_key keys[] = {
    {.key = "url",
     .type = SB_CONF_URL,
     .flags = SB_CONF_REQUIRED,
     .schemes = schemes,
     .doc = "Server URL.",
     .offset = offsetof(struct conf, url)},
    {.key = "password",
     .type = SB_CONF_STRING,
     .flags = SB_CONF_SECRET,
     .doc = "Password.",
     .offset = offsetof(struct conf, password)},
    {.key = "mailboxes",
     .type = SB_CONF_LIST,
     .doc = "Mailboxes.",
     .offset = offsetof(struct conf, mailboxes)},
    {.key = "io_timeout",
     .type = SB_CONF_DURATION,
     .def = "30s",
     .min = 1000,
     .max = 600000,
     .doc = "I/O timeout.",
     .offset = offsetof(struct conf, io_timeout)},
    {.key = "auth",
     .type = SB_CONF_ENUM,
     .def = "plain",
     .choices = auths,
     .doc = "Auth.",
     .offset = offsetof(struct conf, auth)},
    {.key = "retries",
     .type = SB_CONF_INT,
     .def = "3",
     .min = 0,
     .max = 10,
     .doc = "Retries.",
     .offset = offsetof(struct conf, retries)},
    {.key = "verify_tls",
     .type = SB_CONF_BOOL,
     .def = "yes",
     .doc = "Verify.",
     .offset = offsetof(struct conf, verify)},
    {.key = "max_size",
     .type = SB_CONF_SIZE,
     .def = "10MiB",
     .min = 1024,
     .max = 1 << 30,
     .doc = "Max size.",
     .offset = offsetof(struct conf, max_size)},
    {.key = "ca_file",
     .type = SB_CONF_PATH,
     .doc = "CA file.",
     .offset = offsetof(struct conf, ca_file)},
    {.key = "pin",
     .type = SB_CONF_INT,
     .flags = SB_CONF_SECRET,
     .doc = "A secret number.",
     .offset = offsetof(struct conf, pin)},
    {.key = "name",
     .type = SB_CONF_STRING,
     .doc = "A name.",
     .offset = offsetof(struct conf, name)},
    SB_CONF_END,
};

static int bind_text(const char *body, struct conf **out)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "[module smtp]\n[instance mail]\n"
		 "broker = smtp\n%s",
		 body);
	if (load(text) != 0) {
		dump_errs();
		ck_abort_msg("load failed");
	}
	void *o = NULL;
	int rc = sbc_config_bind(keys, sizeof(struct conf), &cfg->instances[0],
				 &o, &errs);
	*out = o;
	if (rc != 0)
		ck_assert_ptr_null(o);
	return rc;
}

START_TEST(bind_values_and_defaults)
{
	struct conf *c;
	int rc = bind_text("url = smtps://mail.example.com:465\n"
			   "password = p@ss;word\n"
			   "mailboxes = a@x, b@x,\n  c@x\n"
			   "auth = LOGIN\n"
			   "ca_file = certs/ca.pem\n"
			   "name = Example\n",
			   &c);
	if (rc != 0)
		dump_errs();
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(c->url, "smtps://mail.example.com:465");
	ck_assert_str_eq(c->password, "p@ss;word");
	ck_assert_str_eq(c->mailboxes[0], "a@x");
	ck_assert_str_eq(c->mailboxes[1], "b@x");
	ck_assert_str_eq(c->mailboxes[2], "c@x");
	ck_assert_ptr_null(c->mailboxes[3]);
	ck_assert_int_eq(c->auth, 2);
	/* Defaults went through the same parsers. */
	ck_assert_int_eq(c->io_timeout, 30000);
	ck_assert_int_eq(c->retries, 3);
	ck_assert(c->verify);
	ck_assert_int_eq(c->max_size, 10 * 1024 * 1024);
	char want[600];
	snprintf(want, sizeof(want), "%s/certs/ca.pem", dir);
	ck_assert_str_eq(c->ca_file, want);
	ck_assert_int_eq(c->pin, 0);
	ck_assert_str_eq(c->name, "Example");
	sbc_config_unbind(keys, c);
	ck_assert_uint_eq(errs.n, 0);
}
END_TEST

START_TEST(bind_errors_all_collected)
{
	struct conf *c;
	int rc = bind_text("urll = smtp://x\n"
			   "io_timeout = 0\n"
			   "auth = kerberos\n"
			   "retries = many\n"
			   "verify_tls = sometimes\n"
			   "max_size = 2GiB\n"
			   "mailboxes = a,\n"
			   "name = one\n  two\n",
			   &c);
	ck_assert_int_eq(rc, -1);
	ASSERT_ERR("main.ini:4: [instance mail] urll: unknown key; valid "
		   "keys: url, password, mailboxes");
	ASSERT_ERR("broker, max_concurrency, timeout");
	ASSERT_ERR("main.ini:5: [instance mail] io_timeout: 0 is out of range "
		   "1s..10m");
	ASSERT_ERR("main.ini:6: [instance mail] auth: kerberos is not one of "
		   "none, plain, login");
	ASSERT_ERR("main.ini:7: [instance mail] retries: many is not a whole "
		   "number");
	ASSERT_ERR("main.ini:8: [instance mail] verify_tls: sometimes is not a "
		   "boolean");
	ASSERT_ERR("main.ini:9: [instance mail] max_size: 2GiB is out of range "
		   "1KiB..1GiB");
	ASSERT_ERR("main.ini:11: [instance mail] name: only list keys may "
		   "continue");
	ASSERT_ERR("main.ini:2: [instance mail] url: missing (required: Server "
		   "URL.)");
	if (errs.n != 8)
		dump_errs();
	ck_assert_uint_eq(errs.n, 8);
}
END_TEST

START_TEST(bind_url_schemes)
{
	struct conf *c;
	ck_assert_int_eq(bind_text("url = http://mail.example.com\n", &c), -1);
	ASSERT_ERR("url: http://mail.example.com: URL scheme must be one of "
		   "smtp, smtps");
	ck_assert_int_eq(bind_text("url = mail.example.com\n", &c), -1);
	ASSERT_ERR("url: mail.example.com is not a URL");
	ck_assert_int_eq(bind_text("url = smtp://\n", &c), -1);
	ASSERT_ERR("is not a URL");
	ck_assert_int_eq(bind_text("url = SMTP://host\n", &c), 0);
	sbc_config_unbind(keys, c);
}
END_TEST

/* sb_path_check: what validate() says of a file key before open(). */
START_TEST(path_check_names_the_problem)
{
	struct sb_error e;
	ck_assert_int_eq(sb_path_check("ca_file", NULL, 0, &e), SB_OK);
	ck_assert_int_eq(sb_path_check("ca_file", "", 0, &e), SB_OK);

	write_file("ca.pem", "x\n");
	char ca[600];
	snprintf(ca, sizeof(ca), "%s", path_of("ca.pem"));
	ck_assert_int_eq(chmod(ca, 0644), 0);
	ck_assert_int_eq(sb_path_check("ca_file", ca, 0, &e), SB_OK);
	/* a private key's file may not be read by others */
	ck_assert_int_eq(sb_path_check("key_file", ca, SB_PATH_PRIVATE, &e),
			 SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(e.message, "key_file: ") == e.message &&
			  strstr(e.message, "ca.pem: readable by group or "
					    "others (mode 0644)"),
		      "%s", e.message);
	ck_assert_int_eq(chmod(ca, 0600), 0);
	ck_assert_int_eq(sb_path_check("key_file", ca, SB_PATH_PRIVATE, &e),
			 SB_OK);

	ck_assert_int_eq(sb_path_check("ca_file", path_of("none.pem"), 0, &e),
			 SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(e.message, "none.pem: no such file"), "%s",
		      e.message);
	ck_assert_int_eq(sb_path_check("ca_file", dir, 0, &e),
			 SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(e.message, "not a regular file"), "%s", e.message);
	if (geteuid() != 0) { /* root reads anything */
		ck_assert_int_eq(chmod(ca, 0), 0);
		ck_assert_int_eq(sb_path_check("ca_file", ca, 0, &e),
				 SB_ERR_INVALID_INPUT);
		ck_assert_msg(strstr(e.message, "permission denied"), "%s",
			      e.message);
	}
}
END_TEST

/* A URL quoted in a message never shows its password. */
START_TEST(messages_mask_url_passwords)
{
	struct conf *c;
	ck_assert_int_eq(bind_text("url = ftp://user:PASS1@host/\n", &c), -1);
	ASSERT_ERR("main.ini:4: [instance mail] url: ftp://user:***@host/: URL "
		   "scheme must be one of smtp, smtps");
	ck_assert_int_eq(bind_text("url = smtp://u:PASS2@x y\n"
				   "retries = see http://a:PASS3@b:1/?q=@\n"
				   "auth = https://:PASS4@p@ss@h#x\n",
				   &c),
			 -1);
	ASSERT_ERR("url: smtp://u:***@x y is not a URL");
	ASSERT_ERR("retries: see http://a:***@b:1/?q=@ is not a whole number");
	ASSERT_ERR("auth: https://:***@h#x is not one of");
	/* A user name alone is not a secret. */
	ck_assert_int_eq(bind_text("url = http://someone@host\n", &c), -1);
	ASSERT_ERR("url: http://someone@host: URL scheme");
	/* Host keys and [server] keys too. */
	ck_assert_int_eq(load("[server]\nworkers = http://w:PASS5@h\n"
			      "[module m]\n[instance a]\nbroker = m\n"
			      "max_concurrency = http://m:PASS6@h\n"),
			 -1);
	ASSERT_ERR("main.ini:2: [server] workers: http://w:***@h is not");
	ASSERT_ERR("main.ini:6: [instance a] max_concurrency: "
		   "http://m:***@h");
	ck_assert(!any_err_contains("PASS"));
}
END_TEST

/* A required key needs a value; an optional string may be empty; an empty
 * value of another type says "empty" instead of quoting nothing. */
START_TEST(bind_empty_values)
{
	static const struct sb_config_key req[] = {
	    {.key = "label",
	     .type = SB_CONF_STRING,
	     .flags = SB_CONF_REQUIRED,
	     .doc = "Label.",
	     .offset = 0},
	    {.key = "boxes",
	     .type = SB_CONF_LIST,
	     .flags = SB_CONF_REQUIRED,
	     .doc = "Boxes.",
	     .offset = sizeof(char *)},
	    SB_CONF_END,
	};
	void *o = NULL;
	ck_assert_int_eq(load("[module smtp]\n[instance mail]\nbroker = smtp\n"
			      "label =\nboxes =\n"),
			 0);
	ck_assert_int_eq(sbc_config_bind(req, 2 * sizeof(char *),
					 &cfg->instances[0], &o, &errs),
			 -1);
	ASSERT_ERR("main.ini:4: [instance mail] label: empty, a value is "
		   "required");
	ASSERT_ERR("main.ini:5: [instance mail] boxes: empty, a value is "
		   "required");
	ck_assert_uint_eq(errs.n, 2);
	/* A list of separators only holds no item. */
	setenv("SB_TEST_EMPTY", "", 1);
	ck_assert_int_eq(load("[module smtp]\n[instance mail]\nbroker = smtp\n"
			      "label = ${env:SB_TEST_EMPTY}\nboxes = ,\n"
			      "  ,\n"),
			 0);
	ck_assert_int_eq(sbc_config_bind(req, 2 * sizeof(char *),
					 &cfg->instances[0], &o, &errs),
			 -1);
	ASSERT_ERR("main.ini:4: [instance mail] label: empty, a value is "
		   "required");
	ASSERT_ERR("main.ini:5: [instance mail] boxes: empty, a value is "
		   "required");
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_int_eq(load("[module smtp]\n[instance mail]\nbroker = smtp\n"
			      "label = x\nboxes = a\n"),
			 0);
	ck_assert_int_eq(sbc_config_bind(req, 2 * sizeof(char *),
					 &cfg->instances[0], &o, &errs),
			 0);
	sbc_config_unbind(req, o);

	struct conf *c;
	ck_assert_int_eq(bind_text("url =\n", &c), -1);
	ASSERT_ERR("main.ini:4: [instance mail] url: empty, a value is "
		   "required");
	ck_assert(!has_err("  "));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(bind_text("url = smtp://x\nretries =\nauth =\n"
				   "verify_tls =\nio_timeout =\n",
				   &c),
			 -1);
	ASSERT_ERR("main.ini:5: [instance mail] retries: empty, expected a "
		   "whole number");
	ASSERT_ERR("main.ini:6: [instance mail] auth: empty, expected one of "
		   "none, plain, login");
	ASSERT_ERR("main.ini:7: [instance mail] verify_tls: empty, expected a "
		   "boolean");
	ASSERT_ERR("main.ini:8: [instance mail] io_timeout: empty, expected a "
		   "duration");
	ck_assert(!has_err("  "));
	ck_assert_uint_eq(errs.n, 4);
	/* Optional strings and lists may be empty. */
	ck_assert_int_eq(bind_text("url = smtp://x\nname =\nmailboxes =\n", &c),
			 0);
	ck_assert_str_eq(c->name, "");
	ck_assert_ptr_null(c->mailboxes[0]);
	sbc_config_unbind(keys, c);
}
END_TEST

/* Host keys: what is wrong with the value, once, with file:line. */
START_TEST(host_key_messages)
{
	write_file("two.txt", "line one\nline two\n");
	write_file("nl.txt", "value\r\n\n");
	write_file("more.ini", "[instance a]\nmax_concurrency = 3\n");
	ck_assert_int_eq(load("[server]\ninclude = more.ini\n"
			      "workers =\n"
			      "[module smtp]\n"
			      "[instance a]\nbroker = smtp\n"
			      "max_concurrency = abc\n"
			      "timeout =\n"
			      "[instance b]\nbroker = Bad_Name\n"
			      "max_concurrency = 2\nmax_concurrency = 4\n"
			      "timeout = 1s\ntimeout = 2s\n"
			      "[instance c]\nbroker =\n"),
			 -1);
	ASSERT_ERR("main.ini:3: [server] workers: empty, expected a whole "
		   "number");
	ASSERT_ERR("main.ini:7: [instance a] max_concurrency: abc is not a "
		   "whole number");
	ASSERT_ERR("main.ini:8: [instance a] timeout: empty, expected a "
		   "duration");
	ASSERT_ERR("main.ini:10: [instance b] broker: 'Bad_Name' is not a "
		   "module name");
	char msg[800];
	snprintf(msg, sizeof(msg),
		 "main.ini:12: [instance b] max_concurrency: "
		 "set twice (first at %s/main.ini:11)",
		 dir);
	ASSERT_ERR(msg);
	snprintf(msg, sizeof(msg),
		 "main.ini:14: [instance b] timeout: set "
		 "twice (first at %s/main.ini:13)",
		 dir);
	ASSERT_ERR(msg);
	ASSERT_ERR("main.ini:16: [instance c] broker: empty, a value is "
		   "required");
	/* The [instance a] of more.ini is a second section: one message. */
	ASSERT_ERR("more.ini:1: [instance a] is defined twice");
	ck_assert(!has_err("broker: missing"));
	if (errs.n != 8)
		dump_errs();
	ck_assert_uint_eq(errs.n, 8);

	/* Module keys name the first place too. */
	ck_assert_int_eq(load("[module smtp]\nenabled = yes\nenabled = no\n"),
			 -1);
	snprintf(msg, sizeof(msg),
		 "main.ini:3: [module smtp] enabled: set "
		 "twice (first at %s/main.ini:2)",
		 dir);
	ASSERT_ERR(msg);

	/* A ${file:} value: trailing line ends are not part of it; several
	 * lines are refused for a key that takes one. */
	struct conf *c;
	ck_assert_int_eq(
	    bind_text("url = smtp://x\nname = ${file:nl.txt}\n", &c), 0);
	ck_assert_str_eq(c->name, "value");
	sbc_config_unbind(keys, c);
	ck_assert_int_eq(bind_text("url = smtp://x\n"
				   "password = ${file:two.txt}\n"
				   "mailboxes = ${file:two.txt}\n",
				   &c),
			 -1);
	ASSERT_ERR("main.ini:5: [instance mail] password: the file or variable "
		   "it refers to holds several lines; this key takes one");
	ck_assert(!has_err("only list keys"));
	ck_assert(!has_err("line one"));
	ck_assert_uint_eq(errs.n, 1);
}
END_TEST

START_TEST(bind_never_shows_secrets)
{
	setenv("SB_TEST_SECRET_RETRIES", "hunter2-env", 1);
	struct conf *c;
	int rc = bind_text("url = smtp://x\n"
			   "pin = hunter2-inline\n"
			   "retries = ${env:SB_TEST_SECRET_RETRIES}\n",
			   &c);
	ck_assert_int_eq(rc, -1);
	ASSERT_ERR("main.ini:5: [instance mail] pin: the value is not a whole "
		   "number");
	ASSERT_ERR("main.ini:6: [instance mail] retries: the value is not a "
		   "whole number");
	ck_assert(!any_err_contains("hunter2"));
	ck_assert_uint_eq(errs.n, 2);
	/* Out of range, secret. */
	rc = bind_text("url = smtp://x\npin = 42\n", &c);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(c->pin, 42);
	sbc_config_unbind(keys, c);
}
END_TEST

START_TEST(bind_bad_default_and_bad_table)
{
	static const struct sb_config_key bad_def[] = {
	    {.key = "n",
	     .type = SB_CONF_INT,
	     .def = "ten",
	     .doc = "N.",
	     .offset = 0},
	    SB_CONF_END,
	};
	ck_assert_int_eq(
	    load("[module smtp]\n[instance mail]\nbroker = smtp\n"), 0);
	void *o = (void *)1;
	ck_assert_int_eq(sbc_config_bind(bad_def, sizeof(int64_t),
					 &cfg->instances[0], &o, &errs),
			 -1);
	ck_assert_ptr_null(o);
	ASSERT_ERR("[instance mail] n: default 'ten' is not a whole number");
	static const struct sb_config_key too_big[] = {
	    {.key = "s", .type = SB_CONF_STRING, .doc = "S.", .offset = 8},
	    SB_CONF_END,
	};
	ck_assert_int_eq(
	    sbc_config_bind(too_big, 8, &cfg->instances[0], &o, &errs), -1);
	ASSERT_ERR("does not fit its config struct");
	/* An empty table binds an instance without keys. */
	ck_assert_int_eq(
	    sbc_config_bind(NULL, 0, &cfg->instances[0], &o, &errs), 0);
	ck_assert_ptr_nonnull(o);
	sbc_config_unbind(NULL, o);
}
END_TEST

START_TEST(errlist_is_capped)
{
	/* a binary file fed as configuration gives one problem per line:
	 * the list stops at 100, and says so */
	struct sbc_errlist l = {0};
	for (int i = 0; i < 250; i++)
		sbc_errlist_add(&l, "problem %d", i);
	ck_assert_uint_eq(l.n, 100);
	ck_assert_str_eq(l.msgs[0], "problem 0");
	ck_assert_str_eq(l.msgs[98], "problem 98");
	ck_assert_ptr_nonnull(strstr(l.msgs[99], "too many problems"));
	ck_assert_ptr_null(l.msgs[100]);
	ck_assert_uint_eq(l.total, 250); /* summaries give the true count */
	sbc_errlist_free(&l);
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_eq(l.total, 0);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_helpers);
	tcase_add_test(tc, errlist_is_capped);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, server_values_and_relative_dirs);
	tcase_add_test(tc, server_errors_are_all_collected);
	tcase_add_test(tc, unknown_section_type);
	tcase_add_test(tc, bad_instance_and_module_names);
	tcase_add_test(tc, duplicate_sections_name_both_places);
	tcase_add_test(tc, instance_modules);
	tcase_add_test(tc, host_keys_checked);
	tcase_add_test(tc, includes_in_lexical_order);
	tcase_add_test(tc, env_and_file_references);
	tcase_add_test(tc, non_regular_files_refused);
	tcase_add_test(tc, continuation_lines_and_comments);
	tcase_add_test(tc, long_lines);
	tcase_add_test(tc, syntax_errors);
	tcase_add_test(tc, bind_values_and_defaults);
	tcase_add_test(tc, bind_errors_all_collected);
	tcase_add_test(tc, bind_url_schemes);
	tcase_add_test(tc, messages_mask_url_passwords);
	tcase_add_test(tc, path_check_names_the_problem);
	tcase_add_test(tc, bind_empty_values);
	tcase_add_test(tc, host_key_messages);
	tcase_add_test(tc, bind_never_shows_secrets);
	tcase_add_test(tc, bind_bad_default_and_bad_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
