/* The executor on its own, with an in-process broker that can ignore
 * cancellation: the deadline answers while the broker still runs, a
 * stuck broker bounds drain, the serial flag caps an instance at one call,
 * queue = 0 runs a call only on an idle worker, and broker mistakes
 * (unknown status, failed result builder, empty message) become clean
 * errors.  Prints "ok - ..." lines; exit 0 only if every check passed. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "executor.h"
#include "host.h"

static int failed, passed;

static void check(int cond, const char *name)
{
	if (cond)
		passed++;
	else
		failed++;
	printf("%s - %s\n", cond ? "ok" : "not ok", name);
	fflush(stdout);
}

/* ---- the broker ----------------------------------------------------- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static int gate_open; /* "Block" returns once set (bounded anyway) */
static atomic_int running_now, running_max, finished, quick_runs;

static const struct sb_property props[] = {
    {.name = "N", .type = SB_TYPE_NUMBER, .doc = "A number."},
    SB_PROPERTY_END,
};
static enum sb_status fake_execute(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err);
static const struct sb_param ms_in[] = {
    {.name = "Ms", .type = SB_TYPE_NUMBER, .doc = "Milliseconds."},
    SB_PARAM_END,
};
static const char *const ret_n[] = {"N", NULL};
static const struct sb_method methods[] = {
    {.name = "Block",
     .kind = SB_KIND_EXECUTE,
     .handler = fake_execute,
     .doc = "Ignore cancel.",
     .inputs = ms_in,
     .returns = ret_n},
    {.name = "Quick",
     .kind = SB_KIND_EXECUTE,
     .handler = fake_execute,
     .doc = "Answer at once.",
     .returns = ret_n},
    {.name = "BadStatus",
     .kind = SB_KIND_EXECUTE,
     .handler = fake_execute,
     .doc = "Bad status."},
    {.name = "BadCell",
     .kind = SB_KIND_EXECUTE,
     .handler = fake_execute,
     .doc = "Bad cell."},
    {.name = "Bare",
     .kind = SB_KIND_EXECUTE,
     .handler = fake_execute,
     .doc = "No message."},
    SB_METHOD_END,
};
static const struct sb_object object = {.name = "Thing",
					.doc = "A thing.",
					.properties = props,
					.methods = methods};

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static enum sb_status fake_execute(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err)
{
	const char *m = sb_call_method(call);
	int now = atomic_fetch_add(&running_now, 1) + 1;
	int prev = atomic_load(&running_max);
	while (now > prev &&
	       !atomic_compare_exchange_weak(&running_max, &prev, now))
		;
	enum sb_status st = SB_OK;
	if (!strcmp(m, "Block")) {
		int64_t ms = 0;
		sb_call_int(call, "Ms", &ms);
		int64_t until = sb_now_ms() + ms;
		pthread_mutex_lock(&gate_mu);
		while (!gate_open && sb_now_ms() < until) {
			pthread_mutex_unlock(&gate_mu);
			sleep_ms(5); /* deliberately ignores cancellation */
			pthread_mutex_lock(&gate_mu);
		}
		pthread_mutex_unlock(&gate_mu);
		sb_result_row(r);
		sb_result_int(r, "N", ms);
	} else if (!strcmp(m, "Quick")) {
		atomic_fetch_add(&quick_runs, 1);
		sb_result_row(r);
		sb_result_int(r, "N", 1);
	} else if (!strcmp(m, "BadStatus")) {
		st = (enum sb_status)999;
	} else if (!strcmp(m, "BadCell")) {
		sb_result_row(r);
		sb_result_int(r, "NoSuchCell", 1);
	} else {
		st = SB_ERR_UPSTREAM;
	}
	atomic_fetch_sub(&running_now, 1);
	atomic_fetch_add(&finished, 1);
	return st;
}

static enum sb_status fake_open(const struct sb_host *h, const void *c,
				void **state, struct sb_error *err)
{
	*state = (void *)1;
	return SB_OK;
}

static void fake_close(void *state) {}

static struct sb_broker broker = {
    SB_BROKER_HEADER,	 .name = "fake",
    .version = "1",	 .summary = "In-process test broker.",
    .objects = NULL,	 .open = fake_open,
    .close = fake_close,
};

/* ---- a hand-made catalog: the test keeps one reference for ever, so
 * the executor's references never free it ---------------------------- */

