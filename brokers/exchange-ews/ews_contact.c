/* exchange-ews broker — Contact.Resolve (ResolveNames), paged over the
 * recomputed answer. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <svcbroker/pagetoken.h>

#include <svcbroker/schema.h>

#include "ews.h"

#define NAME_MAX_LEN 255

/* An SMTP address among a t:Contact's t:EmailAddresses ("SMTP:a@b"). */
static const char *contact_smtp(const xmlNode *contact, char *buf, size_t n)
{
	xmlNode *list =
	    sb_xml_child(contact, SB_NS_EWS_TYPES, "EmailAddresses");
	for (xmlNode *x = sb_xml_child(list, SB_NS_EWS_TYPES, "Entry"); x;
	     x = sb_xml_next(x)) {
		sb_xml_text_copy(x, buf, n);
		const char *a = buf;
		if (strncasecmp(a, "smtp:", 5) == 0)
			a += 5;
		else if (strchr(a, ':'))
			continue; /* X500:, SIP:, ... */
		if (sb_email_valid(a)) {
			memmove(buf, a, strlen(a) + 1);
			return buf;
		}
	}
	return NULL;
}

static enum sb_status resolution_row(struct sb_result *r, const xmlNode *res)
{
	char name[512], email[320], rt[64], mt[64];
	xmlNode *mb = sb_xml_child(res, SB_NS_EWS_TYPES, "Mailbox");
	xmlNode *contact = sb_xml_child(res, SB_NS_EWS_TYPES, "Contact");
	const char *addr = ews_mailbox_smtp(mb, email, sizeof(email));
	const char *routing = ews_child_text(mb, "RoutingType", rt, sizeof(rt));
	if (!addr && contact) {
		addr = contact_smtp(contact, email, sizeof(email));
		if (addr)
			routing = "SMTP";
	}
	const char *nm = ews_child_text(mb, "Name", name, sizeof(name));
	if ((!nm || !*nm) && contact)
		nm = ews_child_text(contact, "DisplayName", name, sizeof(name));
	enum sb_status st = sb_result_row(r);
	if (st == SB_OK && nm)
		st = sb_result_clean_text(r, "Name", nm);
	if (st == SB_OK && addr)
		st = sb_result_str(r, "Email", addr);
	if (st == SB_OK && routing && *routing)
		st = sb_result_clean_text(r, "RoutingType", routing);
	if (st == SB_OK && ews_child_text(mb, "MailboxType", mt, sizeof(mt)) &&
	    *mt)
		st = sb_result_clean_text(r, "MailboxType", mt);
	return st;
}

/* A row's identity across answers: FNV-1a of the mailbox's address and
 * name as the server gave them (never 0). */
static uint64_t resolution_key(const xmlNode *res)
{
	char addr[512] = "", name[512] = "";
	xmlNode *mb = sb_xml_child(res, SB_NS_EWS_TYPES, "Mailbox");
	ews_child_text(mb, "EmailAddress", addr, sizeof(addr));
	ews_child_text(mb, "Name", name, sizeof(name));
	uint64_t h = 1469598103934665603ull;
	for (const char *p = addr; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ '\n') * 1099511628211ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h ? h : 1;
}

