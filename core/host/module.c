/* Loading broker modules: the only file of core that knows libltdl.
 *
 * A module is opened by absolute path only (a bare name would make ltdl
 * search LD_LIBRARY_PATH and LTDL_LIBRARY_PATH), with RTLD_LOCAL, and its
 * descriptor is checked field by field before anything else of it is used.
 * A module that was accepted stays loaded until sbc_modules_exit().
 *
 * Every symbol a module uses is resolved when it is loaded: ltdl binds
 * lazily and has no advice for "now", so the shared object ltdl will open
 * is first opened with dlopen(RTLD_NOW | RTLD_LOCAL), which refuses a
 * module with an undefined symbol (naming it), and leaves the object bound
 * for ltdl's open of the same file.  For --check and --list-brokers each
 * file is first loaded in a child process (sbc_modules_probe), so that a
 * constructor that crashes, hangs or exits is reported, not fatal. */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ltdl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash.h"
#include "host.h"

#define MODULE_NAME_MAX 64

struct loaded {
	struct sbc_module mod;
	lt_dlhandle handle;
};

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static bool ltdl_ready;
static struct loaded **loaded;
static size_t n_loaded, cap_loaded;

/* The size of struct sb_broker at each minor version of this major: a
 * module built at minor m must be at least this big. */
static const size_t broker_size_at_minor[SB_ABI_MINOR + 1] = {
    [0] = sizeof(struct sb_broker),
    [1] = sizeof(struct sb_broker), /* 2.1 grew struct sb_host only */
    [2] = sizeof(struct sb_broker), /* 2.2 added sb_call_request_id */
    [3] = sizeof(struct sb_broker), /* 2.3 added SB_MAILBOX */
};

static void fmt(char *buf, size_t len, const char *f, ...) SB_PRINTF(3, 4);
static void fmt(char *buf, size_t len, const char *f, ...)
{
	if (!buf || !len)
		return;
	va_list ap;
	va_start(ap, f);
	vsnprintf(buf, len, f, ap);
	va_end(ap);
}

/* Must hold modules_lock. */
static int ltdl_start(void)
{
	if (ltdl_ready)
		return 0;
	if (lt_dlinit() != 0)
		return -1;
	ltdl_ready = true;
	return 0;
}

int sbc_modules_init(void)
{
	pthread_mutex_lock(&modules_lock);
	int rc = ltdl_start();
	pthread_mutex_unlock(&modules_lock);
	return rc;
}

void sbc_modules_exit(void)
{
	pthread_mutex_lock(&modules_lock);
	for (size_t i = 0; i < n_loaded; i++) {
		if (ltdl_ready)
			lt_dlclose(loaded[i]->handle);
		free(loaded[i]->mod.path);
		free(loaded[i]);
	}
	free(loaded);
	loaded = NULL;
	n_loaded = cap_loaded = 0;
	if (ltdl_ready)
		lt_dlexit();
	ltdl_ready = false;
	pthread_mutex_unlock(&modules_lock);
}

/* ---- loading ------------------------------------------------------------- */

/* Must hold modules_lock. */
static struct loaded *cache_find(const char *path)
{
	for (size_t i = 0; i < n_loaded; i++)
		if (strcmp(loaded[i]->mod.path, path) == 0)
			return loaded[i];
	return NULL;
}

/* Room for one more cache entry.  Must hold modules_lock. */
static bool cache_reserve(void)
{
	if (n_loaded < cap_loaded)
		return true;
	size_t nc = cap_loaded ? cap_loaded * 2 : 8;
	struct loaded **nl = realloc(loaded, nc * sizeof(*nl));
	if (!nl)
		return false;
	loaded = nl;
	cap_loaded = nc;
	return true;
}

static char *path_join(const char *dir, const char *name, const char *ext)
{
	size_t dlen = strlen(dir);
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	size_t len = dlen + 1 + strlen(name) + strlen(ext) + 1;
	char *p = malloc(len);
	if (p)
		snprintf(p, len, "%.*s/%s%s", (int)dlen, dir, name, ext);
	return p;
}

