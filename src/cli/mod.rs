//! The command line: arguments as clap parses them, then checked — with the environment,
//! which is read here and nowhere else ([`Environment`]) — into [`Sources`] before any
//! work starts, so that a usage mistake never costs a render. Each subcommand is a file
//! of its own.

mod completions;
mod controller;
mod diff;
mod explain;
mod generate;
mod graph;
pub mod init;
mod render;
pub mod secrets;
mod validate;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgGroup, Args, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::emit::explain::Selection;
use crate::emit::report::Format;
use crate::git::{GitSettings, LocationError, SettingsError};
use crate::input::operator::{is_app_name, is_tenant_name};
use crate::input::schema::SchemaKind;
use crate::pipeline::{Location, Sources};

/// Merge a customer's app repo with its operator allocation into Kubernetes manifests.
#[derive(Debug, Parser)]
#[command(name = "dovetail", version, about, long_about = None)]
#[command(
    after_help = "Exit status: 0 success, 1 invalid input (a file must change), 2 usage or environment, 3 `diff` found changes."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The command line of this process, parsed. `render` and `generate`, which ArgoCD
    /// runs on every refresh, are parsed by their own subcommand alone: building clap's
    /// parser for every subcommand cost each render 0.05 ms (3% of the whole process,
    /// measured). Anything that narrow parser does not accept as it stands
    /// (`--help`, `--version`, a mistake, another subcommand) goes through the whole
    /// parser, so help and errors are always the whole CLI's; it exits as clap does.
    pub fn from_env() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        Cli::parse_hot(&args).unwrap_or_else(|| {
            Cli::try_parse_from(&args).unwrap_or_else(|e| unseen_arguments(e, &args).exit())
        })
    }

    /// `args` (with the binary's name first) parsed by `render`'s or `generate`'s own
    /// parser, or `None` when it is another subcommand or that parser refuses it.
    fn parse_hot(args: &[OsString]) -> Option<Cli> {
        let sub = args.get(1)?;
        let command = if sub == "render" {
            let parser = RenderArgs::augment_args(clap::Command::new("render"));
            let matches = parser.try_get_matches_from(&args[1..]).ok()?;
            Command::Render(RenderArgs::from_arg_matches(&matches).ok()?)
        } else if sub == "generate" {
            clap::Command::new("generate")
                .try_get_matches_from(&args[1..])
                .ok()?;
            Command::Generate
        } else {
            return None;
        };
        Some(Cli { command })
    }
}

/// clap's error for `args`, or, for a `secrets` command, one that quotes no argument:
/// clap names the argument it did not understand, and there a value pasted in the wrong
/// place (`set -----BEGIN…`, `set KEY --hunter2`) would reach the terminal and CI logs.
/// Help, version and a missing argument quote nothing, and stay clap's own.
fn unseen_arguments(e: clap::Error, args: &[OsString]) -> clap::Error {
    use clap::error::ErrorKind;
    // `unset -hunter2` reads as `-h` and more letters: help and exit 0, for what may be
    // a value pasted in. It is refused as the argument it is.
    let clustered_help = e.kind() == ErrorKind::DisplayHelp
        && args.iter().any(|a| {
            a.to_str()
                .is_some_and(|a| a.starts_with("-h") && a.len() > 2)
        });
    let kind = if clustered_help {
        ErrorKind::UnknownArgument
    } else {
        e.kind()
    };
    let keep = matches!(
        kind,
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            | ErrorKind::MissingRequiredArgument
            | ErrorKind::MissingSubcommand
    );
    // `dovetail secrets …`, or `dovetail help secrets …`.
    let at = match (args.get(1), args.get(2)) {
        (Some(a), _) if a == "secrets" => 1,
        (Some(a), Some(b)) if a == "help" && b == "secrets" => 2,
        _ => return e,
    };
    if keep {
        return e;
    }
    let command = match args.get(at + 1).and_then(|s| s.to_str()) {
        Some(sub @ ("set" | "rekey" | "unset")) => format!("secrets {sub}"),
        _ => "secrets".to_owned(),
    };
    let what = match kind {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            "an option has no value, or one it does not take"
        }
        ErrorKind::ArgumentConflict => {
            "an option is given twice, or with one it cannot be given with"
        }
        ErrorKind::InvalidSubcommand => "it has no subcommand by the name given",
        _ => "an argument is not one it takes",
    };
    clap::Error::raw(
        kind,
        format!(
            "dovetail {command}: {what}; it is not shown, as it may be a secret value\n\n\
             A value goes on stdin, never on the command line; a key is a name like SECRET_KEY.\n\
             For the arguments it takes, try 'dovetail {command} --help'.\n"
        ),
    )
}

