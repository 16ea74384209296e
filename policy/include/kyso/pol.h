/* kyso/pol.h -- who may sign what, certificate lifecycle, request routing, working days.
 *
 * A pure library (REGULATION.md §0 "Purity"): no I/O, no clock, no OpenSSL. The caller
 * passes `now`, the configuration, directory facts and certificate facts as plain structs
 * and gets a decision back. Every function is reentrant and may run on any thread; the
 * gateway calls it on its loop thread. Only pol_config_parse() allocates (through jansson,
 * everything freed before it returns); every other function works in the caller's memory.
 *
 * Pointer ownership: every pointer passed in is borrowed for the duration of the call only.
 * Strings are NUL-terminated UTF-8; a NULL string means "absent". Strings returned (names,
 * messages, rule ids) are static and live forever.
 *
 * Times are Unix seconds (UTC). Calendar days are "day numbers": days since 1970-01-01 in
 * Asia/Ho_Chi_Minh (UTC+07:00, no daylight saving), see pol_day_from_date().
 */
#ifndef KYSO_POL_H
#define KYSO_POL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POL_MUSTCHECK __attribute__((warn_unused_result))

enum pol_err { /* append only */
	POL_OK = 0,
	POL_E_INVAL = 1,     /* a required pointer is NULL or an enum is out of range */
	POL_E_TOO_BIG = 2,   /* configuration text over POL_CONFIG_MAX_BYTES */
	POL_E_JSON = 3,      /* configuration is not valid JSON (or has a duplicate key) */
	POL_E_SCHEMA = 4,    /* unknown key, wrong type or value out of bounds */
	POL_E_FULL = 5,      /* more entries than a fixed table holds */
	POL_E_NOT_FOUND = 6, /* no province profile with that slug */
	POL_E_NO_ROUTE = 7, /* the request does not exist for that credential/device (a "—" cell) */
	POL_E_RANGE = 8,    /* a date or day count outside the supported range */
	POL_E_NOMEM = 9,    /* jansson could not allocate */
};
const char *pol_strerror(enum pol_err e);

