/* The shared concept tables (Email, Appointment, Meeting, MeetingAttendee,
 * Task, Folder), so every broker publishing one of them publishes the same
 * names and types. */
#include "config.h"

#include <string.h>

#include <svcbroker/schema.h>

const char *const sb_importance_choices[] = {"Low", "Normal", "High", NULL};

const char *const sb_task_status_choices[] = {"NotStarted", "InProgress",
					      "Completed",  "WaitingOnOthers",
					      "Deferred",   NULL};

const char *const sb_response_status_choices[] = {
    "Unknown", "Organizer",	     "Tentative", "Accept",
    "Decline", "NoResponseReceived", NULL};

const char *const sb_attendee_kind_choices[] = {"Required", "Optional",
						"Resource", NULL};

#define P(n, t, fl, d)                                                         \
	{                                                                      \
		.name = (n), .type = (t), .flags = (fl), .choices = NULL,      \
		.doc = (d)                                                     \
	}
#define PE(n, ch, d)                                                           \
	{                                                                      \
		.name = (n), .type = SB_TYPE_ENUM, .flags = 0,                 \
		.choices = (ch), .doc = (d)                                    \
	}

const struct sb_property sb_email_properties[] = {
    P("Id", SB_TYPE_TEXT, 0,
      "Opaque identifier of the message, stable for the life of the item."),
    P("ChangeKey", SB_TYPE_TEXT, 0,
      "Opaque version of the message; changes whenever the item changes."),
    P("Folder", SB_TYPE_TEXT, 0,
      "Identifier or well-known name of the folder holding the message."),
    P("From", SB_TYPE_EMAIL, 0, "Address of the sender."),
    P("To", SB_TYPE_EMAIL, SB_MULTI, "Addresses of the primary recipients."),
    P("Cc", SB_TYPE_EMAIL, SB_MULTI,
      "Addresses of the carbon-copy recipients."),
    P("Bcc", SB_TYPE_EMAIL, SB_MULTI,
      "Addresses of the blind carbon-copy recipients, hidden from the "
      "others."),
    P("ReplyTo", SB_TYPE_EMAIL, SB_MULTI,
      "Addresses that replies should go to instead of the sender."),
    P("Subject", SB_TYPE_TEXT, 0, "Subject line of the message."),
    P("Body", SB_TYPE_MEMO, 0, "Plain-text body of the message."),
    P("HtmlBody", SB_TYPE_MEMO, 0, "HTML body of the message."),
    PE("Importance", sb_importance_choices,
       "Importance the sender gave the message: Low, Normal or High."),
    P("Sent", SB_TYPE_DATETIME, 0, "Date and time the message was sent."),
    P("Received", SB_TYPE_DATETIME, 0,
      "Date and time the message reached the mailbox."),
    P("IsRead", SB_TYPE_BOOLEAN, 0,
      "Whether the message has been marked as read."),
    P("HasAttachments", SB_TYPE_BOOLEAN, 0,
      "Whether the message carries at least one attachment."),
    P("Attachments", SB_TYPE_FILE, SB_MULTI, "Files attached to the message."),
    P("MessageId", SB_TYPE_TEXT, 0,
      "Internet Message-ID header of the message, with angle brackets."),
    P("Accepted", SB_TYPE_EMAIL, SB_MULTI,
      "Recipient addresses the server accepted for delivery."),
    P("Rejected", SB_TYPE_TEXT, SB_MULTI,
      "Recipients the server refused, each as \"address: server reply\"."),
    SB_PROPERTY_END,
};

/* Appointment's properties, in order: Meeting starts with them. */
#define APPOINTMENT_PROPERTIES(what)                                           \
	P("Id", SB_TYPE_TEXT, 0,                                               \
	  "Opaque identifier of the " what ", stable for the life of the "     \
	  "item."),                                                            \
	    P("ChangeKey", SB_TYPE_TEXT, 0,                                    \
	      "Opaque version of the " what "; changes whenever the item "     \
	      "changes."),                                                     \
	    P("Subject", SB_TYPE_TEXT, 0, "Title of the " what "."),           \
	    P("Body", SB_TYPE_MEMO, 0,                                         \
	      "Plain-text description of the " what "."),                      \
	    P("Location", SB_TYPE_TEXT, 0, "Where the " what " takes place."), \
	    P("Start", SB_TYPE_DATETIME, 0,                                    \
	      "Date and time the " what " starts (of a series: its first "     \
	      "occurrence)."),                                                 \
	    P("End", SB_TYPE_DATETIME, 0,                                      \
	      "Date and time the " what " ends (of a series: its first "       \
	      "occurrence)."),                                                 \
	    P("TimeZone", SB_TYPE_TEXT, 0,                                     \
	      "IANA or Windows name of the time zone the " what " was "        \
	      "planned in."),                                                  \
	    P("IsAllDay", SB_TYPE_BOOLEAN, 0,                                  \
	      "Whether the " what " lasts whole days rather than set hours."), \
	    P("Reminder", SB_TYPE_NUMBER, 0,                                   \
	      "Minutes before the start at which a reminder is shown."),       \
	    P("Categories", SB_TYPE_TEXT, SB_MULTI,                            \
	      "Category names the " what " is filed under."),                  \
	    P("Recurrence", SB_TYPE_TEXT, 0,                                   \
	      "How the " what " repeats: one RFC 5545 RRULE value (FREQ "      \
	      "DAILY, WEEKLY, MONTHLY or YEARLY; INTERVAL, BYDAY, "            \
	      "BYMONTHDAY, BYMONTH, BYSETPOS; COUNT or UNTIL), e.g. "          \
	      "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10; empty when it does not "      \
	      "repeat.")

