//! Metadata fidelity, checked with the system's own tools: extended attributes (getfattr), POSIX
//! ACLs (getfacl) and file capabilities (getcap) of a replica are those of the source, locally
//! and over a real sshd, and the same as what `rsync -aHAX` makes of the same tree.

use crate::harness::*;
use crate::sshd::Sshd;
use std::path::Path;
use std::process::Command;

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Run a metadata tool; a missing one is a failure that says what to install.
fn tool(cwd: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).current_dir(cwd).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {program} ({e}): the metadata tests need the Debian packages attr, acl \
             and libcap2-bin (`bash .ci/run` installs them)"
        )
    });
    assert!(
        out.status.success(),
        "{program} {args:?} in {}: {}",
        cwd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every extended attribute, ACL and capability below `root` as the tools print them (values in
/// hex, ids numeric), tern's own `.tern` left out, sorted by path.
fn metadata_dump(root: &Path) -> String {
    let blocks = |text: String| -> Vec<String> {
        text.split("\n\n")
            .map(|b| b.trim().replace("# file: ./", "# file: "))
            .filter(|b| !b.is_empty() && !b.starts_with("# file: .tern"))
            .collect()
    };
    let mut all = blocks(tool(root, "getfattr", &["-R", "-h", "-d", "-m", "-", "-e", "hex", "."]));
    let acls = tool(root, "getfacl", &["-R", "-p", "-n", "-P", "."]);
    all.extend(blocks(acls));
    let mut caps: Vec<String> = tool(root, "getcap", &["-r", "."])
        .lines()
        .filter(|l| !l.starts_with("./.tern"))
        .map(String::from)
        .collect();
    caps.sort();
    all.sort();
    format!("{}\n--- capabilities\n{}", all.join("\n\n"), caps.join("\n"))
}

/// What `rsync FLAGS src/ rsync-dst` makes of the test's source, for comparison.
fn rsync_replica(env: &Env, flags: &str) -> std::path::PathBuf {
    let rsync = env.path("rsync-dst");
    let out = Command::new("rsync")
        .args([flags, &format!("{}/", env.src().display()), &rsync.display().to_string()])
        .output()
        .expect("rsync (apt-get install rsync)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    rsync
}

fn set(cwd: &Path, program: &str, args: &[&str]) {
    tool(cwd, program, args);
}

/// A tree with what a server's tree holds: user xattrs on files, directories and (as root)
/// symlinks, trusted xattrs and a file capability (as root), access and default ACLs.
fn rich_tree(env: &Env) {
    env.tree("src")
        .file("bin/ping", noise(3, 30_000))
        .file("etc/conf", "key = value\n")
        .file("etc/plain", "no attributes\n")
        .file("share/doc/readme", "read me\n")
        .symlink("etc/link", "conf")
        .mode("bin/ping", 0o755);
    let src = env.src();
    set(&src, "setfattr", &["-n", "user.mime_type", "-v", "text/plain", "etc/conf"]);
    set(&src, "setfattr", &["-n", "user.empty", "etc/conf"]);
    set(&src, "setfattr", &["-n", "user.binary", "-v", "0x00ff10", "share/doc/readme"]);
    set(&src, "setfattr", &["-n", "user.dir", "-v", "d", "share"]);
    set(&src, "setfacl", &["-m", "u:1234:rwx,g:4321:r", "etc/conf"]);
    set(&src, "setfacl", &["-d", "-m", "u:1234:rx,o::-", "share/doc"]);
    if euid() == 0 {
        set(&src, "setfattr", &["-n", "trusted.origin", "-v", "build-42", "bin/ping"]);
        set(&src, "setfattr", &["-h", "-n", "trusted.link", "-v", "l", "etc/link"]);
        set(&src, "setcap", &["cap_net_raw,cap_net_admin=ep", "bin/ping"]);
    }
}

#[test]
fn xattrs_acls_and_capabilities_replicate_as_rsync_ahax_does() {
    let env = Env::new();
    rich_tree(&env);
    let source = metadata_dump(&env.src());
    assert!(source.contains("user.mime_type") && source.contains("user:1234:rwx"), "{source}");
    if euid() == 0 {
        assert!(source.contains("cap_net_admin,cap_net_raw=ep"), "{source}");
    }
    env.sync(&[]);
    env.assert_replica();
    assert_eq!(metadata_dump(&env.dst()), source, "the replica's metadata differs");

    let rsync = rsync_replica(&env, "-aHAX");
    assert_eq!(
        metadata_dump(&rsync),
        metadata_dump(&env.dst()),
        "rsync -aHAX keeps other metadata"
    );

    // An unchanged tree stays unchanged: nothing to do, and verify finds the attributes.
    env.tern(["plan", "--detailed-exitcode", "src", "dst"]).ok();
    env.tern(["verify", "dst"]).ok();
}

#[test]
fn xattrs_replicate_over_ssh() {
    let env = Env::new();
    rich_tree(&env);
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(done.stdout().contains("via ssh (remote tern agent)"), "{}", done.describe());
    assert_eq!(metadata_dump(&env.dst()), metadata_dump(&env.src()));

    // A metadata-only change goes as one, and removing an attribute removes it.
    set(&env.src(), "setfattr", &["-x", "user.mime_type", "etc/conf"]);
    set(&env.src(), "setfattr", &["-n", "user.new", "-v", "1", "etc/plain"]);
    let plan = sshd.tern(&env, ["plan", "src", &url]).ok();
    let out = plan.stdout();
    assert!(out.contains(". file    etc/conf (xattrs user.mime_type)"), "{out}");
    assert!(out.contains(". file    etc/plain (xattrs user.new)"), "{out}");
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(done.stdout().contains("0 B sent"), "{}", done.describe());
    assert_eq!(metadata_dump(&env.dst()), metadata_dump(&env.src()));
}

#[test]
fn a_metadata_only_change_is_planned_with_what_changed_and_verify_sees_tampering() {
    let env = Env::new();
    rich_tree(&env);
    env.sync(&[]);
    set(&env.src(), "setfacl", &["-m", "u:99:r", "etc/plain"]);
    set(&env.src(), "setfattr", &["-n", "user.mime_type", "-v", "text/html", "etc/conf"]);
    let plan = env.tern(["plan", "--detailed-exitcode", "src", "dst"]).code(2);
    let out = plan.stdout();
    assert!(out.contains(". file    etc/plain (xattrs acl)"), "{out}");
    assert!(out.contains(". file    etc/conf (xattrs user.mime_type)"), "{out}");
    let json = env.tern(["plan", "--format", "json", "src", "dst"]).ok().stdout();
    assert!(json.contains("\"xattrs\": [\n        \"acl\"\n      ]"), "{json}");
    env.sync(&[]);
    assert_eq!(metadata_dump(&env.dst()), metadata_dump(&env.src()));

    // An attribute added at the replica behind tern's back is a metadata finding (exit 4).
    set(&env.dst(), "setfattr", &["-n", "user.sneaky", "-v", "1", "etc/conf"]);
    env.tern(["verify", "dst"])
        .code(4)
        .stdout_has("metadata etc/conf: extended attributes differ (user.sneaky)");
    // The next sync puts the replica back as the manifest says only for changed entries; a
    // repair sends what verify found.
    env.tern(["verify", "--repair", "src", "dst"]).ok();
    assert_eq!(metadata_dump(&env.dst()), metadata_dump(&env.src()));
}

#[test]
fn no_xattrs_leaves_them_out() {
    let env = Env::new();
    rich_tree(&env);
    env.sync(&["--no-xattrs"]);
    let replica = metadata_dump(&env.dst());
    assert!(!replica.contains("user.") && !replica.contains("user:1234"), "{replica}");
    // The hash cache of that scan is not trusted by a scan that reads them.
    env.sync(&[]);
    assert_eq!(metadata_dump(&env.dst()), metadata_dump(&env.src()));
}

/// As a user, a destination keeps user xattrs and ACLs; what only root may set is one warning
/// naming the attribute, not a failed run.
#[test]
fn a_destination_that_cannot_keep_an_attribute_warns_once() {
    if euid() != 0 {
        eprintln!("needs root to make a file capability and to run tern as another user");
        return;
    }
    let env = Env::new();
    rich_tree(&env);
    mknod(&env.src().join("etc/fifo"), rustix::fs::FileType::Fifo, 0);
    let null = rustix::fs::makedev(1, 3);
    mknod(&env.src().join("etc/null0"), rustix::fs::FileType::CharacterDevice, null);
    // The source stays root's (a chown would clear its capability); the user can read it and
    // owns only where it writes.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dst = env.path("user-dst");
    for dir in [&dst, &env.path("cache"), &env.path("state")] {
        std::fs::create_dir_all(dir).unwrap();
        std::os::unix::fs::lchown(dir, Some(65534), Some(65534)).unwrap();
    }
    let mut run = env.tern(Vec::<String>::new());
    run.cmd = Command::new("setpriv");
    run.cmd
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            TERN,
            "sync",
            "src",
            "user-dst/r",
        ])
        .current_dir(env.dir.path())
        .env("TERN_CACHE_DIR", env.path("cache"))
        .env("TERN_STATE_DIR", env.path("state"));
    let done = run.ok();
    let warnings: Vec<&str> =
        done.stderr().lines().filter(|l| l.contains("did not keep")).map(|_| "").collect();
    assert_eq!(warnings.len(), 1, "{}", done.describe());
    let done = done
        .stderr_has("security.capability")
        .stderr_has("only root keeps security.* and trusted.*");
    let replica = metadata_dump(&dst.join("r"));
    assert!(replica.contains("user.mime_type") && replica.contains("user:1234:rwx"), "{replica}");
    assert!(!replica.contains("cap_net"), "{replica}");
    // A FIFO anyone may make; a device file only root.
    let nodes = snapshot(&dst.join("r"));
    assert!(matches!(nodes[b"etc/fifo".as_slice()], Node::Special { kind: 0o010000, .. }));
    assert!(!nodes.contains_key(b"etc/null0".as_slice()), "a user made a device file");
    assert!(done.stdout().contains("synced"), "{}", done.describe());
}

/// Make a FIFO, or (as root) a device file, with `mknod(2)`.
fn mknod(p: &Path, kind: rustix::fs::FileType, dev: u64) {
    rustix::fs::mknodat(rustix::fs::CWD, p, kind, rustix::fs::Mode::from_raw_mode(0o640), dev)
        .unwrap_or_else(|e| panic!("mknod {}: {e}", p.display()));
}

/// A tree with a FIFO, a socket and (as root) a character and a block device.
fn special_tree(env: &Env) {
    use rustix::fs::FileType;
    env.tree("src").file("dev/regular", "r").file("run/keep", "k");
    let src = env.src();
    mknod(&src.join("run/fifo"), FileType::Fifo, 0);
    std::os::unix::net::UnixListener::bind(src.join("run/sock")).unwrap();
    if euid() == 0 {
        mknod(&src.join("dev/null0"), FileType::CharacterDevice, rustix::fs::makedev(1, 3));
        mknod(&src.join("dev/loop9"), FileType::BlockDevice, rustix::fs::makedev(7, 9));
    }
    // Settled times: rsync leaves a new device's time alone when the source's is within the
    // second it makes it in, and the comparison with rsync is of the replicas.
    for e in walkdir::WalkDir::new(&src).contents_first(true) {
        let t = filetime::FileTime::from_unix_time(1_600_000_000, 5);
        filetime::set_symlink_file_times(e.unwrap().path(), t, t).unwrap();
    }
}

/// The source's snapshot without its sockets, which are not replicated.
fn without_sockets(root: &Path) -> Snapshot {
    let mut s = snapshot(root);
    s.retain(|_, n| !matches!(n, Node::Special { kind: 0o140000, .. }));
    s
}

#[test]
fn fifos_and_device_files_replicate_and_sockets_are_skipped_with_a_note() {
    let env = Env::new();
    special_tree(&env);
    let done = env.sync(&[]);
    done.stderr_has("tern: note: skipping socket run/sock");
    let replica = snapshot(&env.dst());
    assert_eq!(replica, without_sockets(&env.src()));
    let fifo = &replica[b"run/fifo".as_slice()];
    assert!(matches!(fifo, Node::Special { kind: 0o010000, mode: 0o640, .. }), "{fifo:?}");
    if euid() == 0 {
        let dev = &replica[b"dev/null0".as_slice()];
        let want = rustix::fs::makedev(1, 3);
        assert!(
            matches!(dev, Node::Special { kind: 0o020000, rdev, .. } if *rdev == want),
            "{dev:?}"
        );
    }
    // rsync -a (which implies -D) makes the same replica, but for the socket: rsync copies
    // sockets too, tern leaves them out (a socket belongs to the process listening on it).
    let rsync = rsync_replica(&env, "-aHAX");
    assert_eq!(without_sockets(&rsync), replica, "rsync -aHAX made another replica");

    env.tern(["plan", "--detailed-exitcode", "src", "dst"]).ok();
    env.tern(["verify", "dst"]).ok();
    if euid() == 0 {
        // A device replaced by another number is found, and a sync puts the right one back.
        std::fs::remove_file(env.dst().join("dev/null0")).unwrap();
        let other = rustix::fs::makedev(1, 5);
        mknod(&env.dst().join("dev/null0"), rustix::fs::FileType::CharacterDevice, other);
        env.tern(["verify", "dst"])
            .code(4)
            .stdout_has("changed  dev/null0: the device number differs");
        env.tern(["verify", "--repair", "src", "dst"]).ok();
        assert_eq!(snapshot(&env.dst()), without_sockets(&env.src()));
    }
}

#[test]
fn special_files_replicate_over_ssh() {
    let env = Env::new();
    special_tree(&env);
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    sshd.tern(&env, ["sync", "src", &url]).ok();
    assert_eq!(snapshot(&env.dst()), without_sockets(&env.src()));
    // A FIFO that becomes a file is a replacement, over the wire too.
    std::fs::remove_file(env.src().join("run/fifo")).unwrap();
    std::fs::write(env.src().join("run/fifo"), "now a file").unwrap();
    let plan = sshd.tern(&env, ["plan", "src", &url]).ok();
    assert!(plan.stdout().contains("~ file    run/fifo (10 B, was fifo)"), "{}", plan.describe());
    sshd.tern(&env, ["sync", "src", &url]).ok();
    assert_eq!(snapshot(&env.dst()), without_sockets(&env.src()));
}

/// `-x` lists a mount point inside the source, empty, and nothing below it (as rsync -x).
#[test]
fn one_file_system_does_not_cross_a_mount_point() {
    if euid() != 0 {
        eprintln!("needs root to mount a file system inside the source");
        return;
    }
    let env = Env::new();
    env.tree("src").file("top", "t").dir("mnt");
    let mnt = env.src().join("mnt");
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "tern-test", &mnt.display().to_string()])
        .status()
        .expect("mount");
    assert!(status.success(), "cannot mount a tmpfs at {}", mnt.display());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.clone());
    std::fs::write(mnt.join("inside"), "other file system").unwrap();
    env.sync(&["-x"]);
    assert!(env.dst().join("mnt").is_dir());
    assert!(!env.dst().join("mnt/inside").exists(), "-x crossed into the tmpfs");
    assert!(env.dst().join("top").is_file());
    // Without it, the mounted file is replicated like any other.
    env.sync(&[]);
    assert_eq!(std::fs::read(env.dst().join("mnt/inside")).unwrap(), b"other file system");
}

