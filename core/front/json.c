/* The JSON codec: requests in, results, errors and catalog documents out.
 * With core/openapi.c, the only files of core that include <jansson.h>. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <svcbroker/conf.h>

#include "json.h"
#include "json_text.h"

#define FILE_FIELD_MAX (2 * SB_ERROR_MSG_MAX)

/* ---- set-up -------------------------------------------------------------- */

static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void seed(void) { json_object_seed(0); /* 0: seeded from the OS */ }

void sbc_json_init(void) { pthread_once(&seed_once, seed); }

/* ---- small builders ------------------------------------------------------ */

/* Every builder below tolerates NULL children (out of memory): the final
 * json_dumps then fails and the caller answers 500. */
static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static char *dump(json_t *root)
{
	if (!root)
		return NULL;
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

static json_t *choices_json(const char *const *choices)
{
	json_t *a = json_array();
	for (size_t i = 0; choices && choices[i]; i++)
		sbc_json_push(a, json_string(choices[i]));
	return a;
}

static const char *jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/* ---- decoding a call ----------------------------------------------------- */

static enum sb_status bad(struct sb_error *err, const struct sb_param *p,
			  const char *want, const json_t *got)
{
	return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			    "%s: expected %s, got %s", p->name, want,
			    jtype(got));
}

static enum sb_status put_file(struct sb_call *c, const struct sb_param *p,
			       const json_t *v, struct sb_error *err)
{
	if (!json_is_object(v))
		return bad(err, p,
			   "a file object {\"Name\", \"ContentType\", "
			   "\"Content\" (base64)}",
			   v);
	const char *name = NULL, *ctype = NULL, *content = NULL;
	size_t content_len = 0;
	const char *k;
	json_t *f;
	json_object_foreach((json_t *)v, k, f)
	{
		const char **slot = NULL;
		if (strcmp(k, "Name") == 0)
			slot = &name;
		else if (strcmp(k, "ContentType") == 0)
			slot = &ctype;
		else if (strcmp(k, "Content") == 0)
			slot = &content;
		else
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, NULL,
			    "%s: unknown file field \"%.64s\" (valid: Name, "
			    "ContentType, Content)",
			    p->name, k);
		if (json_is_null(f))
			continue;
		if (!json_is_string(f))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: file field %s must be a "
					    "string, got %s",
					    p->name, k, jtype(f));
		*slot = json_string_value(f);
		if (slot == &content)
			content_len = json_string_length(f);
	}
	if (!content)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: a file needs \"Content\" (base64)",
				    p->name);
	/* max_size counts items for a multi input (broker.h): each file of a
	 * multi input gets the default cap, as sb_call_put_file applies */
	size_t cap = p->max_size && !(p->flags & SB_MULTI)
			 ? p->max_size
			 : SB_DEFAULT_FILE_MAX;
	/* base64 carries 3 bytes in 4 characters: refuse before decoding */
	if (content_len / 4 > cap / 3 + 2)
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				    "%s: file larger than %zu bytes", p->name,
				    cap);
	size_t n = 0;
	unsigned char *data = sb_base64_decode(content, content_len, &n);
	if (!data)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: Content is not valid base64", p->name);
	enum sb_status st =
	    sb_call_put_file(c, p->name, name, ctype, data, n, err);
	free(data);
	return st;
}

static enum sb_status put_item(struct sb_call *c, const struct sb_param *p,
			       const json_t *v, struct sb_error *err)
{
	switch (p->type) {
	case SB_TYPE_NUMBER:
		if (!json_is_integer(v))
			return bad(err, p, "a whole number (JSON integer)", v);
		return sb_call_put_int(c, p->name, json_integer_value(v), err);
	case SB_TYPE_BOOLEAN:
		if (!json_is_boolean(v))
			return bad(err, p, "true or false", v);
		return sb_call_put_bool(c, p->name, json_is_true(v), err);
	case SB_TYPE_FILE:
		return put_file(c, p, v, err);
	default:
		break;
	}
	if (!json_is_string(v)) {
		const char *tn = sb_type_name(p->type);
		char want[64];
		snprintf(want, sizeof(want), "a JSON string (%s)",
			 tn ? tn : "text");
		return bad(err, p, want, v);
	}
	return sb_call_put_str(c, p->name, json_string_value(v), err);
}

