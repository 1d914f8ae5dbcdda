/* Unit tests for the broker SDK helpers (core/sdk.c). */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/sdk.h>

/* ---- sb_buf ---------------------------------------------------------- */

START_TEST(buf_appends_and_steals)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	ck_assert(sb_buf_puts(&b, "abc"));
	ck_assert(sb_buf_printf(&b, "-%d-%s", 42, "x"));
	ck_assert(sb_buf_append(&b, "yz", 2));
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "abc-42-xyz");
	char *s = sb_buf_steal(&b);
	ck_assert_str_eq(s, "abc-42-xyz");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(s);
	/* Stealing an empty buffer gives "" (never NULL). */
	s = sb_buf_steal(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	free(s);
	sb_buf_free(&b);
}
END_TEST

START_TEST(buf_cap_is_sticky)
{
	struct sb_buf b;
	sb_buf_init(&b, 8);
	ck_assert(sb_buf_puts(&b, "12345678"));
	ck_assert(!b.failed);
	ck_assert(!sb_buf_puts(&b, "9"));
	ck_assert(b.failed);
	/* Once failed, even a small append is refused. */
	ck_assert(!sb_buf_append(&b, "", 0));
	ck_assert(!sb_buf_printf(&b, "%s", ""));
	ck_assert_ptr_null(sb_buf_steal(&b));
	ck_assert_ptr_null(b.data);
	sb_buf_free(&b);

	sb_buf_init(&b, 5);
	ck_assert(!sb_buf_printf(&b, "%s", "123456"));
	ck_assert(b.failed);
	sb_buf_free(&b);
}
END_TEST

START_TEST(buf_grows_large)
{
	struct sb_buf b;
	sb_buf_init(&b, 1000000);
	char chunk[1000];
	memset(chunk, 'q', sizeof(chunk));
	for (int i = 0; i < 1000; i++)
		ck_assert(sb_buf_append(&b, chunk, sizeof(chunk)));
	ck_assert_uint_eq(b.len, 1000000);
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert(!sb_buf_append(&b, chunk, sizeof(chunk)));
	sb_buf_free(&b);
}
END_TEST

/* ---- base64 ---------------------------------------------------------- */

START_TEST(base64_rfc4648_vectors)
{
	static const char *const plain[] = {"",	    "f",     "fo",    "foo",
					    "foob", "fooba", "foobar"};
	static const char *const enc[] = {
	    "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < 7; i++) {
		char *e = sb_base64_encode(plain[i], strlen(plain[i]), 0);
		ck_assert_str_eq(e, enc[i]);
		size_t n = 99;
		unsigned char *d = sb_base64_decode(e, strlen(e), &n);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_int_eq(memcmp(d, plain[i], n), 0);
		ck_assert_int_eq(d[n], '\0');
		free(e);
		free(d);
	}
}
END_TEST