/* ARCHITECTURE.md §5 enums. Values are stored in rows: append only. */
enum pol_mode {
	POL_MODE_APPROVE = 0,
	POL_MODE_ISSUE = 1,
	POL_MODE_COPY = 2,
	POL_MODE_ATTACHMENT = 3,
	POL_MODE_SYSTEM = 4,
};
enum pol_cred_type {
	POL_CRED_PERSONAL = 0,
	POL_CRED_ORG = 1,
	POL_CRED_DEVICE = 2,
};
enum pol_device {
	POL_DEV_SIM = 0,
	POL_DEV_TOKEN = 1,
	POL_DEV_HSM = 2,
	POL_DEV_SOFT = 3,
};
enum pol_cred_state {
	POL_CRED_ACTIVE = 0,
	POL_CRED_LOCKED = 1,
	POL_CRED_REVOKED = 2,
	POL_CRED_LOST = 3,
};
enum pol_request {
	POL_REQ_ISSUE = 0,
	POL_REQ_RENEW = 1,
	POL_REQ_CHANGE = 2,
	POL_REQ_REVOKE = 3,
	POL_REQ_RECOVER = 4,
	POL_REQ_RETURN = 5,
	POL_REQ_LOST = 6,
};
enum pol_doc_state {
	POL_DOC_DRAFT = 0,
	POL_DOC_APPROVED = 1,
	POL_DOC_ISSUED = 2,
};
enum pol_secrecy { /* A1: document.secrecy */
	POL_SECRECY_MISSING = 0,
	POL_SECRECY_NONE = 1,
	POL_SECRECY_MAT = 2,
	POL_SECRECY_TOI_MAT = 3,
	POL_SECRECY_TUYET_MAT = 4,
};
enum pol_label { /* ND30 13: authority labels before the title */
	POL_LABEL_NONE = 0,
	POL_LABEL_KT = 1,  /* ký thay */
	POL_LABEL_TL = 2,  /* thừa lệnh */
	POL_LABEL_TUQ = 3, /* thừa ủy quyền */
	POL_LABEL_Q = 4,   /* quyền */
	POL_LABEL_TM = 5,  /* thay mặt */
};
enum pol_copy_form {
	POL_COPY_NONE = 0,
	POL_COPY_SAO_Y = 1,
	POL_COPY_SAO_LUC = 2,
	POL_COPY_TRICH_SAO = 3,
};
enum pol_person_status { /* B8: anything but ACTIVE ends signing at once */
	POL_PERSON_ACTIVE = 0,
	POL_PERSON_RETIRED = 1,
	POL_PERSON_RESIGNED = 2,
	POL_PERSON_DECEASED = 3,
	POL_PERSON_LEFT_STATE_SECTOR = 4,
	POL_PERSON_POSITION_FALSIFIES = 5, /* a position change made the certificate data false */
};
enum pol_chain {
	POL_CHAIN_OK = 0,
	POL_CHAIN_UNTRUSTED_ROOT = 1,
	POL_CHAIN_INVALID = 2,
};
enum pol_trust {
	POL_TRUST_CONG_VU = 0,
	POL_TRUST_PUBLIC_NEAC = 1,
	POL_TRUST_FOREIGN = 2,
};
enum pol_revocation {
	POL_REV_GOOD = 0,
	POL_REV_REVOKED = 1,
	POL_REV_CA_REVOKED = 2,
	POL_REV_UNKNOWN = 3, /* no usable status: D3 */
};
enum pol_key_alg {
	POL_KEY_RSA = 0,
	POL_KEY_EC = 1,
	POL_KEY_OTHER = 2,
};
enum pol_hash { /* bit positions in pol_config.hashes_allowed */
	POL_HASH_SHA1 = 0,
	POL_HASH_SHA256 = 1,
	POL_HASH_SHA384 = 2,
	POL_HASH_SHA512 = 3,
	POL_HASH_SHA512_224 = 4,
	POL_HASH_SHA512_256 = 5,
	POL_HASH_SHA3_224 = 6,
	POL_HASH_SHA3_256 = 7,
	POL_HASH_SHA3_384 = 8,
	POL_HASH_SHA3_512 = 9,
	POL_HASH_SHAKE128 = 10,
	POL_HASH_SHAKE256 = 11,
	POL_HASH_MD5 = 12,
};

/* Verdicts, least to most severe (REGULATION.md §0 "Verdicts"). */
enum pol_verdict {
	POL_ALLOW = 0,
	POL_WARN = 1,
	POL_COSIGN = 2,
	POL_DENY = 3,
};
enum pol_role { /* COSIGN:<ROLE> */
	POL_ROLE_NONE = 0,
	POL_ROLE_CLERK = 1,
	POL_ROLE_COMPETENT_PERSON = 2,
	POL_ROLE_DOST_OPERATOR = 3,
};
enum pol_task { /* TASK:<KIND>, created by the gateway and listed by kysoctl */
	POL_TASK_DRAFT_NEW_ISSUANCE = 0,
	POL_TASK_DRAFT_MAU_04 = 1,
	POL_TASK_DRAFT_MAU_05 = 2,
	POL_TASK_DRAFT_MAU_06 = 3,
	POL_TASK_DRAFT_MAU_09 = 4,
	POL_TASK_DEVICE_RETURN = 5,
	POL_TASK_NOTIFY_DOST = 6,
	POL_TASK_NOTIFY_HEAD_IT = 7,
	POL_TASK_COUNT
};
const char *pol_task_name(enum pol_task t); /* "DRAFT_MAU_04"; "?" if out of range */
const char *pol_role_name(enum pol_role r); /* "CLERK"; "NONE" */