static struct sbc_instance inst;
static struct sbc_catalog cat;
static struct sbc_entry entries[5];

static void setup(int64_t cap, int64_t timeout_ms, unsigned flags)
{
	broker.flags = flags;
	memset(&inst, 0, sizeof(inst));
	inst.name = "inst";
	inst.broker = &broker;
	inst.state = (void *)1;
	inst.max_concurrency = cap;
	inst.timeout_ms = timeout_ms;
	memset(&cat, 0, sizeof(cat));
	atomic_init(&cat.refs, 1);
	for (int i = 0; i < 5; i++)
		entries[i] = (struct sbc_entry){
		    .inst = &inst, .obj = &object, .method = &methods[i]};
}

/* ---- answers -------------------------------------------------------- */

struct answer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	enum sb_status st;
	char code[SB_ERROR_CODE_MAX];
	char msg[SB_ERROR_MSG_MAX];
	int64_t at_ms;
	size_t rows;
};

static void answer_init(struct answer *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
}

static void done(void *ud, const struct sbc_outcome *o)
{
	struct answer *a = ud;
	pthread_mutex_lock(&a->mu);
	a->n++;
	a->st = o->status;
	a->at_ms = sb_now_ms();
	if (o->status != SB_OK) {
		snprintf(a->code, sizeof(a->code), "%s", o->err->code);
		snprintf(a->msg, sizeof(a->msg), "%s", o->err->message);
	} else {
		a->rows = sb_result_n_rows(o->result);
	}
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Wait (bounded) for an answer; true if one came. */
static bool wait_answer(struct answer *a, int64_t ms)
{
	int64_t until = sb_now_ms() + ms;
	pthread_mutex_lock(&a->mu);
	while (a->n == 0 && sb_now_ms() < until) {
		pthread_mutex_unlock(&a->mu);
		sleep_ms(2);
		pthread_mutex_lock(&a->mu);
	}
	bool got = a->n > 0;
	pthread_mutex_unlock(&a->mu);
	return got;
}

static enum sb_status submit(struct sbc_executor *ex, int method, int64_t ms,
			     struct answer *a, struct sb_error *e)
{
	struct sb_call *c = sb_call_new(&object, &methods[method]);
	if (method == 0)
		sb_call_put_int(c, "Ms", ms, NULL);
	return sbc_executor_submit(ex, &cat, &entries[method], c, done, a, e);
}

static void set_gate(int v)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = v;
	pthread_mutex_unlock(&gate_mu);
}

