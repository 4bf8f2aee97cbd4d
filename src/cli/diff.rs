//! `dovetail diff`: what a change to either repo changes in the rendered objects.

use super::{DiffArgs, DiffFormat, Io, UsageError, merged_app};
use crate::Error;
use crate::emit::report::{Format, Reporter};
use crate::pipeline::{Sources, at_revision};

pub(super) fn run(args: DiffArgs, io: Io<'_>) -> Result<(), Error> {
    let sources = args.input.check(true, io.env)?;
    let at = |rev: &str| -> Result<Sources, Error> {
        at_revision(&sources, rev)?
            .ok_or_else(|| UsageError::UnknownRevision(rev.to_owned()).into())
    };
    let base = at(&args.base)?;
    let head = match &args.head {
        Some(rev) => at(rev)?,
        None => sources.clone(),
    };
    let mut reporter = Reporter::new(io.err, Format::Text);
    // A pull request that fixes a broken base still gets its report.
    let base = match side(&base, "base", &mut reporter) {
        Err(Error::Invalid { count }) => {
            reporter
                .note(&format!(
                    "the base does not render ({} above), so every object of the head is shown as added",
                    crate::diag::counted(count, "problem", "problems")
                ))
                .map_err(Error::Stderr)?;
            crate::emit::diff::Side::unrendered(count)
        }
        // A pull request that adds the app, or its allocation, gets its report too.
        Err(e) if e.app_absent() => {
            reporter
                .note(&format!(
                    "the app is not in the base ({e}), so every object of the head is shown as added"
                ))
                .map_err(Error::Stderr)?;
            crate::emit::diff::Side::absent()
        }
        other => other?,
    };
    let head = side(&head, "head", &mut reporter)?;
    let (text, summary) = match args.format {
        DiffFormat::Text => crate::emit::diff::diff(&base, &head)?,
        DiffFormat::Markdown => crate::emit::markdown::report(&base, &head)?,
    };
    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)?;
    reporter
        .done(&format!(
            "{} changed, {} added, {} removed",
            summary.changed, summary.added, summary.removed
        ))
        .map_err(Error::Stderr)?;
    if summary.any() {
        return Err(Error::Changed);
    }
    Ok(())
}

/// One side of a diff, rendered; its problems are reported under its name.
fn side(
    sources: &Sources,
    name: &str,
    reporter: &mut Reporter<'_>,
) -> Result<crate::emit::diff::Side, Error> {
    let (resolved, docs) = merged_app(sources, reporter, Some(name))?;
    let objects = crate::render::render(&resolved);
    let mut side = crate::emit::diff::Side::new(&resolved, objects);
    side.provenance = Some(crate::emit::diff::Provenance { resolved, docs });
    Ok(side)
}
