//! Plausible normalised query texts (pg_stat_statements style), each unique, some long and
//! multi-line, one with an IN list long enough to run across a page break.

/// The text of sample query `i`.
pub fn query_text(i: usize) -> String {
    match i % 6 {
        _ if i == 7 => long_in_list(i, 1200),
        _ if i == 3 => long_in_list(i, 300),
        0 => format!(
            "SELECT o.id, o.customer_id, o.total_amount, c.name, c.email\nFROM orders o\n  JOIN customers c ON c.id = o.customer_id\nWHERE o.created_at >= $1\n  AND o.status = $2\n  AND o.region_id = {i}\nORDER BY o.created_at DESC\nLIMIT $3"
        ),
        1 => format!("UPDATE inventory SET reserved = reserved + $1, updated_at = now() WHERE sku = $2 AND warehouse_id = {i}"),
        2 => format!(
            "WITH recent AS (\n    SELECT customer_id, sum(total_amount) AS spent, count(*) AS orders\n    FROM orders\n    WHERE created_at > now() - interval '30 days' AND channel_{i} IS NOT NULL\n    GROUP BY customer_id\n)\nSELECT c.id, c.name, r.spent, r.orders,\n       rank() OVER (ORDER BY r.spent DESC) AS spend_rank\nFROM recent r\n  JOIN customers c ON c.id = r.customer_id\nWHERE r.spent > $1\nORDER BY spend_rank\nLIMIT $2"
        ),
        3 => format!("INSERT INTO order_lines (order_id, sku, quantity, unit_price, batch_{i}) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id, sku) DO UPDATE SET quantity = order_lines.quantity + EXCLUDED.quantity"),
        4 => format!("SELECT pg_advisory_xact_lock($1); SELECT count(*) FROM payments WHERE status = 'pending' AND attempt_{i} < $2"),
        _ => format!("DELETE FROM sessions_{i} WHERE expires_at < now() - $1::interval"),
    }
}

/// `SELECT … WHERE id IN ($1, $2, …)` with `n` parameters.
fn long_in_list(i: usize, n: usize) -> String {
    let params: Vec<String> = (1..=n).map(|p| format!("${p}")).collect();
    format!("SELECT id, sku, price_{i}, stock\nFROM products\nWHERE id IN ({})\nORDER BY id", params.join(", "))
}
