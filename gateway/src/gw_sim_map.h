/* gw_sim_map.h -- pure mappings of the SIM channel: PoR status and applet status to the
 * PROTOCOL.md section 5 codes (TELECOM.md 2.2, 3.3, 4), and the applet's raw ECDSA r||s to DER. */
#ifndef GW_SIM_MAP_H
#define GW_SIM_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kyso/smsc.h>

/* What a PoR status asks of the channel (TELECOM.md 2.2). */
enum gw_por_action {
	GW_POR_USE = 0,    /* 00: use the data (empty: the dialogue runs, awaiting_user) */
	GW_POR_WAIT = 1,   /* 08, 0B, 0C: more time / data follows: keep waiting */
	GW_POR_RESYNC = 2, /* 02: counter low, resync once (2.3) */
	GW_POR_FAIL = 3,   /* status/sub say which code */
};
enum gw_por_action gw_sim_por_action(uint8_t sts, int *status, int *sub);

/* Applet status (kyso-v1 tag 20) to the north code. retries_left is the PIN tries the applet
 * reported (-1 when absent); *blocked is set for PIN_BLOCKED (402/4021, REGULATION.md B15).
 * Returns false for SIGNED (no failure code). */
bool gw_sim_applet_failure(const struct smsc_kv1_rsp *rsp, int *status, int *sub, bool *blocked);

/* ECDSA r||s (64, 96 or 132 octets) to a DER ECDSA-Sig-Value; any other length is an RSA
 * signature and is copied as it is. false when out[cap] is too small or OpenSSL fails. */
bool gw_sim_sig_to_der(const uint8_t *raw, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Hash name ("sha256", "sha384", "sha512") to kyso-v1 tag 11 and its digest length; false when
 * unknown. */
bool gw_sim_hash_alg(const char *name, uint8_t *alg, size_t *digest_len);

#endif
