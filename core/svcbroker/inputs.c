/* svcbroker CLI — method inputs from the command line.
 *
 *   Key=Value     typed by the method's definition: number inputs become
 *                 JSON numbers, boolean inputs true/false (yes/no/on/off/
 *                 1/0 too), every other type a JSON string; a number or
 *                 boolean that does not parse is refused here, naming it.
 *   Key=@PATH     file inputs: the file, base64-encoded, named after PATH,
 *                 content type from its extension (PATH;type=TYPE to say
 *                 it); memo inputs: the file's text.
 *   Key:=JSON     the value as JSON, as it is (Numbers:=[1,2], Text:='"@x"').
 *   -             a JSON object on stdin: {"inputs": {...}} or {...}.
 *
 * Multi inputs: repeat the key, once per item (To=a@x To=b@y); one item is
 * a list of one.  A repeated single input is an error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/sdk.h>

#include "cli.h"
#include "json_text.h"

/* ---- files --------------------------------------------------------------- */
static bool read_stream(FILE *f, const char *what, unsigned char **out,
			size_t *out_len)
{
	size_t cap = 65536, len = 0;
	unsigned char *buf = cli_xmalloc(cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= CLI_MAX_INPUT_FILE) {
				cli_err("%s: larger than %u bytes", what,
					CLI_MAX_INPUT_FILE);
				free(buf);
				return false;
			}
			cap *= 2;
			unsigned char *p = realloc(buf, cap + 1);
			if (!p) {
				cli_err("%s: out of memory", what);
				free(buf);
				return false;
			}
			buf = p;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				cli_err("%s: %s", what, strerror(errno));
				free(buf);
				return false;
			}
			break;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return true;
}

static bool read_file(const char *path, unsigned char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		cli_err("%s: %s", path, strerror(errno));
		return false;
	}
	bool ok = read_stream(f, path, out, len);
	fclose(f);
	return ok;
}

static const struct {
	const char *ext, *type;
} content_types[] = {
    {"txt", "text/plain"},
    {"text", "text/plain"},
    {"log", "text/plain"},
    {"csv", "text/csv"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"css", "text/css"},
    {"ics", "text/calendar"},
    {"vcf", "text/vcard"},
    {"md", "text/markdown"},
    {"xml", "application/xml"},
    {"json", "application/json"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"doc", "application/msword"},
    {"docx", "application/"
	     "vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/"
	     "vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"odt", "application/vnd.oasis.opendocument.text"},
    {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    {"rtf", "application/rtf"},
    {"eml", "message/rfc822"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"webp", "image/webp"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"mp3", "audio/mpeg"},
    {"wav", "audio/wav"},
    {"mp4", "video/mp4"},
};

static const char *guess_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && dot != name)
		for (size_t i = 0;
		     i < sizeof(content_types) / sizeof(content_types[0]); i++)
			if (strcasecmp(dot + 1, content_types[i].ext) == 0)
				return content_types[i].type;
	return "application/octet-stream";
}

/* {"Name", "ContentType", "Content"} for spec "PATH" or "PATH;type=T". */
static json_t *file_value(const char *spec)
{
	char *path = cli_xstrdup(spec);
	const char *type = NULL;
	char *semi = strrchr(path, ';');
	if (semi && strncmp(semi, ";type=", 6) == 0 && semi[6]) {
		*semi = '\0';
		type = semi + 6;
	}
	unsigned char *data;
	size_t len;
	if (!path[0]) {
		cli_err("an empty file name after '@'");
		free(path);
		return NULL;
	}
	if (!read_file(path, &data, &len)) {
		free(path);
		return NULL;
	}
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char *b64 = sb_base64_encode(data, len, 0);
	if (!b64) {
		fputs("svcbroker: out of memory\n", stderr);
		exit(CLI_EXIT_SERVER);
	}
	json_t *v = json_pack("{s:s, s:s, s:s}", "Name", name, "ContentType",
			      type ? type : guess_type(name), "Content", b64);
	if (!v)
		cli_err("%s: the file name is not valid UTF-8", path);
	free(b64);
	free(data);
	free(path);
	return v;
}

/* ---- typing -------------------------------------------------------------- */
static bool parse_int(const char *s, long long *out)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static json_t *string_value(const char *key, const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	if (!v)
		cli_err("%s: the value is not valid UTF-8 text", key);
	return v;
}

/* The JSON value of one Key=Value item for an input of type `type`. */
static json_t *typed_value(const char *key, const char *type, const char *val)
{
	if (strcmp(type, "file") == 0) {
		if (val[0] != '@') {
			cli_err("%s is a file input: give it as %s=@PATH", key,
				key);
			return NULL;
		}
		return file_value(val + 1);
	}
	if (strcmp(type, "memo") == 0 && val[0] == '@') {
		unsigned char *data;
		size_t len;
		if (!read_file(val + 1, &data, &len))
			return NULL;
		json_t *v = NULL;
		if (memchr(data, '\0', len))
			cli_err("%s: %s holds a NUL byte, not text", key,
				val + 1);
		else
			v = string_value(key, (const char *)data, len);
		free(data);
		return v;
	}
	if (strcmp(type, "number") == 0) {
		long long n;
		if (parse_int(val, &n))
			return json_integer(n);
		const char *d = val + (*val == '-' || *val == '+');
		bool digits = *d && strspn(d, "0123456789") == strlen(d);
		char *shown = cli_text_fit(val, 40);
		cli_err("%s is a number input: '%s' is not a whole number%s",
			key, shown ? shown : "",
			digits ? " in the 64-bit range"
			       : " (Key:=JSON sends a JSON value as it is)");
		free(shown);
		return NULL;
	}
	if (strcmp(type, "boolean") == 0) {
		int b = parse_bool(val);
		if (b >= 0)
			return json_boolean(b);
		char *shown = cli_text_fit(val, 40);
		cli_err("%s is a boolean input: '%s' is not one of yes/no, "
			"true/false, on/off, 1/0",
			key, shown ? shown : "");
		free(shown);
		return NULL;
	}
	return string_value(key, val, strlen(val));
}

