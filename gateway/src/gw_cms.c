/* gw_cms.c -- a detached CMS SignedData around a signature made elsewhere, written straight in
 * DER with gw_der.h (PERFORMANCE.md G2: going through OpenSSL's CMS API cost about a fifth of
 * the gateway's CPU per signature). The structure is fixed, so it is laid out here field by
 * field (RFC 5652 5.1-5.4) with the same attributes and algorithm identifiers OpenSSL's
 * CMS_sign / CMS_add1_signer (CMS_CADES, CMS_NOSMIMECAP) produced; OpenSSL still gives the
 * digests, the certificates' encodings and the signature check. gw_der writes backwards, so
 * every structure below is written from its last field to its first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "gw_cms.h"
#include "gw_der.h"

/* OID contents (the bytes after tag and length). */
static const uint8_t OID_DATA[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01 };
static const uint8_t OID_SIGNED_DATA[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02 };
static const uint8_t OID_CONTENT_TYPE[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03 };
static const uint8_t OID_MESSAGE_DIGEST[] = {
	0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x04
};
static const uint8_t OID_SIGNING_TIME[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05 };
/* id-aa-signingCertificateV2, RFC 5035 */
static const uint8_t OID_SIGNING_CERT_V2[] = { 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D,
	                                       0x01, 0x09, 0x10, 0x02, 0x2F };
static const uint8_t OID_RSA_ENCRYPTION[] = {
	0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01
};

/* The hash is named by the document digest's length (gw_vfy_md_for_len). */
struct hash_alg {
	size_t len;
	const char *name;
	uint8_t oid[9];       /* id-sha256/384/512, RFC 5754 2 */
	uint8_t ecdsa_oid[8]; /* ecdsa-with-SHA256/384/512, RFC 5754 3.3 */
};

static const struct hash_alg HASHES[] = {
	{ 32,
	  "SHA256",
	  { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01 },
	  { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02 } },
	{ 48,
	  "SHA384",
	  { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02 },
	  { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03 } },
	{ 64,
	  "SHA512",
	  { 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03 },
	  { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04 } },
};
#define NHASHES (sizeof(HASHES) / sizeof(HASHES[0]))

/* Fetched once for the process, not implicitly at every digest (PERFORMANCE.md section 3). */
static EVP_MD *fetched[NHASHES];
static CRYPTO_ONCE fetch_once = CRYPTO_ONCE_STATIC_INIT;

static void
fetch_hashes(void)
{
	for (size_t i = 0; i < NHASHES; i++)
		fetched[i] = EVP_MD_fetch(NULL, HASHES[i].name, NULL);
}

static const struct hash_alg *
hash_for_len(size_t len)
{
	for (size_t i = 0; i < NHASHES; i++)
		if (HASHES[i].len == len)
			return &HASHES[i];
	return NULL;
}

static const EVP_MD *
md_of(const struct hash_alg *h)
{
	if (!CRYPTO_THREAD_run_once(&fetch_once, fetch_hashes))
		return NULL;
	return fetched[h - HASHES];
}

static bool
hash(const struct hash_alg *h, const uint8_t *in, size_t len, uint8_t *out)
{
	const EVP_MD *md = md_of(h);
	unsigned int n = 0;

	return md != NULL && EVP_Digest(in, len, out, &n, md, NULL) == 1 && n == h->len;
}

/* ---- pieces taken from the certificate ---- */

/* The certificate's DER (OPENSSL_malloc'ed): i2d_X509 copies the tbsCertificate as parsed and
 * encodes only the outer signature fields again. */
static bool
cert_der(X509 *x, uint8_t **der, size_t *len)
{
	int n;

	*der = NULL;
	if ((n = i2d_X509(x, der)) <= 0)
		return false;
	*len = (size_t)n;
	return true;
}

/* The certificate's issuer Name and serialNumber INTEGER, each a complete DER TLV: the Name
 * points into the encoding cert keeps (X509_NAME_get0_der), the INTEGER is copied here. */
struct issuer_serial {
	const uint8_t *name;
	size_t name_len;
	uint8_t serial[64]; /* RFC 5280 4.1.2.2 allows 20 octets of content */
	size_t serial_len;
};

