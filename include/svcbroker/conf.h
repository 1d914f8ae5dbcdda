/* svcbroker — configuration values and binding a typed key table.
 *
 * The host reads INI files into key/value pairs and binds them through these
 * functions, for a broker's instance keys and for its own [server] and host
 * keys alike; a broker's unit tests (see <svcbroker/testhost.h>) bind the
 * same way.  Every function is thread-safe and keeps no state.
 */
#ifndef SVCBROKER_CONF_H
#define SVCBROKER_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <svcbroker/broker.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- values ---------------------------------------------------------------
 * Each returns true and sets *out (out may be NULL), or false if s is not
 * a value of that kind. */
bool sb_parse_bool(const char *s, bool *out); /* yes/no/true/false/on/off/1/0 */
bool sb_parse_int64(const char *s, int64_t *out); /* [+-]digits */
bool sb_parse_duration_ms(const char *s,
			  int64_t *out);	 /* 250ms 30s 5m 1h 1h30m 0 */
bool sb_parse_size(const char *s, int64_t *out); /* 512 64KiB 10MiB 1GiB */
/* The shortest exact form: 90000 -> "90s", 3600000 -> "1h"; 1048576 ->
 * "1MiB". */
void sb_format_duration_ms(int64_t ms, char *buf, size_t n);
void sb_format_size(int64_t bytes, char *buf, size_t n);

/* ---- paths ------------------------------------------------------------------
 * Configuration paths are relative to the file that names them.  Each
 * returns a malloc'd string, or NULL when out of memory (or, for
 * sb_path_absolute, when the working directory cannot be read). */
/* The directory of a file path: "/a/b.ini" -> "/a", "b.ini" -> ".". */
char *sb_path_dir(const char *file);
/* p made absolute against dir (a copy of p if it is absolute already). */
char *sb_path_against(const char *dir, const char *p);
/* p made absolute against the working directory. */
char *sb_path_absolute(const char *p);
/* For validate(): the file a path key names can be read now, so that
 * `svcbrokerd --check` finds a missing or unreadable file before open()
 * does.  path NULL or "" is fine (the key is unset).  With
 * SB_PATH_PRIVATE (a private key, a keytab) it must also not be readable
 * or writable by group or others.  SB_OK, or SB_ERR_INVALID_INPUT with a
 * message naming key, the path and what is wrong ("no such file", "not
 * a regular file", "permission denied", "readable by group or others
 * (mode 0644): chmod 600 it").  Since libsvcbroker 2.2 (contract 2.1). */
#define SB_PATH_PRIVATE 0x1u
enum sb_status sb_path_check(const char *key, const char *path, unsigned flags,
			     struct sb_error *err);

/* ---- tables -----------------------------------------------------------------
 * A table with SB_CONF_FRAGMENT entries, flattened: every real key with its
 * offset from the start of the outermost struct.  Returns the number of
 * keys (at most max are written; fragments nest at most 4 deep), or 0 for
 * an empty or NULL table. */
struct sb_conf_flat {
	const struct sb_config_key *key;
	size_t offset;
};
#define SB_CONF_KEYS_MAX 256
size_t sb_conf_flatten(const struct sb_config_key *table,
		       struct sb_conf_flat *out, size_t max);

/* ---- shared fragments -------------------------------------------------------
 * Key tables several brokers include with SB_CONF_INCLUDE, so the keys are
 * named, typed and documented once.
 *
 *   struct my_conf { char *url; struct sb_tls_conf tls; };
 *   static const struct sb_config_key my_keys[] = {
 *           {.key = "url", ...},
 *           SB_CONF_INCLUDE("tls", sb_tls_keys, offsetof(struct my_conf, tls)),
 *           SB_CONF_END};
 */
/* verify_tls (default yes) and ca_file: how a broker trusts its server. */
struct sb_tls_conf {
	bool verify_tls; /* verify the server's certificate and host name */
	char *ca_file;	 /* PEM file of trusted authorities; NULL: system's */
};
extern const struct sb_config_key sb_tls_keys[];

/* The size and alignment of the field a key of type t binds to (0 for a
 * fragment, which has no field of its own). */
size_t sb_conf_field_size(enum sb_conf_type t, size_t *align);

/* ---- binding ------------------------------------------------------------- */

/* One key = value as read, with where it was set.  value is after
 * ${env:}/${file:} substitution (secret_ref: it came from one, so it is
 * never quoted in a message); a list key continued on indented lines has
 * them joined with '\n'. */
struct sb_conf_kv {
	const char *key;
	const char *value;
	const char *file;
	int line;
	bool secret_ref;
};

/* Where the keys come from, for messages: "FILE:LINE: LABEL KEY: what is
 * wrong".  file/line are the section's (for missing keys and defaults);
 * also_valid lists further key names that are valid in the section (shown
 * when a key is unknown), NULL-terminated, may be NULL. */
struct sb_conf_where {
	const char *label; /* "[instance mail]", "[server]" */
	const char *file;
	int line;
	const char *const *also_valid;
};

/* Called once for each problem with the whole message. */
typedef void (*sb_conf_report_fn)(void *ctx, const char *message);

/* Bind kv[0..n) to table into conf (conf_size bytes, zeroed by the caller):
 * unknown keys are refused (listing the valid ones), then each value is
 * parsed by its key's type and checked (range, choices, URL schemes),
 * missing required keys are reported and defaults are applied through the
 * same parser.  Paths are made absolute against the file that set them.
 * Never quotes a secret.  Returns the number of problems reported; with
 * problems, conf may hold some fields: release it with sb_conf_release. */
int sb_conf_bind(const struct sb_config_key *table, void *conf,
		 size_t conf_size, const struct sb_conf_kv *kv, size_t n,
		 const struct sb_conf_where *where, sb_conf_report_fn report,
		 void *ctx);
/* Free what binding allocated in conf (strings, lists; secrets are wiped
 * first) and zero those fields; conf itself is the caller's.  Fields that
 * would lie past conf_size bytes are not touched (a table that does not
 * fit its struct is refused by sb_conf_bind).  NULL conf is a no-op. */
void sb_conf_release(const struct sb_config_key *table, void *conf,
		     size_t conf_size);

/* v as safe to quote in a message about configuration: at most max bytes,
 * and the password of any URL in it ("scheme://user:password@host") shown
 * as "***".  Writes a NUL-terminated string to out (n bytes). */
void sb_conf_shown(const char *v, size_t max, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
