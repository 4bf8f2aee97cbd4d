//! `dovetail explain`: each rendered field with the file:line it came from, or
//! dovetail's default and why; narrowed to one object and/or one field path when asked
//! ("why does this pod have 512Mi?").

use super::{ExplainArgs, Io, UsageError, merged_app};
use crate::Error;
use crate::emit::explain::Selection;
use crate::emit::report::{Format, Reporter};

pub(super) fn run(args: ExplainArgs, io: Io<'_>) -> Result<(), Error> {
    let selection = Selection::parse(&args.only)?;
    let sources = args.input.check(true, io.env)?;
    let mut reporter = Reporter::new(io.err, Format::Text);
    let (resolved, docs) = merged_app(&sources, &mut reporter, None)?;
    let objects = crate::render::render(&resolved);
    let text = crate::emit::explain::explain(&objects, &resolved, &docs, &selection)
        .ok_or_else(|| UsageError::NothingToExplain(selection.describe()))?;
    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)
}