/// The environment that git sources read, shown under `--help`.
const GIT_ENV_HELP: &str = "\
Git sources (--app or --operator given as URL[#REF]) read these variables:
  DOVETAIL_CACHE_DIR         cache of bare repos [default: $XDG_CACHE_HOME/dovetail or ~/.cache/dovetail]
  DOVETAIL_FETCH_TTL         how long a fetched branch or tag is reused, e.g. 60, 60s, 5m [default: 60s]
  DOVETAIL_SSH_KEY           private key file for ssh URLs
  DOVETAIL_SSH_KNOWN_HOSTS   known_hosts file that ssh host keys are checked against (required for ssh)
  DOVETAIL_HTTPS_TOKEN_FILE  file holding an access token for https URLs
  DOVETAIL_HTTPS_USER        user name sent with the token [default: x-access-token]";

/// How `diff` picks its two sides, shown under `--help`.
const DIFF_HELP: &str = "\
REV is looked up in the git repository of --app and of --operator, where each is a local
directory in a git work tree; a side whose repository does not know REV (or a URL) is the
same on both sides. Without --head, the head is the files as they are on disk.
The diff goes to stdout, one unified diff per object; secret values are never shown, only
whether they changed. Exit status: 0 nothing changed, 3 something changed, 1 invalid input
on either side, 2 usage or environment.";

/// What `init` writes, shown under `--help`.
const INIT_HELP: &str = "\
--app DIR writes DIR/dovetail.yaml (a Django web process, a Celery worker and beat,
migrations, PostgreSQL, Redis, static files, a hostname) and its JSON Schema in
DIR/.dovetail/, for editors. --operator DIR writes DIR/platform.yaml, the first
allocation DIR/tenants/<tenant>/<app>.yaml and their schemas in DIR/.dovetail/.
Every file is commented; `dovetail validate` accepts them as written. An existing
file is never overwritten: init then writes nothing and exits 2.";

/// How to install completions, shown under `--help`.
const COMPLETIONS_HELP: &str = "\
bash: dovetail completions bash > ~/.local/share/bash-completion/completions/dovetail
zsh:  dovetail completions zsh > \"${fpath[1]}/_dovetail\"
fish: dovetail completions fish > ~/.config/fish/completions/dovetail.fish";

/// What `generate` reads, shown under `--help`.
const GENERATE_HELP: &str = "\
From ArgoCD (per Application): ARGOCD_APP_NAME selects the allocation <tenant>-<app>;
ARGOCD_APP_SOURCE_REPO_URL, ARGOCD_APP_SOURCE_PATH and ARGOCD_APP_NAMESPACE must be the
allocation's repo, path and namespace, and ARGOCD_APP_PROJECT_NAME (when sent) the
fleet's project <tenant>-<app>; PARAM_OPERATOR_REVISION pins the operator repo; ARGOCD_APP_REVISION is what fleet
mode pins child Applications to; PARAM_CLUSTER narrows the fleet to one cluster.
From the sidecar only: DOVETAIL_OPERATOR_REPO (URL or directory), DOVETAIL_IDENTITY and
the git variables of `dovetail render --help`.
In a directory with dovetail.yaml it renders that app; with platform.yaml (the operator
repo) it renders the fleet: per allocation a Namespace, ResourceQuota, LimitRange,
AppProject and Application, and per other cluster in use an Application
dovetail-fleet-<cluster> that renders, with PARAM_CLUSTER, that cluster's Namespaces
and their guardrails.";

