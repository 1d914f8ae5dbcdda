/* exchange-ews broker — AutomaticReply (Load, Save):
 * GetUserOofSettings and SetUserOofSettings. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/schema.h>

#include "ews.h"

#define REPLY_MAX (128 * 1024)

static const char *const state_choices[] = {"Disabled", "Enabled", "Scheduled",
					    NULL};
static const char *const audience_choices[] = {"None", "Known", "All", NULL};

struct oof {
	char state[16];
	char audience[16];
	char start[40], end[40];
	char *internal, *external;
};

static void oof_clear(struct oof *o)
{
	free(o->internal);
	free(o->external);
	memset(o, 0, sizeof(*o));
}

/* The mailbox the settings are of: the Mailbox input, else the
 * instance's own address. */
static enum sb_status oof_address(struct ews_op *op, const char **addr,
				  struct sb_error *err)
{
	enum sb_status st = ews_op_mailbox(op, err);
	if (st != SB_OK)
		return st;
	*addr = op->mailbox ? op->mailbox : ews_account(op->e);
	if (!*addr)
		return sb_error_set(
		    err, SB_ERR_INVALID_INPUT, NULL,
		    "Mailbox: the instance's own address is not known "
		    "(username is not an address and there is no "
		    "autodiscover_email); give the Mailbox");
	return SB_OK;
}

static void write_mailbox(struct ews_op *op, const char *addr)
{
	sb_xml_w_open(&op->w, "t:Mailbox");
	sb_xml_w_leaf(&op->w, "t:Address", addr);
	sb_xml_w_close(&op->w);
}

/* The m:ResponseMessage of an OOF answer (they have no
 * ResponseMessages). */
static enum sb_status oof_message(const struct ews_op *op, struct sb_error *err)
{
	xmlNode *m =
	    sb_xml_child(op->response, SB_NS_EWS_MESSAGES, "ResponseMessage");
	return ews_message_status(m, err);
}

static char *reply_text(const xmlNode *settings, const char *which)
{
	xmlNode *rb = sb_xml_child(settings, SB_NS_EWS_TYPES, which);
	xmlNode *msg = sb_xml_child(rb, SB_NS_EWS_TYPES, "Message");
	if (!msg)
		return NULL;
	struct sb_error err;
	return sb_xml_text(msg, REPLY_MAX * 8, &err);
}

static enum sb_status oof_get(struct ews *e, const struct sb_call *call,
			      struct ews_op *in, const char *addr,
			      struct oof *o, struct sb_error *err)
{
	struct ews_op op;
	memset(o, 0, sizeof(*o));
	ews_op_init(&op, e, call, 0);
	op.mailbox = in->mailbox;
	sb_xml_w_open(&op.w, "m:GetUserOofSettingsRequest");
	write_mailbox(&op, addr);
	sb_xml_w_close(&op.w);
	enum sb_status st = ews_op_run(&op, err);
	if (st == SB_OK)
		st = oof_message(&op, err);
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	xmlNode *s = sb_xml_child(op.response, SB_NS_EWS_TYPES, "OofSettings");
	char buf[64];
	if (ews_child_text(s, "OofState", buf, sizeof(buf)))
		for (size_t i = 0; state_choices[i]; i++)
			if (strcmp(buf, state_choices[i]) == 0)
				snprintf(o->state, sizeof(o->state), "%s",
					 state_choices[i]);
	if (ews_child_text(s, "ExternalAudience", buf, sizeof(buf)))
		for (size_t i = 0; audience_choices[i]; i++)
			if (strcmp(buf, audience_choices[i]) == 0)
				snprintf(o->audience, sizeof(o->audience), "%s",
					 audience_choices[i]);
	xmlNode *d = sb_xml_child(s, SB_NS_EWS_TYPES, "Duration");
	if (ews_child_text(d, "StartTime", buf, sizeof(buf)) &&
	    !ews_datetime_read(buf, o->start, sizeof(o->start)))
		o->start[0] = '\0';
	if (ews_child_text(d, "EndTime", buf, sizeof(buf)) &&
	    !ews_datetime_read(buf, o->end, sizeof(o->end)))
		o->end[0] = '\0';
	o->internal = reply_text(s, "InternalReply");
	o->external = reply_text(s, "ExternalReply");
	ews_op_free(&op);
	if (!s)
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "GetUserOofSettings answered without "
				    "OofSettings");
	return SB_OK;
}

