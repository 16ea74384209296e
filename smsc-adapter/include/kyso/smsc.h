/* kyso/smsc.h -- SMPP 3.4 ESME session, SIM OTA (TS 31.115 / TS 102 225) and kyso-v1 codecs.
 *
 * Sans-I/O: nothing here opens a socket, blocks, or reads a clock. The gateway owns the TCP
 * connection and passes time as now_ms (a monotonic millisecond count). Every function runs on
 * the caller's thread; a struct smsc_session belongs to one thread (the gateway's loop thread).
 *
 * Codec structs (struct smsc_pdu, struct smsc_ota_*, struct smsc_kv1_*) are plain values: their
 * pointer members point INTO the caller's input buffer (zero copy) and live as long as it does.
 * The session is opaque.
 */
#ifndef KYSO_SMSC_H
#define KYSO_SMSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMSC_MUSTCHECK __attribute__((warn_unused_result))

enum smsc_err { /* append only: values reach logs and audit rows */
	SMSC_OK = 0,
	SMSC_E_NOMEM = 1,
	SMSC_E_INVAL = 2,        /* caller argument out of range */
	SMSC_E_SHORT = 3,        /* not a whole PDU yet: feed more bytes */
	SMSC_E_LENGTH = 4,       /* command_length < 16 or > max_pdu: close the link */
	SMSC_E_STRUCT = 5,       /* body malformed (overrun, no NUL, trailing octets) */
	SMSC_E_CMDID = 6,        /* command_id we do not handle: generic_nack 03 */
	SMSC_E_SPACE = 7,        /* output buffer too small */
	SMSC_E_CRYPTO = 8,       /* OpenSSL failure, or a length that cannot be deciphered */
	SMSC_E_CC = 9,           /* cryptographic checksum / redundancy check mismatch */
	SMSC_E_UNSUPPORTED = 10, /* algorithm or SPI value we do not implement */
	SMSC_E_TOOBIG = 11,      /* payload over its limit (SMS count, 1024-octet payload...) */
	SMSC_E_FULL = 12,        /* bounded queue, window or table full */
	SMSC_E_STATE = 13,       /* not allowed in the current session state */
	SMSC_E_DUP = 14,         /* duplicate (segment, tag, TLV) */
	SMSC_E_NOTFOUND = 15,
	SMSC_E_BADREQ = 16, /* kyso-v1 payload malformed: applet answers BAD_REQUEST */
	SMSC_E_TEXT = 17,   /* display text: invalid UTF-8 or outside the BMP (north 101) */
	SMSC_E_CONFIG = 18, /* routing table line or setting invalid */
};
const char *smsc_strerror(enum smsc_err e);

/* ---------------------------------------------------------------------------------------- */
/* SMPP 3.4 PDU codec (TELECOM.md 1.1, 1.6)                                                 */

#define SMSC_PDU_HDR_LEN  16u
#define SMSC_PDU_MAX_DEF  4096u /* our cap on command_length */
#define SMSC_PDU_MAX_TLVS 32u   /* further TLVs are counted in tlv_dropped, not kept */
#define SMSC_SM_MAX       254u  /* sm_length ceiling (SMPP 3.4 5.2.21) */

enum smsc_cmd {
	SMSC_CMD_GENERIC_NACK = 0x80000000u,
	SMSC_CMD_SUBMIT_SM = 0x00000004u,
	SMSC_CMD_SUBMIT_SM_RESP = 0x80000004u,
	SMSC_CMD_DELIVER_SM = 0x00000005u,
	SMSC_CMD_DELIVER_SM_RESP = 0x80000005u,
	SMSC_CMD_UNBIND = 0x00000006u,
	SMSC_CMD_UNBIND_RESP = 0x80000006u,
	SMSC_CMD_BIND_TRX = 0x00000009u,
	SMSC_CMD_BIND_TRX_RESP = 0x80000009u,
	SMSC_CMD_ENQUIRE_LINK = 0x00000015u,
	SMSC_CMD_ENQUIRE_LINK_RESP = 0x80000015u,
	SMSC_CMD_ALERT_NOTIFICATION = 0x00000102u,
};