const struct sb_property sb_appointment_properties[] = {
    APPOINTMENT_PROPERTIES("appointment"),
    SB_PROPERTY_END,
};

const struct sb_property sb_meeting_properties[] = {
    APPOINTMENT_PROPERTIES("meeting"),
    P("Organizer", SB_TYPE_EMAIL, 0,
      "Address of the mailbox that organizes the meeting."),
    P("RequiredAttendees", SB_TYPE_EMAIL, SB_MULTI,
      "Addresses of the attendees whose presence is required."),
    P("OptionalAttendees", SB_TYPE_EMAIL, SB_MULTI,
      "Addresses of the attendees whose presence is optional."),
    P("Resources", SB_TYPE_EMAIL, SB_MULTI,
      "Addresses of the rooms and equipment booked for the meeting."),
    PE("ResponseStatus", sb_response_status_choices,
       "The mailbox's own answer to the meeting: Organizer when it "
       "organizes it, else Unknown, Tentative, Accept, Decline or "
       "NoResponseReceived."),
    SB_PROPERTY_END,
};

const struct sb_property sb_meeting_attendee_properties[] = {
    P("Email", SB_TYPE_EMAIL, 0, "Address of the attendee."),
    PE("Kind", sb_attendee_kind_choices,
       "How the attendee was invited: Required, Optional or Resource."),
    PE("ResponseStatus", sb_response_status_choices,
       "The attendee's last answer: Unknown, Organizer, Tentative, "
       "Accept, Decline or NoResponseReceived."),
    P("LastResponseTime", SB_TYPE_DATETIME, 0,
      "Date and time of the attendee's last answer; empty before any."),
    SB_PROPERTY_END,
};

const struct sb_property sb_task_properties[] = {
    P("Id", SB_TYPE_TEXT, 0,
      "Opaque identifier of the task, stable for the life of the item."),
    P("ChangeKey", SB_TYPE_TEXT, 0,
      "Opaque version of the task; changes whenever the item changes."),
    P("Subject", SB_TYPE_TEXT, 0, "Title of the task."),
    P("Body", SB_TYPE_MEMO, 0, "Plain-text description of the task."),
    P("StartDate", SB_TYPE_DATE, 0, "Date work on the task starts."),
    P("DueDate", SB_TYPE_DATE, 0, "Date the task is due."),
    PE("Status", sb_task_status_choices,
       "Progress state of the task, from NotStarted to Completed."),
    P("PercentComplete", SB_TYPE_NUMBER, 0,
      "How much of the task is done, from 0 to 100."),
    PE("Importance", sb_importance_choices,
       "Importance of the task: Low, Normal or High."),
    P("Owner", SB_TYPE_TEXT, 0, "Name of the person responsible for the task."),
    SB_PROPERTY_END,
};

const struct sb_property sb_folder_properties[] = {
    P("Id", SB_TYPE_TEXT, 0,
      "Opaque identifier of the folder, stable for the life of the "
      "folder."),
    P("Name", SB_TYPE_TEXT, 0, "Display name of the folder."),
    P("Parent", SB_TYPE_TEXT, 0, "Identifier of the folder's parent folder."),
    P("TotalCount", SB_TYPE_NUMBER, 0, "Number of items in the folder."),
    P("UnreadCount", SB_TYPE_NUMBER, 0,
      "Number of unread items in the folder."),
    SB_PROPERTY_END,
};

const struct sb_property *sb_property_find(const struct sb_property *table,
					   const char *name)
{
	if (!table || !name)
		return NULL;
	for (size_t i = 0; table[i].name; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}