static enum sb_status oof_row(struct sb_result *r, const struct oof *o)
{
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK && o->state[0])
		st = sb_result_str(r, "State", o->state);
	if (st == SB_OK && o->audience[0])
		st = sb_result_str(r, "ExternalAudience", o->audience);
	if (st == SB_OK)
		st = sb_result_clean_memo(r, "InternalReply",
					  o->internal ? o->internal : "");
	if (st == SB_OK)
		st = sb_result_clean_memo(r, "ExternalReply",
					  o->external ? o->external : "");
	if (st == SB_OK && o->start[0])
		st = sb_result_str(r, "Start", o->start);
	if (st == SB_OK && o->end[0])
		st = sb_result_str(r, "End", o->end);
	return st;
}

static enum sb_status oof_load(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op in;
	const char *addr = NULL;
	struct oof o;
	memset(&o, 0, sizeof(o));
	ews_op_init(&in, e, call, 0);
	enum sb_status st = oof_address(&in, &addr, err);
	if (st == SB_OK)
		st = oof_get(e, call, &in, addr, &o, err);
	if (st == SB_OK)
		st = oof_row(r, &o);
	oof_clear(&o);
	ews_op_free(&in);
	return st;
}

/* An input datetime as EWS takes it (UTC, "Z"). */
static bool utc_of(const char *in, char *out, size_t n, int64_t *epoch)
{
	if (!sb_datetime_parse(in, epoch))
		return false;
	sb_datetime_format(*epoch, out, n);
	return true;
}

static enum sb_status oof_save(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op in;
	const char *addr = NULL;
	struct oof o;
	memset(&o, 0, sizeof(o));
	ews_op_init(&in, e, call, 0);
	enum sb_status st = oof_address(&in, &addr, err);
	const char *st_in = sb_call_str(call, "State", NULL);
	const char *aud_in = sb_call_str(call, "ExternalAudience", NULL);
	const char *int_in = sb_call_str(call, "InternalReply", NULL);
	const char *ext_in = sb_call_str(call, "ExternalReply", NULL);
	const char *start_in = sb_call_str(call, "Start", NULL);
	const char *end_in = sb_call_str(call, "End", NULL);
	char start[40] = "", end[40] = "";
	int64_t t0 = 0, t1 = 0;
	/* checked before any request */
	if (st == SB_OK && start_in &&
	    !utc_of(start_in, start, sizeof(start), &t0))
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "Start: not a date-time with an offset");
	if (st == SB_OK && end_in && !utc_of(end_in, end, sizeof(end), &t1))
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "End: not a date-time with an offset");
	if (st == SB_OK && start_in && end_in && t1 <= t0)
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "End: must be after Start");
	/* what the call leaves out stays as it is */
	if (st == SB_OK)
		st = oof_get(e, call, &in, addr, &o, err);
	if (st != SB_OK)
		goto out;
	if (st_in)
		snprintf(o.state, sizeof(o.state), "%s", st_in);
	if (aud_in)
		snprintf(o.audience, sizeof(o.audience), "%s", aud_in);
	if (start_in)
		snprintf(o.start, sizeof(o.start), "%s", start);
	if (end_in)
		snprintf(o.end, sizeof(o.end), "%s", end);
	if (int_in) {
		free(o.internal);
		o.internal = strdup(int_in);
		if (!o.internal)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
	}
	if (ext_in && st == SB_OK) {
		free(o.external);
		o.external = strdup(ext_in);
		if (!o.external)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
	}
	if (st != SB_OK)
		goto out;
	if (!o.state[0])
		snprintf(o.state, sizeof(o.state), "Disabled");
	if (!o.audience[0])
		snprintf(o.audience, sizeof(o.audience), "All");
	if (strcmp(o.state, "Scheduled") == 0) {
		int64_t a, b;
		if (!o.start[0] || !o.end[0]) {
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "Start, End: State Scheduled needs "
					  "both");
			goto out;
		}
		if (!sb_datetime_parse(o.start, &a) ||
		    !sb_datetime_parse(o.end, &b) || b <= a) {
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "End: must be after Start");
			goto out;
		}
	}
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = in.mailbox;
	sb_xml_w_open(&op.w, "m:SetUserOofSettingsRequest");
	write_mailbox(&op, addr);
	sb_xml_w_open(&op.w, "t:UserOofSettings");
	sb_xml_w_leaf(&op.w, "t:OofState", o.state);
	sb_xml_w_leaf(&op.w, "t:ExternalAudience", o.audience);
	if (o.start[0] && o.end[0]) {
		char a[40], b[40];
		int64_t x, y;
		sb_datetime_parse(o.start, &x);
		sb_datetime_parse(o.end, &y);
		sb_datetime_format(x, a, sizeof(a));
		sb_datetime_format(y, b, sizeof(b));
		sb_xml_w_open(&op.w, "t:Duration");
		sb_xml_w_leaf(&op.w, "t:StartTime", a);
		sb_xml_w_leaf(&op.w, "t:EndTime", b);
		sb_xml_w_close(&op.w);
	}
	sb_xml_w_open(&op.w, "t:InternalReply");
	sb_xml_w_leaf(&op.w, "t:Message", o.internal ? o.internal : "");
	sb_xml_w_close(&op.w);
	sb_xml_w_open(&op.w, "t:ExternalReply");
	sb_xml_w_leaf(&op.w, "t:Message", o.external ? o.external : "");
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	st = ews_op_run(&op, err);
	if (st == SB_OK)
		st = oof_message(&op, err);
	ews_op_free(&op);
	if (st == SB_OK)
		st = oof_row(r, &o);
