/* Helpers shared by the kyso-carrier-sim unit tests: the gateway side of one OTA exchange. */
#ifndef CSIM_TEST_UTIL_H
#define CSIM_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <kyso/smsc.h>

#include "csim.h"

#define T_SPI1 0x16 /* CC, cipher, counter must be higher (TELECOM.md 2.1 default) */
#define T_SPI2 0x39
#define T_KIC  0x35
#define T_KID  0x35

struct t_req {
	uint64_t cntr;
	uint8_t dcs;
	bool digest_info;
	const struct smsc_ota_keys *keys; /* NULL: the SIM's own */
	uint8_t spi1;                     /* 0: T_SPI1 */
};

/* kyso-v1 SIGN request for SHA-256("kyso") as one or more MT user data. */
static inline size_t
t_command(const struct csim_sim *s, const struct t_req *r, struct smsc_seg *segs)
{
	static const uint8_t hash[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
		                          12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
		                          23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
	static const uint8_t di[51] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
		                        0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
		                        0x20, 1,    2,    3,    4,    5,    6,    7,    8,
		                        9,    10,   11,   12,   13,   14,   15,   16,   17,
		                        18,   19,   20,   21,   22,   23,   24,   25,   26,
		                        27,   28,   29,   30,   31,   32 };
	struct smsc_kv1_req q = { .txn_ref = 0x0011223344556677ull, .key_ref = 1 };
	struct smsc_ota_cmd c = { .spi1 = r->spi1 ? r->spi1 : T_SPI1,
		                  .spi2 = T_SPI2,
		                  .kic = T_KIC,
		                  .kid = T_KID,
		                  .cntr = r->cntr };
	uint8_t payload[300], pkt[500];
	size_t plen = 0, n = 0, nseg = 0;

	if (r->digest_info) {
		q.digest_info = di;
		q.digest_info_len = sizeof(di);
	} else {
		q.hash_alg = 1;
		q.hash = hash;
		q.hash_len = 32;
	}
	q.dcs = r->dcs ? r->dcs : SMSC_DCS_GSM7;
	q.text = (const uint8_t *)(q.dcs == SMSC_DCS_UCS2 ? "\x00K\x00y" : "Ky HD 42");
	q.text_len = q.dcs == SMSC_DCS_UCS2 ? 4 : 8;
	memcpy(c.tar, "KYS", 3);
	if (smsc_kv1_req_encode(&q, payload, sizeof(payload), &plen) != SMSC_OK)
		return 0;
	c.data = payload;
	c.data_len = plen;
	if (smsc_ota_cmd_build(&c, r->keys ? r->keys : &s->ks.keys, pkt, sizeof(pkt), &n) !=
	            SMSC_OK ||
	    smsc_ota_segment(0x70, pkt, n, 7, segs, SMSC_SEG_MAX, &nseg) != SMSC_OK)
		return 0;
	return nseg;
}

/* Opens a reassembled PoR as the gateway: clear when RHL is 0A (security failure). */
static inline int
t_open_por(const struct csim_sim *s, const uint8_t *pkt, size_t n, struct smsc_ota_rsp *rsp,
           struct smsc_kv1_rsp *app, uint8_t *work, size_t cap)
{
	uint8_t spi2 = n > 2 && pkt[2] == 0x0A
	                       ? (uint8_t)(T_SPI2 & ~(SMSC_SPI2_POR_CC | SMSC_SPI2_POR_CIPH))
	                       : T_SPI2;

	if (smsc_ota_rsp_open(pkt, n, spi2, T_KIC, T_KID, &s->ks.keys, work, cap, rsp) != SMSC_OK)
		return -1;
	if (rsp->sts == 0 && rsp->data_len > 0 &&
	    smsc_kv1_rsp_decode(rsp->data, rsp->data_len, app) != SMSC_OK)
		return -1;
	return 0;
}

#endif