static bool
issuer_serial_of(X509 *cert, struct issuer_serial *is)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
	const unsigned char *name = NULL;
	unsigned char *p = is->serial;
	size_t name_len = 0;
	int n;

	if (X509_NAME_get0_der(X509_get_issuer_name(cert), &name, &name_len) != 1 || sn == NULL ||
	    (n = i2d_ASN1_INTEGER(sn, NULL)) <= 0 || (size_t)n > sizeof(is->serial) ||
	    i2d_ASN1_INTEGER(sn, &p) != n)
		return false;
	is->name = name;
	is->name_len = name_len;
	is->serial_len = (size_t)n;
	return true;
}

/* IssuerAndSerialNumber (RFC 5652 10.2.4). */
static void
der_issuer_and_serial(struct gw_der *d, const struct issuer_serial *is)
{
	size_t end = d->pos;

	gw_der_put(d, is->serial, is->serial_len);
	gw_der_put(d, is->name, is->name_len);
	gw_der_close(d, GW_DER_SEQUENCE, end);
}

/* ---- the signed attributes (RFC 5652 5.3, 11.1-11.3; RFC 5035 5.4) ---- */

/* signingTime: UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5652 11.3). */
static bool
der_signing_time(struct gw_der *d, time_t when)
{
	struct tm tm;
	char txt[20];
	int n, year;

	if (gmtime_r(&when, &tm) == NULL)
		return false;
	year = tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		return false;
	if (year >= 1950 && year <= 2049) {
		n = snprintf(txt, sizeof(txt), "%02d%02d%02d%02d%02d%02dZ", year % 100,
		             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		gw_der_prim(d, GW_DER_UTC_TIME, txt, (size_t)n);
	} else {
		n = snprintf(txt, sizeof(txt), "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1,
		             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		gw_der_prim(d, GW_DER_GEN_TIME, txt, (size_t)n);
	}
	return true;
}

/* SigningCertificateV2 { certs { ESSCertIDv2 { [hashAlgorithm], certHash, issuerSerial } } }:
 * the hash of the certificate is the signature's own hash, and hashAlgorithm is left out when it
 * is SHA-256, its DEFAULT (X.690 11.5), as OpenSSL's CMS_CADES wrote it. */
static void
der_signing_cert_v2(struct gw_der *d, const struct hash_alg *h, const uint8_t *cert_hash,
                    const struct issuer_serial *is)
{
	/* each of the four SEQUENCEs closed at end holds its content up to the same point */
	size_t end = d->pos, names;

	gw_der_put(d, is->serial, is->serial_len);
	names = d->pos;
	gw_der_put(d, is->name, is->name_len);
	gw_der_close(d, GW_DER_CTX4, names);
	gw_der_close(d, GW_DER_SEQUENCE, names); /* GeneralNames */
	gw_der_close(d, GW_DER_SEQUENCE, end);   /* IssuerSerial */
	gw_der_prim(d, GW_DER_OCTET_STRING, cert_hash, h->len);
	if (h->len != 32)
		gw_der_alg(d, h->oid, sizeof(h->oid));
	gw_der_close(d, GW_DER_SEQUENCE, end); /* ESSCertIDv2 */
	gw_der_close(d, GW_DER_SEQUENCE, end); /* certs: SEQUENCE OF ESSCertIDv2 */
	gw_der_close(d, GW_DER_SEQUENCE, end); /* SigningCertificateV2 */
}

/* Attribute { attrType, attrValues SET { value } } around a value already written at end. */
static void
der_attr_close(struct gw_der *d, const uint8_t *oid, size_t oid_len, size_t end)
{
	gw_der_close(d, GW_DER_SET, end);
	gw_der_prim(d, GW_DER_OID, oid, oid_len);
	gw_der_close(d, GW_DER_SEQUENCE, end);
}

#define NATTRS 4

/* The four attributes, each written into scratch and recorded in a[]. */
static bool
write_attrs(struct gw_der *d, const struct hash_alg *h, const uint8_t *digest, time_t signing_time,
            const uint8_t *cert_hash, const struct issuer_serial *is, struct gw_der_span a[NATTRS])
{
	static const struct {
		const uint8_t *oid;
		size_t len;
	} types[NATTRS] = {
		{ OID_CONTENT_TYPE, sizeof(OID_CONTENT_TYPE) },
		{ OID_SIGNING_TIME, sizeof(OID_SIGNING_TIME) },
		{ OID_MESSAGE_DIGEST, sizeof(OID_MESSAGE_DIGEST) },
		{ OID_SIGNING_CERT_V2, sizeof(OID_SIGNING_CERT_V2) },
	};
	size_t end;

	for (int i = 0; i < NATTRS; i++) {
		end = d->pos;
		switch (i) {
		case 0:
			gw_der_prim(d, GW_DER_OID, OID_DATA, sizeof(OID_DATA));
			break;
		case 1:
			if (!der_signing_time(d, signing_time))
				return false;
			break;
		case 2:
			gw_der_prim(d, GW_DER_OCTET_STRING, digest, h->len);
			break;
		default:
			der_signing_cert_v2(d, h, cert_hash, is);
			break;
		}
		der_attr_close(d, types[i].oid, types[i].len, end);
		if (!d->ok)
			return false;
		a[i].p = d->buf + d->pos;
		a[i].len = end - d->pos;
	}
	return true;
}

enum gw_cms_err
gw_cms_attrs(X509 *cert, const uint8_t *doc_digest, size_t digest_len, time_t signing_time,
             uint8_t **attrs, size_t *attrs_len, uint8_t *tbs, size_t tbs_cap, size_t *tbs_len)
{
	const struct hash_alg *h = hash_for_len(digest_len);
	uint8_t cert_hash[GW_CMS_DIGEST_MAX], *cder = NULL, *scratch = NULL, *out = NULL;
	struct issuer_serial is;
	struct gw_der_span a[NATTRS];
	size_t cder_len = 0, cap, total = 0;
	struct gw_der d;
	EVP_PKEY *pub;
	enum gw_cms_err rc = GW_CMS_E_CRYPTO;

	if (cert == NULL || doc_digest == NULL || h == NULL || tbs_cap < GW_CMS_DIGEST_MAX)
		return GW_CMS_E_INPUT;
	pub = X509_get0_pubkey(cert);
	if (pub == NULL || !(EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "EC")))
		return GW_CMS_E_KEY;
	if (!issuer_serial_of(cert, &is) || !cert_der(cert, &cder, &cder_len) ||
	    !hash(h, cder, cder_len, cert_hash))
		goto out;
	/* Fixed parts: OIDs, time, digest, hash algorithm and headers fit in 512 bytes. */
	cap = 512 + 2 * GW_CMS_DIGEST_MAX + is.name_len + is.serial_len;
	if ((scratch = malloc(cap)) == NULL)
		goto out;
	d = (struct gw_der){ .buf = scratch, .pos = cap, .ok = true };
	if (!write_attrs(&d, h, doc_digest, signing_time, cert_hash, &is, a))
		goto out;
	for (int i = 0; i < NATTRS; i++)
		total += a[i].len;
	/* The SET OF, exact size: what the transaction keeps while the device works (G5). */
	cap = gw_der_header_len(total) + total;
	if ((out = OPENSSL_malloc(cap)) == NULL)
		goto out;
	d = (struct gw_der){ .buf = out, .pos = cap, .ok = true };
	gw_der_set_of(&d, GW_DER_SET, a, NATTRS);
	/* RFC 5652 5.4: the digest is over the explicit SET OF tag, not the SignerInfo's [0]. */
	if (!d.ok || d.pos != 0 || !hash(h, out, cap, tbs))
		goto out;
	*tbs_len = h->len;
	*attrs = out;
	*attrs_len = cap;
	out = NULL;
	rc = GW_CMS_OK;
out:
	ERR_clear_error();
	OPENSSL_free(cder);
	OPENSSL_free(out);
	free(scratch);
	return rc;
}

/* ---- the prepared SignedData ---- */

struct gw_cms_prep {
	X509 *cert;
	STACK_OF(X509) * extra; /* up-referenced copy, NULL: none */
	const struct hash_alg *hash;
	uint8_t tbs[GW_CMS_DIGEST_MAX];
	size_t tbs_len;
	uint8_t *attrs; /* the signed attributes' DER SET OF (tag 0x31) */
	size_t attrs_len;
};

const char *
gw_cms_strerror(enum gw_cms_err e)
{
	switch (e) {
	case GW_CMS_OK:
		return "ok";
	case GW_CMS_E_INPUT:
		return "bad input (digest length or certificate)";
	case GW_CMS_E_KEY:
		return "unsupported key type";
	case GW_CMS_E_SIGNATURE:
		return "the signature does not verify";
	case GW_CMS_E_CRYPTO:
		return "OpenSSL failure";
	}
	return "unknown error";
}

void
gw_cms_prep_free(struct gw_cms_prep *p)
{
	if (p == NULL)
		return;
	X509_free(p->cert);
	sk_X509_pop_free(p->extra, X509_free);
	OPENSSL_free(p->attrs);
	free(p);
}

const uint8_t *
gw_cms_prep_tbs(const struct gw_cms_prep *p, size_t *len)
{
	*len = p->tbs_len;
	return p->tbs;
}

/* A prep around attributes already built: takes *attrs on success. */
static enum gw_cms_err
prep_new(X509 *cert, STACK_OF(X509) * extra, const struct hash_alg *h, uint8_t **attrs,
         size_t attrs_len, struct gw_cms_prep **out)
{
	struct gw_cms_prep *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return GW_CMS_E_CRYPTO;
	if (!X509_up_ref(cert)) {
		free(p);
		return GW_CMS_E_CRYPTO;
	}
	p->cert = cert;
	p->hash = h;
	if ((extra != NULL && sk_X509_num(extra) > 0 &&
	     (p->extra = X509_chain_up_ref(extra)) == NULL) ||
	    !hash(h, *attrs, attrs_len, p->tbs)) {
		ERR_clear_error();
		gw_cms_prep_free(p);
		return GW_CMS_E_CRYPTO;
	}
	p->tbs_len = h->len;
	p->attrs = *attrs;
	p->attrs_len = attrs_len;
	*attrs = NULL;
	*out = p;
	return GW_CMS_OK;
}

enum gw_cms_err
gw_cms_prepare(X509 *cert, STACK_OF(X509) * extra, const uint8_t *doc_digest, size_t digest_len,
               time_t signing_time, struct gw_cms_prep **out, uint8_t *tbs, size_t tbs_cap,
               size_t *tbs_len)
{
	uint8_t *attrs = NULL;
	size_t attrs_len = 0;
	enum gw_cms_err rc = gw_cms_attrs(cert, doc_digest, digest_len, signing_time, &attrs,
	                                  &attrs_len, tbs, tbs_cap, tbs_len);

	if (rc == GW_CMS_OK)
		rc = prep_new(cert, extra, hash_for_len(digest_len), &attrs, attrs_len, out);
	OPENSSL_free(attrs);
	return rc;
}

enum gw_cms_err
gw_cms_prepare_from_attrs(X509 *cert, STACK_OF(X509) * extra, const uint8_t *attrs,
                          size_t attrs_len, size_t digest_len, struct gw_cms_prep **out)
{
	const struct hash_alg *h = hash_for_len(digest_len);
	uint8_t *copy;
	enum gw_cms_err rc;

	if (cert == NULL || attrs == NULL || attrs_len < 2 || attrs[0] != GW_DER_SET || h == NULL)
		return GW_CMS_E_INPUT;
	if ((copy = OPENSSL_memdup(attrs, attrs_len)) == NULL)
		return GW_CMS_E_CRYPTO;
	rc = prep_new(cert, extra, h, &copy, attrs_len, out);
	OPENSSL_free(copy);
	return rc;
}

/* signatureAlgorithm: rsaEncryption with NULL parameters (RFC 3370 3.2) or ecdsa-with-SHAx. */
static void
der_sig_alg(struct gw_der *d, const struct hash_alg *h, bool rsa)
{
	size_t end = d->pos;

	if (rsa) {
		gw_der_put(d, (const uint8_t[]){ GW_DER_NULL, 0x00 }, 2);
		gw_der_prim(d, GW_DER_OID, OID_RSA_ENCRYPTION, sizeof(OID_RSA_ENCRYPTION));
		gw_der_close(d, GW_DER_SEQUENCE, end);
	} else {
		gw_der_alg(d, h->ecdsa_oid, sizeof(h->ecdsa_oid));
	}
}

/* SignerInfo (RFC 5652 5.3), version 1: sid is issuerAndSerialNumber. */
static void
der_signer_info(struct gw_der *d, const struct gw_cms_prep *p, const struct issuer_serial *is,
                bool rsa, const uint8_t *sig, size_t sig_len)
{
	size_t end = d->pos;

	gw_der_prim(d, GW_DER_OCTET_STRING, sig, sig_len);
	der_sig_alg(d, p->hash, rsa);
	gw_der_put(d, p->attrs, p->attrs_len);
	if (d->ok)
		d->buf[d->pos] =
		        GW_DER_CTX0; /* signedAttrs [0] IMPLICIT: the same SET OF, retagged */
	gw_der_alg(d, p->hash->oid, sizeof(p->hash->oid));
	der_issuer_and_serial(d, is);
	gw_der_small_int(d, 1);
	gw_der_close(d, GW_DER_SEQUENCE, end);
}

/* ContentInfo { id-signedData, [0] SignedData } (RFC 5652 3, 5.1): version 1, one digest
 * algorithm, id-data without content (detached), certificates [0] IMPLICIT, one SignerInfo. */
static bool
der_content_info(struct gw_der *d, const struct gw_cms_prep *p, const struct issuer_serial *is,
                 bool rsa, const uint8_t *sig, size_t sig_len, struct gw_der_span *certs,
                 size_t ncerts)
{
	size_t ci = d->pos, sd, sis, alg;

	sd = d->pos;
	sis = d->pos;
	der_signer_info(d, p, is, rsa, sig, sig_len);
	gw_der_close(d, GW_DER_SET, sis);
	gw_der_set_of(d, GW_DER_CTX0, certs, ncerts);
	alg = d->pos;
	gw_der_prim(d, GW_DER_OID, OID_DATA, sizeof(OID_DATA));
	gw_der_close(d, GW_DER_SEQUENCE, alg); /* EncapsulatedContentInfo, no eContent */
	alg = d->pos;
	gw_der_alg(d, p->hash->oid, sizeof(p->hash->oid));
	gw_der_close(d, GW_DER_SET, alg); /* digestAlgorithms */
	gw_der_small_int(d, 1);
	gw_der_close(d, GW_DER_SEQUENCE, sd);
	gw_der_close(d, GW_DER_CTX0, sd); /* content [0] EXPLICIT */
	gw_der_prim(d, GW_DER_OID, OID_SIGNED_DATA, sizeof(OID_SIGNED_DATA));
	gw_der_close(d, GW_DER_SEQUENCE, ci);
	return d->ok;
}

/* The certificates' DER, the signer's then extra: der[i] OPENSSL_malloc'ed, s[i] over it
 * (the spans are sorted for the SET OF, der[] keeps them for freeing). */
static bool
certs_der(const struct gw_cms_prep *p, uint8_t **der, struct gw_der_span *s, size_t n,
          size_t *total)
{
	size_t len;

	*total = 0;
	for (size_t i = 0; i < n; i++) {
		if (!cert_der(i == 0 ? p->cert : sk_X509_value(p->extra, (int)i - 1), &der[i],
		              &len))
			return false;
		s[i].p = der[i];
		s[i].len = len;
		*total += len;
	}
	return true;
}

static enum gw_cms_err
assemble(const struct gw_cms_prep *p, bool rsa, const uint8_t *sig, size_t sig_len, uint8_t **der,
         size_t *der_len)
{
	size_t ncerts = 1 + (p->extra != NULL ? (size_t)sk_X509_num(p->extra) : 0), total = 0, cap;
	struct gw_der_span *certs = calloc(ncerts, sizeof(*certs));
	uint8_t **owned = calloc(ncerts, sizeof(*owned)), *buf = NULL;
	enum gw_cms_err rc = GW_CMS_E_CRYPTO;
	struct issuer_serial is;
	struct gw_der d;

	if (certs == NULL || owned == NULL || !issuer_serial_of(p->cert, &is) ||
	    !certs_der(p, owned, certs, ncerts, &total))
		goto out;
	/* Headers and the fixed fields fit in 256 bytes. */
	cap = 256 + total + p->attrs_len + sig_len + is.name_len + is.serial_len;
	if ((buf = OPENSSL_malloc(cap)) == NULL)
		goto out;
	d = (struct gw_der){ .buf = buf, .pos = cap, .ok = true };
	if (!der_content_info(&d, p, &is, rsa, sig, sig_len, certs, ncerts))
		goto out;
	memmove(buf, buf + d.pos, cap - d.pos);
	*der = buf;
	*der_len = cap - d.pos;
	buf = NULL;
	rc = GW_CMS_OK;
out:
	for (size_t i = 0; owned != NULL && i < ncerts; i++)
		OPENSSL_free(owned[i]);
	free(owned);
	free(certs);
	OPENSSL_free(buf);
	return rc;
}

static enum gw_cms_err
finish(struct gw_cms_prep *p, enum gw_vfy_scheme scheme, const uint8_t *sig, size_t sig_len,
       uint8_t **der, size_t *der_len, bool check)
{
	EVP_PKEY *pub = X509_get0_pubkey(p->cert);
	enum gw_cms_err rc;
	uint8_t *ecdsa = NULL;
	size_t ecdsa_len = 0;

	/* The SignerInfo names rsaEncryption (PKCS#1 v1.5) or ecdsa-with-SHAx: PSS would need
	 * RSASSA-PSS parameters there. */
	if (scheme == GW_SIG_RSA_PSS || pub == NULL)
		return GW_CMS_E_INPUT;
	if (check && gw_vfy_signature(pub, scheme, gw_vfy_md_for_len(p->tbs_len), p->tbs,
	                              p->tbs_len, sig, sig_len) != GW_VFY_OK)
		return GW_CMS_E_SIGNATURE;
	if (scheme == GW_SIG_ECDSA) {
		/* the SignerInfo carries Ecdsa-Sig-Value (RFC 5753 7.2), the device gave r||s */
		if (!gw_vfy_ecdsa_to_der(pub, sig, sig_len, &ecdsa, &ecdsa_len))
			return GW_CMS_E_SIGNATURE;
		sig = ecdsa;
		sig_len = ecdsa_len;
	}
	rc = assemble(p, scheme == GW_SIG_RSA_PKCS1, sig, sig_len, der, der_len);
	ERR_clear_error();
	OPENSSL_free(ecdsa);
	return rc;
}

enum gw_cms_err
gw_cms_finish(struct gw_cms_prep *p, enum gw_vfy_scheme scheme, const uint8_t *sig, size_t sig_len,
              uint8_t **der, size_t *der_len)
{
	return finish(p, scheme, sig, sig_len, der, der_len, true);
}

enum gw_cms_err
gw_cms_finish_verified(struct gw_cms_prep *p, enum gw_vfy_scheme scheme, const uint8_t *sig,
                       size_t sig_len, uint8_t **der, size_t *der_len)
{
	return finish(p, scheme, sig, sig_len, der, der_len, false);
}

enum gw_cms_err
gw_cms_digestinfo(const uint8_t *digest, size_t digest_len, uint8_t **der, size_t *der_len)
{
	int md_nid = gw_vfy_md_for_len(digest_len), n;
	enum gw_cms_err rc = GW_CMS_E_CRYPTO;
	X509_SIG *di = NULL;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *os;
	unsigned char *buf = NULL;

	if (digest == NULL || md_nid == NID_undef)
		return GW_CMS_E_INPUT;
	if ((di = X509_SIG_new()) == NULL)
		goto out;
	X509_SIG_getm(di, &alg, &os);
	/* RFC 8017 9.2 note 1: the parameters are NULL, not absent. */
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid), V_ASN1_NULL, NULL) != 1 ||
	    ASN1_OCTET_STRING_set(os, digest, (int)digest_len) != 1)
		goto out;
	if ((n = i2d_X509_SIG(di, &buf)) <= 0)
		goto out;
	*der = buf;
	*der_len = (size_t)n;
	rc = GW_CMS_OK;
out:
	ERR_clear_error();
	X509_SIG_free(di);
	return rc;
}
