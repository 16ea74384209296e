-- 0001_foundation: the directory, the client list, transactions, the two event logs with their
-- hash chains, node leases and the MQTT outbox (ARCHITECTURE.md section 5).
-- db_admin_migrate() runs this file in one transaction and records it in schema_migrations
-- (which it creates itself when missing, so that table is only ensured here).

CREATE TABLE IF NOT EXISTS schema_migrations (
	version    int PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);

-- Directory ------------------------------------------------------------------------------

-- Agencies and their units; province is a slug ("ha-noi"), NULL for central bodies.
CREATE TABLE org (
	slug            text PRIMARY KEY,
	name            text NOT NULL,
	parent          text REFERENCES org (slug),
	province        text,
	managing_agency boolean NOT NULL DEFAULT false,
	created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE person (
	id         text PRIMARY KEY,
	org        text NOT NULL REFERENCES org (slug),
	full_name  text NOT NULL,
	msisdn     text,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- API clients: application platforms, PC/SC agents, operators and CA connectors. key_hash is
-- SHA-256 of the 32-byte secret (never the secret); cert_sha256 the hex fingerprint of an
-- mTLS certificate. A revoked client keeps its row (revoked_at set) for the audit trail.
CREATE TABLE ap_client (
	client_id      text PRIMARY KEY CHECK (client_id ~ '^[a-z0-9-]{1,32}$'),
	key_hash       bytea CHECK (key_hash IS NULL OR length(key_hash) = 32),
	cert_sha256    text,
	role           text NOT NULL CHECK (role IN ('ap', 'agent', 'operator', 'connector')),
	orgs           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(orgs) = 'array'),
	display_prefix text NOT NULL DEFAULT '',
	destination    text,
	quota_inflight int NOT NULL DEFAULT 0 CHECK (quota_inflight >= 0),
	created_at     timestamptz NOT NULL DEFAULT now(),
	revoked_at     timestamptz,
	CHECK (key_hash IS NOT NULL OR cert_sha256 IS NOT NULL)
);

-- Nodes and their leases (ARCHITECTURE.md section 6).
CREATE TABLE node (
	node_id      text PRIMARY KEY,
	heartbeat_at timestamptz NOT NULL DEFAULT now(),
	lease_until  timestamptz NOT NULL
);

-- Transactions ---------------------------------------------------------------------------

-- ref is the 64-bit reference the OTA payload carries: any node finds the txn by it.
CREATE SEQUENCE txn_ref_seq AS bigint START 1;

CREATE TABLE txn (
	id           text PRIMARY KEY, -- ULID or UUIDv7 text: sorts by creation
	ref          bigint NOT NULL UNIQUE DEFAULT nextval('txn_ref_seq'),
	state        text NOT NULL,
	owner_node   text NOT NULL,
	deadline_at  timestamptz NOT NULL,
	ap_client    text NOT NULL REFERENCES ap_client (client_id),
	ap_trans_id  text NOT NULL,
	org          text REFERENCES org (slug),
	credential   text,
	mode         text,
	request_hash bytea,
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	UNIQUE (ap_client, ap_trans_id)
);
ALTER SEQUENCE txn_ref_seq OWNED BY txn.ref;
CREATE INDEX txn_owner_open ON txn (owner_node)
	WHERE state NOT IN ('DONE', 'FAILED', 'EXPIRED', 'CANCELLED');

-- Event logs -----------------------------------------------------------------------------
-- Every row is a link of a hash chain (docs/audit.md): chain = "<node_id>/<lane>", pos counts
-- from 1 without gaps, prev_hash is the previous row's hash (32 zero bytes at pos 1) and
-- hash = SHA-256(prev_hash || canonical content). The hash is computed by the writer in C.
-- detail is `json`, not `jsonb`: json keeps the exact text that was hashed, jsonb would
-- reorder keys and change spacing, and the chain could no longer be verified.

CREATE TABLE txn_event (
	txn       text NOT NULL,
	seq       int NOT NULL CHECK (seq >= 1),
	state     text NOT NULL,
	status    int,
	sub       int,
	node      text NOT NULL,
	at        timestamptz NOT NULL,
	detail    json NOT NULL,
	chain     text NOT NULL,
	pos       bigint NOT NULL CHECK (pos >= 1),
	prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
	hash      bytea NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (txn, seq),
	UNIQUE (chain, pos)
);

CREATE TABLE node_event (
	id        bigserial NOT NULL,
	node      text NOT NULL,
	kind      text NOT NULL,
	peer      text,
	client_id text,
	txn       text,
	at        timestamptz NOT NULL,
	detail    json NOT NULL,
	chain     text NOT NULL,
	pos       bigint NOT NULL CHECK (pos >= 1),
	prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
	hash      bytea NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (id),
	UNIQUE (chain, pos)
);
CREATE INDEX node_event_txn ON node_event (txn) WHERE txn IS NOT NULL;

-- The logs are append-only. An operator who edits rows by hand must first disable this
-- trigger, and `kysoctl audit verify` then finds the edited row by its hash.
CREATE FUNCTION kyso_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'kyso: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
		USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER txn_event_append_only BEFORE UPDATE OR DELETE ON txn_event
	FOR EACH ROW EXECUTE FUNCTION kyso_refuse_change();
CREATE TRIGGER node_event_append_only BEFORE UPDATE OR DELETE ON node_event
	FOR EACH ROW EXECUTE FUNCTION kyso_refuse_change();
-- TRUNCATE fires no row trigger: refuse it with a statement trigger.
CREATE TRIGGER txn_event_no_truncate BEFORE TRUNCATE ON txn_event
	FOR EACH STATEMENT EXECUTE FUNCTION kyso_refuse_change();
CREATE TRIGGER node_event_no_truncate BEFORE TRUNCATE ON node_event
	FOR EACH STATEMENT EXECUTE FUNCTION kyso_refuse_change();

-- MQTT outbox ----------------------------------------------------------------------------
-- Rows written in the same batch as their event, published by their node after the commit
-- and deleted after the broker's PUBACK (at-least-once).
CREATE TABLE outbox (
	id         bigserial PRIMARY KEY,
	node       text NOT NULL,
	topic      text NOT NULL,
	payload    text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_node_id ON outbox (node, id);
