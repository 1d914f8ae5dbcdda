/* The API's security policy (see security.h and docs/design-notes.md,
 * "API security"): clients and their grants, the listener's TLS context,
 * CORS origins and request ids. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "security.h"

#define SBC_TOKEN_CACHE_MAX 256

struct doc_slot {
	int64_t generation; /* 0: empty */
	void *doc;
	void (*unref)(void *);
};

struct sbc_client {
	char *name;
	bool has_token;
	unsigned char token_hash[32];
	char *cert_subject;
	char **allow;	  /* NULL-terminated (may be empty) */
	char **mailboxes; /* NULL-terminated (may be empty) */
	int64_t per_minute;
	/* the call rate: a bucket of per_minute calls, refilled evenly */
	pthread_mutex_t mu; /* tokens, last_ms, docs */
	double tokens;
	int64_t last_ms;
	struct doc_slot docs[2];
};

struct sbc_security {
	atomic_int refs;
	uint64_t serial; /* unique per policy built (the token cache) */
	struct sbc_client *clients;
	size_t n_clients;
	SSL_CTX *tls;
	char **origins;
	bool access_log;
	bool audit_log;
};

static char **strv_copy(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	char **out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			for (size_t k = 0; k < i; k++)
				free(out[k]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static bool unhex32(const char *hex, unsigned char out[32])
{
	for (size_t i = 0; i < 32; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = hex[2 * i + (size_t)k];
			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v |= (unsigned)(ch - 'a' + 10);
			else if (ch >= 'A' && ch <= 'F')
				v |= (unsigned)(ch - 'A' + 10);
			else
				return false;
		}
		out[i] = (unsigned char)v;
	}
	return hex[64] == '\0';
}

/* SHA-256 (FIPS 180-4), here rather than OpenSSL's EVP_Digest: that
 * fetches the algorithm under a process-wide lock on every call, which
 * cost a third of the throughput of authenticated requests. */
static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 =
		    ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 =
		    ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5],
		 g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
			      ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
	OPENSSL_cleanse(w, sizeof(w));
}

static void sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const unsigned char *p = data;
	size_t left = len;
	for (; left >= 64; left -= 64, p += 64)
		sha_block(h, p);
	unsigned char last[128] = {0};
	memcpy(last, p, left);
	last[left] = 0x80;
	size_t n = left < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	for (size_t i = 0; i < 8; i++)
		last[n - 1 - i] = (unsigned char)(bits >> (8 * i));
	sha_block(h, last);
	if (n == 128)
		sha_block(h, last + 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(h[i] >> 8);
		out[4 * i + 3] = (unsigned char)h[i];
	}
	OPENSSL_cleanse(last, sizeof(last));
}

void sbc_sha256_hex(const char *s, size_t len, char out[65])
{
	unsigned char md[32];
	static const char hx[] = "0123456789abcdef";
	sha256(s, len, md);
	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[64] = '\0';
}

/* The last OpenSSL error as text (the queue is emptied). */
static const char *ssl_error(char *buf, size_t n)
{
	unsigned long e = ERR_get_error(), more;
	while ((more = ERR_get_error()) != 0)
		e = more;
	if (!e) {
		snprintf(buf, n, "unknown error");
		return buf;
	}
	ERR_error_string_n(e, buf, n);
	return buf;
}

