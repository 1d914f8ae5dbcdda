/* mapi-stub — internal interfaces between the files of the broker.
 *
 * The store: one directory per mailbox under store_dir; each mail folder a
 * Maildir (tmp/ new/ cur/); appointments and tasks as iCalendar files in
 * Calendar/ and Tasks/.  Every item is written to tmp/, fsynced, renamed
 * into place and its directory fsynced.
 */
#ifndef MAPI_H
#define MAPI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libical/ical.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>
#include <svcbroker/sdk.h>

/* The instance's configuration, filled by the host from mapi_config. */
struct mapi_conf {
	char *store_dir;
	char **mailboxes;
	int64_t quota;
	int64_t max_message_size;
	char *default_mailbox;
};

extern const struct sb_config_key mapi_config[];

#define MAPI_ID_MAX 200	    /* bytes of an item Id */
#define MAPI_FOLDER_MAX 100 /* bytes of a folder name */
#define MAPI_PATH_MAX 4096
#define MAPI_ICS_MAX (1024 * 1024) /* an .ics file we read */

struct mapi_mailbox {
	char *address; /* lower case */
	char *dir;     /* absolute: <store>/<safe name> */
	/* Serialises renames inside the mailbox (Move, MarkRead, Delete,
	 * Folder.Create) and quota accounting. */
	pthread_mutex_t lock;
	int64_t used; /* bytes stored, under lock */
	/* Serialises read-modify-write of .ics items with their deletion. */
	pthread_mutex_t ics_lock;
	/* Files a List had to skip, as last logged per folder (a few
	 * slots by folder name), so a warning is logged when the number
	 * changes, not on every List. */
	atomic_size_t skipped_logged[8];
};

struct mapi_store {
	const struct sb_host *host;
	char *root;
	struct mapi_lock *lock;
	struct mapi_mailbox *mb;
	size_t n_mb;
	struct mapi_mailbox *def; /* the default mailbox */
	int64_t quota;
	int64_t max_message_size;
	atomic_uint_fast64_t seq;
	char hostname[64];
};

/* ---- mapi_lock.c -------------------------------------------------- */
struct mapi_lock;
/* Take the store's lock for instance (shared with a running instance of
 * the same name in this process, as on reload: *shared is then true).
 * SB_ERR_UNAVAILABLE naming the lock and the holder otherwise. */
enum sb_status mapi_lock_take(const char *root, const char *instance,
			      struct mapi_lock **out, bool *shared,
			      struct sb_error *err);
void mapi_lock_release(struct mapi_lock *l); /* NULL: no-op */

/* ---- mapi_store.c, mapi_file.c, mapi_maildir.c ----------------------- */
enum sb_status mapi_store_open(const struct sb_host *host,
			       const struct mapi_conf *conf,
			       struct mapi_store **out, struct sb_error *err);
void mapi_store_close(struct mapi_store *s);

/* The mailbox of that address (case-insensitive), or NULL. */
struct mapi_mailbox *mapi_mailbox_find(struct mapi_store *s,
				       const char *address);
/* The mailbox a call acts on: its Mailbox input or the default. */
enum sb_status mapi_mailbox_for_call(struct mapi_store *s,
				     const struct sb_call *call,
				     struct mapi_mailbox **out,
				     struct sb_error *err);
/* Define handler `name` (an sb_handler_fn) that resolves the call's
 * mailbox, then runs fn(s, mb, call, r, err). */
#define MAPI_MAILBOX_HANDLER(name, fn)                                         \
	enum sb_status name(void *state, const struct sb_call *call,           \
			    struct sb_result *r, struct sb_error *err)         \
	{                                                                      \
		struct mapi_store *s_ = state;                                 \
		struct mapi_mailbox *mb_;                                      \
		enum sb_status st_ =                                           \
		    mapi_mailbox_for_call(s_, call, &mb_, err);                \
		return st_ != SB_OK ? st_ : fn(s_, mb_, call, r, err);         \
	}

