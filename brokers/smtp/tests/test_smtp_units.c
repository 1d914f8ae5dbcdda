/* Unit tests for the smtp broker: its pure parts (the transcript recorder
 * and parser, the per-minute rate limiter, HTML to text), and the broker
 * itself in the SDK's test host (its key table, validate(), open() and
 * handlers that answer before connecting). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/testhost.h>

#include "../smtp.h"

extern const struct sb_broker svcbroker_broker;

static void feed(struct smtp_transcript *t, char dir, const char *s)
{
	smtp_transcript_add(t, dir, s, strlen(s));
}

/* What libcurl 7.88 reports for a send with one refused recipient, fed in
 * the chunks its debug callback uses (one line per call; commands with
 * their CRLF). */
START_TEST(test_partial_acceptance)
{
	struct smtp_transcript t;
	smtp_transcript_init(&t, 0);
	feed(&t, '*', "  Trying 127.0.0.1:2525...\n");
	feed(&t, '*', "Connected to 127.0.0.1 (127.0.0.1) port 2525 (#0)\n");
	feed(&t, '<', "220 mx.example.test ESMTP ready\r\n");
	feed(&t, '>', "EHLO client.example.test\r\n");
	feed(&t, '<', "250-mx.example.test\r\n");
	feed(&t, '<', "250-SIZE 33554432\r\n");
	feed(&t, '<', "250-8BITMIME\r\n");
	feed(&t, '<', "250-STARTTLS\r\n");
	feed(&t, '<', "250 HELP\r\n");
	feed(&t, '>', "STARTTLS\r\n");
	feed(&t, '<', "220 Ready to start TLS\r\n");
	feed(&t, '*',
	     "SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384\n");
	feed(&t, '>', "EHLO client.example.test\r\n");
	feed(&t, '<', "250-mx.example.test\r\n");
	feed(&t, '<', "250-SIZE 33554432\r\n");
	feed(&t, '<', "250-AUTH LOGIN PLAIN\r\n");
	feed(&t, '<', "250 HELP\r\n");
	feed(&t, '>', "AUTH PLAIN AHVzZXIAc2VjcmV0cGFzcw==\r\n");
	feed(&t, '<', "235 2.7.0 Authentication successful\r\n");
	feed(&t, '>', "MAIL FROM:<a@example.test> SIZE=1234\r\n");
	feed(&t, '<', "250 OK\r\n");
	feed(&t, '>', "RCPT TO:<ok@example.test>\r\n");
	feed(&t, '<', "250 OK\r\n");
	feed(&t, '>', "RCPT TO:<gone@example.test>\r\n");
	feed(&t, '<', "550 5.1.1 <gone@example.test>: no such user\r\n");
	feed(&t, '>', "RCPT TO:<busy@example.test>\r\n");
	feed(&t, '<', "452-4.2.2 mailbox full,\r\n");
	feed(&t, '<', "452 4.2.2 try later\r\n");
	feed(&t, '>', "DATA\r\n");
	feed(&t, '<', "354 End data with <CR><LF>.<CR><LF>\r\n");
	feed(&t, '<', "250 2.0.0 OK queued as 42\r\n");

	/* credentials never stored */
	ck_assert_ptr_null(strstr(t.buf.data, "AHVzZXIAc2VjcmV0cGFzcw"));
	ck_assert_ptr_nonnull(strstr(t.buf.data, "> AUTH PLAIN [redacted]\n"));

	struct smtp_session s;
	ck_assert(smtp_transcript_parse(t.buf.data, t.buf.len, &s));
	ck_assert_str_eq(s.greeting, "mx.example.test ESMTP ready");
	ck_assert_str_eq(s.tls_version, "TLSv1.3");
	ck_assert_uint_eq(s.n_ext, 3); /* the EHLO after STARTTLS */
	ck_assert_str_eq(s.ext[0], "SIZE 33554432");
	ck_assert_str_eq(s.ext[1], "AUTH LOGIN PLAIN");
	ck_assert_str_eq(s.ext[2], "HELP");
	ck_assert_uint_eq(s.n_auth_mechs, 2);
	ck_assert_str_eq(s.auth_mechs[0], "LOGIN");
	ck_assert_str_eq(s.auth_mechs[1], "PLAIN");
	ck_assert(s.auth_sent);
	ck_assert_int_eq(s.auth_code, 235);
	ck_assert_int_eq(s.mail_code, 250);
	ck_assert_uint_eq(s.n_rcpts, 3);
	ck_assert_str_eq(s.rcpts[0].addr, "ok@example.test");
	ck_assert_int_eq(s.rcpts[0].code, 250);
	ck_assert_str_eq(s.rcpts[1].addr, "gone@example.test");
	ck_assert_int_eq(s.rcpts[1].code, 550);
	ck_assert_str_eq(s.rcpts[1].text,
			 "550 5.1.1 <gone@example.test>: no such user");
	ck_assert_int_eq(s.rcpts[2].code, 452);
	ck_assert_str_eq(s.rcpts[2].text,
			 "452 4.2.2 mailbox full, 4.2.2 try later");
	ck_assert_int_eq(s.data_code, 354);
	ck_assert_int_eq(s.final_code, 250);
	ck_assert_str_eq(s.final_text, "250 2.0.0 OK queued as 42");
	smtp_session_free(&s);
	smtp_transcript_free(&t);
}
END_TEST

