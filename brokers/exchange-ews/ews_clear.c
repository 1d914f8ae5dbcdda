/* exchange-ews broker — an Update's Clear input (Appointment, Task):
 * which properties a call removes, and the refusal of one both given a
 * value and named in Clear.  Apart from ews_values.c, which the fuzz
 * targets link without the SDK's call API. */
#include "config.h"

#include <string.h>

#include <svcbroker/broker.h>

#include "ews.h"

/* The number of names in Clear: 0 also when the method has no Clear
 * (reading an input it does not declare is a misuse). */
static size_t clear_count(const struct sb_call *call)
{
	const struct sb_method *m = sb_call_def(call);
	for (const struct sb_param *p = m ? m->inputs : NULL; p && p->name; p++)
		if (strcmp(p->name, "Clear") == 0)
			return sb_call_input(call, "Clear")
				   ? sb_call_count(call, "Clear")
				   : 0;
	return 0;
}

bool ews_clear_named(const struct sb_call *call, const char *name)
{
	size_t n = clear_count(call);
	for (size_t i = 0; i < n; i++) {
		const char *c = sb_call_str_at(call, "Clear", i);
		if (c && strcmp(c, name) == 0)
			return true;
	}
	return false;
}

/* Whether input name is given a value that is not empty ("" and [] are
 * empty; a number or a boolean never is). */
static bool has_value(const struct sb_call *call, const char *name)
{
	const struct sb_value *v = sb_call_input(call, name);
	if (!v || v->count == 0)
		return false;
	if (v->multi || v->type == SB_TYPE_NUMBER ||
	    v->type == SB_TYPE_BOOLEAN || v->type == SB_TYPE_FILE)
		return true;
	return !v->items[0].s || v->items[0].s[0];
}

enum sb_status ews_clear_check(const struct sb_call *call, struct sb_error *err)
{
	size_t n = clear_count(call);
	for (size_t i = 0; i < n; i++) {
		const char *c = sb_call_str_at(call, "Clear", i);
		if (c && has_value(call, c))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: given a value and named in "
					    "Clear",
					    c);
	}
	return SB_OK;
}

bool ews_cleared(const struct sb_call *call, const char *name)
{
	return ews_clear_named(call, name) ||
	       (sb_call_input(call, name) && !has_value(call, name));
}
