/* mapi-stub: durable file operations — every item is written to a
 * temporary file, fsynced, renamed (or linked) into place, and its
 * directory fsynced; bounded reads. */
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

#include <svcbroker/sdk.h>

#include "mapi.h"

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
			       size_t len, bool noreplace, bool *placed,
			       struct sb_error *err)
{
	if (placed)
		*placed = false;
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
	if (placed)
		*placed = true;
	if (mapi_fsync_dir(syncdir) < 0)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "cannot sync %s: %s", syncdir,
				    strerror(errno));
	return SB_OK;
}

enum sb_status mapi_write_atomic(const char *dir, const char *sub,
				 const char *name, const void *data, size_t len,
				 bool noreplace, bool *placed,
				 struct sb_error *err)
{
	char tmp[MAPI_PATH_MAX], dst[MAPI_PATH_MAX], subdir[MAPI_PATH_MAX];
	if (placed)
		*placed = false;
	if (!mapi_path(tmp, sizeof tmp, "%s/tmp/%s", dir, name) ||
	    !mapi_path(subdir, sizeof subdir, "%s/%s", dir, sub) ||
	    !mapi_path(dst, sizeof dst, "%s/%s", subdir, name))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "store path too long");
	return mapi_write_file(tmp, dst, subdir, data, len, noreplace, placed,
			       err);
}

int mapi_read_file(const char *path, size_t max, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO put in place of an item must not hang us. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
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
