/* Checking a broker's declarative tables: names, docs, types, choices,
 * inputs against properties, config fields against the config struct.  The
 * host runs it on every module it loads and on every object a broker adds
 * at describe time; a broker's own tests can run it on its tables too. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <svcbroker/broker.h>
#include <svcbroker/conf.h>
#include <svcbroker/invoke.h>

#define MODULE_NAME_MAX 64
#define TABLE_NAME_MAX 64
#define CONFIG_SIZE_MAX (1u << 20)

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

bool sb_broker_name_ok(const char *s)
{
	size_t n = 0;
	if (!s || !*s)
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
	}
	return n <= MODULE_NAME_MAX;
}

static bool pascal_ok(const char *s)
{
	size_t n = 0;
	if (!s || !(*s >= 'A' && *s <= 'Z'))
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return n <= TABLE_NAME_MAX;
}

static bool config_key_name_ok(const char *s)
{
	size_t n = 0;
	if (!s || !(*s >= 'a' && *s <= 'z'))
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return n <= TABLE_NAME_MAX;
}

static bool has_text(const char *s) { return s && *s; }

/* ---- table checks ------------------------------------------------------ */

static bool choices_ok(const char *const *choices, const char *what,
		       char *errbuf, size_t errlen)
{
	if (!choices || !choices[0]) {
		fmt(errbuf, errlen, "%s: an enum needs choices", what);
		return false;
	}
	for (size_t i = 0; choices[i]; i++) {
		if (!*choices[i]) {
			fmt(errbuf, errlen, "%s: choice %zu is empty", what, i);
			return false;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(choices[i], choices[j]) == 0) {
				fmt(errbuf, errlen,
				    "%s: choice \"%s\" is listed twice", what,
				    choices[i]);
				return false;
			}
	}
	return true;
}

