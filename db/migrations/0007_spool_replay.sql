-- 0007_spool_replay: the transaction functions of 0004 recognise a row written already by the
-- same node at the same instant (ARCHITECTURE.md section 6, docs/database.md "Spool"). A gateway
-- that crashed while PostgreSQL was away replays its local spool at start; a record whose batch
-- did commit before the crash then fails with SQLSTATE KY003 instead of KY001 or 23505, and the
-- lane reports it committed and chains the rest of its batch again without it. The check is on
-- the primary key (txn, seq): a replay never inserts a second row, and the hash chain never
-- holds a position it skipped.

CREATE FUNCTION kyso_txn_replayed(p_txn text, p_seq int, p_node text, p_at_us bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM txn_event
	            WHERE txn = p_txn AND seq = p_seq AND node = p_node
	              AND at = timestamptz 'epoch' + p_at_us * interval '1 microsecond') THEN
		RAISE EXCEPTION 'kyso: txn % event % is stored already', p_txn, p_seq
			USING ERRCODE = 'KY003';
	END IF;
END;
$$;

CREATE OR REPLACE FUNCTION kyso_txn_event(p_chain text, p_pos bigint, p_node text, p_txn text,
                                          p_seq int, p_state text, p_status int, p_sub int,
                                          p_at_us bigint, p_detail json, p_prev bytea,
                                          p_hash bytea, p_topic text, p_payload text,
                                          p_result json)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_ref bigint;
BEGIN
	PERFORM kyso_txn_replayed(p_txn, p_seq, p_node, p_at_us);
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

CREATE OR REPLACE FUNCTION kyso_txn_accept(p_chain text, p_pos bigint, p_node text, p_txn text,
                                           p_state text, p_at_us bigint, p_detail json,
                                           p_prev bytea, p_hash bytea, p_topic text,
                                           p_payload text, p_row json)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_ref bigint;
BEGIN
	PERFORM kyso_txn_replayed(p_txn, 1, p_node, p_at_us);
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
