/* Fuzz target: JSON call inputs (core/json.c sbc_json_decode_call, with
 * core/call.c validating each item): a request body decoded into an
 * sb_call for methods whose inputs have every value type.
 *
 * The first input byte picks the method (a list method without required
 * inputs, or an execute method with some) and whether the body is wrapped
 * in {"inputs": ...}; the rest is the body.
 *
 * Invariants: a refusal has an error status and a message; a decoded call
 * holds exactly the inputs the JSON gave (null meaning absent), each of its
 * declared type, single inputs with one item, every string item valid for
 * its type and equal to the JSON string, numbers and booleans equal, file
 * bytes equal to the decoded base64, every required input present, and
 * PageSize within 1..1000.  And the fast reader (core/front/json_fast.c)
 * gives a tree only where jansson gives the same one, keys in the same
 * order. */
#include "config.h"

#include <jansson.h>

#include <svcbroker/call.h>

#include <svcbroker/conf.h>
#include <svcbroker/invoke.h>

#include "../unit/json_same.h"
#include "fuzz.h"
#include "host.h"
#include "json.h"

static const char *const levels[] = {"Low", "Normal", "High", NULL};

#define IN(n, t, f, c, m)                                                      \
	{                                                                      \
		.name = n, .type = t, .flags = f, .choices = c, .max_size = m, \
		.doc = "an input"                                              \
	}
static const struct sb_param all_inputs[] = {
    IN("Text", SB_TYPE_TEXT, 0, NULL, 64),
    IN("Memo", SB_TYPE_MEMO, 0, NULL, 0),
    IN("Number", SB_TYPE_NUMBER, 0, NULL, 0),
    IN("Decimal", SB_TYPE_DECIMAL, 0, NULL, 0),
    IN("Flag", SB_TYPE_BOOLEAN, 0, NULL, 0),
    IN("When", SB_TYPE_DATETIME, 0, NULL, 0),
    IN("Day", SB_TYPE_DATE, 0, NULL, 0),
    IN("At", SB_TYPE_TIME, 0, NULL, 0),
    IN("Span", SB_TYPE_DURATION, 0, NULL, 0),
    IN("Id", SB_TYPE_GUID, 0, NULL, 0),
    IN("To", SB_TYPE_EMAIL, SB_MULTI, NULL, 5),
    IN("Importance", SB_TYPE_ENUM, 0, levels, 0),
    IN("Attachment", SB_TYPE_FILE, 0, NULL, 100),
    IN("Files", SB_TYPE_FILE, SB_MULTI, NULL, 0),
    IN("Numbers", SB_TYPE_NUMBER, SB_MULTI, NULL, 0),
    IN("Flags", SB_TYPE_BOOLEAN, SB_MULTI, NULL, 0),
    IN("Tags", SB_TYPE_TEXT, SB_MULTI, NULL, 0),
    SB_PARAM_END,
};
static const struct sb_param required_inputs[] = {
    IN("Subject", SB_TYPE_TEXT, SB_REQUIRED, NULL, 0),
    IN("To", SB_TYPE_EMAIL, SB_MULTI | SB_REQUIRED, NULL, 0),
    IN("Count", SB_TYPE_NUMBER, SB_REQUIRED, NULL, 0),
    IN("Body", SB_TYPE_MEMO, 0, NULL, 0),
    IN("Attachment", SB_TYPE_FILE, 0, NULL, 0),
    SB_PARAM_END,
};
static const struct sb_property props[] = {
    {.name = "Text", .type = SB_TYPE_TEXT, .doc = "a property"},
    SB_PROPERTY_END,
};
static const char *const returns[] = {"Text", NULL};
/* Decoding never runs a handler; the tables still name one. */
static enum sb_status no_handler(void *state, const struct sb_call *call,
				 struct sb_result *result, struct sb_error *err)
{
	(void)state;
	(void)call;
	(void)result;
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "not run");
}
static const struct sb_method methods[] = {
    {.name = "List",
     .kind = SB_KIND_LIST,
     .doc = "a list method",
     .handler = no_handler,
     .inputs = all_inputs,
     .returns = returns},
    {.name = "Send",
     .kind = SB_KIND_EXECUTE,
     .doc = "an execute method",
     .handler = no_handler,
     .inputs = required_inputs},
    SB_METHOD_END,
};
static const struct sb_object object = {.name = "Thing",
					.doc = "an object",
					.properties = props,
					.methods = methods};

