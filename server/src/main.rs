#![recursion_limit = "512"]
use server::cli::{Cli, run};
use server::logging;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::from_process();
    logging::init(cli.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error.message);
            std::process::ExitCode::from(error.exit_code)
        }
    }
}
