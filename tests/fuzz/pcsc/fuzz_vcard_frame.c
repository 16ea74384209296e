/* libFuzzer: kyso-vcard's frame parser and applet (PCSC.md §1.1, §4). The input is a series
 * of vpcd frames (2-byte length + payload) fed to one card whose options come from the first
 * byte; every frame must get a defined answer. The key is a P-256 key made at start-up. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "vcard.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char key_path[64], cert_path[64], dir[] = "/tmp/kyso-fuzz-vcard-XXXXXX";

static void
cleanup(void)
{
	unlink(key_path);
	unlink(cert_path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	(void)argc;
	(void)argv;
	if (k == NULL || x == NULL || mkdtemp(dir) == NULL)
		abort();
	snprintf(key_path, sizeof(key_path), "%s/k.pem", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/c.pem", dir);
	X509_set_pubkey(x, k);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	if (X509_sign(x, k, EVP_sha256()) <= 0)
		abort();
	if ((f = fopen(key_path, "w")) == NULL ||
	    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	fclose(f);
	if ((f = fopen(cert_path, "w")) == NULL || PEM_write_X509(f, x) != 1)
		abort();
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcard_cfg c = { .key_file = key_path,
		               .cert_file = cert_path,
		               .pin_tries = -1,
		               .puk_tries = -1,
		               .drop_ins = -1 };
	uint8_t out[600];
	struct vcard *v;
	size_t n, out_len;
	char err[128];

	if (size < 1)
		return 0;
	c.t0 = data[0] & 1;
	c.strict_le = data[0] & 2;
	c.loop_61 = data[0] & 4;
	c.loop_6c = data[0] & 8;
	c.pin_always = data[0] & 16;
	c.status_query_burns = data[0] & 32;
	if ((v = vcard_new(&c, err, sizeof(err))) == NULL)
		abort();
	data++, size--;
	while (size >= 2) {
		n = (size_t)data[0] << 8 | data[1];
		data += 2, size -= 2;
		if (n > size)
			n = size;
		if (n > 0 && vcard_frame(v, data, n, out, sizeof(out), &out_len) == VCARD_ANSWER &&
		    (out_len < 2 || out_len > sizeof(out)))
			abort(); /* every answer holds at least a SW and fits a frame */
		data += n, size -= n;
	}
	vcard_free(v);
	return 0;
}
