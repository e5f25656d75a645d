-- The ranking of a closed call, computed and written in the database (PostgreSQL).
--
-- Read by vouchers/services/ranking.py (_rank_in_database), which runs these statements in
-- order, by name. The rules they apply are named once, in the docstring of that module; the
-- Python twin is _rank_in_python in the same module, and tests/vouchers/test_ranking_sql.py
-- checks that both give the same ranking. {score_values} is the call's criteria in its order
-- (see _CRITERION_SQL), then the submission time and the id.

-- name: households
-- Household size and children in the call's age range of each admitted application with
-- members (an applicant alone has no row: household 1, children 0).
CREATE TEMPORARY TABLE application_household ON COMMIT DROP AS
SELECT m.application_id, 1 + COUNT(*) AS household,
       COUNT(*) FILTER (
           WHERE m.is_child AND %(year)s - EXTRACT(YEAR FROM m.birth_date)::int
               - CASE WHEN (%(month)s, %(day)s) < (
                   EXTRACT(MONTH FROM m.birth_date)::int,
                   EXTRACT(DAY FROM m.birth_date)::int
               ) THEN 1 ELSE 0 END BETWEEN %(low)s AND %(high)s
       ) AS children
FROM vouchers_householdmember m
JOIN vouchers_application a ON a.id = m.application_id
WHERE a.initiative_id = %(initiative)s AND a.status = %(approved)s
GROUP BY m.application_id;

-- name: household_pairs
SELECT DISTINCT household, children FROM application_household;

-- name: ranking
-- Each admitted application's amount (by the call's rule for its household, computed in
-- Python for each pair found), its position in the call's order and the running total.
CREATE TEMPORARY TABLE application_ranking ON COMMIT DROP AS
SELECT a.id, rule.amount,
       row_number() OVER call_order AS position,
       SUM(GREATEST(rule.amount, 0)) OVER call_order AS running,
       jsonb_build_array({score_values}) AS score_key
FROM vouchers_application a
LEFT JOIN application_household h ON h.application_id = a.id
JOIN UNNEST(%(households)s::int[], %(children)s::int[], %(amounts)s::numeric[])
    AS rule (household, children, amount)
    ON rule.household = COALESCE(h.household, 1)
    AND rule.children = COALESCE(h.children, 0)
WHERE a.initiative_id = %(initiative)s AND a.status = %(approved)s
WINDOW call_order AS (ORDER BY {score_values} ROWS UNBOUNDED PRECEDING);

-- name: funded_in_full
-- What the applications up to the first the budget cannot cover take.
SELECT COALESCE(MAX(running), 0) FROM application_ranking WHERE running <= %(available)s;

-- name: fitting_after
-- After that one, those small enough to fit what is left, in order: few, the only rows read
-- back.
SELECT id, amount FROM application_ranking
WHERE running > %(available)s AND amount > 0 AND amount <= %(left)s ORDER BY position;

-- name: write
UPDATE vouchers_application a
SET amount = r.amount, score_key = r.score_key, rank = r.position,
    outcome = CASE
        WHEN r.amount > 0 AND (r.running <= %(available)s OR r.id = ANY(%(also)s))
        THEN %(funded)s ELSE %(waiting)s END
FROM application_ranking r
WHERE a.id = r.id;

-- name: drop
-- Dropped now, not at commit: a caller's transaction may rank another call.
DROP TABLE application_ranking, application_household;