START_TEST(test_auth_login_redacted)
{
	struct smtp_transcript t;
	smtp_transcript_init(&t, 0);
	feed(&t, '<', "220 hi\r\n");
	feed(&t, '>', "EHLO x\r\n");
	feed(&t, '<',
	     "250-hi\r\n250 AUTH LOGIN\r\n"); /* two lines, one chunk */
	feed(&t, '>', "AUTH LOGIN\r\n");
	feed(&t, '<', "334 VXNlcm5hbWU6\r\n");
	feed(&t, '>', "dXNlcg==\r\n");
	feed(&t, '<', "334 UGFzc3dvcmQ6\r\n");
	feed(&t, '>', "c2VjcmV0\r\n");
	feed(&t, '<', "535 5.7.8 Authentication credentials invalid\r\n");
	feed(&t, '>', "QUIT\r\n");
	ck_assert_ptr_null(strstr(t.buf.data, "dXNlcg=="));
	ck_assert_ptr_null(strstr(t.buf.data, "c2VjcmV0"));
	ck_assert_ptr_nonnull(
	    strstr(t.buf.data, "> QUIT")); /* redaction ended */
	struct smtp_session s;
	ck_assert(smtp_transcript_parse(t.buf.data, t.buf.len, &s));
	ck_assert_int_eq(s.auth_code, 535);
	ck_assert_str_eq(s.auth_text,
			 "535 5.7.8 Authentication credentials invalid");
	ck_assert_uint_eq(s.n_auth_mechs, 1);
	ck_assert_int_eq(s.last_code, 535);
	smtp_session_free(&s);
	smtp_transcript_free(&t);
}

END_TEST

/* A server that echoes the SASL responses (or the password itself) in its
 * replies: every echo is "***" in the transcript, so in error texts and
 * the log too. */