/* Quota: reserve bytes before writing (SB_ERR_QUOTA when full), release
 * them when a write fails or an item is removed.  Thread-safe. */
enum sb_status mapi_quota_reserve(struct mapi_store *s, struct mapi_mailbox *mb,
				  int64_t bytes, struct sb_error *err);
void mapi_quota_release(struct mapi_mailbox *mb, int64_t bytes);

/* Log (as a warning, once per change of the number) that a List of folder
 * skipped n files that are not items it can show. */
void mapi_report_skipped(struct mapi_store *s, struct mapi_mailbox *mb,
			 const char *folder, size_t n);

/* Write data atomically as <dir>/<sub>/<name>: <dir>/tmp/<name>, fsync,
 * rename, fsync <dir>/<sub>.  With noreplace, an existing target is left
 * alone and SB_ERR_CONFLICT returned.  mode 0600.  placed (may be NULL):
 * as for mapi_write_file; a caller that reserved quota releases it only
 * when the file was not placed. */
enum sb_status mapi_write_atomic(const char *dir, const char *sub,
				 const char *name, const void *data, size_t len,
				 bool noreplace, bool *placed,
				 struct sb_error *err);
/* The same with explicit paths: write tmp, fsync, rename (or link, with
 * noreplace) to dst, fsync syncdir.  placed (may be NULL): set true once
 * dst is in place, also when only the directory's fsync failed after. */
enum sb_status mapi_write_file(const char *tmp, const char *dst,
			       const char *syncdir, const void *data,
			       size_t len, bool noreplace, bool *placed,
			       struct sb_error *err);
/* fsync a directory; 0 or -1 (errno). */
int mapi_fsync_dir(const char *path);
/* Read a whole file (at most max bytes; larger is an error).  *data is
 * malloc'd and NUL-terminated.  0 or -1 with errno (EFBIG when too big). */
int mapi_read_file(const char *path, size_t max, char **data, size_t *len);
/* mkdir 0700; an existing directory is fine.  0 or -1 (errno). */
int mapi_mkdir(const char *path);
/* Make <dir> and tmp/ new/ cur/ inside (existing is fine). */
int mapi_maildir_make(const char *dir);

/* A fresh unique Maildir name part ("<sec>.M<usec>P<pid>Q<n>R<hex>.<host>"). */
void mapi_unique_new(struct mapi_store *s, char *out, size_t len);
/* A unique name part derived from (message_id, mailbox, role): the same
 * inputs always give the same name, so a repeated delivery is detected. */
void mapi_unique_for(const char *message_id, const char *mailbox,
		     const char *role, char out[40]);

/* True if id could be an item Id: 1..MAPI_ID_MAX bytes of UTF-8 without
 * control characters, no '/', no ':', not starting with '.'. */
bool mapi_id_ok(const char *id);

/* ---- mapi_text.c -------------------------------------------------- */
/* True if s is 1..max bytes of valid UTF-8 with no control character, no
 * '/', and does not start with '.': a name that is safe as one path
 * component and fits a TEXT cell. */
bool mapi_name_ok(const char *s, size_t max);

/* ChangeKey of a mail item: a digest of where it is and of its file's
 * name, inode, size, mtime and ctime (a rename, as MarkRead and Move do,
 * changes the ctime), so it changes whenever the item changes and stays
 * the same while it does not.  out: MAPI_CHANGEKEY_LEN + 1 bytes. */
#define MAPI_CHANGEKEY_LEN 32
struct mapi_entry;
void mapi_change_key(const char *folder, const struct mapi_entry *e, char *out);
/* Refresh e's file facts (size, times, inode) from path; false if gone. */
bool mapi_entry_restat(const char *path, struct mapi_entry *e);

/* Folders ---------------------------------------------------------- */
struct mapi_wellknown {
	const char *id;	  /* distinguished id: "inbox" */
	const char *name; /* display and directory name: "Inbox" */
};
extern const struct mapi_wellknown mapi_wellknown[]; /* NULL-terminated */
#define MAPI_INBOX "Inbox"
#define MAPI_DRAFTS "Drafts"
#define MAPI_SENT "Sent Items"
#define MAPI_DELETED "Deleted Items"
#define MAPI_OUTBOX "Outbox"
#define MAPI_CALENDAR "Calendar" /* .ics, not a mail folder */
#define MAPI_TASKS "Tasks"	 /* .ics, not a mail folder */

