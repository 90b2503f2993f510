//! One sync of a scanned source to one destination, without any terminal I/O.
//!
//! `tern sync`, `tern run` and the daemon all come through here, so there is one sync path:
//! read the destination manifest, plan, check the guards, and only if there is work, lock,
//! re-read (another run may have committed meanwhile), re-plan if needed, and apply.
//!
//! The folder: [`spec`] is what a sync is asked to do (validated before any work starts), this
//! module the one sync path, and [`transfer`] the executing of a plan against a
//! [`Transport`]: staging what the plan sends and reuses, then one commit.

pub mod spec;
pub mod transfer;
pub mod twoway;

use crate::plan::guard::{self, Verdict};
use crate::plan::{Action, Plan, plan_owned};
use crate::sync::spec::{Destination, SyncSpec};
use crate::sync::transfer::Applied;
use crate::transport::admin::{AdminOp, AdminResult};
use crate::transport::local::LocalDir;
use crate::transport::{ManifestId, Transport, TransportError};
use crate::tree::manifest::Kind;
use crate::tree::path::RelPath;
use crate::tree::scan::{Scan, ScanIssue};
use crate::tree::store::{EntryStore, StoredManifest};
use crate::util::progress::Progress;
use std::sync::atomic::AtomicBool;

/// A plan with what it was computed against.
#[derive(Debug)]
pub struct Planned {
    /// The manifest planned against: the destination's, less `corrected`.
    pub dest_manifest: StoredManifest,
    /// Entries found wrong at the destination (`--check-dest`), planned to be sent again.
    pub corrected: Vec<RelPath>,
    /// Which manifest `dest_manifest` was read from, where the destination can say so: under
    /// the lock, the same one there means the plan still holds, without reading it again.
    pub dest_id: Option<ManifestId>,
    pub plan: Plan,
    pub verdicts: Vec<Verdict>,
}

/// Why a sync did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("refused by the {} guard: {}; nothing was written; {}", .0.guard, .0.detail, .0.override_hint.as_deref().unwrap_or(""))]
    Refused(Verdict),
    #[error(
        "the destination {0} changed since the plan was made; nothing was written; make a new plan"
    )]
    Stale(String),
    #[error("{}", transport_message(dest, source))]
    Transport {
        dest: String,
        #[source]
        source: Box<TransportError>,
    },
}

fn transport_message(dest: &str, source: &TransportError) -> String {
    if source.is_transient() {
        format!(
            "sync to {dest} did not complete (the problem may be temporary); run it again to complete it"
        )
    } else {
        format!("sync to {dest} failed")
    }
}

impl SyncError {
    /// The error and its causes, as one line (for logs that keep going after it).
    pub fn one_line(&self) -> String {
        let mut line = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            line.push_str(": ");
            line.push_str(&c.to_string());
            cause = c.source();
        }
        line
    }

    /// Whether trying again soon may succeed (a held lock, a dropped connection).
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Refused(_) | SyncError::Stale(_) => false,
            SyncError::Transport { source, .. } => source.is_transient(),
        }
    }
}

/// Open the destination of `spec`: a local directory, or an SSH host (agent or SFTP).
pub fn open(spec: &SyncSpec) -> Result<Box<dyn Transport>, SyncError> {
    open_destination(&spec.dest, &spec.ssh)
}

/// Open `dest`: a local directory, or an SSH host (agent or SFTP); a two-way sync opens each of
/// its replicas so.
pub fn open_destination(
    dest: &Destination,
    ssh: &crate::remote::ssh::SshOptions,
) -> Result<Box<dyn Transport>, SyncError> {
    Ok(match dest {
        Destination::Local(p) => Box::new(LocalDir::new(p)),
        Destination::Ssh(t) => crate::remote::host::open(t, ssh).map_err(|source| {
            SyncError::Transport { dest: dest.to_string(), source: Box::new(source) }
        })?,
    })
}

/// Plan `scanned` against what `dest` holds now.
pub fn plan_against(spec: &SyncSpec, scanned: &Scan, dest_manifest: StoredManifest) -> Planned {
    plan_source(spec, scanned.manifest.clone(), &scanned.issues, dest_manifest)
}

/// Plan a source's entries, taken over by the plan, whose scan reported `issues`.
pub fn plan_source(
    spec: &SyncSpec,
    source: EntryStore,
    issues: &[ScanIssue],
    dest_manifest: StoredManifest,
) -> Planned {
    let protected: Vec<_> = issues.iter().map(|i| i.path.clone()).collect();
    let plan = plan_owned(source, &dest_manifest, &protected, &spec.plan);
    let verdicts = guard::check(&plan, &spec.guards);
    Planned { dest_manifest, corrected: Vec::new(), dest_id: None, plan, verdicts }
}

