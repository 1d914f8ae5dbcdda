/* svcbroker names: the addresses of the live catalog, one per line, for
 * scripts and for bash completion (svcbroker.bash-completion).  What a
 * client sees is what it may call: the daemon filters the catalog. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { N_INSTANCES = 1, N_OBJECTS = 2, N_METHODS = 4 };

int cli_cmd_names(const struct cli_opts *opts, int argc, char **argv)
{
	unsigned want = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "instances") == 0)
			want |= N_INSTANCES;
		else if (strcmp(argv[i], "objects") == 0)
			want |= N_OBJECTS;
		else if (strcmp(argv[i], "methods") == 0)
			want |= N_METHODS;
		else {
			cli_err("names: '%s' is not instances, objects or "
				"methods",
				argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	if (!want)
		want = N_METHODS;
	json_t *cat;
	int ret = cli_get_json(opts, "/v1/catalog", &cat);
	if (ret != CLI_EXIT_OK)
		return ret;
	json_t *insts = cli_jlist(cat, "instances");
	size_t i;
	json_t *inst;
	json_array_foreach(insts, i, inst)
	{
		const char *in = cli_jstr(inst, "name");
		if (!in)
			continue;
		if (want & N_INSTANCES)
			printf("%s\n", in);
		json_t *objs = cli_jlist(inst, "objects");
		size_t k;
		json_t *obj;
		json_array_foreach(objs, k, obj)
		{
			const char *on = cli_jstr(obj, "name");
			if (!on)
				continue;
			if (want & N_OBJECTS)
				printf("%s/%s\n", in, on);
			if (!(want & N_METHODS))
				continue;
			json_t *ms = cli_jlist(obj, "methods");
			size_t m;
			json_t *mn;
			json_array_foreach(ms, m, mn)
			{
				if (json_is_string(mn))
					printf("%s/%s.%s\n", in, on,
					       json_string_value(mn));
			}
			json_decref(ms);
		}
		json_decref(objs);
	}
	json_decref(insts);
	json_decref(cat);
	return CLI_EXIT_OK;
}