/* The first bytes of path as hex, for "not a loadable object" messages. */
static void head_hex(const char *path, char *out, size_t outlen, bool *is_elf)
{
	unsigned char b[4];
	*is_elf = false;
	snprintf(out, outlen, "unreadable");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, b, sizeof(b));
	close(fd);
	if (n < 0)
		return;
	if (n == 0) {
		snprintf(out, outlen, "an empty file");
		return;
	}
	size_t o = 0;
	for (ssize_t i = 0; i < n && o + 4 < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%02x",
				      i ? " " : "", b[i]);
	*is_elf = n == 4 && memcmp(b, "\177ELF", 4) == 0;
}

/* Check the descriptor.  Returns true, or false with errbuf filled (the
 * message starts with the file's path). */
static bool descriptor_ok(const char *path, const char *name,
			  const struct sb_broker *b, char *errbuf,
			  size_t errlen)
{
	if (b->magic != SB_BROKER_MAGIC) {
		fmt(errbuf, errlen,
		    "%s: %s has magic 0x%08x, expected 0x%08x (\"SVCB\"): it "
		    "is not a svcbroker module descriptor; rebuild the module "
		    "against these headers (SB_BROKER_HEADER)",
		    path, SB_BROKER_SYMBOL, (unsigned)b->magic,
		    (unsigned)SB_BROKER_MAGIC);
		return false;
	}
	if (b->abi_major != SB_ABI_MAJOR) {
		fmt(errbuf, errlen,
		    "%s was built for broker ABI %u.%u, this host speaks "
		    "%d.%d: "
		    "rebuild it against these headers (cc ... $(pkg-config "
		    "--cflags --libs svcbroker)); %s",
		    path, (unsigned)b->abi_major, (unsigned)b->abi_minor,
		    SB_ABI_MAJOR, SB_ABI_MINOR,
		    b->abi_major < SB_ABI_MAJOR
			? "the ABI changelog in <svcbroker/broker.h> says "
			  "what to change in its source"
			: "this host is older than the module");
		return false;
	}
	if (b->abi_minor > SB_ABI_MINOR) {
		fmt(errbuf, errlen,
		    "%s was built for broker ABI %u.%u, newer than this host's "
		    "%d.%d: upgrade svcbroker, or rebuild the module against "
		    "these headers",
		    path, (unsigned)b->abi_major, (unsigned)b->abi_minor,
		    SB_ABI_MAJOR, SB_ABI_MINOR);
		return false;
	}
	size_t need = broker_size_at_minor[b->abi_minor];
	if (b->struct_size < need) {
		fmt(errbuf, errlen,
		    "%s: descriptor struct_size is %u bytes, ABI %u.%u needs "
		    "at "
		    "least %zu: the module was built with altered headers; "
		    "rebuild it against these headers",
		    path, (unsigned)b->struct_size, (unsigned)b->abi_major,
		    (unsigned)b->abi_minor, need);
		return false;
	}
	if (!b->name || strcmp(b->name, name) != 0) {
		if (b->name && sb_broker_name_ok(b->name))
			fmt(errbuf, errlen,
			    "%s holds module \"%s\", expected \"%s\" (the "
			    "file's name): rename the file to %s.so, or fix "
			    "the descriptor's name",
			    path, b->name, name, b->name);
		else
			fmt(errbuf, errlen,
			    "%s holds a module named \"%.64s\", expected "
			    "\"%s\" "
			    "(the file's name): fix the descriptor's name",
			    path, b->name ? b->name : "(null)", name);
		return false;
	}
	char why[SB_ERROR_MSG_MAX];
	if (!sb_broker_check(b, why, sizeof(why))) {
		fmt(errbuf, errlen,
		    "%s: module %s has invalid tables: %s: fix the module",
		    path, name, why);
		return false;
	}
	return true;
}

/* An installed .la names its libdir, and ltdl loads the library from there
 * first: say so when that is not the module directory (or its .libs/, as in
 * a build tree), since the file next to the .la was not used. */
