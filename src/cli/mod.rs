//! The command line: clap types, help text, and generation of man pages and completions.
//!
//! Nothing here does I/O beyond writing generated docs, and nothing here holds core logic: the
//! parsed [`Cli`] is turned into a validated [`crate::sync::spec::SyncSpec`] before any work
//! starts.

use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use std::path::{Path, PathBuf};

const EXIT_CODES: &str = "\
Exit status:
  0   success (for `plan --detailed-exitcode`: nothing to change)
  1   error: nothing was changed, or the destination was left consistent, to be completed by the
      next run
  2   `plan --detailed-exitcode` / `sync --dry-run --detailed-exitcode`: changes are pending
  3   partial: the run completed, but some source entries could not be read or sent and were skipped
      (their destination copies were kept)
  4   `verify`: the destination differs from its manifest (or, with a source, from the source)
  5   `--two-way`: conflicts were found (a sync kept both versions, or the --prefer side's)
  64  usage error: bad command-line arguments";

const JOB_FILE: &str = "\
Job file (~/.config/tern/tern.toml, $TERN_CONFIG, or --config FILE; see contrib/tern.example.toml):
  metrics_file = \"/var/lib/prometheus/node-exporter/tern.prom\"
                                      the daemon's Prometheus metrics, as a textfile
  [[job]]
  name = \"site\"                       a unique word
  source = \"/var/www/site\"            a directory (a relative path: relative to the job file)
  destinations = [\"backup1:/srv/site\", \"/mnt/usb/site\"]
                                      scanned once, sent to each
  schedule = \"*/15 * * * *\"           crontab(5); 6 fields: seconds first; @daily...; @reboot: at
                                      the daemon's start; none: only `tern run`
  mode = \"watch\"                      replicate changes as they happen, from the daemon's start
  mode = \"two-way\"                    source and its one destination both take writes
  mode = \"mesh\"                       replicas = [\"/hub\", \"b:/d\", ...]: all take writes
  prefer = \"newer\"                    two-way/mesh conflicts: \"a\", \"b\" or \"newer\" wins
                                      (default \"schedule\"); a schedule then times whole passes
  delay = \"200ms\"                     with mode = \"watch\": quiet time before a batch goes
  timezone = \"Europe/Berlin\"          an IANA name; default: local time
  exclude = [\"*.tmp\", \"cache/\"]       gitignore syntax
  max_delete = \"10%\"                  or a number; also delete = false, force = true
  jitter = \"30s\"                      a random delay per run; catch_up = true: run once if missed
  retries = 3                         transient errors only; retry_delay = \"5s\", doubled each time
  on_success = \"cmd\"                  also on_failure; in the environment: TERN_JOB,
                                      TERN_DESTINATION, TERN_OUTCOME, TERN_ERROR, TERN_TRIGGER,
                                      TERN_STARTED, TERN_ENDED, TERN_DURATION_MS, TERN_CREATED,
                                      TERN_UPDATED, TERN_DELETED, TERN_BYTES_SENT
  healthcheck_url = \"https://hc-ping.com/UUID\"
                                      pinged at URL/start, URL (success), URL/fail
  check_dest = true                   stat the destination first; repair what changed out of band
  keep_trash = \"7d\"                   purge older trash runs after a successful run (\"forever\")
  xattrs = false                      do not replicate extended attributes, ACLs, capabilities
  one_file_system = true              do not cross into other file systems (as -x)
  hard_links = false                  replicate hard-linked files as separate files
  ssh_config, identity = [..], known_hosts, host_key_policy, remote_tern, compress_level,
  bwlimit = \"10M\", ssh_options = [\"ProxyJump=bastion\"]: as the flags

History: $TERN_STATE_DIR or ~/.local/state/tern/history.jsonl (JSON lines, bounded to 4 MiB).
Daemon signals: SIGTERM/SIGINT stop (running transfers stop before their commit; exit 0),
SIGHUP reloads the job file (a bad file is reported and the old jobs keep running).";

const ABOUT: &str =
    "Replicate file trees to local directories or SSH hosts, sending only what changed";

const LONG_ABOUT: &str = "\
tern replicates a source directory tree into a destination. It keeps a manifest of what it wrote \
at the destination (DEST/.tern/manifest), so it never scans the destination: it scans the source \
(reusing cached hashes of unchanged files), diffs the two manifests into a plan, and applies the \
plan by sending only the content the destination lacks.

A sync destroys nothing: entries it deletes or overwrites are moved to \
DEST/.tern/trash/<run-id>/ (kept 7 days by default, see --keep-trash; `tern undo` puts them back). \
Every file is replaced atomically, and the manifest is written last, \
so a sync interrupted at any moment leaves each file in its old or new version and the next run \
completes the work.

Files: the source hash cache is kept in $TERN_CACHE_DIR (default ~/.cache/tern/). While a sync of \
a large tree runs, the source's entries and the destination's manifest are kept in unnamed files \
in $TMPDIR (default /tmp), about 66 bytes an entry, gone when tern exits.

Restricted keys: on a backup host, a key in ~/.ssh/authorized_keys can be limited to one \
directory, as rrsync or `borg serve --restrict-to-path` do: \
command=\"tern serve --restrict-to /srv/backups\",no-pty,no-port-forwarding ssh-ed25519 AAAA... \
A client may then sync into /srv/backups and below it only (resolved without letting a symlink \
lead out); any other path is refused before anything is read. Add --read-only for a key that may \
plan and verify but not write.";

/// tern: replicate file trees.
#[derive(Debug, Parser)]
#[command(name = "tern", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print nothing but errors: no progress lines, no summary
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Say more: list every change a sync makes, and metadata details in plans
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a
    /// terminal, as a line a second; --quiet wins
    #[arg(long, global = true)]
    pub progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replicate SOURCE into DEST (mirroring: entries missing from SOURCE go to DEST's trash)
    #[command(after_help = EXIT_CODES)]
    Sync(SyncArgs),

    /// Show what `tern sync` would change, without writing anything anywhere
    #[command(after_help = EXIT_CODES)]
    Plan(PlanArgs),

    /// Replicate SOURCE into DEST as it changes: a sync, then each change about a second later
    /// (until SIGTERM or SIGINT)
    #[command(after_help = WATCH_HELP)]
    Watch(WatchArgs),

    /// Apply a plan saved with `tern plan --out`, exactly as it was reviewed
    #[command(after_help = EXIT_CODES)]
    Apply(ApplyArgs),

    /// Check the job file; every problem is listed with file:line
    #[command(after_help = JOB_FILE)]
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },

    /// List the configured jobs: schedule in words, time zone, destinations, next fire times
    Jobs {
        #[command(flatten)]
        file: JobFileArg,

        /// How many fire times to show per job
        #[arg(long, value_name = "N", default_value_t = 3)]
        next: usize,
    },

    /// Run one configured job now, in the foreground (recorded in the history)
    #[command(after_help = EXIT_CODES)]
    Run {
        #[command(flatten)]
        file: JobFileArg,

        /// The job's name
        name: String,

        /// Log lines as text or as JSON objects (job and destination in every line)
        #[arg(long, value_enum, default_value = "human")]
        log_format: LogFormatArg,
    },

    /// Run every scheduled job on its cron schedule, and watch every watch job, until SIGTERM or
    /// SIGINT (SIGHUP reloads)
    #[command(after_help = JOB_FILE)]
    Daemon {
        #[command(flatten)]
        file: JobFileArg,

        /// Log lines as text or as JSON objects (job and destination in every line)
        #[arg(long, value_enum, default_value = "human")]
        log_format: LogFormatArg,

        /// Serve Prometheus metrics over HTTP at http://ADDR/metrics (e.g. 127.0.0.1:9184), as
        /// well as or instead of the job file's metrics_file
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<std::net::SocketAddr>,
    },

    /// The last run and next run of every job and destination (and a watch job's state)
    Status {
        #[command(flatten)]
        file: JobFileArg,

        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },

    /// Re-hash the destination against its manifest: what is missing, changed or extra
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),

    /// List or purge the trash of a destination (what syncs deleted or overwrote)
    Trash {
        #[command(subcommand)]
        action: TrashAction,
    },

    /// Put back what a run deleted or overwrote (the newest run unless --run); undoable itself
    Undo {
        /// The run to undo, as `tern trash list` shows it
        #[arg(long, value_name = "RUN")]
        run: Option<String>,

        /// The destination
        #[arg(value_name = "DEST")]
        dest: String,

        #[command(flatten)]
        ssh: SshArgs,
    },

    /// Print a completion script for SHELL to standard output
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Serve a destination to a tern client on stdin/stdout (started by tern itself over SSH)
    #[command(hide = true)]
    Serve {
        /// The destination directory (restricted agents take it from SSH_ORIGINAL_COMMAND)
        #[arg(long)]
        root: Option<PathBuf>,

        /// Serve only DIR and what is below it: for a forced command in authorized_keys
        /// (`command="tern serve --restrict-to /srv/backups"`); any other path is refused
        #[arg(long, value_name = "DIR")]
        restrict_to: Option<PathBuf>,

        /// Serve plans and verify only: refuse locks, writes, purges and undo
        #[arg(long)]
        read_only: bool,
    },

    /// Write man pages and completion scripts into DIR/man and DIR/completions (for packagers)
    #[command(hide = true)]
    GenerateDocs {
        /// The directory to write into (the repository root)
        dir: PathBuf,
    },
}

/// `tern verify` arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// `[SOURCE] DEST`: with a source, also compare the destination's manifest with it
    #[arg(value_name = "PATH", num_args = 1..=2, required = true)]
    pub paths: Vec<String>,

    /// The source to compare with (same as giving it before DEST)
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<PathBuf>,

    /// Re-send from the source whatever is missing or wrong at the destination (fetches nothing)
    #[arg(long)]
    pub repair: bool,

    /// Report format
    #[arg(long, value_enum, default_value = "text")]
    pub format: VerifyFormat,

    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `tern verify --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    Text,
    Json,
}

/// `tern trash` actions.
#[derive(Debug, Subcommand)]
pub enum TrashAction {
    /// The runs with trashed entries: how many, how large, how old
    List {
        #[arg(value_name = "DEST")]
        dest: String,

        /// Print JSON
        #[arg(long)]
        json: bool,

        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Delete trash runs for good (all of them, or those older than --older-than)
    Purge {
        #[arg(value_name = "DEST")]
        dest: String,

        /// Only runs older than this (e.g. 7d, 12h, 30m)
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,

        #[command(flatten)]
        ssh: SshArgs,
    },
}

/// `tern config` actions.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the job file
    Check {
        #[command(flatten)]
        file: JobFileArg,
    },
}

/// Which job file to read.
#[derive(Debug, Args)]
pub struct JobFileArg {
    /// The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `--log-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Human,
    Json,
}

const WATCH_HELP: &str = "\
How it works: one whole sync first, then the kernel (inotify) names what changes; once the tree \
has been quiet for --delay, only the named paths are scanned again and the result is synced \
through the same plan, guards and crash-safe commit as `tern sync`. Destinations stay connected \
between batches. Lost events (a full kernel queue), a mount below the source and a reconnection \
each make the next batch a whole scan; --full-every adds one on a timer.

Exit status:
  0   stopped by SIGTERM or SIGINT
  1   the first sync failed, the source went away, or the kernel's watch limit was reached
      (the message names the sysctl to raise)
  64  usage error";

/// `tern watch` arguments.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub tree: TreeArgs,

    /// More destinations, each replicated the same way
    #[arg(value_name = "DEST", help_heading = None::<&str>)]
    pub more: Vec<String>,

    /// After a successful sync, purge trash runs older than DURATION ("forever" keeps them)
    #[arg(long, value_name = "DURATION", default_value = "7d", help_heading = "Options")]
    pub keep_trash: String,

    /// Quiet time before changes are synced (e.g. 200ms, 1s)
    #[arg(long, value_name = "DURATION", default_value = "200ms", help_heading = "Watching")]
    pub delay: String,

    /// Also scan the whole source this often (e.g. 1h), as a safety net
    #[arg(long, value_name = "DURATION", help_heading = "Watching")]
    pub full_every: Option<String>,

    #[command(flatten)]
    pub guards: GuardArgs,
}

