/* svcbroker front — the web console's static files under /ui/ (console.c):
 * its own files from [server] console_dir, and the JavaScript libraries it
 * uses from [server] console_libs (Debian's /usr/share/javascript), each
 * under a fixed name.  Private to the front. */
#ifndef SVCBROKER_CONSOLE_H
#define SVCBROKER_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "http.h"

/* Where the files are; both absolute, borrowed for the server's life. */
struct sbc_console {
	const char *dir;  /* the console's own files */
	const char *libs; /* the libraries: <libs>/<package>/... */
};

/* Whether the console is served: mode is [server] console (enum
 * sbc_console_mode), listen the address the API listens on.  "loopback"
 * serves it only on 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool sbc_console_enabled(int mode, const struct sockaddr_storage *listen);

/* True if path is the console's: "/ui" or anything under "/ui/". */
bool sbc_console_path(const char *path);

/* Answer a request for a console path (sbc_console_path): the file with
 * its content type, an ETag, Cache-Control: no-cache and the console's
 * Content-Security-Policy; 304 when If-None-Match names the ETag; 404 for
 * a path that is not a file the console may serve (see
 * sbc_console_file); 405 for a method other than GET and HEAD; "/ui"
 * redirects to "/ui/". */
void sbc_console_serve(const struct sbc_console *con, struct sbh_conn *c,
		       const struct sbh_request *rq);

/* The file a path under "/ui/" (rel, without that prefix; "" is
 * index.html) names: false if it is not one the console serves.  Else
 * *root is con->dir or con->libs, file gets "<package>/<rest>" or rel
 * (at most n bytes) and *ctype its content type.  A path serves only if
 * every segment is 1..128 characters of [A-Za-z0-9._-] starting with a
 * letter or digit (no "..", no hidden files, no escapes), there are at
 * most 8 segments, its extension is one of a fixed list, and a library
 * path names a package of a fixed list. */
bool sbc_console_file(const struct sbc_console *con, const char *rel,
		      const char **root, char *file, size_t n,
		      const char **ctype);

/* True if an If-None-Match value (a list of entity tags, or "*")
 * matches etag (quoted, as sent in ETag); weak tags compare by their
 * opaque part. */
bool sbc_console_etag_match(const char *if_none_match, const char *etag);

#endif
