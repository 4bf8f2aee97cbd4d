//! Emit: what a command prints. Manifests as YAML ([`output`]), every diagnostic and
//! note through the one reporter ([`report`]), the differences of two renders
//! ([`diff`]) and the origin of each rendered field ([`explain`]).

pub mod diff;
pub mod explain;
pub mod output;
pub mod report;
