//! The `dovetail` binary: parse the command line, run, print the outcome through the
//! reporter, turn it into an exit status. The only place that exits.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = dovetail::cli::Cli::parse();
    let env = dovetail::cli::Environment::capture();
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
            env: &env,
        },
    );
    let _ = out.flush();
    ExitCode::from(dovetail::cli::finish(result, &mut err))
}
