/* kyso-vcard's card core: the KYSO-PKI v1 applet (PCSC.md §4) behind a byte-frame interface,
 * without sockets, so unit tests and fuzzers drive it directly. Single-threaded. */
#ifndef KYSO_VCARD_H
#define KYSO_VCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VCARD_MAX_SW_RULES 8

struct vcard_cfg {
	const char *key_file;   /* PEM private key: RSA-2048 or P-256 */
	const char *cert_file;  /* PEM certificate of that key */
	const char *pin;        /* default 123456 */
	const char *puk;        /* default 12345678 */
	int pin_tries;          /* -1: default 3; 0 = blocked */
	int puk_tries;          /* -1: default 10 */
	const char *state_file; /* optional: counters and PIN persist here */
	const char *label;      /* TokenInfo label */
	bool t0;                /* T=0 ATR; every data answer goes through 61xx */
	int drop_ins;           /* -1 none: close instead of answering this INS ... */
	unsigned drop_nth;      /* ... on its N-th occurrence (1 = first) */
	unsigned sign_delay_ms;
	bool strict_le, loop_6c, loop_61, pin_always, status_query_burns;
	unsigned n_sw_rules;
	uint8_t sw_rule_ins[VCARD_MAX_SW_RULES];
	uint16_t sw_rule_sw[VCARD_MAX_SW_RULES];
};

enum vcard_action {
	VCARD_ANSWER = 0, /* send out[0..out_len) as one frame */
	VCARD_SILENT = 1, /* control code without an answer */
	VCARD_DROP = 2    /* close the connection: the card is pulled */
};

struct vcard;
/* Loads key and certificate; NULL with a message in err. */
struct vcard *vcard_new(const struct vcard_cfg *cfg, char *err, size_t errlen);
void vcard_free(struct vcard *v);
/* One vpcd frame payload in (control code or C-APDU), the answer out (cap >= 300). */
enum vcard_action vcard_frame(struct vcard *v, const uint8_t *in, size_t len, uint8_t *out,
                              size_t cap, size_t *out_len);
/* Pull and re-insert: volatile state cleared, counters kept. */
void vcard_reset(struct vcard *v);

#endif