out:
	oof_clear(&o);
	ews_op_free(&in);
	return st;
}

const struct sb_property ews_oof_properties[] = {
    {.name = "State",
     .type = SB_TYPE_ENUM,
     .choices = state_choices,
     .doc = "Disabled, Enabled (until turned off) or Scheduled (between "
	    "Start and End)."},
    {.name = "ExternalAudience",
     .type = SB_TYPE_ENUM,
     .choices = audience_choices,
     .doc = "Who outside the organisation gets ExternalReply: None, Known "
	    "(senders in the mailbox's contacts) or All."},
    {.name = "InternalReply",
     .type = SB_TYPE_MEMO,
     .doc = "The reply to senders inside the organisation (Exchange keeps "
	    "it as HTML)."},
    {.name = "ExternalReply",
     .type = SB_TYPE_MEMO,
     .doc = "The reply to senders outside it."},
    {.name = "Start",
     .type = SB_TYPE_DATETIME,
     .doc = "Scheduled: when the replies start."},
    {.name = "End",
     .type = SB_TYPE_DATETIME,
     .doc = "Scheduled: when they end."},
    SB_PROPERTY_END,
};

static const struct sb_param load_in[] = {SB_PARAM_MAILBOX, SB_PARAM_END};
static const struct sb_param save_in[] = {
    {.name = "State",
     .type = SB_TYPE_ENUM,
     .choices = state_choices,
     .doc = "Disabled, Enabled or Scheduled (needs Start and End, given "
	    "or already set)."},
    {.name = "ExternalAudience",
     .type = SB_TYPE_ENUM,
     .choices = audience_choices,
     .doc = "None, Known or All."},
    {.name = "InternalReply",
     .type = SB_TYPE_MEMO,
     .max_size = REPLY_MAX,
     .doc = "The reply to senders inside the organisation."},
    {.name = "ExternalReply",
     .type = SB_TYPE_MEMO,
     .max_size = REPLY_MAX,
     .doc = "The reply to senders outside it."},
    {.name = "Start", .type = SB_TYPE_DATETIME, .doc = "Scheduled: start."},
    {.name = "End", .type = SB_TYPE_DATETIME, .doc = "Scheduled: end."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const char *const oof_ret[] = {"State",
				      "ExternalAudience",
				      "InternalReply",
				      "ExternalReply",
				      "Start",
				      "End",
				      NULL};

const struct sb_method ews_oof_methods[] = {
    {.name = "Load",
     .kind = SB_KIND_READ,
     .handler = oof_load,
     .doc = "The mailbox's automatic-reply settings.",
     .inputs = load_in,
     .returns = oof_ret},
    {.name = "Save",
     .kind = SB_KIND_UPDATE,
     .handler = oof_save,
     .doc = "Change the automatic-reply settings; what the call leaves out "
	    "stays as it is.  Returns the settings saved.",
     .inputs = save_in,
     .returns = oof_ret},
    SB_METHOD_END,
};
