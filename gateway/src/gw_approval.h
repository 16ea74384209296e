/* gw_approval.h -- the approve transaction an `issue` names (PROTOCOL.md 4.1
 * `document.approval_txn`; REGULATION.md C1, C5, D9): what the stored row says about it, as
 * policy's input, and the document's own state. Pure: no loop, no database. */
#ifndef GW_APPROVAL_H
#define GW_APPROVAL_H

#include <stdbool.h>

#include <kyso/db.h>
#include <kyso/pol.h>

struct gw_approval {
	bool found;       /* a txn with that id exists */
	bool approve;     /* it was accepted in mode approve, so it passed A3/C8 then */
	bool valid;       /* it ended DONE with 502 (a verified signature) */
	char org[64];     /* document.org it was accepted for */
	char digest[192]; /* document.digest (base64) as accepted */
};

/* Facts from the row db_txn_get returned (n == 0: row NULL, not found). The mode and digest
 * come from the request the txn was accepted with. */
void gw_approval_from_row(const struct db_txn_row *row, struct gw_approval *out);

/* Policy's view (pol_document.approval): NULL when no txn was found, which C5 denies. */
const struct pol_approval *gw_approval_pol(const struct gw_approval *a, struct pol_approval *out);

/* The document's state as the document table holds it (migration 0005: APPROVED once an
 * approve of this org and digest ended 502, ISSUED once an issue did). NULL: no row, a DRAFT.
 * D9 refuses an issue on a DRAFT; attachment mode needs its main document ISSUED. */
enum pol_doc_state gw_document_state(const struct db_document_row *row);

#endif
