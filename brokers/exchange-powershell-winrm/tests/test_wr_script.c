/* The scripts of the exchange-powershell-winrm broker (quoting, OPATH
 * values, snap-ins, switches) and the parser of their output. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../wr_script.h"

static const char ID[] = "0123456789abcdef0123456789abcdef";
static const struct wr_prop PROPS[] = {{"Name", false}, {"DatabaseSize", true}};

static char *build1(int version, const char *cmdlet, const char *name,
		    const char *value, const char *const *sw,
		    struct sb_error *err)
{
	struct wr_param p[] = {{name, value}};
	return wr_script_build(version, ID, cmdlet, p, 1, sw, PROPS, 2, err);
}

START_TEST(test_snapin_per_version)
{
	struct sb_error err = {0};
	const char *want[] = {
	    "'Microsoft.Exchange.Management.PowerShell.Admin'",
	    "'Microsoft.Exchange.Management.PowerShell.E2010'",
	    "'Microsoft.Exchange.Management.PowerShell."
	    "SnapIn'"};
	for (int v = WR_EX2007; v <= WR_EX2013; v++) {
		char *s = build1(v, "Get-Mailbox", "Identity", "a", NULL, &err);
		ck_assert_ptr_nonnull(s);
		ck_assert_ptr_nonnull(strstr(s, want[v]));
		ck_assert_ptr_nonnull(strstr(s, "$sbId = '" /* id */));
		ck_assert_ptr_nonnull(strstr(s, ID));
		ck_assert_ptr_nonnull(strstr(
		    s,
		    "$sbR = @(Get-Mailbox -Identity 'a' -ErrorAction Stop)"));
		ck_assert_ptr_nonnull(strstr(
		    s, "sbOut @((sbF $o.Name), (sbF (sbB $o.DatabaseSize)))"));
		ck_assert_ptr_nonnull(strstr(s, "InvariantCulture"));
		ck_assert_ptr_null(strchr(s, '"')); /* nothing is expanded */
		free(s);
	}
	ck_assert_ptr_null(wr_snapin(7));
	ck_assert_ptr_null(
	    build1(9, "Get-Mailbox", "Identity", "a", NULL, &err));
}
END_TEST

START_TEST(test_hostile_values_quoted)
{
	struct sb_error err = {0};
	char *s = build1(WR_EX2013, "Get-Mailbox", "Identity",
			 "x'; Remove-Mailbox -Identity * ;'", NULL, &err);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(
	    strstr(s, " -Identity 'x''; Remove-Mailbox -Identity * ;''' "));
	free(s);
	/* U+2019 and U+201B doubled, $() and backticks left as they are */
	s = build1(WR_EX2010, "Get-Mailbox", "Identity",
		   "a\xe2\x80\x99"
		   "b\xe2\x80\x9b$(calc)`n--%",
		   NULL, &err);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s,
				     "-Identity 'a\xe2\x80\x99\xe2\x80\x99"
				     "b\xe2\x80\x9b\xe2\x80\x9b$(calc)`n--%'"));
	free(s);
	/* newlines stay inside the literal */
	s = build1(WR_EX2010, "Get-Mailbox", "Identity", "a\r\nb", NULL, &err);
	ck_assert_ptr_nonnull(strstr(s, "-Identity 'a\r\nb' "));
	free(s);
	/* invalid UTF-8 is refused, naming the parameter */
	ck_assert_ptr_null(
	    build1(WR_EX2010, "Get-Mailbox", "Database", "a\xff", NULL, &err));
	ck_assert_int_eq(err.status, SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "Database"));
}
END_TEST

START_TEST(test_switches_and_names)
{
	struct sb_error err = {0};
	const char *sw[] = {"-Confirm:$false", NULL};
	struct wr_param p[] = {{"Identity", "u1"}, {"Database", NULL}};
	char *s = wr_script_build(WR_EX2013, ID, "Disable-Mailbox", p, 2, sw,
				  NULL, 0, &err);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(
	    strstr(s, "@(Disable-Mailbox -Identity 'u1' -Confirm:$false "
		      "-ErrorAction Stop)"));
	ck_assert_ptr_null(strstr(s, "-Database"));
	ck_assert_ptr_null(strstr(s, "foreach"));
	free(s);
	const char *bad[] = {"Confirm", NULL};
	ck_assert_ptr_null(wr_script_build(WR_EX2013, ID, "Disable-Mailbox", p,
					   1, bad, NULL, 0, &err));
	ck_assert_ptr_null(wr_script_build(WR_EX2013, ID, "Get-Mailbox; x", p,
					   1, NULL, NULL, 0, &err));
	ck_assert_ptr_null(wr_script_build(WR_EX2013, "short", "Get-Mailbox", p,
					   1, NULL, NULL, 0, &err));
}
END_TEST

START_TEST(test_opath_value)
{
	struct sb_error err = {0};
	struct sb_buf b;
	sb_buf_init(&b, 0);
	ck_assert_int_eq(
	    wr_opath_value(&b, "O'Ne\xe2\x80\x98il", true, "Name", &err),
	    SB_OK);
	ck_assert_str_eq(b.data, "O''Ne\xe2\x80\x98\xe2\x80\x98il");
	ck_assert_int_eq(wr_opath_value(&b, "a*", true, "Name", &err),
			 SB_ERR_INVALID_INPUT);
	ck_assert_ptr_nonnull(strstr(err.message, "Name"));
	ck_assert_int_eq(wr_opath_value(&b, "a*", false, "Name", &err), SB_OK);
	ck_assert_int_eq(wr_opath_value(&b, "\xc3", false, "Name", &err),
			 SB_ERR_INVALID_INPUT);
	sb_buf_free(&b);
}
END_TEST

