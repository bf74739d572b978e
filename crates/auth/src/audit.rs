//! The audit log: one CloudTrail-like JSON line per API call, with
//! podiam's decision explanation (never a secret).
//!
//! Handlers note what they know (the caller, the decision and why, the
//! error) into a per-request [`scope`]; the dispatcher emits one
//! [`AuditEvent`] when the request is done. Events go to a sink (a
//! rotating file or stdout), to a ring buffer and to live subscribers
//! (`podiam audit tail`).

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static SCOPE: RefCell<Record>;
}

/// What handlers learned about the request being served.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// `userIdentity`, serialized.
    pub user_identity: Option<Box<RawValue>>,
    /// podiam's decision: action, resource, result, explanation.
    pub decision: Option<Value>,
    /// The AWS error code returned, if any.
    pub error_code: Option<String>,
    /// The error message returned, if any.
    pub error_message: Option<String>,
    /// `eventSource`, e.g. `iam.amazonaws.com`.
    pub event_source: Option<String>,
    /// `eventName`, e.g. `CreateRole`.
    pub event_name: Option<String>,
    /// The request's parameters (redacted on the way in).
    pub request_parameters: Option<Value>,
}

/// Runs `fut` with a fresh record; returns its output and the record.
pub async fn scope<F: Future>(fut: F) -> (F::Output, Record) {
    SCOPE
        .scope(RefCell::new(Record::default()), async move {
            let out = fut.await;
            let rec = SCOPE.with(|r| std::mem::take(&mut *r.borrow_mut()));
            (out, rec)
        })
        .await
}

/// Updates the current request's record (no-op outside a [`scope`]).
pub fn note(f: impl FnOnce(&mut Record)) {
    let _ = SCOPE.try_with(|r| f(&mut r.borrow_mut()));
}

/// Notes a policy decision and its explanation.
pub fn note_decision(action: &str, resource: &str, allowed: bool, explanation: impl Serialize) {
    let v = serde_json::json!({
        "action": action,
        "resource": resource,
        "allowed": allowed,
        "explanation": serde_json::to_value(explanation).unwrap_or(Value::Null),
    });
    note(|r| r.decision = Some(v));
}

/// Notes the error returned to the caller.
pub fn note_error(code: &str, message: &str) {
    note(|r| {
        r.error_code = Some(code.to_string());
        r.error_message = Some(message.to_string());
    });
}

/// Notes which API was called and with what (secrets are redacted here).
pub fn note_request(source: &str, name: &str, parameters: Value) {
    let parameters = redact(parameters);
    note(|r| {
        r.event_source = Some(source.to_string());
        r.event_name = Some(name.to_string());
        r.request_parameters = Some(parameters);
    });
}

/// Notes who the caller is.
pub fn note_identity(identity: impl Serialize) {
    if let Ok(v) = serde_json::value::to_raw_value(&identity) {
        note(|r| r.user_identity = Some(v));
    }
}

/// One audit line.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// `2026-11-22T06:19:22Z`.
    pub event_time: String,
    /// e.g. `sts.amazonaws.com`.
    pub event_source: String,
    /// e.g. `AssumeRoleWithWebIdentity`.
    pub event_name: String,
    /// The region.
    pub aws_region: String,
    /// The client's address.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    /// The `User-Agent`.
    pub user_agent: String,
    /// Who called (`null` when no one authenticated).
    pub user_identity: Option<Box<RawValue>>,
    /// The request's parameters, secrets redacted.
    pub request_parameters: Value,
    /// The request id.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// The error code, if the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message, if the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// podiam's decision and its explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Value>,
}

/// Parameter names whose values never reach the log.
const SECRET_KEYS: &[&str] = &[
    "webidentitytoken",
    "token",
    "samlassertion",
    "secretaccesskey",
    "sessiontoken",
    "password",
    "tokencode",
];