/// The names below `root` grouped by inode, for the groups of more than one: the link
/// structure of a tree, as `rsync -H` keeps it.
fn link_groups(root: &Path) -> Vec<Vec<String>> {
    use std::os::unix::fs::MetadataExt;
    let mut by_inode: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    let walk = walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name();
    for e in walk.into_iter().filter_entry(|e| !(e.depth() == 1 && e.file_name() == ".tern")) {
        let e = e.unwrap();
        let md = e.path().symlink_metadata().unwrap();
        if md.is_file() {
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            by_inode.entry(md.ino()).or_default().push(rel);
        }
    }
    let mut groups: Vec<Vec<String>> = by_inode.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    groups
}

/// A tree with a group of three names of one large file across directories, a pair, and a
/// file with a second name outside the tree.
fn linked_tree(env: &Env) -> usize {
    let big = noise(11, 400_000);
    env.tree("src")
        .file("bin/tool", &big)
        .file("etc/pair-a", "pair")
        .file("solo", "solo")
        .file("outside-target", "x")
        .dir("lib/deep");
    let src = env.src();
    std::fs::hard_link(src.join("bin/tool"), src.join("lib/deep/tool")).unwrap();
    std::fs::hard_link(src.join("bin/tool"), src.join("zz-tool")).unwrap();
    std::fs::hard_link(src.join("etc/pair-a"), src.join("etc/pair-b")).unwrap();
    std::fs::hard_link(src.join("solo"), env.path("solo-elsewhere")).unwrap();
    big.len()
}

