/* svcbroker core — the JSON codec.  core/json.c and core/openapi.c are the
 * only files of core that know the JSON library; everything else exchanges
 * malloc'd UTF-8 text with them.  Private to libsvcbroker.  Every function
 * is thread-safe once sbc_json_init() has run. */
#ifndef SVCBROKER_JSON_H
#define SVCBROKER_JSON_H

#include "host.h"

/* Seed the JSON library's hash function; once, before threads start (a
 * second call is a no-op). */
void sbc_json_init(void);

/* Decode a request into a new, finished call for e's method.  body is
 * {"inputs": {...}} when wrapped, else the inputs object itself.  Returns
 * the call (caller frees) or NULL with err filled: SB_ERR_INVALID_INPUT
 * for malformed JSON, unknown keys, type mismatches and missing required
 * inputs (naming the input), SB_ERR_PAYLOAD_TOO_LARGE for size caps. */
struct sb_call *sbc_json_decode_call(const struct sbc_entry *e,
				     const char *body, size_t len, bool wrapped,
				     struct sb_error *err);

/* body as json_loadb(body, len, JSON_REJECT_DUPLICATES) reads it, but
 * through yajl's faster lexer (json_fast.c): the same tree, keys in the
 * same order, or NULL when it cannot vouch for that (malformed, a root
 * that is not an object, a fraction, a \u escape jansson must judge...):
 * then json_loadb gives the answer, and its error message. */
struct json_t *sbc_json_fast_load(const char *body, size_t len);

/* {"rows": [...], "more": bool, "next_page_token": string|null} */
char *sbc_json_result(const struct sb_result *r);
/* Append s (valid UTF-8) as a JSON string, or v as a JSON number, exactly
 * as jansson's compact output writes them (the result encoder's parts;
 * the fuzz target fuzz_json_result compares them with jansson).  False
 * when the buffer is full. */
struct sb_buf;
bool sbc_json_put_string(struct sb_buf *b, const char *s);
bool sbc_json_put_int(struct sb_buf *b, int64_t v);
/* {"error": {"category", "code", "message", "retry_after_ms"?}} */
char *sbc_json_error(const struct sb_error *err);
/* GET /v1/catalog: every instance with its objects (summary). */
char *sbc_json_catalog(const struct sbc_catalog *c);
/* What a client may see of the catalog: may(ud, instance, object, method)
 * for each method (NULL may: everything); an object without a visible
 * method is left out, and so is an instance without a visible object.
 * secured: clients are configured (the OpenAPI document then declares
 * its security schemes). */
struct sbc_view {
	bool (*may)(const void *ud, const char *instance, const char *object,
		    const char *method);
	const void *ud;
	bool secured;
};
char *sbc_json_catalog_view(const struct sbc_catalog *c,
			    const struct sbc_view *v);
/* GET /v1/catalog/{instance}/{object}: the full definition. */
char *sbc_json_object(const struct sbc_instance *inst,
		      const struct sb_object *obj);
/* GET /v1/health; draining says the service is shutting down; queued and
 * running are the executor's calls waiting and running now.  Without
 * instances the answer leaves them out (an anonymous caller of an API
 * that has clients); status counts them all the same. */
char *sbc_json_health(const struct sbc_catalog *c, bool draining,
		      int64_t uptime_s, size_t queued, size_t running,
		      bool instances);
/* svcbrokerd --list-brokers: every module with its configuration table
 * (never a secret's default) and static objects. */
char *sbc_json_brokers(const struct sbc_module *const *mods, size_t n);

/* openapi.c: the OpenAPI 3.0.3 document for catalog c. */
char *sbc_openapi_json(const struct sbc_catalog *c);
char *sbc_openapi_json_view(const struct sbc_catalog *c,
			    const struct sbc_view *v);

#endif
