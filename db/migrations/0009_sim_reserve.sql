-- 0009_sim_reserve: the OTA counter reservation as one function (db/src/db_sim.c), with the
-- card lock across nodes (ARCHITECTURE.md section 6: one request on a device at a time).
--
-- Before, the reservation was one statement of joins over the arrays, planned again on every
-- call: its plan for generic arrays was slow, and planning it was about a fifth of the
-- reader's CPU. Here each step is a statement on one row by its key, whose plan is made once
-- per connection. The cards are taken in the order of their numbers, so two nodes reserving
-- overlapping sets of cards at once wait for each other instead of deadlocking.
--
-- p_msisdn, p_step, p_lock: one element per card. p_lock names the transaction the card is
-- taken for (NULL: none, e.g. step 0, which only reads the keyset). The card is free when it
-- names no transaction, this one, a transaction no longer open, or one p_node owns (that
-- node's own signer queue orders those). A card held otherwise comes back as a row with only
-- r_msisdn and r_holder, its counter untouched. The lock is never cleared: it lapses when its
-- transaction's final event clears txn.open. Each step runs on a fresh snapshot once the card's
-- row is locked, so a holder that took the card meanwhile is seen.
--
-- p_st_txn, p_st_at: cms signing-times (Unix s) riding in the same call, recorded first; only
-- the first value of a transaction counts (a dispatch again after a restart reuses it).
--
-- A number without a card or keyset has no row. The rows come in the order of the numbers.
CREATE FUNCTION kyso_sim_reserve(p_msisdn text[], p_step bigint[], p_st_txn text[],
                                 p_st_at bigint[], p_lock text[], p_node text)
RETURNS TABLE (r_msisdn text, r_iccid text, r_kvn int, r_kic_alg text, r_kic text,
               r_kid_alg text, r_kid text, r_tar text, r_counter bigint, r_holder text)
LANGUAGE plpgsql AS $$
DECLARE
	v record;
	c record;
BEGIN
	FOR v IN SELECT * FROM unnest(p_st_txn, p_st_at) AS s(id, at) LOOP
		UPDATE txn SET signing_time = to_timestamp(v.at)
		 WHERE id = v.id AND signing_time IS NULL;
	END LOOP;
	FOR v IN SELECT * FROM unnest(p_msisdn, p_step, p_lock) AS u(msisdn, step, lock)
	          ORDER BY u.msisdn LOOP
		SELECT s.iccid, s.tar, s.locked_txn INTO c
		  FROM sim_card s WHERE s.msisdn = v.msisdn FOR UPDATE;
		CONTINUE WHEN NOT FOUND;
		IF v.lock IS NOT NULL AND c.locked_txn IS DISTINCT FROM v.lock THEN
			IF c.locked_txn IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM txn o WHERE o.id = c.locked_txn
				   AND (NOT o.open OR o.owner_node = p_node)) THEN
				r_msisdn := v.msisdn;
				r_iccid := NULL; r_kvn := NULL; r_kic_alg := NULL; r_kic := NULL;
				r_kid_alg := NULL; r_kid := NULL; r_tar := NULL; r_counter := NULL;
				r_holder := c.locked_txn;
				RETURN NEXT;
				CONTINUE;
			END IF;
			UPDATE sim_card SET locked_txn = v.lock WHERE iccid = c.iccid;
		END IF;
		RETURN QUERY
		UPDATE sim_keyset k SET counter = k.counter + v.step
		 WHERE k.iccid = c.iccid
		   AND k.kvn = (SELECT max(x.kvn) FROM sim_keyset x WHERE x.iccid = c.iccid)
		RETURNING v.msisdn, k.iccid, k.kvn, k.kic_alg, encode(k.kic, 'hex'), k.kid_alg,
		          encode(k.kid, 'hex'), coalesce(k.tar, c.tar, ''), k.counter, NULL::text;
	END LOOP;
END;
$$;
