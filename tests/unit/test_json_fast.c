/* The fast reader of call bodies (core/front/json_fast.c) against
 * jansson's json_loadb: where it gives a tree, jansson gives the same
 * tree, keys in the same order; where jansson refuses a body, it gives
 * none, so jansson's error is what the client reads.  The hard cases by
 * name, then every one-byte change of a few bodies. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json.h"
#include "json_same.h"

/* The promise, for one body; returns whether the fast reader vouched. */
static bool check_body(const char *body, size_t len)
{
	json_t *fast = sbc_json_fast_load(body, len);
	json_error_t je;
	json_t *slow = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (fast) {
		ck_assert_msg(slow, "fast reader took %.*s, jansson: %s",
			      (int)(len > 200 ? 200 : len), body, je.text);
		ck_assert_msg(json_same_tree(fast, slow),
			      "the two trees differ for %.*s",
			      (int)(len > 200 ? 200 : len), body);
	}
	bool vouched = fast != NULL;
	json_decref(fast);
	json_decref(slow);
	return vouched;
}

static bool check_str(const char *s) { return check_body(s, strlen(s)); }

/* Call bodies as clients send them: the fast reader takes them all. */
static const char *const good[] = {
    "{}",
    "{\"inputs\": {}}",
    "{\"inputs\": null}",
    " \t\r\n{\"inputs\":{\"Subject\":\"Hi\",\"To\":[\"a@example.com\","
    "\"b@example.com\"],\"Count\":3,\"Flag\":true,\"Off\":false,"
    "\"Gone\":null}}\r\n",
    "{\"inputs\":{\"Attachments\":[{\"Name\":\"a.txt\",\"ContentType\":"
    "\"text/plain\",\"Content\":\"aGVsbG8=\"},{\"Name\":null,"
    "\"Content\":\"\"}]}}",
    /* escapes yajl reads itself */
    "{\"Body\": \"line 1\\nline 2\\r\\n\\ttab \\\"q\\\" \\\\ \\/ \\b\\f\"}",
    /* \u escapes jansson reads: Latin, a surrogate pair */
    "{\"Subject\": \"caf\\u00e9 \\ud83d\\ude00\", \"K\\u00e9y\": 1}",
    /* every escape, in a string decoded here for its \u */
    "{\"a\": \"\\u00e9\\b\\f\\n\\r\\t\\\"\\\\\\/\\u20AC\\uDBFF\\uDFFF\"}",
    /* raw UTF-8, up to four bytes */
    "{\"Subject\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
    "{\"N\": [0, -0, 1, -1, 9223372036854775807, -9223372036854775808]}",
    "{\"a\": {\"b\": {\"c\": [[[]]]}}}",
    "{\"\": \"\", \"x\": [{}, [], \"\", 0]}",
    "{\"inputs\":{\"Text\":\"\x7f\"}}",
};

/* Bodies the fast reader must leave to jansson: malformed ones (jansson
 * names the fault), and valid ones it does not read as jansson does. */
static const struct {
	const char *body;
	size_t len; /* 0: strlen */
	bool jansson_takes;
} hard[] = {
    {"", 0, false},
    {"{", 0, false},
    {"{\"a\": }", 0, false},
    {"{\"a\": 1,}", 0, false},
    {"{\"a\" 1}", 0, false},
    {"{'a': 1}", 0, false},
    {"{} {}", 0, false},
    {"{}x", 0, false},
    {"{/* c */}", 0, false},
    {"{\"a\": tru}", 0, false},
    {"{\"a\": 01}", 0, false},
    {"{\"a\": \"\\x\"}", 0, false},
    {"{\"a\": \"\t\"}", 0, false}, /* a raw control character */
    {"\xef\xbb\xbf{}", 0, false},  /* a byte order mark */
    {"{\f}", 0, false},		   /* white space to yajl only */
    {"{\v\"a\": 1}", 0, false},
    {"{}\f", 0, false},
    {"{\"a\":\f1}", 0, false},
    {"{\"a\": \"\xc0\x80\"}", 0, false}, /* overlong NUL */
    {"{\"a\": \"\xe0\x80\xaf\"}", 0, false},
    {"{\"a\": \"\xed\xa0\x80\"}", 0, false},	 /* a surrogate */
    {"{\"a\": \"\xf4\x90\x80\x80\"}", 0, false}, /* above U+10FFFF */
    {"{\"a\": \"\xf8\x88\x80\x80\x80\"}", 0, false},
    {"{\"a\": \"\xff\"}", 0, false},
    {"{\"\xc3\": 1}", 0, false},
    {"{\"a\": \"\\ud800\"}", 0, false}, /* a lone surrogate */
    {"{\"a\": \"\\udc00x\"}", 0, false},
    {"{\"a\": \"\\u0000\"}", 0, false},
    {"{\"\\u0000\": 1}", 0, false},
    {"{\"a\": 1, \"a\": 2}", 0, false},
    {"{\"x\": {\"a\": 1, \"a\": 2}}", 0, false},
    {"{\"a\\u0062\": 1, \"ab\": 2}", 0, false}, /* the same key, spelt
						   two ways */
    {"{\"a\": 99999999999999999999}", 0, false},
    {"{\"a\": -9223372036854775809}", 0, false},
    {"{\"a\": \"x\"\0}", 11, false},
    {"{\"a\": \"x\0\"}", 11, false},
    {"{\"a\": 1.5}", 0, true},
    {"{\"a\": 1e3}", 0, true},
    {"{\"a\": -0.0}", 0, true},
    {"[1, 2]", 0, true},
    {"[]", 0, true},
    {"{\"a\": [[[[[[[[[[1]]]]]]]]]]}", 0, true}, /* deeper than a call */
};

