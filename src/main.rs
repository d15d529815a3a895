use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = wsprobe::cli::Cli::parse();
    let _log = match wsprobe::logging::init(cli.log_file.as_deref()) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(wsprobe::exit_code(&e));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(wsprobe::run(cli));
    // A read of stdin still blocked in its thread must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(wsprobe::exit_code(&e))
        }
    }
}
