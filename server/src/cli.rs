//! The command line: serving, migrating, and the bootstrap commands operators and scripts
//! use. Bootstrap commands print what they create as one JSON line on stdout (secrets
//! included, this once) and everything else on stderr.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use app::clock::SystemClock;
use app::domain::role::Role;
use app::services::{
    Actor, ErrorKind, NewUserInput, RegistrationLimits, ServiceError, Services, SessionLifetimes,
    Settings,
};

use crate::application::{Application, ApplicationConfig};
use crate::edge::client_address::{Cidr, TrustedProxies};
use crate::{edge, pos, startup, webhook_listen};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/ipp-portal.db";

#[derive(Debug, Parser)]
#[command(
    name = "ipp-portal",
    version,
    about = "Enroll payment terminals and manage the device fleet"
)]
pub struct Cli {
    /// How log lines are written: `json`, one object a line, for log collectors; `pretty`,
    /// for people. Default: json unless the log (standard error) is a terminal. Levels
    /// come from RUST_LOG (default: info,sqlx=warn).
    #[arg(long, global = true, env = "IPP_PORTAL_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct DatabaseArgs {
    /// sqlite://path/to/file.db or postgres://user:password@host/database (the old name
    /// DATABASE_URL is read too)
    #[arg(long, env = "IPP_PORTAL_DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal and the Device API.
    Serve(ServeArgs),
    /// Bring the database schema up to date, then exit.
    Migrate(DatabaseArgs),
    /// Merchants.
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// A merchant's locations (stores).
    #[command(subcommand)]
    Location(LocationCommand),
    /// Portal users (merchant staff).
    #[command(subcommand)]
    User(UserCommand),
    /// API keys for merchant systems.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Act as the POS app does, over HTTP, to test a setup.
    #[command(subcommand)]
    Pos(pos::PosCommand),
    /// Webhooks: receive them locally, to try an endpoint.
    #[command(subcommand)]
    Webhook(webhook_listen::WebhookCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "IPP_PORTAL_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The address people use to reach the portal; QR codes link here. Defaults to
    /// http://<addr>.
    #[arg(long, env = "IPP_PORTAL_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Failed pairing-code attempts allowed per client address and window.
    #[arg(long, env = "IPP_PORTAL_REGISTRATION_FAILURES_PER_ADDRESS", default_value_t = RegistrationLimits::default().per_address)]
    pub registration_failures_per_address: i64,
    /// Failed pairing-code attempts allowed over all clients per window.
    #[arg(long, env = "IPP_PORTAL_REGISTRATION_FAILURES_GLOBAL", default_value_t = RegistrationLimits::default().global)]
    pub registration_failures_global: i64,
    /// Length of the failure-counting window, in seconds.
    #[arg(long, env = "IPP_PORTAL_REGISTRATION_WINDOW_SECONDS", default_value_t = RegistrationLimits::default().window_seconds)]
    pub registration_window_seconds: i64,
    /// Minutes after which an unused portal session ends.
    #[arg(long, env = "IPP_PORTAL_SESSION_IDLE_MINUTES", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=24 * 60))]
    pub session_idle_minutes: u64,
    /// Hours after sign-in after which a portal session ends, however active.
    #[arg(long, env = "IPP_PORTAL_SESSION_MAX_HOURS", default_value_t = 12,
        value_parser = clap::value_parser!(u64).range(1..=30 * 24))]
    pub session_max_hours: u64,
    /// Send the session cookie over HTTPS only; on by default when --public-url is https.
    #[arg(long, env = "IPP_PORTAL_SECURE_COOKIES")]
    pub secure_cookies: Option<bool>,
    /// Seconds a client has to send a request's headers; a slower connection is closed.
    #[arg(long, env = "IPP_PORTAL_HEADER_READ_TIMEOUT_SECONDS", default_value_t = edge::DEFAULT_HEADER_READ_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_seconds: u64,
    /// Seconds a request may take from its headers to its answer; then it is answered 408.
    #[arg(long, env = "IPP_PORTAL_REQUEST_TIMEOUT_SECONDS", default_value_t = edge::DEFAULT_REQUEST_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_seconds: u64,
    /// Connections served at once; further clients wait until one closes.
    #[arg(long, env = "IPP_PORTAL_MAX_CONNECTIONS", default_value_t = edge::DEFAULT_MAX_CONNECTIONS as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
    /// Reverse proxies (address ranges, comma-separated: 10.0.0.0/8,::1) whose
    /// X-Forwarded-For or Forwarded header names the client. Default: nobody; the client
    /// is the TCP peer.
    #[arg(
        long,
        env = "IPP_PORTAL_TRUSTED_PROXIES",
        value_name = "CIDR,...",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<Cidr>,
    /// Let webhook endpoints be private addresses, and http:// to this machine: for tests
    /// and local development only (see `ipp-portal webhook listen`).
    #[arg(long, env = "IPP_PORTAL_ALLOW_PRIVATE_WEBHOOK_TARGETS")]
    pub allow_private_webhook_targets: bool,
    /// Serve /metrics (Prometheus) on this address alone, e.g. a private interface's
    /// 10.0.0.5:9090, instead of on --addr.
    #[arg(long, env = "IPP_PORTAL_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// On a new, empty database, create a demo merchant, location and admin login and
    /// print the login.
    #[arg(long, env = "IPP_PORTAL_SEED_DEMO")]
    pub seed_demo: bool,
}