#define B                                                                      \
	"##SB-BEGIN\t"                                                         \
	"0123456789abcdef0123456789abcdef\n"
#define E(n)                                                                   \
	"##SB-END\t"                                                           \
	"0123456789abcdef0123456789abcdef\t" n "\n"

static enum sb_status parse(const char *out, size_t fields, struct wr_rows *r,
			    struct sb_error *err)
{
	return wr_output_parse(out, strlen(out), ID, fields, r, err);
}

START_TEST(test_parse_rows)
{
	struct sb_error err = {0};
	struct wr_rows r;
	/* "x" = eA==, "\xe4\xb8\xad'\t\r\n" = 5Lit JwkNCg== */
	const char *out = "banner\r\n" B "eA==\t-\r\n"
			  "WARNING: something\r\n"
			  "5LitJwkNCg==\tMTIzNDU=\r\n" E("2") "after\n";
	ck_assert_int_eq(parse(out, 2, &r, &err), SB_OK);
	ck_assert(!r.failed);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_str_eq(wr_cell(&r, 0, 0), "x");
	ck_assert_ptr_null(wr_cell(&r, 0, 1));
	ck_assert_str_eq(wr_cell(&r, 1, 0), "\xe4\xb8\xad'\t\r\n");
	ck_assert_str_eq(wr_cell(&r, 1, 1), "12345");
	wr_rows_free(&r);
	/* no rows */
	ck_assert_int_eq(parse(B E("0"), 0, &r, &err), SB_OK);
	ck_assert_uint_eq(r.n, 0);
	wr_rows_free(&r);
	/* empty string field */
	ck_assert_int_eq(parse(B "\teA==\n" E("1"), 2, &r, &err), SB_OK);
	ck_assert_str_eq(wr_cell(&r, 0, 0), "");
	wr_rows_free(&r);
}
END_TEST

START_TEST(test_parse_error_marker)
{
	struct sb_error err = {0};
	struct wr_rows r;
	/* ObjectNotFound, Microsoft.X.ManagementObjectNotFoundException,
	 * "The operation couldn't be performed" */
	const char *out =
	    B "eA==\n##SB-ERROR\t0123456789abcdef0123456789abcdef\t"
	      "T2JqZWN0Tm90Rm91bmQ=\t"
	      "TWljcm9zb2Z0LlguTWFuYWdlbWVudE9iamVjdE5vdEZvdW5kRXhjZXB0aW9u\t"
	      "VGhlIG9wZXJhdGlvbiBjb3VsZG4ndCBiZSBwZXJmb3JtZWQ=\n";
	ck_assert_int_eq(parse(out, 1, &r, &err), SB_OK);
	ck_assert(r.failed);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_str_eq(r.category, "ObjectNotFound");
	ck_assert_str_eq(r.type,
			 "Microsoft.X.ManagementObjectNotFoundException");
	ck_assert_str_eq(r.message, "The operation couldn't be performed");
	wr_rows_free(&r);
	/* before the frame too (the snap-in failed to load) */
	ck_assert_int_eq(
	    parse("##SB-ERROR\t0123456789abcdef0123456789abcdef\t-\t-\t-\n", 1,
		  &r, &err),
	    SB_OK);
	ck_assert(r.failed);
	ck_assert_str_eq(r.message, "");
	wr_rows_free(&r);
}
END_TEST

START_TEST(test_parse_refusals)
{
	struct sb_error err = {0};
	struct wr_rows r;
	const char *bad[] = {
	    "",					  /* nothing */
	    "eA==\n",				  /* no frame */
	    B "eA==\n",				  /* cut short */
	    B "eA==\n" E("2"),			  /* count mismatch */
	    B "eA==\n" E("x"),			  /* count unreadable */
	    B "eA==\teA==\n" E("1"),		  /* too wide */
	    B "eA=\n" E("1"),			  /* bad base64 */
	    B "AA==\n" E("1"),			  /* NUL */
	    B "/w==\n" E("1"),			  /* invalid UTF-8 */
	    B "##SB-END\tffff\t1\neA==\n" E("1"), /* another call's */
	    "##SB-BEGIN\tffffffffffffffffffffffffffffffff\neA==\n"
	    "##SB-END\tffffffffffffffffffffffffffffffff\t1\n", /* not ours */
	    B "eA==\n##SB-ERROR\t0123456789abcdef0123456789abcdef\t-\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		ck_assert_msg(parse(bad[i], 1, &r, &err) == SB_ERR_UPSTREAM,
			      "case %zu accepted", i);
		ck_assert_ptr_null(r.cells);
		ck_assert(err.message[0]);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("wr_script");
	TCase *tc = tcase_create("units");
	tcase_add_test(tc, test_snapin_per_version);
	tcase_add_test(tc, test_hostile_values_quoted);
	tcase_add_test(tc, test_switches_and_names);
	tcase_add_test(tc, test_opath_value);
	tcase_add_test(tc, test_parse_rows);
	tcase_add_test(tc, test_parse_error_marker);
	tcase_add_test(tc, test_parse_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
