/* Unit tests of the exchange-powershell-winrm transport (wr_wsman.c,
 * wr_parse.c, wr_pool.c): the envelopes, the Receive loop and its
 * TimedOut faults, Signal after errors, shell pools (limits, waiting,
 * reloads, forgotten shells), output joined as bytes and CLIXML stderr,
 * with the network replaced by a small fake WinRM server that answers
 * from ../shared/protocol/winrm/samples. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <svcbroker/xml.h>

#include "../wr_transport.h"
#include "../wr_wsman.h"

/* ---- samples ----------------------------------------------------------- */

static char sdir[1024];

static bool samples_present(void)
{
	const char *over = getenv("WINRM_PROTOCOL_DIR");
	const char *all = getenv("SB_PROTOCOL_DIR");
	const char *top = getenv("top_srcdir");
	if (over && *over)
		snprintf(sdir, sizeof(sdir), "%s/samples", over);
	else if (all && *all)
		snprintf(sdir, sizeof(sdir), "%s/winrm/samples", all);
	else
		snprintf(sdir, sizeof(sdir),
			 "%s/../shared/protocol/winrm/samples",
			 top ? top : "..");
	char p[1200];
	snprintf(p, sizeof(p), "%s/01-create-shell.response.xml", sdir);
	return access(p, R_OK) == 0;
}

static char *sample(const char *name)
{
	char p[1200];
	snprintf(p, sizeof(p), "%s/%s", sdir, name);
	FILE *f = fopen(p, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", p);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	return b;
}

/* s with every `from` replaced by `to` (malloc'd; s freed). */
static char *replace(char *s, const char *from, const char *to)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	const char *p = s, *q;
	size_t fl = strlen(from);
	while ((q = strstr(p, from))) {
		sb_buf_append(&b, p, (size_t)(q - p));
		sb_buf_puts(&b, to);
		p = q + fl;
	}
	sb_buf_puts(&b, p);
	free(s);
	return sb_buf_steal(&b);
}

/* The RelatesTo of a sample made the request's MessageID. */
static char *relate(char *s, const char *mid)
{
	char *a = strstr(s, "<a:RelatesTo>");
	char *z = a ? strstr(a, "</a:RelatesTo>") : NULL;
	if (!a || !z)
		return s;
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_append(&b, s, (size_t)(a - s) + 13);
	sb_buf_puts(&b, mid);
	sb_buf_puts(&b, z);
	free(s);
	return sb_buf_steal(&b);
}

#define SAMPLE_SHELL "0A442A7F-4627-43AE-8751-900B509F0A1F"
#define SAMPLE_CMD "77DF7BB6-B5A0-4777-ABD9-9823C0774074"

/* ---- the fake server -------------------------------------------------- */

#define MAXREQ 400
#define MAXPLAN 32
#define MAXSHELLS 64

struct req {
	char action[32];
	char *body;
	char *ctype;
	int64_t timeout_ms;
};

struct inject {
	char action[32];
	int count;
	const char *fault; /* a sample file */
	int http_status;
	enum sb_status fail; /* a failed transfer */
};

static struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req reqs[MAXREQ];
	size_t n;
	char shells[MAXSHELLS][WR_ID_MAX];
	bool alive[MAXSHELLS];
	int n_shells;
	int n_cmd;
	char *plan[MAXPLAN]; /* Receive bodies, in turn; %CMD% %REL% */
	size_t plan_head, plan_tail;
	struct inject inj[8];
	int n_inj;
	bool block; /* Receives wait while set */
	int waiting;
	volatile int *cancel_on_receive; /* set to 1 at the first Receive */
	char act_name[8][32]; /* requests by action, every one counted */
	size_t act_count[8];
} F = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void fake_reset(void)
{
	pthread_mutex_lock(&F.mu);
	for (size_t i = 0; i < MAXREQ; i++) {
		free(F.reqs[i].body);
		free(F.reqs[i].ctype);
	}
	for (size_t i = 0; i < MAXPLAN; i++)
		free(F.plan[i]);
	memset(F.reqs, 0, sizeof(F.reqs));
	memset(F.plan, 0, sizeof(F.plan));
	memset(F.inj, 0, sizeof(F.inj));
	memset(F.shells, 0, sizeof(F.shells));
	memset(F.alive, 0, sizeof(F.alive));
	F.n = 0;
	F.n_shells = F.n_cmd = F.n_inj = 0;
	F.plan_head = F.plan_tail = 0;
	F.block = false;
	F.waiting = 0;
	F.cancel_on_receive = NULL;
	memset(F.act_name, 0, sizeof(F.act_name));
	memset(F.act_count, 0, sizeof(F.act_count));
	pthread_mutex_unlock(&F.mu);
}

static void plan(const char *body)
{
	ck_assert_uint_lt(F.plan_tail, MAXPLAN);
	F.plan[F.plan_tail++] = strdup(body);
}

static void inject(const char *action, int count, const char *fault,
		   int http_status, enum sb_status fail)
{
	ck_assert_int_lt(F.n_inj, 8);
	struct inject *i = &F.inj[F.n_inj++];
	snprintf(i->action, sizeof(i->action), "%s", action);
	i->count = count;
	i->fault = fault;
	i->http_status = http_status;
	i->fail = fail;
}

/* Text of the first element {ns}local in the document, or "". */
static void text_of(xmlDoc *d, const char *ns, const char *local, char *out,
		    size_t n)
{
	xmlNode *x = sb_xml_find(sb_xml_root(d), ns, local);
	sb_xml_text_copy(x, out, n);
}

static const char *attr_of(xmlDoc *d, const char *ns, const char *local,
			   const char *attr)
{
	xmlNode *x = sb_xml_find(sb_xml_root(d), ns, local);
	return x ? sb_xml_attr(x, NULL, attr) : NULL;
}

static size_t count(const char *action)
{
	size_t c = 0;
	pthread_mutex_lock(&F.mu);
	for (size_t i = 0; i < 8; i++)
		if (strcmp(F.act_name[i], action) == 0)
			c = F.act_count[i];
	pthread_mutex_unlock(&F.mu);
	return c;
}

/* The body of the k-th request of action (k from 0), or NULL. */
static const char *nth(const char *action, size_t k)
{
	for (size_t i = 0; i < F.n && i < MAXREQ; i++)
		if (strcmp(F.reqs[i].action, action) == 0 && k-- == 0)
			return F.reqs[i].body;
	return NULL;
}

static int shell_index(const char *id)
{
	for (int i = 0; i < F.n_shells; i++)
		if (strcmp(F.shells[i], id) == 0)
			return i;
	return -1;
}

static void forget_shells(void)
{
	pthread_mutex_lock(&F.mu);
	for (int i = 0; i < F.n_shells; i++)
		F.alive[i] = false;
	pthread_mutex_unlock(&F.mu);
}

static int shells_alive(void)
{
	int n = 0;
	pthread_mutex_lock(&F.mu);
	for (int i = 0; i < F.n_shells; i++)
		n += F.alive[i];
	pthread_mutex_unlock(&F.mu);
	return n;
}

static enum sb_status answer(struct sb_http_response *resp, int status,
			     char *body)
{
	sb_http_response_set_status(resp, status,
				    status == 200 ? "OK" : "Error");
	sb_http_response_add_header(resp, "Content-Type",
				    "application/soap+xml;charset=UTF-8");
	sb_http_response_set_body(resp, body, strlen(body));
	free(body);
	return SB_OK;
}

