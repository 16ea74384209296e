-- 0008_signing_path: PostgreSQL's share of one signature made smaller (PERFORMANCE.md G1;
-- docs/performance.md "The database's share"). Nothing a client sees changes.
--
-- 1. The signer lookup and the seal lookup by clerk used sequential scans.
CREATE INDEX person_msisdn ON person (msisdn) WHERE msisdn IS NOT NULL;
CREATE INDEX sim_card_credential ON sim_card (credential);
CREATE INDEX seal_assignment_clerk ON seal_assignment (clerk);

-- 2. Each txn row is updated about four times (one per event). A column in an index or in an
-- index's predicate that changes makes an update write new entries into every index of the
-- table; `state` was in the predicates of txn_owner_open and txn_signer_open, so every event
-- did. The predicate now reads a flag that changes once, at the final state, and the pages
-- keep room for the new row versions (fillfactor), so the steps in between are HOT updates.
-- kyso_txn_event, the one writer of txn.state, keeps the flag (a generated column would cost
-- its expression's set-up on every update). txn_signer_open served no query (the per-signer
-- queue is signer_queue).
ALTER TABLE txn ADD COLUMN open boolean NOT NULL DEFAULT true;
UPDATE txn SET open = false WHERE state IN ('DONE', 'FAILED', 'EXPIRED', 'CANCELLED');
ALTER TABLE txn SET (fillfactor = 50);
DROP INDEX txn_signer_open;
DROP INDEX txn_owner_open;
CREATE INDEX txn_owner_open ON txn (owner_node, ref) WHERE open;

-- 3. The final result was written twice: as the final event's detail and as txn.result, each
-- about 6-8 KB, each compressed (it hardly compresses: base64) and cut into TOAST chunks. The
-- final event's detail is the result (the same bytes), so the txn row no longer keeps a copy;
-- readers take the final event's detail (db/src/db_txn.c). An event row up to a page is
-- stored as it is: no compression attempt, no TOAST chunks.
ALTER TABLE txn DROP COLUMN result;
ALTER TABLE txn_event SET (toast_tuple_target = 8160);

-- 4. The replay check of 0007 ran before every event and accept; a replayed row is now
-- recognised where it fails (the txn's seq already past it, or its id taken), which is the
-- only place it can be. The accepted request's fields come as jsonb: `->>` on json text parses
-- the whole text again for every field. The two CHECK constraints of 0004 on columns only the
-- accept writes are checked there: a table's CHECK constraints are set up and evaluated on
-- every update of the row, four per signature, for columns an update never changes.
DROP FUNCTION kyso_txn_event(text, bigint, text, text, int, text, int, int, bigint, json, bytea,
                             bytea, text, text, json);
DROP FUNCTION kyso_txn_accept(text, bigint, text, text, text, bigint, json, bytea, bytea, text,
                              text, json);
ALTER TABLE txn DROP CONSTRAINT txn_format_check,
                DROP CONSTRAINT txn_verification_code_check;

CREATE FUNCTION kyso_txn_event(p_chain text, p_pos bigint, p_node text, p_txn text, p_seq int,
                               p_state text, p_status int, p_sub int, p_at_us bigint,
                               p_detail json, p_prev bytea, p_hash bytea, p_topic text,
                               p_payload text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_ref bigint;
BEGIN
	UPDATE txn SET state = p_state, last_seq = p_seq, updated_at = now(),
	               status = COALESCE(p_status, status), sub = COALESCE(p_sub, sub),
	               open = p_state NOT IN ('DONE', 'FAILED', 'EXPIRED', 'CANCELLED')
	 WHERE id = p_txn AND last_seq = p_seq - 1 AND open
	RETURNING ref INTO v_ref;
	IF v_ref IS NULL THEN
		PERFORM kyso_txn_replayed(p_txn, p_seq, p_node, p_at_us);
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

CREATE FUNCTION kyso_txn_accept(p_chain text, p_pos bigint, p_node text, p_txn text,
                                p_state text, p_at_us bigint, p_detail json, p_prev bytea,
                                p_hash bytea, p_topic text, p_payload text, p_row jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_ref bigint;
BEGIN
	IF NOT (p_row->>'format' IS NULL OR p_row->>'format' IN ('cms', 'pkcs1')) THEN
		RAISE EXCEPTION 'kyso: txn % format %', p_txn, p_row->>'format'
			USING ERRCODE = 'check_violation';
	END IF;
	IF NOT (p_row->>'verification_code' IS NULL OR
	        p_row->>'verification_code' ~ '^[0-9]{4}$') THEN
		RAISE EXCEPTION 'kyso: txn % verification code', p_txn USING ERRCODE = 'check_violation';
	END IF;
	-- A repeated (ap_client, ap_trans_id) still fails with unique_violation (23505).
	INSERT INTO txn (id, state, owner_node, deadline_at, ap_client, ap_trans_id, org,
	                 credential, mode, request_hash, signer, channel, format, digest_alg,
	                 digest, display, verification_code, timeout_s, request, last_seq)
	VALUES (p_txn, p_state, p_node,
	        timestamptz 'epoch' + (p_row->>'deadline_us')::bigint * interval '1 microsecond',
	        p_row->>'ap_client', p_row->>'ap_trans_id', p_row->>'org', p_row->>'credential',
	        p_row->>'mode', decode(p_row->>'request_hash', 'hex'), p_row->>'signer',
	        p_row->>'channel', p_row->>'format', p_row->>'digest_alg', p_row->>'digest',
	        p_row->>'display', p_row->>'verification_code', (p_row->>'timeout_s')::int,
	        (p_row->'request')::json, 1)
	ON CONFLICT (id) DO NOTHING
	RETURNING ref INTO v_ref;
	IF v_ref IS NULL THEN
		PERFORM kyso_txn_replayed(p_txn, 1, p_node, p_at_us);
		RAISE EXCEPTION 'kyso: txn % exists already', p_txn USING ERRCODE = 'unique_violation';
	END IF;
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

-- 5. The lease takeover (0006) reads the open rows through the new predicate.
CREATE OR REPLACE FUNCTION kyso_txn_takeover(p_node text, p_max int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	v_n int;
BEGIN
	WITH gone AS (
		SELECT t.id FROM txn t JOIN node n ON n.node_id = t.owner_node
		 WHERE n.lease_until < now() AND t.owner_node <> p_node AND t.open
		 ORDER BY t.ref LIMIT p_max)
	UPDATE txn t SET owner_node = p_node, updated_at = now()
	  FROM gone, node n
	 WHERE t.id = gone.id AND n.node_id = t.owner_node AND n.lease_until < now() AND t.open;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END;
$$;
