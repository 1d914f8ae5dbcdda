/* Unit tests of the mapi-stub broker: whole method handlers run through
 * the SDK's test host (<svcbroker/testhost.h>), against a store in a
 * temporary directory. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <svcbroker/broker.h>
#include <svcbroker/mime.h>
#include <svcbroker/sdk.h>
#include <svcbroker/testhost.h>

#include "../../brokers/mapi-stub/mapi.h"
#include "tmpdir.h"

extern const struct sb_broker svcbroker_broker;

static char root[256];
static char store[300];
static char quota[32];
static struct sb_testhost *th; /* instance "local" */

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Give h the store's keys, bound through mapi-stub's own key table. */
static void configure(struct sb_testhost *h)
{
	char sd[400], q[64];
	snprintf(sd, sizeof sd, "store_dir=%s", store);
	snprintf(q, sizeof q, "quota=%s", quota);
	const char *kv[] = {sd,
			    "mailboxes=alice@example.test, bob@example.test, "
			    "carol@example.test",
			    q, "max_message_size=1MiB", NULL};
	struct sb_error err;
	ck_assert_msg(sb_testhost_config(h, kv, &err) == SB_OK, "config: %s",
		      err.message);
}

/* A configured test host for another instance of the same store. */
static struct sb_testhost *new_host(const char *instance)
{
	struct sb_error err;
	struct sb_testhost *h =
	    sb_testhost_new(&svcbroker_broker, instance, &err);
	ck_assert_msg(h != NULL, "%s", err.message);
	configure(h);
	return h;
}

static void open_store(void)
{
	struct sb_error err;
	enum sb_status st = sb_testhost_open(th, &err);
	ck_assert_msg(st == SB_OK, "open: %s", err.message);
}

static void close_store(void) { sb_testhost_close(th); }

static void setup(void)
{
	make_tmp_dir(root, sizeof(root), "mapi-unit-");
	snprintf(store, sizeof store, "%s/store", root);
	snprintf(quota, sizeof quota, "100MiB");
	th = new_host("local");
	open_store();
}