static enum sb_status fake(void *ctx, const struct sb_http_wire *w,
			   struct sb_http_response *resp, struct sb_error *err)
{
	(void)ctx;
	struct sb_error perr;
	xmlDoc *d = sb_xml_parse(w->body, w->body_len, 0, &perr);
	ck_assert_msg(d != NULL, "request not XML: %s", perr.message);
	char action[256], mid[96], shell[WR_ID_MAX];
	text_of(d, SB_NS_WSA, "Action", action, sizeof(action));
	text_of(d, SB_NS_WSA, "MessageID", mid, sizeof(mid));
	shell[0] = '\0';
	xmlNode *sel = sb_xml_find(sb_xml_root(d), SB_NS_WSMAN, "Selector");
	sb_xml_text_copy(sel, shell, sizeof(shell));
	const char *slash = strrchr(action, '/');
	const char *op = slash ? slash + 1 : action;
	char cmd[WR_ID_MAX] = "";
	const char *c = attr_of(d, SB_NS_WINRS, "DesiredStream", "CommandId");
	if (!c)
		c = attr_of(d, SB_NS_WINRS, "Signal", "CommandId");
	if (c)
		snprintf(cmd, sizeof(cmd), "%s", c);
	sb_xml_free(d);

	pthread_mutex_lock(&F.mu);
	if (strcmp(op, "Receive") == 0 && F.cancel_on_receive)
		*F.cancel_on_receive = 1;
	for (size_t k = 0; k < 8; k++)
		if (!F.act_name[k][0] || strcmp(F.act_name[k], op) == 0) {
			snprintf(F.act_name[k], sizeof(F.act_name[k]), "%.31s",
				 op);
			F.act_count[k]++;
			break;
		}
	size_t i = F.n++;
	if (i < MAXREQ) {
		snprintf(F.reqs[i].action, sizeof(F.reqs[i].action), "%.31s",
			 op);
		F.reqs[i].body = strndup(w->body, w->body_len);
		F.reqs[i].timeout_ms = w->timeout_ms;
		for (size_t k = 0; k < w->n_headers; k++)
			if (strncasecmp(w->headers[k], "Content-Type:", 13) ==
			    0)
				F.reqs[i].ctype = strdup(w->headers[k] + 13);
	}
	/* injections */
	for (int k = 0; k < F.n_inj; k++) {
		struct inject *in = &F.inj[k];
		if (in->count <= 0 || (strcmp(in->action, op) != 0 &&
				       strcmp(in->action, "*") != 0))
			continue;
		in->count--;
		pthread_mutex_unlock(&F.mu);
		if (in->fail != SB_OK)
			return sb_error_set(err, in->fail, NULL,
					    "test: failed transfer");
		if (in->http_status)
			return answer(resp, in->http_status,
				      strdup("<html>no</html>"));
		return answer(resp, 500, relate(sample(in->fault), mid));
	}
	if (strcmp(op, "Create") != 0) {
		int si = shell_index(shell);
		if (si < 0 || !F.alive[si]) {
			pthread_mutex_unlock(&F.mu);
			return answer(
			    resp, 500,
			    relate(sample("91-fault-shell-not-found.xml"),
				   mid));
		}
	}
	if (strcmp(op, "Create") == 0) {
		ck_assert_int_lt(F.n_shells, MAXSHELLS);
		char id[WR_ID_MAX];
		snprintf(id, sizeof(id),
			 "0A442A7F-4627-43AE-8751-9000000000%02d", F.n_shells);
		snprintf(F.shells[F.n_shells], WR_ID_MAX, "%s", id);
		F.alive[F.n_shells++] = true;
		pthread_mutex_unlock(&F.mu);
		char *s = sample("01-create-shell.response.xml");
		s = replace(s, SAMPLE_SHELL, id);
		return answer(resp, 200, relate(s, mid));
	}
	if (strcmp(op, "Command") == 0) {
		char id[WR_ID_MAX];
		snprintf(id, sizeof(id),
			 "77DF7BB6-B5A0-4777-ABD9-9823C07740%02d",
			 F.n_cmd++ % 100);
		pthread_mutex_unlock(&F.mu);
		char *s = sample("02-command.response.xml");
		s = replace(s, SAMPLE_CMD, id);
		return answer(resp, 200, relate(s, mid));
	}
	if (strcmp(op, "Receive") == 0) {
		int64_t end = sb_now_ms() + 10000;
		F.waiting++;
		pthread_cond_broadcast(&F.cv);
		while (F.block && sb_now_ms() < end) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&F.cv, &F.mu, &ts);
		}
		F.waiting--;
		char *s;
		if (F.plan_head < F.plan_tail) {
			s = F.plan[F.plan_head];
			F.plan[F.plan_head++] = NULL;
		} else {
			s = sample("03-receive.response-done.xml");
		}
		pthread_mutex_unlock(&F.mu);
		s = replace(s, SAMPLE_CMD, cmd);
		s = replace(s, "%CMD%", cmd);
		return answer(resp, 200, relate(s, mid));
	}
	if (strcmp(op, "Signal") == 0 || strcmp(op, "Send") == 0) {
		pthread_mutex_unlock(&F.mu);
		char *s = sample("04-signal.response.xml");
		if (strcmp(op, "Send") == 0)
			s = replace(s, "<rsp:SignalResponse/>",
				    "<rsp:SendResponse/>");
		return answer(resp, 200, relate(s, mid));
	}
	if (strcmp(op, "Delete") == 0) {
		F.alive[shell_index(shell)] = false;
		pthread_mutex_unlock(&F.mu);
		return answer(
		    resp, 200,
		    relate(sample("05-delete-shell.response.xml"), mid));
	}
	pthread_mutex_unlock(&F.mu);
	return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL, "test: what is %s?",
			    op);
}

/* ---- the host and calls -------------------------------------------------- */

struct tcall {
	int64_t deadline;
	volatile int cancel;
};

static void h_log(const struct sb_host *h, enum sb_log_level lv,
		  const char *fmt, ...)
{
	(void)h;
	if (!getenv("WR_TEST_LOG"))
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "log %d: ", (int)lv);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t h_remaining(const struct sb_host *h, const struct sb_call *c)
{
	(void)h;
	return ((const struct tcall *)(const void *)c)->deadline - sb_now_ms();
}

static bool h_cancelled(const struct sb_host *h, const struct sb_call *c)
{
	const struct tcall *t = (const struct tcall *)(const void *)c;
	return t->cancel || h_remaining(h, c) <= 0;
}

static const struct sb_host HOST = {
    .struct_size = sizeof(struct sb_host),
    .instance = "exchange",
    .broker = "exchange-powershell-winrm",
    .log = h_log,
    .remaining_ms = h_remaining,
    .cancelled = h_cancelled,
};

#define CALL(t) ((const struct sb_call *)(const void *)(t))

static struct tcall in_ms(int64_t ms)
{
	struct tcall t = {sb_now_ms() + ms, 0};
	return t;
}

static struct sb_http_conf HTTP = {
    .url = "https://exch01.example.test:5986/wsman",
    .tls = {.verify_tls = true},
    .auth = SB_HTTP_AUTH_BASIC,
    .username = "EXAMPLE\\administrator",
    .password = "Secret-Pw-1",
    .connect_timeout_ms = 10000,
    .max_response_size = 32 << 20,
};

static struct wr_pool *pool_with(int max_shells, const char *user)
{
	static struct sb_http_conf h[4];
	static int k;
	struct sb_http_conf *hc = &h[k++ % 4];
	*hc = HTTP;
	if (user)
		hc->username = (char *)user;
	struct wr_transport_conf c = {.http = hc,
				      .max_shells = max_shells,
				      .shell_idle_ms = 600000,
				      .max_envelope = 153600,
				      .max_output = 1 << 20};
	struct sb_error err;
	struct wr_pool *p = wr_pool_get(&HOST, &c, &err);
	ck_assert_msg(p != NULL, "wr_pool_get: %s", err.message);
	wr_pool_set_transport(p, fake, NULL);
	return p;
}

