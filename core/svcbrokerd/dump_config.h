/* svcbrokerd --dump-config (dump_config.c). */
#ifndef SVCBROKERD_DUMP_CONFIG_H
#define SVCBROKERD_DUMP_CONFIG_H

#include <stdio.h>

#include "host.h"

/* Print cfg to f as an INI file: every [server] key, every enabled
 * module, every instance with its host and broker keys (defaults
 * included, secret keys masked).  The modules are loaded (the module
 * loader must be initialised).  Returns 0, or -1 when an instance cannot
 * be bound (its problems are added to errs; its keys are listed with
 * their values masked). */
int sbc_dump_config(FILE *f, const struct sbc_config *cfg,
		    struct sbc_errlist *errs);

#endif