static bool same_choices(const char *const *a, const char *const *b)
{
	if (!a || !b)
		return a == b;
	size_t i = 0;
	for (; a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return !a[i] && !b[i];
}

static const struct sb_property *find_prop(const struct sb_object *o,
					   const char *name)
{
	if (!o->properties)
		return NULL;
	for (const struct sb_property *p = o->properties; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static const char *type_str(enum sb_type t)
{
	const char *s = sb_type_name(t);
	return s ? s : "?";
}

static bool params_ok(const struct sb_object *o, const struct sb_method *m,
		      char *errbuf, size_t errlen)
{
	char what[256];
	if (!m->inputs)
		return true;
	for (size_t i = 0; m->inputs[i].name; i++) {
		const struct sb_param *p = &m->inputs[i];
		snprintf(what, sizeof(what), "object %s: method %s: input %s",
			 o->name, m->name, p->name);
		if (!pascal_ok(p->name)) {
			fmt(errbuf, errlen,
			    "object %s: method %s: input \"%s\": names are "
			    "PascalCase ([A-Z][A-Za-z0-9]*, at most %d)",
			    o->name, m->name, p->name, TABLE_NAME_MAX);
			return false;
		}
		if (!has_text(p->doc)) {
			fmt(errbuf, errlen, "%s: no doc", what);
			return false;
		}
		if ((unsigned)p->type >= SB_TYPE_COUNT_) {
			fmt(errbuf, errlen, "%s: unknown type %d", what,
			    (int)p->type);
			return false;
		}
		if (p->flags & ~(SB_MULTI | SB_REQUIRED | SB_MAILBOX)) {
			fmt(errbuf, errlen, "%s: unknown flags 0x%x", what,
			    p->flags);
			return false;
		}
		if ((p->flags & SB_MAILBOX) &&
		    ((p->flags & SB_MULTI) ||
		     (p->type != SB_TYPE_TEXT && p->type != SB_TYPE_EMAIL))) {
			fmt(errbuf, errlen,
			    "%s: SB_MAILBOX is for one text or email value",
			    what);
			return false;
		}
		if (p->flags & SB_MAILBOX)
			for (size_t j = 0; m->inputs[j].name; j++)
				if (j != i &&
				    ((m->inputs[j].flags & SB_MAILBOX) ||
				     strcmp(m->inputs[j].name, "Mailbox") ==
					 0)) {
					fmt(errbuf, errlen,
					    "%s: SB_MAILBOX, but input %s "
					    "names "
					    "a mailbox too",
					    what, m->inputs[j].name);
					return false;
				}
		if (p->type == SB_TYPE_ENUM &&
		    !choices_ok(p->choices, what, errbuf, errlen))
			return false;
		if (p->type != SB_TYPE_ENUM && p->choices) {
			fmt(errbuf, errlen,
			    "%s: has choices but is not an enum", what);
			return false;
		}
		if ((p->min != 0 || p->max != 0) &&
		    (p->type != SB_TYPE_NUMBER || p->min > p->max)) {
			fmt(errbuf, errlen,
			    p->type != SB_TYPE_NUMBER
				? "%s: min/max are for number inputs only"
				: "%s: min is above max",
			    what);
			return false;
		}
		if (m->kind == SB_KIND_LIST &&
		    (strcmp(p->name, "PageSize") == 0 ||
		     strcmp(p->name, "PageToken") == 0)) {
			fmt(errbuf, errlen,
			    "%s: list methods get PageSize and PageToken from "
			    "the host; do not declare them",
			    what);
			return false;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->inputs[j].name, p->name) == 0) {
				fmt(errbuf, errlen, "%s: declared twice", what);
				return false;
			}
		const struct sb_property *prop = find_prop(o, p->name);
		if (prop) {
			bool pm = p->flags & SB_MULTI,
			     qm = prop->flags & SB_MULTI;
			if (prop->type != p->type || pm != qm) {
				fmt(errbuf, errlen,
				    "%s: is %s%s but property %s is %s%s; an "
				    "input named like a property must have its "
				    "type",
				    what, type_str(p->type),
				    pm ? " (multi)" : "", prop->name,
				    type_str(prop->type), qm ? " (multi)" : "");
				return false;
			}
			if (p->type == SB_TYPE_ENUM &&
			    !same_choices(p->choices, prop->choices)) {
				fmt(errbuf, errlen,
				    "%s: its choices differ from property %s's",
				    what, prop->name);
				return false;
			}
		}
	}
	return true;
}

bool sb_object_check(const struct sb_object *o, char *errbuf, size_t errlen)
{
	if (!o || !o->name) {
		fmt(errbuf, errlen, "an object has no name");
		return false;
	}
	if (!pascal_ok(o->name)) {
		fmt(errbuf, errlen,
		    "object \"%s\": names are PascalCase ([A-Z][A-Za-z0-9]*, "
		    "at "
		    "most %d)",
		    o->name, TABLE_NAME_MAX);
		return false;
	}
	if (!has_text(o->doc)) {
		fmt(errbuf, errlen, "object %s: no doc", o->name);
		return false;
	}
	char what[256];
	if (o->properties) {
		for (size_t i = 0; o->properties[i].name; i++) {
			const struct sb_property *p = &o->properties[i];
			snprintf(what, sizeof(what), "object %s: property %s",
				 o->name, p->name);
			if (!pascal_ok(p->name)) {
				fmt(errbuf, errlen,
				    "object %s: property \"%s\": names are "
				    "PascalCase ([A-Z][A-Za-z0-9]*, at most "
				    "%d)",
				    o->name, p->name, TABLE_NAME_MAX);
				return false;
			}
			if (!has_text(p->doc)) {
				fmt(errbuf, errlen, "%s: no doc", what);
				return false;
			}
			if ((unsigned)p->type >= SB_TYPE_COUNT_) {
				fmt(errbuf, errlen, "%s: unknown type %d", what,
				    (int)p->type);
				return false;
			}
			if (p->flags & ~SB_MULTI) {
				fmt(errbuf, errlen, "%s: unknown flags 0x%x",
				    what, p->flags);
				return false;
			}
			if (p->type == SB_TYPE_ENUM &&
			    !choices_ok(p->choices, what, errbuf, errlen))
				return false;
			for (size_t j = 0; j < i; j++)
				if (strcmp(o->properties[j].name, p->name) ==
				    0) {
					fmt(errbuf, errlen,
					    "%s: declared twice", what);
					return false;
				}
		}
	}
	if (!o->methods)
		return true;
	for (size_t i = 0; o->methods[i].name; i++) {
		const struct sb_method *m = &o->methods[i];
		snprintf(what, sizeof(what), "object %s: method %s", o->name,
			 m->name);
		if (!pascal_ok(m->name)) {
			fmt(errbuf, errlen,
			    "object %s: method \"%s\": names are PascalCase "
			    "([A-Z][A-Za-z0-9]*, at most %d)",
			    o->name, m->name, TABLE_NAME_MAX);
			return false;
		}
		if (!has_text(m->doc)) {
			fmt(errbuf, errlen, "%s: no doc", what);
			return false;
		}
		if ((unsigned)m->kind > SB_KIND_EXECUTE) {
			fmt(errbuf, errlen, "%s: unknown kind %d", what,
			    (int)m->kind);
			return false;
		}
		if (!m->handler) {
			fmt(errbuf, errlen, "%s: no handler", what);
			return false;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->methods[j].name, m->name) == 0) {
				fmt(errbuf, errlen, "%s: declared twice", what);
				return false;
			}
		if (!params_ok(o, m, errbuf, errlen))
			return false;
		if (!m->returns)
			continue;
		for (size_t r = 0; m->returns[r]; r++) {
			if (!find_prop(o, m->returns[r])) {
				fmt(errbuf, errlen,
				    "%s: returns \"%s\", which is not a "
				    "property of %s",
				    what, m->returns[r], o->name);
				return false;
			}
			for (size_t j = 0; j < r; j++)
				if (strcmp(m->returns[j], m->returns[r]) == 0) {
					fmt(errbuf, errlen,
					    "%s: returns %s twice", what,
					    m->returns[r]);
					return false;
				}
		}
	}
	return true;
}

static const char *const host_keys[] = {"broker", "max_concurrency", "timeout",
					NULL};

static bool config_ok(const struct sb_broker *b, char *errbuf, size_t errlen)
{
	if (!b->config || !b->config[0].key)
		return true;
	if (b->config_size == 0 || b->config_size > CONFIG_SIZE_MAX) {
		fmt(errbuf, errlen,
		    "config_size is %zu but the config table has keys "
		    "(expected "
		    "sizeof the broker's config struct, 1..%u)",
		    b->config_size, CONFIG_SIZE_MAX);
		return false;
	}
	struct sb_conf_flat flat[SB_CONF_KEYS_MAX];
	size_t n = sb_conf_flatten(b->config, flat, SB_CONF_KEYS_MAX);
	if (n == 0 || n > SB_CONF_KEYS_MAX) {
		fmt(errbuf, errlen,
		    "config table: a fragment is NULL, fragments nest more "
		    "than 4 deep, or there are more than %d keys",
		    SB_CONF_KEYS_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sb_config_key *k = flat[i].key;
		size_t offset = flat[i].offset;
		if (!config_key_name_ok(k->key)) {
			fmt(errbuf, errlen,
			    "config key \"%s\": names are [a-z][a-z0-9_]* (at "
			    "most %d)",
			    k->key, TABLE_NAME_MAX);
			return false;
		}
		for (size_t h = 0; host_keys[h]; h++)
			if (strcmp(k->key, host_keys[h]) == 0) {
				fmt(errbuf, errlen,
				    "config key %s: the host owns this key in "
				    "every instance",
				    k->key);
				return false;
			}
		if (!has_text(k->doc)) {
			fmt(errbuf, errlen, "config key %s: no doc", k->key);
			return false;
		}
		if ((unsigned)k->type > SB_CONF_URL) { /* FRAGMENT flattened */
			fmt(errbuf, errlen, "config key %s: unknown type %d",
			    k->key, (int)k->type);
			return false;
		}
		if (k->flags & ~(SB_CONF_REQUIRED | SB_CONF_SECRET)) {
			fmt(errbuf, errlen, "config key %s: unknown flags 0x%x",
			    k->key, k->flags);
			return false;
		}
		if ((k->flags & SB_CONF_REQUIRED) && k->def) {
			fmt(errbuf, errlen,
			    "config key %s: is required and has a default",
			    k->key);
			return false;
		}
		if (k->min > k->max) {
			fmt(errbuf, errlen,
			    "config key %s: min %lld is above max %lld", k->key,
			    (long long)k->min, (long long)k->max);
			return false;
		}
		if (k->choices && k->type != SB_CONF_ENUM) {
			fmt(errbuf, errlen,
			    "config key %s: has choices but is not an enum "
			    "(URL keys list theirs in schemes)",
			    k->key);
			return false;
		}
		if (k->schemes && k->type != SB_CONF_URL) {
			fmt(errbuf, errlen,
			    "config key %s: has schemes but is not a URL",
			    k->key);
			return false;
		}
		if (k->type == SB_CONF_ENUM) {
			char what[128];
			snprintf(what, sizeof(what), "config key %s", k->key);
			if (!choices_ok(k->choices, what, errbuf, errlen))
				return false;
			if (k->def) {
				bool found = false;
				for (size_t c = 0; k->choices[c]; c++)
					if (strcmp(k->choices[c], k->def) == 0)
						found = true;
				if (!found) {
					fmt(errbuf, errlen,
					    "config key %s: default \"%s\" is "
					    "not one of its choices",
					    k->key, k->def);
					return false;
				}
			}
		}
		size_t align, size = sb_conf_field_size(k->type, &align);
		if (offset > b->config_size || size > b->config_size - offset) {
			fmt(errbuf, errlen,
			    "config key %s: field at offset %zu (%zu bytes) "
			    "lies outside config_size %zu",
			    k->key, offset, size, b->config_size);
			return false;
		}
		if (offset % align) {
			fmt(errbuf, errlen,
			    "config key %s: offset %zu is not aligned for its "
			    "type",
			    k->key, offset);
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			const struct sb_config_key *o = flat[j].key;
			size_t oalign,
			    osize = sb_conf_field_size(o->type, &oalign);
			if (strcmp(o->key, k->key) == 0) {
				fmt(errbuf, errlen,
				    "config key %s: declared twice", k->key);
				return false;
			}
			if (offset < flat[j].offset + osize &&
			    flat[j].offset < offset + size) {
				fmt(errbuf, errlen,
				    "config keys %s and %s: their fields "
				    "overlap",
				    o->key, k->key);
				return false;
			}
		}
	}
	return true;
}

bool sb_broker_check(const struct sb_broker *b, char *errbuf, size_t errlen)
{
	if (!b) {
		fmt(errbuf, errlen, "no descriptor");
		return false;
	}
	if (!sb_broker_name_ok(b->name)) {
		fmt(errbuf, errlen,
		    "module name \"%s\" is not valid (expected [a-z0-9-]+, at "
		    "most %d characters)",
		    b->name ? b->name : "(null)", MODULE_NAME_MAX);
		return false;
	}
	if (!has_text(b->version)) {
		fmt(errbuf, errlen, "no version");
		return false;
	}
	if (!has_text(b->summary)) {
		fmt(errbuf, errlen, "no summary");
		return false;
	}
	if (b->flags & ~SB_BROKER_SERIAL) {
		fmt(errbuf, errlen, "unknown flags 0x%x", b->flags);
		return false;
	}
	if (!b->open || !b->close) {
		fmt(errbuf, errlen,
		    "open and close are mandatory; %s is missing",
		    !b->open ? "open" : "close");
		return false;
	}
	if (!config_ok(b, errbuf, errlen))
		return false;
	if (!b->objects)
		return true;
	for (size_t i = 0; b->objects[i].name; i++) {
		if (!sb_object_check(&b->objects[i], errbuf, errlen))
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(b->objects[j].name, b->objects[i].name) ==
			    0) {
				fmt(errbuf, errlen, "object %s: declared twice",
				    b->objects[i].name);
				return false;
			}
	}
	return true;
}

enum sb_status sb_describe_add(struct sb_describe *b,
			       const struct sb_object *obj,
			       struct sb_error *err)
{
	if (!b || !b->add)
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "no describe builder");
	char why[SB_ERROR_MSG_MAX - 64];
	if (!obj || !sb_object_check(obj, why, sizeof(why)))
		return sb_error_set(err, SB_ERR_INTERNAL, NULL,
				    "invalid dynamic object: %s",
				    obj ? why : "NULL object");
	return b->add(b->ctx, obj, err);
}
