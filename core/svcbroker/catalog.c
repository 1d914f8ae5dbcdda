/* svcbroker CLI — the catalog, describe and health commands. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- reading catalog JSON ------------------------------------------------ */
const char *cli_jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

const char *cli_jdoc(const json_t *o)
{
	const char *d = cli_jstr(o, "description");
	return d ? d : cli_jstr(o, "doc");
}

/* The first of several spellings that holds a string. */
static const char *jstr_any(const json_t *o, const char *const *keys)
{
	for (; *keys; keys++) {
		const char *s = cli_jstr(o, *keys);
		if (s)
			return s;
	}
	return NULL;
}

json_t *cli_jlist(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_array(v))
		return json_incref(v);
	if (!json_is_object(v))
		return NULL;
	json_t *arr = json_array();
	const char *k;
	json_t *item;
	json_object_foreach(v, k, item)
	{
		json_t *copy =
		    json_is_object(item) ? json_copy(item) : json_object();
		if (!json_object_get(copy, "name"))
			json_object_set_new(copy, "name", json_string(k));
		if (!json_is_object(item))
			json_object_set(copy, "value", item);
		json_array_append_new(arr, copy);
	}
	return arr;
}

/* An item's name: a string item is its own name. */
static const char *item_name(const json_t *item)
{
	if (json_is_string(item))
		return json_string_value(item);
	return cli_jstr(item, "name");
}

char *cli_type_str(const json_t *def)
{
	const char *type = cli_jstr(def, "type");
	json_t *choices = json_object_get(def, "choices");
	bool multi = json_is_true(json_object_get(def, "multi"));
	char *ch = NULL;
	if (json_is_array(choices) && json_array_size(choices) > 0) {
		size_t i, len = 0;
		json_t *c;
		json_array_foreach(choices, i, c) len +=
		    strlen(json_string_value(c) ? json_string_value(c) : "") +
		    1;
		ch = cli_xmalloc(len + 1);
		size_t o = 0;
		json_array_foreach(choices, i, c)
		{
			const char *s =
			    json_string_value(c) ? json_string_value(c) : "";
			if (i)
				ch[o++] = '|';
			memcpy(ch + o, s, strlen(s));
			o += strlen(s);
		}
		ch[o] = '\0';
	}
	char *r =
	    cli_xasprintf("%s%s%s%s%s", type ? type : "?", ch ? " (" : "",
			  ch ? ch : "", ch ? ")" : "", multi ? ", multi" : "");
	free(ch);
	return r;
}

const json_t *cli_find_method(const json_t *objdef, const char *name)
{
	json_t *v = json_object_get(objdef, "methods");
	if (json_is_object(v)) {
		const json_t *m = json_object_get(v, name);
		return json_is_object(m) ? m : NULL;
	}
	size_t i;
	const json_t *m;
	json_array_foreach(v, i,
			   m) if (item_name(m) &&
				  strcmp(item_name(m), name) == 0) return m;
	return NULL;
}

/* A comma-separated list of the names of o[key]'s items. */
static char *names_of(const json_t *o, const char *key)
{
	json_t *list = cli_jlist(o, key);
	size_t i, len = 0;
	json_t *item;
	json_array_foreach(list, i, item)
	{
		const char *n = item_name(item);
		len += (n ? strlen(n) : 0) + 2;
	}
	char *out = cli_xmalloc(len + 1);
	size_t o2 = 0;
	json_array_foreach(list, i, item)
	{
		const char *n = item_name(item);
		if (!n)
			continue;
		if (o2) {
			memcpy(out + o2, ", ", 2);
			o2 += 2;
		}
		memcpy(out + o2, n, strlen(n));
		o2 += strlen(n);
	}
	out[o2] = '\0';
	json_decref(list);
	return out;
}

static size_t width_of(const struct cli_opts *opts)
{
	return opts->wide ? 0 : (size_t)opts->width;
}

/* ---- catalog ------------------------------------------------------------- */
static const char *const state_keys[] = {"state", "status", NULL};
static const char *const error_keys[] = {"error", "open_error", "message",
					 NULL};

static const char *instance_state(const json_t *inst)
{
	const char *s = jstr_any(inst, state_keys);
	if (s)
		return s;
	json_t *ok = json_object_get(inst, "ok");
	if (json_is_boolean(ok))
		return json_is_true(ok) ? "ready" : "failed";
	return jstr_any(inst, error_keys) ? "failed" : "ready";
}