START_TEST(test_auth_echo_redacted)
{
	struct smtp_transcript t;
	smtp_transcript_init(&t, 0);
	t.secret = "secretpass";
	feed(&t, '<', "220 hi\r\n");
	feed(&t, '>', "EHLO x\r\n");
	feed(&t, '<', "250-hi\r\n250 AUTH PLAIN LOGIN\r\n");
	/* base64("\0user\0secretpass") */
	feed(&t, '>', "AUTH PLAIN AHVzZXIAc2VjcmV0cGFzcw==\r\n");
	feed(&t, '<', "535-5.7.8 no: AHVzZXIAc2VjcmV0cGFzcw==\r\n");
	feed(&t, '<',
	     "535 5.7.8 password secretpass, "
	     "again AHVzZXIAc2VjcmV0cGFzcw==.\r\n");
	ck_assert_ptr_null(strstr(t.buf.data, "AHVzZXIAc2VjcmV0cGFzcw"));
	ck_assert_ptr_null(strstr(t.buf.data, "secretpass"));
	struct smtp_session s;
	ck_assert(smtp_transcript_parse(t.buf.data, t.buf.len, &s));
	ck_assert_int_eq(s.auth_code, 535);
	ck_assert_str_eq(s.auth_text, "535 5.7.8 no: *** 5.7.8 password ***, "
				      "again ***.");
	smtp_session_free(&s);
	smtp_transcript_free(&t);

	/* LOGIN: each response (user and password) sent on its own line */
	smtp_transcript_init(&t, 0);
	t.secret = "secret";
	feed(&t, '>', "AUTH LOGIN\r\n");
	feed(&t, '<', "334 VXNlcm5hbWU6\r\n");
	feed(&t, '>', "dXNlcg==\r\n");
	feed(&t, '<', "334 UGFzc3dvcmQ6\r\n");
	feed(&t, '>', "c2VjcmV0\r\n");
	/* a long echo, cut by the recorder: redacted before it is cut */
	char line[1200];
	memset(line, 'x', sizeof(line));
	memcpy(line, "535 ", 4);
	memcpy(line + 995, "c2VjcmV0", 8);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	line[sizeof(line) - 1] = '\0';
	feed(&t, '<', line);
	feed(&t, '*', "note: c2VjcmV0 dXNlcg== secret\n");
	ck_assert_ptr_null(strstr(t.buf.data, "c2VjcmV0"));
	ck_assert_ptr_null(strstr(t.buf.data, "c2Vj"));
	ck_assert_ptr_null(strstr(t.buf.data, "dXNlcg=="));
	ck_assert_ptr_null(strstr(t.buf.data, "secret"));
	ck_assert_ptr_nonnull(strstr(t.buf.data, "* note: *** *** ***\n"));
	/* the 334 prompts are no credential: kept as they were */
	ck_assert_ptr_nonnull(strstr(t.buf.data, "< 334 UGFzc3dvcmQ6\n"));
	smtp_transcript_free(&t);
}
END_TEST

/* Whether the connection in use authenticated: an AUTH answered 235 sets
 * it, a refused AUTH does not, every EHLO (a new connection, or the one
 * after STARTTLS) clears it; a MAIL FROM while not authenticated is
 * noted. */
