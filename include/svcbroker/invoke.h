/* svcbroker — making calls and reading results: the host's side of
 * struct sb_call and struct sb_result.
 *
 * The host builds every call a broker receives with these functions, and
 * reads the rows a broker added.  A broker's unit tests use the same
 * functions (with <svcbroker/testhost.h>) to run whole method handlers
 * without the daemon.  Brokers themselves never need this header.
 *
 * Thread safety: a call and its result are used by one thread at a time,
 * except sb_call_cancel / sb_call_is_cancelled, which may be called from
 * any thread.
 */
#ifndef SVCBROKER_INVOKE_H
#define SVCBROKER_INVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_DEFAULT_TEXT_MAX (64u * 1024)	/* text/email/... inputs */
#define SB_DEFAULT_MEMO_MAX (4u * 1024 * 1024)	/* memo inputs */
#define SB_DEFAULT_FILE_MAX (25u * 1024 * 1024) /* decoded file inputs */
#define SB_DEFAULT_MULTI_MAX 1000u		/* items of a multi input */
#define SB_PAGE_SIZE_DEFAULT 100
#define SB_PAGE_SIZE_MAX 1000

/* A new call for obj.method (both borrowed, must outlive the call).  Host
 * inputs PageSize (number) and PageToken (text) are accepted for
 * SB_KIND_LIST methods.  NULL on out of memory. */
struct sb_call *sb_call_new(const struct sb_object *obj,
			    const struct sb_method *m);
void sb_call_free(struct sb_call *c);
/* The declaration of input `name` for this call (including host-added
 * PageSize/PageToken), or NULL if the method has no such input. */
const struct sb_param *sb_call_param(const struct sb_call *c, const char *name);
/* Append one item to input `name`, validating it against its declaration
 * (unknown name, wrong type, bad format, enum choice, size caps, a second
 * item for a non-multi input).  Copies everything.  On error fills err with
 * SB_ERR_INVALID_INPUT (or SB_ERR_PAYLOAD_TOO_LARGE) naming the input. */
enum sb_status sb_call_put_str(struct sb_call *c, const char *name,
			       const char *s, struct sb_error *err);
enum sb_status sb_call_put_int(struct sb_call *c, const char *name, int64_t v,
			       struct sb_error *err);
enum sb_status sb_call_put_bool(struct sb_call *c, const char *name, bool v,
				struct sb_error *err);
enum sb_status sb_call_put_file(struct sb_call *c, const char *name,
				const char *file_name, const char *content_type,
				const unsigned char *data, size_t size,
				struct sb_error *err);
/* Mark a multi input present with zero items (JSON []). */
enum sb_status sb_call_put_empty(struct sb_call *c, const char *name,
				 struct sb_error *err);
/* After all inputs: check required inputs are present. */
enum sb_status sb_call_finish(struct sb_call *c, struct sb_error *err);
/* Deadline (monotonic ms, see sb_now_ms) and cancellation. */
void sb_call_set_deadline(struct sb_call *c, int64_t deadline_ms);
int64_t sb_call_deadline(const struct sb_call *c);
/* The request id brokers read with sb_call_request_id (copied; NULL
 * clears it).  False when out of memory. */
bool sb_call_set_request_id(struct sb_call *c, const char *id);
void sb_call_cancel(struct sb_call *c);
bool sb_call_is_cancelled(const struct sb_call *c);
/* Iterate the inputs that are present (for logging names only, never values).
 */
size_t sb_call_n_inputs(const struct sb_call *c);
const char *sb_call_input_name(const struct sb_call *c, size_t i);

/* After the handler returned: true and err filled (SB_ERR_INTERNAL, naming
 * the input and both types) if the broker read an input the method does
 * not declare, or as a type it is not declared with.  The host then fails
 * the call whatever the handler returned. */
bool sb_call_misused(const struct sb_call *c, struct sb_error *err);

/* Result: rows of cells, validated against obj's properties. */
struct sb_cell {
	const char *name;
	struct sb_value value;
};
struct sb_result *sb_result_new(const struct sb_object *obj,
				const struct sb_method *m, size_t max_rows,
				size_t max_bytes);
void sb_result_free(struct sb_result *r);
size_t sb_result_n_rows(const struct sb_result *r);
/* The cells of row i, in the order they were first set. */
size_t sb_result_row_cells(const struct sb_result *r, size_t i,
			   const struct sb_cell **cells);
const char *sb_result_page_token(const struct sb_result *r); /* NULL: none */
/* If a builder call failed (bad name, wrong type, limits), the first error. */
bool sb_result_error(const struct sb_result *r, struct sb_error *err);

/* ---- the describe builder -------------------------------------------------
 * The host hands describe() a builder whose add() it implements;
 * sb_describe_add checks the object (sb_object_check) before passing it on.
 */
struct sb_describe {
	void *ctx;
	enum sb_status (*add)(void *ctx, const struct sb_object *obj,
			      struct sb_error *err);
};

/* ---- table checks (tables.c) ------------------------------------------------
 * Check a descriptor's tables (docs present, names valid and unique, enum
 * choices present, inputs that name a property match its type, returns
 * name properties, config fields fit the config struct).  Return true, or
 * false with a reason in errbuf.  Pure functions; thread-safe. */
bool sb_broker_check(const struct sb_broker *b, char *errbuf, size_t errlen);
bool sb_object_check(const struct sb_object *o, char *errbuf, size_t errlen);
/* A broker name: [a-z0-9-]+, at most 64 bytes. */
bool sb_broker_name_ok(const char *name);

#ifdef __cplusplus
}
#endif
#endif