/* Resolve a folder given by display name or distinguished id (case-
 * insensitive) to its directory name; checks the folder exists.  Writes
 * the canonical name to name_out (>= MAPI_FOLDER_MAX + 1).  Errors:
 * SB_ERR_INVALID_INPUT for a path-like name, SB_ERR_NOT_FOUND
 * (ErrorFolderNotFound) naming it. */
enum sb_status mapi_folder_resolve(struct mapi_mailbox *mb, const char *folder,
				   char *name_out, size_t name_len,
				   struct sb_error *err);
/* Check a new folder name: a valid path component, not hidden, not a
 * reserved name. */
enum sb_status mapi_folder_name_check(const char *name, struct sb_error *err);

/* Items in a Maildir ------------------------------------------------ */
struct mapi_entry {
	char *file;  /* file name in new/ or cur/ */
	char *id;    /* unique part (before ":2,") */
	bool in_new; /* in new/ (unseen) */
	bool seen;   /* flag S */
	bool draft;  /* flag D */
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint64_t ino;
	int64_t size;
};
/* Every item in <folder_dir>/new and cur.  *out malloc'd (free with
 * mapi_entries_free).  0 or -1 (errno). */
int mapi_maildir_scan(const char *folder_dir, struct mapi_entry **out,
		      size_t *n);
/* The same, also counting files skipped because their name cannot be an
 * Id (skipped may be NULL). */
int mapi_maildir_scan2(const char *folder_dir, struct mapi_entry **out,
		       size_t *n, size_t *skipped);
void mapi_entries_free(struct mapi_entry *e, size_t n);
/* Find item id in one folder (folder != NULL) or in every mail folder of
 * the mailbox.  Fills path (absolute file path), folder_out (canonical
 * folder name) and the entry.  SB_ERR_NOT_FOUND (ErrorItemNotFound). */
enum sb_status mapi_item_find(struct mapi_mailbox *mb, const char *folder,
			      const char *id, char *path, size_t path_len,
			      char *folder_out, size_t folder_len,
			      struct mapi_entry *entry, struct sb_error *err);
/* Every mail folder name of a mailbox (well-known first, then user
 * folders sorted).  *names malloc'd, free with mapi_names_free. */
int mapi_folder_names(struct mapi_mailbox *mb, char ***names, size_t *n);
void mapi_names_free(char **names, size_t n);

/* Path helpers: snprintf into out, false if it does not fit. */
bool mapi_path(char *out, size_t len, const char *fmt, ...) SB_PRINTF(3, 4);

/* Remove leftovers in every tmp/ of the mailbox (called at open, when no
 * writer can be running).  Returns the number of files removed. */
size_t mapi_tmp_clean(struct mapi_mailbox *mb);

/* ---- mapi_page.c -------------------------------------------------- */
/* Cursor paging: rows are sorted by (key, id); a token names the last row
 * returned and the list it belongs to. */
struct mapi_sortkey {
	int64_t key;
	const char *id;
	size_t index; /* caller's own index */
};
void mapi_sort(struct mapi_sortkey *k, size_t n);
/* The index in k of the first row after the token (0 without a token). */
enum sb_status mapi_page_start(const struct mapi_sortkey *k, size_t n,
			       const char *scope, const char *token,
			       size_t *start, struct sb_error *err);
/* A token for "after row k" (malloc'd) in scope. */
char *mapi_page_token(const char *scope, const struct mapi_sortkey *k);
/* Emit a page: calls row(ctx, index) for each row from start; sets the next
 * page token when rows remain. */
