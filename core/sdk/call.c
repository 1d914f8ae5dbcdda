/* One method call: validated inputs in (struct sb_call) and typed result
 * rows out (struct sb_result).
 *
 * A call owns a private copy of every input value (one malloc per string,
 * file name, content type and file body), freed by sb_call_free.  A result
 * owns copies of every cell value, freed by sb_result_free. */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/schema.h>
#include <svcbroker/sdk.h>

#include <svcbroker/invoke.h>

#define PAGE_TOKEN_MAX 4096u
#define FILE_NAME_MAX 255u
#define CONTENT_TYPE_MAX 255u
#define RESULT_ROWS_DEFAULT 100000u
#define RESULT_BYTES_DEFAULT ((size_t)256 * 1024 * 1024)
#define DEFAULT_CONTENT_TYPE "application/octet-stream"

/* Inputs the host adds to every list method. */
static const struct sb_param page_size_param = {
    .name = "PageSize",
    .type = SB_TYPE_NUMBER,
    .flags = 0,
    .min = 1,
    .max = SB_PAGE_SIZE_MAX,
    .doc = "How many rows to return at most (1 to 1000; default 100).",
};
static const struct sb_param page_token_param = {
    .name = "PageToken",
    .type = SB_TYPE_TEXT,
    .flags = 0,
    .max_size = PAGE_TOKEN_MAX,
    .doc = "The next_page_token of the previous answer, to fetch the next "
	   "page.",
};

struct input {
	const struct sb_param *decl;
	struct sb_value value; /* value.items == items */
	union sb_datum *items;
	size_t cap;
};

struct sb_call {
	const struct sb_object *obj;
	const struct sb_method *m;
	struct input *in;
	size_t n_in, cap_in;
	int64_t deadline_ms;
	char *request_id; /* NULL: none */
	atomic_bool cancelled;
	/* The first getter misuse (an undeclared input, or one read as a type
	 * it is not declared with); the host fails the call with it. */
	atomic_bool misused;
	char misuse[SB_ERROR_MSG_MAX];
};

/* ---- helpers ---------------------------------------------------------- */

/* A client-supplied name or value, made safe to quote in a message. */
static const char *echo(const char *s, char *buf, size_t n)
{
	return sb_text_quotable(s, n > 4 ? n - 4 : 0, buf, n);
}

static bool is_string_type(enum sb_type t)
{
	return t != SB_TYPE_NUMBER && t != SB_TYPE_BOOLEAN && t != SB_TYPE_FILE;
}

static void free_datum(enum sb_type t, union sb_datum *d)
{
	if (t == SB_TYPE_FILE) {
		free((char *)d->f.name);
		free((char *)d->f.content_type);
		free((unsigned char *)d->f.data);
	} else if (is_string_type(t)) {
		free((char *)d->s);
	}
}

