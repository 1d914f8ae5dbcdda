/* mapi-stub: the Email object — Send, SaveDraft, List, Load, Move, Delete,
 * MarkRead over RFC 5322 messages in Maildir folders. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <svcbroker/call.h>
#include <svcbroker/mime.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

#define MAPI_HEADER_MAX (256 * 1024) /* header block read by List */
#define MAPI_RETRIES 5		     /* lookups racing with a rename */

/* ---- dates -------------------------------------------------------- */

bool mapi_rfc5322_date(const char *s, int64_t *epoch)
{
	if (!s)
		return false;
	while (isspace((unsigned char)*s))
		s++;
	/* Optional day name. */
	const char *comma = strchr(s, ',');
	if (comma && comma - s <= 9)
		s = comma + 1;
	struct tm tm = {0};
	const char *p = strptime(s, " %d %b %Y %H:%M", &tm);
	if (!p)
		return false;
	if (*p == ':') {
		const char *q = strptime(p, ":%S", &tm);
		if (!q)
			return false;
		p = q;
	}
	while (isspace((unsigned char)*p))
		p++;
	long off = 0;
	if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) &&
	    isdigit((unsigned char)p[4])) {
		int hh = (p[1] - '0') * 10 + (p[2] - '0');
		int mm = (p[3] - '0') * 10 + (p[4] - '0');
		off = (hh * 60L + mm) * 60L;
		if (*p == '-')
			off = -off;
	} else if (strncasecmp(p, "GMT", 3) == 0 ||
		   strncasecmp(p, "UT", 2) == 0 || *p == 'Z' || *p == '\0') {
		off = 0;
	} else {
		off = 0; /* obsolete zones: read as UTC */
	}
	*epoch = (int64_t)timegm(&tm) - off;
	return true;
}

static void iso(int64_t epoch, char out[32])
{
	sb_datetime_format(epoch, out, 32);
}

/* ---- building messages -------------------------------------------- */

struct built {
	struct sb_buf msg;
	char msgid[256];
	const char **to, **cc, **bcc, **reply_to;
	size_t n_to, n_cc, n_bcc, n_reply_to;
	struct sb_file *att;
	size_t n_att;
};

static void built_free(struct built *b)
{
	sb_buf_free(&b->msg);
	free(b->to);
	free(b->cc);
	free(b->bcc);
	free(b->reply_to);
	free(b->att);
}

static const char **collect(const struct sb_call *call, const char *name,
			    size_t *n)
{
	*n = sb_call_count(call, name);
	const char **v = calloc(*n + 1, sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < *n; i++)
		v[i] = sb_call_str_at(call, name, i);
	return v;
}

/* Maildir files use the local line ending (LF), as every Maildir tool
 * writes and expects them; readers are given CRLF only on the wire. */
static void to_lf(struct sb_buf *b)
{
	/* from CR to CR (memchr), the text between moved at once */
	char *d = b->data, *end = d ? d + b->len : NULL, *w = NULL;
	for (char *p = d; p && (p = memchr(p, '\r', (size_t)(end - p)));) {
		char *next = p + 1;
		if (next < end && *next == '\n') {
			if (w)
				memmove(w, d, (size_t)(p - d));
			w = (w ? w : d) + (p - d);
			d = next;
		}
		p = next;
	}
	if (!w)
		return;
	memmove(w, d, (size_t)(end - d));
	w += end - d;
	b->len = (size_t)(w - b->data);
	*w = '\0';
}