enum sb_status mapi_page_emit(const struct mapi_sortkey *k, size_t n,
			      size_t start, const struct sb_call *call,
			      struct sb_result *r, const char *scope,
			      enum sb_status (*row)(void *ctx, size_t index,
						    struct sb_result *r,
						    struct sb_error *err),
			      void *ctx, struct sb_error *err);

/* Sort k[0..n) and emit the page the call's PageToken names (mapi_sort,
 * mapi_page_start, mapi_page_emit). */
enum sb_status mapi_page_sorted(struct mapi_sortkey *k, size_t n,
				const struct sb_call *call, struct sb_result *r,
				const char *scope,
				enum sb_status (*row)(void *ctx, size_t index,
						      struct sb_result *r,
						      struct sb_error *err),
				void *ctx, struct sb_error *err);
/* A calendar List's window: WindowStart and WindowEnd, INT64_MIN and
 * INT64_MAX when not given; 400 naming one that is not a date-time. */
enum sb_status mapi_window_read(const struct sb_call *call, int64_t *ws,
				int64_t *we, struct sb_error *err);

/* ---- mapi_mail.c -------------------------------------------------- */
/* Method handlers of the Email table (sb_handler_fn). */
enum sb_status mapi_email_send(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err);
enum sb_status mapi_email_save_draft(void *state, const struct sb_call *call,
				     struct sb_result *r, struct sb_error *err);
enum sb_status mapi_email_list(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err);
enum sb_status mapi_email_load(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err);
enum sb_status mapi_email_move(void *state, const struct sb_call *call,
			       struct sb_result *r, struct sb_error *err);
enum sb_status mapi_email_delete(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err);
enum sb_status mapi_email_mark_read(void *state, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err);
/* Parse an RFC 5322 date into epoch seconds; false if unparsable. */
bool mapi_rfc5322_date(const char *s, int64_t *epoch);

/* ---- mapi_reply.c, mapi_thread.c ----------------------------------- */
/* Method handlers Email.Reply, Email.ReplyAll and Email.Forward. */
enum sb_status mapi_email_reply(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err);
enum sb_status mapi_email_reply_all(void *state, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err);
enum sb_status mapi_email_forward(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err);
/* The Subject of an answer: "RE: " (forward: "FW: ") and subject, cleaned
 * and trimmed, unless subject already starts with such a prefix in any
 * case ("Re:", "Fw:", "Fwd:").  Malloc'd; NULL when out of memory. */
char *mapi_reply_subject(const char *subject, bool forward);
/* The In-Reply-To and References values of an answer from the original's
 * Message-ID, References and In-Reply-To as written (any may be NULL):
 * valid <id@domain> items only, the original's id last, at most 30 (the
 * first and the latest kept); both "" without a valid Message-ID.
 * *irt and *refs malloc'd; false when out of memory. */
bool mapi_reply_threading(const char *message_id, const char *references,
			  const char *in_reply_to, char **irt, char **refs);

/* ---- mapi_outbox.c ------------------------------------------------ */
struct mapi_send {
	const char *const *to;
	size_t n_to;
	const char *const *cc;
	size_t n_cc;
	const char *const *bcc;
	size_t n_bcc;
};
/* Record raw (already built, without Bcc) in mb's Outbox, deliver it to
 * every local recipient, move it to Sent Items.  Accepted and rejected
 * recipients are added to the result row (r NULL: not reported).  id_out
 * gets the Sent Items Id. */
enum sb_status mapi_outbox_send(struct mapi_store *s, struct mapi_mailbox *mb,
				const char *raw, size_t len,
				const char *message_id,
				const struct mapi_send *env,
				struct sb_result *r, char *id_out,
				size_t id_len, struct sb_error *err);
/* Finish every Send left in mb's Outbox (at open). */
void mapi_outbox_recover(struct mapi_store *s, struct mapi_mailbox *mb);

/* ---- mapi_folder.c ------------------------------------------------ */
/* Method handlers of the Folder table. */
enum sb_status mapi_folder_list(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err);
enum sb_status mapi_folder_create(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err);