static enum sb_status put_input(struct sb_call *c, const char *key,
				const json_t *v, struct sb_error *err)
{
	const struct sb_param *p = sb_call_param(c, key);
	if (!p) /* the model's message lists the valid names */
		return sb_call_put_empty(c, key, err);
	if (json_is_null(v))
		return SB_OK; /* null: not given */
	if (p->flags & SB_MULTI) {
		if (!json_is_array(v))
			return bad(err, p, "a JSON array", v);
		if (json_array_size(v) == 0)
			return sb_call_put_empty(c, p->name, err);
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item)
		{
			enum sb_status st = put_item(c, p, item, err);
			if (st != SB_OK)
				return st;
		}
		return SB_OK;
	}
	if (json_is_array(v))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: takes one value, not a list", p->name);
	return put_item(c, p, v, err);
}

struct sb_call *sbc_json_decode_call(const struct sbc_entry *e,
				     const char *body, size_t len, bool wrapped,
				     struct sb_error *err)
{
	json_error_t je;
	json_t *root = NULL;
	if (len > 0)
		root = sbc_json_fast_load(body, len);
	if (!root && (len > 0 || !wrapped))
		root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES,
				  &je);
	if (!root) {
		if (len == 0)
			sb_error_set(err, SB_ERR_INVALID_INPUT, "MalformedJson",
				     "the request body is empty: send "
				     "{\"inputs\": {...}}");
		else
			sb_error_set(err, SB_ERR_INVALID_INPUT, "MalformedJson",
				     "malformed JSON at line %d, column %d: %s",
				     je.line, je.column,
				     sbc_json_error_text(&je));
		return NULL;
	}
	json_t *inputs = root;
	if (wrapped) {
		if (!json_is_object(root)) {
			sb_error_set(err, SB_ERR_INVALID_INPUT, "MalformedJson",
				     "the request body must be a JSON object "
				     "{\"inputs\": {...}}, not %s",
				     jtype(root));
			json_decref(root);
			return NULL;
		}
		const char *k;
		json_t *v;
		json_object_foreach(root, k, v)
		{
			if (strcmp(k, "inputs") != 0) {
				sb_error_set(err, SB_ERR_INVALID_INPUT,
					     "UnknownKey",
					     "unknown key \"%.64s\" in the "
					     "request (only \"inputs\" is "
					     "accepted)",
					     k);
				json_decref(root);
				return NULL;
			}
		}
		inputs = json_object_get(root, "inputs");
	}
	if (inputs && json_is_null(inputs))
		inputs = NULL;
	if (inputs && !json_is_object(inputs)) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, "MalformedJson",
			     "\"inputs\" must be a JSON object, not %s",
			     jtype(inputs));
		json_decref(root);
		return NULL;
	}
	struct sb_call *c = sb_call_new(e->obj, e->method);
	if (!c) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		json_decref(root);
		return NULL;
	}
	enum sb_status st = SB_OK;
	if (inputs) {
		const char *k;
		json_t *v;
		json_object_foreach(inputs, k, v)
		{
			st = put_input(c, k, v, err);
			if (st != SB_OK)
				break;
		}
	}
	if (st == SB_OK)
		st = sb_call_finish(c, err);
	json_decref(root);
	if (st != SB_OK) {
		if (err && err->status == SB_OK)
			err->status = st;
		sb_call_free(c);
		return NULL;
	}
	return c;
}

/* ---- results and errors -------------------------------------------------- */

/* ---- encoding a result --------------------------------------------------
 * Written straight into one buffer, not built as a jansson tree and dumped:
 * a result is the body of every call, and the tree cost an allocation per
 * value and a formatted print per number, most of the encoding's time.
 * The output is byte for byte what json_dumps(..., JSON_COMPACT) gives for
 * the same tree (the fuzz target fuzz_json_inputs compares the two). */

/* Largest body encoded: files are capped far below it by the SDK. */
#define RESULT_MAX ((size_t)2 << 30)

