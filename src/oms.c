/*-------------------------------------------------------------------------
 *
 * oms.c
 *	  Module entry point of the oms extension: module magic, _PG_init and
 *	  the GUCs shared by every area.
 *
 *	  Each business area lives in its own pair of files, src/<area>.c beside
 *	  src/<area>.sql; the shared helpers sit at the bottom of the call graph
 *	  (spi.c, balance_guard.c, card_guard.c, json.c). This file only holds
 *	  what belongs to the module as a whole, and is the top of the graph:
 *	  it calls each area's Init and no other file calls into it. The GUC
 *	  variables oms_notify_events and oms_event_redelivery_seconds live in
 *	  events.c, which reads them, and oms_hold_minutes in order_place.c:
 *	  each GUC variable lives in the file that reads it, so no file calls
 *	  up into this one. oms.malloc_trim_threshold is read here only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "oms.h"

/* the version comes from oms.control, through the Makefile */
#ifndef OMS_VERSION_STR
#error "OMS_VERSION_STR is not defined: build with the Makefile (it passes default_version of oms.control)"
#endif

PG_MODULE_MAGIC;

void		_PG_init(void);

/* GUC oms.malloc_trim_threshold, in kB; -1 restores the C library's defaults */
static int	oms_malloc_trim_threshold = 32768;

/*
 * Apply oms.malloc_trim_threshold to the C library's allocator of this
 * backend. With glibc's defaults a backend gives free memory at the top of
 * its heap back to the kernel once it exceeds 128 kB, and serves blocks of
 * 128 kB or more with mmap: the executor state, SPI plans and memory
 * contexts of one place_order call go back and forth between the kernel
 * and the process on every call (brk, page faults, TLB flushes: about 9%
 * of the backend's CPU per order on the 2-core bench machine). Kept
 * free memory is reused by the next call instead. The mmap threshold
 * follows the trim threshold (at most 32 MB, the C library's limit) so
 * that large blocks come from the heap too; the top pad is 1 MB at most.
 * Without glibc (no <malloc.h>, no M_TRIM_THRESHOLD) it does nothing.
 */
static void
oms_malloc_assign(int newval, void *extra)
{
#ifdef M_TRIM_THRESHOLD
	static bool applied = false;
	long		bytes = (long) newval * 1024L;

	(void) extra;

	if (newval < 0)
	{
		/*
		 * The boot value was applied when the GUC was defined: go back to
		 * the C library's documented defaults (128 kB each; its sliding
		 * mmap threshold stays off once set).
		 */
		if (!applied)
			return;
		bytes = 128L * 1024L;
	}
	(void) mallopt(M_TOP_PAD, (int) Min(bytes, 1024L * 1024L));
	(void) mallopt(M_MMAP_THRESHOLD, (int) Min(Max(bytes, 128L * 1024L), 32L * 1024L * 1024L));
	(void) mallopt(M_TRIM_THRESHOLD, (int) bytes);
	applied = newval >= 0;
#else
	(void) newval;
	(void) extra;
#endif
}

/*
 * Each release builds its own library, oms-<version>.so (Makefile,
 * README "Upgrading"), so a database still on the previous version keeps
 * its library until ALTER EXTENSION oms UPDATE. A session that loaded one
 * version's library cannot load another's: both define the same GUCs and
 * the server would refuse the second definition with a confusing message.
 * This happens in the session that runs ALTER EXTENSION oms UPDATE after
 * calling oms functions; it is refused here with a clear one, before
 * anything is defined.
 */
static void
RefuseSecondLibrary(void)
{
	if (GetConfigOption("oms.hold_minutes", true, false) != NULL &&
		(GetConfigOptionFlags("oms.hold_minutes", true) & GUC_CUSTOM_PLACEHOLDER) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("another version of the oms library is already loaded in this session"),
				 errdetail("This session loaded it before the extension was updated; the oms %s library cannot be loaded beside it.",
						   OMS_VERSION_STR),
				 errhint("Reconnect, then run the statement again (run ALTER EXTENSION oms UPDATE in a new session).")));
}

/*
 * Module load: define the GUCs, reserve the "oms." prefix so that a typo
 * such as SET oms.hold_minuts is reported instead of silently accepted, and
 * let each area that keeps backend state register its callbacks.
 */
void
_PG_init(void)
{
	RefuseSecondLibrary();
	DefineCustomIntVariable("oms.hold_minutes",
							"Minutes the reservations of an unpaid order are held.",
							"Used when neither the order nor its channel sets hold_minutes; 0 holds until paid or cancelled.",
							&oms_hold_minutes,
							60, 0, 525600,
							PGC_USERSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("oms.notify_events",
							 "Send NOTIFY oms_events for every outbox event.",
							 "Off by default: NOTIFY serializes commits. Consumers can poll oms.read_events instead.",
							 &oms_notify_events,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("oms.event_redelivery_seconds",
							"Seconds after which an unacknowledged batch of events is delivered again.",
							NULL,
							&oms_event_redelivery_seconds,
							300, 1, 86400,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("oms.pickup_expiry_days",
							"Days a pickup waits at its store before oms.expire_pickups() releases it.",
							"Counted from oms.ready_for_pickup; 0 never releases uncollected pickups.",
							&oms_pickup_expiry_days,
							7, 0, 365,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("oms.malloc_trim_threshold",
							"Free memory a backend keeps from the operating system between calls.",
							"glibc's M_TRIM_THRESHOLD (and, capped, M_MMAP_THRESHOLD and M_TOP_PAD) for backends that loaded oms; -1 restores the C library's defaults.",
							&oms_malloc_trim_threshold,
							32768, -1, 1048576,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, oms_malloc_assign, NULL);
	DefineCustomIntVariable("oms.follow_up_days",
							"Days after delivery that oms.send_follow_ups() emits an order's order_follow_up event.",
							"0 turns the follow-up off.",
							&oms_follow_up_days,
							7, 0, 3650,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	PurchasingInit();
	MarkGUCPrefixReserved("oms");
	BalanceGuardInit();
	LifecycleInit();
	RouteInit();
}

PG_FUNCTION_INFO_V1(oms_version);
/*
 * oms.version(): version string of the loaded shared library.
 */
Datum
oms_version(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	PG_RETURN_TEXT_P(cstring_to_text(OMS_VERSION_STR));
}

