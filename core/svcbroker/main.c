/* svcbroker — command-line client of svcbrokerd's HTTP/JSON API.
 *
 *   svcbroker [options] catalog
 *   svcbroker [options] describe INSTANCE[/OBJECT[.METHOD]]
 *   svcbroker [options] call INSTANCE/OBJECT.METHOD [Key=Value ...] [-]
 *   svcbroker [options] health
 *   svcbroker [options] test INSTANCE
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_URL "http://127.0.0.1:8780"
#define DEFAULT_TIMEOUT_MS 60000

static void usage(FILE *f)
{
	fputs("Usage: svcbroker [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  catalog                              list instances and "
	      "their objects\n"
	      "  describe INSTANCE[/OBJECT[.METHOD]]  properties, methods "
	      "and inputs\n"
	      "  call INSTANCE/OBJECT.METHOD [INPUT ...]\n"
	      "                                       run a method and show "
	      "its rows\n"
	      "  health                               the daemon's and each "
	      "instance's state\n"
	      "                                       (exit 1 unless ok)\n"
	      "  test INSTANCE                        check the instance's "
	      "settings\n"
	      "                                       (exit 1 if the test "
	      "fails)\n"
	      "  names [instances|objects|methods]    the catalog's "
	      "addresses, one a line\n"
	      "\n"
	      "Inputs of call (typed from the method's definition):\n"
	      "  Key=Value     a value; numbers and booleans are converted\n"
	      "  Key=@PATH     a file input (PATH;type=TYPE sets the content "
	      "type),\n"
	      "                or the text of a memo input\n"
	      "  Key:=JSON     a JSON value as it is\n"
	      "  -             a JSON object of inputs on stdin\n"
	      "  Repeat the key for each item of a multi input: To=a@x "
	      "To=b@y\n"
	      "\n"
	      "Options:\n"
	      "  -u, --url URL        daemon address (default $SVCBROKER_URL "
	      "or " DEFAULT_URL ")\n"
	      "  -j, --json           print the server's JSON (for scripts)\n"
	      "  -t, --timeout TIME   give up after TIME (60s; 500ms, 30s, "
	      "2m)\n"
	      "  -a, --all            call: follow every page of a list "
	      "method\n"
	      "  -w, --wide           never cut long values\n"
	      "      --max-size SIZE  largest answer accepted (256MiB)\n"
	      "      --token TOKEN    bearer token (default $SVCBROKER_TOKEN; "
	      "-: read a line\n"
	      "                       from stdin, @PATH: from a file)\n"
	      "      --cacert FILE    PEM authorities that sign the daemon's "
	      "certificate\n"
	      "      --cert FILE      client certificate (PEM), for mutual "
	      "TLS\n"
	      "      --key FILE       its private key (PEM; default: in "
	      "--cert)\n"
	      "  -h, --help           this help\n"
	      "  -V, --version        print the version\n"
	      "\n"
	      "Exit status: 0 success, 1 error answered by the server (or "
	      "a failed test,\n"
	      "a daemon not healthy), 2 usage error, 3 server not "
	      "reachable.  See svcbroker(1).\n",
	      f);
}

/* "30", "30s", "500ms", "2m", "1h" -> ms.  Plain numbers are seconds. */
static bool parse_time_ms(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || v > 86400000ull)
		return false;
	int64_t mul;
	if (!*end || strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else
		return false;
	*out = (int64_t)v * mul;
	return *out > 0 && *out <= 86400000;
}

/* "1048576", "64KiB", "10MiB", "1GiB" -> bytes. */
static bool parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return false;
	unsigned long long mul;
	if (!*end)
		mul = 1;
	else if (strcmp(end, "KiB") == 0)
		mul = 1ull << 10;
	else if (strcmp(end, "MiB") == 0)
		mul = 1ull << 20;
	else if (strcmp(end, "GiB") == 0)
		mul = 1ull << 30;
	else
		return false;
	if (v == 0 || v > (4ull << 30) / mul)
		return false;
	*out = (size_t)(v * mul);
	return true;
}

/* --token's value: the token itself, "-" for a line on stdin, or
 * "@PATH" for the first line of a file (so that it stays out of the
 * process list).  malloc'd, or NULL with a message printed. */
static char *read_token(const char *arg)
{
	FILE *f = NULL;
	if (strcmp(arg, "-") == 0)
		f = stdin;
	else if (arg[0] == '@' && !(f = fopen(arg + 1, "r"))) {
		cli_err("--token: cannot read %s: %s", arg + 1,
			strerror(errno));
		return NULL;
	}
	char *tok;
	if (f) {
		char line[4096];
		bool got = fgets(line, sizeof(line), f) != NULL;
		if (f != stdin)
			fclose(f);
		if (!got) {
			cli_err("--token: no token in %s",
				arg[0] == '@' ? arg + 1 : "stdin");
			return NULL;
		}
		line[strcspn(line, "\r\n")] = '\0';
		tok = strdup(line);
		memset(line, 0, sizeof(line));
	} else {
		tok = strdup(arg);
	}
	if (!tok) {
		cli_err("out of memory");
		return NULL;
	}
	for (const char *p = tok; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f) {
			cli_err("--token: the token has a space or control "
				"character");
			free(tok);
			return NULL;
		}
	if (!*tok) {
		cli_err("--token: the token is empty");
		free(tok);
		return NULL;
	}
	return tok;
}