/* Names joined by ", " into buf. */
static void join_names(char *buf, size_t n, const char *const *names)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; names && names[i] && o < n; i++) {
		int w =
		    snprintf(buf + o, n - o, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* ---- the call --------------------------------------------------------- */

struct sb_call *sb_call_new(const struct sb_object *obj,
			    const struct sb_method *m)
{
	struct sb_call *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->obj = obj;
	c->m = m;
	c->deadline_ms = INT64_MAX;
	atomic_init(&c->cancelled, false);
	return c;
}

void sb_call_free(struct sb_call *c)
{
	if (!c)
		return;
	free(c->request_id);
	for (size_t i = 0; i < c->n_in; i++) {
		struct input *in = &c->in[i];
		for (size_t k = 0; k < in->value.count; k++)
			free_datum(in->value.type, &in->items[k]);
		free(in->items);
	}
	free(c->in);
	free(c);
}

const struct sb_param *sb_call_param(const struct sb_call *c, const char *name)
{
	if (!c || !name)
		return NULL;
	if (c->m && c->m->inputs) {
		/* a broker reading its inputs passes the same literals as its
		 * table, often the very same pointers; the first byte settles
		 * most of the others without a call */
		for (const struct sb_param *p = c->m->inputs; p->name; p++)
			if (p->name == name || (p->name[0] == name[0] &&
						strcmp(p->name, name) == 0))
				return p;
	}
	if (c->m && c->m->kind == SB_KIND_LIST) {
		if (strcmp(name, page_size_param.name) == 0)
			return &page_size_param;
		if (strcmp(name, page_token_param.name) == 0)
			return &page_token_param;
	}
	return NULL;
}

static struct input *find_input(const struct sb_call *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_in; i++) {
		const char *n = c->in[i].decl->name;
		if (n == name || (n[0] == name[0] && strcmp(n, name) == 0))
			return &c->in[i];
	}
	return NULL;
}

static enum sb_status unknown_input(const struct sb_call *c, const char *name,
				    struct sb_error *err)
{
	char valid[SB_ERROR_MSG_MAX];
	size_t o = 0;
	valid[0] = '\0';
	const struct sb_param *ins = c->m ? c->m->inputs : NULL;
	for (size_t i = 0; ins && ins[i].name && o < sizeof(valid); i++) {
		int w = snprintf(valid + o, sizeof(valid) - o, "%s%s",
				 o ? ", " : "", ins[i].name);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	if (c->m && c->m->kind == SB_KIND_LIST && o < sizeof(valid))
		snprintf(valid + o, sizeof(valid) - o, "%sPageSize, PageToken",
			 o ? ", " : "");
	char nb[80];
	return sb_error_set(
	    err, SB_ERR_INVALID_INPUT, NULL,
	    "unknown input '%s' for %s.%s; valid inputs: %s",
	    echo(name, nb, sizeof(nb)), c->obj ? c->obj->name : "?",
	    c->m ? c->m->name : "?", valid[0] ? valid : "(none)");
}

/* Find or create the input for decl, and make room for one more item.
 * Checks "one value only" and the item cap. */
static enum sb_status input_slot(struct sb_call *c, const struct sb_param *p,
				 struct input **out, struct sb_error *err)
{
	struct input *in = find_input(c, p->name);
	if (!in) {
		if (c->n_in == c->cap_in) {
			size_t ncap = c->cap_in ? c->cap_in * 2 : 8;
			struct input *ni = realloc(c->in, ncap * sizeof(*ni));
			if (!ni)
				return sb_error_set(err, SB_ERR_INTERNAL, NULL,
						    "out of memory");
			c->in = ni;
			c->cap_in = ncap;
		}
		in = &c->in[c->n_in++];
		memset(in, 0, sizeof(*in));
		in->decl = p;
		in->value.type = p->type;
		in->value.multi = (p->flags & SB_MULTI) != 0;
	}
	*out = in;
	return SB_OK;
}

static enum sb_status input_room(struct input *in, struct sb_error *err)
{
	const struct sb_param *p = in->decl;
	if (!in->value.multi && in->value.count >= 1)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: takes one value, not several",
				    p->name);
	if (in->value.multi) {
		size_t max = p->max_size ? p->max_size : SB_DEFAULT_MULTI_MAX;
		if (in->value.count >= max)
			return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
					    "%s: more than %zu values", p->name,
					    max);
	}
	if (in->value.count == in->cap) {
		size_t ncap = in->cap ? in->cap * 2 : 1;
		union sb_datum *ni = realloc(in->items, ncap * sizeof(*ni));
		if (!ni)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		in->items = ni;
		in->cap = ncap;
		in->value.items = ni;
	}
	return SB_OK;
}

/* Drop a just-created input again if a put failed before adding an item
 * (so a failed put is not "present"). */
static void undo_empty(struct sb_call *c, struct input *in, bool was_new)
{
	if (was_new && in->value.count == 0 && in == &c->in[c->n_in - 1]) {
		free(in->items);
		c->n_in--;
	}
}

/* Look up, check the type family, and find room. */
static enum sb_status prepare(struct sb_call *c, const char *name,
			      struct input **out, const struct sb_param **pp,
			      struct sb_error *err)
{
	if (!c)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "no call");
	const struct sb_param *p = sb_call_param(c, name);
	if (!p)
		return unknown_input(c, name, err);
	*pp = p;
	bool was_new = find_input(c, p->name) == NULL;
	struct input *in;
	enum sb_status st = input_slot(c, p, &in, err);
	if (st != SB_OK)
		return st;
	st = input_room(in, err);
	if (st != SB_OK) {
		undo_empty(c, in, was_new);
		return st;
	}
	*out = in;
	return SB_OK;
}

static enum sb_status wrong_type(const struct sb_param *p, const char *given,
				 struct sb_error *err)
{
	const char *tn = sb_type_name(p->type);
	return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			    "%s: expected %s%s, got %s", p->name, tn ? tn : "?",
			    (p->flags & SB_MULTI) ? " (or a list of them)" : "",
			    given);
}

static enum sb_status range_check(const struct sb_param *p, int64_t v,
				  struct sb_error *err)
{
	if ((p->min != 0 || p->max != 0) && (v < p->min || v > p->max))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: %lld is out of range %lld..%lld",
				    p->name, (long long)v, (long long)p->min,
				    (long long)p->max);
	return SB_OK;
}

static enum sb_status put_number(struct sb_call *c, const char *name, int64_t v,
				 struct sb_error *err)
{
	const struct sb_param *p = NULL;
	bool was_new = find_input(c, name) == NULL;
	struct input *in;
	enum sb_status st = prepare(c, name, &in, &p, err);
	if (st != SB_OK)
		return st;
	if (p->type == SB_TYPE_NUMBER) {
		st = range_check(p, v, err);
		if (st != SB_OK) {
			undo_empty(c, in, was_new);
			return st;
		}
		in->items[in->value.count++].i = v;
		return SB_OK;
	}
	if (p->type == SB_TYPE_DECIMAL) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
		char *s = strdup(buf);
		if (!s) {
			undo_empty(c, in, was_new);
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		}
		in->items[in->value.count++].s = s;
		return SB_OK;
	}
	undo_empty(c, in, was_new);
	return wrong_type(p, "a number", err);
}