static SSL_CTX *tls_build(const struct sbc_config *cfg,
			  struct sbc_errlist *errs)
{
	char why[256];
	const char *where = cfg->path;
	/* config_load.c checked that tls_cert and tls_key go together */
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		sbc_errlist_add(errs, "%s: [server] TLS: %s", where,
				ssl_error(why, sizeof(why)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	static const unsigned char sid[] = "svcbrokerd";
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		sbc_errlist_add(
		    errs, "%s: [server] tls_cert: cannot use %s: %s", where,
		    cfg->tls_cert, ssl_error(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) !=
	    1) {
		/* never the key's bytes: only its path */
		sbc_errlist_add(errs, "%s: [server] tls_key: cannot use %s: %s",
				where, cfg->tls_key,
				ssl_error(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		sbc_errlist_add(errs,
				"%s: [server] tls_key: %s does not match the "
				"certificate in %s",
				where, cfg->tls_key, cfg->tls_cert);
		ERR_clear_error();
		goto fail;
	}
	if (cfg->tls_client_ca) {
		STACK_OF(X509_NAME) *names =
		    SSL_load_client_CA_file(cfg->tls_client_ca);
		if (!names || SSL_CTX_load_verify_locations(
				  ctx, cfg->tls_client_ca, NULL) != 1) {
			if (names)
				sk_X509_NAME_pop_free(names, X509_NAME_free);
			sbc_errlist_add(errs,
					"%s: [server] tls_client_ca: cannot "
					"use %s: %s",
					where, cfg->tls_client_ca,
					ssl_error(why, sizeof(why)));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		/* asked for, not required: a client without a certificate
		 * may still authenticate with a token */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_verify_depth(ctx, 8);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct sbc_security *sbc_security_build(const struct sbc_config *cfg,
					struct sbc_errlist *errs)
{
	struct sbc_security *s = calloc(1, sizeof(*s));
	if (!s) {
		sbc_errlist_add(errs, "out of memory");
		return NULL;
	}
	atomic_init(&s->refs, 1);
	static atomic_ullong serials;
	s->serial = atomic_fetch_add(&serials, 1) + 1;
	s->access_log = cfg->access_log;
	s->audit_log = cfg->audit_log;
	bool ok = true;
	if (cfg->cors_origins) {
		s->origins = strv_copy(cfg->cors_origins);
		ok = s->origins != NULL;
	}
	if (cfg->tls_cert && cfg->tls_key) {
		s->tls = tls_build(cfg, errs);
		ok = ok && s->tls;
	}
	if (cfg->n_clients) {
		s->clients = calloc(cfg->n_clients, sizeof(*s->clients));
		ok = ok && s->clients;
	}
	for (size_t i = 0; ok && i < cfg->n_clients; i++) {
		const struct sbc_client_conf *cc = &cfg->clients[i];
		struct sbc_client *c = &s->clients[i];
		pthread_mutex_init(&c->mu, NULL);
		s->n_clients++;
		c->name = strdup(cc->name);
		c->cert_subject =
		    cc->cert_subject ? strdup(cc->cert_subject) : NULL;
		c->allow = strv_copy(cc->allow);
		c->mailboxes = strv_copy(cc->mailboxes);
		c->per_minute = cc->max_calls_per_minute;
		c->tokens = (double)c->per_minute;
		if (cc->token_sha256) {
			c->has_token = unhex32(cc->token_sha256, c->token_hash);
			ok = c->has_token;
		}
		if (!c->name || !c->allow || !c->mailboxes ||
		    (cc->cert_subject && !c->cert_subject))
			ok = false;
	}
	if (!ok) {
		if (errs->total == 0)
			sbc_errlist_add(errs, "out of memory");
		sbc_security_unref(s);
		return NULL;
	}
	return s;
}

struct sbc_security *sbc_security_ref(struct sbc_security *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void sbc_security_unref(struct sbc_security *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->n_clients; i++) {
		struct sbc_client *c = &s->clients[i];
		free(c->name);
		free(c->cert_subject);
		strv_free(c->allow);
		strv_free(c->mailboxes);
		for (int k = 0; k < 2; k++)
			if (c->docs[k].doc)
				c->docs[k].unref(c->docs[k].doc);
		OPENSSL_cleanse(c->token_hash, sizeof(c->token_hash));
		pthread_mutex_destroy(&c->mu);
	}
	free(s->clients);
	strv_free(s->origins);
	SSL_CTX_free(s->tls);
	free(s);
}

bool sbc_security_closed(const struct sbc_security *s)
{
	return s && s->n_clients > 0;
}

void *sbc_security_tls(const struct sbc_security *s)
{
	return s ? s->tls : NULL;
}

bool sbc_security_access_log(const struct sbc_security *s)
{
	return s && s->access_log;
}

bool sbc_security_audit_log(const struct sbc_security *s)
{
	return !s || s->audit_log;
}

bool sbc_security_origin_ok(const struct sbc_security *s, const char *origin)
{
	for (size_t i = 0; s && origin && s->origins && s->origins[i]; i++)
		if (strcmp(s->origins[i], origin) == 0 ||
		    strcmp(s->origins[i], "*") == 0)
			return true;
	return false;
}

/* The last token this thread found a client for, under the policy of
 * that serial: a kept-alive connection sends the same token with every
 * request, and comparing it (in constant time) is cheaper than hashing
 * it.  Wiped when replaced. */
static _Thread_local struct {
	uint64_t serial;
	size_t len, client;
	char token[SBC_TOKEN_CACHE_MAX];
} last_token;

const struct sbc_client *sbc_security_by_token(const struct sbc_security *s,
					       const char *token)
{
	if (!s || !token || !*token)
		return NULL;
	size_t len = strlen(token);
	if (last_token.serial == s->serial && last_token.len == len &&
	    CRYPTO_memcmp(last_token.token, token, len) == 0)
		return &s->clients[last_token.client];
	unsigned char md[32];
	sha256(token, len, md);
	/* every client is compared, whichever matches */
	const struct sbc_client *found = NULL;
	for (size_t i = 0; i < s->n_clients; i++) {
		const struct sbc_client *c = &s->clients[i];
		bool eq = CRYPTO_memcmp(md, c->token_hash, 32) == 0;
		if (eq && c->has_token && !found)
			found = c;
	}
	if (found && len < sizeof(last_token.token)) {
		OPENSSL_cleanse(last_token.token, sizeof(last_token.token));
		memcpy(last_token.token, token, len);
		last_token.len = len;
		last_token.client = (size_t)(found - s->clients);
		last_token.serial = s->serial;
	}
	return found;
}

const struct sbc_client *sbc_security_by_subject(const struct sbc_security *s,
						 const char *subject)
{
	for (size_t i = 0; s && subject && i < s->n_clients; i++)
		if (s->clients[i].cert_subject &&
		    strcmp(s->clients[i].cert_subject, subject) == 0)
			return &s->clients[i];
	return NULL;
}

const char *sbc_client_name(const struct sbc_client *c)
{
	return c ? c->name : "-";
}

/* Does s match pattern p, where '*' matches any run of characters and
 * every other character itself?  (Linear: the last '*' is retried.) */
static bool glob_match(const char *p, const char *s)
{
	const char *star = NULL, *retry = NULL;
	while (*s) {
		if (*p == '*') {
			star = ++p;
			retry = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star;
			s = ++retry;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

bool sbc_client_may_call(const struct sbc_client *c, const char *instance,
			 const char *object, const char *method)
{
	if (!c)
		return true;
	char addr[3 * 260];
	size_t li = strlen(instance), lo = strlen(object), lm = strlen(method);
	if (li + lo + lm + 3 > sizeof(addr))
		return false;
	memcpy(addr, instance, li);
	addr[li] = '/';
	memcpy(addr + li + 1, object, lo);
	addr[li + 1 + lo] = '.';
	memcpy(addr + li + 2 + lo, method, lm + 1);
	for (size_t i = 0; c->allow[i]; i++)
		if (glob_match(c->allow[i], addr))
			return true;
	return false;
}

bool sbc_client_may_mailbox(const struct sbc_client *c, const char *mailbox)
{
	if (!c)
		return true;
	for (size_t i = 0; c->mailboxes[i]; i++) {
		const char *g = c->mailboxes[i];
		if (strcmp(g, "none") == 0) /* alone: no mailbox at all */
			return false;
		if (strcmp(g, "*") == 0)
			return true;
		if (!mailbox) {
			if (strcmp(g, "default") == 0)
				return true;
			continue;
		}
		if (g[0] == '*' && g[1] == '@') {
			size_t gl = strlen(g + 1), ml = strlen(mailbox);
			if (ml > gl && mailbox[0] != '@' &&
			    strcasecmp(mailbox + ml - gl, g + 1) == 0 &&
			    !memchr(mailbox, '@', ml - gl))
				return true;
			continue;
		}
		if (strcasecmp(g, mailbox) == 0)
			return true;
	}
	return false;
}

bool sbc_client_rate(const struct sbc_client *cc, int64_t now_ms,
		     int64_t *retry_ms)
{
	if (!cc || cc->per_minute <= 0)
		return true;
	struct sbc_client *c = (struct sbc_client *)cc; /* the counters */
	pthread_mutex_lock(&c->mu);
	double rate = (double)c->per_minute / 60000.0; /* calls per ms */
	if (c->last_ms) {
		c->tokens += (double)(now_ms - c->last_ms) * rate;
		if (c->tokens > (double)c->per_minute)
			c->tokens = (double)c->per_minute;
	}
	c->last_ms = now_ms;
	bool ok = c->tokens >= 1.0;
	if (ok)
		c->tokens -= 1.0;
	else if (retry_ms)
		*retry_ms = (int64_t)((1.0 - c->tokens) / rate) + 1;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

void sbc_security_carry_rates(struct sbc_security *to,
			      const struct sbc_security *from)
{
	if (!to || !from)
		return;
	for (size_t i = 0; i < to->n_clients; i++) {
		struct sbc_client *c = &to->clients[i];
		if (c->per_minute <= 0)
			continue;
		for (size_t j = 0; j < from->n_clients; j++) {
			struct sbc_client *o = &from->clients[j];
			if (o->per_minute <= 0 || strcmp(o->name, c->name) != 0)
				continue;
			pthread_mutex_lock(&o->mu);
			double tokens = o->tokens;
			int64_t last = o->last_ms;
			pthread_mutex_unlock(&o->mu);
			pthread_mutex_lock(&c->mu);
			c->tokens = tokens < (double)c->per_minute
					? tokens
					: (double)c->per_minute;
			c->last_ms = last;
			pthread_mutex_unlock(&c->mu);
			break;
		}
	}
}

void *sbc_client_doc_get(const struct sbc_client *cc, int which,
			 int64_t generation, void *(*ref)(void *))
{
	struct sbc_client *c = (struct sbc_client *)cc; /* the cache */
	void *out = NULL;
	pthread_mutex_lock(&c->mu);
	struct doc_slot *d = &c->docs[which];
	if (d->doc && d->generation == generation)
		out = ref(d->doc);
	pthread_mutex_unlock(&c->mu);
	return out;
}

void sbc_client_doc_put(const struct sbc_client *cc, int which,
			int64_t generation, void *doc, void (*unref)(void *))
{
	struct sbc_client *c = (struct sbc_client *)cc;
	void *old = doc;
	pthread_mutex_lock(&c->mu);
	struct doc_slot *d = &c->docs[which];
	if (generation >= d->generation) {
		old = d->doc;
		d->doc = doc;
		d->unref = unref;
		d->generation = generation;
	}
	pthread_mutex_unlock(&c->mu);
	if (old)
		unref(old);
}

/* ---- request ids --------------------------------------------------------- */

static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static unsigned long long id_prefix;
static atomic_ullong id_counter;

static void id_start(void)
{
	unsigned long long r = 0;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned long long)sb_now_ms() * 2654435761u;
	id_prefix = r;
}

void sbc_request_id_new(char out[SBC_REQUEST_ID_MAX + 1])
{
	static const char hx[] = "0123456789abcdef";
	pthread_once(&id_once, id_start);
	unsigned long long n = atomic_fetch_add(&id_counter, 1) + 1;
	/* 16 hex digits of the prefix, 8 of the counter (no printf: every
	 * request makes one) */
	for (int i = 0; i < 16; i++)
		out[i] = hx[(id_prefix >> (60 - 4 * i)) & 15];
	for (int i = 0; i < 8; i++)
		out[16 + i] = hx[(n >> (28 - 4 * i)) & 15];
	out[24] = '\0';
}
