/* libFuzzer target for the web console's request parsing
 * (core/front/console.c): the path rules of sbc_console_file, the /ui
 * prefix and If-None-Match matching.
 *
 * Besides "no crash, no overrun" (ASan, UBSan) it checks what keeps files
 * outside the two trees out of reach: a path that serves is one of plain
 * segments under one of the two roots (never "..", ".", a hidden name, an
 * empty segment or a character outside [A-Za-z0-9._-]), a library path
 * names a package of the list, and its type comes from the extension; an
 * ETag matches only a list that names it (or "*").
 *
 * Built without libFuzzer (tests/fuzz/replay_main.c) it replays the files
 * given as arguments: make check runs it over the corpus. */
#include "config.h"

#include <stdarg.h>

#include "console.h"
#include "front.h"
#include "fuzz.h"

/* console.c answers through the HTTP server and logs: neither is
 * reached from the functions fuzzed here. */
void sbh_answer(struct sbh_conn *c, const struct sbh_answer *a)
{
	(void)c;
	(void)a;
	abort();
}

void sbh_answer_error(struct sbh_conn *c, int http_status, int sb_status,
		      const char *code, const char *allow,
		      int64_t retry_after_ms, const char *fmt, ...)
{
	(void)c, (void)http_status, (void)sb_status, (void)code, (void)allow;
	(void)retry_after_ms, (void)fmt;
	abort();
}

void sbc_log(enum sb_log_level lvl, const char *broker, const char *instance,
	     const char *fmt, ...)
{
	(void)lvl, (void)broker, (void)instance, (void)fmt;
	abort();
}

static bool plain(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

static void check_file(const char *rel)
{
	static const struct sbc_console con = {.dir = "/D", .libs = "/L"};
	const char *root = NULL, *type = NULL;
	char file[300];
	if (!sbc_console_file(&con, rel, &root, file, sizeof(file), &type))
		return;
	FUZZ_CHECK(root == con.dir || root == con.libs, "root %s", root);
	FUZZ_CHECK(type && *type, "no type for %s", rel);
	FUZZ_CHECK(file[0] != '/' && file[0] != '.', "file %s", file);
	const char *p = file;
	int segs = 0;
	for (;;) {
		const char *s = p;
		while (*p && *p != '/') {
			FUZZ_CHECK(plain(*p), "character 0x%02x in %s",
				   (unsigned char)*p, file);
			p++;
		}
		FUZZ_CHECK(p > s && *s != '.', "segment in %s", file);
		segs++;
		if (!*p)
			break;
		p++;
	}
	FUZZ_CHECK(segs <= 8, "%d segments in %s", segs, file);
	if (root == con.libs)
		FUZZ_CHECK(strncmp(file, "bootstrap5/", 11) == 0 ||
			       strncmp(file, "chart.js/", 9) == 0,
			   "library %s", file);
	else
		FUZZ_CHECK(strcmp(file, *rel ? rel : "index.html") == 0,
			   "%s for %s", file, rel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	check_file(s);
	if (sbc_console_path(s))
		FUZZ_CHECK(strncmp(s, "/ui", 3) == 0, "%s", s);
	static const char etag[] = "\"1f-0123456789abcdef\"";
	if (sbc_console_etag_match(s, etag)) {
		const char *t = s;
		while (*t == ' ' || *t == '\t')
			t++;
		FUZZ_CHECK(*t == '*' || strstr(s, etag), "%s matched", s);
	}
	free(s);
	return 0;
}
