/* The OpenAPI 3.0.3 document of the running catalog: one path per method,
 * request and answer schemas from the property types, plus the fixed
 * catalog, health and metrics paths.  Uses the JSON library like json.c. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json.h"
#include "json_text.h"

static json_t *ref(const char *where)
{
	return json_pack("{s:s}", "$ref", where);
}

static json_t *file_schema(void)
{
	return json_pack(
	    "{s:s, s:[s], s:b, s:{s:{s:s, s:s}, s:{s:s, s:s}, "
	    "s:{s:s, s:s, s:s}}}",
	    "type", "object", "required", "Content", "additionalProperties", 0,
	    "properties", "Name", "type", "string", "description",
	    "File name, without a path.", "ContentType", "type", "string",
	    "description", "Media type, e.g. application/pdf.", "Content",
	    "type", "string", "format", "byte", "description",
	    "The bytes, base64.");
}

/* The schema of one item of type t. */
static json_t *type_schema(enum sb_type t, const char *const *choices)
{
	json_t *s = json_object();
	switch (t) {
	case SB_TYPE_TEXT:
	case SB_TYPE_MEMO:
		sbc_json_set(s, "type", json_string("string"));
		break;
	case SB_TYPE_NUMBER:
		sbc_json_set(s, "type", json_string("integer"));
		sbc_json_set(s, "format", json_string("int64"));
		break;
	case SB_TYPE_DECIMAL:
		sbc_json_set(s, "type", json_string("string"));
		sbc_json_set(s, "pattern",
			     json_string("^-?[0-9]+(\\.[0-9]+)?$"));
		break;
	case SB_TYPE_BOOLEAN:
		sbc_json_set(s, "type", json_string("boolean"));
		break;
	case SB_TYPE_DATETIME:
		sbc_json_set(s, "type", json_string("string"));
		sbc_json_set(s, "format", json_string("date-time"));
		break;
	case SB_TYPE_DATE:
		sbc_json_set(s, "type", json_string("string"));
		sbc_json_set(s, "format", json_string("date"));
		break;
	case SB_TYPE_TIME:
		sbc_json_set(s, "type", json_string("string"));
		sbc_json_set(
		    s, "pattern",
		    json_string("^[0-2][0-9]:[0-5][0-9](:[0-5][0-9])?$"));
		break;
	case SB_TYPE_DURATION:
		sbc_json_set(s, "type", json_string("string"));
		sbc_json_set(s, "format", json_string("duration"));
		sbc_json_set(s, "pattern", json_string("^P"));
		break;
	case SB_TYPE_GUID:
		sbc_json_set(s, "type", json_string("string"));
		sbc_json_set(s, "format", json_string("uuid"));
		break;
	case SB_TYPE_EMAIL:
		sbc_json_set(s, "type", json_string("string"));
		sbc_json_set(s, "format", json_string("email"));
		break;
	case SB_TYPE_ENUM: {
		sbc_json_set(s, "type", json_string("string"));
		json_t *e = json_array();
		for (size_t i = 0; choices && choices[i]; i++)
			sbc_json_push(e, json_string(choices[i]));
		sbc_json_set(s, "enum", e);
		break;
	}
	case SB_TYPE_FILE:
		json_decref(s);
		return file_schema();
	default:
		sbc_json_set(s, "type", json_string("string"));
		break;
	}
	return s;
}

static json_t *value_schema(enum sb_type t, bool multi,
			    const char *const *choices, const char *doc,
			    size_t max_items)
{
	json_t *s = type_schema(t, choices);
	if (multi) {
		json_t *a = json_object();
		sbc_json_set(a, "type", json_string("array"));
		sbc_json_set(a, "items", s);
		if (max_items)
			sbc_json_set(a, "maxItems",
				     json_integer((json_int_t)max_items));
		s = a;
	}
	if (doc)
		sbc_json_set(s, "description", json_string(doc));
	return s;
}

/* The schema of one result row: the properties the method returns (all
 * of them when it declares none). */
