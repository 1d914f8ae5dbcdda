/* svcbroker — the broker module contract.
 *
 * A broker module is a shared object that exports exactly one symbol,
 * `svcbroker_broker`, a `const struct sb_broker` filled with designated
 * initialisers:
 *
 *   static const struct sb_method greeting_methods[] = {
 *           {.name = "Say", .kind = SB_KIND_EXECUTE, .handler = greeting_say,
 *            .doc = "...", .inputs = ..., .returns = ...},
 *           SB_METHOD_END};
 *   ...
 *   const struct sb_broker svcbroker_broker = {
 *           SB_BROKER_HEADER,
 *           .name = "example", .version = "1.0", .summary = "...",
 *           .config = example_config, .config_size = sizeof(struct
 * example_conf), .objects = example_objects, .open = example_open, .validate =
 * example_validate, .close = example_close,
 *   };
 *
 * Each method's table entry carries its handler: the table is the
 * dispatcher, and the host calls the handler of the method it resolved.
 *
 * ABI changelog (bump SB_ABI_MINOR when appending a field at the end of
 * struct sb_broker or struct sb_host, adding a libsvcbroker function or a
 * new flag value of a table entry; bump SB_ABI_MAJOR for anything else,
 * including any other change to a table entry struct):
 *   1.0  first version.
 *   2.0  struct sb_method carries its handler (sb_broker.execute is gone);
 *        struct sb_param has min/max for number inputs; struct
 *        sb_config_key has `schemes` for URL keys (choices are for
 *        enumerations only) and `fragment` for SB_CONF_FRAGMENT entries
 *        that include a shared table of keys; struct sb_broker has an
 *        optional validate() for rules spanning several keys; broker.h no
 *        longer includes call.h; a getter that reads an input as the wrong
 *        type fails the call instead of answering "absent".
 *   2.1  struct sb_host has log_enabled.
 *   2.2  sb_call_request_id() (libsvcbroker): the client request's id,
 *        for upstream requests.
 *   2.3  SB_MAILBOX: an input other than Mailbox that names the mailbox
 *        a call acts for, checked against the client's mailbox grants.
 *
 * The first four fields of struct sb_broker (magic, abi_major, abi_minor,
 * struct_size) are frozen forever.  The host accepts a module whose major
 * equals its own and whose minor is <= its own.
 */
#ifndef SVCBROKER_BROKER_H
#define SVCBROKER_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/status.h>
#include <svcbroker/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_BROKER_MAGIC 0x53564342u /* "SVCB" */
#define SB_ABI_MAJOR 2
#define SB_ABI_MINOR 3
#define SB_BROKER_SYMBOL "svcbroker_broker"

/* ---------------------------------------------------------------------
 * Configuration table: the instance keys a broker accepts.
 *
 * The host allocates a zeroed struct of `config_size` bytes, fills every
 * field at `offset` from the INI section (or the default), validates type,
 * range and choices, and hands it to open().  The struct and every string in
 * it belong to the host until close() returns.
 * ------------------------------------------------------------------- */
enum sb_conf_type {
	SB_CONF_STRING =
	    0,		  /* char *            (NULL if unset and no default) */
	SB_CONF_INT,	  /* int64_t           min/max apply */
	SB_CONF_BOOL,	  /* bool              yes/no/true/false/on/off/1/0 */
	SB_CONF_DURATION, /* int64_t, ms       250ms 30s 5m 1h; min/max in ms */
	SB_CONF_SIZE,	  /* int64_t, bytes    512 64KiB 10MiB 1GiB; min/max */
	SB_CONF_ENUM,	  /* int               index into choices */
	SB_CONF_LIST,	  /* char **           NULL-terminated, comma list */
	SB_CONF_PATH,	  /* char *            made absolute against the file */
	SB_CONF_URL,	  /* char *            scheme://...; see `schemes` */
	SB_CONF_FRAGMENT, /* not a key: includes the keys of `fragment`,
			     whose offsets are relative to `offset` (a struct
			     of the fragment's own type inside yours) */
};

#define SB_CONF_REQUIRED 0x1u /* the key must be given (no default) */
#define SB_CONF_SECRET 0x2u   /* never printed, logged or returned */

/* Enumerations have one model everywhere: a NULL-terminated list of names
 * (`choices`), the same for a config key, a property and a method input.
 * A config key's value is the index of its name (an int); an input's value
 * is the name, and sb_call_enum() gives its index.  Names match without
 * regard to case in INI files and exactly in the API. */
