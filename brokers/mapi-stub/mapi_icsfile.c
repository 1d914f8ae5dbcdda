/* mapi-stub: storage of iCalendar items — one <Id>.ics file per item in
 * the mailbox's Calendar/ or Tasks/ directory, written atomically. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

static bool ics_path(struct mapi_mailbox *mb, const char *folder,
		     const char *id, char *out, size_t len)
{
	return mapi_path(out, len, "%s/%s/%s.ics", mb->dir, folder, id);
}

static enum sb_status bad_id(const char *id, const char *what,
			     struct sb_error *err)
{
	return sb_error_set(err, SB_ERR_INVALID_INPUT,
			    "ErrorInvalidIdMalformed",
			    "Id \"%.80s\" is not a valid %s id", id, what);
}

/* The ChangeKey of the file at path holding text (see mapi.h); "" if the
 * file cannot be examined. */
static void ics_change_key(const char *path, const char *folder, const char *id,
			   const char *text, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	out[0] = '\0';
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	char facts[MAPI_ID_MAX + MAPI_FOLDER_MAX + 120];
	int n = snprintf(
	    facts, sizeof facts, "ics%c%s%c%s%c%llu|%lld|%lld|%lld", 0, folder,
	    0, id, 0, (unsigned long long)st.st_ino, (long long)st.st_size,
	    (long long)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
	    (long long)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);
	if (n < 0 || (size_t)n >= sizeof facts)
		return;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, facts, (size_t)n + 1) == 1 &&
		  EVP_DigestUpdate(ctx, text, len) == 1 &&
		  EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 &&
		  mdlen >= MAPI_CHANGEKEY_LEN / 2;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return;
	for (int i = 0; i < MAPI_CHANGEKEY_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[MAPI_CHANGEKEY_LEN] = '\0';
}

enum sb_status mapi_ics_store(struct mapi_store *s, struct mapi_mailbox *mb,
			      const char *folder, const char *id,
			      const char *text, bool replace, char *ck,
			      struct sb_error *err)
{
	if (ck)
		ck[0] = '\0';
	if (!mapi_id_ok(id))
		return bad_id(id, "item", err);
	char dir[MAPI_PATH_MAX], path[MAPI_PATH_MAX];
	if (!mapi_path(dir, sizeof dir, "%s/%s", mb->dir, folder) ||
	    !ics_path(mb, folder, id, path, sizeof path))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "path too long");
	size_t len = strlen(text);
	int64_t old = 0;
	struct stat st;
	if (replace && stat(path, &st) == 0)
		old = st.st_size;
	int64_t grow = (int64_t)len - old;
	if (grow > 0) {
		enum sb_status q = mapi_quota_reserve(s, mb, grow, err);
		if (q != SB_OK)
			return q;
	}
	/* The item lives directly in the folder, written through tmp/. */
	char tpath[MAPI_PATH_MAX], uniq[160];
	mapi_unique_new(s, uniq, sizeof uniq);
	enum sb_status rc = SB_OK;
	bool placed = false;
	if (!mapi_path(tpath, sizeof tpath, "%s/tmp/%s.ics", dir, uniq))
		rc = sb_error_set(err, SB_ERR_INTERNAL, NULL, "path too long");
	else
		rc = mapi_write_file(tpath, path, dir, text, len, !replace,
				     &placed, err);
	/* once renamed into place (only the directory's fsync may have
	 * failed after) the file is there and counts as stored */
	if (!placed && grow > 0)
		mapi_quota_release(mb, grow);
	else if (placed && grow < 0)
		mapi_quota_release(mb, -grow);
	if (rc == SB_OK && ck)
		ics_change_key(path, folder, id, text, len, ck);
	return rc;
}

enum sb_status mapi_ics_load(struct mapi_mailbox *mb, const char *folder,
			     const char *id, const char *what, char **text,
			     char *ck, struct sb_error *err)
{
	*text = NULL;
	if (ck)
		ck[0] = '\0';
	if (!mapi_id_ok(id))
		return bad_id(id, what, err);
	char path[MAPI_PATH_MAX];
	if (!ics_path(mb, folder, id, path, sizeof path))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "path too long");
	size_t len;
	if (mapi_read_file(path, MAPI_ICS_MAX, text, &len) < 0) {
		if (errno == ENOENT)
			return sb_error_set(err, SB_ERR_NOT_FOUND,
					    "ErrorItemNotFound",
					    "%s %s not found in mailbox %s",
					    what, id, mb->address);
		if (errno == EFBIG)
			return sb_error_set(
			    err, SB_ERR_INTERNAL, "ErrorCorruptData",
			    "%s %s: its file %s is larger than "
			    "the %d KiB an item may have",
			    what, id, path, MAPI_ICS_MAX / 1024);
		if (errno == EINVAL)
			return sb_error_set(
			    err, SB_ERR_INTERNAL, "ErrorCorruptData",
			    "%s %s: %s is not a regular file", what, id, path);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot read %s: %s", path,
				    strerror(errno));
	}
	if (strlen(*text) != len) {
		free(*text);
		*text = NULL;
		return sb_error_set(err, SB_ERR_INTERNAL, "ErrorCorruptData",
				    "%s %s: unreadable iCalendar data (NUL "
				    "byte in %s)",
				    what, id, path);
	}
	/* The file's facts are read after its content: should it be replaced
	 * in between, the key mixes two versions and matches neither, so a
	 * stale key is never taken for the current one. */
	if (ck)
		ics_change_key(path, folder, id, *text, len, ck);
	return SB_OK;
}

