/* mapi-stub: the Task object — Create, Load, Update, Complete, Delete, List
 * over iCalendar VTODO files in the mailbox's Tasks/ directory. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <svcbroker/call.h>
#include <svcbroker/schema.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

struct task {
	char *id, *subject, *body, *owner;
	char status[24];    /* one of sb_task_status_choices */
	char importance[8]; /* Low, Normal, High */
	char ck[MAPI_CHANGEKEY_LEN + 1];
	int64_t start, due; /* epoch of the date; INT64_MIN: none */
	int64_t percent;
	int64_t created;
	int64_t completed; /* INT64_MIN: not completed */
};

static void task_free(struct task *t)
{
	free(t->id);
	free(t->subject);
	free(t->body);
	free(t->owner);
	memset(t, 0, sizeof *t);
}

/* Status <-> RFC 5545 STATUS; the exact name is kept in an X- property
 * because iCalendar has no WaitingOnOthers or Deferred. */
static enum icalproperty_status ical_status(const char *st)
{
	if (strcmp(st, "InProgress") == 0)
		return ICAL_STATUS_INPROCESS;
	if (strcmp(st, "Completed") == 0)
		return ICAL_STATUS_COMPLETED;
	return ICAL_STATUS_NEEDSACTION;
}

static const char *from_ical_status(const char *v)
{
	if (v && strcasecmp(v, "IN-PROCESS") == 0)
		return "InProgress";
	if (v && strcasecmp(v, "COMPLETED") == 0)
		return "Completed";
	return "NotStarted";
}

static int priority_of(const char *imp)
{
	if (strcmp(imp, "High") == 0)
		return 1;
	if (strcmp(imp, "Low") == 0)
		return 9;
	return 5;
}

static char *task_ics(const struct task *t)
{
	icalcomponent *cal = mapi_ical_calendar();
	icalcomponent *c = icalcomponent_new(ICAL_VTODO_COMPONENT);
	icalcomponent_add_component(cal, c);
	bool ok = mapi_ical_add_text(c, ICAL_UID_PROPERTY, t->id) &&
		  mapi_ical_add_time(c, ICAL_DTSTAMP_PROPERTY, time(NULL),
				     false, NULL, NULL) &&
		  mapi_ical_add_time(c, ICAL_CREATED_PROPERTY, t->created,
				     false, NULL, NULL);
	if (ok && t->subject)
		ok = mapi_ical_add_text(c, ICAL_SUMMARY_PROPERTY, t->subject);
	if (ok && t->body)
		ok = mapi_ical_add_text(c, ICAL_DESCRIPTION_PROPERTY, t->body);
	if (ok && t->start != INT64_MIN)
		ok = mapi_ical_add_time(c, ICAL_DTSTART_PROPERTY, t->start,
					true, NULL, NULL);
	if (ok && t->due != INT64_MIN)
		ok = mapi_ical_add_time(c, ICAL_DUE_PROPERTY, t->due, true,
					NULL, NULL);
	icalcomponent_add_property(
	    c, icalproperty_new_status(ical_status(t->status)));
	ok = ok && mapi_ical_add_x(c, "X-SVCBROKER-STATUS", t->status);
	icalcomponent_add_property(
	    c, icalproperty_new_percentcomplete((int)t->percent));
	icalcomponent_add_property(
	    c, icalproperty_new_priority(priority_of(t->importance)));
	if (ok && t->owner)
		ok = mapi_ical_add_x(c, "X-SVCBROKER-OWNER", t->owner);
	if (ok && t->completed != INT64_MIN)
		ok = mapi_ical_add_time(c, ICAL_COMPLETED_PROPERTY,
					t->completed, false, NULL, NULL);
	char *text = ok ? mapi_ical_text(cal) : NULL;
	icalcomponent_free(cal);
	mapi_ical_release();
	return text;
}

static int64_t date_prop(icalcomponent *cal, icalcomponent *c,
			 icalproperty_kind kind)
{
	int64_t t;
	bool is_date;
	if (!mapi_ical_time_of(cal, icalcomponent_get_first_property(c, kind),
			       &t, &is_date, NULL))
		return INT64_MIN;
	return t - (t % 86400 + 86400) % 86400; /* the date of it */
}

static bool valid_status(const char *s)
{
	for (size_t i = 0; sb_task_status_choices[i]; i++)
		if (strcmp(s, sb_task_status_choices[i]) == 0)
			return true;
	return false;
}

