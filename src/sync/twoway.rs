//! Two-way sync: two replicas that both take writes, brought to one tree.
//!
//! Each replica is a [`Transport`] (a local directory or an SSH host with the agent), so either
//! side may be remote, or both. A run locks both, scans both where they are, reads the base (the
//! last common manifest, stored on both sides as `.tern/base-<id of the other replica>`),
//! [`reconcile`]s, and then carries out two ordinary one-way plans from the reconciled tree:
//! first into A, reading what A lacks from B, then into B, reading from A, which by then holds
//! everything. Each is staged and committed as a one-way sync is, old versions into the trash.
//!
//! Crash safety rests on one rule: a base is written only after both replicas committed, so any
//! base either side holds describes a tree both reached, and the newer of the two (by generation)
//! is the right one. A run stopped before both commits leaves the old base: the next run sees on
//! A the changes it took from B as changes both sides made alike, which are no conflict; a
//! conflict it had decided is decided again the same way, and its copy, made under the same name
//! from the same version, is found in place rather than made twice.

use crate::plan::guard::{self, GuardPolicy};
use crate::plan::reconcile::{Labels, Policy, Reconciled, Side, next_base, reconcile};
use crate::plan::{Plan, PlanOptions, plan_owned};
use crate::remote::ssh::SshOptions;
use crate::sync::spec::Destination;
use crate::sync::transfer::{self, Applied};
use crate::sync::{SyncError, open_destination};
use crate::transport::{ReplicaSource, StateCopy, Transport, TransportError};
use crate::tree::hash::ContentHash;
use crate::tree::manifest::Manifest;
use crate::tree::path::RelPath;
use crate::tree::scan::ScanOptions;
use crate::tree::store::{EntryStore, StoredManifest};
use crate::util::progress::Progress;
use std::sync::atomic::AtomicBool;

/// A two-way sync, validated.
#[derive(Debug, Clone)]
pub struct TwoWaySpec {
    pub a: Destination,
    pub b: Destination,
    pub scan: ScanOptions,
    /// Keep a hash cache of each replica where it is scanned (off: `--no-cache`).
    pub cache: bool,
    pub ssh: SshOptions,
    pub policy: Policy,
    /// Trash runs older than this are purged on both sides after a run; `None` keeps them.
    pub keep_trash: Option<std::time::Duration>,
}

/// The state file naming a replica: a random id made on its first two-way sync.
const REPLICA_ID: &str = "replica";

/// What a two-way run found and decided.
#[derive(Debug)]
pub struct TwoWayPlan {
    pub reconciled: Reconciled,
    /// The changes to make at A (what B changed), and at B (what A changed).
    pub to_a: Plan,
    pub to_b: Plan,
    /// Whether there was a base (a first run has none: a union of both trees).
    pub had_base: bool,
    /// Whether the base needs writing though neither side changes (both made the same change).
    base_moves: bool,
    old_base: Manifest,
    /// The hash of the old base's bytes, and of the base each side holds (if any).
    old_hash: ContentHash,
    held: [Option<ContentHash>; 2],
    /// What a scan could not read, and on which side: left as it is on both sides.
    pub issues: Vec<(Side, crate::tree::scan::ScanIssue)>,
    /// Each side's tree as scanned: what its plan was made against.
    scanned: [StoredManifest; 2],
    ids: [Option<String>; 2],
}

impl TwoWayPlan {
    pub fn is_empty(&self) -> bool {
        self.to_a.is_empty() && self.to_b.is_empty()
    }

    /// The plan applied at `side`.
    pub fn toward(&self, side: Side) -> &Plan {
        match side {
            Side::A => &self.to_a,
            Side::B => &self.to_b,
        }
    }
}

/// What a two-way run did at each side.
#[derive(Debug, Default)]
pub struct TwoWayApplied {
    pub a: Option<Applied>,
    pub b: Option<Applied>,
}

impl TwoWayApplied {
    /// What was applied, at each side that had something to apply.
    pub fn each(&self) -> impl Iterator<Item = &Applied> {
        [&self.a, &self.b].into_iter().flatten()
    }
}

