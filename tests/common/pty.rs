//! A program in a pseudo-terminal, its screen read back through a VT100 parser:
//! shared by the end-to-end tests and the workbench benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

pub struct Pty {
    pub child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Arc<Mutex<vt100::Parser>>,
}

/// Starts `command` on a fresh `rows` x `cols` terminal; a thread feeds its output to the parser.
pub fn spawn(command: CommandBuilder, rows: u16, cols: u16) -> Pty {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("pty");
    let child = pair.slave.spawn_command(command).expect("spawn");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let writer = pair.master.take_writer().expect("writer");
    let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
    let sink = Arc::clone(&screen);
    std::thread::spawn(move || {
        // Keep the master alive as long as the reader runs.
        let _master = pair.master;
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().process(&buf[..n]);
        }
    });
    Pty { child, writer, screen }
}

impl Pty {
    /// The screen as text, row by row.
    pub fn text(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Whether the program switched to the alternate screen (a full-screen UI does).
    #[allow(dead_code, reason = "the benchmark does not ask")]
    pub fn alternate_screen(&self) -> bool {
        self.screen.lock().unwrap().screen().alternate_screen()
    }

    /// Types `keys` as one burst.
    pub fn type_keys(&mut self, keys: &[u8]) {
        self.writer.write_all(keys).unwrap();
        self.writer.flush().unwrap();
    }
}
