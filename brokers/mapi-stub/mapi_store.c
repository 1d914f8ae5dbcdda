/* mapi-stub: the store on disk — the lock, mailboxes, Maildir folders,
 * atomic writes, item lookup and quota accounting. */
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

#include <svcbroker/call.h>
#include <svcbroker/sdk.h>

#include "mapi.h"

const struct mapi_wellknown mapi_wellknown[] = {
	{"inbox", MAPI_INBOX},
	{"drafts", MAPI_DRAFTS},
	{"sentitems", MAPI_SENT},
	{"deleteditems", MAPI_DELETED},
	{"outbox", MAPI_OUTBOX},
	{NULL, NULL},
};

/* Directory names that are not mail folders. */
static const char *const reserved_names[] = {MAPI_CALENDAR, MAPI_TASKS, "tmp",
					     "new", "cur", NULL};

bool mapi_path(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

int mapi_fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

enum sb_status mapi_write_file(const char *tmp, const char *dst,
			       const char *syncdir, const void *data,
			       size_t len, bool noreplace,
			       struct sb_error *err)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot create %s: %s", tmp,
				    strerror(errno));
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot write %s: %s", tmp, strerror(e));
	}
	if (close(fd) < 0) {
		int e = errno;
		unlink(tmp);
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot write %s: %s", tmp, strerror(e));
	}
	int rc;
	if (noreplace) {
		/* link() fails with EEXIST instead of replacing. */
		rc = link(tmp, dst);
		int e = errno;
		unlink(tmp);
		errno = e;
		if (rc < 0 && errno == EEXIST)
			return sb_error_set(err, SB_ERR_CONFLICT,
					    "ErrorItemExists", "%s exists",
					    dst);
	} else {
		rc = rename(tmp, dst);
		if (rc < 0) {
			int e = errno;
			unlink(tmp);
			errno = e;
		}
	}
	if (rc < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot store %s: %s", dst,
				    strerror(errno));
	if (mapi_fsync_dir(syncdir) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot sync %s: %s", syncdir,
				    strerror(errno));
	return SB_OK;
}

enum sb_status mapi_write_atomic(const char *dir, const char *sub,
				 const char *name, const void *data,
				 size_t len, bool noreplace,
				 struct sb_error *err)
{
	char tmp[MAPI_PATH_MAX], dst[MAPI_PATH_MAX], subdir[MAPI_PATH_MAX];
	if (!mapi_path(tmp, sizeof tmp, "%s/tmp/%s", dir, name) ||
	    !mapi_path(subdir, sizeof subdir, "%s/%s", dir, sub) ||
	    !mapi_path(dst, sizeof dst, "%s/%s", subdir, name))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "store path too long");
	return mapi_write_file(tmp, dst, subdir, data, len, noreplace, err);
}

int mapi_read_file(const char *path, size_t max, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = errno;
		close(fd);
		errno = S_ISREG(st.st_mode) ? e : EINVAL;
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	size_t cap = (size_t)st.st_size;
	char *buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return 0;
}

static int mkdir_ok(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

int mapi_maildir_make(const char *dir)
{
	char p[MAPI_PATH_MAX];
	if (mkdir_ok(dir) < 0)
		return -1;
	static const char *const subs[] = {"tmp", "new", "cur"};
	for (size_t i = 0; i < 3; i++) {
		if (!mapi_path(p, sizeof p, "%s/%s", dir, subs[i])) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (mkdir_ok(p) < 0)
			return -1;
	}
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[MAPI_PATH_MAX];
	if (!mapi_path(buf, sizeof buf, "%s", path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -1;
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
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, message_id, strlen(message_id) + 1) ==
			  1 &&
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
				h1 = (h1 ^ (unsigned char)*p) *
				     1099511628211ULL;
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
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > MAPI_ID_MAX || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':')
			return false;
	}
	return true;
}

/* ---- mailboxes ---------------------------------------------------- */

