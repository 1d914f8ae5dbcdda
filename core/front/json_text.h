/* Small jansson helpers shared by the JSON codec (core/front/json.c,
 * core/front/openapi.c) and the client (core/svcbroker/inputs.c; the CLI
 * links the SDK, not the front, and includes only this header of it). */
#ifndef SVCBROKER_JSON_TEXT_H
#define SVCBROKER_JSON_TEXT_H

#include <string.h>

#include <jansson.h>

/* o[k] = v, taking v's reference; a NULL o or v (out of memory) drops v. */
static inline void sbc_json_set(json_t *o, const char *k, json_t *v)
{
	if (!o || !v) {
		json_decref(v);
		return;
	}
	json_object_set_new(o, k, v);
}

/* Append v to a, taking v's reference, as sbc_json_set. */
static inline void sbc_json_push(json_t *a, json_t *v)
{
	if (!a || !v) {
		json_decref(v);
		return;
	}
	json_array_append_new(a, v);
}

#define SBC_JSON_NUL_MESSAGE                                                   \
	"a string holds \\u0000 (NUL), which is not allowed"

/* jansson's message for an escaped NUL in a string names one of its
 * flags: say what is wrong instead. */
static inline const char *sbc_json_error_text(const json_error_t *je)
{
#if JANSSON_VERSION_HEX >= 0x020b00
	if (json_error_code(je) == json_error_null_character)
		return SBC_JSON_NUL_MESSAGE;
#endif
	if (strstr(je->text, "JSON_ALLOW_NUL"))
		return SBC_JSON_NUL_MESSAGE;
	return je->text;
}

#endif