/// The subcommands.
#[allow(
    clippy::doc_markdown,
    reason = "clap prints these doc comments as the help text, where backticks would show"
)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the final manifests (a dry run of what ArgoCD would apply).
    #[command(after_help = GIT_ENV_HELP)]
    Render(RenderArgs),
    /// Check the inputs and report every problem at once; renders nothing.
    #[command(after_help = GIT_ENV_HELP)]
    Validate(ValidateArgs),
    /// Manage the app's age-encrypted secrets file.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Show each rendered field and the file:line (or built-in default) it came from.
    Explain(ExplainArgs),
    /// Show what a change to either repo changes in the rendered objects.
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// Draw the app's topology: ingress, services, processes, database, Redis, volumes.
    Graph(GraphArgs),
    /// Start a customer app or an operator repo from commented files that validate.
    #[command(after_help = INIT_HELP)]
    Init(InitArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = COMPLETIONS_HELP)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), of dovetail or of one subcommand.
    #[command(
        after_help = "Read it with `dovetail man | man -l -`, or install it: `dovetail man > /usr/local/share/man/man1/dovetail.1`."
    )]
    Man {
        /// A subcommand, for its own page (dovetail-render(1), …): `secrets set` or
        /// `secrets-set` for a subcommand's own.
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Render as an ArgoCD plugin, from ArgoCD's environment (see plugin.yaml).
    #[command(after_help = GENERATE_HELP)]
    Generate,
    /// Print a JSON Schema (for editors and CI).
    Schema {
        /// Which schema.
        #[arg(value_enum)]
        name: SchemaKind,
    },
    /// Run in the cluster: turn every AgeSecret into the app's Secrets (cluster
    /// decryption; runs `dovetail-controller`, installed beside `dovetail`).
    #[command(after_help = CONTROLLER_HELP)]
    Controller(ControllerArgs),
}

/// What `controller` does, shown under `--help`.
const CONTROLLER_HELP: &str = "\
Watches AgeSecrets (dovetail.dev/v1alpha1) in every namespace. For each, it takes the
app's identity <tenant>/<app> from the Namespace's labels dovetail.dev/tenant and
dovetail.dev/app (which the fleet sets), decrypts each value with the identities given,
checks its binding line, and applies the Secrets <app>-secrets and <app>-pull, owned by
the AgeSecret. A value that fails is left out and named in the AgeSecret's status and an
Event, without any byte of its content. A Secret it does not own is never touched.
Without --kubeconfig it uses $KUBECONFIG or ~/.kube/config when there is one, else the
in-cluster service account.";

/// `dovetail controller`.
#[derive(Debug, Parser, Clone)]
#[command(name = "dovetail-controller", version, about = "Turn AgeSecrets into the app's Secrets, in the cluster", after_help = CONTROLLER_HELP)]
pub struct ControllerArgs {
    /// The platform's identities.
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// A kubeconfig file; when absent, $KUBECONFIG or ~/.kube/config, else the in-cluster
    /// service account.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// Where the inputs come from, and the keys to read their secrets.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// The repos.
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Identity files for secrets.
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// The customer app and the operator repo, shared by every command that reads them.
#[derive(Debug, Args, Clone)]
pub struct RepoArgs {
    /// The customer app: its directory (where dovetail.yaml is), or the customer repo's
    /// git URL, with #BRANCH, #TAG or #COMMIT, read at the allocation's `path`. Defaults
    /// to the current directory, except that `validate --operator` without it checks
    /// the whole operator repo.
    #[arg(long, value_name = "DIR|URL[#REF]")]
    pub app: Option<String>,
    /// The operator repo (platform.yaml and tenants/): a directory or a git URL[#REF].
    #[arg(long, value_name = "DIR|URL[#REF]", env = "DOVETAIL_OPERATOR_REPO")]
    pub operator: Option<String>,
    /// The allocation to use, as TENANT/APP; may be left out when the operator repo holds
    /// one, or when the app is in a checkout whose `origin` one allocation names.
    #[arg(long, value_name = "TENANT/APP")]
    pub allocation: Option<String>,
}

/// `--identity`, shared by every command that decrypts.
#[allow(
    clippy::doc_markdown,
    reason = "clap prints these doc comments as the help text, where backticks would show"
)]
#[derive(Debug, Args, Clone)]
pub struct IdentityArgs {
    /// An age identity file (age-keygen output) to decrypt secrets; repeat it, or list
    /// files separated by ':' in DOVETAIL_IDENTITY, to try old and new keys.
    #[arg(
        long = "identity",
        value_name = "FILE",
        env = "DOVETAIL_IDENTITY",
        value_delimiter = ':'
    )]
    pub files: Vec<PathBuf>,
}

