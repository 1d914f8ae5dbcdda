/* exchange-ews broker — Service (Autodiscover, Test) and the settings
 * probe test() runs. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <svcbroker/schema.h>

#include "ews_int.h"

enum sb_status ews_probe(struct ews *e, const struct sb_call *call,
			 const char *mailbox, struct ews_probe *p,
			 struct sb_error *err)
{
	struct ews_op op;
	memset(p, 0, sizeof(*p));
	ews_op_init(&op, e, call, 0);
	op.mailbox = mailbox;
	sb_xml_w_open(&op.w, "m:GetFolder");
	sb_xml_w_open(&op.w, "m:FolderShape");
	sb_xml_w_leaf(&op.w, "t:BaseShape", "IdOnly");
	sb_xml_w_close(&op.w);
	sb_xml_w_open(&op.w, "m:FolderIds");
	sb_xml_w_open(&op.w, "t:DistinguishedFolderId");
	sb_xml_w_attr(&op.w, "Id", "msgfolderroot");
	ews_op_folder_mailbox(&op);
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	sb_xml_w_close(&op.w);
	enum sb_status st = ews_op_run(&op, err);
	if (st == SB_OK)
		st = ews_message_status(ews_op_first(&op), err);
	ews_op_free(&op);
	if (st != SB_OK)
		return st;
	ews_discovered(e, p->ews_url, sizeof(p->ews_url), NULL, 0,
		       p->server_version, sizeof(p->server_version));
	return SB_OK;
}

static enum sb_status service_test(void *state, const struct sb_call *call,
				   struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	struct ews_op in;
	ews_op_init(&in, e, call, 0);
	enum sb_status st = ews_op_mailbox(&in, err);
	const char *mailbox = in.mailbox;
	ews_op_free(&in);
	if (st != SB_OK)
		return st;
	struct ews_probe p;
	st = ews_probe(e, call, mailbox, &p, err);
	if (st != SB_OK)
		return st;
	st = sb_result_row(r);
	if (st == SB_OK && p.server_version[0])
		st = sb_result_clean_text(r, "ServerVersion", p.server_version);
	if (st == SB_OK)
		st = sb_result_clean_text(r, "EwsUrl", p.ews_url);
	return st;
}

static enum sb_status service_autodiscover(void *state,
					   const struct sb_call *call,
					   struct sb_result *r,
					   struct sb_error *err)
{
	struct ews *e = state;
	bool refresh = false;
	sb_call_bool(call, "Refresh", &refresh);
	if (!e->conf->autodiscover_email)
		return sb_error_set(err, SB_ERR_METHOD_NOT_ALLOWED, NULL,
				    "this instance has a fixed url and no "
				    "autodiscover_email: nothing to discover");
	if (refresh)
		ews_conn_refresh(e);
	struct ews_conn *c = ews_conn_get(e, call, err);
	if (!c)
		return err ? err->status : SB_ERR_INTERNAL;
	ews_conn_put(e, c);
	char url[1024], version[64], server[128];
	ews_discovered(e, url, sizeof(url), version, sizeof(version), server,
		       sizeof(server));
	enum sb_status st = sb_result_row(r);
	const char *v = version[0] ? version : server;
	if (st == SB_OK && *v)
		st = sb_result_clean_text(r, "ServerVersion", v);
	if (st == SB_OK)
		st = sb_result_clean_text(r, "EwsUrl", url);
	return st;
}

const struct sb_property ews_service_properties[] = {
    {.name = "ServerVersion",
     .type = SB_TYPE_TEXT,
     .doc = "The Exchange build that answers, \"15.1.2507.6\" (from the "
	    "ServerVersionInfo of its answers; Autodiscover's own report "
	    "has three parts)."},
    {.name = "EwsUrl",
     .type = SB_TYPE_TEXT,
     .doc = "The EWS endpoint the instance uses."},
    SB_PROPERTY_END,
};

static const struct sb_param test_in[] = {SB_PARAM_MAILBOX, SB_PARAM_END};
static const struct sb_param autodiscover_in[] = {
    {.name = "Refresh",
     .type = SB_TYPE_BOOLEAN,
     .doc = "Forget the cached answer and ask Autodiscover again."},
    SB_PARAM_END,
};
static const char *const service_ret[] = {"ServerVersion", "EwsUrl", NULL};

const struct sb_method ews_service_methods[] = {
    {.name = "Autodiscover",
     .kind = SB_KIND_EXECUTE,
     .handler = service_autodiscover,
     .doc = "Show where Autodiscover found the EWS endpoint for "
	    "autodiscover_email (asking it first if no call has yet) and "
	    "the server version it reported.",
     .inputs = autodiscover_in,
     .returns = service_ret},
    {.name = "Test",
     .kind = SB_KIND_EXECUTE,
     .handler = service_test,
     .doc = "Check reachability, TLS and credentials (and, with a "
	    "Mailbox, the right to act on it) with one cheap request "
	    "(GetFolder of the mailbox's root); report the server version "
	    "and the EWS URL.",
     .inputs = test_in,
     .returns = service_ret},
    SB_METHOD_END,
};