/* SMPP 3.4 5.1.3 command_status values the adapter acts on (others are kept raw). */
enum smsc_status {
	SMSC_ST_OK = 0x00,
	SMSC_ST_RINVMSGLEN = 0x01,
	SMSC_ST_RINVCMDLEN = 0x02,
	SMSC_ST_RINVCMDID = 0x03,
	SMSC_ST_RINVBNDSTS = 0x04,
	SMSC_ST_RALYBND = 0x05,
	SMSC_ST_RSYSERR = 0x08,
	SMSC_ST_RINVSRCADR = 0x0A,
	SMSC_ST_RINVDSTADR = 0x0B,
	SMSC_ST_RBINDFAIL = 0x0D,
	SMSC_ST_RINVPASWD = 0x0E,
	SMSC_ST_RINVSYSID = 0x0F,
	SMSC_ST_RMSGQFUL = 0x14,
	SMSC_ST_RSUBMITFAIL = 0x45,
	SMSC_ST_RTHROTTLED = 0x58,
	SMSC_ST_RINVEXPIRY = 0x62,
	SMSC_ST_RX_T_APPN = 0x64,
	SMSC_ST_RX_P_APPN = 0x65,
	SMSC_ST_RDELIVERYFAILURE = 0xFE,
};

/* What a command_status asks of the adapter (TELECOM.md 1.4). */
enum smsc_class {
	SMSC_CLASS_OK = 0,
	SMSC_CLASS_OUR_BUG = 1,   /* 01-03: fail (209/2093), alarm */
	SMSC_CLASS_REBIND = 2,    /* 04: rebind, requeue */
	SMSC_CLASS_ALREADY = 3,   /* 05 on bind: retry after >= 10 s */
	SMSC_CLASS_TEMP = 4,      /* 08, 14, 64: pause, requeue */
	SMSC_CLASS_THROTTLED = 5, /* 58: pause, requeue at head, halve the rate */
	SMSC_CLASS_CONFIG = 6,    /* 0D-0F, 62: alarm; long back-off on bind */
	SMSC_CLASS_PERMANENT = 7, /* 0A 0B 45 65 FE, unknown: fail 209/2093 */
};
/* vendor_class is what the carrier table says for 0x400-0x4FF (default permanent). */
enum smsc_class smsc_status_class(uint32_t status, enum smsc_class vendor_class);

struct smsc_tlv {
	uint16_t tag;
	uint16_t len;
	const uint8_t *val; /* into the decoded buffer, or the caller's for encoding */
};

/* Only the fields of the PDU's own command_id are meaningful. C-Octet strings are (p, len)
 * without their NUL; on encode, p may be NULL when len is 0. */
struct smsc_pdu {
	uint32_t command_id;
	uint32_t command_status;
	uint32_t sequence;
	bool has_body; /* a resp carried a body (error resps never need one) */
	/* bind_transceiver / _resp */
	const char *system_id;
	size_t system_id_len;
	const char *password;
	size_t password_len;
	const char *system_type;
	size_t system_type_len;
	uint8_t interface_version;
	uint8_t addr_ton, addr_npi;
	const char *address_range;
	size_t address_range_len;
	/* submit_sm / deliver_sm (and message_id for their resps) */
	const char *service_type;
	size_t service_type_len;
	uint8_t source_addr_ton, source_addr_npi;
	const char *source_addr;
	size_t source_addr_len;
	uint8_t dest_addr_ton, dest_addr_npi;
	const char *dest_addr;
	size_t dest_addr_len;
	uint8_t esm_class, protocol_id, priority_flag;
	const char *schedule_delivery_time;
	size_t schedule_delivery_time_len;
	const char *validity_period;
	size_t validity_period_len;
	uint8_t registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id;
	const uint8_t *short_message;
	size_t sm_length;
	const char *message_id;
	size_t message_id_len;
	/* optional parameters in wire order, unknown ones included */
	size_t tlv_count;
	size_t tlv_dropped;
	struct smsc_tlv tlv[SMSC_PDU_MAX_TLVS];
};

/* Reads the 16-octet header. OK when buf holds the whole PDU (*pdu_len = command_length);
 * SHORT when more bytes are needed; LENGTH when command_length < 16 or > max_pdu (close the
 * link; *pdu_len still receives the raw value for the log). */
enum smsc_err smsc_pdu_frame(const uint8_t *buf, size_t len, size_t max_pdu,
                             size_t *pdu_len) SMSC_MUSTCHECK;
