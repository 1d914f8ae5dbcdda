/* Loading broker modules: the only file of core that knows libltdl.
 *
 * A module is opened by absolute path only (a bare name would make ltdl
 * search LD_LIBRARY_PATH and LTDL_LIBRARY_PATH), with RTLD_LOCAL, and its
 * descriptor is checked field by field before anything else of it is used.
 * A module that was accepted stays loaded until sbc_modules_exit().  (dlopen
 * is called directly only to explain why ltdl could not open a file.) */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ltdl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

#if UINTPTR_MAX > 0xffffffffu
typedef Elf64_Ehdr elf_ehdr;
typedef Elf64_Shdr elf_shdr;
typedef Elf64_Sym elf_sym;
#define ELF_ST_BIND ELF64_ST_BIND
#define ELF_ST_TYPE ELF64_ST_TYPE
#define ELF_CLASS ELFCLASS64
#else
typedef Elf32_Ehdr elf_ehdr;
typedef Elf32_Shdr elf_shdr;
typedef Elf32_Sym elf_sym;
#define ELF_ST_BIND ELF32_ST_BIND
#define ELF_ST_TYPE ELF32_ST_TYPE
#define ELF_CLASS ELFCLASS32
#endif
#define SYMTAB_READ_MAX (16u << 20)

static bool pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return true;
}

/* The names of the objects and functions an ELF shared object exports
 * (its .dynsym), for the "no svcbroker_broker" message: "x, y", "no
 * objects or functions", or a note that they could not be read.  Reads at
 * most SYMTAB_READ_MAX bytes per table. */
static void exported_symbols(const char *file, char *out, size_t outlen)
{
	snprintf(out, outlen, "symbols that could not be read");
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	elf_ehdr eh;
	elf_shdr *sh = NULL;
	elf_sym *syms = NULL;
	char *strs = NULL;
	if (!pread_all(fd, &eh, sizeof(eh), 0) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELF_CLASS ||
	    eh.e_shentsize != sizeof(elf_shdr) || eh.e_shnum == 0 ||
	    eh.e_shnum > 4096)
		goto done;
	sh = calloc(eh.e_shnum, sizeof(*sh));
	if (!sh ||
	    !pread_all(fd, sh, (size_t)eh.e_shnum * sizeof(*sh), eh.e_shoff))
		goto done;
	size_t o = 0, shown = 0, more = 0;
	for (size_t i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh.e_shnum)
			continue;
		const elf_shdr *st = &sh[sh[i].sh_link];
		if (sh[i].sh_size > SYMTAB_READ_MAX ||
		    st->sh_size > SYMTAB_READ_MAX || st->sh_size == 0 ||
		    sh[i].sh_entsize != sizeof(elf_sym))
			break;
		syms = malloc(sh[i].sh_size ? sh[i].sh_size : 1);
		strs = malloc(st->sh_size + 1);
		if (!syms || !strs ||
		    !pread_all(fd, syms, sh[i].sh_size, sh[i].sh_offset) ||
		    !pread_all(fd, strs, st->sh_size, st->sh_offset))
			break;
		strs[st->sh_size] = '\0';
		snprintf(out, outlen, "no objects or functions");
		size_t n = sh[i].sh_size / sizeof(elf_sym);
		for (size_t k = 0; k < n; k++) {
			const elf_sym *y = &syms[k];
			int bind = ELF_ST_BIND(y->st_info);
			int type = ELF_ST_TYPE(y->st_info);
			if (y->st_shndx == SHN_UNDEF ||
			    y->st_name >= st->sh_size ||
			    (bind != STB_GLOBAL && bind != STB_WEAK) ||
			    (type != STT_OBJECT && type != STT_FUNC))
				continue;
			const char *nm = strs + y->st_name;
			if (!*nm || nm[0] == '_')
				continue; /* _init, _fini and the like */
			if (shown == 4 || o + strlen(nm) + 3 >= outlen) {
				more++;
				continue;
			}
			o += (size_t)snprintf(out + o, outlen - o, "%s%s",
					      shown ? ", " : "", nm);
			shown++;
		}
		break;
	}
	if (more && o + 24 < outlen)
		snprintf(out + o, outlen - o, " and %zu more", more);
done:
	free(sh);
	free(syms);
	free(strs);
	close(fd);
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

/* Open path with ltdl, find and check the descriptor.  Must hold
 * modules_lock.  Returns the new cache entry or NULL with errbuf filled. */
static struct loaded *load_path(char *path, const char *module_dir,
				const char *name, char *errbuf, size_t errlen)
{
	lt_dladvise adv;
	if (lt_dladvise_init(&adv) != 0) {
		fmt(errbuf, errlen, "%s: cannot load: %s", path, lt_dlerror());
		return NULL;
	}
	lt_dladvise_local(&adv);
	lt_dlhandle h = lt_dlopenadvise(path, adv);
	lt_dladvise_destroy(&adv);
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
			/* ltdl's reason is often just "file not found": ask
			 * the dynamic linker itself for the real one. */
			char real[512] = "";
			dlerror();
			void *dh = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
			const char *de = dh ? NULL : dlerror();
			if (dh)
				dlclose(dh);
			snprintf(real, sizeof(real), "%s",
				 de ? de : (why ? why : "unknown error"));
			fmt(errbuf, errlen,
			    "%s is not a loadable object (%s): rebuild it for "
			    "this system, and check the libraries it needs "
			    "(ldd)",
			    path, real);
		} else {
			fmt(errbuf, errlen,
			    "%s is not a loadable module (%s): check the "
			    "library its dlname names is next to it, or point "
			    "module_dir at the .so",
			    path, why ? why : "unknown error");
		}
		return NULL;
	}
	const struct sb_broker *b = lt_dlsym(h, SB_BROKER_SYMBOL);
	if (!b) {
		const lt_dlinfo *info = lt_dlgetinfo(h);
		char found[256];
		exported_symbols(info && info->filename ? info->filename : path,
				 found, sizeof(found));
		fmt(errbuf, errlen,
		    "%s has no symbol %s (it exports %s; expected the module's "
		    "one exported const struct sb_broker): is it a svcbroker "
		    "module? build it with -export-symbols-regex '^%s$'",
		    path, SB_BROKER_SYMBOL, found, SB_BROKER_SYMBOL);
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
	} else {
		l = load_path(path, module_dir, name, errbuf, errlen);
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