static enum sb_status run(struct wr_pool *p, int64_t ms, const char *script,
			  struct wr_result *r, bool *started,
			  struct sb_error *err)
{
	struct tcall t = in_ms(ms);
	return wr_run(p, CALL(&t), script, strlen(script), r, started, err);
}

#define SKIP_WITHOUT_SAMPLES                                                   \
	do {                                                                   \
		if (!samples_present()) {                                      \
			printf("# skipped: no WinRM samples at %s\n", sdir);   \
			return;                                                \
		}                                                              \
		fake_reset();                                                  \
	} while (0)

/* A decoded -EncodedCommand back to UTF-8 (ASCII scripts only). */
static char *decode_command(const char *b64)
{
	size_t n;
	unsigned char *u = sb_base64_decode(b64, strlen(b64), &n);
	ck_assert_ptr_nonnull(u);
	char *s = malloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++)
		s[i] = (char)u[2 * i];
	s[n / 2] = '\0';
	free(u);
	return s;
}

/* ---- envelopes ------------------------------------------------------------
 */

static void check_common_header(const char *body, const char *action,
				bool selector)
{
	struct sb_error err;
	xmlDoc *d = sb_xml_parse(body, strlen(body), 0, &err);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(sb_soap_version_of(d), SB_SOAP12);
	xmlNode *h = sb_soap_header_of(d);
	char t[256];
	sb_xml_text_copy(sb_xml_child(h, SB_NS_WSA, "To"), t, sizeof(t));
	ck_assert_str_eq(t, "https://exch01.example.test:5986/wsman");
	xmlNode *addr =
	    sb_xml_path(h, SB_NS_WSA, "ReplyTo", SB_NS_WSA, "Address", NULL);
	sb_xml_text_copy(addr, t, sizeof(t));
	ck_assert_str_eq(t, "http://schemas.xmlsoap.org/ws/2004/08/"
			    "addressing/role/anonymous");
	ck_assert_str_eq(sb_xml_attr(addr, SB_NS_SOAP12, "mustUnderstand"),
			 "true");
	xmlNode *a = sb_xml_child(h, SB_NS_WSA, "Action");
	sb_xml_text_copy(a, t, sizeof(t));
	ck_assert_str_eq(t, action);
	ck_assert_str_eq(sb_xml_attr(a, SB_NS_SOAP12, "mustUnderstand"),
			 "true");
	sb_xml_text_copy(sb_xml_child(h, SB_NS_WSA, "MessageID"), t, sizeof(t));
	ck_assert_int_eq(strncmp(t, "uuid:", 5), 0);
	ck_assert_uint_eq(strlen(t), 41);
	xmlNode *ru = sb_xml_child(h, SB_NS_WSMAN, "ResourceURI");
	sb_xml_text_copy(ru, t, sizeof(t));
	ck_assert_str_eq(
	    t, "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd");
	ck_assert_str_eq(sb_xml_attr(ru, SB_NS_SOAP12, "mustUnderstand"),
			 "true");
	xmlNode *me = sb_xml_child(h, SB_NS_WSMAN, "MaxEnvelopeSize");
	sb_xml_text_copy(me, t, sizeof(t));
	ck_assert_str_eq(t, "153600");
	ck_assert_str_eq(sb_xml_attr(me, SB_NS_SOAP12, "mustUnderstand"),
			 "true");
	sb_xml_text_copy(sb_xml_child(h, SB_NS_WSMAN, "OperationTimeout"), t,
			 sizeof(t));
	ck_assert_int_eq(strncmp(t, "PT", 2), 0);
	double secs = atof(t + 2);
	ck_assert_msg(secs > 0 && secs <= 20.0, "OperationTimeout %s", t);
	xmlNode *loc = sb_xml_child(h, SB_NS_WSMAN, "Locale");
	ck_assert_ptr_nonnull(loc);
	ck_assert_str_eq(sb_xml_attr(loc, SB_NS_SOAP12, "mustUnderstand"),
			 "false");
	ck_assert_ptr_nonnull(sb_xml_child(
	    h, "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
	    "DataLocale"));
	xmlNode *ss = sb_xml_child(h, SB_NS_WSMAN, "SelectorSet");
	if (selector) {
		xmlNode *s = sb_xml_child(ss, SB_NS_WSMAN, "Selector");
		ck_assert_str_eq(sb_xml_attr(s, NULL, "Name"), "ShellId");
		sb_xml_text_copy(s, t, sizeof(t));
		ck_assert_int_eq(strncmp(t, "0A442A7F-", 9), 0);
	} else {
		ck_assert_ptr_null(ss);
	}
	sb_xml_free(d);
}

/* The OptionSet of a request as "NAME=VALUE;..." */
static void options_of(const char *body, char *out, size_t n)
{
	struct sb_error err;
	xmlDoc *d = sb_xml_parse(body, strlen(body), 0, &err);
	out[0] = '\0';
	xmlNode *os =
	    sb_xml_child(sb_soap_header_of(d), SB_NS_WSMAN, "OptionSet");
	for (xmlNode *o = sb_xml_child(os, SB_NS_WSMAN, "Option"); o;
	     o = sb_xml_next(o)) {
		char v[64];
		sb_xml_text_copy(o, v, sizeof(v));
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s=%s;", sb_xml_attr(o, NULL, "Name"),
			 v);
	}
	sb_xml_free(d);
}