int cli_cmd_catalog(const struct cli_opts *opts, int argc, char **argv)
{
	if (argc > 0) {
		cli_err("catalog takes no arguments (see 'describe')");
		return CLI_EXIT_USAGE;
	}
	json_t *cat;
	int ret = cli_get_json(opts, "/v1/catalog", &cat);
	if (ret != CLI_EXIT_OK)
		return ret;
	if (opts->json) {
		char *d = json_dumps(cat, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		puts(d ? d : "{}");
		free(d);
		json_decref(cat);
		return CLI_EXIT_OK;
	}
	json_t *insts = cli_jlist(cat, "instances");
	static const char *const heads[] = {"INSTANCE", "BROKER", "STATE",
					    "OBJECTS"};
	struct cli_table *t = cli_table_new(4, heads);
	size_t i;
	json_t *inst;
	json_array_foreach(insts, i, inst)
	{
		char *objs = names_of(inst, "objects");
		const char *err = jstr_any(inst, error_keys);
		char *last = err && !objs[0] ? cli_xstrdup(err) : objs;
		if (last != objs)
			free(objs);
		const char *cells[] = {cli_jstr(inst, "name"),
				       cli_jstr(inst, "broker"),
				       instance_state(inst), last};
		cli_table_add(t, cells);
		free(last);
	}
	if (json_array_size(insts) == 0)
		printf("(no instances configured)\n");
	else
		cli_table_print(t, 0, width_of(opts), 24);
	cli_table_free(t);
	json_decref(insts);
	json_decref(cat);
	return CLI_EXIT_OK;
}

/* ---- describe
 * ---------------------------------------------------------------- */
bool cli_address_parse(const char *s, struct cli_address *a, bool want_method)
{
	memset(a, 0, sizeof(*a));
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || !slash[1])
		return false;
	a->instance = strndup(s, (size_t)(slash - s));
	const char *rest = slash + 1;
	const char *dot = strchr(rest, '.');
	if (dot) {
		a->object = strndup(rest, (size_t)(dot - rest));
		a->method = cli_xstrdup(dot + 1);
	} else {
		a->object = cli_xstrdup(rest);
	}
	if (!a->instance || !a->object || !a->object[0] ||
	    strchr(a->object, '/') || (a->method && !a->method[0]) ||
	    (a->method && strchr(a->method, '/')) ||
	    (want_method && !a->method))
		return false;
	return true;
}

void cli_address_free(struct cli_address *a)
{
	free(a->instance);
	free(a->object);
	free(a->method);
}

int cli_fetch_object(const struct cli_opts *opts, const char *instance,
		     const char *object, json_t **out)
{
	char *ei = cli_escape(instance), *eo = cli_escape(object);
	if (!ei || !eo) {
		free(ei);
		free(eo);
		cli_err("out of memory");
		return CLI_EXIT_SERVER;
	}
	char *path = cli_xasprintf("/v1/catalog/%s/%s", ei, eo);
	json_t *doc = NULL;
	int ret = cli_get_json(opts, path, &doc);
	free(path);
	free(ei);
	free(eo);
	if (ret != CLI_EXIT_OK)
		return ret;
	/* Accept the definition itself or one wrapped in "object". */
	json_t *inner = json_object_get(doc, "object");
	if (json_is_object(inner)) {
		json_incref(inner);
		json_decref(doc);
		doc = inner;
	}
	*out = doc;
	return CLI_EXIT_OK;
}

/* A paragraph, word-wrapped to width (0: one line). */
static void print_doc(const char *doc, size_t indent, size_t width)
{
	if (!doc || !doc[0])
		return;
	char *d = cli_text_fit(doc, 0); /* printable: no control chars */
	size_t room = width > indent + 20 ? width - indent : 0;
	char *p = d;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		/* Take words while they fit; at least one word per line. */
		char *end = p, *brk = NULL;
		size_t w = 0;
		for (;;) {
			char *sp = strchr(end, ' ');
			char *wend = sp ? sp : end + strlen(end);
			char save = *wend;
			*wend = '\0';
			size_t ww = cli_text_width(end);
			*wend = save;
			if (brk && room && w + 1 + ww > room)
				break;
			w += (brk ? 1 : 0) + ww;
			brk = wend;
			if (!sp)
				break;
			end = sp + 1;
		}
		char save = *brk;
		*brk = '\0';
		printf("%*s%s\n", (int)indent, "", p);
		*brk = save;
		p = brk;
	}
	free(d);
}

