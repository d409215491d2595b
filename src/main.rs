use clap::Parser;

use h5fs::cli::{parse_options, Args};
use h5fs::daemon::{default_log_filter, run};

fn main() {
    // Started by a daemon as its libhdf5 worker (see h5fs::worker).
    if let Some(fd) = std::env::var(h5fs::worker::WORKER_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        std::process::exit(h5fs::worker::server::run(fd));
    }
    let args = Args::parse();
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or(default_log_filter(args.verbose)),
    )
    .format_timestamp_millis()
    .init();
    let opts = match parse_options(&args.options) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("h5fs: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args, opts) {
        if !e.0.is_empty() {
            eprintln!("h5fs: {}", e.0);
        }
        std::process::exit(1);
    }
}