enum sb_status sb_call_put_int(struct sb_call *c, const char *name, int64_t v,
			       struct sb_error *err)
{
	return put_number(c, name, v, err);
}

enum sb_status sb_call_put_bool(struct sb_call *c, const char *name, bool v,
				struct sb_error *err)
{
	const struct sb_param *p = NULL;
	bool was_new = find_input(c, name) == NULL;
	struct input *in;
	enum sb_status st = prepare(c, name, &in, &p, err);
	if (st != SB_OK)
		return st;
	if (p->type != SB_TYPE_BOOLEAN) {
		undo_empty(c, in, was_new);
		return wrong_type(p, "a boolean", err);
	}
	in->items[in->value.count++].b = v;
	return SB_OK;
}

static bool parse_int64(const char *s, int64_t *out)
{
	if (!sb_type_check(SB_TYPE_NUMBER, s, NULL, NULL))
		return false;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return false;
	*out = v;
	return true;
}

enum sb_status sb_call_put_str(struct sb_call *c, const char *name,
			       const char *s, struct sb_error *err)
{
	if (!c)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "no call");
	const struct sb_param *p = sb_call_param(c, name);
	if (!p)
		return unknown_input(c, name, err);
	if (!s)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: null is not a value", p->name);
	/* Strings may carry numbers and booleans (command line, query). */
	if (p->type == SB_TYPE_NUMBER) {
		int64_t v;
		if (!parse_int64(s, &v))
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: expected a whole number "
					    "(64-bit)",
					    p->name);
		return put_number(c, name, v, err);
	}
	if (p->type == SB_TYPE_BOOLEAN) {
		if (strcmp(s, "true") == 0)
			return sb_call_put_bool(c, name, true, err);
		if (strcmp(s, "false") == 0)
			return sb_call_put_bool(c, name, false, err);
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: expected true or false", p->name);
	}
	if (p->type == SB_TYPE_FILE)
		return wrong_type(p, "a string", err);

	size_t cap =
	    p->type == SB_TYPE_MEMO ? SB_DEFAULT_MEMO_MAX : SB_DEFAULT_TEXT_MAX;
	if (p->max_size && !(p->flags & SB_MULTI))
		cap = p->max_size;
	size_t len = strnlen(s, cap + 1);
	if (len > cap)
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				    "%s: longer than %zu bytes", p->name, cap);
	const char *why = NULL;
	if (!sb_type_check(p->type, s, p->choices, &why)) {
		if (p->type == SB_TYPE_ENUM) {
			char ch[300], vb[80];
			join_names(ch, sizeof(ch), p->choices);
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "%s: '%s' is not one of %s",
					    p->name, echo(s, vb, sizeof(vb)),
					    ch);
		}
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL, "%s: %s",
				    p->name, why ? why : "invalid value");
	}

	bool was_new = find_input(c, name) == NULL;
	struct input *in;
	enum sb_status st = prepare(c, name, &in, &p, err);
	if (st != SB_OK)
		return st;
	char *copy = malloc(len + 1);
	if (!copy) {
		undo_empty(c, in, was_new);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	memcpy(copy, s, len + 1);
	in->items[in->value.count++].s = copy;
	return SB_OK;
}

static bool file_name_ok(const char *s)
{
	if (!s)
		return false;
	if (!sb_path_component_ok(s, FILE_NAME_MAX))
		return false;
	if (strchr(s, '\\'))
		return false;
	return sb_type_check(SB_TYPE_TEXT, s, NULL, NULL);
}

static bool content_type_ok(const char *s)
{
	size_t len = strnlen(s, CONTENT_TYPE_MAX + 1);
	if (len == 0 || len > CONTENT_TYPE_MAX)
		return false;
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || slash[1] == '\0')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

