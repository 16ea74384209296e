-- 0003_recovery: recovery cases for locked devices (REGULATION.md B14, B15, B16, B18; PROTOCOL.md
-- section 9; ARCHITECTURE.md section 5: at most one open case per credential), their webhook
-- deliveries with every attempt, and the SQL functions that keep each step one transaction for
-- both callers (the gateway's asynchronous connection and kysoctl's blocking one).
--
-- Routing (destination, Mẫu 06, the SLA due date) and the §9 JSON body are computed by the caller
-- with the policy library and passed in; the database keeps them exactly as computed, so the body
-- published on MQTT and the one POSTed (and signed) are the same bytes on every retry.

CREATE TABLE recovery_case (
	id              text PRIMARY KEY CHECK (id ~ '^rc-[0-9A-Z]{26}$'),
	credential      bigint NOT NULL REFERENCES credential (id),
	org             text NOT NULL,
	province        text,
	device          text NOT NULL,
	destination     text NOT NULL, -- "central" or a province slug
	form            text NOT NULL, -- "Mẫu 06"
	due_date        date,          -- NULL: tracked without a due date
	state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
	payload         text NOT NULL CHECK (payload::json IS NOT NULL),
	opened_by       text NOT NULL, -- node id, or "kysoctl"
	txn             text,          -- the transaction whose device answered 402/4021, if any
	created_at      timestamptz NOT NULL DEFAULT now(),
	resolved_at     timestamptz,
	resolved_by     text,          -- "connector:<client_id>" or "kysoctl"
	resolution_note text,
	CHECK ((state = 'open') = (resolved_at IS NULL))
);
-- B14 / ARCHITECTURE.md section 5: a second block of the same device opens no second case.
CREATE UNIQUE INDEX recovery_case_one_open ON recovery_case (credential) WHERE state = 'open';
CREATE INDEX recovery_case_dest ON recovery_case (destination, created_at);

-- One webhook delivery per case. It stays `pending` until a 2xx answer: a destination that is
-- unreachable (or has no connector configured yet) keeps the case queued, never dropped.
-- lease_node/lease_until: the node that claimed it (FOR UPDATE SKIP LOCKED), so that several
-- nodes never POST the same case at the same time.
CREATE TABLE recovery_delivery (
	case_id         text NOT NULL REFERENCES recovery_case (id),
	channel         text NOT NULL DEFAULT 'webhook' CHECK (channel IN ('webhook')),
	destination     text NOT NULL,
	state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered')),
	attempts        int NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	lease_node      text,
	lease_until     timestamptz,
	last_status     int,
	last_error      text,
	delivered_at    timestamptz,
	PRIMARY KEY (case_id, channel)
);
CREATE INDEX recovery_delivery_due ON recovery_delivery (destination, next_attempt_at)
	WHERE state = 'pending';

