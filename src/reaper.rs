//! The reaper: a process of rmicro's own that kills the process groups of a server's exec
//! handlers and workers once the server is gone, however it went — a SIGKILL too, which
//! the server cannot answer itself. Each command runs in a process group of its own, so
//! that its grandchildren die with it; the server tells the reaper, down a pipe, each
//! group it starts (`+PGID`) and each it has killed (`-PGID`). When the pipe ends — the
//! server has exited or been killed, and the kernel closed its end — the reaper kills the
//! groups still listed and exits.
//!
//! The reaper is the server's own executable (`/proc/self/exe`) started with [`NAME`] as
//! its argv\[0\] and the server's pid as its argument, in a process group of its own: a
//! signal to the server's group (a terminal's Ctrl-C, `kill -- -PGID`) does not reach it.
//! It starts with the server's first command. The server's end of the pipe does not
//! block: a reaper that stopped reading costs the server nothing but the reaper's job.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ExitCode, Stdio};
use std::sync::Mutex;

/// The reaper's argv\[0\]: `main` runs [`run`] when started so.
pub const NAME: &str = "rmicro-reaper";

/// The server's side: starts the reaper when first needed and tells it of each group.
pub struct Reaper {
    program: PathBuf,
    state: Mutex<State>,
}

enum State {
    NotStarted,
    Running {
        pipe: ChildStdin,
        child: Child,
        /// Whether a message was lost to a full pipe (said once).
        told_full: bool,
    },
    /// It could not start, or it went away: said once, not tried again.
    Gone,
}

impl Reaper {
    /// A reaper that will be the running executable, started when first told of a group.
    pub fn of_this_executable() -> Reaper {
        Reaper {
            program: PathBuf::from("/proc/self/exe"),
            state: Mutex::new(State::NotStarted),
        }
    }

    /// Process group `group` has started: killed if the server dies before [`forget`]ting it.
    ///
    /// [`forget`]: Reaper::forget
    pub fn watch(&self, group: i32) {
        self.tell('+', group);
    }

    /// Process group `group` has been killed.
    pub fn forget(&self, group: i32) {
        self.tell('-', group);
    }

    fn tell(&self, sign: char, group: i32) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let State::NotStarted = *state {
            *state = self.start();
        }
        let State::Running {
            pipe,
            child,
            told_full,
        } = &mut *state
        else {
            return;
        };
        // At most 13 bytes: less than PIPE_BUF, so written whole or not at all.
        match pipe.write_all(format!("{sign}{group}\n").as_bytes()) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                if !*told_full {
                    *told_full = true;
                    tracing::warn!(
                        "the reaper (pid {}) is not reading: exec handlers started from now on may outlive a killed server",
                        child.id()
                    );
                }
            }
            Err(error) => {
                tracing::warn!(
                    "the reaper (pid {}) went away ({error}): exec handlers may outlive a killed server",
                    child.id()
                );
                let _ = child.try_wait();
                *state = State::Gone;
            }
        }
    }

    fn start(&self) -> State {
        let started = std::process::Command::new(&self.program)
            .arg0(NAME)
            .arg(std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        let mut child = match started {
            Ok(child) => child,
            Err(error) => {
                tracing::warn!(
                    "cannot start the reaper ({}: {error}): exec handlers may outlive a killed server",
                    self.program.display()
                );
                return State::Gone;
            }
        };
        let Some(pipe) = child.stdin.take() else {
            return State::Gone;
        };
        set_nonblocking(&pipe);
        State::Running {
            pipe,
            child,
            told_full: false,
        }
    }
}

fn set_nonblocking(pipe: &ChildStdin) {
    use std::os::fd::AsRawFd;
    let fd = pipe.as_raw_fd();
    // SAFETY: fcntl(2) on a descriptor this process owns; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// Whether this process was started as the reaper.
pub fn is_this_process() -> bool {
    std::env::args_os().next().is_some_and(|arg0| arg0 == NAME)
}

/// The reaper's life: the groups its stdin names, killed when stdin ends.
pub fn run() -> ExitCode {
    // SAFETY: signal(2) setting SIG_IGN, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    let mut groups = HashSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        apply(&mut groups, &line);
    }
    for group in groups {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
    ExitCode::SUCCESS
}

/// One line of the server's: `+PGID` or `-PGID`; anything else is ignored.
fn apply(groups: &mut HashSet<i32>, line: &str) {
    let group = |sign| {
        line.strip_prefix(sign)?
            .parse::<i32>()
            .ok()
            .filter(|group| *group > 0)
    };
    if let Some(group) = group('+') {
        groups.insert(group);
    } else if let Some(group) = group('-') {
        groups.remove(&group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_groups_listed_are_those_started_and_not_yet_killed() {
        let mut groups = HashSet::new();
        for line in [
            "+10", "+11", "-10", "+12", "x", "+0", "+-5", "", "é", "+13", "-13", "-99",
        ] {
            apply(&mut groups, line);
        }
        let mut listed: Vec<i32> = groups.into_iter().collect();
        listed.sort();
        assert_eq!(listed, [11, 12]);
    }
}
