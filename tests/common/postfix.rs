//! A real, private Postfix relay that delivers to the lab: the ground truth for
//! "what does this relay do with mail for that scenario".
//!
//! Each [`PostfixRelay`] is its own instance: config, queue, data directory and log
//! file live in a fresh directory; `/etc/postfix` and the system's Postfix are only
//! read (binaries, `postfix-files`), never changed. The `smtp` service runs chrooted
//! in the queue directory, whose `etc/resolv.conf` names the lab DNS on 127.77.0.1, so
//! Postfix resolves MX and A records itself, through libc, on port 53: the lab must be
//! started with `LabOptions { dns_port: 53, .. }`. The SMTP client connects to the
//! lab's port through `smtp_tcp_port`. Needs root (the master runs as root, as on a
//! real relay) and Postfix 3.x (`postconf`, `sendmail`, `/usr/lib/postfix/sbin/master`).
//!
//! ```ignore
//! let relay = PostfixRelay::start(&lab, &PostfixRelay::temp_base(), &[("smtp_tls_security_level", "encrypt")], &[], &[]);
//! let id = relay.send("rcpt@no-starttls.lab.test").await;
//! let outcome = relay.outcome(&id, Duration::from_secs(30)).await;
//! assert_eq!(outcome.status, Status::Deferred);
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]
#![allow(dead_code, reason = "a harness API: each test uses a part of it")]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mxtriage::lab::Lab;
use regex::Regex;

/// Where the Debian package puts `master` and the other daemons.
const DAEMON_DIR: &str = "/usr/lib/postfix/sbin";
/// The envelope sender of every test message.
pub const SENDER: &str = "sender@relay.test";

/// Timeouts of every instance (a caller's `main_cf` entry overrides one): short, so
/// deferrals come in seconds, yet longer than the lab's 4 s tarpit greeting.
pub const TIMEOUTS: &[(&str, &str)] = &[
    ("smtp_connect_timeout", "5s"),
    ("smtp_helo_timeout", "10s"),
    ("smtp_starttls_timeout", "10s"),
    ("smtp_mail_timeout", "10s"),
    ("smtp_rcpt_timeout", "10s"),
    ("smtp_data_init_timeout", "10s"),
    ("smtp_data_xfer_timeout", "10s"),
    ("smtp_data_done_timeout", "10s"),
    ("smtp_quit_timeout", "5s"),
    ("smtp_rset_timeout", "5s"),
];

/// One lab on port 53 at a time in a test binary.
static PORT_53: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The lab with its DNS on port 53 (Postfix's libc resolver asks no other), and the turn
/// that lets it hold that port: one test of this binary at a time, and one process at a
/// time (other test binaries, other worktrees) through an flock.
pub struct Turn {
    pub lab: Lab,
    _guard: tokio::sync::MutexGuard<'static, ()>,
    /// Holds the flock; closing it releases the port to other processes.
    _lock: std::fs::File,
}

/// Waits for the cross-process turn on port 53 (an exclusive flock).
async fn lock_port_53() -> std::fs::File {
    tokio::task::spawn_blocking(|| {
        let path = std::env::temp_dir().join("mxtriage-lab-port53.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap();
        // SAFETY: flock on a descriptor this function owns; it blocks until the lock is ours.
        let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {}: {}", path.display(), std::io::Error::last_os_error());
        file
    })
    .await
    .unwrap()
}

/// The lab on port 53, once it is this test's turn; `None` (test skipped, said so) when
/// this machine cannot run Postfix, which fails in CI.
pub async fn lab_on_port_53() -> Option<Turn> {
    if let Err(why) = available() {
        assert!(std::env::var_os("CI").is_none(), "cannot run Postfix: {why}");
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let guard = PORT_53.lock().await;
    let lock = lock_port_53().await;
    // The previous holder's lab may still be releasing port 53 as its runtime shuts down.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Lab::start(mxtriage::lab::LabOptions {
            dns_port: 53,
            ..mxtriage::lab::LabOptions::default()
        })
        .await
        {
            Ok(lab) => {
                return Some(Turn {
                    lab,
                    _guard: guard,
                    _lock: lock,
                });
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("lab on port 53 not ready yet: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("lab with DNS on port 53: {e}"),
        }
    }
}

/// Whether this machine can run a private Postfix: root and the Postfix binaries.
pub fn available() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err("a private Postfix master must run as root".into());
    }
    for program in ["/usr/sbin/postconf", "/usr/sbin/postfix", "/usr/sbin/sendmail"] {
        if !Path::new(program).exists() {
            return Err(format!("{program} is missing (apt-get install postfix)"));
        }
    }
    if !Path::new(DAEMON_DIR).join("master").exists() {
        return Err(format!("{DAEMON_DIR}/master is missing (apt-get install postfix)"));
    }
    Ok(())
}