/* Decodes exactly one PDU of len == command_length octets. STRUCT for a malformed body,
 * CMDID for an id outside our subset (header fields are still valid via smsc_pdu_frame()).
 * Writes *out only on success; out's pointers reference buf. */
enum smsc_err smsc_pdu_decode(const uint8_t *buf, size_t len, struct smsc_pdu *out) SMSC_MUSTCHECK;
/* Encodes pdu into buf[cap]; command_length is written last. SPACE when cap is short, INVAL
 * when a field exceeds its SMPP maximum or the id is not ours. */
enum smsc_err smsc_pdu_encode(const struct smsc_pdu *pdu, uint8_t *buf, size_t cap,
                              size_t *out_len) SMSC_MUSTCHECK;
/* First TLV with this tag, or NULL. */
const struct smsc_tlv *smsc_pdu_tlv(const struct smsc_pdu *pdu, uint16_t tag);

#define SMSC_TLV_RECEIPTED_MESSAGE_ID 0x001Eu
#define SMSC_TLV_NETWORK_ERROR_CODE   0x0423u
#define SMSC_TLV_MESSAGE_STATE        0x0427u
#define SMSC_TLV_MESSAGE_PAYLOAD      0x0424u
#define SMSC_TLV_SC_INTERFACE_VERSION 0x0210u

/* ---------------------------------------------------------------------------------------- */
/* Delivery receipts (TELECOM.md 1.3)                                                       */

#define SMSC_MSGID_MAX 64u

enum smsc_msg_state {
	SMSC_MS_NONE = 0,
	SMSC_MS_ENROUTE = 1,
	SMSC_MS_DELIVERED = 2,
	SMSC_MS_EXPIRED = 3,
	SMSC_MS_DELETED = 4,
	SMSC_MS_UNDELIVERABLE = 5,
	SMSC_MS_ACCEPTED = 6,
	SMSC_MS_UNKNOWN = 7,
	SMSC_MS_REJECTED = 8,
};
const char *smsc_msg_state_name(enum smsc_msg_state s);

struct smsc_dlr {
	char id[SMSC_MSGID_MAX + 1]; /* NUL-terminated copy */
	enum smsc_msg_state state;
	char err[8];      /* raw "err:" value, "" if absent */
	bool has_net_err; /* TLV 0423 present */
	uint8_t net_err_type;
	uint16_t net_err_code;
};
/* TLVs 001E/0427 first, then the text body. NOTFOUND when no id can be found. */
enum smsc_err smsc_dlr_parse(const struct smsc_pdu *deliver, struct smsc_dlr *out) SMSC_MUSTCHECK;
/* The text format alone: "id:.. sub:.. dlvrd:.. submit date:.. done date:.. stat:.. err:..". */
enum smsc_err smsc_dlr_parse_text(const uint8_t *text, size_t len,
                                  struct smsc_dlr *out) SMSC_MUSTCHECK;

enum smsc_id_style {
	SMSC_ID_AUTO = 0, /* exact, then cross-base */
	SMSC_ID_SAME = 1, /* exact string only */
	SMSC_ID_HEX_RESP_DEC_DLR = 2,
};
/* The u64 values of a message id read as hex and as decimal (flags say which parse). */
void smsc_msgid_values(const char *id, size_t len, uint64_t *hex, bool *hex_ok, uint64_t *dec,
                       bool *dec_ok);

/* ---------------------------------------------------------------------------------------- */
/* ESME session, sans-I/O (TELECOM.md 1.5)                                                  */

struct smsc_session; /* opaque; one owner thread */

enum smsc_state {
	SMSC_S_IDLE = 0, /* not started, or waiting out a reconnect back-off */
	SMSC_S_CONNECTING = 1,
	SMSC_S_BINDING = 2,
	SMSC_S_BOUND = 3,
	SMSC_S_UNBINDING = 4,
	SMSC_S_CLOSED = 5, /* stopped for good */
};
const char *smsc_state_name(enum smsc_state s);

