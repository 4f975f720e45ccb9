//! The `vigia` binary: parses the command line and hands over to `vigia::cli`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vigia::cli::run(vigia::cli::Cli::parse()).await
}
