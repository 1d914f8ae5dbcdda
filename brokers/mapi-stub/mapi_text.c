/* mapi-stub: names safe as one path component.
 *
 * (Text read from the store is made fit for a result cell by the SDK's
 * cleaners, sb_result_clean_text and sb_result_clean_memo: messages and
 * .ics files may come from other tools, and one odd item must never make
 * a whole List fail.) */
#include "config.h"

#include <string.h>

#include <svcbroker/sdk.h>

#include "mapi.h"

bool mapi_name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max || s[0] == '.')
		return false;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = sb_utf8_decode(s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || cp == 0x7F ||
		    (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
		    cp == 0x2029 || cp == '/')
			return false;
		i += k;
	}
	return true;
}
