/* Unit tests for safe XML and SOAP (core/net/xml.c, xml_stream.c, soap.c).
 *
 * The protocol samples are read from $top_srcdir/../shared/protocol (or
 * $SB_PROTOCOL_DIR when set); where that directory does not exist (a
 * distribution tarball) those cases say so and check nothing else. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpdir.h"
#include <svcbroker/net.h>
#include <svcbroker/xml.h>

/* ---- helpers ------------------------------------------------------------ */

static xmlDoc *parse(const char *s, struct sb_error *err)
{
	sb_error_clear(err);
	return sb_xml_parse(s, strlen(s), 0, err);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct sb_buf b;
	sb_buf_init(&b, 0);
	char tmp[8192];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		sb_buf_append(&b, tmp, n);
	fclose(f);
	*len = b.len;
	return sb_buf_steal(&b);
}

/* The protocol directory, or NULL (with the reason printed) when absent. */
static const char *protocol_dir(char *out, size_t n)
{
	const char *dir = getenv("SB_PROTOCOL_DIR");
	if (dir && *dir) {
		snprintf(out, n, "%s", dir);
	} else {
		const char *top = getenv("top_srcdir");
		snprintf(out, n, "%s/../shared/protocol", top ? top : ".");
	}
	struct stat st;
	if (stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("test_xml: SKIP protocol samples: %s does not exist "
		       "(outside the project's tree, e.g. make distcheck)\n",
		       out);
		return NULL;
	}
	return out;
}

static xmlDoc *parse_sample(const char *dir, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	size_t len = 0;
	char *data = slurp(path, &len);
	ck_assert_msg(data != NULL, "cannot read %s", path);
	struct sb_error err;
	sb_error_clear(&err);
	xmlDoc *doc = sb_xml_parse(data, len, 0, &err);
	ck_assert_msg(doc != NULL, "%s: %s", rel, err.message);
	free(data);
	return doc;
}

/* fd 2 goes to a temporary file until stderr_end, which returns how many
 * bytes were written to it meanwhile. */
static int saved_stderr = -1;
static FILE *stderr_file;

static void stderr_begin(void)
{
	fflush(stderr);
	stderr_file = tmpfile();
	ck_assert_ptr_nonnull(stderr_file);
	saved_stderr = dup(2);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(dup2(fileno(stderr_file), 2), 0);
}

static long stderr_end(void)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
	long n = ftell(stderr_file) >= 0 ? 0 : -1;
	struct stat st;
	if (fstat(fileno(stderr_file), &st) == 0)
		n = (long)st.st_size;
	fclose(stderr_file);
	stderr_file = NULL;
	return n;
}

static void assert_refused(const char *doc, const char *what)
{
	struct sb_error err;
	int64_t t0 = sb_now_ms();
	xmlDoc *d = parse(doc, &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_msg(strstr(err.message, what) != NULL,
		      "message \"%s\" does not say \"%s\"", err.message, what);
	ck_assert_int_lt(sb_now_ms() - t0, 1000);
	/* The same through a stream, fed in small pieces. */
	struct sb_xml_stream *s =
	    sb_xml_stream_new(SB_NS_EWS_TYPES, "Content", 0, 0, NULL, NULL);
	ck_assert_ptr_nonnull(s);
	size_t len = strlen(doc);
	enum sb_status st = SB_OK;
	for (size_t i = 0; i < len && st == SB_OK; i += 7)
		st = sb_xml_stream_feed(s, doc + i, len - i < 7 ? len - i : 7,
					&err);
	if (st == SB_OK) {
		d = sb_xml_stream_finish(s, &err);
		ck_assert_ptr_null(d);
	}
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_msg(strstr(err.message, what) != NULL,
		      "stream message \"%s\" does not say \"%s\"", err.message,
		      what);
	sb_xml_stream_free(s);
}

/* ---- the protocol samples ------------------------------------------------ */

static int parse_dir(const char *dir, const char *sub)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	ck_assert_msg(d != NULL, "cannot open %s", path);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".xml") != 0)
			continue;
		char rel[1024];
		snprintf(rel, sizeof(rel), "%s/%s", sub, e->d_name);
		xmlDoc *doc = parse_sample(dir, rel);
		ck_assert_ptr_nonnull(sb_xml_root(doc));
		sb_xml_free(doc);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(every_sample_parses)
{
	char buf[1024];
	const char *dir = protocol_dir(buf, sizeof(buf));
	if (!dir)
		return;
	ck_assert_int_ge(parse_dir(dir, "ews/samples"), 30);
	ck_assert_int_ge(parse_dir(dir, "ews/samples/exchangelib-capture"), 5);
	ck_assert_int_ge(parse_dir(dir, "winrm/samples"), 16);
}
END_TEST

