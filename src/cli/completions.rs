//! `dovetail completions SHELL` and `dovetail man [COMMAND]`: generated from the same
//! clap definition the parser uses, so neither can drift from the flags.

use clap::CommandFactory;

use super::{Cli, Io, UsageError};
use crate::Error;

pub(super) fn completions(shell: clap_complete::Shell, io: Io<'_>) -> Result<(), Error> {
    let mut cmd = Cli::command();
    // Into a buffer first: clap_complete panics on a failed write, and a closed stdout
    // is an error to report, not a crash.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "dovetail", &mut script);
    io.out.write_all(&script).map_err(Error::Stdout)
}

pub(super) fn man(command: Option<&str>, io: Io<'_>) -> Result<(), Error> {
    let root = Cli::command();
    let page = match command {
        None => root,
        Some(name) => {
            // The subcommand's page is named like git's: dovetail-render(1).
            let sub = root
                .get_subcommands()
                .find(|c| c.get_name() == name)
                .ok_or_else(|| UsageError::NoSuchCommand(name.to_owned()))?
                .clone();
            let display = format!("dovetail-{}", sub.get_name());
            let usage = format!("dovetail {}", sub.get_name());
            sub.display_name(display).bin_name(usage)
        }
    };
    let mut text = Vec::new();
    clap_mangen::Man::new(page)
        .source(concat!("dovetail ", env!("CARGO_PKG_VERSION")))
        .render(&mut text)
        .map_err(Error::Stdout)?;
    io.out.write_all(&text).map_err(Error::Stdout)
}