static int terminal_width(void)
{
	struct winsize ws;
	if (isatty(STDOUT_FILENO) &&
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	if (c && *c) {
		char *end;
		long v = strtol(c, &end, 10);
		if (!*end && v >= 20 && v <= 10000)
			return (int)v;
	}
	return 120;
}

int main(int argc, char **argv)
{
	/* Display widths of UTF-8 text, whatever the user's locale. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");

	const char *env_url = getenv("SVCBROKER_URL");
	struct cli_opts opts = {
	    .url = env_url && *env_url ? env_url : DEFAULT_URL,
	    .timeout_ms = DEFAULT_TIMEOUT_MS,
	    .max_response = CLI_DEFAULT_MAX_RESPONSE,
	};
	const char *env_token = getenv("SVCBROKER_TOKEN");
	opts.token = env_token && *env_token ? env_token : NULL;
	char *token_buf = NULL;
	enum {
		OPT_MAX_SIZE = 256,
		OPT_TOKEN,
		OPT_CACERT,
		OPT_CERT,
		OPT_KEY,
	};
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'},
	    {"all", no_argument, NULL, 'a'},
	    {"wide", no_argument, NULL, 'w'},
	    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"cacert", required_argument, NULL, OPT_CACERT},
	    {"cert", required_argument, NULL, OPT_CERT},
	    {"key", required_argument, NULL, OPT_KEY},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "u:jt:awhV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'u':
			opts.url = optarg;
			break;
		case 'j':
			opts.json = true;
			break;
		case 't':
			if (!parse_time_ms(optarg, &opts.timeout_ms)) {
				cli_err("--timeout: '%s' is not a time such as "
					"30, 30s, 500ms or 2m (at most 24h)",
					optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'a':
			opts.all = true;
			break;
		case 'w':
			opts.wide = true;
			break;
		case OPT_MAX_SIZE:
			if (!parse_size(optarg, &opts.max_response)) {
				cli_err("--max-size: '%s' is not a size such "
					"as 1048576, 64KiB or 10MiB (at most "
					"4GiB)",
					optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case OPT_TOKEN:
			free(token_buf);
			token_buf = read_token(optarg);
			if (!token_buf)
				return CLI_EXIT_USAGE;
			opts.token = token_buf;
			break;
		case OPT_CACERT:
		case OPT_CERT:
		case OPT_KEY:
			if (access(optarg, R_OK) != 0) {
				cli_err("--%s: cannot read %s: %s",
					c == OPT_CACERT ? "cacert"
					: c == OPT_CERT ? "cert"
							: "key",
					optarg, strerror(errno));
				free(token_buf);
				return CLI_EXIT_USAGE;
			}
			if (c == OPT_CACERT)
				opts.cacert = optarg;
			else if (c == OPT_CERT)
				opts.cert = optarg;
			else
				opts.key = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("svcbroker %s\n", PACKAGE_VERSION);
			return CLI_EXIT_OK;
		default:
			if (optopt)
				cli_err("unknown option or missing value: -%c",
					optopt);
			else
				cli_err("unknown option: %s", argv[optind - 1]);
			fputs("Try 'svcbroker --help'.\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}

	/* The base URL without trailing slashes; http(s) only. */
	size_t ulen = strlen(opts.url);
	while (ulen > 0 && opts.url[ulen - 1] == '/')
		ulen--;
	char *url = strndup(opts.url, ulen);
	if (!url) {
		cli_err("out of memory");
		return CLI_EXIT_SERVER;
	}
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		char *shown = cli_shown_url(opts.url);
		cli_err("--url: '%s' is not an http:// or https:// URL", shown);
		free(shown);
		free(url);
		return CLI_EXIT_USAGE;
	}
	opts.url = url;
	opts.width = terminal_width();

	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	int (*fn)(const struct cli_opts *, int, char **) = NULL;
	if (strcmp(cmd, "catalog") == 0)
		fn = cli_cmd_catalog;
	else if (strcmp(cmd, "describe") == 0)
		fn = cli_cmd_describe;
	else if (strcmp(cmd, "call") == 0)
		fn = cli_cmd_call;
	else if (strcmp(cmd, "health") == 0)
		fn = cli_cmd_health;
	else if (strcmp(cmd, "test") == 0)
		fn = cli_cmd_test;
	else if (strcmp(cmd, "names") == 0)
		fn = cli_cmd_names;
	else if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		free(url);
		return CLI_EXIT_OK;
	}
	if (!fn) {
		cli_err("unknown command '%s' (catalog, describe, call, "
			"health, test, names)",
			cmd);
		fputs("Try 'svcbroker --help'.\n", stderr);
		free(url);
		return CLI_EXIT_USAGE;
	}
	if (!cli_http_init()) {
		cli_err("cannot initialise libcurl");
		free(url);
		return CLI_EXIT_CONNECT;
	}
	for (const char *p = opts.token; p && !token_buf && *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f) {
			cli_err("SVCBROKER_TOKEN: the token has a space or "
				"control character");
			free(url);
			return CLI_EXIT_USAGE;
		}
	if (opts.key && !opts.cert) {
		cli_err("--key goes with --cert");
		free(url);
		free(token_buf);
		return CLI_EXIT_USAGE;
	}
	int ret = fn(&opts, nargs, args);
	cli_http_exit();
	free(url);
	if (token_buf) {
		memset(token_buf, 0, strlen(token_buf));
		free(token_buf);
	}
	if (fflush(stdout) != 0 && ret == CLI_EXIT_OK) {
		cli_err("writing the output: %s", strerror(errno));
		ret = CLI_EXIT_SERVER;
	}
	return ret;
}