/// The paths a scan could not read, on either side: nothing at or below them changes.
fn protected(issues: &[(Side, crate::tree::scan::ScanIssue)]) -> Vec<RelPath> {
    issues.iter().map(|(_, i)| i.path.clone()).collect()
}

/// One line for what a scan could not read: where, and that it is left as it is.
pub fn issue_line(side: Side, issue: &crate::tree::scan::ScanIssue) -> String {
    format!(
        "cannot read {} at {}: {}; it is left as it is on both sides",
        issue.path.display(),
        side.name(),
        issue.message
    )
}

fn failed(replica: &Destination) -> impl Fn(TransportError) -> SyncError + '_ {
    move |source| SyncError::Transport { dest: replica.to_string(), source: Box::new(source) }
}

/// The host name a side's conflict copies carry.
fn host_of(replica: &Destination) -> String {
    match replica {
        Destination::Local(_) => crate::tree::state::this_host(),
        Destination::Ssh(t) => t.host.clone(),
    }
}

/// A side's replica id, made and stored now if it has none and `make` is set (under the lock).
fn replica_id(t: &mut dyn Transport, make: bool) -> Result<Option<String>, TransportError> {
    if let Some(id) = t.read_state(REPLICA_ID)? {
        let id = String::from_utf8_lossy(&id).trim().to_string();
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Some(id.to_ascii_lowercase()));
        }
        return Err(TransportError::Protocol(format!(
            "the replica id in {}/.tern/{REPLICA_ID} is damaged; remove that file (the next \
             two-way sync then starts as a first one)",
            t.describe()
        )));
    }
    if !make {
        return Ok(None);
    }
    use sha2::Digest;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seed = format!("{}:{}:{}:{:?}", t.describe(), std::process::id(), now.as_nanos(), &now);
    let id: String =
        sha2::Sha256::digest(seed.as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect();
    t.write_state(REPLICA_ID, id.as_bytes())?;
    Ok(Some(id))
}

/// The name of the base a replica keeps for its pair with `peer`.
fn base_name(peer: &Option<String>) -> Option<String> {
    peer.as_ref().map(|p| format!("base-{p}"))
}

/// The base stored at `t` under `name`, if any, with the hash of its bytes.
fn read_base(
    t: &mut dyn Transport,
    name: &str,
) -> Result<Option<(Manifest, ContentHash)>, TransportError> {
    let Some(bytes) = t.read_state(name)? else { return Ok(None) };
    let hash = ContentHash::of(&bytes);
    let base = Manifest::decode(&bytes).map_err(|e| {
        TransportError::Protocol(format!(
            "the two-way base {}/.tern/{name} is corrupt ({e}); move it aside (the next two-way \
             sync then starts as a first one: a union, differing files in conflict)",
            t.describe()
        ))
    })?;
    Ok(Some((base, hash)))
}

