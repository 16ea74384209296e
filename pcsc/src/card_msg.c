/* card_msg.c -- parse and build the /v1/agent messages (PROTOCOL.md section 7, PCSC.md 5.6).
 * One table row per message type: its direction and the fields it may carry. The builder
 * encodes and then runs the parser over its own output, so both ends apply one set of rules. */
#include <stdlib.h>
#include <string.h>

#include "card_msg_int.h"

enum {
	DIR_A2G = 1,
	DIR_G2A = 2,
	DIR_BOTH = 3
};

struct msg_row {
	const char *name;
	int dir;
	const char *const keys[12]; /* "type" first, NULL-terminated */
};

static const struct msg_row rows[] = {
	[CARD_MSG_HELLO] = { "hello",
	                     DIR_A2G,
	                     { "type", "agent_id", "version", "os", "pcsc", "backends",
	                       "pin_sources", NULL } },
	[CARD_MSG_TOKENS] = { "tokens", DIR_A2G, { "type", "seq", "tokens", NULL } },
	[CARD_MSG_SIGN] = { "sign",
	                    DIR_G2A,
	                    { "type", "job", "key_id", "alg", "hash", "display", "deadline_ms",
	                      NULL } },
	[CARD_MSG_TAKEN] = { "taken", DIR_A2G, { "type", "job", NULL } },
	[CARD_MSG_PROMPT] = { "prompt", DIR_A2G, { "type", "job", NULL } },
	[CARD_MSG_SIGNED] = { "signed",
	                      DIR_A2G,
	                      { "type", "job", "key_id", "signature", "elapsed_ms", NULL } },
	[CARD_MSG_FAILED] = { "failed",
	                      DIR_A2G,
	                      { "type", "job", "code", "sub", "reason", "sw", "pcsc",
	                        "retries_left", NULL } },
	[CARD_MSG_CANCEL] = { "cancel", DIR_G2A, { "type", "job", NULL } },
	[CARD_MSG_PING] = { "ping", DIR_BOTH, { "type", "id", "time", NULL } },
	[CARD_MSG_PONG] = { "pong", DIR_BOTH, { "type", "id", "time", NULL } },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const struct {
	const char *name;
	size_t hash_len;
} algs[] = {
	{ "rsa-pkcs1-sha256", 32 }, { "rsa-pkcs1-sha384", 48 },  { "rsa-pkcs1-sha512", 64 },
	{ "rsa-pss-sha256", 32 },   { "ecdsa-p256-sha256", 32 }, { "ecdsa-p384-sha384", 48 },
};

const char *
card_msg_strerror(enum card_msg_err e)
{
	static const char *const names[] = { "ok",           "too big",         "not a JSON object",
		                             "bad type",     "wrong direction", "missing field",
		                             "bad field",    "unknown field",   "over a limit",
		                             "out of memory" };

	return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown error";
}

const char *
card_msg_type_name(enum card_msg_type t)
{
	return (unsigned)t < NROWS && rows[t].name != NULL ? rows[t].name : "none";
}

size_t
card_msg_alg_hash_len(const char *alg)
{
	for (size_t i = 0; alg != NULL && i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(algs[i].name, alg) == 0)
			return algs[i].hash_len;
	return 0;
}

bool
card_msg_alg_known(const char *alg)
{
	return card_msg_alg_hash_len(alg) != 0;
}

void
card_msg_init(struct card_msg *m, enum card_msg_type type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->elapsed_ms = -1;
	m->retries_left = -1;
}

void
card_msg_clear(struct card_msg *m)
{
	for (int i = 0; i < m->ntokens; i++)
		card_msg_token_clear(&m->tokens[i]);
	free(m->tokens);
	card_msg_init(m, CARD_MSG_NONE);
}

static bool
parse_list(struct msg_ctx *c, json_t *o, const char *key, char out[][17], int *n)
{
	json_t *arr = json_object_get(o, key);

	if (arr == NULL)
		return true;
	if (!json_is_array(arr))
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	if (json_array_size(arr) > CARD_MSG_LIST_MAX)
		return msg_fail(c, CARD_MSG_E_LIMIT, key);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *wrap = json_pack("{s:O}", key, json_array_get(arr, i));
		bool ok = wrap != NULL && msg_get_str(c, wrap, key, true, MSG_CH_WORD, 1, 16, 0,
		                                      out[i], sizeof(out[i]));

		json_decref(wrap);
		if (!ok)
			return wrap == NULL ? msg_fail(c, CARD_MSG_E_NOMEM, key) : false;
		(*n)++;
	}
	return true;
}

