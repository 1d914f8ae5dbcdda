/* Shared helpers of the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target is built with clang -fsanitize=fuzzer,address,undefined (see
 * tests/fuzz/fuzz.am) and checks invariants of the parser it drives: a
 * broken invariant is reported by FUZZ_CHECK, which aborts so that
 * libFuzzer saves the input as a crash. */
#ifndef SVCBROKER_FUZZ_H
#define SVCBROKER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr,                                        \
				"%s:%d: invariant broken: %s: ", __FILE__,     \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/* The input as a NUL-terminated string, cut at its first NUL byte. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	size_t n = strnlen((const char *)data, size);
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
