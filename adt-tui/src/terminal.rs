//! Terminal setup and restore: raw mode + alternate screen on entry; restored on drop,
//! on panic (a hook chained before the previous one, so the message stays readable) and
//! on quit. Ctrl-C arrives as a key in raw mode and is handled by the event loops.

use std::io::{self, Stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{
    cursor, execute,
    terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode},
};

/// The real terminal.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Restores the terminal when dropped.
#[must_use = "the terminal is restored when the guard drops"]
pub struct TerminalGuard(());

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// Enters raw mode and the alternate screen.
pub fn enter() -> io::Result<(Term, TerminalGuard)> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let guard = TerminalGuard(());
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    let term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((term, guard))
}

/// Leaves the alternate screen, shows the cursor and disables raw mode. Idempotent.
pub fn restore() -> io::Result<()> {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        disable_raw_mode()?;
        execute!(io::stdout(), LeaveAlternateScreen, cursor::Show)?;
    }
    Ok(())
}

/// Is the dashboard currently owning the terminal?
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::SeqCst)
}
