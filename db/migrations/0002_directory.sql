-- 0002_directory: credentials (ARCHITECTURE.md section 5), the column set the recovery cases of
-- 0003 rely on: one row per certificate on a device, with its state (B14 locks it).
CREATE TABLE credential (
	id            bigserial PRIMARY KEY,
	org           text NOT NULL REFERENCES org (slug),
	person        text REFERENCES person (id),
	type          text NOT NULL CHECK (type IN ('personal', 'org', 'device')),
	device        text NOT NULL CHECK (device IN ('sim', 'token', 'hsm', 'soft')),
	msisdn        text,
	token_serial  text,
	cert_der      bytea,
	subject       text,
	serial_hex    text,
	not_before    timestamptz,
	not_after     timestamptz,
	key_alg       text,
	state         text NOT NULL DEFAULT 'active'
		CHECK (state IN ('active', 'locked', 'revoked', 'lost')),
	renewal_count int NOT NULL DEFAULT 0 CHECK (renewal_count >= 0),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