/* Build the message of a Send or SaveDraft call into b. */
static enum sb_status build_message(struct mapi_store *s,
				    struct mapi_mailbox *mb,
				    const struct sb_call *call, struct built *b,
				    struct sb_error *err)
{
	memset(b, 0, sizeof *b);
	/* The message, plus room for its Bcc line, must fit the cap. */
	sb_buf_init(&b->msg, (size_t)s->max_message_size);
	const char *from = sb_call_str(call, "From", NULL);
	if (from && strcasecmp(from, mb->address) != 0)
		return sb_error_set(
		    err, SB_ERR_UPSTREAM_DENIED, "ErrorSendAsDenied",
		    "From %s: this call acts as %s and may only "
		    "send as it (use Mailbox to act as "
		    "another mailbox of the store)",
		    from, mb->address);
	b->to = collect(call, "To", &b->n_to);
	b->cc = collect(call, "Cc", &b->n_cc);
	b->bcc = collect(call, "Bcc", &b->n_bcc);
	b->reply_to = collect(call, "ReplyTo", &b->n_reply_to);
	b->n_att = sb_call_count(call, "Attachments");
	b->att = calloc(b->n_att + 1, sizeof *b->att);
	if (!b->to || !b->cc || !b->bcc || !b->reply_to || !b->att)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	size_t total = 0;
	for (size_t i = 0; i < b->n_att; i++) {
		const struct sb_file *f =
		    sb_call_file_at(call, "Attachments", i);
		if (!f)
			return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					    "Attachments[%zu]: not a file", i);
		b->att[i] = *f;
		total += f->size;
		/* base64 grows by 4/3: refuse early what cannot fit. */
		if (total / 3 * 4 > (size_t)s->max_message_size)
			return sb_error_set(
			    err, SB_ERR_PAYLOAD_TOO_LARGE,
			    "ErrorMessageSizeExceeded",
			    "attachments of %zu bytes do not fit "
			    "max_message_size (%lld bytes once encoded)",
			    total, (long long)s->max_message_size);
	}
	struct sb_mime_message m = {
	    .from = mb->address,
	    .to = b->to,
	    .n_to = b->n_to,
	    .cc = b->cc,
	    .n_cc = b->n_cc,
	    .reply_to = b->reply_to,
	    .n_reply_to = b->n_reply_to,
	    .subject = sb_call_str(call, "Subject", NULL),
	    .body = sb_call_str(call, "Body", NULL),
	    .html_body = sb_call_str(call, "HtmlBody", NULL),
	    .importance = sb_call_str(call, "Importance", NULL),
	    .attachments = b->att,
	    .n_attachments = b->n_att,
	};
	enum sb_status st = sb_mime_build(&m, &b->msg, b->msgid, err);
	if (st == SB_OK)
		to_lf(&b->msg);
	if (b->msg.failed || st == SB_ERR_PAYLOAD_TOO_LARGE)
		return sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
				    "ErrorMessageSizeExceeded",
				    "the message is larger than "
				    "max_message_size (%lld bytes)",
				    (long long)s->max_message_size);
	return st;
}

/* "Bcc: a, b\n" folded: the sender's own copy keeps its Bcc line
 * (RFC 5322 3.6.3); deliveries never carry it. */
static char *bcc_line(const char *const *bcc, size_t n)
{
	if (n == 0)
		return strdup("");
	struct sb_buf b;
	sb_buf_init(&b, 0);
	sb_buf_puts(&b, "Bcc:");
	size_t col = 4;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(bcc[i]);
		if (i > 0) {
			sb_buf_puts(&b, ",");
			col++;
		}
		if (i > 0 && col + 1 + len > 76) {
			sb_buf_puts(&b, "\n");
			col = 0;
		}
		sb_buf_puts(&b, " ");
		sb_buf_puts(&b, bcc[i]);
		col += 1 + len;
	}
	sb_buf_puts(&b, "\n");
	return sb_buf_steal(&b);
}

/* The ChangeKey of e, now in folder of mb under e->file ("" if it cannot be
 * read: moved again meanwhile). */
