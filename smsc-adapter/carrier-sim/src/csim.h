/* csim.h -- kyso-carrier-sim core: the SIM farm and the SMSC, sans-I/O (TELECOM.md 5).
 *
 * Nothing here opens a socket or reads a clock: the caller (csim_main.c with libuv, the unit
 * tests, the fuzz target and the benchmark) passes time as now_ms in SIMULATED milliseconds and
 * moves bytes. Everything belongs to the one thread that created it.
 *
 * Two halves:
 *  - the farm (struct csim_farm): SIMs keyed by MSISDN; csim_farm_deliver() is one SMS-PP
 *    download to a handset (TELECOM.md 3.1) and answers as the ME/UICC would; the card's MO
 *    answers come back through csim_mo_fn with the simulated time they leave the handset;
 *  - the SMSC (struct csim): connections, SMPP server sessions, store-and-forward, DLRs, MO
 *    delivery and one timer heap; it owns a farm.
 */
#ifndef KYSO_CSIM_H
#define KYSO_CSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kyso/smsc.h>

#define CSIM_MUSTCHECK __attribute__((warn_unused_result))

enum csim_err {
	CSIM_OK = 0,
	CSIM_E_NOMEM = 1,
	CSIM_E_INVAL = 2,
	CSIM_E_FULL = 3, /* a bound of TELECOM.md 5.6 */
	CSIM_E_NOTFOUND = 4,
	CSIM_E_EXISTS = 5,
	CSIM_E_CRYPTO = 6,
	CSIM_E_IO = 7,
	CSIM_E_CONFIG = 8,
};
const char *csim_strerror(enum csim_err e);

/* TELECOM.md 5.6 */
#define CSIM_MAX_SIMS       100000u
#define CSIM_MAX_CONNS      64u
#define CSIM_MAX_MT_PER_SIM 8u
#define CSIM_MAX_MT         100000u
#define CSIM_MAX_DELIVER    200000u
#define CSIM_MSISDN_MAX     20u
#define CSIM_PROFILES       28u /* 00 .. 27 (TELECOM.md 5.3) */

enum csim_mode {
	CSIM_MODE_ERROR = 0,   /* profile-driven outcomes and delays (default) */
	CSIM_MODE_DELAY = 1,   /* every SIM approves after the profile-00 delays */
	CSIM_MODE_INSTANT = 2, /* profile-driven outcomes, no network or user delay */
	CSIM_MODE_SILENT = 3,  /* submits accepted, nothing delivered or answered */
};
enum csim_key_alg {
	CSIM_KEY_EC_P256 = 0,
	CSIM_KEY_RSA2048 = 1,
};
enum csim_card_state {
	CSIM_ACTIVE = 0,
	CSIM_PIN_BLOCKED = 1,
	CSIM_CARD_BLOCKED = 2,
};

/* Handset answer to one SMS-PP download (TELECOM.md 3.1, 5.1). */
enum csim_dl {
	CSIM_DL_OK = 0,      /* 9000/91xx: delivered */
	CSIM_DL_BUSY = 1,    /* 9300 toolkit busy -> RP-ERROR D4: the SMSC retries */
	CSIM_DL_FAIL = 2,    /* 6Fxx -> D5: undeliverable at once */
	CSIM_DL_ABSENT = 3,  /* no answer from the network: the SMSC retries */
	CSIM_DL_UNKNOWN = 4, /* unknown subscriber: undeliverable after this attempt */
};
const char *csim_dl_name(enum csim_dl d);

/* What the card did with the last complete command (unit tests, sim.get). */
struct csim_last {
	uint64_t at_ms;
	uint64_t txn_ref;
	uint64_t cntr;
	uint8_t por;         /* PoR STS sent (TELECOM.md 2.2) */
	int16_t applet;      /* kyso-v1 status, -1 when the applet did not answer */
	uint8_t mo_segments; /* MO segments scheduled */
	uint64_t answer_at;  /* when the (first) MO leaves the handset; 0 = never */
};

#define CSIM_LAST_N 4u

struct csim_keyset {
	uint8_t kvn;
	enum smsc_ota_alg kic_alg, kid_alg;
	struct smsc_ota_keys keys; /* as provisioned (the gateway's copy) */
	uint64_t counter;          /* the card's replay counter */
};