START_TEST(envelopes)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(2, NULL);
	struct wr_result r;
	struct sb_error err;
	bool started = false;
	const char *script = "$ProgressPreference='SilentlyContinue';"
			     "Get-ExchangeServer";
	enum sb_status st = run(p, 30000, script, &r, &started, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	ck_assert(started);
	ck_assert_int_eq(r.exit_code, 0);
	const char *want = "\"EXCH01\",\"Mailbox, ClientAccess\",\"Version "
			   "14.3 (Build 123.4)\"\r\n";
	ck_assert_str_eq(r.out, want);
	ck_assert_uint_eq(r.out_len, strlen(want));
	ck_assert_str_eq(r.err_text, "");
	wr_result_free(&r);

	ck_assert_uint_eq(count("Create"), 1);
	ck_assert_uint_eq(count("Command"), 1);
	ck_assert_uint_eq(count("Receive"), 1);
	ck_assert_uint_eq(count("Signal"), 1);
	ck_assert_uint_eq(count("Delete"), 0);
	const char *T = "http://schemas.xmlsoap.org/ws/2004/09/transfer/";
	const char *S = "http://schemas.microsoft.com/wbem/wsman/1/windows/"
			"shell/";
	char act[160];
	snprintf(act, sizeof(act), "%sCreate", T);
	check_common_header(nth("Create", 0), act, false);
	snprintf(act, sizeof(act), "%sCommand", S);
	check_common_header(nth("Command", 0), act, true);
	snprintf(act, sizeof(act), "%sReceive", S);
	check_common_header(nth("Receive", 0), act, true);
	snprintf(act, sizeof(act), "%sSignal", S);
	check_common_header(nth("Signal", 0), act, true);
	ck_assert_str_eq(F.reqs[0].ctype ? F.reqs[0].ctype + 1 : "",
			 "application/soap+xml;charset=UTF-8");

	char o[512];
	options_of(nth("Create", 0), o, sizeof(o));
	ck_assert_str_eq(o, "WINRS_NOPROFILE=TRUE;WINRS_CODEPAGE=65001;"
			    "WINRS_SKIP_CMD_SHELL=TRUE;");
	options_of(nth("Command", 0), o, sizeof(o));
	ck_assert_str_eq(
	    o, "WINRS_CONSOLEMODE_STDIN=TRUE;WINRS_SKIP_CMD_SHELL=TRUE;");

	/* the shell: streams and IdleTimeOut */
	xmlDoc *d =
	    sb_xml_parse(nth("Create", 0), strlen(nth("Create", 0)), 0, &err);
	xmlNode *sh = sb_xml_child(sb_soap_body_of(d), SB_NS_WINRS, "Shell");
	char t[256];
	sb_xml_text_copy(sb_xml_child(sh, SB_NS_WINRS, "InputStreams"), t,
			 sizeof(t));
	ck_assert_str_eq(t, "stdin");
	sb_xml_text_copy(sb_xml_child(sh, SB_NS_WINRS, "OutputStreams"), t,
			 sizeof(t));
	ck_assert_str_eq(t, "stdout stderr");
	sb_xml_text_copy(sb_xml_child(sh, SB_NS_WINRS, "IdleTimeOut"), t,
			 sizeof(t));
	ck_assert_str_eq(t, "PT600.000S");
	sb_xml_free(d);

	/* the command line, one rsp:Arguments per argument */
	d = sb_xml_parse(nth("Command", 0), strlen(nth("Command", 0)), 0, &err);
	xmlNode *cl =
	    sb_xml_child(sb_soap_body_of(d), SB_NS_WINRS, "CommandLine");
	sb_xml_text_copy(sb_xml_child(cl, SB_NS_WINRS, "Command"), t,
			 sizeof(t));
	ck_assert_str_eq(t, "powershell.exe");
	const char *want_args[] = {"-NoProfile", "-NonInteractive",
				   "-InputFormat", "None", "-EncodedCommand"};
	xmlNode *a = sb_xml_child(cl, SB_NS_WINRS, "Arguments");
	for (int i = 0; i < 5; i++, a = sb_xml_next(a)) {
		ck_assert_ptr_nonnull(a);
		sb_xml_text_copy(a, t, sizeof(t));
		ck_assert_str_eq(t, want_args[i]);
	}
	char *b64 = sb_xml_text(a, 0, &err);
	ck_assert_ptr_null(sb_xml_next(a));
	char *back = decode_command(b64);
	ck_assert_str_eq(back, script);
	/* the sample's own encoding of the same script */
	char *cmd_sample = sample("02-command.request.xml");
	ck_assert_ptr_nonnull(strstr(cmd_sample, b64));
	free(cmd_sample);
	free(back);
	free(b64);
	sb_xml_free(d);

	/* Receive asks for both streams of the command; Signal terminates */
	d = sb_xml_parse(nth("Receive", 0), strlen(nth("Receive", 0)), 0, &err);
	xmlNode *ds =
	    sb_xml_find(sb_soap_body_of(d), SB_NS_WINRS, "DesiredStream");
	sb_xml_text_copy(ds, t, sizeof(t));
	ck_assert_str_eq(t, "stdout stderr");
	ck_assert_str_eq(sb_xml_attr(ds, NULL, "CommandId"),
			 "77DF7BB6-B5A0-4777-ABD9-9823C0774000");
	sb_xml_free(d);
	d = sb_xml_parse(nth("Signal", 0), strlen(nth("Signal", 0)), 0, &err);
	xmlNode *sg = sb_xml_child(sb_soap_body_of(d), SB_NS_WINRS, "Signal");
	ck_assert_str_eq(sb_xml_attr(sg, NULL, "CommandId"),
			 "77DF7BB6-B5A0-4777-ABD9-9823C0774000");
	sb_xml_text_copy(sb_xml_child(sg, SB_NS_WINRS, "Code"), t, sizeof(t));
	ck_assert_str_eq(t, "http://schemas.microsoft.com/wbem/wsman/1/"
			    "windows/shell/signal/terminate");
	sb_xml_free(d);

	/* the shell is kept: a second run makes none */
	st = run(p, 30000, "Get-Date", &r, NULL, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	wr_result_free(&r);
	ck_assert_uint_eq(count("Create"), 1);
	int open, max;
	wr_pool_stats(p, &open, &max);
	ck_assert_int_eq(open, 1);
	ck_assert_int_eq(max, 1);

	/* the last put deletes it */
	wr_pool_put(p);
	ck_assert_uint_eq(count("Delete"), 1);
	snprintf(act, sizeof(act), "%sDelete", T);
	check_common_header(nth("Delete", 0), act, true);
	ck_assert_int_eq(shells_alive(), 0);
}
END_TEST

START_TEST(operation_timeout_below_deadline)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	struct wr_result r;
	struct sb_error err;
	ck_assert_int_eq(run(p, 60000, "a", &r, NULL, &err), SB_OK);
	wr_result_free(&r);
	ck_assert_ptr_nonnull(
	    strstr(nth("Receive", 0), "<w:OperationTimeout>PT20.000S<"));
	ck_assert_int_eq(run(p, 4000, "b", &r, NULL, &err), SB_OK);
	wr_result_free(&r);
	const char *b = nth("Receive", 1);
	const char *o = strstr(b, "<w:OperationTimeout>PT");
	ck_assert_ptr_nonnull(o);
	double secs = atof(o + 22);
	ck_assert_msg(secs > 0.5 && secs < 4.0, "OperationTimeout %.3f", secs);
	/* the transfer's own budget is longer than what the server is
	 * asked to wait */
	for (size_t i = 0; i < F.n; i++)
		if (strcmp(F.reqs[i].action, "Receive") == 0 && i > 2)
			ck_assert_int_gt(F.reqs[i].timeout_ms,
					 (int64_t)(secs * 1000));
	/* without a call (test()): 30 s for the whole run */
	ck_assert_int_eq(wr_run(p, NULL, "d", 1, &r, NULL, &err), SB_OK);
	wr_result_free(&r);
	o = strstr(nth("Receive", 2), "<w:OperationTimeout>PT");
	ck_assert_ptr_nonnull(o);
	ck_assert_msg(atof(o + 22) == 20.0, "%s", o);
	wr_pool_put(p);
	/* the HTTP client's request_timeout bounds it too */
	fake_reset();
	struct sb_http_conf hc = HTTP;
	hc.request_timeout_ms = 3000;
	struct wr_transport_conf c = {.http = &hc, .max_shells = 1};
	p = wr_pool_get(&HOST, &c, &err);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(run(p, 60000, "c", &r, NULL, &err), SB_OK);
	wr_result_free(&r);
	o = strstr(nth("Receive", 0), "<w:OperationTimeout>PT");
	secs = atof(o + 22);
	ck_assert_msg(secs > 0.5 && secs < 3.0, "OperationTimeout %.3f", secs);
	ck_assert_int_eq(wr_operation_timeout_ms(0), 0);
	ck_assert_int_eq(wr_operation_timeout_ms(100000), 20000);
	ck_assert_int_lt(wr_operation_timeout_ms(2000), 2000);
	wr_pool_put(p);
}
END_TEST

/* ---- Receive ------------------------------------------------------------- */