int main(void)
{
	struct sb_error e;
	struct answer a, b, c;

	/* 1. the deadline answers while the broker ignores cancellation */
	setup(4, 200, 0);
	set_gate(0);
	struct sbc_executor *ex = sbc_executor_new(2, 8, NULL);
	check(ex != NULL, "executor starts");
	answer_init(&a);
	int64_t t0 = sb_now_ms();
	check(submit(ex, 0, 1500, &a, &e) == SB_OK, "submit Block");
	check(wait_answer(&a, 3000), "Block answered");
	check(a.st == SB_ERR_TIMEOUT && !strcmp(a.code, "DeadlineExceeded"),
	      "deadline answers timeout");
	check(a.at_ms - t0 >= 190 && a.at_ms - t0 < 800,
	      "timeout comes at the deadline");
	check(atomic_load(&running_now) == 1,
	      "the broker is still running after the timeout");
	set_gate(1);
	for (int i = 0; i < 400 && atomic_load(&running_now); i++)
		sleep_ms(5);
	check(atomic_load(&running_now) == 0 && a.n == 1,
	      "the late result is dropped; answered exactly once");

	/* 2. broker mistakes become clean errors */
	answer_init(&b);
	submit(ex, 2, 0, &b, &e);
	check(wait_answer(&b, 3000) && b.st == SB_ERR_INTERNAL,
	      "an unknown status becomes internal");
	answer_init(&b);
	submit(ex, 3, 0, &b, &e);
	check(wait_answer(&b, 3000) && b.st == SB_ERR_INTERNAL &&
		  strstr(b.msg, "NoSuchCell"),
	      "a failed result builder becomes internal naming the cell");
	answer_init(&b);
	submit(ex, 4, 0, &b, &e);
	check(wait_answer(&b, 3000) && b.st == SB_ERR_UPSTREAM && b.msg[0],
	      "an error without a message gets one");
	answer_init(&b);
	submit(ex, 1, 0, &b, &e);
	check(wait_answer(&b, 3000) && b.st == SB_OK && b.rows == 1,
	      "a quick call answers its row");
	sbc_executor_free(ex);

	/* 3. SB_BROKER_SERIAL: one call at a time even with a cap of 4 */
	setup(4, 5000, SB_BROKER_SERIAL);
	set_gate(0);
	atomic_store(&running_max, 0);
	ex = sbc_executor_new(4, 8, NULL);
	struct answer s[3];
	for (int i = 0; i < 3; i++) {
		answer_init(&s[i]);
		submit(ex, 0, 100, &s[i], &e);
	}
	bool all = true;
	for (int i = 0; i < 3; i++)
		all = wait_answer(&s[i], 3000) && s[i].st == SB_OK && all;
	check(all, "serial calls all complete");
	check(atomic_load(&running_max) == 1,
	      "serial broker: never two at once");
	sbc_executor_free(ex);

	/* 4. queue = 0: a call runs only if a worker is idle */
	setup(4, 5000, 0);
	set_gate(0);
	ex = sbc_executor_new(1, 0, NULL);
	answer_init(&a);
	answer_init(&b);
	check(submit(ex, 0, 2000, &a, &e) == SB_OK,
	      "queue = 0: a call starts on the idle worker");
	for (int i = 0; i < 200 && !atomic_load(&running_now); i++)
		sleep_ms(5);
	check(submit(ex, 1, 0, &b, &e) == SB_ERR_UNAVAILABLE &&
		  e.retry_after_ms > 0,
	      "queue = 0: refused with retry_after while the worker is busy");

	/* 5. drain with a stuck broker is bounded and answers the call */
	t0 = sb_now_ms();
	bool drained = sbc_executor_drain(ex, 300);
	check(!drained, "drain reports the call that did not finish");
	check(sb_now_ms() - t0 < 1500, "drain is bounded");
	check(wait_answer(&a, 100) && a.st == SB_ERR_UNAVAILABLE,
	      "a call abandoned by drain is answered unavailable");
	answer_init(&c);
	check(submit(ex, 1, 0, &c, &e) == SB_ERR_UNAVAILABLE,
	      "no call is accepted after drain");
	set_gate(1);
	sbc_executor_free(ex);
	check(atomic_load(&running_now) == 0, "every broker call returned");

	/* 6. an instance that failed to open */
	setup(4, 5000, 0);
	snprintf(inst.open_error, sizeof(inst.open_error), "no upstream");
	inst.state = NULL;
	ex = sbc_executor_new(1, 8, NULL);
	answer_init(&a);
	check(submit(ex, 1, 0, &a, &e) == SB_ERR_UNAVAILABLE &&
		  strstr(e.message, "inst") && strstr(e.message, "no upstream"),
	      "a failed instance answers unavailable naming it");
	sbc_executor_free(ex);

	/* 7. a queued call left with almost no time is answered busy, not
	 * started: cap 1, timeout 200 ms; B waits behind A (185 ms), so it
	 * could only start with 15 ms or less of its 200 (the margin is a
	 * tenth of the timeout, at most 50 ms).  On a slow machine the
	 * deadline passes first: busy as well, and B never runs either way. */
	setup(1, 200, 0);
	set_gate(0);
	ex = sbc_executor_new(2, 8, NULL);
	answer_init(&a);
	answer_init(&b);
	atomic_store(&quick_runs, 0);
	check(submit(ex, 0, 185, &a, &e) == SB_OK &&
		  submit(ex, 1, 0, &b, &e) == SB_OK,
	      "A (185 ms) and B queued behind it");
	/* A itself may time out on a slow machine (under valgrind) */
	check(wait_answer(&a, 3000) &&
		  (a.st == SB_OK || a.st == SB_ERR_TIMEOUT),
	      "A is answered");
	check(wait_answer(&b, 3000) && b.st == SB_ERR_UNAVAILABLE &&
		  !strcmp(b.code, "Busy"),
	      "B, with too little time left to start, is answered busy");
	for (int i = 0; i < 20 && atomic_load(&running_now); i++)
		sleep_ms(5);
	check(atomic_load(&quick_runs) == 0, "B never ran");
	sbc_executor_free(ex);
	check(atomic_load(&cat.refs) == 1, "every catalog reference returned");

	printf("# %d passed, %d failed\n", passed, failed);
	return failed || !passed;
}
