/*-------------------------------------------------------------------------
 *
 * zpl.c
 *	  The one ZPL label writer, ZplLabel(): shipping labels (documents.c)
 *	  and return labels (returns.c) are both written by it. It only formats
 *	  the strings it is given: no SQL, no other oms file, so every area may
 *	  call it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "oms.h"

/*
 * ZPL field data: ^ and ~ are commands and _ is the ^FH escape character,
 * so each is written as its hex escape; a newline becomes a field-block
 * line break (\&), and a backslash is escaped so that "\&" in the data
 * cannot break a line. Text is UTF-8 (^CI28).
 */
static void
ZplText(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '^':
				appendStringInfoString(buf, "_5E");
				break;
			case '~':
				appendStringInfoString(buf, "_7E");
				break;
			case '_':
				appendStringInfoString(buf, "_5F");
				break;
			case '\\':
				appendStringInfoString(buf, "_5C");
				break;
			case '\n':
				appendStringInfoString(buf, "\\&");
				break;
			case '\r':
				break;
			default:
				appendStringInfoChar(buf, *s);
		}
	}
}

/*
 * The one ZPL label writer: a 4x6 in label at 203 dpi with sender,
 * recipient (multi-line text), carrier and service, a reference line, and
 * the tracking number as a Code 128 barcode with its text.
 */
char *
ZplLabel(const char *title, const char *from, const char *to, const char *carrier,
		 const char *service, const char *tracking, const char *reference)
{
	StringInfoData z;

	initStringInfo(&z);
	appendStringInfoString(&z, "^XA\n^CI28\n^PW812\n^LL1218\n^LH0,0\n");
	appendStringInfoString(&z, "^FO40,30^A0N,34,34^FH^FD");
	ZplText(&z, title);
	appendStringInfoString(&z, "^FS\n^FO40,80^A0N,24,24^FDFROM^FS\n^FO40,110^A0N,28,28^FB730,5,4,L^FH^FD");
	ZplText(&z, from);
	appendStringInfoString(&z, "^FS\n^FO30,290^GB752,4,4^FS\n^FO40,310^A0N,24,24^FDSHIP TO^FS\n");
	appendStringInfoString(&z, "^FO40,345^A0N,38,38^FB730,7,4,L^FH^FD");
	ZplText(&z, to);
	appendStringInfoString(&z, "^FS\n^FO30,650^GB752,4,4^FS\n^FO40,675^A0N,48,48^FH^FD");
	ZplText(&z, carrier);
	appendStringInfoString(&z, " ");
	ZplText(&z, service);
	appendStringInfoString(&z, "^FS\n^FO40,740^A0N,28,28^FH^FD");
	ZplText(&z, reference);
	appendStringInfoString(&z, "^FS\n^FO60,800^BY3,3,200^BCN,200,Y,N,N^FH^FD");
	ZplText(&z, tracking);
	appendStringInfoString(&z, "^FS\n^FO30,1080^GB752,4,4^FS\n^FO40,1100^A0N,28,28^FH^FDTracking: ");
	ZplText(&z, tracking);
	appendStringInfoString(&z, "^FS\n^XZ\n");
	return z.data;
}