START_TEST(receive_retried_on_timeout_fault)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	inject("Receive", 3, "90-fault-receive-timeout.xml", 0, SB_OK);
	/* a running answer with part of the output first */
	char *run1 = sample("03-receive.response-running.xml");
	plan(run1);
	free(run1);
	struct wr_result r;
	struct sb_error err;
	bool started = false;
	enum sb_status st =
	    run(p, 30000, "Get-ExchangeServer", &r, &started, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	ck_assert_str_eq(err.code, "");
	ck_assert_uint_eq(count("Receive"), 5);
	ck_assert_str_eq(r.out,
			 "\"Name\",\"ServerRole\",\"AdminDisplayVersion\""
			 "\r\n\"EXCH01\",\"Mailbox, ClientAccess\","
			 "\"Version 14.3 (Build 123.4)\"\r\n");
	ck_assert_int_eq(r.exit_code, 0);
	ck_assert_uint_eq(count("Signal"), 1);
	wr_result_free(&r);
	wr_pool_put(p);
}
END_TEST

START_TEST(signal_after_error)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	inject("Receive", 1, "92-fault-access-denied.xml", 0, SB_OK);
	struct wr_result r;
	struct sb_error err;
	bool started = false;
	enum sb_status st = run(p, 30000, "Get-Mailbox", &r, &started, &err);
	ck_assert_int_ne(st, SB_OK);
	ck_assert(started);
	ck_assert_str_eq(err.code, "outcome_unknown");
	ck_assert_ptr_nonnull(strstr(err.message, "may or may not have run"));
	ck_assert_ptr_nonnull(strstr(err.message, "Access is denied."));
	ck_assert_uint_eq(count("Signal"), 1);
	ck_assert_ptr_null(r.out);
	/* the shell, signalled, is used again */
	st = run(p, 30000, "Get-Mailbox", &r, &started, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	wr_result_free(&r);
	ck_assert_uint_eq(count("Create"), 1);

	/* a failed transfer during Receive: Signal still */
	inject("Receive", 1, NULL, 0, SB_ERR_UNAVAILABLE);
	st = run(p, 30000, "Get-Mailbox", &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_UNAVAILABLE);
	ck_assert_str_eq(err.code, "outcome_unknown");
	ck_assert_uint_eq(count("Signal"), 3);

	/* a Signal that fails drops the shell (Delete) */
	inject("Receive", 1, NULL, 0, SB_ERR_UNAVAILABLE);
	inject("Signal", 1, NULL, 500, SB_OK);
	st = run(p, 30000, "Get-Mailbox", &r, &started, &err);
	ck_assert_int_ne(st, SB_OK);
	ck_assert_uint_eq(count("Delete"), 1);
	int open;
	wr_pool_stats(p, &open, NULL);
	ck_assert_int_eq(open, 0);
	wr_pool_put(p);
}
END_TEST

START_TEST(cancelled_between_receives)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	inject("Receive", 100, "90-fault-receive-timeout.xml", 0, SB_OK);
	struct tcall t = in_ms(30000);
	F.cancel_on_receive = &t.cancel;
	struct wr_result r;
	struct sb_error err;
	bool started = false;
	int64_t t0 = sb_now_ms();
	enum sb_status st =
	    wr_run(p, CALL(&t), "Start-Sleep 100", 15, &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_TIMEOUT);
	ck_assert(started);
	ck_assert_str_eq(err.code, "outcome_unknown");
	ck_assert_uint_eq(count("Receive"), 1);
	ck_assert_uint_eq(count("Signal"), 1); /* after cancellation too */
	ck_assert_int_lt(sb_now_ms() - t0, 5000);

	/* the deadline passing while the server says "no output yet" */
	fake_reset();
	inject("Receive", 1000000, "90-fault-receive-timeout.xml", 0, SB_OK);
	t0 = sb_now_ms();
	st = run(p, 1500, "Start-Sleep 100", &r, &started, &err);
	ck_assert_msg(st == SB_ERR_TIMEOUT,
		      "%d %s (%zu Receives, %zu Commands)", st, err.message,
		      count("Receive"), count("Command"));
	ck_assert_str_eq(err.code, "outcome_unknown");
	ck_assert_int_ge(count("Receive"), 1);
	ck_assert_uint_eq(count("Signal"), 1);
	ck_assert_int_lt(sb_now_ms() - t0, 6000);
	wr_pool_put(p);
}
END_TEST

/* A ReceiveResponse with the given stdout pieces (raw bytes, split where
 * the caller says) and done or running. */
static char *receive_body(const char *const *pieces, const size_t *lens,
			  size_t n, bool done)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(
	    &b, "<s:Envelope xmlns:s=\"" SB_NS_SOAP12 "\" xmlns:a=\"" SB_NS_WSA
		"\" xmlns:rsp=\"" SB_NS_WINRS "\"><s:Header><a:Action>"
		"http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
		"ReceiveResponse</a:Action></s:Header><s:Body>"
		"<rsp:ReceiveResponse>");
	for (size_t i = 0; i < n; i++) {
		char *e = sb_base64_encode(pieces[i], lens[i], 0);
		sb_buf_printf(&b,
			      "<rsp:Stream Name=\"stdout\" "
			      "CommandId=\"%%CMD%%\">%s</rsp:Stream>",
			      e);
		free(e);
	}
	if (done)
		sb_buf_puts(&b,
			    "<rsp:Stream Name=\"stdout\" CommandId=\"%CMD%\" "
			    "End=\"true\"></rsp:Stream><rsp:CommandState "
			    "CommandId=\"%CMD%\" State=\"http://schemas."
			    "microsoft.com/wbem/wsman/1/windows/shell/"
			    "CommandState/Done\"><rsp:ExitCode>7</"
			    "rsp:ExitCode></rsp:CommandState>");
	else
		sb_buf_puts(&b,
			    "<rsp:CommandState CommandId=\"%CMD%\" "
			    "State=\"http://schemas.microsoft.com/wbem/"
			    "wsman/1/windows/shell/CommandState/Running\"/>");
	sb_buf_puts(&b, "</rsp:ReceiveResponse></s:Body></s:Envelope>");
	return sb_buf_steal(&b);
}

START_TEST(split_utf8_joined)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	/* "é€😀\r\n" cut inside every character, across streams and
	 * answers */
	const char *all = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\r\n";
	const char *p1[] = {all, all + 1, all + 3};
	size_t l1[] = {1, 2, 1};
	const char *p2[] = {all + 4, all + 7};
	size_t l2[] = {3, 2};
	const char *p3[] = {all + 9};
	size_t l3[] = {2};
	char *a = receive_body(p1, l1, 3, false);
	char *b = receive_body(p2, l2, 2, false);
	char *c = receive_body(p3, l3, 1, true);
	plan(a);
	plan(b);
	plan(c);
	free(a);
	free(b);
	free(c);
	struct wr_result r;
	struct sb_error err;
	enum sb_status st = run(p, 30000, "'é€😀'", &r, NULL, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	ck_assert_uint_eq(r.out_len, strlen(all));
	ck_assert_mem_eq(r.out, all, strlen(all));
	ck_assert_int_eq(r.exit_code, 7);
	ck_assert_uint_eq(count("Receive"), 3);
	wr_result_free(&r);

	/* a script outside ASCII reaches PowerShell as UTF-16LE */
	char *enc = wr_encode_command("é😀", strlen("é😀"));
	size_t n;
	unsigned char *u = sb_base64_decode(enc, strlen(enc), &n);
	const unsigned char want[] = {0xe9, 0x00, 0x3d, 0xd8, 0x00, 0xde};
	ck_assert_uint_eq(n, sizeof(want));
	ck_assert_mem_eq(u, want, n);
	free(u);
	free(enc);
	ck_assert_ptr_null(wr_encode_command("\xc3", 1));
	wr_pool_put(p);
}
END_TEST

