//! `dovetail graph`: the app's topology on its own, as a mermaid flowchart or a
//! Graphviz digraph (the same drawing `diff --format markdown` embeds).

use super::{GraphArgs, GraphFormat, Io, merged_app};
use crate::Error;
use crate::emit::report::{Format, Reporter};
use crate::emit::topology::Topology;

pub(super) fn run(args: GraphArgs, io: Io<'_>) -> Result<(), Error> {
    let sources = args.input.check(true, io.env)?;
    let mut reporter = Reporter::new(io.err, Format::Text);
    let (resolved, _) = merged_app(&sources, &mut reporter, None)?;
    let objects = crate::render::render(&resolved);
    let topology = Topology::of(&objects);
    let plain = vec![None; topology.nodes.len()];
    let text = match args.format {
        GraphFormat::Mermaid => topology.mermaid(&plain),
        GraphFormat::Dot => topology.dot(&plain),
    };
    io.out.write_all(text.as_bytes()).map_err(Error::Stdout)
}