static void print_method(const struct cli_opts *opts, const char *object,
			 const json_t *m)
{
	size_t width = width_of(opts);
	const char *kind = cli_jstr(m, "kind");
	/* names come from the server: printable only */
	char *o = cli_text_fit(object, 0);
	char *n = cli_text_fit(item_name(m) ? item_name(m) : "?", 0);
	char *k = kind ? cli_text_fit(kind, 0) : NULL;
	printf("  %s.%s%s%s%s\n", o, n, k ? " (" : "", k ? k : "",
	       k ? ")" : "");
	free(o);
	free(n);
	free(k);
	print_doc(cli_jdoc(m), 4, width);
	json_t *inputs = cli_jlist(m, "inputs");
	if (json_array_size(inputs) > 0) {
		static const char *const heads[] = {"INPUT", "TYPE", "REQUIRED",
						    "DESCRIPTION"};
		struct cli_table *t = cli_table_new(4, heads);
		size_t i;
		json_t *in;
		json_array_foreach(inputs, i, in)
		{
			char *type = cli_type_str(in);
			const char *cells[] = {
			    item_name(in), type,
			    json_is_true(json_object_get(in, "required"))
				? "yes"
				: "",
			    cli_jdoc(in)};
			cli_table_add(t, cells);
			free(type);
		}
		cli_table_print(t, 4, width, 40);
		cli_table_free(t);
	} else {
		printf("    (no inputs)\n");
	}
	json_decref(inputs);
	char *ret = names_of(m, "returns");
	if (ret[0]) {
		char *line = cli_xasprintf("returns: %s", ret);
		print_doc(line, 4, width);
		free(line);
	}
	free(ret);
}

static void print_object(const struct cli_opts *opts, const char *instance,
			 const json_t *def)
{
	size_t width = width_of(opts);
	const char *name = cli_jstr(def, "name");
	if (!name)
		name = cli_jstr(def, "object");
	char *fi = cli_text_fit(instance, 0);
	char *fn = cli_text_fit(name ? name : "?", 0);
	printf("%s/%s\n", fi, fn);
	free(fi);
	free(fn);
	print_doc(cli_jdoc(def), 2, width);

	json_t *props = cli_jlist(def, "properties");
	printf("\nPROPERTIES\n");
	if (json_array_size(props) > 0) {
		static const char *const heads[] = {"NAME", "TYPE",
						    "DESCRIPTION"};
		struct cli_table *t = cli_table_new(3, heads);
		size_t i;
		json_t *p;
		json_array_foreach(props, i, p)
		{
			char *type = cli_type_str(p);
			const char *cells[] = {item_name(p), type, cli_jdoc(p)};
			cli_table_add(t, cells);
			free(type);
		}
		cli_table_print(t, 2, width, 40);
		cli_table_free(t);
	} else {
		printf("  (none)\n");
	}
	json_decref(props);

	json_t *methods = cli_jlist(def, "methods");
	printf("\nMETHODS\n");
	size_t i;
	json_t *m;
	json_array_foreach(methods, i, m)
	{
		if (i)
			putchar('\n');
		print_method(opts, name ? name : "?", m);
	}
	if (json_array_size(methods) == 0)
		printf("  (none)\n");
	json_decref(methods);
}

static void print_json(const json_t *v)
{
	char *d = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(d ? d : "null");
	free(d);
}

/* describe INSTANCE: the instance's objects from the catalog summary. */
static int describe_instance(const struct cli_opts *opts, const char *name)
{
	json_t *cat;
	int ret = cli_get_json(opts, "/v1/catalog", &cat);
	if (ret != CLI_EXIT_OK)
		return ret;
	json_t *insts = cli_jlist(cat, "instances");
	const json_t *found = NULL;
	size_t i;
	json_t *inst;
	json_array_foreach(insts, i, inst)
	{
		const char *n = cli_jstr(inst, "name");
		if (n && strcmp(n, name) == 0)
			found = inst;
	}
	if (!found) {
		cli_err("no instance '%s' in the catalog (see 'svcbroker "
			"catalog')",
			name);
		ret = CLI_EXIT_SERVER;
	} else if (opts->json) {
		print_json(found);
	} else {
		const char *broker = cli_jstr(found, "broker");
		const char *err = jstr_any(found, error_keys);
		char *fn = cli_text_fit(name, 0);
		char *fb = cli_text_fit(broker ? broker : "", 0);
		char *fs = cli_text_fit(instance_state(found), 0);
		printf("%s%s%s (%s)\n", fn, broker ? " — broker " : "", fb, fs);
		free(fn);
		free(fb);
		free(fs);
		if (err)
			print_doc(err, 2, width_of(opts));
		json_t *objs = cli_jlist(found, "objects");
		static const char *const heads[] = {"OBJECT", "DESCRIPTION"};
		struct cli_table *t = cli_table_new(2, heads);
		json_t *o;
		json_array_foreach(objs, i, o)
		{
			const char *cells[] = {item_name(o), json_is_object(o)
								 ? cli_jdoc(o)
								 : NULL};
			cli_table_add(t, cells);
		}
		putchar('\n');
		if (json_array_size(objs) > 0)
			cli_table_print(t, 2, width_of(opts), 30);
		else
			printf("  (no objects)\n");
		cli_table_free(t);
		json_decref(objs);
	}
	json_decref(insts);
	json_decref(cat);
	return ret;
}