/* The input named key in the method's inputs (exactly, else ignoring
 * case), or NULL. */
static const json_t *find_input(const json_t *inputs, const char *key)
{
	size_t i;
	const json_t *in;
	json_array_foreach(inputs, i, in)
	{
		const char *n = cli_jstr(in, "name");
		if (n && strcmp(n, key) == 0)
			return in;
	}
	json_array_foreach(inputs, i, in)
	{
		const char *n = cli_jstr(in, "name");
		if (n && strcasecmp(n, key) == 0)
			return in;
	}
	return NULL;
}

static int read_stdin_inputs(json_t *out)
{
	unsigned char *data;
	size_t len;
	if (!read_stream(stdin, "stdin", &data, &len))
		return CLI_EXIT_USAGE;
	json_error_t jerr;
	json_t *doc =
	    json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	free(data);
	if (!doc) {
		cli_err("stdin: line %d: %s", jerr.line,
			sbc_json_error_text(&jerr));
		return CLI_EXIT_USAGE;
	}
	json_t *in = json_object_get(doc, "inputs");
	if (json_object_size(doc) == 1 && in && !json_is_object(in)) {
		cli_err("stdin: \"inputs\" must be a JSON object of inputs, "
			"not %s",
			json_is_array(in)    ? "an array"
			: json_is_string(in) ? "a string"
			: json_is_null(in)   ? "null"
					     : "a number or boolean");
		json_decref(doc);
		return CLI_EXIT_USAGE;
	}
	if (!(json_object_size(doc) == 1 && json_is_object(in)))
		in = doc;
	if (!json_is_object(in)) {
		cli_err("stdin: expected a JSON object of inputs");
		json_decref(doc);
		return CLI_EXIT_USAGE;
	}
	json_object_update(out, in);
	json_decref(doc);
	return CLI_EXIT_OK;
}

int cli_inputs_build(const json_t *method, char **args, int nargs, json_t **out)
{
	json_t *inputs = method ? cli_jlist(method, "inputs") : NULL;
	json_t *obj = json_object();
	json_t *given = json_object(); /* keys set from the command line */
	bool stdin_done = false;
	int ret = CLI_EXIT_OK;

	for (int a = 0; a < nargs && ret == CLI_EXIT_OK; a++) {
		const char *arg = args[a];
		if (strcmp(arg, "-") == 0) {
			if (stdin_done) {
				cli_err("'-' (inputs on stdin) given twice");
				ret = CLI_EXIT_USAGE;
				break;
			}
			stdin_done = true;
			ret = read_stdin_inputs(obj);
			continue;
		}
		const char *eq = strchr(arg, '=');
		if (!eq) {
			cli_err("expected Key=Value, Key:=JSON, Key=@PATH or "
				"'-', not '%s'",
				arg);
			ret = CLI_EXIT_USAGE;
			break;
		}
		bool raw = eq > arg && eq[-1] == ':';
		size_t klen = (size_t)(eq - arg) - (raw ? 1 : 0);
		if (klen == 0) {
			cli_err("no input name before '=' in '%s'", arg);
			ret = CLI_EXIT_USAGE;
			break;
		}
		char *key = cli_xmalloc(klen + 1);
		memcpy(key, arg, klen);
		key[klen] = '\0';
		const char *val = eq + 1;
		/* A JSON object cannot hold the name otherwise (it would be
		 * dropped without a word). */
		json_t *utf8 = json_string(key);
		json_decref(utf8);
		if (!utf8) {
			cli_err(
			    "argument %d: the input name is not valid UTF-8",
			    a + 1);
			free(key);
			ret = CLI_EXIT_USAGE;
			break;
		}

		const json_t *def = inputs ? find_input(inputs, key) : NULL;
		const char *type = def ? cli_jstr(def, "type") : NULL;
		bool multi = def && json_is_true(json_object_get(def, "multi"));
		if (def && cli_jstr(def, "name")) {
			/* Use the declared spelling of the name. */
			free(key);
			key = cli_xstrdup(cli_jstr(def, "name"));
		}
		if (!type)
			type = strcmp(key, "PageSize") == 0 ? "number" : "text";

		json_t *v;
		if (raw) {
			json_error_t jerr;
			v = json_loads(val, JSON_DECODE_ANY, &jerr);
			if (!v)
				cli_err("%s:= is not JSON: %s", key,
					sbc_json_error_text(&jerr));
		} else {
			v = typed_value(key, type, val);
		}
		if (!v) {
			free(key);
			ret = CLI_EXIT_USAGE;
			break;
		}
		if (multi) {
			json_t *arr = json_object_get(obj, key);
			if (!json_object_get(given, key) ||
			    !json_is_array(arr)) {
				arr = json_array();
				json_object_set_new(obj, key, arr);
			}
			if (raw && json_is_array(v))
				json_array_extend(arr, v);
			else
				json_array_append(arr, v);
			json_decref(v);
		} else {
			if (json_object_get(given, key)) {
				cli_err("%s given twice (only multi inputs "
					"take several values)",
					key);
				json_decref(v);
				free(key);
				ret = CLI_EXIT_USAGE;
				break;
			}
			json_object_set_new(obj, key, v);
		}
		json_object_set_new(given, key, json_true());
		free(key);
	}
	json_decref(given);
	json_decref(inputs);
	if (ret != CLI_EXIT_OK) {
		json_decref(obj);
		return ret;
	}
	*out = obj;
	return CLI_EXIT_OK;
}
