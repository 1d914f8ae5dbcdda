/* svcbrokerd's messages to the service manager (notify.c). */
#ifndef SVCBROKERD_NOTIFY_H
#define SVCBROKERD_NOTIFY_H

#include <stdbool.h>

#include <svcbroker/sdk.h>

/* Send one sd_notify(3) message, "KEY=value" lines ("READY=1",
 * "RELOADING=1", "STOPPING=1", "STATUS=..."), to $NOTIFY_SOCKET; nothing
 * when the variable is not set or svcbrokerd was built without
 * libsystemd.  Thread-safe. */
void sbd_notify(const char *fmt, ...) SB_PRINTF(1, 2);
/* Whether sbd_notify sends anything in this build. */
bool sbd_notify_built(void);

#endif