/// `dovetail render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Write one file per object into DIR instead of a stream to stdout.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// `dovetail explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// Narrow it: an object as KIND/NAME (`Deployment/shop-web`), and/or a field path or
    /// a prefix of one (`spec.template.spec.containers[0].resources.limits.memory`; list
    /// items by index or by name, `containers[web]`).
    #[arg(value_name = "KIND/NAME|FIELD", num_args = 0..=2)]
    pub only: Vec<String>,
}

/// `dovetail diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Inputs (the head side, unless --head says otherwise).
    #[command(flatten)]
    pub input: InputArgs,
    /// The revision to compare against: a branch, tag, commit or anything `git rev-parse`
    /// takes (`origin/main`, `HEAD~1`).
    #[arg(long, value_name = "REV")]
    pub base: String,
    /// The revision to compare; the files on disk when absent.
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// `text`: unified diffs; `markdown`: a report for a pull-request comment (summary
    /// table, topology diagram, who set each changed field, diffs folded).
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
}

/// How `diff` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// One unified diff per object.
    Text,
    /// A report for a pull-request or merge-request comment.
    Markdown,
}

/// `dovetail graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Inputs.
    #[command(flatten)]
    pub input: InputArgs,
    /// `mermaid`: a flowchart for Markdown (GitHub, GitLab); `dot`: Graphviz.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
}

/// How `graph` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// A mermaid flowchart.
    Mermaid,
    /// A Graphviz digraph (`dot -Tsvg`).
    Dot,
}

/// `dovetail init`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).multiple(true).args(["app", "operator"])))]
pub struct InitArgs {
    /// Write a commented dovetail.yaml for a Django/Celery app into DIR.
    #[arg(long, value_name = "DIR")]
    pub app: Option<PathBuf>,
    /// Write platform.yaml and a first allocation into DIR, an operator repo.
    #[arg(long, value_name = "DIR")]
    pub operator: Option<PathBuf>,
    /// The first allocation, as TENANT/APP (with --operator).
    #[arg(long, value_name = "TENANT/APP", default_value = "acme/shop")]
    pub allocation: String,
    /// The customer repo the first allocation deploys (with --operator)
    /// [default: https://git.example.com/TENANT/APP.git].
    #[allow(
        clippy::doc_markdown,
        reason = "clap's --help shows the URL as written, without Markdown's brackets"
    )]
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// The platform's age recipient (age1…) customers encrypt secrets to (with
    /// --operator); repeat it for several. Without it, platform.yaml says how to make one.
    #[arg(long, value_name = "AGE1…")]
    pub recipient: Vec<String>,
}

/// `dovetail validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Inputs; with --app alone (no operator repo) only the customer side is checked.
    #[command(flatten)]
    pub input: InputArgs,
    /// How to print problems.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `dovetail secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Encrypt the value on stdin for KEY and add or replace it in the secrets file.
    ///
    /// Every other entry of the file stays byte for byte. One trailing newline (`\n` or
    /// `\r\n`) of the input is dropped. An empty value, and a terminal for stdin, are
    /// refused: pipe the value in, as `read -rs VALUE && printf %s "$VALUE" | dovetail
    /// secrets set KEY` does, so that it is never typed or printed in plain sight.
    #[command(mut_arg("app", |a| a.help(SECRETS_APP_HELP).value_name("DIR")))]
    Set(SecretsSetArgs),
    /// Re-encrypt every value to the current recipients (platform.yaml's and any
    /// --recipient), reading them with --identity: the step that rotates the platform key.
    #[command(mut_arg("app", |a| a.help(SECRETS_APP_HELP).value_name("DIR")))]
    Rekey(SecretsRekeyArgs),
    /// Remove KEY (and any other keys given) from the file; every other entry and every
    /// comment stays byte for byte. Nothing is removed unless every key can be; the key
    /// imagePullSecret names cannot. Decrypts nothing, so needs no identity.
    Unset(SecretsUnsetArgs),
}

/// `--app` of the secrets commands, which write the secrets file: a directory only.
const SECRETS_APP_HELP: &str = "The customer app's directory (where dovetail.yaml is), whose secrets file is written. Defaults to the current directory.";

/// `dovetail secrets set`.
#[allow(
    clippy::doc_markdown,
    reason = "clap prints these doc comments as the help text, where backticks would show"
)]
#[derive(Debug, Args)]
pub struct SecretsSetArgs {
    /// The key, like SECRET_KEY.
    // Taken even when it starts with `-`: `-hunter2` would otherwise be read as `-h`
    // and print help with exit 0; as a key it is refused, unseen.
    #[arg(allow_hyphen_values = true)]
    pub key: String,
    /// A value given after the key, refused without being shown: arguments end up in
    /// shell history, process lists and CI logs, and clap's own error would print it.
    #[arg(hide = true, num_args = 0.., allow_hyphen_values = true, value_name = "VALUE")]
    pub value_given: Vec<std::ffi::OsString>,
    /// Which app and recipients.
    #[command(flatten)]
    pub target: SecretsArgs,
}

/// `dovetail secrets rekey`.
#[derive(Debug, Args)]
pub struct SecretsRekeyArgs {
    /// Which app and the new recipients.
    #[command(flatten)]
    pub target: SecretsArgs,
    /// Identity files that can read the current values.
    #[command(flatten)]
    pub identity: IdentityArgs,
}

/// `dovetail secrets unset`.
#[allow(
    clippy::doc_markdown,
    reason = "clap prints these doc comments as the help text, where backticks would show"
)]
#[derive(Debug, Args)]
pub struct SecretsUnsetArgs {
    /// The keys to remove, like SECRET_KEY.
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
    /// The app whose secrets file is edited. No --operator, --allocation or --recipient:
    /// removing an entry binds, encrypts and decrypts nothing.
    #[arg(long, value_name = "DIR", help = SECRETS_APP_HELP)]
    pub app: Option<String>,
}

/// The app a secrets command works on and whom it encrypts to.
#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// The app the values are bound to (its allocation, or --allocation) and the
    /// operator repo whose platform.yaml lists the recipients.
    #[command(flatten)]
    pub repo: RepoArgs,
    /// An age X25519 recipient (age1…) to encrypt to as well as platform.yaml's (or, without
    /// an operator repo, instead of them); repeat it for more keys, your own too.
    #[arg(long, value_name = "AGE1…")]
    pub recipient: Vec<String>,
}

/// A usage mistake, found before any work.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// A directory that is not there, and the flag that named it.
    #[error("{flag} `{}` is not a directory", .1.display(), flag = .0)]
    NotADirectory(&'static str, PathBuf),
    /// `--allocation` not in the form TENANT/APP.
    #[error(
        "--allocation `{0}` is not TENANT/APP ({rule})", rule = crate::input::operator::NAME_RULE
    )]
    BadAllocation(String),
    /// A `--app` or `--operator` URL that cannot be used.
    #[error("{0}")]
    Location(#[from] LocationError),
    /// A git setting in the environment that cannot be used.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A command that needs the operator repo, without it.
    #[error("no operator repo")]
    NoOperator,
    /// `diff --base REV` and no input is in a repository that knows REV.
    #[error("neither --app nor --operator is a directory in a git repository that knows `{0}`")]
    UnknownRevision(String),
    /// The working directory cannot be told.
    #[error("cannot tell the working directory")]
    NoWorkingDirectory,
    /// `init` would overwrite a file.
    #[error("`{0}` exists; init never overwrites a file, and wrote nothing")]
    WouldOverwrite(PathBuf),
    /// `--recipient` that is not an age X25519 recipient (as [`crate::crypto::shown_key`]
    /// shows it).
    #[error("{0} is not an age X25519 recipient (age1…)")]
    BadRecipient(String),
    /// `init --repo` that an allocation's `repo` does not take.
    #[error(
        "--repo `{0}` is not a URL an allocation takes: printable, without spaces or the pattern characters * ? [ ] {{ }} ! \\"
    )]
    BadRepo(String),
    /// `man COMMAND` for a command dovetail does not have.
    #[error("dovetail has no command `{0}`")]
    NoSuchCommand(String),
    /// `man secrets …` for a command there is not: what follows `secrets` is not shown,
    /// as it may be a value pasted in the wrong place.
    #[error("`dovetail {0}` has no subcommand by the name given (it is not shown)")]
    NoSuchSecretsCommand(String),
    /// `explain KIND/NAME FIELD` where nothing rendered matches.
    #[error("no rendered {0}")]
    NothingToExplain(String),
    /// `explain` given two objects or two field paths.
    #[error("`{0}` and `{1}` are both {2}; give at most one object and one field path")]
    TwoSelectors(String, String, &'static str),
}