/// The bytes a sync summary says were sent.
fn sent(summary: &str) -> f64 {
    let figure = summary.split(" sent").next().unwrap().rsplit([';', ',']).next().unwrap().trim();
    let (n, unit) = figure.split_once(' ').unwrap();
    let n: f64 = n.parse().unwrap();
    n * match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1048576.0,
        u => panic!("unit {u}"),
    }
}

#[test]
fn hard_link_groups_replicate_as_links_with_their_content_sent_once() {
    let env = Env::new();
    let size = linked_tree(&env);
    let want = vec![
        vec!["bin/tool".to_string(), "lib/deep/tool".into(), "zz-tool".into()],
        vec!["etc/pair-a".to_string(), "etc/pair-b".into()],
    ];
    assert_eq!(link_groups(&env.src()), want);
    let done = env.sync(&[]);
    let bytes = sent(&done.stdout());
    assert!(bytes < size as f64 * 1.1, "sent {bytes} for one file of {size}: {}", done.describe());
    assert_eq!(link_groups(&env.dst()), want);
    assert_eq!(snapshot(&env.dst()), snapshot(&env.src()));
    // A name whose other name is outside the tree is a file of its own.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(env.dst().join("solo")).map(|m| m.nlink()).unwrap(), 1);
    // rsync -aH makes the same groups.
    let rsync = rsync_replica(&env, "-aH");
    assert_eq!(link_groups(&rsync), want);
    env.tern(["plan", "--detailed-exitcode", "src", "dst"]).ok();
    env.tern(["verify", "dst"]).ok();

    // An edit reaches every name; a new name is a link, sent as nothing.
    let src = env.src();
    std::fs::write(src.join("bin/tool"), noise(12, 400_000)).unwrap();
    std::fs::hard_link(src.join("etc/pair-a"), src.join("etc/pair-c")).unwrap();
    let plan = env.tern(["plan", "src", "dst"]).ok().stdout();
    assert!(plan.contains("+ hardlink etc/pair-c (=> etc/pair-a)"), "{plan}");
    assert!(plan.contains("> hardlink zz-tool (=> bin/tool)"), "{plan}");
    env.sync(&[]);
    assert_eq!(snapshot(&env.dst()), snapshot(&env.src()));
    assert_eq!(link_groups(&env.dst()), link_groups(&env.src()));

    // Breaking a link at the source breaks it at the replica; removing the first name leaves
    // the others linked, with the content.
    std::fs::remove_file(src.join("etc/pair-b")).unwrap();
    std::fs::write(src.join("etc/pair-b"), "pair").unwrap();
    std::fs::remove_file(src.join("bin/tool")).unwrap();
    env.sync(&[]);
    assert_eq!(snapshot(&env.dst()), snapshot(&env.src()));
    assert_eq!(link_groups(&env.dst()), link_groups(&env.src()));
    assert_eq!(
        link_groups(&env.dst()),
        vec![
            vec!["etc/pair-a".to_string(), "etc/pair-c".into()],
            vec!["lib/deep/tool".to_string(), "zz-tool".into()]
        ]
    );

    // A name replaced by a copy behind tern's back is found.
    std::fs::remove_file(env.dst().join("etc/pair-c")).unwrap();
    std::fs::write(env.dst().join("etc/pair-c"), "pair").unwrap();
    env.tern(["verify", "dst"]).code(4).stdout_has("etc/pair-c: not a hard link of etc/pair-a");
}

