/* svcbrokerd --dump-config: the effective configuration, as the daemon
 * would run it, [client] sections included (as nginx -T): includes read,
 * ${env:} and ${file:} references resolved, every default filled in, paths made
 * absolute, and the value of every secret key masked.  The output is itself a
 * valid configuration file. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/conf.h>

#include "dump_config.h"

#define MASK "********"

/* v as an INI value: on one line, so a multi-line list is joined. */
static void put_value(FILE *f, const char *v)
{
	for (; *v; v++)
		fputc(*v == '\n' || *v == '\r' ? ' ' : *v, f);
}

/* One key of a bound struct, in INI syntax. */
static void put_key(FILE *f, const struct sb_config_key *k, const void *conf,
		    size_t offset)
{
	const char *p = (const char *)conf + offset;
	char buf[64];
	if (k->flags & SB_CONF_SECRET) {
		bool set = true;
		if (k->type == SB_CONF_STRING || k->type == SB_CONF_PATH ||
		    k->type == SB_CONF_URL)
			set = *(char *const *)p != NULL;
		if (set)
			fprintf(f, "%s = %s\n", k->key, MASK);
		else
			fprintf(f, "# %s is not set\n", k->key);
		return;
	}
	switch (k->type) {
	case SB_CONF_STRING:
	case SB_CONF_PATH:
	case SB_CONF_URL: {
		const char *s = *(char *const *)p;
		if (!s) {
			fprintf(f, "# %s is not set\n", k->key);
			return;
		}
		fprintf(f, "%s = ", k->key);
		if (k->type == SB_CONF_URL) {
			/* a password in the URL is a secret too */
			size_t n = strlen(s) + 8;
			char *shown = malloc(n);
			if (shown) {
				sb_conf_shown(s, n, shown, n);
				put_value(f, shown);
				free(shown);
			}
		} else {
			put_value(f, s);
		}
		fputc('\n', f);
		return;
	}
	case SB_CONF_INT:
		fprintf(f, "%s = %lld\n", k->key,
			(long long)*(const int64_t *)p);
		return;
	case SB_CONF_BOOL:
		fprintf(f, "%s = %s\n", k->key,
			*(const bool *)p ? "yes" : "no");
		return;
	case SB_CONF_DURATION:
		sb_format_duration_ms(*(const int64_t *)p, buf, sizeof(buf));
		fprintf(f, "%s = %s\n", k->key, buf);
		return;
	case SB_CONF_SIZE:
		sb_format_size(*(const int64_t *)p, buf, sizeof(buf));
		fprintf(f, "%s = %s\n", k->key, buf);
		return;
	case SB_CONF_ENUM: {
		int i = *(const int *)p;
		int n = 0;
		while (k->choices && k->choices[n])
			n++;
		fprintf(f, "%s = %s\n", k->key,
			i >= 0 && i < n ? k->choices[i] : "?");
		return;
	}
	case SB_CONF_LIST: {
		char *const *l = *(char *const *const *)p;
		if (!l || !l[0]) {
			fprintf(f, "# %s is empty\n", k->key);
			return;
		}
		fprintf(f, "%s = ", k->key);
		for (size_t i = 0; l[i]; i++) {
			if (i)
				fputs(", ", f);
			put_value(f, l[i]);
		}
		fputc('\n', f);
		return;
	}
	case SB_CONF_FRAGMENT:
		return; /* flattened away */
	}
}

static void put_table(FILE *f, const struct sb_config_key *table,
		      const void *conf)
{
	struct sb_conf_flat flat[SB_CONF_KEYS_MAX];
	size_t n = sb_conf_flatten(table, flat, SB_CONF_KEYS_MAX);
	for (size_t i = 0; i < n && i < SB_CONF_KEYS_MAX; i++) {
		/* the included files' sections are printed in place */
		if (table == sbc_server_keys &&
		    strcmp(flat[i].key->key, "include") == 0)
			continue;
		put_key(f, flat[i].key, conf, flat[i].offset);
	}
}

/* The files the configuration was read from, each once. */
static void put_files(FILE *f, const struct sbc_config *cfg)
{
	size_t total = cfg->n_instances + cfg->n_clients;
	const char **seen = calloc(total + 1, sizeof(*seen));
	size_t n = 0;
	fprintf(f, "# read from %s", cfg->path);
	for (size_t i = 0; seen && i < total; i++) {
		const char *file =
		    i < cfg->n_instances
			? cfg->instances[i].file
			: cfg->clients[i - cfg->n_instances].file;
		bool dup = !file || strcmp(file, cfg->path) == 0;
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(seen[j], file) == 0;
		if (dup)
			continue;
		seen[n++] = file;
		fprintf(f, ", %s", file);
	}
	fputc('\n', f);
	free(seen);
}

int sbc_dump_config(FILE *f, const struct sbc_config *cfg,
		    struct sbc_errlist *errs)
{
	int rc = 0;
	fprintf(f, "# svcbrokerd " PACKAGE_VERSION
		   " --dump-config: the effective configuration, with "
		   "defaults;\n# secret values are shown as " MASK ".\n");
	put_files(f, cfg);
	fputs("\n[server]\n", f);
	put_table(f, sbc_server_keys, cfg);
	for (char **m = cfg->modules; m && *m; m++)
		fprintf(f, "\n[module %s]\nenabled = yes\n", *m);
	for (size_t i = 0; i < cfg->n_instances; i++) {
		const struct sbc_instance_conf *ic = &cfg->instances[i];
		fprintf(f, "\n# %s:%d\n[instance %s]\n", ic->file, ic->line,
			ic->name);
		put_table(f, sbc_instance_host_keys, ic);
		char eb[1024];
		const struct sbc_module *mod = sbc_module_load(
		    cfg->module_dir, ic->broker, eb, sizeof(eb));
		void *conf = NULL;
		if (mod &&
		    sbc_instance_bind(mod->broker, ic, &conf, errs) == 0) {
			put_table(f, mod->broker->config, conf);
			sbc_config_unbind(mod->broker->config, conf);
			continue;
		}
		if (!mod)
			sbc_errlist_add(
			    errs, "%s:%d: [instance %s] broker %s: %s",
			    ic->file, ic->line, ic->name, ic->broker, eb);
		/* as written: without its module no key is known to be
		 * harmless, so every value is masked */
		fputs("# not bound (see the problems on standard error); "
		      "the keys as written:\n",
		      f);
		for (size_t k = 0; k < ic->n_kv; k++)
			fprintf(f, "%s = " MASK "\n", ic->kv[k].key);
		rc = -1;
	}
	/* without them a dump read as a configuration would serve every
	 * caller: token_sha256 is the token's hash, never the token */
	for (size_t i = 0; i < cfg->n_clients; i++) {
		const struct sbc_client_conf *cl = &cfg->clients[i];
		fprintf(f, "\n# %s:%d\n[client %s]\n", cl->file, cl->line,
			cl->name);
		put_table(f, sbc_client_keys, cl);
	}
	return rc;
}