/* All times in ms. Zero in any field takes the default shown (TELECOM.md 1.5). */
struct smsc_config {
	const char *system_id; /* copied; <= 15 chars */
	const char *password;  /* copied, wiped at free; <= 8 chars */
	const char *system_type;
	uint32_t window;             /* 10 outstanding submit_sm */
	uint32_t tps;                /* 10 per bind; UINT32_MAX: no cap */
	uint32_t queue_max;          /* 1024 queued submits */
	uint32_t connect_timeout_ms; /* 10000 */
	uint32_t bind_timeout_ms;    /* 10000 */
	uint32_t resp_timeout_ms;    /* 30000 submit_sm_resp */
	uint32_t enquire_ms;         /* 30000 */
	uint32_t enquire_resp_ms;    /* 10000 */
	uint32_t inactivity_ms;      /* 90000 */
	uint32_t backoff_min_ms;     /* 2000, doubling */
	uint32_t backoff_max_ms;     /* 60000 */
	uint32_t mo_ack_ms;          /* 5000: then resp 64 */
	uint32_t orphan_dlr_ms;      /* 10000 */
	uint32_t orphan_dlr_max;     /* 1024 */
	uint32_t msgid_max;          /* 4096 message ids remembered for DLR matching */
	uint32_t msgid_keep_ms;      /* 600000 */
	uint32_t drain_ms;           /* 5000 */
	uint32_t unbind_resp_ms;     /* 10000 */
	uint32_t max_pdu;            /* 4096 */
	enum smsc_id_style id_style;
	enum smsc_class vendor_class; /* 0 means PERMANENT */
	uint64_t seed;                /* back-off jitter; any value */
};

enum smsc_ev_kind {
	SMSC_EV_CONNECT = 1, /* open the TCP connection, then call smsc_session_connected() */
	SMSC_EV_CLOSE = 2,   /* close the socket now; the session already counts it gone */
	SMSC_EV_BOUND = 3,
	SMSC_EV_UNBOUND = 4,     /* link lost or closed; reason in status / detail */
	SMSC_EV_SUBMIT_OK = 5,   /* tag, message_id */
	SMSC_EV_SUBMIT_FAIL = 6, /* tag, status (raw), cls */
	SMSC_EV_DLR = 7,         /* tag (0 when unmatched after the orphan wait), dlr */
	SMSC_EV_MO = 8,          /* pdu: answer with smsc_session_mo_ack(seq, status) */
	SMSC_EV_ALARM = 9,       /* status, detail: config error, our bug, peer garbage */
	SMSC_EV_STOPPED = 10,    /* graceful stop finished (state CLOSED) */
};

struct smsc_event {
	enum smsc_ev_kind kind;
	uint64_t tag;    /* the caller's id given to smsc_session_submit() */
	uint32_t status; /* raw command_status, when one applies */
	enum smsc_class cls;
	const char *message_id; /* NUL-terminated, valid during the callback */
	const struct smsc_dlr *dlr;
	const struct smsc_pdu *pdu; /* deliver_sm, valid during the callback */
	uint32_t seq;               /* deliver_sm sequence to pass to smsc_session_mo_ack() */
	bool duplicate;             /* a deliver_sm identical to a recent one (already acked 00) */
	bool ambiguous;             /* DLR matched cross-base to more than one id */
	const char *detail;         /* static text */
};
/* Fired inside the smsc_session_* call that caused it. It may call smsc_session_submit(),
 * smsc_session_mo_ack() and the getters, never smsc_session_free(). */
typedef void smsc_event_fn(void *arg, const struct smsc_event *ev);

/* What to send. Bytes are copied at submit; requeues resend them unchanged. */
struct smsc_submit {
	const char *dest_addr;          /* digits, international; <= 20 */
	const char *source_addr;        /* our numeric MO address; <= 20 */
	uint8_t source_ton, source_npi; /* defaults applied by the caller (1, 1) */
	uint8_t esm_class;              /* 0x40 for a UDH */
	uint8_t protocol_id;            /* 0x7F */
	uint8_t data_coding;            /* 0xF6 */
	uint8_t registered_delivery;    /* 0x01 */
	uint32_t validity_s;            /* relative; 0 = none */
	const uint8_t *sm;
	size_t sm_len;        /* <= 254; OTA segments <= 140 */
	uint64_t deadline_ms; /* not sent by then -> SUBMIT_FAIL; 0 = none */
};

enum smsc_err smsc_session_new(const struct smsc_config *cfg, smsc_event_fn *cb, void *arg,
                               struct smsc_session **out) SMSC_MUSTCHECK;
