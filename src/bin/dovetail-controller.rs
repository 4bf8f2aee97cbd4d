//! `dovetail-controller` (also run as `dovetail controller`): in-cluster decryption of
//! AgeSecrets into the app's Secrets. A binary of its own, so that `dovetail` links none
//! of kube-rs (see `dovetail::controller`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = dovetail::cli::ControllerArgs::parse();
    let mut err = std::io::stderr().lock();
    let identities = match dovetail::pipeline::load_identities(&args.identity.files) {
        Ok(Some(ids)) => ids,
        Ok(None) => {
            let _ = writeln!(
                err,
                "error: no identity; pass --identity FILE (or DOVETAIL_IDENTITY) with the platform's age key"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            let format = dovetail::emit::report::Format::Text;
            let _ = dovetail::emit::report::Reporter::new(&mut err, format).failure(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    let options = dovetail::controller::Options {
        identities,
        kubeconfig: args.kubeconfig,
    };
    match dovetail::controller::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(err, "error: {e}; {}", e.hint());
            ExitCode::from(2)
        }
    }
}