static bool
parse_hello(struct msg_ctx *c, json_t *o, struct card_msg *m)
{
	return msg_get_str(c, o, "agent_id", true, MSG_CH_ID, 1, CARD_MSG_ID_MAX, 0, m->agent_id,
	                   sizeof(m->agent_id)) &&
	       msg_get_str(c, o, "version", true, MSG_CH_ID, 1, CARD_MSG_NAME_MAX, 0, m->version,
	                   sizeof(m->version)) &&
	       msg_get_str(c, o, "os", false, MSG_CH_ID, 1, CARD_MSG_NAME_MAX, 0, m->os,
	                   sizeof(m->os)) &&
	       msg_get_str(c, o, "pcsc", false, MSG_CH_ID, 1, CARD_MSG_NAME_MAX, 0, m->pcsc,
	                   sizeof(m->pcsc)) &&
	       parse_list(c, o, "backends", m->backends, &m->nbackends) &&
	       parse_list(c, o, "pin_sources", m->pin_sources, &m->npin_sources);
}

static bool
parse_job(struct msg_ctx *c, json_t *o, struct card_msg *m)
{
	return msg_get_str(c, o, "job", true, MSG_CH_ID, 1, CARD_MSG_ID_MAX, 0, m->job,
	                   sizeof(m->job));
}

static bool
parse_sign(struct msg_ctx *c, json_t *o, struct card_msg *m)
{
	int64_t dl = 0;

	if (!parse_job(c, o, m) ||
	    !msg_get_str(c, o, "key_id", true, MSG_CH_HEX, 64, 64, 0, m->key_id,
	                 sizeof(m->key_id)) ||
	    !msg_get_str(c, o, "alg", true, MSG_CH_WORD, 1, 23, 0, m->alg, sizeof(m->alg)))
		return false;
	if (!card_msg_alg_known(m->alg))
		return msg_fail(c, CARD_MSG_E_FIELD, "alg");
	/* PCSC.md 5.5: only a hash of the algorithm's exact length crosses the socket. */
	if (!msg_get_b64(c, o, "hash", CARD_MSG_HASH_MAX, m->hash, NULL, &m->hash_len))
		return false;
	if (m->hash_len != card_msg_alg_hash_len(m->alg))
		return msg_fail(c, CARD_MSG_E_FIELD, "hash");
	if (!msg_get_str(c, o, "display", true, MSG_CH_TEXT, 0, CARD_MSG_DISPLAY_MAX,
	                 CARD_MSG_DISPLAY_CHARS, m->display, sizeof(m->display)) ||
	    !msg_get_int(c, o, "deadline_ms", true, 1, CARD_MSG_DEADLINE_MAX, &dl))
		return false;
	m->deadline_ms = (uint32_t)dl;
	return true;
}

static bool
parse_signed(struct msg_ctx *c, json_t *o, struct card_msg *m)
{
	return parse_job(c, o, m) &&
	       msg_get_str(c, o, "key_id", true, MSG_CH_HEX, 64, 64, 0, m->key_id,
	                   sizeof(m->key_id)) &&
	       msg_get_b64(c, o, "signature", CARD_MSG_SIG_MAX, m->sig, NULL, &m->sig_len) &&
	       msg_get_int(c, o, "elapsed_ms", false, 0, CARD_MSG_DEADLINE_MAX, &m->elapsed_ms);
}