impl UsageError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            UsageError::NotADirectory(..) => "check the path",
            UsageError::BadAllocation(_) => "write it as TENANT/APP, like acme/shop",
            // The message says where the credentials go.
            UsageError::Location(LocationError::PasswordInUrl | LocationError::UserInUrl) => {
                return None;
            }
            UsageError::Location(_) => {
                "write a directory, or a git URL with an optional #BRANCH, #TAG or #COMMIT"
            }
            UsageError::BadRepo(_) => {
                "give the customer repo's URL as Argo CD fetches it, like https://git.example.com/acme/shop.git"
            }
            UsageError::Settings(e) => e.hint,
            UsageError::NoOperator => "pass --operator DIR|URL or set DOVETAIL_OPERATOR_REPO",
            UsageError::NoWorkingDirectory => return None,
            UsageError::WouldOverwrite(_) => "move it away, or init another directory",
            UsageError::BadRecipient(_) => {
                "give an age1… public key, as `age-keygen -y KEYFILE` prints it"
            }
            UsageError::NoSuchCommand(_) | UsageError::NoSuchSecretsCommand(_) => {
                "see `dovetail --help` for the commands"
            }
            UsageError::NothingToExplain(_) => {
                "run `dovetail explain` without it to see every object and field"
            }
            UsageError::TwoSelectors(..) => {
                "write it as `dovetail explain Deployment/shop-web spec.replicas`"
            }
            UsageError::UnknownRevision(_) => {
                "run it in a work tree of the app's or the operator's repo, with a revision it has (fetch it first)"
            }
        })
    }
}

/// The process's environment, read once, here: nothing else in dovetail reads it (clippy's
/// `disallowed-methods` says so), so that what a command sees is what its configuration
/// says, and tests can hand it any environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: std::collections::HashMap<String, std::ffi::OsString>,
    cwd: Option<PathBuf>,
    /// Whether stdin is this process's own (not an in-process run's reader), so that
    /// asking whether it is a terminal means something.
    process_stdin: bool,
}

impl Environment {
    /// This process's environment and working directory.
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that reads the process environment"
    )]
    pub fn capture() -> Environment {
        Environment {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
                .collect(),
            cwd: std::env::current_dir().ok(),
            process_stdin: true,
        }
    }

    /// An environment of exactly `vars`, in `cwd` (for tests and in-process runs).
    pub fn of(vars: &[(&str, &str)], cwd: Option<PathBuf>) -> Environment {
        Environment {
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).into()))
                .collect(),
            cwd,
            process_stdin: false,
        }
    }

    /// Variable `name`, when set and not empty.
    pub fn var_os(&self, name: &str) -> Option<std::ffi::OsString> {
        self.vars.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// Variable `name` as text, when set, not empty and UTF-8.
    pub fn var(&self, name: &str) -> Option<String> {
        self.var_os(name).and_then(|v| v.into_string().ok())
    }

    /// Variable `name` as text, set or not, even when empty (Argo CD sends an empty
    /// `ARGOCD_APP_SOURCE_PATH` for a repo's root).
    pub fn var_raw(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .and_then(|v| v.clone().into_string().ok())
    }

    /// Whether the process's stdin is a terminal; never for an in-process run. Asked
    /// only by the command that reads a value from stdin, so a render pays nothing.
    pub fn stdin_is_terminal(&self) -> bool {
        use std::io::IsTerminal as _;
        self.process_stdin && std::io::stdin().is_terminal()
    }

    /// The working directory.
    pub fn cwd(&self) -> Result<PathBuf, UsageError> {
        self.cwd.clone().ok_or(UsageError::NoWorkingDirectory)
    }

    /// The git cache and credentials these variables set.
    pub fn git_settings(&self) -> Result<GitSettings, UsageError> {
        Ok(GitSettings::from_vars(|k| self.var_os(k))?)
    }
}