START_TEST(output_cap)
{
	SKIP_WITHOUT_SAMPLES;
	struct sb_http_conf hc = HTTP;
	struct wr_transport_conf c = {
	    .http = &hc, .max_shells = 1, .max_output = 10};
	struct sb_error err;
	struct wr_pool *p = wr_pool_get(&HOST, &c, &err);
	ck_assert_ptr_nonnull(p);
	wr_pool_set_transport(p, fake, NULL);
	struct wr_result r;
	bool started;
	enum sb_status st = run(p, 30000, "x", &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_UPSTREAM);
	ck_assert_str_eq(err.code, "outcome_unknown");
	ck_assert_ptr_nonnull(strstr(err.message, "passed 10 bytes"));
	ck_assert_uint_eq(count("Signal"), 1);
	wr_pool_put(p);
}
END_TEST

/* ---- CLIXML -------------------------------------------------------------- */

START_TEST(clixml_from_sample)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	char *s = sample("03-receive.response-done-stderr-clixml.xml");
	plan(s);
	free(s);
	struct wr_result r;
	struct sb_error err;
	enum sb_status st =
	    run(p, 30000, "Get-MailboxDatabase", &r, NULL, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	ck_assert_int_eq(r.exit_code, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err_text,
			 "Get-MailboxDatabase : The term 'Get-MailboxDatabase' "
			 "is not recognized as the name of a cmdlet");
	ck_assert_uint_eq(r.err_len, strlen(r.err_text));
	wr_result_free(&r);
	wr_pool_put(p);
}
END_TEST

static char *reduce(const char *in)
{
	struct sb_buf b;
	sb_buf_init(&b, 0);
	ck_assert(wr_clixml_reduce(in, strlen(in), &b));
	sb_buf_append(&b, "", 0);
	return sb_buf_steal(&b);
}

#define OBJS                                                                   \
	"<Objs Version=\"1.1.0.1\" "                                           \
	"xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"

START_TEST(clixml_reduced)
{
	/* a whole error record: the position and category lines go */
	char *o = reduce(
	    "#< CLIXML\r\n" OBJS "<Obj S=\"progress\" RefId=\"0\"><TN "
	    "RefId=\"0\"><T>System.Management."
	    "Automation.PSCustomObject</T></TN><MS><I64 N=\"SourceId\">1</I64>"
	    "</MS></Obj>"
	    "<S S=\"Error\">Get-Mailbox : The operation couldn't be performed "
	    "because object 'x' couldn't be found on 'dc01'._x000D__x000A_</S>"
	    "<S S=\"Error\">At line:1 char:1_x000D__x000A_</S>"
	    "<S S=\"Error\">+ Get-Mailbox x_x000D__x000A_</S>"
	    "<S S=\"Error\">+ ~~~~~~~~~~~~~_x000D__x000A_</S>"
	    "<S S=\"Error\">    + CategoryInfo          : NotSpecified: (:) "
	    "[Get-Mailbox], ManagementObjectNotFoundException_x000D__x000A_</S>"
	    "<S S=\"Error\">    + FullyQualifiedErrorId : 5F1A2B,Microsoft."
	    "Exchange.Management.RecipientTasks.GetMailbox_x000D__x000A_</S>"
	    "<S S=\"Error\"> _x000D__x000A_</S>"
	    "<S S=\"Warning\">not this</S></Objs>");
	ck_assert_str_eq(o, "Get-Mailbox : The operation couldn't be performed "
			    "because object 'x' couldn't be found on 'dc01'.");
	free(o);
	/* two documents, each behind its own marker; escapes of any
	 * character, a surrogate pair, a lone surrogate */
	o = reduce("#< CLIXML\r\n" OBJS "<S S=\"Error\">first_x0009_tab"
		   "_x000A_</S></Objs>#< CLIXML\r\n" OBJS
		   "<S S=\"Error\">caf_x00E9_ _xD83D__xDE00_ _xD800_ x_y "
		   "_x12_</S></Objs>");
	ck_assert_str_eq(o, "first\ttab\ncaf\xc3\xa9 \xf0\x9f\x98\x80 "
			    "\xef\xbf\xbd x_y _x12_");
	free(o);
	/* plain stderr as it came */
	o = reduce("plain error\r\n");
	ck_assert_str_eq(o, "plain error\r\n");
	free(o);
	/* not what PowerShell writes: as it came, nothing lost */
	o = reduce("#< CLIXML\r\n<Objs><S S=\"Error\">unclosed");
	ck_assert_str_eq(o, "#< CLIXML\r\n<Objs><S S=\"Error\">unclosed");
	free(o);
	o = reduce("#< CLIXML\r\n<Objs><!DOCTYPE x><S/></Objs>");
	ck_assert_str_eq(o, "#< CLIXML\r\n<Objs><!DOCTYPE x><S/></Objs>");
	free(o);
	/* only progress: nothing */
	o = reduce("#< CLIXML\r\n" OBJS "<Obj S=\"progress\" RefId=\"0\"/>"
		   "</Objs>");
	ck_assert_str_eq(o, "");
	free(o);
}
END_TEST

/* ---- stdin for long scripts --------------------------------------------- */

START_TEST(long_script_on_stdin)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_transport_conf c = {.http = &HTTP,
				      .max_shells = 1,
				      .max_envelope = 51200,
				      .max_output = 1 << 20};
	struct sb_error err;
	struct wr_pool *p = wr_pool_get(&HOST, &c, &err);
	ck_assert_ptr_nonnull(p);
	wr_pool_set_transport(p, fake, NULL);
	/* 12 400 characters: 33 068 of base64, over the limit with the
	 * rest of the command line */
	size_t n = 12400;
	char *script = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		script[i] = (char)('a' + i % 26);
	memcpy(script, "'€", 4);
	script[n] = '\0';
	struct wr_result r;
	bool started = false;
	struct tcall tc = in_ms(30000);
	enum sb_status st = wr_run(p, CALL(&tc), script, n, &r, &started, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	wr_result_free(&r);
	const char *cmd = nth("Command", 0);
	ck_assert_ptr_nonnull(strstr(cmd,
				     "<rsp:Arguments>-Command</rsp:Arguments>"
				     "<rsp:Arguments>-</rsp:Arguments>"));
	ck_assert_ptr_null(strstr(cmd, "EncodedCommand"));
	ck_assert_uint_eq(count("Send"), 1);

	/* a larger one goes in several Sends, End on the last */
	fake_reset();
	n = 100000;
	script = realloc(script, n + 1);
	for (size_t i = 0; i < n; i++)
		script[i] = (char)('a' + i % 26);
	script[n] = '\0';
	st = wr_run(p, CALL(&tc), script, n, &r, &started, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	wr_result_free(&r);
	size_t sends = count("Send");
	ck_assert_uint_ge(sends, 3);
	struct sb_buf in;
	sb_buf_init(&in, 0);
	for (size_t k = 0; k < sends; k++) {
		const char *b = nth("Send", k);
		ck_assert_uint_le(strlen(b), 51200);
		xmlDoc *d = sb_xml_parse(b, strlen(b), 0, &err);
		xmlNode *s =
		    sb_xml_find(sb_soap_body_of(d), SB_NS_WINRS, "Stream");
		ck_assert_str_eq(sb_xml_attr(s, NULL, "Name"), "stdin");
		const char *end = sb_xml_attr(s, NULL, "End");
		if (k + 1 == sends)
			ck_assert_str_eq(end ? end : "", "true");
		else
			ck_assert_ptr_null(end);
		char *t = sb_xml_text(s, 0, &err);
		ck_assert(sb_base64_decode_append(&in, t, strlen(t), 0));
		free(t);
		sb_xml_free(d);
	}
	ck_assert_uint_eq(in.len, n + 4);
	ck_assert_mem_eq(in.data, script, n);
	ck_assert_mem_eq(in.data + n, "\r\n\r\n", 4);
	sb_buf_free(&in);
	free(script);

	/* NUL and invalid UTF-8 never leave */
	fake_reset();
	st = wr_run(p, CALL(&tc), "a\0b", 3, &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_INVALID_INPUT);
	ck_assert(!started);
	st = wr_run(p, CALL(&tc), "a\xff", 2, &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_INVALID_INPUT);
	ck_assert_uint_eq(F.n, 0);
	wr_pool_put(p);
}
END_TEST

/* ---- pools -------------------------------------------------------------- */

struct bg {
	struct wr_pool *p;
	int64_t ms;
	enum sb_status st;
	struct sb_error err;
	pthread_t th;
};

static void *bg_run(void *arg)
{
	struct bg *b = arg;
	struct wr_result r;
	b->st = run(b->p, b->ms, "Get-Mailbox", &r, NULL, &b->err);
	wr_result_free(&r);
	return NULL;
}

static void wait_receivers(int n)
{
	int64_t end = sb_now_ms() + 5000;
	pthread_mutex_lock(&F.mu);
	while (F.waiting < n && sb_now_ms() < end) {
		pthread_mutex_unlock(&F.mu);
		usleep(5000);
		pthread_mutex_lock(&F.mu);
	}
	int w = F.waiting;
	pthread_mutex_unlock(&F.mu);
	ck_assert_int_eq(w, n);
}

static void unblock(void)
{
	pthread_mutex_lock(&F.mu);
	F.block = false;
	pthread_cond_broadcast(&F.cv);
	pthread_mutex_unlock(&F.mu);
}

START_TEST(pool_waits_within_deadline)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	F.block = true;
	struct bg a = {.p = p, .ms = 30000}, b = {.p = p, .ms = 30000};
	pthread_create(&a.th, NULL, bg_run, &a);
	wait_receivers(1);
	pthread_create(&b.th, NULL, bg_run, &b);
	usleep(300000);
	/* b waits for the one shell: no second Create, no Command */
	ck_assert_uint_eq(count("Create"), 1);
	ck_assert_uint_eq(count("Command"), 1);
	unblock();
	pthread_join(a.th, NULL);
	pthread_join(b.th, NULL);
	ck_assert_msg(a.st == SB_OK, "%s", a.err.message);
	ck_assert_msg(b.st == SB_OK, "%s", b.err.message);
	ck_assert_uint_eq(count("Create"), 1);
	ck_assert_uint_eq(count("Command"), 2);
	int open, max;
	wr_pool_stats(p, &open, &max);
	ck_assert_int_eq(max, 1);
	wr_pool_put(p);
}
END_TEST

