/* What broker code a thread is running, for the one log line a fault in
 * it leaves behind (core/host/crash.c).
 *
 * The host brackets every call into a broker (open, describe, execute,
 * test, close) with sbc_crash_enter() and sbc_crash_leave().  Once the
 * daemon called sbc_crash_install(), a fatal signal (SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE, SIGABRT, a stack overflow included) writes one error line
 * naming the module, the instance and the method, then the process dies of
 * that signal (non-zero status: a supervisor restarts it); and exit() from
 * anywhere but the daemon's own way out (sbc_crash_exit_expected()) logs
 * what was running and ends the process with status SBC_CRASH_EXIT_STATUS,
 * never 0. */
#ifndef SVCBROKER_CORE_CRASH_H
#define SVCBROKER_CORE_CRASH_H

/* EX_SOFTWARE: an internal software error. */
#define SBC_CRASH_EXIT_STATUS 70

struct sbc_crash_frame {
	const char *module;   /* the broker's name */
	const char *instance; /* NULL while loading a module */
	const char *phase;    /* "open", "describe", "execute", "test", ... */
	const char *object;   /* execute only, else NULL */
	const char *method;   /* execute only, else NULL */
	struct sbc_crash_frame *volatile prev;
};

/* Handlers for the fatal signals and exit(); an alternate signal stack for
 * the calling thread (and, lazily, for each thread entering broker code).
 * Idempotent.  Returns 0, or -1 if a handler could not be set. */
int sbc_crash_install(void);
/* The daemon is on its own way out: exit() is no longer a fault. */
void sbc_crash_exit_expected(void);

/* Push f (on the caller's stack) as this thread's current broker call;
 * sbc_crash_leave(f) pops it.  Strings must outlive the call. */
void sbc_crash_enter(struct sbc_crash_frame *f, const char *module,
		     const char *instance, const char *phase,
		     const char *object, const char *method);
void sbc_crash_leave(struct sbc_crash_frame *f);

#endif
