/* mapi-stub: sending, in the spirit of a mail queue.
 *
 * A Send is first recorded in the sender's Outbox (fsynced), then delivered
 * to the Inbox of every local recipient, then moved to Sent Items.  At open,
 * anything left in an Outbox is delivered again.  Deliveries are keyed by
 * Message-ID: the file name of a delivered copy is derived from (Message-ID,
 * recipient), and it is written with link() so it can never be written
 * twice, so a repeated delivery finds the copy already there. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/call.h>
#include <svcbroker/mime.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

struct outcome {
	struct sb_buf accepted; /* NUL-separated */
	struct sb_buf rejected;
	size_t n_acc, n_rej;
};

static void note_ok(struct outcome *o, const char *rcpt)
{
	sb_buf_puts(&o->accepted, rcpt);
	sb_buf_append(&o->accepted, "", 1);
	o->n_acc++;
}

static void note_rej(struct outcome *o, const char *rcpt, const char *why)
{
	sb_buf_printf(&o->rejected, "%s: %s", rcpt, why);
	sb_buf_append(&o->rejected, "", 1);
	o->n_rej++;
}

/* True if an item with this unique name is anywhere in mb: the recipient
 * may have read, moved or soft-deleted the copy before the Send that
 * delivered it was finished. */
static bool delivered(struct mapi_mailbox *mb, const char *uniq)
{
	char path[MAPI_PATH_MAX];
	struct mapi_entry e = {0};
	bool found = mapi_item_find(mb, NULL, uniq, path, sizeof path, NULL, 0,
				    &e, NULL) == SB_OK;
	free(e.file);
	free(e.id);
	return found;
}

/* Deliver raw to one recipient.  recovering: check for an earlier copy
 * that the recipient may already have read (renamed into cur/). */
static void deliver_one(struct mapi_store *s, const char *rcpt, const char *raw,
			size_t len, const char *message_id, bool recovering,
			struct outcome *o)
{
	struct mapi_mailbox *to = mapi_mailbox_find(s, rcpt);
	if (!to) {
		note_rej(o, rcpt, "no such mailbox in this store");
		return;
	}
	char uniq[40];
	mapi_unique_for(message_id, to->address, "inbox", uniq);
	if (recovering && delivered(to, uniq)) {
		note_ok(o, rcpt);
		return;
	}
	struct sb_error err;
	sb_error_clear(&err);
	if (mapi_quota_reserve(s, to, (int64_t)len, &err) != SB_OK) {
		note_rej(o, rcpt, "mailbox full (ErrorQuotaExceeded)");
		return;
	}
	char dir[MAPI_PATH_MAX];
	enum sb_status st = SB_ERR_INTERNAL;
	bool placed = false;
	if (mapi_path(dir, sizeof dir, "%s/%s", to->dir, MAPI_INBOX))
		st = mapi_write_atomic(dir, "new", uniq, raw, len, true,
				       &placed, &err);
	if (st == SB_ERR_CONFLICT) {
		/* Already delivered (an earlier attempt). */
		mapi_quota_release(to, (int64_t)len);
		st = SB_OK;
	}
	if (st != SB_OK) {
		/* placed: only the directory's fsync failed; the copy is in
		 * the Inbox and counts */
		if (!placed)
			mapi_quota_release(to, (int64_t)len);
		s->host->log(s->host, SB_LOG_ERROR, "delivery of %s to %s: %s",
			     message_id, rcpt, err.message);
		note_rej(o, rcpt, "delivery failed (store error)");
		return;
	}
	note_ok(o, rcpt);
}

/* Deliver to every distinct recipient (case-insensitive). */
static void deliver_all(struct mapi_store *s, const char *raw, size_t len,
			const char *message_id, const char *const *rcpt,
			size_t n, bool recovering, struct outcome *o)
{
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcasecmp(rcpt[i], rcpt[j]) == 0;
		if (!dup)
			deliver_one(s, rcpt[i], raw, len, message_id,
				    recovering, o);
	}
}

/* Move the Outbox record <uniq> to Sent Items (read). */
static enum sb_status to_sent(struct mapi_mailbox *mb, const char *uniq,
			      const char *file, struct sb_error *err)
{
	char src[MAPI_PATH_MAX], dst[MAPI_PATH_MAX], sdir[MAPI_PATH_MAX],
	    ddir[MAPI_PATH_MAX];
	if (!mapi_path(sdir, sizeof sdir, "%s/%s/new", mb->dir, MAPI_OUTBOX) ||
	    !mapi_path(src, sizeof src, "%s/%s", sdir, file) ||
	    !mapi_path(ddir, sizeof ddir, "%s/%s/cur", mb->dir, MAPI_SENT) ||
	    !mapi_path(dst, sizeof dst, "%s/%s:2,S", ddir, uniq))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "path too long");
	if (rename(src, dst) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot move %s to Sent Items: %s", src,
				    strerror(errno));
	mapi_fsync_dir(ddir);
	mapi_fsync_dir(sdir);
	return SB_OK;
}

