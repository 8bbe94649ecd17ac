-- The shop's table and rows, for `nox -s app -- --db postgres --db-setup setup.sql`:
-- run once, as the app's role, before the server starts.
CREATE TABLE shop_product (
    id serial PRIMARY KEY,
    name varchar(100) NOT NULL,
    price integer NOT NULL,
    stock integer NOT NULL
);
INSERT INTO shop_product (name, price, stock)
SELECT 'product ' || n, n * 3, n % 17 FROM generate_series(1, 200) AS n;
CREATE INDEX shop_product_price ON shop_product (price);
ANALYZE shop_product;