/* Reasons: stable names (the API sends the name without POL_R_). Append only. */
enum pol_reason {
	POL_R_NONE = 0,
	POL_R_SECRECY_LEVEL_MISSING = 1,
	POL_R_STATE_SECRET_REFUSED = 2,
	POL_R_PUBLIC_CA_NOT_ALLOWED = 3,
	POL_R_TITLE_NOT_AUTHORISED = 4,
	POL_R_TITLE_MISMATCH = 5,
	POL_R_NOT_IN_MANAGED_TREE = 6,
	POL_R_ORG_PRECONDITION_MISSING = 7,
	POL_R_ASSET_NOT_REGISTERED = 8,
	POL_R_OFFICIAL_EMAIL_REQUIRED = 9,
	POL_R_NOT_MANAGING_AGENCY = 10,
	POL_R_VALIDITY_TOO_LONG = 11,
	POL_R_RENEWAL_TOO_LONG = 12,
	POL_R_RENEWAL_LIMIT_REACHED = 13,
	POL_R_TOO_LATE_TO_RENEW = 14,
	POL_R_TOO_LATE_TO_CHANGE = 15,
	POL_R_CHANGE_ALTERED_VALIDITY = 16,
	POL_R_CERT_DATA_STALE = 17,
	POL_R_SUBSCRIBER_INACTIVE = 18,
	POL_R_ORG_DISSOLVED = 19,
	POL_R_KEY_COMPROMISED = 20,
	POL_R_LEGAL_BASIS_MISSING = 21,
	POL_R_LOSS_MINUTES_MISSING = 22,
	POL_R_DEVICE_LOCKED = 23,
	POL_R_REASON_REQUIRED = 24,
	POL_R_REQUEST_NOT_SIGNED = 25,
	POL_R_ORG_KEY_NOT_ASSIGNED = 26,
	POL_R_ORG_KEY_OUTSIDE_PREMISES = 27,
	POL_R_SEAL_HANDOVER_INVALID = 28,
	POL_R_AUTOMATED_ORG_SEAL = 29,
	POL_R_ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE = 30,
	POL_R_COPY_NOT_OWN = 31,
	POL_R_SUBSCRIBER_MISMATCH = 32,
	POL_R_CERT_TYPE_MODE_MISMATCH = 33,
	POL_R_CERT_NOT_OWN = 34,
	POL_R_NO_DELEGATION = 35,
	POL_R_DELEGATION_EXPIRED = 36,
	POL_R_DELEGATION_OUT_OF_SCOPE = 37,
	POL_R_REDELEGATION_FORBIDDEN = 38,
	POL_R_ISSUE_BEFORE_APPROVE = 39,
	POL_R_ALGORITHM_NOT_ALLOWED = 40,
	POL_R_STATUS_UNKNOWN = 41,
	POL_R_STATUS_UNKNOWN_SEAL = 42,
	POL_R_PAPER_COPY_REQUIRED = 43,
	POL_R_MAIN_DOCUMENT_NOT_ISSUED = 44,
	POL_R_UNTRUSTED_ROOT = 45,
	POL_R_INVALID_CERT_CHAIN = 46,
	POL_R_CERT_EXPIRED = 47,
	POL_R_CERT_NOT_YET_VALID = 48,
	POL_R_CERT_USAGE_NOT_ALLOWED = 49,
	POL_R_CERT_IS_REVOKED = 50,
	POL_R_CA_CERT_IS_REVOKED = 51,
	POL_R_CALENDAR_MISSING = 52,
	POL_R_SIGNER_QUOTA = 53,
	POL_R_CREDENTIAL_NOT_LOCKED = 54, /* recovery asked for a credential that is not locked */
	POL_R_COUNT
};

/* How a reason appears on the wire (PROTOCOL.md §5). `code` 0: not a refusal (a WARN
 * reason, or one that answers kysoctl only); `sub` 0: the code has no sub-code. */
struct pol_reason_info {
	const char *name;        /* "NO_DELEGATION" (the POL_R_ name without the prefix) */
	const char *rule;        /* REGULATION.md id it belongs to, e.g. "C8" */
	uint16_t code;           /* TS 102 204 status code, e.g. 104 */
	uint16_t sub;            /* sub-code, e.g. 1048 */
	const char *status_name; /* "UNAUTHORIZED_ACCESS" ("" when code is 0) */
	const char *msg_vi;      /* Vietnamese message for the user */
	const char *msg_en;
};
/* Never NULL: an out-of-range value gives the POL_R_NONE entry. */
const struct pol_reason_info *pol_reason_info(enum pol_reason r);

/* ------------------------------------------------------------------------------------ */
/* Configuration: the `policy` section (REGULATION.md §4, §5, §9). A fixed-size plain struct
 * so that evaluation never allocates; the caller owns it (static or heap, about 60 KiB). */

