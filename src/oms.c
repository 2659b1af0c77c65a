/*-------------------------------------------------------------------------
 *
 * oms.c
 *	  Module entry point of the oms extension: module magic, _PG_init and
 *	  the GUCs shared by every area.
 *
 *	  Each business area lives in its own pair of files, src/<area>.c beside
 *	  src/<area>.sql; this file only holds what belongs to the module as a
 *	  whole.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "oms.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Module load: reserve the "oms." GUC prefix so that a typo such as
 * SET oms.defualt_hold_minutes is reported instead of silently accepted.
 */
void
_PG_init(void)
{
	MarkGUCPrefixReserved("oms");
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