/* ---- mapi_calendar.c / mapi_task.c --------------------------------- */
/* Method handlers of the Appointment and Task tables. */
enum sb_status mapi_appointment_create(void *state, const struct sb_call *call,
				       struct sb_result *r,
				       struct sb_error *err);
enum sb_status mapi_appointment_list(void *state, const struct sb_call *call,
				     struct sb_result *r, struct sb_error *err);
enum sb_status mapi_appointment_load(void *state, const struct sb_call *call,
				     struct sb_result *r, struct sb_error *err);
enum sb_status mapi_appointment_delete(void *state, const struct sb_call *call,
				       struct sb_result *r,
				       struct sb_error *err);
/* Change the given properties of an appointment in its file (the rest of
 * the file, its zones and exceptions, kept; see mapi_calendar.c).  Given a
 * ChangeKey that is not the item's current one: 409
 * ErrorIrresolvableConflict, the item left as it is. */
enum sb_status mapi_appointment_update(void *state, const struct sb_call *call,
				       struct sb_result *r,
				       struct sb_error *err);
enum sb_status mapi_task_create(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err);
enum sb_status mapi_task_list(void *state, const struct sb_call *call,
			      struct sb_result *r, struct sb_error *err);
enum sb_status mapi_task_load(void *state, const struct sb_call *call,
			      struct sb_result *r, struct sb_error *err);
/* Given a ChangeKey input that is not the task's current one: 409
 * ErrorIrresolvableConflict, the task left as it is. */
enum sb_status mapi_task_complete(void *state, const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err);
enum sb_status mapi_task_delete(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err);
/* Change the given properties of a task, Status and PercentComplete kept
 * coherent (Completed with 100 and only with it); ChangeKey as Complete. */
enum sb_status mapi_task_update(void *state, const struct sb_call *call,
				struct sb_result *r, struct sb_error *err);
/* Shared by both: list/load/delete of .ics items in a directory.
 *
 * ChangeKey of an .ics item: a digest of its folder, Id, its file's inode,
 * size, mtime and ctime, and its content.  Every write goes through a new
 * file renamed into place (a new inode), so the key changes with every
 * write and stays the same while the file is left alone.  ck (may be
 * NULL): MAPI_CHANGEKEY_LEN + 1 bytes, "" when the file could not be
 * examined after the write. */
enum sb_status mapi_ics_store(struct mapi_store *s, struct mapi_mailbox *mb,
			      const char *folder, const char *id,
			      const char *text, bool replace, char *ck,
			      struct sb_error *err);
enum sb_status mapi_ics_load(struct mapi_mailbox *mb, const char *folder,
			     const char *id, const char *what, char **text,
			     char *ck, struct sb_error *err);
enum sb_status mapi_ics_delete(struct mapi_mailbox *mb, const char *folder,
			       const char *id, const char *what,
			       struct sb_error *err);
/* mapi_ics_delete when the item's ChangeKey is want_ck (NULL or empty: no
 * check; a stale one: SB_ERR_CONFLICT, nothing removed). */
enum sb_status mapi_ics_delete_if(struct mapi_mailbox *mb, const char *folder,
				  const char *id, const char *what,
				  const char *want_ck, struct sb_error *err);
/* Update of an .ics item: what happens to input name.  MAPI_KEEP when it
 * is not given; MAPI_CLEAR when it is given empty ("" for a string, []
 * for a list) or named in the method's "Clear" input; else MAPI_SET.  A
 * value given and named in Clear too: SB_ERR_INVALID_INPUT naming it. */
enum mapi_change { MAPI_KEEP, MAPI_SET, MAPI_CLEAR };
enum sb_status mapi_change_of(const struct sb_call *call, const char *name,
			      enum mapi_change *out, struct sb_error *err);
/* SB_ERR_CONFLICT (ErrorIrresolvableConflict) when want (an Update's
 * ChangeKey input; NULL or "": no check) is not the item's current ck. */
enum sb_status mapi_change_key_check(const char *want, const char *ck,
				     const char *what, const char *id,
				     struct sb_error *err);
