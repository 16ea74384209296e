-- 0005_document: the document table of 0004 is written when a signature makes a document's
-- state move (ARCHITECTURE.md section 5; REGULATION.md section 3 "Modes", C5, D9):
--   an `approve` that ends DONE with 502 (VALID)  -> the document (org, digest) is APPROVED;
--   an `issue`   that ends DONE with 502 (VALID)  -> the document is ISSUED, with its number.
-- A trigger on the txn row does it, so the document row commits in the same transaction as the
-- final event (kyso_txn_event updates the txn row in the lane batch's one transaction), on
-- every node and on every replay of that event alike. Nothing else writes the table.

-- Attachment mode names its main document by number (PROTOCOL.md 4.1 `document.number`).
CREATE INDEX document_issued_number ON document (org, number) WHERE state = 'ISSUED';

-- The state a document reaches through a valid signature of this mode; NULL: none.
CREATE FUNCTION kyso_document_state_after(p_mode text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE p_mode WHEN 'approve' THEN 'APPROVED' WHEN 'issue' THEN 'ISSUED' END
$$;

-- One txn that ended VALID into its document row. The state only moves forward (DRAFT ->
-- APPROVED -> ISSUED): a second approve of an issued document leaves it ISSUED. The approve
-- that made the document APPROVED stays recorded; the issue records its own txn and number.
CREATE FUNCTION kyso_document_record(p_txn text, p_org text, p_digest text, p_mode text,
                                     p_request json)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_state text := kyso_document_state_after(p_mode);
	v_class text := COALESCE(p_request->'document'->>'class', 'general');
	v_number text := NULLIF(p_request->'document'->>'number', '');
BEGIN
	IF v_state IS NULL OR p_org IS NULL OR p_digest IS NULL THEN
		RETURN;
	END IF;
	-- Already at or past this state (the usual repeat): nothing to write, and no row lock, so
	-- final commits of one document on several lanes do not wait on each other.
	PERFORM 1 FROM document
	 WHERE org = p_org AND digest = p_digest AND (state = 'ISSUED' OR state = v_state);
	IF FOUND THEN
		RETURN;
	END IF;
	INSERT INTO document AS d (org, digest, doc_class, number, state, approve_txn, issue_txn)
	VALUES (p_org, p_digest, v_class, v_number, v_state,
	        CASE WHEN v_state = 'APPROVED' THEN p_txn END,
	        CASE WHEN v_state = 'ISSUED' THEN p_txn END)
	ON CONFLICT (org, digest) DO UPDATE SET
		state = CASE WHEN d.state = 'ISSUED' THEN 'ISSUED' ELSE EXCLUDED.state END,
		approve_txn = COALESCE(d.approve_txn, EXCLUDED.approve_txn),
		issue_txn = COALESCE(d.issue_txn, EXCLUDED.issue_txn),
		number = CASE WHEN EXCLUDED.state = 'ISSUED' AND d.state <> 'ISSUED'
		              THEN COALESCE(EXCLUDED.number, d.number) ELSE d.number END,
		doc_class = CASE WHEN EXCLUDED.state = 'ISSUED' AND d.state <> 'ISSUED'
		                 THEN EXCLUDED.doc_class ELSE d.doc_class END,
		updated_at = now();
END;
$$;

CREATE FUNCTION kyso_txn_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM kyso_document_record(NEW.id, NEW.org, NEW.digest, NEW.mode, NEW.request);
	RETURN NULL;
END;
$$;

-- Only the step into DONE with 502: a terminal state is written once (kyso_txn_event refuses a
-- second), so the trigger fires once per transaction.
CREATE TRIGGER txn_document AFTER UPDATE OF state ON txn
	FOR EACH ROW
	WHEN (NEW.state = 'DONE' AND NEW.status = 502 AND OLD.state IS DISTINCT FROM 'DONE'
	      AND NEW.mode IN ('approve', 'issue'))
	EXECUTE FUNCTION kyso_txn_document();

-- Transactions that ended VALID before this migration, in the order they were accepted.
SELECT kyso_document_record(id, org, digest, mode, request)
  FROM txn
 WHERE state = 'DONE' AND status = 502 AND mode IN ('approve', 'issue')
 ORDER BY ref;