#define POL_CONFIG_MAX_BYTES  (256u * 1024u)
#define POL_SLUG_CAP          48
#define POL_NAME_CAP          192
#define POL_CODE_CAP          32
#define POL_URL_CAP           256
#define POL_SECRET_CAP        129
#define POL_PROVINCES_MAX     80
#define POL_EMAIL_DOMAINS_MAX 8
#define POL_DOMAIN_CAP        64
#define POL_YEARS_MAX         40
#define POL_YEAR_MIN          2000
#define POL_YEAR_MAX          2099

enum pol_regime {
	POL_REGIME_ND68 = 0,
	POL_REGIME_LEGACY_TT185 = 1,
};
enum pol_dest {
	POL_DEST_CENTRAL = 0, /* Cục CTS&BMTT */
	POL_DEST_DOST = 1,    /* the province's Sở KH&CN */
};
enum pol_channel {
	POL_CH_PORTAL = 0,      /* the Cục's public-service portal */
	POL_CH_TRUC = 1,        /* Trục liên thông văn bản quốc gia, with truc_code */
	POL_CH_QLVB = 2,        /* QLVB&ĐH, the provincial document system: HP 6.2 */
	POL_CH_EMAIL = 3,       /* legacy: ca@bcy.gov.vn (B20) */
	POL_CH_DESTRUCTION = 4, /* remote or software key: a destruction record, no device (U) */
};
enum pol_stale_action { /* policy.signing.stale_on_transfer (B7) */
	POL_STALE_WARN = 0,
	POL_STALE_DENY = 1,
	POL_STALE_ALLOW = 2,
};

/* Bits of pol_province.authorised (dost_authorised_for). */
#define POL_AUTH_RENEW         (1u << 0)
#define POL_AUTH_CHANGE        (1u << 1)
#define POL_AUTH_RECOVER_TOKEN (1u << 2)

struct pol_connector { /* recovery webhook of a destination; url[0] == 0: none */
	char url[POL_URL_CAP];
	char ca_file[POL_URL_CAP];   /* PEM bundle for the webhook's TLS; "" = the system store */
	char secret[POL_SECRET_CAP]; /* HMAC key: wiped by pol_config_wipe() */
};

struct pol_province {
	char slug[POL_SLUG_CAP];
	char name[POL_NAME_CAP];
	enum pol_regime regime;
	unsigned authorised;                /* POL_AUTH_* */
	char truc_code[POL_CODE_CAP];       /* "" when unpublished */
	enum pol_channel channel_to_dost;   /* POL_CH_TRUC (default) or POL_CH_QLVB */
	bool dost_handles_sim_renew_change; /* O3, default false */
	bool sim_recovery_override;         /* B15: SIM recovery to the Sở (default false) */
	struct pol_connector connector;
};

struct pol_central {
	char name[POL_NAME_CAP];
	char portal[POL_URL_CAP];
	char truc_code[POL_CODE_CAP]; /* G11.07.05 */
	char email[POL_DOMAIN_CAP];   /* legacy channel */
	enum pol_channel channel;     /* POL_CH_PORTAL (default) or POL_CH_TRUC */
	int sla_recover_wd;           /* 3 (assumed, O2) */
	struct pol_connector connector;
};

struct pol_cal_year {
	int year;
	uint8_t off[46]; /* bit per day of year (0-based): holiday or compensatory day off */
	uint8_t on[46];  /* bit per day of year: announced make-up working day (a weekend) */
};
struct pol_calendar {
	int office_end_min; /* receipt after this local minute counts from the next working day */
	unsigned nyears;
	struct pol_cal_year years[POL_YEARS_MAX]; /* sorted by year */
};