-- Every attempt, for operators and audits: HTTP status (or NULL and the client's error).
CREATE TABLE recovery_attempt (
	case_id text NOT NULL,
	channel text NOT NULL,
	n       int NOT NULL CHECK (n >= 1),
	node    text NOT NULL,
	at      timestamptz NOT NULL DEFAULT now(),
	status  int,
	error   text,
	PRIMARY KEY (case_id, channel, n),
	FOREIGN KEY (case_id, channel) REFERENCES recovery_delivery (case_id, channel)
);

-- Opens the case of a blocked device, in one transaction: the credential becomes `locked`, the
-- case is inserted (or the open one returned: r_created false), its MQTT outbox row and its
-- webhook delivery are queued. p_outbox_node: the node whose outbox publishes the row; '*' lets
-- the first node that claims deliveries adopt it (kysoctl has no node of its own).
-- Errors: SQLSTATE KY001 no such credential, KY002 the credential is revoked or lost.
CREATE FUNCTION kyso_recovery_open(p_credential bigint, p_case text, p_destination text,
                                   p_form text, p_due date, p_payload text, p_created timestamptz,
                                   p_by text, p_outbox_node text, p_txn text)
RETURNS TABLE (r_case text, r_created boolean, r_destination text, r_payload text)
LANGUAGE plpgsql AS $$
DECLARE
	cred record;
	open_case record;
BEGIN
	SELECT c.id, c.org, c.device, c.state, o.province INTO cred
		FROM credential c JOIN org o ON o.slug = c.org WHERE c.id = p_credential
		FOR UPDATE OF c;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'kyso: no credential %', p_credential USING ERRCODE = 'KY001';
	END IF;
	IF cred.state NOT IN ('active', 'locked') THEN
		RAISE EXCEPTION 'kyso: credential % is %', p_credential, cred.state
			USING ERRCODE = 'KY002';
	END IF;
	UPDATE credential SET state = 'locked', updated_at = now()
		WHERE id = p_credential AND state = 'active';
	-- The row lock above serialises openers of one credential: the check below cannot race.
	SELECT id, destination, payload INTO open_case FROM recovery_case
		WHERE credential = p_credential AND state = 'open';
	IF FOUND THEN
		RETURN QUERY SELECT open_case.id, false, open_case.destination, open_case.payload;
		RETURN;
	END IF;
	INSERT INTO recovery_case (id, credential, org, province, device, destination, form,
	                           due_date, payload, opened_by, txn, created_at)
		VALUES (p_case, p_credential, cred.org, cred.province, cred.device, p_destination,
		        p_form, p_due, p_payload, p_by, p_txn, coalesce(p_created, now()));
	INSERT INTO recovery_delivery (case_id, destination) VALUES (p_case, p_destination);
	INSERT INTO outbox (node, topic, payload)
		VALUES (p_outbox_node, 'kyso/v1/recovery/' || p_destination, p_payload);
	RETURN QUERY SELECT p_case, true, p_destination, p_payload;
END;
$$;

-- The whole case as JSON (kysoctl show, the resolve answer): its fields, the §9 body, the
-- webhook delivery and its attempts.
CREATE FUNCTION kyso_recovery_case_json(p_case text) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'case_id', c.id, 'state', c.state, 'credential_id', c.credential,
		'credential_state', cr.state, 'org', c.org, 'province', c.province,
		'device', c.device, 'destination', c.destination, 'form', c.form,
		'due_date', c.due_date, 'created_at', c.created_at, 'opened_by', c.opened_by,
		'txn', c.txn, 'resolved_at', c.resolved_at, 'resolved_by', c.resolved_by,
		'note', c.resolution_note, 'body', c.payload::json,
		'delivery', (SELECT json_build_object(
			'state', d.state, 'attempts', d.attempts, 'next_attempt_at', d.next_attempt_at,
			'last_status', d.last_status, 'last_error', d.last_error,
			'delivered_at', d.delivered_at,
			'history', coalesce((SELECT json_agg(json_build_object(
				'n', a.n, 'node', a.node, 'at', a.at, 'status', a.status,
				'error', a.error) ORDER BY a.n)
				FROM recovery_attempt a
				WHERE a.case_id = d.case_id AND a.channel = d.channel), '[]'::json))
			FROM recovery_delivery d WHERE d.case_id = c.id AND d.channel = 'webhook'))
	FROM recovery_case c JOIN credential cr ON cr.id = c.credential WHERE c.id = p_case;
$$;

-- Closes a case and unlocks its credential (B14: the authorised party unblocked the device with
-- the PUK). p_destination: the connector's destination, NULL for kysoctl. r_outcome: resolved,
-- already (closed before: the answer repeats the closed case), not_found, forbidden (another
-- destination's case). The resolution is published on the destination's topic too.
CREATE FUNCTION kyso_recovery_resolve(p_case text, p_destination text, p_by text, p_note text,
                                      p_outbox_node text)
RETURNS TABLE (r_outcome text, r_case json)
LANGUAGE plpgsql AS $$
DECLARE
	rc record;
BEGIN
	SELECT id, credential, destination, state, payload INTO rc FROM recovery_case
		WHERE id = p_case FOR UPDATE;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'not_found'::text, NULL::json;
		RETURN;
	END IF;
	IF p_destination IS NOT NULL AND p_destination <> rc.destination THEN
		RETURN QUERY SELECT 'forbidden'::text, NULL::json;
		RETURN;
	END IF;
	IF rc.state = 'resolved' THEN
		RETURN QUERY SELECT 'already'::text, kyso_recovery_case_json(p_case);
		RETURN;
	END IF;
	UPDATE recovery_case SET state = 'resolved', resolved_at = now(), resolved_by = p_by,
		resolution_note = p_note WHERE id = p_case;
	UPDATE credential SET state = 'active', updated_at = now()
		WHERE id = rc.credential AND state = 'locked';
	INSERT INTO outbox (node, topic, payload)
		VALUES (p_outbox_node, 'kyso/v1/recovery/' || rc.destination,
		        (rc.payload::jsonb || jsonb_build_object('state', 'resolved',
		                'resolved_at', now(), 'resolved_by', p_by, 'note', p_note))::text);
	RETURN QUERY SELECT 'resolved'::text, kyso_recovery_case_json(p_case);
END;
$$;

-- Claims up to p_max due webhook deliveries for the destinations this node has connectors
-- for, leased to p_node for p_lease_s seconds (SKIP LOCKED: nodes claiming at once split the
-- rows). Also adopts outbox rows queued without a node ('*', from kysoctl) so that they are
-- published: one node wins each row.
CREATE FUNCTION kyso_recovery_claim(p_node text, p_dest text[], p_max int, p_lease_s int)
RETURNS TABLE (r_case text, r_destination text, r_payload text, r_attempts int)
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE outbox SET node = p_node WHERE node = '*';
	RETURN QUERY
	WITH due AS (
		SELECT d.case_id FROM recovery_delivery d
		WHERE d.state = 'pending' AND d.destination = ANY (p_dest)
		  AND d.next_attempt_at <= now()
		  AND (d.lease_until IS NULL OR d.lease_until < now())
		ORDER BY d.next_attempt_at LIMIT p_max
		FOR UPDATE SKIP LOCKED)
	UPDATE recovery_delivery d
		SET lease_node = p_node, lease_until = now() + p_lease_s * interval '1 second'
		FROM due, recovery_case c
		WHERE d.case_id = due.case_id AND d.channel = 'webhook' AND c.id = d.case_id
		RETURNING d.case_id, d.destination, c.payload, d.attempts;
END;
$$;

-- Records one attempt. A 2xx (p_delivered) ends the delivery for good; anything else releases
-- the lease and schedules the next attempt p_retry_s seconds from now (the back-off is the
-- caller's). An attempt on a delivery that is no longer pending is recorded and changes nothing.
CREATE FUNCTION kyso_recovery_attempt(p_case text, p_node text, p_status int, p_error text,
                                      p_delivered boolean, p_retry_s int)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	n int;
BEGIN
	SELECT attempts + 1 INTO n FROM recovery_delivery
		WHERE case_id = p_case AND channel = 'webhook' FOR UPDATE;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	INSERT INTO recovery_attempt (case_id, channel, n, node, status, error)
		VALUES (p_case, 'webhook', n, p_node, p_status, p_error);
	-- The right-hand sides read the row before this update, `state` included.
	UPDATE recovery_delivery SET attempts = n, last_status = p_status, last_error = p_error,
		lease_node = NULL, lease_until = NULL,
		delivered_at = CASE WHEN state = 'pending' AND p_delivered THEN now()
		                    ELSE delivered_at END,
		next_attempt_at = CASE WHEN state = 'pending' AND NOT p_delivered
		                       THEN now() + greatest(p_retry_s, 0) * interval '1 second'
		                       ELSE next_attempt_at END,
		state = CASE WHEN p_delivered THEN 'delivered' ELSE state END
		WHERE case_id = p_case AND channel = 'webhook';
END;
$$;
