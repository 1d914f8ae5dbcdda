/* svcbroker — a test host: run a broker's method handlers in a unit test,
 * without the daemon.
 *
 * A test host plays the daemon's part for one instance of one broker: it
 * lends the broker a mock struct sb_host (whose log records every line
 * with its level), binds the instance's keys through the broker's own
 * key table and runs its validate(), opens and closes the instance, and
 * runs one method at a time the way the daemon's executor does (inputs
 * checked against the method's declaration, required inputs, a deadline,
 * the handler from the method table, getter misuse and bad result rows
 * failing the call).
 *
 *   struct sb_testhost *th = sb_testhost_new(&svcbroker_broker, "mail", &err);
 *   const char *keys[] = {"store_dir=/tmp/x", "mailboxes=a@example.test",
 *                         NULL};
 *   sb_testhost_config(th, keys, &err);
 *   sb_testhost_open(th, &err);
 *   const char *in[] = {"To=a@example.test", "Subject=hi", NULL};
 *   struct sb_testhost_run *r = sb_testhost_run(th, "Email", "Send", in, NULL);
 *   ... r->status, r->err, sb_testhost_text(r, 0, "Id") ...
 *   sb_testhost_run_free(r);
 *   sb_testhost_free(th);        (closes the instance)
 *
 * Ownership: a test host borrows the broker descriptor (it must outlive
 * the test host) and copies every string it is given.  A run owns its
 * result; every pointer read from a run is valid until
 * sb_testhost_run_free.  Recorded log lines are valid until
 * sb_testhost_log_clear or sb_testhost_free.
 *
 * Thread safety: sb_testhost_run, sb_testhost_execute, sb_testhost_cancel
 * and the log functions may be called from any thread at once (handlers of
 * an SB_BROKER_SERIAL broker still run one at a time).  Everything else
 * (new, config, open, close, free, setters) is for one thread while no
 * call runs.  The mock host's functions are thread-safe, as the daemon's.
 *
 * What the daemon does and a test host does not: no ${env:}/${file:}
 * substitution in values, no HTTP or JSON (inputs are given as text, see
 * sb_testhost_run), no worker pool, queueing or max_concurrency, no crash
 * reports.
 */
#ifndef SVCBROKER_TESTHOST_H
#define SVCBROKER_TESTHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/invoke.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sb_testhost;

/* A test host for one instance (name copied; NULL: "test") of broker b.
 * The descriptor is checked as the daemon checks a module at load (magic,
 * ABI major, tables).  NULL with err filled if it is refused or out of
 * memory. */
struct sb_testhost *sb_testhost_new(const struct sb_broker *b,
				    const char *instance, struct sb_error *err);
/* Close the instance if it is open, release the configuration, free
 * everything.  NULL is a no-op. */
void sb_testhost_free(struct sb_testhost *th);

/* The mock host lent to the broker: instance and broker names, state_dir,
 * a log that records, remaining_ms and cancelled from the call's deadline
 * and cancel flag (cancelled is also true once the deadline passed). */
const struct sb_host *sb_testhost_host(const struct sb_testhost *th);
/* The host's state_dir (copied; NULL: none).  Before open. */
enum sb_status sb_testhost_set_state_dir(struct sb_testhost *th,
					 const char *dir, struct sb_error *err);
/* The deadline of each call, from its start.  Binding a configuration
 * sets it from the `timeout` key (default 30 s); call this afterwards to
 * override it. */
void sb_testhost_set_timeout(struct sb_testhost *th, int64_t ms);

/* ---- configuration -----------------------------------------------------
 * Bind the instance's keys through the broker's key table (the SDK's
 * sb_conf_bind, as the daemon binds them), then run the broker's
 * validate().  The host keys of an instance section are accepted too:
 * `timeout` sets the call deadline, `broker` must name this broker,
 * `max_concurrency` is checked and otherwise ignored.  Relative paths are
 * made absolute against the working directory.
 *
 * On a problem: SB_ERR_INVALID_INPUT (or validate's status) with err
 * naming the first problem ("[instance NAME] KEY: what is wrong", and
 * "(and N more)"), every problem kept for sb_testhost_config_problem, and
 * no configuration bound.  SB_ERR_CONFLICT while the instance is open.
 * A new configuration replaces the previous one. */

