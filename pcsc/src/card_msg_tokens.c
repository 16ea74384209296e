/* card_msg_tokens.c -- the `tokens` snapshot (PCSC.md 5.6): tokens with their certificates and
 * keys. A key's key_id must be the SHA-256 of one of the token's own certificates, so a gateway
 * can never be told that a key belongs to a certificate the agent did not send. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "card_msg_int.h"

static const char *const token_keys[] = { "token_id", "reader", "serial", "certs", "keys",
	                                  "profile",  "atr",    "label",  "pin",   NULL };
static const char *const key_keys[] = { "key_id", "alg", NULL };
static const char *const pin_keys[] = { "state", "retries_left", NULL };

void
card_msg_key_id(const uint8_t *der, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return;
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

void
card_msg_token_clear(struct card_msg_token *t)
{
	for (int i = 0; i < t->ncerts; i++)
		free(t->certs[i].der);
	t->ncerts = 0;
}

enum card_msg_err
card_msg_token_add_cert(struct card_msg_token *t, const uint8_t *der, size_t len)
{
	uint8_t *copy;

	if (t->ncerts >= CARD_MSG_CERTS_MAX)
		return CARD_MSG_E_LIMIT;
	if (len == 0 || len > CARD_MSG_CERT_MAX)
		return CARD_MSG_E_FIELD;
	if ((copy = malloc(len)) == NULL)
		return CARD_MSG_E_NOMEM;
	memcpy(copy, der, len);
	t->certs[t->ncerts].der = copy;
	t->certs[t->ncerts].len = len;
	t->ncerts++;
	return CARD_MSG_OK;
}

enum card_msg_err
card_msg_add_token(struct card_msg *m, const struct card_msg_token *t)
{
	struct card_msg_token *arr, *n;
	enum card_msg_err e = CARD_MSG_OK;

	if (m->ntokens >= CARD_MSG_TOKENS_MAX)
		return CARD_MSG_E_LIMIT;
	arr = realloc(m->tokens, sizeof(*arr) * (size_t)(m->ntokens + 1));
	if (arr == NULL)
		return CARD_MSG_E_NOMEM;
	m->tokens = arr;
	n = &arr[m->ntokens];
	*n = *t;
	n->ncerts = 0;
	for (int i = 0; i < t->ncerts && e == CARD_MSG_OK; i++)
		e = card_msg_token_add_cert(n, t->certs[i].der, t->certs[i].len);
	if (e != CARD_MSG_OK) {
		card_msg_token_clear(n);
		return e;
	}
	m->ntokens++;
	return CARD_MSG_OK;
}

static bool
parse_certs(struct msg_ctx *c, json_t *arr, struct card_msg_token *t)
{
	size_t n = json_array_size(arr);

	if (!json_is_array(arr))
		return msg_fail(c, arr == NULL ? CARD_MSG_E_MISSING : CARD_MSG_E_FIELD, "certs");
	if (n == 0 || n > CARD_MSG_CERTS_MAX)
		return msg_fail(c, n == 0 ? CARD_MSG_E_FIELD : CARD_MSG_E_LIMIT, "certs");
	for (size_t i = 0; i < n; i++) {
		json_t *wrap = json_pack("{s:O}", "certs", json_array_get(arr, i));
		struct card_msg_cert *ce = &t->certs[t->ncerts];
		bool ok;

		if (wrap == NULL)
			return msg_fail(c, CARD_MSG_E_NOMEM, "certs");
		ce->der = NULL;
		ok = msg_get_b64(c, wrap, "certs", CARD_MSG_CERT_MAX, NULL, &ce->der, &ce->len);
		json_decref(wrap);
		if (!ok)
			return false;
		t->ncerts++;
	}
	return true;
}

static bool
key_matches_cert(const struct card_msg_token *t, const char *key_id)
{
	char id[65];

	for (int i = 0; i < t->ncerts; i++) {
		card_msg_key_id(t->certs[i].der, t->certs[i].len, id);
		if (strcmp(id, key_id) == 0)
			return true;
	}
	return false;
}

static bool
parse_keys(struct msg_ctx *c, json_t *arr, struct card_msg_token *t)
{
	size_t n = json_array_size(arr);

	if (!json_is_array(arr))
		return msg_fail(c, arr == NULL ? CARD_MSG_E_MISSING : CARD_MSG_E_FIELD, "keys");
	if (n == 0 || n > CARD_MSG_KEYS_MAX)
		return msg_fail(c, n == 0 ? CARD_MSG_E_FIELD : CARD_MSG_E_LIMIT, "keys");
	for (size_t i = 0; i < n; i++) {
		json_t *k = json_array_get(arr, i);
		struct card_msg_key *key = &t->keys[i];

		if (!json_is_object(k))
			return msg_fail(c, CARD_MSG_E_FIELD, "keys");
		if (!msg_only_keys(c, k, key_keys) ||
		    !msg_get_str(c, k, "key_id", true, MSG_CH_HEX, 64, 64, 0, key->key_id,
		                 sizeof(key->key_id)) ||
		    !msg_get_str(c, k, "alg", true, MSG_CH_WORD, 1, 23, 0, key->alg,
		                 sizeof(key->alg)))
			return false;
		if (!card_msg_alg_known(key->alg))
			return msg_fail(c, CARD_MSG_E_FIELD, "alg");
		if (!key_matches_cert(t, key->key_id))
			return msg_fail(c, CARD_MSG_E_FIELD, "key_id");
		t->nkeys++;
	}
	return true;
}

static bool
parse_pin(struct msg_ctx *c, json_t *pin, struct card_msg_token *t)
{
	int64_t r = -1;

	if (pin == NULL)
		return true;
	if (!json_is_object(pin))
		return msg_fail(c, CARD_MSG_E_FIELD, "pin");
	if (!msg_only_keys(c, pin, pin_keys) ||
	    !msg_get_str(c, pin, "state", true, MSG_CH_WORD, 1, 15, 0, t->pin_state,
	                 sizeof(t->pin_state)) ||
	    !msg_get_int(c, pin, "retries_left", false, 0, CARD_MSG_RETRIES_MAX, &r))
		return false;
	t->has_pin = true;
	t->pin_retries_left = (int)r;
	return true;
}

static bool
parse_token(struct msg_ctx *c, json_t *o, struct card_msg_token *t)
{
	memset(t, 0, sizeof(*t));
	t->pin_retries_left = -1;
	if (!json_is_object(o))
		return msg_fail(c, CARD_MSG_E_FIELD, "tokens");
	return msg_only_keys(c, o, token_keys) &&
	       msg_get_str(c, o, "token_id", true, MSG_CH_ID, 1, CARD_MSG_ID_MAX, 0, t->token_id,
	                   sizeof(t->token_id)) &&
	       msg_get_str(c, o, "reader", true, MSG_CH_TEXT, 1, CARD_MSG_READER_MAX, 0, t->reader,
	                   sizeof(t->reader)) &&
	       msg_get_str(c, o, "serial", true, MSG_CH_ID, 1, CARD_MSG_ID_MAX, 0, t->serial,
	                   sizeof(t->serial)) &&
	       msg_get_str(c, o, "profile", false, MSG_CH_ID, 1, CARD_MSG_NAME_MAX, 0, t->profile,
	                   sizeof(t->profile)) &&
	       msg_get_str(c, o, "atr", false, MSG_CH_HEXUP, 2, 66, 0, t->atr, sizeof(t->atr)) &&
	       (t->atr[0] == '\0' || strlen(t->atr) % 2 == 0 ||
	        msg_fail(c, CARD_MSG_E_FIELD, "atr")) &&
	       msg_get_str(c, o, "label", false, MSG_CH_TEXT, 1, CARD_MSG_NAME_MAX, 0, t->label,
	                   sizeof(t->label)) &&
	       parse_certs(c, json_object_get(o, "certs"), t) &&
	       parse_keys(c, json_object_get(o, "keys"), t) &&
	       parse_pin(c, json_object_get(o, "pin"), t);
}

bool
msg_parse_tokens(struct msg_ctx *c, json_t *o, struct card_msg *m)
{
	json_t *arr = json_object_get(o, "tokens");
	size_t n = json_array_size(arr);
	int64_t seq = 0;

	if (!msg_get_int(c, o, "seq", true, 0, INT64_MAX, &seq))
		return false;
	m->seq = (uint64_t)seq;
	if (arr == NULL)
		return msg_fail(c, CARD_MSG_E_MISSING, "tokens");
	if (!json_is_array(arr))
		return msg_fail(c, CARD_MSG_E_FIELD, "tokens");
	if (n > CARD_MSG_TOKENS_MAX)
		return msg_fail(c, CARD_MSG_E_LIMIT, "tokens");
	if (n == 0) /* an empty snapshot is valid: no token present, or pcscd down */
		return true;
	m->tokens = calloc(n, sizeof(*m->tokens));
	if (m->tokens == NULL)
		return msg_fail(c, CARD_MSG_E_NOMEM, "tokens");
	for (size_t i = 0; i < n; i++) {
		bool ok = parse_token(c, json_array_get(arr, i), &m->tokens[i]);

		m->ntokens++; /* counted even on failure so card_msg_clear frees its certs */
		if (!ok)
			return false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->tokens[j].token_id, m->tokens[i].token_id) == 0)
				return msg_fail(c, CARD_MSG_E_FIELD, "token_id");
	}
	return true;
}

