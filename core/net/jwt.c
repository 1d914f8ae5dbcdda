/* libsvcbroker-net: the certificate credential of OAuth2 client
 * credentials: reading the certificate and its private key, and the JWT
 * client assertion (RFC 7523, RFC 7515 compact form) signed RS256 with
 * OpenSSL. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <svcbroker/sdk.h>

#include "oauth2_int.h"

void oauth2_json_string(struct sb_buf *b, const char *s)
{
	sb_buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			sb_buf_printf(b, "\\u%04x", *p);
		else
			sb_buf_append(b, p, 1);
	}
	sb_buf_append(b, "\"", 1);
}

/* OpenSSL's last error, for a message (its queue is per thread). */
static const char *ossl_why(char *buf, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	if (!e)
		snprintf(buf, n, "not a PEM file of the expected kind");
	else
		ERR_error_string_n(e, buf, n);
	ERR_clear_error();
	return buf;
}

/* fopen() with the mode checked on the descriptor that is read. */
static FILE *open_checked(const char *what, const char *path, bool private_key,
			  struct sb_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s %s: cannot open: %s", what, path,
			     strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s %s: not a regular file", what, path);
		close(fd);
		return NULL;
	}
	if (private_key && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s %s: mode %04o lets group or others read the "
			     "private key; chmod 600 it",
			     what, path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return NULL;
	}
	if (st.st_size > 1024 * 1024) {
		sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
			     "%s %s: larger than 1 MiB, not a PEM file", what,
			     path);
		close(fd);
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL, "%s %s: %s", what,
			     path, strerror(errno));
		close(fd);
	}
	return f;
}

/* No passphrase prompt, ever: an encrypted key is refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)u = true;
	return -1;
}

enum sb_status oauth2_cert_load(const char *cert_file, const char *key_file,
				struct oauth2_cert *c, struct sb_error *err)
{
	char why[256];
	memset(c, 0, sizeof(*c));
	ERR_clear_error();
	FILE *f = open_checked("cert_file", cert_file, false, err);
	if (!f)
		return SB_ERR_INVALID_INPUT;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "cert_file %s: no PEM certificate (%s)",
				    cert_file, ossl_why(why, sizeof(why)));
	unsigned char *der = NULL;
	int dlen = i2d_X509(x, &der);
	unsigned char sha1[EVP_MAX_MD_SIZE];
	unsigned int slen = 0;
	bool ok = dlen > 0 &&
		  EVP_Digest(der, (size_t)dlen, sha1, &slen, EVP_sha1(), NULL);
	OPENSSL_free(der);
	char *t = ok ? sb_base64url_encode(sha1, slen) : NULL;
	if (!t) {
		X509_free(x);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cert_file %s: cannot compute its "
				    "thumbprint",
				    cert_file);
	}
	snprintf(c->x5t, sizeof(c->x5t), "%s", t);
	free(t);

	f = open_checked("key_file", key_file, true, err);
	if (!f) {
		X509_free(x);
		return SB_ERR_INVALID_INPUT;
	}
	bool asked = false;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, no_passphrase, &asked);
	fclose(f);
	if (!k) {
		X509_free(x);
		if (asked) {
			ERR_clear_error();
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "key_file %s: the key is "
					    "encrypted; give it unencrypted "
					    "(mode 0600)",
					    key_file);
		}
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "key_file %s: no PEM private key (%s)",
				    key_file, ossl_why(why, sizeof(why)));
	}
	if (EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		X509_free(x);
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "key_file %s: not an RSA key (RS256 "
				    "needs one)",
				    key_file);
	}
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		EVP_PKEY_free(k);
		X509_free(x);
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "key_file %s: not the private key of "
				    "cert_file %s",
				    key_file, cert_file);
	}
	X509_free(x);
	c->key = k;
	return SB_OK;
}

void oauth2_cert_free(struct oauth2_cert *c)
{
	if (c->key)
		EVP_PKEY_free(c->key); /* OpenSSL wipes key material */
	memset(c, 0, sizeof(*c));
}

static bool append_b64url(struct sb_buf *b, const void *d, size_t n)
{
	char *s = sb_base64url_encode(d, n);
	if (!s)
		return false;
	sb_buf_puts(b, s);
	free(s);
	return !b->failed;
}

char *oauth2_jwt_assertion(const struct oauth2_cert *c, const char *aud,
			   const char *client_id, int64_t now_s,
			   int64_t lifetime_s, struct sb_error *err)
{
	char jti[37];
	if (!sb_uuid4(jti)) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL,
			     "no random bytes for the assertion's jti");
		return NULL;
	}
	struct sb_buf hdr, claims, jwt;
	sb_buf_init(&hdr, 4096);
	sb_buf_init(&claims, 16384);
	sb_buf_init(&jwt, 65536);
	sb_buf_puts(&hdr, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":");
	oauth2_json_string(&hdr, c->x5t);
	sb_buf_puts(&hdr, "}");
	sb_buf_puts(&claims, "{\"aud\":");
	oauth2_json_string(&claims, aud);
	sb_buf_puts(&claims, ",\"iss\":");
	oauth2_json_string(&claims, client_id);
	sb_buf_puts(&claims, ",\"sub\":");
	oauth2_json_string(&claims, client_id);
	sb_buf_printf(&claims,
		      ",\"jti\":\"%s\",\"nbf\":%lld,\"iat\":%lld,"
		      "\"exp\":%lld}",
		      jti, (long long)now_s, (long long)now_s,
		      (long long)(now_s + lifetime_s));
	char *out = NULL;
	unsigned char *sig = NULL;
	EVP_MD_CTX *md = NULL;
	if (hdr.failed || claims.failed ||
	    !append_b64url(&jwt, hdr.data, hdr.len) ||
	    !sb_buf_puts(&jwt, ".") ||
	    !append_b64url(&jwt, claims.data, claims.len)) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL,
			     "out of memory (client assertion)");
		goto out;
	}
	size_t siglen = 0;
	md = EVP_MD_CTX_new();
	if (!md ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, c->key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)jwt.data,
			   jwt.len) != 1 ||
	    !(sig = malloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)jwt.data,
			   jwt.len) != 1) {
		char why[256];
		sb_error_set(err, SB_ERR_INTERNAL, NULL,
			     "cannot sign the client assertion: %s",
			     ossl_why(why, sizeof(why)));
		goto out;
	}
	if (!sb_buf_puts(&jwt, ".") || !append_b64url(&jwt, sig, siglen)) {
		sb_error_set(err, SB_ERR_INTERNAL, NULL,
			     "out of memory (client assertion)");
		goto out;
	}
	out = sb_buf_steal(&jwt);
out:
	EVP_MD_CTX_free(md);
	free(sig);
	sb_buf_free(&hdr);
	sb_buf_free(&claims);
	sb_buf_free(&jwt);
	return out;
}
