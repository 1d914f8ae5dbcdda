/* Binding an instance's keys to its broker's typed key table, and the
 * broker's validate() for rules that span several keys.  The parsing
 * itself is the SDK's (<svcbroker/conf.h>), shared with the host's own
 * keys and the test host. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/conf.h>

#include "host.h"

static void report(void *ctx, const char *msg)
{
	sbc_errlist_add(ctx, "%s", msg);
}

static const char *const host_key_names[] = {"broker", "max_concurrency",
					     "timeout", NULL};

int sbc_config_bind(const struct sb_config_key *table, size_t config_size,
		    const struct sbc_instance_conf *inst, void **out,
		    struct sbc_errlist *errs)
{
	*out = NULL;
	void *conf = calloc(1, config_size ? config_size : 1);
	struct sb_conf_kv *view = calloc(inst->n_kv + 1, sizeof(*view));
	if (!conf || !view) {
		free(conf);
		free(view);
		sbc_errlist_add(errs, "[instance %s]: out of memory",
				inst->name);
		return -1;
	}
	for (size_t i = 0; i < inst->n_kv; i++)
		view[i] = (struct sb_conf_kv){
		    inst->kv[i].key, inst->kv[i].value, inst->kv[i].file,
		    inst->kv[i].line, inst->kv[i].secret_ref};
	char label[128];
	snprintf(label, sizeof(label), "[instance %s]", inst->name);
	struct sb_conf_where where = {.label = label,
				      .file = inst->file,
				      .line = inst->line,
				      .also_valid = host_key_names};
	int nerr = sb_conf_bind(table, conf, config_size, view, inst->n_kv,
				&where, report, errs);
	free(view);
	if (nerr > 0) {
		sb_conf_release(table, conf, config_size);
		free(conf);
		return -1;
	}
	*out = conf;
	return 0;
}

void sbc_config_unbind(const struct sb_config_key *table, void *conf)
{
	if (!conf)
		return;
	sb_conf_release(table, conf, SIZE_MAX); /* a table that bound */
	free(conf);
}

int sbc_config_validate(const struct sb_broker *b, const void *conf,
			const struct sbc_instance_conf *inst,
			struct sbc_errlist *errs)
{
	if (!b->validate)
		return 0;
	struct sb_error err;
	sb_error_clear(&err);
	enum sb_status st = b->validate(conf, &err);
	if (st == SB_OK)
		return 0;
	char text[SB_ERROR_MSG_MAX];
	sb_text_quotable(err.message[0] ? err.message : sb_status_str(st),
			 sizeof(text), text, sizeof(text));
	sbc_errlist_add(errs, "%s:%d: [instance %s] %s", inst->file, inst->line,
			inst->name, text);
	return -1;
}

int sbc_instance_bind(const struct sb_broker *b,
		      const struct sbc_instance_conf *inst, void **out,
		      struct sbc_errlist *errs)
{
	if (sbc_config_bind(b->config, b->config_size, inst, out, errs) != 0)
		return -1;
	if (sbc_config_validate(b, *out, inst, errs) != 0) {
		sbc_config_unbind(b->config, *out);
		*out = NULL;
		return -1;
	}
	return 0;
}
