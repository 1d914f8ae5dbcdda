/* exchange-ews: the Task object — Create, Load, Update, Complete, Delete,
 * List — over t:Task items of the mailbox's Tasks folder.
 *
 * StartDate and DueDate are dates; Exchange keeps them as the datetime of
 * local midnight in the time zone of the request (TimeZoneContext).  A
 * date is sent as the UTC instant of midnight of that day in the
 * instance's time zone, and a datetime read back is turned into the day
 * it falls on there (rounded to the nearest midnight), so a task's dates
 * come back as they were given whatever the zone's offset.  The offsets
 * come from ICU's zones (ews_zone_open, ews_tz.c): the C library can only
 * convert in the process's own zone. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <svcbroker/pagetoken.h>
#include <svcbroker/schema.h>

#include "ews.h"
#include "ews_calendar.h"
#include "ews_mail.h"

#define ID_MAX 1024
#define SUBJECT_MAX 4096
#define OWNER_MAX 256
#define LIST_MAX 1000 /* rows of one page (the host's PageSize cap) */
#define FIND_MAX 1000 /* entries of one FindItem (Exchange's cap) */
#define FIND_TRIES 4  /* FindItems of one List page */
#define DAY INT64_C(86400)

/* PidLidTaskOwner and PidLidTaskStatus (PSETID_Task): the Owner element
 * is read-only in EWS, its property is not; Status cannot be searched,
 * its property can. */
#define OWNER_PROP "33055"  /* 0x811F */
#define STATUS_PROP "33025" /* 0x8101 */

static enum sb_status out_of_memory(struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
}

/* ---- time zones ---------------------------------------------------------- */

/* The instance's zone (ews_zone_open: ICU's, so that any name the
 * timezone key takes converts task dates). */
struct zone {
	struct ews_zone *z;
};

static void zone_free(struct zone *z)
{
	ews_zone_close(z->z);
	z->z = NULL;
}

static enum sb_status zone_load(struct ews *e, struct zone *z,
				struct sb_error *err)
{
	const char *name = ews_timezone_name(e);
	if (!name || !*name)
		name = "UTC";
	if ((z->z = ews_zone_open(name)))
		return SB_OK;
	return sb_error_set(err, SB_ERR_INTERNAL, "timezone",
			    "timezone %s: ICU has no zone for it, so task "
			    "dates cannot be converted",
			    name);
}

/* The zone's offset at t (0 when ICU cannot tell: never for a zone it
 * opened). */
static int32_t zone_off(const struct zone *z, int64_t t)
{
	int32_t off = 0;
	if (!ews_zone_offset(z->z, t, &off))
		return 0;
	return off;
}

/* Days since 1970-01-01 and back, by the calendar arithmetic of
 * ews_recur.c. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	struct ews_day x = {.y = (int)y, .m = (int)m, .d = (int)d};
	return ews_day_epoch(&x) / DAY;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	struct ews_day x;
	ews_day_of(z * DAY, &x);
	*y = x.y;
	*m = x.m;
	*d = x.d;
}

/* "YYYY-MM-DD" (the host checked the form) -> days since 1970-01-01. */
static bool date_days(const char *s, int64_t *days)
{
	int y, m, d;
	char tail;
	if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
	    y < 1601 || y > 4500 || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	int y2, m2, d2;
	*days = days_from_civil(y, (unsigned)m, (unsigned)d);
	civil_from_days(*days, &y2, &m2, &d2);
	return y2 == y && m2 == m && d2 == d; /* no 30 February */
}

/* Midnight of day `days` in the zone (its first instant when the clock
 * skips midnight), as xs:dateTime in UTC. */
static void date_out(const struct zone *z, int64_t days, char *out, size_t n)
{
	int y, m, d;
	int64_t t;
	civil_from_days(days, &y, &m, &d);
	if (!ews_zone_midnight(z->z, y, m, d, &t)) {
		int64_t local = days * DAY;
		t = local - zone_off(z, local);
		t = local - zone_off(z, t);
	}
	sb_datetime_format(t, out, n);
}

/* An xs:dateTime from EWS -> the date it is in the zone ("" when it is
 * not one). */
static void date_in(const struct zone *z, const char *v, char *out, size_t n)
{
	char rfc[40];
	int64_t t;
	out[0] = 0;
	if (!v || !ews_datetime_read(v, rfc, sizeof(rfc)) ||
	    !sb_datetime_parse(rfc, &t))
		return;
	int64_t local = t + zone_off(z, t) + DAY / 2; /* nearest midnight */
	int64_t days = (local >= 0 ? local : local - DAY + 1) / DAY;
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 1 || y > 9999)
		return;
	snprintf(out, n, "%04d-%02d-%02d", y, m, d);
}

