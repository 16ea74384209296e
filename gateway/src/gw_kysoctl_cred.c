/* gw_kysoctl_cred.c -- kysoctl credential: registration, import from a certificate file or
 * from the simulator's SIM provisioning file (TELECOM.md section 5.2), listing, lock (B14)
 * and revoke. Imports are idempotent: a certificate is known by the SHA-256 of its DER, a
 * card by its ICCID, a keyset by ICCID and KVN. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "gw_kysoctl_int.h"

#define CRED_USAGE                                                                                 \
	"credential add --org SLUG --type personal|org|device --device sim|token|hsm|soft\n"       \
	"                 [--person ID] [--msisdn M] [--token-serial S] [--name N]\n"              \
	"       kysoctl credential import --cert FILE --org SLUG [--person ID]\n"                  \
	"                 [--type T] [--device D] [--token-serial S] [--msisdn M]\n"               \
	"       kysoctl credential import --provision FILE --org SLUG\n"                           \
	"                 [--create-officials TITLE --classes C1,C2]\n"                            \
	"       kysoctl credential list [--org SLUG] [--json]\n"                                   \
	"       kysoctl credential lock ID | revoke ID"
#define CERT_FILE_MAX (64 * 1024)

/* What the database keeps of a certificate. */
struct cert_facts {
	char subject[512], cn[256], serial[130], key_alg[24], sha256[65];
	char not_before[40], not_after[40];
};

static bool
asn1_time_text(const ASN1_TIME *t, char *out, size_t cap)
{
	struct tm tm;
	int32_t day;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    pol_day_from_date(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, &day) != POL_OK)
		return false;
	kc_format_time((int64_t)day * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec, out,
	               cap);
	return true;
}

static void
key_alg_name(X509 *x, char *out, size_t cap)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	char group[64] = "";

	snprintf(out, cap, "other");
	if (k == NULL)
		return;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		snprintf(out, cap, "rsa-%d", EVP_PKEY_get_bits(k));
	} else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
	           EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) == 1) {
		if (strcmp(group, "prime256v1") == 0)
			snprintf(out, cap, "ec-p256");
		else if (strcmp(group, "secp384r1") == 0)
			snprintf(out, cap, "ec-p384");
		else if (strcmp(group, "secp521r1") == 0)
			snprintf(out, cap, "ec-p521");
		else
			snprintf(out, cap, "ec-%s", group);
	}
}

static void
name_texts(X509 *x, struct cert_facts *f)
{
	X509_NAME *name = X509_get_subject_name(x);
	BIO *b = BIO_new(BIO_s_mem());
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int n;

	/* RFC 2253 with UTF-8 kept as is (Vietnamese names). */
	if (b != NULL &&
	    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_read(b, f->subject, (int)sizeof(f->subject) - 1);
		f->subject[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	if (idx >= 0 &&
	    (n = ASN1_STRING_to_UTF8(
	             &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)))) >= 0) {
		snprintf(f->cn, sizeof(f->cn), "%.*s", n, (const char *)utf8);
		OPENSSL_free(utf8);
	}
}

static bool
cert_facts(const uint8_t *der, size_t len, struct cert_facts *f)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	uint8_t md[SHA256_DIGEST_LENGTH];
	BIGNUM *bn = NULL;
	char *hex = NULL;
	bool ok = false;

	memset(f, 0, sizeof(*f));
	if (x == NULL || p != der + len)
		goto out;
	SHA256(der, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(f->sha256 + 2 * i, 3, "%02x", md[i]);
	name_texts(x, f);
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL || strlen(hex) >= sizeof(f->serial))
		goto out;
	for (size_t i = 0; hex[i]; i++) /* serials print in upper case on Vietnamese forms */
		f->serial[i] = hex[i];
	key_alg_name(x, f->key_alg, sizeof(f->key_alg));
	ok = asn1_time_text(X509_get0_notBefore(x), f->not_before, sizeof(f->not_before)) &&
	     asn1_time_text(X509_get0_notAfter(x), f->not_after, sizeof(f->not_after));
out:
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return ok;
}

/* A PEM or DER certificate file, at most 64 KiB; *der is OPENSSL_malloc'ed. */
static bool
read_cert_file(const char *path, uint8_t **der, size_t *len)
{
	BIO *b = BIO_new_file(path, "rb");
	X509 *x = NULL;
	uint8_t *buf = NULL;
	int n;

	*der = NULL;
	if (b == NULL)
		return false;
	if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL) {
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	if (x == NULL || (n = i2d_X509(x, &buf)) <= 0 || n > CERT_FILE_MAX) {
		OPENSSL_free(buf);
		X509_free(x);
		return false;
	}
	X509_free(x);
	*der = buf;
	*len = (size_t)n;
	return true;
}