/// Scan both replicas, read their base, and reconcile. `lock`: take both locks first (and make
/// the replicas' ids, for a run that will write); a plan only reads.
pub fn prepare(
    spec: &TwoWaySpec,
    a: &mut dyn Transport,
    b: &mut dyn Transport,
    lock: bool,
) -> Result<TwoWayPlan, SyncError> {
    let (fa, fb) = (failed(&spec.a), failed(&spec.b));
    if lock {
        a.lock().map_err(&fa)?;
        b.lock().map_err(&fb)?;
    }
    let ids = [replica_id(a, lock).map_err(&fa)?, replica_id(b, lock).map_err(&fb)?];
    if let [Some(x), Some(y)] = &ids
        && x == y
    {
        return Err(fa(TransportError::Protocol(format!(
            "{} and {} are the same replica (the same .tern/{REPLICA_ID}); give two different \
             directories",
            spec.a, spec.b
        ))));
    }
    // Each side keeps the base under the other's id. A's is read; B's only where its hash
    // says it is another (a run stopped between writing the two).
    let names = [base_name(&ids[1]), base_name(&ids[0])];
    let base_a = match &names[0] {
        Some(name) => read_base(a, name).map_err(&fa)?,
        None => None,
    };
    let hash_b = match &names[1] {
        Some(name) => b.state_hash(name).map_err(&fb)?,
        None => None,
    };
    let held = [base_a.as_ref().map(|(_, h)| *h), hash_b];
    let base_b = match (&names[1], hash_b) {
        (Some(name), Some(h)) if held[0] != Some(h) => read_base(b, name).map_err(&fb)?,
        _ => None,
    };
    let had_base = held.iter().any(Option::is_some);
    // Either was written only once both sides held it; the newer is the last both reached.
    let (base, base_hash) = match (base_a, base_b) {
        (Some(x), Some(y)) if y.0.generation > x.0.generation => y,
        (Some(x), _) => x,
        (None, Some(y)) => y,
        (None, None) => (Manifest::default(), ContentHash::of(&[])),
    };
    let mut scan = spec.scan.clone();
    // Hard links are kept as separate files both ways (see docs/decisions.md).
    scan.no_hard_links = true;
    // A side holding the chosen base sends only what changed since.
    let since = |side: usize| {
        let name = names[side].as_deref()?;
        (held[side] == Some(base_hash)).then_some(StateCopy {
            name,
            hash: base_hash,
            manifest: &base,
        })
    };
    // Both replicas scan at once (where they are); each is then waited for.
    a.start_scan(&scan, spec.cache, since(0).as_ref()).map_err(&fa)?;
    b.start_scan(&scan, spec.cache, since(1).as_ref()).map_err(&fb)?;
    let sa = a.scan_tree(&scan, spec.cache, since(0).as_ref()).map_err(&fa)?;
    let sb = b.scan_tree(&scan, spec.cache, since(1).as_ref()).map_err(&fb)?;
    let issues: Vec<(Side, crate::tree::scan::ScanIssue)> =
        (sa.issues.into_iter().map(|i| (Side::A, i)))
            .chain(sb.issues.into_iter().map(|i| (Side::B, i)))
            .collect();
    let protected = protected(&issues);
    let (ma, mb) = (sa.manifest.to_manifest(0), sb.manifest.to_manifest(0));
    let labels = Labels { hosts: [host_of(&spec.a), host_of(&spec.b)] };
    let reconciled = reconcile(&base, &ma, &mb, &protected, spec.policy, &labels);
    let opts = PlanOptions { delete: true, excludes: spec.scan.excludes.clone() };
    let scanned = [StoredManifest::from(&ma), StoredManifest::from(&mb)];
    // What a side could not read changes on neither: the plans leave it out of the target, and
    // keep what each side has there (a side that could not read it has no entry to replace).
    let target = EntryStore::from(&reconciled.target.clone().without(&protected));
    let to_a = plan_owned(target.clone(), &scanned[0], &protected, &opts);
    let to_b = plan_owned(target, &scanned[1], &protected, &opts);
    let next = next_base(&reconciled.target, &base, &[], &protected, base.generation);
    let base_moves = next.entries != base.entries || !had_base;
    Ok(TwoWayPlan {
        reconciled,
        to_a,
        to_b,
        had_base,
        base_moves,
        old_base: base,
        old_hash: base_hash,
        held,
        issues,
        scanned,
        ids,
    })
}

/// Carry out `plan` (made by [`prepare`] with the locks held): A first, then B, then the new
/// base on both sides.
pub fn apply(
    spec: &TwoWaySpec,
    a: &mut dyn Transport,
    b: &mut dyn Transport,
    plan: &TwoWayPlan,
    run_id: &str,
    cancel: &AtomicBool,
    progress: &Progress,
) -> Result<TwoWayApplied, SyncError> {
    let (fa, fb) = (failed(&spec.a), failed(&spec.b));
    let [Some(id_a), Some(id_b)] = &plan.ids else {
        return Err(fa(TransportError::Protocol("a two-way run without replica ids".into())));
    };
    let mut done = TwoWayApplied::default();
    if !plan.to_a.is_empty() {
        let renamed = plan.reconciled.copies_of_b.iter().cloned().collect();
        let mut from_b = ReplicaSource::new(b, renamed);
        let applied =
            transfer::apply(&plan.to_a, &mut from_b, &plan.scanned[0], a, run_id, cancel, progress)
                .map_err(&fa)?;
        done.a = Some(applied);
    }
    crate::util::failpoint::hit("two-way-after-a");
    if !plan.to_b.is_empty() {
        let mut from_a = ReplicaSource::new(a, Default::default());
        let applied =
            transfer::apply(&plan.to_b, &mut from_a, &plan.scanned[1], b, run_id, cancel, progress)
                .map_err(&fb)?;
        done.b = Some(applied);
    }
    if plan.is_empty() && !plan.base_moves {
        return Ok(done);
    }
    let skipped: Vec<RelPath> =
        done.each().flat_map(|applied| applied.skipped.iter().map(|s| s.path.clone())).collect();
    let generation = plan.old_base.generation + 1;
    let protected = protected(&plan.issues);
    let base = next_base(&plan.reconciled.target, &plan.old_base, &skipped, &protected, generation);
    let bytes = base.encode();
    write_base(a, &format!("base-{id_b}"), plan, plan.held[0], &base, &bytes).map_err(&fa)?;
    crate::util::failpoint::hit("two-way-between-bases");
    write_base(b, &format!("base-{id_a}"), plan, plan.held[1], &base, &bytes).map_err(&fb)?;
    if let Some(keep) = spec.keep_trash {
        let purge = crate::transport::admin::AdminOp::TrashPurge {
            older_than_secs: Some(keep.as_secs()),
            except: Some(run_id.to_string()),
        };
        let _ = a.admin(&purge);
        let _ = b.admin(&purge);
    }
    Ok(done)
}

/// Store the next base at `t` under `name`: as a delta from the old one where `t` holds it
/// (`held` is its hash), so only what this run changed travels; else whole.
fn write_base(
    t: &mut dyn Transport,
    name: &str,
    plan: &TwoWayPlan,
    held: Option<ContentHash>,
    next: &Manifest,
    bytes: &[u8],
) -> Result<(), TransportError> {
    // Over a network, where the bytes are the cost; a local file is cheaper written whole.
    if held == Some(plan.old_hash) && plan.had_base && t.wire_bytes().is_some() {
        let none = std::collections::HashMap::new();
        if let Ok(delta) = crate::plan::delta::Delta::between(&plan.old_base, next, &none)
            && t.write_state_delta(name, &plan.old_hash, &delta.encode())?
        {
            return Ok(());
        }
    }
    t.write_state(name, bytes)
}

/// Fail with the first guard that refuses either side's plan (an emptied replica would empty
/// the other, as an emptied source would empty its destination).
pub fn check_guards(plan: &TwoWayPlan, policy: &GuardPolicy) -> Result<(), SyncError> {
    for side in [Side::A, Side::B] {
        let verdicts = guard::check(plan.toward(side), policy);
        if let Some(v) = guard::refusal(&verdicts) {
            let mut v = v.clone();
            v.detail = format!("at {}: {}", side.name(), v.detail);
            return Err(SyncError::Refused(v));
        }
    }
    Ok(())
}

/// What one two-way run found and did.
#[derive(Debug)]
pub struct TwoWayRun {
    pub plan: TwoWayPlan,
    pub applied: TwoWayApplied,
    /// Bytes written to the network, both replicas together.
    pub wire_bytes: u64,
}

/// One two-way run from start to end: open both replicas, lock, prepare, check the guards,
/// apply. `tern sync --two-way` and the jobs of the daemon come through here.
pub fn sync(
    spec: &TwoWaySpec,
    guards: &GuardPolicy,
    run_id: &str,
    cancel: &AtomicBool,
    progress: &Progress,
) -> Result<TwoWayRun, SyncError> {
    // An SSH replica must have tern: the SFTP fallback cannot scan or send its files, and says
    // so at the first request.
    let mut a = open_destination(&spec.a, &spec.ssh)?;
    let mut b = open_destination(&spec.b, &spec.ssh)?;
    let plan = prepare(spec, a.as_mut(), b.as_mut(), true)?;
    check_guards(&plan, guards)?;
    let applied = apply(spec, a.as_mut(), b.as_mut(), &plan, run_id, cancel, progress)?;
    let wire_bytes = [&a, &b].iter().filter_map(|t| t.wire_bytes()).sum();
    Ok(TwoWayRun { plan, applied, wire_bytes })
}
