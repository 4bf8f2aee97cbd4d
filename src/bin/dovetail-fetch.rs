//! `dovetail-fetch`: dovetail's git helper. `dovetail` starts it when the cache cannot
//! answer (see `dovetail::git::helper`), so that only this binary links libgit2 and
//! OpenSSL.

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let mut request = String::new();
    if args.is_empty() {
        // A request that does not read is answered by `serve` as nonsense.
        let _ = std::io::stdin().read_line(&mut request);
        // dovetail keeps our stdin open until it has the answer: its closing means
        // dovetail is gone, and a fetch nobody waits for must not keep the cache locked.
        std::thread::spawn(|| {
            let mut buf = [0u8; 64];
            while matches!(std::io::stdin().read(&mut buf), Ok(n) if n > 0) {}
            std::process::exit(3);
        });
    }
    ExitCode::from(dovetail::git::helper::serve(
        &args,
        &request,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    ))
}