static json_t *row_schema(const struct sb_object *obj,
			  const struct sb_method *m)
{
	json_t *props = json_object();
	for (const struct sb_property *p = obj->properties; p && p->name; p++) {
		bool wanted = m->returns == NULL;
		for (size_t i = 0; m->returns && m->returns[i]; i++)
			if (strcmp(m->returns[i], p->name) == 0)
				wanted = true;
		if (wanted)
			sbc_json_set(props, p->name,
				     value_schema(p->type,
						  (p->flags & SB_MULTI) != 0,
						  p->choices, p->doc, 0));
	}
	json_t *row = json_object();
	sbc_json_set(row, "type", json_string("object"));
	sbc_json_set(row, "properties", props);
	return row;
}

static bool has_input(const struct sb_method *m, const char *name)
{
	for (const struct sb_param *p = m->inputs; p && p->name; p++)
		if (strcmp(p->name, name) == 0)
			return true;
	return false;
}

static bool has_required(const struct sb_method *m)
{
	for (const struct sb_param *p = m->inputs; p && p->name; p++)
		if (p->flags & SB_REQUIRED)
			return true;
	return false;
}

static void add_param(json_t *props, json_t *required, const struct sb_param *p)
{
	bool multi = (p->flags & SB_MULTI) != 0;
	size_t max_items = 0;
	if (multi)
		max_items = p->max_size ? p->max_size : SB_DEFAULT_MULTI_MAX;
	json_t *s = value_schema(p->type, multi, p->choices, p->doc, max_items);
	json_t *item = multi ? json_object_get(s, "items") : s;
	if (p->type == SB_TYPE_NUMBER && (p->min != 0 || p->max != 0)) {
		sbc_json_set(item, "minimum", json_integer(p->min));
		sbc_json_set(item, "maximum", json_integer(p->max));
	}
	/* max_size: bytes of one text (decoded bytes of one file); the
	 * default cap of its type otherwise, as the host enforces it. */
	size_t max = 0;
	if (p->type == SB_TYPE_FILE)
		max = SB_DEFAULT_FILE_MAX;
	else if (p->type == SB_TYPE_MEMO)
		max = SB_DEFAULT_MEMO_MAX;
	else if (p->type != SB_TYPE_NUMBER && p->type != SB_TYPE_BOOLEAN)
		max = SB_DEFAULT_TEXT_MAX;
	if (p->max_size && !multi)
		max = p->max_size;
	if (max && p->type == SB_TYPE_FILE) {
		/* the Content is base64: 4 characters per 3 bytes */
		json_t *fp = json_object_get(item, "properties");
		json_t *content = fp ? json_object_get(fp, "Content") : NULL;
		if (content)
			sbc_json_set(
			    content, "maxLength",
			    json_integer((json_int_t)((max + 2) / 3 * 4)));
	} else if (max && p->type != SB_TYPE_ENUM) {
		sbc_json_set(item, "maxLength", json_integer((json_int_t)max));
	}
	if (multi && (p->flags & SB_REQUIRED))
		sbc_json_set(s, "minItems", json_integer(1));
	if (!(p->flags & SB_REQUIRED)) {
		/* an optional input may be null: "not given" (docs/api.md) */
		if (json_object_get(s, "$ref")) {
			json_t *w = json_object();
			sbc_json_set(w, "allOf", json_pack("[o]", s));
			s = w;
		}
		sbc_json_set(s, "nullable", json_true());
	}
	sbc_json_set(props, p->name, s);
	if (p->flags & SB_REQUIRED)
		sbc_json_push(required, json_string(p->name));
}

static json_t *request_schema(const struct sb_object *obj,
			      const struct sb_method *m)
{
	json_t *props = json_object();
	json_t *required = json_array();
	for (const struct sb_param *p = m->inputs; p && p->name; p++)
		add_param(props, required, p);
	if (m->kind == SB_KIND_LIST) {
		struct sb_call *c = sb_call_new(obj, m);
		static const char *const host[] = {"PageSize", "PageToken"};
		for (size_t i = 0; c && i < 2; i++) {
			const struct sb_param *p = sb_call_param(c, host[i]);
			if (p && !has_input(m, host[i]))
				add_param(props, required, p);
		}
		sb_call_free(c);
	}
	json_t *inputs = json_object();
	sbc_json_set(inputs, "type", json_string("object"));
	sbc_json_set(inputs, "additionalProperties", json_false());
	sbc_json_set(inputs, "properties", props);
	if (json_array_size(required) > 0)
		sbc_json_set(inputs, "required", required);
	else
		json_decref(required);

	json_t *body = json_object();
	sbc_json_set(body, "type", json_string("object"));
	sbc_json_set(body, "additionalProperties", json_false());
	json_t *bp = json_object();
	sbc_json_set(bp, "inputs", inputs);
	sbc_json_set(body, "properties", bp);
	if (m->inputs && has_required(m))
		sbc_json_set(body, "required", json_pack("[s]", "inputs"));
	return body;
}