impl ServeArgs {
    /// The application's settings, as given on the command line or in the environment.
    pub fn into_config(self) -> ApplicationConfig {
        ApplicationConfig {
            public_url: self.public_url,
            secure_cookies: self.secure_cookies,
            registration_limits: RegistrationLimits {
                per_address: self.registration_failures_per_address,
                global: self.registration_failures_global,
                window_seconds: self.registration_window_seconds,
            },
            sessions: SessionLifetimes {
                idle: Duration::from_secs(self.session_idle_minutes * 60),
                absolute: Duration::from_secs(self.session_max_hours * 3600),
            },
            header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
            request_timeout: Duration::from_secs(self.request_timeout_seconds),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            trusted_proxies: TrustedProxies::new(self.trusted_proxies),
            webhooks: app::services::WebhookSettings {
                allow_private_targets: self.allow_private_webhook_targets,
                ..Default::default()
            },
            metrics_addr: self.metrics_addr,
            ..ApplicationConfig::new(self.addr, self.database.database_url)
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object a line: time, level, target, message, fields, and the request's
    /// span (method, route, request id).
    Json,
    /// One readable line an event, coloured on a terminal.
    Pretty,
}

/// The environment variables' names before they all began `IPP_PORTAL_`, each beside
/// its new name: still read when only the old one is set.
const OLD_ENVIRONMENT_NAMES: &[(&str, &str)] = &[
    ("IPP_PORTAL_DATABASE_URL", "DATABASE_URL"),
    ("IPP_PORTAL_ADDR", "IPP_ADDR"),
    ("IPP_PORTAL_PUBLIC_URL", "IPP_PUBLIC_URL"),
    (
        "IPP_PORTAL_REGISTRATION_FAILURES_PER_ADDRESS",
        "IPP_REGISTRATION_FAILURES_PER_ADDRESS",
    ),
    (
        "IPP_PORTAL_REGISTRATION_FAILURES_GLOBAL",
        "IPP_REGISTRATION_FAILURES_GLOBAL",
    ),
    (
        "IPP_PORTAL_REGISTRATION_WINDOW_SECONDS",
        "IPP_REGISTRATION_WINDOW_SECONDS",
    ),
    (
        "IPP_PORTAL_SESSION_IDLE_MINUTES",
        "IPP_SESSION_IDLE_MINUTES",
    ),
    ("IPP_PORTAL_SESSION_MAX_HOURS", "IPP_SESSION_MAX_HOURS"),
    ("IPP_PORTAL_SECURE_COOKIES", "IPP_SECURE_COOKIES"),
    (
        "IPP_PORTAL_HEADER_READ_TIMEOUT_SECONDS",
        "IPP_HEADER_READ_TIMEOUT_SECONDS",
    ),
    (
        "IPP_PORTAL_REQUEST_TIMEOUT_SECONDS",
        "IPP_REQUEST_TIMEOUT_SECONDS",
    ),
    ("IPP_PORTAL_MAX_CONNECTIONS", "IPP_MAX_CONNECTIONS"),
    ("IPP_PORTAL_TRUSTED_PROXIES", "IPP_TRUSTED_PROXIES"),
];

impl Cli {
    /// The command line of this process, flags falling back on `IPP_PORTAL_...`
    /// variables, and those on their old names; exits with usage (2) when it is wrong.
    pub fn from_process() -> Self {
        let command =
            reading_old_environment_names(Cli::command(), &|name| std::env::var_os(name).is_some());
        let matches = command.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
}

/// `command` with each flag whose `IPP_PORTAL_...` variable is not set, but whose old
/// variable is, reading the old one instead; in every subcommand.
fn reading_old_environment_names(
    command: clap::Command,
    is_set: &impl Fn(&str) -> bool,
) -> clap::Command {
    let switched: Vec<(clap::Id, &str)> = command
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_str()?;
            let (_, old) = OLD_ENVIRONMENT_NAMES.iter().find(|(new, _)| *new == name)?;
            (!is_set(name) && is_set(old)).then(|| (arg.get_id().clone(), *old))
        })
        .collect();
    let mut command = switched.into_iter().fold(command, |command, (id, old)| {
        command.mut_arg(id, |arg| arg.env(old))
    });
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in subcommands {
        command = command.mut_subcommand(name, |sub| reading_old_environment_names(sub, is_set));
    }
    command
}

#[derive(Debug, Subcommand)]
pub enum MerchantCommand {
    /// Create a merchant.
    Create {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum LocationCommand {
    /// Create a location for a merchant.
    Create {
        /// The merchant's id.
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        city: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Ops,
    StoreManager,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Ops => Role::Ops,
            RoleArg::StoreManager => Role::StoreManager,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a portal user; the password is read from standard input.
    Create {
        /// The merchant's id.
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A location the user manages (store managers; repeatable).
        #[arg(long = "location")]
        locations: Vec<String>,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Remove all second factors of a user who lost them (authenticator app, passkeys,
    /// recovery codes) and end their sessions; audited. They sign in with their password
    /// next, and set a factor up again where their merchant requires one.
    ResetMfa {
        /// The merchant's id.
        #[arg(long)]
        merchant: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; the key is printed once and stored only as a hash.
    Create {
        /// The merchant's id.
        #[arg(long)]
        merchant: String,
        /// What the key is for, e.g. "ERP integration".
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// A failure to show the operator, and the exit code that tells scripts what kind it is.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub exit_code: u8,
}

impl CliError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            exit_code: exit_code(kind),
        }
    }

    /// A failure outside the services (files, sockets, standard input).
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

/// Exit codes by kind of error, after BSD's sysexits: 65 bad input, 66 no such object,
/// 69 refused as things stand (conflict, gone, too many attempts, too busy), 70 internal,
/// 77 not allowed. 2 stays with the argument parser's usage errors.
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Invalid => 65,
        ErrorKind::NotFound => 66,
        ErrorKind::Gone | ErrorKind::Conflict | ErrorKind::RateLimited | ErrorKind::Unavailable => {
            69
        }
        ErrorKind::Internal => 70,
        ErrorKind::Unauthorized | ErrorKind::Forbidden => 77,
    }
}

impl From<ServiceError> for CliError {
    fn from(error: ServiceError) -> Self {
        let exit_code = exit_code(error.kind());
        let message = match error {
            ServiceError::Validation(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            ServiceError::NotFound(what) => format!("no such {what}"),
            ServiceError::Internal(cause) => format!("internal error: {cause}"),
            other => other.to_string(),
        };
        Self { message, exit_code }
    }
}

fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let line = serde_json::to_string(value).map_err(|e| CliError::io(e.to_string()))?;
    println!("{line}");
    Ok(())
}

async fn open(database: &DatabaseArgs) -> Result<Services, CliError> {
    startup::services(
        &database.database_url,
        Arc::new(SystemClock),
        Settings::default(),
    )
    .await
    .map_err(|error| ServiceError::from(error).into())
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(database) => {
            open(&database).await?;
            eprintln!("database is up to date");
            Ok(())
        }
        Command::Merchant(MerchantCommand::Create { name, database }) => {
            let services = open(&database).await?;
            print_json(&services.create_merchant(&name).await?)
        }
        Command::Location(LocationCommand::Create {
            merchant,
            name,
            city,
            database,
        }) => {
            let services = open(&database).await?;
            let actor = services.operator_for(&merchant).await?;
            print_json(
                &services
                    .create_location(&actor, &name, city.as_deref())
                    .await?,
            )
        }
        Command::User(UserCommand::Create {
            merchant,
            email,
            role,
            locations,
            password_stdin: _,
            database,
        }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| {
                    CliError::io(format!("cannot read the password from standard input: {e}"))
                })?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let services = open(&database).await?;
            let actor = services.operator_for(&merchant).await?;
            let input = NewUserInput {
                merchant_id: merchant,
                email,
                password,
                role: role.into(),
                location_ids: locations,
            };
            print_json(&services.create_user(&actor, input).await?)
        }
        Command::User(UserCommand::ResetMfa {
            merchant,
            email,
            database,
        }) => {
            let services = open(&database).await?;
            let actor = services.operator_for(&merchant).await?;
            print_json(
                &services
                    .reset_second_factors_by_email(&actor, &email)
                    .await?,
            )
        }
        Command::ApiKey(ApiKeyCommand::Create {
            merchant,
            name,
            database,
        }) => {
            let services = open(&database).await?;
            let actor = services.operator_for(&merchant).await?;
            print_json(&services.create_api_key(&actor, &name).await?)
        }
        Command::Pos(command) => pos::run(command).await,
        Command::Webhook(command) => webhook_listen::run(command).await,
    }
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let seed_demo_requested = args.seed_demo;
    let application = Application::build(args.into_config())
        .await
        .map_err(|e| CliError::io(e.to_string()))?;
    if seed_demo_requested {
        seed_demo(application.services()).await?;
    }
    tracing::info!("serving the portal at http://{}", application.address());
    if let Some(metrics) = application.metrics_address() {
        tracing::info!("serving metrics at http://{metrics}/metrics");
    }
    application
        .run_until_stopped()
        .await
        .map_err(|e| CliError::io(e.to_string()))
}

/// Gives a brand-new database something to log in to.
async fn seed_demo(services: &Services) -> Result<(), CliError> {
    if services.has_merchants().await? {
        return Ok(());
    }
    let merchant = services.create_merchant("Demo Coffee Roasters").await?;
    let actor = Actor::system(&merchant.id);
    services
        .create_location(&actor, "Flagship Store", Some("Stockholm"))
        .await?;
    let password = app::secrets::new_secret("").plaintext[..20].to_owned();
    let email = "admin@demo.example";
    services
        .create_user(
            &actor,
            NewUserInput {
                merchant_id: merchant.id.clone(),
                email: email.into(),
                password: password.clone(),
                role: Role::Admin,
                location_ids: Vec::new(),
            },
        )
        .await?;
    eprintln!();
    eprintln!(
        "  Demo merchant created: {} ({})",
        merchant.name, merchant.id
    );
    eprintln!("  Log in with   email: {email}");
    eprintln!("             password: {password}");
    eprintln!();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};

