-- 0002_directory: who holds which title, delegations, seal custody, credentials and their
-- devices (SIM cards and their OTA keysets), certificate requests with their status history,
-- and the loaded copy of the policy configuration (province profiles, holidays) that
-- kysoctl and reports read (ARCHITECTURE.md section 5, REGULATION.md sections 3, 4, 5, 7).
-- Enum words are those of ARCHITECTURE.md section 5; REGULATION.md rule ids in brackets.

-- Titles -------------------------------------------------------------------------------------

-- A title held by a person in an organisation, with the document classes it may sign [A3,
-- C10: the title comes from here, never from the certificate]. '*' covers every class.
-- seal_clerk: the person is the organisation's clerk (văn thư) [C1]; it_officer: may hold
-- system certificates and draft requests (REGULATION.md section 2).
CREATE TABLE role_assignment (
	id          bigserial PRIMARY KEY,
	person      text NOT NULL REFERENCES person (id),
	org         text NOT NULL REFERENCES org (slug),
	title       text NOT NULL CHECK (title <> ''),
	doc_classes text[] NOT NULL DEFAULT '{}',
	seal_clerk  boolean NOT NULL DEFAULT false,
	it_officer  boolean NOT NULL DEFAULT false,
	valid_from  timestamptz NOT NULL DEFAULT now(),
	valid_until timestamptz,
	created_at  timestamptz NOT NULL DEFAULT now(),
	CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX role_assignment_person ON role_assignment (person);
CREATE INDEX role_assignment_org ON role_assignment (org);

-- Signing on behalf [C8, C9]: the grantor (the principal) lets the grantee sign under a
-- label for the document classes in scope. A TUQ. is written (basis_ref), limited in time and
-- never granted by someone who holds the power by a TUQ. himself: the CHECK mirrors
-- pol_delegation_check() so that no path can store one that the policy would refuse.
CREATE TABLE delegation (
	id                  bigserial PRIMARY KEY,
	grantor             text NOT NULL REFERENCES person (id),
	grantee             text NOT NULL REFERENCES person (id),
	label               text NOT NULL CHECK (label IN ('KT.', 'TL.', 'TUQ.', 'Q.', 'TM.')),
	scope               text[] NOT NULL CHECK (cardinality(scope) >= 1),
	valid_from          timestamptz NOT NULL,
	valid_until         timestamptz,
	basis_ref           text,
	granted_by_delegate boolean NOT NULL DEFAULT false,
	revoked_at          timestamptz,
	created_at          timestamptz NOT NULL DEFAULT now(),
	CHECK (grantor <> grantee),
	CHECK (valid_until IS NULL OR valid_until > valid_from),
	CHECK (label <> 'TUQ.' OR (valid_until IS NOT NULL AND basis_ref IS NOT NULL
	                           AND NOT granted_by_delegate))
);
CREATE INDEX delegation_grantee ON delegation (grantee);

-- Credentials ------------------------------------------------------------------------------

-- A certificate and the device that holds its key. org is the subscriber's organisation;
-- person the holder of a personal certificate. cert_sha256 (hex of the DER) makes imports
-- idempotent. display_name is the name as registered (the subject CN), which the usage
-- report prints [F3].
CREATE TABLE credential (
	id            bigserial PRIMARY KEY,
	org           text NOT NULL REFERENCES org (slug),
	person        text REFERENCES person (id),
	type          text NOT NULL CHECK (type IN ('personal', 'org', 'device')),
	device        text NOT NULL CHECK (device IN ('sim', 'token', 'hsm', 'soft')),
	msisdn        text,
	token_serial  text,
	cert_der      bytea,
	cert_sha256   text UNIQUE CHECK (cert_sha256 IS NULL OR cert_sha256 ~ '^[0-9a-f]{64}$'),
	subject       text,
	display_name  text,
	serial_hex    text,
	not_before    timestamptz,
	not_after     timestamptz,
	key_alg       text,
	state         text NOT NULL DEFAULT 'active'
	              CHECK (state IN ('active', 'locked', 'revoked', 'lost')),
	renewal_count int NOT NULL DEFAULT 0 CHECK (renewal_count >= 0),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	CHECK (type <> 'personal' OR person IS NOT NULL OR device = 'sim'),
	CHECK (not_after IS NULL OR not_before IS NULL OR not_after > not_before)
);
CREATE INDEX credential_org ON credential (org);
CREATE INDEX credential_person ON credential (person);
CREATE INDEX credential_msisdn ON credential (msisdn) WHERE msisdn IS NOT NULL;

-- The org key is used only by the clerk named in the head's assignment decision [C1].
CREATE TABLE seal_assignment (
	id           bigserial PRIMARY KEY,
	credential   bigint NOT NULL REFERENCES credential (id),
	clerk        text NOT NULL REFERENCES person (id),
	decision_ref text NOT NULL CHECK (decision_ref <> ''),
	valid_from   timestamptz NOT NULL DEFAULT now(),
	valid_until  timestamptz,
	revoked_at   timestamptz,
	created_at   timestamptz NOT NULL DEFAULT now(),
	CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX seal_assignment_credential ON seal_assignment (credential);

-- Temporary custody of the org key: written permission, minutes, a named holder and a
-- window, all required [C3].
CREATE TABLE seal_handover (
	id             bigserial PRIMARY KEY,
	assignment     bigint NOT NULL REFERENCES seal_assignment (id),
	holder         text NOT NULL REFERENCES person (id),
	permission_ref text NOT NULL CHECK (permission_ref <> ''),
	minutes_ref    text NOT NULL CHECK (minutes_ref <> ''),
	valid_from     timestamptz NOT NULL,
	valid_until    timestamptz NOT NULL,
	created_at     timestamptz NOT NULL DEFAULT now(),
	CHECK (valid_until > valid_from)
);
CREATE INDEX seal_handover_assignment ON seal_handover (assignment);

-- SIM cards (TELECOM.md section 5.2). locked_txn: the transaction holding the card, so that
-- a second envelope is never sent while one is on it.
CREATE TABLE sim_card (
	iccid      text PRIMARY KEY CHECK (iccid ~ '^[0-9]{18,22}F?$'),
	msisdn     text UNIQUE NOT NULL CHECK (msisdn ~ '^[0-9]{6,15}$'),
	carrier    text,
	tar        text CHECK (tar IS NULL OR tar ~ '^[0-9a-f]{6}$'),
	credential bigint REFERENCES credential (id),
	locked_txn text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- OTA keysets per card and key version (TS 102 225). counter is the replay counter, written
-- ahead before every submit; an import never moves it backwards.
CREATE TABLE sim_keyset (
	iccid   text REFERENCES sim_card (iccid),
	kvn     int CHECK (kvn BETWEEN 1 AND 15),
	kic_alg text CHECK (kic_alg IN ('3des-2key', '3des-3key', 'aes-cbc', 'aes-cmac')),
	kic     bytea,
	kid_alg text CHECK (kid_alg IN ('3des-2key', '3des-3key', 'aes-cbc', 'aes-cmac')),
	kid     bytea,
	tar     text CHECK (tar IS NULL OR tar ~ '^[0-9a-f]{6}$'),
	counter bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
	PRIMARY KEY (iccid, kvn)
);

-- Certificate requests ---------------------------------------------------------------------

-- A lifecycle request filed through the router (REGULATION.md section 4): where it goes,
-- on which form and channel, and when it is due (working days, section 5; NULL when the
-- SLA is tracked without a due date). detail keeps the request's own facts (new validity,
-- revocation basis, rejection reason).
CREATE TABLE cert_request (
	id          bigserial PRIMARY KEY,
	type        text NOT NULL
	            CHECK (type IN ('issue', 'renew', 'change', 'revoke', 'recover', 'return', 'lost')),
	credential  bigint REFERENCES credential (id),
	org         text NOT NULL REFERENCES org (slug),
	person      text REFERENCES person (id),
	cred_type   text NOT NULL CHECK (cred_type IN ('personal', 'org', 'device')),
	device      text NOT NULL CHECK (device IN ('sim', 'token', 'hsm', 'soft')),
	province    text NOT NULL,
	destination text NOT NULL,
	form        int NOT NULL,
	form2       int,
	legacy_form int,
	channel     text NOT NULL,
	truc_code   text,
	sla_wd      int,
	due_date    date,
	status      text NOT NULL
	            CHECK (status IN ('draft', 'filed', 'accepted', 'done', 'rejected', 'cancelled')),
	detail      jsonb NOT NULL DEFAULT '{}',
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	CHECK (type = 'issue' OR credential IS NOT NULL)
);
CREATE INDEX cert_request_org ON cert_request (org);
CREATE INDEX cert_request_open ON cert_request (status)
	WHERE status IN ('draft', 'filed', 'accepted');

-- Every status a request went through, in order (seq from 1).
CREATE TABLE cert_request_status (
	request bigint NOT NULL REFERENCES cert_request (id),
	seq     int NOT NULL CHECK (seq >= 1),
	status  text NOT NULL,
	at      timestamptz NOT NULL DEFAULT now(),
	note    text,
	PRIMARY KEY (request, seq)
);

-- Loaded policy ----------------------------------------------------------------------------
-- A copy of the gateway configuration's `policy` section, written by `kysoctl policy load`.
-- policy_source keeps the text that was loaded (connector secrets removed: they stay in the
-- gateway's configuration) so that kysoctl routes exactly as the gateway does; the two tables
-- below are the same data in rows for reports and plain SQL.
CREATE TABLE policy_source (
	id        bigserial PRIMARY KEY,
	text      text NOT NULL,
	sha256    text NOT NULL,
	loaded_at timestamptz NOT NULL DEFAULT now()
);

-- One row per province profile, and the central CA as slug 'central' (kind 'central').
CREATE TABLE province_profile (
	slug                          text PRIMARY KEY,
	kind                          text NOT NULL DEFAULT 'province'
	                              CHECK (kind IN ('province', 'central')),
	name                          text NOT NULL,
	regime                        text NOT NULL CHECK (regime IN ('nd68', 'legacy-tt185')),
	dost_authorised_for           text[] NOT NULL DEFAULT '{}',
	truc_code                     text,
	channel                       text NOT NULL,
	dost_handles_sim_renew_change boolean NOT NULL DEFAULT false,
	sim_recovery_override         boolean NOT NULL DEFAULT false,
	portal                        text,
	sla_recover_wd                int,
	has_connector                 boolean NOT NULL DEFAULT false,
	loaded_at                     timestamptz NOT NULL DEFAULT now()
);

-- Days that are not working days (holiday, day_off) and weekend days that are (makeup),
-- Asia/Ho_Chi_Minh dates (REGULATION.md section 5).
CREATE TABLE holiday (
	day       date PRIMARY KEY,
	kind      text NOT NULL CHECK (kind IN ('holiday', 'day_off', 'makeup')),
	loaded_at timestamptz NOT NULL DEFAULT now()
);

-- Views for the policy's lookups before signing (what is in force now) -------------------

-- Titles in force (A3).
CREATE VIEW role_current AS
	SELECT * FROM role_assignment
	WHERE valid_from <= now() AND (valid_until IS NULL OR valid_until > now());

-- Delegations in force (C8, C9): not revoked, started, not ended.
CREATE VIEW delegation_active AS
	SELECT * FROM delegation
	WHERE revoked_at IS NULL AND valid_from <= now()
	  AND (valid_until IS NULL OR valid_until > now());

-- Seal assignments in force (C1) and hand-overs whose window is open now (C3).
CREATE VIEW seal_assignment_active AS
	SELECT * FROM seal_assignment
	WHERE revoked_at IS NULL AND valid_from <= now()
	  AND (valid_until IS NULL OR valid_until > now());
CREATE VIEW seal_handover_current AS
	SELECT * FROM seal_handover WHERE valid_from <= now() AND valid_until > now();

CREATE INDEX cert_request_credential ON cert_request (credential);
