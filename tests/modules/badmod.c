/* Modules the host must refuse, one defect each; the variant is chosen by
 * a BADMOD_* macro (see modules.am and README.md). */
#include <svcbroker/broker.h>

static enum sb_status badmod_open(const struct sb_host *host,
				  const void *config, void **state,
				  struct sb_error *err)
{
	*state = NULL;
	return SB_OK;
}

#ifdef BADMOD_UNDEF
/* Defined nowhere: the module links (without -Wl,--no-undefined) and a
 * lazily bound load would succeed, failing only at the first call. */
extern void badmod_no_such_function(void);
#endif

static enum sb_status badmod_do(void *state, const struct sb_call *call,
				struct sb_result *result, struct sb_error *err)
{
#ifdef BADMOD_UNDEF
	badmod_no_such_function();
#endif
	return sb_error_set(err, SB_ERR_INTERNAL, NULL, "not reachable");
}

static void badmod_close(void *state) {}

static const struct sb_property thing_properties[] = {
    {.name = "Value", .type = SB_TYPE_TEXT, .doc = "A value."},
    SB_PROPERTY_END,
};
static const struct sb_method thing_methods[] = {
#ifdef BADMOD_TABLES
    {.name = "Do", .kind = SB_KIND_EXECUTE, .handler = badmod_do}, /* no doc */
#else
    {.name = "Do",
     .kind = SB_KIND_EXECUTE,
     .handler = badmod_do,
     .doc = "Does nothing."},
#endif
    SB_METHOD_END,
};
static const struct sb_object badmod_objects[] = {
    {.name = "Thing",
     .doc = "A thing.",
     .properties = thing_properties,
     .methods = thing_methods},
    SB_OBJECT_END,
};

#ifndef BADMOD_NAME_STR
#error "BADMOD_NAME_STR must name the module"
#endif

#ifdef BADMOD_NOSYM
/* The descriptor exists but under another name, so the module exports no
 * svcbroker_broker. */
#define BADMOD_SYMBOL svcbroker_broker_v1
#else
#define BADMOD_SYMBOL svcbroker_broker
#endif

#ifdef BADMOD_MAGIC
#define BADMOD_MAGIC_V 0xdeadbeefu
#else
#define BADMOD_MAGIC_V SB_BROKER_MAGIC
#endif
#ifdef BADMOD_MAJOR
#define BADMOD_MAJOR_V (SB_ABI_MAJOR + 1)
#elif defined(BADMOD_OLD)
#define BADMOD_MAJOR_V (SB_ABI_MAJOR - 1) /* built for the 1.x contract */
#else
#define BADMOD_MAJOR_V SB_ABI_MAJOR
#endif
#ifdef BADMOD_MINOR
#define BADMOD_MINOR_V (SB_ABI_MINOR + 1)
#else
#define BADMOD_MINOR_V SB_ABI_MINOR
#endif
#ifdef BADMOD_SIZE
#define BADMOD_SIZE_V offsetof(struct sb_broker, close)
#else
#define BADMOD_SIZE_V sizeof(struct sb_broker)
#endif
#ifdef BADMOD_NAME
#define BADMOD_NAME_V "othername"
#else
#define BADMOD_NAME_V BADMOD_NAME_STR
#endif

extern const struct sb_broker BADMOD_SYMBOL;
SB_EXPORT const struct sb_broker BADMOD_SYMBOL = {
    .magic = BADMOD_MAGIC_V,
    .abi_major = BADMOD_MAJOR_V,
    .abi_minor = BADMOD_MINOR_V,
    .struct_size = BADMOD_SIZE_V,
    .name = BADMOD_NAME_V,
    .version = "0",
    .summary = "A module the host must refuse.",
    .objects = badmod_objects,
    .open = badmod_open,
    .close = badmod_close,
};
