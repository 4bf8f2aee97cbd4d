//! dovetail joins a customer's app repo and the operator's allocation into one set of
//! Kubernetes manifests, enforcing who owns which field.
//!
//! The flow, one folder per stage:
//!
//! 1. [`cli`] parses the command line and the environment (read there and nowhere else)
//!    into a checked configuration, then runs one subcommand.
//! 2. [`pipeline`] opens both repos where they are — a directory, a commit of the git
//!    cache ([`git`]), a revision of a work tree — and runs the stages below, collecting
//!    every problem of every stage.
//! 3. [`input`] reads them: the operator's side ([`input::operator`]: the layout,
//!    `platform.yaml`, the allocation, the fleet) and the customer's
//!    ([`input::app`]: `dovetail.yaml`, its files, its secrets file). Each file is parsed
//!    into a tree that remembers `file:line:column` ([`input::yaml`]), checked for who owns
//!    which field and against its schema, and typed — without the fields in error, so
//!    that the stages after still check the rest.
//! 4. [`merge`] combines both sides under the platform's policy into a
//!    [`merge::Resolved`] app, or every reason it cannot; it reads nothing.
//! 5. [`render`] builds the Kubernetes objects of an app, or of the fleet.
//! 6. [`emit`] prints: manifests, the one reporter every diagnostic and note goes
//!    through, diffs, and where each rendered field came from.
//!
//! Problems are [`diag`] diagnostics with a stable code each; a command that cannot go
//! on returns an [`Error`], which `main` prints (through the reporter) and turns into
//! the exit status. Argo CD's environment is read in [`argocd`]; age encryption is
//! [`crypto`]. In the cluster, `dovetail controller` (feature `controller`) turns the
//! rendered AgeSecrets into Secrets.

#![forbid(unsafe_code)]

pub mod argocd;
pub mod cidr;
pub mod cli;
#[cfg(feature = "controller")]
pub mod controller;
pub mod crypto;
pub mod diag;
pub mod digest;
pub mod emit;
pub mod git;
pub mod input;
pub mod merge;
pub mod parallel;
pub mod pipeline;
pub mod quantity;
pub mod render;

pub use cli::{Io, run};