static void
facts_into(struct db_credential_rec *c, const struct cert_facts *f, const uint8_t *der, size_t len)
{
	c->cert_der = der;
	c->cert_len = len;
	c->cert_sha256 = f->sha256;
	c->subject = f->subject;
	c->display_name = f->cn[0] ? f->cn : NULL;
	c->serial_hex = f->serial;
	c->not_before = f->not_before;
	c->not_after = f->not_after;
	c->key_alg = f->key_alg;
}

static int
import_cert(struct kc *kc, struct db_credential_rec *c, const char *path)
{
	struct cert_facts f;
	uint8_t *der = NULL;
	size_t len = 0;
	char err[256] = "";
	int64_t id = 0;
	bool created = false;
	enum db_err rc;

	if (!read_cert_file(path, &der, &len) || !cert_facts(der, len, &f)) {
		OPENSSL_free(der);
		fprintf(stderr, "kysoctl: %s: not a readable PEM or DER certificate\n", path);
		return KC_REFUSED;
	}
	facts_into(c, &f, der, len);
	rc = db_admin_credential_add(kc->adm, c, &id, &created, err, sizeof(err));
	OPENSSL_free(der);
	if (rc != DB_OK)
		return kc_fail("credential import", rc, err);
	if (kc->json)
		return kc_print_obj(json_pack("{s:I, s:b, s:s, s:s}", "id", (json_int_t)id,
		                              "created", created, "serial", f.serial, "subject",
		                              f.subject));
	printf("credential %lld %s (serial %s)\n", (long long)id,
	       created ? "imported" : "known already", f.serial);
	return KC_OK;
}

struct prov_tally {
	int lines, imported, cred_new, card_new, people_new;
	json_t *errors;
	const char *title;   /* --create-officials: the title of a person made for a SIM */
	const char *classes; /* its document classes (JSON array text) */
	json_t *people;      /* the organisation's people before the import */
};

static void
line_error(struct prov_tally *t, int line, const char *what)
{
	json_array_append_new(t->errors, json_pack("{s:i, s:s}", "line", line, "error", what));
	fprintf(stderr, "kysoctl: provisioning line %d: %s\n", line, what);
}

/* --create-officials: a SIM whose MSISDN no person of the organisation has gets its own
 * official, "sim-<msisdn>", holding the given title (A3: titles come from the directory).
 * Run again, the person exists and nothing changes. */
static void
ensure_official(struct kc *kc, const char *org, const char *msisdn, struct prov_tally *t)
{
	char id[40], name[64], err[256] = "";
	struct db_person_rec p = { .id = id, .org = org, .full_name = name, .msisdn = msisdn };
	struct db_role_rec r = {
		.person = id, .org = org, .title = t->title, .classes_json = t->classes
	};
	enum db_err rc;

	const json_t *person;
	size_t i;

	json_array_foreach(t->people, i, person)
	{
		const char *m = json_string_value(json_object_get(person, "msisdn"));

		if (m != NULL && strcmp(m, msisdn) == 0)
			return; /* someone holds this number already */
	}
	snprintf(id, sizeof(id), "sim-%s", msisdn);
	snprintf(name, sizeof(name), "Cán bộ %s", msisdn);
	if ((rc = db_admin_person_add(kc->adm, &p, err, sizeof(err))) == DB_OK &&
	    (rc = db_admin_role_add(kc->adm, &r, NULL, err, sizeof(err))) == DB_OK)
		t->people_new++;
	else if (rc != DB_E_EXISTS)
		fprintf(stderr, "kysoctl: official for %s: %s\n", msisdn, err);
}

/* One parsed SIM into the database (one transaction). */
static void
import_sim(struct kc *kc, const char *org, const struct kc_prov_sim *s, int line,
           struct prov_tally *t)
{
	struct db_keyset_rec ks[KC_PROV_KEYSETS];
	struct db_sim_rec r = { .iccid = s->iccid, .msisdn = s->msisdn, .keysets = ks };
	struct db_sim_result res;
	struct cert_facts f;
	char err[256] = "";
	enum db_err rc;