/* The directory name of a mailbox: the lower-cased address, any byte
 * outside [a-z0-9@._+-] written as %XX, so it can never name a path. */
static char *mailbox_dirname(const char *addr)
{
	struct sb_buf b;
	sb_buf_init(&b, 1024);
	for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
		unsigned char c = (unsigned char)tolower(*p);
		if (isalnum(c) || c == '@' || c == '.' || c == '_' ||
		    c == '+' || c == '-')
			sb_buf_append(&b, &c, 1);
		else
			sb_buf_printf(&b, "%%%02X", c);
	}
	if (b.len && b.data[0] == '.')
		b.data[0] = '_';
	return sb_buf_steal(&b);
}

struct mapi_mailbox *mapi_mailbox_find(struct mapi_store *s,
				       const char *address)
{
	if (!address)
		return NULL;
	for (size_t i = 0; i < s->n_mb; i++)
		if (strcasecmp(s->mb[i].address, address) == 0)
			return &s->mb[i];
	return NULL;
}

enum sb_status mapi_mailbox_for_call(struct mapi_store *s,
				     const struct sb_call *call,
				     struct mapi_mailbox **out,
				     struct sb_error *err)
{
	const char *want = sb_call_str(call, "Mailbox", NULL);
	if (!want) {
		*out = s->def;
		return SB_OK;
	}
	*out = mapi_mailbox_find(s, want);
	if (!*out)
		return sb_error_set(err, SB_ERR_NOT_FOUND,
				    "ErrorNonExistentMailbox",
				    "mailbox %s: no such mailbox in this store",
				    want);
	return SB_OK;
}

enum sb_status mapi_quota_reserve(struct mapi_store *s,
				  struct mapi_mailbox *mb, int64_t bytes,
				  struct sb_error *err)
{
	pthread_mutex_lock(&mb->lock);
	bool full = mb->used + bytes > s->quota;
	int64_t used = mb->used;
	if (!full)
		mb->used += bytes;
	pthread_mutex_unlock(&mb->lock);
	if (full)
		return sb_error_set(
			err, SB_ERR_QUOTA, "ErrorQuotaExceeded",
			"mailbox full: %s uses %lld of its %lld bytes and "
			"cannot take %lld more",
			mb->address, (long long)used, (long long)s->quota,
			(long long)bytes);
	return SB_OK;
}

void mapi_quota_release(struct mapi_mailbox *mb, int64_t bytes)
{
	pthread_mutex_lock(&mb->lock);
	mb->used -= bytes;
	if (mb->used < 0)
		mb->used = 0;
	pthread_mutex_unlock(&mb->lock);
}

/* ---- folders ------------------------------------------------------ */

enum sb_status mapi_folder_name_check(const char *name, struct sb_error *err)
{
	if (!name || !sb_path_component_ok(name, MAPI_FOLDER_MAX) ||
	    name[0] == '.' || strchr(name, '\\'))
		return sb_error_set(err, SB_ERR_INVALID_INPUT,
				    "ErrorInvalidFolderName",
				    "folder name \"%s\" is not allowed: "
				    "1..%d bytes, no '/', '\\', control "
				    "characters, and not starting with '.'",
				    name ? name : "", MAPI_FOLDER_MAX);
	for (size_t i = 0; reserved_names[i]; i++)
		if (strcasecmp(name, reserved_names[i]) == 0)
			return sb_error_set(err, SB_ERR_INVALID_INPUT,
					    "ErrorInvalidFolderName",
					    "folder name \"%s\" is reserved",
					    name);
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
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "name too long");
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
		if (de->d_name[0] == '.')
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
		    struct mapi_entry **arr, size_t *n, size_t *cap)
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
		size_t idlen = colon ? (size_t)(colon - de->d_name)
				     : strlen(de->d_name);
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct mapi_entry *na = realloc(*arr, nc * sizeof **arr);
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
		e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			      st.st_mtim.tv_nsec;
		e->size = st.st_size;
		(*n)++;
	}
	closedir(d);
	return 0;
}