START_TEST(sample_faults_read)
{
	char buf[1024];
	const char *dir = protocol_dir(buf, sizeof(buf));
	if (!dir)
		return;
	struct sb_soap_fault f;
	struct sb_error err;

	xmlDoc *doc = parse_sample(dir, "ews/samples/error-serverbusy.fault."
					"response.xml");
	ck_assert(sb_soap_fault_read(doc, &f));
	ck_assert_int_eq(f.version, 11);
	ck_assert_str_eq(f.code, "ErrorServerBusy");
	ck_assert_str_eq(f.code_ns, SB_NS_EWS_TYPES);
	ck_assert_str_eq(f.response_code, "ErrorServerBusy");
	ck_assert_int_eq(f.back_off_ms, 30000);
	ck_assert_str_eq(f.reason, "The server cannot service this request "
				   "right now. Try again later.");
	ck_assert_ptr_nonnull(strstr(f.message, "cannot service"));
	ck_assert_int_eq(sb_soap_fault_error(&f, &err), SB_ERR_THROTTLED);
	ck_assert_int_eq(err.retry_after_ms, 30000);
	ck_assert_str_eq(err.code, "ErrorServerBusy");
	sb_xml_free(doc);

	doc = parse_sample(dir,
			   "ews/samples/error-schemavalidation.fault.response."
			   "xml");
	ck_assert(sb_soap_fault_read(doc, &f));
	ck_assert_str_eq(f.code, "ErrorSchemaValidation");
	ck_assert_str_eq(f.response_code, "ErrorSchemaValidation");
	ck_assert_int_eq(f.back_off_ms, -1);
	ck_assert_str_eq(f.message, "The request failed schema validation.");
	ck_assert_int_eq(sb_soap_fault_error(&f, &err), SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "ErrorSchemaValidation");
	ck_assert_int_eq(err.retry_after_ms, 0);
	sb_xml_free(doc);

	doc = parse_sample(dir, "ews/samples/error-impersonateuserdenied."
				"fault.response.xml");
	ck_assert(sb_soap_fault_read(doc, &f));
	ck_assert_str_eq(f.response_code, "ErrorImpersonateUserDenied");
	sb_xml_free(doc);

	static const struct {
		const char *file, *subcode, *code;
	} winrm[] = {
	    {"winrm/samples/90-fault-receive-timeout.xml", "TimedOut",
	     "2150858793"},
	    {"winrm/samples/91-fault-shell-not-found.xml", "InvalidSelectors",
	     "2150858843"},
	    {"winrm/samples/92-fault-access-denied.xml", "AccessDenied", "5"},
	    {"winrm/samples/93-fault-quota-too-many-shells.xml", "QuotaLimit",
	     "2150859174"},
	};
	for (size_t i = 0; i < sizeof(winrm) / sizeof(winrm[0]); i++) {
		doc = parse_sample(dir, winrm[i].file);
		ck_assert(sb_soap_fault_read(doc, &f));
		ck_assert_int_eq(f.version, 12);
		ck_assert_str_eq(f.code_ns, SB_NS_SOAP12);
		ck_assert_str_eq(f.subcode, winrm[i].subcode);
		ck_assert_str_eq(f.subcode_ns, SB_NS_WSMAN);
		ck_assert_str_eq(f.wsman_code, winrm[i].code);
		ck_assert_int_eq(f.wsman_code_num,
				 strtoll(winrm[i].code, NULL, 10));
		ck_assert_int_gt(strlen(f.reason), 10);
		ck_assert_int_gt(strlen(f.wsman_message), 10);
		ck_assert_int_eq(sb_soap_fault_error(&f, &err),
				 SB_ERR_UPSTREAM);
		ck_assert_str_eq(err.code, winrm[i].code);
		sb_xml_free(doc);
	}
	doc = parse_sample(dir, "winrm/samples/90-fault-receive-timeout.xml");
	ck_assert(sb_soap_fault_read(doc, &f));
	ck_assert_str_eq(f.code, "Receiver");
	ck_assert_int_eq(f.wsman_code_num, 2150858793LL);
	sb_xml_free(doc);

	/* Answers that are not faults. */
	doc = parse_sample(dir, "ews/samples/getitem.response.xml");
	ck_assert(!sb_soap_fault_read(doc, &f));
	ck_assert_int_eq(f.back_off_ms, -1);
	ck_assert_int_eq(sb_soap_version_of(doc), 11);
	ck_assert_ptr_nonnull(sb_xml_child(
	    sb_soap_body_of(doc), SB_NS_EWS_MESSAGES, "GetItemResponse"));
	sb_xml_free(doc);
	doc = parse_sample(dir, "winrm/samples/01-create-shell.response.xml");
	ck_assert(!sb_soap_fault_read(doc, &f));
	ck_assert_int_eq(sb_soap_version_of(doc), 12);
	ck_assert_ptr_nonnull(sb_soap_header_of(doc));
	sb_xml_free(doc);
}
END_TEST

/* ---- faults written with other prefixes ------------------------------- */

START_TEST(faults_by_namespace_not_prefix)
{
	/* Default namespace for the envelope, "x" for the EWS types. */
	const char *f11 =
	    "<Envelope xmlns='" SB_NS_SOAP11 "'><Body><Fault>"
	    "<faultcode xmlns='' xmlns:x='" SB_NS_EWS_TYPES
	    "'> x:ErrorServerBusy </faultcode>"
	    "<faultstring xmlns=''>busy &amp; tired</faultstring>"
	    "<detail xmlns=''><ResponseCode xmlns='" SB_NS_EWS_ERRORS
	    "'>ErrorServerBusy</ResponseCode>"
	    "<q:MessageXml xmlns:q='" SB_NS_EWS_TYPES
	    "'><q:Value Name='Other'>7</q:Value>"
	    "<q:Value Name='BackOffMilliseconds'> 1500 </q:Value>"
	    "</q:MessageXml></detail></Fault></Body></Envelope>";
	struct sb_error err;
	struct sb_soap_fault f;
	xmlDoc *doc = parse(f11, &err);
	ck_assert_msg(doc != NULL, "%s", err.message);
	ck_assert(sb_soap_fault_read(doc, &f));
	ck_assert_int_eq(f.version, 11);
	ck_assert_str_eq(f.code, "ErrorServerBusy");
	ck_assert_str_eq(f.code_ns, SB_NS_EWS_TYPES);
	ck_assert_str_eq(f.reason, "busy & tired");
	ck_assert_str_eq(f.response_code, "ErrorServerBusy");
	ck_assert_int_eq(f.back_off_ms, 1500);
	sb_xml_free(doc);

	/* The right local names in a wrong namespace are not a fault. */
	doc = parse("<s:Envelope xmlns:s='urn:other'><s:Body><s:Fault/>"
		    "</s:Body></s:Envelope>",
		    &err);
	ck_assert_ptr_nonnull(doc);
	ck_assert(!sb_soap_fault_read(doc, &f));
	ck_assert_int_eq(sb_soap_version_of(doc), 0);
	sb_xml_free(doc);

	/* SOAP 1.2 with env: and a WSManFault whose Code is not a number;
	 * a long reason is cut at a character boundary. */
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "<env:Envelope xmlns:env='" SB_NS_SOAP12
			"'><env:Body><env:Fault><env:Code><env:Value>"
			"env:Sender</env:Value><env:Subcode><env:Value "
			"xmlns:m='" SB_NS_WSMAN
			"'>m:InvalidSelectors</env:Value></env:Subcode>"
			"</env:Code><env:Reason><env:Text xml:lang='en'>");
	for (int i = 0; i < 400; i++)
		sb_buf_puts(&b, "\xc3\xa9");
	sb_buf_puts(&b, "</env:Text></env:Reason><env:Detail><W:WSManFault "
			"xmlns:W='" SB_NS_WSMAN_FAULT
			"' Code='0x80338029'><W:Message>m</W:Message>"
			"</W:WSManFault></env:Detail></env:Fault></env:Body>"
			"</env:Envelope>");
	ck_assert(!b.failed);
	doc = sb_xml_parse(b.data, b.len, 0, &err);
	ck_assert_msg(doc != NULL, "%s", err.message);
	ck_assert(sb_soap_fault_read(doc, &f));
	ck_assert_int_eq(f.version, 12);
	ck_assert_str_eq(f.code, "Sender");
	ck_assert_str_eq(f.subcode, "InvalidSelectors");
	ck_assert_str_eq(f.subcode_ns, SB_NS_WSMAN);
	ck_assert_str_eq(f.wsman_code, "0x80338029");
	ck_assert_int_eq(f.wsman_code_num, -1);
	ck_assert_str_eq(f.wsman_message, "m");
	ck_assert_int_eq(strlen(f.reason), SB_SOAP_TEXT_MAX - 2);
	ck_assert(sb_utf8_valid(f.reason, strlen(f.reason)));
	sb_xml_free(doc);
	sb_buf_free(&b);
}
END_TEST