/* ---- reading a task ------------------------------------------------------ */

static const char *const status_names[] = {"NotStarted", "InProgress",
					   "Completed",	 "WaitingOnOthers",
					   "Deferred",	 NULL};

static const char *known(const char *v, const char *const *names)
{
	for (size_t i = 0; v && names[i]; i++)
		if (strcmp(v, names[i]) == 0)
			return names[i];
	return NULL;
}

static const xmlNode *tchild(const xmlNode *n, const char *local)
{
	return sb_xml_child(n, SB_NS_EWS_TYPES, local);
}

/* One t:Task into a row (an answer without its ItemId is refused). */
static enum sb_status task_row(struct sb_result *r, const xmlNode *task,
			       const struct zone *z, struct sb_error *err)
{
	const xmlNode *iid = tchild(task, "ItemId");
	const char *id = iid ? sb_xml_attr(iid, NULL, "Id") : NULL;
	const char *ck = iid ? sb_xml_attr(iid, NULL, "ChangeKey") : NULL;
	if (!id || !*id)
		return sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				    "EWS answered a task without its ItemId");
	char v[64], date[16];
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK)
		st = sb_result_clean_text(r, "Id", id);
	if (st == SB_OK && ck && *ck)
		st = sb_result_clean_text(r, "ChangeKey", ck);
	char *subject = ews_text_clean(tchild(task, "Subject"), false);
	char *body = ews_text_clean(tchild(task, "Body"), true);
	char *owner = ews_text_clean(tchild(task, "Owner"), false);
	if (st == SB_OK && subject)
		st = sb_result_str(r, "Subject", subject);
	if (st == SB_OK && body && *body)
		st = sb_result_str(r, "Body", body);
	if (st == SB_OK && owner && *owner)
		st = sb_result_str(r, "Owner", owner);
	free(subject);
	free(body);
	free(owner);
	const char *names[] = {"StartDate", "DueDate"};
	for (size_t i = 0; st == SB_OK && i < 2; i++) {
		const xmlNode *dn = tchild(task, names[i]);
		if (!dn)
			continue;
		sb_xml_text_copy(dn, v, sizeof(v));
		date_in(z, v, date, sizeof(date));
		if (*date)
			st = sb_result_str(r, names[i], date);
	}
	const char *status = NULL;
	if (tchild(task, "Status")) {
		sb_xml_text_copy(tchild(task, "Status"), v, sizeof(v));
		status = known(v, status_names);
	}
	if (st == SB_OK && status)
		st = sb_result_str(r, "Status", status);
	if (st == SB_OK && tchild(task, "PercentComplete")) {
		sb_xml_text_copy(tchild(task, "PercentComplete"), v, sizeof(v));
		char *end;
		errno = 0;
		double pc = strtod(v, &end);
		/* xs:double: a value outside 0..100 or not a number is left
		 * out */
		if (!errno && end != v && !*end && pc >= 0 && pc <= 100)
			st = sb_result_int(r, "PercentComplete",
					   (int64_t)(pc + 0.5));
	}
	if (st == SB_OK && tchild(task, "Importance")) {
		sb_xml_text_copy(tchild(task, "Importance"), v, sizeof(v));
		const char *imp = known(v, sb_importance_choices);
		if (imp)
			st = sb_result_str(r, "Importance", imp);
	}
	if (st != SB_OK)
		sb_error_set(err, st, NULL, "building the result");
	return st;
}

/* ---- requests ------------------------------------------------------------ */

static const char *const task_fields[] = {
    "item:Subject",   "item:Body",   "item:Importance",
    "task:DueDate",   "task:Owner",  "task:PercentComplete",
    "task:StartDate", "task:Status", NULL};

static void w_get(struct ews_op *op, const char *const *ids, size_t n)
{
	struct sb_xml_w *w = &op->w;
	sb_xml_w_open(w, "m:GetItem");
	sb_xml_w_open(w, "m:ItemShape");
	sb_xml_w_leaf(w, "t:BaseShape", "IdOnly");
	sb_xml_w_leaf(w, "t:BodyType", "Text");
	sb_xml_w_open(w, "t:AdditionalProperties");
	for (size_t i = 0; task_fields[i]; i++) {
		sb_xml_w_open(w, "t:FieldURI");
		sb_xml_w_attr(w, "FieldURI", task_fields[i]);
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:ItemIds");
	for (size_t i = 0; i < n; i++) {
		sb_xml_w_open(w, "t:ItemId");
		sb_xml_w_attr(w, "Id", ids[i]);
		sb_xml_w_close(w);
	}
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

static void w_ext_uri(struct sb_xml_w *w, const char *prop, const char *type)
{
	sb_xml_w_open(w, "t:ExtendedFieldURI");
	sb_xml_w_attr(w, "DistinguishedPropertySetId", "Task");
	sb_xml_w_attr(w, "PropertyId", prop);
	sb_xml_w_attr(w, "PropertyType", type);
	sb_xml_w_close(w);
}

static void w_owner(struct sb_xml_w *w, const char *owner)
{
	sb_xml_w_open(w, "t:ExtendedProperty");
	w_ext_uri(w, OWNER_PROP, "String");
	sb_xml_w_leaf(w, "t:Value", owner);
	sb_xml_w_close(w);
}

static void w_body(struct sb_xml_w *w, const char *body)
{
	sb_xml_w_open(w, "t:Body");
	sb_xml_w_attr(w, "BodyType", "Text");
	sb_xml_w_text(w, body);
	sb_xml_w_close(w);
}

/* What Create and Update were given (NULL: not given). */
struct task_in {
	const char *subject, *body, *importance, *owner, *status;
	char start[32], due[32]; /* xs:dateTime, "" not given */
	int64_t percent;	 /* -1 not given */
	/* Update: removed (named in Clear; Body and Owner also when "") */
	bool no_body, no_owner, no_start, no_due;
};

static enum sb_status task_inputs(const struct sb_call *call,
				  const struct zone *z, struct task_in *in,
				  struct sb_error *err)
{
	memset(in, 0, sizeof(*in));
	in->percent = -1;
	in->subject = sb_call_str(call, "Subject", NULL);
	in->body = sb_call_str(call, "Body", NULL);
	in->importance = sb_call_str(call, "Importance", NULL);
	in->owner = sb_call_str(call, "Owner", NULL);
	in->status = sb_call_str(call, "Status", NULL);
	int64_t sd = 0, dd = 0;
	const char *s = sb_call_str(call, "StartDate", NULL);
	const char *d = sb_call_str(call, "DueDate", NULL);
	if (s && !date_days(s, &sd))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "StartDate: expected YYYY-MM-DD "
				    "(1601..4500)");
	if (d && !date_days(d, &dd))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "DueDate: expected YYYY-MM-DD "
				    "(1601..4500)");
	if (s && d && dd < sd)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "DueDate is before StartDate");
	enum sb_status st = ews_clear_check(call, err);
	if (st != SB_OK)
		return st;
	in->no_body = ews_cleared(call, "Body");
	in->no_owner = ews_cleared(call, "Owner");
	in->no_start = ews_clear_named(call, "StartDate");
	in->no_due = ews_clear_named(call, "DueDate");
	if (s)
		date_out(z, sd, in->start, sizeof(in->start));
	if (d)
		date_out(z, dd, in->due, sizeof(in->due));
	int64_t pc;
	if (sb_call_int(call, "PercentComplete", &pc)) {
		if (pc < 0 || pc > 100)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "PercentComplete: %lld is out of "
					    "range 0..100",
					    (long long)pc);
		in->percent = pc;
	}
	return SB_OK;
}

static void w_create(struct ews_op *op, const struct task_in *in)
{
	struct sb_xml_w *w = &op->w;
	char num[24];
	sb_xml_w_open(w, "m:CreateItem");
	sb_xml_w_attr(w, "MessageDisposition", "SaveOnly");
	sb_xml_w_open(w, "m:SavedItemFolderId");
	ews_w_distinguished(op, "tasks");
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:Items");
	sb_xml_w_open(w, "t:Task");
	/* ItemType's elements, then TaskType's, in the schema's order */
	sb_xml_w_leaf(w, "t:Subject", in->subject ? in->subject : "");
	if (in->body)
		w_body(w, in->body);
	if (in->importance)
		sb_xml_w_leaf(w, "t:Importance", in->importance);
	if (in->owner && *in->owner)
		w_owner(w, in->owner);
	if (*in->due)
		sb_xml_w_leaf(w, "t:DueDate", in->due);
	if (in->percent >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)in->percent);
		sb_xml_w_leaf(w, "t:PercentComplete", num);
	}
	if (*in->start)
		sb_xml_w_leaf(w, "t:StartDate", in->start);
	if (in->status)
		sb_xml_w_leaf(w, "t:Status", in->status);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

static void w_update_head(struct ews_op *op, const char *id, const char *ck)
{
	struct sb_xml_w *w = &op->w;
	bool with_ck = ck && *ck;
	sb_xml_w_open(w, "m:UpdateItem");
	sb_xml_w_attr(w, "ConflictResolution",
		      with_ck ? "NeverOverwrite" : "AlwaysOverwrite");
	sb_xml_w_open(w, "m:ItemChanges");
	sb_xml_w_open(w, "t:ItemChange");
	sb_xml_w_open(w, "t:ItemId");
	sb_xml_w_attr(w, "Id", id);
	if (with_ck)
		sb_xml_w_attr(w, "ChangeKey", ck);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "t:Updates");
}

static void w_update_tail(struct ews_op *op)
{
	sb_xml_w_close(&op->w); /* t:Updates */
	sb_xml_w_close(&op->w); /* t:ItemChange */
	sb_xml_w_close(&op->w); /* m:ItemChanges */
	sb_xml_w_close(&op->w); /* m:UpdateItem */
}

/* <t:SetItemField><t:FieldURI/><t:Task><t:local>text</t:local></t:Task> */
static void w_set(struct sb_xml_w *w, const char *uri, const char *leaf,
		  const char *text)
{
	sb_xml_w_open(w, "t:SetItemField");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", uri);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "t:Task");
	sb_xml_w_leaf(w, leaf, text);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

static void w_delete_field(struct sb_xml_w *w, const char *uri)
{
	sb_xml_w_open(w, "t:DeleteItemField");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", uri);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

/* The changes of Update, in an order where the given Status wins over
 * what a PercentComplete implies. */
static unsigned w_changes(struct sb_xml_w *w, const struct task_in *in)
{
	unsigned n = 0;
	char num[24];
	if (in->subject) {
		w_set(w, "item:Subject", "t:Subject", in->subject);
		n++;
	}
	if (in->no_body) {
		w_delete_field(w, "item:Body");
		n++;
	} else if (in->body) {
		sb_xml_w_open(w, "t:SetItemField");
		sb_xml_w_open(w, "t:FieldURI");
		sb_xml_w_attr(w, "FieldURI", "item:Body");
		sb_xml_w_close(w);
		sb_xml_w_open(w, "t:Task");
		w_body(w, in->body);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		n++;
	}
	if (in->importance) {
		w_set(w, "item:Importance", "t:Importance", in->importance);
		n++;
	}
	if (in->no_owner) {
		sb_xml_w_open(w, "t:DeleteItemField");
		w_ext_uri(w, OWNER_PROP, "String");
		sb_xml_w_close(w);
		n++;
	} else if (in->owner) {
		sb_xml_w_open(w, "t:SetItemField");
		w_ext_uri(w, OWNER_PROP, "String");
		sb_xml_w_open(w, "t:Task");
		w_owner(w, in->owner);
		sb_xml_w_close(w);
		sb_xml_w_close(w);
		n++;
	}
	if (in->no_start) {
		w_delete_field(w, "task:StartDate");
		n++;
	} else if (*in->start) {
		w_set(w, "task:StartDate", "t:StartDate", in->start);
		n++;
	}
	if (in->no_due) {
		w_delete_field(w, "task:DueDate");
		n++;
	} else if (*in->due) {
		w_set(w, "task:DueDate", "t:DueDate", in->due);
		n++;
	}
	if (in->percent >= 0) {
		snprintf(num, sizeof(num), "%lld", (long long)in->percent);
		w_set(w, "task:PercentComplete", "t:PercentComplete", num);
		n++;
	}
	if (in->status) {
		w_set(w, "task:Status", "t:Status", in->status);
		n++;
	}
	return n;
}

/* The ItemId of the first item of a CreateItem/UpdateItem answer. */
static const char *answer_id(const xmlNode *msg)
{
	const xmlNode *iid =
	    sb_xml_child(ews_items_first(msg), SB_NS_EWS_TYPES, "ItemId");
	const char *id = iid ? sb_xml_attr(iid, NULL, "Id") : NULL;
	return id && *id ? id : NULL;
}

/* GetItem of one task into a row of r. */
static enum sb_status load_row(struct ews *e, const struct sb_call *call,
			       const char *mailbox, const char *id,
			       const struct zone *z, struct sb_result *r,
			       struct sb_error *err)
{
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	const char *ids[] = {id};
	w_get(&op, ids, 1);
	xmlNode *msg = NULL;
	enum sb_status st = ews_op_run(&op, err);
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	const xmlNode *item = st == SB_OK ? ews_items_first(msg) : NULL;
	if (st == SB_OK && !item)
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "GetItem answered without the task");
	if (st == SB_OK && !sb_xml_is(item, SB_NS_EWS_TYPES, "Task"))
		st = sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				  "Id: that item is not a task");
	if (st == SB_OK)
		st = task_row(r, item, z, err);
	ews_op_free(&op);
	return st;
}

/* ---- methods ------------------------------------------------------------- */

static enum sb_status task_create(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	struct zone z = {0};
	struct task_in in;
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = zone_load(e, &z, err);
	if (st == SB_OK)
		st = task_inputs(call, &z, &in, err);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		w_create(&op, &in);
		st = ews_op_run(&op, err);
	}
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	const char *id = st == SB_OK ? answer_id(msg) : NULL;
	if (st == SB_OK && !id)
		st = sb_error_set(err, SB_ERR_UPSTREAM, "invalid_response",
				  "EWS created the task without answering "
				  "its Id");
	/* the task as Exchange keeps it (Status and PercentComplete made
	 * consistent by the server) */
	if (st == SB_OK)
		st = load_row(e, call, op.mailbox, id, &z, r, err);
	ews_op_free(&op);
	zone_free(&z);
	return st;
}

static enum sb_status task_load(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	struct zone z = {0};
	const char *id = sb_call_str(call, "Id", NULL);
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	if (st == SB_OK)
		st = zone_load(e, &z, err);
	if (st == SB_OK)
		st = load_row(e, call, op.mailbox, id, &z, r, err);
	ews_op_free(&op);
	zone_free(&z);
	return st;
}

/* Update and Complete: one UpdateItem (NeverOverwrite with a ChangeKey:
 * a stale one answers ErrorIrresolvableConflict, 409), then the task. */
static enum sb_status update(struct ews *e, const struct sb_call *call,
			     bool complete, struct sb_result *r,
			     struct sb_error *err)
{
	struct ews_op op;
	struct zone z = {0};
	struct task_in in;
	const char *id = sb_call_str(call, "Id", NULL);
	const char *ck = sb_call_str(call, "ChangeKey", NULL);
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = ews_check_id("Id", id, err);
	if (st == SB_OK && ck && *ck)
		st = ews_check_id("ChangeKey", ck, err);
	if (st == SB_OK)
		st = zone_load(e, &z, err);
	if (st == SB_OK && !complete)
		st = task_inputs(call, &z, &in, err);
	xmlNode *msg = NULL;
	if (st == SB_OK) {
		w_update_head(&op, id, ck);
		if (complete) {
			char now[32];
			sb_datetime_format((int64_t)time(NULL), now,
					   sizeof(now));
			w_set(&op.w, "task:CompleteDate", "t:CompleteDate",
			      now);
			w_set(&op.w, "task:PercentComplete",
			      "t:PercentComplete", "100");
			w_set(&op.w, "task:Status", "t:Status", "Completed");
		} else if (!w_changes(&op.w, &in)) {
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "nothing to change: give at least "
					  "one of Subject, Body, StartDate, "
					  "DueDate, Status, PercentComplete, "
					  "Importance, Owner, Clear");
		}
		w_update_tail(&op);
	}
	if (st == SB_OK)
		st = ews_op_run(&op, err);
	if (st == SB_OK)
		st = ews_op_first_status(&op, &msg, err);
	if (st == SB_OK)
		st = load_row(e, call, op.mailbox,
			      answer_id(msg) ? answer_id(msg) : id, &z, r, err);
	ews_op_free(&op);
	zone_free(&z);
	return st;
}

static enum sb_status task_update(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return update(state, call, false, r, err);
}

static enum sb_status task_complete(void *state, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	return update(state, call, true, r, err);
}

static enum sb_status task_delete(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	return ews_item_delete(state, call, "AffectedTaskOccurrences",
			       "AllOccurrences", r, err);
}

/* ---- List ---------------------------------------------------------------- */

/* PidLidTaskStatus's value of a status name. */
static int status_number(const char *s)
{
	for (int i = 0; status_names[i]; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return -1;
}

/* FindItem of the tasks folder: newest first (DateTimeCreated), created
 * before the second after the position's anchor, of one status. */
static void w_find(struct ews_op *op, unsigned max, const char *status,
		   const struct ews_page_pos *pos)
{
	struct sb_xml_w *w = &op->w;
	char num[24], when[32];
	sb_xml_w_open(w, "m:FindItem");
	sb_xml_w_attr(w, "Traversal", "Shallow");
	sb_xml_w_open(w, "m:ItemShape");
	sb_xml_w_leaf(w, "t:BaseShape", "IdOnly");
	sb_xml_w_open(w, "t:AdditionalProperties");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", "item:DateTimeCreated");
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:IndexedPageItemView");
	snprintf(num, sizeof(num), "%u", max);
	sb_xml_w_attr(w, "MaxEntriesReturned", num);
	sb_xml_w_attr(w, "Offset", "0");
	sb_xml_w_attr(w, "BasePoint", "Beginning");
	sb_xml_w_close(w);
	bool by_time = pos && pos->have;
	if (status || by_time) {
		sb_xml_w_open(w, "m:Restriction");
		if (status && by_time)
			sb_xml_w_open(w, "t:And");
		if (status) {
			snprintf(num, sizeof(num), "%d", status_number(status));
			sb_xml_w_open(w, "t:IsEqualTo");
			w_ext_uri(w, STATUS_PROP, "Integer");
			sb_xml_w_open(w, "t:FieldURIOrConstant");
			sb_xml_w_open(w, "t:Constant");
			sb_xml_w_attr(w, "Value", num);
			sb_xml_w_close(w);
			sb_xml_w_close(w);
			sb_xml_w_close(w);
		}
		if (by_time) {
			sb_datetime_format(pos->received + 1, when,
					   sizeof(when));
			sb_xml_w_open(w, "t:IsLessThan");
			sb_xml_w_open(w, "t:FieldURI");
			sb_xml_w_attr(w, "FieldURI", "item:DateTimeCreated");
			sb_xml_w_close(w);
			sb_xml_w_open(w, "t:FieldURIOrConstant");
			sb_xml_w_open(w, "t:Constant");
			sb_xml_w_attr(w, "Value", when);
			sb_xml_w_close(w);
			sb_xml_w_close(w);
			sb_xml_w_close(w);
		}
		if (status && by_time)
			sb_xml_w_close(w);
		sb_xml_w_close(w);
	}
	sb_xml_w_open(w, "m:SortOrder");
	sb_xml_w_open(w, "t:FieldOrder");
	sb_xml_w_attr(w, "Order", "Descending");
	sb_xml_w_open(w, "t:FieldURI");
	sb_xml_w_attr(w, "FieldURI", "item:DateTimeCreated");
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_close(w);
	sb_xml_w_open(w, "m:ParentFolderIds");
	ews_w_distinguished(op, "tasks");
	sb_xml_w_close(w);
	sb_xml_w_close(w);
}

struct found {
	char **ids;
	int64_t *created; /* -1: unreadable */
	size_t n;
};

static void found_free(struct found *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->ids[i]);
	free(f->ids);
	free(f->created);
	memset(f, 0, sizeof(*f));
}

/* One FindItem: up to size new Ids into f; *more when more remain. */
static enum sb_status find_page(struct ews_op *op, unsigned want, size_t size,
				const char *status,
				const struct ews_page_pos *pos, struct found *f,
				bool *more, struct sb_error *err)
{
	*more = false;
	w_find(op, want, status, pos);
	xmlNode *msg = NULL;
	enum sb_status st = ews_op_run(op, err);
	if (st == SB_OK)
		st = ews_op_first_status(op, &msg, err);
	if (st != SB_OK)
		return st;
	xmlNode *root = ews_find_root(msg, more, err);
	if (!root)
		return err->status;
	f->ids = calloc(size, sizeof(*f->ids));
	f->created = calloc(size, sizeof(*f->created));
	if (!f->ids || !f->created)
		return out_of_memory(err);
	xmlNode *items = sb_xml_child(root, SB_NS_EWS_TYPES, "Items");
	for (xmlNode *it = sb_xml_first_element(items); it;
	     it = sb_xml_next_element(it)) {
		if (f->n == size) {
			*more = true;
			break;
		}
		const xmlNode *iid = tchild(it, "ItemId");
		const char *id = iid ? sb_xml_attr(iid, NULL, "Id") : NULL;
		if (!id || !*id || strlen(id) >= ID_MAX)
			continue; /* one odd item never fails a List */
		if (pos->have && ews_page_pos_seen(pos, id))
			continue;
		char v[64], rfc[40];
		int64_t t = -1;
		const xmlNode *dc = tchild(it, "DateTimeCreated");
		if (dc) {
			sb_xml_text_copy(dc, v, sizeof(v));
			if (!ews_datetime_read(v, rfc, sizeof(rfc)) ||
			    !sb_datetime_parse(rfc, &t))
				t = -1;
		}
		if (!(f->ids[f->n] = strdup(id)))
			return out_of_memory(err);
		f->created[f->n++] = t;
	}
	return SB_OK;
}

/* The rows of the Ids found, with one GetItem; a task gone meanwhile (or
 * not readable as one) is left out. */
static enum sb_status page_rows(struct ews *e, const struct sb_call *call,
				const char *mailbox, const struct found *f,
				const struct zone *z, struct sb_result *r,
				struct sb_error *err)
{
	if (!f->n)
		return SB_OK;
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	w_get(&op, (const char *const *)f->ids, f->n);
	enum sb_status st = ews_op_run(&op, err);
	for (xmlNode *m = st == SB_OK ? ews_op_first(&op) : NULL;
	     m && st == SB_OK; m = ews_op_next(m)) {
		struct sb_error ignored;
		if (ews_message_status(m, &ignored) != SB_OK)
			continue;
		xmlNode *item = ews_items_first(m);
		if (!item || !sb_xml_is(item, SB_NS_EWS_TYPES, "Task") ||
		    !tchild(item, "ItemId"))
			continue;
		st = task_row(r, item, z, err);
	}
	ews_op_free(&op);
	return st;
}

static enum sb_status task_list(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op op;
	struct zone z = {0};
	struct found f = {0};
	struct ews_page_pos pos = {0};
	const char *status = sb_call_str(call, "Status", NULL);
	if (status && status_number(status) < 0)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Status: not one of NotStarted, "
				    "InProgress, Completed, WaitingOnOthers, "
				    "Deferred");
	int64_t size = sb_call_page_size(call);
	if (size < 1 || size > LIST_MAX)
		size = size < 1 ? 1 : LIST_MAX;
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	if (st == SB_OK)
		st = zone_load(e, &z, err);
	const char *bind[] = {"Task.List", op.mailbox, status};
	const char *token = sb_call_page_token(call);
	if (st == SB_OK && token) {
		struct sb_buf b;
		sb_buf_init(&b, SB_PAGE_TOKEN_POS_MAX + 1);
		st = sb_page_token_read(token, bind, 3, &b, err);
		if (st == SB_OK &&
		    !ews_page_pos_decode((const unsigned char *)b.data, b.len,
					 &pos))
			st = sb_error_set(err, SB_ERR_INVALID_INPUT,
					  SB_PAGE_TOKEN_CODE,
					  "PageToken: not a position of this "
					  "listing");
		sb_buf_free(&b);
	}
	unsigned want = (unsigned)size + pos.n_seen;
	bool more = false;
	for (unsigned tries = 0; st == SB_OK; tries++) {
		if (tries) {
			found_free(&f);
			ews_op_free(&op);
			ews_op_init(&op, e, call, 0);
			st = ews_op_mailbox(&op, err);
			if (st != SB_OK)
				break;
		}
		st = find_page(&op, want, (size_t)size, status, &pos, &f, &more,
			       err);
		if (st != SB_OK || f.n || !more)
			break;
		if (want >= FIND_MAX || tries == FIND_TRIES) {
			st = sb_error_set(err, SB_ERR_UPSTREAM,
					  "invalid_response",
					  "Task.List: FindItem answered %u "
					  "entries without a readable new "
					  "task, and more remain",
					  want);
			break;
		}
		want = want * 4 > FIND_MAX ? FIND_MAX : want * 4;
	}
	if (st == SB_OK)
		st = page_rows(e, call, op.mailbox, &f, &z, r, err);
	if (st == SB_OK && more && f.n) {
		struct ews_page_pos next;
		ews_page_pos_advance(&pos, (const char *const *)f.ids,
				     f.created, f.n, &next);
		unsigned char enc[SB_PAGE_TOKEN_POS_MAX];
		size_t len = ews_page_pos_encode(&next, enc, sizeof(enc));
		char *tok = len ? sb_page_token_new(bind, 3, enc, len) : NULL;
		if (!tok)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "cannot make a page token");
		else
			st = sb_result_next_page(r, tok);
		free(tok);
	}
	found_free(&f);
	ews_op_free(&op);
	zone_free(&z);
	return st;
}

/* ---- the table ----------------------------------------------------------- */

#define P_ID                                                                   \
	{                                                                      \
		.name = "Id", .type = SB_TYPE_TEXT, .flags = SB_REQUIRED,      \
		.max_size = ID_MAX, .doc = "Id of the task (EWS ItemId)."      \
	}
#define P_CHANGEKEY                                                            \
	{                                                                      \
		.name = "ChangeKey", .type = SB_TYPE_TEXT, .max_size = ID_MAX, \
		.doc = "The ChangeKey the task was read with: if it has "      \
		       "changed since, 409 conflict and the task is left as "  \
		       "it is (empty: no check)."                              \
	}
