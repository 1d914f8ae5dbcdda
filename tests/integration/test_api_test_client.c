/* sb_runtime_test_json (<svcbroker/runtime.h>), run by test_api_test.py
 * with a configuration that has testmod instances "good", "bad" (token =
 * wrong: its test fails) and "down" (open_fail = yes).  Prints "ok - ..."
 * / "not ok - ..." lines; exits 0 only if every check passed. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/runtime.h>

static int failed, passed;

static void check(int cond, const char *name, const char *detail)
{
	if (cond) {
		passed++;
		printf("ok - %s\n", name);
	} else {
		failed++;
		printf("not ok - %s %s\n", name, detail ? detail : "");
	}
	fflush(stdout);
}

static int contains(const char *s, const char *what)
{
	return s && strstr(s, what) != NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CONFIG\n", argv[0]);
		return 2;
	}
	struct sb_runtime *rt = NULL;
	struct sb_error err;
	if (sb_runtime_open(argv[1], &rt, &err) != SB_OK) {
		printf("not ok - sb_runtime_open: %s\n", err.message);
		return 1;
	}
	char *out = NULL;
	enum sb_status st = sb_runtime_test_json(rt, "good", &out, &err);
	check(st == SB_OK && contains(out, "\"ok\":true") &&
		  contains(out, "\"instance\":\"good\"") &&
		  contains(out, "\"category\":\"ok\""),
	      "good: the test passes", out);
	free(out);

	st = sb_runtime_test_json(rt, "bad", &out, &err);
	check(st == SB_ERR_UPSTREAM_AUTH && contains(out, "\"ok\":false") &&
		  contains(out, "\"code\":\"TokenRejected\""),
	      "bad: the test fails with the broker's status and code", out);
	check(strcmp(err.code, "TokenRejected") == 0 &&
		  contains(err.message, "the token was rejected"),
	      "bad: err holds the broker's code and message", err.message);
	free(out);

	st = sb_runtime_test_json(rt, "nope", &out, &err);
	check(st == SB_ERR_NOT_FOUND && contains(out, "\"error\"") &&
		  contains(out, "UnknownInstance"),
	      "unknown instance: not found, error document", out);
	free(out);

	st = sb_runtime_test_json(rt, "down", &out, &err);
	check(st == SB_ERR_UNAVAILABLE && contains(out, "\"error\"") &&
		  contains(err.message, "open_fail is set"),
	      "instance that failed to open: unavailable, with its error",
	      err.message);
	free(out);

	st = sb_runtime_test_json(rt, NULL, &out, &err);
	check(st == SB_ERR_INVALID_INPUT && contains(out, "\"error\""),
	      "no instance name: invalid input", out);
	free(out);

	/* json_out may be NULL: the verdict is the status */
	st = sb_runtime_test_json(rt, "bad", NULL, &err);
	check(st == SB_ERR_UPSTREAM_AUTH, "without json_out: the status",
	      err.message);

	sb_runtime_close(rt);
	printf("# %d passed, %d failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