static void warn_if_elsewhere(lt_dlhandle h, const char *path,
			      const char *module_dir)
{
	size_t len = strlen(path);
	if (len < 3 || strcmp(path + len - 3, ".la") != 0)
		return;
	const lt_dlinfo *info = lt_dlgetinfo(h);
	if (!info || !info->filename)
		return;
	const char *slash = strrchr(info->filename, '/');
	if (!slash)
		return;
	size_t dlen = (size_t)(slash - info->filename);
	size_t mlen = strlen(module_dir);
	while (mlen > 1 && module_dir[mlen - 1] == '/')
		mlen--;
	if (strncmp(info->filename, module_dir, mlen) == 0 &&
	    (dlen == mlen || (dlen == mlen + 6 && strncmp(info->filename + mlen,
							  "/.libs", 6) == 0)))
		return;
	sbc_log(SB_LOG_WARN, NULL, NULL,
		"%s names another directory: loaded %s; remove the .la from "
		"the module directory, or fix its libdir",
		path, info->filename);
}

/* The value of `key='value'` (or key=value) on a line of a .la file, into
 * out; false if the line is not that key. */
static bool la_value(const char *line, const char *key, char *out,
		     size_t outlen)
{
	size_t k = strlen(key);
	if (strncmp(line, key, k) != 0 || line[k] != '=')
		return false;
	const char *v = line + k + 1;
	size_t n = strcspn(v, "\n");
	if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
		v++;
		n -= 2;
	}
	if (n >= outlen)
		return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

/* The shared object ltdl opens for path: path itself for a .so; for a .la,
 * its dlname looked for where ltdl looks (libdir when installed, else
 * .libs/ next to the .la, then next to the .la).  malloc'd, or NULL when
 * there is none (ltdl then explains). */
static char *shared_object(const char *path)
{
	size_t len = strlen(path);
	if (len < 3 || strcmp(path + len - 3, ".la") != 0)
		return strdup(path);
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char line[1024], dlname[256] = "", libdir[512] = "", inst[8] = "";
	for (int i = 0; i < 200 && fgets(line, sizeof(line), f); i++) {
		la_value(line, "dlname", dlname, sizeof(dlname));
		la_value(line, "libdir", libdir, sizeof(libdir));
		la_value(line, "installed", inst, sizeof(inst));
	}
	fclose(f);
	if (!dlname[0] || strchr(dlname, '/'))
		return NULL;
	const char *slash = strrchr(path, '/');
	char *dir = strndup(path, slash ? (size_t)(slash - path) : 0);
	if (!dir)
		return NULL;
	char *cand[3] = {NULL, NULL, NULL};
	bool installed = strcmp(inst, "yes") == 0;
	if (installed && libdir[0] == '/')
		cand[0] = path_join(libdir, dlname, "");
	if (!installed)
		cand[1] = path_join(*dir ? dir : "/", ".libs/", dlname);
	cand[2] = path_join(*dir ? dir : "/", dlname, "");
	free(dir);
	char *found = NULL;
	for (int i = 0; i < 3; i++) {
		if (!found && cand[i] && access(cand[i], F_OK) == 0)
			found = cand[i];
		else
			free(cand[i]);
	}
	return found;
}

/* Open path with ltdl, find and check the descriptor.  Must hold
 * modules_lock.  Returns the new cache entry or NULL with errbuf filled. */