#define P_FIELDS(subject_flags)                                                \
	{.name = "Subject",                                                    \
	 .type = SB_TYPE_TEXT,                                                 \
	 .flags = subject_flags,                                               \
	 .max_size = SUBJECT_MAX,                                              \
	 .doc = "Title of the task."},                                         \
	    {.name = "Body",                                                   \
	     .type = SB_TYPE_MEMO,                                             \
	     .max_size = 1024 * 512,                                           \
	     .doc = "Description (plain text)."},                              \
	    {.name = "StartDate",                                              \
	     .type = SB_TYPE_DATE,                                             \
	     .doc = "The day work on the task starts."},                       \
	    {.name = "DueDate",                                                \
	     .type = SB_TYPE_DATE,                                             \
	     .doc = "Due date; not before StartDate."},                        \
	    {.name = "Status",                                                 \
	     .type = SB_TYPE_ENUM,                                             \
	     .choices = sb_task_status_choices,                                \
	     .doc = "Progress state (default NotStarted)."},                   \
	    {.name = "PercentComplete",                                        \
	     .type = SB_TYPE_NUMBER,                                           \
	     .doc = "0..100 (default 0; 100 when Status is Completed)."},      \
	    {.name = "Importance",                                             \
	     .type = SB_TYPE_ENUM,                                             \
	     .choices = sb_importance_choices,                                 \
	     .doc = "Low, Normal or High (default Normal)."},                  \
	{                                                                      \
		.name = "Owner", .type = SB_TYPE_TEXT, .max_size = OWNER_MAX,  \
		.doc = "Name of the person responsible."                       \
	}

static const struct sb_param create_in[] = {
    P_FIELDS(SB_REQUIRED),
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const char *const task_clear_choices[] = {"Body", "StartDate", "DueDate",
						 "Owner", NULL};
static const struct sb_param update_in[] = {
    P_ID,
    P_CHANGEKEY,
    P_FIELDS(0),
    {.name = "Clear",
     .type = SB_TYPE_ENUM,
     .flags = SB_MULTI,
     .choices = task_clear_choices,
     .doc = "Properties to remove, as an empty value does: Body, "
	    "StartDate, DueDate (DeleteItemField of task:StartDate, "
	    "task:DueDate), Owner.  A property both given a value and named "
	    "here is refused."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param id_in[] = {
    P_ID,
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param complete_in[] = {
    P_ID,
    P_CHANGEKEY,
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const struct sb_param list_in[] = {
    {.name = "Status",
     .type = SB_TYPE_ENUM,
     .choices = sb_task_status_choices,
     .doc = "Only tasks in this state."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};

static const char *const task_ret[] = {
    "Id",     "ChangeKey",	 "Subject",    "Body",	"StartDate", "DueDate",
    "Status", "PercentComplete", "Importance", "Owner", NULL};
static const char *const id_ret[] = {"Id", NULL};

const struct sb_method ews_task_methods[] = {
    {.name = "Create",
     .kind = SB_KIND_CREATE,
     .handler = task_create,
     .doc = "Create a task in the mailbox's Tasks folder.",
     .inputs = create_in,
     .returns = task_ret},
    {.name = "Load",
     .kind = SB_KIND_READ,
     .handler = task_load,
     .doc = "Load one task.",
     .inputs = id_in,
     .returns = task_ret},
    {.name = "Update",
     .kind = SB_KIND_UPDATE,
     .handler = task_update,
     .doc = "Change the properties given (an empty Body or Owner, or a "
	    "property named in Clear, is removed); with ChangeKey, a task "
	    "changed since answers 409.",
     .inputs = update_in,
     .returns = task_ret},
    {.name = "Complete",
     .kind = SB_KIND_UPDATE,
     .handler = task_complete,
     .doc = "Mark a task completed (Status Completed, PercentComplete "
	    "100, the completion date now).",
     .inputs = complete_in,
     .returns = task_ret},
    {.name = "Delete",
     .kind = SB_KIND_DELETE,
     .handler = task_delete,
     .doc = "Delete a task (moved to Deleted Items, as Outlook does); with "
	    "a ChangeKey, only if it has not changed since.",
     .inputs = complete_in,
     .returns = id_ret},
    {.name = "List",
     .kind = SB_KIND_LIST,
     .handler = task_list,
     .doc = "List the tasks of the Tasks folder, newest first.",
     .inputs = list_in,
     .returns = task_ret},
    SB_METHOD_END,
};