/* ---- refusals ----------------------------------------------------------- */

START_TEST(dtds_refused)
{
	assert_refused("<!DOCTYPE r><r/>", "DTD");
	assert_refused("<?xml version='1.0'?>\n<!DOCTYPE r [ <!ELEMENT r "
		       "ANY> ]><r/>",
		       "DTD");
	/* Billion laughs. */
	assert_refused(
	    "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
	    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"
	    "&lol;'><!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"
	    "&lol1;&lol1;&lol1;&lol1;'><!ENTITY lol3 '&lol2;&lol2;&lol2;"
	    "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'><!ENTITY lol4 "
	    "'&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>"
	    "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"
	    "&lol4;&lol4;'><!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;"
	    "&lol5;&lol5;&lol5;&lol5;&lol5;'><!ENTITY lol7 '&lol6;&lol6;"
	    "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'><!ENTITY lol8 "
	    "'&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>"
	    "<!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;"
	    "&lol8;&lol8;'>]><lolz>&lol9;</lolz>",
	    "DTD");
	/* Quadratic blow-up: one 64 KB entity referenced 20000 times. */
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "<!DOCTYPE r [<!ENTITY a '");
	for (int i = 0; i < 65536; i++)
		sb_buf_puts(&b, "a");
	sb_buf_puts(&b, "'>]><r>");
	for (int i = 0; i < 20000; i++)
		sb_buf_puts(&b, "&a;");
	sb_buf_puts(&b, "</r>");
	ck_assert(!b.failed);
	assert_refused(b.data, "DTD");
	sb_buf_free(&b);
	/* An entity without a DTD is not declared: not well-formed. */
	assert_refused("<r>&a;</r>", "not well-formed at line 1");
}
END_TEST

/* fmt with its one "%s" replaced by arg (and no other conversion). */
static void fill(char *out, size_t n, const char *fmt, const char *arg)
{
	const char *at = strstr(fmt, "%s");
	ck_assert_ptr_nonnull(at);
	snprintf(out, n, "%.*s%s%s", (int)(at - fmt), fmt, arg, at + 2);
}

START_TEST(xxe_reads_and_fetches_nothing)
{
	/* A file with a marker, and a FIFO: opening the FIFO for reading
	 * would block the parse (and fail the test by its timeout). */
	char dir[160];
	make_tmp_dir(dir, sizeof(dir), "sb-xml-");
	char file[256], fifo[256];
	snprintf(file, sizeof(file), "%s/secret", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fputs("TOP-SECRET-MARKER", f);
	fclose(f);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);

	/* A loopback listener that must never see a connection. */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(ls, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(ls, 8), 0);
	socklen_t al = sizeof(a);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	int port = ntohs(a.sin_port);

	char doc[1024];
	const char *forms[] = {
	    "<!DOCTYPE r [<!ENTITY x SYSTEM 'file://%s'>]><r>&x;</r>",
	    "<!DOCTYPE r [<!ENTITY x SYSTEM '%s'>]><r>&x;</r>",
	    "<!DOCTYPE r SYSTEM 'file://%s'><r/>",
	    "<!DOCTYPE r [<!ENTITY % p SYSTEM 'file://%s'> %p;]><r/>",
	};
	const char *paths[] = {file, fifo};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		for (size_t j = 0; j < 2; j++) {
			fill(doc, sizeof(doc), forms[i], paths[j]);
			struct sb_error err;
			xmlDoc *d = parse(doc, &err);
			ck_assert_ptr_null(d);
			ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
			ck_assert_ptr_nonnull(strstr(err.message, "DTD"));
			ck_assert_ptr_null(strstr(err.message, "MARKER"));
		}
	const char *http_forms[] = {
	    "<!DOCTYPE r [<!ENTITY x SYSTEM 'http://127.0.0.1:%s/x'>]>"
	    "<r>&x;</r>",
	    "<!DOCTYPE r SYSTEM 'http://127.0.0.1:%s/r.dtd'><r/>",
	    "<!DOCTYPE r PUBLIC '-//x//y' 'http://127.0.0.1:%s/r.dtd'><r/>",
	    "<!DOCTYPE r [<!ENTITY % p SYSTEM 'http://127.0.0.1:%s/p'> "
	    "%p;]><r/>",
	    "<r xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include "
	    "href='http://127.0.0.1:%s/i'/></r>",
	};
	for (size_t i = 0; i < sizeof(http_forms) / sizeof(http_forms[0]);
	     i++) {
		char ps[16];
		snprintf(ps, sizeof(ps), "%d", port);
		fill(doc, sizeof(doc), http_forms[i], ps);
		struct sb_error err;
		xmlDoc *d = parse(doc, &err);
		if (i < 4) {
			ck_assert_ptr_null(d);
			ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
			ck_assert_ptr_nonnull(strstr(err.message, "DTD"));
		} else {
			/* XInclude is never processed: a plain element. */
			ck_assert_ptr_nonnull(d);
			sb_xml_free(d);
		}
	}
	struct pollfd p = {.fd = ls, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 100), 0);
	close(ls);
	/* Nobody holds the FIFO open for reading. */
	int w = open(fifo, O_WRONLY | O_NONBLOCK);
	ck_assert_int_eq(w, -1);
	ck_assert_int_eq(errno, ENXIO);
	unlink(fifo);
	unlink(file);
	rmdir(dir);
}
END_TEST