static const char hexdig[] = "0123456789ABCDEF";

/* s as a JSON string, escaped as jansson escapes: ", \ and the C0
 * controls (\b \f \n \r \t by name, the rest \u00XX); the rest is copied,
 * as the SDK keeps result text valid UTF-8. */
bool sbc_json_put_string(struct sb_buf *b, const char *s)
{
	if (!sb_buf_append(b, "\"", 1))
		return false;
	const char *run = s;
	for (;; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (s > run && !sb_buf_append(b, run, (size_t)(s - run)))
			return false;
		if (!c)
			break;
		char esc[6] = {'\\', 0};
		size_t n = 2;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hexdig[c >> 4];
			esc[5] = hexdig[c & 15];
			n = 6;
		}
		if (!sb_buf_append(b, esc, n))
			return false;
		run = s + 1;
	}
	return sb_buf_append(b, "\"", 1);
}

static bool put_string_or_null(struct sb_buf *b, const char *s)
{
	return s ? sbc_json_put_string(b, s) : sb_buf_append(b, "null", 4);
}

bool sbc_json_put_int(struct sb_buf *b, int64_t v)
{
	char d[24];
	size_t i = sizeof(d);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		d[--i] = '-';
	return sb_buf_append(b, d + i, sizeof(d) - i);
}

static bool put_datum(struct sb_buf *b, enum sb_type t, const union sb_datum *d)
{
	switch (t) {
	case SB_TYPE_NUMBER:
		return sbc_json_put_int(b, d->i);
	case SB_TYPE_BOOLEAN:
		return d->b ? sb_buf_append(b, "true", 4)
			    : sb_buf_append(b, "false", 5);
	case SB_TYPE_FILE: {
		if (!sb_buf_puts(b, "{\"Name\":") ||
		    !put_string_or_null(b, d->f.name) ||
		    !sb_buf_puts(b, ",\"ContentType\":") ||
		    !put_string_or_null(b, d->f.content_type) ||
		    !sb_buf_puts(b, ",\"Content\":\""))
			return false;
		char *b64 = sb_base64_encode(
		    d->f.data ? d->f.data : (const unsigned char *)"",
		    d->f.size, 0);
		bool ok = b64 && sb_buf_puts(b, b64) && sb_buf_puts(b, "\"}");
		free(b64);
		return ok;
	}
	default:
		return put_string_or_null(b, d->s);
	}
}

static bool put_value(struct sb_buf *b, const struct sb_value *v)
{
	if (!v->multi)
		return v->count ? put_datum(b, v->type, &v->items[0])
				: sb_buf_append(b, "null", 4);
	if (!sb_buf_append(b, "[", 1))
		return false;
	for (size_t i = 0; i < v->count; i++)
		if ((i && !sb_buf_append(b, ",", 1)) ||
		    !put_datum(b, v->type, &v->items[i]))
			return false;
	return sb_buf_append(b, "]", 1);
}

char *sbc_json_result(const struct sb_result *r)
{
	struct sb_buf b;
	sb_buf_init(&b, RESULT_MAX);
	bool ok = sb_buf_puts(&b, "{\"rows\":[");
	size_t n = sb_result_n_rows(r);
	for (size_t i = 0; ok && i < n; i++) {
		const struct sb_cell *cells = NULL;
		size_t nc = sb_result_row_cells(r, i, &cells);
		ok = (!i || sb_buf_append(&b, ",", 1)) &&
		     sb_buf_append(&b, "{", 1);
		for (size_t k = 0; ok && k < nc; k++)
			ok = (!k || sb_buf_append(&b, ",", 1)) &&
			     sbc_json_put_string(&b, cells[k].name) &&
			     sb_buf_append(&b, ":", 1) &&
			     put_value(&b, &cells[k].value);
		ok = ok && sb_buf_append(&b, "}", 1);
	}
	const char *tok = sb_result_page_token(r);
	ok = ok &&
	     sb_buf_puts(&b, tok ? "],\"more\":true,\"next_page_token\":"
				 : "],\"more\":false,"
				   "\"next_page_token\":") &&
	     put_string_or_null(&b, tok) && sb_buf_append(&b, "}", 1);
	if (!ok) {
		sb_buf_free(&b);
		return NULL;
	}
	return sb_buf_steal(&b);
}

