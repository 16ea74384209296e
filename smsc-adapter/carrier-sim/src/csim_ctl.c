/* csim_ctl.c -- the control commands (TELECOM.md 5.5): newline JSON in, one JSON line out.
 * Runs on the simulator's thread; the driver answers clock.* and shutdown itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "csim_int.h"

#define LIST_MAX 1000

struct ctl {
	struct csim *c;
	json_t *req;
	uint64_t now, real;
};

static json_t *
fail(const char *why)
{
	return json_pack("{s:b,s:s}", "ok", 0, "error", why);
}

static json_t *
ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static int
key_alg_of(json_t *req)
{
	const char *s = json_string_value(json_object_get(req, "key_alg"));

	if (s == NULL)
		return -1;
	if (strcmp(s, "rsa-2048") == 0)
		return CSIM_KEY_RSA2048;
	if (strcmp(s, "ec-p256") == 0)
		return CSIM_KEY_EC_P256;
	return -2;
}

static bool
spec_from(json_t *req, struct csim_sim_spec *spec)
{
	json_t *p = json_object_get(req, "profile"), *d = json_object_get(req, "delay_ms");

	spec->profile = -1;
	spec->delay_ms = -1;
	spec->key_alg = key_alg_of(req);
	if (spec->key_alg < -1)
		return false;
	if (p != NULL) {
		if (!json_is_integer(p) || json_integer_value(p) < 0 ||
		    json_integer_value(p) >= (json_int_t)CSIM_PROFILES)
			return false;
		spec->profile = (int)json_integer_value(p);
	}
	if (d != NULL) {
		if (!json_is_integer(d) || json_integer_value(d) < 0 ||
		    json_integer_value(d) > 86400000)
			return false;
		spec->delay_ms = json_integer_value(d);
	}
	return true;
}

static struct csim_sim *
sim_of(struct ctl *x)
{
	const char *m = json_string_value(json_object_get(x->req, "msisdn"));

	return m ? csim_farm_find(csim_get_farm(x->c), m) : NULL;
}

static json_t *
cmd_sim_add(struct ctl *x)
{
	struct csim_sim_spec spec;
	struct csim_sim *s;
	enum csim_err rc;

	spec.msisdn = json_string_value(json_object_get(x->req, "msisdn"));
	if (spec.msisdn == NULL || !spec_from(x->req, &spec))
		return fail("sim.add needs msisdn and valid profile/key_alg/delay_ms");
	if ((rc = csim_farm_add(csim_get_farm(x->c), &spec, &s)) != CSIM_OK)
		return fail(csim_strerror(rc));
	return json_pack("{s:b,s:o}", "ok", 1, "sim", csim_sim_json(s, true));
}

static json_t *
cmd_sim_add_range(struct ctl *x)
{
	const char *first = json_string_value(json_object_get(x->req, "first"));
	json_int_t count = json_integer_value(json_object_get(x->req, "count"));
	struct csim_sim_spec spec;
	char num[CSIM_MSISDN_MAX + 1];
	unsigned long long base;
	json_int_t i, added = 0, existing = 0;
	char *end;

	if (first == NULL || strlen(first) > 18 || count <= 0 ||
	    count > (json_int_t)CSIM_MAX_SIMS || !spec_from(x->req, &spec))
		return fail("sim.add_range needs first (digits), count 1..100000");
	base = strtoull(first, &end, 10);
	if (*end != '\0' || first[0] == '\0')
		return fail("first must be digits");
	for (i = 0; i < count; i++) {
		enum csim_err rc;

		snprintf(num, sizeof(num), "%0*llu", (int)strlen(first),
		         base + (unsigned long long)i);
		spec.msisdn = num;
		rc = csim_farm_add(csim_get_farm(x->c), &spec, NULL);
		if (rc == CSIM_E_EXISTS) {
			existing++;
			continue;
		}
		if (rc != CSIM_OK)
			return json_pack("{s:b,s:s,s:I,s:s}", "ok", 0, "error", csim_strerror(rc),
			                 "added", added, "at", num);
		added++;
	}
	return json_pack("{s:b,s:I,s:I}", "ok", 1, "added", added, "existing", existing);
}

static json_t *
cmd_sim_get(struct ctl *x)
{
	struct csim_sim *s = sim_of(x);

	if (s == NULL)
		return fail("no such SIM");
	return json_pack("{s:b,s:o}", "ok", 1, "sim", csim_sim_json(s, true));
}

static json_t *
cmd_sim_list(struct ctl *x)
{
	json_int_t off = json_integer_value(json_object_get(x->req, "offset"));
	json_int_t lim = json_integer_value(json_object_get(x->req, "limit"));
	json_t *arr = json_array();
	struct csim_sim *s;
	json_int_t i = 0;

	if (lim <= 0 || lim > LIST_MAX)
		lim = 100;
	for (s = csim_farm_first(csim_get_farm(x->c)); s != NULL && arr; s = s->list_next, i++)
		if (i >= off && (json_int_t)json_array_size(arr) < lim)
			json_array_append_new(arr, csim_sim_json(s, true));
	return json_pack("{s:b,s:I,s:o}", "ok", 1, "count",
	                 (json_int_t)csim_farm_count(csim_get_farm(x->c)), "sims", arr);
}

static json_t *
cmd_sim_set(struct ctl *x)
{
	struct csim_sim *s = sim_of(x);
	json_t *v;

	if (s == NULL)
		return fail("no such SIM");
	if ((v = json_object_get(x->req, "delay_ms")) != NULL) {
		s->has_delay = !json_is_null(v);
		s->delay_ms = (uint32_t)json_integer_value(v);
	}
	if ((v = json_object_get(x->req, "profile")) != NULL) {
		json_int_t p = json_integer_value(v);

		if (!json_is_integer(v) || p < 0 || p >= (json_int_t)CSIM_PROFILES)
			return fail("profile 0..27");
		s->profile = (int)p;
	}
	if ((v = json_object_get(x->req, "counter")) != NULL)
		s->ks.counter = (uint64_t)json_integer_value(v) & 0xFFFFFFFFFFull;
	if ((v = json_object_get(x->req, "pin_tries")) != NULL) {
		s->pin_tries = (uint8_t)json_integer_value(v);
		s->state = s->pin_tries == 0 ? CSIM_PIN_BLOCKED : CSIM_ACTIVE;
	}
	if ((v = json_object_get(x->req, "ucs2")) != NULL)
		s->ucs2 = json_is_true(v);
	return json_pack("{s:b,s:o}", "ok", 1, "sim", csim_sim_json(s, true));
}

static json_t *
cmd_sim_del(struct ctl *x)
{
	const char *m = json_string_value(json_object_get(x->req, "msisdn"));

	if (m == NULL || csim_farm_del(csim_get_farm(x->c), m) != CSIM_OK)
		return fail("no such SIM");
	return ok();
}

static json_t *
cmd_sim_unblock(struct ctl *x)
{
	struct csim_sim *s = sim_of(x);

	if (s == NULL)
		return fail("no such SIM");
	csim_sim_unblock(s);
	return json_pack("{s:b,s:o}", "ok", 1, "sim", csim_sim_json(s, true));
}

static json_t *
cmd_sim_puk(struct ctl *x)
{
	struct csim_sim *s = sim_of(x);

	if (s == NULL)
		return fail("no such SIM");
	if (csim_sim_puk(s, json_is_true(json_object_get(x->req, "correct"))) != CSIM_OK)
		return fail("card blocked");
	return json_pack("{s:b,s:o}", "ok", 1, "sim", csim_sim_json(s, true));
}

static json_t *
cmd_smsc_binds(struct ctl *x)
{
	char sid[CSIM_MAX_ACCOUNTS][16];
	uint32_t binds[CSIM_MAX_ACCOUNTS], max[CSIM_MAX_ACCOUNTS];
	size_t n = csim__binds(x->c, sid, binds, max, CSIM_MAX_ACCOUNTS), i;
	json_t *arr = json_array();
	struct csim_stats st;

	csim_stats(x->c, &st);
	for (i = 0; i < n && arr; i++)
		json_array_append_new(arr, json_pack("{s:s,s:i,s:i}", "system_id", sid[i], "binds",
		                                     (int)binds[i], "max_binds", (int)max[i]));
	return json_pack("{s:b,s:I,s:o}", "ok", 1, "connections", (json_int_t)st.conns, "accounts",
	                 arr);
}

static bool
set_u32(json_t *req, const char *key, uint32_t *dst)
{
	json_t *v = json_object_get(req, key);

	if (v == NULL)
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0x7FFFFFFF)
		return false;
	*dst = (uint32_t)json_integer_value(v);
	return true;
}

static void
set_bool(json_t *req, const char *key, bool *dst)
{
	json_t *v = json_object_get(req, key);

	if (json_is_boolean(v))
		*dst = json_is_true(v);
}

static json_t *
cmd_smsc_set(struct ctl *x)
{
	const char *sid = json_string_value(json_object_get(x->req, "system_id"));
	const char *mode = json_string_value(json_object_get(x->req, "mode"));
	const char *mid = json_string_value(json_object_get(x->req, "message_id"));
	const char *tid = json_string_value(json_object_get(x->req, "dlr_text_id"));
	struct csim_knobs *k = csim_account_knobs(x->c, sid ? sid : "");
	json_t *ri = json_object_get(x->req, "retry_intervals_ms");

	if (k == NULL)
		return fail("no such account");
	if (!set_u32(x->req, "window", &k->window) ||
	    !set_u32(x->req, "resp_delay_ms", &k->resp_delay_ms) ||
	    !set_u32(x->req, "resp_jitter_ms", &k->resp_jitter_ms) ||
	    !set_u32(x->req, "throttle_every_n", &k->throttle_every_n) ||
	    !set_u32(x->req, "mo_resp_timeout_ms", &k->mo_resp_timeout_ms) ||
	    !set_u32(x->req, "mo_retry_ms", &k->mo_retry_ms))
		return fail("numbers 0..2^31-1");
	if (json_is_integer(json_object_get(x->req, "mo_window"))) {
		json_int_t w = json_integer_value(json_object_get(x->req, "mo_window"));

		if (w < 1 || w > 64)
			return fail("mo_window 1..64");
		k->mo_window = (uint32_t)w;
	}
	if (!set_u32(x->req, "reject_every_n", &k->reject_every_n) ||
	    !set_u32(x->req, "reject_status", &k->reject_status))
		return fail("numbers 0..2^31-1");
	set_bool(x->req, "firewall", &k->firewall);
	set_bool(x->req, "dlr_duplicate", &k->dlr_duplicate);
	set_bool(x->req, "dlr_text_caps", &k->dlr_text_caps);
	set_bool(x->req, "dlr_date12", &k->dlr_date12);
	set_bool(x->req, "dlr", &k->dlr);
	set_bool(x->req, "dlr_before_resp", &k->dlr_before_resp);
	if (json_object_get(x->req, "mo_system_type") != NULL) {
		const char *mst = json_string_value(json_object_get(x->req, "mo_system_type"));

		if (mst != NULL && strlen(mst) >= sizeof(k->mo_system_type))
			return fail("mo_system_type: at most 12 characters");
		snprintf(k->mo_system_type, sizeof(k->mo_system_type), "%s",
		         mst != NULL ? mst : "");
	}
	if (mid != NULL)
		k->msgid_dec = strcmp(mid, "dec") == 0;
	if (tid != NULL)
		k->dlr_text_decimal = strcmp(tid, "decimal") == 0;
	if (json_is_array(ri)) {
		size_t i;

		if (json_array_size(ri) > 4)
			return fail("at most 4 retry intervals");
		for (i = 0; i < json_array_size(ri); i++)
			k->retry_ms[i] = (uint32_t)json_integer_value(json_array_get(ri, i));
		k->n_retry = (uint32_t)json_array_size(ri);
	}
	if (mode != NULL) {
		static const char *const names[] = { "error", "delay", "instant", "silent" };
		size_t i;

		for (i = 0; i < 4 && strcmp(mode, names[i]) != 0; i++)
			;
		if (i == 4)
			return fail("mode instant|delay|error|silent");
		csim_farm_set_mode(csim_get_farm(x->c), (enum csim_mode)i);
	}
	return ok();
}

static json_t *
cmd_smsc_inject(struct ctl *x)
{
	const char *from = json_string_value(json_object_get(x->req, "from"));
	const char *to = json_string_value(json_object_get(x->req, "to"));
	const char *ud = json_string_value(json_object_get(x->req, "ud"));
	const char *sid = json_string_value(json_object_get(x->req, "system_id"));
	json_t *esm = json_object_get(x->req, "esm_class");
	uint8_t buf[SMSC_SM_MAX];
	size_t n = 0;
	enum csim_err rc;

	if (from == NULL || to == NULL || ud == NULL || csim__unhex(ud, buf, sizeof(buf), &n) != 0)
		return fail("smsc.inject needs from, to and ud (hex, <= 254 octets)");
	rc = csim_inject(x->c, sid, from, to,
	                 esm ? (uint8_t)json_integer_value(esm) : (uint8_t)0x40, buf, n);
	return rc == CSIM_OK ? ok() : fail(csim_strerror(rc));
}

static json_t *
cmd_stats(struct ctl *x)
{
	static uint64_t prev_real, prev_signed;
	struct csim_stats st;
	double rate = 0;

	csim_stats(x->c, &st);
	if (prev_real != 0 && x->real > prev_real)
		rate = (double)(st.signed_answers - prev_signed) * 1000.0 /
		       (double)(x->real - prev_real);
	prev_real = x->real;
	prev_signed = st.signed_answers;
	return json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:"
	                 "I,s:I,s:I,s:f}",
	                 "ok", 1, "now_ms", (json_int_t)x->now, "sims",
	                 (json_int_t)csim_farm_count(csim_get_farm(x->c)), "connections",
	                 (json_int_t)st.conns, "binds", (json_int_t)st.binds, "submits",
	                 (json_int_t)st.submits, "resp_ok", (json_int_t)st.resp_ok, "resp_err",
	                 (json_int_t)st.resp_err, "throttled", (json_int_t)st.throttled, "dlrs",
	                 (json_int_t)st.dlrs, "mos_sent", (json_int_t)st.mos_sent, "mos_acked",
	                 (json_int_t)st.mos_acked, "mos_retried", (json_int_t)st.mos_retried,
	                 "delivered", (json_int_t)st.delivered, "undeliverable",
	                 (json_int_t)st.undeliverable, "expired", (json_int_t)st.expired, "nacks",
	                 (json_int_t)st.nacks, "mt_pending", (json_int_t)st.mt_pending,
	                 "deliver_pending", (json_int_t)st.deliver_pending, "signed_answers",
	                 (json_int_t)st.signed_answers, "signed_per_s", rate);
}

static json_t *
cmd_state_save(struct ctl *x)
{
	const char *path = csim__state_file(x->c);
	enum csim_err rc;

	if (path == NULL)
		return fail("no state file configured");
	if ((rc = csim_farm_save(csim_get_farm(x->c), path)) != CSIM_OK)
		return fail(csim_strerror(rc));
	return ok();
}

static const struct {
	const char *name;
	json_t *(*fn)(struct ctl *x);
} commands[] = {
	{ "sim.add", cmd_sim_add },         { "sim.add_range", cmd_sim_add_range },
	{ "sim.get", cmd_sim_get },         { "sim.list", cmd_sim_list },
	{ "sim.set", cmd_sim_set },         { "sim.del", cmd_sim_del },
	{ "sim.unblock", cmd_sim_unblock }, { "sim.puk", cmd_sim_puk },
	{ "smsc.binds", cmd_smsc_binds },   { "smsc.set", cmd_smsc_set },
	{ "smsc.inject", cmd_smsc_inject }, { "stats", cmd_stats },
	{ "state.save", cmd_state_save },
};

char *
csim_ctl(struct csim *c, const char *line, size_t len, uint64_t now_ms, uint64_t real_ms)
{
	struct ctl x = { c, NULL, now_ms, real_ms };
	json_t *rsp = NULL;
	const char *cmd;
	char *out;
	size_t i;

	x.req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	cmd = json_string_value(json_object_get(x.req, "cmd"));
	if (!json_is_object(x.req) || cmd == NULL) {
		rsp = fail("expected a JSON object with \"cmd\"");
	} else {
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (strcmp(cmd, commands[i].name) == 0)
				rsp = commands[i].fn(&x);
		if (rsp == NULL)
			rsp = fail("unknown command");
	}
	out = rsp ? json_dumps(rsp, JSON_COMPACT) : NULL;
	json_decref(rsp);
	json_decref(x.req);
	return out;
}
