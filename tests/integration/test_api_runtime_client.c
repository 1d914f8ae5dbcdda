/* A client of the in-process API (<svcbroker/runtime.h>), run by
 * test_api_runtime.py with a configuration that has testmod instances
 * "t1" (timeout 300ms) and "t2".  Prints "ok - ..." / "not ok - ..." lines;
 * exits 0 only if every check passed. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/runtime.h>
#include <svcbroker/sdk.h>

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

struct worker {
	struct sb_runtime *rt;
	int id, ok;
};

static void *hammer(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 25; i++) {
		char in[64], want[64];
		snprintf(in, sizeof(in), "{\"Number\": %d}", w->id * 1000 + i);
		snprintf(want, sizeof(want), "\"Number\":%d", w->id * 1000 + i);
		char *out = NULL;
		struct sb_error err;
		if (sb_runtime_call_json(w->rt, "t2/Echo.Echo", in, &out,
					 &err) == SB_OK &&
		    contains(out, want))
			w->ok++;
		free(out);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CONFIG\n", argv[0]);
		return 2;
	}
	struct sb_runtime *rt = NULL;
	struct sb_error err;
	char *out = NULL;
	enum sb_status st;

	st = sb_runtime_open("/nonexistent/svcbroker.ini", &rt, &err);
	check(st != SB_OK && rt == NULL && err.message[0],
	      "open refuses a missing file", err.message);

	st = sb_runtime_open(argv[1], &rt, &err);
	check(st == SB_OK && rt != NULL, "open", err.message);
	if (!rt)
		return 1;

	st = sb_runtime_call_json(rt, "t1/Echo.Echo",
				  "{\"Text\": \"hi\", \"Numbers\": [1, 2]}",
				  &out, &err);
	check(st == SB_OK && contains(out, "\"Text\":\"hi\"") &&
		  contains(out, "\"Numbers\":[1,2]") &&
		  contains(out, "\"more\":false"),
	      "call: typed round trip", out);
	free(out);

	st = sb_runtime_call_json(rt, "t1/Echo.Echo", NULL, &out, &err);
	check(st == SB_OK && contains(out, "\"rows\":[{}]"),
	      "call without inputs", out);
	free(out);

	st = sb_runtime_call_json(
	    rt, "t1/Echo.List", "{\"Total\": 5, \"PageSize\": 2}", &out, &err);
	check(st == SB_OK && contains(out, "\"more\":true") &&
		  contains(out, "\"next_page_token\":\""),
	      "list pages", out);
	free(out);

	st = sb_runtime_call_json(rt, "t1/Nope.Echo", "{}", &out, &err);
	check(st == SB_ERR_NOT_FOUND && err.status == SB_ERR_NOT_FOUND &&
		  contains(out, "\"category\":\"not_found\"") &&
		  contains(err.message, "Nope"),
	      "unknown object is not_found", out);
	free(out);

	st = sb_runtime_call_json(rt, "nonsense", "{}", &out, &err);
	check(st == SB_ERR_INVALID_INPUT, "a malformed address is refused",
	      out);
	free(out);

	st =
	    sb_runtime_call_json(rt, "t1/Echo.Echo", "{\"Text\": ", &out, &err);
	check(st == SB_ERR_INVALID_INPUT && contains(out, "invalid_input"),
	      "malformed JSON is invalid_input", out);
	free(out);

	st = sb_runtime_call_json(rt, "t1/Echo.Echo", "{\"Number\": \"x\"}",
				  &out, &err);
	check(st == SB_ERR_INVALID_INPUT && contains(err.message, "Number"),
	      "a type mismatch names the input", err.message);
	free(out);

	st = sb_runtime_call_json(
	    rt, "t1/Echo.Fail", "{\"Status\": \"conflict\", \"Code\": \"X1\"}",
	    &out, &err);
	check(st == SB_ERR_CONFLICT && !strcmp(err.code, "X1") &&
		  contains(out, "\"code\":\"X1\""),
	      "a broker failure comes back with its code", out);
	free(out);

	int64_t t0 = sb_now_ms();
	st = sb_runtime_call_json(rt, "t1/Echo.Sleep", "{\"Ms\": 5000}", &out,
				  &err);
	int64_t el = sb_now_ms() - t0;
	check(st == SB_ERR_TIMEOUT && el >= 250 && el < 2000,
	      "the deadline answers timeout on time", out);
	free(out);

	struct worker w[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){.rt = rt, .id = i};
		pthread_create(&th[i], NULL, hammer, &w[i]);
	}
	int total = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		total += w[i].ok;
	}
	check(total == 100, "100 calls from 4 threads", NULL);

	st = sb_runtime_catalog_json(rt, NULL, &out, &err);
	check(st == SB_OK && contains(out, "\"name\":\"t1\"") &&
		  contains(out, "\"name\":\"t2\""),
	      "catalog", out);
	free(out);
	st = sb_runtime_catalog_json(rt, "t1/Echo", &out, &err);
	check(st == SB_OK && contains(out, "\"properties\""),
	      "object definition", out);
	free(out);
	st = sb_runtime_catalog_json(rt, "t1/Nope", &out, &err);
	check(st == SB_ERR_NOT_FOUND && out == NULL, "unknown object", NULL);

	st = sb_runtime_reload(rt, &err);
	check(st == SB_OK, "reload", err.message);
	st = sb_runtime_call_json(rt, "t2/Instance.Info", "{}", &out, &err);
	check(st == SB_OK && contains(out, "\"Label\":\"second\""),
	      "calls after a reload", out);
	free(out);

	sb_runtime_close(rt);
	sb_runtime_close(NULL);
	printf("# %d passed, %d failed\n", passed, failed);
	return failed || !passed;
}
