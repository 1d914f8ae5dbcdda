/* The HTTP/1.1 server under the API (see http.h and, for why it is not
 * libmicrohttpd, docs/design-notes.md).
 *
 * A few event-loop threads, each with its own epoll set, share the
 * listening socket (EPOLLEXCLUSIVE: one thread is woken per connection).
 * A connection lives on the thread that accepted it; it is edge-triggered
 * and runs as a small state machine: head, body, handler (maybe
 * suspended while a worker runs the call), write, then the next request
 * on the same connection, or linger and close.  Each thread keeps its
 * connections in order of last activity, so closing the idle ones is a
 * look at the oldest.  A suspended connection belongs to the thread that
 * will answer it: that thread sends the answer itself (sbh_resume_with)
 * and queues the connection back to its loop, waking the loop (eventfd)
 * only if something is left for it to do. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "host.h"
#include "http.h"
#include "http_parse.h"
#include "json.h"
#include "metrics.h"

#define DISCARD_MAX (1024u * 1024) /* body bytes dropped to keep a conn */
#define IN_START 4096
#define IN_MAX (SBH_MAX_HEAD + 1024)
#define READ_CHUNK 65536
#define ACCEPT_BATCH 64
#define IP_BUCKETS 256

/* conn->sending: the answering thread is sending (1), and the loop found
 * the connection given back meanwhile and left it for later (2): then
 * the sender wakes the loop when it is done. */
enum { SEND_NONE, SEND_BUSY, SEND_DEFERRED };

enum cstate {
	C_HEAD,	     /* reading a request head */
	C_BODY,	     /* reading (or dropping) its body */
	C_SUSPENDED, /* its answer comes from another thread */
	C_WRITE,     /* sending an answer */
	C_LINGER,    /* answered, closing: reading what the client still
			sends, so that closing does not reset the answer */
};

struct loop {
	struct sbh_server *s;
	pthread_t th;
	int ep, evfd;
	atomic_bool stop;
	/* answered connections given back by other threads: a stack they
	 * push onto without a lock, the loop takes it whole */
	_Atomic(struct sbh_conn *) resumed;
	struct sbh_conn *deferred;    /* taken while still sending: later */
	atomic_int sleeping;	      /* in epoll_wait, or about to be */
	struct sbh_conn *old, *young; /* by last activity (not suspended) */
	struct sbh_conn *dead;	      /* closed, to be freed */
	struct sbh_conn *again;	      /* to run again (see conn_run) */
};

struct ipcount {
	struct ipcount *next;
	unsigned char addr[16];
	int len;
	long n;
};

struct sbh_server {
	struct sbh_config cfg;
	struct sbh_handlers h;
	int lfd;
	pthread_rwlock_t lfd_lock; /* accept (read) against quiesce */
	bool quiesced;
	int nloops;
	struct loop *loops;
	atomic_llong conns, body_held;
	atomic_ullong conn_refused, body_refused;
	atomic_int suspended;
	/* threads in sbh_resume/sbh_resume_with: they still touch their
	 * loop after giving the connection back, so sbh_stop waits for them
	 * before it frees the loops */
	atomic_int givers;
	atomic_llong last_warned_conn, last_warned_ip;
	pthread_mutex_t ip_mu;
	struct ipcount *ips[IP_BUCKETS];
};

struct sbh_conn {
	struct loop *l;
	int fd;
	unsigned char ip[16];
	int iplen;
	struct sbh_conn *older, *younger; /* the loop's activity list */
	bool listed;
	struct sbh_conn *rnext; /* the loop's resumed list */
	int64_t last_ms;
	enum cstate state;
	/* input: bytes in[off..len) not yet used */
	char *in;
	size_t off, len, cap;
	/* the request */
	struct sbh_request rq;
	char method[16];
	char *path;
	size_t path_cap;
	char what[200];
	int64_t start_ms;
	bool head_only; /* HEAD: the answer has no body */
	bool keep_alive;
	bool chunked;
	int64_t body_left; /* Content-Length bytes still to come */
	struct sbh_chunked ch;
	bool discard; /* the body is dropped (answered already) */
	size_t discarded;
	bool body_pending; /* answered before its body was read */
	struct sb_buf body;
	int64_t held; /* this request's part of body_held */
	bool answered;
	bool suspended;	    /* between sbh_suspend and its resume */
	atomic_int sending; /* SEND_*: sbh_resume_with is sending */
	atomic_int missed;  /* an event came while suspended */
	/* the socket may hold bytes not read yet: false after a read that
	 * drained it (edge-triggered: the next bytes bring an event, which
	 * sets it again), so a connection taken back after its answer does
	 * not ask the socket in vain */
	bool readable;
	bool maybe_more; /* at sbh_suspend: readable or peer_shut */
	bool peer_shut;	 /* EPOLLRDHUP/HUP/ERR seen: always ask the socket */
	bool dead;	 /* closed, freed at the end of the loop's round */
	struct sbh_conn *dnext;
	bool again; /* on the loop's again list */
	struct sbh_conn *anext;
	int minor;
	void *data;
	/* output */
	char head[2048];
	size_t head_len, head_off;
	char *out_body; /* owned, or NULL */
	const char *out;
	size_t out_len, out_off;
	bool interim;	  /* the head is a 100 Continue */
	bool close_after; /* close once the answer is sent */
	size_t lingered;
	/* TLS */
	SSL *ssl;      /* NULL: plain HTTP */
	char *subject; /* the peer certificate's, once asked */
	bool subject_done;
	/* the request's tag (sbh_set_tag) */
	bool access_log;
	char client[72];
	char rid[72];
	char extra[512]; /* header lines for every answer (sbh_add_headers) */
	int status;	 /* of the last answer */
};

static void conn_run(struct sbh_conn *c);

static bool once_in_10s(atomic_llong *last)
{
	long long now = sb_now_ms(), prev = atomic_load(last);
	return now - prev >= 10000 &&
	       atomic_compare_exchange_strong(last, &prev, now);
}

/* ---- the activity list -------------------------------------------------- */

static void unlist(struct sbh_conn *c)
{
	struct loop *l = c->l;
	if (!c->listed)
		return;
	if (c->older)
		c->older->younger = c->younger;
	else
		l->old = c->younger;
	if (c->younger)
		c->younger->older = c->older;
	else
		l->young = c->older;
	c->older = c->younger = NULL;
	c->listed = false;
}