/// What to replicate, where, and how.
#[derive(Debug, Clone, Args)]
pub struct TreeArgs {
    /// The source directory; its contents are replicated (like rsync's `SOURCE/`)
    #[arg(value_name = "SOURCE")]
    pub source: PathBuf,

    /// The destination directory; created if missing (its parent must exist)
    #[arg(value_name = "DEST")]
    pub dest: String,

    /// Keep destination entries that are missing from the source instead of deleting them
    #[arg(long)]
    pub no_delete: bool,

    /// Re-hash every source file instead of trusting the hash cache of unchanged files
    #[arg(short, long)]
    pub checksum: bool,

    /// Do not read or write the source hash cache
    #[arg(long)]
    pub no_cache: bool,

    /// Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default:
    /// user.*, system.posix_acl_*, security.* and, as root, trusted.*)
    #[arg(long)]
    pub no_xattrs: bool,

    /// Replicate hard-linked files as separate files (by default a group of hard links in the
    /// source is one file with several names at the destination, sent once, as with rsync -H)
    #[arg(long)]
    pub no_hard_links: bool,

    /// Do not cross file systems: a directory on another one (a mount point such as /proc or a
    /// mounted disk) is replicated empty, as with rsync -x
    #[arg(short = 'x', long)]
    pub one_file_system: bool,