static enum sb_status contact_resolve(void *state, const struct sb_call *call,
				      struct sb_result *r, struct sb_error *err)
{
	struct ews *e = state;
	const char *name = sb_call_str(call, "Name", NULL);
	if (!name || !*name || strlen(name) > NAME_MAX_LEN)
		return sb_error_set(err, SB_ERR_INVALID_INPUT, NULL,
				    "Name: 1 to %d bytes", NAME_MAX_LEN);
	struct ews_op op;
	ews_op_init(&op, e, call, 0);
	enum sb_status st = ews_op_mailbox(&op, err);
	const char *bind[] = {"Contact.Resolve", op.mailbox, name};
	/* the answer is recomputed for every page: the token holds a hash
	 * of the last row's address and name (the next page starts after
	 * it) and the place after it, used only when that row is gone
	 * meanwhile (then the rows after it have moved up by one) */
	int64_t offset = 0;
	unsigned long long last = 0;
	const char *tok = sb_call_page_token(call);
	if (st == SB_OK && tok) {
		struct sb_buf pos;
		sb_buf_init(&pos, SB_PAGE_TOKEN_POS_MAX);
		st = sb_page_token_read(tok, bind, 3, &pos, err);
		char num[32] = "";
		const char *colon =
		    pos.data ? memchr(pos.data, ':', pos.len) : NULL;
		if (colon && (size_t)(colon - pos.data) < sizeof(num)) {
			memcpy(num, pos.data, (size_t)(colon - pos.data));
			char *end = NULL;
			last = strtoull(colon + 1, &end, 16);
			if (!end || *end)
				num[0] = '\0';
		}
		if (st == SB_OK &&
		    (!num[0] || !sb_parse_int64(num, &offset) || offset < 0))
			st = sb_error_set(err, SB_ERR_INVALID_INPUT,
					  SB_PAGE_TOKEN_CODE,
					  "PageToken: no position");
		sb_buf_free(&pos);
	}
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	sb_xml_w_open(&op.w, "m:ResolveNames");
	sb_xml_w_attr(&op.w, "ReturnFullContactData", "true");
	sb_xml_w_attr(&op.w, "SearchScope", "ActiveDirectoryContacts");
	sb_xml_w_leaf(&op.w, "m:UnresolvedEntry", name);
	sb_xml_w_close(&op.w);
	st = ews_op_run(&op, err);
	xmlNode *m = st == SB_OK ? ews_op_first(&op) : NULL;
	if (st == SB_OK) {
		char code[64] = "";
		ews_child_text(m, "m:ResponseCode", code, sizeof(code));
		if (strcmp(code, "ErrorNameResolutionNoResults") == 0) {
			ews_op_free(&op); /* no one of that name: no rows */
			return SB_OK;
		}
		st = ews_message_status(m, err);
	}
	if (st != SB_OK) {
		ews_op_free(&op);
		return st;
	}
	xmlNode *set = sb_xml_child(m, SB_NS_EWS_MESSAGES, "ResolutionSet");
	int64_t size = sb_call_page_size(call), i = 0, shown = 0;
	bool more = false;
	if (tok && last) {
		int64_t k = 0;
		bool found = false;
		for (xmlNode *x =
			 sb_xml_child(set, SB_NS_EWS_TYPES, "Resolution");
		     x; x = sb_xml_next(x), k++)
			if (resolution_key(x) == last) {
				offset = k + 1;
				found = true;
				break;
			}
		/* the last row shown is gone: the next one moved up into
		 * its place */
		if (!found && offset > 0)
			offset--;
	}
	uint64_t last_key = 0;
	for (xmlNode *x = sb_xml_child(set, SB_NS_EWS_TYPES, "Resolution"); x;
	     x = sb_xml_next(x), i++) {
		if (i < offset)
			continue;
		if (shown == size) {
			more = true;
			break;
		}
		st = resolution_row(r, x);
		if (st != SB_OK)
			break;
		last_key = resolution_key(x);
		shown++;
	}
	if (st == SB_OK && more) {
		char pos[64];
		snprintf(pos, sizeof(pos), "%lld:%llx", (long long)i,
			 (unsigned long long)last_key);
		char *next = sb_page_token_new(bind, 3, pos, strlen(pos));
		if (!next)
			st = sb_error_set(err, SB_ERR_INTERNAL, NULL,
					  "cannot make a page token");
		else
			st = sb_result_next_page(r, next);
		free(next);
	}
	ews_op_free(&op);
	return st;
}

const struct sb_property ews_contact_properties[] = {
    {.name = "Name", .type = SB_TYPE_TEXT, .doc = "Display name."},
    {.name = "Email",
     .type = SB_TYPE_EMAIL,
     .doc = "SMTP address (absent when the server knows none)."},
    {.name = "RoutingType",
     .type = SB_TYPE_TEXT,
     .doc = "How the address routes: SMTP, EX, ..."},
    {.name = "MailboxType",
     .type = SB_TYPE_TEXT,
     .doc = "Mailbox, PublicDL, PrivateDL, Contact, PublicFolder, "
	    "GroupMailbox, ... as the server says."},
    SB_PROPERTY_END,
};

static const struct sb_param resolve_in[] = {
    {.name = "Name",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .max_size = NAME_MAX_LEN,
     .doc = "A name, part of one, or an address to resolve."},
    SB_PARAM_MAILBOX,
    SB_PARAM_END,
};
static const char *const resolve_ret[] = {"Name", "Email", "RoutingType",
					  "MailboxType", NULL};

const struct sb_method ews_contact_methods[] = {
    {.name = "Resolve",
     .kind = SB_KIND_LIST,
     .handler = contact_resolve,
     .doc = "Resolve a name against the address book and the mailbox's "
	    "contacts (ResolveNames): every match, none when nothing "
	    "matches.",
     .inputs = resolve_in,
     .returns = resolve_ret},
    SB_METHOD_END,
};
