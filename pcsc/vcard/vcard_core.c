/* The KYSO-PKI v1 applet of kyso-vcard (PCSC.md §4), with fault injection for the engine's
 * tests. A test card only: it keeps its PIN in a state file in clear. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <kyso/card.h>

#include "vcard.h"

#define PIN_BLOCK     8
#define PIN_MAX_TRIES 3
#define PUK_MAX_TRIES 10
#define CERT_CAP      8192

static const uint8_t aid[] = { 0xF0, 0x4B, 0x59, 0x53, 0x4F, 0x50, 0x4B, 0x49, 0x01 };
static const uint8_t atr_t1[] = { 0x3B, 0x88, 0x01, 0x4B, 0x59, 0x53,
	                          0x4F, 0x56, 0x43, 0x30, 0x31, 0x93 };
static const uint8_t atr_t0[] = { 0x3B, 0x08, 0x4B, 0x59, 0x53, 0x4F, 0x56, 0x43, 0x30, 0x31 };

struct vcard {
	struct vcard_cfg cfg;
	EVP_PKEY *key;
	bool rsa;
	uint8_t cert[CERT_CAP];
	size_t cert_len;
	uint8_t info[128]; /* TokenInfo TLV */
	size_t info_len;
	uint8_t serial[CARD_SERIAL_LEN];
	/* persistent */
	uint8_t pin[PIN_BLOCK], puk[PIN_BLOCK];
	int pin_tries, puk_tries;
	/* volatile: cleared by power codes and SELECT AID */
	bool selected, verified, mse_set;
	uint8_t mse_alg;
	uint16_t ef;
	uint8_t pending[CARD_SIG_MAX + 16]; /* T=0 answers waiting for GET RESPONSE */
	size_t pending_len, pending_off;
	unsigned drop_seen;
};

struct capdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc, le; /* le 0: none */
	bool has_le;
};

/* ---- setup and state file ---------------------------------------------------------------- */

static bool
pin_pad(const char *digits, size_t min, uint8_t out[PIN_BLOCK])
{
	size_t n = strlen(digits), i;

	if (n < min || n > PIN_BLOCK)
		return false;
	for (i = 0; i < n; i++)
		if (digits[i] < '0' || digits[i] > '9')
			return false;
	memset(out, 0xFF, PIN_BLOCK);
	memcpy(out, digits, n);
	return true;
}

/* A PIN block: 4..8 digits, then FF up to 8 bytes. */
static bool
pin_block_valid(const uint8_t *b)
{
	size_t i = 0;

	while (i < PIN_BLOCK && b[i] >= '0' && b[i] <= '9')
		i++;
	if (i < 4)
		return false;
	for (; i < PIN_BLOCK; i++)
		if (b[i] != 0xFF)
			return false;
	return true;
}

static void
state_save(struct vcard *v)
{
	char tmp[4096], buf[128];
	int fd, n;
	char pin[PIN_BLOCK + 1] = { 0 }, puk[PIN_BLOCK + 1] = { 0 };
	size_t i;

	if (v->cfg.state_file == NULL)
		return;
	for (i = 0; i < PIN_BLOCK && v->pin[i] != 0xFF; i++)
		pin[i] = (char)v->pin[i];
	for (i = 0; i < PIN_BLOCK && v->puk[i] != 0xFF; i++)
		puk[i] = (char)v->puk[i];
	n = snprintf(buf, sizeof(buf), "pin=%s\npuk=%s\npin_tries=%d\npuk_tries=%d\n", pin, puk,
	             v->pin_tries, v->puk_tries);
	snprintf(tmp, sizeof(tmp), "%s.tmp", v->cfg.state_file);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		return;
	if (n > 0 && write(fd, buf, (size_t)n) == n && fsync(fd) == 0)
		rename(tmp, v->cfg.state_file);
	close(fd);
	OPENSSL_cleanse(buf, sizeof(buf));
}