static const char **envelope(const struct mapi_send *env, size_t *n)
{
	*n = env->n_to + env->n_cc + env->n_bcc;
	const char **v = calloc(*n + 1, sizeof *v);
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < env->n_to; i++)
		v[k++] = env->to[i];
	for (size_t i = 0; i < env->n_cc; i++)
		v[k++] = env->cc[i];
	for (size_t i = 0; i < env->n_bcc; i++)
		v[k++] = env->bcc[i];
	return v;
}

/* The sender's copy: a Bcc line (if any) in front of the message. */
static bool record_of(const char *raw, size_t len, const struct mapi_send *env,
		      struct sb_buf *out)
{
	if (env->n_bcc) {
		sb_buf_puts(out, "Bcc:");
		size_t col = 4;
		for (size_t i = 0; i < env->n_bcc; i++) {
			size_t l = strlen(env->bcc[i]);
			if (i > 0) {
				sb_buf_puts(out, ",");
				col++;
			}
			if (i > 0 && col + 1 + l > 76) {
				sb_buf_puts(out, "\n");
				col = 0;
			}
			sb_buf_puts(out, " ");
			sb_buf_puts(out, env->bcc[i]);
			col += 1 + l;
		}
		sb_buf_puts(out, "\n");
	}
	sb_buf_append(out, raw, len);
	return !out->failed;
}

/* The delivered form of a record: without its leading Bcc field. */
static size_t strip_bcc(const char *rec, size_t len)
{
	if (len < 4 || strncasecmp(rec, "Bcc:", 4) != 0)
		return 0;
	size_t i = 0;
	for (;;) {
		const char *nl = memchr(rec + i, '\n', len - i);
		if (!nl)
			return 0;
		i = (size_t)(nl - rec) + 1;
		if (i >= len || (rec[i] != ' ' && rec[i] != '\t'))
			return i;
	}
}

static void add_outcome(struct sb_result *r, struct outcome *o)
{
	sb_result_empty(r, "Accepted");
	sb_result_empty(r, "Rejected");
	for (size_t i = 0, off = 0; i < o->n_acc; i++) {
		const char *a = o->accepted.data + off;
		sb_result_str(r, "Accepted", a);
		off += strlen(a) + 1;
	}
	for (size_t i = 0, off = 0; i < o->n_rej; i++) {
		const char *a = o->rejected.data + off;
		sb_result_str(r, "Rejected", a);
		off += strlen(a) + 1;
	}
}

enum sb_status mapi_outbox_send(struct mapi_store *s, struct mapi_mailbox *mb,
				const char *raw, size_t len,
				const char *message_id,
				const struct mapi_send *env,
				struct sb_result *r, char *id_out,
				size_t id_len, struct sb_error *err)
{
	struct sb_buf rec;
	sb_buf_init(&rec, 0);
	struct outcome o = {0};
	sb_buf_init(&o.accepted, 0);
	sb_buf_init(&o.rejected, 0);
	size_t n = 0;
	const char **rcpt = envelope(env, &n);
	enum sb_status st = SB_OK;
	if (!rcpt || !record_of(raw, len, env, &rec)) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	if (n == 0) {
		st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				  "To: at least one recipient is required");
		goto out;
	}
	char uniq[40], dir[MAPI_PATH_MAX];
	mapi_unique_for(message_id, mb->address, "sent", uniq);
	st = mapi_quota_reserve(s, mb, (int64_t)rec.len, err);
	if (st != SB_OK)
		goto out;
	if (!mapi_path(dir, sizeof dir, "%s/%s", mb->dir, MAPI_OUTBOX)) {
		mapi_quota_release(mb, (int64_t)rec.len);
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "path too long");
		goto out;
	}
	/* 1. durable record */
	bool placed;
	st = mapi_write_atomic(dir, "new", uniq, rec.data, rec.len, true,
			       &placed, err);
	if (st != SB_OK) {
		if (!placed)
			mapi_quota_release(mb, (int64_t)rec.len);
		if (st == SB_ERR_CONFLICT)
			st = sb_error_set(err, SB_ERR_CONFLICT, NULL,
					  "a message with Message-ID %s is "
					  "already being sent",
					  message_id);
		goto out;
	}
	/* 2. deliveries */
	deliver_all(s, raw, len, message_id, rcpt, n, false, &o);
	/* 3. Sent Items.  If this fails, the record stays in the Outbox and
	 * the next start finishes it: the message is delivered already. */
	struct sb_error merr;
	sb_error_clear(&merr);
	if (to_sent(mb, uniq, uniq, &merr) != SB_OK)
		s->host->log(s->host, SB_LOG_ERROR, "%s", merr.message);
	if (o.accepted.failed || o.rejected.failed) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	if (r)
		add_outcome(r, &o);
	mapi_path(id_out, id_len, "%s", uniq);