#[test]
fn no_hard_links_makes_every_name_a_file() {
    let env = Env::new();
    linked_tree(&env);
    env.sync(&["--no-hard-links"]);
    assert!(link_groups(&env.dst()).is_empty());
    assert_eq!(snapshot(&env.dst()), snapshot(&env.src()));
}

#[test]
fn hard_links_replicate_over_ssh_and_sftp_says_it_cannot() {
    let env = Env::new();
    let size = linked_tree(&env);
    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.dst());
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    let bytes = sent(&done.stdout());
    assert!(bytes < size as f64 * 1.1, "sent {bytes}: {}", done.describe());
    assert_eq!(link_groups(&env.dst()), link_groups(&env.src()));
    assert_eq!(snapshot(&env.dst()), snapshot(&env.src()));

    let other = sshd.url(&env.path("sftp-dst"));
    let sftp = ["sync", "--remote-tern", "/nonexistent/tern", "src", &other];
    sshd.tern(&env, sftp)
        .code(1)
        .stderr_has("cannot make hard links (etc/pair-b is one); nothing was written")
        .stderr_has("--no-hard-links");
    assert!(!env.path("sftp-dst/bin").exists(), "something was written");
    let sftp = ["sync", "--remote-tern", "/nonexistent/tern", "--no-hard-links", "src", &other];
    sshd.tern(&env, sftp).ok();
}