static void key_after(struct mapi_mailbox *mb, const char *folder,
		      struct mapi_entry *e, char *ck)
{
	char path[MAPI_PATH_MAX];
	ck[0] = '\0';
	int64_t before = e->ctime_ns;
	if (!mapi_path(path, sizeof path, "%s/%s/%s/%s", mb->dir, folder,
		       e->in_new ? "new" : "cur", e->file) ||
	    !mapi_entry_restat(path, e))
		return;
	/* The rename gave the file a new ctime, unless the clock the file
	 * system reads has not ticked since the last change (a coarse
	 * clock, a few ms): then touch its metadata until it has, so an
	 * item changed back to an earlier state (read, unread, read) never
	 * gets an earlier ChangeKey again.  Bounded: at most ~50 ms. */
	for (int i = 0; i < 50 && before && e->ctime_ns <= before; i++) {
		struct timespec ms = {0, 1000000};
		struct stat st;
		nanosleep(&ms, NULL);
		if (lstat(path, &st) < 0 ||
		    chmod(path, st.st_mode & 07777) < 0 ||
		    !mapi_entry_restat(path, e))
			return;
	}
	mapi_change_key(folder, e, ck);
}

/* ---- Send / SaveDraft ---------------------------------------------- */

static enum sb_status email_send(struct mapi_store *s, struct mapi_mailbox *mb,
				 const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	struct built b;
	enum sb_status st = build_message(s, mb, call, &b, err);
	if (st != SB_OK)
		goto out;
	struct mapi_send env = {
	    .to = b.to,
	    .n_to = b.n_to,
	    .cc = b.cc,
	    .n_cc = b.n_cc,
	    .bcc = b.bcc,
	    .n_bcc = b.n_bcc,
	};
	char id[64];
	if ((st = sb_result_row(r)) != SB_OK) {
		st = sb_error_set(err, st, NULL, "cannot add a result row");
		goto out;
	}
	st = mapi_outbox_send(s, mb, b.msg.data, b.msg.len, b.msgid, &env, r,
			      id, sizeof id, err);
	if (st != SB_OK)
		goto out;
	char file[128], ck[MAPI_CHANGEKEY_LEN + 1];
	snprintf(file, sizeof file, "%s:2,S", id);
	struct mapi_entry e = {.file = file, .seen = true};
	key_after(mb, MAPI_SENT, &e, ck);
	sb_result_str(r, "Id", id);
	if (ck[0])
		sb_result_str(r, "ChangeKey", ck);
	sb_result_str(r, "Folder", MAPI_SENT);
	sb_result_str(r, "MessageId", b.msgid);
out:
	built_free(&b);
	return st;
}

static enum sb_status email_save_draft(struct mapi_store *s,
				       struct mapi_mailbox *mb,
				       const struct sb_call *call,
				       struct sb_result *r,
				       struct sb_error *err)
{
	struct built b;
	char *bcc = NULL;
	struct sb_buf all;
	sb_buf_init(&all, (size_t)s->max_message_size + 64 * 1024);
	enum sb_status st = build_message(s, mb, call, &b, err);
	if (st != SB_OK)
		goto out;
	bcc = bcc_line(b.bcc, b.n_bcc);
	if (!bcc || !sb_buf_puts(&all, bcc) ||
	    !sb_buf_append(&all, b.msg.data, b.msg.len)) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	st = mapi_quota_reserve(s, mb, (int64_t)all.len, err);
	if (st != SB_OK)
		goto out;
	char uniq[160], name[200], dir[MAPI_PATH_MAX];
	mapi_unique_new(s, uniq, sizeof uniq);
	snprintf(name, sizeof name, "%s:2,DS", uniq);
	if (!mapi_path(dir, sizeof dir, "%s/%s", mb->dir, MAPI_DRAFTS)) {
		mapi_quota_release(mb, (int64_t)all.len);
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "path too long");
		goto out;
	}
	bool placed;
	st = mapi_write_atomic(dir, "cur", name, all.data, all.len, true,
			       &placed, err);
	if (st != SB_OK) {
		/* placed: only the directory's fsync failed, the draft is
		 * there and counts */
		if (!placed)
			mapi_quota_release(mb, (int64_t)all.len);
		goto out;
	}
	struct mapi_entry e = {.file = name, .draft = true, .seen = true};
	char ck[MAPI_CHANGEKEY_LEN + 1];
	key_after(mb, MAPI_DRAFTS, &e, ck);
	sb_result_row(r);
	sb_result_str(r, "Id", uniq);
	if (ck[0])
		sb_result_str(r, "ChangeKey", ck);
	sb_result_str(r, "Folder", MAPI_DRAFTS);
	sb_result_str(r, "MessageId", b.msgid);