enum sb_status mapi_ics_delete(struct mapi_mailbox *mb, const char *folder,
			       const char *id, const char *what,
			       struct sb_error *err)
{
	return mapi_ics_delete_if(mb, folder, id, what, NULL, err);
}

enum sb_status mapi_ics_delete_if(struct mapi_mailbox *mb, const char *folder,
				  const char *id, const char *what,
				  const char *want_ck, struct sb_error *err)
{
	if (!mapi_id_ok(id))
		return bad_id(id, what, err);
	char path[MAPI_PATH_MAX], dir[MAPI_PATH_MAX];
	if (!ics_path(mb, folder, id, path, sizeof path) ||
	    !mapi_path(dir, sizeof dir, "%s/%s", mb->dir, folder))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "path too long");
	struct stat st;
	pthread_mutex_lock(&mb->ics_lock);
	if (want_ck && *want_ck) {
		/* compared and removed under the lock: an Update between
		 * the two cannot slip through */
		char *text = NULL, ck[MAPI_CHANGEKEY_LEN + 1];
		enum sb_status cst =
		    mapi_ics_load(mb, folder, id, what, &text, ck, err);
		free(text);
		if (cst == SB_OK)
			cst = mapi_change_key_check(want_ck, ck, what, id, err);
		if (cst != SB_OK) {
			pthread_mutex_unlock(&mb->ics_lock);
			return cst;
		}
	}
	int64_t size = stat(path, &st) == 0 ? st.st_size : 0;
	int rc = unlink(path);
	pthread_mutex_unlock(&mb->ics_lock);
	if (rc < 0) {
		if (errno == ENOENT)
			return sb_error_set(err, SB_ERR_NOT_FOUND,
					    "ErrorItemNotFound",
					    "%s %s not found in mailbox %s",
					    what, id, mb->address);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot delete %s: %s", path,
				    strerror(errno));
	}
	mapi_fsync_dir(dir);
	mapi_quota_release(mb, size);
	return SB_OK;
}

int mapi_ics_ids(struct mapi_mailbox *mb, const char *folder, char ***ids,
		 size_t *nout)
{
	*ids = NULL;
	*nout = 0;
	char dir[MAPI_PATH_MAX];
	if (!mapi_path(dir, sizeof dir, "%s/%s", mb->dir, folder)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	size_t n = 0, cap = 0;
	char **v = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 5 ||
		    strcmp(de->d_name + l - 4, ".ics") != 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 32;
			char **nv = realloc(v, nc * sizeof *nv);
			if (!nv)
				goto oom;
			v = nv;
			cap = nc;
		}
		if (!(v[n] = strndup(de->d_name, l - 4)))
			goto oom;
		if (!mapi_id_ok(v[n])) {
			free(v[n]);
			continue;
		}
		n++;
	}
	closedir(d);
	*ids = v;
	*nout = n;
	return 0;
oom:
	closedir(d);
	mapi_names_free(v, n);
	errno = ENOMEM;
	return -1;
}

enum sb_status mapi_change_of(const struct sb_call *call, const char *name,
			      enum mapi_change *out, struct sb_error *err)
{
	bool named = false;
	size_t n =
	    sb_call_input(call, "Clear") ? sb_call_count(call, "Clear") : 0;
	for (size_t i = 0; i < n && !named; i++) {
		const char *c = sb_call_str_at(call, "Clear", i);
		named = c && strcmp(c, name) == 0;
	}
	const struct sb_value *v = sb_call_input(call, name);
	bool empty =
	    v && (v->count == 0 ||
		  (!v->multi && v->type != SB_TYPE_NUMBER &&
		   v->type != SB_TYPE_BOOLEAN && v->type != SB_TYPE_FILE &&
		   v->items[0].s && !v->items[0].s[0]));
	if (v && !empty && named)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "%s: given a value and named in Clear",
				    name);
	*out = named || empty ? MAPI_CLEAR : v ? MAPI_SET : MAPI_KEEP;
	return SB_OK;
}

enum sb_status mapi_change_key_check(const char *want, const char *ck,
				     const char *what, const char *id,
				     struct sb_error *err)
{
	if (!want || !*want || strcmp(want, ck) == 0)
		return SB_OK;
	return sb_error_set(err, SB_ERR_CONFLICT, "ErrorIrresolvableConflict",
			    "%s %s has changed since that ChangeKey was "
			    "read: Load it again",
			    what, id);
}