static json_t *answer_schema(const struct sb_object *obj,
			     const struct sb_method *m)
{
	return json_pack(
	    "{s:s, s:[s,s,s], s:{s:{s:s, s:o}, s:{s:s}, s:{s:s, s:b}}}", "type",
	    "object", "required", "rows", "more", "next_page_token",
	    "properties", "rows", "type", "array", "items", row_schema(obj, m),
	    "more", "type", "boolean", "next_page_token", "type", "string",
	    "nullable", 1);
}

static json_t *json_content(json_t *schema)
{
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static json_t *ok_response(const char *desc, json_t *schema)
{
	return json_pack("{s:s, s:o}", "description", desc, "content",
			 json_content(schema));
}

static void error_refs(json_t *responses, const char *const *codes)
{
	for (size_t i = 0; codes[i]; i++)
		sbc_json_set(responses, codes[i],
			     ref("#/components/responses/Error"));
}

/* A safe operationId: letters, digits and '_' only, unique in ids. */
static json_t *operation_id(json_t *ids, const char *inst, const char *obj,
			    const char *meth)
{
	char base[400];
	snprintf(base, sizeof(base), "call_%s_%s_%s", inst, obj, meth);
	for (char *p = base; *p; p++)
		if (!isalnum((unsigned char)*p))
			*p = '_';
	char id[420];
	snprintf(id, sizeof(id), "%s", base);
	for (int n = 2; json_object_get(ids, id) && n < 10000; n++)
		snprintf(id, sizeof(id), "%s_%d", base, n);
	sbc_json_set(ids, id, json_true());
	return json_string(id);
}

/* POST /v1/test/{instance} and its answer (core/probe.c). */
static json_t *test_result_schema(void)
{
	return json_pack(
	    "{s:s, s:[s,s,s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, "
	    "s:{s:s}, s:{s:s, s:s, s:i}, s:{s:s, s:[s,s,s], "
	    "s:{s:{s:s}, s:{s:s}, s:{s:s}}}}}",
	    "type", "object", "required", "instance", "broker", "ok", "message",
	    "elapsed_ms", "details", "properties", "instance", "type", "string",
	    "broker", "type", "string", "ok", "type", "boolean", "message",
	    "type", "string", "elapsed_ms", "type", "integer", "format",
	    "int64", "minimum", 0, "details", "type", "object", "required",
	    "category", "code", "tested", "properties", "category", "type",
	    "string", "code", "type", "string", "tested", "type", "boolean");
}

static void test_path(json_t *paths)
{
	static const char *const test_errors[] = {"404", "405", "500", "503",
						  NULL};
	json_t *r = json_object();
	sbc_json_set(
	    r, "200",
	    ok_response("The test ran: ok says whether the settings work "
			"(false also when it did not finish within the "
			"instance's timeout).",
			ref("#/components/schemas/TestResult")));
	error_refs(r, test_errors);
	json_t *params =
	    json_pack("[{s:s, s:s, s:b, s:{s:s}}]", "name", "instance", "in",
		      "path", "required", 1, "schema", "type", "string");
	sbc_json_set(
	    paths, "/v1/test/{instance}",
	    json_pack("{s:{s:s, s:s, s:s, s:o, s:o}}", "post", "operationId",
		      "testInstance", "summary",
		      "Test an instance's settings (its broker's check).",
		      "description",
		      "Runs the broker's test on a worker, bounded by the "
		      "instance's timeout. 404: no such instance; 503: the "
		      "instance failed to open (its error in the message) or "
		      "no worker can take the test.",
		      "parameters", params, "responses", r));
}

/* The head every instance has in the catalog and in health. */
static json_t *instance_props(void)
{
	return json_pack("{s:{s:s}, s:{s:s}, s:{s:s, s:b}, s:{s:s, s:b}, "
			 "s:{s:s, s:[s,s]}, s:{s:s}}",
			 "name", "type", "string", "broker", "type", "string",
			 "version", "type", "string", "nullable", 1, "summary",
			 "type", "string", "nullable", 1, "state", "type",
			 "string", "enum", "ready", "failed", "error", "type",
			 "string");
}

/* GET /v1/catalog's answer (json.c, sbc_json_catalog_view). */
static json_t *catalog_schema(void)
{
	json_t *inst = instance_props();
	sbc_json_set(inst, "max_concurrency",
		     json_pack("{s:s}", "type", "integer"));
	sbc_json_set(
	    inst, "timeout_ms",
	    json_pack("{s:s, s:s}", "type", "integer", "format", "int64"));
	sbc_json_set(
	    inst, "objects",
	    json_pack("{s:s, s:{s:s, s:[s,s], s:{s:{s:s}, s:{s:s, s:b}, "
		      "s:{s:s, s:{s:s}}}}}",
		      "type", "array", "items", "type", "object", "required",
		      "name", "methods", "properties", "name", "type", "string",
		      "doc", "type", "string", "nullable", 1, "methods", "type",
		      "array", "items", "type", "string"));
	return json_pack(
	    "{s:s, s:[s,s], s:{s:{s:s, s:s}, s:{s:s, s:{s:s, s:[s,s,s], "
	    "s:o}}}}",
	    "type", "object", "required", "generation", "instances",
	    "properties", "generation", "type", "integer", "format", "int64",
	    "instances", "type", "array", "items", "type", "object", "required",
	    "name", "broker", "state", "properties", inst);
}

/* GET /v1/health's answer (json.c, sbc_json_health). */
static json_t *health_schema(void)
{
	json_t *inst = instance_props();
	static const char *const counts[] = {
	    "running", "calls_total", "calls_failed", "calls_rejected", NULL};
	for (size_t i = 0; counts[i]; i++)
		sbc_json_set(inst, counts[i],
			     json_pack("{s:s, s:s, s:i}", "type", "integer",
				       "format", "int64", "minimum", 0));
	/* instances: left out for an anonymous caller when clients are
	 * configured (json.c) */
	return json_pack(
	    "{s:s, s:[s], s:{s:{s:s, s:[s,s,s]}, s:{s:s, s:s}, "
	    "s:{s:s, s:s}, s:{s:s, s:i}, s:{s:s, s:i}, "
	    "s:{s:s, s:s, s:{s:s, s:[s,s], s:o}}}}",
	    "type", "object", "required", "status", "properties", "status",
	    "type", "string", "enum", "ok", "degraded", "stopping",
	    "generation", "type", "integer", "format", "int64", "uptime_s",
	    "type", "integer", "format", "int64", "calls_queued", "type",
	    "integer", "minimum", 0, "calls_running", "type", "integer",
	    "minimum", 0, "instances", "type", "array", "description",
	    "The instances; with clients configured, left out for an "
	    "anonymous caller.",
	    "items", "type", "object", "required", "name", "state",
	    "properties", inst);
}

static json_t *components(void)
{
	json_t *err = json_pack(
	    "{s:s, s:[s], s:{s:{s:s, s:[s,s,s], s:{s:{s:s, s:[s,s,s,s,"
	    "s,s,s,s,s,s,s,s,s,s,s,s]}, s:{s:s}, s:{s:s}, "
	    "s:{s:s, s:s, s:i}}}}}",
	    "type", "object", "required", "error", "properties", "error",
	    "type", "object", "required", "category", "code", "message",
	    "properties", "category", "type", "string", "enum", "invalid_input",
	    "unauthenticated", "forbidden", "upstream_denied", "not_found",
	    "method_not_allowed", "conflict", "payload_too_large",
	    "unsupported_media_type", "throttled", "internal", "upstream_auth",
	    "upstream_error", "unavailable", "timeout", "quota_exceeded",
	    "code", "type", "string", "message", "type", "string",
	    "retry_after_ms", "type", "integer", "format", "int64", "minimum",
	    0);
	json_t *resp = json_pack(
	    "{s:{s:s, s:{s:{s:s, s:{s:s, s:i}}}, s:o}}", "Error", "description",
	    "An error; the category gives the HTTP status, Retry-After "
	    "comes with 429 and 503.",
	    "headers", "Retry-After", "description",
	    "Seconds to wait before retrying (429, 503).", "schema", "type",
	    "integer", "minimum", 1, "content",
	    json_content(ref("#/components/schemas/Error")));
	json_t *c = json_object();
	json_t *schemas = json_object();
	sbc_json_set(schemas, "Error", err);
	sbc_json_set(schemas, "File", file_schema());
	sbc_json_set(schemas, "TestResult", test_result_schema());
	sbc_json_set(schemas, "Catalog", catalog_schema());
	sbc_json_set(schemas, "Health", health_schema());
	sbc_json_set(c, "schemas", schemas);
	sbc_json_set(c, "responses", resp);
	return c;
}

static json_t *fixed_paths(void)
{
	static const char *const get_errors[] = {"404", "405", "500", NULL};
	json_t *paths = json_object();
	json_t *any = json_pack("{s:s}", "type", "object");

	json_t *r = json_object();
	sbc_json_set(r, "200",
		     ok_response("Every instance and its objects (those the "
				 "client may call, with clients configured).",
				 ref("#/components/schemas/Catalog")));
	sbc_json_set(r, "304",
		     json_pack("{s:s}", "description",
			       "Not modified (If-None-Match named its ETag)."));
	error_refs(r, get_errors);
	sbc_json_set(paths, "/v1/catalog",
		     json_pack("{s:{s:s, s:s, s:o}}", "get", "operationId",
			       "getCatalog", "summary",
			       "Instances and their objects (summary).",
			       "responses", r));

	r = json_object();
	sbc_json_set(r, "200",
		     ok_response("The object's properties and methods.",
				 json_deep_copy(any)));
	error_refs(r, get_errors);
	json_t *params =
	    json_pack("[{s:s, s:s, s:b, s:{s:s}}, {s:s, s:s, s:b, s:{s:s}}]",
		      "name", "instance", "in", "path", "required", 1, "schema",
		      "type", "string", "name", "object", "in", "path",
		      "required", 1, "schema", "type", "string");
	sbc_json_set(paths, "/v1/catalog/{instance}/{object}",
		     json_pack("{s:{s:s, s:s, s:o, s:o}}", "get", "operationId",
			       "getObject", "summary",
			       "The full definition of one object.",
			       "parameters", params, "responses", r));

	r = json_object();
	sbc_json_set(r, "200",
		     ok_response("Serving; per-instance state inside.",
				 ref("#/components/schemas/Health")));
	sbc_json_set(r, "503",
		     ok_response("Stopping (draining after SIGTERM).",
				 ref("#/components/schemas/Health")));
	error_refs(r, get_errors);
	sbc_json_set(paths, "/v1/health",
		     json_pack("{s:{s:s, s:s, s:o}}", "get", "operationId",
			       "getHealth", "summary", "Health of the service.",
			       "responses", r));

	r = json_object();
	sbc_json_set(r, "200",
		     ok_response("This document.", json_deep_copy(any)));
	sbc_json_set(r, "304",
		     json_pack("{s:s}", "description",
			       "Not modified (If-None-Match named its ETag)."));
	error_refs(r, get_errors);
	sbc_json_set(paths, "/v1/openapi.json",
		     json_pack("{s:{s:s, s:s, s:o}}", "get", "operationId",
			       "getOpenApi", "summary",
			       "The OpenAPI document of the running catalog.",
			       "responses", r));

	r = json_object();
	sbc_json_set(r, "200",
		     json_pack("{s:s, s:{s:{s:{s:s}}}}", "description",
			       "Prometheus text exposition.", "content",
			       "text/plain", "schema", "type", "string"));
	error_refs(r, get_errors);
	sbc_json_set(paths, "/metrics",
		     json_pack("{s:{s:s, s:s, s:o}}", "get", "operationId",
			       "getMetrics", "summary", "Metrics.", "responses",
			       r));
	test_path(paths);
	json_decref(any);
	return paths;
}

char *sbc_openapi_json(const struct sbc_catalog *c)
{
	return sbc_openapi_json_view(c, NULL);
}

char *sbc_openapi_json_view(const struct sbc_catalog *c,
			    const struct sbc_view *v)
{
	bool all = !v || !v->may;
	static const char *const call_errors[] = {
	    "400", "403", "404", "405", "409", "413", "415",
	    "429", "500", "502", "503", "504", "507", NULL};
	json_t *root = json_object();
	sbc_json_set(root, "openapi", json_string("3.0.3"));
	sbc_json_set(
	    root, "info",
	    json_pack("{s:s, s:s, s:s}", "title", "svcbroker", "version",
		      PACKAGE_VERSION, "description",
		      "Objects, properties and methods of the configured "
		      "broker instances."));
	json_t *paths = fixed_paths();
	json_t *ids = json_object();
	json_t *tags = json_array();
	for (size_t i = 0; c && i < c->n_instances; i++) {
		const struct sbc_instance *inst = c->instances[i];
		char tagdesc[SB_ERROR_MSG_MAX + 128];
		snprintf(tagdesc, sizeof(tagdesc), "Instance of broker %s%s%s",
			 inst->broker->name,
			 inst->open_error[0] ? " (unavailable: " : "",
			 inst->open_error[0] ? "see /v1/health)" : "");
		sbc_json_push(tags, json_pack("{s:s, s:s}", "name", inst->name,
					      "description", tagdesc));
		for (size_t k = 0; k < inst->n_objects; k++) {
			const struct sb_object *ob = inst->objects[k];
			for (const struct sb_method *m = ob->methods;
			     m && m->name; m++) {
				if (!all && !v->may(v->ud, inst->name, ob->name,
						    m->name))
					continue;
				char path[600];
				snprintf(path, sizeof(path),
					 "/v1/call/%s/%s/%s", inst->name,
					 ob->name, m->name);
				json_t *r = json_object();
				sbc_json_set(
				    r, "200",
				    ok_response("The rows the method returns.",
						answer_schema(ob, m)));
				error_refs(r, call_errors);
				json_t *op = json_object();
				sbc_json_set(op, "operationId",
					     operation_id(ids, inst->name,
							  ob->name, m->name));
				char summary[400];
				snprintf(summary, sizeof(summary), "%s.%s (%s)",
					 ob->name, m->name,
					 sb_method_kind_name(m->kind)
					     ? sb_method_kind_name(m->kind)
					     : "execute");
				sbc_json_set(op, "summary",
					     json_string(summary));
				if (m->doc)
					sbc_json_set(op, "description",
						     json_string(m->doc));
				sbc_json_set(op, "tags",
					     json_pack("[s]", inst->name));
				sbc_json_set(
				    op, "requestBody",
				    json_pack(
					"{s:b, s:o}", "required", 1, "content",
					json_content(request_schema(ob, m))));
				sbc_json_set(op, "responses", r);
				sbc_json_set(paths, path,
					     json_pack("{s:o}", "post", op));
			}
		}
	}
	json_decref(ids);
	sbc_json_set(root, "tags", tags);
	sbc_json_set(root, "paths", paths);
	json_t *comp = components();
	if (v && v->secured) {
		/* every path but the health check needs a credential */
		sbc_json_set(
		    comp, "securitySchemes",
		    json_pack("{s:{s:s, s:s, s:s}}", "bearer", "type", "http",
			      "scheme", "bearer", "description",
			      "A client's token ([client] token_sha256 holds "
			      "its SHA-256).  Over TLS a client certificate "
			      "whose subject is a [client]'s cert_subject "
			      "authenticates as well."));
		sbc_json_set(root, "security", json_pack("[{s:[]}]", "bearer"));
		json_t *h = json_object_get(
		    json_object_get(paths, "/v1/health"), "get");
		/* the health check takes a token (to list the instances)
		 * but does without one */
		if (h)
			sbc_json_set(h, "security",
				     json_pack("[{}, {s:[]}]", "bearer"));
		/* every operation may answer 401 (the health check: to a
		 * wrong token) */
		const char *pk;
		json_t *item;
		json_object_foreach(paths, pk, item)
		{
			const char *mk;
			json_t *op;
			json_object_foreach(item, mk, op)
			{
				json_t *rs = json_object_get(op, "responses");
				if (rs)
					sbc_json_set(rs, "401",
						     ref("#/components/"
							 "responses/Error"));
			}
		}
	}
	sbc_json_set(root, "components", comp);
	if (!root)
		return NULL;
	char *s = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	return s;
}