static void touch(struct sbh_conn *c)
{
	struct loop *l = c->l;
	c->last_ms = sb_now_ms();
	if (c->listed && !c->younger)
		return;
	unlist(c);
	c->older = l->young;
	c->younger = NULL;
	if (l->young)
		l->young->younger = c;
	else
		l->old = c;
	l->young = c;
	c->listed = true;
}

/* ---- per-address counts ------------------------------------------------- */

static unsigned ip_hash(const unsigned char *a, int len)
{
	unsigned h = 2166136261u;
	for (int i = 0; i < len; i++)
		h = (h ^ a[i]) * 16777619u;
	return h % IP_BUCKETS;
}

/* Count one more connection from c's address: false if that passes
 * max_connections_per_ip. */
static bool ip_add(struct sbh_server *s, struct sbh_conn *c)
{
	if (s->cfg.max_connections_per_ip <= 0 || !c->iplen)
		return true;
	unsigned b = ip_hash(c->ip, c->iplen);
	bool ok = true;
	pthread_mutex_lock(&s->ip_mu);
	struct ipcount *e = s->ips[b];
	while (e && (e->len != c->iplen || memcmp(e->addr, c->ip, e->len)))
		e = e->next;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (e) {
			memcpy(e->addr, c->ip, (size_t)c->iplen);
			e->len = c->iplen;
			e->next = s->ips[b];
			s->ips[b] = e;
		}
	}
	if (!e || e->n >= s->cfg.max_connections_per_ip)
		ok = false;
	else
		e->n++;
	pthread_mutex_unlock(&s->ip_mu);
	return ok;
}

static void ip_remove(struct sbh_server *s, struct sbh_conn *c)
{
	if (s->cfg.max_connections_per_ip <= 0 || !c->iplen)
		return;
	unsigned b = ip_hash(c->ip, c->iplen);
	pthread_mutex_lock(&s->ip_mu);
	struct ipcount **pp = &s->ips[b];
	while (*pp && ((*pp)->len != c->iplen ||
		       memcmp((*pp)->addr, c->ip, (size_t)c->iplen)))
		pp = &(*pp)->next;
	if (*pp && --(*pp)->n <= 0) {
		struct ipcount *e = *pp;
		*pp = e->next;
		free(e);
	}
	pthread_mutex_unlock(&s->ip_mu);
}

/* ---- bodies held --------------------------------------------------------- */

static bool body_hold(struct sbh_conn *c, int64_t n)
{
	struct sbh_server *s = c->l->s;
	long long now = atomic_fetch_add(&s->body_held, (long long)n) + n;
	if (now > s->cfg.max_body_total) {
		atomic_fetch_sub(&s->body_held, (long long)n);
		atomic_fetch_add(&s->body_refused, 1);
		return false;
	}
	c->held += n;
	return true;
}

static void body_release(struct sbh_conn *c)
{
	if (c->held) {
		atomic_fetch_sub(&c->l->s->body_held, (long long)c->held);
		c->held = 0;
	}
}

/* ---- closing ------------------------------------------------------------- */

static void request_over(struct sbh_conn *c)
{
	struct sbh_server *s = c->l->s;
	if (c->data && s->h.on_done) {
		void *d = c->data;
		c->data = NULL;
		s->h.on_done(s->h.ud, c, d);
	}
	c->data = NULL;
	sb_buf_free(&c->body);
	body_release(c);
	free(c->out_body);
	c->out_body = NULL;
}

static void conn_close(struct sbh_conn *c)
{
	struct sbh_server *s = c->l->s;
	request_over(c);
	unlist(c);
	close(c->fd);
	ip_remove(s, c);
	atomic_fetch_sub(&s->conns, 1);
	/* an event for it may still be in this round's list */
	c->dead = true;
	c->dnext = c->l->dead;
	c->l->dead = c;
}

static void free_dead(struct loop *l)
{
	struct sbh_conn *keep = NULL;
	while (l->dead) {
		struct sbh_conn *c = l->dead;
		l->dead = c->dnext;
		if (c->again) { /* still on the again list: next round */
			c->dnext = keep;
			keep = c;
			continue;
		}
		SSL_free(c->ssl);
		free(c->subject);
		free(c->in);
		free(c->path);
		free(c);
	}
	l->dead = keep;
}

/* Run the connections conn_run left for another round. */
static void run_again(struct loop *l)
{
	struct sbh_conn *again = l->again;
	l->again = NULL;
	while (again) {
		struct sbh_conn *c = again;
		again = c->anext;
		c->again = false;
		if (!c->dead && !c->suspended)
			conn_run(c);
	}
}

/* ---- answers ------------------------------------------------------------- */

static const char *reason(int st)
{
	switch (st) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 301:
		return "Moved Permanently";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	case 507:
		return "Insufficient Storage";
	default:
		return "Status";
	}
}

/* Answers are made on loop and worker threads: one Date per thread. */
static const char *date_line(void)
{
	static __thread time_t at;
	static __thread char date[64];
	time_t now = time(NULL);
	if (now != at) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date),
			 "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		at = now;
	}
	return date;
}

#define HEAD_MAX (sizeof(((struct sbh_conn *)0)->head))

/* Append to a head of HEAD_MAX bytes (cut, never overrun). */
static size_t put(char *h, size_t o, const char *s, size_t n)
{
	if (o + n > HEAD_MAX)
		n = o < HEAD_MAX ? HEAD_MAX - o : 0;
	memcpy(h + o, s, n);
	return o + n;
}

#define PUTL(h, o, lit) put(h, o, lit, sizeof(lit) - 1)

static size_t put_str(char *h, size_t o, const char *s)
{
	return put(h, o, s, strlen(s));
}

static size_t put_num(char *h, size_t o, unsigned long long v)
{
	char b[24];
	size_t i = sizeof(b);
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put(h, o, b + i, sizeof(b) - i);
}

/* An error answer's JSON ({"error": {...}}) gets the request id inside
 * its error object.  The id needs no escaping (see security.h). */
static void error_add_rid(struct sbh_conn *c)
{
	static const char pre[] = "{\"error\":";
	size_t n = c->out_len;
	if (n < sizeof(pre) + 1 || memcmp(c->out, pre, sizeof(pre) - 1) != 0 ||
	    c->out[n - 1] != '}' || c->out[n - 2] != '}')
		return;
	size_t rl = strlen(c->rid);
	char *b = realloc(c->out_body, n + rl + 20);
	if (!b)
		return;
	/* ..."}}" -> ...",\"request_id\":\"RID\"}}" */
	int w =
	    snprintf(b + n - 2, rl + 22, ",\"request_id\":\"%s\"}}", c->rid);
	c->out_body = b;
	c->out = b;
	c->out_len = n - 2 + (size_t)w;
}

