/* gw_sign.c -- field checks of sign, status, cancel and subscribe (PROTOCOL.md 4.1, 4.3, 5). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <kyso/pol.h>

#include "gw_sign.h"

static bool
printable(const char *s, size_t len, size_t max)
{
	if (len < 1 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static bool
one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}
#define ONE_OF(s, set) one_of((s), (set), sizeof(set) / sizeof((set)[0]))

/* Copies a string field. Absent: *present false, true returned. Not a string or too long:
 * 101/1011. */
static bool
get_str(json_t *obj, const char *key, char *out, size_t cap, bool *present, const char *what,
        struct gw_status *err)
{
	json_t *v = json_object_get(obj, key);

	*present = v != NULL;
	out[0] = '\0';
	if (v == NULL)
		return true;
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		gw_status_set(err, 101, 1011, "%s must be a non-empty string of at most %zu bytes",
		              what, cap - 1);
		return false;
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static bool
need_str(json_t *obj, const char *key, char *out, size_t cap, const char *what,
         struct gw_status *err)
{
	bool present;

	if (!get_str(obj, key, out, cap, &present, what, err))
		return false;
	if (!present) {
		gw_status_set(err, 102, 0, "missing field: %s", what);
		return false;
	}
	return true;
}

/* E.164 without '+', Vietnamese numbers: 84 and 8-10 more digits. */
static bool
msisdn_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 10 || n > 12 || strncmp(s, "84", 2) != 0)
		return false;
	return strspn(s, "0123456789") == n;
}

static bool
slug_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= GW_SLUG_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

bool
gw_txn_id_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= GW_TXN_ID_MAX &&
	       strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") == n;
}

static bool
parse_signer(json_t *root, struct gw_sign_req *r, struct gw_status *err)
{
	static const char *const keys[] = { "msisdn", "subscriber_id", "credential_id" };
	json_t *s = json_object_get(root, "signer");
	int found = 0;
	bool present;

	if (s == NULL) {
		gw_status_set(err, 102, 0, "missing field: signer");
		return false;
	}
	if (!json_is_object(s)) {
		gw_status_set(err, 101, 1011, "signer must be an object");
		return false;
	}
	for (int k = 0; k < 3; k++) {
		char buf[sizeof(r->signer)];

		if (!get_str(s, keys[k], buf, sizeof(buf), &present, keys[k], err))
			return false;
		if (present) {
			found++;
			r->signer_kind = (enum gw_signer_kind)k;
			memcpy(r->signer, buf, sizeof(buf));
		}
	}
	if (found == 0) {
		gw_status_set(err, 102, 0,
		              "missing field: signer.msisdn, subscriber_id or credential_id");
		return false;
	}
	if (found > 1 || json_object_size(s) != 1) {
		gw_status_set(
		        err, 101, 1011,
		        "signer must name exactly one of msisdn, subscriber_id, credential_id");
		return false;
	}
	if (r->signer_kind == GW_SIGNER_MSISDN && !msisdn_valid(r->signer)) {
		gw_status_set(err, 101, 1011,
		              "signer.msisdn must be a Vietnamese E.164 number without '+'");
		return false;
	}
	if (r->signer_kind != GW_SIGNER_MSISDN &&
	    !printable(r->signer, strlen(r->signer), GW_APTID_MAX)) {
		gw_status_set(err, 101, 1011, "signer id must be printable ASCII");
		return false;
	}
	return true;
}

static bool
parse_on_behalf(json_t *root, struct gw_sign_req *r, struct gw_status *err)
{
	static const char *const labels[] = { "KT.", "TL.", "TUQ.", "Q.", "TM." };
	json_t *o = json_object_get(root, "on_behalf");

	if (o == NULL)
		return true;
	if (!json_is_object(o)) {
		gw_status_set(err, 101, 1011, "on_behalf must be an object");
		return false;
	}
	if (!need_str(o, "label", r->on_behalf_label, sizeof(r->on_behalf_label), "on_behalf.label",
	              err) ||
	    !need_str(o, "principal", r->on_behalf_principal, sizeof(r->on_behalf_principal),
	              "on_behalf.principal", err))
		return false;
	if (!ONE_OF(r->on_behalf_label, labels)) {
		gw_status_set(err, 101, 1011, "on_behalf.label must be KT., TL., TUQ., Q. or TM.");
		return false;
	}
	r->has_on_behalf = true;
	return true;
}

/* A1 (REGULATION.md): secrecy is mandatory; any secret level is refused before anything else
 * of the document is looked at. The code, rule and messages come from policy/. */
static bool
parse_secrecy(json_t *doc, struct gw_status *err)
{
	static const char *const secret[] = { "mat", "toi_mat", "tuyet_mat" };
	const struct pol_reason_info *ri;
	json_t *v = json_object_get(doc, "secrecy");
	const char *s = json_string_value(v);

	if (v == NULL) {
		ri = pol_reason_info(POL_R_SECRECY_LEVEL_MISSING);
		gw_status_set(err, 102, 0, "missing field: document.secrecy");
	} else if (s == NULL) {
		gw_status_set(err, 101, 1011, "document.secrecy must be a string");
		return false;
	} else if (strcmp(s, "none") == 0) {
		return true;
	} else if (ONE_OF(s, secret)) {
		ri = pol_reason_info(POL_R_STATE_SECRET_REFUSED);
		gw_status_set(err, ri->code, ri->sub, "state secrets are not signed here");
	} else {
		gw_status_set(err, 101, 1011,
		              "document.secrecy must be none, mat, toi_mat or tuyet_mat");
		return false;
	}
	err->rule = ri->rule;
	err->reason = ri->name;
	err->msg_vi = ri->msg_vi;
	err->msg_en = ri->msg_en;
	return false;
}

static bool
parse_digest(json_t *doc, struct gw_sign_req *r, struct gw_status *err)
{
	static const struct {
		const char *name, *hash;
		size_t len;
	} algs[] = { { "SHA-256", "sha256", 32 },
		     { "SHA-384", "sha384", 48 },
		     { "SHA-512", "sha512", 64 } };
	uint8_t raw[GW_DIGEST_MAX + 3];
	size_t want = 0, blen;
	int n;

	if (!need_str(doc, "digest", r->digest_b64, sizeof(r->digest_b64), "document.digest",
	              err) ||
	    !need_str(doc, "digest_alg", r->digest_alg, sizeof(r->digest_alg),
	              "document.digest_alg", err))
		return false;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (strcmp(r->digest_alg, algs[i].name) == 0) {
			want = algs[i].len;
			snprintf(r->hash_alg, sizeof(r->hash_alg), "%s", algs[i].hash);
		}
	}
	if (want == 0) {
		gw_status_set(err, 101, 1011,
		              "document.digest_alg must be SHA-256, SHA-384 or SHA-512");
		return false;
	}
	blen = strlen(r->digest_b64);
	/* Canonical base64 of exactly `want` bytes: 4 * ceil(want / 3) characters. */
	if (blen != 4 * ((want + 2) / 3) ||
	    strspn(r->digest_b64,
	           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != blen ||
	    (n = EVP_DecodeBlock(raw, (const unsigned char *)r->digest_b64, (int)blen)) < 0 ||
	    (size_t)n - (size_t)(r->digest_b64[blen - 1] == '=') -
	                    (size_t)(r->digest_b64[blen - 2] == '=') !=
	            want) {
		gw_status_set(err, 101, 1011, "document.digest must be the base64 of a %s digest",
		              r->digest_alg);
		return false;
	}
	memcpy(r->digest, raw, want);
	r->digest_len = want;
	return true;
}

static bool
parse_document(json_t *root, struct gw_sign_req *r, struct gw_status *err)
{
	static const char *const forms[] = { "SAO Y", "SAO LỤC", "TRÍCH SAO" };
	json_t *doc = json_object_get(root, "document");
	bool present;

	if (doc == NULL) {
		gw_status_set(err, 102, 0, "missing field: document");
		return false;
	}
	if (!json_is_object(doc)) {
		gw_status_set(err, 101, 1011, "document must be an object");
		return false;
	}
	if (!parse_secrecy(doc, err) || !parse_digest(doc, r, err))
		return false;
	if (!get_str(doc, "org", r->org, sizeof(r->org), &present, "document.org", err) ||
	    !get_str(doc, "class", r->doc_class, sizeof(r->doc_class), &present, "document.class",
	             err) ||
	    !get_str(doc, "title", r->title, sizeof(r->title), &present, "document.title", err) ||
	    !get_str(doc, "number", r->number, sizeof(r->number), &present, "document.number",
	             err) ||
	    !get_str(doc, "approval_txn", r->approval_txn, sizeof(r->approval_txn), &present,
	             "document.approval_txn", err) ||
	    !get_str(doc, "copy_form", r->copy_form, sizeof(r->copy_form), &present,
	             "document.copy_form", err))
		return false;
	if ((r->org[0] != '\0' && !slug_valid(r->org)) ||
	    (r->doc_class[0] != '\0' && !slug_valid(r->doc_class))) {
		gw_status_set(err, 101, 1011, "document.org and class are slugs [a-z0-9-_]");
		return false;
	}
	if (r->doc_class[0] == '\0')
		snprintf(r->doc_class, sizeof(r->doc_class), "general");
	if (strcmp(r->mode, "issue") == 0 && r->approval_txn[0] == '\0') {
		gw_status_set(err, 102, 0, "missing field: document.approval_txn (issue mode)");
		return false;
	}
	if (r->approval_txn[0] != '\0' && !gw_txn_id_valid(r->approval_txn)) {
		gw_status_set(err, 101, 1011, "document.approval_txn is not a transaction id");
		return false;
	}
	if (strcmp(r->mode, "copy") == 0 && r->copy_form[0] == '\0') {
		gw_status_set(err, 102, 0, "missing field: document.copy_form (copy mode)");
		return false;
	}
	if (r->copy_form[0] != '\0' && !ONE_OF(r->copy_form, forms)) {
		gw_status_set(err, 101, 1011,
		              "document.copy_form must be SAO Y, SAO LỤC or TRÍCH SAO");
		return false;
	}
	return true;
}