void smsc_session_free(struct smsc_session *s); /* wipes the password */
/* IDLE -> CONNECTING (EV_CONNECT). */
enum smsc_err smsc_session_start(struct smsc_session *s, uint64_t now_ms) SMSC_MUSTCHECK;
/* TCP is up: queue bind_transceiver. */
void smsc_session_connected(struct smsc_session *s, uint64_t now_ms);
/* TCP failed or closed by the peer: back off and reconnect; outstanding submits requeue. */
void smsc_session_disconnected(struct smsc_session *s, uint64_t now_ms);
/* Bytes read from the socket. Decodes every whole PDU, fires events, queues answers. */
void smsc_session_feed(struct smsc_session *s, const uint8_t *buf, size_t len, uint64_t now_ms);
/* Next PDU to write (one write per PDU). Call after every feed(), tick(), submit() and
 * mo_ack() until it answers SHORT: send opportunities (window, tokens, pauses) surface here. SHORT
 * when nothing is due; SPACE when cap is short (nothing is lost: call again with a larger buffer,
 * 4096 always suffices). */
enum smsc_err smsc_session_take(struct smsc_session *s, uint8_t *buf, size_t cap, size_t *len,
                                uint64_t now_ms) SMSC_MUSTCHECK;
void smsc_session_tick(struct smsc_session *s, uint64_t now_ms);
/* Earliest time tick() has work; UINT64_MAX when none. */
uint64_t smsc_session_next_deadline(const struct smsc_session *s);
/* Queue a submit. FULL when the queue is full, STATE when stopping or stopped, INVAL on a
 * field over its limit or a tag already queued. */
enum smsc_err smsc_session_submit(struct smsc_session *s, uint64_t tag, const struct smsc_submit *m,
                                  uint64_t now_ms) SMSC_MUSTCHECK;
/* Drop a queued (not yet sent) submit. NOTFOUND if it is in flight or unknown. */
enum smsc_err smsc_session_cancel(struct smsc_session *s, uint64_t tag) SMSC_MUSTCHECK;
/* Answer an EV_MO: status 0 once stored, 0x64 when the gateway cannot take it. */
enum smsc_err smsc_session_mo_ack(struct smsc_session *s, uint32_t seq, uint32_t status,
                                  uint64_t now_ms) SMSC_MUSTCHECK;
/* Graceful stop: no new submits, drain, unbind, EV_CLOSE then EV_STOPPED. */
void smsc_session_stop(struct smsc_session *s, uint64_t now_ms);

enum smsc_state smsc_session_state(const struct smsc_session *s);
size_t smsc_session_in_flight(const struct smsc_session *s);
size_t smsc_session_queued(const struct smsc_session *s);

struct smsc_counters {
	uint64_t submits_sent, resps_ok, resps_fail, throttled, requeued, resp_timeouts;
	uint64_t reconnects, binds, dlrs, dlrs_orphan_dropped, dlrs_ambiguous, mos, mos_dup;
	uint64_t nacks_sent, garbage_closes, enquires_sent, enquires_answered;
};
void smsc_session_counters(const struct smsc_session *s, struct smsc_counters *out);
/* Current allowed rate in milli-TPS (halved on 58, regained +10 % per 10 s). */
uint64_t smsc_session_rate_mtps(const struct smsc_session *s);

/* ---------------------------------------------------------------------------------------- */
/* SIM OTA secured packets (3GPP TS 31.115, ETSI TS 102 225; TELECOM.md 2)                  */

/* KIc / KID b4..b1 (TS 102 225 5.1.2, 5.1.3). The upper nibble is the KVN. */
enum smsc_ota_alg {
	SMSC_ALG_DES = 0x1,   /* single DES CBC (legacy cards only) */
	SMSC_ALG_AES = 0x2,   /* AES-CBC (KIc) / AES-CMAC (KID) */
	SMSC_ALG_3DES2 = 0x5, /* 3DES two keys, outer CBC */
	SMSC_ALG_3DES3 = 0x9, /* 3DES three keys, outer CBC */
};

/* One keyset (per card and KVN). Secret: wipe with smsc_ota_keys_wipe(). */
struct smsc_ota_keys {
	uint8_t kic[32];
	size_t kic_len; /* 8, 16, 24 or 16/24/32 for AES */
	uint8_t kid[32];
	size_t kid_len;
};
void smsc_ota_keys_wipe(struct smsc_ota_keys *k);

