//! `dovetail render`: the manifests of one app, as a stream on stdout or one file per
//! object.

use std::path::Path;

use super::{Io, RenderArgs, merged_app};
use crate::Error;
use crate::emit::output;
use crate::emit::report::{Format, Reporter};
use crate::merge::ResolvedSecrets;
use crate::pipeline::Sources;

pub(super) fn run(args: RenderArgs, io: Io<'_>) -> Result<(), Error> {
    let sources = args.input.check(true, io.env)?;
    render(&sources, args.output_dir.as_deref(), io)
}

/// Renders the app of `sources`: to stdout, or one file per object into `output_dir`.
pub(super) fn render(
    sources: &Sources,
    output_dir: Option<&Path>,
    io: Io<'_>,
) -> Result<(), Error> {
    let mut reporter = Reporter::new(io.err, Format::Text);
    let (resolved, _) = merged_app(sources, &mut reporter, None)?;
    if resolved
        .secrets
        .as_ref()
        .is_some_and(ResolvedSecrets::is_redacted)
    {
        reporter
            .note("no identity (--identity or DOVETAIL_IDENTITY): secret values are redacted and only their form was checked")
            .map_err(Error::Stderr)?;
    }
    let objects = crate::render::render(&resolved);
    if objects.is_empty() {
        return Err(Error::Empty);
    }
    if let Some(dir) = output_dir {
        let n = output::write_dir(dir, &objects)?;
        reporter
            .done(&format!("wrote {n} objects to {}", dir.display()))
            .map_err(Error::Stderr)
    } else {
        let text = output::stream(&objects)?;
        io.out.write_all(text.as_bytes()).map_err(Error::Stdout)
    }
}
