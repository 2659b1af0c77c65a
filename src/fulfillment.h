/*-------------------------------------------------------------------------
 *
 * fulfillment.h
 *	  Private declarations of the fulfillment subsystem: the helpers that
 *	  fulfillment.c gives to the other files of shipments
 *	  (shipment_create.c, ship.c, fulfillment_reject.c). The functions other
 *	  areas call (FulfillmentCancelOrder, FulfillmentShipmentNotFound) are
 *	  in oms.h.
 *
 *	  Every function here runs inside the caller's SPI connection and, where
 *	  it locks, follows the order described in the banner of fulfillment.c:
 *	  the order row first, then the shipment, then order lines, then balance
 *	  rows in (product, location) order.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OMS_FULFILLMENT_H
#define OMS_FULFILLMENT_H

#include "fmgr.h"

/* an identifier argument: 1 to maxlen characters, no control character (22023) */
extern char *FfTextArg(FunctionCallInfo fcinfo, int argno, const char *name, int maxlen);
/* a location by code; 22023 when there is no such location */
extern int32 FfLocation(const char *location);

/*
 * Lock the shipment's order, then the shipment. Returns the order id, the
 * shipment's status and location, the order's status, and (held_from not
 * NULL) the status a hold on the order returns to, NULL when not held.
 */
extern int64 FfLockShipment(int64 shipment_id, char **status, int32 *location_id,
							char **order_status, char **held_from);

/* the shipment document (jsonb in the caller's SPI memory), extra keys merged */
extern Datum FfDocument(int64 shipment_id, const char *extra_json);

/*
 * Is the order (status) in fulfillment: at or past the status
 * create_shipment moves it to? See the comment in fulfillment.c.
 */
extern bool FfInFulfillment(const char *status);

/* shipment_cancelled for each shipment id the last statement returned */
extern void FfCancelledEvents(int64 order_id, const char *reason);

/*
 * After shipments were cancelled: an order in fulfillment with no shipment
 * left that is not cancelled goes back to confirmed.
 */
extern void FfBackToConfirmed(int64 order_id, const char *status, const char *why);

/* ship.c: a pending shipment handed to the customer (counter or pickup), no carrier */
extern void FfHandOver(int64 shipment_id, const char *handover);

#endif							/* OMS_FULFILLMENT_H */
