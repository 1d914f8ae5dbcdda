/* jansson's parse error text, as svcbroker shows it: shared by the daemon
 * (core/json.c) and the client (core/svcbroker/inputs.c), which does not
 * link libsvcbroker. */
#ifndef SVCBROKER_JSON_TEXT_H
#define SVCBROKER_JSON_TEXT_H

#include <string.h>

#include <jansson.h>

#define SBC_JSON_NUL_MESSAGE                                                 \
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