	if (!cert_facts(s->cert, s->cert_len, &f))
		return line_error(t, line, "cert: not a DER certificate");
	r.carrier = s->carrier[0] ? s->carrier : NULL;
	r.tar = s->keysets[0].tar;
	r.cred = (struct db_credential_rec){
		.org = org, .type = "personal", .device = "sim", .msisdn = s->msisdn
	};
	facts_into(&r.cred, &f, s->cert, s->cert_len);
	r.cred.key_alg = s->key_alg;
	for (int i = 0; i < s->nkeysets; i++)
		ks[i] = (struct db_keyset_rec){ s->keysets[i].kvn,     s->keysets[i].kic_alg,
			                        s->keysets[i].kid_alg, s->keysets[i].tar,
			                        s->keysets[i].kic,     s->keysets[i].kid,
			                        s->keysets[i].kic_len, s->keysets[i].kid_len,
			                        s->keysets[i].counter };
	r.nkeysets = s->nkeysets;
	if (t->title != NULL)
		ensure_official(kc, org, s->msisdn, t);
	rc = db_admin_sim_import(kc->adm, &r, &res, err, sizeof(err));
	explicit_bzero(ks, sizeof(ks));
	if (rc != DB_OK)
		return line_error(t, line, err);
	t->imported++;
	t->cred_new += res.credential_created;
	t->card_new += res.card_created;
}

static int
load_people(struct kc *kc, const char *org, json_t **out)
{
	char err[256] = "", *txt = NULL;
	enum db_err rc = db_admin_person_list(kc->adm, org, &txt, err, sizeof(err));

	if (rc != DB_OK)
		return kc_fail("credential import", rc, err);
	*out = json_loads(txt, 0, NULL);
	free(txt);
	return *out != NULL ? KC_OK : KC_DB;
}

static int
import_provision(struct kc *kc, const char *org, const char *path, const char *title,
                 const char *classes)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(KC_PROV_LINE_MAX + 2), err[256];
	struct kc_prov_sim *sim = malloc(sizeof(*sim));
	struct prov_tally t = { .errors = json_array(), .title = title, .classes = classes };
	int status = KC_OK;

	if (f == NULL || buf == NULL || sim == NULL) {
		fprintf(stderr, "kysoctl: %s: cannot read\n", path);
		status = f == NULL ? KC_REFUSED : KC_DB;
		goto out;
	}
	if (title != NULL && (status = load_people(kc, org, &t.people)) != KC_OK)
		goto out;
	while (fgets(buf, KC_PROV_LINE_MAX + 2, f) != NULL) {
		size_t n = strlen(buf);

		t.lines++;
		if (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		else if (!feof(f)) { /* longer than the cap: skip the rest of it */
			line_error(&t, t.lines, "line over 64 KiB");
			while (fgets(buf, KC_PROV_LINE_MAX + 2, f) != NULL && !strchr(buf, '\n'))
				;
			continue;
		}
		if (n == 0) {
			t.lines--; /* a blank line (the last one, usually) is not a SIM */
			continue;
		}
		if (!kc_prov_parse(buf, n, sim, err, sizeof(err)))
			line_error(&t, t.lines, err);
		else
			import_sim(kc, org, sim, t.lines, &t);
		kc_prov_wipe(sim);
	}
	if (json_array_size(t.errors) > 0)
		status = KC_REFUSED;
	if (t.cred_new + t.card_new + t.people_new > 0 &&
	    db_admin_directory_analyze(kc->adm, err, sizeof(err)) != DB_OK)
		fprintf(stderr, "kysoctl: statistics not refreshed: %s\n", err);
	if (kc->json)
		(void)kc_print_obj(json_pack("{s:i, s:i, s:i, s:i, s:i, s:O}", "lines", t.lines,
		                             "imported", t.imported, "credentials_new", t.cred_new,
		                             "cards_new", t.card_new, "officials_new", t.people_new,
		                             "errors", t.errors));
	else
		printf("%d lines, %d SIMs imported (%d new credentials, %d new cards, %d new "
		       "officials), %zu errors\n",
		       t.lines, t.imported, t.cred_new, t.card_new, t.people_new,
		       json_array_size(t.errors));
out:
	if (buf != NULL)
		explicit_bzero(buf, KC_PROV_LINE_MAX + 2); /* the lines carry OTA keys */
	free(buf);
	free(sim);
	json_decref(t.errors);
	json_decref(t.people);
	if (f != NULL)
		fclose(f);
	return status;
}

static int
import_provision_opts(struct kc *kc, const char *org, const char *prov, const char *title,
                      json_t *classes)
{
	char *txt = NULL;
	int status;

	if (title != NULL && json_array_size(classes) == 0)
		return kc_usage(CRED_USAGE, "--create-officials needs --classes");
	if (title != NULL && (txt = json_dumps(classes, JSON_COMPACT)) == NULL)
		return KC_DB;
	status = import_provision(kc, org, prov, title, txt);
	free(txt);
	return status;
}