static json_t *
build_token(const struct card_msg_token *t)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:[], s:[]}", "token_id", t->token_id, "reader",
	                      t->reader, "serial", t->serial, "certs", "keys");
	json_t *certs = json_object_get(o, "certs"), *keys = json_object_get(o, "keys");
	bool ok = o != NULL;

	for (int i = 0; ok && i < t->ncerts; i++) {
		char *b64 = msg_b64_encode(t->certs[i].der, t->certs[i].len);

		ok = b64 != NULL && json_array_append_new(certs, json_string(b64)) == 0;
		free(b64);
	}
	for (int i = 0; ok && i < t->nkeys; i++)
		ok = json_array_append_new(keys,
		                           json_pack("{s:s, s:s}", "key_id", t->keys[i].key_id,
		                                     "alg", t->keys[i].alg)) == 0;
	if (ok && t->profile[0] != '\0')
		ok = json_object_set_new(o, "profile", json_string(t->profile)) == 0;
	if (ok && t->atr[0] != '\0')
		ok = json_object_set_new(o, "atr", json_string(t->atr)) == 0;
	if (ok && t->label[0] != '\0')
		ok = json_object_set_new(o, "label", json_string(t->label)) == 0;
	if (ok && t->has_pin) {
		json_t *pin = json_pack("{s:s}", "state", t->pin_state);

		if (pin != NULL && t->pin_retries_left >= 0)
			json_object_set_new(pin, "retries_left", json_integer(t->pin_retries_left));
		ok = json_object_set_new(o, "pin", pin) == 0;
	}
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
msg_build_tokens(const struct card_msg *m)
{
	json_t *arr = json_array();

	for (int i = 0; arr != NULL && i < m->ntokens; i++) {
		json_t *t = build_token(&m->tokens[i]);

		if (t == NULL || json_array_append_new(arr, t) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}