START_TEST(refusals_name_the_problem_without_content)
{
	struct sb_error err;
	xmlDoc *d = parse("<a>\n<b>SECRET-MAIL-TEXT\n</a>", &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_msg(strstr(err.message, "not well-formed at line 3") != NULL,
		      "%s", err.message);
	ck_assert_ptr_null(strstr(err.message, "SECRET"));

	const char *big = "<r>0123456789012345678901234567890123456789</r>";
	d = sb_xml_parse(big, strlen(big), 20, &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err.message, "too large at 47 bytes"));

	d = sb_xml_parse("", 0, 0, &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err.message, "empty"));

	d = parse("  <!-- only a comment -->  ", &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);

	d = parse("<r>bad \xff byte</r>", &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err.message, "line 1"));

	d = parse("<?xml version='1.0' encoding='EUC-JP'?>\n<r>\x8e\xff</r>",
		  &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_msg(strstr(err.message, "declared character encoding"), "%s",
		      err.message);
}
END_TEST

START_TEST(nothing_reaches_stderr)
{
	const char *bad[] = {
	    "<a><b>SECRET-MAIL-TEXT</a>",
	    "<r>&undefined;SECRET-MAIL-TEXT</r>",
	    "<!DOCTYPE r [<!ENTITY x 'SECRET-MAIL-TEXT'>]><r>&x;</r>",
	    "<r a='1' a='2'>SECRET-MAIL-TEXT</r>",
	    "<r xmlns:p='urn:x'><q:x>SECRET-MAIL-TEXT</q:x></r>",
	    "<r>SECRET-MAIL-TEXT \x80</r>",
	    "<?xml version='1.0' encoding='x-unknown-charset'?><r/>",
	    "<r><![CDATA[SECRET-MAIL-TEXT</r>",
	    "<r xmlns='not a uri'>SECRET-MAIL-TEXT</r>",
	    /* a failed character-set conversion: libxml2 2.9 reports it
	     * through the thread's handlers, not the context's */
	    "<?xml version='1.0' encoding='EUC-JP'?><r>\x8e\xff</r>",
	    "<?xml version='1.0' encoding='ISO-2022-JP'?><r>\x1b$B\xff\xff"
	    "SECRET-MAIL-TEXT</r>",
	};
	stderr_begin();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sb_error err;
		xmlDoc *d = parse(bad[i], &err);
		sb_xml_free(d);
		xmlDoc *s = sb_xml_parse_stream(bad[i], strlen(bad[i]), 0, NULL,
						"r", 0, NULL, NULL, &err);
		sb_xml_free(s);
	}
	long n = stderr_end();
	ck_assert_int_eq(n, 0);
}
END_TEST

/* ---- lookup ------------------------------------------------------------- */

START_TEST(lookup_by_namespace_and_local_name)
{
	const char *x =
	    "<m:Resp xmlns:m='" SB_NS_EWS_MESSAGES "' xmlns:t='" SB_NS_EWS_TYPES
	    "'>\n"
	    "  <m:Items>\n"
	    "    <t:Message><t:Subject>one &amp; "
	    "&#x263A;</t:Subject></t:Message>\n"
	    "    <x:Note xmlns:x='urn:other'/>\n"
	    "    <Message xmlns='" SB_NS_EWS_TYPES "' Id=\"a&lt;b\" e=''>"
	    "<Subject>two<![CDATA[ <cdata> ]]>!</Subject></Message>\n"
	    "    <t:Message t:Id='q'><t:Size> 42 </t:Size></t:Message>\n"
	    "  </m:Items>\n"
	    "</m:Resp>";
	struct sb_error err;
	xmlDoc *doc = parse(x, &err);
	ck_assert_msg(doc != NULL, "%s", err.message);
	xmlNode *root = sb_xml_root(doc);
	ck_assert(sb_xml_is(root, SB_NS_EWS_MESSAGES, "Resp"));
	ck_assert(!sb_xml_is(root, SB_NS_EWS_TYPES, "Resp"));
	ck_assert(!sb_xml_is(root, NULL, "Resp"));
	xmlNode *items = sb_xml_path(root, SB_NS_EWS_MESSAGES, "Items", NULL);
	ck_assert_ptr_nonnull(items);
	ck_assert_ptr_null(sb_xml_path(root, SB_NS_EWS_TYPES, "Items", NULL));
	ck_assert_ptr_null(sb_xml_child(items, "urn:other", "Message"));

	const char *subjects[] = {"one & \xe2\x98\xba", "two <cdata> !", ""};
	int n = 0;
	for (xmlNode *m = sb_xml_child(items, SB_NS_EWS_TYPES, "Message"); m;
	     m = sb_xml_next(m), n++) {
		ck_assert_int_lt(n, 3);
		char *s = sb_xml_text(
		    sb_xml_child(m, SB_NS_EWS_TYPES, "Subject"), 0, &err);
		if (n < 2) {
			ck_assert_str_eq(s, subjects[n]);
		} else {
			ck_assert_ptr_null(s);
			ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
		}
		free(s);
		if (n == 1) {
			ck_assert_str_eq(sb_xml_attr(m, NULL, "Id"), "a<b");
			ck_assert_str_eq(sb_xml_attr(m, NULL, "e"), "");
			ck_assert_ptr_null(sb_xml_attr(m, NULL, "none"));
		}
		if (n == 2) {
			ck_assert_ptr_null(sb_xml_attr(m, NULL, "Id"));
			ck_assert_str_eq(sb_xml_attr(m, SB_NS_EWS_TYPES, "Id"),
					 "q");
			int64_t v = 0;
			ck_assert(sb_xml_int64(
			    sb_xml_child(m, SB_NS_EWS_TYPES, "Size"), &v));
			ck_assert_int_eq(v, 42);
			ck_assert(!sb_xml_int64(m, &v) || v == 42);
		}
	}
	ck_assert_int_eq(n, 3);
	ck_assert_ptr_nonnull(sb_xml_find(root, "urn:other", "Note"));
	xmlNode *sz = sb_xml_find(root, SB_NS_EWS_TYPES, "Size");
	ck_assert_ptr_nonnull(sz);
	ck_assert_ptr_null(sb_xml_find(sz, SB_NS_EWS_TYPES, "Size"));
	ck_assert_ptr_null(sb_xml_find(items, SB_NS_EWS_MESSAGES, "Resp"));
	/* Mixed walking. */
	int elements = 0;
	for (xmlNode *c = sb_xml_first_element(items); c;
	     c = sb_xml_next_element(c))
		elements++;
	ck_assert_int_eq(elements, 4);

	/* Text caps: an error past max; a copy cut at a character. */
	xmlNode *subj = sb_xml_find(root, SB_NS_EWS_TYPES, "Subject");
	char *s = sb_xml_text(subj, 4, &err);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err.message, "longer than 4 bytes"));
	s = sb_xml_text(subj, 9, &err);
	ck_assert_str_eq(s, "one & \xe2\x98\xba");
	free(s);
	char small[9];
	ck_assert_int_eq(sb_xml_text_copy(subj, small, sizeof(small)), 6);
	ck_assert_str_eq(small, "one & ");
	ck_assert_int_eq(sb_xml_text_copy(NULL, small, sizeof(small)), 0);
	ck_assert_str_eq(small, "");
	int64_t v;
	ck_assert(!sb_xml_int64(subj, &v));
	ck_assert(!sb_xml_int64(NULL, &v));
	sb_xml_free(doc);

	doc = parse("<r><a>-9223372036854775808</a><b>9223372036854775808</b>"
		    "<c>-</c><d>1 2</d></r>",
		    &err);
	ck_assert_ptr_nonnull(doc);
	root = sb_xml_root(doc);
	ck_assert(sb_xml_int64(sb_xml_child(root, NULL, "a"), &v));
	ck_assert(v == INT64_MIN);
	ck_assert(!sb_xml_int64(sb_xml_child(root, NULL, "b"), &v));
	ck_assert(!sb_xml_int64(sb_xml_child(root, NULL, "c"), &v));
	ck_assert(!sb_xml_int64(sb_xml_child(root, NULL, "d"), &v));
	sb_xml_free(doc);
}
END_TEST

