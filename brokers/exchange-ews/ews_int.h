/* exchange-ews broker — the instance's private state, shared by
 * ews_broker.c, ews_client.c, ews_autodiscover.c and ews_service.c only
 * (object files use ews.h). */
#ifndef EWS_INT_H
#define EWS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <svcbroker/backoff.h>
#include <svcbroker/http.h>
#include <svcbroker/oauth2.h>

#include "ews.h"

enum ews_auth {
	EWS_AUTH_BASIC = 0,
	EWS_AUTH_NTLM,
	EWS_AUTH_NEGOTIATE,
	EWS_AUTH_OAUTH2,
};

/* The instance keys (docs/brokers/exchange-ews.md). */
struct ews_conf {
	char *url;
	char *autodiscover_email;
	char *autodiscover_url;
	int auth; /* enum ews_auth */
	char *username;
	char *password;
	char *token_url;
	char *client_id;
	char *scope;
	char *client_secret;
	char *client_certificate;
	char *client_key;
	int impersonation; /* enum ews_impersonation */
	char *server_version;
	char *timezone;
	struct sb_tls_conf tls;
	int64_t retries;
	int64_t connect_timeout_ms;
	int64_t max_response_size;
	int64_t max_attachment_size;
};

/* One HTTP client bound to one EWS URL.  Replaced when Autodiscover
 * finds another URL; a call holds a reference while it uses it. */
struct ews_conn {
	struct sb_http *http;
	char *url;
	unsigned refs;
	bool retired;
};

/* What Autodiscover found (ews_autodiscover.c). */
struct ews_discovered {
	char ews_url[1024];
	char server_version[64]; /* "15.1.2176" from the hex build, or "" */
	char email[256];	 /* the address it ended with */
	unsigned hops;
};

/* One cached FolderId of a well-known folder ("sentitems") of a mailbox
 * ("" for the account's own). */
#define EWS_WK_CACHE 32
#define EWS_WK_KEY 320
#define EWS_WK_ID 512
struct ews_wk {
	char key[EWS_WK_KEY]; /* mailbox "\n" well-known name; "" unused */
	char id[EWS_WK_ID];
};
/* Look up / remember the FolderId of well-known folder wk of mailbox
 * (NULL: the account's own).  ews_wk_get: true with the id in buf.
 * Thread-safe.  ews_conn_refresh forgets them all. */
bool ews_wk_get(struct ews *e, const char *mailbox, const char *wk, char *buf,
		size_t n);
void ews_wk_put(struct ews *e, const char *mailbox, const char *wk,
		const char *id);

struct ews {
	const struct sb_host *host;
	const struct ews_conf *conf;
	const char *tz_id; /* the Windows time zone id sent */
	char *account;	   /* ews_account() */
	struct sb_oauth2 *oauth;
	struct sb_backoff backoff;

	pthread_mutex_t mu; /* guards everything below */
	struct ews_conn *conn;
	bool discovered_ok;
	struct ews_discovered disc;
	char server_info[128]; /* last ServerVersionInfo seen */
	/* unit tests: the transport of every client made */
	sb_http_transport_fn tfn;
	void *tctx;
	uint64_t requests; /* EWS requests sent (tests, diagnostics) */
	/* FolderIds of well-known folders per mailbox (ews_wk_*): they do
	 * not change while the mailbox stays where it is */
	struct ews_wk wk[EWS_WK_CACHE];
	unsigned wk_next; /* the entry replaced next */

	/* the hand-over between the configurations of one instance name
	 * (ews_floor_*): guarded by the module's registry lock */
	struct ews *reg_next;
	unsigned floor_waiting; /* this instance's requests waiting */
};

/* Across a reload the host opens the new configuration of an instance
 * while calls of the old one still run, and each keeps its own
 * max_concurrency: together they could exceed what the server allows.
 * So the instances of one name take turns: requests of one of them run
 * (at most its max_concurrency at once), the other's wait until they are
 * all done; the one in flight starts no new request while the other
 * waits, so neither starves.  With one instance of a name (no reload in
 * progress) this never waits.  ews_floor_take waits within the call's
 * deadline (SB_ERR_TIMEOUT when it passes or the call is cancelled). */
void ews_floor_register(struct ews *e);
void ews_floor_unregister(struct ews *e);
enum sb_status ews_floor_take(struct ews *e, const struct sb_call *call,
			      struct sb_error *err);
void ews_floor_give(struct ews *e);

/* A reference to the current EWS client, made (after Autodiscover if the
 * instance has no url) when there is none yet; NULL with err filled. */
struct ews_conn *ews_conn_get(struct ews *e, const struct sb_call *call,
			      struct sb_error *err);
void ews_conn_put(struct ews *e, struct ews_conn *c);
/* Forget the Autodiscover result and retire the client made from it (the
 * mailbox moved, or the URL answers 404): the next call discovers anew.
 * No-op with a configured url. */
void ews_conn_refresh(struct ews *e);

/* An HTTP client for url with the instance's TLS, auth and caps (and the
 * unit test's transport).  NULL with err filled. */
struct sb_http *ews_http_new(struct ews *e, const char *url,
			     struct sb_error *err);
/* Run one HTTP request with the instance's credentials: for oauth2 a
 * token from the cache, invalidated and renewed once when the server
 * answers 401 to a cached one. */
