/* A temporary directory for a unit test, under the TMPDIR `make check`
 * gives each test (tests/lib/tmpdir-check.sh), else /tmp.  Include after
 * <check.h>. */
#ifndef SB_TEST_TMPDIR_H
#define SB_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

/* A new directory "$TMPDIR/<prefix>XXXXXX" in buf; fails the test if the
 * path does not fit or the directory cannot be made. */
static inline void make_tmp_dir(char *buf, size_t size, const char *prefix)
{
	const char *t = getenv("TMPDIR");
	int n =
	    snprintf(buf, size, "%s/%sXXXXXX", t && *t ? t : "/tmp", prefix);
	ck_assert_msg(n > 0 && (size_t)n < size, "TMPDIR too long");
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

#endif