START_TEST(pool_throttles_at_deadline)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	F.block = true;
	struct bg a = {.p = p, .ms = 30000}, b = {.p = p, .ms = 1800};
	pthread_create(&a.th, NULL, bg_run, &a);
	wait_receivers(1);
	int64_t t0 = sb_now_ms();
	pthread_create(&b.th, NULL, bg_run, &b);
	pthread_join(b.th, NULL);
	int64_t took = sb_now_ms() - t0;
	ck_assert_int_eq(b.st, SB_ERR_THROTTLED);
	ck_assert_int_gt(b.err.retry_after_ms, 0);
	ck_assert_ptr_nonnull(strstr(b.err.message, "no shell free"));
	ck_assert_msg(took >= 500 && took < 1800, "waited %lld ms",
		      (long long)took);
	/* a call cancelled while it waits: timeout, within a second */
	struct tcall tc = in_ms(30000);
	tc.cancel = 1;
	struct wr_result r;
	struct sb_error err;
	t0 = sb_now_ms();
	enum sb_status st = wr_run(p, CALL(&tc), "x", 1, &r, NULL, &err);
	ck_assert_int_eq(st, SB_ERR_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(err.message, "cancelled"));
	ck_assert_int_lt(sb_now_ms() - t0, 1500);
	unblock();
	pthread_join(a.th, NULL);
	ck_assert_int_eq(a.st, SB_OK);
	wr_pool_put(p);
}
END_TEST

START_TEST(too_many_shells_fault)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(3, NULL);
	inject("Create", 1, "93-fault-quota-too-many-shells.xml", 0, SB_OK);
	struct wr_result r;
	struct sb_error err;
	bool started = true;
	enum sb_status st = run(p, 30000, "x", &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_THROTTLED);
	ck_assert(!started);
	ck_assert_int_gt(err.retry_after_ms, 0);
	ck_assert_str_eq(err.code, "2150859174");
	ck_assert_ptr_nonnull(strstr(err.message, "maximum number of 5"));
	int open;
	wr_pool_stats(p, &open, NULL);
	ck_assert_int_eq(open, 0);

	/* with a shell of ours busy, the fault means "wait for it" */
	fake_reset();
	F.block = true;
	struct bg a = {.p = p, .ms = 30000}, b = {.p = p, .ms = 30000};
	pthread_create(&a.th, NULL, bg_run, &a);
	wait_receivers(1);
	inject("Create", 1, "93-fault-quota-too-many-shells.xml", 0, SB_OK);
	pthread_create(&b.th, NULL, bg_run, &b);
	usleep(300000);
	ck_assert_uint_eq(count("Create"), 2);
	unblock();
	pthread_join(a.th, NULL);
	pthread_join(b.th, NULL);
	ck_assert_msg(b.st == SB_OK, "%s", b.err.message);
	ck_assert_uint_eq(count("Create"), 2); /* b took a's shell */
	wr_pool_put(p);
}
END_TEST

START_TEST(forgotten_shell_replaced)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(2, NULL);
	struct wr_result r;
	struct sb_error err;
	bool started;
	ck_assert_int_eq(run(p, 30000, "x", &r, NULL, &err), SB_OK);
	wr_result_free(&r);
	forget_shells(); /* a server restart */
	enum sb_status st = run(p, 30000, "y", &r, &started, &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	ck_assert(started);
	ck_assert_uint_eq(count("Create"), 2);
	ck_assert_uint_eq(count("Command"), 3);
	wr_result_free(&r);
	int open;
	wr_pool_stats(p, &open, NULL);
	ck_assert_int_eq(open, 1);

	/* after the command started, the same fault is an unknown outcome */
	inject("Receive", 1, "91-fault-shell-not-found.xml", 0, SB_OK);
	st = run(p, 30000, "z", &r, &started, &err);
	ck_assert_int_ne(st, SB_OK);
	ck_assert(started);
	ck_assert_str_eq(err.code, "outcome_unknown");
	wr_pool_stats(p, &open, NULL);
	ck_assert_int_eq(open, 0);
	wr_pool_put(p);
}
END_TEST

START_TEST(idle_shell_forgotten)
{
	SKIP_WITHOUT_SAMPLES;
	struct sb_http_conf hc = HTTP;
	struct wr_transport_conf c = {
	    .http = &hc, .max_shells = 1, .shell_idle_ms = 200};
	struct sb_error err;
	struct wr_pool *p = wr_pool_get(&HOST, &c, &err);
	ck_assert_ptr_nonnull(p);
	struct wr_result r;
	ck_assert_int_eq(run(p, 30000, "x", &r, NULL, &err), SB_OK);
	wr_result_free(&r);
	ck_assert_ptr_nonnull(strstr(nth("Create", 0), "PT0.200S"));
	usleep(300000);
	/* idle past its IdleTimeOut: the server reaped it, a new one is
	 * made without asking about the old one */
	ck_assert_int_eq(run(p, 30000, "y", &r, NULL, &err), SB_OK);
	wr_result_free(&r);
	ck_assert_uint_eq(count("Create"), 2);
	ck_assert_uint_eq(count("Command"), 2);
	ck_assert_uint_eq(count("Delete"), 0);
	/* the last put deletes the fresh one only: the other was reaped */
	wr_pool_put(p);
	ck_assert_uint_eq(count("Delete"), 1);
	ck_assert_ptr_nonnull(
	    strstr(nth("Delete", 0), "0A442A7F-4627-43AE-8751-900000000001"));
}
END_TEST