    /// Before planning, stat every destination entry and send again what was changed, deleted or
    /// replaced there out of band (the destination is not read, only stat'ed)
    #[arg(long)]
    pub check_dest: bool,

    /// Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build");
    /// matching destination entries are kept. Repeatable
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,

    /// Read exclude patterns from FILE, one per line (blank lines and # comments skipped)
    #[arg(long, value_name = "FILE")]
    pub exclude_from: Vec<PathBuf>,

    #[command(flatten)]
    pub ssh: SshArgs,
}

/// How to reach SSH destinations (`[user@]host:path`, `ssh://[user@]host[:port]/path`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "SSH options")]
pub struct SshArgs {
    /// Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config
    #[arg(short = 'F', long = "ssh-config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// An ssh_config option that wins over the config file's, as with ssh -o (ProxyCommand,
    /// ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    pub options: Vec<String>,

    /// Try this private key (after ssh-agent, before the config's IdentityFile; the default
    /// ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identities: Vec<PathBuf>,

    /// Check host keys against this known_hosts file (and record accepted ones there)
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,

    /// What to do with an unknown host key: refuse it (strict) or record it (accept-new); a
    /// changed key is always refused [default: strict, or the config's StrictHostKeyChecking]
    #[arg(long, value_enum, value_name = "POLICY")]
    pub host_key_policy: Option<HostKeyPolicyArg>,