/// Where a command reads and writes: values from `input`, its product to `out`,
/// everything else through the reporter to `err`; and the environment it runs in.
pub struct Io<'a> {
    /// Standard input (secret values for `secrets set`).
    pub input: &'a mut dyn std::io::Read,
    /// The command's product only: manifests, or the report of validate/diff/explain.
    pub out: &'a mut dyn std::io::Write,
    /// Diagnostics, notes and progress.
    pub err: &'a mut dyn std::io::Write,
    /// The environment.
    pub env: &'a Environment,
}

/// Runs one parsed command line. Diagnostics, notes and progress go to `io.err` as they
/// happen; the final error, if any, is the caller's to print ([`crate::emit::report::Reporter::failure`]).
pub fn run(cli: Cli, io: Io<'_>) -> Result<(), crate::Error> {
    match cli.command {
        Command::Schema { name } => io
            .out
            .write_all(name.text().as_bytes())
            .map_err(crate::Error::Stdout),
        Command::Generate => generate::run(io),
        Command::Diff(args) => diff::run(args, io),
        Command::Graph(args) => graph::run(args, io),
        Command::Init(args) => init::run(args, io),
        Command::Completions { shell } => completions::completions(shell, io),
        Command::Man { command } => completions::man(&command, io),
        Command::Explain(args) => explain::run(args, io),
        Command::Render(args) => render::run(args, io),
        Command::Secrets(SecretsCommand::Set(args)) => secrets::set(args, io),
        Command::Secrets(SecretsCommand::Rekey(args)) => secrets::rekey(args, io),
        Command::Secrets(SecretsCommand::Unset(args)) => secrets::unset(args, io),
        Command::Validate(args) => validate::run(args, io),
        Command::Controller(_) => controller::exec(),
    }
}

/// What `render`, `validate` and `explain` do once their inputs are checked into
/// [`Sources`], for callers that build the sources themselves: the scenario tests run
/// the pipeline in-process over in-memory trees ([`Location::Memory`]) through here, so
/// that they exercise everything the binary does after parsing its command line.
#[derive(Debug, Clone)]
pub enum Action {
    /// `dovetail render`: to stdout, or one file per object into `output_dir`.
    Render {
        /// `-o DIR`.
        output_dir: Option<PathBuf>,
    },
    /// `dovetail validate` in `format`, in the scope the sources name (both repos, the
    /// app alone without an operator repo, the operator repo alone when the app is not
    /// `app_given`).
    Validate {
        /// `--format`.
        format: Format,
    },
    /// `dovetail explain`.
    Explain,
}

/// Runs `action` over `sources`, as [`run`] does after checking the command line.
pub fn run_on(action: &Action, sources: &Sources, io: Io<'_>) -> Result<(), crate::Error> {
    match action {
        Action::Render { output_dir } => render::render(sources, output_dir.as_deref(), io),
        Action::Validate { format } => validate::validate(sources, *format, io),
        Action::Explain => explain::explain(sources, &Selection::default(), io),
    }
}

/// Ends a run as the binary does: prints the error of a failed command on `err` (as
/// text, through the reporter) unless it is one that has said what it had to, and gives
/// the exit status.
pub fn finish(result: Result<(), crate::Error>, err: &mut dyn std::io::Write) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            if !e.is_quiet() {
                // stderr gone too: the exit status is all that is left to say it.
                let _ = crate::emit::report::Reporter::new(err, Format::Text).failure(&e);
            }
            e.exit_code()
        }
    }
}