struct sb_config_key {
	const char *key; /* for SB_CONF_FRAGMENT: the fragment's label */
	enum sb_conf_type type;
	const char *def;  /* default, in INI syntax; NULL = none */
	unsigned flags;	  /* SB_CONF_* */
	int64_t min, max; /* for INT/DURATION/SIZE; min==max==0: no bound */
	const char *const *choices; /* ENUM names; NULL-terminated */
	const char *const *schemes; /* URL schemes allowed; NULL = any */
	const char *doc;	    /* mandatory, one sentence */
	size_t offset;		    /* offsetof(struct your_conf, field) */
	const struct sb_config_key *fragment; /* for SB_CONF_FRAGMENT */
};
/* clang-format off */
#define SB_CONF_END {.key = NULL}
/* clang-format on */
/* Include a shared table of keys (declared once, used by several
 * brokers), bound into the struct at offsetof(struct your_conf, member). */
#define SB_CONF_INCLUDE(label, table, member_offset)                           \
	{                                                                      \
		.key = (label), .type = SB_CONF_FRAGMENT, .fragment = (table), \
		.offset = (member_offset), .doc = "keys of " label             \
	}

/* ---------------------------------------------------------------------
 * Catalog tables: objects, properties, methods.
 * ------------------------------------------------------------------- */
#define SB_MULTI 0x1u	 /* property/input holds an array of its type */
#define SB_REQUIRED 0x2u /* method input must be present */
/* A method input (one value of text or email type) that names the mailbox
 * the call acts for, as an input named Mailbox does: the host checks it
 * against the calling client's mailbox grants before the broker runs
 * (403 if the client may not act for it).  For an input with another
 * name, such as an administrator's Identity of the user whose mailbox is
 * changed.  At most one per method; none on a method that also has a
 * Mailbox input.  Since ABI 2.3. */
#define SB_MAILBOX 0x4u

struct sb_property {
	const char *name; /* PascalCase */
	enum sb_type type;
	unsigned flags;		    /* SB_MULTI */
	const char *const *choices; /* for SB_TYPE_ENUM, NULL-terminated */
	const char *doc;	    /* mandatory */
};
/* clang-format off */
#define SB_PROPERTY_END {.name = NULL}
/* clang-format on */

/* A method input: a property of the object, or a parameter of the method.
 * If `name` equals a property of the object, type/choices must match it
 * (checked by the host at load time). */
struct sb_param {
	const char *name;
	enum sb_type type;
	unsigned flags;		    /* SB_MULTI | SB_REQUIRED | SB_MAILBOX */
	const char *const *choices; /* for SB_TYPE_ENUM */
	size_t max_size;	    /* bytes (text) / decoded bytes (file) /
				       items (multi); 0 = host default */
	int64_t min, max;	    /* for SB_TYPE_NUMBER: the host refuses a
				       value outside min..max; min==max==0: no
				       bound */
	const char *doc;	    /* mandatory */
};
/* clang-format off */
#define SB_PARAM_END {.name = NULL}
/* clang-format on */

enum sb_method_kind {
	SB_KIND_CREATE = 0,
	SB_KIND_READ,
	SB_KIND_UPDATE,
	SB_KIND_DELETE,
	SB_KIND_LIST, /* the host adds optional PageSize/PageToken inputs */
	SB_KIND_EXECUTE,
};

/* "create", "read", ... Static storage; NULL for unknown. */
const char *sb_method_kind_name(enum sb_method_kind k);

struct sb_call;	    /* one method call: see <svcbroker/call.h> */
struct sb_result;   /* rows out: see <svcbroker/call.h> */
struct sb_describe; /* dynamic objects: see <svcbroker/call.h> */

/* Run one method.  state is the instance's (from open()); call (and every
 * input in it) is borrowed until the handler returns; add rows to result
 * (the builders copy).  Return SB_OK, or an error status with err filled.
 * Called concurrently for one instance unless SB_BROKER_SERIAL. */
typedef enum sb_status (*sb_handler_fn)(void *state, const struct sb_call *call,
					struct sb_result *result,
					struct sb_error *err);

struct sb_method {
	const char *name;
	enum sb_method_kind kind;
	const char *doc;       /* mandatory */
	sb_handler_fn handler; /* mandatory */
	const struct sb_param
	    *inputs;		    /* SB_PARAM_END-terminated; may be NULL */
	const char *const *returns; /* property names a row carries,
				       NULL-terminated; NULL = none */
};
/* clang-format off */
#define SB_METHOD_END {.name = NULL}
/* clang-format on */

struct sb_object {
	const char *name;		      /* PascalCase */
	const char *doc;		      /* mandatory */
	const struct sb_property *properties; /* SB_PROPERTY_END-terminated */
	const struct sb_method *methods;      /* SB_METHOD_END-terminated */
};
/* clang-format off */
#define SB_OBJECT_END {.name = NULL}
/* clang-format on */

/* ---------------------------------------------------------------------
 * Host services, lent to a broker instance by const pointer.  Valid from
 * open() until close() returns.  Every function is thread-safe.
 * ------------------------------------------------------------------- */