/* Every Id (file name minus ".ics") in the folder; malloc'd. */
int mapi_ics_ids(struct mapi_mailbox *mb, const char *folder, char ***ids,
		 size_t *n);

/* ---- mapi_meeting.c ------------------------------------------------ */
/* Method handlers of the Meeting and MeetingAttendee tables: meetings
 * between the store's mailboxes, each mailbox's copy a VEVENT with
 * ORGANIZER and ATTENDEEs in its Calendar/, invitations, answers and
 * cancellations sent as iTIP messages (text/calendar; method=...). */
enum sb_status mapi_meeting_create(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err);
enum sb_status mapi_meeting_update(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err);
enum sb_status mapi_meeting_cancel(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err);
enum sb_status mapi_meeting_accept(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err);
enum sb_status mapi_meeting_tentative(void *state, const struct sb_call *call,
				      struct sb_result *r,
				      struct sb_error *err);
enum sb_status mapi_meeting_decline(void *state, const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err);
enum sb_status mapi_meeting_load(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err);
enum sb_status mapi_meeting_list(void *state, const struct sb_call *call,
				 struct sb_result *r, struct sb_error *err);
enum sb_status mapi_meeting_attendee_list(void *state,
					  const struct sb_call *call,
					  struct sb_result *r,
					  struct sb_error *err);

/* ---- mapi_cache.c: items read from .ics files, by ChangeKey ------------ */
/* The ChangeKey digests a file's facts and whole content, so an item read
 * under a key is the same as any read under it.  One cache per kind of
 * item (a static of its file, MAPI_CACHE_INIT), process-wide, thread-safe:
 * at most MAPI_CACHE_BYTES (as the items' sizes are counted by their
 * callers), in a table of slots looked up from an item's place on. */
#define MAPI_CACHE_SLOTS 4096
#define MAPI_CACHE_BYTES (8 * 1024 * 1024)
struct mapi_cache {
	pthread_mutex_t lock;
	void *(*copy)(const void *v); /* deep copy; NULL: no memory */
	void (*free)(void *v);
	size_t bytes;
	struct {
		char ck[MAPI_CHANGEKEY_LEN + 1];
		void *v;
		size_t bytes;
	} slot[MAPI_CACHE_SLOTS];
};
#define MAPI_CACHE_INIT(copy_fn, free_fn)                                      \
	{                                                                      \
		.lock = PTHREAD_MUTEX_INITIALIZER, .copy = copy_fn,            \
		.free = free_fn                                                \
	}
/* A copy of the item kept under ck, or NULL. */
void *mapi_cache_get(struct mapi_cache *c, const char *ck);
/* Keep a copy of v (bytes: its size) under ck, in place of what its slot
 * held; nothing when it would pass the bound. */
void mapi_cache_put(struct mapi_cache *c, const char *ck, const void *v,
		    size_t bytes);
/* Drop everything (the module's destructor). */
void mapi_cache_clear(struct mapi_cache *c);

/* ---- mapi_ical.c: iCalendar through libical -------------------------- */
/* Limits a file must meet before libical parses it (with MAPI_ICS_MAX). */
#define MAPI_ICAL_MAX_LINES 1000 /* content lines */
#define MAPI_ICAL_MAX_COMPS 200	 /* components (BEGIN lines) */
#define MAPI_ICAL_MAX_DEPTH 8	 /* nesting of components */
/* NULL if text (len bytes) meets the limits and is made of content lines
 * (a name, then ';' or ':'), with BEGIN and END paired and every property
 * inside a component; else the reason. */
const char *mapi_ical_precheck(const char *text, size_t len);
/* text with each CATEGORIES line of several values written as one line per
 * value (libical 3.0 misreads some lists with escaped commas); malloc'd.
 * NULL when there is no such line, or with *why set when the result would
 * be too large. */
char *mapi_ical_split_lists(const char *text, size_t len, const char **why);
/* Check, then parse with libical: the first VCALENDAR (free it with
 * icalcomponent_free), or NULL with the reason in why. */