impl InputArgs {
    /// Checks the arguments; `need_operator` for commands that cannot work without it.
    pub fn check(&self, need_operator: bool, env: &Environment) -> Result<Sources, UsageError> {
        self.repo.check(need_operator, &self.identity.files, env)
    }
}

impl RepoArgs {
    /// Checks the arguments, with the identity files given alongside (if any).
    pub fn check(
        &self,
        need_operator: bool,
        identity: &[PathBuf],
        env: &Environment,
    ) -> Result<Sources, UsageError> {
        let app = checked_location("--app", self.app.as_deref().unwrap_or("."))?;
        let operator = match self.operator.as_deref().filter(|o| !o.is_empty()) {
            Some(o) => Some(checked_location("--operator", o)?),
            None if need_operator => return Err(UsageError::NoOperator),
            None => None,
        };
        let git = if [Some(&app), operator.as_ref()]
            .iter()
            .any(|l| matches!(l, Some(Location::Git(_))))
        {
            Some(env.git_settings()?)
        } else {
            None
        };
        let allocation = match &self.allocation {
            None => None,
            Some(a) => match a.split_once('/') {
                Some((t, n)) if is_tenant_name(t) && is_app_name(n) => {
                    Some((t.to_owned(), n.to_owned()))
                }
                _ => return Err(UsageError::BadAllocation(a.clone())),
            },
        };
        Ok(Sources {
            app,
            app_given: self.app.is_some(),
            operator,
            git,
            argocd: None,
            allocation,
            identities: identity
                .iter()
                .filter(|p| !p.as_os_str().is_empty())
                .cloned()
                .collect(),
        })
    }
}

/// A location whose directory, if it is one, exists; `flag` names it in the error.
fn checked_location(flag: &'static str, s: &str) -> Result<Location, UsageError> {
    let loc = Location::parse(s)?;
    if let Location::Dir(dir) = &loc
        && !dir.is_dir()
    {
        return Err(UsageError::NotADirectory(flag, dir.clone()));
    }
    Ok(loc)
}

/// Merges `sources`, reports every problem (under `heading`, for the sides of `diff`),
/// and gives the merged app with the documents it was made of, or `Invalid`.
fn merged_app(
    sources: &Sources,
    reporter: &mut crate::emit::report::Reporter<'_>,
    heading: Option<&str>,
) -> Result<(crate::merge::Resolved, crate::emit::explain::SourceDocs), crate::Error> {
    let merged = crate::pipeline::merge(sources, reporter)?;
    match heading {
        Some(h) => reporter.diagnostics_under(h, &merged.diags),
        None => reporter.diagnostics(&merged.diags),
    }
    .map_err(crate::Error::Stderr)?;
    match (merged.resolved, merged.docs) {
        (Some(r), Some(d)) => Ok((r, d)),
        _ => Err(crate::Error::Invalid {
            count: merged.diags.error_count().max(1),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use clap::Parser;

    use super::Cli;

    fn args(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    /// The narrow parser of `render` and `generate` must read a command line exactly as
    /// the whole parser does, and leave everything else (help, version, mistakes, other
    /// subcommands) to it.
    #[test]
    fn the_render_fast_path_parses_as_the_whole_parser_does() {
        let accepted = [
            "dovetail render",
            "dovetail render --app a --operator o",
            "dovetail render --app=a --operator o --allocation acme/shop",
            "dovetail render --identity k1:k2 --identity k3 -o out",
            "dovetail render --output-dir out --app https://git.example.com/a.git#v1",
            "dovetail generate",
        ];
        for line in accepted {
            let fast = Cli::parse_hot(&args(line)).expect(line);
            let whole = Cli::try_parse_from(args(line)).expect(line);
            assert_eq!(format!("{fast:?}"), format!("{whole:?}"), "{line}");
        }
        let left_to_the_whole_parser = [
            "dovetail",
            "dovetail --version",
            "dovetail render --help",
            "dovetail render -h",
            "dovetail render --app",
            "dovetail render --nope",
            "dovetail render extra",
            "dovetail generate --app a",
            "dovetail generate --help",
            "dovetail validate --app a",
            "dovetail rend",
        ];
        for line in left_to_the_whole_parser {
            assert!(Cli::parse_hot(&args(line)).is_none(), "{line}");
        }
    }
}
