/* Unit tests for calls and results (core/call.c). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svcbroker/schema.h>

#include "host.h"
#include "json.h"

static const char *const colours[] = {"Red", "Green", "Blue", NULL};

static const struct sb_param send_inputs[] = {
    {.name = "To",
     .type = SB_TYPE_EMAIL,
     .flags = SB_MULTI | SB_REQUIRED,
     .doc = "Recipients."},
    {.name = "Subject",
     .type = SB_TYPE_TEXT,
     .flags = SB_REQUIRED,
     .doc = "Subject."},
    {.name = "Body", .type = SB_TYPE_MEMO, .doc = "Body."},
    {.name = "Importance",
     .type = SB_TYPE_ENUM,
     .choices = sb_importance_choices,
     .doc = "Importance."},
    {.name = "Attachments",
     .type = SB_TYPE_FILE,
     .flags = SB_MULTI,
     .max_size = 2,
     .doc = "Files."},
    {.name = "Logo", .type = SB_TYPE_FILE, .max_size = 10, .doc = "A file."},
    {.name = "Code", .type = SB_TYPE_TEXT, .max_size = 8, .doc = "Short."},
    {.name = "Count", .type = SB_TYPE_NUMBER, .doc = "A number."},
    {.name = "Amount", .type = SB_TYPE_DECIMAL, .doc = "A decimal."},
    {.name = "Urgent", .type = SB_TYPE_BOOLEAN, .doc = "A flag."},
    {.name = "When", .type = SB_TYPE_DATETIME, .doc = "A time."},
    {.name = "Tags", .type = SB_TYPE_TEXT, .flags = SB_MULTI, .doc = "Tags."},
    {.name = "Colour",
     .type = SB_TYPE_ENUM,
     .choices = colours,
     .doc = "A colour."},
    SB_PARAM_END,
};
static const struct sb_param list_inputs[] = {
    {.name = "Folder", .type = SB_TYPE_TEXT, .doc = "Folder."},
    SB_PARAM_END,
};
static const char *const send_returns[] = {"MessageId", "Accepted", NULL};
static const struct sb_method methods[] = {
    {.name = "Send",
     .kind = SB_KIND_EXECUTE,
     .doc = "Send.",
     .inputs = send_inputs,
     .returns = send_returns},
    {.name = "List",
     .kind = SB_KIND_LIST,
     .doc = "List.",
     .inputs = list_inputs},
    {.name = "Ping", .kind = SB_KIND_EXECUTE, .doc = "No inputs."},
    SB_METHOD_END,
};
static const struct sb_object email = {
    .name = "Email",
    .doc = "A message.",
    .properties = sb_email_properties,
    .methods = methods,
};
static const struct sb_method *send_m = &methods[0];
static const struct sb_method *list_m = &methods[1];
static const struct sb_method *ping_m = &methods[2];

static struct sb_call *c;
static struct sb_error err;

static void setup(void)
{
	c = sb_call_new(&email, send_m);
	ck_assert_ptr_nonnull(c);
	sb_error_clear(&err);
}

static void teardown(void)
{
	sb_call_free(c);
	c = NULL;
}

#define EXPECT_FAIL(call, st, needle)                                          \
	do {                                                                   \
		sb_error_clear(&err);                                          \
		ck_assert_int_eq((call), (st));                                \
		ck_assert_int_eq(err.status, (st));                            \
		ck_assert_msg(strstr(err.message, (needle)) != NULL,           \
			      "message '%s' lacks '%s'", err.message,          \
			      (needle));                                       \
	} while (0)

START_TEST(call_identity)
{
	ck_assert_str_eq(sb_call_object(c), "Email");
	ck_assert_str_eq(sb_call_method(c), "Send");
	ck_assert_ptr_eq(sb_call_def(c), send_m);
	ck_assert_ptr_eq(sb_call_param(c, "Subject"), &send_inputs[1]);
	ck_assert_ptr_null(sb_call_param(c, "PageSize"));
	ck_assert_ptr_null(sb_call_param(c, "Nope"));
}
END_TEST

START_TEST(unknown_input_lists_valid_names)
{
	EXPECT_FAIL(sb_call_put_str(c, "Subjct", "x", &err),
		    SB_ERR_INVALID_INPUT, "unknown input 'Subjct'");
	ck_assert_ptr_nonnull(strstr(err.message, "To, Subject, Body"));
	ck_assert_ptr_null(strstr(err.message, "PageSize"));
	EXPECT_FAIL(sb_call_put_int(c, "Nope", 1, &err), SB_ERR_INVALID_INPUT,
		    "Nope");
	EXPECT_FAIL(sb_call_put_bool(c, "Nope", true, &err),
		    SB_ERR_INVALID_INPUT, "Nope");
	EXPECT_FAIL(sb_call_put_file(c, "Nope", "a", "text/plain",
				     (const unsigned char *)"x", 1, &err),
		    SB_ERR_INVALID_INPUT, "Nope");
	EXPECT_FAIL(sb_call_put_empty(c, "Nope", &err), SB_ERR_INVALID_INPUT,
		    "Nope");
	/* A control character in the name is not echoed raw. */
	EXPECT_FAIL(sb_call_put_str(c, "a\nb", "x", &err), SB_ERR_INVALID_INPUT,
		    "a?b");
	ck_assert_uint_eq(sb_call_n_inputs(c), 0);
	/* A method without inputs says so. */
	struct sb_call *p = sb_call_new(&email, ping_m);
	EXPECT_FAIL(sb_call_put_str(p, "X", "1", &err), SB_ERR_INVALID_INPUT,
		    "(none)");
	ck_assert_int_eq(sb_call_finish(p, &err), SB_OK);
	sb_call_free(p);
}
END_TEST

