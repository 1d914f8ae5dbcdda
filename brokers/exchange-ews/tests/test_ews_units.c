/* Unit tests for the exchange-ews broker's core: the keys, the envelope
 * (checked against Microsoft's schema), every ResponseCode mapping, SOAP
 * faults, back-off, hostile answers, Autodiscover and the objects Folder,
 * Contact, AutomaticReply and Service, all in the SDK's test host with
 * the network replaced by a transport answering from the samples. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/testhost.h>

#include "../ews_int.h"

extern const struct sb_broker svcbroker_broker;

/* ---- allocation failures on demand ----------------------------------------
 * calloc of exactly fail_nmemb elements of fail_size bytes fails once: a
 * count no other part of the flow asks for picks one allocation.  Not
 * under AddressSanitizer, whose own calloc must serve every block. */
#if defined(__SANITIZE_ADDRESS__)
#define EWS_TEST_CALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EWS_TEST_CALLOC 0
#endif
#endif
#ifndef EWS_TEST_CALLOC
#define EWS_TEST_CALLOC 1
#endif
#if EWS_TEST_CALLOC
static volatile size_t fail_nmemb, fail_size;
static volatile unsigned calloc_failed;
extern void *__libc_calloc(size_t n, size_t size);
__attribute__((noinline)) void *calloc(size_t n, size_t size)
{
	if (fail_nmemb && n == fail_nmemb && size == fail_size) {
		fail_nmemb = 0;
		calloc_failed++;
		return NULL;
	}
	return __libc_calloc(n, size);
}
#endif

/* ---- the fake network ---------------------------------------------------- */

#define MAXQ 40
struct answer {
	int status;
	char *body;
	enum sb_status fail; /* != SB_OK: a failed transfer */
	char *url_has;	     /* answer only a URL holding this (else fail) */
};
struct wire {
	struct answer q[MAXQ];
	size_t head, tail;
	size_t n_req;
	char *url[MAXQ];
	char *body[MAXQ];
	char *headers[MAXQ]; /* joined with '\n' */
};

static struct wire W;

static void wire_reset(void)
{
	for (size_t i = 0; i < MAXQ; i++) {
		free(W.q[i].body);
		free(W.q[i].url_has);
		free(W.url[i]);
		free(W.body[i]);
		free(W.headers[i]);
	}
	memset(&W, 0, sizeof(W));
}

static void push_full(int status, const char *body, enum sb_status fail,
		      const char *url_has)
{
	ck_assert_uint_lt(W.tail, MAXQ);
	struct answer *a = &W.q[W.tail++];
	a->status = status;
	a->body = body ? strdup(body) : NULL;
	a->fail = fail;
	a->url_has = url_has ? strdup(url_has) : NULL;
}
static void push(int status, const char *body)
{
	push_full(status, body, SB_OK, NULL);
}

static enum sb_status fake(void *ctx, const struct sb_http_wire *req,
			   struct sb_http_response *resp, struct sb_error *err)
{
	(void)ctx;
	size_t i = W.n_req++;
	if (i < MAXQ) {
		free(W.url[i]);
		free(W.body[i]);
		free(W.headers[i]);
		W.url[i] = strdup(req->url);
		W.body[i] = strndup(req->body ? req->body : "", req->body_len);
		struct sb_buf h;
		sb_buf_init(&h, 0);
		for (size_t k = 0; k < req->n_headers; k++)
			sb_buf_printf(&h, "%s\n", req->headers[k]);
		W.headers[i] = sb_buf_steal(&h);
	}
	if (W.head == W.tail)
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "test: no answer queued");
	struct answer *a = &W.q[W.head++];
	if (a->url_has && !strstr(req->url, a->url_has))
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "test: connection refused");
	if (a->fail != SB_OK)
		return sb_error_set(err, a->fail, NULL,
				    "test: failed transfer");
	sb_http_response_set_status(resp, a->status,
				    a->status == 200 ? "OK" : "Error");
	sb_http_response_add_header(resp, "Content-Type",
				    "text/xml; charset=utf-8");
	sb_http_response_set_body(resp, a->body ? a->body : "",
				  a->body ? strlen(a->body) : 0);
	return SB_OK;
}

/* ---- samples and answers ------------------------------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	return b;
}

/* The EWS protocol material (Microsoft's schema, sample answers) lives
 * beside the repository, ../shared/protocol/ews (EWS_PROTOCOL_DIR,
 * or SB_PROTOCOL_DIR/ews, overrides it); a build from a tarball has none. */
static const char *shared_dir(void)
{
	static char dir[1024];
	const char *over = getenv("EWS_PROTOCOL_DIR");
	const char *all = getenv("SB_PROTOCOL_DIR");
	const char *top = getenv("top_srcdir");
	if (over && *over)
		snprintf(dir, sizeof(dir), "%s", over);
	else if (all && *all)
		snprintf(dir, sizeof(dir), "%s/ews", all);
	else
		snprintf(dir, sizeof(dir), "%s/../shared/protocol/ews",
			 top ? top : "..");
	return dir;
}

/* Whether the protocol material is there; when not, what needs it is
 * skipped, saying so once per check. */
static bool shared_present(const char *what)
{
	char p[1200];
	snprintf(p, sizeof(p), "%s/schema/messages.xsd", shared_dir());
	if (access(p, R_OK) == 0)
		return true;
	printf("# %s skipped: no EWS protocol material at %s\n", what,
	       shared_dir());
	return false;
}

static char *sample(const char *name)
{
	char p[1200];
	snprintf(p, sizeof(p), "%s/samples/%s", shared_dir(), name);
	return slurp(p);
}

#define ENV_OPEN                                                               \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>"                           \
	"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"   \
	"<s:Header><h:ServerVersionInfo MajorVersion=\"15\" "                  \
	"MinorVersion=\"1\" MajorBuildNumber=\"2507\" MinorBuildNumber=\"6\" " \
	"Version=\"V2017_07_11\" "                                             \
	"xmlns:h=\"" SB_NS_EWS_TYPES "\"/></s:Header><s:Body>"
#define ENV_CLOSE "</s:Body></s:Envelope>"
#define MT " xmlns:m=\"" SB_NS_EWS_MESSAGES "\" xmlns:t=\"" SB_NS_EWS_TYPES "\""

static char *getfolder_answer(const char *cls, const char *code, const char *id,
			      const char *name)
{
	char *s = NULL;
	int n = asprintf(
	    &s,
	    ENV_OPEN "<m:GetFolderResponse" MT "><m:ResponseMessages>"
		     "<m:GetFolderResponseMessage ResponseClass=\"%s\">"
		     "%s%s%s<m:Folders><t:Folder><t:FolderId Id=\"%s\" "
		     "ChangeKey=\"AQAAAA==\"/><t:ParentFolderId "
		     "Id=\"ROOTID0000000000000000001\"/>"
		     "<t:FolderClass>IPF.Note</t:FolderClass>"
		     "<t:DisplayName>%s</t:DisplayName>"
		     "<t:TotalCount>12</t:TotalCount><t:UnreadCount>3</"
		     "t:UnreadCount></t:Folder></m:Folders>"
		     "</m:GetFolderResponseMessage></m:ResponseMessages>"
		     "</m:GetFolderResponse>" ENV_CLOSE,
	    cls,
	    code ? "<m:MessageText>told so</m:MessageText><m:ResponseCode>"
		 : "",
	    code ? code : "", code ? "</m:ResponseCode>" : "", id, name);
	ck_assert_int_gt(n, 0);
	return s;
}

static void push_folder(const char *id, const char *name)
{
	char *a = getfolder_answer("Success", NULL, id, name);
	push(200, a);
	free(a);
}

static const char *FID = "AAMkADFOLDER0000000000000001=";

/* ---- the test host ------------------------------------------------------- */

static struct sb_testhost *open_with(const char *const *kv)
{
	struct sb_error err;
	struct sb_testhost *th =
	    sb_testhost_new(&svcbroker_broker, "exchange", &err);
	ck_assert_ptr_nonnull(th);
	enum sb_status st = sb_testhost_config(th, kv, &err);
	ck_assert_msg(st == SB_OK, "config: %s", err.message);
	st = sb_testhost_open(th, &err);
	ck_assert_msg(st == SB_OK, "open: %s", err.message);
	wire_reset();
	ews_set_transport(sb_testhost_state(th), fake, NULL);
	return th;
}

static struct sb_testhost *open_basic(const char *imp)
{
	char imp_kv[64];
	snprintf(imp_kv, sizeof(imp_kv), "impersonation=%s", imp);
	const char *kv[] = {"url=https://mail.example.test/EWS/Exchange.asmx",
			    "auth=basic",
			    "username=alice@example.test",
			    "password=Sup3r-Secret-Pw",
			    imp_kv,
			    "retries=2",
			    NULL};
	return open_with(kv);
}

static enum sb_status run_status(struct sb_testhost *th, const char *obj,
				 const char *method, const char *const *in,
				 struct sb_error *err)
{
	struct sb_testhost_run *r = sb_testhost_run(th, obj, method, in, NULL);
	ck_assert_ptr_nonnull(r);
	enum sb_status st = r->status;
	if (err)
		*err = r->err;
	sb_testhost_run_free(r);
	return st;
}

/* ---- the schema ---------------------------------------------------------- */

static xmlSchemaPtr schema;
static xmlSchemaValidCtxtPtr vctx;

static void schema_load(void)
{
	if (vctx)
		return;
	char p[1200];
	snprintf(p, sizeof(p), "%s/schema/messages.xsd", shared_dir());
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(p);
	ck_assert_ptr_nonnull(pc);
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	ck_assert_msg(schema != NULL, "cannot compile %s", p);
	vctx = xmlSchemaNewValidCtxt(schema);
	ck_assert_ptr_nonnull(vctx);
}

static void schema_free(void)
{
	if (vctx)
		xmlSchemaFreeValidCtxt(vctx);
	if (schema)
		xmlSchemaFree(schema);
	vctx = NULL;
	schema = NULL;
}

/* Every header block and the body's element of request i validate
 * against messages.xsd; returns the number of header blocks. */
static int validate_request(size_t i)
{
	static int present = -1;
	if (present < 0)
		present = shared_present("the schema checks of the requests");
	if (present)
		schema_load();
	ck_assert_uint_lt(i, W.n_req);
	xmlDocPtr d = xmlReadMemory(
	    W.body[i], (int)strlen(W.body[i]), "request.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	ck_assert_msg(d != NULL, "request %zu is not well-formed", i);
	ck_assert_int_eq(sb_soap_version_of(d), SB_SOAP11);
	int n = 0;
	for (xmlNode *h = sb_xml_first_element(sb_soap_header_of(d)); h;
	     h = sb_xml_next_element(h)) {
		ck_assert_msg(!vctx ||
				  xmlSchemaValidateOneElement(vctx, h) == 0,
			      "header %s of request %zu invalid", h->name, i);
		n++;
	}
	xmlNode *b = sb_xml_first_element(sb_soap_body_of(d));
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(!vctx || xmlSchemaValidateOneElement(vctx, b) == 0,
		      "body %s of request %zu invalid:\n%s", b->name, i,
		      W.body[i]);
	ck_assert_ptr_null(sb_xml_next_element(b));
	xmlFreeDoc(d);
	return n;
}

/* ---- keys -----------------------------------------------------------------
 */

static void config_refused(const char *const *kv, const char *needle)
{
	struct sb_error err;
	struct sb_testhost *th =
	    sb_testhost_new(&svcbroker_broker, "exchange", &err);
	ck_assert_ptr_nonnull(th);
	enum sb_status st = sb_testhost_config(th, kv, &err);
	ck_assert_int_eq(st, SB_ERR_INVALID_INPUT);
	ck_assert_msg(strstr(err.message, needle) != NULL,
		      "message \"%s\" lacks \"%s\"", err.message, needle);
	ck_assert_ptr_null(strstr(err.message, "Sup3r"));
	sb_testhost_free(th);
}

START_TEST(test_keys_refused)
{
	const char *none[] = {"auth=negotiate", NULL};
	config_refused(none, "url");
	const char *both[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			      "autodiscover_email=a@example.test",
			      "auth=negotiate", NULL};
	config_refused(both, "not both");
	const char *ovr[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			     "autodiscover_url=https://x.example.test/a",
			     "auth=negotiate", NULL};
	config_refused(ovr, "autodiscover_url");
	const char *nopw[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			      "auth=ntlm", "username=EXAMPLE\\alice", NULL};
	config_refused(nopw, "password");
	const char *neg[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			     "auth=negotiate", "username=alice",
			     "password=Sup3r-Secret-Pw", NULL};
	config_refused(neg, "negotiate");
	const char *ver[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			     "auth=negotiate", "server_version=Exchange2019",
			     NULL};
	config_refused(ver, "server_version");
	const char *tz[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			    "auth=negotiate", "timezone=Mars/Olympus", NULL};
	config_refused(tz, "timezone: \"Mars/Olympus\" is not");
	const char *tz2[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			     "auth=negotiate", "timezone=CET", NULL};
	config_refused(tz2, "timezone: \"CET\"");
	const char *oa[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			    "auth=oauth2", "token_url=https://t.example.test/t",
			    "client_id=abc", NULL};
	config_refused(oa, "client_secret");
	const char *oa2[] = {"url=https://m.example.test/EWS/Exchange.asmx",
			     "auth=basic",
			     "username=a",
			     "password=Sup3r-x",
			     "client_secret=Sup3r-y",
			     NULL};
	config_refused(oa2, "oauth2");
	const char *ad[] = {"autodiscover_email=not-an-address",
			    "auth=negotiate", NULL};
	config_refused(ad, "autodiscover_email");
	const char *cred[] = {"url=https://u:p@m.example.test/EWS",
			      "auth=negotiate", NULL};
	config_refused(cred, "url");
}
END_TEST

START_TEST(test_open_contacts_nothing)
{
	struct sb_testhost *th = open_basic("none");
	ck_assert_uint_eq(W.n_req, 0);
	ck_assert_uint_eq(ews_requests(sb_testhost_state(th)), 0);
	sb_testhost_free(th);
	const char *kv[] = {"autodiscover_email=alice@example.test",
			    "auth=negotiate", "timezone=Europe/Berlin", NULL};
	th = open_with(kv);
	ck_assert_uint_eq(W.n_req, 0);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

/* ---- the envelope -----------------------------------------------------------
 */

START_TEST(test_envelope_shape)
{
	struct sb_testhost *th = open_basic("impersonate");
	push_folder(FID, "Inbox");
	const char *in[] = {"Folder=inbox", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Folder", "Load", in, NULL);
	ck_assert_int_eq(r->status, SB_OK);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Id"), FID);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Name"), "Inbox");
	int64_t n;
	ck_assert(sb_testhost_int(r, 0, "TotalCount", &n) && n == 12);
	ck_assert(sb_testhost_int(r, 0, "UnreadCount", &n) && n == 3);
	sb_testhost_run_free(r);
	ck_assert_uint_eq(W.n_req, 1);
	ck_assert_str_eq(W.url[0],
			 "https://mail.example.test/EWS/Exchange.asmx");
	/* RequestServerVersion and TimeZoneContext, no impersonation */
	ck_assert_int_eq(validate_request(0), 2);
	ck_assert_ptr_nonnull(strstr(
	    W.body[0], "<t:RequestServerVersion Version=\"Exchange2013_SP1\""));
	ck_assert_ptr_nonnull(
	    strstr(W.body[0], "<t:TimeZoneDefinition Id=\"UTC\""));
	ck_assert_ptr_null(strstr(W.body[0], "ExchangeImpersonation"));
	ck_assert_ptr_nonnull(
	    strstr(W.body[0], "<t:DistinguishedFolderId Id=\"inbox\"/>"));
	ck_assert_ptr_nonnull(strstr(
	    W.headers[0], "SOAPAction: \"" SB_NS_EWS_MESSAGES "/GetFolder\""));
	ck_assert_ptr_nonnull(
	    strstr(W.headers[0], "Content-Type: text/xml; charset=utf-8"));
	ck_assert_ptr_null(strstr(W.headers[0], "X-AnchorMailbox"));

	/* with a Mailbox: ExchangeImpersonation and X-AnchorMailbox */
	push_folder(FID, "Inbox");
	const char *in2[] = {"Folder=inbox", "Mailbox=bob@example.test", NULL};
	ck_assert_int_eq(run_status(th, "Folder", "Load", in2, NULL), SB_OK);
	ck_assert_int_eq(validate_request(1), 3);
	ck_assert_ptr_nonnull(strstr(W.body[1], "<t:ExchangeImpersonation><t:"
						"ConnectingSID><t:PrimarySmtp"
						"Address>bob@example.test<"));
	ck_assert_ptr_nonnull(
	    strstr(W.headers[1], "X-AnchorMailbox: bob@example.test"));
	ck_assert_ptr_null(strstr(W.body[1], "<t:Mailbox>"));
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

/* The timezone key, an IANA name, an alias or a Windows id in any case,
 * goes as the Windows id in TimeZoneContext, valid for the schema. */
START_TEST(test_timezone_context)
{
	static const char *const tz[][2] = {
	    {"Asia/Calcutta", "India Standard Time"},
	    {"europe/kiev", "FLE Standard Time"},
	    {"America/Argentina/Buenos_Aires", "Argentina Standard Time"},
	    {"w. europe standard time", "W. Europe Standard Time"},
	    {"Etc/GMT", "UTC"},
	};
	for (size_t i = 0; i < sizeof(tz) / sizeof(tz[0]); i++) {
		char kv_tz[128], want[128];
		snprintf(kv_tz, sizeof(kv_tz), "timezone=%s", tz[i][0]);
		const char *kv[] = {
		    "url=https://mail.example.test/EWS/Exchange.asmx",
		    "auth=basic",
		    "username=alice@example.test",
		    "password=Sup3r-Secret-Pw",
		    kv_tz,
		    NULL};
		struct sb_testhost *th = open_with(kv);
		push_folder(FID, "Inbox");
		const char *in[] = {"Folder=inbox", NULL};
		ck_assert_int_eq(run_status(th, "Folder", "Load", in, NULL),
				 SB_OK);
		ck_assert_int_eq(validate_request(0), 2);
		snprintf(want, sizeof(want),
			 "<t:TimeZoneContext><t:TimeZoneDefinition Id=\"%s\"/>"
			 "</t:TimeZoneContext>",
			 tz[i][1]);
		ck_assert_msg(strstr(W.body[0], want) != NULL, "%s: %s",
			      tz[i][0], W.body[0]);
		sb_testhost_free(th);
		wire_reset();
	}
}
END_TEST

START_TEST(test_impersonation_modes)
{
	if (!shared_present("test_impersonation_modes"))
		return;
	/* none: a Mailbox is refused before any request */
	struct sb_testhost *th = open_basic("none");
	const char *in[] = {"Folder=inbox", "Mailbox=bob@example.test", NULL};
	struct sb_error err;
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_METHOD_NOT_ALLOWED);
	ck_assert_ptr_nonnull(strstr(err.message, "impersonation"));
	ck_assert_int_eq(run_status(th, "Service", "Test", in + 1, &err),
			 SB_ERR_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(W.n_req, 0);
	sb_testhost_free(th);

	/* delegate: the mailbox in DistinguishedFolderId, no header */
	th = open_basic("delegate");
	push_folder(FID, "Inbox");
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, NULL), SB_OK);
	ck_assert_int_eq(validate_request(0), 2);
	ck_assert_ptr_nonnull(strstr(
	    W.body[0], "<t:DistinguishedFolderId Id=\"inbox\"><t:Mailbox><t:"
		       "EmailAddress>bob@example.test</t:EmailAddress>"));
	ck_assert_ptr_null(strstr(W.body[0], "ExchangeImpersonation"));
	ck_assert_ptr_null(strstr(W.headers[0], "X-AnchorMailbox"));
	sb_testhost_free(th);

	/* impersonation refused by the server: 403 upstream_denied */
	th = open_basic("impersonate");
	char *f = sample("error-impersonateuserdenied.fault.response.xml");
	push(500, f);
	free(f);
	ck_assert_int_eq(run_status(th, "Service", "Test", in + 1, &err),
			 SB_ERR_UPSTREAM_DENIED);
	ck_assert_str_eq(err.code, "ErrorImpersonateUserDenied");
	ck_assert_int_eq(validate_request(0), 3);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

/* ---- errors -----------------------------------------------------------------
 */

START_TEST(test_code_mapping_required)
{
	static const struct {
		const char *code;
		enum sb_status st;
	} want[] = {
	    {"ErrorItemNotFound", SB_ERR_NOT_FOUND},
	    {"ErrorFolderNotFound", SB_ERR_NOT_FOUND},
	    {"ErrorInvalidIdMalformed", SB_ERR_INVALID_INPUT},
	    {"ErrorInvalidIndexedPagingParameters", SB_ERR_INVALID_INPUT},
	    {"ErrorIrresolvableConflict", SB_ERR_CONFLICT},
	    {"ErrorAccessDenied", SB_ERR_UPSTREAM_DENIED},
	    {"ErrorImpersonateUserDenied", SB_ERR_UPSTREAM_DENIED},
	    {"ErrorQuotaExceeded", SB_ERR_QUOTA},
	    {"ErrorMessageSizeExceeded", SB_ERR_PAYLOAD_TOO_LARGE},
	    {"ErrorServerBusy", SB_ERR_THROTTLED},
	    {"ErrorMailboxStoreUnavailable", SB_ERR_UNAVAILABLE},
	    /* the caller's calendar input, refused by the server */
	    {"ErrorCalendarDurationIsTooLong", SB_ERR_INVALID_INPUT},
	    {"ErrorOccurrenceCrossingBoundary", SB_ERR_INVALID_INPUT},
	    {"ErrorRecurrenceEndDateTooBig", SB_ERR_INVALID_INPUT},
	    {"ErrorCalendarIsOrganizerForAccept", SB_ERR_CONFLICT},
	    {"ErrorCalendarIsNotOrganizer", SB_ERR_CONFLICT},
	    {"ErrorSomethingNobodyKnows", SB_ERR_UPSTREAM},
	    {"NoError", SB_OK},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(ews_code_status(want[i].code) == want[i].st, "%s",
			      want[i].code);
}
END_TEST

/* Every code of the table, as a per-message Error of a real call: the
 * call's status and code are the table's. */
START_TEST(test_code_mapping_every_code)
{
	const char *codes[400];
	enum sb_status sts[400];
	size_t n = ews_code_table(codes, sts, 400);
	ck_assert_uint_gt(n, 100);
	ck_assert_uint_le(n, 400);
	struct sb_testhost *th = open_basic("none");
	for (size_t i = 0; i < n; i++) {
		wire_reset();
		char *a = getfolder_answer("Error", codes[i], FID, "x");
		push(200, a);
		free(a);
		const char *in[] = {"Folder=inbox", NULL};
		struct sb_error err;
		enum sb_status st = run_status(th, "Folder", "Load", in, &err);
		ck_assert_msg(st == sts[i], "%s: %d", codes[i], st);
		ck_assert_str_eq(err.code, codes[i]);
		ck_assert_ptr_nonnull(strstr(err.message, "told so"));
		if (st == SB_ERR_THROTTLED)
			ck_assert_int_gt(err.retry_after_ms, 0);
	}
	/* a Warning never fails the call */
	wire_reset();
	char *a = getfolder_answer("Warning", "ErrorItemNotFound", FID, "W");
	push(200, a);
	free(a);
	const char *in[] = {"Folder=inbox", NULL};
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, NULL), SB_OK);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_transport_errors)
{
	if (!shared_present("test_transport_errors"))
		return;
	struct sb_testhost *th = open_basic("none");
	const char *in[] = {"Folder=inbox", NULL};
	struct sb_error err;
	push(401, "");
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_UPSTREAM_AUTH);
	/* 503 without a SOAP fault */
	push(503, "busy");
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_UNAVAILABLE);
	/* no connection: tried once more, then unavailable */
	W.n_req = 0;
	push_full(0, NULL, SB_ERR_UNAVAILABLE, NULL);
	push_full(0, NULL, SB_ERR_UNAVAILABLE, NULL);
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_UNAVAILABLE);
	ck_assert_uint_eq(W.n_req, 2);
	/* a timeout is not retried */
	W.n_req = 0;
	push_full(0, NULL, SB_ERR_TIMEOUT, NULL);
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_TIMEOUT);
	ck_assert_uint_eq(W.n_req, 1);
	/* schema validation fault: the code kept */
	char *f = sample("error-schemavalidation.fault.response.xml");
	push(500, f);
	free(f);
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "ErrorSchemaValidation");
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_hostile_answers)
{
	if (!shared_present("test_hostile_answers"))
		return;
	struct sb_testhost *th = open_basic("none");
	const char *in[] = {"Folder=inbox", NULL};
	struct sb_error err;
	static const char *bad[] = {
	    /* a DTD (XXE) */
	    "<?xml version=\"1.0\"?><!DOCTYPE s [<!ENTITY x SYSTEM "
	    "\"file:///etc/passwd\">]><s:Envelope xmlns:s=\"" SB_NS_SOAP11
	    "\"><s:Body>&x;</s:Body></s:Envelope>",
	    /* billion laughs */
	    "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
	    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
	    "<s:Envelope xmlns:s=\"" SB_NS_SOAP11
	    "\"><s:Body>&b;</s:Body></s:Envelope>",
	    /* not well-formed */
	    "<s:Envelope xmlns:s=\"" SB_NS_SOAP11 "\"><s:Body><m:Get",
	    /* not an envelope */
	    "<html><body>Gateway</body></html>",
	    /* an envelope without content */
	    "<s:Envelope xmlns:s=\"" SB_NS_SOAP11 "\"><s:Body/></s:Envelope>",
	    /* a response without messages */
	    ENV_OPEN "<m:GetFolderResponse" MT "/>" ENV_CLOSE,
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		push(200, bad[i]);
		enum sb_status st = run_status(th, "Folder", "Load", in, &err);
		ck_assert_msg(st == SB_ERR_UPSTREAM, "answer %zu: %d", i, st);
		ck_assert_ptr_null(strstr(err.message, "passwd"));
		ck_assert_ptr_null(strstr(err.message, "aaaa"));
	}
	/* the same as a 500 */
	push(500, bad[0]);
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_UPSTREAM);
	/* odd values in a folder never fail it */
	push_folder(FID, "In\x01"
			 "box\xff");
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Folder", "Load", in, NULL);
	ck_assert_int_eq(r->status, SB_ERR_UPSTREAM); /* invalid UTF-8 */
	sb_testhost_run_free(r);
	push_folder(FID, "In&#x9;box");
	r = sb_testhost_run(th, "Folder", "Load", in, NULL);
	ck_assert_int_eq(r->status, SB_OK);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Name"), "In box");
	sb_testhost_run_free(r);
	sb_testhost_free(th);

	/* over max_response_size */
	const char *kv[] = {"url=https://mail.example.test/EWS/Exchange.asmx",
			    "auth=basic",
			    "username=alice@example.test",
			    "password=Sup3r-Secret-Pw",
			    "max_response_size=64KiB",
			    NULL};
	th = open_with(kv);
	struct sb_buf big;
	sb_buf_init(&big, 0);
	char *ok = getfolder_answer("Success", NULL, FID, "x");
	char *cut = strstr(ok, "</s:Body>");
	sb_buf_append(&big, ok, (size_t)(cut - ok));
	sb_buf_puts(&big, "<!--");
	for (int i = 0; i < 2000; i++)
		sb_buf_puts(&big, "padding padding padding padding padding ");
	sb_buf_puts(&big, "-->");
	sb_buf_puts(&big, cut);
	push(200, big.data);
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "response_too_large");
	sb_buf_free(&big);
	free(ok);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

