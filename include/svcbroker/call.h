/* svcbroker — one method call: reading inputs, building result rows, and
 * adding dynamic objects.  Part of libsvcbroker; brokers link it.
 *
 * Ownership: everything a getter returns is borrowed from the call and valid
 * until execute() returns.  Every result builder copies what it is given.
 * A call and its result are used by one thread at a time.
 */
#ifndef SVCBROKER_CALL_H
#define SVCBROKER_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/status.h>
#include <svcbroker/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sb_call;
struct sb_result;
struct sb_describe;
struct sb_method;
struct sb_object;

/* The object and method this call addresses, and the method's table entry. */
const char *sb_call_object(const struct sb_call *call);
const char *sb_call_method(const struct sb_call *call);
const struct sb_method *sb_call_def(const struct sb_call *call);

/* The value of input `name`, or NULL if the caller did not give it.  The
 * value was validated against the method's declaration. */
const struct sb_value *sb_call_input(const struct sb_call *call,
				     const char *name);

/* Convenience getters.  Each returns the value of a present, single input;
 * for an input the caller did not give, the fallback / false / NULL.
 * Reading an input the method does not declare, or as a type it is not
 * declared with (sb_call_int on a text input, a multi input as single), is
 * a broker bug: the getter returns the fallback AND the call fails with
 * SB_ERR_INTERNAL naming the input and both types, whatever the handler
 * returns, so the mistake is never taken for "absent". */
const char *sb_call_str(const struct sb_call *call, const char *name,
			const char *fallback); /* any string-carried type */
bool sb_call_int(const struct sb_call *call, const char *name, int64_t *out);
bool sb_call_bool(const struct sb_call *call, const char *name, bool *out);
/* An enum input: true and the index of its name in the declared choices. */
bool sb_call_enum(const struct sb_call *call, const char *name, size_t *index);
/* Items of an input: count (0 if absent) and the i-th string / file. */
size_t sb_call_count(const struct sb_call *call, const char *name);
const char *sb_call_str_at(const struct sb_call *call, const char *name,
			   size_t i);
const struct sb_file *sb_call_file_at(const struct sb_call *call,
				      const char *name, size_t i);

/* For list methods: PageSize (default given by the host, 1..1000) and the
 * opaque PageToken the client sent back (NULL on the first page). */
int64_t sb_call_page_size(const struct sb_call *call);
const char *sb_call_page_token(const struct sb_call *call);

/* The request id of the client request this call serves (the client's
 * X-Request-Id, or one the host made): at most 64 printable ASCII bytes
 * without spaces, quotes or backslashes, so it may go as is into an
 * upstream request's header (EWS: client-request-id) to tie the two logs
 * together.  NULL when the call has none (a unit test, the in-process
 * runtime).  Since ABI 2.2. */
const char *sb_call_request_id(const struct sb_call *call);

/* --- result rows ------------------------------------------------------
 * Start a row with sb_result_row, then set cells by property name.  Names
 * must be properties of the call's object (checked; an unknown name or a
 * wrong type makes the call fail with SB_ERR_INTERNAL naming the cell).
 * Setting a multi property appends one item.  Each returns SB_OK or an
 * error status (out of memory, row limit, bad name). */
enum sb_status sb_result_row(struct sb_result *r);
enum sb_status sb_result_str(struct sb_result *r, const char *name,
			     const char *value); /* NULL value: skipped */
enum sb_status sb_result_int(struct sb_result *r, const char *name,
			     int64_t value);
enum sb_status sb_result_bool(struct sb_result *r, const char *name,
			      bool value);
enum sb_status sb_result_file(struct sb_result *r, const char *name,
			      const struct sb_file *file);
/* Set an empty array for a multi property (so it renders as []). */
enum sb_status sb_result_empty(struct sb_result *r, const char *name);
/* For list methods: more rows exist; token (copied) fetches them. */
enum sb_status sb_result_next_page(struct sb_result *r, const char *token);

/* --- dynamic objects ---------------------------------------------------
 * Add an object discovered at describe() time.  obj is borrowed and must
 * stay valid until the broker's close().  Fails with SB_ERR_CONFLICT if an
 * object of that name exists and SB_ERR_INTERNAL if the table is invalid. */
enum sb_status sb_describe_add(struct sb_describe *b,
			       const struct sb_object *obj,
			       struct sb_error *err);

#ifdef __cplusplus
}
#endif
#endif