enum sb_status sb_call_put_file(struct sb_call *c, const char *name,
				const char *file_name, const char *content_type,
				const unsigned char *data, size_t size,
				struct sb_error *err)
{
	if (!c)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "no call");
	const struct sb_param *p = sb_call_param(c, name);
	if (!p)
		return unknown_input(c, name, err);
	if (p->type != SB_TYPE_FILE)
		return wrong_type(p, "a file", err);
	size_t cap = SB_DEFAULT_FILE_MAX;
	if (p->max_size && !(p->flags & SB_MULTI))
		cap = p->max_size;
	if (size > cap)
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
				    "%s: file is larger than %zu bytes",
				    p->name, cap);
	if (!file_name_ok(file_name))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: file Name must be a plain file name "
				    "(1..%u bytes of UTF-8, no path "
				    "separators or control characters)",
				    p->name, FILE_NAME_MAX);
	if (!content_type || !*content_type)
		content_type = DEFAULT_CONTENT_TYPE;
	if (!content_type_ok(content_type))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: ContentType must look like "
				    "type/subtype",
				    p->name);
	if (!data && size > 0)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: file has no content", p->name);

	bool was_new = find_input(c, name) == NULL;
	struct input *in;
	enum sb_status st = prepare(c, name, &in, &p, err);
	if (st != SB_OK)
		return st;
	char *fn = strdup(file_name);
	char *ct = strdup(content_type);
	unsigned char *d = malloc(size + 1);
	if (!fn || !ct || !d) {
		free(fn);
		free(ct);
		free(d);
		undo_empty(c, in, was_new);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	if (size)
		memcpy(d, data, size);
	d[size] = '\0';
	union sb_datum *it = &in->items[in->value.count++];
	it->f.name = fn;
	it->f.content_type = ct;
	it->f.data = d;
	it->f.size = size;
	return SB_OK;
}

enum sb_status sb_call_put_empty(struct sb_call *c, const char *name,
				 struct sb_error *err)
{
	if (!c)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "no call");
	const struct sb_param *p = sb_call_param(c, name);
	if (!p)
		return unknown_input(c, name, err);
	if (!(p->flags & SB_MULTI))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: takes one value, not a list", p->name);
	struct input *in;
	return input_slot(c, p, &in, err);
}

enum sb_status sb_call_finish(struct sb_call *c, struct sb_error *err)
{
	if (!c)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "no call");
	if (!c->m || !c->m->inputs)
		return SB_OK;
	char missing[SB_ERROR_MSG_MAX];
	size_t o = 0, n = 0;
	missing[0] = '\0';
	for (size_t i = 0; c->m->inputs[i].name; i++) {
		const struct sb_param *p = &c->m->inputs[i];
		if (!(p->flags & SB_REQUIRED))
			continue;
		const struct input *in = find_input(c, p->name);
		if (in && in->value.count > 0)
			continue;
		n++;
		if (o < sizeof(missing)) {
			int w = snprintf(missing + o, sizeof(missing) - o,
					 "%s%s", o ? ", " : "", p->name);
			if (w > 0)
				o += (size_t)w;
		}
	}
	if (n == 0)
		return SB_OK;
	return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			    "missing required input%s: %s", n > 1 ? "s" : "",
			    missing);
}

void sb_call_set_deadline(struct sb_call *c, int64_t deadline_ms)
{
	if (c)
		c->deadline_ms = deadline_ms;
}

bool sb_call_set_request_id(struct sb_call *c, const char *id)
{
	if (!c)
		return false;
	char *copy = id ? strdup(id) : NULL;
	if (id && !copy)
		return false;
	free(c->request_id);
	c->request_id = copy;
	return true;
}

const char *sb_call_request_id(const struct sb_call *c)
{
	return c ? c->request_id : NULL;
}

int64_t sb_call_deadline(const struct sb_call *c)
{
	return c ? c->deadline_ms : 0;
}

void sb_call_cancel(struct sb_call *c)
{
	if (c)
		atomic_store(&c->cancelled, true);
}

bool sb_call_is_cancelled(const struct sb_call *c)
{
	if (!c)
		return true;
	return atomic_load(&((struct sb_call *)c)->cancelled);
}

size_t sb_call_n_inputs(const struct sb_call *c) { return c ? c->n_in : 0; }

const char *sb_call_input_name(const struct sb_call *c, size_t i)
{
	if (!c || i >= c->n_in)
		return NULL;
	return c->in[i].decl->name;
}

/* ---- public getters --------------------------------------------------- */

const char *sb_call_object(const struct sb_call *call)
{
	return call && call->obj ? call->obj->name : NULL;
}

const char *sb_call_method(const struct sb_call *call)
{
	return call && call->m ? call->m->name : NULL;
}

const struct sb_method *sb_call_def(const struct sb_call *call)
{
	return call ? call->m : NULL;
}

/* Record the first getter misuse; the host fails the call with it. */
static void misuse(const struct sb_call *call, const char *name,
		   const char *asked, const struct sb_param *p)
{
	struct sb_call *c = (struct sb_call *)call; /* the record is mutable */
	bool expected = false;
	if (!atomic_compare_exchange_strong(&c->misused, &expected, true))
		return;
	char nb[96];
	if (!p) {
		snprintf(c->misuse, sizeof(c->misuse),
			 "the broker read input %s, which %s.%s does not "
			 "declare",
			 echo(name, nb, sizeof(nb)), c->obj->name, c->m->name);
		return;
	}
	const char *tn = sb_type_name(p->type);
	snprintf(c->misuse, sizeof(c->misuse),
		 "the broker read input %s as %s, but %s.%s declares it as "
		 "%s%s",
		 p->name, asked, c->obj->name, c->m->name,
		 (p->flags & SB_MULTI) ? "a list of " : "", tn ? tn : "?");
}