struct csim_sim {
	char msisdn[CSIM_MSISDN_MAX + 1];
	char iccid[21];
	int profile;     /* 0..27, or -1 outside the profile range */
	uint32_t serial; /* SSSSS of the profile range */
	struct csim_keyset ks;
	uint8_t tar[3];
	bool has_applet;
	bool key_slot_empty;
	enum csim_key_alg key_alg;
	uint8_t *key_der; /* private key, DER (PKCS#8); secret, wiped at free */
	size_t key_der_len;
	uint64_t key_gen; /* changes with the key (key cache) */
	uint8_t *cert_der;
	size_t cert_der_len;
	char cert_serial[41]; /* hex, upper case, as in the CA index */
	uint8_t pin_tries, puk_tries;
	enum csim_card_state state;
	bool ucs2;
	uint32_t delay_ms;
	bool has_delay;
	uint64_t busy_until; /* a toolkit dialogue is open until then: envelopes get 9300 */
	uint32_t mt_queued;
	uint8_t seg_ref;
	uint64_t requests, answers;
	struct csim_last last[CSIM_LAST_N]; /* newest first */
	struct csim_sim *next;              /* hash chain */
	struct csim_sim *list_next;         /* creation order */
};

/* The card's MO answer: one SMS user data (UDH included) leaving the handset at at_ms for
 * reply_to (the command's TP-OA). Copy what you keep. */
typedef void csim_mo_fn(void *arg, const struct csim_sim *sim, const char *reply_to,
                        const uint8_t *ud, size_t len, uint64_t at_ms);

struct csim_ca; /* issuing CA (csim_pki.c) */

struct csim_farm_cfg {
	const char *prefix; /* "8490" */
	uint64_t seed;
	enum csim_mode mode;
	size_t max_sims;            /* CSIM_MAX_SIMS when 0 */
	bool auto_create;           /* profile-range numbers made on first use (default true) */
	struct csim_ca *ca;         /* NULL: SIMs get no certificate */
	const char *provision_file; /* JSON Lines, appended; NULL: none */
	csim_mo_fn *mo;
	void *mo_arg;
};

struct csim_farm;

enum csim_err csim_farm_new(const struct csim_farm_cfg *cfg, struct csim_farm **out) CSIM_MUSTCHECK;
void csim_farm_free(struct csim_farm *f);
void csim_farm_set_mode(struct csim_farm *f, enum csim_mode m);
enum csim_mode csim_farm_mode(const struct csim_farm *f);

/* What to provision. profile -1 takes the one from the MSISDN (else 0-like approve). */
struct csim_sim_spec {
	const char *msisdn;
	int profile;      /* -1: from the number */
	int key_alg;      /* -1: from the profile */
	int64_t delay_ms; /* -1: none */
};
/* EXISTS, FULL (max_sims), INVAL (not digits / too long), CRYPTO (key or certificate). */
enum csim_err csim_farm_add(struct csim_farm *f, const struct csim_sim_spec *spec,
                            struct csim_sim **out) CSIM_MUSTCHECK;
enum csim_err csim_farm_del(struct csim_farm *f, const char *msisdn) CSIM_MUSTCHECK;
struct csim_sim *csim_farm_find(struct csim_farm *f, const char *msisdn);
/* find, or create a profile-range number on first use; NULL for an unknown number. */
struct csim_sim *csim_farm_lookup(struct csim_farm *f, const char *msisdn);
size_t csim_farm_count(const struct csim_farm *f);
struct csim_sim *csim_farm_first(struct csim_farm *f); /* then sim->list_next */
/* Profile of a number in the range (prefix PP SSSSS), -1 outside. */
int csim_farm_profile_of(const struct csim_farm *f, const char *msisdn, uint32_t *serial);
/* The OTA keys a profile-range number gets from seed + MSISDN (adapter tests derive them). */
void csim_derive_keys(uint64_t seed, const char *msisdn, struct smsc_ota_keys *out);
/* 40-bit card counter start value and the ICCID the farm gives a number. */
void csim_derive_iccid(const char *msisdn, char out[21]);