static int
cred_import(struct kc *kc, int argc, char **argv, bool add_only)
{
	struct db_credential_rec c = { 0 };
	const char *cert = NULL, *prov = NULL, *title = NULL;
	json_t *classes = json_array();
	struct kc_opt o[] = {
		{ "org", KC_STR, &c.org, NULL, NULL, true, false },
		{ "person", KC_STR, &c.person, NULL, NULL, false, false },
		{ "type", KC_STR, &c.type, NULL, NULL, add_only, false },
		{ "device", KC_STR, &c.device, NULL, NULL, add_only, false },
		{ "msisdn", KC_STR, &c.msisdn, NULL, NULL, false, false },
		{ "token-serial", KC_STR, &c.token_serial, NULL, NULL, false, false },
		{ "name", KC_STR, &c.display_name, NULL, NULL, false, false },
		{ "cert", KC_STR, &cert, NULL, NULL, false, false },
		{ "provision", KC_STR, &prov, NULL, NULL, false, false },
		{ "create-officials", KC_STR, &title, NULL, NULL, false, false },
		{ "classes", KC_LIST, NULL, NULL, classes, false, false },
	};
	char err[256] = "";
	int64_t id = 0;
	bool created = false;
	int status;
	enum db_err rc;

	if (!kc_parse(argc, argv, 1, o, add_only ? 7 : 11, NULL, 0, &kc->json, err, sizeof(err)))
		status = kc_usage(CRED_USAGE, err);
	else if (prov != NULL && cert != NULL)
		status = kc_usage(CRED_USAGE, "--cert or --provision, not both");
	else if (prov != NULL)
		status = import_provision_opts(kc, c.org, prov, title, classes);
	else if (!add_only && cert == NULL)
		status = kc_usage(CRED_USAGE, "import needs --cert or --provision");
	else {
		if (c.type == NULL)
			c.type = c.person != NULL ? "personal" : "org";
		if (c.device == NULL)
			c.device = "token";
		if (!add_only)
			status = import_cert(kc, &c, cert);
		else if ((rc = db_admin_credential_add(kc->adm, &c, &id, &created, err,
		                                       sizeof(err))) != DB_OK)
			status = kc_fail("credential add", rc, err);
		else
			status = kc_show_added(kc, "credential", NULL, NULL, id);
	}
	json_decref(classes);
	return status;
}

/* lock: B14 (active → locked; recovery unlocks). revoke: any state but revoked. */
static int
cred_state(struct kc *kc, int argc, char **argv)
{
	bool lock = strcmp(argv[0], "lock") == 0;
	const char *pos[1] = { NULL };
	char err[256] = "";
	int64_t id;
	enum db_err rc;

	if (!kc_parse(argc, argv, 1, NULL, 0, pos, 1, &kc->json, err, sizeof(err)) ||
	    !kc_parse_i64(pos[0], 1, INT64_MAX, &id))
		return kc_usage(CRED_USAGE, err[0] ? err : "needs a credential id");
	rc = db_admin_credential_set_state(
	        kc->adm, id, lock ? "locked" : "revoked",
	        lock ? "[\"active\"]" : "[\"active\", \"locked\", \"lost\"]", err, sizeof(err));
	if (rc == DB_E_NOTFOUND)
		snprintf(err, sizeof(err), "no credential %lld in a state that can be %s",
		         (long long)id, lock ? "locked (active)" : "revoked");
	if (rc != DB_OK)
		return kc_fail(lock ? "credential lock" : "credential revoke", rc, err);
	if (kc->json)
		return kc_print_obj(json_pack("{s:I, s:s}", "id", (json_int_t)id, "state",
		                              lock ? "locked" : "revoked"));
	printf("credential %lld %s\n", (long long)id, lock ? "locked" : "revoked");
	return KC_OK;
}

int
kc_cmd_credential(struct kc *kc, int argc, char **argv)
{
	static const char *const keys[] = { "id",     "org",        "person", "type",      "device",
		                            "msisdn", "serial_hex", "state",  "not_after", NULL };
	const char *org = NULL;
	struct kc_opt list[] = { { "org", KC_STR, &org, NULL, NULL, false, false } };
	char err[256] = "", *json = NULL;
	enum db_err rc;

	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return cred_import(kc, argc, argv, true);
	if (argc >= 1 && strcmp(argv[0], "import") == 0)
		return cred_import(kc, argc, argv, false);
	if (argc >= 1 && (strcmp(argv[0], "lock") == 0 || strcmp(argv[0], "revoke") == 0))
		return cred_state(kc, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (!kc_parse(argc, argv, 1, list, 1, NULL, 0, &kc->json, err, sizeof(err)))
			return kc_usage(CRED_USAGE, err);
		rc = db_admin_credential_list(kc->adm, org, &json, err, sizeof(err));
		return kc_show_list(kc, "credential list", rc, json, err, keys);
	}
	return kc_usage(CRED_USAGE, NULL);
}