static void
state_load(struct vcard *v)
{
	char line[128];
	FILE *f;
	char *end;
	long n;

	if (v->cfg.state_file == NULL || (f = fopen(v->cfg.state_file, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "pin=", 4) == 0)
			pin_pad(line + 4, 4, v->pin);
		else if (strncmp(line, "puk=", 4) == 0)
			pin_pad(line + 4, 4, v->puk);
		else if (strncmp(line, "pin_tries=", 10) == 0) {
			n = strtol(line + 10, &end, 10);
			if (*end == '\0' && n >= 0 && n <= PIN_MAX_TRIES)
				v->pin_tries = (int)n;
		} else if (strncmp(line, "puk_tries=", 10) == 0) {
			n = strtol(line + 10, &end, 10);
			if (*end == '\0' && n >= 0 && n <= PUK_MAX_TRIES)
				v->puk_tries = (int)n;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
}

static bool
load_key_cert(struct vcard *v, char *err, size_t errlen)
{
	FILE *f;
	X509 *x = NULL;
	unsigned char *p;
	int n;
	bool ok = false;

	if ((f = fopen(v->cfg.key_file, "r")) == NULL) {
		snprintf(err, errlen, "cannot open key %s: %s", v->cfg.key_file, strerror(errno));
		return false;
	}
	v->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(v->cfg.cert_file, "r")) == NULL) {
		snprintf(err, errlen, "cannot open cert %s: %s", v->cfg.cert_file, strerror(errno));
		return false;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (v->key == NULL || x == NULL) {
		snprintf(err, errlen, "key or certificate is not PEM");
		goto out;
	}
	v->rsa = EVP_PKEY_get_base_id(v->key) == EVP_PKEY_RSA;
	if (!v->rsa &&
	    !(EVP_PKEY_get_base_id(v->key) == EVP_PKEY_EC && EVP_PKEY_get_bits(v->key) == 256)) {
		snprintf(err, errlen, "the key is neither RSA nor P-256");
		goto out;
	}
	if (X509_check_private_key(x, v->key) != 1) {
		snprintf(err, errlen, "the certificate does not match the key");
		goto out;
	}
	n = i2d_X509(x, NULL);
	if (n <= 0 || (size_t)n > sizeof(v->cert)) {
		snprintf(err, errlen, "certificate too large");
		goto out;
	}
	p = v->cert;
	v->cert_len = (size_t)i2d_X509(x, &p);
	ok = true;
out:
	X509_free(x);
	return ok;
}

static void
build_info(struct vcard *v)
{
	unsigned char md[32];
	size_t n = strlen(v->cfg.label ? v->cfg.label : ""), i = 0;
	uint8_t *b = v->info;

	EVP_Digest(v->cert, v->cert_len, md, NULL, EVP_sha256(), NULL);
	memcpy(v->serial, md, CARD_SERIAL_LEN);
	if (n > 64)
		n = 64;
	b[i++] = 0x01, b[i++] = CARD_SERIAL_LEN;
	memcpy(b + i, v->serial, CARD_SERIAL_LEN), i += CARD_SERIAL_LEN;
	b[i++] = 0x02, b[i++] = (uint8_t)n;
	memcpy(b + i, v->cfg.label ? v->cfg.label : "", n), i += n;
	b[i++] = 0x03, b[i++] = 1, b[i++] = 0x01;
	b[i++] = 0x04, b[i++] = 1, b[i++] = v->rsa ? 0x02 : 0x04;
	v->info_len = i;
}

struct vcard *
vcard_new(const struct vcard_cfg *cfg, char *err, size_t errlen)
{
	struct vcard *v = calloc(1, sizeof(*v));

	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->cfg = *cfg;
	if (!load_key_cert(v, err, errlen))
		goto fail;
	if (!pin_pad(cfg->pin ? cfg->pin : "123456", 4, v->pin) ||
	    !pin_pad(cfg->puk ? cfg->puk : "12345678", 8, v->puk)) {
		snprintf(err, errlen, "PIN must be 4-8 digits, PUK 8 digits");
		goto fail;
	}
	v->pin_tries = cfg->pin_tries >= 0 ? cfg->pin_tries : PIN_MAX_TRIES;
	v->puk_tries = cfg->puk_tries >= 0 ? cfg->puk_tries : PUK_MAX_TRIES;
	state_load(v);
	state_save(v);
	build_info(v);
	return v;
fail:
	vcard_free(v);
	return NULL;
}

void
vcard_free(struct vcard *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_free(v->key);
	OPENSSL_cleanse(v, sizeof(*v));
	free(v);
}

void
vcard_reset(struct vcard *v)
{
	v->selected = v->verified = v->mse_set = false;
	v->ef = 0;
	v->pending_len = v->pending_off = 0;
}

/* ---- answers ----------------------------------------------------------------------------- */

static size_t
sw_only(uint8_t *out, uint16_t sw)
{
	out[0] = (uint8_t)(sw >> 8);
	out[1] = (uint8_t)sw;
	return 2;
}

/* Data answer: through 61xx on T=0 (PCSC.md §4), with 6Cxx under --strict-le, else direct. */
static size_t
data_answer(struct vcard *v, const struct capdu *c, const uint8_t *d, size_t n, uint16_t sw,
            uint8_t *out)
{
	size_t want = c->has_le ? c->le : 0;

	if (v->cfg.t0 || v->cfg.loop_61) {
		memcpy(v->pending, d, n);
		v->pending_len = n;
		v->pending_off = 0;
		if (v->cfg.loop_61)
			return sw_only(out, 0x6101);
		return sw_only(out, (uint16_t)(0x6100 | (n >= 256 ? 0 : n)));
	}
	if (v->cfg.loop_6c && c->has_le)
		return sw_only(out, (uint16_t)(0x6C00 | ((want + 1) & 0xFF)));
	if (v->cfg.strict_le && c->has_le && want != n && !(want == 256 && n > 256))
		return sw_only(out, (uint16_t)(0x6C00 | (n & 0xFF)));
	if (c->has_le && want < n)
		n = want;
	memcpy(out, d, n);
	out[n] = (uint8_t)(sw >> 8);
	out[n + 1] = (uint8_t)sw;
	return n + 2;
}

static size_t
get_response(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	size_t left = v->pending_len - v->pending_off, n;

	if (v->pending_len == 0)
		return sw_only(out, 0x6985);
	if (v->cfg.loop_61) { /* never ends: the engine must stop after 16 rounds */
		out[0] = v->pending[0];
		return 1 + sw_only(out + 1, 0x6101);
	}
	n = c->le < left ? c->le : left;
	memcpy(out, v->pending + v->pending_off, n);
	v->pending_off += n;
	left -= n;
	if (left == 0) {
		v->pending_len = v->pending_off = 0;
		return n + sw_only(out + n, 0x9000);
	}
	return n + sw_only(out + n, (uint16_t)(0x6100 | (left >= 256 ? 0 : left)));
}

/* ---- commands ---------------------------------------------------------------------------- */

static size_t
cmd_select(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	if (c->p1 == 0x04 && (c->p2 & 0xF3) == 0x00 && c->lc == sizeof(aid) &&
	    memcmp(c->data, aid, sizeof(aid)) == 0) {
		vcard_reset(v);
		v->selected = true;
		return sw_only(out, 0x9000);
	}
	if (c->p1 == 0x02 && c->lc == 2 && v->selected) {
		uint16_t fid = (uint16_t)(c->data[0] << 8 | c->data[1]);

		if (fid != 0xC000 && fid != 0xC101)
			return sw_only(out, 0x6A82);
		v->ef = fid;
		return sw_only(out, 0x9000);
	}
	if (c->p1 != 0x04 && c->p1 != 0x02)
		return sw_only(out, 0x6A86);
	return sw_only(out, 0x6A82);
}

static size_t
cmd_read_binary(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	const uint8_t *f = v->ef == 0xC101 ? v->cert : v->info;
	size_t size = v->ef == 0xC101 ? v->cert_len : v->info_len;
	size_t off = (size_t)(c->p1 & 0x7F) << 8 | c->p2, n;

	if (v->ef == 0)
		return sw_only(out, 0x6986);
	if (!c->has_le || c->lc != 0)
		return sw_only(out, 0x6700);
	if (off >= size)
		return sw_only(out, 0x6B00);
	n = size - off < c->le ? size - off : c->le;
	if (n < c->le && !v->cfg.strict_le && !v->cfg.t0) {
		memcpy(out, f + off, n); /* end of file before Le bytes */
		return n + sw_only(out + n, 0x6282);
	}
	return data_answer(v, c, f + off, n, 0x9000, out);
}

static uint16_t
counter_sw(int tries)
{
	return tries <= 0 ? 0x63C0 : (uint16_t)(0x63C0 | tries);
}

/* A wrong PIN or PUK costs a try, saved at once. */
static uint16_t
burn(struct vcard *v, int *tries)
{
	if (*tries > 0)
		(*tries)--;
	state_save(v);
	return counter_sw(*tries);
}

static size_t
cmd_verify(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	int *tries = c->p2 == 0x82 ? &v->puk_tries : &v->pin_tries;

	if (c->p1 != 0x00 || (c->p2 != 0x81 && c->p2 != 0x82))
		return sw_only(out, 0x6A86);
	if (c->lc == 0) { /* status query, free unless --status-query-burns (P14) */
		if (*tries == 0)
			return sw_only(out, 0x6983);
		if (v->cfg.status_query_burns)
			burn(v, tries);
		if (c->p2 == 0x81 && v->verified)
			return sw_only(out, 0x9000);
		return sw_only(out, *tries == 0 ? 0x6983 : counter_sw(*tries));
	}
	if (c->p2 == 0x82)
		return sw_only(out, 0x6A86); /* the PUK is only used by RESET RETRY COUNTER */
	if (c->lc != PIN_BLOCK)
		return sw_only(out, 0x6700);
	if (*tries == 0)
		return sw_only(out, 0x6983);
	if (!pin_block_valid(c->data) || CRYPTO_memcmp(c->data, v->pin, PIN_BLOCK) != 0) {
		v->verified = false;
		return sw_only(out, burn(v, tries));
	}
	v->pin_tries = PIN_MAX_TRIES;
	state_save(v);
	v->verified = true;
	return sw_only(out, 0x9000);
}

static size_t
cmd_change(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	if (c->p1 != 0x00 || c->p2 != 0x81)
		return sw_only(out, 0x6A86);
	if (c->lc != 2 * PIN_BLOCK)
		return sw_only(out, 0x6700);
	if (v->pin_tries == 0)
		return sw_only(out, 0x6983);
	if (CRYPTO_memcmp(c->data, v->pin, PIN_BLOCK) != 0) {
		v->verified = false;
		return sw_only(out, burn(v, &v->pin_tries));
	}
	if (!pin_block_valid(c->data + PIN_BLOCK))
		return sw_only(out, 0x6A80);
	memcpy(v->pin, c->data + PIN_BLOCK, PIN_BLOCK);
	v->pin_tries = PIN_MAX_TRIES;
	state_save(v);
	return sw_only(out, 0x9000);
}

static size_t
cmd_reset_counter(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	size_t need = c->p1 == 0x01 ? PIN_BLOCK : 2 * PIN_BLOCK;

	if ((c->p1 != 0x00 && c->p1 != 0x01) || c->p2 != 0x81)
		return sw_only(out, 0x6A86);
	if (c->lc != need)
		return sw_only(out, 0x6700);
	if (v->puk_tries == 0)
		return sw_only(out, 0x6983);
	if (CRYPTO_memcmp(c->data, v->puk, PIN_BLOCK) != 0)
		return sw_only(out, burn(v, &v->puk_tries));
	if (c->p1 == 0x00) {
		if (!pin_block_valid(c->data + PIN_BLOCK))
			return sw_only(out, 0x6A80);
		memcpy(v->pin, c->data + PIN_BLOCK, PIN_BLOCK);
	}
	v->puk_tries = PUK_MAX_TRIES;
	v->pin_tries = PIN_MAX_TRIES;
	v->verified = false;
	state_save(v);
	return sw_only(out, 0x9000);
}

static size_t
cmd_mse(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	const uint8_t *d = c->data;

	if (c->p1 != 0x41 || c->p2 != 0xB6)
		return sw_only(out, 0x6A86);
	if (c->lc != 6 || d[0] != 0x80 || d[1] != 1 || d[3] != 0x84 || d[4] != 1)
		return sw_only(out, 0x6A80);
	if (d[5] != 0x01)
		return sw_only(out, 0x6A88);
	if ((d[2] != 0x02 && d[2] != 0x04) || (d[2] == 0x02) != v->rsa)
		return sw_only(out, 0x6A81);
	v->mse_alg = d[2];
	v->mse_set = true;
	return sw_only(out, 0x9000);
}

static bool
digestinfo_known(const uint8_t *d, size_t n)
{
	static const uint8_t head[] = { 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
		                        0x48, 0x01, 0x65, 0x03, 0x04, 0x02 };
	uint8_t hash_len = n == 51 ? 32 : n == 67 ? 48 : 64;
	uint8_t oid_last = n == 51 ? 1 : n == 67 ? 2 : 3;

	if (n != 51 && n != 67 && n != 83)
		return false;
	return d[0] == 0x30 && d[1] == n - 2 && memcmp(d + 2, head, sizeof(head)) == 0 &&
	       d[14] == oid_last && d[15] == 0x05 && d[16] == 0x00 && d[17] == 0x04 &&
	       d[18] == hash_len;
}

static bool
do_sign(struct vcard *v, const uint8_t *in, size_t n, uint8_t *sig, size_t *sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(v->key, NULL);
	uint8_t der[160];
	size_t der_len = sizeof(der);
	bool ok = false;

	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1)
		goto out;
	if (v->rsa) {
		/* PKCS#1 v1.5 type 1 padding around the host's DigestInfo (no md set). */
		*sig_len = CARD_SIG_MAX;
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_sign(ctx, sig, sig_len, in, n) == 1;
	} else {
		ok = EVP_PKEY_sign(ctx, der, &der_len, in, n) == 1 &&
		     card_ecdsa_der_to_rs(der, der_len, 32, sig, 64) == CARD_OK;
		*sig_len = 64;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static size_t
cmd_pso(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	uint8_t sig[CARD_SIG_MAX];
	size_t sig_len = 0;
	struct timespec ts;

	if (c->p1 != 0x9E || c->p2 != 0x9A)
		return sw_only(out, 0x6A86);
	if (!v->verified)
		return sw_only(out, 0x6982);
	if (!v->mse_set)
		return sw_only(out, 0x6985);
	if (v->mse_alg == 0x04 && c->lc != 32)
		return sw_only(out, 0x6700);
	if (v->mse_alg == 0x02 && !digestinfo_known(c->data, c->lc))
		return sw_only(out, 0x6A80);
	if (v->cfg.sign_delay_ms > 0) {
		/* Tests wait for this line to pull the card in the middle of a slow PSO. */
		fprintf(stderr, "kyso-vcard: PSO: signing slowly (%u ms)\n", v->cfg.sign_delay_ms);
		ts.tv_sec = v->cfg.sign_delay_ms / 1000;
		ts.tv_nsec = (long)(v->cfg.sign_delay_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
	if (!do_sign(v, c->data, c->lc, sig, &sig_len))
		return sw_only(out, 0x6F00);
	if (v->cfg.pin_always)
		v->verified = false;
	return data_answer(v, c, sig, sig_len, 0x9000, out);
}

static size_t
cmd_get_data(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	if (c->p1 != 0x01 || c->p2 != 0x01)
		return sw_only(out, 0x6A88);
	if (!c->has_le || (c->le != CARD_SERIAL_LEN && c->le != 256))
		return sw_only(out, 0x6C00 | CARD_SERIAL_LEN);
	return data_answer(v, c, v->serial, CARD_SERIAL_LEN, 0x9000, out);
}

/* Short APDUs only (PCSC.md §4: v1 answers 6700 to extended framing). */
static bool
parse_capdu(const uint8_t *in, size_t len, struct capdu *c)
{
	memset(c, 0, sizeof(*c));
	if (len < 4)
		return false;
	c->cla = in[0], c->ins = in[1], c->p1 = in[2], c->p2 = in[3];
	if (len == 4)
		return true;
	if (len == 5) {
		c->has_le = true;
		c->le = in[4] ? in[4] : 256;
		return true;
	}
	if (in[4] == 0)
		return false; /* extended */
	c->lc = in[4];
	c->data = in + 5;
	if (len == 5 + c->lc)
		return true;
	if (len == 6 + c->lc) {
		c->has_le = true;
		c->le = in[len - 1] ? in[len - 1] : 256;
		return true;
	}
	return false;
}

static size_t
dispatch(struct vcard *v, const struct capdu *c, uint8_t *out)
{
	unsigned i;

	for (i = 0; i < v->cfg.n_sw_rules; i++)
		if (v->cfg.sw_rule_ins[i] == c->ins)
			return sw_only(out, v->cfg.sw_rule_sw[i]);
	if ((c->cla & 0xFC) != 0x00)
		return sw_only(out, 0x6E00);
	if (c->ins == 0xA4)
		return cmd_select(v, c, out);
	if (c->ins == 0xC0)
		return get_response(v, c, out);
	if (!v->selected)
		return sw_only(out, 0x6D00);
	v->pending_len = v->pending_off = 0; /* any other command drops a pending answer */
	switch (c->ins) {
	case 0xB0:
		return cmd_read_binary(v, c, out);
	case 0x20:
		return cmd_verify(v, c, out);
	case 0x24:
		return cmd_change(v, c, out);
	case 0x2C:
		return cmd_reset_counter(v, c, out);
	case 0x22:
		return cmd_mse(v, c, out);
	case 0x2A:
		return cmd_pso(v, c, out);
	case 0xCA:
		return cmd_get_data(v, c, out);
	default:
		return sw_only(out, 0x6D00);
	}
}

enum vcard_action
vcard_frame(struct vcard *v, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
            size_t *out_len)
{
	struct capdu c;

	if (cap < CARD_SIG_MAX + 2)
		return VCARD_DROP;
	if (len == 1) { /* vpcd control codes (PCSC.md §1.1) */
		if (in[0] == 0x04) {
			const uint8_t *a = v->cfg.t0 ? atr_t0 : atr_t1;
			*out_len = v->cfg.t0 ? sizeof(atr_t0) : sizeof(atr_t1);
			memcpy(out, a, *out_len);
			return VCARD_ANSWER;
		}
		vcard_reset(v); /* 00 off, 01 on, 02 reset: no answer */
		return VCARD_SILENT;
	}
	if (!parse_capdu(in, len, &c)) {
		*out_len = sw_only(out, 0x6700);
		return VCARD_ANSWER;
	}
	if (v->cfg.drop_ins >= 0 && c.ins == (uint8_t)v->cfg.drop_ins &&
	    ++v->drop_seen == v->cfg.drop_nth)
		return VCARD_DROP;
	*out_len = dispatch(v, &c, out);
	return VCARD_ANSWER;
}