/* The declaration of `name` if reading it as `asked` fits (ok(type)), for
 * a single value when `single` is set; else NULL with the misuse
 * recorded. */
static const struct sb_param *declared(const struct sb_call *call,
				       const char *name, const char *asked,
				       bool (*ok)(enum sb_type), bool single)
{
	if (!call)
		return NULL;
	const struct sb_param *p = sb_call_param(call, name);
	if (!p || !ok(p->type) || (single && (p->flags & SB_MULTI))) {
		misuse(call, name, asked, p);
		return NULL;
	}
	return p;
}

const struct sb_value *sb_call_input(const struct sb_call *call,
				     const char *name)
{
	const struct sb_param *p = sb_call_param(call, name);
	if (call && !p)
		misuse(call, name, "a value", NULL);
	if (!p)
		return NULL;
	/* an input given is kept with its declaration: compare those */
	for (size_t i = 0; i < call->n_in; i++)
		if (call->in[i].decl == p)
			return &call->in[i].value;
	return NULL;
}

static bool is_number(enum sb_type t) { return t == SB_TYPE_NUMBER; }
static bool is_boolean(enum sb_type t) { return t == SB_TYPE_BOOLEAN; }
static bool is_enum(enum sb_type t) { return t == SB_TYPE_ENUM; }
static bool is_file(enum sb_type t) { return t == SB_TYPE_FILE; }

/* The single item of a present input. */
static const union sb_datum *single(const struct sb_call *call,
				    const char *name)
{
	const struct input *in = find_input(call, name);
	if (!in || in->value.count != 1)
		return NULL;
	return &in->items[0];
}

const char *sb_call_str(const struct sb_call *call, const char *name,
			const char *fallback)
{
	if (!declared(call, name, "a single string", is_string_type, true))
		return fallback;
	const union sb_datum *d = single(call, name);
	return d ? d->s : fallback;
}

bool sb_call_int(const struct sb_call *call, const char *name, int64_t *out)
{
	if (!declared(call, name, "a single number", is_number, true))
		return false;
	const union sb_datum *d = single(call, name);
	if (!d)
		return false;
	if (out)
		*out = d->i;
	return true;
}

bool sb_call_bool(const struct sb_call *call, const char *name, bool *out)
{
	if (!declared(call, name, "a single boolean", is_boolean, true))
		return false;
	const union sb_datum *d = single(call, name);
	if (!d)
		return false;
	if (out)
		*out = d->b;
	return true;
}

bool sb_call_enum(const struct sb_call *call, const char *name, size_t *index)
{
	const struct sb_param *p =
	    declared(call, name, "a single enum", is_enum, true);
	if (!p)
		return false;
	const union sb_datum *d = single(call, name);
	if (!d)
		return false;
	for (size_t i = 0; p->choices && p->choices[i]; i++) {
		if (strcmp(p->choices[i], d->s) == 0) {
			if (index)
				*index = i;
			return true;
		}
	}
	return false; /* not reached: the value was checked on input */
}

bool sb_call_misused(const struct sb_call *c, struct sb_error *err)
{
	if (!c || !atomic_load(&c->misused))
		return false;
	sb_error_set(err, SB_ERR_INTERNAL, NULL, "%s", c->misuse);
	return true;
}

size_t sb_call_count(const struct sb_call *call, const char *name)
{
	if (call && !sb_call_param(call, name))
		misuse(call, name, "a list", NULL);
	const struct input *in = find_input(call, name);
	return in ? in->value.count : 0;
}

const char *sb_call_str_at(const struct sb_call *call, const char *name,
			   size_t i)
{
	if (!declared(call, name, "a string", is_string_type, false))
		return NULL;
	const struct input *in = find_input(call, name);
	if (!in || i >= in->value.count)
		return NULL;
	return in->items[i].s;
}

const struct sb_file *sb_call_file_at(const struct sb_call *call,
				      const char *name, size_t i)
{
	if (!declared(call, name, "a file", is_file, false))
		return NULL;
	const struct input *in = find_input(call, name);
	if (!in || i >= in->value.count)
		return NULL;
	return &in->items[i].f;
}

int64_t sb_call_page_size(const struct sb_call *call)
{
	int64_t v;
	if (call && call->m && call->m->kind == SB_KIND_LIST &&
	    sb_call_int(call, "PageSize", &v) && v >= 1 &&
	    v <= SB_PAGE_SIZE_MAX)
		return v;
	return SB_PAGE_SIZE_DEFAULT;
}

const char *sb_call_page_token(const struct sb_call *call)
{
	const char *t = sb_call_str(call, "PageToken", NULL);
	if (t && !*t)
		return NULL;
	return t;
}

/* ---- results ---------------------------------------------------------- */