#define SMSC_SPI1_CC        0x02u /* b2b1 10 */
#define SMSC_SPI1_RC        0x01u
#define SMSC_SPI1_CIPHER    0x04u
#define SMSC_SPI1_CNTR_MASK 0x18u
#define SMSC_SPI2_POR_CC    0x08u
#define SMSC_SPI2_POR_RC    0x04u
#define SMSC_SPI2_POR_CIPH  0x10u

struct smsc_ota_cmd {
	uint8_t spi1, spi2, kic, kid;
	uint8_t tar[3];
	uint64_t cntr; /* 40 bits */
	const uint8_t *data;
	size_t data_len;
	/* filled by the parser */
	uint8_t pcntr;
};
/* Command packet CPL..end (no UDH) into out[cap]. */
enum smsc_err smsc_ota_cmd_build(const struct smsc_ota_cmd *cmd, const struct smsc_ota_keys *keys,
                                 uint8_t *out, size_t cap, size_t *out_len) SMSC_MUSTCHECK;
/* Card side, step 1: the clear header (SPI, KIc, KID, TAR) so the card can pick its keys. */
enum smsc_err smsc_ota_cmd_peek(const uint8_t *pkt, size_t len,
                                struct smsc_ota_cmd *hdr) SMSC_MUSTCHECK;
/* Card side, step 2: decipher into work[cap] and check the CC/RC. out->data points into work.
 * CC -> PoR 01, CRYPTO (bad length) -> PoR 05, UNSUPPORTED -> PoR 06. */
enum smsc_err smsc_ota_cmd_open(const uint8_t *pkt, size_t len, const struct smsc_ota_keys *keys,
                                uint8_t *work, size_t cap, struct smsc_ota_cmd *out) SMSC_MUSTCHECK;

struct smsc_ota_rsp {
	uint8_t tar[3];
	uint64_t cntr;
	uint8_t pcntr;
	uint8_t sts;
	const uint8_t *data;
	size_t data_len;
};
/* Response packet RPL..end (no UDH). spi2/kic/kid are those of the command answered; the UDH
 * input of the CC is 02 71 00 (TELECOM.md 2.2, 2.4). */
enum smsc_err smsc_ota_rsp_build(uint8_t spi2, uint8_t kic, uint8_t kid,
                                 const struct smsc_ota_rsp *rsp, const struct smsc_ota_keys *keys,
                                 uint8_t *out, size_t cap, size_t *out_len) SMSC_MUSTCHECK;
/* Gateway side. spi2/kic/kid of the command sent. CC when the check fails. out->data points
 * into work. */
enum smsc_err smsc_ota_rsp_open(const uint8_t *pkt, size_t len, uint8_t spi2, uint8_t kic,
                                uint8_t kid, const struct smsc_ota_keys *keys, uint8_t *work,
                                size_t cap, struct smsc_ota_rsp *out) SMSC_MUSTCHECK;
/* Card counter rule (SPI1 b5b4). Returns the PoR status: 00, 02 (low) or 03 (high). */
uint8_t smsc_ota_cntr_check(uint8_t spi1, uint64_t card_cntr, uint64_t rx_cntr);
/* Largest secured data for n SMS (TELECOM.md 2.4 table); 0 when n is 0 or > 8. */
size_t smsc_ota_capacity(bool command, enum smsc_ota_alg kic_alg, unsigned n_sms);

/* ---------------------------------------------------------------------------------------- */
/* Concatenation (TS 23.040 9.2.3.24.1 with IEI 70/71, TELECOM.md 2.4) and reassembly        */

#define SMSC_SEG_MAX 8u
#define SMSC_UD_MAX  140u

struct smsc_seg {
	uint8_t ud[SMSC_UD_MAX];
	size_t len;
};
/* Splits a command (iei 0x70) or response (0x71) packet into n <= SMSC_SEG_MAX user data
 * (UDH included). ref is the 8-bit concatenation reference. */
enum smsc_err smsc_ota_segment(uint8_t iei, const uint8_t *pkt, size_t len, uint8_t ref,
                               struct smsc_seg *segs, size_t segs_cap, size_t *n) SMSC_MUSTCHECK;