/// What [`read_dest`] found at a destination.
pub struct DestRead {
    /// Its manifest, less `corrected`.
    pub manifest: StoredManifest,
    /// With `check_dest`: the entries a stat of each one found changed out of band, taken out of
    /// the manifest so the plan sends them again.
    pub corrected: Vec<RelPath>,
    /// Which manifest it was, where the destination can say so.
    pub id: Option<ManifestId>,
}

/// The destination's manifest, and (with `check_dest`) what is wrong there.
pub fn read_dest(spec: &SyncSpec, dest: &mut dyn Transport) -> Result<DestRead, SyncError> {
    let manifest = dest.read_manifest().map_err(failed(spec))?.unwrap_or_default();
    // Taken now: checking the destination may read its manifest again.
    let id = dest.last_read_id();
    if !spec.check_dest || manifest.entries.is_empty() {
        return Ok(DestRead { manifest, corrected: Vec::new(), id });
    }
    // A destination that cannot check itself (SFTP) is planned as it is.
    let Ok(AdminResult::Verified { findings, .. }) = dest.admin(&AdminOp::Verify { deep: false })
    else {
        return Ok(DestRead { manifest, corrected: Vec::new(), id });
    };
    let broken = crate::transport::admin::wrong_paths(&findings);
    Ok(DestRead { manifest: manifest.without(&broken), corrected: broken, id })
}

/// Read the destination manifest (checking the destination with `check_dest`) and plan.
pub fn plan_for(
    spec: &SyncSpec,
    scanned: &Scan,
    dest: &mut dyn Transport,
) -> Result<Planned, SyncError> {
    let read = read_dest(spec, dest)?;
    let planned = plan_against(spec, scanned, read.manifest);
    Ok(Planned { corrected: read.corrected, dest_id: read.id, ..planned })
}

fn dest_name(spec: &SyncSpec) -> String {
    spec.dest.to_string()
}

/// Turns a destination's error into the error of a sync to it.
fn failed(spec: &SyncSpec) -> impl Fn(TransportError) -> SyncError + Copy + '_ {
    |source| SyncError::Transport { dest: dest_name(spec), source: Box::new(source) }
}

/// Fail with the first guard that refuses the plan.
pub fn check_guards(p: &Planned) -> Result<(), SyncError> {
    match guard::refusal(&p.verdicts) {
        Some(v) => Err(SyncError::Refused(v.clone())),
        None => Ok(()),
    }
}

/// What one sync did: the plan it carried out and, unless there was nothing to do, how.
#[derive(Debug)]
pub struct Synced {
    pub planned: Planned,
    pub applied: Option<Applied>,
}

/// What to do when the destination changed between planning and locking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnChange {
    /// Plan again (a sync).
    Replan,
    /// Refuse (a saved plan must be applied exactly).
    Refuse,
}

/// Refuse, before anything is written, a plan that makes hard links at a destination that cannot.
fn refuse_hard_links(dest: &dyn Transport, plan: &Plan) -> Result<(), TransportError> {
    if dest.makes_hard_links() {
        return Ok(());
    }
    let link = plan.iter().find(|c| {
        c.action != Action::Delete
            && c.new.as_ref().is_some_and(|e| matches!(e.kind, Kind::HardLink(_)))
    });
    match link {
        Some(c) => Err(TransportError::Protocol(format!(
            "{} cannot make hard links ({} is one); nothing was written; install tern on the \
             host, or sync with --no-hard-links",
            dest.describe(),
            c.path.display()
        ))),
        None => Ok(()),
    }
}