static enum sb_status task_parse(const char *text, const char *id,
				 struct task *t, struct sb_error *err)
{
	memset(t, 0, sizeof *t);
	const char *why = NULL;
	icalcomponent *cal = mapi_ical_parse(text, strlen(text), &why);
	icalcomponent *c =
	    cal ? icalcomponent_get_first_component(cal, ICAL_VTODO_COMPONENT)
		: NULL;
	if (!c) {
		if (cal)
			icalcomponent_free(cal);
		return sb_error_set(err, SB_ERR_INTERNAL, "ErrorCorruptData",
				    "task %s: unreadable iCalendar data (%s)",
				    id, why ? why : "no VTODO");
	}
	t->id = strdup(id);
	t->subject = mapi_ical_text_of(c, ICAL_SUMMARY_PROPERTY);
	t->body = mapi_ical_text_of(c, ICAL_DESCRIPTION_PROPERTY);
	t->owner = mapi_ical_x_of(c, "X-SVCBROKER-OWNER");
	t->start = date_prop(cal, c, ICAL_DTSTART_PROPERTY);
	t->due = date_prop(cal, c, ICAL_DUE_PROPERTY);
	char *xs = mapi_ical_x_of(c, "X-SVCBROKER-STATUS");
	char *sv = mapi_ical_text_of(c, ICAL_STATUS_PROPERTY);
	snprintf(t->status, sizeof t->status, "%s",
		 xs && valid_status(xs) ? xs : from_ical_status(sv));
	free(xs);
	free(sv);
	t->percent = 0;
	icalproperty *pc =
	    icalcomponent_get_first_property(c, ICAL_PERCENTCOMPLETE_PROPERTY);
	if (pc) {
		int v = icalproperty_get_percentcomplete(pc);
		if (v >= 0 && v <= 100)
			t->percent = v;
	}
	icalproperty *pr =
	    icalcomponent_get_first_property(c, ICAL_PRIORITY_PROPERTY);
	int prio = pr ? icalproperty_get_priority(pr) : 0;
	snprintf(t->importance, sizeof t->importance, "%s",
		 prio >= 1 && prio <= 4	  ? "High"
		 : prio >= 6 && prio <= 9 ? "Low"
					  : "Normal");
	bool is_date;
	if (!mapi_ical_time_of(
		cal, icalcomponent_get_first_property(c, ICAL_CREATED_PROPERTY),
		&t->created, &is_date, NULL))
		t->created = 0;
	if (!mapi_ical_time_of(
		cal,
		icalcomponent_get_first_property(c, ICAL_COMPLETED_PROPERTY),
		&t->completed, &is_date, NULL))
		t->completed = INT64_MIN;
	icalcomponent_free(cal);
	if (!t->id) {
		task_free(t);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	}
	return SB_OK;
}

static void date_str(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%d", &tm);
}

static void task_row(struct sb_result *r, const struct task *t)
{
	char d[16];
	sb_result_row(r);
	sb_result_str(r, "Id", t->id);
	if (t->ck[0])
		sb_result_str(r, "ChangeKey", t->ck);
	sb_result_clean_text(r, "Subject", t->subject);
	sb_result_clean_memo(r, "Body", t->body);
	if (t->start != INT64_MIN) {
		date_str(t->start, d, sizeof d);
		sb_result_str(r, "StartDate", d);
	}
	if (t->due != INT64_MIN) {
		date_str(t->due, d, sizeof d);
		sb_result_str(r, "DueDate", d);
	}
	sb_result_str(r, "Status", t->status);
	sb_result_int(r, "PercentComplete", t->percent);
	sb_result_str(r, "Importance", t->importance);
	sb_result_clean_text(r, "Owner", t->owner);
}

static bool date_in(const char *s, int64_t *out)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%d", &tm) : NULL;
	if (!end || *end)
		return false;
	int mday = tm.tm_mday;
	*out = (int64_t)timegm(&tm);
	/* Years an iCalendar date here can carry; no 30 February. */
	return tm.tm_mday == mday && *out >= MAPI_EPOCH_MIN &&
	       *out <= MAPI_EPOCH_MAX;
}

/* Status and PercentComplete after a change of a task that was at
 * (old_status, old_pc), as Complete keeps them: Completed goes with 100
 * and only with 100.  Given both, they must agree; given one, the other
 * follows (100 completes the task; below 100 a completed task is in
 * progress again, or not started at 0, and above 0 a task not started is
 * in progress; a Status other than Completed takes a 100% task back to
 * 0).  Create applies it to a new task (NotStarted, 0). */