static bool
parse_failed(struct msg_ctx *c, json_t *o, struct card_msg *m)
{
	int64_t code = 0, sub = 0, retries = -1;

	if (!parse_job(c, o, m) || !msg_get_int(c, o, "code", true, 100, 999, &code) ||
	    !msg_get_int(c, o, "sub", true, 0, 9999, &sub))
		return false;
	/* A sub-code extends its code by one digit (PROTOCOL.md 5: 209/2092, 401/4015). */
	if (sub != 0 && sub / 10 != code)
		return msg_fail(c, CARD_MSG_E_FIELD, "sub");
	m->code = (int)code;
	m->sub = (int)sub;
	if (!msg_get_str(c, o, "reason", false, MSG_CH_CODE, 1, CARD_MSG_NAME_MAX, 0, m->reason,
	                 sizeof(m->reason)) ||
	    !msg_get_str(c, o, "sw", false, MSG_CH_HEXUP, 4, 4, 0, m->sw, sizeof(m->sw)) ||
	    !msg_get_str(c, o, "pcsc", false, MSG_CH_ID, 10, 10, 0, m->pcsc_code,
	                 sizeof(m->pcsc_code)) ||
	    !msg_get_int(c, o, "retries_left", false, 0, CARD_MSG_RETRIES_MAX, &retries))
		return false;
	if (m->pcsc_code[0] != '\0') {
		bool ok = m->pcsc_code[0] == '0' && m->pcsc_code[1] == 'x';

		for (int i = 2; ok && i < 10; i++)
			ok = strchr("0123456789ABCDEF", m->pcsc_code[i]) != NULL;
		if (!ok)
			return msg_fail(c, CARD_MSG_E_FIELD, "pcsc");
	}
	m->retries_left = (int)retries;
	return true;
}

static bool
parse_ping(struct msg_ctx *c, json_t *o, struct card_msg *m)
{
	return msg_get_str(c, o, "id", true, MSG_CH_ID, 1, CARD_MSG_ID_MAX, 0, m->id,
	                   sizeof(m->id)) &&
	       msg_get_str(c, o, "time", true, MSG_CH_ID, 1, 39, 0, m->time, sizeof(m->time));
}

static bool
parse_body(struct msg_ctx *c, json_t *o, struct card_msg *m)
{
	switch (m->type) {
	case CARD_MSG_HELLO:
		return parse_hello(c, o, m);
	case CARD_MSG_TOKENS:
		return msg_parse_tokens(c, o, m);
	case CARD_MSG_SIGN:
		return parse_sign(c, o, m);
	case CARD_MSG_TAKEN:
	case CARD_MSG_PROMPT:
	case CARD_MSG_CANCEL:
		return parse_job(c, o, m);
	case CARD_MSG_SIGNED:
		return parse_signed(c, o, m);
	case CARD_MSG_FAILED:
		return parse_failed(c, o, m);
	case CARD_MSG_PING:
	case CARD_MSG_PONG:
		return parse_ping(c, o, m);
	case CARD_MSG_NONE:
		break;
	}
	return msg_fail(c, CARD_MSG_E_TYPE, "type");
}

static enum card_msg_type
type_of(json_t *o)
{
	const char *t = json_string_value(json_object_get(o, "type"));

	for (size_t i = 1; t != NULL && i < NROWS; i++)
		if (strcmp(rows[i].name, t) == 0)
			return (enum card_msg_type)i;
	return CARD_MSG_NONE;
}

static enum card_msg_err
parse_object(json_t *o, enum card_msg_from from, struct card_msg *m, const char **field)
{
	struct msg_ctx c = { CARD_MSG_OK, "" };
	enum card_msg_type t = type_of(o);

	card_msg_init(m, t);
	if (t == CARD_MSG_NONE)
		msg_fail(&c, CARD_MSG_E_TYPE, "type");
	else if ((rows[t].dir & (from == CARD_MSG_FROM_AGENT ? DIR_A2G : DIR_G2A)) == 0)
		msg_fail(&c, CARD_MSG_E_DIRECTION, "type");
	else if (msg_only_keys(&c, o, rows[t].keys))
		parse_body(&c, o, m);
	if (c.err != CARD_MSG_OK)
		card_msg_clear(m);
	if (field != NULL)
		*field = c.field;
	return c.err;
}

enum card_msg_err
card_msg_parse(const char *text, size_t len, enum card_msg_from from, struct card_msg *m,
               const char **field)
{
	json_error_t jerr;
	json_t *o;
	enum card_msg_err e;

	card_msg_init(m, CARD_MSG_NONE);
	if (field != NULL)
		*field = "";
	/* The size check comes before the parser sees a byte (STYLE.md 2.10). */
	if (len > CARD_MSG_TEXT_MAX)
		return CARD_MSG_E_TOOBIG;
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return CARD_MSG_E_JSON;
	}
	e = parse_object(o, from, m, field);
	json_decref(o);
	return e;
}

static int
set_str(json_t *o, const char *k, const char *v)
{
	json_t *s = json_string(v);

	return s == NULL ? -1 : json_object_set_new(o, k, s);
}