START_TEST(test_auth_state)
{
	struct smtp_transcript t;
	smtp_transcript_init(&t, 0);
	ck_assert(!t.authed);
	feed(&t, '<', "220 hi\r\n");
	feed(&t, '>', "EHLO x\r\n");
	feed(&t, '<', "250-hi\r\n250 AUTH PLAIN\r\n");
	feed(&t, '>', "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
	feed(&t, '<', "535 5.7.8 no\r\n");
	ck_assert(!t.authed);
	feed(&t, '>', "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
	feed(&t, '<', "235 2.7.0 Authentication successful\r\n");
	ck_assert(t.authed);
	feed(&t, '>', "MAIL FROM:<a@b.test>\r\n");
	ck_assert(!t.mail_unauthed);
	smtp_transcript_free(&t);

	/* authenticated before STARTTLS does not carry over: the EHLO after
	 * it starts again, and a MAIL FROM without AUTH is noted */
	smtp_transcript_init(&t, 0);
	feed(&t, '>', "EHLO x\r\n");
	feed(&t, '>', "AUTH LOGIN\r\n");
	feed(&t, '<', "334 VXNlcm5hbWU6\r\n");
	feed(&t, '>', "dXNlcg==\r\n");
	feed(&t, '<', "235 ok\r\n");
	ck_assert(t.authed);
	feed(&t, '>', "STARTTLS\r\n");
	feed(&t, '<', "220 go ahead\r\n");
	feed(&t, '>', "EHLO x\r\n");
	ck_assert(!t.authed);
	feed(&t, '<', "250 hi\r\n");
	feed(&t, '>', "MAIL FROM:<a@b.test> SIZE=10\r\n");
	ck_assert(t.mail_unauthed);
	smtp_transcript_free(&t);

	/* a reused connection: the caller says it authenticated before; no
	 * EHLO in this exchange, so it stays so */
	smtp_transcript_init(&t, 0);
	t.authed = true;
	feed(&t, '>', "MAIL FROM:<a@b.test>\r\n");
	ck_assert(t.authed);
	ck_assert(!t.mail_unauthed);
	/* a 235 seen outside an AUTH exchange means nothing */
	smtp_transcript_free(&t);
	smtp_transcript_init(&t, 0);
	feed(&t, '>', "EHLO x\r\n");
	feed(&t, '<', "235 not an answer to AUTH\r\n");
	ck_assert(!t.authed);
	/* a line split over two chunks is judged whole */
	feed(&t, '>', "MAIL FR");
	ck_assert(!t.mail_unauthed);
	feed(&t, '>', "OM:<a@b.test>\r\n");
	ck_assert(t.mail_unauthed);
	smtp_transcript_free(&t);
}
END_TEST

/* The SMTPUTF8 parameter is read from MAIL FROM's parameters only. */
START_TEST(test_mail_smtputf8)
{
	static const struct {
		const char *cmd;
		bool utf8;
	} cases[] = {
	    {"MAIL FROM:<a@b.test> SIZE=10 SMTPUTF8\r\n", true},
	    {"MAIL FROM:<a@b.test> SMTPUTF8 SIZE=10\r\n", true},
	    {"MAIL FROM:<a@b.test> SIZE=10\r\n", false},
	    {"MAIL FROM:<x SMTPUTF8@b.test>\r\n", false},
	    {"MAIL FROM:<a@b.test> SMTPUTF8X\r\n", false},
	    {"MAIL FROM:<a@b.test>\r\n", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_transcript t;
		smtp_transcript_init(&t, 0);
		ck_assert(!t.mail_sent);
		feed(&t, '>', cases[i].cmd);
		ck_assert(t.mail_sent);
		ck_assert_msg(t.mail_utf8 == cases[i].utf8, "%s", cases[i].cmd);
		smtp_transcript_free(&t);
	}
}
END_TEST

START_TEST(test_reply_text_made_safe)
{
	struct smtp_transcript t;
	smtp_transcript_init(&t, 0);
	feed(&t, '<', "220 caf\xE9 latin-1\r\n");
	feed(&t, '>', "EHLO x\r\n");
	feed(&t, '<', "250 ok \xC3\xA9 utf-8\x01\r\n");
	struct smtp_session s;
	ck_assert(smtp_transcript_parse(t.buf.data, t.buf.len, &s));
	ck_assert_str_eq(s.greeting, "caf? latin-1");
	ck_assert_str_eq(s.last_text, "250 ok \xC3\xA9 utf-8?");
	smtp_session_free(&s);
	smtp_transcript_free(&t);
	/* a long reply is cut on a character boundary */
	smtp_transcript_init(&t, 0);
	char line[1200] = "550 ";
	for (size_t i = 4; i + 3 < sizeof(line); i += 2)
		memcpy(line + i, "\xC3\xA9", 2);
	line[sizeof(line) - 3] = '\r';
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	feed(&t, '<', line);
	ck_assert(smtp_transcript_parse(t.buf.data, t.buf.len, &s));
	ck_assert(sb_utf8_valid(s.last_text, strlen(s.last_text)));
	ck_assert_ptr_nonnull(strstr(s.last_text, "\xC3\xA9\xC3\xA9"));
	smtp_session_free(&s);
	smtp_transcript_free(&t);
}
END_TEST

START_TEST(test_all_refused_and_data_refused)
{
	const char *tx = "< 220 x\n> EHLO h\n< 250 x\n"
			 "> MAIL FROM:<a@b.test>\n< 250 ok\n"
			 "> RCPT TO:<c@d.test>\n< 550 no\n"
			 "> RCPT TO:<e@f.test>\n< 551 not local\n";
	struct smtp_session s;
	ck_assert(smtp_transcript_parse(tx, strlen(tx), &s));
	ck_assert_uint_eq(s.n_rcpts, 2);
	ck_assert_int_eq(s.rcpts[1].code, 551);
	ck_assert_int_eq(s.data_code, 0);
	ck_assert_uint_eq(s.n_ext, 0);
	smtp_session_free(&s);

	const char *tx2 = "< 220 x\n> EHLO h\n< 250 x\n"
			  "> MAIL FROM:<a@b.test>\n< 250 ok\n"
			  "> RCPT TO:<c@d.test>\n< 250 ok\n"
			  "> DATA\n< 354 go\n< 451 4.3.0 local problem\n";
	ck_assert(smtp_transcript_parse(tx2, strlen(tx2), &s));
	ck_assert_int_eq(s.final_code, 451);
	ck_assert_str_eq(s.final_text, "451 4.3.0 local problem");
	smtp_session_free(&s);

	const char *tx3 = "< 220 x\n> EHLO h\n< 250 x\n"
			  "> MAIL FROM:<a@b.test>\n< 250 ok\n"
			  "> RCPT TO:<c@d.test>\n< 250 ok\n"
			  "> DATA\n< 554 no data for you\n";
	ck_assert(smtp_transcript_parse(tx3, strlen(tx3), &s));
	ck_assert_int_eq(s.data_code, 554);
	ck_assert_int_eq(s.final_code, 0);
	smtp_session_free(&s);
}
END_TEST

START_TEST(test_garbage_bounded)
{
	/* arbitrary bytes: never crash, never overflow */
	char buf[8192];
	for (int round = 0; round < 100; round++) {
		ck_assert(sb_random_bytes(buf, sizeof(buf)));
		for (size_t i = 0; i < sizeof(buf); i += 37) {
			buf[i] = "<>*\n"[(unsigned char)buf[i] % 4];
			if (i + 1 < sizeof(buf))
				buf[i + 1] = ' ';
		}
		struct smtp_transcript t;
		smtp_transcript_init(&t, 0);
		smtp_transcript_add(&t, '<', buf, sizeof(buf) / 2);
		smtp_transcript_add(&t, '>', buf + sizeof(buf) / 2,
				    sizeof(buf) / 2);
		struct smtp_session s;
		if (smtp_transcript_parse(buf, sizeof(buf), &s))
			smtp_session_free(&s);
		if (t.buf.data &&
		    smtp_transcript_parse(t.buf.data, t.buf.len, &s))
			smtp_session_free(&s);
		smtp_transcript_free(&t);
	}
	/* the recorder has a cap */
	struct smtp_transcript t;
	smtp_transcript_init(&t, 0);
	char line[600];
	memset(line, 'x', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 5000; i++)
		feed(&t, '<', line);
	ck_assert_uint_le(t.buf.len, 512u * 1024);
	smtp_transcript_free(&t);
}
END_TEST

/* Room for every recipient's reply, however long the server's replies
 * and addresses are: a long reply is cut, its last line kept. */
START_TEST(test_many_recipients_fit)
{
	enum { N = 3000 };
	struct smtp_transcript t;
	smtp_transcript_init(&t, N);
	feed(&t, '<', "220 hi\r\n");
	feed(&t, '>', "EHLO x\r\n");
	feed(&t, '<', "250 hi\r\n");
	feed(&t, '>', "MAIL FROM:<a@b.test>\r\n");
	feed(&t, '<', "250 ok\r\n");
	char addr[300], cmd[400], cont[1200], last[1200];
	memset(cont, 'c', sizeof(cont));
	memcpy(cont, "250-", 4);
	memcpy(cont + sizeof(cont) - 3, "\r\n", 3);
	for (int i = 0; i < N; i++) {
		snprintf(addr, sizeof(addr), "r%04d%0240d@example.test", i, 0);
		snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", addr);
		feed(&t, '>', cmd);
		for (int k = 0; k < 20; k++) /* 20 long continuation lines */
			feed(&t, '<', cont);
		snprintf(last, sizeof(last), "%s %d.1.1 %-900s\r\n",
			 i % 7 ? "250" : "550", i % 7 ? 2 : 5, "the end");
		feed(&t, '<', last);
	}
	feed(&t, '>', "DATA\r\n");
	feed(&t, '<', "354 go\r\n");
	feed(&t, '<', "250 2.0.0 queued\r\n");
	ck_assert(!t.buf.failed);
	struct smtp_session s;
	ck_assert(smtp_transcript_parse(t.buf.data, t.buf.len, &s));
	ck_assert_uint_eq(s.n_rcpts, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(s.rcpts[i].code, i % 7 ? 250 : 550);
		ck_assert_ptr_nonnull(strstr(s.rcpts[i].text, "the end"));
	}
	ck_assert_int_eq(s.final_code, 250);
	smtp_session_free(&s);
	smtp_transcript_free(&t);

	/* an EHLO reply of ordinary length is kept whole */
	smtp_transcript_init(&t, 0);
	feed(&t, '>', "EHLO x\r\n");
	for (int k = 0; k < 30; k++)
		feed(&t, '<', "250-SOMEEXTENSION WITH PARAMS\r\n");
	feed(&t, '<', "250 AUTH PLAIN LOGIN\r\n");
	ck_assert(smtp_transcript_parse(t.buf.data, t.buf.len, &s));
	ck_assert_uint_eq(s.n_ext, 30); /* the first line is the host name */
	ck_assert_uint_eq(s.n_auth_mechs, 2);
	smtp_session_free(&s);
	smtp_transcript_free(&t);
}
END_TEST

START_TEST(test_ratelimit_window)
{
	struct smtp_ratelimit rl;
	ck_assert(smtp_ratelimit_init(&rl, 3, 60000));
	int64_t w;
	/* three sends go at once */
	for (int i = 0; i < 3; i++) {
		ck_assert(smtp_ratelimit_reserve(&rl, 1000 + i, 0, &w));
		ck_assert_int_eq(w, 0);
	}
	/* the fourth: a budget too short is refused with the wait */
	ck_assert(!smtp_ratelimit_reserve(&rl, 2000, 5000, &w));
	ck_assert_int_eq(w, 59000); /* slot of t=1000 frees at 61000 */
	/* a refusal reserves nothing: same answer again */
	ck_assert(!smtp_ratelimit_reserve(&rl, 2000, 0, &w));
	ck_assert_int_eq(w, 59000);
	/* a budget long enough reserves a slot in the future */
	ck_assert(smtp_ratelimit_reserve(&rl, 2000, 60000, &w));
	ck_assert_int_eq(w, 59000);
	/* the next one queues behind it (slot of t=1001) */
	ck_assert(smtp_ratelimit_reserve(&rl, 2000, 60000, &w));
	ck_assert_int_eq(w, 59001);
	/* later in time, slots are free again */
	ck_assert(smtp_ratelimit_reserve(&rl, 200000, 0, &w));
	ck_assert_int_eq(w, 0);
	smtp_ratelimit_free(&rl);

	/* 0 = unlimited */
	ck_assert(smtp_ratelimit_init(&rl, 0, 60000));
	for (int i = 0; i < 10000; i++) {
		ck_assert(smtp_ratelimit_reserve(&rl, 5, 0, &w));
		ck_assert_int_eq(w, 0);
	}
	smtp_ratelimit_free(&rl);
}
END_TEST

START_TEST(test_ratelimit_never_more_than_limit)
{
	/* in any 60 s window at most `limit` reservations fall */
	struct smtp_ratelimit rl;
	const size_t limit = 7;
	ck_assert(smtp_ratelimit_init(&rl, limit, 60000));
	int64_t times[200];
	int64_t now = 0;
	for (int i = 0; i < 200; i++) {
		int64_t w;
		ck_assert(smtp_ratelimit_reserve(&rl, now, 1000000000, &w));
		times[i] = now + w;
		now += 1000 * (i % 5); /* bursts and pauses */
	}
	for (int i = 0; i < 200; i++) {
		size_t in = 0;
		for (int j = 0; j < 200; j++)
			if (times[j] >= times[i] && times[j] < times[i] + 60000)
				in++;
		ck_assert_uint_le(in, limit);
	}
	smtp_ratelimit_free(&rl);
}
END_TEST

/* An smtp instance "mail" in a test host, configured with kv and open
 * (open does not connect: nothing needs to listen). */
static struct sb_testhost *smtp_instance(const char *const *kv)
{
	struct sb_error err;
	struct sb_testhost *th =
	    sb_testhost_new(&svcbroker_broker, "mail", &err);
	ck_assert_msg(th != NULL, "%s", err.message);
	ck_assert_msg(sb_testhost_config(th, kv, &err) == SB_OK, "config: %s",
		      err.message);
	ck_assert_msg(sb_testhost_open(th, &err) == SB_OK, "open: %s",
		      err.message);
	return th;
}

static const char *const local_kv[] = {"url=smtp://127.0.0.1:2525",
				       "from=a@example.test", NULL};

START_TEST(test_ratelimit_acquire_waits_or_throttles)
{
	/* the host's remaining_ms and cancelled, from a real call's deadline
	 * and cancel flag */
	struct sb_testhost *th = smtp_instance(local_kv);
	const struct sb_host *host = sb_testhost_host(th);
	const char *in[] = {"To=b@example.test", "Subject=rate", NULL};
	struct sb_error err;
	struct sb_call *call =
	    sb_testhost_call_new(th, "Email", "Send", in, NULL, &err);
	ck_assert_msg(call != NULL, "%s", err.message);
	struct smtp_ratelimit rl;
	ck_assert(smtp_ratelimit_init(&rl, 2, 600)); /* 2 per 600 ms */
	sb_call_set_deadline(call, sb_now_ms() + 5000);
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(smtp_ratelimit_acquire(&rl, host, call, &err), SB_OK);
	ck_assert_int_eq(smtp_ratelimit_acquire(&rl, host, call, &err), SB_OK);
	ck_assert_int_lt(sb_now_ms() - t0, 300); /* no wait within the limit */
	/* the third waits for the first slot to leave the window */
	ck_assert_int_eq(smtp_ratelimit_acquire(&rl, host, call, &err), SB_OK);
	int64_t waited = sb_now_ms() - t0;
	ck_assert_int_ge(waited, 590);
	ck_assert_int_lt(waited, 2000);
	/* the fourth shares the window of the third */
	ck_assert_int_eq(smtp_ratelimit_acquire(&rl, host, call, &err), SB_OK);
	/* a deadline too close: throttled at once, with the wait to expect */
	/* 100 ms once a second is kept to send */
	sb_call_set_deadline(call, sb_now_ms() + 1100);
	t0 = sb_now_ms();
	sb_error_clear(&err);
	ck_assert_int_eq(smtp_ratelimit_acquire(&rl, host, call, &err),
			 SB_ERR_THROTTLED);
	ck_assert_int_eq(err.status, SB_ERR_THROTTLED);
	ck_assert_int_gt(err.retry_after_ms, 100);
	ck_assert_int_le(err.retry_after_ms, 600);
	ck_assert_int_lt(sb_now_ms() - t0, 50);
	/* abandoned while waiting: timeout, promptly */
	sb_call_set_deadline(call, sb_now_ms() + 5000);
	sb_call_cancel(call);
	t0 = sb_now_ms();
	ck_assert_int_eq(smtp_ratelimit_acquire(&rl, host, call, &err),
			 SB_ERR_TIMEOUT);
	ck_assert_int_lt(sb_now_ms() - t0, 300);
	smtp_ratelimit_free(&rl);
	sb_call_free(call);
	sb_testhost_free(th);
}
END_TEST

/* The rules validate() checks across keys, as --check and start-up see
 * them; a password is never quoted. */
START_TEST(test_validate_in_testhost)
{
	static const struct {
		const char *kv[5];
		const char *says;
	} refused[] = {
	    {{"url=smtp://127.0.0.1:2525", "auth=plain", "password=secretpass",
	      NULL},
	     "[instance mail] username: required when auth = plain"},
	    {{"url=smtp://127.0.0.1:2525", "auth=login", "username=u", NULL},
	     "[instance mail] password: required when auth = login"},
	    {{"url=smtps://127.0.0.1:465", "tls=starttls", NULL},
	     "[instance mail] tls: starttls applies to smtp:// URLs"},
	    {{"url=smtp://127.0.0.1:2525", "from=not an address", NULL},
	     "[instance mail] from: not a valid email address"},
	    {{"url=smtp://127.0.0.1:2525", "helo_name=bad name!", NULL},
	     "[instance mail] helo_name:"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct sb_error err;
		struct sb_testhost *th =
		    sb_testhost_new(&svcbroker_broker, "mail", &err);
		ck_assert_ptr_nonnull(th);
		ck_assert_int_eq(sb_testhost_config(th, refused[i].kv, &err),
				 SB_ERR_INVALID_INPUT);
		ck_assert_msg(strstr(err.message, refused[i].says),
			      "case %zu: %s", i, err.message);
		ck_assert_ptr_null(strstr(err.message, "secretpass"));
		/* refused before anything is opened */
		ck_assert_int_eq(sb_testhost_open(th, &err),
				 SB_ERR_INVALID_INPUT);
		ck_assert(!sb_testhost_is_open(th));
		sb_testhost_free(th);
	}
}
END_TEST

/* open() warns about credentials in clear text and an unchecked server,
 * without quoting the password. */
START_TEST(test_open_warnings_logged)
{
	const char *const kv[] = {
	    "url=smtp://127.0.0.1:2525", "auth=login",	  "username=u",
	    "password=secretpass",	 "verify_tls=no", NULL};
	struct sb_testhost *th = smtp_instance(kv);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_LOG_WARN), 2);
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_LOG_WARN, "auth = login without TLS"),
	    1);
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_LOG_WARN, "verify_tls = no"), 1);
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_TESTHOST_ANY_LEVEL, "secretpass"), 0);
	sb_testhost_free(th);
	/* a plain instance opens without a word */
	th = smtp_instance(local_kv);
	ck_assert_uint_eq(sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL), 0);
	sb_testhost_free(th);
}
END_TEST

