/* svcbroker — GMime's one-time set-up for libsvcbroker-mime.
 *
 * g_mime_init() registers GMime's GObject types and its charset tables; it
 * must run once per process before any other GMime call, and GMime's own
 * counter is not thread-safe, so every entry point of this library calls
 * mime_init_once() (pthread_once).  g_mime_shutdown() is never called:
 * brokers that use this library are modules the host may unload and load
 * again while others still use GMime, and GObject types cannot be
 * registered twice.  The library is linked with -z nodelete (mime.am), so
 * it, and GMime with it, stays mapped for the life of the process once
 * loaded: a reloaded module finds GMime initialised, and the once flag
 * set.  What GMime and GLib allocate here is kept until exit (valgrind:
 * "still reachable"). */
#include "config.h"

#include <pthread.h>

#include <gmime/gmime.h>

#include "mime_int.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) { g_mime_init(); }

void mime_init_once(void) { pthread_once(&once, init); }
