/* bench/ews: post one SOAP body N times with libcurl, each on a NEW
 * connection (CURLOPT_FRESH_CONNECT and CURLOPT_FORBID_REUSE, as the
 * exchange-ews broker sends mail), and print per request
 * "HTTP_CODE TIME_TOTAL NUM_CONNECTS" like curl -w.  One process for all
 * the requests, so the times are not those of a cold process.
 *
 *   fresh URL BODY_FILE basic|ntlm USER PASSWORD N [HEADER...]
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: fresh URL BODY_FILE basic|ntlm USER "
				"PASSWORD N [HEADER...]\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	static char body[1 << 20];
	size_t len = fread(body, 1, sizeof(body), f);
	fclose(f);
	long n = strtol(argv[6], NULL, 10);
	if (n < 1 || n > 100000) {
		fprintf(stderr, "fresh: N must be 1..100000\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_ALL);
	struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
	for (int i = 7; i < argc; i++)
		hl = curl_slist_append(hl, argv[i]);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, argv[1]);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH,
			 strcmp(argv[3], "ntlm") == 0 ? CURLAUTH_NTLM
						      : CURLAUTH_BASIC);
	curl_easy_setopt(h, CURLOPT_USERNAME, argv[4]);
	curl_easy_setopt(h, CURLOPT_PASSWORD, argv[5]);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	int rc = 0;
	for (long i = 0; i < n; i++) {
		CURLcode c = curl_easy_perform(h);
		long code = 0, conns = 0;
		double t = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &t);
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
		if (c != CURLE_OK) {
			fprintf(stderr, "fresh: %s\n", curl_easy_strerror(c));
			rc = 1;
			break;
		}
		printf("%ld %f %ld\n", code, t, conns);
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hl);
	curl_global_cleanup();
	return rc;
}
