//! The `vigia` command line: `serve`, `migrate`, `user`, `token`, `tenant`, `audit`, `version`.
//! Administrative commands work directly on storage, with or without a running server.

mod plugin;
mod plugin_sources;

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::audit::AuditLog;
use crate::auth::{password, secret, Privilege, Profile, ScopeSet};
use crate::bootstrap::{self, DEFAULT_TENANT};
use crate::config::Config;
use crate::server;
use crate::store::{now_ms, NewToken, NewUser, Store, Tenant, TokenKind, UserUpdate};

#[derive(Parser)]
#[command(
    name = "vigia",
    version,
    about = "Vigia: self-hosted monitoring for PostgreSQL and anything a WebAssembly plugin can reach.",
    long_about = "Vigia: self-hosted monitoring for PostgreSQL and anything a WebAssembly plugin can reach.\n\n\
    Start the server with `vigia serve`; it listens on http://127.0.0.1:8470 by default and creates the \
    user \"admin\" on first start. Settings come from a TOML file (see vigia.example.toml) and from \
    VIGIA_<SECTION>_<KEY> environment variables."
)]
pub struct Cli {
    /// Configuration file (TOML). Without it, defaults and VIGIA_* environment variables apply.
    #[arg(long, short, global = true, env = "VIGIA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server: REST API, scheduler and storage (applies migrations first).
    Serve,
    /// Apply pending storage migrations and exit.
    Migrate,
    /// Manage users (sign-in accounts).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for automation.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create, build, validate, install and list WebAssembly plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Manage tenants (organizations); every resource belongs to one.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Check the signed audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print version, git commit and build time.
    Version,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify the whole HMAC chain offline (needs the host secret key: the same data_dir or
    /// VIGIA_SECRET_KEY as the server). Prints OK and the count, or names the first broken entry
    /// and exits non-zero.
    Verify,
}

#[derive(Args)]
pub struct TenantArg {
    /// Tenant (organization) name.
    #[arg(long, short, default_value = DEFAULT_TENANT)]
    pub tenant: String,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from stdin with --password-stdin, else generated and printed.
    Add {
        /// Sign-in name; an email address is fine.
        login: String,
        #[arg(long)]
        email: Option<String>,
        /// read | "read write" | admin
        #[arg(long, default_value = "read")]
        privilege: String,
        /// developer | "data admin"
        #[arg(long, default_value = "data admin")]
        profile: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// Make the user one of the host's operators (manages plugins; `default` tenant only).
        #[arg(long)]
        operator: bool,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// List the users of a tenant.
    List {
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Set a user's password (from stdin with --password-stdin, else generated and printed).
    Passwd {
        login: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        tenant: TenantArg,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Mint an API token for a user and print it once.
    Create {
        /// What the token is for, e.g. "CI pipeline".
        name: String,
        /// Owner of the token; the token never holds more than this user.
        #[arg(long, default_value = bootstrap::ADMIN_LOGIN)]
        user: String,
        /// A scope to grant (repeat): read:status, monitoring:read, admin, …
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Lifetime in days; omit for the longest allowed (`[auth] max_token_lifetime_days`).
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// List live API tokens (never their secrets).
    List {
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Revoke an API token by id.
    Revoke {
        id: i64,
        #[command(flatten)]
        tenant: TenantArg,
    },
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Add { name: String },
    /// List tenants.
    List,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Version = cli.command {
        println!(
            "vigia {} (commit {}, built {})",
            crate::version::VERSION,
            crate::version::GIT_COMMIT,
            crate::version::BUILD_TIME
        );
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    crate::telemetry::init_logging(&config.log);
    let cli_command = match cli.command {
        Command::Serve => return server::run(config).await,
        Command::Plugin(cmd) => return plugin::run(cmd, &config).await,
        other => other,
    };
    let store = server::open_store(&config).await?;
    if let Some(first) = bootstrap::ensure_defaults(&store).await? {
        bootstrap::announce(&first);
    }
    let result = match cli_command {
        Command::Migrate => migrate(&store, &config).await,
        Command::User(cmd) => user(&store, cmd).await,
        Command::Token(cmd) => token(&store, cmd, crate::auth::Lifetimes::of(&config.auth)).await,
        Command::Tenant(cmd) => tenant(&store, cmd).await,
        Command::Audit(AuditCommand::Verify) => audit_verify(&store, &config).await,
        Command::Serve | Command::Version | Command::Plugin(_) => unreachable!("handled above"),
    };
    store.close().await;
    result
}

async fn tenant_named(store: &Store, arg: &TenantArg) -> anyhow::Result<Tenant> {
    store.tenant_by_name(&arg.tenant).await?.with_context(|| format!("no tenant named {:?}", arg.tenant))
}

/// The password from stdin, or a generated one that the caller prints.
fn obtain_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((secret::random_password(), true));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pass = line.trim_end_matches(['\n', '\r']).to_string();
    password::check_strength(&pass).map_err(anyhow::Error::msg)?;
    Ok((pass, false))
}

async fn user(store: &Store, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add { login, email, privilege, profile, password_stdin, operator, tenant } => {
            let tenant = tenant_named(store, &tenant).await?;
            if operator && tenant.name != DEFAULT_TENANT {
                anyhow::bail!("--operator: operators belong to the {DEFAULT_TENANT:?} tenant, the host's own");
            }
            let privilege = Privilege::parse(&privilege).map_err(anyhow::Error::msg)?;
            let profile = Profile::parse(&profile).map_err(anyhow::Error::msg)?;
            let (pass, generated) = obtain_password(password_stdin)?;
            let hash = password::hash(&pass)?;
            let new = NewUser {
                login: &login,
                email: email.as_deref(),
                password_hash: &hash,
                privilege: privilege.as_str(),
                profile: profile.as_str(),
                operator,
            };
            let user = store.create_user(tenant.id, &new).await?;
            println!("created user {:?} (id {}) in tenant {:?}", user.login, user.id, tenant.name);
            if generated {
                println!("password: {pass}");
            }
        }
        UserCommand::List { tenant } => {
            let tenant = tenant_named(store, &tenant).await?;
            println!("{:<6} {:<30} {:<12} {:<12} email", "id", "login", "privilege", "profile");
            for u in store.list_users(tenant.id).await? {
                println!(
                    "{:<6} {:<30} {:<12} {:<12} {}",
                    u.id,
                    u.login,
                    u.privilege,
                    u.profile,
                    u.email.unwrap_or_default()
                );
            }
        }
        UserCommand::Passwd { login, password_stdin, tenant } => {
            let tenant = tenant_named(store, &tenant).await?;
            let user = store
                .user_by_login(tenant.id, &login)
                .await?
                .with_context(|| format!("no user {login:?} in tenant {:?}", tenant.name))?;
            let (pass, generated) = obtain_password(password_stdin)?;
            let hash = password::hash(&pass)?;
            store
                .update_user(tenant.id, user.id, &UserUpdate { password_hash: Some(&hash), ..Default::default() })
                .await?;
            println!("password of {login:?} changed");
            if generated {
                println!("password: {pass}");
            }
        }
    }
    Ok(())
}

async fn token(store: &Store, cmd: TokenCommand, lifetimes: crate::auth::Lifetimes) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { name, user, scopes, expires_in_days, tenant } => {
            let tenant = tenant_named(store, &tenant).await?;
            let owner = store
                .user_by_login(tenant.id, &user)
                .await?
                .with_context(|| format!("no user {user:?} in tenant {:?}", tenant.name))?;
            let scopes = ScopeSet::parse_list(scopes.iter().flat_map(|s| s.split(','))).map_err(anyhow::Error::msg)?;
            let owner_scopes =
                crate::auth::scopes::stored_user_scopes(&owner.privilege, &owner.profile, owner.operator);
            if let Some(scope) = scopes.first_not_granted_by(owner_scopes) {
                bail!("user {user:?} does not hold scope {scope}, so their token cannot either");
            }
            let minted = secret::mint(secret::API_TOKEN_MARKER);
            let now = now_ms();
            let requested = expires_in_days.map(|d| now + i64::from(d) * 86_400_000);
            let expires_at = lifetimes.api_token_expiry(requested, None, now);
            let record = store
                .create_token(&NewToken {
                    tenant_id: tenant.id,
                    user_id: owner.id,
                    kind: TokenKind::Api,
                    name: &name,
                    prefix: &minted.prefix,
                    secret_hash: &minted.hash,
                    scopes: &scopes.to_stored(),
                    expires_at,
                })
                .await?;
            println!("created token {} (id {}) with scopes: {}", name, record.id, scopes.names().join(" "));
            println!("{}", minted.token);
            eprintln!("(the token is shown once; only its hash is stored)");
        }
        TokenCommand::List { tenant } => {
            let tenant = tenant_named(store, &tenant).await?;
            println!("{:<6} {:<24} {:<12} {:<8} scopes", "id", "name", "prefix", "user_id");
            for t in store.list_tokens(tenant.id, TokenKind::Api, None).await? {
                println!(
                    "{:<6} {:<24} {:<12} {:<8} {}",
                    t.id,
                    t.name,
                    format!("{}{}", secret::API_TOKEN_MARKER, t.prefix),
                    t.user_id,
                    t.scopes
                );
            }
        }
        TokenCommand::Revoke { id, tenant } => {
            let tenant = tenant_named(store, &tenant).await?;
            store
                .revoke_token(tenant.id, id, None)
                .await
                .with_context(|| format!("no live token {id} in tenant {:?}", tenant.name))?;
            println!("token {id} revoked (a running server stops accepting it within 30 s)");
        }
    }
    Ok(())
}

/// Migrations are applied by `open_store`; with the host key at hand, v1 secrets are re-sealed
/// too (as `serve` would at start). Without a key there is nothing sealed to re-seal.
async fn migrate(store: &Store, config: &Config) -> anyhow::Result<()> {
    println!("migrations applied ({})", store.backend().name());
    if let Some(secrets) = crate::secrets::SecretBox::load(&config.data_dir)? {
        let report = crate::reseal::reseal_legacy(store, &secrets).await?;
        if report.resealed() > 0 {
            println!("re-sealed {} v1 secret value(s) for their rows", report.resealed());
        }
        for unreadable in &report.unreadable {
            eprintln!("warning: not re-sealed, {unreadable}: it is refused until set again");
        }
    }
    Ok(())
}

async fn audit_verify(store: &Store, config: &Config) -> anyhow::Result<()> {
    let secrets = crate::secrets::SecretBox::load(&config.data_dir)?.with_context(|| {
        format!(
            "no host secret key: neither {} nor {}/secret.key (the audit key derives from it)",
            crate::secrets::SECRET_KEY_ENV,
            config.data_dir.display()
        )
    })?;
    match AuditLog::new(store.clone(), &secrets).verify(None).await? {
        Ok(count) => {
            println!("audit log OK: {count} entries verify");
            Ok(())
        }
        Err(broken) => bail!("audit log BROKEN: {broken} (every later entry is unverified)"),
    }
}

async fn tenant(store: &Store, cmd: TenantCommand) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::Add { name } => {
            let t = store.create_tenant(&name).await?;
            println!("created tenant {:?} (id {})", t.name, t.id);
        }
        TenantCommand::List => {
            for t in store.list_tenants().await? {
                println!("{:<6} {}", t.id, t.name);
            }
        }
    }
    Ok(())
}