void sbh_answer(struct sbh_conn *c, const struct sbh_answer *a)
{
	static const char oom[] =
	    "{\"error\":{\"category\":\"internal\",\"code\":\"internal\","
	    "\"message\":\"out of memory\"}}";
	struct sbh_server *s = c->l->s;
	int status = a->status;
	const char *ctype =
	    a->content_type ? a->content_type : "application/json";
	free(c->out_body);
	c->out_body = NULL;
	if (a->shared) {
		c->out = a->shared;
		c->out_len = a->shared_len;
	} else if (a->body) {
		c->out_body = a->body;
		c->out = a->body;
		c->out_len = a->body_len > 0 ? a->body_len : strlen(a->body);
		if (c->rid[0] && status >= 400)
			error_add_rid(c);
	} else {
		status = 500;
		ctype = "application/json";
		c->out = oom;
		c->out_len = sizeof(oom) - 1;
	}
	c->out_off = 0;
	c->answered = true;
	c->status = status;
	/* answered before the whole body came: drop the rest if it is short
	 * and its end is known, else close after the answer */
	if ((c->state == C_HEAD || c->state == C_BODY) &&
	    (c->chunked || c->body_left > 0)) {
		c->body_pending = true;
		c->discard = true;
		sb_buf_free(&c->body);
		body_release(c);
		if (c->chunked || c->body_left > (int64_t)DISCARD_MAX)
			c->close_after = true;
	}
	if (!c->keep_alive)
		c->close_after = true;
	/* the head, without printf: it was a tenth of a GET's time */
	char *h = c->head;
	size_t o = 0;
	o = PUTL(h, o, "HTTP/1.1 ");
	o = put_num(h, o, (unsigned long long)status);
	o = PUTL(h, o, " ");
	o = put_str(h, o, reason(status));
	o = PUTL(h, o, "\r\n");
	o = put_str(h, o, date_line());
	if (status == 304 || status == 204) { /* no body, nothing about one */
		c->out_len = 0;
	} else {
		o = PUTL(h, o, "Content-Type: ");
		o = put_str(h, o, ctype);
		o = PUTL(h, o, "\r\nContent-Length: ");
		o = put_num(h, o, (unsigned long long)c->out_len);
		o = PUTL(h, o, "\r\n");
	}
	o = PUTL(h, o, "Cache-Control: ");
	o = put_str(h, o, a->cache_control ? a->cache_control : "no-store");
	o = PUTL(h, o, "\r\n");
	if (a->etag) {
		o = PUTL(h, o, "ETag: ");
		o = put_str(h, o, a->etag);
		o = PUTL(h, o, "\r\n");
	}
	if (a->headers)
		o = put_str(h, o, a->headers);
	if (c->extra[0])
		o = put_str(h, o, c->extra);
	if (c->rid[0]) {
		o = PUTL(h, o, "X-Request-Id: ");
		o = put_str(h, o, c->rid);
		o = PUTL(h, o, "\r\n");
	}
	if (a->retry_after_ms > 0) {
		/* whole seconds, rounded up */
		o = PUTL(h, o, "Retry-After: ");
		o = put_num(
		    h, o,
		    (unsigned long long)(a->retry_after_ms / 1000 +
					 (a->retry_after_ms % 1000 != 0)));
		o = PUTL(h, o, "\r\n");
	}
	if (a->allow) {
		o = PUTL(h, o, "Allow: ");
		o = put_str(h, o, a->allow);
		o = PUTL(h, o, "\r\n");
	}
	if (c->close_after)
		o = put_str(h, o, "Connection: close\r\n");
	else if (c->minor == 0)
		o = put_str(h, o, "Connection: keep-alive\r\n");
	o = PUTL(h, o, "\r\n");
	c->head_len = o;
	c->head_off = 0;
	c->interim = false;
	if (c->head_only) {
		c->out_len = 0;
	}
	c->state = C_WRITE;
	if (s->cfg.metrics)
		sbc_metrics_http(s->cfg.metrics, status);
	/* a client's mistake (505 too) is not the administrator's */
	enum sb_log_level lvl =
	    status >= 500 && status != 505 ? SB_LOG_WARN : SB_LOG_DEBUG;
	if (c->access_log && lvl > SB_LOG_INFO)
		lvl = SB_LOG_INFO;
	if (c->access_log || c->rid[0]) {
		char addr[INET6_ADDRSTRLEN] = "-";
		if (c->iplen == 4 || c->iplen == 16)
			if (!inet_ntop(c->iplen == 4 ? AF_INET : AF_INET6,
				       c->ip, addr, sizeof(addr)))
				strcpy(addr, "-");
		sbc_log(lvl, NULL, NULL,
			"%s %d %lldms %zu bytes client=%s request_id=%s "
			"addr=%s",
			c->what, status, (long long)(sb_now_ms() - c->start_ms),
			c->out_len, c->client[0] ? c->client : "-",
			c->rid[0] ? c->rid : "-", addr);
	} else
		sbc_log(lvl, NULL, NULL, "%s: %d in %lld ms", c->what, status,
			(long long)(sb_now_ms() - c->start_ms));
}

/* s (NULL: "") into buf of n bytes, cut to fit (no printf: this runs
 * for every request). */
static void copy_cut(char *buf, size_t n, const char *s)
{
	size_t len = s ? strlen(s) : 0;
	if (len >= n)
		len = n - 1;
	if (len)
		memcpy(buf, s, len);
	buf[len] = '\0';
}

void sbh_set_tag(struct sbh_conn *c, const char *client, const char *rid,
		 bool access_log)
{
	copy_cut(c->client, sizeof(c->client), client);
	copy_cut(c->rid, sizeof(c->rid), rid);
	c->access_log = access_log;
}

bool sbh_is_tls(const struct sbh_conn *c) { return c->ssl != NULL; }

int sbh_answered_status(const struct sbh_conn *c) { return c->status; }

bool sbh_add_headers(struct sbh_conn *c, const char *lines)
{
	size_t have = strlen(c->extra), n = strlen(lines);
	if (have + n >= sizeof(c->extra))
		return false;
	memcpy(c->extra + have, lines, n + 1);
	return true;
}

