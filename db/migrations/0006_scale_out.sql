-- 0006_scale_out: what lets any node finish a transaction and take over another node's
-- (ARCHITECTURE.md section 6, "Owner and lease" and "Answers on any node").

-- The signing-time put into a cms transaction's signed attributes, written before the device
-- is asked (the same reader connection then writes the OTA counter ahead, so it is durable
-- before the SMS leaves). With the certificate and the digest it fixes the signed attributes
-- byte for byte: any node rebuilds exactly what the device signed.
ALTER TABLE txn ADD COLUMN signing_time timestamptz;

-- Leases: a node renews its row every few seconds; a lease that ran out lets another node take
-- the node's open transactions. Returns whether this node still held its lease (false on the
-- first heartbeat after a lapse, or the very first one).
CREATE FUNCTION kyso_node_heartbeat(p_node text, p_lease_s int)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	v_held boolean;
BEGIN
	SELECT lease_until >= now() INTO v_held FROM node WHERE node_id = p_node FOR UPDATE;
	INSERT INTO node (node_id, heartbeat_at, lease_until)
	VALUES (p_node, now(), now() + p_lease_s * interval '1 second')
	ON CONFLICT (node_id) DO UPDATE
		SET heartbeat_at = now(), lease_until = now() + p_lease_s * interval '1 second';
	RETURN coalesce(v_held, false);
END;
$$;

-- The open transactions of every node whose lease ran out become p_node's, in one conditional
-- UPDATE: a second node running it at the same time waits for the row locks, then sees the
-- new owner (whose lease holds) and takes nothing, so each transaction has one winner.
-- Returns how many were taken.
CREATE FUNCTION kyso_txn_takeover(p_node text, p_max int)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	v_n int;
BEGIN
	WITH gone AS (
		SELECT t.id FROM txn t JOIN node n ON n.node_id = t.owner_node
		 WHERE n.lease_until < now() AND t.owner_node <> p_node
		   AND t.state NOT IN ('DONE', 'FAILED', 'EXPIRED', 'CANCELLED')
		 ORDER BY t.ref LIMIT p_max)
	UPDATE txn t SET owner_node = p_node, updated_at = now()
	  FROM gone, node n
	 WHERE t.id = gone.id AND n.node_id = t.owner_node AND n.lease_until < now()
	   AND t.state NOT IN ('DONE', 'FAILED', 'EXPIRED', 'CANCELLED');
	GET DIAGNOSTICS v_n = ROW_COUNT;
	RETURN v_n;
END;
$$;