/* s as valid UTF-8 (malloc'd): a sequence cut at the very end (a message
 * truncated at a byte boundary) is dropped, any other invalid byte becomes
 * U+FFFD, so the rest of the message still shows. */
static char *valid_utf8(const char *s)
{
	size_t len = strlen(s);
	if (len > SIZE_MAX / 3 - 1)
		return NULL;
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t k = sb_utf8_decode(s + i, len - i, NULL);
		if (k == 0 && sb_utf8_truncated(s + i, len - i))
			break; /* cut at the end: drop it */
		if (k > 0) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

char *sbc_json_error(const struct sb_error *err)
{
	json_t *root = json_object();
	json_t *e = json_object();
	enum sb_status st =
	    err && err->status != SB_OK ? err->status : SB_ERR_INTERNAL;
	sbc_json_set(e, "category", json_string(sb_status_str(st)));
	/* the upstream's (or host's) own code, "" when there is none */
	json_t *code = json_string(err ? err->code : "");
	sbc_json_set(e, "code", code ? code : json_string(""));
	const char *msg =
	    err && err->message[0] ? err->message : sb_status_str(st);
	json_t *m = json_string(msg);
	if (!m) {
		char *fixed = valid_utf8(msg);
		m = fixed ? json_string(fixed) : NULL;
		free(fixed);
	}
	sbc_json_set(e, "message", m ? m : json_string("error"));
	if (err && err->retry_after_ms > 0)
		sbc_json_set(e, "retry_after_ms",
			     json_integer(err->retry_after_ms));
	sbc_json_set(root, "error", e);
	return dump(root);
}

/* ---- catalog ------------------------------------------------------------- */

static json_t *instance_head(const struct sbc_instance *inst)
{
	json_t *o = json_object();
	sbc_json_set(o, "name", json_string(inst->name));
	sbc_json_set(o, "broker", json_string(inst->broker->name));
	sbc_json_set(o, "version", str_or_null(inst->broker->version));
	sbc_json_set(o, "summary", str_or_null(inst->broker->summary));
	sbc_json_set(o, "state",
		     json_string(inst->open_error[0] ? "failed" : "ready"));
	if (inst->open_error[0])
		sbc_json_set(o, "error", json_string(inst->open_error));
	return o;
}

char *sbc_json_catalog(const struct sbc_catalog *c)
{
	return sbc_json_catalog_view(c, NULL);
}

char *sbc_json_catalog_view(const struct sbc_catalog *c,
			    const struct sbc_view *v)
{
	bool all = !v || !v->may;
	json_t *root = json_object();
	sbc_json_set(root, "generation", json_integer(c->generation));
	json_t *insts = json_array();
	for (size_t i = 0; i < c->n_instances; i++) {
		const struct sbc_instance *inst = c->instances[i];
		json_t *objs = json_array();
		for (size_t k = 0; k < inst->n_objects; k++) {
			const struct sb_object *ob = inst->objects[k];
			json_t *ms = json_array();
			for (const struct sb_method *m = ob->methods;
			     m && m->name; m++)
				if (all || v->may(v->ud, inst->name, ob->name,
						  m->name))
					sbc_json_push(ms, json_string(m->name));
			if (!all && json_array_size(ms) == 0) {
				json_decref(ms);
				continue;
			}
			json_t *jo = json_object();
			sbc_json_set(jo, "name", json_string(ob->name));
			sbc_json_set(jo, "doc", str_or_null(ob->doc));
			sbc_json_set(jo, "methods", ms);
			sbc_json_push(objs, jo);
		}
		if (!all && json_array_size(objs) == 0) {
			json_decref(objs);
			continue;
		}
		json_t *o = instance_head(inst);
		sbc_json_set(o, "max_concurrency",
			     json_integer(inst->max_concurrency));
		sbc_json_set(o, "timeout_ms", json_integer(inst->timeout_ms));
		sbc_json_set(o, "objects", objs);
		sbc_json_push(insts, o);
	}
	sbc_json_set(root, "instances", insts);
	return dump(root);
}

static bool string_type(enum sb_type t)
{
	return t != SB_TYPE_NUMBER && t != SB_TYPE_BOOLEAN && t != SB_TYPE_FILE;
}

static json_t *param_json(const struct sb_param *p)
{
	json_t *o = json_object();
	bool multi = (p->flags & SB_MULTI) != 0;
	sbc_json_set(o, "name", json_string(p->name));
	sbc_json_set(o, "type", json_string(sb_type_name(p->type)));
	sbc_json_set(o, "required", json_boolean(p->flags & SB_REQUIRED));
	sbc_json_set(o, "multi", json_boolean(multi));
	if (p->type == SB_TYPE_ENUM)
		sbc_json_set(o, "choices", choices_json(p->choices));
	size_t max = 0;
	if (p->type == SB_TYPE_FILE)
		max = SB_DEFAULT_FILE_MAX;
	else if (p->type == SB_TYPE_MEMO)
		max = SB_DEFAULT_MEMO_MAX;
	else if (string_type(p->type))
		max = SB_DEFAULT_TEXT_MAX;
	if (p->max_size && !multi)
		max = p->max_size;
	sbc_json_set(o, "max_size",
		     max ? json_integer((json_int_t)max) : json_null());
	if (multi)
		sbc_json_set(
		    o, "max_items",
		    json_integer((json_int_t)(p->max_size
						  ? p->max_size
						  : SB_DEFAULT_MULTI_MAX)));
	if (p->type == SB_TYPE_NUMBER && (p->min != 0 || p->max != 0)) {
		sbc_json_set(o, "minimum", json_integer(p->min));
		sbc_json_set(o, "maximum", json_integer(p->max));
	}
	sbc_json_set(o, "doc", str_or_null(p->doc));
	return o;
}

static bool has_input(const struct sb_method *m, const char *name)
{
	for (const struct sb_param *p = m->inputs; p && p->name; p++)
		if (strcmp(p->name, name) == 0)
			return true;
	return false;
}

static json_t *method_json(const struct sbc_instance *inst,
			   const struct sb_object *obj,
			   const struct sb_method *m)
{
	json_t *o = json_object();
	sbc_json_set(o, "name", json_string(m->name));
	const char *kind = sb_method_kind_name(m->kind);
	sbc_json_set(o, "kind", json_string(kind ? kind : "execute"));
	char addr[512];
	snprintf(addr, sizeof(addr), "%s/%s.%s", inst->name, obj->name,
		 m->name);
	sbc_json_set(o, "address", json_string(addr));
	sbc_json_set(o, "doc", str_or_null(m->doc));
	json_t *in = json_array();
	for (const struct sb_param *p = m->inputs; p && p->name; p++)
		sbc_json_push(in, param_json(p));
	if (m->kind == SB_KIND_LIST) {
		/* the host's paging inputs, as the call layer declares them */
		struct sb_call *c = sb_call_new(obj, m);
		static const char *const host[] = {"PageSize", "PageToken"};
		for (size_t i = 0; c && i < 2; i++) {
			const struct sb_param *p = sb_call_param(c, host[i]);
			if (p && !has_input(m, host[i]))
				sbc_json_push(in, param_json(p));
		}
		sb_call_free(c);
	}
	sbc_json_set(o, "inputs", in);
	json_t *ret = json_array();
	for (size_t i = 0; m->returns && m->returns[i]; i++)
		sbc_json_push(ret, json_string(m->returns[i]));
	sbc_json_set(o, "returns", ret);
	return o;
}

char *sbc_json_object(const struct sbc_instance *inst,
		      const struct sb_object *obj)
{
	json_t *root = json_object();
	sbc_json_set(root, "instance", json_string(inst->name));
	sbc_json_set(root, "broker", json_string(inst->broker->name));
	sbc_json_set(root, "state",
		     json_string(inst->open_error[0] ? "failed" : "ready"));
	sbc_json_set(root, "name", json_string(obj->name));
	sbc_json_set(root, "doc", str_or_null(obj->doc));
	json_t *props = json_array();
	for (const struct sb_property *p = obj->properties; p && p->name; p++) {
		json_t *o = json_object();
		sbc_json_set(o, "name", json_string(p->name));
		sbc_json_set(o, "type", json_string(sb_type_name(p->type)));
		sbc_json_set(o, "multi", json_boolean(p->flags & SB_MULTI));
		if (p->type == SB_TYPE_ENUM)
			sbc_json_set(o, "choices", choices_json(p->choices));
		sbc_json_set(o, "doc", str_or_null(p->doc));
		sbc_json_push(props, o);
	}
	sbc_json_set(root, "properties", props);
	json_t *ms = json_array();
	for (const struct sb_method *m = obj->methods; m && m->name; m++)
		sbc_json_push(ms, method_json(inst, obj, m));
	sbc_json_set(root, "methods", ms);
	return dump(root);
}

char *sbc_json_health(const struct sbc_catalog *c, bool draining,
		      int64_t uptime_s, size_t queued, size_t running,
		      bool instances)
{
	json_t *root = json_object();
	size_t failed = 0;
	json_t *insts = instances ? json_array() : NULL;
	for (size_t i = 0; c && i < c->n_instances; i++) {
		const struct sbc_instance *inst = c->instances[i];
		if (inst->open_error[0])
			failed++;
		if (!insts)
			continue;
		json_t *o = instance_head(inst);
		sbc_json_set(o, "running",
			     json_integer(atomic_load(&inst->running)));
		sbc_json_set(
		    o, "calls_total",
		    json_integer((json_int_t)atomic_load(&inst->calls_total)));
		sbc_json_set(
		    o, "calls_failed",
		    json_integer((json_int_t)atomic_load(&inst->calls_failed)));
		sbc_json_set(o, "calls_rejected",
			     json_integer((json_int_t)atomic_load(
				 &inst->calls_rejected)));
		sbc_json_push(insts, o);
	}
	sbc_json_set(root, "status",
		     json_string(draining ? "stopping"
				 : failed ? "degraded"
					  : "ok"));
	sbc_json_set(root, "generation", json_integer(c ? c->generation : 0));
	sbc_json_set(root, "uptime_s", json_integer(uptime_s));
	sbc_json_set(root, "calls_queued", json_integer((json_int_t)queued));
	sbc_json_set(root, "calls_running", json_integer((json_int_t)running));
	if (insts)
		sbc_json_set(root, "instances", insts);
	return dump(root);
}

/* ---- --list-brokers ------------------------------------------------------ */

static const char *conf_type_name(enum sb_conf_type t)
{
	switch (t) {
	case SB_CONF_STRING:
		return "string";
	case SB_CONF_INT:
		return "int";
	case SB_CONF_BOOL:
		return "bool";
	case SB_CONF_DURATION:
		return "duration";
	case SB_CONF_SIZE:
		return "size";
	case SB_CONF_ENUM:
		return "enum";
	case SB_CONF_LIST:
		return "list";
	case SB_CONF_PATH:
		return "path";
	case SB_CONF_URL:
		return "url";
	case SB_CONF_FRAGMENT:
		break;
	}
	return "unknown";
}

/* A key table (fragments flattened) as --list-brokers shows it. */
static json_t *keys_json(const struct sb_config_key *table)
{
	json_t *keys = json_array();
	struct sb_conf_flat flat[SB_CONF_KEYS_MAX];
	size_t n = sb_conf_flatten(table, flat, SB_CONF_KEYS_MAX);
	for (size_t i = 0; i < n && i < SB_CONF_KEYS_MAX; i++) {
		const struct sb_config_key *k = flat[i].key;
		json_t *jk = json_object();
		bool secret = (k->flags & SB_CONF_SECRET) != 0;
		sbc_json_set(jk, "key", json_string(k->key));
		sbc_json_set(jk, "type", json_string(conf_type_name(k->type)));
		/* a secret's default is never shown */
		sbc_json_set(jk, "default",
			     secret ? json_null() : str_or_null(k->def));
		sbc_json_set(jk, "required",
			     json_boolean(k->flags & SB_CONF_REQUIRED));
		sbc_json_set(jk, "secret", json_boolean(secret));
		bool bounded = k->min != 0 || k->max != 0;
		sbc_json_set(jk, "min",
			     bounded ? json_integer(k->min) : json_null());
		sbc_json_set(jk, "max",
			     bounded ? json_integer(k->max) : json_null());
		sbc_json_set(jk, "choices",
			     k->choices ? choices_json(k->choices)
					: json_null());
		if (k->schemes)
			sbc_json_set(jk, "schemes", choices_json(k->schemes));
		sbc_json_set(jk, "doc", str_or_null(k->doc));
		sbc_json_push(keys, jk);
	}
	return keys;
}

static json_t *object_def_json(const struct sb_object *obj)
{
	json_t *o = json_object();
	sbc_json_set(o, "name", json_string(obj->name));
	sbc_json_set(o, "doc", str_or_null(obj->doc));
	json_t *props = json_array();
	for (const struct sb_property *p = obj->properties; p && p->name; p++) {
		json_t *jp = json_object();
		sbc_json_set(jp, "name", json_string(p->name));
		sbc_json_set(jp, "type", json_string(sb_type_name(p->type)));
		sbc_json_set(jp, "multi", json_boolean(p->flags & SB_MULTI));
		if (p->type == SB_TYPE_ENUM)
			sbc_json_set(jp, "choices", choices_json(p->choices));
		sbc_json_set(jp, "doc", str_or_null(p->doc));
		sbc_json_push(props, jp);
	}
	sbc_json_set(o, "properties", props);
	json_t *ms = json_array();
	for (const struct sb_method *m = obj->methods; m && m->name; m++) {
		json_t *jm = json_object();
		sbc_json_set(jm, "name", json_string(m->name));
		const char *kind = sb_method_kind_name(m->kind);
		sbc_json_set(jm, "kind", json_string(kind ? kind : "execute"));
		sbc_json_set(jm, "doc", str_or_null(m->doc));
		json_t *in = json_array();
		for (const struct sb_param *p = m->inputs; p && p->name; p++)
			sbc_json_push(in, param_json(p));
		sbc_json_set(jm, "inputs", in);
		json_t *ret = json_array();
		for (size_t i = 0; m->returns && m->returns[i]; i++)
			sbc_json_push(ret, json_string(m->returns[i]));
		sbc_json_set(jm, "returns", ret);
		sbc_json_push(ms, jm);
	}
	sbc_json_set(o, "methods", ms);
	return o;
}

char *sbc_json_brokers(const struct sbc_module *const *mods, size_t n)
{
	json_t *top = json_object();
	json_t *host = json_object();
	sbc_json_set(host, "server", keys_json(sbc_server_keys));
	sbc_json_set(host, "module", keys_json(sbc_module_keys));
	sbc_json_set(host, "instance", keys_json(sbc_instance_host_keys));
	sbc_json_set(host, "client", keys_json(sbc_client_keys));
	sbc_json_set(top, "host", host);
	json_t *root = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct sb_broker *b = mods[i]->broker;
		json_t *o = json_object();
		sbc_json_set(o, "name", json_string(b->name));
		sbc_json_set(o, "version", str_or_null(b->version));
		sbc_json_set(o, "summary", str_or_null(b->summary));
		sbc_json_set(o, "file", str_or_null(mods[i]->path));
		sbc_json_set(o, "serial",
			     json_boolean(b->flags & SB_BROKER_SERIAL));
		json_t *keys = keys_json(b->config);
		sbc_json_set(o, "config", keys);
		json_t *objs = json_array();
		for (const struct sb_object *ob = b->objects; ob && ob->name;
		     ob++)
			sbc_json_push(objs, object_def_json(ob));
		sbc_json_set(o, "objects", objs);
		sbc_json_push(root, o);
	}
	sbc_json_set(top, "brokers", root);
	char *s = top ? json_dumps(top, JSON_INDENT(2)) : NULL;
	json_decref(top);
	return s;
}