/* ---- back-off
 * ---------------------------------------------------------------- */

static char *busy_fault(int ms)
{
	char *s = sample("error-serverbusy.fault.response.xml");
	char *p = strstr(s, ">30000<");
	ck_assert_ptr_nonnull(p);
	char *out = NULL;
	*p = '\0';
	ck_assert_int_gt(asprintf(&out, "%s>%d<%s", s, ms, p + 7), 0);
	free(s);
	return out;
}

START_TEST(test_server_busy)
{
	if (!shared_present("test_server_busy"))
		return;
	struct sb_testhost *th = open_basic("none");
	sb_testhost_set_timeout(th, 5000);
	const char *in[] = {"Folder=inbox", NULL};
	struct sb_error err;
	/* a short back-off: waited, then the answer */
	char *f = busy_fault(300);
	push(500, f);
	free(f);
	push_folder(FID, "Inbox");
	int64_t t0 = sb_now_ms();
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err), SB_OK);
	ck_assert_int_ge(sb_now_ms() - t0, 290);
	ck_assert_uint_eq(W.n_req, 2);

	/* longer than the deadline: 429 at once with retry_after_ms */
	W.n_req = 0;
	f = busy_fault(30000);
	push(500, f);
	free(f);
	t0 = sb_now_ms();
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_THROTTLED);
	ck_assert_str_eq(err.code, "ErrorServerBusy");
	ck_assert_int_gt(err.retry_after_ms, 29000);
	ck_assert_int_le(err.retry_after_ms, 30000);
	ck_assert_int_lt(sb_now_ms() - t0, 1000);
	ck_assert_uint_eq(W.n_req, 1);
	/* while it is in force: 429 without a request */
	push_folder(FID, "Inbox");
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_THROTTLED);
	ck_assert_uint_eq(W.n_req, 1);
	struct sb_error terr;
	ck_assert_int_eq(sb_testhost_test(th, &terr), SB_ERR_THROTTLED);
	ck_assert_uint_eq(W.n_req, 1);
	sb_testhost_free(th);

	/* retries = 0: the first busy answer is the call's */
	const char *kv[] = {"url=https://mail.example.test/EWS/Exchange.asmx",
			    "auth=basic",
			    "username=alice@example.test",
			    "password=Sup3r-Secret-Pw",
			    "retries=0",
			    NULL};
	th = open_with(kv);
	f = busy_fault(100);
	push(500, f);
	free(f);
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_THROTTLED);
	ck_assert_uint_eq(W.n_req, 1);
	/* and at most `retries` retries: 2 busy answers with retries = 2 */
	sb_testhost_free(th);
	th = open_basic("none");
	sb_testhost_set_timeout(th, 10000);
	for (int i = 0; i < 3; i++) {
		f = busy_fault(50);
		push(500, f);
		free(f);
	}
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_THROTTLED);
	ck_assert_uint_eq(W.n_req, 3);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

