/* gw_channel.h -- the seam between the transaction engine (gw_txn*) and the device channels:
 * the SIM channel (SMPP to the carrier, OTA to the SIM applet) and the token channel (a PC/SC
 * agent on /v1/agent). The engine owns the transaction and its events; a channel owns the
 * dialogue with one device and reports what happened, keyed by the txn's ref (any node may
 * receive a device's answer: ARCHITECTURE.md section 6, the engine finds the txn by ref).
 * Loop thread only. */
#ifndef GW_CHANNEL_H
#define GW_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_chan_event_kind {
	GW_CHAN_DISPATCHED,    /* SIM: submit_sm_resp OK; agent: job taken */
	GW_CHAN_RESENT,        /* the same request sent again (transport resend, counter resync) */
	GW_CHAN_DELIVERED,     /* SIM: DLR DELIVRD, advisory */
	GW_CHAN_AWAITING_USER, /* SIM: early PoR (dialogue running); agent: prompt shown */
	GW_CHAN_SIGNED,        /* a signature came back */
	GW_CHAN_FAILED,        /* the device or the network ended the request */
	GW_CHAN_LATE,          /* an answer for a ref the channel no longer waits for */
	GW_CHAN_PARTIAL,       /* SIM: part of a concatenated answer came, the rest not yet; at the
	                          deadline it ends 209/2093 (TELECOM.md 4: answer incomplete) */
	GW_CHAN_BUSY, /* SIM: the card is on another node's request; nothing was sent and the
	                 engine starts this one again later (ARCHITECTURE.md section 6) */
};

struct gw_chan_event {
	enum gw_chan_event_kind kind;
	int64_t ref;         /* txn.ref */
	int status, sub;     /* FAILED: the PROTOCOL.md section 5 code, e.g. 401/4011, 209/2093 */
	int retries_left;    /* PIN tries left when the device said so, else -1 */
	bool device_blocked; /* FAILED with 402/4021: the engine locks the credential and opens a
	                        recovery case (REGULATION.md B15) */
	const uint8_t *sig;  /* SIGNED: the raw signature as the device made it (ECDSA: DER) */
	size_t sig_len;
	const char *detail; /* short reason for the event log; never key or PIN material */
	const char
	        *msisdn; /* SIGNED/FAILED for a request another node sent: the card's number
	                    (E.164 digits), which the engine checks against the txn's credential */
};

/* What the engine asks a channel to get signed. Strings and buffers are valid only during
 * start(); a channel copies what it keeps. */
struct gw_chan_request {
	const char *txn_id;
	int64_t ref;
	int64_t credential_id;
	const char *msisdn;       /* sim */
	const char *token_serial; /* token */
	const char *hash_alg;     /* "sha256", "sha384", "sha512" */
	const uint8_t *to_sign;   /* the digest the device signs: the document digest (pkcs1) or
	                             the digest of the CMS signed attributes (cms) */
	size_t to_sign_len;
	const char *display; /* UTF-8, the AP's prefix applied, fit already checked */
	const char *verification_code;
	uint64_t deadline_ms; /* gw_mono_ms() time at which the engine ends the txn */
};

typedef void gw_chan_event_fn(void *engine, const struct gw_chan_event *ev);

struct gw_channel {
	const char *name; /* "sim", "pcsc" */
	void *self;
	/* 0 when the request is on its way (events follow); -1 when it failed at once, with the
	 * PROTOCOL.md section 5 code in *status and *sub (e.g. 209/2093 for an unknown number). */
	int (*start)(void *self, const struct gw_chan_request *req, int *status, int *sub);
	/* The engine gave up on ref (cancel, deadline): stop retrying, forget it. */
	void (*abandon)(void *self, int64_t ref);
	/* Set by the engine before the first start(). */
	gw_chan_event_fn *on_event;
	void *engine;
};

#endif
