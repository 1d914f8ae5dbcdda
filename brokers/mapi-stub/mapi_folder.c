/* mapi-stub: the Folder object — List and Create over the Maildir folders
 * of a mailbox. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <svcbroker/call.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

/* The parent of every mail folder: the top of the mailbox (EWS's
 * distinguished id for it). */
#define MAPI_ROOT_ID "msgfolderroot"

/* The folder's Id: the well-known id, or its name. */
static const char *folder_id(const char *name)
{
	for (size_t i = 0; mapi_wellknown[i].id; i++)
		if (strcmp(name, mapi_wellknown[i].name) == 0)
			return mapi_wellknown[i].id;
	return name;
}

static enum sb_status folder_row(struct mapi_mailbox *mb, const char *name,
				 struct sb_result *r, struct sb_error *err)
{
	char dir[MAPI_PATH_MAX];
	if (!mapi_path(dir, sizeof dir, "%s/%s", mb->dir, name))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "path too long");
	struct mapi_entry *e;
	size_t n;
	if (mapi_maildir_scan(dir, &e, &n) < 0) {
		if (errno == ENOENT)
			return sb_error_set(err, SB_ERR_NOT_FOUND,
					    "ErrorFolderNotFound",
					    "folder %s vanished", name);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot list %s: %s", dir, strerror(errno));
	}
	int64_t unread = 0;
	for (size_t i = 0; i < n; i++)
		if (!e[i].seen)
			unread++;
	mapi_entries_free(e, n);
	enum sb_status st = sb_result_row(r);
	if (st != SB_OK)
		return sb_error_set(err, st, NULL, "cannot add a result row");
	sb_result_str(r, "Id", folder_id(name));
	sb_result_str(r, "Name", name);
	sb_result_str(r, "Parent", MAPI_ROOT_ID);
	sb_result_int(r, "TotalCount", (int64_t)n);
	sb_result_int(r, "UnreadCount", unread);
	return SB_OK;
}

struct list_ctx {
	struct mapi_mailbox *mb;
	char **names;
};

static enum sb_status list_row(void *vctx, size_t index, struct sb_result *r,
			       struct sb_error *err)
{
	struct list_ctx *c = vctx;
	return folder_row(c->mb, c->names[index], r, err);
}

static enum sb_status folder_list(struct mapi_mailbox *mb,
				  const struct sb_call *call,
				  struct sb_result *r, struct sb_error *err)
{
	struct list_ctx c = {.mb = mb};
	size_t n;
	if (mapi_folder_names(mb, &c.names, &n) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot list folders of %s: %s",
				    mb->address, strerror(errno));
	/* mapi_folder_names gives the display order: keep it as the key. */
	struct mapi_sortkey *k = calloc(n + 1, sizeof *k);
	char *scope = NULL;
	enum sb_status st;
	if (!k || asprintf(&scope, "Folder|%s", mb->address) < 0) {
		scope = NULL;
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto out;
	}
	size_t nwk = 0;
	while (mapi_wellknown[nwk].id)
		nwk++;
	for (size_t i = 0; i < n; i++) {
		k[i].key = i < nwk ? (int64_t)i : (int64_t)nwk;
		k[i].id = c.names[i];
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
	free(scope);
	free(k);
	mapi_names_free(c.names, n);
	return st;
}

static enum sb_status folder_create(struct mapi_store *s,
				    struct mapi_mailbox *mb,
				    const struct sb_call *call,
				    struct sb_result *r, struct sb_error *err)
{
	const char *name = sb_call_str(call, "Name", "");
	enum sb_status st = mapi_folder_name_check(name, err);
	if (st != SB_OK)
		return st;
	for (size_t i = 0; mapi_wellknown[i].id; i++)
		if (strcasecmp(name, mapi_wellknown[i].name) == 0 ||
		    strcasecmp(name, mapi_wellknown[i].id) == 0)
			return sb_error_set(err, SB_ERR_CONFLICT,
					    "ErrorFolderExists",
					    "folder \"%s\" already exists in "
					    "mailbox %s",
					    name, mb->address);
	char tmp[MAPI_PATH_MAX], dst[MAPI_PATH_MAX], uniq[160];
	mapi_unique_new(s, uniq, sizeof uniq);
	if (!mapi_path(tmp, sizeof tmp, "%s/.new-folder-%s", mb->dir, uniq) ||
	    !mapi_path(dst, sizeof dst, "%s/%s", mb->dir, name))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "path too long");
	pthread_mutex_lock(&mb->lock);
	char found[MAPI_FOLDER_MAX + 1];
	struct sb_error ignore;
	if (mapi_folder_resolve(mb, name, found, sizeof found, &ignore) ==
	    SB_OK) {
		pthread_mutex_unlock(&mb->lock);
		return sb_error_set(err, SB_ERR_CONFLICT, "ErrorFolderExists",
				    "folder \"%s\" already exists in mailbox "
				    "%s",
				    found, mb->address);
	}
	/* Build the Maildir under a hidden name, then rename it into place,
	 * so a folder is never seen half made. */
	if (mapi_maildir_make(tmp) < 0) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
				  "cannot create folder %s: %s", name,
				  strerror(errno));
	} else if (rename(tmp, dst) < 0) {
		st = sb_error_set(
		    err,
		    errno == EEXIST || errno == ENOTEMPTY ? SB_ERR_CONFLICT
							  : SB_ERR_INTERNAL,
		    errno == EEXIST || errno == ENOTEMPTY ? "ErrorFolderExists"
							  : NULL,
		    "cannot create folder %s: %s", name, strerror(errno));
	} else {
		mapi_fsync_dir(mb->dir);
	}
	if (st != SB_OK) {
		static const char *const subs[] = {"tmp", "new", "cur"};
		char p[MAPI_PATH_MAX];
		for (size_t i = 0; i < 3; i++)
			if (mapi_path(p, sizeof p, "%s/%s", tmp, subs[i]))
				rmdir(p);
		rmdir(tmp);
	}
	pthread_mutex_unlock(&mb->lock);
	if (st != SB_OK)
		return st;
	return folder_row(mb, name, r, err);
}

static enum sb_status folder_list_in(struct mapi_store *s,
				     struct mapi_mailbox *mb,
				     const struct sb_call *call,
				     struct sb_result *r, struct sb_error *err)
{
	(void)s;
	return folder_list(mb, call, r, err);
}

MAPI_MAILBOX_HANDLER(mapi_folder_list, folder_list_in)
MAPI_MAILBOX_HANDLER(mapi_folder_create, folder_create)