START_TEST(wrong_type_and_format)
{
	EXPECT_FAIL(sb_call_put_int(c, "Subject", 3, &err),
		    SB_ERR_INVALID_INPUT, "Subject: expected text");
	EXPECT_FAIL(sb_call_put_bool(c, "Count", true, &err),
		    SB_ERR_INVALID_INPUT, "Count: expected number");
	EXPECT_FAIL(sb_call_put_str(c, "Logo", "x", &err), SB_ERR_INVALID_INPUT,
		    "Logo: expected file");
	EXPECT_FAIL(sb_call_put_file(c, "Subject", "a.txt", "text/plain",
				     (const unsigned char *)"x", 1, &err),
		    SB_ERR_INVALID_INPUT, "Subject: expected text");
	EXPECT_FAIL(sb_call_put_str(c, "When", "2026-01-31T09:00:00", &err),
		    SB_ERR_INVALID_INPUT, "When: expected ISO 8601 date-time");
	EXPECT_FAIL(sb_call_put_str(c, "To", "Bob <bob@example.com>", &err),
		    SB_ERR_INVALID_INPUT, "To: expected an e-mail address");
	EXPECT_FAIL(sb_call_put_str(c, "Subject", "two\nlines", &err),
		    SB_ERR_INVALID_INPUT, "Subject: contains a control");
	EXPECT_FAIL(sb_call_put_str(c, "Body", "nul\x01", &err),
		    SB_ERR_INVALID_INPUT, "Body: contains a control");
	EXPECT_FAIL(sb_call_put_str(c, "Amount", "1.2.3", &err),
		    SB_ERR_INVALID_INPUT, "Amount: expected a decimal");
	EXPECT_FAIL(sb_call_put_str(c, "Count", "12x", &err),
		    SB_ERR_INVALID_INPUT, "Count: expected a whole number");
	EXPECT_FAIL(sb_call_put_str(c, "Urgent", "yes", &err),
		    SB_ERR_INVALID_INPUT, "Urgent: expected true or false");
	EXPECT_FAIL(sb_call_put_str(c, "Subject", NULL, &err),
		    SB_ERR_INVALID_INPUT, "Subject");
	/* Nothing of the failed puts is present. */
	ck_assert_uint_eq(sb_call_n_inputs(c), 0);
	ck_assert_ptr_null(sb_call_input(c, "Subject"));
	ck_assert_ptr_null(sb_call_input(c, "Count"));
}
END_TEST

START_TEST(enum_lists_choices)
{
	EXPECT_FAIL(sb_call_put_str(c, "Importance", "Urgent", &err),
		    SB_ERR_INVALID_INPUT,
		    "Importance: 'Urgent' is not one of Low, Normal, High");
	EXPECT_FAIL(sb_call_put_str(c, "Colour", "red", &err),
		    SB_ERR_INVALID_INPUT, "Red, Green, Blue");
	ck_assert_int_eq(sb_call_put_str(c, "Colour", "Blue", &err), SB_OK);
	ck_assert_str_eq(sb_call_str(c, "Colour", NULL), "Blue");
}
END_TEST