static enum sb_status status_rule(const struct sb_call *call,
				  const char *old_status, int64_t old_pc,
				  char *st_new, size_t st_len, int64_t *pc_out,
				  struct sb_error *err)
{
	const char *status = sb_call_str(call, "Status", NULL);
	if (status && !valid_status(status))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Status: \"%.40s\" is not a task status",
				    status);
	int64_t pc = old_pc;
	bool pc_given = sb_call_int(call, "PercentComplete", &pc);
	if (pc_given && (pc < 0 || pc > 100))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "PercentComplete: %lld is out of range "
				    "0..100",
				    (long long)pc);
	if (status && pc_given &&
	    (strcmp(status, "Completed") == 0) != (pc == 100))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Status %s and PercentComplete %lld "
				    "disagree: Completed goes with 100 and "
				    "only with 100",
				    status, (long long)pc);
	snprintf(st_new, st_len, "%s", status ? status : old_status);
	if (status) {
		if (strcmp(status, "Completed") == 0)
			pc = 100;
		else if (!pc_given && pc == 100)
			pc = 0;
	} else if (pc_given) {
		if (pc == 100)
			snprintf(st_new, st_len, "Completed");
		else if (strcmp(old_status, "Completed") == 0)
			snprintf(st_new, st_len, "%s",
				 pc > 0 ? "InProgress" : "NotStarted");
		else if (pc > 0 && strcmp(old_status, "NotStarted") == 0)
			snprintf(st_new, st_len, "InProgress");
	}
	*pc_out = pc;
	return SB_OK;
}

static enum sb_status task_create(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	struct task t = {
	    .start = INT64_MIN, .due = INT64_MIN, .completed = INT64_MIN};
	const char *v;
	if ((v = sb_call_str(call, "StartDate", NULL)) && !date_in(v, &t.start))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "StartDate: expected YYYY-MM-DD");
	if ((v = sb_call_str(call, "DueDate", NULL)) && !date_in(v, &t.due))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "DueDate: expected YYYY-MM-DD");
	if (t.start != INT64_MIN && t.due != INT64_MIN && t.due < t.start)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "DueDate is before StartDate");
	int64_t pc = 0;
	enum sb_status sst = status_rule(call, "NotStarted", 0, t.status,
					 sizeof t.status, &pc, err);
	if (sst != SB_OK)
		return sst;
	snprintf(t.importance, sizeof t.importance, "%s",
		 sb_call_str(call, "Importance", "Normal"));
	t.percent = pc;
	t.created = time(NULL);
	if (strcmp(t.status, "Completed") == 0) {
		t.percent = 100;
		t.completed = t.created;
	}
	char uuid[37];
	if (!sb_uuid4(uuid))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no random bytes for an Id");
	t.id = uuid;
	t.subject = (char *)sb_call_str(call, "Subject", NULL);
	t.body = (char *)sb_call_str(call, "Body", NULL);
	t.owner = (char *)sb_call_str(call, "Owner", NULL);
	char *text = task_ics(&t);
	enum sb_status st = text ? mapi_ics_store(s, mb, MAPI_TASKS, uuid, text,
						  false, t.ck, err)
				 : sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
						NULL, "task too large");
	if (st == SB_OK)
		task_row(r, &t);
	free(text);
	return st;
}

/* Copies kept by ChangeKey (mapi_cache.c). */
static void *task_copy(const void *v)
{
	const struct task *t = v;
	struct task *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	*c = *t;
	c->id = t->id ? strdup(t->id) : NULL;
	c->subject = t->subject ? strdup(t->subject) : NULL;
	c->body = t->body ? strdup(t->body) : NULL;
	c->owner = t->owner ? strdup(t->owner) : NULL;
	if ((t->id && !c->id) || (t->subject && !c->subject) ||
	    (t->body && !c->body) || (t->owner && !c->owner)) {
		task_free(c);
		free(c);
		return NULL;
	}
	return c;
}

static void task_release(void *v)
{
	task_free(v);
	free(v);
}

static struct mapi_cache task_cache = MAPI_CACHE_INIT(task_copy, task_release);

__attribute__((destructor)) static void task_cache_fini(void)
{
	mapi_cache_clear(&task_cache);
}

static enum sb_status task_load(struct mapi_mailbox *mb, const char *id,
				struct task *t, struct sb_error *err)
{
	char *text, ck[MAPI_CHANGEKEY_LEN + 1];
	enum sb_status st =
	    mapi_ics_load(mb, MAPI_TASKS, id, "task", &text, ck, err);
	if (st != SB_OK)
		return st;
	struct task *hit = mapi_cache_get(&task_cache, ck);
	if (hit) {
		*t = *hit;
		free(hit);
		free(text);
		return SB_OK;
	}
	st = task_parse(text, id, t, err);
	mapi_ical_release();
	if (st == SB_OK) {
		memcpy(t->ck, ck, sizeof ck);
		mapi_cache_put(&task_cache, ck, t, strlen(text) + sizeof *t);
	}
	free(text);
	return st;
}

