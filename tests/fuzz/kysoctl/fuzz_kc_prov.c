/* libFuzzer target for one line of the SIM provisioning file (TELECOM.md section 5.2). Any
 * input is either a SIM whose fields hold their bounds or an error with the struct wiped. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_kysoctl_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
wiped(const struct kc_prov_sim *s)
{
	const uint8_t *p = (const uint8_t *)s;

	for (size_t i = 0; i < sizeof(*s); i++)
		if (p[i] != 0)
			return false;
	return true;
}

static void
check(const struct kc_prov_sim *s)
{
	if (strlen(s->msisdn) < 6 || strlen(s->iccid) < 18 || s->cert_len == 0 ||
	    s->cert_len > KC_PROV_CERT_MAX || s->nkeysets < 1 || s->nkeysets > KC_PROV_KEYSETS)
		abort();
	for (int i = 0; i < s->nkeysets; i++) {
		const struct kc_prov_keyset *k = &s->keysets[i];

		if (k->kvn < 1 || k->kvn > 15 || k->kic_len < 16 || k->kic_len > KC_PROV_KEY_MAX ||
		    k->kid_len < 16 || k->kid_len > KC_PROV_KEY_MAX || strlen(k->tar) != 6 ||
		    k->counter < 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kc_prov_sim s;
	char err[128];

	if (kc_prov_parse((const char *)data, size, &s, err, sizeof(err)))
		check(&s);
	else if (!wiped(&s) || err[0] == '\0')
		abort();
	kc_prov_wipe(&s);
	return 0;
}
