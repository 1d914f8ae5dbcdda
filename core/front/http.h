/* svcbroker core — the HTTP/1.1 server under the API (api.c): event
 * loops on epoll, keep-alive, the connection and body limits, and
 * requests answered later (a call answered from a worker thread).  Every
 * answer it makes itself (a malformed request, a limit) is JSON, as the
 * API's own. */
#ifndef SVCBROKER_HTTP_H
#define SVCBROKER_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sbh_server;
struct sbh_conn;
struct sbc_metrics;

/* A request as the handler sees it; valid during the callbacks only. */
struct sbh_request {
	const char *method;	   /* as sent ("GET", "POST", ...) */
	const char *path;	   /* decoded, see sbh_path_decode */
	const char *content_type;  /* NULL if absent */
	bool has_body;		   /* a length above 0, or chunked */
	const char *if_none_match; /* on_head only; NULL if absent */
	/* more header fields, on_head only; NULL if absent */
	const char *authorization;   /* Authorization */
	const char *request_id;	     /* X-Request-Id */
	const char *origin;	     /* Origin */
	const char *acr_method;	     /* Access-Control-Request-Method */
	const char *accept_encoding; /* Accept-Encoding */
	const char *body;	     /* on_body only */
	size_t body_len;
};

/* An answer.  body is malloc'd and taken over (NULL: an "out of memory"
 * 500); shared, if set, is sent instead and not freed.  A 304 is sent
 * without body, Content-Type or Content-Length.  */
struct sbh_answer {
	int status;
	char *body;
	const char *shared;
	size_t shared_len;
	const char *content_type;
	int64_t retry_after_ms;	   /* > 0: a Retry-After header */
	const char *allow;	   /* an Allow header, or NULL */
	size_t body_len;	   /* body's length if above 0 (else strlen) */
	const char *cache_control; /* NULL: "no-store" */
	/* An ETag header (quotes included), or NULL. */
	const char *etag;
	/* More header lines, each ending "\r\n", or NULL. */
	const char *headers;
};

/* A request body taken over from on_body (sbh_take_body), to be read after
 * on_body returns, while the connection is suspended: its bytes stay
 * counted against max_body_total until sbh_body_free. */
struct sbh_body {
	struct sbh_server *s;
	char *data; /* NUL-terminated */
	size_t len;
	long long held;
};

struct sbh_handlers {
	void *ud;
	/* The head is read: answer now (sbh_answer) or return true to have
	 * the body read and on_body called.  A body left unread is dropped
	 * (up to 1 MiB; past that the connection is closed). */
	bool (*on_head)(void *ud, struct sbh_conn *c,
			const struct sbh_request *rq);
	/* The body is read: answer now, or sbh_suspend and answer later. */
	void (*on_body)(void *ud, struct sbh_conn *c,
			const struct sbh_request *rq);
	/* A suspended connection was resumed (sbh_resume): answer now.
	 * May be NULL if every resume is sbh_resume_with. */
	void (*on_resume)(void *ud, struct sbh_conn *c);
	/* The request is over (answered, or its connection closed): free
	 * what was attached with sbh_set_data. */
	void (*on_done)(void *ud, struct sbh_conn *c, void *data);
};

struct sbh_config {
	int fd; /* a listening socket (taken over) */
	int threads;
	int64_t max_body, max_body_total, max_connections,
	    max_connections_per_ip, idle_timeout_ms;
	struct sbc_metrics *metrics; /* counts answers by class; may be NULL */
	/* HTTPS: the TLS context for a new connection (an SSL_CTX *, with a
	 * reference the server drops), or NULL to serve it in the clear.
	 * NULL function: plain HTTP. */
	void *(*tls_ctx)(void *ud);
	void *tls_ud;
};

struct sbh_stats {
	long long connections, body_bytes, conn_refused, body_refused;
};

struct sbh_server *sbh_start(const struct sbh_config *cfg,
			     const struct sbh_handlers *h, char *errbuf,
			     size_t errlen);
/* Stop accepting (the listening socket is closed); open connections are
 * still served. */
void sbh_quiesce(struct sbh_server *s);
/* Close every connection and free.  No connection may be suspended. */
void sbh_stop(struct sbh_server *s);
int sbh_suspended(struct sbh_server *s);
void sbh_stats(struct sbh_server *s, struct sbh_stats *out);

/* In the callbacks (the connection's thread): */
void sbh_answer(struct sbh_conn *c, const struct sbh_answer *a);
void sbh_set_data(struct sbh_conn *c, void *data);
void *sbh_data(struct sbh_conn *c);
const char *sbh_what(struct sbh_conn *c); /* "METHOD /path" for logs */
/* Tag the request for its answer and log lines: its client's name and
 * its request id (both copied; NULL: none).  The answer then carries
 * X-Request-Id, an error answer's JSON gets "request_id", and with
 * access_log a line per request is logged at info. */
void sbh_set_tag(struct sbh_conn *c, const char *client, const char *rid,
		 bool access_log);
/* The verified client certificate's subject (RFC 2253), or NULL (plain
 * HTTP, or no certificate).  Valid while the connection is open. */
const char *sbh_peer_subject(struct sbh_conn *c);
bool sbh_is_tls(const struct sbh_conn *c);
/* The HTTP status of the request's answer, once answered. */
int sbh_answered_status(const struct sbh_conn *c);
/* Header lines (each ending "\r\n") added to this request's answer,
 * whoever makes it; at most 511 bytes in all (false past it). */
bool sbh_add_headers(struct sbh_conn *c, const char *lines);
/* The request waits for an answer from another thread: its connection
 * reads nothing more until sbh_resume. */
void sbh_suspend(struct sbh_conn *c);
/* In on_body: take the body over (rq->body is then gone when on_body
 * returns), to read it after suspending the connection.  NULL without
 * memory (the body stays the connection's).  Any thread may read and free
 * it until the connection is resumed; free it before. */
struct sbh_body *sbh_take_body(struct sbh_conn *c);
void sbh_body_free(struct sbh_body *b);
/* From any thread, once per sbh_suspend: on_resume is called on the
 * connection's thread. */
void sbh_resume(struct sbh_conn *c);
/* From any thread, once per sbh_suspend: answer (sent from this thread as
 * far as the socket takes it) and resume; on_resume is not called. */
void sbh_resume_with(struct sbh_conn *c, const struct sbh_answer *a);
/* Wake every loop (so that connections handed back are taken now; for a
 * drain). */
void sbh_wake(struct sbh_server *s);

/* A JSON error answer (the API's format); message printf-like. */
void sbh_answer_error(struct sbh_conn *c, int http_status, int sb_status,
		      const char *code, const char *allow,
		      int64_t retry_after_ms, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#endif
