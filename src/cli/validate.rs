//! `dovetail validate`: every problem at once, in the format CI wants, rendering
//! nothing. Three scopes: the app and its allocation (both repos), the customer's side
//! alone (`--app` without an operator repo), the whole operator repo (`--operator`
//! without `--app`).

use super::{Io, ValidateArgs};
use crate::Error;
use crate::diag::Diagnostics;
use crate::emit::report::{self, Format, Reporter};
use crate::pipeline::{self, Sources};

pub(super) fn run(args: ValidateArgs, io: Io<'_>) -> Result<(), Error> {
    let sources = args.input.check(false, io.env)?;
    validate(&sources, args.format, io)
}

/// Checks the inputs of `sources` in the scope they name, and reports in `format`.
pub(super) fn validate(sources: &Sources, format: Format, io: Io<'_>) -> Result<(), Error> {
    let operator_only = sources.operator.is_some() && !sources.app_given;
    let mut reporter = Reporter::new(io.err, format);
    let checked = if operator_only {
        pipeline::check_operator_only(sources, &mut reporter)
    } else if sources.operator.is_some() {
        pipeline::merge(sources, &mut reporter).map(|m| m.diags)
    } else {
        pipeline::check_app_only(sources, &mut reporter)
    };
    // An error at an input's place (an allocation's `path` the customer repo lacks) is
    // one more problem of that input: in the report, where CI annotates it.
    let diags = match checked {
        Ok(diags) => diags,
        Err(e) => {
            let Some(d) = e.diagnostic() else {
                return Err(e);
            };
            let mut diags = Diagnostics::default();
            diags.push(d);
            diags
        }
    };
    let product = match format {
        Format::Json => Some(report::json(&diags)),
        Format::Github => Some(report::github(&diags)),
        Format::Text => None,
    };
    match product {
        Some(text) => io.out.write_all(text.as_bytes()).map_err(Error::Stdout)?,
        None => reporter.diagnostics(&diags).map_err(Error::Stderr)?,
    }
    if diags.has_errors() {
        return Err(Error::Problems {
            count: diags.error_count(),
            on_stdout: format != Format::Text,
        });
    }
    if format != Format::Text {
        return Ok(());
    }
    let scope = if operator_only {
        "operator repo (platform and every allocation)"
    } else if sources.operator.is_some() {
        "app, allocation and platform"
    } else {
        "app (customer side only; pass --operator for the rest)"
    };
    reporter
        .done(&format!("ok: {scope} valid"))
        .map_err(Error::Stderr)
}