    /// The tern binary on the remote host
    #[arg(long, value_name = "PATH", default_value = "tern")]
    pub remote_tern: String,

    /// Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync
    #[arg(long, value_name = "RATE", value_parser = crate::sync::spec::parse_rate)]
    pub bwlimit: Option<u64>,

    /// zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each
    /// run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..=22))]
    pub compress_level: Option<i32>,
}

/// `--host-key-policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HostKeyPolicyArg {
    Strict,
    AcceptNew,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub tree: TreeArgs,

    /// After a successful sync, purge trash runs older than DURATION ("forever" keeps them)
    #[arg(long, value_name = "DURATION", default_value = "7d", help_heading = "Options")]
    pub keep_trash: String,

    /// Print what would change and change nothing (the same plan `tern plan` shows)
    #[arg(short = 'n', long, help_heading = "Options")]
    pub dry_run: bool,

    /// With --dry-run: exit 2 when changes are pending, 0 when in sync (5 with conflicts, in
    /// a two-way sync)
    #[arg(long, requires = "dry_run", help_heading = "Options")]
    pub detailed_exitcode: bool,

    #[command(flatten)]
    pub two_way: TwoWayArgs,

    #[command(flatten)]
    pub guards: GuardArgs,
}

/// Two-way sync (`--two-way A B`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Two-way")]
pub struct TwoWayArgs {
    /// SOURCE and DEST are two replicas that both take writes (each a directory or
    /// [user@]host:path): what changed on either side since their last two-way sync goes to the
    /// other; conflicts keep both versions
    #[arg(long)]
    pub two_way: bool,