struct row {
	struct sb_cell *cells;
	union sb_datum **items; /* mutable view of cells[k].value.items */
	size_t *caps;
	size_t n, cap;
};

struct sb_result {
	const struct sb_object *obj;
	const struct sb_method *m;
	size_t max_rows, max_bytes, bytes;
	struct row *rows;
	size_t n_rows, cap_rows;
	char *page_token;
	bool failed;
	struct sb_error err;
};

struct sb_result *sb_result_new(const struct sb_object *obj,
				const struct sb_method *m, size_t max_rows,
				size_t max_bytes)
{
	struct sb_result *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->obj = obj;
	r->m = m;
	r->max_rows = max_rows ? max_rows : RESULT_ROWS_DEFAULT;
	r->max_bytes = max_bytes ? max_bytes : RESULT_BYTES_DEFAULT;
	sb_error_clear(&r->err);
	return r;
}

static void row_free(struct row *row)
{
	for (size_t k = 0; k < row->n; k++) {
		for (size_t j = 0; j < row->cells[k].value.count; j++)
			free_datum(row->cells[k].value.type, &row->items[k][j]);
		free(row->items[k]);
	}
	free(row->cells);
	free(row->items);
	free(row->caps);
}

void sb_result_free(struct sb_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_rows; i++)
		row_free(&r->rows[i]);
	free(r->rows);
	free(r->page_token);
	free(r);
}

size_t sb_result_n_rows(const struct sb_result *r) { return r ? r->n_rows : 0; }

size_t sb_result_row_cells(const struct sb_result *r, size_t i,
			   const struct sb_cell **cells)
{
	if (!r || i >= r->n_rows) {
		if (cells)
			*cells = NULL;
		return 0;
	}
	if (cells)
		*cells = r->rows[i].cells;
	return r->rows[i].n;
}

const char *sb_result_page_token(const struct sb_result *r)
{
	return r ? r->page_token : NULL;
}

bool sb_result_error(const struct sb_result *r, struct sb_error *err)
{
	if (!r || !r->failed)
		return false;
	if (err)
		*err = r->err;
	return true;
}

static enum sb_status rfail(struct sb_result *r, enum sb_status st,
			    const char *fmt, ...) SB_PRINTF(3, 4);