/* ---- escaping and writing ----------------------------------------------- */

static char *esc(const char *s, unsigned mode, struct sb_error *err)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "[");
	if (sb_xml_escape_append(&b, s, (size_t)-1, mode, err) != SB_OK) {
		/* Left as it was. */
		ck_assert_str_eq(b.data, "[");
		sb_buf_free(&b);
		return NULL;
	}
	return sb_buf_steal(&b);
}

START_TEST(escape_modes)
{
	struct sb_error err;
	char *s = esc("a&b<c>d\"e'f\tg\nh\ri", SB_XML_TEXT, &err);
	ck_assert_str_eq(s, "[a&amp;b&lt;c&gt;d\"e'f\tg\nh&#13;i");
	free(s);
	s = esc("a&b<c>d\"e'f\tg\nh\r\ni \xc3\xa9", SB_XML_ATTR, &err);
	ck_assert_str_eq(s, "[a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#10;h&#13;"
			    "&#10;i \xc3\xa9");
	free(s);
	s = esc("", SB_XML_ATTR, &err);
	ck_assert_str_eq(s, "[");
	free(s);

	ck_assert_ptr_null(esc("ok\abell", SB_XML_TEXT, &err));
	ck_assert_int_eq(err.status, SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "U+0007 at byte 2"));
	ck_assert_ptr_null(esc("ab\xef\xbf\xbe", SB_XML_ATTR, &err));
	ck_assert_ptr_nonnull(strstr(err.message, "U+FFFE at byte 2"));
	ck_assert_ptr_null(esc("\xef\xbf\xbf", SB_XML_TEXT, &err));
	ck_assert_ptr_nonnull(strstr(err.message, "U+FFFF at byte 0"));
	ck_assert_ptr_null(esc("abc\xc0\xaf", SB_XML_TEXT, &err));
	ck_assert_ptr_nonnull(strstr(err.message, "invalid UTF-8 at byte 3"));
	ck_assert_ptr_null(esc("x\xed\xa0\x80", SB_XML_TEXT, &err));
	ck_assert_ptr_nonnull(strstr(err.message, "invalid UTF-8 at byte 1"));

	/* An explicit length may carry a NUL, which is refused too. */
	struct sb_buf b;
	sb_buf_init(&b, 0);
	ck_assert_int_eq(sb_xml_escape_append(&b, "a\0b", 3, SB_XML_TEXT, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "U+0000 at byte 1"));
	sb_buf_free(&b);
	/* A full buffer is an error, not a cut document. */
	sb_buf_init(&b, 8);
	ck_assert_int_eq(
	    sb_xml_escape_append(&b, "&&&", (size_t)-1, SB_XML_TEXT, &err),
	    SB_ERR_INTERNAL);
	sb_buf_free(&b);
}
END_TEST

START_TEST(escape_round_trips)
{
	const char *texts[] = {
	    "plain",
	    "line one\r\nline two\r\n",
	    "\tindented\n\tlines\r",
	    "quotes \" and ' and & < > ]]>",
	    "\xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd",
	    "   leading and trailing   ",
	    "\r\r\n\n\t",
	    "",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct sb_buf b;
		struct sb_error err;
		sb_buf_init(&b, 0);
		sb_buf_puts(&b, "<r a=\"");
		ck_assert_int_eq(sb_xml_escape_append(&b, texts[i], (size_t)-1,
						      SB_XML_ATTR, &err),
				 SB_OK);
		sb_buf_puts(&b, "\" b='");
		ck_assert_int_eq(sb_xml_escape_append(&b, texts[i], (size_t)-1,
						      SB_XML_ATTR, &err),
				 SB_OK);
		sb_buf_puts(&b, "'>");
		ck_assert_int_eq(sb_xml_escape_append(&b, texts[i], (size_t)-1,
						      SB_XML_TEXT, &err),
				 SB_OK);
		sb_buf_puts(&b, "</r>");
		xmlDoc *doc = sb_xml_parse(b.data, b.len, 0, &err);
		ck_assert_msg(doc != NULL, "%zu: %s", i, err.message);
		xmlNode *r = sb_xml_root(doc);
		ck_assert_str_eq(sb_xml_attr(r, NULL, "a"), texts[i]);
		ck_assert_str_eq(sb_xml_attr(r, NULL, "b"), texts[i]);
		char *t = sb_xml_text(r, 0, &err);
		ck_assert_str_eq(t, texts[i]);
		free(t);
		sb_xml_free(doc);
		sb_buf_free(&b);
	}
}
END_TEST