/// A master.cf line for an extra `smtp(8)` transport, chrooted like `smtp` so it uses the
/// lab resolver, with `-o name=value` overrides: e.g.
/// `smtp_transport("tls_encrypt", &[("smtp_tls_security_level", "encrypt")])`.
pub fn smtp_transport(name: &str, overrides: &[(&str, &str)]) -> String {
    let mut line = format!("{name} unix - - y - - smtp\n  -o syslog_name=postfix/$service_name");
    for (key, value) in overrides {
        line.push_str(&format!("\n  -o {key}={value}"));
    }
    line
}

/// A running private Postfix instance; dropping it stops the master and removes its
/// directory (kept when `MXTRIAGE_KEEP_POSTFIX` is set, for reading the log).
pub struct PostfixRelay {
    instance: Instance,
}

impl fmt::Debug for PostfixRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostfixRelay")
            .field("dir", &self.instance.dir)
            .finish_non_exhaustive()
    }
}

static INSTANCES: AtomicUsize = AtomicUsize::new(0);

impl PostfixRelay {
    /// The default parent directory of instances: `$TMPDIR/mxtriage-postfix`.
    pub fn temp_base() -> PathBuf {
        std::env::temp_dir().join("mxtriage-postfix")
    }

    /// Starts an instance in a new directory under `base`, relaying to the lab's port
    /// with the lab CA as `smtp_tls_CAfile`.
    ///
    /// - `main_cf`: extra main.cf parameters; each replaces the harness default of the same
    ///   name (e.g. `("smtp_tls_security_level", "verify")`, `("relayhost", "[mx.x.lab.test]")`).
    ///   `$config_directory` works in values: `texthash:$config_directory/tls_policy`.
    /// - `master_cf`: extra master.cf entries, appended (see [`smtp_transport`]).
    /// - `maps`: `(name, contents)` files written to the config directory before start;
    ///   a name `hash:NAME` writes `NAME` and runs `postmap hash:` on it (`texthash:` needs
    ///   no postmap and is read before the chroot, so prefer it).
    ///
    /// Panics when the lab DNS is not on port 53 or Postfix does not start.
    pub fn start(
        lab: &Lab,
        base: &Path,
        main_cf: &[(&str, &str)],
        master_cf: &[&str],
        maps: &[(&str, &str)],
    ) -> PostfixRelay {
        assert_eq!(
            lab.dns.port(),
            53,
            "Postfix's libc resolver only asks port 53: start the lab with LabOptions {{ dns_port: 53, .. }}"
        );
        let mut instance = Instance::new(base);
        let (config, queue) = (instance.config.clone(), instance.queue.clone());
        std::fs::create_dir_all(queue.join("etc")).unwrap();
        let ca_file = lab.write_ca_file(&config).unwrap();

        let mut params: Vec<(String, String)> = instance.common_params();
        params.extend(
            [
                ("myhostname", "relay.test"),
                ("mydomain", "relay.test"),
                ("myorigin", "relay.test"),
                ("smtp_tcp_port", &lab.port.to_string()),
                ("smtp_tls_security_level", "may"),
                ("smtp_tls_CAfile", ca_file.to_str().unwrap()),
                ("smtp_tls_loglevel", "1"),
                // Every message gets its own session: no TLS session or connection reuse
                // carries one scenario's result into the next message.
                ("smtp_tls_session_cache_database", ""),
                ("smtp_connection_cache_on_demand", "no"),
                ("default_process_limit", "40"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        for (key, value) in TIMEOUTS.iter().chain(main_cf) {
            match params.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.to_string(),
                None => params.push((key.to_string(), value.to_string())),
            }
        }
        instance.write_main(&params);
        let mut master = MASTER_CF.to_string();
        for entry in master_cf {
            master.push_str(entry);
            master.push('\n');
        }
        std::fs::write(config.join("master.cf"), master).unwrap();

        // The chroot the smtp client resolves in: the lab DNS and nothing else.
        let etc = queue.join("etc");
        std::fs::write(etc.join("resolv.conf"), "nameserver 127.77.0.1\n").unwrap();
        std::fs::write(etc.join("hosts"), "127.0.0.1 localhost\n").unwrap();
        std::fs::write(etc.join("nsswitch.conf"), "hosts: files dns\nservices: files\n").unwrap();
        let services = std::fs::read("/etc/services").unwrap_or_else(|_| b"smtp 25/tcp mail\n".to_vec());
        std::fs::write(etc.join("services"), services).unwrap();
        if let Ok(zone) = std::fs::read("/etc/localtime") {
            std::fs::write(etc.join("localtime"), zone).unwrap();
        }

        for (name, contents) in maps {
            let (hash, file) = match name.strip_prefix("hash:") {
                Some(file) => (true, file),
                None => (false, *name),
            };
            let path = config.join(file);
            std::fs::write(&path, contents).unwrap();
            if hash {
                postmap_file(&config, &format!("hash:{}", path.display()));
            }
        }

        instance.check();
        instance.run_master(
            Command::new(Path::new(DAEMON_DIR).join("master")),
            "postfix master did not start",
            |instance| instance.log_text().contains("daemon started"),
        );
        PostfixRelay { instance }
    }

    /// The instance's config directory (main.cf, master.cf, maps, lab-ca.pem).
    pub fn config_dir(&self) -> &Path {
        &self.instance.config
    }

    /// The instance's private log file (`maillog_file`).
    pub fn log_path(&self) -> &Path {
        &self.instance.log
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        self.instance.log_text()
    }

    /// Runs `postmap` on `map` (e.g. `hash:$config_directory/transport` spelled out, or a
    /// name in the config directory given as `hash:NAME`), for maps changed after start.
    pub fn postmap(&self, map: &str) {
        let map = match map.split_once(':') {
            Some((kind, name)) if !name.starts_with('/') => {
                format!("{kind}:{}", self.instance.config.join(name).display())
            }
            _ => map.to_string(),
        };
        postmap_file(&self.instance.config, &map);
    }

    /// Submits one message to `rcpt` with the real `sendmail -C`, and returns its queue id
    /// (from cleanup's `message-id=` log line). DSN notify=never: a failure bounces no mail.
    pub async fn send(&self, rcpt: &str) -> String {
        static MESSAGES: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let message_id = format!(
            "mxtriage-{}-{}-{nanos}@relay.test",
            std::process::id(),
            MESSAGES.fetch_add(1, Ordering::Relaxed)
        );
        let body = format!(
            "From: {SENDER}\nTo: {rcpt}\nSubject: mxtriage relay ground truth\nMessage-ID: <{message_id}>\n\nTest message.\n"
        );
        let mut child = tokio::process::Command::new("/usr/sbin/sendmail")
            .arg("-C")
            .arg(&self.instance.config)
            .args(["-f", SENDER, "-N", "never", "-i", "--", rcpt])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use tokio::io::AsyncWriteExt;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(body.as_bytes()).await.unwrap();
        }
        let output = child.wait_with_output().await.unwrap();
        assert!(
            output.status.success(),
            "sendmail failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let needle = format!(": message-id=<{message_id}>");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(id) = self
                .log_text()
                .lines()
                .filter_map(parse_line)
                .find(|l| l.message.ends_with(&needle))
                .and_then(|l| l.message.split_once(':').map(|(id, _)| id.to_string()))
            {
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "no queue id for {message_id}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits for the first delivery status (`sent`, `deferred`, `bounced`, ...) of queue id
    /// `id`, or of the first message to recipient `<id>` when it contains `@`.
    pub async fn outcome(&self, id: &str, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(outcome) = find_outcome(&self.log_text(), id) {
                return outcome;
            }
            assert!(
                Instant::now() < deadline,
                "no delivery status for {id} within {timeout:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until `id` has `count` delivery attempts logged, or one that is final (not
    /// `deferred`), and returns them all. Retries come after `minimal_backoff_time`
    /// (set it, with `queue_run_delay`, to seconds for this).
    pub async fn attempts(&self, id: &str, count: usize, timeout: Duration) -> Vec<Outcome> {
        let deadline = Instant::now() + timeout;
        loop {
            let attempts = find_outcomes(&self.log_text(), id);
            if attempts.len() >= count || attempts.iter().any(|a| a.status != Status::Deferred) {
                return attempts;
            }
            if Instant::now() >= deadline {
                return attempts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Deletes queued message `id` (`postsuper -d`), so it is not retried.
    pub fn delete(&self, id: &str) {
        let out = Command::new("/usr/sbin/postsuper")
            .arg("-c")
            .arg(&self.instance.config)
            .args(["-d", id])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postsuper -d {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// [`send`](Self::send) then [`outcome`](Self::outcome).
    pub async fn deliver(&self, rcpt: &str, timeout: Duration) -> Outcome {
        let id = self.send(rcpt).await;
        self.outcome(&id, timeout).await
    }
}

/// What every private instance has: its own directory (config, queue, data, log), a
/// `postfix check` that sets up the queue, a master in the foreground, and on drop the
/// master stopped and the directory removed (kept when `MXTRIAGE_KEEP_POSTFIX` is set,
/// for reading the log).
struct Instance {
    dir: PathBuf,
    config: PathBuf,
    queue: PathBuf,
    data: PathBuf,
    log: PathBuf,
    master: Option<Child>,
}

impl Instance {
    /// A new directory under `base`, named for this process so a later run can sweep it.
    fn new(base: &Path) -> Instance {
        std::fs::create_dir_all(base).unwrap();
        sweep_stale(base);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let dir = base.join(format!(
            "{}-{}-{nanos}",
            std::process::id(),
            INSTANCES.fetch_add(1, Ordering::Relaxed)
        ));
        let instance = Instance {
            config: dir.join("conf"),
            queue: dir.join("queue"),
            data: dir.join("data"),
            log: dir.join("maillog"),
            dir,
            master: None,
        };
        for d in [&instance.config, &instance.queue, &instance.data] {
            std::fs::create_dir_all(d).unwrap();
        }
        instance
    }

    /// The main.cf parameters of both kinds: this instance's directories and log, local
    /// delivery off, loopback only.
    fn common_params(&self) -> Vec<(String, String)> {
        [
            ("compatibility_level", "3.6"),
            ("queue_directory", self.queue.to_str().unwrap()),
            ("data_directory", self.data.to_str().unwrap()),
            ("maillog_file", self.log.to_str().unwrap()),
            ("maillog_file_prefixes", self.dir.to_str().unwrap()),
            ("mydestination", ""),
            ("inet_interfaces", "loopback-only"),
            ("inet_protocols", "ipv4"),
            ("mynetworks", "127.0.0.0/8"),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("biff", "no"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn write_main(&self, params: &[(String, String)]) {
        let main: String = params.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        std::fs::write(self.config.join("main.cf"), main).unwrap();
    }

    /// `postfix check` creates the queue's subdirectories with their owners (it runs
    /// post-install create-missing against this instance's directories only).
    fn check(&self) {
        let check = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(&self.config)
            .arg("check")
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "postfix check failed: {}{}",
            String::from_utf8_lossy(&check.stderr),
            self.log_text()
        );
        std::os::unix::fs::chown(&self.data, Some(uid_of("postfix")), None).unwrap();
    }

    /// Starts `master` (the binary, or a wrapper already naming it) with `-c CONFIG -d`,
    /// in the foreground as our child, and waits up to 10 s until `ready`.
    fn run_master(&mut self, mut master: Command, what: &str, ready: impl Fn(&Instance) -> bool) {
        let child = master
            .arg("-c")
            .arg(&self.config)
            .arg("-d")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("master.stderr")).unwrap())
            .spawn()
            .unwrap();
        self.master = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(self) {
            if let Some(Ok(Some(status))) = self.master.as_mut().map(Child::try_wait) {
                panic!(
                    "postfix master exited ({status}): {}{}",
                    std::fs::read_to_string(self.dir.join("master.stderr")).unwrap_or_default(),
                    self.log_text()
                );
            }
            assert!(Instant::now() < deadline, "{what}:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(master) = &mut self.master {
            stop_master(master.id() as i32, &mut || matches!(master.try_wait(), Ok(Some(_))));
            let _ = master.wait();
        }
        if std::env::var_os("MXTRIAGE_KEEP_POSTFIX").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("kept Postfix instance {}", self.dir.display());
        }
    }
}

/// SIGTERM (the master stops its children), then SIGKILL after 5 s.
fn stop_master(pid: i32, gone: &mut dyn FnMut() -> bool) {
    // SAFETY: kill only signals the given pid, a master this harness started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone() {
        if Instant::now() > deadline {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops masters left behind by killed test runs (their test process is gone) and
/// removes their directories. Only a master whose command line names that instance's
/// own config directory is signalled.
fn sweep_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let dir = entry.path();
        let pid_file = dir.join("queue/pid/master.pid");
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let conf = dir.join("conf");
            if String::from_utf8_lossy(&cmdline).contains(conf.to_str().unwrap_or("\0")) {
                stop_master(pid, &mut || !Path::new(&format!("/proc/{pid}")).exists());
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn postmap_file(config: &Path, map: &str) {
    let out = Command::new("/usr/sbin/postmap")
        .arg("-c")
        .arg(config)
        .arg(map)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "postmap {map}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn uid_of(user: &str) -> u32 {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&user))
        .and_then(|f| f.get(2)?.parse().ok())
        .unwrap_or_else(|| panic!("no user {user} (apt-get install postfix creates it)"))
}

/// The services of a relay-only instance, as Debian's master.cf has them, with only
/// `smtp` (and transports added like it) chrooted so DNS goes to the lab. postlogd
/// writes `maillog_file`. No smtpd: mail enters through sendmail/postdrop/pickup.
const MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       y       -       -       smtp
  -o syslog_name=postfix/$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// Postfix's delivery status of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Sent,
    Deferred,
    Bounced,
    /// Any other `status=` word (`expired`, `deliverable`, ...).
    Other(String),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Sent => f.write_str("sent"),
            Status::Deferred => f.write_str("deferred"),
            Status::Bounced => f.write_str("bounced"),
            Status::Other(s) => f.write_str(s),
        }
    }
}

/// Postfix's TLS session kinds, as in "Verified TLS connection established to ...".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsKind {
    Verified,
    Trusted,
    Untrusted,
    Anonymous,
}

/// One "<kind> TLS connection established to <peer>: <details>" line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSession {
    pub kind: TlsKind,
    /// `host[ip]:port`.
    pub peer: String,
    /// `TLSv1.3 with cipher ...`.
    pub details: String,
}

/// What Postfix logged for one recipient's first delivery attempt.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub queue_id: String,
    pub recipient: String,
    pub status: Status,
    /// `dsn=` (e.g. `4.7.4`).
    pub dsn: String,
    /// `relay=` (e.g. `mx.healthy.lab.test[127.77.0.10]:PORT`, or `none`).
    pub relay: String,
    /// The text in parentheses after `status=...`.
    pub reason: String,
    /// The TLS session the status was reached in; `None` for cleartext (including a
    /// plaintext retry after a failed TLS session) or when no session got that far.
    pub tls: Option<TlsSession>,
    /// Session failures Postfix logged with the queue id and recovered from within this
    /// attempt, in order (e.g. `Cannot start TLS: handshake failure` before its plaintext
    /// retry at `may`, or a failed first MX).
    pub recovered: Vec<String>,
    /// Every line the delivering process logged for this attempt, in order, without the
    /// syslog prefix: `postfix/smtp[pid]: ...` (TLS lines carry no queue id).
    pub session: Vec<String>,
}

impl Outcome {
    /// The command of "(in reply to X command)" in the reason, if any.
    pub fn in_reply_to(&self) -> Option<&str> {
        let (_, rest) = self.reason.rsplit_once("(in reply to ")?;
        rest.strip_suffix(" command)")
    }

    /// Whether the attempt ended only because the lab's SMTP servers take no mail: in
    /// cleartext they answer MAIL FROM with 502, inside TLS they answer DATA with 250
    /// instead of 354. Postfix then bounces, but after its TLS decision: as ground truth
    /// for "what does the relay do", such an attempt is a delivery.
    pub fn stopped_by_lab(&self) -> bool {
        self.status == Status::Bounced
            && (self.reason.ends_with("said: 250 2.0.0 OK (in reply to DATA command)")
                || self
                    .reason
                    .ends_with("said: 502 5.5.1 Error: command not implemented (in reply to MAIL FROM command)"))
    }

    /// Sent, or [`stopped_by_lab`](Self::stopped_by_lab): the relay hands the message over.
    pub fn delivered(&self) -> bool {
        self.status == Status::Sent || self.stopped_by_lab()
    }

    /// `deliver (Trusted TLS)`, `deliver (cleartext)`, `defer`, `bounce`, ...
    pub fn verdict(&self) -> String {
        if self.delivered() {
            match &self.tls {
                Some(tls) => format!("deliver ({:?} TLS)", tls.kind),
                None => "deliver (cleartext)".to_string(),
            }
        } else {
            match &self.status {
                Status::Deferred => "defer".to_string(),
                Status::Bounced => "bounce".to_string(),
                other => other.to_string(),
            }
        }
    }

    /// Whether any session line contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.session.iter().any(|l| l.contains(text))
    }
}

/// One parsed syslog-style line of `maillog_file`.
struct Line<'a> {
    program: &'a str,
    pid: &'a str,
    message: &'a str,
}

/// `Nov 29 18:04:25 relay postfix/smtp[17872]: message`.
fn parse_line(line: &str) -> Option<Line<'_>> {
    static RE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\S+\s+\d+\s+[\d:]+\s+\S+\s+([^\s\[]+)\[(\d+)\]: (.*)$").unwrap());
    let caps = RE.captures(line)?;
    Some(Line {
        program: caps.get(1)?.as_str(),
        pid: caps.get(2)?.as_str(),
        message: caps.get(3)?.as_str(),
    })
}

/// `QUEUEID: to=<rcpt>, relay=..., ..., dsn=X, status=word (reason)`.
static STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^([0-9A-Za-z]+): to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]*), .*?dsn=([^,]*), status=(\w+) \((.*)\)$",
    )
    .unwrap()
});
static TLS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(Verified|Trusted|Untrusted|Anonymous) TLS connection established (?:to|from) (\S+): (.*)$").unwrap()
});