const char *sbh_peer_subject(struct sbh_conn *c)
{
	if (c->subject_done || !c->ssl)
		return c->subject;
	c->subject_done = true;
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	if (!cert)
		return NULL;
	if (SSL_get_verify_result(c->ssl) == X509_V_OK) {
		BIO *b = BIO_new(BIO_s_mem());
		if (b && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
					    XN_FLAG_RFC2253) >= 0) {
			char *data = NULL;
			long n = BIO_get_mem_data(b, &data);
			if (n > 0 && n < 4096 &&
			    (c->subject = malloc((size_t)n + 1))) {
				memcpy(c->subject, data, (size_t)n);
				c->subject[n] = '\0';
			}
		}
		BIO_free(b);
	}
	X509_free(cert);
	return c->subject;
}

void sbh_answer_error(struct sbh_conn *c, int http_status, int sb_status,
		      const char *code, const char *allow,
		      int64_t retry_after_ms, const char *fmt, ...)
{
	struct sb_error e;
	sb_error_clear(&e);
	e.status = (enum sb_status)sb_status;
	if (code)
		snprintf(e.code, sizeof(e.code), "%s", code);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	e.retry_after_ms = retry_after_ms;
	struct sbh_answer a = {.status = http_status,
			       .body = sbc_json_error(&e),
			       .retry_after_ms = retry_after_ms,
			       .allow = allow};
	sbh_answer(c, &a);
}

/* A request refused by the parser or the limits: answered, then closed. */
static void refuse(struct sbh_conn *c, const struct sbh_refusal *ref)
{
	c->close_after = true;
	enum sb_status st = ref->status == 413 ? SB_ERR_PAYLOAD_TOO_LARGE
					       : SB_ERR_INVALID_INPUT;
	sbh_answer_error(c, ref->status, st, ref->code, NULL, 0, "%s",
			 ref->why);
}

static void refuse_busy(struct sbh_conn *c)
{
	c->close_after = true;
	sbh_answer_error(c, 503, SB_ERR_UNAVAILABLE, "ServerBusy", NULL, 1000,
			 "the server holds as many request bodies as it may "
			 "now (max_body_total, %lld bytes): retry shortly",
			 (long long)c->l->s->cfg.max_body_total);
}

static void refuse_large(struct sbh_conn *c, int64_t n)
{
	c->close_after = true;
	if (n >= 0)
		sbh_answer_error(c, 413, SB_ERR_PAYLOAD_TOO_LARGE,
				 "PayloadTooLarge", NULL, 0,
				 "the body (%lld bytes) is larger than "
				 "max_body (%lld bytes)",
				 (long long)n,
				 (long long)c->l->s->cfg.max_body);
	else
		sbh_answer_error(c, 413, SB_ERR_PAYLOAD_TOO_LARGE,
				 "PayloadTooLarge", NULL, 0,
				 "the body is larger than max_body (%lld "
				 "bytes)",
				 (long long)c->l->s->cfg.max_body);
}

/* ---- the request --------------------------------------------------------- */

static void new_request(struct sbh_conn *c)
{
	request_over(c);
	memset(&c->rq, 0, sizeof(c->rq));
	memset(&c->ch, 0, sizeof(c->ch));
	c->state = C_HEAD;
	c->chunked = false;
	c->body_left = 0;
	c->discard = false;
	c->discarded = 0;
	c->body_pending = false;
	c->answered = false;
	c->head_only = false;
	c->interim = false;
	c->what[0] = '\0';
	c->access_log = false;
	c->client[0] = c->rid[0] = c->extra[0] = '\0';
}

