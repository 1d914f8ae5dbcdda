/* svcbroker — the in-process API: load a configuration, its modules and
 * instances, and call methods with JSON in and out, without HTTP.
 *
 * The same executor (worker pool, queue, per-instance caps, deadlines) and
 * the same JSON codec serve svcbrokerd's HTTP API, so an answer here is
 * byte for byte the body the HTTP API would send.
 *
 *   struct sb_runtime *rt;
 *   struct sb_error err;
 *   if (sb_runtime_open("/etc/svcbroker/svcbroker.ini", &rt, &err) != SB_OK)
 *           fprintf(stderr, "%s\n", err.message);
 *   char *out;
 *   sb_runtime_call_json(rt, "local/Email.Send", "{\"To\": [...]}", &out,
 *                        &err);
 *   ...  free(out);
 *   sb_runtime_close(rt);
 *
 * The application calls curl_global_init() (and xmlInitParser() if a
 * broker uses libxml2) once before sb_runtime_open, as the daemon does.
 * Every function is thread-safe; a runtime may be shared by threads.
 */
#ifndef SVCBROKER_RUNTIME_H
#define SVCBROKER_RUNTIME_H

#include <svcbroker/status.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sb_runtime;

/* Read config_path (NULL: the built-in default path), load the enabled
 * modules, bind and open every instance, start the worker threads.  On
 * success returns SB_OK and *out (close it with sb_runtime_close).  On
 * failure returns an error status and fills err with the first problem
 * (every problem is logged on stderr). */
enum sb_status sb_runtime_open(const char *config_path, struct sb_runtime **out,
			       struct sb_error *err);

/* Call "instance/Object.Method" with json_inputs, the JSON object of
 * inputs ({"Name": value, ...}; NULL or "" means none).  Blocks until the
 * answer, at most the instance's timeout.  On success returns SB_OK and
 * sets *json_out to {"rows": [...], "more": bool, "next_page_token": ...}.
 * On failure returns the status, fills err, and sets *json_out to the
 * error document {"error": {...}}.  *json_out is malloc'd (free() it); it
 * is NULL only when out of memory. */
enum sb_status sb_runtime_call_json(struct sb_runtime *rt, const char *address,
				    const char *json_inputs, char **json_out,
				    struct sb_error *err);

/* The catalog summary (as GET /v1/catalog), or with object non-NULL
 * ("instance/Object") that object's full definition.  *json_out is
 * malloc'd. */
enum sb_status sb_runtime_catalog_json(struct sb_runtime *rt,
				       const char *object, char **json_out,
				       struct sb_error *err);

/* Test the settings of `instance` ("Test settings"): run its broker's
 * test() on the worker threads, as a call, bounded by the instance's
 * timeout.  *json_out (malloc'd, free() it; NULL only when out of memory)
 * is the verdict when the test ran:
 *   {"instance", "broker", "ok", "message", "elapsed_ms",
 *    "details": {"category", "code", "tested"}}
 * or the error document {"error": {...}} when it could not run.  Returns
 * SB_OK when the test passed; the failure's status, with err filled
 * (message and code), when it failed or did not finish in time (then
 * "ok" is false); SB_ERR_NOT_FOUND for an unknown instance and
 * SB_ERR_UNAVAILABLE for one that failed to open (its open error in err)
 * or when no worker can take the test. */
enum sb_status sb_runtime_test_json(struct sb_runtime *rt, const char *instance,
				    char **json_out, struct sb_error *err);

/* Read the configuration file again and swap in a new catalog.  Calls
 * running on the old catalog finish on it.  On failure the old catalog
 * keeps serving, every problem is logged and err holds the first. */
enum sb_status sb_runtime_reload(struct sb_runtime *rt, struct sb_error *err);

/* Stop accepting calls, wait (bounded) for running ones, close every
 * instance and free.  NULL is a no-op. */
void sb_runtime_close(struct sb_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif
