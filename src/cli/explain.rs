//! `dovetail explain`: each rendered field with the `file:line` it came from, or
//! dovetail's default and why; narrowed to one object and/or one field path when asked
//! ("why does this pod have 512Mi?").

use super::{ExplainArgs, Io, UsageError, merged_app};
use crate::Error;
use crate::emit::explain::Selection;
use crate::emit::report::{Format, Reporter};
use crate::pipeline::Sources;

pub(super) fn run(args: ExplainArgs, io: Io<'_>) -> Result<(), Error> {
    let selection = selection(&args.only)?;
    let sources = args.input.check(true, io.env)?;
    explain(&sources, &selection, io)
}

/// Explains the render of the app of `sources`, narrowed to `selection`.
pub(super) fn explain(sources: &Sources, selection: &Selection, io: Io<'_>) -> Result<(), Error> {
    let mut reporter = Reporter::new(io.err, Format::Text);
    let (resolved, docs) = merged_app(sources, &mut reporter, None)?;
    let objects = crate::render::render(&resolved);
    let text = crate::emit::explain::explain(&objects, &resolved, &docs, selection)
        .ok_or_else(|| UsageError::NothingToExplain(selection.describe()))?;
    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)
}

/// The selection of `explain`'s arguments: at most one `KIND/NAME` and one field path,
/// in either order.
fn selection(args: &[String]) -> Result<Selection, UsageError> {
    let mut sel = Selection::default();
    let mut firsts: [Option<&String>; 2] = [None, None];
    for arg in args {
        let sort = usize::from(!Selection::names_object(arg));
        if let Some(first) = firsts[sort] {
            let what = ["objects", "field paths"][sort];
            return Err(UsageError::TwoSelectors(first.clone(), arg.clone(), what));
        }
        firsts[sort] = Some(arg);
        sel.add(arg);
    }
    Ok(sel)
}
