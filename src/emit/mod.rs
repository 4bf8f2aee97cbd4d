//! Emit: what a command prints. Manifests as YAML ([`output`], most of it through the
//! fast [`block`] writer), every diagnostic and note through the one reporter
//! ([`report`]), the differences of two renders ([`diff`], and as a pull-request report,
//! [`markdown`]), the origin of each rendered field ([`explain`]) and the app's topology
//! ([`topology`]).

pub mod block;
pub mod diff;
pub mod explain;
pub mod markdown;
pub mod output;
pub mod report;
pub mod topology;
