/* gw_approval.c -- the approve transaction named by an `issue` request, read from its stored
 * row (PROTOCOL.md 4.1; REGULATION.md C5: an APPROVE on the same org and digest that ended
 * 502). The org and digest comparison itself is policy's (pol_sign_check, rule C5/D9). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "gw_approval.h"

void
gw_approval_from_row(const struct db_txn_row *row, struct gw_approval *out)
{
	json_t *req, *doc;
	const char *mode, *digest;

	memset(out, 0, sizeof(*out));
	if (row == NULL)
		return;
	out->found = true;
	snprintf(out->org, sizeof(out->org), "%s", row->org != NULL ? row->org : "");
	/* VALID is the final state DONE with 502 (PROTOCOL.md section 5); 500 (not verified)
	 * or any failure is not an authorised signature. */
	out->valid = row->state != NULL && strcmp(row->state, "DONE") == 0 && row->status == 502;
	req = row->request != NULL ? json_loads(row->request, 0, NULL) : NULL;
	mode = json_string_value(json_object_get(req, "mode"));
	doc = json_object_get(req, "document");
	digest = json_string_value(json_object_get(doc, "digest"));
	/* An approve txn exists only after policy allowed it: A3 and C8 held then. */
	out->approve = mode != NULL && strcmp(mode, "approve") == 0;
	if (digest != NULL && strlen(digest) < sizeof(out->digest))
		snprintf(out->digest, sizeof(out->digest), "%s", digest);
	json_decref(req);
}

const struct pol_approval *
gw_approval_pol(const struct gw_approval *a, struct pol_approval *out)
{
	if (a == NULL || !a->found)
		return NULL;
	*out = (struct pol_approval){
		.org = a->org,
		.digest = a->digest,
		.mode = a->approve ? POL_MODE_APPROVE : POL_MODE_ISSUE,
		.valid = a->valid,
		.authorised = a->approve,
	};
	return out;
}

enum pol_doc_state
gw_document_state(const struct db_document_row *row)
{
	if (row == NULL || row->state == NULL)
		return POL_DOC_DRAFT;
	if (strcmp(row->state, "ISSUED") == 0)
		return POL_DOC_ISSUED;
	return strcmp(row->state, "APPROVED") == 0 ? POL_DOC_APPROVED : POL_DOC_DRAFT;
}