static enum sb_status rfail(struct sb_result *r, enum sb_status st,
			    const char *fmt, ...)
{
	if (r->failed)
		return r->err.status;
	char msg[SB_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->failed = true;
	sb_error_set(&r->err, st, NULL, "%s.%s: %s",
		     r->obj ? r->obj->name : "?", r->m ? r->m->name : "?", msg);
	return st;
}

enum sb_status sb_result_row(struct sb_result *r)
{
	if (!r)
		return SB_ERR_INTERNAL;
	if (r->failed)
		return r->err.status;
	if (r->n_rows >= r->max_rows)
		return rfail(r, SB_ERR_PAYLOAD_TOO_LARGE,
			     "the result has more than %zu rows", r->max_rows);
	if (r->n_rows == r->cap_rows) {
		size_t ncap = r->cap_rows ? r->cap_rows * 2 : 16;
		struct row *nr = realloc(r->rows, ncap * sizeof(*nr));
		if (!nr)
			return rfail(r, SB_ERR_INTERNAL, "out of memory");
		r->rows = nr;
		r->cap_rows = ncap;
	}
	memset(&r->rows[r->n_rows++], 0, sizeof(struct row));
	return SB_OK;
}

static enum sb_status charge(struct sb_result *r, size_t n)
{
	if (n > r->max_bytes || r->bytes > r->max_bytes - n)
		return rfail(r, SB_ERR_PAYLOAD_TOO_LARGE,
			     "the result is larger than %zu bytes",
			     r->max_bytes);
	r->bytes += n;
	return SB_OK;
}

/* Find the property, check the setter fits its type, and return a slot
 * for one more item in the current row's cell (created if needed).  For a
 * single property an existing value is freed and replaced. */
static enum sb_status cell_slot(struct sb_result *r, const char *name,
				const char *setter, bool (*fits)(enum sb_type),
				const struct sb_property **pp,
				union sb_datum **slot)
{
	if (!r)
		return SB_ERR_INTERNAL;
	if (r->failed)
		return r->err.status;
	if (r->n_rows == 0)
		return rfail(r, SB_ERR_INTERNAL,
			     "cell %s set before sb_result_row",
			     name ? name : "(null)");
	const struct sb_property *p =
	    r->obj ? sb_property_find(r->obj->properties, name) : NULL;
	if (!p)
		return rfail(r, SB_ERR_INTERNAL,
			     "result cell %s is not a property of %s",
			     name ? name : "(null)",
			     r->obj ? r->obj->name : "?");
	if (fits && !fits(p->type))
		return rfail(r, SB_ERR_INTERNAL,
			     "result cell %s is of type %s, cannot be set "
			     "with %s",
			     p->name, sb_type_name(p->type), setter);
	*pp = p;
	struct row *row = &r->rows[r->n_rows - 1];
	size_t k;
	for (k = 0; k < row->n; k++)
		if (row->cells[k].name == p->name)
			break;
	if (k == row->n) {
		if (row->n == row->cap) {
			size_t ncap = row->cap ? row->cap * 2 : 8;
			struct sb_cell *nc =
			    realloc(row->cells, ncap * sizeof(*nc));
			if (!nc)
				return rfail(r, SB_ERR_INTERNAL,
					     "out of memory");
			row->cells = nc;
			union sb_datum **ni =
			    realloc(row->items, ncap * sizeof(*ni));
			if (!ni)
				return rfail(r, SB_ERR_INTERNAL,
					     "out of memory");
			row->items = ni;
			size_t *ncp = realloc(row->caps, ncap * sizeof(*ncp));
			if (!ncp)
				return rfail(r, SB_ERR_INTERNAL,
					     "out of memory");
			row->caps = ncp;
			row->cap = ncap;
		}
		struct sb_cell *cell = &row->cells[row->n];
		cell->name = p->name;
		cell->value.type = p->type;
		cell->value.multi = (p->flags & SB_MULTI) != 0;
		cell->value.count = 0;
		cell->value.items = NULL;
		row->items[row->n] = NULL;
		row->caps[row->n] = 0;
		row->n++;
		if (charge(r, strlen(p->name) + 8) != SB_OK)
			return r->err.status;
	}
	if (!slot)
		return SB_OK;
	struct sb_cell *cell = &row->cells[k];
	if (!cell->value.multi && cell->value.count == 1) {
		free_datum(p->type, &row->items[k][0]);
		cell->value.count = 0;
	}
	if (cell->value.count == row->caps[k]) {
		size_t ncap = row->caps[k] ? row->caps[k] * 2 : 1;
		union sb_datum *ni = realloc(row->items[k], ncap * sizeof(*ni));
		if (!ni)
			return rfail(r, SB_ERR_INTERNAL, "out of memory");
		row->items[k] = ni;
		row->caps[k] = ncap;
		cell->value.items = ni;
	}
	*slot = &row->items[k][cell->value.count];
	return SB_OK;
}

static struct sb_cell *current_cell(struct sb_result *r,
				    const struct sb_property *p)
{
	struct row *row = &r->rows[r->n_rows - 1];
	for (size_t k = 0; k < row->n; k++)
		if (row->cells[k].name == p->name)
			return &row->cells[k];
	return NULL;
}

static bool fits_str(enum sb_type t) { return is_string_type(t); }
static bool fits_int(enum sb_type t)
{
	return t == SB_TYPE_NUMBER || t == SB_TYPE_DECIMAL;
}
static bool fits_bool(enum sb_type t) { return t == SB_TYPE_BOOLEAN; }
static bool fits_file(enum sb_type t) { return t == SB_TYPE_FILE; }

enum sb_status sb_result_str(struct sb_result *r, const char *name,
			     const char *value)
{
	if (!value)
		return r ? (r->failed ? r->err.status : SB_OK)
			 : SB_ERR_INTERNAL;
	if (!r)
		return SB_ERR_INTERNAL;
	if (r->failed)
		return r->err.status;
	const struct sb_property *p =
	    r->obj ? sb_property_find(r->obj->properties, name) : NULL;
	if (p && is_string_type(p->type)) {
		const char *why = NULL;
		if (!sb_type_check(p->type, value, p->choices, &why))
			return rfail(r, SB_ERR_INTERNAL,
				     "result cell %s: %s value is invalid: %s",
				     p->name, sb_type_name(p->type),
				     why ? why : "invalid");
	}
	size_t len = strlen(value);
	union sb_datum *slot;
	enum sb_status st = cell_slot(r, name, "a string", fits_str, &p, &slot);
	if (st != SB_OK)
		return st;
	if (charge(r, len + 8) != SB_OK)
		return r->err.status;
	char *copy = malloc(len + 1);
	if (!copy)
		return rfail(r, SB_ERR_INTERNAL, "out of memory");
	memcpy(copy, value, len + 1);
	slot->s = copy;
	current_cell(r, p)->value.count++;
	return SB_OK;
}

enum sb_status sb_result_int(struct sb_result *r, const char *name,
			     int64_t value)
{
	const struct sb_property *p;
	union sb_datum *slot;
	enum sb_status st = cell_slot(r, name, "a number", fits_int, &p, &slot);
	if (st != SB_OK)
		return st;
	if (charge(r, 24) != SB_OK)
		return r->err.status;
	if (p->type == SB_TYPE_DECIMAL) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)value);
		char *s = strdup(buf);
		if (!s)
			return rfail(r, SB_ERR_INTERNAL, "out of memory");
		slot->s = s;
	} else {
		slot->i = value;
	}
	current_cell(r, p)->value.count++;
	return SB_OK;
}

