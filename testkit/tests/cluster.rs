//! End-to-end tests of vigia-testkit against real PostgreSQL servers started by it.

use std::net::TcpStream;
use std::process::Command;

use vigia_testkit::{fresh_database_url, shared, PgCluster};

fn accepts_connections(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn cluster_serves_queries_with_pg_stat_statements_preloaded() -> anyhow::Result<()> {
    let cluster = PgCluster::start()?;
    let url = cluster.create_database("app")?;
    assert_eq!(url, format!("postgres://postgres@127.0.0.1:{}/app", cluster.port()));
    assert_eq!(cluster.psql("app", "SELECT 1")?, "1");
    assert_eq!(cluster.psql("app", "SELECT current_database()")?, "app");

    // CREATE EXTENSION succeeds anyway; reading the view only works when the library is preloaded.
    cluster.psql("app", "CREATE EXTENSION pg_stat_statements")?;
    assert_eq!(cluster.psql("app", "SELECT count(*) >= 0 FROM pg_stat_statements")?, "t");
    assert_eq!(cluster.psql("app", "SHOW track_io_timing")?, "on");
    assert_eq!(cluster.psql("app", "SHOW max_connections")?, "200");

    // Errors must say what went wrong, not just "exit status 1".
    let err = cluster.psql("app", "SELEC 1").unwrap_err().to_string();
    assert!(err.contains("syntax error"), "{err}");
    Ok(())
}

#[test]
fn stop_and_restart_simulate_an_outage() -> anyhow::Result<()> {
    let cluster = PgCluster::start()?;
    let port = cluster.port();
    cluster.psql("postgres", "CREATE TABLE survives (x int); INSERT INTO survives VALUES (42)")?;

    cluster.stop()?;
    assert!(cluster.psql("postgres", "SELECT 1").is_err());
    assert!(!accepts_connections(port));

    cluster.restart_server()?;
    assert_eq!(cluster.port(), port);
    assert_eq!(cluster.psql("postgres", "SELECT x FROM survives")?, "42");

    // Restarting a running server works too.
    cluster.restart_server()?;
    assert_eq!(cluster.psql("postgres", "SELECT 1")?, "1");
    Ok(())
}

#[test]
fn dropping_a_cluster_stops_its_server() -> anyhow::Result<()> {
    let cluster = PgCluster::start()?;
    let port = cluster.port();
    assert!(accepts_connections(port));
    drop(cluster);
    assert!(!accepts_connections(port));
    Ok(())
}

#[test]
fn fresh_database_urls_are_distinct_and_usable() -> anyhow::Result<()> {
    let a = fresh_database_url()?;
    let b = fresh_database_url()?;
    assert_ne!(a, b);
    for url in [&a, &b] {
        let out = Command::new("psql").arg(url).args(["-X", "-At", "-c", "SELECT current_database()"]).output()?;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let name = String::from_utf8(out.stdout)?;
        assert!(url.ends_with(&format!("/{}", name.trim())), "{url} vs {name}");
    }
    Ok(())
}

/// Not a test of its own: run in a child process by `shared_cluster_is_stopped_at_process_exit`.
#[test]
#[ignore = "helper, run in a child process"]
fn shared_cluster_child() {
    let cluster = shared();
    assert_eq!(cluster.psql("postgres", "SELECT 1").unwrap(), "1");
    println!("SHARED_PORT={}", cluster.port());
}

#[test]
fn shared_cluster_is_stopped_at_process_exit() -> anyhow::Result<()> {
    // The atexit handler can only be observed from outside, so run a test process of our own.
    let out = Command::new(std::env::current_exe()?)
        .args(["--exact", "shared_cluster_child", "--ignored", "--nocapture", "--test-threads=1"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let port: u16 = stdout
        .lines()
        // libtest prints "test shared_cluster_child ... " on the same line, so search within lines.
        .find_map(|line| line.split_once("SHARED_PORT=").map(|(_, port)| port.trim()))
        .expect("child printed its port")
        .parse()?;
    assert!(!accepts_connections(port), "shared cluster on port {port} outlived its process");
    Ok(())
}