START_TEST(writer_and_envelopes)
{
	static const struct sb_xml_ns ns[] = {
	    {"t", SB_NS_EWS_TYPES},
	    {"m", SB_NS_EWS_MESSAGES},
	};
	struct sb_buf out;
	struct sb_error err;
	sb_buf_init(&out, 0);
	struct sb_xml_w w;
	sb_xml_w_init(&w, &out);
	sb_soap_begin(&w, SB_SOAP11, ns, 2);
	sb_soap_header(&w);
	sb_xml_w_open(&w, "t:RequestServerVersion");
	sb_xml_w_attr(&w, "Version", "Exchange2013_SP1");
	sb_xml_w_close(&w);
	sb_soap_body(&w);
	sb_xml_w_open(&w, "m:CreateItem");
	sb_xml_w_attr(&w, "MessageDisposition", "Send \"now\"\r\n");
	sb_xml_w_open(&w, "m:Items");
	sb_xml_w_open(&w, "t:Message");
	sb_xml_w_leaf(&w, "t:Subject", "a < b & c\r\n");
	sb_xml_w_leaf(&w, "t:Empty", NULL);
	sb_soap_end(&w);
	ck_assert_int_eq(sb_xml_w_finish(&w, &err), SB_OK);
	ck_assert_ptr_nonnull(strstr(out.data, "<t:Empty/>"));
	/* Each namespace declared once, on the envelope. */
	const char *p = strstr(out.data, "xmlns:t=");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(strstr(p + 1, "xmlns:t="));
	ck_assert(p < strstr(out.data, "<s:Header>"));

	xmlDoc *doc = sb_xml_parse(out.data, out.len, 0, &err);
	ck_assert_msg(doc != NULL, "%s", err.message);
	ck_assert_int_eq(sb_soap_version_of(doc), 11);
	ck_assert_ptr_nonnull(sb_xml_child(
	    sb_soap_header_of(doc), SB_NS_EWS_TYPES, "RequestServerVersion"));
	xmlNode *ci = sb_xml_child(sb_soap_body_of(doc), SB_NS_EWS_MESSAGES,
				   "CreateItem");
	ck_assert_str_eq(sb_xml_attr(ci, NULL, "MessageDisposition"),
			 "Send \"now\"\r\n");
	char *subj =
	    sb_xml_text(sb_xml_find(ci, SB_NS_EWS_TYPES, "Subject"), 0, &err);
	ck_assert_str_eq(subj, "a < b & c\r\n");
	free(subj);
	sb_xml_free(doc);
	sb_buf_free(&out);

	/* SOAP 1.2 from fragments. */
	sb_buf_init(&out, 0);
	static const struct sb_xml_ns wsns[] = {
	    {"a", SB_NS_WSA},
	    {"w", SB_NS_WSMAN},
	};
	ck_assert_int_eq(sb_soap_envelope(&out, SB_SOAP12, wsns, 2,
					  "<a:Action>urn:x</a:Action>",
					  "<w:Thing>1</w:Thing>", &err),
			 SB_OK);
	doc = sb_xml_parse(out.data, out.len, 0, &err);
	ck_assert_msg(doc != NULL, "%s", err.message);
	ck_assert_int_eq(sb_soap_version_of(doc), 12);
	ck_assert_ptr_nonnull(
	    sb_xml_child(sb_soap_header_of(doc), SB_NS_WSA, "Action"));
	ck_assert_ptr_nonnull(
	    sb_xml_child(sb_soap_body_of(doc), SB_NS_WSMAN, "Thing"));
	sb_xml_free(doc);
	sb_buf_free(&out);

	/* Header-less envelope. */
	sb_buf_init(&out, 0);
	ck_assert_int_eq(
	    sb_soap_envelope(&out, SB_SOAP11, NULL, 0, NULL, "", &err), SB_OK);
	ck_assert_ptr_null(strstr(out.data, "Header"));
	ck_assert_ptr_nonnull(strstr(out.data, "<s:Body></s:Body>"));
	sb_buf_free(&out);

	/* Mistakes are reported, never written as a broken document. */
	sb_buf_init(&out, 0);
	sb_xml_w_init(&w, &out);
	sb_xml_w_open(&w, "r");
	sb_xml_w_text(&w, "bad \x01");
	sb_xml_w_close(&w);
	ck_assert_int_eq(sb_xml_w_finish(&w, &err), SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "U+0001 at byte 4"));
	sb_buf_free(&out);

	const char *bad_names[] = {"", "1x", "a b", "a:", ":a", "a:b:c", "<"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		sb_buf_init(&out, 0);
		sb_xml_w_init(&w, &out);
		sb_xml_w_open(&w, bad_names[i]);
		ck_assert_int_ne(sb_xml_w_finish(&w, &err), SB_OK);
		sb_buf_free(&out);
	}
	sb_buf_init(&out, 0);
	sb_xml_w_init(&w, &out);
	sb_xml_w_open(&w, "r");
	sb_xml_w_text(&w, "x");
	sb_xml_w_attr(&w, "late", "1");
	ck_assert_int_eq(sb_xml_w_finish(&w, &err), SB_ERR_INTERNAL);
	ck_assert_ptr_nonnull(strstr(err.message, "after content"));
	sb_buf_free(&out);
	sb_buf_init(&out, 0);
	sb_xml_w_init(&w, &out);
	sb_xml_w_open(&w, "r");
	ck_assert_int_eq(sb_xml_w_finish(&w, &err), SB_ERR_INTERNAL);
	ck_assert_ptr_nonnull(strstr(err.message, "left open"));
	sb_buf_free(&out);
	sb_buf_init(&out, 0);
	static const struct sb_xml_ns twice[] = {{"t", "urn:a"},
						 {"t", "urn:b"}};
	ck_assert_int_eq(
	    sb_soap_envelope(&out, SB_SOAP11, twice, 2, NULL, "", &err),
	    SB_ERR_INTERNAL);
	sb_buf_free(&out);
	sb_buf_init(&out, 0);
	sb_buf_puts(&out, "junk");
	ck_assert_int_eq(
	    sb_soap_envelope(&out, SB_SOAP12, NULL, 0, NULL, "", &err),
	    SB_ERR_INTERNAL);
	ck_assert_ptr_nonnull(strstr(err.message, "empty buffer"));
	ck_assert_str_eq(out.data, "junk");
	sb_buf_free(&out);
	sb_buf_init(&out, 0);
	static const struct sb_xml_ns bad[] = {{"s", "urn:a"}};
	ck_assert_int_eq(
	    sb_soap_envelope(&out, SB_SOAP11, bad, 1, NULL, "", &err),
	    SB_ERR_INTERNAL);
	sb_buf_free(&out);
}
END_TEST