/* Item i of value v equals JSON item j. */
static void check_item(const struct sb_param *p, const struct sb_value *v,
		       size_t i, const json_t *j)
{
	const union sb_datum *d = &v->items[i];
	switch (p->type) {
	case SB_TYPE_NUMBER:
		FUZZ_CHECK(json_is_integer(j) && json_integer_value(j) == d->i,
			   "%s[%zu]: number differs", p->name, i);
		return;
	case SB_TYPE_BOOLEAN:
		FUZZ_CHECK(json_is_boolean(j) && json_is_true(j) == d->b,
			   "%s[%zu]: boolean differs", p->name, i);
		return;
	case SB_TYPE_FILE: {
		const json_t *c = json_object_get(j, "Content");
		FUZZ_CHECK(json_is_string(c), "%s: file without Content",
			   p->name);
		size_t n = 0;
		unsigned char *bytes = sb_base64_decode(
		    json_string_value(c), json_string_length(c), &n);
		FUZZ_CHECK(bytes && n == d->f.size &&
			       (n == 0 || memcmp(bytes, d->f.data, n) == 0),
			   "%s[%zu]: file bytes differ", p->name, i);
		free(bytes);
		size_t cap = p->max_size && !(p->flags & SB_MULTI)
				 ? p->max_size
				 : SB_DEFAULT_FILE_MAX;
		FUZZ_CHECK(d->f.size <= cap, "%s: %zu bytes over the cap",
			   p->name, d->f.size);
		FUZZ_CHECK(d->f.content_type && d->f.content_type[0],
			   "%s: no content type", p->name);
		const json_t *ct = json_object_get(j, "ContentType");
		if (json_is_string(ct) && json_string_length(ct) > 0)
			FUZZ_CHECK(strcmp(json_string_value(ct),
					  d->f.content_type) == 0,
				   "%s: content type differs", p->name);
		const json_t *nm = json_object_get(j, "Name");
		if (json_is_string(nm))
			FUZZ_CHECK(d->f.name && strcmp(json_string_value(nm),
						       d->f.name) == 0,
				   "%s: file name differs", p->name);
		if (d->f.name)
			FUZZ_CHECK(!strchr(d->f.name, '/'),
				   "%s: file name '%s' is a path", p->name,
				   d->f.name);
		return;
	}
	default:
		break;
	}
	FUZZ_CHECK(json_is_string(j) && strcmp(json_string_value(j), d->s) == 0,
		   "%s[%zu]: '%s' differs from the JSON", p->name, i, d->s);
	FUZZ_CHECK(sb_type_check(p->type, d->s, p->choices, NULL),
		   "%s[%zu]: '%s' is not a valid %s", p->name, i, d->s,
		   sb_type_name(p->type));
}

static void check_call(const struct sb_call *c, const struct sb_method *m,
		       const json_t *inputs)
{
	size_t present = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)inputs, k, v)
	{
		const struct sb_param *p = sb_call_param(c, k);
		FUZZ_CHECK(p, "unknown input %s accepted", k);
		const struct sb_value *val = sb_call_input(c, p->name);
		if (json_is_null(v)) {
			FUZZ_CHECK(!val, "%s: null gave a value", k);
			continue;
		}
		present++;
		FUZZ_CHECK(val && val->type == p->type &&
			       val->multi == !!(p->flags & SB_MULTI),
			   "%s: missing or of another type", k);
		if (p->flags & SB_MULTI) {
			FUZZ_CHECK(json_is_array(v) &&
				       json_array_size(v) == val->count,
				   "%s: %zu items for %zu in the JSON", k,
				   val->count, json_array_size(v));
			for (size_t i = 0; i < val->count; i++)
				check_item(p, val, i, json_array_get(v, i));
		} else {
			FUZZ_CHECK(val->count == 1, "%s: %zu items", k,
				   val->count);
			check_item(p, val, 0, v);
		}
	}
	FUZZ_CHECK(sb_call_n_inputs(c) == present,
		   "the call holds %zu inputs, the JSON gave %zu",
		   sb_call_n_inputs(c), present);
	for (size_t i = 0; m->inputs[i].name; i++)
		if (m->inputs[i].flags & SB_REQUIRED)
			FUZZ_CHECK(sb_call_input(c, m->inputs[i].name),
				   "required %s missing", m->inputs[i].name);
	if (m->kind == SB_KIND_LIST) {
		int64_t ps = sb_call_page_size(c);
		FUZZ_CHECK(ps >= 1 && ps <= SB_PAGE_SIZE_MAX, "PageSize %lld",
			   (long long)ps);
	}
	for (size_t i = 0; i < sb_call_n_inputs(c); i++)
		FUZZ_CHECK(sb_call_param(c, sb_call_input_name(c, i)),
			   "input %s not declared", sb_call_input_name(c, i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	sbc_json_init();
	const struct sb_method *m = &methods[data[0] & 1];
	bool wrapped = data[0] & 2;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	json_t *fast = sbc_json_fast_load(body, len);
	if (fast) {
		FUZZ_CHECK(root,
			   "the fast reader took what jansson refuses: "
			   "%s",
			   je.text);
		FUZZ_CHECK(json_same_tree(fast, root),
			   "the fast reader's tree differs from jansson's");
		json_decref(fast);
	}
	struct sbc_entry e = {.inst = NULL, .obj = &object, .method = m};
	struct sb_error err = {0};
	struct sb_call *c = sbc_json_decode_call(&e, body, len, wrapped, &err);
	if (!c) {
		FUZZ_CHECK(err.status != SB_OK && err.message[0],
			   "refused without a status or message");
		json_decref(root);
		return 0;
	}
	FUZZ_CHECK(root, "decoded, but the body is not JSON");
	json_t *inputs = root;
	if (wrapped && root)
		inputs = json_object_get(root, "inputs");
	if (inputs && json_is_object(inputs))
		check_call(c, m, inputs);
	else
		FUZZ_CHECK(sb_call_n_inputs(c) == 0,
			   "inputs from a body without an inputs object");
	json_decref(root);
	sb_call_free(c);
	return 0;
}