static struct loaded *load_path(char *path, const char *module_dir,
				const char *name, char *errbuf, size_t errlen)
{
	/* Bind every symbol now, or refuse naming the one missing. */
	char nowerr[512] = "";
	void *now = NULL;
	char *so = shared_object(path);
	if (so) {
		dlerror();
		now = dlopen(so, RTLD_NOW | RTLD_LOCAL);
		if (!now) {
			const char *de = dlerror();
			snprintf(nowerr, sizeof(nowerr), "%s",
				 de ? de : "unknown error");
		}
	}
	if (!now && so) {
		/* "<file>: undefined symbol: x": the file is named already */
		size_t sl = strlen(so);
		if (strncmp(nowerr, so, sl) == 0 && nowerr[sl] == ':' &&
		    nowerr[sl + 1] == ' ')
			memmove(nowerr, nowerr + sl + 2,
				strlen(nowerr + sl + 2) + 1);
	}
	if (!now && so && strstr(nowerr, "undefined symbol")) {
		fmt(errbuf, errlen,
		    "%s uses a symbol that no loaded library defines (%s): it "
		    "would fail when the symbol is first used; rebuild it with "
		    "-Wl,--no-undefined against the libraries it needs, and "
		    "check they are installed (ldd -r %s)",
		    path, nowerr, so);
		free(so);
		return NULL;
	}
	lt_dladvise adv;
	if (lt_dladvise_init(&adv) != 0) {
		fmt(errbuf, errlen, "%s: cannot load: %s", path, lt_dlerror());
		if (now)
			dlclose(now);
		free(so);
		return NULL;
	}
	lt_dladvise_local(&adv);
	lt_dlhandle h = lt_dlopenadvise(path, adv);
	lt_dladvise_destroy(&adv);
	/* ltdl's handle now holds the object (bound above). */
	if (now)
		dlclose(now);
	if (!h) {
		const char *why = lt_dlerror();
		char head[32];
		bool elf;
		size_t len = strlen(path);
		bool is_so = len > 3 && strcmp(path + len - 3, ".so") == 0;
		head_hex(path, head, sizeof(head), &elf);
		if (is_so && !elf) {
			fmt(errbuf, errlen,
			    "%s is not a loadable object: it starts with %s, "
			    "expected an ELF shared object (7f 45 4c 46): "
			    "replace it with a module built for svcbroker",
			    path, head);
		} else if (is_so) {
			/* ltdl's reason is often just "file not found": the
			 * dynamic linker's own one is in nowerr. */
			fmt(errbuf, errlen,
			    "%s is not a loadable object (%s): rebuild it for "
			    "this system, and check the libraries it needs "
			    "(ldd)",
			    path,
			    nowerr[0] ? nowerr : (why ? why : "unknown error"));
		} else {
			fmt(errbuf, errlen,
			    "%s is not a loadable module (%s): check the "
			    "library its dlname names is next to it, or point "
			    "module_dir at the .so",
			    path, why ? why : "unknown error");
		}
		free(so);
		return NULL;
	}
	if (!now && so) {
		/* ltdl could open what dlopen(RTLD_NOW) could not */
		fmt(errbuf, errlen,
		    "%s cannot have every symbol it uses resolved (%s): "
		    "rebuild it with -Wl,--no-undefined against the libraries "
		    "it needs (ldd -r %s)",
		    path, nowerr, so);
		free(so);
		lt_dlclose(h);
		return NULL;
	}
	free(so);
	const struct sb_broker *b = lt_dlsym(h, SB_BROKER_SYMBOL);
	if (!b) {
		fmt(errbuf, errlen,
		    "%s has no symbol %s (it exports no object or function of "
		    "that name; expected the module's one exported const "
		    "struct sb_broker): is it a svcbroker module? build it "
		    "with -export-symbols-regex '^%s$' and check the name of "
		    "its descriptor (nm -D --defined-only %s)",
		    path, SB_BROKER_SYMBOL, SB_BROKER_SYMBOL, path);
		lt_dlclose(h);
		return NULL;
	}
	if (!descriptor_ok(path, name, b, errbuf, errlen)) {
		lt_dlclose(h);
		return NULL;
	}
	warn_if_elsewhere(h, path, module_dir);
	struct loaded *l = calloc(1, sizeof(*l));
	if (!l || !cache_reserve()) {
		free(l);
		lt_dlclose(h);
		fmt(errbuf, errlen, "%s: out of memory", path);
		return NULL;
	}
	l->mod.path = path;
	l->mod.broker = b;
	l->handle = h;
	loaded[n_loaded++] = l;
	return l;
}

/* ---- trying a module in a child process (--check, --list-brokers) ---- */

static int probe_ms; /* 0: load in this process only */

void sbc_modules_probe(int timeout_ms)
{
	pthread_mutex_lock(&modules_lock);
	probe_ms = timeout_ms > 0 ? timeout_ms : 0;
	pthread_mutex_unlock(&modules_lock);
}

static const char *sig_name(int sig, char *buf, size_t len)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV (invalid memory access)";
	case SIGBUS:
		return "SIGBUS (bus error)";
	case SIGILL:
		return "SIGILL (illegal instruction)";
	case SIGFPE:
		return "SIGFPE (arithmetic error)";
	case SIGABRT:
		return "SIGABRT (abort)";
	case SIGKILL:
		return "SIGKILL";
	case SIGTERM:
		return "SIGTERM";
	}
	snprintf(buf, len, "signal %d", sig);
	return buf;
}

