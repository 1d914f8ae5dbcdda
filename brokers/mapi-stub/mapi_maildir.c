/* mapi-stub: Maildir folders of a mailbox — folder names, item names and
 * Ids (the unique part before ":2,", so flag changes keep an Id), scans of
 * new/ and cur/ (never tmp/), lookups, and leftovers in tmp/. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <svcbroker/sdk.h>

#include "mapi.h"

const struct mapi_wellknown mapi_wellknown[] = {
    {"inbox", MAPI_INBOX},    {"drafts", MAPI_DRAFTS},
    {"sentitems", MAPI_SENT}, {"deleteditems", MAPI_DELETED},
    {"outbox", MAPI_OUTBOX},  {NULL, NULL},
};

/* Directory names that are not mail folders. */
static const char *const reserved_names[] = {MAPI_CALENDAR, MAPI_TASKS, "tmp",
					     "new",	    "cur",	NULL};

int mapi_mkdir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

int mapi_maildir_make(const char *dir)
{
	char p[MAPI_PATH_MAX];
	if (mapi_mkdir(dir) < 0)
		return -1;
	static const char *const subs[] = {"tmp", "new", "cur"};
	for (size_t i = 0; i < 3; i++) {
		if (!mapi_path(p, sizeof p, "%s/%s", dir, subs[i])) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mapi_mkdir(p) < 0)
			return -1;
	}
	return 0;
}

void mapi_unique_new(struct mapi_store *s, char *out, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint32_t r = 0;
	if (!sb_random_bytes(&r, sizeof r))
		r = (uint32_t)ts.tv_nsec;
	uint64_t n = atomic_fetch_add(&s->seq, 1);
	snprintf(out, len, "%lld.M%ldP%dQ%lluR%08x.%s", (long long)ts.tv_sec,
		 ts.tv_nsec / 1000, (int)getpid(), (unsigned long long)n, r,
		 s->hostname);
}

void mapi_unique_for(const char *message_id, const char *mailbox,
		     const char *role, char out[40])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok =
	    ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, message_id, strlen(message_id) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, mailbox, strlen(mailbox) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, role, strlen(role) + 1) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen < 16) {
		/* FNV-1a as a fallback: still deterministic. */
		uint64_t h1 = 1469598103934665603ULL, h2 = 1099511628211ULL;
		const char *parts[3] = {message_id, mailbox, role};
		for (int k = 0; k < 3; k++)
			for (const char *p = parts[k]; *p; p++) {
				h1 =
				    (h1 ^ (unsigned char)*p) * 1099511628211ULL;
				h2 = (h2 ^ (unsigned char)*p) *
				     14695981039346656037ULL;
			}
		snprintf(out, 40, "m%016llx%016llx", (unsigned long long)h1,
			 (unsigned long long)h2);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	out[0] = 'm';
	for (int i = 0; i < 16; i++) {
		out[1 + 2 * i] = hex[md[i] >> 4];
		out[2 + 2 * i] = hex[md[i] & 15];
	}
	out[33] = '\0';
}

bool mapi_id_ok(const char *id)
{
	return mapi_name_ok(id, MAPI_ID_MAX) && !strchr(id, ':');
}