struct pol_config {
	enum pol_regime regime;
	/* cert (B1-B5) */
	int new_max_years, renewal_max_years, renewal_max_count;
	int renewal_min_days_left, change_min_days_left, legacy_renewal_min_days_left;
	int reminders_days[4];
	unsigned nreminders;
	/* sla_working_days: -1 = null (track only, no due date) */
	int sla_issue, sla_revoke, sla_recover_token_dost, sla_device_return, sla_renew_change;
	int escalate_at[2];
	/* signing (D3, B7) */
	bool block_unknown_approve, block_unknown_org_seal;
	enum pol_stale_action stale_on_transfer;
	int64_t public_ca_cutoff;        /* A2: end of that day, Unix s; 0 = none */
	int64_t legacy_algorithm_cutoff; /* 0 = none */
	char email_domains[POL_EMAIL_DOMAINS_MAX][POL_DOMAIN_CAP];
	unsigned nemail_domains;
	/* crypto_min (D10) */
	unsigned rsa_min_bits, ecdsa_min_bits;
	unsigned hashes_allowed; /* bit (1u << enum pol_hash) */
	struct pol_central central;
	unsigned nprovinces;
	struct pol_province provinces[POL_PROVINCES_MAX];
	struct pol_calendar calendar;
};

/* The national defaults of REGULATION.md §9, the central profile and the shipped province
 * profiles `default`, `dong-nai`, `hai-phong`, `ninh-binh`, `quang-nam`. Calendar empty. */
void pol_config_defaults(struct pol_config *cfg);

/* Wipes the connector secrets and the whole struct (explicit_bzero). */
void pol_config_wipe(struct pol_config *cfg);

struct pol_cfg_error {
	int line, column; /* 1-based position in `text` for JSON syntax errors, else 0 */
	char path[128];   /* where the problem is, e.g. "provinces.dong-nai.truc_code" */
	char text[200];   /* what is wrong, in English */
};

/* Parses the text of the `policy` object (len bytes, need not be NUL-terminated) on top
 * of pol_config_defaults(): scalar keys replace the default; a province entry starts from
 * the shipped profile of the same slug (else from `default`) and its keys replace fields;
 * the calendar is replaced. Unknown keys, duplicate keys, wrong types and values out of
 * bounds are errors. *cfg is the caller's fresh struct: on success it holds the result; on
 * any error it is wiped to zeros (never half-loaded) and *err says why (err may be NULL).
 * Errors: POL_E_INVAL, POL_E_TOO_BIG, POL_E_JSON, POL_E_SCHEMA, POL_E_FULL, POL_E_NOMEM. */
enum pol_err pol_config_parse(const char *text, size_t len, struct pol_config *cfg,
                              struct pol_cfg_error *err) POL_MUSTCHECK;

/* The profile with that slug, or NULL. */
const struct pol_province *pol_province_find(const struct pol_config *cfg, const char *slug);

/* ------------------------------------------------------------------------------------ */
/* Decisions */

#define POL_HITS_MAX  16
#define POL_TASKS_MAX 8

struct pol_hit {
	enum pol_verdict verdict; /* POL_DENY or POL_WARN */
	enum pol_reason reason;
	const char *rule; /* REGULATION.md id, e.g. "C8" */
};
struct pol_task_item {
	enum pol_task kind;
	const char *rule;
};
struct pol_decision {
	enum pol_verdict verdict; /* the most severe of everything below */
	enum pol_reason reason;   /* the first DENY in evaluation order (the error frame's) */
	const char *rule;         /* its rule id; NULL when nothing was denied */
	enum pol_role cosign;     /* COSIGN:<ROLE>, POL_ROLE_NONE if none */
	const char *cosign_rule;
	unsigned nhit;
	struct pol_hit hit[POL_HITS_MAX]; /* every DENY and WARN, in evaluation order */
	unsigned ntask;
	struct pol_task_item task[POL_TASKS_MAX];
	bool truncated; /* more hits or tasks than the arrays hold (never in practice) */
};

/* ------------------------------------------------------------------------------------ */
/* Signing (REGULATION.md §3 groups A, B, C, D): facts the gateway looks up, then one call. */

