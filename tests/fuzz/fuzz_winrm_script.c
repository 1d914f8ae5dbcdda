/* libFuzzer target for the exchange-powershell-winrm broker's scripts
 * and the hand-written parser of their output
 * (brokers/exchange-powershell-winrm/wr_script.c).  The first byte picks:
 *   even: the rest is a script's stdout, read as rows of (byte / 2) % 8
 *         fields: on success every cell is valid UTF-8 without NUL and an
 *         error report's message is too; never a crash or a leak;
 *   odd:  the rest, up to a NUL, is a value given as -Identity: the
 *         script is refused (invalid UTF-8) or carries it as one single-quoted
 * literal that reads back (quote characters undoubled) as the value.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the
 * files given as arguments (make check runs it over its corpus). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/sdk.h>

#include "../../brokers/exchange-powershell-winrm/wr_script.h"
#include "fuzz.h"

static const char ID[] = "0123456789abcdef0123456789abcdef";

static bool is_quote(uint32_t cp)
{
	return cp == 0x27 || cp == 0x2018 || cp == 0x2019 || cp == 0x201A ||
	       cp == 0x201B;
}

static void parse(const char *s, size_t n, size_t fields)
{
	struct wr_rows r;
	struct sb_error err;
	memset(&err, 0, sizeof(err));
	enum sb_status st = wr_output_parse(s, n, ID, fields, &r, &err);
	if (st != SB_OK) {
		FUZZ_CHECK(r.cells == NULL && r.n == 0, "rows left on failure");
		FUZZ_CHECK(err.message[0] != '\0', "no message");
		return;
	}
	if (r.failed) {
		FUZZ_CHECK(r.n == 0, "rows with an error report");
		FUZZ_CHECK(sb_utf8_valid(r.message, strlen(r.message)),
			   "message not UTF-8");
	}
	for (size_t i = 0; i < r.n; i++)
		for (size_t j = 0; j < fields; j++) {
			const char *c = wr_cell(&r, i, j);
			if (c)
				FUZZ_CHECK(sb_utf8_valid(c, strlen(c)),
					   "cell not UTF-8");
		}
	wr_rows_free(&r);
}

static void quote(const char *v, size_t n)
{
	/* values are C strings: a NUL ends one (the host refuses NUL in
	 * text inputs before a broker sees them) */
	n = strnlen(v, n);
	char *value = malloc(n + 1);
	if (!value)
		abort();
	memcpy(value, v, n);
	value[n] = '\0';
	struct wr_param p[] = {{"Identity", value}};
	struct sb_error err;
	char *s = wr_script_build(WR_EX2013, ID, "Get-Mailbox", p, 1, NULL,
				  NULL, 0, &err);
	bool ok = sb_utf8_valid(v, n);
	if (!s) {
		FUZZ_CHECK(!ok, "a valid value was refused: %s", err.message);
		free(value);
		return;
	}
	FUZZ_CHECK(ok, "a NUL or invalid UTF-8 was accepted");
	const char *at = strstr(s, "Get-Mailbox -Identity '");
	FUZZ_CHECK(at, "no literal");
	at += strlen("Get-Mailbox -Identity '");
	/* read the literal back as PowerShell would */
	struct sb_buf back;
	sb_buf_init(&back, 0);
	size_t len = strlen(at), i = 0;
	bool closed = false;
	while (i < len) {
		uint32_t cp;
		size_t k = sb_utf8_decode(at + i, len - i, &cp);
		FUZZ_CHECK(k > 0, "invalid UTF-8 in the script");
		if (is_quote(cp)) {
			uint32_t cp2;
			size_t k2 =
			    i + k < len
				? sb_utf8_decode(at + i + k, len - i - k, &cp2)
				: 0;
			if (k2 && is_quote(cp2)) {
				sb_buf_append(&back, at + i, k);
				i += k + k2;
				continue;
			}
			closed = true;
			i += k;
			break;
		}
		sb_buf_append(&back, at + i, k);
		i += k;
	}
	FUZZ_CHECK(closed, "literal never closed");
	FUZZ_CHECK(strncmp(at + i, " -ErrorAction Stop)", 19) == 0,
		   "the literal ends early");
	FUZZ_CHECK(back.len == n && (n == 0 || memcmp(back.data, v, n) == 0),
		   "the literal reads back as another value");
	sb_buf_free(&back);
	free(s);
	free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 256 * 1024)
		return 0;
	const char *s = (const char *)data + 1;
	if (data[0] & 1)
		quote(s, size - 1);
	else
		parse(s, size - 1, (data[0] / 2) % 8);
	return 0;
}
