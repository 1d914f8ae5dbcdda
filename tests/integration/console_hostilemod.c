/* hostilemod: a module whose catalog is markup — every name a browser
 * could run if a page inserted it as HTML (its summary, object, property,
 * method and input docs) — and whose only method answers more of it.  The
 * web console's browser test proves all of it is shown as text.  Built by
 * `make check` only. */
#include <svcbroker/broker.h>
#include <svcbroker/call.h>

#define HOSTILE_DOC                                                            \
	"<script>window.__sbPwned='doc'</script>"                              \
	"<img src=x onerror=\"window.__sbPwned='img'\">"

static enum sb_status hostile_open(const struct sb_host *host,
				   const void *config, void **state,
				   struct sb_error *err)
{
	(void)host;
	(void)config;
	(void)err;
	static int opened; /* the host takes a NULL state for "not open" */
	*state = &opened;
	return SB_OK;
}

static void hostile_close(void *state) { (void)state; }

/* One row: the Text input as given, else more markup. */
static enum sb_status hostile_show(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err)
{
	(void)state;
	const char *text =
	    sb_call_str(call, "Text",
			"<b onmouseover=\"window.__sbPwned='row'\">bold?</b>"
			"<script>window.__sbPwned='row'</script>");
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_str(r, "Text", text);
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "cannot build the row");
	return SB_OK;
}

static const struct sb_property note_properties[] = {
    {.name = "Text", .type = SB_TYPE_TEXT, .doc = "Property " HOSTILE_DOC},
    SB_PROPERTY_END,
};
static const struct sb_param show_inputs[] = {
    {.name = "Text", .type = SB_TYPE_TEXT, .doc = "Input " HOSTILE_DOC},
    SB_PARAM_END,
};
static const char *const show_returns[] = {"Text", NULL};
static const struct sb_method note_methods[] = {
    {.name = "Show",
     .kind = SB_KIND_EXECUTE,
     .handler = hostile_show,
     .doc = "Method " HOSTILE_DOC,
     .inputs = show_inputs,
     .returns = show_returns},
    SB_METHOD_END,
};
static const struct sb_object hostile_objects[] = {
    {.name = "Note",
     .doc = "Object " HOSTILE_DOC,
     .properties = note_properties,
     .methods = note_methods},
    SB_OBJECT_END,
};

SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,		.name = "hostilemod",
    .version = "1.0",		.summary = "Summary " HOSTILE_DOC,
    .objects = hostile_objects, .open = hostile_open,
    .close = hostile_close,
};