int mapi_maildir_scan(const char *folder_dir, struct mapi_entry **out,
		      size_t *nout)
{
	struct mapi_entry *arr = NULL;
	size_t n = 0, cap = 0;
	if (scan_sub(folder_dir, "new", true, &arr, &n, &cap) < 0 ||
	    scan_sub(folder_dir, "cur", false, &arr, &n, &cap) < 0) {
		int e = errno;
		mapi_entries_free(arr, n);
		errno = e;
		return -1;
	}
	*out = arr;
	*nout = n;
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
		enum sb_status st = mapi_folder_resolve(mb, folder, fname,
							sizeof fname, err);
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
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
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

/* Bytes stored under dir (regular files, recursively, bounded depth). */
static int64_t du(const char *dir, int depth)
{
	if (depth > 4)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			total += st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			char p[MAPI_PATH_MAX];
			if (mapi_path(p, sizeof p, "%s/%s", dir, de->d_name))
				total += du(p, depth + 1);
		}
	}
	closedir(d);
	return total;
}

/* ---- open / close ------------------------------------------------- */

static enum sb_status mailbox_prepare(struct mapi_store *s,
				      struct mapi_mailbox *mb, bool owner,
				      struct sb_error *err)
{
	if (mkdir_ok(mb->dir) < 0)
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot create mailbox directory %s: %s",
				    mb->dir, strerror(errno));
	char p[MAPI_PATH_MAX];
	for (size_t i = 0; mapi_wellknown[i].id; i++) {
		if (!mapi_path(p, sizeof p, "%s/%s", mb->dir,
			       mapi_wellknown[i].name) ||
		    mapi_maildir_make(p) < 0)
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "cannot create folder %s: %s", p,
					    strerror(errno));
	}
	static const char *const ics[] = {MAPI_CALENDAR, MAPI_TASKS};
	for (size_t i = 0; i < 2; i++) {
		if (!mapi_path(p, sizeof p, "%s/%s", mb->dir, ics[i]) ||
		    mkdir_ok(p) < 0 ||
		    !mapi_path(p, sizeof p, "%s/%s/tmp", mb->dir, ics[i]) ||
		    mkdir_ok(p) < 0)
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "cannot create %s: %s", p,
					    strerror(errno));
	}
	mapi_fsync_dir(mb->dir);
	if (!owner)
		return SB_OK; /* the running instance may be writing */
	size_t n = mapi_tmp_clean(mb);
	if (n)
		s->host->log(s->host, SB_LOG_INFO,
			     "%s: removed %zu unfinished file(s) from tmp/",
			     mb->address, n);
	return SB_OK;
}