/* kv: "key=value" strings, NULL-terminated (spaces around key and value
 * are trimmed; a list value is a comma list). */
enum sb_status sb_testhost_config(struct sb_testhost *th, const char *const *kv,
				  struct sb_error *err);
/* text: an instance section as in an INI file: "key = value" lines,
 * comments starting with ';' or '#', blank lines, an optional
 * "[instance NAME]" header first, and indented lines continuing the
 * previous value (joined with '\n', as for list keys).  Problems name the
 * line: "line 3: [instance NAME] quota: ...". */
enum sb_status sb_testhost_config_ini(struct sb_testhost *th, const char *text,
				      struct sb_error *err);
/* The problems the last configuration had (0 if it was accepted). */
size_t sb_testhost_config_problems(const struct sb_testhost *th);
const char *sb_testhost_config_problem(const struct sb_testhost *th, size_t i);
/* The bound configuration struct (the broker's config type), or NULL. */
const void *sb_testhost_config_data(const struct sb_testhost *th);

/* ---- the instance --------------------------------------------------------
 * Open: bind an empty configuration first if none was given (defaults;
 * required keys are then reported), call the broker's open() with the
 * mock host, then describe() if the broker has one (its objects can be
 * run like the static ones).  A failed describe closes the instance again.
 * SB_ERR_CONFLICT if already open. */
enum sb_status sb_testhost_open(struct sb_testhost *th, struct sb_error *err);
/* close() the instance if it is open (exactly once per successful open). */
void sb_testhost_close(struct sb_testhost *th);
bool sb_testhost_is_open(const struct sb_testhost *th);
/* The broker's state from open() (NULL when not open). */
void *sb_testhost_state(const struct sb_testhost *th);
/* An object of the open instance (static or described), or NULL. */
const struct sb_object *sb_testhost_object(const struct sb_testhost *th,
					   const char *name);
/* The broker's test() ("Test settings"); SB_ERR_INVALID_INPUT if it has
 * none, SB_ERR_UNAVAILABLE if the instance is not open. */
enum sb_status sb_testhost_test(struct sb_testhost *th, struct sb_error *err);

/* ---- calls ----------------------------------------------------------------
 * A file input: `input` is the method's input name; data/size the decoded
 * bytes (copied). */
struct sb_testhost_file {
	const char *input;
	const char *name;
	const char *content_type;
	const void *data;
	size_t size;
};
#define SB_TESTHOST_FILE_END                                                   \
	{                                                                      \
		.input = NULL                                                  \
	}

/* What a run answered. */
struct sb_testhost_run {
	enum sb_status status;	  /* as the client would get it */
	struct sb_error err;	  /* filled when status != SB_OK */
	bool ran;		  /* false: refused before the handler ran
				     (unknown object or method, bad input,
				     instance not open) */
	struct sb_result *result; /* the rows the handler added (read them
				     with the helpers below or invoke.h);
				     NULL if the handler did not run */
};

/* A call of object.method of the open instance, built from inputs
 * ("Name=value" strings, NULL-terminated; may be NULL) and files (ended by
 * SB_TESTHOST_FILE_END; may be NULL), finished (required inputs checked)
 * and given the deadline now + timeout.  Each value is parsed by the
 * input's declared type: a number as decimal digits, a boolean as
 * true/false (or yes/no, on/off, 1/0), anything else as text checked like
 * the API checks it.  Repeat "Name=value" for the items of a multi input;
 * "Name[]" gives a multi input with no items.  A file input can only be
 * given in files.  NULL with err filled (SB_ERR_NOT_FOUND naming an
 * unknown object or method, SB_ERR_INVALID_INPUT or
 * SB_ERR_PAYLOAD_TOO_LARGE naming the input, SB_ERR_UNAVAILABLE if the
 * instance is not open).  Free it with sb_call_free, before closing the
 * instance (a described object belongs to the instance).  Use it to set
 * another deadline or cancel a call before running it with
 * sb_testhost_execute. */
