/* svcbroker CLI — the test command: POST /v1/test/{instance}, the
 * broker's check of an instance's settings.  Exits 0 when the settings
 * work, 1 when the test failed (or the server answered an error). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_cmd_test(const struct cli_opts *opts, int argc, char **argv)
{
	if (argc != 1 || !argv[0][0] || strchr(argv[0], '/')) {
		cli_err("test takes one instance name (see 'svcbroker "
			"catalog')");
		return CLI_EXIT_USAGE;
	}
	char *inst = cli_escape(argv[0]);
	if (!inst) {
		cli_err("out of memory");
		return CLI_EXIT_SERVER;
	}
	char *path = cli_xasprintf("/v1/test/%s", inst);
	free(inst);
	struct cli_response r;
	int ret = cli_http(opts, path, "", &r);
	free(path);
	if (ret != CLI_EXIT_OK)
		return ret;
	const json_t *ok = json_object_get(r.json, "ok");
	if (r.status != 200 || !json_is_boolean(ok)) {
		ret = cli_report_error(opts, &r);
		cli_response_free(&r);
		return ret;
	}
	ret = json_is_true(ok) ? CLI_EXIT_OK : CLI_EXIT_SERVER;
	if (opts->json) {
		cli_print_body(&r);
		cli_response_free(&r);
		return ret;
	}
	const json_t *details = json_object_get(r.json, "details");
	const char *msg = cli_jstr(r.json, "message");
	const char *cat = cli_jstr(details, "category");
	const char *code = cli_jstr(details, "code");
	const json_t *ms = json_object_get(r.json, "elapsed_ms");
	char *name = cli_text_fit(argv[0], 0);
	char *text = cli_text_fit(msg ? msg : "", 0);
	if (ret == CLI_EXIT_OK) {
		printf("%s: ok: %s", name, text);
	} else {
		char *c1 = cli_text_fit(cat ? cat : "", 0);
		char *c2 = cli_text_fit(code ? code : "", 0);
		printf("%s: FAILED: %s (%s%s%s)", name, text, c1,
		       c2[0] ? ", " : "", c2);
		free(c1);
		free(c2);
	}
	if (json_is_integer(ms))
		printf(" [%lld ms]", (long long)json_integer_value(ms));
	putchar('\n');
	free(name);
	free(text);
	cli_response_free(&r);
	return ret;
}
