/* Fuzz target: the command line's method inputs (core/svcbroker/inputs.c,
 * cli_inputs_build): Key=Value and Key:=JSON arguments typed by a method
 * definition as the catalog gives it.
 *
 * Input: arguments separated by newlines.  Arguments that would read a
 * file or stdin (Key=@PATH, "-") are skipped: the target reads no files.
 *
 * Invariants: the result is a JSON object; every Key=Value argument shows
 * in it under the declared spelling of the key, typed by the definition
 * (number inputs as the integer strtoll reads, boolean inputs as
 * yes/no/true/false/on/off/1/0 say, anything else as the exact string);
 * Key:=JSON holds the JSON as it is; multi inputs collect one item per
 * argument in order; a single input given twice is refused. */
#include "config.h"

#include <jansson.h>
#include <strings.h>

#include "cli.h"
#include "fuzz.h"

static json_t *method;

static const char method_json[] =
    "{\"name\": \"Send\", \"inputs\": ["
    "{\"name\": \"Count\", \"type\": \"number\"},"
    "{\"name\": \"Flag\", \"type\": \"boolean\"},"
    "{\"name\": \"Subject\", \"type\": \"text\"},"
    "{\"name\": \"Body\", \"type\": \"memo\"},"
    "{\"name\": \"When\", \"type\": \"datetime\"},"
    "{\"name\": \"Attachment\", \"type\": \"file\"},"
    "{\"name\": \"To\", \"type\": \"email\", \"multi\": true},"
    "{\"name\": \"Numbers\", \"type\": \"number\", \"multi\": true},"
    "{\"name\": \"to\", \"type\": \"text\"}]}";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	method = json_loads(method_json, 0, NULL);
	if (!method)
		abort();
	return 0;
}

static const json_t *decl(const char *key)
{
	const json_t *inputs = json_object_get(method, "inputs"), *in;
	size_t i;
	json_array_foreach(
	    inputs, i,
	    in) if (strcmp(json_string_value(json_object_get(in, "name")),
			   key) == 0) return in;
	json_array_foreach(
	    inputs, i,
	    in) if (strcasecmp(json_string_value(json_object_get(in, "name")),
			       key) == 0) return in;
	return NULL;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = fuzz_cstr(data, size);
	char *args[16];
	int n = 0;
	for (char *save = NULL, *a = strtok_r(text, "\n", &save); a && n < 16;
	     a = strtok_r(NULL, "\n", &save)) {
		const char *eq = strchr(a, '=');
		if (strcmp(a, "-") == 0 ||
		    (eq && eq[1] == '@' && (eq == a || eq[-1] != ':')))
			continue;
		args[n++] = a;
	}
	json_t *out = NULL;
	int rc = cli_inputs_build(method, args, n, &out);
	if (rc != CLI_EXIT_OK) {
		FUZZ_CHECK(rc == CLI_EXIT_USAGE && !out, "refusal %d", rc);
		free(text);
		return 0;
	}
	FUZZ_CHECK(json_is_object(out), "inputs are not a JSON object");
	/* Replay the arguments against the result. */
	json_t *seen = json_object(); /* key -> items consumed so far */
	for (int i = 0; i < n; i++) {
		char *eq = strchr(args[i], '=');
		FUZZ_CHECK(eq, "argument '%s' without '=' accepted", args[i]);
		bool raw = eq > args[i] && eq[-1] == ':';
		char key[4096];
		size_t kl = (size_t)(eq - args[i]) - raw;
		memcpy(key, args[i], kl);
		key[kl] = '\0';
		const json_t *d = decl(key);
		const char *name =
		    d ? json_string_value(json_object_get(d, "name")) : key;
		const char *type =
		    d ? json_string_value(json_object_get(d, "type"))
		    : strcmp(key, "PageSize") == 0 ? "number"
						   : "text";
		bool multi = d && json_is_true(json_object_get(d, "multi"));
		const json_t *got = json_object_get(out, name);
		FUZZ_CHECK(got, "argument '%s' missing from the inputs",
			   args[i]);
		json_int_t used =
		    json_integer_value(json_object_get(seen, name));
		json_t *want;
		if (raw) {
			want = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
			FUZZ_CHECK(want, "%s:= accepted text that is not JSON",
				   name);
		} else if (strcmp(type, "number") == 0) {
			want = json_integer(strtoll(eq + 1, NULL, 10));
		} else if (strcmp(type, "boolean") == 0) {
			int b = parse_bool(eq + 1);
			FUZZ_CHECK(b >= 0, "boolean '%s' accepted", eq + 1);
			want = json_boolean(b);
		} else {
			want = json_string(eq + 1);
			FUZZ_CHECK(want, "'%s' accepted, not UTF-8", eq + 1);
		}
		if (multi) {
			FUZZ_CHECK(json_is_array(got), "multi %s not an array",
				   name);
			size_t k = (size_t)used;
			if (raw && json_is_array(want)) {
				for (size_t j = 0; j < json_array_size(want);
				     j++)
					FUZZ_CHECK(
					    json_equal(
						json_array_get(got, k + j),
						json_array_get(want, j)),
					    "%s item %zu differs", name, k + j);
				used += (json_int_t)json_array_size(want);
			} else {
				FUZZ_CHECK(
				    json_equal(json_array_get(got, k), want),
				    "%s item %zu differs", name, k);
				used++;
			}
		} else {
			FUZZ_CHECK(used == 0,
				   "single input %s given twice "
				   "was accepted",
				   name);
			FUZZ_CHECK(json_equal(got, want),
				   "%s: the value differs from '%s'", name,
				   args[i]);
			used = 1;
		}
		json_object_set_new(seen, name, json_integer(used));
		json_decref(want);
	}
	/* Nothing else: multi inputs hold exactly their items. */
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v)
	{
		json_t *u = json_object_get(seen, k);
		FUZZ_CHECK(u, "input %s appeared from nowhere", k);
		if (json_is_array(v) && decl(k) &&
		    json_is_true(json_object_get(decl(k), "multi")))
			FUZZ_CHECK(json_array_size(v) ==
				       (size_t)json_integer_value(u),
				   "%s holds %zu items for %lld given", k,
				   json_array_size(v),
				   (long long)json_integer_value(u));
	}
	json_decref(seen);
	json_decref(out);
	free(text);
	return 0;
}