static int
set_b64(json_t *o, const char *k, const uint8_t *b, size_t len)
{
	char *t = msg_b64_encode(b, len);
	int rc = t == NULL ? -1 : set_str(o, k, t);

	free(t);
	return rc;
}

static int
set_opt(json_t *o, const char *k, const char *v)
{
	return v[0] == '\0' ? 0 : set_str(o, k, v);
}

static int
set_list(json_t *o, const char *k, const char (*v)[17], int n)
{
	json_t *arr;
	int rc = 0;

	if (n == 0)
		return 0;
	arr = json_array();
	for (int i = 0; arr != NULL && rc == 0 && i < n; i++)
		rc = json_array_append_new(arr, json_string(v[i]));
	return arr == NULL || rc != 0 ? (json_decref(arr), -1) : json_object_set_new(o, k, arr);
}

static int
build_fields(json_t *o, const struct card_msg *m)
{
	int rc = 0;

	switch (m->type) {
	case CARD_MSG_HELLO:
		return set_str(o, "agent_id", m->agent_id) | set_str(o, "version", m->version) |
		       set_opt(o, "os", m->os) | set_opt(o, "pcsc", m->pcsc) |
		       set_list(o, "backends", m->backends, m->nbackends) |
		       set_list(o, "pin_sources", m->pin_sources, m->npin_sources);
	case CARD_MSG_TOKENS: {
		json_t *arr = msg_build_tokens(m);

		return arr == NULL
		               ? -1
		               : json_object_set_new(o, "seq", json_integer((json_int_t)m->seq)) |
		                         json_object_set_new(o, "tokens", arr);
	}
	case CARD_MSG_SIGN:
		return set_str(o, "job", m->job) | set_str(o, "key_id", m->key_id) |
		       set_str(o, "alg", m->alg) | set_b64(o, "hash", m->hash, m->hash_len) |
		       set_str(o, "display", m->display) |
		       json_object_set_new(o, "deadline_ms", json_integer(m->deadline_ms));
	case CARD_MSG_SIGNED:
		rc = set_str(o, "job", m->job) | set_str(o, "key_id", m->key_id) |
		     set_b64(o, "signature", m->sig, m->sig_len);
		if (m->elapsed_ms >= 0)
			rc |= json_object_set_new(o, "elapsed_ms", json_integer(m->elapsed_ms));
		return rc;
	case CARD_MSG_FAILED:
		rc = set_str(o, "job", m->job) |
		     json_object_set_new(o, "code", json_integer(m->code)) |
		     json_object_set_new(o, "sub", json_integer(m->sub)) |
		     set_opt(o, "reason", m->reason) | set_opt(o, "sw", m->sw) |
		     set_opt(o, "pcsc", m->pcsc_code);
		if (m->retries_left >= 0)
			rc |= json_object_set_new(o, "retries_left", json_integer(m->retries_left));
		return rc;
	case CARD_MSG_TAKEN:
	case CARD_MSG_PROMPT:
	case CARD_MSG_CANCEL:
		return set_str(o, "job", m->job);
	case CARD_MSG_PING:
	case CARD_MSG_PONG:
		return set_str(o, "id", m->id) | set_str(o, "time", m->time);
	case CARD_MSG_NONE:
		break;
	}
	return -1;
}

enum card_msg_err
card_msg_build(const struct card_msg *m, enum card_msg_from from, char **out, size_t *len,
               const char **field)
{
	struct card_msg check;
	enum card_msg_err e;
	json_t *o;
	char *txt;

	*out = NULL;
	*len = 0;
	if (field != NULL)
		*field = "type";
	if (m->type == CARD_MSG_NONE || (unsigned)m->type >= NROWS)
		return CARD_MSG_E_TYPE;
	o = json_pack("{s:s}", "type", rows[m->type].name);
	if (o == NULL)
		return CARD_MSG_E_NOMEM;
	if (build_fields(o, m) != 0) {
		json_decref(o);
		return CARD_MSG_E_FIELD; /* a string that is not UTF-8, or no memory */
	}
	txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (txt == NULL)
		return CARD_MSG_E_NOMEM;
	/* The receiver's rules, applied by the sender. */
	e = card_msg_parse(txt, strlen(txt), from, &check, field);
	card_msg_clear(&check);
	if (e != CARD_MSG_OK) {
		free(txt);
		return e;
	}
	*out = txt;
	*len = strlen(txt);
	return CARD_MSG_OK;
}
