
use builtin;
use str;

set edit:completion:arg-completer[tern] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'tern'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'tern'= {
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand sync 'Replicate SOURCE into DEST (mirroring: entries missing from SOURCE go to DEST''s trash)'
            cand plan 'Show what `tern sync` would change, without writing anything anywhere'
            cand watch 'Replicate SOURCE into DEST as it changes: a sync, then each change about a second later (until SIGTERM or SIGINT)'
            cand apply 'Apply a plan saved with `tern plan --out`, exactly as it was reviewed'
            cand config 'Check the job file; every problem is listed with file:line'
            cand jobs 'List the configured jobs: schedule in words, time zone, destinations, next fire times'
            cand run 'Run one configured job now, in the foreground (recorded in the history)'
            cand daemon 'Run every scheduled job on its cron schedule, and watch every watch job, until SIGTERM or SIGINT (SIGHUP reloads)'
            cand status 'The last run and next run of every job and destination (and a watch job''s state)'
            cand verify 'Re-hash the destination against its manifest: what is missing, changed or extra'
            cand trash 'List or purge the trash of a destination (what syncs deleted or overwrote)'
            cand undo 'Put back what a run deleted or overwrote (the newest run unless --run); undoable itself'
            cand completions 'Print a completion script for SHELL to standard output'
            cand serve 'Serve a destination to a tern client on stdin/stdout (started by tern itself over SSH)'
            cand generate-docs 'Write man pages and completion scripts into DIR/man and DIR/completions (for packagers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tern;sync'= {
            cand --exclude 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable'
            cand --exclude-from 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)'
            cand -F 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand --ssh-config 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand -o 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable'
            cand -i 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --identity 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --known-hosts 'Check host keys against this known_hosts file (and record accepted ones there)'
            cand --host-key-policy 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]'
            cand --remote-tern 'The tern binary on the remote host'
            cand --bwlimit 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync'
            cand --compress-level 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk'
            cand --keep-trash 'After a successful sync, purge trash runs older than DURATION ("forever" keeps them)'
            cand --prefer 'With --two-way: the side that wins a conflict, SOURCE (a), DEST (b) or the newer; the other version goes to its replica''s trash only. Without it the newer version wins and the other is kept beside it as NAME.tern-conflict-HOST-TIME.EXT on both replicas'
            cand --max-delete 'Refuse to delete more than N destination entries, or more than N% of them'
            cand --no-delete 'Keep destination entries that are missing from the source instead of deleting them'
            cand -c 'Re-hash every source file instead of trusting the hash cache of unchanged files'
            cand --checksum 'Re-hash every source file instead of trusting the hash cache of unchanged files'
            cand --no-cache 'Do not read or write the source hash cache'
            cand --no-xattrs 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)'
            cand --no-hard-links 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)'
            cand -x 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
            cand --one-file-system 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
            cand --check-dest 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat''ed)'
            cand -n 'Print what would change and change nothing (the same plan `tern plan` shows)'
            cand --dry-run 'Print what would change and change nothing (the same plan `tern plan` shows)'
            cand --detailed-exitcode 'With --dry-run: exit 2 when changes are pending, 0 when in sync (5 with conflicts, in a two-way sync)'
            cand --two-way 'SOURCE and DEST are two replicas that both take writes (each a directory or [user@]host:path): what changed on either side since their last two-way sync goes to the other; conflicts keep both versions'
            cand --force 'Mirror an empty source onto a non-empty destination (refused otherwise)'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;plan'= {
            cand --exclude 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable'
            cand --exclude-from 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)'
            cand -F 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand --ssh-config 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand -o 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable'
            cand -i 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --identity 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --known-hosts 'Check host keys against this known_hosts file (and record accepted ones there)'
            cand --host-key-policy 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]'
            cand --remote-tern 'The tern binary on the remote host'
            cand --bwlimit 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync'
            cand --compress-level 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk'
            cand --format 'Report format: itemized text, JSON (docs/plan-json.md), or Markdown for CI summaries'
            cand --out 'Also save the plan to FILE, to be applied later with `tern apply FILE`'
            cand --limit 'Most changes a Markdown report lists'
            cand --prefer 'With --two-way: the side that wins a conflict, SOURCE (a), DEST (b) or the newer; the other version goes to its replica''s trash only. Without it the newer version wins and the other is kept beside it as NAME.tern-conflict-HOST-TIME.EXT on both replicas'
            cand --max-delete 'Refuse to delete more than N destination entries, or more than N% of them'
            cand --no-delete 'Keep destination entries that are missing from the source instead of deleting them'
            cand -c 'Re-hash every source file instead of trusting the hash cache of unchanged files'
            cand --checksum 'Re-hash every source file instead of trusting the hash cache of unchanged files'
            cand --no-cache 'Do not read or write the source hash cache'
            cand --no-xattrs 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)'
            cand --no-hard-links 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)'
            cand -x 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
            cand --one-file-system 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
            cand --check-dest 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat''ed)'
            cand --detailed-exitcode 'Exit 2 when changes are pending, 0 when in sync, 1 on error (or a refusing guard); 5 when a two-way plan has conflicts'
            cand --two-way 'SOURCE and DEST are two replicas that both take writes (each a directory or [user@]host:path): what changed on either side since their last two-way sync goes to the other; conflicts keep both versions'
            cand --force 'Mirror an empty source onto a non-empty destination (refused otherwise)'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;watch'= {
            cand --exclude 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable'
            cand --exclude-from 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)'
            cand -F 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand --ssh-config 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand -o 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable'
            cand -i 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --identity 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --known-hosts 'Check host keys against this known_hosts file (and record accepted ones there)'
            cand --host-key-policy 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]'
            cand --remote-tern 'The tern binary on the remote host'
            cand --bwlimit 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync'
            cand --compress-level 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk'
            cand --keep-trash 'After a successful sync, purge trash runs older than DURATION ("forever" keeps them)'
            cand --delay 'Quiet time before changes are synced (e.g. 200ms, 1s)'
            cand --full-every 'Also scan the whole source this often (e.g. 1h), as a safety net'
            cand --max-delete 'Refuse to delete more than N destination entries, or more than N% of them'
            cand --no-delete 'Keep destination entries that are missing from the source instead of deleting them'
            cand -c 'Re-hash every source file instead of trusting the hash cache of unchanged files'
            cand --checksum 'Re-hash every source file instead of trusting the hash cache of unchanged files'
            cand --no-cache 'Do not read or write the source hash cache'
            cand --no-xattrs 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)'
            cand --no-hard-links 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)'
            cand -x 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
            cand --one-file-system 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
            cand --check-dest 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat''ed)'
            cand --force 'Mirror an empty source onto a non-empty destination (refused otherwise)'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;apply'= {
            cand -F 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand --ssh-config 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand -o 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable'
            cand -i 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --identity 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --known-hosts 'Check host keys against this known_hosts file (and record accepted ones there)'
            cand --host-key-policy 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]'
            cand --remote-tern 'The tern binary on the remote host'
            cand --bwlimit 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync'
            cand --compress-level 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk'
            cand --max-delete 'Refuse to delete more than N destination entries, or more than N% of them'
            cand --force 'Mirror an empty source onto a non-empty destination (refused otherwise)'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;config'= {
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
            cand check 'Validate the job file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tern;config;check'= {
            cand --config 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;config;help'= {
            cand check 'Validate the job file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tern;config;help;check'= {
        }
        &'tern;config;help;help'= {
        }
        &'tern;jobs'= {
            cand --config 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]'
            cand --next 'How many fire times to show per job'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;run'= {
            cand --config 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]'
            cand --log-format 'Log lines as text or as JSON objects (job and destination in every line)'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;daemon'= {
            cand --config 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]'
            cand --log-format 'Log lines as text or as JSON objects (job and destination in every line)'
            cand --metrics-listen 'Serve Prometheus metrics over HTTP at http://ADDR/metrics (e.g. 127.0.0.1:9184), as well as or instead of the job file''s metrics_file'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;status'= {
            cand --config 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]'
            cand --json 'Print JSON instead of a table'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;verify'= {
            cand --source 'The source to compare with (same as giving it before DEST)'
            cand --format 'Report format'
            cand -F 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand --ssh-config 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand -o 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable'
            cand -i 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --identity 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --known-hosts 'Check host keys against this known_hosts file (and record accepted ones there)'
            cand --host-key-policy 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]'
            cand --remote-tern 'The tern binary on the remote host'
            cand --bwlimit 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync'
            cand --compress-level 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk'
            cand --repair 'Re-send from the source whatever is missing or wrong at the destination (fetches nothing)'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;trash'= {
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'The runs with trashed entries: how many, how large, how old'
            cand purge 'Delete trash runs for good (all of them, or those older than --older-than)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tern;trash;list'= {
            cand -F 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand --ssh-config 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand -o 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable'
            cand -i 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --identity 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --known-hosts 'Check host keys against this known_hosts file (and record accepted ones there)'
            cand --host-key-policy 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]'
            cand --remote-tern 'The tern binary on the remote host'
            cand --bwlimit 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync'
            cand --compress-level 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk'
            cand --json 'Print JSON'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;trash;purge'= {
            cand --older-than 'Only runs older than this (e.g. 7d, 12h, 30m)'
            cand -F 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand --ssh-config 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand -o 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable'
            cand -i 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --identity 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --known-hosts 'Check host keys against this known_hosts file (and record accepted ones there)'
            cand --host-key-policy 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]'
            cand --remote-tern 'The tern binary on the remote host'
            cand --bwlimit 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync'
            cand --compress-level 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;trash;help'= {
            cand list 'The runs with trashed entries: how many, how large, how old'
            cand purge 'Delete trash runs for good (all of them, or those older than --older-than)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tern;trash;help;list'= {
        }
        &'tern;trash;help;purge'= {
        }
        &'tern;trash;help;help'= {
        }
        &'tern;undo'= {
            cand --run 'The run to undo, as `tern trash list` shows it'
            cand -F 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand --ssh-config 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config'
            cand -o 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable'
            cand -i 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --identity 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable'
            cand --known-hosts 'Check host keys against this known_hosts file (and record accepted ones there)'
            cand --host-key-policy 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]'
            cand --remote-tern 'The tern binary on the remote host'
            cand --bwlimit 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync'
            cand --compress-level 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;completions'= {
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;serve'= {
            cand --root 'The destination directory (restricted agents take it from SSH_ORIGINAL_COMMAND)'
            cand --restrict-to 'Serve only DIR and what is below it: for a forced command in authorized_keys (`command="tern serve --restrict-to /srv/backups"`); any other path is refused'
            cand --read-only 'Serve plans and verify only: refuse locks, writes, purges and undo'
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;generate-docs'= {
            cand -q 'Print nothing but errors: no progress lines, no summary'
            cand --quiet 'Print nothing but errors: no progress lines, no summary'
            cand -v 'Say more: list every change a sync makes, and metadata details in plans'
            cand --verbose 'Say more: list every change a sync makes, and metadata details in plans'
            cand --progress 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'tern;help'= {
            cand sync 'Replicate SOURCE into DEST (mirroring: entries missing from SOURCE go to DEST''s trash)'
            cand plan 'Show what `tern sync` would change, without writing anything anywhere'
            cand watch 'Replicate SOURCE into DEST as it changes: a sync, then each change about a second later (until SIGTERM or SIGINT)'
            cand apply 'Apply a plan saved with `tern plan --out`, exactly as it was reviewed'
            cand config 'Check the job file; every problem is listed with file:line'
            cand jobs 'List the configured jobs: schedule in words, time zone, destinations, next fire times'
            cand run 'Run one configured job now, in the foreground (recorded in the history)'
            cand daemon 'Run every scheduled job on its cron schedule, and watch every watch job, until SIGTERM or SIGINT (SIGHUP reloads)'
            cand status 'The last run and next run of every job and destination (and a watch job''s state)'
            cand verify 'Re-hash the destination against its manifest: what is missing, changed or extra'
            cand trash 'List or purge the trash of a destination (what syncs deleted or overwrote)'
            cand undo 'Put back what a run deleted or overwrote (the newest run unless --run); undoable itself'
            cand completions 'Print a completion script for SHELL to standard output'
            cand serve 'Serve a destination to a tern client on stdin/stdout (started by tern itself over SSH)'
            cand generate-docs 'Write man pages and completion scripts into DIR/man and DIR/completions (for packagers)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'tern;help;sync'= {
        }
        &'tern;help;plan'= {
        }
        &'tern;help;watch'= {
        }
        &'tern;help;apply'= {
        }
        &'tern;help;config'= {
            cand check 'Validate the job file'
        }
        &'tern;help;config;check'= {
        }
        &'tern;help;jobs'= {
        }
        &'tern;help;run'= {
        }
        &'tern;help;daemon'= {
        }
        &'tern;help;status'= {
        }
        &'tern;help;verify'= {
        }
        &'tern;help;trash'= {
            cand list 'The runs with trashed entries: how many, how large, how old'
            cand purge 'Delete trash runs for good (all of them, or those older than --older-than)'
        }
        &'tern;help;trash;list'= {
        }
        &'tern;help;trash;purge'= {
        }
        &'tern;help;undo'= {
        }
        &'tern;help;completions'= {
        }
        &'tern;help;serve'= {
        }
        &'tern;help;generate-docs'= {
        }
        &'tern;help;help'= {
        }
    ]
    $completions[$command]
}