START_TEST(base64url_vectors_and_strictness)
{
	static const char *const plain[] = {"",	    "f",     "fo",    "foo",
					    "foob", "fooba", "foobar"};
	static const char *const enc[] = {
	    "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	unsigned char out[16];
	size_t n;
	for (size_t i = 0; i < 7; i++) {
		char *e = sb_base64url_encode(plain[i], strlen(plain[i]));
		ck_assert_str_eq(e, enc[i]);
		n = 99;
		ck_assert(sb_base64url_decode(e, strlen(e), out, &n));
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_int_eq(memcmp(out, plain[i], n), 0);
		free(e);
	}
	/* the URL alphabet: 0xfb 0xff -> "-_8" (base64: "+/8=") */
	static const unsigned char bin[] = {0xfb, 0xff};
	char *e = sb_base64url_encode(bin, 2);
	ck_assert_str_eq(e, "-_8");
	free(e);
	ck_assert(sb_base64url_decode("-_8", 3, out, &n) && n == 2 &&
		  out[0] == 0xfb && out[1] == 0xff);
	/* refused: the other alphabet, padding, white space, one character
	 * too many, non-zero unused bits */
	static const char *const bad[] = {"+/8", "Zg==", "Zm 9v", "Zm9vY",
					  "Zh"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(
		    !sb_base64url_decode(bad[i], strlen(bad[i]), out, &n),
		    "%s accepted", bad[i]);
}
END_TEST

START_TEST(base64_binary_round_trip_with_lines)
{
	unsigned char data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	for (size_t len = 0; len <= sizeof(data); len += 37) {
		char *e = sb_base64_encode(data, len, 76);
		ck_assert_ptr_nonnull(e);
		/* Lines of at most 76 characters, CRLF separated. */
		size_t col = 0;
		for (const char *p = e; *p; p++) {
			if (*p == '\r') {
				ck_assert_int_eq(p[1], '\n');
				ck_assert_uint_eq(col, 76);
				col = 0;
				p++;
				continue;
			}
			col++;
			ck_assert_uint_le(col, 76);
		}
		size_t n;
		unsigned char *d = sb_base64_decode(e, strlen(e), &n);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(n, len);
		ck_assert_int_eq(memcmp(d, data, len), 0);
		free(d);
		free(e);
	}
}
END_TEST

/* Line lengths that are a multiple of four (76 for MIME, 0 for none) have
 * a path of their own: the same characters as any other line length,
 * lines of exactly line_len but the last, no CRLF after it. */
static char *without_crlf(const char *s)
{
	char *o = strdup(s), *w = o;
	for (const char *p = s; *p; p++)
		if (*p != '\r' && *p != '\n')
			*w++ = *p;
	*w = '\0';
	return o;
}

START_TEST(base64_line_lengths_agree)
{
	unsigned char data[400];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 131 + 17);
	static const size_t lens[] = {76, 4, 8, 3, 5, 75};
	for (size_t len = 0; len <= sizeof(data); len++) {
		char *plain = sb_base64_encode(data, len, 0);
		ck_assert_ptr_nonnull(plain);
		ck_assert_uint_eq(strlen(plain), (len + 2) / 3 * 4);
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			char *e = sb_base64_encode(data, len, lens[k]);
			ck_assert_ptr_nonnull(e);
			char *flat = without_crlf(e);
			ck_assert_str_eq(flat, plain);
			size_t n = strlen(e);
			ck_assert(n == 0 || e[n - 1] != '\n');
			for (const char *p = e; *p;) {
				size_t l = strcspn(p, "\r");
				if (!p[l]) {
					ck_assert_uint_le(l, lens[k]);
					ck_assert_uint_gt(l, 0);
					break;
				}
				ck_assert_uint_eq(l, lens[k]);
				ck_assert_int_eq(p[l + 1], '\n');
				p += l + 2;
			}
			free(flat);
			free(e);
		}
		free(plain);
	}
}
END_TEST

START_TEST(base64_rejects_bad_input)
{
	static const char *const bad[] = {
	    "Zg=",		/* short padding */
	    "Zg",		/* unpadded */
	    "Z",		/* one symbol */
	    "Zm9v!A==",		/* bad character */
	    "Zg==Zg==",		/* data after padding */
	    "=Zg=",		/* padding first */
	    "Zh==",		/* non-canonical trailing bits */
	    "Zm9=",		/* non-canonical trailing bits */
	    "Zg===",		/* too much padding */
	    "Zm9v\tYmFy",	/* TAB is not ignored */
	    "Zm9vYmFyZg==Zm9v", /* whole quantum after padding */
	    "Zm9vYm!y",		/* bad character in a later quantum */
	    "Zm9vY\x80"
	    "Fy", /* a byte above 0x7f */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n;
		unsigned char *d = sb_base64_decode(bad[i], strlen(bad[i]), &n);
		ck_assert_msg(d == NULL, "accepted %s", bad[i]);
	}
	/* CR, LF and spaces are ignored. */
	size_t n;
	unsigned char *d = sb_base64_decode("Zm9v\r\nYm Fy", 11, &n);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(memcmp(d, "foobar", 6), 0);
	free(d);
	/* Quanta cut by line breaks and spaces anywhere. */
	d = sb_base64_decode("Zm\r\n9vYm\nFy Zm9v YmFy", 21, &n);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(n, 12);
	ck_assert_int_eq(memcmp(d, "foobarfoobar", 12), 0);
	free(d);
	/* Only len bytes are read. */
	d = sb_base64_decode("Zm9vJUNK", 4, &n);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq((char *)d, "foo");
	free(d);
}
END_TEST

/* ---- XML and UTF-8 ---------------------------------------------------- */