struct smsc_udh_info {
	bool concat;
	uint16_t ref; /* 8- or 16-bit (IEI 00 / 08) */
	uint8_t total, seq;
	uint8_t ota_iei;     /* 0x70, 0x71 or 0 when absent */
	const uint8_t *body; /* after the UDH */
	size_t body_len;
};
enum smsc_err smsc_udh_parse(const uint8_t *ud, size_t len,
                             struct smsc_udh_info *out) SMSC_MUSTCHECK;

struct smsc_reasm; /* opaque; one owner thread */
/* max_sets partial sets at once, each <= SMSC_SEG_MAX segments, max_bytes over all. */
enum smsc_err smsc_reasm_new(size_t max_sets, size_t max_bytes, uint32_t ttl_ms,
                             struct smsc_reasm **out) SMSC_MUSTCHECK;
void smsc_reasm_free(struct smsc_reasm *r);
/* Adds a user data with a UDH from source. OK with *done set when the set is complete:
 * out[cap] receives the OTA packet (after IEI 70/71) and *iei which one; a non-concatenated UD
 * completes at once. DUP for a repeated segment (ignored), FULL when the bounds are hit
 * (the oldest set is dropped first), STRUCT for an unusable UDH. */
enum smsc_err smsc_reasm_add(struct smsc_reasm *r, const char *source, const uint8_t *ud,
                             size_t len, uint64_t now_ms, uint8_t *out, size_t cap, size_t *out_len,
                             uint8_t *iei, bool *done) SMSC_MUSTCHECK;
/* Drops sets older than ttl_ms; returns how many. */
size_t smsc_reasm_expire(struct smsc_reasm *r, uint64_t now_ms);
size_t smsc_reasm_pending(const struct smsc_reasm *r);

/* ---------------------------------------------------------------------------------------- */
/* kyso-v1 applet payload (TELECOM.md 3.3)                                                  */

#define SMSC_KV1_VERSION   0x01u
#define SMSC_KV1_SIGN      0x01u
#define SMSC_KV1_SIGN_RESP 0x81u
#define SMSC_KV1_MAX       1024u

enum smsc_dcs {
	SMSC_DCS_GSM7_PACKED = 0x00,
	SMSC_DCS_GSM7 = 0x04, /* unpacked, one septet per octet */
	SMSC_DCS_UCS2 = 0x08,
};

struct smsc_kv1_req {
	uint64_t txn_ref;
	uint8_t key_ref;
	uint8_t hash_alg; /* 1 SHA-256, 2 -384, 3 -512; 0 when digest_info is used */
	const uint8_t *hash;
	size_t hash_len;
	const uint8_t *digest_info; /* tag 13, alternative to 11 + 12 */
	size_t digest_info_len;
	uint8_t dcs;
	const uint8_t *text; /* encoded display text */
	size_t text_len;
	bool has_not_after;
	uint64_t not_after;
};
struct smsc_kv1_rsp {
	uint64_t txn_ref;
	uint8_t status;
	bool has_pin_tries;
	uint8_t pin_tries;
	const uint8_t *sig;
	size_t sig_len;
	bool has_terminal_result;
	uint8_t terminal_result;
};
enum smsc_kv1_status {
	SMSC_KV1_SIGNED = 0x00,
	SMSC_KV1_USER_CANCEL = 0x01,
	SMSC_KV1_USER_TIMEOUT = 0x02,
	SMSC_KV1_PIN_BLOCKED = 0x03,
	SMSC_KV1_CARD_BLOCKED = 0x04,
	SMSC_KV1_KEY_NOT_FOUND = 0x05,
	SMSC_KV1_UNSUPPORTED_HASH = 0x06,
	SMSC_KV1_BAD_REQUEST = 0x07,
	SMSC_KV1_ME_UNSUPPORTED = 0x08,
	SMSC_KV1_ME_BUSY = 0x09,
	SMSC_KV1_APPLET_BUSY = 0x0A,
	SMSC_KV1_EXPIRED = 0x0B,
	SMSC_KV1_USER_REJECTED = 0x0C,
	SMSC_KV1_UNSUPPORTED_KEY_ALG = 0x0D,
	SMSC_KV1_INTERNAL = 0x0F,
};
enum smsc_err smsc_kv1_req_encode(const struct smsc_kv1_req *req, uint8_t *out, size_t cap,
                                  size_t *out_len) SMSC_MUSTCHECK;
