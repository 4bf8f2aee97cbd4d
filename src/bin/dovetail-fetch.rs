//! `dovetail-fetch`: dovetail's git helper. `dovetail` starts it when the cache cannot
//! answer (see `dovetail::git::helper`), so that only this binary links libgit2 and
//! OpenSSL.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    ExitCode::from(dovetail::git::helper::serve(
        &args,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    ))
}
