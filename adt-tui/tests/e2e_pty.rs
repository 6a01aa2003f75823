//! End to end: the real `adt-tui watch` binary on a pseudo-terminal, watching a run
//! directory that this test process creates and writes while the viewers run. The screen
//! is parsed with a VT100 emulator. Two viewers attach at once; one quits with `q`, the
//! other with Ctrl-C; both must leave the terminal restored (main screen, cursor shown,
//! cooked mode).

use std::io::{Read, Write};
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::termios::{LocalModes, tcgetattr};

/// How long to wait for the screen to show something.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(20);
const ROWS: u16 = 30;
const COLS: u16 = 110;

struct Viewer {
    pty: Arc<pty_process::blocking::Pty>,
    screen: Arc<Mutex<vt100::Parser>>,
    child: Child,
}

impl Viewer {
    fn spawn(run_dir: &Path) -> Self {
        let (pty, pts) = pty_process::blocking::open().expect("open pty");
        pty.resize(pty_process::Size::new(ROWS, COLS))
            .expect("resize");
        let child = pty_process::blocking::Command::new(env!("CARGO_BIN_EXE_adt-tui"))
            .args(["watch", "--refresh-ms", "50", "--images", "halfblocks"])
            .arg(run_dir)
            .env("TERM", "xterm-256color")
            .spawn(pts)
            .expect("spawn adt-tui");
        let pty = Arc::new(pty);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(ROWS).unwrap(),
            std::num::NonZeroU16::new(COLS).unwrap(),
            0,
        )));
        let (reader, sink) = (pty.clone(), screen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match (&*reader).read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().process(&buf[..n]),
                }
            }
        });
        Self { pty, screen, child }
    }

    fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until `pred` holds for the screen text; panics with the screen otherwise.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let t = self.text();
            if pred(&t) {
                return t;
            }
            if start.elapsed() > SCREEN_TIMEOUT {
                panic!("timed out waiting for {what}; screen:\n{t}");
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn send(&self, bytes: &[u8]) {
        (&*self.pty).write_all(bytes).unwrap();
    }

    fn raw_mode(&self) -> bool {
        let t = tcgetattr(&*self.pty).expect("tcgetattr");
        !t.local_modes.contains(LocalModes::ICANON) && !t.local_modes.contains(LocalModes::ECHO)
    }

    /// Waits for the process to exit; returns its status code.
    fn wait_exit(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().expect("exited normally");
            }
            if start.elapsed() > SCREEN_TIMEOUT {
                let _ = self.child.kill();
                panic!("viewer did not exit; screen:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn assert_restored(&self) {
        // The reader thread may still be draining the last bytes.
        std::thread::sleep(Duration::from_millis(200));
        let p = self.screen.lock().unwrap();
        assert!(
            !p.screen().alternate_screen(),
            "still on the alternate screen"
        );
        assert!(!p.screen().hide_cursor(), "cursor still hidden");
        drop(p);
        assert!(!self.raw_mode(), "terminal left in raw mode");
    }
}

fn step_line(s: u64, g_adv: f64) -> String {
    format!(
        r#"{{"type":"step","time":{t},"step":{s},"metrics":{{"g_adv":{g_adv},"l_diff":0.1,"d_loss":1.5,"d_real":0.7,"d_fake":-0.5,"d_acc":0.8,"step_time_s":0.8}}}}"#,
        t = 1767225600.0 + s as f64
    ) + "\n"
}

fn append(path: &Path, s: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
    f.flush().unwrap();
}

#[test]
fn watch_live_run_in_a_pty_and_quit_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("runs").join("demo");
    let events = run.join("events.jsonl");

    // Attach before the run exists: the viewers wait for the directory.
    let mut a = Viewer::spawn(&run);
    let mut b = Viewer::spawn(&run);
    for v in [&a, &b] {
        v.wait_for("the waiting message", |t| t.contains("does not exist yet"));
        assert!(v.raw_mode(), "dashboard should run in raw mode");
        assert!(v.screen.lock().unwrap().screen().alternate_screen());
    }

    std::fs::create_dir_all(&run).unwrap();
    append(
        &events,
        r#"{"type":"run_start","time":1767225600.0,"run":"pty-demo","total_steps":1000,"resumed_from":null,"config":{"model":"tiny-unet","sampler":"ddim","m":4,"k":1,"lambda_diff":1.0,"lambda_adv":0.1,"lr_g":1e-5,"lr_d":1e-4,"batch_size":4,"adversarial":true}}"#,
    );
    append(&events, "\n");
    for s in 1..=20 {
        append(&events, &step_line(s, 0.25));
    }
    for v in [&a, &b] {
        let t = v.wait_for("step 20", |t| t.contains("step 20/1000"));
        assert!(t.contains("pty-demo"), "{t}");
        assert!(t.contains("G adv 0.2500"), "{t}");
    }

    // The run goes on; values change on screen.
    for s in 21..=40 {
        append(&events, &step_line(s, 0.75));
    }
    a.wait_for("step 40 with the new g_adv", |t| {
        t.contains("step 40/1000") && t.contains("G adv 0.7500")
    });

    // A torn write: nothing new until the line is complete.
    let line41 = step_line(41, 1.25);
    append(&events, &line41[..30]);
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        a.text().contains("step 40/1000"),
        "partial line must not be ingested"
    );
    append(&events, &line41[30..]);
    a.wait_for("step 41", |t| {
        t.contains("step 41/1000") && t.contains("G adv 1.2500")
    });

    // Pause freezes the display while the file grows.
    a.send(b"p");
    a.wait_for("PAUSED", |t| t.contains("PAUSED"));
    for s in 42..=50 {
        append(&events, &step_line(s, 2.0));
    }
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        a.text().contains("step 41/1000"),
        "paused display changed:\n{}",
        a.text()
    );
    a.send(b"p");
    a.wait_for("resumed at step 50", |t| {
        t.contains("step 50/1000") && !t.contains("PAUSED")
    });

    // Quit with q, and with Ctrl-C: clean exit, terminal restored, training unaffected.
    a.send(b"q");
    assert_eq!(a.wait_exit(), 0);
    a.assert_restored();
    b.wait_for("viewer b at step 50", |t| t.contains("step 50/1000"));
    b.send(&[0x03]);
    assert_eq!(b.wait_exit(), 0);
    b.assert_restored();
    assert!(events.metadata().unwrap().len() > 0);
}