/// A file of `len` bytes that holds `data` at `at` and holes elsewhere.
fn sparse_file(p: &Path, len: u64, parts: &[(u64, Vec<u8>)]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(p).unwrap();
    for (at, data) in parts {
        f.write_all_at(data, *at).unwrap();
    }
    f.set_len(len).unwrap();
}

fn allocated(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().blocks() * 512
}

#[test]
fn sparse_files_keep_their_holes_locally_and_over_ssh() {
    let env = Env::new();
    env.tree("src").file("dense-zeros", vec![0u8; 300_000]).dir("img");
    let img = env.src().join("img/vm.img");
    let parts = [(5 << 20, noise(21, 1 << 20)), (40 << 20, noise(22, 300_000))];
    sparse_file(&img, 64 << 20, &parts);
    let data = allocated(&img);
    assert!(data < 2 << 20, "the test file is not sparse here ({data} bytes allocated)");
    env.sync(&[]);
    assert_eq!(std::fs::read(env.dst().join("img/vm.img")).unwrap(), std::fs::read(&img).unwrap());
    let replica = allocated(&env.dst().join("img/vm.img"));
    assert!(replica <= data + 64 * 1024, "replica has {replica} bytes allocated, source {data}");
    // A file of zeros that has no holes keeps its blocks, as at the source.
    assert!(allocated(&env.dst().join("dense-zeros")) >= 300_000);

    let sshd = Sshd::start(&env);
    let url = sshd.url(&env.path("remote"));
    let done = sshd.tern(&env, ["sync", "src", &url]).ok();
    let out = done.stdout();
    let wire = out.split("; ").find_map(|p| p.strip_suffix(" on the wire")).unwrap_or("?");
    let remote = allocated(&env.path("remote/img/vm.img"));
    assert!(remote <= data + 64 * 1024, "remote replica has {remote} bytes allocated");
    assert_eq!(std::fs::read(env.path("remote/img/vm.img")).unwrap(), std::fs::read(&img).unwrap());
    // The holes cost next to nothing on the wire: the data is 1.3 MiB of noise.
    let mib = wire.strip_suffix(" MiB").and_then(|n| n.parse::<f64>().ok());
    assert!(mib.is_some_and(|m| m < 2.0), "{wire} on the wire: {}", done.describe());

    // A change inside the image sends only the chunks around it.
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .write_all_at(b"edit", 20 << 20)
        .unwrap();
    let again = sshd.tern(&env, ["sync", "src", &url]).ok();
    assert!(sent(&again.stdout()) < 200_000.0, "{}", again.describe());
    assert_eq!(std::fs::read(env.path("remote/img/vm.img")).unwrap(), std::fs::read(&img).unwrap());
}