/// The first status of `id` (queue id, or recipient address when it contains `@`).
fn find_outcome(log: &str, id: &str) -> Option<Outcome> {
    find_outcomes(log, id).into_iter().next()
}

/// Every delivery attempt of `id` logged so far, in order.
fn find_outcomes(log: &str, id: &str) -> Vec<Outcome> {
    let lines: Vec<Line<'_>> = log.lines().filter_map(parse_line).collect();
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let caps = STATUS.captures(l.message)?;
            let matches = if id.contains('@') {
                &caps[2] == id
            } else {
                &caps[1] == id
            };
            matches.then(|| attempt(&lines, i, &caps))
        })
        .collect()
}

/// The attempt whose status line is `lines[index]`.
fn attempt(lines: &[Line<'_>], index: usize, caps: &regex::Captures<'_>) -> Outcome {
    let pid = lines[index].pid;
    // The attempt starts after this process's previous delivery status.
    let start = lines[..index]
        .iter()
        .rposition(|l| l.pid == pid && STATUS.is_match(l.message))
        .map_or(0, |p| p + 1);
    let session: Vec<String> = lines[start..=index]
        .iter()
        .filter(|l| l.pid == pid)
        .map(|l| format!("{}[{}]: {}", l.program, l.pid, l.message))
        .collect();
    // A `QUEUEID: text` line before the status is a session Postfix gave up and recovered
    // from (next MX, or plaintext after a failed TLS session at `may`): a TLS session
    // logged before it is not the one the status belongs to.
    let own_prefix = format!("{}: ", &caps[1]);
    let mut tls = None;
    let mut recovered = Vec::new();
    for line in lines[start..index].iter().filter(|l| l.pid == pid) {
        if let Some(c) = TLS.captures(line.message) {
            tls = Some(TlsSession {
                kind: match &c[1] {
                    "Verified" => TlsKind::Verified,
                    "Trusted" => TlsKind::Trusted,
                    "Untrusted" => TlsKind::Untrusted,
                    _ => TlsKind::Anonymous,
                },
                peer: c[2].to_string(),
                details: c[3].to_string(),
            });
        } else if let Some(text) = line.message.strip_prefix(&own_prefix) {
            tls = None;
            recovered.push(text.to_string());
        }
    }
    let status = match &caps[5] {
        "sent" => Status::Sent,
        "deferred" => Status::Deferred,
        "bounced" => Status::Bounced,
        other => Status::Other(other.to_string()),
    };
    Outcome {
        queue_id: caps[1].to_string(),
        recipient: caps[2].to_string(),
        relay: caps[3].to_string(),
        dsn: caps[4].to_string(),
        status,
        reason: caps[6].to_string(),
        tls,
        recovered,
        session,
    }
}

/// The name the [`PostfixMx`] certificate is issued for (sent as SNI with `--sni`).
pub const MX_HOST: &str = "mx.postfix.test";
/// The loopback address [`PostfixMx`] instances listen on, each on a port of its own.
pub const MX_IP: &str = "127.77.9.25";

/// A real, private Postfix `smtpd` acting as an MX: STARTTLS at `may`, TLS 1.3 with
/// session tickets as stock, a certificate for [`MX_HOST`] from a fresh lab CA. Needs
/// no lab and no DNS; its own directory, like [`PostfixRelay`], is removed on drop.
///
/// ```ignore
/// let mx = PostfixMx::start(&PostfixRelay::temp_base(), None);
/// let result = probe(&config, &ProbeTarget { mx: MX_HOST.into(), address: mx.address }).await;
/// ```
pub struct PostfixMx {
    instance: Instance,
    pub address: std::net::SocketAddr,
    /// The CA root in PEM, for `--ca-file` and posttls-finger's `-F`.
    pub ca_file: PathBuf,
    pub ca_der: rustls::pki_types::CertificateDer<'static>,
}

impl fmt::Debug for PostfixMx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostfixMx")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl PostfixMx {
    /// Starts an instance under `base` on a free port of [`MX_IP`]. With `cpu`, the master
    /// and every smtpd it spawns run on that CPU only (`taskset`).
    pub fn start(base: &Path, cpu: Option<usize>) -> PostfixMx {
        let mut instance = Instance::new(base);
        let config = instance.config.clone();
        let pki = mxtriage::lab::pki::Pki::new().unwrap();
        let identity = pki.identity(MX_HOST, mxtriage::lab::pki::CertKind::Valid).unwrap();
        let chain_file = config.join("chain.pem");
        std::fs::write(&chain_file, identity.pem()).unwrap();
        let ca_file = config.join("ca.pem");
        std::fs::write(&ca_file, pki.root_pem()).unwrap();

        let port = std::net::TcpListener::bind((MX_IP, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = std::net::SocketAddr::new(MX_IP.parse().unwrap(), port);
        let mut params = instance.common_params();
        // Postfix checks that inet_interfaces are interface addresses; the smtpd line
        // binds its own.
        params.extend(
            [
                ("myhostname", MX_HOST),
                ("mydomain", "postfix.test"),
                ("smtpd_tls_security_level", "may"),
                ("smtpd_tls_chain_files", chain_file.to_str().unwrap()),
                ("smtpd_tls_loglevel", "1"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        instance.write_main(&params);
        std::fs::write(
            config.join("master.cf"),
            format!("{address} inet n - n - - smtpd\n{MX_MASTER_CF}"),
        )
        .unwrap();
        instance.check();
        let master_path = Path::new(DAEMON_DIR).join("master");
        let master = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string()]).arg(&master_path);
                c
            }
            None => Command::new(&master_path),
        };
        instance.run_master(master, "postfix smtpd did not listen", |_| {
            std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
        });
        PostfixMx {
            instance,
            address,
            ca_file,
            ca_der: pki.root_der(),
        }
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        self.instance.log_text()
    }

    /// Connections smtpd has logged so far (`connect from` lines).
    pub fn connections(&self) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains("postfix/smtpd[") && l.contains(": connect from "))
            .count()
    }
}

/// What an smtpd-only instance needs besides its `inet` line: TLS keys and PRNG
/// (tlsmgr), connection counting (anvil), address rewriting, and the log.
const MX_MASTER_CF: &str = "\
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
anvil     unix  -       -       n       -       1       anvil
cleanup   unix  n       -       n       -       0       cleanup
rewrite   unix  -       -       n       -       -       trivial-rewrite
proxymap  unix  -       -       n       -       -       proxymap
postlog   unix-dgram n  -       n       -       1       postlogd
";
