/* A fault in broker code leaves one log line naming the module, the
 * instance and the method (see crash.h).
 *
 * The signal handler uses only async-signal-safe calls: clock_gettime,
 * write, sigaction, raise; the line is built by hand on the alternate
 * signal stack, in the format of core/log.c. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"

/* Enough for the handler (it builds one line of at most LINE_MAX bytes)
 * whatever MINSIGSTKSZ is. */
#define ALTSTACK_SIZE (64 * 1024)
#define LINE_MAX_ 1024

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS struct sbc_crash_frame *volatile current;
static TLS bool thread_has_altstack;

static atomic_bool installed;
static atomic_bool exit_expected;
static pthread_key_t altstack_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* ---- building the line without stdio ------------------------------------ */

struct line {
	char buf[LINE_MAX_];
	size_t len;
};

static void put(struct line *l, const char *s)
{
	for (; s && *s && l->len < sizeof(l->buf) - 1; s++) {
		unsigned char c = (unsigned char)*s;
		l->buf[l->len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
}

static void put_uint(struct line *l, uint64_t v, unsigned base, int width)
{
	char d[24];
	int n = 0;
	do {
		d[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(d));
	while (n < width && n < (int)sizeof(d))
		d[n++] = '0';
	while (n > 0 && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = d[--n];
}

/* "2026-12-01T22:05:54Z", as sb_datetime_format writes it. */
static void put_time(struct line *l)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		ts.tv_sec = 0;
	int64_t days = ts.tv_sec / 86400, rem = ts.tv_sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	/* H. Hinnant's civil_from_days */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	put_uint(l, (uint64_t)(y < 0 ? 0 : y), 10, 4);
	put(l, "-");
	put_uint(l, (uint64_t)m, 10, 2);
	put(l, "-");
	put_uint(l, (uint64_t)d, 10, 2);
	put(l, "T");
	put_uint(l, (uint64_t)(rem / 3600), 10, 2);
	put(l, ":");
	put_uint(l, (uint64_t)(rem / 60 % 60), 10, 2);
	put(l, ":");
	put_uint(l, (uint64_t)(rem % 60), 10, 2);
	put(l, "Z");
}

/* "<time> error [module:instance] " or "... [svcbrokerd] " */
static void put_head(struct line *l, const struct sbc_crash_frame *f)
{
	put_time(l);
	put(l, " error [");
	if (f && f->module && f->instance) {
		put(l, f->module);
		put(l, ":");
		put(l, f->instance);
	} else if (f && f->module) {
		put(l, f->module);
	} else {
		put(l, "svcbrokerd");
	}
	put(l, "] ");
}

/* " in execute Object.Method", " while loading /path", " in open()" */
static void put_where(struct line *l, const struct sbc_crash_frame *f)
{
	if (!f) {
		put(l, " in the host (no broker code was running on this "
		       "thread)");
		return;
	}
	if (f->phase && strcmp(f->phase, "load") == 0) {
		put(l, " while loading module ");
		put(l, f->module);
		if (f->object) {
			put(l, " from ");
			put(l, f->object);
		}
		return;
	}
	put(l, " in broker ");
	put(l, f->module);
	if (f->instance) {
		put(l, ", instance ");
		put(l, f->instance);
	}
	put(l, ", ");
	put(l, f->phase ? f->phase : "?");
	if (f->object && f->method) {
		put(l, " ");
		put(l, f->object);
		put(l, ".");
		put(l, f->method);
	} else {
		put(l, "()");
	}
}

static void write_line(struct line *l)
{
	l->buf[l->len++] = '\n';
	size_t off = 0;
	int tries = 0;
	while (off < l->len && tries++ < 16) {
		ssize_t w = write(STDERR_FILENO, l->buf + off, l->len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t)w;
	}
}

static const char *signal_name(int sig)
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
	}
	return "fatal signal";
}

/* ---- the handlers -------------------------------------------------------- */

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int saved = errno;
	struct sbc_crash_frame *f = current;
	struct line l;
	l.len = 0;
	put_head(&l, f);
	put(&l, "fatal ");
	put(&l, signal_name(sig));
	if (si && sig != SIGABRT && si->si_code > 0) {
		put(&l, " at address 0x");
		put_uint(&l, (uint64_t)(uintptr_t)si->si_addr, 16, 1);
	}
	put_where(&l, f);
	put(&l, ": svcbrokerd stops");
	write_line(&l);
	/* Die of the same signal: SA_RESETHAND restored the default action;
	 * set it again in case the handler was entered otherwise. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	/* A fault re-executes the faulting instruction on return and dies
	 * there; reaching this line means the signal was sent, not raised by
	 * a fault, and raise() above already ended the process. */
	errno = saved;
}

static void on_exit_(void)
{
	if (atomic_load(&exit_expected))
		return;
	struct sbc_crash_frame *f = current;
	struct line l;
	l.len = 0;
	put_head(&l, f);
	put(&l, "exit() called");
	put_where(&l, f);
	put(&l, ": svcbrokerd stops with status 70, not the status given to "
		"exit() (brokers must never call exit)");
	write_line(&l);
	_exit(SBC_CRASH_EXIT_STATUS);
}

/* ---- alternate signal stacks --------------------------------------------- */

static void altstack_free(void *p)
{
	stack_t ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	munmap(p, ALTSTACK_SIZE);
}

static void key_make(void)
{
	if (pthread_key_create(&altstack_key, altstack_free) != 0)
		altstack_key = (pthread_key_t)-1;
}

/* An alternate stack for this thread, so that a stack overflow can still
 * run the handler.  The pages are reserved, not touched: no resident
 * memory until a signal uses them. */
static void thread_altstack(bool main_thread)
{
	if (thread_has_altstack)
		return;
	thread_has_altstack = true;
	stack_t old;
	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		return; /* someone set one already */
	void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return;
	stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		munmap(p, ALTSTACK_SIZE);
		return;
	}
	/* Other threads give theirs back when they end; the main thread's
	 * lasts as long as the process. */
	if (!main_thread) {
		pthread_once(&key_once, key_make);
		if (altstack_key == (pthread_key_t)-1 ||
		    pthread_setspecific(altstack_key, p) != 0) {
			altstack_free(p);
			thread_has_altstack = false;
		}
	}
}

int sbc_crash_install(void)
{
	bool was = false;
	if (!atomic_compare_exchange_strong(&installed, &was, true))
		return 0;
	thread_altstack(true);
	int rc = 0;
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]);
	     i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_fatal;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		if (sigaction(fatal_signals[i], &sa, NULL) != 0)
			rc = -1;
	}
	if (atexit(on_exit_) != 0)
		rc = -1;
	return rc;
}

void sbc_crash_exit_expected(void) { atomic_store(&exit_expected, true); }

void sbc_crash_enter(struct sbc_crash_frame *f, const char *module,
		     const char *instance, const char *phase,
		     const char *object, const char *method)
{
	f->module = module;
	f->instance = instance;
	f->phase = phase;
	f->object = object;
	f->method = method;
	f->prev = current;
	if (!thread_has_altstack && atomic_load(&installed))
		thread_altstack(false);
	/* the frame is complete before a handler can see it */
	atomic_signal_fence(memory_order_seq_cst);
	current = f;
}

void sbc_crash_leave(struct sbc_crash_frame *f)
{
	atomic_signal_fence(memory_order_seq_cst);
	current = f->prev;
}
