/* Internals shared by files of the SDK (libsvcbroker), never exported
 * (the library exports only sb_*). */
#ifndef SVCBROKER_SDK_INT_H
#define SVCBROKER_SDK_INT_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date, and back
 * (H. Hinnant's algorithms); core/sdk/types.c. */
int64_t sdk_days_from_civil(int64_t y, int m, int d);
void sdk_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif
