//! The `starling` binary: serve (the default), or run an admin task.

use clap::{Parser, Subcommand};

use starling::config::Settings;
use starling::startup::Application;
use starling::{admin, probe, telemetry};

#[derive(Parser)]
#[command(name = "starling", version, about = "A real-time microblogging server (Mastodon client API)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Operator tasks; run them while the server is stopped.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Probe a running server: GET its /health; exit 0 on 200, 1 otherwise (the
    /// container image's HEALTHCHECK).
    Health {
        /// The URL to probe (http:// only). Default: /health on the configured port, on the
        /// loopback address when the server listens on all addresses.
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// The password (or set STARLING_ADMIN_PASSWORD).
        #[arg(long, env = "STARLING_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// user, moderator or admin.
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// Change an account's role to user, moderator or admin.
    SetRole { username: String, role: String },
    /// Check the stored data's invariants (counts, indexes, timelines, pending fan-out);
    /// prints a JSON report and exits 1 if anything is inconsistent.
    Check,
}

fn main() -> std::process::ExitCode {
    let command = match Cli::parse().command {
        Some(Command::Health { url, timeout }) => return health(url, timeout),
        command => command,
    };
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("starling: invalid settings: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let result = actix_web::rt::System::new().block_on(async move {
        match command {
            None | Some(Command::Serve) => Application::build(settings).await?.run_until_stopped().await,
            Some(Command::Admin(AdminCommand::CreateUser { username, email, password, role })) => {
                let account = admin::create_user(&settings, &username, &email, &password, &role).await?;
                println!("created {} (id {}, role {})", account.username, account.id, account.role.name());
                Ok(())
            }
            Some(Command::Admin(AdminCommand::SetRole { username, role })) => {
                let account = admin::set_role(&settings, &username, &role).await?;
                println!("{} is now {}", account.username, account.role.name());
                Ok(())
            }
            Some(Command::Health { .. }) => Ok(()), // answered above, before settings and logging
            Some(Command::Admin(AdminCommand::Check)) => {
                let report = admin::check(&settings)?;
                let json =
                    serde_json::to_string_pretty(&report).map_err(|e| starling::error::Error::Other(e.to_string()))?;
                println!("{json}");
                if !report.is_clean() {
                    // stdout stays pure JSON; the verdict goes to stderr and the exit code.
                    eprintln!("starling: {} invariant violations", report.violation_count);
                    let _ = std::io::Write::flush(&mut std::io::stdout());
                    std::process::exit(1);
                }
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "starling failed");
            eprintln!("starling: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `starling health`: one line on stdout when healthy, on stderr otherwise.
fn health(url: Option<String>, timeout: u64) -> std::process::ExitCode {
    let url = match url {
        Some(url) => url,
        None => match Settings::load() {
            Ok(settings) => probe::health_url(&settings.server),
            Err(e) => {
                eprintln!("starling health: invalid settings: {e}");
                return std::process::ExitCode::FAILURE;
            }
        },
    };
    let answer = actix_web::rt::System::new().block_on(probe::get_status(&url, timeout));
    match answer {
        Ok((200, line)) => {
            println!("starling health: {url}: {line}");
            std::process::ExitCode::SUCCESS
        }
        Ok((_, line)) => {
            eprintln!("starling health: {url}: unhealthy: {line}");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("starling health: {url}: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