/* Email.Send refuses what it must before connecting anywhere (nothing
 * listens on the configured port). */
START_TEST(test_send_refusals_in_testhost)
{
	const char *const kv[] = {"url=smtp://127.0.0.1:2525",
				  "from=a@example.test", "plain_text_only=yes",
				  NULL};
	struct sb_testhost *th = smtp_instance(kv);
	static const struct {
		const char *in[3];
		enum sb_status st;
		const char *says;
	} cases[] = {
	    {{"From=b@example.test", "To=c@example.test", NULL},
	     SB_ERR_FORBIDDEN,
	     "allow_from_override = no"},
	    {{"Subject=nobody", NULL}, SB_ERR_INVALID_INPUT, "no recipients"},
	    {{"To=c@example.test", "HtmlBody=<p>hi</p>", NULL},
	     SB_ERR_INVALID_INPUT,
	     "plain_text_only = yes"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb_testhost_run *r =
		    sb_testhost_run(th, "Email", "Send", cases[i].in, NULL);
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(r->ran, "case %zu: %s", i, r->err.message);
		ck_assert_msg(r->status == cases[i].st, "case %zu: %d %s", i,
			      r->status, r->err.message);
		ck_assert_msg(strstr(r->err.message, cases[i].says),
			      "case %zu: %s", i, r->err.message);
		ck_assert_uint_eq(sb_testhost_rows(r), 0);
		sb_testhost_run_free(r);
	}
	sb_testhost_free(th);
}
END_TEST

START_TEST(test_html_to_text)
{
	static const struct {
		const char *html, *text;
	} cases[] = {
	    {"<html><head><title>T</title><style>p{color:red}</style>"
	     "</head><body><p>Hello&nbsp;<b>World</b> &amp; you</p>"
	     "<p>Line&lt;2&gt;<br>next &#233;&#x1F600;</p>"
	     "<ul><li>one</li><li>two</li></ul>"
	     "<script>if (a<b) x();</script><!-- <p>gone</p> -->"
	     "<div>caf\xC3\xA9   and\n  more</div></body></html>",
	     "Hello World & you\n\nLine<2>\nnext \xC3\xA9\xF0\x9F\x98\x80"
	     "\n\n- one\n- two\n\ncaf\xC3\xA9 and more"},
	    {"a<br><br>b<br/>c", "a\n\nb\nc"},
	    {"x < y &unknown; &#0; &#xD800; z", "x < y &unknown; \xEF\xBF\xBD "
						"\xEF\xBF\xBD z"},
	    {"<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr>"
	     "</table>",
	     "1 2\n3"},
	    {"", ""},
	    {"<p></p><p>only</p><p></p>", "only"},
	    {"<b>unclosed <i", "unclosed <i"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = smtp_html_to_text(cases[i].html);
		ck_assert_ptr_nonnull(t);
		ck_assert_msg(!strcmp(t, cases[i].text), "case %zu: [%s]", i,
			      t);
		ck_assert(sb_utf8_valid(t, strlen(t)));
		free(t);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("smtp");
	TCase *tc = tcase_create("units");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_partial_acceptance);
	tcase_add_test(tc, test_auth_login_redacted);
	tcase_add_test(tc, test_auth_echo_redacted);
	tcase_add_test(tc, test_auth_state);
	tcase_add_test(tc, test_mail_smtputf8);
	tcase_add_test(tc, test_all_refused_and_data_refused);
	tcase_add_test(tc, test_reply_text_made_safe);
	tcase_add_test(tc, test_html_to_text);
	tcase_add_test(tc, test_garbage_bounded);
	tcase_add_test(tc, test_many_recipients_fit);
	tcase_add_test(tc, test_ratelimit_window);
	tcase_add_test(tc, test_ratelimit_never_more_than_limit);
	tcase_add_test(tc, test_ratelimit_acquire_waits_or_throttles);
	tcase_add_test(tc, test_validate_in_testhost);
	tcase_add_test(tc, test_open_warnings_logged);
	tcase_add_test(tc, test_send_refusals_in_testhost);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