    fn serve_sessions(args: &[&str]) -> Result<app::services::SessionLifetimes, clap::Error> {
        let cli = Cli::try_parse_from(["ipp-portal", "serve"].iter().chain(args))?;
        let Command::Serve(serve) = cli.command else {
            panic!("not serve");
        };
        Ok(serve.into_config().sessions)
    }

    #[test]
    fn session_lifetimes_are_flags_with_asvs_defaults() {
        let defaults = serve_sessions(&[]).unwrap();
        assert_eq!(defaults.idle, Duration::from_secs(30 * 60));
        assert_eq!(defaults.absolute, Duration::from_secs(12 * 3600));
        let chosen =
            serve_sessions(&["--session-idle-minutes", "5", "--session-max-hours", "2"]).unwrap();
        assert_eq!(chosen.idle, Duration::from_secs(5 * 60));
        assert_eq!(chosen.absolute, Duration::from_secs(2 * 3600));
        assert!(serve_sessions(&["--session-idle-minutes", "0"]).is_err());
        assert!(serve_sessions(&["--session-max-hours", "100000"]).is_err());
    }

    fn serve_command(command: clap::Command) -> clap::Command {
        command
            .get_subcommands()
            .find(|sub| sub.get_name() == "serve")
            .expect("serve")
            .clone()
    }