START_TEST(caps_give_payload_too_large)
{
	/* Declared max_size for a single text input. */
	ck_assert_int_eq(sb_call_put_str(c, "Code", "12345678", &err), SB_OK);
	struct sb_call *c2 = sb_call_new(&email, send_m);
	EXPECT_FAIL(sb_call_put_str(c2, "Code", "123456789", &err),
		    SB_ERR_PAYLOAD_TOO_LARGE, "Code: longer than 8 bytes");
	/* Default text cap. */
	size_t n = SB_DEFAULT_TEXT_MAX + 1;
	char *big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	EXPECT_FAIL(sb_call_put_str(c2, "Subject", big, &err),
		    SB_ERR_PAYLOAD_TOO_LARGE, "Subject");
	big[n - 1] = '\0';
	ck_assert_int_eq(sb_call_put_str(c2, "Subject", big, &err), SB_OK);
	/* Memo allows more than text. */
	ck_assert_int_eq(sb_call_put_str(c2, "Body", big, &err), SB_OK);
	free(big);
	/* File caps: declared max_size (decoded bytes). */
	unsigned char data[11] = "0123456789";
	EXPECT_FAIL(sb_call_put_file(c2, "Logo", "logo.png", "image/png", data,
				     11, &err),
		    SB_ERR_PAYLOAD_TOO_LARGE, "Logo");
	ck_assert_int_eq(sb_call_put_file(c2, "Logo", "logo.png", "image/png",
					  data, 10, &err),
			 SB_OK);
	/* Multi caps: max_size counts items. */
	ck_assert_int_eq(
	    sb_call_put_file(c2, "Attachments", "a", NULL, data, 1, &err),
	    SB_OK);
	ck_assert_int_eq(
	    sb_call_put_file(c2, "Attachments", "b", NULL, data, 2, &err),
	    SB_OK);
	EXPECT_FAIL(
	    sb_call_put_file(c2, "Attachments", "c", NULL, data, 3, &err),
	    SB_ERR_PAYLOAD_TOO_LARGE, "Attachments: more than 2");
	ck_assert_uint_eq(sb_call_count(c2, "Attachments"), 2);
	/* Default multi cap. */
	for (unsigned i = 0; i < SB_DEFAULT_MULTI_MAX; i++)
		ck_assert_int_eq(sb_call_put_str(c2, "Tags", "t", &err), SB_OK);
	EXPECT_FAIL(sb_call_put_str(c2, "Tags", "t", &err),
		    SB_ERR_PAYLOAD_TOO_LARGE, "Tags");
	sb_call_free(c2);
}
END_TEST

START_TEST(single_vs_multi)
{
	ck_assert_int_eq(sb_call_put_str(c, "Subject", "Hi", &err), SB_OK);
	EXPECT_FAIL(sb_call_put_str(c, "Subject", "Again", &err),
		    SB_ERR_INVALID_INPUT, "Subject: takes one value");
	ck_assert_str_eq(sb_call_str(c, "Subject", NULL), "Hi");
	ck_assert_int_eq(sb_call_put_str(c, "To", "a@example.com", &err),
			 SB_OK);
	ck_assert_int_eq(sb_call_put_str(c, "To", "b@example.com", &err),
			 SB_OK);
	ck_assert_uint_eq(sb_call_count(c, "To"), 2);
	ck_assert_str_eq(sb_call_str_at(c, "To", 0), "a@example.com");
	ck_assert_str_eq(sb_call_str_at(c, "To", 1), "b@example.com");
	ck_assert_ptr_null(sb_call_str_at(c, "To", 2));
	/* sb_call_str is for single inputs. */
	ck_assert_str_eq(sb_call_str(c, "To", "fb"), "fb");
	const struct sb_value *v = sb_call_input(c, "To");
	ck_assert_ptr_nonnull(v);
	ck_assert(v->multi);
	ck_assert_uint_eq(v->count, 2);
	ck_assert_int_eq(v->type, SB_TYPE_EMAIL);
	ck_assert_str_eq(v->items[1].s, "b@example.com");
	/* put_empty: only for multi. */
	EXPECT_FAIL(sb_call_put_empty(c, "Body", &err), SB_ERR_INVALID_INPUT,
		    "Body: takes one value, not a list");
	ck_assert_int_eq(sb_call_put_empty(c, "Tags", &err), SB_OK);
	v = sb_call_input(c, "Tags");
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->count, 0);
	ck_assert_uint_eq(sb_call_n_inputs(c), 3);
	ck_assert_str_eq(sb_call_input_name(c, 0), "Subject");
	ck_assert_str_eq(sb_call_input_name(c, 1), "To");
	ck_assert_str_eq(sb_call_input_name(c, 2), "Tags");
	ck_assert_ptr_null(sb_call_input_name(c, 3));
}
END_TEST