int cli_cmd_describe(const struct cli_opts *opts, int argc, char **argv)
{
	if (argc != 1) {
		cli_err("usage: svcbroker describe INSTANCE[/OBJECT[.METHOD]]");
		return CLI_EXIT_USAGE;
	}
	if (!strchr(argv[0], '/')) {
		if (!argv[0][0]) {
			cli_err("an empty instance name");
			return CLI_EXIT_USAGE;
		}
		return describe_instance(opts, argv[0]);
	}
	struct cli_address a;
	if (!cli_address_parse(argv[0], &a, false)) {
		cli_err("'%s' is not INSTANCE/OBJECT or INSTANCE/OBJECT.METHOD",
			argv[0]);
		cli_address_free(&a);
		return CLI_EXIT_USAGE;
	}
	json_t *def = NULL;
	int ret = cli_fetch_object(opts, a.instance, a.object, &def);
	if (ret == CLI_EXIT_OK) {
		if (a.method) {
			const json_t *m = cli_find_method(def, a.method);
			if (!m) {
				char *all = names_of(def, "methods");
				cli_err("%s/%s has no method '%s' (it has: %s)",
					a.instance, a.object, a.method, all);
				free(all);
				ret = CLI_EXIT_SERVER;
			} else if (opts->json) {
				print_json(m);
			} else {
				print_method(opts, a.object, m);
			}
		} else if (opts->json) {
			print_json(def);
		} else {
			print_object(opts, a.instance, def);
		}
	}
	json_decref(def);
	cli_address_free(&a);
	return ret;
}

/* ---- health
 * ------------------------------------------------------------------ */
int cli_cmd_health(const struct cli_opts *opts, int argc, char **argv)
{
	if (argc > 0) {
		cli_err("health takes no arguments");
		return CLI_EXIT_USAGE;
	}
	struct cli_response r;
	int ret = cli_http(opts, "/v1/health", NULL, &r);
	if (ret != CLI_EXIT_OK)
		return ret;
	const json_t *err = json_object_get(r.json, "error");
	if (!json_is_object(r.json) || json_is_object(err)) {
		ret = cli_report_error(opts, &r);
		cli_response_free(&r);
		return ret;
	}
	/* degraded (an instance failed to open) or stopping: not healthy,
	 * whatever the HTTP status */
	const char *st = cli_jstr(r.json, "status");
	ret = r.status == 200 && st && strcmp(st, "ok") == 0 ? CLI_EXIT_OK
							     : CLI_EXIT_SERVER;
	if (opts->json) {
		cli_print_body(&r);
		cli_response_free(&r);
		return ret;
	}
	char *fst = cli_text_fit(st ? st : (ret ? "failing" : "ok"), 0);
	printf("%s (HTTP %ld)\n", fst, r.status);
	free(fst);
	/* Every other scalar the daemon reports: generation, uptime, calls
	 * queued and running... */
	const char *key;
	json_t *v;
	json_object_foreach(r.json, key, v)
	{
		if (strcmp(key, "status") == 0 || json_is_object(v) ||
		    json_is_array(v))
			continue;
		char *val = cli_value_str(v);
		char *shown = cli_text_fit(val, 0);
		char *k = cli_text_fit(key, 0);
		printf("%s: %s\n", k, shown);
		free(k);
		free(shown);
		free(val);
	}
	json_t *insts = cli_jlist(r.json, "instances");
	if (json_array_size(insts) > 0) {
		static const char *const heads[] = {"INSTANCE", "BROKER",
						    "STATE", "DETAIL"};
		struct cli_table *t = cli_table_new(4, heads);
		size_t i;
		json_t *inst;
		json_array_foreach(insts, i, inst)
		{
			const char *cells[] = {
			    cli_jstr(inst, "name"), cli_jstr(inst, "broker"),
			    instance_state(inst), jstr_any(inst, error_keys)};
			cli_table_add(t, cells);
		}
		putchar('\n');
		cli_table_print(t, 0, width_of(opts), 24);
		cli_table_free(t);
	}
	json_decref(insts);
	cli_response_free(&r);
	return ret;
}
