//! A real SMTP server for the mail tests (the `email` notifier, mailed reports): aiosmtpd on a
//! free loopback port, writing every message it accepts as JSON (envelope, subject, headers,
//! text and HTML bodies, and each attachment saved to a file beside it).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    out: PathBuf,
    _tmp: tempfile::TempDir,
}

const SMTP_SERVER: &str = r#"
import email, email.policy, json, os, sys, threading
from aiosmtpd.controller import Controller

out, port = sys.argv[1], int(sys.argv[2])

class Handler:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        Handler.count += 1
        html = msg.get_body(("html",))
        files = []
        for i, part in enumerate(msg.iter_attachments()):
            path = os.path.join(out, "%d-%d.bin" % (Handler.count, i))
            with open(path, "wb") as f:
                f.write(part.get_content())
            files.append({"filename": part.get_filename(), "content_type": part.get_content_type(), "path": path})
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": msg["subject"],
            "from": msg["from"],
            "to": msg["to"],
            "text": msg.get_body(("plain",)).get_content(),
            "html": html.get_content() if html is not None else None,
            "attachments": files,
        }
        path = os.path.join(out, "%d.json" % Handler.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK stored as %d" % Handler.count

controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(free_port())
    }

    /// A server on `port` (a test that first finds the port closed, then open).
    pub fn start_on(port: u16) -> SmtpServer {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().to_path_buf();
        let mut child = Command::new("python3")
            .args(["-c", SMTP_SERVER, out.to_str().unwrap(), &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (the mail tests need it, with `pip install aiosmtpd`)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP server did not start: is aiosmtpd installed (pip install aiosmtpd)?"
        );
        SmtpServer { child, port, out, _tmp: tmp }
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Value> {
        read_messages(&self.out)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_messages(dir: &Path) -> Vec<Value> {
    let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let n = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
            Some((n, path))
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