static enum sb_status task_complete(struct mapi_store *s,
				    struct mapi_mailbox *mb, const char *id,
				    const char *want_ck, struct sb_result *r,
				    struct sb_error *err)
{
	struct task t;
	/* Read-modify-write under the mailbox's .ics lock so a Complete and
	 * a Delete (or two Completes) do not interleave, and the ChangeKey
	 * compared is the one of the version written over. */
	pthread_mutex_lock(&mb->ics_lock);
	enum sb_status st = task_load(mb, id, &t, err);
	if (st == SB_OK && want_ck && *want_ck && strcmp(want_ck, t.ck) != 0) {
		st = sb_error_set(err, SB_ERR_CONFLICT,
				  "ErrorIrresolvableConflict",
				  "task %s has changed since that ChangeKey "
				  "was read: Load it again",
				  id);
		task_free(&t);
	}
	if (st != SB_OK) {
		pthread_mutex_unlock(&mb->ics_lock);
		return st;
	}
	snprintf(t.status, sizeof t.status, "Completed");
	t.percent = 100;
	if (t.completed == INT64_MIN)
		t.completed = time(NULL);
	char *text = task_ics(&t);
	if (!text)
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	else
		st = mapi_ics_store(s, mb, MAPI_TASKS, id, text, true, t.ck,
				    err);
	pthread_mutex_unlock(&mb->ics_lock);
	if (st == SB_OK)
		task_row(r, &t);
	free(text);
	task_free(&t);
	return st;
}

/* Update: the given properties changed, the others kept; Status and
 * PercentComplete by status_rule. */
static enum sb_status task_apply(struct task *t, const struct sb_call *call,
				 struct sb_error *err)
{
	static const char *const names[] = {"Subject", "Body", "StartDate",
					    "DueDate", "Owner"};
	enum mapi_change ch[5];
	for (size_t i = 0; i < 5; i++) {
		enum sb_status st = mapi_change_of(call, names[i], &ch[i], err);
		if (st != SB_OK)
			return st;
	}
	int64_t start = t->start, due = t->due;
	if (ch[2] == MAPI_SET &&
	    !date_in(sb_call_str(call, "StartDate", ""), &start))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "StartDate: expected YYYY-MM-DD");
	if (ch[3] == MAPI_SET &&
	    !date_in(sb_call_str(call, "DueDate", ""), &due))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "DueDate: expected YYYY-MM-DD");
	if (ch[2] == MAPI_CLEAR)
		start = INT64_MIN;
	if (ch[3] == MAPI_CLEAR)
		due = INT64_MIN;
	if (start != INT64_MIN && due != INT64_MIN && due < start)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "DueDate is before StartDate");
	char st_new[sizeof t->status];
	int64_t pc;
	enum sb_status sst = status_rule(call, t->status, t->percent, st_new,
					 sizeof st_new, &pc, err);
	if (sst != SB_OK)
		return sst;

	/* The checks are done: the task is changed. */
	char **text[] = {&t->subject, &t->body, NULL, NULL, &t->owner};
	for (size_t i = 0; i < 5; i++) {
		if (!text[i] || ch[i] == MAPI_KEEP)
			continue;
		char *nv = NULL;
		if (ch[i] == MAPI_SET &&
		    !(nv = strdup(sb_call_str(call, names[i], ""))))
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "out of memory");
		free(*text[i]);
		*text[i] = nv;
	}
	t->start = start;
	t->due = due;
	snprintf(t->status, sizeof t->status, "%s", st_new);
	t->percent = pc;
	if (strcmp(t->status, "Completed") != 0)
		t->completed = INT64_MIN;
	else if (t->completed == INT64_MIN)
		t->completed = time(NULL);
	const char *imp = sb_call_str(call, "Importance", NULL);
	if (imp)
		snprintf(t->importance, sizeof t->importance, "%s", imp);
	return SB_OK;
}