    /// With --two-way: the side that wins a conflict, SOURCE (a), DEST (b) or the newer; the
    /// other version goes to its replica's trash only. Without it the newer version wins and the
    /// other is kept beside it as NAME.tern-conflict-HOST-TIME.EXT on both replicas
    #[arg(long, value_enum, value_name = "SIDE", requires = "two_way")]
    pub prefer: Option<PreferArg>,
}

/// `--prefer` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PreferArg {
    A,
    B,
    Newer,
}

/// Deletion guardrails.
#[derive(Debug, Args)]
#[command(next_help_heading = "Guardrails")]
pub struct GuardArgs {
    /// Refuse to delete more than N destination entries, or more than N% of them
    #[arg(long, value_name = "N|N%")]
    pub max_delete: Option<crate::plan::guard::MaxDelete>,

    /// Mirror an empty source onto a non-empty destination (refused otherwise)
    #[arg(long)]
    pub force: bool,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file written by `tern plan --out`
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    #[command(flatten)]
    pub ssh: SshArgs,

    #[command(flatten)]
    pub guards: GuardArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub tree: TreeArgs,

    /// Exit 2 when changes are pending, 0 when in sync, 1 on error (or a refusing guard); 5
    /// when a two-way plan has conflicts
    #[arg(long, help_heading = "Report")]
    pub detailed_exitcode: bool,

    /// Report format: itemized text, JSON (docs/plan-json.md), or Markdown for CI summaries
    #[arg(long, value_enum, default_value = "text", help_heading = "Report")]
    pub format: FormatArg,

    /// Also save the plan to FILE, to be applied later with `tern apply FILE`
    #[arg(long, value_name = "FILE", help_heading = "Report")]
    pub out: Option<PathBuf>,

    /// Most changes a Markdown report lists
    #[arg(long, value_name = "N", default_value_t = 100, help_heading = "Report")]
    pub limit: usize,

    #[command(flatten)]
    pub two_way: TwoWayArgs,

    #[command(flatten)]
    pub guards: GuardArgs,
}

/// The clap command, for docs and completions.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Write a completion script for `shell`.
pub fn write_completions(shell: Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut command(), "tern", out);
}

/// Every generated documentation file: (path relative to the repository root, content).
pub fn generated_docs() -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    let cmd = command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    files.push((PathBuf::from("man/tern.1"), page));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("tern-{}", sub.get_name());
        let sub = sub.clone().name(name.clone()).display_name(name.clone());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub).render(&mut page)?;
        files.push((PathBuf::from(format!("man/{name}.1")), page));
    }
    for (shell, file) in [
        (Shell::Bash, "tern.bash"),
        (Shell::Zsh, "_tern"),
        (Shell::Fish, "tern.fish"),
        (Shell::PowerShell, "_tern.ps1"),
        (Shell::Elvish, "tern.elv"),
    ] {
        let mut script = Vec::new();
        write_completions(shell, &mut script);
        files.push((PathBuf::from("completions").join(file), script));
    }
    Ok(files)
}

/// Write [`generated_docs`] below `dir`.
pub fn write_generated_docs(dir: &Path) -> std::io::Result<()> {
    for (rel, content) in generated_docs()? {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, content)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        super::command().debug_assert();
    }
}