/* The child: load path as the parent would, write 'K' (accepted) or 'E'
 * and the refusal to fd, and end without running atexit handlers or
 * flushing the parent's stdio buffers. */
static void probe_child(int fd, const char *path, const char *module_dir,
			const char *name)
{
	/* a constructor's output must not end up in --list-brokers' JSON */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	char msg[1024];
	msg[0] = 'E';
	char *p = strdup(path);
	struct loaded *l =
	    p ? load_path(p, module_dir, name, msg + 1, sizeof(msg) - 1) : NULL;
	if (!p)
		snprintf(msg + 1, sizeof(msg) - 1, "%s: out of memory", path);
	if (l)
		msg[0] = 'K', msg[1] = '\0';
	else
		free(p); /* (a refusal leaves it to the caller) */
	size_t len = strlen(msg) + 1, off = 0; /* with its NUL: the end */
	while (off < len) {
		ssize_t w = write(fd, msg + off, len - off);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += (size_t)w;
	}
	_exit(0);
}

/* Load path in a child process first.  Must hold modules_lock.  Returns
 * true if the child accepted it, else false with errbuf filled. */
static bool probe(const char *path, const char *module_dir, const char *name,
		  char *errbuf, size_t errlen)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0) {
		fmt(errbuf, errlen, "%s: cannot try it in a child process: %s",
		    path, strerror(errno));
		return false;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		fmt(errbuf, errlen, "%s: cannot try it in a child process: %s",
		    path, strerror(e));
		return false;
	}
	if (pid == 0) {
		close(fds[0]);
		probe_child(fds[1], path, module_dir, name);
	}
	close(fds[1]);
	char msg[1024];
	size_t got = 0;
	bool timed_out = false, eof = false;
	int64_t deadline = sb_now_ms() + probe_ms;
	while (!eof) {
		int64_t left = deadline - sb_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			timed_out = r == 0;
			break;
		}
		ssize_t n = read(fds[0], msg + got, sizeof(msg) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		/* the message ends with a NUL (a process the constructor
		 * forked may hold the pipe open after the child exits) */
		if (n <= 0 || got + (size_t)n >= sizeof(msg) - 1 ||
		    memchr(msg + got, '\0', (size_t)n))
			eof = true;
		if (n > 0)
			got += (size_t)n;
	}
	close(fds[0]);
	msg[got] = '\0';
	/* The child exits after its message, or when the pipe closed; wait
	 * for it until the deadline, then kill it. */
	int status = 0;
	bool reaped = false;
	while (!timed_out) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR)) {
			reaped = true; /* (or not ours to wait for: ECHILD) */
			break;
		}
		if (sb_now_ms() >= deadline) {
			timed_out = !(got && (msg[0] == 'K' || msg[0] == 'E'));
			break;
		}
		poll(NULL, 0, 5);
	}
	if (!reaped) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	char sb[32];
	if (timed_out) {
		fmt(errbuf, errlen,
		    "%s: loading it did not finish within %d ms (a constructor "
		    "that hangs?): not loaded; fix or remove the file",
		    path, probe_ms);
		return false;
	}
	if (got && msg[0] == 'K')
		return true;
	if (got && msg[0] == 'E') {
		fmt(errbuf, errlen, "%s", msg + 1);
		return false;
	}
	if (WIFSIGNALED(status))
		fmt(errbuf, errlen,
		    "%s: loading it crashed with %s (in a constructor of the "
		    "module or of a library it needs): not loaded; fix or "
		    "remove the file",
		    path, sig_name(WTERMSIG(status), sb, sizeof(sb)));
	else
		fmt(errbuf, errlen,
		    "%s: loading it ended the process with exit status %d (a "
		    "constructor that calls exit()?): not loaded; fix or "
		    "remove the file",
		    path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return false;
}