START_TEST(required_inputs)
{
	EXPECT_FAIL(sb_call_finish(c, &err), SB_ERR_INVALID_INPUT,
		    "missing required inputs: To, Subject");
	ck_assert_int_eq(sb_call_put_str(c, "Subject", "Hi", &err), SB_OK);
	EXPECT_FAIL(sb_call_finish(c, &err), SB_ERR_INVALID_INPUT,
		    "missing required input: To");
	/* An empty list does not satisfy a required multi input. */
	ck_assert_int_eq(sb_call_put_empty(c, "To", &err), SB_OK);
	EXPECT_FAIL(sb_call_finish(c, &err), SB_ERR_INVALID_INPUT, "To");
	ck_assert_int_eq(sb_call_put_str(c, "To", "a@example.com", &err),
			 SB_OK);
	ck_assert_int_eq(sb_call_finish(c, &err), SB_OK);
}
END_TEST

START_TEST(typed_getters)
{
	ck_assert_int_eq(sb_call_put_str(c, "Count", "-42", &err), SB_OK);
	int64_t i = 0;
	ck_assert(sb_call_int(c, "Count", &i));
	ck_assert_int_eq(i, -42);
	ck_assert_int_eq(sb_call_input(c, "Count")->type, SB_TYPE_NUMBER);
	ck_assert_int_eq(sb_call_put_str(c, "Urgent", "true", &err), SB_OK);
	bool b = false;
	ck_assert(sb_call_bool(c, "Urgent", &b));
	ck_assert(b);
	ck_assert_int_eq(sb_call_put_int(c, "Amount", 1250, &err), SB_OK);
	ck_assert_str_eq(sb_call_str(c, "Amount", NULL), "1250");
	/* Mismatched getters give the fallback. */
	ck_assert(!sb_call_int(c, "Urgent", &i));
	ck_assert(!sb_call_bool(c, "Count", &b));
	ck_assert_str_eq(sb_call_str(c, "Count", "fb"), "fb");
	ck_assert_str_eq(sb_call_str(c, "Missing", "fb"), "fb");
	ck_assert(!sb_call_int(c, "Missing", &i));
	ck_assert_uint_eq(sb_call_count(c, "Missing"), 0);
	ck_assert_ptr_null(sb_call_file_at(c, "Count", 0));
	/* Files are copied. */
	unsigned char data[4] = {0, 1, 2, 255};
	ck_assert_int_eq(sb_call_put_file(c, "Logo", "r\xc3\xa9sum\xc3\xa9.pdf",
					  NULL, data, 4, &err),
			 SB_OK);
	data[0] = 9;
	const struct sb_file *f = sb_call_file_at(c, "Logo", 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->name, "r\xc3\xa9sum\xc3\xa9.pdf");
	ck_assert_str_eq(f->content_type, "application/octet-stream");
	ck_assert_uint_eq(f->size, 4);
	ck_assert_int_eq(f->data[0], 0);
	ck_assert_int_eq(f->data[3], 255);
	ck_assert_ptr_null(sb_call_file_at(c, "Logo", 1));
	/* An empty file is fine. */
	ck_assert_int_eq(sb_call_put_file(c, "Attachments", "empty.txt",
					  "text/plain", NULL, 0, &err),
			 SB_OK);
	ck_assert_uint_eq(sb_call_file_at(c, "Attachments", 0)->size, 0);
	/* Strings are copied too. */
	char subj[] = "Hello";
	ck_assert_int_eq(sb_call_put_str(c, "Subject", subj, &err), SB_OK);
	subj[0] = 'J';
	ck_assert_str_eq(sb_call_str(c, "Subject", NULL), "Hello");
}
END_TEST

