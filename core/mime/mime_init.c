/* svcbroker — GMime's one-time set-up for libsvcbroker-mime.
 *
 * g_mime_init() registers GMime's GObject types and its charset tables; it
 * must run once per process before any other GMime call, and GMime's own
 * counter is not thread-safe, so every entry point of this library calls
 * mime_init_once() (pthread_once).  g_mime_shutdown() is never called:
 * brokers that use this library are modules the host may unload and load
 * again while others still use GMime, and GObject types cannot be
 * registered twice.  The library is linked with -z nodelete (mime.am), so
 * it, and GMime with it, stays mapped for the life of the process once
 * loaded: a reloaded module finds GMime initialised, and the once flag
 * set.  What GMime and GLib allocate here is kept until exit (valgrind:
 * "still reachable"). */
#include "config.h"

#include <pthread.h>

#include <gmime/gmime.h>

#include <svcbroker/sdk.h>

#include "mime_int.h"

GMimeParserOptions *mime_reader_options;
GMimeParserOptions *mime_strict_options;
GMimeFormatOptions *mime_wire_format;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	g_mime_init();
	GMimeParserOptions *o = g_mime_parser_options_new();
	/* undeclared 8-bit header text: UTF-8 (invalid bytes become U+FFFD
	 * as Python's email reads them) */
	static const char *fallback[] = {"utf-8", NULL};
	g_mime_parser_options_set_fallback_charsets(o, fallback);
	mime_reader_options = o;
	o = g_mime_parser_options_new();
	g_mime_parser_options_set_address_compliance_mode(
	    o, GMIME_RFC_COMPLIANCE_STRICT);
	mime_strict_options = o;
	GMimeFormatOptions *f = g_mime_format_options_new();
	g_mime_format_options_set_newline_format(f, GMIME_NEWLINE_FORMAT_DOS);
	g_mime_format_options_set_param_encoding_method(
	    f, GMIME_PARAM_ENCODING_METHOD_RFC2231);
	mime_wire_format = f;
}

void mime_init_once(void) { pthread_once(&once, init); }

bool mime_random_hex(char *out, size_t n)
{
	static const char hexd[] = "0123456789ABCDEF";
	unsigned char r[32];
	if (n > sizeof(r) || !sb_random_bytes(r, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexd[r[i] >> 4];
		out[2 * i + 1] = hexd[r[i] & 15];
	}
	out[2 * n] = '\0';
	return true;
}