struct pol_title {        /* a current title from the directory (A3: never from the certificate) */
	const char *org;  /* organisation slug it belongs to */
	const char *name; /* e.g. "Phó Giám đốc" */
	const char *const *classes; /* document classes it may sign; "*" = every class */
	size_t nclasses;
};
struct pol_signer {
	const char *id; /* directory subscriber id */
	enum pol_person_status status;
	bool service_account;  /* C4: a machine account, never the org seal */
	bool transfer_pending; /* B7: moved within the state sector, Mẫu 04 not yet done */
	const struct pol_title *titles;
	size_t ntitles;
};
struct pol_delegation { /* an active-or-not delegation record naming this signer */
	enum pol_label label;
	const char *principal;      /* who is signed for */
	const char *delegate;       /* who signs */
	const char *const *classes; /* scope; "*" = every class */
	size_t nclasses;
	int64_t valid_from, valid_until; /* Unix s; valid_until 0 = open-ended (not for TUQ., C9) */
	bool revoked;
	bool granted_by_delegate; /* the grantor held this power by a TUQ. itself (C9) */
};
struct pol_seal_assignment { /* C1: head's decision assigning an org credential to a clerk */
	const char *credential_id;
	const char *clerk;
	const char *decision_ref;
	int64_t valid_from, valid_until; /* valid_until 0 = until withdrawn */
	bool revoked;
};
struct pol_seal_handover { /* C3: temporary custody of the org key */
	const char *credential_id;
	const char *holder;
	const char *permission_ref; /* competent person's written permission */
	const char *minutes_ref;    /* hand-over minutes */
	int64_t valid_from, valid_until;
};
struct pol_cert { /* facts about the credential that would sign, at `now` */
	const char *credential_id;
	const char *holder_id; /* personal: person id; org: org slug; device: asset id */
	enum pol_cred_type type;
	enum pol_device device;
	enum pol_cred_state state;
	const char *printed_title; /* title printed in the certificate, NULL if none */
	int64_t not_before, not_after;
	enum pol_chain chain;
	bool usage_ok; /* KeyUsage digitalSignature or nonRepudiation, required fields (§6.8) */
	enum pol_key_alg key_alg;
	unsigned key_bits;
	enum pol_hash sig_hash; /* hash of the certificate's own signature */
	enum pol_trust trust;
	enum pol_revocation revocation;
	bool subscriber_org_dissolved; /* B9, B10: org dissolved/merged/split, device retired */
};
struct pol_approval { /* the approve transaction named by document.approval_txn (C5) */
	const char *org;
	const char *digest;
	enum pol_mode mode;
	bool valid;      /* it ended VALID (502) */
	bool authorised; /* it passed A3 and C8 */
};
struct pol_document {
	const char *org;
	const char *doc_class; /* document.class; NULL = "general" */
	const char *digest;
	enum pol_secrecy secrecy;
	enum pol_doc_state state;
	bool takes_seal;  /* the class is issued under the org seal (D9: COSIGN:CLERK) */
	bool needs_paper; /* the class also needs a paper copy (D13) */
	enum pol_copy_form copy_form;
	const char *copy_made_by;            /* copy mode: org that made the copy */
	enum pol_doc_state main_state;       /* attachment mode: state of the main document */
	const struct pol_approval *approval; /* issue mode; NULL = none named or not found */
};
struct pol_sign_ctx {
	enum pol_mode mode;
	int64_t now;
	const struct pol_signer *signer;
	const struct pol_cert *cert;
	const struct pol_document *doc;
	enum pol_label on_behalf_label; /* POL_LABEL_NONE: signing in one's own name */
	const char *on_behalf_principal;
	const struct pol_delegation *delegations;
	size_t ndelegations;
	const struct pol_seal_assignment *seals;
	size_t nseals;
	const struct pol_seal_handover *handovers;
	size_t nhandovers;
	const char *session_holder; /* C6: subscriber of the device session; NULL = AP connection */
	bool on_premises;           /* C2: origin inside org_key_network_allowlist */
};

/* Evaluates every applicable rule for one `sign` before any device is contacted.
 * Errors: POL_E_INVAL (cfg, ctx, signer, cert, doc or out NULL; enum out of range). */
enum pol_err pol_sign_check(const struct pol_config *cfg, const struct pol_sign_ctx *ctx,
                            struct pol_decision *out) POL_MUSTCHECK;

