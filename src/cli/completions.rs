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

pub(super) fn man(command: &[String], io: Io<'_>) -> Result<(), Error> {
    let mut root = Cli::command();
    // Built, so that clap's own `help` subcommand, which the pages list, is there too.
    root.build();
    // `secrets set` and `secrets-set` alike: the pages name subcommands joined by `-`,
    // like git's (dovetail-secrets-set(1)).
    let mut path: Vec<&str> = command.iter().flat_map(|c| c.split('-')).collect();
    // A subcommand whose own name holds a `-` would split wrongly; none does.
    path.retain(|p| !p.is_empty());
    let mut page = root;
    let mut names = vec!["dovetail".to_owned()];
    for part in &path {
        let sub = page
            .get_subcommands()
            .find(|c| c.get_name() == *part)
            .ok_or_else(|| {
                if names.len() > 1 && names[1] == "secrets" {
                    UsageError::NoSuchSecretsCommand(names[1..].join(" "))
                } else {
                    UsageError::NoSuchCommand(command.join(" "))
                }
            })?
            .clone();
        names.push(sub.get_name().to_owned());
        page = sub;
    }
    if !path.is_empty() {
        page = page.display_name(names.join("-")).bin_name(names.join(" "));
    }
    let mut text = Vec::new();
    clap_mangen::Man::new(page)
        .source(concat!("dovetail ", env!("CARGO_PKG_VERSION")))
        .render(&mut text)
        .map_err(Error::Stdout)?;
    io.out.write_all(&text).map_err(Error::Stdout)
}