START_TEST(file_names_and_types)
{
	const unsigned char *d = (const unsigned char *)"x";
	EXPECT_FAIL(sb_call_put_file(c, "Logo", "../etc/passwd", "text/plain",
				     d, 1, &err),
		    SB_ERR_INVALID_INPUT, "Logo: file Name");
	EXPECT_FAIL(
	    sb_call_put_file(c, "Logo", "a\\b", "text/plain", d, 1, &err),
	    SB_ERR_INVALID_INPUT, "file Name");
	EXPECT_FAIL(sb_call_put_file(c, "Logo", "", "text/plain", d, 1, &err),
		    SB_ERR_INVALID_INPUT, "file Name");
	EXPECT_FAIL(
	    sb_call_put_file(c, "Logo", "a\r\nb", "text/plain", d, 1, &err),
	    SB_ERR_INVALID_INPUT, "file Name");
	EXPECT_FAIL(sb_call_put_file(c, "Logo", "a.txt", "text", d, 1, &err),
		    SB_ERR_INVALID_INPUT, "ContentType");
	EXPECT_FAIL(sb_call_put_file(c, "Logo", "a.txt", "text/plain\r\nX: y",
				     d, 1, &err),
		    SB_ERR_INVALID_INPUT, "ContentType");
	EXPECT_FAIL(
	    sb_call_put_file(c, "Logo", "a.txt", "text/plain", NULL, 1, &err),
	    SB_ERR_INVALID_INPUT, "no content");
	ck_assert_ptr_null(sb_call_input(c, "Logo"));
}
END_TEST

START_TEST(list_page_inputs)
{
	struct sb_call *l = sb_call_new(&email, list_m);
	ck_assert_ptr_nonnull(sb_call_param(l, "PageSize"));
	ck_assert_ptr_nonnull(sb_call_param(l, "PageToken"));
	ck_assert_int_eq(sb_call_page_size(l), SB_PAGE_SIZE_DEFAULT);
	ck_assert_ptr_null(sb_call_page_token(l));
	EXPECT_FAIL(sb_call_put_int(l, "PageSize", 0, &err),
		    SB_ERR_INVALID_INPUT,
		    "PageSize: 0 is out of range 1..1000");
	EXPECT_FAIL(sb_call_put_str(l, "PageSize", "1001", &err),
		    SB_ERR_INVALID_INPUT, "out of range");
	EXPECT_FAIL(sb_call_put_str(l, "PageSize", "ten", &err),
		    SB_ERR_INVALID_INPUT, "PageSize");
	EXPECT_FAIL(sb_call_put_int(l, "PageToken", 5, &err),
		    SB_ERR_INVALID_INPUT, "PageToken: expected text");
	EXPECT_FAIL(sb_call_put_str(l, "Bogus", "x", &err),
		    SB_ERR_INVALID_INPUT, "Folder, PageSize, PageToken");
	ck_assert_int_eq(sb_call_put_str(l, "PageSize", "25", &err), SB_OK);
	ck_assert_int_eq(sb_call_put_str(l, "PageToken", "abc123", &err),
			 SB_OK);
	ck_assert_int_eq(sb_call_finish(l, &err), SB_OK);
	ck_assert_int_eq(sb_call_page_size(l), 25);
	ck_assert_str_eq(sb_call_page_token(l), "abc123");
	sb_call_free(l);
	/* Non-list methods do not take them. */
	EXPECT_FAIL(sb_call_put_int(c, "PageSize", 10, &err),
		    SB_ERR_INVALID_INPUT, "unknown input 'PageSize'");
	ck_assert_int_eq(sb_call_page_size(c), SB_PAGE_SIZE_DEFAULT);
}
END_TEST

START_TEST(deadline_and_cancel)
{
	ck_assert(!sb_call_is_cancelled(c));
	sb_call_set_deadline(c, 12345);
	ck_assert_int_eq(sb_call_deadline(c), 12345);
	sb_call_cancel(c);
	ck_assert(sb_call_is_cancelled(c));
}
END_TEST

/* ---- results ---------------------------------------------------------- */