out:
	free(bcc);
	sb_buf_free(&all);
	built_free(&b);
	return st;
}

/* ---- reading items -------------------------------------------------- */

/* Read the header block of a message file (up to the empty line). */
static int read_headers(const char *path, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat fst;
	if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
		close(fd);
		errno = ENOENT; /* replaced by something not an item */
		return -1;
	}
	size_t cap = 8192, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= MAPI_HEADER_MAX)
				break;
			char *nb = realloc(buf, 2 * cap + 1);
			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return -1;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		buf[n] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (!end)
			end = strstr(buf, "\n\n");
		if (end) {
			n = (size_t)(end - buf) + (end[0] == '\r' ? 4 : 2);
			break;
		}
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static bool has_attachments_hdr(const struct sb_mime_parsed *p)
{
	return p->content_type &&
	       strncmp(p->content_type, "multipart/mixed", 15) == 0;
}

/* A multipart/mixed message may still have no attachment (some tools
 * write one around a lone text part).  Whether it has one, as Load will
 * say, for messages small enough to read whole; larger ones are taken to
 * have one. */
static bool small_has_attachments(const char *path, const struct mapi_entry *e)
{
	if (e->size > MAPI_HEADER_MAX)
		return true;
	char *raw = NULL;
	size_t len = 0;
	if (mapi_read_file(path, MAPI_HEADER_MAX, &raw, &len) < 0)
		return true;
	struct sb_mime_parsed p;
	bool yes = true;
	if (len && sb_mime_parse_flags(raw, len, SB_MIME_PARSE_NO_CONTENT, &p,
				       NULL) == SB_OK) {
		yes = p.n_attachments > 0;
		sb_mime_parsed_free(&p);
	}
	free(raw);
	return yes;
}

/* Cells shared by List and Load. */
static void put_common(struct sb_result *r, const char *id, const char *folder,
		       const struct sb_mime_parsed *p,
		       const struct mapi_entry *e)
{
	char when[32];
	int64_t t;
	char ck[MAPI_CHANGEKEY_LEN + 1];
	mapi_change_key(folder, e, ck);
	sb_result_str(r, "Id", id);
	sb_result_str(r, "ChangeKey", ck);
	sb_result_str(r, "Folder", folder);
	if (p->from && sb_email_valid(p->from))
		sb_result_str(r, "From", p->from);
	sb_result_empty(r, "To");
	for (size_t i = 0; i < p->n_to; i++)
		if (sb_email_valid(p->to[i]))
			sb_result_str(r, "To", p->to[i]);
	sb_result_empty(r, "Cc");
	for (size_t i = 0; i < p->n_cc; i++)
		if (sb_email_valid(p->cc[i]))
			sb_result_str(r, "Cc", p->cc[i]);
	sb_result_clean_text(r, "Subject", p->subject);
	sb_result_str(r, "Importance",
		      p->importance ? p->importance : "Normal");
	/* Dates from another tool's file may be anything: only those that
	 * make a valid date-time are shown. */
	if (p->date && mapi_rfc5322_date(p->date, &t)) {
		iso(t, when);
		if (sb_datetime_parse(when, NULL))
			sb_result_str(r, "Sent", when);
	}
	iso(e->mtime_ns / 1000000000, when);
	if (sb_datetime_parse(when, NULL))
		sb_result_str(r, "Received", when);
	sb_result_bool(r, "IsRead", e->seen);
	sb_result_clean_text(r, "MessageId", p->message_id);
}

struct list_ctx {
	struct mapi_mailbox *mb;
	const char *folder;
	char dir[MAPI_PATH_MAX];
	struct mapi_entry *e;
};

