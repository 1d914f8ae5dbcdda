/* Fuzz target: the result encoder's hand-written parts (core/front/json.c
 * sbc_json_put_string, sbc_json_put_int), which must write exactly what
 * jansson's compact output writes, since results used to be dumped by it
 * and clients compare bodies.
 *
 * The first 8 input bytes are a number; the rest, cut at its first NUL, a
 * string.  Invariants: the number is written as json_dumps writes it; a
 * string jansson accepts (valid UTF-8) is written byte for byte as
 * json_dumps writes it, and the output parses back to the same string. */
#include "config.h"

#include <jansson.h>

#include <svcbroker/sdk.h>

#include "fuzz.h"
#include "host.h"
#include "json.h"

static char *jansson_text(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t num = 0;
	if (size >= 8) {
		memcpy(&num, data, 8);
		data += 8;
		size -= 8;
	}
	struct sb_buf b;
	sb_buf_init(&b, 0);
	FUZZ_CHECK(sbc_json_put_int(&b, num), "put_int failed");
	char *want = jansson_text(json_integer(num));
	char *got = sb_buf_steal(&b);
	FUZZ_CHECK(want && got && strcmp(want, got) == 0, "%lld: %s vs %s",
		   (long long)num, got ? got : "(null)",
		   want ? want : "(null)");
	free(want);
	free(got);

	char *s = fuzz_cstr(data, size);
	json_t *js = json_string(s);
	if (js) { /* valid UTF-8: what the SDK keeps in results */
		sb_buf_init(&b, 0);
		FUZZ_CHECK(sbc_json_put_string(&b, s), "put_string failed");
		got = sb_buf_steal(&b);
		want = jansson_text(js);
		FUZZ_CHECK(want && got && strcmp(want, got) == 0,
			   "string encoded differently: %s vs %s", got, want);
		json_error_t je;
		json_t *back = json_loads(got, JSON_DECODE_ANY, &je);
		FUZZ_CHECK(back && json_is_string(back) &&
			       strcmp(json_string_value(back), s) == 0,
			   "does not parse back: %s", got);
		json_decref(back);
		free(want);
		free(got);
	}
	free(s);
	return 0;
}