/* UTF-8 code points; -1 when the text is not valid UTF-8 (jansson checked already, so this is
 * only counting). */
static long
utf8_chars(const char *s)
{
	long n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static bool
parse_display(json_t *root, int display_max, struct gw_sign_req *r, struct gw_status *err)
{
	json_t *v = json_object_get(root, "display");
	long chars;

	if (v == NULL) {
		gw_status_set(err, 102, 0, "missing field: display");
		return false;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		gw_status_set(err, 101, 1011, "display must be a non-empty string");
		return false;
	}
	chars = utf8_chars(json_string_value(v));
	if (chars > display_max || json_string_length(v) >= sizeof(r->display)) {
		gw_status_set(err, 103, 0, "display is over %d characters", display_max);
		return false;
	}
	memcpy(r->display, json_string_value(v), json_string_length(v) + 1);
	r->display_chars = (size_t)chars;
	return true;
}

static bool
parse_options(json_t *root, struct gw_sign_req *r, struct gw_status *err)
{
	static const char *const formats[] = { "cms", "pkcs1" };
	json_t *t = json_object_get(root, "timeout_s");
	bool present;

	if (!get_str(root, "format", r->format, sizeof(r->format), &present, "format", err))
		return false;
	if (!present)
		snprintf(r->format, sizeof(r->format), "cms");
	if (!ONE_OF(r->format, formats)) {
		gw_status_set(err, 101, 1011, "format must be cms or pkcs1");
		return false;
	}
	r->timeout_s = GW_TIMEOUT_DEFAULT;
	if (t != NULL) {
		if (!json_is_integer(t) || json_integer_value(t) < GW_TIMEOUT_MIN ||
		    json_integer_value(t) > GW_TIMEOUT_MAX) {
			gw_status_set(err, 101, 1011, "timeout_s must be an integer from %d to %d",
			              GW_TIMEOUT_MIN, GW_TIMEOUT_MAX);
			return false;
		}
		r->timeout_s = (int)json_integer_value(t);
	}
	return true;
}

bool
gw_sign_request_hash(json_t *root, uint8_t out[32])
{
	json_t *copy = json_copy(root);
	char *txt;
	unsigned int n = 0;
	bool ok;

	if (copy == NULL)
		return false;
	json_object_del(copy, "type");
	json_object_del(copy, "id");
	txt = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(copy);
	if (txt == NULL)
		return false;
	ok = EVP_Digest(txt, strlen(txt), out, &n, EVP_sha256(), NULL) == 1 && n == 32;
	free(txt);
	return ok;
}

bool
gw_sign_parse(json_t *root, int display_max, struct gw_sign_req *out, struct gw_status *err)
{
	static const char *const channels[] = { "sim", "pcsc", "auto" };
	static const char *const modes[] = { "approve", "issue", "copy", "attachment", "system" };
	bool present;

	memset(out, 0, sizeof(*out));
	if (display_max < 1 || display_max > GW_DISPLAY_HARD)
		display_max = GW_DISPLAY_HARD;
	if (!need_str(root, "ap_trans_id", out->ap_trans_id, sizeof(out->ap_trans_id),
	              "ap_trans_id", err))
		return false;
	if (!printable(out->ap_trans_id, strlen(out->ap_trans_id), GW_APTID_MAX)) {
		gw_status_set(err, 101, 1011,
		              "ap_trans_id must be 1-64 printable ASCII characters");
		return false;
	}
	if (!parse_signer(root, out, err))
		return false;
	if (!get_str(root, "channel", out->channel, sizeof(out->channel), &present, "channel", err))
		return false;
	if (!present)
		snprintf(out->channel, sizeof(out->channel), "auto");
	if (!ONE_OF(out->channel, channels)) {
		gw_status_set(err, 101, 1011, "channel must be sim, pcsc or auto");
		return false;
	}
	if (!need_str(root, "mode", out->mode, sizeof(out->mode), "mode", err))
		return false;
	if (!ONE_OF(out->mode, modes)) {
		gw_status_set(err, 101, 1011,
		              "mode must be approve, issue, copy, attachment or system");
		return false;
	}
	if (!parse_on_behalf(root, out, err) || !parse_document(root, out, err) ||
	    !parse_display(root, display_max, out, err) || !parse_options(root, out, err))
		return false;
	if (!gw_sign_request_hash(root, out->request_hash)) {
		gw_status_set(err, 900, 9001, "out of memory");
		return false;
	}
	return true;
}

bool
gw_txn_ref_parse(json_t *root, char txn[GW_TXN_ID_MAX + 1], struct gw_status *err)
{
	json_t *v = json_object_get(root, "txn");

	if (v == NULL) {
		gw_status_set(err, 102, 0, "missing field: txn");
		return false;
	}
	if (!json_is_string(v) || json_string_length(v) > GW_TXN_ID_MAX ||
	    !gw_txn_id_valid(json_string_value(v))) {
		gw_status_set(err, 101, 1013, "unknown transaction");
		return false;
	}
	memcpy(txn, json_string_value(v), json_string_length(v) + 1);
	return true;
}

bool
gw_subscribe_parse(json_t *root, struct gw_since *out, int *n, struct gw_status *err)
{
	json_t *since = json_object_get(root, "since"), *v;
	const char *key;

	*n = 0;
	if (since == NULL)
		return true;
	if (!json_is_object(since)) {
		gw_status_set(err, 101, 1011, "since must be an object of txn: seq");
		return false;
	}
	if (json_object_size(since) > GW_SUBSCRIBE_MAX) {
		gw_status_set(err, 103, 0, "at most %d transactions per subscribe",
		              GW_SUBSCRIBE_MAX);
		return false;
	}
	json_object_foreach(since, key, v)
	{
		if (strlen(key) > GW_TXN_ID_MAX || !gw_txn_id_valid(key)) {
			gw_status_set(err, 101, 1013, "unknown transaction");
			return false;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000) {
			gw_status_set(err, 101, 1011, "since values are event seq numbers (>= 0)");
			return false;
		}
		snprintf(out[*n].txn, sizeof(out[*n].txn), "%s", key);
		out[*n].seq = (int)json_integer_value(v);
		(*n)++;
	}
	return true;
}

/* A decimal number of at most 7 digits, nothing else (no sign, no space, no exponent). */
static bool
small_number(const char *s, int *out)
{
	int v = 0, i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 8; i++)
		v = v * 10 + (s[i] - '0');
	if (i == 0 || i > 7 || s[i] != '\0')
		return false;
	*out = v;
	return true;
}

bool
gw_poll_args_parse(const char *const *args, int n, struct gw_poll_args *out, struct gw_status *err)
{
	bool seen_wait = false, seen_since = false;

	out->wait_s = 0;
	out->since = -1;
	for (int i = 0; i < n && i < GW_POLL_ARGS_MAX; i++) {
		const char *a = args[i];
		int v;

		if (a == NULL)
			continue;
		if (strncmp(a, "wait", 4) == 0 && (a[4] == '=' || a[4] == '\0')) {
			if (seen_wait || a[4] != '=' || !small_number(a + 5, &v) ||
			    v > GW_POLL_WAIT_MAX) {
				gw_status_set(err, 101, 1011,
				              "wait must be 0-%d seconds, given once",
				              GW_POLL_WAIT_MAX);
				return false;
			}
			seen_wait = true;
			out->wait_s = v;
		} else if (strncmp(a, "since", 5) == 0 && (a[5] == '=' || a[5] == '\0')) {
			if (seen_since || a[5] != '=' || !small_number(a + 6, &v) || v > 1000000) {
				gw_status_set(err, 101, 1011,
				              "since must be an event seq (0-1000000), given once");
				return false;
			}
			seen_since = true;
			out->since = v;
		}
	}
	return true;
}