enum sb_status mapi_store_open(const struct sb_host *host,
			       const struct mapi_conf *conf,
			       struct mapi_store **out, struct sb_error *err)
{
	*out = NULL;
	if (!conf->store_dir || conf->store_dir[0] != '/')
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "store_dir must be an absolute path");
	size_t n = 0;
	while (conf->mailboxes && conf->mailboxes[n])
		n++;
	if (n == 0)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "mailboxes: at least one address is "
				    "required");
	struct mapi_store *s = calloc(1, sizeof *s);
	if (!s)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
	s->host = host;
	s->quota = conf->quota;
	s->max_message_size = conf->max_message_size;
	atomic_init(&s->seq, 0);
	char hn[64] = "localhost";
	if (gethostname(hn, sizeof hn - 1) < 0)
		snprintf(hn, sizeof hn, "localhost");
	hn[sizeof hn - 1] = '\0';
	size_t j = 0;
	for (size_t i = 0; hn[i] && j < sizeof s->hostname - 1; i++)
		if (isalnum((unsigned char)hn[i]) || hn[i] == '-' ||
		    hn[i] == '.')
			s->hostname[j++] = hn[i];
	if (j == 0)
		snprintf(s->hostname, sizeof s->hostname, "localhost");
	enum sb_status st;
	s->root = strdup(conf->store_dir);
	s->mb = calloc(n, sizeof *s->mb);
	if (!s->root || !s->mb) {
		st = sb_error_set(err, SB_ERR_INTERNAL, NULL, "out of memory");
		goto fail;
	}
	/* Validate every address before touching the disk. */
	for (size_t i = 0; i < n; i++) {
		const char *a = conf->mailboxes[i];
		if (!sb_email_valid(a)) {
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "mailboxes: \"%s\" is not a valid "
					  "e-mail address",
					  a);
			goto fail;
		}
		if (strpbrk(a, "/\\%")) {
			/* Path-like: refused rather than silently renamed. */
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "mailboxes: \"%s\" is not allowed "
					  "in a store: an address may not "
					  "contain '/', '\\' or '%%'",
					  a);
			goto fail;
		}
		for (size_t k = 0; k < i; k++)
			if (strcasecmp(a, conf->mailboxes[k]) == 0) {
				st = sb_error_set(err, SB_ERR_INVALID_INPUT,
						  NULL,
						  "mailboxes: %s is listed "
						  "twice",
						  a);
				goto fail;
			}
	}
	if (mkdir_p(s->root) < 0) {
		st = sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				  "cannot create store_dir %s: %s", s->root,
				  strerror(errno));
		goto fail;
	}
	char *real = realpath(s->root, NULL);
	if (real) {
		free(s->root);
		s->root = real;
	}
	bool shared = false;
	st = mapi_lock_take(s->root, host->instance, &s->lock, &shared, err);
	if (st != SB_OK)
		goto fail;
	if (shared)
		host->log(host, SB_LOG_INFO,
			  "store %s: taken over from the running instance "
			  "(reload)",
			  s->root);
	for (size_t i = 0; i < n; i++) {
		struct mapi_mailbox *mb = &s->mb[i];
		pthread_mutex_init(&mb->lock, NULL);
		pthread_mutex_init(&mb->ics_lock, NULL);
		s->n_mb = i + 1;
		mb->address = strdup(conf->mailboxes[i]);
		char *dn = mailbox_dirname(conf->mailboxes[i]);
		if (!mb->address || !dn ||
		    asprintf(&mb->dir, "%s/%s", s->root, dn) < 0) {
			mb->dir = NULL;
			free(dn);
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
			goto fail;
		}
		free(dn);
		for (char *p = mb->address; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	s->def = &s->mb[0];
	if (conf->default_mailbox) {
		s->def = mapi_mailbox_find(s, conf->default_mailbox);
		if (!s->def) {
			st = sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
					  "default_mailbox: %s is not one of "
					  "mailboxes",
					  conf->default_mailbox);
			goto fail;
		}
	}
	for (size_t i = 0; i < n; i++) {
		st = mailbox_prepare(s, &s->mb[i], !shared, err);
		if (st != SB_OK)
			goto fail;
	}
	mapi_fsync_dir(s->root);
	/* Finish interrupted Sends before the first call (not on a reload:
	 * the running instance finishes its own). */
	for (size_t i = 0; i < n && !shared; i++)
		mapi_outbox_recover(s, &s->mb[i]);
	for (size_t i = 0; i < n; i++)
		s->mb[i].used = du(s->mb[i].dir, 0);
	*out = s;
	return SB_OK;
fail:
	mapi_store_close(s);
	return st;
}

void mapi_store_close(struct mapi_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_mb; i++) {
		free(s->mb[i].address);
		free(s->mb[i].dir);
		pthread_mutex_destroy(&s->mb[i].lock);
		pthread_mutex_destroy(&s->mb[i].ics_lock);
	}
	free(s->mb);
	mapi_lock_release(s->lock);
	free(s->root);
	free(s);
}