icalcomponent *mapi_ical_parse(const char *text, size_t len, const char **why);
/* Free libical's temporary strings of the calling thread: a ring of up to
 * 2500 buffers per thread that libical keeps until the thread ends.  Called
 * when a file has been read or written; no string libical returned from
 * its ring may be used after. */
void mapi_ical_release(void);
/* A new VCALENDAR with VERSION and PRODID. */
icalcomponent *mapi_ical_calendar(void);
/* cal as RFC 5545 text (CRLF, folded at 75 octets); malloc'd, NULL when
 * larger than MAPI_ICS_MAX or out of memory. */
char *mapi_ical_text(icalcomponent *cal);
/* Add a TEXT property, an X- property, or a list (CATEGORIES) whose values
 * may hold commas.  CR LF and lone CR become line breaks.  False when out
 * of memory. */
bool mapi_ical_add_text(icalcomponent *c, icalproperty_kind kind,
			const char *v);
bool mapi_ical_add_x(icalcomponent *c, const char *name, const char *v);
bool mapi_ical_add_list(icalcomponent *c, icalproperty_kind kind,
			const char *const *v, size_t n);
/* Escape a TEXT value into b (\ \; \, \n). */
bool mapi_ical_escape(struct sb_buf *b, const char *value);
/* The (unescaped) value of the first property of that kind / X- name,
 * malloc'd; NULL when there is none. */
char *mapi_ical_text_of(icalcomponent *c, icalproperty_kind kind);
char *mapi_ical_x_of(icalcomponent *c, const char *name);
/* Every value of a list property (CATEGORIES), unescaped, empty ones left
 * out; *out malloc'd (free with mapi_names_free).  0 or -1 (no memory). */
int mapi_ical_list_of(icalcomponent *c, icalproperty_kind kind, char ***out,
		      size_t *n);

/* Time zones: libical's built-in zone of an IANA name (from the system's
 * zoneinfo), NULL when it has none or the name is not a plain zone name
 * (mapi_ical_zone_name_ok).  Thread-safe. */
bool mapi_ical_zone_name_ok(const char *name);
icaltimezone *mapi_ical_zone(const char *name);
/* Add z's VTIMEZONE to cal under TZID tzid, its rules from `from` on. */
bool mapi_ical_add_zone(icalcomponent *cal, icaltimezone *z, const char *tzid,
			int64_t from);
/* The zone a property's TZID names: the built-in zone of that name, else
 * the calendar's VTIMEZONE of that TZID (if libical can expand it in
 * bounded time), else NULL (read as UTC).  *tzid (may be NULL) gets the TZID.
 */
icaltimezone *mapi_ical_zone_of(icalcomponent *cal, icalproperty *p,
				const char **tzid);

/* Editing a parsed file (Update): remove every property of kind from c
 * (with xname, only the X- properties of that name); remove every
 * component of kind directly inside c. */
void mapi_ical_remove_props(icalcomponent *c, icalproperty_kind kind,
			    const char *xname);
void mapi_ical_remove_comps(icalcomponent *c, icalcomponent_kind kind);
/* Give cal z's VTIMEZONE under TZID tzid, its rules from `from` on, in
 * place of one of that TZID it has; the zones placed before the other
 * components. */
bool mapi_ical_set_zone(icalcomponent *cal, icaltimezone *z, const char *tzid,
			int64_t from);
/* Remove every VTIMEZONE of cal whose TZID no property refers to. */
void mapi_ical_drop_unused_zones(icalcomponent *cal);

/* Times.  The years MAPI_YEAR_MIN..MAPI_YEAR_MAX, existing days only. */
#define MAPI_YEAR_MIN 1601
#define MAPI_YEAR_MAX 9999
/* The epoch of 9999-12-31T23:59:59Z and of 1601-01-01T00:00:00Z. */
#define MAPI_EPOCH_MAX INT64_C(253402300799)
#define MAPI_EPOCH_MIN INT64_C(-11644473600)
/* Epoch seconds of t, its fields read in z (NULL: UTC; a date: its day at
 * 00:00 UTC).  False when out of range or not an existing day. */
