//! `dovetail explain`: each rendered field with the `file:line` it came from, or
//! dovetail's default and why.

use super::{ExplainArgs, Io, merged_app};
use crate::Error;
use crate::emit::report::{Format, Reporter};
use crate::pipeline::Sources;

pub(super) fn run(args: ExplainArgs, io: Io<'_>) -> Result<(), Error> {
    let sources = args.input.check(true, io.env)?;
    explain(&sources, io)
}

/// Explains the render of the app of `sources`.
pub(super) fn explain(sources: &Sources, io: Io<'_>) -> Result<(), Error> {
    let mut reporter = Reporter::new(io.err, Format::Text);
    let (resolved, docs) = merged_app(sources, &mut reporter, None)?;
    let objects = crate::render::render(&resolved);
    let text = crate::emit::explain::explain(&objects, &resolved, &docs);
    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)
}