START_TEST(vouches_for_call_bodies)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(check_str(good[i]),
			      "the fast reader left %s to jansson", good[i]);
}
END_TEST

START_TEST(leaves_the_hard_cases_to_jansson)
{
	for (size_t i = 0; i < sizeof(hard) / sizeof(hard[0]); i++) {
		const char *b = hard[i].body;
		size_t len = hard[i].len ? hard[i].len : strlen(b);
		json_error_t je;
		json_t *slow = json_loadb(b, len, JSON_REJECT_DUPLICATES, &je);
		ck_assert_msg(!!slow == hard[i].jansson_takes,
			      "case %zu: jansson %s it", i,
			      slow ? "takes" : "refuses");
		json_decref(slow);
		ck_assert_msg(!check_body(b, len),
			      "case %zu: the fast reader took it", i);
	}
}
END_TEST

/* A body of one long base64 string, as a call with a file is. */
START_TEST(long_strings)
{
	size_t n = 3u << 20;
	char *b = malloc(n + 64);
	ck_assert_ptr_nonnull(b);
	int o = snprintf(b, 64, "{\"inputs\":{\"File\":{\"Content\":\"");
	for (size_t i = 0; i < n; i++)
		b[o + i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef+/="[i % 35];
	strcpy(b + o + n, "\"}}}");
	ck_assert(check_str(b));
	/* one byte that jansson refuses, at the end of it */
	b[o + n - 1] = '\x01';
	ck_assert(!check_str(b));
	free(b);
}
END_TEST

/* Every body one byte away from a few call bodies: changed to each of
 * the bytes that matter to either reader, removed, or doubled. */
START_TEST(one_byte_away)
{
	static const char subst[] = " \t\n\r\f\v\"\\u0159.e-+{}[],:ntfx\x7f"
				    "\x80\xbf\xc0\xc3\xe0\xed\xf4\xf8\xff";
	const char *bases[] = {
	    "{\"inputs\":{\"S\":\"caf\xc3\xa9\\n\",\"N\":[1,-2],\"B\":true,"
	    "\"F\":{\"Name\":\"a\\u00e9\",\"Content\":\"QUJD\"}}}",
	    "{\"a\": \"\\ud83d\\ude00\", \"b\": null, \"c\": [false, {}]}",
	};
	size_t vouched = 0, refused = 0;
	char buf[256];
	for (size_t k = 0; k < sizeof(bases) / sizeof(bases[0]); k++) {
		size_t len = strlen(bases[k]);
		ck_assert(len + 2 < sizeof(buf));
		for (size_t i = 0; i < len; i++) {
			/* every substitute, and NUL */
			for (size_t j = 0; j <= sizeof(subst) - 1; j++) {
				memcpy(buf, bases[k], len);
				buf[i] = subst[j];
				if (check_body(buf, len))
					vouched++;
				else
					refused++;
			}
			/* removed */
			memcpy(buf, bases[k], i);
			memcpy(buf + i, bases[k] + i + 1, len - i - 1);
			check_body(buf, len - 1) ? vouched++ : refused++;
			/* doubled */
			memcpy(buf, bases[k], i + 1);
			memcpy(buf + i + 1, bases[k] + i, len - i);
			check_body(buf, len + 1) ? vouched++ : refused++;
		}
	}
	/* both outcomes were met many times: the check above ran on both */
	ck_assert_uint_gt(vouched, 500);
	ck_assert_uint_gt(refused, 500);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json_fast");
	TCase *tc = tcase_create("reader");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, vouches_for_call_bodies);
	tcase_add_test(tc, leaves_the_hard_cases_to_jansson);
	tcase_add_test(tc, long_strings);
	tcase_add_test(tc, one_byte_away);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