/* One SMS-PP download (one MT user data, UDH included) to sim's handset. attempt counts the
 * SMSC's tries for this MT from 0; validity_end_ms is when the SMSC gives up. MO answers
 * go to cfg->mo. */
enum csim_dl csim_farm_deliver(struct csim_farm *f, struct csim_sim *sim, const uint8_t *ud,
                               size_t len, const char *reply_to, unsigned attempt,
                               uint64_t validity_end_ms, uint64_t now_ms);

/* Central-CA recovery (TELECOM.md 3.4): PIN tries back to 3, state ACTIVE. */
void csim_sim_unblock(struct csim_sim *s);
/* PUK entry: correct resets the PIN; wrong ones count down 10 to CARD_BLOCKED. */
enum csim_err csim_sim_puk(struct csim_sim *s, bool correct) CSIM_MUSTCHECK;

/* State file: every SIM with its keys, counter and PIN state (JSON Lines). */
enum csim_err csim_farm_save(struct csim_farm *f, const char *path) CSIM_MUSTCHECK;
enum csim_err csim_farm_load(struct csim_farm *f, const char *path, size_t *loaded) CSIM_MUSTCHECK;
/* The provisioning object of TELECOM.md 5.2 (sim.get / provisioning line), a json_t *. */
void *csim_sim_json(const struct csim_sim *s, bool with_state);

/* ---- PKI (csim_pki.c) ---- */
/* Loads the issuing CA: certificate and key (PEM), index file appended to, OCSP URL. */
enum csim_err csim_ca_load(const char *cert_pem, const char *key_pem, const char *index_path,
                           const char *ocsp_url, struct csim_ca **out) CSIM_MUSTCHECK;
void csim_ca_free(struct csim_ca *ca);
/* A CRL distribution point for the certificates issued from now on (NULL or "": none). */
enum csim_err csim_ca_set_crl_url(struct csim_ca *ca, const char *url) CSIM_MUSTCHECK;
/* Makes sim's key pair and certificate; appends it to the index (revoked when asked). */
enum csim_err csim_ca_issue(struct csim_ca *ca, struct csim_sim *sim, bool revoked) CSIM_MUSTCHECK;
/* Key pair without a CA. */
enum csim_err csim_keygen(struct csim_sim *sim) CSIM_MUSTCHECK;
/* Parsed signing keys of recently used SIMs, a bounded direct-mapped cache: keys stay DER in
 * the SIM (TELECOM.md 5.6), and OpenSSL 3 decoding costs more than an ECDSA signature. */
struct csim_keycache;
enum csim_err csim_keycache_new(size_t slots, struct csim_keycache **out) CSIM_MUSTCHECK;
void csim_keycache_free(struct csim_keycache *kc);
void csim_keycache_forget(struct csim_keycache *kc, const struct csim_sim *sim);
/* Applet signing: ECDSA raw r||s (64) or RSA PKCS#1 v1.5 over DigestInfo (256). kc may be
 * NULL (no caching). */
enum csim_err csim_sign(struct csim_keycache *kc, const struct csim_sim *sim, const uint8_t *tbs,
                        size_t tbs_len, uint8_t *sig, size_t cap, size_t *sig_len) CSIM_MUSTCHECK;

/* ---- the simulator: SMSC + farm (csim_smsc.c) ---- */

struct csim_knobs {
	uint32_t window;           /* outstanding submit_sm per bind (10); excess -> 58 */
	uint32_t resp_delay_ms;    /* 5 */
	uint32_t resp_jitter_ms;   /* 0 */
	uint32_t throttle_every_n; /* 0: off; every Nth submit -> 58 */
	bool msgid_dec;            /* message_id decimal instead of hex */
	bool dlr;                  /* true */
	bool dlr_text_decimal;     /* text id: decimal of the resp id (true) or the same string */
	bool dlr_before_resp;      /* DLR sent before the submit_sm_resp */
	uint32_t retry_ms[4];      /* store-and-forward retries (3000, 3000) */
	uint32_t n_retry;
	uint32_t mo_window;          /* 10 */
	uint32_t mo_resp_timeout_ms; /* 30000 */
	uint32_t mo_retry_ms;        /* 1000 after 64 */
	uint32_t reject_every_n;     /* 0: off; every Nth submit answered reject_status */
	uint32_t reject_status;      /* e.g. 0x14, 0x08, a vendor 0x4xx */
	bool firewall;               /* 45 for binary OTA (PID 7F / DCS F6), TELECOM.md 5.1 */
	bool dlr_duplicate;          /* every DLR sent twice */
	bool dlr_text_caps;          /* "Text:" instead of "text:" */
	bool dlr_date12;             /* YYMMDDhhmmss dates */
	char mo_system_type[13];     /* MOs (not DLRs) only to binds of this system_type while one
	                                is bound; "": every bind, round robin */
};
void csim_knobs_default(struct csim_knobs *k);

