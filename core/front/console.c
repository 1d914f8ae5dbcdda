/* The web console's static files (console.h).
 *
 * The request is not trusted, the file trees are: a path is checked
 * segment by segment against a strict alphabet before it is joined to a
 * fixed root (no "..", no hidden names, no escapes survive), and only
 * files with an extension of the type table are served.  Symbolic links
 * inside the trees are followed, as Debian's /usr/share/javascript is
 * mostly links into the packages' own directories. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "front.h"

#define FILE_MAX (8 << 20) /* the largest file served */
#define SEGMENTS_MAX 8
#define SEGMENT_LEN_MAX 128

/* The console runs only its own scripts and styles, talks only to this
 * daemon, and may not be framed.  img-src allows data: for the images
 * Bootstrap's stylesheet embeds. */
#define CONSOLE_HEADERS                                                        \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; "     \
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; "         \
	"font-src 'self'; base-uri 'none'; form-action 'none'; "               \
	"frame-ancestors 'none'\r\n"                                           \
	"X-Content-Type-Options: nosniff\r\n"                                  \
	"X-Frame-Options: DENY\r\n"                                            \
	"Referrer-Policy: no-referrer\r\n"

static const struct {
	const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/vnd.microsoft.icon"},
    {"txt", "text/plain; charset=utf-8"},
    {"woff2", "font/woff2"},
};

/* The libraries the console may load, by their directory under
 * console_libs (the Debian packages libjs-bootstrap5, libjs-chart.js). */
static const char *const packages[] = {"bootstrap5", "chart.js"};

bool sbc_console_enabled(int mode, const struct sockaddr_storage *ss)
{
	if (mode == SBC_CONSOLE_ON)
		return true;
	if (mode != SBC_CONSOLE_LOOPBACK)
		return false;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) &&
			a->sin6_addr.s6_addr[12] == 127);
	}
	return false;
}

bool sbc_console_path(const char *path)
{
	return strncmp(path, "/ui", 3) == 0 &&
	       (path[3] == '\0' || path[3] == '/');
}

static bool name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

static bool alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9');
}

/* Every segment of rel is a plain name (see console.h); *last gets the
 * last one. */
static bool plain_path(const char *rel, const char **last)
{
	int n = 0;
	const char *p = rel;
	for (;;) {
		const char *s = p;
		if (!alnum(*p))
			return false;
		while (*p && *p != '/') {
			if (!name_char(*p))
				return false;
			p++;
		}
		if (p - s > SEGMENT_LEN_MAX || ++n > SEGMENTS_MAX)
			return false;
		*last = s;
		if (!*p)
			return true;
		p++; /* '/': another segment must follow */
	}
}

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot)
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot + 1, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

bool sbc_console_file(const struct sbc_console *con, const char *rel,
		      const char **root, char *file, size_t n,
		      const char **ctype)
{
	const char *last = NULL;
	if (!*rel)
		rel = "index.html";
	if (!plain_path(rel, &last))
		return false;
	*root = con->dir;
	if (strncmp(rel, "lib/", 4) == 0) {
		const char *pkg = rel + 4, *slash = strchr(pkg, '/');
		if (!slash)
			return false;
		bool known = false;
		for (size_t i = 0; i < sizeof(packages) / sizeof(packages[0]);
		     i++)
			if (strlen(packages[i]) == (size_t)(slash - pkg) &&
			    memcmp(packages[i], pkg, (size_t)(slash - pkg)) ==
				0)
				known = true;
		if (!known)
			return false;
		*root = con->libs;
		rel = pkg;
	}
	*ctype = type_of(last);
	if (!*ctype)
		return false;
	int w = snprintf(file, n, "%s", rel);
	return w > 0 && (size_t)w < n;
}

/* Skip optional white space. */
static const char *ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

bool sbc_console_etag_match(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = ows(inm);
	if (*p == '*' && *ows(p + 1) == '\0')
		return true;
	/* the whole list must be well formed, else it is ignored */
	bool match = false;
	int n = 0;
	while (*p) {
		if (++n > 64)
			return false;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		const char *s = p;
		if (*p != '"')
			return false;
		const char *q = strchr(p + 1, '"');
		if (!q)
			return false;
		p = q + 1;
		if ((size_t)(p - s) == elen && memcmp(s, etag, elen) == 0)
			match = true;
		p = ows(p);
		if (*p == ',')
			p = ows(p + 1);
		else if (*p)
			return false;
	}
	return match;
}

/* FNV-1a, 64 bits: the ETag is the content's, so it changes with every
 * change of the file and never otherwise. */
static unsigned long long fnv1a(const char *p, size_t n)
{
	unsigned long long h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The file's bytes (malloc'd, NUL-terminated) and *len; NULL with errno
 * (ENOENT also for a file that is not regular, EFBIG past FILE_MAX). */
static char *read_whole(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOENT;
		goto fail;
	}
	if (st.st_size > FILE_MAX) {
		errno = EFBIG;
		goto fail;
	}
	size_t want = (size_t)st.st_size, got = 0;
	buf = malloc(want + 1);
	if (!buf)
		goto fail;
	while (got < want) {
		ssize_t r = read(fd, buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break; /* shrank meanwhile: serve what is there */
		got += (size_t)r;
	}
	buf[got] = '\0';
	*len = got;
	close(fd);
	return buf;
fail : {
	int e = errno;
	free(buf);
	close(fd);
	errno = e;
	return NULL;
}
}

static void not_found(struct sbh_conn *c)
{
	sbh_answer_error(c, 404, SB_ERR_NOT_FOUND, "NotFound", NULL, 0,
			 "no such file in the console");
}

void sbc_console_serve(const struct sbc_console *con, struct sbh_conn *c,
		       const struct sbh_request *rq)
{
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
		sbh_answer_error(c, 405, SB_ERR_METHOD_NOT_ALLOWED,
				 "MethodNotAllowed", "GET, HEAD", 0,
				 "the console's files take GET");
		return;
	}
	if (strcmp(rq->path, "/ui") == 0) {
		struct sbh_answer a = {.status = 301,
				       .body = strdup(""),
				       .content_type =
					   "text/plain; charset=utf-8",
				       .headers = "Location: /ui/\r\n"};
		sbh_answer(c, &a);
		return;
	}
	const char *root, *ctype;
	char rel[1024], path[4096];
	if (!sbc_console_file(con, rq->path + 4, &root, rel, sizeof(rel),
			      &ctype)) {
		not_found(c);
		return;
	}
	int w = snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (w < 0 || (size_t)w >= sizeof(path)) {
		not_found(c);
		return;
	}
	size_t len = 0;
	char *body = read_whole(path, &len);
	if (!body) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
			not_found(c);
			return;
		}
		sbc_log(SB_LOG_WARN, NULL, NULL, "console: %s: %s", path,
			strerror(errno));
		sbh_answer_error(c, 500, SB_ERR_INTERNAL, "internal", NULL, 0,
				 "the console's file cannot be read (see the "
				 "daemon's log)");
		return;
	}
	char etag[48];
	snprintf(etag, sizeof(etag), "\"%zx-%016llx\"", len, fnv1a(body, len));
	struct sbh_answer a = {.status = 200,
			       .body = body,
			       .body_len = len,
			       .content_type = ctype,
			       .cache_control = "no-cache",
			       .etag = etag,
			       .headers = CONSOLE_HEADERS};
	if (rq->if_none_match &&
	    sbc_console_etag_match(rq->if_none_match, etag)) {
		free(body);
		a.status = 304;
		a.body = strdup("");
		a.body_len = 0;
	}
	sbh_answer(c, &a);
}