/* Printable for the log: control bytes as '?'. */
static void set_what(struct sbh_conn *c, const char *method, const char *target)
{
	snprintf(c->what, sizeof(c->what), "%.16s %.150s", method, target);
	for (char *p = c->what; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* The body is read: hand it to the handler. */
static void body_done(struct sbh_conn *c)
{
	struct sbh_server *s = c->l->s;
	if (c->answered) { /* its answer is sent: the next request */
		c->body_pending = false;
		if (c->state == C_BODY)
			new_request(c);
		return;
	}
	c->rq.body = c->body.data ? c->body.data : "";
	c->rq.body_len = c->body.len;
	c->state = C_SUSPENDED; /* not reading while the handler runs */
	s->h.on_body(s->h.ud, c, &c->rq);
	sb_buf_free(&c->body);
	body_release(c);
	c->rq.body = NULL;
	c->rq.body_len = 0;
	if (c->suspended) /* wait for sbh_resume */
		return;
	if (!c->answered)
		sbh_answer_error(c, 500, SB_ERR_INTERNAL, "internal", NULL, 0,
				 "the request was not answered");
}

/* Use the head at in[off..len).  False if more bytes are needed. */
static bool take_head(struct sbh_conn *c)
{
	struct sbh_server *s = c->l->s;
	struct sbh_head h;
	struct sbh_refusal ref;
	c->start_ms = sb_now_ms();
	long n = sbh_parse_head(c->in + c->off, c->len - c->off, &h, &ref);
	if (n == 0)
		return false;
	if (n < 0) {
		c->keep_alive = false;
		snprintf(c->what, sizeof(c->what), "(malformed request)");
		refuse(c, &ref);
		return true;
	}
	c->off += (size_t)n;
	struct sbh_framing f;
	bool ok = sbh_framing(&h, &f, &ref);
	set_what(c, h.method, h.target);
	c->keep_alive = ok && f.keep_alive;
	if (!ok) {
		refuse(c, &ref);
		return true;
	}
	size_t tl = strlen(h.target) + 1;
	if (tl > c->path_cap) {
		char *p = realloc(c->path, tl);
		if (!p) {
			c->keep_alive = false;
			sbh_answer(c, &(struct sbh_answer){.status = 500});
			return true;
		}
		c->path = p;
		c->path_cap = tl;
	}
	memcpy(c->path, h.target, tl);
	snprintf(c->method, sizeof(c->method), "%s", h.method);
	c->head_only = strcmp(c->method, "HEAD") == 0;
	c->minor = h.minor;
	c->chunked = f.chunked;
	c->body_left = f.content_length > 0 ? f.content_length : 0;
	c->rq.method = c->method;
	c->rq.path = c->path;
	c->rq.content_type = f.content_type;
	c->rq.has_body = f.chunked || f.content_length > 0;
	c->rq.if_none_match = NULL;
	for (int i = 0; i < h.nfields; i++) {
		const char *fn = h.fields[i].name, *fv = h.fields[i].value;
		if (strcasecmp(fn, "If-None-Match") == 0)
			c->rq.if_none_match = fv;
		else if (strcasecmp(fn, "Authorization") == 0)
			c->rq.authorization = fv;
		else if (strcasecmp(fn, "X-Request-Id") == 0)
			c->rq.request_id = fv;
		else if (strcasecmp(fn, "Origin") == 0)
			c->rq.origin = fv;
		else if (strcasecmp(fn, "Access-Control-Request-Method") == 0)
			c->rq.acr_method = fv;
		else if (strcasecmp(fn, "Accept-Encoding") == 0)
			c->rq.accept_encoding = fv;
	}
	if (!sbh_path_decode(c->path)) {
		c->rq.content_type = NULL;
		c->rq.if_none_match = NULL;
		c->rq.authorization = c->rq.request_id = c->rq.origin = NULL;
		c->rq.acr_method = c->rq.accept_encoding = NULL;
		sbh_answer_error(c, 404, SB_ERR_NOT_FOUND, "NotFound", NULL, 0,
				 "no such path (see /v1/openapi.json)");
		return true;
	}
	bool want_body = s->h.on_head(s->h.ud, c, &c->rq);
	c->rq.content_type = NULL; /* points into the head */
	c->rq.if_none_match = NULL;
	c->rq.authorization = c->rq.request_id = c->rq.origin = NULL;
	c->rq.acr_method = c->rq.accept_encoding = NULL;
	if (c->answered) /* its body, if any, is dropped after */
		return true;
	if (!want_body || !c->rq.has_body) {
		if (c->rq.has_body) {
			c->discard = true;
			c->state = C_BODY;
			return true;
		}
		body_done(c);
		return true;
	}
	if (f.content_length > s->cfg.max_body) {
		refuse_large(c, f.content_length);
		return true;
	}
	if (f.content_length > 0 && !body_hold(c, f.content_length)) {
		refuse_busy(c);
		return true;
	}
	sb_buf_init(&c->body, (size_t)s->cfg.max_body);
	c->state = C_BODY;
	if (f.expect_100 && c->len == c->off) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		memcpy(c->head, cont, sizeof(cont) - 1);
		c->head_len = sizeof(cont) - 1;
		c->head_off = 0;
		c->out = NULL;
		c->out_len = c->out_off = 0;
		c->interim = true;
		c->state = C_WRITE;
	}
	return true;
}

/* Take body bytes in[off..len).  False if more are needed. */
static bool take_body(struct sbh_conn *c)
{
	struct sbh_server *s = c->l->s;
	if (!c->chunked) {
		size_t n = c->len - c->off;
		if ((int64_t)n > c->body_left)
			n = (size_t)c->body_left;
		if (c->discard)
			c->discarded += n;
		else if (n && !sb_buf_append(&c->body, c->in + c->off, n)) {
			c->off += n;
			c->body_left -= (int64_t)n;
			refuse_large(c, -1);
			return true;
		}
		c->off += n;
		c->body_left -= (int64_t)n;
		if (c->body_left > 0)
			return false;
		body_done(c);
		return true;
	}
	while (c->off < c->len) {
		size_t used = 0, dlen = 0;
		const char *data = NULL;
		uint64_t max =
		    c->discard ? UINT64_C(1) << 53 : (uint64_t)s->cfg.max_body;
		enum sbh_chunk_result r =
		    sbh_chunked_feed(&c->ch, c->in + c->off, c->len - c->off,
				     &used, &data, &dlen, max);
		c->off += used;
		switch (r) {
		case SBH_CHUNK_MORE:
			return false;
		case SBH_CHUNK_DATA:
			if (c->discard) {
				c->discarded += dlen;
				if (c->discarded > DISCARD_MAX) {
					/* too much to drop: close */
					c->close_after = true;
					c->state = C_WRITE;
					c->body_pending = false;
					return true;
				}
				continue;
			}
			if (!body_hold(c, (int64_t)dlen)) {
				refuse_busy(c);
				return true;
			}
			if (!sb_buf_append(&c->body, data, dlen)) {
				refuse_large(c, -1);
				return true;
			}
			continue;
		case SBH_CHUNK_END:
			body_done(c);
			return true;
		case SBH_CHUNK_BAD: {
			struct sbh_refusal ref = {
			    400, "BadChunk",
			    "the chunked body is malformed (a chunk size that "
			    "is not hexadecimal, or no CRLF after a chunk)"};
			if (c->answered) {
				c->close_after = true;
				c->state = C_WRITE;
				return true;
			}
			refuse(c, &ref);
			return true;
		}
		case SBH_CHUNK_TOO_LARGE:
			if (c->answered) {
				c->close_after = true;
				c->state = C_WRITE;
				return true;
			}
			refuse_large(c, -1);
			return true;
		}
	}
	return false;
}

/* ---- I/O ----------------------------------------------------------------- */

/* flush over TLS: what is left of head and body, gathered into records
 * of at most 16 KiB (one record for a small answer). */
static bool flush_tls(struct sbh_conn *c)
{
	char buf[16384];
	for (;;) {
		size_t n = 0, hl = c->head_len - c->head_off;
		if (hl) {
			n = hl < sizeof(buf) ? hl : sizeof(buf);
			memcpy(buf, c->head + c->head_off, n);
		}
		if (n < sizeof(buf) && c->out_off < c->out_len) {
			size_t bl = c->out_len - c->out_off;
			if (bl > sizeof(buf) - n)
				bl = sizeof(buf) - n;
			memcpy(buf + n, c->out + c->out_off, bl);
			n += bl;
		}
		if (n == 0)
			return true;
		ERR_clear_error();
		int w = SSL_write(c->ssl, buf, (int)n);
		if (w <= 0) {
			int e = SSL_get_error(c->ssl, w);
			if (e == SSL_ERROR_WANT_WRITE ||
			    e == SSL_ERROR_WANT_READ)
				return false;
			c->close_after = true;
			c->state = C_LINGER;
			c->lingered = DISCARD_MAX + 1; /* close at once */
			return true;
		}
		size_t left = (size_t)w;
		if (left >= hl) {
			c->head_off = c->head_len;
			left -= hl;
			c->out_off += left;
		} else {
			c->head_off += left;
		}
		if (c->listed)
			touch(c);
	}
}

/* Send what is left of the answer.  True when all is sent. */
static bool flush(struct sbh_conn *c)
{
	if (c->ssl)
		return flush_tls(c);
	for (;;) {
		struct iovec iov[2];
		int n = 0;
		if (c->head_off < c->head_len) {
			iov[n].iov_base = c->head + c->head_off;
			iov[n].iov_len = c->head_len - c->head_off;
			n++;
		}
		if (c->out_off < c->out_len) {
			iov[n].iov_base = (char *)c->out + c->out_off;
			iov[n].iov_len = c->out_len - c->out_off;
			n++;
		}
		if (n == 0)
			return true;
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return false;
			c->close_after = true;
			c->state = C_LINGER;
			c->lingered = DISCARD_MAX + 1; /* close at once */
			return true;
		}
		size_t left = (size_t)w;
		size_t hl = c->head_len - c->head_off;
		if (left >= hl) {
			c->head_off = c->head_len;
			left -= hl;
			c->out_off += left;
		} else {
			c->head_off += left;
		}
		if (c->listed) /* not while another thread answers it */
			touch(c);
	}
}

