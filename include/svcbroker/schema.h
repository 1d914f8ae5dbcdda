/* svcbroker — shared concept tables.
 *
 * Where several brokers publish one concept (Email, Appointment, Meeting,
 * MeetingAttendee, Task, Folder) they use these property tables, so a client
 * can move from one instance to another without change.  Defined once in
 * libsvcbroker; a test keeps every broker's objects of these names equal to
 * them.
 */
#ifndef SVCBROKER_SCHEMA_H
#define SVCBROKER_SCHEMA_H

#include <svcbroker/broker.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Enum choice sets (NULL-terminated). */
extern const char *const sb_importance_choices[]; /* Low, Normal, High */
extern const char
    *const sb_task_status_choices[]; /* NotStarted, InProgress,
					Completed, WaitingOnOthers,
					Deferred */
/* A meeting's answer, the mailbox's own (Meeting.ResponseStatus) or an
 * attendee's: Unknown, Organizer, Tentative, Accept, Decline,
 * NoResponseReceived (EWS's ResponseTypeType). */
extern const char *const sb_response_status_choices[];
/* How an attendee was invited: Required, Optional, Resource. */
extern const char *const sb_attendee_kind_choices[];

/* Property tables (SB_PROPERTY_END-terminated).
 *
 * Appointment: Id, ChangeKey, Subject, Body, Location, Start, End,
 * TimeZone, IsAllDay, Reminder, Categories, Recurrence.  Recurrence is one
 * RFC 5545 RRULE value, empty when the item does not repeat; check an
 * input with sb_rrule_check (<svcbroker/rrule.h>).  ChangeKey changes with
 * every change of the item; an update given a stale one answers
 * SB_ERR_CONFLICT.
 *
 * Meeting: Appointment's properties in the same order, then Organizer,
 * RequiredAttendees, OptionalAttendees, Resources (email; the three lists
 * multi) and ResponseStatus (sb_response_status_choices).
 *
 * MeetingAttendee: Email, Kind (sb_attendee_kind_choices), ResponseStatus,
 * LastResponseTime (datetime).
 *
 * Task: Id, ChangeKey, Subject, Body, StartDate, DueDate, Status,
 * PercentComplete, Importance, Owner. */
extern const struct sb_property sb_email_properties[];
extern const struct sb_property sb_appointment_properties[];
extern const struct sb_property sb_meeting_properties[];
extern const struct sb_property sb_meeting_attendee_properties[];
extern const struct sb_property sb_task_properties[];
extern const struct sb_property sb_folder_properties[];

/* The shared object names. */
#define SB_OBJ_EMAIL "Email"
#define SB_OBJ_APPOINTMENT "Appointment"
#define SB_OBJ_MEETING "Meeting"
#define SB_OBJ_MEETING_ATTENDEE "MeetingAttendee"
#define SB_OBJ_TASK "Task"
#define SB_OBJ_FOLDER "Folder"

/* The optional "Mailbox" input every mailbox method declares (act as /
 * impersonate that mailbox). Use as an element of a method's inputs. */
#define SB_PARAM_MAILBOX                                                       \
	{                                                                      \
		.name = "Mailbox", .type = SB_TYPE_EMAIL, .flags = 0,          \
		.doc = "Act on this mailbox instead of the instance's own."    \
	}

/* Look a property up in a table by name; NULL if absent. */
const struct sb_property *sb_property_find(const struct sb_property *table,
					   const char *name);

#ifdef __cplusplus
}
#endif
#endif