enum sb_log_level { SB_LOG_ERROR = 0, SB_LOG_WARN, SB_LOG_INFO, SB_LOG_DEBUG };

struct sb_host {
	uint32_t struct_size; /* sizeof(struct sb_host) of the host */
	const char *instance; /* the instance's name, e.g. "exchange" */
	const char *broker;   /* the broker's name, e.g. "exchange-ews" */
	/* Log one line as "[broker:instance] level: message".  Never pass a
	 * secret. */
	void (*log)(const struct sb_host *host, enum sb_log_level level,
		    const char *fmt, ...) SB_PRINTF(3, 4);
	/* Milliseconds left before the call's deadline (<= 0: passed). */
	int64_t (*remaining_ms)(const struct sb_host *host,
				const struct sb_call *call);
	/* True once the call was abandoned (deadline passed, client gone,
	 * daemon stopping): stop work and return SB_ERR_TIMEOUT. */
	bool (*cancelled)(const struct sb_host *host,
			  const struct sb_call *call);
	/* A directory where the instance may keep state across restarts
	 * (created by the host, mode 0700); NULL if none is configured. */
	const char *state_dir;
	/* Since 2.1 (a host of 2.0 has no such field: read it through
	 * sb_log_enabled): true when a line at this level would be logged,
	 * so that a broker skips building text no one will read (a debug
	 * transcript).  NULL: every level is. */
	bool (*log_enabled)(const struct sb_host *host,
			    enum sb_log_level level);
};

/* Would host->log write a line at level?  True for a host without
 * log_enabled (older than 2.1, or one that logs everything). */
static inline bool sb_log_enabled(const struct sb_host *host,
				  enum sb_log_level level)
{
	if (!host)
		return false;
	if (host->struct_size < offsetof(struct sb_host, log_enabled) +
				    sizeof(host->log_enabled) ||
	    !host->log_enabled)
		return true;
	return host->log_enabled(host, level);
}

/* ---------------------------------------------------------------------
 * The module descriptor.
 * ------------------------------------------------------------------- */

/* Flags of struct sb_broker: with SB_BROKER_SERIAL, the host never runs
 * two handlers (or test()) of one instance at once. */
#define SB_BROKER_SERIAL 0x1u

struct sb_broker {
	/* Frozen forever: */
	uint32_t magic;	      /* SB_BROKER_MAGIC */
	uint16_t abi_major;   /* SB_ABI_MAJOR the module was built with */
	uint16_t abi_minor;   /* SB_ABI_MINOR the module was built with */
	uint32_t struct_size; /* sizeof(struct sb_broker) it was built with */

	const char *name;    /* module name, e.g. "smtp"; [a-z0-9-]+ */
	const char *version; /* the module's version */
	const char *summary; /* one line */
	unsigned flags;	     /* SB_BROKER_* */

	const struct sb_config_key
	    *config;	    /* SB_CONF_END-terminated; may be NULL */
	size_t config_size; /* sizeof the broker's config struct */
	const struct sb_object
	    *objects; /* SB_OBJECT_END-terminated; may be NULL */

	/* Optional: check rules that span several keys (each key alone was
	 * checked against the table already), e.g. "auth = plain needs a
	 * username".  Return SB_OK, or SB_ERR_INVALID_INPUT with a message
	 * that names the keys.  Must not open anything: `svcbrokerd --check`,
	 * start-up and reload call it for every instance before any instance
	 * is opened.  Thread-safe; config is borrowed. */
	enum sb_status (*validate)(const void *config, struct sb_error *err);

	/* Build per-instance state from the validated config.  host and config
	 * stay valid until close().  Return SB_OK and set *state, or fill err.
	 * Called once per instance, never concurrently with anything else of
	 * that instance. */
	enum sb_status (*open)(const struct sb_host *host, const void *config,
			       void **state, struct sb_error *err);

	/* Optional: add objects discovered upstream to builder (see
	 * sb_describe_add).  The added objects must stay valid until close().
	 */
	enum sb_status (*describe)(void *state, struct sb_describe *builder,
				   struct sb_error *err);

	/* Optional connectivity check ("Test settings").  Thread-safe like
	 * execute. */
	enum sb_status (*test)(void *state, struct sb_error *err);

	/* Free state exactly once.  close(NULL) must be a no-op.  Called after
	 * every execute of the instance has returned. */
	void (*close)(void *state);
};

#define SB_BROKER_HEADER                                                       \
	.magic = SB_BROKER_MAGIC, .abi_major = SB_ABI_MAJOR,                   \
	.abi_minor = SB_ABI_MINOR, .struct_size = sizeof(struct sb_broker)

/* Declare the module's one exported symbol. */
#if defined(__GNUC__)
#define SB_EXPORT __attribute__((visibility("default")))
#else
#define SB_EXPORT
#endif

#ifdef __cplusplus
}
#endif

#endif
