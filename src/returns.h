/*-------------------------------------------------------------------------
 *
 * returns.h
 *	  Private declarations of the returns subsystem: what returns.c gives
 *	  to the phases of an RMA (rma_create.c, rma_receive.c, rma_refund.c).
 *	  Nothing here is called from outside returns.
 *
 *	  RmaLock takes the order row first, then the RMA row: the lock order
 *	  of the claim rule in the banner of returns.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMS_RETURNS_H
#define OMS_RETURNS_H

#include "utils/jsonb.h"

/* An order line of the order, for RMA lines: by line_no or by sku. */
typedef struct RmaLine
{
	int64		id;
	int32		line_no;
	char	   *sku;
	char		kind;
	int32		shipped;
	int32		claimable;		/* shipped less other RMAs' claims */
	int32		open;			/* this RMA: requested less received (receive_rma) */
	int64		rma_line_id;
	/* from the request */
	int32		qty;
	int32		restocked;
	int32		damaged;
	int32		missing;
	char	   *reason;
} RmaLine;

/* the error for an RMA id that does not exist (22023) */
extern void RmaNotFound(int64 rma_id) pg_attribute_noreturn();
/* lock the RMA's order (and write it), then the RMA; its status and resolution */
extern int64 RmaLock(int64 rma_id, char **status, char **resolution);
/* the RMA document (jsonb in the caller's SPI memory), extra keys merged */
extern Datum RmaDocument(int64 rma_id, const char *extra_json);
/* the index in lines of the order line a request entry names */
extern int	RmaFindLine(RmaLine *lines, int n, JsonbContainer *l, const char *path, int64 order_id);
/* the order's lines with shipped units and claims (and this RMA's open units) */
extern RmaLine *RmaLoadLines(int64 order_id, int64 rma_id, int *n);
/* an rma_* event: {"rma_id": ..., extra} */
extern void RmaEvent(const char *kind, int64 order_id, int64 rma_id, const char *extra);

#endif							/* OMS_RETURNS_H */