enum sb_status ews_http_perform(struct ews *e, struct sb_http *http,
				const struct sb_call *call,
				struct sb_http_request *rq,
				struct sb_http_response *rs,
				struct sb_error *err);

#define NS_AD_REQ                                                              \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/"          \
	"requestschema/2006"
#define NS_AD_RESP                                                             \
	"http://schemas.microsoft.com/exchange/autodiscover/responseschema/"   \
	"2006"
#define NS_AD_OUT                                                              \
	"http://schemas.microsoft.com/exchange/autodiscover/outlook/"          \
	"responseschema/2006a"
/* The largest Autodiscover answer read. */
#define EWS_AD_MAX_ANSWER (1024 * 1024)

/* POX Autodiscover for the instance's autodiscover_email: fills d.
 * Contacts the server every time (the cache is ews_conn_get's). */
enum sb_status ews_autodiscover(struct ews *e, const struct sb_call *call,
				struct ews_discovered *d, struct sb_error *err);
/* The host of an http(s) URL (lower-case) and whether it is https:
 * false when it is not such a URL.  For tests too. */
bool ews_url_host(const char *url, char *host, size_t n, bool *https,
		  int *port);
/* May an Autodiscover request carrying the credentials go to host, for an
 * address of domain `domain` when `origin` is the configured address's
 * domain?  (host is domain or autodiscover.domain, and domain is origin
 * or below it.) */
bool ews_autodiscover_host_ok(const char *host, const char *domain,
			      const char *origin);
/* d is domain or a domain below it ("corp.example.test" within
 * "example.test"), without regard to case. */
bool ews_domain_within(const char *d, const char *origin);
/* Read one POX Autodiscover answer (body, len bytes) to a request for
 * email sent to from_url: SB_OK and *nx EWS_AD_DONE with d filled (an
 * http EwsUrl from an https from_url is refused), or a redirect with its
 * target (an address, checked as one, or a URL, not checked here) in
 * next; else the error (an Error answer with ErrorCode 500: not_found;
 * anything unreadable: upstream_error), never quoting the answer but its
 * own Message, cleaned. */
enum ews_ad_next {
	EWS_AD_DONE = 0,
	EWS_AD_REDIRECT_ADDR,
	EWS_AD_REDIRECT_URL,
};
enum sb_status ews_autodiscover_read(const char *email, const char *from_url,
				     const char *body, size_t len,
				     struct ews_discovered *d,
				     enum ews_ad_next *nx, char *next,
				     size_t next_n, struct sb_error *err);
/* A hex ServerVersion of POX Autodiscover ("73C18880") as
 * "major.minor.build" ("15.1.2176"); false when it is not one. */
bool ews_server_version_hex(const char *hex, char *out, size_t n);

/* What Service.Test and test() report. */
struct ews_probe {
	char server_version[128]; /* "15.1.2507.6", from ServerVersionInfo */
	char ews_url[1024];
};
/* One cheap request (GetFolder msgfolderroot, of mailbox if given)
 * through the instance's EWS client: reachability, TLS, credentials and
 * (with a mailbox) impersonation. */
enum sb_status ews_probe(struct ews *e, const struct sb_call *call,
			 const char *mailbox, struct ews_probe *p,
			 struct sb_error *err);
/* The current EWS URL, the server version Autodiscover reported and the
 * last ServerVersionInfo seen (each may be NULL); true when the URL came
 * from Autodiscover. */
bool ews_discovered(struct ews *e, char *url, size_t url_n, char *version,
		    size_t version_n, char *server, size_t server_n);

/* ---- time zones (ews_tz.c): CLDR's windowsZones as ICU carries it ---- */

/* Longest name taken (IANA names and Windows ids are about 32). */
#define EWS_TZ_NAME_MAX 128
/* The Windows time zone id EWS takes for name: a Windows id given as is
 * ("W. Europe Standard Time", any case), an IANA zone or alias ICU maps
 * to one ("Europe/Berlin", "Asia/Calcutta", "Europe/Kiev"; any case), and
 * "UTC", "Etc/UTC", "Etc/GMT" -> "UTC".  NULL for NULL, empty, longer
 * than EWS_TZ_NAME_MAX, not printable ASCII, or no Windows equivalent.
 * The string is static (valid while the module is loaded; never freed by
 * the caller).  Thread-safe: the tables are read from ICU once. */
const char *ews_timezone_id(const char *name);
/* The IANA zone CLDR gives for a Windows id (territory 001, any case):
 * "W. Europe Standard Time" -> "Europe/Berlin", "UTC" -> "Etc/UTC"; NULL
 * for anything else.  Static, thread-safe. */
const char *ews_timezone_zone(const char *windows_id);
/* How many zone names ICU knows (aliases included) have a Windows id; 0
 * when ICU's data could not be read (then only UTC is known). */
size_t ews_timezone_count(void);
/* A time zone given in a key or an input called field: SB_OK with *id
 * (may be NULL) the Windows id, else 400 invalid_input naming field and
 * the value (TimeZone: "Mars/Olympus" is not a Windows time zone id
 * or an IANA zone with a Windows equivalent ...). */
enum sb_status ews_timezone_check(const char *field, const char *value,
				  const char **id, struct sb_error *err);

#endif