/* ---- secrets ----------------------------------------------------------------
 */

START_TEST(test_no_secret_logged)
{
	if (!shared_present("test_no_secret_logged"))
		return;
	struct sb_testhost *th = open_basic("none");
	push_folder(FID, "Inbox");
	const char *in[] = {"Folder=inbox", NULL};
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, NULL), SB_OK);
	push(401, "denied Sup3r-Secret-Pw");
	struct sb_error err;
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_UPSTREAM_AUTH);
	ck_assert_ptr_null(strstr(err.message, "Sup3r"));
	/* the Basic credentials went on the wire, never to the log */
	ck_assert_ptr_nonnull(strstr(W.headers[0], "Authorization: Basic "));
	char *b64 = sb_base64_encode("alice@example.test:Sup3r-Secret-Pw",
				     strlen("alice@example.test:Sup3r-Secret-"
					    "Pw"),
				     0);
	ck_assert_ptr_nonnull(strstr(W.headers[0], b64));
	ck_assert_uint_gt(sb_testhost_log_count(th, SB_TESTHOST_ANY_LEVEL), 0);
	ck_assert_uint_eq(
	    sb_testhost_log_find(th, SB_TESTHOST_ANY_LEVEL, "Sup3r"), 0);
	ck_assert_uint_eq(sb_testhost_log_find(th, SB_TESTHOST_ANY_LEVEL, b64),
			  0);
	free(b64);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

/* ---- Autodiscover
 * -------------------------------------------------------------- */

static char *ad_settings(const char *ews_url)
{
	char *s = sample("autodiscover-pox.response.xml");
	const char *from = "https://mail.example.test/EWS/Exchange.asmx";
	struct sb_buf b;
	sb_buf_init(&b, 0);
	for (char *p = s, *q; *p; p = q + strlen(from)) {
		q = strstr(p, from);
		if (!q) {
			sb_buf_puts(&b, p);
			break;
		}
		sb_buf_append(&b, p, (size_t)(q - p));
		sb_buf_puts(&b, ews_url);
	}
	free(s);
	return sb_buf_steal(&b);
}

static char *ad_redirect_addr(const char *addr)
{
	char *s = NULL;
	ck_assert_int_gt(
	    asprintf(&s,
		     "<Autodiscover xmlns=\"http://schemas.microsoft.com/"
		     "exchange/autodiscover/responseschema/2006\"><Response "
		     "xmlns=\"http://schemas.microsoft.com/exchange/"
		     "autodiscover/outlook/responseschema/2006a\"><Account>"
		     "<Action>redirectAddr</Action><RedirectAddr>%s</"
		     "RedirectAddr></Account></Response></Autodiscover>",
		     addr),
	    0);
	return s;
}

static char *ad_redirect_url(const char *url)
{
	char *s = NULL;
	ck_assert_int_gt(
	    asprintf(&s,
		     "<Autodiscover xmlns=\"http://schemas.microsoft.com/"
		     "exchange/autodiscover/responseschema/2006\"><Response "
		     "xmlns=\"http://schemas.microsoft.com/exchange/"
		     "autodiscover/outlook/responseschema/2006a\"><Account>"
		     "<Action>redirectUrl</Action><RedirectUrl>%s</"
		     "RedirectUrl></Account></Response></Autodiscover>",
		     url),
	    0);
	return s;
}

static struct sb_testhost *open_ad(const char *ovr)
{
	char ovr_kv[300];
	snprintf(ovr_kv, sizeof(ovr_kv), "autodiscover_url=%s", ovr ? ovr : "");
	const char *kv[] = {"autodiscover_email=alice@example.test",
			    "auth=basic",
			    "username=alice@example.test",
			    "password=Sup3r-Secret-Pw",
			    ovr ? ovr_kv : NULL,
			    NULL};
	return open_with(kv);
}