/* Read into in[].  1: read something; 0: nothing now; -1: closed or an
 * error. */
static int fill(struct sbh_conn *c)
{
	if (c->off == c->len) {
		c->off = c->len = 0;
	} else if (c->off > 0 &&
		   (c->cap - c->len < 1024 || c->off > c->cap / 2)) {
		memmove(c->in, c->in + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == c->cap) {
		size_t want = c->cap * 2;
		if (c->state == C_HEAD && want > IN_MAX)
			want = IN_MAX;
		if (c->state != C_HEAD && want > READ_CHUNK)
			want = READ_CHUNK;
		if (want <= c->cap)
			return 0; /* full: the parser has refused or will */
		char *p = realloc(c->in, want);
		if (!p)
			return -1;
		c->in = p;
		c->cap = want;
	}
	if (c->ssl) {
		ERR_clear_error();
		int r =
		    SSL_read(c->ssl, c->in + c->len, (int)(c->cap - c->len));
		if (r > 0) {
			c->len += (size_t)r;
			touch(c);
			return 1;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		if (e == SSL_ERROR_SSL && sbc_log_enabled(SB_LOG_DEBUG)) {
			char why[200];
			ERR_error_string_n(ERR_get_error(), why, sizeof(why));
			sbc_log(SB_LOG_DEBUG, NULL, NULL, "TLS: %s", why);
		}
		ERR_clear_error();
		return -1;
	}
	if (!c->readable && !c->peer_shut)
		return 0;
	size_t room = c->cap - c->len;
	ssize_t r = recv(c->fd, c->in + c->len, room, 0);
	if (r > 0) {
		/* less than asked: the socket is empty now */
		if ((size_t)r < room)
			c->readable = false;
		c->len += (size_t)r;
		touch(c);
		return 1;
	}
	if (r == 0)
		return -1;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->readable = false;
		return 0;
	}
	if (errno == EINTR)
		return 0;
	return -1;
}

static void conn_run(struct sbh_conn *c)
{
	for (int rounds = 0; rounds < 10000; rounds++) {
		if (c->suspended) /* its fields are the answering thread's */
			return;
		switch (c->state) {
		case C_SUSPENDED:
			return;
		case C_WRITE:
			if (!flush(c))
				return;
			if (c->state == C_LINGER)
				break;
			if (c->interim) {
				c->interim = false;
				c->head_len = c->head_off = 0;
				c->state = C_BODY;
				break;
			}
			if (c->close_after) {
				request_over(c);
				if (c->ssl) {
					ERR_clear_error();
					SSL_shutdown(c->ssl); /* close_notify */
					ERR_clear_error();
				}
				shutdown(c->fd, SHUT_WR);
				c->state = C_LINGER;
				c->lingered = 0;
				break;
			}
			if (c->body_pending) {
				c->state = C_BODY; /* drop the rest */
				break;
			}
			new_request(c);
			break;
		case C_LINGER: {
			char buf[4096];
			for (;;) {
				if (c->lingered > DISCARD_MAX) {
					conn_close(c);
					return;
				}
				ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
				if (r > 0) {
					c->lingered += (size_t)r;
					continue;
				}
				if (r < 0 &&
				    (errno == EAGAIN || errno == EWOULDBLOCK))
					return;
				if (r < 0 && errno == EINTR)
					continue;
				conn_close(c);
				return;
			}
		}
		case C_HEAD:
		case C_BODY: {
			bool progress =
			    c->off < c->len &&
			    (c->state == C_HEAD ? take_head(c) : take_body(c));
			if (progress)
				break;
			int r = fill(c);
			if (r < 0) {
				conn_close(c);
				return;
			}
			if (r == 0) {
				if (c->len - c->off >= c->cap &&
				    c->state == C_HEAD) {
					/* full and not refused: cannot be */
					conn_close(c);
				}
				return;
			}
			break;
		}
		}
	}
	/* a client keeping the thread busy this long (pipelining without
	 * end): let the others run, and come back to it in the next round
	 * (its edge is used up: epoll would not report it again) */
	touch(c);
	if (!c->again) {
		c->again = true;
		c->anext = c->l->again;
		c->l->again = c;
	}
}

void sbh_suspend(struct sbh_conn *c)
{
	c->state = C_SUSPENDED;
	c->suspended = true;
	c->maybe_more = c->readable || c->peer_shut;
	unlist(c);
	atomic_fetch_add(&c->l->s->suspended, 1);
}

struct sbh_body *sbh_take_body(struct sbh_conn *c)
{
	struct sbh_body *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->s = c->l->s;
	b->data = c->body.data ? c->body.data : strdup("");
	if (!b->data) {
		free(b);
		return NULL;
	}
	b->len = c->body.len;
	b->held = c->held; /* released by sbh_body_free */
	c->held = 0;
	c->body.data = NULL; /* body_done's free is then a no-op */
	c->body.len = c->body.cap = 0;
	return b;
}

void sbh_body_free(struct sbh_body *b)
{
	if (!b)
		return;
	if (b->held)
		atomic_fetch_sub(&b->s->body_held, b->held);
	free(b->data);
	free(b);
}

/* Give c back to its loop (any thread): onto the loop's stack, without
 * a lock (sequentially consistent, for the sleeping flag's handshake). */
static void resumed_push(struct loop *l, struct sbh_conn *c)
{
	struct sbh_conn *head = atomic_load(&l->resumed);
	do
		c->rnext = head;
	while (!atomic_compare_exchange_weak(&l->resumed, &head, c));
}

void sbh_resume(struct sbh_conn *c)
{
	struct loop *l = c->l;
	struct sbh_server *s = l->s;
	atomic_fetch_add(&s->givers, 1);
	resumed_push(l, c);
	/* a loop that is awake looks at its list before it sleeps (see
	 * loop_main): only a sleeping one needs the eventfd */
	if (atomic_load(&l->sleeping)) {
		uint64_t one = 1;
		ssize_t w = write(l->evfd, &one, sizeof(one));
		(void)w;
	}
	atomic_fetch_sub(&s->givers, 1); /* l and s untouched from here */
}

void sbh_resume_with(struct sbh_conn *c, const struct sbh_answer *a)
{
	/* the loop does not touch a suspended connection: this thread sends
	 * the answer at once (the loop sends what the socket did not take),
	 * and the client has it without waiting for the loop to wake */
	struct loop *l = c->l;
	struct sbh_server *s = l->s;
	sbh_answer(c, a);
	/* back on the loop's list before the client can have the answer
	 * (and send its next request): the loop takes the connection when
	 * that request wakes it, or, if it finds this send not over, when
	 * this thread wakes it after the send */
	atomic_fetch_add(&s->givers, 1);
	atomic_store(&c->sending, SEND_BUSY);
	resumed_push(l, c);
	flush(c);
	/* all sent on a kept connection, with no request of the client's
	 * waiting (read already, or come meanwhile): nothing for the loop
	 * until the client sends again, which wakes it.  Else it is woken
	 * now. */
	bool wake = c->close_after || c->state == C_LINGER ||
		    c->head_off < c->head_len || c->out_off < c->out_len ||
		    c->off < c->len || c->maybe_more || atomic_load(&c->missed);
	/* from here c is the loop's; if the loop found it sending, it
	 * looks again only when woken */
	if (atomic_exchange(&c->sending, SEND_NONE) == SEND_DEFERRED)
		wake = true;
	if (wake && atomic_load(&l->sleeping)) {
		uint64_t one = 1;
		ssize_t w = write(l->evfd, &one, sizeof(one));
		(void)w;
	}
	atomic_fetch_sub(&s->givers, 1); /* l and s untouched from here */
}

void sbh_wake(struct sbh_server *s)
{
	for (int i = 0; i < s->nloops; i++) {
		uint64_t one = 1;
		ssize_t w = write(s->loops[i].evfd, &one, sizeof(one));
		(void)w;
	}
}

void sbh_set_data(struct sbh_conn *c, void *data) { c->data = data; }

void *sbh_data(struct sbh_conn *c) { return c->data; }

const char *sbh_what(struct sbh_conn *c) { return c->what; }

/* ---- the loops ----------------------------------------------------------- */

static void accept_some(struct loop *l)
{
	struct sbh_server *s = l->s;
	pthread_rwlock_rdlock(&s->lfd_lock);
	for (int i = 0; i < ACCEPT_BATCH && !s->quiesced; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		if (atomic_load(&s->conns) >= s->cfg.max_connections) {
			close(fd);
			atomic_fetch_add(&s->conn_refused, 1);
			if (once_in_10s(&s->last_warned_conn))
				sbc_log(SB_LOG_WARN, NULL, NULL,
					"http: %lld connections open, "
					"max_connections: closing new ones "
					"(said at most once in 10 s)",
					(long long)s->cfg.max_connections);
			continue;
		}
		struct sbh_conn *c = calloc(1, sizeof(*c));
		char *in = malloc(IN_START);
		if (!c || !in) {
			free(c);
			free(in);
			close(fd);
			continue;
		}
		c->l = l;
		c->fd = fd;
		c->readable = true;
		c->in = in;
		c->cap = IN_START;
		SSL_CTX *ctx =
		    s->cfg.tls_ctx ? s->cfg.tls_ctx(s->cfg.tls_ud) : NULL;
		if (ctx) {
			c->ssl = SSL_new(ctx);
			SSL_CTX_free(ctx); /* the SSL holds its own */
			if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
				SSL_free(c->ssl);
				free(c);
				free(in);
				close(fd);
				ERR_clear_error();
				continue;
			}
			SSL_set_accept_state(c->ssl);
		}
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *a = (void *)&ss;
			memcpy(c->ip, &a->sin_addr, 4);
			c->iplen = 4;
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (void *)&ss;
			memcpy(c->ip, &a->sin6_addr, 16);
			c->iplen = 16;
		}
		if (!ip_add(s, c)) {
			close(fd);
			SSL_free(c->ssl);
			free(in);
			free(c);
			if (once_in_10s(&s->last_warned_ip))
				sbc_log(
				    SB_LOG_WARN, NULL, NULL,
				    "http: a client address reached "
				    "max_connections_per_ip (%lld): "
				    "closing its new connections (said "
				    "at most once in 10 s)",
				    (long long)s->cfg.max_connections_per_ip);
			continue;
		}
		atomic_fetch_add(&s->conns, 1);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT |
						   EPOLLRDHUP | EPOLLET,
					 .data.ptr = c};
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			ip_remove(s, c);
			atomic_fetch_sub(&s->conns, 1);
			close(fd);
			SSL_free(c->ssl);
			free(in);
			free(c);
			continue;
		}
		new_request(c);
		touch(c);
		conn_run(c);
	}
	pthread_rwlock_unlock(&s->lfd_lock);
}

