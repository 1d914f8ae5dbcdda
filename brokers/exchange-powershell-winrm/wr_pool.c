/* exchange-powershell-winrm broker — the process-wide shell pools and
 * one script's run on a pooled shell.
 *
 * A pool is the shells of one endpoint and account (url + username +
 * auth).  Every instance, of every reload generation, that names them
 * holds the same pool through a struct wr_pool of its own (its HTTP
 * client lent its own host), so two generations never make more shells
 * than the smaller max_shells between them.  No thread of its own: the
 * server reaps idle shells (IdleTimeOut), a shell idle longer is
 * forgotten here, and a shell the server forgot anyway is replaced when a
 * Command meets the fault.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wr_wsman.h"

struct wr_shell {
	char id[WR_ID_MAX];
	int64_t idle_since; /* sb_now_ms() when it went back */
	int64_t idle_ms;    /* the IdleTimeOut it was made with (0: none) */
	struct wr_shell *next;
};

struct wr_entry {
	char *key;
	int refs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wr_shell *idle; /* most recently used first */
	int open;	       /* idle + in use + being made */
	int max_seen;
	int server_cap; /* learned from a too-many-shells fault (0: none) */
	int64_t server_cap_until;
	struct wr_pool *holders;
	struct wr_entry *next;
};

struct wr_pool {
	struct wr_entry *e;
	struct wr_ws ws;
	int max_shells;
	struct wr_pool *next; /* among the entry's holders */
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wr_entry *registry;

/* ---- the entry's limit --------------------------------------------------- */

static int limit_of(struct wr_entry *e)
{
	int lim = 0;
	for (struct wr_pool *h = e->holders; h; h = h->next)
		if (!lim || h->max_shells < lim)
			lim = h->max_shells;
	if (lim < 1)
		lim = 1;
	if (e->server_cap > 0) {
		if (sb_now_ms() < e->server_cap_until) {
			if (e->server_cap < lim)
				lim = e->server_cap;
		} else {
			e->server_cap = 0;
		}
	}
	return lim;
}

/* Take idle shells out above the limit, and those idle longer than their
 * IdleTimeOut (the server reaped them: nothing to Delete).  Called with
 * e->mu held; the shells to Delete are returned. */
static struct wr_shell *trim_locked(struct wr_entry *e)
{
	struct wr_shell *del = NULL, **pp = &e->idle;
	int64_t now = sb_now_ms();
	while (*pp) {
		struct wr_shell *s = *pp;
		if (s->idle_ms > 0 && now - s->idle_since >= s->idle_ms) {
			*pp = s->next;
			e->open--;
			free(s);
			continue;
		}
		pp = &s->next;
	}
	int lim = limit_of(e);
	while (e->open > lim && e->idle) {
		struct wr_shell *s = e->idle;
		e->idle = s->next;
		e->open--;
		s->next = del;
		del = s;
	}
	return del;
}

/* Delete the shells of list (each within the clean-up budget, all
 * within budget_ms) and free them. */
static void delete_all(struct wr_pool *p, struct wr_shell *list,
		       int64_t budget_ms)
{
	int64_t end = sb_now_ms() + budget_ms;
	while (list) {
		struct wr_shell *s = list;
		list = s->next;
		int64_t left = end - sb_now_ms();
		if (left > 0) {
			enum wr_fail f;
			struct sb_error e;
			sb_error_clear(&e);
			int64_t b = left < WR_CLEANUP_MS ? left : WR_CLEANUP_MS;
			if (wr_ws_delete(&p->ws, wr_cleanup_call(b), s->id, &f,
					 &e) != SB_OK &&
			    f != WR_F_SHELL_GONE && p->ws.real->log)
				p->ws.real->log(p->ws.real, SB_LOG_INFO,
						"WinRM: deleting shell %s: %s "
						"(the server reaps it when "
						"idle)",
						s->id, e.message);
		}
		free(s);
	}
}

/* ---- get, put ------------------------------------------------------------ */

static char *key_of(const struct wr_transport_conf *c)
{
	struct sb_buf k;
	sb_buf_init(&k, 0);
	sb_buf_printf(&k, "%s\n%s\n%d", c->http->url,
		      c->http->username ? c->http->username : "",
		      c->http->auth);
	return sb_buf_steal(&k);
}

struct wr_pool *wr_pool_get(const struct sb_host *host,
			    const struct wr_transport_conf *conf,
			    struct sb_error *err)
{
	if (!host || !conf || !conf->http || !conf->http->url) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "WinRM: no url to reach");
		return NULL;
	}
	if (conf->max_shells < 1) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "WinRM: max_shells must be at least 1");
		return NULL;
	}
	struct wr_pool *p = calloc(1, sizeof(*p));
	char *key = key_of(conf);
	if (!p || !key) {
		free(p);
		free(key);
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	if (wr_ws_init(&p->ws, host, conf, err) != SB_OK) {
		free(p);
		free(key);
		return NULL;
	}
	p->max_shells = conf->max_shells;

	pthread_mutex_lock(&registry_mu);
	struct wr_entry *e = registry;
	while (e && strcmp(e->key, key) != 0)
		e = e->next;
	if (!e) {
		e = calloc(1, sizeof(*e));
		pthread_condattr_t ca;
		if (e && pthread_condattr_init(&ca) == 0) {
			pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
			pthread_cond_init(&e->cv, &ca);
			pthread_condattr_destroy(&ca);
			pthread_mutex_init(&e->mu, NULL);
			e->key = key;
			key = NULL;
			e->next = registry;
			registry = e;
		} else {
			free(e);
			e = NULL;
		}
	}
	if (!e) {
		pthread_mutex_unlock(&registry_mu);
		wr_ws_fini(&p->ws);
		free(p);
		free(key);
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		return NULL;
	}
	free(key);
	pthread_mutex_lock(&e->mu);
	e->refs++;
	p->e = e;
	p->next = e->holders;
	e->holders = p;
	/* a smaller limit holds from now on: idle shells above it go */
	struct wr_shell *del = trim_locked(e);
	pthread_mutex_unlock(&e->mu);
	pthread_mutex_unlock(&registry_mu);
	delete_all(p, del, WR_CLOSE_BUDGET_MS);
	return p;
}

