/* mapi-stub: the store lock — one daemon owns a store at a time.
 *
 * The lock is flock(LOCK_EX) on the store directory itself, which cannot
 * be removed from under a running daemon the way a file can, and on
 * <store_dir>/.lock, which holds the owner's pid for the message a second
 * daemon prints (and keeps excluding a daemon of an older version, which
 * locks only that file).  A .lock removed and created again between open
 * and flock is noticed (the locked file is no longer the one at the path)
 * and opened again.  flock belongs to an open file, so within one process
 * the lock is kept in a small registry (the one piece of process-wide
 * state here, because the lock itself is process-wide): a configuration
 * reload opens the new instance while the old one still runs, and the
 * same instance name shares the lock; another instance of this daemon
 * naming the same store is refused. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <svcbroker/status.h>

#include "mapi.h"

struct mapi_lock {
	dev_t dev;
	ino_t ino;
	int fd;
	int dir_fd; /* -1 where a directory cannot be flocked */
	int refs;
	pid_t pid; /* a forked child does not own its parent's locks */
	char *instance;
	struct mapi_lock *next;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mapi_lock *registry;

/* The pid in lock file p, for the "in use" message. */
static void lock_owner(const char *p, char *pid, size_t len)
{
	snprintf(pid, len, "unknown");
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(pid, len, "unknown (%s was removed)", p);
		return;
	}
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0])
		snprintf(pid, len, "%s", buf);
}

static enum sb_status in_use(const char *root, const char *p,
			     struct sb_error *err)
{
	char pid[MAPI_PATH_MAX + 32];
	lock_owner(p, pid, sizeof pid);
	return sb_error_set(err, SB_ERR_UNAVAILABLE, "StoreLocked",
			    "store %s is in use: lock %s is held by pid %s "
			    "(one daemon owns a store at a time; stop it or "
			    "give this instance another store_dir)",
			    root, p, pid);
}

/* Lock the store directory: 1 locked, 0 cannot be locked this way (a file
 * system without flock on directories: the .lock file alone guards it),
 * -1 held by another process or an error (err set). */
static int lock_dir(const char *root, const char *p, int *dir_fd,
		    enum sb_status *rc, struct sb_error *err)
{
	*dir_fd = -1;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*rc = sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				   "cannot open store_dir %s: %s", root,
				   strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		*dir_fd = fd;
		return 1;
	}
	int e = errno;
	close(fd);
	if (e == EWOULDBLOCK) {
		*rc = in_use(root, p, err);
		return -1;
	}
	return 0;
}

static enum sb_status lock_file(const char *root, int *fd_out, int *dir_out,
				struct sb_error *err)
{
	char p[MAPI_PATH_MAX];
	if (!mapi_path(p, sizeof p, "%s/.lock", root))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "store_dir is too long");
	int dir_fd;
	enum sb_status rc = SB_OK;
	if (lock_dir(root, p, &dir_fd, &rc, err) < 0)
		return rc;
	int fd = -1;
	for (int tries = 0;; tries++) {
		fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			int e = errno;
			if (dir_fd >= 0)
				close(dir_fd);
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "cannot open lock %s: %s", p,
					    strerror(e));
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;
			close(fd);
			if (dir_fd >= 0)
				close(dir_fd);
			if (e == EWOULDBLOCK)
				return in_use(root, p, err);
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "cannot lock %s: %s", p,
					    strerror(e));
		}
		/* Still the file at the path?  (Removed, and perhaps made
		 * again, between open and flock: lock the new one.) */
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(p, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			break;
		close(fd);
		if (tries == 3) {
			if (dir_fd >= 0)
				close(dir_fd);
			return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
					    "cannot lock %s: it is removed and "
					    "created again while being locked",
					    p);
		}
	}
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		int e = errno;
		close(fd);
		if (dir_fd >= 0)
			close(dir_fd);
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot write the pid to %s: %s", p,
				    strerror(e));
	}
	fsync(fd);
	*fd_out = fd;
	*dir_out = dir_fd;
	return SB_OK;
}

enum sb_status mapi_lock_take(const char *root, const char *instance,
			      struct mapi_lock **out, bool *shared,
			      struct sb_error *err)
{
	*out = NULL;
	*shared = false;
	struct stat st;
	if (stat(root, &st) < 0)
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot use store_dir %s: %s", root,
				    strerror(errno));
	if (!instance)
		instance = "";
	pthread_mutex_lock(&registry_mu);
	enum sb_status rc = SB_OK;
	struct mapi_lock *l;
	for (l = registry; l; l = l->next)
		if (l->dev == st.st_dev && l->ino == st.st_ino &&
		    l->pid == getpid())
			break;
	if (l) {
		if (strcmp(l->instance, instance) == 0) {
			l->refs++; /* a reload of the same instance */
			*out = l;
			*shared = true;
		} else {
			rc =
			    sb_error_set(err, SB_ERR_UNAVAILABLE, "StoreLocked",
					 "store %s is already used by "
					 "instance %s of this daemon (one "
					 "instance owns a store)",
					 root, l->instance);
		}
		pthread_mutex_unlock(&registry_mu);
		return rc;
	}
	int fd = -1, dir_fd = -1;
	rc = lock_file(root, &fd, &dir_fd, err);
	if (rc == SB_OK) {
		l = calloc(1, sizeof *l);
		if (!l || !(l->instance = strdup(instance))) {
			free(l);
			close(fd);
			if (dir_fd >= 0)
				close(dir_fd);
			rc = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
		} else {
			l->dev = st.st_dev;
			l->ino = st.st_ino;
			l->fd = fd;
			l->dir_fd = dir_fd;
			l->refs = 1;
			l->pid = getpid();
			l->next = registry;
			registry = l;
			*out = l;
		}
	}
	pthread_mutex_unlock(&registry_mu);
	return rc;
}

void mapi_lock_release(struct mapi_lock *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&registry_mu);
	if (--l->refs == 0) {
		for (struct mapi_lock **pp = &registry; *pp; pp = &(*pp)->next)
			if (*pp == l) {
				*pp = l->next;
				break;
			}
		close(l->fd); /* releases the flocks */
		if (l->dir_fd >= 0)
			close(l->dir_fd);
		free(l->instance);
		free(l);
	}
	pthread_mutex_unlock(&registry_mu);
}