/* C3: creating a hand-over. Valid → COSIGN:COMPETENT_PERSON, else DENY:SEAL_HANDOVER_INVALID. */
enum pol_err pol_handover_check(const struct pol_seal_handover *h, int64_t now,
                                struct pol_decision *out) POL_MUSTCHECK;

/* C9: creating a delegation. TUQ. must be written (basis), time-limited and scoped, and not
 * granted by a delegate → else DENY; a valid one → COSIGN:COMPETENT_PERSON. */
enum pol_err pol_delegation_check(const struct pol_delegation *d, const char *basis_ref,
                                  struct pol_decision *out) POL_MUSTCHECK;

/* ------------------------------------------------------------------------------------ */
/* Lifecycle (REGULATION.md §3 B, A4-A8) */

enum pol_revoke_basis {
	POL_REVOKE_SUBSCRIBER_REQUEST = 0, /* the agency asks */
	POL_REVOKE_KEY_EXPOSED = 1,
	POL_REVOKE_DEVICE_LOST = 2,
	POL_REVOKE_DEVICE_DAMAGED = 3,
	POL_REVOKE_SUBSCRIBER_INACTIVE = 4, /* B8 */
	POL_REVOKE_ORG_DISSOLVED = 5,       /* B9, B10 */
	POL_REVOKE_AUTHORITY_REQUEST = 6,   /* police, prosecutor: needs a legal basis (B11) */
};

struct pol_lifecycle_req {
	enum pol_request type;
	enum pol_cred_type cred_type;
	enum pol_device device;
	enum pol_cred_state state;
	bool submit; /* false: a prepared draft (COSIGN:CLERK); true: filed (B19) */
	bool agency_signed;
	/* issue: A4-A8 */
	bool subject_in_managed_tree;
	bool filer_is_managing_agency;
	const char *applicant_email;
	bool org_legal_personality, org_has_seal, org_establishment_decision; /* A5 */
	bool asset_registered;                                                /* A6 */
	/* validity: current certificate (renew, change) or the requested one (issue) */
	int64_t not_before, not_after;
	int64_t new_not_after; /* renew/change: requested end */
	unsigned renewal_count;
	/* revoke, lost */
	enum pol_revoke_basis basis;
	bool legal_basis_present;  /* B11 */
	bool loss_minutes_present; /* B13: Mẫu 09 */
};

/* Checks one lifecycle request filed through the router. `province` gives the regime
 * (legacy: 60 days before renewal); NULL means national rules.
 * Errors: POL_E_INVAL. */
enum pol_err pol_request_check(const struct pol_config *cfg, const struct pol_province *province,
                               const struct pol_lifecycle_req *req, int64_t now,
                               struct pol_decision *out) POL_MUSTCHECK;

/* Things that happen to a subscriber, an organisation or a device (B6-B14). */
enum pol_event {
	POL_EV_INFO_CHANGED = 0, /* new employer/e-mail, org renamed or moved, device upgrade */
	POL_EV_TRANSFER_IN_STATE = 1, /* move within the state sector: keep the cert (B7) */
	POL_EV_RETIRED = 2,
	POL_EV_RESIGNED = 3,
	POL_EV_DECEASED = 4,
	POL_EV_LEFT_STATE_SECTOR = 5,
	POL_EV_POSITION_FALSIFIES = 6,
	POL_EV_ORG_DISSOLVED = 7, /* dissolved, split or merged */
	POL_EV_DEVICE_DECOMMISSIONED = 8,
	POL_EV_KEY_EXPOSED = 9,
	POL_EV_DEVICE_LOST = 10,
	POL_EV_DEVICE_DAMAGED = 11,
	POL_EV_PIN_BLOCKED = 12, /* 402/4021 from any channel (B14) */
};
/* What the event means for the credential: the DENY that later signing meets (if any) and
 * the tasks to create. Errors: POL_E_INVAL. */
enum pol_err pol_event_classify(enum pol_event ev, struct pol_decision *out) POL_MUSTCHECK;

/* B16/B24: the Sở refuses a request. Without a written reason → DENY:REASON_REQUIRED;
 * with one → COSIGN:DOST_OPERATOR (a second operator). Errors: POL_E_INVAL. */
enum pol_err pol_rejection_check(const char *reason_text, struct pol_decision *out) POL_MUSTCHECK;