/* BADREQ: wrong version/type, duplicate or missing mandatory tag, bad length. */
enum smsc_err smsc_kv1_req_decode(const uint8_t *buf, size_t len,
                                  struct smsc_kv1_req *out) SMSC_MUSTCHECK;
enum smsc_err smsc_kv1_rsp_encode(const struct smsc_kv1_rsp *rsp, uint8_t *out, size_t cap,
                                  size_t *out_len) SMSC_MUSTCHECK;
enum smsc_err smsc_kv1_rsp_decode(const uint8_t *buf, size_t len,
                                  struct smsc_kv1_rsp *out) SMSC_MUSTCHECK;

/* ---------------------------------------------------------------------------------------- */
/* Display-text fitting (TELECOM.md 3.3 budget)                                             */

struct smsc_text_fit {
	enum smsc_dcs dcs;     /* GSM7_PACKED when every char is in GSM 03.38, else UCS2 */
	size_t chars;          /* code points */
	size_t septets;        /* GSM-7 septets incl. escapes (0 for UCS-2) */
	size_t text_octets;    /* encoded size in tag 14 (after the DCS octet) */
	size_t request_octets; /* whole kyso-v1 request for this hash length */
	unsigned n_sms;        /* MT SMS the command takes; 0 when over 8 */
	bool fits;             /* n_sms != 0 && n_sms <= max_sms */
};
/* UTF-8 in; TEXT for invalid UTF-8 or a non-BMP character (north 101). */
enum smsc_err smsc_text_fit(const char *utf8, size_t len, size_t hash_len,
                            enum smsc_ota_alg kic_alg, unsigned max_sms,
                            struct smsc_text_fit *out) SMSC_MUSTCHECK;
/* Encodes for tag 14 in the given DCS. TEXT when a character has no GSM-7 form. */
enum smsc_err smsc_text_encode(const char *utf8, size_t len, enum smsc_dcs dcs, uint8_t *out,
                               size_t cap, size_t *out_len) SMSC_MUSTCHECK;

/* ---------------------------------------------------------------------------------------- */
/* Carrier routing: MSISDN prefix -> carrier -> SMSC link settings                           */

struct smsc_route_table; /* opaque; read-only after loading, so any thread may look up */

struct smsc_carrier {
	char name[32];
	char host[64]; /* numeric address (the gateway does no DNS on the loop) */
	uint16_t port;
	char system_id[16];
	char password[9]; /* secret: wiped at free */
	char system_type[13];
	char mo_addr[21]; /* our numeric MO address (source_addr) */
	uint32_t tps, window, binds;
	enum smsc_id_style id_style;
	enum smsc_class vendor_class;
	char national_prefix[4]; /* "0" by default: 0xxx -> cc + xxx */
	char country_code[4];    /* "84" */
};

enum smsc_err smsc_route_new(struct smsc_route_table **out) SMSC_MUSTCHECK;
void smsc_route_free(struct smsc_route_table *t);
/* Text form, one statement a line, '#' comments:
 *   carrier NAME host=A port=N system_id=S password=P [system_type=T] [mo_addr=D] [tps=N]
 *           [window=N] [binds=N] [dlr_id_style=auto|same|hex_resp_dec_dlr]
 *           [vendor_status=permanent|temporary] [cc=84] [national=0]
 *   route PREFIX NAME        (PREFIX: digits of the E.164 number without '+')
 * CONFIG with *line_no set on the first bad line. */
enum smsc_err smsc_route_load(struct smsc_route_table *t, const char *text, size_t len,
                              size_t *line_no) SMSC_MUSTCHECK;
/* Normalises +84.../84.../0... into E.164 digits (out[cap], NUL-terminated). */
enum smsc_err smsc_msisdn_normalise(const char *in, const char *cc, const char *national, char *out,
                                    size_t cap) SMSC_MUSTCHECK;
/* Longest prefix match on the normalised number. NOTFOUND when no route. */
enum smsc_err smsc_route_lookup(const struct smsc_route_table *t, const char *msisdn,
                                const struct smsc_carrier **out) SMSC_MUSTCHECK;
size_t smsc_route_count(const struct smsc_route_table *t);
/* The i-th carrier statement, in file order; NULL when i is past the last. */
const struct smsc_carrier *smsc_route_carrier(const struct smsc_route_table *t, size_t i);

#endif
