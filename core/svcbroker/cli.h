/* svcbroker — the command-line client: declarations shared by its files.
 * The client is a pure HTTP/JSON client of svcbrokerd; it does not link
 * libsvcbroker.  Internal prefix: cli_.
 */
#ifndef SVCBROKER_CLI_H
#define SVCBROKER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Exit codes (documented in svcbroker(1)). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_SERVER 1  /* the server answered an error, or nonsense */
#define CLI_EXIT_USAGE 2   /* bad command line, unreadable input file */
#define CLI_EXIT_CONNECT 3 /* the server could not be reached in time */

/* Caps on what the client reads. */
#define CLI_MAX_INPUT_FILE (64u * 1024 * 1024) /* Key=@path, stdin JSON */
#define CLI_DEFAULT_MAX_RESPONSE (256u * 1024 * 1024)
#define CLI_MAX_PAGES 100000u /* --all follows at most this many pages */

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* Global options. */
struct cli_opts {
	const char *url;	/* base URL without trailing slash */
	bool json;		/* raw JSON out */
	bool wide;		/* never truncate values */
	bool all;		/* call: follow every page */
	int64_t timeout_ms;	/* whole request */
	size_t max_response;	/* bytes */
	int width;		/* terminal columns for tables */
	const char *token;	/* bearer token (--token, $SVCBROKER_TOKEN) */
	const char *cacert;	/* PEM authorities for an https:// URL */
	const char *cert, *key; /* client certificate and its key (PEM) */
};

/* Print "svcbroker: <message>" to stderr. */
void cli_err(const char *fmt, ...) CLI_PRINTF(1, 2);

/* ==== http.c =========================================================== */
struct cli_response {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated, malloc'd (may be empty) */
	size_t len;
	json_t *json; /* parsed body, or NULL when it is not JSON */
};

/* One-time set-up / tear-down of libcurl. */
bool cli_http_init(void);
void cli_http_exit(void);

/* GET (body NULL) or POST body (JSON text) to opts->url + path.  Returns
 * CLI_EXIT_OK and fills *resp (free with cli_response_free) whatever the
 * HTTP status, or CLI_EXIT_CONNECT / CLI_EXIT_SERVER with a message already
 * printed when no complete answer arrived. */
int cli_http(const struct cli_opts *opts, const char *path, const char *body,
	     struct cli_response *resp);
void cli_response_free(struct cli_response *resp);

/* Print the server's error answer (category, code, message, retry) to
 * stderr; for --json also write the raw body to stdout.  Returns
 * CLI_EXIT_SERVER. */
int cli_report_error(const struct cli_opts *opts,
		     const struct cli_response *resp);

/* GET path and require a 200 JSON object; on success *out holds a new
 * reference.  Any failure is reported and its exit code returned. */
int cli_get_json(const struct cli_opts *opts, const char *path, json_t **out);

/* Percent-encode one path segment; malloc'd, NULL on out of memory. */
char *cli_escape(const char *s);
/* url with the password of "scheme://user:password@host" shown as "***",
 * for messages.  malloc'd. */
char *cli_shown_url(const char *url);

/* Write the raw body of a response to stdout, ending with a newline. */
void cli_print_body(const struct cli_response *resp);

/* ==== text.c: aligned tables for people ================================ */
/* Display width of a UTF-8 string as the terminal draws it. */
size_t cli_text_width(const char *s);
/* A printable copy of s: control characters shown as \n, \t, \xHH; cut to
 * at most max columns with a trailing "…" when longer (max 0: no cut).
 * malloc'd; never NULL (aborts on out of memory). */
char *cli_text_fit(const char *s, size_t max);

struct cli_table;
/* A table with ncols columns and these headings (copied). */
struct cli_table *cli_table_new(size_t ncols, const char *const *headings);
/* Append a row of ncols cells (copied; NULL is an empty cell). */
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Print with two spaces between columns, each prefixed by indent spaces.
 * Cells are cut so that each line fits width columns (width 0: no limit);
 * columns other than the last shrink only to their cap. */
void cli_table_print(struct cli_table *t, size_t indent, size_t width,
		     size_t col_cap);
/* Total width the table would need without any cut. */
size_t cli_table_natural_width(const struct cli_table *t, size_t indent);
void cli_table_free(struct cli_table *t);

/* Render a JSON value for a person: strings as they are, numbers, true /
 * false, arrays joined with ", ", a file as "name (type, N bytes)". */
char *cli_value_str(const json_t *v);

/* Memory helpers that abort on out of memory (a client has nothing better
 * to do). */
void *cli_xmalloc(size_t n);
char *cli_xstrdup(const char *s);
char *cli_xasprintf(const char *fmt, ...) CLI_PRINTF(1, 2);

/* ==== inputs.c: Key=Value arguments to a JSON inputs object ============ */
/* Build the inputs for method `method` (its definition from the catalog, or
 * NULL when unknown) from args (Key=Value, Key:=JSON, Key=@path, "-" for a
 * JSON object on stdin).  Returns CLI_EXIT_OK with *out (new reference) or
 * CLI_EXIT_USAGE with a message printed. */
int cli_inputs_build(const json_t *method, char **args, int nargs,
		     json_t **out);

/* ==== catalog.c: catalog, describe, health ============================= */
int cli_cmd_catalog(const struct cli_opts *opts, int argc, char **argv);
int cli_cmd_describe(const struct cli_opts *opts, int argc, char **argv);
int cli_cmd_health(const struct cli_opts *opts, int argc, char **argv);
/* names.c: the catalog's addresses, one a line. */
int cli_cmd_names(const struct cli_opts *opts, int argc, char **argv);

/* Helpers for reading catalog JSON whatever the spelling of a field. */
const char *cli_jstr(const json_t *o, const char *key);
const char *cli_jdoc(const json_t *o); /* "description" or "doc" */
/* The array of items in o[key]: an array as it is, or an object's values
 * with their keys copied into "name" (a new array); NULL if neither.
 * Returns a new reference. */
json_t *cli_jlist(const json_t *o, const char *key);
/* "text", "email, multi", "enum (A|B|C)" for an input or property. */
char *cli_type_str(const json_t *def);
/* The method named name in an object definition, or NULL (borrowed). */
const json_t *cli_find_method(const json_t *objdef, const char *name);

/* A method address "instance/Object.Method" (".Method" optional unless
 * want_method).  Returns false for anything else; free with
 * cli_address_free either way. */
struct cli_address {
	char *instance, *object, *method; /* method may be NULL */
};
bool cli_address_parse(const char *s, struct cli_address *a, bool want_method);
void cli_address_free(struct cli_address *a);
/* GET /v1/catalog/{instance}/{object}: the object's definition in *out. */
int cli_fetch_object(const struct cli_opts *opts, const char *instance,
		     const char *object, json_t **out);

/* ==== call.c ============================================================ */
int cli_cmd_call(const struct cli_opts *opts, int argc, char **argv);

/* ==== test.c ============================================================ */
int cli_cmd_test(const struct cli_opts *opts, int argc, char **argv);

#endif