/* Is c still being sent on by its answering thread?  If so it is marked
 * deferred: that thread wakes the loop when it is done. */
static bool still_sending(struct sbh_conn *c)
{
	int v = atomic_load(&c->sending);
	if (v == SEND_BUSY) /* on failure v is NONE: it just finished */
		atomic_compare_exchange_strong(&c->sending, &v, SEND_DEFERRED);
	return v != SEND_NONE;
}

/* Is a deferred connection ready (its sender done)? */
static bool deferred_ready(const struct loop *l)
{
	for (const struct sbh_conn *c = l->deferred; c; c = c->rnext)
		if (atomic_load(&c->sending) == SEND_NONE)
			return true;
	return false;
}

/* Take back the connections answered by other threads.  One whose
 * answering thread is still in sendmsg is left for later rather than
 * waited for (spinning there took the CPU that thread needed). */
static void take_resumed(struct loop *l)
{
	struct sbh_conn *list = atomic_exchange(&l->resumed, NULL);
	struct sbh_conn *later = l->deferred;
	l->deferred = NULL;
	while (later) { /* looked at again, with the new ones */
		struct sbh_conn *c = later;
		later = c->rnext;
		c->rnext = list;
		list = c;
	}
	while (list) {
		struct sbh_conn *c = list;
		list = c->rnext;
		c->rnext = NULL;
		if (still_sending(c)) {
			c->rnext = l->deferred;
			l->deferred = c;
			continue;
		}
		c->suspended = false;
		atomic_store(&c->missed, 0);
		atomic_fetch_sub(&l->s->suspended, 1);
		touch(c);
		if (!c->answered && l->s->h.on_resume)
			l->s->h.on_resume(l->s->h.ud, c);
		if (!c->answered)
			sbh_answer_error(c, 500, SB_ERR_INTERNAL, "internal",
					 NULL, 0,
					 "the request was not answered");
		conn_run(c);
	}
}

