//! Turns the text of Redis `INFO` into named metrics (server-independent: no plugin types here).

/// One value read from INFO, before it becomes a sample.
#[derive(Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: Option<&'static str>,
    pub labels: Vec<(String, String)>,
}

/// INFO field → (metric name, unit). Fields absent from the server's output are simply skipped.
const FIELDS: &[(&str, &str, Option<&str>)] = &[
    ("connected_clients", "redis.connected_clients", None),
    ("blocked_clients", "redis.blocked_clients", None),
    ("connected_slaves", "redis.connected_replicas", None),
    ("used_memory", "redis.used_memory_bytes", Some("bytes")),
    ("used_memory_rss", "redis.used_memory_rss_bytes", Some("bytes")),
    ("used_memory_peak", "redis.used_memory_peak_bytes", Some("bytes")),
    ("maxmemory", "redis.maxmemory_bytes", Some("bytes")),
    ("mem_fragmentation_ratio", "redis.mem_fragmentation_ratio", None),
    ("instantaneous_ops_per_sec", "redis.ops_per_sec", None),
    ("total_commands_processed", "redis.commands_processed", None),
    ("total_connections_received", "redis.connections_received", None),
    ("rejected_connections", "redis.rejected_connections", None),
    ("keyspace_hits", "redis.keyspace_hits", None),
    ("keyspace_misses", "redis.keyspace_misses", None),
    ("expired_keys", "redis.expired_keys", None),
    ("evicted_keys", "redis.evicted_keys", None),
    ("uptime_in_seconds", "redis.uptime_seconds", Some("s")),
];

/// Per-database fields of `# Keyspace` lines such as `db0:keys=12,expires=3,avg_ttl=0`.
const KEYSPACE_FIELDS: &[(&str, &str)] = &[("keys", "redis.keys"), ("expires", "redis.expiring_keys")];

pub fn parse_info(text: &str) -> Vec<Metric> {
    let mut metrics = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.trim_end().split_once(':') else { continue };
        if let Some(db) = key.strip_prefix("db").filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
            metrics.extend(keyspace_metrics(&format!("db{db}"), value));
        } else if let Some(&(_, name, unit)) = FIELDS.iter().find(|(field, ..)| *field == key) {
            if let Ok(value) = value.parse() {
                metrics.push(Metric { name, value, unit, labels: Vec::new() });
            }
        }
    }
    metrics
}

fn keyspace_metrics(db: &str, stats: &str) -> Vec<Metric> {
    stats
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(field, value)| {
            let &(_, name) = KEYSPACE_FIELDS.iter().find(|(f, _)| *f == field)?;
            let value = value.parse().ok()?;
            Some(Metric { name, value, unit: None, labels: vec![("db".to_owned(), db.to_owned())] })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Server\r\nredis_version:7.2.4\r\nuptime_in_seconds:3600\r\n\r\n# Clients\r\n\
        connected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nmem_fragmentation_ratio:1.25\r\n\
        # Stats\r\ninstantaneous_ops_per_sec:17\r\nkeyspace_hits:90\r\nkeyspace_misses:10\r\n\
        # Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n";

    fn value(metrics: &[Metric], name: &str) -> f64 {
        metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} missing")).value
    }

    #[test]
    fn maps_known_fields_with_units() {
        let metrics = parse_info(SAMPLE);
        assert_eq!(value(&metrics, "redis.connected_clients"), 3.0);
        assert_eq!(value(&metrics, "redis.uptime_seconds"), 3600.0);
        assert_eq!(value(&metrics, "redis.ops_per_sec"), 17.0);
        assert_eq!(value(&metrics, "redis.keyspace_hits"), 90.0);
        assert_eq!(value(&metrics, "redis.keyspace_misses"), 10.0);
        assert_eq!(value(&metrics, "redis.mem_fragmentation_ratio"), 1.25);
        let memory = metrics.iter().find(|m| m.name == "redis.used_memory_bytes").unwrap();
        assert_eq!((memory.value, memory.unit), (1048576.0, Some("bytes")));
    }

    #[test]
    fn labels_keyspace_metrics_by_database() {
        let keys: Vec<_> = parse_info(SAMPLE).into_iter().filter(|m| m.name == "redis.keys").collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].labels, vec![("db".to_owned(), "db0".to_owned())]);
        assert_eq!((keys[0].value, keys[1].value), (12.0, 1.0));
    }

    #[test]
    fn skips_unknown_and_non_numeric_fields() {
        let metrics = parse_info("redis_version:7.2.4\r\nused_memory:lots\r\ndbx:keys=1\r\ngarbage\r\n");
        assert!(metrics.is_empty(), "{metrics:?}");
    }
}