void mapi_change_key(const char *folder, const struct mapi_entry *e, char *out)
{
	char facts[MAPI_PATH_MAX + 200];
	int n = snprintf(facts, sizeof facts, "%s%c%s%c%s%c%llu|%lld|%lld|%lld",
			 folder, 0, e->in_new ? "new" : "cur", 0, e->file, 0,
			 (unsigned long long)e->ino, (long long)e->size,
			 (long long)e->mtime_ns, (long long)e->ctime_ns);
	if (n < 0 || (size_t)n >= sizeof facts)
		n = (int)sizeof facts - 1;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";
	if (EVP_Digest(facts, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < MAPI_CHANGEKEY_LEN / 2) {
		/* FNV-1a as a fallback: still a function of the same facts. */
		uint64_t h = 1469598103934665603ULL;
		for (int i = 0; i < n; i++)
			h = (h ^ (unsigned char)facts[i]) * 1099511628211ULL;
		for (int i = 0; i < MAPI_CHANGEKEY_LEN / 2; i++)
			md[i] = (unsigned char)(h >> (8 * (i % 8))) ^
				(unsigned char)i;
	}
	for (int i = 0; i < MAPI_CHANGEKEY_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[MAPI_CHANGEKEY_LEN] = '\0';
}

static void entry_facts(struct mapi_entry *e, const struct stat *st)
{
	e->mtime_ns =
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->ctime_ns =
	    (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	e->ino = (uint64_t)st->st_ino;
	e->size = st->st_size;
}

bool mapi_entry_restat(const char *path, struct mapi_entry *e)
{
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	entry_facts(e, &st);
	return true;
}

/* ---- folders ------------------------------------------------------ */

enum sb_status mapi_folder_name_check(const char *name, struct sb_error *err)
{
	size_t n = name ? strlen(name) : 0;
	if (!name || !sb_path_component_ok(name, MAPI_FOLDER_MAX) ||
	    !mapi_name_ok(name, MAPI_FOLDER_MAX) || strchr(name, '\\') ||
	    name[0] == ' ' || name[n - 1] == ' ')
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorInvalidFolderName",
				    "folder name \"%s\" is not allowed: "
				    "1..%d bytes of UTF-8, no '/', '\\', "
				    "control characters, not starting with "
				    "'.', no leading or trailing space",
				    name ? name : "", MAPI_FOLDER_MAX);
	for (size_t i = 0; reserved_names[i]; i++)
		if (strcasecmp(name, reserved_names[i]) == 0)
			return sb_error_set(
			    err, SB_ERR_INVALID_INPUT, "ErrorInvalidFolderName",
			    "folder name \"%s\" is reserved", name);
	return SB_OK;
}

enum sb_status mapi_folder_resolve(struct mapi_mailbox *mb, const char *folder,
				   char *name_out, size_t name_len,
				   struct sb_error *err)
{
	const char *name = NULL;
	for (size_t i = 0; mapi_wellknown[i].id; i++)
		if (strcasecmp(folder, mapi_wellknown[i].id) == 0 ||
		    strcasecmp(folder, mapi_wellknown[i].name) == 0)
			name = mapi_wellknown[i].name;
	if (!name) {
		enum sb_status st = mapi_folder_name_check(folder, err);
		if (st != SB_OK)
			return st;
		/* User folders: case-insensitive match on the directory. */
		char **names = NULL;
		size_t n = 0;
		if (mapi_folder_names(mb, &names, &n) < 0)
			return sb_error_set(err, SB_ERR_INTERNAL, NULL,
					    "cannot list folders of %s: %s",
					    mb->address, strerror(errno));
		for (size_t i = 0; i < n && !name; i++)
			if (strcasecmp(names[i], folder) == 0) {
				if (!mapi_path(name_out, name_len, "%s",
					       names[i]))
					name = NULL;
				else
					name = name_out;
			}
		mapi_names_free(names, n);
		if (!name)
			return sb_error_set(err, SB_ERR_NOT_FOUND,
					    "ErrorFolderNotFound",
					    "folder \"%s\" not found in "
					    "mailbox %s",
					    folder, mb->address);
		return SB_OK;
	}
	if (!mapi_path(name_out, name_len, "%s", name))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "name too long");
	return SB_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void mapi_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int mapi_folder_names(struct mapi_mailbox *mb, char ***out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	size_t cap = 16, n = 0;
	char **names = calloc(cap, sizeof *names);
	if (!names)
		return -1;
	for (size_t i = 0; mapi_wellknown[i].id; i++)
		if (!(names[n++] = strdup(mapi_wellknown[i].name)))
			goto fail;
	DIR *d = opendir(mb->dir);
	if (!d)
		goto fail;
	size_t user_start = n;
	struct dirent *de;
	while ((de = readdir(d))) {
		/* Hidden, or a name no folder can have (invalid UTF-8, control
		 * characters): not a folder of this store. */
		if (mapi_folder_name_check(de->d_name, NULL) != SB_OK)
			continue;
		bool skip = false;
		for (size_t i = 0; mapi_wellknown[i].id && !skip; i++)
			skip = strcmp(de->d_name, mapi_wellknown[i].name) == 0;
		for (size_t i = 0; reserved_names[i] && !skip; i++)
			skip = strcmp(de->d_name, reserved_names[i]) == 0;
		if (skip)
			continue;
		/* A folder is a directory holding cur/ (a Maildir). */
		char p[MAPI_PATH_MAX];
		struct stat st;
		if (!mapi_path(p, sizeof p, "%s/%s/cur", mb->dir, de->d_name) ||
		    stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (n == cap) {
			char **nn = realloc(names, 2 * cap * sizeof *names);
			if (!nn) {
				closedir(d);
				goto fail;
			}
			names = nn;
			cap *= 2;
		}
		if (!(names[n++] = strdup(de->d_name))) {
			closedir(d);
			goto fail;
		}
	}
	closedir(d);
	qsort(names + user_start, n - user_start, sizeof *names, cmp_str);
	*out = names;
	*nout = n;
	return 0;
fail:
	mapi_names_free(names, n);
	errno = ENOMEM;
	return -1;
}

/* ---- items -------------------------------------------------------- */

void mapi_entries_free(struct mapi_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++) {
		free(e[i].file);
		free(e[i].id);
	}
	free(e);
}

static int scan_sub(const char *folder_dir, const char *sub, bool in_new,
		    struct mapi_entry **arr, size_t *n, size_t *cap,
		    size_t *skipped)
{
	char dir[MAPI_PATH_MAX];
	if (!mapi_path(dir, sizeof dir, "%s/%s", folder_dir, sub)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue; /* renamed away meanwhile, or not a file */
		const char *colon = strstr(de->d_name, ":2,");
		size_t idlen =
		    colon ? (size_t)(colon - de->d_name) : strlen(de->d_name);
		/* A name no Id can carry (another tool's, or damaged): not an
		 * item of ours; counted so the caller can say so. */
		char idbuf[MAPI_ID_MAX + 2];
		if (idlen > MAPI_ID_MAX ||
		    !mapi_path(idbuf, sizeof idbuf, "%.*s", (int)idlen,
			       de->d_name) ||
		    !mapi_id_ok(idbuf)) {
			(*skipped)++;
			continue;
		}
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct mapi_entry *na =
			    realloc(*arr, nc * sizeof **arr);
			if (!na) {
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			*arr = na;
			*cap = nc;
		}
		struct mapi_entry *e = &(*arr)[*n];
		memset(e, 0, sizeof *e);
		e->file = strdup(de->d_name);
		e->id = strndup(de->d_name, idlen);
		if (!e->file || !e->id) {
			free(e->file);
			free(e->id);
			closedir(d);
			errno = ENOMEM;
			return -1;
		}
		e->in_new = in_new;
		const char *flags = colon ? colon + 3 : "";
		e->seen = !in_new && strchr(flags, 'S') != NULL;
		e->draft = strchr(flags, 'D') != NULL;
		entry_facts(e, &st);
		(*n)++;
	}
	closedir(d);
	return 0;
}

int mapi_maildir_scan(const char *folder_dir, struct mapi_entry **out,
		      size_t *nout)
{
	return mapi_maildir_scan2(folder_dir, out, nout, NULL);
}

int mapi_maildir_scan2(const char *folder_dir, struct mapi_entry **out,
		       size_t *nout, size_t *skipped)
{
	struct mapi_entry *arr = NULL;
	size_t n = 0, cap = 0, skip = 0;
	if (skipped)
		*skipped = 0;
	if (scan_sub(folder_dir, "new", true, &arr, &n, &cap, &skip) < 0 ||
	    scan_sub(folder_dir, "cur", false, &arr, &n, &cap, &skip) < 0) {
		int e = errno;
		mapi_entries_free(arr, n);
		errno = e;
		return -1;
	}
	*out = arr;
	*nout = n;
	if (skipped)
		*skipped = skip;
	return 0;
}

static bool find_in(const char *folder_dir, const char *id, char *path,
		    size_t path_len, struct mapi_entry *entry)
{
	struct mapi_entry *arr;
	size_t n;
	if (mapi_maildir_scan(folder_dir, &arr, &n) < 0)
		return false;
	bool found = false;
	for (size_t i = 0; i < n && !found; i++) {
		if (strcmp(arr[i].id, id) != 0)
			continue;
		found = mapi_path(path, path_len, "%s/%s/%s", folder_dir,
				  arr[i].in_new ? "new" : "cur", arr[i].file);
		if (found && entry) {
			*entry = arr[i];
			arr[i].file = NULL;
			arr[i].id = NULL;
		}
	}
	mapi_entries_free(arr, n);
	return found;
}

enum sb_status mapi_item_find(struct mapi_mailbox *mb, const char *folder,
			      const char *id, char *path, size_t path_len,
			      char *folder_out, size_t folder_len,
			      struct mapi_entry *entry, struct sb_error *err)
{
	if (!mapi_id_ok(id))
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorInvalidIdMalformed",
				    "Id \"%.80s\" is not a valid item id", id);
	char fname[MAPI_FOLDER_MAX + 1], dir[MAPI_PATH_MAX];
	if (folder) {
		enum sb_status st =
		    mapi_folder_resolve(mb, folder, fname, sizeof fname, err);
		if (st != SB_OK)
			return st;
		if (mapi_path(dir, sizeof dir, "%s/%s", mb->dir, fname) &&
		    find_in(dir, id, path, path_len, entry)) {
			if (folder_out)
				mapi_path(folder_out, folder_len, "%s", fname);
			return SB_OK;
		}
		return sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				    "item %s not found in folder \"%s\" of "
				    "mailbox %s",
				    id, fname, mb->address);
	}
	char **names;
	size_t n;
	if (mapi_folder_names(mb, &names, &n) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot list folders of %s: %s",
				    mb->address, strerror(errno));
	bool found = false;
	for (size_t i = 0; i < n && !found; i++) {
		if (!mapi_path(dir, sizeof dir, "%s/%s", mb->dir, names[i]))
			continue;
		found = find_in(dir, id, path, path_len, entry);
		if (found && folder_out)
			mapi_path(folder_out, folder_len, "%s", names[i]);
	}
	mapi_names_free(names, n);
	if (!found)
		return sb_error_set(err, SB_ERR_NOT_FOUND, "ErrorItemNotFound",
				    "item %s not found in mailbox %s", id,
				    mb->address);
	return SB_OK;
}

static size_t clean_tmp_dir(const char *tmpdir)
{
	DIR *d = opendir(tmpdir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

size_t mapi_tmp_clean(struct mapi_mailbox *mb)
{
	size_t removed = 0;
	char **names;
	size_t n;
	char p[MAPI_PATH_MAX];
	if (mapi_folder_names(mb, &names, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (mapi_path(p, sizeof p, "%s/%s/tmp", mb->dir,
				      names[i]))
				removed += clean_tmp_dir(p);
		mapi_names_free(names, n);
	}
	if (mapi_path(p, sizeof p, "%s/%s/tmp", mb->dir, MAPI_CALENDAR))
		removed += clean_tmp_dir(p);
	if (mapi_path(p, sizeof p, "%s/%s/tmp", mb->dir, MAPI_TASKS))
		removed += clean_tmp_dir(p);
	return removed;
}
