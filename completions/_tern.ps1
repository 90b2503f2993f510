
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'tern' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'tern'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'tern' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Replicate SOURCE into DEST (mirroring: entries missing from SOURCE go to DEST''s trash)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what `tern sync` would change, without writing anything anywhere')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Replicate SOURCE into DEST as it changes: a sync, then each change about a second later (until SIGTERM or SIGINT)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply a plan saved with `tern plan --out`, exactly as it was reviewed')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Check the job file; every problem is listed with file:line')
            [CompletionResult]::new('jobs', 'jobs', [CompletionResultType]::ParameterValue, 'List the configured jobs: schedule in words, time zone, destinations, next fire times')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run one configured job now, in the foreground (recorded in the history)')
            [CompletionResult]::new('daemon', 'daemon', [CompletionResultType]::ParameterValue, 'Run every scheduled job on its cron schedule, and watch every watch job, until SIGTERM or SIGINT (SIGHUP reloads)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'The last run and next run of every job and destination (and a watch job''s state)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Re-hash the destination against its manifest: what is missing, changed or extra')
            [CompletionResult]::new('trash', 'trash', [CompletionResultType]::ParameterValue, 'List or purge the trash of a destination (what syncs deleted or overwrote)')
            [CompletionResult]::new('undo', 'undo', [CompletionResultType]::ParameterValue, 'Put back what a run deleted or overwrote (the newest run unless --run); undoable itself')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a completion script for SHELL to standard output')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve a destination to a tern client on stdin/stdout (started by tern itself over SSH)')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write man pages and completion scripts into DIR/man and DIR/completions (for packagers)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tern;sync' {
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable')
            [CompletionResult]::new('--exclude-from', '--exclude-from', [CompletionResultType]::ParameterName, 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('--ssh-config', '--ssh-config', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'Check host keys against this known_hosts file (and record accepted ones there)')
            [CompletionResult]::new('--host-key-policy', '--host-key-policy', [CompletionResultType]::ParameterName, 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]')
            [CompletionResult]::new('--remote-tern', '--remote-tern', [CompletionResultType]::ParameterName, 'The tern binary on the remote host')
            [CompletionResult]::new('--bwlimit', '--bwlimit', [CompletionResultType]::ParameterName, 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk')
            [CompletionResult]::new('--keep-trash', '--keep-trash', [CompletionResultType]::ParameterName, 'After a successful sync, purge trash runs older than DURATION ("forever" keeps them)')
            [CompletionResult]::new('--prefer', '--prefer', [CompletionResultType]::ParameterName, 'With --two-way: the side that wins a conflict, SOURCE (a), DEST (b) or the newer; the other version goes to its replica''s trash only. Without it the newer version wins and the other is kept beside it as NAME.tern-conflict-HOST-TIME.EXT on both replicas')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'Refuse to delete more than N destination entries, or more than N% of them')
            [CompletionResult]::new('--no-delete', '--no-delete', [CompletionResultType]::ParameterName, 'Keep destination entries that are missing from the source instead of deleting them')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Re-hash every source file instead of trusting the hash cache of unchanged files')
            [CompletionResult]::new('--checksum', '--checksum', [CompletionResultType]::ParameterName, 'Re-hash every source file instead of trusting the hash cache of unchanged files')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Do not read or write the source hash cache')
            [CompletionResult]::new('--no-xattrs', '--no-xattrs', [CompletionResultType]::ParameterName, 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)')
            [CompletionResult]::new('--no-hard-links', '--no-hard-links', [CompletionResultType]::ParameterName, 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x')
            [CompletionResult]::new('--one-file-system', '--one-file-system', [CompletionResultType]::ParameterName, 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x')
            [CompletionResult]::new('--check-dest', '--check-dest', [CompletionResultType]::ParameterName, 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat''ed)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Print what would change and change nothing (the same plan `tern plan` shows)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would change and change nothing (the same plan `tern plan` shows)')
            [CompletionResult]::new('--detailed-exitcode', '--detailed-exitcode', [CompletionResultType]::ParameterName, 'With --dry-run: exit 2 when changes are pending, 0 when in sync (5 with conflicts, in a two-way sync)')
            [CompletionResult]::new('--two-way', '--two-way', [CompletionResultType]::ParameterName, 'SOURCE and DEST are two replicas that both take writes (each a directory or [user@]host:path): what changed on either side since their last two-way sync goes to the other; conflicts keep both versions')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Mirror an empty source onto a non-empty destination (refused otherwise)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;plan' {
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable')
            [CompletionResult]::new('--exclude-from', '--exclude-from', [CompletionResultType]::ParameterName, 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('--ssh-config', '--ssh-config', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'Check host keys against this known_hosts file (and record accepted ones there)')
            [CompletionResult]::new('--host-key-policy', '--host-key-policy', [CompletionResultType]::ParameterName, 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]')
            [CompletionResult]::new('--remote-tern', '--remote-tern', [CompletionResultType]::ParameterName, 'The tern binary on the remote host')
            [CompletionResult]::new('--bwlimit', '--bwlimit', [CompletionResultType]::ParameterName, 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Report format: itemized text, JSON (docs/plan-json.md), or Markdown for CI summaries')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Also save the plan to FILE, to be applied later with `tern apply FILE`')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Most changes a Markdown report lists')
            [CompletionResult]::new('--prefer', '--prefer', [CompletionResultType]::ParameterName, 'With --two-way: the side that wins a conflict, SOURCE (a), DEST (b) or the newer; the other version goes to its replica''s trash only. Without it the newer version wins and the other is kept beside it as NAME.tern-conflict-HOST-TIME.EXT on both replicas')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'Refuse to delete more than N destination entries, or more than N% of them')
            [CompletionResult]::new('--no-delete', '--no-delete', [CompletionResultType]::ParameterName, 'Keep destination entries that are missing from the source instead of deleting them')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Re-hash every source file instead of trusting the hash cache of unchanged files')
            [CompletionResult]::new('--checksum', '--checksum', [CompletionResultType]::ParameterName, 'Re-hash every source file instead of trusting the hash cache of unchanged files')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Do not read or write the source hash cache')
            [CompletionResult]::new('--no-xattrs', '--no-xattrs', [CompletionResultType]::ParameterName, 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)')
            [CompletionResult]::new('--no-hard-links', '--no-hard-links', [CompletionResultType]::ParameterName, 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x')
            [CompletionResult]::new('--one-file-system', '--one-file-system', [CompletionResultType]::ParameterName, 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x')
            [CompletionResult]::new('--check-dest', '--check-dest', [CompletionResultType]::ParameterName, 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat''ed)')
            [CompletionResult]::new('--detailed-exitcode', '--detailed-exitcode', [CompletionResultType]::ParameterName, 'Exit 2 when changes are pending, 0 when in sync, 1 on error (or a refusing guard); 5 when a two-way plan has conflicts')
            [CompletionResult]::new('--two-way', '--two-way', [CompletionResultType]::ParameterName, 'SOURCE and DEST are two replicas that both take writes (each a directory or [user@]host:path): what changed on either side since their last two-way sync goes to the other; conflicts keep both versions')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Mirror an empty source onto a non-empty destination (refused otherwise)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;watch' {
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out entries matching PATTERN (gitignore syntax: "*.tmp", "cache/", "/build"); matching destination entries are kept. Repeatable')
            [CompletionResult]::new('--exclude-from', '--exclude-from', [CompletionResultType]::ParameterName, 'Read exclude patterns from FILE, one per line (blank lines and # comments skipped)')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('--ssh-config', '--ssh-config', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'Check host keys against this known_hosts file (and record accepted ones there)')
            [CompletionResult]::new('--host-key-policy', '--host-key-policy', [CompletionResultType]::ParameterName, 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]')
            [CompletionResult]::new('--remote-tern', '--remote-tern', [CompletionResultType]::ParameterName, 'The tern binary on the remote host')
            [CompletionResult]::new('--bwlimit', '--bwlimit', [CompletionResultType]::ParameterName, 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk')
            [CompletionResult]::new('--keep-trash', '--keep-trash', [CompletionResultType]::ParameterName, 'After a successful sync, purge trash runs older than DURATION ("forever" keeps them)')
            [CompletionResult]::new('--delay', '--delay', [CompletionResultType]::ParameterName, 'Quiet time before changes are synced (e.g. 200ms, 1s)')
            [CompletionResult]::new('--full-every', '--full-every', [CompletionResultType]::ParameterName, 'Also scan the whole source this often (e.g. 1h), as a safety net')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'Refuse to delete more than N destination entries, or more than N% of them')
            [CompletionResult]::new('--no-delete', '--no-delete', [CompletionResultType]::ParameterName, 'Keep destination entries that are missing from the source instead of deleting them')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Re-hash every source file instead of trusting the hash cache of unchanged files')
            [CompletionResult]::new('--checksum', '--checksum', [CompletionResultType]::ParameterName, 'Re-hash every source file instead of trusting the hash cache of unchanged files')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Do not read or write the source hash cache')
            [CompletionResult]::new('--no-xattrs', '--no-xattrs', [CompletionResultType]::ParameterName, 'Do not replicate extended attributes, POSIX ACLs or file capabilities (kept by default: user.*, system.posix_acl_*, security.* and, as root, trusted.*)')
            [CompletionResult]::new('--no-hard-links', '--no-hard-links', [CompletionResultType]::ParameterName, 'Replicate hard-linked files as separate files (by default a group of hard links in the source is one file with several names at the destination, sent once, as with rsync -H)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x')
            [CompletionResult]::new('--one-file-system', '--one-file-system', [CompletionResultType]::ParameterName, 'Do not cross file systems: a directory on another one (a mount point such as /proc or a mounted disk) is replicated empty, as with rsync -x')
            [CompletionResult]::new('--check-dest', '--check-dest', [CompletionResultType]::ParameterName, 'Before planning, stat every destination entry and send again what was changed, deleted or replaced there out of band (the destination is not read, only stat''ed)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Mirror an empty source onto a non-empty destination (refused otherwise)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;apply' {
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('--ssh-config', '--ssh-config', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'Check host keys against this known_hosts file (and record accepted ones there)')
            [CompletionResult]::new('--host-key-policy', '--host-key-policy', [CompletionResultType]::ParameterName, 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]')
            [CompletionResult]::new('--remote-tern', '--remote-tern', [CompletionResultType]::ParameterName, 'The tern binary on the remote host')
            [CompletionResult]::new('--bwlimit', '--bwlimit', [CompletionResultType]::ParameterName, 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk')
            [CompletionResult]::new('--max-delete', '--max-delete', [CompletionResultType]::ParameterName, 'Refuse to delete more than N destination entries, or more than N% of them')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Mirror an empty source onto a non-empty destination (refused otherwise)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;config' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the job file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tern;config;check' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;config;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the job file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tern;config;help;check' {
            break
        }
        'tern;config;help;help' {
            break
        }
        'tern;jobs' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]')
            [CompletionResult]::new('--next', '--next', [CompletionResultType]::ParameterName, 'How many fire times to show per job')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;run' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as JSON objects (job and destination in every line)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;daemon' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as JSON objects (job and destination in every line)')
            [CompletionResult]::new('--metrics-listen', '--metrics-listen', [CompletionResultType]::ParameterName, 'Serve Prometheus metrics over HTTP at http://ADDR/metrics (e.g. 127.0.0.1:9184), as well as or instead of the job file''s metrics_file')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;status' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The job file [default: $TERN_CONFIG or ~/.config/tern/tern.toml]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON instead of a table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;verify' {
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'The source to compare with (same as giving it before DEST)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Report format')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('--ssh-config', '--ssh-config', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'Check host keys against this known_hosts file (and record accepted ones there)')
            [CompletionResult]::new('--host-key-policy', '--host-key-policy', [CompletionResultType]::ParameterName, 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]')
            [CompletionResult]::new('--remote-tern', '--remote-tern', [CompletionResultType]::ParameterName, 'The tern binary on the remote host')
            [CompletionResult]::new('--bwlimit', '--bwlimit', [CompletionResultType]::ParameterName, 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk')
            [CompletionResult]::new('--repair', '--repair', [CompletionResultType]::ParameterName, 'Re-send from the source whatever is missing or wrong at the destination (fetches nothing)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;trash' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The runs with trashed entries: how many, how large, how old')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete trash runs for good (all of them, or those older than --older-than)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tern;trash;list' {
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('--ssh-config', '--ssh-config', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'Check host keys against this known_hosts file (and record accepted ones there)')
            [CompletionResult]::new('--host-key-policy', '--host-key-policy', [CompletionResultType]::ParameterName, 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]')
            [CompletionResult]::new('--remote-tern', '--remote-tern', [CompletionResultType]::ParameterName, 'The tern binary on the remote host')
            [CompletionResult]::new('--bwlimit', '--bwlimit', [CompletionResultType]::ParameterName, 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;trash;purge' {
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Only runs older than this (e.g. 7d, 12h, 30m)')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('--ssh-config', '--ssh-config', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'Check host keys against this known_hosts file (and record accepted ones there)')
            [CompletionResult]::new('--host-key-policy', '--host-key-policy', [CompletionResultType]::ParameterName, 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]')
            [CompletionResult]::new('--remote-tern', '--remote-tern', [CompletionResultType]::ParameterName, 'The tern binary on the remote host')
            [CompletionResult]::new('--bwlimit', '--bwlimit', [CompletionResultType]::ParameterName, 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;trash;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The runs with trashed entries: how many, how large, how old')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete trash runs for good (all of them, or those older than --older-than)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tern;trash;help;list' {
            break
        }
        'tern;trash;help;purge' {
            break
        }
        'tern;trash;help;help' {
            break
        }
        'tern;undo' {
            [CompletionResult]::new('--run', '--run', [CompletionResultType]::ParameterName, 'The run to undo, as `tern trash list` shows it')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('--ssh-config', '--ssh-config', [CompletionResultType]::ParameterName, 'Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'An ssh_config option that wins over the config file''s, as with ssh -o (ProxyCommand, ProxyJump, Port, User, IdentityFile, ConnectTimeout...); repeatable')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--identity', '--identity', [CompletionResultType]::ParameterName, 'Try this private key (after ssh-agent, before the config''s IdentityFile; the default ~/.ssh/id_* are tried only when no key is named, as with ssh); repeatable')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'Check host keys against this known_hosts file (and record accepted ones there)')
            [CompletionResult]::new('--host-key-policy', '--host-key-policy', [CompletionResultType]::ParameterName, 'What to do with an unknown host key: refuse it (strict) or record it (accept-new); a changed key is always refused [default: strict, or the config''s StrictHostKeyChecking]')
            [CompletionResult]::new('--remote-tern', '--remote-tern', [CompletionResultType]::ParameterName, 'The tern binary on the remote host')
            [CompletionResult]::new('--bwlimit', '--bwlimit', [CompletionResultType]::ParameterName, 'Send at most RATE over SSH: KiB/s, or with a suffix K, M, G (per second), as rsync')
            [CompletionResult]::new('--compress-level', '--compress-level', [CompletionResultType]::ParameterName, 'zstd level for data sent over SSH (1-22), fixed; 0 turns compression off. Without it, each run fits the level to what it sends: up to 19 for a few hundred KiB, 3 for bulk')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;completions' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;serve' {
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'The destination directory (restricted agents take it from SSH_ORIGINAL_COMMAND)')
            [CompletionResult]::new('--restrict-to', '--restrict-to', [CompletionResultType]::ParameterName, 'Serve only DIR and what is below it: for a forced command in authorized_keys (`command="tern serve --restrict-to /srv/backups"`); any other path is refused')
            [CompletionResult]::new('--read-only', '--read-only', [CompletionResultType]::ParameterName, 'Serve plans and verify only: refuse locks, writes, purges and undo')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;generate-docs' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print nothing but errors: no progress lines, no summary')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more: list every change a sync makes, and metadata details in plans')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show progress (files, bytes, rate and ETA, a line per phase) also when stderr is not a terminal, as a line a second; --quiet wins')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'tern;help' {
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Replicate SOURCE into DEST (mirroring: entries missing from SOURCE go to DEST''s trash)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what `tern sync` would change, without writing anything anywhere')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Replicate SOURCE into DEST as it changes: a sync, then each change about a second later (until SIGTERM or SIGINT)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply a plan saved with `tern plan --out`, exactly as it was reviewed')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Check the job file; every problem is listed with file:line')
            [CompletionResult]::new('jobs', 'jobs', [CompletionResultType]::ParameterValue, 'List the configured jobs: schedule in words, time zone, destinations, next fire times')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run one configured job now, in the foreground (recorded in the history)')
            [CompletionResult]::new('daemon', 'daemon', [CompletionResultType]::ParameterValue, 'Run every scheduled job on its cron schedule, and watch every watch job, until SIGTERM or SIGINT (SIGHUP reloads)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'The last run and next run of every job and destination (and a watch job''s state)')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Re-hash the destination against its manifest: what is missing, changed or extra')
            [CompletionResult]::new('trash', 'trash', [CompletionResultType]::ParameterValue, 'List or purge the trash of a destination (what syncs deleted or overwrote)')
            [CompletionResult]::new('undo', 'undo', [CompletionResultType]::ParameterValue, 'Put back what a run deleted or overwrote (the newest run unless --run); undoable itself')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a completion script for SHELL to standard output')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve a destination to a tern client on stdin/stdout (started by tern itself over SSH)')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write man pages and completion scripts into DIR/man and DIR/completions (for packagers)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'tern;help;sync' {
            break
        }
        'tern;help;plan' {
            break
        }
        'tern;help;watch' {
            break
        }
        'tern;help;apply' {
            break
        }
        'tern;help;config' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Validate the job file')
            break
        }
        'tern;help;config;check' {
            break
        }
        'tern;help;jobs' {
            break
        }
        'tern;help;run' {
            break
        }
        'tern;help;daemon' {
            break
        }
        'tern;help;status' {
            break
        }
        'tern;help;verify' {
            break
        }
        'tern;help;trash' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The runs with trashed entries: how many, how large, how old')
            [CompletionResult]::new('purge', 'purge', [CompletionResultType]::ParameterValue, 'Delete trash runs for good (all of them, or those older than --older-than)')
            break
        }
        'tern;help;trash;list' {
            break
        }
        'tern;help;trash;purge' {
            break
        }
        'tern;help;undo' {
            break
        }
        'tern;help;completions' {
            break
        }
        'tern;help;serve' {
            break
        }
        'tern;help;generate-docs' {
            break
        }
        'tern;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