out:
	free(rcpt);
	sb_buf_free(&rec);
	sb_buf_free(&o.accepted);
	sb_buf_free(&o.rejected);
	return st;
}

/* Finish one Outbox record (file in Outbox/new or cur). */
static void recover_one(struct mapi_store *s, struct mapi_mailbox *mb,
			const char *path, const struct mapi_entry *e)
{
	char *rec = NULL;
	size_t len = 0;
	if (mapi_read_file(path, (size_t)s->max_message_size * 2 + 65536, &rec,
			   &len) < 0) {
		s->host->log(s->host, SB_LOG_ERROR,
			     "cannot read Outbox item %s: %s", path,
			     strerror(errno));
		return;
	}
	size_t skip = strip_bcc(rec, len);
	const char *raw = rec + skip;
	size_t rlen = len - skip;
	struct sb_mime_parsed p;
	struct sb_error err;
	sb_error_clear(&err);
	char *msgid = sb_mime_header(rec, len, "Message-ID");
	if (!msgid || sb_mime_parse(raw, rlen, &p, &err) != SB_OK) {
		s->host->log(s->host, SB_LOG_ERROR,
			     "Outbox item %s is not a message (%s); left in "
			     "place",
			     path, msgid ? err.message : "no Message-ID");
		free(msgid);
		free(rec);
		return;
	}
	/* Trim the Message-ID as written. */
	char *m = msgid;
	while (isspace((unsigned char)*m))
		m++;
	size_t ml = strlen(m);
	while (ml && isspace((unsigned char)m[ml - 1]))
		m[--ml] = '\0';
	/* Envelope: To, Cc and the record's Bcc line. */
	char **bcc = NULL;
	size_t n_bcc = 0;
	if (skip) {
		char *bv = sb_mime_header(rec, len, "Bcc");
		if (bv && sb_mime_addresses(bv, &bcc, &n_bcc, NULL) != SB_OK)
			n_bcc = 0;
		free(bv);
	}
	size_t n = p.n_to + p.n_cc + n_bcc;
	const char **rcpt = calloc(n + 1, sizeof *rcpt);
	struct outcome o = {0};
	sb_buf_init(&o.accepted, 0);
	sb_buf_init(&o.rejected, 0);
	if (rcpt) {
		size_t k = 0;
		for (size_t i = 0; i < p.n_to; i++)
			rcpt[k++] = p.to[i];
		for (size_t i = 0; i < p.n_cc; i++)
			rcpt[k++] = p.cc[i];
		for (size_t i = 0; i < n_bcc; i++)
			rcpt[k++] = bcc[i];
		deliver_all(s, raw, rlen, m, rcpt, n, true, &o);
		char uniq[40];
		mapi_unique_for(m, mb->address, "sent", uniq);
		/* Our own records are named uniq; others keep their name. */
		const char *target = strcmp(e->id, uniq) == 0 ? uniq : e->id;
		if (!e->in_new) {
			/* Move cur/ records through new/ naming. */
			char sent[MAPI_PATH_MAX], ddir[MAPI_PATH_MAX];
			if (mapi_path(ddir, sizeof ddir, "%s/%s/cur", mb->dir,
				      MAPI_SENT) &&
			    mapi_path(sent, sizeof sent, "%s/%s:2,S", ddir,
				      target) &&
			    rename(path, sent) == 0)
				mapi_fsync_dir(ddir);
		} else if (to_sent(mb, target, e->file, &err) != SB_OK) {
			s->host->log(s->host, SB_LOG_ERROR, "%s", err.message);
		}
		s->host->log(s->host, SB_LOG_INFO,
			     "%s: finished interrupted send %s (%zu "
			     "delivered, %zu refused)",
			     mb->address, m, o.n_acc, o.n_rej);
	}
	free(rcpt);
	sb_buf_free(&o.accepted);
	sb_buf_free(&o.rejected);
	sb_mime_address_list_free(bcc, n_bcc);
	sb_mime_parsed_free(&p);
	free(msgid);
	free(rec);
}

void mapi_outbox_recover(struct mapi_store *s, struct mapi_mailbox *mb)
{
	char dir[MAPI_PATH_MAX];
	if (!mapi_path(dir, sizeof dir, "%s/%s", mb->dir, MAPI_OUTBOX))
		return;
	struct mapi_entry *e;
	size_t n;
	if (mapi_maildir_scan(dir, &e, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char path[MAPI_PATH_MAX];
		if (mapi_path(path, sizeof path, "%s/%s/%s", dir,
			      e[i].in_new ? "new" : "cur", e[i].file))
			recover_one(s, mb, path, &e[i]);
	}
	mapi_entries_free(e, n);
}