enum sb_status sb_result_bool(struct sb_result *r, const char *name, bool value)
{
	const struct sb_property *p;
	union sb_datum *slot;
	enum sb_status st =
	    cell_slot(r, name, "a boolean", fits_bool, &p, &slot);
	if (st != SB_OK)
		return st;
	if (charge(r, 8) != SB_OK)
		return r->err.status;
	slot->b = value;
	current_cell(r, p)->value.count++;
	return SB_OK;
}

enum sb_status sb_result_file(struct sb_result *r, const char *name,
			      const struct sb_file *file)
{
	if (!r)
		return SB_ERR_INTERNAL;
	if (r->failed)
		return r->err.status;
	if (!file)
		return rfail(r, SB_ERR_INTERNAL, "result cell %s: no file",
			     name ? name : "(null)");
	if (!file->data && file->size > 0)
		return rfail(r, SB_ERR_INTERNAL,
			     "result cell %s: file has no data",
			     name ? name : "(null)");
	const char *fname = file->name ? file->name : "";
	const char *ctype = file->content_type && *file->content_type
				? file->content_type
				: DEFAULT_CONTENT_TYPE;
	/* Checked like a text cell: a name that is not one line of UTF-8
	 * could not be rendered (it would vanish from the row). */
	const char *why = NULL;
	if (strnlen(fname, FILE_NAME_MAX + 1) > FILE_NAME_MAX)
		return rfail(r, SB_ERR_INTERNAL,
			     "result cell %s: file Name is longer than %u "
			     "bytes",
			     name ? name : "(null)", FILE_NAME_MAX);
	if (!sb_type_check(SB_TYPE_TEXT, fname, NULL, &why))
		return rfail(r, SB_ERR_INTERNAL,
			     "result cell %s: file Name is invalid: %s",
			     name ? name : "(null)", why ? why : "invalid");
	if (!content_type_ok(ctype))
		return rfail(r, SB_ERR_INTERNAL,
			     "result cell %s: file ContentType must look like "
			     "type/subtype (printable ASCII, at most %u bytes)",
			     name ? name : "(null)", CONTENT_TYPE_MAX);
	const struct sb_property *p;
	union sb_datum *slot;
	enum sb_status st = cell_slot(r, name, "a file", fits_file, &p, &slot);
	if (st != SB_OK)
		return st;
	size_t nl = strlen(fname), cl = strlen(ctype);
	/* Base64 grows content by a third when rendered. */
	if (file->size > SIZE_MAX / 2 ||
	    charge(r, file->size / 3 * 4 + 4 + nl + cl + 64) != SB_OK)
		return rfail(r, SB_ERR_PAYLOAD_TOO_LARGE,
			     "the result is larger than %zu bytes",
			     r->max_bytes);
	char *fn = strdup(fname);
	char *ct = strdup(ctype);
	unsigned char *d = malloc(file->size + 1);
	if (!fn || !ct || !d) {
		free(fn);
		free(ct);
		free(d);
		return rfail(r, SB_ERR_INTERNAL, "out of memory");
	}
	if (file->size)
		memcpy(d, file->data, file->size);
	d[file->size] = '\0';
	slot->f.name = fn;
	slot->f.content_type = ct;
	slot->f.data = d;
	slot->f.size = file->size;
	current_cell(r, p)->value.count++;
	return SB_OK;
}

enum sb_status sb_result_empty(struct sb_result *r, const char *name)
{
	if (!r)
		return SB_ERR_INTERNAL;
	if (r->failed)
		return r->err.status;
	const struct sb_property *p =
	    r->obj ? sb_property_find(r->obj->properties, name) : NULL;
	if (p && !(p->flags & SB_MULTI))
		return rfail(r, SB_ERR_INTERNAL,
			     "result cell %s is not a multi property", p->name);
	return cell_slot(r, name, "an empty list", NULL, &p, NULL);
}

enum sb_status sb_result_next_page(struct sb_result *r, const char *token)
{
	if (!r)
		return SB_ERR_INTERNAL;
	if (r->failed)
		return r->err.status;
	if (!r->m || r->m->kind != SB_KIND_LIST)
		return rfail(r, SB_ERR_INTERNAL,
			     "a next page token is only for list methods");
	if (!token || !*token)
		return rfail(r, SB_ERR_INTERNAL, "empty next page token");
	if (strnlen(token, PAGE_TOKEN_MAX + 1) > PAGE_TOKEN_MAX ||
	    !sb_type_check(SB_TYPE_TEXT, token, NULL, NULL))
		return rfail(r, SB_ERR_INTERNAL,
			     "next page token must be one line of text of at "
			     "most %u bytes",
			     PAGE_TOKEN_MAX);
	char *t = strdup(token);
	if (!t)
		return rfail(r, SB_ERR_INTERNAL, "out of memory");
	free(r->page_token);
	r->page_token = t;
	return SB_OK;
}
