//! dovetail joins a customer's app repo and the operator's allocation into one set of
//! Kubernetes manifests, enforcing who owns which field.
//!
//! The pipeline, one module per step: [`source`] reads files without leaving the repo,
//! [`yaml`] parses them into trees that remember file:line:column, [`ownership`] and
//! [`schema`] check them, [`model`] types them, [`resolve`] merges them, [`render`]
//! builds the objects and [`output`] writes them. Problems travel as [`diag`]
//! diagnostics through [`report`], the one path to stderr.

#![forbid(unsafe_code)]

pub mod argocd;
pub mod cidr;
pub mod cli;
pub mod crypto;
pub mod diag;
pub mod emit;
pub mod git;
pub mod input;
pub mod merge;
pub mod parallel;
pub mod quantity;
pub mod render;

pub use cli::commands::{Io, run};

/// Why a command failed. Each variant maps to an exit status in [`Error::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A usage mistake.
    #[error(transparent)]
    Usage(#[from] cli::UsageError),
    /// The inputs have problems; they were printed already.
    #[error("{count} problem(s) in the inputs; nothing was rendered")]
    Invalid {
        /// How many errors.
        count: usize,
    },
    /// Something about the environment: a repo that cannot be opened, an allocation that
    /// cannot be found.
    #[error("{0}")]
    Environment(String),
    /// A git source could not be fetched or read.
    #[error(transparent)]
    Git(#[from] git::GitError),
    /// `diff` found differences (not a failure: exit status 3 says so).
    #[error("the rendered objects differ")]
    Changed,
    /// The render came out empty; ArgoCD would prune everything.
    #[error("the render produced no objects; refusing to print an empty set")]
    Empty,
    /// Writing the output failed.
    #[error(transparent)]
    Output(#[from] emit::output::OutputError),
    /// stdout is gone.
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    /// stderr is gone.
    #[error("cannot write to stderr: {0}")]
    Stderr(std::io::Error),
}

impl Error {
    /// 1 when a file must change, 2 for usage and environment problems, 3 when `diff`
    /// found differences.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid { .. } | Error::Empty => 1,
            Error::Changed => 3,
            _ => 2,
        }
    }

    /// Whether `main` should stay silent: the command has said what there was to say.
    pub fn is_quiet(&self) -> bool {
        matches!(self, Error::Changed)
    }
}