START_TEST(result_rows_and_cells)
{
	struct sb_result *r = sb_result_new(&email, list_m, 10, 0);
	ck_assert_uint_eq(sb_result_n_rows(r), 0);
	ck_assert_int_eq(sb_result_row(r), SB_OK);
	ck_assert_int_eq(sb_result_str(r, "Subject", "First"), SB_OK);
	ck_assert_int_eq(sb_result_str(r, "To", "a@example.com"), SB_OK);
	ck_assert_int_eq(sb_result_str(r, "To", "b@example.com"), SB_OK);
	ck_assert_int_eq(sb_result_bool(r, "IsRead", true), SB_OK);
	ck_assert_int_eq(sb_result_str(r, "Sent", "2026-01-31T09:00:00Z"),
			 SB_OK);
	ck_assert_int_eq(sb_result_str(r, "Importance", "High"), SB_OK);
	ck_assert_int_eq(sb_result_empty(r, "Cc"), SB_OK);
	ck_assert_int_eq(sb_result_str(r, "Body", NULL), SB_OK); /* skipped */
	struct sb_file f = {.name = "a.txt",
			    .content_type = "text/plain",
			    .data = (const unsigned char *)"hello",
			    .size = 5};
	ck_assert_int_eq(sb_result_file(r, "Attachments", &f), SB_OK);
	/* A single property set again is replaced. */
	ck_assert_int_eq(sb_result_str(r, "Subject", "Replaced"), SB_OK);
	ck_assert_int_eq(sb_result_row(r), SB_OK);
	ck_assert_int_eq(sb_result_str(r, "Subject", "Second"), SB_OK);
	ck_assert_int_eq(sb_result_next_page(r, "tok-2"), SB_OK);
	ck_assert(!sb_result_error(r, &err));

	ck_assert_uint_eq(sb_result_n_rows(r), 2);
	const struct sb_cell *cells;
	size_t n = sb_result_row_cells(r, 0, &cells);
	ck_assert_uint_eq(n, 7);
	ck_assert_str_eq(cells[0].name, "Subject");
	ck_assert_str_eq(cells[0].value.items[0].s, "Replaced");
	ck_assert_uint_eq(cells[0].value.count, 1);
	ck_assert(!cells[0].value.multi);
	ck_assert_str_eq(cells[1].name, "To");
	ck_assert(cells[1].value.multi);
	ck_assert_uint_eq(cells[1].value.count, 2);
	ck_assert_str_eq(cells[1].value.items[1].s, "b@example.com");
	ck_assert_str_eq(cells[2].name, "IsRead");
	ck_assert(cells[2].value.items[0].b);
	ck_assert_str_eq(cells[5].name, "Cc");
	ck_assert_uint_eq(cells[5].value.count, 0);
	ck_assert_str_eq(cells[6].name, "Attachments");
	ck_assert_uint_eq(cells[6].value.items[0].f.size, 5);
	ck_assert_str_eq(cells[6].value.items[0].f.name, "a.txt");
	ck_assert_int_eq(memcmp(cells[6].value.items[0].f.data, "hello", 5), 0);
	n = sb_result_row_cells(r, 1, &cells);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(cells[0].value.items[0].s, "Second");
	ck_assert_uint_eq(sb_result_row_cells(r, 2, &cells), 0);
	ck_assert_str_eq(sb_result_page_token(r), "tok-2");
	sb_result_free(r);
}
END_TEST