/// Replaces secret values (by key, case-insensitively) with `"HIDDEN_DUE_TO_SECURITY_REASONS"`.
pub fn redact(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, val) in m.iter_mut() {
                    if SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                        *val = Value::String("HIDDEN_DUE_TO_SECURITY_REASONS".into());
                    } else {
                        walk(val);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// Where events are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    /// Only the ring buffer and subscribers.
    None,
    /// Standard output, one JSON line per event.
    Stdout,
    /// A file, rotated to `FILE.1` past `max_bytes`.
    File {
        /// The log file.
        path: PathBuf,
        /// Rotation size.
        max_bytes: u64,
    },
}

/// The open log file, buffered: a write per event would cost a syscall on
/// every API call. A flusher thread writes buffered lines out every
/// [`FLUSH_EVERY`], so a line reaches the file without waiting for the
/// next request; shutdown and drop flush too.
struct FileSink {
    out: std::io::BufWriter<std::fs::File>,
    /// The file's size with the buffered lines: rotation needs no `stat`
    /// per event.
    len: u64,
}

/// How often buffered lines are written out.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

type SharedFile = Arc<Mutex<Option<FileSink>>>;

/// Flushes `file` every [`FLUSH_EVERY`] until the auditor is dropped.
fn spawn_flusher(file: &SharedFile) {
    let weak = Arc::downgrade(file);
    let spawned = std::thread::Builder::new()
        .name("podiam-audit-flush".into())
        .spawn(move || {
            loop {
                std::thread::sleep(FLUSH_EVERY);
                let Some(file) = weak.upgrade() else { return };
                flush_file(&file);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the audit flusher: lines are written when the buffer fills");
    }
}

fn flush_file(file: &Mutex<Option<FileSink>>) {
    let mut guard = file.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(f) = guard.as_mut()
        && !f.out.buffer().is_empty()
        && f.out.flush().is_err()
    {
        *guard = None;
    }
}

struct Line {
    denied: bool,
    text: Arc<str>,
}

/// The audit log.
pub struct Auditor {
    sink: AuditSink,
    file: SharedFile,
    ring: Mutex<VecDeque<Line>>,
    tx: tokio::sync::broadcast::Sender<(bool, Arc<str>)>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

/// Events kept for `audit tail` without `--follow`.
const RING: usize = 1000;

impl Auditor {
    /// An auditor writing to `sink`.
    pub fn new(sink: AuditSink) -> Self {
        let (tx, _) = tokio::sync::broadcast::channel(1024);
        let file = SharedFile::default();
        if matches!(sink, AuditSink::File { .. }) {
            spawn_flusher(&file);
        }
        Self {
            sink,
            file,
            ring: Mutex::new(VecDeque::with_capacity(RING)),
            tx,
        }
    }

    /// Records one event.
    pub fn emit(&self, e: &AuditEvent) {
        let Ok(text) = serde_json::to_string(e) else {
            return;
        };
        let denied = e.error_code.is_some();
        let text: Arc<str> = Arc::from(text);
        match &self.sink {
            AuditSink::None => {}
            AuditSink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
            AuditSink::File { path, max_bytes } => self.write_file(path, *max_bytes, &text),
        }
        {
            let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            if ring.len() == RING {
                ring.pop_front();
            }
            ring.push_back(Line {
                denied,
                text: text.clone(),
            });
        }
        let _ = self.tx.send((denied, text));
    }

    fn write_file(&self, path: &PathBuf, max_bytes: u64, text: &str) {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let too_big = guard.as_ref().is_some_and(|f| f.len >= max_bytes);
        if too_big {
            if let Some(mut f) = guard.take() {
                let _ = f.out.flush();
            }
            let _ = std::fs::rename(path, path.with_extension("log.1"));
        }
        if guard.is_none() {
            *guard = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
                .map(|f| FileSink {
                    len: f.metadata().map(|m| m.len()).unwrap_or(0),
                    out: std::io::BufWriter::with_capacity(64 * 1024, f),
                });
        }
        let Some(f) = guard.as_mut() else {
            return;
        };
        // One line, without the formatting machinery (every request).
        if f.out
            .write_all(text.as_bytes())
            .and_then(|()| f.out.write_all(b"\n"))
            .is_err()
        {
            *guard = None;
            return;
        }
        f.len += text.len() as u64 + 1;
    }

    /// Writes buffered lines out (shutdown, tests).
    pub fn flush(&self) {
        flush_file(&self.file);
    }

    /// The most recent events (oldest first), optionally only failures.
    pub fn recent(&self, denied_only: bool) -> Vec<Arc<str>> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter()
            .filter(|l| !denied_only || l.denied)
            .map(|l| l.text.clone())
            .collect()
    }

    /// Live events: (failed, JSON line).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<(bool, Arc<str>)> {
        self.tx.subscribe()
    }
}

impl Drop for Auditor {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let v = redact(
            serde_json::json!({"Action": "AssumeRoleWithWebIdentity", "WebIdentityToken": "eyJ...", "nested": [{"token": "x"}]}),
        );
        assert_eq!(v["WebIdentityToken"], "HIDDEN_DUE_TO_SECURITY_REASONS");
        assert_eq!(v["nested"][0]["token"], "HIDDEN_DUE_TO_SECURITY_REASONS");
        assert_eq!(v["Action"], "AssumeRoleWithWebIdentity");
    }

    #[tokio::test]
    async fn scope_collects_notes_and_ring_filters() {
        let ((), rec) = scope(async {
            note_error("AccessDenied", "no");
            note_decision("s3:GetObject", "arn:aws:s3:::b/k", false, "because");
        })
        .await;
        assert_eq!(rec.error_code.as_deref(), Some("AccessDenied"));
        assert_eq!(rec.decision.unwrap()["action"], "s3:GetObject");
        // Outside a scope notes are ignored.
        note_error("X", "y");
        let a = Auditor::new(AuditSink::None);
        let ev = |code: Option<&str>| AuditEvent {
            event_time: "t".into(),
            event_source: "sts.amazonaws.com".into(),
            event_name: "GetCallerIdentity".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: "ua".into(),
            user_identity: None,
            request_parameters: Value::Null,
            request_id: "r".into(),
            error_code: code.map(str::to_string),
            error_message: None,
            decision: None,
        };
        let mut rx = a.subscribe();
        a.emit(&ev(None));
        a.emit(&ev(Some("AccessDenied")));
        assert_eq!(a.recent(false).len(), 2);
        assert_eq!(a.recent(true).len(), 1);
        assert!(!rx.recv().await.unwrap().0);
    }

    #[test]
    fn a_lone_line_reaches_the_file_without_another_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let a = Auditor::new(AuditSink::File {
            path: path.clone(),
            max_bytes: 1 << 20,
        });
        let mut e = AuditEvent {
            event_time: "t".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: "GetRole".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: "ua".into(),
            user_identity: None,
            request_parameters: Value::Null,
            request_id: "quiet-1".into(),
            error_code: None,
            error_message: None,
            decision: None,
        };
        a.emit(&e);
        // No flush, no further event: the flusher thread writes it out.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let seen = loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains("quiet-1") || std::time::Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(seen.contains("quiet-1"), "line still buffered: {seen:?}");
        // Drop writes out what the flusher has not reached yet.
        e.request_id = "last-1".into();
        a.emit(&e);
        drop(a);
        assert!(std::fs::read_to_string(&path).unwrap().contains("last-1"));

        // Past max_bytes the file moves to audit.log.1 (the lines already
        // there when it was opened and those still buffered both count).
        let a = Auditor::new(AuditSink::File {
            path: path.clone(),
            max_bytes: 2048,
        });
        for i in 0..20 {
            e.request_id = format!("rotate-{i}");
            a.emit(&e);
        }
        a.flush();
        let old = std::fs::read_to_string(path.with_extension("log.1")).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        let line = new.lines().last().unwrap_or_default().len() + 1;
        assert!(old.len() >= 2048, "{old}");
        assert!(
            new.contains("rotate-19") && new.len() < 2048 + line,
            "{new}"
        );
    }
}