static void teardown(void)
{
	sb_testhost_free(th); /* closes the instance */
	th = NULL;
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The broker's sources are linked into this program, so this fsync is
 * the one they call: with fail_dir_fsync set, a directory's fails (EIO). */
static bool fail_dir_fsync;

int fsync(int fd)
{
	struct stat st;
	if (fail_dir_fsync && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

/* ---- calling the broker ------------------------------------------- */

/* args: "Name=value" strings, NULL-terminated, each parsed by the input's
 * declared type; files: file inputs (may be NULL).  The call must reach
 * the handler (inputs valid), and the rows it added must be valid. */
static struct sb_testhost_run *call_files(const char *obj, const char *meth,
					  const char **args,
					  const struct sb_testhost_file *files)
{
	struct sb_testhost_run *x = sb_testhost_run(th, obj, meth, args, files);
	ck_assert_ptr_nonnull(x);
	ck_assert_msg(x->ran, "%s.%s refused before it ran: %s", obj, meth,
		      x->err.message);
	struct sb_error rerr;
	ck_assert_msg(!sb_result_error(x->result, &rerr), "result: %s",
		      rerr.message);
	return x;
}

static struct sb_testhost_run *call(const char *obj, const char *meth,
				    const char **args)
{
	return call_files(obj, meth, args, NULL);
}

static const char *str(const struct sb_testhost_run *x, size_t row,
		       const char *name)
{
	return sb_testhost_text(x, row, name);
}

/* A boolean / number cell the row must have. */
static bool flag(const struct sb_testhost_run *x, size_t row, const char *name)
{
	bool b = false;
	ck_assert_msg(sb_testhost_bool(x, row, name, &b), "no %s", name);
	return b;
}

static int64_t num(const struct sb_testhost_run *x, size_t row,
		   const char *name)
{
	int64_t i = 0;
	ck_assert_msg(sb_testhost_int(x, row, name, &i), "no %s", name);
	return i;
}

static void done(struct sb_testhost_run *x) { sb_testhost_run_free(x); }

/* Open (and close again) another test host on the same store: another
 * instance, a reload of this one, or another process. */
static enum sb_status open_other(const char *instance, struct sb_error *err)
{
	struct sb_testhost *h = new_host(instance);
	enum sb_status st = sb_testhost_open(h, err);
	sb_testhost_free(h);
	return st;
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static size_t listed(const char *mailbox, const char *folder)
{
	char mb[128], fo[128];
	snprintf(mb, sizeof mb, "Mailbox=%s", mailbox);
	snprintf(fo, sizeof fo, "Folder=%s", folder);
	const char *a[] = {mb, fo, "PageSize=1000", NULL};
	struct sb_testhost_run *x = call("Email", "List", a);
	ck_assert_msg(x->status == SB_OK, "List: %s", x->err.message);
	size_t n = sb_testhost_rows(x);
	done(x);
	return n;
}

/* ---- tests ---------------------------------------------------------- */

START_TEST(test_send_and_load)
{
	const char *a[] = {"To=bob@example.test",
			   "To=nobody@example.test",
			   "Cc=carol@example.test",
			   "Bcc=alice@example.test",
			   "Subject=Grüße, \xe2\x82\xac 100",
			   "Body=Hallo Bob,\nviele Grüße.\n",
			   NULL};
	const struct sb_testhost_file files[] = {
	    {"Attachments", "a.txt", "text/plain", "hello", 5},
	    SB_TESTHOST_FILE_END};
	struct sb_testhost_run *x = call_files("Email", "Send", a, files);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert(sb_testhost_has_text(x, 0, "Accepted", "bob@example.test"));
	ck_assert(sb_testhost_has_text(x, 0, "Accepted", "carol@example.test"));
	ck_assert(sb_testhost_has_text(
	    x, 0, "Rejected",
	    "nobody@example.test: no such mailbox in this store"));
	ck_assert_str_eq(str(x, 0, "Folder"), "Sent Items");
	char id[128];
	snprintf(id, sizeof id, "Id=%s", str(x, 0, "Id"));
	done(x);
	ck_assert_uint_eq(listed("bob@example.test", "Inbox"), 1);
	ck_assert_uint_eq(listed("carol@example.test", "inbox"), 1);
	ck_assert_uint_eq(listed("alice@example.test", "Inbox"), 1); /* Bcc */
	ck_assert_uint_eq(listed("alice@example.test", "sentitems"), 1);
	ck_assert_uint_eq(listed("alice@example.test", "Outbox"), 0);

	/* The sender's copy keeps Bcc; the delivered ones do not. */
	const char *l[] = {id, NULL};
	x = call("Email", "Load", l);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Subject"), "Grüße, \xe2\x82\xac 100");
	ck_assert(sb_testhost_has_text(x, 0, "Bcc", "alice@example.test"));
	done(x);

	const char *lb[] = {"Mailbox=bob@example.test", "Folder=Inbox", NULL};
	x = call("Email", "List", lb);
	char bid[128];
	snprintf(bid, sizeof bid, "Id=%s", str(x, 0, "Id"));
	ck_assert_str_eq(str(x, 0, "From"), "alice@example.test");
	done(x);
	const char *lbl[] = {"Mailbox=bob@example.test", bid, NULL};
	x = call("Email", "Load", lbl);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Body"), "Hallo Bob,\nviele Grüße.\n");
	ck_assert_ptr_null(str(x, 0, "Bcc"));
	const struct sb_value *att = sb_testhost_cell(x, 0, "Attachments");
	ck_assert_ptr_nonnull(att);
	ck_assert_uint_eq(att->count, 1);
	ck_assert_str_eq(att->items[0].f.name, "a.txt");
	ck_assert_uint_eq(att->items[0].f.size, 5);
	ck_assert(memcmp(att->items[0].f.data, "hello", 5) == 0);
	done(x);
}
END_TEST

START_TEST(test_flags_move_delete)
{
	const char *a[] = {"To=bob@example.test", "Subject=s", NULL};
	struct sb_testhost_run *x = call("Email", "Send", a);
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	const char *lb[] = {"Mailbox=bob@example.test", NULL};
	x = call("Email", "List", lb);
	ck_assert_uint_eq(sb_testhost_rows(x), 1);
	char id[128], idarg[160];
	snprintf(id, sizeof id, "%s", str(x, 0, "Id"));
	snprintf(idarg, sizeof idarg, "Id=%s", id);
	ck_assert(!flag(x, 0, "IsRead"));
	done(x);

	const char *mr[] = {"Mailbox=bob@example.test", idarg, NULL};
	x = call("Email", "MarkRead", mr);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Id"), id);
	done(x);
	x = call("Email", "List", lb);
	ck_assert_str_eq(str(x, 0, "Id"), id);
	ck_assert(flag(x, 0, "IsRead"));
	done(x);
	const char *mu[] = {"Mailbox=bob@example.test", idarg, "IsRead=false",
			    NULL};
	x = call("Email", "MarkRead", mu);
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	x = call("Email", "Load", mr);
	ck_assert_int_eq(x->status, SB_OK);
	ck_assert(!flag(x, 0, "IsRead"));
	done(x);

	const char *fc[] = {"Mailbox=bob@example.test", "Name=Projects", NULL};
	x = call("Folder", "Create", fc);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	done(x);
	x = call("Folder", "Create", fc);
	ck_assert_int_eq(x->status, SB_ERR_CONFLICT);
	done(x);
	const char *mv[] = {"Mailbox=bob@example.test", idarg,
			    "Folder=projects", NULL};
	x = call("Email", "Move", mv);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Folder"), "Projects");
	done(x);
	ck_assert_uint_eq(listed("bob@example.test", "Inbox"), 0);
	ck_assert_uint_eq(listed("bob@example.test", "Projects"), 1);

	const char *fl[] = {"Mailbox=bob@example.test", NULL};
	x = call("Folder", "List", fl);
	ck_assert_uint_eq(sb_testhost_rows(x), 6);
	ck_assert_str_eq(str(x, 0, "Id"), "inbox");
	ck_assert_str_eq(str(x, 5, "Name"), "Projects");
	ck_assert_int_eq(num(x, 5, "TotalCount"), 1);
	ck_assert_int_eq(num(x, 5, "UnreadCount"), 1);
	done(x);

	x = call("Email", "Delete", mr);
	ck_assert_int_eq(x->status, SB_OK);
	ck_assert_str_eq(str(x, 0, "Folder"), "Deleted Items");
	done(x);
	ck_assert_uint_eq(listed("bob@example.test", "deleteditems"), 1);
	x = call("Email", "Delete", mr);
	ck_assert_int_eq(x->status, SB_OK);
	ck_assert_ptr_null(str(x, 0, "Folder"));
	done(x);
	x = call("Email", "Load", mr);
	ck_assert_int_eq(x->status, SB_ERR_NOT_FOUND);
	ck_assert_str_eq(x->err.code, "ErrorItemNotFound");
	done(x);
}
END_TEST

START_TEST(test_bad_input)
{
	struct sb_testhost_run *x;
	const char *bad_folders[] = {"Folder=../bob@example.test",
				     "Folder=/etc", "Folder=..",
				     "Folder=.hidden", NULL};
	for (size_t i = 0; bad_folders[i]; i++) {
		const char *a[] = {bad_folders[i], NULL};
		x = call("Email", "List", a);
		ck_assert_msg(x->status == SB_ERR_INVALID_INPUT, "%s: %d",
			      bad_folders[i], x->status);
		done(x);
	}
	const char *nf[] = {"Folder=Nope", NULL};
	x = call("Email", "List", nf);
	ck_assert_int_eq(x->status, SB_ERR_NOT_FOUND);
	ck_assert_str_eq(x->err.code, "ErrorFolderNotFound");
	ck_assert_ptr_nonnull(strstr(x->err.message, "Nope"));
	done(x);
	const char *fc[] = {"Name=../x", NULL};
	x = call("Folder", "Create", fc);
	ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
	done(x);
	const char *fc2[] = {"Name=Calendar", NULL};
	x = call("Folder", "Create", fc2);
	ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
	done(x);
	const char *ids[] = {"Id=../../x", "Id=a/b", "Id=.x", NULL};
	for (size_t i = 0; ids[i]; i++) {
		const char *a[] = {ids[i], NULL};
		x = call("Email", "Load", a);
		ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
		done(x);
		x = call("Appointment", "Load", a);
		ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
		done(x);
	}
	const char *um[] = {"Mailbox=zed@example.test", NULL};
	x = call("Email", "List", um);
	ck_assert_int_eq(x->status, SB_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(x->err.message, "zed@example.test"));
	done(x);
	const char *from[] = {"To=bob@example.test", "From=bob@example.test",
			      NULL};
	x = call("Email", "Send", from);
	ck_assert_int_eq(x->status, SB_ERR_UPSTREAM_DENIED);
	done(x);
	/* Larger than max_message_size (1 MiB). */
	char *big = malloc(900 * 1024);
	ck_assert_ptr_nonnull(big);
	memset(big, 'A', 900 * 1024);
	const char *to[] = {"To=bob@example.test", NULL};
	const struct sb_testhost_file bigf[] = {{"Attachments", "b.bin",
						 "application/octet-stream",
						 big, 900 * 1024},
						SB_TESTHOST_FILE_END};
	x = call_files("Email", "Send", to, bigf);
	ck_assert_int_eq(x->status, SB_ERR_PAYLOAD_TOO_LARGE);
	done(x);
	free(big);
}
END_TEST

START_TEST(test_quota)
{
	close_store();
	snprintf(quota, sizeof quota, "8KiB");
	configure(th);
	open_store();
	char body[1500];
	memset(body, 'x', sizeof body - 1);
	body[sizeof body - 1] = '\0';
	char barg[1600];
	snprintf(barg, sizeof barg, "Body=%s", body);
	int ok = 0, full = 0;
	for (int i = 0; i < 20; i++) {
		const char *a[] = {"Mailbox=bob@example.test", barg, NULL};
		struct sb_testhost_run *x = call("Email", "SaveDraft", a);
		if (x->status == SB_OK)
			ok++;
		else {
			ck_assert_int_eq(x->status, SB_ERR_QUOTA);
			ck_assert_str_eq(x->err.code, "ErrorQuotaExceeded");
			ck_assert_ptr_nonnull(
			    strstr(x->err.message, "mailbox full"));
			full++;
		}
		done(x);
	}
	ck_assert_int_gt(ok, 1);
	ck_assert_int_gt(full, 1);
	/* Mail to the full mailbox is refused and says so. */
	const char *s[] = {"To=bob@example.test", "Subject=x", barg, NULL};
	struct sb_testhost_run *x = call("Email", "Send", s);
	ck_assert_int_eq(x->status, SB_OK);
	ck_assert(sb_testhost_has_text(
	    x, 0, "Rejected",
	    "bob@example.test: mailbox full (ErrorQuotaExceeded)"));
	done(x);
	/* Accounting survives a restart. */
	close_store();
	open_store();
	const char *a[] = {"Mailbox=bob@example.test", barg, NULL};
	x = call("Email", "SaveDraft", a);
	ck_assert_int_eq(x->status, SB_ERR_QUOTA);
	done(x);
}
END_TEST

START_TEST(test_lock)
{
	/* Another instance of this process naming the same store. */
	struct sb_error err;
	sb_error_clear(&err);
	enum sb_status st = open_other("other", &err);
	ck_assert_int_ne(st, SB_OK);
	ck_assert_ptr_nonnull(strstr(err.message, "instance local"));
	/* The same instance (a reload) shares the store. */
	st = open_other("local", &err);
	ck_assert_msg(st == SB_OK, "%s", err.message);
	/* Another process is refused, naming the lock and our pid. */
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct sb_error e2;
		sb_error_clear(&e2);
		enum sb_status r = open_other("local", &e2);
		dprintf(fds[1], "%d %s", (int)r, e2.message);
		_exit(0);
	}
	close(fds[1]);
	char buf[1024] = "";
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	waitpid(child, NULL, 0);
	char want[64];
	snprintf(want, sizeof want, "held by pid %d", (int)getpid());
	ck_assert_msg(strstr(buf, want) && strstr(buf, ".lock") &&
			  buf[0] != '0',
		      "%s", buf);
	/* Removing .lock does not free the store: the directory itself is
	 * locked too. */
	char lockp[1200];
	snprintf(lockp, sizeof lockp, "%s/.lock", store);
	ck_assert_int_eq(unlink(lockp), 0);
	ck_assert_int_eq(pipe(fds), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct sb_error e2;
		sb_error_clear(&e2);
		enum sb_status r = open_other("local", &e2);
		dprintf(fds[1], "%d %s", (int)r, e2.message);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	waitpid(child, NULL, 0);
	ck_assert_msg(buf[0] != '0' && strstr(buf, "is in use") &&
			  strstr(buf, ".lock was removed"),
		      "a second process opened the store after .lock was "
		      "removed: %s",
		      buf);
	/* Closing the instance releases the lock. */
	close_store();
	child = fork();
	if (child == 0) {
		struct sb_error e2;
		enum sb_status r = open_other("local", &e2);
		_exit(r == SB_OK ? 0 : 1);
	}
	int status = 0;
	waitpid(child, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	open_store();
}
END_TEST

/* Write a record into alice's Outbox as an interrupted Send leaves it. */
static void leave_in_outbox(const char *msgid, bool delivered_to_bob)
{
	const char *to[] = {"bob@example.test", "nobody@example.test"};
	struct sb_mime_message m = {.from = "alice@example.test",
				    .to = to,
				    .n_to = 2,
				    .subject = "interrupted",
				    .body = "b",
				    .message_id = msgid};
	struct sb_buf b;
	sb_buf_init(&b, 0);
	ck_assert_int_eq(sb_mime_build(&m, &b, NULL, NULL), SB_OK);
	char uniq[40], dir[600];
	mapi_unique_for(msgid, "alice@example.test", "sent", uniq);
	struct sb_buf rec;
	sb_buf_init(&rec, 0);
	sb_buf_puts(&rec, "Bcc: carol@example.test\r\n");
	sb_buf_append(&rec, b.data, b.len);
	snprintf(dir, sizeof dir, "%s/alice@example.test/Outbox", store);
	ck_assert_int_eq(mapi_write_atomic(dir, "new", uniq, rec.data, rec.len,
					   true, NULL, NULL),
			 SB_OK);
	if (delivered_to_bob) {
		mapi_unique_for(msgid, "bob@example.test", "inbox", uniq);
		snprintf(dir, sizeof dir, "%s/bob@example.test/Inbox", store);
		ck_assert_int_eq(mapi_write_atomic(dir, "new", uniq, b.data,
						   b.len, true, NULL, NULL),
				 SB_OK);
	}
	sb_buf_free(&b);
	sb_buf_free(&rec);
}

START_TEST(test_outbox_recovery)
{
	close_store();
	leave_in_outbox("<one@example.test>", false);
	leave_in_outbox("<two@example.test>", true);
	/* A half-written file in tmp/ is removed at open. */
	char p[600];
	snprintf(p, sizeof p, "%s/bob@example.test/Inbox/tmp/partial", store);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("From: half", f);
	fclose(f);
	open_store();
	ck_assert_uint_eq(listed("bob@example.test", "Inbox"), 2);
	ck_assert_uint_eq(listed("carol@example.test", "Inbox"), 2);
	ck_assert_uint_eq(listed("alice@example.test", "Outbox"), 0);
	ck_assert_uint_eq(listed("alice@example.test", "Sent Items"), 2);
	snprintf(p, sizeof p, "%s/bob@example.test/Inbox/tmp", store);
	ck_assert_uint_eq(count_files(p), 0);
	/* Delivered copies carry no Bcc line. */
	const char *lb[] = {"Mailbox=carol@example.test", NULL};
	struct sb_testhost_run *x = call("Email", "List", lb);
	for (size_t i = 0; i < 2; i++) {
		char idarg[200];
		snprintf(idarg, sizeof idarg, "Id=%s", str(x, i, "Id"));
		const char *l[] = {"Mailbox=carol@example.test", idarg, NULL};
		struct sb_testhost_run *y = call("Email", "Load", l);
		ck_assert_int_eq(y->status, SB_OK);
		ck_assert_ptr_null(str(y, 0, "Bcc"));
		ck_assert_str_eq(str(y, 0, "Subject"), "interrupted");
		done(y);
	}
	done(x);
	/* Again, with bob having read his copy: still no duplicate. */
	x = call("Email", "List",
		 (const char *[]){"Mailbox=bob@example.test", NULL});
	char idarg[200];
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = call("Email", "MarkRead",
		 (const char *[]){"Mailbox=bob@example.test", idarg, NULL});
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	close_store();
	leave_in_outbox("<one@example.test>", false);
	open_store();
	ck_assert_uint_eq(listed("bob@example.test", "Inbox"), 2);
	ck_assert_uint_eq(listed("carol@example.test", "Inbox"), 2);
	ck_assert_uint_eq(listed("alice@example.test", "Outbox"), 0);
	/* And with carol having moved her copies away, or deleted them to
	 * Deleted Items: not delivered again either. */
	x = call("Email", "List",
		 (const char *[]){"Mailbox=carol@example.test", NULL});
	ck_assert_uint_eq(sb_testhost_rows(x), 2);
	char c0[200], c1[200];
	snprintf(c0, sizeof c0, "Id=%s", str(x, 0, "Id"));
	snprintf(c1, sizeof c1, "Id=%s", str(x, 1, "Id"));
	done(x);
	x = call("Email", "Move",
		 (const char *[]){"Mailbox=carol@example.test", c0,
				  "Folder=drafts", NULL});
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	x = call("Email", "Delete",
		 (const char *[]){"Mailbox=carol@example.test", c1, NULL});
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	close_store();
	leave_in_outbox("<one@example.test>", false);
	leave_in_outbox("<two@example.test>", false);
	open_store();
	ck_assert_uint_eq(listed("carol@example.test", "Inbox"), 0);
	ck_assert_uint_eq(listed("carol@example.test", "Drafts"), 1);
	ck_assert_uint_eq(listed("carol@example.test", "Deleted Items"), 1);
	ck_assert_uint_eq(listed("bob@example.test", "Inbox"), 2);
	ck_assert_uint_eq(listed("alice@example.test", "Outbox"), 0);
}
END_TEST

START_TEST(test_outbox_guard)
{
	const char *a[] = {"To=bob@example.test", "Subject=s", NULL};
	struct sb_testhost_run *x = call("Email", "Send", a);
	ck_assert_int_eq(x->status, SB_OK);
	char idarg[160];
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	const char *mv[] = {idarg, "Folder=outbox", NULL};
	x = call("Email", "Move", mv);
	ck_assert_int_eq(x->status, SB_ERR_CONFLICT);
	ck_assert_str_eq(x->err.code, "ErrorItemIsBeingSent");
	done(x);
	/* A Send in progress: its Outbox item is left alone. */
	leave_in_outbox("<pending@example.test>", false);
	char uniq[40];
	mapi_unique_for("<pending@example.test>", "alice@example.test", "sent",
			uniq);
	snprintf(idarg, sizeof idarg, "Id=%s", uniq);
	const char *id_only[] = {idarg, NULL};
	const char *mv2[] = {idarg, "Folder=Inbox", NULL};
	const char *meths[] = {"MarkRead", "Delete"};
	for (size_t i = 0; i < 2; i++) {
		x = call("Email", meths[i], id_only);
		ck_assert_int_eq(x->status, SB_ERR_CONFLICT);
		done(x);
	}
	x = call("Email", "Move", mv2);
	ck_assert_int_eq(x->status, SB_ERR_CONFLICT);
	done(x);
	x = call("Email", "Load", id_only);
	ck_assert_int_eq(x->status, SB_OK);
	ck_assert_str_eq(str(x, 0, "Folder"), "Outbox");
	done(x);
}
END_TEST

START_TEST(test_paging)
{
	for (int i = 0; i < 7; i++) {
		char s[64];
		snprintf(s, sizeof s, "Subject=m%d", i);
		const char *a[] = {"To=bob@example.test", s, NULL};
		struct sb_testhost_run *x = call("Email", "Send", a);
		ck_assert_int_eq(x->status, SB_OK);
		done(x);
	}
	char seen[7] = {0};
	char tok[1200] = "";
	int pages = 0;
	for (; pages < 10; pages++) {
		const char *a[] = {"Mailbox=bob@example.test", "PageSize=3",
				   tok[0] ? tok : NULL, NULL};
		struct sb_testhost_run *x = call("Email", "List", a);
		ck_assert_int_eq(x->status, SB_OK);
		for (size_t i = 0; i < sb_testhost_rows(x); i++) {
			int k = str(x, i, "Subject")[1] - '0';
			ck_assert(!seen[k]);
			seen[k] = 1;
		}
		const char *next = sb_testhost_next_page(x);
		if (!next) {
			done(x);
			break;
		}
		snprintf(tok, sizeof tok, "PageToken=%s", next);
		done(x);
	}
	ck_assert_int_eq(pages, 2);
	for (int i = 0; i < 7; i++)
		ck_assert(seen[i]);
	const char *bad[] = {"PageToken=bm9wZQ==", NULL};
	struct sb_testhost_run *x = call("Email", "List", bad);
	ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(x->err.code, "ErrorInvalidPageToken");
	done(x);
	/* A token of bob's Inbox is refused for another folder and when
	 * any character of it is changed. */
	const char *first[] = {"Mailbox=bob@example.test", "PageSize=3", NULL};
	x = call("Email", "List", first);
	ck_assert_ptr_nonnull(sb_testhost_next_page(x));
	snprintf(tok, sizeof tok, "PageToken=%s", sb_testhost_next_page(x));
	done(x);
	const char *other[] = {"Mailbox=bob@example.test", "Folder=Sent Items",
			       tok, NULL};
	x = call("Email", "List", other);
	ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(x->err.code, "ErrorInvalidPageToken");
	done(x);
	char *last = tok + strlen(tok) - 1;
	*last = *last == 'A' ? 'Q' : 'A';
	const char *changed[] = {"Mailbox=bob@example.test", tok, NULL};
	x = call("Email", "List", changed);
	ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(x->err.code, "ErrorInvalidPageToken");
	done(x);
}
END_TEST

START_TEST(test_appointments_and_tasks)
{
	const char *a[] = {"Subject=Review; budget, Q3 \\ final",
			   "Body=Line 1\nLine 2, with; specials \\",
			   "Location=Room 1",
			   "Start=2026-12-01T09:00:00+01:00",
			   "End=2026-12-01T10:30:00+01:00",
			   "TimeZone=Europe/Berlin",
			   "Reminder=15",
			   "Categories=Work",
			   "Categories=a,b",
			   NULL};
	struct sb_testhost_run *x = call("Appointment", "Create", a);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	char idarg[100];
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	const char *l[] = {idarg, NULL};
	x = call("Appointment", "Load", l);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Subject"), "Review; budget, Q3 \\ final");
	ck_assert_str_eq(str(x, 0, "Body"),
			 "Line 1\nLine 2, with; specials \\");
	ck_assert_str_eq(str(x, 0, "Start"), "2026-12-01T08:00:00Z");
	ck_assert_str_eq(str(x, 0, "End"), "2026-12-01T09:30:00Z");
	ck_assert_int_eq(num(x, 0, "Reminder"), 15);
	ck_assert(sb_testhost_has_text(x, 0, "Categories", "a,b"));
	ck_assert(sb_testhost_has_text(x, 0, "Categories", "Work"));
	done(x);
	const char *bad[] = {"Subject=x", "Start=2026-12-01T09:00:00Z",
			     "End=2026-12-01T08:00:00Z", NULL};
	x = call("Appointment", "Create", bad);
	ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
	done(x);
	const char *w[] = {"WindowStart=2026-12-01T00:00:00Z",
			   "WindowEnd=2026-12-02T00:00:00Z", NULL};
	x = call("Appointment", "List", w);
	ck_assert_uint_eq(sb_testhost_rows(x), 1);
	done(x);
	const char *w2[] = {"WindowStart=2026-12-02T00:00:00Z", NULL};
	x = call("Appointment", "List", w2);
	ck_assert_uint_eq(sb_testhost_rows(x), 0);
	done(x);
	x = call("Appointment", "Delete", l);
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	x = call("Appointment", "Load", l);
	ck_assert_int_eq(x->status, SB_ERR_NOT_FOUND);
	done(x);

	const char *t[] = {"Subject=Write report",
			   "DueDate=2026-12-24",
			   "StartDate=2026-12-01",
			   "Status=WaitingOnOthers",
			   "Importance=High",
			   "Owner=Alice",
			   NULL};
	x = call("Task", "Create", t);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = call("Task", "Load", l);
	ck_assert_int_eq(x->status, SB_OK);
	ck_assert_str_eq(str(x, 0, "Status"), "WaitingOnOthers");
	ck_assert_str_eq(str(x, 0, "DueDate"), "2026-12-24");
	ck_assert_str_eq(str(x, 0, "Importance"), "High");
	ck_assert_str_eq(str(x, 0, "Owner"), "Alice");
	done(x);
	x = call("Task", "Complete", l);
	ck_assert_int_eq(x->status, SB_OK);
	ck_assert_str_eq(str(x, 0, "Status"), "Completed");
	ck_assert_int_eq(num(x, 0, "PercentComplete"), 100);
	done(x);
	const char *tl[] = {"Status=Completed", NULL};
	x = call("Task", "List", tl);
	ck_assert_uint_eq(sb_testhost_rows(x), 1);
	done(x);
	x = call("Task", "Delete", l);
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	x = call("Task", "Delete", l);
	ck_assert_int_eq(x->status, SB_ERR_NOT_FOUND);
	done(x);
}
END_TEST

START_TEST(test_ical_fold)
{
	/* 200 two-byte characters: libical's folding must not split one. */
	char v[401];
	for (int i = 0; i < 200; i++) {
		v[2 * i] = (char)0xc3;
		v[2 * i + 1] = (char)0xa4;
	}
	v[400] = '\0';
	icalcomponent *cal = mapi_ical_calendar();
	icalcomponent *todo = icalcomponent_new(ICAL_VTODO_COMPONENT);
	icalcomponent_add_component(cal, todo);
	ck_assert(mapi_ical_add_text(todo, ICAL_SUMMARY_PROPERTY, v));
	const char *cats[] = {"Work", "a,b", "c;d\\e"};
	ck_assert(mapi_ical_add_list(todo, ICAL_CATEGORIES_PROPERTY, cats, 3));
	char *text = mapi_ical_text(cal);
	icalcomponent_free(cal);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "\r\nCATEGORIES:Work,a\\,b,c\\;d\\\\e\r\n"),
		      "%s", text);
	const char *p = text;
	while (*p) {
		const char *e = strstr(p, "\r\n");
		ck_assert_ptr_nonnull(e);
		ck_assert_int_le(e - p, 75);
		ck_assert(((unsigned char)e[-1] & 0xC0) != 0xC0);
		p = e + 2;
	}
	const char *why;
	cal = mapi_ical_parse(text, strlen(text), &why);
	ck_assert_ptr_nonnull(cal);
	todo = icalcomponent_get_first_component(cal, ICAL_VTODO_COMPONENT);
	ck_assert_ptr_nonnull(todo);
	char *u = mapi_ical_text_of(todo, ICAL_SUMMARY_PROPERTY);
	ck_assert_str_eq(u, v);
	free(u);
	char **got;
	size_t n;
	ck_assert_int_eq(
	    mapi_ical_list_of(todo, ICAL_CATEGORIES_PROPERTY, &got, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(got[i], cats[i]);
	mapi_names_free(got, n);
	icalcomponent_free(cal);
	free(text);
	/* The limits, before libical sees the data. */
	ck_assert_ptr_null(
	    mapi_ical_parse("BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\n", 30, &why));
	ck_assert_str_eq(why, "unterminated component");
	ck_assert_str_eq(mapi_ical_precheck("BEGIN:VCALENDAR\r\nno colon\r\n"
					    "END:VCALENDAR\r\n",
					    42),
			 "malformed content line");
	ck_assert_str_eq(mapi_ical_precheck("SUMMARY:x\r\n", 11),
			 "property outside a component");
	ck_assert_str_eq(mapi_ical_precheck("END:VCALENDAR\r\n", 15),
			 "END without BEGIN");
	ck_assert_str_eq(mapi_ical_precheck("BEGIN:A\0", 8),
			 "NUL byte in iCalendar data");
	struct sb_buf big;
	sb_buf_init(&big, 0);
	for (int i = 0; i <= MAPI_ICAL_MAX_DEPTH; i++)
		sb_buf_puts(&big, "BEGIN:X\r\n");
	ck_assert_str_eq(mapi_ical_precheck(big.data, big.len),
			 "components nested too deeply");
	sb_buf_free(&big);
	/* libical begins a component at a BEGIN with parameters, or whose
	 * name is folded, too: they count. */
	static const char *const begins[] = {
	    "BEGIN;X-A=1:X\r\n", "BEG\r\n IN:X\r\n", "B\r\n\tEGIN\r\n :X\r\n"};
	for (size_t k = 0; k < 3; k++) {
		sb_buf_init(&big, 0);
		sb_buf_puts(&big, "BEGIN:VCALENDAR\r\n");
		for (int i = 0; i < MAPI_ICAL_MAX_DEPTH; i++)
			sb_buf_puts(&big, begins[k]);
		ck_assert_msg(mapi_ical_precheck(big.data, big.len) &&
				  strcmp(mapi_ical_precheck(big.data, big.len),
					 "components nested too deeply") == 0,
			      "form %zu", k);
		sb_buf_free(&big);
	}
	ck_assert_str_eq(mapi_ical_precheck("BEGIN:VCALENDAR\r\nEN\r\n D:"
					    "VCALENDAR\r\nEND:VCALENDAR\r\n",
					    50),
			 "END without BEGIN");
	ck_assert_str_eq(mapi_ical_precheck("BEGIN:VCALENDAR\r\nSUMM\r\n "
					    "ARY\r\nEND:VCALENDAR\r\n",
					    44),
			 "malformed content line");
	sb_buf_init(&big, 0);
	sb_buf_puts(&big, "BEGIN:VCALENDAR\r\n");
	for (int i = 0; i < MAPI_ICAL_MAX_COMPS; i++)
		sb_buf_puts(&big, "BEGIN:X\r\nEND:X\r\n");
	ck_assert_str_eq(mapi_ical_precheck(big.data, big.len),
			 "too many iCalendar components");
	sb_buf_free(&big);
	sb_buf_init(&big, 0);
	sb_buf_puts(&big, "BEGIN:VCALENDAR\r\n");
	for (int i = 0; i < MAPI_ICAL_MAX_LINES; i++)
		sb_buf_puts(&big, "X-A:1\r\n");
	ck_assert_str_eq(mapi_ical_precheck(big.data, big.len),
			 "too many iCalendar lines");
	sb_buf_free(&big);
	/* Folded lines are one line; a zone name never becomes a path. */
	ck_assert_ptr_null(mapi_ical_precheck("BEGIN:VCALENDAR\r\nSUMM\r\n "
					      "ARY:x\r\nEND:VCALENDAR\r\n",
					      46));
	ck_assert(mapi_ical_zone("Europe/Berlin") != NULL);
	ck_assert(mapi_ical_zone("../../../etc/passwd") == NULL);
	ck_assert(mapi_ical_zone("Europe//Berlin") == NULL);
	ck_assert(mapi_ical_zone("W. Europe Standard Time") == NULL);
}
END_TEST

static void *str_copy(const void *v) { return strdup(v); }

START_TEST(test_ics_cache)
{
	static struct mapi_cache c = MAPI_CACHE_INIT(str_copy, free);
	char ck[MAPI_CHANGEKEY_LEN + 1];
	memset(ck, 'a', MAPI_CHANGEKEY_LEN);
	ck[MAPI_CHANGEKEY_LEN] = '\0';
	ck_assert_ptr_null(mapi_cache_get(&c, ck));
	mapi_cache_put(&c, ck, "one", 4);
	char *v = mapi_cache_get(&c, ck);
	ck_assert_str_eq(v, "one");
	free(v);
	/* Replaced under the same key; a wrong-length key is never kept. */
	mapi_cache_put(&c, ck, "two", 4);
	v = mapi_cache_get(&c, ck);
	ck_assert_str_eq(v, "two");
	free(v);
	mapi_cache_put(&c, "short", "x", 2);
	ck_assert_ptr_null(mapi_cache_get(&c, "short"));
	/* Many keys: every one found while they fit their slots. */
	char keys[500][MAPI_CHANGEKEY_LEN + 1];
	for (int i = 0; i < 500; i++) {
		snprintf(keys[i], sizeof keys[i], "%032x",
			 (unsigned)i * 2654435761u);
		mapi_cache_put(&c, keys[i], keys[i], 40);
	}
	int found = 0;
	for (int i = 0; i < 500; i++) {
		v = mapi_cache_get(&c, keys[i]);
		if (v && strcmp(v, keys[i]) == 0)
			found++;
		free(v);
	}
	ck_assert_int_ge(found, 495);
	/* An item too large for the bound is not kept. */
	memset(ck, 'b', MAPI_CHANGEKEY_LEN);
	mapi_cache_put(&c, ck, "big", MAPI_CACHE_BYTES);
	ck_assert_ptr_null(mapi_cache_get(&c, ck));
	mapi_cache_clear(&c);
	ck_assert_ptr_null(mapi_cache_get(&c, keys[0]));
}
END_TEST

/* The ChangeKey of the single row of x (copied). */
static void key_of(const struct sb_testhost_run *x, char *out, size_t len)
{
	const char *k = str(x, 0, "ChangeKey");
	ck_assert_msg(k != NULL, "no ChangeKey");
	ck_assert_uint_eq(strlen(k), MAPI_CHANGEKEY_LEN);
	snprintf(out, len, "%s", k);
}

START_TEST(test_change_key)
{
	const char *a[] = {"To=bob@example.test", "Subject=ck", NULL};
	struct sb_testhost_run *x = call("Email", "Send", a);
	ck_assert_int_eq(x->status, SB_OK);
	char sent_key[64], k1[64], k2[64], k3[64], k4[64], k5[64], k6[64];
	key_of(x, sent_key, sizeof sent_key);
	char sid[160];
	snprintf(sid, sizeof sid, "Id=%s", str(x, 0, "Id"));
	done(x);
	/* Send's key is the one Load gives for the Sent Items copy. */
	const char *ls[] = {sid, NULL};
	x = call("Email", "Load", ls);
	ck_assert_int_eq(x->status, SB_OK);
	key_of(x, k1, sizeof k1);
	ck_assert_str_eq(k1, sent_key);
	done(x);

	const char *lb[] = {"Mailbox=bob@example.test", NULL};
	x = call("Email", "List", lb);
	char idarg[160];
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	key_of(x, k1, sizeof k1);
	done(x);
	const char *l[] = {"Mailbox=bob@example.test", idarg, NULL};
	/* Unchanged: Load twice, and List, give the same key. */
	x = call("Email", "Load", l);
	key_of(x, k2, sizeof k2);
	done(x);
	x = call("Email", "Load", l);
	key_of(x, k3, sizeof k3);
	done(x);
	ck_assert_str_eq(k1, k2);
	ck_assert_str_eq(k2, k3);
	/* MarkRead changes it, and says the new one. */
	x = call("Email", "MarkRead", l);
	ck_assert_int_eq(x->status, SB_OK);
	key_of(x, k4, sizeof k4);
	done(x);
	ck_assert_str_ne(k4, k3);
	x = call("Email", "Load", l);
	key_of(x, k5, sizeof k5);
	done(x);
	ck_assert_str_eq(k4, k5);
	/* Read, unread, read again: every change gives a new key, even back
	 * to a state seen before. */
	const char *mu[] = {"Mailbox=bob@example.test", idarg, "IsRead=false",
			    NULL};
	x = call("Email", "MarkRead", mu);
	key_of(x, k5, sizeof k5);
	done(x);
	ck_assert_str_ne(k5, k4);
	ck_assert_str_ne(k5, k3);
	usleep(2000);
	x = call("Email", "MarkRead", l);
	key_of(x, k6, sizeof k6);
	done(x);
	ck_assert_str_ne(k6, k4);
	ck_assert_str_ne(k6, k5);
	/* Move changes it; Load in the new folder agrees. */
	const char *fc[] = {"Mailbox=bob@example.test", "Name=Archive", NULL};
	x = call("Folder", "Create", fc);
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	const char *mv[] = {"Mailbox=bob@example.test", idarg, "Folder=Archive",
			    NULL};
	x = call("Email", "Move", mv);
	ck_assert_int_eq(x->status, SB_OK);
	key_of(x, k1, sizeof k1);
	done(x);
	ck_assert_str_ne(k1, k6);
	x = call("Email", "Load", l);
	key_of(x, k2, sizeof k2);
	ck_assert_str_eq(str(x, 0, "Folder"), "Archive");
	done(x);
	ck_assert_str_eq(k1, k2);
	/* Delete (to Deleted Items) changes it too. */
	x = call("Email", "Delete", l);
	ck_assert_int_eq(x->status, SB_OK);
	key_of(x, k3, sizeof k3);
	done(x);
	ck_assert_str_ne(k3, k2);
	/* A draft: SaveDraft's key is Load's. */
	const char *d[] = {"Subject=draft", NULL};
	x = call("Email", "SaveDraft", d);
	ck_assert_int_eq(x->status, SB_OK);
	key_of(x, k1, sizeof k1);
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	const char *ld[] = {idarg, NULL};
	x = call("Email", "Load", ld);
	key_of(x, k2, sizeof k2);
	done(x);
	ck_assert_str_eq(k1, k2);
	/* Content changed in place by another tool: a new key. */
	char path[700];
	snprintf(path, sizeof path, "%s/alice@example.test/Drafts/cur", store);
	DIR *dd = opendir(path);
	ck_assert_ptr_nonnull(dd);
	struct dirent *de;
	char file[1200] = "";
	while ((de = readdir(dd)))
		if (de->d_name[0] != '.')
			snprintf(file, sizeof file, "%s/%s", path, de->d_name);
	closedir(dd);
	FILE *f = fopen(file, "a");
	ck_assert_ptr_nonnull(f);
	fputs("more\n", f);
	fclose(f);
	x = call("Email", "Load", ld);
	key_of(x, k3, sizeof k3);
	done(x);
	ck_assert_str_ne(k3, k2);
}
END_TEST

/* Write a foreign appointment file into alice's calendar. */
static void put_foreign_ics(const char *id, const char *summary,
			    const char *rrule)
{
	char path[600];
	snprintf(path, sizeof path, "%s/alice@example.test/Calendar/%s.ics",
		 store, id);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\n"
		"BEGIN:VEVENT\r\nUID:%s\r\nDTSTART:20261204T150000Z\r\n"
		"DTEND:20261204T160000Z\r\nSUMMARY:%s\r\n%s%s%s"
		"END:VEVENT\r\nEND:VCALENDAR\r\n",
		id, summary, rrule ? "RRULE:" : "", rrule ? rrule : "",
		rrule ? "\r\n" : "");
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_ics_change_key_and_recurrence)
{
	/* Task: Create's key is Load's; Complete checks a given key. */
	const char *t[] = {"Subject=ck task", NULL};
	struct sb_testhost_run *x = call("Task", "Create", t);
	ck_assert_int_eq(x->status, SB_OK);
	char k0[64], k1[64], k2[64], idarg[100], ckarg[100];
	key_of(x, k0, sizeof k0);
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	const char *l[] = {idarg, NULL};
	for (int i = 0; i < 2; i++) {
		x = call("Task", "Load", l);
		ck_assert_int_eq(x->status, SB_OK);
		key_of(x, k1, sizeof k1);
		ck_assert_str_eq(k1, k0);
		done(x);
	}
	const char *stale[] = {
	    idarg, "ChangeKey=00000000000000000000000000000000", NULL};
	x = call("Task", "Complete", stale);
	ck_assert_int_eq(x->status, SB_ERR_CONFLICT);
	ck_assert_str_eq(x->err.code, "ErrorIrresolvableConflict");
	ck_assert_msg(strstr(x->err.message, "Load it again"), "%s",
		      x->err.message);
	done(x);
	x = call("Task", "Load", l);
	ck_assert_str_eq(str(x, 0, "Status"), "NotStarted");
	key_of(x, k1, sizeof k1);
	ck_assert_str_eq(k1, k0);
	done(x);
	snprintf(ckarg, sizeof ckarg, "ChangeKey=%s", k0);
	const char *fresh[] = {idarg, ckarg, NULL};
	x = call("Task", "Complete", fresh);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Status"), "Completed");
	key_of(x, k1, sizeof k1);
	ck_assert_str_ne(k1, k0);
	done(x);
	x = call("Task", "Load", l);
	key_of(x, k2, sizeof k2);
	ck_assert_str_eq(k2, k1);
	done(x);
	/* k0 is stale now; with an empty key Complete just writes. */
	x = call("Task", "Complete", fresh);
	ck_assert_int_eq(x->status, SB_ERR_CONFLICT);
	done(x);
	const char *nokey[] = {idarg, "ChangeKey=", NULL};
	x = call("Task", "Complete", nokey);
	ck_assert_int_eq(x->status, SB_OK);
	key_of(x, k2, sizeof k2);
	ck_assert_str_ne(k2, k1);
	ck_assert_str_ne(k2, k0);
	done(x);
	x = call("Task", "List", (const char *[]){NULL});
	ck_assert_uint_eq(sb_testhost_rows(x), 1);
	ck_assert_str_eq(str(x, 0, "ChangeKey"), k2);
	done(x);

	/* Appointment: a key, no Recurrence of its own. */
	const char *a[] = {"Subject=ck appt", "Start=2026-12-03T09:00:00Z",
			   "End=2026-12-03T10:00:00Z", "Recurrence=", NULL};
	x = call("Appointment", "Create", a);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	key_of(x, k0, sizeof k0);
	ck_assert_ptr_null(str(x, 0, "Recurrence"));
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = call("Appointment", "Load", l);
	key_of(x, k1, sizeof k1);
	ck_assert_str_eq(k1, k0);
	ck_assert_ptr_null(str(x, 0, "Recurrence"));
	done(x);
	/* A Recurrence input is checked and stored; Load shows it, a List
	 * over a window each occurrence. */
	const char *rec[] = {"Subject=weekly", "Start=2026-12-03T09:00:00Z",
			     "End=2026-12-03T10:00:00Z",
			     "Recurrence=FREQ=WEEKLY;BYDAY=TH;COUNT=4", NULL};
	x = call("Appointment", "Create", rec);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Recurrence"),
			 "FREQ=WEEKLY;BYDAY=TH;COUNT=4");
	char recid[100];
	snprintf(recid, sizeof recid, "Id=%s", str(x, 0, "Id"));
	done(x);
	const char *win[] = {"WindowStart=2026-12-09T00:00:00Z",
			     "WindowEnd=2027-01-31T00:00:00Z", NULL};
	x = call("Appointment", "List", win);
	ck_assert_uint_eq(sb_testhost_rows(x), 3);
	ck_assert_str_eq(str(x, 0, "Start"), "2026-12-10T09:00:00Z");
	ck_assert_str_eq(str(x, 2, "End"), "2026-12-24T10:00:00Z");
	ck_assert_str_eq(str(x, 1, "Recurrence"),
			 "FREQ=WEEKLY;BYDAY=TH;COUNT=4");
	done(x);
	x = call("Appointment", "Delete", (const char *[]){recid, NULL});
	ck_assert_int_eq(x->status, SB_OK);
	done(x);
	const char *badrec[] = {"Subject=hourly", "Start=2026-12-03T09:00:00Z",
				"End=2026-12-03T10:00:00Z",
				"Recurrence=FREQ=HOURLY", NULL};
	x = call("Appointment", "Create", badrec);
	ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
	ck_assert_str_eq(x->err.code, "ErrorInvalidRecurrence");
	ck_assert_msg(strstr(x->err.message, "FREQ=HOURLY is not supported"),
		      "%s", x->err.message);
	done(x);
	x = call("Appointment", "List", (const char *[]){NULL});
	ck_assert_uint_eq(sb_testhost_rows(x), 1); /* nothing stored */
	done(x);

	/* A file another tool wrote: its RRULE is shown, canonical when it
	 * is of the shared subset, as written otherwise. */
	put_foreign_ics("foreign-1", "Monthly",
			"freq=monthly;byday=-1fr;"
			"interval=1;count=3");
	put_foreign_ics("foreign-2", "Weekly", "FREQ=WEEKLY;WKST=SU;BYDAY=MO");
	put_foreign_ics("foreign-3", "Single", NULL);
	const char *f1[] = {"Id=foreign-1", NULL};
	x = call("Appointment", "Load", f1);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Recurrence"),
			 "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3");
	key_of(x, k0, sizeof k0);
	done(x);
	const char *f2[] = {"Id=foreign-2", NULL};
	x = call("Appointment", "Load", f2);
	/* Not of the subset: as libical writes it. */
	ck_assert_str_eq(str(x, 0, "Recurrence"),
			 "FREQ=WEEKLY;BYDAY=MO;WKST=SU");
	done(x);
	const char *f3[] = {"Id=foreign-3", NULL};
	x = call("Appointment", "Load", f3);
	ck_assert_ptr_null(str(x, 0, "Recurrence"));
	done(x);
	/* Rewritten by that tool: a new key. */
	put_foreign_ics("foreign-1", "Monthly, moved", "FREQ=MONTHLY;COUNT=3");
	x = call("Appointment", "Load", f1);
	key_of(x, k1, sizeof k1);
	ck_assert_str_ne(k1, k0);
	ck_assert_str_eq(str(x, 0, "Recurrence"), "FREQ=MONTHLY;COUNT=3");
	done(x);
	x = call("Appointment", "List", (const char *[]){NULL});
	ck_assert_uint_eq(sb_testhost_rows(x), 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_uint_eq(strlen(str(x, i, "ChangeKey")),
				  MAPI_CHANGEKEY_LEN);
	done(x);
}
END_TEST

/* Write alice's calendar file id.ics: a VEVENT with the given content
 * lines (each ending in CRLF) after its UID. */
static void put_event_ics(const char *id, const char *lines)
{
	char path[600];
	snprintf(path, sizeof path, "%s/alice@example.test/Calendar/%s.ics",
		 store, id);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\n"
		"BEGIN:VEVENT\r\nUID:%s\r\n%sEND:VEVENT\r\nEND:VCALENDAR\r\n",
		id, lines);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_ics_subdaily_rule)
{
	/* libical's iterator walks a sub-daily rule one step at a time up
	 * to the year 2582 for a match that never comes: such a series is
	 * shown once, at its start, not expanded (the test's timeout
	 * otherwise). */
	static const char *const rules[] = {
	    "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=MINUTELY;BYDAY=-1MO",
	    "FREQ=HOURLY;BYYEARDAY=366;BYMONTH=1"};
	for (size_t i = 0; i < 3; i++) {
		char id[32], lines[300];
		snprintf(id, sizeof id, "subdaily-%zu", i);
		snprintf(
		    lines, sizeof lines,
		    "DTSTART:20261204T150000Z\r\nDTEND:20261204T160000Z\r\n"
		    "SUMMARY:never\r\nRRULE:%s\r\n",
		    rules[i]);
		put_event_ics(id, lines);
	}
	/* A sub-daily rule with plain restrictions is still expanded. */
	put_event_ics("subdaily-ok",
		      "DTSTART:20261204T150000Z\r\nDTEND:20261204T150100Z\r\n"
		      "SUMMARY:hourly\r\nRRULE:FREQ=HOURLY;BYHOUR=15,16;"
		      "BYDAY=FR;COUNT=4\r\n");
	const char *win[] = {"WindowStart=2026-12-01T00:00:00Z",
			     "WindowEnd=2027-01-01T00:00:00Z", "PageSize=100",
			     NULL};
	struct sb_testhost_run *x = call("Appointment", "List", win);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_uint_eq(sb_testhost_rows(x), 3 + 4);
	size_t hourly = 0;
	for (size_t i = 0; i < sb_testhost_rows(x); i++)
		if (strcmp(str(x, i, "Subject"), "hourly") == 0)
			hourly++;
		else
			ck_assert_str_eq(str(x, i, "Start"),
					 "2026-12-04T15:00:00Z");
	ck_assert_uint_eq(hourly, 4);
	done(x);
}
END_TEST

START_TEST(test_ics_alarm_extremes)
{
	/* A TRIGGER of 2^31 seconds, which libical reads as INT_MIN. */
	put_event_ics("alarm-min",
		      "DTSTART:20261204T150000Z\r\nDTEND:20261204T160000Z\r\n"
		      "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\n"
		      "TRIGGER:-PT2147483648S\r\nEND:VALARM\r\n");
	struct sb_testhost_run *x =
	    call("Appointment", "Load", (const char *[]){"Id=alarm-min", NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_int_eq(num(x, 0, "Reminder"), 2147483648 / 60);
	done(x);
}
END_TEST

/* The SEQUENCE line of alice's calendar file id.ics. */
static long long file_sequence(const char *id)
{
	char path[600], line[256];
	snprintf(path, sizeof path, "%s/alice@example.test/Calendar/%s.ics",
		 store, id);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	long long seq = LLONG_MIN;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "SEQUENCE:", 9) == 0)
			seq = strtoll(line + 9, NULL, 10);
	fclose(f);
	return seq;
}

START_TEST(test_ics_sequence_max)
{
	/* A SEQUENCE at INT_MAX another tool wrote stays there on Update
	 * (it was raised past it, written negative). */
	put_event_ics("seq-max",
		      "DTSTART:20261204T150000Z\r\nDTEND:20261204T160000Z\r\n"
		      "SEQUENCE:2147483647\r\n");
	struct sb_testhost_run *x =
	    call("Appointment", "Update",
		 (const char *[]){"Id=seq-max", "Subject=raised", NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	done(x);
	ck_assert_int_eq(file_sequence("seq-max"), INT_MAX);
	/* A meeting's: Update and Cancel. */
	put_event_ics("mtg-seq-max",
		      "DTSTART:20261204T150000Z\r\nDTEND:20261204T160000Z\r\n"
		      "SEQUENCE:2147483647\r\n"
		      "ORGANIZER:mailto:alice@example.test\r\n"
		      "ATTENDEE:mailto:bob@example.test\r\n");
	x = call("Meeting", "Update",
		 (const char *[]){"Id=mtg-seq-max", "Subject=raised", NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	done(x);
	ck_assert_int_eq(file_sequence("mtg-seq-max"), INT_MAX);
	x = call("Meeting", "Load",
		 (const char *[]){"Mailbox=bob@example.test", "Id=mtg-seq-max",
				  NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Subject"), "raised");
	done(x);
	x = call("Meeting", "Cancel", (const char *[]){"Id=mtg-seq-max", NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	done(x);
	x = call("Meeting", "Load",
		 (const char *[]){"Mailbox=bob@example.test", "Id=mtg-seq-max",
				  NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	done(x);
}
END_TEST

START_TEST(test_ics_year_9999_zone)
{
	/* The last hours of 9999 in UTC are the year 10000 east of it:
	 * the item is kept loadable. */
	const char *a[] = {"Subject=last", "Start=9999-12-31T20:00:00Z",
			   "End=9999-12-31T21:00:00Z", "TimeZone=Asia/Tokyo",
			   NULL};
	struct sb_testhost_run *x = call("Appointment", "Create", a);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	char idarg[100];
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = call("Appointment", "Load", (const char *[]){idarg, NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Start"), "9999-12-31T20:00:00Z");
	ck_assert_str_eq(str(x, 0, "End"), "9999-12-31T21:00:00Z");
	done(x);
	/* libical writes a time it is given after the year 3000 as
	 * 00000000T000000: the store writes its text instead. */
	const char *b[] = {"Subject=far", "Start=5000-06-01T09:00:00Z",
			   "End=5000-06-01T10:00:00Z",
			   "Recurrence=FREQ=DAILY;UNTIL=50000603T090000Z",
			   NULL};
	x = call("Appointment", "Create", b);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = call("Appointment", "Load", (const char *[]){idarg, NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Start"), "5000-06-01T09:00:00Z");
	ck_assert_str_eq(str(x, 0, "End"), "5000-06-01T10:00:00Z");
	ck_assert_str_eq(str(x, 0, "Recurrence"),
			 "FREQ=DAILY;UNTIL=50000603T090000Z");
	done(x);
	const char *bz[] = {"Subject=far, zoned", "Start=5000-06-01T09:00:00Z",
			    "End=5000-06-01T10:00:00Z",
			    "TimeZone=Europe/Berlin", NULL};
	x = call("Appointment", "Create", bz);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = call("Appointment", "Load", (const char *[]){idarg, NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Start"), "5000-06-01T09:00:00Z");
	ck_assert_str_eq(str(x, 0, "TimeZone"), "Europe/Berlin");
	done(x);
	const char *t[] = {"Subject=far task", "DueDate=5000-06-01", NULL};
	x = call("Task", "Create", t);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = call("Task", "Load", (const char *[]){idarg, NULL});
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "DueDate"), "5000-06-01");
	done(x);
}
END_TEST

struct race {
	pthread_barrier_t *start;
	const char *meth;
	const char **args;
	enum sb_status status;
};

static void *race_run(void *v)
{
	struct race *r = v;
	pthread_barrier_wait(r->start);
	struct sb_testhost_run *x =
	    sb_testhost_run(th, "Meeting", r->meth, r->args, NULL);
	r->status = x ? x->status : SB_ERR_INTERNAL;
	sb_testhost_run_free(x);
	return NULL;
}

START_TEST(test_meeting_decline_race)
{
	/* An attendee's Decline and the organizer's Update of the time,
	 * together: the Decline removes the attendee's copy it read, never
	 * the new invitation the Update wrote meanwhile (the organizer's
	 * copy then waits for an answer nobody can give). */
	for (int i = 0; i < 40; i++) {
		const char *c[] = {"Subject=race", "Start=2026-12-10T09:00:00Z",
				   "End=2026-12-10T10:00:00Z",
				   "RequiredAttendees=bob@example.test", NULL};
		struct sb_testhost_run *x = call("Meeting", "Create", c);
		ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
		char idarg[100];
		snprintf(idarg, sizeof idarg, "Id=%s", str(x, 0, "Id"));
		done(x);
		pthread_barrier_t b;
		pthread_barrier_init(&b, NULL, 2);
		const char *dec[] = {"Mailbox=bob@example.test", idarg, NULL};
		const char *upd[] = {idarg, "Start=2026-12-11T09:00:00Z",
				     "End=2026-12-11T10:00:00Z", NULL};
		struct race r1 = {&b, "Decline", dec, SB_OK};
		struct race r2 = {&b, "Update", upd, SB_OK};
		pthread_t t1, t2;
		pthread_create(&t1, NULL, race_run, &r1);
		pthread_create(&t2, NULL, race_run, &r2);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		pthread_barrier_destroy(&b);
		ck_assert_int_eq(r1.status, SB_OK);
		ck_assert_int_eq(r2.status, SB_OK);
		x = call("MeetingAttendee", "List",
			 (const char *[]){idarg, NULL});
		ck_assert_uint_eq(sb_testhost_rows(x), 1);
		bool asked = strcmp(str(x, 0, "ResponseStatus"),
				    "NoResponseReceived") == 0;
		done(x);
		x = sb_testhost_run(th, "Meeting", "Load", dec, NULL);
		bool copy = x->status == SB_OK;
		done(x);
		ck_assert_msg(!asked || copy,
			      "round %d: asked again, but the copy is gone", i);
	}
}
END_TEST

/* Bob answers a version of the meeting older than the organizer's (his
 * copy of the Update not written yet when he answered): the organizer
 * takes the answer when the Update kept the time, not when it moved
 * the meeting.  The race is made deterministic by putting Bob's old copy
 * back before he answers. */
static const char *answer_to_old_copy(const char *update_start,
				      const char *update_end, char *idarg,
				      size_t idlen)
{
	const char *c[] = {"Subject=versions", "Start=2026-12-10T09:00:00Z",
			   "End=2026-12-10T10:00:00Z",
			   "RequiredAttendees=bob@example.test", NULL};
	struct sb_testhost_run *x = call("Meeting", "Create", c);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	snprintf(idarg, idlen, "Id=%s", str(x, 0, "Id"));
	char path[900];
	snprintf(path, sizeof path, "%s/bob@example.test/Calendar/%s.ics",
		 store, str(x, 0, "Id"));
	done(x);
	char *old = NULL;
	size_t old_len = 0;
	ck_assert_int_eq(mapi_read_file(path, 1 << 20, &old, &old_len), 0);
	const char *u[] = {idarg, "Subject=versions, renamed", update_start,
			   update_end, NULL};
	x = call("Meeting", "Update", u);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	done(x);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(old, 1, old_len, f), old_len);
	ck_assert_int_eq(fclose(f), 0);
	free(old);
	const char *acc[] = {"Mailbox=bob@example.test", idarg, NULL};
	x = call("Meeting", "Accept", acc);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	done(x);
	x = call("MeetingAttendee", "List", (const char *[]){idarg, NULL});
	ck_assert_uint_eq(sb_testhost_rows(x), 1);
	static char status[64];
	snprintf(status, sizeof status, "%s", str(x, 0, "ResponseStatus"));
	done(x);
	return status;
}

START_TEST(test_meeting_answer_to_older_version)
{
	char idarg[200];
	/* the Update kept the time (a new subject): the answer counts */
	ck_assert_str_eq(answer_to_old_copy("Start=2026-12-10T09:00:00Z",
					    "End=2026-12-10T10:00:00Z", idarg,
					    sizeof idarg),
			 "Accept");
	/* the Update moved it: the answer was to the old time */
	ck_assert_str_eq(answer_to_old_copy("Start=2026-12-11T09:00:00Z",
					    "End=2026-12-11T10:00:00Z", idarg,
					    sizeof idarg),
			 "NoResponseReceived");
}
END_TEST

/* The Id of the first message List shows in mailbox's folder. */
static void first_id(const char *mailbox, const char *folder, char *out,
		     size_t len)
{
	char mb[128], fo[128];
	snprintf(mb, sizeof mb, "Mailbox=%s", mailbox);
	snprintf(fo, sizeof fo, "Folder=%s", folder);
	const char *a[] = {mb, fo, NULL};
	struct sb_testhost_run *x = call("Email", "List", a);
	ck_assert_msg(x->status == SB_OK && sb_testhost_rows(x) > 0, "List");
	snprintf(out, len, "Id=%s", str(x, 0, "Id"));
	done(x);
}

/* Load the message Id= (as "Id=...") of mailbox; caller frees. */
static struct sb_testhost_run *load_in(const char *mailbox, const char *id)
{
	char mb[128];
	snprintf(mb, sizeof mb, "Mailbox=%s", mailbox);
	const char *a[] = {mb, id, NULL};
	struct sb_testhost_run *x = call("Email", "Load", a);
	ck_assert_msg(x->status == SB_OK, "Load: %s", x->err.message);
	return x;
}

START_TEST(test_reply_forward)
{
	const char *a[] = {"To=bob@example.test",
			   "Cc=carol@example.test",
			   "Subject=Plan",
			   "Body=line one\nline <two> & three\n",
			   "HtmlBody=<p>line one</p>",
			   NULL};
	const struct sb_testhost_file files[] = {
	    {"Attachments", "a.bin", "application/octet-stream", "\0\1\2", 3},
	    SB_TESTHOST_FILE_END};
	struct sb_testhost_run *x = call_files("Email", "Send", a, files);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	char orig_mid[256];
	snprintf(orig_mid, sizeof orig_mid, "%s", str(x, 0, "MessageId"));
	done(x);
	char bid[160];
	first_id("bob@example.test", "Inbox", bid, sizeof bid);

	/* Reply: to alice only, threaded, quoted. */
	const char *r[] = {"Mailbox=bob@example.test", bid, "Body=Agreed.",
			   NULL};
	x = call("Email", "Reply", r);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_str_eq(str(x, 0, "Folder"), "Sent Items");
	ck_assert(sb_testhost_has_text(x, 0, "Accepted", "alice@example.test"));
	ck_assert_uint_eq(sb_testhost_cell(x, 0, "Accepted")->count, 1);
	char sid[160];
	snprintf(sid, sizeof sid, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = load_in("bob@example.test", sid);
	ck_assert_str_eq(str(x, 0, "Subject"), "RE: Plan");
	const char *body = str(x, 0, "Body");
	ck_assert_msg(strncmp(body, "Agreed.\n\nOn ", 12) == 0, "%s", body);
	ck_assert_ptr_nonnull(strstr(body, " alice@example.test wrote:\n"
					   "> line one\n"
					   "> line <two> & three\n"));
	const char *html = str(x, 0, "HtmlBody");
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_nonnull(strstr(html, "<div>Agreed.</div>"));
	ck_assert_ptr_nonnull(strstr(html, "<blockquote"));
	ck_assert_ptr_nonnull(strstr(html, "<p>line one</p>"));
	ck_assert(!flag(x, 0, "HasAttachments"));
	done(x);
	/* The raw file carries the threading headers. */
	char path[700], *raw = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%s/alice@example.test/Inbox/new", store);
	ck_assert_uint_eq(count_files(path), 1);
	DIR *dir = opendir(path);
	struct dirent *de;
	while ((de = readdir(dir)) && de->d_name[0] == '.')
		;
	ck_assert_ptr_nonnull(de);
	char file[1000];
	snprintf(file, sizeof file, "%s/%s", path, de->d_name);
	closedir(dir);
	ck_assert_int_eq(mapi_read_file(file, 1 << 20, &raw, &len), 0);
	char *v = sb_mime_header(raw, len, "In-Reply-To");
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_nonnull(strstr(v, orig_mid));
	free(v);
	ck_assert_ptr_nonnull(strstr(raw, "\nSubject: RE: Plan\n"));
	free(raw);
	raw = NULL;

	/* ReplyAll: alice (To) and carol (Cc), not bob; the added Cc once. */
	const char *ra[] = {"Mailbox=bob@example.test", bid,
			    "Cc=carol@example.test", "Cc=nobody@example.test",
			    NULL};
	x = call("Email", "ReplyAll", ra);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert_uint_eq(sb_testhost_cell(x, 0, "Accepted")->count, 2);
	ck_assert(sb_testhost_has_text(x, 0, "Accepted", "carol@example.test"));
	ck_assert_uint_eq(sb_testhost_cell(x, 0, "Rejected")->count, 1);
	snprintf(sid, sizeof sid, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = load_in("bob@example.test", sid);
	ck_assert_uint_eq(sb_testhost_cell(x, 0, "To")->count, 1);
	ck_assert(sb_testhost_has_text(x, 0, "To", "alice@example.test"));
	ck_assert_uint_eq(sb_testhost_cell(x, 0, "Cc")->count, 2);
	ck_assert(!sb_testhost_has_text(x, 0, "Cc", "bob@example.test"));
	done(x);

	/* Forward: the original's attachment, then the given one. */
	const char *fw[] = {"Mailbox=bob@example.test", bid,
			    "To=carol@example.test", NULL};
	const struct sb_testhost_file more[] = {
	    {"Attachments", "b.txt", "text/plain", "bee", 3},
	    SB_TESTHOST_FILE_END};
	x = call_files("Email", "Forward", fw, more);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	snprintf(sid, sizeof sid, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = load_in("bob@example.test", sid);
	ck_assert_str_eq(str(x, 0, "Subject"), "FW: Plan");
	const struct sb_value *att = sb_testhost_cell(x, 0, "Attachments");
	ck_assert_ptr_nonnull(att);
	ck_assert_uint_eq(att->count, 2);
	ck_assert_str_eq(att->items[0].f.name, "a.bin");
	ck_assert(att->items[0].f.size == 3 &&
		  memcmp(att->items[0].f.data, "\0\1\2", 3) == 0);
	ck_assert_str_eq(att->items[1].f.name, "b.txt");
	done(x);
	snprintf(path, sizeof path, "%s/carol@example.test/Inbox/new", store);
	ck_assert_uint_eq(count_files(path), 3); /* original, ReplyAll, FW */

	/* A missing original: 404 naming it; Forward needs To. */
	const char *miss[] = {"Mailbox=bob@example.test", "Id=nosuch.item",
			      NULL};
	x = call("Email", "ReplyAll", miss);
	ck_assert_int_eq(x->status, SB_ERR_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(x->err.message, "nosuch.item"));
	done(x);
	x = sb_testhost_run(th, "Email", "Forward", r, NULL);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->status, SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(x->err.message, "To"));
	done(x);

	/* A foreign original with odd values: cleaned, never refused. */
	snprintf(path, sizeof path,
		 "%s/bob@example.test/Inbox/new/1700000000.odd.host", store);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("From: carol@example.test\nSubject: =?utf-8?q?x=01y=0Az?=\n"
	      "Message-ID: <odd@x.test>\nReferences: junk <a@x.test> <odd@x."
	      "test>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
	      "boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n"
	      "body\xff\x01 \xef\xbf\xbf <&\n"
	      "--b\nContent-Type: bad type\nContent-Disposition: attachment; "
	      "filename=\"../x\x01.txt\"\n\ndata\n--b--\n",
	      f);
	fclose(f);
	const char *odd[] = {"Mailbox=bob@example.test",
			     "Id=1700000000.odd.host", "To=alice@example.test",
			     NULL};
	x = call("Email", "Forward", odd);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	snprintf(sid, sizeof sid, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = load_in("bob@example.test", sid);
	ck_assert_str_eq(str(x, 0, "Subject"), "FW: xy z");
	ck_assert_uint_eq(sb_testhost_cell(x, 0, "Attachments")->count, 1);
	done(x);
	/* Its text in HTML: escaped, U+FFFF (no XML character) as U+FFFD. */
	const char *oddr[] = {"Mailbox=bob@example.test",
			      "Id=1700000000.odd.host", "HtmlBody=<p>ok</p>",
			      NULL};
	x = call("Email", "Reply", oddr);
	ck_assert_msg(x->status == SB_OK, "%s", x->err.message);
	ck_assert(sb_testhost_has_text(x, 0, "Accepted", "carol@example.test"));
	char rid[160];
	snprintf(rid, sizeof rid, "Id=%s", str(x, 0, "Id"));
	done(x);
	x = load_in("bob@example.test", rid);
	ck_assert_ptr_nonnull(
	    strstr(str(x, 0, "HtmlBody"), "\xef\xbf\xbd &lt;&amp;</div>"));
	ck_assert_ptr_null(strstr(str(x, 0, "HtmlBody"), "\xef\xbf\xbf"));
	done(x);
	snprintf(path, sizeof path, "%s/bob@example.test/Sent Items/cur/%s:2,S",
		 store, sid + 3);
	ck_assert_int_eq(mapi_read_file(path, 1 << 20, &raw, &len), 0);
	char *refs = sb_mime_header(raw, len, "References");
	char *irt = sb_mime_header(raw, len, "In-Reply-To");
	ck_assert_ptr_nonnull(refs);
	ck_assert_ptr_nonnull(irt);
	ck_assert_str_eq(refs, "<a@x.test> <odd@x.test>");
	ck_assert_str_eq(irt, "<odd@x.test>");
	free(refs);
	free(irt);
	free(raw);
}
END_TEST

START_TEST(test_clean_text)
{
	struct {
		const char *in;
		bool memo;
		const char *want;
	} cases[] = {
	    {"plain", false, "plain"},
	    {"a\tb\r\nc", false, "a b  c"},
	    {"a\tb\r\nc", true, "a\tb\r\nc"},
	    {"x\x01y\x7fz", false, "xyz"},
	    {"x\x01y\x0c", true, "xy"},
	    {"caf\xe9!", false, "caf\xef\xbf\xbd!"},
	    {"\xc2\x85next\xe2\x80\xa8line", false, "next line"},
	    {"\xc2\x85next\xe2\x80\xa8line", true, "next\xe2\x80\xa8line"},
	    {"\xed\xa0\x80s", false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbds"},
	    {"\xc0\xaf", false, "\xef\xbf\xbd\xef\xbf\xbd"},
	    {"Gr\xc3\xbc\xc3\x9f"
	     "e \xe2\x9c\x93",
	     false,
	     "Gr\xc3\xbc\xc3\x9f"
	     "e \xe2\x9c\x93"},
	    {"", false, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *c = cases[i].memo ? sb_clean_memo(cases[i].in)
					: sb_clean_text(cases[i].in);
		ck_assert_ptr_nonnull(c);
		ck_assert_msg(strcmp(c, cases[i].want) == 0, "case %zu: %s", i,
			      c);
		ck_assert(
		    sb_type_check(cases[i].memo ? SB_TYPE_MEMO : SB_TYPE_TEXT,
				  c, NULL, NULL));
		free(c);
	}
	ck_assert_ptr_null(sb_clean_text(NULL));

	/* Ids: any UTF-8 name without controls, '/', ':' or a leading '.'. */
	ck_assert(mapi_id_ok("1700000000.M1P2Q3.host"));
	ck_assert(mapi_id_ok("1700000000.M1P2Q3.h\xc3\xb6st"));
	ck_assert(mapi_id_ok("a\\057b"));
	ck_assert(!mapi_id_ok(""));
	ck_assert(!mapi_id_ok(".x"));
	ck_assert(!mapi_id_ok("a/b"));
	ck_assert(!mapi_id_ok("a:2,S"));
	ck_assert(!mapi_id_ok("a\nb"));
	ck_assert(!mapi_id_ok("caf\xe9"));
	char longid[MAPI_ID_MAX + 2];
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	ck_assert(!mapi_id_ok(longid));
	longid[MAPI_ID_MAX] = '\0';
	ck_assert(mapi_id_ok(longid));

	/* iCalendar times: real days of years 1601..9999 only. */
	int64_t t;
	bool is_date;
	ck_assert(mapi_ical_time_parse("20261201T090000Z", &t, &is_date));
	ck_assert_int_eq(t, 1796115600);
	ck_assert(mapi_ical_time_parse("16010101", &t, &is_date));
	ck_assert_int_eq(t, MAPI_EPOCH_MIN);
	ck_assert(mapi_ical_time_parse("99991231T235959Z", &t, &is_date));
	ck_assert_int_eq(t, MAPI_EPOCH_MAX);
	ck_assert(!mapi_ical_time_parse("00000101", &t, &is_date));
	ck_assert(!mapi_ical_time_parse("16001231", &t, &is_date));
	ck_assert(!mapi_ical_time_parse("20260230", &t, &is_date));
	ck_assert(!mapi_ical_time_parse("20260431T000000Z", &t, &is_date));
	ck_assert(!mapi_ical_time_parse("2026120", &t, &is_date));
}
END_TEST

/* A file renamed into place whose directory then fails to sync is
 * there: its quota stays reserved (a restart would count it). */
START_TEST(test_ics_store_dir_fsync_fails)
{
	struct mapi_store *s = sb_testhost_state(th);
	ck_assert_ptr_nonnull(s);
	struct mapi_mailbox *mb = mapi_mailbox_find(s, "bob@example.test");
	ck_assert_ptr_nonnull(mb);
	const char *text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
			   "PRODID:-//test//EN\r\nEND:VCALENDAR\r\n";
	int64_t before = mb->used;
	struct sb_error err;
	sb_error_clear(&err);
	fail_dir_fsync = true;
	enum sb_status st = mapi_ics_store(s, mb, MAPI_CALENDAR, "fsync-fails",
					   text, false, NULL, &err);
	fail_dir_fsync = false;
	ck_assert_int_eq(st, SB_ERR_INTERNAL);
	ck_assert_msg(strstr(err.message, "cannot sync"), "%s", err.message);
	char path[MAPI_PATH_MAX];
	snprintf(path, sizeof path, "%s/%s/fsync-fails.ics", mb->dir,
		 MAPI_CALENDAR);
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(mb->used, before + (int64_t)strlen(text));
	/* replaced by a longer text: the growth stays reserved as well */
	char longer[400];
	snprintf(longer, sizeof longer, "%sX-PAD:%0200d\r\n", text, 0);
	fail_dir_fsync = true;
	st = mapi_ics_store(s, mb, MAPI_CALENDAR, "fsync-fails", longer, true,
			    NULL, &err);
	fail_dir_fsync = false;
	ck_assert_int_eq(st, SB_ERR_INTERNAL);
	ck_assert_int_eq(mb->used, before + (int64_t)strlen(longer));
}
END_TEST

/* The same for mail: a draft, and a Send's record in the Outbox, whose
 * directory fails to sync after the file is in place keep their quota;
 * the mailbox's count is what a restart counts from the files. */
START_TEST(test_mail_dir_fsync_fails)
{
	struct mapi_store *s = sb_testhost_state(th);
	ck_assert_ptr_nonnull(s);
	struct mapi_mailbox *mb = mapi_mailbox_find(s, "bob@example.test");
	ck_assert_ptr_nonnull(mb);
	int64_t before = mb->used;
	const char *d[] = {"Mailbox=bob@example.test", "Subject=unsynced",
			   "Body=kept", NULL};
	fail_dir_fsync = true;
	struct sb_testhost_run *x = call("Email", "SaveDraft", d);
	fail_dir_fsync = false;
	ck_assert_int_eq(x->status, SB_ERR_INTERNAL);
	ck_assert_msg(strstr(x->err.message, "cannot sync"), "%s",
		      x->err.message);
	done(x);
	ck_assert_int_gt(mb->used, before);
	int64_t after_draft = mb->used;
	const char *m[] = {"Mailbox=bob@example.test", "To=carol@example.test",
			   "Subject=unsynced send", "Body=kept", NULL};
	fail_dir_fsync = true;
	x = call("Email", "Send", m);
	fail_dir_fsync = false;
	done(x);
	int64_t counted = mb->used;
	ck_assert_int_ge(counted, after_draft);
	/* what a restart counts from the files is what was counted */
	close_store();
	open_store();
	s = sb_testhost_state(th);
	mb = mapi_mailbox_find(s, "bob@example.test");
	ck_assert_ptr_nonnull(mb);
	ck_assert_int_eq(mb->used, counted);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mapi-stub");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_send_and_load);
	tcase_add_test(tc, test_mail_dir_fsync_fails);
	tcase_add_test(tc, test_flags_move_delete);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_quota);
	tcase_add_test(tc, test_lock);
	tcase_add_test(tc, test_outbox_recovery);
	tcase_add_test(tc, test_outbox_guard);
	tcase_add_test(tc, test_paging);
	tcase_add_test(tc, test_appointments_and_tasks);
	tcase_add_test(tc, test_ical_fold);
	tcase_add_test(tc, test_ics_cache);
	tcase_add_test(tc, test_change_key);
	tcase_add_test(tc, test_ics_change_key_and_recurrence);
	tcase_add_test(tc, test_clean_text);
	tcase_add_test(tc, test_reply_forward);
	tcase_add_test(tc, test_ics_subdaily_rule);
	tcase_add_test(tc, test_ics_alarm_extremes);
	tcase_add_test(tc, test_ics_sequence_max);
	tcase_add_test(tc, test_ics_year_9999_zone);
	tcase_add_test(tc, test_meeting_decline_race);
	tcase_add_test(tc, test_meeting_answer_to_older_version);
	tcase_add_test(tc, test_ics_store_dir_fsync_fails);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
