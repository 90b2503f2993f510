# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tern_global_optspecs
    string join \n q/quiet v/verbose progress h/help V/version
end

function __fish_tern_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tern_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tern_using_subcommand
    set -l cmd (__fish_tern_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tern -n "__fish_tern_needs_command" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_needs_command" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_needs_command" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tern -n "__fish_tern_needs_command" -s V -l version -d 'Print version'
complete -c tern -n "__fish_tern_needs_command" -f -a "sync" -d 'Replicate SOURCE into DEST (mirroring: entries missing from SOURCE go to DEST\'s trash)'
complete -c tern -n "__fish_tern_needs_command" -f -a "plan" -d 'Show what `tern sync` would change, without writing anything anywhere'
complete -c tern -n "__fish_tern_needs_command" -f -a "watch" -d 'Replicate SOURCE into DEST as it changes: a sync, then each change about a second later (until SIGTERM or SIGINT)'
complete -c tern -n "__fish_tern_needs_command" -f -a "apply" -d 'Apply a plan saved with `tern plan --out`, exactly as it was reviewed'
complete -c tern -n "__fish_tern_needs_command" -f -a "config" -d 'Check the job file; every problem is listed with file:line'
complete -c tern -n "__fish_tern_needs_command" -f -a "jobs" -d 'List the configured jobs: schedule in words, time zone, destinations, next fire times'
complete -c tern -n "__fish_tern_needs_command" -f -a "run" -d 'Run one configured job now, in the foreground (recorded in the history)'
complete -c tern -n "__fish_tern_needs_command" -f -a "daemon" -d 'Run every scheduled job on its cron schedule, and watch every watch job, until SIGTERM or SIGINT (SIGHUP reloads)'
complete -c tern -n "__fish_tern_needs_command" -f -a "status" -d 'The last run and next run of every job and destination (and a watch job\'s state)'
complete -c tern -n "__fish_tern_needs_command" -f -a "verify" -d 'Re-hash the destination against its manifest: what is missing, changed or extra'
complete -c tern -n "__fish_tern_needs_command" -f -a "trash" -d 'List or purge the trash of a destination (what syncs deleted or overwrote)'
complete -c tern -n "__fish_tern_needs_command" -f -a "undo" -d 'Put back what a run deleted or overwrote (the newest run unless --run); undoable itself'
complete -c tern -n "__fish_tern_needs_command" -f -a "completions" -d 'Print a completion script for SHELL to standard output'
complete -c tern -n "__fish_tern_needs_command" -f -a "serve" -d 'Serve a destination to a tern client on stdin/stdout (started by tern itself over SSH)'
complete -c tern -n "__fish_tern_needs_command" -f -a "generate-docs" -d 'Write man pages and completion scripts into DIR/man and DIR/completions (for packagers)'
complete -c tern -n "__fish_tern_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tern -n "__fish_tern_using_subcommand sync" -l exclude -d 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand sync" -l exclude-from -d 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)' -r -F
complete -c tern -n "__fish_tern_using_subcommand sync" -s F -l ssh-config -d 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config' -r -F
complete -c tern -n "__fish_tern_using_subcommand sync" -s o -d 'An ssh_config option that wins over the config file\'s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand sync" -s i -l identity -d 'Try this private key (after ssh-agent, before the config\'s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable' -r -F
complete -c tern -n "__fish_tern_using_subcommand sync" -l known-hosts -d 'Check host keys against this known_hosts file (and record accepted ones there)' -r -F
complete -c tern -n "__fish_tern_using_subcommand sync" -l host-key-policy -d 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config\'s StrictHostKeyChecking]' -r -f -a "strict\t''
accept-new\t''"
complete -c tern -n "__fish_tern_using_subcommand sync" -l remote-tern -d 'The tern binary on the remote host' -r
complete -c tern -n "__fish_tern_using_subcommand sync" -l bwlimit -d 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync' -r
complete -c tern -n "__fish_tern_using_subcommand sync" -l compress-level -d 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk' -r
complete -c tern -n "__fish_tern_using_subcommand sync" -l keep-trash -d 'After a successful sync, purge trash runs older than DURATION ("forever" keeps them)' -r
complete -c tern -n "__fish_tern_using_subcommand sync" -l prefer -d 'With --two-way: the side that wins a conflict, SOURCE (a), DEST (b) or the newer; the other version goes to its replica\'s trash only. Without it the newer version wins and the other is kept beside it as NAME.tern-conflict-HOST-TIME.EXT on both replicas' -r -f -a "a\t''
b\t''
newer\t''"
complete -c tern -n "__fish_tern_using_subcommand sync" -l max-delete -d 'Refuse to delete more than N destination entries, or more than N% of them' -r
complete -c tern -n "__fish_tern_using_subcommand sync" -l no-delete -d 'Keep destination entries that are missing from the source instead of deleting them'
complete -c tern -n "__fish_tern_using_subcommand sync" -s c -l checksum -d 'Re-hash every source file instead of trusting the hash cache of unchanged files'
complete -c tern -n "__fish_tern_using_subcommand sync" -l no-cache -d 'Do not read or write the source hash cache'
complete -c tern -n "__fish_tern_using_subcommand sync" -l no-xattrs -d 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)'
complete -c tern -n "__fish_tern_using_subcommand sync" -l no-hard-links -d 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)'
complete -c tern -n "__fish_tern_using_subcommand sync" -s x -l one-file-system -d 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
complete -c tern -n "__fish_tern_using_subcommand sync" -l check-dest -d 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat\'ed)'
complete -c tern -n "__fish_tern_using_subcommand sync" -s n -l dry-run -d 'Print what would change and change nothing (the same plan `tern plan` shows)'
complete -c tern -n "__fish_tern_using_subcommand sync" -l detailed-exitcode -d 'With --dry-run: exit 2 when changes are pending, 0 when in sync (5 with conflicts, in a two-way sync)'
complete -c tern -n "__fish_tern_using_subcommand sync" -l two-way -d 'SOURCE and DEST are two replicas that both take writes (each a directory or [user@]host:path): what changed on either side since their last two-way sync goes to the other; conflicts keep both versions'
complete -c tern -n "__fish_tern_using_subcommand sync" -l force -d 'Mirror an empty source onto a non-empty destination (refused otherwise)'
complete -c tern -n "__fish_tern_using_subcommand sync" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand sync" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand sync" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand sync" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand plan" -l exclude -d 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand plan" -l exclude-from -d 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)' -r -F
complete -c tern -n "__fish_tern_using_subcommand plan" -s F -l ssh-config -d 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config' -r -F
complete -c tern -n "__fish_tern_using_subcommand plan" -s o -d 'An ssh_config option that wins over the config file\'s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand plan" -s i -l identity -d 'Try this private key (after ssh-agent, before the config\'s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable' -r -F
complete -c tern -n "__fish_tern_using_subcommand plan" -l known-hosts -d 'Check host keys against this known_hosts file (and record accepted ones there)' -r -F
complete -c tern -n "__fish_tern_using_subcommand plan" -l host-key-policy -d 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config\'s StrictHostKeyChecking]' -r -f -a "strict\t''
accept-new\t''"
complete -c tern -n "__fish_tern_using_subcommand plan" -l remote-tern -d 'The tern binary on the remote host' -r
complete -c tern -n "__fish_tern_using_subcommand plan" -l bwlimit -d 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync' -r
complete -c tern -n "__fish_tern_using_subcommand plan" -l compress-level -d 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk' -r
complete -c tern -n "__fish_tern_using_subcommand plan" -l format -d 'Report format: itemized text, JSON (docs/plan-json.md), or Markdown for CI summaries' -r -f -a "text\t''
json\t''
markdown\t''"
complete -c tern -n "__fish_tern_using_subcommand plan" -l out -d 'Also save the plan to FILE, to be applied later with `tern apply FILE`' -r -F
complete -c tern -n "__fish_tern_using_subcommand plan" -l limit -d 'Most changes a Markdown report lists' -r
complete -c tern -n "__fish_tern_using_subcommand plan" -l prefer -d 'With --two-way: the side that wins a conflict, SOURCE (a), DEST (b) or the newer; the other version goes to its replica\'s trash only. Without it the newer version wins and the other is kept beside it as NAME.tern-conflict-HOST-TIME.EXT on both replicas' -r -f -a "a\t''
b\t''
newer\t''"
complete -c tern -n "__fish_tern_using_subcommand plan" -l max-delete -d 'Refuse to delete more than N destination entries, or more than N% of them' -r
complete -c tern -n "__fish_tern_using_subcommand plan" -l no-delete -d 'Keep destination entries that are missing from the source instead of deleting them'
complete -c tern -n "__fish_tern_using_subcommand plan" -s c -l checksum -d 'Re-hash every source file instead of trusting the hash cache of unchanged files'
complete -c tern -n "__fish_tern_using_subcommand plan" -l no-cache -d 'Do not read or write the source hash cache'
complete -c tern -n "__fish_tern_using_subcommand plan" -l no-xattrs -d 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)'
complete -c tern -n "__fish_tern_using_subcommand plan" -l no-hard-links -d 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)'
complete -c tern -n "__fish_tern_using_subcommand plan" -s x -l one-file-system -d 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
complete -c tern -n "__fish_tern_using_subcommand plan" -l check-dest -d 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat\'ed)'
complete -c tern -n "__fish_tern_using_subcommand plan" -l detailed-exitcode -d 'Exit 2 when changes are pending, 0 when in sync, 1 on error (or a refusing guard); 5 when a two-way plan has conflicts'
complete -c tern -n "__fish_tern_using_subcommand plan" -l two-way -d 'SOURCE and DEST are two replicas that both take writes (each a directory or [user@]host:path): what changed on either side since their last two-way sync goes to the other; conflicts keep both versions'
complete -c tern -n "__fish_tern_using_subcommand plan" -l force -d 'Mirror an empty source onto a non-empty destination (refused otherwise)'
complete -c tern -n "__fish_tern_using_subcommand plan" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand plan" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand plan" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand plan" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand watch" -l exclude -d 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -l exclude-from -d 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)' -r -F
complete -c tern -n "__fish_tern_using_subcommand watch" -s F -l ssh-config -d 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config' -r -F
complete -c tern -n "__fish_tern_using_subcommand watch" -s o -d 'An ssh_config option that wins over the config file\'s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -s i -l identity -d 'Try this private key (after ssh-agent, before the config\'s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable' -r -F
complete -c tern -n "__fish_tern_using_subcommand watch" -l known-hosts -d 'Check host keys against this known_hosts file (and record accepted ones there)' -r -F
complete -c tern -n "__fish_tern_using_subcommand watch" -l host-key-policy -d 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config\'s StrictHostKeyChecking]' -r -f -a "strict\t''
accept-new\t''"
complete -c tern -n "__fish_tern_using_subcommand watch" -l remote-tern -d 'The tern binary on the remote host' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -l bwlimit -d 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -l compress-level -d 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -l keep-trash -d 'After a successful sync, purge trash runs older than DURATION ("forever" keeps them)' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -l delay -d 'Quiet time before changes are synced (e.g. 200ms, 1s)' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -l full-every -d 'Also scan the whole source this often (e.g. 1h), as a safety net' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -l max-delete -d 'Refuse to delete more than N destination entries, or more than N% of them' -r
complete -c tern -n "__fish_tern_using_subcommand watch" -l no-delete -d 'Keep destination entries that are missing from the source instead of deleting them'
complete -c tern -n "__fish_tern_using_subcommand watch" -s c -l checksum -d 'Re-hash every source file instead of trusting the hash cache of unchanged files'
complete -c tern -n "__fish_tern_using_subcommand watch" -l no-cache -d 'Do not read or write the source hash cache'
complete -c tern -n "__fish_tern_using_subcommand watch" -l no-xattrs -d 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)'
complete -c tern -n "__fish_tern_using_subcommand watch" -l no-hard-links -d 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)'
complete -c tern -n "__fish_tern_using_subcommand watch" -s x -l one-file-system -d 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x'
complete -c tern -n "__fish_tern_using_subcommand watch" -l check-dest -d 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat\'ed)'
complete -c tern -n "__fish_tern_using_subcommand watch" -l force -d 'Mirror an empty source onto a non-empty destination (refused otherwise)'
complete -c tern -n "__fish_tern_using_subcommand watch" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand watch" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand watch" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand watch" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand apply" -s F -l ssh-config -d 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config' -r -F
complete -c tern -n "__fish_tern_using_subcommand apply" -s o -d 'An ssh_config option that wins over the config file\'s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand apply" -s i -l identity -d 'Try this private key (after ssh-agent, before the config\'s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable' -r -F
complete -c tern -n "__fish_tern_using_subcommand apply" -l known-hosts -d 'Check host keys against this known_hosts file (and record accepted ones there)' -r -F
complete -c tern -n "__fish_tern_using_subcommand apply" -l host-key-policy -d 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config\'s StrictHostKeyChecking]' -r -f -a "strict\t''
accept-new\t''"
complete -c tern -n "__fish_tern_using_subcommand apply" -l remote-tern -d 'The tern binary on the remote host' -r
complete -c tern -n "__fish_tern_using_subcommand apply" -l bwlimit -d 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync' -r
complete -c tern -n "__fish_tern_using_subcommand apply" -l compress-level -d 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk' -r
complete -c tern -n "__fish_tern_using_subcommand apply" -l max-delete -d 'Refuse to delete more than N destination entries, or more than N% of them' -r
complete -c tern -n "__fish_tern_using_subcommand apply" -l force -d 'Mirror an empty source onto a non-empty destination (refused otherwise)'
complete -c tern -n "__fish_tern_using_subcommand apply" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand apply" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand apply" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand apply" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand config; and not __fish_seen_subcommand_from check help" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand config; and not __fish_seen_subcommand_from check help" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand config; and not __fish_seen_subcommand_from check help" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand config; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Validate the job file'
complete -c tern -n "__fish_tern_using_subcommand config; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tern -n "__fish_tern_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]' -r -F
complete -c tern -n "__fish_tern_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand config; and __fish_seen_subcommand_from check" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the job file'
complete -c tern -n "__fish_tern_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tern -n "__fish_tern_using_subcommand jobs" -l config -d 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]' -r -F
complete -c tern -n "__fish_tern_using_subcommand jobs" -l next -d 'How many fire times to show per job' -r
complete -c tern -n "__fish_tern_using_subcommand jobs" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand jobs" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand jobs" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand jobs" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand run" -l config -d 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]' -r -F
complete -c tern -n "__fish_tern_using_subcommand run" -l log-format -d 'Log lines as text or as JSON objects (job and destination in every line)' -r -f -a "human\t''
json\t''"
complete -c tern -n "__fish_tern_using_subcommand run" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand run" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand run" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand run" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand daemon" -l config -d 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]' -r -F
complete -c tern -n "__fish_tern_using_subcommand daemon" -l log-format -d 'Log lines as text or as JSON objects (job and destination in every line)' -r -f -a "human\t''
json\t''"
complete -c tern -n "__fish_tern_using_subcommand daemon" -l metrics-listen -d 'Serve Prometheus metrics over HTTP at http://ADDR/metrics (e.g. 127.0.0.1:9184), as well as or instead of the job file\'s metrics_file' -r
complete -c tern -n "__fish_tern_using_subcommand daemon" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand daemon" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand daemon" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand daemon" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand status" -l config -d 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]' -r -F
complete -c tern -n "__fish_tern_using_subcommand status" -l json -d 'Print JSON instead of a table'
complete -c tern -n "__fish_tern_using_subcommand status" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand status" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand status" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand status" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand verify" -l source -d 'The source to compare with (same as giving it before DEST)' -r -F
complete -c tern -n "__fish_tern_using_subcommand verify" -l format -d 'Report format' -r -f -a "text\t''
json\t''"
complete -c tern -n "__fish_tern_using_subcommand verify" -s F -l ssh-config -d 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config' -r -F
complete -c tern -n "__fish_tern_using_subcommand verify" -s o -d 'An ssh_config option that wins over the config file\'s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand verify" -s i -l identity -d 'Try this private key (after ssh-agent, before the config\'s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable' -r -F
complete -c tern -n "__fish_tern_using_subcommand verify" -l known-hosts -d 'Check host keys against this known_hosts file (and record accepted ones there)' -r -F
complete -c tern -n "__fish_tern_using_subcommand verify" -l host-key-policy -d 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config\'s StrictHostKeyChecking]' -r -f -a "strict\t''
accept-new\t''"
complete -c tern -n "__fish_tern_using_subcommand verify" -l remote-tern -d 'The tern binary on the remote host' -r
complete -c tern -n "__fish_tern_using_subcommand verify" -l bwlimit -d 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync' -r
complete -c tern -n "__fish_tern_using_subcommand verify" -l compress-level -d 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk' -r
complete -c tern -n "__fish_tern_using_subcommand verify" -l repair -d 'Re-send from the source whatever is missing or wrong at the destination (fetches nothing)'
complete -c tern -n "__fish_tern_using_subcommand verify" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand verify" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand verify" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand verify" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand trash; and not __fish_seen_subcommand_from list purge help" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand trash; and not __fish_seen_subcommand_from list purge help" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand trash; and not __fish_seen_subcommand_from list purge help" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand trash; and not __fish_seen_subcommand_from list purge help" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand trash; and not __fish_seen_subcommand_from list purge help" -f -a "list" -d 'The runs with trashed entries: how many, how large, how old'
complete -c tern -n "__fish_tern_using_subcommand trash; and not __fish_seen_subcommand_from list purge help" -f -a "purge" -d 'Delete trash runs for good (all of them, or those older than --older-than)'
complete -c tern -n "__fish_tern_using_subcommand trash; and not __fish_seen_subcommand_from list purge help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -s F -l ssh-config -d 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config' -r -F
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -s o -d 'An ssh_config option that wins over the config file\'s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -s i -l identity -d 'Try this private key (after ssh-agent, before the config\'s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable' -r -F
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -l known-hosts -d 'Check host keys against this known_hosts file (and record accepted ones there)' -r -F
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -l host-key-policy -d 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config\'s StrictHostKeyChecking]' -r -f -a "strict\t''
accept-new\t''"
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -l remote-tern -d 'The tern binary on the remote host' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -l bwlimit -d 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -l compress-level -d 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -l older-than -d 'Only runs older than this (e.g. 7d, 12h, 30m)' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -s F -l ssh-config -d 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config' -r -F
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -s o -d 'An ssh_config option that wins over the config file\'s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -s i -l identity -d 'Try this private key (after ssh-agent, before the config\'s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable' -r -F
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -l known-hosts -d 'Check host keys against this known_hosts file (and record accepted ones there)' -r -F
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -l host-key-policy -d 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config\'s StrictHostKeyChecking]' -r -f -a "strict\t''
accept-new\t''"
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -l remote-tern -d 'The tern binary on the remote host' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -l bwlimit -d 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -l compress-level -d 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk' -r
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from purge" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from help" -f -a "list" -d 'The runs with trashed entries: how many, how large, how old'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from help" -f -a "purge" -d 'Delete trash runs for good (all of them, or those older than --older-than)'
complete -c tern -n "__fish_tern_using_subcommand trash; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tern -n "__fish_tern_using_subcommand undo" -l run -d 'The run to undo, as `tern trash list` shows it' -r
complete -c tern -n "__fish_tern_using_subcommand undo" -s F -l ssh-config -d 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config' -r -F
complete -c tern -n "__fish_tern_using_subcommand undo" -s o -d 'An ssh_config option that wins over the config file\'s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable' -r
complete -c tern -n "__fish_tern_using_subcommand undo" -s i -l identity -d 'Try this private key (after ssh-agent, before the config\'s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable' -r -F
complete -c tern -n "__fish_tern_using_subcommand undo" -l known-hosts -d 'Check host keys against this known_hosts file (and record accepted ones there)' -r -F
complete -c tern -n "__fish_tern_using_subcommand undo" -l host-key-policy -d 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config\'s StrictHostKeyChecking]' -r -f -a "strict\t''
accept-new\t''"
complete -c tern -n "__fish_tern_using_subcommand undo" -l remote-tern -d 'The tern binary on the remote host' -r
complete -c tern -n "__fish_tern_using_subcommand undo" -l bwlimit -d 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync' -r
complete -c tern -n "__fish_tern_using_subcommand undo" -l compress-level -d 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk' -r
complete -c tern -n "__fish_tern_using_subcommand undo" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand undo" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand undo" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand undo" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand completions" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand completions" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand completions" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand completions" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand serve" -l root -d 'The destination directory (restricted agents take it from SSH_ORIGINAL_COMMAND)' -r -F
complete -c tern -n "__fish_tern_using_subcommand serve" -l restrict-to -d 'Serve only DIR and what is below it: for a forced command in authorized_keys (`command="tern serve --restrict-to /srv/backups"`); any other path is refused' -r -F
complete -c tern -n "__fish_tern_using_subcommand serve" -l read-only -d 'Serve plans and verify only: refuse locks, writes, purges and undo'
complete -c tern -n "__fish_tern_using_subcommand serve" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand serve" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand serve" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand serve" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand generate-docs" -s q -l quiet -d 'Print nothing but errors: no progress lines, no summary'
complete -c tern -n "__fish_tern_using_subcommand generate-docs" -s v -l verbose -d 'Say more: list every change a sync makes, and metadata details in plans'
complete -c tern -n "__fish_tern_using_subcommand generate-docs" -l progress -d 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins'
complete -c tern -n "__fish_tern_using_subcommand generate-docs" -s h -l help -d 'Print help'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "sync" -d 'Replicate SOURCE into DEST (mirroring: entries missing from SOURCE go to DEST\'s trash)'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "plan" -d 'Show what `tern sync` would change, without writing anything anywhere'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "watch" -d 'Replicate SOURCE into DEST as it changes: a sync, then each change about a second later (until SIGTERM or SIGINT)'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "apply" -d 'Apply a plan saved with `tern plan --out`, exactly as it was reviewed'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "config" -d 'Check the job file; every problem is listed with file:line'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "jobs" -d 'List the configured jobs: schedule in words, time zone, destinations, next fire times'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "run" -d 'Run one configured job now, in the foreground (recorded in the history)'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "daemon" -d 'Run every scheduled job on its cron schedule, and watch every watch job, until SIGTERM or SIGINT (SIGHUP reloads)'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "status" -d 'The last run and next run of every job and destination (and a watch job\'s state)'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "verify" -d 'Re-hash the destination against its manifest: what is missing, changed or extra'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "trash" -d 'List or purge the trash of a destination (what syncs deleted or overwrote)'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "undo" -d 'Put back what a run deleted or overwrote (the newest run unless --run); undoable itself'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "completions" -d 'Print a completion script for SHELL to standard output'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "serve" -d 'Serve a destination to a tern client on stdin/stdout (started by tern itself over SSH)'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "generate-docs" -d 'Write man pages and completion scripts into DIR/man and DIR/completions (for packagers)'
complete -c tern -n "__fish_tern_using_subcommand help; and not __fish_seen_subcommand_from sync plan watch apply config jobs run daemon status verify trash undo completions serve generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tern -n "__fish_tern_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate the job file'
complete -c tern -n "__fish_tern_using_subcommand help; and __fish_seen_subcommand_from trash" -f -a "list" -d 'The runs with trashed entries: how many, how large, how old'
complete -c tern -n "__fish_tern_using_subcommand help; and __fish_seen_subcommand_from trash" -f -a "purge" -d 'Delete trash runs for good (all of them, or those older than --older-than)'
