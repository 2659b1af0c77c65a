-- simple_update: pgbench's built-in simple-update as a custom script (the
-- same statements as "pgbench --show-script=simple-update"), so that
-- test/bench/run can make a variant with one modelled network round trip
-- after each statement (OMS_BENCH_RTT_MS). Needs -D scale=<pgbench -i -s>.
\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