static void expire(struct loop *l)
{
	int64_t now = sb_now_ms(), idle = l->s->cfg.idle_timeout_ms;
	while (l->old && now - l->old->last_ms >= idle)
		conn_close(l->old);
}

static void *loop_main(void *arg)
{
	struct loop *l = arg;
	struct epoll_event evs[64];
	for (;;) {
		if (atomic_load(&l->stop))
			break;
		int timeout = 1000;
		if (l->old) {
			int64_t left = l->old->last_ms +
				       l->s->cfg.idle_timeout_ms - sb_now_ms();
			timeout = left < 0	? 0
				  : left > 1000 ? 1000
						: (int)left + 1;
		}
		/* sleeping is set before the lists are looked at, and
		 * sbh_resume looks at it after adding to the list (a sender
		 * after ending its send): either this sees the connection or
		 * the other thread sees the flag */
		atomic_store(&l->sleeping, 1);
		bool waiting = atomic_load(&l->resumed) != NULL ||
			       atomic_load(&l->stop) || deferred_ready(l);
		if (waiting) {
			atomic_store(&l->sleeping, 0);
			take_resumed(l);
			run_again(l);
			expire(l);
			free_dead(l);
			continue;
		}
		if (l->again)
			timeout = 0;
		int n = epoll_wait(l->ep, evs, 64, timeout);
		atomic_store(&l->sleeping, 0);
		/* first, so that a returned connection's events find it back */
		take_resumed(l);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == (void *)l) {
				uint64_t v;
				ssize_t r = read(l->evfd, &v, sizeof(v));
				(void)r;
			} else if (p == (void *)l->s) {
				accept_some(l);
			} else {
				struct sbh_conn *c = p;
				if (c->dead)
					continue;
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP |
						     EPOLLHUP | EPOLLERR))
					c->readable = true;
				if (evs[i].events &
				    (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
					c->peer_shut = true;
				if (c->suspended) { /* nothing until resumed */
					atomic_store(&c->missed, 1);
					continue;
				}
				conn_run(c);
			}
		}
		run_again(l);
		expire(l);
		free_dead(l);
	}
	while (l->old)
		conn_close(l->old);
	for (struct sbh_conn *c = l->again; c; c = c->anext)
		c->again = false;
	l->again = NULL;
	free_dead(l);
	return NULL;
}

struct sbh_server *sbh_start(const struct sbh_config *cfg,
			     const struct sbh_handlers *h, char *errbuf,
			     size_t errlen)
{
	struct sbh_server *s = calloc(1, sizeof(*s));
	int n = cfg->threads > 0 ? cfg->threads : 2;
	if (!s || !(s->loops = calloc((size_t)n, sizeof(struct loop)))) {
		free(s);
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->h = *h;
	s->lfd = cfg->fd;
	s->nloops = n;
	pthread_rwlock_init(&s->lfd_lock, NULL);
	pthread_mutex_init(&s->ip_mu, NULL);
	int started = 0;
	for (int i = 0; i < n; i++) {
		struct loop *l = &s->loops[i];
		l->s = s;
		l->ep = epoll_create1(EPOLL_CLOEXEC);
		l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
		struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE,
					  .data.ptr = s};
		if (l->ep < 0 || l->evfd < 0 ||
		    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->evfd, &ev) != 0 ||
		    epoll_ctl(l->ep, EPOLL_CTL_ADD, s->lfd, &lev) != 0 ||
		    pthread_create(&l->th, NULL, loop_main, l) != 0) {
			snprintf(errbuf, errlen, "HTTP server: %s",
				 strerror(errno));
			if (l->ep >= 0)
				close(l->ep);
			if (l->evfd >= 0)
				close(l->evfd);
			break;
		}
		started++;
	}
	if (started < n) {
		s->nloops = started;
		sbh_stop(s);
		return NULL;
	}
	return s;
}

void sbh_quiesce(struct sbh_server *s)
{
	if (!s)
		return;
	pthread_rwlock_wrlock(&s->lfd_lock);
	if (!s->quiesced) {
		s->quiesced = true;
		for (int i = 0; i < s->nloops; i++)
			epoll_ctl(s->loops[i].ep, EPOLL_CTL_DEL, s->lfd, NULL);
		close(s->lfd);
		s->lfd = -1;
	}
	pthread_rwlock_unlock(&s->lfd_lock);
}

void sbh_stop(struct sbh_server *s)
{
	if (!s)
		return;
	sbh_quiesce(s);
	for (int i = 0; i < s->nloops; i++) {
		struct loop *l = &s->loops[i];
		atomic_store(&l->stop, true);
		uint64_t one = 1;
		ssize_t w = write(l->evfd, &one, sizeof(one));
		(void)w;
	}
	/* a thread that gave a connection back may still be about to wake
	 * its loop (a few instructions; bounded all the same) */
	for (int spins = 0; atomic_load(&s->givers) > 0 && spins < 100000;
	     spins++) {
		struct timespec ts = {0, 10000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < s->nloops; i++) {
		struct loop *l = &s->loops[i];
		pthread_join(l->th, NULL);
		close(l->ep);
		close(l->evfd);
	}
	for (int b = 0; b < IP_BUCKETS; b++)
		while (s->ips[b]) {
			struct ipcount *e = s->ips[b];
			s->ips[b] = e->next;
			free(e);
		}
	pthread_mutex_destroy(&s->ip_mu);
	pthread_rwlock_destroy(&s->lfd_lock);
	free(s->loops);
	free(s);
}

int sbh_suspended(struct sbh_server *s) { return atomic_load(&s->suspended); }

void sbh_stats(struct sbh_server *s, struct sbh_stats *out)
{
	out->connections = atomic_load(&s->conns);
	out->body_bytes = atomic_load(&s->body_held);
	out->conn_refused = (long long)atomic_load(&s->conn_refused);
	out->body_refused = (long long)atomic_load(&s->body_refused);
}