const struct sbc_module *sbc_module_load(const char *module_dir,
					 const char *name, char *errbuf,
					 size_t errlen)
{
	if (!sb_broker_name_ok(name)) {
		fmt(errbuf, errlen,
		    "module name \"%s\" is not valid: module names are "
		    "[a-z0-9-]+ (at most %d characters)",
		    name ? name : "(null)", MODULE_NAME_MAX);
		return NULL;
	}
	if (!module_dir || module_dir[0] != '/') {
		fmt(errbuf, errlen,
		    "module %s: module_dir \"%s\" is not an absolute path",
		    name, module_dir ? module_dir : "(null)");
		return NULL;
	}
	char *la = path_join(module_dir, name, ".la");
	char *so = path_join(module_dir, name, ".so");
	if (!la || !so) {
		free(la);
		free(so);
		fmt(errbuf, errlen, "module %s: out of memory", name);
		return NULL;
	}
	struct stat st;
	char *path = NULL;
	if (stat(la, &st) == 0) {
		path = la;
		free(so);
	} else if (stat(so, &st) == 0) {
		path = so;
		free(la);
	} else if (lstat(so, &st) == 0 || lstat(la, &st) == 0) {
		const char *which = lstat(so, &st) == 0 ? so : la;
		char target[512];
		ssize_t n = readlink(which, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		fmt(errbuf, errlen,
		    "%s is a symbolic link to %s, which does not exist: "
		    "reinstall the module or fix the link",
		    which, n > 0 ? target : "(unreadable)");
		free(la);
		free(so);
		return NULL;
	} else {
		int e = errno;
		fmt(errbuf, errlen,
		    "no module file %s.la or %s.so in %s (%s): is it "
		    "installed? is module_dir right?",
		    name, name, module_dir, strerror(e));
		free(la);
		free(so);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		fmt(errbuf, errlen,
		    "%s is not a regular file: expected a module built for "
		    "svcbroker",
		    path);
		free(path);
		return NULL;
	}

	pthread_mutex_lock(&modules_lock);
	struct loaded *l = cache_find(path);
	if (l) {
		free(path);
	} else if (ltdl_start() != 0) {
		fmt(errbuf, errlen, "%s: cannot start the module loader: %s",
		    path, lt_dlerror());
		free(path);
	} else if (probe_ms && !probe(path, module_dir, name, errbuf, errlen)) {
		free(path);
	} else {
		/* a constructor that crashes or exits is named in the log */
		sbc_log(SB_LOG_DEBUG, name, NULL, "loading %s", path);
		struct sbc_crash_frame cf;
		sbc_crash_enter(&cf, name, NULL, "load", path, NULL);
		l = load_path(path, module_dir, name, errbuf, errlen);
		sbc_crash_leave(&cf);
		if (!l)
			free(path);
	}
	pthread_mutex_unlock(&modules_lock);
	return l ? &l->mod : NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t sbc_module_scan(const char *dir, const struct sbc_module ***out,
		       struct sbc_errlist *errs)
{
	*out = NULL;
	DIR *d = opendir(dir);
	if (!d) {
		sbc_errlist_add(errs, "module_dir %s: %s", dir,
				strerror(errno));
		return 0;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	bool oom = false;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (len < 4 || (strcmp(de->d_name + len - 3, ".so") != 0 &&
				strcmp(de->d_name + len - 3, ".la") != 0))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nn = realloc(names, nc * sizeof(*nn));
			if (!nn) {
				oom = true;
				break;
			}
			names = nn;
			cap = nc;
		}
		names[n] = strndup(de->d_name, len - 3);
		if (!names[n]) {
			oom = true;
			break;
		}
		n++;
	}
	closedir(d);
	if (oom)
		sbc_errlist_add(errs, "module_dir %s: out of memory", dir);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	const struct sbc_module **mods = n ? calloc(n, sizeof(*mods)) : NULL;
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue; /* name.la and name.so: one module */
		char errbuf[1024];
		if (!sb_broker_name_ok(names[i])) {
			sbc_errlist_add(errs,
					"%s/%s: \"%s\" is not a module name "
					"([a-z0-9-]+): not a svcbroker module",
					dir, names[i], names[i]);
			continue;
		}
		const struct sbc_module *m =
		    sbc_module_load(dir, names[i], errbuf, sizeof(errbuf));
		if (!m)
			sbc_errlist_add(errs, "%s", errbuf);
		else if (mods)
			mods[count++] = m;
	}
	if (n && !mods)
		sbc_errlist_add(errs, "module_dir %s: out of memory", dir);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (!count) {
		free(mods);
		mods = NULL;
	}
	*out = mods;
	return count;
}
