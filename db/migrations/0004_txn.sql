-- 0004_txn: what the transaction engine stores beyond the foundation (ARCHITECTURE.md sections
-- 4-6): the request a txn was accepted with, its result, the per-signer queue, documents, and
-- the two functions every lane batch calls so that a txn row, its event, its outbox row and its
-- NOTIFY always commit together.

-- The accepted request (evidence: digest and display text are kept, never the document) and
-- the final result, so that any node can resume, answer `status` or replay to a socket.
ALTER TABLE txn
	ADD COLUMN signer            text,
	ADD COLUMN channel           text,
	ADD COLUMN format            text CHECK (format IS NULL OR format IN ('cms', 'pkcs1')),
	ADD COLUMN digest_alg        text,
	ADD COLUMN digest            text,
	ADD COLUMN display           text,
	ADD COLUMN verification_code text CHECK (verification_code IS NULL OR
	                                         verification_code ~ '^[0-9]{4}$'),
	ADD COLUMN timeout_s         int,
	ADD COLUMN request           json,
	ADD COLUMN last_seq          int NOT NULL DEFAULT 1,
	ADD COLUMN status            int,
	ADD COLUMN sub               int,
	ADD COLUMN result            json;

CREATE INDEX txn_signer_open ON txn (signer, ref)
	WHERE state NOT IN ('DONE', 'FAILED', 'EXPIRED', 'CANCELLED');

-- Requests waiting for their signer's device (one request on a SIM at a time), in accepted
-- order. A row leaves when its txn is dispatched or ends.
CREATE TABLE signer_queue (
	signer     text NOT NULL,
	txn        text NOT NULL REFERENCES txn (id),
	queued_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (signer, txn)
);

-- Documents by (org, digest): the approve and issue transactions (REGULATION.md C5, D9).
CREATE TABLE document (
	org         text NOT NULL,
	digest      text NOT NULL,
	doc_class   text NOT NULL DEFAULT 'general',
	number      text,
	state       text NOT NULL DEFAULT 'DRAFT' CHECK (state IN ('DRAFT', 'APPROVED', 'ISSUED')),
	approve_txn text REFERENCES txn (id),
	issue_txn   text REFERENCES txn (id),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (org, digest)
);

-- One event row of a lane batch: the hash-chained txn_event row, the txn row's state, the
-- outbox row and NOTIFY kyso_txn '<txn>:<seq>' (delivered at commit, so other nodes learn of
-- the event only once it is durable). A terminal state is written only over a non-terminal
-- one and seq must follow the txn's last one: otherwise SQLSTATE KY001 fails this item alone
-- (the lane re-sends the rest of its batch), so a racing timer or node loses cleanly.
CREATE FUNCTION kyso_txn_event(p_chain text, p_pos bigint, p_node text, p_txn text, p_seq int,
                               p_state text, p_status int, p_sub int, p_at_us bigint,
                               p_detail json, p_prev bytea, p_hash bytea, p_topic text,
                               p_payload text, p_result json)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_ref bigint;
BEGIN
	UPDATE txn SET state = p_state, last_seq = p_seq, updated_at = now(),
	               status = COALESCE(p_status, status), sub = COALESCE(p_sub, sub),
	               result = COALESCE(p_result, result)
	 WHERE id = p_txn AND last_seq = p_seq - 1
	   AND state NOT IN ('DONE', 'FAILED', 'EXPIRED', 'CANCELLED')
	RETURNING ref INTO v_ref;
	IF v_ref IS NULL THEN
		RAISE EXCEPTION 'kyso: txn % is final or seq % is out of order', p_txn, p_seq
			USING ERRCODE = 'KY001';
	END IF;
	IF p_state IN ('DONE', 'FAILED', 'EXPIRED', 'CANCELLED') THEN
		DELETE FROM signer_queue WHERE txn = p_txn;
	END IF;
	INSERT INTO txn_event (txn, seq, state, status, sub, node, at, detail, chain, pos,
	                       prev_hash, hash)
	VALUES (p_txn, p_seq, p_state, p_status, p_sub, p_node,
	        timestamptz 'epoch' + p_at_us * interval '1 microsecond', p_detail, p_chain, p_pos,
	        p_prev, p_hash);
	IF p_topic IS NOT NULL THEN
		INSERT INTO outbox (node, topic, payload) VALUES (p_node, p_topic, p_payload);
	END IF;
	PERFORM pg_notify('kyso_txn', p_txn || ':' || p_seq);
	RETURN v_ref;
END;
$$;

-- The accepted commit: the txn row (its ref from txn_ref_seq), event 1 and its outbox row. A
-- repeated (ap_client, ap_trans_id) fails with unique_violation (23505): the engine then looks
-- the existing txn up and compares request hashes (PROTOCOL.md 4.1, 101/1019). p_row carries
-- the request's fields as JSON. Returns the ref.
CREATE FUNCTION kyso_txn_accept(p_chain text, p_pos bigint, p_node text, p_txn text,
                                p_state text, p_at_us bigint, p_detail json, p_prev bytea,
                                p_hash bytea, p_topic text, p_payload text, p_row json)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_ref bigint;
BEGIN
	INSERT INTO txn (id, state, owner_node, deadline_at, ap_client, ap_trans_id, org,
	                 credential, mode, request_hash, signer, channel, format, digest_alg,
	                 digest, display, verification_code, timeout_s, request, last_seq)
	VALUES (p_txn, p_state, p_node,
	        timestamptz 'epoch' + (p_row->>'deadline_us')::bigint * interval '1 microsecond',
	        p_row->>'ap_client', p_row->>'ap_trans_id', p_row->>'org', p_row->>'credential',
	        p_row->>'mode', decode(p_row->>'request_hash', 'hex'), p_row->>'signer',
	        p_row->>'channel', p_row->>'format', p_row->>'digest_alg', p_row->>'digest',
	        p_row->>'display', p_row->>'verification_code', (p_row->>'timeout_s')::int,
	        p_row->'request', 1)
	RETURNING ref INTO v_ref;
	IF (p_row->>'queued')::boolean THEN
		INSERT INTO signer_queue (signer, txn) VALUES (p_row->>'signer', p_txn);
	END IF;
	INSERT INTO txn_event (txn, seq, state, status, sub, node, at, detail, chain, pos,
	                       prev_hash, hash)
	VALUES (p_txn, 1, p_state, 100, NULL, p_node,
	        timestamptz 'epoch' + p_at_us * interval '1 microsecond', p_detail, p_chain, p_pos,
	        p_prev, p_hash);
	IF p_topic IS NOT NULL THEN
		INSERT INTO outbox (node, topic, payload) VALUES (p_node, p_topic, p_payload);
	END IF;
	PERFORM pg_notify('kyso_txn', p_txn || ':1');
	RETURN v_ref;
END;
$$;