/* ------------------------------------------------------------------------------------ */
/* Router (REGULATION.md §4) */

#define POL_PRE_MAX 6

struct pol_route {
	enum pol_dest dest;
	const char *dest_id;   /* "central" or the province slug (points into cfg) */
	const char *dest_name; /* points into cfg */
	int form;              /* Mẫu number: 1-6, 8, 9 */
	int form2;             /* a second form filed with it (lost: 05), else 0 */
	int legacy_form;       /* TT185 agency-level form for `form`, 0 if none */
	enum pol_channel channel;
	const char *truc_code; /* the destination's Trục code, "" if none (points into cfg) */
	const char *email;     /* legacy e-mail channel, else "" */
	int sla_wd;            /* working days; 0 = same day; -1 = no due date (track only) */
	bool needs_operator;   /* SIM issuance needs the mobile operator */
	bool notify_dost;      /* legacy regime: copy to the Sở (B20) */
	unsigned npre;
	const char *pre[POL_PRE_MAX]; /* rule ids checked before filing, e.g. "B2" */
};

/* Routes (request × credential type × device × province). credential type matters only for
 * `issue`. Errors: POL_E_INVAL, POL_E_NOT_FOUND (no such slug), POL_E_NO_ROUTE. */
enum pol_err pol_route(const struct pol_config *cfg, enum pol_request req, enum pol_cred_type cred,
                       enum pol_device dev, const char *province,
                       struct pol_route *out) POL_MUSTCHECK;

/* "Mẫu 06"-style label of a form number; "" if unknown. */
const char *pol_form_name(int form);
/* TT185 agency-level form for an ND68 Mẫu (01→02 ... 09→15), 0 if none. */
int pol_form_legacy(int form);
const char *pol_request_name(enum pol_request r); /* "recover"; "?" */
const char *pol_device_name(enum pol_device d);   /* "token"; "?" */
const char *pol_channel_name(enum pol_channel c); /* "portal", "truc", ...; "?" */
/* Parsers for CLI/config words; false if unknown. */
bool pol_request_parse(const char *s, enum pol_request *out);
bool pol_device_parse(const char *s, enum pol_device *out);

/* ------------------------------------------------------------------------------------ */
/* Working-day calendar (REGULATION.md §5), Asia/Ho_Chi_Minh. */

/* Day number of a civil date, and back. Errors: POL_E_RANGE (year outside 1970-9999,
 * month or day invalid). */
enum pol_err pol_day_from_date(int year, int month, int day, int32_t *out) POL_MUSTCHECK;
void pol_day_to_date(int32_t dayno, int *year, int *month, int *day);
/* Local day number and minute of the day of a Unix time (UTC+07:00). */
int32_t pol_day_of_time(int64_t t, int *minute_of_day);

/* Working day? *missing set true when the year has no calendar entry (weekends only). */
bool pol_wd_is_working(const struct pol_calendar *cal, int32_t dayno, bool *missing);

/* Due date of an SLA of n working days when `day0` is the receipt day: day 0 is day0 if it
 * is a working day, else the next one; the due date is working day n after it (n = 0: day 0
 * itself). *missing is set when a visited year had no calendar (WARN:CALENDAR_MISSING).
 * Errors: POL_E_INVAL, POL_E_RANGE (n over 366). */
enum pol_err pol_wd_add(const struct pol_calendar *cal, int32_t day0, int n, int32_t *due,
                        bool *missing) POL_MUSTCHECK;

/* As pol_wd_add() from a receipt time: a receipt after office hours counts from the next
 * working day (REGULATION.md §5, O14). */
enum pol_err pol_wd_due(const struct pol_calendar *cal, int64_t received_at, int n, int32_t *due,
                        bool *missing) POL_MUSTCHECK;

/* Working days in (a, b]: positive when b is after a, negative when before, 0 if equal.
 * Errors: POL_E_INVAL, POL_E_RANGE (more than 20 years apart). */
enum pol_err pol_wd_between(const struct pol_calendar *cal, int32_t a, int32_t b, int *out,
                            bool *missing) POL_MUSTCHECK;

#endif /* KYSO_POL_H */
