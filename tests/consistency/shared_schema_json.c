/* Print the shared concept tables of <svcbroker/schema.h> as JSON, so the
 * consistency tests compare what brokers publish against the real tables
 * (not a copy of them):
 *
 *   {"Email": [{"name": "Id", "type": "text", "multi": false,
 *               "choices": null, "doc": "..."}, ...], ...}
 *
 * Exit status 1 if a table entry has a type without a name. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>

#include <svcbroker/schema.h>

static void put_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static bool put_table(const char *object, const struct sb_property *table,
		      bool first)
{
	bool ok = true;
	printf("%s\n  ", first ? "" : ",");
	put_string(object);
	printf(": [");
	for (const struct sb_property *p = table; p->name; p++) {
		const char *type = sb_type_name(p->type);
		if (!type) {
			fprintf(stderr, "%s.%s: type %d has no name\n", object,
				p->name, (int)p->type);
			ok = false;
			type = "";
		}
		printf("%s\n    {\"name\": ", p == table ? "" : ",");
		put_string(p->name);
		printf(", \"type\": ");
		put_string(type);
		printf(", \"multi\": %s, \"choices\": ",
		       (p->flags & SB_MULTI) ? "true" : "false");
		if (p->type == SB_TYPE_ENUM) {
			putchar('[');
			for (size_t i = 0; p->choices && p->choices[i]; i++) {
				if (i)
					printf(", ");
				put_string(p->choices[i]);
			}
			putchar(']');
		} else {
			printf("null");
		}
		printf(", \"doc\": ");
		if (p->doc)
			put_string(p->doc);
		else
			printf("null");
		putchar('}');
	}
	printf("\n  ]");
	return ok;
}

int main(void)
{
	bool ok = true;
	putchar('{');
	ok &= put_table(SB_OBJ_EMAIL, sb_email_properties, true);
	ok &= put_table(SB_OBJ_APPOINTMENT, sb_appointment_properties, false);
	ok &= put_table(SB_OBJ_MEETING, sb_meeting_properties, false);
	ok &= put_table(SB_OBJ_MEETING_ATTENDEE, sb_meeting_attendee_properties,
			false);
	ok &= put_table(SB_OBJ_TASK, sb_task_properties, false);
	ok &= put_table(SB_OBJ_FOLDER, sb_folder_properties, false);
	printf("\n}\n");
	return ok && fflush(stdout) == 0 ? 0 : 1;
}
