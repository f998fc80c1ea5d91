//! What people and scripts see: JSON on stdout (indented on a terminal), tables
//! (comfy-table), a spinner on a terminal's stderr (indicatif). Nothing here decides
//! *what* to print, only how.

use comfy_table::{presets, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::time::Duration;

pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Prints one JSON document and a newline.
pub fn print_json(value: &serde_json::Value, pretty: bool) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if pretty {
        serde_json::to_writer_pretty(&mut stdout, value)?;
    } else {
        serde_json::to_writer(&mut stdout, value)?;
    }
    stdout.write_all(b"\n")?;
    stdout.flush()
}

/// Prints bytes exactly as received.
pub fn print_raw(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()
}

/// Prints a table: box-drawn on a terminal, plain columns otherwise.
pub fn print_table(header: &[&str], rows: Vec<Vec<String>>) -> std::io::Result<()> {
    let mut table = Table::new();
    table.load_preset(if stdout_is_terminal() {
        presets::UTF8_FULL_CONDENSED
    } else {
        presets::NOTHING
    });
    table.set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", table.to_string().trim_end())?;
    stdout.flush()
}

/// A spinner on stderr when it is a terminal; `None` otherwise.
pub fn spinner(message: String) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(80));
    Some(bar)
}

/// A progress bar of `length` steps drawn with indicatif's `template` on stderr when it
/// is a terminal; `None` otherwise, so nothing of it reaches a pipe.
pub fn progress_bar(length: u64, template: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    Some(bar)
}

/// Progress of a long run of calls (`call --batch`) on stderr — calls done, rate,
/// errors — when stderr is a terminal; nothing otherwise (a pipe or file gets only the
/// failure lines).
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn on_terminal() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::no_length().with_message("0 errors");
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} done, {per_sec}, {msg} ({elapsed})")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(bar))
    }

    /// One more call done; `errors` so far.
    pub fn done(&self, errors: usize) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
            if errors > 0 {
                bar.set_message(format!("{errors} errors"));
            }
        }
    }

    /// Prints a line on stderr without tearing the bar.
    pub fn note(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Leaves the final figures on the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }
}
