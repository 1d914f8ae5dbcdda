/* libFuzzer target for the exchange-powershell-winrm transport's readers
 * of what a WinRM server sends (brokers/exchange-powershell-winrm/
 * wr_parse.c).  The first byte picks the reader, the rest is its input:
 *   0  a ReceiveResponse envelope: the streams read never pass the cap,
 *      Done comes with an exit code or -1;
 *   1  stderr: the CLIXML reduction always gives something, the input
 *      itself when it is not CLIXML, and valid UTF-8 for valid UTF-8;
 *   2  text with _xHHHH_ escapes: valid UTF-8 in, valid UTF-8 out;
 *   3  a script: -EncodedCommand's UTF-16LE base64 decodes back to it.
 *
 * Built without libFuzzer (with tests/fuzz/replay_main.c), it replays the
 * files given as arguments (make check runs it over its corpus). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/xml.h>

#include "../../brokers/exchange-powershell-winrm/wr_wsman.h"
#include "fuzz.h"

#define IN_MAX (256 * 1024)

static void receive(const char *s, size_t n)
{
	struct sb_error err;
	xmlDoc *d = sb_xml_parse(s, n, IN_MAX, &err);
	if (!d)
		return;
	struct wr_recv r;
	memset(&r, 0, sizeof(r));
	sb_buf_init(&r.out, 0);
	sb_buf_init(&r.err, 0);
	r.cap = 4096;
	r.exit_code = -1;
	enum sb_status st = wr_receive_read(d, n & 1 ? "A" : NULL, &r, &err);
	if (st == SB_OK)
		FUZZ_CHECK(r.out.len + r.err.len <= r.cap, "cap passed: %zu",
			   r.out.len + r.err.len);
	else
		FUZZ_CHECK(sb_utf8_valid(err.message, strlen(err.message)),
			   "message not UTF-8");
	sb_buf_free(&r.out);
	sb_buf_free(&r.err);
	sb_xml_free(d);
}

static void clixml(const char *s, size_t n)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	FUZZ_CHECK(wr_clixml_reduce(s, n, &b), "failed");
	if (n < 9 || memcmp(s, "#< CLIXML", 9) != 0)
		FUZZ_CHECK(b.len == n && (!n || memcmp(b.data, s, n) == 0),
			   "plain stderr changed");
	if (sb_utf8_valid(s, n))
		FUZZ_CHECK(sb_utf8_valid(b.data ? b.data : "", b.len),
			   "invalid UTF-8 out");
	sb_buf_free(&b);
}

static void unescape(const char *s, size_t n)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	FUZZ_CHECK(wr_xml_name_unescape(s, n, &b), "failed");
	if (sb_utf8_valid(s, n))
		FUZZ_CHECK(sb_utf8_valid(b.data ? b.data : "", b.len),
			   "invalid UTF-8 out");
	FUZZ_CHECK(b.len <= n, "grew: %zu > %zu", b.len, n);
	sb_buf_free(&b);
}

static void encode(const char *s, size_t n)
{
	char *b64 = wr_encode_command(s, n);
	if (!sb_utf8_valid(s, n)) {
		FUZZ_CHECK(b64 == NULL, "invalid UTF-8 encoded");
		return;
	}
	FUZZ_CHECK(b64 != NULL, "valid UTF-8 refused");
	size_t len;
	unsigned char *u = sb_base64_decode(b64, strlen(b64), &len);
	FUZZ_CHECK(u != NULL && len % 2 == 0, "not UTF-16");
	struct sb_buf back;
	sb_buf_init(&back, 0);
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint32_t cu = (uint32_t)u[i] | (uint32_t)u[i + 1] << 8;
		if (cu >= 0xD800 && cu <= 0xDBFF && i + 3 < len) {
			uint32_t lo = (uint32_t)u[i + 2] | (uint32_t)u[i + 3]
							       << 8;
			cu = 0x10000 + ((cu - 0xD800) << 10) + (lo - 0xDC00);
			i += 2;
		}
		char e[4];
		sb_buf_append(&back, e, sb_utf8_encode(cu, e));
	}
	FUZZ_CHECK(back.len == n && (!n || memcmp(back.data, s, n) == 0),
		   "round trip");
	sb_buf_free(&back);
	free(u);
	free(b64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > IN_MAX)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 4) {
	case 0:
		receive(s, n);
		break;
	case 1:
		clixml(s, n);
		break;
	case 2:
		unescape(s, n);
		break;
	default:
		encode(s, n);
		break;
	}
	return 0;
}