/* ---- streaming base64 ---------------------------------------------------- */

struct sink_state {
	uint64_t hash[4];
	size_t bytes[4];
	unsigned ends, calls;
	size_t max_piece;
	size_t heap_base, heap_peak;
	int stop_after;
};

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static bool sink(void *arg, unsigned index, const void *data, size_t len)
{
	struct sink_state *s = arg;
	ck_assert_uint_lt(index, 4);
	s->calls++;
	if (len == 0) {
		s->ends++;
		return true;
	}
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		s->hash[index] = (s->hash[index] ^ p[i]) * 1099511628211ULL;
	s->bytes[index] += len;
	if (len > s->max_piece)
		s->max_piece = len;
	size_t h = heap_in_use();
	if (h > s->heap_peak)
		s->heap_peak = h;
	if (s->stop_after && (int)s->calls >= s->stop_after)
		return false;
	return true;
}

static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13);
}

START_TEST(stream_large_attachment)
{
	/* 13 MB decoded, about 17.3 MB of base64 in one text node. */
	const size_t decoded = 13u * 1024 * 1024 + 1;
	struct sb_buf doc;
	sb_buf_init(&doc, 32u * 1024 * 1024);
	sb_buf_puts(&doc,
		    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		    "<s:Envelope xmlns:s=\"" SB_NS_SOAP11 "\"><s:Body>"
		    "<m:GetAttachmentResponse xmlns:m=\"" SB_NS_EWS_MESSAGES
		    "\" xmlns:t=\"" SB_NS_EWS_TYPES "\"><m:ResponseMessages>"
		    "<m:GetAttachmentResponseMessage ResponseClass=\"Success\">"
		    "<m:ResponseCode>NoError</m:ResponseCode><m:Attachments>"
		    "<t:FileAttachment><t:Name>big.bin</t:Name><t:Content>");
	uint64_t want = 14695981039346656037ULL;
	unsigned char chunk[57];
	for (size_t off = 0; off < decoded; off += sizeof(chunk)) {
		size_t n = decoded - off < sizeof(chunk) ? decoded - off
							 : sizeof(chunk);
		for (size_t i = 0; i < n; i++) {
			chunk[i] = pattern_byte(off + i);
			want = (want ^ chunk[i]) * 1099511628211ULL;
		}
		char *b64 = sb_base64_encode(chunk, n, 0);
		sb_buf_puts(&doc, b64);
		sb_buf_puts(&doc, "\r\n");
		free(b64);
	}
	sb_buf_puts(&doc, "</t:Content></t:FileAttachment><t:FileAttachment>"
			  "<t:Name>small.txt</t:Name><t:Content>aGVsbG8=</t:"
			  "Content></t:FileAttachment></m:Attachments>"
			  "</m:GetAttachmentResponseMessage></m:"
			  "ResponseMessages></m:GetAttachmentResponse>"
			  "</s:Body></s:Envelope>");
	ck_assert(!doc.failed);
	ck_assert_uint_gt(doc.len, 17u * 1024 * 1024);

	/* The plain parser cannot take it (libxml2's 10 MB text node). */
	struct sb_error err;
	xmlDoc *d = sb_xml_parse(doc.data, doc.len, 32u * 1024 * 1024, &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_msg(strstr(err.message, "10 MB") != NULL, "%s", err.message);

	/* The stream, fed as a network would. */
	struct sink_state st = {
	    .hash = {14695981039346656037ULL, 14695981039346656037ULL}};
	st.heap_base = heap_in_use();
	struct sb_xml_stream *s =
	    sb_xml_stream_new(SB_NS_EWS_TYPES, "Content", 32u * 1024 * 1024,
			      14u * 1024 * 1024, sink, &st);
	ck_assert_ptr_nonnull(s);
	for (size_t off = 0; off < doc.len; off += 100000) {
		size_t n = doc.len - off < 100000 ? doc.len - off : 100000;
		ck_assert_int_eq(sb_xml_stream_feed(s, doc.data + off, n, &err),
				 SB_OK);
	}
	d = sb_xml_stream_finish(s, &err);
	ck_assert_msg(d != NULL, "%s", err.message);
	ck_assert_uint_eq(sb_xml_stream_count(s), 2);
	sb_xml_stream_free(s);
	ck_assert_uint_eq(st.bytes[0], decoded);
	ck_assert(st.hash[0] == want);
	ck_assert_uint_eq(st.bytes[1], 5);
	ck_assert_uint_eq(st.ends, 2);
	ck_assert_uint_le(st.max_piece, 4096);
	/* Memory stayed flat: well under the size of the content (mallinfo
	 * counts nothing under valgrind or ASan; there the heap checkers
	 * watch instead). */
	if (st.heap_base > 0)
		ck_assert_msg(st.heap_peak < st.heap_base + 2u * 1024 * 1024,
			      "heap grew by %zu bytes while streaming",
			      st.heap_peak - st.heap_base);
	/* The rest of the document is a tree; the content elements are
	 * there, empty. */
	xmlNode *att =
	    sb_xml_find(sb_soap_body_of(d), SB_NS_EWS_TYPES, "FileAttachment");
	char *name =
	    sb_xml_text(sb_xml_child(att, SB_NS_EWS_TYPES, "Name"), 0, &err);
	ck_assert_str_eq(name, "big.bin");
	free(name);
	xmlNode *content = sb_xml_child(att, SB_NS_EWS_TYPES, "Content");
	ck_assert_ptr_nonnull(content);
	ck_assert_ptr_null(content->children);
	ck_assert_ptr_nonnull(sb_xml_next(att));
	sb_xml_free(d);

	/* A cap on the decoded size. */
	memset(&st, 0, sizeof(st));
	d = sb_xml_parse_stream(doc.data, doc.len, 32u * 1024 * 1024,
				SB_NS_EWS_TYPES, "Content", 1024 * 1024, sink,
				&st, &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err.message, "over 1048576 bytes"));
	ck_assert_uint_le(st.bytes[0], 1024 * 1024);
	/* And on the whole document. */
	d = sb_xml_parse_stream(doc.data, doc.len, 1024 * 1024, SB_NS_EWS_TYPES,
				"Content", 0, sink, &st, &err);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(err.message, "too large"));
	sb_buf_free(&doc);
}
END_TEST

