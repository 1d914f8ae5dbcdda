/* The web console's path rules, ETag matching and the console setting
 * (core/front/console.c), without a server. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "front.h"

static const struct sbc_console con = {.dir = "/srv/console",
				       .libs = "/usr/share/javascript"};

/* rel maps to root/file with type, or (want_root NULL) is refused. */
static void expect(const char *rel, const char *want_root,
		   const char *want_file, const char *want_type)
{
	const char *root = NULL, *type = NULL;
	char file[256];
	bool ok = sbc_console_file(&con, rel, &root, file, sizeof(file), &type);
	if (!want_root) {
		ck_assert_msg(!ok, "'%s' must be refused (got %s/%s)", rel,
			      root ? root : "?", ok ? file : "?");
		return;
	}
	ck_assert_msg(ok, "'%s' must serve", rel);
	ck_assert_str_eq(root, want_root);
	ck_assert_str_eq(file, want_file);
	ck_assert_str_eq(type, want_type);
}

START_TEST(serves_plain_paths)
{
	expect("", "/srv/console", "index.html", "text/html; charset=utf-8");
	expect("index.html", "/srv/console", "index.html",
	       "text/html; charset=utf-8");
	expect("app.js", "/srv/console", "app.js",
	       "text/javascript; charset=utf-8");
	expect("console.css", "/srv/console", "console.css",
	       "text/css; charset=utf-8");
	expect("img/a-b_c.1.svg", "/srv/console", "img/a-b_c.1.svg",
	       "image/svg+xml");
	expect("lib/chart.js/chart.min.js", "/usr/share/javascript",
	       "chart.js/chart.min.js", "text/javascript; charset=utf-8");
	expect("lib/bootstrap5/css/bootstrap.min.css", "/usr/share/javascript",
	       "bootstrap5/css/bootstrap.min.css", "text/css; charset=utf-8");
}
END_TEST

START_TEST(refuses_everything_else)
{
	static const char *const bad[] = {
	    "..",
	    "../secret.txt",
	    "a/../index.html",
	    "./index.html",
	    ".hidden.js",
	    "a/.hidden/x.js",
	    "/etc/passwd.txt",
	    "a//b.js",
	    "a/",
	    "index.html/",
	    "index",
	    "index.html.bak",
	    "index.HTML",
	    "index.html%00.js",
	    "%2e%2e/x.js",
	    "..%2Fx.js",
	    "a\\..\\x.js",
	    "a b.js",
	    "-x.js",
	    "_x.js",
	    "x.js\n",
	    "\xc0\xae\xc0\xae/x.js",
	    "lib",
	    "lib/",
	    "lib/chart.js",
	    "lib/chart.js/",
	    "lib/other/x.js",
	    "lib/chart.jsx/x.js",
	    "lib/chart/x.js",
	    "lib/../x.js",
	    "lib/chart.js/../../x.js",
	    "a/b/c/d/e/f/g/h/i.js", /* nine segments */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i], NULL, NULL, NULL);
	char longseg[200];
	memset(longseg, 'a', 129);
	strcpy(longseg + 129, ".js");
	expect(longseg, NULL, NULL, NULL);
	memset(longseg, 'a', 125);
	strcpy(longseg + 125, ".js"); /* 128 characters */
	expect(longseg, "/srv/console", longseg,
	       "text/javascript; charset=utf-8");
	expect("a/b/c/d/e/f/g/h.js", "/srv/console", "a/b/c/d/e/f/g/h.js",
	       "text/javascript; charset=utf-8");
}
END_TEST

START_TEST(too_small_a_buffer)
{
	const char *root, *type;
	char file[8];
	ck_assert(!sbc_console_file(&con, "console.css", &root, file,
				    sizeof(file), &type));
}
END_TEST

START_TEST(path_prefix)
{
	ck_assert(sbc_console_path("/ui"));
	ck_assert(sbc_console_path("/ui/"));
	ck_assert(sbc_console_path("/ui/app.js"));
	ck_assert(!sbc_console_path("/uix"));
	ck_assert(!sbc_console_path("/u"));
	ck_assert(!sbc_console_path("/v1/ui"));
	ck_assert(!sbc_console_path(""));
}
END_TEST

START_TEST(etags)
{
	const char *e = "\"1f-0123456789abcdef\"";
	ck_assert(sbc_console_etag_match(e, e));
	ck_assert(sbc_console_etag_match("W/\"1f-0123456789abcdef\"", e));
	ck_assert(sbc_console_etag_match("\"x\", \"1f-0123456789abcdef\"", e));
	ck_assert(sbc_console_etag_match(
	    " \"x\" ,W/\"y\",\t\"1f-0123456789abcdef\" ", e));
	ck_assert(sbc_console_etag_match("*", e));
	ck_assert(sbc_console_etag_match(" * ", e));
	ck_assert(!sbc_console_etag_match("", e));
	ck_assert(!sbc_console_etag_match("\"x\"", e));
	ck_assert(!sbc_console_etag_match("1f-0123456789abcdef", e));
	ck_assert(!sbc_console_etag_match("\"1f-0123456789abcde\"", e));
	ck_assert(!sbc_console_etag_match("\"1f-0123456789abcdef", e));
	ck_assert(
	    !sbc_console_etag_match("\"x\" junk, \"1f-0123456789abcdef\"", e));
	ck_assert(!sbc_console_etag_match("*, \"x\"", e));
	ck_assert(!sbc_console_etag_match("W/", e));
	/* a list is read to a bound (64 tags), never past it */
	char many[64 * 6 + 64] = "";
	for (int i = 0; i < 64; i++)
		strcat(many, "\"a\", ");
	strcat(many, e);
	ck_assert(!sbc_console_etag_match(many, e));
}
END_TEST

static struct sockaddr_storage addr(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	}
	return ss;
}

START_TEST(setting)
{
	static const char *const lo[] = {"127.0.0.1", "127.8.9.10", "::1",
					 "::ffff:127.0.0.1"};
	static const char *const other[] = {
	    "0.0.0.0",	   "192.168.1.2",     "::",
	    "2001:db8::1", "::ffff:10.0.0.1", "128.0.0.1"};
	for (size_t i = 0; i < sizeof(lo) / sizeof(lo[0]); i++) {
		struct sockaddr_storage ss = addr(lo[i]);
		ck_assert_msg(sbc_console_enabled(SBC_CONSOLE_LOOPBACK, &ss),
			      "loopback: served on %s", lo[i]);
		ck_assert(sbc_console_enabled(SBC_CONSOLE_ON, &ss));
		ck_assert(!sbc_console_enabled(SBC_CONSOLE_OFF, &ss));
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		struct sockaddr_storage ss = addr(other[i]);
		ck_assert_msg(!sbc_console_enabled(SBC_CONSOLE_LOOPBACK, &ss),
			      "loopback: not served on %s", other[i]);
		ck_assert(sbc_console_enabled(SBC_CONSOLE_ON, &ss));
		ck_assert(!sbc_console_enabled(SBC_CONSOLE_OFF, &ss));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("console");
	tcase_add_test(tc, serves_plain_paths);
	tcase_add_test(tc, refuses_everything_else);
	tcase_add_test(tc, too_small_a_buffer);
	tcase_add_test(tc, path_prefix);
	tcase_add_test(tc, etags);
	tcase_add_test(tc, setting);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
