/* svcbroker CLI — the call command: inputs in, rows out. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CELL_CAP 40 /* columns per table cell before "…" */

/* Column names: the method's `returns` first, then any other cell names in
 * the order they first appear. */
static json_t *columns(const json_t *method, const json_t *rows)
{
	json_t *cols = json_array();
	json_t *seen = json_object();
	json_t *ret = method ? cli_jlist(method, "returns") : NULL;
	size_t i;
	json_t *v;
	json_array_foreach(ret, i, v)
	{
		const char *n = json_is_string(v) ? json_string_value(v)
						  : cli_jstr(v, "name");
		if (n && !json_object_get(seen, n)) {
			json_object_set_new(seen, n, json_true());
			json_array_append_new(cols, json_string(n));
		}
	}
	json_decref(ret);
	json_t *row;
	json_array_foreach(rows, i, row)
	{
		const char *k;
		json_t *cell;
		json_object_foreach(row, k, cell)
		{
			if (!json_object_get(seen, k)) {
				json_object_set_new(seen, k, json_true());
				json_array_append_new(cols, json_string(k));
			}
		}
	}
	/* Drop declared columns that no row carries. */
	json_t *used = json_array();
	json_array_foreach(cols, i, v)
	{
		size_t r;
		bool any = false;
		json_array_foreach(
		    rows, r,
		    row) if (json_object_get(row, json_string_value(v))) any =
		    true;
		if (any)
			json_array_append(used, v);
	}
	json_decref(cols);
	json_decref(seen);
	return used;
}

static void print_blocks(const struct cli_opts *opts, const json_t *cols,
			 const json_t *rows)
{
	size_t keyw = 0, i, r;
	json_t *c, *row;
	json_array_foreach(cols, i, c)
	{
		size_t w = cli_text_width(json_string_value(c));
		if (w > keyw)
			keyw = w;
	}
	size_t room = 0;
	if (!opts->wide && opts->width > 0) {
		size_t w = (size_t)opts->width;
		room = w > keyw + 2 + 20 ? w - keyw - 2 : 20;
	}
	json_array_foreach(rows, r, row)
	{
		if (r)
			putchar('\n');
		json_array_foreach(cols, i, c)
		{
			const char *k = json_string_value(c);
			json_t *cell = json_object_get(row, k);
			if (!cell)
				continue;
			char *s = cli_value_str(cell);
			char *fit = cli_text_fit(s, room);
			char *key = cli_text_fit(k, 0);
			size_t pad = keyw - cli_text_width(key);
			if (fit[0])
				printf("%s:%*s %s\n", key, (int)pad, "", fit);
			else
				printf("%s:\n", key);
			free(key);
			free(fit);
			free(s);
		}
	}
}

/* A table when several rows fit the width, key: value blocks otherwise. */
static void print_rows(const struct cli_opts *opts, const json_t *method,
		       const json_t *rows)
{
	if (json_array_size(rows) == 0) {
		printf("(no rows)\n");
		return;
	}
	json_t *cols = columns(method, rows);
	size_t ncols = json_array_size(cols);
	if (ncols == 0) {
		printf("(%zu empty row%s)\n", json_array_size(rows),
		       json_array_size(rows) == 1 ? "" : "s");
		json_decref(cols);
		return;
	}
	const char **heads = cli_xmalloc(ncols * sizeof(char *));
	const char **cells = cli_xmalloc(ncols * sizeof(char *));
	char **owned = cli_xmalloc(ncols * sizeof(char *));
	size_t i, r;
	json_t *c, *row;
	json_array_foreach(cols, i, c) heads[i] = json_string_value(c);
	struct cli_table *t = cli_table_new(ncols, heads);
	size_t cap = opts->wide ? 0 : CELL_CAP;
	json_array_foreach(rows, r, row)
	{
		for (i = 0; i < ncols; i++) {
			json_t *cell = json_object_get(row, heads[i]);
			char *s = cell ? cli_value_str(cell) : cli_xstrdup("");
			owned[i] = cli_text_fit(s, cap);
			cells[i] = owned[i];
			free(s);
		}
		cli_table_add(t, cells);
		for (i = 0; i < ncols; i++)
			free(owned[i]);
	}
	bool table = json_array_size(rows) > 1 &&
		     (opts->wide || opts->width <= 0 ||
		      cli_table_natural_width(t, 0) <= (size_t)opts->width);
	if (table)
		cli_table_print(t, 0, 0, 0);
	else
		print_blocks(opts, cols, rows);
	cli_table_free(t);
	free(owned);
	free(cells);
	free(heads);
	json_decref(cols);
}