static enum sb_status list_row(void *vctx, size_t index, struct sb_result *r,
			       struct sb_error *err)
{
	struct list_ctx *c = vctx;
	struct mapi_entry *e = &c->e[index];
	char path[MAPI_PATH_MAX];
	char *raw = NULL;
	size_t len = 0;
	bool ok = false;
	for (int tries = 0; tries < MAPI_RETRIES && !ok; tries++) {
		if (tries > 0) {
			/* Renamed meanwhile (MarkRead/Move): find it again. */
			struct mapi_entry ne;
			enum sb_status st =
			    mapi_item_find(c->mb, c->folder, e->id, path,
					   sizeof path, NULL, 0, &ne, err);
			if (st != SB_OK)
				return st;
			/* Keep e->id: the sort keys point to it. */
			free(e->file);
			free(ne.id);
			e->file = ne.file;
			e->in_new = ne.in_new;
			e->seen = ne.seen;
			e->draft = ne.draft;
			e->mtime_ns = ne.mtime_ns;
			e->size = ne.size;
			if (!mapi_path(path, sizeof path, "%s/%s/%s", c->dir,
				       e->in_new ? "new" : "cur", e->file))
				return sb_error_set(err, SB_ERR_INTERNAL, NULL,
						    "path too long");
		} else if (!mapi_path(path, sizeof path, "%s/%s/%s", c->dir,
				      e->in_new ? "new" : "cur", e->file)) {
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "path too long");
		}
		ok = read_headers(path, &raw, &len) == 0;
		if (!ok && errno != ENOENT)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "cannot read %s: %s", path,
					    strerror(errno));
	}
	if (!ok)
		return sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				    "item %s vanished", e->id);
	struct sb_mime_parsed p;
	struct sb_error perr;
	if (len == 0 || sb_mime_parse_flags(raw, len, SB_MIME_PARSE_NO_CONTENT,
					    &p, &perr) != SB_OK)
		memset(&p, 0, sizeof p); /* not a message: list what we know */
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK) {
		put_common(r, e->id, c->folder, &p, e);
		sb_result_bool(r, "HasAttachments",
			       has_attachments_hdr(&p) &&
				   small_has_attachments(path, e));
	}
	sb_mime_parsed_free(&p);
	free(raw);
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "cannot add a result row");
	return SB_OK;
}

static enum sb_status email_list(struct mapi_store *s, struct mapi_mailbox *mb,
				 const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	char folder[MAPI_FOLDER_MAX + 1];
	enum sb_status st =
	    mapi_folder_resolve(mb, sb_call_str(call, "Folder", MAPI_INBOX),
				folder, sizeof folder, err);
	if (st != SB_OK)
		return st;
	struct list_ctx c = {.mb = mb, .folder = folder};
	if (!mapi_path(c.dir, sizeof c.dir, "%s/%s", mb->dir, folder))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "path too long");
	size_t n = 0, skipped = 0;
	if (mapi_maildir_scan2(c.dir, &c.e, &n, &skipped) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot list %s: %s", c.dir,
				    strerror(errno));
	if (skipped)
		mapi_report_skipped(s, mb, folder, skipped);
	struct mapi_sortkey *k = calloc(n + 1, sizeof *k);
	char *scope = NULL;
	if (!k || asprintf(&scope, "Email|%s|%s", mb->address, folder) < 0) {
		scope = NULL;
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		k[i].key = -c.e[i].mtime_ns; /* newest first */
		k[i].id = c.e[i].id;
		k[i].index = i;
	}
	mapi_sort(k, n);
	size_t start;
	st =
	    mapi_page_start(k, n, scope, sb_call_page_token(call), &start, err);
	if (st == SB_OK)
		st = mapi_page_emit(k, n, start, call, r, scope, list_row, &c,
				    err);
out:
	/* list_row may replace entries; k[].id points into them, so free
	 * after paging. */
	free(scope);
	free(k);
	mapi_entries_free(c.e, n);
	return st;
}

static size_t load_cap(const struct mapi_store *s)
{
	/* Messages written by other tools may be larger than ours. */
	int64_t cap = s->max_message_size * 2 + 1024 * 1024;
	return (size_t)cap;
}