START_TEST(test_autodiscover_flow)
{
	if (!shared_present("test_autodiscover_flow"))
		return;
	struct sb_testhost *th = open_ad(NULL);
	/* example.test does not answer; autodiscover.example.test does */
	push_full(0, NULL, SB_ERR_UNAVAILABLE, NULL);
	char *a = ad_settings("https://mail.example.test/EWS/Exchange.asmx");
	push_full(200, a, SB_OK, "autodiscover.example.test");
	free(a);
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Service", "Autodiscover", NULL, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "EwsUrl"),
			 "https://mail.example.test/EWS/Exchange.asmx");
	ck_assert_str_eq(sb_testhost_text(r, 0, "ServerVersion"), "15.1.2176");
	sb_testhost_run_free(r);
	ck_assert_uint_eq(W.n_req, 2);
	ck_assert_str_eq(W.url[0],
			 "https://example.test/autodiscover/autodiscover.xml");
	ck_assert_str_eq(
	    W.url[1],
	    "https://autodiscover.example.test/autodiscover/autodiscover.xml");
	ck_assert_ptr_nonnull(strstr(
	    W.body[1], "<EMailAddress>alice@example.test</EMailAddress>"));
	/* cached: Folder.Load goes straight to EWS */
	push_folder(FID, "Inbox");
	const char *in[] = {"Folder=inbox", NULL};
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, NULL), SB_OK);
	ck_assert_uint_eq(W.n_req, 3);
	ck_assert_str_eq(W.url[2],
			 "https://mail.example.test/EWS/Exchange.asmx");
	/* the mailbox moved: discovered again, the call retried there */
	char *moved =
	    getfolder_answer("Error", "ErrorMailboxMoveInProgress", FID, "x");
	push(200, moved);
	free(moved);
	push_full(0, NULL, SB_ERR_UNAVAILABLE, NULL);
	a = ad_settings("https://mbx2.example.test/EWS/Exchange.asmx");
	push(200, a);
	free(a);
	push_folder(FID, "Inbox");
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, NULL), SB_OK);
	ck_assert_uint_eq(W.n_req, 7);
	ck_assert_str_eq(W.url[6],
			 "https://mbx2.example.test/EWS/Exchange.asmx");
	/* 404 from the EWS URL: the same */
	push(404, "gone");
	a = ad_settings("https://mbx3.example.test/EWS/Exchange.asmx");
	push(200, a);
	free(a);
	push_folder(FID, "Inbox");
	W.q[W.tail - 2].url_has = NULL;
	/* the first candidate answers this time */
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, NULL), SB_OK);
	ck_assert_uint_eq(W.n_req, 10);
	ck_assert_str_eq(W.url[9],
			 "https://mbx3.example.test/EWS/Exchange.asmx");
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_autodiscover_redirects)
{
	if (!shared_present("test_autodiscover_redirects"))
		return;
	const char *ovr =
	    "https://ad.example.test/autodiscover/autodiscover.xml";
	struct sb_testhost *th = open_ad(ovr);
	struct sb_error err;
	/* redirectAddr below the domain, then redirectUrl to its
	 * autodiscover host, then the settings */
	char *a = ad_redirect_addr("alice@corp.example.test");
	push(200, a);
	free(a);
	a = ad_redirect_url("https://autodiscover.corp.example.test/"
			    "autodiscover/autodiscover.xml");
	push(200, a);
	free(a);
	a = ad_settings("https://mail.corp.example.test/EWS/Exchange.asmx");
	push(200, a);
	free(a);
	ck_assert_int_eq(run_status(th, "Service", "Autodiscover", NULL, &err),
			 SB_OK);
	ck_assert_uint_eq(W.n_req, 3);
	ck_assert_str_eq(W.url[1], ovr); /* the override for the new address */
	ck_assert_ptr_nonnull(strstr(W.body[1], "alice@corp.example.test"));
	ck_assert_str_eq(W.url[2], "https://autodiscover.corp.example.test/"
				   "autodiscover/autodiscover.xml");
	sb_testhost_free(th);

	/* refusals: each before any request carries the credentials there */
	static const char *refused_url[] = {
	    "http://autodiscover.example.test/autodiscover/autodiscover.xml",
	    "https://evil.example.org/autodiscover/autodiscover.xml",
	    "https://test/autodiscover/autodiscover.xml",
	    "https://autodiscover.test/autodiscover/autodiscover.xml",
	    "https://user:pw@autodiscover.example.test/x",
	};
	for (size_t i = 0; i < sizeof(refused_url) / sizeof(refused_url[0]);
	     i++) {
		th = open_ad(ovr);
		a = ad_redirect_url(refused_url[i]);
		push(200, a);
		free(a);
		ck_assert_int_eq(
		    run_status(th, "Service", "Autodiscover", NULL, &err),
		    SB_ERR_UPSTREAM);
		ck_assert_str_eq(err.code, "autodiscover_refused");
		ck_assert_uint_eq(W.n_req, 1);
		sb_testhost_free(th);
	}
	/* an address outside the domain (or a parent of it) */
	static const char *refused_addr[] = {"alice@example.org", "alice@test"};
	for (size_t i = 0; i < 2; i++) {
		th = open_ad(ovr);
		a = ad_redirect_addr(refused_addr[i]);
		push(200, a);
		free(a);
		ck_assert_int_eq(
		    run_status(th, "Service", "Autodiscover", NULL, &err),
		    SB_ERR_UPSTREAM);
		ck_assert_str_eq(err.code, "autodiscover_refused");
		ck_assert_uint_eq(W.n_req, 1);
		sb_testhost_free(th);
	}
	/* an EwsUrl outside the domain and not the answering server */
	th = open_ad(ovr);
	a = ad_settings("https://evil.example.org/EWS/Exchange.asmx");
	push(200, a);
	free(a);
	ck_assert_int_eq(run_status(th, "Service", "Autodiscover", NULL, &err),
			 SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "autodiscover_refused");
	ck_assert_ptr_nonnull(strstr(err.message, "evil.example.org"));
	sb_testhost_free(th);
	/* ... but the configured Autodiscover server's own host will do */
	const char *far = "https://ad.hosting.example.net/autodiscover/"
			  "autodiscover.xml";
	th = open_ad(far);
	a = ad_settings("https://ad.hosting.example.net/EWS/Exchange.asmx");
	push(200, a);
	free(a);
	ck_assert_int_eq(run_status(th, "Service", "Autodiscover", NULL, &err),
			 SB_OK);
	sb_testhost_free(th);
	th = open_ad(far);
	a = ad_settings("https://mail.hosting.example.net/EWS/Exchange.asmx");
	push(200, a);
	free(a);
	ck_assert_int_eq(run_status(th, "Service", "Autodiscover", NULL, &err),
			 SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "autodiscover_refused");
	sb_testhost_free(th);
	/* an http EwsUrl from an https Autodiscover */
	th = open_ad(ovr);
	a = ad_settings("http://mail.example.test/EWS/Exchange.asmx");
	push(200, a);
	free(a);
	ck_assert_int_eq(run_status(th, "Service", "Autodiscover", NULL, &err),
			 SB_ERR_UPSTREAM);
	sb_testhost_free(th);
	/* at most 10 redirects */
	th = open_ad(ovr);
	for (int i = 0; i < 12; i++) {
		a = ad_redirect_addr(i % 2 ? "alice@example.test"
					   : "bob@example.test");
		push(200, a);
		free(a);
	}
	ck_assert_int_eq(run_status(th, "Service", "Autodiscover", NULL, &err),
			 SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "autodiscover_redirects");
	ck_assert_uint_eq(W.n_req, 11);
	sb_testhost_free(th);
	/* an Error answer: no mailbox */
	th = open_ad(ovr);
	a = sample("autodiscover-pox-error.response.xml");
	push(200, a);
	free(a);
	ck_assert_int_eq(run_status(th, "Service", "Autodiscover", NULL, &err),
			 SB_ERR_NOT_FOUND);
	/* a fixed url: nothing to discover */
	sb_testhost_free(th);
	th = open_basic("none");
	ck_assert_int_eq(run_status(th, "Service", "Autodiscover", NULL, &err),
			 SB_ERR_METHOD_NOT_ALLOWED);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_autodiscover_helpers)
{
	ck_assert(ews_autodiscover_host_ok("example.test", "example.test",
					   "example.test"));
	ck_assert(ews_autodiscover_host_ok("autodiscover.example.test",
					   "example.test", "example.test"));
	ck_assert(ews_autodiscover_host_ok("autodiscover.corp.example.test",
					   "corp.example.test",
					   "example.test"));
	ck_assert(
	    !ews_autodiscover_host_ok("test", "example.test", "example.test"));
	ck_assert(!ews_autodiscover_host_ok("autodiscover.test", "test",
					    "example.test"));
	ck_assert(!ews_autodiscover_host_ok("mail.example.test", "example.test",
					    "example.test"));
	ck_assert(!ews_autodiscover_host_ok("badexample.test",
					    "badexample.test", "example.test"));
	char v[32];
	ck_assert(ews_server_version_hex("73C18880", v, sizeof(v)));
	ck_assert_str_eq(v, "15.1.2176");
	ck_assert(!ews_server_version_hex("73C1888", v, sizeof(v)));
	ck_assert(!ews_server_version_hex("zzzzzzzz", v, sizeof(v)));
	char host[64];
	bool https;
	int port;
	ck_assert(ews_url_host("https://[::1]:8443/x", host, sizeof(host),
			       &https, &port));
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 8443);
	ck_assert(ews_url_host("http://Mail.Example.test/EWS", host,
			       sizeof(host), &https, &port));
	ck_assert_str_eq(host, "mail.example.test");
	ck_assert(!https);
	ck_assert_int_eq(port, 80);
	ck_assert(!ews_url_host("ftp://x/", host, sizeof(host), NULL, NULL));
	ck_assert(
	    !ews_url_host("https://a@b/", host, sizeof(host), NULL, NULL));
	ck_assert(
	    !ews_url_host("https://b:99999/", host, sizeof(host), NULL, NULL));
}
END_TEST

/* ---- objects
 * --------------------------------------------------------------------- */

