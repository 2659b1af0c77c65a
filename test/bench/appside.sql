-- appside: the same business work as place_order.sql, done by the
-- application the way app-side OMSes (Saleor, Medusa, Solidus) do it:
-- lock the stock rows, bump reserved row by row, insert the order, its
-- lines and the reservations, commit. 9 round trips per order. The CHECK
-- reserved <= on_hand is the oversell guard (the app would also compare the
-- locked rows with the demand; stock is plentiful here). Location 1 is the
-- one place_order's routing picks when it has everything.
\set s1 random(1, :nproducts)
\set d1 random(1, (:nproducts - 1) / 2)
\set d2 random(1, (:nproducts - 1) / 2)
\set s2 1 + (:s1 - 1 + :d1) % :nproducts
\set s3 1 + (:s1 - 1 + :d1 + :d2) % :nproducts
\set q1 random(1, 3)
\set q2 random(1, 3)
\set q3 random(1, 3)
\set ext random(1, 9223372036854775806)
BEGIN;
SELECT product_id, location_id, on_hand, reserved
  FROM appside.stock
 WHERE location_id = 1 AND product_id IN (:s1, :s2, :s3)
 ORDER BY product_id
   FOR UPDATE;
UPDATE appside.stock SET reserved = reserved + :q1, updated_at = now() WHERE product_id = :s1 AND location_id = 1;
UPDATE appside.stock SET reserved = reserved + :q2, updated_at = now() WHERE product_id = :s2 AND location_id = 1;
UPDATE appside.stock SET reserved = reserved + :q3, updated_at = now() WHERE product_id = :s3 AND location_id = 1;
INSERT INTO appside.orders (channel, external_id, currency, status, total, expires_at)
VALUES ('web', 'bench-' || :client_id::text || '-' || :ext::text, 'EUR', 'pending_payment',
        :q1 * 9.90 + :q2 * 19.90 + :q3 * 4.50, now() + interval '60 minutes')
RETURNING id AS order_id \gset
WITH l AS (
    INSERT INTO appside.order_lines (order_id, line_no, product_id, qty, unit_price, qty_reserved)
    VALUES (:order_id, 1, :s1, :q1, 9.90, :q1),
           (:order_id, 2, :s2, :q2, 19.90, :q2),
           (:order_id, 3, :s3, :q3, 4.50, :q3)
    RETURNING id, line_no)
SELECT max(id) FILTER (WHERE line_no = 1) AS l1,
       max(id) FILTER (WHERE line_no = 2) AS l2,
       max(id) FILTER (WHERE line_no = 3) AS l3
  FROM l \gset
INSERT INTO appside.reservations (order_id, order_line_id, product_id, location_id, qty)
VALUES (:order_id, :l1, :s1, 1, :q1),
       (:order_id, :l2, :s2, 1, :q2),
       (:order_id, :l3, :s3, 1, :q3);
COMMIT;