START_TEST(errors_mapped)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *p = pool_with(1, NULL);
	struct wr_result r;
	struct sb_error err;
	bool started = true;
	inject("Create", 1, NULL, 401, SB_OK);
	enum sb_status st = run(p, 30000, "x", &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_UPSTREAM_AUTH);
	ck_assert(!started);
	inject("Create", 1, "92-fault-access-denied.xml", 0, SB_OK);
	st = run(p, 30000, "x", &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_UPSTREAM_DENIED);
	ck_assert_ptr_nonnull(strstr(err.message, "Access is denied."));
	inject("Create", 1, NULL, 0, SB_ERR_UNAVAILABLE);
	st = run(p, 30000, "x", &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_UNAVAILABLE);
	ck_assert(!started);
	/* a Command that went out and got no answer */
	inject("Command", 1, NULL, 0, SB_ERR_TIMEOUT);
	st = run(p, 30000, "x", &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_TIMEOUT);
	ck_assert_str_eq(err.code, "outcome_unknown");
	ck_assert_uint_eq(count("Delete"), 1);
	/* Command refused with access denied: not started, shell kept */
	inject("Command", 1, "92-fault-access-denied.xml", 0, SB_OK);
	st = run(p, 30000, "x", &r, &started, &err);
	ck_assert_int_eq(st, SB_ERR_UPSTREAM_DENIED);
	ck_assert(!started);
	int open;
	wr_pool_stats(p, &open, NULL);
	ck_assert_int_eq(open, 1);
	wr_pool_put(p);
}
END_TEST

START_TEST(reload_generations_share_the_limit)
{
	SKIP_WITHOUT_SAMPLES;
	struct wr_pool *g1 = pool_with(3, NULL);
	struct wr_pool *g2 = pool_with(2, NULL);
	struct wr_pool *other = pool_with(2, "EXAMPLE\\operator");
	F.block = true;
	struct bg c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = (struct bg){.p = i == 1 ? g2 : g1, .ms = 30000};
		pthread_create(&c[i].th, NULL, bg_run, &c[i]);
	}
	wait_receivers(2);
	usleep(200000);
	ck_assert_uint_eq(count("Create"), 2);
	int open, max;
	wr_pool_stats(g1, &open, &max);
	ck_assert_int_eq(open, 2);
	wr_pool_stats(other, &open, NULL);
	ck_assert_int_eq(open, 0); /* another account: another pool */
	unblock();
	for (int i = 0; i < 3; i++) {
		pthread_join(c[i].th, NULL);
		ck_assert_msg(c[i].st == SB_OK, "%s", c[i].err.message);
	}
	wr_pool_stats(g2, &open, &max);
	ck_assert_int_le(max, 2);
	/* the old generation goes: its shells stay for the new one */
	wr_pool_put(g1);
	ck_assert_uint_eq(count("Delete"), 0);
	wr_pool_stats(g2, &open, NULL);
	ck_assert_int_eq(open, 2);
	/* a new generation with a smaller limit trims idle shells */
	struct wr_pool *g3 = pool_with(1, NULL);
	ck_assert_uint_eq(count("Delete"), 1);
	wr_pool_stats(g3, &open, NULL);
	ck_assert_int_eq(open, 1);
	wr_pool_put(g2);
	wr_pool_put(g3);
	ck_assert_uint_eq(count("Delete"), 2);
	wr_pool_put(other);
	ck_assert_int_eq(shells_alive(), 0);

	struct sb_error err;
	struct wr_transport_conf bad = {.http = &HTTP, .max_shells = 0};
	ck_assert_ptr_null(wr_pool_get(&HOST, &bad, &err));
	ck_assert_int_eq(err.status, SB_ERR_INVALID_INPUT);
}
END_TEST

START_TEST(receive_reader)
{
	/* streams of another command are not ours; bad base64 refused */
	const char *env =
	    "<s:Envelope xmlns:s=\"" SB_NS_SOAP12 "\" xmlns:rsp=\"" SB_NS_WINRS
	    "\"><s:Body><rsp:ReceiveResponse>"
	    "<rsp:Stream Name=\"stdout\" CommandId=\"A\">aGk=</rsp:Stream>"
	    "<rsp:Stream Name=\"stdout\" CommandId=\"B\">eHg=</rsp:Stream>"
	    "<rsp:Stream Name=\"stderr\" CommandId=\"a\">ZXJy</rsp:Stream>"
	    "<rsp:CommandState CommandId=\"A\" State=\"http://schemas."
	    "microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done\">"
	    "<rsp:ExitCode>4294967295</rsp:ExitCode></rsp:CommandState>"
	    "</rsp:ReceiveResponse></s:Body></s:Envelope>";
	struct sb_error err;
	xmlDoc *d = sb_xml_parse(env, strlen(env), 0, &err);
	struct wr_recv r;
	memset(&r, 0, sizeof(r));
	sb_buf_init(&r.out, 0);
	sb_buf_init(&r.err, 0);
	r.exit_code = -1;
	ck_assert_int_eq(wr_receive_read(d, "A", &r, &err), SB_OK);
	ck_assert(r.done);
	ck_assert_int_eq(r.exit_code, -1); /* 0xFFFFFFFF */
	ck_assert_uint_eq(r.out.len, 2);
	ck_assert_mem_eq(r.out.data, "hi", 2);
	ck_assert_uint_eq(r.err.len, 3);
	sb_xml_free(d);
	const char *bad =
	    "<s:Envelope xmlns:s=\"" SB_NS_SOAP12 "\" xmlns:rsp=\"" SB_NS_WINRS
	    "\"><s:Body><rsp:ReceiveResponse><rsp:Stream Name=\"stdout\">"
	    "a$b=</rsp:Stream></rsp:ReceiveResponse></s:Body></s:Envelope>";
	d = sb_xml_parse(bad, strlen(bad), 0, &err);
	ck_assert_int_eq(wr_receive_read(d, "A", &r, &err), SB_ERR_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(err.message, "not base64"));
	sb_xml_free(d);
	sb_buf_free(&r.out);
	sb_buf_free(&r.err);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("winrm-transport");
	TCase *tc = tcase_create("transport");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, envelopes);
	tcase_add_test(tc, operation_timeout_below_deadline);
	tcase_add_test(tc, receive_retried_on_timeout_fault);
	tcase_add_test(tc, signal_after_error);
	tcase_add_test(tc, cancelled_between_receives);
	tcase_add_test(tc, split_utf8_joined);
	tcase_add_test(tc, output_cap);
	tcase_add_test(tc, clixml_from_sample);
	tcase_add_test(tc, clixml_reduced);
	tcase_add_test(tc, long_script_on_stdin);
	tcase_add_test(tc, pool_waits_within_deadline);
	tcase_add_test(tc, pool_throttles_at_deadline);
	tcase_add_test(tc, too_many_shells_fault);
	tcase_add_test(tc, forgotten_shell_replaced);
	tcase_add_test(tc, idle_shell_forgotten);
	tcase_add_test(tc, errors_mapped);
	tcase_add_test(tc, reload_generations_share_the_limit);
	tcase_add_test(tc, receive_reader);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	wr_set_test_transport(fake, NULL);
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	fake_reset();
	return failed ? 1 : 0;
}