static void print_json(const json_t *v)
{
	char *d = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	puts(d ? d : "null");
	free(d);
}

int cli_cmd_call(const struct cli_opts *opts, int argc, char **argv)
{
	if (argc < 1) {
		cli_err("usage: svcbroker call INSTANCE/OBJECT.METHOD "
			"[Key=Value ...] [-]");
		return CLI_EXIT_USAGE;
	}
	struct cli_address a;
	if (!cli_address_parse(argv[0], &a, true)) {
		cli_err("'%s' is not a method address INSTANCE/OBJECT.METHOD",
			argv[0]);
		cli_address_free(&a);
		return CLI_EXIT_USAGE;
	}
	bool typed_args = false;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-") != 0)
			typed_args = true;

	/* The definition types the Key=Value arguments and orders the
	 * columns; raw JSON in and out needs neither. */
	json_t *def = NULL;
	int ret = CLI_EXIT_OK;
	if (typed_args || !opts->json)
		ret = cli_fetch_object(opts, a.instance, a.object, &def);
	const json_t *method = def ? cli_find_method(def, a.method) : NULL;
	json_t *inputs = NULL;
	if (ret == CLI_EXIT_OK)
		ret = cli_inputs_build(method, argv + 1, argc - 1, &inputs);

	char *path = NULL;
	if (ret == CLI_EXIT_OK) {
		char *ei = cli_escape(a.instance), *eo = cli_escape(a.object),
		     *em = cli_escape(a.method);
		if (ei && eo && em)
			path = cli_xasprintf("/v1/call/%s/%s/%s", ei, eo, em);
		free(ei);
		free(eo);
		free(em);
		if (!path) {
			cli_err("out of memory");
			ret = CLI_EXIT_SERVER;
		}
	}

	json_t *all_rows = json_array();
	json_t *last = NULL; /* the last answer */
	for (unsigned page = 0; ret == CLI_EXIT_OK && page < CLI_MAX_PAGES;
	     page++) {
		json_t *req = json_pack("{s:O}", "inputs", inputs);
		char *body = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		if (!body) {
			cli_err("out of memory");
			ret = CLI_EXIT_SERVER;
			break;
		}
		struct cli_response r;
		ret = cli_http(opts, path, body, &r);
		free(body);
		if (ret != CLI_EXIT_OK)
			break;
		json_t *rows = json_object_get(r.json, "rows");
		if (r.status != 200) {
			ret = cli_report_error(opts, &r);
		} else if (!json_is_array(rows)) {
			char *shown = cli_shown_url(opts->url);
			cli_err("%s%s: the answer has no rows", shown, path);
			free(shown);
			ret = CLI_EXIT_SERVER;
		} else if (!opts->all) {
			if (opts->json)
				cli_print_body(&r);
			last = json_incref(r.json);
		} else {
			json_array_extend(all_rows, rows);
			json_decref(last);
			last = json_incref(r.json);
		}
		cli_response_free(&r);
		if (ret != CLI_EXIT_OK || !opts->all)
			break;
		const char *token = cli_jstr(last, "next_page_token");
		if (!json_is_true(json_object_get(last, "more")) || !token)
			break;
		if (page + 1 == CLI_MAX_PAGES) {
			cli_err("--all: stopped after %u pages", CLI_MAX_PAGES);
			ret = CLI_EXIT_SERVER;
			break;
		}
		const char *prev = cli_jstr(inputs, "PageToken");
		if (prev && strcmp(prev, token) == 0) {
			cli_err("--all: the server gave the same page token "
				"twice");
			ret = CLI_EXIT_SERVER;
			break;
		}
		json_object_set_new(inputs, "PageToken", json_string(token));
	}

	if (ret == CLI_EXIT_OK && last) {
		const json_t *rows =
		    opts->all ? all_rows : json_object_get(last, "rows");
		if (opts->json && opts->all) {
			json_t *doc =
			    json_pack("{s:O, s:b, s:n}", "rows", all_rows,
				      "more", 0, "next_page_token");
			print_json(doc);
			json_decref(doc);
		} else if (!opts->json) {
			print_rows(opts, method, rows);
			const char *token = cli_jstr(last, "next_page_token");
			if (!opts->all &&
			    json_is_true(json_object_get(last, "more")) &&
			    token) {
				char *tok = cli_text_fit(token, 0);
				printf("(more rows: add PageToken=%s, or use "
				       "--all)\n",
				       tok);
				free(tok);
			}
		}
	}
	json_decref(last);
	json_decref(all_rows);
	json_decref(inputs);
	json_decref(def);
	free(path);
	cli_address_free(&a);
	return ret;
}
