/* exchange-ews broker — EWS ResponseCode -> status.  The table is the one
 * docs/brokers/exchange-ews.md shows; keep the two equal. */
#include "config.h"

#include <string.h>

#include "ews.h"

struct code_map {
	const char *code;
	enum sb_status status;
};

/* Every code the broker can meet with a status other than the default
 * (upstream_error).  Grouped by status; order does not matter. */
static const struct code_map code_table[] = {
    /* 400 invalid_input: ids, ranges and values the server refused */
    {"ErrorInvalidId", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdEmpty", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdMalformed", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdMalformedEwsLegacyIdFormat", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdMonikerTooLong", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdNotAnItemAttachmentId", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdReturnedByResolveNames", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdStoreObjectIdTooLong", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdTooManyAttachmentLevels", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIdXml", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidAttachmentId", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidFolderId", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidChangeKey", SB_ERR_INVALID_INPUT},
    {"ErrorCannotUseFolderIdForItemId", SB_ERR_INVALID_INPUT},
    {"ErrorCannotUseItemIdForFolderId", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidIndexedPagingParameters", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidFractionalPagingParameters", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidPagingMaxRows", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidTimeInterval", SB_ERR_INVALID_INPUT},
    {"ErrorTimeIntervalTooBig", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidMergedFreeBusyInterval", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarViewRangeTooBig", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarEndDateIsEarlierThanStartDate", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidScheduledOofDuration", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidOofParameter", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidUserOofSettings", SB_ERR_INVALID_INPUT},
    {"ErrorValueOutOfRange", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidRecipients", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidSmtpAddress", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidRoutingType", SB_ERR_INVALID_INPUT},
    {"ErrorMissingRecipients", SB_ERR_INVALID_INPUT},
    {"ErrorMissingEmailAddress", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidNameForNameResolution", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidValueForProperty", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidPropertyRequest", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidPropertySet", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidParentFolder", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidOperation", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidRequest", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidArgument", SB_ERR_INVALID_INPUT},
    {"ErrorMissingArgument", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidItemForOperationSendItem", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidItemForOperationCreateItem", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidReferenceItem", SB_ERR_INVALID_INPUT},
    {"ErrorInvalidMailbox", SB_ERR_INVALID_INPUT},
    {"ErrorNonPrimarySmtpAddress", SB_ERR_INVALID_INPUT},
    {"ErrorChangeKeyRequired", SB_ERR_INVALID_INPUT},
    {"ErrorChangeKeyRequiredForWriteOperations", SB_ERR_INVALID_INPUT},
    {"ErrorDeleteDistinguishedFolder", SB_ERR_INVALID_INPUT},
    {"ErrorMoveDistinguishedFolder", SB_ERR_INVALID_INPUT},
    {"ErrorCrossMailboxMoveCopy", SB_ERR_INVALID_INPUT},
    {"ErrorMimeContentInvalid", SB_ERR_INVALID_INPUT},
    {"ErrorTimeZone", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarInvalidTimeZone", SB_ERR_INVALID_INPUT},
    /* a calendar item or series the server cannot keep as given */
    {"ErrorCalendarDurationIsTooLong", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarInvalidRecurrence", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarInvalidDayForWeeklyRecurrence", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarInvalidDayForTimeChangePattern", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarInvalidAttributeValue", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarInvalidPropertyValue", SB_ERR_INVALID_INPUT},
    {"ErrorCalendarOutOfRange", SB_ERR_INVALID_INPUT},
    {"ErrorOccurrenceCrossingBoundary", SB_ERR_INVALID_INPUT},
    {"ErrorOccurrenceTimeSpanTooBig", SB_ERR_INVALID_INPUT},
    {"ErrorRecurrenceEndDateTooBig", SB_ERR_INVALID_INPUT},
    {"ErrorRecurrenceHasNoOccurrence", SB_ERR_INVALID_INPUT},
    {"ErrorUnsupportedCulture", SB_ERR_INVALID_INPUT},
    /* 403 upstream_denied: the account may not act on that mailbox */
    {"ErrorAccessDenied", SB_ERR_UPSTREAM_DENIED},
    {"ErrorAccountDisabled", SB_ERR_UPSTREAM_DENIED},
    {"ErrorImpersonateUserDenied", SB_ERR_UPSTREAM_DENIED},
    {"ErrorImpersonationDenied", SB_ERR_UPSTREAM_DENIED},
    {"ErrorImpersonationFailed", SB_ERR_UPSTREAM_DENIED},
    {"ErrorInvalidExchangeImpersonationHeaderData", SB_ERR_UPSTREAM_DENIED},
    {"ErrorSendAsDenied", SB_ERR_UPSTREAM_DENIED},
    {"ErrorNotDelegate", SB_ERR_UPSTREAM_DENIED},
    {"ErrorDelegateNoUser", SB_ERR_UPSTREAM_DENIED},
    {"ErrorCreateItemAccessDenied", SB_ERR_UPSTREAM_DENIED},
    {"ErrorCreateSubfolderAccessDenied", SB_ERR_UPSTREAM_DENIED},
    {"ErrorNoFreeBusyAccess", SB_ERR_UPSTREAM_DENIED},
    {"ErrorProxyRequestNotAllowed", SB_ERR_UPSTREAM_DENIED},
    {"ErrorUserNotAllowedByPolicy", SB_ERR_UPSTREAM_DENIED},
    {"ErrorOrganizationAccessBlocked", SB_ERR_UPSTREAM_DENIED},
    {"ErrorMessageSubmissionBlocked", SB_ERR_UPSTREAM_DENIED},
    {"ErrorMessageBlocked", SB_ERR_UPSTREAM_DENIED},
    {"ErrorAccountSuspend", SB_ERR_UPSTREAM_DENIED},
    {"ErrorVirusDetected", SB_ERR_UPSTREAM_DENIED},
    /* 404 not_found */
    {"ErrorItemNotFound", SB_ERR_NOT_FOUND},
    {"ErrorFolderNotFound", SB_ERR_NOT_FOUND},
    {"ErrorParentFolderNotFound", SB_ERR_NOT_FOUND},
    {"ErrorToFolderNotFound", SB_ERR_NOT_FOUND},
    {"ErrorSavedItemFolderNotFound", SB_ERR_NOT_FOUND},
    {"ErrorSyncFolderNotFound", SB_ERR_NOT_FOUND},
    {"ErrorManagedFolderNotFound", SB_ERR_NOT_FOUND},
    {"ErrorNonExistentMailbox", SB_ERR_NOT_FOUND},
    {"ErrorMailRecipientNotFound", SB_ERR_NOT_FOUND},
    {"ErrorRecipientNotFound", SB_ERR_NOT_FOUND},
    {"ErrorCannotFindUser", SB_ERR_NOT_FOUND},
    {"ErrorNameResolutionNoResults", SB_ERR_NOT_FOUND},
    {"ErrorNameResolutionNoMailbox", SB_ERR_NOT_FOUND},
    {"ErrorCalendarOccurrenceIsDeletedFromRecurrence", SB_ERR_NOT_FOUND},
    {"ErrorSubscriptionNotFound", SB_ERR_NOT_FOUND},
    {"ErrorEventNotFound", SB_ERR_NOT_FOUND},
    /* 409 conflict: a stale ChangeKey, a name taken */
    {"ErrorIrresolvableConflict", SB_ERR_CONFLICT},
    {"ErrorStaleObject", SB_ERR_CONFLICT},
    {"ErrorFolderExists", SB_ERR_CONFLICT},
    {"ErrorDuplicateInputFolderNames", SB_ERR_CONFLICT},
    {"ErrorManagedFolderAlreadyExists", SB_ERR_CONFLICT},
    {"ErrorObjectTypeChanged", SB_ERR_CONFLICT},
    /* an answer to a cancelled meeting */
    {"ErrorCalendarIsCancelledForAccept", SB_ERR_CONFLICT},
    {"ErrorCalendarIsCancelledForDecline", SB_ERR_CONFLICT},
    {"ErrorCalendarIsCancelledForTentative", SB_ERR_CONFLICT},
    {"ErrorCalendarIsCancelledForRemove", SB_ERR_CONFLICT},
    /* an answer to one's own meeting, a Cancel by an attendee */
    {"ErrorCalendarIsOrganizerForAccept", SB_ERR_CONFLICT},
    {"ErrorCalendarIsOrganizerForDecline", SB_ERR_CONFLICT},
    {"ErrorCalendarIsOrganizerForTentative", SB_ERR_CONFLICT},
    {"ErrorCalendarIsOrganizerForRemove", SB_ERR_CONFLICT},
    {"ErrorCalendarIsNotOrganizer", SB_ERR_CONFLICT},
    /* 413 payload_too_large: size limits */
    {"ErrorMessageSizeExceeded", SB_ERR_PAYLOAD_TOO_LARGE},
    {"ErrorAttachmentSizeLimitExceeded", SB_ERR_PAYLOAD_TOO_LARGE},
    {"ErrorDataSizeLimitExceeded", SB_ERR_PAYLOAD_TOO_LARGE},
    {"ErrorRequestStreamTooBig", SB_ERR_PAYLOAD_TOO_LARGE},
    {"ErrorAttachmentNestLevelLimitExceeded", SB_ERR_PAYLOAD_TOO_LARGE},
    {"ErrorExceededMaxRecipientLimit", SB_ERR_PAYLOAD_TOO_LARGE},
    {"ErrorFreeBusyDLLimitReached", SB_ERR_PAYLOAD_TOO_LARGE},
    {"ErrorExceededMaxRecipientLimitBlock", SB_ERR_PAYLOAD_TOO_LARGE},
    {"ErrorResultSetTooBig", SB_ERR_PAYLOAD_TOO_LARGE},
    /* 429 throttled */
    {"ErrorServerBusy", SB_ERR_THROTTLED},
    {"ErrorExceededConnectionCount", SB_ERR_THROTTLED},
    {"ErrorExceededSubscriptionCount", SB_ERR_THROTTLED},
    {"ErrorExceededFindCountLimit", SB_ERR_THROTTLED},
    {"ErrorTooManyObjectsOpened", SB_ERR_THROTTLED},
    {"ErrorSubmissionQuotaExceeded", SB_ERR_THROTTLED},
    {"ErrorExceededMessageLimit", SB_ERR_THROTTLED},
    /* 503 unavailable: the store or a server on the way is down */
    {"ErrorMailboxStoreUnavailable", SB_ERR_UNAVAILABLE},
    {"ErrorMailboxMoveInProgress", SB_ERR_UNAVAILABLE},
    {"ErrorMailboxFailover", SB_ERR_UNAVAILABLE},
    {"ErrorMailboxLogonFailed", SB_ERR_UNAVAILABLE},
    {"ErrorConnectionFailed", SB_ERR_UNAVAILABLE},
    {"ErrorInternalServerTransientError", SB_ERR_UNAVAILABLE},
    {"ErrorInsufficientResources", SB_ERR_UNAVAILABLE},
    {"ErrorNotEnoughMemory", SB_ERR_UNAVAILABLE},
    {"ErrorADUnavailable", SB_ERR_UNAVAILABLE},
    {"ErrorNoRespondingCASInDestinationSite", SB_ERR_UNAVAILABLE},
    {"ErrorNoApplicableProxyCASServersAvailable", SB_ERR_UNAVAILABLE},
    {"ErrorProxyCallFailed", SB_ERR_UNAVAILABLE},
    {"ErrorRequestAborted", SB_ERR_UNAVAILABLE},
    /* 504 timeout */
    {"ErrorTimeoutExpired", SB_ERR_TIMEOUT},
    /* 507 quota_exceeded */
    {"ErrorQuotaExceeded", SB_ERR_QUOTA},
    {"ErrorFolderSaveFailed", SB_ERR_QUOTA},
    {"ErrorMessagePerFolderCountReceiveQuotaExceeded", SB_ERR_QUOTA},
    {"ErrorIndividualMailboxLimitReached", SB_ERR_QUOTA},
    {"ErrorRulesOverQuota", SB_ERR_QUOTA},
    /* 502 upstream_auth: the server refused the broker's own identity */
    {"ErrorInvalidLicense", SB_ERR_UPSTREAM_AUTH},
    {"ErrorPasswordExpired", SB_ERR_UPSTREAM_AUTH},
    {"ErrorPasswordChangeRequired", SB_ERR_UPSTREAM_AUTH},
    {"ErrorInvalidClientSecurityContext", SB_ERR_UPSTREAM_AUTH},
    {"ErrorNoOAuthServerAvailableForRequest", SB_ERR_UPSTREAM_AUTH},
};

enum sb_status ews_code_status(const char *response_code)
{
	if (!response_code || !*response_code ||
	    strcmp(response_code, "NoError") == 0)
		return SB_OK;
	for (size_t i = 0; i < sizeof(code_table) / sizeof(code_table[0]); i++)
		if (strcmp(code_table[i].code, response_code) == 0)
			return code_table[i].status;
	return SB_ERR_UPSTREAM;
}

size_t ews_code_table(const char **codes, enum sb_status *statuses, size_t max)
{
	size_t n = sizeof(code_table) / sizeof(code_table[0]);
	for (size_t i = 0; i < n && i < max; i++) {
		if (codes)
			codes[i] = code_table[i].code;
		if (statuses)
			statuses[i] = code_table[i].status;
	}
	return n;
}
