/* crashmod: a broker that faults on purpose, to test that the host names
 * the module, instance and method of a fault, and never exits 0 because a
 * broker called exit() (see README.md).
 *
 * Instance key `crash_in` (none, open, describe, close) with `crash_how`
 * (segv, abort, exit, overflow) faults in that phase; the Crash object's
 * methods fault while executing.  The environment variable CRASHMOD_CTOR
 * (segv, abort, exit, hang) makes the module's constructor fault when the
 * file is loaded: it only does with that variable set, so that the module
 * is harmless in every other test's module directory. */
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <svcbroker/broker.h>
#include <svcbroker/call.h>

enum crash_in { IN_NONE, IN_OPEN, IN_DESCRIBE, IN_CLOSE };
enum crash_how { HOW_SEGV, HOW_ABORT, HOW_EXIT, HOW_OVERFLOW };

struct crashmod_conf {
	int crash_in;
	int crash_how;
};

struct crashmod {
	enum crash_how how;
	bool crash_close;
};

static const char *const in_choices[] = {"none", "open", "describe", "close",
					 NULL};
static const char *const how_choices[] = {"segv", "abort", "exit", "overflow",
					  NULL};

static const struct sb_config_key crashmod_config[] = {
    {.key = "crash_in",
     .type = SB_CONF_ENUM,
     .choices = in_choices,
     .def = "none",
     .doc = "Fault in this phase: none, open, describe or close.",
     .offset = offsetof(struct crashmod_conf, crash_in)},
    {.key = "crash_how",
     .type = SB_CONF_ENUM,
     .choices = how_choices,
     .def = "segv",
     .doc = "How crash_in faults: segv (a write to an unwritable page), "
	    "abort, exit (exit(0)) "
	    "or overflow (unbounded recursion).",
     .offset = offsetof(struct crashmod_conf, crash_how)},
    SB_CONF_END,
};

/* Recursion deeper than any stack (4 KiB a frame, a billion frames) that
 * the compiler cannot turn into a loop. */
static int overflow(volatile char *prev, long depth)
{
	volatile char frame[4096];
	frame[0] = prev ? prev[0] + 1 : 1;
	if (depth > 1000000000L)
		return frame[0];
	return overflow(frame, depth + 1) + frame[0];
}

/* A write to a page that cannot be written: a real SIGSEGV, which
 * neither the compiler nor UBSan sees coming (a null write would be
 * reported by -fsanitize=null as undefined behaviour instead). */
static void segv(void)
{
	volatile int *p =
	    mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		*p = 1;
	raise(SIGSEGV); /* not reached */
}

static void crash(enum crash_how how)
{
	switch (how) {
	case HOW_SEGV:
		segv();
		break;
	case HOW_ABORT:
		abort();
	case HOW_EXIT:
		exit(0);
	case HOW_OVERFLOW:
		overflow(NULL, 0);
		break;
	}
}

static const struct sb_property crash_properties[] = {
    {.name = "Ok", .type = SB_TYPE_BOOLEAN, .doc = "Always true."},
    SB_PROPERTY_END,
};
/* One handler per method: each faults its own way. */
#define CRASH_HANDLER(name, how)                                               \
	static enum sb_status name(void *state, const struct sb_call *call,    \
				   struct sb_result *result,                   \
				   struct sb_error *err)                       \
	{                                                                      \
		(void)state;                                                   \
		(void)result;                                                  \
		crash(how);                                                    \
		return sb_error_set(err, SB_ERR_INTERNAL, "Survived",          \
				    "%s did not fault", sb_call_method(call)); \
	}
CRASH_HANDLER(do_segv, HOW_SEGV)
CRASH_HANDLER(do_abort, HOW_ABORT)
CRASH_HANDLER(do_exit, HOW_EXIT)
CRASH_HANDLER(do_overflow, HOW_OVERFLOW)

static enum sb_status do_fine(void *state, const struct sb_call *call,
			      struct sb_result *result, struct sb_error *err)
{
	(void)state;
	(void)call;
	if (sb_result_row(result) != SB_OK ||
	    sb_result_bool(result, "Ok", true) != SB_OK)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	return SB_OK;
}

static const char *const crash_returns[] = {"Ok", NULL};
static const struct sb_method crash_methods[] = {
    {.name = "Segv",
     .kind = SB_KIND_EXECUTE,
     .handler = do_segv,
     .doc = "Writes to an unwritable page."},
    {.name = "Abort",
     .kind = SB_KIND_EXECUTE,
     .handler = do_abort,
     .doc = "Calls abort()."},
    {.name = "Exit",
     .kind = SB_KIND_EXECUTE,
     .handler = do_exit,
     .doc = "Calls exit(0)."},
    {.name = "Overflow",
     .kind = SB_KIND_EXECUTE,
     .handler = do_overflow,
     .doc = "Recurses until the stack overflows."},
    {.name = "Fine",
     .kind = SB_KIND_EXECUTE,
     .handler = do_fine,
     .doc = "Answers one row {\"Ok\": true}.",
     .returns = crash_returns},
    SB_METHOD_END,
};
static const struct sb_object crashmod_objects[] = {
    {.name = "Crash",
     .doc = "Methods that fault.",
     .properties = crash_properties,
     .methods = crash_methods},
    SB_OBJECT_END,
};

static enum sb_status crashmod_open(const struct sb_host *host,
				    const void *config, void **state,
				    struct sb_error *err)
{
	(void)host;
	const struct crashmod_conf *c = config;
	if (c->crash_in == IN_OPEN)
		crash((enum crash_how)c->crash_how);
	struct crashmod *m = calloc(1, sizeof(*m));
	if (!m)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "out of memory");
	m->how = (enum crash_how)c->crash_how;
	m->crash_close = c->crash_in == IN_CLOSE;
	if (c->crash_in == IN_DESCRIBE)
		m->how = m->how | 0x100; /* marks describe */
	*state = m;
	return SB_OK;
}

static enum sb_status crashmod_describe(void *state, struct sb_describe *d,
					struct sb_error *err)
{
	(void)d;
	(void)err;
	struct crashmod *m = state;
	if (m->how & 0x100)
		crash((enum crash_how)(m->how & 0xff));
	return SB_OK;
}

static void crashmod_close(void *state)
{
	struct crashmod *m = state;
	if (m && m->crash_close)
		crash((enum crash_how)(m->how & 0xff));
	free(m);
}

__attribute__((constructor)) static void crashmod_ctor(void)
{
	const char *how = getenv("CRASHMOD_CTOR");
	if (!how)
		return;
	if (strcmp(how, "segv") == 0)
		crash(HOW_SEGV);
	else if (strcmp(how, "abort") == 0)
		crash(HOW_ABORT);
	else if (strcmp(how, "exit") == 0)
		crash(HOW_EXIT);
	else if (strcmp(how, "hang") == 0)
		for (int i = 0; i < 3600; i++)
			sleep(1);
}

extern const struct sb_broker svcbroker_broker;
SB_EXPORT const struct sb_broker svcbroker_broker = {
    SB_BROKER_HEADER,
    .name = "crashmod",
    .version = "1.0",
    .summary = "Faults on purpose (tests only).",
    .config = crashmod_config,
    .config_size = sizeof(struct crashmod_conf),
    .objects = crashmod_objects,
    .open = crashmod_open,
    .describe = crashmod_describe,
    .close = crashmod_close,
};
