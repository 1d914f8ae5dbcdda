/* A small driver of the exchange-powershell-winrm transport for
 * test_winrm_transport.py: runs scripts through wr_run against a WinRM
 * server (the mock) without the daemon, and prints what came back.
 *
 *   wr_transport_client URL AUTH USER PASSWORD MAX_SHELLS DEADLINE_MS
 *                       [-t THREADS] [-c CA_FILE] SCRIPT...
 *
 * AUTH is basic, ntlm (NTLMv2 inside Negotiate), kerberos (the
 * process's own Kerberos credentials) or none; SCRIPT "@FILE" is the
 * content of FILE. Every script is run in turn, or by THREADS threads at once
 * (each runs every script).  One line per run: R <n> st=<status> code=<code>
 * exit=<n> started=<0|1> out=<b64> err=<b64> msg=<b64> then "STATS open=<n>
 * max=<n>" and, after the pool is put, "DONE".
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../wr_transport.h"

struct tcall {
	int64_t deadline;
};

static void h_log(const struct sb_host *h, enum sb_log_level lv,
		  const char *fmt, ...)
{
	(void)h;
	if (lv > SB_LOG_INFO && !getenv("WR_CLIENT_DEBUG"))
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "log: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t h_remaining(const struct sb_host *h, const struct sb_call *c)
{
	(void)h;
	return ((const struct tcall *)(const void *)c)->deadline - sb_now_ms();
}

static bool h_cancelled(const struct sb_host *h, const struct sb_call *c)
{
	return h_remaining(h, c) <= 0;
}

static const struct sb_host HOST = {
    .struct_size = sizeof(struct sb_host),
    .instance = "winrm",
    .broker = "exchange-powershell-winrm",
    .log = h_log,
    .remaining_ms = h_remaining,
    .cancelled = h_cancelled,
};

static struct wr_pool *pool;
static int64_t deadline_ms;
static char **scripts;
static size_t n_scripts;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static int run_no;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct sb_buf b;
	sb_buf_init(&b, 0);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sb_buf_append(&b, chunk, n);
	fclose(f);
	sb_buf_append(&b, "", 0);
	*len = b.len;
	return sb_buf_steal(&b);
}

static void run_one(const char *arg)
{
	size_t len = strlen(arg);
	char *file = NULL;
	const char *script = arg;
	if (arg[0] == '@') {
		file = slurp(arg + 1, &len);
		if (!file) {
			fprintf(stderr, "cannot read %s\n", arg + 1);
			exit(2);
		}
		script = file;
	}
	struct tcall t = {sb_now_ms() + deadline_ms};
	struct wr_result r;
	struct sb_error err;
	sb_error_clear(&err);
	bool started = false;
	enum sb_status st =
	    wr_run(pool, (const struct sb_call *)(const void *)&t, script, len,
		   &r, &started, &err);
	char *o =
	    sb_base64_encode(r.out ? r.out : "", r.out ? r.out_len : 0, 0);
	char *e = sb_base64_encode(r.err_text ? r.err_text : "",
				   r.err_text ? r.err_len : 0, 0);
	char *m = sb_base64_encode(err.message, strlen(err.message), 0);
	pthread_mutex_lock(&out_mu);
	printf("R %d st=%s code=%s exit=%d started=%d out=%s err=%s msg=%s\n",
	       run_no++, sb_status_str(st), err.code[0] ? err.code : "-",
	       r.exit_code, started ? 1 : 0, o, e, m);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
	free(o);
	free(e);
	free(m);
	wr_result_free(&r);
	free(file);
}

static void *worker(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < n_scripts; i++)
		run_one(scripts[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr,
			"usage: %s URL AUTH USER PASSWORD MAX_SHELLS "
			"DEADLINE_MS [-t N] [-c CA] SCRIPT...\n",
			argv[0]);
		return 2;
	}
	struct sb_http_conf http = {
	    .url = argv[1],
	    .tls = {.verify_tls = true},
	    .username = argv[3],
	    .password = argv[4],
	    .connect_timeout_ms = 10000,
	    .max_response_size = 32 << 20,
	};
	if (strcmp(argv[2], "basic") == 0)
		http.auth = SB_HTTP_AUTH_BASIC;
	else if (strcmp(argv[2], "ntlm") == 0)
		http.auth = SB_HTTP_AUTH_NTLM_NEGOTIATE;
	else if (strcmp(argv[2], "kerberos") == 0)
		http.auth = SB_HTTP_AUTH_NEGOTIATE;
	else
		http.auth = SB_HTTP_AUTH_NONE;
	if (http.auth == SB_HTTP_AUTH_NONE ||
	    http.auth == SB_HTTP_AUTH_NEGOTIATE)
		http.username = http.password = NULL;
	deadline_ms = atoll(argv[6]);
	int threads = 1, i = 7;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "-t") == 0)
			threads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-c") == 0)
			http.tls.ca_file = argv[i + 1];
	}
	scripts = argv + i;
	n_scripts = (size_t)(argc - i);
	struct wr_transport_conf conf = {.http = &http,
					 .max_shells = atoi(argv[5]),
					 .shell_idle_ms = 600000,
					 .max_output = 16 << 20};
	struct sb_error err;
	pool = wr_pool_get(&HOST, &conf, &err);
	if (!pool) {
		printf("GET st=%s msg=%s\n", sb_status_str(err.status),
		       err.message);
		return 1;
	}
	if (threads < 1 || threads > 64)
		threads = 1;
	pthread_t th[64];
	for (int k = 0; k < threads; k++)
		pthread_create(&th[k], NULL, worker, NULL);
	for (int k = 0; k < threads; k++)
		pthread_join(th[k], NULL);
	int open = 0, max = 0;
	wr_pool_stats(pool, &open, &max);
	printf("STATS open=%d max=%d\n", open, max);
	fflush(stdout);
	wr_pool_put(pool);
	printf("DONE\n");
	return 0;
}
