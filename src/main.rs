//! The `dovetail` binary: parse the command line, run, turn the outcome into an exit status.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = dovetail::cli::Cli::parse();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let result = dovetail::run(
        cli,
        dovetail::Io {
            input: &mut input,
            out: &mut out,
            err: &mut err,
        },
    );
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.is_quiet() {
                let _ = writeln!(err, "error: {e:#}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