bool mapi_ical_time_epoch(struct icaltimetype t, icaltimezone *z,
			  int64_t *epoch);
/* The fields of epoch in z (NULL: UTC), or its day. */
struct icaltimetype mapi_ical_time_in(int64_t epoch, bool is_date,
				      icaltimezone *z);
/* Add a DATE (VALUE=DATE) or DATE-TIME property: in UTC, or in zone z
 * with TZID=tzid. */
bool mapi_ical_add_time(icalcomponent *c, icalproperty_kind kind, int64_t epoch,
			bool is_date, icaltimezone *z, const char *tzid);
/* A DATE or DATE-TIME property as epoch seconds (see mapi_ical_zone_of);
 * *tzid (may be NULL) gets its TZID.  False when it is none or out of
 * range. */
bool mapi_ical_time_of(icalcomponent *cal, icalproperty *p, int64_t *epoch,
		       bool *is_date, const char **tzid);
/* A DATE or UTC DATE-TIME value ("20261201", "20261201T090000Z"; floating
 * read as UTC) as epoch seconds. */
bool mapi_ical_time_parse(const char *v, int64_t *epoch, bool *is_date);

/* Minutes before the start of a VALARM's TRIGGER (a duration, before the
 * start); -1 for any other. */
int64_t mapi_ical_alarm_minutes(icalcomponent *alarm);
/* The date an ISO 8601 value was written with (its first 10 characters),
 * as midnight UTC: all-day items keep the caller's calendar date. */
bool mapi_date_of(const char *iso, int64_t *out);
/* The series' own VEVENT of cal: the first without RECURRENCE-ID. */
icalcomponent *mapi_ical_master(icalcomponent *cal);

/* Series expansion (Appointment.List and Meeting.List with a window).
 * Bounds: occurrences shown per series, and steps of libical's iterator
 * per series (a rule whose instances are rare, or that starts long before
 * the window, ends there). */
#define MAPI_OCC_MAX 1000
#define MAPI_STEPS_MAX 100000
/* Whether [start, end) overlaps the window [ws, we) (INT64_MIN, INT64_MAX:
 * open). */
static inline bool mapi_overlaps(int64_t start, int64_t end, int64_t ws,
				 int64_t we)
{
	return !((ws != INT64_MIN && end <= ws) ||
		 (we != INT64_MAX && start >= we));
}
/* The epochs of a VEVENT's EXDATEs (*out malloc'd).  False when out of
 * memory. */
bool mapi_ical_exdates(icalcomponent *cal, icalcomponent *m, int64_t **out,
		       size_t *n);
bool mapi_ical_in_list(const int64_t *v, size_t n, int64_t t);
/* False for a rule libical 3.0's iterator may walk for hours between two
 * occurrences: a SECONDLY, MINUTELY or HOURLY one restricted by more than
 * BYSECOND, BYMINUTE, BYHOUR and plain BYDAY weekdays (its iterator steps
 * one FREQ at a time up to the year 2582 looking for a match, e.g. for
 * "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30").  Such a series is not
 * expanded. */
bool mapi_ical_rule_walkable(const struct icalrecurrencetype *r);
/* The occurrences of the series whose VEVENT is m in cal that overlap
 * [ws, we): libical's recurrence iterator from DTSTART in the zone of
 * DTSTART (a series keeps its local time across daylight-saving changes),
 * each dur seconds long, without its EXDATEs and without the times in
 * skip (the RECURRENCE-IDs of overrides shown on their own); fn(ctx,
 * start, end) for each, at most MAPI_OCC_MAX.  No RRULE, or one libical
 * cannot iterate: first alone, as without a window.  False when out of
 * memory or fn said so. */
bool mapi_ical_occurrences(icalcomponent *cal, icalcomponent *m, int64_t first,
			   int64_t dur, int64_t ws, int64_t we,
			   const int64_t *skip, size_t n_skip,
			   bool (*fn)(void *ctx, int64_t start, int64_t end),
			   void *ctx);

#endif
