//! The `dovetail` binary: parse the command line, run, print the outcome through the
//! reporter, turn it into an exit status. The only place that exits.

use std::io::{Read, StdinLock, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = dovetail::cli::Cli::from_env();
    let env = dovetail::cli::Environment::capture();
    let mut input = LazyStdin(None);
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

/// Standard input, opened at its first read: only `secrets set` reads it, and opening it
/// allocates std's 8 KiB buffer, which every render would pay for.
struct LazyStdin(Option<StdinLock<'static>>);

impl Read for LazyStdin {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .get_or_insert_with(|| std::io::stdin().lock())
            .read(buf)
    }
}