struct sb_call *sb_testhost_call_new(struct sb_testhost *th, const char *object,
				     const char *method,
				     const char *const *inputs,
				     const struct sb_testhost_file *files,
				     struct sb_error *err);

/* Run the handler of call's method on the open instance as the daemon's
 * executor does, and return what it answered: a getter misuse
 * (sb_call_misused) fails the call with its error (and logs it at
 * SB_LOG_ERROR) whatever the handler returned; SB_OK with a failed result
 * builder (sb_result_error) becomes that error; an error status without a
 * message gets one; retry_after_ms is kept for throttled and unavailable
 * answers only.  The call stays the caller's.  NULL only when out of
 * memory.  Free with sb_testhost_run_free. */
struct sb_testhost_run *sb_testhost_execute(struct sb_testhost *th,
					    struct sb_call *call);

/* sb_testhost_call_new + sb_testhost_execute + sb_call_free.  A call that
 * cannot be built is answered with ran = false and its error.  NULL only
 * when out of memory. */
struct sb_testhost_run *sb_testhost_run(struct sb_testhost *th,
					const char *object, const char *method,
					const char *const *inputs,
					const struct sb_testhost_file *files);
void sb_testhost_run_free(struct sb_testhost_run *r);

/* Cancel every call running now on this test host; if none runs, the
 * next call to start is cancelled as it starts.  Handlers see it through
 * host->cancelled().  Any thread. */
void sb_testhost_cancel(struct sb_testhost *th);

/* ---- reading a run's result ------------------------------------------------
 * Rows are numbered from 0; a cell is looked up by property name.  Each
 * is safe on a run without a result (no rows). */
size_t sb_testhost_rows(const struct sb_testhost_run *r);
/* The cell of row `row`, or NULL if the row does not set it. */
const struct sb_value *sb_testhost_cell(const struct sb_testhost_run *r,
					size_t row, const char *name);
/* The (first) item of a string-carried cell, or NULL. */
const char *sb_testhost_text(const struct sb_testhost_run *r, size_t row,
			     const char *name);
/* true and *out for a number / boolean cell; false if absent or another
 * type. */
bool sb_testhost_int(const struct sb_testhost_run *r, size_t row,
		     const char *name, int64_t *out);
bool sb_testhost_bool(const struct sb_testhost_run *r, size_t row,
		      const char *name, bool *out);
/* Items of the cell (0 if absent), and whether one of a string-carried
 * cell's items equals want. */
size_t sb_testhost_count(const struct sb_testhost_run *r, size_t row,
			 const char *name);
bool sb_testhost_has_text(const struct sb_testhost_run *r, size_t row,
			  const char *name, const char *want);
/* The token of the next page a list method gave, or NULL. */
const char *sb_testhost_next_page(const struct sb_testhost_run *r);

/* ---- the recorded log ------------------------------------------------------
 * Every line the broker logged through the mock host, in order, with its
 * level, as the message only (without "[broker:instance] level:").  With
 * the environment variable SB_TESTHOST_LOG set, lines are also written to
 * stderr. */
#define SB_TESTHOST_ANY_LEVEL (-1)
/* Lines recorded at level (SB_TESTHOST_ANY_LEVEL: all). */
size_t sb_testhost_log_count(const struct sb_testhost *th, int level);
/* Line i (0 .. log_count(ANY) - 1) and its level (level may be NULL), or
 * NULL past the end. */
const char *sb_testhost_log_line(const struct sb_testhost *th, size_t i,
				 enum sb_log_level *level);
/* Lines at level (or any) that contain needle. */
size_t sb_testhost_log_find(const struct sb_testhost *th, int level,
			    const char *needle);
/* Forget the recorded lines. */
void sb_testhost_log_clear(struct sb_testhost *th);

#ifdef __cplusplus
}
#endif
#endif