START_TEST(result_checks_names_and_types)
{
	struct {
		int which;
		const char *needle;
	} cases[] = {
	    {0, "NoSuch is not a property of Email"},
	    {1, "Subject is of type text, cannot be set with a number"},
	    {2, "IsRead is of type boolean, cannot be set with a string"},
	    {3, "Attachments is of type file, cannot be set with a string"},
	    {4, "Sent: datetime value is invalid"},
	    {5, "Importance: enum value is invalid"},
	    {6, "Subject: text value is invalid"},
	    {7, "Subject is not a multi property"},
	    {8, "set before sb_result_row"},
	    {9, "To is of type email, cannot be set with a file"},
	    {10, "Attachments: file Name is invalid: not valid UTF-8"},
	    {11, "Attachments: file Name is invalid: contains a control"},
	    {12, "Attachments: file Name is longer than 255 bytes"},
	    {13, "Attachments: file ContentType must look like "
		 "type/subtype"},
	    {14, "Attachments: file ContentType must look like "
		 "type/subtype"},
	};
	char long_name[300];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb_result *r = sb_result_new(&email, send_m, 0, 0);
		enum sb_status st = SB_OK;
		if (cases[i].which != 8)
			ck_assert_int_eq(sb_result_row(r), SB_OK);
		struct sb_file f = {.name = "x",
				    .content_type = "a/b",
				    .data = (const unsigned char *)"x",
				    .size = 1};
		switch (cases[i].which) {
		case 0:
			st = sb_result_str(r, "NoSuch", "x");
			break;
		case 1:
			st = sb_result_int(r, "Subject", 1);
			break;
		case 2:
			st = sb_result_str(r, "IsRead", "true");
			break;
		case 3:
			st = sb_result_str(r, "Attachments", "x");
			break;
		case 4:
			st = sb_result_str(r, "Sent", "yesterday");
			break;
		case 5:
			st = sb_result_str(r, "Importance", "Urgent");
			break;
		case 6:
			st = sb_result_str(r, "Subject", "a\nb");
			break;
		case 7:
			st = sb_result_empty(r, "Subject");
			break;
		case 8:
			st = sb_result_str(r, "Subject", "x");
			break;
		case 9:
			st = sb_result_file(r, "To", &f);
			break;
		case 10:
			f.name = "caf\xe9.txt"; /* Latin-1, not UTF-8 */
			st = sb_result_file(r, "Attachments", &f);
			break;
		case 11:
			f.name = "a\tb.txt";
			st = sb_result_file(r, "Attachments", &f);
			break;
		case 12:
			f.name = long_name;
			st = sb_result_file(r, "Attachments", &f);
			break;
		case 13:
			f.content_type = "text\nplain";
			st = sb_result_file(r, "Attachments", &f);
			break;
		case 14:
			f.content_type = "t\xc3\xa9xt/plain";
			st = sb_result_file(r, "Attachments", &f);
			break;
		}
		ck_assert_int_eq(st, SB_ERR_INTERNAL);
		ck_assert(sb_result_error(r, &err));
		ck_assert_int_eq(err.status, SB_ERR_INTERNAL);
		ck_assert_msg(strstr(err.message, cases[i].needle) != NULL,
			      "case %zu: '%s' lacks '%s'", i, err.message,
			      cases[i].needle);
		ck_assert_ptr_nonnull(strstr(err.message, "Email.Send"));
		/* The first error sticks: later calls fail with it. */
		ck_assert_int_eq(sb_result_row(r), SB_ERR_INTERNAL);
		ck_assert_int_eq(sb_result_str(r, "Subject", "ok"),
				 SB_ERR_INTERNAL);
		struct sb_error e2;
		sb_result_error(r, &e2);
		ck_assert_str_eq(e2.message, err.message);
		sb_result_free(r);
	}
}
END_TEST