#define CSIM_MAX_ACCOUNTS 8u
struct csim_account_cfg {
	char system_id[16];
	char password[9];
	uint32_t max_binds;
	struct csim_knobs knobs;
};

struct csim_cfg {
	struct csim_farm_cfg farm; /* mo/mo_arg are set by csim_new */
	struct csim_account_cfg accounts[CSIM_MAX_ACCOUNTS];
	size_t n_accounts; /* 0: one default account "kyso"/"kyso" */
	bool strict_accounts;
	uint64_t epoch_s; /* wall clock of now_ms 0, for DLR dates */
};
void csim_cfg_default(struct csim_cfg *cfg);

/* Output to the driver: one call per whole PDU (one write), and closes. */
typedef void csim_send_fn(void *arg, uint32_t conn, const uint8_t *pdu, size_t len);
typedef void csim_close_fn(void *arg, uint32_t conn);

struct csim;
enum csim_err csim_new(const struct csim_cfg *cfg, csim_send_fn *send, csim_close_fn *close_fn,
                       void *arg, struct csim **out) CSIM_MUSTCHECK;
void csim_free(struct csim *c);
struct csim_farm *csim_get_farm(struct csim *c);

/* A TCP connection was accepted: returns a handle (FULL beyond 64). */
enum csim_err csim_conn_open(struct csim *c, uint64_t now_ms, uint32_t *conn) CSIM_MUSTCHECK;
/* Bytes from the peer. The core may call send/close from inside. */
void csim_conn_feed(struct csim *c, uint32_t conn, const uint8_t *buf, size_t len, uint64_t now_ms);
/* The peer closed (or the driver did after close_fn): forget the connection. */
void csim_conn_gone(struct csim *c, uint32_t conn, uint64_t now_ms);
void csim_tick(struct csim *c, uint64_t now_ms);
uint64_t csim_next_deadline(const struct csim *c); /* UINT64_MAX: nothing */

struct csim_stats {
	uint64_t binds, submits, resp_ok, resp_err, throttled, dlrs, mos_sent, mos_acked,
	        mos_retried;
	uint64_t delivered, undeliverable, expired, nacks, garbage_closes;
	uint64_t signed_answers; /* applet SIGNED results produced by the farm */
	size_t conns, mt_pending, deliver_pending;
};
void csim_stats(const struct csim *c, struct csim_stats *out);

/* Control (csim_ctl.c, TELECOM.md 5.5): one request line in, one reply line (malloc'd,
 * NUL-terminated, no newline) out; NULL only when out of memory. clock.get|advance and
 * shutdown belong to the driver, which answers them before calling this. */
char *csim_ctl(struct csim *c, const char *line, size_t len, uint64_t now_ms, uint64_t real_ms);
/* Paths used by state.save and sim.add_range (may be NULL). */
void csim_set_state_file(struct csim *c, const char *path);
/* Knobs of an account by system_id ("" = first). */
struct csim_knobs *csim_account_knobs(struct csim *c, const char *system_id);
/* smsc.inject: a deliver_sm (MO user data, or any esm_class) from `from` to `to` queued for
 * the account's receivers now. NOTFOUND for an unknown account, INVAL for a bad field, FULL. */
enum csim_err csim_inject(struct csim *c, const char *system_id, const char *from, const char *to,
                          uint8_t esm_class, const uint8_t *sm, size_t len) CSIM_MUSTCHECK;

#endif
