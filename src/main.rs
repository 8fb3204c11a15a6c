//! The `starling` binary: serve (the default), or run an admin task.

use clap::{Parser, Subcommand};

use starling::config::Settings;
use starling::startup::Application;
use starling::{admin, telemetry};

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
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("starling: invalid settings: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let result = actix_web::rt::System::new().block_on(async move {
        match cli.command {
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