/// Why a command failed. Each variant maps to an exit status in [`Error::exit_code`],
/// and says what to do in [`Error::hint`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A usage mistake: a flag, an argument or a setting of the environment.
    #[error(transparent)]
    Usage(#[from] cli::UsageError),
    /// The inputs have problems; they were printed already.
    #[error("{} in the inputs; nothing was rendered", problems(*.count))]
    Invalid {
        /// How many errors.
        count: usize,
    },
    /// `validate` found problems, printed already. It renders nothing by design, so it
    /// does not say that nothing was rendered.
    #[error("{} in the inputs", problems(*.count))]
    Problems {
        /// How many errors.
        count: usize,
        /// Whether they were printed as the report on stdout (JSON, GitHub), not above
        /// on stderr.
        on_stdout: bool,
    },
    /// The sources cannot be read as given.
    #[error(transparent)]
    Sources(#[from] pipeline::SourcesError),
    /// No single allocation could be chosen.
    #[error(transparent)]
    Allocation(#[from] input::operator::AllocationError),
    /// Argo CD's environment, or what the Application asks for, cannot be rendered.
    #[error(transparent)]
    Argo(#[from] argocd::ArgoError),
    /// A directory, file or key that cannot be opened.
    #[error("cannot {action} `{path}`: {source}")]
    Open {
        /// What was being done (`open`, `read`, `write`).
        action: &'static str,
        /// The path.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// An age identity file that cannot be used.
    #[error(transparent)]
    Identity(#[from] crypto::IdentityError),
    /// A git source could not be fetched or read.
    #[error(transparent)]
    Git(#[from] git::GitError),
    /// `secrets set`, `rekey` or `unset` cannot do what was asked.
    #[error(transparent)]
    Secrets(#[from] cli::secrets::SecretsError),
    /// `diff` found differences (not a failure: exit status 3 says so).
    #[error("the rendered objects differ")]
    Changed,
    /// The render came out empty; Argo CD would prune everything.
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

/// What to do when the OS refuses a path, by what it said.
pub(crate) fn io_hint(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match e.kind() {
        // A file where a directory is wanted: on the way to it, or as it.
        ErrorKind::AlreadyExists | ErrorKind::NotADirectory => {
            "a file is in the way: give the path of a directory, or of one to create"
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "make it accessible to the user dovetail runs as, or choose another path"
        }
        ErrorKind::NotFound => "check the path",
        _ => "check the path and its permissions",
    }
}

/// `1 problem`, `2 problems`.
fn problems(count: usize) -> String {
    diag::counted(count, "problem", "problems")
}

impl Error {
    /// 1 when a file must change, 2 for usage and environment problems, 3 when `diff`
    /// found differences.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid { .. }
            | Error::Problems { .. }
            | Error::Empty
            // A file must change: the secrets file.
            | Error::Secrets(
                cli::secrets::SecretsError::NotRekeyed(_)
                | cli::secrets::SecretsError::Invalid { .. }
                | cli::secrets::SecretsError::NotEditable(..)
                | cli::secrets::SecretsError::NotASecretsFile(_),
            ) => 1,
            Error::Argo(e) if e.is_input() => 1,
            Error::Output(e) if e.is_input() => 1,
            Error::Git(e) if e.place().is_some() => 1,
            Error::Changed => 3,
            _ => 2,
        }
    }

    /// Where an input gives what failed, when it does: the error is then that input's
    /// problem, reported at its place.
    pub fn place(&self) -> Option<git::Place<'_>> {
        match self {
            Error::Git(e) => e.place(),
            _ => None,
        }
    }

    /// The error as a diagnostic at its place, when it has one ([`Error::place`]): how
    /// `validate` reports it, in every format, with the input problems.
    pub fn diagnostic(&self) -> Option<diag::Diagnostic> {
        let place = self.place()?;
        let mut d = diag::Diagnostic::at(place.code, place.file, place.pos, self.to_string());
        place.field.clone_into(&mut d.field);
        d.hint = self.hint();
        Some(d)
    }

    /// Whether `main` should stay silent: the command has said what there was to say.
    pub fn is_quiet(&self) -> bool {
        matches!(self, Error::Changed)
    }

    /// Whether it says that the app is not in the sources at all: its directory is not
    /// in the customer repo, or no allocation is there for it. `diff --base` compares
    /// such a base as no objects (the pull request that adds the app).
    pub fn app_absent(&self) -> bool {
        use input::operator::AllocationError;
        matches!(
            self,
            Error::Git(git::GitError::NoSuchPath { .. })
                | Error::Allocation(
                    AllocationError::NotFound(_)
                        | AllocationError::NoneForApplication { .. }
                        | AllocationError::Empty(_)
                        | AllocationError::NoneForRepo { .. },
                )
        )
    }

    /// What to do about it, when there is more to say than the message does.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage(e) => e.hint().map(str::to_owned),
            Error::Sources(e) => e.hint().map(str::to_owned),
            Error::Problems {
                on_stdout: true, ..
            } => Some("fix the problems the report on stdout lists".to_owned()),
            Error::Invalid { .. } | Error::Problems { .. } => {
                Some("fix the problems above".to_owned())
            }
            Error::Allocation(e) => Some(e.hint().to_owned()),
            Error::Argo(e) => Some(e.hint().to_owned()),
            Error::Open { source, .. } => Some(io_hint(source).to_owned()),
            Error::Identity(e) => Some(e.hint().to_owned()),
            Error::Git(e) => e.hint().map(str::to_owned),
            Error::Secrets(e) => Some(e.hint().into_owned()),
            Error::Empty => Some("the app must have at least one process".to_owned()),
            Error::Output(e) => e.hint().map(str::to_owned),
            Error::Changed | Error::Stdout(_) | Error::Stderr(_) => None,
        }
    }
}