START_TEST(xml_escape_escapes_five)
{
	char *s = sb_xml_escape("a&b<c>d\"e'f");
	ck_assert_str_eq(s, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
	free(s);
	s = sb_xml_escape("tab\tcr\rlf\n\xc3\xa9");
	ck_assert_str_eq(s, "tab&#9;cr&#13;lf&#10;\xc3\xa9");
	free(s);
	s = sb_xml_escape("");
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(xml_escape_refuses_what_xml_cannot_carry)
{
	ck_assert_ptr_null(sb_xml_escape("bell\a"));
	ck_assert_ptr_null(sb_xml_escape("esc\x1b[0m"));
	ck_assert_ptr_null(sb_xml_escape("bad\xff utf8"));
	ck_assert_ptr_null(sb_xml_escape("overlong \xc0\xaf"));
	ck_assert_ptr_null(sb_xml_escape("\xef\xbf\xbe")); /* U+FFFE */
	ck_assert_ptr_null(sb_xml_escape(NULL));
}
END_TEST

START_TEST(utf8_edge_cases)
{
	ck_assert(sb_utf8_valid("", 0));
	ck_assert(sb_utf8_valid("plain ascii", 11));
	ck_assert(sb_utf8_valid("\xc3\xa9", 2));	  /* é */
	ck_assert(sb_utf8_valid("\xe2\x82\xac", 3));	  /* € */
	ck_assert(sb_utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
	ck_assert(sb_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
	ck_assert(sb_utf8_valid("\xed\x9f\xbf", 3));	  /* U+D7FF */
	ck_assert(!sb_utf8_valid("\xc0\x80", 2));	  /* overlong NUL */
	ck_assert(!sb_utf8_valid("\xe0\x80\xaf", 3));	  /* overlong / */
	ck_assert(!sb_utf8_valid("\xf0\x82\x82\xac", 4)); /* overlong € */
	ck_assert(!sb_utf8_valid("\xed\xa0\x80", 3));	  /* surrogate */
	ck_assert(!sb_utf8_valid("\xed\xbf\xbf", 3));	  /* surrogate */
	ck_assert(!sb_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	ck_assert(!sb_utf8_valid("\xc3", 1));		  /* truncated */
	ck_assert(!sb_utf8_valid("\xe2\x82", 2));	  /* truncated */
	ck_assert(!sb_utf8_valid("\x80", 1));		  /* lone cont. */
	ck_assert(!sb_utf8_valid("\xfe", 1));
	ck_assert(!sb_utf8_valid("a\xc3(", 3));
	/* Length, not NUL, bounds the check. */
	ck_assert(sb_utf8_valid("ab\xc3", 2));
}
END_TEST

/* ---- random ---------------------------------------------------------- */

START_TEST(uuid4_format_and_uniqueness)
{
	char a[37], b[37];
	ck_assert(sb_uuid4(a));
	ck_assert(sb_uuid4(b));
	ck_assert_uint_eq(strlen(a), 36);
	ck_assert_str_ne(a, b);
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(a[i], '-');
		else
			ck_assert(strchr("0123456789abcdef", a[i]));
	}
	ck_assert_int_eq(a[14], '4');
	ck_assert(strchr("89ab", a[19]));
	unsigned char r1[32], r2[32];
	ck_assert(sb_random_bytes(r1, sizeof(r1)));
	ck_assert(sb_random_bytes(r2, sizeof(r2)));
	ck_assert(memcmp(r1, r2, sizeof(r1)) != 0);
	ck_assert(sb_random_bytes(r1, 0));
}
END_TEST

/* ---- addresses and paths -------------------------------------------- */

START_TEST(email_validation)
{
	static const char *const good[] = {
	    "user@example.com",
	    "first.last+tag@sub.example.co.uk",
	    "o'brien@example.org",
	    "x@localhost",
	    "user@[192.0.2.1]",
	    "\xc3\xa9milie@exemple.fr",
	    "user@b\xc3\xbc"
	    "cher.example",
	    "a!#$%&'*+/=?^_`{|}~-@example.com",
	};
	static const char *const bad[] = {
	    "",
	    "plain",
	    "@example.com",
	    "user@",
	    "user@@example.com",
	    "two words@example.com",
	    "user@exa mple.com",
	    "\"Name\" <user@example.com>",
	    "user@example.com>",
	    ".user@example.com",
	    "user.@example.com",
	    "us..er@example.com",
	    "user@.example.com",
	    "user@example..com",
	    "user@-example.com",
	    "user@example-.com",
	    "user\r\n@example.com",
	    "user@example.com\n",
	    "user@exa\x01mple.com",
	    "bad\xff@example.com",
	    "user@exa_mple.com",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(sb_email_valid(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!sb_email_valid(bad[i]), "accepted %s", bad[i]);
	ck_assert(!sb_email_valid(NULL));
	/* 64-byte local part is the limit; 254 bytes overall. */
	char buf[400];
	memset(buf, 'a', 64);
	snprintf(buf + 64, sizeof(buf) - 64, "@example.com");
	ck_assert(sb_email_valid(buf));
	memset(buf, 'a', 65);
	snprintf(buf + 65, sizeof(buf) - 65, "@example.com");
	ck_assert(!sb_email_valid(buf));
	/* A long but valid-looking domain beyond 254 bytes overall. */
	const char *label =
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	snprintf(buf, sizeof(buf), "u@%s.%s.%s.%s.%s.com", label, label, label,
		 label, label);
	ck_assert_uint_gt(strlen(buf), 254);
	ck_assert(!sb_email_valid(buf));
}
END_TEST

START_TEST(path_component_validation)
{
	ck_assert(sb_path_component_ok("file.txt", 255));
	ck_assert(sb_path_component_ok(".hidden", 255));
	ck_assert(sb_path_component_ok("...", 255));
	ck_assert(sb_path_component_ok("r\xc3\xa9sum\xc3\xa9.pdf", 255));
	ck_assert(!sb_path_component_ok("", 255));
	ck_assert(!sb_path_component_ok(NULL, 255));
	ck_assert(!sb_path_component_ok(".", 255));
	ck_assert(!sb_path_component_ok("..", 255));
	ck_assert(!sb_path_component_ok("a/b", 255));
	ck_assert(!sb_path_component_ok("/etc", 255));
	ck_assert(!sb_path_component_ok("new\nline", 255));
	ck_assert(!sb_path_component_ok("del\x7f", 255));
	ck_assert(sb_path_component_ok("abcde", 5));
	ck_assert(!sb_path_component_ok("abcdef", 5));
}
END_TEST

START_TEST(now_ms_is_monotonic)
{
	int64_t a = sb_now_ms();
	int64_t b = sb_now_ms();
	ck_assert_int_ge(b, a);
	ck_assert_int_gt(a, 0);
}
END_TEST

/* ---- the one decoder per job ------------------------------------------ */

START_TEST(utf8_decode_gives_code_points)
{
	uint32_t cp = 0;
	ck_assert_uint_eq(sb_utf8_decode("A", 1, &cp), 1);
	ck_assert_uint_eq(cp, 'A');
	ck_assert_uint_eq(sb_utf8_decode("\xc3\xa9x", 3, &cp), 2);
	ck_assert_uint_eq(cp, 0xe9);
	ck_assert_uint_eq(sb_utf8_decode("\xe2\x82\xac", 3, &cp), 3);
	ck_assert_uint_eq(cp, 0x20ac);
	ck_assert_uint_eq(sb_utf8_decode("\xf4\x8f\xbf\xbf", 4, &cp), 4);
	ck_assert_uint_eq(cp, 0x10ffff);
	ck_assert_uint_eq(sb_utf8_decode("\xc3\xa9", 2, NULL), 2);
	/* Invalid: lone continuation, overlongs, surrogates, above U+10FFFF,
	 * a sequence longer than the n bytes given, nothing at all. */
	const char *bad[] = {"\x80",
			     "\xc0\x80",
			     "\xc1\xbf",
			     "\xe0\x9f\xbf",
			     "\xf0\x8f\xbf\xbf",
			     "\xed\xa0\x80",
			     "\xf4\x90\x80\x80",
			     "\xf5\x80\x80\x80",
			     "\xff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(sb_utf8_decode(bad[i], strlen(bad[i]), &cp) == 0,
			      "decoded bad sequence %zu", i);
	ck_assert_uint_eq(sb_utf8_decode("\xe2\x82\xac", 2, &cp), 0);
	ck_assert_uint_eq(sb_utf8_decode("", 0, &cp), 0);
	ck_assert_uint_eq(sb_utf8_decode(NULL, 4, &cp), 0);
}
END_TEST

START_TEST(utf8_encode_round_trips)
{
	const uint32_t cps[] = {0,	'A',	 0x7f,	  0x80,	   0xe9,
				0x7ff,	0x800,	 0x20ac,  0xd7ff,  0xe000,
				0xffff, 0x10000, 0x1f600, 0x10ffff};
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		char u[4];
		size_t n = sb_utf8_encode(cps[i], u);
		uint32_t back = 0xffffffff;
		ck_assert_uint_eq(sb_utf8_decode(u, n, &back), n);
		ck_assert_uint_eq(back, cps[i]);
	}
	char u[4];
	ck_assert_uint_eq(sb_utf8_encode(0xe9, u), 2);
	ck_assert_int_eq(memcmp(u, "\xc3\xa9", 2), 0);
	/* What UTF-8 cannot carry becomes U+FFFD. */
	ck_assert_uint_eq(sb_utf8_encode(0xd800, u), 3);
	ck_assert_int_eq(memcmp(u, "\xef\xbf\xbd", 3), 0);
	ck_assert_uint_eq(sb_utf8_encode(0x110000, u), 3);
	ck_assert_int_eq(memcmp(u, "\xef\xbf\xbd", 3), 0);
}
END_TEST

START_TEST(utf8_truncated_tells_cut_from_invalid)
{
	/* The start of a valid sequence, its last bytes missing. */
	ck_assert(sb_utf8_truncated("\xc3", 1));
	ck_assert(sb_utf8_truncated("\xe2\x82", 2));
	ck_assert(sb_utf8_truncated("\xe0", 1)); /* needs A0..BF next */
	ck_assert(sb_utf8_truncated("\xed", 1)); /* needs 80..9F next */
	ck_assert(sb_utf8_truncated("\xf0\x9f\x98", 3));
	ck_assert(sb_utf8_truncated("\xf4\x8f", 2));
	/* Invalid whatever follows, complete, or not a start at all. */
	ck_assert(!sb_utf8_truncated("\xe0\x80", 2)); /* overlong */
	ck_assert(!sb_utf8_truncated("\xed\xa0", 2)); /* surrogate */
	ck_assert(!sb_utf8_truncated("\xf4\x90", 2)); /* above U+10FFFF */
	ck_assert(!sb_utf8_truncated("\xc3\xa9", 2)); /* complete */
	ck_assert(!sb_utf8_truncated("\x80", 1));
	ck_assert(!sb_utf8_truncated("\xff", 1));
	ck_assert(!sb_utf8_truncated("a", 1));
	ck_assert(!sb_utf8_truncated("\xf0\x9f\x98\x80", 4));
	ck_assert(!sb_utf8_truncated("", 0));
}
END_TEST

START_TEST(utf8_cut_keeps_whole_characters)
{
	const char *s = "ab\xe2\x82\xac"; /* "ab€", 5 bytes */
	ck_assert_uint_eq(sb_utf8_cut(s, 5, 10), 5);
	ck_assert_uint_eq(sb_utf8_cut(s, 5, 5), 5);
	ck_assert_uint_eq(sb_utf8_cut(s, 5, 4), 2);
	ck_assert_uint_eq(sb_utf8_cut(s, 5, 3), 2);
	ck_assert_uint_eq(sb_utf8_cut(s, 5, 2), 2);
	ck_assert_uint_eq(sb_utf8_cut(s, 5, 1), 1);
	ck_assert_uint_eq(sb_utf8_cut(s, 5, 0), 0);
	ck_assert_uint_eq(sb_utf8_cut("\xc3\xa9\xc3\xa9", 4, 3), 2);
}
END_TEST

START_TEST(base64_append_strict_and_lenient)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	ck_assert(sb_buf_puts(&b, "<"));
	ck_assert(sb_base64_decode_append(&b, "Zm9v\r\nYmFy", 10, 0));
	ck_assert_str_eq(b.data, "<foobar");
	/* Strict refuses and leaves the content as it was. */
	ck_assert(!sb_base64_decode_append(&b, "Zm9v!A==", 8, 0));
	ck_assert_uint_eq(b.len, 7);
	ck_assert_str_eq(b.data, "<foobar");
	ck_assert(!b.failed);
	/* Lenient: junk skipped, '=' ends the data, a partial tail kept. */
	ck_assert(sb_base64_decode_append(&b, "Zm9v!\tYQ==Zm9v", 14,
					  SB_BASE64_LENIENT));
	ck_assert_str_eq(b.data, "<foobarfooa");
	ck_assert(sb_base64_decode_append(&b, "Zm9", 3, SB_BASE64_LENIENT));
	ck_assert_str_eq(b.data, "<foobarfooafo");
	ck_assert(sb_base64_decode_append(&b, "", 0, SB_BASE64_LENIENT));
	ck_assert_uint_eq(b.len, 13);
	sb_buf_free(&b);
	/* A buffer that cannot grow fails. */
	sb_buf_init(&b, 4);
	ck_assert(!sb_base64_decode_append(&b, "Zm9vYmFy", 8, 0));
	ck_assert(b.failed);
	sb_buf_free(&b);
}
END_TEST

START_TEST(mask_url_password_hides_every_password)
{
	char out[128];
	size_t n = sb_mask_url_password("http://u:secret@h:8780/x", SIZE_MAX,
					out, sizeof(out));
	ck_assert_str_eq(out, "http://u:***@h:8780/x");
	ck_assert_uint_eq(n, strlen(out));
	/* Every URL in a value; a user without a password is kept. */
	sb_mask_url_password("a smtp://me:pw@a b imaps://x@y c https://p:q@r",
			     SIZE_MAX, out, sizeof(out));
	ck_assert_str_eq(out,
			 "a smtp://me:***@a b imaps://x@y c https://p:***@r");
	/* An '@' after the authority is not a password's end. */
	sb_mask_url_password("http://h/a:b@c", SIZE_MAX, out, sizeof(out));
	ck_assert_str_eq(out, "http://h/a:b@c");
	/* The last '@' of the authority ends the password. */
	sb_mask_url_password("http://u:p@ss@h", SIZE_MAX, out, sizeof(out));
	ck_assert_str_eq(out, "http://u:***@h");
	/* Measure, then cut at max bytes and at the buffer. */
	ck_assert_uint_eq(
	    sb_mask_url_password("http://u:@h", SIZE_MAX, NULL, 0), 14);
	ck_assert_uint_eq(
	    sb_mask_url_password("http://u:pw@h", 10, out, sizeof(out)), 10);
	ck_assert_str_eq(out, "http://u:*");
	sb_mask_url_password("http://u:pw@h", SIZE_MAX, out, 8);
	ck_assert_str_eq(out, "http://");
	sb_mask_url_password(NULL, SIZE_MAX, out, sizeof(out));
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(text_quotable_makes_text_safe)
{
	char out[64];
	ck_assert_str_eq(sb_text_quotable("plain é", 100, out, sizeof(out)),
			 "plain é");
	/* Controls (C0, DEL, C1 such as CSI) become '?'. */
	ck_assert_str_eq(
	    sb_text_quotable("a\nb\x1b[0m\x7f\xc2\x9b", 100, out, sizeof(out)),
	    "a?b?[0m??");
	/* Invalid UTF-8 becomes U+FFFD, byte by byte. */
	ck_assert_str_eq(sb_text_quotable("x\xff\xc3", 100, out, sizeof(out)),
			 "x\xef\xbf\xbd\xef\xbf\xbd");
	/* Cut at max bytes of input, or at the buffer, with "...". */
	ck_assert_str_eq(sb_text_quotable("abcdef", 3, out, sizeof(out)),
			 "abc...");
	ck_assert_str_eq(sb_text_quotable("abcdefghij", 100, out, 8),
			 "abcd...");
	ck_assert_str_eq(sb_text_quotable(NULL, 100, out, sizeof(out)),
			 "(null)");
}
END_TEST

static Suite *sdk_suite(void)
{
	Suite *s = suite_create("sdk");
	TCase *tc = tcase_create("sdk");
	tcase_add_test(tc, buf_appends_and_steals);
	tcase_add_test(tc, buf_cap_is_sticky);
	tcase_add_test(tc, buf_grows_large);
	tcase_add_test(tc, base64_rfc4648_vectors);
	tcase_add_test(tc, base64url_vectors_and_strictness);
	tcase_add_test(tc, base64_binary_round_trip_with_lines);
	tcase_add_test(tc, base64_line_lengths_agree);
	tcase_add_test(tc, base64_rejects_bad_input);
	tcase_add_test(tc, xml_escape_escapes_five);
	tcase_add_test(tc, xml_escape_refuses_what_xml_cannot_carry);
	tcase_add_test(tc, utf8_edge_cases);
	tcase_add_test(tc, uuid4_format_and_uniqueness);
	tcase_add_test(tc, email_validation);
	tcase_add_test(tc, path_component_validation);
	tcase_add_test(tc, now_ms_is_monotonic);
	tcase_add_test(tc, utf8_decode_gives_code_points);
	tcase_add_test(tc, utf8_encode_round_trips);
	tcase_add_test(tc, utf8_truncated_tells_cut_from_invalid);
	tcase_add_test(tc, utf8_cut_keeps_whole_characters);
	tcase_add_test(tc, base64_append_strict_and_lenient);
	tcase_add_test(tc, mask_url_password_hides_every_password);
	tcase_add_test(tc, text_quotable_makes_text_safe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sdk_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
