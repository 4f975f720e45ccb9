//! The component glue: read config, talk to Redis, return samples.

use crate::info::parse_info;
use crate::resp::{encode_command, read_reply, Reply};
use serde::Deserialize;
use std::io::{BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;
use vigia_sdk::{CollectContext, Collector, PluginError, Sample};

#[derive(Deserialize)]
struct Config {
    host: String,
    port: u16,
    password: Option<String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    2000
}

struct Redis;

impl Collector for Redis {
    fn collect(_: CollectContext) -> Result<Vec<Sample>, PluginError> {
        let config: Config = vigia_sdk::config()?;
        let info = fetch_info(&config)?;
        let instance = format!("{}:{}", config.host, config.port);
        Ok(parse_info(&info)
            .into_iter()
            .map(|m| {
                let sample = m.labels.into_iter().fold(Sample::new(m.name, m.value), |s, (k, v)| s.label(k, v));
                let sample = sample.label("instance", instance.clone());
                match m.unit {
                    Some(unit) => sample.unit(unit),
                    None => sample,
                }
            })
            .collect())
    }
}

fn fetch_info(config: &Config) -> Result<String, PluginError> {
    let timeout = Duration::from_millis(config.timeout_ms);
    let stream = connect(config, timeout)?;
    // Timeouts are best effort: the host's own time limit still bounds the call.
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    // Reads and writes share `&TcpStream`: wasi sockets cannot `try_clone` a stream.
    let mut reader = BufReader::new(&stream);
    let mut command = |args: &[&str]| -> Result<Reply, PluginError> {
        let mut writer: &TcpStream = reader.get_ref();
        writer.write_all(&encode_command(args)).map_err(io_error)?;
        read_reply(&mut reader).map_err(io_error)
    };
    if let Some(password) = &config.password {
        match command(&["AUTH", password])? {
            Reply::Simple(_) => {}
            Reply::Error(e) => return Err(PluginError::permanent(format_args!("AUTH refused: {e}"))),
            other => return Err(PluginError::retryable(format_args!("unexpected AUTH reply {other:?}"))),
        }
    }
    match command(&["INFO"])? {
        Reply::Bulk(Some(bytes)) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Reply::Error(e) if e.starts_with("NOAUTH") => Err(PluginError::permanent(format_args!("{e} (set `password`)"))),
        Reply::Error(e) => Err(PluginError::retryable(format_args!("INFO failed: {e}"))),
        other => Err(PluginError::retryable(format_args!("unexpected INFO reply {other:?}"))),
    }
}

fn connect(config: &Config, timeout: Duration) -> Result<TcpStream, PluginError> {
    let target = (config.host.as_str(), config.port);
    let address = target
        .to_socket_addrs()
        .map_err(|e| PluginError::retryable(format_args!("resolve {}: {e}", config.host)))?
        .next()
        .ok_or_else(|| PluginError::permanent(format_args!("{} has no address", config.host)))?;
    TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| PluginError::retryable(format_args!("connect {address}: {e}")))
}

fn io_error(e: std::io::Error) -> PluginError {
    PluginError::retryable(format_args!("redis i/o: {e}"))
}

vigia_sdk::export_collector!(Redis);