static enum sb_status email_load(struct mapi_store *s, struct mapi_mailbox *mb,
				 const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	const char *id = sb_call_str(call, "Id", NULL);
	const char *want = sb_call_str(call, "Folder", NULL);
	char path[MAPI_PATH_MAX], folder[MAPI_FOLDER_MAX + 1];
	struct mapi_entry e = {0};
	char *raw = NULL;
	size_t len = 0;
	enum sb_status st = SB_OK;
	for (int tries = 0; tries < MAPI_RETRIES; tries++) {
		free(e.file);
		free(e.id);
		memset(&e, 0, sizeof e);
		st = mapi_item_find(mb, want, id, path, sizeof path, folder,
				    sizeof folder, &e, err);
		if (st != SB_OK)
			return st;
		if (mapi_read_file(path, load_cap(s), &raw, &len) == 0)
			break;
		if (errno == EFBIG) {
			st =
			    sb_error_set(err, SB_ERR_PAYLOAD_TOO_LARGE,
					 "ErrorMessageSizeExceeded",
					 "message %s is too large to load", id);
			goto out;
		}
		if (errno != ENOENT) {
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "cannot read %s: %s", path,
					  strerror(errno));
			goto out;
		}
	}
	if (!raw) {
		st = sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				  "item %s keeps moving; try again", id);
		goto out;
	}
	struct sb_mime_parsed p;
	struct sb_error perr;
	sb_error_clear(&perr);
	bool readable = len > 0 && sb_mime_parse(raw, len, &p, &perr) == SB_OK;
	if (!readable && perr.status == SB_ERR_INTERNAL) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "%s",
				  perr.message);
		goto out;
	}
	if (!readable) {
		/* Not a message (another tool's file, or damaged): show what
		 * is there rather than fail; the client still sees Id,
		 * Folder, flags and the content as text. */
		memset(&p, 0, sizeof p);
		s->host->log(s->host, SB_LOG_WARN,
			     "%s: item %s in %s is not an RFC 5322 message "
			     "(%s); loaded as plain text",
			     mb->address, id, folder,
			     len ? perr.message : "empty file");
	}
	if ((st = sb_result_row(r)) != SB_OK) {
		sb_mime_parsed_free(&p);
		st = sb_error_set(err, st, NULL, "cannot add a result row");
		goto out;
	}
	put_common(r, e.id, folder, &p, &e);
	sb_result_empty(r, "Bcc");
	/* A Bcc line is only in the sender's own copies. */
	for (size_t i = 0; i < p.n_bcc; i++)
		if (sb_email_valid(p.bcc[i]))
			sb_result_str(r, "Bcc", p.bcc[i]);
	sb_result_empty(r, "ReplyTo");
	for (size_t i = 0; i < p.n_reply_to; i++)
		if (sb_email_valid(p.reply_to[i]))
			sb_result_str(r, "ReplyTo", p.reply_to[i]);
	if (readable) {
		sb_result_clean_memo(r, "Body", p.body);
		sb_result_clean_memo(r, "HtmlBody", p.html_body);
	} else {
		sb_result_clean_memo(r, "Body", raw);
	}
	sb_result_bool(r, "HasAttachments", p.n_attachments > 0);
	sb_result_empty(r, "Attachments");
	for (size_t i = 0; i < p.n_attachments; i++) {
		struct sb_file f = p.attachments[i];
		char *name = sb_clean_file_name(f.name);
		char *type = sb_clean_content_type(f.content_type);
		f.name = name;
		f.content_type = type;
		if (name && type)
			sb_result_file(r, "Attachments", &f);
		free(name);
		free(type);
	}
	sb_mime_parsed_free(&p);
out:
	free(raw);
	free(e.file);
	free(e.id);
	return st;
}

/* ---- Move / Delete / MarkRead ---------------------------------------- */

/* Items in the Outbox belong to a Send in progress (or one the next start
 * finishes): they are neither changed nor moved, and nothing is moved in,
 * or the next start would send it. */