/// Carry out `planned` (made without the lock) at `dest`: lock, re-plan the same source if the
/// destination moved on meanwhile (its scan reported `issues`), apply. `cancel` stops the
/// transfer at the next file, before the commit.
#[allow(clippy::too_many_arguments)]
pub fn apply_planned(
    spec: &SyncSpec,
    issues: &[ScanIssue],
    dest: &mut dyn Transport,
    mut planned: Planned,
    on_change: OnChange,
    run_id: &str,
    cancel: &AtomicBool,
    progress: &Progress,
) -> Result<Synced, SyncError> {
    check_guards(&planned)?;
    if planned.plan.is_empty() {
        return Ok(Synced { planned, applied: None });
    }
    let err = failed(spec);
    refuse_hard_links(dest, &planned.plan).map_err(err)?;
    crate::util::failpoint::delay("before-lock");
    transfer::presign(&planned.plan, &planned.dest_manifest, dest);
    dest.lock().map_err(err)?;
    // The manifest planned against is still the one there when the destination says so; else
    // it is read again and compared, then dropped: a second copy of the destination manifest
    // must not stay in memory through the transfer.
    let same = planned
        .dest_id
        .is_some_and(|planned_id| dest.manifest_id().is_ok_and(|now| now == Some(planned_id)));
    let current = if same {
        None
    } else {
        Some(dest.read_manifest().map_err(err)?.unwrap_or_default().without(&planned.corrected))
    };
    if let Some(current) = current.filter(|c| *c != planned.dest_manifest) {
        if on_change == OnChange::Refuse {
            return Err(SyncError::Stale(dest_name(spec)));
        }
        let source = planned.plan.source();
        let replanned = plan_source(spec, source, issues, current);
        planned = Planned { corrected: planned.corrected, ..replanned };
        check_guards(&planned)?;
        // The plan made again is checked as the first was.
        refuse_hard_links(dest, &planned.plan).map_err(err)?;
        if planned.plan.is_empty() {
            return Ok(Synced { planned, applied: None });
        }
    }
    let applied = transfer::apply(
        &planned.plan,
        &mut crate::transport::local::DirSource { root: &spec.source },
        &planned.dest_manifest,
        dest,
        run_id,
        cancel,
        progress,
    )
    .map_err(err)?;
    // Retention: old trash goes once this run has committed. A destination that cannot purge
    // (SFTP) keeps its trash; that is never an error.
    if let Some(keep) = spec.keep_trash {
        let older_than_secs = Some(keep.as_secs());
        let _ =
            dest.admin(&AdminOp::TrashPurge { older_than_secs, except: Some(run_id.to_string()) });
    }
    Ok(Synced { planned, applied: Some(applied) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;
    use crate::tree::scan::{ScanOptions, scan};
    use std::path::Path;

    fn spec(source: &Path, dest: &Path) -> SyncSpec {
        SyncSpec {
            source: source.to_path_buf(),
            dest: Destination::Local(dest.to_path_buf()),
            scan: ScanOptions::default(),
            plan: Default::default(),
            ssh: Default::default(),
            guards: Default::default(),
            keep_trash: None,
            check_dest: false,
        }
    }

    fn tree(root: &Path, files: &[(&str, &str)]) -> Scan {
        for (name, data) in files {
            let p = root.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        scan(root, &ScanOptions::default(), &Progress::hidden()).unwrap()
    }

    fn sync(
        spec: &SyncSpec,
        issues: &[ScanIssue],
        planned: Planned,
        on_change: OnChange,
    ) -> Result<Synced, SyncError> {
        let mut dest = open(spec).unwrap();
        let never = AtomicBool::new(false);
        let bar = Progress::hidden();
        apply_planned(spec, issues, dest.as_mut(), planned, on_change, "r", &never, &bar)
    }

    /// A plan overtaken by another run's commit is made again, under the lock, from the source
    /// the plan itself holds (the sync took the scanned entries over), or refused.
    #[test]
    fn a_plan_overtaken_by_another_commit_is_made_again_from_its_own_source() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        let ours = tree(&dir.path().join("a"), &[("d/x", "x"), ("b", "ours"), ("c", "c")]);
        let theirs = tree(&dir.path().join("b"), &[("b", "theirs"), ("z", "extra")]);
        let (ours_spec, theirs_spec) =
            (spec(&dir.path().join("a"), &dst), spec(&dir.path().join("b"), &dst));

        // Both plan against the empty destination; theirs commits first.
        let mut dest = open(&ours_spec).unwrap();
        let stale = plan_source(
            &ours_spec,
            ours.manifest.clone(),
            &[],
            read_dest(&ours_spec, dest.as_mut()).unwrap().manifest,
        );
        let refused =
            plan_source(&ours_spec, ours.manifest.clone(), &[], StoredManifest::default());
        drop(dest);
        assert!(stale.plan.iter().all(|c| c.action == Action::Create));
        let mut dest = open(&theirs_spec).unwrap();
        let p = plan_for(&theirs_spec, &theirs, dest.as_mut()).unwrap();
        drop(dest);
        sync(&theirs_spec, &theirs.issues, p, OnChange::Replan).unwrap();

        // A saved plan is refused; a sync plans again and removes what theirs left.
        let err = sync(&ours_spec, &[], refused, OnChange::Refuse);
        assert!(matches!(err, Err(SyncError::Stale(_))), "{err:?}");
        let synced = sync(&ours_spec, &ours.issues, stale, OnChange::Replan).unwrap();
        let actions: Vec<_> =
            synced.planned.plan.iter().map(|c| (c.path.display().to_string(), c.action)).collect();
        assert!(actions.contains(&("z".into(), Action::Delete)), "{actions:?}");
        assert!(actions.contains(&("b".into(), Action::Update)), "{actions:?}");
        let now = crate::transport::local::LocalDir::new(&dst)
            .read_manifest()
            .unwrap()
            .unwrap()
            .to_manifest();
        assert_eq!(now.entries, ours.manifest.to_manifest(0).entries);
        assert_eq!(std::fs::read(dst.join("b")).unwrap(), b"ours");
        assert!(!dst.join("z").exists());
    }

    /// Under the lock, a destination that can say which manifest it holds is asked, not read
    /// again: the one planned against lets the plan stand; another run's commit in between
    /// makes a sync plan again and a saved plan fail, as when the manifest is read and compared.
    #[test]
    fn a_plan_is_checked_under_the_lock_by_the_manifests_identity() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        let ours = tree(&dir.path().join("a"), &[("b", "ours"), ("c", "c")]);
        let theirs = tree(&dir.path().join("b"), &[("b", "theirs"), ("z", "extra")]);
        let (ours_spec, theirs_spec) =
            (spec(&dir.path().join("a"), &dst), spec(&dir.path().join("b"), &dst));
        let never = AtomicBool::new(false);
        let bar = Progress::hidden();
        let apply = |dest: &mut dyn Transport, planned, on_change| {
            apply_planned(&ours_spec, &[], dest, planned, on_change, "r", &never, &bar)
        };

        // Nothing committed in between: the plan is applied as it was made.
        let mut same = open(&ours_spec).unwrap();
        let planned = plan_for(&ours_spec, &ours, same.as_mut()).unwrap();
        assert_eq!(planned.dest_id, Some(ManifestId(None)));
        assert_eq!(same.manifest_id().unwrap(), planned.dest_id);
        apply(same.as_mut(), planned, OnChange::Refuse).unwrap();
        drop(same);
        let committed = LocalDir::new(&dst).read_manifest().unwrap().unwrap().to_manifest();
        assert_eq!(committed.entries, ours.manifest.to_manifest(0).entries);

        // Two plans of ours on their own connections; theirs commits before either locks.
        let (mut first, mut second) = (open(&ours_spec).unwrap(), open(&ours_spec).unwrap());
        let exact = plan_for(&ours_spec, &ours, first.as_mut()).unwrap();
        let again = plan_for(&ours_spec, &ours, second.as_mut()).unwrap();
        assert!(exact.plan.is_empty() && again.plan.is_empty());
        assert!(exact.dest_id.is_some_and(|id| id.0.is_some()));
        let mut t = open(&theirs_spec).unwrap();
        let p = plan_for(&theirs_spec, &theirs, t.as_mut()).unwrap();
        apply_planned(&theirs_spec, &[], t.as_mut(), p, OnChange::Replan, "t", &never, &bar)
            .unwrap();
        drop(t);
        assert_ne!(first.manifest_id().unwrap(), exact.dest_id);
        // An empty plan is not applied at all, so these are plans of one change each.
        std::fs::write(dir.path().join("a/c"), "c2").unwrap();
        let ours = scan(&dir.path().join("a"), &ScanOptions::default(), &bar).unwrap();
        let exact = Planned {
            dest_id: exact.dest_id,
            ..plan_against(&ours_spec, &ours, StoredManifest::from(&committed))
        };
        let again = Planned {
            dest_id: again.dest_id,
            ..plan_against(&ours_spec, &ours, StoredManifest::from(&committed))
        };
        let err = apply(first.as_mut(), exact, OnChange::Refuse);
        assert!(matches!(err, Err(SyncError::Stale(_))), "{err:?}");
        drop(first);
        let synced = apply(second.as_mut(), again, OnChange::Replan).unwrap();
        let actions: Vec<_> =
            synced.planned.plan.iter().map(|c| (c.path.display().to_string(), c.action)).collect();
        assert!(actions.contains(&("z".into(), Action::Delete)), "{actions:?}");
        assert!(actions.contains(&("b".into(), Action::Update)), "{actions:?}");
        drop(second);
        let now = LocalDir::new(&dst).read_manifest().unwrap().unwrap().to_manifest();
        assert_eq!(now.entries, ours.manifest.to_manifest(0).entries);
        assert_eq!(std::fs::read(dst.join("c")).unwrap(), b"c2");
    }
}