    fn env_of(command: &clap::Command, id: &str) -> String {
        command
            .get_arguments()
            .find(|arg| arg.get_id() == id)
            .and_then(|arg| arg.get_env())
            .and_then(|env| env.to_str())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn every_serve_flag_has_an_ipp_portal_variable() {
        let serve = serve_command(Cli::command());
        let mut flags = 0;
        for arg in serve.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" {
                continue;
            }
            flags += 1;
            let expected = format!("IPP_PORTAL_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(env_of(&serve, arg.get_id().as_str()), expected, "--{long}");
        }
        assert!(flags >= 15, "{flags} flags");
    }

    #[test]
    fn an_old_variable_name_is_read_only_when_the_new_one_is_unset() {
        let set = |names: &'static [&'static str]| move |name: &str| names.contains(&name);
        let only_old = serve_command(super::reading_old_environment_names(
            Cli::command(),
            &set(&["IPP_ADDR", "DATABASE_URL"]),
        ));
        assert_eq!(env_of(&only_old, "addr"), "IPP_ADDR");
        assert_eq!(env_of(&only_old, "database_url"), "DATABASE_URL");
        assert_eq!(env_of(&only_old, "public_url"), "IPP_PORTAL_PUBLIC_URL");
        let both = serve_command(super::reading_old_environment_names(
            Cli::command(),
            &set(&["IPP_ADDR", "IPP_PORTAL_ADDR"]),
        ));
        assert_eq!(env_of(&both, "addr"), "IPP_PORTAL_ADDR");
        // Every command that opens the database reads the old name too.
        let migrate = super::reading_old_environment_names(Cli::command(), &set(&["DATABASE_URL"]))
            .get_subcommands()
            .find(|sub| sub.get_name() == "migrate")
            .cloned()
            .unwrap();
        assert_eq!(env_of(&migrate, "database_url"), "DATABASE_URL");
    }

    #[test]
    fn log_format_and_metrics_address_are_flags() {
        let cli = Cli::try_parse_from([
            "ipp-portal",
            "serve",
            "--log-format",
            "json",
            "--metrics-addr",
            "127.0.0.1:9090",
        ])
        .unwrap();
        assert_eq!(cli.log_format, Some(super::LogFormat::Json));
        let Command::Serve(serve) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(
            serve.into_config().metrics_addr,
            Some(([127, 0, 0, 1], 9090).into())
        );
        assert!(Cli::try_parse_from(["ipp-portal", "serve", "--log-format", "xml"]).is_err());
    }
}
