/* The API's security policy (core/front/security.c) without a server:
 * SHA-256 against FIPS 180-4's vectors (every padding case), tokens,
 * certificate subjects, grant patterns, mailbox grants, the call rate and
 * request ids. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "security.h"

static void hex_of(const char *s, size_t n, const char *want)
{
	char out[65];
	sbc_sha256_hex(s, n, out);
	ck_assert_str_eq(out, want);
}

START_TEST(sha256_vectors)
{
	hex_of(
	    "", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of(
	    "abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* 56 bytes: the length no longer fits the first block */
	const char *m56 =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_of(
	    m56, strlen(m56),
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* 112 bytes: two whole blocks, padding in a third */
	const char *m112 =
	    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklm"
	    "nhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopq"
	    "rstu";
	hex_of(
	    m112, strlen(m112),
	    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
	char *a = malloc(1000000);
	ck_assert_ptr_nonnull(a);
	memset(a, 'a', 1000000);
	hex_of(
	    a, 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* 55 and 64 bytes: the last lengths of one and of two blocks */
	memset(a, 'a', 64);
	hex_of(
	    a, 55,
	    "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	hex_of(
	    a, 64,
	    "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
	free(a);
}
END_TEST

static const char tok_a[] = "alpha-0123456789abcdef0123456789abcdef";
static const char tok_b[] = "bravo-fedcba9876543210fedcba9876543210";

static struct sbc_security *policy(void)
{
	static char ha[65], hb[65];
	sbc_sha256_hex(tok_a, strlen(tok_a), ha);
	sbc_sha256_hex(tok_b, strlen(tok_b), hb);
	static char *allow_a[] = {"local/Email.*", "relay/Email.Send", NULL};
	static char *mb_a[] = {"alice@example.com", "*@team.example.com", NULL};
	static char *allow_b[] = {"*/*.*", NULL};
	static char *mb_b[] = {"default", NULL};
	static char *allow_c[] = {NULL};
	static char *mb_c[] = {"*", NULL};
	static char *origins[] = {"https://app.example.com", NULL};
	static struct sbc_client_conf cl[3];
	cl[0] = (struct sbc_client_conf){.name = "a",
					 .token_sha256 = ha,
					 .allow = allow_a,
					 .mailboxes = mb_a};
	cl[1] = (struct sbc_client_conf){.name = "b",
					 .token_sha256 = hb,
					 .allow = allow_b,
					 .mailboxes = mb_b,
					 .max_calls_per_minute = 2};
	cl[2] = (struct sbc_client_conf){.name = "c",
					 .cert_subject = "CN=app1,O=Example",
					 .allow = allow_c,
					 .mailboxes = mb_c};
	struct sbc_config cfg = {.path = "/etc/svcbroker/svcbroker.ini",
				 .cors_origins = origins,
				 .access_log = true,
				 .clients = cl,
				 .n_clients = 3};
	struct sbc_errlist errs = {0};
	struct sbc_security *s = sbc_security_build(&cfg, &errs);
	ck_assert_msg(s != NULL, "build: %s", errs.n ? errs.msgs[0] : "?");
	sbc_errlist_free(&errs);
	return s;
}

START_TEST(tokens_and_subjects)
{
	struct sbc_security *s = policy();
	ck_assert(sbc_security_closed(s));
	ck_assert_ptr_null(sbc_security_tls(s));
	ck_assert_str_eq(sbc_client_name(sbc_security_by_token(s, tok_a)), "a");
	ck_assert_str_eq(sbc_client_name(sbc_security_by_token(s, tok_b)), "b");
	ck_assert_ptr_null(sbc_security_by_token(s, "alpha"));
	ck_assert_ptr_null(sbc_security_by_token(s, ""));
	ck_assert_ptr_null(sbc_security_by_token(s, NULL));
	char longer[sizeof(tok_a) + 1];
	snprintf(longer, sizeof(longer), "%sx", tok_a);
	ck_assert_ptr_null(sbc_security_by_token(s, longer));
	/* a client without a token is never found by one */
	char zero[65];
	memset(zero, '0', 64);
	zero[64] = '\0';
	ck_assert_ptr_null(sbc_security_by_token(s, zero));
	ck_assert_str_eq(
	    sbc_client_name(sbc_security_by_subject(s, "CN=app1,O=Example")),
	    "c");
	ck_assert_ptr_null(sbc_security_by_subject(s, "CN=app1"));
	ck_assert_ptr_null(sbc_security_by_subject(s, NULL));
	ck_assert(sbc_security_origin_ok(s, "https://app.example.com"));
	ck_assert(!sbc_security_origin_ok(s, "https://app.example.com.evil"));
	ck_assert(!sbc_security_origin_ok(s, NULL));
	sbc_security_unref(s);
}
END_TEST

START_TEST(token_cache_follows_the_policy)
{
	struct sbc_security *s = policy();
	ck_assert_ptr_nonnull(sbc_security_by_token(s, tok_a)); /* cached */
	ck_assert_ptr_nonnull(sbc_security_by_token(s, tok_a));
	/* same length, one byte off: not the cached token */
	char off[sizeof(tok_a)];
	memcpy(off, tok_a, sizeof(tok_a));
	off[10] ^= 1;
	ck_assert_ptr_null(sbc_security_by_token(s, off));
	sbc_security_unref(s);
	/* a reload without client a: its token is no longer taken */
	char hb[65];
	sbc_sha256_hex(tok_b, strlen(tok_b), hb);
	static char *allow[] = {NULL};
	static char *mb[] = {"default", NULL};
	struct sbc_client_conf cl = {
	    .name = "b", .token_sha256 = hb, .allow = allow, .mailboxes = mb};
	struct sbc_config cfg = {
	    .path = "/x.ini", .clients = &cl, .n_clients = 1};
	struct sbc_errlist errs = {0};
	struct sbc_security *s2 = sbc_security_build(&cfg, &errs);
	ck_assert_ptr_nonnull(s2);
	ck_assert_ptr_null(sbc_security_by_token(s2, tok_a));
	ck_assert_str_eq(sbc_client_name(sbc_security_by_token(s2, tok_b)),
			 "b");
	sbc_security_unref(s2);
	sbc_errlist_free(&errs);
}
END_TEST

START_TEST(grants)
{
	struct sbc_security *s = policy();
	const struct sbc_client *a = sbc_security_by_token(s, tok_a);
	const struct sbc_client *b = sbc_security_by_token(s, tok_b);
	const struct sbc_client *c =
	    sbc_security_by_subject(s, "CN=app1,O=Example");
	ck_assert(sbc_client_may_call(a, "local", "Email", "List"));
	ck_assert(sbc_client_may_call(a, "relay", "Email", "Send"));
	ck_assert(!sbc_client_may_call(a, "relay", "Email", "List"));
	ck_assert(!sbc_client_may_call(a, "local", "Folder", "List"));
	ck_assert(!sbc_client_may_call(a, "localx", "Email", "List"));
	ck_assert(sbc_client_may_call(b, "any", "Thing", "Goes"));
	ck_assert(!sbc_client_may_call(a, "local", "Emailx", "List"));
	ck_assert(sbc_client_may_call(a, "local", "Email", "List.More"));
	ck_assert(!sbc_client_may_call(c, "local", "Email", "List"));
	ck_assert(sbc_client_may_call(NULL, "local", "Email", "List"));
	/* mailboxes */
	ck_assert(sbc_client_may_mailbox(a, "alice@example.com"));
	ck_assert(sbc_client_may_mailbox(a, "ALICE@Example.COM"));
	ck_assert(!sbc_client_may_mailbox(a, "bob@example.com"));
	ck_assert(sbc_client_may_mailbox(a, "bob@team.example.com"));
	ck_assert(!sbc_client_may_mailbox(a, "@team.example.com"));
	ck_assert(!sbc_client_may_mailbox(a, "bob@evilteam.example.com"));
	ck_assert(!sbc_client_may_mailbox(a, "x@y@team.example.com"));
	ck_assert(!sbc_client_may_mailbox(a, NULL));
	ck_assert(sbc_client_may_mailbox(b, NULL));
	ck_assert(!sbc_client_may_mailbox(b, "alice@example.com"));
	ck_assert(sbc_client_may_mailbox(c, "anyone@anywhere.test"));
	ck_assert(sbc_client_may_mailbox(c, NULL));
	sbc_security_unref(s);
}
END_TEST

START_TEST(rate)
{
	struct sbc_security *s = policy();
	const struct sbc_client *a = sbc_security_by_token(s, tok_a);
	const struct sbc_client *b = sbc_security_by_token(s, tok_b);
	int64_t retry = 0;
	for (int i = 0; i < 100; i++)
		ck_assert(sbc_client_rate(a, 1000, &retry)); /* no limit */
	ck_assert(sbc_client_rate(b, 1000, &retry));
	ck_assert(sbc_client_rate(b, 1000, &retry));
	ck_assert(!sbc_client_rate(b, 1000, &retry));
	ck_assert_int_gt(retry, 0);
	ck_assert_int_le(retry, 30001);
	/* 2 a minute: one more after 30 s */
	ck_assert(!sbc_client_rate(b, 20000, &retry));
	ck_assert(sbc_client_rate(b, 31001, &retry));
	ck_assert(!sbc_client_rate(b, 31002, &retry));
	sbc_security_unref(s);
}
END_TEST

START_TEST(request_ids)
{
	ck_assert(sbc_request_id_ok("abc-123_x.y:z/1"));
	ck_assert(!sbc_request_id_ok(""));
	ck_assert(!sbc_request_id_ok("has space"));
	ck_assert(!sbc_request_id_ok("quote\""));
	ck_assert(!sbc_request_id_ok("back\\slash"));
	ck_assert(!sbc_request_id_ok("tab\t"));
	ck_assert(!sbc_request_id_ok("caf\xc3\xa9"));
	char max[SBC_REQUEST_ID_MAX + 2];
	memset(max, 'x', sizeof(max));
	max[SBC_REQUEST_ID_MAX] = '\0';
	ck_assert(sbc_request_id_ok(max));
	max[SBC_REQUEST_ID_MAX] = 'x';
	max[SBC_REQUEST_ID_MAX + 1] = '\0';
	ck_assert(!sbc_request_id_ok(max));
	char id1[SBC_REQUEST_ID_MAX + 1], id2[SBC_REQUEST_ID_MAX + 1];
	sbc_request_id_new(id1);
	sbc_request_id_new(id2);
	ck_assert(sbc_request_id_ok(id1));
	ck_assert_str_ne(id1, id2);
}
END_TEST

START_TEST(bad_tls_files)
{
	struct sbc_config cfg = {.path = "/x/svcbroker.ini",
				 .tls_cert = "/nonexistent/cert.pem",
				 .tls_key = "/nonexistent/key.pem"};
	struct sbc_errlist errs = {0};
	ck_assert_ptr_null(sbc_security_build(&cfg, &errs));
	ck_assert_uint_ge(errs.n, 1);
	ck_assert_msg(strstr(errs.msgs[0], "tls_cert") &&
			  strstr(errs.msgs[0], "/nonexistent/cert.pem"),
		      "%s", errs.msgs[0]);
	sbc_errlist_free(&errs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("security");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, sha256_vectors);
	tcase_add_test(tc, tokens_and_subjects);
	tcase_add_test(tc, token_cache_follows_the_policy);
	tcase_add_test(tc, grants);
	tcase_add_test(tc, rate);
	tcase_add_test(tc, request_ids);
	tcase_add_test(tc, bad_tls_files);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
