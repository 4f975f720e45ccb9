//! Private, throwaway PostgreSQL clusters for Vigia's test suites: `initdb` into a temp dir,
//! start on a free loopback port, stop again when dropped (or, for `shared()`, at process exit).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use tempfile::TempDir;

/// A PostgreSQL server of its own, in a temp dir, reachable as `postgres` (trust auth) on 127.0.0.1.
#[derive(Debug)]
pub struct PgCluster {
    // Deleted when the struct is dropped, which Rust does only after `Drop::drop` stopped the server.
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    // initdb and pg_ctl refuse to run as root, so as root they go through `runuser -u postgres`.
    as_postgres: bool,
}

impl PgCluster {
    /// Runs `initdb` in a new temp dir and starts the server on a free loopback port.
    pub fn start() -> Result<PgCluster> {
        Self::start_with("")
    }

    /// Like `start`, with `extra` lines appended to `postgresql.conf` (later lines win, so
    /// `max_connections = 600` raises the default).
    pub fn start_with(extra: &str) -> Result<PgCluster> {
        let bin = find_bindir()?;
        let dir = tempfile::Builder::new().prefix("vigia-pg-").tempdir().context("creating the cluster's temp dir")?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        #[allow(unsafe_code)]
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            run(Command::new("chown").args(["-R", "postgres"]).arg(dir.path()))?;
        }
        let port = 0; // Chosen below, just before the server starts.
        let mut cluster = PgCluster { dir, bin, port, as_postgres };

        let data = cluster.data_dir();
        let mut initdb = cluster.server_cmd("initdb");
        initdb.arg("-D").arg(&data);
        initdb.args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        run(&mut initdb).context("initdb failed")?;

        let conf_path = data.join("postgresql.conf");
        let original = fs::read_to_string(&conf_path).context("reading postgresql.conf")?;
        // A probed port is only free until someone else binds it (parallel test processes),
        // so a failed start is retried on a new port.
        let mut last_error = anyhow!("server never started");
        for _ in 0..3 {
            cluster.port = free_port();
            fs::write(&conf_path, format!("{original}\n{}\n{extra}\n", cluster.settings()))
                .context("writing postgresql.conf")?;
            match cluster.pg_ctl("start", &["start"]) {
                Ok(()) => return Ok(cluster),
                Err(e) => last_error = e,
            }
        }
        Err(last_error) // `cluster` drops here: stop is attempted, the temp dir removed.
    }

    /// The loopback TCP port; it stays the same across `stop`/`restart_server`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:{port}/{database}`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates the database and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let sql = format!("CREATE DATABASE {}", quote_ident(name));
        self.psql("postgres", &sql)?;
        Ok(self.url(name))
    }

    /// Runs `sql` with `psql -At` and returns its output without the trailing newline.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        // A network client needs no runuser: trust auth lets any OS user in as `postgres`.
        psql(&self.bin.join("psql"), &self.url(database), sql)
    }

    /// Stops the server (fast shutdown: open connections are cut, as in a real outage).
    pub fn stop(&self) -> Result<()> {
        self.pg_ctl("stop", &["-m", "fast", "stop"])
    }

    /// Starts the server again on the same port and data, restarting it if it is still up.
    pub fn restart_server(&self) -> Result<()> {
        // `pg_ctl restart` starts a stopped server too, reusing the options it last ran with.
        self.pg_ctl("restart", &["-m", "fast", "restart"])
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    fn settings(&self) -> String {
        // Durability is off because test data is thrown away and fsync would dominate test time.
        format!(
            "# Added by vigia-testkit.\n\
             port = {}\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             shared_preload_libraries = 'pg_stat_statements'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 200\n\
             track_io_timing = on\n",
            self.port,
            self.dir.path().display()
        )
    }

    /// A server-side tool from the cluster's bindir, run as `postgres` when we are root.
    fn server_cmd(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        // The postgres user may not be allowed into the caller's working directory.
        cmd.current_dir(self.dir.path());
        cmd
    }

    fn pg_ctl(&self, what: &str, args: &[&str]) -> Result<()> {
        let mut cmd = self.server_cmd("pg_ctl");
        cmd.arg("-D").arg(self.data_dir()).arg("-l").arg(self.log_path()).arg("-w").args(args);
        // Most start failures are explained only in the server log, so its tail goes in the error.
        run(&mut cmd).map(drop).map_err(|e| {
            anyhow!(
                "pg_ctl {what} failed: {e:#}\n--- tail of {} ---\n{}",
                self.log_path().display(),
                log_tail(&self.log_path(), 30)
            )
        })
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Stop before the temp dir goes, or the postmaster would run on without its data directory.
        let _ = self.stop();
    }
}