START_TEST(stream_small_pieces_and_errors)
{
	const char *x = "<r xmlns:t='urn:t'><t:c>aGVs\n bG8g\r\nd29y bGQ=</t:c>"
			"<c>bm90IG1l</c><t:c><![CDATA[QQ==]]></t:c>"
			"<t:c></t:c><t:c>  </t:c></r>";
	struct sink_state st = {.hash = {0}};
	struct sb_xml_stream *s =
	    sb_xml_stream_new("urn:t", "c", 0, 0, sink, &st);
	struct sb_error err;
	for (size_t i = 0; x[i]; i++)
		ck_assert_int_eq(sb_xml_stream_feed(s, x + i, 1, &err), SB_OK);
	xmlDoc *d = sb_xml_stream_finish(s, &err);
	ck_assert_msg(d != NULL, "%s", err.message);
	ck_assert_uint_eq(sb_xml_stream_count(s), 4);
	ck_assert_uint_eq(st.bytes[0], 11); /* "hello world" */
	ck_assert_uint_eq(st.bytes[1], 1);
	ck_assert_uint_eq(st.bytes[2], 0);
	ck_assert_uint_eq(st.bytes[3], 0);
	ck_assert_uint_eq(st.ends, 4);
	/* The unqualified <c> stays in the tree with its text. */
	char *t = sb_xml_text(sb_xml_child(sb_xml_root(d), NULL, "c"), 0, &err);
	ck_assert_str_eq(t, "bm90IG1l");
	free(t);
	sb_xml_free(d);
	/* A second finish, or a feed after it, is an error, not a crash. */
	ck_assert_ptr_null(sb_xml_stream_finish(s, &err));
	ck_assert_int_ne(sb_xml_stream_feed(s, "x", 1, &err), SB_OK);
	sb_xml_stream_free(s);

	const char *bad[] = {
	    "<r><c>aGVsbG8</c></r>",  "<r><c>a=GV</c></r>",
	    "<r><c>aGVs*G8=</c></r>", "<r><c>aGU=aGVs</c></r>",
	    "<r><c>&#0;</c></r>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&st, 0, sizeof(st));
		d = sb_xml_parse_stream(bad[i], strlen(bad[i]), 0, NULL, "c", 0,
					sink, &st, &err);
		ck_assert_ptr_null(d);
		ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	}
	d = sb_xml_parse_stream(bad[1], strlen(bad[1]), 0, NULL, "c", 0, sink,
				&st, &err);
	ck_assert_ptr_nonnull(strstr(err.message, "base64 content of <c> #0"));

	/* A sink that refuses stops the parse. */
	memset(&st, 0, sizeof(st));
	st.stop_after = 1;
	d = sb_xml_parse_stream("<r><c>aGVsbG8=</c></r>", 22, 0, NULL, "c", 0,
				sink, &st, &err);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(err.status, SB_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err.message, "stopped by the content"));

	/* Empty input. */
	d = sb_xml_parse_stream("", 0, 0, NULL, "c", 0, sink, &st, &err);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(err.message, "empty"));
}
END_TEST

/* Parses, refusals and streams on several threads at once (the helpers
 * share nothing; libxml2 was initialised when the library was loaded). */
static void *parse_many(void *arg)
{
	(void)arg;
	const char *good = "<s:Envelope xmlns:s='" SB_NS_SOAP11
			   "'><s:Body><s:Fault><faultcode>s:Client</faultcode>"
			   "<faultstring>no</faultstring></s:Fault></s:Body>"
			   "</s:Envelope>";
	const char *bad = "<!DOCTYPE r [<!ENTITY a 'b'>]><r>&a;</r>";
	long ok = 0;
	for (int i = 0; i < 300; i++) {
		struct sb_error err;
		struct sb_soap_fault f;
		xmlDoc *d = sb_xml_parse(good, strlen(good), 0, &err);
		if (d && sb_soap_fault_read(d, &f) &&
		    strcmp(f.code, "Client") == 0 &&
		    strcmp(f.code_ns, SB_NS_SOAP11) == 0)
			ok++;
		sb_xml_free(d);
		d = sb_xml_parse(bad, strlen(bad), 0, &err);
		if (!d && err.status == SB_ERR_UPSTREAM &&
		    strstr(err.message, "DTD"))
			ok++;
		sb_xml_free(d);
		d = sb_xml_parse_stream("<r><c>QUJD</c></r>", 18, 0, NULL, "c",
					0, NULL, NULL, &err);
		if (d)
			ok++;
		sb_xml_free(d);
	}
	return (void *)ok;
}

START_TEST(threads_parse_at_once)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, parse_many, NULL),
				 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		ck_assert_int_eq(pthread_join(t[i], &r), 0);
		ck_assert_int_eq((long)r, 900);
	}
}
END_TEST

START_TEST(net_libraries_named)
{
	ck_assert_ptr_nonnull(strstr(sb_net_libraries(), "libxml2 2"));
}
END_TEST

static Suite *xml_suite(void)
{
	Suite *s = suite_create("xml");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, every_sample_parses);
	tcase_add_test(tc, sample_faults_read);
	tcase_add_test(tc, faults_by_namespace_not_prefix);
	tcase_add_test(tc, dtds_refused);
	tcase_add_test(tc, xxe_reads_and_fetches_nothing);
	tcase_add_test(tc, refusals_name_the_problem_without_content);
	tcase_add_test(tc, nothing_reaches_stderr);
	tcase_add_test(tc, lookup_by_namespace_and_local_name);
	tcase_add_test(tc, escape_modes);
	tcase_add_test(tc, escape_round_trips);
	tcase_add_test(tc, writer_and_envelopes);
	tcase_add_test(tc, stream_large_attachment);
	tcase_add_test(tc, stream_small_pieces_and_errors);
	tcase_add_test(tc, threads_parse_at_once);
	tcase_add_test(tc, net_libraries_named);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(xml_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
