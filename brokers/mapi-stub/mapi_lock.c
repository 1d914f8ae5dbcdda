/* mapi-stub: the store lock — one daemon owns a store at a time.
 *
 * The lock is flock(LOCK_EX) on <store_dir>/.lock, which also holds the
 * owner's pid for the message a second daemon prints.  flock belongs to an
 * open file, so within one process the lock is kept in a small registry
 * (the one piece of process-wide state here, because the lock itself is
 * process-wide): a configuration reload opens the new instance while the
 * old one still runs, and the same instance name shares the lock; another
 * instance of this daemon naming the same store is refused. */
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
	int refs;
	pid_t pid; /* a forked child does not own its parent's locks */
	char *instance;
	struct mapi_lock *next;
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mapi_lock *registry;

static enum sb_status lock_file(const char *root, int *fd_out,
				struct sb_error *err)
{
	char p[MAPI_PATH_MAX];
	if (!mapi_path(p, sizeof p, "%s/.lock", root))
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "store_dir is too long");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot open lock %s: %s", p,
				    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\r\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			return sb_error_set(
			    err, SB_ERR_UNAVAILABLE, "StoreLocked",
			    "store %s is in use: lock %s is held by pid "
			    "%s (one daemon owns a store at a time; stop "
			    "it or give this instance another store_dir)",
			    root, p, pid[0] ? pid : "unknown");
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot lock %s: %s", p, strerror(e));
	}
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		int e = errno;
		close(fd);
		return sb_error_set(err, SB_ERR_UNAVAILABLE, NULL,
				    "cannot write the pid to %s: %s", p,
				    strerror(e));
	}
	fsync(fd);
	*fd_out = fd;
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
	int fd = -1;
	rc = lock_file(root, &fd, err);
	if (rc == SB_OK) {
		l = calloc(1, sizeof *l);
		if (!l || !(l->instance = strdup(instance))) {
			free(l);
			close(fd);
			rc = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "out of memory");
		} else {
			l->dev = st.st_dev;
			l->ino = st.st_ino;
			l->fd = fd;
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
		close(l->fd); /* releases the flock */
		free(l->instance);
		free(l);
	}
	pthread_mutex_unlock(&registry_mu);
}