static char *findfolder_answer(void)
{
	char *s = NULL;
	ck_assert_int_gt(
	    asprintf(
		&s, ENV_OPEN
		"<m:FindFolderResponse" MT "><m:ResponseMessages>"
		"<m:FindFolderResponseMessage ResponseClass=\"Success\">"
		"<m:ResponseCode>NoError</m:ResponseCode>"
		"<m:RootFolder TotalItemsInView=\"5\" "
		"IncludesLastItemInRange=\"true\"><t:Folders>"
		"<t:Folder><t:FolderId Id=\"ZZPROJECTS000000000000001\"/>"
		"<t:ParentFolderId Id=\"ROOTID0000000000000000001\"/>"
		"<t:FolderClass>IPF.Note</t:FolderClass>"
		"<t:DisplayName>Projects</t:DisplayName>"
		"<t:TotalCount>1</t:TotalCount><t:UnreadCount>0</"
		"t:UnreadCount></t:Folder>"
		"<t:CalendarFolder><t:FolderId Id=\"CAL00000000000000000001\"/>"
		"<t:DisplayName>Calendar</t:DisplayName></t:CalendarFolder>"
		"<t:Folder><t:FolderId Id=\"SENTID000000000000000001\"/>"
		"<t:DisplayName>Sent Items</t:DisplayName>"
		"<t:TotalCount>4</t:TotalCount><t:UnreadCount>0</"
		"t:UnreadCount></t:Folder>"
		"<t:Folder><t:FolderId Id=\"INBOXID00000000000000001\"/>"
		"<t:DisplayName>Inbox</t:DisplayName>"
		"<t:TotalCount>7</t:TotalCount><t:UnreadCount>2</"
		"t:UnreadCount></t:Folder>"
		"<t:Folder><t:FolderId Id=\"AAARCHIVE000000000000001\"/>"
		"<t:FolderClass>IPF.Note</t:FolderClass>"
		"<t:DisplayName>Archive</t:DisplayName></t:Folder>"
		"<t:Folder><t:FolderId Id=\"CONTACTS0000000000000001\"/>"
		"<t:FolderClass>IPF.Contact</t:FolderClass>"
		"<t:DisplayName>Contacts</t:DisplayName></t:Folder>"
		"</t:Folders></m:RootFolder></m:FindFolderResponseMessage>"
		"</m:ResponseMessages></m:FindFolderResponse>" ENV_CLOSE),
	    0);
	return s;
}

static char *wellknown_answer(void)
{
	/* inbox, drafts (missing), sentitems, deleteditems (missing), outbox
	 * (missing), junkemail (missing) */
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b,
		    ENV_OPEN "<m:GetFolderResponse" MT "><m:ResponseMessages>");
	const char *ids[] = {"INBOXID00000000000000001",
			     NULL,
			     "SENTID000000000000000001",
			     NULL,
			     NULL,
			     NULL};
	for (int i = 0; i < 6; i++) {
		if (ids[i])
			sb_buf_printf(
			    &b,
			    "<m:GetFolderResponseMessage "
			    "ResponseClass=\"Success\"><m:ResponseCode>NoError"
			    "</m:ResponseCode><m:Folders><t:Folder><t:FolderId "
			    "Id=\"%s\"/></t:Folder></m:Folders>"
			    "</m:GetFolderResponseMessage>",
			    ids[i]);
		else
			sb_buf_puts(&b, "<m:GetFolderResponseMessage "
					"ResponseClass=\"Error\"><m:"
					"ResponseCode>ErrorFolderNotFound</"
					"m:ResponseCode><m:Folders/>"
					"</m:GetFolderResponseMessage>");
	}
	sb_buf_puts(&b,
		    "</m:ResponseMessages></m:GetFolderResponse>" ENV_CLOSE);
	return sb_buf_steal(&b);
}

