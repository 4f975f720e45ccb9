//! The configuration as files give it: the shipped `vigia.example.toml` stays loadable and equal
//! to the defaults it documents, and values checked at load are named when wrong.

use vigia::config::Config;

fn write(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn vigia_example_toml_is_valid_and_matches_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigia.example.toml");
    let loaded = Config::load(Some(&path), Vec::new()).unwrap();
    let defaults = Config::default();
    assert_eq!(toml::to_string(&loaded).unwrap(), toml::to_string(&defaults).unwrap());
}

#[test]
fn rate_limit_and_lockout_values_are_checked() {
    let f = write("[server.rate_limit]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.168.1.7\", \"::1\"]\n");
    let c = Config::load(Some(f.path()), Vec::new()).unwrap();
    let nets: Vec<String> = c.trusted_proxies().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(nets, ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]);
    let f = write("[server.rate_limit]\ntrusted_proxies = [\"proxy.local\"]\n");
    let err = Config::load(Some(f.path()), Vec::new()).unwrap_err().to_string();
    assert!(err.contains("trusted_proxies entry \"proxy.local\""), "{err}");
    let f = write("[server.rate_limit]\nrequests_per_minute = 0\n");
    let err = Config::load(Some(f.path()), Vec::new()).unwrap_err().to_string();
    assert!(err.contains("enabled = false"), "{err}");
    let err =
        Config::load(None, vec![("VIGIA_AUTH_LOCKOUT_FAILURES".to_string(), "0".to_string())]).unwrap_err().to_string();
    assert!(err.contains("lockout_failures"), "{err}");
}

#[test]
fn a_cluster_on_sqlite_is_refused_with_the_reason() {
    let f = write("[cluster]\nenabled = true\n");
    let err = Config::load(Some(f.path()), Vec::new()).unwrap_err().to_string();
    assert!(err.contains("[cluster] enabled needs a PostgreSQL [storage] url") && err.contains("SQLite"), "{err}");
    let f = write("[cluster]\nenabled = true\n[storage]\nurl = \"postgres://vigia@127.0.0.1/vigia\"\n");
    assert!(Config::load(Some(f.path()), Vec::new()).unwrap().cluster.enabled);
    let env = vec![("VIGIA_CLUSTER_ENABLED".to_string(), "true".to_string())];
    let err = Config::load(None, env).unwrap_err().to_string();
    assert!(err.contains("PostgreSQL"), "{err}");
}