void wr_pool_put(struct wr_pool *p)
{
	if (!p)
		return;
	struct wr_entry *e = p->e;
	struct wr_shell *del = NULL;
	bool last;
	pthread_mutex_lock(&registry_mu);
	pthread_mutex_lock(&e->mu);
	for (struct wr_pool **pp = &e->holders; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	last = --e->refs == 0;
	if (last) {
		for (struct wr_entry **pe = &registry; *pe; pe = &(*pe)->next)
			if (*pe == e) {
				*pe = e->next;
				break;
			}
		del = e->idle;
		e->idle = NULL;
		e->open = 0;
	} else {
		/* the limit may have grown: a waiting call may go on */
		pthread_cond_broadcast(&e->cv);
	}
	pthread_mutex_unlock(&e->mu);
	pthread_mutex_unlock(&registry_mu);
	if (last) {
		/* after every call of the last holder returned: every shell
		 * is idle */
		delete_all(p, del, WR_CLOSE_BUDGET_MS);
		pthread_cond_destroy(&e->cv);
		pthread_mutex_destroy(&e->mu);
		free(e->key);
		free(e);
	}
	wr_ws_fini(&p->ws);
	free(p);
}

void wr_pool_stats(struct wr_pool *p, int *open_now, int *max_seen)
{
	if (!p) {
		if (open_now)
			*open_now = 0;
		if (max_seen)
			*max_seen = 0;
		return;
	}
	pthread_mutex_lock(&p->e->mu);
	if (open_now)
		*open_now = p->e->open;
	if (max_seen)
		*max_seen = p->e->max_seen;
	pthread_mutex_unlock(&p->e->mu);
}

void wr_pool_set_transport(struct wr_pool *p, sb_http_transport_fn fn,
			   void *ctx)
{
	if (p)
		sb_http_set_transport(p->ws.http, fn, ctx);
}

/* ---- a shell for a call -------------------------------------------------- */

static void abstime_in(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* A shell for call: an idle one, or a new one while the limit allows,
 * else wait for one within the call's deadline. */
static enum sb_status acquire(struct wr_pool *p, const struct sb_call *call,
			      struct wr_shell **out, struct sb_error *err)
{
	struct wr_entry *e = p->e;
	*out = NULL;
	for (;;) {
		pthread_mutex_lock(&e->mu);
		struct wr_shell *del = trim_locked(e);
		if (del) {
			pthread_mutex_unlock(&e->mu);
			delete_all(p, del, WR_CLEANUP_MS);
			continue;
		}
		if (e->idle) {
			struct wr_shell *s = e->idle;
			e->idle = s->next;
			s->next = NULL;
			pthread_mutex_unlock(&e->mu);
			*out = s;
			return SB_OK;
		}
		int lim = limit_of(e);
		if (e->open < lim) {
			e->open++;
			if (e->open > e->max_seen)
				e->max_seen = e->open;
			pthread_mutex_unlock(&e->mu);
			struct wr_shell *s = calloc(1, sizeof(*s));
			enum wr_fail f = WR_F_LOCAL;
			enum sb_status st =
			    s ? wr_ws_create(&p->ws, call, s->id, &f, err)
			      : sb_error_set(err, SB_ERR_INTERNAL, NULL,
					     "out of memory");
			if (st == SB_OK) {
				s->idle_ms = p->ws.shell_idle_ms;
				*out = s;
				return SB_OK;
			}
			free(s);
			pthread_mutex_lock(&e->mu);
			e->open--;
			pthread_cond_broadcast(&e->cv);
			if (f == WR_F_TOO_MANY && e->open > 0) {
				/* the server's quota is below ours: no more
				 * than we hold now for a while, and wait for
				 * one of them */
				e->server_cap = e->open;
				e->server_cap_until = sb_now_ms() + 60000;
				pthread_mutex_unlock(&e->mu);
				continue;
			}
			pthread_mutex_unlock(&e->mu);
			return st;
		}
		/* wait for a shell within the deadline */
		int64_t left = wr_ws_remaining(&p->ws, call);
		if (left > 0 && wr_ws_cancelled(&p->ws, call)) {
			pthread_mutex_unlock(&e->mu);
			return sb_error_set(
			    err, SB_ERR_TIMEOUT, NULL,
			    "WinRM: the call was cancelled while "
			    "it waited for a shell");
		}
		if (left <= WR_MIN_RUN_MS) {
			int open = e->open;
			pthread_mutex_unlock(&e->mu);
			sb_error_set(err, SB_ERR_THROTTLED, "too_many_shells",
				     "WinRM: no shell free within the call's "
				     "deadline (%d in use, at most %d)",
				     open, lim);
			if (err)
				err->retry_after_ms = 1000;
			return SB_ERR_THROTTLED;
		}
		int64_t wait = left - WR_MIN_RUN_MS;
		if (wait > 1000)
			wait =
			    1000; /* cancellation is looked at every second */
		struct timespec ts;
		abstime_in(&ts, wait);
		pthread_cond_timedwait(&e->cv, &e->mu, &ts);
		pthread_mutex_unlock(&e->mu);
	}
}

/* Give s back: kept when it is fine and the limit allows, else dropped
 * (Deleted unless the server forgot it). */
static void release(struct wr_pool *p, struct wr_shell *s, bool keep, bool gone)
{
	struct wr_entry *e = p->e;
	pthread_mutex_lock(&e->mu);
	if (keep && e->open <= limit_of(e)) {
		s->idle_since = sb_now_ms();
		s->next = e->idle;
		e->idle = s;
		s = NULL;
	} else {
		e->open--;
	}
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	if (s && !gone) {
		s->next = NULL;
		delete_all(p, s, WR_CLEANUP_MS);
	} else {
		free(s);
	}
}

/* ---- one script -----------------------------------------------------------
 */

void wr_result_free(struct wr_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err_text);
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
}

/* After the Command was accepted: the error says the command may or may
 * not have run. */
static enum sb_status unknown_outcome(enum sb_status st, struct sb_error *err)
{
	if (!err)
		return st;
	char was[SB_ERROR_MSG_MAX];
	snprintf(was, sizeof(was), "%s", err->message);
	if (st == SB_OK || st == SB_ERR_THROTTLED)
		st = SB_ERR_UPSTREAM;
	sb_error_set(err, st, "outcome_unknown",
		     "the command may or may not have run: %s", was);
	return st;
}

/* End the command (Signal terminate, within the clean-up budget) and
 * give its shell back. */
static void end_command(struct wr_pool *p, struct wr_shell *s,
			const char *command_id)
{
	enum wr_fail f = WR_F_NONE;
	struct sb_error e;
	sb_error_clear(&e);
	enum sb_status st = wr_ws_signal(&p->ws, wr_cleanup_call(WR_CLEANUP_MS),
					 s->id, command_id, &f, &e);
	if (st != SB_OK && f != WR_F_SHELL_GONE && p->ws.real->log)
		p->ws.real->log(p->ws.real, SB_LOG_INFO,
				"WinRM: Signal terminate on shell %s: %s",
				s->id, e.message);
	release(p, s, st == SB_OK, f == WR_F_SHELL_GONE);
}

#define POWERSHELL "powershell.exe"

enum sb_status wr_run(struct wr_pool *p, const struct sb_call *call,
		      const char *script, size_t len, struct wr_result *res,
		      bool *started, struct sb_error *err)
{
	if (started)
		*started = false;
	if (res) {
		memset(res, 0, sizeof(*res));
		res->exit_code = -1;
	}
	if (!p || !res || (!script && len))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "wr_run: no pool, script or result");
	if (!call) /* test(): the HTTP client's own 30 s, for the whole run */
		call = wr_no_call(WR_NO_CALL_MS);
	if (memchr(script, '\0', len))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "the script holds a NUL byte");
	char *b64 = wr_encode_command(script ? script : "", len);
	if (!b64)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "the script is not valid UTF-8");
	/* the command line: "powershell.exe" and the arguments, joined by
	 * spaces */
	const char *enc_args[] = {"-NoProfile",	     "-NonInteractive",
				  "-InputFormat",    "None",
				  "-EncodedCommand", b64};
	const char *stdin_args[] = {"-NoProfile", "-NonInteractive", "-Command",
				    "-"};
	size_t cmdline = strlen(POWERSHELL);
	for (size_t i = 0; i < 6; i++)
		cmdline += 1 + strlen(enc_args[i]);
	/* the Command envelope must fit MaxEnvelopeSize too */
	bool use_stdin = cmdline > WR_CMDLINE_MAX ||
			 (int64_t)cmdline + 4096 > p->ws.max_envelope;
	const char *const *args = use_stdin ? stdin_args : enc_args;
	size_t n_args = use_stdin ? 4 : 6;

	struct wr_shell *s = NULL;
	char cid[WR_ID_MAX];
	enum wr_fail f = WR_F_NONE;
	enum sb_status st = SB_OK;
	/* a shell the server forgot is replaced before the command starts:
	 * at most every shell of the pool and a new one */
	int tries = p->max_shells + 2;
	for (int t = 0;; t++) {
		st = acquire(p, call, &s, err);
		if (st != SB_OK) {
			free(b64);
			return st;
		}
		st = wr_ws_command(&p->ws, call, s->id, POWERSHELL, args,
				   n_args, cid, &f, err);
		if (st == SB_OK)
			break;
		if (f == WR_F_SHELL_GONE && t + 1 < tries) {
			release(p, s, false, true);
			s = NULL;
			continue;
		}
		free(b64);
		if (f == WR_F_NOANSWER && st != SB_ERR_UNAVAILABLE) {
			/* it went out, no answer came: it may be running,
			 * and no CommandId to stop it by; the shell goes */
			release(p, s, false, false);
			return unknown_outcome(st, err);
		}
		/* refused: the shell is as it was (unless it is gone) */
		release(p, s,
			f != WR_F_SHELL_GONE && f != WR_F_NOANSWER &&
			    f != WR_F_LOCAL,
			f == WR_F_SHELL_GONE);
		if (f == WR_F_TOO_MANY && err)
			err->retry_after_ms = 5000;
		return st;
	}
	free(b64);
	if (started)
		*started = true;

	struct wr_recv r;
	memset(&r, 0, sizeof(r));
	sb_buf_init(&r.out, 0);
	sb_buf_init(&r.err, 0);
	r.cap = (size_t)p->ws.max_output;
	r.exit_code = -1;

	if (use_stdin) {
		/* UTF-8 (the shell's code page), in pieces that fit the
		 * envelope; a blank line last so a block still open ends */
		struct sb_buf in;
		sb_buf_init(&in, 0);
		sb_buf_append(&in, script, len);
		sb_buf_append(&in, "\r\n\r\n", 4);
		size_t piece = (size_t)(p->ws.max_envelope - 4096) / 4 * 3;
		if (in.failed)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
		for (size_t off = 0; st == SB_OK && off < in.len;) {
			size_t n = in.len - off < piece ? in.len - off : piece;
			st = wr_ws_send(&p->ws, call, s->id, cid, in.data + off,
					n, off + n == in.len, &f, err);
			off += n;
		}
		sb_buf_free(&in);
	}
	/* Receive until Done; a TimedOut fault only means no output yet */
	for (unsigned i = 0; st == SB_OK && !r.done; i++) {
		if (wr_ws_cancelled(&p->ws, call)) {
			st =
			    sb_error_set(err, SB_ERR_TIMEOUT, NULL,
					 "WinRM: the call's deadline passed or "
					 "it was cancelled while the command "
					 "ran");
			break;
		}
		if (i >= 1000000) {
			st = sb_error_set(err, SB_ERR_UPSTREAM, NULL,
					  "WinRM: no end of output after %u "
					  "Receives",
					  i);
			break;
		}
		st = wr_ws_receive(&p->ws, call, s->id, cid, &r, &f, err);
		if (st != SB_OK && f == WR_F_TIMED_OUT)
			st = SB_OK;
	}
	bool gone = st != SB_OK && f == WR_F_SHELL_GONE;
	if (gone)
		release(p, s, false, true);
	else
		end_command(p, s, cid);
	if (st != SB_OK) {
		sb_buf_free(&r.out);
		sb_buf_free(&r.err);
		return unknown_outcome(st, err);
	}
	struct sb_buf et;
	sb_buf_init(&et, 0);
	wr_clixml_reduce(r.err.data ? r.err.data : "", r.err.len, &et);
	sb_buf_append(&r.out, "", 0);
	sb_buf_append(&et, "", 0);
	sb_buf_free(&r.err);
	if (r.out.failed || et.failed) {
		sb_buf_free(&r.out);
		sb_buf_free(&et);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	res->out_len = r.out.len;
	res->out = sb_buf_steal(&r.out);
	res->err_len = et.len;
	res->err_text = sb_buf_steal(&et);
	res->exit_code = r.exit_code;
	/* what a retried fault left there is no error of this run */
	sb_error_clear(err);
	return SB_OK;
}