START_TEST(test_folder_list_paged)
{
	struct sb_testhost *th = open_basic("none");
	char *ff = findfolder_answer(), *wk = wellknown_answer();
	push(200, ff);
	push(200, wk);
	const char *in[] = {"PageSize=2", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Folder", "List", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_uint_eq(sb_testhost_rows(r), 2);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Name"), "Inbox");
	ck_assert_str_eq(sb_testhost_text(r, 1, "Name"), "Sent Items");
	const char *tok = sb_testhost_next_page(r);
	ck_assert_ptr_nonnull(tok);
	char in_tok[4200];
	snprintf(in_tok, sizeof(in_tok), "PageToken=%s", tok);
	sb_testhost_run_free(r);
	validate_request(0);
	validate_request(1);
	ck_assert_ptr_nonnull(strstr(W.body[0], "Traversal=\"Deep\""));
	push(200, ff);
	push(200, wk);
	const char *in2[] = {"PageSize=2", in_tok, NULL};
	r = sb_testhost_run(th, "Folder", "List", in2, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	/* mail folders only: Calendar and Contacts left out */
	ck_assert_uint_eq(sb_testhost_rows(r), 2);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Name"), "Archive");
	ck_assert_str_eq(sb_testhost_text(r, 1, "Name"), "Projects");
	ck_assert_str_eq(sb_testhost_text(r, 1, "Parent"),
			 "ROOTID0000000000000000001");
	ck_assert_ptr_null(sb_testhost_next_page(r));
	sb_testhost_run_free(r);
	/* a token of another listing is refused before any request */
	size_t before = W.n_req;
	const char *in3[] = {"PageSize=2", in_tok, "Mailbox=bob@example.test",
			     NULL};
	sb_testhost_free(th);
	th = open_basic("impersonate");
	before = W.n_req;
	struct sb_error err;
	ck_assert_int_eq(run_status(th, "Folder", "List", in3, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(err.code, SB_PAGE_TOKEN_CODE);
	ck_assert_uint_eq(W.n_req, before);
	free(ff);
	free(wk);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_folder_by_name)
{
	struct sb_testhost *th = open_basic("none");
	char *ff = findfolder_answer();
	push(200, ff);
	push_folder("ZZPROJECTS000000000000001", "Projects");
	const char *in[] = {"Folder=projects", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Folder", "Load", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Id"),
			 "ZZPROJECTS000000000000001");
	sb_testhost_run_free(r);
	ck_assert_ptr_nonnull(strstr(
	    W.body[1], "<t:FolderId Id=\"ZZPROJECTS000000000000001\"/>"));
	validate_request(1);
	/* no such name: 404 after the one lookup */
	push(200, ff);
	struct sb_error err;
	const char *in2[] = {"Folder=Nowhere", NULL};
	W.n_req = 0;
	ck_assert_int_eq(run_status(th, "Folder", "Load", in2, &err),
			 SB_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(err.message, "Nowhere"));
	ck_assert_uint_eq(W.n_req, 1);
	/* two of that name: 409 */
	struct sb_buf b;
	sb_buf_init(&b, 0);
	char *cut = strstr(ff, "</t:Folders>");
	sb_buf_append(&b, ff, (size_t)(cut - ff));
	sb_buf_puts(&b,
		    "<t:Folder><t:FolderId Id=\"ZZPROJECTS000000000000002\"/>"
		    "<t:DisplayName>Projects</t:DisplayName></t:Folder>");
	sb_buf_puts(&b, cut);
	push(200, b.data);
	ck_assert_int_eq(run_status(th, "Folder", "Load", in, &err),
			 SB_ERR_CONFLICT);
	sb_buf_free(&b);
	free(ff);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_folder_create)
{
	struct sb_testhost *th = open_basic("none");
	char *a = NULL;
	ck_assert_int_gt(
	    asprintf(&a, ENV_OPEN
		     "<m:CreateFolderResponse" MT
		     "><m:ResponseMessages><m:CreateFolderResponse"
		     "Message ResponseClass=\"Success\"><m:Response"
		     "Code>NoError</m:ResponseCode><m:Folders><t:"
		     "Folder><t:FolderId Id=\"NEWFOLDER00000000000001\""
		     "/></t:Folder></m:Folders></m:CreateFolder"
		     "ResponseMessage></m:ResponseMessages></m:"
		     "CreateFolderResponse>" ENV_CLOSE),
	    0);
	push(200, a);
	push_folder("NEWFOLDER00000000000001", "Reports &lt;2026&gt;");
	const char *in[] = {"Name=Reports <2026>", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Folder", "Create", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Id"),
			 "NEWFOLDER00000000000001");
	sb_testhost_run_free(r);
	validate_request(0);
	validate_request(1);
	ck_assert_ptr_nonnull(
	    strstr(W.body[0], "<t:DisplayName>Reports &lt;2026&gt;<"));
	ck_assert_ptr_nonnull(
	    strstr(W.body[0], "<t:DistinguishedFolderId Id=\"msgfolderroot\""));
	/* taken: 409 */
	char *x = NULL;
	ck_assert_int_gt(
	    asprintf(&x,
		     ENV_OPEN "<m:CreateFolderResponse" MT
			      "><m:ResponseMessages><m:CreateFolderResponse"
			      "Message ResponseClass=\"Error\"><m:MessageText>"
			      "exists</m:MessageText><m:ResponseCode>Error"
			      "FolderExists</m:ResponseCode><m:Folders/></m:"
			      "CreateFolderResponseMessage></m:ResponseMessages"
			      "></m:CreateFolderResponse>" ENV_CLOSE),
	    0);
	push(200, x);
	struct sb_error err;
	ck_assert_int_eq(run_status(th, "Folder", "Create", in, &err),
			 SB_ERR_CONFLICT);
	ck_assert_str_eq(err.code, "ErrorFolderExists");
	/* a well-known id as a name: refused before any request */
	size_t n = W.n_req;
	const char *in2[] = {"Name=inbox", NULL};
	ck_assert_int_eq(run_status(th, "Folder", "Create", in2, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_uint_eq(W.n_req, n);
	free(a);
	free(x);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_contact_resolve)
{
	if (!shared_present("test_contact_resolve"))
		return;
	struct sb_testhost *th = open_basic("none");
	char *a = sample("resolvenames.response.xml");
	push(200, a);
	const char *in[] = {"Name=ali", "PageSize=1", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Contact", "Resolve", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_uint_eq(sb_testhost_rows(r), 1);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Name"), "Alice Example");
	ck_assert_str_eq(sb_testhost_text(r, 0, "Email"), "alice@example.test");
	ck_assert_str_eq(sb_testhost_text(r, 0, "RoutingType"), "SMTP");
	ck_assert_str_eq(sb_testhost_text(r, 0, "MailboxType"), "Mailbox");
	char tok[4200];
	ck_assert_ptr_nonnull(sb_testhost_next_page(r));
	snprintf(tok, sizeof(tok), "PageToken=%s", sb_testhost_next_page(r));
	sb_testhost_run_free(r);
	validate_request(0);
	push(200, a);
	const char *in2[] = {"Name=ali", "PageSize=1", tok, NULL};
	r = sb_testhost_run(th, "Contact", "Resolve", in2, NULL);
	ck_assert_int_eq(r->status, SB_OK);
	ck_assert_uint_eq(sb_testhost_rows(r), 1);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Email"),
			 "alistair@example.test");
	ck_assert_ptr_null(sb_testhost_next_page(r));
	sb_testhost_run_free(r);
	/* the token is bound to the name */
	const char *in3[] = {"Name=bob", "PageSize=1", tok, NULL};
	struct sb_error err;
	ck_assert_int_eq(run_status(th, "Contact", "Resolve", in3, &err),
			 SB_ERR_INVALID_INPUT);
	/* nobody: no rows; an EX address with an SMTP one in its contact */
	char *none = NULL;
	ck_assert_int_gt(
	    asprintf(&none,
		     ENV_OPEN "<m:ResolveNamesResponse" MT
			      "><m:ResponseMessages><m:ResolveNamesResponse"
			      "Message ResponseClass=\"Error\"><m:MessageText>"
			      "No results</m:MessageText><m:ResponseCode>Error"
			      "NameResolutionNoResults</m:ResponseCode></m:"
			      "ResolveNamesResponseMessage></m:ResponseMessages"
			      "></m:ResolveNamesResponse>" ENV_CLOSE),
	    0);
	push(200, none);
	r = sb_testhost_run(th, "Contact", "Resolve", in3, NULL);
	ck_assert_int_eq(r->status, SB_ERR_INVALID_INPUT); /* the token */
	sb_testhost_run_free(r);
	W.head = W.tail - 1;
	const char *in4[] = {"Name=nobody", NULL};
	r = sb_testhost_run(th, "Contact", "Resolve", in4, NULL);
	ck_assert_int_eq(r->status, SB_OK);
	ck_assert_uint_eq(sb_testhost_rows(r), 0);
	sb_testhost_run_free(r);
	char *ex = NULL;
	ck_assert_int_gt(
	    asprintf(&ex,
		     ENV_OPEN "<m:ResolveNamesResponse" MT
			      "><m:ResponseMessages><m:ResolveNamesResponse"
			      "Message ResponseClass=\"Success\"><m:Response"
			      "Code>NoError</m:ResponseCode><m:ResolutionSet>"
			      "<t:Resolution><t:Mailbox><t:Name>Old One</t:"
			      "Name><t:EmailAddress>/o=Org/ou=X/cn=Recipients"
			      "/cn=old</t:EmailAddress><t:RoutingType>EX</t:"
			      "RoutingType></t:Mailbox><t:Contact><t:Email"
			      "Addresses><t:Entry Key=\"EmailAddress1\">X500:"
			      "/o=Org</t:Entry><t:Entry Key=\"EmailAddress2\">"
			      "SMTP:old@example.test</t:Entry></t:Email"
			      "Addresses></t:Contact></t:Resolution>"
			      "<t:Resolution><t:Mailbox><t:Name>DN only</t:"
			      "Name><t:EmailAddress>/o=Org/cn=dn</t:Email"
			      "Address><t:RoutingType>EX</t:RoutingType></t:"
			      "Mailbox></t:Resolution>"
			      "</m:ResolutionSet></m:ResolveNamesResponse"
			      "Message></m:ResponseMessages></m:ResolveNames"
			      "Response>" ENV_CLOSE),
	    0);
	push(200, ex);
	const char *in5[] = {"Name=old", NULL};
	r = sb_testhost_run(th, "Contact", "Resolve", in5, NULL);
	ck_assert_int_eq(r->status, SB_OK);
	ck_assert_uint_eq(sb_testhost_rows(r), 2);
	ck_assert_str_eq(sb_testhost_text(r, 0, "Email"), "old@example.test");
	ck_assert_str_eq(sb_testhost_text(r, 0, "RoutingType"), "SMTP");
	ck_assert_ptr_null(sb_testhost_text(r, 1, "Email"));
	ck_assert_str_eq(sb_testhost_text(r, 1, "Name"), "DN only");
	sb_testhost_run_free(r);
	free(a);
	free(none);
	free(ex);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

static char *oof_answer(const char *state, const char *aud)
{
	char *s = NULL;
	ck_assert_int_gt(
	    asprintf(&s,
		     ENV_OPEN
		     "<GetUserOofSettingsResponse xmlns=\"" SB_NS_EWS_MESSAGES
		     "\"><ResponseMessage ResponseClass=\"Success\">"
		     "<ResponseCode>NoError</ResponseCode></ResponseMessage>"
		     "<OofSettings xmlns=\"" SB_NS_EWS_TYPES "\">"
		     "<OofState>%s</OofState><ExternalAudience>%s</"
		     "ExternalAudience><Duration><StartTime>2026-12-24T08:00:"
		     "00Z</StartTime><EndTime>2027-01-02T08:00:00.000Z</"
		     "EndTime></Duration><InternalReply><Message>Away &lt;b&gt;"
		     "until January</Message></InternalReply><ExternalReply>"
		     "<Message>Out of office</Message></ExternalReply>"
		     "</OofSettings><AllowExternalOof>All</AllowExternalOof>"
		     "</GetUserOofSettingsResponse>" ENV_CLOSE,
		     state, aud),
	    0);
	return s;
}

START_TEST(test_oof)
{
	struct sb_testhost *th = open_basic("impersonate");
	char *a = oof_answer("Scheduled", "Known");
	push(200, a);
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "AutomaticReply", "Load", NULL, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "State"), "Scheduled");
	ck_assert_str_eq(sb_testhost_text(r, 0, "ExternalAudience"), "Known");
	ck_assert_str_eq(sb_testhost_text(r, 0, "Start"),
			 "2026-12-24T08:00:00Z");
	ck_assert_str_eq(sb_testhost_text(r, 0, "End"), "2027-01-02T08:00:00Z");
	ck_assert_str_eq(sb_testhost_text(r, 0, "InternalReply"),
			 "Away <b>until January");
	sb_testhost_run_free(r);
	/* the OOF operations take no RequestServerVersion nor
	 * TimeZoneContext; the mailbox is the account's own */
	ck_assert_int_eq(validate_request(0), 0);
	ck_assert_ptr_nonnull(
	    strstr(W.body[0], "<t:Address>alice@example.test<"));
	ck_assert_ptr_nonnull(strstr(W.headers[0], "/GetUserOofSettings\""));

	/* Save: what is left out stays; the saved row comes back */
	push(200, a);
	push(200, ENV_OPEN
	     "<m:SetUserOofSettingsResponse" MT
	     "><m:ResponseMessage ResponseClass=\"Success\">"
	     "<m:ResponseCode>NoError</m:ResponseCode>"
	     "</m:ResponseMessage></m:SetUserOofSettingsResponse>" ENV_CLOSE);
	const char *in[] = {"State=Enabled", "ExternalReply=Gone\r\nfishing",
			    "Mailbox=bob@example.test", NULL};
	r = sb_testhost_run(th, "AutomaticReply", "Save", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "State"), "Enabled");
	ck_assert_str_eq(sb_testhost_text(r, 0, "ExternalAudience"), "Known");
	ck_assert_str_eq(sb_testhost_text(r, 0, "ExternalReply"),
			 "Gone\r\nfishing");
	sb_testhost_run_free(r);
	ck_assert_int_eq(validate_request(2), 1); /* impersonation only */
	ck_assert_ptr_nonnull(
	    strstr(W.body[2], "<t:Address>bob@example.test<"));
	ck_assert_ptr_nonnull(strstr(W.body[2], "<t:OofState>Enabled<"));
	ck_assert_ptr_nonnull(strstr(W.body[2], "Gone&#13;\nfishing"));
	ck_assert_ptr_nonnull(
	    strstr(W.body[2], "<t:StartTime>2026-12-24T08:00:00Z<"));
	ck_assert_ptr_nonnull(strstr(W.headers[2], "/SetUserOofSettings\""));

	/* bad windows: refused before any request */
	size_t n = W.n_req;
	struct sb_error err;
	const char *in2[] = {"State=Scheduled", "Start=2026-05-02T00:00:00Z",
			     "End=2026-05-01T00:00:00Z", NULL};
	ck_assert_int_eq(run_status(th, "AutomaticReply", "Save", in2, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_uint_eq(W.n_req, n);
	/* Scheduled without a window anywhere */
	char *b = oof_answer("Disabled", "All");
	char *d = strstr(b, "<Duration>");
	char *de = strstr(b, "</Duration>") + strlen("</Duration>");
	memmove(d, de, strlen(de) + 1);
	push(200, b);
	const char *in3[] = {"State=Scheduled", NULL};
	ck_assert_int_eq(run_status(th, "AutomaticReply", "Save", in3, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "Start"));
	free(a);
	free(b);
	sb_testhost_free(th);

	/* no known address of its own: a clear refusal */
	const char *kv[] = {"url=https://mail.example.test/EWS/Exchange.asmx",
			    "auth=ntlm", "username=EXAMPLE\\alice",
			    "password=Sup3r-Secret-Pw", NULL};
	th = open_with(kv);
	ck_assert_int_eq(run_status(th, "AutomaticReply", "Load", NULL, &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "Mailbox"));
	ck_assert_uint_eq(W.n_req, 0);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_service_test)
{
	struct sb_testhost *th = open_basic("impersonate");
	push_folder(FID, "Top of Information Store");
	const char *in[] = {"Mailbox=carol@example.test", NULL};
	struct sb_testhost_run *r =
	    sb_testhost_run(th, "Service", "Test", in, NULL);
	ck_assert_msg(r->status == SB_OK, "%s", r->err.message);
	ck_assert_str_eq(sb_testhost_text(r, 0, "ServerVersion"),
			 "15.1.2507.6");
	ck_assert_str_eq(sb_testhost_text(r, 0, "EwsUrl"),
			 "https://mail.example.test/EWS/Exchange.asmx");
	sb_testhost_run_free(r);
	ck_assert_int_eq(validate_request(0), 3);
	ck_assert_ptr_nonnull(strstr(
	    W.body[0], "<t:DistinguishedFolderId Id=\"msgfolderroot\"/>"));
	/* test() runs the same probe */
	push_folder(FID, "Top of Information Store");
	struct sb_error err;
	ck_assert_int_eq(sb_testhost_test(th, &err), SB_OK);
	ck_assert_uint_eq(W.n_req, 2);
	ck_assert_ptr_nonnull(strstr(W.body[1], "m:GetFolder"));
	push(401, "");
	ck_assert_int_eq(sb_testhost_test(th, &err), SB_ERR_UPSTREAM_AUTH);
	sb_testhost_free(th);
	wire_reset();
}
END_TEST

START_TEST(test_values)
{
	char out[40];
	ck_assert(ews_datetime_read("2026-05-01T09:00:00Z", out, sizeof(out)));
	ck_assert_str_eq(out, "2026-05-01T09:00:00Z");
	ck_assert(ews_datetime_read("2026-05-01T09:00:00.1234567+02:00", out,
				    sizeof(out)));
	ck_assert_str_eq(out, "2026-05-01T09:00:00+02:00");
	ck_assert(ews_datetime_read(" 2026-05-01T09:00:00 ", out, sizeof(out)));
	ck_assert_str_eq(out, "2026-05-01T09:00:00Z");
	ck_assert(!ews_datetime_read("2026-13-01T09:00:00Z", out, sizeof(out)));
	ck_assert(!ews_datetime_read("yesterday", out, sizeof(out)));
	ck_assert(
	    !ews_datetime_read("2026-05-01T09:00:00Zjunk", out, sizeof(out)));
	const char *x = "<t:From xmlns:t=\"" SB_NS_EWS_TYPES
			"\"><t:Mailbox><t:Name>A</t:Name><t:EmailAddress> "
			"a@example.test </t:EmailAddress><t:RoutingType>SMTP"
			"</t:RoutingType></t:Mailbox></t:From>";
	struct sb_error err;
	xmlDoc *d = sb_xml_parse(x, strlen(x), 0, &err);
	ck_assert_ptr_nonnull(d);
	char buf[320];
	ck_assert_str_eq(ews_mailbox_smtp(sb_xml_root(d), buf, sizeof(buf)),
			 "a@example.test");
	ck_assert_str_eq(
	    ews_child_text(
		sb_xml_child(sb_xml_root(d), SB_NS_EWS_TYPES, "Mailbox"),
		"Name", NULL, 0),
	    "A");
	sb_xml_free(d);
	const char *ex = "<t:Mailbox xmlns:t=\"" SB_NS_EWS_TYPES
			 "\"><t:EmailAddress>/o=Org/cn=x</t:EmailAddress><t:"
			 "RoutingType>EX</t:RoutingType></t:Mailbox>";
	d = sb_xml_parse(ex, strlen(ex), 0, &err);
	ck_assert_ptr_null(ews_mailbox_smtp(sb_xml_root(d), buf, sizeof(buf)));
	sb_xml_free(d);
	ck_assert_str_eq(ews_timezone_id("Europe/Berlin"),
			 "W. Europe Standard Time");
	ck_assert_str_eq(ews_timezone_id("w. europe standard time"),
			 "W. Europe Standard Time");
	ck_assert_ptr_null(ews_timezone_id("Europe/Atlantis"));
}
END_TEST

/* The scheme libcurl is given: NTLM alone (never ANY), Negotiate with
 * the daemon's own Kerberos credentials, nothing of its own for Basic
 * (sent at once) and OAuth2 (a bearer per request). */
START_TEST(test_curl_auth)
{
	static const struct {
		const char *auth;
		unsigned long bits;
	} want[] = {
	    {"auth=ntlm", CURLAUTH_NTLM},
	    {"auth=negotiate", CURLAUTH_NEGOTIATE},
	    {"auth=basic", 0},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		bool neg = strcmp(want[i].auth, "auth=negotiate") == 0;
		const char *kv[] = {
		    "url=https://mail.example.test/EWS/Exchange.asmx",
		    want[i].auth, neg ? NULL : "username=EXAMPLE\\alice",
		    "password=Sup3r-Secret-Pw", NULL};
		struct sb_testhost *th = open_with(kv);
		struct ews *e = sb_testhost_state(th);
		ck_assert_ptr_nonnull(e->conn);
		ck_assert_uint_eq(sb_http_curl_auth(e->conn->http),
				  want[i].bits);
		sb_testhost_free(th);
	}
	wire_reset();
}
END_TEST

/* Out of memory while reading the address inputs: refused before any
 * request, whichever list it was (ReplyTo was unchecked). */
START_TEST(test_addrs_out_of_memory)
{
#if EWS_TEST_CALLOC
	/* under valgrind its own calloc serves the program: nothing to do */
	volatile size_t pn = 13, ps = 17;
	fail_nmemb = pn;
	fail_size = ps;
	void *volatile probe = calloc(pn, ps);
	fail_nmemb = 0;
	if (probe) {
		free(probe);
		printf("# test_addrs_out_of_memory skipped: calloc is not "
		       "this program's (valgrind?)\n");
		return;
	}
	static const char *const lists[] = {"To", "Cc", "Bcc", "ReplyTo"};
	for (size_t k = 0; k < 4; k++) {
		struct sb_testhost *th = open_basic("none");
		char item[7][64];
		const char *in[12];
		size_t n = 0;
		if (k)
			in[n++] = "To=bob@example.test";
		for (int i = 0; i < 7; i++) {
			snprintf(item[i], sizeof(item[i]),
				 "%s=u%d@example.test", lists[k], i);
			in[n++] = item[i];
		}
		in[n++] = "Subject=out of memory";
		in[n] = NULL;
		struct sb_error err;
		calloc_failed = 0;
		fail_size = sizeof(char *);
		fail_nmemb = 7;
		enum sb_status st = run_status(th, "Email", "Send", in, &err);
		fail_nmemb = 0;
		ck_assert_uint_eq(calloc_failed, 1);
		ck_assert_msg(st == SB_ERR_INTERNAL, "%s: %d %s", lists[k],
			      (int)st, err.message);
		ck_assert_ptr_nonnull(strstr(err.message, "out of memory"));
		ck_assert_uint_eq(W.n_req, 0);
		sb_testhost_free(th);
		wire_reset();
	}
#endif
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("exchange-ews");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_keys_refused);
	tcase_add_test(tc, test_open_contacts_nothing);
	tcase_add_test(tc, test_envelope_shape);
	tcase_add_test(tc, test_timezone_context);
	tcase_add_test(tc, test_impersonation_modes);
	tcase_add_test(tc, test_code_mapping_required);
	tcase_add_test(tc, test_code_mapping_every_code);
	tcase_add_test(tc, test_transport_errors);
	tcase_add_test(tc, test_hostile_answers);
	tcase_add_test(tc, test_server_busy);
	tcase_add_test(tc, test_no_secret_logged);
	tcase_add_test(tc, test_autodiscover_flow);
	tcase_add_test(tc, test_autodiscover_redirects);
	tcase_add_test(tc, test_autodiscover_helpers);
	tcase_add_test(tc, test_folder_list_paged);
	tcase_add_test(tc, test_folder_by_name);
	tcase_add_test(tc, test_folder_create);
	tcase_add_test(tc, test_contact_resolve);
	tcase_add_test(tc, test_oof);
	tcase_add_test(tc, test_service_test);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_curl_auth);
	tcase_add_test(tc, test_addrs_out_of_memory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	wire_reset();
	schema_free();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