static enum sb_status task_update(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	const char *id = sb_call_str(call, "Id", "");
	struct task t;
	char *text = NULL;
	/* Read, compare, change and write under the mailbox's .ics lock, as
	 * Complete does: of two Updates given the same ChangeKey exactly one
	 * is written, the other finds the key stale. */
	pthread_mutex_lock(&mb->ics_lock);
	enum sb_status st = task_load(mb, id, &t, err);
	if (st == SB_OK) {
		st = mapi_change_key_check(sb_call_str(call, "ChangeKey", NULL),
					   t.ck, "task", id, err);
		if (st == SB_OK)
			st = task_apply(&t, call, err);
		if (st == SB_OK && !(text = task_ics(&t)))
			st = sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE, NULL,
					  "task %s: the updated item is too "
					  "large",
					  id);
		if (st == SB_OK)
			st = mapi_ics_store(s, mb, MAPI_TASKS, id, text, true,
					    t.ck, err);
		if (st == SB_OK)
			task_row(r, &t);
		task_free(&t);
	}
	pthread_mutex_unlock(&mb->ics_lock);
	free(text);
	return st;
}

struct list_ctx {
	struct task *items;
};

static enum sb_status list_row(void *vctx, size_t index, struct sb_result *r,
			       struct sb_error *err)
{
	(void)err;
	struct list_ctx *c = vctx;
	task_row(r, &c->items[index]);
	return SB_OK;
}

static enum sb_status task_list(struct mapi_store *s, struct mapi_mailbox *mb,
				const struct sb_call *call, struct sb_result *r,
				struct sb_error *err)
{
	const char *want = sb_call_str(call, "Status", NULL);
	char **ids;
	size_t n;
	if (mapi_ics_ids(mb, MAPI_TASKS, &ids, &n) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot list the tasks of %s: %s",
				    mb->address, strerror(errno));
	struct list_ctx c = {.items = calloc(n + 1, sizeof *c.items)};
	struct mapi_sortkey *k = calloc(n + 1, sizeof *k);
	char *scope = NULL;
	enum sb_status st = SB_OK;
	size_t m = 0, bad = 0;
	if (!c.items || !k ||
	    asprintf(&scope, "Task|%s|%s", mb->address, want ? want : "") < 0) {
		scope = NULL;
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct sb_error e2;
		struct task t;
		sb_error_clear(&e2);
		if (task_load(mb, ids[i], &t, &e2) != SB_OK) {
			/* Deleted meanwhile, or unreadable: skipped (and
			 * reported). */
			if (e2.status != SB_ERR_NOT_FOUND)
				bad++;
			continue;
		}
		if (want && strcmp(want, t.status) != 0) {
			task_free(&t);
			continue;
		}
		c.items[m] = t;
		k[m].key = t.due == INT64_MIN ? INT64_MAX : t.due;
		k[m].id = c.items[m].id;
		k[m].index = m;
		m++;
	}
	if (bad)
		mapi_report_skipped(s, mb, MAPI_TASKS, bad);
	mapi_sort(k, m);
	size_t start;
	st =
	    mapi_page_start(k, m, scope, sb_call_page_token(call), &start, err);
	if (st == SB_OK)
		st = mapi_page_emit(k, m, start, call, r, scope, list_row, &c,
				    err);
out:
	for (size_t i = 0; i < m; i++)
		task_free(&c.items[i]);
	free(c.items);
	free(k);
	free(scope);
	mapi_names_free(ids, n);
	return st;
}

static enum sb_status task_load_one(struct mapi_store *s,
				    struct mapi_mailbox *mb,
				    const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	(void)s;
	struct task t;
	enum sb_status st = task_load(mb, sb_call_str(call, "Id", ""), &t, err);
	if (st == SB_OK) {
		task_row(r, &t);
		task_free(&t);
	}
	return st;
}

static enum sb_status task_complete_one(struct mapi_store *s,
					struct mapi_mailbox *mb,
					const struct sb_call *call,
					struct sb_result *r,
					struct sb_error *err)
{
	return task_complete(s, mb, sb_call_str(call, "Id", ""),
			     sb_call_str(call, "ChangeKey", NULL), r, err);
}

static enum sb_status task_delete(struct mapi_store *s, struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	(void)s;
	const char *id = sb_call_str(call, "Id", "");
	enum sb_status st =
	    mapi_ics_delete_if(mb, MAPI_TASKS, id, "task",
			       sb_call_str(call, "ChangeKey", NULL), err);
	if (st == SB_OK) {
		sb_result_row(r);
		sb_result_str(r, "Id", id);
	}
	return st;
}

MAPI_MAILBOX_HANDLER(mapi_task_create, task_create)
MAPI_MAILBOX_HANDLER(mapi_task_list, task_list)
MAPI_MAILBOX_HANDLER(mapi_task_load, task_load_one)
MAPI_MAILBOX_HANDLER(mapi_task_complete, task_complete_one)
MAPI_MAILBOX_HANDLER(mapi_task_delete, task_delete)
MAPI_MAILBOX_HANDLER(mapi_task_update, task_update)
