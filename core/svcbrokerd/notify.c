/* svcbrokerd's messages to the service manager: readiness, reloads,
 * stopping and a one-line status, through libsystemd's sd_notify (a unit
 * with Type=notify waits for READY=1).  Built without libsystemd
 * (configure says so), they are not sent. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "host.h"
#include "notify.h"

void sbd_notify(const char *fmt, ...)
{
#ifdef HAVE_LIBSYSTEMD
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* 0: $NOTIFY_SOCKET stays set for the brokers' sake (it is
	 * harmless there: they never write to it) */
	int r = sd_notify(0, msg);
	if (r < 0)
		sbc_log(SB_LOG_WARN, NULL, NULL,
			"cannot notify the service manager (%d)", r);
#else
	(void)fmt;
#endif
}

bool sbd_notify_built(void)
{
#ifdef HAVE_LIBSYSTEMD
	return true;
#else
	return false;
#endif
}