START_TEST(result_caps)
{
	struct sb_result *r = sb_result_new(&email, list_m, 2, 0);
	ck_assert_int_eq(sb_result_row(r), SB_OK);
	ck_assert_int_eq(sb_result_row(r), SB_OK);
	ck_assert_int_eq(sb_result_row(r), SB_ERR_PAYLOAD_TOO_LARGE);
	ck_assert(sb_result_error(r, &err));
	ck_assert_ptr_nonnull(strstr(err.message, "more than 2 rows"));
	sb_result_free(r);

	r = sb_result_new(&email, list_m, 0, 100);
	ck_assert_int_eq(sb_result_row(r), SB_OK);
	char big[200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(sb_result_str(r, "Subject", big),
			 SB_ERR_PAYLOAD_TOO_LARGE);
	ck_assert(sb_result_error(r, &err));
	ck_assert_ptr_nonnull(strstr(err.message, "larger than 100 bytes"));
	sb_result_free(r);

	/* Page tokens only for list methods, and one line of text. */
	r = sb_result_new(&email, send_m, 0, 0);
	ck_assert_int_eq(sb_result_next_page(r, "t"), SB_ERR_INTERNAL);
	sb_result_free(r);
	r = sb_result_new(&email, list_m, 0, 0);
	ck_assert_int_eq(sb_result_next_page(r, "a\nb"), SB_ERR_INTERNAL);
	ck_assert_ptr_null(sb_result_page_token(r));
	sb_result_free(r);
}
END_TEST

START_TEST(result_copies_values)
{
	struct sb_result *r = sb_result_new(&email, list_m, 0, 0);
	char subj[] = "Original";
	unsigned char data[3] = {1, 2, 3};
	char name[] = "n.bin";
	struct sb_file f = {
	    .name = name, .content_type = NULL, .data = data, .size = 3};
	ck_assert_int_eq(sb_result_row(r), SB_OK);
	ck_assert_int_eq(sb_result_str(r, "Subject", subj), SB_OK);
	ck_assert_int_eq(sb_result_file(r, "Attachments", &f), SB_OK);
	ck_assert_int_eq(sb_result_int(r, "Reminder", 5),
			 SB_ERR_INTERNAL); /* not an Email property */
	sb_result_free(r);

	r = sb_result_new(&email, list_m, 0, 0);
	ck_assert_int_eq(sb_result_row(r), SB_OK);
	ck_assert_int_eq(sb_result_str(r, "Subject", subj), SB_OK);
	ck_assert_int_eq(sb_result_file(r, "Attachments", &f), SB_OK);
	/* No name, a UTF-8 name of the longest length. */
	struct sb_file anon = {.data = data, .size = 3};
	ck_assert_int_eq(sb_result_file(r, "Attachments", &anon), SB_OK);
	char longest[256];
	memset(longest, 'n', 255);
	memcpy(longest, "\xc3\xa9t\xc3\xa9", 6);
	longest[255] = '\0';
	struct sb_file lf = {.name = longest, .data = data, .size = 3};
	ck_assert_int_eq(sb_result_file(r, "Attachments", &lf), SB_OK);
	subj[0] = 'X';
	data[0] = 9;
	name[0] = 'z';
	const struct sb_cell *cells;
	ck_assert_uint_eq(sb_result_row_cells(r, 0, &cells), 2);
	ck_assert_str_eq(cells[0].value.items[0].s, "Original");
	ck_assert_int_eq(cells[1].value.items[0].f.data[0], 1);
	ck_assert_str_eq(cells[1].value.items[0].f.name, "n.bin");
	ck_assert_str_eq(cells[1].value.items[0].f.content_type,
			 "application/octet-stream");
	sb_result_free(r);
}
END_TEST

/* An error message with an invalid byte (a broker's or upstream's text)
 * is rendered whole, the byte replaced by U+FFFD; a sequence cut at the
 * end (truncation) is dropped. */
START_TEST(error_json_replaces_invalid_bytes)
{
	struct sb_error e;
	sb_error_clear(&e);
	sb_error_set(&e, SB_ERR_UPSTREAM, "550",
		     "mailbox caf\xe9 unknown, "
		     "try later \xe2\x82\xac");
	char *j = sbc_json_error(&e);
	ck_assert_ptr_nonnull(j);
	ck_assert_msg(strstr(j, "\"mailbox caf\xef\xbf\xbd unknown, try later "
				"\xe2\x82\xac\"") != NULL,
		      "got %s", j);
	free(j);
	sb_error_set(&e, SB_ERR_UPSTREAM, NULL, "cut \xe2\x82");
	j = sbc_json_error(&e);
	ck_assert_msg(strstr(j, "\"message\":\"cut \"") != NULL, "got %s", j);
	free(j);
	sb_error_set(&e, SB_ERR_UPSTREAM, NULL, "\xff\xfe bad \xc0\xaf end");
	j = sbc_json_error(&e);
	ck_assert_msg(strstr(j, "\"\xef\xbf\xbd\xef\xbf\xbd bad "
				"\xef\xbf\xbd\xef\xbf\xbd end\"") != NULL,
		      "got %s", j);
	free(j);
}
END_TEST

static Suite *call_suite(void)
{
	Suite *s = suite_create("call");
	TCase *tc = tcase_create("inputs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, call_identity);
	tcase_add_test(tc, unknown_input_lists_valid_names);
	tcase_add_test(tc, wrong_type_and_format);
	tcase_add_test(tc, enum_lists_choices);
	tcase_add_test(tc, caps_give_payload_too_large);
	tcase_add_test(tc, single_vs_multi);
	tcase_add_test(tc, required_inputs);
	tcase_add_test(tc, typed_getters);
	tcase_add_test(tc, file_names_and_types);
	tcase_add_test(tc, list_page_inputs);
	tcase_add_test(tc, deadline_and_cancel);
	suite_add_tcase(s, tc);
	TCase *tr = tcase_create("results");
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_add_test(tr, result_rows_and_cells);
	tcase_add_test(tr, result_checks_names_and_types);
	tcase_add_test(tr, result_caps);
	tcase_add_test(tr, result_copies_values);
	tcase_add_test(tr, error_json_replaces_invalid_bytes);
	suite_add_tcase(s, tr);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(call_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
