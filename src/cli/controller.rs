//! `dovetail controller`: hands over to `dovetail-controller`, the second binary of the
//! crate, installed beside this one. The controller links kube-rs and an async runtime;
//! `dovetail` itself does not, so that a render (Argo CD runs one per app per refresh)
//! pays nothing for them.

use std::os::unix::process::CommandExt;

use crate::Error;

/// Replaces this process with `dovetail-controller`, with the same arguments.
pub(super) fn exec() -> Result<(), Error> {
    let me = std::env::current_exe().map_err(|source| Error::Open {
        action: "find",
        path: "dovetail's own executable".to_owned(),
        source,
    })?;
    let sibling = me.with_file_name("dovetail-controller");
    // `dovetail controller ARGS…` runs as `dovetail-controller ARGS…`.
    let source = std::process::Command::new(&sibling)
        .args(std::env::args_os().skip(2))
        .exec();
    Err(Error::Open {
        action: "run",
        path: sibling.display().to_string(),
        source,
    })
}
