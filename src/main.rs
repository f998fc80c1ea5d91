//! The process edge: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

/// mimalloc for the calls' many small, short-lived allocations (frames, headers,
/// messages): a tenth fewer instructions per proxied call than glibc's malloc (README
/// "Performance"). Blocks of 1 MiB and more stay with glibc's malloc, whose realloc
/// remaps their pages where mimalloc's copies them: a request that decodes to tens of
/// MiB (what `--decode-budget` bounds) then peaks at its size, not at half as much again.
struct Allocator;

impl Allocator {
    const LARGE: usize = 1 << 20;

    /// glibc's malloc aligns to twice a word.
    fn is_large(size: usize, align: usize) -> bool {
        size >= Self::LARGE && align <= 2 * std::mem::size_of::<usize>()
    }
}

// SAFETY: each block is freed or resized by the allocator that made it: the layout (size
// and alignment) a block is freed or resized with is the one it was made with, and it
// picks the allocator the same way.
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if Self::is_large(layout.size(), layout.align()) {
            unsafe { libc::malloc(layout.size()).cast() }
        } else {
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if Self::is_large(layout.size(), layout.align()) {
            unsafe { libc::calloc(1, layout.size()).cast() }
        } else {
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: std::alloc::Layout) {
        if Self::is_large(layout.size(), layout.align()) {
            unsafe { libc::free(block.cast()) }
        } else {
            unsafe { mimalloc::MiMalloc.dealloc(block, layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        let align = layout.align();
        match (
            Self::is_large(layout.size(), align),
            Self::is_large(size, align),
        ) {
            (true, true) => unsafe { libc::realloc(block.cast(), size).cast() },
            (false, false) => unsafe { mimalloc::MiMalloc.realloc(block, layout, size) },
            _ => {
                // SAFETY: `size`, rounded up to `align`, does not overflow (realloc's contract).
                let resized = unsafe { std::alloc::Layout::from_size_align_unchecked(size, align) };
                let moved = unsafe { self.alloc(resized) };
                if !moved.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(block, moved, layout.size().min(size));
                        self.dealloc(block, layout);
                    }
                }
                moved
            }
        }
    }
}

fn main() -> ExitCode {
    // A server's reaper (src/reaper.rs) is this executable started under another name.
    if rmicro::reaper::is_this_process() {
        return rmicro::reaper::run();
    }
    // `COMPLETE=bash rmicro` prints the shell's registration; the shell then asks for
    // each completion the same way. Neither returns here.
    clap_complete::CompleteEnv::with_factory(rmicro::cli::command).complete();
    init_logging();
    let cli = rmicro::cli::Cli::parse();
    match rmicro::cli::run(cli) {
        Ok(()) => ExitCode::from(rmicro::exit_code::SUCCESS),
        Err(error) if is_broken_pipe(&error) => ExitCode::from(rmicro::exit_code::SUCCESS),
        Err(error) => {
            eprintln!("rmicro: {error:#}");
            ExitCode::from(rmicro::exit_code::for_error(&error))
        }
    }
}

/// Logs go to stderr at the level in `RMICRO_LOG` (default: warnings).
fn init_logging() {
    let level = std::env::var("RMICRO_LOG")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(tracing::Level::WARN);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .without_time()
        .init();
}

/// Like ripgrep, a closed stdout (`rmicro call … | head`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