static SHARED: OnceLock<PgCluster> = OnceLock::new();

/// One cluster per test process, started on first use and stopped when the process exits.
/// Panics if it cannot start: there is nothing a test could do about it.
pub fn shared() -> &'static PgCluster {
    SHARED.get_or_init(|| {
        let cluster = PgCluster::start().unwrap_or_else(|e| panic!("starting the shared test cluster: {e:#}"));
        // Statics are never dropped, so without this the postmaster would outlive the test process.
        // SAFETY: registering a plain `extern "C" fn()` has no preconditions.
        #[allow(unsafe_code)]
        let registered = unsafe { libc::atexit(stop_shared) };
        assert_eq!(registered, 0, "atexit failed; refusing to leave a stray postmaster");
        cluster
    })
}

extern "C" fn stop_shared() {
    if let Some(cluster) = SHARED.get() {
        let _ = cluster.stop();
        let _ = fs::remove_dir_all(cluster.dir.path());
    }
}

/// A new, uniquely named database. On the server named by `VIGIA_TEST_PG_URL` if that is set,
/// otherwise on `shared()`.
pub fn fresh_database_url() -> Result<String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // pid + counter are unique within one run; the time keeps names unique across runs against a
    // long-lived server that still holds databases of an earlier process with the same pid.
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("vigia_test_{}_{n}_{nanos}", std::process::id());

    match std::env::var("VIGIA_TEST_PG_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let sql = format!("CREATE DATABASE {}", quote_ident(&name));
            psql(Path::new("psql"), &url, &sql).with_context(|| format!("creating {name} on VIGIA_TEST_PG_URL"))?;
            Ok(with_database(&url, &name))
        }
        _ => shared().create_database(&name),
    }
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding an ephemeral port on 127.0.0.1")
}

/// `pg_config --bindir` if it holds the server tools, else the newest Debian-style install.
fn find_bindir() -> Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    // Debian keeps server binaries off PATH, one directory per major version.
    let mut best: Option<(u32, PathBuf)> = None;
    for entry in fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten() {
        let Ok(version) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let bin = entry.path().join("bin");
        if bin.join("initdb").is_file() && best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, bin));
        }
    }
    best.map(|(_, bin)| bin).ok_or_else(|| {
        anyhow!("no PostgreSQL server binaries: neither `pg_config --bindir` nor /usr/lib/postgresql/*/bin has initdb")
    })
}

/// `psql -At` against `url`, returning its output without the trailing newline.
fn psql(program: &Path, url: &str, sql: &str) -> Result<String> {
    // -X skips the caller's ~/.psqlrc, which could change the output format.
    let mut cmd = Command::new(program);
    cmd.args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, url]);
    Ok(run(&mut cmd)?.trim_end_matches('\n').to_owned())
}

/// Runs the command; on failure the error carries the command line, exit status and output.
fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("could not run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} exited with {}\nstderr: {}\nstdout: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn log_tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(log) => {
            let all: Vec<&str> = log.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(no server log: {e})"),
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The same URL (scheme, credentials, host, query parameters) with another database in its path.
fn with_database(url: &str, database: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find(['/', '?']).map_or(url.len(), |i| start + i);
    let query = url[end..].find('?').map_or("", |i| &url[end + i..]);
    format!("{}/{database}{query}", &url[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_swaps_only_the_path() {
        let db = "vigia_test_1";
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", db),
            "postgres://postgres@127.0.0.1:5432/vigia_test_1"
        );
        assert_eq!(with_database("postgres://u:p@h", db), "postgres://u:p@h/vigia_test_1");
        assert_eq!(
            with_database("postgresql://h:1/x?sslmode=disable", db),
            "postgresql://h:1/vigia_test_1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h?sslmode=disable", db), "postgres://h/vigia_test_1?sslmode=disable");
    }

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    }
}
