/* Consistency of the closed enums of the public headers: every sb_status
 * has its own category string and one HTTP status (the one its comment in
 * <svcbroker/status.h> promises), every sb_type and sb_method_kind has a
 * distinct name. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/broker.h>
#include <svcbroker/status.h>
#include <svcbroker/types.h>

#ifndef SB_TOP_SRCDIR
#define SB_TOP_SRCDIR "."
#endif

/* Only characters of `set`, at least one. */
static bool made_of(const char *s, const char *set)
{
	return s && *s && strspn(s, set) == strlen(s);
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"

START_TEST(status_strings_distinct)
{
	ck_assert_str_eq(sb_status_str(SB_OK), "ok");
	for (int i = 0; i < SB_STATUS_COUNT_; i++) {
		const char *s = sb_status_str((enum sb_status)i);
		ck_assert_msg(made_of(s, LOWER "_"),
			      "status %d: category \"%s\" is not [a-z_]+", i,
			      s ? s : "(null)");
		for (int j = 0; j < i; j++)
			ck_assert_msg(
			    strcmp(s, sb_status_str((enum sb_status)j)),
			    "statuses %d and %d share the category "
			    "\"%s\"",
			    j, i, s);
	}
}
END_TEST

START_TEST(status_http_mapping)
{
	ck_assert_int_eq(sb_status_http(SB_OK), 200);
	for (int i = 1; i < SB_STATUS_COUNT_; i++) {
		int h = sb_status_http((enum sb_status)i);
		ck_assert_msg(h >= 400 && h <= 599,
			      "status %d (%s) maps to HTTP %d, not an error "
			      "status",
			      i, sb_status_str((enum sb_status)i), h);
		/* 500 is what an unmapped value falls back to: only
		 * "internal" may have it. */
		if (h == 500)
			ck_assert_int_eq(i, SB_ERR_INTERNAL);
	}
	/* The two statuses that carry Retry-After. */
	ck_assert_int_eq(sb_status_http(SB_ERR_THROTTLED), 429);
	ck_assert_int_eq(sb_status_http(SB_ERR_UNAVAILABLE), 503);
}
END_TEST

START_TEST(status_out_of_range)
{
	enum sb_status bad[] = {SB_STATUS_COUNT_,
				(enum sb_status)(SB_STATUS_COUNT_ + 1),
				(enum sb_status) - 1, (enum sb_status)100000};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_str_eq(sb_status_str(bad[i]), "internal");
		ck_assert_int_eq(sb_status_http(bad[i]), 500);
	}
}
END_TEST

/* The enum in status.h documents each value's HTTP status in a comment
 * ("SB_ERR_NOT_FOUND,  / * 404 not_found ... * /"): keep it true. */
START_TEST(status_header_comments)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof(path), "%s/include/svcbroker/status.h",
		 top && *top ? top : SB_TOP_SRCDIR);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char line[512];
	bool in_enum = false;
	int index = 0, documented = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!in_enum) {
			in_enum = strncmp(line, "enum sb_status {", 16) == 0;
			continue;
		}
		const char *p = line + strspn(line, " \t");
		if (strncmp(p, "SB_STATUS_COUNT_", 16) == 0 || *p == '}')
			break;
		if (strncmp(p, "SB_", 3) != 0)
			continue;
		ck_assert_msg(strstr(p, "=") == NULL || index == 0,
			      "%s: enumerator %d has an explicit value", path,
			      index);
		const char *c = strstr(p, "/*");
		if (c) {
			c += 2;
			c += strspn(c, " ");
			char *end = NULL;
			long code = strtol(c, &end, 10);
			ck_assert_msg(end != c,
				      "%s: no HTTP status in the "
				      "comment of enumerator %d",
				      path, index);
			ck_assert_msg(
			    code == sb_status_http((enum sb_status)index),
			    "%s: enumerator %d (%s) is documented as "
			    "HTTP %ld but maps to %d",
			    path, index, sb_status_str((enum sb_status)index),
			    code, sb_status_http((enum sb_status)index));
			documented++;
		} else {
			ck_assert_msg(index == SB_OK,
				      "%s: enumerator %d has no comment", path,
				      index);
		}
		index++;
	}
	fclose(f);
	ck_assert_msg(in_enum, "%s: no \"enum sb_status {\"", path);
	ck_assert_int_eq(index, SB_STATUS_COUNT_);
	ck_assert_int_eq(documented, SB_STATUS_COUNT_ - 1);
}
END_TEST

START_TEST(type_names_distinct)
{
	for (int i = 0; i < SB_TYPE_COUNT_; i++) {
		const char *s = sb_type_name((enum sb_type)i);
		ck_assert_msg(made_of(s, LOWER), "type %d: name \"%s\"", i,
			      s ? s : "(null)");
		for (int j = 0; j < i; j++)
			ck_assert_msg(strcmp(s, sb_type_name((enum sb_type)j)),
				      "types %d and %d share the name \"%s\"",
				      j, i, s);
	}
	ck_assert_ptr_null(sb_type_name(SB_TYPE_COUNT_));
	ck_assert_ptr_null(sb_type_name((enum sb_type) - 1));
}
END_TEST

START_TEST(method_kind_names_distinct)
{
	int n = (int)SB_KIND_EXECUTE + 1;
	for (int i = 0; i < n; i++) {
		const char *s = sb_method_kind_name((enum sb_method_kind)i);
		ck_assert_msg(made_of(s, LOWER), "method kind %d: name \"%s\"",
			      i, s ? s : "(null)");
		for (int j = 0; j < i; j++)
			ck_assert_msg(
			    strcmp(s,
				   sb_method_kind_name((enum sb_method_kind)j)),
			    "method kinds %d and %d share the name \"%s\"", j,
			    i, s);
	}
	ck_assert_ptr_null(sb_method_kind_name((enum sb_method_kind)n));
}
END_TEST

static Suite *enums_suite(void)
{
	Suite *s = suite_create("enums");
	TCase *tc = tcase_create("enums");
	tcase_add_test(tc, status_strings_distinct);
	tcase_add_test(tc, status_http_mapping);
	tcase_add_test(tc, status_out_of_range);
	tcase_add_test(tc, status_header_comments);
	tcase_add_test(tc, type_names_distinct);
	tcase_add_test(tc, method_kind_names_distinct);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(enums_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