static enum sb_status outbox_guard(enum sb_status st, const char *folder,
				   const char *id, struct sb_error *err)
{
	if (st != SB_OK || strcmp(folder, MAPI_OUTBOX) != 0)
		return st;
	return sb_error_set(err, SB_ERR_CONFLICT, "ErrorItemIsBeingSent",
			    "item %s is in the Outbox, being sent: it cannot "
			    "be changed, moved or deleted (nor can items be "
			    "moved into the Outbox; use Email.Send)",
			    id);
}

/* Rename src to <mb>/<folder>/<sub>/<file>; fsync both directories. */
static enum sb_status rename_into(struct mapi_mailbox *mb, const char *src,
				  const char *folder, const char *sub,
				  const char *file, struct sb_error *err)
{
	char dstdir[MAPI_PATH_MAX], dst[MAPI_PATH_MAX], srcdir[MAPI_PATH_MAX];
	if (!mapi_path(dstdir, sizeof dstdir, "%s/%s/%s", mb->dir, folder,
		       sub) ||
	    !mapi_path(dst, sizeof dst, "%s/%s", dstdir, file) ||
	    !mapi_path(srcdir, sizeof srcdir, "%s", src))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "path too long");
	char *slash = strrchr(srcdir, '/');
	if (slash)
		*slash = '\0';
	if (strcmp(src, dst) == 0)
		return SB_OK;
	struct stat st;
	if (lstat(dst, &st) == 0)
		return sb_error_set(err, SB_ERR_CONFLICT, "ErrorItemExists",
				    "an item named %s already is in %s", file,
				    folder);
	if (rename(src, dst) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot move %s: %s", src, strerror(errno));
	mapi_fsync_dir(dstdir);
	if (strcmp(srcdir, dstdir) != 0)
		mapi_fsync_dir(srcdir);
	return SB_OK;
}

static enum sb_status email_move(struct mapi_store *s, struct mapi_mailbox *mb,
				 const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err)
{
	(void)s;
	const char *id = sb_call_str(call, "Id", NULL);
	char dest[MAPI_FOLDER_MAX + 1], folder[MAPI_FOLDER_MAX + 1];
	char path[MAPI_PATH_MAX];
	enum sb_status st = mapi_folder_resolve(
	    mb, sb_call_str(call, "Folder", ""), dest, sizeof dest, err);
	if (st != SB_OK)
		return st;
	struct mapi_entry e = {0};
	pthread_mutex_lock(&mb->lock);
	st = mapi_item_find(mb, NULL, id, path, sizeof path, folder,
			    sizeof folder, &e, err);
	st = outbox_guard(st, folder, id, err);
	st = outbox_guard(st, dest, id, err);
	char ck[MAPI_CHANGEKEY_LEN + 1] = "";
	if (st == SB_OK)
		st = rename_into(mb, path, dest, e.in_new ? "new" : "cur",
				 e.file, err);
	if (st == SB_OK)
		key_after(mb, dest, &e, ck);
	pthread_mutex_unlock(&mb->lock);
	if (st == SB_OK) {
		sb_result_row(r);
		sb_result_str(r, "Id", e.id);
		if (ck[0])
			sb_result_str(r, "ChangeKey", ck);
		sb_result_str(r, "Folder", dest);
	}
	free(e.file);
	free(e.id);
	return st;
}

static enum sb_status email_delete(struct mapi_store *s,
				   struct mapi_mailbox *mb,
				   const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err)
{
	(void)s;
	const char *id = sb_call_str(call, "Id", NULL);
	bool hard = false;
	sb_call_bool(call, "HardDelete", &hard);
	char folder[MAPI_FOLDER_MAX + 1], path[MAPI_PATH_MAX];
	struct mapi_entry e = {0};
	bool gone = false;
	char ck[MAPI_CHANGEKEY_LEN + 1] = "";
	pthread_mutex_lock(&mb->lock);
	enum sb_status st = mapi_item_find(mb, NULL, id, path, sizeof path,
					   folder, sizeof folder, &e, err);
	st = outbox_guard(st, folder, id, err);
	if (st == SB_OK) {
		if (hard || strcmp(folder, MAPI_DELETED) == 0) {
			if (unlink(path) < 0) {
				st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
						  "cannot delete %s: %s", path,
						  strerror(errno));
			} else {
				char *slash = strrchr(path, '/');
				*slash = '\0';
				mapi_fsync_dir(path);
				mb->used -= e.size;
				if (mb->used < 0)
					mb->used = 0;
				gone = true;
			}
		} else {
			st = rename_into(mb, path, MAPI_DELETED,
					 e.in_new ? "new" : "cur", e.file, err);
			if (st == SB_OK)
				key_after(mb, MAPI_DELETED, &e, ck);
		}
	}
	pthread_mutex_unlock(&mb->lock);
	if (st == SB_OK) {
		sb_result_row(r);
		sb_result_str(r, "Id", e.id);
		if (!gone && ck[0])
			sb_result_str(r, "ChangeKey", ck);
		if (!gone)
			sb_result_str(r, "Folder", MAPI_DELETED);
	}
	free(e.file);
	free(e.id);
	return st;
}

/* The file name of entry e with flag S set or cleared (flags sorted, as
 * the Maildir spec asks). */
static bool flagged_name(const struct mapi_entry *e, bool seen, char *out,
			 size_t len)
{
	const char *colon = strstr(e->file, ":2,");
	const char *flags = colon ? colon + 3 : "";
	char nf[64];
	size_t j = 0;
	bool added = false;
	for (const char *f = flags; *f && j < sizeof nf - 2; f++) {
		if (*f == 'S')
			continue;
		if (seen && !added && *f > 'S') {
			nf[j++] = 'S';
			added = true;
		}
		nf[j++] = *f;
	}
	if (seen && !added)
		nf[j++] = 'S';
	nf[j] = '\0';
	return mapi_path(out, len, "%s:2,%s", e->id, nf);
}

static enum sb_status email_mark_read(struct mapi_store *s,
				      struct mapi_mailbox *mb,
				      const struct sb_call *call,
				      struct sb_result *r, struct sb_error *err)
{
	(void)s;
	const char *id = sb_call_str(call, "Id", NULL);
	bool read = true;
	sb_call_bool(call, "IsRead", &read);
	char folder[MAPI_FOLDER_MAX + 1], path[MAPI_PATH_MAX],
	    name[MAPI_PATH_MAX];
	char ck[MAPI_CHANGEKEY_LEN + 1] = "";
	struct mapi_entry e = {0};
	pthread_mutex_lock(&mb->lock);
	enum sb_status st = mapi_item_find(mb, NULL, id, path, sizeof path,
					   folder, sizeof folder, &e, err);
	st = outbox_guard(st, folder, id, err);
	if (st == SB_OK) {
		if (!flagged_name(&e, read, name, sizeof name))
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "name too long");
		else
			st = rename_into(mb, path, folder, "cur", name, err);
		if (st == SB_OK) {
			char *nf = strdup(name);
			if (nf) {
				free(e.file);
				e.file = nf;
				e.in_new = false;
				key_after(mb, folder, &e, ck);
			}
		}
	}
	pthread_mutex_unlock(&mb->lock);
	if (st == SB_OK) {
		sb_result_row(r);
		sb_result_str(r, "Id", e.id);
		if (ck[0])
			sb_result_str(r, "ChangeKey", ck);
		sb_result_str(r, "Folder", folder);
		sb_result_bool(r, "IsRead", read);
	}
	free(e.file);
	free(e.id);
	return st;
}

MAPI_MAILBOX_HANDLER(mapi_email_send, email_send)
MAPI_MAILBOX_HANDLER(mapi_email_save_draft, email_save_draft)
MAPI_MAILBOX_HANDLER(mapi_email_list, email_list)
MAPI_MAILBOX_HANDLER(mapi_email_load, email_load)
MAPI_MAILBOX_HANDLER(mapi_email_move, email_move)
MAPI_MAILBOX_HANDLER(mapi_email_delete, email_delete)
MAPI_MAILBOX_HANDLER(mapi_email_mark_read, email_mark_read)
