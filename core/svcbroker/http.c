/* svcbroker CLI — HTTP requests to svcbrokerd (libcurl) and error answers. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include <svcbroker/sdk.h>

#include "cli.h"

struct sink {
	char *data;
	size_t len, cap, max;
	bool overflow;
};

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;

	if (n > s->max - s->len) {
		s->overflow = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *p = realloc(s->data, cap);
		if (!p) {
			s->overflow = true;
			return 0;
		}
		s->data = p;
		s->cap = cap;
	}
	memcpy(s->data + s->len, ptr, n);
	s->len += n;
	s->data[s->len] = '\0';
	return n;
}

bool cli_http_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void cli_http_exit(void) { curl_global_cleanup(); }

char *cli_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	if (!e)
		return NULL;
	char *r = cli_xstrdup(e);
	curl_free(e);
	return r;
}

/* url as shown in messages: the password of "scheme://user:password@host"
 * replaced by "***".  malloc'd. */
char *cli_shown_url(const char *url)
{
	size_t n = sb_mask_url_password(url, SIZE_MAX, NULL, 0) + 1;
	char *out = cli_xmalloc(n);
	sb_mask_url_password(url, SIZE_MAX, out, n);
	return out;
}

int cli_http(const struct cli_opts *opts, const char *path, const char *body,
	     struct cli_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	CURL *h = curl_easy_init();
	if (!h) {
		cli_err("cannot start an HTTP request (out of memory)");
		return CLI_EXIT_CONNECT;
	}
	struct sink sink = {.max = opts->max_response};
	char *url = cli_xasprintf("%s%s", opts->url, path);
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body)
		hdrs =
		    curl_slist_append(hdrs, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for large bodies. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	char *auth = NULL;
	if (opts->token) {
		auth = cli_xasprintf("Authorization: Bearer %s", opts->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (opts->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, opts->cacert);
	if (opts->cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, opts->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY,
				 opts->key ? opts->key : opts->cert);
	}

	long connect_ms = opts->timeout_ms < 10000 ? opts->timeout_ms : 10000;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)opts->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "svcbroker/" PACKAGE_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)opts->max_response);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)strlen(body));
	}

	CURLcode rc = curl_easy_perform(h);
	int ret = CLI_EXIT_OK;
	if (rc != CURLE_OK) {
		char *shown = cli_shown_url(url);
		if (sink.overflow || rc == CURLE_FILESIZE_EXCEEDED) {
			cli_err("%s: the answer is larger than %zu bytes "
				"(see --max-size)",
				shown, opts->max_response);
			ret = CLI_EXIT_SERVER;
		} else {
			cli_err("%s: %s", shown,
				errbuf[0] ? errbuf : curl_easy_strerror(rc));
			ret = CLI_EXIT_CONNECT;
		}
		free(shown);
		free(sink.data);
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		resp->body = sink.data ? sink.data : cli_xstrdup("");
		resp->len = sink.len;
		json_error_t jerr;
		resp->json = json_loadb(resp->body, resp->len,
					JSON_REJECT_DUPLICATES, &jerr);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (auth) { /* the token does not linger in the heap */
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	free(url);
	return ret;
}

void cli_response_free(struct cli_response *resp)
{
	free(resp->body);
	json_decref(resp->json);
	memset(resp, 0, sizeof(*resp));
}

void cli_print_body(const struct cli_response *resp)
{
	fwrite(resp->body, 1, resp->len, stdout);
	if (resp->len == 0 || resp->body[resp->len - 1] != '\n')
		putchar('\n');
}

int cli_report_error(const struct cli_opts *opts,
		     const struct cli_response *resp)
{
	const json_t *e = json_is_object(resp->json)
			      ? json_object_get(resp->json, "error")
			      : NULL;
	if (opts->json && resp->len > 0)
		cli_print_body(resp);
	if (!json_is_object(e)) {
		/* Not our error format (a proxy, or the HTTP layer itself):
		 * show the status and the start of the body, made printable. */
		char *start = cli_text_fit(resp->body, 200);
		cli_err("HTTP %ld%s%s", resp->status, start[0] ? ": " : "",
			start);
		free(start);
		return CLI_EXIT_SERVER;
	}
	const char *cat = cli_jstr(e, "category");
	const char *code = cli_jstr(e, "code");
	const char *msg = cli_jstr(e, "message");
	json_t *ra = json_object_get(e, "retry_after_ms");
	char *m = cli_text_fit(msg ? msg : "", 0);
	char retry[64] = "";
	if (json_is_integer(ra) && json_integer_value(ra) > 0)
		snprintf(retry, sizeof(retry), " (retry after %lld ms)",
			 (long long)json_integer_value(ra));
	cli_err("%s (HTTP %ld)%s%s%s: %s%s", cat ? cat : "error", resp->status,
		code && code[0] ? " [" : "", code && code[0] ? code : "",
		code && code[0] ? "]" : "", m, retry);
	free(m);
	return CLI_EXIT_SERVER;
}

int cli_get_json(const struct cli_opts *opts, const char *path, json_t **out)
{
	struct cli_response r;
	int ret = cli_http(opts, path, NULL, &r);
	if (ret != CLI_EXIT_OK)
		return ret;
	if (r.status != 200) {
		ret = cli_report_error(opts, &r);
	} else if (!json_is_object(r.json)) {
		char *shown = cli_shown_url(opts->url);
		cli_err("%s%s: the answer is not a JSON object", shown, path);
		free(shown);
		ret = CLI_EXIT_SERVER;
	} else {
		*out = json_incref(r.json);
	}
	cli_response_free(&r);
	return ret;
}
